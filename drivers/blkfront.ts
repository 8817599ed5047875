// blkfront: the block frontend (xen/include/public/io/blkif.h, its xenbus
// node list and state diagram; Linux xen-blkfront's handshake order).
//
// Handshake: wait for the backend's InitWait, publish the ring (one page:
// `ring-ref`; 2^n pages: `ring-page-order` + `ring-ref<i>`), `event-channel`,
// `protocol`, `feature-persistent` and go Initialised; once the backend is
// Connected read its disk properties and features (it publishes `sectors`,
// `info`, `sector-size` and the features only then) and go Connected.
//
// Data never moves through app memory the backend can see: a fixed pool of
// bounce pages is granted once (writable, as persistent grants require)
// and data is copied in and out. So every request reuses the same grants,
// whether or not the backend keeps them mapped (feature-persistent), and
// a backend that misbehaves can only ever touch the pool.
//
// App API: read/write/flush/discard of 512-byte sector ranges with a
// BlkHandler called on completion (from the event loop), or the blocking
// readSync/writeSync/flushSync/discardSync. Sectors are 512 bytes here, on
// the wire and in the backend's `sectors` (we do not offer
// feature-large-sector-size; Linux's blkback counts in 512 bytes anyway);
// a disk with a larger sector-size takes requests aligned to it only.
// Writes and discards to a read-only disk and ranges past its end are
// refused with an error naming the disk. Requests are split to the
// negotiated limits (11 segments of 4 KiB, or up to the backend's
// feature-max-indirect-segments with indirect requests), queued beyond the
// ring's and the pool's capacity, and take effect in submission order where
// they overlap (a request waits while an overlapping write is in flight);
// a flush waits for every earlier request and covers every earlier write.
//
// The backend is not trusted: each response is copied out of the ring,
// then its id (slot in range, in flight, same generation), operation and
// status are checked; a violation or a producer running ahead marks the
// disk broken: pending requests fail, the device is closed and its grants
// ended. The guest itself carries on. Slow is not broken: a request that
// takes longer than options.slowNs (a whole-disk discard, a flush on slow
// storage) is reported once (log and stats.slowRequests) and waited for,
// as Linux does.
//
// The device's life after the handshake is drivers/frontend.ts's: when the
// backend goes away but may come back (its fatal error, a driver domain
// restart), requests in flight are put back in the queue, in order, and
// sent again once it has reconnected (reads, writes, flushes and discards
// are all idempotent, and overlapping requests keep their order); if it
// does not come back within options.reconnectTimeoutNs, or the disk is
// detached, closed or broken, they fail. Completion handlers follow the
// runtime's rule (runtime/handler.ts): never re-entered.
import { log } from "../runtime/log";
import * as B from "../runtime/abi/blkif";
import * as XB from "../runtime/abi/xenbus";
import { allocPages, PAGE_SIZE } from "../runtime/pages";
import { EventHandler, allocUnbound, register, unregister, notify, close as closePort } from "../runtime/events";
import { Condition, Task, defer, waitFor } from "../runtime/loop";
import { Handler } from "../runtime/handler";
import { Timer, TimerHandler, armTimer, cancelTimer } from "../runtime/timers";
import { monotonicNs } from "../runtime/time";
import { grantPage, endAccess } from "../grant-tables/index";
import { Closable, registerClosable } from "../runtime/lifecycle";
import * as xs from "../xenstore/client";
import { TransactionBody } from "../xenstore/client";
import * as xenbus from "../xenstore/xenbus";
import { FrontRing } from "./front-ring";
import { Frontend, DeviceSet, DeviceHandler, DeviceNews } from "./frontend";
import { registerStats } from "../runtime/stats";
import { BlkfrontStatsSource } from "./blk-stats";
import { endOne } from "./netfront";

export const SECTOR_SIZE: u32 = 512;           // the unit of every sector number here and on the wire
const SECTORS_PER_PAGE: u32 = 8;
const PAGE: u32 = <u32>PAGE_SIZE;
// Our own limits. 16 ring pages is what Linux's blkback accepts at most;
// one indirect page holds 512 segments (2 MiB), which we never exceed.
const MAX_RING_ORDER: u32 = 4;
const MAX_INDIRECT_SEGMENTS: u32 = <u32>B.BLKIF_SEGMENTS_PER_INDIRECT_FRAME;
// A disk of 2^55 sectors or more would overflow byte counts (2^55 * 512 = 2^64).
const MAX_SECTORS: u64 = <u64>1 << 55;

// Each response is copied here out of the shared ring before any check or
// use (the backend could change the slot between our check and our use).
const responseCopy = memory.data(B.BLKIF_RESPONSE_SIZE, 8);

// Operations of BlkRequest.op (the wire's numbers).
export const BLK_READ: u8 = <u8>B.BLKIF_OP_READ;
export const BLK_WRITE: u8 = <u8>B.BLKIF_OP_WRITE;
export const BLK_FLUSH: u8 = <u8>B.BLKIF_OP_FLUSH_DISKCACHE;
export const BLK_DISCARD: u8 = <u8>B.BLKIF_OP_DISCARD;

// Tunables, for tests and apps with unusual needs.
export class BlkOptions {
  poolPages: i32 = 256;                  // bounce pages granted once per disk (1 MiB)
  maxRingPageOrder: u32 = 2;             // ring of up to 4 pages (128 requests) if offered
  maxIndirectSegments: u32 = 64;         // indirect requests of up to 256 KiB if offered; 0: never
  timeoutNs: u64 = 30_000_000_000;       // how long connecting waits for the backend at each step
  slowNs: u64 = 30_000_000_000;          // a request in flight this long is reported as slow
  reconnectTimeoutNs: u64 = 60_000_000_000; // requests wait this long for a backend that went away
}

// Called once per request, from the event loop (never from inside the
// call that submitted it, never re-entered).
export abstract class BlkHandler extends Handler {
  abstract onDone(req: BlkRequest): void;
}

// Told when a disk connects (at start, after a reconnect, newly attached)
// and when it loses its backend: see connectDisks.
export class DiskHandler extends DeviceHandler<Blkfront> {}

// One app request. read()/write()/... allocate one; an app that wants no
// allocation per request builds its own and passes it to submit() again
// once it is done (with op, sector, count and buffer set anew).
export class BlkRequest {
  error: string | null = null;  // null: success
  done: bool = false;
  // The driver's bookkeeping.
  pending: bool = false;        // submitted and not yet done
  issued: u64 = 0;              // sectors handed to the ring so far
  outstanding: i32 = 0;         // ring requests in flight
  started: bool = false;        // some part is on the ring (overlap checks apply)
  constructor(
    public dev: Blkfront, public op: u8, public sector: u64, public count: u64,
    public buffer: usize, public handler: BlkHandler | null,
  ) {}
}

