/* Internal to vmm/: the machine's state shared by vm.c (the lifecycle),
 * inputs.c, load.c, console.c, machine.c (devices and the I/O thread),
 * stats.c, kvm.c (VM and memory), vcpu.c (vCPUs, CPUID, entry state) and
 * run.c (threads, run loop, exit dispatch, the end of the VM). */
#ifndef PVHBOOT_VMM_VM_H
#define PVHBOOT_VMM_VM_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "clock.h"
#include "dev/devices.h"
#include "eventloop.h"
#include "gdb.h"
#include "pvhboot/entry.h"
#include "pvhboot/file.h"
#include "pvhboot/guestmem.h"
#include "pvhboot/image.h"
#include "pvhboot/plan.h"
#include "pvhboot/vmm.h"
#include "vdev.h"
#include "virtio/virtio.h"

struct pvh_vcpu {
    struct pvh_vm *vm;
    unsigned id;
    int fd;         /* -1 until created */
    struct kvm_run *run;
    size_t run_size;
    pthread_t thread;
    bool started;   /* main only: the thread exists (only main kicks and joins it) */
    bool done;      /* under end_lock: the thread has left its run loop for good */
    bool parked;    /* under end_lock: stopped outside KVM_RUN while the VM is paused */
};

/* A virtio device of this machine: the device type's state (impl, which
 * holds the transport, dev), the machine side, and how to free it. */
struct pvh_vm_vdev {
    const char *name;             /* for --verbose: the drive's file, "rng", "console" */
    struct pvh_virtio_dev *dev;
    struct pvh_vdev_kvm kvm;
    void *impl;
    void (*destroy)(void *impl);
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
    struct kvm_cpuid2 *cpuid;

    struct pvh_devices dev;         /* each device has its own lock */
    bool devices_ready;
    struct pvh_io_hooks hooks;
    int serial_fd;                  /* -1: serial output discarded */
    int debugcon_fd;                /* --debugcon's output (console.c); used only when configured */
    int rtc_timer_fd;               /* machine.c: the RTC's timerfd; valid while rtc_timer */
    bool rtc_timer;
    struct pvh_eventloop loop;      /* the I/O thread */
    bool loop_ready;
    size_t nvdev;
    struct pvh_vm_vdev vdev[PVH_MAX_VIRTIO_DEVICES];
    struct pvh_virtio_dev *vconsole; /* --console virtio: where console input goes */
    atomic_bool hvc_spoke;           /* virtio-console has output: COM1 on stdout goes quiet */
    struct pvh_gdb *gdb;            /* --gdb: the stub (gdb.c); NULL without */
    struct pvh_vcpu_state_info *snap_info; /* snapshot.c (--snapshot-file): MSR list, XSAVE size; NULL without */
    int snap_state_fd, snap_mem_fd; /* the snapshot's files, open from setup on; -1 without */
    atomic_bool snap_requested;     /* the guest's port write or SIGUSR2 asked: main takes the snapshot */
    uint64_t snap_chain;            /* --snapshot-diff: this run's chain id (random), in every file's identity */
    uint32_t snap_generation;       /* --snapshot-diff: the next snapshot's (0: the full one) */

    pthread_mutex_t end_lock;
    pthread_cond_t end_cond;        /* main waits here: the end, the timeout, a thread done */
    pthread_cond_t go_cond;         /* the threads wait here until main lets them run */
    bool go;                        /* under end_lock: set once the sandbox is on (or setup failed) */
    atomic_bool ending;
    atomic_bool paused;             /* PATCH /vm Paused: vCPUs park at the top of their loop (on end_cond) */
    pthread_mutex_t input_lock;     /* console input goes to a device under it, never while paused */
    struct kvm_clock_data paused_clock; /* kvmclock when paused: set back on resume */
    bool clock_saved;
    struct {
        enum pvh_vm_end end;
        int status;
    } result;                       /* how the VM ended (the first to end it wins) */
    struct pvh_error end_err;

    atomic_uint_fast64_t exits[PVH_EXIT_KINDS];
    uint64_t t_first_run_ns, t_first_serial_ns, t_end_ns;
    uint64_t t_snap_asked_ns, t_snap_written_ns; /* the last snapshot's (port, SIGUSR2) */

    /* Last: pvh_vm_init sets up vcpu[0, ncpus) only, the rest is never read. */
    struct pvh_vcpu vcpu[PVH_MAX_CPUS];
};


/* vm.c: a VM set up (ready; else only torn down) run to its end, its
 * result in *res, then torn down and freed; 0, or -1 when it could not start.
 * pvh_vm_teardown: everything of a VM, in the order it must go. */
