/* bench/compute/native-main.c: runs bench/compute/csum.ts natively — the
 * asc -O3 wasm, translated by wasm2c and compiled with gcc -O3 like tsxen
 * images are, but linked against Debian's hosted wasm-rt runtime.
 * Usage: native MIB PASSES; prints "ms=<x> sum=<hex>". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "csum.h"

int main(int argc, char **argv) {
    u32 len = (u32)atoi(argc > 1 ? argv[1] : "4") << 20;
    int passes = atoi(argc > 2 ? argv[2] : "256");
    wasm_rt_init();
    Z_csum_init_module();
    Z_csum_instance_t inst;
    Z_csum_instantiate(&inst);
    u32 src = Z_csumZ_alloc(&inst, len), dst = Z_csumZ_alloc(&inst, len);
    u8 *mem = Z_csumZ_memory(&inst)->data;
    for (u32 i = 0; i < len; i++) mem[src + i] = (u8)(i * 131 + (i >> 9));
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    u32 r = Z_csumZ_run(&inst, src, dst, len, passes);
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("ms=%.1f sum=%04x\n", (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6, r);
    Z_csum_free(&inst);
    wasm_rt_free();
    return 0;
}
