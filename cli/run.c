/* `pvhboot run`: argument parsing (our spellings and QEMU's), a bzImage's
 * payload extracted through the cache, the VM run, and the exit status: the
 * guest's debug-exit status; 0 on power-off or reset; 124 on timeout; 1 on a
 * VMM error; 2 on unusable input. --verbose prints timings and exit counts. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <time.h>

#include "cli.h"
#include "pvhboot/bzimage.h"
#include "pvhboot/extract.h"
#include "pvhboot/file.h"
#include "pvhboot/sandbox.h"
#include "pvhboot/vmm.h"

#define DEFAULT_MEM (512 * PVH_MiB)
#define DEFAULT_CMDLINE "console=ttyS0"

static uint64_t process_start_ns;

__attribute__((constructor)) static void note_process_start(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    process_start_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: pvhboot run KERNEL [options]\n"
            "  KERNEL                 a PVH ELF (vmlinux), a Multiboot 1 kernel (ELF or a.out kludge),\n"
            "                         or a bzImage whose payload is a PVH ELF\n"
            "  --initrd FILE          module 0, the initrd            (QEMU: -initrd)\n"
            "  --module FILE[,cmdline=STR]  a further module, with its own command line\n"
            "  --cmdline STR          kernel command line (default \"" DEFAULT_CMDLINE "\")  (QEMU: -append)\n"
            "  --mem SIZE             guest RAM, K/M/G/T suffix, plain number = MiB (default 512M)  (-m)\n"
            "  --cpus N               vCPUs (default 1)                                 (-smp)\n"
            "  --serial stdio|file:PATH|none   where COM1 goes (default stdio; Ctrl-A x quits)\n"
            "  --timeout SEC          end the VM after SEC seconds, exit status 124\n"
            "  --kaslr [--seed N]     random physical load address (kernel needs XEN_ELFNOTE_PHYS32_RELOC)\n"
            "  --user NAME|UID[:GID]  drop root privileges after setup\n"
            "  --no-sandbox           run without the seccomp allow-list\n"
            "  --load map|copy        kernel and modules mapped from their files (default) or copied\n"
            "  --dry-run              set up guest RAM without KVM, print the layout, exit 0\n"
            "  --verbose              timings, VM exits and unhandled accesses at the end\n"
            "exit status: the guest's debug-exit (port 0xf4) value; 0 after power-off or reset;\n"
            "124 on timeout; 1 on a VMM error; 2 on unusable input\n");
}

__attribute__((format(printf, 1, 2))) static int bad(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "pvhboot: run: ");
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return PVH_EXIT_BAD_INPUT;
}

/* SIZE: digits with an optional K, M, G or T suffix (binary); plain = MiB. */
static int parse_size(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || errno || s[0] == '-')
        return -1;
    unsigned shift = 20;
    switch (*end) {
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    case 't': case 'T': shift = 40; end++; break;
    case '\0': break;
    default: return -1;
    }
    if ((*end == 'i' || *end == 'I') && (end[1] == 'b' || end[1] == 'B'))
        end += 2;
    else if (*end == 'b' || *end == 'B')
        end++;
    if (*end || v > (UINT64_MAX >> shift))
        return -1;
    *out = (uint64_t)v << shift;
    return 0;
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (end == s || *end || errno || s[0] == '-' || v > max)
        return -1;
    *out = v;
    return 0;
}

static int check_mem(uint64_t mem, const char *arg)
{
    if (mem < PVH_MIN_RAM || mem > PVH_MAX_RAM) {
        fprintf(stderr, "pvhboot: run: --mem %s: guest RAM must be between 2M and 1T\n", arg);
        return -1;
    }
    struct sysinfo si;
    if (sysinfo(&si) == 0) {
        uint64_t host = ((uint64_t)si.totalram + si.totalswap) * si.mem_unit;
        if (mem > host) {
            fprintf(stderr, "pvhboot: run: --mem %s: more than this host's memory (%llu MiB of RAM and swap)\n", arg,
                    (unsigned long long)(host >> 20));
            return -1;
        }
    }
    return 0;
}

