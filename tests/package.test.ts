// The package as a user gets it: `npm pack`, then a new project outside the
// repo (`tsxen init`) that installs the tarball and runs its own test, which
// builds the app, runs it in the sim and under real Xen (one rig boot), each
// time with a vif and a disk, talking to it through --forward. Also: the
// tarball holds what build/sim/run need and nothing from tests/, the
// installed tsxen's own `init` works, and the project's tsconfig gives tsc
// (what editors run) the AssemblyScript and tsxen types without an error.
//
// All of it is child processes (npm, tsc, the project's own test and its rig)
// and takes a minute and more: it starts in the background once the real-Xen
// images are built (tests/before-run.ts), and tests/run.ts runs this file's
// tests last, so the other tests run meanwhile instead of waiting on it.
import test from "tape";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { skipXen, imagesBuilt } from "./xen/rig-test.ts";
import { beforeRun } from "./before-run.ts";

const run = promisify(execFile);
// The project's type check is not on the way to its test (the suite's last):
// it runs beside it, at nice 5.
const niced = (command: string, args: string[], cwd: string) => run("nice", ["-n", "5", command, ...args], { cwd });
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "tsxen-package-test-"));
test.onFinish(() => fs.rmSync(tmp, { recursive: true, force: true }));
const app = path.join(tmp, "my-app");
const again = path.join(tmp, "again");

type Output = { stdout: string; stderr: string; code?: number };
// A child's output, also when it fails (the tests say what failed).
const output = (p: Promise<Output>): Promise<Output> => p.catch((e: Output) => e);

// Each step of the pipeline, started in order in the background.
async function pipeline() {
  const pack = await run("npm", ["pack", "--json", "--pack-destination", tmp], { maxBuffer: 16 << 20 });
  const [info] = JSON.parse(pack.stdout) as [{ filename: string; size: number; files: { path: string }[] }];
  const tarball = path.join(tmp, info.filename);
  const install = (async () => {
    await run(process.execPath, ["tools/tsxen.mjs", "init", app]);
    const t0 = Date.now();
    await run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", tarball], { cwd: app });
    const ms = Date.now() - t0;
    // the installed tsxen's own init writes the same project (compared now:
    // the project's test later adds build/ to it)
    await run(path.join(app, "node_modules", ".bin", "tsxen"), ["init", again]);
    const list = (d: string): string[] => fs.readdirSync(d, { recursive: true }).map(String).filter((f) => !f.startsWith("node_modules") && fs.statSync(path.join(d, f)).isFile()).sort();
    return { ms, initFiles: list(app).filter((f) => f !== "package-lock.json"), againFiles: list(again) };
  })();
  const tsc = install.then(() => output(niced(path.join(app, "node_modules", ".bin", "tsc"), ["--noEmit", "-p", "."], app)));
  const projectTest = install.then(async () => {
    const t0 = Date.now();
    const r = await output(run("npm", ["test"], { cwd: app, env: process.env, maxBuffer: 64 << 20 }));
    return { ...r, ms: Date.now() - t0 };
  });
  // A step that fails is reported by the test that awaits it, not as an
  // unhandled rejection before that test runs.
  for (const step of [install, tsc, projectTest]) step.catch(() => undefined);
  return { info, install, tsc, projectTest };
}

let started: ReturnType<typeof pipeline> | null = null;
const steps = () => (started ??= pipeline());
beforeRun.push(() => {
  void imagesBuilt().then(steps).catch(() => undefined); // a failure is reported by the tests below
});

test("package: npm pack ships the CLI, runtime, drivers, sim, rig and init template, and nothing from tests/", async (t) => {
  const { info } = await steps();
  const files = info.files.map((f) => f.path);
  for (const f of ["tools/tsxen.mjs", "tools/cli.ts", "tools/sim-worker.mjs", "tools/rig/harness.ts", "tools/rig/rig.sh", "tools/rig/dom0/init.sh",
    "tools/init-template/src/main.ts", "tools/init-template/test/app.test.mjs", "sim/machine.ts", "runtime/native/boot_pv.c", "runtime/native/boot_pvh.c", "boot/shim.asm", "index.ts"]) {
    t.ok(files.includes(f), f);
  }
  t.deepEqual(files.filter((f) => f.startsWith("tests/") || f.startsWith("examples/")), [], "no tests/ or examples/");
  const imports = files.filter((f) => /\.(ts|mjs)$/.test(f)).filter((f) => /from ["'](\.\.\/)+tests\//.test(fs.readFileSync(f, "utf8")));
  t.deepEqual(imports, [], "no shipped file imports from tests/");
  t.comment(`tarball ${info.filename}: ${(info.size / 1024).toFixed(0)} KiB, ${files.length} files`);
});

test("package: tsxen init makes a project outside the repo that installs the tarball", async (t) => {
  const { install } = await steps();
  const { ms, initFiles, againFiles } = await install;
  t.comment(`npm install of the tarball: ${(ms / 1000).toFixed(1)} s`);
  const pkg = JSON.parse(fs.readFileSync(path.join(app, "package.json"), "utf8"));
  t.match(pkg.dependencies.tsxen, /^file:.*tsxen-.*\.tgz$/, "depends on the tarball");
  t.ok(fs.existsSync(path.join(app, "node_modules", "tsxen", "tools", "rig", "harness.ts")), "installed with the rig");
  t.deepEqual(againFiles, initFiles, "the installed tsxen init writes the same files");
});

test("package: the project's tsconfig type-checks src/main.ts with the AssemblyScript and tsxen types", async (t) => {
  const r = await (await steps()).tsc;
  t.equal(`${r.stdout}${r.stderr}`.trim(), "", "tsc: no diagnostics");
});

test("package: the project's own test (npm test) builds, sims and runs the app with a vif, a disk and a forward", async (t) => {
  const r = await (await steps()).projectTest;
  t.comment(`npm test in the project: ${(r.ms / 1000).toFixed(1)} s (alongside the other tests)`);
  const out = `${r.stdout}${r.stderr}`;
  const count = (what: string): number => Number(new RegExp(`^# ${what} (\\d+)$`, "m").exec(out)?.[1] ?? -1);
  if (count("fail") !== 0) t.comment(out);
  t.equal(count("fail"), 0, "no failures");
  t.ok(/^ok \d+ - sim: stores a note and answers$/m.test(out), "sim: the note is stored and answered");
  if (skipXen) {
    t.ok(/^ok \d+ - xen: .* # SKIP/m.test(out), "xen: skipped (TSXEN_SKIP_XEN=1)");
    t.skip("real Xen skipped (TSXEN_SKIP_XEN=1)");
  } else {
    t.ok(/^ok \d+ - xen: finds the sim's note on the disk and stores a second$/m.test(out), "xen: the sim's note found, a second stored");
    t.equal(count("skipped"), 0, "nothing skipped");
  }
});
