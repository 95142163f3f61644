/* vsockpeer: both ends of the vsock tests and bench (tests/run/vsock.t,
 * bench/vsock.sh), built static for the guest's busybox initramfs and for
 * the emulated machine. One program, so that pvhboot's hybrid vsock and
 * QEMU's vhost-vsock are driven by the same client.
 *
 *   vsockpeer serve ADDR           echo server (poll, up to 4000 connections)
 *   vsockpeer sink ADDR            accepts one connection, counts until EOF,
 *                                  answers the count (8 bytes), prints SINK-OK
 *   vsockpeer echo ADDR BYTES [N]  N connections at once, each sends BYTES of
 *                                  its own pattern and checks the echo byte for
 *                                  byte; prints ECHO-OK or ECHO-FAIL
 *   vsockpeer send ADDR BYTES      one-way stream to a sink, waits for its
 *                                  count; prints SEND-OK with MB/s
 *   vsockpeer setup ADDR N         N connections one after another, each to
 *                                  its first echoed byte; prints SETUP-OK with
 *                                  the mean and the worst in microseconds
 *   vsockpeer hold ADDR N          opens N connections, all kept open until
 *                                  the last was tried; prints HOLD opened=..
 *                                  refused=..
 *   vsockpeer stall ADDR           accepts connections and never reads them
 *
 * ADDR: vsock:PORT (listen on any CID), vsock:CID:PORT (connect), unix:PATH
 * (listen or connect), hybrid:PATH:PORT (connect to Firecracker-style hybrid
 * vsock: "CONNECT PORT\n", then "OK <port>\n" is read and checked). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 4000
#define CHUNK (64 << 10)

enum kind { VSOCK, UNIX_PATH, HYBRID };

struct addr {
    enum kind kind;
    unsigned cid, port;
    int has_cid;
    char path[108];
};

static void die(const char *what)
{
    fprintf(stdout, "VSOCKPEER-FAIL %s: %s\n", what, strerror(errno));
    fflush(stdout);
    exit(2);
}

static void usage(void)
{
    fprintf(stderr, "usage: vsockpeer serve|sink|stall|echo|send|setup|hold ADDR [ARGS]\n");
    exit(2);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int parse_addr(const char *s, struct addr *a)
{
    memset(a, 0, sizeof(*a));
    if (!strncmp(s, "vsock:", 6)) {
        a->kind = VSOCK;
        if (sscanf(s + 6, "%u:%u", &a->cid, &a->port) == 2)
            return a->has_cid = 1, 0;
        return sscanf(s + 6, "%u", &a->port) == 1 ? 0 : -1;
    }
    if (!strncmp(s, "unix:", 5) && strlen(s + 5) < sizeof(a->path)) {
        a->kind = UNIX_PATH;
        strcpy(a->path, s + 5);
        return 0;
    }
    if (!strncmp(s, "hybrid:", 7)) {
        const char *colon = strrchr(s + 7, ':');
        if (!colon || (size_t)(colon - (s + 7)) >= sizeof(a->path))
            return -1;
        a->kind = HYBRID;
        memcpy(a->path, s + 7, (size_t)(colon - (s + 7)));
        return sscanf(colon + 1, "%u", &a->port) == 1 ? 0 : -1;
    }
    return -1;
}

static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static int listen_on(const struct addr *a)
{
    int fd;
    if (a->kind == VSOCK) {
        struct sockaddr_vm sa = {.svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = a->port};
        fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
            die("vsock bind");
    } else {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        strcpy(sa.sun_path, a->path);
        unlink(a->path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
            die("unix bind");
    }
    if (listen(fd, 4096) != 0)
        die("listen");
    return fd;
}

static ssize_t write_all(int fd, const void *p, size_t n)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = write(fd, (const char *)p + done, n - done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        done += (size_t)r;
    }
    return (ssize_t)done;
}

/* Reads the hybrid handshake's answer and nothing after it (the guest may
 * send at once): peeks until the newline is there, then reads exactly the
 * line; two system calls, where a byte at a time costs fifteen. */
