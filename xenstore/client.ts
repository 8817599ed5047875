// A xenstore client over the ring page (docs/misc/xenstore.txt,
// io/xs_wire.h). Several requests may be in flight, matched to replies by
// req_id; watch events are queued and handed to their handlers from the
// event loop (a handler still running is not called again before it
// returns: runtime/handler.ts). Requests go onto the ring whole and in the
// order they were made: a request waits in an outgoing queue behind any
// other that did not fit yet, so one made by a timer or handler while a
// large request is being written never lands in the middle of it.
// Every reply is checked: an oversize length breaks the connection (all
// waiting requests fail with EIO, as xenstored cannot be resynchronised),
// an unknown req_id is dropped and counted, a reply of the wrong type or
// without its NUL is an EIO error for that request. A request that gets no
// reply in REQUEST_TIMEOUT_NS (or cannot be written for that long) means
// xenstored has dropped us: the connection is reported dead
// (connectionError()) and every later request fails at once with EIO.
// After a resume in a new domain (runtime/suspend.ts) the client moves to
// the new port, drops what the old ring still held, sends again every
// request that had no reply (those inside a transaction fail with EAGAIN:
// the new xenstored knows no transaction) and registers every watch again.
import * as XS from "../runtime/abi/xs_wire";
import { startInfo } from "../runtime/start_info";
import { EventHandler, register, notify } from "../runtime/events";
import { Resumable, registerResumable, RESUME_XENSTORE } from "../runtime/suspend";
import { Condition, Task, defer, waitFor } from "../runtime/loop";
import { Handler } from "../runtime/handler";
import { writeRequest, readResponse, RING_BROKEN } from "./ring";

// How long a request may take before it fails with ETIMEDOUT.
const REQUEST_TIMEOUT_NS: u64 = 30_000_000_000;
const HEADER: u32 = <u32>XS.XSD_SOCKMSG_SIZE;

// A request and, once `done`, its reply.
export class XsRequest extends Condition {
  done_: bool = false;
  replyType: u32 = 0;
  reply: Uint8Array = new Uint8Array(0);
  // Xen's error name ("ENOENT", "EACCES", "EAGAIN", …), or null on success.
  error: string | null = null;
  msg: Uint8Array | null = null;  // the request as sent, until its reply (sent again after a resume)
  constructor(public reqId: u32, public type: u32, public txId: u32) {
    super();
  }
  done(): bool {
    return this.done_;
  }
  // The reply as text, without the trailing NUL that string replies carry.
  text(): string {
    let len = this.reply.length;
    if (len > 0 && this.reply[len - 1] == 0) len--;
    return String.UTF8.decodeUnsafe(this.reply.dataStart, len);
  }
  // NUL-separated strings (XS_DIRECTORY, XS_GET_PERMS).
  strings(): string[] {
    const out = new Array<string>();
    let start = 0;
    for (let i = 0; i < this.reply.length; i++) {
      if (this.reply[i] == 0) {
        out.push(String.UTF8.decodeUnsafe(this.reply.dataStart + start, i - start));
        start = i + 1;
      }
    }
    return out;
  }
}

export abstract class WatchHandler extends Handler {
  abstract onWatch(path: string, token: string): void;
}

class WatchDelivery extends Task {
  constructor(public handler: WatchHandler, public path: string, public token: string) {
    super();
  }
  ready(): bool {
    return !this.handler.running;
  }
  run(): void {
    // No longer waiting: an event for the same path from here on is news.
    const i = pendingEvents.indexOf(this);
    if (i >= 0) pendingEvents.splice(i, 1);
    const h = this.handler;
    h.running = true;
    h.onWatch(this.path, this.token);
    h.running = false;
  }
}

class StoreEvents extends EventHandler {
  onEvent(port: u32): void {
    pump();
  }
}

let ring: usize = 0;
let port: u32 = 0;
let nextReqId: u32 = 1;
let broken: string | null = null;
const inFlight = new Map<u32, XsRequest>();
// Requests not yet (wholly) on the ring, oldest first; `outSent` bytes of
// the first are there already.
const outgoing = new Array<Uint8Array>();
let outSent: u32 = 0;
const watches = new Map<string, WatchHandler>();
const watchPaths = new Map<string, string>(); // token -> the path watched
// Watch events waiting for their handler. dom0 can write watched keys
// faster than a handler (which may block) takes them, so the queue is
// bounded: an event equal to one still waiting is dropped (a handler
// re-reads what changed anyway), and past MAX_PENDING_WATCH_EVENTS an event
// becomes one for the watch's own path, telling its handler to look at
// everything below it. At most MAX_PENDING_WATCH_EVENTS + one per watch wait.
export const MAX_PENDING_WATCH_EVENTS = 64;
const pendingEvents = new Array<WatchDelivery>();
// A message being received: header + payload, assembled across events.
const rx = new Uint8Array(<i32>(HEADER + <u32>XS.XENSTORE_PAYLOAD_MAX));
let rxLen: u32 = 0;

