/* pvhboot's entry point: dispatches to a verb (run, inspect). */
#include <stdio.h>
#include <string.h>

#include "cli.h"

#define PVHBOOT_VERSION "0.1.0"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: pvhboot run KERNEL [options]     boot a PVH kernel on KVM (see pvhboot run --help)\n"
            "       pvhboot inspect KERNEL [--json]  describe a kernel image and whether it boots via PVH\n"
            "       pvhboot --version | --help\n");
}

int cli_report(const struct pvh_error *err)
{
    fprintf(stderr, "pvhboot: %s\n", err->msg);
    return err->code == PVH_E_INPUT || err->code == PVH_E_NOFIT ? PVH_EXIT_BAD_INPUT
                                                                : PVH_EXIT_VMM_ERROR;
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
    if (!strcmp(verb, "--help") || !strcmp(verb, "-h") || !strcmp(verb, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(verb, "--version")) {
        printf("pvhboot %s\n", PVHBOOT_VERSION);
        return 0;
    }
    /* QEMU habit: `pvhboot -kernel vmlinux ...` means run. */
    if (!strcmp(verb, "-kernel"))
        return cmd_run(argc, argv);
    fprintf(stderr, "pvhboot: unknown verb '%s'\n", verb);
    usage(stderr);
    return PVH_EXIT_BAD_INPUT;
}
