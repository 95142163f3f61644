/* libFuzzer harness for the layout planner: a request (RAM size, vCPUs,
 * kernel segments, relocation note, modules and command lines, virtio
 * devices) decoded from
 * the input, as a PVH or a Multiboot 1 image (the input's last byte); on
 * success every layout invariant is asserted (abort() on a violation) and
 * the boot data is written into a bounded fake guest. */
#include <stdlib.h>
#include <string.h>

#include "pvhboot/acpi.h"
#include "pvhboot/bootdata.h"
#include "pvhboot/plan.h"

struct input {
    const uint8_t *p;
    size_t n;
};

static uint64_t take(struct input *in, unsigned bytes)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes; i++) {
        v |= (uint64_t)(in->n ? *in->p : 0) << (8 * i);
        if (in->n) {
            in->p++;
            in->n--;
        }
    }
    return v;
}

static void check(int ok)
{
    if (!ok)
        abort();
}

static int overlap(uint64_t a, uint64_t as, uint64_t b, uint64_t bs)
{
    return a < b + bs && b < a + as;
}

static void check_plan(const struct pvh_plan_request *q, const struct pvh_plan *p)
{
    for (size_t i = 0; i < p->nregions; i++) {
        const struct pvh_region *a = &p->regions[i];
        check(a->addr != 0 && a->addr + a->size <= 0x100000000ull);
        if (a->kind == PVH_REGION_ACPI)
            check(a->addr >= 0xE0000 && a->addr + a->size <= 0x100000);
        else
            check(!overlap(a->addr, a->size, 0xA0000, 0x60000) &&
                  a->addr + a->size <= p->ram_low_end);
        if (pvh_region_is_bootdata(a->kind) && a->kind != PVH_REGION_GDT)
            check(a->addr + a->size <= (1ull << 30));
        for (size_t j = i + 1; j < p->nregions; j++)
            check(!overlap(a->addr, a->size, p->regions[j].addr, p->regions[j].size));
    }
    check(p->memmap_entries > 0 && p->memmap_entries <= PVH_MAX_MEMMAP);
    for (uint32_t i = 0; i < p->memmap_entries; i++) {
        check(p->map[i].size > 0);
        if (i)
            check(p->map[i - 1].addr + p->map[i - 1].size <= p->map[i].addr);
    }
    if (!q->image->has_reloc)
        check(p->kernel_shift == 0);
    check(p->ndevices == q->ndevices);
    for (size_t i = 0; i < p->ndevices; i++) {
        check(p->devices[i].base >= 0xC0000000ull && p->devices[i].base + p->devices[i].size <= 0xFEC00000ull);
        check(p->devices[i].gsi < 24 && p->devices[i].virtio_id == q->devices[i].virtio_id);
    }
}

struct fake {
    uint64_t size;
    uint8_t *mem;
};

static int fake_write(void *ctx, uint64_t gpa, const void *src, size_t len, struct pvh_error *err)
{
    struct fake *f = ctx;
    if (gpa > f->size || len > f->size - gpa)
        return pvh_fail(err, PVH_E_GUEST, "write outside the fake guest");
    memcpy(f->mem + gpa, src, len);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct input in = {data, size};
    static struct pvh_image img;
    memset(&img, 0, sizeof(img));
    struct pvh_plan_request q = {0};
    q.ram_size = take(&in, 5) << 12;          /* up to 4 PiB, 4 KiB steps */
    q.ncpus = (unsigned)take(&in, 2) % 300;
    q.relocate = take(&in, 1) & 1;
    q.seed = take(&in, 8);
    img.has_pvh_entry = true;
    img.nsegments = take(&in, 1) % 6;
    for (size_t i = 0; i < img.nsegments; i++) {
        img.seg[i].paddr = take(&in, 4) << 8;
        img.seg[i].memsz = take(&in, 3) << 4;
    }
    img.pvh_entry = img.nsegments ? img.seg[0].paddr : 0;
    img.has_reloc = take(&in, 1) & 1;
    img.reloc_align = (uint32_t)take(&in, 4);
    img.reloc_min = (uint32_t)take(&in, 4);
    img.reloc_max = (uint32_t)take(&in, 4);
    q.image = &img;
    struct pvh_module_spec mods[PVH_MAX_MODULES];
    static char strings[PVH_MAX_MODULES + 1][64];
    q.nmodules = take(&in, 1) % (PVH_MAX_MODULES + 2);
    if (q.nmodules > PVH_MAX_MODULES)
        q.nmodules = PVH_MAX_MODULES;
    for (size_t i = 0; i < q.nmodules; i++) {
        mods[i].name = "module";
        mods[i].size = take(&in, 4) << 8;
        size_t len = take(&in, 1) % 64;
        memset(strings[i], 'a' + (int)(i % 26), len);
        strings[i][len ? len - 1 : 0] = 0;
        mods[i].cmdline = len ? strings[i] : NULL;
    }
    q.modules = mods;
    size_t clen = take(&in, 1) % 64;
    memset(strings[PVH_MAX_MODULES], 'c', clen);
    strings[PVH_MAX_MODULES][clen ? clen - 1 : 0] = 0;
    q.cmdline = clen ? strings[PVH_MAX_MODULES] : NULL;
    struct pvh_device_spec devs[PVH_MAX_VIRTIO_DEVICES + 2];
    q.ndevices = take(&in, 1) % (PVH_MAX_VIRTIO_DEVICES + 2);
    for (size_t i = 0; i < q.ndevices; i++)
        devs[i] = (struct pvh_device_spec){(uint32_t)take(&in, 1) % 20, "device"};
    q.devices = devs;
    if (take(&in, 1) & 1) { /* Multiboot 1: never moved, entry from the header */
        img.protocol = PVH_BOOT_MULTIBOOT1;
        img.has_pvh_entry = false;
        img.mb1_entry = (uint32_t)img.pvh_entry;
    }

    static struct pvh_plan plan;
    struct pvh_error err;
    if (pvh_plan_build(&q, &plan, &err) != 0)
        return 0;
    check_plan(&q, &plan);
    if (img.protocol == PVH_BOOT_MULTIBOOT1) {
        check(plan.protocol == PVH_BOOT_MULTIBOOT1 && !q.relocate && plan.start_info == 0);
        check(plan.mbi != 0 && plan.mbi_size != 0 && plan.entry == img.mb1_entry);
        for (size_t i = 0; i < q.nmodules; i++)
            check(plan.module_addr[i] % 4096 == 0);
    }
    /* boot data lives below 1 GiB; a 2 MiB-bounded buffer takes the low part */
    struct fake f = {.size = 2ull << 20};
    f.mem = calloc(1, f.size);
    if (!f.mem)
        return 0;
    uint64_t top = 0;
    for (size_t i = 0; i < plan.nregions; i++)
        if (pvh_region_is_bootdata(plan.regions[i].kind) &&
            plan.regions[i].addr + plan.regions[i].size > top)
            top = plan.regions[i].addr + plan.regions[i].size;
    int rc = pvh_bootdata_write(&q, &plan, fake_write, &f, &err);
    check(rc == 0 || top > f.size);
    free(f.mem);
    return 0;
}
