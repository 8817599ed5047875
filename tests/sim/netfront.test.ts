// netfront (drivers/netfront.ts) and the IPv4 stack (drivers/net/stack.ts)
// against the sim's netback (sim/netback.ts): the xenbus handshake, ARP,
// ICMP echo and UDP echo through examples/udp-echo, malformed frames,
// back-pressure, notification hold-off, clean shutdown with every grant
// revoked, and a seeded hostile backend the guest must survive. The feature
// combinations, the UDP echo of every size and the shutdown also run with
// the guest booted as PVH (grants name guest frames there).
import test from "tape";
import { type SimResult } from "../../sim/host.ts";
import { HOSTILE_KINDS, type QueueStats, type Fault, type HostileOptions, type Vif, type VifOptions } from "../../sim/netback.ts";
import { NetPeer, arpRequestFrame, pingFrame, udpFrame, type Endpoint, type ParsedFrame } from "../../sim/netswitch.ts";
import * as XB from "../../runtime/abi/xenbus.ts";
import * as G from "../../runtime/abi/grant_table.ts";
import * as N from "../../runtime/abi/netif.ts";
import * as R from "../../runtime/abi/ring.ts";
import * as L from "../../sim/layout.ts";
import {
  MS, UDP_ECHO, type Rig, type Exchange, rig, requestShutdown, whenConnected, introduce, noTrap, converse, grantsToDom0, pattern, equalBytes,
  udpExchange, pingExchange, report, expectedComplaint,
} from "./net-rig.ts";
import { willBuild } from "./helpers.ts";

// The apps these tests build, compiled ahead of time (tests/sim/helpers.ts).
willBuild("tests/apps/net-noarm.ts");

// ---- handshake

test("netfront: handshake with the sim netback; keys, states and perms as libxl and netback have them", async (t) => {
  const r = await rig([{}]);
  const vif = r.vifs[0];
  const xs = r.g.xenstore;
  t.deepEqual(xs.getPerms(vif.frontendPath), ["n1", "r0"], "frontend dir: the guest's, dom0 may read");
  t.deepEqual(xs.getPerms(vif.backendPath), ["n0", "r1"], "backend dir: dom0's, the guest may read");
  t.equal(xs.read(`${vif.backendPath}/state`), String(XB.XenbusStateInitWait), "netback probed: InitWait");
  t.equal(xs.read(`${vif.backendPath}/feature-rx-copy`), "1");
  let frontKeys: Record<string, string> = {};
  whenConnected(r, () => {
    for (const k of ["tx-ring-ref", "rx-ring-ref", "event-channel", "request-rx-copy", "feature-rx-notify", "state"]) frontKeys[k] = xs.read(`${vif.frontendPath}/${k}`);
    requestShutdown(r.g);
  });
  const res = await r.g.run();
  noTrap(t, res);
  t.equal(res.reason, "poweroff");
  t.match(res.console, /netfront 0: connected, mac 00:16:3e:5a:00:00, ip 10\.0\.0\.2/, "the guest reports the vif");
  t.equal(frontKeys["request-rx-copy"], "1", "request-rx-copy=1");
  t.equal(frontKeys["feature-rx-notify"], "1", "feature-rx-notify=1");
  t.equal(frontKeys.state, String(XB.XenbusStateConnected), "frontend Connected");
  t.ok(/^\d+$/.test(frontKeys["tx-ring-ref"]) && /^\d+$/.test(frontKeys["rx-ring-ref"]) && /^\d+$/.test(frontKeys["event-channel"]), "ring refs and event channel written");
  t.deepEqual(vif.frontend, { rxNotify: true, sg: false, noCsumOffload: true, queues: 1, splitEventChannels: false }, "what netback read");
  t.equal(xs.read(`${vif.frontendPath}/state`), String(XB.XenbusStateClosed), "after shutdown: frontend Closed");
  t.equal(vif.state, XB.XenbusStateClosed, "backend Closed");
  t.equal(r.g.dom0.activeGrantMappings(), 0, "the backend unmapped both rings");
  t.equal(vif.error, null, "no backend error");
});

// ---- handshake failures and features

test("netfront: a backend without feature-rx-copy is refused with a clear error; the guest carries on", async (t) => {
  const r = await rig([{ features: { rxCopy: false } }]);
  r.g.dom0.after(100n * MS, () => requestShutdown(r.g)); // udp-echo waits for vifs to be attached
  const res = await r.g.run();
  noTrap(t, res);
  t.equal(res.reason, "poweroff", "the guest carries on, and powers off when asked");
  t.match(res.console, /netfront 0: broken: the backend lacks feature-rx-copy \(required\)\n/, "says why");
  t.match(res.console, /udp-echo: ready\n/, "the app went on");
  t.equal(r.vifs[0].state, XB.XenbusStateInitWait, "the backend never got further than InitWait");
  t.deepEqual(grantsToDom0(r.g), [], "nothing granted");
});

test("netfront: a garbage mac key is refused with a clear error", async (t) => {
  const r = await rig([{ mac: "00:16:3e:zz:00:01" }]);
  r.g.dom0.after(100n * MS, () => requestShutdown(r.g));
  const res = await r.g.run();
  noTrap(t, res);
  t.equal(res.reason, "poweroff");
  t.match(res.console, /netfront 0: broken: no usable mac key\n/);
  t.match(res.console, /udp-echo: ready\n/);
  t.deepEqual(grantsToDom0(r.g), [], "nothing granted");
});

test("netback: a frontend that does not request rx-copy is refused (xenbus_dev_fatal: error node, Closing)", async (t) => {
  const r = await rig([{}], "examples/hello/main.ts");
  const vif = r.vifs[0];
  const xs = r.g.xenstore;
  // Play a frontend from dom0: the keys, but request-rx-copy=0.
  for (const [k, v] of Object.entries({ "tx-ring-ref": "8", "rx-ring-ref": "9", "event-channel": "5", "request-rx-copy": "0" })) xs.write(`${vif.frontendPath}/${k}`, v);
  xs.write(`${vif.frontendPath}/state`, String(XB.XenbusStateConnected));
  t.equal(vif.state, XB.XenbusStateClosing, "backend Closing");
  t.match(vif.error ?? "", /request-rx-copy is not 1/);
  t.equal(xs.read(`/local/domain/0/error${vif.backendPath}/error`), vif.error, "reason in error/<backend>/error");
  t.equal(r.g.dom0.activeGrantMappings(), 0, "nothing mapped");
  const res = await r.g.run();
  t.equal(res.reason, "poweroff");
});

// ---- negotiated features: split event channels, multi-queue, scatter-gather, RX checksum flags

