// Shared by the sim tests of netfront and the stack: a guest with sim vifs
// and a peer on each wire, exchanges of frames with their checks, and the
// reports udp-echo-style apps print.
import type test from "tape";
import { SimGuest, type SimOptions, type SimResult } from "../../sim/host.ts";
import { addVif, type Fault, type Vif, type VifOptions } from "../../sim/netback.ts";
import { NetPeer, arpRequestFrame, pingFrame, udpFrame, type Endpoint, type ParsedFrame } from "../../sim/netswitch.ts";
import * as XB from "../../runtime/abi/xenbus.ts";
import * as G from "../../runtime/abi/grant_table.ts";
import { startedGuest } from "./helpers.ts";

export const MS = 1_000_000n;
export const UDP_ECHO = "examples/udp-echo/main.ts";

export interface Rig {
  g: SimGuest;
  vifs: Vif[];
  peers: NetPeer[];
  guests: Endpoint[]; // the guest's address on each vif
}

// A guest running `app` with one vif per entry of `vifs` (vif i: guest
// 10.0.i.2, peer 10.0.i.1), each with a peer on its wire.
export async function rig(vifs: VifOptions[], app = UDP_ECHO, sim: SimOptions = {}): Promise<Rig> {
  const g = await startedGuest(app, sim);
  const r: Rig = { g, vifs: [], peers: [], guests: [] };
  vifs.forEach((opts, i) => {
    const vif = addVif(g, { devid: i, ip: `10.0.${i}.2`, ...opts });
    r.vifs.push(vif);
    r.guests.push({ mac: vif.mac, ip: vif.ip ?? "0.0.0.0" });
    r.peers.push(new NetPeer(g.dom0, vif, { mac: `00:16:3e:ee:00:${i.toString(16).padStart(2, "0")}`, ip: `10.0.${i}.1` }));
  });
  return r;
}

export function requestShutdown(g: SimGuest): void {
  g.xenstore.write("/local/domain/1/control/shutdown", "poweroff");
}

// Calls `cb` once every vif's backend is Connected (polling each virtual
// ms), then gives the guest 1 ms more to finish setting up. Shuts the guest
// down if that has not happened by `deadline`.
export function whenConnected(r: Rig, cb: () => void, deadlineNs = 60_000n * MS): void {
  const start = r.g.clock.now();
  const poll = () => {
    if (r.vifs.every((v) => v.state === XB.XenbusStateConnected)) r.g.dom0.after(MS, cb);
    else if (r.g.clock.now() - start > deadlineNs) requestShutdown(r.g);
    else r.g.dom0.after(MS, poll);
  };
  r.g.dom0.after(MS, poll);
}

// Peer `i` resolves the guest's address, as a neighbour does before it
// first talks to it; the guest learns the peer's MAC from the request (it
// learns from ARP only). Then `cb`, 1 ms later.
export function introduce(r: Rig, cb: () => void, i = 0): void {
  r.peers[i].send(arpRequestFrame(r.peers[i].me, r.guests[i].ip));
  r.g.dom0.after(MS, cb);
}

export function noTrap(t: test.Test, res: SimResult): void {
  t.notOk(/trap:|panic:/.test(res.console), "no trap or panic");
}

// ---- exchanges and checks

export interface Exchange {
  frame: Uint8Array;
  match: (f: ParsedFrame) => boolean;
  check?: (reply: ParsedFrame | null) => void;
}

// Runs the exchanges one after another, each once the previous one's reply
// came (or `timeoutNs` passed), then calls `done`.
export function converse(peer: NetPeer, steps: (() => Exchange)[], timeoutNs: bigint, done: () => void): void {
  let i = 0;
  const next = () => {
    if (i === steps.length) return done();
    const step = steps[i++]();
    peer.request(step.frame, step.match, timeoutNs, (reply) => {
      step.check?.(reply);
      next();
    });
  };
  next();
}

