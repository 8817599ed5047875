// A TCP host on the sim's wire (our own, for tests): the far end of the
// guest's connections, over a Link (link.ts). It follows RFC 9293 enough
// to be a fair peer: three-way handshakes both ways, MSS, window scaling
// and timestamps (RFC 7323), SACK both ways (RFC 2018: it acknowledges
// out-of-order data with SACK blocks and, as a sender, retransmits the
// holes the guest's SACK blocks show, RFC 6675 style, else after three
// duplicate ACKs), slow start and congestion avoidance, a retransmission
// timer with backoff, FIN and RST. It checks what the guest sends (IPv4
// and TCP checksums, ACKs within what it sent, data consistent with what
// already arrived) and records every violation in `violations`.
//
// Knobs make it a hostile or broken peer: a zero window forever, never
// acknowledging, no SACK, no timestamps; and sendRaw() puts any segment
// on the wire. Stream positions are kept as plain numbers (offsets from
// the first data byte), converted to 32-bit sequence numbers on the wire.
import type { Dom0 } from "./hypervisor.ts";
import type { TimerHandle } from "./clock.ts";
import type { Link } from "./link.ts";
import {
  arpRequestFrame, arpReplyFrame, parseFrame, tcpFrame, ARP_REQUEST, ARP_REPLY, IPPROTO_TCP,
  TCP_FIN, TCP_SYN, TCP_RST, TCP_ACK, TCP_PSH, type Endpoint, type ParsedFrame, type TcpInfo, type TcpSegmentOut,
} from "./netswitch.ts";

export interface PeerOptions {
  mss?: number;              // default 1460
  wscale?: number | null;    // default 7; null: no window scaling
  sack?: boolean;            // default true
  timestamps?: boolean;      // default true
  receiveWindow?: number;    // bytes offered (default 1 MiB)
  ackEvery?: number;         // in-order segments per ACK (default 2; out-of-order ones are acknowledged at once)
  zeroWindow?: boolean;      // offer a zero window forever (never reads)
  neverAck?: boolean;        // acknowledge nothing after the handshake
  rtoMinNs?: bigint;         // default 200 ms
}

export interface PeerEvents {
  onOpen?(c: PeerConn): void;
  onData?(c: PeerConn, data: Uint8Array): void;   // in order, each byte once
  onEnd?(c: PeerConn): void;                      // the guest's FIN (after all its data)
  onClose?(c: PeerConn, why: "reset" | "done" | "timeout"): void;
}

const MS = 1_000_000n;
const u32 = (n: number) => n >>> 0;
// a - b for 32-bit sequence numbers, as a signed distance.
const diff = (a: number, b: number) => (a - b) | 0;

interface SentSeg {
  off: number;       // stream offset of its first byte
  len: number;       // data bytes (the FIN, if any, is not counted here)
  fin: boolean;
  sacked: boolean;
  lost: boolean;     // to be retransmitted
  sentAt: bigint;
  retransmitted: boolean;
}

// The guest's view of a stream position: iss + 1 + offset.
export class PeerConn {
  state: "syn-sent" | "syn-received" | "established" | "closed" = "closed";
  readonly events: PeerEvents;
  readonly opts: Required<Omit<PeerOptions, "wscale">> & { wscale: number | null };
  localPort: number;
  remotePort: number;
  iss = 0;
  irs = 0;
  // Negotiated.
  sendMss = 536;
  tsOk = false;
  sackOk = false;
  wsOk = false;           // both sides scale windows
  sndShift = 0;           // the guest's window scale
  rcvShift = 0;           // ours
  tsRecent = 0;
  // Send side (offsets).
  source: ((offset: number, length: number) => Uint8Array) | null = null;
  total = 0;              // bytes to send
  finWanted = false;
  finSent = false;
  finAcked = false;
  sndUna = 0;
  sndNxt = 0;             // next new byte to send
  guestWindow = 0;        // bytes, scaled
  private inflight: SentSeg[] = [];
  cwnd = 0;
  ssthresh = 1 << 30;
  private dupAcks = 0;
  private inRecovery = false;
  private recoveryPoint = 0;
  private srtt = 0n;
  private rttvar = 0n;
  rto = 1000n * MS;
  private backoff = 0;
  private rtxTimer: TimerHandle | null = null;
  // Receive side.
  rcvNxt = 0;             // offset of the next byte expected from the guest
  private ooo = new Map<number, Uint8Array>();
  private finAt = -1;     // offset of the guest's FIN once known
  finReceived = false;
  private unacked = 0;
  private ackTimer: TimerHandle | null = null;
  // Counters.
  readonly stats = { segmentsIn: 0, segmentsOut: 0, retransmits: 0, timeouts: 0, fastRecoveries: 0, dupAcksIn: 0, sackBlocksIn: 0, bytesIn: 0, windowProbes: 0, zeroWindowAcks: 0 };

