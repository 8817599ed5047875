// Golden values: every numeric constant in runtime/abi/*.ts is checked
// against Xen's public C headers from Debian's libxen-dev (xen/xen.h,
// sched.h, event_channel.h, grant_table.h, errno.h, io/console.h,
// io/xs_wire.h: the HEADERS list in abi-table.ts). The test writes a C file
// that prints each C expression in tests/golden/abi-table.ts, compiles it
// with the host gcc (x86_64: the guest's ABI) and compares. It also fails
// when an export has no table entry, so no constant goes unchecked.
import test from "tape";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { GOLDEN, HEADERS, NOT_IN_HEADERS } from "./abi-table.ts";

const ABI_DIR = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../../runtime/abi");

// name -> value and name -> module, over every runtime/abi/*.ts module.
const ours = new Map<string, unknown>();
const moduleOf = new Map<string, string>();
for (const file of fs.readdirSync(ABI_DIR).filter((f) => f.endsWith(".ts")).sort()) {
  const mod: Record<string, unknown> = await import(pathToFileURL(path.join(ABI_DIR, file)).href);
  for (const [name, value] of Object.entries(mod)) {
    if (moduleOf.has(name) && ours.get(name) !== value) throw new Error(`${name} is exported by ${moduleOf.get(name)} and ${file} with different values`);
    ours.set(name, value);
    moduleOf.set(name, file);
  }
}

// Compiles and runs the generated C file; returns name -> value, or throws
// with the Debian package to install.
function evaluateInC(): Map<string, number> {
  if (process.arch !== "x64") throw new Error(`host is ${process.arch}: the golden values need an x86_64 host (the guest's ABI)`);
  for (const h of HEADERS) {
    if (!fs.existsSync(`/usr/include/${h}`)) throw new Error(`/usr/include/${h} missing: install the Debian package libxen-dev (apt-get install -y --no-install-recommends libxen-dev)`);
  }
  try {
    execFileSync("gcc", ["--version"], { stdio: "ignore" });
  } catch {
    throw new Error("gcc not found: install the Debian package gcc (apt-get install -y --no-install-recommends gcc)");
  }
  const c = [
    // The latest interface, as a current guest uses it: with the default
    // (legacy, 0) interface, xen.h renames __HYPERVISOR_sched_op and
    // __HYPERVISOR_event_channel_op to their old _compat numbers.
    "#define __XEN_TOOLS__ 1",
    "#include <stddef.h>",
    "#include <stdint.h>",
    "#include <stdio.h>",
    ...HEADERS.map((h) => `#include <${h}>`),
    "int main(void) {",
    ...Object.entries(GOLDEN).map(([name, expr]) => `  printf("%s %lld\\n", "${name}", (long long)(${expr}));`),
    "  return 0;",
    "}",
  ].join("\n");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsxen-abi-golden-"));
  try {
    fs.writeFileSync(path.join(dir, "golden.c"), c);
    try {
      execFileSync("gcc", ["-m64", "-Wall", "-o", path.join(dir, "golden"), path.join(dir, "golden.c")], { stdio: "pipe" });
    } catch (e) {
      throw new Error(`gcc failed on the generated C (headers from libxen-dev):\n${(e as { stderr?: Buffer }).stderr ?? e}`);
    }
    const out = execFileSync(path.join(dir, "golden"), { encoding: "utf8" });
    return new Map(out.trim().split("\n").map((line) => {
      const [name, value] = line.split(" ");
      return [name, Number(value)] as const;
    }));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test("abi golden: every runtime/abi export has a golden check", (t) => {
  // Numbers need a C expression in GOLDEN (or an entry in NOT_IN_HEADERS
  // saying why not); anything else needs an entry in NOT_IN_HEADERS.
  const unchecked = [...ours].filter(([name, value]) => !(name in NOT_IN_HEADERS) && !(typeof value === "number" && name in GOLDEN));
  t.deepEqual(unchecked.map(([name]) => `${moduleOf.get(name)}: ${name}`), [], "every export has an entry in tests/golden/abi-table.ts");
  const stale = [...Object.keys(GOLDEN), ...Object.keys(NOT_IN_HEADERS)].filter((name) => !ours.has(name));
  t.deepEqual(stale, [], "every table entry is still exported by runtime/abi");
  t.end();
});

test("abi golden: non-C values", (t) => {
  for (const [name, { value }] of Object.entries(NOT_IN_HEADERS)) t.equal(ours.get(name), value, name);
  const magic = ours.get("START_INFO_MAGIC_PREFIX") as string;
  t.ok(magic.length < (ours.get("START_INFO_MAGIC_LEN") as number), "START_INFO_MAGIC_PREFIX fits start_info.magic with its NUL");
  t.end();
});

test("abi golden: values match the Xen headers (gcc, x86_64)", (t) => {
  let theirs: Map<string, number>;
  try {
    theirs = evaluateInC();
  } catch (e) {
    t.fail((e as Error).message);
    t.end();
    return;
  }
  for (const name of Object.keys(GOLDEN)) {
    t.equal(ours.get(name), theirs.get(name), `${name} = ${GOLDEN[name]}`);
  }
  t.end();
});
