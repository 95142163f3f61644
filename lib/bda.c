/* The BIOS data area (0x400-0x4ff) as PC firmware leaves it, for kernels
 * that still read it without a BIOS: COM1's port and the serial port count,
 * the EBDA's segment (0x40e) and the conventional memory below it in KiB
 * (0x413), both taken from the plan so that they agree with the memory map
 * the kernel is given (start_info's or the Multiboot one). */
#include <string.h>

#include "pvhboot/bootdata.h"
#include "pvhboot/bytes.h"

/* Conventional memory as INT 12h would report it: up to where the memory
 * map's last usable range below the EBDA (or 640 KiB) ends. */
uint32_t pvh_bda_base_memory_kib(const struct pvh_plan *plan)
{
    uint64_t limit = plan->ebda ? plan->ebda : PVH_ISA_HOLE_START, top = 0;
    for (uint32_t i = 0; i < plan->memmap_entries; i++) {
        const struct hvm_memmap_table_entry *e = &plan->map[i];
        if (e->type != E820_TYPE_RAM || e->addr >= limit)
            continue;
        uint64_t end = e->addr + e->size < limit ? e->addr + e->size : limit;
        if (end > top)
            top = end;
    }
    return (uint32_t)(top / PVH_KiB);
}

void pvh_bda_build(const struct pvh_plan *plan, uint8_t bda[PVH_BDA_SIZE])
{
    memset(bda, 0, PVH_BDA_SIZE);
    pvh_put_le16(bda + PVH_BDA_COM1, PVH_COM1_PORT);
    pvh_put_le16(bda + PVH_BDA_EQUIPMENT, 1u << 9); /* one serial port */
    pvh_put_le16(bda + PVH_BDA_EBDA_SEGMENT, (uint16_t)(plan->ebda >> 4));
    pvh_put_le16(bda + PVH_BDA_BASE_MEMORY_KIB, (uint16_t)pvh_bda_base_memory_kib(plan));
}

int pvh_bda_write(const struct pvh_plan *plan, pvh_guest_write_fn write, void *ctx, struct pvh_error *err)
{
    uint8_t bda[PVH_BDA_SIZE], ebda[PVH_EBDA_SIZE] = {PVH_EBDA_SIZE / PVH_KiB}; /* byte 0: its size in KiB */
    pvh_bda_build(plan, bda);
    if (write(ctx, PVH_BDA_ADDR, bda, sizeof(bda), err))
        return -1;
    return plan->ebda ? write(ctx, plan->ebda, ebda, sizeof(ebda), err) : 0;
}
