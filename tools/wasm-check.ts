// Checks a compiled app module with binaryen.js before it is turned into
// native code: it may import only the tsxen host interface (exact names and
// signatures), must export memory and the entry point, and may use only
// the wasm features wasm2c and our runtime support.
import binaryen from "binaryen";
import { HOST_FUNCTIONS, HOST_MODULE, ENTRY_EXPORT, START_EXPORT, type WasmType } from "./host-interface.ts";

// Features AssemblyScript's default build emits; anything else (SIMD,
// threads, reference types, exceptions, …) has no support in our runtime.
const ALLOWED_FEATURES =
  binaryen.Features.MutableGlobals |
  binaryen.Features.SignExt |
  binaryen.Features.NontrappingFPToInt |
  binaryen.Features.BulkMemory |
  binaryen.Features.BulkMemoryOpt; // binaryen requires it alongside BulkMemory

export interface WasmFacts {
  imports: string[];
  exports: string[];
}

export class WasmCheckError extends Error {}

function typeName(t: number): WasmType | string {
  switch (t) {
    case binaryen.i32: return "i32";
    case binaryen.i64: return "i64";
    case binaryen.f32: return "f32";
    case binaryen.f64: return "f64";
    default: return `type#${t}`;
  }
}

function signature(params: number, results: number): { params: string[]; results: string[] } {
  return {
    params: binaryen.expandType(params).map(typeName),
    results: results === binaryen.none ? [] : binaryen.expandType(results).map(typeName),
  };
}

const show = (s: { params: string[]; results: string[] }) => `(${s.params.join(", ")}) -> (${s.results.join(", ")})`;

// Returns the facts, or throws WasmCheckError listing every problem found.
export function checkWasm(bytes: Uint8Array): WasmFacts {
  const mod = binaryen.readBinary(bytes);
  try {
    const problems: string[] = [];
    const imports: string[] = [];
    for (let i = 0; i < mod.getNumFunctions(); i++) {
      const f = binaryen.getFunctionInfo(mod.getFunctionByIndex(i));
      if (!f.module) continue;
      const name = `${f.module}.${f.base}`;
      imports.push(name);
      const want = f.module === HOST_MODULE && f.base ? HOST_FUNCTIONS[f.base] : undefined;
      const got = signature(f.params, f.results);
      if (!want) {
        problems.push(`imports ${name}${show(got)}, which tsxen does not provide (the host provides only ${HOST_MODULE}.{${Object.keys(HOST_FUNCTIONS).join(", ")}})`);
      } else if (show(got) !== show(want)) {
        problems.push(`imports ${name} as ${show(got)}, but the host provides ${show(want)}`);
      }
    }
    for (let i = 0; i < mod.getNumGlobals(); i++) {
      const g = binaryen.getGlobalInfo(mod.getGlobalByIndex(i));
      if (g.module) problems.push(`imports global ${g.module}.${g.base}, which tsxen does not provide`);
    }
    if (!mod.hasMemory()) {
      problems.push("has no memory");
    } else {
      const mem = mod.getMemoryInfo();
      if (mem.module) problems.push(`imports its memory (${mem.module}.${mem.base}); it must define its own`);
    }
    const exports: string[] = [];
    for (let i = 0; i < mod.getNumExports(); i++) exports.push(binaryen.getExportInfo(mod.getExportByIndex(i)).name);
    if (!exports.includes("memory")) problems.push("does not export its memory");
    for (const name of [START_EXPORT, ENTRY_EXPORT]) {
      if (!exports.includes(name)) problems.push(`does not export ${name}`);
    }
    // Validating with only the allowed features enabled rejects any use of
    // another one (binaryen prints the offending instruction).
    mod.setFeatures(ALLOWED_FEATURES);
    if (!mod.validate()) {
      problems.push("uses wasm features tsxen does not support (only mutable-globals, sign-extension, nontrapping-f2i and bulk-memory), or is invalid");
    }
    if (problems.length) throw new WasmCheckError(problems.map((p) => `the module ${p}`).join("\n"));
    return { imports, exports };
  } finally {
    mod.dispose();
  }
}
