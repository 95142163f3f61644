/* boot_timer: runs one VMM command and times, from just before its process
 * starts: the first byte on its stdout (the guest's serial port: our
 * first-instruction guest writes there at entry), the first occurrence of a
 * marker string (e.g. printed by the guest's /init), the first answer of a
 * guest's vsock echo server, and the process's exit; plus its peak RSS. The
 * same measurement for every VMM, so ratios are fair.
 * Usage: boot_timer [--marker STR] [--vsock UDS:PORT] [--timeout SEC] [--tee FILE] -- COMMAND [ARG...]
 * (--tee keeps a copy of the command's stdout in FILE.) --vsock: a thread
 * connects to the VMM's Firecracker-style hybrid vsock socket UDS every 20 ms
 * (attempts overlap), says "CONNECT PORT", and once "OK" and a byte echoed
 * back have come, the time is taken and the VMM killed (with --marker, once
 * the marker has come too). Prints one line: first_byte_us=N marker_us=N vsock_us=N
 * exit_us=N maxrss_kib=N status=N (-1 for an event that did not happen).
 * Static, libc only. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Slides a window of the last len(marker) bytes to find the marker across reads. */
static int scan_for_marker(const char *marker, char *window, size_t *filled, const char *buf,
                           size_t n)
{
    size_t mlen = strlen(marker);
    for (size_t i = 0; i < n; i++) {
        if (*filled == mlen) {
            memmove(window, window + 1, mlen - 1);
            (*filled)--;
        }
        window[(*filled)++] = buf[i];
        if (*filled == mlen && memcmp(window, marker, mlen) == 0)
            return 1;
    }
    return 0;
}

/* The vsock prober: a new attempt every ATTEMPT_EVERY_US while fewer than
 * MAX_ATTEMPTS are open (a CONNECT made before the guest's driver is up
 * waits in the VMM, which closes it once the guest refuses it or after its
 * own timeout; none is given up here, so a slow answer is still seen), each
 * a small state machine: "CONNECT PORT" sent, "OK ..." read, a byte sent and
 * its echo read (send with MSG_NOSIGNAL: the VMM closes the attempts nobody
 * in the guest answers). */
#define MAX_ATTEMPTS 32
#define ATTEMPT_EVERY_US 20000
struct vsock_probe {
    struct sockaddr_un addr;
    unsigned port;
    long long t0, deadline;
    atomic_llong answered_us;
    atomic_bool stop;
};
struct attempt {
    int fd;
    bool greeted; /* "OK" read, the byte sent */
    char line[64];
    size_t got;
};

static int start_attempt(const struct vsock_probe *p, struct attempt *a)
{
    a->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    a->greeted = false;
    a->got = 0;
    char line[32];
    int n = snprintf(line, sizeof(line), "CONNECT %u\n", p->port);
    if (a->fd >= 0 && connect(a->fd, (const struct sockaddr *)&p->addr, sizeof(p->addr)) == 0 &&
        send(a->fd, line, (size_t)n, MSG_NOSIGNAL) == n)
        return 0;
    if (a->fd >= 0)
        close(a->fd);
    a->fd = -1;
    return -1;
}

/* Its socket is readable: 1 answered, 0 go on, -1 over. */
static int step_attempt(struct attempt *a)
{
    char c;
    ssize_t n = read(a->fd, &c, 1);
    if (n != 1)
        return n < 0 && errno == EAGAIN ? 0 : -1;
    if (a->greeted)
        return c == 'v' ? 1 : -1;
    if (c != '\n') {
        a->line[a->got++] = c;
        return a->got < sizeof(a->line) - 1 ? 0 : -1;
    }
    a->line[a->got] = 0;
    a->greeted = true;
    return !strncmp(a->line, "OK ", 3) && send(a->fd, "v", 1, MSG_NOSIGNAL) == 1 ? 0 : -1;
}

static void *probe_vsock(void *arg)
{
    struct vsock_probe *p = arg;
    struct attempt at[MAX_ATTEMPTS];
    struct pollfd pf[MAX_ATTEMPTS];
    long long last = 0;
    for (unsigned k = 0; k < MAX_ATTEMPTS; k++)
        at[k].fd = -1;
    while (!atomic_load(&p->stop) && now_us() < p->deadline && atomic_load(&p->answered_us) < 0) {
        int free_slot = -1;
        for (unsigned k = 0; k < MAX_ATTEMPTS && free_slot < 0; k++)
            if (at[k].fd < 0)
                free_slot = (int)k;
        if (free_slot >= 0 && now_us() - last >= ATTEMPT_EVERY_US) {
            start_attempt(p, &at[free_slot]);
            last = now_us();
        }
        for (unsigned k = 0; k < MAX_ATTEMPTS; k++)
            pf[k] = (struct pollfd){.fd = at[k].fd, .events = POLLIN};
        if (poll(pf, MAX_ATTEMPTS, 1) <= 0)
            continue;
        for (unsigned k = 0; k < MAX_ATTEMPTS; k++) {
            if (at[k].fd < 0 || !pf[k].revents)
                continue;
            int r = step_attempt(&at[k]);
            if (r == 1)
                atomic_store(&p->answered_us, now_us() - p->t0);
            if (r != 0) {
                close(at[k].fd);
                at[k].fd = -1;
            }
        }
    }
    for (unsigned k = 0; k < MAX_ATTEMPTS; k++)
        if (at[k].fd >= 0)
            close(at[k].fd);
    return NULL;
}

