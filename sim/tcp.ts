// TCP for the sim's host stations (station.ts), after RFC 9293: active and
// passive open, in-order delivery with cumulative ACKs (out-of-order
// segments are dropped and the expected sequence number acknowledged again),
// the peer's window and MSS respected, go-back-N retransmission on a timer
// (1 s, doubling, 6 tries, then the connection is reset), FIN in both
// directions, RST. No TIME_WAIT, no congestion control, no window scaling,
// no options but MSS: a wire with no loss but what the guest drops. It is
// what carries `tsxen sim --forward PORT:PORT` (TCP) into the sim's network
// (gateway.ts), as QEMU's user network does under Xen.
import type { TimerHandle } from "./clock.ts";
import { IPPROTO_TCP, TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, tcp, type TcpInfo } from "./netswitch.ts";
import type { Station } from "./station.ts";

const WINDOW = 65535;
const OUR_MSS = 1460;
const DEFAULT_MSS = 536;            // RFC 9293 3.7.1, when the peer sends none
const RTO_NS = 1_000_000_000n;
const MAX_RETRIES = 6;
const FIRST_EPHEMERAL_PORT = 49152;

export type TcpState = "syn-sent" | "syn-received" | "established" | "fin-wait-1" | "fin-wait-2" | "close-wait" | "closing" | "last-ack" | "closed";

export interface TcpEvents {
  onOpen?(): void;
  onData(data: Uint8Array): void;
  // The peer sent FIN: no more data will come (we may still send).
  onEnd?(): void;
  // The connection is gone: null after an orderly close, else why (reset, timeout).
  onClose(error: string | null): void;
}

// Sequence number comparisons modulo 2^32.
const seqLt = (a: number, b: number): boolean => ((a - b) | 0) < 0;
const seqLe = (a: number, b: number): boolean => ((a - b) | 0) <= 0;
const add = (a: number, n: number): number => (a + n) >>> 0;

export class TcpConnection {
  state: TcpState;
  private sndUna: number;
  private sndNxt: number;
  private sndWnd = DEFAULT_MSS;
  private mss = DEFAULT_MSS;
  private rcvNxt = 0;
  private unsent: Uint8Array[] = [];   // written, not yet sent
  private inFlight: Uint8Array = new Uint8Array(0); // sent, not yet acknowledged (from sndUna)
  private closeRequested = false;
  private finSent = false;
  private retries = 0;
  private timer: TimerHandle | null = null;

  // An active open (syn-sent), or a passive one answering `syn` (syn-received).
  constructor(
    private readonly stack: TcpStack, readonly localPort: number, readonly remoteIp: string, readonly remotePort: number,
    private events: TcpEvents, private readonly iss: number, syn?: TcpInfo,
  ) {
    this.state = syn ? "syn-received" : "syn-sent";
    this.sndUna = iss;
    this.sndNxt = add(iss, 1);   // the SYN
    if (syn) {
      this.rcvNxt = add(syn.seq, 1);
      this.mss = Math.min(OUR_MSS, syn.mss ?? DEFAULT_MSS);
    }
  }

  get key(): string {
    return `${this.remoteIp}:${this.remotePort}:${this.localPort}`;
  }

  // Replaces the callbacks (a listener's accept hands them over this way).
  setEvents(events: TcpEvents): void {
    this.events = events;
  }

  write(data: Uint8Array): void {
    if (this.closeRequested || this.state === "closed") return;
    if (data.length) this.unsent.push(data.slice());
    this.pump();
  }

  // Sends FIN once everything written has gone out.
  close(): void {
    if (this.state === "closed") return;
    this.closeRequested = true;
    this.pump();
  }

  abort(reason = "aborted"): void {
    if (this.state === "closed") return;
    if (this.state !== "syn-sent") this.segment(TCP_RST | TCP_ACK, this.sndNxt);
    this.finish(reason);
  }

  // ---- output

  private segment(flags: number, seq: number, data?: Uint8Array, mss?: number): void {
    this.stack.station.sendIp(this.remoteIp, IPPROTO_TCP, tcp(this.stack.station.me.ip, this.remoteIp, {
      srcPort: this.localPort, dstPort: this.remotePort, seq, ack: flags & TCP_ACK ? this.rcvNxt : 0, flags, window: WINDOW, mss, data,
    }));
  }

  sendSyn(): void {
    this.segment(this.state === "syn-sent" ? TCP_SYN : TCP_SYN | TCP_ACK, this.iss, undefined, OUR_MSS);
    this.arm();
  }

  private get synchronized(): boolean {
    return this.state !== "syn-sent" && this.state !== "syn-received" && this.state !== "closed";
  }

