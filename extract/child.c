/* The sandboxed decoder: a vmlinuz payload is decompressed in a forked child,
 * never in the process that goes on to run the VM. The parent maps the
 * output (shared, anonymous, the trailer's size + 1) and a result pipe; the
 * child gives up what it can before it reads a byte of the payload — root
 * for the run's --user (when root and asked), core dumps, ptrace by its user,
 * CPU time beyond PVH_EXTRACT_CPU_SECONDS — then installs a seccomp filter that
 * allows only anonymous non-executable mmap, munmap, mremap, brk, madvise,
 * getrandom, write on the result pipe and exit_group. It decodes from the input mapped
 * before the fork into the shared output, writes one result record and
 * exits. The parent checks the output again (size, ELF gate); a forbidden
 * call (named: the child's SIGSYS handler reports it first), a crash or a
 * kill is one line. Under valgrind (RUNNING_ON_VALGRIND, which is 0 on real
 * hardware: no input or environment can turn it on) the filter is left out,
 * because valgrind makes its own system calls, executable mappings included,
 * inside the child; the rest of the confinement stays. */
#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define UNDER_VALGRIND() (RUNNING_ON_VALGRIND != 0)
#endif
#endif
#ifndef UNDER_VALGRIND
#define UNDER_VALGRIND() 0
#endif

#include "codec.h"
#include "pvhboot/sandbox.h"
#include "pvhboot/seccomp.h"

#define MAX_FILTER 32

enum result_kind { RESULT_NONE = 0, RESULT_DONE, RESULT_FAILED, RESULT_FORBIDDEN };

struct result {
    int32_t kind;
    int32_t syscall_nr;   /* RESULT_FORBIDDEN */
    uint64_t out_len;     /* RESULT_DONE */
    struct pvh_error err; /* RESULT_FAILED */
};

struct job {
    const uint8_t *payload;
    size_t len;
    const char *name;
    uint64_t offset;
    uint8_t *out;
    size_t out_cap;
    const struct pvh_extract_sandbox *sb;
};

/* The child's end of the result pipe, for its SIGSYS handler. */
static int result_fd = -1;

static const struct {
    int nr;
    const char *name;
} syscall_names[] = {
    {SYS_read, "read"}, {SYS_write, "write"}, {SYS_open, "open"}, {SYS_openat, "openat"},
    {SYS_close, "close"}, {SYS_mmap, "mmap"}, {SYS_mprotect, "mprotect"}, {SYS_ioctl, "ioctl"},
    {SYS_socket, "socket"}, {SYS_connect, "connect"}, {SYS_clone, "clone"}, {SYS_clone3, "clone3"},
    {SYS_fork, "fork"}, {SYS_execve, "execve"}, {SYS_kill, "kill"}, {SYS_tgkill, "tgkill"},
    {SYS_ptrace, "ptrace"}, {SYS_prctl, "prctl"}, {SYS_getpid, "getpid"}, {SYS_unlink, "unlink"},
    {SYS_rename, "rename"}, {SYS_mkdir, "mkdir"}, {SYS_setuid, "setuid"}, {SYS_rt_sigaction, "rt_sigaction"},
    {SYS_rt_sigprocmask, "rt_sigprocmask"}, {SYS_futex, "futex"}, {SYS_exit, "exit"},
    {SYS_readlink, "readlink"}, {SYS_sigaltstack, "sigaltstack"}, {SYS_gettid, "gettid"},
    {SYS_getrandom, "getrandom"},
};

static const char *syscall_name(int nr)
{
    for (size_t i = 0; i < sizeof(syscall_names) / sizeof(syscall_names[0]); i++)
        if (syscall_names[i].nr == nr)
            return syscall_names[i].name;
    return "?";
}

static int write_all(int fd, const void *p, size_t len)
{
    const char *c = p;
    while (len > 0) {
        ssize_t w = write(fd, c, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        c += w;
        len -= (size_t)w;
    }
    return 0;
}

/* exit_group(2) itself: _exit() may run a sanitizer runtime's exit hooks,
 * which make calls the filter forbids. */
static __attribute__((noreturn)) void exit_now(int status)
{
    for (;;)
        syscall(SYS_exit_group, status);
}

/* Async-signal-safe: reports the call, then dies by SIGSYS. SIGSYS is blocked
 * in here, so the next trapped call makes the kernel kill the process. */
static void on_sigsys(int sig, siginfo_t *info, void *ucontext)
{
    (void)sig;
    (void)ucontext;
    struct result r;
    memset(&r, 0, sizeof(r));
    r.kind = RESULT_FORBIDDEN;
    r.syscall_nr = info->si_syscall;
    (void)write_all(result_fd, &r, sizeof(r));
    syscall(SYS_getpid);
    exit_now(125);
}

static size_t build_filter(struct sock_filter *f, int fd)
{
    size_t n = pvh_bpf_prologue(f, 0);
    n = pvh_bpf_allow_arg_eq(f, n, SYS_write, 0, (uint32_t)fd);
    n = pvh_bpf_allow_anon_mmap(f, n);
    /* getrandom: glibc's malloc seeds its tcache key with it on first use */
    static const int plain[] = {SYS_munmap, SYS_mremap, SYS_brk, SYS_madvise, SYS_getrandom, SYS_exit_group};
    for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++)
        n = pvh_bpf_allow_if(f, n, (uint32_t)plain[i]);
    return pvh_bpf_return(f, n, SECCOMP_RET_TRAP);
}

