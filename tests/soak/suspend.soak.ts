// make soak, under real Xen: 10 `xl save` + `xl restore` cycles in a row of
// the suspend-probe guest as PV and as PVH, the PVH one then migrated
// 3 times (`xl migrate` to the same host), while dom0 pings it every
// 20 ms; then ping, UDP and the disk's crc32 are checked as in
// tests/xen/suspend.test.ts (which runs one of each in make test).
import { RigTest, udpOk, inMode } from "../xen/rig-test.ts";
import { probeImage, probeScenario, saveRestore, MIGRATE } from "../xen/suspend-scenario.ts";

const CYCLES = Number(process.env.SOAK_SUSPEND_CYCLES ?? 10);

const rig = new RigTest("tsxen-soak-suspend-", async (tmp) => {
  const files = await probeImage(tmp);
  let steps = "";
  for (let n = 1; n <= CYCLES; n++) steps += saveRestore(n);
  let migrations = steps;
  for (let n = CYCLES + 1; n <= CYCLES + 3; n++) migrations += MIGRATE(n);
  return [
    probeScenario("soak-suspend", "pv", files, steps, 120 + CYCLES * 60),
    probeScenario("soak-suspend-pvh", "pvh", files, migrations, 120 + (CYCLES + 3) * 90),
  ];
});

rig.modeTest(`${CYCLES} xl save + xl restore cycles in a row (PVH: then 3 migrations) with ping running: no ping lost outside the downtimes, UDP and the disk intact`, async (t, mode) => {
  const s = await rig.scenario(t, inMode("soak-suspend", mode));
  const resumes = mode === "pvh" ? CYCLES + 3 : CYCLES;
  const out = s?.checkOutput ?? [];
  const con = s?.console ?? [];
  for (const l of out.filter((x) => x.startsWith("dom0:") || x.startsWith("pinggap:"))) t.comment(l);
  t.equal(s?.checkRc, 0, "every dom0 step succeeded");
  const said = [...con, ...out.filter((l) => l.startsWith("dom0: guest said: ")).map((l) => l.slice(18))];
  t.equal(out.filter((l) => /^dom0: (save \d+: |xl migrate took)/.test(l)).length, resumes, `${resumes} steps done`);
  t.ok(con.filter((l) => l === "suspend-probe: resumed (new domain: true), clock forward: true").length >= CYCLES, "resumed each time, the clock going forward");
  t.ok(out.some((l) => /^pinggap: .*lost outside outages 0$/.test(l)), "no ping lost outside the downtimes");
  t.equal(udpOk(t, out, 30), 1, "UDP echoed intact afterwards");
  const guest = said.map((l) => /^suspend-probe: xvda: \d+ writes, crc32 ([0-9a-f]+), 0 mismatched sectors, \d+ requests sent again$/.exec(l)).find((m) => m);
  const dom0 = out.map((l) => /^dom0: disk crc32 ([0-9a-f]+)$/.exec(l)).find((m) => m);
  t.ok(guest && dom0 && guest[1] === dom0[1], "dom0's crc32 of the disk equals the guest's");
});
