// The runtime's boot paths in the simulated host, booted as PV and as PVH:
// start_info / hvm_start_info parsing and checks, the HVM parameters,
// console output over the ring (and console_io as dom0), exit codes and
// traps, with the same wasm bytes that run under Xen.
import test from "tape";
import { runInSim } from "../../sim/host.ts";
import * as SI from "../../runtime/abi/start_info.ts";
import * as HSI from "../../runtime/abi/hvm_start_info.ts";
import * as HVM from "../../runtime/abi/hvm.ts";
import { SimGuest } from "../../sim/host.ts";
import * as L from "../../sim/layout.ts";
import { guestModule, wasmOf, willBuild } from "./helpers.ts";

// The apps these tests build, compiled ahead of time (tests/sim/helpers.ts).
willBuild("examples/hello/main.ts");
willBuild("examples/trap/main.ts");
willBuild("tests/apps/boot-info.ts");
willBuild("tests/apps/chatty.ts");

const hello = () => wasmOf("examples/hello/main.ts");
const trap = () => wasmOf("examples/trap/main.ts");
const MODES = ["pv", "pvh"] as const;

for (const mode of MODES) {
  test(`sim [${mode}]: hello reads its start info and powers off`, async (t) => {
    const r = await runInSim(await hello(), { mode, memoryMB: 64, consoleEvtchn: 7, storeEvtchn: 5 });
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

  test(`sim [${mode}]: the command line reaches the app`, async (t) => {
    const r = await runInSim(await hello(), { mode, cmdline: "answer=42 mode=test" });
    t.ok(r.console.includes("command line: answer=42 mode=test\n"));
  });

  test(`sim [${mode}]: as the initial domain, output goes through console_io`, async (t) => {
    const r = await runInSim(await hello(), { mode, initialDomain: true });
    t.equal(r.reason, "poweroff");
    t.ok(r.console.startsWith("Hello from tsxen!\n"), r.console.split("\n")[0]);
  });

  test(`sim [${mode}]: startInfo() tells the mode, the memory map, the rings and how grants name pages`, async (t) => {
    const r = await runInSim(await wasmOf("tests/apps/boot-info.ts"), { mode, memoryMB: 40, cmdline: "a b" });
    const lines = r.console.trim().split("\n");
    t.equal(r.reason, "poweroff");
    t.equal(lines[0], `boot-info: mode ${mode}, magic ${mode === "pv" ? "xen-3.0-x86_64" : "336ec578"}, 10240 pages, flags 0`);
    t.equal(lines[1], "boot-info: region 0x0 size 0x2800000 type 1", "RAM from 0, 40 MiB");
    if (mode === "pvh") {
      t.equal(lines[2], "boot-info: region 0xfeff8000 size 0x8000 type 2", "the special pages' reserved region");
      t.ok(lines.includes("boot-info: console frame 0xfefff at 0x2000 port 2"), "the console ring: a special frame, seen at its window page");
      t.ok(lines.includes("boot-info: xenstore frame 0xfeffc at 0x3000 port 1"), "the xenstore ring likewise");
      t.ok(lines.includes("boot-info: shared_info at 0x4000, p2m 0x0"), "no p2m");
      t.ok(lines.some((l) => /^boot-info: page 0x([0-9a-f]+)000 is frame 0x\1 in a grant, grants in use 0$/.test(l)), "a grant names a page by its guest frame");
    } else {
      t.ok(lines.includes("boot-info: console frame 0x5a5a7 at 0x2000 port 2"), "the console ring: a machine frame, mapped at its pfn");
      const page = /^boot-info: page 0x([0-9a-f]+) is frame 0x([0-9a-f]+) in a grant, grants in use 0$/.exec(lines.find((l) => l.includes(" in a grant")) ?? "");
      t.ok(page && L.pfnToMfn(parseInt(page[1], 16) >> 12) === parseInt(page[2], 16), "a grant names a page by its machine frame (p2m)");
    }
    t.ok(lines.includes("boot-info: cmdline 'a b'"));
    t.match(lines.at(-1) ?? "", /^grow: \d+ MiB grown, memory (39|40) MiB, RAM 40 MiB, 0 pages not zeroed$/, "memory grows to the RAM's end, zeroed");
  });

  test(`sim [${mode}]: the console ring wraps without losing or reordering a byte`, async (t) => {
    const app = await guestModule("tests/apps/chatty.ts");
    const r = await runInSim(app.wasm, { mode, cmdline: app.cmdline });
    const lines = r.console.split("\n");
    t.equal(r.reason, "poweroff");
    t.equal(lines.length, 302, "300 lines, the drop report and a final newline");
    let intact = true;
    for (let i = 0; i < 300; i++) if (lines[i] !== `line ${i} `.padEnd(59, ".")) intact = false;
    t.ok(intact, "every line arrives intact and in order (18 KB through a 2 KB ring)");
    t.equal(lines[300], "dropped 0");
  });

  for (const [fault, message] of [
    ["oob", "trap: out of bounds memory access"],
    ["div0", "trap: integer divide by zero"],
    ["abort", "panic: the guest has RAM at "],
  ] as const) {
    test(`sim [${mode}]: trap example (${fault}) reports the fault and crashes`, async (t) => {
      const r = await runInSim(await trap(), { mode, cmdline: fault });
      t.equal(r.reason, "crash");
      const lines = r.console.trim().split("\n");
      t.equal(lines[0], `trap example: about to fault (${fault})`);
      t.ok(lines[1]?.startsWith(message), lines[1]);
      t.match(lines[2] ?? "", /^  at examples\/trap\/main\.ts(:\d+)? main$/, "the backtrace starts in main");
      t.ok(lines.slice(2).every((l) => l.startsWith("  at ")), "nothing but the backtrace runs after the fault");
    });
  }
}

test("sim [pv]: a start_info with a bad magic is refused with a panic", async (t) => {
  const r = await runInSim(await hello(), {
    editStartInfo: (v, at) => v.setUint8(at + SI.START_INFO_MAGIC + 4, "9".charCodeAt(0)),
  });
  t.equal(r.reason, "crash");
  const lines = r.console.split("\n");
  t.equal(lines[0], "panic: bad start_info magic 'xen-9.0-x86_64'");
  t.match(lines[1], /^  at runtime\/start_info\.ts(:\d+)? startInfo$/, "then the backtrace: where start_info was read");
});

test("sim [pv]: a start_info with nr_pages out of range is refused", async (t) => {
  for (const pages of [0n, 1n << 40n]) {
    const r = await runInSim(await hello(), {
      editStartInfo: (v, at) => v.setBigUint64(at + SI.START_INFO_NR_PAGES, pages, true),
    });
    t.equal(r.reason, "crash", `nr_pages=${pages}: crash`);
    t.match(r.console, /panic: start_info\.nr_pages out of range/, `nr_pages=${pages}: says why`);
  }
});

test("sim [pv]: a domU start_info without a console page is refused", async (t) => {
  const r = await runInSim(await hello(), {
    editStartInfo: (v, at) => v.setBigUint64(at + SI.START_INFO_CONSOLE_MFN, 0n, true),
  });
  t.equal(r.reason, "crash");
  // Without a console the panic goes to the host's panic hook, which still prints it.
  t.match(r.console, /panic: start_info has no console or xenstore page/);
});

test("sim [pvh]: an hvm_start_info without a memory map (version 0, or no entries, or outside memory) is refused", async (t) => {
  const edits: [string, (v: DataView, at: number) => void][] = [
    ["version 0", (v, at) => v.setUint32(at + HSI.HVM_START_INFO_VERSION, 0, true)],
    ["no entries", (v, at) => v.setUint32(at + HSI.HVM_START_INFO_MEMMAP_ENTRIES, 0, true)],
    ["a map past wasm memory", (v, at) => v.setBigUint64(at + HSI.HVM_START_INFO_MEMMAP_PADDR, 1n << 40n, true)],
    ["a huge entry count", (v, at) => v.setUint32(at + HSI.HVM_START_INFO_MEMMAP_ENTRIES, 0xffffffff, true)],
  ];
  for (const [what, edit] of edits) {
    const r = await runInSim(await hello(), { mode: "pvh", editStartInfo: edit });
    t.equal(r.reason, "crash", `${what}: crash`);
    t.match(r.console, /panic: hvm_start_info has no memory map \(version 1 needed\)/, `${what}: says why`);
  }
});

test("sim [pvh]: a memory map with too much or no RAM is refused", async (t) => {
  for (const [what, size] of [["no RAM", 0n], ["2 TiB", 1n << 41n]] as const) {
    const r = await runInSim(await hello(), {
      mode: "pvh",
      editStartInfo: (v, at) => {
        const map = Number(v.getBigUint64(at + HSI.HVM_START_INFO_MEMMAP_PADDR, true));
        v.setBigUint64(map + HSI.HVM_MEMMAP_ENTRY_SIZE, size, true);
      },
    });
    t.equal(r.reason, "crash", `${what}: crash`);
    t.match(r.console, /panic: the PVH memory map's RAM out of range/, `${what}: says why`);
  }
});

test("sim [pvh]: a command line address outside wasm memory is ignored, not followed", async (t) => {
  const r = await runInSim(await hello(), {
    mode: "pvh", cmdline: "x",
    editStartInfo: (v, at) => v.setBigUint64(at + HSI.HVM_START_INFO_CMDLINE_PADDR, 0xfffff000n, true),
  });
  t.equal(r.reason, "poweroff");
  t.notOk(r.console.includes("command line:"), "no command line");
});

test("sim [pvh]: without the HVM parameters for the rings the guest refuses to run", async (t) => {
  const g = new SimGuest({ mode: "pvh" });
  await g.start(await hello());
  g.hv.hvmParams.delete(HVM.HVM_PARAM_STORE_PFN);
  const r = await g.run();
  t.equal(r.reason, "crash");
  t.match(r.console, /panic: the HVM parameters name no console or xenstore ring/);
});

test("sim: a console backend that stops reading never hangs the guest", async (t) => {
  const app = await guestModule("tests/apps/chatty.ts");
  const r = await runInSim(app.wasm, { stallConsole: true, cmdline: app.cmdline });
  t.equal(r.reason, "poweroff", "the guest still finishes");
  t.equal(r.console, "", "nothing was read");
  t.ok(r.hypercalls < 1_000_000, `bounded waiting (${r.hypercalls} hypercalls)`);
});
