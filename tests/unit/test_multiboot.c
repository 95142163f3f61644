/* Multiboot 1: header parsing (checksum, required flags, a.out-kludge address
 * fields and their bounds, ELF32/ELF64 load plans) and the Multiboot
 * information builder, whose bytes are parsed back field by field at the
 * offsets the Multiboot 0.6.96 specification gives. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "pvhboot/multiboot.h"
#include "pvhboot/bytes.h"

#define IMG_SIZE 8192
#define HDR_OFF 0x40

struct aout {
    uint32_t flags, header_addr, load_addr, load_end, bss_end, entry;
};

static void put_header(uint8_t *img, size_t off, const struct aout *a)
{
    pvh_put_le32(img + off, 0x1BADB002u);
    pvh_put_le32(img + off + 4, a->flags);
    pvh_put_le32(img + off + 8, 0u - 0x1BADB002u - a->flags);
    pvh_put_le32(img + off + 12, a->header_addr);
    pvh_put_le32(img + off + 16, a->load_addr);
    pvh_put_le32(img + off + 20, a->load_end);
    pvh_put_le32(img + off + 24, a->bss_end);
    pvh_put_le32(img + off + 28, a->entry);
}

static uint8_t img[IMG_SIZE];

static int parse_aout(const struct aout *a, struct pvh_mb1_load *load, struct pvh_error *err)
{
    memset(img, 0, sizeof(img));
    put_header(img, HDR_OFF, a);
    return pvh_mb1_parse(img, sizeof(img), "kernel", load, err);
}

static const struct aout GOOD = {0x00010003u, 0x100040, 0x100000, 0, 0x104000, 0x100080};

static void aout_kludge_fields_give_one_segment(void **state)
{
    (void)state;
    struct pvh_mb1_load load;
    struct pvh_error err = {0};
    assert_int_equal(parse_aout(&GOOD, &load, &err), 1);
    assert_true(load.aout_kludge);
    assert_true(load.page_align_modules);
    assert_false(load.wants_video);
    assert_int_equal(load.entry, 0x100080);
    assert_int_equal(load.nsegments, 1);
    assert_int_equal(load.seg[0].offset, 0);
    assert_int_equal(load.seg[0].paddr, 0x100000);
    assert_int_equal(load.seg[0].filesz, IMG_SIZE); /* load_end_addr 0: the whole file */
    assert_int_equal(load.seg[0].memsz, 0x4000);
    uint64_t off;
    assert_int_equal(pvh_multiboot_find(img, sizeof(img), &off), 1);
    assert_int_equal(off, HDR_OFF);

    struct aout a = GOOD;
    a.header_addr = 0x200010; /* header 0x30 bytes into the text: text starts at file offset 0x10 */
    a.load_addr = 0x1fffe0;
    a.load_end = 0x201000;
    a.bss_end = 0;
    a.entry = 0x200000;
    assert_int_equal(parse_aout(&a, &load, &err), 1);
    assert_int_equal(load.seg[0].offset, 0x10);
    assert_int_equal(load.seg[0].paddr, 0x1fffe0);
    assert_int_equal(load.seg[0].filesz, 0x1020);
    assert_int_equal(load.seg[0].memsz, 0x1020);
}

static void expect_aout_error(const struct aout *a, const char *want)
{
    struct pvh_mb1_load load;
    struct pvh_error err = {0};
    assert_int_equal(parse_aout(a, &load, &err), -1);
    if (!strstr(err.msg, want) || !strstr(err.msg, "kernel: ") || strchr(err.msg, '\n'))
        fail_msg("\"%s\" lacks \"%s\"", err.msg, want);
}

