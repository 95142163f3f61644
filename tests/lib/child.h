/* Sandbox tests' child runner (header only, cmocka): runs a function in a
 * forked child with its stderr captured, so that a seccomp filter it enters
 * (and the SIGSYS line a forbidden call prints) stays in the child. */
#ifndef PVHBOOT_TESTS_CHILD_H
#define PVHBOOT_TESTS_CHILD_H

#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

struct child_result {
    int status;     /* waitpid's */
    char err[512];  /* the child's stderr, NUL-terminated, cut at 511 bytes */
};

/* Runs fn(arg) in a child that exits 0 when fn returns. */
static inline void run_child_arg(void (*fn)(const char *), const char *arg, struct child_result *res)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], STDERR_FILENO);
        close(fds[0]);
        fn(arg);
        _exit(0);
    }
    close(fds[1]);
    memset(res->err, 0, sizeof(res->err));
    size_t got = 0;
    ssize_t n;
    while (got < sizeof(res->err) - 1 && (n = read(fds[0], res->err + got, sizeof(res->err) - 1 - got)) > 0)
        got += (size_t)n;
    close(fds[0]);
    assert_int_equal(waitpid(pid, &res->status, 0), pid);
}

static void (*child_void_fn)(void);
static inline void child_call_void(const char *arg)
{
    (void)arg;
    child_void_fn();
}

/* Runs fn() in a child (see run_child_arg). */
static inline void run_child(void (*fn)(void), struct child_result *res)
{
    child_void_fn = fn;
    run_child_arg(child_call_void, NULL, res);
}

#endif