static int read_ok_line(int fd, unsigned *local)
{
    char line[32];
    for (;;) {
        ssize_t r = recv(fd, line, sizeof(line) - 1, MSG_PEEK);
        if (r <= 0)
            return -1;
        char *nl = memchr(line, '\n', (size_t)r);
        if (!nl && r == sizeof(line) - 1)
            return -1;
        if (!nl) {
            /* the rest of the line is on its way (poll would return at
             * once: the first part is still unread) */
            nanosleep(&(struct timespec){0, 1000000}, NULL);
            continue;
        }
        size_t n = (size_t)(nl - line) + 1;
        if (read(fd, line, n) != (ssize_t)n)
            return -1;
        line[n] = 0;
        return sscanf(line, "OK %u\n", local) == 1 ? 0 : -1;
    }
}

static unsigned first_local; /* the host port of the first hybrid connection ("OK <port>") */

/* A connected stream socket, -1 when the other side refused. */
static int connect_to(const struct addr *a)
{
    int fd;
    if (a->kind == VSOCK) {
        struct sockaddr_vm sa = {.svm_family = AF_VSOCK, .svm_cid = a->cid, .svm_port = a->port};
        fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            die("socket(AF_VSOCK)");
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
            close(fd);
            return -1;
        }
        return fd;
    }
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    strcpy(sa.sun_path, a->path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket(AF_UNIX)");
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    if (a->kind == HYBRID) {
        char line[32];
        unsigned local;
        int n = snprintf(line, sizeof(line), "CONNECT %u\n", a->port);
        if (write_all(fd, line, (size_t)n) < 0 || read_ok_line(fd, &local) != 0) {
            close(fd);
            return -1;
        }
        if (!first_local)
            first_local = local;
    }
    return fd;
}

