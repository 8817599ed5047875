// A DHCP client (RFC 2131; options and BOOTP vendor extensions per RFC 2132):
// INIT -> SELECTING (DHCPDISCOVER, the first acceptable DHCPOFFER) ->
// REQUESTING (DHCPREQUEST, DHCPACK/DHCPNAK) -> BOUND, renewing with the
// server that gave the lease at T1 (RENEWING, unicast), with any server at
// T2 (REBINDING, broadcast), and giving the address up when the lease
// expires (back to INIT). After the link comes back while a lease is held,
// INIT-REBOOT asks for the same address again.
//
// Retransmission (§4.1): 4, 8, 16, 32, then 64 s between DISCOVERs (each
// randomised by ±1 s); a REQUEST in REQUESTING or INIT-REBOOT is sent 4
// times at most before starting over; in RENEWING and REBINDING the next
// try comes after half the time left until T2 (or the lease's end), but
// not sooner than 60 s.
//
// Everything a server sends is checked before use: our transaction id and
// MAC, the reply op and message type, option lengths within the packet
// (the "overload" option 52 is honoured), a usable unicast address, a
// contiguous netmask (else the classful default), a router on the subnet
// (else none), a server identifier. T1 and T2 default to 1/2 and 7/8 of
// the lease and are put in order if the server's are not.
//
// Not done: the ARP probe of an offered address (RFC 2131 §4.4.1 SHOULD;
// a conflict is not detected), DHCPINFORM and DHCPRELEASE.
//
// The client talks through a DhcpLink (the stack supplies one: UDP
// 68 -> 67, from 0.0.0.0 while it has no address) and sets the address
// through it; it allocates nothing after construction.
import { log } from "../../runtime/log";
import { armTimer, cancelTimer, Timer, TimerHandler } from "../../runtime/timers";
import { monotonicNs } from "../../runtime/time";
import { random32, randomBelow } from "../../runtime/random";
import { load32, store16, store32, ipString } from "./bytes";

export const DHCP_SERVER_PORT: u16 = 67;
export const DHCP_CLIENT_PORT: u16 = 68;

// Message types (option 53).
const DISCOVER: u32 = 1, OFFER: u32 = 2, REQUEST: u32 = 3, ACK: u32 = 5, NAK: u32 = 6;
// Options.
const OPT_PAD = 0, OPT_MASK = 1, OPT_ROUTER = 3, OPT_DNS = 6, OPT_REQUESTED_IP = 50, OPT_LEASE = 51, OPT_OVERLOAD = 52,
  OPT_TYPE = 53, OPT_SERVER_ID = 54, OPT_PARAMS = 55, OPT_MAX_SIZE = 57, OPT_T1 = 58, OPT_T2 = 59, OPT_CLIENT_ID = 61, OPT_END = 255;
const MAGIC: u32 = 0x63825363;
const BOOTP_FIXED = 236;        // op .. file, then the magic cookie
const MESSAGE_MAX = 576;        // what we build and the largest we say we take (RFC 2131 §2)
const SEC: u64 = 1_000_000_000;
const MAX_LEASE_S: u64 = 0x7fffffff;

export const DHCP_INIT = 0, DHCP_SELECTING = 1, DHCP_REQUESTING = 2, DHCP_BOUND = 3, DHCP_RENEWING = 4,
  DHCP_REBINDING = 5, DHCP_REBOOTING = 6;
const STATE_NAMES = ["init", "selecting", "requesting", "bound", "renewing", "rebinding", "rebooting"];

// What the client needs from the stack under it.
export abstract class DhcpLink {
  abstract macAddress(): u64;
  // Sends a DHCP message (UDP from port 68 to 67) from `srcIp` to `dstIp`
  // (255.255.255.255: link-layer broadcast). False if it could not be sent.
  abstract sendDhcp(srcIp: u32, dstIp: u32, data: usize, len: i32): bool;
  abstract configure(ip: u32, mask: u32, router: u32): void;
  abstract deconfigure(): void;
  abstract linkName(): string;    // for log lines, e.g. "vif 0"
}

