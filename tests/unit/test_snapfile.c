/* The snapshot state file (lib/snapfile.c): a file of several sections
 * written and read back section by section; every way a file can be wrong
 * (magic, version, length, truncation at every length, a section past the
 * end or with a huge length, a duplicate (tag, index), checksum, too many
 * sections, non-zero padding or reserved word) refused with its own message,
 * and the writer's limits (duplicates, section count, file size). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "pvhboot/bytes.h"
#include "pvhboot/snapfile.h"

/* A finished file: sections (tag, index, bytes) as given, copied out. */
struct file {
    uint8_t *buf;
    size_t len;
};

static const uint8_t VCPU0[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
static const uint8_t VCPU1[] = {0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x11, 0x22};
static const uint8_t DEVICE3[] = {0x42};

static struct file sample(void)
{
    struct pvh_snap_writer w;
    struct pvh_error err;
    assert_int_equal(pvh_snap_writer_init(&w, &err), 0);
    assert_int_equal(pvh_snap_put(&w, PVH_SNAP_VCPU, 0, VCPU0, sizeof(VCPU0), &err), 0);
    assert_int_equal(pvh_snap_put(&w, PVH_SNAP_VCPU, 1, VCPU1, sizeof(VCPU1), &err), 0);
    assert_int_equal(pvh_snap_put(&w, PVH_SNAP_MACHINE, 0, NULL, 0, &err), 0);
    assert_int_equal(pvh_snap_put(&w, PVH_SNAP_DEVICE, 3, DEVICE3, sizeof(DEVICE3), &err), 0);
    const uint8_t *out;
    size_t len;
    assert_int_equal(pvh_snap_finish(&w, &out, &len, &err), 0);
    struct file f = {malloc(len), len};
    assert_non_null(f.buf);
    memcpy(f.buf, out, len);
    pvh_snap_writer_free(&w);
    return f;
}

/* Recomputes the trailer's checksum after an edit, so that the edit itself is what is refused. */
static void reseal(struct file *f)
{
    pvh_put_le32(f->buf + f->len - 8, (uint32_t)crc32(0, f->buf, (uInt)(f->len - 8)));
}

/* pvh_snap_open refuses buf[0, len) with a message containing want. */
static void expect_refused(const uint8_t *buf, size_t len, const char *want)
{
    struct pvh_snap_reader r;
    struct pvh_error err = {0};
    assert_int_equal(pvh_snap_open(&r, buf, len, &err), -1);
    assert_int_equal(err.code, PVH_E_INPUT);
    if (!strstr(err.msg, want))
        fail_msg("\"%s\" lacks \"%s\"", err.msg, want);
    assert_non_null(strstr(err.msg, "state file: "));
    assert_null(strchr(err.msg, '\n'));
    assert_int_equal(r.sections, 0);
}

static void expect_section(const struct pvh_snap_section *s, uint32_t tag, uint32_t index, const uint8_t *data,
                           size_t len)
{
    assert_int_equal(s->tag, tag);
    assert_int_equal(s->index, index);
    assert_int_equal(s->len, len);
    if (len)
        assert_memory_equal(s->data, data, len);
}

static void test_round_trip(void **state)
{
    (void)state;
    struct file f = sample();
    /* header 24 + (16+16) + (16+8) + 16 + (16+8) + trailer 8 */
    assert_int_equal(f.len, 24 + 32 + 24 + 16 + 24 + 8);
    assert_memory_equal(f.buf, "PVHSNAP\0", 8);
    struct pvh_snap_reader r;
    struct pvh_error err;
    assert_int_equal(pvh_snap_open(&r, f.buf, f.len, &err), 0);
    assert_int_equal(r.sections, 4);
    struct pvh_snap_section s;
    pvh_snap_at(&r, 0, &s);
    expect_section(&s, PVH_SNAP_VCPU, 0, VCPU0, sizeof(VCPU0));
    pvh_snap_at(&r, 1, &s);
    expect_section(&s, PVH_SNAP_VCPU, 1, VCPU1, sizeof(VCPU1));
    pvh_snap_at(&r, 2, &s);
    expect_section(&s, PVH_SNAP_MACHINE, 0, NULL, 0);
    pvh_snap_at(&r, 3, &s);
    expect_section(&s, PVH_SNAP_DEVICE, 3, DEVICE3, sizeof(DEVICE3));
    pvh_snap_at(&r, 4, &s);
    assert_null(s.data);
    assert_int_equal(s.len, 0);
    assert_ptr_equal(pvh_snap_find(&r, PVH_SNAP_VCPU, 1, &s), &s);
    expect_section(&s, PVH_SNAP_VCPU, 1, VCPU1, sizeof(VCPU1));
    assert_non_null(pvh_snap_find(&r, PVH_SNAP_DEVICE, 3, &s));
    expect_section(&s, PVH_SNAP_DEVICE, 3, DEVICE3, sizeof(DEVICE3));
    assert_null(pvh_snap_find(&r, PVH_SNAP_VCPU, 2, &s));
    assert_null(pvh_snap_find(&r, PVH_SNAP_MEMORY, 0, &s));
    free(f.buf);
}

static void test_empty_file(void **state)
{
    (void)state;
    struct pvh_snap_writer w;
    struct pvh_error err;
    assert_int_equal(pvh_snap_writer_init(&w, &err), 0);
    const uint8_t *out;
    size_t len;
    assert_int_equal(pvh_snap_finish(&w, &out, &len, &err), 0);
    assert_int_equal(len, 32);
    struct pvh_snap_reader r;
    assert_int_equal(pvh_snap_open(&r, out, len, &err), 0);
    assert_int_equal(r.sections, 0);
    struct pvh_snap_section s;
    assert_null(pvh_snap_find(&r, PVH_SNAP_VCPU, 0, &s));
    pvh_snap_writer_free(&w);
}

static void test_bad_magic(void **state)
{
    (void)state;
    struct file f = sample();
    f.buf[3] = 'x';
    expect_refused(f.buf, f.len, "bad magic at offset 0x3");
    expect_refused((const uint8_t *)"ELF", 3, "bad magic at offset 0x0");
    free(f.buf);
}

static void test_unknown_version(void **state)
{
    (void)state;
    struct file f = sample();
    pvh_put_le32(f.buf + 8, 2);
    reseal(&f);
    expect_refused(f.buf, f.len, "version 2 at offset 0x8; this pvhboot reads version 1");
    free(f.buf);
}

static void test_length_field(void **state)
{
    (void)state;
    struct file f = sample();
    pvh_put_le64(f.buf + 16, f.len + 8);
    reseal(&f);
    expect_refused(f.buf, f.len, "is not the file's 0x80 bytes (truncated)");
    pvh_put_le64(f.buf + 16, f.len - 8);
    reseal(&f);
    expect_refused(f.buf, f.len, "is not the file's 0x80 bytes (trailing bytes)");
    free(f.buf);
}

/* Every prefix of a good file is refused, none read past its end (ASan). */
static void test_every_truncation(void **state)
{
    (void)state;
    struct file f = sample();
    for (size_t n = 0; n < f.len; n++) {
        uint8_t *copy = malloc(n ? n : 1);
        assert_non_null(copy);
        memcpy(copy, f.buf, n);
        expect_refused(copy, n, n < 24 ? "truncated" : "(truncated)");
        free(copy);
    }
    free(f.buf);
}

static void test_section_past_end(void **state)
{
    (void)state;
    struct file f = sample();
    pvh_put_le64(f.buf + 24 + 8, 0x60); /* vCPU 0's length: past the sections */
    reseal(&f);
    expect_refused(f.buf, f.len, "section 0 (tag 3) of 0x60 bytes at offset 0x18 runs past the sections' end at 0x78");
    free(f.buf);
}

static void test_section_length_huge(void **state)
{
    (void)state;
    static const uint64_t lengths[] = {UINT64_MAX, UINT64_MAX - 7, UINT64_MAX - 15, SIZE_MAX - 24, 1ull << 63};
    for (size_t i = 0; i < sizeof(lengths) / sizeof(lengths[0]); i++) {
        struct file f = sample();
        pvh_put_le64(f.buf + 24 + 32 + 8, lengths[i]); /* vCPU 1's */
        reseal(&f);
        expect_refused(f.buf, f.len, "section 1 (tag 3) of 0x");
        expect_refused(f.buf, f.len, "runs past the sections' end at 0x78");
        free(f.buf);
    }
}

/* A header promising more sections than there are; fewer leaves bytes over. */
static void test_section_count_mismatch(void **state)
{
    (void)state;
    struct file f = sample();
    pvh_put_le32(f.buf + 12, 5);
    reseal(&f);
    expect_refused(f.buf, f.len, "section 4's header at offset 0x78 runs past the sections' end at 0x78");
    pvh_put_le32(f.buf + 12, 3);
    reseal(&f);
    expect_refused(f.buf, f.len, "0x18 bytes at offset 0x60 after the last of the header's 3 sections");
    free(f.buf);
}

static void test_duplicate_section(void **state)
{
    (void)state;
    struct file f = sample();
    pvh_put_le32(f.buf + 24 + 32 + 4, 0); /* vCPU 1 becomes a second vCPU 0 */
    reseal(&f);
    expect_refused(f.buf, f.len, "two sections with tag 3 and index 0");
    free(f.buf);
}

static void test_bad_checksum(void **state)
{
    (void)state;
    struct file f = sample();
    f.buf[24 + 16] ^= 0x01; /* one bit of vCPU 0's state */
    expect_refused(f.buf, f.len, "does not match the contents'");
    expect_refused(f.buf, f.len, "at offset 0x78");
    free(f.buf);
}

static void test_too_many_sections(void **state)
{
    (void)state;
    struct file f = sample();
    pvh_put_le32(f.buf + 12, PVH_SNAP_MAX_SECTIONS + 1);
    reseal(&f);
    expect_refused(f.buf, f.len, "4097 sections at offset 0xc, over the limit of 4096");
    pvh_put_le32(f.buf + 12, UINT32_MAX);
    reseal(&f);
    expect_refused(f.buf, f.len, "4294967295 sections");
    free(f.buf);
}

static void test_nonzero_padding(void **state)
{
    (void)state;
    struct file f = sample();
    f.buf[24 + 16 + 11] = 1; /* the first byte after vCPU 0's 11 */
    reseal(&f);
    expect_refused(f.buf, f.len, "section 0 (tag 3): non-zero padding at offset 0x33");
    free(f.buf);
}

static void test_nonzero_reserved(void **state)
{
    (void)state;
    struct file f = sample();
    f.buf[f.len - 1] = 0x80;
    expect_refused(f.buf, f.len, "the trailer's reserved word at offset 0x7c is 0x80000000, not zero");
    free(f.buf);
}

static void test_unaligned_length(void **state)
{
    (void)state;
    uint8_t buf[44] = "PVHSNAP";
    pvh_put_le32(buf + 8, 1);
    pvh_put_le64(buf + 16, sizeof(buf));
    expect_refused(buf, sizeof(buf), "length 0x2c is not a header, whole 8-byte units and a trailer");
}

static void test_writer_refuses_duplicate(void **state)
{
    (void)state;
    struct pvh_snap_writer w;
    struct pvh_error err;
    assert_int_equal(pvh_snap_writer_init(&w, &err), 0);
    assert_int_equal(pvh_snap_put(&w, PVH_SNAP_DEVICE, 2, "ab", 2, &err), 0);
    assert_int_equal(pvh_snap_put(&w, PVH_SNAP_DEVICE, 3, "ab", 2, &err), 0);
    assert_int_equal(pvh_snap_put(&w, PVH_SNAP_DEVICE, 2, "cd", 2, &err), -1);
    assert_string_equal(err.msg, "state file: a second section (tag 5, index 2)");
    assert_int_equal(w.sections, 2);
    pvh_snap_writer_free(&w);
}

static void test_writer_section_limit(void **state)
{
    (void)state;
    struct pvh_snap_writer w;
    struct pvh_error err;
    assert_int_equal(pvh_snap_writer_init(&w, &err), 0);
    for (uint32_t i = 0; i < PVH_SNAP_MAX_SECTIONS; i++)
        assert_int_equal(pvh_snap_put(&w, PVH_SNAP_VCPU, i, &i, sizeof(i), &err), 0);
    assert_int_equal(pvh_snap_put(&w, PVH_SNAP_VM, 0, NULL, 0, &err), -1);
    assert_string_equal(err.msg, "state file: section (tag 4, index 0) would be section 4097, over the limit of 4096");
    const uint8_t *out;
    size_t len;
    assert_int_equal(pvh_snap_finish(&w, &out, &len, &err), 0);
    struct pvh_snap_reader r;
    assert_int_equal(pvh_snap_open(&r, out, len, &err), 0);
    assert_int_equal(r.sections, PVH_SNAP_MAX_SECTIONS);
    struct pvh_snap_section s;
    assert_non_null(pvh_snap_find(&r, PVH_SNAP_VCPU, 4095, &s));
    assert_int_equal(pvh_le32(s.data), 4095);
    pvh_snap_writer_free(&w);
}

static void test_writer_file_limit(void **state)
{
    (void)state;
    struct pvh_snap_writer w;
    struct pvh_error err;
    assert_int_equal(pvh_snap_writer_init(&w, &err), 0);
    size_t most = PVH_SNAP_MAX_FILE - 24 - 16 - 8; /* the largest one section can be */
    uint8_t *big = calloc(1, most + 1);
    assert_non_null(big);
    assert_int_equal(pvh_snap_put(&w, PVH_SNAP_MEMORY, 0, big, most + 1, &err), -1);
    assert_string_equal(err.msg, "state file: section (tag 6, index 0) of 67108817 bytes would take the file past its "
                                 "67108864-byte limit");
    assert_int_equal(pvh_snap_put(&w, PVH_SNAP_MEMORY, 0, big, SIZE_MAX, &err), -1);
    assert_int_equal(pvh_snap_put(&w, PVH_SNAP_MEMORY, 0, big, most, &err), 0);
    assert_int_equal(pvh_snap_put(&w, PVH_SNAP_MEMORY, 1, NULL, 0, &err), -1); /* not even an empty one fits */
    const uint8_t *out;
    size_t len;
    assert_int_equal(pvh_snap_finish(&w, &out, &len, &err), 0);
    assert_int_equal(len, PVH_SNAP_MAX_FILE);
    struct pvh_snap_reader r;
    assert_int_equal(pvh_snap_open(&r, out, len, &err), 0);
    free(big);
    pvh_snap_writer_free(&w);
}

/* A file over the limit is refused by the reader too (its header and checksum right). */
static void test_reader_file_limit(void **state)
{
    (void)state;
    size_t len = (size_t)PVH_SNAP_MAX_FILE + 8;
    uint8_t *buf = calloc(1, len);
    assert_non_null(buf);
    memcpy(buf, "PVHSNAP", 8);
    pvh_put_le32(buf + 8, 1);
    pvh_put_le32(buf + 12, 1);
    pvh_put_le64(buf + 16, len);
    pvh_put_le64(buf + 24 + 8, len - 24 - 16 - 8);
    struct file f = {buf, len};
    reseal(&f);
    expect_refused(buf, len, "67108872 bytes, over the 67108864-byte limit of a state file");
    free(buf);
}

static void test_finished_writer(void **state)
{
    (void)state;
    struct pvh_snap_writer w;
    struct pvh_error err;
    assert_int_equal(pvh_snap_writer_init(&w, &err), 0);
    assert_int_equal(pvh_snap_put(&w, PVH_SNAP_VM, 0, "x", 1, &err), 0);
    const uint8_t *a, *b;
    size_t na, nb;
    assert_int_equal(pvh_snap_finish(&w, &a, &na, &err), 0);
    assert_int_equal(pvh_snap_put(&w, PVH_SNAP_VM, 1, "y", 1, &err), -1);
    assert_string_equal(err.msg, "state file: section (tag 4, index 1) added to a finished writer");
    assert_int_equal(pvh_snap_finish(&w, &b, &nb, &err), 0);
    assert_ptr_equal(a, b);
    assert_int_equal(na, nb);
    pvh_snap_writer_free(&w);
    pvh_snap_writer_free(&w); /* twice: harmless */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_empty_file),
        cmocka_unit_test(test_bad_magic),
        cmocka_unit_test(test_unknown_version),
        cmocka_unit_test(test_length_field),
        cmocka_unit_test(test_every_truncation),
        cmocka_unit_test(test_section_past_end),
        cmocka_unit_test(test_section_length_huge),
        cmocka_unit_test(test_section_count_mismatch),
        cmocka_unit_test(test_duplicate_section),
        cmocka_unit_test(test_bad_checksum),
        cmocka_unit_test(test_too_many_sections),
        cmocka_unit_test(test_nonzero_padding),
        cmocka_unit_test(test_nonzero_reserved),
        cmocka_unit_test(test_unaligned_length),
        cmocka_unit_test(test_writer_refuses_duplicate),
        cmocka_unit_test(test_writer_section_limit),
        cmocka_unit_test(test_writer_file_limit),
        cmocka_unit_test(test_reader_file_limit),
        cmocka_unit_test(test_finished_writer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
