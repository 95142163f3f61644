/* Guest-physical layout planner: places the kernel (moving it within its
 * PHYS32_RELOC range when asked or when needed), the boot data pvhboot writes
 * (start_info, lists, command lines, memory map, GDT) low and below 1 GiB
 * (for a Multiboot 1 kernel: the MBI and the GDT at the top of conventional
 * memory, below the EBDA), the EBDA in the top page of conventional memory,
 * the ACPI tables in the legacy RSDP scan window, and the modules as high as
 * they fit below the MMIO hole (Multiboot 1: as low as they fit above 1 MiB,
 * right after the kernel, where QEMU and GRUB put them and where kernels
 * that map only their first megabytes early can read them). Every object is
 * page-separated from every other, so the memory map can reserve whole
 * pages. Pure arithmetic. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "pvhboot/acpi.h"
#include "pvhboot/bootdata.h"
#include "pvhboot/entry.h"
#include "pvhboot/multiboot.h"
#include "pvhboot/plan.h"

#define BOOTDATA_LO PVH_PAGE_SIZE /* page 0 stays empty */
#define MODULE_LO PVH_ISA_HOLE_END
#define RELOC_SWEEP_STEP (2 * PVH_MiB)
#define RELOC_MAX_TRIES 4096

static uint64_t page_down(uint64_t a) { return a & ~(PVH_PAGE_SIZE - 1); }

static uint64_t page_up(uint64_t a)
{
    return a > UINT64_MAX - (PVH_PAGE_SIZE - 1) ? UINT64_MAX & ~(PVH_PAGE_SIZE - 1)
                                                : page_down(a + PVH_PAGE_SIZE - 1);
}

const char *pvh_region_kind_name(enum pvh_region_kind kind)
{
    switch (kind) {
    case PVH_REGION_KERNEL: return "kernel";
    case PVH_REGION_START_INFO: return "start_info";
    case PVH_REGION_MODLIST: return "modlist";
    case PVH_REGION_CMDLINE: return "cmdline";
    case PVH_REGION_MODULE_CMDLINE: return "module cmdline";
    case PVH_REGION_MEMMAP: return "memmap";
    case PVH_REGION_GDT: return "gdt";
    case PVH_REGION_ACPI: return "acpi";
    case PVH_REGION_MODULE: return "module";
    case PVH_REGION_MBI: return "multiboot info";
    case PVH_REGION_EBDA: return "EBDA";
    }
    return "unknown";
}

int pvh_region_is_bootdata(enum pvh_region_kind kind)
{
    return kind != PVH_REGION_KERNEL && kind != PVH_REGION_MODULE;
}

/* "512 MiB", "3 GiB", "1536 KiB": exact, in the largest whole unit. */
static void format_size(char *buf, size_t len, uint64_t bytes)
{
    if (bytes && bytes % PVH_GiB == 0)
        snprintf(buf, len, "%" PRIu64 " GiB", (uint64_t)(bytes / PVH_GiB));
    else if (bytes >= PVH_MiB)
        snprintf(buf, len, "%" PRIu64 " MiB", (uint64_t)((bytes + PVH_MiB - 1) / PVH_MiB));
    else
        snprintf(buf, len, "%" PRIu64 " KiB", (uint64_t)((bytes + PVH_KiB - 1) / PVH_KiB));
}

/* A --mem value of at least `need` bytes: the next power of two, "64M"/"2G". */
static void suggest_mem(char *buf, size_t len, uint64_t need)
{
    uint64_t m = PVH_MIN_RAM;
    while (m < need && m < PVH_MAX_RAM)
        m <<= 1;
    if (m % PVH_GiB == 0)
        snprintf(buf, len, "%" PRIu64 "G", (uint64_t)(m / PVH_GiB));
    else
        snprintf(buf, len, "%" PRIu64 "M", (uint64_t)(m / PVH_MiB));
}

static bool ranges_overlap(uint64_t a, uint64_t as, uint64_t b, uint64_t bs)
{
    return a < b + bs && b < a + as;
}

/* The page-rounded extent of a region: nothing else may touch those pages. */
static void region_pages(const struct pvh_region *r, uint64_t *lo, uint64_t *hi)
{
    *lo = page_down(r->addr);
    *hi = page_up(r->addr + r->size);
}

/* First region whose pages meet [addr, addr+size), or NULL. Kernel segments
 * among themselves are compared byte-exact (ELF segments may share a page). */
