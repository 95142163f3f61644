/* The virtio-mmio transport's saved state (save/restore in
 * pvh_virtio_mmio_ops, vmm/virtio/mmio.c): a device with negotiated
 * features, two ready queues whose indices have wrapped, a chain made
 * available but not yet served and an interrupt owed is saved and restored
 * into a fresh device on the same guest RAM; the restored one answers the
 * registers as the original, is activated again, raises the owed interrupt,
 * serves the waiting chain where the original would have and saves to the
 * same bytes; with a kick hook (the VMM's), each of its ready queues is
 * handed to the I/O thread once (the waiting chain is served without the
 * driver notifying again), a device not running kicks nothing. Hostile states (every truncation, a byte more, another
 * version, another device, each field out of range, rings outside RAM,
 * misaligned or of a bad size) are refused with one line and change
 * nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "../lib/virtio_driver.h"

#define FEATURES (VIRTIO_F_VERSION_1_BIT | VIRTIO_RING_F_EVENT_IDX_BIT | VIRTIO_RING_F_INDIRECT_DESC_BIT | (1ull << 3))
#define STATE_MAX 512

struct echo {
    int activated, resets;
    unsigned served;
};

static void echo_config_read(struct pvh_virtio_dev *d, uint32_t off, uint8_t *data, unsigned len)
{
    (void)d;
    memset(data, (int)off, len);
}

/* Each chain comes back with as many bytes written as it has readable. */
static void echo_notify(struct pvh_virtio_dev *d, unsigned queue)
{
    struct pvh_virtq *q = &d->q[queue];
    static struct pvh_vchain c;
    struct pvh_error err;
    int got;
    do {
        while ((got = pvh_virtq_pop(q, &c, &err)) == 1) {
            pvh_virtq_push(q, c.head, (uint32_t)c.readable);
            ((struct echo *)d->impl)->served++;
        }
        if (got < 0) {
            pvh_virtio_fail(d, &err);
            return;
        }
    } while (pvh_virtq_arm_notify(q));
    pvh_virtio_used(d, queue);
}

static void echo_activate(struct pvh_virtio_dev *d) { ((struct echo *)d->impl)->activated++; }
static void echo_reset(struct pvh_virtio_dev *d) { ((struct echo *)d->impl)->resets++; }

static const struct pvh_virtio_device_ops echo_ops = {
    .name = "echo", .device_id = 42, .nqueues = 2, .queue_max = 8, .features = 1ull << 3, .config_size = 8,
    .config_read = echo_config_read, .queue_notify = echo_notify, .activate = echo_activate, .reset = echo_reset,
};

/* One fake RAM; three devices on it: the original, the restored, the one hostile states are thrown at. */
struct fixture {
    struct vdriver v;
    struct pvh_virtio_dev d[3];
    struct echo e[3];
    unsigned interrupts[3];
};

static void interrupt(void *ctx, uint32_t gsi)
{
    struct fixture *f = ctx;
    assert_true(gsi >= 5 && gsi < 8);
    f->interrupts[gsi - 5]++;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_int_equal(vd_ram_init(&f->v), 0);
    struct pvh_virtio_env env = {.ctx = f, .mem = &f->v.mem, .interrupt = interrupt};
    for (unsigned i = 0; i < 3; i++)
        pvh_virtio_init(&f->d[i], &echo_ops, &f->e[i], &env, 0xd0000000 + 0x1000 * i, 5 + i);
    f->v.d = &f->d[0];
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    for (unsigned i = 0; i < 3; i++)
        pvh_virtio_destroy(&f->d[i]);
    pvh_guestmem_unmap(&f->v.mem);
    free(f);
    return 0;
}

