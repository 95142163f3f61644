/* The API socket's file removed when `serve` ends, whichever way it ends
 * (the guest's end, an error, SIGTERM/SIGINT, even SIGKILL): a small
 * process forked before the socket exists waits for serve's end and then
 * unlinks the file, only if it is still the socket serve bound (same
 * device and inode). A helper process, because after InstanceStart serve
 * runs under the VM's seccomp allow-list (no unlink) and maybe as --user. */
#ifndef PVHBOOT_CLI_SOCK_JANITOR_H
#define PVHBOOT_CLI_SOCK_JANITOR_H

#include "pvhboot/error.h"

struct sock_janitor {
    int order_fd; /* ours: the socket's identity, then closed to say "remove it now" (or by our exit) */
    int done_fd;  /* ours: end of file once the helper is done */
};

/* Forks the helper for PATH (before the socket is bound; the process must
 * still be single-threaded). */
int sock_janitor_start(struct sock_janitor *j, const char *path, struct pvh_error *err);
/* PATH now holds our socket: the helper records its device and inode. */
int sock_janitor_arm(struct sock_janitor *j, const char *path, struct pvh_error *err);
/* serve ends: the helper removes the file (if still ours); waits for it
 * at most a second. Never armed: nothing is removed. */
void sock_janitor_finish(struct sock_janitor *j);

#endif