static const struct pvh_region *collision_of(const struct pvh_plan *plan, uint64_t addr,
                                             uint64_t size, bool is_kernel)
{
    for (size_t i = 0; i < plan->nregions; i++) {
        const struct pvh_region *r = &plan->regions[i];
        if (is_kernel && r->kind == PVH_REGION_KERNEL) {
            if (ranges_overlap(addr, size, r->addr, r->size))
                return r;
            continue;
        }
        uint64_t lo, hi, a = page_down(addr), b = page_up(addr + size);
        region_pages(r, &lo, &hi);
        if (ranges_overlap(a, b - a, lo, hi - lo))
            return r;
    }
    return NULL;
}

static const struct pvh_region *collision(const struct pvh_plan *plan, uint64_t addr,
                                          uint64_t size)
{
    return collision_of(plan, addr, size, false);
}

static void add_region(struct pvh_plan *plan, enum pvh_region_kind kind, unsigned index,
                       uint64_t addr, uint64_t size)
{
    struct pvh_region *r = &plan->regions[plan->nregions++];
    r->kind = kind;
    r->index = index;
    r->addr = addr;
    r->size = size;
}

/* Lowest page-aligned place in [lo, hi) outside the ISA hole and every
 * region; 0 when none. */
static uint64_t find_low(const struct pvh_plan *plan, uint64_t size, uint64_t lo, uint64_t hi)
{
    uint64_t span = page_up(size);
    uint64_t c = page_up(lo);
    while (span <= hi && c <= hi - span) {
        const struct pvh_region *r;
        if (ranges_overlap(c, span, PVH_ISA_HOLE_START, PVH_ISA_HOLE_END - PVH_ISA_HOLE_START))
            c = PVH_ISA_HOLE_END;
        else if ((r = collision(plan, c, span)) != NULL)
            c = page_up(r->addr + r->size);
        else
            return c;
    }
    return 0;
}

/* Highest page-aligned place in [lo, hi) outside the ISA hole and every
 * region; 0 when none. */
static uint64_t find_high(const struct pvh_plan *plan, uint64_t size, uint64_t lo, uint64_t hi)
{
    uint64_t span = page_up(size);
    if (span > hi || span == 0)
        return 0;
    uint64_t c = page_down(hi - span);
    while (c >= lo && c != 0) {
        const struct pvh_region *r;
        uint64_t below;
        if (ranges_overlap(c, span, PVH_ISA_HOLE_START, PVH_ISA_HOLE_END - PVH_ISA_HOLE_START))
            below = PVH_ISA_HOLE_START;
        else if ((r = collision(plan, c, span)) != NULL)
            below = page_down(r->addr);
        else
            return c;
        if (below < span)
            return 0;
        c = page_down(below - span);
    }
    return 0;
}

/* Lowest and end address of the kernel's non-empty segments. */
static void kernel_span(const struct pvh_image *img, uint64_t *lo, uint64_t *hi)
{
    *lo = UINT64_MAX;
    *hi = 0;
    for (size_t i = 0; i < img->nsegments; i++) {
        const struct pvh_segment *s = &img->seg[i];
        if (s->memsz == 0)
            continue;
        if (s->paddr < *lo)
            *lo = s->paddr;
        uint64_t end = s->paddr + s->memsz;
        if (end < s->paddr)
            end = UINT64_MAX;
        if (end > *hi)
            *hi = end;
    }
}

static uint64_t modules_total(const struct pvh_plan_request *req)
{
    uint64_t t = 0;
    for (size_t i = 0; i < req->nmodules; i++)
        t += page_up(req->modules[i].size);
    return t;
}

/* RAM that holds everything the request loads: the kernel (at least up to
 * 16 MiB), every module, and 64 MiB for the boot data and the guest's own
 * start. Both "try --mem" hints give this, so one try is enough. */
static uint64_t mem_that_fits(const struct pvh_plan_request *req)
{
    uint64_t klo, kend;
    kernel_span(req->image, &klo, &kend);
    return (kend > 16 * PVH_MiB ? kend : 16 * PVH_MiB) + modules_total(req) + 64 * PVH_MiB;
}