// Counters of peer misbehaviour, for tests and diagnostics.
export let droppedReplies: i32 = 0;
export let malformedWatchEvents: i32 = 0;
export let coalescedWatchEvents: i32 = 0;  // dropped or merged by the bound above

function connect(): void {
  if (ring != 0 || broken !== null) return;
  const si = startInfo();
  if (si.isInitialDomain || si.storeMfn == 0) {
    broken = "no xenstore ring in start_info (initial domain)";
    return;
  }
  ring = si.storePage;
  port = si.storeEvtchn;
  register(port, new StoreEvents(), false);
  registerResumable(new StoreResume(), RESUME_XENSTORE);
}

class StoreResume extends Resumable {
  resumed(newDomain: bool): void {
    if (newDomain && ring != 0 && broken === null) reconnect();
  }
}

// The new domain's xenstore connection (start info was read again).
function reconnect(): void {
  const si = startInfo();
  ring = si.storePage;
  port = si.storeEvtchn;
  register(port, new StoreEvents(), false);
  // Replies the old xenstored left on the ring answer nothing now (Linux
  // discards them the same way); a reply half read is gone too.
  store<u32>(ring + XS.XS_RING_RSP_CONS, load<u32>(ring + XS.XS_RING_RSP_PROD));
  rxLen = 0;
  outgoing.length = 0;
  outSent = 0;
  const waiting = inFlight.values();
  waiting.sort((a: XsRequest, b: XsRequest): i32 => <i32>(a.reqId - b.reqId));
  for (let i = 0; i < waiting.length; i++) {
    const req = waiting[i];
    const msg = req.msg;
    if (req.txId != 0 || msg === null) {
      inFlight.delete(req.reqId);
      req.error = "EAGAIN";
      req.done_ = true;
    } else {
      outgoing.push(msg);
    }
  }
  // Watches: xenstored fires each once when it is set, so every handler
  // looks at its keys again (the toolstack rewrote many of them).
  const tokens = watchPaths.keys();
  for (let i = 0; i < tokens.length; i++) {
    const req = new XsRequest(nextReqId++, XS.XS_WATCH, 0);
    const msg = message(req, concat(utf8(watchPaths.get(tokens[i]), true), utf8(tokens[i], true)));
    inFlight.set(req.reqId, req);
    outgoing.push(msg);
  }
  flushRequests();
}

// Why the connection is unusable, or null.
export function connectionError(): string | null {
  return broken;
}

function breakConnection(why: string): void {
  if (broken === null) broken = why;
  outgoing.length = 0;
  outSent = 0;
  const pending = inFlight.values();
  for (let i = 0; i < pending.length; i++) {
    pending[i].error = "EIO";
    pending[i].done_ = true;
  }
  inFlight.clear();
}

// Replies that are NUL-terminated strings (all but XS_READ's raw value and
// an empty directory listing).
function endsInNul(p: Uint8Array): bool {
  return p.length > 0 && p[p.length - 1] == 0;
}

function complete(req: XsRequest, type: u32, payload: Uint8Array): void {
  req.msg = null;
  req.replyType = type;
  req.reply = payload;
  if (type == XS.XS_ERROR) {
    req.error = endsInNul(payload) ? req.text() : "EIO";
  } else if (type != req.type) {
    req.error = "EIO";
  } else if (type != XS.XS_READ && !(payload.length == 0 && type == XS.XS_DIRECTORY) && !endsInNul(payload)) {
    req.error = "EIO";
  }
  req.done_ = true;
}

function deliverWatchEvent(payload: Uint8Array): void {
  // "path\0token\0": exactly two NULs, the second at the end.
  let first = -1, count = 0;
  for (let i = 0; i < payload.length; i++) if (payload[i] == 0) { if (count++ == 0) first = i; }
  if (count != 2 || payload[payload.length - 1] != 0) { malformedWatchEvents++; return; }
  const path = String.UTF8.decodeUnsafe(payload.dataStart, first);
  const token = String.UTF8.decodeUnsafe(payload.dataStart + first + 1, payload.length - first - 2);
  if (!watches.has(token)) return; // an event for a watch we removed: harmless
  queueWatchEvent(watches.get(token), path, token);
}

function queueWatchEvent(handler: WatchHandler, path: string, token: string): void {
  let p = path;
  if (pendingEvents.length >= MAX_PENDING_WATCH_EVENTS && watchPaths.has(token)) p = watchPaths.get(token);
  for (let i = 0; i < pendingEvents.length; i++) {
    const d = pendingEvents[i];
    if (d.token == token && d.path == p) { coalescedWatchEvents++; return; }
  }
  if (p != path) coalescedWatchEvents++;
  const d = new WatchDelivery(handler, p, token);
  pendingEvents.push(d);
  defer(d);
}

