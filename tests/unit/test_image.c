/* Image reader: crafted ELF32/ELF64 images (built by the helpers below, not
 * copied from any program's output) for every accepted form of the PVH notes
 * and every error path, each asserting on its own message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pvh/start_info.h"
#include "pvhboot/image.h"
#include "pvhboot/bytes.h"

#define BUF 8192

struct elf_builder {
    uint8_t d[BUF];
    size_t size;
    int cls;          /* 32 or 64 */
    unsigned phnum;
    size_t note_at, note_len; /* the note area being built */
};

static unsigned word(const struct elf_builder *b) { return b->cls == 64 ? 8 : 4; }
static unsigned ehsize(const struct elf_builder *b) { return b->cls == 64 ? 64 : 52; }
static unsigned phsize(const struct elf_builder *b) { return b->cls == 64 ? 56 : 32; }

/* Header with room for 8 program headers; file is 4 KiB + 4 KiB of code. */
static void elf_init(struct elf_builder *b, int cls)
{
    memset(b, 0, sizeof(*b));
    b->cls = cls;
    memcpy(b->d, "\x7f" "ELF", 4);
    b->d[4] = cls == 64 ? 2 : 1;
    b->d[5] = 1;
    b->d[6] = 1;
    pvh_put_le(b->d + 16, 2, 2);                 /* ET_EXEC */
    pvh_put_le(b->d + 18, cls == 64 ? 62 : 3, 2); /* machine */
    pvh_put_le(b->d + 20, 1, 4);
    pvh_put_le(b->d + 24, 0x100000, word(b));    /* e_entry */
    pvh_put_le(b->d + (cls == 64 ? 32 : 28), ehsize(b), word(b)); /* e_phoff */
    pvh_put_le(b->d + (cls == 64 ? 52 : 40), ehsize(b), 2);
    pvh_put_le(b->d + (cls == 64 ? 54 : 42), phsize(b), 2);
    b->size = BUF;
    b->note_at = 0x800;
}

static uint8_t *phdr(struct elf_builder *b, unsigned i)
{
    return b->d + ehsize(b) + i * phsize(b);
}

static void add_phdr(struct elf_builder *b, uint32_t type, uint32_t flags, uint64_t off, uint64_t paddr,
                     uint64_t filesz, uint64_t memsz)
{
    uint8_t *p = phdr(b, b->phnum++);
    pvh_put_le(b->d + (b->cls == 64 ? 56 : 44), b->phnum, 2);
    pvh_put_le(p, type, 4);
    if (b->cls == 64) {
        pvh_put_le(p + 4, flags, 4);
        pvh_put_le(p + 8, off, 8);
        pvh_put_le(p + 16, paddr | 0xffffffff80000000ull, 8);
        pvh_put_le(p + 24, paddr, 8);
        pvh_put_le(p + 32, filesz, 8);
        pvh_put_le(p + 40, memsz, 8);
    } else {
        pvh_put_le(p + 4, off, 4);
        pvh_put_le(p + 8, paddr, 4);
        pvh_put_le(p + 12, paddr, 4);
        pvh_put_le(p + 16, filesz, 4);
        pvh_put_le(p + 20, memsz, 4);
        pvh_put_le(p + 24, flags, 4);
    }
}

static void add_note(struct elf_builder *b, const char *owner, uint32_t type, const void *desc, uint32_t descsz)
{
    uint8_t *p = b->d + b->note_at + b->note_len;
    uint32_t namesz = (uint32_t)strlen(owner) + 1;
    pvh_put_le(p, namesz, 4);
    pvh_put_le(p + 4, descsz, 4);
    pvh_put_le(p + 8, type, 4);
    memcpy(p + 12, owner, namesz);
    size_t name_pad = (namesz + 3) & ~3u;
    memcpy(p + 12 + name_pad, desc, descsz);
    b->note_len += 12 + name_pad + ((descsz + 3) & ~3u);
}

