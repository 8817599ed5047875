// One TCP connection (RFC 9293): the TCB, the state machine of §3.10.7
// (segment arrives) with the RFC 5961 checks against blind injection
// (§3 RST: only an exact RCV.NXT resets, anything else in the window gets
// a challenge ACK; §4 SYN: a challenge ACK; §5 ACK: only acknowledgments
// within [SND.UNA - MAX.SND.WND, SND.NXT] are taken), output with Nagle
// and both ends' silly-window avoidance (RFC 9293 §3.8.6.2), delayed ACKs
// (every second full segment, else within DELAYED_ACK_NS; out-of-order and
// duplicate segments are acknowledged at once, RFC 5681 §4.2), zero-window
// probing (§3.8.6.1: never giving up on a peer that answers),
// retransmission with RFC 6298's timer, NewReno fast retransmit and
// recovery (RFC 6582 over RFC 5681; initial window RFC 6928; slow start
// by bytes acknowledged, RFC 3465, without its per-ACK limit), window
// scaling, timestamps with PAWS and RTTM (RFC 7323), and SACK blocks for
// what arrived out of order (RFC 2018; we do not use the peer's).
//
// Deviations, on purpose: the RTO floor is 200 ms as Linux's, not RFC
// 6298's 1 s (a LAN would stall a second per loss); an RST acknowledging
// a SYN we never sent is dropped silently. Urgent data is taken as normal
// data (RFC 6093). No keep-alives.
//
// Nothing here is allocated per segment: buffers come with the connection
// slot (tcp-buffers.ts), the timers are this connection's own Timer
// objects, and the app hears of events through this connection's own Task
// (never from inside the stack's frame handler, so an app handler may
// block, and never re-entered: runtime/handler.ts).
import { armTimer, cancelTimer, Timer, TimerHandler } from "../../runtime/timers";
import { monotonicNs } from "../../runtime/time";
import { Task, defer } from "../../runtime/loop";
import { sumFast, finish, store16, pseudoHeaderSum, addSums } from "./bytes";
import { FRAME_HEADROOM, IP_SENT, IP_DROPPED, PROTO_TCP } from "./stack";
import {
  Segment, TCP_HDR, FIN, SYN, RST, ACK, PSH, seqLt, seqLe, seqGt, seqGe, seqMax,
  writeHeader, writeSynOptions, writeTsOption, writeSackOption, MAX_WSCALE,
} from "./tcp-wire";
import { SendBuffer, ReceiveBuffer } from "./tcp-buffers";
import { Tcp, TcpHandler, Listener } from "./tcp";

// States (RFC 9293 §3.3.2). LISTEN is a Listener; TIME-WAIT lives in the
// Tcp's small TIME-WAIT table once the connection has handed its slot back.
export const TCP_CLOSED = 0;
export const TCP_SYN_SENT = 1;
export const TCP_SYN_RECEIVED = 2;
export const TCP_ESTABLISHED = 3;
export const TCP_FIN_WAIT_1 = 4;
export const TCP_FIN_WAIT_2 = 5;
export const TCP_CLOSE_WAIT = 6;
export const TCP_CLOSING = 7;
export const TCP_LAST_ACK = 8;
export const TCP_TIME_WAIT = 9;
const STATE_NAMES = ["CLOSED", "SYN-SENT", "SYN-RECEIVED", "ESTABLISHED", "FIN-WAIT-1", "FIN-WAIT-2", "CLOSE-WAIT", "CLOSING", "LAST-ACK", "TIME-WAIT"];

// Why a connection ended (onClose's `reason`).
export const CLOSED_NORMALLY = 0;   // both sides finished
export const CLOSED_RESET = 1;      // the peer reset it
export const CLOSED_REFUSED = 2;    // the peer answered our SYN with a reset
export const CLOSED_TIMEOUT = 3;    // the peer stopped answering
export const CLOSED_ABORTED = 4;    // abort(), or data arrived after close()
const REASON_NAMES = ["closed", "reset by peer", "refused", "timed out", "aborted"];

export function closeReasonName(reason: i32): string {
  return reason >= 0 && reason < REASON_NAMES.length ? REASON_NAMES[reason] : "unknown";
}

export const RTO_INITIAL_NS: u64 = 1_000_000_000;   // RFC 6298 §2.1
export const RTO_MIN_NS: u64 = 200_000_000;
export const RTO_MAX_NS: u64 = 60_000_000_000;      // RFC 6298 §2.5
export const DELAYED_ACK_NS: u64 = 40_000_000;
export const MAX_RETRANSMITS: i32 = 12;             // then the connection times out (about 5 minutes)
export const SYN_RETRIES: i32 = 6;                  // 1+2+4+...+32 s: 63 s
export const SYNACK_RETRIES: i32 = 5;
export const FIN_WAIT_2_NS: u64 = 60_000_000_000;   // after close(), how long the peer may take to finish
const INVALID_ACK_GAP_NS: u64 = 500_000_000;        // out-of-window pure ACKs answered at most this often

// Events waiting for the app.
const EV_CONNECT: i32 = 1;
const EV_DATA: i32 = 2;
const EV_WRITABLE: i32 = 4;
const EV_CLOSE: i32 = 8;

// What the connection's one retransmission timer is timing.
const TIMER_NONE = 0, TIMER_RTX = 1, TIMER_PERSIST = 2, TIMER_FIN_WAIT_2 = 3;

class RetransmitTimer extends TimerHandler {
  constructor(public conn: TcpConn) { super(); }
  onTimer(t: Timer): void { this.conn.onRetransmitTimer(); }
}

class AckTimer extends TimerHandler {
  constructor(public conn: TcpConn) { super(); }
  onTimer(t: Timer): void { this.conn.onAckTimer(); }
}

// Delivers the connection's events to its handler, from the loop, when the
// handler is not running.
class ConnEvents extends Task {
  constructor(public conn: TcpConn) { super(); }
  ready(): bool {
    const h = this.conn.handler;
    return h === null || !h.running;
  }
  run(): void { this.conn.deliver(); }
}

export class TcpConn {
  // Set once per slot.
  sendBuf!: SendBuffer;
  recvBuf!: ReceiveBuffer;
  private rtxTimer!: Timer;
  private ackTimer!: Timer;
  private events!: ConnEvents;

  // The app's side. `handler` may be replaced (e.g. in onConnect, to give
  // the connection an object of its own).
  handler: TcpHandler | null = null;
  listener: Listener | null = null;
  inUse: bool = false;
  state: i32 = TCP_CLOSED;
  closeReason: i32 = CLOSED_NORMALLY;
  noDelay: bool = false;
  private visible: bool = false;      // the app knows of it (active open, or onConnect posted)
  private counted: bool = false;      // counted in its listener's connections
  halfOpenCounted: bool = false;      // counted in its listener's half-open connections (SYN-RECEIVED)
  private pending: i32 = 0;           // EV_* waiting
  private queued: bool = false;       // `events` is in the loop's task queue
  private inCallback: bool = false;
  private wantWritable: bool = false;
  private appClosed: bool = false;    // close(): no more data for the app
  private endDelivered: bool = false;
  private dataStalled: bool = false;
  private offering: i32 = 0;          // bytes onData is being offered now (not unread if it closes)

