// tsxen sim --inspect: the app's wasm, built without optimisation, runs in
// the sim under Node's inspector (the Chrome DevTools Protocol), so that
// Chrome DevTools or VS Code set breakpoints in the AssemblyScript sources
// (the app's and tsxen's), step, and read locals. The module carries its
// source map inline (a data: URL in its sourceMappingURL section), with
// every source as an absolute file URL and its text included, so no
// debugger has to fetch anything. --break stops at the first instruction of
// the app's main().
import inspector from "node:inspector";
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { REPO, ENTRY_FILE } from "./build.ts";
import { WasmSourceMap, type RawSourceMap } from "./source-map.ts";
import { functionBodyOffsets, functionNames, sourceMappingURL, withSourceMappingURL } from "./wasm-sections.ts";

const ASC_STD = path.join(REPO, "node_modules", "assemblyscript", "std", "assembly");

export interface InspectOptions {
  host: string;
  port: number;           // 0: any free port
  breakAtMain: boolean;
}

// "--inspect", "--inspect=9230", "--inspect=0.0.0.0:9230".
export function parseInspect(value: string): { host: string; port: number } {
  const m = /^(?:(.+):)?(\d*)$/.exec(value);
  const port = m && m[2] ? Number(m[2]) : 9229;
  if (!m || port > 65535) throw new Error(`--inspect takes [HOST:]PORT, not '${value}'`);
  return { host: m[1] ?? "127.0.0.1", port };
}

// The file a source of asc's map is: the app's (relative to the directory
// tsxen ran in), tsxen's (~lib/tsxen/…), AssemblyScript's standard library
// (~lib/…), or the generated entry (written to the work dir).
function sourceFile(source: string, workDir: string): string {
  if (source === ENTRY_FILE) return path.join(workDir, "entry.ts");
  if (source.startsWith("~lib/tsxen/")) return path.join(REPO, source.slice("~lib/tsxen/".length));
  if (source.startsWith("~lib/")) return path.join(ASC_STD, source.slice("~lib/".length));
  return path.resolve(source);
}

export function debugSourceMap(map: RawSourceMap, workDir: string): RawSourceMap {
  return { ...map, sourceRoot: "", sources: map.sources.map((s) => pathToFileURL(sourceFile(s, workDir)).href) };
}

const INLINE_MAP = "data:application/json;base64,";

// The module with its source map inline.
export function withInlineSourceMap(wasm: Uint8Array, map: RawSourceMap): Uint8Array {
  return withSourceMappingURL(wasm, INLINE_MAP + Buffer.from(JSON.stringify(map)).toString("base64"));
}

// Offset of the first instruction of the app's main (asc names it
// "<app path without .ts>/main"; for a module given as is, the one main
// outside the generated entry), or null.
export function mainOffset(wasm: Uint8Array, appPath: string | null): number | null {
  const want = appPath === null ? null : `${path.relative(process.cwd(), appPath).replace(/\.ts$/, "")}/main`;
  return offsetOf(wasm, (name) => (want ? name === want : name.endsWith("/main") && !name.startsWith("tsxen-entry/")));
}

// The generated entry's tsxen_main: where to stop when an optimised module
// has main inlined into it.
export function entryOffset(wasm: Uint8Array): number | null {
  return offsetOf(wasm, (name) => name === "tsxen-entry/tsxen_main");
}

// The first instruction of the one function `match` accepts. With a
// collecting runtime a function starts with compiler-made code (the shadow
// stack's prologue) that maps to no line of the app: where the inline
// source map has one, the first instruction that maps to a source of the
// app's own (not ~lib/) is used, so the debugger stops on the function's
// first line.
function offsetOf(wasm: Uint8Array, match: (name: string) => boolean): number | null {
  const found = [...functionNames(wasm)].filter(([, name]) => match(name));
  if (found.length !== 1) return null;
  const bodies = functionBodyOffsets(wasm);
  const start = bodies.get(found[0][0]);
  if (start === undefined) return null;
  const url = sourceMappingURL(wasm);
  if (!url?.startsWith(INLINE_MAP)) return start;
  const map = new WasmSourceMap(JSON.parse(Buffer.from(url.slice(INLINE_MAP.length), "base64").toString("utf8")) as RawSourceMap);
  const end = Math.min(...[...bodies.values()].filter((o) => o > start), Infinity);
  const own = map.mappings.find((m) => m.offset >= start && m.offset < end && !/\/~lib\/|^~lib\/|node_modules\/assemblyscript/.test(map.sources[m.source]));
  return own?.offset ?? start;
}

export interface InspectorSession {
  close(): void;
}

// Opens the inspector, waits for a debugger to attach (and to say "run"),
// with a breakpoint at `breakAt` (a module offset) if given. Call after the
// module is compiled (its script exists), before the guest runs.
export function openInspector(opts: InspectOptions, breakAt: number | null, moduleBytes: number, log: (s: string) => void): InspectorSession {
  inspector.open(opts.port, opts.host, false);
  const url = inspector.url();
  if (!url) throw new Error(`could not open the inspector on ${opts.host}:${opts.port}`);
  let session: inspector.Session | null = null;
  if (breakAt !== null) {
    // A session of our own sets the breakpoint; the debugger that attaches
    // sees the pause (V8 reports it to every session) and resumes it.
    session = new inspector.Session();
    session.connect();
    // Ours is the wasm script as long as the module (binaryen.js and asc,
    // loaded to build it, are wasm scripts too; a wasm script's end column
    // is its length).
    const wasmScripts: string[] = [];
    session.on("Debugger.scriptParsed", (m) => {
      if (m.params.url.startsWith("wasm://") && m.params.endColumn === moduleBytes) wasmScripts.push(m.params.scriptId);
    });
    session.post("Debugger.enable");
    if (wasmScripts.length !== 1) throw new Error(`--break: expected one app module, found ${wasmScripts.length}`);
    session.post("Debugger.setBreakpoint", { location: { scriptId: wasmScripts[0], lineNumber: 0, columnNumber: breakAt } }, (err) => {
      if (err) log(`tsxen sim: warning: --break: ${err.message}`);
    });
  }
  const where = url.replace(/^ws:\/\//, "");
  log(`tsxen sim: debugger listening on ${url}`);
  log(`tsxen sim: Chrome: open chrome://inspect (or devtools://devtools/bundled/js_app.html?ws=${where}); VS Code: attach to ${where.split("/")[0]}`);
  log(`tsxen sim: waiting for the debugger to attach${breakAt !== null ? "; the app stops at main()" : ""}`);
  inspector.waitForDebugger();
  return {
    // Our session goes; the debugger stays attached until it lets go (Node
    // waits for it at exit, as with node --inspect).
    close() {
      session?.disconnect();
    },
  };
}

// Checks that the debug build's sources exist where the map says (a missing
// one would show as "could not load" in the debugger).
export function missingSources(map: RawSourceMap): string[] {
  return map.sources.filter((s) => s.startsWith("file:") && !fs.existsSync(new URL(s)));
}