// The grant entries (past the toolstack's reserved ones) that still give
// dom0 access to a guest page: every one is a leak once the vif is closed.
export function grantsToDom0(g: SimGuest): number[] {
  const refs: number[] = [];
  for (let ref = G.GNTTAB_NR_RESERVED_ENTRIES; ref < g.hv.grants.nrEntries; ref++) {
    const e = g.hv.grants.readEntry(ref);
    if ((e.flags & G.GTF_type_mask) === G.GTF_permit_access && e.domid === 0) refs.push(ref);
  }
  return refs;
}

export function pattern(len: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: len }, (_, i) => (i * 7 + seed * 13 + (i >> 8)) & 0xff);
}

export const equalBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);

export function udpExchange(peer: NetPeer, guest: Endpoint, srcPort: number, data: Uint8Array, bad: string[]): Exchange {
  return {
    frame: udpFrame(peer.me, guest, srcPort, 7, data),
    match: (f) => f.udp?.dstPort === srcPort && f.ip?.src === guest.ip,
    check: (reply) => {
      const u = reply?.udp;
      if (!reply || !u) return void bad.push(`${data.length} bytes: no reply`);
      if (u.srcPort !== 7 || reply.ip!.dst !== peer.me.ip || reply.dst !== peer.me.mac || reply.src !== guest.mac) bad.push(`${data.length} bytes: addressing`);
      if (!u.checksumOk || !reply.ip!.checksumOk) bad.push(`${data.length} bytes: checksum`);
      if (!equalBytes(u.data, data)) bad.push(`${data.length} bytes: payload differs`);
    },
  };
}

export function pingExchange(peer: NetPeer, guest: Endpoint, id: number, seq: number, data: Uint8Array, bad: string[]): Exchange {
  return {
    frame: pingFrame(peer.me, guest, id, seq, data),
    match: (f) => f.icmp?.type === 0 && f.icmp.id === id && f.icmp.seq === seq,
    check: (reply) => {
      const icmp = reply?.icmp;
      if (!reply || !icmp) return void bad.push(`ping ${seq}: no reply`);
      if (icmp.code !== 0 || !icmp.checksumOk || !reply.ip!.checksumOk) bad.push(`ping ${seq}: bad code or checksum`);
      if (reply.ip!.src !== guest.ip || reply.ip!.dst !== peer.me.ip || reply.dst !== peer.me.mac) bad.push(`ping ${seq}: addressing`);
      if (!equalBytes(icmp.data, data)) bad.push(`ping ${seq}: payload differs`);
    },
  };
}

// udp-echo's shutdown report for vif `id`: "malformed N" and friends.
export function report(res: SimResult, id: number): Record<string, number> {
  const line = res.console.split("\n").find((l) => l.startsWith(`udp-echo: vif ${id}: `)) ?? "";
  const out: Record<string, number> = {};
  for (const [, n, key] of line.matchAll(/(\d+) (dropped)/g)) if (!(key in out)) out[key] = Number(n);
  for (const [, key, n] of line.matchAll(/(rx|tx|arp replies|echo replies|udp in|out|malformed|errors) (\d+)/g)) out[key] = Number(n);
  return out;
}

// What netfront says when it breaks for fault `f` (a violation).
export function expectedComplaint(f: Fault): RegExp {
  const tx = f.detail.startsWith("TX");
  switch (f.kind) {
    case "bad-id":
    case "id-out-of-range":
      return tx ? /TX response for id \d+, which is not in flight/ : /RX response id \d+ where \d+ was posted/;
    case "duplicate-id":
      if (!tx) return /RX response id \d+ where \d+ was posted/;
      return f.detail.includes("given twice") ? /TX response producer ran ahead/ : /TX response for id \d+, which is not in flight/;
    case "producer-jump":
      return /response producer ran ahead of our requests/;
    case "bad-offset":
    case "bad-size":
      return /RX offset \d+ \+ size \d+ leaves the page/;
    case "chain-open":
      return f.detail.includes("extra_info") ? /RX extra-info slot runs past the response producer/ : /RX chain runs past the response producer/;
    default: // xenstore-garbage
      if (f.detail.startsWith("mac")) return /no usable mac key/;
      if (f.detail.startsWith("feature-rx-copy")) return /the backend lacks feature-rx-copy/;
      return /the backend did not connect \(state/;
  }
}
