/* `pvhboot restore STATE --mem-file MEM [--mem-diff MEM.1 ...]`: resumes a
 * snapshot written by `pvhboot run --snapshot-file STATE --mem-file MEM`
 * (vmm/restore.c); a --snapshot-diff one of generation N with its base and
 * its N diffs in order. The
 * serial console continues on stdout as for run; the exit status is run's.
 * A state file that cannot be used (corrupt, truncated, another host's
 * CPUID or KVM) is one line and exit 2. A clone's own identity, in run's
 * spellings: --drive FILE,id=NAME (or id=NAME,path=FILE) gives the drive
 * named NAME another file, --net tap=NAME[,mac=MAC] the next NIC its own
 * TAP (and MAC), --vsock cid=N,uds=PATH vsock its own CID and socket.
 * --load copy copies the memory file's data into anonymous guest RAM
 * instead of mapping it. */
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
#define MAX_DRIVE_ID 20

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
               "  --drive FILE,id=NAME   the snapshot's drive NAME on FILE (also id=NAME,path=FILE); its size,\n"
               "                         read-only and cache modes stay the snapshot's\n"
               "  --net tap=NAME[,mac=MAC]  the snapshot's next NIC on TAP NAME (a clone's own), with MAC\n"
               "  --vsock cid=N,uds=PATH the vsock device's CID and UNIX socket (a clone's own)\n"
               "  --load map|copy        guest RAM mapped from MEM copy-on-write, read as the guest touches it\n"
               "                         (map, the default: clones share its pages), or MEM's data copied in\n"
               "                         (copy: MEM may then change or go while the VM runs)\n"
               "  --timeout SEC          end the VM after SEC seconds, exit status 124\n"
               "  --no-sandbox           run without the seccomp allow-list\n"
               "  --verbose, -v          timings and VM exits at the end\n"
               "  --help, -h             this text\n"
               "exit status: as pvhboot run's; 2 when the snapshot cannot be restored here (one line says why)\n");
}

#define bad(...) cli_bad_input("restore", __VA_ARGS__)

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

static const char *key_value(char *tok)
{
    char *eq = strchr(tok, '=');
    if (!eq)
        return NULL;
    *eq = '\0';
    return eq + 1;
}

static bool printable(const char *s)
{
    for (; *s; s++)
        if (*s < 0x21 || *s > 0x7e)
            return false;
    return true;
}

/* FILE,id=NAME or id=NAME,path=FILE (file= too). */
static int opt_drive(struct restore_args *a, char *v)
{
    struct pvh_vm_drive d = {0};
    char *save;
    for (char *tok = strtok_r(v, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        const char *val = key_value(tok);
        if (!val && !d.path)
            d.path = tok;
        else if (val && !strcmp(tok, "id"))
            d.id = val;
        else if (val && (!strcmp(tok, "path") || !strcmp(tok, "file")))
            d.path = val;
        else
            return bad("--drive: '%s%s%s': a restored drive changes its file only (--drive FILE,id=NAME); its "
                       "read-only and cache modes are the snapshot's", tok, val ? "=" : "", val ? val : "");
    }
    if (!d.id || !*d.id || strlen(d.id) > MAX_DRIVE_ID || !printable(d.id))
        return bad("--drive: id=NAME is missing or not 1 to %d printable characters (which snapshot drive?)",
                   MAX_DRIVE_ID);
    if (!d.path || !*d.path)
        return bad("--drive id=%s: the file is missing (--drive FILE,id=NAME)", d.id);
    if (a->cfg.ndrives == PVH_MAX_DRIVES)
        return bad("--drive: at most %d", PVH_MAX_DRIVES);
    a->cfg.drives[a->cfg.ndrives++] = d;
    return 0;
}

static int net_key(struct pvh_vm_net *n, char *tok)
{
    const char *v = key_value(tok);
    if (v && !strcmp(tok, "tap")) {
        if (pvh_tap_name_check(v) != PVH_TAP_NAME_OK)
            return bad("--net: tap name '%s': 1 to %d printable characters other than / : %% and spaces", v,
                       PVH_TAP_NAME_MAX);
        n->tap = v;
        return 0;
    }
    if (v && !strcmp(tok, "mac")) {
        n->has_mac = true;
        return pvh_mac_parse(v, ":-", n->mac) == PVH_MAC_OK
                   ? 0
                   : bad("--net: mac=%s: expected a unicast address such as 02:00:00:00:00:01, not zero", v);
    }
    return bad("--net: '%s%s%s' is not supported by restore (--net tap=NAME[,mac=MAC]; the MTU is the snapshot's)",
               tok, v ? "=" : "", v ? v : "");
}

static int opt_net(struct restore_args *a, char *v)
{
    struct pvh_vm_net n = {0};
    char *save;
    for (char *tok = strtok_r(v, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
        if (net_key(&n, tok))
            return PVH_EXIT_BAD_INPUT;
    if (!n.tap)
        return bad("--net: tap=NAME is missing (--net tap=NAME[,mac=MAC])");
    if (a->cfg.nnets == PVH_MAX_NETS)
        return bad("--net: at most %d", PVH_MAX_NETS);
    a->cfg.nets[a->cfg.nnets++] = n;
    return 0;
}

static int opt_vsock(struct restore_args *a, char *v)
{
    struct pvh_vm_vsock vs = {0};
    char *save;
    if (a->cfg.vsock.uds_path)
        return bad("--vsock: given twice (one vsock device)");
    for (char *tok = strtok_r(v, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        const char *val = key_value(tok);
        char *end;
        errno = 0;
        unsigned long long cid = val && val[0] >= '0' && val[0] <= '9' ? strtoull(val, &end, 10) : 0;
        if (val && !strcmp(tok, "cid") && cid >= 3 && cid <= 0xfffffffeull && !*end && !errno)
            vs.cid = cid;
        else if (val && !strcmp(tok, "uds") && *val)
            vs.uds_path = val;
        else
            return bad("--vsock: '%s%s%s': expected cid=N (3 to 4294967294),uds=PATH", tok, val ? "=" : "",
                       val ? val : "");
    }
    if (!vs.cid || !vs.uds_path)
        return bad("--vsock: expected cid=N,uds=PATH (the clone's CID and its host UNIX socket)");
    a->cfg.vsock = vs;
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
        } else if ((!strcmp(o, "--mem-file") || !strcmp(o, "--mem-diff") || !strcmp(o, "--timeout") ||
                    !strcmp(o, "--drive") || !strcmp(o, "--net") || !strcmp(o, "--vsock") || !strcmp(o, "--load")) &&
                   !has_value) {
            return bad("%s: missing value", o);
        } else if (!strcmp(o, "--drive") || !strcmp(o, "--net") || !strcmp(o, "--vsock")) {
            char *v = argv[++i];
            int rc = o[2] == 'd' ? opt_drive(a, v) : o[2] == 'n' ? opt_net(a, v) : opt_vsock(a, v);
            if (rc)
                return rc;
        } else if (!strcmp(o, "--load")) {
            const char *v = argv[++i];
            if (strcmp(v, "map") && strcmp(v, "copy"))
                return bad("--load %s: map or copy", v);
            a->cfg.load = v[0] == 'm' ? PVH_LOAD_MAP : PVH_LOAD_COPY;
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