static void add_entry_note(struct elf_builder *b, uint64_t entry, uint32_t size)
{
    uint8_t desc[8];
    pvh_put_le(desc, entry, 8);
    add_note(b, "Xen", XEN_ELFNOTE_PHYS32_ENTRY, desc, size);
}

/* An image with one executable segment at 1 MiB and no notes yet. */
static void code_image(struct elf_builder *b, int cls)
{
    elf_init(b, cls);
    add_phdr(b, 1, 5, 0x1000, 0x100000, 0x1000, 0x1000);
}

/* A valid PVH image: code at 1 MiB, data at 2 MiB, notes in a PT_NOTE. */
static void valid_image(struct elf_builder *b, int cls)
{
    code_image(b, cls);
    add_phdr(b, 1, 6, 0x1000, 0x200000, 0x800, 0x10000);
    add_note(b, "Xen", XEN_ELFNOTE_GUEST_OS, "test", 5);
    add_entry_note(b, 0x100010, 4);
}

static void finish_notes(struct elf_builder *b)
{
    add_phdr(b, 4, 4, b->note_at, 0, b->note_len, b->note_len);
}

static int parse(struct elf_builder *b, struct pvh_image *img, struct pvh_error *err)
{
    memset(err, 0, sizeof(*err));
    return pvh_image_parse(b->d, b->size, "k.elf", img, err);
}

static void expect_error(struct elf_builder *b, const char *text)
{
    struct pvh_image img;
    struct pvh_error err;
    assert_int_equal(parse(b, &img, &err), -1);
    if (!strstr(err.msg, text))
        fail_msg("message \"%s\" lacks \"%s\"", err.msg, text);
    assert_int_equal(err.code, PVH_E_INPUT);
    assert_non_null(strstr(err.msg, "k.elf"));
}

static void test_valid_elf64_and_elf32(void **state)
{
    (void)state;
    for (int cls = 32; cls <= 64; cls += 32) {
        struct elf_builder b;
        struct pvh_image img;
        struct pvh_error err;
        valid_image(&b, cls);
        finish_notes(&b);
        assert_int_equal(parse(&b, &img, &err), 0);
        assert_int_equal(img.kind, PVH_IMAGE_ELF);
        assert_int_equal(img.elf_class, cls);
        assert_int_equal(img.nsegments, 2);
        assert_int_equal(img.seg[1].paddr, 0x200000);
        assert_int_equal(img.seg[1].memsz, 0x10000);
        assert_true(img.has_pvh_entry);
        assert_int_equal(img.pvh_entry, 0x100010);
        assert_int_equal(img.nnotes, 2);
        assert_int_equal(img.notes[0].type, XEN_ELFNOTE_GUEST_OS);
        assert_memory_equal(b.d + img.notes[0].desc_off, "test", 5);
        assert_false(img.has_reloc);
    }
}

static void test_eight_byte_entry(void **state)
{
    (void)state;
    struct elf_builder b;
    struct pvh_image img;
    struct pvh_error err;
    code_image(&b, 64);
    add_entry_note(&b, 0x100020, 8);
    finish_notes(&b);
    assert_int_equal(parse(&b, &img, &err), 0);
    assert_int_equal(img.pvh_entry, 0x100020);
}

static void test_eight_byte_entry_upper_half(void **state)
{
    (void)state;
    struct elf_builder b;
    code_image(&b, 64);
    add_entry_note(&b, 0x100000100020ull, 8);
    finish_notes(&b);
    expect_error(&b, "offset 0x800: XEN_ELFNOTE_PHYS32_ENTRY 0x100000100020 is not a 32-bit address");
}

static void test_bad_entry_descriptor_size(void **state)
{
    (void)state;
    struct elf_builder b;
    code_image(&b, 64);
    add_entry_note(&b, 0x100000, 2);
    finish_notes(&b);
    expect_error(&b, "XEN_ELFNOTE_PHYS32_ENTRY has a 2-byte descriptor; expected 4 or 8");
}

