// Shared scaffolding of the real-Xen test files. Every file loaded in one
// test process contributes its scenarios (and builds their images) through
// a RigTest; the first test that asks for a result boots the rig once, with
// every contributed scenario, and each test looks up its scenario's result.
// (One boot of Xen + dom0 for the whole suite, not one per file; under
// tests/run.ts the images are built before the first test and the rig runs
// alongside the unit and sim tests.) Every
// scenario runs in both boot modes (the same image as type = "pv" and as
// type = "pvh"): inModes() doubles a scenario list, modeTest() registers a
// test per mode, named "xen [pv]: …" and "xen [pvh]: …". A file may also
// ask for rig options (libvirt's tree, host disks, forwards): they are
// merged into the one boot. TSXEN_SKIP_XEN=1
// turns every real-Xen test into a reported skip; otherwise a rig that
// fails is a failure.
import test from "tape";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { build, type BuildOptions } from "../../tools/build.ts";
import { buildOf } from "../sim/helpers.ts";
import { runScenarios, type RigOptions, type RunResult, type Scenario, type ScenarioResult } from "../../tools/rig/harness.ts";
import { beforeRun } from "../before-run.ts";

export const skipXen = process.env.TSXEN_SKIP_XEN === "1";

export type BootMode = "pv" | "pvh";
export const BOOT_MODES: BootMode[] = ["pv", "pvh"];

// A scenario's name in `mode`: PV keeps the name, PVH appends "-pvh".
export function inMode(name: string, mode: BootMode): string {
  return mode === "pv" ? name : `${name}-pvh`;
}

// Each scenario once per mode (all PV runs first, then all PVH runs).
export function inModes(scenarios: Scenario[], modes: BootMode[] = BOOT_MODES): Scenario[] {
  return modes.flatMap((mode) => scenarios.map((s) => ({ ...s, name: inMode(s.name, mode), type: mode })));
}

// Builds `entry` into the image `output` (quietly); resolves to `output`.
// The wasm comes from the sim tests' cache (tests/sim/helpers.ts): one asc
// compile per app serves the sim tests and the image. `more`: more build
// options (devices, libvirt).
export async function buildImage(entry: string, output: string, more: Partial<BuildOptions> = {}): Promise<string> {
  const { wasm } = await buildOf(entry);
  await build({ ...more, entry, output, prebuilt: wasm, log: () => {} });
  return output;
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
  buildErrors: new Map<RigTest, string>(),
  options: [] as RigOptions[],
  buildMs: 0,
  reported: false,
};

// Each file builds its images (concurrently: gcc runs while asc compiles
// the next app); a file whose build fails loses its scenarios, not the run.
async function buildAll(): Promise<Scenario[]> {
  const t0 = Date.now();
  const lists = await Promise.all(session.parts.map(async (part) => {
    try {
      const scenarios = await part.scenarios(part.tmp);
      if (part.options) session.options.push(await part.options(part.tmp));
      return scenarios;
    } catch (e) {
      session.buildErrors.set(part, e instanceof Error ? e.message : String(e));
      return [];
    }
  }));
  session.buildMs = Date.now() - t0;
  return lists.flat();
}

// Builds, then boots the rig once with every scenario.
function startSession(): Promise<RunResult> {
  session.built ??= buildAll();
  session.run ??= session.built.then((scenarios) => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "tsxen-xen-rig-"));
    test.onFinish(() => fs.rmSync(tmp, { recursive: true, force: true }));
    // TSXEN_SERIAL_LOG=<file> keeps the timestamped serial log (Xen, dom0, guests).
    return runScenarios(scenarios, { ...mergedOptions(session.options), log: process.env.TSXEN_SERIAL_LOG || path.join(tmp, "serial.log") });
  });
  // A run that cannot start (a bad scenario) fails the tests that await it,
  // not the process (beforeRun starts it before any test awaits).
  session.run.catch(() => undefined);
  return session.run;
}

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

// Under tests/run.ts (see tests/before-run.ts): build the images before the
// first test runs, with the main thread to ourselves (asc runs on it), then
// boot the rig while the unit and sim tests run. Not when Xen is skipped.
if (!skipXen) {
  beforeRun.push(() => {
    void startSession();
    return session.built!.then(() => undefined);
  });
}

export class RigTest {
  readonly tmp: string;

  // `scenarios` builds the images into `tmp` and returns this file's
  // scenarios; `options`, run after it, what the file needs of the rig.
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
      t.comment(`rig: images built in ${(session.buildMs / 1000).toFixed(0)} s; QEMU ran ${(r.totalMs / 1000).toFixed(0)} s for ${r.results.length} scenarios (Xen + dom0 up after ${((r.bootMs ?? 0) / 1000).toFixed(0)} s)`);
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
