/* Shared declarations of the native part of the tsxen runtime: the code that
 * runs before, beneath and after the compiled wasm module. */
#ifndef TSXEN_KERNEL_H
#define TSXEN_KERNEL_H
#include <stddef.h>
#include <stdint.h>
#include "xen_abi.h"

/* boot.c */
extern struct start_info *boot_start_info;
extern uint64_t *boot_p2m;              /* pfn -> mfn, from start_info.mfn_list */
extern struct vcpu_info_head *boot_vcpu0; /* in the mapped shared_info page */
extern uint8_t shared_info_page[];      /* page-aligned VA where shared_info is mapped */

/* mm.c: maps all RAM 1:1 (pseudo-physical = virtual, page 0 left out).
 * Returns the first byte past the RAM usable as wasm linear memory. */
uint64_t mm_map_all_ram(void);
void mm_unmap_page0(void);
static inline uint64_t mfn_to_pfn(uint64_t mfn)
{
    return ((const uint64_t *)MACH2PHYS_VIRT_START)[mfn];
}

/* console.c: a minimal writer on the PV console ring for boot messages and
 * panics; the wasm runtime has the full console (runtime/console.ts). */
void early_console_init(void);
void early_write(const char *s, size_t len);
void early_puts(const char *s);
void early_put_hex(uint64_t v);
void early_put_dec(uint64_t v);
void early_flush(void);
__attribute__((noreturn)) void shutdown(unsigned reason);
__attribute__((noreturn)) void panic(const char *msg);

/* wasm_rt.c */
extern uint64_t wasm_ram_limit;         /* bytes of RAM wasm memory may grow to */
/* Host operations: xen.hypercall ops that never reach Xen (tools/host-interface.ts). */
#define HOSTOP_MEMORY_GROW (-1)
#define HOSTOP_MEMORY_LIMIT (-2)
#define HOSTOP_BOOT_TSC (-3)
extern uint64_t boot_tsc;                      /* shim.asm: the TSC at the first instruction */
extern void *wasm_memory;                      /* the module's wasm_rt_memory_t (app_glue.c) */
uint64_t wasm_memory_grow(uint64_t pages);     /* HOSTOP_MEMORY_GROW: old size in pages, or -1 */

/* backtrace.c: named backtraces (the AssemblyScript functions running) */
void backtrace_here(void);                      /* from a native function called by wasm */
void backtrace_from(uint64_t rip, uint64_t rbp); /* from a CPU exception's registers */
int backtrace_in_allocator(void);               /* whether the innermost wasm frame is AssemblyScript's allocator */

/* string.c */
size_t strlen(const char *s);
#endif
