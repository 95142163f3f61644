/* virtio-console (vmm/virtio/console.c) driven by tests/lib/virtio_driver.h
 * on fake guest RAM, its output recorded: identity and configuration space
 * (size offered only when known, resize, emerg_wr), a 64 KiB transmit in one
 * notification reaching the output in one call and small buffers gathered,
 * host input into posted receive buffers (all, part, none), reset, chains
 * the spec forbids, and the bounds on one transmit run. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include <stdio.h>

#include "../../vmm/virtio/console.h"
#include "../lib/virtio_driver.h"

#define GOOD_FEATURES (VIRTIO_F_VERSION_1_BIT | VIRTIO_RING_F_INDIRECT_DESC_BIT)
#define RX PVH_VCONSOLE_RX
#define TX PVH_VCONSOLE_TX
#define OUT_CAP (8u << 20)

struct fixture {
    struct vdriver v;
    struct pvh_vconsole *c;
    uint8_t *out;         /* everything output, in order */
    size_t out_len;
    unsigned out_calls;
    size_t largest_call;
    void (*on_output)(struct fixture *f); /* the guest acting meanwhile */
    unsigned kicks;       /* env->kick: the device handed a queue back */
};

static void record_output(void *ctx, const uint8_t *buf, size_t len)
{
    struct fixture *f = ctx;
    assert_true(len > 0);
    if (f->out_len + len <= OUT_CAP)
        memcpy(f->out + f->out_len, buf, len);
    f->out_len += len;
    f->out_calls++;
    f->largest_call = len > f->largest_call ? len : f->largest_call;
    if (f->on_output)
        f->on_output(f);
}

static void count_kick(void *ctx, struct pvh_virtio_dev *d, unsigned queue)
{
    (void)d;
    assert_int_equal(queue, TX);
    ((struct fixture *)ctx)->kicks++;
}

static void interrupt(void *ctx, uint32_t gsi)
{
    (void)gsi;
    ((struct fixture *)ctx)->v.interrupts++;
}

static void start_device(struct fixture *f, uint16_t cols, uint16_t rows, bool with_kick)
{
    struct pvh_vconsole_config cfg = {.output = record_output, .ctx = f, .cols = cols, .rows = rows};
    struct pvh_virtio_env env = {.ctx = f, .mem = &f->v.mem, .interrupt = interrupt};
    if (with_kick)
        env.kick = count_kick;
    struct pvh_error err;
    assert_int_equal(pvh_vconsole_init(f->c, &cfg, &env, 0xd0001000, 6, &err), 0);
    f->v.d = &f->c->dev;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_int_equal(vd_ram_init(&f->v), 0);
    f->c = calloc(1, sizeof(*f->c));
    f->out = malloc(OUT_CAP);
    assert_non_null(f->c);
    assert_non_null(f->out);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (f->v.d)
        pvh_vconsole_destroy(f->c);
    pvh_guestmem_unmap(&f->v.mem);
    free(f->out);
    free(f->c);
    free(f);
    return 0;
}

static uint16_t transmit(struct fixture *f, const void *data, uint32_t len)
{
    struct vd_buf b = {0, len, false};
    uint16_t head = vd_add_chain(&f->v, TX, &b, 1);
    memcpy(vd_ptr(&f->v, b.gpa, len), data, len);
    return head;
}

static uint64_t post_rx(struct fixture *f, uint32_t len)
{
    struct vd_buf b = {0, len, true};
    vd_add_chain(&f->v, RX, &b, 1);
    return b.gpa;
}

static uint32_t used_len(struct fixture *f, unsigned q)
{
    uint32_t id = 0, len = 0;
    assert_int_equal(vd_get_used(&f->v, q, &id, &len), 1);
    return len;
}

static bool nothing_used(struct fixture *f, unsigned q)
{
    uint32_t id = 0, len = 0;
    return vd_get_used(&f->v, q, &id, &len) == 0;
}

static bool all_of(const uint8_t *p, size_t n, uint8_t value)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != value)
            return false;
    return true;
}