  constructor(private readonly host: TcpHost, localPort: number, remotePort: number, events: PeerEvents, opts: PeerOptions) {
    this.localPort = localPort;
    this.remotePort = remotePort;
    this.events = events;
    this.opts = { mss: 1460, sack: true, timestamps: true, receiveWindow: 1 << 20, ackEvery: 2, zeroWindow: false, neverAck: false, rtoMinNs: 200n * MS, ...opts, wscale: opts.wscale === undefined ? 7 : opts.wscale };
  }

  // Data to send: `total` bytes made by `source`, then (with `fin`) a FIN.
  sendStream(total: number, source: (offset: number, length: number) => Uint8Array, fin: boolean): void {
    this.source = source;
    this.total = total;
    this.finWanted = fin;
    if (this.state === "established") this.trySend();
  }

  // A FIN after what was given to sendStream (or now, with nothing to send).
  finish(): void {
    this.finWanted = true;
    if (this.state === "established") this.trySend();
  }

  abort(): void {
    if (this.state === "closed") return;
    this.emit({ seq: this.seqOf(this.sndNxt), ack: this.ackField(), flags: TCP_RST | TCP_ACK, window: 0 }, false);
    this.close("reset", false);
  }

  private get dom0(): Dom0 { return this.host.dom0; }
  private now(): bigint { return this.host.now(); }
  private tsNow(): number { return u32(Number(this.now() / MS)); }
  seqOf(offset: number): number { return u32(this.iss + 1 + offset); }
  private ackField(): number { return u32(this.irs + 1 + this.rcvNxt + (this.finReceived ? 1 : 0)); }

  private windowField(): number {
    if (this.opts.zeroWindow) return 0;
    return Math.min(0xffff, Math.floor(this.opts.receiveWindow / 2 ** this.rcvShift));
  }

  private options(syn: boolean): TcpSegmentOut["options"] {
    const o: NonNullable<TcpSegmentOut["options"]> = {};
    if (syn) {
      o.mss = this.opts.mss;
      if (this.opts.wscale !== null && (this.state === "syn-sent" || this.wsOk)) o.wscale = this.opts.wscale;
      if (this.opts.sack) o.sackOk = true;
      if (this.opts.timestamps) o.ts = [this.tsNow(), this.tsRecent];
      return o;
    }
    if (this.tsOk) o.ts = [this.tsNow(), this.tsRecent];
    if (this.sackOk && this.ooo.size > 0) o.sack = this.sackBlocks(this.tsOk ? 3 : 4);
    return o;
  }

  private emit(t: Omit<TcpSegmentOut, "srcPort" | "dstPort">, syn: boolean): void {
    this.stats.segmentsOut++;
    this.host.transmit({ srcPort: this.localPort, dstPort: this.remotePort, options: this.options(syn), ...t });
  }

  // ---- opening

  openActive(): void {
    this.iss = this.host.randomIss();
    this.state = "syn-sent";
    this.sendSyn();
  }

  private sendSyn(): void {
    const synAck = this.state === "syn-received";
    this.emit({ seq: this.iss, ack: synAck ? u32(this.irs + 1) : 0, flags: synAck ? TCP_SYN | TCP_ACK : TCP_SYN, window: Math.min(0xffff, this.opts.receiveWindow) }, true);
    this.armRtx();
  }

  openPassive(t: TcpInfo): void {
    this.iss = this.host.randomIss();
    this.irs = t.seq;
    this.takeSynOptions(t);
    this.state = "syn-received";
    this.sendSyn();
  }

  private takeSynOptions(t: TcpInfo): void {
    this.tsOk = this.opts.timestamps && t.ts !== undefined;
    if (t.ts) this.tsRecent = t.ts[0];
    this.sackOk = this.opts.sack && t.sackOk;
    this.wsOk = t.wscale !== undefined && this.opts.wscale !== null;
    if (this.wsOk) { this.sndShift = Math.min(t.wscale!, 14); this.rcvShift = this.opts.wscale!; }
    else { this.sndShift = 0; this.rcvShift = 0; }
    const mss = Math.min(t.mss ?? 536, this.opts.mss);
    this.sendMss = mss - (this.tsOk ? 12 : 0);
    this.cwnd = 10 * this.sendMss;
  }

