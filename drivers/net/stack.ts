// A small IPv4 stack on one netfront: Ethernet II, ARP (RFC 826: cache,
// replies, resolution with retries), IPv4 (RFC 791: no options sent;
// fragments reassembled within bounds, ipv4-reassembly.ts; datagrams
// larger than the MTU sent as fragments), ICMP (RFC 792: echo replies,
// destination unreachable for UDP ports and protocols nobody serves,
// rate-limited, and never about ICMP errors, broadcasts or non-initial
// fragments, RFC 1122 §3.2.2), UDP sockets (RFC 768), a DHCP client
// (dhcp.ts) when the vif has no address, and a hook for protocols above IP
// (attach(): TCP, tcp.ts). With a router (from DHCP, or setAddress) a
// destination off the subnet goes through it; else every address is
// taken to be on the link.
// Every field read from a received frame is bounds-checked against the
// frame's length first; a malformed frame is counted and dropped. The IPv4
// header checksum is always verified; the ICMP and UDP checksums are not
// when the backend says it validated them (NETRXF_data_validated) or that
// the field holds only a partial sum (NETRXF_csum_blank): what we send back
// carries a checksum we compute ourselves (and says so, with
// NETTXF_data_validated, so dom0 does not check it again).
//
// The network is not trusted:
//  - only frames for our MAC or the broadcast MAC are taken (others are
//    counted in notForUs); an IPv4 datagram that came as a link-layer
//    broadcast must be for a broadcast address (RFC 1122 3.3.6);
//  - ICMP echo requests to a broadcast address are not answered (Linux's
//    icmp_echo_ignore_broadcasts), and UDP sent to 255.255.255.255 reaches
//    only sockets bound with `broadcast` (so an echo service is no reflector);
//  - ARP entries are learnt from ARP only, never from IPv4 headers, and as
//    Linux does with arp_accept=0: an ARP packet updates the entry of its
//    sender, and creates one only if it is addressed to us (a request for
//    our address, or a reply to ours). Senders 0.0.0.0, broadcast or
//    multicast addresses, our own address, and broadcast, multicast or zero
//    MACs are ignored;
//  - the ARP cache is a fixed table of ARP_CACHE_SIZE entries (the oldest
//    goes when full), entries older than ARP_STALE_NS are refreshed with a
//    new request when used, and datagrams waiting for an address are a
//    fixed pool of PENDING_MAX frames (the oldest goes when full): no
//    number of senders makes the stack grow.
import { Netfront, FrameHandler, RX_CSUM_FLAGS, GSO_MAX_FRAME } from "../netfront";
import { NETTXF_data_validated } from "../../runtime/abi/netif";
import { load16, load32, store16, store32, sum16, sumFast, finish, parseIp, pseudoHeaderSum } from "./bytes";
import { armTimer, Timer, TimerHandler } from "../../runtime/timers";
import { monotonicNs } from "../../runtime/time";
import { Handler } from "../../runtime/handler";
import { Condition, waitFor } from "../../runtime/loop";
import { Reassembly } from "./ipv4-reassembly";
import { TokenBucket } from "./rate-limit";
import { DhcpClient, DhcpLink, DHCP_CLIENT_PORT, DHCP_SERVER_PORT } from "./dhcp";

const ETH_HDR = 14;
const ETH_IPV4: u32 = 0x0800;
const ETH_ARP: u32 = 0x0806;
const IP_HDR = 20;
export const PROTO_ICMP: u32 = 1;
export const PROTO_TCP: u32 = 6;
export const PROTO_UDP: u32 = 17;
// Where an upper protocol's body starts in a frame it builds for sendIpFrame().
export const FRAME_HEADROOM: i32 = 14 + 20;
// sendIpFrame's results.
export const IP_SENT: i32 = 1;
export const IP_WAITING: i32 = 0;     // queued until ARP resolves the next hop
export const IP_DROPPED: i32 = -1;    // the device pushed back, no address, or too long
// ICMP errors we send: at most ICMP_ERRORS_PER_SECOND, bursts of ICMP_ERROR_BURST.
export const ICMP_ERRORS_PER_SECOND: i64 = 100;
export const ICMP_ERROR_BURST: i64 = 20;
const MAX_UDP_PAYLOAD = 65535 - 20 - 8;
const UDP_HDR = 8;
const ARP_LEN = 28;
const ARP_RETRIES = 3;
const ARP_RETRY_NS: u64 = 1_000_000_000;
export const ARP_CACHE_SIZE: i32 = 64;
export const ARP_STALE_NS: u64 = 60_000_000_000;
export const PENDING_MAX: i32 = 8;
const BROADCAST_IP: u32 = 0xffffffff;

