/* --dry-run's layout report, on stdout, after the guest was set up without
 * KVM: the command line the guest gets, every region pvhboot placed in guest
 * RAM (kernel segments, modules, start_info or the Multiboot information,
 * command lines, memory map, GDT, ACPI tables with the RSDP) in address
 * order, and the memory map the guest reads. The VMM does not hand its plan
 * back, so the library plans the same request again here (same inputs, same
 * seed: the same plan) and the entry, %ebx and load address are checked
 * against what the VMM loaded. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "dry_run.h"
#include "pvhboot/file.h"
#include "pvhboot/image.h"
#include "pvhboot/plan.h"

struct replan {
    struct pvh_file kernel;
    struct pvh_image image;
    struct pvh_module_spec spec[PVH_MAX_MODULES];
    struct pvh_plan_request req;
    struct pvh_plan plan;
};

static int build_plan(const struct pvh_vm_config *cfg, struct replan *p, struct pvh_error *err)
{
    const char *name = cfg->kernel_name ? cfg->kernel_name : cfg->kernel;
    if (pvh_file_open(&p->kernel, cfg->kernel, err))
        return -1;
    if (pvh_image_parse(p->kernel.data, p->kernel.size, name, &p->image, err))
        return -1;
    for (size_t i = 0; i < cfg->nmodules; i++) {
        struct stat st;
        if (stat(cfg->modules[i].path, &st) != 0)
            return pvh_fail(err, PVH_E_INPUT, "%s: cannot stat", cfg->modules[i].path);
        p->spec[i] = (struct pvh_module_spec){cfg->modules[i].path, (uint64_t)st.st_size, cfg->modules[i].cmdline};
    }
    p->req = (struct pvh_plan_request){.ram_size = cfg->ram_size, .ncpus = cfg->ncpus, .image = &p->image,
                                       .cmdline = cfg->cmdline, .nmodules = cfg->nmodules, .modules = p->spec,
                                       .relocate = cfg->kaslr, .seed = cfg->seed};
    return pvh_plan_build(&p->req, &p->plan, err);
}

static const char *memmap_type_name(uint32_t type)
{
    switch (type) {
    case 1: return "RAM";
    case 2: return "reserved";
    case 3: return "ACPI tables";
    case 4: return "ACPI NVS";
    case 5: return "unusable";
    case 7: return "persistent memory";
    default: return "other";
    }
}

static void print_region(const struct pvh_vm_config *cfg, const struct replan *p, const struct pvh_region *r)
{
    printf("  0x%010" PRIx64 "-0x%010" PRIx64 "  ", r->addr, r->addr + (r->size ? r->size - 1 : 0));
    switch (r->kind) {
    case PVH_REGION_KERNEL: {
        const struct pvh_segment *s = &p->image.seg[r->index];
        printf("kernel segment %u (%c%c%c, %" PRIu64 " bytes from the file)\n", r->index, s->flags & 4 ? 'R' : '-',
               s->flags & 2 ? 'W' : '-', s->flags & 1 ? 'X' : '-', s->filesz);
        return;
    }
    case PVH_REGION_MODULE:
        printf("module %u%s: %s (%" PRIu64 " bytes)\n", r->index, r->index == 0 ? " (initrd)" : "",
               cfg->modules[r->index].path, r->size);
        return;
    case PVH_REGION_MODULE_CMDLINE:
        printf("module %u command line\n", r->index);
        return;
    case PVH_REGION_ACPI:
        printf("ACPI tables (RSDP at %#" PRIx64 ", %" PRIu64 " bytes)\n", p->plan.rsdp, r->size);
        return;
    case PVH_REGION_START_INFO:
        printf("start_info (%%ebx)\n");
        return;
    case PVH_REGION_MBI:
        printf("Multiboot information (%%ebx)\n");
        return;
    case PVH_REGION_MEMMAP:
        printf("memory map (%u entries)\n", p->plan.memmap_entries);
        return;
    case PVH_REGION_CMDLINE:
        printf("command line\n");
        return;
    case PVH_REGION_MODLIST:
        printf("module list\n");
        return;
    case PVH_REGION_GDT:
        printf("GDT\n");
        return;
    default:
        printf("%s\n", pvh_region_kind_name(r->kind));
        return;
    }
}

static int by_address(const void *a, const void *b)
{
    const struct pvh_region *x = a, *y = b;
    return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static void print_plan(const struct pvh_vm_config *cfg, const struct replan *p)
{
    struct pvh_region sorted[PVH_MAX_REGIONS];
    size_t n = p->plan.nregions;
    memcpy(sorted, p->plan.regions, n * sizeof(sorted[0]));
    qsort(sorted, n, sizeof(sorted[0]), by_address);
    printf("guest-physical layout (%zu regions):\n", n);
    for (size_t i = 0; i < n; i++)
        print_region(cfg, p, &sorted[i]);
    printf("memory map the guest reads (%u entries):\n", p->plan.memmap_entries);
    for (uint32_t i = 0; i < p->plan.memmap_entries; i++) {
        const struct hvm_memmap_table_entry *e = &p->plan.map[i];
        printf("  0x%010" PRIx64 "-0x%010" PRIx64 "  %s\n", e->addr, e->addr + e->size - 1, memmap_type_name(e->type));
    }
}

int print_dry_run_layout(const struct pvh_vm_config *cfg, const struct pvh_vm_result *r)
{
    struct replan *p = calloc(1, sizeof(*p));
    struct pvh_error err = {0};
    int rc = 0;
    if (!p)
        return pvh_fail(&err, PVH_E_SYSTEM, "out of memory"), cli_report(&err);
    p->kernel.fd = -1;
    printf("command line: \"%s\"\n", cfg->cmdline ? cfg->cmdline : "");
    if (build_plan(cfg, p, &err) != 0) {
        rc = cli_report(&err);
    } else {
        const struct pvh_plan *pl = &p->plan;
        uint64_t info = pl->protocol == PVH_BOOT_MULTIBOOT1 ? pl->mbi : pl->start_info;
        uint64_t load = p->image.nsegments ? p->image.seg[0].paddr + (uint64_t)pl->kernel_shift : 0;
        if (pl->entry != r->stats.entry || info != r->stats.boot_info || load != r->stats.kernel_load) {
            pvh_fail(&err, PVH_E_SYSTEM, "dry run: the layout planned again (entry %#" PRIx64 ", %%ebx %#" PRIx64
                     ") differs from the one loaded; please report this", pl->entry, info);
            rc = cli_report(&err);
        } else {
            print_plan(cfg, p);
        }
    }
    pvh_file_close(&p->kernel);
    free(p);
    return rc;
}