  private established(): void {
    this.state = "established";
    this.backoff = 0;
    this.clearRtx();
    this.events.onOpen?.(this);
    this.trySend();
  }

  // ---- input

  input(t: TcpInfo): void {
    this.stats.segmentsIn++;
    if (!t.checksumOk) this.host.violation(`segment with a bad TCP checksum (port ${t.srcPort})`);
    if (t.ts) this.tsRecent = t.ts[0];
    if (t.flags & TCP_RST) { if (this.state !== "closed") this.close("reset", true); return; }
    if (this.state === "syn-sent") {
      if ((t.flags & (TCP_SYN | TCP_ACK)) !== (TCP_SYN | TCP_ACK) || t.ack !== u32(this.iss + 1)) return;
      this.irs = t.seq;
      this.takeSynOptions(t);
      this.guestWindow = t.window;
      this.sendAck(true);   // the handshake's ACK, even from a peer that acknowledges nothing after
      this.established();
      return;
    }
    if (this.state === "syn-received") {
      if (t.flags & TCP_SYN) { this.sendSyn(); return; }
      if (!(t.flags & TCP_ACK) || t.ack !== u32(this.iss + 1)) return;
      this.guestWindow = t.window * 2 ** this.sndShift;
      this.established();
    }
    if (this.state !== "established") return;
    if (t.flags & TCP_SYN) {
      // A SYN-ACK again (our ACK was lost): acknowledge it.
      this.sendAck();
      return;
    }
    if (t.flags & TCP_ACK) this.onAck(t);
    if (t.data.length > 0 || t.flags & TCP_FIN) this.onText(t);
    else if (diff(t.seq, u32(this.irs + 1 + this.rcvNxt)) < 0) this.sendAck();   // an old sequence number (a window probe): answer
  }

  private onAck(t: TcpInfo): void {
    const acked = diff(t.ack, this.seqOf(this.sndUna));
    const sentEnd = this.sndNxt + (this.finSent ? 1 : 0);
    if (diff(t.ack, this.seqOf(sentEnd)) > 0) this.host.violation(`ACK ${t.ack} beyond what was sent (${this.seqOf(sentEnd)})`);
    const window = t.window * 2 ** this.sndShift;
    if (window === 0) this.stats.zeroWindowAcks++;
    for (const [start, end] of t.sack) this.markSacked(start, end);
    this.stats.sackBlocksIn += t.sack.length;
    if (acked > 0) {
      const ackOff = this.sndUna + acked;
      let newly = acked;
      if (this.finSent && ackOff > this.sndNxt) { this.finAcked = true; newly--; }
      this.sndUna = Math.min(ackOff, this.sndNxt);
      this.sampleRtt();
      this.inflight = this.inflight.filter((s) => s.off + s.len > this.sndUna || (s.fin && !this.finAcked));
      this.dupAcks = 0;
      this.backoff = 0;
      if (this.inRecovery) {
        if (this.sndUna >= this.recoveryPoint) this.inRecovery = false;
        else if (!this.sackOk) this.markLost(this.inflight[0]);   // NewReno: a partial ACK shows the next hole
      } else if (this.cwnd < this.ssthresh) {
        this.cwnd += Math.min(newly, 2 * this.sendMss);
      } else {
        this.cwnd += Math.max(1, Math.floor((this.sendMss * this.sendMss) / this.cwnd));
      }
      this.cwnd = Math.min(this.cwnd, 8 << 20);
      if (this.inflight.length === 0) this.clearRtx();
      else this.armRtx();
    } else if (acked === 0 && t.data.length === 0 && !(t.flags & TCP_FIN) && this.inflight.length > 0 && window === this.guestWindow) {
      this.stats.dupAcksIn++;
      if (++this.dupAcks === 3 && !this.sackOk) this.enterRecovery(this.inflight[0]);
    }
    this.guestWindow = window;
    if (this.sackOk) this.detectSackLoss();
    if (this.finAcked && this.finReceived && this.state === "established") this.close("done", true);
    else this.trySend();
  }