// udp-echo's per-queue report for vif `id`: oversize drops and frames per queue.
function queueReport(res: SimResult, id: number): { oversize: number; multiSlot: number; queues: { rx: number; tx: number }[] } {
  const line = res.console.split("\n").find((l) => l.startsWith(`udp-echo: vif ${id} queues: `)) ?? "";
  const queues = [...line.matchAll(/; \d+ rx (\d+) tx (\d+)/g)].map(([, rx, tx]) => ({ rx: Number(rx), tx: Number(tx) }));
  return { oversize: Number(/oversize (\d+)/.exec(line)?.[1] ?? -1), multiSlot: Number(/multi-slot (\d+)/.exec(line)?.[1] ?? -1), queues };
}

function readKeys(r: Rig, keys: string[]): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const k of keys) out[k] = r.g.xenstore.exists(`${r.vifs[0].frontendPath}/${k}`) ? r.g.xenstore.read(`${r.vifs[0].frontendPath}/${k}`) : null;
  return out;
}

// Datagrams from `flows` source ports (so that the flow hashes spread them
// over the queues), sizes chosen by `size`, all of which must come back.
function flowSteps(peer: NetPeer, guest: Endpoint, flows: number, size: (i: number) => number, bad: string[]): (() => Exchange)[] {
  return Array.from({ length: flows }, (_, i) => () => udpExchange(peer, guest, 40000 + i * 7, pattern(size(i), i), bad));
}

const FEATURE_COMBOS: { name: string; features: VifOptions["features"]; queues: number; split: boolean; sg: boolean }[] = [
  { name: "none", features: {}, queues: 1, split: false, sg: false },
  { name: "split", features: { splitEventChannels: true }, queues: 1, split: true, sg: false },
  { name: "sg", features: { sg: true }, queues: 1, split: false, sg: true },
  { name: "split + sg + max-queues 1 (Linux netback's offer)", features: { splitEventChannels: true, sg: true, maxQueues: 1 }, queues: 1, split: true, sg: true },
  { name: "max-queues 1", features: { maxQueues: 1 }, queues: 1, split: false, sg: false },
  { name: "2 queues", features: { maxQueues: 2 }, queues: 2, split: false, sg: false },
  { name: "2 queues + split", features: { maxQueues: 2, splitEventChannels: true }, queues: 2, split: true, sg: false },
  { name: "4 queues + sg", features: { maxQueues: 4, sg: true }, queues: 4, split: false, sg: true },
  { name: "8 offered (we take 4) + split + sg", features: { maxQueues: 8, splitEventChannels: true, sg: true }, queues: 4, split: true, sg: true },
];

// A test name's mode tag: none for PV (the default), " [pvh]" for PVH.
const modeTag = (mode: L.BootMode) => (mode === "pv" ? "" : ` [${mode}]`);

for (const mode of ["pv", "pvh"] as const) for (const combo of FEATURE_COMBOS) {
  test(`netfront${modeTag(mode)}: features [${combo.name}]: the keys written, what netback read, and traffic on every queue`, async (t) => {
    const slotSize = combo.sg ? 700 : undefined;
    const r = await rig([{ features: combo.features, rx: { slotSize } }], UDP_ECHO, { mode });
    const [peer, guest, vif] = [r.peers[0], r.guests[0], r.vifs[0]];
    const bad: string[] = [];
    let keys: Record<string, string | null> = {};
    let qs: QueueStats[] = [];
    const perQueue = ["tx-ring-ref", "rx-ring-ref", "event-channel", "event-channel-tx", "event-channel-rx"];
    const names = ["multi-queue-num-queues", "feature-sg", "feature-no-csum-offload", ...perQueue, ...[0, 1, 2, 3].flatMap((i) => perQueue.map((k) => `queue-${i}/${k}`))];
    whenConnected(r, () => {
      keys = readKeys(r, names);
      converse(peer, [
        () => pingExchange(peer, guest, 5, 5, pattern(1400, 5), bad),
        ...flowSteps(peer, guest, 24, (i) => 1 + ((i * 211) % 1472), bad),
      ], 10n * MS, () => {
        qs = vif.queueStats();
        requestShutdown(r.g);
      });
    });
    const res = await r.g.run();
    noTrap(t, res);
    t.deepEqual(vif.frontend, { rxNotify: true, sg: combo.sg, noCsumOffload: true, queues: combo.queues, splitEventChannels: combo.split }, "what netback read");
    t.equal(keys["multi-queue-num-queues"], combo.queues > 1 ? String(combo.queues) : null, "multi-queue-num-queues only with more than one queue");
    t.equal(keys["feature-sg"], combo.sg ? "1" : "0");
    t.equal(keys["feature-no-csum-offload"], "1");
    const num = /^\d+$/;
    const dirs = combo.queues === 1 ? [""] : Array.from({ length: combo.queues }, (_, i) => `queue-${i}/`);
    const misplaced = names.filter((k) => keys[k] !== null && !dirs.some((d) => k.startsWith(d) && !k.slice(d.length).includes("/")) && perQueue.some((p) => k.endsWith(p)));
    t.deepEqual(misplaced, [], combo.queues === 1 ? "per-queue keys at the top level only" : "per-queue keys under queue-<i>/ only");
    const wanted = combo.split ? ["tx-ring-ref", "rx-ring-ref", "event-channel-tx", "event-channel-rx"] : ["tx-ring-ref", "rx-ring-ref", "event-channel"];
    const unwanted = combo.split ? ["event-channel"] : ["event-channel-tx", "event-channel-rx"];
    t.ok(dirs.every((d) => wanted.every((k) => num.test(keys[d + k] ?? "")) && unwanted.every((k) => keys[d + k] === null)), `each queue: ${wanted.join(", ")}`);
    if (combo.split) t.ok(dirs.every((d) => keys[d + "event-channel-tx"] !== keys[d + "event-channel-rx"]), "two different ports per queue");
    t.deepEqual(bad.slice(0, 5), [], "a ping and 24 flows answered intact");
    t.equal(qs.length, combo.queues, `${combo.queues} queue(s) in the backend`);
    t.ok(qs.every((q) => q.rxFrames > 0 && q.txFrames > 0), `traffic on every queue: ${qs.map((q, i) => `${i}: rx ${q.rxFrames} tx ${q.txFrames}`).join(", ")}`);
    const rep = queueReport(res, 0);
    t.deepEqual(rep.queues.map((q) => q.rx), qs.map((q) => q.rxFrames), "the guest's per-queue RX counts match the backend's");
    t.deepEqual(rep.queues.map((q) => q.tx), qs.map((q) => q.txFrames), "and its TX counts");
    if (combo.split) t.ok(qs.every((q) => q.txKicks > 0), "TX kicks on the tx port");
    if (!combo.split) t.ok(qs.every((q) => q.rxKicks === 0), "one port per queue");
    t.equal(r.g.dom0.activeGrantMappings(), 0, "every ring unmapped at shutdown");
    t.deepEqual(grantsToDom0(r.g), [], "every grant revoked");
    t.equal(vif.error, null);
  });
}

