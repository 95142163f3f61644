/* virtio-rng (vmm/virtio/rng.c) driven by tests/lib/virtio_driver.h on fake
 * guest RAM, with a simulated clock: random bytes arrive and differ, the
 * token bucket holds over simulated time (and across device resets), a
 * throttled device resumes when time moves (through pvh_rng_poll and
 * through its timerfd), a guest refilling the queue as fast as the device
 * empties it gets a queue's worth of chains per run, chains the spec
 * forbids come back empty and counted, and source failures (EINTR, short
 * reads, EAGAIN, other errors) are survived. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include <errno.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>

#include "../../vmm/virtio/rng.h"
#include "../lib/virtio_driver.h"

#define MS 1000000ull
#define GOOD_FEATURES (VIRTIO_F_VERSION_1_BIT | VIRTIO_RING_F_INDIRECT_DESC_BIT)

/* A scripted source: each call takes the next step (bytes to return, or
 * -errno); past the script it fills what was asked. */
struct script {
    int steps[8];
    unsigned n, at, calls;
    int rest; /* past the steps: bytes per call, 0 for all asked */
    void (*on_call)(void *ctx); /* the guest acting meanwhile (flood test) */
    void *ctx;
};

struct fixture {
    struct vdriver v;
    struct pvh_rng *r;
    uint64_t clock;
    struct script src;
    /* what env->watch was given */
    int watched_fd;
    void (*watched_cb)(void *arg, uint32_t events);
    void *watched_arg;
    int watch_result;
};

static uint64_t fake_now(void *ctx)
{
    return ((struct fixture *)ctx)->clock;
}

static ssize_t scripted_source(void *ctx, void *buf, size_t len, unsigned flags)
{
    struct script *s = ctx;
    (void)flags;
    s->calls++;
    if (s->on_call)
        s->on_call(s->ctx);
    int step = s->at < s->n ? s->steps[s->at++] : s->rest ? s->rest : (int)len;
    if (step < 0) {
        errno = -step;
        return -1;
    }
    size_t n = (size_t)step < len ? (size_t)step : len;
    for (size_t i = 0; i < n; i++)
        ((uint8_t *)buf)[i] = (uint8_t)(0x40 + s->calls + i);
    return (ssize_t)n;
}

static int fake_watch(void *ctx, int fd, uint32_t events, void (*cb)(void *arg, uint32_t events), void *arg)
{
    struct fixture *f = ctx;
    assert_int_equal(events, EPOLLIN);
    f->watched_fd = fd;
    f->watched_cb = cb;
    f->watched_arg = arg;
    return f->watch_result;
}

static struct fixture *new_fixture(void)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_int_equal(vd_ram_init(&f->v), 0);
    f->r = calloc(1, sizeof(*f->r));
    assert_non_null(f->r);
    f->clock = 1000 * MS;
    f->watched_fd = -1;
    return f;
}

/* A device with this rate and burst (0: defaults), the fake clock, and the
 * scripted source when scripted is true (else getrandom). */
static void start_device(struct fixture *f, uint64_t rate, uint64_t burst, bool scripted, bool watch)
{
    struct pvh_rng_config cfg = {.bytes_per_s = rate, .burst = burst, .now_ns = fake_now, .clock_ctx = f};
    if (scripted) {
        cfg.source = scripted_source;
        cfg.source_ctx = &f->src;
    }
    struct pvh_virtio_env env = vd_env(&f->v);
    if (watch) {
        env.watch = fake_watch;
        env.ctx = f; /* interrupts are not counted in this mode */
        env.interrupt = NULL;
    }
    struct pvh_error err;
    assert_int_equal(pvh_rng_init(f->r, &cfg, &env, 0xd0000000, 5, &err), 0);
    f->v.d = &f->r->dev;
}

static int setup(void **state)
{
    *state = new_fixture();
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (f->v.d)
        pvh_rng_destroy(f->r);
    pvh_guestmem_unmap(&f->v.mem);
    free(f->r);
    free(f);
    return 0;
}

