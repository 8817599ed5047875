// Builds test and example apps to wasm once per test process, for sim tests.
import test from "tape";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Worker } from "node:worker_threads";
import { DEFAULT_MEMORY_BASE, DEFAULT_RUNTIME, type Instrument, type Runtime, type WasmBuild } from "../../tools/build.ts";
import { WasmSourceMap } from "../../tools/source-map.ts";
import type { AscJob, AscResult } from "./asc-worker.ts";
import { beforeRun } from "../before-run.ts";
import { SimGuest, type SimOptions } from "../../sim/host.ts";

const cache = new Map<string, Promise<WasmBuild>>();
let root: string | null = null;
const removeRoot = () => {
  if (root) fs.rmSync(root, { recursive: true, force: true });
  root = null;
};
// tape's own exit handler removes every other 'exit' listener, so clean up
// when tape finishes. A process without tape tests (the fuzz workers) would
// see tape finish at once, mid-build: it calls cleanUpAtExit() first.
let atTapeFinish = true;
test.onFinish(() => { if (atTapeFinish) removeRoot(); });
export function cleanUpAtExit(): void {
  atTapeFinish = false;
}

function buildRoot(): string {
  if (!root) {
    root = fs.mkdtempSync(path.join(os.tmpdir(), "tsxen-sim-test-"));
    process.once("exit", removeRoot);
  }
  return root;
}

// asc runs in two worker threads (this machine's cores): two apps compile
// at once, and the main thread stays free for the tests that are running
// and for the rig's serial line. A worker compiles one app at a time; the
// workers are unref'd, so they never keep the process alive.
//
// Test files name the apps they will build at load time (willBuild). Those
// compiles wait in a second queue and run in the order the files loaded
// whenever a worker has nothing asked for, at most aheadOfTime.limit at once:
// a test then finds its app compiled or compiling. An app a test asks for
// (buildOf) goes to the front. The limit is 0 until tape is about to run
// the first test, then 2; the real-Xen tests, whose images come first, hold
// it at 0 while asc compiles them and at 1 while gcc builds them
// (tests/xen/rig-test.ts).
type Queued = { job: AscJob; resolve: (b: WasmBuild) => void; reject: (e: Error) => void };
const ascPool = {
  workers: [] as { worker: Worker; busy: boolean }[],
  queue: [] as Queued[],
  ahead: [] as Queued[],
  aheadRunning: new Set<number>(),
  waiting: new Map<number, { resolve: (b: WasmBuild) => void; reject: (e: Error) => void; slot: { worker: Worker; busy: boolean } }>(),
  nextId: 0,

  compile(job: Omit<AscJob, "id">, aheadOfTime = false): Promise<WasmBuild> {
    return new Promise((resolve, reject) => {
      (aheadOfTime ? this.ahead : this.queue).push({ job: { ...job, id: this.nextId++ }, resolve, reject });
      this.dispatch();
    });
  },

  // A compile waiting in the ahead-of-time queue is now asked for.
  promote(workDir: string): void {
    const at = this.ahead.findIndex((q) => q.job.workDir === workDir);
    if (at >= 0) this.queue.push(...this.ahead.splice(at, 1));
    this.dispatch();
  },

  dispatch(): void {
    const aheadAllowed = () => this.ahead.length > 0 && this.aheadRunning.size < aheadOfTime.limit;
    while (this.queue.length > 0 || aheadAllowed()) {
      let slot = this.workers.find((w) => !w.busy);
      if (!slot && this.workers.length < 2) slot = this.start();
      if (!slot) return;
      const fromAhead = this.queue.length === 0;
      const { job, resolve, reject } = (fromAhead ? this.ahead : this.queue).shift()!;
      if (fromAhead) this.aheadRunning.add(job.id);
      slot.busy = true;
      slot.worker.ref();
      this.waiting.set(job.id, { resolve, reject, slot });
      slot.worker.postMessage(job);
    }
  },

  start(): { worker: Worker; busy: boolean } {
    const worker = new Worker(new URL("./asc-worker.mjs", import.meta.url));
    const slot = { worker, busy: false };
    worker.unref();
    worker.on("message", (r: AscResult) => {
      const w = this.waiting.get(r.id)!;
      this.waiting.delete(r.id);
      this.aheadRunning.delete(r.id);
      slot.busy = false;
      worker.unref();
      if ("error" in r) w.reject(new Error(r.error));
      else w.resolve({ wasm: r.wasm, sourceMap: WasmSourceMap.parse(r.sourceMap), wasmFile: r.wasmFile });
      this.dispatch();
    });
    worker.on("error", (e) => {
      // a worker that dies fails what it was compiling; a new one takes its place
      this.workers = this.workers.filter((w) => w !== slot);
      for (const [id, w] of this.waiting) if (w.slot === slot) { this.waiting.delete(id); this.aheadRunning.delete(id); w.reject(e); }
      this.dispatch();
    });
    this.workers.push(slot);
    return slot;
  },
};

