// The wire on the far side of a sim vif (netback.ts): Ethernet II, ARP
// (RFC 826), IPv4 (RFC 791, fragments too), ICMP (RFC 792), UDP (RFC 768)
// and TCP (RFC 9293 with the options of RFC 7323 and RFC 2018) frames
// built and parsed in TypeScript with real checksums (RFC 1071), and
// NetPeer, a host plugged into one vif that sends frames to the guest,
// collects what the guest transmits, answers ARP for its own address and
// waits (in virtual time) for replies.
import type { Dom0 } from "./hypervisor.ts";
import type { TimerHandle } from "./clock.ts";
import type { Vif } from "./netback.ts";

export const ETH_HLEN = 14;
export const ETH_P_IPV4 = 0x0800;
export const ETH_P_ARP = 0x0806;
export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const ICMP_ECHO_REPLY = 0;
export const ICMP_ECHO_REQUEST = 8;
export const ARP_REQUEST = 1;
export const ARP_REPLY = 2;
export const BROADCAST_MAC = "ff:ff:ff:ff:ff:ff";
const IP_HLEN = 20;
const UDP_HLEN = 8;
const ARP_LEN = 28;

// A station on the wire: "00:16:3e:00:00:01", "10.0.0.1".
export interface Endpoint {
  mac: string;
  ip: string;
}

// ---- addresses

export function macBytes(mac: string): Uint8Array {
  const parts = mac.split(":");
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{2}$/.test(p))) throw new Error(`bad MAC '${mac}'`);
  return new Uint8Array(parts.map((p) => parseInt(p, 16)));
}

export function macString(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join(":");
}

export function ipBytes(ip: string): Uint8Array {
  const parts = ip.split(".").map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new Error(`bad IPv4 address '${ip}'`);
  return new Uint8Array(parts);
}

export function ipString(bytes: Uint8Array): string {
  return [...bytes].join(".");
}

// ---- checksums