// Receives datagrams for a bound port; `data` is valid only during the
// call. Never re-entered (runtime/handler.ts): a datagram for a socket
// whose handler is running (it blocked) is dropped and counted (udpBusy),
// which can only happen when one handler serves several stacks.
export abstract class UdpHandler extends Handler {
  abstract onDatagram(stack: NetStack, srcIp: u32, srcPort: u16, dstPort: u16, data: usize, len: i32): void;
}

// A protocol above IPv4 (TCP). The stack calls it from its frame handler,
// so it must not block: it hands work for apps to the loop itself.
export abstract class IpProtocol {
  // A datagram for us. `body`/`len` is its payload, `ip` its header (for
  // ICMP errors), both valid during the call only; `verify`: whether the
  // transport checksum is to be checked (see the header comment).
  abstract onDatagram(src: u32, dst: u32, body: usize, len: i32, verify: bool, ip: usize): void;
  // The device has room again after sendIpFrame() returned IP_DROPPED.
  onTxReady(): void {}
}

export class StackStats {
  arpReplies: u64 = 0;
  icmpEchoReplies: u64 = 0;
  udpIn: u64 = 0;
  udpOut: u64 = 0;
  malformed: u64 = 0;        // truncated or inconsistent headers, bad checksums
  noRoute: u64 = 0;          // datagrams dropped: ARP resolution failed, or the wait pool was full
  notForUs: u64 = 0;         // frames for another MAC, or unicast datagrams sent as link-layer broadcast
  udpBusy: u64 = 0;          // datagrams dropped because their handler was running
  fragmentsOut: u64 = 0;     // fragments sent (datagrams larger than the MTU)
  unreachablesSent: u64 = 0; // ICMP destination unreachable sent
  icmpRateLimited: u64 = 0;  // ICMP errors not sent because of the rate limit
  noProtocol: u64 = 0;       // datagrams for a protocol nobody serves
}

// The ARP cache: a fixed table (no allocation per neighbour).
class ArpCache {
  ips: StaticArray<u32> = new StaticArray<u32>(ARP_CACHE_SIZE);
  macs: StaticArray<u64> = new StaticArray<u64>(ARP_CACHE_SIZE);
  stamps: StaticArray<u64> = new StaticArray<u64>(ARP_CACHE_SIZE);  // when last confirmed; 0 = free
  last: i32 = 0;                                                        // the last hit, tried first

  find(ip: u32): i32 {
    if (this.stamps[this.last] != 0 && this.ips[this.last] == ip) return this.last;
    for (let i = 0; i < ARP_CACHE_SIZE; i++) {
      if (this.stamps[i] != 0 && this.ips[i] == ip) { this.last = i; return i; }
    }
    return -1;
  }

  // Sets `ip`'s MAC, taking a free entry or the oldest one.
  put(ip: u32, mac: u64, now: u64): void {
    let at = this.find(ip);
    if (at < 0) {
      at = 0;
      for (let i = 0; i < ARP_CACHE_SIZE; i++) {
        if (this.stamps[i] == 0) { at = i; break; }
        if (this.stamps[i] < this.stamps[at]) at = i;
      }
      this.ips[at] = ip;
    }
    this.macs[at] = mac;
    this.stamps[at] = now;
  }

  size(): i32 {
    let n = 0;
    for (let i = 0; i < ARP_CACHE_SIZE; i++) if (this.stamps[i] != 0) n++;
    return n;
  }
}

// Frames waiting for ARP resolution: a fixed pool, oldest first out.
class PendingPool {
  frames: usize = 0;                                        // PENDING_MAX frames of `frameSize` bytes
  ips: StaticArray<u32> = new StaticArray<u32>(PENDING_MAX);
  lens: StaticArray<i32> = new StaticArray<i32>(PENDING_MAX); // 0 = free
  tries: StaticArray<i32> = new StaticArray<i32>(PENDING_MAX);
  born: StaticArray<u64> = new StaticArray<u64>(PENDING_MAX);
  constructor(public frameSize: i32) {}

  frame(i: i32): usize { return this.frames + <usize>i * <usize>this.frameSize; }

