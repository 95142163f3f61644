/* Internal to vmm/: the machine's state shared by kvm.c (VM and memory),
 * vcpu.c (vCPUs, CPUID, entry state), run.c (threads, run loop, exit
 * dispatch, the end of the VM) and boot.c (loading the kernel and boot data). */
#ifndef PVHBOOT_VMM_VM_H
#define PVHBOOT_VMM_VM_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "dev/devices.h"
#include "pvhboot/entry.h"
#include "pvhboot/guestmem.h"
#include "pvhboot/vmm.h"

struct pvh_vcpu {
    struct pvh_vm *vm;
    unsigned id;
    int fd;         /* -1 until created */
    struct kvm_run *run;
    size_t run_size;
    pthread_t thread;
    bool started;   /* main only: the thread exists (only main kicks and joins it) */
    bool done;      /* under end_lock: the thread has left its run loop for good */
};

enum pvh_exit_kind {
    PVH_EXIT_IO, PVH_EXIT_MMIO, PVH_EXIT_HLT, PVH_EXIT_INTR, PVH_EXIT_SHUTDOWN,
    PVH_EXIT_SYSTEM_EVENT, PVH_EXIT_OTHER, PVH_EXIT_KINDS
};

struct pvh_vm {
    const struct pvh_vm_config *cfg;
    int kvm_fd, vm_fd;
    int run_size;
    struct pvh_guestmem mem;
    unsigned ncpus;
    struct pvh_vcpu vcpu[PVH_MAX_CPUS];
    struct kvm_cpuid2 *cpuid;

    pthread_mutex_t io_lock;        /* devices are used by every vCPU thread */
    struct pvh_devices dev;
    struct pvh_io_hooks hooks;
    int serial_fd;                  /* -1: serial output discarded */

    pthread_mutex_t end_lock;
    pthread_cond_t end_cond;        /* main waits here: the end, the timeout, a thread done */
    pthread_cond_t go_cond;         /* the threads wait here until main lets them run */
    bool go;                        /* under end_lock: set once the sandbox is on (or setup failed) */
    atomic_bool ending;
    struct pvh_vm_result result;
    struct pvh_error end_err;

    atomic_uint_fast64_t exits[PVH_EXIT_KINDS];
    uint64_t t_first_run_ns, t_first_serial_ns, t_end_ns;
};

uint64_t pvh_now_ns(void);

/* kvm.c */
int pvh_kvm_open(struct pvh_vm *vm, struct pvh_error *err);
int pvh_kvm_create_vm(struct pvh_vm *vm, uint64_t low_size, uint64_t high_size, struct pvh_error *err);
void pvh_kvm_close_device(struct pvh_vm *vm); /* /dev/kvm only: once the VM and its vCPUs exist */
void pvh_kvm_close(struct pvh_vm *vm);
void pvh_kvm_set_irq(void *ctx, unsigned irq, int level);

/* vcpu.c */
int pvh_vcpus_create(struct pvh_vm *vm, struct pvh_error *err);
int pvh_vcpu_set_entry(struct pvh_vcpu *v, const struct pvh_entry_state *st, struct pvh_error *err);
void pvh_vcpus_destroy(struct pvh_vm *vm);

/* run.c */
void pvh_vm_init(struct pvh_vm *vm, const struct pvh_vm_config *cfg); /* every fd -1, locks ready */
void pvh_vm_fini(struct pvh_vm *vm);                                   /* the locks (fds: their owners) */
void pvh_vm_end(void *ctx, enum pvh_vm_end end, int status);
int pvh_vm_start_and_wait(struct pvh_vm *vm, struct pvh_error *err);

#endif
