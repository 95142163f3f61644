/* `pvhboot run`'s command line (cli/run_options.c): a table of options,
 * each with its spellings (ours and QEMU's) and its handler. */
#ifndef PVHBOOT_CLI_RUN_OPTIONS_H
#define PVHBOOT_CLI_RUN_OPTIONS_H

#include <stdio.h>

#include "pvhboot/vmm.h"

struct pvh_api;

/* QEMU's -drive ...,if=none waits for the -device that names its id. */
struct pending_drive {
    struct pvh_vm_drive drive;
    const char *id;
    bool claimed;
};

/* QEMU's -netdev tap,id=ID,... waits for the -device that names its id. */
struct pending_net {
    struct pvh_vm_net net;
    const char *id;
    bool claimed;
};

struct run_args {
    struct pvh_vm_config cfg;
    const char *initrd;
    char *extra[PVH_MAX_MODULES];
    size_t nextra;
    struct pending_drive pending[PVH_MAX_DRIVES];
    size_t npending;
    struct pending_net pending_nets[PVH_MAX_NETS];
    size_t npending_nets;
    const char *seed;          /* --seed's value, NULL when not given */
    const char *config_file;   /* --config-file: Firecracker's JSON config */
    bool no_api;               /* --no-api: Firecracker's spelling; run serves no API anyway */
    struct pvh_api *api;       /* the config file's state: cfg's strings point into it */
    bool kernel_later;         /* serve: the API names the kernel (boot-source) */
};

void run_usage(FILE *f);
void run_args_fini(struct run_args *a); /* what --config-file allocated */

/* Fills a->cfg from argv. 0 on success; -1 when --help was printed; else
 * the exit status (2) after one line on stderr. */
int run_parse_args(struct run_args *a, int argc, char **argv);

#endif
