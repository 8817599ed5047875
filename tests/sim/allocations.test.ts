// Hot paths allocate nothing (the memory issue): with the allocator
// reporting every block to the sim (a build instrumented with
// "allocations", tools/build.ts), the steady state of UDP echo and ping
// (netfront RX and TX, the stack), of blkfront submitting and completing
// reused requests, and of a re-armed timer must hand out no memory at all
// once warmed up.
import test from "tape";
import { SimBlkback } from "../../sim/blkback.ts";
import { addVif } from "../../sim/netback.ts";
import { NetPeer, arpRequestFrame, pingFrame, udpFrame } from "../../sim/netswitch.ts";
import * as XB from "../../runtime/abi/xenbus.ts";
import { startedGuest, willBuild } from "./helpers.ts";

// The apps these tests build, compiled ahead of time (tests/sim/helpers.ts;
// both are apps of tests/apps/instrumented-probe.ts).
willBuild("examples/udp-echo/main.ts", undefined, "allocations");
willBuild("tests/apps/blk-reuse.ts", undefined, "allocations");

const MS = 1_000_000n;

test("allocations: UDP echo and ping allocate nothing once warmed up (netfront RX/TX, ARP, the stack)", async (t) => {
  const g = await startedGuest("examples/udp-echo/main.ts", {}, "allocations");
  const vif = addVif(g, { devid: 0, ip: "10.0.0.2", features: { sg: true, splitEventChannels: true } });
  const peer = new NetPeer(g.dom0, vif, { mac: "00:16:3e:ee:00:00", ip: "10.0.0.1" });
  const guest = { mac: vif.mac, ip: "10.0.0.2" };
  let warm = -1, after = -1, replies = 0, exchanges = 0;
  const round = (n: number, done: () => void) => {
    if (n === 0) return done();
    const seq = n & 0xffff;
    const frame = n % 3 === 0 ? pingFrame(peer.me, guest, 9, seq, new Uint8Array(n % 1400)) : udpFrame(peer.me, guest, 20000 + (n % 500), 7, new Uint8Array(1 + (n % 1472)));
    peer.request(frame, (f) => (n % 3 === 0 ? f.icmp?.seq === seq : f.udp?.dstPort === 20000 + (n % 500)), 10n * MS, (reply) => {
      if (reply) replies++;
      exchanges++;
      round(n - 1, done);
    });
  };
  const start = () => {
    if (vif.state !== XB.XenbusStateConnected) return void g.dom0.after(MS, start);
    peer.send(arpRequestFrame(peer.me, guest.ip));
    g.dom0.after(MS, () => round(300, () => {
      warm = g.allocations.bytes;
      replies = 0;
      round(2000, () => {
        after = g.allocations.bytes;
        g.xenstore.write("/local/domain/1/control/shutdown", "poweroff");
      });
    }));
  };
  g.dom0.after(MS, start);
  const res = await g.run();
  t.equal(res.reason, "poweroff");
  t.ok(warm > 0, `the allocator reported its blocks (${warm} bytes by the end of the warm-up)`);
  t.equal(replies, 2000, "2000 echoes and pings answered after the warm-up");
  t.equal(after - warm, 0, `and they allocated ${after - warm} bytes`);
});

test("allocations: blkfront submitting and completing reused requests, and a re-armed timer, allocate nothing once warmed up", async (t) => {
  const g = await startedGuest("tests/apps/blk-reuse.ts", {}, "allocations");
  const back = new SimBlkback(g, { disk: new Uint8Array(1 << 20), flush: true, indirect: 32, maxRingPageOrder: 1, persistent: true });
  let warm = -1, after = -1, ops0 = 0, ops1 = 0;
  const ops = () => (back.stats.ops.read ?? 0) + (back.stats.ops.write ?? 0);
  g.dom0.after(30n * MS, () => {
    warm = g.allocations.bytes;
    ops0 = ops();
    g.dom0.after(100n * MS, () => {
      after = g.allocations.bytes;
      ops1 = ops();
      g.xenstore.write("/local/domain/1/control/shutdown", "poweroff");
    });
  });
  const res = await g.run();
  t.equal(res.reason, "poweroff");
  t.ok(ops1 - ops0 > 1000, `${ops1 - ops0} block requests completed after the warm-up`);
  t.equal(after - warm, 0, `and they (and 100 timer re-arms) allocated ${after - warm} bytes`);
});

test("allocations: UDP from 10,000 source addresses (100,000 in make soak) (spoofed: nobody answers the guest's ARP) allocates nothing once warmed up, and dom0 is still answered", async (t) => {
  const g = await startedGuest("examples/udp-echo/main.ts", {}, "allocations");
  const vif = addVif(g, { devid: 0, ip: "10.0.0.2", features: { sg: true, splitEventChannels: true } });
  const peer = new NetPeer(g.dom0, vif, { mac: "00:16:3e:ee:00:00", ip: "10.0.0.1" });
  const guest = { mac: vif.mac, ip: "10.0.0.2" };
  const SOURCES = Number(process.env.TSXEN_FLOOD_SOURCES ?? 10_000), WARM = 1_000, BURST = 50;
  const source = (i: number) => ({
    mac: `02:00:${[i >> 16, (i >> 8) & 255, i & 255].map((b) => b.toString(16).padStart(2, "0")).join(":")}:01`,
    ip: `10.${1 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`,
  });
  let warm = -1, after = -1, answered = 0, sent = 0;
  // dom0 checks that it is still answered every few bursts.
  const check = (n: number, done: () => void) =>
    peer.request(udpFrame(peer.me, guest, 40000 + (n % 1000), 7, new Uint8Array([n & 255])), (f) => f.udp?.dstPort === 40000 + (n % 1000), 20n * MS, (r) => {
      if (r) answered++;
      done();
    });
  const flood = (i: number) => {
    if (i === WARM) warm = g.allocations.bytes;
    if (i >= SOURCES) {
      after = g.allocations.bytes;
      return void g.xenstore.write("/local/domain/1/control/shutdown", "poweroff");
    }
    for (let k = i; k < i + BURST; k++, sent++) peer.send(udpFrame(source(k), guest, 1024 + (k % 60000), 7, new Uint8Array(32)));
    // Let the guest take the burst before the next (as a paced sender would).
    g.dom0.after(MS, () => (i % (BURST * 20) === 0 ? check(i, () => flood(i + BURST)) : flood(i + BURST)));
  };
  const start = () => {
    if (vif.state !== XB.XenbusStateConnected) return void g.dom0.after(MS, start);
    peer.send(arpRequestFrame(peer.me, guest.ip));
    g.dom0.after(MS, () => flood(0));
  };
  g.dom0.after(MS, start);
  const res = await g.run();
  t.equal(res.reason, "poweroff");
  t.equal(answered, SOURCES / (BURST * 20), `dom0's datagrams between the bursts were all echoed (${answered})`);
  t.ok(warm > 0 && after >= warm, `${sent} datagrams from ${SOURCES} sources sent`);
  t.equal(after - warm, 0, `after the first ${WARM} sources, the other ${SOURCES - WARM} allocated ${after - warm} bytes (ARP cache and pending datagrams are fixed-size)`);
});