static void test_reloc_note(void **state)
{
    (void)state;
    struct elf_builder b;
    struct pvh_image img;
    struct pvh_error err;
    uint8_t reloc[12];
    pvh_put_le(reloc, 0x200000, 4);
    pvh_put_le(reloc + 4, 0x1000000, 4);
    pvh_put_le(reloc + 8, 0x3fffffff, 4);
    valid_image(&b, 64);
    add_note(&b, "Xen", XEN_ELFNOTE_PHYS32_RELOC, reloc, 12);
    finish_notes(&b);
    assert_int_equal(parse(&b, &img, &err), 0);
    assert_true(img.has_reloc);
    assert_int_equal(img.reloc_align, 0x200000);
    assert_int_equal(img.reloc_min, 0x1000000);
    assert_int_equal(img.reloc_max, 0x3fffffff);
    pvh_put_le(reloc, 0x300000, 4); /* not a power of two: a second image */
    valid_image(&b, 64);
    add_note(&b, "Xen", XEN_ELFNOTE_PHYS32_RELOC, reloc, 12);
    finish_notes(&b);
    expect_error(&b, "XEN_ELFNOTE_PHYS32_RELOC align 0x300000 min 0x1000000 max 0x3fffffff is invalid");
}

static void test_notes_in_sections_only(void **state)
{
    (void)state;
    struct elf_builder b;
    struct pvh_image img;
    struct pvh_error err;
    code_image(&b, 64);
    add_entry_note(&b, 0x100040, 4);
    /* one SHT_NOTE section header at 0xc00 (64 bytes each; index 0 null) */
    uint8_t *sh = b.d + 0xc00 + 64;
    pvh_put_le(sh + 4, 7, 4);
    pvh_put_le(sh + 24, b.note_at, 8);
    pvh_put_le(sh + 32, b.note_len, 8);
    pvh_put_le(b.d + 40, 0xc00, 8);  /* e_shoff */
    pvh_put_le(b.d + 58, 64, 2);     /* e_shentsize */
    pvh_put_le(b.d + 60, 2, 2);      /* e_shnum */
    assert_int_equal(parse(&b, &img, &err), 0);
    assert_int_equal(img.pvh_entry, 0x100040);
}

static void test_first_pvh_note_wins_across_segments(void **state)
{
    (void)state;
    struct elf_builder b;
    struct pvh_image img;
    struct pvh_error err;
    code_image(&b, 64);
    add_note(&b, "GNU", XEN_ELFNOTE_PHYS32_ENTRY, "\x00\x00\x00\x00", 4); /* other owner: ignored */
    add_entry_note(&b, 0x100100, 4);
    finish_notes(&b);
    size_t first_len = b.note_len;
    b.note_at += first_len;
    b.note_len = 0;
    add_entry_note(&b, 0x100200, 4);
    finish_notes(&b);
    assert_int_equal(parse(&b, &img, &err), 0);
    assert_int_equal(img.pvh_entry, 0x100100);
    assert_int_equal(img.nnotes, 2);
}

static void test_note_padding_is_four_bytes(void **state)
{
    (void)state;
    struct elf_builder b;
    struct pvh_image img;
    struct pvh_error err;
    code_image(&b, 64);
    add_note(&b, "Xen", XEN_ELFNOTE_LOADER, "gen", 3); /* 3-byte desc padded to 4 */
    add_entry_note(&b, 0x100300, 4);
    add_phdr(&b, 4, 4, b.note_at, 0, b.note_len, b.note_len);
    pvh_put_le(phdr(&b, 1) + 48, 8, 8); /* p_align 8 must not change the padding */
    assert_int_equal(parse(&b, &img, &err), 0);
    assert_int_equal(img.pvh_entry, 0x100300);
}

static void test_no_pvh_note(void **state)
{
    (void)state;
    struct elf_builder b;
    code_image(&b, 64);
    expect_error(&b, "ELF without a XEN_ELFNOTE_PHYS32_ENTRY note: built without CONFIG_PVH");
}

