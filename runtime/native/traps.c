/* CPU exceptions in a PV guest (xen.h HYPERVISOR_set_trap_table): every
 * fault prints what happened, where, the faulting address and the wasm
 * functions that were running (backtrace.c), then shuts the domain down as
 * crashed. Nothing here returns to the faulting code. */
#include "kernel.h"
#include "hypercall.h"

struct trap_frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error_code, rip, cs, rflags, rsp, ss;
};

#define STUBS(X) X(0) X(1) X(3) X(4) X(5) X(6) X(7) X(9) X(10) X(11) X(12) X(13) X(14) X(16) X(17) X(18) X(19)
#define DECLARE(n) extern char trap_##n[];
STUBS(DECLARE)
extern char event_callback[], failsafe_callback[];
extern char boot_stack_guard[];

static const char *const trap_names[20] = {
    "divide error", "debug", "nmi", "breakpoint", "overflow", "bound range",
    "invalid opcode", "device not available", "double fault", "coprocessor overrun",
    "invalid TSS", "segment not present", "stack fault", "general protection",
    "page fault", "reserved", "x87 floating point", "alignment check",
    "machine check", "SIMD floating point",
};

/* DPL 0 (kernel), events masked while the handler runs. */
#define ENTRY(n) { n, 4, FLAT_KERNEL_CS64, 0, (uint64_t)trap_##n },
static struct trap_info trap_table[] = { STUBS(ENTRY) { 0, 0, 0, 0, 0 } };

void traps_init(void)
{
    if (hypercall2(HC_set_trap_table, trap_table, 0) < 0)
        panic("panic: set_trap_table failed");
    hypercall4(HC_set_callbacks, event_callback, failsafe_callback, 0, 0);
    /* The guard page below the boot stack turns an overflow into a fault. */
    hypercall4(HC_update_va_mapping, boot_stack_guard, 0, UVMF_INVLPG, 0);
}

static int in_trap;

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
        early_put_hex(boot_vcpu0 ? boot_vcpu0->cr2 : 0);
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