  // Sends what the window allows, then FIN if asked to close and all is sent.
  private pump(): void {
    if (!this.synchronized) return;
    const flightLen = this.inFlight.length;
    let room = this.sndWnd - flightLen;
    while (room > 0 && this.unsent.length) {
      const head = this.unsent[0];
      const n = Math.min(room, this.mss, head.length);
      const chunk = head.subarray(0, n);
      this.segment(TCP_ACK | TCP_PSH, this.sndNxt, chunk);
      this.sndNxt = add(this.sndNxt, n);
      this.inFlight = concat(this.inFlight, chunk);
      if (n === head.length) this.unsent.shift();
      else this.unsent[0] = head.subarray(n);
      room -= n;
    }
    const canFin = this.state === "established" || this.state === "close-wait";
    if (this.closeRequested && !this.finSent && this.unsent.length === 0 && canFin) {
      this.segment(TCP_FIN | TCP_ACK, this.sndNxt);
      this.sndNxt = add(this.sndNxt, 1);
      this.finSent = true;
      this.state = this.state === "established" ? "fin-wait-1" : "last-ack";
    }
    if (this.sndNxt !== this.sndUna || this.unsent.length) this.arm();
  }

  private arm(): void {
    if (this.timer) return;
    this.timer = this.stack.station.dom0.after(RTO_NS << BigInt(this.retries), () => this.expired());
  }

  private disarm(): void {
    this.timer?.cancel();
    this.timer = null;
  }

  // Nothing acknowledged in time: send everything unacknowledged again
  // (go-back-N; a one-byte window probe when the peer's window is shut), or give up.
  private expired(): void {
    this.timer = null;
    if (this.state === "closed") return;
    if (++this.retries > MAX_RETRIES) return this.abort("timed out");
    if (this.state === "syn-sent" || this.state === "syn-received") return this.sendSyn();
    let seq = this.sndUna;
    for (let at = 0; at < this.inFlight.length; at += this.mss) {
      const chunk = this.inFlight.subarray(at, at + this.mss);
      this.segment(TCP_ACK | TCP_PSH, seq, chunk);
      seq = add(seq, chunk.length);
    }
    if (this.finSent && seq !== this.sndNxt) this.segment(TCP_FIN | TCP_ACK, seq);
    if (this.sndWnd === 0 && this.inFlight.length === 0 && this.unsent.length) {
      this.sndWnd = 1;
      this.pump();
      this.sndWnd = 0;
    }
    this.arm();
  }

  // ---- input

  input(seg: TcpInfo): void {
    if (this.state === "closed") return;
    if (seg.flags & TCP_RST) {
      // RFC 5961: only a reset at the expected place counts (or, in syn-sent, one acknowledging our SYN)
      const ok = this.state === "syn-sent" ? (seg.flags & TCP_ACK) !== 0 && seg.ack === this.sndNxt : seg.seq === this.rcvNxt;
      if (ok) this.finish("connection reset by peer");
      return;
    }
    if (this.state === "syn-sent") return this.synSent(seg);
    if (seg.flags & TCP_SYN) {
      // a retransmitted SYN (our SYN-ACK was lost) or one inside the connection: answer with an ACK
      if (this.state === "syn-received") this.sendSyn();
      else this.segment(TCP_ACK, this.sndNxt);
      return;
    }
    if (!(seg.flags & TCP_ACK)) return;
    if (this.state === "syn-received") {
      if (seg.ack !== this.sndNxt) return this.segment(TCP_RST, seg.ack);
      this.state = "established";
      this.sndUna = seg.ack;
      this.sndWnd = seg.window;
      this.retries = 0;
      this.disarm();
      this.events.onOpen?.();
    }
    this.acknowledged(seg);
    if ((this.state as TcpState) === "closed") return;   // the ACK of our FIN ended it
    this.received(seg);
    this.pump();
  }

  private synSent(seg: TcpInfo): void {
    if (!(seg.flags & TCP_SYN) || !(seg.flags & TCP_ACK)) return;
    if (seg.ack !== this.sndNxt) return this.segment(TCP_RST, seg.ack);
    this.rcvNxt = add(seg.seq, 1);
    this.sndUna = seg.ack;
    this.sndWnd = seg.window;
    this.mss = Math.min(OUR_MSS, seg.mss ?? DEFAULT_MSS);
    this.state = "established";
    this.retries = 0;
    this.disarm();
    this.segment(TCP_ACK, this.sndNxt);
    this.events.onOpen?.();
    this.pump();
  }