/* One writable buffer of len bytes in a fresh chain; returns its gpa. */
static uint64_t post(struct fixture *f, uint32_t len)
{
    struct vd_buf b = {0, len, true};
    vd_add_chain(&f->v, 0, &b, 1);
    return b.gpa;
}

static uint32_t used_len(struct fixture *f)
{
    uint32_t id = 0, len = 0;
    assert_int_equal(vd_get_used(&f->v, 0, &id, &len), 1);
    return len;
}

static bool nothing_used(struct fixture *f)
{
    uint32_t id = 0, len = 0;
    return vd_get_used(&f->v, 0, &id, &len) == 0;
}

static void identity(void **state)
{
    struct fixture *f = *state;
    start_device(f, 0, 0, false, false);
    assert_int_equal(vd_read32(&f->v, VIRTIO_MMIO_DEVICE_ID), 4);
    assert_int_equal(vd_device_features(&f->v), VIRTIO_F_VERSION_1_BIT | VIRTIO_RING_F_EVENT_IDX_BIT |
                                                    VIRTIO_RING_F_INDIRECT_DESC_BIT);
    vd_write32(&f->v, VIRTIO_MMIO_QUEUE_SEL, 0);
    assert_int_equal(vd_read32(&f->v, VIRTIO_MMIO_QUEUE_NUM_MAX), PVH_RNG_QUEUE_MAX);
    vd_write32(&f->v, VIRTIO_MMIO_QUEUE_SEL, 1);
    assert_int_equal(vd_read32(&f->v, VIRTIO_MMIO_QUEUE_NUM_MAX), 0); /* one queue only */
    assert_int_equal(vd_read32(&f->v, VIRTIO_MMIO_CONFIG), 0);        /* no configuration space */
    assert_int_equal(f->r->cfg.bytes_per_s, PVH_RNG_DEFAULT_RATE);
    assert_int_equal(f->r->cfg.burst, PVH_RNG_DEFAULT_BURST);
}

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

/* getrandom's bytes reach the guest's buffers, different each time, and
 * the driver is interrupted. */
static void random_bytes_arrive_and_differ(void **state)
{
    struct fixture *f = *state;
    start_device(f, 0, 0, false, false);
    assert_true(vd_start(&f->v, GOOD_FEATURES, 8));
    uint64_t a = post(f, 64), b = post(f, 64);
    vd_kick(&f->v, 0);
    assert_int_equal(used_len(f), 64);
    assert_int_equal(used_len(f), 64);
    const uint8_t *pa = vd_ptr(&f->v, a, 64), *pb = vd_ptr(&f->v, b, 64);
    assert_false(all_zero(pa, 64));
    assert_false(all_zero(pb, 64));
    assert_memory_not_equal(pa, pb, 64);
    assert_int_equal(f->r->dev.stats.requests, 2);
    assert_int_equal(f->r->dev.stats.bytes, 128);
    assert_int_equal(f->r->dev.stats.errors, 0);
    assert_int_equal(f->v.interrupts, 1);
    /* a split chain is filled across its buffers */
    struct vd_buf split[2] = {{0, 3, true}, {0, 5, true}};
    vd_add_chain(&f->v, 0, split, 2);
    vd_kick(&f->v, 0);
    assert_int_equal(used_len(f), 8);
    assert_int_equal(pvh_rng_wake_at(&f->r->dev), 0); /* nothing to wait for */
}

/* The guest keeps 16 chains of 128 KiB posted (2 MiB asked for at any time,
 * over 10 MiB asked for in all) and re-posts each as soon as it comes back;
 * the simulated clock moves 1 ms at a time and the device runs when it asked
 * to. In one second it gets at most rate + burst, and not much less. */