/* FILE[,cmdline=STR]: the string after ",cmdline=" is kept whole (it may hold commas). */
static int add_module(struct pvh_vm_config *cfg, char *arg)
{
    if (cfg->nmodules == PVH_MAX_MODULES)
        return bad("--module %s: at most 16 modules", arg);
    char *opt = strstr(arg, ",cmdline=");
    cfg->modules[cfg->nmodules].cmdline = NULL;
    if (opt) {
        *opt = '\0';
        cfg->modules[cfg->nmodules].cmdline = opt + strlen(",cmdline=");
    } else if (strchr(arg, ',')) {
        return bad("--module %s: expected FILE or FILE,cmdline=STRING", arg);
    }
    cfg->modules[cfg->nmodules++].path = arg;
    return 0;
}

struct run_args {
    struct pvh_vm_config cfg;
    const char *initrd;
    char *extra[PVH_MAX_MODULES];
    size_t nextra;
};

static const char *option_value(int argc, char **argv, int *i, const char *name)
{
    size_t n = strlen(name);
    if (!strncmp(argv[*i], name, n) && argv[*i][n] == '=')
        return argv[*i] + n + 1;
    if (*i + 1 >= argc)
        return NULL;
    return argv[++*i];
}

static int matches(const char *arg, const char *a, const char *b)
{
    size_t la = strlen(a), lb = b ? strlen(b) : 0;
    return !strcmp(arg, a) || (!strncmp(arg, a, la) && arg[la] == '=') ||
           (b && (!strcmp(arg, b) || (!strncmp(arg, b, lb) && arg[lb] == '=')));
}

static int parse_option(struct run_args *a, int argc, char **argv, int *i)
{
    struct pvh_vm_config *cfg = &a->cfg;
    const char *o = argv[*i];
    unsigned long n;
    if (!strcmp(o, "--verbose") || !strcmp(o, "-v"))
        return cfg->verbose = true, 0;
    if (!strcmp(o, "--kaslr"))
        return cfg->kaslr = true, 0;
    if (!strcmp(o, "--no-sandbox"))
        return cfg->sandbox = false, 0;
    if (!strcmp(o, "--dry-run"))
        return cfg->dry_run = true, 0;
    static const char *const with_value[][2] = {
        {"--initrd", "-initrd"}, {"--module", NULL}, {"--cmdline", "-append"}, {"--mem", "-m"},
        {"--cpus", "-smp"}, {"--serial", NULL}, {"--timeout", NULL}, {"--seed", NULL},
        {"--user", NULL}, {"--kvm-device", NULL}, {"--load", NULL}, {"-kernel", NULL}};
    for (size_t k = 0; k < sizeof(with_value) / sizeof(with_value[0]); k++) {
        if (!matches(o, with_value[k][0], with_value[k][1]))
            continue;
        const char *v = option_value(argc, argv, i, strncmp(o, with_value[k][0], strlen(with_value[k][0])) ? with_value[k][1] : with_value[k][0]);
        if (!v)
            return bad("%s: missing value", o);
        switch (k) {
        case 0: a->initrd = v; return 0;
        case 1: return a->nextra == PVH_MAX_MODULES - 1 ? bad("--module %s: at most 15 besides the initrd", v)
                                                        : (a->extra[a->nextra++] = (char *)v, 0);
        case 2: cfg->cmdline = v; return 0;
        case 3: return parse_size(v, &cfg->ram_size) ? bad("--mem %s: expected a size such as 512M or 2G", v)
                                                     : (check_mem(cfg->ram_size, v) ? PVH_EXIT_BAD_INPUT : 0);
        case 4: {
            const char *cpus = !strncmp(v, "cpus=", 5) ? v + 5 : v; /* QEMU's -smp cpus=N */
            if (parse_uint(cpus, PVH_MAX_CPUS, &n) || n == 0)
                return bad("--cpus %s: expected a number from 1 to 255", v);
            cfg->ncpus = (unsigned)n;
            return 0;
        }
        case 5:
            if (!strcmp(v, "stdio"))
                cfg->serial = PVH_SERIAL_STDIO;
            else if (!strcmp(v, "none"))
                cfg->serial = PVH_SERIAL_NONE;
            else if (!strncmp(v, "file:", 5) && v[5])
                cfg->serial = PVH_SERIAL_FILE, cfg->serial_path = v + 5;
            else
                return bad("--serial %s: expected stdio, file:PATH or none", v);
            return 0;
        case 6:
            if (parse_uint(v, 86400 * 365, &n) || n == 0)
                return bad("--timeout %s: expected seconds (1 or more)", v);
            cfg->timeout_s = (unsigned)n;
            return 0;
        case 7:
            if (parse_uint(v, ULONG_MAX, &n))
                return bad("--seed %s: expected a number", v);
            cfg->seed = n;
            return 0;
        case 8: {
            struct pvh_error err;
            uid_t uid;
            gid_t gid;
            if (pvh_user_lookup(v, &uid, &gid, &err))
                return cli_report(&err);
            cfg->drop_user = true, cfg->uid = uid, cfg->gid = gid;
            return 0;
        }
        case 9: cfg->kvm_device = v; return 0;
        case 10:
            if (!strcmp(v, "map") || !strcmp(v, "copy"))
                return cfg->load = v[0] == 'm' ? PVH_LOAD_MAP : PVH_LOAD_COPY, 0;
            return bad("--load %s: expected map or copy", v);
        default:
            if (cfg->kernel)
                return bad("-kernel %s: a kernel was already given", v);
            cfg->kernel = v;
            return 0;
        }
    }
    return bad("unknown option '%s' (see pvhboot run --help)", o);
}

