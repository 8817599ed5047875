// Shared scaffolding of the real-Xen test files. Every file loaded in one
// test process contributes its scenarios (and builds their images) through
// a RigTest; once every file's images are built, the rig boots once with
// every scenario, and each test looks up its scenario's result.
// (One boot of Xen + dom0 for the whole suite, not one per file; under
// tests/run.ts the images are built before the first test and the rig runs
// alongside the unit and sim tests.) A scenario runs in both boot modes
// (the same image as type = "pv" and as type = "pvh") when the mode changes
// what it tests, as PV otherwise (see MODE_INDEPENDENT): inModes() repeats a
// scenario list per mode, modeTest() registers a test per mode, named
// "xen [pv]: …" and "xen [pvh]: …". A file may also
// ask for rig options (libvirt's tree, host disks, forwards): they are
// merged into the one boot. TSXEN_SKIP_XEN=1
// turns every real-Xen test into a reported skip; otherwise a rig that
// fails is a failure.
import test from "tape";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { build, DEFAULT_RUNTIME, type BuildOptions } from "../../tools/build.ts";
import { memoryBaseFor } from "../../tools/host-interface.ts";
import { buildOf, aheadOfTime, XEN_PROBE } from "../sim/helpers.ts";
import { runScenarios, type RigOptions, type RunResult, type Scenario, type ScenarioResult } from "../../tools/rig/harness.ts";
import { beforeRun } from "../before-run.ts";

export const skipXen = process.env.TSXEN_SKIP_XEN === "1";

export type BootMode = "pv" | "pvh";
export const BOOT_MODES: BootMode[] = ["pv", "pvh"];

// A scenario's name in `mode`: PV keeps the name, PVH appends "-pvh".
export function inMode(name: string, mode: BootMode): string {
  return mode === "pv" ? name : `${name}-pvh`;
}

// The modes of a scenario that only repeats mode-independent logic. What the
// boot mode changes is tested in both modes by make test: the boot path and
// start info, the memory layout and memory.grow, CPU faults, the console
// and xenstore rings, the grant table and the devices' rings, shutdown,
// reboot, suspend and migration. A software trap and its backtrace,
// hot-plug, jumbo frames, statistics and the collector's soak run the same
// code above those in either mode: as PV in make test (each PVH run costs
// the rig's one emulated CPU as much as the PV one), and in both modes with
// TSXEN_XEN_MODES=all (make test-full).
export const MODE_INDEPENDENT: BootMode[] = process.env.TSXEN_XEN_MODES === "all" ? BOOT_MODES : ["pv"];

// Each scenario once per mode (all PV runs first, then all PVH runs).
export function inModes(scenarios: Scenario[], modes: BootMode[] = BOOT_MODES): Scenario[] {
  return modes.flatMap((mode) => scenarios.map((s) => ({ ...s, name: inMode(s.name, mode), type: mode })));
}

