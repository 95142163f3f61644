/* The API socket's janitor (sock_janitor.h): a grandchild process that
 * holds only two pipes, ignores the terminal's signals, reads the socket
 * file's identity, waits for end of file on the order pipe (serve closed
 * it, or serve's process ended in any way) and unlinks PATH if it is still
 * that socket. The parent waits for it through the done pipe with poll and
 * read, which the VM's seccomp allow-list permits. */
#include "sock_janitor.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define FINISH_WAIT_MS 1000

struct sock_identity {
    uint64_t dev, ino;
};

/* Every fd but keep_a and keep_b closed. */
static void close_others(int keep_a, int keep_b)
{
    int lo = keep_a < keep_b ? keep_a : keep_b, hi = keep_a < keep_b ? keep_b : keep_a;
    if (lo > 0)
        syscall(SYS_close_range, 0u, (unsigned)lo - 1, 0u);
    if (hi > lo + 1)
        syscall(SYS_close_range, (unsigned)lo + 1, (unsigned)hi - 1, 0u);
    syscall(SYS_close_range, (unsigned)hi + 1, ~0u, 0u);
}

static bool read_all(int fd, void *buf, size_t n)
{
    size_t at = 0;
    while (at < n) {
        ssize_t r = read(fd, (char *)buf + at, n - at);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        at += (size_t)r;
    }
    return true;
}

static _Noreturn void janitor_main(int order_fd, int done_fd, const char *path)
{
    static const int ignored[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGTSTP};
    for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
        signal(ignored[i], SIG_IGN);
    close_others(order_fd, done_fd);
    struct sock_identity id;
    if (!read_all(order_fd, &id, sizeof(id)))
        _exit(0); /* never armed: the socket was not made */
    char drain;
    ssize_t r;
    do
        r = read(order_fd, &drain, 1);
    while (r > 0 || (r < 0 && errno == EINTR));
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode) && (uint64_t)st.st_dev == id.dev &&
        (uint64_t)st.st_ino == id.ino)
        unlink(path);
    _exit(0);
}

int sock_janitor_start(struct sock_janitor *j, const char *path, struct pvh_error *err)
{
    int order[2], done[2];
    j->order_fd = j->done_fd = -1;
    if (pipe2(order, O_CLOEXEC) != 0)
        return pvh_fail(err, PVH_E_SYSTEM, "pipe: %s", strerror(errno));
    if (pipe2(done, O_CLOEXEC) != 0) {
        close(order[0]), close(order[1]);
        return pvh_fail(err, PVH_E_SYSTEM, "pipe: %s", strerror(errno));
    }
    pid_t child = fork();
    if (child == 0) { /* the middle process: forks the janitor and ends, so init adopts it */
        if (fork() == 0)
            janitor_main(order[0], done[1], path);
        _exit(0);
    }
    close(order[0]);
    close(done[1]);
    if (child < 0) {
        int e = errno;
        close(order[1]), close(done[0]);
        return pvh_fail(err, PVH_E_SYSTEM, "cannot fork the socket's janitor: %s", strerror(e));
    }
    while (waitpid(child, NULL, 0) < 0 && errno == EINTR) {
    }
    j->order_fd = order[1];
    j->done_fd = done[0];
    return 0;
}

int sock_janitor_arm(struct sock_janitor *j, const char *path, struct pvh_error *err)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return pvh_fail(err, PVH_E_SYSTEM, "--api-sock %s: %s", path, strerror(errno));
    struct sock_identity id = {.dev = (uint64_t)st.st_dev, .ino = (uint64_t)st.st_ino};
    if (write(j->order_fd, &id, sizeof(id)) != (ssize_t)sizeof(id))
        return pvh_fail(err, PVH_E_SYSTEM, "--api-sock %s: the socket's janitor is gone", path);
    return 0;
}

void sock_janitor_finish(struct sock_janitor *j)
{
    if (j->order_fd < 0)
        return;
    close(j->order_fd);
    j->order_fd = -1;
    struct pollfd p = {.fd = j->done_fd, .events = POLLIN};
    char c;
    while (poll(&p, 1, FINISH_WAIT_MS) > 0 && read(j->done_fd, &c, 1) > 0) {
    }
    close(j->done_fd);
    j->done_fd = -1;
}
