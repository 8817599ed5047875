// Shared by the TCP sim tests: a guest running an app with one vif whose
// wire is a seeded Link (sim/link.ts), and our TCP host (sim/tcp-peer.ts)
// on it at 10.0.0.1; the guest is 10.0.0.2.
import { SimGuest, type SimOptions, type SimResult } from "../../sim/host.ts";
import { addVif, type Vif, type VifOptions } from "../../sim/netback.ts";
import { Link, type LinkOptions } from "../../sim/link.ts";
import { TcpHost } from "../../sim/tcp-peer.ts";
import type { Endpoint } from "../../sim/netswitch.ts";
import * as XB from "../../runtime/abi/xenbus.ts";
import { startedGuest } from "./helpers.ts";

export const MS = 1_000_000n;
export const SEC = 1_000_000_000n;
export const TCP_APP = "tests/apps/tcp-services.ts";

export interface TcpRig {
  g: SimGuest;
  vif: Vif;
  link: Link;
  host: TcpHost;
  guest: Endpoint;
  peer: Endpoint;
}

// `guestIp`: where the host finds the guest (default the vif's ip=, else
// 10.0.0.2; a DHCP test passes the address its server hands out).
export async function tcpRig(o: { app?: string; link?: LinkOptions; sim?: SimOptions; vif?: VifOptions; guestIp?: string } = {}): Promise<TcpRig> {
  const g = await startedGuest(o.app ?? TCP_APP, { memoryMB: 64, ...o.sim });
  const vif = addVif(g, { devid: 0, ip: "10.0.0.2", ...o.vif });
  const link = new Link(g.dom0, vif, o.link ?? {}, () => g.clock.now());
  const guest = { mac: vif.mac, ip: o.guestIp ?? vif.ip ?? "10.0.0.2" };
  const peer = { mac: "00:16:3e:ee:00:01", ip: "10.0.0.1" };
  const host = new TcpHost(g.dom0, link, peer, guest, () => g.clock.now());
  return { g, vif, link, host, guest, peer };
}

// Calls `cb` once the guest logged `line` (polling every virtual ms), or
// shuts it down after `deadlineNs`.
export function whenLogged(r: TcpRig, line: string | RegExp, cb: () => void, deadlineNs = 120n * SEC): void {
  const start = r.g.clock.now();
  const poll = () => {
    const text = r.g.consoleText();
    if (typeof line === "string" ? text.includes(line) : line.test(text)) cb();
    else if (r.g.clock.now() - start > deadlineNs) shutdown(r);
    else r.g.dom0.after(MS, poll);
  };
  r.g.dom0.after(MS, poll);
}

// The guest is ready (its vif connected, its services listening) and knows our MAC.
export function whenReady(r: TcpRig, cb: () => void): void {
  whenLogged(r, "tcp-services: ready", () => {
    if (r.vif.state !== XB.XenbusStateConnected) return shutdown(r);
    r.host.announce();
    r.g.dom0.after(MS, cb);
  });
}

export function shutdown(r: TcpRig): void {
  r.g.xenstore.write("/local/domain/1/control/shutdown", "poweroff");
}

export function guestMemory(r: TcpRig): number {
  return r.g.view().byteLength;
}

export function line(res: SimResult, prefix: string): string {
  return res.console.split("\n").find((l) => l.startsWith(prefix)) ?? "";
}

// "name N" pairs from the guest's report lines.
export function counters(res: SimResult): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of res.console.split("\n").filter((x) => x.startsWith("tcp-services: "))) {
    for (const [, key, n] of l.matchAll(/([a-z][a-z -]*?) (\d+)(?=,|$| limited| accepted| rejected| out| slots)/g)) out[key.trim()] = Number(n);
  }
  return out;
}
