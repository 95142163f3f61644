/* Boot data: the bytes pvhboot writes into guest RAM for the guest to read
 * (start_info v1, module list, command lines, memory map, GDT, ACPI tables,
 * the BIOS data area and the EBDA),
 * at the places a plan chose. Guest memory is reached only through the
 * caller's write callback (the VMM passes its checked accessor). */
#ifndef PVHBOOT_BOOTDATA_H
#define PVHBOOT_BOOTDATA_H

#include <stddef.h>
#include <stdint.h>

#include "pvhboot/error.h"
#include "pvhboot/plan.h"

typedef int (*pvh_guest_write_fn)(void *ctx, uint64_t gpa, const void *src,
                                  size_t len, struct pvh_error *err);

/* Writes everything except kernel segments and module contents: for PVH
 * start_info and what it points to, for Multiboot 1 the MBI; for both the
 * GDT, the ACPI tables, the BIOS data area and the EBDA. */
int pvh_bootdata_write(const struct pvh_plan_request *req, const struct pvh_plan *plan,
                       pvh_guest_write_fn write, void *ctx, struct pvh_error *err);

/* Multiboot 1 (lib/mb1_bootdata.c): the bytes the MBI needs for this
 * request when the memory map has its maximum size (the planner reserves
 * that much), 0 when a limit is exceeded; and the MBI
 * written from the plan (its memory map, modules and command line). */
size_t pvh_mb1_plan_info_size(const struct pvh_plan_request *req);
int pvh_mb1_bootdata_write(const struct pvh_plan_request *req, const struct pvh_plan *plan,
                           pvh_guest_write_fn write, void *ctx, struct pvh_error *err);

/* The BIOS data area (lib/bda.c): its 256 bytes for a plan (COM1, the
 * equipment word, the EBDA segment at 0x40e, base memory in KiB at 0x413);
 * base memory is where the memory map's last usable range below the EBDA
 * ends; pvh_bda_write writes the BDA and the EBDA's page (pvh_bootdata_write
 * calls it). */
uint32_t pvh_bda_base_memory_kib(const struct pvh_plan *plan);
void pvh_bda_build(const struct pvh_plan *plan, uint8_t bda[PVH_BDA_SIZE]);
int pvh_bda_write(const struct pvh_plan *plan, pvh_guest_write_fn write, void *ctx, struct pvh_error *err);

/* The vCPU 0 entry state the plan's protocol asks for (lib/entry.c). */
struct pvh_entry_state;
void pvh_plan_entry_state(const struct pvh_plan *plan, struct pvh_entry_state *st);

#endif