export class DhcpStats {
  discovers: u64 = 0;
  offers: u64 = 0;
  requests: u64 = 0;
  acks: u64 = 0;
  naks: u64 = 0;
  leases: u64 = 0;        // times an address was bound (first lease, renewals and rebinds)
  expired: u64 = 0;
  ignored: u64 = 0;       // replies for someone else, malformed or unusable
}

class DhcpTimer extends TimerHandler {
  constructor(public client: DhcpClient) { super(); }
  onTimer(t: Timer): void { this.client.onTimer(); }
}

export class DhcpClient {
  state: i32 = DHCP_INIT;
  stats: DhcpStats = new DhcpStats();
  // The lease (valid from BOUND on).
  ip: u32 = 0;
  mask: u32 = 0;
  router: u32 = 0;
  dns: u32 = 0;
  server: u32 = 0;
  leaseSeconds: u64 = 0;
  private t1: u64 = 0;             // absolute deadlines (monotonic ns)
  private t2: u64 = 0;
  private expiry: u64 = 0;
  // The exchange in progress.
  private xid: u32 = 0;
  private started: u64 = 0;
  private tries: i32 = 0;
  private offered: u32 = 0;
  private offerServer: u32 = 0;
  private timer!: Timer;
  private out: usize = heap.alloc(MESSAGE_MAX);
  // Options of the message being read (0: absent).
  private rType: u32 = 0;
  private rServer: u32 = 0;
  private rMask: u32 = 0;
  private rRouter: u32 = 0;
  private rDns: u32 = 0;
  private rLease: u64 = 0;
  private rT1: u64 = 0;
  private rT2: u64 = 0;
  private hasLease: bool = false;
  private hasT1: bool = false;
  private hasT2: bool = false;
  private bad: bool = false;

  constructor(public link: DhcpLink) {
    this.timer = new Timer(new DhcpTimer(this));
  }

  stateName(): string { return STATE_NAMES[this.state]; }

  // Starts from INIT (or INIT-REBOOT if a lease is still held).
  start(): void {
    if (this.state == DHCP_BOUND || this.state == DHCP_RENEWING || this.state == DHCP_REBINDING || this.state == DHCP_REBOOTING) {
      if (monotonicNs() < this.expiry) { this.begin(DHCP_REBOOTING); this.sendRequest(); return; }
      this.expire();
    }
    this.begin(DHCP_SELECTING);
    this.sendDiscover();
  }

  // The link went down: stop talking (the lease is kept until it expires).
  stop(): void {
    cancelTimer(this.timer);
  }

  private begin(state: i32): void {
    this.state = state;
    this.xid = random32();
    this.started = monotonicNs();
    this.tries = 0;
  }

  // ---- sending

  // The fixed part and the magic cookie; returns where the options go.
  private header(ciaddr: u32): usize {
    const m = this.out;
    memory.fill(m, 0, MESSAGE_MAX);
    store<u8>(m, 1);                   // BOOTREQUEST
    store<u8>(m + 1, 1);               // htype: Ethernet
    store<u8>(m + 2, 6);               // hlen
    store32(m + 4, this.xid);
    const secs = (monotonicNs() - this.started) / SEC;
    store16(m + 8, <u32>min<u64>(secs, 0xffff));
    store16(m + 10, ciaddr == 0 ? 0x8000 : 0);  // broadcast: we cannot take unicast before we have the address
    store32(m + 12, ciaddr);
    const mac = this.link.macAddress();
    for (let i = 0; i < 6; i++) store<u8>(m + 28 + <usize>i, <u8>(mac >> (<u64>(5 - i) * 8)));
    store32(m + BOOTP_FIXED, MAGIC);
    let o = m + BOOTP_FIXED + 4;
    o = optByte(o, OPT_TYPE, 0); // type filled in by the caller through this slot
    return o;
  }

