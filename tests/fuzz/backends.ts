// Hostile backends, one after another, against one running guest: each
// case attaches a vif (netback) or a vbd (blkback) whose backend is hostile
// with a seed of its own (sim/netback.ts and sim/blkback.ts hostile modes:
// corrupted responses, impossible indices, garbage xenstore keys, event
// storms, dropped answers), makes traffic, then detaches it as `xl
// network-detach`/`block-detach` does. After every case:
//  - the guest did not trap or panic;
//  - it said the device was broken at most once, exactly once when the
//    backend committed a protocol violation, and only for one (the reason
//    matches the violation, for netback);
//  - once detached, nothing is granted to or mapped by dom0 any more;
//  - the guest's memory stops growing: after WARM_CASES devices have come
//    and gone it grows by at most MEMORY_MARGIN (each device's buffers are
//    freed when it goes, and the collector frees the rest);
//  - the guest still answers: a ping on the next case's vif (netback), or
//    I/O completing on the next disk (blkback).
import { SimGuest } from "../../sim/host.ts";
import { addVif, type VifOptions } from "../../sim/netback.ts";
import { SimBlkback, HOSTILE_KINDS as BLK_KINDS } from "../../sim/blkback.ts";
import { NetPeer, arpRequestFrame, udpFrame, type Endpoint } from "../../sim/netswitch.ts";
import * as XB from "../../runtime/abi/xenbus.ts";
import { startedGuest } from "../sim/helpers.ts";
import { grantsToDom0, expectedComplaint } from "../sim/net-rig.ts";
import { Rng, caseSeed, type CampaignResult } from "./support.ts";

const MS = 1_000_000n;
const WARM_CASES = 10;
const MEMORY_MARGIN = 2 << 20;

// The wasm memory after each case: a failure message if it kept growing
// past the warm-up (one tracker per campaign run).
function memoryTracker(): (bytes: number) => string | null {
  let cases = 0, warm = 0;
  return (bytes) => {
    if (++cases === WARM_CASES) warm = bytes;
    if (warm && bytes > warm + MEMORY_MARGIN) return `guest memory grew from ${warm} to ${bytes} bytes after ${WARM_CASES} devices had come and gone`;
    return null;
  };
}
const GUEST: Endpoint = { mac: "00:16:3e:5a:00:00", ip: "10.0.0.2" };
const PEER: Endpoint = { mac: "00:16:3e:ee:00:00", ip: "10.0.0.1" };

export interface BackendOptions {
  seed: number;
  cases: number;
  first?: number;
  onProgress?: (done: number) => void;
}

function brokenLines(g: SimGuest, from: number, who: RegExp): string[] {
  return g.consoleText(from).split("\n").filter((l) => who.test(l));
}

// ---- netback

function vifOptions(r: Rng): VifOptions {
  const sg = r.next() < 0.4;
  const hostile = r.next() < 0.15 ? { seed: r.int(1, 2 ** 31), rate: 1, kinds: ["xenstore-garbage" as const] } : { seed: r.int(1, 2 ** 31), rate: r.pick([0.005, 0.02, 0.05, 0.2]) };
  return {
    devid: 0, ip: GUEST.ip, hostile,
    features: { sg, splitEventChannels: r.next() < 0.5, maxQueues: r.int(1, 4) },
    rx: sg ? { slotSize: r.pick([4096, 1000, 300]), extras: r.int(0, 2) } : {},
  };
}

