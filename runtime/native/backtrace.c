/* Named backtraces under Xen: after a wasm trap, a panic or a CPU exception,
 * prints the chain of AssemblyScript functions that were running, in the
 * format the sim prints (tools/symbols.ts):
 *     at drivers/net/stack.ts NetStack#ipIn
 *
 * How: every C file is compiled with frame pointers, and app.c (wasm2c's
 * output, one C function per wasm function) without gcc's inlining of one
 * wasm function into another, so each wasm call is a native frame and the
 * rbp chain walks them all. Return addresses are mapped to names through
 * the symbol table tsxen build generates after a first link (symtab.c,
 * tools/symtab.ts): address ranges of the w2c_f<index> functions and the
 * text of each frame. The walk never faults: every frame pointer must lie
 * inside the boot stack, 8-byte aligned, and above the previous one. */
#include "kernel.h"

/* One wasm function's code (tools/symtab.ts writes these, sorted by start). */
struct tsxen_sym {
    uint32_t start, size;
    uint32_t text; /* offset in tsxen_sym_text; flags in the top bits */
};
#define SYM_REPORTING (1u << 31) /* fault-reporting code: hidden when innermost */
#define SYM_ALLOCATOR (1u << 30) /* AssemblyScript's allocator: `unreachable` there is out of memory */
#define SYM_TEXT_MASK ((1u << 30) - 1)

extern const struct tsxen_sym tsxen_syms[];
extern const uint32_t tsxen_nr_syms;
extern const char tsxen_sym_text[];
extern char boot_stack_guard[], boot_stack_top[];

#define MAX_FRAMES 32    /* lines printed; the rest is summarised (tools/symbols.ts MAX_FRAMES) */
#define MAX_WALK 100000  /* frame pointers followed at most */

static const struct tsxen_sym *lookup(uint64_t addr)
{
    uint32_t lo = 0, hi = tsxen_nr_syms;
    while (lo < hi) { /* the first entry starting above addr */
        uint32_t mid = lo + (hi - lo) / 2;
        if (tsxen_syms[mid].start <= addr) lo = mid + 1;
        else hi = mid;
    }
    if (lo == 0) return 0;
    const struct tsxen_sym *s = &tsxen_syms[lo - 1];
    return addr < (uint64_t)s->start + s->size ? s : 0;
}

/* Iterates the frames: an optional faulting rip first, then the return
 * address of each frame on the rbp chain (looked up at ret - 1: a call to
 * a noreturn function may be the last instruction of its caller). */
struct walk {
    uint64_t pc, fp;
    int steps;
};

static const struct tsxen_sym *next_frame(struct walk *w)
{
    const uint64_t lo = (uint64_t)boot_stack_guard + 4096, hi = (uint64_t)boot_stack_top;
    for (;;) {
        if (w->pc) {
            const struct tsxen_sym *s = lookup(w->pc);
            w->pc = 0;
            if (s) return s;
            continue;
        }
        if (w->fp < lo || w->fp > hi - 16 || (w->fp & 7) || ++w->steps > MAX_WALK) return 0;
        const uint64_t *frame = (const uint64_t *)w->fp;
        uint64_t up = frame[0], ret = frame[1];
        w->fp = up > w->fp ? up : 0;
        if (ret) w->pc = ret - 1;
    }
}

static int is_reporting(const struct tsxen_sym *s) { return (s->text & SYM_REPORTING) != 0; }

/* Two entries of one wasm function (gcc's .cold parts, clones) share a text. */
static int same_text(const struct tsxen_sym *a, const struct tsxen_sym *b)
{
    return (a->text & SYM_TEXT_MASK) == (b->text & SYM_TEXT_MASK);
}

static void print_line(const struct tsxen_sym *s, uint64_t times)
{
    early_puts("  at ");
    early_puts(&tsxen_sym_text[s->text & SYM_TEXT_MASK]);
    if (times > 1) {
        early_puts(" (");
        early_put_dec(times);
        early_puts(" times)");
    }
    early_puts("\n");
}

/* The innermost frame that is not fault-reporting code, or 0. */
static const struct tsxen_sym *innermost(uint64_t pc, uint64_t fp)
{
    struct walk w = { pc, fp, 0 };
    const struct tsxen_sym *s;
    while ((s = next_frame(&w)) && is_reporting(s)) {}
    return s;
}

static void print_frames(uint64_t pc, uint64_t fp)
{
    struct walk w = { pc, fp, 0 };
    const struct tsxen_sym *s, *run = 0;
    uint64_t run_len = 0, shown = 0, rest = 0;
    int top = 1;
    while ((s = next_frame(&w))) {
        if (top && is_reporting(s)) continue;
        top = 0;
        if (shown == MAX_FRAMES) { rest++; continue; }
        if (run && same_text(s, run)) { run_len++; continue; }
        if (run) { print_line(run, run_len); shown++; }
        if (shown == MAX_FRAMES) { rest = 1; run = 0; continue; }
        run = s;
        run_len = 1;
    }
    if (run) print_line(run, run_len);
    if (rest) {
        early_puts("  ... ");
        early_put_dec(rest);
        early_puts(" more frames\n");
    }
}

/* From inside a native function called (directly or not) by wasm code. */
__attribute__((noinline)) void backtrace_here(void)
{
    print_frames(0, (uint64_t)__builtin_frame_address(0));
}

/* From a CPU exception's saved rip and rbp. */
void backtrace_from(uint64_t rip, uint64_t rbp)
{
    print_frames(rip, rbp);
}

/* Whether `unreachable` was executed by AssemblyScript's allocator (out of
 * memory), judged from the innermost wasm frame. */
__attribute__((noinline)) int backtrace_in_allocator(void)
{
    const struct tsxen_sym *s = innermost(0, (uint64_t)__builtin_frame_address(0));
    return s && (s->text & SYM_ALLOCATOR);
}
