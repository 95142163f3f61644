/* The virtio-mmio transport and split virtqueues (vmm/virtio/mmio.c,
 * queue.c) driven by tests/lib/virtio_driver.h on fake guest RAM, with an
 * "echo" device that copies each chain's readable bytes into its writable
 * ones: registers, feature negotiation, queue checks, chains direct and
 * indirect, interrupts and EVENT_IDX suppression, reset, the configuration
 * space, and every broken-driver case ending in DEVICE_NEEDS_RESET with a
 * counted error (never a crash or a hang). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "../lib/virtio_driver.h"

#define ECHO_QUEUE_MAX 16
#define GOOD_FEATURES (VIRTIO_F_VERSION_1_BIT | VIRTIO_RING_F_INDIRECT_DESC_BIT)

struct echo {
    uint8_t config[12];
    int activated, resets;
};

static void echo_config_read(struct pvh_virtio_dev *d, uint32_t off, uint8_t *data, unsigned len)
{
    memcpy(data, ((struct echo *)d->impl)->config + off, len);
}

static void echo_notify(struct pvh_virtio_dev *d, unsigned queue)
{
    struct pvh_virtq *q = &d->q[queue];
    static struct pvh_vchain c;
    struct pvh_error err;
    int got;
    do {
        while ((got = pvh_virtq_pop(q, &c, &err)) == 1) {
            uint8_t tmp[4096];
            size_t n = pvh_vchain_read(&c, 0, tmp, sizeof(tmp));
            size_t w = pvh_vchain_write(&c, 0, tmp, n);
            pvh_virtq_push(q, c.head, (uint32_t)w);
            d->stats.requests++;
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
    .name = "echo", .device_id = 42, .nqueues = 2, .queue_max = ECHO_QUEUE_MAX, .features = 1ull << 3,
    .config_size = sizeof(((struct echo *)0)->config), .config_read = echo_config_read,
    .queue_notify = echo_notify, .activate = echo_activate, .reset = echo_reset,
};

struct fixture {
    struct vdriver v;
    struct pvh_virtio_dev d;
    struct echo e;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_int_equal(vd_ram_init(&f->v), 0);
    for (int i = 0; i < 12; i++)
        f->e.config[i] = (uint8_t)(0xa0 + i);
    struct pvh_virtio_env env = vd_env(&f->v);
    pvh_virtio_init(&f->d, &echo_ops, &f->e, &env, 0xd0000000, 5);
    f->v.d = &f->d;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    pvh_virtio_destroy(&f->d);
    pvh_guestmem_unmap(&f->v.mem);
    free(f);
    return 0;
}

static bool needs_reset(struct fixture *f)
{
    return (vd_read32(&f->v, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET) != 0;
}

static void identity_registers(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(vd_read32(&f->v, VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
    assert_int_equal(vd_read32(&f->v, VIRTIO_MMIO_VERSION), 2);
    assert_int_equal(vd_read32(&f->v, VIRTIO_MMIO_DEVICE_ID), 42);
    assert_int_equal(vd_read32(&f->v, VIRTIO_MMIO_VENDOR_ID), VIRTIO_VENDOR_PVHBOOT);
    assert_int_equal(vd_device_features(&f->v), (1ull << 3) | (1ull << 32) | (1ull << 28) | (1ull << 29));
    vd_write32(&f->v, VIRTIO_MMIO_QUEUE_SEL, 1);
    assert_int_equal(vd_read32(&f->v, VIRTIO_MMIO_QUEUE_NUM_MAX), ECHO_QUEUE_MAX);
    vd_write32(&f->v, VIRTIO_MMIO_QUEUE_SEL, 2); /* no such queue */
    assert_int_equal(vd_read32(&f->v, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
    assert_int_equal(vd_read32(&f->v, VIRTIO_MMIO_SHM_LEN_LOW), 0xffffffffu);
    /* registers are 32-bit aligned accesses only */
    assert_int_equal(vd_read(&f->v, VIRTIO_MMIO_MAGIC_VALUE, 2), 0);
    assert_int_equal(vd_read(&f->v, VIRTIO_MMIO_MAGIC_VALUE + 1, 4), 0);
}

static void negotiation_needs_version_1_and_offered_bits(void **state)
{
    struct fixture *f = *state;
    assert_false(vd_negotiate(&f->v, 0));                               /* legacy: refused */
    assert_false(vd_negotiate(&f->v, GOOD_FEATURES | (1ull << 40)));    /* never offered */
    assert_true(vd_negotiate(&f->v, GOOD_FEATURES | (1ull << 3)));
    assert_int_equal(f->d.driver_features, GOOD_FEATURES | (1ull << 3));
    /* features are frozen once FEATURES_OK is set */
    vd_write32(&f->v, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
    vd_write32(&f->v, VIRTIO_MMIO_DRIVER_FEATURES, 0);
    assert_int_equal(f->d.driver_features, GOOD_FEATURES | (1ull << 3));
    /* DRIVER_OK without FEATURES_OK does not stick */
    assert_false(vd_negotiate(&f->v, 0));
    vd_write32(&f->v, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_DRIVER_OK);
    assert_int_equal(vd_read32(&f->v, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DRIVER_OK, 0);
    assert_int_equal(f->e.activated, 0);
}

static void echo_direct_and_indirect(void **state)
{
    struct fixture *f = *state;
    assert_true(vd_start(&f->v, GOOD_FEATURES, 8));
    assert_int_equal(f->e.activated, 1);
    struct vd_buf b[3] = {{0, 5, false}, {0, 3, false}, {0, 16, true}};
    uint16_t head = vd_add_chain(&f->v, 0, b, 3);
    memcpy(vd_ptr(&f->v, b[0].gpa, 5), "hello", 5);
    memcpy(vd_ptr(&f->v, b[1].gpa, 3), "abc", 3);
    vd_kick(&f->v, 0);
    uint32_t id, len;
    assert_int_equal(vd_get_used(&f->v, 0, &id, &len), 1);
    assert_int_equal(id, head);
    assert_int_equal(len, 8);
    assert_memory_equal(vd_ptr(&f->v, b[2].gpa, 8), "helloabc", 8);
    assert_int_equal(f->v.interrupts, 1);
    assert_int_equal(vd_read32(&f->v, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_ISR_USED_BUFFER);
    vd_write32(&f->v, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_ISR_USED_BUFFER);
    assert_int_equal(vd_read32(&f->v, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
    struct vd_buf ib[2] = {{0, 4, false}, {0, 4, true}};
    head = vd_add_indirect(&f->v, 0, ib, 2);
    memcpy(vd_ptr(&f->v, ib[0].gpa, 4), "wxyz", 4);
    vd_kick(&f->v, 0);
    assert_int_equal(vd_get_used(&f->v, 0, &id, &len), 1);
    assert_int_equal(id, head);
    assert_int_equal(len, 4);
    assert_memory_equal(vd_ptr(&f->v, ib[1].gpa, 4), "wxyz", 4);
    assert_int_equal(f->d.stats.requests, 2);
    assert_int_equal(f->d.stats.notifications, 2);
    assert_false(needs_reset(f));
}

/* With EVENT_IDX the driver's used_event decides: far ahead, no interrupt;
 * the device asks to be notified at its next available index. */
static void event_idx_suppresses_interrupts(void **state)
{
    struct fixture *f = *state;
    assert_true(vd_start(&f->v, GOOD_FEATURES | VIRTIO_RING_F_EVENT_IDX_BIT, 8));
    struct vd_buf b[2] = {{0, 1, false}, {0, 1, true}};
    vd_add_chain(&f->v, 0, b, 2);
    vd_kick(&f->v, 0);
    assert_int_equal(f->v.interrupts, 1); /* the first is always sent */
    uint8_t *used_event = vd_ptr(&f->v, f->v.avail[0] + 4 + 2 * 8, 2);
    pvh_put_le16(used_event, 100);
    struct vd_buf c[2] = {{0, 1, false}, {0, 1, true}};
    vd_add_chain(&f->v, 0, c, 2);
    vd_kick(&f->v, 0);
    assert_int_equal(f->v.interrupts, 1);
    assert_int_equal(pvh_le16(vd_ptr(&f->v, f->v.used[0] + 4 + 8 * 8, 2)), 2); /* avail_event */
    pvh_put_le16(used_event, 2); /* wants one when used passes 2 */
    struct vd_buf e[2] = {{0, 1, false}, {0, 1, true}};
    vd_add_chain(&f->v, 0, e, 2);
    vd_kick(&f->v, 0);
    assert_int_equal(f->v.interrupts, 2);
}

static void no_interrupt_flag_respected(void **state)
{
    struct fixture *f = *state;
    assert_true(vd_start(&f->v, GOOD_FEATURES, 8));
    pvh_put_le16(vd_ptr(&f->v, f->v.avail[0], 2), VIRTQ_AVAIL_F_NO_INTERRUPT);
    struct vd_buf b[2] = {{0, 1, false}, {0, 1, true}};
    vd_add_chain(&f->v, 0, b, 2);
    vd_kick(&f->v, 0);
    assert_int_equal(f->v.interrupts, 0);
    uint32_t id, len;
    assert_int_equal(vd_get_used(&f->v, 0, &id, &len), 1);
}

static void config_space_bounded(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(vd_read(&f->v, VIRTIO_MMIO_CONFIG, 1), 0xa0);
    assert_int_equal(vd_read(&f->v, VIRTIO_MMIO_CONFIG + 2, 2), 0xa3a2);
    assert_int_equal(vd_read32(&f->v, VIRTIO_MMIO_CONFIG + 8), 0xabaaa9a8);
    assert_int_equal(vd_read32(&f->v, VIRTIO_MMIO_CONFIG + 10), 0);   /* runs past the end */
    assert_int_equal(vd_read32(&f->v, VIRTIO_MMIO_CONFIG + 0xf00), 0);
    vd_write32(&f->v, VIRTIO_MMIO_CONFIG, 0x12345678);                /* read-only: ignored */
    assert_int_equal(f->e.config[0], 0xa0);
}

static void reset_clears_and_device_runs_again(void **state)
{
    struct fixture *f = *state;
    assert_true(vd_start(&f->v, GOOD_FEATURES, 8));
    int resets = f->e.resets;
    vd_write32(&f->v, VIRTIO_MMIO_STATUS, 0);
    assert_int_equal(f->e.resets, resets + 1);
    assert_int_equal(vd_read32(&f->v, VIRTIO_MMIO_STATUS), 0);
    vd_write32(&f->v, VIRTIO_MMIO_QUEUE_SEL, 0);
    assert_int_equal(vd_read32(&f->v, VIRTIO_MMIO_QUEUE_READY), 0);
    assert_true(vd_start(&f->v, GOOD_FEATURES, 4));
    struct vd_buf b[2] = {{0, 2, false}, {0, 2, true}};
    vd_add_chain(&f->v, 0, b, 2);
    vd_kick(&f->v, 0);
    uint32_t id, len;
    assert_int_equal(vd_get_used(&f->v, 0, &id, &len), 1);
    assert_int_equal(len, 2);
}

/* Queue setup the device must refuse: each leaves DEVICE_NEEDS_RESET and a
 * counted error naming the queue. */
static void bad_queue_setup_refused(void **state)
{
    struct fixture *f = *state;
    struct { uint16_t size; uint64_t desc; } cases[] = {
        {6, 0x200000},            /* not a power of two */
        {32, 0x200000},           /* over QueueNumMax */
        {8, 0x200008},            /* descriptor table misaligned */
        {8, VD_RAM - 64},         /* runs past RAM */
        {8, 0xfffffffffffffff0},  /* wraps */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_true(vd_negotiate(&f->v, GOOD_FEATURES));
        vd_write32(&f->v, VIRTIO_MMIO_QUEUE_SEL, 0);
        vd_write32(&f->v, VIRTIO_MMIO_QUEUE_NUM, cases[i].size);
        vd_write32(&f->v, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)cases[i].desc);
        vd_write32(&f->v, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(cases[i].desc >> 32));
        vd_write32(&f->v, VIRTIO_MMIO_QUEUE_DRIVER_LOW, 0x300000);
        vd_write32(&f->v, VIRTIO_MMIO_QUEUE_DEVICE_LOW, 0x301000);
        vd_write32(&f->v, VIRTIO_MMIO_QUEUE_READY, 1);
        assert_int_equal(vd_read32(&f->v, VIRTIO_MMIO_QUEUE_READY), 0);
        assert_true(needs_reset(f));
        assert_int_equal(f->d.stats.errors, i + 1);
        assert_non_null(strstr(f->d.last_error, "echo queue 0"));
    }
}

/* A started device, then a chain built by `build`; returns whether the
 * device ended up needing a reset (the chain was refused). */
static bool broken_chain(struct fixture *f, void (*build)(struct fixture *f))
{
    assert_true(vd_start(&f->v, GOOD_FEATURES, 8));
    build(f);
    vd_kick(&f->v, 0);
    uint32_t id, len;
    assert_int_equal(vd_get_used(&f->v, 0, &id, &len), 0);
    return needs_reset(f) && f->d.stats.errors == 1 && f->v.interrupts == 1 &&
           (vd_read32(&f->v, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_ISR_CONFIG_CHANGE);
}

static void build_loop(struct fixture *f)
{
    uint64_t buf = vd_alloc(&f->v, 8, 8);
    vd_put_desc(&f->v, f->v.desc[0], 0, buf, 8, VIRTQ_DESC_F_NEXT, 1);
    vd_put_desc(&f->v, f->v.desc[0], 1, buf, 8, VIRTQ_DESC_F_NEXT, 0);
    vd_publish(&f->v, 0, 0);
}

static void build_outside_ram(struct fixture *f)
{
    vd_put_desc(&f->v, f->v.desc[0], 0, VD_RAM - 4, 8, 0, 0);
    vd_publish(&f->v, 0, 0);
}

static void build_next_out_of_range(struct fixture *f)
{
    vd_put_desc(&f->v, f->v.desc[0], 0, vd_alloc(&f->v, 8, 8), 8, VIRTQ_DESC_F_NEXT, 8);
    vd_publish(&f->v, 0, 0);
}

static void build_head_out_of_range(struct fixture *f)
{
    vd_publish(&f->v, 0, 9);
}

static void build_readable_after_writable(struct fixture *f)
{
    struct vd_buf b[2] = {{0, 4, true}, {0, 4, false}};
    vd_add_chain(&f->v, 0, b, 2);
}

static void build_nested_indirect(struct fixture *f)
{
    uint64_t inner = vd_alloc(&f->v, 16, 16), outer = vd_alloc(&f->v, 16, 16);
    vd_put_desc(&f->v, inner, 0, vd_alloc(&f->v, 8, 8), 8, 0, 0);
    vd_put_desc(&f->v, outer, 0, inner, 16, VIRTQ_DESC_F_INDIRECT, 0);
    vd_put_desc(&f->v, f->v.desc[0], 0, outer, 16, VIRTQ_DESC_F_INDIRECT, 0);
    vd_publish(&f->v, 0, 0);
}

static void build_indirect_with_next(struct fixture *f)
{
    uint64_t table = vd_alloc(&f->v, 16, 16);
    vd_put_desc(&f->v, table, 0, vd_alloc(&f->v, 8, 8), 8, 0, 0);
    vd_put_desc(&f->v, f->v.desc[0], 0, table, 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1);
    vd_publish(&f->v, 0, 0);
}

static void build_indirect_loop(struct fixture *f)
{
    uint64_t table = vd_alloc(&f->v, 32, 16), buf = vd_alloc(&f->v, 8, 8);
    vd_put_desc(&f->v, table, 0, buf, 8, VIRTQ_DESC_F_NEXT, 1);
    vd_put_desc(&f->v, table, 1, buf, 8, VIRTQ_DESC_F_NEXT, 0);
    vd_put_desc(&f->v, f->v.desc[0], 0, table, 32, VIRTQ_DESC_F_INDIRECT, 0);
    vd_publish(&f->v, 0, 0);
}

static void build_indirect_bad_length(struct fixture *f)
{
    vd_put_desc(&f->v, f->v.desc[0], 0, vd_alloc(&f->v, 24, 16), 24, VIRTQ_DESC_F_INDIRECT, 0);
    vd_publish(&f->v, 0, 0);
}

static void build_avail_far_ahead(struct fixture *f)
{
    uint8_t *avail = vd_ptr(&f->v, f->v.avail[0], 4);
    pvh_put_le16(avail + 2, 9); /* 9 entries in a queue of 8 */
}

static void broken_drivers_get_needs_reset(void **state)
{
    void (*builders[])(struct fixture *) = {
        build_loop, build_outside_ram, build_next_out_of_range, build_head_out_of_range,
        build_readable_after_writable, build_nested_indirect, build_indirect_with_next, build_indirect_loop,
        build_indirect_bad_length, build_avail_far_ahead,
    };
    for (size_t i = 0; i < sizeof(builders) / sizeof(builders[0]); i++) {
        teardown(state);
        setup(state);
        struct fixture *f = *state;
        if (!broken_chain(f, builders[i]))
            fail_msg("case %zu was not refused (errors %llu, status %#x)", i,
                     (unsigned long long)f->d.stats.errors, f->d.status);
        /* a broken device serves nothing more until reset */
        vd_kick(&f->v, 0);
        assert_int_equal(f->d.stats.errors, 1);
    }
}

static void indirect_needs_the_feature(void **state)
{
    struct fixture *f = *state;
    assert_true(vd_start(&f->v, VIRTIO_F_VERSION_1_BIT, 8));
    struct vd_buf b[2] = {{0, 1, false}, {0, 1, true}};
    vd_add_indirect(&f->v, 0, b, 2);
    vd_kick(&f->v, 0);
    assert_true(needs_reset(f));
    assert_non_null(strstr(f->d.last_error, "INDIRECT_DESC was not negotiated"));
}

/* The longest chains: a whole queue of direct descriptors, and an indirect
 * table of PVH_VCHAIN_MAX entries, are served; one more entry is refused. */
static void chain_length_bounds(void **state)
{
    struct fixture *f = *state;
    assert_true(vd_start(&f->v, GOOD_FEATURES, 16));
    struct vd_buf b[16];
    for (int i = 0; i < 16; i++)
        b[i] = (struct vd_buf){0, 1, i == 15};
    vd_add_chain(&f->v, 0, b, 16);
    vd_kick(&f->v, 0);
    uint32_t id, len;
    assert_int_equal(vd_get_used(&f->v, 0, &id, &len), 1);
    assert_int_equal(len, 1);
    static struct vd_buf ib[PVH_VCHAIN_MAX + 1];
    for (int i = 0; i <= PVH_VCHAIN_MAX; i++)
        ib[i] = (struct vd_buf){0, 1, false};
    vd_add_indirect(&f->v, 0, ib, PVH_VCHAIN_MAX);
    vd_kick(&f->v, 0);
    assert_int_equal(vd_get_used(&f->v, 0, &id, &len), 1);
    assert_false(needs_reset(f));
    vd_add_indirect(&f->v, 0, ib, PVH_VCHAIN_MAX + 1);
    vd_kick(&f->v, 0);
    assert_true(needs_reset(f));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(identity_registers, setup, teardown),
        cmocka_unit_test_setup_teardown(negotiation_needs_version_1_and_offered_bits, setup, teardown),
        cmocka_unit_test_setup_teardown(echo_direct_and_indirect, setup, teardown),
        cmocka_unit_test_setup_teardown(event_idx_suppresses_interrupts, setup, teardown),
        cmocka_unit_test_setup_teardown(no_interrupt_flag_respected, setup, teardown),
        cmocka_unit_test_setup_teardown(config_space_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(reset_clears_and_device_runs_again, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_queue_setup_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(broken_drivers_get_needs_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(indirect_needs_the_feature, setup, teardown),
        cmocka_unit_test_setup_teardown(chain_length_bounds, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
