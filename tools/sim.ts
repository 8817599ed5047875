// tsxen sim: runs an app (built to wasm on the fly) or a .wasm module in the
// simulated Xen host (sim/host.ts) and prints its console.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { buildWasm, DEFAULT_MEMORY_BASE } from "./build.ts";
import { checkWasm } from "./wasm-check.ts";
import { runInSim } from "../sim/host.ts";
import { WasmSourceMap } from "./source-map.ts";
import { sourceMappingURL } from "./wasm-sections.ts";

export interface SimAppOptions {
  input: string;
  memoryMB?: number;
  cmdline?: string;
}

// The source map a module names in its sourceMappingURL section, when it
// is a file beside the module (asc --sourceMap writes <module>.wasm.map).
function sourceMapBeside(wasmFile: string, wasm: Uint8Array): WasmSourceMap | undefined {
  const url = sourceMappingURL(wasm);
  if (!url || /^[a-z]+:/i.test(url)) return undefined;
  const file = path.resolve(path.dirname(wasmFile), url);
  return fs.existsSync(file) ? WasmSourceMap.parse(fs.readFileSync(file, "utf8")) : undefined;
}

export async function simApp(opts: SimAppOptions): Promise<number> {
  let wasm: Uint8Array;
  let sourceMap: WasmSourceMap | undefined;
  if (opts.input.endsWith(".wasm")) {
    wasm = fs.readFileSync(opts.input);
    checkWasm(wasm);
    sourceMap = sourceMapBeside(opts.input, wasm);
  } else {
    const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "tsxen-sim-"));
    try {
      ({ wasm, sourceMap } = await buildWasm(opts.input, workDir, DEFAULT_MEMORY_BASE, (s) => console.error(s)));
    } finally {
      fs.rmSync(workDir, { recursive: true, force: true });
    }
  }
  const result = await runInSim(wasm, { memoryMB: opts.memoryMB, cmdline: opts.cmdline, sourceMap });
  process.stdout.write(result.console);
  console.error(`tsxen sim: guest shut down: ${result.reason}`);
  return result.reason === "poweroff" ? 0 : 1;
}
