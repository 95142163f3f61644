/* The KVM machine's public API: boot one PVH kernel with its modules and
 * run it to the end. The CLI fills a config; the VMM returns how the guest
 * ended. Everything KVM-specific stays behind this header. */
#ifndef PVHBOOT_VMM_H
#define PVHBOOT_VMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pvhboot/error.h"
#include "pvhboot/guestmem.h"
#include "pvhboot/plan.h"

enum pvh_serial_mode { PVH_SERIAL_STDIO, PVH_SERIAL_FILE, PVH_SERIAL_NONE };
/* The debug console on port 0xe9 (--debugcon): none (no device) by default. */
enum pvh_debugcon_mode { PVH_DEBUGCON_NONE, PVH_DEBUGCON_STDIO, PVH_DEBUGCON_FILE };

struct pvh_vm_module {
    const char *path;
    const char *cmdline; /* NULL: none */
};

/* A virtio-blk disk (--drive). */
enum pvh_cache_mode { PVH_CACHE_WRITEBACK, PVH_CACHE_NONE };
struct pvh_vm_drive {
    const char *path;
    const char *id;                /* serial the guest reads (GET_ID); NULL: from the file name */
    bool read_only;
    enum pvh_cache_mode cache;     /* writeback: the page cache; none: O_DIRECT */
    bool root;                     /* the API's is_root_device: only recorded (a snapshot keeps it) */
    bool api_writeback;            /* the API's cache_type "Writeback", else "Unsafe" (both run as `cache`
                                      says): only recorded, likewise, for GET /vm/config after a load */
};
#define PVH_MAX_DRIVES 16

/* A virtio-net NIC on a host TAP device (--net tap=NAME[,mac=MAC][,mtu=N]). */
struct pvh_vm_net {
    const char *tap;               /* the TAP's name; created when it does not exist (root only) */
    bool has_mac;
    uint8_t mac[6];                /* has_mac false: derived from the TAP's name (docs/virtio-net.md) */
    unsigned mtu;                  /* 0: the TAP's own; else the TAP's MTU is set to it */
    const char *id;                /* the API's iface_id (NULL: none); a snapshot records it, and a restore's
                                      override with an id goes to the NIC that has it (else the i-th NIC) */
};
#define PVH_MAX_NETS 8
#define PVH_NET_ID_MAX 64          /* an iface_id: 1 to 64 letters, digits and '_' (Firecracker's) */

/* A TAP's name as pvhboot takes it (--net, the API's host_dev_name): 1 to
 * PVH_TAP_NAME_MAX printable characters other than / : % and spaces, not
 * "." or "..". Each caller says what is wrong in its own words. */
#define PVH_TAP_NAME_MAX 15 /* IFNAMSIZ - 1 */
enum pvh_tap_name_verdict { PVH_TAP_NAME_OK, PVH_TAP_NAME_BAD_LENGTH, PVH_TAP_NAME_BAD_CHAR };
enum pvh_tap_name_verdict pvh_tap_name_check(const char *name);

/* A MAC address "xx:xx:xx:xx:xx:xx": six hex pairs, each pair but the last
 * followed by one of `separators`; into mac even when the verdict is not OK. */
enum pvh_mac_verdict { PVH_MAC_OK, PVH_MAC_MALFORMED, PVH_MAC_MULTICAST, PVH_MAC_ZERO };
enum pvh_mac_verdict pvh_mac_parse(const char *s, const char *separators, uint8_t mac[6]);
/* virtio-vsock (--vsock cid=N,uds=PATH): Firecracker's hybrid vsock, the
 * guest's CID and the host's UNIX socket (uds_path NULL: no device). */
struct pvh_vm_vsock {
    uint64_t cid;
    const char *uds_path;
};

/* virtio-rng: on by default when the machine has any other virtio device. */
enum pvh_rng_mode { PVH_RNG_AUTO, PVH_RNG_ON, PVH_RNG_OFF };
/* The console stdin/stdout attach to: COM1 (default) or virtio-console (hvc0). */
enum pvh_console_mode { PVH_CONSOLE_SERIAL, PVH_CONSOLE_VIRTIO };
/* --gdb: the gdb stub's socket (docs/gdb.md). */
enum pvh_gdb_transport { PVH_GDB_OFF, PVH_GDB_TCP, PVH_GDB_UNIX };

struct pvh_vm_control; /* a running VM, controlled from another thread (below) */

