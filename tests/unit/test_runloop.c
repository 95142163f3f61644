/* The run loop (vmm/run.c: pvh_vm_start_and_wait, the real code) against a
 * fake KVM, for the races of issue 19. This binary defines ioctl(): KVM_RUN,
 * KVM_GET_REGS and KVM_GET_SREGS on the fake vCPU fds are answered here,
 * everything else goes to the kernel. The fake KVM_RUN behaves as KVM's:
 * EINTR at once when kvm_run.immediate_exit is set, EINTR when a signal
 * arrives while it "runs the guest" (a ppoll with the thread's signal mask,
 * so no signal is lost between the check and the wait), else an exit: port
 * I/O to the unclaimed port 0x80, a triple fault (KVM_EXIT_SHUTDOWN), or
 * never (an AP waiting for a SIPI that does not come). It also defines
 * pthread_create, pthread_kill and pthread_join, forwarded to the real ones
 * with short random delays that widen the race windows, and a record of the
 * threads already joined: a pthread_kill on one of those (a freed thread
 * descriptor: the crash of issue 19 #1) is counted and refused.
 *
 * Each run is a forked child (the sandbox is on, as by default, and it is
 * for the whole process) that reports back through a pipe; the parent kills
 * it after CHILD_DEADLINE_S (a hang: issue 19 #2). Checked in every run: the
 * VM ends as the scenario says, no kick reached a joined thread, and each
 * vCPU's first KVM_RUN ran under the seccomp filter (issue 19 #3: probed
 * with prctl(PR_GET_SECCOMP), which the filter traps, with our own SIGSYS
 * handler in place for that one call). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../vmm/vm.h"

#define FAKE_FD_BASE 100000 /* fake vCPU fds: never real ones */
#define FAKE_RUN_SIZE 8192
#define IO_DATA_OFFSET 4096
#define FAULT_RIP 0x1234abcdu
#define IO_PORT 0x80
#define CHILD_DEADLINE_S 30
#define RACE_RUNS 12

enum role { ROLE_IO, ROLE_FAULT, ROLE_AP };

struct scenario {
    const char *name;
    unsigned ncpus;
    unsigned faulter;             /* this vCPU triple-faults (ncpus: none) */
    enum role others;             /* what every other vCPU does */
    bool bsp_io;                  /* but vCPU 0 does port I/O */
    unsigned fault_max_us;        /* the fault comes 0..this after the faulter's first KVM_RUN */
    unsigned kick_delay_max_us;   /* before each pthread_kill */
    unsigned create_delay_max_us; /* after each pthread_create */
    bool console_quit;            /* Ctrl-A x on stdin, by vCPU 0 after quit_after_runs runs */
    unsigned quit_after_runs;
    unsigned timeout_s;
    enum pvh_vm_end want_end;
    int want_status;
    const char *want_msg;         /* start of end_err.msg for PVH_END_ERROR */
};

struct child_report {
    int rc;
    enum pvh_vm_end end;
    int status;
    char msg[sizeof(((struct pvh_error *)0)->msg)];
    unsigned kills_after_join;
    unsigned unfiltered_first_runs;
    unsigned vcpus_ran;
    double seconds;
};

struct fake_vcpu {
    enum role role;
    bool ran;
    uint64_t fault_at_ns;
    unsigned runs;
    struct kvm_run *run;
};

static struct scenario sc;              /* the child's scenario (set before fork) */
static struct fake_vcpu fake[PVH_MAX_CPUS];
static int quit_pipe_write = -1;
static atomic_uint kills_after_join, unfiltered_first_runs, vcpus_ran;

/* ---- the real pthread functions, and our stand-ins ---- */

typedef int (*create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
static create_fn real_create;
static int (*real_kill)(pthread_t, int);
static int (*real_join)(pthread_t, void **);

__attribute__((constructor)) static void find_real_functions(void)
{
    real_create = (create_fn)dlsym(RTLD_NEXT, "pthread_create");
    real_kill = (int (*)(pthread_t, int))dlsym(RTLD_NEXT, "pthread_kill");
    real_join = (int (*)(pthread_t, void **))dlsym(RTLD_NEXT, "pthread_join");
}

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* splitmix64 per thread: no system call, no lock */
static _Thread_local uint64_t rng_state;
static atomic_uint_fast64_t rng_seed = 0x9e3779b97f4a7c15ull;

static unsigned random_below(unsigned n)
{
    if (!rng_state)
        rng_state = atomic_fetch_add(&rng_seed, 0x9e3779b97f4a7c15ull) ^ now_ns();
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return n ? (unsigned)(z % n) : 0;
}

static void sleep_us(unsigned us)
{
    struct timespec t = {.tv_sec = us / 1000000, .tv_nsec = (long)(us % 1000000) * 1000};
    while (nanosleep(&t, &t) != 0 && errno == EINTR) {
    }
}

#define MAX_JOINED 512
static pthread_t joined[MAX_JOINED];
static atomic_uint njoined;

static bool was_joined(pthread_t t)
{
    unsigned n = atomic_load(&njoined);
    for (unsigned i = 0; i < n && i < MAX_JOINED; i++)
        if (pthread_equal(joined[i], t))
            return true;
    return false;
}

int pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
    int rc = real_create(t, attr, fn, arg);
    if (rc == 0 && sc.create_delay_max_us)
        sleep_us(random_below(sc.create_delay_max_us + 1));
    return rc;
}

