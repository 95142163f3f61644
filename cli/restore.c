/* `pvhboot restore STATE --mem-file MEM [--mem-diff MEM.1 ...]`: resumes a
 * snapshot written by `pvhboot run --snapshot-file STATE --mem-file MEM`
 * (vmm/restore.c); a --snapshot-diff one of generation N with its base and
 * its N diffs in order. The
 * serial console continues on stdout as for run; the exit status is run's.
 * A state file that cannot be used (corrupt, truncated, another host's
 * CPUID or KVM) is one line and exit 2. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "pvhboot/vmm.h"

#define MAX_MEM_DIFFS 4096

struct restore_args {
    struct pvh_vm_config cfg;
    const char *state, *mem;
    const char *diffs[MAX_MEM_DIFFS];
};

static void restore_usage(FILE *f)
{
    fprintf(f, "usage: pvhboot restore STATE --mem-file MEM [options]\n"
               "  STATE, --mem-file MEM  the snapshot's files (pvhboot run --snapshot-file STATE --mem-file MEM)\n"
               "  --mem-diff MEM.N       a --snapshot-diff snapshot STATE.N: MEM is its full base, and each of\n"
               "                         MEM.1 to MEM.N is given with --mem-diff, in order (layered on MEM)\n"
               "  --timeout SEC          end the VM after SEC seconds, exit status 124\n"
               "  --no-sandbox           run without the seccomp allow-list\n"
               "  --verbose, -v          timings and VM exits at the end\n"
               "  --help, -h             this text\n"
               "exit status: as pvhboot run's; 2 when the snapshot cannot be restored here (one line says why)\n");
}

__attribute__((format(printf, 1, 2))) static int bad(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "pvhboot: restore: ");
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return PVH_EXIT_BAD_INPUT;
}

static int parse_timeout(const char *v, unsigned *out)
{
    char *end;
    errno = 0;
    unsigned long n = v[0] >= '0' && v[0] <= '9' ? strtoul(v, &end, 10) : 0;
    if (!n || *end || errno || n > 86400ul * 365)
        return bad("--timeout %s: expected seconds (1 or more)", v);
    *out = (unsigned)n;
    return 0;
}

/* 0; -1 after --help; else the exit status. */
static int parse(struct restore_args *a, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        bool has_value = i + 1 < argc;
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
            restore_usage(stdout);
            return -1;
        } else if (!strcmp(o, "--verbose") || !strcmp(o, "-v")) {
            a->cfg.verbose = true;
        } else if (!strcmp(o, "--no-sandbox")) {
            a->cfg.sandbox = false;
        } else if ((!strcmp(o, "--mem-file") || !strcmp(o, "--mem-diff") || !strcmp(o, "--timeout")) && !has_value) {
            return bad("%s: missing value", o);
        } else if (!strcmp(o, "--mem-file")) {
            a->mem = argv[++i];
        } else if (!strcmp(o, "--mem-diff")) {
            if (a->cfg.restore_mem_ndiffs == MAX_MEM_DIFFS)
                return bad("--mem-diff %s: more than %d diffs", argv[i + 1], MAX_MEM_DIFFS);
            a->diffs[a->cfg.restore_mem_ndiffs++] = argv[++i];
        } else if (!strcmp(o, "--timeout")) {
            if (parse_timeout(argv[++i], &a->cfg.timeout_s))
                return PVH_EXIT_BAD_INPUT;
        } else if (o[0] == '-' && o[1]) {
            return bad("unknown option '%s' (see pvhboot restore --help)", o);
        } else if (!a->state) {
            a->state = o;
        } else {
            return bad("unexpected argument '%s' (one state file)", o);
        }
    }
    if (!a->state || !a->mem) {
        restore_usage(stderr);
        return PVH_EXIT_BAD_INPUT;
    }
    return 0;
}

static int restore_args_run(struct restore_args *a, int argc, char **argv)
{
    int rc = parse(a, argc, argv);
    if (rc)
        return rc < 0 ? 0 : rc;
    struct pvh_error err = {0};
    struct pvh_vm_result *res = malloc(sizeof(*res));
    if (!res)
        return bad("out of memory");
    if (pvh_vm_restore(&a->cfg, a->state, a->mem, res, &err) != 0) {
        free(res);
        return cli_report(&err);
    }
    fflush(stdout);
    if (a->cfg.verbose)
        run_print_stats(res);
    rc = run_exit_status(&a->cfg, res, &err);
    free(res);
    return rc;
}

int cmd_restore(int argc, char **argv)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    struct restore_args *a = calloc(1, sizeof(*a));
    if (!a)
        return bad("out of memory");
    a->cfg = (struct pvh_vm_config){.ncpus = 1, .serial = PVH_SERIAL_STDIO, .sandbox = true,
                                    .start_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec};
    a->cfg.restore_mem_diffs = a->diffs;
    int rc = restore_args_run(a, argc, argv);
    free(a);
    return rc;
}
