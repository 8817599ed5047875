/* tests/xen/tools/udpcheck.c - runs in the rig's dom0: sends COUNT UDP
 * datagrams to HOST:PORT with sizes cycling through 1..MAXSIZE bytes (or,
 * given MINSIZE, spread evenly from MINSIZE to MAXSIZE) and a pseudorandom
 * payload, waits for each echo (one in flight, retried on
 * timeout) and checks it byte for byte. Prints a summary line and exits 0
 * only if every datagram came back intact. Built statically on the host. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

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
    struct timeval tmo = { .tv_sec = 0, .tv_usec = 500000 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof tmo);
    static unsigned char out[65536], in[65536];
    unsigned seed = 12345;
    int echoed = 0, lost = 0, bad = 0, retries = 0;
    for (int i = 0; i < count; i++) {
        int size = minsize ? minsize + (count > 1 ? (long)i * (maxsize - minsize) / (count - 1) : 0) : 1 + i % maxsize;
        for (int j = 0; j < size; j++) out[j] = (unsigned char)((seed = seed * 1103515245 + 12345) >> 16);
        int ok = 0;
        for (int attempt = 0; attempt < 4 && !ok; attempt++) {
            if (attempt) retries++;
            sendto(fd, out, size, 0, (struct sockaddr *)&to, sizeof to);
            for (;;) {
                ssize_t n = recv(fd, in, sizeof in, 0);
                if (n < 0) break; /* timeout: send again */
                if (n == size && !memcmp(in, out, size)) { ok = 1; break; }
                /* a late echo of an earlier try: keep reading */
            }
        }
        if (ok) echoed++;
        else lost++;
        if (!ok && lost <= 5) fprintf(stderr, "udpcheck: datagram %d (%d bytes) not echoed\n", i, size);
    }
    printf("udpcheck: sent %d, echoed %d intact, lost %d, retries %d, mismatched %d\n", count, echoed, lost, retries, bad);
    return echoed == count ? 0 : 1;
}
