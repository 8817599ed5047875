/* tests/xen/tools/udpcheck.c - runs in the rig's dom0: sends COUNT UDP
 * datagrams to HOST:PORT with sizes cycling through 1..MAXSIZE bytes (or,
 * given MINSIZE, spread evenly from MINSIZE to MAXSIZE) and a pseudorandom
 * payload, and checks every echo byte for byte. Up to WINDOW datagrams are
 * in flight at once (an echo is matched to the one it equals, so order
 * does not matter); one not echoed within 500 ms is sent again, at most 3
 * times. Prints a summary line and exits 0 only if every datagram came
 * back intact. Built statically on the host. */
#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define WINDOW 8
#define RESEND_MS 500
#define MAX_TRIES 4

struct slot {
    int index;          /* datagram number, -1 when the slot is free */
    int size;
    int tries;
    long long sent_ms;
    unsigned char data[65536];
};

static void fill(unsigned char *p, int size, int i);
static struct slot slots[WINDOW];
static unsigned char in[65536], again[65536];
/* datagrams recently done with (echoed or given up): a second echo of one
 * (after a resend) is a duplicate, not corruption */
#define RECENT 64
static int recent[RECENT], recent_size[RECENT], nrecent;

static void done_with(struct slot *d)
{
    recent[nrecent % RECENT] = d->index;
    recent_size[nrecent % RECENT] = d->size;
    nrecent++;
    d->index = -1;
}

static int is_duplicate(const unsigned char *p, int n)
{
    for (int r = 0; r < RECENT && r < nrecent; r++) {
        if (recent_size[r] != n) continue;
        fill(again, n, recent[r]);
        if (!memcmp(p, again, n)) return 1;
    }
    return 0;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Datagram i's payload depends only on i, so a resend is the same bytes. */
static void fill(unsigned char *p, int size, int i)
{
    unsigned seed = 12345u + 2654435761u * (unsigned)i;
    for (int j = 0; j < size; j++) p[j] = (unsigned char)((seed = seed * 1103515245 + 12345) >> 16);
}

int main(int argc, char **argv)
{
    if (argc != 5 && argc != 6) {
        fprintf(stderr, "usage: udpcheck HOST PORT COUNT MAXSIZE [MINSIZE]\n");
        return 2;
    }
    int count = atoi(argv[3]), maxsize = atoi(argv[4]), minsize = argc == 6 ? atoi(argv[5]) : 0;
    struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[2])) };
    if (inet_pton(AF_INET, argv[1], &to.sin_addr) != 1 || count <= 0 || maxsize <= 0 || maxsize > 65507 ||
        minsize < 0 || minsize > maxsize) {
        fprintf(stderr, "udpcheck: bad arguments\n");
        return 2;
    }
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    int next = 0, echoed = 0, lost = 0, bad = 0, retries = 0, in_flight = 0;
    for (int s = 0; s < WINDOW; s++) slots[s].index = -1;
    while (next < count || in_flight > 0) {
        /* fill free slots */
        for (int s = 0; s < WINDOW && next < count; s++) {
            if (slots[s].index >= 0) continue;
            struct slot *d = &slots[s];
            d->index = next;
            d->size = minsize ? minsize + (count > 1 ? (int)((long)next * (maxsize - minsize) / (count - 1)) : 0)
                              : 1 + next % maxsize;
            d->tries = 1;
            fill(d->data, d->size, next);
            d->sent_ms = now_ms();
            sendto(fd, d->data, d->size, 0, (struct sockaddr *)&to, sizeof to);
            next++;
            in_flight++;
        }
        /* resend or give up on the late ones */
        long long now = now_ms(), wait = RESEND_MS;
        for (int s = 0; s < WINDOW; s++) {
            struct slot *d = &slots[s];
            if (d->index < 0) continue;
            if (now - d->sent_ms >= RESEND_MS) {
                if (d->tries == MAX_TRIES) {
                    if (++lost <= 5) fprintf(stderr, "udpcheck: datagram %d (%d bytes) not echoed\n", d->index, d->size);
                    done_with(d);
                    in_flight--;
                    continue;
                }
                d->tries++;
                retries++;
                d->sent_ms = now;
                sendto(fd, d->data, d->size, 0, (struct sockaddr *)&to, sizeof to);
            }
            if (d->sent_ms + RESEND_MS - now < wait) wait = d->sent_ms + RESEND_MS - now;
        }
        if (in_flight == 0) continue;
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, (int)(wait > 0 ? wait : 0)) <= 0) continue;
        ssize_t n = recv(fd, in, sizeof in, MSG_DONTWAIT);
        if (n < 0) continue;
        int matched = 0;
        for (int s = 0; s < WINDOW && !matched; s++) {
            struct slot *d = &slots[s];
            if (d->index < 0 || n != d->size) continue;
            if (memcmp(in, d->data, n)) continue;
            matched = 1;
            echoed++;
            done_with(d);
            in_flight--;
        }
        /* an echo equal to nothing in flight nor recently done is corrupt */
        if (!matched && !is_duplicate(in, (int)n)) bad++;
    }
    printf("udpcheck: sent %d, echoed %d intact, lost %d, retries %d, mismatched %d\n", count, echoed, lost, retries, bad);
    return echoed == count && bad == 0 ? 0 : 1;
}
