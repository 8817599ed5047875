/* CPU exceptions: every fault prints what happened, where, the faulting
 * address and the wasm functions that were running (backtrace.c), then
 * shuts the domain down as crashed. Nothing here returns to the faulting
 * code. Under PV, Xen delivers exceptions through the trap table (xen.h
 * HYPERVISOR_set_trap_table); under PVH the CPU delivers them through our
 * IDT, on a separate stack (IST 1 of our TSS), so a fault on an overflowed
 * boot stack is still reported. Both kinds of stub in boot/shim.asm build
 * the same trap_frame. */
#include "kernel.h"
#include "hypercall.h"

struct trap_frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error_code, rip, cs, rflags, rsp, ss;
};

extern char boot_stack_guard[];

static const char *const trap_names[20] = {
    "divide error", "debug", "nmi", "breakpoint", "overflow", "bound range",
    "invalid opcode", "device not available", "double fault", "coprocessor overrun",
    "invalid TSS", "segment not present", "stack fault", "general protection",
    "page fault", "reserved", "x87 floating point", "alignment check",
    "machine check", "SIMD floating point",
};

/* ---- PV: Xen's trap table ---- */

#define PV_STUBS(X) X(0) X(1) X(3) X(4) X(5) X(6) X(7) X(9) X(10) X(11) X(12) X(13) X(14) X(16) X(17) X(18) X(19)
#define DECLARE_PV(n) extern char trap_##n[];
PV_STUBS(DECLARE_PV)
extern char event_callback[], failsafe_callback[];

/* DPL 0 (kernel), events masked while the handler runs. */
#define PV_ENTRY(n) { n, 4, FLAT_KERNEL_CS64, 0, (uint64_t)trap_##n },
static struct trap_info trap_table[] = { PV_STUBS(PV_ENTRY) { 0, 0, 0, 0, 0 } };

void traps_init_pv(void)
{
    if (hypercall2(HC_set_trap_table, trap_table, 0) < 0)
        panic("panic: set_trap_table failed");
    hypercall4(HC_set_callbacks, event_callback, failsafe_callback, 0, 0);
    /* The guard page below the boot stack turns an overflow into a fault. */
    hypercall4(HC_update_va_mapping, boot_stack_guard, 0, UVMF_INVLPG, 0);
}

/* ---- PVH: IDT, TSS ---- */

#define PVH_VECTORS 20
#define DECLARE_PVH(n) extern char pvh_trap_##n[];
#define PVH_STUBS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15) X(16) X(17) X(18) X(19)
PVH_STUBS(DECLARE_PVH)
#define PVH_ADDR(n) pvh_trap_##n,
static char *const pvh_stubs[PVH_VECTORS] = { PVH_STUBS(PVH_ADDR) };

#define GDT_CODE64 0x08
#define GDT_TSS    0x18
extern uint64_t gdt[];                  /* boot/shim.asm; entries 3-4: the TSS descriptor */

struct idt_gate {
    uint16_t offset_low, selector;
    uint8_t ist, type;                  /* type 0x8e: present, DPL 0, 64-bit interrupt gate */
    uint16_t offset_mid;
    uint32_t offset_high, reserved;
};
struct tss64 {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3, iomap_base;
} __attribute__((packed));
_Static_assert(sizeof(struct idt_gate) == 16, "idt gate");
_Static_assert(sizeof(struct tss64) == 104, "tss");

static struct idt_gate idt[PVH_VECTORS];
static struct tss64 tss;
static uint8_t trap_stack[16384] __attribute__((aligned(16)));

void traps_init_pvh(void)
{
    tss.ist[0] = (uint64_t)(trap_stack + sizeof trap_stack);
    tss.iomap_base = sizeof tss;        /* no I/O bitmap */
    uint64_t base = (uint64_t)&tss, limit = sizeof tss - 1;
    gdt[GDT_TSS / 8] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89UL << 40) /* present, available 64-bit TSS */
                       | ((limit >> 16) << 48) | ((base >> 24 & 0xff) << 56);
    gdt[GDT_TSS / 8 + 1] = base >> 32;
    __asm__ volatile("ltr %w0" : : "r"(GDT_TSS));

    for (unsigned v = 0; v < PVH_VECTORS; v++) {
        uint64_t a = (uint64_t)pvh_stubs[v];
        idt[v] = (struct idt_gate){ (uint16_t)a, GDT_CODE64, 1, 0x8e, (uint16_t)(a >> 16), (uint32_t)(a >> 32), 0 };
    }
    struct { uint16_t limit; uint64_t base; } __attribute__((packed)) idtr = { sizeof idt - 1, (uint64_t)idt };
    __asm__ volatile("lidt %0" : : "m"(idtr));
}

/* ---- the report ---- */

static int in_trap;

static uint64_t fault_address(void)
{
    if (boot_mode == BOOT_PVH) {
        uint64_t cr2;
        __asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
        return cr2;
    }
    return boot_vcpu0 ? boot_vcpu0->cr2 : 0; /* Xen saves it in vcpu_info for a PV guest */
}

void tsxen_trap(struct trap_frame *f)
{
    if (in_trap++) shutdown(SHUTDOWN_crash); /* a fault while reporting one */
    early_puts("trap: ");
    early_puts(f->vector < 20 ? trap_names[f->vector] : "unknown");
    early_puts(" (vector ");
    early_put_dec(f->vector);
    early_puts(") rip=");
    early_put_hex(f->rip);
    early_puts(" error=");
    early_put_hex(f->error_code);
    if (f->vector == 14) {
        early_puts(" addr=");
        early_put_hex(fault_address());
    }
    early_puts(" rsp=");
    early_put_hex(f->rsp);
    early_puts("\n");
    backtrace_from(f->rip, f->rbp);
    shutdown(SHUTDOWN_crash);
}

void tsxen_bad_callback(int which)
{
    panic(which ? "panic: Xen failsafe callback (bad segment on return to guest)"
                : "panic: unexpected event upcall (upcalls are masked)");
}
