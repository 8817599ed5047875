// Under real Xen (Xen 4.17 + Linux dom0 in QEMU, tools/rig/harness.ts): the
// boot chain's examples, started with xl create, seen through xenconsoled,
// with the shutdown reason xl reports; named backtraces compared with the
// sim's; the guest statistics dom0 reads from xenstore (examples/stats). TSXEN_SKIP_XEN=1 skips (and reports
// the skip); otherwise a missing rig is a failure, never a pass.
import path from "node:path";
import { build } from "../../tools/build.ts";
import { runScenarios } from "../../tools/rig/harness.ts";
import { RigTest } from "./rig-test.ts";
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
D=/local/domain/$domid/data/tsxen
i=0; until grep -q "stats: ready" "$log"; do i=$((i+1)); [ $i -gt 300 ] && { echo "guest not ready"; exit 1; }; sleep 0.1; done
ping -c 3 -W 2 10.0.0.2 >/dev/null || echo "ping failed"
before=$(xenstore-read $D/seq)
xenstore-write $D/request 1
i=0; until [ "$(xenstore-read $D/seq)" != "$before" ]; do i=$((i+1)); [ $i -gt 50 ] && { echo "no publication after the request"; exit 1; }; sleep 0.1; done
echo "seq before the request: $before"
xenstore-ls -f $D
xl shutdown "$name"
`;

const rig = new RigTest("tsxen-xen-boot-", async (tmp) => {
  const hello = path.join(tmp, "hello.xen");
  const trap = path.join(tmp, "trap.xen");
  await build({ entry: "examples/hello/main.ts", output: hello, log: () => {} });
  await build({ entry: "examples/trap/main.ts", output: trap, log: () => {} });
  const grow = path.join(tmp, "grow.xen");
  await build({ entry: "tests/apps/grow.ts", output: grow, log: () => {} });
  const deep = path.join(tmp, "deep-trap.xen");
  await build({ entry: "tests/apps/deep-trap.ts", output: deep, log: () => {} });
  const stats = path.join(tmp, "stats.xen");
  await build({ entry: "examples/stats/main.ts", output: stats, log: () => {} });
  return runScenarios(
    [
      { name: "hello", image: hello, timeoutSec: 30 },
      { name: "trap-oob", image: trap, timeoutSec: 30 },
      { name: "trap-null", image: trap, xlExtra: ['extra = "null"'], timeoutSec: 30 },
      { name: "trap-hang", image: trap, xlExtra: ['extra = "hang"'], timeoutSec: 8 },
      { name: "grow", image: grow, memoryMB: 24, timeoutSec: 30 },
      {
        name: "stats", image: stats, timeoutSec: 60, check: STATS_CHECK,
        setup: "rm -f /tmp/stats.img && truncate -s 4M /tmp/stats.img\n",
        xlExtra: [
          "vif = [ 'mac=00:16:3e:00:00:12,ip=10.0.0.2' ]",
          "disk = [ 'format=raw,vdev=xvda,access=rw,script=block-tsxen,target=/tmp/stats.img' ]",
        ],
      },
      ...Object.keys(DEEP_FAULTS).map((mode) => ({
        name: `deep-${mode}`, image: deep, memoryMB: 16, xlExtra: [`extra = "${mode}"`], timeoutSec: 30,
      })),
    ],
    { log: path.join(tmp, "serial.log") },
  );
});

rig.test("hello prints through xenconsoled and powers off", async (t) => {
  const s = await rig.scenario(t, "hello");
  t.equal(s?.reason, "poweroff");
  t.equal(s?.console[0], "Hello from tsxen!");
  t.equal(s?.console[1], "RAM: 8192 pages (32 MiB)", "start_info: 32 MiB, as in the xl config");
  t.match(s?.console[2] ?? "", /^console event channel: \d+$/);
  t.match(s?.console[3] ?? "", /^xenstore event channel: \d+$/);
  const boot = /^booted in (\d+) us \(from the first instruction to main\)$/.exec(s?.console[4] ?? "");
  t.ok(boot && Number(boot[1]) > 0, `the guest timed its own boot by the pvclock: ${s?.console[4]}`);
});

rig.test("an out-of-bounds wasm access is reported and the domain crashes", async (t) => {
  const s = await rig.scenario(t, "trap-oob");
  t.equal(s?.reason, "crash");
  t.deepEqual(s?.console, [
    "trap example: about to fault (oob)",
    "trap: out of bounds memory access",
    "  at examples/trap/main.ts main",
    "  at tsxen-entry.ts tsxen_main",
  ]);
});

rig.test("a null access page-faults on the unmapped page 0 with vector, rip and address", async (t) => {
  const s = await rig.scenario(t, "trap-null");
  t.equal(s?.reason, "crash");
  t.equal(s?.console[0], "trap example: about to fault (null)");
  t.match(s?.console[1] ?? "", /^trap: page fault \(vector 14\) rip=0x[0-9a-f]{16} error=0x[0-9a-f]{16} addr=0x0{16} rsp=0x[0-9a-f]{16}$/);
  t.deepEqual(s?.console.slice(2), ["  at examples/trap/main.ts main", "  at tsxen-entry.ts tsxen_main"], "the functions running when the CPU faulted");
});

for (const [mode, header] of Object.entries(DEEP_FAULTS)) {
  rig.test(`a fault deep in a call chain (${mode}) shows the same named frames as in the sim`, async (t) => {
    const s = await rig.scenario(t, `deep-${mode}`);
    t.equal(s?.reason, "crash");
    const xen = backtraceAfter(s?.console ?? [], header);
    const { wasm, sourceMap } = await buildOf("tests/apps/deep-trap.ts");
    const sim = await runInSim(wasm, { cmdline: mode, sourceMap, memoryMB: 16 });
    const simFrames = backtraceAfter(sim.console.split("\n"), header);
    t.ok(xen && xen.length >= 3, `Xen printed "${header}…" and a backtrace: ${JSON.stringify(xen)}`);
    if (mode === "oom") {
      const line = (s?.console ?? []).find((l) => l.startsWith(header)) ?? "";
      t.match(line, /^trap: out of memory: \d+ bytes requested, heap \d+ KiB of \d+ KiB$/, `the request and the heap, as in the sim: ${line}`);
    }
    if (mode === "recurse") {
      // The depth differs: Xen stops at the native call depth limit, V8 much later.
      const fold = (f: string[] | null) => f?.map((l) => l.replace(/\(\d+ times\)$/, "(N times)"));
      t.deepEqual(fold(xen), fold(simFrames), "the same frames; only the recursion's depth differs");
      t.match(xen?.[0] ?? "", /recurse \(99\d times\)$/, "the native call depth limit (1000)");
    } else {
      t.deepEqual(xen, simFrames, "the same frames in both hosts");
    }
  });
}


rig.test("a hung guest is reported as a timeout, with its console kept", async (t) => {
  const s = await rig.scenario(t, "trap-hang");
  t.equal(s?.reason, "timeout");
  t.deepEqual(s?.console, ["trap example: about to fault (hang)"]);
});

rig.test("memory.grow succeeds up to the guest's RAM, returns -1 past it, and grown memory is zeroed", async (t) => {
  const s = await rig.scenario(t, "grow");
  t.equal(s?.reason, "poweroff");
  const m = /^grow: (\d+) MiB grown, memory (\d+) MiB, RAM (\d+) MiB, (\d+) pages not zeroed$/.exec(s?.console[0] ?? "");
  t.ok(m, s?.console[0]);
  if (!m) return;
  const [grown, total, ram, dirty] = m.slice(1).map(Number);
  t.equal(ram, 24, "the guest has the 24 MiB of the xl config");
  t.ok(total <= ram && total >= ram - 2, `wasm memory ends just below the top of RAM (${total} of ${ram} MiB)`);
  t.ok(grown > 0, "it grew");
  t.equal(dirty, 0, "every grown page read as zero");
});

rig.test("the guest's statistics appear in dom0's xenstore (data/tsxen), fresh on request", async (t) => {
  const s = await rig.scenario(t, "stats");
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
});