test("netfront: split event channels: out of RX buffers, the re-post kick comes on the rx port, TX kicks on the tx port", async (t) => {
  const r = await rig([{ features: { splitEventChannels: true } }]);
  const [peer, guest, vif] = [r.peers[0], r.guests[0], r.vifs[0]];
  let before = { tx: 0, rx: 0 };
  let after = { tx: 0, rx: 0 };
  let reqEventAtDrop = -1;
  const bad: string[] = [];
  whenConnected(r, () => introduce(r, () => {
    const q = vif.queueStats()[0];
    before = { tx: q.txKicks, rx: q.rxKicks };
    // One dom0 callback: the guest cannot run between these injections.
    for (let i = 0; i < 100; i++) peer.send(udpFrame(peer.me, guest, 20000 + i, 7, pattern(100, i)));
    reqEventAtDrop = vif.ringIndices()!.rx.reqEvent - vif.backIndices()!.rx.reqCons;
    r.g.dom0.after(10n * MS, () => converse(peer, [() => pingExchange(peer, guest, 9, 9, pattern(8, 9), bad)], 10n * MS, () => {
      const q = vif.queueStats()[0];
      after = { tx: q.txKicks, rx: q.rxKicks };
      requestShutdown(r.g);
    }));
  }));
  const res = await r.g.run();
  noTrap(t, res);
  t.equal(peer.received.filter((f) => f.udp).length, 64, "the 64 posted buffers' frames echoed");
  t.equal(reqEventAtDrop, 1, "out of buffers, the backend armed RX req_event");
  t.ok(after.rx > before.rx, `the guest kicked the rx port when it re-posted (${before.rx} -> ${after.rx})`);
  t.ok(after.tx >= before.tx + 1, `and sent its 65 replies with kicks on the tx port (${before.tx} -> ${after.tx})`);
  t.deepEqual(bad, [], "a ping afterwards answered");
});

// ---- scatter-gather RX: multi-slot frames, extra-info slots, oversize and runaway chains

test("netfront: feature-sg: frames over several slots (1 to 18) are reassembled, with and without extra-info slots", async (t) => {
  const layouts: { slotSize: number; extras: number }[] = [
    { slotSize: 4096, extras: 0 }, { slotSize: 1000, extras: 0 }, { slotSize: 97, extras: 0 },
    { slotSize: 512, extras: 1 }, { slotSize: 300, extras: 2 }, { slotSize: 89, extras: 4 },
  ];
  for (const layout of layouts) {
    const r = await rig([{ features: { sg: true }, rx: layout }]);
    const [peer, guest, vif] = [r.peers[0], r.guests[0], r.vifs[0]];
    const bad: string[] = [];
    const sizes = [1, 18, 100, 555, 1000, 1200, 1472];
    whenConnected(r, () => converse(peer, [
      ...sizes.map((n, i) => () => udpExchange(peer, guest, 11000 + i, pattern(n, i), bad)),
      ...[0, 700, 1472].map((n, i) => () => pingExchange(peer, guest, 0x5e, i, pattern(n, i), bad)),
    ], 10n * MS, () => requestShutdown(r.g)));
    const res = await r.g.run();
    noTrap(t, res);
    const slots = Math.ceil(1514 / layout.slotSize);
    t.deepEqual(bad, [], `slots of ${layout.slotSize} bytes (a 1514-byte frame: ${slots} data slots), ${layout.extras} extra-info: every datagram and ping answered intact`);
    t.equal(vif.stats.rxDropped, 0, "the backend dropped none");
    t.equal(report(res, 0).dropped, 0, "the guest dropped none");
    const multi = [...sizes.map((n) => n + 42), 42, 742, 1514].filter((n) => n > layout.slotSize).length;
    t.equal(queueReport(res, 0).multiSlot, multi, `${multi} of them came in more than one slot`);
    t.equal(vif.error, null);
    t.deepEqual(grantsToDom0(r.g), [], "every grant revoked at shutdown");
  }
});

test("netfront: feature-sg: a frame longer than the reassembly buffer is dropped and counted; an unknown extra type drops its frame; the guest carries on", async (t) => {
  const r = await rig([{ features: { sg: true } }]);
  const [peer, guest, vif] = [r.peers[0], r.guests[0], r.vifs[0]];
  const bad: string[] = [];
  let taken: boolean[] = [];
  whenConnected(r, () => {
    // 6000 and 65535 bytes (2 and 16 slots of a page) against max(1514, 4096); the last with 2 extra-info slots.
    const big = (n: number) => { const f = udpFrame(peer.me, guest, 7777, 7, pattern(1400, 1)); const b = new Uint8Array(n); b.set(f); return b; };
    taken = [
      vif.inject(big(6000), { unchecked: true }),
      vif.inject(big(65535), { unchecked: true, extras: 2 }),
      vif.inject(udpFrame(peer.me, guest, 7778, 7, pattern(200, 2)), { extras: 1, extraType: 7 }),
    ];
    r.g.dom0.after(MS, () => converse(peer, [
      () => udpExchange(peer, guest, 4242, pattern(1472, 4), bad),
      () => pingExchange(peer, guest, 3, 3, pattern(64, 3), bad),
    ], 10n * MS, () => requestShutdown(r.g)));
  });
  const res = await r.g.run();
  noTrap(t, res);
  t.deepEqual(taken, [false, false, true], "the backend knows the guest cannot take the long ones (it passes the unknown extra type on)");
  t.equal(vif.stats.rxDropped, 2, "(counted as drops there)");
  t.equal(queueReport(res, 0).oversize, 2, "the guest counted 2 oversize frames");
  t.equal(queueReport(res, 0).multiSlot, 2, "(both multi-slot)");
  t.equal(report(res, 0).dropped, 3, "and 3 dropped in all (the unknown extra type too)");
  t.equal(report(res, 0)["udp in"], 1, "none of them reached the stack");
  t.deepEqual(bad, [], "a full-size datagram and a ping afterwards are answered: every slot was re-posted");
  t.equal(vif.error, null);
  t.doesNotMatch(res.console, /broken/);
});

// Hand-written RX responses: a connected udp-echo guest with feature-sg,
// whose RX ring the test fills itself (the responses in the slots of the
// requests netfront posted, published at once), then an event on the rx
// port. netfront must say the device is broken, once, and close it.
async function malformedChain(t: test.Test, write: (r: Rig, slots: { id: number; at: number }[], v: DataView) => number, expect: RegExp): Promise<void> {
  const r = await rig([{ features: { sg: true } }]);
  const vif = r.vifs[0];
  whenConnected(r, () => {
    const g = r.g;
    const ring = g.frameAddress(g.hv.grants.readEntry(Number(g.xenstore.read(`${vif.frontendPath}/rx-ring-ref`))).frame);
    const v = g.view();
    const slots = Array.from({ length: 64 }, (_, i) => ({ id: v.getUint16(ring + R.SRING_RING + i * N.NETIF_RX_REQUEST_SIZE + N.NETIF_RX_REQ_ID, true), at: ring + R.SRING_RING + i * N.NETIF_RX_RESPONSE_SIZE }));
    const n = write(r, slots, v);
    v.setUint32(ring + R.SRING_RSP_PROD, n, true);
    g.dom0.send(vif.queueStats()[0].rxPort);
    g.dom0.after(5n * MS, () => requestShutdown(g));
  });
  const res = await r.g.run();
  noTrap(t, res);
  t.match(res.console, expect, `broken: ${/netfront 0: broken: (.*)/.exec(res.console)?.[1]}`);
  t.equal((res.console.match(/broken/g) ?? []).length, 1, "once");
  t.equal(r.g.dom0.activeGrantMappings(), 0, "the device was closed: the backend unmapped");
  t.deepEqual(grantsToDom0(r.g), [], "every grant revoked");
}

