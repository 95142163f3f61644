/* virtio devices over the virtio-mmio transport (version 2, virtio 1.2 4.2):
 * the transport's registers and state machine (mmio.c), and the contract a
 * device type (blk.c, rng.c, console.c, ...) fulfils: its ID, features,
 * queues, configuration space and a handler for available buffers.
 *
 * Threads: every entry point runs under the device's lock (the MMIO bus
 * takes it for register accesses; pvh_virtio_notify and a device's own fd
 * handlers take it on the I/O thread). A device reaches the machine only
 * through pvh_virtio_env, so unit tests and fuzzers run it on fake RAM. */
#ifndef PVHBOOT_VMM_VIRTIO_H
#define PVHBOOT_VMM_VIRTIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "../bus.h"
#include "pvhboot/guestmem.h"
#include "queue.h"
#include "virtio_defs.h"

#define PVH_VIRTIO_MAX_QUEUES 8

struct pvh_virtio_dev;

/* What a device needs from the machine. */
struct pvh_virtio_env {
    void *ctx;
    const struct pvh_guestmem *mem;
    /* An edge on the device's GSI (the VMM: a write to its irqfd). */
    void (*interrupt)(void *ctx, uint32_t gsi);
    /* A QueueNotify write reached the transport: hand it to the I/O thread
     * (the VMM: a write to that queue's eventfd). NULL: the device's
     * handler runs at once on the caller's thread (tests, fuzzers). */
    void (*kick)(void *ctx, struct pvh_virtio_dev *d, unsigned queue);
    /* Watch fd on the I/O thread: cb(arg, epoll events) runs there (it takes
     * the device's lock itself). NULL where there is no I/O thread. */
    int (*watch)(void *ctx, int fd, uint32_t events, void (*cb)(void *arg, uint32_t events), void *arg);
    /* Stops (on false) or resumes reporting a watched fd's events, e.g. a
     * TAP's while the guest has no buffer for its frames. On the I/O thread
     * only (from a watch's or a queue's handler). NULL where watch is. */
    int (*watch_enable)(void *ctx, int fd, bool on);
    /* Stop watching fd: only from a watch callback on the I/O thread (a
     * device closing a socket there). NULL where there is no I/O thread. */
    void (*unwatch)(void *ctx, int fd);
};

/* A device type. */
struct pvh_virtio_device_ops {
    const char *name;           /* "virtio-blk" */
    uint32_t device_id;         /* enum pvh_virtio_id */
    unsigned nqueues;           /* at most PVH_VIRTIO_MAX_QUEUES */
    uint16_t queue_max;         /* QueueNumMax: a power of two, at most PVH_VIRTQ_MAX_SIZE */
    uint64_t features;          /* device-specific bits; the transport adds VERSION_1, EVENT_IDX, INDIRECT_DESC */
    uint32_t config_size;       /* bytes of device configuration space */
    /* off + len <= config_size, len 1, 2, 4 or 8 */
    void (*config_read)(struct pvh_virtio_dev *d, uint32_t off, uint8_t *data, unsigned len);
    void (*config_write)(struct pvh_virtio_dev *d, uint32_t off, const uint8_t *data, unsigned len); /* NULL: read-only */
    /* The driver made buffers available on a ready queue of a running device. */
    void (*queue_notify)(struct pvh_virtio_dev *d, unsigned queue);
    void (*activate)(struct pvh_virtio_dev *d); /* DRIVER_OK was set; NULL: nothing to do */
    void (*reset)(struct pvh_virtio_dev *d);    /* the driver reset the device; NULL: nothing to do */
};

/* What --verbose prints for each device. */
struct pvh_virtio_stats {
    uint64_t requests, bytes, notifications, interrupts, errors;
};

struct pvh_virtio_dev {
    pthread_mutex_t lock;
    const struct pvh_virtio_device_ops *ops;
    void *impl;                 /* the device type's own state */
    struct pvh_virtio_env env;
    uint64_t base;              /* MMIO window */
    uint32_t gsi;
    /* transport state, as the driver set it */
    uint32_t status, isr;
    uint32_t device_features_sel, driver_features_sel, queue_sel, config_generation;
    uint64_t driver_features;
    bool broken;                /* DEVICE_NEEDS_RESET: no queue is served until a reset */
    struct pvh_virtq q[PVH_VIRTIO_MAX_QUEUES];
    int notify_fd[PVH_VIRTIO_MAX_QUEUES]; /* the VMM's eventfd per queue, -1 when none */
    struct pvh_virtio_stats stats;
    char last_error[160];       /* why the device last needed a reset */
};

/* The MMIO window's bus operations (dev = struct pvh_virtio_dev). */
extern const struct pvh_dev_ops pvh_virtio_mmio_ops;

void pvh_virtio_init(struct pvh_virtio_dev *d, const struct pvh_virtio_device_ops *ops, void *impl,
                     const struct pvh_virtio_env *env, uint64_t base, uint32_t gsi);
void pvh_virtio_destroy(struct pvh_virtio_dev *d);

/* The features this device offers (its own plus the transport's). */
uint64_t pvh_virtio_offered(const struct pvh_virtio_dev *d);

/* DRIVER_OK set and not broken: queues may be served. */
bool pvh_virtio_running(const struct pvh_virtio_dev *d);

/* Queue `queue` has buffers (an ioeventfd fired, or a kick): takes the lock,
 * counts the notification and calls the device's handler when the queue is
 * ready and the device running. */
void pvh_virtio_notify(struct pvh_virtio_dev *d, unsigned queue);

/* After pushing used buffers on `queue`: interrupts the driver when it
 * asked for it. Lock held. */
void pvh_virtio_used(struct pvh_virtio_dev *d, unsigned queue);

/* The driver broke the rules (err says how): counted, remembered, the device
 * set DEVICE_NEEDS_RESET and the driver told by a configuration interrupt.
 * Lock held. */
void pvh_virtio_fail(struct pvh_virtio_dev *d, const struct pvh_error *err);

/* The device's configuration changed: new generation, configuration
 * interrupt. Lock held. */
void pvh_virtio_config_changed(struct pvh_virtio_dev *d);

#endif