static int place_kernel(const struct pvh_plan_request *req, struct pvh_plan *plan,
                        int64_t shift, struct pvh_error *err)
{
    const struct pvh_image *img = req->image;
    char ram[32], sug[16];
    format_size(ram, sizeof(ram), req->ram_size);
    for (size_t i = 0; i < img->nsegments; i++) {
        const struct pvh_segment *s = &img->seg[i];
        if (s->memsz == 0)
            continue;
        uint64_t start = s->paddr + (uint64_t)shift, end;
        if ((shift < 0 && s->paddr < (uint64_t)-shift) ||
            (shift > 0 && start < s->paddr) || __builtin_add_overflow(start, s->memsz, &end))
            return pvh_fail(err, PVH_E_INPUT, "kernel segment %zu: address 0x%" PRIx64
                            " + size 0x%" PRIx64 " overflows; the image is corrupt",
                            i, s->paddr, s->memsz);
        if (start < PVH_PAGE_SIZE)
            return pvh_fail(err, PVH_E_INPUT, "kernel segment %zu starts at 0x%" PRIx64
                            ", in page 0; link the kernel at or above 1 MiB", i, start);
        if (ranges_overlap(start, end - start, PVH_ISA_HOLE_START,
                           PVH_ISA_HOLE_END - PVH_ISA_HOLE_START))
            return pvh_fail(err, PVH_E_INPUT, "kernel segment %zu [0x%" PRIx64 ", 0x%" PRIx64
                            ") overlaps the ISA hole (640 KiB to 1 MiB); link the kernel at or"
                            " above 1 MiB", i, start, end);
        if (end > PVH_MMIO_HOLE_START)
            return pvh_fail(err, PVH_E_NOFIT, "kernel segment %zu ends at 0x%" PRIx64
                            ", inside the MMIO hole (3 GiB to 4 GiB); link the kernel lower",
                            i, end);
        if (end > plan->ram_low_end) {
            suggest_mem(sug, sizeof(sug), mem_that_fits(req));
            return pvh_fail(err, PVH_E_NOFIT, "kernel segment %zu ends at 0x%" PRIx64
                            ", beyond %s of RAM; try --mem %s", i, end, ram, sug);
        }
        const struct pvh_region *r = collision_of(plan, start, end - start, true);
        if (r)
            return pvh_fail(err, PVH_E_NOFIT, "kernel segment %zu [0x%" PRIx64 ", 0x%" PRIx64
                            ") collides with the %s at 0x%" PRIx64, i, start, end,
                            pvh_region_kind_name(r->kind), r->addr);
        add_region(plan, PVH_REGION_KERNEL, (unsigned)i, start, end - start);
    }
    plan->kernel_shift = shift;
    plan->entry = img->protocol == PVH_BOOT_MULTIBOOT1 ? img->mb1_entry : img->pvh_entry + (uint64_t)shift;
    return 0;
}

static int place_low(struct pvh_plan *plan, enum pvh_region_kind kind, unsigned index,
                     uint64_t size, uint64_t *addr, struct pvh_error *err)
{
    uint64_t hi = plan->ram_low_end < PVH_LOW_DATA_LIMIT ? plan->ram_low_end
                                                         : PVH_LOW_DATA_LIMIT;
    *addr = find_low(plan, size, BOOTDATA_LO, hi);
    if (!*addr)
        return pvh_fail(err, PVH_E_NOFIT, "no room below 1 GiB for the %s (%" PRIu64
                        " bytes); shorten the command lines or add RAM",
                        pvh_region_kind_name(kind), size);
    add_region(plan, kind, index, *addr, size);
    return 0;
}

/* Highest place below 640 KiB (where a BIOS keeps its EBDA), so that
 * conventional memory stays one usable piece from 0 (mem_lower) and memory
 * from 1 MiB stays whole (mem_upper); below 1 GiB when that is full. */
static int place_conventional(struct pvh_plan *plan, enum pvh_region_kind kind, uint64_t size,
                              uint64_t *addr, struct pvh_error *err)
{
    uint64_t top = plan->ram_low_end < PVH_ISA_HOLE_START ? plan->ram_low_end : PVH_ISA_HOLE_START;
    *addr = find_high(plan, size, BOOTDATA_LO, top);
    if (!*addr)
        return place_low(plan, kind, 0, size, addr, err);
    add_region(plan, kind, 0, *addr, size);
    return 0;
}

/* The EBDA: the highest free page below 640 KiB, normally the top one,
 * where a BIOS keeps it; none when a kernel leaves no page free there. */