function rsp(v: DataView, at: number, id: number, flags: number, status: number): void {
  v.setUint16(at + N.NETIF_RX_RSP_ID, id, true);
  v.setUint16(at + N.NETIF_RX_RSP_OFFSET, 0, true);
  v.setUint16(at + N.NETIF_RX_RSP_FLAGS, flags, true);
  v.setInt16(at + N.NETIF_RX_RSP_STATUS, status, true);
}

test("netfront: feature-sg: a chain of more than 18 data slots breaks the device", async (t) => {
  await malformedChain(t, (_r, slots, v) => {
    for (let i = 0; i < 20; i++) rsp(v, slots[i].at, slots[i].id, i < 19 ? N.NETRXF_more_data : 0, 60);
    return 20;
  }, /netfront 0: broken: RX runaway chain of more than 18 slots/);
});

test("netfront: feature-sg: more_data on the last published slot (the chain runs past rsp_prod) breaks the device", async (t) => {
  await malformedChain(t, (_r, slots, v) => {
    rsp(v, slots[0].at, slots[0].id, N.NETRXF_more_data, 60);
    rsp(v, slots[1].at, slots[1].id, N.NETRXF_more_data, 60);
    return 2;
  }, /netfront 0: broken: RX chain runs past the response producer/);
});

test("netfront: feature-sg: a runaway extra-info chain (FLAG_MORE on 5 slots) breaks the device", async (t) => {
  await malformedChain(t, (_r, slots, v) => {
    rsp(v, slots[0].at, slots[0].id, N.NETRXF_extra_info, 60);
    for (let i = 1; i <= 6; i++) {
      v.setUint8(slots[i].at + N.NETIF_EXTRA_TYPE, N.XEN_NETIF_EXTRA_TYPE_GSO);
      v.setUint8(slots[i].at + N.NETIF_EXTRA_FLAGS, N.XEN_NETIF_EXTRA_FLAG_MORE);
    }
    rsp(v, slots[7].at, slots[7].id, 0, 60);
    return 8;
  }, /netfront 0: broken: RX runaway extra-info chain/);
});

test("netfront: feature-sg: a wrong id in the middle of a chain breaks the device", async (t) => {
  await malformedChain(t, (_r, slots, v) => {
    rsp(v, slots[0].at, slots[0].id, N.NETRXF_more_data, 60);
    rsp(v, slots[1].at, slots[1].id ^ 0x100, 0, 60);
    return 2;
  }, /netfront 0: broken: RX response id \d+ where \d+ was posted/);
});

// ---- RX checksum flags

// A UDP frame whose checksum field holds only the pseudo-header sum, as a
// local Linux sender leaves it with CHECKSUM_PARTIAL (NETRXF_csum_blank).
function partialChecksumFrame(peer: Endpoint, guest: Endpoint, srcPort: number, data: Uint8Array): Uint8Array {
  const f = udpFrame(peer, guest, srcPort, 7, data);
  const v = new DataView(f.buffer);
  const ip = (a: string) => a.split(".").map(Number);
  const [s, d] = [ip(peer.ip), ip(guest.ip)];
  let sum = ((s[0] << 8) | s[1]) + ((s[2] << 8) | s[3]) + ((d[0] << 8) | d[1]) + ((d[2] << 8) | d[3]) + 17 + 8 + data.length;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  v.setUint16(14 + 20 + 6, sum);
  return f;
}

test("netfront: RX checksum flags: data_validated skips the L4 check, csum_blank accepts a partial checksum; replies carry full checksums", async (t) => {
  for (const sg of [false, true]) {
    const r = await rig([{ features: { sg }, rx: { slotSize: 400 } }]);
    const [peer, guest, vif] = [r.peers[0], r.guests[0], r.vifs[0]];
    const bad: string[] = [];
    const corrupt = (f: Uint8Array) => { f[14 + 20 + 6] ^= 0x5a; return f; };
    const partial = partialChecksumFrame(peer.me, guest, 6001, pattern(300, 1));
    whenConnected(r, () => {
      // Without flags: malformed (checked below). With them: answered.
      vif.inject(corrupt(udpFrame(peer.me, guest, 6000, 7, pattern(50, 0))));
      vif.inject(partial);
      r.g.dom0.after(MS, () => {
        const steps: (() => Exchange)[] = [
          () => ({ ...udpExchange(peer, guest, 6002, pattern(1000, 2), bad), frame: corrupt(udpFrame(peer.me, guest, 6002, 7, pattern(1000, 2))) }),
          () => ({ ...udpExchange(peer, guest, 6001, pattern(300, 1), bad), frame: partial }),
          () => ({ ...pingExchange(peer, guest, 4, 4, pattern(100, 4), bad), frame: (() => { const f = pingFrame(peer.me, guest, 4, 4, pattern(100, 4)); f[14 + 20 + 2] ^= 0xff; return f; })() }),
        ];
        // Each frame goes in with its flags (the backend's defaults for the next inject).
        const flags = [N.NETRXF_data_validated, N.NETRXF_csum_blank | N.NETRXF_data_validated, N.NETRXF_data_validated];
        converse(peer, steps.map((step, i) => () => {
          vif.rxDefaults = { ...vif.rxDefaults, flags: flags[i] };
          return step();
        }), 10n * MS, () => requestShutdown(r.g));
      });
    });
    const res = await r.g.run();
    noTrap(t, res);
    t.equal(report(res, 0).malformed, 2, `sg ${sg}: without flags, a bad and a partial UDP checksum are malformed`);
    t.deepEqual(bad, [], `sg ${sg}: with data_validated (bad UDP and ICMP checksums) and csum_blank (partial): answered, with correct checksums`);
  }
});

// ---- traffic

