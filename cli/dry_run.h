/* --dry-run's layout report (cli/dry_run.c). */
#ifndef PVHBOOT_CLI_DRY_RUN_H
#define PVHBOOT_CLI_DRY_RUN_H

#include "pvhboot/vmm.h"

/* Prints the command line, the placed regions and the memory map on stdout,
 * from the image and plan the VMM used. */
void print_dry_run_layout(const struct pvh_vm_config *cfg, const struct pvh_vm_result *r);

#endif
