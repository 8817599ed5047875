/* tests/xen/tools/tcpcheck.c - runs in the rig's dom0 against a tsxen guest
 * (tests/apps/tcp-services.ts, examples/http-server). Built statically on
 * the host. Every mode prints one summary line and exits 0 only on success.
 *
 *   tcpcheck send HOST PORT BYTES [RESUME_FILE]
 *                                   sends BYTES of the test pattern (byte i is
 *                                   byte i%4 of the little-endian word
 *                                   (i/4) * 0x9e3779b1, as sim/tcp-peer.ts),
 *                                   half-closes, waits for
 *                                   the peer to close; prints its CRC-32.
 *                                   With RESUME_FILE: after half of it,
 *                                   prints "tcpcheck: paused" and waits (at
 *                                   most 120 s) until that file exists, the
 *                                   connection kept open meanwhile
 *   tcpcheck recv HOST PORT BYTES   reads until the peer closes; the data
 *                                   must be BYTES of the pattern
 *   tcpcheck http HOST PORT N PATH  opens N connections at once, then sends
 *                                   "GET PATH" on each (keep-alive) and reads
 *                                   each whole response: every one must be
 *                                   "HTTP/1.1 200" with a body of its
 *                                   Content-Length
 */
#define _GNU_SOURCE   /* strcasestr */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* CRC-32 (zlib's, busybox crc32's), slicing by 8: eight tables, eight bytes a step. */
static uint32_t crc_table[8][256];

static void crc_init(void)
{
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++) c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
        crc_table[0][n] = c;
    }
    for (uint32_t n = 0; n < 256; n++)
        for (int k = 1; k < 8; k++) crc_table[k][n] = crc_table[0][crc_table[k - 1][n] & 0xff] ^ (crc_table[k - 1][n] >> 8);
}

static uint32_t crc_update(uint32_t crc, const unsigned char *p, size_t n)
{
    crc = ~crc;
    while (n >= 8) {
        uint32_t a, b;
        memcpy(&a, p, 4);
        memcpy(&b, p + 4, 4);
        a ^= crc;
        crc = crc_table[7][a & 0xff] ^ crc_table[6][(a >> 8) & 0xff] ^ crc_table[5][(a >> 16) & 0xff] ^ crc_table[4][a >> 24] ^
              crc_table[3][b & 0xff] ^ crc_table[2][(b >> 8) & 0xff] ^ crc_table[1][(b >> 16) & 0xff] ^ crc_table[0][b >> 24];
        p += 8;
        n -= 8;
    }
    while (n--) crc = crc_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

static uint32_t pattern_word(uint64_t i) { return (uint32_t)(i >> 2) * 0x9e3779b1u; }

static unsigned char pattern_byte(uint64_t i)
{
    return (unsigned char)(pattern_word(i) >> ((i & 3) * 8));
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int connect_to(const char *host, int port)
{
    struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(port) };
    if (inet_pton(AF_INET, host, &to.sin_addr) != 1) { fprintf(stderr, "tcpcheck: bad address %s\n", host); exit(2); }
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval tmo = { .tv_sec = 30 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof tmo);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tmo, sizeof tmo);
    for (int attempt = 0; attempt < 50; attempt++) {
        if (connect(fd, (struct sockaddr *)&to, sizeof to) == 0) return fd;
        if (errno != ECONNREFUSED && errno != EHOSTUNREACH && errno != ETIMEDOUT) break;
        usleep(200000);
    }
    fprintf(stderr, "tcpcheck: connect %s:%d: %s\n", host, port, strerror(errno));
    return -1;
}

static int do_send(const char *host, int port, uint64_t bytes, const char *resume_file)
{
    int fd = connect_to(host, port);
    if (fd < 0) return 1;
    static unsigned char buf[65536];
    uint64_t sent = 0;
    uint32_t crc = 0;
    double t0 = now_s();
    uint64_t pause_at = resume_file ? bytes / 2 / sizeof buf * sizeof buf : UINT64_MAX;
    while (sent < bytes) {
        if (sent == pause_at) {
            printf("tcpcheck: paused after %llu bytes\n", (unsigned long long)sent);
            fflush(stdout);
            int waited = 0;
            while (access(resume_file, F_OK) != 0) {
                if (++waited > 1200) { fprintf(stderr, "tcpcheck: %s did not appear within 120 s\n", resume_file); return 1; }
                usleep(100000);
            }
        }
        size_t n = bytes - sent < sizeof buf ? (size_t)(bytes - sent) : sizeof buf;
        for (size_t i = 0; i < n; i += 4) { uint32_t w = pattern_word(sent + i); memcpy(buf + i, &w, 4); }   /* sent is a multiple of 4 */
        size_t off = 0;
        while (off < n) {
            ssize_t w = write(fd, buf + off, n - off);
            if (w <= 0) { fprintf(stderr, "tcpcheck: write after %llu bytes: %s\n", (unsigned long long)(sent + off), strerror(errno)); return 1; }
            off += (size_t)w;
        }
        crc = crc_update(crc, buf, n);
        sent += n;
    }
    shutdown(fd, SHUT_WR);
    /* The guest closes once it has everything: that is when it is done. */
    while (read(fd, buf, sizeof buf) > 0) {}
    double s = now_s() - t0;
    close(fd);
    printf("tcpcheck: sent %llu bytes, crc32 %08x, %.1f MB/s\n", (unsigned long long)sent, crc, sent / s / 1e6);
    return 0;
}

