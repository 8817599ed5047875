/* The mode-specific half of suspending the domain (HOSTOP_SUSPEND; the
 * runtime's half, devices and xenstore, is runtime/suspend.ts). Follows
 * xen/include/public/sched.h (SCHEDOP_shutdown with SHUTDOWN_suspend: under
 * PV the start_info frame goes in the third argument, which the toolstack
 * translates for the new domain; a translated guest passes 0), xen.h's
 * start_info (the toolstack rewrites its ring frames and ports in the new
 * domain) and arch-x86/xen.h's arch_shared_info (how the toolstack finds a
 * PV guest's p2m). The image carries XEN_ELFNOTE_SUSPEND_CANCEL, so the
 * hypercall returns 1 when the suspend was cancelled (xl save -c, a failed
 * migration) and the guest carries on in the same domain, 0 when it resumes
 * in a new one. */
#include "kernel.h"
#include "hypercall.h"

struct sched_shutdown { uint32_t reason; };

/* The p2m's frame list (the machine frames of the p2m pages) and the frame
 * list list (the frame of that page): RAM is at most 1 GiB, so 512 p2m
 * pages and one frame-list page. */
#define P2M_ENTRIES_PER_PAGE (PAGE_SIZE / 8)
static uint64_t p2m_frame_list[P2M_ENTRIES_PER_PAGE] __attribute__((aligned(PAGE_SIZE)));
static uint64_t p2m_frame_list_list[P2M_ENTRIES_PER_PAGE] __attribute__((aligned(PAGE_SIZE)));

static uint64_t pfn_to_mfn(uint64_t pfn) { return boot_p2m[pfn]; }

/* Tells the toolstack where the p2m is (shared_info.arch): without it
 * `xl save` of a PV guest fails. The p2m lies at virtual = pseudo-physical
 * addresses. Runs again after a resume, as every machine frame changed. */
void pv_publish_p2m(void)
{
    uint64_t nr = boot_start_info->nr_pages;
    uint64_t pages = (nr + P2M_ENTRIES_PER_PAGE - 1) / P2M_ENTRIES_PER_PAGE;
    if (pages > P2M_ENTRIES_PER_PAGE) pages = P2M_ENTRIES_PER_PAGE; /* RAM is capped at 1 GiB */
    uint64_t first = (uint64_t)boot_p2m >> PAGE_SHIFT;
    for (uint64_t i = 0; i < pages; i++) p2m_frame_list[i] = pfn_to_mfn(first + i);
    p2m_frame_list_list[0] = pfn_to_mfn((uint64_t)p2m_frame_list >> PAGE_SHIFT);
    *(volatile uint64_t *)(shared_info_page + SHARED_INFO_ARCH_MAX_PFN) = nr;
    *(volatile uint64_t *)(shared_info_page + SHARED_INFO_ARCH_P2M_FRAME_LIST_LIST) =
        pfn_to_mfn((uint64_t)p2m_frame_list_list >> PAGE_SHIFT);
}

static long suspend_hypercall(uint64_t start_info_frame)
{
    struct sched_shutdown r = { .reason = SHUTDOWN_suspend };
    return hypercall3(HC_sched_op, SCHEDOP_shutdown, &r, start_info_frame);
}

/* PV: the ring frames in start_info made pseudo-physical (the toolstack
 * turns them into the new domain's machine frames), shared_info unmapped
 * (a page-table entry naming a frame that is not the guest's RAM cannot be
 * saved), then suspend; afterwards shared_info mapped again (a new frame
 * in a new domain), the p2m published again, the console on its new port. */
static int64_t suspend_pv(void)
{
    struct start_info *si = boot_start_info;
    uint64_t si_mfn = pfn_to_mfn((uint64_t)si >> PAGE_SHIFT);
    si->store_mfn = mfn_to_pfn(si->store_mfn);
    si->console_mfn = mfn_to_pfn(si->console_mfn);
    if (hypercall4(HC_update_va_mapping, (uint64_t)shared_info_page, 0, UVMF_INVLPG, 0) < 0)
        panic("panic: suspend: cannot unmap shared_info");
    long rc = suspend_hypercall(si_mfn);
    if (rc != 0) { /* cancelled (or refused): the same domain, the frames as they were */
        si->store_mfn = pfn_to_mfn(si->store_mfn);
        si->console_mfn = pfn_to_mfn(si->console_mfn);
    }
    pv_map_shared_info();
    pv_publish_p2m();
    early_console_use_ring((void *)(mfn_to_pfn(si->console_mfn) << PAGE_SHIFT), si->console_evtchn);
    return rc;
}

static uint64_t hvm_param_or_zero(uint32_t index)
{
    struct xen_hvm_param p = { .domid = DOMID_SELF, .index = index };
    return hypercall2(HC_hvm_op, HVMOP_get_param, &p) < 0 ? 0 : p.value;
}

/* PVH: nothing to undo before (shared_info and the grant frames are Xen's
 * pages placed in our physmap; the toolstack leaves them out); afterwards
 * shared_info placed again and the console on its new port. The ring
 * frames are HVM special pages, which keep their guest frames. */
static int64_t suspend_pvh(void)
{
    long rc = suspend_hypercall(0);
    if (pvh_place_shared_info() < 0) panic("panic: resume: cannot place shared_info");
    if (hvm_param_or_zero(HVM_PARAM_CONSOLE_PFN) != pvh_console_gfn || hvm_param_or_zero(HVM_PARAM_STORE_PFN) != pvh_store_gfn)
        panic("panic: resume: the console or xenstore ring moved to another frame");
    early_console_use_ring(console_window, (uint32_t)hvm_param_or_zero(HVM_PARAM_CONSOLE_EVTCHN));
    return rc;
}

int64_t suspend_domain(void)
{
    early_flush();
    int64_t rc = boot_mode == BOOT_PV ? suspend_pv() : suspend_pvh();
    boot_vcpu0->evtchn_upcall_mask = 1; /* a new shared_info: events stay polled */
    return rc;
}
