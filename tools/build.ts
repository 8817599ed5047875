// tsxen build: AssemblyScript app -> bootable x86-64 Xen image; the same
// image boots as type = "pv" and as type = "pvh" (boot/shim.asm has both
// entry points); the xl config written beside it says which (PV by default).
//
//   app.ts --asc--> app.wasm --binaryen check--> --wasm2c--> app.c
//   app.c + runtime/native/*.c --gcc -O3 -ffreestanding--> *.o
//   boot/shim.asm --nasm--> shim.o;  ld -T boot/tsxen.ld --> image (ELF + Xen notes)
//
// Intermediate files stay in <image>.d/ for inspection. The image and its
// xl config are written only when every step succeeded.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { checkWasm } from "./wasm-check.ts";
import { findTool } from "./toolchain.ts";
import { ObjectCache, defaultCacheDir } from "./object-cache.ts";
import { checkImage } from "./elf-notes.ts";
import { ENTRY_EXPORT, START_EXPORT, DEFAULT_MEMORY_BASE, memoryBaseFor } from "./host-interface.ts";
import { WasmSourceMap } from "./source-map.ts";
import { functionExports, functionNames, withoutCustomSections } from "./wasm-sections.ts";
import { symtabSource, wasmFunctionCode, type Symtab } from "./symtab.ts";
import { sizeXlLines, xlDiskLine, xlVifLine, type DiskSpec, type VifSpec } from "./devices.ts";
import { domainXml } from "./libvirt.ts";

const run = promisify(execFile);
export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const NATIVE = path.join(REPO, "runtime", "native");

// Wasm static data starts here; below it lie the kernel image (at 1 MiB) and
// Xen's bootstrap data (p2m list, start_info, page tables). See ARCHITECTURE.md.
export { DEFAULT_MEMORY_BASE };
// The memory's declared maximum: 4 GiB, what wasm32 allows anyway. Declared
// so that the sim can lower it to the guest's RAM in place (tools/wasm-sections.ts
// withMemoryMax); under Xen the RAM the runtime mapped is the limit.
const MAX_MEMORY_PAGES = 65536;
// Native stack frames per wasm call are small; 1000 calls fit the 256 KiB
// boot stack (boot/shim.asm) with room to spare.
const MAX_CALL_DEPTH = 1000;

// The AssemblyScript runtimes an app can be built with (ARCHITECTURE.md,
// "Memory model"): a collector by default; `stub` never frees.
export const RUNTIMES = ["incremental", "minimal", "stub"] as const;
export type Runtime = (typeof RUNTIMES)[number];
export const DEFAULT_RUNTIME: Runtime = "incremental";
// Sim-only builds for tests (never for images): "allocations" has the
// allocator report every block to the host (AssemblyScript's rtrace hooks,
// imported from module "rtrace"), "stress" also exports the collector so the
// host can force a full collection at every hypercall (and fill what it frees
// with garbage, so a raw address into freed memory cannot go unnoticed).
export type Instrument = "none" | "allocations" | "stress";

export interface BuildOptions {
  entry: string;          // the app's .ts file; it must export `function main(): void`
  runtime?: Runtime;      // default DEFAULT_RUNTIME
  output: string;         // the image path; the xl config goes to <output>.cfg
  name?: string;          // the xl domain name (default: the output's base name)
  memoryMB?: number;      // memory= in the xl config (default 32)
  type?: GuestType;       // type= in the xl config (default "pv"); the image is the same
  memoryBase?: number;    // where wasm memory starts (default: memoryBaseFor(memoryMB), or the default with prebuilt)
  log?: (line: string) => void;
  // Devices and command line for the xl config (and the libvirt domain):
  devices?: ConfigDevices;
  libvirt?: boolean;      // also write <output>.xml, a libvirt domain (tools/libvirt.ts)
  // The module buildWasm already made for this entry, memory base and
  // runtime: asc is skipped (the test suite compiles each app once for the
  // sim and the image). It is checked again like a fresh one.
  prebuilt?: Uint8Array;
  // gcc's object cache (tools/object-cache.ts): default TSXEN_CACHE_DIR or
  // ~/.cache/tsxen/objects; null: compile everything.
  cacheDir?: string | null;
}

