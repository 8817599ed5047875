// make soak, under real Xen (long; make test runs short versions): the
// string loop 1,000,000 times in memory=16, and udp-echo in memory=16 under
// 1,000,000 datagrams from 100,000 spoofed source addresses
// (tests/xen/tools/udpflood.c), still answering dom0 afterwards, its heap
// no larger than a baseline run's without the flood. As PV guests (make
// test runs the short string loop in both modes).
import path from "node:path";
import { RigTest, buildImage, dom0Tool } from "../xen/rig-test.ts";
import { soakReport, describeSoak, HEAP_MARGIN_KIB, LIVE_MARGIN_KIB } from "../soak-report.ts";

const STRINGS = Number(process.env.SOAK_STRINGS ?? 1_000_000);
const DATAGRAMS = Number(process.env.SOAK_DATAGRAMS ?? 1_000_000);
const SOURCES = Number(process.env.SOAK_SOURCES ?? 100_000);

// dom0: ping, the flood (none for the baseline), 200 echoes checked, ping, shut down.
const flood = (datagrams: number): string => `phase=$1 name=$3 log=$4
[ "$phase" = running ] || exit 0
i=0; until grep -q "udp-echo: ready" "$log"; do i=$((i+1)); [ $i -gt 300 ] && { echo "guest not ready"; exit 1; }; sleep 0.1; done
chmod +x ./udpflood ./udpcheck
rc=0
ping -c 3 -i 0.2 -W 2 10.0.0.2 > /dev/null || rc=1
${datagrams > 0 ? `./udpflood xenbr0 00:16:3e:00:00:02 10.0.0.2 7 ${datagrams} ${SOURCES} 32 || rc=1` : ""}
./udpcheck 10.0.0.2 7 200 1472 || rc=1
ping -c 3 -i 0.2 -W 2 10.0.0.2 > /dev/null || { echo "no ping after the flood"; rc=1; }
xl shutdown -w "$name"
exit $rc
`;

const rig = new RigTest("tsxen-soak-", async (tmp) => {
  const soak = path.join(tmp, "soak.xen"), echo = path.join(tmp, "udp-echo.xen");
  await buildImage("tests/apps/soak.ts", soak);
  await buildImage("examples/udp-echo/main.ts", echo);
  const udpflood = dom0Tool("udpflood", tmp), udpcheck = dom0Tool("udpcheck", tmp);
  return [
    { name: "soak-strings", image: soak, memoryMB: 16, xlExtra: [`extra = "strings ${STRINGS}"`], timeoutSec: 3600 },
    ...[["soak-baseline", 0], ["soak-flood", DATAGRAMS]].map(([name, n]) => ({
      name: name as string, image: echo, memoryMB: 16, files: { udpflood, udpcheck }, check: flood(n as number), timeoutSec: 3600,
      xlExtra: ["vif = [ 'mac=00:16:3e:00:00:02,ip=10.0.0.2' ]"],
    })),
  ];
});

rig.test(`soak: the string loop ${STRINGS} times in memory=16`, async (t) => {
  const s = await rig.scenario(t, "soak-strings");
  t.equal(s?.reason, "poweroff");
  const r = soakReport((s?.console ?? []).join("\n"), "strings");
  t.ok(r.finished, `ran to the end: ${describeSoak(r)}`);
  t.ok(r.heapGrowthKiB <= HEAP_MARGIN_KIB, `the heap grew ${r.heapGrowthKiB} KiB after warm-up (at most ${HEAP_MARGIN_KIB})`);
  t.ok(r.liveGrowthKiB <= LIVE_MARGIN_KIB, `what is live grew ${r.liveGrowthKiB} KiB after warm-up (at most ${LIVE_MARGIN_KIB})`);
});

const heapAtShutdown = (lines: string[]) => (lines.map((l) => /^udp-echo: heap (\d+) KiB, in use (\d+) KiB/.exec(l)).find((m) => m) ?? null);

rig.test(`soak: udp-echo in memory=16 under ${DATAGRAMS} datagrams from ${SOURCES} spoofed sources`, async (t) => {
  const base = await rig.scenario(t, "soak-baseline");
  const s = await rig.scenario(t, "soak-flood");
  const out = s?.checkOutput ?? [];
  for (const l of out) t.comment(l);
  t.equal(base?.checkRc, 0, "baseline (no flood): dom0's 200 datagrams and pings answered");
  t.equal(s?.checkRc, 0, "the flood was sent, and dom0's 200 datagrams and pings were answered afterwards");
  t.equal(s?.reason, "poweroff");
  const before = heapAtShutdown(base?.console ?? []), after = heapAtShutdown(s?.console ?? []);
  t.ok(before && after, `the guest's heap at shutdown without the flood: ${before?.[0]}; with it: ${after?.[0]}`);
  // Per-sender state of even 56 bytes would be 5.6 MB for 100,000 senders.
  if (before && after) t.ok(Number(after[1]) - Number(before[1]) <= HEAP_MARGIN_KIB, `the allocator's pool: ${before[1]} KiB without, ${after[1]} KiB after the flood (at most ${HEAP_MARGIN_KIB} KiB more)`);
});
