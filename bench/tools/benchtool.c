/* bench/tools/benchtool.c — static helper for `make bench`, run in the rig's
 * dom0 and in the Linux PV domU (built on the host with gcc -static).
 *   benchtool bootwait LOG TIMEOUT_MS MARKER [FAIL] -- CMD ARGS...
 *       t0 just before fork/exec of CMD (e.g. `xl unpause NAME`); reports when
 *       CMD returned, when LOG first grew and when MARKER first appeared (ms);
 *       gives up early once FAIL (e.g. "Kernel panic") shows up in LOG.
 *   benchtool udp HOST PORT COUNT SIZE WINDOW REPLY_TIMEOUT_MS MAX_SEC
 *       windowed UDP echo load: at most WINDOW datagrams outstanding; a reply
 *       for sequence s counts all older outstanding ones as lost (FIFO path);
 *       no reply for REPLY_TIMEOUT_MS loses the whole window. Bounded by COUNT
 *       and MAX_SEC.
 *   benchtool echo PORT          UDP echo server (recvfrom -> sendto loop)
 *   benchtool time CMD ARGS...   runs CMD, prints "elapsed_ms=<x> rc=<rc>"
 *   benchtool tcpsend HOST PORT BYTES
 *       connects, sends BYTES, half-closes and waits for the server to close:
 *       the time from connect to that close is the transfer's
 *   benchtool tcprecv HOST PORT  connects and reads until the server closes
 *   benchtool tcpsink PORT       server: reads each connection to its end, closes
 *   benchtool tcpsource PORT BYTES  server: writes BYTES on each connection, closes
 *   benchtool http HOST PORT PATH CONNS SECONDS keepalive|close
 *       HTTP/1.1 load: CONNS connections, each sending GET PATH as soon as
 *       the previous response is in (keepalive: on the same connection, as
 *       long as the server keeps it; close: "Connection: close", a new
 *       connection per request, the server closing first). Prints requests,
 *       req/s, errors and the latency percentiles (request written ->
 *       response complete; with close, from the connect).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/tcp.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int bootwait(int argc, char **argv) {
    const char *fail = NULL;
    if (argc >= 7 && strcmp(argv[4], "--") != 0) {
        fail = argv[4];
        memmove(argv + 4, argv + 5, (argc - 4) * sizeof *argv);   /* drop it, keeping the NULL */
        argc--;
    }
    if (argc < 6 || strcmp(argv[4], "--") != 0) { fprintf(stderr, "usage: bootwait LOG TIMEOUT_MS MARKER [FAIL] -- CMD...\n"); return 2; }
    const char *log = argv[1], *marker = argv[3];
    int failed = 0;
    double timeout = atof(argv[2]);
    struct stat st;
    off_t start = stat(log, &st) == 0 ? st.st_size : 0;
    int in = inotify_init1(IN_NONBLOCK);
    if (in >= 0) inotify_add_watch(in, log, IN_MODIFY);
    static char buf[1 << 16];
    size_t have = 0;
    double t0 = now_ms(), t_ret = -1, t_first = -1, t_mark = -1;
    pid_t pid = fork();
    if (pid == 0) { execvp(argv[5], argv + 5); _exit(127); }
    int rc = -1;
    while (now_ms() - t0 < timeout && ((t_mark < 0 && !failed) || t_ret < 0)) {
        int status;
        if (t_ret < 0 && waitpid(pid, &status, WNOHANG) == pid) { t_ret = now_ms() - t0; rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128; }
        if (t_mark < 0 && stat(log, &st) == 0 && st.st_size > start + (off_t)have) {
            if (t_first < 0) t_first = now_ms() - t0;
            int fd = open(log, O_RDONLY);
            if (fd >= 0) {
                ssize_t n = pread(fd, buf + have, sizeof buf - 1 - have, start + have);
                close(fd);
                if (n > 0) { have += n; buf[have] = 0; if (strstr(buf, marker)) t_mark = now_ms() - t0;
                              else if (fail && strstr(buf, fail)) failed = 1; }
            }
        }
        if ((t_mark >= 0 || failed) && t_ret >= 0) break;
        struct pollfd p = { .fd = in, .events = POLLIN };
        if (in >= 0 && poll(&p, 1, 2) > 0) { char ev[4096]; while (read(in, ev, sizeof ev) > 0) {} }
        else if (in < 0) usleep(1000);
    }
    if (t_ret < 0) { int status; if (waitpid(pid, &status, WNOHANG) == pid) { t_ret = now_ms() - t0; rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128; } }
    printf("unpause_ret_ms=%.1f first_line_ms=%.1f marker_ms=%.1f rc=%d%s\n", t_ret, t_first, t_mark, rc, failed ? " failed=1" : "");
    return t_mark >= 0 ? 0 : 1;
}