export interface ConfigDevices {
  vifs?: VifSpec[];
  disks?: DiskSpec[];
  bridge?: string;        // the vifs' bridge (xl default if unset; xenbr0 in the libvirt domain)
  extra?: string;         // the guest's command line (xl extra=)
}

export interface BuildResult {
  image: string;
  config: string;
  wasmBytes: number;
  imageBytes: number;
  symtabBytes: number;    // how much larger the image is with the backtrace symbol table
  workDir: string;
  libvirtXml?: string;
  objectsFromCache: number; // gcc objects reused from the object cache (tools/object-cache.ts), the symbol table's included
}

export class BuildError extends Error {}

// Xen's two ways to boot a tsxen image (xl's `type`).
export type GuestType = "pv" | "pvh";

const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;

function domainName(opts: BuildOptions): string {
  const name = opts.name ?? path.basename(opts.output).replace(/\.[^.]*$/, "");
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)) {
    throw new BuildError(`'${name}' is not a usable domain name (letters, digits, '_', '.', '-')`);
  }
  return name;
}

// Imports of "tsxen" and "tsxen/<path>" resolve to this repository (the
// package's AssemblyScript entry is index.ts at its root): asc asks for
// node_modules/tsxen/<path>.ts in every parent directory.
function resolvePackageImport(name: string): string | null {
  const m = /^(?:\.\.\/)*node_modules\/tsxen\/(.*)$/.exec(name);
  return m ? path.join(REPO, m[1]) : null;
}

// The generated entry module. asc compiles it as if it lay in the directory
// tsxen runs in (it is also written to the work dir, for inspection), so that
// asc's names for the app's files, which backtraces print, are relative to
// that directory ("examples/hello/main.ts"), whatever the work dir.
export const ENTRY_FILE = "tsxen-entry.ts";

function entrySource(appModule: string): string {
  return (
    `// Generated by tsxen build: listens for xl shutdown/reboot, runs the app's\n` +
    `// main(), then the event loop while the app has timers or devices, then exits 0.\n` +
    `import { main } from "${appModule}";\n` +
    `import { exit, runLoop, startLifecycle } from "tsxen";\n` +
    `import { markMain } from "tsxen/runtime/boot_time";\n` +
    `export function ${ENTRY_EXPORT}(): void {\n  markMain();\n  startLifecycle();\n  main();\n  runLoop();\n  exit(0);\n}\n`
  );
}

export interface CompiledWasm {
  wasm: Uint8Array;             // with a name section (asc --debug) and a sourceMappingURL section
  sourceMap: WasmSourceMap;     // its sources are asc's paths ("examples/hello/main.ts", "~lib/tsxen/runtime/log.ts", …)
}

