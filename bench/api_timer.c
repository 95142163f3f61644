/* api_timer: boots a VM through the control API and times it, the way
 * bench/boot_timer times `pvhboot run`. It starts COMMAND (`pvhboot serve
 * --api-sock SOCK ...`) with its stdout (the guest's serial port) on a pipe,
 * waits for SOCK, sends each --call (one request each, on one connection),
 * then PUT /actions InstanceStart, and watches the socket and the pipe
 * together, so each event gets its own time: the InstanceStart response,
 * the first serial byte (our first-instruction guest writes it at entry),
 * the marker (printed by a Linux guest's /init), the process's exit.
 * Usage: api_timer [--marker STR] [--timeout SEC] --sock PATH [--call "METHOD PATH BODY"]... -- COMMAND...
 * Prints one line: sock_us=N calls_us=N start_sent_us=N start_answered_us=N start_status=N
 * first_byte_us=N marker_us=N exit_us=N maxrss_kib=N status=N (times from just before COMMAND
 * starts; -1 for what did not happen). Static, libc only; bench use only. */
#include <poll.h>
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

#define MAX_CALLS 16

static long long t0;

static long long now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000 - t0;
}

struct watch {
    int out;                 /* COMMAND's stdout; -1 once closed */
    const char *marker;
    char window[256];
    size_t filled;
    long long first, mark;
};

/* Reads what COMMAND wrote, timing its first byte and the marker. */
static void read_output(struct watch *w)
{
    char buf[4096];
    ssize_t n = read(w->out, buf, sizeof(buf));
    if (n <= 0) {
        close(w->out);
        w->out = -1;
        return;
    }
    long long t = now_us();
    if (w->first < 0)
        w->first = t;
    size_t mlen = w->marker ? strlen(w->marker) : 0;
    for (ssize_t i = 0; mlen && w->mark < 0 && i < n; i++) {
        if (w->filled == mlen) {
            memmove(w->window, w->window + 1, mlen - 1);
            w->filled--;
        }
        w->window[w->filled++] = buf[i];
        if (w->filled == mlen && !memcmp(w->window, w->marker, mlen))
            w->mark = t;
    }
}

static int dial(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
        return fd;
    if (fd >= 0)
        close(fd);
    return -1;
}

/* One request; its response's status, the output watched meanwhile. -1: none. */
static int request(int fd, const char *call, struct watch *w, long long deadline)
{
    char method[16], path[128], req[8192], resp[8192];
    int skip = 0;
    if (sscanf(call, "%15s %127s %n", method, path, &skip) < 2)
        return -1;
    const char *body = call + skip;
    int n = snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\n\r\n%s", method, path, strlen(body), body);
    if (n <= 0 || n >= (int)sizeof(req) || write(fd, req, (size_t)n) != n)
        return -1;
    size_t got = 0;
    while (now_us() < deadline) {
        struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = w->out, .events = POLLIN}};
        if (poll(p, w->out >= 0 ? 2 : 1, 100) <= 0)
            continue;
        if (p[1].revents)
            read_output(w);
        if (!p[0].revents)
            continue;
        ssize_t r = read(fd, resp + got, sizeof(resp) - 1 - got);
        if (r <= 0)
            return -1;
        got += (size_t)r;
        resp[got] = '\0';
        char *end = strstr(resp, "\r\n\r\n");
        const char *cl = strstr(resp, "Content-Length:");
        size_t want = cl ? strtoul(cl + 15, NULL, 10) : 0;
        if (end && got >= (size_t)(end + 4 - resp) + want)
            return atoi(resp + 9); /* "HTTP/1.1 204 ..." */
    }
    return -1;
}

static void usage(void)
{
    fprintf(stderr, "usage: api_timer [--marker STR] [--timeout SEC] --sock PATH [--call \"METHOD PATH BODY\"]... "
                    "-- COMMAND...\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *sock = NULL, *calls[MAX_CALLS];
    int ncalls = 0, timeout_s = 120, i = 1;
    struct watch w = {.out = -1, .first = -1, .mark = -1};
    for (; i < argc && strcmp(argv[i], "--"); i++) {
        if (i + 1 >= argc)
            usage();
        if (!strcmp(argv[i], "--marker"))
            w.marker = argv[++i];
        else if (!strcmp(argv[i], "--timeout"))
            timeout_s = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--sock"))
            sock = argv[++i];
        else if (!strcmp(argv[i], "--call") && ncalls < MAX_CALLS)
            calls[ncalls++] = argv[++i];
        else
            usage();
    }
    if (!sock || i + 1 >= argc || (w.marker && (!*w.marker || strlen(w.marker) > 255)))
        usage();
    int fds[2];
    if (pipe(fds))
        return 1;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    t0 = (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        execvp(argv[i + 1], argv + i + 1);
        _exit(127);
    }
    close(fds[1]);
    w.out = fds[0];
    long long deadline = (long long)timeout_s * 1000000, sock_us = -1, calls_us = -1, sent = -1, answered = -1;
    int fd = -1, start_status = -1;
    while (fd < 0 && now_us() < deadline && waitpid(pid, NULL, WNOHANG) == 0)
        if ((fd = dial(sock)) < 0)
            usleep(1000);
    if (fd >= 0) {
        sock_us = now_us();
        int bad = 0;
        for (int c = 0; c < ncalls; c++)
            bad |= request(fd, calls[c], &w, deadline) / 100 != 2;
        calls_us = bad ? -1 : now_us();
        sent = now_us();
        start_status = request(fd, "PUT /actions {\"action_type\": \"InstanceStart\"}", &w, deadline);
        answered = now_us();
    }
    while (w.out >= 0 && now_us() < deadline) {
        struct pollfd p = {.fd = w.out, .events = POLLIN};
        if (poll(&p, 1, 100) > 0)
            read_output(&w);
    }
    if (w.out >= 0)
        kill(pid, SIGKILL);
    if (fd >= 0)
        close(fd);
    int status;
    struct rusage ru;
    wait4(pid, &status, 0, &ru);
    long long exit_us = now_us();
    printf("sock_us=%lld calls_us=%lld start_sent_us=%lld start_answered_us=%lld start_status=%d first_byte_us=%lld "
           "marker_us=%lld exit_us=%lld maxrss_kib=%ld status=%d\n", sock_us, calls_us, sent, answered, start_status,
           w.first, w.mark, exit_us, ru.ru_maxrss, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    return 0;
}