export class BlkStats {
  requests: u64 = 0;            // app requests completed
  ringRequests: u64 = 0;        // ring slots used
  indirectRequests: u64 = 0;
  errors: u64 = 0;              // requests that completed with an error
  slowRequests: u64 = 0;        // ring requests reported slow (in flight longer than options.slowNs)
  reissued: u64 = 0;            // app requests put back in the queue when the backend went away
  bytesRead: u64 = 0;
  bytesWritten: u64 = 0;
  maxInFlight: u32 = 0;
}

class BlkEvents extends EventHandler {
  constructor(public dev: Blkfront) { super(); }
  onEvent(port: u32): void { this.dev.poll(); }
}

class Handshake extends TransactionBody {
  constructor(public dev: Blkfront) { super(); }
  run(tx: u32): string | null {
    const d = this.dev;
    const dir = d.info.frontendPath + "/";
    let err: string | null = null;
    if (d.ringOrder == 0) {
      err = xs.write(dir + "ring-ref", d.ringRefs[0].toString(), tx).error;
    } else {
      err = xs.write(dir + "ring-page-order", d.ringOrder.toString(), tx).error;
      for (let i = 0; err === null && i < d.ringRefs.length; i++) err = xs.write(dir + "ring-ref" + i.toString(), d.ringRefs[i].toString(), tx).error;
    }
    if (err === null) err = xs.write(dir + "event-channel", d.port.toString(), tx).error;
    if (err === null) err = xs.write(dir + "protocol", B.XEN_IO_PROTO_ABI_X86_64, tx).error;
    // We reuse the same grants for every request whatever the backend says.
    if (err === null) err = xs.write(dir + "feature-persistent", "1", tx).error;
    if (err !== null) return err;
    return xenbus.switchState(d.info.frontendPath, XB.XenbusStateInitialised, tx);
  }
}

class Shutdown extends Closable {
  constructor(public dev: Blkfront) { super(); }
  close(): void { this.dev.close(); }
}

// Delivers completions from the loop, so a handler never runs inside the
// call that submitted its request, nor inside the ring processing. One per
// disk, deferred when the first completion is waiting. Completions keep
// their order: while the next one's handler is running, the rest wait.
class Deliver extends Task {
  scheduled: bool = false;
  completed: Array<BlkRequest> = new Array<BlkRequest>(); // done, handler not yet called
  ready(): bool {
    if (this.completed.length == 0) return true;
    const h = this.completed[0].handler;
    return h === null || !h.running;
  }
  // Only the completions waiting when the pass began: a handler that
  // resubmits a request the disk refuses at once (it is closing) adds
  // another, and the loop must get its turn in between.
  run(): void {
    const done = this.completed;
    let n = done.length;
    while (n-- > 0) {
      const h = done[0].handler;
      if (h !== null && h.running) break;
      const req = done.shift();
      if (h !== null) {
        h.running = true;
        h.onDone(req);
        h.running = false;
      }
    }
    if (done.length > 0) defer(this); // still scheduled
    else this.scheduled = false;
  }
}

// While requests are in flight: reports those in flight longer than
// options.slowNs (once each). While the backend is away: fails the held
// requests once options.reconnectTimeoutNs has passed.
class Watchdog extends TimerHandler {
  timer!: Timer;  // made in the constructor (it needs `this`)
  constructor(public dev: Blkfront) {
    super();
    this.timer = new Timer(this);
  }
  onTimer(t: Timer): void {
    this.dev.checkProgress();
  }
}

class Finished extends Condition {
  constructor(public req: BlkRequest) { super(); }
  done(): bool { return this.req.done; }
}

export class Blkfront extends Frontend {
  // From the backend.
  sectors: u64 = 0;                 // disk size in 512-byte sectors
  sectorSize: u32 = 512;            // logical block size: requests must be aligned to it
  physicalSectorSize: u32 = 512;
  vdiskInfo: u32 = 0;
  mode: string = "";
  readOnly: bool = false;
  featureFlush: bool = false;
  featureBarrier: bool = false;
  featureDiscard: bool = false;
  discardGranularity: u32 = 512;
  discardAlignment: u32 = 0;
  discardSecure: bool = false;
  persistent: bool = false;         // the backend keeps our grants mapped
  closing: bool = false;           // close() is draining: new requests are refused
  backendIndirect: u32 = 0;         // feature-max-indirect-segments, 0 if absent
  backendMaxRingOrder: u32 = 0;
  // Negotiated.
  ringOrder: u32 = 0;
  ringSize: u32 = B.BLKIF_RING_SIZE;
  segmentsPerRequest: u32 = <u32>B.BLKIF_MAX_SEGMENTS_PER_REQUEST;
  handle: u16 = 0;

  stats: BlkStats = new BlkStats();

  port: u32 = 0;
  hasPort: bool = false;
  ring: FrontRing | null = null;
  ringMemory: usize = 0;
  ringRefs: Array<i32> = new Array<i32>();
  pool: usize = 0;
  poolPages: i32 = 0;
  poolGrants: StaticArray<i32> = new StaticArray<i32>(0);
  freePages: StaticArray<i32> = new StaticArray<i32>(0);   // LIFO, as blkif.h recommends
  nrFreePages: i32 = 0;
  indirectPages: usize = 0;
  nrIndirect: i32 = 0;
  indirectGrants: StaticArray<i32> = new StaticArray<i32>(0);
  freeIndirect: StaticArray<i32> = new StaticArray<i32>(0);
  nrFreeIndirect: i32 = 0;

  // Per ring request, indexed by id (the slot number in the low 16 bits of
  // the wire id; the upper bits are a generation, so a late or repeated
  // response for a reused slot is recognised).
  shadowReq: Array<BlkRequest | null> = new Array<BlkRequest | null>(0);
  shadowWireId: StaticArray<u64> = new StaticArray<u64>(0);
  shadowOp: StaticArray<u8> = new StaticArray<u8>(0);        // the operation the response must carry
  shadowAltOp: StaticArray<u8> = new StaticArray<u8>(0);     // also accepted (BLKIF_OP_INDIRECT echoed)
  shadowOffset: StaticArray<u64> = new StaticArray<u64>(0);  // byte offset in the app buffer
  shadowBytes: StaticArray<u32> = new StaticArray<u32>(0);
  shadowPages: StaticArray<i32> = new StaticArray<i32>(0);   // pool pages, segmentsPerRequest per id
  shadowNrPages: StaticArray<i32> = new StaticArray<i32>(0);
  shadowIndirect: StaticArray<i32> = new StaticArray<i32>(0);
  shadowSince: StaticArray<u64> = new StaticArray<u64>(0);   // when it went on the ring
  shadowSlow: StaticArray<bool> = new StaticArray<bool>(0);  // reported slow already
  freeIds: StaticArray<i32> = new StaticArray<i32>(0);
  nrFreeIds: i32 = 0;
  generation: u64 = 0;
  inFlight: u32 = 0;

