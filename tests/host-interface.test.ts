// The xen.* host interface is declared in four places that must agree:
// tools/host-interface.ts (the table the build checks against),
// runtime/host.ts (AssemblyScript declarations), runtime/native/imports.c
// (under Xen) and sim/host.ts (in Node).
import test from "tape";
import fs from "node:fs";
import { HOST_FUNCTIONS, HOSTOP_MEMORY_GROW, HOSTOP_MEMORY_LIMIT, HOSTOP_BOOT_TSC, HOSTOP_SUSPEND } from "../tools/host-interface.ts";
import { SimGuest } from "../sim/host.ts";

const AS_TYPES: Record<string, string> = { i32: "i32", u32: "i32", usize: "i32", bool: "i32", i64: "i64", u64: "i64", f64: "f64", f32: "f32", void: "" };

test("host interface: runtime/host.ts declares exactly the table's functions and signatures", (t) => {
  const source = fs.readFileSync("runtime/host.ts", "utf8");
  const declared = new Map<string, string>();
  const re = /@external\("xen", "(\w+)"\)\s*export declare function \w+\(([^)]*)\): (\w+);/g;
  for (const m of source.matchAll(re)) {
    const params = m[2].split(",").map((p) => p.trim()).filter(Boolean).map((p) => AS_TYPES[p.split(":")[1].trim()]);
    declared.set(m[1], `(${params.join(",")})->(${AS_TYPES[m[3]]})`);
  }
  const table = new Map(Object.entries(HOST_FUNCTIONS).map(([name, f]) => [name, `(${f.params.join(",")})->(${f.results.join(",")})`]));
  t.deepEqual([...declared.entries()].sort(), [...table.entries()].sort());
  t.end();
});

test("host interface: the native runtime implements every function", (t) => {
  const source = fs.readFileSync("runtime/native/imports.c", "utf8");
  for (const name of Object.keys(HOST_FUNCTIONS)) t.ok(source.includes(` Z_xenZ_${name}(`), `imports.c defines Z_xenZ_${name}`);
  t.end();
});

test("host interface: the sim provides every function and nothing else (but AssemblyScript's rtrace hooks, for test builds instrumented with \"allocations\")", (t) => {
  const imports = (new SimGuest() as unknown as { imports(): WebAssembly.Imports }).imports();
  t.deepEqual(Object.keys(imports).sort(), ["rtrace", "xen"]);
  t.deepEqual(Object.keys(imports.xen).sort(), Object.keys(HOST_FUNCTIONS).sort());
  t.end();
});

test("host interface: the memory-growth host operation is the same number in the transform, the table and the native runtime", (t) => {
  const transform = /export const HOSTOP_MEMORY_GROW = (-?\d+);/.exec(fs.readFileSync("tools/memory-grow-transform.mjs", "utf8"));
  t.equal(Number(transform?.[1]), HOSTOP_MEMORY_GROW, "tools/memory-grow-transform.mjs");
  t.ok(fs.readFileSync("runtime/native/kernel.h", "utf8").includes(`#define HOSTOP_MEMORY_GROW (${HOSTOP_MEMORY_GROW})`), "kernel.h defines the same number");
  t.ok(fs.readFileSync("runtime/native/kernel.h", "utf8").includes(`#define HOSTOP_MEMORY_LIMIT (${HOSTOP_MEMORY_LIMIT})`), "and the memory limit's");
  t.ok(fs.readFileSync("runtime/host.ts", "utf8").includes(`export const HOSTOP_MEMORY_LIMIT: i32 = ${HOSTOP_MEMORY_LIMIT};`), "runtime/host.ts declares the same for the runtime");
  t.ok(fs.readFileSync("runtime/native/kernel.h", "utf8").includes(`#define HOSTOP_BOOT_TSC (${HOSTOP_BOOT_TSC})`), "and the boot TSC's");
  t.ok(fs.readFileSync("runtime/host.ts", "utf8").includes(`export const HOSTOP_BOOT_TSC: i32 = ${HOSTOP_BOOT_TSC};`), "and the boot TSC's, in runtime/host.ts");
  t.ok(fs.readFileSync("runtime/native/kernel.h", "utf8").includes(`#define HOSTOP_SUSPEND (${HOSTOP_SUSPEND})`), "and the suspend's");
  t.ok(fs.readFileSync("runtime/host.ts", "utf8").includes(`export const HOSTOP_SUSPEND: i32 = ${HOSTOP_SUSPEND};`), "and the suspend's, in runtime/host.ts");
  t.end();
});
