/* 64-bit hypercalls: `call hypercall_page + nr*32`, arguments in rdi, rsi,
 * rdx, r10, r8, result in rax (xen.h), the same for PV and PVH. The page is
 * filled in by Xen: under PV from the ELF note naming it (boot/shim.asm
 * reserves it), under PVH when boot_pvh.c writes its address to the MSR
 * Xen advertises in CPUID.
 * Debug builds of Xen scribble over argument registers, so they are all
 * declared as clobbered. */
#ifndef TSXEN_HYPERCALL_H
#define TSXEN_HYPERCALL_H
#include <stdint.h>

extern char hypercall_page[];

static inline long hypercall5(unsigned nr, uint64_t a1, uint64_t a2, uint64_t a3,
                              uint64_t a4, uint64_t a5)
{
    register uint64_t r1 __asm__("rdi") = a1;
    register uint64_t r2 __asm__("rsi") = a2;
    register uint64_t r3 __asm__("rdx") = a3;
    register uint64_t r4 __asm__("r10") = a4;
    register uint64_t r5 __asm__("r8") = a5;
    long ret;
    __asm__ volatile("call *%[entry]"
                     : "=a"(ret), "+r"(r1), "+r"(r2), "+r"(r3), "+r"(r4), "+r"(r5)
                     : [entry] "r"(hypercall_page + nr * 32)
                     : "memory", "rcx", "r11", "r9");
    return ret;
}

#define hypercall2(nr, a, b) hypercall5((nr), (uint64_t)(a), (uint64_t)(b), 0, 0, 0)
#define hypercall3(nr, a, b, c) hypercall5((nr), (uint64_t)(a), (uint64_t)(b), (uint64_t)(c), 0, 0)
#define hypercall4(nr, a, b, c, d) \
    hypercall5((nr), (uint64_t)(a), (uint64_t)(b), (uint64_t)(c), (uint64_t)(d), 0)
#endif