  queue: Array<BlkRequest> = new Array<BlkRequest>();     // not yet fully on the ring, FIFO
  active: Array<BlkRequest> = new Array<BlkRequest>();    // partly or fully on the ring
  deliver: Deliver = new Deliver();
  rsp: usize = responseCopy;
  watchdog: Watchdog | null = null; // made in the constructor (it needs `this`)
  awaySince: u64 = 0;               // when the backend went away with requests held (0: it did not)

  constructor(info: xenbus.DeviceInfo, public options: BlkOptions = new BlkOptions()) {
    super(info);
    this.handle = <u16>I32.parseInt(info.id);
    this.watchdog = new Watchdog(this);
    registerClosable(new Shutdown(this));
    registerStats(new BlkfrontStatsSource(this));
  }

  driverName(): string { return "blkfront"; }

  // Connects (the handshake), for apps that build a Blkfront themselves;
  // connectDisks() does this for every vbd. Returns null or why it failed.
  connect(): string | null { return this.start(); }

  // "xvda" for Xen's xvd numbering (major 202 or the extended scheme), else "vbd <id>".
  name(): string {
    const id = <u32>I64.parseInt(this.info.id);
    let disk: i32 = -1;
    if ((id >> 8) == 202) disk = <i32>((id >> 4) & 15);
    else if ((id & (1 << 28)) != 0) disk = <i32>((id >> 8) & 0xfffff);
    if (disk < 0 || disk >= 26) return "vbd " + this.info.id;
    return "xvd" + String.fromCharCode(97 + disk);
  }

  private failAll(why: string): void {
    while (this.queue.length > 0) {
      const r = this.queue.shift();
      if (!r.started) this.finish(r, why);
    }
    while (this.active.length > 0) this.finish(this.active.pop(), why);
    for (let i = 0; i < this.shadowReq.length; i++) {
      if (this.shadowReq[i] === null) continue;
      this.shadowReq[i] = null;
      this.freeSlot(i);
    }
  }

  // ---- connecting

  // Waits for the backend's InitWait, sets up the ring, event channel and
  // bounce pool (kept across reconnects when their sizes stay the same),
  // and goes through the xenbus handshake. Returns null, or why the disk
  // cannot be used.
  protected setUp(): string | null {
    const be = this.info.backendPath;
    const dom = this.info.backendId;
    const opts = this.options;
    const ready = xenbus.stateBit(XB.XenbusStateInitWait) | xenbus.stateBit(XB.XenbusStateInitialised) | xenbus.stateBit(XB.XenbusStateConnected);
    const gone = xenbus.stateBit(XB.XenbusStateClosing) | xenbus.stateBit(XB.XenbusStateClosed);
    let state = xenbus.waitForState(be, ready | gone, opts.timeoutNs);
    if (state < 0 || !(xenbus.stateBit(state) & ready)) return "the backend is not ready (state " + state.toString() + ")";

    // Transport: the ring size is ours to choose up to the backend's maximum.
    this.backendMaxRingOrder = <u32>clamp(xenbus.readInt(be, "max-ring-page-order", 0), 0, 64);
    let order = this.backendMaxRingOrder;
    if (order > opts.maxRingPageOrder) order = opts.maxRingPageOrder;
    if (order > MAX_RING_ORDER) order = MAX_RING_ORDER;
    const ringPages = 1 << order;
    // Memory for the largest ring our options allow, made once and used
    // again by every connection (reconnecting allocates nothing).
    if (this.ringMemory == 0) this.ringMemory = allocPages(1 << <i32>min(opts.maxRingPageOrder, MAX_RING_ORDER));
    if (this.ring === null || this.ringOrder != order) {
      this.ring = new FrontRing(this.ringMemory, <u32>B.BLKIF_RING_SIZE << order, B.BLKIF_REQUEST_SIZE);
    }
    this.ringOrder = order;
    this.ringSize = <u32>B.BLKIF_RING_SIZE << order;
    const ring = this.ring!;
    ring.init();
    this.granted = true;
    this.ringRefs.length = 0;
    for (let i = 0; i < ringPages; i++) {
      const ref = grantPage(dom, ring.page + <usize>i * PAGE_SIZE, false);
      if (ref < 0) return "out of grant references";
      this.ringRefs.push(ref);
    }
    const port = allocUnbound(dom);
    if (port < 0) return "cannot allocate an event channel (" + port.toString() + ")";
    this.port = <u32>port;
    this.hasPort = true;
    register(this.port, new BlkEvents(this));
    const err = xs.transact(new Handshake(this));
    if (err !== null) return "xenstore handshake failed: " + err;

    state = xenbus.waitForState(be, xenbus.stateBit(XB.XenbusStateConnected) | gone, opts.timeoutNs);
    if (state != XB.XenbusStateConnected) return "the backend did not connect (state " + state.toString() + ")";
    const why = this.readBackend();
    if (why !== null) return why;
    const setup = this.setUpPool();
    if (setup !== null) return setup;
    const sw = xenbus.switchState(this.info.frontendPath, XB.XenbusStateConnected);
    if (sw !== null) return "cannot switch to Connected: " + sw;
    this.connected = true;
    // Requests held while the backend was away go out now.
    this.awaySince = 0;
    this.poll();
    return null;
  }

  protected up(): void {
    log("blkfront " + this.info.id + " (" + this.name() + "): " + this.describe());
    disks.news.post(this, true, "");
  }

  protected down(why: string): void {
    disks.news.post(this, false, why);
  }

  // No new requests on the ring. Held (the backend may come back): what is
  // on the ring goes back to the front of the queue, in order, to be sent
  // again; else everything fails with `why`.
  protected stop(why: string, hold: bool): void {
    if (this.hasPort) unregister(this.port);
    if (!hold) {
      this.awaySince = 0;
      this.failAll(why);
      this.stopWatchdog();
      return;
    }
    this.requeueActive();
    this.awaySince = monotonicNs();
    this.stopWatchdog();
    if (this.queue.length > 0) this.armWatchdog(this.options.reconnectTimeoutNs);
  }

  protected closePorts(): void {
    if (this.hasPort) { closePort(this.port); this.hasPort = false; }
  }

  protected forgetPorts(): void {
    this.hasPort = false;
  }