// The one's-complement sum of 16-bit big-endian words, folded (not inverted).
function sum16(data: Uint8Array, initial = 0): number {
  let sum = initial;
  for (let i = 0; i + 1 < data.length; i += 2) sum += (data[i] << 8) | data[i + 1];
  if (data.length & 1) sum += data[data.length - 1] << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

// The Internet checksum field for `data` (plus an already summed pseudo-header).
export function checksum(data: Uint8Array, initial = 0): number {
  return ~sum16(data, initial) & 0xffff;
}

function udpPseudoSum(src: Uint8Array, dst: Uint8Array, length: number, proto = IPPROTO_UDP): number {
  const pseudo = new Uint8Array(12);
  pseudo.set(src, 0);
  pseudo.set(dst, 4);
  pseudo[9] = proto;
  pseudo[10] = length >> 8;
  pseudo[11] = length & 0xff;
  return sum16(pseudo);
}

// ---- builders

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function ethernet(dst: string, src: string, type: number, payload: Uint8Array): Uint8Array {
  const header = new Uint8Array(ETH_HLEN);
  header.set(macBytes(dst), 0);
  header.set(macBytes(src), 6);
  new DataView(header.buffer).setUint16(12, type);
  return concat(header, payload);
}

export function arpPacket(op: number, sender: Endpoint, target: { mac?: string; ip: string }): Uint8Array {
  const arp = new Uint8Array(ARP_LEN);
  const v = new DataView(arp.buffer);
  v.setUint16(0, 1);                // hardware: Ethernet
  v.setUint16(2, ETH_P_IPV4);       // protocol: IPv4
  arp[4] = 6;
  arp[5] = 4;
  v.setUint16(6, op);
  arp.set(macBytes(sender.mac), 8);
  arp.set(ipBytes(sender.ip), 14);
  arp.set(macBytes(target.mac ?? "00:00:00:00:00:00"), 18);
  arp.set(ipBytes(target.ip), 24);
  return arp;
}

export interface Ipv4Options {
  src: string;
  dst: string;
  proto: number;
  payload: Uint8Array;
  ttl?: number;
  id?: number;
  flagsFragment?: number;           // default 0x4000: don't fragment
}

// An IPv4 packet without options, with a correct header checksum.
export function ipv4(o: Ipv4Options): Uint8Array {
  const header = new Uint8Array(IP_HLEN);
  const v = new DataView(header.buffer);
  header[0] = 0x45;
  v.setUint16(2, IP_HLEN + o.payload.length);
  v.setUint16(4, o.id ?? 0);
  v.setUint16(6, o.flagsFragment ?? 0x4000);
  header[8] = o.ttl ?? 64;
  header[9] = o.proto;
  header.set(ipBytes(o.src), 12);
  header.set(ipBytes(o.dst), 16);
  v.setUint16(10, checksum(header));
  return concat(header, o.payload);
}

export function icmpEcho(type: number, id: number, seq: number, data: Uint8Array): Uint8Array {
  const icmp = new Uint8Array(8 + data.length);
  const v = new DataView(icmp.buffer);
  icmp[0] = type;
  v.setUint16(4, id);
  v.setUint16(6, seq);
  icmp.set(data, 8);
  v.setUint16(2, checksum(icmp));
  return icmp;
}

// A UDP datagram with its checksum over the pseudo-header (0 is sent as 0xffff).
export function udp(srcIp: string, dstIp: string, srcPort: number, dstPort: number, data: Uint8Array): Uint8Array {
  const dgram = new Uint8Array(UDP_HLEN + data.length);
  const v = new DataView(dgram.buffer);
  v.setUint16(0, srcPort);
  v.setUint16(2, dstPort);
  v.setUint16(4, dgram.length);
  dgram.set(data, UDP_HLEN);
  const sum = checksum(dgram, udpPseudoSum(ipBytes(srcIp), ipBytes(dstIp), dgram.length));
  v.setUint16(6, sum === 0 ? 0xffff : sum);
  return dgram;
}

// An IPv4 datagram as fragments of at most `maxPayload` bytes of payload
// each (a multiple of 8 but for the last), RFC 791 §3.2.
export function ipv4Fragments(o: Ipv4Options, maxPayload: number): Uint8Array[] {
  const per = maxPayload & ~7;
  const out: Uint8Array[] = [];
  for (let off = 0; off < o.payload.length; off += per) {
    const part = o.payload.subarray(off, Math.min(off + per, o.payload.length));
    const more = off + per < o.payload.length ? 0x2000 : 0;
    out.push(ipv4({ ...o, payload: part, flagsFragment: more | (off >> 3) }));
  }
  return out;
}

// ---- TCP (RFC 9293 §3.1)

export const TCP_FIN = 0x01, TCP_SYN = 0x02, TCP_RST = 0x04, TCP_PSH = 0x08, TCP_ACK = 0x10, TCP_URG = 0x20;

export interface TcpOptionsOut {
  mss?: number;
  wscale?: number;
  sackOk?: boolean;
  ts?: [number, number];            // TSval, TSecr
  sack?: [number, number][];        // blocks [start, end)
}

export interface TcpSegmentOut {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack?: number;
  flags: number;
  window?: number;
  mss?: number;                     // the MSS option (as options.mss)
  options?: TcpOptionsOut;
  data?: Uint8Array;
}
export type TcpFields = TcpSegmentOut;

function tcpOptionBytes(o: TcpOptionsOut | undefined): number[] {
  const b: number[] = [];
  if (!o) return b;
  if (o.mss !== undefined) b.push(2, 4, o.mss >> 8, o.mss & 0xff);
  if (o.sackOk) b.push(1, 1, 4, 2);
  if (o.ts) {
    b.push(1, 1, 8, 10);
    for (const v of o.ts) b.push((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
  }
  if (o.wscale !== undefined) b.push(1, 3, 3, o.wscale);
  if (o.sack && o.sack.length) {
    b.push(1, 1, 5, 2 + 8 * o.sack.length);
    for (const [start, end] of o.sack) for (const v of [start, end]) b.push((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
  }
  while (b.length % 4) b.push(0);
  return b;
}

// A TCP segment with its checksum over the pseudo-header.
export function tcp(srcIp: string, dstIp: string, t: TcpSegmentOut): Uint8Array {
  const opts = tcpOptionBytes(t.mss !== undefined ? { mss: t.mss, ...t.options } : t.options);
  const data = t.data ?? new Uint8Array(0);
  const seg = new Uint8Array(20 + opts.length + data.length);
  const v = new DataView(seg.buffer);
  v.setUint16(0, t.srcPort);
  v.setUint16(2, t.dstPort);
  v.setUint32(4, t.seq >>> 0);
  v.setUint32(8, (t.ack ?? 0) >>> 0);
  seg[12] = ((20 + opts.length) / 4) << 4;
  seg[13] = t.flags;
  v.setUint16(14, t.window ?? 65535);
  seg.set(opts, 20);
  seg.set(data, 20 + opts.length);
  v.setUint16(16, checksum(seg, udpPseudoSum(ipBytes(srcIp), ipBytes(dstIp), seg.length, IPPROTO_TCP)));
  return seg;
}

// Cuts a TCP/IPv4 frame into frames of at most `mss` payload bytes each, as
// GSO does (sequence numbers advanced, the IPv4 id counting up, FIN and PSH
// only on the last, checksums computed); null if it is not TCP/IPv4.
export function segmentTcp(frame: Uint8Array, mss: number): Uint8Array[] | null {
  if (frame.length < ETH_HLEN + IP_HLEN + 20 || ((frame[12] << 8) | frame[13]) !== ETH_P_IPV4 || mss <= 0) return null;
  const ipAt = ETH_HLEN;
  const ihl = (frame[ipAt] & 15) * 4;
  if (frame[ipAt + 9] !== IPPROTO_TCP || ihl < IP_HLEN) return null;
  const v = new DataView(frame.buffer, frame.byteOffset, frame.length);
  const total = v.getUint16(ipAt + 2);
  const tcpAt = ipAt + ihl;
  const thl = (frame[tcpAt + 12] >> 4) * 4;
  if (ETH_HLEN + total > frame.length || tcpAt + thl > ETH_HLEN + total) return null;
  const payload = frame.subarray(tcpAt + thl, ETH_HLEN + total);
  const seq = v.getUint32(tcpAt + 4);
  const id = v.getUint16(ipAt + 4);
  const flags = frame[tcpAt + 13];
  const src = frame.subarray(ipAt + 12, ipAt + 16), dst = frame.subarray(ipAt + 16, ipAt + 20);
  const out: Uint8Array[] = [];
  for (let off = 0, k = 0; off < payload.length || (off === 0 && payload.length === 0); off += mss, k++) {
    const part = payload.subarray(off, Math.min(off + mss, payload.length));
    const last = off + mss >= payload.length;
    const f = new Uint8Array(tcpAt + thl + part.length);
    f.set(frame.subarray(0, tcpAt + thl));
    f.set(part, tcpAt + thl);
    const w = new DataView(f.buffer);
    w.setUint16(ipAt + 2, ihl + thl + part.length);
    w.setUint16(ipAt + 4, (id + k) & 0xffff);
    w.setUint16(ipAt + 10, 0);
    w.setUint16(ipAt + 10, checksum(f.subarray(ipAt, ipAt + ihl)));
    w.setUint32(tcpAt + 4, (seq + off) >>> 0);
    f[tcpAt + 13] = last ? flags : flags & ~(TCP_FIN | TCP_PSH);
    w.setUint16(tcpAt + 16, 0);
    const seg = f.subarray(tcpAt);
    w.setUint16(tcpAt + 16, checksum(seg, udpPseudoSum(src, dst, seg.length, IPPROTO_TCP)));
    out.push(f);
    if (payload.length === 0) break;
  }
  return out;
}

export function tcpFrame(from: Endpoint, to: Endpoint, t: TcpSegmentOut): Uint8Array {
  return ethernet(to.mac, from.mac, ETH_P_IPV4, ipv4({ src: from.ip, dst: to.ip, proto: IPPROTO_TCP, payload: tcp(from.ip, to.ip, t) }));
}

// Whole frames from `from` to `to`.
export function arpRequestFrame(from: Endpoint, targetIp: string): Uint8Array {
  return ethernet(BROADCAST_MAC, from.mac, ETH_P_ARP, arpPacket(ARP_REQUEST, from, { ip: targetIp }));
}

export function arpReplyFrame(from: Endpoint, to: Endpoint): Uint8Array {
  return ethernet(to.mac, from.mac, ETH_P_ARP, arpPacket(ARP_REPLY, from, to));
}

export function pingFrame(from: Endpoint, to: Endpoint, id: number, seq: number, data: Uint8Array): Uint8Array {
  return ethernet(to.mac, from.mac, ETH_P_IPV4, ipv4({ src: from.ip, dst: to.ip, proto: IPPROTO_ICMP, payload: icmpEcho(ICMP_ECHO_REQUEST, id, seq, data) }));
}

export function udpFrame(from: Endpoint, to: Endpoint, srcPort: number, dstPort: number, data: Uint8Array): Uint8Array {
  return ethernet(to.mac, from.mac, ETH_P_IPV4, ipv4({ src: from.ip, dst: to.ip, proto: IPPROTO_UDP, payload: udp(from.ip, to.ip, srcPort, dstPort, data) }));
}

// ---- parsing (every field bounds-checked; what does not parse is left undefined)

export interface ArpInfo {
  op: number;
  senderMac: string;
  senderIp: string;
  targetMac: string;
  targetIp: string;
}

export interface Ipv4Info {
  src: string;
  dst: string;
  proto: number;
  ttl: number;
  totalLength: number;
  flagsFragment: number;
  checksumOk: boolean;
  payload: Uint8Array;
}

export interface IcmpInfo {
  type: number;
  code: number;
  id: number;
  seq: number;
  data: Uint8Array;
  checksumOk: boolean;
}

export interface UdpInfo {
  srcPort: number;
  dstPort: number;
  length: number;
  data: Uint8Array;
  checksumOk: boolean; // a zero checksum (none sent) counts as not ok: the guest always sends one
}

export interface TcpInfo {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  data: Uint8Array;
  checksumOk: boolean;
  mss?: number;
  wscale?: number;
  sackOk: boolean;
  ts?: [number, number];
  sack: [number, number][];
  optionsMalformed: boolean;
}

export interface ParsedFrame {
  raw: Uint8Array;
  dst: string;
  src: string;
  type: number;
  arp?: ArpInfo;
  ip?: Ipv4Info;
  icmp?: IcmpInfo;
  udp?: UdpInfo;
  tcp?: TcpInfo;
}

export function parseFrame(raw: Uint8Array): ParsedFrame | null {
  if (raw.length < ETH_HLEN) return null;
  const v = new DataView(raw.buffer, raw.byteOffset, raw.length);
  const frame: ParsedFrame = { raw, dst: macString(raw.subarray(0, 6)), src: macString(raw.subarray(6, 12)), type: v.getUint16(12) };
  const body = raw.subarray(ETH_HLEN);
  if (frame.type === ETH_P_ARP) frame.arp = parseArp(body);
  if (frame.type === ETH_P_IPV4) frame.ip = parseIpv4(body);
  if (frame.ip?.proto === IPPROTO_ICMP) frame.icmp = parseIcmp(frame.ip.payload);
  if (frame.ip?.proto === IPPROTO_UDP) frame.udp = parseUdp(frame.ip);
  if (frame.ip?.proto === IPPROTO_TCP && (frame.ip.flagsFragment & 0x3fff) === 0) frame.tcp = parseTcp(frame.ip);
  return frame;
}

export function parseTcp(ip: Ipv4Info): TcpInfo | undefined {
  const b = ip.payload;
  if (b.length < 20) return undefined;
  const v = new DataView(b.buffer, b.byteOffset, b.length);
  const off = (b[12] >> 4) * 4;
  if (off < 20 || off > b.length) return undefined;
  const t: TcpInfo = {
    srcPort: v.getUint16(0), dstPort: v.getUint16(2), seq: v.getUint32(4), ack: v.getUint32(8), flags: b[13] & 0x3f, window: v.getUint16(14),
    data: b.subarray(off), sackOk: false, sack: [], optionsMalformed: false,
    checksumOk: checksum(b, udpPseudoSum(ipBytes(ip.src), ipBytes(ip.dst), b.length, IPPROTO_TCP)) === 0,
  };
  for (let i = 20; i < off; ) {
    const kind = b[i];
    if (kind === 0) break;
    if (kind === 1) { i++; continue; }
    const n = b[i + 1];
    if (i + 1 >= off || n < 2 || i + n > off) { t.optionsMalformed = true; break; }
    if (kind === 2 && n === 4) t.mss = v.getUint16(i + 2);
    else if (kind === 3 && n === 3) t.wscale = b[i + 2];
    else if (kind === 4 && n === 2) t.sackOk = true;
    else if (kind === 8 && n === 10) t.ts = [v.getUint32(i + 2), v.getUint32(i + 6)];
    else if (kind === 5 && (n - 2) % 8 === 0) for (let j = i + 2; j < i + n; j += 8) t.sack.push([v.getUint32(j), v.getUint32(j + 4)]);
    else t.optionsMalformed = true;
    i += n;
  }
  return t;
}

function parseArp(b: Uint8Array): ArpInfo | undefined {
  if (b.length < ARP_LEN) return undefined;
  const v = new DataView(b.buffer, b.byteOffset, b.length);
  return {
    op: v.getUint16(6),
    senderMac: macString(b.subarray(8, 14)), senderIp: ipString(b.subarray(14, 18)),
    targetMac: macString(b.subarray(18, 24)), targetIp: ipString(b.subarray(24, 28)),
  };
}

function parseIpv4(b: Uint8Array): Ipv4Info | undefined {
  if (b.length < IP_HLEN || b[0] >> 4 !== 4) return undefined;
  const hlen = (b[0] & 15) * 4;
  const v = new DataView(b.buffer, b.byteOffset, b.length);
  const total = v.getUint16(2);
  if (hlen < IP_HLEN || total < hlen || total > b.length) return undefined;
  return {
    src: ipString(b.subarray(12, 16)), dst: ipString(b.subarray(16, 20)),
    proto: b[9], ttl: b[8], totalLength: total, flagsFragment: v.getUint16(6),
    checksumOk: checksum(b.subarray(0, hlen)) === 0,
    payload: b.subarray(hlen, total),
  };
}

function parseIcmp(b: Uint8Array): IcmpInfo | undefined {
  if (b.length < 8) return undefined;
  const v = new DataView(b.buffer, b.byteOffset, b.length);
  return { type: b[0], code: b[1], id: v.getUint16(4), seq: v.getUint16(6), data: b.subarray(8), checksumOk: checksum(b) === 0 };
}

function parseUdp(ip: Ipv4Info): UdpInfo | undefined {
  const b = ip.payload;
  if (b.length < UDP_HLEN) return undefined;
  const v = new DataView(b.buffer, b.byteOffset, b.length);
  const length = v.getUint16(4);
  if (length < UDP_HLEN || length > b.length) return undefined;
  const dgram = b.subarray(0, length);
  const sent = v.getUint16(6);
  const ok = sent !== 0 && checksum(dgram, udpPseudoSum(ipBytes(ip.src), ipBytes(ip.dst), length)) === 0;
  return { srcPort: v.getUint16(0), dstPort: v.getUint16(2), length, data: dgram.subarray(UDP_HLEN), checksumOk: ok };
}


// ---- a host on the wire

interface Waiter {
  match: (f: ParsedFrame) => boolean;
  done: (f: ParsedFrame | null) => void;
  timer: TimerHandle;
}

// A host plugged into one vif: everything the guest transmits lands in
// `received` (and is offered to pending requests); ARP requests for our
// address are answered, as a real neighbour would.
export class NetPeer {
  readonly received: ParsedFrame[] = [];
  sent = 0;
  undeliverable = 0;   // frames the vif refused (the guest had no RX buffer, or the vif is down)
  private waiters: Waiter[] = [];

  constructor(private readonly dom0: Dom0, readonly vif: Vif, readonly me: Endpoint) {
    vif.deliver = (frame) => this.receive(frame);
  }

  // Puts a frame on the wire towards the guest. Returns whether the vif took it.
  send(frame: Uint8Array): boolean {
    this.sent++;
    const ok = this.vif.inject(frame);
    if (!ok) this.undeliverable++;
    return ok;
  }

  // Sends `frame`, then calls `done` with the first frame from the guest
  // that `match` accepts, or with null after `timeoutNs` of virtual time.
  request(frame: Uint8Array, match: (f: ParsedFrame) => boolean, timeoutNs: bigint, done: (reply: ParsedFrame | null) => void): void {
    const waiter: Waiter = {
      match, done,
      timer: this.dom0.after(timeoutNs, () => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        done(null);
      }),
    };
    this.waiters.push(waiter);
    this.send(frame);
  }

  private receive(raw: Uint8Array): void {
    const frame = parseFrame(raw);
    if (!frame) return;
    this.received.push(frame);
    const a = frame.arp;
    if (a && a.op === ARP_REQUEST && a.targetIp === this.me.ip) this.send(arpReplyFrame(this.me, { mac: a.senderMac, ip: a.senderIp }));
    const waiter = this.waiters.find((w) => w.match(frame));
    if (!waiter) return;
    this.waiters = this.waiters.filter((w) => w !== waiter);
    waiter.timer.cancel();
    waiter.done(frame);
  }
}