static void test_entry_not_in_executable_segment(void **state)
{
    (void)state;
    struct elf_builder b;
    elf_init(&b, 64);
    add_phdr(&b, 1, 6, 0x1000, 0x100000, 0x1000, 0x1000);
    add_entry_note(&b, 0x100000, 4);
    finish_notes(&b);
    expect_error(&b, "the PVH entry 0x100000 lies in PT_LOAD segment 0, which is not executable");
    code_image(&b, 64);
    add_entry_note(&b, 0x500000, 4);
    finish_notes(&b);
    expect_error(&b, "the PVH entry 0x500000 lies outside every PT_LOAD segment");
}

static void test_wrong_machine_and_endianness(void **state)
{
    (void)state;
    struct elf_builder b;
    valid_image(&b, 64);
    pvh_put_le(b.d + 18, 183, 2); /* EM_AARCH64 */
    expect_error(&b, "offset 0x12: ELF machine 183 is not x86");
    valid_image(&b, 64);
    b.d[5] = 2;
    expect_error(&b, "offset 0x5: big-endian ELF");
    valid_image(&b, 64);
    b.d[4] = 3;
    expect_error(&b, "offset 0x4: ELF class 3");
    valid_image(&b, 64);
    pvh_put_le(b.d + 16, 3, 2); /* ET_DYN: /bin/ls and other programs */
    expect_error(&b, "a program or shared library (ELF type 3, ET_DYN), not a kernel");
    valid_image(&b, 64);
    pvh_put_le(b.d + 16, 1, 2); /* ET_REL */
    expect_error(&b, "an object file (ELF type 1, ET_REL), not a kernel");
    valid_image(&b, 64);
    pvh_put_le(b.d + 16, 4, 2); /* ET_CORE */
    expect_error(&b, "a core dump (ELF type 4, ET_CORE), not a kernel");
    valid_image(&b, 64);
    pvh_put_le(b.d + 16, 0xfe00, 2); /* OS-specific */
    expect_error(&b, "offset 0x10: ELF type 65024 is not an executable");
}

static void test_truncated_headers(void **state)
{
    (void)state;
    struct elf_builder b;
    valid_image(&b, 64);
    finish_notes(&b);
    b.size = 40;
    expect_error(&b, "truncated ELF header (40 bytes, need 64)");
    b.size = 10;
    expect_error(&b, "truncated ELF identification (10 bytes, need 16)");
    valid_image(&b, 64);
    pvh_put_le(b.d + 32, BUF - 60, 8); /* e_phoff near the end */
    expect_error(&b, "program header table (2 entries of 56 bytes) runs past the end of the file");
}

static void test_segment_errors(void **state)
{
    (void)state;
    struct elf_builder b;
    elf_init(&b, 64);
    add_phdr(&b, 1, 5, 0x1000, 0x100000, 0x2000, 0x1000);
    expect_error(&b, "PT_LOAD segment 0 has file size 0x2000 larger than its memory size 0x1000");
    elf_init(&b, 64);
    add_phdr(&b, 1, 5, 0x1000, 0x100000, 0x10000, 0x10000);
    expect_error(&b, "PT_LOAD segment 0 (file offset 0x1000, 0x10000 bytes) runs past the end of the file (8192 bytes)");
    code_image(&b, 64);
    add_phdr(&b, 1, 6, 0x1000, 0x100800, 0x800, 0x1000);
    expect_error(&b, "PT_LOAD segment 1 [0x100800, 0x101800) overlaps segment 0 [0x100000, 0x101000)");
    elf_init(&b, 64);
    add_phdr(&b, 1, 5, 0x1000, 0xfffffffffffff000ull, 0x1000, 0x2000);
    expect_error(&b, "address 0xfffffffffffff000 + size 0x2000 overflows");
}