static int udp_client(int argc, char **argv) {
    if (argc != 8) { fprintf(stderr, "usage: udp HOST PORT COUNT SIZE WINDOW REPLY_TIMEOUT_MS MAX_SEC\n"); return 2; }
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[2])) };
    if (inet_pton(AF_INET, argv[1], &a.sin_addr) != 1) { fprintf(stderr, "bad address\n"); return 2; }
    uint32_t count = strtoul(argv[3], 0, 10), size = atoi(argv[4]), window = atoi(argv[5]);
    double reply_to = atof(argv[6]), max_ms = atof(argv[7]) * 1000;
    if (size < 4 || size > 1472 || window < 1) { fprintf(stderr, "size 4..1472, window >= 1\n"); return 2; }
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    int rb = 1 << 20; setsockopt(s, SOL_SOCKET, SO_RCVBUF, &rb, sizeof rb);
    if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof a) < 0) { perror("socket/connect"); return 1; }
    char out[1472], in[2048];
    memset(out, 0xa5, sizeof out);
    uint32_t next = 0, lo = 0, echoed = 0, lost = 0, late = 0, timeouts = 0, bad = 0;
    double t0 = now_ms(), last_reply = t0;
    while ((next < count || lo < next) && now_ms() - t0 < max_ms) {
        while (next < count && next - lo < window) {
            memcpy(out, &next, 4);
            if (send(s, out, size, 0) != (ssize_t)size) { if (errno == ENOBUFS || errno == EAGAIN) break; perror("send"); return 1; }
            next++;
        }
        struct pollfd p = { .fd = s, .events = POLLIN };
        int r = poll(&p, 1, 10);
        if (r > 0) {
            ssize_t n;
            while ((n = recv(s, in, sizeof in, MSG_DONTWAIT)) > 0) {
                uint32_t q; memcpy(&q, in, 4);
                if (n != (ssize_t)size) { bad++; continue; }
                if (q >= lo && q < next) { lost += q - lo; lo = q + 1; echoed++; last_reply = now_ms(); }
                else if (q < lo) late++;
            }
        } else if (lo < next && now_ms() - last_reply > reply_to) {
            lost += next - lo; lo = next; timeouts++; last_reply = now_ms();
        }
    }
    double el = now_ms() - t0;
    lost += next - lo; /* still outstanding at the time limit */
    printf("udp size=%u sent=%u echoed=%u lost=%u late=%u bad=%u timeouts=%u elapsed_ms=%.1f pps=%.1f mbps=%.3f\n",
           size, next, echoed, lost, late, bad, timeouts, el, echoed * 1000.0 / el, echoed * (double)size * 8 / el / 1000.0);
    return 0;
}

static int echo_server(int argc, char **argv) {
    if (argc != 2) return 2;
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[1])), .sin_addr.s_addr = INADDR_ANY };
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0) { perror("bind"); return 1; }
    char buf[65536];
    for (;;) {
        struct sockaddr_in from; socklen_t fl = sizeof from;
        ssize_t n = recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
        if (n >= 0) sendto(s, buf, n, 0, (struct sockaddr *)&from, fl);
    }
}

static int time_cmd(int argc, char **argv) {
    if (argc < 2) return 2;
    double t0 = now_ms();
    pid_t pid = fork();
    if (pid == 0) { execvp(argv[1], argv + 1); _exit(127); }
    int status; waitpid(pid, &status, 0);
    int rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
    printf("elapsed_ms=%.1f rc=%d\n", now_ms() - t0, rc);
    return rc;
}

// ---------------------------------------------------------------- TCP bulk

static int tcp_connect(const char *host, int port) {
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1) { fprintf(stderr, "bad address\n"); return -1; }
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval tmo = { .tv_sec = 60 };
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof tmo);
    setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tmo, sizeof tmo);
    if (connect(s, (struct sockaddr *)&a, sizeof a) < 0) { perror("connect"); close(s); return -1; }
    return s;
}

static int tcp_listen(int port) {
    int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = INADDR_ANY };
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 128) < 0) { perror("bind/listen"); exit(1); }
    return s;
}

