// The host interface every tsxen wasm module may import: module "xen" and
// these functions with exactly these signatures. runtime/host.ts declares
// them for AssemblyScript, runtime/native/imports.c implements them under
// Xen, sim/ implements them in Node; tests/host-interface.test.ts keeps this
// table and runtime/host.ts in step.
export type WasmType = "i32" | "i64" | "f32" | "f64";

export interface HostFunction {
  params: WasmType[];
  results: WasmType[];
}

export const HOST_MODULE = "xen";

export const HOST_FUNCTIONS: Record<string, HostFunction> = {
  hypercall: { params: ["i32", "i64", "i64", "i64", "i64", "i64"], results: ["i64"] },
  mfn_to_pfn: { params: ["i64"], results: ["i64"] },
  start_info: { params: [], results: ["i32"] },
  shared_info: { params: [], results: ["i32"] },
  rdtsc: { params: [], results: ["i64"] },
  fence: { params: [], results: [] },
  atomic_and64: { params: ["i32", "i64"], results: ["i64"] },
  atomic_or64: { params: ["i32", "i64"], results: ["i64"] },
  cmpxchg16: { params: ["i32", "i32", "i32"], results: ["i32"] },
  panic: { params: ["i32", "i32"], results: [] },
  rdrand: { params: ["i32"], results: ["i32"] },
};

// Where the module's static data starts (asc --memoryBase): below it lie
// the kernel image and Xen's bootstrap data (ARCHITECTURE.md).
export const DEFAULT_MEMORY_BASE = 4 << 20;
// Guests under SMALL_GUEST_MB get their wasm memory from SMALL_MEMORY_BASE:
// at memory=4 (the smallest Xen's PV domain builder takes: it maps the
// first 4 MiB) that leaves 1 MiB for static data and heap. Under PV, Xen's
// p2m list (8 bytes per page) must fit between the image and the base, so
// such an image boots with up to about 500 MiB of RAM under PV (boot_pv.c
// says so otherwise); bigger guests keep the 4 MiB base and up to 1 GiB.
export const SMALL_GUEST_MB = 8;
export const SMALL_MEMORY_BASE = 3 << 20;
export function memoryBaseFor(memoryMB: number): number {
  return memoryMB < SMALL_GUEST_MB ? SMALL_MEMORY_BASE : DEFAULT_MEMORY_BASE;
}

// Host operations: `hypercall` ops that never reach Xen. memory.grow in the
// module is compiled into HOSTOP_MEMORY_GROW (a1 = pages; returns the old
// size in pages, or -1) by tools/memory-grow-transform.mjs, so that both
// hosts grow the memory up to the guest's RAM and can say, when a request
// fails, how large it was (the out-of-memory report).
export const HOSTOP_MEMORY_GROW = -1;
// HOSTOP_MEMORY_LIMIT: the pages the memory may grow to (the guest's RAM
// mapped for it), for the app's memory statistics.
export const HOSTOP_MEMORY_LIMIT = -2;
// HOSTOP_BOOT_TSC: the TSC at the boot shim's first instruction (natively;
// in the sim, when the domain started), for the guest's own boot time.
export const HOSTOP_BOOT_TSC = -3;
// HOSTOP_SUSPEND: the mode-specific half of a suspend (natively
// runtime/native/suspend.c: PV start_info and shared_info, PVH shared_info,
// then SCHEDOP_shutdown(SHUTDOWN_suspend)); returns 0 when the guest
// resumes in a new domain, 1 when the suspend was cancelled, or Xen's
// negative error. The sim's toolstack decides which (sim/host.ts).
export const HOSTOP_SUSPEND = -4;

// The exports the native boot code and the sim call, in this order, after
// instantiation: the module's start function (static initialisers; exported
// with asc --exportStart so the host can lay out start_info first), then
// the runtime's entry, which runs the app.
export const START_EXPORT = "tsxen_start";
export const ENTRY_EXPORT = "tsxen_main";
