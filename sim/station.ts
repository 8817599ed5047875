// A host on the sim's guest network (one port of bridge.ts): answers ARP
// requests for its address and resolves its peers' (RFC 826: up to 3
// requests, 1 s apart, packets queued meanwhile), checks and hands incoming
// IPv4 packets (RFC 791) to its UDP ports (RFC 768) and to TCP (tcp.ts) by
// destination port. The host-port forwarder (gateway.ts) is a station, and
// so is any peer a test puts on the network.
import type { Dom0 } from "./hypervisor.ts";
import type { TimerHandle } from "./clock.ts";
import type { Bridge } from "./bridge.ts";
import {
  ARP_REPLY, ARP_REQUEST, ETH_P_IPV4, IPPROTO_TCP, IPPROTO_UDP, arpReplyFrame, arpRequestFrame, ethernet, ipv4, parseFrame, udp,
  type Endpoint, type TcpInfo,
} from "./netswitch.ts";

const ARP_TRIES = 3;
const ARP_RETRY_NS = 1_000_000_000n;
const MAX_QUEUED = 64;   // packets waiting for one address

export interface UdpSource {
  ip: string;
  port: number;
}

export type UdpReceiver = (src: UdpSource, dstPort: number, data: Uint8Array) => void;
export type TcpReceiver = (srcIp: string, segment: TcpInfo) => void;

interface Resolving {
  packets: Uint8Array[];
  tries: number;
  timer: TimerHandle;
}

export class Station {
  readonly port: number;
  readonly udpPorts = new Map<number, UdpReceiver>();
  tcp: TcpReceiver | null = null;
  readonly stats = { received: 0, malformed: 0, unresolved: 0, noPort: 0 };
  private readonly neighbours = new Map<string, string>();   // ip -> mac
  private readonly resolving = new Map<string, Resolving>();

  constructor(private readonly bridge: Bridge, readonly dom0: Dom0, readonly me: Endpoint) {
    this.port = bridge.attach((frame) => this.receive(frame));
  }

  sendUdp(dstIp: string, srcPort: number, dstPort: number, data: Uint8Array): void {
    this.sendIp(dstIp, IPPROTO_UDP, udp(this.me.ip, dstIp, srcPort, dstPort, data));
  }

  // An IPv4 packet to `dstIp` on this network, once its MAC is known.
  sendIp(dstIp: string, proto: number, payload: Uint8Array): void {
    const packet = ipv4({ src: this.me.ip, dst: dstIp, proto, payload });
    const mac = this.neighbours.get(dstIp);
    if (mac !== undefined) {
      this.bridge.send(this.port, ethernet(mac, this.me.mac, ETH_P_IPV4, packet));
      return;
    }
    const pending = this.resolving.get(dstIp);
    if (pending) {
      if (pending.packets.length < MAX_QUEUED) pending.packets.push(packet);
      return;
    }
    const entry: Resolving = { packets: [packet], tries: 0, timer: { at: 0n, cancel: () => {} } };
    this.resolving.set(dstIp, entry);
    this.askFor(dstIp, entry);
  }

  private askFor(ip: string, entry: Resolving): void {
    if (entry.tries++ === ARP_TRIES) {
      this.resolving.delete(ip);
      this.stats.unresolved += entry.packets.length;
      return;
    }
    this.bridge.send(this.port, arpRequestFrame(this.me, ip));
    entry.timer = this.dom0.after(ARP_RETRY_NS, () => this.askFor(ip, entry));
  }

  private learn(ip: string, mac: string): void {
    this.neighbours.set(ip, mac);
    const pending = this.resolving.get(ip);
    if (!pending) return;
    this.resolving.delete(ip);
    pending.timer.cancel();
    for (const packet of pending.packets) this.bridge.send(this.port, ethernet(mac, this.me.mac, ETH_P_IPV4, packet));
  }

  private receive(raw: Uint8Array): void {
    const frame = parseFrame(raw);
    if (!frame) return;
    const a = frame.arp;
    if (a) {
      if (a.targetIp !== this.me.ip) return;
      if (a.op === ARP_REQUEST) this.bridge.send(this.port, arpReplyFrame(this.me, { mac: a.senderMac, ip: a.senderIp }));
      if (a.op === ARP_REQUEST || a.op === ARP_REPLY) this.learn(a.senderIp, a.senderMac);
      return;
    }
    const ip = frame.ip;
    if (!ip || ip.dst !== this.me.ip) return;
    this.stats.received++;
    if (!ip.checksumOk || (ip.flagsFragment & 0x3fff) !== 0) {
      this.stats.malformed++;   // a bad header, or a fragment: we reassemble nothing
      return;
    }
    if (frame.udp) {
      if (!frame.udp.checksumOk) return void this.stats.malformed++;
      const receiver = this.udpPorts.get(frame.udp.dstPort);
      if (receiver) receiver({ ip: ip.src, port: frame.udp.srcPort }, frame.udp.dstPort, frame.udp.data.slice());
      else this.stats.noPort++;
    } else if (frame.tcp) {
      if (!frame.tcp.checksumOk) return void this.stats.malformed++;
      if (this.tcp) this.tcp(ip.src, { ...frame.tcp, data: frame.tcp.data.slice() });
      else this.stats.noPort++;
    } else if (ip.proto === IPPROTO_UDP || ip.proto === IPPROTO_TCP) {
      this.stats.malformed++;
    }
  }
}