static void aout_kludge_bounds_are_enforced(void **state)
{
    (void)state;
    struct aout a = GOOD;
    a.header_addr = 0xfff00;
    expect_aout_error(&a, "header_addr is below load_addr");
    a = GOOD;
    a.header_addr = 0x100100;
    expect_aout_error(&a, "before the beginning of the file");
    a = GOOD;
    a.load_end = 0x100000 + IMG_SIZE + 1;
    expect_aout_error(&a, "beyond the end of the file");
    a = GOOD;
    a.load_end = 0x100000;
    expect_aout_error(&a, "load_end_addr is not above load_addr");
    a = GOOD;
    a.load_end = 0x100020;
    expect_aout_error(&a, "header is not inside");
    a = GOOD;
    a.bss_end = 0x101000;
    expect_aout_error(&a, "bss_end_addr is below");
    a = GOOD;
    a.entry = 0x100000 + IMG_SIZE;
    expect_aout_error(&a, "entry_addr is outside");
    a = GOOD;
    a.load_addr = 0xfffff000;
    a.header_addr = 0xfffff040;
    a.bss_end = 0;
    a.entry = 0xfffff080;
    expect_aout_error(&a, "past 4 GiB");
}

static void checksum_and_required_flags_are_checked(void **state)
{
    (void)state;
    struct pvh_mb1_load load;
    struct pvh_error err = {0};
    memset(img, 0, sizeof(img));
    put_header(img, HDR_OFF, &GOOD);
    pvh_put_le32(img + HDR_OFF + 8, 0x12345678);
    assert_int_equal(pvh_mb1_parse(img, sizeof(img), "kernel", &load, &err), -1);
    assert_non_null(strstr(err.msg, "offset 0x40 has a bad checksum"));
    uint64_t off;
    assert_int_equal(pvh_multiboot_find(img, sizeof(img), &off), 0);

    struct aout a = GOOD;
    a.flags |= 0x8;
    expect_aout_error(&a, "flag bits 0x8");
    a.flags = GOOD.flags | 0x8000;
    expect_aout_error(&a, "flag bits 0x8000");

    a.flags = GOOD.flags | 0x00800000u | PVH_MB1_F_VIDEO_MODE; /* optional bit 23 ignored */
    assert_int_equal(parse_aout(&a, &load, &err), 1);
    assert_true(load.wants_video);

    memset(img, 0, sizeof(img));
    assert_int_equal(pvh_mb1_parse(img, sizeof(img), "kernel", &load, &err), 0);
    /* a header whose address fields are cut off by the end of the file */
    pvh_put_le32(img + IMG_SIZE - 16, 0x1BADB002u);
    pvh_put_le32(img + IMG_SIZE - 12, GOOD.flags);
    pvh_put_le32(img + IMG_SIZE - 8, 0u - 0x1BADB002u - GOOD.flags);
    assert_int_equal(pvh_mb1_parse(img, sizeof(img), "kernel", &load, &err), -1);
    assert_non_null(strstr(err.msg, "the file ends first"));
}

/* An ELF file with one PT_LOAD (file 0x1000..0x1800 → phys 0x100000, memsz
 * 0x2000, virtual 0xC0100000) and a Multiboot header (flags 3) at 0x1000. */
static size_t make_elf(uint8_t *d, int is64, uint64_t entry)
{
    memset(d, 0, IMG_SIZE);
    memcpy(d, "\x7f" "ELF", 4);
    d[4] = is64 ? 2 : 1;
    d[5] = 1;
    d[6] = 1;
    pvh_put_le16(d + 16, 2);
    pvh_put_le16(d + 18, is64 ? 62 : 3);
    uint8_t *ph;
    if (is64) {
        pvh_put_le64(d + 24, entry);
        pvh_put_le64(d + 32, 64);
        pvh_put_le16(d + 54, 56);
        pvh_put_le16(d + 56, 1);
        ph = d + 64;
        pvh_put_le32(ph, 1);
        pvh_put_le64(ph + 8, 0x1000);
        pvh_put_le64(ph + 16, 0xC0100000u);
        pvh_put_le64(ph + 24, 0x100000);
        pvh_put_le64(ph + 32, 0x800);
        pvh_put_le64(ph + 40, 0x2000);
    } else {
        pvh_put_le32(d + 24, (uint32_t)entry);
        pvh_put_le32(d + 28, 52);
        pvh_put_le16(d + 42, 32);
        pvh_put_le16(d + 44, 1);
        ph = d + 52;
        pvh_put_le32(ph, 1);
        pvh_put_le32(ph + 4, 0x1000);
        pvh_put_le32(ph + 8, 0xC0100000u);
        pvh_put_le32(ph + 12, 0x100000);
        pvh_put_le32(ph + 16, 0x800);
        pvh_put_le32(ph + 20, 0x2000);
    }
    struct aout a = {3, 0, 0, 0, 0, 0};
    put_header(d, 0x1000, &a);
    return 0x1800;
}

