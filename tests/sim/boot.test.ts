// The runtime's boot paths in the simulated host: start_info parsing and
// checks, console output over the ring (and console_io as dom0), exit codes
// and traps, with the same wasm bytes that run under Xen.
import test from "tape";
import { runInSim } from "../../sim/host.ts";
import * as SI from "../../runtime/abi/start_info.ts";
import { wasmOf } from "./helpers.ts";

const hello = () => wasmOf("examples/hello/main.ts");
const trap = () => wasmOf("examples/trap/main.ts");

test("sim: hello reads start_info and powers off", async (t) => {
  const r = await runInSim(await hello(), { memoryMB: 64, consoleEvtchn: 7, storeEvtchn: 5 });
  t.equal(r.reason, "poweroff");
  t.deepEqual(r.console.split("\n"), [
    "Hello from tsxen!",
    "RAM: 16384 pages (64 MiB)",
    "console event channel: 7",
    "xenstore event channel: 5",
    "booted in 2 us (from the first instruction to main)",
    "",
  ]);
});

test("sim: the command line from start_info reaches the app", async (t) => {
  const r = await runInSim(await hello(), { cmdline: "answer=42 mode=test" });
  t.ok(r.console.includes("command line: answer=42 mode=test\n"));
});

test("sim: as the initial domain, output goes through console_io", async (t) => {
  const r = await runInSim(await hello(), { initialDomain: true });
  t.equal(r.reason, "poweroff");
  t.ok(r.console.startsWith("Hello from tsxen!\n"), r.console.split("\n")[0]);
});

test("sim: a start_info with a bad magic is refused with a panic", async (t) => {
  const r = await runInSim(await hello(), {
    editStartInfo: (v, at) => v.setUint8(at + SI.START_INFO_MAGIC + 4, "9".charCodeAt(0)),
  });
  t.equal(r.reason, "crash");
  const lines = r.console.split("\n");
  t.equal(lines[0], "panic: bad start_info magic 'xen-9.0-x86_64'");
  t.match(lines[1], /^  at runtime\/start_info\.ts(:\d+)? startInfo$/, "then the backtrace: where start_info was read");
});

test("sim: a start_info with nr_pages out of range is refused", async (t) => {
  for (const pages of [0n, 1n << 40n]) {
    const r = await runInSim(await hello(), {
      editStartInfo: (v, at) => v.setBigUint64(at + SI.START_INFO_NR_PAGES, pages, true),
    });
    t.equal(r.reason, "crash", `nr_pages=${pages}: crash`);
    t.match(r.console, /panic: start_info\.nr_pages out of range/, `nr_pages=${pages}: says why`);
  }
});

test("sim: a domU start_info without a console page is refused", async (t) => {
  const r = await runInSim(await hello(), {
    editStartInfo: (v, at) => v.setBigUint64(at + SI.START_INFO_CONSOLE_MFN, 0n, true),
  });
  t.equal(r.reason, "crash");
  // Without a console the panic goes to the host's panic hook, which still prints it.
  t.match(r.console, /panic: start_info has no console or xenstore page/);
});

test("sim: the console ring wraps without losing or reordering a byte", async (t) => {
  const r = await runInSim(await wasmOf("tests/apps/chatty.ts"));
  const lines = r.console.split("\n");
  t.equal(r.reason, "poweroff");
  t.equal(lines.length, 302, "300 lines, the drop report and a final newline");
  let intact = true;
  for (let i = 0; i < 300; i++) if (lines[i] !== `line ${i} `.padEnd(59, ".")) intact = false;
  t.ok(intact, "every line arrives intact and in order (18 KB through a 2 KB ring)");
  t.equal(lines[300], "dropped 0");
});

test("sim: a console backend that stops reading never hangs the guest", async (t) => {
  const r = await runInSim(await wasmOf("tests/apps/chatty.ts"), { stallConsole: true });
  t.equal(r.reason, "poweroff", "the guest still finishes");
  t.equal(r.console, "", "nothing was read");
  t.ok(r.hypercalls < 1_000_000, `bounded waiting (${r.hypercalls} hypercalls)`);
});

for (const [mode, message] of [
  ["oob", "trap: out of bounds memory access"],
  ["div0", "trap: integer divide by zero"],
  ["abort", "panic: the guest has RAM at "],
] as const) {
  test(`sim: trap example (${mode}) reports the fault and crashes`, async (t) => {
    const r = await runInSim(await trap(), { cmdline: mode });
    t.equal(r.reason, "crash");
    const lines = r.console.trim().split("\n");
    t.equal(lines[0], `trap example: about to fault (${mode})`);
    t.ok(lines[1]?.startsWith(message), lines[1]);
    t.match(lines[2] ?? "", /^  at examples\/trap\/main\.ts(:\d+)? main$/, "the backtrace starts in main");
    t.ok(lines.slice(2).every((l) => l.startsWith("  at ")), "nothing but the backtrace runs after the fault");
  });
}
