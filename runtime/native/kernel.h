/* Shared declarations of the native part of the tsxen runtime: the code that
 * runs before, beneath and after the compiled wasm module. One image boots
 * in two modes (boot/shim.asm has both entry points):
 *   PV:  boot_pv.c + mm_pv.c   (Xen's start_info, page tables via mmu_update)
 *   PVH: boot_pvh.c + mm_pvh.c (hvm_start_info, HVM params, our own page tables)
 * Everything after boot (console, traps, wasm glue) asks boot_mode where the
 * two differ. */
#ifndef TSXEN_KERNEL_H
#define TSXEN_KERNEL_H
#include <stddef.h>
#include <stdint.h>
#include "xen_abi.h"

enum boot_mode { BOOT_PV, BOOT_PVH };
extern enum boot_mode boot_mode;

/* The page Xen's shared_info frame is placed at (PV: update_va_mapping over
 * it; PVH: XENMEM_add_to_physmap at its frame). Inside wasm memory. */
extern uint8_t shared_info_page[];
extern struct vcpu_info_head *boot_vcpu0; /* vCPU 0's vcpu_info, in shared_info_page */

/* boot_pv.c */
extern struct start_info *boot_start_info;
extern uint64_t *boot_p2m;              /* pfn -> mfn, from start_info.mfn_list */
void pv_map_shared_info(void);          /* maps start_info.shared_info at shared_info_page (again after a resume) */

/* mm_pv.c: maps all RAM 1:1 (pseudo-physical = virtual, page 0 left out).
 * Returns the first byte past the RAM usable as wasm linear memory. */
uint64_t mm_map_all_ram(void);
void mm_unmap_page0(void);
static inline uint64_t mfn_to_pfn(uint64_t mfn)
{
    return ((const uint64_t *)MACH2PHYS_VIRT_START)[mfn];
}

/* suspend.c: the mode-specific half of a suspend (HOSTOP_SUSPEND). */
void pv_publish_p2m(void);              /* at boot and after a resume */
int64_t suspend_domain(void);           /* 0: resumed in a new domain, 1: cancelled, <0: Xen's error */

/* boot_pvh.c */
extern struct hvm_start_info *boot_hvm_start_info;
extern uint8_t console_window[], store_window[]; /* where the ring pages are mapped under PVH */
extern uint64_t pvh_console_gfn, pvh_store_gfn;
long pvh_place_shared_info(void);       /* re-runnable (after resume) */

/* mm_pvh.c: replaces the shim's bootstrap mapping with the final one.
 * Returns the first byte past the RAM usable as wasm linear memory. */
uint64_t pvh_mm_init(uint64_t ram_end);

/* traps.c */
void traps_init_pv(void);
void traps_init_pvh(void);

/* console.c: a minimal console for boot messages and panics; the wasm
 * runtime has the full console (runtime/console.ts). Until
 * early_console_use_ring() it writes through console_io (PV) or Xen's debug
 * port 0xe9 (PVH). */
void early_console_use_ring(void *ring, uint32_t port);
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
#define HOSTOP_SUSPEND (-4)
extern uint64_t boot_tsc;                      /* shim.asm: the TSC at the first instruction */
extern void *wasm_memory;                      /* the module's wasm_rt_memory_t (app_glue.c) */
uint64_t wasm_memory_grow(uint64_t pages);     /* HOSTOP_MEMORY_GROW: old size in pages, or -1 */
void wasm_app_run(void);                /* app_glue.c, generated per app by tsxen build */

/* backtrace.c: named backtraces (the AssemblyScript functions running) */
void backtrace_here(void);                      /* from a native function called by wasm */
void backtrace_from(uint64_t rip, uint64_t rbp); /* from a CPU exception's registers */
int backtrace_in_allocator(void);               /* whether the innermost wasm frame is AssemblyScript's allocator */

/* string.c */
size_t strlen(const char *s);
#endif
