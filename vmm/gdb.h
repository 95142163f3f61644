/* The gdb stub (--gdb): a socket on the I/O thread, one gdb at a time,
 * the remote protocol of lib/gdb_*.c served over KVM. gdb.c owns the
 * session (socket, packets, stopping and resuming the vCPUs); gdb_target.c
 * the machine side (registers, memory through the guest's page tables,
 * breakpoints and the debug registers). vCPU threads meet the stub at
 * three points only: the top of their run loop (park while held), a
 * KVM_EXIT_DEBUG, and the VM's end (main wakes the parked ones). */
#ifndef PVHBOOT_VMM_GDB_H
#define PVHBOOT_VMM_GDB_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "pvhboot/error.h"
#include "pvhboot/gdb.h"
#include "pvhboot/plan.h"
#include "pvhboot/sandbox.h"

struct pvh_vm;
struct pvh_vcpu;

#define PVH_GDB_MAX_SW_BP 64
#define PVH_GDB_HW_SLOTS 4

/* A software breakpoint: an int3 written at gpa; or, where addr did not
 * translate (paging not on yet), a debug register slot instead. */
struct pvh_gdb_sw_bp {
    bool used, in_slot;
    uint64_t addr, gpa;
    uint8_t saved;
};

/* A debug register: exec (rw 0), write (1) or access (3), 1-8 bytes,
 * serving the Z request (type, addr, len). */
struct pvh_gdb_hw_slot {
    bool used;
    uint64_t addr;
    unsigned rw, len;
    unsigned z_type;
    uint64_t z_addr, z_len;
};

enum pvh_gdb_stop_kind { PVH_GDB_STOP_TRAP, PVH_GDB_STOP_INTERRUPT, PVH_GDB_STOP_SW, PVH_GDB_STOP_HW,
                         PVH_GDB_STOP_WATCH, PVH_GDB_STOP_STEP };

struct pvh_gdb_stop {
    enum pvh_gdb_stop_kind kind;
    unsigned vcpu;
    uint64_t watch_addr;
    unsigned watch_type; /* 2 write, 4 access */
};

struct pvh_gdb {
    struct pvh_vm *vm;
    int listen_fd, conn_fd, event_fd;
    bool elf64;
    enum pvh_gdb_arch arch;        /* chosen when gdb connects */
    bool warned_long_mode;

    pthread_mutex_t lock;
    pthread_cond_t cond;           /* parked vCPUs wait here; the I/O thread waits for them */
    atomic_bool hold[PVH_MAX_CPUS];/* vCPU i must park at the top of its loop */
    unsigned nparked;              /* under lock */
    bool stop_pending;             /* under lock: a vCPU recorded `pending` for the I/O thread */
    struct pvh_gdb_stop pending;

    /* The I/O thread's from here. vCPU threads read the breakpoints and
     * debug state while they run; they change only while every vCPU is
     * parked (the lock orders the two). */
    bool running;                  /* vCPUs resumed by gdb, which waits for a stop reply */
    struct pvh_gdb_stop last;      /* answer to '?' */
    unsigned cur;                  /* vCPU for registers, memory and breakpoint translation */
    bool no_ack, swbreak, hwbreak;
    struct pvh_gdb_sw_bp sw[PVH_GDB_MAX_SW_BP];
    struct pvh_gdb_hw_slot hw[PVH_GDB_HW_SLOTS];
    int step_vcpu;                 /* -1: none */
    bool blockirq;                 /* KVM takes KVM_GUESTDBG_BLOCKIRQ */
    struct kvm_guest_debug applied[PVH_MAX_CPUS];

    struct pvh_gdb_framer framer;
    struct pvh_gdb_reply reply;
    uint8_t frame[PVH_GDB_MAX_FRAME];
    size_t frame_len;              /* the last reply, resent on '-' */
};

/* gdb.c: the socket (bound and listening, watched on vm->loop) and the
 * stub, vm->gdb. --gdb-wait holds every vCPU from the start. */
int pvh_gdb_create(struct pvh_vm *vm, bool elf64, struct pvh_error *err);
/* After the I/O thread stopped: tells a waiting gdb how the VM ended, closes. */
void pvh_gdb_destroy(struct pvh_vm *vm);
/* vCPU threads */
static inline bool pvh_gdb_must_park(struct pvh_gdb *g, unsigned vcpu)
{
    return atomic_load(&g->hold[vcpu]);
}
void pvh_gdb_park(struct pvh_gdb *g, unsigned vcpu);
void pvh_gdb_debug_exit(struct pvh_vcpu *v);
/* main, once the VM is ending: parked vCPUs leave their wait */
void pvh_gdb_vm_ending(struct pvh_gdb *g);

/* gdb_target.c (the I/O thread, every vCPU parked, unless said) */
int pvh_gdb_read_regs(struct pvh_gdb *g, unsigned vcpu, struct pvh_gdb_regs *r);
int pvh_gdb_write_regs(struct pvh_gdb *g, unsigned vcpu, const struct pvh_gdb_regs *r);
bool pvh_gdb_in_long_mode(struct pvh_gdb *g, unsigned vcpu);
size_t pvh_gdb_read_mem(struct pvh_gdb *g, uint64_t addr, uint8_t *buf, size_t len);
size_t pvh_gdb_write_mem(struct pvh_gdb *g, uint64_t addr, const uint8_t *buf, size_t len);
/* Z/z: 0 done, 1 unsupported (empty reply), -1 failed (an error reply) */
int pvh_gdb_insert_bp(struct pvh_gdb *g, unsigned type, uint64_t addr, uint64_t len);
int pvh_gdb_remove_bp(struct pvh_gdb *g, unsigned type, uint64_t addr, uint64_t len);
void pvh_gdb_remove_all_bps(struct pvh_gdb *g);
/* KVM_SET_GUEST_DEBUG on every vCPU for the breakpoints and step_vcpu. */
int pvh_gdb_apply_debug(struct pvh_gdb *g);
/* vCPU thread: is this KVM_EXIT_DEBUG gdb's? *s says which stop; when it
 * is the guest's own #BP or #DB, it is given back to the guest. */
bool pvh_gdb_classify_exit(struct pvh_gdb *g, struct pvh_vcpu *v, struct pvh_gdb_stop *s);

#endif