  // Addresses.
  localIp: u32 = 0;
  remoteIp: u32 = 0;
  localPort: u16 = 0;
  remotePort: u16 = 0;
  hashNext: i32 = -1;                 // the Tcp's demux chain
  hashed: bool = false;
  dirty: bool = false;                // in the Tcp's flush list
  txBlocked: bool = false;            // the device refused our last segment

  // Send sequence space (RFC 9293 §3.3.1).
  iss: u32 = 0;
  sndUna: u32 = 0;
  sndNxt: u32 = 0;
  sndMax: u32 = 0;                    // the highest sequence number sent (SND.NXT before a timeout rewound it)
  sndWnd: u32 = 0;                    // scaled
  sndWl1: u32 = 0;
  sndWl2: u32 = 0;
  maxSndWnd: u32 = 0;
  sndWscale: i32 = 0;
  sendMss: i32 = 536;                 // payload bytes per segment (options taken off)
  finQueued: bool = false;            // shutdown(): a FIN follows the data
  finSeq: u32 = 0;                    // its sequence number

  // Receive sequence space.
  irs: u32 = 0;
  rcvNxt: u32 = 0;
  rcvAdv: u32 = 0;                    // right edge of the window we advertised
  rcvWscale: i32 = 0;
  rcvMss: i32 = 536;                  // the peer's segments, for ACK pacing
  lastAckSent: u32 = 0;
  finReceived: bool = false;
  pendingFin: bool = false;           // a FIN arrived out of order, at pendingFinSeq
  pendingFinSeq: u32 = 0;
  private ackPending: bool = false;   // an ACK is owed (delayed)
  private ackNow: bool = false;       // an ACK is owed now
  private bytesSinceAck: i32 = 0;
  private lastInvalidAck: u64 = 0;

  // Options negotiated.
  tsOk: bool = false;
  sackOk: bool = false;
  wsOk: bool = false;                 // both sides scale windows
  tsRecent: u32 = 0;
  tsOffset: u32 = 0;

  // Round-trip time and retransmission (RFC 6298), ns.
  srtt: u64 = 0;
  rttvar: u64 = 0;
  rto: u64 = RTO_INITIAL_NS;
  private rttTiming: bool = false;
  private rttSeq: u32 = 0;
  private rttTime: u64 = 0;
  retransmits: i32 = 0;               // consecutive timeouts (or probes unanswered)
  private probes: i32 = 0;            // window probes since the window closed (their backoff)
  private timerKind: i32 = TIMER_NONE;

  // Congestion control (RFC 5681, RFC 6582), bytes.
  cwnd: u32 = 0;
  ssthresh: u32 = 0x7fffffff;
  private caAcked: u32 = 0;
  dupAcks: i32 = 0;
  recover: u32 = 0;
  inRecovery: bool = false;

  // Counters for this connection.
  bytesIn: u64 = 0;
  bytesOut: u64 = 0;
  segmentsRetransmitted: u64 = 0;

  constructor(public tcp: Tcp, public id: i32) {
    this.sendBuf = new SendBuffer(tcp.options.sendBuffer);
    this.recvBuf = new ReceiveBuffer(tcp.options.receiveBuffer);
    this.rtxTimer = new Timer(new RetransmitTimer(this));
    this.ackTimer = new Timer(new AckTimer(this));
    this.events = new ConnEvents(this);
  }

  // ---- the app's API

  // Copies up to `len` bytes from `ptr` into the send buffer; returns how
  // many it took (0 when the buffer is full: onWritable follows when there
  // is room), or -1 when the connection can no longer send (closed, shut
  // down, reset). Data goes out as the peer's window and congestion allow;
  // writes made inside a handler call go out together when it returns.
  writeRaw(ptr: usize, len: i32): i32 {
    if (!this.canWrite()) return -1;
    if (len <= 0) return 0;
    const n = this.sendBuf.write(ptr, len);
    if (n < len) this.wantWritable = true;
    if (n > 0) this.afterAppCall();
    return n;
  }

  write(data: Uint8Array): i32 {
    return this.writeRaw(data.dataStart, data.length);
  }

  // Writes a string as UTF-8 (for small texts: it allocates the encoding).
  writeString(text: string): i32 {
    const bytes = String.UTF8.encode(text);
    return this.writeRaw(changetype<usize>(bytes), bytes.byteLength);
  }

  // Room left in the send buffer now.
  writable(): i32 {
    return this.canWrite() ? this.sendBuf.free() : 0;
  }

  // Asks for onWritable once the send buffer has room (a quarter of it)
  // again, for an app that checked writable() and chose to wait.
  notifyWhenWritable(): void {
    if (!this.canWrite()) return;
    if (this.sendBuf.free() >= (this.sendBuf.cap >> 2)) this.post(EV_WRITABLE);
    else this.wantWritable = true;
  }

  // Ends our direction: a FIN follows the data already written; the peer
  // may go on sending (half-close).
  shutdown(): void {
    if (this.finQueued || !this.canWrite()) return;
    this.finQueued = true;
    this.finSeq = this.sndUna + <u32>this.sendBuf.len + (this.state == TCP_SYN_SENT || this.state == TCP_SYN_RECEIVED ? 1 : 0);
    if (this.state == TCP_ESTABLISHED) this.state = TCP_FIN_WAIT_1;
    else if (this.state == TCP_CLOSE_WAIT) this.state = TCP_LAST_ACK;
    this.afterAppCall();
  }

  // Closes the connection gracefully: what was written still goes out,
  // then a FIN; the app gets no more data. Unread data, or data arriving
  // after close(), resets the connection (RFC 1122 §4.2.2.13). onClose
  // follows once the connection is over.
  close(): void {
    if (this.state == TCP_CLOSED || this.appClosed) return;
    this.appClosed = true;
    if (this.recvBuf.ready > this.offering) { this.abort(); return; }
    if (this.state == TCP_SYN_SENT) { this.finish(CLOSED_ABORTED); return; }
    this.shutdown();
    if (this.state == TCP_FIN_WAIT_2) this.armTimer(TIMER_FIN_WAIT_2, FIN_WAIT_2_NS);
  }

  // Resets the connection at once (RST), dropping anything unsent.
  abort(): void {
    if (this.state == TCP_CLOSED) return;
    if (this.state != TCP_SYN_SENT) this.sendReset(this.sndNxt);
    this.finish(CLOSED_ABORTED);
  }

