/* PV boot sequence, entered from boot/shim.asm's _start with the start_info
 * pointer Xen passes in rsi (xen.h "Start-of-day memory layout"): check
 * start_info, install trap handlers, map shared_info and RAM, then
 * instantiate the wasm module (wasm2c output) and run the app. */
#include "kernel.h"
#include "hypercall.h"

enum boot_mode boot_mode = BOOT_PV;
struct start_info *boot_start_info;
uint64_t *boot_p2m;
struct vcpu_info_head *boot_vcpu0;
uint8_t shared_info_page[PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));

static int magic_ok(const char *m)
{
    static const char want[] = "xen-3.0-x86_64";
    for (size_t i = 0; i < sizeof want - 1; i++)
        if (m[i] != want[i]) return 0;
    return 1;
}

/* Xen PV guests start with CR0.TS possibly set and an undefined SSE state;
 * gcc's code uses SSE2 for f64, so clear TS and load default FPU/SSE state. */
static void fpu_init(void)
{
    static const uint32_t mxcsr = 0x1f80;
    hypercall2(HC_fpu_taskswitch, 0, 0);
    __asm__ volatile("fninit; ldmxcsr %0" : : "m"(mxcsr));
}

void pv_map_shared_info(void)
{
    /* Replace our own page's mapping with Xen's shared_info frame (as
     * Mini-OS does): it then lies inside wasm-addressable memory. */
    if (hypercall4(HC_update_va_mapping, (uint64_t)shared_info_page,
                   boot_start_info->shared_info | PTE_PRESENT | PTE_RW | PTE_ACCESSED | PTE_DIRTY,
                   UVMF_INVLPG, 0) < 0)
        panic("panic: cannot map shared_info");
    boot_vcpu0 = (struct vcpu_info_head *)shared_info_page;
    boot_vcpu0->evtchn_upcall_mask = 1; /* events are polled, never delivered as upcalls */
}

void tsxen_boot(struct start_info *si)
{
    boot_start_info = si;
    if (!magic_ok(si->magic)) shutdown(SHUTDOWN_crash); /* nothing we can print to */
    boot_p2m = (uint64_t *)si->mfn_list;
    fpu_init();
    if (!(si->flags & SIF_INITDOMAIN)) /* the initial domain has no ring: console_io */
        early_console_use_ring((void *)(mfn_to_pfn(si->console_mfn) << PAGE_SHIFT), si->console_evtchn);
    traps_init_pv();
    pv_map_shared_info();
    pv_publish_p2m();
    wasm_ram_limit = mm_map_all_ram();
    mm_unmap_page0();
    if ((uint64_t)si->pt_base + (si->nr_pt_frames + 1) * PAGE_SIZE > TSXEN_MEMORY_BASE)
        panic("panic: this guest's RAM is too large for the image's memory base");
    wasm_app_run();
    shutdown(SHUTDOWN_poweroff);
}