static size_t receive(struct fixture *f, const char *s)
{
    return pvh_vconsole_receive(&f->c->dev, (const uint8_t *)s, strlen(s));
}

static void identity_and_configuration(void **state)
{
    struct fixture *f = *state;
    start_device(f, 0, 0, false);
    assert_int_equal(vd_read32(&f->v, VIRTIO_MMIO_DEVICE_ID), 3);
    assert_int_equal(vd_device_features(&f->v), VIRTIO_CONSOLE_F_EMERG_WRITE | VIRTIO_F_VERSION_1_BIT |
                                                    VIRTIO_RING_F_EVENT_IDX_BIT | VIRTIO_RING_F_INDIRECT_DESC_BIT);
    for (unsigned q = 0; q < 2; q++) {
        vd_write32(&f->v, VIRTIO_MMIO_QUEUE_SEL, q);
        assert_int_equal(vd_read32(&f->v, VIRTIO_MMIO_QUEUE_NUM_MAX), PVH_VCONSOLE_QUEUE_MAX);
    }
    vd_write32(&f->v, VIRTIO_MMIO_QUEUE_SEL, 2);
    assert_int_equal(vd_read32(&f->v, VIRTIO_MMIO_QUEUE_NUM_MAX), 0); /* no MULTIPORT control queues */
    assert_int_equal(vd_read32(&f->v, VIRTIO_MMIO_CONFIG + 0), 0);     /* cols, rows: not offered */
    assert_int_equal(vd_read32(&f->v, VIRTIO_MMIO_CONFIG + 4), 1);     /* max_nr_ports */
    assert_int_equal(vd_read32(&f->v, VIRTIO_MMIO_CONFIG + 8), 0);     /* emerg_wr */
    assert_false(vd_negotiate(&f->v, GOOD_FEATURES | VIRTIO_CONSOLE_F_SIZE));
    uint32_t generation = vd_read32(&f->v, VIRTIO_MMIO_CONFIG_GENERATION);
    pvh_vconsole_resize(&f->c->dev, 100, 30); /* not offered: nothing changes */
    assert_int_equal(vd_read32(&f->v, VIRTIO_MMIO_CONFIG_GENERATION), generation);
    assert_int_equal(vd_read32(&f->v, VIRTIO_MMIO_CONFIG + 0), 0);
}

