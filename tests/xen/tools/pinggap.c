/* tests/xen/tools/pinggap.c - runs in the rig's dom0: sends an ICMP echo
 * request to HOST every INTERVAL_MS for SECONDS (or until SIGTERM/SIGINT)
 * and measures the downtime of a save/restore or a migration: the longest
 * time between two consecutive replies (from the last reply before the
 * guest stopped answering to the first one after it answered again).
 * Prints
 *   pinggap: sent N, replies M, lost L, outages K, longest gap G ms, lost outside outages O
 * (lost: requests never answered; an outage: more than OUTAGE_MS between
 * two replies; O: requests lost that were sent neither during an outage,
 * nor in the IN_FLIGHT_MS before one began (in flight when the guest
 * stopped: their replies were never sent), nor in the last second). Exits 0 if any reply came. Built statically on the
 * host; needs a raw socket (dom0 runs as root). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static uint16_t checksum(const void *data, size_t len)
{
    const uint8_t *p = data;
    uint32_t sum = 0;
    for (size_t i = 0; i + 1 < len; i += 2) sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (len & 1) sum += (uint32_t)p[len - 1] << 8;
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return htons((uint16_t)~sum);
}

#define MAX_SEQ 65536
#define OUTAGE_MS 200
#define IN_FLIGHT_MS 500
#define MAX_OUTAGES 64

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: pinggap HOST INTERVAL_MS SECONDS\n");
        return 2;
    }
    struct sockaddr_in to = { .sin_family = AF_INET };
    int interval = atoi(argv[2]), seconds = atoi(argv[3]);
    if (inet_pton(AF_INET, argv[1], &to.sin_addr) != 1 || interval <= 0 || seconds <= 0) {
        fprintf(stderr, "pinggap: bad arguments\n");
        return 2;
    }
    int fd = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
    if (fd < 0) { perror("pinggap: socket"); return 2; }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    static uint8_t answered[MAX_SEQ];
    static double sent_at[MAX_SEQ];
    double outage_from[MAX_OUTAGES], outage_to[MAX_OUTAGES];
    int outages = 0;
    const uint16_t id = (uint16_t)getpid();
    double start = now_ms(), next = start, last_reply = -1, longest = 0;
    unsigned sent = 0, replies = 0;
    while (!stop && now_ms() - start < seconds * 1000.0 && sent < MAX_SEQ) {
        if (now_ms() >= next) {
            uint8_t pkt[64] = { 0 };
            struct icmphdr *h = (struct icmphdr *)pkt;
            h->type = ICMP_ECHO;
            h->un.echo.id = htons(id);
            h->un.echo.sequence = htons((uint16_t)sent);
            h->checksum = checksum(pkt, sizeof pkt);
            sendto(fd, pkt, sizeof pkt, 0, (struct sockaddr *)&to, sizeof to);
            sent_at[sent] = now_ms();
            sent++;
            next += interval;
        }
        struct timeval tmo = { .tv_sec = 0, .tv_usec = 2000 };
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof tmo);
        uint8_t buf[1500];
        struct sockaddr_in from;
        socklen_t fl = sizeof from;
        ssize_t n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
        if (n <= 0 || from.sin_addr.s_addr != to.sin_addr.s_addr) continue;
        struct iphdr *ip = (struct iphdr *)buf;
        size_t hl = (size_t)ip->ihl * 4;
        if ((size_t)n < hl + sizeof(struct icmphdr)) continue;
        struct icmphdr *r = (struct icmphdr *)(buf + hl);
        if (r->type != ICMP_ECHOREPLY || ntohs(r->un.echo.id) != id) continue;
        unsigned seq = ntohs(r->un.echo.sequence);
        if (seq >= sent || answered[seq]) continue;
        answered[seq] = 1;
        replies++;
        double t = now_ms();
        if (last_reply >= 0 && t - last_reply > longest) longest = t - last_reply;
        if (last_reply >= 0 && t - last_reply > OUTAGE_MS && outages < MAX_OUTAGES) {
            outage_from[outages] = last_reply;
            outage_to[outages++] = t;
        }
        last_reply = t;
    }
    double end = now_ms();
    unsigned outside = 0;
    for (unsigned i = 0; i < sent; i++) {
        if (answered[i] || sent_at[i] > end - 1000) continue;
        int excused = 0;
        for (int k = 0; k < outages; k++) excused |= sent_at[i] >= outage_from[k] - IN_FLIGHT_MS && sent_at[i] <= outage_to[k];
        outside += !excused;
    }
    printf("pinggap: sent %u, replies %u, lost %u, outages %d, longest gap %.0f ms, lost outside outages %u\n",
           sent, replies, sent - replies, outages, longest, outside);
    return replies > 0 ? 0 : 1;
}