static int parse_vsock(const char *arg, struct vsock_probe *p)
{
    const char *colon = strrchr(arg, ':');
    char *end;
    if (!colon || colon == arg || (size_t)(colon - arg) >= sizeof(p->addr.sun_path))
        return -1;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (*end || !colon[1] || port > 0xffffffffUL)
        return -1;
    p->addr.sun_family = AF_UNIX;
    memcpy(p->addr.sun_path, arg, (size_t)(colon - arg));
    p->port = (unsigned)port;
    return 0;
}

int main(int argc, char **argv)
{
    const char *marker = NULL, *tee = NULL;
    static struct vsock_probe probe = {.answered_us = -1};
    bool probing = false;
    int timeout_s = 120, i = 1;
    for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (!strcmp(argv[i], "--marker") && i + 1 < argc)
            marker = argv[++i];
        else if (!strcmp(argv[i], "--timeout") && i + 1 < argc)
            timeout_s = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--tee") && i + 1 < argc)
            tee = argv[++i];
        else if (!strcmp(argv[i], "--vsock") && i + 1 < argc && parse_vsock(argv[i + 1], &probe) == 0)
            probing = ++i;
        else {
            fprintf(stderr, "usage: boot_timer [--marker STR] [--vsock UDS:PORT] [--timeout SEC] [--tee FILE] -- "
                            "COMMAND...\n");
            return 2;
        }
    }
    if (i + 1 >= argc || (marker && (!*marker || strlen(marker) > 256))) {
        fprintf(stderr, "boot_timer: missing command after -- (or bad marker)\n");
        return 2;
    }
    int fds[2];
    FILE *copy = tee ? fopen(tee, "w") : NULL;
    if (pipe(fds) != 0 || (tee && !copy))
        return 1;
    long long t0 = now_us();
    pid_t pid = fork();
    if (pid < 0)
        return 1;
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        execvp(argv[i + 1], argv + i + 1);
        _exit(127);
    }
    close(fds[1]);
    long long first = -1, mark = -1, deadline = t0 + (long long)timeout_s * 1000000;
    pthread_t prober;
    probe.t0 = t0;
    probe.deadline = deadline;
    if (probing && pthread_create(&prober, NULL, probe_vsock, &probe) != 0)
        return 1;
    char buf[4096], window[256];
    size_t filled = 0;
    bool killed = false;
    for (;;) {
        if (probing && !killed && atomic_load(&probe.answered_us) >= 0 && (!marker || mark >= 0)) {
            kill(pid, SIGKILL); /* what was timed has come: the VM is not needed any more */
            killed = true;
        }
        struct pollfd p = {.fd = fds[0], .events = POLLIN};
        long long left_ms = (deadline - now_us()) / 1000;
        if (left_ms <= 0) {
            kill(pid, SIGKILL);
            break;
        }
        int wait_ms = probing ? 1 : 1000;
        if (poll(&p, 1, (int)(left_ms > wait_ms ? wait_ms : left_ms)) <= 0)
            continue;
        ssize_t n = read(fds[0], buf, sizeof(buf));
        if (n <= 0)
            break;
        long long t = now_us() - t0;
        if (copy)
            fwrite(buf, 1, (size_t)n, copy);
        if (first < 0)
            first = t;
        if (marker && mark < 0 && scan_for_marker(marker, window, &filled, buf, (size_t)n))
            mark = t;
    }
    if (copy)
        fclose(copy);
    int status;
    struct rusage ru;
    wait4(pid, &status, 0, &ru);
    long long exit_us = now_us() - t0;
    if (probing) {
        atomic_store(&probe.stop, true);
        pthread_join(prober, NULL);
    }
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    printf("first_byte_us=%lld marker_us=%lld vsock_us=%lld exit_us=%lld maxrss_kib=%ld status=%d\n", first, mark,
           (long long)atomic_load(&probe.answered_us), exit_us, ru.ru_maxrss, code);
    return 0;
}
