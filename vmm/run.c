/* Running the VM: one thread per vCPU in a KVM_RUN loop dispatching exits
 * to the devices, the console input thread, the end of the VM, the timeout,
 * and the sandbox. The threads are created first and wait at a gate; main
 * enters the sandbox (the seccomp filter goes onto every thread at once) and
 * only then lets them run, so no guest code runs and no exit is handled
 * outside the sandbox. Whoever ends the VM (a vCPU, the console, the
 * timeout) only records the end and wakes main; main kicks the vCPUs out
 * of KVM_RUN, again and again until each thread is done, and main alone
 * joins them: a kick never reaches a thread that is not there any more.
 * The gdb stub (gdb.c) also kicks, to stop the vCPUs: through the same
 * code under the same lock, so only threads not yet done. With --gdb a
 * vCPU parks at the top of its loop while the stub holds it. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "exit.h"
#include "snapshot.h"
#include "virtio/console.h"
#include "pvhboot/sandbox.h"
#include "vm.h"

#define KICK_SIGNAL SIGUSR1
#define KICK_INTERVAL_NS 5000000 /* main kicks the vCPUs still running this often */
#define ESCAPE_PREFIX 0x01 /* Ctrl-A, then 'x' quits */
#define SNAPSHOT_SIGNAL SIGUSR2
#define SNAPSHOT_POLL_NS 20000000 /* main looks for SIGUSR2's request this often */

/* SIGUSR2 (with --snapshot-file): asks main for a snapshot. */
static atomic_bool snapshot_signalled;

static void on_snapshot_signal(int sig)
{
    (void)sig;
    atomic_store(&snapshot_signalled, true);
}

