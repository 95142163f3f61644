/* Sandbox for the run loop: a seccomp-BPF allow-list installed on all threads
 * once setup is done, and the privilege drop for `--user`. The allow-list is
 * the system calls the run loop makes (KVM_RUN and IRQ ioctls, console I/O,
 * thread wake-ups, clocks, exit) plus the memory calls malloc and the
 * sanitizer runtimes make; mmap/mprotect may never ask for executable pages,
 * and tgkill may only signal this process's own threads. A part of the VMM
 * that is configured (the gdb stub) adds the calls it needs at run time
 * through pvh_sandbox_enter_with, virtio-vsock its host sockets through
 * pvh_sandbox_allow_unix_sockets; without them they stay forbidden. */
#include "pvhboot/sandbox.h"
#include "pvhboot/seccomp.h"

#include <errno.h>
#include <grp.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/fs.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <linux/seccomp.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

struct syscall_name {
    int nr;
    const char *name;
};

#define SYSCALL(n) { SYS_##n, #n }
static const struct syscall_name allowed_syscalls[] = {
    SYSCALL(read), SYSCALL(pread64), SYSCALL(write), SYSCALL(readv), SYSCALL(writev), SYSCALL(close),
    SYSCALL(poll), SYSCALL(ppoll), SYSCALL(futex), SYSCALL(clock_gettime),
    SYSCALL(clock_nanosleep), SYSCALL(nanosleep), SYSCALL(gettimeofday),
    SYSCALL(exit), SYSCALL(exit_group), SYSCALL(rt_sigreturn), SYSCALL(rt_sigprocmask),
    SYSCALL(rt_sigaction), SYSCALL(sigaltstack), SYSCALL(getpid),
    SYSCALL(gettid), SYSCALL(sched_yield), SYSCALL(restart_syscall), SYSCALL(munmap),
    SYSCALL(madvise), SYSCALL(brk), SYSCALL(mremap), SYSCALL(fstat), SYSCALL(newfstatat),
    SYSCALL(lseek), SYSCALL(set_robust_list), SYSCALL(rseq), SYSCALL(timer_settime),
    SYSCALL(timerfd_settime), SYSCALL(sched_getaffinity), SYSCALL(mincore),
    /* the I/O thread: its epoll loop, virtio-rng's entropy, virtio-blk's I/O */
    SYSCALL(epoll_wait), SYSCALL(epoll_pwait), SYSCALL(getrandom),
    SYSCALL(preadv), SYSCALL(pwritev), SYSCALL(pwrite64), SYSCALL(fdatasync), SYSCALL(fallocate),
    SYSCALL(ftruncate),
    /* virtio-net: the TAP's watch goes off while the guest has no receive
     * buffer and back on when it posts some (EPOLL_CTL_DEL/ADD on the I/O
     * thread; frames themselves move with readv/writev) */
    SYSCALL(epoll_ctl),
};

/* virtio-vsock's host sockets, at run time (pvh_sandbox_allow_unix_sockets):
 * accepting host connections on its socket, connecting guest connections to
 * <uds>_<port>, moving bytes (sendmsg without SIGPIPE, recvfrom for the
 * peeked CONNECT line; read/readv/close are allowed anyway), half-closing,
 * and watching each new socket on the I/O thread (epoll_ctl). Binding,
 * listening, replacing a stale socket file (unlink) and raising the fd limit
 * happen before the sandbox; socket() gets its own rule (AF_UNIX streams
 * only). What stays possible: connecting to any UNIX stream socket the user
 * may reach (seccomp cannot read a path): run with --user to narrow that. */
static const struct syscall_name unix_socket_syscalls[] = {
    SYSCALL(accept4), SYSCALL(connect), SYSCALL(shutdown), SYSCALL(sendmsg), SYSCALL(recvfrom),
    SYSCALL(epoll_ctl),
};
static bool unix_sockets;

void pvh_sandbox_allow_unix_sockets(void)
{
    unix_sockets = true;
}

/* Named for the message only: refused, or allowed only with some arguments. */
static const struct syscall_name other_names[] = {
    SYSCALL(open), SYSCALL(openat), SYSCALL(execve), SYSCALL(execveat), SYSCALL(socket),
    SYSCALL(connect), SYSCALL(clone), SYSCALL(clone3), SYSCALL(fork), SYSCALL(vfork),
    SYSCALL(ptrace), SYSCALL(kill), SYSCALL(mount), SYSCALL(unlink), SYSCALL(mkdir),
    SYSCALL(getuid), SYSCALL(setuid), SYSCALL(prctl), SYSCALL(seccomp), SYSCALL(getcwd),
    SYSCALL(mmap), SYSCALL(mprotect), SYSCALL(ioctl), SYSCALL(tgkill),
    /* allowed only as extras (the gdb stub's socket and its event loop watch) */
    SYSCALL(accept4), SYSCALL(recvfrom), SYSCALL(sendto), SYSCALL(epoll_ctl), SYSCALL(fsync),
};
#undef SYSCALL

