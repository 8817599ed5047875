// A simulated block backend for the sim's dom0, after Linux xen-blkback
// (drivers/block/xen-blkback: xenbus.c's handshake, blkback.c's request
// checks) and the blkif protocol (xen/include/public/io/blkif.h; constants
// from runtime/abi/blkif.ts). The disk is a Uint8Array.
//
// The toolstack part writes the nodes libxl writes (frontend dir with
// backend/backend-id/state/virtual-device, backend dir with frontend,
// mode, params, ...); the backend publishes feature-max-indirect-segments
// and max-ring-page-order at probe time and goes InitWait, and, when the
// frontend is Initialised/Connected, maps the ring (ring-ref or
// ring-page-order + ring-ref<i>), binds event-channel and publishes the
// disk (sectors, info, sector-size, physical-sector-size) and its features
// (feature-flush-cache, feature-barrier, feature-discard + discard-*,
// feature-persistent) before going Connected. Frontend Closing/Closed are
// followed, and on Closed every mapping is released.
//
// Every feature is switchable. Requests complete after a latency (with
// jitter, seeded, so completions come back out of order). Data moves with
// grant copies, or through mappings kept for the connection's life when
// both ends said feature-persistent (Linux blkback maps those writable).
// Frontend mistakes are recorded in `frontendErrors` rather than thrown, and
// the guarantees blkfront promises are checked: no flush while requests
// are in flight, no overlapping writes in flight together.
//
// Hostile mode (seeded) corrupts some responses: ids not in flight, stale
// ids, the wrong operation, statuses outside BLKIF_RSP_*, a producer index
// that jumps, duplicated responses, requests never answered.
import * as B from "../runtime/abi/blkif.ts";
import * as XB from "../runtime/abi/xenbus.ts";
import * as R from "../runtime/abi/ring.ts";
import { GUEST_DOMID } from "./hypervisor.ts";
import type { SimGuest } from "./host.ts";
import type { GrantMapping } from "./grant-table.ts";
import type { TimerHandle } from "./clock.ts";

const PAGE = 4096;
const SECTOR = 512;

export type HostileKind = "bad-id" | "stale-id" | "wrong-op" | "bad-status" | "producer-jump" | "duplicate" | "drop";
export const HOSTILE_KINDS: HostileKind[] = ["bad-id", "stale-id", "wrong-op", "bad-status", "producer-jump", "duplicate", "drop"];

export interface BlkbackOptions {
  disk: Uint8Array;                   // the backing store; its length is a multiple of 512
  devid?: number;                     // virtual-device (default 51712 = xvda)
  readOnly?: boolean;                 // libxl's mode "r" (and VDISK_READONLY in info)
  sectorSize?: number;                // default 512
  physicalSectorSize?: number;
  flush?: boolean;                    // feature-flush-cache
  barrier?: boolean;                  // feature-barrier
  discard?: boolean | { granularity?: number; alignment?: number; secure?: boolean };
  indirect?: number;                  // feature-max-indirect-segments (0: not offered)
  maxRingPageOrder?: number;          // max-ring-page-order (absent: single page only)
  persistent?: boolean;               // feature-persistent
  badSectors?: { first: number; count: number };  // reads and writes touching these fail (BLKIF_RSP_ERROR)
  latencyNs?: number;                 // per request (default 20 µs), plus up to as much again of jitter
  // Requests touching these sectors take `latencyNs` instead (a slow
  // whole-disk discard, a flush on slow storage...).
  slow?: { first: number; count: number; latencyNs: number; flush?: boolean };
  seed?: number;                      // jitter
  hostile?: { seed: number; rate?: number; kinds?: HostileKind[] };
  // Extra or replacement backend keys (written at probe time), e.g. a hostile `sectors`.
  keys?: Record<string, string>;
}

export interface BlkbackStats {
  ops: Record<string, number>;        // requests by operation name
  indirect: number;
  maxSegments: number;                // largest request, in segments
  maxInFlight: number;
  ringPages: number;
  persistentMaps: number;             // grants kept mapped (persistent mode)
  bytesRead: number;
  bytesWritten: number;
  hostileResponses: number;
  connects: number;
}

