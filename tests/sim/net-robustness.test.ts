// netfront and the stack under the conditions found by review (issue 9):
// handlers that block inside the event loop, a backend that writes into RX
// buffers it has already answered, a backend that is slow to probe, frames
// over the MTU, multi-slot frames without feature-sg, broadcast and foreign
// frames, and ARP entries forged from IPv4 packets.
import test from "tape";
import { type SimResult } from "../../sim/host.ts";
import { arpPacket, arpRequestFrame, ethernet, udpFrame, pingFrame, BROADCAST_MAC, ETH_P_ARP, ARP_REPLY, type Endpoint } from "../../sim/netswitch.ts";
import * as N from "../../runtime/abi/netif.ts";
import {
  MS, type Rig, rig, requestShutdown, whenConnected, noTrap, converse, grantsToDom0, pattern, udpExchange, pingExchange, report,
} from "./net-rig.ts";
import { willBuild } from "./helpers.ts";

// The apps these tests build, compiled ahead of time (tests/sim/helpers.ts).
willBuild("tests/apps/net-blocking.ts");
willBuild("tests/apps/net-txdrop.ts");

const BLOCKING = "tests/apps/net-blocking.ts";

// net-blocking's shutdown lines.
function blockingReport(res: SimResult): { vif: string; lookups: number; failed: number; changed: number; udpOut: number } {
  const vif = /net-blocking: vif 0: (.*)/.exec(res.console)?.[1] ?? "";
  const totals = /lookups (\d+) failed (\d+), changed under the reader (\d+)/.exec(res.console);
  return {
    vif, udpOut: Number(/udp in \d+ out (\d+)/.exec(vif)?.[1] ?? -1),
    lookups: Number(totals?.[1] ?? -1), failed: Number(totals?.[2] ?? -1), changed: Number(totals?.[3] ?? -1),
  };
}

// `bursts` bursts of `size` datagrams from as many flows, each burst sent in
// one dom0 turn (so the guest finds several frames per event, on several
// queues), the next one 2 ms later; then `done` with the replies counted.
function bursts(r: Rig, count: number, size: number, done: (replies: number, sent: number) => void): void {
  const [peer, guest] = [r.peers[0], r.guests[0]];
  // The guest learns the peer's MAC from this ARP request (it learns from ARP only).
  peer.send(arpRequestFrame(peer.me, guest.ip));
  let sent = 0;
  const burst = (n: number) => {
    if (n === count) {
      r.g.dom0.after(200n * MS, () => done(peer.received.filter((f) => f.udp?.srcPort === 7).length, sent));
      return;
    }
    for (let i = 0; i < size; i++) if (peer.send(udpFrame(peer.me, guest, 30000 + ((n * size + i) % 997), 7, pattern(64 + i, n)))) sent++;
    r.g.dom0.after(2n * MS, () => burst(n + 1));
  };
  r.g.dom0.after(MS, () => burst(0));
}

for (const [name, features, cmdline] of [
  ["4 queues, a xenstore read in the handler", { maxQueues: 4 }, "block=xs"],
  ["1 queue without split event channels (TX and RX share a port), a xenstore read", {}, "block=xs"],
  ["4 queues + split + sg, a sleep in the handler", { maxQueues: 4, splitEventChannels: true, sg: true }, "block=sleep"],
] as const) {
  test(`netfront: a datagram handler that blocks is never re-entered for its device [${name}]: 300 datagrams in bursts, every one echoed`, async (t) => {
    const r = await rig([{ features }], BLOCKING, { cmdline });
    let replies = -1, sent = -1;
    whenConnected(r, () => bursts(r, 50, 6, (n, s) => {
      [replies, sent] = [n, s];
      requestShutdown(r.g);
    }));
    const res = await r.g.run();
    noTrap(t, res);
    const rep = blockingReport(res);
    t.equal(rep.vif.startsWith("ok"), true, `the device is not broken (${rep.vif})`);
    t.ok(sent > 250, `the backend took ${sent} of 300 datagrams`);
    t.equal(replies, sent, "every datagram the backend took was echoed");
    t.equal(rep.changed, 0, "no datagram changed while its handler was blocked");
    if (cmdline === "block=xs") t.equal(rep.failed, 0, `every xenstore read in the handler succeeded (${rep.lookups})`);
    t.equal(r.vifs[0].error, null, "the backend saw no protocol error");
    t.deepEqual(grantsToDom0(r.g), [], "every grant revoked at shutdown");
  });
}

