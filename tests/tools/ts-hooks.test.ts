// tools/ts-hooks.mjs: TypeScript transpiled once per file version into
// tsxen's cache (ts/), reused by the next process, redone when the file
// changes; TSXEN_CACHE_DIR=off caches nothing.
import test from "tape";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { execFileSync } from "node:child_process";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "tsxen-ts-hooks-test-"));
test.onFinish(() => fs.rmSync(tmp, { recursive: true, force: true }));
const register = path.resolve("tools/ts-register.mjs");

// Runs main.ts (which imports part.ts) in a new Node process with the hooks.
function runMain(cacheDir: string): string {
  return execFileSync(process.execPath, ["--import", register, path.join(tmp, "main.ts")], {
    encoding: "utf8", env: { ...process.env, TSXEN_CACHE_DIR: cacheDir },
  }).trim();
}
const entries = (dir: string): string[] => (fs.existsSync(dir) ? fs.readdirSync(dir).sort() : []);

test("ts hooks: transpiled once, reused by the next process, transpiled again when the file changes", (t) => {
  fs.writeFileSync(path.join(tmp, "part.ts"), `export const n: number = 1;\n`);
  fs.writeFileSync(path.join(tmp, "main.ts"), `import { n } from "./part.ts";\nconst label: string = "n =";\nconsole.log(label, n);\n`);
  const cache = path.join(tmp, "cache");
  t.equal(runMain(cache), "n = 1", "runs");
  const first = entries(path.join(cache, "ts"));
  t.equal(first.length, 2, "two modules cached in ts/");
  t.equal(runMain(cache), "n = 1", "runs again");
  t.deepEqual(entries(path.join(cache, "ts")), first, "from the cache: nothing new written");
  fs.writeFileSync(path.join(tmp, "part.ts"), `export const n: number = 2;\n`);
  t.equal(runMain(cache), "n = 2", "a changed file runs as changed");
  t.equal(entries(path.join(cache, "ts")).length, 3, "one new entry, for it");
  t.equal(runMain("off"), "n = 2", "TSXEN_CACHE_DIR=off runs too");
  t.notOk(fs.existsSync(path.resolve("off")), "and writes no cache (not even a directory named off)");
  t.end();
});