static int tcp_send(int argc, char **argv) {
    if (argc != 4) return 2;
    static char buf[1 << 16];
    memset(buf, 0x5a, sizeof buf);
    unsigned long long bytes = strtoull(argv[3], 0, 0), sent = 0;
    double t0 = now_ms();
    int s = tcp_connect(argv[1], atoi(argv[2]));
    if (s < 0) { printf("tcp dir=send error=connect\n"); return 1; }
    while (sent < bytes) {
        size_t n = bytes - sent < sizeof buf ? bytes - sent : sizeof buf;
        ssize_t w = write(s, buf, n);
        if (w <= 0) { printf("tcp dir=send error=write sent=%llu\n", sent); return 1; }
        sent += w;
    }
    shutdown(s, SHUT_WR);
    while (read(s, buf, sizeof buf) > 0) {}
    double el = now_ms() - t0;
    close(s);
    printf("tcp dir=send bytes=%llu elapsed_ms=%.1f mbps=%.2f\n", sent, el, sent * 8 / el / 1000.0);
    return 0;
}

static int tcp_recv(int argc, char **argv) {
    if (argc != 3) return 2;
    static char buf[1 << 16];
    unsigned long long got = 0;
    double t0 = now_ms();
    int s = tcp_connect(argv[1], atoi(argv[2]));
    if (s < 0) { printf("tcp dir=recv error=connect\n"); return 1; }
    for (;;) {
        ssize_t n = read(s, buf, sizeof buf);
        if (n < 0) { printf("tcp dir=recv error=read got=%llu\n", got); return 1; }
        if (n == 0) break;
        got += n;
    }
    double el = now_ms() - t0;
    close(s);
    printf("tcp dir=recv bytes=%llu elapsed_ms=%.1f mbps=%.2f\n", got, el, got * 8 / el / 1000.0);
    return 0;
}

static int tcp_sink(int argc, char **argv) {
    if (argc != 2) return 2;
    int l = tcp_listen(atoi(argv[1]));
    static char buf[1 << 16];
    for (;;) {
        int c = accept(l, 0, 0);
        if (c < 0) continue;
        while (read(c, buf, sizeof buf) > 0) {}
        close(c);
    }
}

static int tcp_source(int argc, char **argv) {
    if (argc != 3) return 2;
    int l = tcp_listen(atoi(argv[1]));
    unsigned long long bytes = strtoull(argv[2], 0, 0);
    static char buf[1 << 16];
    memset(buf, 0xa5, sizeof buf);
    for (;;) {
        int c = accept(l, 0, 0);
        if (c < 0) continue;
        unsigned long long sent = 0;
        while (sent < bytes) {
            size_t n = bytes - sent < sizeof buf ? bytes - sent : sizeof buf;
            ssize_t w = write(c, buf, n);
            if (w <= 0) break;
            sent += w;
        }
        close(c);
    }
}

// ---------------------------------------------------------------- HTTP load

enum { H_IDLE, H_CONNECTING, H_READING, H_DRAINING };

struct hconn {
    int fd, state;
    double t_start;
    size_t have;
    long body_left;
    int head_done, server_closes;
    char buf[8192];
};

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int http_start(struct hconn *c, struct sockaddr_in *a) {
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->t_start = now_ms();
    c->have = 0; c->head_done = 0; c->body_left = 0; c->server_closes = 0;
    if (connect(c->fd, (struct sockaddr *)a, sizeof *a) < 0 && errno != EINPROGRESS) { close(c->fd); c->fd = -1; return -1; }
    c->state = H_CONNECTING;
    return 0;
}

