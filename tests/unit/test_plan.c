/* The layout planner, the memory map and the boot data writer, checked by an
 * independent invariant checker over the region list and the memory map. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "pvhboot/acpi.h"
#include "pvhboot/bootdata.h"
#include "pvhboot/entry.h"
#include "pvhboot/plan.h"

#define MiB (1024ull * 1024)
#define GiB (1024ull * MiB)
#define PAGE 4096ull

/* A Linux-like image: the Debian 6.12 cloud kernel's PT_LOADs and entry. */
static void linux_like(struct pvh_image *img, int reloc)
{
    memset(img, 0, sizeof(*img));
    img->kind = PVH_IMAGE_ELF;
    img->elf_class = 64;
    const uint64_t segs[4][2] = {{0x1000000, 0x1c00000}, {0x2c00000, 0x6d9000},
                                 {0x32d9000, 0x39000}, {0x3312000, 0xeee000}};
    img->nsegments = 4;
    for (int i = 0; i < 4; i++) {
        img->seg[i].paddr = segs[i][0];
        img->seg[i].memsz = segs[i][1];
        img->seg[i].filesz = segs[i][1];
        img->seg[i].flags = i == 0 ? 5 : 6;
    }
    img->has_pvh_entry = true;
    img->pvh_entry = 0x1000a30;
    if (reloc) {
        img->has_reloc = true;
        img->reloc_align = 0x200000;
        img->reloc_min = 0x1000000;
        img->reloc_max = 0x3fffffff;
    }
}

/* A tiny kernel at 1 MiB (32 KiB), like a unikernel or the test guests. */
static void tiny(struct pvh_image *img)
{
    memset(img, 0, sizeof(*img));
    img->kind = PVH_IMAGE_ELF;
    img->nsegments = 1;
    img->seg[0].paddr = 0x100000;
    img->seg[0].memsz = 0x8000;
    img->seg[0].flags = 7;
    img->has_pvh_entry = true;
    img->pvh_entry = 0x100010;
}

static int overlaps(uint64_t a, uint64_t as, uint64_t b, uint64_t bs)
{
    return a < b + bs && b < a + as;
}

static uint64_t pg_lo(uint64_t a) { return a & ~(PAGE - 1); }
static uint64_t pg_hi(uint64_t a) { return (a + PAGE - 1) & ~(PAGE - 1); }

static int is_written_by_us(enum pvh_region_kind k)
{
    return k != PVH_REGION_KERNEL && k != PVH_REGION_MODULE;
}

/* Type of the memmap entry covering all of [a, a+s), or 0. */
static uint32_t covering_type(const struct pvh_plan *p, uint64_t a, uint64_t s)
{
    for (uint32_t i = 0; i < p->memmap_entries; i++)
        if (p->map[i].addr <= a && a + s <= p->map[i].addr + p->map[i].size)
            return p->map[i].type;
    return 0;
}

static void check_memmap(const struct pvh_plan *p, uint64_t ram)
{
    assert_true(p->memmap_entries > 0 && p->memmap_entries <= 128);
    uint64_t usable = 0;
    for (uint32_t i = 0; i < p->memmap_entries; i++) {
        const struct hvm_memmap_table_entry *e = &p->map[i];
        assert_true(e->size > 0);
        assert_true(e->type == 1 || e->type == 2 || e->type == 3);
        if (i)
            assert_true(p->map[i - 1].addr + p->map[i - 1].size <= e->addr);
        if (e->type == 1) {
            usable += e->size;
            assert_false(overlaps(e->addr, e->size, 640 * 1024, 384 * 1024));
            assert_false(overlaps(e->addr, e->size, 3 * GiB, 1 * GiB));
        }
    }
    /* usable = RAM - ISA hole - MMIO hole shortfall - pages we wrote */
    uint64_t low = ram < 3 * GiB ? ram : 3 * GiB;
    uint64_t expect = low - 384 * 1024 + (ram - low);
    for (size_t i = 0; i < p->nregions; i++) {
        const struct pvh_region *r = &p->regions[i];
        if (is_written_by_us(r->kind) && r->kind != PVH_REGION_ACPI)
            expect -= r->kind == PVH_REGION_MEMMAP ? PAGE : pg_hi(r->addr + r->size) - pg_lo(r->addr);
    }
    assert_int_equal(usable, expect);
    assert_int_equal(covering_type(p, 0xFEC00000, PAGE), 2);
    assert_int_equal(covering_type(p, 0xFEE00000, PAGE), 2);
}

