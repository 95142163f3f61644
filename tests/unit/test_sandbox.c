/* The run loop's sandbox: allowed calls still work under the filter, a
 * forbidden one kills the process by SIGSYS with a one-line message naming
 * it, executable mappings and unknown ioctls are refused, tgkill reaches this
 * process's threads only (another process survives the attempt), and --user
 * drops root for good. Each case runs in a forked child. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../lib/child.h"
#include "pvhboot/sandbox.h"

static void enter_or_die(void)
{
    struct pvh_error err;
    if (pvh_sandbox_enter(&err) != 0) {
        dprintf(STDERR_FILENO, "enter failed: %s\n", err.msg);
        _exit(40);
    }
}

static void allowed_calls(void)
{
    enter_or_die();
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        _exit(41);
    if (write(STDERR_FILENO, "still alive\n", 12) != 12)
        _exit(42);
    void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        _exit(43);
    _exit(7);
}

static void forbidden_openat(void)
{
    enter_or_die();
    syscall(SYS_openat, -100, "/etc/passwd", 0);
    _exit(44);
}

static void exec_mapping(void)
{
    enter_or_die();
    mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    _exit(45);
}

static void unknown_ioctl(void)
{
    enter_or_die();
    int v;
    ioctl(STDIN_FILENO, TIOCGPGRP, &v);
    _exit(46);
}

static volatile sig_atomic_t kicked;

static void on_kick(int sig)
{
    (void)sig;
    kicked = 1;
}

/* The run loop kicks vCPU threads with pthread_kill: tgkill on our own tgid. */
static void tgkill_own_threads(void)
{
    struct sigaction sa = {.sa_handler = on_kick};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    enter_or_die();
    if (pthread_kill(pthread_self(), SIGUSR1) != 0 || !kicked)
        _exit(47);
    kicked = 0;
    if (syscall(SYS_tgkill, getpid(), gettid(), SIGUSR1) != 0 || !kicked)
        _exit(48);
    _exit(9);
}

static pid_t victim;

static void tgkill_another_process(void)
{
    enter_or_die();
    syscall(SYS_tgkill, victim, victim, SIGTERM);
    _exit(49);
}

static void test_allowed_calls_survive(void **state)
{
    (void)state;
    struct child_result r;
    run_child(allowed_calls, &r);
    assert_true(WIFEXITED(r.status));
    assert_int_equal(WEXITSTATUS(r.status), 7);
    assert_non_null(strstr(r.err, "still alive"));
}

static void assert_killed_naming(const struct child_result *r, const char *expected)
{
    assert_true(WIFSIGNALED(r->status));
    assert_int_equal(WTERMSIG(r->status), SIGSYS);
    assert_non_null(strstr(r->err, expected));
}

static void test_forbidden_syscall_kills_with_message(void **state)
{
    (void)state;
    struct child_result r;
    run_child(forbidden_openat, &r);
    char expected[96];
    snprintf(expected, sizeof(expected), "pvhboot: sandbox: forbidden system call openat (%d)\n", SYS_openat);
    assert_killed_naming(&r, expected);
}

static void test_executable_mapping_refused(void **state)
{
    (void)state;
    struct child_result r;
    run_child(exec_mapping, &r);
    assert_killed_naming(&r, "forbidden system call mmap");
}

static void test_unlisted_ioctl_refused(void **state)
{
    (void)state;
    struct child_result r;
    run_child(unknown_ioctl, &r);
    assert_killed_naming(&r, "forbidden system call ioctl");
}

static void test_tgkill_own_threads_allowed(void **state)
{
    (void)state;
    struct child_result r;
    run_child(tgkill_own_threads, &r);
    assert_true(WIFEXITED(r.status));
    assert_int_equal(WEXITSTATUS(r.status), 9);
}

/* tgkill on another process: the sandboxed process dies by SIGSYS naming
 * the call, and the other process lives on. */
static void test_tgkill_other_process_refused(void **state)
{
    (void)state;
    victim = fork();
    assert_true(victim >= 0);
    if (victim == 0) {
        for (;;)
            pause();
    }
    struct child_result r;
    run_child(tgkill_another_process, &r);
    char expected[96];
    snprintf(expected, sizeof(expected), "pvhboot: sandbox: forbidden system call tgkill (%d)\n", SYS_tgkill);
    assert_killed_naming(&r, expected);
    int status;
    assert_int_equal(waitpid(victim, &status, WNOHANG), 0); /* still running */
    kill(victim, SIGKILL);
    assert_int_equal(waitpid(victim, &status, 0), victim);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

static void drop_to_nobody(void)
{
    struct pvh_error err;
    uid_t uid;
    gid_t gid;
    if (pvh_user_lookup("65534:65534", &uid, &gid, &err) != 0)
        _exit(50);
    if (pvh_drop_privileges(uid, gid, &err) != 0) {
        dprintf(STDERR_FILENO, "%s\n", err.msg);
        _exit(51);
    }
    if (getuid() != 65534 || geteuid() != 65534 || getgid() != 65534)
        _exit(52);
    _exit(setuid(0) == 0 ? 53 : 8);
}

static void test_drop_privileges(void **state)
{
    (void)state;
    struct child_result r;
    run_child(drop_to_nobody, &r);
    assert_true(WIFEXITED(r.status));
    if (geteuid() == 0) {
        assert_int_equal(WEXITSTATUS(r.status), 8);
    } else {
        assert_int_equal(WEXITSTATUS(r.status), 51);
        assert_non_null(strstr(r.err, "not running as root"));
    }
}

static void test_user_lookup_errors(void **state)
{
    (void)state;
    struct pvh_error err;
    uid_t uid;
    gid_t gid;
    assert_int_equal(pvh_user_lookup("no-such-user-pvhboot", &uid, &gid, &err), -1);
    assert_string_equal(err.msg, "--user no-such-user-pvhboot: no such user");
    assert_int_equal(pvh_user_lookup("12x", &uid, &gid, &err), -1);
    assert_non_null(strstr(err.msg, "expected a user name or UID[:GID]"));
    assert_int_equal(pvh_user_lookup("1000:1001", &uid, &gid, &err), 0);
    assert_int_equal(uid, 1000);
    assert_int_equal(gid, 1001);
    assert_int_equal(pvh_user_lookup("root", &uid, &gid, &err), 0);
    assert_int_equal(uid, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_allowed_calls_survive),
        cmocka_unit_test(test_forbidden_syscall_kills_with_message),
        cmocka_unit_test(test_executable_mapping_refused),
        cmocka_unit_test(test_unlisted_ioctl_refused),
        cmocka_unit_test(test_tgkill_own_threads_allowed),
        cmocka_unit_test(test_tgkill_other_process_refused),
        cmocka_unit_test(test_drop_privileges),
        cmocka_unit_test(test_user_lookup_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
