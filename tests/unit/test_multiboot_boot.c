/* Multiboot 1 through the boot pipeline: the image verdict (PVH note wins,
 * Multiboot 1 next, Multiboot 2 refused), the plan (MBI and GDT at the top
 * of conventional memory, modules page aligned, kernel never moved), the MBI
 * written from the plan and read back at the specification's offsets, and
 * the entry registers. Images are crafted here byte by byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "pvh/start_info.h"
#include "pvhboot/bootdata.h"
#include "pvhboot/entry.h"
#include "pvhboot/image.h"
#include "pvhboot/multiboot.h"
#include "pvhboot/plan.h"
#include "pvhboot/bytes.h"

#define IMG 8192
#define MB1_OFF 0x100        /* header offset in the ELF file */
#define LOAD 0x100000
#define ENTRY 0x100200
#define MEMSZ 0x5000
#define GUEST_LOW (1u << 20) /* the fake guest RAM: its first MiB */

static void put_mb1(uint8_t *d, size_t off, uint32_t flags)
{
    pvh_put_le32(d + off, PVH_MB1_HEADER_MAGIC);
    pvh_put_le32(d + off + 4, flags);
    pvh_put_le32(d + off + 8, 0u - PVH_MB1_HEADER_MAGIC - flags);
}

/* ELF32 x86 executable: one PT_LOAD of the whole file at 1 MiB (memsz
 * MEMSZ), entry ENTRY, a Multiboot 1 header (flags) at MB1_OFF, and when
 * pvh_note, a PT_NOTE with XEN_ELFNOTE_PHYS32_ENTRY = ENTRY. */
static void elf32(uint8_t *d, uint32_t flags, int pvh_note)
{
    memset(d, 0, IMG);
    memcpy(d, "\x7f" "ELF", 4);
    d[4] = 1, d[5] = 1, d[6] = 1;
    pvh_put_le16(d + 16, 2);
    pvh_put_le16(d + 18, 3);
    pvh_put_le32(d + 20, 1);
    pvh_put_le32(d + 24, ENTRY);
    pvh_put_le32(d + 28, 52);
    pvh_put_le16(d + 40, 52);
    pvh_put_le16(d + 42, 32);
    pvh_put_le16(d + 44, pvh_note ? 2 : 1);
    uint8_t *ph = d + 52;
    pvh_put_le32(ph, 1);
    pvh_put_le32(ph + 4, 0);
    pvh_put_le32(ph + 8, LOAD);
    pvh_put_le32(ph + 12, LOAD);
    pvh_put_le32(ph + 16, IMG);
    pvh_put_le32(ph + 20, MEMSZ);
    pvh_put_le32(ph + 24, 7);
    put_mb1(d, MB1_OFF, flags);
    if (pvh_note) {
        uint8_t *n = d + 0x400;
        pvh_put_le32(n, 4), pvh_put_le32(n + 4, 4), pvh_put_le32(n + 8, XEN_ELFNOTE_PHYS32_ENTRY);
        memcpy(n + 12, "Xen", 4);
        pvh_put_le32(n + 16, ENTRY);
        ph += 32;
        pvh_put_le32(ph, 4);
        pvh_put_le32(ph + 4, 0x400);
        pvh_put_le32(ph + 16, 20);
        pvh_put_le32(ph + 20, 20);
        pvh_put_le32(ph + 24, 4);
    }
}

static uint8_t file[IMG];

static void pvh_note_wins_over_multiboot(void **state)
{
    (void)state;
    struct pvh_image img;
    struct pvh_error err = {0};
    elf32(file, 0x3, 1);
    assert_int_equal(pvh_image_parse(file, IMG, "k", &img, &err), 0);
    assert_int_equal(img.protocol, PVH_BOOT_PVH);
    assert_int_equal(img.multiboot_version, 1);
    assert_non_null(strstr(img.protocol_reason, "PVH note present (it wins over the Multiboot 1 header at offset 0x100)"));
    assert_string_equal(pvh_boot_protocol_name(img.protocol), "pvh");
}

static void multiboot1_elf_without_note(void **state)
{
    (void)state;
    struct pvh_image img;
    struct pvh_error err = {0};
    elf32(file, 0x3, 0);
    assert_int_equal(pvh_image_parse(file, IMG, "k", &img, &err), 0);
    assert_int_equal(img.protocol, PVH_BOOT_MULTIBOOT1);
    assert_int_equal(img.kind, PVH_IMAGE_ELF);
    assert_string_equal(img.protocol_reason, "Multiboot 1 header at offset 0x100, no PVH note");
    assert_int_equal(img.mb1_entry, ENTRY);
    assert_true(img.mb1_page_align);
    assert_false(img.mb1_aout_kludge);
    assert_int_equal(img.nsegments, 1);
    assert_int_equal(img.seg[0].paddr, LOAD);
    assert_int_equal(img.seg[0].offset, 0);
    assert_int_equal(img.seg[0].filesz, IMG);
    assert_int_equal(img.seg[0].memsz, MEMSZ);
    assert_string_equal(pvh_boot_protocol_name(img.protocol), "multiboot1");
}