  // A slot for a new frame: a free one, else the oldest (returned as -1 - slot: its frame is lost).
  take(): i32 {
    if (this.frames == 0) this.frames = heap.alloc(<usize>PENDING_MAX * <usize>this.frameSize);
    let oldest = 0;
    for (let i = 0; i < PENDING_MAX; i++) {
      if (this.lens[i] == 0) return i;
      if (this.born[i] < this.born[oldest]) oldest = i;
    }
    return -1 - oldest;
  }

  count(): i32 {
    let n = 0;
    for (let i = 0; i < PENDING_MAX; i++) if (this.lens[i] != 0) n++;
    return n;
  }
}

class ArpRetry extends TimerHandler {
  constructor(public stack: NetStack) { super(); }
  onTimer(t: Timer): void { this.stack.arpRetry(); }
}

const BROADCAST: u64 = 0xffffffffffff;

// The DHCP client's way to the network (dhcp.ts).
class StackDhcpLink extends DhcpLink {
  constructor(public stack: NetStack) { super(); }
  macAddress(): u64 { return this.stack.mac; }
  sendDhcp(srcIp: u32, dstIp: u32, data: usize, len: i32): bool {
    return this.stack.sendUdp(srcIp, dstIp, DHCP_SERVER_PORT, DHCP_CLIENT_PORT, data, len);
  }
  configure(ip: u32, mask: u32, router: u32): void { this.stack.setAddress(ip, mask, router); }
  deconfigure(): void { this.stack.setAddress(0, 0, 0); }
  linkName(): string { return "vif " + this.stack.dev.info.id; }
}

class DhcpSocket extends UdpHandler {
  constructor(public client: DhcpClient) { super(); }
  onDatagram(stack: NetStack, srcIp: u32, srcPort: u16, dstPort: u16, data: usize, len: i32): void {
    if (srcPort == DHCP_SERVER_PORT) this.client.input(data, len);
  }
}

class HasAddress extends Condition {
  constructor(public stack: NetStack) { super(); }
  done(): bool { return this.stack.ip != 0; }
}

export class NetStack extends FrameHandler {
  ip: u32 = 0;
  netmask: u32 = 0;            // 0: every address is on the link
  router: u32 = 0;             // 0: none
  mac: u64 = 0;
  dhcp: DhcpClient | null = null;   // when the vif came without an address
  reassembly: Reassembly = new Reassembly();
  protocols: StaticArray<IpProtocol | null> = new StaticArray<IpProtocol | null>(256);
  icmpLimit: TokenBucket = new TokenBucket(ICMP_ERRORS_PER_SECOND, ICMP_ERROR_BURST);
  txBlocked: bool = false;     // an upper protocol's frame was refused by the device
  stats: StackStats = new StackStats();
  arp: ArpCache = new ArpCache();
  pending: PendingPool;
  sockets: Map<u16, UdpHandler> = new Map<u16, UdpHandler>();
  broadcastPorts: Map<u16, bool> = new Map<u16, bool>();
  out: usize = 0;             // the frame being built, dev.maxFrame() bytes
  arpOut: usize = heap.alloc(ETH_HDR + ARP_LEN);  // ARP packets (sent while `out` may hold a datagram)
  udpHeaderOut: usize = heap.alloc(UDP_HDR);      // the UDP header of a datagram sent in fragments
  ipId: u32 = 1;
  retry!: Timer;               // ARP retries, while datagrams wait for an address

  // The address is `ip`, else the vif's (xl `ip=`); with neither, DHCP
  // finds one (unless `dhcp` is false): see waitForAddress().
  constructor(public dev: Netfront, ip: u32 = 0, dhcp: bool = true) {
    super();
    this.mac = dev.macAddress();
    this.ip = ip != 0 ? ip : parseIp(dev.ip);
    this.out = heap.alloc(<usize>dev.maxFrame());
    this.pending = new PendingPool(dev.maxFrame());
    this.retry = new Timer(new ArpRetry(this));
    dev.handler = this;
    if (this.ip == 0 && dhcp) {
      const client = new DhcpClient(new StackDhcpLink(this));
      this.dhcp = client;
      this.bind(DHCP_CLIENT_PORT, new DhcpSocket(client), true);
      if (dev.connected) client.start();
    }
  }

  // Sets (or, with 0, removes) the address, its netmask (0: everything is
  // on the link) and the router for other destinations (0: none). DHCP
  // calls this; an app may too.
  setAddress(ip: u32, netmask: u32, router: u32): void {
    this.ip = ip;
    this.netmask = netmask;
    this.router = router;
    if (ip != 0) this.sendArp(1, 0, ip); // announce (gratuitous ARP)
  }

