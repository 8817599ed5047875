// TCP for a NetStack (RFC 9293; the connection itself is tcp-conn.ts):
// the app's API, listeners, demultiplexing, resets for closed ports, SYN
// cookies, the TIME-WAIT table and the bounded pool of connections.
//
//   const tcp = new Tcp(stack);                   // or new Tcp(stack, options)
//   tcp.listen(80, new Server());                 // passive opens go to Server
//   const c = tcp.connect(ip, 7, new Client());   // null if no slot/port is free
//
// A TcpHandler hears, from the loop and never re-entered (runtime/
// handler.ts): onConnect(conn), onData(conn, ptr, len) -> bytes taken,
// onWritable(conn), onEnd(conn) (the peer finished sending; by default
// close()), onClose(conn, reason). Writes return the bytes accepted
// (back-pressure: onWritable follows a short write once there is room).
//
// Bounded state, whatever the network sends:
//  - at most options.maxConnections connections (each with its own send
//    and receive buffers, made the first time its slot is used and reused
//    after), per listener at most its own limit: at the limit SYNs go
//    unanswered (clients retry), and a SYN cookie's ACK is dropped;
//  - a listener holds at most `backlog` half-open connections
//    (SYN-RECEIVED); SYNs beyond that are answered with SYN cookies
//    (tcp-syn.ts), which cost no state until the handshake completes;
//  - TIME-WAIT is a fixed table (options.timeWaitSlots, the oldest entry
//    goes when full) holding only what TIME-WAIT needs, so a closed
//    connection gives its slot back at once;
//  - resets for closed ports and RFC 5961 challenge ACKs are rate-limited.
import { monotonicNs } from "../../runtime/time";
import { Handler } from "../../runtime/handler";
import { Task, defer } from "../../runtime/loop";
import { randomBelow } from "../../runtime/random";
import { sumFast, finish, store16, pseudoHeaderSum } from "./bytes";
import { NetStack, IpProtocol, PROTO_TCP, FRAME_HEADROOM } from "./stack";
import { GSO_MAX_FRAME } from "../netfront";
import { TokenBucket } from "./rate-limit";
import { Segment, TCP_HDR, FIN, SYN, RST, ACK, seqGt, writeHeader, writeSynOptions, writeTsOption, MAX_SACK_BLOCKS, MAX_WSCALE } from "./tcp-wire";
import { SynSecrets, cookieTsBits } from "./tcp-syn";
import { TcpConn, TCP_CLOSED } from "./tcp-conn";

export {
  TcpConn, closeReasonName, CLOSED_NORMALLY, CLOSED_RESET, CLOSED_REFUSED, CLOSED_TIMEOUT, CLOSED_ABORTED,
  TCP_CLOSED, TCP_SYN_SENT, TCP_SYN_RECEIVED, TCP_ESTABLISHED, TCP_FIN_WAIT_1, TCP_FIN_WAIT_2, TCP_CLOSE_WAIT,
  TCP_CLOSING, TCP_LAST_ACK, TCP_TIME_WAIT,
} from "./tcp-conn";

export const DEFAULT_BACKLOG: i32 = 64;
const EPHEMERAL_FIRST: u32 = 49152;
const EPHEMERAL_COUNT: u32 = 16384;
const RESETS_PER_SECOND: i64 = 1000;
const RESET_BURST: i64 = 100;
const CHALLENGE_ACKS_PER_SECOND: i64 = 1000;   // RFC 5961 §7 (Linux's default limit)
const COOKIE_VALID_NS: u64 = 128_000_000_000;   // cookie ACKs taken this long after the last cookie sent

export class TcpOptions {
  maxConnections: i32 = 64;
  sendBuffer: i32 = 64 * 1024;
  receiveBuffer: i32 = 64 * 1024;
  timeWaitSlots: i32 = 1024;
  timeWaitNs: u64 = 60_000_000_000;   // 2 MSL, as Linux
}