static void multiboot1_aout_flat_binary(void **state)
{
    (void)state;
    struct pvh_image img;
    struct pvh_error err = {0};
    memset(file, 0x90, IMG);
    put_mb1(file, 0x20, 0x10001);
    pvh_put_le32(file + 0x2c, 0x200020); /* header_addr: the text starts at file offset 0 */
    pvh_put_le32(file + 0x30, 0x200000); /* load_addr */
    pvh_put_le32(file + 0x34, 0x201000); /* load_end_addr: 4 KiB of the file */
    pvh_put_le32(file + 0x38, 0x203000); /* bss_end_addr */
    pvh_put_le32(file + 0x3c, 0x200040); /* entry_addr */
    assert_int_equal(pvh_image_parse(file, IMG, "k.bin", &img, &err), 0);
    assert_int_equal(img.protocol, PVH_BOOT_MULTIBOOT1);
    assert_int_equal(img.kind, PVH_IMAGE_MULTIBOOT1);
    assert_true(img.mb1_aout_kludge);
    assert_non_null(strstr(img.protocol_reason, "offset 0x20, no PVH note (a.out kludge address fields)"));
    assert_int_equal(img.mb1_entry, 0x200040);
    assert_int_equal(img.nsegments, 1);
    assert_int_equal(img.seg[0].filesz, 0x1000);
    assert_int_equal(img.seg[0].memsz, 0x3000);
    /* without flag 16 a non-ELF file cannot be loaded */
    put_mb1(file, 0x20, 0x1);
    assert_int_equal(pvh_image_parse(file, IMG, "k.bin", &img, &err), -1);
    assert_non_null(strstr(err.msg, "without address fields (flag 16) must be an ELF file"));
    assert_int_equal(img.kind, PVH_IMAGE_MULTIBOOT1);
    assert_int_equal(img.protocol, PVH_BOOT_NONE);
}

static void multiboot_refusals(void **state)
{
    (void)state;
    struct pvh_image img;
    struct pvh_error err = {0};
    elf32(file, 0x8, 0); /* flag 3: a requirement pvhboot does not know */
    assert_int_equal(pvh_image_parse(file, IMG, "k", &img, &err), -1);
    assert_non_null(strstr(err.msg, "requires features pvhboot does not provide (flag bits 0x8"));
    assert_int_equal(img.protocol, PVH_BOOT_NONE);
    memset(file, 0, IMG);
    pvh_put_le32(file + 0x80, PVH_MB2_HEADER_MAGIC);
    pvh_put_le32(file + 0x88, 16);
    pvh_put_le32(file + 0x8c, 0u - PVH_MB2_HEADER_MAGIC - 16u);
    assert_int_equal(pvh_image_parse(file, IMG, "k2", &img, &err), -1);
    assert_int_equal(img.kind, PVH_IMAGE_MULTIBOOT2);
    assert_non_null(strstr(err.msg, "k2: offset 0x80: a Multiboot 2 kernel without the PVH note; pvhboot boots PVH ELF and Multiboot 1 kernels, not Multiboot 2"));
    assert_null(strchr(err.msg, '\n'));
}

static struct pvh_image mb1_image;
static const struct pvh_module_spec MODS[3] = {
    {"initrd", 12345, NULL}, {"m1", 70001, "m1 first module"}, {"m2", 3, "m2"}};

static struct pvh_plan_request mb1_request(const char *cmdline)
{
    struct pvh_error err = {0};
    elf32(file, 0x3, 0);
    assert_int_equal(pvh_image_parse(file, IMG, "k", &mb1_image, &err), 0);
    return (struct pvh_plan_request){.ram_size = 256 * PVH_MiB, .ncpus = 1, .image = &mb1_image,
                                     .cmdline = cmdline, .nmodules = 3, .modules = MODS};
}

static uint64_t end_of(uint64_t a, uint64_t s) { return a + s; }