  // Turns Nagle's algorithm off (small writes go out at once) or on.
  setNoDelay(on: bool): void { this.noDelay = on; }

  // Offers the data onData left unread again (e.g. once the app has room for it).
  resumeData(): void {
    if (this.recvBuf.ready > 0 || (this.finReceived && !this.endDelivered)) this.post(EV_DATA);
  }

  stateName(): string { return STATE_NAMES[this.state]; }

  // Bytes written and not yet acknowledged by the peer.
  unacknowledged(): i32 { return this.sendBuf.len; }

  private canWrite(): bool {
    const s = this.state;
    return !this.finQueued && (s == TCP_ESTABLISHED || s == TCP_CLOSE_WAIT || s == TCP_SYN_SENT || s == TCP_SYN_RECEIVED);
  }

  // After a write or shutdown: inside a handler call, output waits for its end.
  private afterAppCall(): void {
    if (this.inCallback) { this.markDirty(); return; }
    this.output(monotonicNs(), false);
  }

  // ---- opening

  private resetState(): void {
    this.sendBuf.reset();
    this.recvBuf.reset();
    this.handler = null;
    this.listener = null;
    this.state = TCP_CLOSED;
    this.closeReason = CLOSED_NORMALLY;
    this.noDelay = false;
    this.visible = false;
    this.counted = false;
    this.halfOpenCounted = false;
    this.pending = 0;
    this.queued = false;
    this.inCallback = false;
    this.wantWritable = false;
    this.appClosed = false;
    this.endDelivered = false;
    this.dataStalled = false;
    this.hashNext = -1;
    this.hashed = false;
    this.dirty = false;
    this.txBlocked = false;
    this.finQueued = false;
    this.finReceived = false;
    this.pendingFin = false;
    this.ackPending = false;
    this.ackNow = false;
    this.bytesSinceAck = 0;
    this.lastInvalidAck = 0;
    this.tsOk = false;
    this.sackOk = false;
    this.wsOk = false;
    this.tsRecent = 0;
    this.srtt = 0;
    this.rttvar = 0;
    this.rto = RTO_INITIAL_NS;
    this.rttTiming = false;
    this.retransmits = 0;
    this.probes = 0;
    this.timerKind = TIMER_NONE;
    this.ssthresh = 0x7fffffff;
    this.caAcked = 0;
    this.dupAcks = 0;
    this.inRecovery = false;
    this.sndWscale = 0;
    this.rcvWscale = 0;
    this.bytesIn = 0;
    this.bytesOut = 0;
    this.segmentsRetransmitted = 0;
  }

  private setAddresses(localIp: u32, localPort: u16, remoteIp: u32, remotePort: u16): void {
    this.localIp = localIp;
    this.localPort = localPort;
    this.remoteIp = remoteIp;
    this.remotePort = remotePort;
    this.tsOffset = this.tcp.secrets.tsOffset(localIp, localPort, remoteIp, remotePort);
  }

  // The window scale we offer: the smallest that lets the window cover the buffer.
  private ourWscale(): i32 {
    let s = 0;
    while (s < MAX_WSCALE && (this.recvBuf.cap >> s) > 65535) s++;
    return s;
  }

  private setMss(peerMss: i32): void {
    const ours = this.tcp.ourMss();
    const mss = peerMss > 0 ? min(peerMss, ours) : 536;   // RFC 9293 §3.7.1: 536 without the option
    this.rcvMss = mss;
    this.sendMss = max(mss - (this.tsOk ? 12 : 0), 64);
    this.cwnd = <u32>min(10 * this.sendMss, max(2 * this.sendMss, 14600));  // RFC 6928
  }

  // Active open: a SYN to remoteIp:remotePort.
  openActive(handler: TcpHandler, localIp: u32, localPort: u16, remoteIp: u32, remotePort: u16): void {
    this.resetState();
    this.inUse = true;
    this.handler = handler;
    this.visible = true;
    this.setAddresses(localIp, localPort, remoteIp, remotePort);
    const now = monotonicNs();
    this.iss = this.tcp.secrets.isn(localIp, localPort, remoteIp, remotePort, now);
    this.sndUna = this.iss;
    this.sndNxt = this.iss + 1;
    this.sndMax = this.sndNxt;
    this.recover = this.iss;
    this.rcvWscale = this.ourWscale();
    this.state = TCP_SYN_SENT;
    this.setMss(0);
    this.sendSyn(false, now);
    this.armTimer(TIMER_RTX, this.rto);
  }

  // Passive open from a SYN (state SYN-RECEIVED), or straight to
  // ESTABLISHED from a SYN cookie's ACK (`cookieMss` > 0, `iss` the cookie).
  openPassive(l: Listener, s: Segment, iss: u32, cookieMss: i32, cookieWscale: i32, cookieSack: bool, now: u64): void {
    this.resetState();
    this.inUse = true;
    this.listener = l;
    this.handler = l.handler;
    this.setAddresses(s.dst, s.dstPort, s.src, s.srcPort);
    this.iss = iss;
    this.recover = iss;
    if (cookieMss == 0) {
      this.irs = s.seq;
      this.rcvNxt = s.seq + 1;
      this.tsOk = s.hasTs;
      if (s.hasTs) this.tsRecent = s.tsVal;
      this.sackOk = s.sackOk;
      if (s.wscale >= 0) { this.wsOk = true; this.sndWscale = s.wscale; this.rcvWscale = this.ourWscale(); }
      this.setMss(s.mss);
      this.sndUna = iss;
      this.sndNxt = iss + 1;
      this.sndMax = this.sndNxt;
      this.sndWnd = s.window;             // a SYN's window is never scaled (RFC 7323 §2.2)
      this.sndWl1 = s.seq;
      this.sndWl2 = iss;
      this.maxSndWnd = this.sndWnd;
      this.state = TCP_SYN_RECEIVED;
      this.sendSyn(true, now);
      this.armTimer(TIMER_RTX, this.rto);
    } else {
      this.irs = s.seq - 1;
      this.rcvNxt = s.seq;
      this.tsOk = s.hasTs;
      if (s.hasTs) this.tsRecent = s.tsVal;
      this.sackOk = cookieSack;
      if (cookieWscale >= 0) { this.wsOk = true; this.sndWscale = cookieWscale; this.rcvWscale = this.ourWscale(); }
      this.setMss(cookieMss);
      this.sndUna = iss + 1;
      this.sndNxt = iss + 1;
      this.sndMax = iss + 1;
      this.sndWnd = s.window << <u32>this.sndWscale;
      this.sndWl1 = s.seq;
      this.sndWl2 = s.ack;
      this.maxSndWnd = this.sndWnd;
      this.rcvAdv = this.rcvNxt + <u32>min(this.recvBuf.cap, 65535);   // what the cookie SYN-ACK offered
      this.lastAckSent = this.rcvNxt;
      this.establish();
    }
  }