// Builds `entry` into the image `output` (quietly); resolves to `output`.
// The wasm comes from the sim tests' cache (tests/sim/helpers.ts): one asc
// compile per app serves the sim tests and the image. `more`: more build
// options (devices, libvirt). An image two files ask for with the same
// options is built once and copied (gcc takes ~10 s of CPU per image).
// At most two images are in gcc at once (this machine's cores).
const images = new Map<string, Promise<string>>();
const nativeSlots = { free: 2, waiting: [] as (() => void)[] };
async function inNativeSlot<T>(work: () => Promise<T>, first = false): Promise<T> {
  if (nativeSlots.free > 0) nativeSlots.free--;
  else await new Promise<void>((resolve) => (first ? nativeSlots.waiting.unshift(resolve) : nativeSlots.waiting.push(resolve)));
  try {
    return await work();
  } finally {
    const next = nativeSlots.waiting.shift();
    if (next) next();
    else nativeSlots.free++;
  }
}
// TSXEN_TEST_TIMES=1: when each image's wasm was ready and its gcc ran (s
// since the process started), on stderr once the images are built.
const imageTimes = process.env.TSXEN_TEST_TIMES === "1" ? [] as string[] : null;
const sinceStart = (): string => (performance.now() / 1000).toFixed(0);
// The image of the same wasm (entry and memory base) built last: an image
// of it with other options waits for it, then takes every object from gcc's
// object cache instead of holding a native slot while it waits.
const sameWasm = new Map<string, Promise<unknown>>();
export async function buildImage(entry: string, output: string, more: Partial<BuildOptions> = {}): Promise<string> {
  const key = JSON.stringify([entry, more]);
  let built = images.get(key);
  if (!built) {
    const memoryBase = memoryBaseFor(more.memoryMB ?? 32);
    const compiled = buildOf(entry, DEFAULT_RUNTIME, "none", memoryBase);
    // The probe image's asc and then its gcc are the images' longest chain:
    // the other images' gcc waits until the probe's wasm is built, so that
    // until then its asc shares the cores only with the other images' asc.
    const wasmKey = `${entry} ${memoryBase}`;
    const earlier = sameWasm.get(wasmKey)?.catch(() => undefined);
    const before = Promise.all([compiled, entry === XEN_PROBE ? undefined : buildOf(XEN_PROBE).catch(() => undefined), earlier]).then(([c]) => c);
    built = before.then(async ({ wasm }) => {
      const ready = sinceStart();
      let gcc = "";
      await inNativeSlot(() => ((gcc = sinceStart()), build({ ...more, entry, output, prebuilt: wasm, memoryBase, log: () => {} })), entry === XEN_PROBE);
      imageTimes?.push(`${path.basename(output)}: wasm at ${ready} s, native build ${gcc}-${sinceStart()} s`);
      return output;
    });
    images.set(key, built);
    sameWasm.set(wasmKey, built);
  }
  const first = await built;
  if (first !== output) fs.copyFileSync(first, output);
  return output;
}

// A dom0 tool from tests/xen/tools/<name>.c (udpcheck, tcpcheck, pinggap,
// udpflood), built static for dom0's busybox userland once per process
// (into the first asking file's tmp) and shared by every scenario's files.
const dom0Tools = new Map<string, string>();
export function dom0Tool(name: string, tmp: string): string {
  let out = dom0Tools.get(name);
  if (!out) {
    out = path.join(tmp, name);
    execFileSync("gcc", ["-static", "-O2", "-Wall", "-o", out, `tests/xen/tools/${name}.c`]);
    dom0Tools.set(name, out);
  }
  return out;
}

// tests/apps/xen-probe.ts: the test apps whose real-Xen scenarios share one
// image, picked by xl's extra = "probe=<app> <its arguments>" (probeExtra).
export { XEN_PROBE };
export function xenProbeImage(tmp: string): Promise<string> {
  return buildImage(XEN_PROBE, path.join(tmp, "xen-probe.xen"));
}
export function probeExtra(app: string, args = ""): string {
  return `extra = "probe=${app}${args ? " " + args : ""}"`;
}

// udpcheck summaries with every datagram echoed intact. A retry (no echo
// within 500 ms, sent again) is a timing matter on this shared, emulated
// machine, not a failure: it is reported as a comment.
export function udpOk(t: { comment(s: string): void }, out: string[], count: number): number {
  const re = new RegExp(`^udpcheck: sent ${count}, echoed ${count} intact, lost 0, retries (\\d+), mismatched 0$`);
  const ok = out.map((l) => re.exec(l)).filter((m) => m !== null);
  for (const m of ok) if (m[1] !== "0") t.comment(`udpcheck needed ${m[1]} retries (late echoes under host load)`);
  for (const l of out) if (l.startsWith("udpcheck:") && !re.test(l)) t.comment(l);
  return ok.length;
}

// The one rig boot of this process: every RigTest's scenarios.
const session = {
  parts: [] as RigTest[],
  built: null as Promise<Scenario[]> | null,
  run: null as Promise<RunResult> | null,
  started: null as Promise<void> | null,   // QEMU running (or the run over)
  buildErrors: new Map<RigTest, string>(),
  buildMs: 0,
  sessionMs: 0,   // from the images built to the rig's result
  reported: false,
};