// What an app gives listen() and connect(). Every method has a default;
// `conn` stays valid until onClose has returned, then its slot is reused.
export abstract class TcpHandler extends Handler {
  // The connection is open (the handshake completed).
  onConnect(conn: TcpConn): void {}
  // `len` bytes at `data` arrived (valid during the call). Returns how many
  // it took: the rest stays in the receive buffer (our window shrinks, the
  // peer slows down) and is offered again with later data, after
  // onWritable, or on conn.resumeData().
  onData(conn: TcpConn, data: usize, len: i32): i32 { return len; }
  // A write was short and the send buffer has room again (a quarter of it).
  onWritable(conn: TcpConn): void {}
  // The peer finished sending (its FIN, after all its data). We may still
  // write; by default the connection is closed.
  onEnd(conn: TcpConn): void { conn.close(); }
  // The connection is over: `reason` is CLOSED_* (closeReasonName()).
  onClose(conn: TcpConn, reason: i32): void {}
}

export class Listener {
  halfOpen: i32 = 0;
  connections: i32 = 0;
  lastCookie: u64 = 0;
  constructor(public port: u16, public handler: TcpHandler, public backlog: i32, public maxConnections: i32) {}
}

export class TcpStats {
  segmentsIn: u64 = 0;
  segmentsOut: u64 = 0;
  malformed: u64 = 0;          // bad checksum, header or ports
  resetsSent: u64 = 0;
  resetsLimited: u64 = 0;      // resets not sent: rate limit
  resetsReceived: u64 = 0;
  activeOpens: u64 = 0;
  passiveOpens: u64 = 0;       // SYNs taken into SYN-RECEIVED
  established: u64 = 0;
  closed: u64 = 0;
  refused: u64 = 0;
  synCookiesSent: u64 = 0;
  synCookiesAccepted: u64 = 0;
  synCookiesRejected: u64 = 0;
  listenDrops: u64 = 0;        // SYNs/ACKs dropped: connection limit reached, no slot
  retransmitted: u64 = 0;
  fastRetransmits: u64 = 0;
  timeouts: u64 = 0;
  dupAcksIn: u64 = 0;
  outOfOrder: u64 = 0;         // segments held out of order
  outOfOrderDropped: u64 = 0;  // not held: the range table was full
  duplicateSegments: u64 = 0;
  outOfWindow: u64 = 0;
  pawsRejected: u64 = 0;
  badAcks: u64 = 0;            // acknowledgments outside what we sent (RFC 5961 §5)
  challengeAcks: u64 = 0;
  challengeAcksLimited: u64 = 0;
  windowProbes: u64 = 0;
  finsReceived: u64 = 0;
  timeWaitEntries: u64 = 0;
  timeWaitEvicted: u64 = 0;
  txBlocked: u64 = 0;          // segments the device refused (full TX ring)
}

// TIME-WAIT (RFC 9293 §3.6): what is left of a connection for 2 MSL: its
// addresses, the sequence numbers to acknowledge a retransmitted FIN with,
// and the timestamp state for PAWS. A new SYN with a higher sequence number
// (RFC 1122 §4.2.2.13) or newer timestamp (RFC 6191) ends it early; so
// does an RST.
class TimeWaitTable {
  size: i32;
  used: StaticArray<bool>;
  localIp: StaticArray<u32>;
  remoteIp: StaticArray<u32>;
  ports: StaticArray<u32>;       // local << 16 | remote
  sndNxt: StaticArray<u32>;
  rcvNxt: StaticArray<u32>;
  tsRecent: StaticArray<u32>;
  tsOffset: StaticArray<u32>;
  tsOk: StaticArray<bool>;
  expires: StaticArray<u64>;
  count: i32 = 0;