static void test_note_runs_past_area(void **state)
{
    (void)state;
    struct elf_builder b;
    valid_image(&b, 64);
    pvh_put_le(b.d + b.note_at + 4, 0x7ffffff0, 4); /* huge descsz in the first note */
    finish_notes(&b);
    expect_error(&b, "offset 0x800: note (name 4 bytes, descriptor 2147483632 bytes) runs past its note area");
    valid_image(&b, 64);
    add_phdr(&b, 4, 4, 0x1f00, 0, 0x200, 0x200);
    expect_error(&b, "offset 0x1f00: note area (0x200 bytes) runs past the end of the file");
}

static void test_bzimage_diagnosis(void **state)
{
    (void)state;
    struct elf_builder b;
    struct pvh_image img;
    struct pvh_error err;
    memset(&b, 0, sizeof(b));
    b.size = BUF;
    b.d[0x1f1] = 1;                       /* setup_sects */
    pvh_put_le(b.d + 0x1fe, 0xaa55, 2);
    memcpy(b.d + 0x202, "HdrS", 4);
    pvh_put_le(b.d + 0x206, 0x020f, 2);
    pvh_put_le(b.d + 0x248, 0x100, 4);           /* payload at 0x400 + 0x100 */
    pvh_put_le(b.d + 0x24c, 0x200, 4);
    assert_int_equal(parse(&b, &img, &err), -1);
    assert_int_equal(img.kind, PVH_IMAGE_BZIMAGE);
    assert_int_equal(img.boot_protocol, 0x020f);
    assert_int_equal(img.payload_offset, 0x500);
    assert_non_null(strstr(err.msg, "a Linux bzImage (boot protocol 2.15), not a PVH ELF"));
    assert_non_null(strstr(err.msg, "CONFIG_PVH"));
    pvh_put_le(b.d + 0x24c, 0x10000, 4);         /* payload past the end */
    expect_error(&b, "bzImage payload at offset 0x500 (65536 bytes) runs past the end of the file");
}

static void test_multiboot_verdict(void **state)
{
    (void)state;
    struct elf_builder b;
    struct pvh_image img;
    struct pvh_error err;
    memset(&b, 0, sizeof(b));
    b.size = BUF;
    /* not ELF and no a.out-kludge address fields: nothing says what to load */
    pvh_put_le(b.d + 0x40, 0x1BADB002, 4);
    pvh_put_le(b.d + 0x44, 0x3, 4);
    pvh_put_le(b.d + 0x48, (uint32_t)-(0x1BADB002u + 3u), 4);
    assert_int_equal(parse(&b, &img, &err), -1);
    assert_int_equal(img.kind, PVH_IMAGE_MULTIBOOT1);
    assert_int_equal(img.protocol, PVH_BOOT_NONE);
    assert_non_null(strstr(err.msg, "k.elf: Multiboot 1 kernel without address fields (flag 16) must be an ELF file"));
    memset(b.d, 0, 0x100);
    pvh_put_le(b.d + 0x80, 0xE85250D6, 4);
    pvh_put_le(b.d + 0x88, 16, 4);
    pvh_put_le(b.d + 0x8c, (uint32_t)-(0xE85250D6u + 16u), 4);
    assert_int_equal(parse(&b, &img, &err), -1);
    assert_int_equal(img.kind, PVH_IMAGE_MULTIBOOT2);
    assert_non_null(strstr(err.msg, "offset 0x80: a Multiboot 2 kernel without the PVH note"));
    /* an ELF with a Multiboot 1 header but no PVH note boots by Multiboot 1 */
    code_image(&b, 32);
    pvh_put_le(b.d + 0x1000, 0x1BADB002, 4);
    pvh_put_le(b.d + 0x1008, (uint32_t)-0x1BADB002u, 4);
    assert_int_equal(parse(&b, &img, &err), 0);
    assert_int_equal(img.kind, PVH_IMAGE_ELF);
    assert_int_equal(img.protocol, PVH_BOOT_MULTIBOOT1);
    assert_string_equal(img.protocol_reason, "Multiboot 1 header at offset 0x1000, no PVH note");
    assert_int_equal(img.mb1_entry, 0x100000);
    assert_int_equal(img.nsegments, 1);
    assert_int_equal(img.seg[0].paddr, 0x100000);
    assert_int_equal(img.seg[0].flags, 5); /* the ELF's own flags are kept */
    /* the same ELF with the PVH note boots by PVH */
    add_entry_note(&b, 0x100010, 4);
    finish_notes(&b);
    assert_int_equal(parse(&b, &img, &err), 0);
    assert_int_equal(img.protocol, PVH_BOOT_PVH);
    assert_non_null(strstr(img.protocol_reason, "PVH note present (it wins over the Multiboot 1 header at offset 0x1000)"));
}