static void elf_kernels_load_by_physical_segments(void **state)
{
    (void)state;
    for (int is64 = 0; is64 <= 1; is64++) {
        size_t n = make_elf(img, is64, 0xC0100010u);
        struct pvh_mb1_load load;
        struct pvh_error err = {0};
        if (pvh_mb1_parse(img, n, "elf", &load, &err) != 1)
            fail_msg("%s", err.msg);
        assert_false(load.aout_kludge);
        assert_int_equal(load.nsegments, 1);
        assert_int_equal(load.seg[0].offset, 0x1000);
        assert_int_equal(load.seg[0].paddr, 0x100000);
        assert_int_equal(load.seg[0].filesz, 0x800);
        assert_int_equal(load.seg[0].memsz, 0x2000);
        assert_int_equal(load.entry, 0x100010); /* virtual entry translated */

        make_elf(img, is64, 0x500000);
        assert_int_equal(pvh_mb1_parse(img, n, "elf", &load, &err), -1);
        assert_non_null(strstr(err.msg, "entry point 0x500000 is not inside"));
        make_elf(img, is64, 0xC0100010u);
        assert_int_equal(pvh_mb1_parse(img, n - 1, "elf", &load, &err), -1);
        assert_non_null(strstr(err.msg, "lies outside the file"));
    }
    struct pvh_mb1_load load;
    struct pvh_error err = {0};
    memset(img, 0, sizeof(img));
    struct aout a = {3, 0, 0, 0, 0, 0};
    put_header(img, 0, &a);
    assert_int_equal(pvh_mb1_parse(img, sizeof(img), "raw", &load, &err), -1);
    assert_non_null(strstr(err.msg, "must be an ELF file"));
}

/* ---- the information structure ---- */

static const struct pvh_mb1_mmap MMAP[] = {
    {0, 0x9fc00, 1},
    {0x9fc00, 0x400, 2},
    {0xf0000, 0x10000, 2},
    {0x100000, 0x1f00000, 1},
    {0x2000000, 0x6000000, 1}, /* contiguous with the previous one */
    {0xfec00000, 0x1000, 2},
};
static const struct pvh_mb1_module MODS[] = {
    {0x3000000, 0x1234, "initrd arg=1"},
    {0x3002000, 10, NULL},
};

static const char *string_at(const uint8_t *buf, size_t size, uint64_t gpa, uint32_t addr)
{
    assert_true(addr >= gpa && addr < gpa + size);
    const char *s = (const char *)buf + (addr - gpa);
    assert_non_null(memchr(s, 0, size - (addr - gpa)));
    return s;
}

