// One of the test suite's asc worker threads (tests/sim/helpers.ts): compiles
// the apps it is sent with tools/build.ts's buildWasm, one at a time, and
// posts back the wasm and its raw source map, or the error's message.
import { parentPort } from "node:worker_threads";
import { buildWasm, type Instrument, type Runtime } from "../../tools/build.ts";

export interface AscJob {
  id: number;
  entry: string;
  workDir: string;
  memoryBase: number;
  runtime: Runtime;
  instrument: Instrument;
}

export type AscResult =
  | { id: number; wasm: Uint8Array; sourceMap: string; wasmFile: string }
  | { id: number; error: string };

parentPort!.on("message", async (job: AscJob) => {
  let result: AscResult;
  try {
    const built = await buildWasm(job.entry, job.workDir, job.memoryBase, () => {}, false, job.runtime, job.instrument);
    result = { id: job.id, wasm: built.wasm, sourceMap: JSON.stringify(built.sourceMap.raw), wasmFile: built.wasmFile };
  } catch (e) {
    result = { id: job.id, error: e instanceof Error ? e.message : String(e) };
  }
  parentPort!.postMessage(result);
});