static void size_offered_when_known(void **state)
{
    struct fixture *f = *state;
    start_device(f, 120, 40, false);
    assert_true(vd_device_features(&f->v) & VIRTIO_CONSOLE_F_SIZE);
    assert_int_equal(vd_read(&f->v, VIRTIO_MMIO_CONFIG + 0, 2), 120);
    assert_int_equal(vd_read(&f->v, VIRTIO_MMIO_CONFIG + 2, 2), 40);
    assert_true(vd_start(&f->v, GOOD_FEATURES | VIRTIO_CONSOLE_F_SIZE, 8));
    uint32_t generation = vd_read32(&f->v, VIRTIO_MMIO_CONFIG_GENERATION);
    pvh_vconsole_resize(&f->c->dev, 132, 43);
    assert_int_equal(vd_read32(&f->v, VIRTIO_MMIO_CONFIG), 132u | 43u << 16);
    assert_int_equal(vd_read32(&f->v, VIRTIO_MMIO_CONFIG_GENERATION), generation + 1);
    assert_int_equal(vd_read32(&f->v, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_ISR_CONFIG_CHANGE);
    struct pvh_vconsole_config half = {.output = record_output, .ctx = f, .cols = 80};
    struct pvh_virtio_env env = {.ctx = f, .mem = &f->v.mem};
    struct pvh_vconsole other;
    struct pvh_error err;
    assert_int_equal(pvh_vconsole_init(&other, &half, &env, 0, 6, &err), -1);
    assert_non_null(strstr(err.msg, "a size of 80x0"));
    struct pvh_vconsole_config none = {0};
    assert_int_equal(pvh_vconsole_init(&other, &none, &env, 0, 6, &err), -1);
    assert_non_null(strstr(err.msg, "no output"));
}

/* The point of the device: 64 KiB in one notification, one output call;
 * many small chains gathered into one more. */
static void transmit_64k_in_one_call(void **state)
{
    struct fixture *f = *state;
    start_device(f, 0, 0, false);
    assert_true(vd_start(&f->v, GOOD_FEATURES, 64));
    static uint8_t big[64 << 10];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (uint8_t)(i * 7 + (i >> 9));
    transmit(f, big, sizeof(big));
    vd_kick(&f->v, TX);
    assert_int_equal(f->out_calls, 1);
    assert_int_equal(f->out_len, sizeof(big));
    assert_memory_equal(f->out, big, sizeof(big));
    assert_int_equal(used_len(f, TX), 0); /* the device wrote nothing */
    assert_int_equal(f->v.interrupts, 1);
    /* 40 small chains (Linux's hvc writes) and a chain of 3 buffers: one call */
    char expect[512] = "";
    for (int i = 0; i < 40; i++) {
        char line[16];
        snprintf(line, sizeof(line), "line %02d\n", i);
        transmit(f, line, (uint32_t)strlen(line));
        strcat(expect, line);
    }
    struct vd_buf parts[3] = {{0, 3, false}, {0, 4, false}, {0, 5, false}};
    vd_add_chain(&f->v, TX, parts, 3);
    memcpy(vd_ptr(&f->v, parts[0].gpa, 3), "abc", 3);
    memcpy(vd_ptr(&f->v, parts[1].gpa, 4), "defg", 4);
    memcpy(vd_ptr(&f->v, parts[2].gpa, 5), "hijk\n", 5);
    strcat(expect, "abcdefghijk\n");
    vd_kick(&f->v, TX);
    assert_int_equal(f->out_calls, 2);
    assert_int_equal(f->out_len, sizeof(big) + strlen(expect));
    assert_memory_equal(f->out + sizeof(big), expect, strlen(expect));
    assert_int_equal(f->c->tx_bytes, sizeof(big) + strlen(expect));
    assert_int_equal(f->c->dev.stats.requests, 42);
    assert_int_equal(f->c->dev.stats.errors, 0);
}

static void input_into_posted_buffers(void **state)
{
    struct fixture *f = *state;
    start_device(f, 0, 0, false);
    assert_true(vd_start(&f->v, GOOD_FEATURES, 8));
    uint64_t a = post_rx(f, 8), b = post_rx(f, 8);
    vd_kick(&f->v, RX); /* the driver's kick for receive buffers needs nothing */
    assert_int_equal(f->c->dev.stats.requests, 0);
    assert_int_equal(receive(f, "hello world!"), 12);
    assert_int_equal(used_len(f, RX), 8);
    assert_int_equal(used_len(f, RX), 4);
    assert_memory_equal(vd_ptr(&f->v, a, 8), "hello wo", 8);
    assert_memory_equal(vd_ptr(&f->v, b, 4), "rld!", 4);
    assert_int_equal(f->v.interrupts, 1);
    assert_int_equal(f->c->rx_bytes, 12);
}

/* Short buffers take what fits; without buffers nothing is taken; buffers
 * posted later take the rest. */
static void partial_and_no_acceptance(void **state)
{
    struct fixture *f = *state;
    start_device(f, 0, 0, false);
    assert_int_equal(receive(f, "early"), 0); /* not running yet */
    assert_true(vd_start(&f->v, GOOD_FEATURES, 8));
    assert_int_equal(receive(f, "nobody"), 0); /* nothing posted */
    assert_true(nothing_used(f, RX));
    assert_int_equal(f->v.interrupts, 0);
    uint64_t a = post_rx(f, 4);
    const char *msg = "0123456789";
    assert_int_equal(receive(f, msg), 4);
    assert_int_equal(used_len(f, RX), 4);
    assert_memory_equal(vd_ptr(&f->v, a, 4), "0123", 4);
    assert_int_equal(receive(f, msg + 4), 0);
    uint64_t b = post_rx(f, 64);
    assert_int_equal(receive(f, msg + 4), 6);
    assert_int_equal(used_len(f, RX), 6);
    assert_memory_equal(vd_ptr(&f->v, b, 6), "456789", 6);
    assert_int_equal(f->c->rx_bytes, 10);
}

static void reset_drops_state(void **state)
{
    struct fixture *f = *state;
    start_device(f, 0, 0, false);
    assert_true(vd_start(&f->v, GOOD_FEATURES, 8));
    uint64_t old = post_rx(f, 16);
    vd_write32(&f->v, VIRTIO_MMIO_STATUS, 0);
    assert_int_equal(receive(f, "lost?"), 0); /* not running: the caller keeps it */
    for (unsigned q = 0; q < 2; q++) {
        vd_write32(&f->v, VIRTIO_MMIO_QUEUE_SEL, q);
        assert_int_equal(vd_read32(&f->v, VIRTIO_MMIO_QUEUE_READY), 0);
    }
    assert_true(vd_start(&f->v, GOOD_FEATURES, 8));
    uint64_t fresh = post_rx(f, 16);
    assert_int_equal(receive(f, "again"), 5);
    assert_memory_equal(vd_ptr(&f->v, fresh, 5), "again", 5);
    assert_true(all_of(vd_ptr(&f->v, old, 16), 16, 0)); /* the old ring's buffer is never used */
}

/* 5.3.6.1's forbidden chains come back with 0 bytes, counted, and nothing
 * of them is output or written; the device runs on. */
static void forbidden_chains_returned_empty(void **state)
{
    struct fixture *f = *state;
    start_device(f, 0, 0, false);
    assert_true(vd_start(&f->v, GOOD_FEATURES, 8));
    struct vd_buf writable[1] = {{0, 8, true}};
    vd_add_chain(&f->v, TX, writable, 1);
    struct vd_buf mixed[2] = {{0, 5, false}, {0, 8, true}};
    vd_add_chain(&f->v, TX, mixed, 2);
    memcpy(vd_ptr(&f->v, mixed[0].gpa, 5), "mixed", 5);
    struct vd_buf empty[1] = {{0, 0, false}};
    vd_add_chain(&f->v, TX, empty, 1);
    transmit(f, "ok\n", 3);
    vd_kick(&f->v, TX);
    assert_int_equal(f->out_len, 3);
    assert_memory_equal(f->out, "ok\n", 3);
    for (int i = 0; i < 4; i++)
        assert_int_equal(used_len(f, TX), 0);
    assert_int_equal(f->c->dev.stats.errors, 3);
    /* receive queue: a readable buffer is skipped, the next takes the input */
    struct vd_buf rx_bad[2] = {{0, 4, false}, {0, 8, true}};
    vd_add_chain(&f->v, RX, rx_bad, 2);
    uint64_t good = post_rx(f, 8);
    assert_int_equal(receive(f, "input"), 5);
    assert_int_equal(used_len(f, RX), 0);
    assert_int_equal(used_len(f, RX), 5);
    assert_memory_equal(vd_ptr(&f->v, good, 5), "input", 5);
    assert_true(all_of(vd_ptr(&f->v, rx_bad[1].gpa, 8), 8, 0));
    assert_int_equal(f->c->dev.stats.errors, 4);
    assert_int_equal(vd_read32(&f->v, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET, 0);
}

static void emergency_write(void **state)
{
    struct fixture *f = *state;
    start_device(f, 0, 0, false);
    vd_write(&f->v, VIRTIO_MMIO_CONFIG + 8, 'A', 1); /* before any initialisation */
    vd_write32(&f->v, VIRTIO_MMIO_CONFIG + 8, 0x4142); /* the low byte */
    vd_write(&f->v, VIRTIO_MMIO_CONFIG + 9, 'x', 1);   /* not at emerg_wr: ignored */
    vd_write32(&f->v, VIRTIO_MMIO_CONFIG + 4, 'y');
    vd_write(&f->v, VIRTIO_MMIO_CONFIG + 0, 'z', 2);
    assert_int_equal(f->out_len, 2);
    assert_memory_equal(f->out, "AB", 2);
    assert_int_equal(f->c->emerg_bytes, 2);
}

/* One chain naming the same 64 KiB 1024 times (64 MiB) outputs 1 MiB, the
 * rest dropped and counted; a run stops after 1 MiB and hands the queue back
 * through env->kick; the I/O thread's next notification goes on. */
static void transmit_run_bounded(void **state)
{
    struct fixture *f = *state;
    start_device(f, 0, 0, true);
    assert_true(vd_start(&f->v, GOOD_FEATURES, 16));
    uint64_t buf = vd_alloc(&f->v, 64 << 10, 8);
    memset(vd_ptr(&f->v, buf, 64 << 10), 'x', 64 << 10);
    static struct vd_buf many[PVH_VCHAIN_MAX];
    for (int i = 0; i < PVH_VCHAIN_MAX; i++)
        many[i] = (struct vd_buf){buf, 64 << 10, false};
    vd_add_indirect(&f->v, TX, many, PVH_VCHAIN_MAX);
    pvh_virtio_notify(&f->c->dev, TX);
    assert_int_equal(f->out_len, PVH_VCONSOLE_CHAIN_MAX);
    assert_int_equal(f->c->dropped, (64ull << 20) - PVH_VCONSOLE_CHAIN_MAX);
    assert_int_equal(f->c->dev.stats.errors, 1);
    assert_int_equal(used_len(f, TX), 0);
    /* four chains of 512 KiB: two per run, then the device yields */
    f->out_len = 0;
    f->kicks = 0;
    for (int i = 0; i < 4; i++)
        vd_add_indirect(&f->v, TX, many, 8);
    unsigned runs = 0;
    do {
        size_t before = f->out_len;
        unsigned kicks = f->kicks;
        pvh_virtio_notify(&f->c->dev, TX);
        runs++;
        assert_true(f->out_len - before <= PVH_VCONSOLE_RUN_MAX);
        if (f->kicks == kicks)
            break;
    } while (runs < 10);
    assert_int_equal(runs, 3); /* 1 MiB, 1 MiB, then an empty queue */
    assert_int_equal(f->kicks, 2);
    assert_int_equal(f->out_len, 4u << 19);
}

/* The guest posts another chain while each is output: one notification
 * serves a queue's worth and yields. */
static void repost(struct fixture *f)
{
    struct pvh_virtq *q = &f->c->dev.q[TX];
    if ((uint16_t)(f->v.avail_idx[TX] - q->last_avail) < f->v.size[TX])
        vd_publish(&f->v, TX, 0);
}

static void flooding_guest_bounded_per_run(void **state)
{
    struct fixture *f = *state;
    start_device(f, 0, 0, true);
    assert_true(vd_start(&f->v, GOOD_FEATURES, 8));
    uint64_t buf = vd_alloc(&f->v, PVH_VCONSOLE_STAGE, 8); /* output as it is: one call per chain */
    vd_put_desc(&f->v, f->v.desc[TX], 0, buf, PVH_VCONSOLE_STAGE, 0, 0);
    vd_publish(&f->v, TX, 0);
    f->on_output = repost;
    for (int run = 0; run < 3; run++) {
        uint64_t before = f->c->dev.stats.requests;
        pvh_virtio_notify(&f->c->dev, TX);
        assert_int_equal(f->c->dev.stats.requests - before, 8);
        assert_int_equal(f->kicks, run + 1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(identity_and_configuration, setup, teardown),
        cmocka_unit_test_setup_teardown(size_offered_when_known, setup, teardown),
        cmocka_unit_test_setup_teardown(transmit_64k_in_one_call, setup, teardown),
        cmocka_unit_test_setup_teardown(input_into_posted_buffers, setup, teardown),
        cmocka_unit_test_setup_teardown(partial_and_no_acceptance, setup, teardown),
        cmocka_unit_test_setup_teardown(reset_drops_state, setup, teardown),
        cmocka_unit_test_setup_teardown(forbidden_chains_returned_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(emergency_write, setup, teardown),
        cmocka_unit_test_setup_teardown(transmit_run_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(flooding_guest_bounded_per_run, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
