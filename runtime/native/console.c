/* Early console: writes bytes to the PV console ring (io/console.h) that
 * xenconsoled reads, in both boot modes, once the boot code has found it.
 * Before that (and for the initial domain, which has no ring) it writes
 * through HYPERVISOR_console_io under PV (a release Xen drops console_io
 * from a domU) and through Xen's HVM debug port 0xe9 under PVH (Xen prints
 * those lines on its own console as "(dN) ..."). Used for boot messages,
 * traps and panics, when the wasm runtime's console may be unusable. It
 * shares the ring indices with the wasm console, so output stays in order. */
#include "kernel.h"
#include "hypercall.h"

#define XEN_DEBUG_PORT 0xe9

static struct xencons_interface *ring;
static uint32_t console_port;

void early_console_use_ring(void *page, uint32_t port)
{
    ring = page;
    console_port = port;
}

static void debug_port_write(const char *s, size_t len)
{
    while (len--) __asm__ volatile("outb %0, %1" : : "a"(*s++), "Nd"((uint16_t)XEN_DEBUG_PORT));
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
    if (!ring) {
        if (boot_mode == BOOT_PVH) debug_port_write(s, len);
        else hypercall3(HC_console_io, CONSOLEIO_write, len, s);
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