interface Job {
  id: bigint;
  op: number;                         // response operation (indirect: the indirect op)
  status: number;
  run: () => number;                  // does the work, returns the status
  first: number;                      // sector range, for the overlap check
  count: number;
  writes: boolean;
  timer: TimerHandle | null;
}

// mulberry32: small, seedable.
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class SimBlkback {
  readonly devid: number;
  readonly frontendPath: string;
  readonly backendPath: string;
  readonly frontendErrors: string[] = [];
  readonly stats: BlkbackStats = {
    ops: {}, indirect: 0, maxSegments: 0, maxInFlight: 0, ringPages: 0, persistentMaps: 0,
    bytesRead: 0, bytesWritten: 0, hostileResponses: 0, connects: 0,
  };
  connected = false;

  private readonly sectors: number;
  private ringMaps: GrantMapping[] = [];
  private ringSize = 0;
  private port: number | null = null;
  private reqCons = 0;
  private rspProdPvt = 0;
  private persistent = false;
  private readonly persistentMaps = new Map<number, GrantMapping>();
  private readonly jobs = new Set<Job>();
  private readonly completed: bigint[] = [];
  private readonly jitter: () => number;
  private readonly hostile: (() => number) | null;
  private readonly watchToken: string;

  constructor(private readonly guest: SimGuest, private readonly opts: BlkbackOptions) {
    if (opts.disk.length % SECTOR !== 0) throw new Error("sim blkback: disk length must be a multiple of 512");
    this.devid = opts.devid ?? 51712;
    this.sectors = opts.disk.length / SECTOR;
    this.frontendPath = `/local/domain/${GUEST_DOMID}/device/vbd/${this.devid}`;
    this.backendPath = `/local/domain/0/backend/vbd/${GUEST_DOMID}/${this.devid}`;
    this.jitter = rng(opts.seed ?? this.devid);
    this.hostile = opts.hostile ? rng(opts.hostile.seed) : null;
    this.watchToken = `blkback-${this.devid}`;
    this.create();
  }

  private get xs() {
    return this.guest.xenstore;
  }

  private get dom0() {
    return this.guest.dom0;
  }

  // libxl's device_add: both directories with state Initialising, frontend
  // owned by the guest and readable by the backend, backend owned by dom0
  // and readable by the guest. Then blkback's probe: its transport
  // features, and InitWait once the hotplug script has run.
  private create(): void {
    const fe = this.frontendPath, be = this.backendPath, o = this.opts;
    this.xs.mkdir(fe);
    this.xs.setPerms(fe, [`n${GUEST_DOMID}`, "r0"]);
    for (const [k, v] of Object.entries({ backend: be, "backend-id": "0", state: String(XB.XenbusStateInitialising), "virtual-device": String(this.devid), "device-type": "disk", trusted: "1" })) {
      this.xs.write(`${fe}/${k}`, v);
    }
    this.xs.mkdir(be);
    this.xs.setPerms(be, ["n0", `r${GUEST_DOMID}`]);
    const keys: Record<string, string> = {
      frontend: fe, "frontend-id": String(GUEST_DOMID), online: "1", removable: "0", bootable: "1",
      state: String(XB.XenbusStateInitialising), dev: "xvda", type: "phy", mode: o.readOnly ? "r" : "w",
      "device-type": "disk", "discard-enable": o.discard ? "1" : "0", params: "sim-disk",
      "multi-queue-max-queues": "1",
    };
    if (o.indirect) keys["feature-max-indirect-segments"] = String(o.indirect);
    if (o.maxRingPageOrder !== undefined) keys["max-ring-page-order"] = String(o.maxRingPageOrder);
    Object.assign(keys, o.keys ?? {});
    for (const [k, v] of Object.entries(keys)) this.xs.write(`${be}/${k}`, v);
    this.xs.watch(`${fe}/state`, this.watchToken, () => this.dom0.after(0, () => this.frontendChanged()));
    this.dom0.after(1_000_000, () => this.switchState(XB.XenbusStateInitWait));
  }

  private switchState(state: number): void {
    this.xs.write(`${this.backendPath}/state`, String(state));
  }

  private backendState(): number {
    return Number(this.xs.read(`${this.backendPath}/state`));
  }

  private frontRead(key: string): string | null {
    const path = `${this.frontendPath}/${key}`;
    return this.xs.exists(path) ? this.xs.read(path) : null;
  }

  // xenbus.c frontend_changed()
  private frontendChanged(): void {
    const state = Number(this.frontRead("state") ?? XB.XenbusStateUnknown);
    switch (state) {
      case XB.XenbusStateInitialised:
      case XB.XenbusStateConnected:
        if (this.connected || this.backendState() !== XB.XenbusStateInitWait) return;
        if (this.connectRing()) this.publishDisk();
        return;
      case XB.XenbusStateClosing:
        this.switchState(XB.XenbusStateClosing);
        return;
      case XB.XenbusStateClosed:
        this.disconnect();
        this.switchState(XB.XenbusStateClosed);
        return;
      case XB.XenbusStateInitialising:
        // A frontend starting again after Closed: "prepare for reconnect".
        if (this.backendState() === XB.XenbusStateClosed) this.switchState(XB.XenbusStateInitWait);
        return;
    }
  }

  // `xl block-detach` (libxl__initiate_device_generic_remove): online=0 and
  // state=Closing in the backend; once the backend is Closed (it follows
  // the frontend), or after libxl's 10 s timeout (forced), the nodes go.
  detach(done?: (forced: boolean) => void): void {
    const started = this.guest.clock.now();
    this.xs.write(`${this.backendPath}/online`, "0");
    this.switchState(XB.XenbusStateClosing);
    const poll = () => {
      const closed = this.backendState() === XB.XenbusStateClosed;
      if (closed || this.guest.clock.now() - started >= 10_000_000_000n) {
        this.disconnect();
        this.xs.unwatch(`${this.frontendPath}/state`, this.watchToken);
        for (const dir of [this.backendPath, this.frontendPath]) if (this.xs.exists(dir)) this.xs.rm(dir);
        done?.(!closed);
      } else {
        this.dom0.after(1_000_000n, poll);
      }
    };
    this.dom0.after(1_000_000n, poll);
  }

  // The domain went away under the backend (a save or a migration): it
  // lets go of everything at once and its nodes are deleted.
  destroy(): void {
    this.disconnect();
    this.xs.unwatch(`${this.frontendPath}/state`, this.watchToken);
    for (const dir of [this.backendPath, this.frontendPath]) if (this.xs.exists(dir)) this.xs.rm(dir);
  }

  // xenbus_dev_fatal from inside blkback: Closing, still online (a
  // frontend that closes and starts again gets InitWait, and reconnects).
  fail(message: string): void {
    this.frontendErrors.push(`backend failure: ${message}`);
    this.xs.write(`/local/domain/0/error${this.backendPath}/error`, message);
    this.disconnect();
    this.switchState(XB.XenbusStateClosing);
  }

  private error(what: string): false {
    this.frontendErrors.push(what);
    return false;
  }

  private intKey(key: string): number | null {
    const text = this.frontRead(key);
    return text !== null && /^\d+$/.test(text) ? Number(text) : null;
  }

  // xenbus.c connect_ring() + read_per_ring_refs() + xen_blkif_map()
  private connectRing(): boolean {
    const order = this.intKey("ring-page-order") ?? 0;
    if (order > (this.opts.maxRingPageOrder ?? 0)) return this.error(`ring-page-order ${order} above the offered maximum`);
    const refs: number[] = [];
    if (this.frontRead("ring-page-order") === null) {
      const ref = this.intKey("ring-ref");
      if (ref === null) return this.error("no ring-ref");
      refs.push(ref);
    } else {
      for (let i = 0; i < 1 << order; i++) {
        const ref = this.intKey(`ring-ref${i}`);
        if (ref === null) return this.error(`no ring-ref${i}`);
        refs.push(ref);
      }
      if (this.frontRead("ring-ref") !== null) this.error("ring-ref written together with ring-page-order");
    }
    const port = this.intKey("event-channel");
    if (port === null) return this.error("no event-channel");
    const protocol = this.frontRead("protocol");
    if (protocol !== null && protocol !== B.XEN_IO_PROTO_ABI_X86_64) return this.error(`protocol ${protocol}`);
    this.persistent = Boolean(this.opts.persistent) && this.frontRead("feature-persistent") === "1";
    try {
      this.ringMaps = refs.map((ref) => this.dom0.mapGrant(GUEST_DOMID, ref));
      this.port = this.dom0.bindInterdomain(GUEST_DOMID, port);
    } catch (e) {
      this.disconnect();
      return this.error(`cannot map the ring or bind the channel: ${(e as Error).message}`);
    }
    this.ringSize = B.BLKIF_RING_SIZE << order;
    this.stats.ringPages = refs.length;
    this.reqCons = 0;
    this.rspProdPvt = 0;
    this.dom0.onEvent(this.port, () => this.kick());
    this.connected = true;
    this.stats.connects++;
    return true;
  }

  // xenbus.c connect(): the disk and its features, then Connected.
  private publishDisk(): void {
    const o = this.opts, be = this.backendPath;
    const keys: Record<string, string> = {
      "feature-flush-cache": o.flush ? "1" : "0",
      "feature-persistent": o.persistent ? "1" : "0",
      sectors: String(this.sectors),
      info: String(o.readOnly ? B.VDISK_READONLY : 0),
      "sector-size": String(o.sectorSize ?? SECTOR),
      "physical-sector-size": String(o.physicalSectorSize ?? o.sectorSize ?? SECTOR),
    };
    if (o.barrier) keys["feature-barrier"] = "1";
    if (o.discard) {
      const d = typeof o.discard === "object" ? o.discard : {};
      Object.assign(keys, {
        "feature-discard": "1", "discard-granularity": String(d.granularity ?? SECTOR),
        "discard-alignment": String(d.alignment ?? 0), "discard-secure": d.secure ? "1" : "0",
      });
    }
    // Keys the test replaced were written at probe time and stay as they are.
    for (const [k, v] of Object.entries(keys)) if (!(o.keys && k in o.keys)) this.xs.write(`${be}/${k}`, v);
    this.switchState(XB.XenbusStateConnected);
  }

  // xen_blkif_disconnect(): outstanding work dropped, every mapping released.
  private disconnect(): void {
    for (const job of this.jobs) job.timer?.cancel();
    this.jobs.clear();
    for (const m of this.persistentMaps.values()) m.unmap();
    this.persistentMaps.clear();
    for (const m of this.ringMaps) m.unmap();
    this.ringMaps = [];
    if (this.port !== null) {
      this.dom0.onEvent(this.port, null);
      try {
        this.dom0.close(this.port);
      } catch {
        // the guest closed its end first: ours is already gone
      }
      this.port = null;
    }
    this.connected = false;
  }

  // ---- the ring, through the mapped pages (a slot may straddle two)

  private ringBytes(offset: number, len: number): Uint8Array {
    const out = new Uint8Array(len);
    for (let done = 0; done < len;) {
      const at = offset + done, page = Math.floor(at / PAGE), inPage = at % PAGE;
      const n = Math.min(len - done, PAGE - inPage);
      out.set(this.guest.hv.bytes(this.ringMaps[page].address + inPage, n), done);
      done += n;
    }
    return out;
  }

  private ringWrite(offset: number, data: Uint8Array): void {
    for (let done = 0; done < data.length;) {
      const at = offset + done, page = Math.floor(at / PAGE), inPage = at % PAGE;
      const n = Math.min(data.length - done, PAGE - inPage);
      this.guest.hv.bytes(this.ringMaps[page].address + inPage, n).set(data.subarray(done, done + n));
      done += n;
    }
  }

  private header(field: number): number {
    return new DataView(this.ringBytes(field, 4).buffer).getUint32(0, true);
  }

  private setHeader(field: number, value: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, value >>> 0, true);
    this.ringWrite(field, b);
  }

  private slotOffset(index: number): number {
    return R.SRING_RING + (index & (this.ringSize - 1)) * B.BLKIF_REQUEST_SIZE;
  }

  // do_block_io_op(): takes every published request, then re-arms req_event.
  private kick(): void {
    if (!this.connected) return;
    for (;;) {
      const prod = this.header(R.SRING_REQ_PROD);
      if (((prod - this.reqCons) >>> 0) > this.ringSize) {
        this.error(`req_prod ${prod} more than a ring ahead of req_cons ${this.reqCons}`);
        return;
      }
      while (this.reqCons !== prod) {
        const slot = this.ringBytes(this.slotOffset(this.reqCons), B.BLKIF_REQUEST_SIZE);
        this.reqCons = (this.reqCons + 1) >>> 0;
        this.accept(new DataView(slot.buffer));
      }
      this.setHeader(R.SRING_REQ_EVENT, (this.reqCons + 1) >>> 0);
      if (this.header(R.SRING_REQ_PROD) === this.reqCons) break;
    }
  }

  private count(op: string): void {
    this.stats.ops[op] = (this.stats.ops[op] ?? 0) + 1;
  }

  // Parses one request (dispatch_rw_block_io / dispatch_discard_io) into a job.
  private accept(req: DataView): void {
    const op = req.getUint8(B.BLKIF_REQ_OPERATION);
    const id = req.getBigUint64(B.BLKIF_REQ_ID, true);
    const o = this.opts;
    let job: Job;
    const fail = (why: string, status = B.BLKIF_RSP_ERROR): void => {
      this.error(why);
      this.schedule({ id, op, status, run: () => status, first: 0, count: 0, writes: false, timer: null });
    };
    switch (op) {
      case B.BLKIF_OP_FLUSH_DISKCACHE:
      case B.BLKIF_OP_WRITE_BARRIER: {
        const name = op === B.BLKIF_OP_FLUSH_DISKCACHE ? "flush" : "barrier";
        this.count(name);
        if (this.jobs.size > 0) this.error(`${name} while ${this.jobs.size} requests are in flight`);
        if (o.readOnly) return fail(`${name} on a read-only disk`); // xen_vbd_translate() refuses any non-read
        const supported = op === B.BLKIF_OP_FLUSH_DISKCACHE ? o.flush : o.barrier;
        const status = supported ? B.BLKIF_RSP_OKAY : B.BLKIF_RSP_EOPNOTSUPP;
        job = { id, op, status, run: () => status, first: 0, count: 0, writes: false, timer: null };
        break;
      }
      case B.BLKIF_OP_DISCARD: {
        this.count("discard");
        const first = Number(req.getBigUint64(B.BLKIF_DISCARD_SECTOR_NUMBER, true));
        const n = Number(req.getBigUint64(B.BLKIF_DISCARD_NR_SECTORS, true));
        if (!o.discard) return fail("discard without feature-discard", B.BLKIF_RSP_EOPNOTSUPP);
        if (o.readOnly) return fail("discard on a read-only disk");
        if (first + n > this.sectors) return fail(`discard ${first}+${n} beyond ${this.sectors} sectors`);
        // Linux's blkback would pass this on; blkfront promises whole units.
        const d = typeof o.discard === "object" ? o.discard : {};
        const g = (d.granularity ?? SECTOR) / SECTOR, a = ((d.alignment ?? 0) / SECTOR) % g;
        if ((first - a) % g !== 0 || n % g !== 0) this.error(`discard ${first}+${n} not in whole units of ${g} sectors from ${a}`);
        job = {
          id, op, status: 0, first, count: n, writes: true, timer: null,
          run: () => {
            o.disk.fill(0, first * SECTOR, (first + n) * SECTOR);
            return B.BLKIF_RSP_OKAY;
          },
        };
        break;
      }
      case B.BLKIF_OP_READ:
      case B.BLKIF_OP_WRITE:
      case B.BLKIF_OP_INDIRECT: {
        const indirect = op === B.BLKIF_OP_INDIRECT;
        const dataOp = indirect ? req.getUint8(B.BLKIF_INDIRECT_OP) : op;
        const first = Number(req.getBigUint64(indirect ? B.BLKIF_INDIRECT_SECTOR_NUMBER : B.BLKIF_REQ_SECTOR_NUMBER, true));
        const nseg = indirect ? req.getUint16(B.BLKIF_INDIRECT_NR_SEGMENTS, true) : req.getUint8(B.BLKIF_REQ_NR_SEGMENTS);
        this.count(dataOp === B.BLKIF_OP_WRITE ? "write" : dataOp === B.BLKIF_OP_READ ? "read" : `indirect-op-${dataOp}`);
        if (indirect) {
          this.stats.indirect++;
          if (!o.indirect) return fail("indirect request without feature-max-indirect-segments");
          if (dataOp !== B.BLKIF_OP_READ && dataOp !== B.BLKIF_OP_WRITE) return fail(`indirect_op ${dataOp}`);
          if (nseg === 0 || nseg > o.indirect) return fail(`indirect request with ${nseg} segments (max ${o.indirect})`);
        } else if (nseg === 0 || nseg > B.BLKIF_MAX_SEGMENTS_PER_REQUEST) {
          return fail(`request with ${nseg} segments`);
        }
        this.stats.maxSegments = Math.max(this.stats.maxSegments, nseg);
        const segs = indirect ? this.indirectSegments(req, nseg) : this.directSegments(req, nseg);
        if (typeof segs === "string") return fail(segs);
        let n = 0;
        for (const s of segs) {
          if (s.last < s.first || s.last >= PAGE / SECTOR) return fail(`segment sectors ${s.first}..${s.last}`);
          n += s.last - s.first + 1;
        }
        if (first + n > this.sectors) return fail(`${first}+${n} beyond ${this.sectors} sectors`);
        const writes = dataOp === B.BLKIF_OP_WRITE;
        if (writes && o.readOnly) return fail("write to a read-only disk");
        const bad = o.badSectors;
        const run = bad && first < bad.first + bad.count && bad.first < first + n ? () => B.BLKIF_RSP_ERROR : () => this.transfer(writes, first, segs);
        job = { id, op: dataOp, status: 0, first, count: n, writes, timer: null, run };
        break;
      }
      default:
        this.count(`op-${op}`);
        return fail(`unknown operation ${op}`);
    }
    for (const other of this.jobs) {
      if ((job.writes || other.writes) && job.count && other.count && job.first < other.first + other.count && other.first < job.first + job.count) {
        this.error(`sectors ${job.first}+${job.count} overlap ${other.first}+${other.count} in flight, and one of them writes`);
      }
    }
    this.schedule(job);
  }

  private directSegments(req: DataView, nseg: number): { gref: number; first: number; last: number }[] {
    const out = [];
    for (let i = 0; i < nseg; i++) {
      const at = B.BLKIF_REQ_SEG + i * B.BLKIF_SEGMENT_SIZE;
      out.push({ gref: req.getUint32(at + B.BLKIF_SEG_GREF, true), first: req.getUint8(at + B.BLKIF_SEG_FIRST_SECT), last: req.getUint8(at + B.BLKIF_SEG_LAST_SECT) });
    }
    return out;
  }

  // xen_blkbk_parse_indirect(): the segment arrays live in granted pages.
  private indirectSegments(req: DataView, nseg: number): { gref: number; first: number; last: number }[] | string {
    const pages = Math.ceil(nseg / B.BLKIF_SEGMENTS_PER_INDIRECT_FRAME);
    if (pages > B.BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST) return `${pages} indirect pages`;
    const out = [];
    for (let p = 0; p < pages; p++) {
      const gref = req.getUint32(B.BLKIF_INDIRECT_GREFS + 4 * p, true);
      const n = Math.min(nseg - p * B.BLKIF_SEGMENTS_PER_INDIRECT_FRAME, B.BLKIF_SEGMENTS_PER_INDIRECT_FRAME);
      let bytes: Uint8Array;
      try {
        bytes = this.readGrant(gref, 0, n * B.BLKIF_SEGMENT_SIZE);
      } catch (e) {
        return `indirect page: ${(e as Error).message}`;
      }
      const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
      for (let i = 0; i < n; i++) {
        const at = i * B.BLKIF_SEGMENT_SIZE;
        out.push({ gref: v.getUint32(at + B.BLKIF_SEG_GREF, true), first: v.getUint8(at + B.BLKIF_SEG_FIRST_SECT), last: v.getUint8(at + B.BLKIF_SEG_LAST_SECT) });
      }
    }
    return out;
  }

  // A persistent mapping, made on first use and kept (always writable, as Linux does).
  private mapping(gref: number): GrantMapping {
    let m = this.persistentMaps.get(gref);
    if (!m) {
      m = this.dom0.mapGrant(GUEST_DOMID, gref);
      this.persistentMaps.set(gref, m);
      this.stats.persistentMaps = this.persistentMaps.size;
    }
    return m;
  }

  private readGrant(gref: number, offset: number, len: number): Uint8Array {
    if (this.persistent) return this.guest.hv.bytes(this.mapping(gref).address + offset, len).slice();
    return this.dom0.copyFromGrant(GUEST_DOMID, gref, offset, len);
  }

  private writeGrant(gref: number, offset: number, data: Uint8Array): void {
    if (this.persistent) this.guest.hv.bytes(this.mapping(gref).address + offset, data.length).set(data);
    else this.dom0.copyToGrant(GUEST_DOMID, gref, offset, data);
  }

  private transfer(writes: boolean, first: number, segs: { gref: number; first: number; last: number }[]): number {
    let at = first * SECTOR;
    try {
      for (const s of segs) {
        const off = s.first * SECTOR, len = (s.last - s.first + 1) * SECTOR;
        if (writes) {
          this.opts.disk.set(this.readGrant(s.gref, off, len), at);
          this.stats.bytesWritten += len;
        } else {
          this.writeGrant(s.gref, off, this.opts.disk.subarray(at, at + len));
          this.stats.bytesRead += len;
        }
        at += len;
      }
    } catch (e) {
      this.error(`grant: ${(e as Error).message}`);
      return B.BLKIF_RSP_ERROR;
    }
    return B.BLKIF_RSP_OKAY;
  }

  // The job completes after the latency; the data moves then.
  private schedule(job: Job): void {
    this.jobs.add(job);
    this.stats.maxInFlight = Math.max(this.stats.maxInFlight, this.jobs.size);
    const base = this.opts.latencyNs ?? 20_000;
    const slow = this.opts.slow;
    const isSlow = slow && ((slow.flush && (job.op === B.BLKIF_OP_FLUSH_DISKCACHE || job.op === B.BLKIF_OP_WRITE_BARRIER)) || (job.count > 0 && job.first < slow.first + slow.count && slow.first < job.first + job.count));
    const latency = isSlow ? slow.latencyNs : Math.round(base + base * this.jitter());
    job.timer = this.dom0.after(latency, () => {
      if (!this.jobs.delete(job) || !this.connected) return;
      job.status = job.status === 0 ? job.run() : job.status;
      this.respond(job);
    });
  }

  // make_response(): one slot, then push with the rsp_event notify rule.
  private respond(job: Job): void {
    let id = job.id, op = job.op, status = job.status, copies = 1, jump = 0;
    const h = this.hostile, hostile = this.opts.hostile;
    if (h && hostile && h() < (hostile.rate ?? 0.05)) {
      const kinds = hostile.kinds ?? HOSTILE_KINDS;
      const kind = kinds[Math.floor(h() * kinds.length)];
      this.stats.hostileResponses++;
      switch (kind) {
        case "bad-id": id = BigInt(Math.floor(h() * 2 ** 32)) << 20n | BigInt(Math.floor(h() * 2 ** 20)); break;
        case "stale-id": id = this.completed.length ? this.completed[Math.floor(h() * this.completed.length)] : id ^ 0xffffn; break;
        case "wrong-op": op = (op + 1 + Math.floor(h() * 6)) % 7; if (op === B.BLKIF_OP_INDIRECT) op = 4; break;
        case "bad-status": status = h() < 0.5 ? 1 + Math.floor(h() * 100) : -3 - Math.floor(h() * 100); break;
        case "producer-jump": jump = this.ringSize + 1 + Math.floor(h() * 1000); break;
        case "duplicate": copies = 2; break;
        case "drop": return; // never answered
      }
    }
    this.completed.push(job.id);
    if (this.completed.length > 64) this.completed.shift();
    const old = this.header(R.SRING_RSP_PROD);
    for (let i = 0; i < copies; i++) {
      const slot = new Uint8Array(B.BLKIF_RESPONSE_SIZE);
      const v = new DataView(slot.buffer);
      v.setBigUint64(B.BLKIF_RSP_ID, BigInt.asUintN(64, id), true);
      v.setUint8(B.BLKIF_RSP_OPERATION, op);
      v.setInt16(B.BLKIF_RSP_STATUS, status, true);
      this.ringWrite(this.slotOffset(this.rspProdPvt), slot);
      this.rspProdPvt = (this.rspProdPvt + 1) >>> 0;
    }
    const now = (this.rspProdPvt + jump) >>> 0;
    this.setHeader(R.SRING_RSP_PROD, now);
    const event = this.header(R.SRING_RSP_EVENT);
    if (((now - event) >>> 0) < ((now - old) >>> 0) && this.port !== null) this.dom0.send(this.port);
  }
}
