/* virtio-rng (vmm/virtio/rng.h): the token bucket, the pool of bytes drawn
 * from the source, serving requestq chains, and waking up again (timerfd on
 * the I/O thread, or pvh_rng_poll from tests).
 *
 * A run serves chains while the pool has bytes or the bucket allows drawing
 * more, at most a queue's worth of chains (a guest that refills the queue as
 * fast as it empties cannot keep the device in one run). It stops:
 *   - the queue is empty: asks the driver for a notification (arm_notify);
 *   - the bucket ran dry: wakes when it holds resume_bytes (10 ms of
 *     refill) again, and takes a new chain only then, so that a throttled
 *     guest gets grants of resume_bytes, not a byte per notification;
 *   - the source failed: wakes after PVH_RNG_RETRY_NS;
 *   - a queue's worth served: wakes at once (the I/O thread serves its other
 *     fds first).
 * Tokens are spent when bytes are drawn from the source, so what the guest
 * gets is at most what the bucket allowed. A chain the spec forbids (a
 * device-readable buffer, or no writable byte: 5.4.6.1) is returned with 0
 * bytes and counted in stats.errors; the device goes on (its queue is
 * intact, and an unused buffer costs the host nothing). */
#include "rng.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "../clock.h"
#include "pvhboot/layout.h"

#define NS_PER_S 1000000000ull
#define EINTR_RETRIES 8

static struct pvh_rng *rng_of(struct pvh_virtio_dev *d)
{
    return d->impl;
}

static ssize_t system_source(void *ctx, void *buf, size_t len, unsigned flags)
{
    (void)ctx;
    return getrandom(buf, len, flags);
}

static uint64_t now(const struct pvh_rng *r)
{
    return r->cfg.now_ns(r->cfg.clock_ctx);
}

/* --- the token bucket, in units of 1e-9 byte so that no refill rounds away */

static void refill(struct pvh_rng *r)
{
    uint64_t t = now(r);
    uint64_t elapsed = t > r->last_ns ? t - r->last_ns : 0;
    r->last_ns = t > r->last_ns ? t : r->last_ns;
    uint64_t room = r->credit_max - r->credit;
    /* elapsed * rate may overflow; past the time that fills the bucket it is full anyway */
    if (elapsed >= room / r->cfg.bytes_per_s + 1)
        r->credit = r->credit_max;
    else
        r->credit += elapsed * r->cfg.bytes_per_s < room ? elapsed * r->cfg.bytes_per_s : room;
}

static uint64_t tokens(const struct pvh_rng *r)
{
    return r->credit / NS_PER_S;
}

/* Nanoseconds until the bucket holds resume_bytes. */
static uint64_t time_to_resume(const struct pvh_rng *r)
{
    uint64_t want = r->resume_bytes * NS_PER_S;
    if (r->credit >= want)
        return 0;
    return (want - r->credit + r->cfg.bytes_per_s - 1) / r->cfg.bytes_per_s;
}

/* --- waking up again */

static void schedule(struct pvh_rng *r, uint64_t delay_ns)
{
    if (delay_ns == 0)
        delay_ns = 1; /* a timerfd with a zero value is disarmed */
    r->wake_at = now(r) + delay_ns;
    if (r->timer_fd < 0)
        return;
    struct itimerspec its = {.it_value = {(time_t)(delay_ns / NS_PER_S), (long)(delay_ns % NS_PER_S)}};
    timerfd_settime(r->timer_fd, 0, &its, NULL);
}

static void cancel_wake(struct pvh_rng *r)
{
    r->wake_at = 0;
    if (r->timer_fd >= 0) {
        struct itimerspec off = {{0, 0}, {0, 0}};
        timerfd_settime(r->timer_fd, 0, &off, NULL);
    }
}

/* --- the pool of drawn bytes */

enum stop { STOP_EMPTY, STOP_BUDGET, STOP_THROTTLED, STOP_SOURCE, STOP_BROKEN };

/* Draws up to what the bucket allows (and the pool holds) from the source,
 * when the bucket holds a byte, or min bytes once it ran dry (starved).
 * 1: the pool has bytes; 0 with *why: it could not get any. After a failure
 * the source is not asked again in the same run. */