int pthread_kill(pthread_t t, int sig)
{
    if (sc.kick_delay_max_us)
        sleep_us(random_below(sc.kick_delay_max_us + 1));
    if (was_joined(t)) {
        atomic_fetch_add(&kills_after_join, 1);
        return ESRCH;
    }
    return real_kill(t, sig);
}

int pthread_join(pthread_t t, void **ret)
{
    int rc = real_join(t, ret);
    if (rc == 0) {
        unsigned i = atomic_fetch_add(&njoined, 1);
        if (i < MAX_JOINED)
            joined[i] = t;
    }
    return rc;
}

/* ---- the fake KVM ---- */

static _Thread_local volatile sig_atomic_t probe_trapped;
static pthread_mutex_t probe_lock = PTHREAD_MUTEX_INITIALIZER;

static void on_probe_sigsys(int sig)
{
    (void)sig;
    probe_trapped = 1;
}

/* Is this thread under a seccomp filter? PR_GET_SECCOMP answers 0 outside
 * one; under pvhboot's filter prctl is trapped (SIGSYS, caught here). */
static bool seccomp_filter_on(void)
{
    pthread_mutex_lock(&probe_lock);
    struct sigaction sa = {.sa_handler = on_probe_sigsys}, old;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSYS, &sa, &old);
    probe_trapped = 0;
    long mode = syscall(SYS_prctl, PR_GET_SECCOMP, 0, 0, 0, 0);
    bool on = probe_trapped || mode == 2;
    sigaction(SIGSYS, &old, NULL);
    pthread_mutex_unlock(&probe_lock);
    return on;
}

static void first_run(struct fake_vcpu *f)
{
    f->ran = true;
    atomic_fetch_add(&vcpus_ran, 1);
    if (!seccomp_filter_on())
        atomic_fetch_add(&unfiltered_first_runs, 1);
    if (f->role == ROLE_FAULT)
        f->fault_at_ns = now_ns() + (uint64_t)random_below(sc.fault_max_us + 1) * 1000;
}

/* "Runs the guest" for wait (NULL: until a signal) with the signals the
 * thread takes blocked until the wait itself; false when interrupted. */
static bool guest_time(struct fake_vcpu *f, const struct timespec *wait)
{
    sigset_t all, orig;
    sigfillset(&all);
    int sync_signals[] = {SIGSYS, SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGABRT};
    for (size_t i = 0; i < sizeof(sync_signals) / sizeof(sync_signals[0]); i++)
        sigdelset(&all, sync_signals[i]);
    pthread_sigmask(SIG_BLOCK, &all, &orig);
    bool ran = !*(volatile __u8 *)&f->run->immediate_exit && ppoll(NULL, 0, wait, &orig) == 0;
    pthread_sigmask(SIG_SETMASK, &orig, NULL);
    return ran;
}

static void io_exit(struct kvm_run *run)
{
    run->exit_reason = KVM_EXIT_IO;
    run->io.direction = KVM_EXIT_IO_OUT;
    run->io.size = 1;
    run->io.port = IO_PORT;
    run->io.count = 1;
    run->io.data_offset = IO_DATA_OFFSET;
    ((uint8_t *)run)[IO_DATA_OFFSET] = 0x55;
}

static int fake_kvm_run(struct fake_vcpu *f)
{
    if (!f->ran)
        first_run(f);
    f->runs++;
    struct timespec wait = {0, (long)random_below(20) * 1000}; /* 0-20 us of guest time */
    if (!guest_time(f, f->role == ROLE_AP ? NULL : &wait)) {
        errno = EINTR;
        return -1;
    }
    if (f->role == ROLE_FAULT && now_ns() >= f->fault_at_ns) {
        f->run->exit_reason = KVM_EXIT_SHUTDOWN;
        return 0;
    }
    if (sc.console_quit && f == &fake[0] && f->runs == sc.quit_after_runs &&
        write(quit_pipe_write, "\001x", 2) != 2)
        abort();
    io_exit(f->run);
    return 0;
}

