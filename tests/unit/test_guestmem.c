/* The checked guest-address accessor: a range is reachable only when it
 * lies entirely inside one RAM slot; holes, slot ends, overflowing ranges
 * and empty ranges give NULL. Writes through the boot-data callback. Loading
 * file bytes by mapping and by copying: same bytes in the guest, zeros after
 * them, only whole congruent pages mapped, the file never written. A file
 * truncated under guest RAM mapped from it, or under a copy: zeros, no
 * SIGBUS, and the file named. The resident count from /proc/self/pagemap.
 * --snapshot-diff's VMM-side dirty bitmap: every page of a range the
 * accessor hands out (and so of a boot-data write) marked, the pages around
 * it and refused ranges not; marking across the MMIO hole; nothing without
 * tracking. */
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

/* A test file of FILE_SIZE bytes whose byte i is (i * 7 + i / 4096) & 0xff,
 * opened with pvh_file_open (as pvhboot opens kernels and modules); wfd is a
 * writable descriptor of the same file, for truncating it under the loader. */
#define FILE_SIZE (5 * 4096 + 123)
struct test_file {
    struct pvh_file f;
    int wfd;
    char path[32];
    uint8_t *data; /* the bytes written */
};

static void make_file(struct test_file *t)
{
    struct pvh_error err;
    snprintf(t->path, sizeof(t->path), "/tmp/test_guestmem.XXXXXX");
    t->wfd = mkstemp(t->path);
    t->data = malloc(FILE_SIZE);
    assert_true(t->wfd >= 0 && t->data);
    for (size_t i = 0; i < FILE_SIZE; i++)
        t->data[i] = (uint8_t)(i * 7 + i / 4096);
    assert_int_equal(write(t->wfd, t->data, FILE_SIZE), FILE_SIZE);
    assert_int_equal(pvh_file_open(&t->f, t->path, &err), 0);
}

/* Unlinked only now: an unlink changes the file's ctime, which pvh_file_check
 * would rightly call a change. */
static void free_file(struct test_file *t)
{
    unlink(t->path);
    pvh_file_close(&t->f);
    close(t->wfd);
    free(t->data);
}

/* Loads [off, off + len) at gpa with mode; checks the guest bytes, the zeros
 * around them and that the file is unchanged after the guest writes; returns
 * the bytes mapped. */
static uint64_t load_and_check(struct pvh_guestmem *mem, const struct test_file *t, uint64_t gpa, uint64_t off,
                               uint64_t len, enum pvh_load_mode mode)
{
    struct pvh_error err;
    uint64_t mapped = 12345;
    memset(pvh_gpa_ptr(mem, gpa - 4096, len + 8192), 0, len + 8192);
    assert_int_equal(pvh_guestmem_load(mem, gpa, &t->f, off, len, mode, "t", &mapped, &err), 0);
    uint8_t *g = pvh_gpa_ptr(mem, gpa, len);
    assert_memory_equal(g, t->data + off, len);
    for (int i = 1; i <= 4096; i++)
        assert_int_equal(g[-i] | g[len - 1 + (uint64_t)i], 0);
    memset(g, 0xee, len); /* the guest writes: private pages, the file stays */
    uint8_t back[FILE_SIZE];
    assert_int_equal(pread(t->f.fd, back, FILE_SIZE, 0), FILE_SIZE);
    assert_memory_equal(back, t->data, FILE_SIZE);
    assert_int_equal(pvh_file_check(&t->f, &err), 0);
    assert_int_equal(pvh_guestmem_check_files(mem, &err), 0);
    return mapped;
}

static void test_load_maps_whole_congruent_pages(void **state)
{
    struct test_file f;
    make_file(&f);
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
    struct test_file f;
    make_file(&f);
    assert_int_equal(load_and_check(*state, &f, 0x300000, 0, FILE_SIZE, PVH_LOAD_COPY), 0);
    assert_int_equal(load_and_check(*state, &f, 0x400008, 0x10, 3 * 4096, PVH_LOAD_MAP), 0); /* not congruent */
    assert_int_equal(load_and_check(*state, &f, 0x500000, 0, 4000, PVH_LOAD_MAP), 0);        /* under a page */
    free_file(&f);
}

