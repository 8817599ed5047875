/* The host functions a tsxen wasm module imports (module "xen"), native
 * version. sim/ implements the same set in TypeScript; runtime/host.ts
 * declares them for AssemblyScript. Pointers passed by wasm are wasm
 * addresses, which here are guest virtual addresses, so hypercall arguments
 * go to Xen unchanged. Xen checks every guest pointer it is given. The two
 * boot modes differ only in start_info (PV's start_info or PVH's
 * hvm_start_info, told apart by their magic) and mfn_to_pfn. */
#include "wasm-rt.h"
#include "kernel.h"
#include "hypercall.h"

struct Z_xen_instance_t;

uint64_t Z_xenZ_hypercall(struct Z_xen_instance_t *x, uint32_t op, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5)
{
    (void)x;
    if ((int32_t)op == HOSTOP_MEMORY_GROW) return wasm_memory_grow(a1);
    if ((int32_t)op == HOSTOP_MEMORY_LIMIT) return wasm_ram_limit / 65536;
    if ((int32_t)op == HOSTOP_BOOT_TSC) return boot_tsc;
    if ((int32_t)op == HOSTOP_SUSPEND) return (uint64_t)suspend_domain();
    if (op >= 64) return (uint64_t)-38; /* -ENOSYS: only 64 slots in the hypercall page */
    return (uint64_t)hypercall5(op, a1, a2, a3, a4, a5);
}

/* Under PV: Xen's M2P table. Under PVH frames are guest-physical already
 * (= pfn), except the console and xenstore ring frames, which are seen
 * through console_window and store_window (mm_pvh.c). */
uint64_t Z_xenZ_mfn_to_pfn(struct Z_xen_instance_t *x, uint64_t mfn)
{
    (void)x;
    if (boot_mode == BOOT_PV) return mfn_to_pfn(mfn);
    if (mfn == pvh_console_gfn) return (uint64_t)console_window >> PAGE_SHIFT;
    if (mfn == pvh_store_gfn) return (uint64_t)store_window >> PAGE_SHIFT;
    return mfn;
}

uint32_t Z_xenZ_start_info(struct Z_xen_instance_t *x)
{
    (void)x;
    return (uint32_t)(uint64_t)(boot_mode == BOOT_PVH ? (void *)boot_hvm_start_info : (void *)boot_start_info);
}

uint32_t Z_xenZ_shared_info(struct Z_xen_instance_t *x)
{
    (void)x;
    return (uint32_t)(uint64_t)shared_info_page;
}

uint64_t Z_xenZ_rdtsc(struct Z_xen_instance_t *x)
{
    (void)x;
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

void Z_xenZ_fence(struct Z_xen_instance_t *x)
{
    (void)x;
    __asm__ volatile("mfence" ::: "memory");
}

uint64_t Z_xenZ_atomic_and64(struct Z_xen_instance_t *x, uint32_t addr, uint64_t mask)
{
    (void)x;
    return __atomic_fetch_and((uint64_t *)(uint64_t)addr, mask, __ATOMIC_SEQ_CST);
}

uint64_t Z_xenZ_atomic_or64(struct Z_xen_instance_t *x, uint32_t addr, uint64_t mask)
{
    (void)x;
    return __atomic_fetch_or((uint64_t *)(uint64_t)addr, mask, __ATOMIC_SEQ_CST);
}

uint32_t Z_xenZ_cmpxchg16(struct Z_xen_instance_t *x, uint32_t addr, uint32_t expected, uint32_t replacement)
{
    (void)x;
    uint16_t old = (uint16_t)expected;
    __atomic_compare_exchange_n((uint16_t *)(uint64_t)addr, &old, (uint16_t)replacement, 0,
                                __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    return old; /* the value found: equal to expected if the exchange happened */
}

void Z_xenZ_panic(struct Z_xen_instance_t *x, uint32_t msg, uint32_t len)
{
    (void)x;
    early_puts("panic: ");
    early_write((const char *)(uint64_t)msg, len);
    early_puts("\n");
    backtrace_here();
    shutdown(SHUTDOWN_crash);
}

/* RDRAND, if CPUID leaf 1 says the CPU has it (ECX bit 30). Plain CPUID:
 * under PV without CPUID faulting it reports the hardware (which is what
 * decides whether the instruction works), otherwise Xen's policy for the
 * guest. A failing RDRAND (CF clear) is retried 10 times, as Intel's DRNG
 * guide advises. Returns 1 with the value stored at `out`, else 0. */
static int rdrand_known = -1;

uint32_t Z_xenZ_rdrand(struct Z_xen_instance_t *x, uint32_t out)
{
    (void)x;
    if (rdrand_known < 0) {
        uint32_t a = 1, b, c = 0, d;
        __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
        rdrand_known = (c >> 30) & 1;
    }
    if (!rdrand_known) return 0;
    for (int i = 0; i < 10; i++) {
        uint64_t v;
        unsigned char ok;
        __asm__ volatile("rdrand %0; setc %1" : "=r"(v), "=qm"(ok) :: "cc");
        if (ok) {
            *(uint64_t *)(uint64_t)out = v;
            return 1;
        }
    }
    return 0;
}