// asc: -O3 for images; `debugBuild` (tsxen sim --inspect) leaves the code
// unoptimised, so every line, call and local of the source is there to step
// through. Names and the source map never change the code (--debug only adds
// the name section).
async function compileWasm(entry: string, workDir: string, memoryBase: number, debugBuild: boolean, runtime: Runtime, instrument: Instrument): Promise<CompiledWasm> {
  const baseDir = process.cwd();
  let appModule = path.relative(baseDir, entry).replace(/\.ts$/, "");
  if (!appModule.startsWith(".")) appModule = "./" + appModule;
  const source = entrySource(appModule);
  fs.writeFileSync(path.join(workDir, "entry.ts"), source);
  const diagnostics: string[] = [];
  const sink = { write: (s: string | Uint8Array) => { diagnostics.push(String(s)); return true; } };
  // Loaded when first needed: tsxen run, and tsxen sim of a module or an
  // image, never compile (about a second of CPU saved at their start).
  const { default: asc } = await import("assemblyscript/asc");
  const { error } = await asc.main(
    [
      ENTRY_FILE, "--baseDir", baseDir, "--outFile", "app.wasm", "--textFile", "app.wat", "--sourceMap", "--debug",
      ...(debugBuild ? [] : ["-O3"]), "--runtime", runtime, "--memoryBase", String(memoryBase), "--maximumMemory", String(MAX_MEMORY_PAGES),
      "--use", "abort=~lib/tsxen/runtime/panic/tsxenAbort", "--exportStart", START_EXPORT, "--noColors",
      "--transform", path.join(REPO, "tools", "memory-grow-transform.mjs"),
      ...(instrument === "allocations" ? ["--use", "ASC_RTRACE=1"] : instrument === "stress" ? ["--use", "ASC_RTRACE=1", "--exportRuntime"] : []),
    ],
    {
      stdout: sink,
      stderr: sink,
      readFile(name: string, dir: string) {
        if (name === ENTRY_FILE && path.resolve(baseDir, dir) === baseDir) return source;
        const file = resolvePackageImport(name) ?? path.resolve(baseDir, dir, name);
        try {
          return fs.readFileSync(file, "utf8");
        } catch {
          return null;
        }
      },
      // Every output goes to the work dir.
      writeFile(name: string, contents: Uint8Array | string) {
        fs.writeFileSync(path.join(workDir, path.basename(name)), contents);
      },
      listFiles: () => [],
    },
  );
  if (error) throw new BuildError(mainProblem(entry, diagnostics.join("")) ?? `asc failed:\n${diagnostics.join("").trim() || error.message}`);
  return {
    wasm: fs.readFileSync(path.join(workDir, "app.wasm")),
    sourceMap: WasmSourceMap.parse(fs.readFileSync(path.join(workDir, "app.wasm.map"), "utf8")),
  };
}

