// netfront: the network frontend (xen/include/public/io/netif.h,
// docs/misc/xenstore-paths, Linux netback's expectations). Copy-mode RX
// (request-rx-copy); we send complete checksums and ask for them
// (feature-no-csum-offload=1), but honour the RX checksum flags a backend
// sets anyway (see FrameHandler).
//
// Negotiated with the backend, each only if it offers it:
//  - feature-split-event-channels: two ports per queue, written as
//    event-channel-tx / -rx; TX completions arrive (and TX kicks go) on the
//    tx port, RX responses and buffer re-posts on the rx port.
//  - multi-queue-max-queues N > 1: min(N, MAX_QUEUES) queues, each with its
//    own rings, buffers and port(s), keys under <frontend>/queue-<i>/ and
//    multi-queue-num-queues; with one queue the keys stay at the top level.
//    Transmit picks a queue by a flow hash of the IPv4 addresses and the
//    UDP/TCP ports (so one flow stays in order on one queue; ARP and other
//    non-IP frames use queue 0); receive takes from every queue.
//  - feature-sg: RX frames may span several slots (NETRXF_more_data), and
//    are reassembled into one buffer of max(ETH_HLEN + mtu, PAGE_SIZE)
//    bytes; a longer frame is dropped and counted (rxOversize). Extra-info
//    slots (NETRXF_extra_info, chained with XEN_NETIF_EXTRA_FLAG_MORE) are
//    skipped. Every slot a frame used is re-posted. A chain that runs past
//    the published responses (netback publishes frames whole), or longer
//    than XEN_NETIF_NR_SLOTS_MIN data slots or XEN_NETIF_EXTRA_TYPE_MAX - 1
//    extra slots, breaks the device. TX: a frame longer than a page (a
//    jumbo frame on a vif with a larger mtu) goes over several slots, one
//    page-sized TX buffer each, chained with NETTXF_more_data; the first
//    slot's size is the whole frame's, as netif.h specifies. Without sg a
//    frame must fit one page.
//
// Buffers are granted once for the device's life: per queue, RX pages the
// backend copies received frames into (writable grants) and TX pages we
// copy outgoing frames into (read-only grants). Responses are copied out
// of the ring and checked before use: a backend that answers with an id we
// did not hand out, an offset/size outside the page or a producer that runs
// ahead marks the device broken, and it is closed so that the backend lets
// go of our pages and the grants are revoked; the guest carries on without it.
import { log } from "../runtime/log";
import * as N from "../runtime/abi/netif";
import * as XB from "../runtime/abi/xenbus";
import { allocPages, PAGE_SIZE } from "../runtime/pages";
import { EventHandler, allocUnbound, register, unregister, notify, close as closePort } from "../runtime/events";
import { grantPage, endAccess } from "../grant-tables/index";
import { Closable, registerClosable } from "../runtime/lifecycle";
import { Task, defer } from "../runtime/loop";
import * as xs from "../xenstore/client";
import { TransactionBody } from "../xenstore/client";
import * as xenbus from "../xenstore/xenbus";
import { FrontRing } from "./front-ring";

// Each response is copied here out of the shared ring before any check or
// use (the backend could change the slot between our check and our use).
const responseCopy = memory.data(16, 8);
const BUFFERS_ONE_QUEUE: i32 = 64;  // RX and TX buffers with one queue
const BUFFERS_PER_QUEUE: i32 = 32;  // and per queue with several
export const MAX_QUEUES: i32 = 4;
const CONNECT_TIMEOUT_NS: u64 = 30_000_000_000;
const ETH_HLEN: i32 = 14;
// Slots one RX frame may use: the first, its extra-info slots, the rest of its data.
const MAX_RX_EXTRAS: i32 = N.XEN_NETIF_EXTRA_TYPE_MAX - 1;
const MAX_RX_SLOTS: i32 = N.XEN_NETIF_NR_SLOTS_MIN + MAX_RX_EXTRAS;
// The RX checksum flags handed on with a frame.
export const RX_CSUM_FLAGS: i32 = N.NETRXF_data_validated | N.NETRXF_csum_blank;