static int parse_args(struct run_args *a, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return -1;
        }
        if (argv[i][0] == '-' && argv[i][1]) {
            int rc = parse_option(a, argc, argv, &i);
            if (rc)
                return rc;
        } else if (!a->cfg.kernel) {
            a->cfg.kernel = argv[i];
        } else {
            return bad("unexpected argument '%s' (one kernel only)", argv[i]);
        }
    }
    if (!a->cfg.kernel) {
        usage(stderr);
        return PVH_EXIT_BAD_INPUT;
    }
    if (a->initrd)
        a->cfg.modules[a->cfg.nmodules++] = (struct pvh_vm_module){a->initrd, NULL};
    else if (a->nextra)
        return bad("%s", "--module needs --initrd first: module 0 is the initrd");
    for (size_t k = 0; k < a->nextra; k++)
        if (add_module(&a->cfg, a->extra[k]))
            return PVH_EXIT_BAD_INPUT;
    return 0;
}

/* A bzImage boots through its payload, extracted once into the cache. */
static int resolve_kernel(struct pvh_vm_config *cfg, char *elf_path, size_t cap)
{
    struct pvh_error err = {0};
    struct pvh_file f;
    struct pvh_bzimage_info bz;
    if (pvh_file_open(&f, cfg->kernel, &err))
        return cli_report(&err);
    int is_bz = pvh_bzimage_probe(f.data, f.size, cfg->kernel, &bz, &err);
    if (pvh_file_check(&f, &err))
        is_bz = -1;
    pvh_file_close(&f);
    if (is_bz < 0)
        return cli_report(&err);
    if (is_bz == 0)
        return 0;
    bool hit;
    if (pvh_vmlinuz_cached_elf(cfg->kernel, NULL, elf_path, cap, &hit, &err))
        return cli_report(&err);
    if (cfg->verbose)
        fprintf(stderr, "pvhboot: %s: bzImage payload %s: %s\n", cfg->kernel, hit ? "cache hit" : "extracted (cache miss)",
                elf_path);
    cfg->kernel_name = cfg->kernel;
    cfg->kernel = elf_path;
    return 0;
}

static void print_load_stats(const struct pvh_vm_stats *s)
{
    fprintf(stderr, "pvhboot: loaded %.3f ms from process start: kernel and modules %llu bytes mapped, %llu copied, "
            "in %.1f us with the boot data\n", s->ns_loaded / 1e6, (unsigned long long)s->bytes_mapped,
            (unsigned long long)s->bytes_copied, s->ns_load / 1e3);
}

static void print_memory(const struct pvh_vm_stats *s)
{
    if (!s->guest_resident_known) {
        fprintf(stderr, "pvhboot: memory: RSS %llu KiB, guest RAM touched unknown (/proc/self/pagemap could not be "
                "read; after --user only root may); peak RSS %llu KiB\n", (unsigned long long)s->rss_kib,
                (unsigned long long)s->rss_peak_kib);
        return;
    }
    uint64_t own = s->rss_kib > s->guest_resident_kib ? s->rss_kib - s->guest_resident_kib : 0;
    fprintf(stderr, "pvhboot: memory: RSS %llu KiB = guest RAM touched %llu KiB + VMM %llu KiB; peak RSS %llu KiB\n",
            (unsigned long long)s->rss_kib, (unsigned long long)s->guest_resident_kib, (unsigned long long)own,
            (unsigned long long)s->rss_peak_kib);
}

