/* The run loop's sandbox: a seccomp-BPF allow-list of exactly the system
 * calls the VMM needs once the VM is set up, and dropping root privileges. */
#ifndef PVHBOOT_SANDBOX_H
#define PVHBOOT_SANDBOX_H

#include <stddef.h>
#include <sys/types.h>

#include "pvhboot/error.h"

/* Installs the allow-list on every thread of the process (TSYNC). A system
 * call outside it prints "pvhboot: sandbox: forbidden system call NAME (NR)"
 * on stderr and kills the process with SIGSYS. */
int pvh_sandbox_enter(struct pvh_error *err);

/* Before pvh_sandbox_enter: the allow-list also gets what virtio-vsock's
 * host sockets need at run time (accept4, connect, shutdown, sendmsg,
 * recvfrom, epoll_ctl, and socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
 * SOCK_CLOEXEC) only). Without vsock none of these is allowed. */
void pvh_sandbox_allow_unix_sockets(void);

/* Calls a part of the VMM needs only when it is configured (the gdb stub
 * with --gdb): allowed on top of the list, at most PVH_SANDBOX_MAX_EXTRA
 * of each kind (more: an error). */
#define PVH_SANDBOX_MAX_EXTRA 32
struct pvh_sandbox_extra {
    const int *syscalls;
    size_t nsyscalls;
    const unsigned long *ioctls;
    size_t nioctls;
};
/* The gdb stub's calls (vmm/gdb.c), allowed with --gdb only. */
extern const struct pvh_sandbox_extra pvh_sandbox_gdb_calls;
/* The API server's (cli/serve.c): accept4 and epoll_ctl, with an API socket only. */
extern const struct pvh_sandbox_extra pvh_sandbox_api_calls;
/* Snapshots' (vmm/snapshot.c): fsync and the KVM_GET_* of the vCPUs' and the VM's state, with --snapshot-file only. */
extern const struct pvh_sandbox_extra pvh_sandbox_snapshot_calls;
/* --snapshot-diff's on top (vmm/snapshot.c): KVM_GET_DIRTY_LOG, and openat for generation N's files. */
extern const struct pvh_sandbox_extra pvh_sandbox_snapshot_diff_calls;
/* pvh_sandbox_enter with extra (NULL: none) allowed as well. */
int pvh_sandbox_enter_with(const struct pvh_sandbox_extra *extra, struct pvh_error *err);

/* Resolves NAME (a user name, or UID[:GID]) to ids. */
int pvh_user_lookup(const char *name, uid_t *uid, gid_t *gid, struct pvh_error *err);

/* When running as root: drops supplementary groups, then gid, then uid, and
 * checks that root cannot be regained. Not root: an error (nothing to drop). */
int pvh_drop_privileges(uid_t uid, gid_t gid, struct pvh_error *err);

#endif