  private establish(): void {
    this.state = this.finQueued ? TCP_FIN_WAIT_1 : TCP_ESTABLISHED;
    this.retransmits = 0;
    const l = this.listener;
    if (l !== null) {
      l.connections++;
      this.counted = true;
      if (this.state != TCP_CLOSED && !this.visible && this.halfOpenCounted) { l.halfOpen--; this.halfOpenCounted = false; }
    }
    this.visible = true;
    this.tcp.stats.established++;
    this.post(EV_CONNECT);
  }

  // ---- input

  // A segment for this connection (RFC 9293 §3.10.7.3 and .4).
  input(s: Segment, now: u64): void {
    this.tcp.stats.segmentsIn++;
    if (this.state == TCP_SYN_SENT) { this.inputSynSent(s, now); return; }
    const rst = (s.flags & RST) != 0;
    const seqLen = s.seqLen();
    // A retransmitted SYN while our SYN-ACK is unanswered: send it again.
    if (this.state == TCP_SYN_RECEIVED && (s.flags & (SYN | RST | ACK)) == SYN && s.seq == this.irs) {
      this.sendSyn(true, now);
      return;
    }
    // PAWS (RFC 7323 §5): an old duplicate with an older timestamp.
    if (this.tsOk && s.hasTs && !rst && seqLt(s.tsVal, this.tsRecent)) {
      this.tcp.stats.pawsRejected++;
      this.invalidSegment(s, now);
      return;
    }
    if (!this.acceptable(s.seq, seqLen)) {
      if (!rst) {
        this.tcp.stats.outOfWindow++;
        this.invalidSegment(s, now);
      }
      return;
    }
    if (rst) {
      // RFC 5961 §3.2: reset only on an exact match, else a challenge ACK.
      if (s.seq == this.rcvNxt) {
        this.tcp.stats.resetsReceived++;
        this.finish(CLOSED_RESET);
      } else {
        this.challengeAck(now);
      }
      return;
    }
    if (s.flags & SYN) { this.challengeAck(now); return; }     // RFC 5961 §4.2
    if (!(s.flags & ACK)) return;
    if (seqGt(s.ack, this.sndMax) || seqLt(s.ack, this.sndUna - this.maxSndWnd)) {
      // RFC 5961 §5.2: an acknowledgment of something we never sent.
      this.tcp.stats.badAcks++;
      this.challengeAck(now);
      return;
    }
    // RFC 7323 §4.3: TS.Recent follows the segment that fills Last.ACK.sent.
    if (this.tsOk && s.hasTs && seqLe(s.seq, this.lastAckSent) && seqGe(s.tsVal, this.tsRecent)) this.tsRecent = s.tsVal;
    if (this.state == TCP_SYN_RECEIVED) {
      if (!seqGt(s.ack, this.sndUna)) { this.sendBareReset(s.ack); return; }
      this.sndUna = this.iss + 1;
      this.sndWnd = s.window << <u32>this.sndWscale;
      this.maxSndWnd = this.sndWnd;
      this.sndWl1 = s.seq;
      this.sndWl2 = s.ack;
      cancelTimer(this.rtxTimer);
      this.timerKind = TIMER_NONE;
      if (this.retransmits == 0) this.rttSample(now - this.rttTime);
      this.establish();
    }
    if (!this.processAck(s, now)) return;
    this.processText(s, now);
  }

  private inputSynSent(s: Segment, now: u64): void {
    const f = s.flags;
    if (f & ACK) {
      if (seqLe(s.ack, this.iss) || seqGt(s.ack, this.sndMax)) {
        if (!(f & RST)) this.sendBareReset(s.ack);
        return;
      }
    }
    if (f & RST) {
      if (f & ACK) { this.tcp.stats.refused++; this.finish(CLOSED_REFUSED); }
      return;
    }
    if (!(f & SYN)) return;
    this.irs = s.seq;
    this.rcvNxt = s.seq + 1;
    this.tsOk = s.hasTs;
    if (s.hasTs) this.tsRecent = s.tsVal;
    this.sackOk = s.sackOk;
    if (s.wscale >= 0) { this.wsOk = true; this.sndWscale = s.wscale; }
    else this.rcvWscale = 0;   // the peer did not scale: neither do we
    this.setMss(s.mss);
    this.rcvAdv = this.rcvNxt + <u32>min(this.recvBuf.cap, 65535);   // what our SYN offered
    this.lastAckSent = this.rcvNxt;
    if (f & ACK) {
      this.sndUna = s.ack;
      this.sndWnd = s.window;
      this.maxSndWnd = this.sndWnd;
      this.sndWl1 = s.seq;
      this.sndWl2 = s.ack;
      cancelTimer(this.rtxTimer);
      this.timerKind = TIMER_NONE;
      if (this.retransmits == 0) this.rttSample(now - this.rttTime);
      this.establish();
      this.ackNow = true;
      this.markDirty();
    } else {
      // Simultaneous open (RFC 9293 §3.5).
      this.state = TCP_SYN_RECEIVED;
      this.visible = true;
      this.sendSyn(true, now);
    }
  }

  // The acceptability test of RFC 9293 §3.10.7.4.
  private acceptable(seq: u32, seqLen: u32): bool {
    const wnd = this.rcvAdv - this.rcvNxt;
    if (seqLen == 0) {
      if (wnd == 0) return seq == this.rcvNxt;
      return seqGe(seq, this.rcvNxt) && seqLt(seq, this.rcvNxt + wnd);
    }
    if (wnd == 0) return false;
    const last = seq + seqLen - 1;
    return (seqGe(seq, this.rcvNxt) && seqLt(seq, this.rcvNxt + wnd)) || (seqGe(last, this.rcvNxt) && seqLt(last, this.rcvNxt + wnd));
  }

  // An unacceptable segment: acknowledged, at once if it carried data
  // (the peer may be retransmitting what we have), else at most every
  // INVALID_ACK_GAP_NS (no ACK ping-pong with a confused peer).
  private invalidSegment(s: Segment, now: u64): void {
    if (s.len == 0 && !(s.flags & (SYN | FIN))) {
      if (now - this.lastInvalidAck < INVALID_ACK_GAP_NS) return;
      this.lastInvalidAck = now;
    }
    this.sendAck(now);
  }

  // RFC 5961 §7: challenge ACKs, within the Tcp's global rate limit.
  private challengeAck(now: u64): void {
    if (!this.tcp.challengeLimit.take(now)) { this.tcp.stats.challengeAcksLimited++; return; }
    this.tcp.stats.challengeAcks++;
    this.sendAck(now);
  }