static void check_region(const struct pvh_plan *p, const struct pvh_region *r)
{
    assert_true(r->addr != 0);
    assert_true(r->size > 0 || r->kind == PVH_REGION_MODULE);
    assert_true(r->addr + r->size <= 4 * GiB);
    if (r->kind == PVH_REGION_ACPI) {
        assert_true(r->addr >= 0xE0000 && r->addr + r->size <= 0x100000);
        assert_int_equal(covering_type(p, pg_lo(r->addr), pg_hi(r->addr + r->size) - pg_lo(r->addr)), 3);
        return;
    }
    assert_false(overlaps(r->addr, r->size, 640 * 1024, 384 * 1024));
    assert_true(r->addr + r->size <= p->ram_low_end);
    uint32_t want = is_written_by_us(r->kind) ? 2 : 1;
    uint64_t lo = is_written_by_us(r->kind) ? pg_lo(r->addr) : r->addr;
    uint64_t hi = is_written_by_us(r->kind) ? pg_hi(r->addr + r->size) : r->addr + r->size;
    if (hi > lo)
        assert_int_equal(covering_type(p, lo, hi - lo), want);
    if (r->kind != PVH_REGION_GDT && r->kind != PVH_REGION_MODULE && r->kind != PVH_REGION_KERNEL)
        assert_true(r->addr + r->size <= 1 * GiB);
    if (r->kind == PVH_REGION_MODULE)
        assert_int_equal(r->addr % PAGE, 0);
}

/* Every invariant, from the region list and memmap only. */
static void check_plan(const struct pvh_plan_request *q, const struct pvh_plan *p)
{
    size_t kinds[16] = {0};
    for (size_t i = 0; i < p->nregions; i++) {
        const struct pvh_region *a = &p->regions[i];
        kinds[a->kind]++;
        check_region(p, a);
        for (size_t j = i + 1; j < p->nregions; j++) {
            const struct pvh_region *b = &p->regions[j];
            assert_false(overlaps(a->addr, a->size, b->addr, b->size));
            /* no page shared between something we write and anything else */
            if (is_written_by_us(a->kind) || is_written_by_us(b->kind))
                assert_false(overlaps(pg_lo(a->addr), pg_hi(a->addr + a->size) - pg_lo(a->addr),
                                      pg_lo(b->addr), pg_hi(b->addr + b->size) - pg_lo(b->addr)));
        }
    }
    assert_int_equal(kinds[PVH_REGION_START_INFO], 1);
    assert_int_equal(kinds[PVH_REGION_MEMMAP], 1);
    assert_int_equal(kinds[PVH_REGION_GDT], 1);
    assert_int_equal(kinds[PVH_REGION_ACPI], 1);
    assert_int_equal(kinds[PVH_REGION_MODULE], q->nmodules);
    assert_int_equal(kinds[PVH_REGION_CMDLINE], q->cmdline ? 1 : 0);
    assert_int_equal(kinds[PVH_REGION_MODLIST], q->nmodules ? 1 : 0);
    assert_true(p->rsdp >= 0xE0000 && p->rsdp < 0x100000 && p->rsdp % 16 == 0);
    assert_true(p->start_info != 0 && p->memmap != 0 && p->gdt != 0);
    assert_int_equal(p->entry, q->image->pvh_entry + (uint64_t)p->kernel_shift);
    int entry_in_kernel = 0;
    for (size_t i = 0; i < p->nregions; i++)
        if (p->regions[i].kind == PVH_REGION_KERNEL &&
            p->entry >= p->regions[i].addr && p->entry < p->regions[i].addr + p->regions[i].size)
            entry_in_kernel = 1;
    assert_true(entry_in_kernel);
    check_memmap(p, q->ram_size);
}

static const struct pvh_module_spec some_modules[] = {
    {"initrd.img", 12 * MiB + 123, NULL},
    {"extra.bin", 5000, "extra arg=1"},
    {"third", 1, "x"},
};

