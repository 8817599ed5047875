// Backtrace frames as both hosts print them. asc --debug names every wasm
// function "<source path without .ts>/<name>" (e.g.
// "~lib/tsxen/drivers/net/stack/NetStack#ipIn"); a frame prints as
// "  at drivers/net/stack.ts NetStack#ipIn", with ":<line>" after the file
// where a source map gives it (the sim). The sim formats its V8 frames here
// (sim/backtrace.ts); `tsxen build` formats every function once here and
// stores the text in the image's symbol table (tools/symtab.ts), which
// runtime/native/backtrace.c prints with the same rules (hidden top frames,
// repeats folded, at most MAX_FRAMES lines).

export interface FunctionName {
  file: string | null;   // display path of the source file, or null
  name: string;          // the function's name in its file
}

// Frames printed before the rest are summarised ("… N more frames").
export const MAX_FRAMES = 32;

// The package's own sources are ~lib/tsxen/<path> inside asc; they print as
// <path>, like the app's own files (which asc names relative to the
// directory tsxen build/sim ran in).
export function displayPath(ascPath: string): string {
  const p = ascPath.startsWith("~lib/tsxen/") ? ascPath.slice("~lib/tsxen/".length) : ascPath;
  return p.endsWith(".ts") ? p : `${p}.ts`;
}

// Splits an asc function name into its file and name. The name starts after
// the last '/' before any '<' or '#' (generic arguments and member names
// may themselves contain paths: "~lib/array/Array<~lib/string/String>#push").
export function splitName(internal: string): FunctionName {
  if (internal.startsWith("start:")) return { file: displayPath(internal.slice(6)), name: "(top level)" };
  const stop = internal.search(/[<#]/);
  const slash = internal.lastIndexOf("/", stop < 0 ? internal.length : stop);
  if (slash <= 0) return { file: null, name: internal };
  return { file: displayPath(internal.slice(0, slash)), name: internal.slice(slash + 1) };
}

export function functionName(internal: string | undefined, index: number): FunctionName {
  return internal ? splitName(internal) : { file: null, name: `wasm-function[${index}]` };
}

// "file name", the text of a frame without a line.
export function frameText(fn: FunctionName): string {
  return fn.file ? `${fn.file} ${fn.name}` : fn.name;
}

// A frame with the line the source map gives: "file:line name". Only a line
// in the function's own file is shown: in optimised code, an offset that maps
// to another file is code binaryen inlined, or the nearest mapping before an
// instruction that has none, and says little about where the call was.
export function frameTextAt(fn: FunctionName, where: { file: string; line: number } | null): string {
  return where && fn.file === where.file ? `${fn.file}:${where.line} ${fn.name}` : frameText(fn);
}

// Frames of the fault-reporting code itself (panic, abort): not shown when
// they are the innermost frames.
export function isReportingFrame(fn: FunctionName): boolean {
  return fn.file === "runtime/panic.ts";
}

// AssemblyScript's allocators (rt/stub.ts, rt/tlsf.ts) execute `unreachable`
// only when memory.grow fails.
export function isAllocatorFrame(fn: FunctionName): boolean {
  return fn.file !== null && fn.file.startsWith("~lib/rt/");
}

export const OUT_OF_MEMORY = "out of memory";

export interface Frame {
  fn: FunctionName;
  text: string;   // frameText or frameTextAt
}

const sameFunction = (a: Frame, b: Frame) => a.fn.file === b.fn.file && a.fn.name === b.fn.name;

// The trap line's reason: "unreachable executed" in the allocator is out of memory.
export function trapReason(reason: string, frames: Frame[]): string {
  const innermost = frames.find((f) => !isReportingFrame(f.fn));
  return reason === "unreachable executed" && innermost && isAllocatorFrame(innermost.fn) ? OUT_OF_MEMORY : reason;
}

// The backtrace lines after a trap or panic line: innermost first,
// reporting frames dropped from the top, runs of the same function folded
// into one line (with the innermost's line number, if any), at most
// MAX_FRAMES lines.
export function backtraceLines(frames: Frame[]): string[] {
  let i = 0;
  while (i < frames.length && isReportingFrame(frames[i].fn)) i++;
  const lines: string[] = [];
  let shown = 0;
  while (i < frames.length) {
    let n = 1;
    while (i + n < frames.length && sameFunction(frames[i + n], frames[i])) n++;
    if (shown === MAX_FRAMES) {
      lines.push(`  ... ${frames.length - i} more frames`);
      break;
    }
    lines.push(n > 1 ? `  at ${frames[i].text} (${n} times)` : `  at ${frames[i].text}`);
    shown++;
    i += n;
  }
  return lines;
}
