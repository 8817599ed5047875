/* bench/compute/ref.c: plain C reference of bench/compute/csum.ts (same
 * algorithm: copy, then a 64-bit-accumulated Internet checksum, per pass).
 * Usage: ref MIB PASSES; prints "ms=<x> sum=<hex>". Built with gcc -O2. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint32_t run(uint8_t *src, uint8_t *dst, size_t len, int passes) {
    uint32_t result = 0;
    for (int p = 0; p < passes; p++) {
        memcpy(dst, src, len);
        uint64_t sum = 0;
        for (size_t i = 0; i < len; i += 8) {
            uint64_t w; memcpy(&w, dst + i, 8);
            sum += (w & 0xffffffff) + (w >> 32);
        }
        sum = (sum & 0xffffffff) + (sum >> 32);
        sum = (sum & 0xffffffff) + (sum >> 32);
        uint32_t s32 = (uint32_t)sum;
        s32 = (s32 & 0xffff) + (s32 >> 16);
        s32 = (s32 & 0xffff) + (s32 >> 16);
        result = ~s32 & 0xffff;
        src[(size_t)p % len] = (uint8_t)result;
    }
    return result;
}

int main(int argc, char **argv) {
    size_t len = (size_t)atoi(argc > 1 ? argv[1] : "4") << 20;
    int passes = atoi(argc > 2 ? argv[2] : "256");
    uint8_t *src = malloc(len), *dst = malloc(len);
    for (size_t i = 0; i < len; i++) src[i] = (uint8_t)(i * 131 + (i >> 9));
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    uint32_t r = run(src, dst, len, passes);
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("ms=%.1f sum=%04x\n", (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6, r);
    return 0;
}