static void test_empty_and_unknown(void **state)
{
    (void)state;
    struct elf_builder b;
    memset(&b, 0, sizeof(b));
    b.size = 0;
    expect_error(&b, "k.elf: empty file");
    b.size = 100;
    memcpy(b.d, "#!/bin/sh\n", 10);
    expect_error(&b, "not a kernel image pvhboot knows");
}

static void test_too_many_segments(void **state)
{
    (void)state;
    struct elf_builder b;
    elf_init(&b, 32);
    /* 70 program headers of 32 bytes at 0x1000, each a 16-byte PT_LOAD */
    pvh_put_le(b.d + 28, 0x1000, 4);
    pvh_put_le(b.d + 44, 70, 2);
    for (unsigned i = 0; i < 70; i++) {
        uint8_t *p = b.d + 0x1000 + i * 32;
        pvh_put_le(p, 1, 4);
        pvh_put_le(p + 8, 0x100000 + i * 16, 4);
        pvh_put_le(p + 12, 0x100000 + i * 16, 4);
        pvh_put_le(p + 20, 16, 4);
        pvh_put_le(p + 24, 5, 4);
    }
    expect_error(&b, "more than 64 PT_LOAD segments");
}

/* One note area named by several PT_NOTE headers is read once: its Xen
 * notes are recorded once (they filled PVH_MAX_NOTES before). */
static void test_same_note_area_read_once(void **state)
{
    (void)state;
    struct elf_builder b;
    struct pvh_image img;
    struct pvh_error err;
    valid_image(&b, 64);
    for (int i = 0; i < 3; i++)
        finish_notes(&b);
    assert_int_equal(parse(&b, &img, &err), 0);
    assert_int_equal(img.nnotes, 2);
    assert_int_equal(img.notes[0].type, XEN_ELFNOTE_GUEST_OS);
    assert_int_equal(img.notes[1].type, XEN_ELFNOTE_PHYS32_ENTRY);
}

/* A PVH ELF64 image on the heap for the note bounds: code at 1 MiB, the
 * entry note (20 bytes) at 0x800 in its own PT_NOTE, room for `maxph`
 * program headers at 0x1000, then zeros up to `size`. */
struct big_image {
    uint8_t *d;
    size_t size;
    unsigned phnum;
    uint64_t zeros; /* the first byte after the program header table */
};

static void big_phdr(struct big_image *b, uint32_t type, uint32_t flags, uint64_t off, uint64_t paddr, uint64_t len)
{
    uint8_t *p = b->d + 0x1000 + (size_t)b->phnum++ * 56;
    pvh_put_le(b->d + 56, b->phnum, 2);
    pvh_put_le(p, type, 4);
    pvh_put_le(p + 4, flags, 4);
    pvh_put_le(p + 8, off, 8);
    pvh_put_le(p + 24, paddr, 8);
    pvh_put_le(p + 32, len, 8);
    pvh_put_le(p + 40, len, 8);
}

static uint8_t *big_buffer; /* the one allocated, freed by the next or by big_free */

static int big_free(void **state)
{
    (void)state;
    free(big_buffer);
    big_buffer = NULL;
    return 0;
}