static void place_ebda(struct pvh_plan *plan)
{
    uint64_t top = plan->ram_low_end < PVH_ISA_HOLE_START ? plan->ram_low_end : PVH_ISA_HOLE_START;
    plan->ebda = find_high(plan, PVH_EBDA_SIZE, BOOTDATA_LO, top);
    if (plan->ebda)
        add_region(plan, PVH_REGION_EBDA, 0, plan->ebda, PVH_EBDA_SIZE);
}

static int place_mb1_bootdata(const struct pvh_plan_request *req, struct pvh_plan *plan,
                              struct pvh_error *err)
{
    plan->mbi_size = pvh_mb1_plan_info_size(req);
    if (plan->mbi_size == 0)
        return pvh_fail(err, PVH_E_INPUT, "the Multiboot information cannot hold this request: a command line"
                        " or module string over %d bytes; shorten it", PVH_MB1_MAX_STRING);
    if (place_conventional(plan, PVH_REGION_GDT, PVH_GDT_ENTRIES * 8, &plan->gdt, err))
        return -1;
    return place_conventional(plan, PVH_REGION_MBI, plan->mbi_size, &plan->mbi, err);
}

static int place_bootdata(const struct pvh_plan_request *req, struct pvh_plan *plan,
                          struct pvh_error *err)
{
    if (plan->protocol == PVH_BOOT_MULTIBOOT1)
        return place_mb1_bootdata(req, plan, err);
    if (place_low(plan, PVH_REGION_START_INFO, 0, sizeof(struct hvm_start_info),
                  &plan->start_info, err))
        return -1;
    if (req->nmodules &&
        place_low(plan, PVH_REGION_MODLIST, 0,
                  req->nmodules * sizeof(struct hvm_modlist_entry), &plan->modlist, err))
        return -1;
    if (req->cmdline &&
        place_low(plan, PVH_REGION_CMDLINE, 0, strlen(req->cmdline) + 1, &plan->cmdline, err))
        return -1;
    for (size_t i = 0; i < req->nmodules; i++) {
        const char *c = req->modules[i].cmdline;
        if (c && place_low(plan, PVH_REGION_MODULE_CMDLINE, (unsigned)i, strlen(c) + 1,
                           &plan->module_cmdline[i], err))
            return -1;
    }
    if (place_low(plan, PVH_REGION_MEMMAP, 0,
                  PVH_MAX_MEMMAP * sizeof(struct hvm_memmap_table_entry), &plan->memmap, err))
        return -1;
    return place_low(plan, PVH_REGION_GDT, 0, PVH_GDT_ENTRIES * 8, &plan->gdt, err);
}

static int place_modules(const struct pvh_plan_request *req, struct pvh_plan *plan,
                         struct pvh_error *err)
{
    for (size_t i = 0; i < req->nmodules; i++) {
        const struct pvh_module_spec *m = &req->modules[i];
        uint64_t size = m->size ? m->size : 1;
        uint64_t addr = size > PVH_MMIO_HOLE_START ? 0
                        : plan->protocol == PVH_BOOT_MULTIBOOT1
                        ? find_low(plan, size, MODULE_LO, plan->ram_low_end)
                        : find_high(plan, size, MODULE_LO, plan->ram_low_end);
        if (!addr) {
            char msz[32], ram[32], sug[16];
            uint64_t need = mem_that_fits(req);
            format_size(msz, sizeof(msz), m->size);
            format_size(ram, sizeof(ram), req->ram_size);
            if (need > PVH_MMIO_HOLE_START)
                return pvh_fail(err, PVH_E_NOFIT, "%s (%s) does not fit below 4 GiB: at most"
                                " 3 GiB of RAM lies below the MMIO hole; use smaller modules",
                                m->name ? m->name : "module", msz);
            suggest_mem(sug, sizeof(sug), need);
            return pvh_fail(err, PVH_E_NOFIT, "%s (%s) does not fit below 4 GiB with %s of RAM;"
                            " try --mem %s", m->name ? m->name : "module", msz, ram, sug);
        }
        plan->module_addr[i] = addr;
        add_region(plan, PVH_REGION_MODULE, (unsigned)i, addr, m->size);
    }
    return 0;
}

