// Under real Xen: save, restore and live migration of a tsxen guest
// (tests/apps/suspend-probe.ts: UDP echo and ping on its vif, writes
// running over its disk) while dom0 pings it every 20 ms
// (tests/xen/tools/pinggap.c measures the downtime: the longest time
// between two replies).
//  - PV: `xl save` + `xl restore`, then `xl save -c` (a checkpoint: the
//    guest carries on in the same domain).
//  - PVH: `xl migrate` to the same host (`-s ""`: no ssh, the receiving
//    `xl migrate-receive` runs locally), with an open TCP connection from
//    dom0's Linux as well that carries data before and after.
//    PV live migration cannot work on this rig: Debian's Xen 4.17 has no
//    shadow paging, which PV log-dirty mode needs ("Failed to enable
//    logdirty"), so it is not tried.
// Afterwards ping and UDP must be intact and dom0's crc32 of the disk must
// equal the guest's. Each step takes several seconds on this emulated rig
// (xl save + xl restore of the 8 MiB guest: about 3 s; xl migrate about 8 s), so make test runs one of each; the
// campaigns (10 save/restore cycles as PV, save/restore and migration as
// PVH) are in tests/soak/suspend.soak.ts (make soak).
import type test from "tape";
import { RigTest, udpOk } from "./rig-test.ts";
import { probeImage, probeScenario, saveRestore, withTcp, CHECKPOINT, MIGRATE } from "./suspend-scenario.ts";

// The migration also carries an open TCP connection from dom0's Linux:
// half of 2 MiB before, half after, on the same connection (withTcp). Each
// half is 4 times the guest's socket buffer; the connection sits idle,
// held open, while the guest migrates.
const TCP_BYTES = 2 * 1024 * 1024;

const rig = new RigTest("tsxen-xen-suspend-", async (tmp) => {
  const files = await probeImage(tmp);
  return [
    probeScenario("suspend", "pv", files, saveRestore(1) + CHECKPOINT, 120),
    probeScenario("migrate-pvh", "pvh", files, withTcp(MIGRATE(1), TCP_BYTES), 150),
  ];
});

type Result = Awaited<ReturnType<typeof rig.scenario>>;

function common(t: test.Test, s: Result, restores: number): void {
  const out = s?.checkOutput ?? [];
  const con = s?.console ?? [];
  for (const l of out.filter((x) => x.startsWith("dom0:") || x.startsWith("pinggap:") || /packet loss/.test(x))) t.comment(l);
  t.equal(s?.checkRc, 0, "every dom0 step succeeded");
  const gap = out.map((l) => /^pinggap: sent (\d+), replies (\d+), lost (\d+), outages (\d+), longest gap (\d+) ms, lost outside outages (\d+)$/.exec(l)).find((m) => m);
  t.ok(gap, "dom0 pinged throughout");
  t.equal(gap?.[6], "0", "no ping lost outside the save/restore downtimes");
  t.ok(out.includes("3 packets transmitted, 3 packets received, 0% packet loss"), "ping answered afterwards");
  t.equal(udpOk(t, out, 30), 1, "UDP echoed intact afterwards");
  const all = [...con, ...out.filter((l) => l.startsWith("dom0: guest said: ")).map((l) => l.slice("dom0: guest said: ".length))];
  t.ok(all.filter((l) => /^suspend-probe: resumed \(new domain: true\), clock forward: true$/.test(l)).length >= Math.min(restores, 1), "resumed in a new domain, its clock going forward");
  const guest = all.map((l) => /^suspend-probe: xvda: (\d+) writes, crc32 ([0-9a-f]+), (\d+) mismatched sectors, (\d+) requests sent again$/.exec(l)).find((m) => m);
  const dom0 = out.map((l) => /^dom0: disk crc32 ([0-9a-f]+)$/.exec(l)).find((m) => m);
  t.ok(guest, "the guest wrote and read back its disk across the suspends");
  t.equal(guest?.[3], "0", "no mismatched sector");
  t.equal(dom0?.[1], guest?.[2], "dom0's crc32 of the disk equals the guest's");
  t.equal(s?.reason, "poweroff", "xl shutdown then powered it off");
}

rig.modeTest("xl save + xl restore with ping, UDP and disk writes running, then xl save -c: the guest carries on each time", async (t) => {
  const s = await rig.scenario(t, "suspend");
  common(t, s, 1);
  const con = s?.console ?? [];
  t.ok(con.includes("suspend-probe: resumed (new domain: false), clock forward: true"), "after xl save -c it carried on in the same domain");
}, ["pv"]);

rig.modeTest("xl migrate to the same host with ping, UDP, disk writes and an open TCP connection running", async (t) => {
  const s = await rig.scenario(t, "migrate-pvh");
  common(t, s, 1);
  const out = s?.checkOutput ?? [];
  t.notOk(out.includes("dom0: xl migrate failed"), "xl migrate succeeded");
  for (const l of out.filter((x) => x.startsWith("tcpcheck:"))) t.comment(l);
  t.ok(out.some((l) => /^tcpcheck: paused after \d+ bytes$/.test(l)), "dom0 sent half of 2 MiB over TCP and held the connection open");
  const sent = out.map((l) => /^tcpcheck: sent (\d+) bytes, crc32 ([0-9a-f]{8})/.exec(l)).find((m) => m);
  const got = out.map((l) => /^dom0: guest said: suspend-probe: sink \d+: (\d+) bytes, crc ([0-9a-f]{8})$/.exec(l)).find((m) => m);
  t.equal(sent?.[1], String(TCP_BYTES), "and the rest after the migration");
  t.deepEqual(got?.slice(1, 3), [String(TCP_BYTES), sent?.[2]], "the guest's sink got every byte on that one connection, the same CRC-32");
}, ["pvh"]);