/* Soft limit `soft`, hard limit `hard`, never above what is already set. */
static void lower_limit(int resource, rlim_t soft, rlim_t hard)
{
    struct rlimit rl;
    if (getrlimit(resource, &rl) != 0)
        return;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < hard)
        hard = rl.rlim_max;
    rl.rlim_cur = soft < hard ? soft : hard;
    rl.rlim_max = hard;
    (void)setrlimit(resource, &rl);
}

static unsigned cpu_seconds(const struct pvh_extract_sandbox *sb)
{
    return sb && sb->cpu_seconds ? sb->cpu_seconds : PVH_EXTRACT_CPU_SECONDS;
}

/* Everything the child gives up before it reads the payload. */
static int confine(const struct pvh_extract_sandbox *sb, int fd, struct pvh_error *err)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    lower_limit(RLIMIT_CORE, 0, 0);
    unsigned cpu = cpu_seconds(sb);
    lower_limit(RLIMIT_CPU, cpu, (rlim_t)cpu + 1); /* SIGXCPU first, then SIGKILL */
    if (sb && sb->drop_user && geteuid() == 0 && pvh_drop_privileges(sb->uid, sb->gid, err) != 0)
        return -1;
    if (prctl(PR_SET_DUMPABLE, 0) != 0)
        return pvh_fail(err, PVH_E_SYSTEM, "decompression sandbox: prctl(PR_SET_DUMPABLE): %s", strerror(errno));
    if ((sb && sb->no_filter) || UNDER_VALGRIND())
        return 0;
    struct sigaction sa = {.sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO | SA_RESETHAND};
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSYS, &sa, NULL) != 0)
        return pvh_fail(err, PVH_E_SYSTEM, "decompression sandbox: sigaction(SIGSYS): %s", strerror(errno));
    struct sock_filter filter[MAX_FILTER];
    size_t len = build_filter(filter, fd);
    return pvh_seccomp_install(filter, len, 0, "decompression sandbox", err);
}

static __attribute__((noreturn)) void child_main(const struct job *job, int fd)
{
    struct result r;
    memset(&r, 0, sizeof(r));
    result_fd = fd;
    r.kind = RESULT_FAILED;
    if (confine(job->sb, fd, &r.err) == 0) {
        if (job->sb && job->sb->child_hook)
            job->sb->child_hook();
        size_t len;
        if (extract_into(job->payload, job->len, job->name, job->offset, job->out, job->out_cap, &len, &r.err) == 0) {
            r.kind = RESULT_DONE;
            r.out_len = len;
        }
    }
    exit_now(write_all(fd, &r, sizeof(r)) == 0 ? 0 : 1);
}

