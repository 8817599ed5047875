// @ts-nocheck: tsc (what editors run on an app's imports) rejects decorators
// on declared functions; asc, which compiles this file, needs them.
// The host interface of a tsxen wasm module: every function it imports,
// all from module "xen". Implemented natively in runtime/native/imports.c
// (under Xen) and in TypeScript by sim/ (in Node). Addresses are wasm
// linear addresses, which under Xen are also guest virtual and
// pseudo-physical addresses.

// Issues hypercall `op` with up to five arguments; returns Xen's result
// (negative errno on failure).
@external("xen", "hypercall")
export declare function hypercall(op: i32, a1: i64, a2: i64, a3: i64, a4: i64, a5: i64): i64;

// hypercall ops the host answers itself (tools/host-interface.ts; the
// memory-grow transform emits HOSTOP_MEMORY_GROW = -1).
export const HOSTOP_MEMORY_LIMIT: i32 = -2;  // pages the wasm memory may grow to
export const HOSTOP_BOOT_TSC: i32 = -3;      // the TSC at the boot shim's first instruction
export const HOSTOP_SUSPEND: i32 = -4;       // suspend the domain (runtime/suspend.ts): 0 resumed in a new domain, 1 cancelled

// The frame Xen names a page by -> the frame at which we see it. PV:
// machine frame -> pseudo-physical frame (Xen's read-only M2P table). PVH:
// guest frames are already ours (identity), except the console and xenstore
// ring frames, which are seen at window pages below the wasm memory base.
@external("xen", "mfn_to_pfn")
export declare function mfnToPfn(mfn: u64): u64;

// Address of what Xen handed the guest at boot: start_info (PV) or
// hvm_start_info (PVH); their magic tells them apart.
@external("xen", "start_info")
export declare function startInfoAddress(): usize;

// Address where the shared_info page is mapped.
@external("xen", "shared_info")
export declare function sharedInfoAddress(): usize;

// The CPU's time-stamp counter.
@external("xen", "rdtsc")
export declare function rdtsc(): u64;

// A full memory barrier (mfence), for shared-ring index updates.
@external("xen", "fence")
export declare function fence(): void;

// Atomic read-modify-write of memory shared with Xen or a backend on another
// CPU (wasm atomics would need shared memory, which we do not use). Each
// returns the old value: event bits (and/or, 64-bit) and grant-entry flags
// (compare-and-exchange, 16-bit).
@external("xen", "atomic_and64")
export declare function atomicAnd64(addr: usize, mask: u64): u64;
@external("xen", "atomic_or64")
export declare function atomicOr64(addr: usize, mask: u64): u64;
@external("xen", "cmpxchg16")
export declare function cmpxchg16(addr: usize, expected: u32, replacement: u32): u32;

// Prints "panic: <msg>" (UTF-8 bytes at msg) and shuts down as crashed.
@external("xen", "panic")
export declare function hostPanic(msg: usize, len: i32): void;

// One 64-bit value from the CPU's RDRAND instruction, stored at `out`:
// returns 1, or 0 when the CPU has no RDRAND (CPUID.1:ECX bit 30) or it
// failed 10 times in a row.
@external("xen", "rdrand")
export declare function rdrand(out: usize): i32;