  private markSacked(start: number, end: number): void {
    const s = diff(start, this.seqOf(0)), e = diff(end, this.seqOf(0));
    if (e <= s || e > this.sndNxt + (this.finSent ? 1 : 0)) { this.host.violation(`SACK block [${start}, ${end}) outside what was sent`); return; }
    for (const seg of this.inflight) if (!seg.sacked && seg.off >= s && seg.off + seg.len <= e && seg.len > 0) { seg.sacked = true; seg.lost = false; }
  }

  // RFC 6675 IsLost: three segments' worth SACKed above an unSACKed one.
  private detectSackLoss(): void {
    let sackedAbove = 0;
    for (let i = this.inflight.length - 1; i >= 0; i--) {
      const seg = this.inflight[i];
      if (seg.sacked) { sackedAbove += seg.len; continue; }
      if (sackedAbove >= 3 * this.sendMss && !seg.retransmitted && !seg.lost) this.enterRecovery(seg);
    }
  }

  private enterRecovery(seg: SentSeg | undefined): void {
    if (!seg) return;
    if (!this.inRecovery) {
      this.inRecovery = true;
      this.stats.fastRecoveries++;
      this.recoveryPoint = this.sndNxt;
      this.ssthresh = Math.max(Math.floor(this.cwnd / 2), 2 * this.sendMss);
      this.cwnd = this.ssthresh;
    }
    this.markLost(seg);
  }

  private markLost(seg: SentSeg | undefined): void {
    if (seg && !seg.sacked) seg.lost = true;
  }

  private sampleRtt(): void {
    const first = this.inflight[0];
    if (!first || first.retransmitted) return;
    const r = this.now() - first.sentAt;
    if (this.srtt === 0n) { this.srtt = r; this.rttvar = r / 2n; }
    else {
      const d = this.srtt > r ? this.srtt - r : r - this.srtt;
      this.rttvar = (3n * this.rttvar + d) / 4n;
      this.srtt = (7n * this.srtt + r) / 8n;
    }
    const rto = this.srtt + 4n * this.rttvar;
    this.rto = rto < this.opts.rtoMinNs ? this.opts.rtoMinNs : rto > 60_000n * MS ? 60_000n * MS : rto;
  }

  private onText(t: TcpInfo): void {
    const off = diff(t.seq, u32(this.irs + 1));
    const data = t.data;
    if (t.flags & TCP_FIN) {
      const at = off + data.length;
      if (this.finAt >= 0 && this.finAt !== at) this.host.violation(`FIN moved from ${this.finAt} to ${at}`);
      this.finAt = at;
    }
    if (this.opts.neverAck) return;
    let inOrder = false;
    if (data.length > 0) {
      if (off <= this.rcvNxt && off + data.length > this.rcvNxt) {
        this.deliver(data.subarray(this.rcvNxt - off));
        inOrder = true;
        // Out-of-order data that now fits.
        for (;;) {
          let joined = false;
          for (const [o, d] of this.ooo) {
            if (o <= this.rcvNxt) {
              this.ooo.delete(o);
              if (o + d.length > this.rcvNxt) this.deliver(d.subarray(this.rcvNxt - o));
              joined = true;
            }
          }
          if (!joined) break;
        }
      } else if (off > this.rcvNxt) {
        const had = this.ooo.get(off);
        if (had && !sameBytes(had.subarray(0, Math.min(had.length, data.length)), data.subarray(0, Math.min(had.length, data.length)))) {
          this.host.violation(`retransmitted data at ${off} differs from the first copy`);
        }
        if (!had || had.length < data.length) this.ooo.set(off, data.slice());
      }
    }
    if (this.finAt >= 0 && this.rcvNxt === this.finAt && !this.finReceived) {
      this.finReceived = true;
      this.sendAck();
      this.events.onEnd?.(this);
      if (this.finAcked && this.state === "established") this.close("done", true);
      return;
    }
    if (inOrder && this.ooo.size === 0) {
      if (++this.unacked >= this.opts.ackEvery) this.sendAck();
      else if (!this.ackTimer) this.ackTimer = this.dom0.after(MS, () => { this.ackTimer = null; if (this.unacked > 0) this.sendAck(); });
    } else {
      this.sendAck();   // out of order, a duplicate, or a hole filled: at once
    }
  }

  private deliver(data: Uint8Array): void {
    this.rcvNxt += data.length;
    this.stats.bytesIn += data.length;
    this.events.onData?.(this, data);
  }