  constructor(size: i32, public tcp: Tcp) {
    this.size = size;
    this.used = new StaticArray<bool>(size);
    this.localIp = new StaticArray<u32>(size);
    this.remoteIp = new StaticArray<u32>(size);
    this.ports = new StaticArray<u32>(size);
    this.sndNxt = new StaticArray<u32>(size);
    this.rcvNxt = new StaticArray<u32>(size);
    this.tsRecent = new StaticArray<u32>(size);
    this.tsOffset = new StaticArray<u32>(size);
    this.tsOk = new StaticArray<bool>(size);
    this.expires = new StaticArray<u64>(size);
  }

  add(localIp: u32, localPort: u16, remoteIp: u32, remotePort: u16, sndNxt: u32, rcvNxt: u32, tsOk: bool, tsRecent: u32, tsOffset: u32, now: u64): void {
    if (this.size == 0) return;
    let at = -1;
    let oldest = 0;
    for (let i = 0; i < this.size; i++) {
      if (!this.used[i] || this.expires[i] <= now) { at = i; break; }
      if (this.expires[i] < this.expires[oldest]) oldest = i;
    }
    if (at < 0) { at = oldest; this.tcp.stats.timeWaitEvicted++; }
    else if (!this.used[at]) this.count++;
    this.used[at] = true;
    this.localIp[at] = localIp;
    this.remoteIp[at] = remoteIp;
    this.ports[at] = (<u32>localPort << 16) | <u32>remotePort;
    this.sndNxt[at] = sndNxt;
    this.rcvNxt[at] = rcvNxt;
    this.tsOk[at] = tsOk;
    this.tsRecent[at] = tsRecent;
    this.tsOffset[at] = tsOffset;
    this.expires[at] = now + this.tcp.options.timeWaitNs;
    this.tcp.stats.timeWaitEntries++;
  }

  find(localIp: u32, localPort: u16, remoteIp: u32, remotePort: u16, now: u64): i32 {
    if (this.count == 0) return -1;
    const ports = (<u32>localPort << 16) | <u32>remotePort;
    for (let i = 0; i < this.size; i++) {
      if (!this.used[i] || this.ports[i] != ports || this.remoteIp[i] != remoteIp || this.localIp[i] != localIp) continue;
      if (this.expires[i] <= now) { this.remove(i); return -1; }
      return i;
    }
    return -1;
  }

  remove(i: i32): void {
    if (this.used[i]) { this.used[i] = false; this.count--; }
  }

  // Entries not yet expired.
  live(now: u64): i32 {
    let n = 0;
    for (let i = 0; i < this.size; i++) if (this.used[i] && this.expires[i] > now) n++;
    return n;
  }
}

class TcpFlush extends Task {
  constructor(public tcp: Tcp) { super(); }
  run(): void { this.tcp.flush(); }
}

export class Tcp extends IpProtocol {
  options!: TcpOptions;
  stats: TcpStats = new TcpStats();
  secrets: SynSecrets = new SynSecrets();
  challengeLimit: TokenBucket = new TokenBucket(CHALLENGE_ACKS_PER_SECOND, CHALLENGE_ACKS_PER_SECOND);
  resetLimit: TokenBucket = new TokenBucket(RESETS_PER_SECOND, RESET_BURST);
  timeWait!: TimeWaitTable;
  txFrame!: usize;
  txFrameSize: i32 = 0;
  sackStarts: StaticArray<u32> = new StaticArray<u32>(MAX_SACK_BLOCKS);
  sackEnds: StaticArray<u32> = new StaticArray<u32>(MAX_SACK_BLOCKS);
  private conns: Array<TcpConn> = new Array<TcpConn>();
  private free: Array<i32> = new Array<i32>();
  private active: i32 = 0;
  private buckets!: StaticArray<i32>;
  private mask!: u32;
  private listeners: Map<u16, Listener> = new Map<u16, Listener>();
  private seg: Segment = new Segment();
  private dirtyList!: StaticArray<i32>;
  private dirtyCount: i32 = 0;
  private flushTask!: TcpFlush;
  private flushQueued: bool = false;
  private nextPort!: u32;