static void rate_limit_holds_over_a_second(void **state)
{
    struct fixture *f = *state;
    const uint64_t rate = 1 << 20, burst = 64 << 10;
    const uint32_t chunk = 128 << 10;
    start_device(f, rate, burst, true, false);
    assert_true(vd_start(&f->v, GOOD_FEATURES, 16));
    uint64_t buf[16];
    for (uint16_t i = 0; i < 16; i++) {
        buf[i] = vd_alloc(&f->v, chunk, 8);
        vd_put_desc(&f->v, f->v.desc[0], i, buf[i], chunk, VIRTQ_DESC_F_WRITE, 0);
        vd_publish(&f->v, 0, i);
    }
    vd_kick(&f->v, 0);
    uint64_t start = f->clock, got = 0, asked = 16ull * chunk;
    unsigned throttled_polls = 0;
    for (int ms = 0; ms <= 1000; ms++) {
        uint32_t id = 0, len = 0;
        unsigned returned = 0;
        while (vd_get_used(&f->v, 0, &id, &len)) {
            if (++returned > 64)
                fail_msg("more than 64 chains came back within 1 ms at %d ms", ms);
            got += len;
            vd_publish(&f->v, 0, (uint16_t)id);
            asked += chunk;
            vd_kick(&f->v, 0);
        }
        uint64_t wake = pvh_rng_wake_at(&f->r->dev);
        if (wake && wake <= f->clock) {
            pvh_rng_poll(&f->r->dev);
            throttled_polls++;
        }
        if (ms < 1000)
            f->clock += MS;
    }
    uint32_t id = 0, len = 0;
    while (vd_get_used(&f->v, 0, &id, &len))
        got += len;
    assert_int_equal(f->clock - start, 1000 * MS);
    assert_true(asked > 10ull << 20);
    assert_true(got <= rate + burst);
    assert_true(got >= rate);        /* the limit is a rate, not a stall */
    assert_true(f->r->drawn <= rate + burst);
    assert_true(f->r->throttled > 0);
    assert_true(throttled_polls > 50); /* it woke up by itself, about every 10 ms */
    assert_int_equal(f->r->dev.stats.bytes, got);
}

/* A throttled device takes no chain, says when it wants to run again (when
 * 10 ms of refill are in the bucket), and serves the chain then. */
static void throttled_device_resumes_when_time_moves(void **state)
{
    struct fixture *f = *state;
    start_device(f, 1000, 100, true, false); /* 1000 bytes/s, 100 bytes of burst */
    assert_true(vd_start(&f->v, GOOD_FEATURES, 8));
    post(f, 200);
    vd_kick(&f->v, 0);
    assert_int_equal(used_len(f), 100); /* the burst: less than asked, as 5.4.7.1 allows */
    post(f, 200);
    vd_kick(&f->v, 0);
    assert_true(nothing_used(f));
    uint64_t wake = pvh_rng_wake_at(&f->r->dev);
    assert_int_equal(wake, f->clock + 10 * MS); /* 10 bytes at 1000 bytes/s */
    f->clock += 5 * MS;
    vd_kick(&f->v, 0); /* the driver's kicks change nothing meanwhile */
    assert_true(nothing_used(f));
    f->clock = wake;
    pvh_rng_poll(&f->r->dev);
    assert_int_equal(used_len(f), 10);
    assert_int_equal(f->r->dev.stats.bytes, 110);
    assert_int_equal(f->v.interrupts, 2);
}

/* Resetting the device does not refill the bucket: it is host state. */
static void reset_does_not_refill_the_bucket(void **state)
{
    struct fixture *f = *state;
    start_device(f, 1000, 100, true, false);
    assert_true(vd_start(&f->v, GOOD_FEATURES, 8));
    post(f, 100);
    vd_kick(&f->v, 0);
    assert_int_equal(used_len(f), 100);
    for (int i = 0; i < 3; i++) {
        vd_write32(&f->v, VIRTIO_MMIO_STATUS, 0);
        assert_int_equal(pvh_rng_wake_at(&f->r->dev), 0);
        assert_true(vd_start(&f->v, GOOD_FEATURES, 8));
        post(f, 100);
        vd_kick(&f->v, 0);
        assert_true(nothing_used(f));
    }
    assert_int_equal(f->r->dev.stats.bytes, 100);
}