test("netfront: ARP request for the guest's address gets a correct reply", async (t) => {
  const r = await rig([{}]);
  const [peer, guest] = [r.peers[0], r.guests[0]];
  let reply: ParsedFrame | null = null;
  whenConnected(r, () => converse(peer, [() => ({
    frame: arpRequestFrame(peer.me, guest.ip),
    match: (f) => f.arp?.op === 2,
    check: (f) => { reply = f; },
  }), () => ({
    frame: arpRequestFrame(peer.me, "10.0.0.99"), // not the guest's: no reply
    match: (f) => f.arp !== undefined,
    check: (f) => t.equal(f, null, "no reply for someone else's address"),
  })], 10n * MS, () => requestShutdown(r.g)));
  const res = await r.g.run();
  noTrap(t, res);
  const f = reply as ParsedFrame | null;
  t.ok(f, "an ARP reply");
  t.deepEqual(f && { dst: f.dst, src: f.src, type: f.type }, { dst: peer.me.mac, src: guest.mac, type: 0x0806 }, "Ethernet header: to the asker, from the vif's MAC");
  t.deepEqual(f?.arp, { op: 2, senderMac: guest.mac, senderIp: guest.ip, targetMac: peer.me.mac, targetIp: peer.me.ip }, "ARP reply body");
  t.equal(report(res, 0)["arp replies"], 1, "the guest counted one ARP reply");
});

test("netfront: ICMP echo requests get replies with the same id, sequence and payload, valid checksums", async (t) => {
  const r = await rig([{}]);
  const [peer, guest] = [r.peers[0], r.guests[0]];
  const bad: string[] = [];
  const sizes = [0, 1, 56, 1000, 1472];
  whenConnected(r, () => converse(peer, sizes.map((n, seq) => () => pingExchange(peer, guest, 0xbeef, seq + 1, pattern(n, seq), bad)), 10n * MS, () => requestShutdown(r.g)));
  const res = await r.g.run();
  noTrap(t, res);
  t.deepEqual(bad, [], `${sizes.length} echo replies, all correct`);
  t.equal(report(res, 0)["echo replies"], sizes.length);
});

for (const mode of ["pv", "pvh"] as const) test(`netfront${modeTag(mode)}: UDP datagrams of every size from 1 to 1472 bytes are echoed intact`, async (t) => {
  const r = await rig([{}], UDP_ECHO, { mode });
  const [peer, guest] = [r.peers[0], r.guests[0]];
  const bad: string[] = [];
  const steps = Array.from({ length: 1472 }, (_, i) => () => udpExchange(peer, guest, 10000 + i, pattern(i + 1, i), bad));
  whenConnected(r, () => converse(peer, steps, 10n * MS, () => requestShutdown(r.g)));
  const res = await r.g.run();
  noTrap(t, res);
  t.deepEqual(bad.slice(0, 10), [], "every size echoed with the same payload, correct checksums and addresses");
  const rep = report(res, 0);
  t.equal(rep["udp in"], 1472, "udp in 1472");
  t.equal(r.vifs[0].stats.txFrames, 1473, "the backend took 1472 echoes from the guest, and its one ARP request for the peer");
  t.equal(r.vifs[0].stats.rxDropped, 0, "and dropped none towards it");
});

test("netfront: jumbo frames (vif mtu 9000, sg): UDP datagrams up to 8972 bytes go both ways over several slots, intact", async (t) => {
  const r = await rig([{ mtu: 9000, features: { sg: true } }]);
  const [peer, guest] = [r.peers[0], r.guests[0]];
  const bad: string[] = [];
  const sizes = [1473, 4000, 4068, 4069, 6000, 8192, 8972];
  const steps = sizes.map((n, i) => () => udpExchange(peer, guest, 20000 + i, pattern(n, i), bad));
  whenConnected(r, () => converse(peer, steps, 10n * MS, () => requestShutdown(r.g)));
  const res = await r.g.run();
  noTrap(t, res);
  t.deepEqual(bad, [], "every jumbo datagram echoed with the same payload and correct checksums");
  t.equal(report(res, 0)["udp in"], sizes.length, `udp in ${sizes.length}`);
  t.equal(r.vifs[0].stats.txFrames, sizes.length + 1, "the backend took every echo, most of them over several TX slots (and one ARP request)");
  t.equal(r.vifs[0].stats.txErrors, 0, "and rejected none");
});

// Frames the stack must count as malformed and drop.
function malformedFrames(peer: Endpoint, guest: Endpoint): [string, Uint8Array][] {
  const good = udpFrame(peer, guest, 5555, 7, pattern(40, 1));
  const edit = (f: (b: Uint8Array, v: DataView) => void) => {
    const b = good.slice();
    f(b, new DataView(b.buffer));
    return b;
  };
  const ping = pingFrame(peer, guest, 1, 1, pattern(20, 2));
  return [
    ["truncated IP header", good.slice(0, 14 + 12)],
    ["bad IP header checksum", edit((b) => { b[14 + 10] ^= 0x55; })],
    ["IP total length past the frame", edit((b, v) => {
      v.setUint16(14 + 2, 400);
      v.setUint16(14 + 10, 0);
      v.setUint16(14 + 10, ipChecksum(b.subarray(14, 34)));
    })],
    ["UDP length past the IP payload", edit((b, v) => { v.setUint16(14 + 20 + 4, 200); })],
    ["bad UDP checksum", edit((b) => { b[14 + 20 + 8] ^= 0xff; })],
    ["bad ICMP checksum", (() => { const b = ping.slice(); b[14 + 20 + 9] ^= 1; return b; })()],
    ["truncated ARP", arpRequestFrame(peer, guest.ip).slice(0, 14 + 20)],
    ["runt Ethernet frame", good.slice(0, 10)],
  ];
}

function ipChecksum(header: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < header.length; i += 2) sum += (header[i] << 8) | header[i + 1];
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

test("netfront: malformed frames are counted and dropped; the guest keeps answering", async (t) => {
  const r = await rig([{}]);
  const [peer, guest] = [r.peers[0], r.guests[0]];
  const frames = malformedFrames(peer.me, guest);
  const bad: string[] = [];
  const taken: boolean[] = [];
  whenConnected(r, () => {
    for (const [, f] of frames) taken.push(peer.send(f));
    r.g.dom0.after(MS, () => converse(peer, [() => pingExchange(peer, guest, 7, 1, pattern(32, 3), bad), () => udpExchange(peer, guest, 4242, pattern(99, 4), bad)], 10n * MS, () => requestShutdown(r.g)));
  });
  const res = await r.g.run();
  noTrap(t, res);
  t.deepEqual(taken, frames.map(([, f]) => f.length > 0), "the backend passed every frame on (a 10-byte runt included)");
  const rep = report(res, 0);
  t.equal(rep.malformed, frames.length, `all ${frames.length} counted as malformed: ${frames.map(([name]) => name).join(", ")}`);
  t.deepEqual(bad, [], "a ping and a datagram afterwards are still answered");
  t.equal(peer.received.filter((f) => f.udp || f.icmp).length, 2, "and nothing was sent in reply to the malformed ones");
});