function handleMessage(): void {
  const type = load<u32>(rx.dataStart + XS.XSD_SOCKMSG_TYPE);
  const reqId = load<u32>(rx.dataStart + XS.XSD_SOCKMSG_REQ_ID);
  const len = load<u32>(rx.dataStart + XS.XSD_SOCKMSG_LEN);
  const payload = rx.slice(<i32>HEADER, <i32>(HEADER + len));
  if (type == XS.XS_WATCH_EVENT) {
    deliverWatchEvent(payload);
  } else if (inFlight.has(reqId)) {
    const req = inFlight.get(reqId);
    inFlight.delete(reqId);
    complete(req, type, payload);
  } else {
    droppedReplies++;
  }
}

// Puts as much of the outgoing queue on the ring as fits, in order.
function flushRequests(): void {
  let wrote = false;
  while (outgoing.length > 0) {
    const msg = outgoing[0];
    const n = writeRequest(ring, msg.dataStart + outSent, <u32>msg.length - outSent);
    if (n == 0) break;
    wrote = true;
    outSent += n;
    if (outSent == <u32>msg.length) {
      outgoing.shift();
      outSent = 0;
    }
  }
  if (wrote) notify(port);
}

// Reads every complete message available in the reply ring, then writes
// whatever waits for request space (xenstored notifies when it took some).
export function pump(): void {
  if (ring == 0 || broken !== null) return;
  flushRequests();
  let progressed = false;
  for (;;) {
    const want = rxLen < HEADER ? HEADER - rxLen : HEADER + load<u32>(rx.dataStart + XS.XSD_SOCKMSG_LEN) - rxLen;
    const n = want == 0 ? 0 : readResponse(ring, rx.dataStart + rxLen, want);
    if (n == RING_BROKEN) { breakConnection("xenstore ring indices out of range"); return; }
    rxLen += <u32>n;
    if (n > 0) progressed = true;
    if (rxLen == HEADER && load<u32>(rx.dataStart + XS.XSD_SOCKMSG_LEN) > <u32>XS.XENSTORE_PAYLOAD_MAX) {
      breakConnection("xenstore reply longer than XENSTORE_PAYLOAD_MAX");
      return;
    }
    if (rxLen >= HEADER && rxLen == HEADER + load<u32>(rx.dataStart + XS.XSD_SOCKMSG_LEN)) {
      handleMessage();
      rxLen = 0;
      continue;
    }
    if (n == 0) break;
  }
  if (progressed) notify(port); // xenstored may be waiting for reply space
}

// The wire form of `req` with `payload` (kept in req.msg until the reply).
function message(req: XsRequest, payload: Uint8Array): Uint8Array {
  const msg = new Uint8Array(<i32>HEADER + payload.length);
  store<u32>(msg.dataStart + XS.XSD_SOCKMSG_TYPE, req.type);
  store<u32>(msg.dataStart + XS.XSD_SOCKMSG_REQ_ID, req.reqId);
  store<u32>(msg.dataStart + XS.XSD_SOCKMSG_TX_ID, req.txId);
  store<u32>(msg.dataStart + XS.XSD_SOCKMSG_LEN, payload.length);
  memory.copy(msg.dataStart + HEADER, payload.dataStart, payload.length);
  req.msg = msg;
  return msg;
}

// Sends a request without waiting for its reply (several may be in flight).
// It goes onto the ring now if everything queued before it did and it
// fits; otherwise it is written, in order, as xenstored makes room.
export function send(type: u32, payload: Uint8Array, txId: u32 = 0): XsRequest {
  connect();
  const req = new XsRequest(nextReqId++, type, txId);
  if (broken !== null) { req.error = "EIO"; req.done_ = true; return req; }
  if (payload.length > XS.XENSTORE_PAYLOAD_MAX) { req.error = "E2BIG"; req.done_ = true; return req; }
  const msg = message(req, payload);
  inFlight.set(req.reqId, req);
  outgoing.push(msg);
  flushRequests();
  return req;
}

// Waits for a sent request's reply. Without one in REQUEST_TIMEOUT_NS the
// request fails with ETIMEDOUT and the connection is reported dead:
// xenstored answers every request it reads, so it has dropped us (or the
// request never fit on the ring).
export function wait(req: XsRequest): XsRequest {
  if (!waitFor(req, REQUEST_TIMEOUT_NS)) {
    inFlight.delete(req.reqId);
    req.error = "ETIMEDOUT";
    req.done_ = true;
    const stuck = outgoing.length > 0 ? "xenstore request ring stayed full for " : "xenstored sent no reply for ";
    breakConnection(stuck + (REQUEST_TIMEOUT_NS / 1_000_000_000).toString() + " s");
  }
  return req;
}