  // The ACK field and window of an acceptable segment. Returns false if
  // the connection ended.
  private processAck(s: Segment, now: u64): bool {
    const ack = s.ack;
    const window = s.window << <u32>this.sndWscale;
    const dup = s.len == 0 && !(s.flags & (SYN | FIN)) && ack == this.sndUna && this.sndMax != this.sndUna && window == this.sndWnd;
    if (seqGt(ack, this.sndUna)) {
      let acked = <i32>(ack - this.sndUna);
      let finAcked = false;
      if (this.finQueued && seqGt(ack, this.finSeq) && seqLe(this.sndUna, this.finSeq)) { finAcked = true; acked--; }
      this.sendBuf.consume(acked);
      this.sndUna = ack;
      if (seqLt(this.sndNxt, this.sndUna)) this.sndNxt = this.sndUna;
      // Round-trip time: from the timestamp echo, else the timed segment (Karn).
      if (this.tsOk && s.hasTs && s.tsEcr != 0) {
        const ms = this.tsNow(now) - s.tsEcr;
        if (ms < 0x80000000) this.rttSample(<u64>ms * 1_000_000);
      } else if (this.rttTiming && seqGt(ack, this.rttSeq)) {
        this.rttTiming = false;
        this.rttSample(now - this.rttTime);
      }
      this.retransmits = 0;
      this.congestionOnAck(<u32>acked);
      if (this.sndUna == this.sndMax) {
        if (this.timerKind == TIMER_RTX) { cancelTimer(this.rtxTimer); this.timerKind = TIMER_NONE; }
      } else {
        this.armTimer(TIMER_RTX, this.rto);
      }
      if (this.wantWritable && this.sendBuf.free() >= (this.sendBuf.cap >> 2)) {
        this.wantWritable = false;
        this.post(EV_WRITABLE);
      }
      if (finAcked) {
        if (this.state == TCP_FIN_WAIT_1) {
          this.state = TCP_FIN_WAIT_2;
          if (this.appClosed) this.armTimer(TIMER_FIN_WAIT_2, FIN_WAIT_2_NS);
        } else if (this.state == TCP_CLOSING) {
          this.enterTimeWait(now);
          return false;
        } else if (this.state == TCP_LAST_ACK) {
          this.finish(CLOSED_NORMALLY);
          return false;
        }
      }
      this.markDirty();
    } else if (dup) {
      this.onDupAck();
    }
    // The send window (RFC 9293 §3.10.7.4, "ESTABLISHED STATE" ack processing).
    if (seqLt(this.sndWl1, s.seq) || (this.sndWl1 == s.seq && seqLe(this.sndWl2, ack))) {
      const opened = this.sndWnd == 0 && window > 0;
      this.sndWnd = window;
      this.sndWl1 = s.seq;
      this.sndWl2 = ack;
      if (window > this.maxSndWnd) this.maxSndWnd = window;
      if (opened) {
        if (this.timerKind == TIMER_PERSIST) { cancelTimer(this.rtxTimer); this.timerKind = TIMER_NONE; }
        this.probes = 0;
        this.markDirty();
      }
    }
    // Any answer from the peer means it is there: probes start counting afresh.
    if (this.timerKind == TIMER_PERSIST) this.retransmits = 0;
    return true;
  }

  // NewReno (RFC 6582 §3.2, RFC 5681 §3.2).
  private onDupAck(): void {
    this.dupAcks++;
    this.tcp.stats.dupAcksIn++;
    const mss = <u32>this.sendMss;
    if (this.inRecovery) {
      this.cwnd += mss;           // each dup ACK: a segment has left the network
      this.markDirty();
    } else if (this.dupAcks == 3 && seqGe(this.sndUna, this.recover)) {
      const flight = this.sndMax - this.sndUna;
      this.ssthresh = max<u32>(flight / 2, 2 * mss);
      this.recover = this.sndMax;
      this.inRecovery = true;
      this.tcp.stats.fastRetransmits++;
      this.retransmitFirst(monotonicNs());
      this.cwnd = this.ssthresh + 3 * mss;
      this.markDirty();
    }
  }

  private congestionOnAck(acked: u32): void {
    const mss = <u32>this.sendMss;
    if (this.inRecovery) {
      if (seqGe(this.sndUna, this.recover)) {
        // Full acknowledgment: leave recovery with cwnd deflated.
        const flight = this.sndMax - this.sndUna;
        this.cwnd = min<u32>(this.ssthresh, max<u32>(flight, mss) + mss);
        this.inRecovery = false;
        this.dupAcks = 0;
      } else {
        // Partial acknowledgment: the next hole goes out now.
        this.retransmitFirst(monotonicNs());
        this.cwnd = (this.cwnd > acked ? this.cwnd - acked : 0) + (acked >= mss ? mss : 0);
        if (this.cwnd < mss) this.cwnd = mss;
        this.armTimer(TIMER_RTX, this.rto);
      }
      return;
    }
    this.dupAcks = 0;
    if (this.cwnd < this.ssthresh) {
      // Slow start counts what was acknowledged (RFC 3465), all of it, as
      // Linux does: a receiver that acknowledges whole GSO frames at once
      // (dom0's GRO) sends few ACKs, and RFC 3465's limit of two segments
      // per ACK would keep the window small.
      this.cwnd += acked;
    } else {
      this.caAcked += acked;
      if (this.caAcked >= this.cwnd) { this.caAcked -= this.cwnd; this.cwnd += mss; }
    }
    const cap = <u32>this.sendBuf.cap * 2 + 2 * mss;
    if (this.cwnd > cap) this.cwnd = cap;
  }

  // RFC 6298 §2.2-2.4.
  private rttSample(rtt: u64): void {
    if (this.srtt == 0) {
      this.srtt = rtt;
      this.rttvar = rtt / 2;
    } else {
      const diff = this.srtt > rtt ? this.srtt - rtt : rtt - this.srtt;
      this.rttvar = (3 * this.rttvar + diff) / 4;
      this.srtt = (7 * this.srtt + rtt) / 8;
    }
    let rto = this.srtt + max<u64>(4 * this.rttvar, 1_000_000);
    if (rto < RTO_MIN_NS) rto = RTO_MIN_NS;
    if (rto > RTO_MAX_NS) rto = RTO_MAX_NS;
    this.rto = rto;
  }

