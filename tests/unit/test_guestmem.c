/* The checked guest-address accessor: a range is reachable only when it
 * lies entirely inside one RAM slot; holes, slot ends, overflowing ranges
 * and empty ranges give NULL. And writes through the boot-data callback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "pvhboot/guestmem.h"

#define LOW (8ull << 20)
#define HIGH (4ull << 20)
#define FOUR_GIB 0x100000000ull

static int setup(void **state)
{
    static struct pvh_guestmem mem;
    struct pvh_error err;
    if (pvh_guestmem_map(&mem, LOW, HIGH, &err) != 0)
        return -1;
    *state = &mem;
    return 0;
}

static int teardown(void **state)
{
    pvh_guestmem_unmap(*state);
    return 0;
}

static void test_inside_slots(void **state)
{
    struct pvh_guestmem *mem = *state;
    assert_ptr_equal(pvh_gpa_ptr(mem, 0, 1), mem->slot[0].host);
    assert_ptr_equal(pvh_gpa_ptr(mem, 0x1000, 16), mem->slot[0].host + 0x1000);
    assert_ptr_equal(pvh_gpa_ptr(mem, LOW - 1, 1), mem->slot[0].host + LOW - 1);
    assert_ptr_equal(pvh_gpa_ptr(mem, 0, LOW), mem->slot[0].host);
    assert_ptr_equal(pvh_gpa_ptr(mem, FOUR_GIB, HIGH), mem->slot[1].host);
    assert_ptr_equal(pvh_gpa_ptr(mem, FOUR_GIB + HIGH - 8, 8), mem->slot[1].host + HIGH - 8);
}

static void test_outside_or_straddling(void **state)
{
    struct pvh_guestmem *mem = *state;
    assert_null(pvh_gpa_ptr(mem, LOW - 1, 2));            /* straddles the low end */
    assert_null(pvh_gpa_ptr(mem, LOW, 1));                /* first byte of the hole */
    assert_null(pvh_gpa_ptr(mem, 0xfec00000, 4));         /* I/O APIC: not RAM */
    assert_null(pvh_gpa_ptr(mem, FOUR_GIB - 1, 2));       /* into the high slot from the hole */
    assert_null(pvh_gpa_ptr(mem, FOUR_GIB + HIGH, 1));    /* past the top */
    assert_null(pvh_gpa_ptr(mem, FOUR_GIB + HIGH - 4, 8));
    assert_null(pvh_gpa_ptr(mem, 0, LOW + 1));
    assert_null(pvh_gpa_ptr(mem, 0x1000, 0));             /* empty */
    assert_null(pvh_gpa_ptr(mem, UINT64_MAX, 1));
    assert_null(pvh_gpa_ptr(mem, 0x1000, UINT64_MAX));    /* gpa + len overflows */
    assert_null(pvh_gpa_ptr(mem, UINT64_MAX - 2, 8));
}

static void test_write_callback(void **state)
{
    struct pvh_guestmem *mem = *state;
    struct pvh_error err;
    assert_int_equal(pvh_guestmem_write(mem, 0x2000, "pvh", 4, &err), 0);
    assert_memory_equal(mem->slot[0].host + 0x2000, "pvh", 4);
    assert_int_equal(pvh_guestmem_write(mem, LOW - 2, "pvh", 4, &err), -1);
    assert_string_equal(err.msg, "guest write of 4 bytes at 0x7ffffe lies outside guest RAM");
    assert_int_equal(pvh_guestmem_write(mem, LOW, "x", 0, &err), 0); /* nothing to write */
}

static void test_resident_counts_touched_pages(void **state)
{
    struct pvh_guestmem *mem = *state;
    uint64_t before = pvh_guestmem_resident(mem);
    memset(mem->slot[1].host, 1, 3 * 4096);
    assert_int_equal(pvh_guestmem_resident(mem) - before, 3 * 4096);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inside_slots),
        cmocka_unit_test(test_outside_or_straddling),
        cmocka_unit_test(test_write_callback),
        cmocka_unit_test(test_resident_counts_touched_pages),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