// Builds every file's images (asc in the test suite's worker threads, two
// gcc at a time in other processes), then boots the rig once with every
// file's scenarios and rig options; a file whose build fails loses its
// scenarios, not the run.
// Booting the rig first and handing it each file's scenarios as soon as they
// were built (over a 9p spool) was tried and measured slower on this 2-core
// machine: a clean-clone .ci/run 7 min 35 s and 795 s of CPU (npm ci
// included), against make test this way 6 min 49 s and 717 s; QEMU, asc,
// gcc and the sim tests all competing at once cost more CPU.
function startSession(): Promise<RunResult> {
  if (session.run) return session.run;
  const t0 = Date.now();
  session.built = Promise.all(session.parts.map(async (part) => {
    try {
      return await part.scenarios(part.tmp);
    } catch (e) {
      session.buildErrors.set(part, e instanceof Error ? e.message : String(e));
      return [];
    }
  })).then((lists) => {
    session.buildMs = Date.now() - t0;
    if (imageTimes) process.stderr.write(`images (since the test process started):\n${imageTimes.map((l) => `  ${l}\n`).join("")}`);
    return lists.flat();
  });
  let started = (): void => {};
  session.started = new Promise<void>((resolve) => (started = resolve));
  session.run = session.built.then(async (scenarios) => {
    const t1 = Date.now();
    const options = await Promise.all(session.parts.map((part) => part.options?.(part.tmp) ?? {}));
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "tsxen-xen-rig-"));
    test.onFinish(() => fs.rmSync(tmp, { recursive: true, force: true }));
    // TSXEN_SERIAL_LOG=<file> keeps the timestamped serial log (Xen, dom0, guests).
    // QEMU's one emulated CPU is the suite's critical path: as root, QEMU
    // runs at nice -10. By CFS's weights that keeps its vCPU thread on a
    // core of its own against four runnable threads at nice 0 (the sim
    // tests' thread, the asc workers, gcc), where -5 would leave it about
    // 0.85 of one. (Computed, not measured: the day's runs were too noisy
    // to tell -5 and -10 apart.)
    const result = await runScenarios(scenarios, { ...mergedOptions(options), log: process.env.TSXEN_SERIAL_LOG || path.join(tmp, "serial.log"), nice: RIG_NICE, onStarted: started });
    session.sessionMs = Date.now() - t1;
    return result;
  });
  // A run that cannot start (a bad scenario) fails the tests that await it,
  // not the process (beforeRun starts it before any test awaits).
  session.run.catch(() => undefined).finally(started);
  return session.run;
}

const RIG_NICE = -10;

// The files' rig options as one. Host disks are numbered in order
// (/dev/tsxen-disk<N>), so only one file may bring them; the prepared rig
// with libvirt's tree serves every scenario.
function mergedOptions(all: RigOptions[]): RigOptions {
  if (all.filter((o) => o.disks?.length).length > 1) throw new Error("rig-test: only one test file may give dom0 host disks");
  const handlers = all.map((o) => o.onConsole).filter((h) => h !== undefined);
  return {
    rig: all.find((o) => o.rig)?.rig,
    shares: all.flatMap((o) => o.shares ?? []),
    disks: all.flatMap((o) => o.disks ?? []),
    forwards: all.flatMap((o) => o.forwards ?? []),
    onConsole: handlers.length ? (scenario, line) => { for (const h of handlers) h(scenario, line); } : undefined,
  };
}

// tests/run.ts calls this before it loads the test files: the probe image,
// the real-Xen tests' largest (asc ~12 s, gcc ~26 s of its app.c), starts
// compiling in an asc worker while the main thread loads and transpiles
// them; its gcc goes ahead of any other image waiting (buildImage).
export function compileProbeEarly(): void {
  if (!skipXen) buildOf(XEN_PROBE).catch(() => undefined);
}

