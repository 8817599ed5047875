// tsxen init (tools/init.ts): the files of a new project, named for its
// directory and depending on this tsxen; a non-empty directory is refused
// unless --force, which adds only what is missing. The project's own test
// runs in tests/package.test.ts, against the packed package.
import test from "tape";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { initProject, InitError } from "../../tools/init.ts";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "tsxen-init-test-"));
test.onFinish(() => fs.rmSync(tmp, { recursive: true, force: true }));
const quiet = (): void => {};

test("init: a project with package.json, src/main.ts, tsconfig, a test, a CI workflow and a README", (t) => {
  const dir = path.join(tmp, "My App");
  const written = initProject({ dir, log: quiet });
  t.deepEqual([...written].sort(), [".github/workflows/test.yml", ".gitignore", "README.md", "package.json", "src/main.ts", "test/app.test.mjs", "tsconfig.json"]);
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8"));
  const version = JSON.parse(fs.readFileSync("package.json", "utf8")).version;
  t.equal(pkg.name, "my-app", "named for the directory");
  t.deepEqual(pkg.dependencies, { tsxen: `^${version}` }, "depends on this tsxen");
  t.equal(pkg.scripts.test, "node --test test/");
  t.equal(JSON.parse(fs.readFileSync(path.join(dir, "tsconfig.json"), "utf8")).extends, "assemblyscript/std/assembly.json", "AssemblyScript's types for editors");
  t.match(fs.readFileSync(path.join(dir, "README.md"), "utf8"), /^# my-app\n/, "the README has the name");
  t.match(fs.readFileSync(path.join(dir, ".github/workflows/test.yml"), "utf8"), /container: debian:12[\s\S]*npm test/, "CI runs npm test in Debian 12");
  t.match(fs.readFileSync(path.join(dir, "src/main.ts"), "utf8"), /export function main\(\): void/);
  t.end();
});

test("init: refuses a non-empty directory; --force adds only the missing files", (t) => {
  const dir = path.join(tmp, "existing");
  fs.mkdirSync(path.join(dir, "src"), { recursive: true });
  fs.writeFileSync(path.join(dir, "src/main.ts"), "// mine\n");
  t.throws(() => initProject({ dir, log: quiet }), InitError, "refused without --force");
  t.equal(fs.readdirSync(dir).length, 1, "nothing written");
  const written = initProject({ dir, force: true, log: quiet });
  t.notOk(written.includes("src/main.ts"), "src/main.ts kept");
  t.equal(fs.readFileSync(path.join(dir, "src/main.ts"), "utf8"), "// mine\n", "unchanged");
  t.ok(written.includes("package.json"), "the rest written");
  const file = path.join(tmp, "a-file");
  fs.writeFileSync(file, "");
  t.throws(() => initProject({ dir: file, log: quiet }), /is not a directory/);
  t.end();
});
