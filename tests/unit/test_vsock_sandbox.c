/* The sandbox's additions for virtio-vsock (vmm/sandbox.c,
 * pvh_sandbox_allow_unix_sockets): under the filter, each case in a forked
 * child, what vsock's I/O thread does passes (a new AF_UNIX stream socket,
 * connect, accept4, epoll_ctl, sendmsg, the peeked recv, shutdown); the
 * same with the gdb stub's extras added (--vsock and --gdb together); and
 * what it does not need still kills with the call named: socket(AF_INET),
 * an AF_UNIX socket of another type or without NONBLOCK|CLOEXEC, an
 * unrelated openat, and an AF_UNIX socket when vsock is off. Kept apart
 * from test_vsock so that valgrind (tests/valgrind/memcheck.t) can run
 * that one: seccomp traps valgrind's own system calls. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../lib/child.h"
#include "pvhboot/sandbox.h"

static void enter_sandbox(bool vsock, bool gdb)
{
    struct pvh_error err;
    if (vsock)
        pvh_sandbox_allow_unix_sockets();
    if (pvh_sandbox_enter_with(gdb ? &pvh_sandbox_gdb_calls : NULL, &err) != 0) {
        dprintf(STDERR_FILENO, "enter failed: %s\n", err.msg);
        _exit(40);
    }
}

static int unix_listener(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
    unlink(path);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 8) != 0)
        _exit(39);
    return fd;
}

/* What vsock's I/O thread does, under the filter; with gdb's extras, the
 * stub's send (sendto) as well (--vsock and --gdb together). */
static void vsock_calls(const char *path, bool gdb)
{
    int l = unix_listener(path); /* bound before the sandbox, like the device's */
    int ep = epoll_create1(EPOLL_CLOEXEC);
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) /* the gdb client's, made before */
        _exit(38);
    enter_sandbox(true, gdb);
    int c = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
    if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof(a)) != 0)
        _exit(41);
    int s = accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLET};
    if (s < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev) != 0)
        _exit(42);
    struct iovec iov = {"CONNECT 1\n", 10};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    char buf[16];
    if (sendmsg(c, &m, MSG_NOSIGNAL) != 10 || recv(s, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT) != 10)
        _exit(43);
    if (shutdown(c, SHUT_WR) != 0 || epoll_ctl(ep, EPOLL_CTL_DEL, s, NULL) != 0)
        _exit(44);
    if (gdb && send(sv[0], "+", 1, MSG_NOSIGNAL) != 1)
        _exit(45);
    close(c), close(s);
    _exit(7);
}

static void vsock_only(const char *path) { vsock_calls(path, false); }
static void vsock_and_gdb(const char *path) { vsock_calls(path, true); }

static void inet_socket(const char *path)
{
    (void)path;
    enter_sandbox(true, false);
    socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    _exit(46);
}

static void unix_dgram_socket(const char *path)
{
    (void)path;
    enter_sandbox(true, true);
    socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    _exit(47);
}

static void blocking_unix_socket(const char *path)
{
    (void)path;
    enter_sandbox(true, false);
    socket(AF_UNIX, SOCK_STREAM, 0);
    _exit(48);
}

static void unrelated_call(const char *path)
{
    enter_sandbox(true, true);
    syscall(SYS_openat, -100, path, O_RDONLY);
    _exit(49);
}

static void unix_socket_without_vsock(const char *path)
{
    (void)path;
    enter_sandbox(false, true); /* gdb's extras do not bring socket() */
    socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    _exit(50);
}

static void connect_without_vsock(const char *path)
{
    (void)path;
    enter_sandbox(false, true);
    connect(-1, NULL, 0);
    _exit(51);
}

struct tmp {
    char dir[32], path[64];
};

static void tmp_make(struct tmp *t)
{
    snprintf(t->dir, sizeof(t->dir), "/tmp/pvh-vsock-sb-XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    snprintf(t->path, sizeof(t->path), "%s/s.sock", t->dir);
}

static void tmp_remove(struct tmp *t)
{
    unlink(t->path);
    rmdir(t->dir);
}

static void test_vsock_calls_pass(void **state)
{
    (void)state;
    struct tmp t;
    struct child_result r;
    tmp_make(&t);
    run_child_arg(vsock_only, t.path, &r);
    if (!WIFEXITED(r.status) || WEXITSTATUS(r.status) != 7)
        fail_msg("vsock's calls under the sandbox: status %#x, stderr: %s", r.status, r.err);
    run_child_arg(vsock_and_gdb, t.path, &r);
    if (!WIFEXITED(r.status) || WEXITSTATUS(r.status) != 7)
        fail_msg("vsock's and gdb's calls under the sandbox: status %#x, stderr: %s", r.status, r.err);
    tmp_remove(&t);
}

static void expect_killed(void (*fn)(const char *), const char *arg, const char *call)
{
    struct child_result r;
    char want[64];
    run_child_arg(fn, arg, &r);
    snprintf(want, sizeof(want), "forbidden system call %s ", call);
    if (!WIFSIGNALED(r.status) || WTERMSIG(r.status) != SIGSYS || !strstr(r.err, want))
        fail_msg("expected death by SIGSYS naming %s: status %#x, stderr: %s", call, r.status, r.err);
}

static void test_other_calls_killed(void **state)
{
    (void)state;
    expect_killed(inet_socket, NULL, "socket");
    expect_killed(unix_dgram_socket, NULL, "socket");
    expect_killed(blocking_unix_socket, NULL, "socket");
    expect_killed(unrelated_call, "/etc/passwd", "openat");
    expect_killed(unix_socket_without_vsock, NULL, "socket");
    expect_killed(connect_without_vsock, NULL, "connect");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vsock_calls_pass),
        cmocka_unit_test(test_other_calls_killed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