  // Runs the loop until the stack has an address (DHCP) or `timeoutNs`
  // passes; returns whether it has one.
  waitForAddress(timeoutNs: u64): bool {
    return waitFor(new HasAddress(this), timeoutNs);
  }

  // Has `proto`'s datagrams (e.g. PROTO_TCP) go to `p`.
  attach(proto: u32, p: IpProtocol): void {
    this.protocols[proto & 255] = p;
  }

  // The device connected again (maybe re-attached with another MAC): tell
  // the network where we are now (a gratuitous ARP: switches and peers
  // learn our MAC, e.g. after a move to another host).
  onLinkUp(): void {
    this.mac = this.dev.macAddress();
    if (this.ip != 0) this.sendArp(1, 0, this.ip);
    const d = this.dhcp;
    if (d !== null) d.start();
  }

  onLinkDown(): void {
    const d = this.dhcp;
    if (d !== null) d.stop();
  }

  // The device took back TX buffers after refusing a frame.
  onTxReady(): void {
    if (!this.txBlocked) return;
    this.txBlocked = false;
    for (let i = 0; i < 256; i++) {
      const p = this.protocols[i];
      if (p !== null) p.onTxReady();
    }
  }

  // Neighbours in the ARP cache now (at most ARP_CACHE_SIZE).
  arpEntries(): i32 { return this.arp.size(); }

  // The largest UDP payload one frame carries on this device (1472 at mtu
  // 1500); sendTo() takes up to 65507 bytes, sent as fragments beyond this.
  maxUdpPayload(): i32 {
    return this.dev.maxFrame() - ETH_HDR - IP_HDR - UDP_HDR;
  }

  // Datagrams to `port` go to `handler`; with `broadcast`, also those sent
  // to 255.255.255.255.
  bind(port: u16, handler: UdpHandler, broadcast: bool = false): void {
    this.sockets.set(port, handler);
    if (broadcast) this.broadcastPorts.set(port, true);
    else this.broadcastPorts.delete(port);
  }
  unbind(port: u16): void {
    this.sockets.delete(port);
    this.broadcastPorts.delete(port);
  }

  // ---- receive ----

  onFrame(frame: usize, len: i32, flags: i32): void {
    if (len < ETH_HDR) { this.stats.malformed++; return; }
    const dst = loadMac(frame);
    const linkBroadcast = dst == BROADCAST;
    if (dst != this.mac && !linkBroadcast) { this.stats.notForUs++; return; }
    const type = load16(frame + 12);
    if (type == ETH_ARP) this.arpIn(frame, len);
    else if (type == ETH_IPV4) this.ipIn(frame, len, (flags & RX_CSUM_FLAGS) == 0, linkBroadcast);
  }

  private arpIn(frame: usize, len: i32): void {
    const a = frame + ETH_HDR;
    if (len < ETH_HDR + ARP_LEN || load16(a) != 1 || load16(a + 2) != ETH_IPV4 || load<u8>(a + 4) != 6 || load<u8>(a + 5) != 4) {
      this.stats.malformed++;
      return;
    }
    const op = load16(a + 6);
    const senderMac = loadMac(a + 8);
    const senderIp = load32(a + 14);
    const targetIp = load32(a + 24);
    this.learn(senderIp, senderMac, targetIp == this.ip && this.ip != 0);
    if (op == 1 && targetIp == this.ip && this.ip != 0) {
      this.sendArp(2, senderMac, senderIp);
      this.stats.arpReplies++;
    }
  }

