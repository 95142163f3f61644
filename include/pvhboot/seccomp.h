/* A small seccomp-BPF builder shared by the run loop's sandbox (vmm/sandbox.c)
 * and the decompression child (extract/child.c): each helper appends a few
 * instructions to a caller-sized array and returns the new length. While a
 * filter is being built the accumulator A holds the system call number; a
 * rule that loads an argument ends by returning, so A is still the number
 * on the path that falls through to the next rule. x86-64 only. */
#ifndef PVHBOOT_SECCOMP_H
#define PVHBOOT_SECCOMP_H

#include <linux/filter.h>
#include <stddef.h>
#include <stdint.h>

#include "pvhboot/error.h"

/* Kill the process unless the architecture is x86-64, then A = nr (4). */
size_t pvh_bpf_prologue(struct sock_filter *f, size_t n);

/* "A = nr" again, after a block that loaded something else (1). */
size_t pvh_bpf_load_nr(struct sock_filter *f, size_t n);

/* "if (A == value) return ALLOW" (2). */
size_t pvh_bpf_allow_if(struct sock_filter *f, size_t n, uint32_t value);

/* "if (nr == sys) return (args[prot_arg] & PROT_EXEC) ? TRAP : ALLOW" (5). */
size_t pvh_bpf_allow_no_exec(struct sock_filter *f, size_t n, int sys, size_t prot_arg);

/* "if (nr == sys) return (low 32 bits of args[arg] == value) ? ALLOW : TRAP" (5). */
size_t pvh_bpf_allow_arg_eq(struct sock_filter *f, size_t n, int sys, size_t arg, uint32_t value);

/* "if (nr == mmap) return (prot & PROT_EXEC) || !(flags & MAP_ANONYMOUS) ? TRAP : ALLOW":
 * new anonymous memory only, never executable, never a file's pages (7). */
size_t pvh_bpf_allow_anon_mmap(struct sock_filter *f, size_t n);

/* "return action" (1), e.g. SECCOMP_RET_TRAP. */
size_t pvh_bpf_return(struct sock_filter *f, size_t n, uint32_t action);

/* Sets no_new_privs and installs the filter on the calling thread (flags 0)
 * or every thread (SECCOMP_FILTER_FLAG_TSYNC). what names the caller in
 * messages ("sandbox", "decompression sandbox"). */
int pvh_seccomp_install(const struct sock_filter *f, size_t len, unsigned flags, const char *what,
                        struct pvh_error *err);

#endif