void pvh_vm_init(struct pvh_vm *vm, const struct pvh_vm_config *cfg)
{
    memset(vm, 0, offsetof(struct pvh_vm, vcpu)); /* the vCPUs the VM has are set below */
    vm->cfg = cfg;
    vm->kvm_fd = vm->vm_fd = vm->serial_fd = vm->snap_state_fd = vm->snap_mem_fd = -1;
    vm->ncpus = cfg->ncpus;
    for (unsigned i = 0; i < vm->ncpus; i++)
        vm->vcpu[i] = (struct pvh_vcpu){.vm = vm, .id = i, .fd = -1};
    pthread_mutex_init(&vm->end_lock, NULL);
    pthread_mutex_init(&vm->input_lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* the deadlines below are on this clock */
    pthread_cond_init(&vm->end_cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&vm->go_cond, NULL);
}

void pvh_vm_fini(struct pvh_vm *vm)
{
    pthread_mutex_destroy(&vm->end_lock);
    pthread_mutex_destroy(&vm->input_lock);
    pthread_cond_destroy(&vm->end_cond);
    pthread_cond_destroy(&vm->go_cond);
}

static void on_kick(int sig)
{
    (void)sig;
}

static bool claim_end(struct pvh_vm *vm, enum pvh_vm_end end, int status)
{
    pthread_mutex_lock(&vm->end_lock);
    bool first = !atomic_load(&vm->ending);
    if (first) {
        vm->result.end = end;
        vm->result.status = status;
        vm->t_end_ns = pvh_now_ns();
        atomic_store(&vm->ending, true);
        pthread_cond_broadcast(&vm->end_cond);
    }
    pthread_mutex_unlock(&vm->end_lock);
    return first; /* main, woken, kicks the vCPUs: nobody else does */
}

void pvh_vm_end(void *ctx, enum pvh_vm_end end, int status)
{
    claim_end(ctx, end, status);
}

__attribute__((format(printf, 2, 3))) static void fail_vm(struct pvh_vm *vm, const char *fmt, ...)
{
    char msg[sizeof(vm->end_err.msg)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&vm->end_lock);
    bool first = !atomic_load(&vm->ending);
    if (first) {
        vm->end_err.code = PVH_E_GUEST;
        memcpy(vm->end_err.msg, msg, sizeof(msg));
    }
    pthread_mutex_unlock(&vm->end_lock);
    if (first)
        claim_end(vm, PVH_END_ERROR, 1);
}

static void handle_io(struct pvh_vcpu *v)
{
    struct pvh_error err;
    if (pvh_exit_io(&v->vm->dev, v->run, v->run_size, &err))
        fail_vm(v->vm, "vCPU %u: %s", v->id, err.msg);
}

static void handle_mmio(struct pvh_vcpu *v)
{
    pvh_exit_mmio(&v->vm->dev, v->run);
}

static uint64_t guest_rip(struct pvh_vcpu *v)
{
    struct kvm_regs regs;
    return ioctl(v->fd, KVM_GET_REGS, &regs) == 0 ? regs.rip : 0;
}

/* "at rip X", or why the rip is not known: after a triple fault AMD's KVM
 * reinitialises the vCPU, which then sits at the reset vector (CS base
 * 0xffff0000, rip 0xfff0), not where the guest faulted. */
static void describe_rip(struct pvh_vcpu *v, char *buf, size_t cap)
{
    struct kvm_sregs sregs;
    uint64_t rip = guest_rip(v);
    if (rip == 0xfff0 && ioctl(v->fd, KVM_GET_SREGS, &sregs) == 0 && sregs.cs.base == 0xffff0000)
        snprintf(buf, cap, "(KVM reset the vCPU: the faulting rip is lost)");
    else
        snprintf(buf, cap, "at rip %#llx", (unsigned long long)rip);
}

static const char *internal_error_name(uint32_t suberror)
{
    switch (suberror) {
    case KVM_INTERNAL_ERROR_EMULATION:
        return "instruction emulation failed: code outside RAM, or an instruction KVM cannot emulate";
    case KVM_INTERNAL_ERROR_SIMUL_EX:
        return "an exception while delivering an exception";
    case KVM_INTERNAL_ERROR_DELIVERY_EV:
        return "an event could not be delivered";
    default:
        return "see the KVM documentation";
    }
}

static void handle_system_event(struct pvh_vcpu *v)
{
    switch (v->run->system_event.type) {
    case KVM_SYSTEM_EVENT_SHUTDOWN:
        claim_end(v->vm, PVH_END_POWEROFF, 0);
        break;
    case KVM_SYSTEM_EVENT_RESET:
        claim_end(v->vm, PVH_END_RESET, 0);
        break;
    default:
        fail_vm(v->vm, "vCPU %u: the guest reported a crash (KVM system event %u)", v->id, v->run->system_event.type);
    }
}

/* One exit; the VM's end (if any) is recorded through claim_end/fail_vm. */
static void handle_exit(struct pvh_vcpu *v)
{
    struct pvh_vm *vm = v->vm;
    struct kvm_run *run = v->run;
    char where[80];
    switch (run->exit_reason) {
    case KVM_EXIT_IO:
        vm->exits[PVH_EXIT_IO]++;
        handle_io(v);
        break;
    case KVM_EXIT_MMIO:
        vm->exits[PVH_EXIT_MMIO]++;
        handle_mmio(v);
        break;
    case KVM_EXIT_INTR:
        vm->exits[PVH_EXIT_INTR]++;
        break;
    case KVM_EXIT_HLT:
        vm->exits[PVH_EXIT_HLT]++;
        fail_vm(vm, "vCPU %u halted with interrupts off at rip %#llx", v->id, (unsigned long long)guest_rip(v));
        break;
    case KVM_EXIT_SHUTDOWN:
        vm->exits[PVH_EXIT_SHUTDOWN]++;
        describe_rip(v, where, sizeof(where));
        fail_vm(vm, "vCPU %u: the guest triple-faulted (shutdown) %s", v->id, where);
        break;
    case KVM_EXIT_SYSTEM_EVENT:
        vm->exits[PVH_EXIT_SYSTEM_EVENT]++;
        handle_system_event(v);
        break;
    case KVM_EXIT_DEBUG: /* only with --gdb: KVM debugs the guest only when the stub asks */
        vm->exits[PVH_EXIT_OTHER]++;
        if (vm->gdb)
            pvh_gdb_debug_exit(v);
        else
            fail_vm(vm, "vCPU %u: unexpected KVM debug exit", v->id);
        break;
    case KVM_EXIT_FAIL_ENTRY:
        vm->exits[PVH_EXIT_OTHER]++;
        fail_vm(vm, "vCPU %u: KVM could not enter the guest (hardware reason %#llx)", v->id,
                (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
        break;
    case KVM_EXIT_INTERNAL_ERROR:
        vm->exits[PVH_EXIT_OTHER]++;
        fail_vm(vm, "vCPU %u: KVM internal error %u (%s) at rip %#llx", v->id, run->internal.suberror,
                internal_error_name(run->internal.suberror), (unsigned long long)guest_rip(v));
        break;
    default:
        vm->exits[PVH_EXIT_OTHER]++;
        fail_vm(vm, "vCPU %u: unexpected KVM exit reason %u", v->id, run->exit_reason);
    }
}

/* KVM_RUN failed. EFAULT: KVM could not fault in a guest page, which for
 * guest RAM mapped from a file (--load map) means the file shrank: name it. */
static void fail_run(struct pvh_vcpu *v, int e)
{
    struct pvh_error lost;
    if (e == EFAULT && pvh_guestmem_check_files(&v->vm->mem, &lost) != 0)
        fail_vm(v->vm, "vCPU %u: %s", v->id, lost.msg);
    else
        fail_vm(v->vm, "vCPU %u: KVM_RUN: %s", v->id, strerror(e));
}

/* Every thread waits here until main has entered the sandbox (or given up:
 * then `ending` is already set and the loops below never start). */
static void wait_for_go(struct pvh_vm *vm)
{
    pthread_mutex_lock(&vm->end_lock);
    while (!vm->go)
        pthread_cond_wait(&vm->go_cond, &vm->end_lock);
    pthread_mutex_unlock(&vm->end_lock);
}

static void let_threads_go(struct pvh_vm *vm)
{
    pthread_mutex_lock(&vm->end_lock);
    vm->go = true;
    pthread_cond_broadcast(&vm->go_cond);
    pthread_mutex_unlock(&vm->end_lock);
}

/* PATCH /vm Paused: this vCPU waits outside KVM_RUN until resumed or the end. */
static void park_paused(struct pvh_vcpu *v)
{
    struct pvh_vm *vm = v->vm;
    pthread_mutex_lock(&vm->end_lock);
    v->parked = true;
    pthread_cond_broadcast(&vm->end_cond); /* the pauser counts parked vCPUs */
    while (atomic_load(&vm->paused) && !atomic_load(&vm->ending))
        pthread_cond_wait(&vm->end_cond, &vm->end_lock);
    v->parked = false;
    pthread_mutex_unlock(&vm->end_lock);
}

/* Before parking: the I/O or MMIO access of the last exit completes (KVM
 * finishes it, the rip moves past it, on the next KVM_RUN, which
 * immediate_exit makes return before any guest instruction), so the state
 * a snapshot reads is consistent. */
static void complete_pending_io(struct pvh_vcpu *v)
{
    v->run->immediate_exit = 1;
    (void)ioctl(v->fd, KVM_RUN, 0); /* EINTR */
    v->run->immediate_exit = 0;
}

static void run_vcpu(struct pvh_vcpu *v)
{
    struct pvh_vm *vm = v->vm;
    while (!atomic_load(&vm->ending)) {
        if (atomic_load(&vm->paused)) {
            complete_pending_io(v);
            park_paused(v);
            continue;
        }
        if (vm->gdb && pvh_gdb_must_park(vm->gdb, v->id)) {
            pvh_gdb_park(vm->gdb, v->id);
            continue;
        }
        if (v->id == 0 && !vm->t_first_run_ns)
            vm->t_first_run_ns = pvh_now_ns();
        if (ioctl(v->fd, KVM_RUN, 0) != 0) {
            if (errno == EINTR || errno == EAGAIN) {
                v->run->immediate_exit = 0;
                continue;
            }
            fail_run(v, errno);
            break;
        }
        handle_exit(v);
    }
}

static void *vcpu_thread(void *arg)
{
    struct pvh_vcpu *v = arg;
    struct pvh_vm *vm = v->vm;
    sigset_t unblock;
    sigemptyset(&unblock);
    sigaddset(&unblock, KICK_SIGNAL);
    pthread_sigmask(SIG_UNBLOCK, &unblock, NULL);
    wait_for_go(vm);
    run_vcpu(v);
    pthread_mutex_lock(&vm->end_lock);
    v->done = true; /* main stops kicking this one and may join it */
    pthread_cond_broadcast(&vm->end_cond);
    pthread_mutex_unlock(&vm->end_lock);
    return NULL;
}

/* Console input: stdin bytes go to the UART's receive FIFO (waiting while it
 * is full); Ctrl-A x ends the VM (status 0). */
struct input_state {
    struct pvh_vm *vm;
    bool saw_prefix;
};

/* Input waits while the VM is paused: a snapshot's devices change no more
 * once pvh_vm_set_paused has returned (it takes input_lock after setting
 * paused, so a feed under way has ended and the next sees paused). */
static void feed_console(struct pvh_vm *vm, const uint8_t *buf, size_t n)
{
    while (n > 0 && !atomic_load(&vm->ending)) {
        pthread_mutex_lock(&vm->input_lock);
        size_t took = atomic_load(&vm->paused) ? 0
                      : vm->vconsole          ? pvh_vconsole_receive(vm->vconsole, buf, n)
                                              : pvh_uart_receive(&vm->dev.uart, buf, n);
        pthread_mutex_unlock(&vm->input_lock);
        buf += took;
        n -= took;
        if (n)
            usleep(1000);
    }
}

static void *input_thread(void *arg)
{
    struct input_state *in = arg;
    struct pvh_vm *vm = in->vm;
    uint8_t buf[64];
    wait_for_go(vm);
    while (!atomic_load(&vm->ending)) {
        struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
        if (n <= 0)
            break; /* end of input: the guest keeps running */
        for (ssize_t i = 0; i < n; i++) {
            if (in->saw_prefix && (buf[i] == 'x' || buf[i] == 'X')) {
                claim_end(vm, PVH_END_RESET, 0);
                return NULL;
            }
            in->saw_prefix = buf[i] == ESCAPE_PREFIX && !in->saw_prefix;
            if (!in->saw_prefix)
                feed_console(vm, &buf[i], 1);
        }
    }
    return NULL;
}

static int start_threads(struct pvh_vm *vm, pthread_t *input, bool *has_input, struct input_state *in,
                         struct pvh_error *err)
{
    struct sigaction sa = {.sa_handler = on_kick};
    sigemptyset(&sa.sa_mask);
    sigaction(KICK_SIGNAL, &sa, NULL);
    /* a console whose reader left must not kill us: its writes fail with EPIPE */
    struct sigaction ignore = {.sa_handler = SIG_IGN};
    sigemptyset(&ignore.sa_mask);
    sigaction(SIGPIPE, &ignore, NULL);
    if (vm->cfg->snapshot_file) {
        struct sigaction snap = {.sa_handler = on_snapshot_signal};
        sigemptyset(&snap.sa_mask);
        sigaction(SNAPSHOT_SIGNAL, &snap, NULL);
    }
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, KICK_SIGNAL);
    pthread_sigmask(SIG_BLOCK, &block, &old); /* only vCPU threads take kicks */
    for (unsigned i = 0; i < vm->ncpus; i++) {
        int rc = pthread_create(&vm->vcpu[i].thread, NULL, vcpu_thread, &vm->vcpu[i]);
        if (rc != 0) {
            pthread_sigmask(SIG_SETMASK, &old, NULL);
            return pvh_fail(err, PVH_E_SYSTEM, "cannot start the thread of vCPU %u: %s", i, strerror(rc));
        }
        vm->vcpu[i].started = true; /* before it can run: it waits for main's go */
    }
    /* stdin feeds COM1 whatever it is (a terminal, a pipe); /dev/null ends at once */
    *has_input = vm->cfg->serial == PVH_SERIAL_STDIO && pthread_create(input, NULL, input_thread, in) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return 0;
}

static bool before(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* Main, not holding end_lock: every vCPU parked, the files written; then
 * the VM ends (PVH_END_SNAPSHOT) or, with --snapshot-continue, goes on. */
static void take_snapshot(struct pvh_vm *vm)
{
    struct pvh_error err;
    if (!atomic_load(&vm->snap_requested)) /* SIGUSR2 (the port's request has its time) */
        vm->t_snap_asked_ns = pvh_now_ns();
    atomic_store(&vm->snap_requested, false);
    atomic_store(&snapshot_signalled, false);
    pvh_vm_set_paused(vm, true);
    if (atomic_load(&vm->ending))
        return;
    int taken = pvh_snapshot_take(vm, &err);
    vm->t_snap_written_ns = taken == 0 ? pvh_now_ns() : 0;
    if (taken != 0)
        fail_vm(vm, "%s", err.msg);
    else if (!vm->cfg->snapshot_continue)
        claim_end(vm, PVH_END_SNAPSHOT, 0);
    else
        pvh_vm_set_paused(vm, false);
}

static bool snapshot_wanted(const struct pvh_vm *vm)
{
    return vm->cfg->snapshot_file && (atomic_load(&vm->snap_requested) || atomic_load(&snapshot_signalled));
}

/* Main waits for the end, the timeout, or (with --snapshot-file) a
 * snapshot's request: the port's wakes it, SIGUSR2's is polled for. */
static void wait_for_end(struct pvh_vm *vm)
{
    unsigned timeout = vm->cfg->timeout_s;
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += timeout;
    pthread_mutex_lock(&vm->end_lock);
    while (!atomic_load(&vm->ending)) {
        if (snapshot_wanted(vm)) {
            pthread_mutex_unlock(&vm->end_lock);
            take_snapshot(vm);
            pthread_mutex_lock(&vm->end_lock);
            continue;
        }
        struct timespec poll = pvh_deadline_in(SNAPSHOT_POLL_NS);
        bool polling = vm->cfg->snapshot_file && (!timeout || before(&poll, &deadline));
        if (!timeout && !polling) {
            pthread_cond_wait(&vm->end_cond, &vm->end_lock);
        } else if (pthread_cond_timedwait(&vm->end_cond, &vm->end_lock, polling ? &poll : &deadline) == ETIMEDOUT &&
                   !polling) {
            pthread_mutex_unlock(&vm->end_lock);
            claim_end(vm, PVH_END_TIMEOUT, 124);
            pthread_mutex_lock(&vm->end_lock);
        }
    }
    pthread_mutex_unlock(&vm->end_lock);
}

/* Under end_lock: kicks every vCPU thread still in its loop out of KVM_RUN
 * (immediate_exit for one about to enter it, the signal for one inside);
 * returns how many there were. */
static unsigned kick_running(struct pvh_vm *vm)
{
    unsigned running = 0;
    for (unsigned i = 0; i < vm->ncpus; i++) {
        struct pvh_vcpu *v = &vm->vcpu[i];
        if (!v->started || v->done)
            continue;
        running++;
        v->run->immediate_exit = 1;
        pthread_kill(v->thread, KICK_SIGNAL);
    }
    return running;
}

void pvh_vm_kick_vcpus(struct pvh_vm *vm)
{
    pthread_mutex_lock(&vm->end_lock);
    kick_running(vm);
    pthread_mutex_unlock(&vm->end_lock);
}

/* Under end_lock: every vCPU still in its loop is parked. */
static bool vcpus_parked(const struct pvh_vm *vm)
{
    for (unsigned i = 0; i < vm->ncpus; i++)
        if (vm->vcpu[i].started && !vm->vcpu[i].done && !vm->vcpu[i].parked)
            return false;
    return true;
}

/* Every vCPU parked: the guest's clock stops with it (kvmclock saved, each
 * vCPU told it was stopped so its watchdogs do not bark on resume). */
static void stop_guest_clock(struct pvh_vm *vm)
{
    vm->clock_saved = ioctl(vm->vm_fd, KVM_GET_CLOCK, &vm->paused_clock) == 0;
    for (unsigned i = 0; i < vm->ncpus; i++)
        if (vm->vcpu[i].fd >= 0)
            (void)ioctl(vm->vcpu[i].fd, KVM_KVMCLOCK_CTRL, 0); /* EINVAL when the guest has no kvmclock */
}

/* Before the vCPUs go on: kvmclock where it stopped, so guest time does not
 * jump by the pause. */
static void restart_guest_clock(struct pvh_vm *vm)
{
    if (!vm->clock_saved)
        return;
    struct kvm_clock_data d = {.clock = vm->paused_clock.clock};
    (void)ioctl(vm->vm_fd, KVM_SET_CLOCK, &d);
    vm->clock_saved = false;
}

void pvh_vm_set_paused(struct pvh_vm *vm, bool paused)
{
    pthread_mutex_lock(&vm->end_lock);
    if (!paused && atomic_load(&vm->paused))
        restart_guest_clock(vm);
    atomic_store(&vm->paused, paused);
    pthread_cond_broadcast(&vm->end_cond); /* resumed: parked vCPUs go on */
    while (paused && !vcpus_parked(vm) && !atomic_load(&vm->ending)) {
        kick_running(vm);
        struct timespec deadline = pvh_deadline_in(KICK_INTERVAL_NS);
        pthread_cond_timedwait(&vm->end_cond, &vm->end_lock, &deadline);
    }
    if (paused && !vm->clock_saved && !atomic_load(&vm->ending)) /* paused by the snapshot port too */
        stop_guest_clock(vm);
    pthread_mutex_unlock(&vm->end_lock);
    if (paused) { /* console input under way has reached its device; more waits for the resume */
        pthread_mutex_lock(&vm->input_lock);
        pthread_mutex_unlock(&vm->input_lock);
    }
}

/* Before the go (PUT /snapshot/load, resume_vm false): each vCPU parks
 * before its first KVM_RUN, the guest's clock stopped where the snapshot
 * set it until PATCH /vm Resumed. */
static void start_paused(struct pvh_vm *vm)
{
    pthread_mutex_lock(&vm->end_lock);
    atomic_store(&vm->paused, true);
    stop_guest_clock(vm);
    pthread_mutex_unlock(&vm->end_lock);
}

static bool vcpus_done(const struct pvh_vm *vm)
{
    for (unsigned i = 0; i < vm->ncpus; i++)
        if (vm->vcpu[i].started && !vm->vcpu[i].done)
            return false;
    return true;
}

/* Main only, once the VM is ending: kicks the vCPU threads, again every
 * KICK_INTERVAL_NS until each has said it is done, then joins them. A
 * thread is only ever kicked before main joins it. */
static void stop_vcpus(struct pvh_vm *vm)
{
    if (vm->gdb)
        pvh_gdb_vm_ending(vm->gdb); /* vCPUs parked for gdb leave their wait */
    pthread_mutex_lock(&vm->end_lock);
    while (kick_running(vm) > 0) {
        struct timespec deadline = pvh_deadline_in(KICK_INTERVAL_NS);
        while (!vcpus_done(vm) && pthread_cond_timedwait(&vm->end_cond, &vm->end_lock, &deadline) != ETIMEDOUT) {
        }
    }
    pthread_mutex_unlock(&vm->end_lock);
    for (unsigned i = 0; i < vm->ncpus; i++)
        if (vm->vcpu[i].started)
            pthread_join(vm->vcpu[i].thread, NULL);
}

/* What the configured parts add to the allow-list: the gdb stub's, the API
 * server's, the snapshots' and diff snapshots' (their union, into the
 * buffers given). */
static const struct pvh_sandbox_extra *sandbox_extras(const struct pvh_vm *vm, struct pvh_sandbox_extra *both,
                                                      int *calls, unsigned long *ioctls)
{
    const struct pvh_sandbox_extra *parts[4];
    int n = 0;
    if (vm->gdb)
        parts[n++] = &pvh_sandbox_gdb_calls;
    if (vm->cfg->api_server)
        parts[n++] = &pvh_sandbox_api_calls;
    if (vm->snap_info)
        parts[n++] = &pvh_sandbox_snapshot_calls;
    if (vm->snap_info && vm->cfg->snapshot_diff)
        parts[n++] = &pvh_sandbox_snapshot_diff_calls;
    if (n <= 1)
        return n ? parts[0] : NULL;
    *both = (struct pvh_sandbox_extra){calls, 0, ioctls, 0};
    for (int p = 0; p < n; p++) {
        for (size_t i = 0; i < parts[p]->nsyscalls && both->nsyscalls < PVH_SANDBOX_MAX_EXTRA; i++)
            calls[both->nsyscalls++] = parts[p]->syscalls[i]; /* a call twice in the filter is harmless */
        for (size_t i = 0; i < parts[p]->nioctls && both->nioctls < PVH_SANDBOX_MAX_EXTRA; i++)
            ioctls[both->nioctls++] = parts[p]->ioctls[i];
    }
    return both;
}

int pvh_vm_start_and_wait(struct pvh_vm *vm, struct pvh_error *err)
{
    pthread_t input;
    bool has_input = false;
    struct input_state in = {.vm = vm};
    struct termios saved;
    bool raw = vm->cfg->serial == PVH_SERIAL_STDIO && isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;
    if (raw) {
        struct termios t = saved;
        cfmakeraw(&t);
        t.c_oflag |= OPOST | ONLCR; /* keep the host's line endings for output */
        tcsetattr(STDIN_FILENO, TCSANOW, &t);
    }
    pvh_guestmem_clear_dirty(&vm->mem); /* --snapshot-diff: the loader's writes hold no pointer past the start */
    int rc = pvh_machine_start_io(vm, err);
    if (rc == 0)
        rc = start_threads(vm, &input, &has_input, &in, err);
    struct pvh_sandbox_extra both;
    int both_calls[PVH_SANDBOX_MAX_EXTRA];
    unsigned long both_ioctls[PVH_SANDBOX_MAX_EXTRA];
    const struct pvh_sandbox_extra *extra = sandbox_extras(vm, &both, both_calls, both_ioctls);
    if (rc == 0 && vm->cfg->sandbox && pvh_sandbox_enter_with(extra, err) != 0)
        rc = -1;
    if (rc != 0)
        claim_end(vm, PVH_END_ERROR, 1); /* before the go: the threads end without a KVM_RUN */
    if (rc == 0 && vm->cfg->start_paused)
        start_paused(vm);
    let_threads_go(vm);
    if (rc == 0 && vm->cfg->control)
        pvh_vm_control_attach(vm->cfg->control, vm);
    if (rc == 0)
        wait_for_end(vm);
    if (vm->cfg->control)
        pvh_vm_control_detach(vm->cfg->control);
    stop_vcpus(vm);
    if (has_input)
        pthread_join(input, NULL);
    if (raw)
        tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    return rc;
}