// Receives every frame, as bytes valid only during the call. `flags` holds
// the backend's RX checksum flags (RX_CSUM_FLAGS): NETRXF_data_validated,
// the L4 checksum was verified (or the frame is local); NETRXF_csum_blank,
// the L4 checksum field holds only the pseudo-header sum (a partial
// checksum, from a local sender): it must not be verified.
export abstract class FrameHandler {
  abstract onFrame(frame: usize, len: i32, flags: i32): void;
}

export class NetfrontStats {
  rxFrames: u64 = 0;
  rxDropped: u64 = 0;    // errors reported by the backend, frames we could not take
  rxOversize: u64 = 0;   // of those: multi-slot frames longer than our reassembly buffer
  rxMultiSlot: u64 = 0;  // frames that came in more than one data slot (feature-sg)
  txFrames: u64 = 0;
  txDropped: u64 = 0;    // no free buffer or ring slot (back-pressure), or too large
  txErrors: u64 = 0;     // the backend answered with an error status
}

const EV_TX: i32 = 1;
const EV_RX: i32 = 2;

class NetEvents extends EventHandler {
  constructor(public dev: Netfront, public q: NetQueue, public what: i32) { super(); }
  onEvent(port: u32): void { this.dev.pollQueue(this.q, this.what); }
}

// One queue: a TX and an RX ring, their buffers and port(s) (txPort ==
// rxPort without split event channels).
export class NetQueue {
  tx: FrontRing;
  rx: FrontRing;
  txRef: i32 = -1;
  rxRef: i32 = -1;
  txPort: u32 = 0;
  rxPort: u32 = 0;
  rxPages: usize = 0;
  txPages: usize = 0;
  rxGrants: StaticArray<i32>;
  txGrants: StaticArray<i32>;
  rxIdAt: StaticArray<i32> = new StaticArray<i32>(N.NET_RX_RING_SIZE); // buffer posted at each ring index
  rxPosted: StaticArray<bool>;
  txBusy: StaticArray<bool>;
  txFree: Array<i32> = new Array<i32>();
  rxFrames: u64 = 0;
  txFrames: u64 = 0;

  constructor(public index: i32, public buffers: i32) {
    this.tx = new FrontRing(allocPages(1), N.NET_TX_RING_SIZE, N.NETIF_TX_REQUEST_SIZE);
    this.rx = new FrontRing(allocPages(1), N.NET_RX_RING_SIZE, N.NETIF_RX_REQUEST_SIZE);
    this.rxGrants = new StaticArray<i32>(buffers);
    this.txGrants = new StaticArray<i32>(buffers);
    this.rxPosted = new StaticArray<bool>(buffers);
    this.txBusy = new StaticArray<bool>(buffers);
    for (let i = 0; i < buffers; i++) { this.rxGrants[i] = -1; this.txGrants[i] = -1; }
  }

  // Grants the rings and buffers to `dom`. Returns false when out of grant references.
  grant(dom: u16): bool {
    this.tx.init();
    this.rx.init();
    this.txRef = grantPage(dom, this.tx.page, false);
    this.rxRef = grantPage(dom, this.rx.page, false);
    this.rxPages = allocPages(this.buffers);
    this.txPages = allocPages(this.buffers);
    let ok = this.txRef >= 0 && this.rxRef >= 0;
    for (let i = 0; i < this.buffers; i++) {
      this.rxGrants[i] = grantPage(dom, this.rxPages + <usize>i * PAGE_SIZE, false);
      this.txGrants[i] = grantPage(dom, this.txPages + <usize>i * PAGE_SIZE, true);
      this.txFree.push(this.buffers - 1 - i);
      if (this.rxGrants[i] < 0 || this.txGrants[i] < 0) ok = false;
    }
    return ok;
  }

  // The backend may no longer use anything: ports closed, grants revoked.
  release(): void {
    if (this.txPort != 0) closePort(this.txPort);
    if (this.rxPort != 0 && this.rxPort != this.txPort) closePort(this.rxPort);
    if (this.txRef >= 0) endAccess(<u32>this.txRef);
    if (this.rxRef >= 0) endAccess(<u32>this.rxRef);
    for (let i = 0; i < this.buffers; i++) {
      if (this.rxGrants[i] >= 0) endAccess(<u32>this.rxGrants[i]);
      if (this.txGrants[i] >= 0) endAccess(<u32>this.txGrants[i]);
    }
  }

