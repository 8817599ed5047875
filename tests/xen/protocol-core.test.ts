// Under real Xen: examples/selftest exercises the protocol core (xenstore,
// watches fired by dom0, transactions, grants, timers) against Xen 4.17's
// real xenstored and toolstack; `xl shutdown` powers it off and `xl reboot`
// makes it boot again (on_reboot="restart"), both through control/shutdown.
// One scenario covers all of it (boot 1: selftest, xl reboot; boot 2:
// selftest, xl shutdown), as type = "pv" and as type = "pvh". The memory
// soak's string loop (short) runs as PV (MODE_INDEPENDENT in rig-test.ts).
import { RigTest, inMode, inModes, MODE_INDEPENDENT, xenProbeImage, probeExtra } from "./rig-test.ts";
import { soakReport, describeSoak, HEAP_MARGIN_KIB, LIVE_MARGIN_KIB } from "../soak-report.ts";


// dom0 side of the selftest, for `boots` boots: answer the ping, wait until
// the guest is ready, then ask it to reboot (all but the last boot) or to
// shut down.
function dom0Script(boots: number): string {
  return `phase=$1 name=$3 log=$4
[ "$phase" = running ] || exit 0
. /etc/tsxen/check-lib.sh
boot=1
while [ $boot -le ${boots} ]; do
  wait_console "selftest: waiting for data/ping" $boot 40 || exit 1
  xenstore-write /local/domain/$(xl domid "$name")/data/ping pong || exit 2
  wait_console "selftest: ready" $boot 40 || exit 1
  if [ $boot -lt ${boots} ]; then xl reboot "$name" || exit 3; else xl shutdown "$name" || exit 4; fi
  boot=$((boot+1))
done
`;
}

// The string loop of the memory issue, short (make soak runs 1,000,000):
// the stub runtime dies before 1,000 iterations in 16 MiB.
const SOAK_STRINGS = 5_000;

const rig = new RigTest("tsxen-xen-core-", async (tmp) => {
  const probe = await xenProbeImage(tmp); // examples/selftest and tests/apps/soak.ts
  return [
    ...inModes([{ name: "selftest-reboot", image: probe, xlExtra: [probeExtra("selftest")], check: dom0Script(2), onReboot: "restart", timeoutSec: 90 }]),
    ...inModes([{ name: "soak-strings", image: probe, memoryMB: 16, xlExtra: [probeExtra("soak", `strings ${SOAK_STRINGS}`)], timeoutSec: 120 }], MODE_INDEPENDENT),
  ];
});


const CHECKS = [
  /^selftest: ok read domid \d+ and name selftest/,
  /^selftest: ok read back data\/selftest\/a$/,
  /^selftest: ok directory data\/selftest = a,dir$/,
  /^selftest: ok get_perms: owned by us \(n\d+\)$/,
  /^selftest: ok read after rm: ENOENT$/,
  /^selftest: ok write to dom0's tree: EACCES$/,
  /^selftest: ok get_domain_path: \/local\/domain\/\d+$/,
  /^selftest: ok transaction committed$/,
  /^selftest: ok transaction wrote both keys$/,
  /^selftest: ok watch fired with data\/ping = pong \(\d+ events\)$/,
  /^selftest: ok grant table set up$/,
  /^selftest: ok granted a page to dom0 \(ref \d+\)$/,
  /^selftest: ok end_access$/,
  /^selftest: ok no grant left in use$/,
  /^selftest: ok 100 ms timer took \d+ ms by the pvclock$/,
];

rig.modeTest("the selftest passes every protocol check against Xen's xenstored", async (t, mode) => {
  const s = await rig.scenario(t, inMode("selftest-reboot", mode));
  const lines = s?.console ?? [];
  for (const re of CHECKS) t.ok(lines.some((l) => re.test(l)), `console: ${re.source}`);
  t.deepEqual(lines.filter((l) => l.includes("FAIL")), [], "no check failed");
  t.ok(lines.includes("selftest: 0 failures"));
  const timer = lines.map((l) => /100 ms timer took (\d+) ms/.exec(l)).find((m) => m);
  if (timer) t.comment(`100 ms timer measured ${timer[1]} ms by the pvclock under QEMU/TCG`);
});

rig.modeTest("xl shutdown: the guest acknowledges, closes down and powers off", async (t, mode) => {
  const s = await rig.scenario(t, inMode("selftest-reboot", mode));
  t.equal(s?.checkRc, 0, "xl shutdown succeeded (the guest acknowledged control/shutdown)");
  t.ok(s?.console.includes("selftest: shutdown requested: poweroff"), "the app's shutdown handler ran");
  t.equal(s?.reason, "poweroff");
});

rig.modeTest("xl reboot: the guest shuts down with reason reboot and boots again", async (t, mode) => {
  const s = await rig.scenario(t, inMode("selftest-reboot", mode));
  t.equal(s?.checkRc, 0, "xl reboot, then xl shutdown of the new domain, succeeded");
  t.ok(s?.console.includes("selftest: shutdown requested: reboot"), "the first boot saw a reboot request");
  t.equal(s?.restarts, 1, "xl restarted the domain once");
  t.equal(s?.console.filter((l) => l.startsWith("selftest: boot at")).length, 2, "two boots on the console");
  t.equal(s?.console.filter((l) => l === "selftest: 0 failures").length, 2, "both boots passed the selftest");
  t.equal(s?.reason, "poweroff", "the second boot powered off");
});

rig.modeTest("memory: a string built per iteration, 5,000 times in memory=16, leaves the heap flat (the collector, natively)", async (t, mode) => {
  const s = await rig.scenario(t, inMode("soak-strings", mode));
  t.equal(s?.reason, "poweroff");
  const r = soakReport((s?.console ?? []).join("\n"), "strings");
  t.ok(r.finished && r.points.length === 11, `ran to the end: ${describeSoak(r)}`);
  t.ok(r.heapGrowthKiB <= HEAP_MARGIN_KIB, `the heap grew ${r.heapGrowthKiB} KiB after warm-up (at most ${HEAP_MARGIN_KIB})`);
  t.ok(r.liveGrowthKiB <= LIVE_MARGIN_KIB, `what is live grew ${r.liveGrowthKiB} KiB after warm-up (at most ${LIVE_MARGIN_KIB})`);
}, MODE_INDEPENDENT);