static void test_load_refuses_bad_ranges(void **state)
{
    struct pvh_guestmem *mem = *state;
    struct test_file f;
    make_file(&f);
    struct pvh_error err;
    uint64_t mapped = 1;
    assert_int_equal(pvh_guestmem_load(mem, LOW - 4096, &f.f, 0, 8192, PVH_LOAD_MAP, "kernel segment 1", &mapped,
                                       &err), -1);
    assert_string_equal(err.msg, "kernel segment 1 (8192 bytes at 0x7ff000) lies outside guest RAM");
    assert_int_equal(mapped, 0);
    assert_int_equal(pvh_guestmem_load(mem, 0x100000, &f.f, 4096, FILE_SIZE, PVH_LOAD_MAP, "m", NULL, &err), -1);
    assert_string_equal(err.msg, "m: file bytes [0x1000, 0x1000 + 0x507b) run past the file's end (20603 bytes)");
    assert_int_equal(pvh_guestmem_load(mem, 0x100000, &f.f, UINT64_MAX, 2, PVH_LOAD_MAP, "m", NULL, &err), -1);
    assert_int_equal(pvh_guestmem_load(mem, UINT64_MAX - 1, &f.f, 0, 4096, PVH_LOAD_MAP, "m", NULL, &err), -1);
    free_file(&f);
}

/* Guest RAM of its own for a case that leaves a shrunk file's mapping in it. */
static struct pvh_guestmem *own_guest_ram(void)
{
    static struct pvh_guestmem mem;
    struct pvh_error err;
    assert_int_equal(pvh_guestmem_map(&mem, LOW, 0, &err), 0);
    return &mem;
}

static void expect_shrank_while_running(const struct pvh_guestmem *mem, const struct test_file *t)
{
    struct pvh_error err;
    char want[160];
    snprintf(want, sizeof(want), "%s: the file shrank while the VM ran; guest RAM mapped from it (--load map) lost its "
             "pages", t->path);
    assert_int_equal(pvh_guestmem_check_files(mem, &err), -1);
    assert_string_equal(err.msg, want);
}

/* --load map, then the file is truncated: the VMM touching guest RAM mapped
 * from it (as a device model would) reads zeros where the pages are gone
 * instead of dying by SIGBUS, and the file is named. */
static void test_touching_guest_ram_of_a_shrunk_file(void **state)
{
    (void)state;
    struct pvh_guestmem *mem = own_guest_ram();
    struct test_file t;
    make_file(&t);
    struct pvh_error err;
    uint64_t mapped = 0;
    assert_int_equal(pvh_guestmem_load(mem, 0x100000, &t.f, 0, FILE_SIZE, PVH_LOAD_MAP, "t", &mapped, &err), 0);
    assert_int_equal(mapped, 5 * 4096);
    volatile uint8_t *g = pvh_gpa_ptr(mem, 0x100000, FILE_SIZE);
    assert_int_equal(g[2 * 4096 + 5], t.data[2 * 4096 + 5]); /* read from the file */
    assert_int_equal(ftruncate(t.wfd, 2 * 4096 + 100), 0);   /* pages 3 and 4 are gone */
    assert_int_equal(g[2 * 4096 + 5], t.data[2 * 4096 + 5]); /* the page holding the new end stays */
    assert_int_equal(g[3 * 4096 + 5], 0);
    assert_int_equal(g[4 * 4096 + 4095], 0);
    g[3 * 4096] = 0x5a; /* the zero page put in is writable guest RAM */
    assert_int_equal(g[3 * 4096], 0x5a);
    expect_shrank_while_running(mem, &t);
    assert_int_equal(pvh_file_check(&t.f, &err), -1); /* the file itself changed too */
    free_file(&t);
    pvh_guestmem_unmap(mem);
}

/* Nothing touched the lost pages yet (KVM_RUN failed with EFAULT on them):
 * pvh_guestmem_check_files finds the file by touching each range's end. */
static void test_check_files_finds_a_shrunk_file_untouched(void **state)
{
    (void)state;
    struct pvh_guestmem *mem = own_guest_ram();
    struct test_file t;
    make_file(&t);
    struct pvh_error err;
    assert_int_equal(pvh_guestmem_load(mem, 0x200000, &t.f, 0, FILE_SIZE, PVH_LOAD_MAP, "t", NULL, &err), 0);
    assert_int_equal(pvh_guestmem_check_files(mem, &err), 0);
    assert_int_equal(ftruncate(t.wfd, 4096), 0);
    expect_shrank_while_running(mem, &t);
    free_file(&t);
    pvh_guestmem_unmap(mem);
}

/* --load copy from a file truncated after it was opened: the copy reads
 * zeros past the new end (no SIGBUS) and pvh_file_check fails the setup. */