  postRx(id: i32): void {
    const index = this.rx.reqProdPvt++;
    const slot = this.rx.slot(index);
    store<u16>(slot + N.NETIF_RX_REQ_ID, <u16>id);
    store<u32>(slot + N.NETIF_RX_REQ_GREF, <u32>this.rxGrants[id]);
    this.rxIdAt[index & (N.NET_RX_RING_SIZE - 1)] = id;
    this.rxPosted[id] = true;
  }
}

class Handshake extends TransactionBody {
  constructor(public dev: Netfront) { super(); }
  run(tx: u32): string | null {
    const d = this.dev;
    const dir = d.info.frontendPath;
    const keys = ["request-rx-copy", "feature-rx-notify", "feature-sg", "feature-no-csum-offload"];
    const values = ["1", "1", d.sg ? "1" : "0", "1"];
    const n = d.queues.length;
    if (n > 1) { keys.push("multi-queue-num-queues"); values.push(n.toString()); }
    for (let i = 0; i < n; i++) {
      const q = d.queues[i];
      const qdir = n == 1 ? "" : "queue-" + i.toString() + "/";
      keys.push(qdir + "tx-ring-ref"); values.push(q.txRef.toString());
      keys.push(qdir + "rx-ring-ref"); values.push(q.rxRef.toString());
      if (d.split) {
        keys.push(qdir + "event-channel-tx"); values.push(q.txPort.toString());
        keys.push(qdir + "event-channel-rx"); values.push(q.rxPort.toString());
      } else {
        keys.push(qdir + "event-channel"); values.push(q.txPort.toString());
      }
    }
    for (let i = 0; i < keys.length; i++) {
      const err = xs.write(dir + "/" + keys[i], values[i], tx).error;
      if (err !== null) return err;
    }
    return xenbus.switchState(dir, XB.XenbusStateConnected, tx);
  }
}

class Shutdown extends Closable {
  constructor(public dev: Netfront) { super(); }
  close(): void { this.dev.close(); }
}

class Release extends Task {
  constructor(public dev: Netfront) { super(); }
  run(): void { this.dev.close(); }
}

export class Netfront {
  mac: StaticArray<u8> = new StaticArray<u8>(6);
  ip: string = "";           // the backend's `ip` key (xl vif ip=), or ""
  mtu: i32 = 1500;
  broken: string | null = null;
  connected: bool = false;
  granted: bool = false;     // grants given out and not yet revoked (close() has work to do)
  stats: NetfrontStats = new NetfrontStats();
  handler: FrameHandler | null = null;

  // What was negotiated (valid once connect() has read the backend's features).
  split: bool = false;       // feature-split-event-channels
  sg: bool = false;          // feature-sg
  queues: Array<NetQueue> = new Array<NetQueue>();
  rxMax: i32 = <i32>PAGE_SIZE;  // the longest frame we reassemble
  rxFrame: usize = 0;           // the reassembly buffer (feature-sg), rxMax bytes
  chain: StaticArray<i32> = new StaticArray<i32>(MAX_RX_SLOTS); // buffers of the frame being taken
  rsp: usize = responseCopy;

  constructor(public info: xenbus.DeviceInfo) {}

  // The first queue's port (its only one without split event channels).
  get port(): u32 { return this.queues.length > 0 ? this.queues[0].txPort : 0; }

  macString(): string {
    let s = "";
    for (let i = 0; i < 6; i++) {
      const b = this.mac[i];
      s += (i ? ":" : "") + (b < 16 ? "0" : "") + b.toString(16);
    }
    return s;
  }

  // What the handshake settled on, for the connect log line.
  features(): string {
    return this.queues.length.toString() + (this.queues.length == 1 ? " queue" : " queues") + (this.split ? ", split event channels" : "") + (this.sg ? ", sg" : "");
  }

  fail(why: string): string {
    if (this.broken === null) {
      this.broken = why;
      log("netfront " + this.info.id + ": broken: " + why);
      for (let i = 0; i < this.queues.length; i++) {
        const q = this.queues[i];
        if (q.txPort != 0) unregister(q.txPort);
        if (q.rxPort != 0 && q.rxPort != q.txPort) unregister(q.rxPort);
      }
      // As Linux's xenbus_dev_fatal: close the device, so that the backend
      // lets go of our pages and the grants can be revoked. From the loop,
      // not from inside an event handler.
      if (this.granted) defer(new Release(this));
    }
    return why;
  }