static size_t save(struct pvh_virtio_dev *d, uint8_t *buf)
{
    struct pvh_error err;
    size_t len = 0;
    pthread_mutex_lock(&d->lock);
    int rc = pvh_virtio_mmio_ops.save(d, buf, STATE_MAX, &len, &err);
    pthread_mutex_unlock(&d->lock);
    if (rc != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(len, 39 + 2 * 36);
    return len;
}

static int restore(struct pvh_virtio_dev *d, const uint8_t *buf, size_t len, struct pvh_error *err)
{
    pthread_mutex_lock(&d->lock);
    int rc = pvh_virtio_mmio_ops.restore(d, buf, len, err);
    pthread_mutex_unlock(&d->lock);
    return rc;
}

/* The original at work: features, both queues ready, queue 0's indices
 * past its size (wrapped), one chain waiting unserved, an interrupt owed,
 * the selectors left elsewhere. */
static void busy(struct fixture *f)
{
    assert_true(vd_start(&f->v, FEATURES, 8));
    uint32_t id, len;
    for (int i = 0; i < 11; i++) {
        struct vd_buf b[2] = {{0, (uint32_t)(10 + i), false}, {0, 64, true}};
        vd_add_chain(&f->v, 0, b, 2);
        vd_kick(&f->v, 0);
        assert_int_equal(vd_get_used(&f->v, 0, &id, &len), 1);
        assert_int_equal(len, 10 + i);
    }
    struct vd_buf w[1] = {{0, 77, false}};
    vd_add_indirect(&f->v, 0, w, 1); /* published, not kicked: waits */
    vd_write32(&f->v, VIRTIO_MMIO_QUEUE_SEL, 1);
    vd_write32(&f->v, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
    assert_int_equal(f->e[0].served, 11);
    assert_int_not_equal(vd_read32(&f->v, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
}

static void expect_same_registers(struct fixture *f)
{
    static const uint64_t regs[] = {VIRTIO_MMIO_DEVICE_FEATURES, VIRTIO_MMIO_QUEUE_NUM_MAX, VIRTIO_MMIO_QUEUE_READY,
                                    VIRTIO_MMIO_INTERRUPT_STATUS, VIRTIO_MMIO_STATUS, VIRTIO_MMIO_CONFIG_GENERATION};
    for (size_t i = 0; i < sizeof(regs) / sizeof(regs[0]); i++) {
        f->v.d = &f->d[0];
        uint32_t a = vd_read32(&f->v, regs[i]);
        f->v.d = &f->d[1];
        assert_int_equal(vd_read32(&f->v, regs[i]), a);
    }
    for (unsigned i = 0; i < 2; i++) {
        const struct pvh_virtq *a = &f->d[0].q[i], *b = &f->d[1].q[i];
        assert_int_equal(a->size, b->size);
        assert_true(a->ready && b->ready);
        assert_true(a->desc_gpa == b->desc_gpa && a->avail_gpa == b->avail_gpa && a->used_gpa == b->used_gpa);
        assert_ptr_equal(a->desc, b->desc); /* the same guest RAM: the same host views, recomputed */
        assert_ptr_equal(a->avail, b->avail);
        assert_ptr_equal(a->used, b->used);
        assert_true(a->event_idx == b->event_idx && a->indirect == b->indirect);
        assert_int_equal(a->last_avail, b->last_avail);
        assert_int_equal(a->used_idx, b->used_idx);
        assert_int_equal(a->signalled_used, b->signalled_used);
        assert_int_equal(a->signalled_valid, b->signalled_valid);
    }
}

static void test_round_trip(void **state)
{
    struct fixture *f = *state;
    busy(f);
    uint8_t buf[STATE_MAX];
    size_t len = save(&f->d[0], buf);
    struct pvh_error err;
    if (restore(&f->d[1], buf, len, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(f->e[1].activated, 1);
    assert_int_equal(f->interrupts[1], 1); /* the ISR's reason raised again */
    assert_int_equal(f->d[0].q[0].used_idx, 11);
    expect_same_registers(f);
    uint8_t again[STATE_MAX];
    assert_int_equal(save(&f->d[1], again), len);
    assert_memory_equal(again, buf, len);
    f->v.d = &f->d[1]; /* the driver goes on with the restored device */
    vd_kick(&f->v, 0);
    uint32_t id, n;
    assert_int_equal(vd_get_used(&f->v, 0, &id, &n), 1);
    assert_int_equal(id, 11 * 2 % 8); /* the indirect chain's head, after 11 chains of 2 descriptors */
    assert_int_equal(n, 77);
    assert_int_equal(f->e[1].served, 1);
    assert_int_equal(f->e[0].served, 11);
    assert_int_equal(f->d[1].q[0].used_idx, 12);
}

static unsigned kicked[PVH_VIRTIO_MAX_QUEUES];

static void record_kick(void *ctx, struct pvh_virtio_dev *d, unsigned queue)
{
    (void)ctx, (void)d;
    kicked[queue]++;
}

static void test_restore_kicks_ready_queues(void **state)
{
    struct fixture *f = *state;
    uint8_t buf[STATE_MAX], fresh[STATE_MAX];
    struct pvh_error err;
    size_t flen = save(&f->d[0], fresh); /* before the driver: not running */
    busy(f);
    size_t len = save(&f->d[0], buf);
    memset(kicked, 0, sizeof(kicked));
    f->d[1].env.kick = record_kick;
    if (restore(&f->d[1], buf, len, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(kicked[0], 1);
    assert_int_equal(kicked[1], 1);
    assert_int_equal(kicked[2], 0); /* the device has two queues */
    memset(kicked, 0, sizeof(kicked));
    f->d[2].env.kick = record_kick;
    if (restore(&f->d[2], fresh, flen, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(kicked[0] + kicked[1], 0);
}

/* A device that never ran saves and restores too (nothing activated). */
static void test_fresh_device(void **state)
{
    struct fixture *f = *state;
    uint8_t buf[STATE_MAX];
    size_t len = save(&f->d[0], buf);
    struct pvh_error err;
    assert_int_equal(restore(&f->d[1], buf, len, &err), 0);
    assert_int_equal(f->e[1].activated, 0);
    assert_int_equal(f->interrupts[1], 0);
    assert_int_equal(f->d[1].status, 0);
    assert_false(f->d[1].q[0].ready);
}

/* The restore of buf[0, len) (in a buffer of exactly len bytes) into the
 * third device is refused with a message containing want; nothing changes. */
static void expect_refused(struct fixture *f, const uint8_t *buf, size_t len, const char *want)
{
    static struct pvh_virtio_dev before;
    memcpy(&before, &f->d[2], sizeof(before));
    struct echo e = f->e[2];
    unsigned irqs = f->interrupts[2];
    uint8_t *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, buf, len);
    struct pvh_error err = {0};
    assert_int_equal(restore(&f->d[2], copy, len, &err), -1);
    free(copy);
    assert_int_equal(err.code, PVH_E_INPUT);
    if (strncmp(err.msg, "virtio-mmio state: ", 19) != 0 || !strstr(err.msg, want))
        fail_msg("\"%s\" lacks \"%s\"", err.msg, want);
    assert_null(strchr(err.msg, '\n'));
    assert_memory_equal(&before, &f->d[2], sizeof(before));
    assert_memory_equal(&e, &f->e[2], sizeof(e));
    assert_int_equal(irqs, f->interrupts[2]);
}

/* A driver may take FEATURES_OK back while DRIVER_OK stays (the transport
 * checks only bits being added): a state its own registers reach, so a
 * restore takes it (fuzz_devstate found the restore refusing it:
 * regressions/devstate/driver-ok-without-features-ok). */
static void test_driver_ok_without_features_ok(void **state)
{
    struct fixture *f = *state;
    busy(f);
    vd_write32(&f->v, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_DRIVER_OK);
    assert_int_equal(vd_read32(&f->v, VIRTIO_MMIO_STATUS), 0x07);
    uint8_t buf[STATE_MAX];
    size_t len = save(&f->d[0], buf);
    struct pvh_error err;
    if (restore(&f->d[1], buf, len, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(f->d[1].status, 0x07);
}

#define Q0 39 /* queue 0's fields */

static void test_hostile(void **state)
{
    struct fixture *f = *state;
    busy(f);
    uint8_t good[STATE_MAX];
    size_t len = save(&f->d[0], good);
    for (size_t n = 0; n < len; n++)
        expect_refused(f, good, n, n == 0 ? "empty" : "bytes");
    uint8_t bad[STATE_MAX];
    memcpy(bad, good, len);
    expect_refused(f, bad, len + 1, "112 bytes, expected 111");
    struct {
        size_t at, width;
        uint64_t value;
        const char *want;
    } cases[] = {
        {0, 1, 2, "version 2"},
        {1, 4, 43, "a device of ID 43 with 2 queues, this one is echo (ID 42, 2 queues)"},
        {5, 1, 3, "with 3 queues"},
        {6, 4, 0x10f, "status 0x10f"},
        {10, 4, 4, "ISR 0x4"},
        {38, 1, 2, "broken 2"},
        {38, 1, 1, "broken without DEVICE_NEEDS_RESET in status 0xf"},
        {30, 8, FEATURES | (1ull << 5), "features 0x130000028 agreed, not a subset of 0x130000008 with VERSION_1"},
        {30, 8, 1ull << 3, "features 0x8 agreed"},
        {Q0 + 2, 1, 2, "echo queue 0: a flag is not 0 or 1"},
        {Q0 + 36 + 35, 1, 7, "echo queue 1: a flag is not 0 or 1"},
        {Q0, 2, 3, "echo queue 0: queue size 3 is not a power of two from 1 to 8"},
        {Q0, 2, 16, "queue size 16 is not a power of two from 1 to 8"},
        {Q0 + 5, 8, VD_RAM - 64, "echo queue 0: the descriptor table [0x3fffc0, +0x80) is not in guest RAM"},
        {Q0 + 5, 8, UINT64_MAX - 15, "is not in guest RAM"},
        {Q0 + 36 + 13, 8, 0x100001, "echo queue 1: the available ring at 0x100001 is not 2-byte aligned"},
        {Q0 + 36 + 21, 8, 1ull << 40, "echo queue 1: the used ring [0x10000000000, +0x46) is not in guest RAM"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memcpy(bad, good, len);
        pvh_put_le(bad + cases[i].at, cases[i].value, (unsigned)cases[i].width);
        expect_refused(f, bad, len, cases[i].want);
    }
    /* a queue that is not ready may hold any addresses: they are checked when it is made ready */
    memcpy(bad, good, len);
    bad[Q0 + 36 + 2] = 0;
    pvh_put_le64(bad + Q0 + 36 + 5, UINT64_MAX);
    struct pvh_error err;
    assert_int_equal(restore(&f->d[2], bad, len, &err), 0);
    f->v.d = &f->d[2];
    vd_write32(&f->v, VIRTIO_MMIO_QUEUE_SEL, 1);
    vd_write32(&f->v, VIRTIO_MMIO_QUEUE_READY, 1);
    assert_int_equal(vd_read32(&f->v, VIRTIO_MMIO_QUEUE_READY), 0);
    assert_true(f->d[2].broken);
    assert_non_null(strstr(f->d[2].last_error, "descriptor table"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restore_kicks_ready_queues, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fresh_device, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_driver_ok_without_features_ok, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