// asc's errors about the generated entry.ts mean the app's main() is
// missing or has the wrong shape: say so in the app's terms.
function mainProblem(entry: string, diagnostics: string): string | null {
  if (!diagnostics.includes(`in ${ENTRY_FILE}(`)) return null;
  const app = path.relative(process.cwd(), entry) || entry;
  if (/TS2305: Module .* has no exported member 'main'/.test(diagnostics)) {
    const declared = /^\s*function\s+main\s*\(/m.test(fs.readFileSync(entry, "utf8"));
    return `${app} does not export main: tsxen calls the app's \`export function main(): void\`` +
      (declared ? ` (main is declared without \`export\`)` : "");
  }
  return `${app}: main must be \`export function main(): void\` (no parameters); asc says:\n${diagnostics.trim()}`;
}

function wasmRtHeader(): string {
  for (const candidate of ["/usr/include/wasm-rt.h", "/usr/src/wasm2c/wasm-rt.h"]) {
    if (fs.existsSync(candidate)) return candidate;
  }
  throw new BuildError("wasm-rt.h not found (it comes with wasm2c). Install it with: apt-get install wabt");
}

async function gccIncludeDir(gcc: string): Promise<string> {
  return (await run(gcc, ["-print-file-name=include"])).stdout.trim();
}

// Code generation flags for wasm2c's output, shared with the compute
// benchmark (bench/run.ts). Named backtraces (runtime/native/backtrace.c)
// walk frame pointers, and need one native frame per wasm call: gcc must not
// inline one wasm function into another, merge identical ones, or turn a
// call into a jump. (binaryen has already inlined at the wasm level, the
// same in both hosts.)
// (-Os would take udp-echo's image from 308 to 226 KiB, but it lost the
// faulting function's frame in the real-Xen null-pointer backtrace test.)
export const APP_CODEGEN_FLAGS = [
  "-fno-omit-frame-pointer", "-fno-optimize-sibling-calls", "-fno-inline-functions", "-fno-inline-small-functions",
  "-fno-inline-functions-called-once", "-fno-partial-inlining", "-fno-ipa-icf",
];
// The runtime's own C code keeps gcc's inlining, with frame pointers.
const NATIVE_CODEGEN_FLAGS = ["-fno-omit-frame-pointer", "-fno-optimize-sibling-calls"];

async function compileC(cache: ObjectCache, gcc: string, workDir: string, memoryBase: number, src: string, extra: string[]): Promise<string> {
  const flags = [
    "-O3", "-std=gnu11", "-ffreestanding", "-nostdinc", "-isystem", await gccIncludeDir(gcc),
    "-I", path.join(NATIVE, "include"), "-I", NATIVE, "-I", workDir,
    "-fno-pic", "-fno-pie", "-mno-red-zone", "-fno-stack-protector", "-fno-math-errno",
    "-fno-asynchronous-unwind-tables", "-fno-builtin-memcpy-chk", "-Wall", "-Wno-unused-function",
    "-Wno-unused-variable", "-Wno-unused-but-set-variable", "-Wno-array-bounds",
    "-DWASM_RT_MEMCHECK_SIGNAL_HANDLER=0", "-DWASM_RT_USE_STACK_DEPTH_COUNT=1",
    `-DWASM_RT_MAX_CALL_STACK_DEPTH=${MAX_CALL_DEPTH}`, `-DTSXEN_MEMORY_BASE=${memoryBase}UL`, ...extra,
    // __FILE__ in panics names files relative to these, so the image does
    // not depend on where it was built (a --pvh build is byte-identical).
    `-ffile-prefix-map=${workDir}=app`, `-ffile-prefix-map=${REPO}=tsxen`,
  ];
  const obj = path.join(workDir, path.basename(src, ".c") + ".o");
  try {
    await cache.compile(gcc, flags, src, obj);
  } catch (e) {
    throw new BuildError(`gcc failed on ${path.relative(REPO, src) || src}:\n${(e as { stderr?: string }).stderr ?? e}`);
  }
  return obj;
}

async function compileNative(cache: ObjectCache, gcc: string, workDir: string, memoryBase: number): Promise<string[]> {
  const runtime = fs.readdirSync(NATIVE).filter((f) => f.endsWith(".c")).map((f) => path.join(NATIVE, f));
  return Promise.all([
    compileC(cache, gcc, workDir, memoryBase, path.join(workDir, "app.c"), APP_CODEGEN_FLAGS),
    ...runtime.map((src) => compileC(cache, gcc, workDir, memoryBase, src, NATIVE_CODEGEN_FLAGS)),
  ]);
}

async function step<T>(log: (s: string) => void, what: string, fn: () => Promise<T>): Promise<T> {
  const t0 = Date.now();
  const result = await fn();
  log(`tsxen build: ${what} (${Date.now() - t0} ms)`);
  return result;
}

// The devices' xl lines (vif=, disk=, extra=).
function deviceLines(d: ConfigDevices): string[] {
  const lines = [xlVifLine(d.vifs ?? [], d.bridge ? `,bridge=${d.bridge}` : ""), xlDiskLine(d.disks ?? [])];
  if (d.extra) lines.push(`extra = "${d.extra.replace(/["\\]/g, "")}"`);
  return lines.filter((l): l is string => l !== null);
}

export function xlConfig(name: string, image: string, memoryMB: number, devices: ConfigDevices = {}, type: GuestType = "pv"): string {
  return [
    `# xl config for ${name}, written by tsxen build (the image boots as PV or PVH)`,
    `name = "${name}"`,
    `type = "${type}"`,
    `kernel = "${image}"`,
    `memory = ${memoryMB}`,
    ...sizeXlLines(type, memoryMB),
    `vcpus = 1`,
    `on_poweroff = "destroy"`,
    `on_reboot = "restart"`,
    `on_crash = "preserve"`,
    ...deviceLines(devices),
    "",
  ].join("\n");
}

export interface WasmBuild extends CompiledWasm {
  wasmFile: string;
}

// asc + binaryen check: the first half of the pipeline, shared by `tsxen
// build` and `tsxen sim` (`debugBuild`: unoptimised, for the debugger).
export async function buildWasm(
  entryPath: string, workDir: string, memoryBase: number, log: (s: string) => void, debugBuild = false,
  runtime: Runtime = DEFAULT_RUNTIME, instrument: Instrument = "none",
): Promise<WasmBuild> {
  const entry = path.resolve(entryPath);
  if (!fs.existsSync(entry)) throw new BuildError(`${entryPath}: no such file`);
  fs.rmSync(workDir, { recursive: true, force: true });
  fs.mkdirSync(workDir, { recursive: true });
  if (!RUNTIMES.includes(runtime)) throw new BuildError(`unknown runtime '${runtime}' (${RUNTIMES.join(", ")})`);
  const what = `asc ${path.relative(process.cwd(), entry)} -> app.wasm (runtime ${runtime})${debugBuild ? " (debug build: unoptimised)" : ""}`;
  const compiled = await step(log, what, () => compileWasm(entry, workDir, memoryBase, debugBuild, runtime, instrument));
  const code = withoutCustomSections(compiled.wasm).length;
  if (instrument === "none") await step(log, `binaryen check: ${kib(code)} of wasm, imports only the xen host interface`, async () => checkWasm(compiled.wasm));
  return { ...compiled, wasmFile: path.join(workDir, "app.wasm") };
}

export async function build(opts: BuildOptions): Promise<BuildResult> {
  const log = opts.log ?? ((s: string) => console.error(s));
  const output = path.resolve(opts.output);
  const memoryMB = opts.memoryMB ?? 32;
  // A prebuilt module was compiled for the default base (unless told otherwise).
  const memoryBase = opts.memoryBase ?? (opts.prebuilt ? DEFAULT_MEMORY_BASE : memoryBaseFor(memoryMB));
  const name = domainName(opts);
  const type = opts.type ?? "pv";
  if (type !== "pv" && type !== "pvh") throw new BuildError(`type must be "pv" or "pvh" (got ${JSON.stringify(opts.type)})`);
  // 4 MiB: Xen's PV domain builder maps the first 4 MiB and needs them all.
  if (!Number.isInteger(memoryMB) || memoryMB < 4) throw new BuildError(`memory must be a whole number of MiB, at least 4 (got ${opts.memoryMB})`);
  if ((memoryMB << 20) <= memoryBase) throw new BuildError(`memory=${memoryMB} MiB leaves no RAM above the wasm memory base (${memoryBase >> 10} KiB)`);
  const tools = { nasm: findTool("nasm"), wasm2c: findTool("wasm2c"), gcc: findTool("gcc"), ld: findTool("ld"), objcopy: findTool("objcopy") };
  const header = wasmRtHeader();

  const workDir = `${output}.d`;
  let wasm: Uint8Array;
  if (opts.prebuilt) {
    fs.rmSync(workDir, { recursive: true, force: true });
    fs.mkdirSync(workDir, { recursive: true });
    checkWasm(opts.prebuilt);
    wasm = opts.prebuilt;
  } else {
    ({ wasm } = await buildWasm(opts.entry, workDir, memoryBase, log, false, opts.runtime ?? DEFAULT_RUNTIME));
  }
  await step(log, "wasm2c -> app.c", async () => {
    // Without the name section wasm2c names functions by index (w2c_f<index>),
    // which is how the symbol table finds them.
    const code = path.join(workDir, "app-code.wasm");
    fs.writeFileSync(code, withoutCustomSections(wasm));
    await run(tools.wasm2c, [code, "-n", "app", "-o", path.join(workDir, "app.c")]);
    fs.copyFileSync(header, path.join(workDir, "wasm-rt.h"));
  });
  const cache = new ObjectCache(opts.cacheDir === undefined ? defaultCacheDir() : opts.cacheDir);
  const t0 = Date.now();
  const objects = await compileNative(cache, tools.gcc, workDir, memoryBase);
  const reused = cache.dir ? `, ${cache.hits} of ${objects.length} objects from the cache` : "";
  log(`tsxen build: gcc -O3 -ffreestanding: app.c + runtime/native (${Date.now() - t0} ms${reused})`);
  const shim = path.join(workDir, "shim.o");
  await step(log, "nasm boot/shim.asm", () => run(tools.nasm, ["-f", "elf64", "-o", shim, path.join(REPO, "boot", "shim.asm")]));
  const libgcc = (await run(tools.gcc, ["-print-libgcc-file-name"])).stdout.trim();
  const link = async (symtab: Symtab, out: string) => {
    const src = path.join(workDir, "symtab.c");
    fs.writeFileSync(src, symtab.source);
    const obj = await compileC(cache, tools.gcc, workDir, memoryBase, src, []);
    try {
      await run(tools.ld, [
        "-nostdlib", "-static", "-z", "max-page-size=4096", "-z", "noexecstack", "--build-id=none",
        "-T", path.join(REPO, "boot", "tsxen.ld"), `--defsym=TSXEN_MEMORY_BASE=${memoryBase}`,
        "-o", out, shim, ...objects, obj, libgcc,
      ]);
    } catch (e) {
      throw new BuildError(`ld failed:\n${(e as { stderr?: string }).stderr ?? e}`);
    }
  };
  // Link once without names to learn where each wasm function's code is,
  // then with the symbol table (runtime/native/backtrace.c), which must
  // leave the code where it was.
  const firstLink = path.join(workDir, "image-nosyms.elf");
  const linked = path.join(workDir, "image.elf");
  const symtabCost = await step(log, "ld -T boot/tsxen.ld, twice: the second time with the symbol table for backtraces", async () => {
    await link(symtabSource([], new Map()), firstLink);
    const exports = functionExports(wasm);
    const code = wasmFunctionCode(fs.readFileSync(firstLink), exports);
    const symtab = symtabSource(code, functionNames(wasm));
    await link(symtab, linked);
    const moved = JSON.stringify(wasmFunctionCode(fs.readFileSync(linked), exports)) !== JSON.stringify(code);
    if (moved) throw new BuildError("the symbol table moved the code it describes (boot/tsxen.ld must keep .rodata after .text)");
    await run(tools.objcopy, ["--strip-all", firstLink, `${firstLink}.stripped`]);
    return { functions: symtab.functions, tableBytes: symtab.bytes, imageBytesWithout: fs.statSync(`${firstLink}.stripped`).size };
  });
  // Strip into a temporary file, then rename: a failed build never leaves a
  // half-written image behind.
  const tmp = `${output}.tmp-${process.pid}`;
  fs.mkdirSync(path.dirname(output), { recursive: true });
  await run(tools.objcopy, ["--strip-all", linked, tmp]);
  const problems = checkImage(fs.readFileSync(tmp));
  if (problems.length) {
    fs.rmSync(tmp);
    throw new BuildError(`the linked image is not a valid PV/PVH kernel:\n${problems.join("\n")}`);
  }
  fs.renameSync(tmp, output);
  const config = `${output}.cfg`;
  fs.writeFileSync(config, xlConfig(name, output, memoryMB, opts.devices, type));
  const written = [config];
  let libvirtXml: string | undefined;
  if (opts.libvirt) {
    const d = opts.devices ?? {};
    libvirtXml = `${output}.xml`;
    fs.writeFileSync(libvirtXml, domainXml({ name, kernel: output, memoryMB, type, cmdline: d.extra, vifs: d.vifs, disks: d.disks, bridge: d.bridge }));
    written.push(libvirtXml);
  }
  cache.trim();
  const imageBytes = fs.statSync(output).size;
  const symtabBytes = imageBytes - symtabCost.imageBytesWithout;
  log(
    `tsxen build: symbol table for backtraces: ${symtabCost.functions} wasm functions, ${kib(symtabCost.tableBytes)}; ` +
      `the image is ${kib(symtabBytes)} larger with it (sections are page-aligned)`,
  );
  log(`tsxen build: wrote ${path.relative(process.cwd(), output)} (${kib(imageBytes)}; boots as pv or pvh) and ${written.map((f) => path.relative(process.cwd(), f)).join(", ")} (type = "${type}")`);
  return { image: output, config, wasmBytes: withoutCustomSections(wasm).length, imageBytes, symtabBytes, workDir, libvirtXml, objectsFromCache: cache.hits };
}
