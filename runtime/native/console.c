/* Early console: writes bytes to the PV console ring (io/console.h) that
 * xenconsoled reads, or through HYPERVISOR_console_io when running as dom0
 * (a release Xen refuses console_io from a domU). Used for boot messages,
 * traps and panics, when the wasm runtime's console may be unusable. It
 * shares the ring indices with the wasm console, so output stays in order. */
#include "kernel.h"
#include "hypercall.h"

static struct xencons_interface *ring;
static uint32_t console_port;
static int is_dom0;

void early_console_init(void)
{
    is_dom0 = (boot_start_info->flags & SIF_INITDOMAIN) != 0;
    if (!is_dom0) {
        ring = (struct xencons_interface *)(mfn_to_pfn(boot_start_info->console_mfn) << PAGE_SHIFT);
        console_port = boot_start_info->console_evtchn;
    }
}

static void notify(void)
{
    uint32_t port = console_port;
    hypercall2(HC_event_channel_op, EVTCHNOP_send, &port);
}

/* Waits (bounded: a console nobody reads must not hang a crash) until the
 * backend has consumed what we wrote. */
void early_flush(void)
{
    if (!ring) return;
    for (int spins = 0; spins < 100000; spins++) {
        if (*(volatile uint32_t *)&ring->out_cons == *(volatile uint32_t *)&ring->out_prod) return;
        notify();
        hypercall2(HC_sched_op, SCHEDOP_yield, 0);
    }
}

void early_write(const char *s, size_t len)
{
    if (is_dom0 || !ring) {
        hypercall3(HC_console_io, CONSOLEIO_write, len, s);
        return;
    }
    while (len) {
        uint32_t cons = *(volatile uint32_t *)&ring->out_cons;
        uint32_t prod = ring->out_prod;
        uint32_t space = sizeof(ring->out) - (prod - cons);
        if (space == 0) {
            early_flush();
            if (*(volatile uint32_t *)&ring->out_cons == cons) return; /* backend gone */
            continue;
        }
        while (space && len) {
            ring->out[prod++ & (sizeof(ring->out) - 1)] = *s++;
            space--;
            len--;
        }
        __asm__ volatile("sfence" ::: "memory"); /* data before the index */
        ring->out_prod = prod;
        notify();
    }
}

void early_puts(const char *s) { early_write(s, strlen(s)); }

void early_put_dec(uint64_t v)
{
    char buf[20];
    int i = sizeof buf;
    do buf[--i] = '0' + v % 10; while ((v /= 10) && i);
    early_write(buf + i, sizeof buf - i);
}

void early_put_hex(uint64_t v)
{
    char buf[18] = "0x";
    for (int i = 0; i < 16; i++) buf[2 + i] = "0123456789abcdef"[(v >> (60 - 4 * i)) & 15];
    early_write(buf, sizeof buf);
}

void shutdown(unsigned reason)
{
    early_flush();
    for (;;) {
        uint32_t r = reason;
        hypercall2(HC_sched_op, SCHEDOP_shutdown, &r);
    }
}

void panic(const char *msg)
{
    early_puts(msg);
    early_puts("\n");
    shutdown(SHUTDOWN_crash);
}

void abort(void) { panic("panic: abort()"); }

void tsxen_assert_fail(const char *expr, const char *file, int line)
{
    (void)line;
    early_puts("panic: assertion failed: ");
    early_puts(expr);
    early_puts(" in ");
    panic(file);
}
