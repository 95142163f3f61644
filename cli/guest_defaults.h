/* Defaults pvhboot adds to a guest's command line (cli/guest_defaults.c). */
#ifndef PVHBOOT_CLI_GUEST_DEFAULTS_H
#define PVHBOOT_CLI_GUEST_DEFAULTS_H

#include <stdbool.h>

#include "pvhboot/vmm.h"

/* True for Linux: a bzImage (cfg->kernel_name set when it was resolved to
 * its payload) or an ELF whose XEN_ELFNOTE_GUEST_OS note says "linux". */
bool guest_is_linux(const struct pvh_vm_config *cfg);

/* The command line the guest gets: for Linux, cmdline with "panic=-1" added
 * when it sets no panic= itself (before a " -- "); else cmdline as is.
 * malloc'd; NULL when out of memory. */
char *guest_cmdline(const char *cmdline, bool is_linux);

#endif