static int fill_pool(struct pvh_rng *r, uint64_t min, enum stop *why)
{
    *why = STOP_SOURCE;
    if (r->source_down)
        return 0;
    refill(r);
    uint64_t allowed = tokens(r);
    if (allowed < (r->starved ? min : 1)) {
        r->starved = true;
        *why = STOP_THROTTLED;
        return 0;
    }
    r->starved = false;
    size_t want = allowed < sizeof(r->pool) ? (size_t)allowed : sizeof(r->pool);
    ssize_t got = -1;
    for (int i = 0; i < EINTR_RETRIES; i++) {
        got = r->cfg.source(r->cfg.source_ctx, r->pool, want, GRND_NONBLOCK);
        if (got >= 0 || errno != EINTR)
            break;
    }
    if (got <= 0 || (size_t)got > want) {
        /* EAGAIN: the host's pool is not initialised yet; other errors: counted */
        if (got != -1 || (errno != EAGAIN && errno != EINTR)) {
            r->source_errors++;
            r->dev.stats.errors++;
        }
        r->source_down = true;
        return 0;
    }
    r->credit -= (uint64_t)got * NS_PER_S; /* a short read spends only what it gave */
    r->drawn += (uint64_t)got;
    r->pool_off = 0;
    r->pool_len = (size_t)got;
    return 1;
}

/* Bytes to give: the pool's, or fresh ones (see fill_pool for min). */
static int have_bytes(struct pvh_rng *r, uint64_t min, enum stop *why)
{
    return r->pool_len > 0 || fill_pool(r, min, why);
}

/* --- serving chains */

/* Fills the chain's writable bytes from the pool, drawing more while the
 * bucket allows; returns the bytes written (at least 1: the pool had some). */
static uint64_t fill_chain(struct pvh_rng *r, const struct pvh_vchain *c)
{
    uint64_t done = 0;
    enum stop why;
    while (done < c->writable && have_bytes(r, 1, &why)) {
        size_t n = c->writable - done < r->pool_len ? (size_t)(c->writable - done) : r->pool_len;
        pvh_vchain_write(c, (size_t)done, r->pool + r->pool_off, n);
        r->pool_off += n;
        r->pool_len -= n;
        done += n;
    }
    return done;
}

static void serve_chain(struct pvh_rng *r, struct pvh_virtq *q)
{
    const struct pvh_vchain *c = r->chain;
    uint64_t written = 0;
    if (c->readable || !c->writable)
        r->dev.stats.errors++; /* the driver broke 5.4.6.1: returned unused */
    else
        written = fill_chain(r, c);
    /* used.len is 32 bits; the bucket (at most 1 GiB) bounds what one chain gets */
    pvh_virtq_push(q, c->head, (uint32_t)written);
    r->dev.stats.requests++;
    r->dev.stats.bytes += written;
}

static enum stop serve_chains(struct pvh_rng *r, struct pvh_virtq *q, unsigned *budget)
{
    struct pvh_error err;
    for (;;) {
        enum stop why;
        if (*budget == 0)
            return STOP_BUDGET;
        if (!have_bytes(r, r->resume_bytes, &why)) /* starved: a new chain only for resume_bytes */
            return why;
        int got = pvh_virtq_pop(q, r->chain, &err);
        if (got == 0)
            return STOP_EMPTY;
        if (got < 0) {
            pvh_virtio_fail(&r->dev, &err);
            return STOP_BROKEN;
        }
        (*budget)--;
        serve_chain(r, q);
    }
}

static void run(struct pvh_rng *r)
{
    struct pvh_virtq *q = &r->dev.q[0];
    unsigned budget = q->size;
    enum stop why;
    r->source_down = false;
    do
        why = serve_chains(r, q, &budget);
    while (why == STOP_EMPTY && pvh_virtq_arm_notify(q));
    if (budget < q->size)
        pvh_virtio_used(&r->dev, 0);
    switch (why) {
    case STOP_BUDGET: schedule(r, 0); break;
    case STOP_THROTTLED: r->throttled++; schedule(r, time_to_resume(r)); break;
    case STOP_SOURCE: schedule(r, PVH_RNG_RETRY_NS); break;
    case STOP_EMPTY: case STOP_BROKEN: break;
    }
}

static bool can_serve(const struct pvh_virtio_dev *d)
{
    return pvh_virtio_running(d) && d->q[0].ready;
}

/* --- device-type operations */

static void rng_queue_notify(struct pvh_virtio_dev *d, unsigned queue)
{
    (void)queue; /* the transport only calls this for queue 0, the only one */
    run(rng_of(d));
}

static void rng_reset(struct pvh_virtio_dev *d)
{
    cancel_wake(rng_of(d)); /* the bucket and the pool stay: they are host state */
}

