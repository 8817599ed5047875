// A DHCP server on the sim's wire (RFC 2131, options per RFC 2132), our
// own and small: one pool, leases keyed by the client's MAC, DHCPOFFER /
// DHCPACK / DHCPNAK by the book, and knobs for tests: silence (stop
// answering, all or only unicast), NAK the next request, short leases,
// a different address on the next lease. It records every message it
// gets (parsed), so tests can check what the guest sent.
import type { Link } from "./link.ts";
import {
  ethernet, ipv4, udp, parseFrame, macBytes, ipBytes, ipString, BROADCAST_MAC, ETH_P_IPV4, IPPROTO_UDP, type Endpoint,
} from "./netswitch.ts";

export const DISCOVER = 1, OFFER = 2, REQUEST = 3, DECLINE = 4, ACK = 5, NAK = 6, RELEASE = 7;
const MAGIC = 0x63825363;

export interface DhcpMessage {
  op: number;
  xid: number;
  secs: number;
  flags: number;
  ciaddr: string;
  yiaddr: string;
  chaddr: string;
  type: number;
  options: Map<number, Uint8Array>;
  srcIp: string;
  dstIp: string;
  dstMac: string;
  at: bigint;
}

export interface DhcpServerOptions {
  pool?: string[];              // addresses to hand out, in order (default 10.0.0.50 ..)
  leaseSeconds?: number;        // default 3600
  t1?: number;                  // seconds (option 58), default: not sent
  t2?: number;                  // option 59, default: not sent
  mask?: string;                // default 255.255.255.0
  router?: string | null;       // default: the server's address
}

export class DhcpServer {
  readonly seen: DhcpMessage[] = [];
  silent = false;               // answer nothing
  ignoreUnicast = false;        // answer only broadcast requests (a renewal goes unanswered)
  nakNext = false;              // answer the next REQUEST with a NAK
  private leases = new Map<string, string>();
  private nextFree = 0;
  private readonly o: Required<Omit<DhcpServerOptions, "t1" | "t2">> & Pick<DhcpServerOptions, "t1" | "t2">;

  constructor(private readonly link: Link, readonly me: Endpoint, private readonly now: () => bigint, opts: DhcpServerOptions = {}) {
    this.o = {
      pool: Array.from({ length: 100 }, (_, i) => `10.0.0.${50 + i}`), leaseSeconds: 3600, mask: "255.255.255.0", router: me.ip,
      ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)),
    } as typeof this.o;
    link.attach((frame) => this.receive(frame));
  }

  set leaseSeconds(s: number) { this.o.leaseSeconds = s; }

  // The next lease for each client takes a new address.
  forgetLeases(): void {
    this.leases.clear();
  }

  private receive(raw: Uint8Array): void {
    const f = parseFrame(raw);
    const u = f?.udp;
    if (!f || !u || u.dstPort !== 67 || u.srcPort !== 68) return;
    const m = parse(u.data);
    if (!m) return;
    const msg: DhcpMessage = { ...m, srcIp: f.ip!.src, dstIp: f.ip!.dst, dstMac: f.dst, at: this.now() };
    this.seen.push(msg);
    if (this.silent || (this.ignoreUnicast && msg.dstIp !== "255.255.255.255")) return;
    if (msg.type === DISCOVER) this.answer(msg, OFFER, this.addressFor(msg.chaddr));
    else if (msg.type === REQUEST) {
      const requested = msg.options.get(50);
      const want = requested ? ipString(requested) : msg.ciaddr;
      const server = msg.options.get(54);
      if (server && ipString(server) !== this.me.ip) return;   // it chose another server
      if (this.nakNext || want !== this.addressFor(msg.chaddr)) {
        this.nakNext = false;
        this.answer(msg, NAK, "0.0.0.0");
      } else {
        this.answer(msg, ACK, want);
      }
    }
  }

  private addressFor(mac: string): string {
    let ip = this.leases.get(mac);
    if (!ip) {
      ip = this.o.pool[this.nextFree++ % this.o.pool.length];
      this.leases.set(mac, ip);
    }
    return ip;
  }

  private answer(req: DhcpMessage, type: number, yiaddr: string): void {
    const opts: [number, number[]][] = [[53, [type]], [54, [...ipBytes(this.me.ip)]]];
    if (type !== NAK) {
      opts.push([51, be32(this.o.leaseSeconds)], [1, [...ipBytes(this.o.mask)]]);
      if (this.o.router) opts.push([3, [...ipBytes(this.o.router)]]);
      if (this.o.t1 !== undefined) opts.push([58, be32(this.o.t1)]);
      if (this.o.t2 !== undefined) opts.push([59, be32(this.o.t2)]);
    }
    const body = build(2, req.xid, req.flags, type === NAK ? "0.0.0.0" : req.ciaddr, yiaddr, this.me.ip, req.chaddr, opts);
    // RFC 2131 §4.1: to ciaddr if set (renewing), else broadcast when the
    // client asks (or for a NAK), else unicast to yiaddr.
    const unicast = req.ciaddr !== "0.0.0.0" && type !== NAK;
    const dstIp = unicast ? req.ciaddr : "255.255.255.255";
    const dstMac = unicast ? req.chaddr : BROADCAST_MAC;
    this.send({ mac: dstMac, ip: dstIp }, body);
  }

  // Any DHCP message to the client side (for tests that forge them).
  send(to: Endpoint, body: Uint8Array, from: Endpoint = this.me): void {
    this.link.send(ethernet(to.mac, from.mac, ETH_P_IPV4, ipv4({ src: from.ip, dst: to.ip, proto: IPPROTO_UDP, payload: udp(from.ip, to.ip, 67, 68, body) })));
  }
}

