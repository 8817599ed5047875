// A small IPv4 stack on one netfront: Ethernet II, ARP (RFC 826: cache,
// replies, resolution with retries), IPv4 (RFC 791: no options sent, no
// fragments), ICMP echo replies (RFC 792) and UDP sockets (RFC 768).
// Every field read from a received frame is bounds-checked against the
// frame's length first; a malformed frame is counted and dropped. The IPv4
// header checksum is always verified; the ICMP and UDP checksums are not
// when the backend says it validated them (NETRXF_data_validated) or that
// the field holds only a partial sum (NETRXF_csum_blank): what we send back
// carries a checksum we compute ourselves.
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
import { Netfront, FrameHandler, RX_CSUM_FLAGS } from "../netfront";
import { load16, load32, store16, store32, sum16, finish, parseIp } from "./bytes";
import { armTimer, Timer, TimerHandler } from "../../runtime/timers";
import { monotonicNs } from "../../runtime/time";
import { Handler } from "../../runtime/handler";

const ETH_HDR = 14;
const ETH_IPV4: u32 = 0x0800;
const ETH_ARP: u32 = 0x0806;
const IP_HDR = 20;
const PROTO_ICMP: u32 = 1;
const PROTO_UDP: u32 = 17;
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

export class StackStats {
  arpReplies: u64 = 0;
  icmpEchoReplies: u64 = 0;
  udpIn: u64 = 0;
  udpOut: u64 = 0;
  malformed: u64 = 0;        // truncated or inconsistent headers, bad checksums
  noRoute: u64 = 0;          // datagrams dropped: ARP resolution failed, or the wait pool was full
  notForUs: u64 = 0;         // frames for another MAC, or unicast datagrams sent as link-layer broadcast
  udpBusy: u64 = 0;          // datagrams dropped because their handler was running
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

export class NetStack extends FrameHandler {
  ip: u32 = 0;
  mac: u64 = 0;
  stats: StackStats = new StackStats();
  arp: ArpCache = new ArpCache();
  pending: PendingPool;
  sockets: Map<u16, UdpHandler> = new Map<u16, UdpHandler>();
  broadcastPorts: Map<u16, bool> = new Map<u16, bool>();
  out: usize = 0;             // the frame being built, dev.maxFrame() bytes
  arpOut: usize = heap.alloc(ETH_HDR + ARP_LEN);  // ARP packets (sent while `out` may hold a datagram)
  ipId: u32 = 1;
  retry!: Timer;               // ARP retries, while datagrams wait for an address

  constructor(public dev: Netfront, ip: u32 = 0) {
    super();
    this.mac = dev.macAddress();
    this.ip = ip != 0 ? ip : parseIp(dev.ip);
    this.out = heap.alloc(<usize>dev.maxFrame());
    this.pending = new PendingPool(dev.maxFrame());
    this.retry = new Timer(new ArpRetry(this));
    dev.handler = this;
  }

  // The device connected again (maybe re-attached with another MAC): tell
  // the network where we are now (a gratuitous ARP: switches and peers
  // learn our MAC, e.g. after a move to another host).
  onLinkUp(): void {
    this.mac = this.dev.macAddress();
    if (this.ip != 0) this.sendArp(1, 0, this.ip);
  }

  // Neighbours in the ARP cache now (at most ARP_CACHE_SIZE).
  arpEntries(): i32 { return this.arp.size(); }

  // The largest UDP payload one frame carries on this device (1472 at mtu 1500).
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
    const ip = frame + ETH_HDR;
    if (len < ETH_HDR + IP_HDR) { this.stats.malformed++; return; }
    const vihl = load<u8>(ip);
    const hlen = <i32>(vihl & 15) * 4;
    const total = <i32>load16(ip + 2);
    if (vihl >> 4 != 4 || hlen < IP_HDR || total < hlen || ETH_HDR + total > len || finish(sum16(ip, hlen, 0)) != 0) {
      this.stats.malformed++;
      return;
    }
    if (load16(ip + 6) & 0x3fff) return; // a fragment: not supported, dropped
    const dst = load32(ip + 16);
    const broadcast = dst == BROADCAST_IP;
    if (dst != this.ip && !broadcast) return;
    if (linkBroadcast && !broadcast) { this.stats.notForUs++; return; } // RFC 1122 3.3.6
    const src = load32(ip + 12);
    const proto = <u32>load<u8>(ip + 9);
    const body = ip + <usize>hlen;
    const bodyLen = total - hlen;
    if (proto == PROTO_ICMP && !broadcast) this.icmpIn(src, loadMac(frame + 6), body, bodyLen, verify);
    else if (proto == PROTO_UDP) this.udpIn(src, dst, body, bodyLen, verify, broadcast);
  }