  // Puts the requests on the ring back in the queue (their pages and ids
  // freed: the backend is gone), ahead of those not yet sent, in order.
  private requeueActive(): void {
    const size = this.shadowReq.length;
    for (let id = 0; id < size; id++) {
      if (this.shadowReq[id] === null) continue;
      this.shadowReq[id] = null;
      this.freeSlot(id);
    }
    const held = this.active;
    this.active = new Array<BlkRequest>();
    for (let i = held.length - 1; i >= 0; i--) {
      const req = held[i];
      removeFrom(this.queue, req); // partly sent: still queued
      req.issued = 0;
      req.outstanding = 0;
      req.started = false;
      this.queue.unshift(req);
      this.stats.reissued++;
    }
  }

  // The backend's disk properties and features (published at its Connected).
  private readBackend(): string | null {
    const be = this.info.backendPath;
    const sectors = xenbus.readInt(be, "sectors", -1);
    if (sectors < 0 || <u64>sectors >= MAX_SECTORS) return "no usable sectors key";
    this.sectors = <u64>sectors;
    const size = xenbus.readInt(be, "sector-size", 512);
    if (size < 512 || size > 65536 || (size & (size - 1)) != 0) return "unusable sector-size " + size.toString();
    this.sectorSize = <u32>size;
    const phys = xenbus.readInt(be, "physical-sector-size", size);
    this.physicalSectorSize = phys >= size && phys <= 1 << 20 && phys % size == 0 ? <u32>phys : <u32>size;
    this.vdiskInfo = <u32>clamp(xenbus.readInt(be, "info", 0), 0, 0xffffffff);
    const mode = xs.read(be + "/mode");
    this.mode = mode.error === null ? mode.text() : "";
    this.readOnly = this.mode == "r" || (this.vdiskInfo & B.VDISK_READONLY) != 0;
    this.featureFlush = xenbus.readFeature(be, "feature-flush-cache");
    this.featureBarrier = xenbus.readFeature(be, "feature-barrier");
    this.featureDiscard = xenbus.readFeature(be, "feature-discard");
    if (this.featureDiscard) {
      // Granularity: a power-of-two multiple of 512 (absent: the sector size).
      const g = xenbus.readInt(be, "discard-granularity", this.sectorSize);
      this.discardGranularity = g >= 512 && g <= 1 << 30 && (g & (g - 1)) == 0 ? <u32>g : this.sectorSize;
      const a = xenbus.readInt(be, "discard-alignment", 0);
      this.discardAlignment = a > 0 && a % 512 == 0 ? <u32>(a % this.discardGranularity) : 0;
      this.discardSecure = xenbus.readFeature(be, "discard-secure");
    }
    this.persistent = xenbus.readFeature(be, "feature-persistent");
    this.backendIndirect = <u32>clamp(xenbus.readInt(be, "feature-max-indirect-segments", 0), 0, 0xffffffff);
    let segs = this.backendIndirect;
    if (segs > this.options.maxIndirectSegments) segs = this.options.maxIndirectSegments;
    if (segs > MAX_INDIRECT_SEGMENTS) segs = MAX_INDIRECT_SEGMENTS;
    this.segmentsPerRequest = segs > <u32>B.BLKIF_MAX_SEGMENTS_PER_REQUEST ? segs : <u32>B.BLKIF_MAX_SEGMENTS_PER_REQUEST;
    return null;
  }

  // The bounce pool, the indirect pages and the per-request bookkeeping.
  // Sizes for the largest connection our options allow, so that the
  // memory is made once and used again by every later connection.
  private maxSegments(): i32 {
    const segs = min(this.options.maxIndirectSegments, MAX_INDIRECT_SEGMENTS);
    return segs > <u32>B.BLKIF_MAX_SEGMENTS_PER_REQUEST ? <i32>segs : B.BLKIF_MAX_SEGMENTS_PER_REQUEST;
  }

  private setUpPool(): string | null {
    const dom = this.info.backendId;
    const segs = <i32>this.segmentsPerRequest;
    let n = this.options.poolPages;
    if (n < segs) n = segs; // one request of the largest size must fit
    if (this.pool == 0) {
      const most = max(this.options.poolPages, this.maxSegments());
      this.pool = allocPages(most);
      this.poolGrants = new StaticArray<i32>(most);
      this.freePages = new StaticArray<i32>(most);
      for (let i = 0; i < most; i++) this.poolGrants[i] = -1; // -1: not granted (nothing to end)
    }
    this.poolPages = n;
    this.nrFreePages = 0;
    for (let i = 0; i < n; i++) {
      const ref = grantPage(dom, this.pool + <usize>i * PAGE_SIZE, false);
      this.poolGrants[i] = ref;
      if (ref < 0) return "out of grant references for the bounce pool (" + n.toString() + " pages)";
      this.freePages[this.nrFreePages++] = n - 1 - i;
    }
    this.nrFreeIndirect = 0;
    this.nrIndirect = 0;
    if (segs > B.BLKIF_MAX_SEGMENTS_PER_REQUEST) {
      // An indirect request uses more than 11 pool pages, so no more than
      // pool / 12 of them are ever in flight.
      let k = n / (B.BLKIF_MAX_SEGMENTS_PER_REQUEST + 1) + 1;
      if (k > <i32>this.ringSize) k = <i32>this.ringSize;
      if (this.indirectPages == 0) {
        const most = max(this.options.poolPages, this.maxSegments()) / (B.BLKIF_MAX_SEGMENTS_PER_REQUEST + 1) + 1;
        this.indirectPages = allocPages(most);
        this.indirectGrants = new StaticArray<i32>(most);
        this.freeIndirect = new StaticArray<i32>(most);
        for (let i = 0; i < most; i++) this.indirectGrants[i] = -1;
      }
      if (k > this.indirectGrants.length) k = this.indirectGrants.length;
      this.nrIndirect = k;
      for (let i = 0; i < k; i++) {
        // Writable: a backend with persistent grants maps every grant writable.
        const ref = grantPage(dom, this.indirectPages + <usize>i * PAGE_SIZE, false);
        this.indirectGrants[i] = ref;
        if (ref < 0) return "out of grant references for indirect pages";
        this.freeIndirect[this.nrFreeIndirect++] = i;
      }
    }
    const size = <i32>this.ringSize;
    if (this.shadowReq.length == 0) {
      const most = <i32>B.BLKIF_RING_SIZE << <i32>min(this.options.maxRingPageOrder, MAX_RING_ORDER);
      this.shadowReq = new Array<BlkRequest | null>(most);
      this.shadowWireId = new StaticArray<u64>(most);
      this.shadowOp = new StaticArray<u8>(most);
      this.shadowAltOp = new StaticArray<u8>(most);
      this.shadowOffset = new StaticArray<u64>(most);
      this.shadowBytes = new StaticArray<u32>(most);
      this.shadowPages = new StaticArray<i32>(most * this.maxSegments());
      this.shadowNrPages = new StaticArray<i32>(most);
      this.shadowIndirect = new StaticArray<i32>(most);
      this.shadowSince = new StaticArray<u64>(most);
      this.shadowSlow = new StaticArray<bool>(most);
      this.freeIds = new StaticArray<i32>(most);
    }
    this.nrFreeIds = 0;
    this.inFlight = 0;
    for (let i = 0; i < this.shadowReq.length; i++) this.shadowReq[i] = null;
    for (let i = 0; i < size; i++) this.freeIds[this.nrFreeIds++] = size - 1 - i;
    return null;
  }