  private sackBlocks(max: number): [number, number][] {
    const ranges: [number, number][] = [];
    for (const o of [...this.ooo.keys()].sort((a, b) => a - b)) {
      const end = o + this.ooo.get(o)!.length;
      const last = ranges[ranges.length - 1];
      if (last && o <= last[1]) last[1] = Math.max(last[1], end);
      else ranges.push([o, end]);
    }
    const base = u32(this.irs + 1);
    return ranges.slice(-max).reverse().map(([s, e]) => [u32(base + s), u32(base + e)]);
  }

  sendAck(handshake = false): void {
    if (this.state === "closed" || (this.opts.neverAck && !handshake)) return;
    this.unacked = 0;
    this.emit({ seq: this.seqOf(this.sndNxt + (this.finSent ? 1 : 0)), ack: this.ackField(), flags: TCP_ACK, window: this.windowField() }, false);
  }

  // ---- output

  private pipe(): number {
    let n = 0;
    for (const s of this.inflight) if (!s.sacked && !s.lost) n += s.len + (s.fin ? 1 : 0);
    return n;
  }

  trySend(): void {
    if (this.state !== "established") return;
    for (let guard = 0; guard < 10000; guard++) {
      if (this.pipe() >= this.cwnd) break;
      const lost = this.inflight.find((s) => s.lost);
      if (lost) {
        lost.lost = false;
        lost.retransmitted = true;
        lost.sentAt = this.now();
        this.stats.retransmits++;
        this.sendData(lost);
        continue;
      }
      const room = this.guestWindow - (this.sndNxt - this.sndUna);
      const left = this.total - this.sndNxt;
      if (left > 0 && room > 0 && this.source) {
        const n = Math.min(left, room, this.sendMss);
        if (n < this.sendMss && n < left && this.inflight.length > 0) break;   // wait for a full segment's room
        const seg: SentSeg = { off: this.sndNxt, len: n, fin: false, sacked: false, lost: false, sentAt: this.now(), retransmitted: false };
        this.sndNxt += n;
        if (this.finWanted && this.sndNxt === this.total) { seg.fin = true; this.finSent = true; }
        this.inflight.push(seg);
        this.sendData(seg);
        continue;
      }
      if (left === 0 && this.finWanted && !this.finSent) {
        const seg: SentSeg = { off: this.sndNxt, len: 0, fin: true, sacked: false, lost: false, sentAt: this.now(), retransmitted: false };
        this.finSent = true;
        this.inflight.push(seg);
        this.sendData(seg);
        continue;
      }
      break;
    }
    if (this.inflight.length > 0 && !this.rtxTimer) this.armRtx();
    // Data waits for a window the guest keeps shut: probe it.
    if (this.inflight.length === 0 && this.total > this.sndNxt && this.guestWindow === 0 && !this.rtxTimer) this.armRtx();
  }

  private sendData(seg: SentSeg): void {
    const data = seg.len > 0 ? this.source!(seg.off, seg.len) : undefined;
    this.emit({ seq: this.seqOf(seg.off), ack: this.ackField(), flags: TCP_ACK | (seg.fin ? TCP_FIN : 0) | (data ? TCP_PSH : 0), window: this.windowField(), data }, false);
    this.unacked = 0;
  }

  private armRtx(): void {
    this.rtxTimer?.cancel();
    const wait = this.rto * BigInt(2 ** Math.min(this.backoff, 8));
    this.rtxTimer = this.dom0.after(wait > 60_000n * MS ? 60_000n * MS : wait, () => { this.rtxTimer = null; this.onRto(); });
  }

  private clearRtx(): void {
    this.rtxTimer?.cancel();
    this.rtxTimer = null;
  }

  private onRto(): void {
    if (this.state === "syn-sent" || this.state === "syn-received") {
      if (++this.backoff > 6) { this.close("timeout", true); return; }
      this.sendSyn();
      return;
    }
    if (this.state !== "established") return;
    if (this.inflight.length === 0) {
      if (this.total > this.sndNxt && this.guestWindow === 0) {
        // A window probe (RFC 9293 §3.8.6.1): one old byte's worth of sequence space.
        this.stats.windowProbes++;
        this.emit({ seq: this.seqOf(this.sndUna - 1), ack: this.ackField(), flags: TCP_ACK, window: this.windowField() }, false);
        this.backoff++;
        this.armRtx();
      }
      return;
    }
    this.stats.timeouts++;
    this.backoff++;
    this.ssthresh = Math.max(Math.floor(this.pipe() / 2), 2 * this.sendMss);
    this.cwnd = this.sendMss;
    this.inRecovery = false;
    for (const s of this.inflight) if (!s.sacked) { s.lost = true; s.retransmitted = false; }
    this.armRtx();
    this.trySend();
  }

