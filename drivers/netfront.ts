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
//  - feature-gso-tcpv4 (with sg): send() takes a TCP/IPv4 frame of up to
//    64 KiB with a segment size; it goes with an extra-info slot
//    (XEN_NETIF_EXTRA_TYPE_GSO, XEN_NETIF_GSO_TYPE_TCPV4) after its first
//    slot, and the backend's side cuts it into segments (or, delivering it
//    to dom0's own stack, does not need to). netback answers the extra
//    slot with NETIF_RSP_NULL.
//
// Buffers are granted once per connection: per queue, RX pages the backend
// copies received frames into (writable grants) and TX pages we copy
// outgoing frames into (read-only grants). An RX buffer's grant is paused
// as soon as its response is taken (as Linux ends RX grants before use), so
// the backend cannot change a frame while the app reads it, and resumed
// when the buffer is posted again. Responses are copied out of the ring
// and checked before use: a backend that answers with an id we did not
// hand out, an offset/size outside the page, a producer that runs ahead or
// a chain of slots that runs past the published responses marks the device
// broken, and it is closed so that the backend lets go of our pages and the
// grants are revoked; the guest carries on without it. Frames longer than
// the vif's MTU are dropped and counted (rxOversize), with or without sg;
// a multi-slot frame without feature-sg is consumed whole and dropped.
//
// The frame handler follows the runtime's rule (runtime/handler.ts): while
// it runs (it may block), this device's received frames stay in the ring,
// on every queue; TX completions are still taken. Scratch space (the copy
// of a response, a frame's slots, the reassembly buffer) is per queue and
// per direction. The device's life after the handshake (the backend closing
// or coming back, hot-plug) is drivers/frontend.ts's.
import { log } from "../runtime/log";
import * as N from "../runtime/abi/netif";
import * as XB from "../runtime/abi/xenbus";
import { allocPages, PAGE_SIZE } from "../runtime/pages";
import { EventHandler, allocUnbound, register, unregister, notify, close as closePort } from "../runtime/events";
import { Handler } from "../runtime/handler";
import { grantPage, endAccess, pauseAccess, resumeAccess } from "../grant-tables/index";
import { Closable, registerClosable } from "../runtime/lifecycle";
import { Task, defer } from "../runtime/loop";
import * as xs from "../xenstore/client";
import { TransactionBody } from "../xenstore/client";
import * as xenbus from "../xenstore/xenbus";
import { FrontRing } from "./front-ring";
import { Frontend, DeviceSet, DeviceHandler, DeviceNews } from "./frontend";
import { registerStats } from "../runtime/stats";
import { NetfrontStatsSource } from "./net-stats";

const RESPONSE_COPY_SIZE: usize = 16;  // netif_rx_response, netif_tx_response, netif_extra_info all fit
const BUFFERS_ONE_QUEUE: i32 = 64;  // RX and TX buffers with one queue
const BUFFERS_PER_QUEUE: i32 = 32;  // and per queue with several
export const MAX_QUEUES: i32 = 4;
const CONNECT_TIMEOUT_NS: u64 = 30_000_000_000;
const ETH_HLEN: i32 = 14;
// The largest GSO frame send() takes: 16 pages' worth within netif.h's
// XEN_NETIF_MAX_TX_SIZE.
export const GSO_MAX_FRAME: i32 = 65535;
// Slots one RX frame may use: the first, its extra-info slots, the rest of its data.
const MAX_RX_EXTRAS: i32 = N.XEN_NETIF_EXTRA_TYPE_MAX - 1;
const MAX_RX_SLOTS: i32 = N.XEN_NETIF_NR_SLOTS_MIN + MAX_RX_EXTRAS;
// The RX checksum flags handed on with a frame.
export const RX_CSUM_FLAGS: i32 = N.NETRXF_data_validated | N.NETRXF_csum_blank;

// Receives every frame, as bytes valid only during the call. `flags` holds
// the backend's RX checksum flags (RX_CSUM_FLAGS): NETRXF_data_validated,
// the L4 checksum was verified (or the frame is local); NETRXF_csum_blank,
// the L4 checksum field holds only the pseudo-header sum (a partial
// checksum, from a local sender): it must not be verified. onLinkUp and
// onLinkDown follow the device's connection (from the loop). onTxReady
// follows a send() that was refused for want of TX buffers, once the
// backend has given some back.
export abstract class FrameHandler extends Handler {
  abstract onFrame(frame: usize, len: i32, flags: i32): void;
  onLinkUp(): void {}
  onLinkDown(): void {}
  onTxReady(): void {}
}

