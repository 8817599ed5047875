// Under real Xen (Xen 4.17 + Linux dom0 in QEMU, tools/rig/harness.ts): the
// boot chain's examples, started with xl create, seen through xenconsoled,
// with the shutdown reason xl reports; named backtraces compared with the
// sim's; the guest statistics dom0 reads from xenstore (examples/stats).
// Booted as type = "pv" and as type = "pvh" (the same image), except what
// the mode does not change (MODE_INDEPENDENT in rig-test.ts): the software
// traps deep in a call chain, the hung guest and the statistics run as PV.
// TSXEN_SKIP_XEN=1 skips (and reports the skip); otherwise a missing rig is
// a failure, never a pass.
import path from "node:path";
import { RigTest, buildImage, inMode, inModes, MODE_INDEPENDENT, XEN_PROBE, xenProbeImage, probeExtra } from "./rig-test.ts";
import { runInSim } from "../../sim/host.ts";
import { backtraceAfter, buildOf } from "../sim/helpers.ts";
import { formatStats, parseXenstoreLs } from "../../tools/stats.ts";

// Faults deep in a call chain (tests/apps/deep-trap.ts): the trap or panic
// line each prints, in both hosts.
const DEEP_FAULTS: Record<string, string> = {
  oob: "trap: out of bounds memory access",
  abort: "panic: header too long at tests/apps/deep-trap.ts:",
  oom: "trap: out of memory",
  recurse: "trap: call stack exhausted",
};

// dom0 side of the stats scenario: once the guest is ready, ping it, ask
// for a publication, print data/tsxen with xenstore-ls -f, shut it down.
const STATS_CHECK = `phase=$1 domid=$2 name=$3 log=$4
[ "$phase" = running ] || exit 0
. /etc/tsxen/check-lib.sh
D=/local/domain/$domid/data/tsxen
wait_console "stats: ready" || exit 1
ping -c 3 -i 0.2 -W 2 10.0.0.2 >/dev/null || echo "ping failed"
before=$(xenstore-read $D/seq)
xenstore-write $D/request 1
i=0; until [ "$(xenstore-read $D/seq)" != "$before" ]; do i=$((i+1)); [ $i -gt 20 ] && { echo "no publication after the request"; exit 1; }; sleep 0.25; done
echo "seq before the request: $before"
xenstore-ls -f $D
xl shutdown "$name"
`;

const rig = new RigTest("tsxen-xen-boot-", async (tmp) => {
  const [hello, trap, probe] = await Promise.all([
    buildImage("examples/hello/main.ts", path.join(tmp, "hello.xen")),
    buildImage("examples/trap/main.ts", path.join(tmp, "trap.xen")),
    xenProbeImage(tmp), // tests/apps/boot-info.ts, deep-trap.ts and examples/stats
  ]);
  return [
    ...inModes([
      { name: "hello", image: hello, timeoutSec: 30 },
      { name: "boot-info", image: probe, memoryMB: 24, xlExtra: [probeExtra("boot-info", "boot info please")], timeoutSec: 30 },
      { name: "trap-oob", image: trap, timeoutSec: 30 },
      { name: "trap-null", image: trap, xlExtra: ['extra = "null"'], timeoutSec: 30 },
    ]),
    ...inModes([
      { name: "trap-hang", image: trap, xlExtra: ['extra = "hang"'], timeoutSec: 2 },
      {
        name: "stats", image: probe, timeoutSec: 60, check: STATS_CHECK,
        setup: "rm -f /tmp/stats.img && truncate -s 4M /tmp/stats.img\n",
        xlExtra: [
          "vif = [ 'mac=00:16:3e:00:00:12,ip=10.0.0.2' ]",
          "disk = [ 'format=raw,vdev=xvda,access=rw,script=block-tsxen,target=/tmp/stats.img' ]",
          probeExtra("stats"),
        ],
      },
      ...Object.keys(DEEP_FAULTS).map((fault) => ({
        name: `deep-${fault}`, image: probe, memoryMB: 16, xlExtra: [probeExtra("deep-trap", fault)], timeoutSec: 30,
      })),
    ], MODE_INDEPENDENT),
    // Too little RAM for a tsxen guest: the PVH boot code says so before
    // the console ring is up, on Xen's debug port (Xen's own console).
    { name: "tiny-pvh", type: "pvh", image: hello, memoryMB: 4, timeoutSec: 20 },
  ];
});