  // verify: whether the ICMP/UDP checksum is to be checked (see above).
  private ipIn(frame: usize, len: i32, verify: bool, linkBroadcast: bool): void {
    let ip = frame + ETH_HDR;
    if (len < ETH_HDR + IP_HDR) { this.stats.malformed++; return; }
    const vihl = load<u8>(ip);
    let hlen = <i32>(vihl & 15) * 4;
    let total = <i32>load16(ip + 2);
    if (vihl >> 4 != 4 || hlen < IP_HDR || total < hlen || ETH_HDR + total > len || finish(sum16(ip, hlen, 0)) != 0) {
      this.stats.malformed++;
      return;
    }
    const dst = load32(ip + 16);
    const broadcast = this.isBroadcast(dst);
    if (dst != this.ip && !broadcast) return;
    if (linkBroadcast && !broadcast) { this.stats.notForUs++; return; } // RFC 1122 3.3.6
    const src = load32(ip + 12);
    const srcMac = loadMac(frame + 6);
    if (load16(ip + 6) & 0x3fff) {
      // A fragment (MF set or an offset): the datagram is handled once whole.
      if (broadcast) return;
      ip = this.reassembly.add(ip, hlen, total, monotonicNs());
      if (ip == 0) return;
      hlen = IP_HDR;
      total = <i32>load16(ip + 2);
      verify = true; // fragments carry complete checksums (nobody offloads them)
    }
    const proto = <u32>load<u8>(ip + 9);
    const body = ip + <usize>hlen;
    const bodyLen = total - hlen;
    if (proto == PROTO_ICMP) {
      if (!broadcast) this.icmpIn(src, srcMac, body, bodyLen, verify);
    } else if (proto == PROTO_UDP) {
      this.udpIn(src, dst, body, bodyLen, verify, broadcast, ip, srcMac);
    } else {
      const p = this.protocols[proto];
      if (p !== null) {
        if (!broadcast) p.onDatagram(src, dst, body, bodyLen, verify, ip);
      } else {
        this.stats.noProtocol++;
        if (!broadcast) this.sendUnreachable(2, ip, srcMac); // protocol unreachable
      }
    }
  }

  // 255.255.255.255, or our subnet's broadcast address.
  private isBroadcast(dst: u32): bool {
    return dst == BROADCAST_IP || (this.netmask != 0 && this.ip != 0 && dst == (this.ip | ~this.netmask));
  }

  private icmpIn(src: u32, srcMac: u64, icmp: usize, len: i32, verify: bool): void {
    if (len < 8 || (verify && finish(sumFast(icmp, len, 0)) != 0)) { this.stats.malformed++; return; }
    if (load<u8>(icmp) != 8) return; // only echo requests
    // Not to a broadcast or multicast source: no amplification (RFC 1122 §3.2.2.6).
    if (!unicastHost(src)) return;
    const max = this.dev.maxFrame() - ETH_HDR - IP_HDR;
    if (len <= max) {
      const reply = this.out + ETH_HDR + IP_HDR;
      memory.copy(reply, icmp, len);
      store<u8>(reply, 0); // echo reply, same id, sequence and data
      store16(reply + 2, 0);
      store16(reply + 2, finish(sumFast(reply, len, 0)));
      this.emit(srcMac, src, PROTO_ICMP, len);
    } else {
      // A reassembled request (ping -s 4000): the reply goes out in
      // fragments, built from the request where it lies.
      store<u8>(icmp, 0);
      store16(icmp + 2, 0);
      store16(icmp + 2, finish(sumFast(icmp, len, 0)));
      this.sendFragments(srcMac, this.ip, src, PROTO_ICMP, icmp, len, 0, 0);
    }
    this.stats.icmpEchoReplies++;
  }

  private udpIn(src: u32, dst: u32, udp: usize, len: i32, verify: bool, broadcast: bool, ip: usize, srcMac: u64): void {
    if (len < UDP_HDR) { this.stats.malformed++; return; }
    const udpLen = <i32>load16(udp + 4);
    if (udpLen < UDP_HDR || udpLen > len) { this.stats.malformed++; return; }
    if (verify && load16(udp + 6) != 0 && finish(sumFast(udp, udpLen, pseudoHeaderSum(src, dst, PROTO_UDP, udpLen))) != 0) {
      this.stats.malformed++;
      return;
    }
    const dstPort = <u16>load16(udp + 2);
    if (!this.sockets.has(dstPort) || (broadcast && !this.broadcastPorts.has(dstPort))) {
      if (!broadcast) this.sendUnreachable(3, ip, srcMac); // port unreachable
      return;
    }
    const h = this.sockets.get(dstPort);
    if (h.running) { this.stats.udpBusy++; return; }
    this.stats.udpIn++;
    h.running = true;
    h.onDatagram(this, src, <u16>load16(udp), dstPort, udp + UDP_HDR, udpLen - UDP_HDR);
    h.running = false;
  }

