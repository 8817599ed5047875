// The test runner behind `make test`: loads the given tape test files (or
// every tests/**/*.test.ts), lets tape print its TAP, and ends with the
// plain summary line CI reads: "N passed, N failed[, N skipped]".
// Counts are tape assertions; a skipped test (e.g. real Xen unavailable)
// counts as skipped, never as passed.
import test from "tape";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { createRequire } from "node:module";
import { EventEmitter } from "node:events";
import { beforeRun } from "./before-run.ts";

// One gcc object cache for the run (tools/object-cache.ts), empty at the
// start, so that a run costs what it costs on a clean machine; the builds in
// this process and in the ones it starts (the package test's project) share
// it. TSXEN_CACHE_DIR set by the caller wins.
if (!process.env.TSXEN_CACHE_DIR) {
  const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), "tsxen-test-objects-"));
  process.env.TSXEN_CACHE_DIR = cacheDir;
  process.on("exit", () => fs.rmSync(cacheDir, { recursive: true, force: true }));
}

// Each test file that makes temporary files registers a test.onFinish
// cleanup, a listener on tape's results: more than Node's default 10.
EventEmitter.defaultMaxListeners = 64;

// tape 5 has wait() and run(); @types/tape 5.8 does not declare them.
const harness = test as typeof test & { wait(): void; run(): void };

function findTests(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return findTests(full);
    return entry.name.endsWith(".test.ts") ? [full] : [];
  });
}

// tape runs tests one at a time, in the order their files load. The package
// test (child processes: npm, tsc, a project's own build, sim and rig) runs
// in the background while the others run, and its tests come last.
const runsLast = (f: string): boolean => f.endsWith(`${path.sep}package.test.ts`);
const all = findTests(path.dirname(new URL(import.meta.url).pathname)).sort();
const files = process.argv.slice(2).length ? process.argv.slice(2) : [...all.filter((f) => !runsLast(f)), ...all.filter(runsLast)];
let passed = 0;
let failed = 0;
let skipped = 0;
// Hold tape until every file has registered its tests (the files load
// asynchronously), then count the TAP lines as they pass through.
harness.wait();
let pending = "";
// TSXEN_TEST_TIMES=1: at the end, the slowest tests on stderr (wall time; the
// rig runs alongside).
const timings = process.env.TSXEN_TEST_TIMES === "1" ? [] as { title: string; at: number }[] : null;
if (timings) {
  // tape runs one test at a time: each test's span runs from its start to the next one's
  const TapeTest = createRequire(import.meta.url)("tape/lib/test") as { prototype: { run(): void; name: string } };
  const run = TapeTest.prototype.run;
  TapeTest.prototype.run = function (this: { name: string }) {
    timings.push({ title: this.name, at: performance.now() });
    return run.call(this);
  };
}
const tap = test.createStream();
tap.on("data", (chunk: string | Buffer) => {
  process.stdout.write(chunk);
  pending += chunk.toString();
  const lines = pending.split("\n");
  pending = lines.pop() ?? "";
  for (const line of lines) {
    if (/^ok \d+.*# SKIP/.test(line)) skipped++;
    else if (/^ok \d+/.test(line)) passed++;
    else if (/^not ok \d+/.test(line)) failed++;
  }
});
// When tape's stream ends, after its own closing lines, so ours is the last line.
tap.on("end", () => {
  if (timings?.length) {
    timings.push({ title: "(end)", at: performance.now() });
    const spans = timings.slice(0, -1).map((t, i) => ({ title: t.title, ms: timings[i + 1].at - t.at }));
    const slowest = spans.filter((s) => !s.title.startsWith("(")).sort((a, b) => b.ms - a.ms).slice(0, 40);
    process.stderr.write(`slowest tests (first at ${(timings[0].at / 1000).toFixed(0)} s, end at ${(timings.at(-1)!.at / 1000).toFixed(0)} s):\n`);
    for (const s of slowest) process.stderr.write(`${(s.ms / 1000).toFixed(1).padStart(7)} s  ${s.title.slice(0, 110)}\n`);
  }
  console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
  if (failed > 0 || passed === 0) process.exitCode = 1;
});
// With real-Xen tests among the files, their largest image starts
// compiling first, while the files load (tests/xen/rig-test.ts).
if (files.some((f) => path.resolve(f).includes(`${path.sep}tests${path.sep}xen${path.sep}`))) (await import("./xen/rig-test.ts")).compileProbeEarly();
for (const file of files) await import(pathToFileURL(path.resolve(file)).href);
await Promise.all(beforeRun.map((hook) => hook()));
harness.run();
