// Named backtraces in the sim: a fault deep in a call chain prints the
// chain of AssemblyScript functions, with lines from the source map, in the
// format the native runtime prints (tests/xen/boot-chain.test.ts compares
// the two). Also the formatting rules of tools/symbols.ts.
import test from "tape";
import fs from "node:fs";
import { runInSim } from "../../sim/host.ts";
import { backtraceLines, MAX_FRAMES, splitName, trapReason, type Frame } from "../../tools/symbols.ts";
import { backtraceAfter, buildOf, willBuild } from "./helpers.ts";

// The apps these tests build, compiled ahead of time (tests/sim/helpers.ts).
willBuild("tests/apps/deep-trap.ts");

const APP = "tests/apps/deep-trap.ts";

// The line of the first source line containing `text`.
function lineOf(file: string, text: string): number {
  return fs.readFileSync(file, "utf8").split("\n").findIndex((l) => l.includes(text)) + 1;
}

const withoutLines = (lines: string[]) => backtraceAfter(["x", ...lines], "x") ?? [];

async function fault(mode: string, memoryMB?: number): Promise<{ reason: string; lines: string[] }> {
  const { wasm, sourceMap } = await buildOf(APP);
  const r = await runInSim(wasm, { cmdline: mode, sourceMap, memoryMB });
  return { reason: r.reason, lines: r.console.trimEnd().split("\n") };
}

// What the deep-trap app's faults print below the trap line (in both hosts).
const DEEP_CHAIN = [
  `  at ${APP} Parser#header`,
  `  at ${APP} Parser#parse`,
  `  at ${APP} main`,
  "  at tsxen-entry.ts tsxen_main",
];

test("sim: an out-of-bounds access deep in a call chain names every function, with lines", async (t) => {
  const { reason, lines } = await fault("oob");
  t.equal(reason, "crash");
  const trap = lines.indexOf("trap: out of bounds memory access");
  t.ok(trap > 0, "the trap line");
  const frames = lines.slice(trap + 1);
  t.deepEqual(withoutLines(frames), [`  at ${APP} sumWords (4 times)`, ...DEEP_CHAIN], "innermost first; recursion folded");
  t.equal(frames[0], `  at ${APP}:${lineOf(APP, "load<u8>(at")} sumWords (4 times)`, "the faulting line (readWord, inlined into sumWords)");
  t.equal(frames[1], `  at ${APP}:${lineOf(APP, "let h: u32 = sumWords")} Parser#header`, "each caller at its call's line");
});

test("sim: a failed assert deep in a call chain: the panic line, then the chain", async (t) => {
  const { reason, lines } = await fault("abort");
  t.equal(reason, "crash");
  const panic = lines.findIndex((l) => l.startsWith("panic: header too long at tests/apps/deep-trap.ts:"));
  t.ok(panic > 0, lines[panic]);
  t.deepEqual(withoutLines(lines.slice(panic + 1)), DEEP_CHAIN, "the abort machinery (runtime/panic.ts) is not shown");
});

test("sim: running out of memory is reported as such, with the allocation's chain", async (t) => {
  const { reason, lines } = await fault("oom", 16);
  t.equal(reason, "crash");
  const trap = lines.findIndex((l) => /^trap: out of memory: \d+ bytes requested, heap \d+ KiB of \d+ KiB$/.test(l));
  t.ok(trap > 0, `memory is bounded by the guest's RAM (16 MiB), as under Xen; the allocator's unreachable is out of memory, with the request and the heap: ${lines[trap]}`);
  t.match(lines[trap] ?? "", /heap (\d+) KiB of \1 KiB$/, "the heap had grown to all it could");
  const frames = withoutLines(lines.slice(trap + 1));
  t.equal(frames[0], "  at ~lib/rt/tlsf.ts allocateBlock", "innermost: the allocator");
  t.deepEqual(frames.slice(-DEEP_CHAIN.length), DEEP_CHAIN);
});

test("sim: a stack overflow is the trap 'call stack exhausted', the recursion folded into one line", async (t) => {
  const { reason, lines } = await fault("recurse");
  t.equal(reason, "crash");
  const trap = lines.indexOf("trap: call stack exhausted");
  t.ok(trap > 0, "V8's RangeError is reported as the native runtime's trap");
  const frames = withoutLines(lines.slice(trap + 1));
  t.match(frames[0], new RegExp(`^  at ${APP} recurse \\(\\d+ times\\)$`));
  t.deepEqual(frames.slice(1), DEEP_CHAIN.slice(2));
});

const frame = (internal: string): Frame => {
  const fn = splitName(internal);
  return { fn, text: fn.file ? `${fn.file} ${fn.name}` : fn.name };
};

test("symbols: asc names split into file and function", (t) => {
  t.deepEqual(splitName("~lib/tsxen/drivers/net/stack/NetStack#ipIn"), { file: "drivers/net/stack.ts", name: "NetStack#ipIn" });
  t.deepEqual(splitName("~lib/array/Array<~lib/string/String>#push"), { file: "~lib/array.ts", name: "Array<~lib/string/String>#push" });
  t.deepEqual(splitName("~lib/util/hash/HASH<~lib/string/String>"), { file: "~lib/util/hash.ts", name: "HASH<~lib/string/String>" });
  t.deepEqual(splitName("~lib/string/String.UTF8.encodeUnsafe@varargs"), { file: "~lib/string.ts", name: "String.UTF8.encodeUnsafe@varargs" });
  t.deepEqual(splitName("../app/main/main"), { file: "../app/main.ts", name: "main" });
  t.deepEqual(splitName("start:~lib/tsxen/runtime/index"), { file: "runtime/index.ts", name: "(top level)" });
  t.deepEqual(splitName("~start"), { file: null, name: "~start" });
  t.end();
});

test("symbols: reporting frames hidden on top, runs folded, long traces cut", (t) => {
  const lines = backtraceLines([frame("~lib/tsxen/runtime/panic/panic"), frame("~lib/tsxen/runtime/panic/tsxenAbort"), frame("app/f"), frame("app/f"), frame("app/g")]);
  t.deepEqual(lines, ["  at app.ts f (2 times)", "  at app.ts g"]);
  const many = Array.from({ length: MAX_FRAMES + 5 }, (_, i) => frame(`app/f${i}`));
  const cut = backtraceLines(many);
  t.equal(cut.length, MAX_FRAMES + 1);
  t.equal(cut[MAX_FRAMES], "  ... 5 more frames");
  t.equal(trapReason("unreachable executed", [frame("~lib/rt/tlsf/growMemory"), frame("app/f")]), "out of memory");
  t.equal(trapReason("unreachable executed", [frame("app/f")]), "unreachable executed");
  t.end();
});