  constructor(public stack: NetStack, options: TcpOptions | null = null) {
    super();
    const o = options !== null ? options : new TcpOptions();
    o.maxConnections = max(o.maxConnections, 1);
    o.sendBuffer = max(o.sendBuffer, 4096);
    o.receiveBuffer = min(max(o.receiveBuffer, 4096), 65535 << MAX_WSCALE);
    o.timeWaitSlots = max(o.timeWaitSlots, 0);
    this.options = o;
    this.timeWait = new TimeWaitTable(o.timeWaitSlots, this);
    // With GSO the frame buffer takes a whole GSO frame (built once, the device cuts it).
    this.txFrameSize = stack.dev.gso ? GSO_MAX_FRAME : stack.dev.maxFrame();
    this.txFrame = heap.alloc(<usize>this.txFrameSize);
    let size: u32 = 16;
    while (size < <u32>o.maxConnections * 2) size <<= 1;
    this.buckets = new StaticArray<i32>(<i32>size);
    for (let i = 0; i < <i32>size; i++) this.buckets[i] = -1;
    this.mask = size - 1;
    this.dirtyList = new StaticArray<i32>(o.maxConnections);
    this.flushTask = new TcpFlush(this);
    this.nextPort = EPHEMERAL_FIRST + randomBelow(EPHEMERAL_COUNT);
    stack.attach(PROTO_TCP, this);
  }

  // The MSS we announce: the vif's MTU less the IPv4 and TCP headers.
  ourMss(): i32 {
    return this.stack.dev.maxFrame() - FRAME_HEADROOM - TCP_HDR;
  }

  // The most payload one frame may carry as GSO (0: no GSO): what fits a
  // GSO frame with the largest TCP header, in whole segments of `segment`.
  gsoPayload(segment: i32): i32 {
    if (!this.stack.dev.gso || this.txFrameSize < GSO_MAX_FRAME || segment <= 0) return 0;
    return (GSO_MAX_FRAME - FRAME_HEADROOM - TCP_HDR - 40) / segment * segment;
  }

  // Connections using a slot now (not counting TIME-WAIT entries).
  connections(): i32 { return this.active; }

  // Connection slots made so far (each with its buffers): at most maxConnections.
  slotsMade(): i32 { return this.conns.length; }

  timeWaitCount(): i32 { return this.timeWait.live(monotonicNs()); }

  // ---- the app's API

  // Accepts connections to `port`, each given to `handler` (onConnect
  // first). `backlog`: half-open connections held (more are answered with
  // SYN cookies); `maxConnections` (0: the Tcp's limit): open connections
  // at once, SYNs beyond it are dropped (the peer retries) and counted.
  // Returns false if the port is taken.
  listen(port: u16, handler: TcpHandler, backlog: i32 = DEFAULT_BACKLOG, maxConnections: i32 = 0): bool {
    if (port == 0 || this.listeners.has(port)) return false;
    this.listeners.set(port, new Listener(port, handler, max(backlog, 1), maxConnections > 0 ? maxConnections : this.options.maxConnections));
    return true;
  }

  // Stops accepting on `port` (connections already open carry on).
  unlisten(port: u16): void {
    this.listeners.delete(port);
  }

  // Opens a connection to ip:port; `handler` hears onConnect, or onClose
  // (CLOSED_REFUSED, CLOSED_TIMEOUT) if it cannot be made. Returns null if
  // there is no address yet, no free slot or no free local port.
  connect(ip: u32, port: u16, handler: TcpHandler): TcpConn | null {
    const local = this.stack.ip;
    if (local == 0 || port == 0) return null;
    const c = this.allocate();
    if (c === null) return null;
    const now = monotonicNs();
    let lport: u16 = 0;
    for (let tries: u32 = 0; tries < EPHEMERAL_COUNT; tries++) {
      const p = <u16>(EPHEMERAL_FIRST + (this.nextPort - EPHEMERAL_FIRST + tries) % EPHEMERAL_COUNT);
      if (this.lookup(ip, port, p) === null && this.timeWait.find(local, p, ip, port, now) < 0 && !this.listeners.has(p)) { lport = p; break; }
    }
    if (lport == 0) { this.release(c); return null; }
    this.nextPort = <u32>lport + 1;
    this.stats.activeOpens++;
    c.openActive(handler, local, lport, ip, port);
    this.hash(c);
    return c;
  }