test("netfront: two vifs, each answers ARP, ping and UDP on its own address", async (t) => {
  const r = await rig([{}, {}]);
  const bad: string[] = [];
  let finished = 0;
  whenConnected(r, () => r.peers.forEach((peer, i) => converse(peer, [
    () => ({ frame: arpRequestFrame(peer.me, r.guests[i].ip), match: (f) => f.arp?.op === 2 && f.arp.senderIp === r.guests[i].ip, check: (f) => { if (!f) bad.push(`vif ${i}: no ARP reply`); } }),
    () => pingExchange(peer, r.guests[i], 100 + i, 1, pattern(64, i), bad),
    () => udpExchange(peer, r.guests[i], 3000 + i, pattern(300 + i, i), bad),
  ], 10n * MS, () => { if (++finished === 2) requestShutdown(r.g); })));
  const res = await r.g.run();
  noTrap(t, res);
  t.match(res.console, /netfront 0: connected, mac 00:16:3e:5a:00:00, ip 10\.0\.0\.2/);
  t.match(res.console, /netfront 1: connected, mac 00:16:3e:5a:00:01, ip 10\.0\.1\.2/);
  t.deepEqual(bad, [], "both vifs answered everything");
  for (const i of [0, 1]) {
    t.ok(r.peers[i].received.every((f) => f.src === r.guests[i].mac), `vif ${i}: every frame from its own MAC`);
    t.equal(report(res, i)["udp in"], 1, `vif ${i}: one datagram`);
  }
  t.equal(r.g.dom0.activeGrantMappings(), 0, "both backends unmapped at shutdown");
});

// ---- the data path: back-pressure, notifications, TX validation

test("netfront: more frames than posted RX buffers without the guest running: the rest are dropped and counted", async (t) => {
  const r = await rig([{}]);
  const [peer, guest, vif] = [r.peers[0], r.guests[0], r.vifs[0]];
  const burst = 200;
  let taken = 0;
  let reqEventAtDrop = -1;
  let reqConsAtDrop = -1;
  let eventsBefore = 0;
  const bad: string[] = [];
  whenConnected(r, () => introduce(r, () => {
    eventsBefore = vif.stats.guestEvents;
    // One dom0 callback: the guest cannot run between these injections.
    for (let i = 0; i < burst; i++) if (peer.send(udpFrame(peer.me, guest, 20000 + i, 7, pattern(100, i)))) taken++;
    reqEventAtDrop = vif.ringIndices()!.rx.reqEvent;
    reqConsAtDrop = vif.backIndices()!.rx.reqCons;
    r.g.dom0.after(10n * MS, () => converse(peer, [() => pingExchange(peer, guest, 9, 9, pattern(8, 9), bad)], 10n * MS, () => requestShutdown(r.g)));
  }));
  const res = await r.g.run();
  noTrap(t, res);
  t.equal(taken, 64, "the 64 posted buffers were filled");
  t.equal(vif.stats.rxDropped, burst - 64, `${burst - 64} frames dropped by the backend`);
  t.equal(vif.stats.rxFrames + vif.stats.rxDropped, burst + 2, "every frame (the burst, the ARP request before, the ping after) either delivered or dropped: nothing queued");
  t.equal(reqEventAtDrop, reqConsAtDrop + 1, "out of buffers, the backend asked to be kicked at the next request (req_event)");
  t.ok(vif.stats.guestEvents > eventsBefore, "and the guest kicked it when it re-posted");
  t.equal(peer.received.filter((f) => f.udp).length, 64, "the guest echoed the 64 it got");
  t.equal(report(res, 0)["udp in"], 64);
  t.deepEqual(bad, [], "a ping afterwards is answered: the buffers came back");
});

test("netback: notification hold-off: a frontend that never re-arms rsp_event gets exactly one event", async (t) => {
  const r = await rig([{}], "tests/apps/net-noarm.ts");
  const [peer, guest, vif] = [r.peers[0], r.guests[0], r.vifs[0]];
  const frames = 5;
  let indices: ReturnType<Vif["ringIndices"]> = null;
  whenConnected(r, () => {
    for (let i = 0; i < frames; i++) r.g.dom0.after(BigInt(i + 1) * MS, () => peer.send(udpFrame(peer.me, guest, 1000 + i, 7, pattern(10, i))));
    r.g.dom0.after(BigInt(frames + 5) * MS, () => {
      indices = vif.ringIndices();
      requestShutdown(r.g);
    });
  });
  const res = await r.g.run();
  noTrap(t, res);
  t.match(res.console, /noarm: ready\n/);
  t.equal(vif.stats.rxFrames, frames, `${frames} frames copied into the guest`);
  t.match(res.console, /noarm: events 1\n/, "the guest saw one event");
  t.equal(vif.stats.notifications, 1, "the backend notified once");
  const rx = (indices as ReturnType<Vif["ringIndices"]>)?.rx;
  t.deepEqual(rx && { rspProd: rx.rspProd, rspEvent: rx.rspEvent }, { rspProd: frames, rspEvent: 1 }, "rsp_prod moved on, rsp_event stayed at 1");
});

test("netback: notification hold-off: a frontend that re-arms gets one event per response batch, and the backend keeps req_event armed", async (t) => {
  const r = await rig([{}]);
  const [peer, guest, vif] = [r.peers[0], r.guests[0], r.vifs[0]];
  const frames = 5;
  let base = 0;
  let indices: ReturnType<Vif["ringIndices"]> = null;
  let back: ReturnType<Vif["backIndices"]> = null;
  whenConnected(r, () => introduce(r, () => {
    base = vif.stats.notifications;
    for (let i = 0; i < frames; i++) r.g.dom0.after(BigInt(i + 1) * MS, () => peer.send(udpFrame(peer.me, guest, 1000 + i, 7, pattern(10, i))));
    r.g.dom0.after(BigInt(frames + 5) * MS, () => {
      indices = vif.ringIndices();
      back = vif.backIndices();
      requestShutdown(r.g);
    });
  }));
  const res = await r.g.run();
  noTrap(t, res);
  t.equal(peer.received.filter((f) => f.udp).length, frames, "all echoed");
  t.equal(vif.stats.notifications - base, 2 * frames, "one event per RX frame and one per TX completion");
  const i = indices as ReturnType<Vif["ringIndices"]>;
  const b = back as ReturnType<Vif["backIndices"]>;
  t.equal(i?.tx.reqEvent, (b?.tx.reqCons ?? 0) + 1, "TX req_event = req_cons + 1 after the backend drained the ring");
  t.equal(i?.rx.rspEvent, (b?.rx.rspProdPvt ?? 0) + 1, "the frontend re-armed RX rsp_event past the last response");
});