struct pvh_vm_config {
    const char *kernel;            /* a PVH ELF (a bzImage is extracted by the caller) */
    const char *kernel_name;       /* for messages: what the user named */
    const char *cmdline;
    size_t nmodules;               /* module 0 is the initrd */
    struct pvh_vm_module modules[PVH_MAX_MODULES];
    size_t ndrives;                /* virtio-blk disks, /dev/vda first */
    struct pvh_vm_drive drives[PVH_MAX_DRIVES];
    size_t nnets;                  /* virtio-net NICs, eth0 first, after the drives in slot order */
    struct pvh_vm_net nets[PVH_MAX_NETS];
    enum pvh_rng_mode rng;
    enum pvh_console_mode console;
    struct pvh_vm_vsock vsock;
    uint64_t ram_size;
    unsigned ncpus;
    enum pvh_serial_mode serial;
    const char *serial_path;       /* PVH_SERIAL_FILE */
    enum pvh_debugcon_mode debugcon;
    const char *debugcon_path;     /* PVH_DEBUGCON_FILE */
    unsigned timeout_s;            /* 0: none */
    bool verbose;
    bool sandbox;                  /* seccomp allow-list for the run loop */
    bool kaslr;                    /* random physical load address */
    uint64_t seed;                 /* for kaslr */
    bool drop_user;                /* --user: drop root after setup */
    unsigned uid, gid;
    const char *kvm_device;        /* default /dev/kvm */
    enum pvh_load_mode load;       /* kernel and modules: mapped from the file (default) or copied */
    bool dry_run;                  /* set up guest RAM, load, write boot data; no KVM, no run */
    uint64_t start_ns;             /* CLOCK_MONOTONIC at process start */
    enum pvh_gdb_transport gdb;    /* --gdb: off, TCP on 127.0.0.1, or a UNIX socket */
    uint16_t gdb_port;             /* PVH_GDB_TCP */
    const char *gdb_path;          /* PVH_GDB_UNIX */
    bool gdb_wait;                 /* --gdb-wait: every vCPU stopped before its first instruction */
    struct pvh_vm_control *control; /* the API server's handle on the VM; NULL: none */
    bool api_server;               /* an API server shares the process: its socket calls stay allowed */
    const char *snapshot_file;     /* --snapshot-file: the state file (NULL: no snapshots) */
    const char *snapshot_mem_file; /* --mem-file: guest memory's file (sparse) */
    bool snapshot_on_port;         /* --snapshot-on-port: the guest asks through PVH_SNAPSHOT_PORT (layout.h) */
    bool snapshot_continue;        /* --snapshot-continue: run on after a snapshot (else the VM ends) */
    bool snapshot_diff;            /* --snapshot-diff: the first snapshot full, later ones only dirtied pages */
    const char *const *restore_mem_diffs; /* restore --mem-diff: generations 1..N of the chain, in order */
    unsigned restore_mem_ndiffs;
    bool start_paused;             /* PUT /snapshot/load with resume_vm false: the vCPUs start parked */
};

enum pvh_vm_end {
    PVH_END_DEBUG_EXIT,   /* the guest wrote its status to port 0xf4 */
    PVH_END_POWEROFF,     /* ACPI S5 */
    PVH_END_RESET,        /* i8042 reset or KVM system reset */
    PVH_END_TIMEOUT,
    PVH_END_ERROR,        /* the VMM or the guest failed: err says why */
    PVH_END_DRY_RUN,      /* --dry-run: the guest was set up, never run */
    PVH_END_SNAPSHOT,     /* a snapshot was written (without --snapshot-continue) */
};

#define PVH_STATS_UNHANDLED 32
#define PVH_STATS_VCPUS 8 /* vCPUs whose last rip and rflags the stats keep */
#define PVH_DEVICE_NAME_MAX 128 /* a longer drive file name is cut to 127 bytes; the stats are zeroed on every run (PATH_MAX each cost ~85,000 instructions of memset in tests/bench/load.t) */

/* One virtio device: where the plan put it and what it did. */
struct pvh_device_stats {
    uint32_t virtio_id;         /* enum pvh_virtio_id */
    char name[PVH_DEVICE_NAME_MAX]; /* the drive's file, the TAP, "rng", "console": a copy, since the
                                       strings the devices were named by may be gone when the stats
                                       are read (restore's, from the snapshot's VIRTIO section) */
    uint64_t base;              /* its MMIO window */
    uint32_t gsi;
    uint64_t requests, bytes, notifications, interrupts, errors;
    char last_error[160];       /* why it last needed a reset; "" when never */
};

struct pvh_vm_stats {
    uint64_t ns_loaded;         /* process start -> kernel, modules and boot data in guest RAM (restore:
                                   -> the machine rebuilt and every state set) */
    bool restored;              /* pvh_vm_restore: no kernel was loaded */
    uint64_t ns_load;           /* of which loading them (pvh_guestmem_load + boot data) */
    uint64_t bytes_mapped;      /* kernel and module bytes mapped from their files */
    uint64_t bytes_copied;      /* ... and copied */
    uint64_t ns_first_run;      /* process start -> first KVM_RUN (0: never) */
    uint64_t ns_first_serial;   /* process start -> the guest's first serial byte */
    uint64_t ns_end;            /* process start -> the VM's end */
    uint64_t ns_snapshot_asked; /* process start -> the last snapshot asked for (port, SIGUSR2; 0: none) */
    uint64_t ns_snapshot_written; /* process start -> its files written and synced (0: none) */
    uint64_t exits_io, exits_mmio, exits_hlt, exits_intr, exits_shutdown, exits_system_event, exits_other;
    uint64_t serial_bytes;
    size_t nunhandled;          /* port/MMIO addresses no device claimed */
    struct { uint64_t addr; int mmio; uint64_t reads, writes; } unhandled[PVH_STATS_UNHANDLED];
    uint64_t unhandled_other;   /* accesses beyond the table */
    uint64_t rss_kib;           /* VmRSS at the end */
    uint64_t rss_peak_kib;      /* VmHWM: the process's peak RSS */
    uint64_t guest_resident_kib;/* of which guest RAM pages (counted with --verbose only) */
    bool guest_resident_known;  /* false when /proc/self/pagemap could not be read (after --user) */
    size_t ndevices;
    struct pvh_device_stats devices[PVH_MAX_VIRTIO_DEVICES];
    uint64_t kernel_load;       /* guest-physical address the kernel was loaded at */
    uint64_t entry, boot_info;  /* guest-physical entry point and %ebx (start_info, or the Multiboot MBI) */
    unsigned nvcpu_end;         /* vCPUs in vcpu_end: where each stood when the VM ended (a hang's place) */
    struct { uint64_t rip, rflags; } vcpu_end[PVH_STATS_VCPUS];
};