function utf8(s: string, nul: bool): Uint8Array {
  const len = String.UTF8.byteLength(s, nul);
  const out = new Uint8Array(len);
  String.UTF8.encodeUnsafe(changetype<usize>(s), s.length, out.dataStart, nul);
  return out;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

function request(type: u32, payload: Uint8Array, tx: u32): XsRequest {
  return wait(send(type, payload, tx));
}

// ---- the operations (blocking; check .error on the result) ----
// Paths are absolute ("/local/domain/0/…") or relative to this domain's
// home ("/local/domain/<domid>/"). `tx` is a transaction id or 0.

export function read(path: string, tx: u32 = 0): XsRequest { return request(XS.XS_READ, utf8(path, true), tx); }
export function write(path: string, value: string, tx: u32 = 0): XsRequest {
  return request(XS.XS_WRITE, concat(utf8(path, true), utf8(value, false)), tx);
}
// Like write(), without waiting for the reply.
export function writeAsync(path: string, value: string, tx: u32 = 0): XsRequest {
  return send(XS.XS_WRITE, concat(utf8(path, true), utf8(value, false)), tx);
}
export function mkdir(path: string, tx: u32 = 0): XsRequest { return request(XS.XS_MKDIR, utf8(path, true), tx); }
export function rm(path: string, tx: u32 = 0): XsRequest { return request(XS.XS_RM, utf8(path, true), tx); }
// Children's names: .strings()
export function directory(path: string, tx: u32 = 0): XsRequest { return request(XS.XS_DIRECTORY, utf8(path, true), tx); }
// Permissions as "<letter><domid>" strings ("n0", "r1", …): .strings()
export function getPerms(path: string, tx: u32 = 0): XsRequest { return request(XS.XS_GET_PERMS, utf8(path, true), tx); }
export function setPerms(path: string, perms: string[], tx: u32 = 0): XsRequest {
  let payload = utf8(path, true);
  for (let i = 0; i < perms.length; i++) payload = concat(payload, utf8(perms[i], true));
  return request(XS.XS_SET_PERMS, payload, tx);
}
export function getDomainPath(domid: u32): XsRequest { return request(XS.XS_GET_DOMAIN_PATH, utf8(domid.toString(), true), 0); }

// Watches `path` (and everything below it); `handler` gets each event,
// including the one xenstored sends at once when the watch is set.
export function watch(path: string, token: string, handler: WatchHandler): XsRequest {
  watches.set(token, handler);
  watchPaths.set(token, path);
  const r = request(XS.XS_WATCH, concat(utf8(path, true), utf8(token, true)), 0);
  if (r.error !== null) { watches.delete(token); watchPaths.delete(token); }
  return r;
}

// Like watch(), without waiting for xenstored's reply.
export function watchAsync(path: string, token: string, handler: WatchHandler): XsRequest {
  watches.set(token, handler);
  watchPaths.set(token, path);
  return send(XS.XS_WATCH, concat(utf8(path, true), utf8(token, true)), 0);
}

export function unwatch(path: string, token: string): XsRequest {
  watches.delete(token);
  watchPaths.delete(token);
  return request(XS.XS_UNWATCH, concat(utf8(path, true), utf8(token, true)), 0);
}

// Starts a transaction: the id is parsed from the reply (0 on error).
export function transactionStart(): XsRequest { return request(XS.XS_TRANSACTION_START, utf8("", true), 0); }
export function transactionId(r: XsRequest): u32 {
  return r.error !== null ? 0 : <u32>I64.parseInt(r.text());
}
export function transactionEnd(tx: u32, commit: bool): XsRequest {
  return request(XS.XS_TRANSACTION_END, utf8(commit ? "T" : "F", true), tx);
}

// The body of a transaction: does its reads and writes with `tx` and
// returns an error name to abort, or null to commit.
export abstract class TransactionBody {
  abstract run(tx: u32): string | null;
}

// Runs `body` in a transaction, retrying from the start while the commit
// fails with EAGAIN (someone else changed what it read). Returns the error
// name, or null once committed.
export function transact(body: TransactionBody, maxAttempts: i32 = 16): string | null {
  for (let attempt = 0; attempt < maxAttempts; attempt++) {
    const start = transactionStart();
    if (start.error !== null) return start.error;
    const tx = transactionId(start);
    const err = body.run(tx);
    if (err !== null) {
      transactionEnd(tx, false);
      return err;
    }
    const end = transactionEnd(tx, true);
    if (end.error === null) return null;
    if (end.error != "EAGAIN") return end.error;
  }
  return "EAGAIN";
}