static void set_nonblock(int fd)
{
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static uint8_t pattern(unsigned conn, uint64_t i)
{
    return (uint8_t)(i ^ (i >> 8) * 31 ^ (i >> 16) * 17 ^ (i >> 24) * 13 ^ conn * 101);
}

/* ---- serve: echo every connection ---- */

struct echo_conn {
    int fd;
    uint8_t *buf;
    size_t len, off;
    int eof;
};

static void serve(const struct addr *a)
{
    static struct pollfd pfd[MAX_CONNS + 1];
    static struct echo_conn c[MAX_CONNS + 1];
    int n = 1;
    raise_nofile();
    pfd[0] = (struct pollfd){listen_on(a), POLLIN, 0};
    printf("SERVE-READY\n");
    fflush(stdout);
    for (;;) {
        if (poll(pfd, (nfds_t)n, -1) < 0 && errno != EINTR)
            die("poll");
        if (pfd[0].revents & POLLIN) {
            int fd = accept4(pfd[0].fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd >= 0 && n <= MAX_CONNS) {
                c[n] = (struct echo_conn){fd, malloc(CHUNK), 0, 0, 0};
                pfd[n++] = (struct pollfd){fd, POLLIN, 0};
            } else if (fd >= 0) {
                close(fd);
            }
        }
        for (int i = 1; i < n; i++) {
            struct echo_conn *e = &c[i];
            if (!pfd[i].revents)
                continue;
            if (e->len == 0 && !e->eof) {
                ssize_t r = read(e->fd, e->buf, CHUNK);
                if (r > 0)
                    e->len = (size_t)r, e->off = 0;
                else if (r == 0 || (errno != EAGAIN && errno != EINTR))
                    e->eof = 1;
            }
            if (e->len) {
                ssize_t w = write(e->fd, e->buf + e->off, e->len - e->off);
                if (w > 0 && (e->off += (size_t)w) == e->len)
                    e->len = 0;
                else if (w < 0 && errno != EAGAIN && errno != EINTR)
                    e->eof = 1, e->len = 0;
            }
            if (e->eof && !e->len) {
                close(e->fd);
                free(e->buf);
                c[i] = c[n - 1];
                pfd[i] = pfd[--n];
                i--;
                continue;
            }
            pfd[i].events = e->len ? POLLOUT : POLLIN;
        }
    }
}

/* ---- echo: N connections, BYTES each, checked ---- */

struct client {
    int fd;
    uint64_t sent, rcvd;
    int done;
};

static int echo(const struct addr *a, uint64_t bytes, int nconns)
{
    static struct client cl[MAX_CONNS];
    static struct pollfd pfd[MAX_CONNS];
    static uint8_t out[CHUNK], in[CHUNK];
    raise_nofile();
    double t0 = now_s();
    for (int k = 0; k < nconns; k++) {
        cl[k] = (struct client){connect_to(a), 0, 0, 0};
        if (cl[k].fd < 0) {
            printf("ECHO-FAIL connection %d of %d refused\n", k, nconns);
            return 1;
        }
        set_nonblock(cl[k].fd);
    }
    double t1 = now_s();
    int left = nconns;
    while (left) {
        for (int k = 0; k < nconns; k++) {
            pfd[k] = (struct pollfd){cl[k].done ? -1 : cl[k].fd, POLLIN, 0};
            if (!cl[k].done && cl[k].sent < bytes)
                pfd[k].events |= POLLOUT;
        }
        int r = poll(pfd, (nfds_t)nconns, 60000);
        if (r <= 0) {
            printf("ECHO-FAIL no progress for 60 s (%d connections unfinished)\n", left);
            return 1;
        }
        for (int k = 0; k < nconns; k++) {
            struct client *c = &cl[k];
            if (c->done || !pfd[k].revents)
                continue;
            if ((pfd[k].revents & POLLOUT) && c->sent < bytes) {
                size_t n = bytes - c->sent < CHUNK ? (size_t)(bytes - c->sent) : CHUNK;
                for (size_t i = 0; i < n; i++)
                    out[i] = pattern((unsigned)k, c->sent + i);
                ssize_t w = write(c->fd, out, n);
                if (w > 0)
                    c->sent += (uint64_t)w;
                if (c->sent == bytes)
                    shutdown(c->fd, SHUT_WR);
            }
            if (pfd[k].revents & (POLLIN | POLLHUP | POLLERR)) {
                ssize_t got = read(c->fd, in, sizeof(in));
                if (got < 0 && errno == EAGAIN)
                    continue;
                if (got <= 0) {
                    printf("ECHO-FAIL connection %d: %s after %llu of %llu bytes\n", k,
                           got == 0 ? "end of file" : strerror(errno), (unsigned long long)c->rcvd,
                           (unsigned long long)bytes);
                    return 1;
                }
                for (ssize_t i = 0; i < got; i++)
                    if (in[i] != pattern((unsigned)k, c->rcvd + (uint64_t)i)) {
                        printf("ECHO-FAIL connection %d: byte %llu differs\n", k,
                               (unsigned long long)(c->rcvd + (uint64_t)i));
                        return 1;
                    }
                c->rcvd += (uint64_t)got;
                if (c->rcvd == bytes) {
                    c->done = 1;
                    left--;
                    close(c->fd);
                }
            }
        }
    }
    double t2 = now_s();
    printf("ECHO-OK conns=%d bytes=%llu connect_ms=%.1f total_ms=%.1f MBps=%.1f local=%u\n", nconns,
           (unsigned long long)bytes, (t1 - t0) * 1e3, (t2 - t0) * 1e3,
           2.0 * (double)bytes * nconns / (t2 - t1) / 1e6, first_local);
    return 0;
}

/* ---- sink and send: one-way throughput ---- */

static int sink(const struct addr *a)
{
    static uint8_t buf[CHUNK];
    int l = listen_on(a);
    printf("SINK-READY\n");
    fflush(stdout);
    int fd = accept4(l, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0)
        die("accept");
    double t0 = now_s();
    uint64_t total = 0;
    ssize_t r;
    while ((r = read(fd, buf, sizeof(buf))) > 0)
        total += (uint64_t)r;
    double t1 = now_s();
    if (write_all(fd, &total, sizeof(total)) < 0)
        die("answer");
    printf("SINK-OK bytes=%llu ms=%.1f MBps=%.1f\n", (unsigned long long)total, (t1 - t0) * 1e3,
           (double)total / (t1 - t0) / 1e6);
    close(fd);
    return 0;
}

static int send_stream(const struct addr *a, uint64_t bytes)
{
    static uint8_t buf[CHUNK];
    memset(buf, 0x5a, sizeof(buf));
    int fd = -1;
    for (int i = 0; i < 100 && fd < 0; i++)
        if ((fd = connect_to(a)) < 0)
            usleep(100000); /* the sink may not listen yet */
    if (fd < 0) {
        printf("SEND-FAIL cannot connect\n");
        return 1;
    }
    double t0 = now_s();
    for (uint64_t sent = 0; sent < bytes;) {
        size_t n = bytes - sent < sizeof(buf) ? (size_t)(bytes - sent) : sizeof(buf);
        if (write_all(fd, buf, n) < 0)
            die("send");
        sent += n;
    }
    shutdown(fd, SHUT_WR);
    uint64_t count = 0;
    size_t got = 0;
    while (got < sizeof(count)) {
        ssize_t r = read(fd, (char *)&count + got, sizeof(count) - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    double t1 = now_s();
    if (got != sizeof(count) || count != bytes) {
        printf("SEND-FAIL the sink counted %llu of %llu\n", (unsigned long long)count, (unsigned long long)bytes);
        return 1;
    }
    printf("SEND-OK bytes=%llu ms=%.1f MBps=%.1f\n", (unsigned long long)bytes, (t1 - t0) * 1e3,
           (double)bytes / (t1 - t0) / 1e6);
    return 0;
}

/* ---- setup: connection setup time ---- */

static int setup(const struct addr *a, int n)
{
    double sum = 0, worst = 0;
    for (int i = 0; i < n; i++) {
        double t0 = now_s();
        int fd = connect_to(a);
        char b = 'x';
        if (fd < 0 || write_all(fd, &b, 1) < 0 || read(fd, &b, 1) != 1 || b != 'x') {
            printf("SETUP-FAIL connection %d\n", i);
            return 1;
        }
        double dt = now_s() - t0;
        close(fd);
        sum += dt;
        worst = dt > worst ? dt : worst;
    }
    printf("SETUP-OK n=%d mean_us=%.0f worst_us=%.0f\n", n, sum / n * 1e6, worst * 1e6);
    return 0;
}

/* ---- stall: a host program that never reads ---- */

static void stall(const struct addr *a)
{
    int l = listen_on(a);
    raise_nofile();
    printf("STALL-READY\n");
    for (;;)
        if (accept4(l, NULL, NULL, SOCK_CLOEXEC) < 0 && errno != EINTR)
            die("accept");
}

/* ---- hold: many connections, kept ---- */

static int hold(const struct addr *a, int n)
{
    static int fds[MAX_CONNS];
    int opened = 0, refused = 0;
    raise_nofile();
    for (int i = 0; i < n; i++) {
        int fd = connect_to(a);
        if (fd < 0)
            refused++;
        else
            fds[opened++] = fd;
    }
    printf("HOLD opened=%d refused=%d\n", opened, refused);
    for (int i = 0; i < opened; i++)
        close(fds[i]);
    return 0;
}

int main(int argc, char **argv)
{
    struct addr a;
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 3 || parse_addr(argv[2], &a))
        usage();
    const char *cmd = argv[1];
    if (!strcmp(cmd, "serve"))
        serve(&a);
    if (!strcmp(cmd, "sink"))
        return sink(&a);
    if (!strcmp(cmd, "stall"))
        stall(&a);
    if (argc < 4)
        usage();
    long long n = atoll(argv[3]);
    if (!strcmp(cmd, "echo")) {
        int conns = argc > 4 ? atoi(argv[4]) : 1;
        if (conns < 1 || conns > MAX_CONNS)
            usage();
        return echo(&a, (uint64_t)n, conns);
    }
    if (!strcmp(cmd, "send"))
        return send_stream(&a, (uint64_t)n);
    if (!strcmp(cmd, "setup"))
        return setup(&a, (int)n);
    if (!strcmp(cmd, "hold"))
        return hold(&a, (int)n > MAX_CONNS ? MAX_CONNS : (int)n);
    usage();
}