static void plan_places_mbi_low_and_modules_aligned(void **state)
{
    (void)state;
    struct pvh_plan_request req = mb1_request("hello world");
    static struct pvh_plan plan;
    struct pvh_error err = {0};
    assert_int_equal(pvh_plan_build(&req, &plan, &err), 0);
    assert_int_equal(plan.protocol, PVH_BOOT_MULTIBOOT1);
    assert_int_equal(plan.entry, ENTRY);
    assert_int_equal(plan.kernel_shift, 0);
    assert_int_equal(plan.start_info, 0);
    assert_int_equal(plan.memmap, 0);
    assert_int_equal(plan.modlist, 0);
    /* MBI and GDT: inside conventional memory, not in page 0, not overlapping */
    assert_true(plan.mbi >= 4096 && end_of(plan.mbi, plan.mbi_size) <= 640 * PVH_KiB);
    assert_true(plan.gdt >= 4096 && plan.gdt + 32 <= 640 * PVH_KiB);
    assert_true(plan.mbi + plan.mbi_size <= plan.gdt || plan.gdt + 32 <= plan.mbi);
    /* its size: 120 fixed + 3 modules x 16 + 128 mmap entries x 24 + the strings */
    size_t strings = sizeof("hello world") + sizeof("pvhboot") + 1 + sizeof("m1 first module") + sizeof("m2");
    assert_int_equal(plan.mbi_size, 120 + 3 * 16 + 128 * 24 + strings);
    /* modules: page aligned, in order from the first page after the kernel */
    uint64_t next = (LOAD + MEMSZ + 4095) & ~4095ull;
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(plan.module_addr[i], next);
        next = (next + MODS[i].size + 4095) & ~4095ull;
    }
    /* memory map: usable from 0 up to the lowest boot data page, and from
     * 1 MiB to the end of RAM (nothing of pvhboot's lies there) */
    uint64_t lowest = plan.mbi < plan.gdt ? plan.mbi : plan.gdt;
    assert_int_equal(plan.map[0].addr, 0);
    assert_int_equal(plan.map[0].size, lowest & ~4095ull);
    assert_int_equal(plan.map[0].type, E820_TYPE_RAM);
    int found_high = 0;
    for (uint32_t i = 0; i < plan.memmap_entries; i++)
        if (plan.map[i].addr == PVH_MiB && plan.map[i].type == E820_TYPE_RAM) {
            assert_int_equal(plan.map[i].size, 255 * PVH_MiB);
            found_high = 1;
        }
    assert_true(found_high);
}

static void plan_refuses_kaslr_and_long_strings(void **state)
{
    (void)state;
    struct pvh_plan_request req = mb1_request("x");
    static struct pvh_plan plan;
    struct pvh_error err = {0};
    req.relocate = true;
    assert_int_equal(pvh_plan_build(&req, &plan, &err), -1);
    assert_string_equal(err.msg, "a Multiboot 1 kernel is loaded at the addresses its header names and cannot be"
                                 " moved; drop --kaslr");
    static char longline[PVH_MB1_MAX_STRING + 2];
    memset(longline, 'a', sizeof(longline) - 1);
    req = mb1_request(longline);
    assert_int_equal(pvh_plan_build(&req, &plan, &err), -1);
    assert_non_null(strstr(err.msg, "a command line or module string over 4096 bytes"));
}

static uint8_t *guest;

static int guest_write(void *ctx, uint64_t gpa, const void *src, size_t len, struct pvh_error *err)
{
    (void)ctx;
    if (gpa >= GUEST_LOW || len > GUEST_LOW - gpa)
        return pvh_fail(err, PVH_E_GUEST, "write outside the fake guest at %#llx", (unsigned long long)gpa);
    memcpy(guest + gpa, src, len);
    return 0;
}

static const char *guest_str(uint32_t gpa)
{
    assert_true(gpa > 0 && gpa < GUEST_LOW);
    assert_non_null(memchr(guest + gpa, 0, GUEST_LOW - gpa));
    return (const char *)guest + gpa;
}

