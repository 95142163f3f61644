/* The TCP client and server of bench/net.sh: one static program, the same
 * in the guest under pvhboot and under QEMU, and on the host side of the
 * TAP. The receiving side measures: from its first byte to the sender's
 * end of stream, one line
 *   NET-RESULT dir=DIR bytes=N us=N
 * Usage:
 *   netbench sink PORT DIR           accept one connection, read it to its end, report
 *   netbench source PORT SECONDS     accept one connection, send for SECONDS, close
 *   netbench send HOST PORT SECONDS  connect (retrying for 60 s), send for SECONDS, close
 *   netbench recv HOST PORT DIR      connect (retrying), read to the end, report */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (256u << 10)

static uint8_t buf[CHUNK];

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void die(const char *what)
{
    printf("NET-ERROR %s: %s\n", what, strerror(errno));
    exit(1);
}

static int accept_one(const char *port)
{
    int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port))};
    if (s < 0 || setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) || bind(s, (void *)&a, sizeof(a)) ||
        listen(s, 1))
        die("listen");
    printf("NET-LISTENING %s\n", port);
    fflush(stdout);
    int c = accept(s, NULL, NULL);
    if (c < 0)
        die("accept");
    close(s);
    return c;
}

static int connect_retrying(const char *host, const char *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port))};
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
        printf("NET-ERROR %s: not an IPv4 address\n", host);
        exit(1);
    }
    for (int tries = 0; tries < 600; tries++) {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        if (s < 0)
            die("socket");
        if (connect(s, (void *)&a, sizeof(a)) == 0)
            return s;
        close(s);
        usleep(100000);
    }
    die("connect");
    return -1;
}

static void receive(int s, const char *dir)
{
    uint64_t bytes = 0, t0 = 0;
    ssize_t n;
    while ((n = read(s, buf, sizeof(buf))) > 0) {
        if (!t0)
            t0 = now_us();
        bytes += (uint64_t)n;
    }
    if (n < 0)
        die("read");
    printf("NET-RESULT dir=%s bytes=%llu us=%llu\n", dir, (unsigned long long)bytes,
           (unsigned long long)(t0 ? now_us() - t0 : 0));
}

static void transmit(int s, double seconds)
{
    uint64_t end = now_us() + (uint64_t)(seconds * 1e6);
    memset(buf, 0x5a, sizeof(buf));
    while (now_us() < end)
        for (size_t off = 0; off < sizeof(buf);) {
            ssize_t n = write(s, buf + off, sizeof(buf) - off);
            if (n < 0 && errno != EINTR)
                die("write");
            off += n > 0 ? (size_t)n : 0;
        }
    shutdown(s, SHUT_WR);
    while (read(s, buf, sizeof(buf)) > 0) {
        /* until the receiver closes: everything arrived */
    }
    close(s);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 4 && !strcmp(argv[1], "sink"))
        receive(accept_one(argv[2]), argv[3]);
    else if (argc == 4 && !strcmp(argv[1], "source"))
        transmit(accept_one(argv[2]), atof(argv[3]));
    else if (argc == 5 && !strcmp(argv[1], "send"))
        transmit(connect_retrying(argv[2], argv[3]), atof(argv[4]));
    else if (argc == 5 && !strcmp(argv[1], "recv"))
        receive(connect_retrying(argv[2], argv[3]), argv[4]);
    else {
        fprintf(stderr, "usage: netbench sink PORT DIR | source PORT SECONDS | send HOST PORT SECONDS | recv HOST PORT DIR\n");
        return 2;
    }
    return 0;
}