// The TX ring and a TX buffer (a read-only grant to dom0) of a connected
// guest, found the way the backend finds them: through the grant table.
function txRingOf(r: Rig): { ring: number; bufferRef: number; buffer: number } {
  const g = r.g;
  const page = (ref: number) => g.frameAddress(g.hv.grants.readEntry(ref).frame);
  const bufferRef = grantsToDom0(g).find((ref) => g.hv.grants.readEntry(ref).flags & G.GTF_readonly);
  if (bufferRef === undefined) throw new Error("no TX buffer grant");
  return { ring: page(Number(g.xenstore.read(`${r.vifs[0].frontendPath}/tx-ring-ref`))), bufferRef, buffer: page(bufferRef) };
}

test("netback: TX requests are validated: a bad grant, offset + size past the page or a runt get NETIF_RSP_ERROR; an impossible req_prod stops the queue", async (t) => {
  // net-noarm leaves the rings alone once connected: the test writes the TX requests itself.
  const r = await rig([{}], "tests/apps/net-noarm.ts");
  const vif = r.vifs[0];
  const delivered: Uint8Array[] = [];
  vif.deliver = (f) => delivered.push(f);
  const frame = pattern(60, 42);
  let responses: { id: number; status: number }[] = [];
  let errorAfterFlood: string | null = null;
  let eventsAfterFlood = 0;
  let consumed = -1;
  whenConnected(r, () => {
    const { ring, bufferRef, buffer } = txRingOf(r);
    const v = r.g.view();
    const guestPort = Number(r.g.xenstore.read(`${vif.frontendPath}/event-channel`));
    new Uint8Array(v.buffer, buffer + 100, frame.length).set(frame);
    const reqs = [
      { gref: bufferRef, offset: 100, size: 60, id: 11 },  // good
      { gref: 3, offset: 0, size: 60, id: 12 },            // a reserved, never granted entry
      { gref: bufferRef, offset: 4000, size: 200, id: 13 }, // past the page
      { gref: bufferRef, offset: 0, size: 10, id: 14 },    // shorter than an Ethernet header
    ];
    reqs.forEach((q, i) => {
      const at = ring + R.SRING_RING + i * N.NETIF_TX_REQUEST_SIZE;
      v.setUint32(at + N.NETIF_TX_REQ_GREF, q.gref, true);
      v.setUint16(at + N.NETIF_TX_REQ_OFFSET, q.offset, true);
      v.setUint16(at + N.NETIF_TX_REQ_FLAGS, 0, true);
      v.setUint16(at + N.NETIF_TX_REQ_ID, q.id, true);
      v.setUint16(at + N.NETIF_TX_REQ_SIZE, q.size, true);
    });
    v.setUint32(ring + R.SRING_REQ_PROD, reqs.length, true);
    r.g.hv.evtchn.send(1, guestPort); // the guest's kick
    r.g.dom0.after(MS, () => {
      responses = reqs.map((_, i) => {
        const at = ring + R.SRING_RING + i * N.NETIF_TX_REQUEST_SIZE;
        return { id: v.getUint16(at + N.NETIF_TX_RSP_ID, true), status: v.getInt16(at + N.NETIF_TX_RSP_STATUS, true) };
      });
      v.setUint32(ring + R.SRING_REQ_PROD, reqs.length + N.NET_TX_RING_SIZE + 1, true); // more than a ring holds
      r.g.hv.evtchn.send(1, guestPort);
      r.g.dom0.after(MS, () => {
        errorAfterFlood = vif.error;
        eventsAfterFlood = vif.stats.guestEvents;
        r.g.hv.evtchn.send(1, guestPort);
        r.g.dom0.after(MS, () => {
          consumed = vif.backIndices()?.tx.reqCons ?? -1;
          requestShutdown(r.g);
        });
      });
    });
  });
  const res = await r.g.run();
  noTrap(t, res);
  t.deepEqual(responses, [
    { id: 11, status: N.NETIF_RSP_OKAY }, { id: 12, status: N.NETIF_RSP_ERROR },
    { id: 13, status: N.NETIF_RSP_ERROR }, { id: 14, status: N.NETIF_RSP_ERROR },
  ], "one response per request, in order, with its id");
  t.equal(delivered.length, 1, "only the good frame went on the wire");
  t.ok(delivered[0] && equalBytes(delivered[0], frame), "byte for byte");
  t.deepEqual([vif.stats.txFrames, vif.stats.txErrors], [1, 3]);
  t.equal(errorAfterFlood, "TX: impossible number of requests", "a req_prod more than a ring ahead is fatal for the queue (as netback)");
  t.equal(consumed, 4, "and nothing more was consumed");
  t.ok(vif.stats.guestEvents > eventsAfterFlood, "later kicks are still counted, but ignored");
  t.equal(r.g.dom0.activeGrantMappings(), 0, "the closing handshake still unmaps everything");
});

// ---- shutdown

for (const mode of ["pv", "pvh"] as const) test(`netfront${modeTag(mode)}: xl shutdown closes the vif (Closing, Closed), the backend unmaps, every grant is revoked`, async (t) => {
  const r = await rig([{}], UDP_ECHO, { mode });
  const [peer, guest, vif] = [r.peers[0], r.guests[0], r.vifs[0]];
  const xs = r.g.xenstore;
  const frontStates: string[] = [];
  const backStates: string[] = [];
  let grantsWhileUp: number[] = [];
  let guestPort = -1;
  const bad: string[] = [];
  whenConnected(r, () => {
    grantsWhileUp = grantsToDom0(r.g);
    guestPort = Number(xs.read(`${vif.frontendPath}/event-channel`));
    xs.watch(`${vif.frontendPath}/state`, "t-front", () => frontStates.push(xs.read(`${vif.frontendPath}/state`)));
    xs.watch(`${vif.backendPath}/state`, "t-back", () => backStates.push(xs.read(`${vif.backendPath}/state`)));
    converse(peer, [() => pingExchange(peer, guest, 1, 1, pattern(10, 1), bad)], 10n * MS, () => requestShutdown(r.g));
  });
  const res = await r.g.run();
  noTrap(t, res);
  t.equal(res.reason, "poweroff");
  t.deepEqual(bad, []);
  t.equal(grantsWhileUp.length, 2 + 64 + 64, "while up: 2 rings + 64 RX + 64 TX buffers granted to dom0");
  const S = XB;
  t.deepEqual(frontStates, [S.XenbusStateConnected, S.XenbusStateClosing, S.XenbusStateClosed].map(String), "frontend: Connected, Closing, Closed");
  t.deepEqual(backStates, [S.XenbusStateConnected, S.XenbusStateClosing, S.XenbusStateClosed].map(String), "backend: Connected, Closing, Closed");
  t.equal(r.g.dom0.activeGrantMappings(), 0, "dom0 holds no mapping");
  t.deepEqual(grantsToDom0(r.g), [], "every grant entry for dom0 revoked (GTF_permit_access cleared)");
  t.ok(grantsWhileUp.every((ref) => (r.g.hv.grants.readEntry(ref).flags & (G.GTF_reading | G.GTF_writing)) === 0), "no GTF_reading/GTF_writing left behind");
  t.notOk(r.g.hv.evtchn.openPorts(1).includes(guestPort), "the guest closed its event channel");
  t.deepEqual(r.g.hv.evtchn.openPorts(0), [r.g.storePort, r.g.consolePort].sort((a, b) => a - b), "dom0 has only the console and xenstore ports left");
  xs.unwatch(`${vif.frontendPath}/state`, "t-front");
  xs.unwatch(`${vif.backendPath}/state`, "t-back");
  vif.destroy();
  t.notOk(xs.exists(vif.backendPath) || xs.exists(vif.frontendPath), "destroy removes both directories");
});

