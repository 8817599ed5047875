// Save, restore and migration against the sim's toolstack
// (runtime/suspend.ts, sim/host.ts restoreInNewDomain): the guest answers
// control/shutdown = "suspend", suspends, and goes on in a new domain —
// other event-channel ports, an empty grant table, every port masked, new
// backends (the old ones destroyed with whatever they had mapped), a host
// whose system time is far behind — or carries on after a cancelled
// suspend (xl save -c). Traffic and disk writes run across it.
import test from "tape";
import { SimGuest } from "../../sim/host.ts";
import { addVif, type Vif } from "../../sim/netback.ts";
import { SimBlkback } from "../../sim/blkback.ts";
import { NetPeer, type Endpoint, type ParsedFrame } from "../../sim/netswitch.ts";
import * as XB from "../../runtime/abi/xenbus.ts";
import { guestModule, willBuild } from "./helpers.ts";
import { MS, requestShutdown, noTrap, converse, pattern, udpExchange, pingExchange } from "./net-rig.ts";
import type { BootMode } from "../../sim/layout.ts";

// The apps these tests build, compiled ahead of time (tests/sim/helpers.ts).
willBuild("tests/apps/suspend-probe.ts");

const PROBE = "tests/apps/suspend-probe.ts";
const GUEST: Endpoint = { mac: "00:16:3e:5a:00:00", ip: "10.0.0.2" };
const PEER: Endpoint = { mac: "00:16:3e:ee:00:00", ip: "10.0.0.1" };
const CONTROL = "/local/domain/1/control/shutdown";

// A ping and two datagrams through `peer`; `done` gets what went wrong.
function talk(peer: NetPeer, seq: number, done: (bad: string[]) => void): void {
  const bad: string[] = [];
  converse(peer, [
    () => pingExchange(peer, GUEST, 0x51, seq, pattern(56, seq), bad),
    () => udpExchange(peer, GUEST, 32000 + seq, pattern(200, seq), bad),
    () => udpExchange(peer, GUEST, 33000 + seq, pattern(1400, seq), bad),
  ], 50n * MS, () => done(bad));
}

function whenUp(g: SimGuest, vif: () => Vif, cb: () => void): void {
  const poll = () => (vif().state === XB.XenbusStateConnected ? g.dom0.after(MS, cb) : g.dom0.after(MS, poll));
  g.dom0.after(MS, poll);
}

// The gratuitous ARP a guest sends to announce GUEST.ip.
const isAnnounce = (f: ParsedFrame) => f.arp !== undefined && f.arp.senderIp === GUEST.ip && f.arp.targetIp === GUEST.ip && f.src === GUEST.mac;

interface Run {
  g: SimGuest;
  vif: Vif;
  peer: NetPeer;
  disk: SimBlkback | null;
  diskData: Uint8Array;
}

// The guest with one vif (and a disk if `diskBytes`), devices rebuilt in
// every new domain.
async function probe(mode: BootMode, answer: "restore" | "cancel", diskBytes = 0, cmdline = ""): Promise<Run & { acks: string[] }> {
  const acks: string[] = [];
  const app = await guestModule(PROBE, cmdline);
  const g = new SimGuest({
    mode, cmdline: app.cmdline,
    onSuspend: (guest) => { acks.push(guest.xenstore.read(CONTROL)); return answer; },
    restoreBehindNs: 3_600_000_000_000n, // the new host booted an hour after this one
  });
  await g.start(app.wasm);
  const data = diskBytes ? new Uint8Array(diskBytes) : null;
  const r = { g, acks, diskData: data ?? new Uint8Array(0) } as Run & { acks: string[] };
  const devices = () => {
    r.vif = addVif(g, { devid: 0, ip: GUEST.ip, mac: GUEST.mac });
    r.peer = new NetPeer(g.dom0, r.vif, PEER);
    r.disk = data ? new SimBlkback(g, { disk: data, devid: 51712, keys: { dev: "xvda" } }) : null;
  };
  devices();
  g.onNewDomain(() => { r.vif.destroy(); r.disk?.destroy(); }, devices);
  return r;
}