static void check_mbi(const uint8_t *b, size_t size, uint64_t gpa)
{
    assert_int_equal(pvh_le32(b), (1u << 0) | (1u << 2) | (1u << 3) | (1u << 6) | (1u << 9));
    assert_int_equal(pvh_le32(b + 4), 0x9fc00 / 1024);                 /* mem_lower */
    assert_int_equal(pvh_le32(b + 8), (0x8000000 - 0x100000) / 1024);  /* mem_upper */
    assert_string_equal(string_at(b, size, gpa, pvh_le32(b + 16)), "console=ttyS0 x=y");
    assert_int_equal(pvh_le32(b + 20), 2);
    const uint8_t *mods = b + (pvh_le32(b + 24) - gpa);
    assert_int_equal(pvh_le32(mods), 0x3000000);
    assert_int_equal(pvh_le32(mods + 4), 0x3001234);
    assert_string_equal(string_at(b, size, gpa, pvh_le32(mods + 8)), "initrd arg=1");
    assert_int_equal(pvh_le32(mods + 16), 0x3002000);
    assert_int_equal(pvh_le32(mods + 20), 0x300200a);
    assert_string_equal(string_at(b, size, gpa, pvh_le32(mods + 24)), "");
    uint32_t len = pvh_le32(b + 44), at = pvh_le32(b + 48);
    assert_int_equal(len, 6 * 24);
    size_t n = 0;
    for (uint32_t p = at; p < at + len; p += pvh_le32(b + (p - gpa)) + 4, n++) {
        const uint8_t *e = b + (p - gpa);
        assert_int_equal(pvh_le32(e), 20);
        assert_int_equal(pvh_le64(e + 4), MMAP[n].addr);
        assert_int_equal(pvh_le64(e + 12), MMAP[n].size);
        assert_int_equal(pvh_le32(e + 20), MMAP[n].type);
    }
    assert_int_equal(n, 6);
    assert_string_equal(string_at(b, size, gpa, pvh_le32(b + 64)), "pvhboot");
}

static const struct pvh_mb1_info_request REQ = {MMAP, 6, "console=ttyS0 x=y", MODS, 2};

static void the_information_structure_parses_back(void **state)
{
    (void)state;
    size_t size = pvh_mb1_info_size(&REQ);
    assert_int_equal(size, 120 + 2 * 16 + 6 * 24 + 8 + 18 + 13 + 1);
    uint8_t *buf = malloc(size);
    struct pvh_error err = {0};
    assert_int_equal(pvh_mb1_info_build(&REQ, 0x9000, buf, size, &err), 0);
    check_mbi(buf, size, 0x9000);
    assert_int_equal(pvh_mb1_info_build(&REQ, 0x9000, buf, size - 1, &err), -1);
    free(buf);
}

struct guest {
    uint8_t ram[0x20000];
    int writes;
};

static int guest_write(void *ctx, uint64_t gpa, const void *src, size_t len, struct pvh_error *err)
{
    struct guest *g = ctx;
    if (gpa > sizeof(g->ram) || len > sizeof(g->ram) - gpa)
        return pvh_fail(err, PVH_E_GUEST, "write outside RAM");
    memcpy(g->ram + gpa, src, len);
    g->writes++;
    return 0;
}

static void the_writer_goes_through_the_callback(void **state)
{
    (void)state;
    struct guest *g = calloc(1, sizeof(*g));
    struct pvh_error err = {0};
    assert_int_equal(pvh_mb1_info_write(&REQ, 0x10000, guest_write, g, &err), 0);
    assert_int_equal(g->writes, 1);
    check_mbi(g->ram + 0x10000, pvh_mb1_info_size(&REQ), 0x10000);
    assert_int_equal(pvh_mb1_info_write(&REQ, 0x1fff0, guest_write, g, &err), -1);
    assert_string_equal(err.msg, "write outside RAM");
    free(g);
}

static void builder_limits_are_errors(void **state)
{
    (void)state;
    uint8_t buf[4096];
    struct pvh_error err = {0};
    struct pvh_mb1_info_request r = REQ;
    assert_int_equal(pvh_mb1_info_build(&r, 0, buf, sizeof(buf), &err), -1);
    assert_non_null(strstr(err.msg, "between 0 and 4 GiB"));
    assert_int_equal(pvh_mb1_info_build(&r, 0xffffff00u, buf, sizeof(buf), &err), -1);
    struct pvh_mb1_module far = {0xfffff000u, 0x2000, "x"};
    r.mods = &far;
    r.nmods = 1;
    assert_int_equal(pvh_mb1_info_build(&r, 0x9000, buf, sizeof(buf), &err), -1);
    assert_non_null(strstr(err.msg, "below 4 GiB"));
    r = REQ;
    r.mmap_count = PVH_MB1_MAX_MMAP + 1;
    assert_int_equal(pvh_mb1_info_size(&r), 0);
    assert_int_equal(pvh_mb1_info_build(&r, 0x9000, buf, sizeof(buf), &err), -1);
    char *long_line = malloc(PVH_MB1_MAX_STRING + 2);
    memset(long_line, 'a', PVH_MB1_MAX_STRING + 1);
    long_line[PVH_MB1_MAX_STRING + 1] = 0;
    r = REQ;
    r.cmdline = long_line;
    assert_int_equal(pvh_mb1_info_size(&r), 0);
    free(long_line);
    r = REQ;
    r.cmdline = NULL;
    r.nmods = 0;
    assert_int_equal(pvh_mb1_info_build(&r, 0x9000, buf, sizeof(buf), &err), 0);
    assert_int_equal(pvh_le32(buf), (1u << 0) | (1u << 6) | (1u << 9));
}

