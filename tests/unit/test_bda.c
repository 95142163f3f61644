/* The BIOS data area and the EBDA (lib/bda.c, lib/plan.c): the EBDA in the
 * top page of conventional memory and reserved in the memory map; the BDA's
 * COM1 port, equipment word, EBDA segment (0x40e) and base memory (0x413)
 * as written into guest RAM, base memory agreeing with the memory map for
 * PVH and with mem_lower for Multiboot 1; a kernel in that page moves the
 * EBDA down. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "pvhboot/bootdata.h"
#include "pvhboot/bytes.h"
#include "pvhboot/plan.h"

#define MiB (1024ull * 1024)
#define LOW (1u << 20) /* the fake guest RAM: its first MiB */

static uint8_t *guest;

static int guest_write(void *ctx, uint64_t gpa, const void *src, size_t len, struct pvh_error *err)
{
    (void)ctx;
    (void)err;
    if (gpa < LOW && len <= LOW - gpa) /* above the first MiB: not looked at here */
        memcpy(guest + gpa, src, len);
    return 0;
}

static void image(struct pvh_image *img, enum pvh_boot_protocol protocol, uint64_t paddr, uint64_t memsz)
{
    memset(img, 0, sizeof(*img));
    img->kind = PVH_IMAGE_ELF;
    img->nsegments = 1;
    img->seg[0] = (struct pvh_segment){.paddr = paddr, .memsz = memsz, .flags = 7};
    img->protocol = protocol;
    img->has_pvh_entry = protocol == PVH_BOOT_PVH;
    img->pvh_entry = paddr;
    img->mb1_entry = (uint32_t)paddr;
}

static uint32_t type_of(const struct pvh_plan *p, uint64_t addr)
{
    for (uint32_t i = 0; i < p->memmap_entries; i++)
        if (p->map[i].addr <= addr && addr - p->map[i].addr < p->map[i].size)
            return p->map[i].type;
    return 0;
}

static void build_and_write(const struct pvh_image *img, struct pvh_plan *p)
{
    struct pvh_plan_request q = {.ram_size = 512 * MiB, .ncpus = 1, .image = img, .cmdline = "console=ttyS0"};
    struct pvh_error err = {0};
    assert_int_equal(pvh_plan_build(&q, p, &err), 0);
    memset(guest, 0, LOW);
    assert_int_equal(pvh_bootdata_write(&q, p, guest_write, NULL, &err), 0);
}

static void pvh_gets_a_bios_data_area(void **state)
{
    (void)state;
    struct pvh_image img;
    static struct pvh_plan p;
    image(&img, PVH_BOOT_PVH, 0x100000, 0x8000);
    build_and_write(&img, &p);
    assert_int_equal(p.ebda, 0x9f000);
    assert_int_equal(type_of(&p, 0x9f000), E820_TYPE_RESERVED);
    assert_int_equal(type_of(&p, 0x9efff), E820_TYPE_RAM);
    const uint8_t *bda = guest + 0x400;
    assert_int_equal(pvh_le16(bda + 0x00), 0x3f8);      /* COM1 */
    assert_int_equal(pvh_le16(bda + 0x10) >> 9 & 7, 1); /* one serial port */
    assert_int_equal(pvh_le16(bda + 0x0e), 0x9f00);     /* EBDA segment */
    assert_int_equal(pvh_le16(bda + 0x13), 636);        /* KiB below it */
    assert_int_equal(guest[0x9f000], 4);                /* the EBDA's size in KiB */
    int found = 0;
    for (size_t i = 0; i < p.nregions; i++)
        if (p.regions[i].kind == PVH_REGION_EBDA)
            found += p.regions[i].addr == 0x9f000 && p.regions[i].size == 4096;
    assert_int_equal(found, 1);
}

/* Multiboot 1: the MBI and GDT sit right below the EBDA, so base memory
 * ends where they begin: the MBI's mem_lower. */
static void multiboot_base_memory_is_mem_lower(void **state)
{
    (void)state;
    struct pvh_image img;
    static struct pvh_plan p;
    image(&img, PVH_BOOT_MULTIBOOT1, 0x100000, 0x8000);
    build_and_write(&img, &p);
    assert_int_equal(p.ebda, 0x9f000);
    assert_true(p.mbi < p.ebda && p.gdt < p.ebda);
    uint32_t mem_lower = pvh_le32(guest + p.mbi + 4);
    assert_int_equal(pvh_le16(guest + 0x413), mem_lower);
    assert_int_equal(pvh_le16(guest + 0x40e), 0x9f00);
    assert_true(mem_lower >= 624 && mem_lower < 636);
}

/* A kernel linked into the top page: the EBDA goes to the next free page
 * below it, and base memory ends there. */
static void kernel_in_the_top_page_moves_the_ebda(void **state)
{
    (void)state;
    struct pvh_image img;
    static struct pvh_plan p;
    image(&img, PVH_BOOT_PVH, 0x90000, 0x10000);
    build_and_write(&img, &p);
    assert_int_equal(p.ebda, 0x8f000);
    assert_int_equal(pvh_le16(guest + 0x40e), 0x8f00);
    assert_int_equal(pvh_le16(guest + 0x413), pvh_bda_base_memory_kib(&p));
    assert_int_equal(pvh_bda_base_memory_kib(&p), 0x8f000 / 1024);
    assert_int_equal(type_of(&p, 0x8f000), E820_TYPE_RESERVED);
    assert_int_equal(type_of(&p, 0x8efff), E820_TYPE_RAM);
}

int main(void)
{
    guest = calloc(1, LOW);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pvh_gets_a_bios_data_area),
        cmocka_unit_test(multiboot_base_memory_is_mem_lower),
        cmocka_unit_test(kernel_in_the_top_page_moves_the_ebda),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    free(guest);
    return rc;
}