/* The guest re-posts a chain every time the device draws a byte (the
 * scripted source returns one byte per call): one notification serves a
 * queue's worth of chains, then the device asks to run again at once. */
static void republish(void *ctx)
{
    struct fixture *f = ctx;
    struct pvh_virtq *q = &f->r->dev.q[0];
    if ((uint16_t)(f->v.avail_idx[0] - q->last_avail) < f->v.size[0])
        vd_publish(&f->v, 0, 0);
}

static void flooding_guest_bounded_per_run(void **state)
{
    struct fixture *f = *state;
    f->src.rest = 1;
    start_device(f, PVH_RNG_MAX_RATE, 1 << 20, true, false);
    assert_true(vd_start(&f->v, GOOD_FEATURES, 8));
    vd_put_desc(&f->v, f->v.desc[0], 0, vd_alloc(&f->v, 1, 8), 1, VIRTQ_DESC_F_WRITE, 0);
    vd_publish(&f->v, 0, 0);
    f->src.on_call = republish;
    f->src.ctx = f;
    for (int run = 0; run < 4; run++) {
        uint64_t before = f->r->dev.stats.requests;
        if (run == 0)
            vd_kick(&f->v, 0);
        else
            pvh_rng_poll(&f->r->dev);
        assert_int_equal(f->r->dev.stats.requests - before, 8); /* the queue size */
        assert_int_equal(pvh_rng_wake_at(&f->r->dev), f->clock + 1);
    }
}