/* The header search: only 4-aligned (Multiboot 1) and 8-aligned
 * (Multiboot 2) magics with a good checksum count, the whole header must lie
 * in the search area, a bad candidate does not hide a later good one. */
static void header_search_alignment_and_bounds(void **state)
{
    (void)state;
    static uint8_t area[40000];
    uint64_t off;
    memset(area, 0, sizeof(area));
    pvh_put_le32(area + 101, PVH_MB1_HEADER_MAGIC); /* unaligned: ignored */
    pvh_put_le32(area + 200, PVH_MB1_HEADER_MAGIC); /* aligned, bad checksum */
    pvh_put_le32(area + 204, 0);
    pvh_put_le32(area + 208, 1);
    assert_int_equal(pvh_multiboot_find(area, sizeof(area), &off), 0);
    pvh_put_le32(area + PVH_MB1_SEARCH - 12, PVH_MB1_HEADER_MAGIC); /* last place a whole header fits */
    pvh_put_le32(area + PVH_MB1_SEARCH - 4, (uint32_t)-PVH_MB1_HEADER_MAGIC);
    assert_int_equal(pvh_multiboot_find(area, sizeof(area), &off), 1);
    assert_int_equal(off, PVH_MB1_SEARCH - 12);
    assert_int_equal(pvh_multiboot_find(area, PVH_MB1_SEARCH - 1, &off), 0); /* cut by the file's end */
    memset(area, 0, sizeof(area));
    pvh_put_le32(area + PVH_MB1_SEARCH - 8, PVH_MB1_HEADER_MAGIC); /* runs past the area */
    pvh_put_le32(area + PVH_MB1_SEARCH, (uint32_t)-PVH_MB1_HEADER_MAGIC);
    assert_int_equal(pvh_multiboot_find(area, sizeof(area), &off), 0);
    memset(area, 0, sizeof(area));
    pvh_put_le32(area + 4, PVH_MB2_HEADER_MAGIC); /* 4- but not 8-aligned: ignored */
    pvh_put_le32(area + 16, (uint32_t)-PVH_MB2_HEADER_MAGIC);
    pvh_put_le32(area + PVH_MB2_SEARCH - 16, PVH_MB2_HEADER_MAGIC);
    pvh_put_le32(area + PVH_MB2_SEARCH - 4, (uint32_t)-PVH_MB2_HEADER_MAGIC);
    assert_int_equal(pvh_multiboot_find(area, sizeof(area), &off), 2);
    assert_int_equal(off, PVH_MB2_SEARCH - 16);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(aout_kludge_fields_give_one_segment),
        cmocka_unit_test(aout_kludge_bounds_are_enforced),
        cmocka_unit_test(checksum_and_required_flags_are_checked),
        cmocka_unit_test(elf_kernels_load_by_physical_segments),
        cmocka_unit_test(the_information_structure_parses_back),
        cmocka_unit_test(the_writer_goes_through_the_callback),
        cmocka_unit_test(builder_limits_are_errors),
        cmocka_unit_test(header_search_alignment_and_bounds),
    };
    return cmocka_run_group_tests_name("multiboot", tests, NULL, NULL);
}
