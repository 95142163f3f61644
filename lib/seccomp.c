/* The seccomp-BPF builder behind include/pvhboot/seccomp.h: rule emitters
 * for allow-lists (by number, by one argument's value, mmap/mprotect without
 * PROT_EXEC) and the install call (no_new_privs + seccomp(2)). */
#include "pvhboot/seccomp.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define LOAD_NR BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr))
#define LOAD_ARG(i) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)(offsetof(struct seccomp_data, args) + (i) * 8))
#define RET(action) BPF_STMT(BPF_RET | BPF_K, (action))

size_t pvh_bpf_prologue(struct sock_filter *f, size_t n)
{
    f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
    f[n++] = (struct sock_filter)RET(SECCOMP_RET_KILL_PROCESS);
    f[n++] = (struct sock_filter)LOAD_NR;
    return n;
}

size_t pvh_bpf_load_nr(struct sock_filter *f, size_t n)
{
    f[n++] = (struct sock_filter)LOAD_NR;
    return n;
}

size_t pvh_bpf_allow_if(struct sock_filter *f, size_t n, uint32_t value)
{
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, value, 0, 1);
    f[n++] = (struct sock_filter)RET(SECCOMP_RET_ALLOW);
    return n;
}

size_t pvh_bpf_allow_no_exec(struct sock_filter *f, size_t n, int sys, size_t prot_arg)
{
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)sys, 0, 4);
    f[n++] = (struct sock_filter)LOAD_ARG(prot_arg);
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, PROT_EXEC, 1, 0);
    f[n++] = (struct sock_filter)RET(SECCOMP_RET_ALLOW);
    f[n++] = (struct sock_filter)RET(SECCOMP_RET_TRAP);
    return n;
}

size_t pvh_bpf_allow_arg_eq(struct sock_filter *f, size_t n, int sys, size_t arg, uint32_t value)
{
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)sys, 0, 4);
    f[n++] = (struct sock_filter)LOAD_ARG(arg);
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, value, 0, 1);
    f[n++] = (struct sock_filter)RET(SECCOMP_RET_ALLOW);
    f[n++] = (struct sock_filter)RET(SECCOMP_RET_TRAP);
    return n;
}

size_t pvh_bpf_allow_anon_mmap(struct sock_filter *f, size_t n)
{
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_mmap, 0, 6);
    f[n++] = (struct sock_filter)LOAD_ARG(2);
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, PROT_EXEC, 3, 0);
    f[n++] = (struct sock_filter)LOAD_ARG(3);
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, MAP_ANONYMOUS, 0, 1);
    f[n++] = (struct sock_filter)RET(SECCOMP_RET_ALLOW);
    f[n++] = (struct sock_filter)RET(SECCOMP_RET_TRAP);
    return n;
}

size_t pvh_bpf_return(struct sock_filter *f, size_t n, uint32_t action)
{
    f[n++] = (struct sock_filter)RET(action);
    return n;
}

int pvh_seccomp_install(const struct sock_filter *f, size_t len, unsigned flags, const char *what,
                        struct pvh_error *err)
{
    struct sock_fprog prog = {.len = (unsigned short)len, .filter = (struct sock_filter *)(uintptr_t)f};
    if (len == 0 || len > BPF_MAXINSNS)
        return pvh_fail(err, PVH_E_SYSTEM, "%s: seccomp filter of %zu instructions", what, len);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return pvh_fail(err, PVH_E_SYSTEM, "%s: prctl(NO_NEW_PRIVS): %s", what, strerror(errno));
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog) != 0)
        return pvh_fail(err, PVH_E_SYSTEM, "%s: the kernel refused the seccomp filter (%s)", what, strerror(errno));
    return 0;
}