  // Segment text and FIN (RFC 9293 §3.10.7.4, seventh and eighth).
  private processText(s: Segment, now: u64): void {
    const st = this.state;
    const takesData = st == TCP_ESTABLISHED || st == TCP_FIN_WAIT_1 || st == TCP_FIN_WAIT_2;
    let seq = s.seq;
    let data = s.data;
    let n = s.len;
    let fin = (s.flags & FIN) != 0;
    if (n > 0 && takesData) {
      if (this.appClosed && seqGt(seq + <u32>n, this.rcvNxt)) {
        // Data after close(): nobody will read it (RFC 1122 §4.2.2.13).
        this.abort();
        return;
      }
      if (seqLt(seq, this.rcvNxt)) {
        const d = <i32>(this.rcvNxt - seq);
        if (d >= n) { n = 0; this.sendAck(now); this.tcp.stats.duplicateSegments++; }
        else { data += <usize>d; n -= d; seq = this.rcvNxt; }
      }
      const limit = min(<i32>(this.rcvAdv - this.rcvNxt), this.recvBuf.space());
      const off = <i32>(seq - this.rcvNxt);
      if (n > 0 && off + n > limit) { n = max(limit - off, 0); fin = false; }
      if (n > 0) {
        if (off == 0) {
          this.recvBuf.put(0, data, n);
          this.recvBuf.append(n);
          this.rcvNxt += <u32>n;
          this.bytesIn += <u64>n;
          if (this.recvBuf.count > 0) {
            // It filled (part of) a hole: acknowledge now (RFC 5681 §4.2).
            const before = this.rcvNxt;
            this.rcvNxt = this.recvBuf.advance(this.rcvNxt);
            this.bytesIn += <u64>(this.rcvNxt - before);
            this.ackNow = true;
          }
          this.bytesSinceAck += n;
          if (this.bytesSinceAck >= 2 * this.rcvMss) this.ackNow = true;
          else this.ackPending = true;
          this.post(EV_DATA);
          this.markDirty();
        } else if (this.recvBuf.holds(this.rcvNxt, seq, seq + <u32>n)) {
          this.tcp.stats.duplicateSegments++;
          this.sendAck(now);
        } else {
          this.recvBuf.put(off, data, n);
          if (this.recvBuf.addRange(seq, seq + <u32>n)) this.tcp.stats.outOfOrder++;
          else this.tcp.stats.outOfOrderDropped++;
          if (fin) { this.pendingFin = true; this.pendingFinSeq = seq + <u32>n; fin = false; }
          this.sendAck(now);   // a duplicate ACK, with SACK blocks, at once
        }
      } else if (s.len > 0 && seqGe(seq, this.rcvNxt)) {
        // No room for it (a zero or full window): say so.
        this.sendAck(now);
      }
    }
    if (fin && s.len == 0 && takesData && seqGt(s.seq, this.rcvNxt) && !this.finReceived) {
      // A FIN beyond a hole: it counts once the hole is filled.
      this.pendingFin = true;
      this.pendingFinSeq = s.seq;
      this.sendAck(now);
      fin = false;
    }
    if (fin && takesData && seqGe(this.rcvNxt, s.seq + <u32>s.len) && !this.finReceived) {
      if (s.seq + <u32>s.len == this.rcvNxt) this.receiveFin(now);
    } else if (fin && !takesData && st != TCP_SYN_RECEIVED) {
      // A retransmitted FIN: acknowledge it again.
      this.ackNow = true;
      this.markDirty();
    }
    if (this.pendingFin && !this.finReceived && this.pendingFinSeq == this.rcvNxt && takesData) this.receiveFin(now);
  }

  private receiveFin(now: u64): void {
    this.rcvNxt++;
    this.finReceived = true;
    this.pendingFin = false;
    this.tcp.stats.finsReceived++;
    this.post(EV_DATA);   // the end of data, delivered after the data
    const st = this.state;
    if (st == TCP_ESTABLISHED) this.state = TCP_CLOSE_WAIT;
    else if (st == TCP_FIN_WAIT_1) this.state = TCP_CLOSING;
    else if (st == TCP_FIN_WAIT_2) { this.sendAck(now); this.enterTimeWait(now); return; }
    this.ackNow = true;
    this.markDirty();
  }

  private enterTimeWait(now: u64): void {
    this.tcp.timeWait.add(this.localIp, this.localPort, this.remoteIp, this.remotePort, this.sndNxt, this.rcvNxt,
      this.tsOk, this.tsRecent, this.tsOffset, now);
    this.finish(CLOSED_NORMALLY);
  }

  // ---- output

  // Our timestamp clock: milliseconds plus this connection's offset.
  @inline tsNow(now: u64): u32 { return <u32>(now / 1_000_000) + this.tsOffset; }

  // The window to advertise (bytes, before scaling), never moving the
  // right edge back, and not opening by less than an MSS or half the
  // buffer (receiver SWS avoidance, RFC 9293 §3.8.6.2.2).
  private windowToAdvertise(): u32 {
    let win = <u32>this.recvBuf.space();
    const adv = seqGt(this.rcvAdv, this.rcvNxt) ? this.rcvAdv - this.rcvNxt : 0;
    if (win < adv) win = adv;
    else if (win - adv < <u32>min(this.recvBuf.cap >> 1, this.rcvMss)) win = adv;
    return win;
  }

  // Payload bytes one segment carries now: the MSS less the options beyond
  // the timestamps (SACK blocks while we hold data out of order).
  private segmentLimit(): i32 {
    if (!this.sackOk || this.recvBuf.count == 0) return this.sendMss;
    return this.sendMss - 4 - 8 * min(this.recvBuf.count, this.tsOk ? 3 : 4);
  }

  // Builds and sends a segment of `n` bytes of send-buffer data starting
  // at `seq` (with SYN-ACK/FIN/RST as `flags` says); more than one
  // segment's worth goes as one GSO frame. Returns false if the device
  // pushed back.
  private sendSegment(seq: u32, n: i32, flags: u32, now: u64): bool {
    const frame = this.tcp.txFrame;
    const t = frame + <usize>FRAME_HEADROOM;
    let opt = 0;
    const o = t + <usize>TCP_HDR;
    if (flags & SYN) {
      // Our SYN offers everything; a SYN-ACK answers what the peer's SYN had.
      const active = this.state == TCP_SYN_SENT;
      opt = writeSynOptions(o, this.tcp.ourMss(), active || this.wsOk ? this.rcvWscale : -1, active || this.sackOk,
        active || this.tsOk, this.tsNow(now), this.tsRecent);
    } else {
      if (this.tsOk) opt += writeTsOption(o, this.tsNow(now), this.tsRecent);
      if (this.sackOk && this.recvBuf.count > 0 && !(flags & RST)) {
        const room = (40 - opt - 4) >> 3;
        const k = this.recvBuf.sackBlocks(this.tcp.sackStarts, this.tcp.sackEnds, min(room, 4));
        if (k > 0) opt += writeSackOption(o + <usize>opt, this.tcp.sackStarts, this.tcp.sackEnds, k);
      }
    }
    let win: u32 = 0;
    if (!(flags & RST)) {
      const bytes = this.windowToAdvertise();
      if (flags & SYN) {
        win = min<u32>(bytes, 65535);
      } else {
        win = min<u32>(bytes >> <u32>this.rcvWscale, 65535);
      }
      this.rcvAdv = this.rcvNxt + (flags & SYN ? win : win << <u32>this.rcvWscale);
    }
    const ackField = this.state == TCP_SYN_SENT && (flags & ACK) == 0 ? 0 : this.rcvNxt;
    writeHeader(t, this.localPort, this.remotePort, seq, ackField, flags, win, opt);
    const hdr = TCP_HDR + opt;
    // The payload is copied and summed in one pass; the header (always an
    // even length) is summed on its own.
    const data = n > 0 ? this.sendBuf.copyOut(<i32>(seq - this.sndUna), n, t + <usize>hdr) : 0;
    const len = hdr + n;
    store16(t + 16, finish(sumFast(t, hdr, addSums(data, pseudoHeaderSum(this.localIp, this.remoteIp, PROTO_TCP, len)))));
    const segment = this.segmentLimit();
    const r = this.tcp.stack.sendIpFrame(frame, this.remoteIp, PROTO_TCP, len, n > segment ? segment : 0);
    if (r == IP_DROPPED) {
      this.txBlocked = true;
      this.tcp.stats.txBlocked++;
      return false;
    }
    this.tcp.stats.segmentsOut++;
    if (flags & ACK) {
      this.lastAckSent = this.rcvNxt;
      this.ackNow = false;
      this.ackPending = false;
      this.bytesSinceAck = 0;
      if (this.ackTimer.active) cancelTimer(this.ackTimer);
    }
    return true;
  }