  private bindPort(q: NetQueue, what: i32): i64 {
    const port = allocUnbound(this.info.backendId);
    if (port < 0) return port;
    register(<u32>port, new NetEvents(this, q, what));
    return port;
  }

  // Reads the backend's parameters, sets up rings, buffers and event
  // channels of every queue, writes the handshake keys and waits for the
  // backend to connect. Returns null, or why the device cannot be used.
  connect(): string | null {
    const be = this.info.backendPath;
    const dom = this.info.backendId;
    if (!xenbus.readFeature(be, "feature-rx-copy")) return this.fail("the backend lacks feature-rx-copy (required)");
    const mac = xs.read(this.info.frontendPath + "/mac");
    if (mac.error !== null || !parseMac(mac.text(), this.mac)) return this.fail("no usable mac key");
    const mtu = xenbus.readInt(be, "mtu", 1500);
    this.mtu = mtu >= 68 && mtu <= <i64>(N.XEN_NETIF_MAX_TX_SIZE - ETH_HLEN) ? <i32>mtu : 1500;
    const ip = xs.read(be + "/ip");
    if (ip.error === null) this.ip = ip.text();
    this.split = xenbus.readFeature(be, "feature-split-event-channels");
    this.sg = xenbus.readFeature(be, "feature-sg");
    const offered = xenbus.readInt(be, "multi-queue-max-queues", 1);
    const count = offered > <i64>MAX_QUEUES ? MAX_QUEUES : (offered < 1 ? 1 : <i32>offered);
    if (this.sg) {
      this.rxMax = ETH_HLEN + this.mtu > <i32>PAGE_SIZE ? ETH_HLEN + this.mtu : <i32>PAGE_SIZE;
      this.rxFrame = heap.alloc(<usize>this.rxMax);
    }

    this.granted = true;
    for (let i = 0; i < count; i++) {
      const q = new NetQueue(i, count == 1 ? BUFFERS_ONE_QUEUE : BUFFERS_PER_QUEUE);
      this.queues.push(q);
      if (!q.grant(dom)) return this.fail("out of grant references");
    }
    for (let i = 0; i < count; i++) {
      const q = this.queues[i];
      const tx = this.bindPort(q, this.split ? EV_TX : EV_TX | EV_RX);
      if (tx < 0) return this.fail("cannot allocate an event channel (" + tx.toString() + ")");
      q.txPort = q.rxPort = <u32>tx;
      if (this.split) {
        const rx = this.bindPort(q, EV_RX);
        if (rx < 0) return this.fail("cannot allocate an event channel (" + rx.toString() + ")");
        q.rxPort = <u32>rx;
      }
      for (let b = 0; b < q.buffers; b++) q.postRx(b);
      q.rx.pushRequests();
    }

    const err = xs.transact(new Handshake(this));
    if (err !== null) return this.fail("xenstore handshake failed: " + err);
    const state = xenbus.waitForState(be, xenbus.stateBit(XB.XenbusStateConnected) | xenbus.stateBit(XB.XenbusStateClosing) | xenbus.stateBit(XB.XenbusStateClosed), CONNECT_TIMEOUT_NS);
    if (state != XB.XenbusStateConnected) return this.fail("the backend did not connect (state " + state.toString() + ")");
    this.connected = true;
    registerClosable(new Shutdown(this));
    // Frames may have arrived while we waited for the backend (their event
    // found us not yet connected): take them, which also re-arms rsp_event.
    for (let i = 0; i < count && this.broken === null; i++) {
      const q = this.queues[i];
      this.pollQueue(q, EV_TX | EV_RX);
      notify(q.txPort);
      if (q.rxPort != q.txPort) notify(q.rxPort);
    }
    return null;
  }

