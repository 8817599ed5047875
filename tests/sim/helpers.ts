// Builds test and example apps to wasm once per test process, for sim tests.
import test from "tape";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { buildWasm, DEFAULT_MEMORY_BASE, DEFAULT_RUNTIME, type Instrument, type Runtime, type WasmBuild } from "../../tools/build.ts";

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

// The app's wasm and source map (built with `runtime`, default the
// default; `instrument`: a sim-only build, see tools/build.ts; `memoryBase`:
// where its linear memory starts, for an image of under 8 MiB).
export function buildOf(entry: string, runtime: Runtime = DEFAULT_RUNTIME, instrument: Instrument = "none", memoryBase = DEFAULT_MEMORY_BASE): Promise<WasmBuild> {
  const key = `${entry} ${runtime} ${instrument} ${memoryBase}`;
  let built = cache.get(key);
  if (!built) {
    const workDir = path.join(buildRoot(), String(cache.size));
    built = buildWasm(entry, workDir, memoryBase, () => {}, false, runtime, instrument);
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
