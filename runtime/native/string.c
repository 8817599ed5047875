/* memcpy/memmove/memset/memcmp for a kernel without libc. Bulk copies use
 * `rep movsq`/`rep stosq` for the 8-byte words and `rep movsb`/`rep stosb`
 * for the last few bytes. Hardware runs either at cache speed (ERMSB); a
 * byte loop was measured 5x slower on copy+checksum. Under an emulator
 * (QEMU's TCG, the test rig) every iteration of a rep instruction costs
 * about the same, so moving 8 bytes at a time is ~6x cheaper there
 * (measured in dom0 on the rig: 64-bit copies 0.4 ms/MiB, byte copies
 * 2.1-2.6 ms/MiB; word stores 0.2, byte stores 1.5-1.7). */
#include <stddef.h>
#include <stdint.h>

void *memcpy(void *restrict dst, const void *restrict src, size_t n)
{
    void *ret = dst;
    size_t words = n >> 3, bytes = n & 7;
    __asm__ volatile("rep movsq" : "+D"(dst), "+S"(src), "+c"(words) : : "memory");
    __asm__ volatile("rep movsb" : "+D"(dst), "+S"(src), "+c"(bytes) : : "memory");
    return ret;
}

void *memmove(void *dst, const void *src, size_t n)
{
    if ((uintptr_t)dst - (uintptr_t)src >= n) /* no harmful overlap: copy forwards */
        return memcpy(dst, src, n);
    /* overlapping with dst above src: copy backwards */
    unsigned char *d = (unsigned char *)dst + n - 1;
    const unsigned char *s = (const unsigned char *)src + n - 1;
    __asm__ volatile("std\n\trep movsb\n\tcld" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
    return dst;
}

void *memset(void *dst, int c, size_t n)
{
    void *ret = dst;
    size_t words = n >> 3, bytes = n & 7;
    uint64_t pattern = 0x0101010101010101ull * (unsigned char)c;
    __asm__ volatile("rep stosq" : "+D"(dst), "+c"(words) : "a"(pattern) : "memory");
    __asm__ volatile("rep stosb" : "+D"(dst), "+c"(bytes) : "a"(pattern) : "memory");
    return ret;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *p = a, *q = b;
    for (; n; n--, p++, q++)
        if (*p != *q) return *p - *q;
    return 0;
}

size_t strlen(const char *s)
{
    size_t n = 0;
    while (s[n]) n++;
    return n;
}
