/* PVH boot sequence (docs/misc/pvh.pandoc, arch-x86/hvm/start_info.h),
 * entered from boot/shim.asm's pvh_start in long mode, on the boot stack,
 * with the bootstrap mapping (first 1 GiB, identity) and the pointer to
 * struct hvm_start_info Xen passed in ebx.
 *
 * A PVH guest is an HVM guest without emulated devices: its frames are
 * guest-physical (Xen translates them; there is no p2m and no M2P), it has
 * its own page tables and IDT, and it talks to Xen through a hypercall page
 * it asks for. So, in order:
 *  1. early console on Xen's debug port 0xe9 (lines appear on Xen's console
 *     as "(dN) ..."), until the PV console ring is mapped;
 *  2. the hypercall page, through the MSR Xen names in CPUID leaf base+2;
 *  3. the IDT (same trap reports as PV) and FPU/SSE state;
 *  4. the memory map from hvm_start_info: RAM is [0, ram_end);
 *  5. the console and xenstore ring frames and event channels from HVM params;
 *  6. shared_info placed over shared_info_page with XENMEM_add_to_physmap;
 *  7. the final page tables (mm_pvh.c): RAM identity-mapped, page 0 and the
 *     stack guard unmapped, the ring frames mapped at console_window and
 *     store_window so that wasm reaches them;
 *  8. the console ring, then the wasm module.
 * Everything the runtime reads (hvm_start_info, its command line and memory
 * map, the rings, shared_info) lies below the wasm memory base. */
#include "kernel.h"
#include "hypercall.h"

struct hvm_start_info *boot_hvm_start_info;
uint64_t pvh_console_gfn, pvh_store_gfn;
uint8_t console_window[PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));
uint8_t store_window[PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));

/* RAM above this is not mapped (as under PV: one L2 table's worth). */
#define PVH_MAX_RAM (1UL << 30)

static void cpuid(uint32_t leaf, uint32_t r[4])
{
    __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(0));
}

static void wrmsr(uint32_t msr, uint64_t value)
{
    __asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)value), "d"((uint32_t)(value >> 32)));
}

/* Xen's leaves start at 0x40000000, or 0x100 higher when it also presents
 * another hypervisor's interface (viridian); the signature tells. Leaf +2:
 * eax = number of hypercall pages, ebx = the MSR to write the page's
 * guest-physical address to; Xen then fills the page with 32-byte stubs
 * (vmcall or vmmcall), the same layout as the PV page. Returns 0 if no Xen. */
static int hypercall_page_init(void)
{
    for (uint32_t base = XEN_CPUID_FIRST_LEAF; base < XEN_CPUID_FIRST_LEAF + 0x10000; base += 0x100) {
        uint32_t r[4];
        cpuid(base, r);
        if (r[1] != XEN_CPUID_SIGNATURE_EBX || r[2] != XEN_CPUID_SIGNATURE_ECX ||
            r[3] != XEN_CPUID_SIGNATURE_EDX || r[0] < base + 2)
            continue;
        cpuid(base + 2, r);
        if (r[0] < 1) return 0;
        wrmsr(r[1], (uint64_t)hypercall_page); /* page 0 of the set: low bits 0 */
        return 1;
    }
    return 0;
}

static void fpu_init(void)
{
    static const uint32_t mxcsr = 0x1f80;
    __asm__ volatile("fninit; ldmxcsr %0" : : "m"(mxcsr)); /* CR0/CR4 were set up by the shim */
}

static uint64_t hvm_param(uint32_t index, const char *what)
{
    struct xen_hvm_param p = { .domid = DOMID_SELF, .index = index };
    if (hypercall2(HC_hvm_op, HVMOP_get_param, &p) < 0) {
        early_puts("panic: HVMOP_get_param failed for ");
        panic(what);
    }
    return p.value;
}

/* Places Xen's shared_info frame at shared_info_page's guest frame (the RAM
 * page there is given back to Xen). Xen keeps one shared_info page per
 * domain, so this only changes where we see it: it can run again, e.g.
 * after a resume, when the frame has to be placed anew. */
long pvh_place_shared_info(void)
{
    struct xen_add_to_physmap a = {
        .domid = DOMID_SELF, .space = XENMAPSPACE_shared_info, .idx = 0,
        .gpfn = (uint64_t)shared_info_page >> PAGE_SHIFT,
    };
    return hypercall2(HC_memory_op, XENMEM_add_to_physmap, &a);
}

static int below_memory_base(uint64_t addr, uint64_t len)
{
    return addr + len >= addr && addr + len <= TSXEN_MEMORY_BASE;
}

/* The end of the RAM region that holds the image (at 1 MiB); the region
 * must start at 0 (PVH builders give one RAM range from 0 up to memory=). */
static uint64_t ram_end_from_memmap(const struct hvm_start_info *si)
{
    if (si->version < 1 || si->memmap_entries == 0)
        panic("panic: hvm_start_info has no memory map (version 1, Xen 4.12 or later, needed)");
    if (!below_memory_base(si->memmap_paddr, (uint64_t)si->memmap_entries * sizeof(struct hvm_memmap_table_entry)))
        panic("panic: the PVH memory map lies above the wasm memory base");
    const struct hvm_memmap_table_entry *e = (const void *)si->memmap_paddr;
    for (uint32_t i = 0; i < si->memmap_entries; i++) {
        if (e[i].type != XEN_HVM_MEMMAP_TYPE_RAM || e[i].addr > 0x100000 || e[i].addr + e[i].size <= 0x100000)
            continue;
        if (e[i].addr != 0) panic("panic: PVH RAM does not start at address 0");
        uint64_t end = (e[i].addr + e[i].size) & ~(PAGE_SIZE - 1);
        if (end > PVH_MAX_RAM) panic("panic: tsxen guests support at most 1 GiB of RAM");
        return end;
    }
    panic("panic: the PVH memory map has no RAM at 1 MiB");
}

void tsxen_boot_pvh(struct hvm_start_info *si)
{
    boot_mode = BOOT_PVH;
    boot_hvm_start_info = si;
    if (!hypercall_page_init()) {
        early_puts("tsxen: no Xen hypervisor found through CPUID; halting\n");
        return; /* the shim halts, and Xen powers off an HVM vCPU halted with interrupts off */
    }
    if (si->magic != XEN_HVM_START_MAGIC_VALUE) panic("panic: bad hvm_start_info magic");
    traps_init_pvh();
    fpu_init();
    if (!below_memory_base((uint64_t)si, sizeof *si) ||
        (si->cmdline_paddr && !below_memory_base(si->cmdline_paddr, MAX_GUEST_CMDLINE)))
        panic("panic: hvm_start_info or its command line lies above the wasm memory base");
    uint64_t ram_end = ram_end_from_memmap(si);

    pvh_console_gfn = hvm_param(HVM_PARAM_CONSOLE_PFN, "the console ring");
    uint32_t console_port = (uint32_t)hvm_param(HVM_PARAM_CONSOLE_EVTCHN, "the console event channel");
    pvh_store_gfn = hvm_param(HVM_PARAM_STORE_PFN, "the xenstore ring");

    if (pvh_place_shared_info() < 0) panic("panic: cannot place shared_info (XENMEM_add_to_physmap)");
    boot_vcpu0 = (struct vcpu_info_head *)shared_info_page;
    boot_vcpu0->evtchn_upcall_mask = 1; /* events are polled, never delivered as upcalls */

    wasm_ram_limit = pvh_mm_init(ram_end);
    if (pvh_console_gfn) early_console_use_ring(console_window, console_port);
    wasm_app_run();
    shutdown(SHUTDOWN_poweroff);
}