// ---- a hostile backend

// A small deterministic generator for the traffic of one run (the faults
// have their own, inside the backend).
function lcg(seed: number): (lo: number, hi: number) => number {
  let s = (seed * 2654435761) >>> 0;
  return (lo, hi) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return lo + (s % (hi - lo + 1));
  };
}

interface HostileResult {
  faults: Fault[];
  problems: string[];
  answered: number;
}

// One guest against a hostile vif: ARP, pings, datagrams of random sizes, a
// burst, then pings until one is answered, then (35 s later, past
// netfront's 30 s connect timeout) xl shutdown. Returns what went wrong.
async function hostileRun(hostile: HostileOptions, opts: VifOptions = {}): Promise<HostileResult> {
  const { seed, rate } = hostile;
  const r = await rig([{ hostile, ...opts }]);
  const [peer, guest, vif] = [r.peers[0], r.guests[0], r.vifs[0]];
  const rand = lcg(seed);
  const ignore: string[] = [];
  let answered = 0;
  let alive = false;
  const count = (e: Exchange): Exchange => ({ ...e, check: (f) => { if (f) answered++; } });
  const steps: (() => Exchange)[] = [
    () => count({ frame: arpRequestFrame(peer.me, guest.ip), match: (f) => f.arp?.op === 2 }),
    ...[1, 2, 3].map((seq) => () => count(pingExchange(peer, guest, seed & 0xffff, seq, pattern(rand(0, 1472), seq), ignore))),
    ...[1, 2, 3, 4, 5, 6].map((i) => () => count(udpExchange(peer, guest, 30000 + i, pattern(rand(1, 1472), i), ignore))),
  ];
  const burst = () => {
    for (let i = 0; i < 4; i++) peer.send(udpFrame(peer.me, guest, 31000 + i, 7, pattern(rand(1, 1472), i)));
  };
  const liveness = (tries: number) => {
    if (tries === 0) return finish();
    peer.request(pingFrame(peer.me, guest, 0x4c49, tries, pattern(16, tries)), (f) => f.icmp?.type === 0 && f.icmp.seq === tries, 10n * MS, (f) => {
      if (f) alive = true;
      if (f) finish();
      else liveness(tries - 1);
    });
  };
  const finish = () => r.g.dom0.after(35_000n * MS, () => requestShutdown(r.g));
  whenConnected(r, () => converse(peer, steps, 10n * MS, () => {
    burst();
    r.g.dom0.after(5n * MS, () => liveness(20));
  }));
  const res = await r.g.run();
  const problems: string[] = [];
  const violation = vif.faults.some((f) => f.violation);
  const broken = res.console.match(/netfront 0: broken: /g)?.length ?? 0;
  if (res.reason !== "poweroff") problems.push(`shut down with ${res.reason}`);
  if (/trap:|panic:|sim:/.test(res.console)) problems.push(`crashed: ${res.console.split("\n").filter((l) => /trap:|panic:|sim:/.test(l)).join(" | ")}`);
  if (broken !== (violation ? 1 : 0)) problems.push(`"broken" logged ${broken} times after ${violation ? "a violation" : "no violation"}`);
  const first = vif.faults.find((f) => f.violation);
  const said = /netfront 0: broken: (.*)/.exec(res.console)?.[1] ?? "";
  if (first && broken === 1 && !expectedComplaint(first).test(said)) problems.push(`broken for "${said}", after ${first.kind}: ${first.detail}`);
  if (!violation && !alive) problems.push("no violation, yet the guest stopped answering");
  if (r.g.dom0.activeGrantMappings() !== 0) problems.push(`dom0 still maps ${r.g.dom0.activeGrantMappings()} grants after the guest closed the vif`);
  const leaked = grantsToDom0(r.g);
  if (leaked.length) problems.push(`${leaked.length} grant entries still give dom0 access after shutdown`);
  vif.destroy();
  if (r.g.dom0.activeGrantMappings() !== 0) problems.push("mappings left after the toolstack destroyed the vif");
  return { faults: vif.faults, problems: problems.map((p) => `seed ${seed} rate ${rate}: ${p} [faults: ${vif.faults.map((f) => f.kind).join(", ") || "none"}]`), answered };
}

test("netfront: 200 seeded runs against a hostile backend (40 of them with sg, split channels, multi-queue and multi-slot frames): no trap, no leak, violations detected (and only violations)", async (t) => {
  const rates = [0.005, 0.01, 0.03, 0.1];
  const problems: string[] = [];
  const byKind = new Map<string, number>();
  let violations = 0;
  let answered = 0;
  const started = Date.now();
  for (let seed = 1; seed <= 200; seed++) {
    // Every fifth run spoils a xenstore key (once per vif, so it needs its own runs).
    // And every fifth (other) run has sg, split event channels, 1 to 4 queues
    // and multi-slot frames (slots of 200 to 1599 bytes, 0 to 2 extra-info slots).
    const features: VifOptions = seed % 5 === 2 ? { features: { sg: true, splitEventChannels: true, maxQueues: 1 + (seed % 4) }, rx: { slotSize: 200 + ((seed * 97) % 1400), extras: seed % 3 } } : {};
    const run = await hostileRun(seed % 5 === 0 ? { seed, rate: 1, kinds: ["xenstore-garbage"] } : { seed, rate: rates[seed % rates.length] }, features);
    problems.push(...run.problems);
    answered += run.answered;
    if (run.faults.some((f) => f.violation)) violations++;
    for (const f of run.faults) {
      const key = f.kind === "xenstore-garbage" ? `${f.kind} (${f.detail.split(" =")[0]})` : f.kind;
      byKind.set(key, (byKind.get(key) ?? 0) + 1);
    }
  }
  t.deepEqual(problems.slice(0, 10), [], `no problem in 200 runs (${problems.length} in all)`);
  const seen = [...byKind.keys()].map((k) => k.split(" (")[0]);
  t.deepEqual(HOSTILE_KINDS.filter((k) => !seen.includes(k)), [], `every kind injected: ${[...byKind].sort().map(([k, n]) => `${k} ${n}`).join(", ")}`);
  t.ok(violations > 20 && violations < 180, `${violations} runs had a violation, the others only legitimate faults or none`);
  t.ok(answered > 1000, `${answered} replies in all`);
  t.comment(`200 hostile runs took ${Date.now() - started} ms`);
});