static void test_copying_from_a_shrunk_file(void **state)
{
    struct pvh_guestmem *mem = *state;
    struct test_file t;
    make_file(&t);
    struct pvh_error err;
    assert_int_equal(ftruncate(t.wfd, 4096 + 10), 0);
    assert_int_equal(pvh_guestmem_load(mem, 0x700000, &t.f, 0, FILE_SIZE, PVH_LOAD_COPY, "t", NULL, &err), 0);
    uint8_t *g = pvh_gpa_ptr(mem, 0x700000, FILE_SIZE);
    assert_memory_equal(g, t.data, 4096 + 10);
    assert_int_equal(g[2 * 4096], 0);
    assert_int_equal(pvh_file_check(&t.f, &err), -1);
    char want[128];
    snprintf(want, sizeof(want), "%s: the file changed (truncated?) while pvhboot was reading it", t.path);
    assert_string_equal(err.msg, want);
    free_file(&t);
}

/* Which of the pages [first, first + n) of slot i the VMM marked, as a string of 0/1. */
static const char *marks(const struct pvh_guestmem *mem, int i, uint64_t first, unsigned n)
{
    static char out[64];
    for (unsigned k = 0; k < n && k < sizeof(out) - 1; k++)
        out[k] = pvh_guestmem_vmm_dirty(&mem->slot[i], (first + k) * 4096) ? '1' : '0';
    out[n < sizeof(out) - 1 ? n : sizeof(out) - 1] = '\0';
    return out;
}

static void test_no_dirty_marks_without_tracking(void **state)
{
    struct pvh_guestmem *mem = *state;
    assert_non_null(pvh_gpa_ptr(mem, 0x3000, 16));
    pvh_guestmem_mark_dirty(mem, 0x3000, 16);
    assert_null(mem->slot[0].vmm_dirty);
    assert_string_equal(marks(mem, 0, 0, 6), "000000");
}

static void test_accessor_marks_dirty_pages(void **state)
{
    (void)state;
    struct pvh_guestmem mem;
    struct pvh_error err;
    assert_int_equal(pvh_guestmem_map(&mem, LOW, HIGH, &err), 0);
    assert_int_equal(pvh_guestmem_track_dirty(&mem, &err), 0);
    assert_string_equal(marks(&mem, 0, 0, 6), "000000");
    assert_non_null(pvh_gpa_ptr(&mem, 0x1ff8, 16)); /* straddles pages 1 and 2 */
    assert_string_equal(marks(&mem, 0, 0, 6), "011000");
    assert_non_null(pvh_gpa_ptr(&mem, 0x5000, 4096)); /* exactly page 5 */
    assert_string_equal(marks(&mem, 0, 0, 7), "0110010");
    assert_null(pvh_gpa_ptr(&mem, LOW - 8, 16)); /* refused: into the hole */
    assert_string_equal(marks(&mem, 0, LOW / 4096 - 2, 2), "00");
    assert_int_equal(pvh_guestmem_write(&mem, FOUR_GIB + 0x7fff, "ab", 2, &err), 0);
    assert_string_equal(marks(&mem, 1, 6, 4), "0110");
    assert_string_equal(marks(&mem, 0, 6, 4), "0000"); /* slot 0's pages 7 and 8 stay clean */
    pvh_guestmem_mark_dirty(&mem, LOW - 4096, FOUR_GIB + 4096 - (LOW - 4096)); /* across the hole */
    assert_string_equal(marks(&mem, 0, LOW / 4096 - 2, 2), "01");
    assert_string_equal(marks(&mem, 1, 0, 2), "10");
    pvh_guestmem_mark_dirty(&mem, UINT64_MAX - 10, 100); /* wraps: nothing */
    assert_string_equal(marks(&mem, 1, HIGH / 4096 - 1, 1), "0");
    pvh_guestmem_clear_dirty(&mem);
    assert_string_equal(marks(&mem, 0, 0, 7), "0000000");
    assert_string_equal(marks(&mem, 1, 0, 10), "0000000000");
    pvh_guestmem_unmap(&mem);
    assert_null(mem.slot[0].vmm_dirty);
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
        cmocka_unit_test(test_touching_guest_ram_of_a_shrunk_file),
        cmocka_unit_test(test_check_files_finds_a_shrunk_file_untouched),
        cmocka_unit_test(test_copying_from_a_shrunk_file),
        cmocka_unit_test(test_no_dirty_marks_without_tracking),
        cmocka_unit_test(test_accessor_marks_dirty_pages),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
