// Soak runs in the sim, short (the long ones are `make soak`): a string
// built per iteration, xenstore write/read/rm cycles and timer re-arms
// leave the heap flat with the default (collecting) runtime in 16 MiB; the
// same string loop with the stub runtime runs out of memory, reported as
// such; a flood of watch events leaves the heap flat too.
// tests/apps/soak.ts is the app, tests/soak-report.ts the judge.
import test from "tape";
import { runInSim, SimGuest } from "../../sim/host.ts";
import { soakReport, describeSoak, HEAP_MARGIN_KIB, LIVE_MARGIN_KIB } from "../soak-report.ts";
import { wasmOf, willBuild } from "./helpers.ts";

// The apps these tests build, compiled ahead of time (tests/sim/helpers.ts).
willBuild("tests/apps/memory-probe.ts");
willBuild("tests/apps/watch-flood.ts");
willBuild("tests/apps/soak.ts");
willBuild("tests/apps/soak.ts", "stub");

const APP = "tests/apps/soak.ts";
const MS = 1_000_000n;
// make soak multiplies the counts (TSXEN_SOAK_SCALE=50: 1,000,000 strings,
// 100,000 xenstore cycles, 1,000,000 timer re-arms, 1,000,000 watch writes).
const SCALE = Number(process.env.TSXEN_SOAK_SCALE ?? 1);
const RUNS: Array<[string, number]> = [["strings", 20_000 * SCALE], ["xenstore", 2_000 * SCALE], ["timers", 20_000 * SCALE]];

for (const [what, n] of RUNS) {
  test(`soak (sim, short): ${what} x ${n} in memory=16 leaves the heap flat`, async (t) => {
    const r = await runInSim(await wasmOf(APP), { cmdline: `${what} ${n}`, memoryMB: 16 });
    t.equal(r.reason, "poweroff");
    const s = soakReport(r.console, what);
    t.ok(s.finished && s.points.length === 11, `ran to the end: ${describeSoak(s)}`);
    t.ok(s.heapGrowthKiB <= HEAP_MARGIN_KIB, `the heap grew ${s.heapGrowthKiB} KiB after warm-up (at most ${HEAP_MARGIN_KIB})`);
    t.ok(s.liveGrowthKiB <= LIVE_MARGIN_KIB, `what is live grew ${s.liveGrowthKiB} KiB after warm-up (at most ${LIVE_MARGIN_KIB})`);
  });
}

test("soak (sim): the same string loop with the stub runtime (never frees) runs out of memory, reported as such", async (t) => {
  const r = await runInSim(await wasmOf(APP, "stub"), { cmdline: "strings 1000000", memoryMB: 16 });
  t.equal(r.reason, "crash");
  // 16 MiB less the 4 MiB below the wasm memory's base (the image, Xen's data).
  t.match(r.console, /\ntrap: out of memory: \d+ bytes requested, heap 12288 KiB of 12288 KiB\n/, "the out-of-memory report, the heap bounded by memory=16");
});

// make test: 5,000 writes (already ~75x the 64 events that may wait); make soak: 20,000 x SCALE.
const FLOOD = process.env.TSXEN_SOAK_SCALE ? 20_000 * SCALE : 5_000;

test(`watch flood (sim): ${FLOOD} writes below a watched path while its handler blocks keep the heap flat, and the last one is still seen`, async (t) => {
  const g = new SimGuest();
  await g.start(await wasmOf("tests/apps/watch-flood.ts"));
  const N = FLOOD;
  const flood = () => {
    if (!g.consoleText().includes("watch-flood: ready")) return void g.dom0.after(MS, flood);
    for (let i = 0; i < N; i++) g.xenstore.write(`/local/domain/1/data/flood/k${i}`, String(i));
    g.xenstore.write("/local/domain/1/data/flood/count", "end");
  };
  g.dom0.after(MS, flood);
  const r = await g.run();
  t.equal(r.reason, "poweroff");
  const ready = /watch-flood: ready, live (\d+) KiB/.exec(r.console);
  const end = /watch-flood: saw the end after (\d+) events \((\d+) coalesced\), live (\d+) KiB/.exec(r.console);
  t.ok(ready && end, `the handler saw dom0's last write: ${end?.[0]}`);
  if (!ready || !end) return;
  t.ok(Number(end[1]) < N, `${end[1]} events delivered for ${N + 1} writes: the rest coalesced while the handler was busy`);
  // Up to 64 events (and their paths) may still be waiting: ~10 KiB; 5,000
  // unbounded would hold hundreds of KiB.
  t.ok(Number(end[3]) - Number(ready[1]) <= 24, `live ${ready[1]} KiB before, ${end[3]} KiB after (at most 24 KiB more: the events waiting are bounded)`);
});

test("memory API (sim): memoryStats() sees ~1 MiB of strings held, and collect() gives it back", async (t) => {
  const r = await runInSim(await wasmOf("tests/apps/memory-probe.ts"), { memoryMB: 16 });
  t.equal(r.reason, "poweroff");
  const at = (what: string) => {
    const m = new RegExp(`memory-probe: ${what}: ram (\\d+) memory (\\d+) limit (\\d+) heap (\\d+) used (\\d+) free (\\d+) peak (\\d+) collections (\\d+)`).exec(r.console);
    return m ? { ram: +m[1], memory: +m[2], limit: +m[3], heap: +m[4], used: +m[5], free: +m[6], peak: +m[7], collections: +m[8] } : null;
  };
  const start = at("start"), holding = at("holding"), dropped = at("dropped");
  t.ok(start && holding && dropped, "three reports");
  if (!start || !holding || !dropped) return;
  t.equal(start.ram, 16 << 20, "ramBytes: memory=16");
  t.equal(start.limit, 16 << 20, "memoryLimitBytes: the RAM mapped for wasm memory");
  t.equal(holding.heap, holding.used + holding.free, "heap = used + free");
  t.ok(holding.used - start.used > 1_000_000, `1000 strings of ~1 KiB held: used ${start.used} -> ${holding.used}`);
  t.ok(dropped.used - start.used < 16 << 10, `dropped and collected: used ${dropped.used} (within 16 KiB of the start)`);
  t.ok(dropped.peak >= holding.used, `peak ${dropped.peak} remembers the ${holding.used} held`);
  t.equal(dropped.collections, 2, "two collect() calls");
  t.ok(holding.memory <= holding.limit && holding.memory > start.memory, `the wasm memory grew for them: ${start.memory} -> ${holding.memory}`);
});