/* One complete layout attempt with the kernel shifted by `shift`. */
static int try_layout(const struct pvh_plan_request *req, struct pvh_plan *plan,
                      int64_t shift, struct pvh_error *err)
{
    plan->nregions = 0;
    plan->modlist = plan->cmdline = plan->start_info = plan->mbi = plan->gdt = plan->memmap = plan->ebda = 0;
    memset(plan->module_addr, 0, sizeof(plan->module_addr));
    memset(plan->module_cmdline, 0, sizeof(plan->module_cmdline));
    struct pvh_acpi_config acpi;
    pvh_plan_acpi_config(plan, req->ncpus, &acpi);
    plan->acpi_base = plan->rsdp = PVH_ACPI_LEGACY_WINDOW_START;
    plan->acpi_size = pvh_acpi_size(&acpi);
    add_region(plan, PVH_REGION_ACPI, 0, plan->acpi_base, plan->acpi_size);
    if (place_kernel(req, plan, shift, err))
        return -1;
    place_ebda(plan);
    if (place_bootdata(req, plan, err) || place_modules(req, plan, err))
        return -1;
    return 0;
}

void pvh_plan_acpi_config(const struct pvh_plan *plan, unsigned ncpus, struct pvh_acpi_config *cfg)
{
    *cfg = (struct pvh_acpi_config){.ncpus = ncpus, .ndevices = plan->ndevices, .devices = plan->devices};
}

/* Device i gets virtio-mmio slot i: its 4 KiB window and its GSI. */
static void place_devices(const struct pvh_plan_request *req, struct pvh_plan *plan)
{
    plan->ndevices = req->ndevices;
    for (size_t i = 0; i < req->ndevices; i++)
        plan->devices[i] = (struct pvh_mmio_device){
            .virtio_id = req->devices[i].virtio_id,
            .base = PVH_VIRTIO_MMIO_BASE + i * PVH_VIRTIO_MMIO_STRIDE,
            .size = PVH_VIRTIO_MMIO_STRIDE,
            .gsi = pvh_layout_virtio_gsi(i),
        };
}

static uint64_t splitmix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* Aligned kernel base addresses [*first, *last] the note and RAM allow. */
static int reloc_range(const struct pvh_plan_request *req, const struct pvh_plan *plan,
                       uint64_t *first, uint64_t *last, uint64_t *align, struct pvh_error *err)
{
    const struct pvh_image *img = req->image;
    uint64_t klo, khi;
    kernel_span(img, &klo, &khi);
    *align = img->reloc_align ? img->reloc_align : 1;
    if (*align & (*align - 1))
        return pvh_fail(err, PVH_E_INPUT, "XEN_ELFNOTE_PHYS32_RELOC alignment 0x%" PRIx64
                        " is not a power of two; the kernel image is corrupt", *align);
    uint64_t span = khi - klo;
    uint64_t lo = img->reloc_min > PVH_ISA_HOLE_END ? img->reloc_min : PVH_ISA_HOLE_END;
    uint64_t top = (uint64_t)img->reloc_max + 1;
    if (plan->ram_low_end < top)
        top = plan->ram_low_end;
    lo = (lo + *align - 1) & ~(*align - 1);
    if (span > top || top - span < lo) {
        char ram[32];
        format_size(ram, sizeof(ram), req->ram_size);
        return pvh_fail(err, PVH_E_NOFIT, "the kernel (0x%" PRIx64 " bytes) fits nowhere in its"
                        " PHYS32_RELOC range [0x%" PRIx32 ", 0x%" PRIx32 "] with %s of RAM;"
                        " add RAM", span, img->reloc_min, img->reloc_max, ram);
    }
    *first = lo;
    *last = (top - span) & ~(*align - 1);
    return 0;
}

/* Tries bases from index `start` on, stepping by at least 2 MiB, wrapping. */
static int sweep(const struct pvh_plan_request *req, struct pvh_plan *plan, uint64_t first,
                 uint64_t last, uint64_t align, uint64_t start)
{
    uint64_t klo, khi;
    kernel_span(req->image, &klo, &khi);
    uint64_t count = (last - first) / align + 1;
    uint64_t step = RELOC_SWEEP_STEP > align ? RELOC_SWEEP_STEP / align : 1;
    uint64_t tries = count / step + 1;
    if (tries > RELOC_MAX_TRIES)
        tries = RELOC_MAX_TRIES;
    for (uint64_t t = 0; t < tries; t++) {
        uint64_t base = first + ((start + t * step) % count) * align;
        struct pvh_error e2;
        if (try_layout(req, plan, (int64_t)(base - klo), &e2) == 0)
            return 0;
    }
    return -1;
}