// Told when a vif connects (at start, after a reconnect, newly attached)
// and when it loses its backend: see connectVifs.
export class VifHandler extends DeviceHandler<Netfront> {}

export class NetfrontStats {
  rxFrames: u64 = 0;
  rxBytes: u64 = 0;
  rxDropped: u64 = 0;    // errors reported by the backend, frames we could not take
  rxOversize: u64 = 0;   // of those: frames longer than the vif's MTU
  rxMultiSlot: u64 = 0;  // frames that came in more than one data slot (feature-sg)
  txFrames: u64 = 0;
  txBytes: u64 = 0;
  txDropped: u64 = 0;    // not connected, no free buffer or ring slot (back-pressure), or too large
  txErrors: u64 = 0;     // the backend answered with an error status
  txGso: u64 = 0;        // of txFrames: GSO frames (several TCP segments each)
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
  // Scratch, per queue and direction: each response is copied here out of
  // the shared ring before any check or use (the backend could change the
  // slot between our check and our use); the buffers of the frame being
  // taken; the reassembly buffer (feature-sg).
  rxRsp: usize = heap.alloc(RESPONSE_COPY_SIZE);
  txRsp: usize = heap.alloc(RESPONSE_COPY_SIZE);
  chain: StaticArray<i32> = new StaticArray<i32>(MAX_RX_SLOTS);
  rxFrame: usize = 0;
  rxFrameSize: i32 = 0;
  rxDeferred: bool = false;    // responses left in the ring while the frame handler ran

  constructor(public index: i32, public buffers: i32) {
    this.tx = new FrontRing(allocPages(1), N.NET_TX_RING_SIZE, N.NETIF_TX_REQUEST_SIZE);
    this.rx = new FrontRing(allocPages(1), N.NET_RX_RING_SIZE, N.NETIF_RX_REQUEST_SIZE);
    this.rxGrants = new StaticArray<i32>(buffers);
    this.txGrants = new StaticArray<i32>(buffers);
    this.rxPosted = new StaticArray<bool>(buffers);
    this.txBusy = new StaticArray<bool>(buffers);
    this.rxPages = allocPages(buffers);
    this.txPages = allocPages(buffers);
    for (let i = 0; i < buffers; i++) { this.rxGrants[i] = -1; this.txGrants[i] = -1; }
  }

  // Fresh rings, and the rings and buffers granted to `dom` (pages are kept
  // across reconnects). Returns false when out of grant references.
  grant(dom: u16): bool {
    this.tx.init();
    this.rx.init();
    this.txPort = this.rxPort = 0;
    this.rxDeferred = false;
    this.txFree.length = 0;
    this.txRef = grantPage(dom, this.tx.page, false);
    this.rxRef = grantPage(dom, this.rx.page, false);
    let ok = this.txRef >= 0 && this.rxRef >= 0;
    for (let i = 0; i < this.buffers; i++) {
      this.rxGrants[i] = grantPage(dom, this.rxPages + <usize>i * PAGE_SIZE, false);
      this.txGrants[i] = grantPage(dom, this.txPages + <usize>i * PAGE_SIZE, true);
      this.rxPosted[i] = false;
      this.txBusy[i] = false;
      this.txFree.push(this.buffers - 1 - i);
      if (this.rxGrants[i] < 0 || this.txGrants[i] < 0) ok = false;
    }
    return ok;
  }

  closePorts(): void {
    if (this.txPort != 0) closePort(this.txPort);
    if (this.rxPort != 0 && this.rxPort != this.txPort) closePort(this.rxPort);
    this.txPort = this.rxPort = 0;
  }

  // Ends the grants the backend no longer uses; returns how many it still maps.
  endGrants(): i32 {
    let left = endRef(this, 0) + endRef(this, 1);
    for (let i = 0; i < this.buffers; i++) left += endOne(this.rxGrants, i) + endOne(this.txGrants, i);
    return left;
  }