  // ---- slots

  private allocate(): TcpConn | null {
    if (this.free.length > 0) {
      const c = this.conns[this.free.pop()];
      this.active++;
      return c;
    }
    if (this.conns.length >= this.options.maxConnections) return null;
    const c = new TcpConn(this, this.conns.length);
    this.conns.push(c);
    this.active++;
    return c;
  }

  // The slot is free again (the connection is over and the app was told).
  release(c: TcpConn): void {
    if (!c.inUse) return;
    if (c.hashed) this.unhash(c);
    c.inUse = false;
    c.state = TCP_CLOSED;
    c.handler = null;
    c.listener = null;
    this.active--;
    this.free.push(c.id);
  }

  // ---- demultiplexing: a chained hash table over the slots

  @inline private bucketOf(remoteIp: u32, remotePort: u16, localPort: u16): i32 {
    let h = remoteIp ^ ((<u32>remotePort << 16) | <u32>localPort);
    h *= 0x9e3779b1;
    return <i32>((h ^ (h >> 15)) & this.mask);
  }

  private lookup(remoteIp: u32, remotePort: u16, localPort: u16): TcpConn | null {
    let i = this.buckets[this.bucketOf(remoteIp, remotePort, localPort)];
    while (i >= 0) {
      const c = unchecked(this.conns[i]);
      if (c.remoteIp == remoteIp && c.remotePort == remotePort && c.localPort == localPort) return c;
      i = c.hashNext;
    }
    return null;
  }

  private hash(c: TcpConn): void {
    const b = this.bucketOf(c.remoteIp, c.remotePort, c.localPort);
    c.hashNext = this.buckets[b];
    this.buckets[b] = c.id;
    c.hashed = true;
  }

  unhash(c: TcpConn): void {
    if (!c.hashed) return;
    const b = this.bucketOf(c.remoteIp, c.remotePort, c.localPort);
    let i = this.buckets[b];
    if (i == c.id) {
      this.buckets[b] = c.hashNext;
    } else {
      while (i >= 0) {
        const p = this.conns[i];
        if (p.hashNext == c.id) { p.hashNext = c.hashNext; break; }
        i = p.hashNext;
      }
    }
    c.hashNext = -1;
    c.hashed = false;
  }

  // ---- output scheduling: ACKs and data go out once a batch of frames is in

  addDirty(c: TcpConn): void {
    if (c.dirty) return;
    c.dirty = true;
    this.dirtyList[this.dirtyCount++] = c.id;
    if (!this.flushQueued) {
      this.flushQueued = true;
      defer(this.flushTask);
    }
  }

  flush(): void {
    this.flushQueued = false;
    const now = monotonicNs();
    // Connections made dirty meanwhile are added past `n` and flushed too.
    for (let i = 0; i < this.dirtyCount; i++) {
      const c = this.conns[this.dirtyList[i]];
      if (c.dirty) c.flush(now);
    }
    this.dirtyCount = 0;
  }

  onTxReady(): void {
    for (let i = 0; i < this.conns.length; i++) {
      const c = this.conns[i];
      if (c.inUse && c.txBlocked) this.addDirty(c);
    }
  }

  // ---- input

