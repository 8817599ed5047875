// The host's side of the sim's guest network: a station at 10.0.0.254 (the
// address QEMU's user network has on the rig's bridge under Xen, so the
// guest sees forwarded traffic come from the same place in both hosts) that
// relays host ports to guest ports, for `tsxen sim --forward`.
//
//  - UDP: each host client (address:port) gets a port of ours; its
//    datagrams go to the guest from that port, and the guest's datagrams to
//    that port go back to the client. Mappings are bounded (oldest dropped).
//  - TCP: each host connection becomes a TCP connection from us to the
//    guest's port (tcp.ts); bytes are relayed both ways, and either side's
//    close or failure ends the other.
//
// The host side (sockets) lives outside the sim (tools/sim-host.ts); this
// file only sees clients and connections as numbers and keys.
import type { Dom0 } from "./hypervisor.ts";
import type { Bridge } from "./bridge.ts";
import { Station } from "./station.ts";
import { TcpStack, type TcpConnection } from "./tcp.ts";

export const GATEWAY_IP = "10.0.0.254";
export const GATEWAY_MAC = "52:55:0a:00:00:fe";   // what QEMU's user network uses for 10.0.0.254
const FIRST_UDP_PORT = 40000;
const MAX_UDP_CLIENTS = 1024;

export interface GatewayForward {
  proto: "udp" | "tcp";
  guestIp: string;
  guestPort: number;
}

// What the gateway tells the host side.
export interface GatewayHost {
  udpToClient(forward: number, client: string, data: Uint8Array): void;
  tcpToClient(conn: number, data: Uint8Array): void;
  // The guest's side ended: after everything it sent (error null), or failed.
  tcpEnded(conn: number, error: string | null): void;
}

interface UdpClient {
  forward: number;
  client: string;
  port: number;
}

export class Gateway {
  readonly station: Station;
  private readonly tcp: TcpStack;
  private readonly udpByPort = new Map<number, UdpClient>();
  private readonly udpByClient = new Map<string, UdpClient>();
  private nextUdpPort = FIRST_UDP_PORT;
  private readonly conns = new Map<number, TcpConnection>();

  constructor(bridge: Bridge, dom0: Dom0, private readonly forwards: GatewayForward[], private readonly host: GatewayHost) {
    this.station = new Station(bridge, dom0, { ip: GATEWAY_IP, mac: GATEWAY_MAC });
    this.tcp = new TcpStack(this.station);
  }

  // A datagram from host client `client` (any key naming it) on forward `forward`.
  udpFromClient(forward: number, client: string, data: Uint8Array): void {
    const f = this.forwards[forward];
    if (f?.proto !== "udp") return;
    const key = `${forward}/${client}`;
    let c = this.udpByClient.get(key);
    if (!c) {
      c = { forward, client, port: this.freeUdpPort() };
      this.udpByClient.set(key, c);
      this.udpByPort.set(c.port, c);
      this.station.udpPorts.set(c.port, (src, _dst, reply) => {
        if (src.ip === f.guestIp && src.port === f.guestPort) this.host.udpToClient(c!.forward, c!.client, reply);
      });
    }
    this.station.sendUdp(f.guestIp, c.port, f.guestPort, data);
  }

  private freeUdpPort(): number {
    if (this.udpByPort.size >= MAX_UDP_CLIENTS) {
      const [oldest] = this.udpByClient.values();
      this.udpByClient.delete(`${oldest.forward}/${oldest.client}`);
      this.udpByPort.delete(oldest.port);
      this.station.udpPorts.delete(oldest.port);
    }
    while (this.udpByPort.has(this.nextUdpPort)) this.nextUdpPort = this.nextUdpPort >= FIRST_UDP_PORT + 2 * MAX_UDP_CLIENTS ? FIRST_UDP_PORT : this.nextUdpPort + 1;
    return this.nextUdpPort++;
  }

  // A host connection `conn` arrived on forward `forward`: connect to the guest.
  tcpOpen(conn: number, forward: number): void {
    const f = this.forwards[forward];
    if (f?.proto !== "tcp") return this.host.tcpEnded(conn, "not a TCP forward");
    this.conns.set(conn, this.tcp.connect(f.guestIp, f.guestPort, {
      onData: (data) => this.host.tcpToClient(conn, data),
      onEnd: () => this.host.tcpEnded(conn, null),
      onClose: (error) => {
        this.conns.delete(conn);
        this.host.tcpEnded(conn, error);
      },
    }));
  }

  tcpFromClient(conn: number, data: Uint8Array): void {
    this.conns.get(conn)?.write(data);
  }

  // The host client closed its side (FIN), or is gone (`abort`: RST).
  tcpClientClosed(conn: number, abort = false): void {
    const c = this.conns.get(conn);
    if (!c) return;
    if (abort) c.abort("host client gone");
    else c.close();
  }
}