function be32(n: number): number[] {
  return [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
}

// A BOOTP/DHCP message (RFC 2131 §2) with the given options.
export function build(op: number, xid: number, flags: number, ciaddr: string, yiaddr: string, siaddr: string, chaddr: string, options: [number, number[]][]): Uint8Array {
  const m = new Uint8Array(240 + options.reduce((n, [, v]) => n + 2 + v.length, 0) + 1);
  const v = new DataView(m.buffer);
  m[0] = op; m[1] = 1; m[2] = 6;
  v.setUint32(4, xid >>> 0);
  v.setUint16(10, flags);
  m.set(ipBytes(ciaddr), 12);
  m.set(ipBytes(yiaddr), 16);
  m.set(ipBytes(siaddr), 20);
  m.set(macBytes(chaddr), 28);
  v.setUint32(236, MAGIC);
  let at = 240;
  for (const [code, value] of options) { m[at] = code; m[at + 1] = value.length; m.set(value, at + 2); at += 2 + value.length; }
  m[at] = 255;
  return m;
}

export function parse(b: Uint8Array): Omit<DhcpMessage, "srcIp" | "dstIp" | "dstMac" | "at"> | null {
  if (b.length < 240) return null;
  const v = new DataView(b.buffer, b.byteOffset, b.length);
  if (v.getUint32(236) !== MAGIC) return null;
  const options = new Map<number, Uint8Array>();
  for (let i = 240; i < b.length; ) {
    const code = b[i];
    if (code === 0) { i++; continue; }
    if (code === 255 || i + 1 >= b.length) break;
    const n = b[i + 1];
    options.set(code, b.subarray(i + 2, i + 2 + n));
    i += 2 + n;
  }
  const macs = [...b.subarray(28, 34)].map((x) => x.toString(16).padStart(2, "0")).join(":");
  return {
    op: b[0], xid: v.getUint32(4), secs: v.getUint16(8), flags: v.getUint16(10),
    ciaddr: ipString(b.subarray(12, 16)), yiaddr: ipString(b.subarray(16, 20)), chaddr: macs,
    type: options.get(53)?.[0] ?? 0, options,
  };
}