// How many ahead-of-time compiles may run at once (see the pool above).
export const aheadOfTime = {
  limit: 0,
  held: false,    // someone else sets the limit (the real-Xen tests)
  set(limit: number): void {
    this.limit = limit;
    ascPool.dispatch();
  },
};
beforeRun.push(() => {
  if (!aheadOfTime.held) aheadOfTime.set(2);
});

const keyOf = (entry: string, runtime: Runtime, instrument: Instrument, memoryBase: number) => `${entry} ${runtime} ${instrument} ${memoryBase}`;
const workDirs = new Map<string, string>();

function compileOnce(entry: string, runtime: Runtime, instrument: Instrument, memoryBase: number, ahead: boolean): Promise<WasmBuild> {
  const key = keyOf(entry, runtime, instrument, memoryBase);
  let built = cache.get(key);
  if (!built) {
    const workDir = path.join(buildRoot(), String(cache.size));
    workDirs.set(key, workDir);
    built = ascPool.compile({ entry, workDir, memoryBase, runtime, instrument }, ahead);
    cache.set(key, built);
  } else if (!ahead) {
    ascPool.promote(workDirs.get(key)!);
  }
  return built;
}

// The app's wasm and source map (built with `runtime`, default the
// default; `instrument`: a sim-only build, see tools/build.ts; `memoryBase`:
// where its linear memory starts, for an image of under 8 MiB).
export function buildOf(entry: string, runtime: Runtime = DEFAULT_RUNTIME, instrument: Instrument = "none", memoryBase = DEFAULT_MEMORY_BASE): Promise<WasmBuild> {
  return compileOnce(entry, runtime, instrument, memoryBase, false);
}

// Says, at load time, that this file's tests will build `entry` (see the
// pool above; an app of the probe, see guestModule, is the probe); returns
// `entry`. A failed compile is reported by the test that asks for it.
export function willBuild(entry: string, runtime: Runtime = DEFAULT_RUNTIME, instrument: Instrument = "none"): string {
  compileOnce(probeOf(entry, runtime, instrument)?.[0] ?? entry, runtime, instrument, DEFAULT_MEMORY_BASE, true).catch(() => undefined);
  return entry;
}