  // The queue for a frame: a flow hash of the IPv4 addresses and, for UDP
  // and TCP, the ports; anything else goes on queue 0.
  private pickQueue(frame: usize, len: i32): i32 {
    const n = this.queues.length;
    if (n == 1 || len < ETH_HLEN + 20 || load<u8>(frame + 12) != 0x08 || load<u8>(frame + 13) != 0) return 0;
    const ip = frame + <usize>ETH_HLEN;
    let h: u32 = load<u32>(ip + 12) ^ load<u32>(ip + 16);
    const hlen = <i32>(load<u8>(ip) & 15) * 4;
    const proto = load<u8>(ip + 9);
    if ((proto == 17 || proto == 6) && (load<u16>(ip + 6) & 0xff3f) == 0 && ETH_HLEN + hlen + 4 <= len) h ^= load<u32>(ip + <usize>hlen);
    h ^= h >> 16;
    h ^= h >> 8;
    return <i32>((h & 0xff) % <u32>n);
  }

  // The longest frame send() takes: the Ethernet header plus the vif's mtu,
  // and no more than a page unless the backend takes multi-slot frames.
  maxFrame(): i32 {
    const frame = ETH_HLEN + this.mtu;
    return this.sg || frame <= <i32>PAGE_SIZE ? frame : <i32>PAGE_SIZE;
  }

  // Sends one Ethernet frame. Returns false (and counts a drop) when the
  // device is not usable, the frame is too large, or every buffer of its
  // queue is in flight: a full ring pushes back on the sender instead of
  // queueing.
  send(frame: usize, len: i32): bool {
    if (!this.connected || this.broken !== null) return false;
    if (len <= 0 || len > this.maxFrame()) { this.stats.txDropped++; return false; }
    const q = this.queues[this.pickQueue(frame, len)];
    this.collectTx(q);
    if (this.broken !== null) return false;
    const slots = (len + <i32>PAGE_SIZE - 1) / <i32>PAGE_SIZE;
    if (q.txFree.length < slots || q.tx.freeRequests() < <u32>slots) { this.stats.txDropped++; return false; }
    for (let i = 0; i < slots; i++) {
      const id = q.txFree.pop();
      const at = i * <i32>PAGE_SIZE;
      const chunk = min(len - at, <i32>PAGE_SIZE);
      q.txBusy[id] = true;
      memory.copy(q.txPages + <usize>id * PAGE_SIZE, frame + <usize>at, chunk);
      const slot = q.tx.slot(q.tx.reqProdPvt++);
      store<u32>(slot + N.NETIF_TX_REQ_GREF, <u32>q.txGrants[id]);
      store<u16>(slot + N.NETIF_TX_REQ_OFFSET, 0);
      store<u16>(slot + N.NETIF_TX_REQ_FLAGS, i < slots - 1 ? N.NETTXF_more_data : 0);
      store<u16>(slot + N.NETIF_TX_REQ_ID, <u16>id);
      store<u16>(slot + N.NETIF_TX_REQ_SIZE, <u16>(i == 0 ? len : chunk));
    }
    if (q.tx.pushRequests()) notify(q.txPort);
    this.stats.txFrames++;
    q.txFrames++;
    return true;
  }

  // Takes TX completions: the buffers become free again.
  private collectTx(q: NetQueue): void {
    for (;;) {
      const prod = q.tx.responseProducer();
      if (prod < 0) { this.fail("TX response producer ran ahead of our requests"); return; }
      while (q.tx.rspCons != <u32>prod) {
        memory.copy(this.rsp, q.tx.slot(q.tx.rspCons), N.NETIF_TX_RESPONSE_SIZE);
        q.tx.rspCons++;
        const id = <i32>load<u16>(this.rsp + N.NETIF_TX_RSP_ID);
        const status = <i32>load<i16>(this.rsp + N.NETIF_TX_RSP_STATUS);
        if (status == N.NETIF_RSP_NULL) continue; // padding after an extra-info request
        if (id >= q.buffers || !q.txBusy[id]) { this.fail("TX response for id " + id.toString() + ", which is not in flight"); return; }
        if (status != N.NETIF_RSP_OKAY) this.stats.txErrors++;
        q.txBusy[id] = false;
        q.txFree.push(id);
      }
      if (!q.tx.finalCheckForResponses()) return;
    }
  }