static void bootdata_writes_the_mbi_from_the_plan(void **state)
{
    (void)state;
    struct pvh_plan_request req = mb1_request("hello world");
    static struct pvh_plan plan;
    struct pvh_error err = {0};
    assert_int_equal(pvh_plan_build(&req, &plan, &err), 0);
    guest = calloc(1, GUEST_LOW);
    assert_non_null(guest);
    assert_int_equal(pvh_bootdata_write(&req, &plan, guest_write, NULL, &err), 0);
    const uint8_t *m = guest + plan.mbi;
    uint32_t flags = pvh_le32(m);
    assert_int_equal(flags, (1u << 0) | (1u << 2) | (1u << 3) | (1u << 6) | (1u << 9));
    uint64_t lowest = plan.mbi < plan.gdt ? plan.mbi : plan.gdt;
    assert_int_equal(pvh_le32(m + 4), (lowest & ~4095ull) / 1024); /* mem_lower */
    assert_int_equal(pvh_le32(m + 8), 255 * 1024);                 /* mem_upper */
    assert_string_equal(guest_str(pvh_le32(m + 16)), "hello world");
    assert_string_equal(guest_str(pvh_le32(m + 64)), "pvhboot");
    assert_int_equal(pvh_le32(m + 20), 3);
    const uint8_t *mods = guest + pvh_le32(m + 24);
    for (uint32_t i = 0; i < 3; i++) {
        assert_int_equal(pvh_le32(mods + 16 * i), plan.module_addr[i]);
        assert_int_equal(pvh_le32(mods + 16 * i + 4), plan.module_addr[i] + MODS[i].size);
        assert_string_equal(guest_str(pvh_le32(mods + 16 * i + 8)), MODS[i].cmdline ? MODS[i].cmdline : "");
    }
    assert_int_equal(pvh_le32(m + 44), plan.memmap_entries * 24);
    const uint8_t *mm = guest + pvh_le32(m + 48);
    for (uint32_t i = 0; i < plan.memmap_entries; i++) {
        assert_int_equal(pvh_le32(mm + 24 * i), 20);
        assert_int_equal(pvh_le64(mm + 24 * i + 4), plan.map[i].addr);
        assert_int_equal(pvh_le64(mm + 24 * i + 12), plan.map[i].size);
        assert_int_equal(pvh_le32(mm + 24 * i + 20), plan.map[i].type);
    }
    uint64_t gdt[PVH_GDT_ENTRIES];
    pvh_gdt_build(gdt);
    assert_memory_equal(guest + plan.gdt, gdt, sizeof(gdt));
    /* no start_info anywhere pvhboot would put one */
    uint32_t magic = HVM_START_MAGIC_VALUE;
    for (size_t a = 0; a + 4 <= 640 * 1024; a += 8)
        assert_memory_not_equal(guest + a, &magic, 4);
    free(guest);
}

static void entry_state_follows_the_protocol(void **state)
{
    (void)state;
    struct pvh_plan_request req = mb1_request("x");
    static struct pvh_plan plan;
    struct pvh_error err = {0};
    struct pvh_entry_state mb, pvh;
    assert_int_equal(pvh_plan_build(&req, &plan, &err), 0);
    pvh_plan_entry_state(&plan, &mb);
    assert_int_equal(mb.rax, 0x2BADB002);
    assert_int_equal(mb.rbx, plan.mbi);
    assert_int_equal(mb.rip, ENTRY);
    assert_int_equal(mb.rflags, 0x2);
    assert_int_equal(mb.cr0 & 1, 1);
    assert_int_equal(mb.cr0 & 0x80000000u, 0); /* paging off */
    assert_int_equal(mb.cs.db, 1);
    assert_int_equal(mb.cs.limit, 0xffffffff);
    assert_int_equal(mb.ds.base, 0);
    assert_int_equal(mb.ss.type, 0x3);
    assert_int_equal(mb.fs.type, 0x3);
    assert_int_equal(mb.gs.limit, 0xffffffff);
    assert_int_equal(mb.gdt_base, plan.gdt);
    /* PVH: the same state with %eax 0 and %ebx start_info */
    elf32(file, 0x3, 1);
    assert_int_equal(pvh_image_parse(file, IMG, "k", &mb1_image, &err), 0);
    assert_int_equal(pvh_plan_build(&req, &plan, &err), 0);
    assert_int_equal(plan.protocol, PVH_BOOT_PVH);
    pvh_plan_entry_state(&plan, &pvh);
    assert_int_equal(pvh.rax, 0);
    assert_int_equal(pvh.rbx, plan.start_info);
    assert_int_not_equal(plan.start_info, 0);
    mb.rax = 0, mb.rbx = pvh.rbx, mb.gdt_base = pvh.gdt_base;
    assert_memory_equal(&mb, &pvh, sizeof(mb));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pvh_note_wins_over_multiboot),
        cmocka_unit_test(multiboot1_elf_without_note),
        cmocka_unit_test(multiboot1_aout_flat_binary),
        cmocka_unit_test(multiboot_refusals),
        cmocka_unit_test(plan_places_mbi_low_and_modules_aligned),
        cmocka_unit_test(plan_refuses_kaslr_and_long_strings),
        cmocka_unit_test(bootdata_writes_the_mbi_from_the_plan),
        cmocka_unit_test(entry_state_follows_the_protocol),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
