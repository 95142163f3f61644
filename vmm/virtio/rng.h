/* virtio-rng, the entropy device (virtio 1.2 5.4; device ID 4): one queue,
 * requestq, whose device-writable buffers the device fills with bytes from
 * the host's getrandom(2), rate-limited by a token bucket so that a guest
 * cannot make the host generate randomness without bound. When the bucket is
 * empty the device stops taking chains and comes back by itself later: the
 * VMM's I/O thread runs it again from a timerfd (env->watch); without an I/O
 * thread (tests, fuzzers) the caller runs pvh_rng_poll() once its clock has
 * moved. The bucket is host state: a device reset does not refill it. */
#ifndef PVHBOOT_VMM_VIRTIO_RNG_H
#define PVHBOOT_VMM_VIRTIO_RNG_H

#include <stdint.h>
#include <sys/types.h>

#include "virtio.h"

/* 1 MiB/s with a 64 KiB burst: Linux's virtio-rng driver keeps one request
 * of a cache line (32-64 bytes) posted, and /dev/hwrng readers go through
 * the same small buffer, so a booting guest never notices the limit (its
 * first seeding takes one request), while a guest that loops on the queue
 * costs the host at most about 1 MiB/s of getrandom. */
#define PVH_RNG_DEFAULT_RATE (1ull << 20)  /* bytes per second */
#define PVH_RNG_DEFAULT_BURST (64ull << 10) /* bytes the bucket holds */
#define PVH_RNG_MAX_RATE (1ull << 30)      /* what pvh_rng_init accepts */
#define PVH_RNG_MAX_BURST (1ull << 30)
#define PVH_RNG_QUEUE_MAX 64               /* QueueNumMax */
#define PVH_RNG_POOL 4096                  /* bytes drawn from the source at a time */
#define PVH_RNG_RETRY_NS 100000000ull      /* after the source failed: 100 ms */

/* The entropy source: getrandom(2)'s signature plus a context. */
typedef ssize_t pvh_rng_source_fn(void *ctx, void *buf, size_t len, unsigned flags);

struct pvh_rng_config {
    uint64_t bytes_per_s;            /* refill rate; 0: PVH_RNG_DEFAULT_RATE */
    uint64_t burst;                  /* bucket size; 0: PVH_RNG_DEFAULT_BURST */
    uint64_t (*now_ns)(void *ctx);   /* monotonic clock; NULL: CLOCK_MONOTONIC */
    void *clock_ctx;
    pvh_rng_source_fn *source;       /* NULL: getrandom(GRND_NONBLOCK) */
    void *source_ctx;
};

/* The device: the transport's state plus the rng's own. Caller-owned (about
 * 6 KiB). */
struct pvh_rng {
    struct pvh_virtio_dev dev;
    struct pvh_rng_config cfg;       /* defaults filled in */
    uint64_t credit;                 /* the bucket, in units of 1e-9 byte */
    uint64_t credit_max;             /* burst * 1e9 */
    uint64_t last_ns;                /* when the bucket was last refilled */
    uint64_t resume_bytes;           /* a throttled device waits for this many */
    uint64_t wake_at;                /* clock time it asked to run again; 0: none */
    int timer_fd;                    /* -1 without env->watch */
    uint64_t drawn;                  /* bytes taken from the source, ever */
    uint64_t throttled;              /* runs that stopped on an empty bucket */
    uint64_t source_errors;          /* source failures other than EAGAIN/EINTR */
    bool source_down;                /* the source failed in this run */
    bool starved;                    /* the bucket ran dry: wait for resume_bytes */
    size_t pool_off, pool_len;       /* drawn bytes not given out yet */
    uint8_t pool[PVH_RNG_POOL];
    struct pvh_vchain *chain;        /* the chain being served (scratch) */
};

extern const struct pvh_virtio_device_ops pvh_rng_ops;

/* Sets up r as a virtio-rng device at base/gsi. With env->watch, creates
 * the timerfd it wakes on and registers it (do this before the sandbox).
 * -1 (err) for a rate or burst over the limits, or a failed timerfd. */
int pvh_rng_init(struct pvh_rng *r, const struct pvh_rng_config *cfg, const struct pvh_virtio_env *env,
                 uint64_t base, uint32_t gsi, struct pvh_error *err);
void pvh_rng_destroy(struct pvh_rng *r);

/* Deferred work: the device asked to run again (the bucket refilled, the
 * source may work again, or it yielded after a queue's worth of chains).
 * The timerfd's handler calls this; tests call it after moving their
 * clock. Takes the device's lock. */
void pvh_rng_poll(struct pvh_virtio_dev *d);

/* The clock time at which the device wants pvh_rng_poll, 0 when it waits
 * for nothing but the driver. Takes the device's lock. */
uint64_t pvh_rng_wake_at(struct pvh_virtio_dev *d);

#endif
