/* The buses (vmm/bus.c): registration keeps ranges sorted and refuses
 * overlaps, empty and wrapping ranges and a full table with one line naming
 * both devices; lookup finds the range holding an address (first and last
 * byte, the byte past the end); dispatch hands the device its offset, size
 * and little-endian value under the device's lock; unclaimed accesses and
 * sizes the bus does not take read all ones and are counted. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "../../vmm/bus.h"

struct probe {
    pthread_mutex_t lock;
    uint64_t last_off, last_value;
    unsigned last_size;
    int reads, writes, locked_during_access;
};

static uint64_t probe_read(void *dev, uint64_t off, unsigned size)
{
    struct probe *p = dev;
    p->reads++;
    p->last_off = off;
    p->last_size = size;
    p->locked_during_access = pthread_mutex_trylock(&p->lock) == EBUSY;
    return 0x1122334455667788ull;
}

static void probe_write(void *dev, uint64_t off, uint64_t value, unsigned size)
{
    struct probe *p = dev;
    p->writes++;
    p->last_off = off;
    p->last_value = value;
    p->last_size = size;
    p->locked_during_access = pthread_mutex_trylock(&p->lock) == EBUSY;
}

static const struct pvh_dev_ops probe_ops = {.name = "probe", .read = probe_read, .write = probe_write};
static const struct pvh_dev_ops other_ops = {.name = "other", .read = probe_read, .write = probe_write};

struct fixture {
    struct pvh_unhandled_table unhandled;
    struct pvh_bus bus;
    struct probe a, b;
};

static int setup(void **state)
{
    static struct fixture f;
    memset(&f, 0, sizeof(f));
    pthread_mutex_init(&f.unhandled.lock, NULL);
    pthread_mutex_init(&f.a.lock, NULL);
    pthread_mutex_init(&f.b.lock, NULL);
    pvh_bus_init(&f.bus, "mmio", 1, &f.unhandled);
    *state = &f;
    return 0;
}

static void registration_sorted_and_overlaps_refused(void **state)
{
    struct fixture *f = *state;
    struct pvh_error err;
    assert_int_equal(pvh_bus_register(&f->bus, 0xd0001000, 0x1000, &probe_ops, &f->a, &f->a.lock, &err), 0);
    assert_int_equal(pvh_bus_register(&f->bus, 0xd0000000, 0x1000, &other_ops, &f->b, &f->b.lock, &err), 0);
    assert_int_equal(f->bus.r[0].base, 0xd0000000);
    assert_int_equal(f->bus.r[1].base, 0xd0001000);
    assert_int_equal(pvh_bus_register(&f->bus, 0xd0001fff, 2, &other_ops, &f->b, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "overlaps probe at 0xd0001000"));
    assert_int_equal(pvh_bus_register(&f->bus, 0xcfffffff, 2, &other_ops, &f->b, NULL, &err), -1);
    assert_int_equal(pvh_bus_register(&f->bus, 0x100, 0, &other_ops, &f->b, NULL, &err), -1);
    assert_int_equal(pvh_bus_register(&f->bus, UINT64_MAX, 2, &other_ops, &f->b, NULL, &err), -1);
    assert_int_equal(f->bus.n, 2);
    for (uint64_t i = 2; i < PVH_BUS_MAX_RANGES; i++)
        assert_int_equal(pvh_bus_register(&f->bus, i * 0x10, 0x10, &other_ops, &f->b, NULL, &err), 0);
    assert_int_equal(pvh_bus_register(&f->bus, 0x1000, 0x10, &other_ops, &f->b, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "no room"));
    for (size_t i = 1; i < f->bus.n; i++)
        assert_true(f->bus.r[i - 1].base + f->bus.r[i - 1].len <= f->bus.r[i].base);
}

static void lookup_bounds(void **state)
{
    struct fixture *f = *state;
    struct pvh_error err;
    assert_int_equal(pvh_bus_register(&f->bus, 0x1000, 0x100, &probe_ops, &f->a, NULL, &err), 0);
    assert_int_equal(pvh_bus_register(&f->bus, 0x2000, 0x100, &other_ops, &f->b, NULL, &err), 0);
    assert_null(pvh_bus_find(&f->bus, 0xfff));
    assert_ptr_equal(pvh_bus_find(&f->bus, 0x1000)->dev, &f->a);
    assert_ptr_equal(pvh_bus_find(&f->bus, 0x10ff)->dev, &f->a);
    assert_null(pvh_bus_find(&f->bus, 0x1100));
    assert_ptr_equal(pvh_bus_find(&f->bus, 0x20ff)->dev, &f->b);
    assert_null(pvh_bus_find(&f->bus, 0x2100));
    assert_null(pvh_bus_find(&f->bus, UINT64_MAX));
}

static void dispatch_under_the_device_lock(void **state)
{
    struct fixture *f = *state;
    struct pvh_error err;
    assert_int_equal(pvh_bus_register(&f->bus, 0xd0000000, 0x1000, &probe_ops, &f->a, &f->a.lock, &err), 0);
    uint8_t data[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    assert_true(pvh_bus_access(&f->bus, 0xd0000050, 1, data, 4));
    assert_int_equal(f->a.last_off, 0x50);
    assert_int_equal(f->a.last_value, 0x04030201);
    assert_int_equal(f->a.last_size, 4);
    assert_true(f->a.locked_during_access);
    assert_true(pvh_bus_access(&f->bus, 0xd0000008, 0, data, 8));
    assert_int_equal(f->a.last_size, 8);
    assert_int_equal(data[0], 0x88);
    assert_int_equal(data[7], 0x11);
    assert_true(f->a.locked_during_access);
    assert_int_equal(pthread_mutex_trylock(&f->a.lock), 0); /* released afterwards */
    pthread_mutex_unlock(&f->a.lock);
}