static void layouts_across_ram_and_cpus(void **state)
{
    (void)state;
    const uint64_t rams[] = {2 * MiB, 256 * MiB, 3 * GiB + GiB / 2, 8 * GiB, 1024 * GiB};
    const unsigned cpus[] = {1, 2, 64};
    struct pvh_image lin, small;
    linux_like(&lin, 0);
    tiny(&small);
    struct pvh_module_spec small_mods[] = {{"initrd", 300 * 1024, "a"}, {"m1", 10, NULL}};
    struct pvh_plan *p = malloc(sizeof(*p));
    for (size_t r = 0; r < 5; r++)
        for (size_t c = 0; c < 3; c++)
            for (int with = 0; with < 2; with++) {
                struct pvh_plan_request q = {.ram_size = rams[r], .ncpus = cpus[c],
                                             .image = rams[r] < 64 * MiB ? &small : &lin};
                if (with) {
                    q.cmdline = "console=ttyS0 earlyprintk=serial panic=-1";
                    q.nmodules = rams[r] < 64 * MiB ? 2 : 3;
                    q.modules = rams[r] < 64 * MiB ? small_mods : some_modules;
                }
                struct pvh_error err = {0};
                int rc = pvh_plan_build(&q, p, &err);
                if (rc)
                    fail_msg("ram %llu cpus %u: %s", (unsigned long long)rams[r], cpus[c], err.msg);
                check_plan(&q, p);
                assert_int_equal(p->ram_high_size, rams[r] > 3 * GiB ? rams[r] - 3 * GiB : 0);
            }
    free(p);
}

static void initrd_placed_at_top_of_ram(void **state)
{
    (void)state;
    struct pvh_image lin;
    linux_like(&lin, 0);
    struct pvh_module_spec m = {"initrd.img", 10 * MiB + 1, NULL};
    struct pvh_plan_request q = {.ram_size = 256 * MiB, .ncpus = 1, .image = &lin,
                                 .nmodules = 1, .modules = &m};
    struct pvh_plan p;
    struct pvh_error err;
    assert_int_equal(pvh_plan_build(&q, &p, &err), 0);
    assert_int_equal(p.module_addr[0], 256 * MiB - 10 * MiB - PAGE);
    q.ram_size = 8 * GiB; /* above the hole: top of the low 3 GiB */
    assert_int_equal(pvh_plan_build(&q, &p, &err), 0);
    assert_int_equal(p.module_addr[0], 3 * GiB - 10 * MiB - PAGE);
    check_plan(&q, &p);
}

static void initrd_too_big_names_numbers_and_fix(void **state)
{
    (void)state;
    struct pvh_image lin;
    linux_like(&lin, 0);
    struct pvh_module_spec m = {"initrd.img", 900 * MiB, NULL};
    struct pvh_plan_request q = {.ram_size = 512 * MiB, .ncpus = 1, .image = &lin,
                                 .nmodules = 1, .modules = &m};
    struct pvh_plan p;
    struct pvh_error err;
    assert_int_equal(pvh_plan_build(&q, &p, &err), -1);
    assert_int_equal(err.code, PVH_E_NOFIT);
    /* need: kernel end 66 MiB + 900 MiB + 64 MiB headroom = 1030 MiB -> 2G */
    assert_string_equal(err.msg, "initrd.img (900 MiB) does not fit below 4 GiB with 512 MiB of"
                                 " RAM; try --mem 2G");
    q.ram_size = 2 * GiB;
    assert_int_equal(pvh_plan_build(&q, &p, &err), 0);
    check_plan(&q, &p);
    m.size = 3 * GiB;
    q.ram_size = 16 * GiB;
    assert_int_equal(pvh_plan_build(&q, &p, &err), -1);
    assert_non_null(strstr(err.msg, "initrd.img (3 GiB) does not fit below 4 GiB: at most 3 GiB"));
}

