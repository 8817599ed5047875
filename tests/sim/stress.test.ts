// Stress mode (the memory issue): apps built with the "stress"
// instrumentation run with a full collection at every hypercall, and every
// block the collector frees is filled with garbage at once (sim/host.ts).
// Memory that a backend or Xen can see (rings, granted pages, bounce pools,
// hypercall arguments) must be unmanaged or kept alive while shared: if a
// driver kept only a raw address into a managed object, the object would be
// freed and overwritten here and netfront, blkfront or xenstore would fail.
import test from "tape";
import { SimGuest } from "../../sim/host.ts";
import { SimBlkback } from "../../sim/blkback.ts";
import { addVif } from "../../sim/netback.ts";
import { NetPeer, arpRequestFrame, pingFrame, udpFrame } from "../../sim/netswitch.ts";
import * as XB from "../../runtime/abi/xenbus.ts";
import { startedGuest, willBuild } from "./helpers.ts";

// The apps these tests build, compiled ahead of time (tests/sim/helpers.ts;
// all four are apps of tests/apps/instrumented-probe.ts).
willBuild("tests/apps/dangling.ts", undefined, "stress");
willBuild("examples/udp-echo/main.ts", undefined, "stress");
willBuild("examples/blk-verify/main.ts", undefined, "stress");
willBuild("examples/selftest/main.ts", undefined, "stress");

const MS = 1_000_000n;

async function stressed(entry: string, cmdline = ""): Promise<SimGuest> {
  const g = await startedGuest(entry, { cmdline }, "stress");
  g.collectAtHypercalls = true;
  return g;
}

test("stress: a raw address kept into a collected buffer reads garbage (the bug this mode is for)", async (t) => {
  const plain = await startedGuest("tests/apps/dangling.ts", {}, "stress");
  t.match((await plain.run()).console, /dangling: byte 7\n/, "without forced collections the bytes are still there");
  const g = await stressed("tests/apps/dangling.ts");
  const r = await g.run();
  t.match(r.console, /dangling: byte 221\n/, "with a collection at the hypercall the buffer was freed and filled with 0xdd");
  t.ok(g.allocations.freed > 0, `the collector freed ${g.allocations.freed} blocks`);
});

test("stress: UDP echo and ping with a collection at every hypercall (netfront RX/TX, ARP, the stack)", async (t) => {
  const g = await stressed("examples/udp-echo/main.ts");
  const vif = addVif(g, { devid: 0, ip: "10.0.0.2", features: { sg: true, splitEventChannels: false } });
  const peer = new NetPeer(g.dom0, vif, { mac: "00:16:3e:ee:00:00", ip: "10.0.0.1" });
  const guest = { mac: vif.mac, ip: "10.0.0.2" };
  let replies = 0, rounds = 0;
  const round = (n: number): void => {
    if (n === 0) return void g.xenstore.write("/local/domain/1/control/shutdown", "poweroff");
    const ping = n % 2 === 0;
    const size = (n * 97) % 1400;
    const frame = ping ? pingFrame(peer.me, guest, 3, n, new Uint8Array(size).fill(n)) : udpFrame(peer.me, guest, 30000 + n, 7, new Uint8Array(size + 1).fill(n));
    peer.request(frame, (f) => (ping ? f.icmp?.seq === n : f.udp?.dstPort === 30000 + n), 20n * MS, (reply) => {
      rounds++;
      const data = ping ? reply?.icmp?.data : reply?.udp?.data;
      if (data && data.length === (ping ? size : size + 1) && data.every((b) => b === (n & 0xff))) replies++;
      round(n - 1);
    });
  };
  const start = () => {
    if (vif.state !== XB.XenbusStateConnected) return void g.dom0.after(MS, start);
    peer.send(arpRequestFrame(peer.me, guest.ip));
    g.dom0.after(MS, () => round(200));
  };
  g.dom0.after(MS, start);
  const r = await g.run();
  t.equal(r.reason, "poweroff");
  t.equal(rounds, 200);
  t.equal(replies, 200, "every ping and datagram answered with its payload intact");
  t.ok(g.allocations.freed > 0, `the collector freed (and scribbled over) ${g.allocations.freed} blocks meanwhile`);
});

test("stress: blk-verify writes, flushes and reads a disk back with a collection at every hypercall (blkfront, grants, indirect segments)", async (t) => {
  const g = await stressed("examples/blk-verify/main.ts", "seed=7");
  new SimBlkback(g, { disk: new Uint8Array(8 << 20), flush: true, indirect: 32, maxRingPageOrder: 1, persistent: false });
  const r = await g.run();
  t.equal(r.reason, "poweroff");
  t.match(r.console, /blk-verify: xvda: verified, crc32 [0-9a-f]{8}/, "the disk read back as written");
  t.ok(r.console.includes("blk-verify: PASS"), "blk-verify: PASS");
  t.ok(g.allocations.freed > 0, `the collector freed (and scribbled over) ${g.allocations.freed} blocks meanwhile`);
});

test("stress: the selftest (xenstore, watches, transactions, grants, timers) with a collection at every hypercall", async (t) => {
  const g = await stressed("examples/selftest/main.ts");
  g.dom0.after(5n * MS, () => g.xenstore.write("/local/domain/1/data/ping", "pong"));
  g.dom0.after(2_000n * MS, () => g.xenstore.write("/local/domain/1/control/shutdown", "poweroff"));
  const r = await g.run();
  t.equal(r.reason, "poweroff");
  const lines = r.console.split("\n");
  t.deepEqual(lines.filter((l) => l.startsWith("selftest: FAIL")), [], "no check failed");
  t.ok(lines.includes("selftest: 0 failures"));
  t.ok(g.allocations.freed > 0, `the collector freed (and scribbled over) ${g.allocations.freed} blocks meanwhile`);
});
