// netfront: the network frontend (xen/include/public/io/netif.h,
// docs/misc/xenstore-paths, Linux netback's expectations). One event
// channel for both rings, copy-mode RX (request-rx-copy), no offloads:
// we send complete checksums and ask for them (feature-no-csum-offload).
//
// Buffers are granted once for the device's life: RX_BUFFERS pages the
// backend copies received frames into (writable grants), TX_BUFFERS pages
// we copy outgoing frames into (read-only grants). Responses are copied out
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
const RX_BUFFERS: i32 = 64;
const TX_BUFFERS: i32 = 64;
const CONNECT_TIMEOUT_NS: u64 = 30_000_000_000;
export const MAX_FRAME: i32 = 1514; // Ethernet header + MTU 1500

// Receives every frame, as bytes valid only during the call.
export abstract class FrameHandler {
  abstract onFrame(frame: usize, len: i32): void;
}

export class NetfrontStats {
  rxFrames: u64 = 0;
  rxDropped: u64 = 0;    // errors reported by the backend, frames we could not take
  txFrames: u64 = 0;
  txDropped: u64 = 0;    // no free buffer or ring slot (back-pressure), or too large
  txErrors: u64 = 0;     // the backend answered with an error status
}

class NetEvents extends EventHandler {
  constructor(public dev: Netfront) { super(); }
  onEvent(port: u32): void { this.dev.poll(); }
}

