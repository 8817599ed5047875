/* bench/tools/domcpu.c: CPU time the hypervisor charged to domains, in ns
 * (XEN_DOMCTL_getdomaininfo's cpu_time through libxenctrl), for `make bench`'s
 * guest-CPU-per-operation rows. Runs in the rig's dom0, linked against the
 * libxenctrl.so.4.17 that xl uses there (xl list prints the same counter
 * rounded to 0.1 s; this keeps the nanoseconds).
 *   domcpu DOMID...
 *       prints "cpu_ns=A,B,...,T" for the domains, in argument order, and
 *       T, dom0's CLOCK_MONOTONIC in ns (the window's wall time)
 *   domcpu watch LOG TIMEOUT_MS DOMID PATTERN...
 *       polls LOG (a guest's console log) every millisecond; when PATTERN i
 *       first shows up (in order) prints "mI=G,D,T" (guest and dom0 CPU ns, the
 *       monotonic clock in ns);
 *       exits after the last one or TIMEOUT_MS (rc 1 then)
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xenctrl.h>

static xc_interface *xch;

/* The domain's CPU time in ns, or -1 if it does not exist. */
static long long cpu_ns(uint32_t domid) {
    xc_domaininfo_t info;
    if (xc_domain_getinfolist(xch, domid, 1, &info) != 1 || info.domain != domid) return -1;
    return (long long)info.cpu_time;
}

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static double now_ms(void) { return now_ns() / 1e6; }

static int watch(int argc, char **argv) {
    if (argc < 6) { fprintf(stderr, "usage: domcpu watch LOG TIMEOUT_MS DOMID PATTERN...\n"); return 2; }
    const char *log = argv[2];
    double timeout = atof(argv[3]), t0 = now_ms();
    uint32_t domid = (uint32_t)atoi(argv[4]);
    int next = 5;
    static char buf[1 << 20];
    while (next < argc && now_ms() - t0 < timeout) {
        int fd = open(log, O_RDONLY);
        ssize_t n = fd >= 0 ? pread(fd, buf, sizeof buf - 1, 0) : -1;
        if (fd >= 0) close(fd);
        buf[n > 0 ? n : 0] = 0;
        while (next < argc && strstr(buf, argv[next])) {
            long long g = cpu_ns(domid), d = cpu_ns(0);
            printf("m%d=%lld,%lld,%lld\n", next - 5, g, d, now_ns());
            fflush(stdout);
            next++;
        }
        usleep(1000);
    }
    return next < argc;
}

int main(int argc, char **argv) {
    xch = xc_interface_open(NULL, NULL, 0);
    if (!xch) { perror("domcpu: xc_interface_open"); return 1; }
    if (argc >= 2 && strcmp(argv[1], "watch") == 0) return watch(argc, argv);
    if (argc < 2) { fprintf(stderr, "usage: domcpu DOMID... | domcpu watch LOG TIMEOUT_MS DOMID PATTERN...\n"); return 2; }
    printf("cpu_ns=");
    for (int i = 1; i < argc; i++) printf("%lld,", cpu_ns((uint32_t)atoi(argv[i])));
    printf("%lld\n", now_ns());
    return 0;
}