static void big_init(struct big_image *b, unsigned maxph, size_t zeros)
{
    big_free(NULL);
    b->zeros = 0x1000 + (uint64_t)maxph * 56;
    b->size = b->zeros + zeros;
    b->d = big_buffer = calloc(1, b->size);
    assert_non_null(b->d);
    b->phnum = 0;
    memcpy(b->d, "\x7f" "ELF\x02\x01\x01", 7);
    pvh_put_le(b->d + 16, 2, 2);
    pvh_put_le(b->d + 18, 62, 2);
    pvh_put_le(b->d + 20, 1, 4);
    pvh_put_le(b->d + 32, 0x1000, 8); /* e_phoff */
    pvh_put_le(b->d + 54, 56, 2);
    big_phdr(b, 1, 5, 0, 0x100000, 0x800);
    uint8_t *n = b->d + 0x800;
    pvh_put_le(n, 4, 4);
    pvh_put_le(n + 4, 4, 4);
    pvh_put_le(n + 8, XEN_ELFNOTE_PHYS32_ENTRY, 4);
    memcpy(n + 12, "Xen", 4);
    pvh_put_le(n + 16, 0x100010, 4);
    big_phdr(b, 4, 4, 0x800, 0, 20);
}

static void big_notes(struct big_image *b, uint64_t off, uint64_t len)
{
    big_phdr(b, 4, 4, off, 0, len);
}

/* One note (no name) whose descriptor fills [off, off + len). */
static void big_one_note(struct big_image *b, uint64_t off, uint64_t len)
{
    pvh_put_le(b->d + off + 4, len - 12, 4);
    big_notes(b, off, len);
}

static int big_parse(struct big_image *b, struct pvh_image *img, struct pvh_error *err, double *secs)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = pvh_image_parse(b->d, b->size, "k.elf", img, err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (secs)
        *secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    return rc;
}

static void big_expect(struct big_image *b, const char *text)
{
    struct pvh_image img;
    struct pvh_error err = {0};
    int rc = big_parse(b, &img, &err, NULL);
    if (text == NULL && rc != 0)
        fail_msg("unexpected error: %s", err.msg);
    if (text != NULL && (rc != -1 || !strstr(err.msg, text) || strncmp(err.msg, "k.elf: offset 0x", 16)))
        fail_msg("rc %d, message \"%s\" lacks \"%s\"", rc, err.msg, text);
    if (text == NULL)
        assert_int_equal(img.pvh_entry, 0x100010);
}

/* Each bound: reached exactly, the image parses; one past it, one line. */
static void test_note_bounds(void **state)
{
    (void)state;
    struct big_image b;
    /* notes: the entry note + 4095 empty ones; then one more */
    big_init(&b, 8, 4096 * 12);
    big_notes(&b, b.zeros, (PVH_MAX_NOTES_SCANNED - 1) * 12);
    big_expect(&b, NULL);
    big_init(&b, 8, 4096 * 12);
    big_notes(&b, b.zeros, PVH_MAX_NOTES_SCANNED * 12);
    big_expect(&b, "more than 4096 notes in all note areas");
    /* bytes: 20 + one note filling the rest of 1 MiB; then 4 bytes more */
    big_init(&b, 8, PVH_MAX_NOTE_BYTES);
    big_one_note(&b, b.zeros, PVH_MAX_NOTE_BYTES - 20);
    big_expect(&b, NULL);
    big_init(&b, 8, PVH_MAX_NOTE_BYTES);
    big_one_note(&b, b.zeros, PVH_MAX_NOTE_BYTES - 16);
    big_expect(&b, "the note areas add up to more than 1024 KiB");
    /* areas: the entry note's + 63 distinct ones (each named twice); then 64 */
    for (unsigned extra = PVH_MAX_NOTE_AREAS - 1; extra <= PVH_MAX_NOTE_AREAS; extra++) {
        big_init(&b, 2 + 2 * extra, 12 * extra);
        for (unsigned i = 0; i < 2 * extra; i++)
            big_notes(&b, b.zeros + 12 * (i % extra), 12);
        big_expect(&b, extra < PVH_MAX_NOTE_AREAS ? NULL : "more than 64 distinct note areas");
    }
}