export async function fuzzNetback(o: BackendOptions): Promise<CampaignResult> {
  const g = await startedGuest("examples/udp-echo/main.ts", { maxHypercalls: Number.MAX_SAFE_INTEGER });
  const result: CampaignResult = { name: "netback", cases: 0, failures: [] };
  const first = o.first ?? 0;
  let i = 0;
  const memoryCheck = memoryTracker();
  const fail = (why: string) => {
    result.failures.push({ campaign: "netback", seed: o.seed, caseNo: first + i, why });
    g.xenstore.write("/local/domain/1/control/shutdown", "poweroff");
  };
  const runCase = () => {
    if (i === o.cases) return void g.xenstore.write("/local/domain/1/control/shutdown", "poweroff");
    const r = new Rng(caseSeed(o.seed, first + i));
    const consoleFrom = g.consoleLength();
    const vif = addVif(g, vifOptions(r));
    const peer = new NetPeer(g.dom0, vif, PEER);
    const started = g.clock.now();
    let answered = 0;
    // Once the guest has settled (connected, or said why not: a broken
    // handshake may take netfront's 30 s connect timeout), traffic.
    const settled = () => {
      const text = g.consoleText(consoleFrom);
      if (/netfront 0: broken: /.test(text)) return end();
      if (/netfront 0: connected/.test(text)) return traffic(20);
      if (g.clock.now() - started > 40_000n * MS) return end();
      g.dom0.after(5n * MS, settled);
    };
    const traffic = (n: number) => {
      if (n === 0 || vif.state !== XB.XenbusStateConnected) return end();
      if (n === 20) peer.send(arpRequestFrame(PEER, GUEST.ip));
      peer.request(udpFrame(PEER, GUEST, 40000 + n, 7, r.bytes(r.int(1, 1472))), (f) => f.udp?.dstPort === 40000 + n, 5n * MS, (f) => {
        if (f) answered++;
        if (n % 5 === 0) for (let k = 0; k < 6; k++) peer.send(udpFrame(PEER, GUEST, 41000 + k, 7, r.bytes(r.int(1, 1472))));
        traffic(n - 1);
      });
    };
    const end = () => {
      const violation = vif.faults.find((f) => f.violation);
      const said = brokenLines(g, consoleFrom, /^netfront 0: broken: /);
      if (said.length > 1) return fail(`"broken" said ${said.length} times`);
      if (violation && said.length === 0) return fail(`no "broken" after ${violation.kind}: ${violation.detail}`);
      if (!violation && said.length === 1) return fail(`"${said[0]}" without a violation (faults: ${vif.faults.map((f) => f.kind).join(", ")})`);
      // Each ring can carry a violation of its own: the guest names one of them.
      const violations = vif.faults.filter((f) => f.violation);
      if (violation && !violations.some((f) => expectedComplaint(f).test(said[0]))) return fail(`"${said[0]}" after ${violations.map((f) => `${f.kind}: ${f.detail}`).join("; ")}`);
      if (!violation && answered === 0 && vif.faults.length === 0) return fail("no fault, yet nothing was echoed");
      vif.detach(() => g.dom0.after(MS, () => {
        const leaked = grantsToDom0(g);
        if (leaked.length || g.dom0.activeGrantMappings()) return fail(`after the detach: ${leaked.length} grants, ${g.dom0.activeGrantMappings()} mappings`);
        const why = memoryCheck(g.view().byteLength);
        if (why) return fail(why);
        result.cases++;
        i++;
        if (o.onProgress && i % 250 === 0) o.onProgress(i);
        runCase();
      }));
    };
    g.dom0.after(MS, settled);
  };
  g.dom0.after(MS, runCase);
  const res = await g.run();
  if (res.reason !== "poweroff" || /trap:|panic:/.test(res.console)) {
    result.failures.push({ campaign: "netback", seed: o.seed, caseNo: first + i, why: `the guest ended with ${res.reason}: ${res.console.split("\n").filter((l) => /trap|panic/.test(l)).join(" / ")}` });
  }
  return result;
}

// ---- blkback

export async function fuzzBlkback(o: BackendOptions): Promise<CampaignResult> {
  const g = await startedGuest("tests/apps/fuzz-disk.ts", { maxHypercalls: Number.MAX_SAFE_INTEGER });
  const result: CampaignResult = { name: "blkback", cases: 0, failures: [] };
  const first = o.first ?? 0;
  let i = 0;
  const memoryCheck = memoryTracker();
  const fail = (why: string) => {
    result.failures.push({ campaign: "blkback", seed: o.seed, caseNo: first + i, why });
    g.xenstore.write("/local/domain/1/control/shutdown", "poweroff");
  };
  const disk = new Uint8Array(1 << 20);
  const runCase = () => {
    if (i === o.cases) return void g.xenstore.write("/local/domain/1/control/shutdown", "poweroff");
    const r = new Rng(caseSeed(o.seed, first + i));
    const consoleFrom = g.consoleLength();
    const kinds = r.next() < 0.3 ? [r.pick(BLK_KINDS)] : undefined;
    const back = new SimBlkback(g, {
      disk, flush: r.next() < 0.5, barrier: r.next() < 0.3, discard: r.next() < 0.5, indirect: r.pick([0, 32, 128]),
      maxRingPageOrder: r.int(0, 3), persistent: r.next() < 0.5, seed: r.int(1, 1000),
      hostile: { seed: r.int(1, 2 ** 31), rate: r.pick([0.002, 0.01, 0.05]), kinds },
    });
    g.dom0.after(BigInt(r.int(20, 120)) * MS, () => {
      const said = brokenLines(g, consoleFrom, /^blkfront 51712: broken: /);
      if (said.length > 1) return fail(`"broken" said ${said.length} times`);
      const progress = back.stats.bytesRead + back.stats.bytesWritten;
      if (said.length === 0 && back.stats.hostileResponses === 0 && progress === 0) return fail("no I/O reached an honest backend");
      if (said.length === 1 && back.stats.hostileResponses === 0) return fail(`"${said[0]}" from an honest backend`);
      back.detach(() => g.dom0.after(MS, () => {
        const leaked = grantsToDom0(g);
        if (leaked.length || g.dom0.activeGrantMappings()) return fail(`after the detach: ${leaked.length} grants, ${g.dom0.activeGrantMappings()} mappings`);
        const why = memoryCheck(g.view().byteLength);
        if (why) return fail(why);
        result.cases++;
        i++;
        if (o.onProgress && i % 250 === 0) o.onProgress(i);
        runCase();
      }));
    });
  };
  g.dom0.after(MS, runCase);
  const res = await g.run();
  if (res.reason !== "poweroff" || /trap:|panic:/.test(res.console)) {
    result.failures.push({ campaign: "blkback", seed: o.seed, caseNo: first + i, why: `the guest ended with ${res.reason}: ${res.console.split("\n").filter((l) => /trap|panic/.test(l)).join(" / ")}` });
  }
  return result;
}
