/* The pvhboot command-line verbs. Argument parsing lives in cli/ only. */
#ifndef PVHBOOT_CLI_H
#define PVHBOOT_CLI_H

#include "pvhboot/error.h"

/* Exit statuses shared by every verb. */
#define PVH_EXIT_VMM_ERROR 1   /* the VMM failed; one line says why */
#define PVH_EXIT_BAD_INPUT 2   /* unusable kernel, module or option */
#define PVH_EXIT_TIMEOUT 124

int cmd_inspect(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_serve(int argc, char **argv);

struct pvh_vm_config;
/* run.c: boots cfg (a bzImage extracted, the default command line) and
 * returns run's exit status; what went wrong is printed. */
int run_config(const struct pvh_vm_config *cfg);
struct pvh_vm_result;
/* run.c: the exit status for how the VM ended (printing what went wrong),
 * and --verbose's report; for restore too. */
int run_exit_status(const struct pvh_vm_config *cfg, const struct pvh_vm_result *r, const struct pvh_error *err);
void run_print_stats(const struct pvh_vm_result *r);
/* restore.c: `pvhboot restore STATE --mem-file MEM [options]`. */
int cmd_restore(int argc, char **argv);

/* Prints "pvhboot: <msg>" on stderr and returns the exit status for err. */
int cli_report(const struct pvh_error *err);

/* Unusable input to a verb: prints "pvhboot: VERB: <msg>" on stderr and
 * returns PVH_EXIT_BAD_INPUT. */
int cli_bad_input(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