static int check_protocol(const struct pvh_plan_request *req, struct pvh_error *err)
{
    if (!req->image)
        return pvh_fail(err, PVH_E_INPUT, "no kernel image");
    if (req->image->protocol == PVH_BOOT_MULTIBOOT1) {
        if (req->relocate)
            return pvh_fail(err, PVH_E_INPUT, "a Multiboot 1 kernel is loaded at the addresses its header names"
                            " and cannot be moved; drop --kaslr");
        return 0;
    }
    if (!req->image->has_pvh_entry)
        return pvh_fail(err, PVH_E_INPUT, "the kernel has no XEN_ELFNOTE_PHYS32_ENTRY; build it"
                        " with CONFIG_PVH");
    return 0;
}

static int check_request(const struct pvh_plan_request *req, struct pvh_error *err)
{
    if (check_protocol(req, err))
        return -1;
    if (req->ram_size < PVH_MIN_RAM || req->ram_size > PVH_MAX_RAM)
        return pvh_fail(err, PVH_E_INPUT, "guest RAM of %" PRIu64 " bytes is outside 2 MiB to"
                        " 1 TiB; pick --mem in that range", req->ram_size);
    if (req->ncpus < 1 || req->ncpus > PVH_MAX_CPUS)
        return pvh_fail(err, PVH_E_INPUT, "%u vCPUs: pick 1 to %d", req->ncpus, PVH_MAX_CPUS);
    if (req->nmodules > PVH_MAX_MODULES)
        return pvh_fail(err, PVH_E_INPUT, "%zu modules: at most %d are supported",
                        req->nmodules, PVH_MAX_MODULES);
    if (req->nmodules && !req->modules)
        return pvh_fail(err, PVH_E_INPUT, "module list missing");
    if (req->ndevices > PVH_MAX_VIRTIO_DEVICES)
        return pvh_fail(err, PVH_E_INPUT, "%zu devices: at most %d virtio devices fit the machine's"
                        " interrupt lines", req->ndevices, PVH_MAX_VIRTIO_DEVICES);
    if (req->ndevices && !req->devices)
        return pvh_fail(err, PVH_E_INPUT, "device list missing");
    if (req->image->nsegments > PVH_MAX_SEGMENTS)
        return pvh_fail(err, PVH_E_INPUT, "too many kernel segments");
    if (req->relocate && !req->image->has_reloc)
        return pvh_fail(err, PVH_E_INPUT, "the kernel has no XEN_ELFNOTE_PHYS32_RELOC note, so"
                        " it cannot be moved; drop the relocation option");
    uint64_t klo, khi;
    kernel_span(req->image, &klo, &khi);
    if (khi == 0)
        return pvh_fail(err, PVH_E_INPUT, "the kernel has no loadable bytes");
    return 0;
}

int pvh_plan_build(const struct pvh_plan_request *req, struct pvh_plan *plan,
                   struct pvh_error *err)
{
    memset(plan, 0, sizeof(*plan));
    if (check_request(req, err))
        return -1;
    plan->protocol = req->image->protocol == PVH_BOOT_MULTIBOOT1 ? PVH_BOOT_MULTIBOOT1 : PVH_BOOT_PVH;
    plan->ram_low_end = req->ram_size < PVH_MMIO_HOLE_START ? req->ram_size
                                                             : PVH_MMIO_HOLE_START;
    plan->ram_high_size = req->ram_size - plan->ram_low_end;
    place_devices(req, plan);
    int rc;
    if (req->relocate) {
        uint64_t first, last, align;
        if (reloc_range(req, plan, &first, &last, &align, err))
            return -1;
        uint64_t count = (last - first) / align + 1;
        rc = sweep(req, plan, first, last, align, splitmix64(req->seed) % count);
        if (rc)
            pvh_fail(err, PVH_E_NOFIT, "no load address in the kernel's PHYS32_RELOC range"
                     " leaves room for the modules; add RAM");
    } else {
        struct pvh_error first_err = {0};
        rc = try_layout(req, plan, 0, &first_err);
        uint64_t first, last, align;
        struct pvh_error e2;
        if (rc && req->image->has_reloc && first_err.code == PVH_E_NOFIT &&
            reloc_range(req, plan, &first, &last, &align, &e2) == 0)
            rc = sweep(req, plan, first, last, align, 0);
        if (rc && err)
            *err = first_err;
    }
    if (rc)
        return -1;
    return pvh_memmap_build(plan, err);
}