static void kernel_beyond_ram_suggests_mem(void **state)
{
    (void)state;
    struct pvh_image lin;
    linux_like(&lin, 0);
    struct pvh_plan_request q = {.ram_size = 32 * MiB, .ncpus = 1, .image = &lin};
    struct pvh_plan p;
    struct pvh_error err;
    assert_int_equal(pvh_plan_build(&q, &p, &err), -1);
    /* the whole kernel ends at 66 MiB (0x4200000), + 64 MiB = 130 MiB -> 256M
     * (was: segment 0's end + 16 MiB -> 64M, which then failed on segment 3) */
    assert_string_equal(err.msg, "kernel segment 0 ends at 0x2c00000, beyond 32 MiB of RAM;"
                                 " try --mem 256M");
    q.ram_size = 256 * MiB;
    assert_int_equal(pvh_plan_build(&q, &p, &err), 0);
    check_plan(&q, &p);
}

/* The suggested --mem is the RAM that fits the kernel and every module: a
 * user who follows it once gets a plan, whatever was too small first (the
 * kernel or a module), for initrds from 1 MiB to 2 GiB. */
static void mem_hint_fits_at_the_first_try(void **state)
{
    (void)state;
    struct pvh_image lin;
    linux_like(&lin, 0);
    static const uint64_t initrd_mib[] = {1, 30, 100, 300, 700, 1500, 2048};
    static const uint64_t ram_mib[] = {16, 32, 64, 100, 128, 256, 512};
    for (size_t i = 0; i < sizeof(initrd_mib) / sizeof(initrd_mib[0]); i++) {
        struct pvh_module_spec m[2] = {{"initrd.img", initrd_mib[i] * MiB, NULL}, {"extra", 5 * MiB, "x"}};
        for (size_t r = 0; r < sizeof(ram_mib) / sizeof(ram_mib[0]); r++) {
            struct pvh_plan_request q = {.ram_size = ram_mib[r] * MiB, .ncpus = 1, .image = &lin,
                                         .nmodules = 2, .modules = m};
            struct pvh_plan p;
            struct pvh_error err;
            if (pvh_plan_build(&q, &p, &err) == 0)
                continue;
            const char *hint = strstr(err.msg, "try --mem ");
            assert_non_null(hint);
            char *end;
            unsigned long long v = strtoull(hint + 10, &end, 10);
            q.ram_size = v * (*end == 'G' ? GiB : MiB);
            if (pvh_plan_build(&q, &p, &err) != 0)
                fail_msg("initrd %llu MiB, --mem %llu MiB: the hint %s did not fit: %s",
                         (unsigned long long)initrd_mib[i], (unsigned long long)ram_mib[r], hint, err.msg);
            check_plan(&q, &p);
        }
    }
}

static void bad_requests_refused(void **state)
{
    (void)state;
    struct pvh_image lin;
    linux_like(&lin, 0);
    struct pvh_plan_request q = {.ram_size = 1 * MiB, .ncpus = 1, .image = &lin};
    struct pvh_plan p;
    struct pvh_error err;
    assert_int_equal(pvh_plan_build(&q, &p, &err), -1);
    q.ram_size = 1025 * GiB;
    assert_int_equal(pvh_plan_build(&q, &p, &err), -1);
    q.ram_size = 512 * MiB;
    q.ncpus = 0;
    assert_int_equal(pvh_plan_build(&q, &p, &err), -1);
    q.ncpus = 256;
    assert_int_equal(pvh_plan_build(&q, &p, &err), -1);
    q.ncpus = 255;
    assert_int_equal(pvh_plan_build(&q, &p, &err), 0);
    struct pvh_module_spec mods[17];
    memset(mods, 0, sizeof(mods));
    q.modules = mods;
    q.nmodules = 17;
    assert_int_equal(pvh_plan_build(&q, &p, &err), -1);
    q.nmodules = 16;
    assert_int_equal(pvh_plan_build(&q, &p, &err), 0);
    check_plan(&q, &p);
}

/* Devices get virtio-mmio slots in request order: 4 KiB windows from
 * 0xD0000000 in the MMIO hole, distinct GSIs that no legacy device uses;
 * one device too many is refused with the limit named. */
