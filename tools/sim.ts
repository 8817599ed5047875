// tsxen sim: runs an app (built to wasm on the fly) or a .wasm module in the
// simulated Xen host (sim/host.ts) and prints its console as it is written;
// with --inspect, under Node's inspector (tools/inspect.ts).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { buildWasm, BuildError, DEFAULT_MEMORY_BASE } from "./build.ts";
import { checkWasm } from "./wasm-check.ts";
import { SimGuest } from "../sim/host.ts";
import { debugSourceMap, entryOffset, mainOffset, missingSources, openInspector, withInlineSourceMap, type InspectOptions } from "./inspect.ts";
import { WasmSourceMap } from "./source-map.ts";
import { sourceMappingURL } from "./wasm-sections.ts";

export interface SimAppOptions {
  input: string;
  memoryMB?: number;
  cmdline?: string;
  inspect?: InspectOptions;   // run under Node's inspector (tools/inspect.ts)
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
  let breakAt: number | null = null;
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "tsxen-sim-"));
  try {
    if (opts.input.endsWith(".wasm")) {
      wasm = fs.readFileSync(opts.input);
      checkWasm(wasm);
      sourceMap = sourceMapBeside(opts.input, wasm);
      if (opts.inspect && sourceMap) wasm = withInlineSourceMap(wasm, { ...sourceMap.raw, sourceRoot: "" });
      if (opts.inspect?.breakAtMain) {
        breakAt = mainOffset(wasm, null);
        if (breakAt === null && (breakAt = entryOffset(wasm)) !== null) console.error("tsxen sim: main() is not a function of its own in this (optimised) module; --break stops at tsxen_main, which calls it");
      }
    } else {
      const debugBuild = opts.inspect !== undefined;
      ({ wasm, sourceMap } = await buildWasm(opts.input, workDir, DEFAULT_MEMORY_BASE, (s) => console.error(s), debugBuild));
      if (opts.inspect) {
        const map = debugSourceMap(sourceMap.raw, workDir);
        for (const missing of missingSources(map)) console.error(`tsxen sim: warning: source ${missing} not found`);
        wasm = withInlineSourceMap(wasm, map);
        breakAt = opts.inspect.breakAtMain ? mainOffset(wasm, opts.input) : null;
      }
    }
    if (opts.inspect?.breakAtMain && breakAt === null) throw new BuildError("--break: the module has no function named main or tsxen_main (a .wasm needs its name section: asc --debug)");
    const guest = new SimGuest({
      memoryMB: opts.memoryMB, cmdline: opts.cmdline, sourceMap, onConsole: (b) => process.stdout.write(b),
    });
    await guest.start(wasm);
    const session = opts.inspect ? openInspector(opts.inspect, breakAt, wasm.length, (s) => console.error(s)) : null;
    let result;
    try {
      result = await guest.run();
    } finally {
      session?.close();
    }
    console.error(`tsxen sim: guest shut down: ${result.reason}`);
    return result.reason === "poweroff" ? 0 : 1;
  } finally {
    fs.rmSync(workDir, { recursive: true, force: true });
  }
}
