// The binaryen.js check on compiled modules, fed modules built directly
// with binaryen so each rule is tested alone.
import test from "tape";
import binaryen from "binaryen";
import { checkWasm, WasmCheckError } from "../../tools/wasm-check.ts";

interface ModuleSpec {
  imports?: { module: string; base: string; params: number[]; result: number }[];
  exports?: string[];
  simd?: boolean;
  importMemory?: boolean;
}

function makeModule(spec: ModuleSpec): Uint8Array {
  const m = new binaryen.Module();
  m.setFeatures(binaryen.Features.All);
  for (const [i, imp] of (spec.imports ?? []).entries()) {
    m.addFunctionImport(`imp${i}`, imp.module, imp.base, binaryen.createType(imp.params), imp.result);
  }
  m.setMemory(1, 1, spec.importMemory ? null : "memory");
  if (spec.importMemory) m.addMemoryImport("0", "env", "memory"); // after setMemory, which replaces the memory
  const body = spec.simd ? m.drop(m.v128.const(new Array(16).fill(0))) : m.nop();
  m.addFunction("f", binaryen.none, binaryen.none, [], body);
  for (const name of spec.exports ?? ["tsxen_start", "tsxen_main"]) m.addFunctionExport("f", name);
  const bytes = m.emitBinary();
  m.dispose();
  return bytes;
}

function problems(bytes: Uint8Array): string {
  try {
    checkWasm(bytes);
    return "";
  } catch (e) {
    if (!(e instanceof WasmCheckError)) throw e;
    return e.message;
  }
}

test("wasm check: a module importing only the host interface passes", (t) => {
  const facts = checkWasm(makeModule({ imports: [{ module: "xen", base: "fence", params: [], result: binaryen.none }] }));
  t.deepEqual(facts.imports, ["xen.fence"]);
  t.end();
});

test("wasm check: foreign imports, wrong signatures and missing exports are each named", (t) => {
  t.match(problems(makeModule({ imports: [{ module: "env", base: "abort", params: [binaryen.i32], result: binaryen.none }] })), /env\.abort.*does not provide/);
  t.match(problems(makeModule({ imports: [{ module: "xen", base: "nosuch", params: [], result: binaryen.none }] })), /xen\.nosuch/);
  t.match(problems(makeModule({ imports: [{ module: "xen", base: "panic", params: [binaryen.i32], result: binaryen.none }] })), /xen\.panic as \(i32\) -> \(\), but the host provides \(i32, i32\) -> \(\)/);
  t.match(problems(makeModule({ exports: ["tsxen_main"] })), /does not export tsxen_start/);
  t.match(problems(makeModule({ exports: ["tsxen_start"] })), /does not export tsxen_main/);
  t.match(problems(makeModule({ importMemory: true })), /imports its memory/);
  t.end();
});

test("wasm check: SIMD is refused", (t) => {
  t.match(problems(makeModule({ simd: true })), /features tsxen does not support/);
  t.end();
});
