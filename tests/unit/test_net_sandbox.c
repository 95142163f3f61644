/* The seccomp sandbox and virtio-net's data path: in a child under the
 * run loop's filter (pvh_sandbox_enter), the calls the I/O thread makes for
 * a NIC (epoll_ctl for the TAP's watch, TUNSETOFFLOAD when the driver
 * starts, readv/writev) go through, and TUNSETIFF, setup's call that
 * creates interfaces, kills it with SIGSYS. Its own binary: valgrind
 * cannot run under a seccomp filter (tests/valgrind/memcheck.t leaves
 * *_sandbox out; the ASan run covers it). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pvhboot/error.h"
#include "pvhboot/sandbox.h"

/* In a child under the sandbox: the data path's calls, then `last`. */
static int sandboxed(bool forbidden_last)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, STDERR_FILENO); /* the SIGSYS line */
        int ep = epoll_create1(EPOLL_CLOEXEC), efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        int p[2];
        if (ep < 0 || efd < 0 || pipe(p))
            _exit(10);
        struct pvh_error err;
        if (pvh_sandbox_enter(&err))
            _exit(11);
        struct epoll_event ev = {.events = EPOLLIN};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev) || epoll_ctl(ep, EPOLL_CTL_DEL, efd, NULL))
            _exit(12);
        if (ioctl(p[0], TUNSETOFFLOAD, 0ul) == 0 || errno != ENOTTY) /* allowed: a pipe only says ENOTTY */
            _exit(13);
        struct iovec iov = {"x", 1};
        char c;
        struct iovec in = {&c, 1};
        if (writev(p[1], &iov, 1) != 1 || readv(p[0], &in, 1) != 1)
            _exit(14);
        if (forbidden_last) {
            struct ifreq_like { char name[16]; short flags; char pad[22]; } ifr = {"x", 0, {0}};
            ioctl(p[0], TUNSETIFF, &ifr); /* creating interfaces is setup's, never the run loop's */
        }
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return status;
}

static void sandbox_allows_the_data_path(void **state)
{
    (void)state;
    int status = sandboxed(false);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    status = sandboxed(true);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGSYS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sandbox_allows_the_data_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