/* The finding of issue 19, scaled down: 65533 PT_NOTE headers naming one
 * zero-filled area of 64 KiB (5461 empty notes each, 358 million in all; a
 * few seconds here before the bounds). Also in SHT_NOTE sections. And a
 * valid note area named by all of them boots. Each well under a second. */
static void test_hostile_note_headers_are_fast(void **state)
{
    (void)state;
    struct big_image b;
    struct pvh_image img;
    struct pvh_error err;
    double secs;
    int rc;
    big_init(&b, 65535, 64 << 10);
    while (b.phnum < 65535)
        big_notes(&b, b.zeros, 64 << 10);
    rc = big_parse(&b, &img, &err, &secs);
    if (rc != -1 || !strstr(err.msg, "more than 4096 notes") || secs > 0.5)
        fail_msg("rc %d in %.3f s: %s", rc, secs, rc ? err.msg : "");
    /* the same from 65533 SHT_NOTE section headers, at 0x2000 (no PT_NOTE) */
    big_init(&b, (0x1000 + 65535 * 64) / 56 + 1, 64 << 10);
    pvh_put_le(b.d + 56, 1, 2); /* e_phnum: the PT_LOAD only */
    pvh_put_le(b.d + 40, 0x2000, 8);
    pvh_put_le(b.d + 58, 64, 2);
    pvh_put_le(b.d + 60, 65535, 2);
    for (unsigned i = 1; i < 65535; i++) {
        uint8_t *sh = b.d + 0x2000 + (size_t)i * 64;
        pvh_put_le(sh + 4, 7, 4);
        pvh_put_le(sh + 24, i == 1 ? 0x800 : b.zeros, 8);
        pvh_put_le(sh + 32, i == 1 ? 20 : 64 << 10, 8);
    }
    rc = big_parse(&b, &img, &err, &secs);
    if (rc != -1 || !strstr(err.msg, "more than 4096 notes") || secs > 0.5)
        fail_msg("rc %d in %.3f s: %s", rc, secs, rc ? err.msg : "");
    /* 65534 PT_NOTE headers naming the entry note's area: read once, boots */
    big_init(&b, 65535, 0);
    while (b.phnum < 65535)
        big_notes(&b, 0x800, 20);
    rc = big_parse(&b, &img, &err, &secs);
    if (rc != 0 || img.nnotes != 1 || img.pvh_entry != 0x100010 || secs > 0.5)
        fail_msg("rc %d in %.3f s, %zu notes: %s", rc, secs, img.nnotes, rc ? err.msg : "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_elf64_and_elf32),
        cmocka_unit_test(test_eight_byte_entry),
        cmocka_unit_test(test_eight_byte_entry_upper_half),
        cmocka_unit_test(test_bad_entry_descriptor_size),
        cmocka_unit_test(test_reloc_note),
        cmocka_unit_test(test_notes_in_sections_only),
        cmocka_unit_test(test_first_pvh_note_wins_across_segments),
        cmocka_unit_test(test_note_padding_is_four_bytes),
        cmocka_unit_test(test_no_pvh_note),
        cmocka_unit_test(test_entry_not_in_executable_segment),
        cmocka_unit_test(test_wrong_machine_and_endianness),
        cmocka_unit_test(test_truncated_headers),
        cmocka_unit_test(test_segment_errors),
        cmocka_unit_test(test_note_runs_past_area),
        cmocka_unit_test(test_bzimage_diagnosis),
        cmocka_unit_test(test_multiboot_verdict),
        cmocka_unit_test(test_empty_and_unknown),
        cmocka_unit_test(test_too_many_segments),
        cmocka_unit_test(test_same_note_area_read_once),
        cmocka_unit_test_teardown(test_note_bounds, big_free),
        cmocka_unit_test_teardown(test_hostile_note_headers_are_fast, big_free),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
