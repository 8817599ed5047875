/* tests/xen/tools/udpflood.c - runs in the rig's dom0: sends COUNT UDP
 * datagrams to DSTIP:PORT (Ethernet destination DSTMAC) on interface IFACE
 * from SOURCES distinct spoofed senders (MAC 02:SS:SS:SS:00:01 and IPv4
 * 10.x.y.z, cycling), in bursts of BURST frames with a 1 ms pause between
 * bursts so the flood stays below what the bridge drops. Nobody answers the
 * guest's ARP requests for those senders: what the guest keeps per sender
 * (ARP cache, datagrams awaiting ARP) must stay bounded (the memory issue).
 * Frames are built by hand (RFC 791 header checksum, RFC 768 with no UDP
 * checksum) and sent on an AF_PACKET socket. Prints one summary line.
 * Built statically on the host. */
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static uint16_t ip_checksum(const uint8_t *p, int len)
{
    uint32_t sum = 0;
    for (int i = 0; i < len; i += 2) sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

static int parse_mac(const char *s, uint8_t mac[6])
{
    unsigned b[6];
    if (sscanf(s, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6) return -1;
    for (int i = 0; i < 6; i++) mac[i] = (uint8_t)b[i];
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 8) {
        fprintf(stderr, "usage: udpflood IFACE DSTMAC DSTIP PORT COUNT SOURCES BURST\n");
        return 2;
    }
    uint8_t dmac[6];
    struct in_addr dip;
    long port = atol(argv[4]), count = atol(argv[5]), sources = atol(argv[6]), burst = atol(argv[7]);
    unsigned ifindex = if_nametoindex(argv[1]);
    if (!ifindex || parse_mac(argv[2], dmac) || inet_pton(AF_INET, argv[3], &dip) != 1 || port <= 0 || port > 65535 ||
        count <= 0 || sources <= 0 || sources > (1 << 22) || burst <= 0) {
        fprintf(stderr, "udpflood: bad arguments\n");
        return 2;
    }
    int fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_IP));
    if (fd < 0) { perror("udpflood: socket"); return 1; }
    struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP), .sll_ifindex = (int)ifindex, .sll_halen = 6 };
    memcpy(to.sll_addr, dmac, 6);

    uint8_t f[14 + 20 + 8 + 32];
    long sent = 0, failed = 0;
    struct timespec t0, t1, pause = { 0, 1000000 };
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; i < count; i++) {
        long s = i % sources;
        memset(f, 0, sizeof f);
        memcpy(f, dmac, 6);
        uint8_t smac[6] = { 0x02, (uint8_t)(s >> 16), (uint8_t)(s >> 8), (uint8_t)s, 0x00, 0x01 };
        memcpy(f + 6, smac, 6);
        f[12] = 0x08; f[13] = 0x00;
        uint8_t *ip = f + 14;
        ip[0] = 0x45; ip[2] = 0; ip[3] = 20 + 8 + 32; ip[8] = 64; ip[9] = 17;
        ip[4] = (uint8_t)(i >> 8); ip[5] = (uint8_t)i;
        ip[12] = 10; ip[13] = (uint8_t)(1 + (s >> 16)); ip[14] = (uint8_t)(s >> 8); ip[15] = (uint8_t)s;
        memcpy(ip + 16, &dip, 4);
        uint16_t c = ip_checksum(ip, 20);
        ip[10] = (uint8_t)(c >> 8); ip[11] = (uint8_t)c;
        uint8_t *udp = ip + 20;
        uint16_t sport = (uint16_t)(1024 + s % 60000);
        udp[0] = (uint8_t)(sport >> 8); udp[1] = (uint8_t)sport;
        udp[2] = (uint8_t)(port >> 8); udp[3] = (uint8_t)port;
        udp[5] = 8 + 32;
        memset(udp + 8, 'f', 32);
        if (sendto(fd, f, sizeof f, 0, (struct sockaddr *)&to, sizeof to) == (ssize_t)sizeof f) sent++;
        else failed++;
        if ((i + 1) % burst == 0) nanosleep(&pause, NULL);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("udpflood: sent=%ld failed=%ld sources=%ld seconds=%.1f pps=%.0f\n", sent, failed, sources < count ? sources : count, s, sent / s);
    return failed ? 1 : 0;
}
