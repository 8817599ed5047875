// The sim's guest network: a learning Ethernet bridge (IEEE 802.1D
// forwarding, without spanning tree) joining the sim's vifs (netback.ts) and
// host stations (station.ts), as dom0's xenbr0 joins the vifs under Xen. A
// frame goes to the port its destination MAC was last seen on, or to every
// other port (broadcast, multicast, not yet seen).
import type { Vif } from "./netback.ts";

export type PortSink = (frame: Uint8Array) => void;

const isGroup = (frame: Uint8Array): boolean => (frame[0] & 1) === 1;
const macKey = (frame: Uint8Array, at: number): string => Array.from(frame.subarray(at, at + 6), (b) => b.toString(16).padStart(2, "0")).join(":");

export class Bridge {
  private readonly ports: PortSink[] = [];
  private readonly learned = new Map<string, number>();
  readonly stats = { frames: 0, flooded: 0, runts: 0 };

  // `schedule` delivers each frame later (dom0's run queue in SimMachine):
  // two stations answering each other at once would otherwise recurse
  // without bound. Without it, frames are delivered during send().
  constructor(private readonly schedule: (task: () => void) => void = (task) => task()) {}

  // Adds a port; `sink` gets the frames the bridge sends out of it. Returns the port number.
  attach(sink: PortSink): number {
    this.ports.push(sink);
    return this.ports.length - 1;
  }

  // Plugs a vif in: what the guest transmits enters the bridge, what the
  // bridge sends the vif goes to the guest (dropped, and counted by the vif,
  // when the guest has no RX buffer posted).
  attachVif(vif: Vif): number {
    const port = this.attach((frame) => void vif.inject(frame));
    vif.deliver = (frame) => this.send(port, frame);
    return port;
  }

  // Unplugs port `port` (its vif went away): frames the bridge still sends
  // there (to a MAC it learned on it) are lost, until that MAC is seen on
  // another port.
  unplug(port: number): void {
    this.ports[port] = () => {};
  }

  // A frame entering the bridge on `from`.
  send(from: number, frame: Uint8Array): void {
    if (frame.length < 14) {
      this.stats.runts++;
      return;
    }
    this.stats.frames++;
    const src = frame.subarray(6, 12);
    if ((src[0] & 1) === 0) this.learned.set(macKey(frame, 6), from);
    const to = isGroup(frame) ? undefined : this.learned.get(macKey(frame, 0));
    if (to !== undefined) {
      if (to !== from) this.schedule(() => this.ports[to](frame));
      return;
    }
    this.stats.flooded++;
    this.ports.forEach((sink, port) => {
      if (port !== from) this.schedule(() => sink(frame));
    });
  }
}