  private icmpIn(src: u32, srcMac: u64, icmp: usize, len: i32, verify: bool): void {
    if (len < 8 || (verify && finish(sum16(icmp, len, 0)) != 0)) { this.stats.malformed++; return; }
    if (load<u8>(icmp) != 8 || len > this.dev.maxFrame() - ETH_HDR - IP_HDR) return; // only echo requests
    const reply = this.out + ETH_HDR + IP_HDR;
    memory.copy(reply, icmp, len);
    store<u8>(reply, 0); // echo reply, same id, sequence and data
    store16(reply + 2, 0);
    store16(reply + 2, finish(sum16(reply, len, 0)));
    this.emit(srcMac, src, PROTO_ICMP, len);
    this.stats.icmpEchoReplies++;
  }

  private udpIn(src: u32, dst: u32, udp: usize, len: i32, verify: bool, broadcast: bool): void {
    if (len < UDP_HDR) { this.stats.malformed++; return; }
    const udpLen = <i32>load16(udp + 4);
    if (udpLen < UDP_HDR || udpLen > len) { this.stats.malformed++; return; }
    if (verify && load16(udp + 6) != 0 && finish(sum16(udp, udpLen, this.pseudoSum(src, dst, udpLen))) != 0) {
      this.stats.malformed++;
      return;
    }
    const dstPort = <u16>load16(udp + 2);
    if (!this.sockets.has(dstPort) || (broadcast && !this.broadcastPorts.has(dstPort))) return;
    const h = this.sockets.get(dstPort);
    if (h.running) { this.stats.udpBusy++; return; }
    this.stats.udpIn++;
    h.running = true;
    h.onDatagram(this, src, <u16>load16(udp), dstPort, udp + UDP_HDR, udpLen - UDP_HDR);
    h.running = false;
  }

  // ---- send ----

  private pseudoSum(src: u32, dst: u32, udpLen: i32): u32 {
    let s: u32 = (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + PROTO_UDP + <u32>udpLen;
    while (s >> 16) s = (s & 0xffff) + (s >> 16);
    return s;
  }

  // Sends a UDP datagram. Returns false if it was dropped (too large, the
  // device pushed back, or ARP resolution is still pending: then it is sent
  // once the address resolves).
  sendTo(dstIp: u32, dstPort: u16, srcPort: u16, data: usize, len: i32): bool {
    if (len < 0 || len > this.maxUdpPayload() || this.ip == 0) return false;
    const udp = this.out + ETH_HDR + IP_HDR;
    const udpLen = len + UDP_HDR;
    memory.copy(udp + UDP_HDR, data, len);
    store16(udp, srcPort);
    store16(udp + 2, dstPort);
    store16(udp + 4, <u32>udpLen);
    store16(udp + 6, 0);
    const c = finish(sum16(udp, udpLen, this.pseudoSum(this.ip, dstIp, udpLen)));
    store16(udp + 6, c == 0 ? 0xffff : c);
    this.stats.udpOut++;
    const mac = dstIp == BROADCAST_IP ? BROADCAST : this.resolve(dstIp);
    if (mac == 0) {
      this.buildIp(dstIp, PROTO_UDP, udpLen);
      this.queueForArp(dstIp, ETH_HDR + IP_HDR + udpLen);
      return false;
    }
    return this.emit(mac, dstIp, PROTO_UDP, udpLen);
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

  private buildIp(dst: u32, proto: u32, bodyLen: i32): void {
    const ip = this.out + ETH_HDR;
    store<u8>(ip, 0x45);
    store<u8>(ip + 1, 0);
    store16(ip + 2, <u32>(IP_HDR + bodyLen));
    store16(ip + 4, this.ipId++ & 0xffff);
    store16(ip + 6, 0x4000); // don't fragment
    store<u8>(ip + 8, 64);
    store<u8>(ip + 9, <u8>proto);
    store16(ip + 10, 0);
    store32(ip + 12, this.ip);
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
    this.buildIp(dst, proto, bodyLen);
    this.ethHeader(this.out, dstMac, ETH_IPV4);
    return this.dev.send(this.out, ETH_HDR + IP_HDR + bodyLen);
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

  // The frame in this.out (its IPv4 header built) waits for `ip`'s MAC.
  private queueForArp(ip: u32, frameLen: i32): void {
    this.ethHeader(this.out, 0, ETH_IPV4);
    const p = this.pending;
    let first = true;
    for (let i = 0; i < PENDING_MAX; i++) if (p.lens[i] != 0 && p.ips[i] == ip) first = false;
    let slot = p.take();
    if (slot < 0) { slot = -1 - slot; this.stats.noRoute++; }
    memory.copy(p.frame(slot), this.out, frameLen);
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

function loadMac(at: usize): u64 {
  return (<u64>load16(at) << 32) | <u64>load32(at + 2);
}

function storeMac(at: usize, mac: u64): void {
  store16(at, <u32>(mac >> 32));
  store32(at + 2, <u32>mac);
}