  private sendSyn(withAck: bool, now: u64): void {
    if (!withAck) this.rttTime = now;
    else if (this.retransmits == 0) this.rttTime = now;
    this.sendSegment(this.iss, 0, withAck ? SYN | ACK : SYN, now);
  }

  // A pure ACK, now.
  sendAck(now: u64): void {
    if (this.state == TCP_CLOSED || this.state == TCP_SYN_SENT) return;
    if (this.state == TCP_SYN_RECEIVED) { this.sendSyn(true, now); return; }
    this.sendSegment(this.sndNxt, 0, ACK, now);
  }

  private sendReset(seq: u32): void {
    this.tcp.stats.resetsSent++;
    this.sendSegment(seq, 0, RST | ACK, monotonicNs());
  }

  // An RST for a segment that does not belong here (seq = its ack).
  private sendBareReset(seq: u32): void {
    this.tcp.sendReset(this.localIp, this.localPort, this.remoteIp, this.remotePort, seq, 0, false);
  }

  // Sends what the windows allow (RFC 9293 §3.8.6.2.1 and Nagle), then an
  // ACK if one is owed and nothing carried it. `force`: the persist timer
  // fired: send what the (small) window takes even if SWS avoidance says wait.
  output(now: u64, force: bool): void {
    const st = this.state;
    if (st == TCP_CLOSED || st == TCP_SYN_SENT || st == TCP_SYN_RECEIVED) return;
    const canSend = st == TCP_ESTABLISHED || st == TCP_CLOSE_WAIT || st == TCP_FIN_WAIT_1 || st == TCP_CLOSING || st == TCP_LAST_ACK;
    let sent = false;
    while (canSend) {
      const dataEnd = this.sndUna + <u32>this.sendBuf.len;
      const unsent = seqGt(dataEnd, this.sndNxt) ? <i32>(dataEnd - this.sndNxt) : 0;
      const inflight = <i32>(this.sndNxt - this.sndUna);
      const wnd = <i32>min<u32>(min<u32>(this.sndWnd, this.cwnd), 0x7fffffff);
      const room = max(wnd - inflight, 0);
      const segment = this.segmentLimit();
      // With GSO, up to a GSO frame's worth of whole segments (or the tail) at once.
      const gso = this.tcp.gsoPayload(segment);
      let n = min(min(unsent, room), max(segment, gso));
      if (n > segment && n < unsent) n = n / segment * segment;
      const fin = this.finQueued && this.sndNxt + <u32>n == this.finSeq && unsent == n;
      if (n == 0 && !fin) break;
      if (n < segment && !fin && !force) {
        const all = n == unsent;
        if (!(all && (this.noDelay || inflight == 0)) && !(this.maxSndWnd > 0 && <u32>n >= this.maxSndWnd / 2)) break;
      }
      const rtx = seqLt(this.sndNxt, this.sndMax);
      if (!this.sendSegment(this.sndNxt, n, ACK | (fin ? FIN : 0) | (n > 0 && n == unsent ? PSH : 0), now)) break;
      force = false;
      if (!rtx && !this.tsOk && !this.rttTiming && n > 0) {
        this.rttTiming = true;
        this.rttSeq = this.sndNxt;
        this.rttTime = now;
      }
      if (rtx) { this.segmentsRetransmitted++; this.tcp.stats.retransmitted++; }
      this.bytesOut += <u64>n;
      this.sndNxt += <u32>n + (fin ? 1 : 0);
      if (seqGt(this.sndNxt, this.sndMax)) this.sndMax = this.sndNxt;
      sent = true;
      if (this.timerKind != TIMER_RTX) this.armTimer(TIMER_RTX, this.rto);
    }
    if (!sent && this.ackNow) this.sendAck(now);
    else if (!sent && this.ackPending && !this.ackTimer.active) armTimer(this.ackTimer, DELAYED_ACK_NS);
    // Data waits for the window, nothing is in flight: probe (persist).
    if (canSend && this.sndNxt == this.sndUna && this.timerKind == TIMER_NONE) {
      const dataEnd = this.sndUna + <u32>this.sendBuf.len;
      if (seqGt(dataEnd, this.sndNxt) || (this.finQueued && seqLe(this.sndNxt, this.finSeq))) this.armTimer(TIMER_PERSIST, this.rto);
    }
  }

  // Retransmits the first unacknowledged segment (fast retransmit, partial ACKs).
  private retransmitFirst(now: u64): void {
    const n = min(this.sendBuf.len, this.segmentLimit());
    const fin = this.finQueued && this.sndUna + <u32>n == this.finSeq;
    if (n == 0 && !fin) return;
    if (this.sendSegment(this.sndUna, n, ACK | (fin ? FIN : 0), now)) {
      this.segmentsRetransmitted++;
      this.tcp.stats.retransmitted++;
      this.rttTiming = false;
    }
  }

  // ---- timers

  private armTimer(kind: i32, ns: u64): void {
    this.timerKind = kind;
    armTimer(this.rtxTimer, ns);
  }

