/* Xen ABI constants and layouts used by the native boot code.
 * Follows xen/include/public/{xen.h,sched.h,event_channel.h,vcpu.h,memory.h,
 * arch-x86/xen-x86_64.h,arch-x86/cpuid.h,arch-x86/hvm/start_info.h,
 * hvm/hvm_op.h,hvm/params.h,io/console.h}. The AssemblyScript runtime has its
 * own, golden-tested definitions of the same values (runtime/abi/), and
 * tests/golden/native-abi.test.ts checks that this header agrees with them;
 * this header holds only what the code that runs before wasm needs. */
#ifndef TSXEN_XEN_ABI_H
#define TSXEN_XEN_ABI_H
#include <stdint.h>

/* Hypercall numbers (xen.h) */
#define HC_set_trap_table      0
#define HC_mmu_update          1
#define HC_set_callbacks       4
#define HC_fpu_taskswitch      5
#define HC_memory_op          12
#define HC_update_va_mapping  14
#define HC_console_io         18
#define HC_sched_op           29
#define HC_event_channel_op   32
#define HC_hvm_op             34

#define CONSOLEIO_write        0
#define SCHEDOP_yield          0
#define SCHEDOP_shutdown       2
#define SHUTDOWN_poweroff      0
#define SHUTDOWN_suspend       2
#define SHUTDOWN_crash         3
#define EVTCHNOP_send          4
#define UVMF_INVLPG            2
#define MMU_NORMAL_PT_UPDATE   0
#define DOMID_SELF        0x7FF0

/* memory.h: XENMEM_add_to_physmap places a Xen-owned frame (shared_info, a
 * grant-table frame) at a guest-physical frame of a translated guest. */
#define XENMEM_add_to_physmap     7
#define XENMAPSPACE_shared_info   0
#define XENMAPSPACE_grant_table   1
struct xen_add_to_physmap {
    uint16_t domid;
    uint16_t size;
    uint32_t space;
    uint64_t idx;
    uint64_t gpfn;
};

/* hvm/hvm_op.h, hvm/params.h: where a PVH guest finds its console and
 * xenstore rings (there is no start_info page) */
#define HVMOP_get_param           1
#define HVM_PARAM_STORE_PFN       1
#define HVM_PARAM_STORE_EVTCHN    2
#define HVM_PARAM_CONSOLE_PFN    17
#define HVM_PARAM_CONSOLE_EVTCHN 18
struct xen_hvm_param {
    uint16_t domid;
    uint16_t pad;
    uint32_t index;
    uint64_t value;
};

/* arch-x86/cpuid.h: Xen's CPUID leaves; leaf +2 gives the MSR that installs
 * the hypercall page of an HVM/PVH guest (eax: number of pages, ebx: MSR) */
#define XEN_CPUID_FIRST_LEAF    0x40000000
#define XEN_CPUID_SIGNATURE_EBX 0x566e6558 /* "XenV" */
#define XEN_CPUID_SIGNATURE_ECX 0x65584d4d /* "MMXe" */
#define XEN_CPUID_SIGNATURE_EDX 0x4d4d566e /* "nVMM" */

/* arch-x86/hvm/start_info.h: what a PVH guest gets in ebx at its entry */
#define XEN_HVM_START_MAGIC_VALUE 0x336ec578
#define XEN_HVM_MEMMAP_TYPE_RAM   1
struct hvm_start_info {
    uint32_t magic;
    uint32_t version;            /* 1 and later have the memory map */
    uint32_t flags;              /* SIF_* */
    uint32_t nr_modules;
    uint64_t modlist_paddr;
    uint64_t cmdline_paddr;
    uint64_t rsdp_paddr;
    uint64_t memmap_paddr;
    uint32_t memmap_entries;
    uint32_t reserved;
};
struct hvm_memmap_table_entry {
    uint64_t addr;
    uint64_t size;
    uint32_t type;               /* XEN_HVM_MEMMAP_TYPE_* (the E820 types) */
    uint32_t reserved;
};

/* x86-64 PV: the kernel code selector, and the read-only M2P table (xen-x86_64.h) */
#define FLAT_KERNEL_CS64  0xe033
#define MACH2PHYS_VIRT_START 0xFFFF800000000000UL

/* Page-table entry bits */
#define PTE_PRESENT  0x001UL
#define PTE_RW       0x002UL
#define PTE_USER     0x004UL
#define PTE_ACCESSED 0x020UL
#define PTE_DIRTY    0x040UL
#define PTE_LARGE    0x080UL      /* in an L2 entry: a 2 MiB page */
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
#define MAX_GUEST_CMDLINE 1024

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

/* shared_info.arch (arch-x86/xen.h): where the toolstack finds a PV
 * guest's p2m when it saves or migrates it (frame list list -> frame list
 * pages -> p2m pages, each level a page of machine frames). */
#define SHARED_INFO_ARCH_MAX_PFN          3088
#define SHARED_INFO_ARCH_P2M_FRAME_LIST_LIST 3096

_Static_assert(__builtin_offsetof(struct start_info, nr_pages) == 32, "start_info.nr_pages");
_Static_assert(__builtin_offsetof(struct start_info, console_mfn) == 72, "start_info.console");
_Static_assert(__builtin_offsetof(struct start_info, cmd_line) == 128, "start_info.cmd_line");
_Static_assert(sizeof(struct start_info) == 1168, "start_info size");
_Static_assert(__builtin_offsetof(struct xencons_interface, out_prod) == 3084, "xencons out_prod");
_Static_assert(sizeof(struct trap_info) == 16, "trap_info size");
_Static_assert(__builtin_offsetof(struct xen_add_to_physmap, space) == 4, "xen_add_to_physmap.space");
_Static_assert(__builtin_offsetof(struct xen_add_to_physmap, idx) == 8, "xen_add_to_physmap.idx");
_Static_assert(__builtin_offsetof(struct xen_add_to_physmap, gpfn) == 16, "xen_add_to_physmap.gpfn");
_Static_assert(sizeof(struct xen_add_to_physmap) == 24, "xen_add_to_physmap size");
_Static_assert(__builtin_offsetof(struct xen_hvm_param, index) == 4, "xen_hvm_param.index");
_Static_assert(__builtin_offsetof(struct xen_hvm_param, value) == 8, "xen_hvm_param.value");
_Static_assert(sizeof(struct xen_hvm_param) == 16, "xen_hvm_param size");
_Static_assert(__builtin_offsetof(struct hvm_start_info, cmdline_paddr) == 24, "hvm_start_info.cmdline_paddr");
_Static_assert(__builtin_offsetof(struct hvm_start_info, memmap_paddr) == 40, "hvm_start_info.memmap_paddr");
_Static_assert(__builtin_offsetof(struct hvm_start_info, memmap_entries) == 48, "hvm_start_info.memmap_entries");
_Static_assert(sizeof(struct hvm_start_info) == 56, "hvm_start_info size");
_Static_assert(sizeof(struct hvm_memmap_table_entry) == 24, "hvm_memmap_table_entry size");
#endif