/* Reads the child's record: sizeof(*r) bytes, or fewer when it died first. */
static size_t read_result(int fd, struct result *r)
{
    size_t got = 0;
    memset(r, 0, sizeof(*r));
    while (got < sizeof(*r)) {
        ssize_t n = read(fd, (char *)r + got, sizeof(*r) - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    return got;
}

static int wait_child(pid_t pid, int *status)
{
    while (waitpid(pid, status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return 0;
}

/* The one line for a child that gave no result. */
static int child_lost(const struct job *job, const struct result *r, bool complete, int status,
                      struct pvh_error *err)
{
    const char *fmt = pvh_compression_name(pvh_compression_detect(job->payload, job->len));
    const char *what = job->name;
    unsigned long long off = (unsigned long long)job->offset;
    if (complete && r->kind == RESULT_FORBIDDEN)
        return pvh_fail(err, PVH_E_INPUT, "%s: %s payload at offset %#llx: the decoder made a forbidden system "
                        "call, %s (%d), and the decompression sandbox killed it; nothing was extracted", what, fmt,
                        off, syscall_name(r->syscall_nr), r->syscall_nr);
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGXCPU)
        return pvh_fail(err, PVH_E_INPUT, "%s: %s payload at offset %#llx: the decoder used more than %u s of CPU "
                        "time and was stopped; nothing was extracted", what, fmt, off, cpu_seconds(job->sb));
    if (WIFSIGNALED(status))
        return pvh_fail(err, PVH_E_INPUT, "%s: %s payload at offset %#llx: the decoder was killed by signal %d "
                        "(%s)%s; nothing was extracted", what, fmt, off, WTERMSIG(status), strsignal(WTERMSIG(status)),
                        WTERMSIG(status) == SIGSYS ? " in the decompression sandbox" : "");
    return pvh_fail(err, PVH_E_SYSTEM, "%s: %s payload at offset %#llx: the decoder exited (status %d) without a "
                    "result; nothing was extracted", what, fmt, off, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

/* The child's error as one printable line: it may come from a decoder that
 * the payload took over. */
static void copy_child_error(const struct pvh_error *from, struct pvh_error *to)
{
    to->code = from->code == PVH_E_SYSTEM ? PVH_E_SYSTEM : PVH_E_INPUT;
    size_t i = 0;
    for (; i < sizeof(to->msg) - 1 && from->msg[i]; i++) {
        unsigned char c = (unsigned char)from->msg[i];
        to->msg[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    to->msg[i] = '\0';
}

static int run_child(const struct job *job, size_t *out_len, struct pvh_error *err)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return pvh_fail(err, PVH_E_SYSTEM, "%s: decompression sandbox: pipe: %s", job->name, strerror(errno));
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(fds[0]);
        close(fds[1]);
        return pvh_fail(err, PVH_E_SYSTEM, "%s: decompression sandbox: fork: %s", job->name, strerror(e));
    }
    if (pid == 0) {
        close(fds[0]);
        child_main(job, fds[1]);
    }
    close(fds[1]);
    struct result r;
    bool complete = read_result(fds[0], &r) == sizeof(r);
    close(fds[0]);
    int status = 0;
    if (wait_child(pid, &status) != 0)
        return pvh_fail(err, PVH_E_SYSTEM, "%s: decompression sandbox: waitpid: %s", job->name, strerror(errno));
    if (complete && r.kind == RESULT_FAILED) {
        copy_child_error(&r.err, err);
        return -1;
    }
    if (!complete || r.kind != RESULT_DONE || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return child_lost(job, &r, complete, status, err);
    *out_len = (size_t)r.out_len;
    return 0;
}

int extract_sandboxed(const uint8_t *payload, size_t len, const char *name, uint64_t file_offset,
                      size_t max_out, const struct pvh_extract_sandbox *sb, uint8_t **map, size_t *map_len,
                      size_t *out_len, struct pvh_error *err)
{
    size_t expected;
    *map = NULL;
    *map_len = 0;
    *out_len = 0;
    if (extract_expected_size(payload, len, name, file_offset, max_out, &expected, err) != 0)
        return -1;
    size_t cap = expected + 1;
    void *out = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (out == MAP_FAILED)
        return pvh_fail(err, PVH_E_SYSTEM, "%s: cannot map %zu bytes for the kernel: %s", name, cap, strerror(errno));
    struct job job = {payload, len, name, file_offset, out, cap, sb};
    size_t got = 0;
    if (run_child(&job, &got, err) != 0 || extract_verify(out, got, payload, len, name, file_offset, err) != 0) {
        munmap(out, cap);
        return -1;
    }
    *map = out;
    *map_len = cap;
    *out_len = got;
    return 0;
}

int pvh_vmlinuz_extract_sandboxed(const uint8_t *data, size_t size, const char *name, size_t max_out,
                                  const struct pvh_extract_sandbox *sb, uint8_t **out, size_t *out_len,
                                  struct pvh_error *err)
{
    struct pvh_vmlinuz_info info;
    uint8_t *map;
    size_t map_len, len;
    *out = NULL;
    *out_len = 0;
    if (pvh_vmlinuz_inspect(data, size, name, &info, err) != 0 ||
        extract_sandboxed(data + info.payload_offset, info.payload_length, name, info.payload_offset, max_out, sb,
                          &map, &map_len, &len, err) != 0)
        return -1;
    uint8_t *copy = malloc(len);
    if (copy)
        memcpy(copy, map, len);
    munmap(map, map_len);
    if (!copy)
        return pvh_fail(err, PVH_E_SYSTEM, "%s: cannot allocate %zu bytes for the kernel", name, len);
    *out = copy;
    *out_len = len;
    return 0;
}