static int http_load(int argc, char **argv) {
    if (argc != 7) { fprintf(stderr, "usage: http HOST PORT PATH CONNS SECONDS keepalive|close\n"); return 2; }
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[2])) };
    if (inet_pton(AF_INET, argv[1], &a.sin_addr) != 1) return 2;
    int nconn = atoi(argv[4]), keep = !strcmp(argv[6], "keepalive");
    double dur = atof(argv[5]) * 1000;
    char req[512];
    int reqlen = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s\r\n%s\r\n", argv[3], argv[1], keep ? "" : "Connection: close\r\n");
    struct hconn *cs = calloc(nconn, sizeof *cs);
    struct pollfd *pf = calloc(nconn, sizeof *pf);
    size_t cap = 1 << 21, nlat = 0;
    double *lat = malloc(cap * sizeof *lat);
    unsigned long long done = 0, errors = 0, connects = 0;
    double t0 = now_ms();
    for (int i = 0; i < nconn; i++) { cs[i].fd = -1; if (http_start(&cs[i], &a) == 0) connects++; else errors++; }
    while (now_ms() - t0 < dur) {
        for (int i = 0; i < nconn; i++) {
            pf[i].fd = cs[i].fd;
            pf[i].events = cs[i].state == H_CONNECTING ? POLLOUT : POLLIN;
            pf[i].revents = 0;
        }
        if (poll(pf, nconn, 50) < 0) break;
        for (int i = 0; i < nconn; i++) {
            struct hconn *c = &cs[i];
            if (c->fd < 0) { if (http_start(c, &a) == 0) connects++; else errors++; continue; }
            if (!pf[i].revents) continue;
            if (c->state == H_CONNECTING) {
                int err = 0; socklen_t el = sizeof err;
                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
                if (err) { errors++; close(c->fd); c->fd = -1; continue; }
                if (write(c->fd, req, reqlen) != reqlen) { errors++; close(c->fd); c->fd = -1; continue; }
                c->state = H_READING;
                continue;
            }
            char tmp[65536];
            ssize_t n = read(c->fd, tmp, sizeof tmp);
            if (n <= 0) {
                if (n < 0 && errno == EAGAIN) continue;
                if (c->state != H_DRAINING) errors++;   // closed before the response was complete
                close(c->fd); c->fd = -1;
                if (http_start(c, &a) == 0) connects++; else errors++;
                continue;
            }
            if (c->state == H_DRAINING) continue;
            size_t off = 0;
            while (off < (size_t)n) {
                if (!c->head_done) {
                    while (off < (size_t)n && c->have < sizeof c->buf - 1) {
                        c->buf[c->have++] = tmp[off++];
                        if (c->have >= 4 && !memcmp(c->buf + c->have - 4, "\r\n\r\n", 4)) break;
                    }
                    c->buf[c->have] = 0;
                    if (c->have >= 4 && !memcmp(c->buf + c->have - 4, "\r\n\r\n", 4)) {
                        c->head_done = 1;
                        char *cl = strcasestr(c->buf, "\r\ncontent-length:");
                        c->body_left = cl ? strtol(cl + 17, 0, 10) : 0;
                        c->server_closes = strcasestr(c->buf, "\r\nconnection: close") != NULL || strncmp(c->buf, "HTTP/1.1", 8) != 0;
                        if (strncmp(c->buf + 9, "200", 3) != 0) errors++;
                    } else if (c->have >= sizeof c->buf - 1) { errors++; break; }
                    else continue;
                }
                long take = (long)(n - off) < c->body_left ? (long)(n - off) : c->body_left;
                c->body_left -= take;
                off += take;
                if (c->body_left == 0) {
                    double l = now_ms() - c->t_start;
                    if (nlat < cap) lat[nlat++] = l;
                    done++;
                    if (keep && !c->server_closes) {
                        c->have = 0; c->head_done = 0;
                        c->t_start = now_ms();
                        if (write(c->fd, req, reqlen) != reqlen) { errors++; close(c->fd); c->fd = -1; }
                    } else {
                        c->state = H_DRAINING;   // the server closes first (no TIME-WAIT here)
                    }
                    break;
                }
            }
        }
    }
    double el = now_ms() - t0;
    for (int i = 0; i < nconn; i++) if (cs[i].fd >= 0) close(cs[i].fd);
    qsort(lat, nlat, sizeof *lat, cmp_double);
    double p50 = nlat ? lat[nlat / 2] : -1, p99 = nlat ? lat[(size_t)(nlat * 0.99)] : -1;
    printf("http mode=%s conns=%d requests=%llu errors=%llu connects=%llu elapsed_ms=%.1f rps=%.1f p50_ms=%.3f p99_ms=%.3f\n",
           keep ? "keepalive" : "close", nconn, done, errors, connects, el, done * 1000.0 / el, p50, p99);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 2 && !strcmp(argv[1], "bootwait")) return bootwait(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "udp")) return udp_client(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "echo")) return echo_server(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "time")) return time_cmd(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "tcpsend")) return tcp_send(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "tcprecv")) return tcp_recv(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "tcpsink")) return tcp_sink(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "tcpsource")) return tcp_source(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "http")) return http_load(argc - 1, argv + 1);
    fprintf(stderr, "usage: benchtool bootwait|udp|echo|time|tcpsend|tcprecv|tcpsink|tcpsource|http ...\n");
    return 2;
}