  // Consumes the response at rsp_cons into this.rsp and returns the buffer
  // posted at that index, or -1 (broken) if none was.
  private takeSlot(q: NetQueue, n: i32): i32 {
    const index = q.rx.rspCons;
    memory.copy(this.rsp, q.rx.slot(index), N.NETIF_RX_RESPONSE_SIZE);
    q.rx.rspCons++;
    const posted = q.rxIdAt[index & (N.NET_RX_RING_SIZE - 1)];
    if (!q.rxPosted[posted]) { this.fail("RX response at an index with no request"); return -1; }
    q.rxPosted[posted] = false;
    this.chain[n] = posted;
    return posted;
  }

  // Checks the data slot in this.rsp (its buffer: `posted`). Returns its
  // size (<= 0: the backend reports an error), or -1 with the device broken.
  private dataSlot(posted: i32): i32 {
    const id = <i32>load<u16>(this.rsp + N.NETIF_RX_RSP_ID);
    const offset = <i32>load<u16>(this.rsp + N.NETIF_RX_RSP_OFFSET);
    const status = <i32>load<i16>(this.rsp + N.NETIF_RX_RSP_STATUS);
    if (id != posted) { this.fail("RX response id " + id.toString() + " where " + posted.toString() + " was posted"); return -1; }
    if (status > 0 && offset + status > <i32>PAGE_SIZE) {
      this.fail("RX offset " + offset.toString() + " + size " + status.toString() + " leaves the page");
      return -1;
    }
    return status <= 0 ? 0 : status;
  }

  // Takes one frame (all its slots) from `q`, up to the producer `prod`,
  // hands it on and re-posts its buffers (not yet published). Returns false
  // when the device broke.
  private takeRxFrame(q: NetQueue, prod: u32): bool {
    const first = this.takeSlot(q, 0);
    if (first < 0) return false;
    const flags = <i32>load<u16>(this.rsp + N.NETIF_RX_RSP_FLAGS);
    const status = <i32>load<i16>(this.rsp + N.NETIF_RX_RSP_STATUS);
    const size = this.dataSlot(first);
    if (size < 0) return false;
    let n = 1;
    let good = size > 0;
    let frame = q.rxPages + <usize>first * PAGE_SIZE + <usize>load<u16>(this.rsp + N.NETIF_RX_RSP_OFFSET);
    let len = size;
    if (!this.sg) {
      // Neither scatter-gather nor GSO negotiated: a multi-slot frame is a
      // protocol violation; its remaining slots are dropped with it.
      if (flags & (N.NETRXF_more_data | N.NETRXF_extra_info)) good = false;
    } else {
      if (flags & N.NETRXF_extra_info) {
        // netif_extra_info slots: no id, but each used a posted buffer.
        for (let more = true; more; ) {
          if (q.rx.rspCons == prod) { this.fail("RX extra-info slot runs past the response producer"); return false; }
          if (n > MAX_RX_EXTRAS) { this.fail("RX runaway extra-info chain"); return false; }
          if (this.takeSlot(q, n++) < 0) return false;
          const type = <i32>load<u8>(this.rsp + N.NETIF_EXTRA_TYPE);
          if (type == N.XEN_NETIF_EXTRA_TYPE_NONE || type >= N.XEN_NETIF_EXTRA_TYPE_MAX) good = false;
          more = (load<u8>(this.rsp + N.NETIF_EXTRA_FLAGS) & N.XEN_NETIF_EXTRA_FLAG_MORE) != 0;
        }
      }
      let data = 1;
      let oversize = false;
      for (let more = (flags & N.NETRXF_more_data) != 0; more; ) {
        if (q.rx.rspCons == prod) { this.fail("RX chain runs past the response producer"); return false; }
        if (++data > N.XEN_NETIF_NR_SLOTS_MIN) { this.fail("RX runaway chain of more than " + N.XEN_NETIF_NR_SLOTS_MIN.toString() + " slots"); return false; }
        const posted = this.takeSlot(q, n++);
        if (posted < 0) return false;
        const part = this.dataSlot(posted);
        if (part < 0) return false;
        more = (load<u16>(this.rsp + N.NETIF_RX_RSP_FLAGS) & N.NETRXF_more_data) != 0;
        if (part == 0) { good = false; continue; }
        if (len + part > this.rxMax) { oversize = true; continue; }
        if (!good || oversize) continue;
        if (frame != this.rxFrame) { memory.copy(this.rxFrame, frame, <usize>len); frame = this.rxFrame; }
        memory.copy(this.rxFrame + <usize>len, q.rxPages + <usize>posted * PAGE_SIZE + <usize>load<u16>(this.rsp + N.NETIF_RX_RSP_OFFSET), <usize>part);
        len += part;
      }
      if (data > 1) this.stats.rxMultiSlot++;
      if (oversize) { this.stats.rxOversize++; good = false; }
    }
    if (good) {
      this.stats.rxFrames++;
      q.rxFrames++;
      const h = this.handler;
      if (h !== null) h.onFrame(frame, len, flags & RX_CSUM_FLAGS);
    } else {
      this.stats.rxDropped++;
    }
    // The handler may have closed the device; otherwise give the buffers back.
    if (this.broken !== null || !this.connected) return this.broken === null;
    for (let i = 0; i < n; i++) q.postRx(this.chain[i]);
    return true;
  }