  // One line with everything negotiated, printed at connect.
  describe(): string {
    const mib = this.sectors / 2048;
    let s = this.sectors.toString() + " sectors (" + mib.toString() + " MiB), sector-size " + this.sectorSize.toString();
    if (this.physicalSectorSize != this.sectorSize) s += " (physical " + this.physicalSectorSize.toString() + ")";
    s += ", " + (this.readOnly ? "read-only" : "read-write") + " (mode " + (this.mode.length ? this.mode : "?") + ", info 0x" + this.vdiskInfo.toString(16) + ")";
    s += "; ring " + (1 << this.ringOrder).toString() + " page" + (this.ringOrder ? "s" : "") + " (" + this.ringSize.toString() + " slots, backend max order " + this.backendMaxRingOrder.toString() + ")";
    s += ", " + this.segmentsPerRequest.toString() + " segments/request";
    s += this.segmentsPerRequest > <u32>B.BLKIF_MAX_SEGMENTS_PER_REQUEST ? " (indirect, backend max " + this.backendIndirect.toString() + ")" : (this.backendIndirect > 0 ? " (backend indirect max " + this.backendIndirect.toString() + " unused)" : " (no indirect)");
    s += ", " + this.poolPages.toString() + " bounce pages";
    s += "; persistent " + (this.persistent ? "yes" : "no");
    s += ", flush " + (this.featureFlush ? "yes" : "no") + ", barrier " + (this.featureBarrier ? "yes" : "no");
    s += ", discard " + (this.featureDiscard ? "yes (granularity " + this.discardGranularity.toString() + ", alignment " + this.discardAlignment.toString() + (this.discardSecure ? ", secure" : "") + ")" : "no");
    return s;
  }

  // ---- the app API

  read(sector: u64, count: u64, buffer: usize, handler: BlkHandler | null = null): BlkRequest {
    return this.submit(new BlkRequest(this, BLK_READ, sector, count, buffer, handler));
  }

  write(sector: u64, count: u64, buffer: usize, handler: BlkHandler | null = null): BlkRequest {
    return this.submit(new BlkRequest(this, BLK_WRITE, sector, count, buffer, handler));
  }

  // Completes once every request submitted before it has completed and
  // every write among them is on stable storage.
  flush(handler: BlkHandler | null = null): BlkRequest {
    return this.submit(new BlkRequest(this, BLK_FLUSH, 0, 0, 0, handler));
  }

  // The range (trimmed to whole discard-granularity units; a range that
  // holds none completes at once) may read back as anything afterwards.
  discard(sector: u64, count: u64, handler: BlkHandler | null = null): BlkRequest {
    return this.submit(new BlkRequest(this, BLK_DISCARD, sector, count, 0, handler));
  }

  // Blocking versions: run the event loop until the request completes.
  // Return null, or the error.
  readSync(sector: u64, count: u64, buffer: usize): string | null { return this.wait(this.read(sector, count, buffer)); }
  writeSync(sector: u64, count: u64, buffer: usize): string | null { return this.wait(this.write(sector, count, buffer)); }
  flushSync(): string | null { return this.wait(this.flush()); }
  discardSync(sector: u64, count: u64): string | null { return this.wait(this.discard(sector, count)); }

  // Waits for `req`, however long the backend takes (slow requests are
  // reported, not failed); a disk that breaks, is detached or closed, or
  // whose backend stays away, fails it.
  wait(req: BlkRequest): string | null {
    if (!req.done && this.inHandshake()) {
      // Called from a handler running inside this disk's own (re)connect or
      // teardown: that cannot end before this call does.
      this.cancel(req, this.name() + ": busy connecting (a blocking call cannot wait for it from inside its handshake)");
    }
    waitFor(new Finished(req), 0);
    return req.error;
  }

  // Fails a request that is still queued (not on the ring).
  private cancel(req: BlkRequest, why: string): void {
    if (req.started) return;
    removeFrom(this.queue, req);
    this.finish(req, why);
  }

  // The watchdog: reports requests in flight longer than options.slowNs
  // (once each), and fails held requests once the backend has been away
  // for options.reconnectTimeoutNs. Re-arms itself while there is work.
  checkProgress(): void {
    if (this.broken !== null || this.closed) return;
    const now = monotonicNs();
    if (!this.connected) {
      if (this.awaySince == 0 || this.queue.length == 0) return;
      const due = this.awaySince + this.options.reconnectTimeoutNs;
      if (now >= due) {
        this.awaySince = 0;
        this.failAll(this.name() + ": the backend stayed away for " + (this.options.reconnectTimeoutNs / 1_000_000_000).toString() + " s");
      } else {
        this.armWatchdog(due - now);
      }
      return;
    }
    if (this.inFlight == 0) return;
    let next: u64 = this.options.slowNs;
    for (let id = 0; id < this.shadowReq.length; id++) {
      const req = this.shadowReq[id];
      if (req === null || this.shadowSlow[id]) continue;
      const age = now - this.shadowSince[id];
      if (age >= this.options.slowNs) {
        this.shadowSlow[id] = true;
        this.stats.slowRequests++;
        const sector = this.shadowOp[id] == BLK_DISCARD ? req.sector : req.sector + this.shadowOffset[id] / SECTOR_SIZE;
        log("blkfront " + this.info.id + ": slow backend: a " + opName(this.shadowOp[id]) + " at sector " + sector.toString() + " has been in flight for " + (age / 1_000_000_000).toString() + " s");
      } else if (this.options.slowNs - age < next) {
        next = this.options.slowNs - age;
      }
    }
    this.armWatchdog(next);
  }

  private armWatchdog(ns: u64): void {
    const t = this.watchdog!.timer;
    if (!t.active) armTimer(t, ns);
  }