test("netfront: a backend that writes into an RX buffer after answering it cannot change a frame under its reader", async (t) => {
  const r = await rig([{ rxScribble: true }], BLOCKING, { cmdline: "block=xs" });
  const [peer, guest, vif] = [r.peers[0], r.guests[0], r.vifs[0]];
  const bad: string[] = [];
  whenConnected(r, () => converse(peer, Array.from({ length: 20 }, (_, i) => () => udpExchange(peer, guest, 21000 + i, pattern(200, i), bad)), 20n * MS, () => requestShutdown(r.g)));
  const res = await r.g.run();
  noTrap(t, res);
  const rep = blockingReport(res);
  t.equal(rep.changed, 0, "no frame changed while the handler was blocked");
  t.deepEqual(bad, [], "every datagram echoed as sent");
  t.ok(vif.stats.scribblesRefused >= 20, `the late writes were refused by the grant table (${vif.stats.scribblesRefused} refused, ${vif.stats.scribbles} went through)`);
  t.equal(vif.stats.scribbles, 0, "none went through");
});

test("netfront: a backend that probes late (its features and InitWait come 50 ms after the device) is waited for", async (t) => {
  const r = await rig([{ probeDelayNs: 50_000_000 }]);
  const [peer, guest] = [r.peers[0], r.guests[0]];
  const bad: string[] = [];
  whenConnected(r, () => converse(peer, [() => pingExchange(peer, guest, 1, 1, pattern(56, 1), bad)], 10n * MS, () => requestShutdown(r.g)));
  const res = await r.g.run();
  noTrap(t, res);
  t.doesNotMatch(res.console, /broken/, "the device connected");
  t.deepEqual(bad, [], "and answers ping");
});

test("netfront: frames longer than the vif's MTU are dropped and counted at RX (a bridge at mtu 9000, the vif at 1500)", async (t) => {
  const r = await rig([{ mtu: 1500, features: { sg: true } }]);
  const [peer, guest, vif] = [r.peers[0], r.guests[0], r.vifs[0]];
  const bad: string[] = [];
  let taken: boolean[] = [];
  whenConnected(r, () => {
    peer.send(arpRequestFrame(peer.me, guest.ip));
    taken = [1600, 3000, 1515].map((len) => vif.inject(udpFrame(peer.me, guest, 9000 + len, 7, pattern(len - 42, len)), { unchecked: true }));
    r.g.dom0.after(MS, () => converse(peer, [() => udpExchange(peer, guest, 4000, pattern(1472, 9), bad)], 10n * MS, () => requestShutdown(r.g)));
  });
  const res = await r.g.run();
  noTrap(t, res);
  t.deepEqual(taken, [true, true, true], "the backend passed all three on (its bridge's MTU is larger)");
  const q = /oversize (\d+)/.exec(res.console);
  t.equal(Number(q?.[1]), 3, "the guest counted 3 oversize frames");
  t.equal(report(res, 0)["udp in"], 1, "only the full-size 1514-byte frame reached the stack");
  t.equal(peer.received.filter((f) => f.udp && f.udp.dstPort !== 4000).length, 0, "no echo of the oversize ones");
  t.deepEqual(bad, [], "the 1472-byte datagram is echoed");
});

test("netfront without feature-sg: a frame flagged more_data takes its continuation slots with it (they are not read as frames)", async (t) => {
  const r = await rig([{}]);
  const [peer, guest, vif] = [r.peers[0], r.guests[0], r.vifs[0]];
  const bad: string[] = [];
  whenConnected(r, () => {
    // A backend that sends a 2-slot frame anyway: the second slot is itself a whole, valid UDP frame.
    const inner = udpFrame(peer.me, guest, 6666, 7, pattern(100, 6));
    const ok = vif.injectSlots([{ data: udpFrame(peer.me, guest, 5555, 7, pattern(100, 5)), flags: N.NETRXF_more_data }, { data: inner, flags: 0 }]);
    t.ok(ok, "the backend wrote both slots");
    r.g.dom0.after(MS, () => converse(peer, [() => pingExchange(peer, guest, 2, 2, pattern(8, 2), bad)], 10n * MS, () => requestShutdown(r.g)));
  });
  const res = await r.g.run();
  noTrap(t, res);
  t.equal(peer.received.filter((f) => f.udp?.dstPort === 6666 || f.udp?.dstPort === 5555).length, 0, "neither slot was taken as a datagram");
  t.equal(report(res, 0).dropped, 1, "one frame dropped");
  t.deepEqual(bad, [], "a ping afterwards is answered (both buffers re-posted)");
  t.doesNotMatch(res.console, /broken/);
});

// ---- the stack: what is addressed to us, and what ARP learns

const OTHER_MAC = "00:16:3e:99:99:99";