struct pvh_vm_result {
    enum pvh_vm_end end;
    int status;           /* PVH_END_DEBUG_EXIT: the guest's value & 0xff */
    struct pvh_vm_stats stats;
    /* --dry-run only: the kernel image and the plan the guest was set up by */
    struct pvh_image image;
    struct pvh_plan plan;
};

/* Builds and runs the VM. Returns 0 with *res filled when the guest ran to
 * an end (any end, timeouts and guest failures included: res->end says
 * which, err holds the reason for PVH_END_ERROR), -1 when it could not be
 * set up (err says why). */
int pvh_vm_run(const struct pvh_vm_config *cfg, struct pvh_vm_result *res, struct pvh_error *err);

/* `pvhboot restore`: rebuilds the machine a snapshot describes (its vCPU
 * count and RAM from the state file; serial, timeout, sandbox and the rest
 * from cfg), checks this host's CPUID and KVM against it, maps mem_file
 * privately (copy-on-write) as guest RAM, sets every saved state and runs
 * to the end as pvh_vm_run does. A state file that cannot be used is -1
 * with PVH_E_INPUT and one line naming the file and what is wrong. */
int pvh_vm_restore(const struct pvh_vm_config *cfg, const char *state_file, const char *mem_file,
                   struct pvh_vm_result *res, struct pvh_error *err);

/* The handle another thread (the API server) holds while pvh_vm_run runs
 * the VM whose cfg->control it is (vmm/control.c). */
struct pvh_vm_control *pvh_vm_control_new(void);
void pvh_vm_control_free(struct pvh_vm_control *c);
/* Blocks until that VM's guest runs (0), or its setup failed or it ended (-1). */
int pvh_vm_control_wait_running(struct pvh_vm_control *c);
/* The caller of pvh_vm_run says it is over (also when it never got there). */
void pvh_vm_control_end(struct pvh_vm_control *c);
/* Paused: every vCPU stopped outside KVM_RUN (returns once they are);
 * resumed: they go on. -1 with err when the VM is not running. */
int pvh_vm_pause(struct pvh_vm_control *c, bool paused, struct pvh_error *err);
/* Ctrl-Alt-Del typed on the i8042's keyboard (IRQ 1); -1 when not running. */
int pvh_vm_ctrl_alt_del(struct pvh_vm_control *c, struct pvh_error *err);
/* The counters --verbose prints, as they are now: the virtio devices', the
 * VM exits, serial bytes, unclaimed accesses (the rest of *st untouched).
 * -1 with err when the VM is not running. */
int pvh_vm_counters(struct pvh_vm_control *c, struct pvh_vm_stats *st, struct pvh_error *err);
/* The running VM as it is now, for the API after PUT /snapshot/load: its
 * vCPU count and RAM (a restored one's are its snapshot's) and its virtio
 * devices into cfg's ncpus, ram_size, drives (each with its file now: after
 * restore's --drive and any PATCH /drives), nets and vsock (after restore's
 * overrides) and rng (on or off). Their strings are copies in one block,
 * *strings, which the caller frees (after cfg's last use). -1 with err when
 * it is not running or out of memory: cfg is then untouched. */
int pvh_vm_config_now(struct pvh_vm_control *c, struct pvh_vm_config *cfg, char **strings, struct pvh_error *err);
/* PATCH /drives/{id}: the running VM's drive `id` (its pvh_vm_drive.id)
 * on the file at path, opened and locked before the old one is let go; the
 * guest sees a configuration change (the new capacity). -1 with err (one
 * line) when it is not running, has no such drive, or the file cannot be
 * used: the drive then keeps its file. */
int pvh_vm_swap_drive(struct pvh_vm_control *c, const char *id, const char *path, struct pvh_error *err);
/* PUT /snapshot/create: the paused VM's state file and memory file written
 * at these paths (created or truncated, mode 0600) and synced; it stays
 * paused. -1 with err (one line) when it is not running, not paused, has a
 * device that cannot be saved, or a file cannot be written. */
int pvh_vm_snapshot_create(struct pvh_vm_control *c, const char *state_path, const char *mem_path,
                           struct pvh_error *err);

#endif
