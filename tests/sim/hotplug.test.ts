// Hot-plug both ways (drivers/frontend.ts), against the sim's toolstack
// and backends: `xl network-detach`/`block-detach` (libxl: backend online=0
// and Closing, then the nodes removed once the backend is Closed, or after
// 10 s by force), attach again, a backend's fatal error (Closing while
// online, then InitWait for a frontend that starts again), and devices
// attached while the guest runs. The guest must close promptly (never be
// forced), revoke every grant, tell the app, and reconnect.
import test from "tape";
import { SimGuest } from "../../sim/host.ts";
import { addVif, type Vif } from "../../sim/netback.ts";
import { SimBlkback } from "../../sim/blkback.ts";
import { NetPeer, type Endpoint } from "../../sim/netswitch.ts";
import * as XB from "../../runtime/abi/xenbus.ts";
import { willBuild, startedGuest } from "./helpers.ts";
import { MS, rig, requestShutdown, whenConnected, introduce, noTrap, converse, grantsToDom0, pattern, udpExchange, pingExchange } from "./net-rig.ts";

// The apps these tests build, compiled ahead of time (tests/sim/helpers.ts).
willBuild("tests/apps/blk-hotplug.ts");

// Calls `cb` once `vif`'s backend is Connected (polling each virtual ms).
function onceConnected(g: SimGuest, vif: Vif, cb: () => void): void {
  const poll = () => (vif.state === XB.XenbusStateConnected ? g.dom0.after(MS, cb) : g.dom0.after(MS, poll));
  g.dom0.after(MS, poll);
}

// A ping and a datagram through `peer`, then `done` with what went wrong.
function talk(peer: NetPeer, guest: Endpoint, seq: number, done: (bad: string[]) => void): void {
  const bad: string[] = [];
  converse(peer, [
    () => pingExchange(peer, guest, 0x77, seq, pattern(56, seq), bad),
    () => udpExchange(peer, guest, 31000 + seq, pattern(300, seq), bad),
  ], 20n * MS, () => done(bad));
}

test("hot-plug: a vif detached while the guest runs closes at once (not by force), revokes every grant, tells the app; attached again, the same stack answers", async (t) => {
  const r = await rig([{}]);
  const g = r.g;
  const first: string[][] = [];
  let forced: boolean | null = null;
  let grantsWhileDetached: number[] = [-1];
  let again: string[] | null = null;
  whenConnected(r, () => introduce(r, () => talk(r.peers[0], r.guests[0], 1, (bad) => {
    first.push(bad);
    r.vifs[0].detach((f) => {
      forced = f;
      grantsWhileDetached = grantsToDom0(g);
    });
    // `xl network-attach` a little later.
    g.dom0.after(100n * MS, () => {
      const vif = addVif(g, { devid: 0, ip: "10.0.0.2" });
      const peer = new NetPeer(g.dom0, vif, r.peers[0].me);
      onceConnected(g, vif, () => {
        const guest = { mac: vif.mac, ip: "10.0.0.2" };
        introduce({ ...r, peers: [peer], vifs: [vif], guests: [guest] }, () => talk(peer, guest, 2, (bad2) => {
          again = bad2;
          requestShutdown(g);
        }));
      });
    });
  })));
  const res = await g.run();
  noTrap(t, res);
  t.deepEqual(first, [[]], "traffic before the detach");
  t.equal(forced, false, "the guest closed the vif within libxl's timeout: the removal was not forced");
  t.deepEqual(grantsWhileDetached, [], "once removed, nothing is granted to dom0 any more");
  t.match(res.console, /netfront 0: disconnected: the backend is closing\n/, "the driver says why");
  t.match(res.console, /udp-echo: vif 0 disconnected: the backend is closing\n/, "the app was told (onDisconnect)");
  t.match(res.console, /netfront 0: attached again\n/, "the device came back");
  t.match(res.console, /udp-echo: vif 0 connected again\n/, "the app was told (onConnect), and kept its stack");
  t.deepEqual(again, [], "ping and UDP echo work after the re-attach");
  t.equal(res.reason, "poweroff");
});

test("hot-plug: netback's fatal error (Closing while online) is followed by a clean reconnect; traffic resumes", async (t) => {
  const r = await rig([{}]);
  const g = r.g;
  let after: string[] | null = null;
  whenConnected(r, () => introduce(r, () => {
    r.vifs[0].fail("test: a ring error in netback");
    g.dom0.after(50n * MS, () => onceConnected(g, r.vifs[0], () => introduce(r, () => talk(r.peers[0], r.guests[0], 3, (bad) => {
      after = bad;
      requestShutdown(g);
    }))));
  }));
  const res = await g.run();
  noTrap(t, res);
  t.match(res.console, /netfront 0: disconnected: the backend is closing\n/);
  t.match(res.console, /netfront 0: reconnected\n/, "the frontend went back to Initialising and connected again");
  t.deepEqual(after, [], "ping and UDP echo work after the reconnect");
  t.equal(r.vifs[0].frontend !== null, true, "the backend has its frontend again");
  t.deepEqual(grantsToDom0(g).length > 0, false, "and at shutdown every grant was revoked");
});