// Under tests/run.ts (see tests/before-run.ts): build the images before the
// first test runs, then boot the rig while the unit and sim tests run. Not
// when Xen is skipped. (Letting the tests start at once, their compiles
// queued behind the images', was measured slower: the images took 294 s
// instead of 163 s, in a run that also shared the machine with a 53 s
// build, and the rig started that much later.)
// The sim tests' ahead-of-time compiles (tests/sim/helpers.ts willBuild)
// wait until the images are built: while the probe's gcc runs, the other
// images' gcc keeps the second core busy.
if (!skipXen) {
  aheadOfTime.held = true;
  beforeRun.push(() => {
    // no real-Xen test file loaded (tests/package.test.ts alone imports this
    // module for imagesBuilt): no images, no rig boot
    if (session.parts.length === 0) {
      aheadOfTime.set(2);
      return;
    }
    void startSession();
    // The tests wait until QEMU runs, not only until the images are built:
    // a sim test holds the main thread for seconds at a time, and the rig's
    // start (its options, the initramfs) waited behind them (19 s once).
    return session.built!.then(() => aheadOfTime.set(2)).then(() => session.started!);
  });
}

// Resolves once the images are built (at once when Xen is skipped or no
// file has scenarios): work that should not compete with the builds waits
// for it (tests/package.test.ts).
export function imagesBuilt(): Promise<void> {
  return (session.built ?? Promise.resolve()).then(() => undefined, () => undefined);
}

export class RigTest {
  readonly tmp: string;

  // `scenarios` builds the images into `tmp` (with buildImage) and returns
  // this file's scenarios; `options`, run after it, what the file needs of
  // the rig.
  constructor(
    prefix: string, readonly scenarios: (tmp: string) => Promise<Scenario[]>,
    readonly options?: (tmp: string) => Promise<RigOptions>,
  ) {
    this.tmp = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    test.onFinish(() => fs.rmSync(this.tmp, { recursive: true, force: true }));
    session.parts.push(this);
  }

  result(): Promise<RunResult> {
    return startSession();
  }

  // The result of scenario `name`, after asserting that the rig ran to the end.
  async scenario(t: test.Test, name: string): Promise<ScenarioResult | undefined> {
    const r = await this.result();
    if (!session.reported) {
      session.reported = true;
      t.comment(`rig: images built in ${(session.buildMs / 1000).toFixed(0)} s; then the rig took ${(session.sessionMs / 1000).toFixed(0)} s, of which QEMU ran ${(r.totalMs / 1000).toFixed(0)} s for ${r.results.length} scenarios (Xen + dom0 up after ${((r.bootMs ?? 0) / 1000).toFixed(0)} s)`);
    }
    const buildError = session.buildErrors.get(this);
    if (buildError) t.fail(`building this file's images failed: ${buildError}`);
    t.equal(r.outcome, "done", `the rig ran to the end${r.failure ? ` (${r.failure})` : ""}`);
    if (r.outcome !== "done") t.comment(`last serial lines:\n${r.serialLog.trimEnd().split("\n").slice(-30).join("\n")}`);
    const s = r.results.find((x) => x.name === name);
    t.ok(s?.reported, `scenario ${name} reported`);
    // dom0 counts the lines it sends: a line lost on the serial line is the rig's fault, said so here
    t.equal(s?.lostLines, 0, `every console and check line of ${name} arrived`);
    if (s) t.comment(`${name}: ${s.elapsedMs} ms from xl create to the result`);
    if (s?.error) t.comment(`${name}: ${s.error}`);
    if (s && s.checkRc !== null && s.checkRc !== 0) t.comment(`${name} dom0 check output:\n${s.checkOutput.join("\n")}`);
    return s;
  }

  test(name: string, fn: (t: test.Test) => Promise<void>): void {
    this.register(`xen: ${name}`, fn);
  }

  // One test per boot mode; `fn` gets the mode (see inMode for the scenario name).
  modeTest(name: string, fn: (t: test.Test, mode: BootMode) => Promise<void>, modes: BootMode[] = BOOT_MODES): void {
    for (const mode of modes) this.register(`xen [${mode}]: ${name}`, (t) => fn(t, mode));
  }

  private register(title: string, fn: (t: test.Test) => Promise<void>): void {
    test(title, async (t) => {
      if (skipXen) {
        t.skip("real Xen skipped (TSXEN_SKIP_XEN=1)");
        return;
      }
      await fn(t);
    });
  }
}