  private common(o: usize): usize {
    // Client identifier: hardware type 1 + MAC (RFC 2132 §9.14).
    store<u8>(o, OPT_CLIENT_ID); store<u8>(o + 1, 7); store<u8>(o + 2, 1);
    const mac = this.link.macAddress();
    for (let i = 0; i < 6; i++) store<u8>(o + 3 + <usize>i, <u8>(mac >> (<u64>(5 - i) * 8)));
    o += 9;
    store<u8>(o, OPT_MAX_SIZE); store<u8>(o + 1, 2); store16(o + 2, MESSAGE_MAX); o += 4;
    store<u8>(o, OPT_PARAMS); store<u8>(o + 1, 6);
    store<u8>(o + 2, OPT_MASK); store<u8>(o + 3, OPT_ROUTER); store<u8>(o + 4, OPT_DNS);
    store<u8>(o + 5, OPT_LEASE); store<u8>(o + 6, OPT_T1); store<u8>(o + 7, OPT_T2);
    return o + 8;
  }

  private finishAndSend(o: usize, type: u32, srcIp: u32, dstIp: u32): void {
    store<u8>(this.out + BOOTP_FIXED + 4 + 2, <u8>type);
    store<u8>(o, OPT_END);
    // At least 300 bytes: the BOOTP minimum some servers and relays expect (RFC 1542 §2.1).
    const len = max<i32>(<i32>(o + 1 - this.out), 300);
    this.link.sendDhcp(srcIp, dstIp, this.out, len);
  }

  private sendDiscover(): void {
    let o = this.header(0);
    o = this.common(o);
    this.stats.discovers++;
    this.finishAndSend(o, DISCOVER, 0, 0xffffffff);
    // 4, 8, 16, 32, 64, 64, ... s, each ±1 s.
    this.retryIn(min<u64>(<u64>4 << <u64>min(this.tries, 4), 64) * SEC);
  }

  // A REQUEST as the state wants it (RFC 2131 §4.3.2's table).
  private sendRequest(): void {
    const s = this.state;
    const ciaddr = s == DHCP_RENEWING || s == DHCP_REBINDING ? this.ip : 0;
    let o = this.header(ciaddr);
    if (s == DHCP_REQUESTING || s == DHCP_REBOOTING) o = optAddress(o, OPT_REQUESTED_IP, s == DHCP_REQUESTING ? this.offered : this.ip);
    if (s == DHCP_REQUESTING) o = optAddress(o, OPT_SERVER_ID, this.offerServer);
    o = this.common(o);
    this.stats.requests++;
    this.finishAndSend(o, REQUEST, ciaddr, s == DHCP_RENEWING ? this.server : 0xffffffff);
    const now = monotonicNs();
    if (s == DHCP_RENEWING || s == DHCP_REBINDING) {
      const until = s == DHCP_RENEWING ? this.t2 : this.expiry;
      const half = until > now ? (until - now) / 2 : 0;
      const next = max<u64>(half, 60 * SEC);
      armTimer(this.timer, min<u64>(next, until > now ? until - now : 0));
    } else {
      this.retryIn(min<u64>(<u64>4 << <u64>min(this.tries, 4), 64) * SEC);
    }
  }

  private retryIn(ns: u64): void {
    this.tries++;
    const jitter = <u64>randomBelow(2_000_000_000);
    armTimer(this.timer, ns + jitter > SEC ? ns + jitter - SEC : ns);
  }

  onTimer(): void {
    const now = monotonicNs();
    switch (this.state) {
      case DHCP_SELECTING:
        this.sendDiscover();
        break;
      case DHCP_REQUESTING:
      case DHCP_REBOOTING:
        if (this.tries >= 4) {
          if (this.state == DHCP_REBOOTING) this.expire();
          this.begin(DHCP_SELECTING);
          this.sendDiscover();
        } else {
          this.sendRequest();
        }
        break;
      case DHCP_BOUND:
      case DHCP_RENEWING:
      case DHCP_REBINDING:
        if (now >= this.expiry) {
          this.expire();
          this.begin(DHCP_SELECTING);
          this.sendDiscover();
        } else if (now >= this.t2) {
          if (this.state != DHCP_REBINDING) { this.state = DHCP_REBINDING; this.xid = random32(); }
          this.sendRequest();
        } else if (now >= this.t1) {
          if (this.state != DHCP_RENEWING) { this.state = DHCP_RENEWING; this.xid = random32(); this.started = now; }
          this.sendRequest();
        } else {
          armTimer(this.timer, this.t1 - now);
        }
        break;
      default:
        break;
    }
  }