static int do_recv(const char *host, int port, uint64_t expect)
{
    int fd = connect_to(host, port);
    if (fd < 0) return 1;
    static unsigned char buf[65536];
    uint64_t got = 0, bad = 0;
    uint32_t crc = 0;
    double t0 = now_s();
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0) { fprintf(stderr, "tcpcheck: read after %llu bytes: %s\n", (unsigned long long)got, strerror(errno)); return 1; }
        if (n == 0) break;
        for (ssize_t i = 0; i < n; i++) if (buf[i] != pattern_byte(got + i)) bad++;   /* reads may end anywhere */
        crc = crc_update(crc, buf, n);
        got += n;
    }
    double s = now_s() - t0;
    close(fd);
    printf("tcpcheck: received %llu bytes, %llu off-pattern, crc32 %08x, %.1f MB/s\n", (unsigned long long)got, (unsigned long long)bad, crc, got / s / 1e6);
    return got == expect && bad == 0 ? 0 : 1;
}

/* Reads one HTTP response; returns its status, or -1. */
static int read_response(int fd)
{
    static char head[8192];
    size_t have = 0;
    char *end = NULL;
    while (!end) {
        if (have == sizeof head - 1) return -1;
        ssize_t n = read(fd, head + have, 1);   /* byte by byte: we must not read past the head */
        if (n <= 0) return -1;
        have += (size_t)n;
        head[have] = 0;
        end = strstr(head, "\r\n\r\n");
    }
    int status = -1;
    if (sscanf(head, "HTTP/1.1 %d", &status) != 1) return -1;
    char *cl = strcasestr(head, "\r\ncontent-length:");
    long length = cl ? strtol(cl + 17, NULL, 10) : 0;
    static char body[65536];
    while (length > 0) {
        ssize_t n = read(fd, body, length < (long)sizeof body ? (size_t)length : sizeof body);
        if (n <= 0) return -1;
        length -= n;
    }
    return status;
}

static int do_http(const char *host, int port, int count, const char *path)
{
    int *fds = calloc(count, sizeof *fds);
    int opened = 0, ok = 0;
    for (int i = 0; i < count; i++) if ((fds[i] = connect_to(host, port)) >= 0) opened++;
    char req[512];
    int len = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: tcpcheck\r\n\r\n", path, host);
    for (int i = 0; i < count; i++) if (fds[i] >= 0 && write(fds[i], req, len) != len) { close(fds[i]); fds[i] = -1; }
    for (int i = 0; i < count; i++) {
        if (fds[i] < 0) continue;
        if (read_response(fds[i]) == 200) ok++;
    }
    for (int i = 0; i < count; i++) if (fds[i] >= 0) close(fds[i]);
    printf("tcpcheck: %d connections open at once, %d opened, %d answered 200\n", count, opened, ok);
    return opened == count && ok == count ? 0 : 1;
}

int main(int argc, char **argv)
{
    crc_init();
    if ((argc == 5 || argc == 6) && !strcmp(argv[1], "send")) return do_send(argv[2], atoi(argv[3]), strtoull(argv[4], NULL, 0), argc == 6 ? argv[5] : NULL);
    if (argc == 5 && !strcmp(argv[1], "recv")) return do_recv(argv[2], atoi(argv[3]), strtoull(argv[4], NULL, 0));
    if (argc == 6 && !strcmp(argv[1], "http")) return do_http(argv[2], atoi(argv[3]), atoi(argv[4]), argv[5]);
    fprintf(stderr, "usage: tcpcheck send HOST PORT BYTES [RESUME_FILE] | tcpcheck recv HOST PORT BYTES | tcpcheck http HOST PORT N PATH\n");
    return 2;
}
