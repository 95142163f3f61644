/* pvhboot's entry point: dispatches to a verb (run, inspect). QEMU's habit
 * of options first (`pvhboot -m 1G -kernel vmlinux`) means run; a file
 * named where the verb goes gets a hint to use run or inspect. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "api_host.h"
#include "cli.h"

#ifndef PVHBOOT_VERSION
#define PVHBOOT_VERSION "0.1.0"
#endif

static void usage(FILE *out)
{
    fprintf(out,
            "usage: pvhboot run KERNEL [options]     boot a kernel on KVM (see pvhboot run --help)\n"
            "       pvhboot [options] -kernel KERNEL [options]   the same, in QEMU's spelling\n"
            "       pvhboot inspect KERNEL [--json]  describe a kernel image and whether run can boot it\n"
            "       pvhboot restore STATE --mem-file MEM [options]   resume a snapshot (pvhboot restore --help)\n"
            "       pvhboot serve --api-sock PATH [--id NAME] [options]   Firecracker's API (docs/api.md)\n"
            "       pvhboot --version | --help       (manual: man pvhboot)\n");
}

const char *cli_version(void)
{
    return PVHBOOT_VERSION;
}

int cli_report(const struct pvh_error *err)
{
    fprintf(stderr, "pvhboot: %s\n", err->msg);
    return err->code == PVH_E_INPUT || err->code == PVH_E_NOFIT ? PVH_EXIT_BAD_INPUT
                                                                : PVH_EXIT_VMM_ERROR;
}

int cli_bad_input(const char *verb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "pvhboot: %s: ", verb);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return PVH_EXIT_BAD_INPUT;
}

static bool is_help(const char *a)
{
    return !strcmp(a, "--help") || !strcmp(a, "-h") || !strcmp(a, "help");
}

/* A word where the verb goes: a file gets a hint, anything else the usage. */
static int unknown_verb(const char *verb)
{
    if (access(verb, F_OK) == 0)
        fprintf(stderr, "pvhboot: '%s' is a file, not a verb: boot it with 'pvhboot run %s', "
                        "describe it with 'pvhboot inspect %s'\n", verb, verb, verb);
    else
        fprintf(stderr, "pvhboot: unknown verb '%s' (pvhboot run KERNEL boots a kernel)\n", verb);
    usage(stderr);
    return PVH_EXIT_BAD_INPUT;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return PVH_EXIT_BAD_INPUT;
    }
    const char *verb = argv[1];
    if (!strcmp(verb, "run"))
        return cmd_run(argc - 1, argv + 1);
    if (!strcmp(verb, "inspect"))
        return cmd_inspect(argc - 1, argv + 1);
    if (!strcmp(verb, "restore"))
        return cmd_restore(argc - 1, argv + 1);
    if (!strcmp(verb, "serve"))
        return cmd_serve(argc - 1, argv + 1);
    if (is_help(verb)) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(verb, "--version") || !strcmp(verb, "-version")) {
        printf("pvhboot %s\n", PVHBOOT_VERSION);
        return 0;
    }
    /* Firecracker's start: `pvhboot --api-sock PATH [...]` serves the API. */
    for (int i = 1; verb[0] == '-' && i < argc; i++)
        if (!strcmp(argv[i], "--api-sock"))
            return cmd_serve(argc, argv);
    /* QEMU habit: options first, in any order (`pvhboot -m 1G -kernel vmlinux`) means run. */
    if (verb[0] == '-')
        return cmd_run(argc, argv);
    return unknown_verb(verb);
}
