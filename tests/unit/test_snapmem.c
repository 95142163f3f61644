/* The --snapshot-diff memory file's trailer (lib/snapmem.c): a full and a
 * diff file round-trip (identity, bitmap); every malformed trailer is one
 * "memory file: ..." error naming what is wrong: too short, bad magic,
 * version, kind, reserved words, another RAM size, a bitmap of the wrong
 * size, a truncated or extended file, a checksum that does not match, a
 * page count that is not the bitmap's, a bit past RAM. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "pvhboot/bytes.h"
#include "pvhboot/snapmem.h"

#define RAM (100 * 4096ull) /* 100 pages: the bitmap's last word half used */

struct file {
    uint8_t *buf;
    size_t len;
};

/* A memory file of RAM bytes whose diff holds pages 0, 63, 64 and 99. */
static struct file make(uint32_t kind)
{
    struct pvh_snapmem_id id = {kind, 0x1122334455667788ull, kind == PVH_SNAPMEM_DIFF ? 3 : 0};
    uint64_t blen = pvh_snapmem_bitmap_bytes(kind, RAM);
    struct file f = {calloc(1, RAM + PVH_SNAPMEM_HEADER + blen), RAM + PVH_SNAPMEM_HEADER + blen};
    uint8_t *bitmap = blen ? f.buf + RAM + PVH_SNAPMEM_HEADER : NULL;
    if (bitmap) {
        const unsigned pages[] = {0, 63, 64, 99};
        for (size_t i = 0; i < 4; i++)
            bitmap[pages[i] / 8] |= (uint8_t)(1u << (pages[i] % 8));
    }
    pvh_snapmem_encode(&id, RAM, bitmap, 4, f.buf + RAM);
    return f;
}

/* The trailer's checksum recomputed after a change (a hostile file made consistent). */
static void reseal(struct file *f)
{
    uint8_t *h = f->buf + RAM;
    pvh_put_le32(h + 56, 0);
    uLong crc = crc32(crc32(0L, Z_NULL, 0), h, (uInt)(f->len - RAM));
    pvh_put_le32(h + 56, (uint32_t)crc);
}

static const char *open_error(const struct file *f, uint64_t ram)
{
    static struct pvh_error err;
    struct pvh_snapmem_id id;
    const uint8_t *bitmap;
    memset(&err, 0, sizeof(err));
    if (pvh_snapmem_open(f->buf, f->len, ram, &id, &bitmap, &err) == 0)
        return "(accepted)";
    return err.msg;
}

static void test_sizes(void **state)
{
    (void)state;
    assert_int_equal(pvh_snapmem_bitmap_bytes(PVH_SNAPMEM_FULL, RAM), 0);
    assert_int_equal(pvh_snapmem_bitmap_bytes(PVH_SNAPMEM_DIFF, RAM), 16);
    assert_int_equal(pvh_snapmem_bitmap_bytes(PVH_SNAPMEM_DIFF, 64 * 4096), 8);
    assert_int_equal(pvh_snapmem_bitmap_bytes(PVH_SNAPMEM_DIFF, 4096), 8);
}

static void test_round_trip(void **state)
{
    (void)state;
    struct file full = make(PVH_SNAPMEM_FULL), diff = make(PVH_SNAPMEM_DIFF);
    struct pvh_snapmem_id id;
    const uint8_t *bitmap = (const uint8_t *)"x";
    struct pvh_error err;
    assert_int_equal(pvh_snapmem_open(full.buf, full.len, RAM, &id, &bitmap, &err), 0);
    assert_int_equal(id.kind, PVH_SNAPMEM_FULL);
    assert_int_equal(id.generation, 0);
    assert_true(id.chain == 0x1122334455667788ull);
    assert_null(bitmap);
    assert_int_equal(pvh_snapmem_open(diff.buf, diff.len, RAM, &id, &bitmap, &err), 0);
    assert_int_equal(id.kind, PVH_SNAPMEM_DIFF);
    assert_int_equal(id.generation, 3);
    assert_ptr_equal(bitmap, diff.buf + RAM + PVH_SNAPMEM_HEADER);
    unsigned held = 0;
    for (unsigned p = 0; p < RAM / 4096; p++)
        held += (unsigned)pvh_snapmem_has(bitmap, p);
    assert_int_equal(held, 4);
    assert_true(pvh_snapmem_has(bitmap, 63) && pvh_snapmem_has(bitmap, 64) && pvh_snapmem_has(bitmap, 99));
    assert_false(pvh_snapmem_has(bitmap, 1));
    free(full.buf);
    free(diff.buf);
}

