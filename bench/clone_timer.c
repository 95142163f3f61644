/* clone_timer: starts N copies of one VMM command at once (the clones of a
 * snapshot, or N cold boots) and times, from just before the first fork,
 * when each copy's stdout (the guest's serial port) first shows a marker;
 * with --ready, it then waits until every copy has printed a second marker
 * and sums their proportional set sizes (the Pss line of
 * /proc/PID/smaps_rollup: pages shared between the copies count once in
 * all). Then it kills every copy (SIGKILL) and reaps them.
 * Usage: clone_timer -n N --marker STR [--ready STR] [--timeout SEC] -- COMMAND [ARG...]
 * Prints one line: n=N first_marker_us=N last_marker_us=N pss_total_kib=N
 * pss_max_kib=N failed=N (-1 for what did not happen; failed counts copies
 * that ended or timed out before their markers). Static, libc only. */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_COPIES 64
#define MAX_MARKER 64

struct copy {
    pid_t pid;
    int fd;                  /* stdout's read end; -1 once closed */
    long long marker_us;     /* -1 until seen */
    int ready;               /* the --ready marker seen */
    char window[MAX_MARKER]; /* the last bytes read, for both markers */
    size_t filled;
};

static long long now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int window_ends_with(const struct copy *c, const char *s)
{
    size_t n = strlen(s);
    return c->filled >= n && memcmp(c->window + c->filled - n, s, n) == 0;
}

/* Feeds bytes through the copy's window, noting each marker when it completes. */
static void scan(struct copy *c, const char *buf, size_t n, const char *marker, const char *ready, long long t)
{
    for (size_t i = 0; i < n; i++) {
        if (c->filled == MAX_MARKER) {
            memmove(c->window, c->window + 1, MAX_MARKER - 1);
            c->filled--;
        }
        c->window[c->filled++] = buf[i];
        if (c->marker_us < 0 && window_ends_with(c, marker))
            c->marker_us = t;
        if (ready && c->marker_us >= 0 && window_ends_with(c, ready))
            c->ready = 1;
    }
}

static int start_copy(struct copy *c, char **argv)
{
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    c->pid = fork();
    if (c->pid < 0)
        return -1;
    if (c->pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(fds[1]);
    c->fd = fds[0];
    c->marker_us = -1;
    return 0;
}

static int done(const struct copy *c, const char *ready)
{
    return c->fd < 0 || (c->marker_us >= 0 && (!ready || c->ready));
}

/* Reads every copy until each has its markers, has ended, or the deadline passes. */
static void watch(struct copy *cs, int n, const char *marker, const char *ready, long long t0, long long deadline)
{
    struct pollfd p[MAX_COPIES];
    char buf[4096];
    for (;;) {
        int waiting = 0;
        for (int i = 0; i < n; i++) {
            p[i] = (struct pollfd){.fd = done(&cs[i], ready) ? -1 : cs[i].fd, .events = POLLIN};
            waiting += p[i].fd >= 0;
        }
        long long left_ms = (deadline - now_us()) / 1000;
        if (!waiting || left_ms <= 0)
            return;
        if (poll(p, (nfds_t)n, (int)(left_ms > 1000 ? 1000 : left_ms)) <= 0)
            continue;
        long long t = now_us() - t0;
        for (int i = 0; i < n; i++) {
            if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t got = read(cs[i].fd, buf, sizeof(buf));
            if (got <= 0) {
                close(cs[i].fd);
                cs[i].fd = -1;
            } else {
                scan(&cs[i], buf, (size_t)got, marker, ready, t);
            }
        }
    }
}

/* The Pss line of /proc/PID/smaps_rollup in KiB, or -1. */
static long pss_kib(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
    FILE *f = fopen(path, "r");
    long kib = -1;
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "Pss: %ld kB", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

static int usage(void)
{
    fprintf(stderr, "usage: clone_timer -n N (1..%d) --marker STR [--ready STR] [--timeout SEC] -- COMMAND...\n",
            MAX_COPIES);
    return 2;
}

int main(int argc, char **argv)
{
    const char *marker = NULL, *ready = NULL;
    int n = 0, timeout_s = 300, i = 1;
    for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (!strcmp(argv[i], "-n") && i + 1 < argc)
            n = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--marker") && i + 1 < argc)
            marker = argv[++i];
        else if (!strcmp(argv[i], "--ready") && i + 1 < argc)
            ready = argv[++i];
        else if (!strcmp(argv[i], "--timeout") && i + 1 < argc)
            timeout_s = atoi(argv[++i]);
        else
            return usage();
    }
    if (i + 1 >= argc || n < 1 || n > MAX_COPIES || timeout_s < 1 || !marker || !*marker ||
        strlen(marker) >= MAX_MARKER || (ready && (!*ready || strlen(ready) >= MAX_MARKER)))
        return usage();
    static struct copy cs[MAX_COPIES];
    long long t0 = now_us();
    for (int c = 0; c < n; c++)
        if (start_copy(&cs[c], argv + i + 1) != 0) {
            fprintf(stderr, "clone_timer: cannot start copy %d\n", c);
            return 1;
        }
    watch(cs, n, marker, ready, t0, t0 + (long long)timeout_s * 1000000);
    long long first = -1, last = -1;
    long total = 0, max = -1;
    int failed = 0;
    for (int c = 0; c < n; c++) {
        if (cs[c].marker_us < 0 || (ready && !cs[c].ready)) {
            failed++;
            continue;
        }
        first = first < 0 || cs[c].marker_us < first ? cs[c].marker_us : first;
        last = cs[c].marker_us > last ? cs[c].marker_us : last;
        long kib = ready ? pss_kib(cs[c].pid) : -1;
        failed += ready && kib < 0;
        total += kib > 0 ? kib : 0;
        max = kib > max ? kib : max;
    }
    for (int c = 0; c < n; c++) {
        kill(cs[c].pid, SIGKILL);
        waitpid(cs[c].pid, NULL, 0);
        if (cs[c].fd >= 0)
            close(cs[c].fd);
    }
    printf("n=%d first_marker_us=%lld last_marker_us=%lld pss_total_kib=%ld pss_max_kib=%ld failed=%d\n", n,
           failed ? -1 : first, failed ? -1 : last, ready && !failed ? total : -1, ready && !failed ? max : -1,
           failed);
    return 0;
}