test("stack: no reply to ICMP echo or UDP sent to the broadcast address; frames for another MAC are ignored", async (t) => {
  const r = await rig([{}]);
  const [peer, guest] = [r.peers[0], r.guests[0]];
  const bad: string[] = [];
  whenConnected(r, () => {
    peer.send(arpRequestFrame(peer.me, guest.ip));
    const bcast: Endpoint = { mac: BROADCAST_MAC, ip: "255.255.255.255" };
    peer.send(pingFrame(peer.me, bcast, 7, 1, pattern(32, 1)));
    peer.send(udpFrame(peer.me, bcast, 7001, 7, pattern(32, 2)));
    peer.send(udpFrame(peer.me, { mac: BROADCAST_MAC, ip: guest.ip }, 7002, 7, pattern(32, 3)));
    peer.send(pingFrame(peer.me, { mac: OTHER_MAC, ip: guest.ip }, 7, 2, pattern(32, 4)));
    peer.send(udpFrame(peer.me, { mac: OTHER_MAC, ip: guest.ip }, 7003, 7, pattern(32, 5)));
    r.g.dom0.after(20n * MS, () => converse(peer, [
      () => pingExchange(peer, guest, 7, 3, pattern(32, 6), bad),
      () => udpExchange(peer, guest, 7004, pattern(32, 7), bad),
    ], 10n * MS, () => requestShutdown(r.g)));
  });
  const res = await r.g.run();
  noTrap(t, res);
  const replies = peer.received.filter((f) => f.icmp?.type === 0 || f.udp);
  t.deepEqual(replies.map((f) => f.icmp ? `ping ${f.icmp.seq}` : `udp ${f.udp!.dstPort}`), ["ping 3", "udp 7004"], "only the unicast ping and datagram are answered");
  t.deepEqual(bad, []);
});

test("stack: ARP is learnt from ARP only: IPv4 packets with a forged source MAC, ARP from 0.0.0.0 or from a broadcast MAC redirect nothing", async (t) => {
  const r = await rig([{}]);
  const [peer, guest] = [r.peers[0], r.guests[0]];
  const bad: string[] = [];
  const forged: Endpoint = { mac: OTHER_MAC, ip: peer.me.ip };
  whenConnected(r, () => {
    peer.send(arpRequestFrame(peer.me, guest.ip));  // the real binding
    // ARP probes and announcements that must not be learnt.
    peer.send(ethernet(BROADCAST_MAC, OTHER_MAC, ETH_P_ARP, arpPacket(ARP_REPLY, { mac: OTHER_MAC, ip: "0.0.0.0" }, { mac: guest.mac, ip: guest.ip })));
    peer.send(ethernet(BROADCAST_MAC, OTHER_MAC, ETH_P_ARP, arpPacket(ARP_REPLY, { mac: BROADCAST_MAC, ip: peer.me.ip }, { mac: guest.mac, ip: guest.ip })));
    // Datagrams claiming the peer's address from another MAC: echoed, but to the MAC ARP says.
    for (let i = 0; i < 3; i++) peer.send(udpFrame(forged, guest, 7200 + i, 7, pattern(16, i)));
    r.g.dom0.after(5n * MS, () => converse(peer, [() => udpExchange(peer, guest, 7100, pattern(16, 9), bad)], 10n * MS, () => requestShutdown(r.g)));
  });
  const res = await r.g.run();
  noTrap(t, res);
  const echoes = peer.received.filter((f) => f.udp && f.udp.dstPort >= 7200 && f.udp.dstPort < 7203);
  t.equal(echoes.length, 3, "the three forged-source datagrams were echoed");
  t.deepEqual(echoes.map((f) => f.dst), [peer.me.mac, peer.me.mac, peer.me.mac], "to the peer's MAC from ARP, not to the forged one");
  t.deepEqual(bad, [], "and the peer's own datagram too");
});

test("netfront: every TX drop is counted (sends while the device is not connected included)", async (t) => {
  const r = await rig([{}], "tests/apps/net-txdrop.ts");
  const res = await r.g.run();
  noTrap(t, res);
  t.match(res.console, /net-txdrop: refused 3, counted 3/, "three sends refused before connecting, three drops counted");
});

test("netfront: at close, a grant the backend still maps is retried until it lets go, or counted as leaked", async (t) => {
  for (const [what, lateUnmapNs] of [["lets go 100 ms after closing", 100_000_000], ["never lets go", -1]] as const) {
    const r = await rig([{ lateUnmapNs }]);
    whenConnected(r, () => requestShutdown(r.g));
    const res = await r.g.run();
    noTrap(t, res);
    if (lateUnmapNs > 0) {
      t.deepEqual(grantsToDom0(r.g), [], `${what}: every grant revoked in the end`);
      t.doesNotMatch(res.console, /still mapped/, `${what}: nothing reported`);
    } else {
      t.equal(grantsToDom0(r.g).length, 1, `${what}: the one buffer stays granted`);
      t.match(res.console, /netfront 0: 1 grant still mapped by the backend, left granted/, `${what}: reported as leaked`);
    }
  }
});