struct pvh_proc_files;
int pvh_vm_run_prepared(struct pvh_vm *vm, bool ready, struct pvh_proc_files *pf, struct pvh_vm_result *res,
                        struct pvh_error *err);
void pvh_vm_teardown(struct pvh_vm *vm);

/* inputs.c: the files, the image and the plan */
struct pvh_boot_inputs {
    struct pvh_file kernel;
    struct pvh_file module[PVH_MAX_MODULES];
    struct pvh_module_spec spec[PVH_MAX_MODULES];
    size_t ndevices;
    struct pvh_device_spec devices[PVH_MAX_VIRTIO_DEVICES];
    struct pvh_image image;
    struct pvh_plan_request req;
    struct pvh_plan plan;
};
int pvh_inputs_read(const struct pvh_vm_config *cfg, struct pvh_boot_inputs *in, struct pvh_error *err);
void pvh_inputs_close(struct pvh_boot_inputs *in, size_t nmodules);

/* load.c */
int pvh_load_guest(struct pvh_vm *vm, struct pvh_boot_inputs *in, struct pvh_vm_stats *st, struct pvh_error *err);

/* console.c */
int pvh_console_open(struct pvh_vm *vm, struct pvh_error *err);
void pvh_console_output(void *ctx, const uint8_t *buf, size_t len);  /* COM1's; ctx: the vm */
void pvh_vconsole_output(void *ctx, const uint8_t *buf, size_t len); /* virtio-console's */
void pvh_console_close(struct pvh_vm *vm);
void pvh_debugcon_output(void *ctx, const uint8_t *buf, size_t len); /* ctx: the vm */

/* vmgenid.c: the VM generation ID written at boot (and its address given
 * to the ACPI PM device); on restore a new one at the saved address and
 * its GPE raised. */
int pvh_vmgenid_boot(struct pvh_vm *vm, const struct pvh_boot_inputs *in, struct pvh_error *err);
int pvh_vmgenid_restore(struct pvh_vm *vm, struct pvh_error *err);

/* machine.c */
struct pvh_vconfig;
/* The running machine's virtio devices as a snapshot keeps them (each
 * drive's file as it is now, and its size). */
void pvh_machine_vconfig(struct pvh_vm *vm, struct pvh_vconfig *vc);
/* Each drive's size is the one vc recorded: else one line naming it. */
int pvh_machine_check_drives(struct pvh_vm *vm, const struct pvh_vconfig *vc, struct pvh_error *err);
size_t pvh_machine_device_specs(const struct pvh_vm_config *cfg, struct pvh_device_spec *specs);
int pvh_machine_devices_create(struct pvh_vm *vm, const struct pvh_boot_inputs *in, struct pvh_error *err);
int pvh_machine_start_io(struct pvh_vm *vm, struct pvh_error *err);
void pvh_machine_devices_destroy(struct pvh_vm *vm);
/* PATCH /drives/{id} after boot: drive `id` (cfg->drives[].id) now on
 * `path` (pvh_blk_swap), the driver told by a configuration interrupt. */
int pvh_machine_swap_drive(struct pvh_vm *vm, const char *id, const char *path, struct pvh_error *err);

/* stats.c: /proc files opened before the sandbox; -1 when not needed or not
 * readable. pagemap only once setup is over, after --user's drop: opened as
 * root it would go on giving physical frame numbers to the unprivileged
 * process. */
struct pvh_proc_files {
    int status, pagemap;
};
void pvh_proc_files_open(struct pvh_proc_files *pf);
void pvh_proc_files_open_pagemap(const struct pvh_vm_config *cfg, struct pvh_proc_files *pf);
void pvh_proc_files_close(struct pvh_proc_files *pf);
void pvh_stats_collect(struct pvh_vm *vm, const struct pvh_proc_files *pf, struct pvh_vm_stats *st);
/* Only the counters (devices, VM exits, serial bytes, unclaimed accesses),
 * safe while the VM runs: each is read under its own lock or atomically. */
void pvh_stats_counters(struct pvh_vm *vm, struct pvh_vm_stats *st);

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
void pvh_vm_kick_vcpus(struct pvh_vm *vm); /* out of KVM_RUN, those still in their loop (the gdb stub) */
void pvh_vm_set_paused(struct pvh_vm *vm, bool paused); /* returns once every vCPU is parked (or the VM ends) */

/* control.c: the API server's handle follows the VM's life */
void pvh_vm_control_attach(struct pvh_vm_control *c, struct pvh_vm *vm); /* the guest runs */
void pvh_vm_control_detach(struct pvh_vm_control *c);                   /* it ended, or never ran (vmm.h: pvh_vm_control_end) */

#endif