static void devices_get_windows_and_gsis(void **state)
{
    (void)state;
    struct pvh_image lin;
    linux_like(&lin, 0);
    struct pvh_device_spec devs[PVH_MAX_VIRTIO_DEVICES + 1];
    for (size_t i = 0; i <= PVH_MAX_VIRTIO_DEVICES; i++)
        devs[i] = (struct pvh_device_spec){i % 2 ? PVH_VIRTIO_ID_RNG : PVH_VIRTIO_ID_BLOCK, "dev"};
    struct pvh_plan_request q = {.ram_size = 4 * GiB, .ncpus = 2, .image = &lin,
                                 .ndevices = PVH_MAX_VIRTIO_DEVICES, .devices = devs};
    struct pvh_plan *p = malloc(sizeof(*p));
    struct pvh_error err;
    assert_int_equal(pvh_plan_build(&q, p, &err), 0);
    check_plan(&q, p);
    assert_int_equal(p->ndevices, PVH_MAX_VIRTIO_DEVICES);
    for (size_t i = 0; i < p->ndevices; i++) {
        const struct pvh_mmio_device *d = &p->devices[i];
        assert_int_equal(d->virtio_id, devs[i].virtio_id);
        assert_int_equal(d->base, 0xD0000000ull + i * 0x1000);
        assert_int_equal(d->size, 0x1000);
        assert_true(d->base >= 3 * GiB && d->base + d->size <= PVH_IOAPIC_ADDR);
        assert_true(d->gsi >= 5 && d->gsi < PVH_IOAPIC_PINS && d->gsi != 8 && d->gsi != 9);
        for (size_t j = 0; j < i; j++)
            assert_int_not_equal(d->gsi, p->devices[j].gsi);
        for (uint32_t m = 0; m < p->memmap_entries; m++) /* the window is no RAM */
            assert_false(p->map[m].type == 1 && overlaps(p->map[m].addr, p->map[m].size, d->base, d->size));
    }
    q.ndevices++;
    assert_int_equal(pvh_plan_build(&q, p, &err), -1);
    assert_non_null(strstr(err.msg, "at most 17 virtio devices"));
    free(p);
}

static uint64_t kernel_base(const struct pvh_plan *p)
{
    uint64_t lo = UINT64_MAX;
    for (size_t i = 0; i < p->nregions; i++)
        if (p->regions[i].kind == PVH_REGION_KERNEL && p->regions[i].addr < lo)
            lo = p->regions[i].addr;
    return lo;
}

static void seeded_relocation_is_aligned_in_range_and_varies(void **state)
{
    (void)state;
    struct pvh_image lin;
    linux_like(&lin, 1);
    struct pvh_module_spec m = {"initrd.img", 40 * MiB, NULL};
    struct pvh_plan_request q = {.ram_size = 2 * GiB, .ncpus = 2, .image = &lin,
                                 .nmodules = 1, .modules = &m, .relocate = true};
    struct pvh_plan p, p2;
    struct pvh_error err;
    uint64_t seen[16];
    size_t distinct = 0;
    for (uint64_t seed = 0; seed < 16; seed++) {
        q.seed = seed;
        assert_int_equal(pvh_plan_build(&q, &p, &err), 0);
        check_plan(&q, &p);
        uint64_t base = kernel_base(&p);
        assert_int_equal(base % 0x200000, 0);
        assert_true(base >= 0x1000000);
        assert_true(base + 0x3200000 - 1 <= 0x3fffffff); /* image span 0x3200000 */
        assert_int_equal(base, 0x1000000 + (uint64_t)p.kernel_shift);
        /* segments keep their relative offsets */
        for (size_t i = 0; i < p.nregions; i++)
            if (p.regions[i].kind == PVH_REGION_KERNEL)
                assert_int_equal(p.regions[i].addr - base,
                                 lin.seg[p.regions[i].index].paddr - 0x1000000);
        assert_int_equal(pvh_plan_build(&q, &p2, &err), 0);
        assert_int_equal(kernel_base(&p2), base); /* deterministic */
        size_t k = 0;
        while (k < distinct && seen[k] != base)
            k++;
        if (k == distinct)
            seen[distinct++] = base;
    }
    assert_true(distinct >= 8);
}

