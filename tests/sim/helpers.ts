// Builds test and example apps to wasm once per test process, for sim tests.
import test from "tape";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Worker } from "node:worker_threads";
import { DEFAULT_MEMORY_BASE, DEFAULT_RUNTIME, type Instrument, type Runtime, type WasmBuild } from "../../tools/build.ts";
import { WasmSourceMap } from "../../tools/source-map.ts";
import type { AscJob, AscResult } from "./asc-worker.ts";

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
type Queued = { job: AscJob; resolve: (b: WasmBuild) => void; reject: (e: Error) => void };
const ascPool = {
  workers: [] as { worker: Worker; busy: boolean }[],
  queue: [] as Queued[],
  waiting: new Map<number, { resolve: (b: WasmBuild) => void; reject: (e: Error) => void; slot: { worker: Worker; busy: boolean } }>(),
  nextId: 0,

  compile(job: Omit<AscJob, "id">): Promise<WasmBuild> {
    return new Promise((resolve, reject) => {
      this.queue.push({ job: { ...job, id: this.nextId++ }, resolve, reject });
      this.dispatch();
    });
  },

  dispatch(): void {
    while (this.queue.length > 0) {
      let slot = this.workers.find((w) => !w.busy);
      if (!slot && this.workers.length < 2) slot = this.start();
      if (!slot) return;
      const { job, resolve, reject } = this.queue.shift()!;
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
      slot.busy = false;
      worker.unref();
      if ("error" in r) w.reject(new Error(r.error));
      else w.resolve({ wasm: r.wasm, sourceMap: WasmSourceMap.parse(r.sourceMap), wasmFile: r.wasmFile });
      this.dispatch();
    });
    worker.on("error", (e) => {
      // a worker that dies fails what it was compiling; a new one takes its place
      this.workers = this.workers.filter((w) => w !== slot);
      for (const [id, w] of this.waiting) if (w.slot === slot) { this.waiting.delete(id); w.reject(e); }
      this.dispatch();
    });
    this.workers.push(slot);
    return slot;
  },
};

// The app's wasm and source map (built with `runtime`, default the
// default; `instrument`: a sim-only build, see tools/build.ts; `memoryBase`:
// where its linear memory starts, for an image of under 8 MiB).
export function buildOf(entry: string, runtime: Runtime = DEFAULT_RUNTIME, instrument: Instrument = "none", memoryBase = DEFAULT_MEMORY_BASE): Promise<WasmBuild> {
  const key = `${entry} ${runtime} ${instrument} ${memoryBase}`;
  let built = cache.get(key);
  if (!built) {
    const workDir = path.join(buildRoot(), String(cache.size));
    built = ascPool.compile({ entry, workDir, memoryBase, runtime, instrument });
    cache.set(key, built);
  }
  return built;
}

export async function wasmOf(entry: string, runtime: Runtime = DEFAULT_RUNTIME, instrument: Instrument = "none"): Promise<Uint8Array> {
  return (await buildOf(entry, runtime, instrument)).wasm;
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