class Handshake extends TransactionBody {
  constructor(public dev: Netfront) { super(); }
  run(tx: u32): string | null {
    const d = this.dev;
    const dir = d.info.frontendPath;
    const keys = ["tx-ring-ref", "rx-ring-ref", "event-channel", "request-rx-copy", "feature-rx-notify", "feature-sg", "feature-no-csum-offload"];
    const values = [d.txRef.toString(), d.rxRef.toString(), d.port.toString(), "1", "1", "0", "1"];
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

  port: u32 = 0;
  txRef: i32 = -1;
  rxRef: i32 = -1;
  tx: FrontRing;
  rx: FrontRing;
  rxPages: usize = 0;
  txPages: usize = 0;
  rxGrants: StaticArray<i32> = new StaticArray<i32>(RX_BUFFERS);
  txGrants: StaticArray<i32> = new StaticArray<i32>(TX_BUFFERS);
  rxIdAt: StaticArray<i32> = new StaticArray<i32>(N.NET_RX_RING_SIZE); // buffer posted at each ring index
  rxPosted: StaticArray<bool> = new StaticArray<bool>(RX_BUFFERS);
  txBusy: StaticArray<bool> = new StaticArray<bool>(TX_BUFFERS);
  txFree: Array<i32> = new Array<i32>();
  rsp: usize = responseCopy;

  constructor(public info: xenbus.DeviceInfo) {
    this.tx = new FrontRing(allocPages(1), N.NET_TX_RING_SIZE, N.NETIF_TX_REQUEST_SIZE);
    this.rx = new FrontRing(allocPages(1), N.NET_RX_RING_SIZE, N.NETIF_RX_REQUEST_SIZE);
  }

  macString(): string {
    let s = "";
    for (let i = 0; i < 6; i++) {
      const b = this.mac[i];
      s += (i ? ":" : "") + (b < 16 ? "0" : "") + b.toString(16);
    }
    return s;
  }

  fail(why: string): string {
    if (this.broken === null) {
      this.broken = why;
      log("netfront " + this.info.id + ": broken: " + why);
      unregister(this.port);
      // As Linux's xenbus_dev_fatal: close the device, so that the backend
      // lets go of our pages and the grants can be revoked. From the loop,
      // not from inside an event handler.
      if (this.granted) defer(new Release(this));
    }
    return why;
  }

  // Reads the backend's parameters, sets up rings, buffers and the event
  // channel, writes the handshake keys and waits for the backend to connect.
  // Returns null, or why the device cannot be used.
  connect(): string | null {
    const be = this.info.backendPath;
    const dom = this.info.backendId;
    if (!xenbus.readFeature(be, "feature-rx-copy")) return this.fail("the backend lacks feature-rx-copy (required)");
    const mac = xs.read(this.info.frontendPath + "/mac");
    if (mac.error !== null || !parseMac(mac.text(), this.mac)) return this.fail("no usable mac key");
    this.mtu = <i32>xenbus.readInt(be, "mtu", 1500);
    const ip = xs.read(be + "/ip");
    if (ip.error === null) this.ip = ip.text();

    this.tx.init();
    this.rx.init();
    this.txRef = grantPage(dom, this.tx.page, false);
    this.rxRef = grantPage(dom, this.rx.page, false);
    this.granted = true;
    this.rxPages = allocPages(RX_BUFFERS);
    this.txPages = allocPages(TX_BUFFERS);
    for (let i = 0; i < RX_BUFFERS; i++) this.rxGrants[i] = grantPage(dom, this.rxPages + <usize>i * PAGE_SIZE, false);
    for (let i = 0; i < TX_BUFFERS; i++) {
      this.txGrants[i] = grantPage(dom, this.txPages + <usize>i * PAGE_SIZE, true);
      this.txFree.push(TX_BUFFERS - 1 - i);
    }
    if (this.txRef < 0 || this.rxRef < 0 || this.rxGrants[RX_BUFFERS - 1] < 0 || this.txGrants[TX_BUFFERS - 1] < 0) {
      return this.fail("out of grant references");
    }
    const port = allocUnbound(dom);
    if (port < 0) return this.fail("cannot allocate an event channel (" + port.toString() + ")");
    this.port = <u32>port;
    register(this.port, new NetEvents(this));
    for (let i = 0; i < RX_BUFFERS; i++) this.postRx(i);
    this.rx.pushRequests();

    const err = xs.transact(new Handshake(this));
    if (err !== null) return this.fail("xenstore handshake failed: " + err);
    const state = xenbus.waitForState(be, xenbus.stateBit(XB.XenbusStateConnected) | xenbus.stateBit(XB.XenbusStateClosing) | xenbus.stateBit(XB.XenbusStateClosed), CONNECT_TIMEOUT_NS);
    if (state != XB.XenbusStateConnected) return this.fail("the backend did not connect (state " + state.toString() + ")");
    this.connected = true;
    registerClosable(new Shutdown(this));
    // Frames may have arrived while we waited for the backend (their event
    // found us not yet connected): take them, which also re-arms rsp_event.
    this.poll();
    notify(this.port);
    return null;
  }

  private postRx(id: i32): void {
    const index = this.rx.reqProdPvt++;
    const slot = this.rx.slot(index);
    store<u16>(slot + N.NETIF_RX_REQ_ID, <u16>id);
    store<u32>(slot + N.NETIF_RX_REQ_GREF, <u32>this.rxGrants[id]);
    this.rxIdAt[index & (N.NET_RX_RING_SIZE - 1)] = id;
    this.rxPosted[id] = true;
  }

  // Sends one Ethernet frame. Returns false (and counts a drop) when the
  // device is not usable, the frame is too large, or every buffer is in
  // flight: a full ring pushes back on the sender instead of queueing.
  send(frame: usize, len: i32): bool {
    if (!this.connected || this.broken !== null) return false;
    if (len <= 0 || len > MAX_FRAME) { this.stats.txDropped++; return false; }
    this.collectTx();
    if (this.txFree.length == 0 || this.tx.freeRequests() == 0) { this.stats.txDropped++; return false; }
    const id = this.txFree.pop();
    this.txBusy[id] = true;
    memory.copy(this.txPages + <usize>id * PAGE_SIZE, frame, len);
    const slot = this.tx.slot(this.tx.reqProdPvt++);
    store<u32>(slot + N.NETIF_TX_REQ_GREF, <u32>this.txGrants[id]);
    store<u16>(slot + N.NETIF_TX_REQ_OFFSET, 0);
    store<u16>(slot + N.NETIF_TX_REQ_FLAGS, 0);
    store<u16>(slot + N.NETIF_TX_REQ_ID, <u16>id);
    store<u16>(slot + N.NETIF_TX_REQ_SIZE, <u16>len);
    if (this.tx.pushRequests()) notify(this.port);
    this.stats.txFrames++;
    return true;
  }

  // Takes TX completions: the buffers become free again.
  private collectTx(): void {
    for (;;) {
      const prod = this.tx.responseProducer();
      if (prod < 0) { this.fail("TX response producer ran ahead of our requests"); return; }
      while (this.tx.rspCons != <u32>prod) {
        memory.copy(this.rsp, this.tx.slot(this.tx.rspCons), N.NETIF_TX_RESPONSE_SIZE);
        this.tx.rspCons++;
        const id = <i32>load<u16>(this.rsp + N.NETIF_TX_RSP_ID);
        const status = <i32>load<i16>(this.rsp + N.NETIF_TX_RSP_STATUS);
        if (status == N.NETIF_RSP_NULL) continue; // padding after an extra-info request
        if (id >= TX_BUFFERS || !this.txBusy[id]) { this.fail("TX response for id " + id.toString() + ", which is not in flight"); return; }
        if (status != N.NETIF_RSP_OKAY) this.stats.txErrors++;
        this.txBusy[id] = false;
        this.txFree.push(id);
      }
      if (!this.tx.finalCheckForResponses()) return;
    }
  }

  // Takes received frames and hands them to the handler, then re-posts
  // their buffers.
  private collectRx(): void {
    let reposted = false;
    for (;;) {
      const prod = this.rx.responseProducer();
      if (prod < 0) { this.fail("RX response producer ran ahead of our requests"); return; }
      while (this.rx.rspCons != <u32>prod) {
        const index = this.rx.rspCons;
        memory.copy(this.rsp, this.rx.slot(index), N.NETIF_RX_RESPONSE_SIZE);
        this.rx.rspCons++;
        const expected = this.rxIdAt[index & (N.NET_RX_RING_SIZE - 1)];
        const id = <i32>load<u16>(this.rsp + N.NETIF_RX_RSP_ID);
        const offset = <i32>load<u16>(this.rsp + N.NETIF_RX_RSP_OFFSET);
        const flags = <i32>load<u16>(this.rsp + N.NETIF_RX_RSP_FLAGS);
        const status = <i32>load<i16>(this.rsp + N.NETIF_RX_RSP_STATUS);
        if (!this.rxPosted[expected]) { this.fail("RX response at an index with no request"); return; }
        this.rxPosted[expected] = false;
        if (id != expected) { this.fail("RX response id " + id.toString() + " where " + expected.toString() + " was posted"); return; }
        if (flags & (N.NETRXF_more_data | N.NETRXF_extra_info)) {
          // We negotiated neither scatter-gather nor GSO: a multi-slot frame
          // is a protocol violation; its remaining slots are dropped with it.
          this.stats.rxDropped++;
        } else if (status <= 0) {
          this.stats.rxDropped++;
        } else if (offset + status > <i32>PAGE_SIZE) {
          this.fail("RX offset " + offset.toString() + " + size " + status.toString() + " leaves the page");
          return;
        } else {
          this.stats.rxFrames++;
          const h = this.handler;
          if (h !== null) h.onFrame(this.rxPages + <usize>id * PAGE_SIZE + <usize>offset, status);
        }
        this.postRx(expected);
        reposted = true;
      }
      // Give the buffers back before looking again: under steady traffic
      // this loop need not end, and the backend must not run out of them.
      if (reposted && this.rx.pushRequests()) notify(this.port);
      reposted = false;
      if (!this.rx.finalCheckForResponses()) break;
    }
  }

  // Runs on every event on the device's channel.
  poll(): void {
    if (this.broken !== null || !this.connected) return;
    this.collectTx();
    if (this.broken === null) this.collectRx();
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
    if (this.port != 0) closePort(this.port);
    endAccess(<u32>this.txRef);
    endAccess(<u32>this.rxRef);
    for (let i = 0; i < RX_BUFFERS; i++) endAccess(<u32>this.rxGrants[i]);
    for (let i = 0; i < TX_BUFFERS; i++) endAccess(<u32>this.txGrants[i]);
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
    if (err === null) log("netfront " + ids[i] + ": connected, mac " + dev.macString() + (dev.ip.length ? ", ip " + dev.ip : ""));
    out.push(dev);
  }
  return out;
}