/* Chains 5.4.6.1 forbids come back with 0 bytes, counted; the device runs on. */
static void forbidden_chains_returned_empty(void **state)
{
    struct fixture *f = *state;
    start_device(f, 0, 0, true, false);
    assert_true(vd_start(&f->v, GOOD_FEATURES, 8));
    struct vd_buf readable[1] = {{0, 16, false}};
    vd_add_chain(&f->v, 0, readable, 1);
    struct vd_buf mixed[2] = {{0, 4, false}, {0, 16, true}};
    vd_add_chain(&f->v, 0, mixed, 2);
    memset(vd_ptr(&f->v, mixed[1].gpa, 16), 0xaa, 16);
    struct vd_buf empty[1] = {{0, 0, true}}; /* zero length: no writable byte */
    vd_add_chain(&f->v, 0, empty, 1);
    post(f, 8);
    vd_kick(&f->v, 0);
    assert_int_equal(used_len(f), 0);
    assert_int_equal(used_len(f), 0);
    assert_int_equal(used_len(f), 0);
    assert_int_equal(used_len(f), 8);
    uint8_t aa[16];
    memset(aa, 0xaa, sizeof(aa));
    assert_memory_equal(vd_ptr(&f->v, mixed[1].gpa, 16), aa, 16); /* untouched */
    assert_int_equal(f->r->dev.stats.errors, 3);
    assert_int_equal(f->r->dev.stats.requests, 4);
    assert_int_equal(vd_read32(&f->v, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET, 0);
}

/* EINTR is retried, a short read gives what it had, EAGAIN (the host's pool
 * not ready) and other errors stop the device for PVH_RNG_RETRY_NS, only
 * the latter counted as errors; tokens are spent only on bytes drawn. */
static void source_failures_survived(void **state)
{
    struct fixture *f = *state;
    int steps[] = {-EINTR, 3, -EAGAIN, -EIO};
    memcpy(f->src.steps, steps, sizeof(steps));
    f->src.n = 4;
    start_device(f, 1000, 100, true, false);
    assert_true(vd_start(&f->v, GOOD_FEATURES, 8));
    post(f, 16);
    vd_kick(&f->v, 0);
    assert_int_equal(used_len(f), 3); /* EINTR, then 3 bytes, then EAGAIN */
    assert_int_equal(f->r->dev.stats.errors, 0);
    assert_int_equal(f->r->drawn, 3);
    post(f, 16);
    vd_kick(&f->v, 0); /* the first draw fails (EAGAIN was taken above: this one gets EIO) */
    assert_true(nothing_used(f));
    assert_int_equal(f->r->dev.stats.errors, 1);
    assert_int_equal(f->r->source_errors, 1);
    assert_int_equal(pvh_rng_wake_at(&f->r->dev), f->clock + PVH_RNG_RETRY_NS);
    f->clock += PVH_RNG_RETRY_NS;
    pvh_rng_poll(&f->r->dev);
    assert_int_equal(used_len(f), 16);
    assert_int_equal(f->r->drawn, 103); /* the refilled bucket drawn in one call, 16 of it given */
    assert_int_equal(f->r->dev.stats.bytes, 19);
}

/* With an I/O thread (env->watch) the device registers a timerfd and arms
 * it for the time it waits; its handler runs the device. */
static void timerfd_through_watch(void **state)
{
    struct fixture *f = *state;
    start_device(f, 1000, 100, true, true);
    assert_true(f->watched_fd >= 0);
    assert_ptr_equal(f->watched_arg, f->r);
    assert_true(vd_start(&f->v, GOOD_FEATURES, 8));
    post(f, 100);
    vd_kick(&f->v, 0);
    assert_int_equal(used_len(f), 100);
    post(f, 100);
    vd_kick(&f->v, 0);
    assert_true(nothing_used(f));
    struct itimerspec its;
    assert_int_equal(timerfd_gettime(f->watched_fd, &its), 0);
    uint64_t left = (uint64_t)its.it_value.tv_sec * 1000000000ull + (uint64_t)its.it_value.tv_nsec;
    assert_true(left > 0 && left <= 10 * MS);
    f->clock += 10 * MS;
    f->watched_cb(f->watched_arg, EPOLLIN);
    assert_int_equal(used_len(f), 10);
    /* a reset disarms it */
    post(f, 100);
    vd_kick(&f->v, 0);
    vd_write32(&f->v, VIRTIO_MMIO_STATUS, 0);
    assert_int_equal(timerfd_gettime(f->watched_fd, &its), 0);
    assert_true(its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0);
}

static void bad_configuration_refused(void **state)
{
    struct fixture *f = *state;
    struct pvh_virtio_env env = vd_env(&f->v);
    struct pvh_error err;
    struct pvh_rng_config fast = {.bytes_per_s = PVH_RNG_MAX_RATE + 1};
    assert_int_equal(pvh_rng_init(f->r, &fast, &env, 0, 5, &err), -1);
    assert_non_null(strstr(err.msg, "virtio-rng: a rate of 1073741825 bytes/s is over the limit"));
    struct pvh_rng_config big = {.burst = PVH_RNG_MAX_BURST + 1};
    assert_int_equal(pvh_rng_init(f->r, &big, &env, 0, 5, &err), -1);
    assert_non_null(strstr(err.msg, "burst of 1073741825 bytes"));
    env.watch = fake_watch;
    env.ctx = f;
    f->watch_result = -1;
    assert_int_equal(pvh_rng_init(f->r, NULL, &env, 0, 5, &err), -1);
    assert_non_null(strstr(err.msg, "would not watch its timerfd"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(identity, setup, teardown),
        cmocka_unit_test_setup_teardown(random_bytes_arrive_and_differ, setup, teardown),
        cmocka_unit_test_setup_teardown(rate_limit_holds_over_a_second, setup, teardown),
        cmocka_unit_test_setup_teardown(throttled_device_resumes_when_time_moves, setup, teardown),
        cmocka_unit_test_setup_teardown(reset_does_not_refill_the_bucket, setup, teardown),
        cmocka_unit_test_setup_teardown(flooding_guest_bounded_per_run, setup, teardown),
        cmocka_unit_test_setup_teardown(forbidden_chains_returned_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(source_failures_survived, setup, teardown),
        cmocka_unit_test_setup_teardown(timerfd_through_watch, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_configuration_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
