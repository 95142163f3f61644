/* The start_info version-1 memory map: usable RAM below 640 KiB, from 1 MiB
 * to the MMIO hole and above 4 GiB; the ISA/BIOS area reserved except the
 * pages of the ACPI tables (type 3, ACPI reclaimable); every page pvhboot
 * writes for the guest reserved; the I/O APIC and local APIC pages reserved.
 * Built by cutting the address space at every boundary and giving each piece
 * the strongest type covering it (ACPI > reserved > RAM), then merging. */
#include <stdlib.h>
#include <string.h>

#include "pvhboot/acpi.h"
#include "pvhboot/plan.h"

#define MAX_SPANS (PVH_MAX_REGIONS + 8)

struct span {
    uint64_t lo, hi;
    uint32_t type;
};

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static unsigned type_rank(uint32_t type)
{
    return type == E820_TYPE_ACPI ? 3 : type == E820_TYPE_RESERVED ? 2 : 1;
}

static void add_span(struct span *s, size_t *n, uint64_t lo, uint64_t hi, uint32_t type)
{
    if (hi > lo && *n < MAX_SPANS)
        s[(*n)++] = (struct span){lo, hi, type};
}

static size_t collect_spans(const struct pvh_plan *plan, struct span *s)
{
    size_t n = 0;
    uint64_t low = plan->ram_low_end;
    add_span(s, &n, 0, low < PVH_ISA_HOLE_START ? low : PVH_ISA_HOLE_START, E820_TYPE_RAM);
    add_span(s, &n, PVH_ISA_HOLE_END, low, E820_TYPE_RAM);
    add_span(s, &n, PVH_MMIO_HOLE_END, PVH_MMIO_HOLE_END + plan->ram_high_size, E820_TYPE_RAM);
    add_span(s, &n, PVH_ISA_HOLE_START, PVH_ISA_HOLE_END, E820_TYPE_RESERVED);
    add_span(s, &n, PVH_IOAPIC_ADDR, PVH_IOAPIC_ADDR + PVH_PAGE_SIZE, E820_TYPE_RESERVED);
    add_span(s, &n, PVH_LAPIC_ADDR, PVH_LAPIC_ADDR + PVH_PAGE_SIZE, E820_TYPE_RESERVED);
    for (size_t i = 0; i < plan->nregions; i++) {
        const struct pvh_region *r = &plan->regions[i];
        if (!pvh_region_is_bootdata(r->kind))
            continue;
        uint64_t lo = r->addr & ~(PVH_PAGE_SIZE - 1);
        uint64_t hi = (r->addr + r->size + PVH_PAGE_SIZE - 1) & ~(PVH_PAGE_SIZE - 1);
        if (r->kind == PVH_REGION_MEMMAP) /* its page is reserved whatever its final size */
            hi = lo + PVH_PAGE_SIZE;
        add_span(s, &n, lo, hi, r->kind == PVH_REGION_ACPI ? E820_TYPE_ACPI
                                                           : E820_TYPE_RESERVED);
    }
    return n;
}

static uint32_t type_at(const struct span *s, size_t n, uint64_t lo, uint64_t hi)
{
    uint32_t best = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i].lo <= lo && hi <= s[i].hi && (!best || type_rank(s[i].type) > type_rank(best)))
            best = s[i].type;
    return best;
}

int pvh_memmap_build(struct pvh_plan *plan, struct pvh_error *err)
{
    struct span s[MAX_SPANS];
    size_t n = collect_spans(plan, s);
    uint64_t cuts[2 * MAX_SPANS];
    size_t nc = 0;
    for (size_t i = 0; i < n; i++) {
        cuts[nc++] = s[i].lo;
        cuts[nc++] = s[i].hi;
    }
    qsort(cuts, nc, sizeof(cuts[0]), cmp_u64);
    uint32_t m = 0;
    for (size_t i = 0; i + 1 < nc; i++) {
        uint64_t lo = cuts[i], hi = cuts[i + 1];
        uint32_t type = lo < hi ? type_at(s, n, lo, hi) : 0;
        if (!type)
            continue;
        struct hvm_memmap_table_entry *prev = m ? &plan->map[m - 1] : NULL;
        if (prev && prev->type == type && prev->addr + prev->size == lo) {
            prev->size += hi - lo;
            continue;
        }
        if (m == PVH_MAX_MEMMAP)
            return pvh_fail(err, PVH_E_NOFIT, "the memory map needs more than %d entries; use"
                            " fewer modules", PVH_MAX_MEMMAP);
        plan->map[m++] = (struct hvm_memmap_table_entry){.addr = lo, .size = hi - lo,
                                                         .type = type};
    }
    plan->memmap_entries = m;
    for (size_t i = 0; i < plan->nregions; i++)
        if (plan->regions[i].kind == PVH_REGION_MEMMAP)
            plan->regions[i].size = m * sizeof(struct hvm_memmap_table_entry);
    return 0;
}