rig.modeTest("hello prints through xenconsoled and powers off", async (t, mode) => {
  const s = await rig.scenario(t, inMode("hello", mode));
  t.equal(s?.reason, "poweroff");
  t.equal(s?.console[0], "Hello from tsxen!");
  t.equal(s?.console[1], "RAM: 8192 pages (32 MiB)", "32 MiB of RAM, as in the xl config");
  t.match(s?.console[2] ?? "", /^console event channel: \d+$/);
  t.match(s?.console[3] ?? "", /^xenstore event channel: \d+$/);
  const boot = /^booted in (\d+) us \(from the first instruction to main\)$/.exec(s?.console[4] ?? "");
  t.ok(boot && Number(boot[1]) > 0, `the guest timed its own boot by the pvclock: ${s?.console[4]}`);
});

rig.modeTest("startInfo() describes the boot: mode, memory map, rings, command line", async (t, mode) => {
  const s = await rig.scenario(t, inMode("boot-info", mode));
  const lines = s?.console ?? [];
  for (const l of lines) t.comment(l);
  t.equal(s?.reason, "poweroff");
  t.ok(lines.includes(`boot-info: mode ${mode}, magic ${mode === "pv" ? "xen-3.0-x86_64" : "336ec578"}, 6144 pages, flags 0`), "mode, magic, 24 MiB of RAM");
  t.ok(lines.includes("boot-info: cmdline 'probe=boot-info boot info please'"), "the command line from xl's extra=");
  if (mode === "pv") {
    t.ok(lines.includes("boot-info: region 0x0 size 0x1800000 type 1"), "PV: one RAM region of 24 MiB");
  } else {
    t.ok(lines.includes("boot-info: region 0x0 size 0x1800000 type 1"), "PVH: RAM from 0 to 24 MiB in Xen's memory map");
    t.ok(lines.some((l) => /^boot-info: region 0x[0-9a-f]+ size 0x[0-9a-f]+ type 2$/.test(l)), "PVH: and reserved regions (special pages, ACPI)");
    t.ok(lines.some((l) => /^boot-info: shared_info at 0x[0-9a-f]+, p2m 0x0$/.test(l)), "PVH: no p2m list");
    const page = /^boot-info: page (0x[0-9a-f]+) is frame (0x[0-9a-f]+) in a grant, grants in use 0$/.exec(lines.find((l) => l.includes(" in a grant")) ?? "");
    t.ok(page && BigInt(page[1]) >> 12n === BigInt(page[2]), "PVH: grants name a page by its guest frame (address >> 12)");
  }
  const ring = /^boot-info: console frame (0x[0-9a-f]+) at (0x[0-9a-f]+) port \d+$/.exec(lines.find((l) => l.includes("console frame")) ?? "");
  t.ok(ring && BigInt(ring[2]) < 4n << 20n, "the console ring is seen below the wasm memory base");
});

rig.modeTest("an out-of-bounds wasm access is reported and the domain crashes", async (t, mode) => {
  const s = await rig.scenario(t, inMode("trap-oob", mode));
  t.equal(s?.reason, "crash");
  t.deepEqual(s?.console, [
    "trap example: about to fault (oob)",
    "trap: out of bounds memory access",
    "  at examples/trap/main.ts main",
    "  at tsxen-entry.ts tsxen_main",
  ]);
});

rig.modeTest("a null access page-faults on the unmapped page 0 with vector, rip and address", async (t, mode) => {
  const s = await rig.scenario(t, inMode("trap-null", mode));
  t.equal(s?.reason, "crash");
  t.equal(s?.console[0], "trap example: about to fault (null)");
  t.match(s?.console[1] ?? "", /^trap: page fault \(vector 14\) rip=0x[0-9a-f]{16} error=0x[0-9a-f]{16} addr=0x0{16} rsp=0x[0-9a-f]{16}$/);
  t.deepEqual(s?.console.slice(2), ["  at examples/trap/main.ts main", "  at tsxen-entry.ts tsxen_main"], "the functions running when the CPU faulted");
});

for (const [fault, header] of Object.entries(DEEP_FAULTS)) {
  rig.modeTest(`a fault deep in a call chain (${fault}) shows the same named frames as in the sim`, async (t, mode) => {
    const s = await rig.scenario(t, inMode(`deep-${fault}`, mode));
    t.equal(s?.reason, "crash");
    const xen = backtraceAfter(s?.console ?? [], header);
    const { wasm, sourceMap } = await buildOf(XEN_PROBE);
    const sim = await runInSim(wasm, { cmdline: `probe=deep-trap ${fault}`, sourceMap, memoryMB: 16, mode });
    const simFrames = backtraceAfter(sim.console.split("\n"), header);
    t.ok(xen && xen.length >= 3, `Xen printed "${header}…" and a backtrace: ${JSON.stringify(xen)}`);
    if (fault === "oom") {
      const line = (s?.console ?? []).find((l) => l.startsWith(header)) ?? "";
      t.match(line, /^trap: out of memory: \d+ bytes requested, heap \d+ KiB of \d+ KiB$/, `the request and the heap, as in the sim: ${line}`);
    }
    if (fault === "recurse") {
      // The depth differs: Xen stops at the native call depth limit, V8 much later.
      const fold = (f: string[] | null) => f?.map((l) => l.replace(/\(\d+ times\)$/, "(N times)"));
      t.deepEqual(fold(xen), fold(simFrames), "the same frames; only the recursion's depth differs");
      t.match(xen?.[0] ?? "", /recurse \(99\d times\)$/, "the native call depth limit (1000)");
    } else {
      t.deepEqual(xen, simFrames, "the same frames in both hosts");
    }
  }, MODE_INDEPENDENT);
}

