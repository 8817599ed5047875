/* Xen ABI constants and layouts used by the native boot code.
 * Follows xen/include/public/{xen.h,sched.h,event_channel.h,vcpu.h,
 * arch-x86/xen-x86_64.h,io/console.h}. The AssemblyScript runtime has its
 * own, golden-tested definitions of the same values (runtime/abi/); this
 * header holds only what the code that runs before wasm needs. */
#ifndef TSXEN_XEN_ABI_H
#define TSXEN_XEN_ABI_H
#include <stdint.h>

/* Hypercall numbers (xen.h) */
#define HC_set_trap_table      0
#define HC_mmu_update          1
#define HC_set_callbacks       4
#define HC_fpu_taskswitch      5
#define HC_update_va_mapping  14
#define HC_console_io         18
#define HC_sched_op           29
#define HC_event_channel_op   32

#define CONSOLEIO_write        0
#define SCHEDOP_yield          0
#define SCHEDOP_shutdown       2
#define SHUTDOWN_poweroff      0
#define SHUTDOWN_crash         3
#define EVTCHNOP_send          4
#define UVMF_INVLPG            2
#define MMU_NORMAL_PT_UPDATE   0
#define DOMID_SELF        0x7FF0

/* x86-64 PV: the kernel code selector, and the read-only M2P table (xen-x86_64.h) */
#define FLAT_KERNEL_CS64  0xe033
#define MACH2PHYS_VIRT_START 0xFFFF800000000000UL

/* Page-table entry bits */
#define PTE_PRESENT  0x001UL
#define PTE_RW       0x002UL
#define PTE_USER     0x004UL
#define PTE_ACCESSED 0x020UL
#define PTE_DIRTY    0x040UL
#define PTE_MFN_MASK 0x000FFFFFFFFFF000UL
#define PAGE_SHIFT 12
#define PAGE_SIZE  4096UL

/* start_info (xen.h, x86-64 layout) */
struct start_info {
    char magic[32];              /* "xen-<version>-<platform>" */
    uint64_t nr_pages;
    uint64_t shared_info;        /* machine address of shared_info */
    uint32_t flags;              /* SIF_* */
    uint32_t pad0;
    uint64_t store_mfn;
    uint32_t store_evtchn;
    uint32_t pad1;
    uint64_t console_mfn;        /* console.domU.mfn */
    uint32_t console_evtchn;     /* console.domU.evtchn */
    uint32_t pad2;
    uint64_t pt_base;            /* virtual address of the bootstrap L4 */
    uint64_t nr_pt_frames;
    uint64_t mfn_list;           /* virtual address of the p2m array */
    uint64_t mod_start;
    uint64_t mod_len;
    char cmd_line[1024];
    uint64_t first_p2m_pfn;
    uint64_t nr_p2m_frames;
};
#define SIF_INITDOMAIN 2

/* io/console.h */
struct xencons_interface {
    char in[1024];
    char out[2048];
    uint32_t in_cons, in_prod;
    uint32_t out_cons, out_prod;
};

/* The start of shared_info: vcpu_info[0] (xen.h, arch-x86/xen.h) */
struct vcpu_info_head {
    uint8_t evtchn_upcall_pending;
    uint8_t evtchn_upcall_mask;
    uint8_t pad[6];
    uint64_t evtchn_pending_sel;
    uint64_t cr2;                /* arch_vcpu_info.cr2: the last page-fault address */
};

struct trap_info {
    uint8_t vector;
    uint8_t flags;               /* bits 0-1: DPL, bit 2: mask events */
    uint16_t cs;
    uint32_t pad;
    uint64_t address;
};

struct mmu_update { uint64_t ptr, val; };

_Static_assert(__builtin_offsetof(struct start_info, nr_pages) == 32, "start_info.nr_pages");
_Static_assert(__builtin_offsetof(struct start_info, console_mfn) == 72, "start_info.console");
_Static_assert(__builtin_offsetof(struct start_info, cmd_line) == 128, "start_info.cmd_line");
_Static_assert(sizeof(struct start_info) == 1168, "start_info size");
_Static_assert(__builtin_offsetof(struct xencons_interface, out_prod) == 3084, "xencons out_prod");
_Static_assert(sizeof(struct trap_info) == 16, "trap_info size");
#endif