  private stopWatchdog(): void {
    cancelTimer(this.watchdog!.timer);
  }

  // Why `req` cannot be accepted, or null.
  // (The words are built only for a refusal: accepting a request allocates nothing.)
  private refusal(req: BlkRequest): string | null {
    if (this.broken !== null) return this.name() + ": disk broken: " + this.broken!;
    if (this.detached) return this.name() + ": detached";
    if (this.closed) return this.name() + ": closed";
    // Closing drains what is queued; new work would keep it from ever
    // draining (a handler that resubmits on every completion).
    if (this.closing) return this.name() + ": closing";
    // A disk that was connected and may be again (its backend went away,
    // or it is reconnecting) takes requests: they wait for it.
    if (!this.connected && this.connects == 0) return this.name() + ": not connected";
    const op = req.op;
    if (op != BLK_READ && op != BLK_WRITE && op != BLK_FLUSH && op != BLK_DISCARD) return this.name() + ": unknown operation " + op.toString();
    if (op == BLK_FLUSH) return null;
    if ((op == BLK_WRITE || op == BLK_DISCARD) && this.readOnly) {
      return this.name() + ": read-only disk (mode " + this.mode + "): " + (op == BLK_WRITE ? "write" : "discard") + " refused";
    }
    if (op == BLK_DISCARD && !this.featureDiscard) return this.name() + ": the backend does not support discard";
    if (req.count > this.sectors || req.sector > this.sectors - req.count) {
      return this.name() + ": sectors " + req.sector.toString() + "+" + req.count.toString() + " out of range (disk has " + this.sectors.toString() + ")";
    }
    const align = <u64>(this.sectorSize / SECTOR_SIZE) - 1;
    if ((req.sector | req.count) & align) return this.name() + ": sectors " + req.sector.toString() + "+" + req.count.toString() + " not aligned to sector-size " + this.sectorSize.toString();
    if (op == BLK_READ || op == BLK_WRITE) {
      const end = <u64>memory.size() << 16;
      const bytes = req.count * SECTOR_SIZE;
      if (<u64>req.buffer > end || bytes > end - <u64>req.buffer) return this.name() + ": buffer outside memory";
    }
    return null;
  }

  submit(req: BlkRequest): BlkRequest {
    if (req.pending) return req; // still in the driver's hands
    req.error = null;
    req.done = false;
    req.issued = 0;
    req.outstanding = 0;
    req.started = false;
    req.pending = true;
    if (req.op == BLK_FLUSH) { req.sector = 0; req.count = 0; } // a flush covers everything before it
    const why = this.refusal(req);
    if (why !== null) {
      this.finish(req, why);
      return req;
    }
    if (req.op == BLK_DISCARD) this.trimDiscard(req);
    if (req.op != BLK_FLUSH && req.count == 0) {
      this.finish(req, null); // nothing to send
      return req;
    }
    this.queue.push(req);
    this.pump();
    return req;
  }

  // Discard-granularity units only: what does not cover a whole one stays.
  private trimDiscard(req: BlkRequest): void {
    const g = <u64>(this.discardGranularity / SECTOR_SIZE);
    const a = <u64>(this.discardAlignment / SECTOR_SIZE);
    if (g <= 1) return;
    const end = req.sector + req.count;
    let start = req.sector < a ? a : req.sector + (g - (req.sector - a) % g) % g;
    const stop = end < a ? 0 : end - (end - a) % g;
    if (stop <= start) { req.sector = start; req.count = 0; return; }
    req.sector = start;
    req.count = stop - start;
  }

  private finish(req: BlkRequest, error: string | null): void {
    if (req.done) return;
    if (error !== null && req.error === null) req.error = error;
    req.done = true;
    req.pending = false;
    this.stats.requests++;
    if (req.error !== null) this.stats.errors++;
    if (req.handler === null) return;
    this.deliver.completed.push(req);
    if (!this.deliver.scheduled) {
      this.deliver.scheduled = true;
      defer(this.deliver);
    }
  }

  // ---- issuing

  // True if `req` overlaps a request on the ring and either of them writes.
  private conflicts(req: BlkRequest): bool {
    const end = req.sector + req.count;
    for (let i = 0; i < this.active.length; i++) {
      const a = this.active[i];
      if (a === req) continue;
      if (req.op == BLK_READ && a.op == BLK_READ) continue;
      if (a.sector < end && req.sector < a.sector + a.count) return true;
    }
    return false;
  }

  // Puts as much of the queue on the ring as the free slots and pages allow.
  pump(): void {
    if (this.broken !== null || !this.connected) return;
    const ring = this.ring!;
    const before = ring.reqProdPvt;
    while (this.queue.length > 0) {
      const req = this.queue[0];
      if (req.op == BLK_FLUSH) {
        if (this.inFlight > 0) break;                  // earlier requests complete first
        // Nothing to send: a backend without flush or barrier has no volatile
        // cache to empty, and nothing was written to a read-only disk (Linux's
        // blkback answers a flush there with an error).
        if (this.readOnly || !this.featureFlush && !this.featureBarrier) { this.queue.shift(); this.finish(req, null); continue; }
        if (!this.issueEmpty(req, this.featureFlush ? <u8>B.BLKIF_OP_FLUSH_DISKCACHE : <u8>B.BLKIF_OP_WRITE_BARRIER)) break;
      } else {
        if (!req.started && this.conflicts(req)) break;
        if (req.op == BLK_DISCARD) {
          if (!this.issueDiscard(req)) break;
        } else {
          while (req.issued < req.count && this.issueChunk(req)) {}
          if (req.issued < req.count) break;
        }
      }
      this.queue.shift();
    }
    if (ring.reqProdPvt != before && ring.pushRequests()) notify(this.port);
    if (this.inFlight > this.stats.maxInFlight) this.stats.maxInFlight = this.inFlight;
  }

  private takeId(req: BlkRequest, op: u8, alt: u8): i32 {
    const id = this.freeIds[--this.nrFreeIds];
    this.shadowReq[id] = req;
    this.generation++;
    this.shadowWireId[id] = (this.generation << 16) | <u64>id;
    this.shadowOp[id] = op;
    this.shadowAltOp[id] = alt;
    this.shadowNrPages[id] = 0;
    this.shadowIndirect[id] = -1;
    this.shadowOffset[id] = 0;
    this.shadowBytes[id] = 0;
    this.shadowSince[id] = monotonicNs();
    this.shadowSlow[id] = false;
    if (!req.started) { req.started = true; this.active.push(req); }
    req.outstanding++;
    if (this.inFlight++ == 0) this.armWatchdog(this.options.slowNs);
    this.stats.ringRequests++;
    return id;
  }