rig.modeTest("a hung guest is reported as a timeout, with its console kept", async (t, mode) => {
  const s = await rig.scenario(t, inMode("trap-hang", mode));
  t.equal(s?.reason, "timeout");
  t.deepEqual(s?.console, ["trap example: about to fault (hang)"]);
}, MODE_INDEPENDENT);

rig.modeTest("memory.grow succeeds up to the guest's RAM, returns -1 past it, and grown memory is zeroed", async (t, mode) => {
  const s = await rig.scenario(t, inMode("boot-info", mode));
  t.equal(s?.reason, "poweroff");
  const line = s?.console.find((l) => l.startsWith("grow: ")) ?? "";
  const m = /^grow: (\d+) MiB grown, memory (\d+) MiB, RAM (\d+) MiB, (\d+) pages not zeroed$/.exec(line);
  t.ok(m, line);
  if (!m) return;
  const [grown, total, ram, dirty] = m.slice(1).map(Number);
  t.equal(ram, 24, "the guest has the 24 MiB of the xl config");
  t.ok(total <= ram && total >= ram - 2, `wasm memory ends just below the top of RAM (${total} of ${ram} MiB)`);
  t.ok(grown > 0, "it grew");
  t.equal(dirty, 0, "every grown page read as zero");
});

rig.modeTest("the guest's statistics appear in dom0's xenstore (data/tsxen), fresh on request", async (t, mode) => {
  const s = await rig.scenario(t, inMode("stats", mode));
  t.equal(s?.reason, "poweroff", "xl shutdown after the check");
  t.ok(s?.console.includes("stats: disk 51712: 1 MiB written and read back"), "the disk did I/O");
  t.equal(s?.checkRc, 0, "the guest published after dom0's request");
  const out = s?.checkOutput ?? [];
  for (const l of out) t.comment(l);
  const entries = new Map(parseXenstoreLs(out.join("\n")).map(([p, v]) => [p.replace(/^\/local\/domain\/\d+\/data\/tsxen\//, ""), v]));
  const before = Number(/^seq before the request: (\d+)$/.exec(out.find((l) => l.startsWith("seq before")) ?? "")?.[1]);
  t.equal(Number(entries.get("seq")), before + 1, "one publication for the request");
  t.equal(entries.get("memory/ram-bytes"), String(32 << 20));
  t.ok(Number(entries.get("uptime-ms")) > 0, `uptime-ms ${entries.get("uptime-ms")}`);
  t.ok(Number(entries.get("vif/0/rx-frames")) >= 3, `vif/0/rx-frames ${entries.get("vif/0/rx-frames")}: dom0's pings (and ARP)`);
  t.ok(Number(entries.get("vif/0/tx-frames")) >= 3, `vif/0/tx-frames ${entries.get("vif/0/tx-frames")}: the replies`);
  t.ok(Number(entries.get("vif/0/rx-bytes")) >= 3 * 98, `vif/0/rx-bytes ${entries.get("vif/0/rx-bytes")}`);
  t.equal(entries.get("vif/0/broken"), "0");
  t.equal(entries.get("vbd/51712/write-bytes"), String(1 << 20));
  t.equal(entries.get("vbd/51712/read-bytes"), String(1 << 20));
  t.equal(entries.get("vbd/51712/errors"), "0");
  const text = formatStats({ domid: "1", name: "stats", fresh: true, entries: [...entries] });
  t.match(text, /\nvbd\/51712\n(  .*\n)*  write-bytes +1048576\n/, "tsxen stats formats dom0's xenstore-ls output");
}, MODE_INDEPENDENT);

rig.test("[pvh] too little RAM: the early console reports it on Xen's debug port, before the console ring is up", async (t) => {
  const s = await rig.scenario(t, "tiny-pvh");
  t.equal(s?.reason, "crash");
  const r = await rig.result();
  const line = r.serialLog.split("\n").find((l) => /\(d\d+\) panic: /.test(l));
  t.match(line ?? "", /\(d\d+\) panic: too little RAM below the wasm memory base$/, `Xen's console has the guest's panic: ${line}`);
});