  onRetransmitTimer(): void {
    const kind = this.timerKind;
    this.timerKind = TIMER_NONE;
    const now = monotonicNs();
    if (this.state == TCP_CLOSED) return;
    if (kind == TIMER_FIN_WAIT_2) { this.finish(CLOSED_TIMEOUT); return; }
    if (kind == TIMER_PERSIST) { this.onPersist(now); return; }
    if (kind != TIMER_RTX) return;
    if (this.state == TCP_SYN_SENT || this.state == TCP_SYN_RECEIVED) {
      this.retransmits++;
      if (this.retransmits > (this.state == TCP_SYN_SENT ? SYN_RETRIES : SYNACK_RETRIES)) {
        this.tcp.stats.timeouts++;
        this.finish(CLOSED_TIMEOUT);
        return;
      }
      this.rto = min<u64>(this.rto * 2, RTO_MAX_NS);
      this.tcp.stats.retransmitted++;
      this.sendSyn(this.state == TCP_SYN_RECEIVED, now);
      this.armTimer(TIMER_RTX, this.rto);
      return;
    }
    if (this.sndUna == this.sndMax) return;
    this.retransmits++;
    this.tcp.stats.timeouts++;
    if (this.retransmits > MAX_RETRANSMITS) { this.finish(CLOSED_TIMEOUT); return; }
    // RFC 5681 §3.1 (eq. 4), RFC 6298 §5.5-5.6, RFC 6582 §4.
    const mss = <u32>this.sendMss;
    this.ssthresh = max<u32>((this.sndMax - this.sndUna) / 2, 2 * mss);
    this.cwnd = mss;
    this.caAcked = 0;
    this.inRecovery = false;
    this.dupAcks = 0;
    this.recover = this.sndMax;
    this.sndNxt = this.sndUna;
    this.rttTiming = false;
    this.rto = min<u64>(this.rto * 2, RTO_MAX_NS);
    this.output(now, true);
    if (this.timerKind != TIMER_RTX) this.armTimer(TIMER_RTX, this.rto);
  }

  private onPersist(now: u64): void {
    const dataEnd = this.sndUna + <u32>this.sendBuf.len;
    const waiting = seqGt(dataEnd, this.sndNxt) || (this.finQueued && seqLe(this.sndNxt, this.finSeq));
    if (!waiting) return;
    if (this.sndWnd > 0) { this.output(now, true); return; }
    this.retransmits++;
    if (this.retransmits > MAX_RETRANSMITS) { this.tcp.stats.timeouts++; this.finish(CLOSED_TIMEOUT); return; }
    // A window probe: an old sequence number, so the peer answers with its
    // window. Probes back off to one a minute and go on as long as the peer
    // answers them (RFC 9293 §3.8.6.1); `retransmits` counts unanswered ones.
    this.tcp.stats.windowProbes++;
    this.sendSegment(this.sndUna - 1, 0, ACK, now);
    this.probes++;
    this.armTimer(TIMER_PERSIST, min<u64>(this.rto << <u64>min(this.probes, 10), RTO_MAX_NS));
  }

  onAckTimer(): void {
    if (this.state == TCP_CLOSED) return;
    if (this.ackPending || this.ackNow) this.sendAck(monotonicNs());
  }

  // ---- the end

  // The connection is over: out of the demux table, timers off, the app
  // told (then the slot is freed), or the slot freed at once if the app
  // never knew of it.
  finish(reason: i32): void {
    if (this.state == TCP_CLOSED) return;
    this.tcp.unhash(this);
    cancelTimer(this.rtxTimer);
    cancelTimer(this.ackTimer);
    this.timerKind = TIMER_NONE;
    this.state = TCP_CLOSED;
    this.closeReason = reason;
    this.tcp.stats.closed++;
    const l = this.listener;
    if (l !== null) {
      if (this.halfOpenCounted) { l.halfOpen--; this.halfOpenCounted = false; }
      if (this.counted) { l.connections--; this.counted = false; }
    }
    if (this.visible) this.post(EV_CLOSE);
    else this.tcp.release(this);
  }

  // ---- the app's events

  private post(ev: i32): void {
    this.pending |= ev;
    if (!this.queued && !this.events.running) {
      this.queued = true;
      defer(this.events);
    }
  }

  // Calls the handler for the events waiting, in order: connect, data (and
  // the end of data), writable, close. A handler given in onConnect takes
  // the rest.
  deliver(): void {
    this.queued = false;
    let closed = false;
    for (let round = 0; round < 4 && this.pending != 0; round++) {
      const h = this.handler;
      if (h === null) { closed = (this.pending & EV_CLOSE) != 0; this.pending = 0; break; }
      if (h.running) break;   // a handler given in onConnect, busy elsewhere: later
      const ev = this.pending;
      this.pending = 0;
      h.running = true;
      this.inCallback = true;
      if (ev & EV_CONNECT) {
        h.onConnect(this);
        if (this.handler !== h) {
          h.running = false;
          this.inCallback = false;
          this.pending |= ev & ~EV_CONNECT;
          continue;
        }
      }
      if ((ev & EV_DATA) && this.readable()) this.deliverData(h);
      if ((ev & EV_WRITABLE) && this.canWrite()) h.onWritable(this);
      if (ev & EV_CLOSE) { h.onClose(this, this.closeReason); closed = true; }
      h.running = false;
      this.inCallback = false;
      if (closed) break;
    }
    if (closed) {
      this.pending = 0;
      this.tcp.release(this);
      return;
    }
    // What the handler wrote, and the window it opened, go out now.
    if (this.state != TCP_CLOSED) {
      if (this.windowGrewEnough()) this.ackNow = true;
      this.output(monotonicNs(), false);
    }
    if (this.pending != 0 && !this.queued) {
      this.queued = true;
      defer(this.events);
    }
  }

  // After the app read: a window update is worth sending when the window
  // was (nearly) closed and has opened by two segments or half the buffer.
  private windowGrewEnough(): bool {
    const adv = seqGt(this.rcvAdv, this.rcvNxt) ? <i32>(this.rcvAdv - this.rcvNxt) : 0;
    const now = this.recvBuf.space();
    return now - adv >= min(2 * this.rcvMss, this.recvBuf.cap >> 1);
  }

  // Whether the app still gets data: not after close(), nor after a reset
  // (a connection that ended normally still hands over what it received).
  private readable(): bool {
    return !this.appClosed && (this.state != TCP_CLOSED || this.closeReason == CLOSED_NORMALLY);
  }

  private deliverData(h: TcpHandler): void {
    this.dataStalled = false;
    while (this.recvBuf.ready > 0 && this.readable()) {
      const at = this.recvBuf.readAt();
      const n = this.recvBuf.readable();
      this.offering = n;
      let taken = h.onData(this, at, n);
      this.offering = 0;
      if (taken < 0) taken = 0;
      if (taken > n) taken = n;
      this.recvBuf.consume(taken);
      if (taken < n) { this.dataStalled = true; return; }
    }
    if (this.finReceived && !this.endDelivered && this.recvBuf.ready == 0 && this.readable()) {
      this.endDelivered = true;
      h.onEnd(this);
    }
  }

  // The Tcp's flush: ACKs owed and data the windows now allow.
  flush(now: u64): void {
    this.dirty = false;
    this.txBlocked = false;
    if (this.state == TCP_CLOSED) return;
    this.output(now, false);
  }

  markDirty(): void {
    if (!this.dirty) this.tcp.addDirty(this);
  }
}