for (const mode of ["pv", "pvh"] as BootMode[]) {
  test(`suspend (${mode}): restored in a new domain, the guest reconnects its vif, announces itself (gratuitous ARP) and echoes as before; its clock goes on`, async (t) => {
    const r = await probe(mode, "restore");
    const g = r.g;
    const before: string[][] = [], after: string[][] = [];
    let announced = false;
    let oldPorts: number[] = [], newPorts: number[] = [];
    whenUp(g, () => r.vif, () => talk(r.peer, 1, (bad) => {
      before.push(bad);
      oldPorts = g.hv.evtchn.openPorts(1);
      g.xenstore.write(CONTROL, "suspend");
      g.dom0.after(5n * MS, () => whenUp(g, () => r.vif, () => {
        announced = r.peer.received.some(isAnnounce);
        newPorts = g.hv.evtchn.openPorts(1);
        talk(r.peer, 2, (bad2) => {
          after.push(bad2);
          talk(r.peer, 3, (bad3) => { after.push(bad3); requestShutdown(g); });
        });
      }));
    }));
    const res = await g.run();
    noTrap(t, res);
    t.equal(res.reason, "poweroff", "shut down when asked, after the restore");
    t.deepEqual(r.acks, [""], "the guest acknowledged the request (control/shutdown cleared) before suspending");
    t.equal(g.suspends, 1, "it suspended once");
    t.equal(g.generation, 1, "and went on in a new domain");
    t.deepEqual(before, [[]], "ping and UDP before");
    t.ok(announced, "a gratuitous ARP on the new vif once connected");
    t.deepEqual(after, [[], []], "ping and UDP after, with the new backend");
    t.ok(oldPorts.includes(1) && oldPorts.includes(2) && oldPorts.length >= 3, `before: xenstore on 1, console on 2, the vif's port(s) (${oldPorts})`);
    t.ok(newPorts.includes(9) && newPorts.includes(10) && newPorts.length >= 3, `after: xenstore on 9, console on 10 (the toolstack's new ports), the vif's port(s) bound anew (${newPorts})`);
    t.match(res.console, /suspend-probe: suspending \(1\)/, "the app's onSuspend ran");
    t.match(res.console, /suspend-probe: resumed \(new domain: true\), clock forward: true/, "onResume ran, and monotonicNs did not go back although the new host's system time is an hour behind");
    t.match(res.console, /suspend-probe: vif 0 disconnected: suspended\n(.*\n)*netfront 0: reconnected/, "netfront told the app, then connected to the new backend");
    t.end();
  });
}

test("suspend: a cancelled suspend (xl save -c) leaves the guest in the same domain, its devices connected", async (t) => {
  const r = await probe("pv", "cancel");
  const g = r.g;
  const after: string[][] = [];
  let connects = -1;
  whenUp(g, () => r.vif, () => talk(r.peer, 1, () => {
    g.xenstore.write(CONTROL, "suspend");
    g.dom0.after(5n * MS, () => talk(r.peer, 2, (bad) => {
      after.push(bad);
      connects = r.vif.state;
      requestShutdown(g);
    }));
  }));
  const res = await g.run();
  noTrap(t, res);
  t.equal(res.reason, "poweroff");
  t.equal(g.suspends, 1, "it suspended");
  t.equal(g.generation, 0, "in the same domain");
  t.deepEqual(after, [[]], "echoing right after, on the same vif");
  t.equal(connects, XB.XenbusStateConnected, "the backend stayed connected");
  t.match(res.console, /suspend cancelled: carrying on/);
  t.match(res.console, /suspend-probe: resumed \(new domain: false\)/);
  t.end();
});

function crc32(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const b of data) {
    crc ^= b;
    for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
  }
  return (crc ^ 0xffffffff) >>> 0;
}

for (const mode of ["pv", "pvh"] as BootMode[]) {
  test(`suspend (${mode}): disk writes running across two restores all land: the disk's crc32 is the guest's, no mismatched sector`, async (t) => {
    const size = 4 << 20;
    const r = await probe(mode, "restore", size, "chunk_kb=32 gap_ms=0"); // back to back: a write is in flight whenever the guest looks at xenstore
    const g = r.g;
    let restores = 0;
    const writtenAtSuspend: number[] = [];
    const poll = () => {
      const written = r.disk!.stats.bytesWritten;
      // Suspend at a quarter and at half of the disk (in flight: the writes never stop).
      if ((restores === 0 && written > size / 4) || (restores === 1 && written > size / 2)) {
        writtenAtSuspend.push(written);
        restores++;
        g.xenstore.write(CONTROL, "suspend");
        g.dom0.after(20n * MS, poll);
        return;
      }
      if (/suspend-probe: xvda: (\d+ writes|FAIL)/.test(g.consoleText())) return requestShutdown(g);
      g.dom0.after(MS, poll);
    };
    g.dom0.after(MS, poll);
    const res = await g.run();
    noTrap(t, res);
    t.equal(g.generation, 2, "two restores");
    t.equal(writtenAtSuspend.length, 2, "both while the disk was being written");
    const line = /suspend-probe: xvda: (\d+) writes, crc32 ([0-9a-f]+), (\d+) mismatched sectors, (\d+) requests sent again/.exec(res.console);
    t.ok(line, "the guest verified the disk");
    t.equal(line?.[3], "0", "no mismatched sector read back");
    t.ok(Number(line?.[4]) > 0, `requests in flight at a suspend were sent again to the new backend (${line?.[4]})`);
    t.equal(line?.[2], crc32(r.diskData).toString(16).padStart(8, "0"), "the disk's crc32 equals the guest's");
    t.doesNotMatch(res.console, /FAIL/);
    t.end();
  });
}