  private expire(): void {
    if (this.ip != 0) {
      log("dhcp: " + this.link.linkName() + ": lease of " + ipString(this.ip) + " expired");
      this.link.deconfigure();
    }
    this.stats.expired++;
    this.ip = 0;
    this.state = DHCP_INIT;
  }

  // ---- receiving

  // A datagram to port 68 (`data` valid during the call).
  input(data: usize, len: i32): void {
    if (this.state == DHCP_INIT || len < BOOTP_FIXED + 4 || !this.parse(data, len)) { this.stats.ignored++; return; }
    const yiaddr = load32(data + 16);
    const type = this.rType;
    if (type == OFFER) {
      if (this.state != DHCP_SELECTING || !usableAddress(yiaddr) || this.rServer == 0) { this.stats.ignored++; return; }
      this.stats.offers++;
      this.offered = yiaddr;
      this.offerServer = this.rServer;
      this.state = DHCP_REQUESTING;
      this.tries = 0;
      this.sendRequest();
    } else if (type == ACK) {
      if (this.state == DHCP_SELECTING || !usableAddress(yiaddr) || (this.state == DHCP_REQUESTING && this.rServer != this.offerServer)) {
        this.stats.ignored++;
        return;
      }
      if ((this.state == DHCP_RENEWING || this.state == DHCP_REBINDING || this.state == DHCP_REBOOTING) && yiaddr != this.ip && this.ip != 0) {
        // A different address than the one we hold: let the old one go first.
        this.link.deconfigure();
      }
      this.stats.acks++;
      this.bind(yiaddr);
    } else if (type == NAK) {
      if (this.state == DHCP_SELECTING || (this.state == DHCP_REQUESTING && this.rServer != this.offerServer)) { this.stats.ignored++; return; }
      this.stats.naks++;
      log("dhcp: " + this.link.linkName() + ": NAK from " + ipString(this.rServer) + " (" + this.stateName() + ")");
      if (this.ip != 0) this.link.deconfigure();
      this.ip = 0;
      this.begin(DHCP_SELECTING);
      this.sendDiscover();
    } else {
      this.stats.ignored++;
    }
  }

  private bind(yiaddr: u32): void {
    const now = monotonicNs();
    const lease: u64 = max<u64>(this.hasLease ? min<u64>(this.rLease, MAX_LEASE_S) : 86400, 1);
    // T1 and T2 in ns: 0.5 and 0.875 of the lease unless the server says (RFC 2131 §4.4.5).
    let t1: u64 = this.hasT1 ? min<u64>(this.rT1, lease) * SEC : lease * SEC / 2;
    let t2: u64 = this.hasT2 ? min<u64>(this.rT2, lease) * SEC : lease * SEC * 7 / 8;
    if (t1 == 0) t1 = SEC / 2;
    if (t2 < t1) t2 = t1;
    const mask = this.rMask != 0 && contiguous(this.rMask) ? this.rMask : classfulMask(yiaddr);
    const router = this.rRouter != 0 && (this.rRouter & mask) == (yiaddr & mask) && this.rRouter != yiaddr ? this.rRouter : 0;
    const renewed = this.ip == yiaddr && this.state != DHCP_REQUESTING;
    this.ip = yiaddr;
    this.mask = mask;
    this.router = router;
    this.dns = this.rDns;
    if (this.rServer != 0) this.server = this.rServer;
    this.leaseSeconds = lease;
    this.t1 = now + t1;
    this.t2 = now + t2;
    this.expiry = now + lease * SEC;
    this.state = DHCP_BOUND;
    this.stats.leases++;
    this.link.configure(yiaddr, mask, router);
    log("dhcp: " + this.link.linkName() + ": " + (renewed ? "renewed " : "bound ") + ipString(yiaddr) + "/" + prefixLength(mask).toString() +
        (router != 0 ? " router " + ipString(router) : "") + " from " + ipString(this.server) + ", lease " + lease.toString() + " s");
    armTimer(this.timer, this.t1 - now);
  }