static void test_short_files(void **state)
{
    (void)state;
    struct file f = make(PVH_SNAPMEM_DIFF);
    struct file cut = {f.buf, RAM + 10};
    assert_string_equal(open_error(&cut, RAM),
                        "memory file: 409610 bytes, too short for 0x64000 bytes of guest RAM and a 64-byte trailer");
    cut.len = RAM - 1;
    assert_non_null(strstr(open_error(&cut, RAM), "too short"));
    cut.len = f.len - 1;
    assert_non_null(strstr(open_error(&cut, RAM), "(truncated)"));
    assert_string_equal(open_error(&f, RAM + 4096), /* the snapshot says more RAM: the trailer is not where it looks */
                        "memory file: 409680 bytes, too short for 0x65000 bytes of guest RAM and a 64-byte trailer");
    free(f.buf);
    struct file full = make(PVH_SNAPMEM_FULL);
    struct file longer = {realloc(full.buf, full.len + 8), full.len + 8};
    memset(longer.buf + full.len, 0, 8);
    assert_non_null(strstr(open_error(&longer, RAM), "(trailing bytes)"));
    free(longer.buf);
}

static void test_header_fields(void **state)
{
    (void)state;
    struct {
        size_t off;
        uint32_t value;
        const char *want;
    } cases[] = {
        {0, 'X', "bad magic"},
        {8, 2, "trailer version 2; this pvhboot reads version 1"},
        {12, 7, "trailer kind 7 (0 full, 1 diff)"},
        {12, PVH_SNAPMEM_FULL, "a bitmap of 0x10 bytes; a full file over this RAM has 0"},
        {28, 1, "reserved words are not zero"},
        {60, 1, "reserved words are not zero"},
        {32, 4096, "the trailer is for 0x1000 bytes of guest RAM, the snapshot's is 0x64000"},
        {40, 5, "the trailer counts 5 pages, its bitmap 4"},
        {56, 0, "trailer checksum 0x00000000 does not match"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct file f = make(PVH_SNAPMEM_DIFF);
        pvh_put_le32(f.buf + RAM + cases[i].off, cases[i].value);
        if (cases[i].off != 56)
            reseal(&f);
        const char *got = open_error(&f, RAM);
        if (!strstr(got, cases[i].want) || strncmp(got, "memory file: ", 13))
            fail_msg("case %zu: got '%s', want '%s'", i, got, cases[i].want);
        free(f.buf);
    }
}

static void test_bitmap_contents(void **state)
{
    (void)state;
    struct file f = make(PVH_SNAPMEM_DIFF);
    f.buf[RAM + PVH_SNAPMEM_HEADER + 1] ^= 1; /* page 8, checksum not redone */
    assert_non_null(strstr(open_error(&f, RAM), "checksum"));
    free(f.buf);
    f = make(PVH_SNAPMEM_DIFF);
    f.buf[RAM + PVH_SNAPMEM_HEADER + 13] |= 0x10; /* page 108: past the 100 pages */
    pvh_put_le64(f.buf + RAM + 40, 5);
    reseal(&f);
    assert_string_equal(open_error(&f, RAM), "memory file: the bitmap marks page 108, past guest RAM's 100 pages");
    free(f.buf);
    f = make(PVH_SNAPMEM_DIFF);
    assert_string_equal(open_error(&f, RAM + 1), "memory file: guest RAM of 0x64001 bytes is not whole pages");
    free(f.buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes),         cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_short_files),   cmocka_unit_test(test_header_fields),
        cmocka_unit_test(test_bitmap_contents),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