static void print_stats(const struct pvh_vm_result *r)
{
    const struct pvh_vm_stats *s = &r->stats;
    print_load_stats(s);
    fprintf(stderr,
            "pvhboot: times from process start: first KVM_RUN %.3f ms, first serial byte %.3f ms, exit %.3f ms\n",
            s->ns_first_run / 1e6, s->ns_first_serial / 1e6, s->ns_end / 1e6);
    fprintf(stderr,
            "pvhboot: VM exits: io %llu, mmio %llu, hlt %llu, intr %llu, shutdown %llu, system-event %llu, other %llu\n",
            (unsigned long long)s->exits_io, (unsigned long long)s->exits_mmio, (unsigned long long)s->exits_hlt,
            (unsigned long long)s->exits_intr, (unsigned long long)s->exits_shutdown,
            (unsigned long long)s->exits_system_event, (unsigned long long)s->exits_other);
    fprintf(stderr, "pvhboot: kernel loaded at %#llx; serial bytes %llu\n", (unsigned long long)s->kernel_load,
            (unsigned long long)s->serial_bytes);
    for (size_t i = 0; i < s->nunhandled; i++)
        fprintf(stderr, "pvhboot: unhandled %s %#llx: %llu reads, %llu writes\n", s->unhandled[i].mmio ? "mmio" : "port",
                (unsigned long long)s->unhandled[i].addr, (unsigned long long)s->unhandled[i].reads,
                (unsigned long long)s->unhandled[i].writes);
    if (s->unhandled_other)
        fprintf(stderr, "pvhboot: unhandled elsewhere: %llu accesses\n", (unsigned long long)s->unhandled_other);
    print_memory(s);
}

/* --dry-run's report, on stdout: where things went. */
static void print_dry_run(const struct pvh_vm_config *cfg, const struct pvh_vm_result *r)
{
    const struct pvh_vm_stats *s = &r->stats;
    printf("dry run (no KVM): %llu MiB of guest RAM, %u vCPU%s\n", (unsigned long long)(cfg->ram_size >> 20),
           cfg->ncpus, cfg->ncpus == 1 ? "" : "s");
    printf("kernel loaded at %#llx, entry %#llx, %%ebx %#llx\n", (unsigned long long)s->kernel_load,
           (unsigned long long)s->entry, (unsigned long long)s->boot_info);
    printf("kernel and modules: %llu bytes mapped from their files, %llu bytes copied\n",
           (unsigned long long)s->bytes_mapped, (unsigned long long)s->bytes_copied);
    if (cfg->verbose) {
        print_load_stats(s);
        print_memory(s);
    }
}

static int exit_status(const struct pvh_vm_config *cfg, const struct pvh_vm_result *r, const struct pvh_error *err)
{
    switch (r->end) {
    case PVH_END_DEBUG_EXIT:
        return r->status;
    case PVH_END_POWEROFF:
    case PVH_END_RESET:
        return 0;
    case PVH_END_TIMEOUT:
        fprintf(stderr, "pvhboot: timeout: the guest was still running after %u s\n", cfg->timeout_s);
        return PVH_EXIT_TIMEOUT;
    case PVH_END_DRY_RUN:
        return 0;
    default:
        fprintf(stderr, "pvhboot: %s\n", err->msg);
        return PVH_EXIT_VMM_ERROR;
    }
}

int cmd_run(int argc, char **argv)
{
    struct run_args a = {.cfg = {.ram_size = DEFAULT_MEM, .ncpus = 1, .serial = PVH_SERIAL_STDIO, .sandbox = true,
                                 .start_ns = process_start_ns}};
    a.cfg.seed = process_start_ns ^ (uint64_t)clock();
    int rc = parse_args(&a, argc, argv);
    if (rc)
        return rc < 0 ? 0 : rc;
    if (!a.cfg.cmdline)
        a.cfg.cmdline = DEFAULT_CMDLINE;
    char elf_path[PATH_MAX];
    if ((rc = resolve_kernel(&a.cfg, elf_path, sizeof(elf_path))) != 0)
        return rc;
    struct pvh_error err = {0};
    struct pvh_vm_result res;
    if (pvh_vm_run(&a.cfg, &res, &err) != 0)
        return cli_report(&err);
    fflush(stdout);
    if (res.end == PVH_END_DRY_RUN)
        print_dry_run(&a.cfg, &res);
    else if (a.cfg.verbose)
        print_stats(&res);
    return exit_status(&a.cfg, &res, &err);
}
