/* A freestanding runtime for wasm2c (wabt 1.0.32) output, replacing
 * wasm-rt-impl.c (which needs malloc, mmap and signals).
 *
 * Memory model: the module's linear memory starts at virtual address 0, so a
 * wasm address is a guest virtual address is a pseudo-physical address. The
 * memory may grow up to the RAM mm_pv.c/mm_pvh.c mapped (wasm_ram_limit); past it
 * memory.grow returns -1 as the wasm spec allows. Bounds are checked
 * explicitly by the generated code (WASM_RT_MEMCHECK_SIGNAL_HANDLER=0), and
 * call depth is counted, so traps arrive here rather than as page faults. */
#include <stdarg.h>
#include "wasm-rt.h"
#include "kernel.h"

#define WASM_PAGE 65536UL

uint64_t wasm_ram_limit;
uint32_t wasm_rt_call_stack_depth;
/* The last memory growth that failed, in bytes (0: none): the allocator
 * traps right after, and the report says how much it asked for. */
static uint64_t failed_grow_bytes;

static const char *const trap_reasons[] = {
    [WASM_RT_TRAP_NONE] = "none",
    [WASM_RT_TRAP_OOB] = "out of bounds memory access",
    [WASM_RT_TRAP_INT_OVERFLOW] = "integer overflow",
    [WASM_RT_TRAP_DIV_BY_ZERO] = "integer divide by zero",
    [WASM_RT_TRAP_INVALID_CONVERSION] = "invalid conversion to integer",
    [WASM_RT_TRAP_UNREACHABLE] = "unreachable executed",
    [WASM_RT_TRAP_CALL_INDIRECT] = "indirect call signature mismatch",
    [WASM_RT_TRAP_UNCAUGHT_EXCEPTION] = "uncaught exception",
    [WASM_RT_TRAP_EXHAUSTION] = "call stack exhausted",
};

const char *wasm_rt_strerror(wasm_rt_trap_t trap)
{
    return (unsigned)trap < sizeof trap_reasons / sizeof *trap_reasons ? trap_reasons[trap]
                                                                       : "unknown trap";
}

/* The reason, then the AssemblyScript functions that were running. The
 * allocator executes `unreachable` only when memory.grow fails. */
void wasm_rt_trap(wasm_rt_trap_t trap)
{
    early_puts("trap: ");
    if (trap == WASM_RT_TRAP_UNREACHABLE && backtrace_in_allocator()) {
        /* "out of memory: <n> bytes requested, heap <used> KiB of <max> KiB",
         * the heap being the module's memory above its memory base. */
        early_puts("out of memory");
        if (failed_grow_bytes && wasm_memory) {
            early_puts(": ");
            early_put_dec(failed_grow_bytes);
            early_puts(" bytes requested, heap ");
            early_put_dec((((wasm_rt_memory_t *)wasm_memory)->size - TSXEN_MEMORY_BASE) / 1024);
            early_puts(" KiB of ");
            early_put_dec((wasm_ram_limit - TSXEN_MEMORY_BASE) / 1024);
            early_puts(" KiB");
        }
    } else {
        early_puts(wasm_rt_strerror(trap));
    }
    early_puts("\n");
    backtrace_here();
    shutdown(SHUTDOWN_crash);
}

static int initialized;
void wasm_rt_init(void) { initialized = 1; }
bool wasm_rt_is_initialized(void) { return initialized; }
void wasm_rt_free(void) {}

/* Function signatures, for call_indirect checks: each distinct signature
 * gets one index. AssemblyScript modules have a few dozen. */
#define MAX_TYPES 256
#define MAX_ARITY 16
static struct { uint32_t params, results; uint8_t types[MAX_ARITY]; } func_types[MAX_TYPES];
static uint32_t nr_func_types;

uint32_t wasm_rt_register_func_type(uint32_t params, uint32_t results, ...)
{
    if (params + results > MAX_ARITY) panic("panic: wasm function signature too long");
    uint8_t types[MAX_ARITY];
    va_list ap;
    va_start(ap, results);
    for (uint32_t i = 0; i < params + results; i++) types[i] = (uint8_t)va_arg(ap, int);
    va_end(ap);
    for (uint32_t t = 0; t < nr_func_types; t++)
        if (func_types[t].params == params && func_types[t].results == results &&
            !memcmp(func_types[t].types, types, params + results))
            return t;
    if (nr_func_types == MAX_TYPES) panic("panic: too many wasm function signatures");
    func_types[nr_func_types].params = params;
    func_types[nr_func_types].results = results;
    memcpy(func_types[nr_func_types].types, types, params + results);
    return nr_func_types++;
}

void wasm_rt_allocate_memory(wasm_rt_memory_t *mem, uint32_t initial_pages, uint32_t max_pages)
{
    uint64_t bytes = initial_pages * WASM_PAGE;
    if (bytes > wasm_ram_limit) panic("panic: not enough RAM for the wasm module's initial memory");
    /* Below the memory base lie this kernel and Xen's bootstrap data; the
     * module's own memory starts there and must start out zeroed. */
    if (bytes > TSXEN_MEMORY_BASE) memset((void *)TSXEN_MEMORY_BASE, 0, bytes - TSXEN_MEMORY_BASE);
    mem->data = (uint8_t *)0;
    mem->pages = initial_pages;
    mem->max_pages = max_pages;
    mem->size = (uint32_t)bytes;
}

uint32_t wasm_rt_grow_memory(wasm_rt_memory_t *mem, uint32_t delta)
{
    uint32_t old = mem->pages;
    uint64_t pages = (uint64_t)old + delta;
    if (pages > mem->max_pages || pages * WASM_PAGE > wasm_ram_limit || pages * WASM_PAGE > 0xffffffffUL) {
        failed_grow_bytes = (uint64_t)delta * WASM_PAGE;
        return (uint32_t)-1;
    }
    memset((void *)(uint64_t)mem->size, 0, delta * WASM_PAGE);
    mem->pages = (uint32_t)pages;
    mem->size = (uint32_t)(pages * WASM_PAGE);
    return old;
}

void wasm_rt_free_memory(wasm_rt_memory_t *mem) { (void)mem; }

/* HOSTOP_MEMORY_GROW: the module's memory.grow, routed through the host
 * (tools/memory-grow-transform.mjs). */
uint64_t wasm_memory_grow(uint64_t pages)
{
    if (!wasm_memory || pages > 0xffffffffUL) return (uint64_t)-1;
    return (uint64_t)(int64_t)(int32_t)wasm_rt_grow_memory((wasm_rt_memory_t *)wasm_memory, (uint32_t)pages);
}

/* Tables hold function references for call_indirect. They are allocated
 * once at instantiation from a static pool; AssemblyScript never grows them. */
#define TABLE_POOL 4096
static wasm_rt_funcref_t table_pool[TABLE_POOL];
static uint32_t table_pool_used;

void wasm_rt_allocate_funcref_table(wasm_rt_funcref_table_t *table, uint32_t elements, uint32_t max_elements)
{
    if (elements > TABLE_POOL - table_pool_used) panic("panic: wasm table too large");
    table->data = &table_pool[table_pool_used];
    table_pool_used += elements;
    table->size = elements;
    table->max_size = max_elements;
}

void wasm_rt_free_funcref_table(wasm_rt_funcref_table_t *table) { (void)table; }

uint32_t wasm_rt_grow_funcref_table(wasm_rt_funcref_table_t *table, uint32_t delta, wasm_rt_funcref_t init)
{
    (void)table; (void)delta; (void)init;
    return (uint32_t)-1;
}