static void unclaimed_and_bad_sizes_read_all_ones(void **state)
{
    struct fixture *f = *state;
    struct pvh_error err;
    assert_int_equal(pvh_bus_register(&f->bus, 0xd0000000, 0x1000, &probe_ops, &f->a, NULL, &err), 0);
    uint8_t data[8] = {0};
    assert_false(pvh_bus_access(&f->bus, 0xe0000000, 0, data, 4));
    assert_int_equal(data[0], 0xff);
    assert_int_equal(data[3], 0xff);
    memset(data, 0, sizeof(data));
    assert_false(pvh_bus_access(&f->bus, 0xd0000000, 0, data, 3)); /* no such access size */
    assert_int_equal(data[2], 0xff);
    assert_false(pvh_bus_access(&f->bus, 0xd0000000, 1, data, 0));
    assert_int_equal(f->a.reads + f->a.writes, 0);
    assert_int_equal(f->unhandled.t.n, 2);
    assert_int_equal(f->unhandled.t.e[0].addr, 0xe0000000);
    assert_int_equal(f->unhandled.t.e[0].mmio, 1);
    assert_int_equal(f->unhandled.t.e[1].reads, 1);
    assert_int_equal(f->unhandled.t.e[1].writes, 1);
    struct pvh_bus pio;
    pvh_bus_init(&pio, "port", 0, &f->unhandled);
    assert_int_equal(pvh_bus_register(&pio, 0x3f8, 8, &probe_ops, &f->a, NULL, &err), 0);
    assert_false(pvh_bus_access(&pio, 0x3f8, 0, data, 8)); /* ports take 1, 2 or 4 bytes */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(registration_sorted_and_overlaps_refused, setup),
        cmocka_unit_test_setup(lookup_bounds, setup),
        cmocka_unit_test_setup(dispatch_under_the_device_lock, setup),
        cmocka_unit_test_setup(unclaimed_and_bad_sizes_read_all_ones, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
