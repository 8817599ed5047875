/* Maps the guest's whole RAM at virtual = pseudo-physical address, as the
 * tsxen memory model requires (wasm linear address = guest virtual =
 * pseudo-physical), leaving page 0 unmapped so null accesses fault.
 *
 * Xen's domain builder maps only the bootstrap region (xen.h, start_info
 * comment: kernel, p2m list, start_info, store/console pages, page tables,
 * stack, >= 512 KiB padding). We extend the mapping with HYPERVISOR_mmu_update:
 * existing L1 tables (Xen's, readable at their pseudo-physical address) get
 * their missing entries filled; 2 MiB regions without an L1 table get a new
 * one, taken from the top of RAM. A PV guest may not keep a writable mapping
 * of a page-table page, so new tables are zeroed through a temporary mapping
 * at VA 0 and never mapped afterwards; wasm memory stops below them.
 * Limit: RAM up to 1 GiB (one bootstrap L2 table), far beyond what a 32-bit
 * wasm module with its data at --memoryBase needs. */
#include "kernel.h"
#include "hypercall.h"

#define ENTRIES 512
#define TABLE_PROT (PTE_PRESENT | PTE_RW | PTE_USER | PTE_ACCESSED | PTE_DIRTY)
#define PAGE_PROT (PTE_PRESENT | PTE_RW | PTE_ACCESSED | PTE_DIRTY)
#define BATCH 256

static struct mmu_update batch[BATCH];
static unsigned batched;

static void flush_updates(void)
{
    unsigned done = 0;
    if (batched && hypercall4(HC_mmu_update, batch, batched, &done, DOMID_SELF) < 0)
        panic("panic: mmu_update failed while mapping RAM");
    batched = 0;
}

static void queue_update(uint64_t pte_machine_addr, uint64_t val)
{
    batch[batched].ptr = pte_machine_addr | MMU_NORMAL_PT_UPDATE;
    batch[batched].val = val;
    if (++batched == BATCH) flush_updates();
}

/* The pseudo-physical (= virtual) address of the page table an entry points to. */
static uint64_t *table_of(uint64_t entry)
{
    return (uint64_t *)(mfn_to_pfn((entry & PTE_MFN_MASK) >> PAGE_SHIFT) << PAGE_SHIFT);
}

static void zero_frame(uint64_t mfn)
{
    if (hypercall4(HC_update_va_mapping, 0, (mfn << PAGE_SHIFT) | PAGE_PROT, UVMF_INVLPG, 0) < 0)
        panic("panic: cannot map a new page-table frame");
    __builtin_memset((void *)0, 0, PAGE_SIZE);
    if (hypercall4(HC_update_va_mapping, 0, 0, UVMF_INVLPG, 0) < 0)
        panic("panic: cannot unmap page 0");
}

uint64_t mm_map_all_ram(void)
{
    uint64_t nr_pages = boot_start_info->nr_pages;
    if (nr_pages > ENTRIES * ENTRIES)
        panic("panic: tsxen guests support at most 1 GiB of RAM");

    uint64_t *l4 = (uint64_t *)boot_start_info->pt_base;
    if (!(l4[0] & PTE_PRESENT) || !(table_of(l4[0])[0] & PTE_PRESENT))
        panic("panic: bootstrap page tables do not map virtual address 0");
    uint64_t *l2 = table_of(table_of(l4[0])[0]);
    uint64_t l2_machine = boot_p2m[(uint64_t)l2 >> PAGE_SHIFT] << PAGE_SHIFT;

    uint64_t regions = (nr_pages + ENTRIES - 1) / ENTRIES;
    uint64_t top = nr_pages; /* new L1 tables come from here, downwards */
    for (uint64_t r = 0; r < regions; r++)
        if (!(l2[r] & PTE_PRESENT)) top--;
    uint64_t ram_end = top; /* first pfn not usable as wasm memory */

    uint64_t next_table = nr_pages;
    for (uint64_t r = 0; r < regions; r++) {
        uint64_t first = r * ENTRIES, last = first + ENTRIES;
        if (last > ram_end) last = ram_end;
        uint64_t *existing = (l2[r] & PTE_PRESENT) ? table_of(l2[r]) : 0;
        uint64_t l1_mfn;
        if (existing) {
            l1_mfn = (l2[r] & PTE_MFN_MASK) >> PAGE_SHIFT;
        } else {
            l1_mfn = boot_p2m[--next_table];
            zero_frame(l1_mfn);
            queue_update(l2_machine + r * 8, (l1_mfn << PAGE_SHIFT) | TABLE_PROT);
            flush_updates(); /* hook the table in before filling it */
        }
        for (uint64_t pfn = first ? first : 1; pfn < last; pfn++) {
            if (existing && (existing[pfn - first] & PTE_PRESENT)) continue;
            queue_update((l1_mfn << PAGE_SHIFT) + (pfn - first) * 8,
                         (boot_p2m[pfn] << PAGE_SHIFT) | PAGE_PROT);
        }
    }
    flush_updates();
    return ram_end << PAGE_SHIFT;
}

void mm_unmap_page0(void)
{
    hypercall4(HC_update_va_mapping, 0, 0, UVMF_INVLPG, 0);
}
