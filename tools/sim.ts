// tsxen sim: runs an app (built to wasm on the fly) or a .wasm module in the
// simulated Xen host (sim/host.ts) and prints its console.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { buildWasm, DEFAULT_MEMORY_BASE } from "./build.ts";
import { checkWasm } from "./wasm-check.ts";
import { runInSim } from "../sim/host.ts";

export interface SimAppOptions {
  input: string;
  memoryMB?: number;
  cmdline?: string;
}

export async function simApp(opts: SimAppOptions): Promise<number> {
  let wasm: Uint8Array;
  if (opts.input.endsWith(".wasm")) {
    wasm = fs.readFileSync(opts.input);
    checkWasm(wasm);
  } else {
    const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "tsxen-sim-"));
    try {
      wasm = (await buildWasm(opts.input, workDir, DEFAULT_MEMORY_BASE, (s) => console.error(s))).wasm;
    } finally {
      fs.rmSync(workDir, { recursive: true, force: true });
    }
  }
  const result = await runInSim(wasm, { memoryMB: opts.memoryMB, cmdline: opts.cmdline });
  process.stdout.write(result.console);
  console.error(`tsxen sim: guest shut down: ${result.reason}`);
  return result.reason === "poweroff" ? 0 : 1;
}