/* ioctl requests the run loop makes: vCPU runs, interrupts, terminal restore. */
static const unsigned long allowed_ioctls[] = {
    KVM_RUN, KVM_IRQ_LINE, KVM_IRQ_LINE_STATUS, KVM_SIGNAL_MSI, KVM_GET_REGS, KVM_GET_SREGS,
    KVM_GET_MP_STATE, TCGETS, TCSETS, TCSETSW, FIONREAD,
    BLKDISCARD, BLKZEROOUT, /* virtio-blk on a block device */
    TUNSETOFFLOAD,          /* virtio-net: the offloads the guest's driver took, set when it starts */
};

/* --gdb only: the stub (vmm/gdb.c) on the I/O thread accepts its one client
 * (accept4), reads and answers it (recvfrom and sendto: glibc's recv and
 * send) and watches the new socket on the event loop (epoll_ctl); it reads
 * and writes the parked vCPUs' registers (KVM_SET_REGS; KVM_GET/SET_FPU for
 * x87 and SSE; KVM_SET_SREGS for the control registers and segment bases),
 * translates gdb's virtual addresses through the guest's page tables
 * (KVM_TRANSLATE), and sets breakpoints, watchpoints and single steps
 * (KVM_SET_GUEST_DEBUG, also how a guest's own int3 is given back to it).
 * The socket itself is created before the sandbox, and no other process
 * or file can be reached through these. */
static const int gdb_syscalls[] = {SYS_accept4, SYS_recvfrom, SYS_sendto, SYS_epoll_ctl};
static const unsigned long gdb_ioctls[] = {KVM_SET_REGS, KVM_SET_SREGS, KVM_GET_FPU, KVM_SET_FPU, KVM_TRANSLATE,
                                           KVM_SET_GUEST_DEBUG};
const struct pvh_sandbox_extra pvh_sandbox_gdb_calls = {
    gdb_syscalls, sizeof(gdb_syscalls) / sizeof(gdb_syscalls[0]),
    gdb_ioctls, sizeof(gdb_ioctls) / sizeof(gdb_ioctls[0]),
};

/* The API server (cli/serve.c, pvhboot serve): its epoll loop accepts
 * clients on the socket made before the sandbox (accept4) and watches and
 * drops them (epoll_ctl); it reads and writes with read and write. Its
 * PATCH /vm Paused stops the guest's clock (KVM_GET_CLOCK, each vCPU's
 * KVM_KVMCLOCK_CTRL) and Resumed sets it back (KVM_SET_CLOCK). Its PATCH
 * /drives/{id} opens the drive's new file (openat), sizes it (a block
 * device: BLKGETSIZE64, BLKROGET, BLKSSZGET) and locks it (fcntl's OFD
 * locks; on a conflict the holder is looked for in /proc: getdents64), as
 * Firecracker's API thread may: a process serving the API can open any
 * file its user may (seccomp cannot read a path; --user narrows it). */
static const int api_syscalls[] = {SYS_accept4, SYS_epoll_ctl, SYS_openat, SYS_fcntl, SYS_getdents64};
static const unsigned long api_ioctls[] = {KVM_GET_CLOCK, KVM_SET_CLOCK, KVM_KVMCLOCK_CTRL,
                                           BLKGETSIZE64, BLKROGET, BLKSSZGET};
const struct pvh_sandbox_extra pvh_sandbox_api_calls = {
    api_syscalls, sizeof(api_syscalls) / sizeof(api_syscalls[0]),
    api_ioctls, sizeof(api_ioctls) / sizeof(api_ioctls[0]),
};

/* --snapshot-file: main reads every parked vCPU's state (its XSAVE area,
 * XCRs, debug registers, LAPIC, pending events, MSRs; registers and MP
 * state are allowed anyway), the VM's (both PICs and the I/O APIC, the PIT,
 * kvmclock, stopped with KVM_KVMCLOCK_CTRL and set back on
 * --snapshot-continue), and syncs the two files it opened before the
 * sandbox (fsync; writing, truncating and seeking are allowed anyway). */
static const int snapshot_syscalls[] = {SYS_fsync};
static const unsigned long snapshot_ioctls[] = {
    KVM_GET_XSAVE, KVM_GET_XSAVE2, KVM_GET_XCRS, KVM_GET_DEBUGREGS, KVM_GET_LAPIC, KVM_GET_VCPU_EVENTS,
    KVM_GET_MSRS, KVM_GET_IRQCHIP, KVM_GET_PIT2, KVM_GET_CLOCK, KVM_SET_CLOCK, KVM_KVMCLOCK_CTRL};
