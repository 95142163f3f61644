/* Boot data: the bytes pvhboot writes into guest RAM for the guest to read
 * (start_info v1, module list, command lines, memory map, GDT, ACPI tables),
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

/* Writes everything except kernel segments and module contents. */
int pvh_bootdata_write(const struct pvh_plan_request *req, const struct pvh_plan *plan,
                       pvh_guest_write_fn write, void *ctx, struct pvh_error *err);

#endif