const struct pvh_virtio_device_ops pvh_rng_ops = {
    .name = "virtio-rng", .device_id = PVH_VIRTIO_ID_RNG, .nqueues = 1, .queue_max = PVH_RNG_QUEUE_MAX,
    .features = 0, .config_size = 0, .queue_notify = rng_queue_notify, .reset = rng_reset,
};

void pvh_rng_poll(struct pvh_virtio_dev *d)
{
    struct pvh_rng *r = rng_of(d);
    pthread_mutex_lock(&d->lock);
    r->wake_at = 0;
    if (can_serve(d))
        run(r);
    pthread_mutex_unlock(&d->lock);
}

uint64_t pvh_rng_wake_at(struct pvh_virtio_dev *d)
{
    pthread_mutex_lock(&d->lock);
    uint64_t t = rng_of(d)->wake_at;
    pthread_mutex_unlock(&d->lock);
    return t;
}

static void on_timer(void *arg, uint32_t events)
{
    struct pvh_rng *r = arg;
    uint64_t expirations;
    (void)events;
    if (read(r->timer_fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
        return;
    pvh_rng_poll(&r->dev);
}

/* --- setup */

static int resolve_config(struct pvh_rng_config *c, const struct pvh_rng_config *in, struct pvh_error *err)
{
    *c = in ? *in : (struct pvh_rng_config){0};
    if (!c->bytes_per_s)
        c->bytes_per_s = PVH_RNG_DEFAULT_RATE;
    if (!c->burst)
        c->burst = PVH_RNG_DEFAULT_BURST;
    if (!c->now_ns)
        c->now_ns = pvh_now_ns_cb;
    if (!c->source)
        c->source = system_source;
    if (c->bytes_per_s > PVH_RNG_MAX_RATE)
        return pvh_fail(err, PVH_E_INPUT, "virtio-rng: a rate of %llu bytes/s is over the limit of %llu",
                        (unsigned long long)c->bytes_per_s, PVH_RNG_MAX_RATE);
    if (c->burst > PVH_RNG_MAX_BURST)
        return pvh_fail(err, PVH_E_INPUT, "virtio-rng: a burst of %llu bytes is over the limit of %llu",
                        (unsigned long long)c->burst, PVH_RNG_MAX_BURST);
    return 0;
}

/* A throttled device wakes when the bucket holds 10 ms of refill (at most
 * 100 wake-ups a second), never more than the burst, at least 1 byte. */
static uint64_t resume_threshold(const struct pvh_rng_config *c)
{
    uint64_t b = c->bytes_per_s / 100;
    return b == 0 ? 1 : b > c->burst ? c->burst : b;
}

static int start_timer(struct pvh_rng *r, struct pvh_error *err)
{
    const struct pvh_virtio_env *env = &r->dev.env;
    r->timer_fd = -1;
    if (!env->watch)
        return 0;
    r->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (r->timer_fd < 0)
        return pvh_fail(err, PVH_E_SYSTEM, "virtio-rng: cannot create its timerfd: %s", strerror(errno));
    if (env->watch(env->ctx, r->timer_fd, EPOLLIN, on_timer, r) != 0) {
        close(r->timer_fd);
        r->timer_fd = -1;
        return pvh_fail(err, PVH_E_SYSTEM, "virtio-rng: the I/O thread would not watch its timerfd");
    }
    return 0;
}

int pvh_rng_init(struct pvh_rng *r, const struct pvh_rng_config *cfg, const struct pvh_virtio_env *env,
                 uint64_t base, uint32_t gsi, struct pvh_error *err)
{
    memset(r, 0, sizeof(*r));
    r->timer_fd = -1;
    if (resolve_config(&r->cfg, cfg, err))
        return -1;
    if (!(r->chain = pvh_vchain_new()))
        return pvh_fail(err, PVH_E_SYSTEM, "virtio-rng: out of memory");
    r->credit_max = r->credit = r->cfg.burst * NS_PER_S; /* starts full */
    r->last_ns = now(r);
    r->resume_bytes = resume_threshold(&r->cfg);
    pvh_virtio_init(&r->dev, &pvh_rng_ops, r, env, base, gsi);
    if (start_timer(r, err)) {
        pvh_virtio_destroy(&r->dev);
        free(r->chain);
        r->chain = NULL;
        return -1;
    }
    return 0;
}

void pvh_rng_destroy(struct pvh_rng *r)
{
    if (r->timer_fd >= 0)
        close(r->timer_fd);
    r->timer_fd = -1;
    pvh_virtio_destroy(&r->dev);
    free(r->chain);
    r->chain = NULL;
}