  onDatagram(src: u32, dst: u32, body: usize, len: i32, verify: bool, ip: usize): void {
    if (verify && finish(sumFast(body, len, pseudoHeaderSum(src, dst, PROTO_TCP, len))) != 0) { this.stats.malformed++; return; }
    const s = this.seg;
    if (!s.parse(src, dst, body, len) || s.srcPort == 0 || s.dstPort == 0 || (src >> 24) == 0 || (src >> 24) >= 224) {
      this.stats.malformed++;
      return;
    }
    const c = this.lookup(src, s.srcPort, s.dstPort);
    const now = monotonicNs();
    if (c !== null && c.localIp == dst) {
      c.input(s, now);
      return;
    }
    this.stats.segmentsIn++;
    const tw = this.timeWait.find(dst, s.dstPort, src, s.srcPort, now);
    if (tw >= 0 && !this.timeWaitInput(tw, s, now)) return;
    const l = this.listeners.has(s.dstPort) ? this.listeners.get(s.dstPort) : null;
    if (l !== null) this.listenInput(l, s, now);
    else if (!(s.flags & RST)) this.resetFor(s);
  }

  // A segment for a TIME-WAIT entry. Returns true if it is a new SYN that
  // ends the entry and goes on to the listener.
  private timeWaitInput(i: i32, s: Segment, now: u64): bool {
    const tw = this.timeWait;
    if (s.flags & RST) { tw.remove(i); return false; }
    if ((s.flags & (SYN | ACK)) == SYN) {
      const newer = seqGt(s.seq, tw.rcvNxt[i]) || (tw.tsOk[i] && s.hasTs && seqGt(s.tsVal, tw.tsRecent[i]));
      if (newer) { tw.remove(i); return true; }
    }
    if (s.flags & FIN) tw.expires[i] = now + this.options.timeWaitNs;   // the FIN again: our ACK was lost
    // Acknowledge (rate-limited like resets: this is an answer to anyone).
    if (!this.resetLimit.take(now)) return false;
    const tsVal = <u32>(now / 1_000_000) + tw.tsOffset[i];
    this.sendControl(s.dst, s.dstPort, s.src, s.srcPort, tw.sndNxt[i], tw.rcvNxt[i], ACK, 0,
      tw.tsOk[i], tsVal, tw.tsRecent[i], -1, false, 0);
    return false;
  }

  private listenInput(l: Listener, s: Segment, now: u64): void {
    const f = s.flags;
    if (f & RST) return;
    if (f & ACK) {
      if ((f & SYN) == 0 && now - l.lastCookie < COOKIE_VALID_NS && l.lastCookie != 0) { this.cookieAck(l, s, now); return; }
      this.resetFor(s);
      return;
    }
    if (!(f & SYN)) return;
    // Full: the client's SYN goes unanswered, and it retries.
    if (l.connections >= l.maxConnections) { this.stats.listenDrops++; return; }
    if (l.halfOpen < l.backlog && l.connections + l.halfOpen < l.maxConnections) {
      const c = this.allocate();
      if (c === null) { this.stats.listenDrops++; return; }
      this.stats.passiveOpens++;
      const iss = this.secrets.isn(s.dst, s.dstPort, s.src, s.srcPort, now);
      l.halfOpen++;
      c.halfOpenCounted = true;
      c.openPassive(l, s, iss, 0, -1, false, now);
      this.hash(c);
      return;
    }
    // The backlog is full (or the half-open ones may take the last slots):
    // answer with a cookie and keep nothing. Whether there is room is
    // decided when the handshake's ACK comes; if not, that ACK is dropped
    // and the client's next segment (its data, retransmitted) tries again.
    const mss = s.mss > 0 ? min(s.mss, this.ourMss()) : 536;
    const cookie = this.secrets.cookie(s.dst, s.dstPort, s.src, s.srcPort, s.seq, mss, now);
    l.lastCookie = now;
    this.stats.synCookiesSent++;
    let wscale = -1;
    if (s.wscale >= 0) {
      wscale = 0;
      while (wscale < MAX_WSCALE && (this.options.receiveBuffer >> wscale) > 65535) wscale++;
    }
    const tsOffset = this.secrets.tsOffset(s.dst, s.dstPort, s.src, s.srcPort);
    const tsVal = ((<u32>(now / 1_000_000) + tsOffset) & ~<u32>31) | cookieTsBits(s.wscale, s.sackOk);
    this.sendControl(s.dst, s.dstPort, s.src, s.srcPort, cookie, s.seq + 1, SYN | ACK, <u32>min(this.options.receiveBuffer, 65535),
      s.hasTs, tsVal, s.tsVal, s.hasTs ? wscale : -1, s.hasTs && s.sackOk, mss);
  }