  // Hands buffer `id` to the backend again: its grant resumed, a request posted.
  postRx(id: i32): void {
    resumeAccess(<u32>this.rxGrants[id], false);
    const index = this.rx.reqProdPvt++;
    const slot = this.rx.slot(index);
    store<u16>(slot + N.NETIF_RX_REQ_ID, <u16>id);
    store<u32>(slot + N.NETIF_RX_REQ_GREF, <u32>this.rxGrants[id]);
    this.rxIdAt[index & (N.NET_RX_RING_SIZE - 1)] = id;
    this.rxPosted[id] = true;
  }
}

// Ends a queue's TX (which = 0) or RX ring grant; 1 if the backend still maps it.
function endRef(q: NetQueue, which: i32): i32 {
  const ref = which == 0 ? q.txRef : q.rxRef;
  if (ref < 0) return 0;
  if (!endAccess(<u32>ref)) return 1;
  if (which == 0) q.txRef = -1;
  else q.rxRef = -1;
  return 0;
}

// Ends refs[i] unless the backend still maps it (then 1).
export function endOne(refs: StaticArray<i32>, i: i32): i32 {
  const ref = refs[i];
  if (ref < 0) return 0;
  if (!endAccess(<u32>ref)) return 1;
  refs[i] = -1;
  return 0;
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

// The frame handler hears of the link from the loop (it may be running).
class LinkNews extends Task {
  constructor(public handler: FrameHandler, public up: bool) { super(); }
  ready(): bool { return !this.handler.running; }
  run(): void {
    const h = this.handler;
    h.running = true;
    if (this.up) h.onLinkUp();
    else h.onLinkDown();
    h.running = false;
  }
}

export class Netfront extends Frontend {
  mac: StaticArray<u8> = new StaticArray<u8>(6);
  ip: string = "";           // the backend's `ip` key (xl vif ip=), or ""
  mtu: i32 = 1500;
  stats: NetfrontStats = new NetfrontStats();
  handler: FrameHandler | null = null;

  // What was negotiated (valid once connected).
  split: bool = false;       // feature-split-event-channels
  sg: bool = false;          // feature-sg
  gso: bool = false;         // feature-gso-tcpv4 (with sg): send() takes TCP frames of up to GSO_MAX_FRAME bytes
  queues: Array<NetQueue> = new Array<NetQueue>();     // this connection's
  queuePool: Array<NetQueue> = new Array<NetQueue>();  // every queue made so far
  rxMax: i32 = <i32>PAGE_SIZE;  // the longest frame we reassemble (feature-sg)
  txWaiting: bool = false;   // send() refused a frame for want of buffers: tell the handler when there are some

  constructor(info: xenbus.DeviceInfo) {
    super(info);
    registerClosable(new Shutdown(this));
    registerStats(new NetfrontStatsSource(this));
  }

  driverName(): string { return "netfront"; }

  // Connects (the handshake), for apps that build a Netfront themselves;
  // connectVifs() does this for every vif. Returns null or why it failed.
  connect(): string | null { return this.start(); }

  // The first queue's port (its only one without split event channels).
  get port(): u32 { return this.queues.length > 0 ? this.queues[0].txPort : 0; }

  // The MAC as a 48-bit number (network order in the low 6 bytes).
  macAddress(): u64 {
    let m: u64 = 0;
    for (let i = 0; i < 6; i++) m = (m << 8) | <u64>this.mac[i];
    return m;
  }

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
    return this.queues.length.toString() + (this.queues.length == 1 ? " queue" : " queues") + (this.split ? ", split event channels" : "") + (this.sg ? ", sg" : "") + (this.gso ? ", gso" : "");
  }

  private bindPort(q: NetQueue, what: i32): i64 {
    const port = allocUnbound(this.info.backendId);
    if (port < 0) return port;
    register(<u32>port, new NetEvents(this, q, what));
    return port;
  }

  // Waits for the backend to be ready (InitWait: it has written its
  // features), reads its parameters, sets up rings, buffers and event
  // channels of every queue, writes the handshake keys and waits for the
  // backend to connect. Returns null, or why the device cannot be used.
  protected setUp(): string | null {
    const be = this.info.backendPath;
    const dom = this.info.backendId;
    const ready = xenbus.stateBit(XB.XenbusStateInitWait) | xenbus.stateBit(XB.XenbusStateInitialised) | xenbus.stateBit(XB.XenbusStateConnected);
    const gone = xenbus.stateBit(XB.XenbusStateClosing) | xenbus.stateBit(XB.XenbusStateClosed);
    const state = xenbus.waitForState(be, ready | gone, CONNECT_TIMEOUT_NS);
    if (state < 0 || !(xenbus.stateBit(state) & ready)) return "the backend is not ready (state " + state.toString() + ")";
    if (!xenbus.readFeature(be, "feature-rx-copy")) return "the backend lacks feature-rx-copy (required)";
    const mac = xs.read(this.info.frontendPath + "/mac");
    if (mac.error !== null || !parseMac(mac.text(), this.mac)) return "no usable mac key";
    const mtu = xenbus.readInt(be, "mtu", 1500);
    this.mtu = mtu >= 68 && mtu <= <i64>(N.XEN_NETIF_MAX_TX_SIZE - ETH_HLEN) ? <i32>mtu : 1500;
    const ip = xs.read(be + "/ip");
    this.ip = ip.error === null ? ip.text() : "";
    this.split = xenbus.readFeature(be, "feature-split-event-channels");
    this.sg = xenbus.readFeature(be, "feature-sg");
    this.gso = this.sg && xenbus.readFeature(be, "feature-gso-tcpv4");
    const offered = xenbus.readInt(be, "multi-queue-max-queues", 1);
    const count = offered > <i64>MAX_QUEUES ? MAX_QUEUES : (offered < 1 ? 1 : <i32>offered);
    this.rxMax = this.sg && ETH_HLEN + this.mtu > <i32>PAGE_SIZE ? ETH_HLEN + this.mtu : <i32>PAGE_SIZE;

    // Queues, their pages and buffers are made once and used again by
    // every later connection (whatever its queue count): reconnecting
    // allocates nothing.
    while (this.queuePool.length < count) this.queuePool.push(new NetQueue(this.queuePool.length, count == 1 ? BUFFERS_ONE_QUEUE : BUFFERS_PER_QUEUE));
    this.queues.length = 0;
    for (let i = 0; i < count; i++) this.queues.push(this.queuePool[i]);
    this.granted = true;
    for (let i = 0; i < count; i++) {
      const q = this.queues[i];
      if (this.sg && q.rxFrameSize < this.rxMax) {
        q.rxFrame = heap.alloc(<usize>this.rxMax);
        q.rxFrameSize = this.rxMax;
      }
      if (!q.grant(dom)) return "out of grant references";
    }
    for (let i = 0; i < count; i++) {
      const q = this.queues[i];
      const tx = this.bindPort(q, this.split ? EV_TX : EV_TX | EV_RX);
      if (tx < 0) return "cannot allocate an event channel (" + tx.toString() + ")";
      q.txPort = q.rxPort = <u32>tx;
      if (this.split) {
        const rx = this.bindPort(q, EV_RX);
        if (rx < 0) return "cannot allocate an event channel (" + rx.toString() + ")";
        q.rxPort = <u32>rx;
      }
      for (let b = 0; b < q.buffers; b++) q.postRx(b);
      q.rx.pushRequests();
    }

    const err = xs.transact(new Handshake(this));
    if (err !== null) return "xenstore handshake failed: " + err;
    const reached = xenbus.waitForState(be, xenbus.stateBit(XB.XenbusStateConnected) | gone, CONNECT_TIMEOUT_NS);
    if (reached != XB.XenbusStateConnected) return "the backend did not connect (state " + reached.toString() + ")";
    this.connected = true;
    // Frames may have arrived while we waited for the backend (their event
    // found us not yet connected): take them, which also re-arms rsp_event.
    for (let i = 0; i < count && this.connected; i++) {
      const q = this.queues[i];
      this.pollQueue(q, EV_TX | EV_RX);
      notify(q.txPort);
      if (q.rxPort != q.txPort) notify(q.rxPort);
    }
    return this.connected ? null : this.broken;
  }

  // Frames in flight are lost either way (the network may lose them).
  protected stop(why: string, hold: bool): void {
    for (let i = 0; i < this.queues.length; i++) {
      const q = this.queues[i];
      if (q.txPort != 0) unregister(q.txPort);
      if (q.rxPort != 0 && q.rxPort != q.txPort) unregister(q.rxPort);
    }
  }

  protected closePorts(): void {
    for (let i = 0; i < this.queues.length; i++) this.queues[i].closePorts();
  }

  protected forgetPorts(): void {
    for (let i = 0; i < this.queues.length; i++) this.queues[i].txPort = this.queues[i].rxPort = 0;
  }

  protected endGrants(): i32 {
    let left = 0;
    for (let i = 0; i < this.queues.length; i++) left += this.queues[i].endGrants();
    return left;
  }

  protected up(): void {
    log("netfront " + this.info.id + ": connected, mac " + this.macString() + (this.ip.length ? ", ip " + this.ip : ""));
    log("netfront " + this.info.id + ": " + this.features());
    const h = this.handler;
    if (h !== null) defer(new LinkNews(h, true));
    vifs.news.post(this, true, "");
  }

  protected down(why: string): void {
    const h = this.handler;
    if (h !== null) defer(new LinkNews(h, false));
    vifs.news.post(this, false, why);
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
  // queueing. `txFlags` may carry NETTXF_data_validated, for a frame whose
  // transport checksum the sender computed itself (dom0 then does not
  // verify it again). With `gsoSize` > 0 (only if `gso` was negotiated),
  // `frame` is a TCP/IPv4 frame of up to GSO_MAX_FRAME bytes to be cut into
  // segments of `gsoSize` payload bytes.
  send(frame: usize, len: i32, txFlags: i32 = 0, gsoSize: i32 = 0): bool {
    const limit = gsoSize > 0 ? (this.gso ? GSO_MAX_FRAME : 0) : this.maxFrame();
    if (!this.connected || len <= 0 || len > limit || gsoSize > 0xffff) { this.stats.txDropped++; return false; }
    const q = this.queues[this.pickQueue(frame, len)];
    this.collectTx(q);
    if (!this.connected) { this.stats.txDropped++; return false; }
    const slots = (len + <i32>PAGE_SIZE - 1) / <i32>PAGE_SIZE;
    const extra = gsoSize > 0 ? 1 : 0;
    if (q.txFree.length < slots || q.tx.freeRequests() < <u32>(slots + extra)) { this.stats.txDropped++; this.txWaiting = true; return false; }
    for (let i = 0; i < slots; i++) {
      const id = q.txFree.pop();
      const at = i * <i32>PAGE_SIZE;
      const chunk = min(len - at, <i32>PAGE_SIZE);
      q.txBusy[id] = true;
      memory.copy(q.txPages + <usize>id * PAGE_SIZE, frame + <usize>at, chunk);
      const slot = q.tx.slot(q.tx.reqProdPvt++);
      store<u32>(slot + N.NETIF_TX_REQ_GREF, <u32>q.txGrants[id]);
      store<u16>(slot + N.NETIF_TX_REQ_OFFSET, 0);
      const first = i == 0 ? (txFlags & N.NETTXF_data_validated) | (extra ? N.NETTXF_extra_info : 0) : 0;
      store<u16>(slot + N.NETIF_TX_REQ_FLAGS, <u16>((i < slots - 1 ? N.NETTXF_more_data : 0) | first));
      store<u16>(slot + N.NETIF_TX_REQ_ID, <u16>id);
      store<u16>(slot + N.NETIF_TX_REQ_SIZE, <u16>(i == 0 ? len : chunk));
      if (i == 0 && extra) {
        // The GSO extra-info slot follows the first request (netif.h "Guest transmit").
        const x = q.tx.slot(q.tx.reqProdPvt++);
        memory.fill(x, 0, N.NETIF_TX_REQUEST_SIZE);
        store<u8>(x + N.NETIF_EXTRA_TYPE, <u8>N.XEN_NETIF_EXTRA_TYPE_GSO);
        store<u16>(x + N.NETIF_EXTRA_GSO_SIZE, <u16>gsoSize);
        store<u8>(x + N.NETIF_EXTRA_GSO_TYPE, <u8>N.XEN_NETIF_GSO_TYPE_TCPV4);
        this.stats.txGso++;
      }
    }
    if (q.tx.pushRequests()) notify(q.txPort);
    this.stats.txFrames++;
    this.stats.txBytes += <u64>len;
    q.txFrames++;
    return true;
  }

  // Takes TX completions: the buffers become free again.
  private collectTx(q: NetQueue): void {
    for (;;) {
      const prod = q.tx.responseProducer();
      if (prod < 0) { this.fail("TX response producer ran ahead of our requests"); return; }
      while (q.tx.rspCons != <u32>prod) {
        const rsp = q.txRsp;
        memory.copy(rsp, q.tx.slot(q.tx.rspCons), N.NETIF_TX_RESPONSE_SIZE);
        q.tx.rspCons++;
        const id = <i32>load<u16>(rsp + N.NETIF_TX_RSP_ID);
        const status = <i32>load<i16>(rsp + N.NETIF_TX_RSP_STATUS);
        if (status == N.NETIF_RSP_NULL) continue; // padding after an extra-info request
        if (id >= q.buffers || !q.txBusy[id]) { this.fail("TX response for id " + id.toString() + ", which is not in flight"); return; }
        if (status != N.NETIF_RSP_OKAY) this.stats.txErrors++;
        q.txBusy[id] = false;
        q.txFree.push(id);
      }
      if (!q.tx.finalCheckForResponses()) return;
    }
  }

  // Consumes the response at rsp_cons into q.rxRsp, takes its buffer back
  // from the backend (the grant is paused until the buffer is posted again)
  // and returns it, or -1 (broken) if no buffer was posted at that index
  // or the backend still writes into it.
  private takeSlot(q: NetQueue, n: i32): i32 {
    const index = q.rx.rspCons;
    memory.copy(q.rxRsp, q.rx.slot(index), N.NETIF_RX_RESPONSE_SIZE);
    q.rx.rspCons++;
    const posted = q.rxIdAt[index & (N.NET_RX_RING_SIZE - 1)];
    if (!q.rxPosted[posted]) { this.fail("RX response at an index with no request"); return -1; }
    q.rxPosted[posted] = false;
    q.chain[n] = posted;
    if (!pauseAccess(<u32>q.rxGrants[posted])) { this.fail("RX buffer " + posted.toString() + " still in use by the backend after its response"); return -1; }
    return posted;
  }

  // Checks the data slot in q.rxRsp (its buffer: `posted`). Returns its
  // size (0: the backend reports an error), or -1 with the device broken.
  private dataSlot(q: NetQueue, posted: i32): i32 {
    const rsp = q.rxRsp;
    const id = <i32>load<u16>(rsp + N.NETIF_RX_RSP_ID);
    const offset = <i32>load<u16>(rsp + N.NETIF_RX_RSP_OFFSET);
    const status = <i32>load<i16>(rsp + N.NETIF_RX_RSP_STATUS);
    if (id != posted) { this.fail("RX response id " + id.toString() + " where " + posted.toString() + " was posted"); return -1; }
    if (status > 0 && offset + status > <i32>PAGE_SIZE) {
      this.fail("RX offset " + offset.toString() + " + size " + status.toString() + " leaves the page");
      return -1;
    }
    return status <= 0 ? 0 : status;
  }

  // Takes one frame (all its slots, with or without feature-sg) from `q`,
  // up to the producer `prod`, hands it on if it is good and re-posts its
  // buffers (not yet published). Returns false when the device broke.
  private takeRxFrame(q: NetQueue, prod: u32): bool {
    const first = this.takeSlot(q, 0);
    if (first < 0) return false;
    const flags = <i32>load<u16>(q.rxRsp + N.NETIF_RX_RSP_FLAGS);
    const size = this.dataSlot(q, first);
    if (size < 0) return false;
    let n = 1;
    let good = size > 0;
    let frame = q.rxPages + <usize>first * PAGE_SIZE + <usize>load<u16>(q.rxRsp + N.NETIF_RX_RSP_OFFSET);
    let len = size;
    if (flags & N.NETRXF_extra_info) {
      // netif_extra_info slots: no id, but each used a posted buffer.
      for (let more = true; more; ) {
        if (q.rx.rspCons == prod) { this.fail("RX extra-info slot runs past the response producer"); return false; }
        if (n > MAX_RX_EXTRAS) { this.fail("RX runaway extra-info chain"); return false; }
        if (this.takeSlot(q, n++) < 0) return false;
        const type = <i32>load<u8>(q.rxRsp + N.NETIF_EXTRA_TYPE);
        if (type == N.XEN_NETIF_EXTRA_TYPE_NONE || type >= N.XEN_NETIF_EXTRA_TYPE_MAX) good = false;
        more = (load<u8>(q.rxRsp + N.NETIF_EXTRA_FLAGS) & N.XEN_NETIF_EXTRA_FLAG_MORE) != 0;
      }
    }
    let data = 1;
    let oversize = false;
    for (let more = (flags & N.NETRXF_more_data) != 0; more; ) {
      if (q.rx.rspCons == prod) { this.fail("RX chain runs past the response producer"); return false; }
      if (++data > N.XEN_NETIF_NR_SLOTS_MIN) { this.fail("RX runaway chain of more than " + N.XEN_NETIF_NR_SLOTS_MIN.toString() + " slots"); return false; }
      const posted = this.takeSlot(q, n++);
      if (posted < 0) return false;
      const part = this.dataSlot(q, posted);
      if (part < 0) return false;
      more = (load<u16>(q.rxRsp + N.NETIF_RX_RSP_FLAGS) & N.NETRXF_more_data) != 0;
      // Without sg we never asked for multi-slot frames: consumed, dropped.
      if (part == 0 || !this.sg) { good = false; continue; }
      if (len + part > this.rxMax) { oversize = true; continue; }
      if (!good || oversize) continue;
      if (frame != q.rxFrame) { memory.copy(q.rxFrame, frame, <usize>len); frame = q.rxFrame; }
      memory.copy(q.rxFrame + <usize>len, q.rxPages + <usize>posted * PAGE_SIZE + <usize>load<u16>(q.rxRsp + N.NETIF_RX_RSP_OFFSET), <usize>part);
      len += part;
    }
    if (data > 1) this.stats.rxMultiSlot++;
    if (good && len > ETH_HLEN + this.mtu) oversize = true;
    if (oversize) { this.stats.rxOversize++; good = false; }
    if (good) {
      this.stats.rxFrames++;
      this.stats.rxBytes += <u64>len;
      q.rxFrames++;
      const h = this.handler;
      if (h !== null) {
        h.running = true;
        h.onFrame(frame, len, flags & RX_CSUM_FLAGS);
        h.running = false;
      }
    } else {
      this.stats.rxDropped++;
    }
    // The handler may have closed the device, or the backend gone meanwhile.
    if (!this.connected) return this.broken === null;
    for (let i = 0; i < n; i++) q.postRx(q.chain[i]);
    return true;
  }

  // Takes received frames and hands them to the handler, then re-posts
  // their buffers. While the handler runs (it blocked, and the loop came
  // back here), frames stay in the ring: taken once it returns.
  private collectRx(q: NetQueue): void {
    const h = this.handler;
    if (h !== null && h.running) { q.rxDeferred = true; return; }
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
  // ring(s) it is for (EV_TX, EV_RX or both without split channels). Then
  // takes the frames other queues left in their rings while the handler ran.
  pollQueue(q: NetQueue, what: i32): void {
    if (!this.connected) return;
    if (what & EV_TX) this.collectTx(q);
    if ((what & EV_RX) && this.connected) this.collectRx(q);
    const h = this.handler;
    if (h === null || h.running) return;
    for (let i = 0; i < this.queues.length && this.connected; i++) {
      const other = this.queues[i];
      if (!other.rxDeferred) continue;
      other.rxDeferred = false;
      this.collectRx(other);
    }
    if (this.txWaiting && this.connected && !h.running) {
      this.txWaiting = false;
      h.running = true;
      h.onTxReady();
      h.running = false;
    }
  }

  // Every queue, both rings.
  poll(): void {
    for (let i = 0; i < this.queues.length; i++) this.pollQueue(this.queues[i], EV_TX | EV_RX);
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

class VifSet extends DeviceSet {
  news: DeviceNews<Netfront> = new DeviceNews<Netfront>();
  constructor() { super("vif"); }
  protected create(info: xenbus.DeviceInfo): Frontend { return new Netfront(info); }
}

const vifs = new VifSet();

// Connects every vif the toolstack gave us (device/vif/<id>) and keeps
// following them: a vif whose backend goes away is torn down and
// reconnected when the backend returns; vifs attached later (`xl
// network-attach`) are connected too. `handler` (optional) hears of every
// connect and disconnect, from the loop. Returns every vif known now,
// connected or not (`broken` says why one is unusable).
export function connectVifs(handler: VifHandler | null = null): Array<Netfront> {
  if (handler !== null) vifs.news.listen(handler);
  vifs.scan();
  vifs.watch();
  vifs.news.deliverNow();
  const out = new Array<Netfront>();
  for (let i = 0; i < vifs.devices.length; i++) out.push(<Netfront>vifs.devices[i]);
  return out;
}

// The same as connectVifs() without a handler (the name older apps use).
export function connectAll(): Array<Netfront> {
  return connectVifs(null);
}