  // Gives back what ring request `id` held: its pool pages, its indirect
  // page and the id itself.
  private freeSlot(id: i32): void {
    const base = id * <i32>this.segmentsPerRequest;
    const nPages = this.shadowNrPages[id];
    for (let p = 0; p < nPages; p++) this.freePages[this.nrFreePages++] = this.shadowPages[base + p];
    this.shadowNrPages[id] = 0;
    const ind = this.shadowIndirect[id];
    if (ind >= 0) this.freeIndirect[this.nrFreeIndirect++] = ind;
    this.shadowIndirect[id] = -1;
    this.freeIds[this.nrFreeIds++] = id;
    this.inFlight--;
  }

  private slotFree(): bool {
    return this.nrFreeIds > 0 && this.ring!.freeRequests() > 0;
  }

  // A flush or barrier: no segments.
  private issueEmpty(req: BlkRequest, op: u8): bool {
    if (!this.slotFree()) return false;
    const id = this.takeId(req, op, op);
    const ring = this.ring!;
    const slot = ring.slot(ring.reqProdPvt++);
    store<u8>(slot + B.BLKIF_REQ_OPERATION, op);
    store<u8>(slot + B.BLKIF_REQ_NR_SEGMENTS, 0);
    store<u16>(slot + B.BLKIF_REQ_HANDLE, this.handle);
    store<u64>(slot + B.BLKIF_REQ_ID, this.shadowWireId[id]);
    store<u64>(slot + B.BLKIF_REQ_SECTOR_NUMBER, 0);
    return true;
  }

  private issueDiscard(req: BlkRequest): bool {
    if (!this.slotFree()) return false;
    const op = <u8>B.BLKIF_OP_DISCARD;
    const id = this.takeId(req, op, op);
    const ring = this.ring!;
    const slot = ring.slot(ring.reqProdPvt++);
    store<u8>(slot + B.BLKIF_REQ_OPERATION, op);
    store<u8>(slot + B.BLKIF_DISCARD_FLAG, 0);
    store<u16>(slot + B.BLKIF_DISCARD_HANDLE, this.handle);
    store<u64>(slot + B.BLKIF_DISCARD_ID, this.shadowWireId[id]);
    store<u64>(slot + B.BLKIF_DISCARD_SECTOR_NUMBER, req.sector);
    store<u64>(slot + B.BLKIF_DISCARD_NR_SECTORS, req.count);
    req.issued = req.count;
    return true;
  }

  // The next piece of a read or write: up to segmentsPerRequest pages.
  private issueChunk(req: BlkRequest): bool {
    if (!this.slotFree()) return false;
    let sectors = req.count - req.issued;
    const max = <u64>(this.segmentsPerRequest * SECTORS_PER_PAGE);
    if (sectors > max) sectors = max;
    const nPages = <i32>((sectors + SECTORS_PER_PAGE - 1) / SECTORS_PER_PAGE);
    const indirect = nPages > B.BLKIF_MAX_SEGMENTS_PER_REQUEST;
    if (this.nrFreePages < nPages || (indirect && this.nrFreeIndirect == 0)) return false;
    const op = req.op;
    const id = this.takeId(req, op, indirect ? <u8>B.BLKIF_OP_INDIRECT : op);
    const offset = req.issued * SECTOR_SIZE;
    const bytes = <u32>(sectors * SECTOR_SIZE);
    this.shadowOffset[id] = offset;
    this.shadowBytes[id] = bytes;
    this.shadowNrPages[id] = nPages;
    const ring = this.ring!;
    const slot = ring.slot(ring.reqProdPvt++);
    let segs = slot + B.BLKIF_REQ_SEG;
    if (indirect) {
      const ind = this.freeIndirect[--this.nrFreeIndirect];
      this.shadowIndirect[id] = ind;
      segs = this.indirectPages + <usize>ind * PAGE_SIZE;
      store<u8>(slot + B.BLKIF_INDIRECT_OPERATION, <u8>B.BLKIF_OP_INDIRECT);
      store<u8>(slot + B.BLKIF_INDIRECT_OP, op);
      store<u16>(slot + B.BLKIF_INDIRECT_NR_SEGMENTS, <u16>nPages);
      store<u64>(slot + B.BLKIF_INDIRECT_ID, this.shadowWireId[id]);
      store<u64>(slot + B.BLKIF_INDIRECT_SECTOR_NUMBER, req.sector + req.issued);
      store<u16>(slot + B.BLKIF_INDIRECT_HANDLE, this.handle);
      store<u32>(slot + B.BLKIF_INDIRECT_GREFS, <u32>this.indirectGrants[ind]);
      this.stats.indirectRequests++;
    } else {
      store<u8>(slot + B.BLKIF_REQ_OPERATION, op);
      store<u8>(slot + B.BLKIF_REQ_NR_SEGMENTS, <u8>nPages);
      store<u16>(slot + B.BLKIF_REQ_HANDLE, this.handle);
      store<u64>(slot + B.BLKIF_REQ_ID, this.shadowWireId[id]);
      store<u64>(slot + B.BLKIF_REQ_SECTOR_NUMBER, req.sector + req.issued);
    }
    const base = id * <i32>this.segmentsPerRequest;
    let left = bytes;
    for (let p = 0; p < nPages; p++) {
      const page = this.freePages[--this.nrFreePages];
      this.shadowPages[base + p] = page;
      const n = left < PAGE ? left : PAGE;
      if (op == BLK_WRITE) memory.copy(this.pool + <usize>page * PAGE_SIZE, req.buffer + <usize>(offset + <u64>(bytes - left)), n);
      const seg = segs + <usize>p * B.BLKIF_SEGMENT_SIZE;
      store<u32>(seg + B.BLKIF_SEG_GREF, <u32>this.poolGrants[page]);
      store<u8>(seg + B.BLKIF_SEG_FIRST_SECT, 0);
      store<u8>(seg + B.BLKIF_SEG_LAST_SECT, <u8>(n / SECTOR_SIZE - 1));
      left -= n;
    }
    req.issued += sectors;
    return true;
  }

  // ---- completions

  // Runs on every event on the device's channel (and after connecting).
  poll(): void {
    if (this.broken !== null || !this.connected) return;
    const ring = this.ring!;
    for (;;) {
      const prod = ring.responseProducer();
      if (prod < 0) { this.fail("response producer ran ahead of our requests"); return; }
      while (ring.rspCons != <u32>prod) {
        memory.copy(this.rsp, ring.slot(ring.rspCons), B.BLKIF_RESPONSE_SIZE);
        ring.rspCons++;
        if (!this.complete()) return;
      }
      if (!ring.finalCheckForResponses()) break;
    }
    this.pump();
  }