  private acknowledged(seg: TcpInfo): void {
    if (seqLt(this.sndUna, seg.ack) && seqLe(seg.ack, this.sndNxt)) {
      let acked = (seg.ack - this.sndUna) >>> 0;
      const finAcked = this.finSent && seg.ack === this.sndNxt;
      if (finAcked) acked--;
      this.inFlight = this.inFlight.subarray(Math.min(acked, this.inFlight.length));
      this.sndUna = seg.ack;
      this.retries = 0;
      this.disarm();
      if (finAcked) {
        if (this.state === "fin-wait-1") this.state = "fin-wait-2";
        else if (this.state === "closing" || this.state === "last-ack") return this.finish(null);
      }
    }
    this.sndWnd = seg.window;
  }

  private received(seg: TcpInfo): void {
    const fin = (seg.flags & TCP_FIN) !== 0;
    if (seg.data.length === 0 && !fin) return;
    if (seg.seq !== this.rcvNxt) {
      this.segment(TCP_ACK, this.sndNxt);   // duplicate or out of order: say what we expect
      return;
    }
    const open = this.state === "established" || this.state === "fin-wait-1" || this.state === "fin-wait-2";
    if (seg.data.length && open) {
      this.rcvNxt = add(this.rcvNxt, seg.data.length);
      this.events.onData(seg.data);
    }
    if (fin) {
      this.rcvNxt = add(this.rcvNxt, 1);
      this.segment(TCP_ACK, this.sndNxt);
      this.events.onEnd?.();
      if (this.state === "established") this.state = "close-wait";
      else if (this.state === "fin-wait-1") this.state = "closing";
      else if (this.state === "fin-wait-2") return this.finish(null);
    } else {
      this.segment(TCP_ACK, this.sndNxt);
    }
  }

  private finish(error: string | null): void {
    if (this.state === "closed") return;
    this.state = "closed";
    this.disarm();
    this.stack.forget(this);
    this.events.onClose(error);
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

// A station's TCP: connections by (remote address, remote port, local
// port), listeners by port; segments for neither get a RST.
export class TcpStack {
  private readonly connections = new Map<string, TcpConnection>();
  private readonly listeners = new Map<number, (conn: TcpConnection) => TcpEvents>();
  private nextPort = FIRST_EPHEMERAL_PORT;
  private nextIss = 0x1000;

  constructor(readonly station: Station) {
    station.tcp = (srcIp, seg) => this.input(srcIp, seg);
  }

  listen(port: number, accept: (conn: TcpConnection) => TcpEvents): void {
    this.listeners.set(port, accept);
  }

  connect(remoteIp: string, remotePort: number, events: TcpEvents): TcpConnection {
    let port = this.nextPort;
    while (this.connections.has(`${remoteIp}:${remotePort}:${port}`)) port = port === 65535 ? FIRST_EPHEMERAL_PORT : port + 1;
    this.nextPort = port === 65535 ? FIRST_EPHEMERAL_PORT : port + 1;
    const conn = new TcpConnection(this, port, remoteIp, remotePort, events, this.iss());
    this.connections.set(conn.key, conn);
    conn.sendSyn();
    return conn;
  }

  forget(conn: TcpConnection): void {
    if (this.connections.get(conn.key) === conn) this.connections.delete(conn.key);
  }

  // Different initial sequence numbers per connection (RFC 9293 3.4.1 asks for a clock; this is a sim).
  private iss(): number {
    this.nextIss = (this.nextIss + 0x10000 * 251) >>> 0;
    return this.nextIss;
  }

  private input(srcIp: string, seg: TcpInfo): void {
    const conn = this.connections.get(`${srcIp}:${seg.srcPort}:${seg.dstPort}`);
    if (conn) return conn.input(seg);
    const accept = this.listeners.get(seg.dstPort);
    if (accept && (seg.flags & (TCP_SYN | TCP_ACK | TCP_RST)) === TCP_SYN) {
      const c = new TcpConnection(this, seg.dstPort, srcIp, seg.srcPort, { onData: () => {}, onClose: () => {} }, this.iss(), seg);
      c.setEvents(accept(c));
      this.connections.set(c.key, c);
      c.sendSyn();
      return;
    }
    if (seg.flags & TCP_RST) return;
    // RFC 9293 3.10.7.1: no connection, answer with a reset
    const ackable = (seg.flags & TCP_ACK) !== 0;
    const len = seg.data.length + (seg.flags & TCP_SYN ? 1 : 0) + (seg.flags & TCP_FIN ? 1 : 0);
    this.station.sendIp(srcIp, IPPROTO_TCP, tcp(this.station.me.ip, srcIp, {
      srcPort: seg.dstPort, dstPort: seg.srcPort, seq: ackable ? seg.ack : 0, ack: ackable ? 0 : add(seg.seq, len),
      flags: ackable ? TCP_RST : TCP_RST | TCP_ACK, window: 0,
    }));
  }
}
