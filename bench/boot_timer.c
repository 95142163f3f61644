/* boot_timer: runs one VMM command and times, from just before its process
 * starts: the first byte on its stdout (the guest's serial port: our
 * first-instruction guest writes there at entry), the first occurrence of a
 * marker string (e.g. printed by the guest's /init), and the process's exit;
 * plus its peak RSS. The same measurement for every VMM, so ratios are fair.
 * Usage: boot_timer [--marker STR] [--timeout SEC] [--tee FILE] -- COMMAND [ARG...]
 * (--tee keeps a copy of the command's stdout in FILE.) Prints one line: first_byte_us=N marker_us=N exit_us=N maxrss_kib=N status=N
 * (-1 for an event that did not happen). Static, libc only. */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
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

int main(int argc, char **argv)
{
    const char *marker = NULL, *tee = NULL;
    int timeout_s = 120, i = 1;
    for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (!strcmp(argv[i], "--marker") && i + 1 < argc)
            marker = argv[++i];
        else if (!strcmp(argv[i], "--timeout") && i + 1 < argc)
            timeout_s = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--tee") && i + 1 < argc)
            tee = argv[++i];
        else {
            fprintf(stderr, "usage: boot_timer [--marker STR] [--timeout SEC] [--tee FILE] -- COMMAND...\n");
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
    char buf[4096], window[256];
    size_t filled = 0;
    for (;;) {
        struct pollfd p = {.fd = fds[0], .events = POLLIN};
        long long left_ms = (deadline - now_us()) / 1000;
        if (left_ms <= 0) {
            kill(pid, SIGKILL);
            break;
        }
        if (poll(&p, 1, (int)(left_ms > 1000 ? 1000 : left_ms)) <= 0)
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
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    printf("first_byte_us=%lld marker_us=%lld exit_us=%lld maxrss_kib=%ld status=%d\n", first, mark,
           exit_us, ru.ru_maxrss, code);
    return 0;
}
