// A simulated Xen host with devices, as `tsxen sim` runs it: one guest
// (host.ts), its vifs (netback.ts) on a bridge (bridge.ts), its disks
// (blkback.ts), and the gateway (gateway.ts) when host ports are forwarded.
// The backends advertise what Linux's do in the real-Xen rig (netback: sg,
// split event channels, one queue; blkback: 4-page rings, 256 indirect
// segments, persistent grants, flush, barrier, discard), so an app sees the
// same devices in both hosts.
import { SimGuest, type SimOptions, type SimResult } from "./host.ts";
import { addVif, type Vif } from "./netback.ts";
import { SimBlkback } from "./blkback.ts";
import { Bridge } from "./bridge.ts";
import { Gateway, type GatewayForward, type GatewayHost } from "./gateway.ts";

export interface SimVif {
  ip: string;
  mac: string;
  mtu?: number;
}

export interface SimDisk {
  data: Uint8Array;     // the disk's bytes (a multiple of 512); the guest's writes land here
  readOnly?: boolean;
  vdev?: string;        // xvda, xvdb, ... (default by position)
}

export interface SimMachineOptions extends SimOptions {
  vifs?: SimVif[];
  disks?: SimDisk[];
  forwards?: GatewayForward[];
  gatewayHost?: GatewayHost;   // required with forwards
}

const XVD_MAJOR = 202;

// The virtual-device number of xvd<letter> (Xen's vbd interface numbering: major 202, 16 minors each).
export function xvdNumber(vdev: string): number {
  const m = /^xvd([a-z])$/.exec(vdev);
  if (!m) throw new Error(`sim: disk name '${vdev}' is not xvda..xvdz`);
  return (XVD_MAJOR << 8) | ((m[1].charCodeAt(0) - 97) << 4);
}

export class SimMachine {
  readonly guest: SimGuest;
  readonly bridge: Bridge;
  readonly vifs: Vif[] = [];
  readonly disks: SimBlkback[] = [];
  gateway: Gateway | null = null;

  constructor(private readonly opts: SimMachineOptions = {}) {
    this.guest = new SimGuest(opts);
    this.bridge = new Bridge((task) => this.guest.hv.runQueue.push(task));
  }

  // The bridge port of each vif in `vifs`.
  private vifPorts: number[] = [];

  // Builds the domain and its devices, as xl create does before unpausing it.
  // After a restore into a new domain (the guest's onSuspend answer), the
  // devices are built again: new backends, the vifs on new bridge ports (as
  // on another host: the bridge learns the guest's MAC there once it sends).
  async start(wasm: Uint8Array): Promise<void> {
    await this.guest.start(wasm);
    this.addDevices();
    this.guest.onNewDomain(() => this.removeDevices(), () => this.addDevices());
    const forwards = this.opts.forwards ?? [];
    if (forwards.length) {
      if (!this.opts.gatewayHost) throw new Error("sim: forwards need a gatewayHost");
      this.gateway = new Gateway(this.bridge, this.guest.dom0, forwards, this.opts.gatewayHost);
    }
  }

  private addDevices(): void {
    for (const [i, v] of (this.opts.vifs ?? []).entries()) {
      const vif = addVif(this.guest, { devid: i, ip: v.ip, mac: v.mac, mtu: v.mtu, features: { sg: true, splitEventChannels: true, maxQueues: 1 } });
      this.vifPorts.push(this.bridge.attachVif(vif));
      this.vifs.push(vif);
    }
    for (const [i, d] of (this.opts.disks ?? []).entries()) {
      const vdev = d.vdev ?? `xvd${String.fromCharCode(97 + i)}`;
      this.disks.push(new SimBlkback(this.guest, {
        disk: d.data, devid: xvdNumber(vdev), readOnly: d.readOnly, keys: { dev: vdev },
        indirect: 256, maxRingPageOrder: 4, persistent: true, flush: true, barrier: true, discard: { granularity: 512, alignment: 0 },
      }));
    }
  }

  private removeDevices(): void {
    for (const vif of this.vifs) vif.destroy();
    for (const port of this.vifPorts) this.bridge.unplug(port);
    for (const disk of this.disks) disk.destroy();
    this.vifs.length = 0;
    this.vifPorts.length = 0;
    this.disks.length = 0;
  }

  run(): Promise<SimResult> {
    return this.guest.run();
  }
}
