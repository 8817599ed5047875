// Shared scaffolding of the real-Xen test files: each file boots the rig
// once for all its scenarios (lazily, on its first test), and each test
// looks up its scenario's result. Every scenario runs in both boot modes
// (the same image as type = "pv" and as type = "pvh"): inModes() doubles a
// scenario list, modeTest() registers a test per mode, named "xen [pv]: …"
// and "xen [pvh]: …". TSXEN_SKIP_XEN=1 turns every real-Xen test into a
// reported skip; otherwise a rig that fails is a failure.
import test from "tape";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { RunResult, Scenario, ScenarioResult } from "../../tools/rig/harness.ts";

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

export class RigTest {
  readonly tmp: string;
  private run: Promise<RunResult> | null = null;

  // `boot` builds the images into `tmp` and runs the scenarios.
  constructor(prefix: string, private readonly boot: (tmp: string) => Promise<RunResult>) {
    this.tmp = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    test.onFinish(() => fs.rmSync(this.tmp, { recursive: true, force: true }));
  }

  result(): Promise<RunResult> {
    this.run ??= this.boot(this.tmp);
    return this.run;
  }

  // The result of scenario `name`, after asserting that the rig ran to the end.
  async scenario(t: test.Test, name: string): Promise<ScenarioResult | undefined> {
    const r = await this.result();
    t.equal(r.outcome, "done", `the rig ran to the end${r.failure ? ` (${r.failure})` : ""}`);
    const s = r.results.find((x) => x.name === name);
    t.ok(s, `scenario ${name} reported`);
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
