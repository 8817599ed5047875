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

int main(int argc, char **argv) {
    if (argc >= 2 && !strcmp(argv[1], "bootwait")) return bootwait(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "udp")) return udp_client(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "echo")) return echo_server(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "time")) return time_cmd(argc - 1, argv + 1);
    fprintf(stderr, "usage: benchtool bootwait|udp|echo|time ...\n");
    return 2;
}