test("hot-plug: a vif attached while the guest runs is connected and gets its own stack", async (t) => {
  const r = await rig([{}]);
  const g = r.g;
  let bad: string[] | null = null;
  whenConnected(r, () => {
    const vif = addVif(g, { devid: 1, ip: "10.0.1.2" });
    const peer = new NetPeer(g.dom0, vif, { mac: "00:16:3e:ee:00:01", ip: "10.0.1.1" });
    onceConnected(g, vif, () => {
      const guest = { mac: vif.mac, ip: "10.0.1.2" };
      introduce({ ...r, peers: [peer], vifs: [vif], guests: [guest] }, () => talk(peer, guest, 4, (b) => {
        bad = b;
        requestShutdown(g);
      }));
    });
  });
  const res = await g.run();
  noTrap(t, res);
  t.match(res.console, /udp-echo: vif 1 00:16:3e:5a:00:01 10\.0\.1\.2 echoing on UDP port 7\n/, "the app made a stack for it (onConnect)");
  t.deepEqual(bad, [], "it answers ping and UDP");
  t.deepEqual(grantsToDom0(g), [], "both vifs' grants revoked at shutdown");
});

// ---- block devices

async function blkRig() {
  const g = await startedGuest("tests/apps/blk-hotplug.ts");
  const disk = new Uint8Array(1 << 20);
  const back = new SimBlkback(g, { disk, flush: true });
  return { g, disk, back };
}

test("hot-plug: a vbd detached while in use fails its requests as detached and revokes every grant; attached again, I/O resumes on the same disk", async (t) => {
  const { g, disk, back } = await blkRig();
  let forced: boolean | null = null;
  let grantsWhileDetached = -1;
  let second: SimBlkback | null = null;
  g.dom0.after(100n * MS, () => back.detach((f) => {
    forced = f;
    grantsWhileDetached = grantsToDom0(g).length;
    g.dom0.after(50n * MS, () => {
      second = new SimBlkback(g, { disk, flush: true });
      g.dom0.after(200n * MS, () => requestShutdown(g));
    });
  }));
  const res = await g.run();
  noTrap(t, res);
  t.equal(forced, false, "the guest closed the disk itself: the removal was not forced");
  t.equal(grantsWhileDetached, 0, "once removed, nothing is granted to dom0");
  t.match(res.console, /blk-hotplug: xvda disconnected: the backend is closing\n/, "the app was told");
  t.match(res.console, /blkfront 51712: attached again\n/);
  t.match(res.console, /blk-hotplug: xvda connected \(2\)\n/, "and told again when it came back");
  const m = /round trips ok (\d+), failed (\d+), mismatched (\d+); first error: (.*); last error: (.*)/.exec(res.console);
  t.ok(m && Number(m[1]) > 50, `round trips before and after (${m?.[1]})`);
  t.ok(m && Number(m[2]) >= 1 && m[4] === "blkfront 51712: detached", `what was in flight at the removal failed as detached (${m?.[2]} failed, first: ${m?.[4]})`);
  // The timer's blocking calls run inside the re-attach's handshake while it waits for the backend: they
  // cannot wait for it, and say so (no deadlock).
  t.ok(m && (m[5] === m[4] || /^xvda: busy connecting/.test(m[5])), `later failures: none, or calls made inside the handshake (last: ${m?.[5]})`);
  t.equal(m?.[3], "0", "every read returned what was written");
  t.ok(second !== null && (second as SimBlkback).stats.bytesWritten > 0, "the re-attached disk took writes");
  t.deepEqual(back.frontendErrors, [], "the first backend saw no frontend mistake");
  t.equal(g.dom0.activeGrantMappings(), 0, "nothing left mapped");
});

test("hot-plug: blkback's fatal error: requests in flight are held and sent again after the reconnect; none fails", async (t) => {
  const { g, back } = await blkRig();
  g.dom0.after(100n * MS, () => back.fail("test: a backend error"));
  g.dom0.after(400n * MS, () => requestShutdown(g));
  const res = await g.run();
  noTrap(t, res);
  t.match(res.console, /blkfront 51712: disconnected: the backend is closing\n/);
  t.match(res.console, /blkfront 51712: reconnected\n/);
  t.match(res.console, /blk-hotplug: xvda connected \(2\)\n/, "the app was told of the reconnect");
  const m = /round trips ok (\d+), failed (\d+), mismatched (\d+)/.exec(res.console);
  t.ok(m && Number(m[1]) > 100, `round trips before and after (${m?.[1]})`);
  t.equal(m?.[2], "0", "no request failed");
  t.equal(m?.[3], "0", "every read returned what was written");
  t.equal(back.stats.connects, 2, "the backend was connected twice");
  t.equal(g.dom0.activeGrantMappings(), 0, "nothing left mapped at shutdown");
});