static int fake_vcpu_ioctl(struct fake_vcpu *f, unsigned long request, void *arg)
{
    switch (request) {
    case KVM_RUN:
        return fake_kvm_run(f);
    case KVM_GET_REGS:
        memset(arg, 0, sizeof(struct kvm_regs));
        ((struct kvm_regs *)arg)->rip = FAULT_RIP;
        return 0;
    case KVM_GET_SREGS:
        memset(arg, 0, sizeof(struct kvm_sregs));
        return 0;
    default:
        errno = ENOTTY;
        return -1;
    }
}

int ioctl(int fd, unsigned long request, ...)
{
    va_list ap;
    va_start(ap, request);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    if (fd >= FAKE_FD_BASE && fd < FAKE_FD_BASE + PVH_MAX_CPUS)
        return fake_vcpu_ioctl(&fake[fd - FAKE_FD_BASE], request, arg);
    return (int)syscall(SYS_ioctl, fd, request, arg);
}

/* ---- one VM in a child ---- */

static void no_irq(void *ctx, unsigned irq, int level)
{
    (void)ctx, (void)irq, (void)level;
}

static void no_output(void *ctx, const uint8_t *buf, size_t len)
{
    (void)ctx, (void)buf, (void)len;
}

static void setup_console(void)
{
    int p[2];
    if (pipe(p) != 0 || dup2(p[0], STDIN_FILENO) < 0)
        abort();
    close(p[0]);
    quit_pipe_write = p[1];
}

static void run_vm_in_child(int report_fd)
{
    struct pvh_vm_config cfg = {.ncpus = sc.ncpus, .sandbox = true, .timeout_s = sc.timeout_s,
                                .serial = sc.console_quit ? PVH_SERIAL_STDIO : PVH_SERIAL_NONE};
    struct pvh_vm *vm = calloc(1, sizeof(*vm));
    if (!vm)
        abort();
    if (sc.console_quit)
        setup_console();
    pvh_vm_init(vm, &cfg);
    for (unsigned i = 0; i < sc.ncpus; i++) {
        fake[i] = (struct fake_vcpu){.role = i == sc.faulter           ? ROLE_FAULT
                                             : i == 0 && sc.bsp_io ? ROLE_IO
                                                                   : sc.others,
                                     .run = aligned_alloc(4096, FAKE_RUN_SIZE)};
        if (!fake[i].run)
            abort();
        memset(fake[i].run, 0, FAKE_RUN_SIZE);
        vm->vcpu[i].fd = FAKE_FD_BASE + (int)i;
        vm->vcpu[i].run = fake[i].run;
        vm->vcpu[i].run_size = FAKE_RUN_SIZE;
    }
    vm->hooks = (struct pvh_io_hooks){vm, no_irq, pvh_vm_end, no_output, NULL};
    pvh_devices_init(&vm->dev, &vm->hooks);
    struct pvh_error err = {0};
    uint64_t t0 = now_ns();
    struct child_report r = {.rc = pvh_vm_start_and_wait(vm, &err)};
    r.seconds = (double)(now_ns() - t0) / 1e9;
    r.end = vm->result.end;
    r.status = vm->result.status;
    snprintf(r.msg, sizeof(r.msg), "%s", r.rc ? err.msg : vm->end_err.msg);
    r.kills_after_join = atomic_load(&kills_after_join);
    r.unfiltered_first_runs = atomic_load(&unfiltered_first_runs);
    r.vcpus_ran = atomic_load(&vcpus_ran);
    if (write(report_fd, &r, sizeof(r)) != (ssize_t)sizeof(r))
        _exit(3);
    _exit(0); /* no atexit work: the sandbox is on */
}

/* Runs the scenario in a child; false (with why) on a hang or a crash. */
static bool run_scenario(const struct scenario *s, struct child_report *r, char *why, size_t cap)
{
    sc = *s;
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        run_vm_in_child(p[1]);
    }
    close(p[1]);
    struct pollfd pf = {.fd = p[0], .events = POLLIN};
    int ready = poll(&pf, 1, CHILD_DEADLINE_S * 1000);
    ssize_t n = ready > 0 ? read(p[0], r, sizeof(*r)) : -1;
    close(p[0]);
    if (ready <= 0)
        kill(pid, SIGKILL);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (ready <= 0)
        snprintf(why, cap, "%s: hung, killed after %d s", s->name, CHILD_DEADLINE_S);
    else if (WIFSIGNALED(status))
        snprintf(why, cap, "%s: the VMM died by signal %d", s->name, WTERMSIG(status));
    else if (n != (ssize_t)sizeof(*r))
        snprintf(why, cap, "%s: no report (exit status %d)", s->name, WEXITSTATUS(status));
    else
        return true;
    return false;
}