const struct pvh_sandbox_extra pvh_sandbox_snapshot_calls = {
    snapshot_syscalls, sizeof(snapshot_syscalls) / sizeof(snapshot_syscalls[0]),
    snapshot_ioctls, sizeof(snapshot_ioctls) / sizeof(snapshot_ioctls[0]),
};

/* --snapshot-diff on top: KVM's dirty log read (and cleared) at each
 * snapshot, and generation N's files STATE.N and MEM.N created when it is
 * taken (openat: seccomp cannot read a path, so the run may then open any
 * file its user may; --user narrows it). */
static const int snapshot_diff_syscalls[] = {SYS_openat};
static const unsigned long snapshot_diff_ioctls[] = {KVM_GET_DIRTY_LOG};
const struct pvh_sandbox_extra pvh_sandbox_snapshot_diff_calls = {
    snapshot_diff_syscalls, sizeof(snapshot_diff_syscalls) / sizeof(snapshot_diff_syscalls[0]),
    snapshot_diff_ioctls, sizeof(snapshot_diff_ioctls) / sizeof(snapshot_diff_ioctls[0]),
};

#define NALLOWED (sizeof(allowed_syscalls) / sizeof(allowed_syscalls[0]))
#define NUNIX (sizeof(unix_socket_syscalls) / sizeof(unix_socket_syscalls[0]))
#define NIOCTLS (sizeof(allowed_ioctls) / sizeof(allowed_ioctls[0]))
/* header (4) + per syscall (2) + mmap, mprotect and tgkill blocks (5 each) +
 * reloads of nr (3) + ioctl block (4 + 2 per request) */
#define MAX_FILTER                                                                                                    \
    (4 + 2 * (NALLOWED + PVH_SANDBOX_MAX_EXTRA) + 15 + 3 + 4 + 2 * (NIOCTLS + PVH_SANDBOX_MAX_EXTRA) + 2 * NUNIX + 7)

#define LOAD(field) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, field))
#define ALLOW BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)
#define TRAP BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP)

static const char *syscall_name(int nr)
{
    for (size_t i = 0; i < NALLOWED; i++)
        if (allowed_syscalls[i].nr == nr)
            return allowed_syscalls[i].name;
    for (size_t i = 0; i < NUNIX; i++)
        if (unix_socket_syscalls[i].nr == nr)
            return unix_socket_syscalls[i].name;
    for (size_t i = 0; i < sizeof(other_names) / sizeof(other_names[0]); i++)
        if (other_names[i].nr == nr)
            return other_names[i].name;
    return "?";
}

/* Async-signal-safe: formats with no stdio, then dies by SIGSYS. */
static void on_forbidden_syscall(int sig, siginfo_t *info, void *ucontext)
{
    (void)ucontext;
    char msg[128], num[16];
    int nr = info->si_syscall, n = 0;
    do
        num[n++] = (char)('0' + nr % 10);
    while ((nr /= 10) > 0 && n < (int)sizeof(num));
    size_t len = 0;
    const char *parts[] = {"pvhboot: sandbox: forbidden system call ", syscall_name(info->si_syscall), " ("};
    for (size_t p = 0; p < 3; p++)
        for (const char *c = parts[p]; *c && len < sizeof(msg) - 20; c++)
            msg[len++] = *c;
    while (n > 0)
        msg[len++] = num[--n];
    msg[len++] = ')';
    msg[len++] = '\n';
    if (write(STDERR_FILENO, msg, len) < 0) {
        /* nothing more can be done from here */
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

/* socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, ...) only (7). */
static size_t allow_unix_stream_socket(struct sock_filter *f, size_t n)
{
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_socket, 0, 6);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0]));
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_UNIX, 0, 3);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[1]));
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, 1);
    f[n++] = (struct sock_filter)ALLOW;
    f[n++] = (struct sock_filter)TRAP;
    return n;
}

