/* PVH page tables. The shim entered long mode with a bootstrap mapping (the
 * first 1 GiB, identity, 2 MiB pages: pvh_pml4 -> pvh_pdpt -> pvh_pd); this
 * file turns it into the mapping the tsxen memory model wants, in place:
 *
 *   [0, 4 KiB)                 unmapped: null accesses fault
 *   [4 KiB, memory base)       4 KiB pages, identity (image, hvm_start_info,
 *                              its command line and memory map), except
 *                              the boot stack's guard page (unmapped) and
 *                              console_window / store_window, which map the
 *                              console and xenstore ring frames (guest
 *                              frames near 4 GiB, outside wasm's reach)
 *   [memory base, ram_end)     identity, 2 MiB pages where a whole 2 MiB
 *                              region is RAM, 4 KiB pages for the tail
 *   [ram_end, 1 GiB)           unmapped
 *
 * virtual = guest-physical, so wasm addresses are the frames Xen and the
 * backends see (grant references carry addr >> 12). The tables are static
 * (bss of the image): RAM is never taken for them, unlike PV. */
#include "kernel.h"

#define ENTRIES 512
#define REGION (ENTRIES * PAGE_SIZE)     /* 2 MiB: what one L2 entry maps */
#define PAGE_PROT (PTE_PRESENT | PTE_RW | PTE_ACCESSED | PTE_DIRTY)
#define LOW_TABLES ((TSXEN_MEMORY_BASE + REGION - 1) / REGION)

extern uint64_t pvh_pd[ENTRIES];         /* boot/shim.asm: maps 0..1 GiB */
extern uint64_t pvh_pml4[ENTRIES];
extern char boot_stack_guard[];

static uint64_t low_l1[LOW_TABLES][ENTRIES] __attribute__((aligned(PAGE_SIZE)));
static uint64_t tail_l1[ENTRIES] __attribute__((aligned(PAGE_SIZE)));

static uint64_t page_entry(uint64_t va)
{
    if (va == 0 || va == (uint64_t)boot_stack_guard) return 0;
    if (va == (uint64_t)console_window) return pvh_console_gfn ? (pvh_console_gfn << PAGE_SHIFT) | PAGE_PROT : 0;
    if (va == (uint64_t)store_window) return pvh_store_gfn ? (pvh_store_gfn << PAGE_SHIFT) | PAGE_PROT : 0;
    return va | PAGE_PROT;
}

/* Points L2 entry `r` at `l1`, filled for the pages of region r below `end`. */
static void map_region_4k(unsigned r, uint64_t *l1, uint64_t end)
{
    for (unsigned i = 0; i < ENTRIES; i++) {
        uint64_t va = (uint64_t)r * REGION + i * PAGE_SIZE;
        l1[i] = va < end ? page_entry(va) : 0;
    }
    pvh_pd[r] = (uint64_t)l1 | PTE_PRESENT | PTE_RW | PTE_ACCESSED;
}

uint64_t pvh_mm_init(uint64_t ram_end)
{
    /* RAM may end inside the low, 4 KiB-mapped regions (a small guest's
     * memory base is not 2 MiB aligned): map_region_4k stops at ram_end. */
    if (ram_end <= TSXEN_MEMORY_BASE)
        panic("panic: too little RAM below the wasm memory base");
    /* The windows and the guard page must lie in the 4 KiB-mapped low part. */
    if ((uint64_t)store_window >= TSXEN_MEMORY_BASE || (uint64_t)console_window >= TSXEN_MEMORY_BASE)
        panic("panic: the image reaches the wasm memory base");
    for (unsigned r = 0; r < ENTRIES; r++) {
        uint64_t start = (uint64_t)r * REGION;
        if (start >= ram_end)
            pvh_pd[r] = 0;
        else if (r < LOW_TABLES)
            map_region_4k(r, low_l1[r], ram_end);
        else if (start + REGION > ram_end)
            map_region_4k(r, tail_l1, ram_end);
        else
            pvh_pd[r] = start | PAGE_PROT | PTE_LARGE;
    }
    /* Reloading CR3 flushes every (non-global) translation. */
    __asm__ volatile("mov %0, %%cr3" : : "r"((uint64_t)pvh_pml4) : "memory");
    return ram_end;
}