  // ICMP destination unreachable (`code`: 2 protocol, 3 port) about the
  // datagram whose header is at `ip`: its header and first 8 bytes of
  // payload (RFC 792), to its source, within the rate limit. Never about an
  // ICMP error, a non-initial fragment (the caller passes whole datagrams)
  // or from/to anything but a unicast host (RFC 1122 §3.2.2).
  sendUnreachable(code: u32, ip: usize, srcMac: u64): void {
    const src = load32(ip + 12);
    if (this.ip == 0 || !unicastHost(src)) return;
    const hlen = <i32>(load<u8>(ip) & 15) * 4;
    const total = <i32>load16(ip + 2);
    if (load<u8>(ip + 9) == <u8>PROTO_ICMP && total >= hlen + 1) {
      const type = load<u8>(ip + <usize>hlen);
      if (type != 0 && type != 8 && type != 13 && type != 14 && type != 15 && type != 16 && type != 17 && type != 18) return;
    }
    if (!this.icmpLimit.take(monotonicNs())) { this.stats.icmpRateLimited++; return; }
    const quoted = min(hlen + 8, total);
    const icmp = this.out + ETH_HDR + IP_HDR;
    store<u8>(icmp, 3);
    store<u8>(icmp + 1, <u8>code);
    store16(icmp + 2, 0);
    store32(icmp + 4, 0);
    memory.copy(icmp + 8, ip, quoted);
    store16(icmp + 2, finish(sumFast(icmp, 8 + quoted, 0)));
    this.stats.unreachablesSent++;
    this.emit(srcMac, src, PROTO_ICMP, 8 + quoted);
  }

  // ---- send ----

  // Sends a UDP datagram of up to 65507 bytes (more than maxUdpPayload()
  // goes as fragments). Returns false if it was dropped (too large, no
  // address yet, the device pushed back, or ARP resolution is still
  // pending: then a datagram that fits one frame is sent once the address
  // resolves; a larger one is lost).
  sendTo(dstIp: u32, dstPort: u16, srcPort: u16, data: usize, len: i32): bool {
    if (this.ip == 0) return false;
    return this.sendUdp(this.ip, dstIp, dstPort, srcPort, data, len);
  }

  // sendTo from a given source address (DHCP sends from 0.0.0.0).
  sendUdp(srcIp: u32, dstIp: u32, dstPort: u16, srcPort: u16, data: usize, len: i32): bool {
    if (len < 0 || len > MAX_UDP_PAYLOAD) return false;
    const udpLen = len + UDP_HDR;
    const sum = pseudoHeaderSum(srcIp, dstIp, PROTO_UDP, udpLen);
    const broadcast = dstIp == BROADCAST_IP || this.isBroadcast(dstIp);
    this.stats.udpOut++;
    if (len <= this.maxUdpPayload()) {
      const udp = this.out + ETH_HDR + IP_HDR;
      memory.copy(udp + UDP_HDR, data, len);
      udpHeader(udp, srcPort, dstPort, udpLen);
      const c = finish(sumFast(udp, udpLen, sum));
      store16(udp + 6, c == 0 ? 0xffff : c);
      const mac = broadcast ? BROADCAST : this.resolve(this.nextHop(dstIp));
      if (mac == 0) {
        this.buildIp(this.out, srcIp, dstIp, PROTO_UDP, udpLen, 0x4000);
        this.queueForArp(this.out, this.nextHop(dstIp), ETH_HDR + IP_HDR + udpLen);
        return false;
      }
      this.buildIp(this.out, srcIp, dstIp, PROTO_UDP, udpLen, 0x4000);
      this.ethHeader(this.out, mac, ETH_IPV4);
      return this.dev.send(this.out, ETH_HDR + IP_HDR + udpLen, NETTXF_data_validated);
    }
    // Fragments: the header's checksum covers all the data.
    const mac = broadcast ? BROADCAST : this.resolve(this.nextHop(dstIp));
    if (mac == 0) {
      this.sendArp(1, 0, this.nextHop(dstIp));
      this.stats.noRoute++;
      return false;
    }
    const header = this.udpHeaderOut;
    udpHeader(header, srcPort, dstPort, udpLen);
    const c = finish(sumFast(data, len, sumFast(header, UDP_HDR, sum)));
    store16(header + 6, c == 0 ? 0xffff : c);
    return this.sendFragments(mac, srcIp, dstIp, PROTO_UDP, data, len, header, UDP_HDR);
  }