static void relocation_range_outside_ram_refused(void **state)
{
    (void)state;
    struct pvh_image lin;
    linux_like(&lin, 1);
    lin.reloc_min = 0x40000000;
    lin.reloc_max = 0x7fffffff;
    struct pvh_plan_request q = {.ram_size = 512 * MiB, .ncpus = 1, .image = &lin,
                                 .relocate = true};
    struct pvh_plan p;
    struct pvh_error err;
    assert_int_equal(pvh_plan_build(&q, &p, &err), -1);
    assert_non_null(strstr(err.msg, "fits nowhere in its PHYS32_RELOC range [0x40000000,"
                                    " 0x7fffffff] with 512 MiB of RAM"));
    q.ram_size = 4 * GiB;
    assert_int_equal(pvh_plan_build(&q, &p, &err), 0);
    assert_true(kernel_base(&p) >= 0x40000000 && kernel_base(&p) + 0x3200000 <= 0x80000000);
    check_plan(&q, &p);
}

static void relocate_without_note_refused(void **state)
{
    (void)state;
    struct pvh_image lin;
    linux_like(&lin, 0);
    struct pvh_plan_request q = {.ram_size = 512 * MiB, .ncpus = 1, .image = &lin,
                                 .relocate = true, .seed = 7};
    struct pvh_plan p;
    struct pvh_error err;
    assert_int_equal(pvh_plan_build(&q, &p, &err), -1);
    assert_non_null(strstr(err.msg, "no XEN_ELFNOTE_PHYS32_RELOC"));
}

/* A kernel linked in the middle of 128 MiB leaves no 100 MiB hole for the
 * initrd: without the note that fails; with it the kernel moves down. */
static void collision_moves_relocatable_kernel(void **state)
{
    (void)state;
    struct pvh_image k;
    tiny(&k);
    k.seg[0].paddr = 64 * MiB;
    k.seg[0].memsz = 1 * MiB;
    k.pvh_entry = 64 * MiB + 0x10;
    struct pvh_module_spec m = {"initrd.img", 100 * MiB, NULL};
    struct pvh_plan_request q = {.ram_size = 128 * MiB, .ncpus = 1, .image = &k,
                                 .nmodules = 1, .modules = &m};
    struct pvh_plan p;
    struct pvh_error err;
    assert_int_equal(pvh_plan_build(&q, &p, &err), -1);
    assert_non_null(strstr(err.msg, "initrd.img (100 MiB) does not fit"));
    k.has_reloc = true;
    k.reloc_align = 0x200000;
    k.reloc_min = 0x100000;
    k.reloc_max = 0xffffffff;
    assert_int_equal(pvh_plan_build(&q, &p, &err), 0);
    check_plan(&q, &p);
    assert_true(p.kernel_shift < 0);
    assert_int_equal(kernel_base(&p) % 0x200000, 0);
    assert_int_equal(p.module_addr[0], 28 * MiB);
    /* and without a collision the kernel stays where it was linked */
    q.nmodules = 0;
    assert_int_equal(pvh_plan_build(&q, &p, &err), 0);
    assert_int_equal(p.kernel_shift, 0);
}

/* ELF segments may share a page (text end and data start): accepted, and
 * nothing of ours lands in that page. */
static void kernel_segments_sharing_a_page(void **state)
{
    (void)state;
    struct pvh_image k;
    tiny(&k);
    k.nsegments = 2;
    k.seg[0].memsz = 0x1234;
    k.seg[1].paddr = 0x101800;
    k.seg[1].memsz = 0x300;
    struct pvh_plan_request q = {.ram_size = 16 * MiB, .ncpus = 1, .image = &k};
    struct pvh_plan p;
    struct pvh_error err;
    assert_int_equal(pvh_plan_build(&q, &p, &err), 0);
    check_plan(&q, &p);
    k.seg[1].paddr = 0x101000; /* overlaps segment 0 by 0x234 bytes */
    assert_int_equal(pvh_plan_build(&q, &p, &err), -1);
    assert_non_null(strstr(err.msg, "kernel segment 1 [0x101000, 0x101300) collides with the kernel"));
}

/* ---- boot data round trip through a fake guest RAM ---- */
struct fake_ram {
    uint8_t *mem;
    uint64_t size;
    size_t writes;
};

static int fake_write(void *ctx, uint64_t gpa, const void *src, size_t len, struct pvh_error *err)
{
    struct fake_ram *f = ctx;
    if (gpa > f->size || len > f->size - gpa)
        return pvh_fail(err, PVH_E_GUEST, "write outside RAM");
    memcpy(f->mem + gpa, src, len);
    f->writes++;
    return 0;
}