static size_t build_filter(struct sock_filter *f, pid_t pid, const struct pvh_sandbox_extra *extra)
{
    size_t n = 0;
    f[n++] = (struct sock_filter)LOAD(arch);
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
    f[n++] = (struct sock_filter)LOAD(nr);
    for (size_t i = 0; i < NALLOWED; i++)
        n = pvh_bpf_allow_if(f, n, (uint32_t)allowed_syscalls[i].nr);
    for (size_t i = 0; unix_sockets && i < NUNIX; i++)
        n = pvh_bpf_allow_if(f, n, (uint32_t)unix_socket_syscalls[i].nr);
    if (unix_sockets)
        n = allow_unix_stream_socket(f, n);
    for (size_t i = 0; extra && i < extra->nsyscalls; i++)
        n = pvh_bpf_allow_if(f, n, (uint32_t)extra->syscalls[i]);
    n = pvh_bpf_allow_no_exec(f, n, SYS_mmap, 2);
    f[n++] = (struct sock_filter)LOAD(nr);
    n = pvh_bpf_allow_no_exec(f, n, SYS_mprotect, 2);
    f[n++] = (struct sock_filter)LOAD(nr);
    /* tgkill only on this process: the kernel takes its tgid as an int, the low
     * 32 bits of args[0]; pthread_kill (the run loop's vCPU kicks) and raise
     * name this process, another process may not be signalled */
    n = pvh_bpf_allow_arg_eq(f, n, SYS_tgkill, 0, (uint32_t)pid);
    f[n++] = (struct sock_filter)LOAD(nr);
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_ioctl, 1, 0);
    f[n++] = (struct sock_filter)TRAP;
    f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args) + 8);
    for (size_t i = 0; i < NIOCTLS; i++)
        n = pvh_bpf_allow_if(f, n, (uint32_t)allowed_ioctls[i]);
    for (size_t i = 0; extra && i < extra->nioctls; i++)
        n = pvh_bpf_allow_if(f, n, (uint32_t)extra->ioctls[i]);
    f[n++] = (struct sock_filter)TRAP;
    return n;
}

int pvh_sandbox_enter(struct pvh_error *err)
{
    return pvh_sandbox_enter_with(NULL, err);
}

int pvh_sandbox_enter_with(const struct pvh_sandbox_extra *extra, struct pvh_error *err)
{
    if (extra && (extra->nsyscalls > PVH_SANDBOX_MAX_EXTRA || extra->nioctls > PVH_SANDBOX_MAX_EXTRA))
        return pvh_fail(err, PVH_E_SYSTEM, "sandbox: more than %d extra calls", PVH_SANDBOX_MAX_EXTRA);
    struct sock_filter filter[MAX_FILTER + 4];
    size_t len = build_filter(filter, getpid(), extra);
    struct sock_fprog prog = {.len = (unsigned short)len, .filter = filter};
    struct sigaction sa = {.sa_sigaction = on_forbidden_syscall, .sa_flags = SA_SIGINFO};
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSYS, &sa, NULL) != 0)
        return pvh_fail(err, PVH_E_SYSTEM, "sandbox: sigaction(SIGSYS): %s", strerror(errno));
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return pvh_fail(err, PVH_E_SYSTEM, "sandbox: prctl(NO_NEW_PRIVS): %s", strerror(errno));
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog) != 0)
        return pvh_fail(err, PVH_E_SYSTEM,
                        "sandbox: the kernel refused the seccomp filter (%s); --no-sandbox runs without it",
                        strerror(errno));
    return 0;
}

/* UID[:GID], decimal digits only: strtoul() alone would skip white space
 * and take a sign ("0:-18446744073709551615" was GID 1). */
static int parse_ids(const char *name, uid_t *uid, gid_t *gid)
{
    char *end;
    if (name[0] < '0' || name[0] > '9')
        return -1;
    unsigned long u = strtoul(name, &end, 10);
    if (end == name || (*end != '\0' && *end != ':'))
        return -1;
    unsigned long g = u;
    if (*end == ':') {
        const char *gs = end + 1;
        if (gs[0] < '0' || gs[0] > '9')
            return -1;
        g = strtoul(gs, &end, 10);
        if (end == gs || *end != '\0')
            return -1;
    }
    if (u > 0xfffffffeul || g > 0xfffffffeul)
        return -1;
    *uid = (uid_t)u;
    *gid = (gid_t)g;
    return 0;
}

int pvh_user_lookup(const char *name, uid_t *uid, gid_t *gid, struct pvh_error *err)
{
    if (name[0] >= '0' && name[0] <= '9')
        return parse_ids(name, uid, gid) == 0
                   ? 0
                   : pvh_fail(err, PVH_E_INPUT, "--user %s: expected a user name or UID[:GID]", name);
    struct passwd *pw = getpwnam(name);
    if (!pw)
        return pvh_fail(err, PVH_E_INPUT, "--user %s: no such user", name);
    *uid = pw->pw_uid;
    *gid = pw->pw_gid;
    return 0;
}

int pvh_drop_privileges(uid_t uid, gid_t gid, struct pvh_error *err)
{
    if (geteuid() != 0)
        return pvh_fail(err, PVH_E_INPUT, "--user: pvhboot is not running as root; there is nothing to drop");
    if (uid == 0)
        return pvh_fail(err, PVH_E_INPUT, "--user: refusing to run as uid 0");
    if (setgroups(0, NULL) != 0 || setresgid(gid, gid, gid) != 0 || setresuid(uid, uid, uid) != 0)
        return pvh_fail(err, PVH_E_SYSTEM, "--user: cannot drop privileges: %s", strerror(errno));
    if (setuid(0) == 0 || seteuid(0) == 0)
        return pvh_fail(err, PVH_E_SYSTEM, "--user: root privileges could be regained; refusing to run");
    return 0;
}
