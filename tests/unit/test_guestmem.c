/* The checked guest-address accessor: a range is reachable only when it
 * lies entirely inside one RAM slot; holes, slot ends, overflowing ranges
 * and empty ranges give NULL. Writes through the boot-data callback. Loading
 * file bytes by mapping and by copying: same bytes in the guest, zeros after
 * them, only whole congruent pages mapped, the file never written. The
 * resident count from /proc/self/pagemap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

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
    int fd = open("/proc/self/pagemap", O_RDONLY);
    assert_true(fd >= 0);
    uint64_t before = pvh_guestmem_resident(mem, fd);
    memset(mem->slot[1].host + 0x10000, 1, 3 * 4096);
    assert_int_equal(pvh_guestmem_resident(mem, fd) - before, 3 * 4096);
    assert_int_equal(pvh_guestmem_resident(mem, -1), 0);
    close(fd);
}

/* A test file of FILE_SIZE bytes whose byte i is (i * 7 + i / 4096) & 0xff. */
#define FILE_SIZE (5 * 4096 + 123)
struct test_file {
    int fd;
    uint8_t *data;
};

static struct test_file make_file(void)
{
    char path[] = "/tmp/test_guestmem.XXXXXX";
    struct test_file f = {mkstemp(path), malloc(FILE_SIZE)};
    assert_true(f.fd >= 0 && f.data);
    unlink(path);
    for (size_t i = 0; i < FILE_SIZE; i++)
        f.data[i] = (uint8_t)(i * 7 + i / 4096);
    assert_int_equal(write(f.fd, f.data, FILE_SIZE), FILE_SIZE);
    return f;
}

static void free_file(struct test_file *f)
{
    close(f->fd);
    free(f->data);
}

/* Loads [off, off + len) at gpa with mode; checks the guest bytes, the zeros
 * around them and that the file is unchanged after the guest writes; returns
 * the bytes mapped. */
static uint64_t load_and_check(struct pvh_guestmem *mem, const struct test_file *f, uint64_t gpa, uint64_t off,
                               uint64_t len, enum pvh_load_mode mode)
{
    struct pvh_error err;
    uint64_t mapped = 12345;
    memset(pvh_gpa_ptr(mem, gpa - 4096, len + 8192), 0, len + 8192);
    assert_int_equal(pvh_guestmem_load(mem, gpa, f->fd, f->data, FILE_SIZE, off, len, mode, "t", &mapped, &err), 0);
    uint8_t *g = pvh_gpa_ptr(mem, gpa, len);
    assert_memory_equal(g, f->data + off, len);
    for (int i = 1; i <= 4096; i++)
        assert_int_equal(g[-i] | g[len - 1 + (uint64_t)i], 0);
    memset(g, 0xee, len); /* the guest writes: private pages, the file stays */
    uint8_t back[FILE_SIZE];
    assert_int_equal(pread(f->fd, back, FILE_SIZE, 0), FILE_SIZE);
    assert_memory_equal(back, f->data, FILE_SIZE);
    return mapped;
}

static void test_load_maps_whole_congruent_pages(void **state)
{
    struct test_file f = make_file();
    /* page-aligned: 5 whole pages mapped, the 123-byte tail copied */
    assert_int_equal(load_and_check(*state, &f, 0x100000, 0, FILE_SIZE, PVH_LOAD_MAP), 5 * 4096);
    /* congruent at 0x10: the head (4096 - 0x10 bytes) and tail copied */
    assert_int_equal(load_and_check(*state, &f, 0x200010, 0x10, 3 * 4096, PVH_LOAD_MAP), 2 * 4096);
    /* in the high slot too */
    assert_int_equal(load_and_check(*state, &f, FOUR_GIB + 0x3000, 0x1000, 4 * 4096, PVH_LOAD_MAP), 4 * 4096);
    free_file(&f);
}

static void test_load_copies_otherwise(void **state)
{
    struct test_file f = make_file();
    assert_int_equal(load_and_check(*state, &f, 0x300000, 0, FILE_SIZE, PVH_LOAD_COPY), 0);
    assert_int_equal(load_and_check(*state, &f, 0x400008, 0x10, 3 * 4096, PVH_LOAD_MAP), 0); /* not congruent */
    assert_int_equal(load_and_check(*state, &f, 0x500000, 0, 4000, PVH_LOAD_MAP), 0);        /* under a page */
    free_file(&f);
}

static void test_load_refuses_bad_ranges(void **state)
{
    struct pvh_guestmem *mem = *state;
    struct test_file f = make_file();
    struct pvh_error err;
    uint64_t mapped = 1;
    assert_int_equal(pvh_guestmem_load(mem, LOW - 4096, f.fd, f.data, FILE_SIZE, 0, 8192, PVH_LOAD_MAP,
                                       "kernel segment 1", &mapped, &err), -1);
    assert_string_equal(err.msg, "kernel segment 1 (8192 bytes at 0x7ff000) lies outside guest RAM");
    assert_int_equal(mapped, 0);
    assert_int_equal(pvh_guestmem_load(mem, 0x100000, f.fd, f.data, FILE_SIZE, 4096, FILE_SIZE, PVH_LOAD_MAP,
                                       "m", NULL, &err), -1);
    assert_string_equal(err.msg, "m: file bytes [0x1000, 0x1000 + 0x507b) run past the file's end (20603 bytes)");
    assert_int_equal(pvh_guestmem_load(mem, 0x100000, f.fd, f.data, FILE_SIZE, UINT64_MAX, 2, PVH_LOAD_MAP, "m",
                                       NULL, &err), -1);
    assert_int_equal(pvh_guestmem_load(mem, UINT64_MAX - 1, f.fd, f.data, FILE_SIZE, 0, 4096, PVH_LOAD_MAP, "m",
                                       NULL, &err), -1);
    free_file(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inside_slots),
        cmocka_unit_test(test_outside_or_straddling),
        cmocka_unit_test(test_write_callback),
        cmocka_unit_test(test_resident_counts_touched_pages),
        cmocka_unit_test(test_load_maps_whole_congruent_pages),
        cmocka_unit_test(test_load_copies_otherwise),
        cmocka_unit_test(test_load_refuses_bad_ranges),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