static void bootdata_round_trip(void **state)
{
    (void)state;
    struct pvh_image k;
    tiny(&k);
    struct pvh_module_spec mods[] = {{"initrd", 70000, NULL}, {"m1", 4096, "mod one"},
                                     {"m2", 3, "two"}};
    struct pvh_plan_request q = {.ram_size = 64 * MiB, .ncpus = 3, .image = &k,
                                 .cmdline = "console=hvc0 root=/dev/ram0", .nmodules = 3,
                                 .modules = mods};
    struct pvh_plan p;
    struct pvh_error err;
    assert_int_equal(pvh_plan_build(&q, &p, &err), 0);
    check_plan(&q, &p);
    struct fake_ram f = {calloc(1, 64 * MiB), 64 * MiB, 0};
    assert_int_equal(pvh_bootdata_write(&q, &p, fake_write, &f, &err), 0);
    struct hvm_start_info si;
    memcpy(&si, f.mem + p.start_info, sizeof(si));
    assert_int_equal(si.magic, 0x336ec578);
    assert_int_equal(si.version, 1);
    assert_int_equal(si.flags, 0);
    assert_int_equal(si.nr_modules, 3);
    assert_int_equal(si.modlist_paddr, p.modlist);
    assert_string_equal((char *)f.mem + si.cmdline_paddr, "console=hvc0 root=/dev/ram0");
    assert_int_equal(si.rsdp_paddr, 0xE0000);
    assert_int_equal(si.memmap_paddr, p.memmap);
    assert_int_equal(si.memmap_entries, p.memmap_entries);
    assert_int_equal(si.reserved, 0);
    for (int i = 0; i < 3; i++) {
        struct hvm_modlist_entry e;
        memcpy(&e, f.mem + si.modlist_paddr + 32 * (uint64_t)i, sizeof(e));
        assert_int_equal(e.paddr, p.module_addr[i]);
        assert_int_equal(e.size, mods[i].size);
        assert_int_equal(e.reserved, 0);
        if (mods[i].cmdline)
            assert_string_equal((char *)f.mem + e.cmdline_paddr, mods[i].cmdline);
        else
            assert_int_equal(e.cmdline_paddr, 0);
    }
    struct hvm_memmap_table_entry me;
    for (uint32_t i = 0; i < si.memmap_entries; i++) {
        memcpy(&me, f.mem + si.memmap_paddr + 24 * (uint64_t)i, sizeof(me));
        assert_int_equal(me.addr, p.map[i].addr);
        assert_int_equal(me.size, p.map[i].size);
        assert_int_equal(me.type, p.map[i].type);
    }
    uint64_t gdt[PVH_GDT_ENTRIES];
    pvh_gdt_build(gdt);
    assert_memory_equal(f.mem + p.gdt, gdt, sizeof(gdt));
    /* the RSDP is found by a legacy scan of 0xE0000-0xFFFFF on 16-byte steps */
    uint64_t found = 0;
    for (uint64_t a = 0xE0000; a < 0x100000 && !found; a += 16)
        if (memcmp(f.mem + a, "RSD PTR ", 8) == 0)
            found = a;
    assert_int_equal(found, si.rsdp_paddr);
    free(f.mem);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(layouts_across_ram_and_cpus),
        cmocka_unit_test(initrd_placed_at_top_of_ram),
        cmocka_unit_test(initrd_too_big_names_numbers_and_fix),
        cmocka_unit_test(kernel_beyond_ram_suggests_mem),
        cmocka_unit_test(mem_hint_fits_at_the_first_try),
        cmocka_unit_test(bad_requests_refused),
        cmocka_unit_test(seeded_relocation_is_aligned_in_range_and_varies),
        cmocka_unit_test(relocation_range_outside_ram_refused),
        cmocka_unit_test(relocate_without_note_refused),
        cmocka_unit_test(collision_moves_relocatable_kernel),
        cmocka_unit_test(kernel_segments_sharing_a_page),
        cmocka_unit_test(bootdata_round_trip),
        cmocka_unit_test(devices_get_windows_and_gsis),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
