// Named backtraces in the sim: the wasm frames of a V8 error (a trap, or the
// stack at a host call such as xen.panic), named from the module's name
// section and given lines from its source map, in the format the native
// runtime prints (tools/symbols.ts).
import { functionNames } from "../tools/wasm-sections.ts";
import { WasmSourceMap } from "../tools/source-map.ts";
import { displayPath, frameTextAt, functionName, type Frame } from "../tools/symbols.ts";

// Enough for every frame of a wasm stack overflow (V8 allows tens of
// thousands of wasm frames).
const STACK_TRACE_LIMIT = 100_000;

interface CallSite {
  getFileName(): string | null;
  getPosition(): number;
  toString(): string;
}

export class Symbolizer {
  private names: Map<number, string> | null = null;

  // The name section is read at the first backtrace (most guests never trap).
  constructor(private readonly wasm: Uint8Array, private readonly sourceMap: WasmSourceMap | null = null) {}

  // The wasm frames of `error`, innermost first. Must be called before
  // anything reads error.stack (V8 formats it once, at the first read).
  frames(error: Error): Frame[] {
    const prepare = Error.prepareStackTrace;
    Error.prepareStackTrace = (_e, sites) => sites;
    let sites: CallSite[];
    try {
      sites = (error.stack as unknown as CallSite[]) ?? [];
    } finally {
      Error.prepareStackTrace = prepare;
    }
    if (!Array.isArray(sites)) return [];
    const frames: Frame[] = [];
    for (const site of sites) {
      if (!site.getFileName()?.startsWith("wasm://")) continue;
      const m = /wasm-function\[(\d+)\]/.exec(site.toString());
      if (!m) continue;
      const index = Number(m[1]);
      this.names ??= functionNames(this.wasm);
      const fn = functionName(this.names.get(index), index);
      const where = this.sourceMap?.lookup(site.getPosition()) ?? null;
      frames.push({ fn, text: frameTextAt(fn, where ? { file: displayPath(where.source), line: where.line } : null) });
    }
    return frames;
  }

  // The wasm frames at this point (inside a host function called by wasm).
  here(): Frame[] {
    return withStackTraceLimit(() => this.frames(new Error()));
  }
}

// Runs `fn` with V8 recording enough frames for a whole guest stack.
export function withStackTraceLimit<T>(fn: () => T): T {
  const before = Error.stackTraceLimit;
  Error.stackTraceLimit = Math.max(before, STACK_TRACE_LIMIT);
  try {
    return fn();
  } finally {
    Error.stackTraceLimit = before;
  }
}