  // Checks and applies the response in this.rsp. False if the disk broke.
  private complete(): bool {
    const wireId = load<u64>(this.rsp + B.BLKIF_RSP_ID);
    const op = load<u8>(this.rsp + B.BLKIF_RSP_OPERATION);
    const status = <i32>load<i16>(this.rsp + B.BLKIF_RSP_STATUS);
    const id = <i32>(wireId & 0xffff);
    if (id >= <i32>this.ringSize || this.shadowReq[id] === null || this.shadowWireId[id] != wireId) {
      this.fail("response for id 0x" + wireId.toString(16) + ", which is not in flight");
      return false;
    }
    if (op != this.shadowOp[id] && op != this.shadowAltOp[id]) {
      this.fail("response with operation " + op.toString() + " to a request with operation " + this.shadowOp[id].toString());
      return false;
    }
    if (status != B.BLKIF_RSP_OKAY && status != B.BLKIF_RSP_ERROR && status != B.BLKIF_RSP_EOPNOTSUPP) {
      this.fail("response with status " + status.toString());
      return false;
    }
    const req = this.shadowReq[id]!;
    this.shadowReq[id] = null;
    const nPages = this.shadowNrPages[id];
    const base = id * <i32>this.segmentsPerRequest;
    if (status == B.BLKIF_RSP_OKAY && req.op == BLK_READ) {
      let left = this.shadowBytes[id];
      const dst = req.buffer + <usize>this.shadowOffset[id];
      for (let p = 0; p < nPages; p++) {
        const n = left < PAGE ? left : PAGE;
        memory.copy(dst + <usize>p * PAGE_SIZE, this.pool + <usize>this.shadowPages[base + p] * PAGE_SIZE, n);
        left -= n;
      }
    }
    if (status == B.BLKIF_RSP_OKAY) {
      if (req.op == BLK_READ) this.stats.bytesRead += this.shadowBytes[id];
      else if (req.op == BLK_WRITE) this.stats.bytesWritten += this.shadowBytes[id];
    }
    this.freeSlot(id);
    if (this.inFlight == 0) this.stopWatchdog();
    req.outstanding--;
    if (status != B.BLKIF_RSP_OKAY && req.error === null) {
      if (status == B.BLKIF_RSP_EOPNOTSUPP) {
        req.error = this.name() + ": " + opName(op) + " not supported by the backend";
        // As Linux: stop sending what the backend refuses.
        if (req.op == BLK_FLUSH) { if (this.shadowOp[id] == <u8>B.BLKIF_OP_FLUSH_DISKCACHE) this.featureFlush = false; else this.featureBarrier = false; }
        if (req.op == BLK_DISCARD) this.featureDiscard = false;
      } else {
        req.error = this.name() + ": I/O error (" + opName(req.op) + " at sector " + (req.sector + this.shadowOffset[id] / SECTOR_SIZE).toString() + ")";
      }
    }
    if (req.outstanding == 0 && req.issued == req.count) {
      removeFrom(this.active, req);
      this.finish(req, null);
    }
    return true;
  }

  // ---- closing

  // Waits (bounded) for requests in flight, then closes for good
  // (frontend.ts: the closing handshake, ports and grants released; grants
  // the backend still holds are counted in leakedGrants, never reused).
  close(): void {
    if (this.closed || this.closing) return;
    this.closing = true;
    if (this.connected) waitFor(new Drained(this), this.options.timeoutNs);
    this.closing = false;
    super.close();
  }

  protected endGrants(): i32 {
    let left = 0;
    for (let i = 0; i < this.ringRefs.length; i++) {
      const ref = this.ringRefs[i];
      if (ref < 0) continue;
      if (endAccess(<u32>ref)) this.ringRefs[i] = -1;
      else left++;
    }
    for (let i = 0; i < this.poolGrants.length; i++) left += endOne(this.poolGrants, i);
    for (let i = 0; i < this.indirectGrants.length; i++) left += endOne(this.indirectGrants, i);
    return left;
  }
}

class Drained extends Condition {
  constructor(public dev: Blkfront) { super(); }
  done(): bool { return this.dev.inFlight == 0 && this.dev.queue.length == 0 || this.dev.broken !== null; }
}

// Removes `req` from `list`, keeping the order (Array#splice would allocate
// the array of what it removed: this is on every request's path).
function removeFrom(list: Array<BlkRequest>, req: BlkRequest): void {
  const i = list.indexOf(req);
  if (i < 0) return;
  for (let j = i + 1; j < list.length; j++) unchecked(list[j - 1] = list[j]);
  list.length = list.length - 1;
}

function clamp(v: i64, lo: i64, hi: i64): i64 {
  return v < lo ? lo : v > hi ? hi : v;
}

function opName(op: u8): string {
  if (op == BLK_READ) return "read";
  if (op == BLK_WRITE) return "write";
  if (op == <u8>B.BLKIF_OP_FLUSH_DISKCACHE) return "flush";
  if (op == <u8>B.BLKIF_OP_WRITE_BARRIER) return "barrier";
  if (op == BLK_DISCARD) return "discard";
  return "operation " + op.toString();
}

class DiskSet extends DeviceSet {
  news: DeviceNews<Blkfront> = new DeviceNews<Blkfront>();
  options: BlkOptions = new BlkOptions();
  constructor() { super("vbd"); }
  protected create(info: xenbus.DeviceInfo): Frontend { return new Blkfront(info, this.options); }
}

const disks = new DiskSet();

// Connects every vbd the toolstack gave us (device/vbd/<id>) and keeps
// following them: a disk whose backend goes away holds its requests and
// reconnects when the backend returns; disks attached later (`xl
// block-attach`) are connected too, with the same options. `handler`
// (optional) hears of every connect and disconnect, from the loop. Returns
// every disk known now; disks that failed are there too, with `broken`
// saying why.
export function connectDisks(options: BlkOptions = new BlkOptions(), handler: DiskHandler | null = null): Array<Blkfront> {
  disks.options = options;
  if (handler !== null) disks.news.listen(handler);
  disks.scan();
  disks.watch();
  disks.news.deliverNow();
  const out = new Array<Blkfront>();
  for (let i = 0; i < disks.devices.length; i++) out.push(<Blkfront>disks.devices[i]);
  return out;
}

// The same as connectDisks() without a handler (the name older apps use).
export function connectAll(options: BlkOptions = new BlkOptions()): Array<Blkfront> {
  return connectDisks(options, null);
}

// Closes every disk (the event loop then has no device ports left).
export function closeAll(disks: Array<Blkfront>): void {
  for (let i = 0; i < disks.length; i++) disks[i].close();
}
