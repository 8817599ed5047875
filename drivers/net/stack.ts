// A small IPv4 stack on one netfront: Ethernet II, ARP (RFC 826: cache,
// replies, resolution with retries), IPv4 (RFC 791: no options sent, no
// fragments), ICMP echo replies (RFC 792) and UDP sockets (RFC 768).
// Every field read from a received frame is bounds-checked against the
// frame's length first; a malformed frame is counted and dropped. The IPv4
// header checksum is always verified; the ICMP and UDP checksums are not
// when the backend says it validated them (NETRXF_data_validated) or that
// the field holds only a partial sum (NETRXF_csum_blank): what we send back
// carries a checksum we compute ourselves.
import { Netfront, FrameHandler, RX_CSUM_FLAGS } from "../netfront";
import { load16, load32, store16, store32, sum16, finish, parseIp } from "./bytes";
import { setTimer, Timer, TimerHandler } from "../../runtime/timers";

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

// Receives datagrams for a bound port; `data` is valid only during the call.
export abstract class UdpHandler {
  abstract onDatagram(stack: NetStack, srcIp: u32, srcPort: u16, dstPort: u16, data: usize, len: i32): void;
}

export class StackStats {
  arpReplies: u64 = 0;
  icmpEchoReplies: u64 = 0;
  udpIn: u64 = 0;
  udpOut: u64 = 0;
  malformed: u64 = 0;        // truncated or inconsistent headers, bad checksums
  noRoute: u64 = 0;          // datagrams dropped: ARP resolution failed
}

// A datagram waiting for ARP resolution (one per destination).
class Pending {
  tries: i32 = 1;
  constructor(public ip: u32, public frame: Uint8Array) {}
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
  arpCache: Map<u32, u64> = new Map<u32, u64>();
  pending: Array<Pending> = new Array<Pending>();
  sockets: Map<u16, UdpHandler> = new Map<u16, UdpHandler>();
  out: usize = 0;             // the frame being built, dev.maxFrame() bytes
  ipId: u32 = 1;
  retryArmed: bool = false;

  constructor(public dev: Netfront, ip: u32 = 0) {
    super();
    for (let i = 0; i < 6; i++) this.mac = (this.mac << 8) | <u64>dev.mac[i];
    this.ip = ip != 0 ? ip : parseIp(dev.ip);
    this.out = heap.alloc(<usize>dev.maxFrame());
    dev.handler = this;
  }

  // The largest UDP payload one frame carries on this device (1472 at mtu 1500).
  maxUdpPayload(): i32 {
    return this.dev.maxFrame() - ETH_HDR - IP_HDR - UDP_HDR;
  }

  bind(port: u16, handler: UdpHandler): void { this.sockets.set(port, handler); }
  unbind(port: u16): void { this.sockets.delete(port); }

  // ---- receive ----

  onFrame(frame: usize, len: i32, flags: i32): void {
    if (len < ETH_HDR) { this.stats.malformed++; return; }
    const type = load16(frame + 12);
    if (type == ETH_ARP) this.arpIn(frame, len);
    else if (type == ETH_IPV4) this.ipIn(frame, len, (flags & RX_CSUM_FLAGS) == 0);
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
    if (senderIp != 0) this.learn(senderIp, senderMac);
    if (op == 1 && targetIp == this.ip && this.ip != 0) {
      this.sendArp(2, senderMac, senderIp);
      this.stats.arpReplies++;
    }
  }

  // verify: whether the ICMP/UDP checksum is to be checked (see above).
  private ipIn(frame: usize, len: i32, verify: bool): void {
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
    if (dst != this.ip && dst != 0xffffffff) return;
    const src = load32(ip + 12);
    this.learn(src, loadMac(frame + 6));
    const proto = <u32>load<u8>(ip + 9);
    const body = ip + <usize>hlen;
    const bodyLen = total - hlen;
    if (proto == PROTO_ICMP) this.icmpIn(src, loadMac(frame + 6), body, bodyLen, verify);
    else if (proto == PROTO_UDP) this.udpIn(src, dst, body, bodyLen, verify);
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

  private udpIn(src: u32, dst: u32, udp: usize, len: i32, verify: bool): void {
    if (len < UDP_HDR) { this.stats.malformed++; return; }
    const udpLen = <i32>load16(udp + 4);
    if (udpLen < UDP_HDR || udpLen > len) { this.stats.malformed++; return; }
    if (verify && load16(udp + 6) != 0 && finish(sum16(udp, udpLen, this.pseudoSum(src, dst, udpLen))) != 0) {
      this.stats.malformed++;
      return;
    }
    const dstPort = <u16>load16(udp + 2);
    if (!this.sockets.has(dstPort)) return;
    this.stats.udpIn++;
    this.sockets.get(dstPort).onDatagram(this, src, <u16>load16(udp), dstPort, udp + UDP_HDR, udpLen - UDP_HDR);
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
    const mac = dstIp == 0xffffffff ? BROADCAST : (this.arpCache.has(dstIp) ? this.arpCache.get(dstIp) : 0);
    if (mac == 0) {
      this.buildIp(dstIp, PROTO_UDP, udpLen);
      this.queueForArp(dstIp, ETH_HDR + IP_HDR + udpLen);
      return false;
    }
    return this.emit(mac, dstIp, PROTO_UDP, udpLen);
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
    const f = heap.alloc(ETH_HDR + ARP_LEN);
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
    heap.free(f);
  }

  // ---- ARP resolution ----

  private learn(ip: u32, mac: u64): void {
    if (mac == BROADCAST || mac == 0) return;
    this.arpCache.set(ip, mac);
    for (let i = 0; i < this.pending.length; ) {
      const p = this.pending[i];
      if (p.ip == ip) {
        this.pending.splice(i, 1);
        storeMac(p.frame.dataStart, mac);
        this.dev.send(p.frame.dataStart, p.frame.length);
      } else {
        i++;
      }
    }
  }

  private queueForArp(ip: u32, frameLen: i32): void {
    this.ethHeader(this.out, 0, ETH_IPV4);
    const copy = new Uint8Array(frameLen);
    memory.copy(copy.dataStart, this.out, frameLen);
    for (let i = 0; i < this.pending.length; i++) {
      if (this.pending[i].ip == ip) { this.pending[i].frame = copy; return; } // newest datagram wins
    }
    this.pending.push(new Pending(ip, copy));
    this.sendArp(1, 0, ip);
    if (!this.retryArmed) { this.retryArmed = true; setTimer(ARP_RETRY_NS, new ArpRetry(this)); }
  }

  arpRetry(): void {
    this.retryArmed = false;
    for (let i = 0; i < this.pending.length; ) {
      const p = this.pending[i];
      if (p.tries >= ARP_RETRIES) {
        this.pending.splice(i, 1);
        this.stats.noRoute++;
        continue;
      }
      p.tries++;
      this.sendArp(1, 0, p.ip);
      i++;
    }
    if (this.pending.length > 0) { this.retryArmed = true; setTimer(ARP_RETRY_NS, new ArpRetry(this)); }
  }
}

function loadMac(at: usize): u64 {
  return (<u64>load16(at) << 32) | <u64>load32(at + 2);
}

function storeMac(at: usize, mac: u64): void {
  store16(at, <u32>(mac >> 32));
  store32(at + 2, <u32>mac);
}