  // Reads the options we use into r*; false if the message is not a reply
  // to us or its options are malformed.
  private parse(m: usize, len: i32): bool {
    if (load<u8>(m) != 2 || load<u8>(m + 1) != 1 || load<u8>(m + 2) != 6 || load32(m + 4) != this.xid) return false;
    const mac = this.link.macAddress();
    for (let i = 0; i < 6; i++) if (load<u8>(m + 28 + <usize>i) != <u8>(mac >> (<u64>(5 - i) * 8))) return false;
    if (load32(m + BOOTP_FIXED) != MAGIC) return false;
    this.rType = 0; this.rServer = 0; this.rMask = 0; this.rRouter = 0; this.rDns = 0;
    this.rLease = 0; this.rT1 = 0; this.rT2 = 0;
    this.hasLease = false; this.hasT1 = false; this.hasT2 = false; this.bad = false;
    const overload = this.options(m + BOOTP_FIXED + 4, len - BOOTP_FIXED - 4);
    if (overload & 1) this.options(m + 108, 128);   // file
    if (overload & 2) this.options(m + 44, 64);     // sname
    return !this.bad && this.rType != 0;
  }

  // Walks one options area; returns the overload option's value (0: none).
  private options(at: usize, len: i32): u32 {
    let overload: u32 = 0;
    let i = 0;
    while (i < len) {
      const code = <i32>load<u8>(at + <usize>i);
      if (code == OPT_PAD) { i++; continue; }
      if (code == OPT_END) break;
      if (i + 1 >= len) { this.bad = true; break; }
      const n = <i32>load<u8>(at + <usize>i + 1);
      const v = at + <usize>i + 2;
      if (i + 2 + n > len) { this.bad = true; break; }
      if (code == OPT_TYPE && n == 1) this.rType = <u32>load<u8>(v);
      else if (code == OPT_SERVER_ID && n == 4) this.rServer = load32(v);
      else if (code == OPT_MASK && n == 4) this.rMask = load32(v);
      else if (code == OPT_ROUTER && n >= 4 && (n & 3) == 0) this.rRouter = load32(v);
      else if (code == OPT_DNS && n >= 4 && (n & 3) == 0) this.rDns = load32(v);
      else if (code == OPT_LEASE && n == 4) { this.rLease = <u64>load32(v); this.hasLease = true; }
      else if (code == OPT_T1 && n == 4) { this.rT1 = <u64>load32(v); this.hasT1 = true; }
      else if (code == OPT_T2 && n == 4) { this.rT2 = <u64>load32(v); this.hasT2 = true; }
      else if (code == OPT_OVERLOAD && n == 1) overload = <u32>load<u8>(v) & 3;
      i += 2 + n;
    }
    return overload;
  }
}

function optByte(o: usize, code: i32, v: u32): usize {
  store<u8>(o, <u8>code); store<u8>(o + 1, 1); store<u8>(o + 2, <u8>v);
  return o + 3;
}

function optAddress(o: usize, code: i32, ip: u32): usize {
  store<u8>(o, <u8>code); store<u8>(o + 1, 4); store32(o + 2, ip);
  return o + 6;
}

// A unicast address a host may take: not 0/8, 127/8, multicast, class E or broadcast.
export function usableAddress(ip: u32): bool {
  const top = ip >> 24;
  return top != 0 && top != 127 && top < 224 && ip != 0xffffffff;
}

function contiguous(mask: u32): bool {
  return mask != 0 && ((~mask + 1) & ~mask) == 0;
}

function classfulMask(ip: u32): u32 {
  const top = ip >> 24;
  return top < 128 ? 0xff000000 : top < 192 ? 0xffff0000 : 0xffffff00;
}

export function prefixLength(mask: u32): i32 {
  return <i32>popcnt(mask);
}
