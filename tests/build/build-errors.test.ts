// tsxen build on bad input: every failure names its cause, exits through a
// typed error, and writes no image.
import test from "tape";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { build, BuildError } from "../../tools/build.ts";
import { findTool, MissingToolError } from "../../tools/toolchain.ts";
import { WasmCheckError } from "../../tools/wasm-check.ts";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "tsxen-build-test-"));
const quiet = () => {};

function app(name: string, source: string): string {
  const file = path.join(tmp, `${name}.ts`);
  fs.writeFileSync(file, source);
  return file;
}

async function buildError(t: test.Test, entry: string, output: string): Promise<Error | null> {
  try {
    await build({ entry, output, log: quiet });
  } catch (e) {
    t.notOk(fs.existsSync(output), "no image was written");
    return e as Error;
  }
  t.fail("the build succeeded");
  return null;
}

test("build: an asc type error gives asc's message and no image", async (t) => {
  const entry = app("typeerr", `export function main(): void { let x: i32 = "not a number"; }\n`);
  const err = await buildError(t, entry, path.join(tmp, "typeerr.xen"));
  t.ok(err instanceof BuildError, "a BuildError");
  t.match(err?.message ?? "", /asc failed/, "says asc failed");
  t.match(err?.message ?? "", /TS2322|not assignable/, "carries asc's diagnostic");
});

test("build: an app without main() is refused by asc", async (t) => {
  const entry = app("nomain", `export function start(): void {}\n`);
  const err = await buildError(t, entry, path.join(tmp, "nomain.xen"));
  t.match(err?.message ?? "", /nomain\.ts does not export main: tsxen calls the app's `export function main\(\): void`$/, "says main is not exported");
  t.notOk(/entry\.ts/.test(err?.message ?? ""), "nothing about the generated entry.ts");
});

test("build: a main() without `export` is named as such", async (t) => {
  const entry = app("noexport", `import { log } from "tsxen";\nfunction main(): void { log("hi"); }\n`);
  const err = await buildError(t, entry, path.join(tmp, "noexport.xen"));
  t.match(err?.message ?? "", /noexport\.ts does not export main: .* \(main is declared without `export`\)/, err?.message);
});

test("build: a main() with parameters is refused with the expected signature", async (t) => {
  const entry = app("argmain", `export function main(n: i32): void {}\n`);
  const err = await buildError(t, entry, path.join(tmp, "argmain.xen"));
  t.match(err?.message ?? "", /argmain\.ts: main must be `export function main\(\): void` \(no parameters\)/, "says what main must look like");
});

test("build: an import the host does not provide is named", async (t) => {
  const entry = app("foreign", `@external("env", "gettimeofday") declare function gettimeofday(): i32;\nexport function main(): void { gettimeofday(); }\n`);
  const err = await buildError(t, entry, path.join(tmp, "foreign.xen"));
  t.ok(err instanceof WasmCheckError, "a WasmCheckError");
  t.match(err?.message ?? "", /env\.gettimeofday/, "names the import");
});

test("build: a host function imported with the wrong signature is named", async (t) => {
  const entry = app("badsig", `@external("xen", "rdtsc") declare function rdtsc(): i32;\nexport function main(): void { rdtsc(); }\n`);
  const err = await buildError(t, entry, path.join(tmp, "badsig.xen"));
  t.match(err?.message ?? "", /xen\.rdtsc as \(\) -> \(i32\), but the host provides \(\) -> \(i64\)/, "names both signatures");
});

test("build: a missing entry file and a bad domain name are reported", async (t) => {
  const err1 = await buildError(t, path.join(tmp, "absent.ts"), path.join(tmp, "absent.xen"));
  t.match(err1?.message ?? "", /no such file/);
  const entry = app("ok", `export function main(): void {}\n`);
  const err2 = await buildError(t, entry, path.join(tmp, "bad name!.xen"));
  t.match(err2?.message ?? "", /not a usable domain name/);
});

test("toolchain: a missing program names its Debian package", (t) => {
  for (const [tool, pkg] of [["nasm", "nasm"], ["wasm2c", "wabt"], ["gcc", "gcc"], ["ld", "binutils"]] as const) {
    try {
      findTool(tool, "/nonexistent");
      t.fail(`${tool} found in an empty PATH`);
    } catch (e) {
      t.ok(e instanceof MissingToolError, `${tool}: MissingToolError`);
      t.match((e as Error).message, new RegExp(`apt-get install ${pkg}`), `${tool}: apt-get install ${pkg}`);
    }
  }
  t.end();
});

test("build: missing nasm stops the build before anything is written", async (t) => {
  const saved = process.env.PATH;
  process.env.PATH = "/nonexistent";
  try {
    const entry = app("nonasm", `export function main(): void {}\n`);
    const err = await buildError(t, entry, path.join(tmp, "nonasm.xen"));
    t.ok(err instanceof MissingToolError, "a MissingToolError");
    t.notOk(fs.existsSync(path.join(tmp, "nonasm.xen.d")), "no work directory either");
  } finally {
    process.env.PATH = saved;
  }
});

test.onFinish(() => fs.rmSync(tmp, { recursive: true, force: true }));

test("build: memory below 4 MiB is refused before compiling (Xen's PV builder maps the first 4 MiB)", async (t) => {
  const output = path.join(tmp, "tiny.xen");
  try {
    await build({ entry: "examples/hello/main.ts", output, memoryMB: 3, log: quiet });
    t.fail("the build succeeded");
  } catch (e) {
    t.ok(e instanceof BuildError, "a BuildError");
    t.match((e as Error).message, /memory must be a whole number of MiB, at least 4 \(got 3\)/, (e as Error).message);
    t.notOk(fs.existsSync(output), "no image was written");
  }
});