// tests/apps/xen-probe.ts holds several apps (picked by a leading
// "probe=<app>" word of the command line); its image serves their real-Xen
// scenarios. The sim tests of the network apps among them run the same
// module, and tests/apps/sim-probe.ts holds the sim tests' small test apps:
// two asc compiles (1 to 6 s of CPU each) instead of twenty-three.
export const XEN_PROBE = "tests/apps/xen-probe.ts";
const SIM_PROBE = "tests/apps/sim-probe.ts";
// tests/apps/instrumented-probe.ts: the apps of the instrumented builds.
const INSTRUMENTED_PROBE = "tests/apps/instrumented-probe.ts";
const inXenProbe = ["examples/udp-echo/main.ts", "tests/apps/tcp-services.ts", "examples/http-server/main.ts", "examples/stats/main.ts", "tests/apps/suspend-probe.ts", "examples/selftest/main.ts"];
const inSimProbe = ["blk-model", "blk-edge", "blk-hostile", "blk-hotplug", "fuzz-disk", "net-blocking", "net-txdrop", "net-noarm",
  "xs-probe", "xs-tx", "xs-interleave", "xs-dead", "xs-fuzz", "evt-probe", "grant-probe", "idle", "chatty", "primitives"];
const inInstrumentedProbe = ["tests/apps/dangling.ts", "tests/apps/blk-reuse.ts", "examples/udp-echo/main.ts", "examples/blk-verify/main.ts", "examples/selftest/main.ts"];
// An app's name in "probe=<name>": an example's folder, a test app's file.
const probeName = (entry: string): string => (entry.startsWith("examples/") ? entry.split("/")[1] : path.basename(entry, ".ts"));
// entry -> [the module that holds it, its probe name], for plain builds
const PROBED = new Map<string, [string, string]>([
  ...inXenProbe.map((e): [string, [string, string]] => [e, [XEN_PROBE, probeName(e)]]),
  ...inSimProbe.map((n): [string, [string, string]] => [`tests/apps/${n}.ts`, [SIM_PROBE, n]]),
]);

// The probe module that holds `entry` for a build with `runtime` and
// `instrument`, and the app's probe name; undefined: the app's own build.
function probeOf(entry: string, runtime: Runtime, instrument: Instrument): [string, string] | undefined {
  if (runtime !== DEFAULT_RUNTIME) return undefined;
  if (instrument === "none") return PROBED.get(entry);
  return inInstrumentedProbe.includes(entry) ? [INSTRUMENTED_PROBE, probeName(entry)] : undefined;
}

// The module and command line that run `entry` with command line
// `cmdline` (built with `runtime` and `instrument`): the probe for the apps
// it holds, else the app's own build.
export async function guestModule(entry: string, cmdline = "", runtime: Runtime = DEFAULT_RUNTIME, instrument: Instrument = "none"): Promise<{ wasm: Uint8Array; cmdline: string }> {
  const probed = probeOf(entry, runtime, instrument);
  if (probed === undefined) return { wasm: await wasmOf(entry, runtime, instrument), cmdline };
  return { wasm: await wasmOf(probed[0], runtime, instrument), cmdline: `probe=${probed[1]}${cmdline ? " " + cmdline : ""}` };
}

export async function wasmOf(entry: string, runtime: Runtime = DEFAULT_RUNTIME, instrument: Instrument = "none"): Promise<Uint8Array> {
  return (await buildOf(entry, runtime, instrument)).wasm;
}

// A SimGuest with `opts`, started with `entry` (through its probe module,
// see guestModule).
export async function startedGuest(entry: string, opts: SimOptions = {}, instrument: Instrument = "none"): Promise<SimGuest> {
  const app = await guestModule(entry, opts.cmdline, DEFAULT_RUNTIME, instrument);
  const g = new SimGuest({ ...opts, cmdline: app.cmdline });
  await g.start(app.wasm);
  return g;
}

// The backtrace lines after the first line starting with `header` (a trap
// or panic line), without line numbers ("  at file:12 name" -> "  at file
// name"): the part both hosts print the same.
export function backtraceAfter(consoleLines: string[], header: string): string[] | null {
  const at = consoleLines.findIndex((l) => l.startsWith(header));
  if (at < 0) return null;
  const out: string[] = [];
  for (const l of consoleLines.slice(at + 1)) {
    if (!l.startsWith("  ")) break;
    out.push(l.replace(/^(  at \S+?):\d+ /, "$1 "));
  }
  return out;
}
