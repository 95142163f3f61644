/* The gdb stub's sandbox extras (vmm/sandbox.c, pvh_sandbox_gdb_calls): with
 * them the stub's calls pass the filter (a KVM_TRANSLATE or KVM_SET_GUEST_DEBUG
 * on a bad fd comes back EBADF from the kernel; accept4, recvfrom, sendto and
 * epoll_ctl likewise); without them (no --gdb) the same calls kill the
 * process by SIGSYS with the call named. Each case runs in a forked child. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../lib/child.h"
#include "pvhboot/sandbox.h"

static void enter(const struct pvh_sandbox_extra *extra)
{
    struct pvh_error err;
    if (pvh_sandbox_enter_with(extra, &err) != 0) {
        dprintf(STDERR_FILENO, "enter failed: %s\n", err.msg);
        _exit(40);
    }
}

static void stub_calls(void)
{
    struct kvm_translation t = {0};
    struct kvm_guest_debug d = {0};
    char c;
    if (ioctl(-1, KVM_TRANSLATE, &t) != -1 || errno != EBADF)
        _exit(41);
    if (ioctl(-1, KVM_SET_GUEST_DEBUG, &d) != -1 || errno != EBADF)
        _exit(42);
    if (accept4(-1, NULL, NULL, SOCK_NONBLOCK) != -1 || errno != EBADF)
        _exit(43);
    if (recv(-1, &c, 1, MSG_DONTWAIT) != -1 || errno != EBADF)
        _exit(44);
    if (send(-1, &c, 1, MSG_NOSIGNAL) != -1 || errno != EBADF)
        _exit(45);
    if (epoll_ctl(-1, EPOLL_CTL_DEL, 0, NULL) != -1 || errno != EBADF)
        _exit(46);
    _exit(7);
}

static void with_extras(void)
{
    enter(&pvh_sandbox_gdb_calls);
    stub_calls();
}

static void without_extras_translate(void)
{
    enter(NULL);
    struct kvm_translation t = {0};
    ioctl(-1, KVM_TRANSLATE, &t);
    _exit(50);
}

static void without_extras_accept(void)
{
    enter(NULL);
    accept4(-1, NULL, NULL, 0);
    _exit(51);
}

static void too_many_extras(void)
{
    int nr[PVH_SANDBOX_MAX_EXTRA + 1] = {0};
    struct pvh_sandbox_extra e = {nr, PVH_SANDBOX_MAX_EXTRA + 1, NULL, 0};
    struct pvh_error err;
    _exit(pvh_sandbox_enter_with(&e, &err) == -1 && strstr(err.msg, "extra") ? 8 : 52);
}

static void test_extras_allow_the_stub(void **state)
{
    (void)state;
    struct child_result r;
    run_child(with_extras, &r);
    assert_true(WIFEXITED(r.status));
    assert_int_equal(WEXITSTATUS(r.status), 7);
}

static void test_without_extras_forbidden(void **state)
{
    (void)state;
    struct child_result r;
    run_child(without_extras_translate, &r);
    assert_true(WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGSYS);
    assert_non_null(strstr(r.err, "forbidden system call ioctl"));
    run_child(without_extras_accept, &r);
    assert_true(WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGSYS);
    assert_non_null(strstr(r.err, "forbidden system call accept4"));
}

static void test_too_many_extras_refused(void **state)
{
    (void)state;
    struct child_result r;
    run_child(too_many_extras, &r);
    assert_true(WIFEXITED(r.status));
    assert_int_equal(WEXITSTATUS(r.status), 8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_extras_allow_the_stub),
        cmocka_unit_test(test_without_extras_forbidden),
        cmocka_unit_test(test_too_many_extras_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