  // The ACK completing a cookie handshake: a connection, straight to ESTABLISHED.
  private cookieAck(l: Listener, s: Segment, now: u64): void {
    const iss = s.ack - 1;
    const mss = this.secrets.checkCookie(s.dst, s.dstPort, s.src, s.srcPort, s.seq - 1, iss, now);
    if (mss == 0) { this.stats.synCookiesRejected++; this.resetFor(s); return; }
    if (l.connections >= l.maxConnections) { this.stats.listenDrops++; return; }
    const c = this.allocate();
    if (c === null) { this.stats.listenDrops++; return; }
    let wscale = -1;
    let sack = false;
    if (s.hasTs) {
      const bits = s.tsEcr & 31;
      wscale = <i32>(bits >> 1);
      if (wscale == 15) wscale = -1;
      sack = (bits & 1) != 0;
    }
    this.stats.synCookiesAccepted++;
    c.openPassive(l, s, iss, mss, wscale, sack, now);
    this.hash(c);
    // The ACK may carry data already.
    if (s.len > 0 || (s.flags & FIN)) c.input(s, now);
  }

  // A reset for a segment nobody takes (RFC 9293 §3.10.7.1), rate-limited.
  private resetFor(s: Segment): void {
    if (s.flags & RST) return;
    if (s.flags & ACK) this.sendReset(s.dst, s.dstPort, s.src, s.srcPort, s.ack, 0, false);
    else this.sendReset(s.dst, s.dstPort, s.src, s.srcPort, 0, s.seq + s.seqLen(), true);
  }

  sendReset(localIp: u32, localPort: u16, remoteIp: u32, remotePort: u16, seq: u32, ack: u32, withAck: bool): void {
    if (!this.resetLimit.take(monotonicNs())) { this.stats.resetsLimited++; return; }
    this.stats.resetsSent++;
    this.sendControl(localIp, localPort, remoteIp, remotePort, seq, ack, withAck ? RST | ACK : RST, 0, false, 0, 0, -1, false, 0);
  }

  // A segment without a connection behind it: resets, cookie SYN-ACKs,
  // TIME-WAIT's ACKs. `mss` > 0 means SYN options.
  private sendControl(localIp: u32, localPort: u16, remoteIp: u32, remotePort: u16, seq: u32, ack: u32, flags: u32, window: u32,
    ts: bool, tsVal: u32, tsEcr: u32, wscale: i32, sackOk: bool, mss: i32): void {
    const frame = this.txFrame;
    const t = frame + <usize>FRAME_HEADROOM;
    const o = t + <usize>TCP_HDR;
    let opt = 0;
    if (mss > 0) opt = writeSynOptions(o, mss, wscale, sackOk, ts, tsVal, tsEcr);
    else if (ts) opt = writeTsOption(o, tsVal, tsEcr);
    writeHeader(t, localPort, remotePort, seq, ack, flags, window, opt);
    const len = TCP_HDR + opt;
    store16(t + 16, finish(sumFast(t, len, pseudoHeaderSum(localIp, remoteIp, PROTO_TCP, len))));
    this.stack.sendIpFrame(frame, remoteIp, PROTO_TCP, len);
    this.stats.segmentsOut++;
  }
}