  private close(why: "reset" | "done" | "timeout", tell: boolean): void {
    this.state = "closed";
    this.clearRtx();
    this.ackTimer?.cancel();
    this.host.forget(this);
    if (tell) this.events.onClose?.(this, why);
  }
}

// A host with one address on the wire: answers ARP, demultiplexes TCP to
// its connections (and listeners), and lets tests see every TCP segment
// the guest sends (`onSegment`).
export class TcpHost {
  readonly conns = new Map<string, PeerConn>();
  private readonly listeners = new Map<number, { events: PeerEvents; opts: PeerOptions }>();
  readonly violations: string[] = [];
  onSegment: ((f: ParsedFrame) => void) | null = null;
  guestMac: string;
  segmentsFromGuest = 0;
  private rng: number;
  private nextPort = 40000;

  constructor(readonly dom0: Dom0, readonly link: Link, readonly me: Endpoint, readonly guest: Endpoint, readonly now: () => bigint, seed = 7) {
    this.guestMac = guest.mac;
    this.rng = seed >>> 0 || 1;
    link.attach((frame) => this.receive(frame));
  }

  randomIss(): number {
    let x = this.rng;
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    this.rng = x;
    return x;
  }

  // Tells the guest where we are (it learns MACs from ARP only).
  announce(): void {
    this.link.send(arpRequestFrame(this.me, this.guest.ip));
  }

  connect(port: number, events: PeerEvents, opts: PeerOptions = {}, localPort = this.nextPort++): PeerConn {
    const c = new PeerConn(this, localPort, port, events, opts);
    this.conns.set(`${localPort}:${port}`, c);
    c.openActive();
    return c;
  }

  listen(port: number, events: PeerEvents, opts: PeerOptions = {}): void {
    this.listeners.set(port, { events, opts });
  }

  forget(c: PeerConn): void {
    this.conns.delete(`${c.localPort}:${c.remotePort}`);
  }

  // Any segment, from us to the guest.
  transmit(t: TcpSegmentOut): void {
    this.link.send(tcpFrame(this.me, { mac: this.guestMac, ip: this.guest.ip }, t));
  }

  violation(what: string): void {
    if (this.violations.length < 50) this.violations.push(what);
  }

  private receive(raw: Uint8Array): void {
    const f = parseFrame(raw);
    if (!f) return;
    const a = f.arp;
    if (a) {
      if (a.op === ARP_REQUEST && a.targetIp === this.me.ip) this.link.send(arpReplyFrame(this.me, { mac: a.senderMac, ip: a.senderIp }));
      if (a.op === ARP_REPLY && a.senderIp === this.guest.ip) this.guestMac = a.senderMac;
      return;
    }
    if (f.ip?.proto !== IPPROTO_TCP || f.ip.dst !== this.me.ip) return;
    const t = f.tcp;
    if (!t) return;
    this.segmentsFromGuest++;
    if (!f.ip.checksumOk) this.violation("IPv4 header checksum");
    this.onSegment?.(f);
    const c = this.conns.get(`${t.dstPort}:${t.srcPort}`);
    if (c) { c.input(t); return; }
    const l = this.listeners.get(t.dstPort);
    if (l && (t.flags & (TCP_SYN | TCP_ACK | TCP_RST)) === TCP_SYN) {
      const n = new PeerConn(this, t.dstPort, t.srcPort, l.events, l.opts);
      this.conns.set(`${t.dstPort}:${t.srcPort}`, n);
      n.openPassive(t);
    }
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// The test stream: byte i is byte (i mod 4) (little-endian) of the 32-bit
// word (i div 4) times the golden ratio (mod 2^32), so a byte out of place
// shows, and a writer or checker can work a word at a time.
// tests/apps/tcp-services.ts and tests/xen/tools/tcpcheck.c make the same.
export function patternByte(i: number): number {
  return (Math.imul(i >>> 2, 0x9e3779b1) >>> ((i & 3) * 8)) & 0xff;
}

export function pattern(offset: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = patternByte(offset + i);
  return out;
}