  // Takes received frames and hands them to the handler, then re-posts
  // their buffers.
  private collectRx(q: NetQueue): void {
    let reposted = false;
    for (;;) {
      const prod = q.rx.responseProducer();
      if (prod < 0) { this.fail("RX response producer ran ahead of our requests"); return; }
      while (q.rx.rspCons != <u32>prod) {
        if (!this.takeRxFrame(q, <u32>prod)) return;
        if (!this.connected) return;
        reposted = true;
      }
      // Give the buffers back before looking again: under steady traffic
      // this loop need not end, and the backend must not run out of them.
      if (reposted && q.rx.pushRequests()) notify(q.rxPort);
      reposted = false;
      if (!q.rx.finalCheckForResponses()) break;
    }
  }

  // Runs on every event on one of a queue's channels: `what` says which
  // ring(s) it is for (EV_TX, EV_RX or both without split channels).
  pollQueue(q: NetQueue, what: i32): void {
    if (this.broken !== null || !this.connected) return;
    if (what & EV_TX) this.collectTx(q);
    if ((what & EV_RX) && this.broken === null) this.collectRx(q);
  }

  // Every queue, both rings.
  poll(): void {
    for (let i = 0; i < this.queues.length; i++) this.pollQueue(this.queues[i], EV_TX | EV_RX);
  }

  // Closing handshake (Closing, then Closed once the backend follows) and
  // release of the grants the backend no longer uses. Also what a broken
  // device gets, once (see fail()).
  close(): void {
    if (!this.granted) return;
    this.granted = false;
    this.connected = false;
    const dir = this.info.frontendPath;
    xenbus.switchState(dir, XB.XenbusStateClosing);
    xenbus.waitForState(this.info.backendPath, xenbus.stateBit(XB.XenbusStateClosing) | xenbus.stateBit(XB.XenbusStateClosed), 5_000_000_000);
    xenbus.switchState(dir, XB.XenbusStateClosed);
    for (let i = 0; i < this.queues.length; i++) this.queues[i].release();
  }
}

function hexDigit(c: i32): i32 {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

// "00:16:3e:01:02:03" -> 6 bytes. Returns false if malformed.
export function parseMac(text: string, out: StaticArray<u8>): bool {
  if (text.length != 17) return false;
  for (let i = 0; i < 6; i++) {
    const hi = hexDigit(text.charCodeAt(i * 3)), lo = hexDigit(text.charCodeAt(i * 3 + 1));
    if (hi < 0 || lo < 0 || (i < 5 && text.charCodeAt(i * 3 + 2) != 58)) return false;
    out[i] = <u8>(hi * 16 + lo);
  }
  return true;
}

// Finds the vifs the toolstack gave us and connects each.
export function connectAll(): Array<Netfront> {
  const out = new Array<Netfront>();
  const ids = xenbus.listDevices("vif");
  for (let i = 0; i < ids.length; i++) {
    const info = xenbus.deviceInfo("vif", ids[i]);
    if (info === null) { log("netfront: " + xenbus.lastError); continue; }
    const dev = new Netfront(info);
    const err = dev.connect();
    if (err === null) {
      log("netfront " + ids[i] + ": connected, mac " + dev.macString() + (dev.ip.length ? ", ip " + dev.ip : ""));
      log("netfront " + ids[i] + ": " + dev.features());
    }
    out.push(dev);
  }
  return out;
}