  // Sends a datagram whose body is `prefixLen` bytes at `prefix` followed
  // by `len` bytes at `body`, as fragments of at most the MTU (RFC 791
  // §3.2: offsets in 8-byte units, MF on all but the last, one id).
  private sendFragments(mac: u64, srcIp: u32, dstIp: u32, proto: u32, body: usize, len: i32, prefix: usize, prefixLen: i32): bool {
    const per = (this.dev.maxFrame() - ETH_HDR - IP_HDR) & ~7;
    const total = prefixLen + len;
    const id = this.ipId++ & 0xffff;
    let ok = true;
    for (let off = 0; off < total; off += per) {
      const n = min(per, total - off);
      const at = this.out + ETH_HDR + IP_HDR;
      // Bytes [off, off + n) of prefix ++ body.
      let copied = 0;
      if (off < prefixLen) {
        copied = min(prefixLen - off, n);
        memory.copy(at, prefix + <usize>off, copied);
      }
      if (copied < n) memory.copy(at + <usize>copied, body + <usize>(off + copied - prefixLen), n - copied);
      const more = off + n < total ? 0x2000 : 0;
      this.buildIp(this.out, srcIp, dstIp, proto, n, <u32>(more | (off >> 3)), id);
      this.ethHeader(this.out, mac, ETH_IPV4);
      if (!this.dev.send(this.out, ETH_HDR + IP_HDR + n)) ok = false;
      this.stats.fragmentsOut++;
    }
    return ok;
  }

  // Sends the datagram an upper protocol built in `frame`: its body
  // (`bodyLen` bytes) at frame + FRAME_HEADROOM, the IPv4 and Ethernet
  // headers filled in here (don't-fragment set: TCP sizes its segments to
  // the MTU). Returns IP_SENT, IP_WAITING (held until ARP resolves the next
  // hop) or IP_DROPPED (no address, too long, or the device pushed back:
  // then onTxReady() follows once it has room). `gsoSize` > 0: a TCP frame
  // of up to GSO_MAX_FRAME bytes the device cuts into segments of that
  // payload (when it negotiated GSO: `dev.gso`).
  sendIpFrame(frame: usize, dst: u32, proto: u32, bodyLen: i32, gsoSize: i32 = 0): i32 {
    const limit = gsoSize > 0 ? GSO_MAX_FRAME : this.dev.maxFrame();
    if (this.ip == 0 || ETH_HDR + IP_HDR + bodyLen > limit) return IP_DROPPED;
    this.buildIp(frame, this.ip, dst, proto, bodyLen, 0x4000);
    const hop = this.nextHop(dst);
    const mac = this.resolve(hop);
    if (mac == 0) {
      if (gsoSize > 0) { this.sendArp(1, 0, hop); return IP_DROPPED; }   // too big for the wait pool
      this.queueForArp(frame, hop, ETH_HDR + IP_HDR + bodyLen);
      return IP_WAITING;
    }
    this.ethHeader(frame, mac, ETH_IPV4);
    if (this.dev.send(frame, ETH_HDR + IP_HDR + bodyLen, NETTXF_data_validated, gsoSize)) return IP_SENT;
    this.txBlocked = true;
    return IP_DROPPED;
  }

  // Where a datagram for `dst` goes on the link: `dst` itself, or the
  // router when `dst` is off our subnet.
  nextHop(dst: u32): u32 {
    if (this.router != 0 && this.netmask != 0 && (dst & this.netmask) != (this.ip & this.netmask)) return this.router;
    return dst;
  }

  // The MAC for `ip` from the cache (0: unknown). A stale entry is still
  // used, and refreshed with a new request.
  private resolve(ip: u32): u64 {
    const at = this.arp.find(ip);
    if (at < 0) return 0;
    const now = monotonicNs();
    if (now - this.arp.stamps[at] > ARP_STALE_NS) {
      this.arp.stamps[at] = now; // one refresh request per ARP_STALE_NS
      this.sendArp(1, 0, ip);
    }
    return this.arp.macs[at];
  }

  private buildIp(frame: usize, src: u32, dst: u32, proto: u32, bodyLen: i32, flags: u32, id: u32 = 0x10000): void {
    const ip = frame + ETH_HDR;
    store<u8>(ip, 0x45);
    store<u8>(ip + 1, 0);
    store16(ip + 2, <u32>(IP_HDR + bodyLen));
    store16(ip + 4, id == 0x10000 ? this.ipId++ & 0xffff : id);
    store16(ip + 6, flags);
    store<u8>(ip + 8, 64);
    store<u8>(ip + 9, <u8>proto);
    store16(ip + 10, 0);
    store32(ip + 12, src);
    store32(ip + 16, dst);
    store16(ip + 10, finish(sum16(ip, IP_HDR, 0)));
  }

  private ethHeader(frame: usize, dstMac: u64, type: u32): void {
    storeMac(frame, dstMac);
    storeMac(frame + 6, this.mac);
    store16(frame + 12, type);
  }