static void check_scenario(const struct scenario *s)
{
    struct child_report r;
    char why[256];
    if (!run_scenario(s, &r, why, sizeof(why)))
        fail_msg("%s", why);
    if (r.kills_after_join)
        fail_msg("%s: %u pthread_kill calls on threads already joined (freed descriptors)", s->name,
                 r.kills_after_join);
    if (r.unfiltered_first_runs)
        fail_msg("%s: %u of %u vCPUs entered KVM_RUN before the seccomp filter was on", s->name,
                 r.unfiltered_first_runs, r.vcpus_ran);
    if (r.rc != 0 || r.end != s->want_end || r.status != s->want_status)
        fail_msg("%s: rc %d, end %d status %d (%s); wanted end %d status %d", s->name, r.rc, r.end, r.status,
                 r.msg, s->want_end, s->want_status);
    if (s->want_msg && strncmp(r.msg, s->want_msg, strlen(s->want_msg)) != 0)
        fail_msg("%s: message '%s', wanted '%s...'", s->name, r.msg, s->want_msg);
    if (r.seconds > (s->timeout_s ? s->timeout_s + 5.0 : 10.0))
        fail_msg("%s: the VM took %.1f s to end", s->name, r.seconds);
}

/* Issue 19 #1: vCPU 254 triple-faults after 0-3 ms while the other 254 do
 * port I/O; the end used to kick every vCPU from the faulting thread while
 * main joined the threads that had already seen the end. */
static void triple_fault_while_others_do_io(void **state)
{
    (void)state;
    char msg[80];
    snprintf(msg, sizeof(msg), "vCPU 254: the guest triple-faulted (shutdown) at rip %#x", FAULT_RIP);
    struct scenario s = {.name = "triple fault of vCPU 254, 254 vCPUs doing port I/O", .ncpus = 255,
                         .faulter = 254, .others = ROLE_IO, .fault_max_us = 3000, .kick_delay_max_us = 100,
                         .want_end = PVH_END_ERROR, .want_status = 1, .want_msg = msg};
    for (int i = 0; i < RACE_RUNS; i++)
        check_scenario(&s);
}

/* The same end from the console thread: Ctrl-A x while 64 vCPUs do port I/O. */
static void console_quit_while_vcpus_do_io(void **state)
{
    (void)state;
    struct scenario s = {.name = "Ctrl-A x, 64 vCPUs doing port I/O", .ncpus = 64, .faulter = 64,
                         .others = ROLE_IO, .kick_delay_max_us = 100, .console_quit = true,
                         .quit_after_runs = 20, .want_end = PVH_END_RESET, .want_status = 0};
    for (int i = 0; i < RACE_RUNS; i++)
        check_scenario(&s);
}

/* Issue 19 #2: vCPU 0 triple-faults while main is still creating threads;
 * the 254 APs sit in KVM_RUN waiting for a SIPI from their first call. A
 * thread already in KVM_RUN but not yet marked started was never kicked,
 * and main waited in pthread_join for ever. */
static void end_while_aps_wait_for_sipi(void **state)
{
    (void)state;
    char msg[80];
    snprintf(msg, sizeof(msg), "vCPU 0: the guest triple-faulted (shutdown) at rip %#x", FAULT_RIP);
    struct scenario s = {.name = "triple fault of vCPU 0, 254 APs waiting for SIPI", .ncpus = 255, .faulter = 0,
                         .others = ROLE_AP, .fault_max_us = 20000, .create_delay_max_us = 1000,
                         .want_end = PVH_END_ERROR, .want_status = 1, .want_msg = msg};
    for (int i = 0; i < RACE_RUNS / 3; i++)
        check_scenario(&s);
}

/* --timeout with APs never started: vCPU 0 does port I/O for ever. */
static void timeout_with_aps_never_started(void **state)
{
    (void)state;
    struct scenario s = {.name = "--timeout 1, vCPU 0 busy, 254 APs waiting", .ncpus = 255, .faulter = 255,
                         .others = ROLE_AP, .bsp_io = true, .timeout_s = 1, .want_end = PVH_END_TIMEOUT,
                         .want_status = 124};
    check_scenario(&s);
}

/* Issue 19 #3, alone: 8 vCPUs, all of whose first KVM_RUN must come after the
 * filter; vCPU 7 ends the VM. */
static void no_kvm_run_before_the_sandbox(void **state)
{
    (void)state;
    struct scenario s = {.name = "8 vCPUs, sandbox on", .ncpus = 8, .faulter = 7, .others = ROLE_IO,
                         .fault_max_us = 1000, .want_end = PVH_END_ERROR, .want_status = 1,
                         .want_msg = "vCPU 7: the guest triple-faulted"};
    check_scenario(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(no_kvm_run_before_the_sandbox),
        cmocka_unit_test(triple_fault_while_others_do_io),
        cmocka_unit_test(console_quit_while_vcpus_do_io),
        cmocka_unit_test(end_while_aps_wait_for_sipi),
        cmocka_unit_test(timeout_with_aps_never_started),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
