/* --dry-run's layout report, on stdout, after the guest was set up without
 * KVM: the command line the guest gets, every region pvhboot placed in guest
 * RAM (kernel segments, modules, start_info or the Multiboot information,
 * command lines, memory map, GDT, ACPI tables with the RSDP) in address
 * order, the virtio devices with their windows and GSIs, and the memory map
 * the guest reads: the VMM hands back the image and the plan it used. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dry_run.h"
#include "pvhboot/file.h"
#include "pvhboot/image.h"
#include "pvhboot/plan.h"

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

static void print_region(const struct pvh_vm_config *cfg, const struct pvh_vm_result *p, const struct pvh_region *r)
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

static void print_plan(const struct pvh_vm_config *cfg, const struct pvh_vm_result *p)
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

void print_dry_run_layout(const struct pvh_vm_config *cfg, const struct pvh_vm_result *r)
{
    printf("command line: \"%s\"\n", cfg->cmdline ? cfg->cmdline : "");
    print_plan(cfg, r);
}