  // IPv4 + Ethernet headers around the body already in this.out, then send.
  private emit(dstMac: u64, dst: u32, proto: u32, bodyLen: i32): bool {
    this.buildIp(this.out, this.ip, dst, proto, bodyLen, 0x4000);
    this.ethHeader(this.out, dstMac, ETH_IPV4);
    return this.dev.send(this.out, ETH_HDR + IP_HDR + bodyLen, NETTXF_data_validated);
  }

  private sendArp(op: u32, targetMac: u64, targetIp: u32): void {
    const f = this.arpOut;
    this.ethHeader(f, op == 1 ? BROADCAST : targetMac, ETH_ARP);
    const a = f + ETH_HDR;
    store16(a, 1);
    store16(a + 2, ETH_IPV4);
    store<u8>(a + 4, 6);
    store<u8>(a + 5, 4);
    store16(a + 6, op);
    storeMac(a + 8, this.mac);
    store32(a + 14, this.ip);
    storeMac(a + 18, op == 1 ? 0 : targetMac);
    store32(a + 24, targetIp);
    this.dev.send(f, ETH_HDR + ARP_LEN);
  }

  // ---- ARP resolution

  // An ARP packet from `ip` at `mac`: updates its entry, and creates one
  // only if the packet was addressed to us (see the header comment).
  private learn(ip: u32, mac: u64, forUs: bool): void {
    if (ip == 0 || ip == BROADCAST_IP || (ip >> 28) == 0xe || ip == this.ip) return;
    if (mac == 0 || (mac >> 40) & 1) return; // zero, broadcast or multicast MAC
    if (!forUs && this.arp.find(ip) < 0) return;
    this.arp.put(ip, mac, monotonicNs());
    const p = this.pending;
    for (let i = 0; i < PENDING_MAX; i++) {
      if (p.lens[i] == 0 || p.ips[i] != ip) continue;
      storeMac(p.frame(i), mac);
      this.dev.send(p.frame(i), p.lens[i]);
      p.lens[i] = 0;
    }
  }

  // The frame at `frame` (its IPv4 header built) waits for `ip`'s MAC.
  private queueForArp(frame: usize, ip: u32, frameLen: i32): void {
    this.ethHeader(frame, 0, ETH_IPV4);
    const p = this.pending;
    let first = true;
    for (let i = 0; i < PENDING_MAX; i++) if (p.lens[i] != 0 && p.ips[i] == ip) first = false;
    let slot = p.take();
    if (slot < 0) { slot = -1 - slot; this.stats.noRoute++; }
    memory.copy(p.frame(slot), frame, frameLen);
    p.ips[slot] = ip;
    p.lens[slot] = frameLen;
    p.tries[slot] = 1;
    p.born[slot] = monotonicNs();
    if (first) this.sendArp(1, 0, ip);
    if (!this.retry.active) armTimer(this.retry, ARP_RETRY_NS);
  }

  arpRetry(): void {
    const p = this.pending;
    let left = 0;
    for (let i = 0; i < PENDING_MAX; i++) {
      if (p.lens[i] == 0) continue;
      if (p.tries[i] >= ARP_RETRIES) {
        p.lens[i] = 0;
        this.stats.noRoute++;
        continue;
      }
      // One request per address per round (the first of its frames asks).
      let asked = false;
      for (let j = 0; j < i; j++) if (p.lens[j] != 0 && p.ips[j] == p.ips[i]) asked = true;
      p.tries[i]++;
      if (!asked) this.sendArp(1, 0, p.ips[i]);
      left++;
    }
    if (left > 0) armTimer(this.retry, ARP_RETRY_NS);
  }
}

function udpHeader(udp: usize, srcPort: u16, dstPort: u16, udpLen: i32): void {
  store16(udp, srcPort);
  store16(udp + 2, dstPort);
  store16(udp + 4, <u32>udpLen);
  store16(udp + 6, 0);
}

// An address one host may have: not 0.0.0.0/8, broadcast, multicast or class E.
function unicastHost(ip: u32): bool {
  const top = ip >> 24;
  return top != 0 && top < 224;
}

function loadMac(at: usize): u64 {
  return (<u64>load16(at) << 32) | <u64>load32(at + 2);
}

function storeMac(at: usize, mac: u64): void {
  store16(at, <u32>(mac >> 32));
  store32(at + 2, <u32>mac);
}
