/* `pvhboot run`'s options: one table row per option (our spelling, QEMU's
 * where it maps cleanly, whether it takes a value, its handler), the
 * number and size parsers (digits first: no sign, no white space), the
 * module and drive specifications, and the usage text. */
#include "run_options.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>

#include "cli.h"
#include "pvhboot/sandbox.h"

#define MAX_DRIVE_ID 20 /* virtio-blk's serial: 20 bytes */

void run_usage(FILE *f)
{
    fprintf(f,
            "usage: pvhboot run KERNEL [options]\n"
            "  KERNEL                 a PVH ELF (vmlinux), a Multiboot 1 kernel (ELF or a.out kludge),\n"
            "                         or a bzImage whose payload is a PVH ELF\n"
            "  --initrd FILE          module 0, the initrd            (QEMU: -initrd)\n"
            "  --module FILE[,cmdline=STR]  a further module, with its own command line\n"
            "  --cmdline STR          kernel command line (default \"console=ttyS0\")  (QEMU: -append)\n"
            "  --mem SIZE             guest RAM, K/M/G/T suffix, plain number = MiB (default 512M)  (-m)\n"
            "  --cpus N               vCPUs (default 1)                                 (-smp)\n"
            "  --drive FILE[,ro][,id=NAME][,cache=writeback|none]   a virtio-blk disk; /dev/vda is the first\n"
            "                         (QEMU: -drive file=FILE,if=virtio[,readonly=on][,id=NAME][,cache=MODE])\n"
            "  --rng, --no-rng        virtio-rng (default: on when the machine has another virtio device)\n"
            "  --console serial|virtio  where stdin/stdout go: COM1 (default) or virtio-console (hvc0)\n"
            "  --serial stdio|file:PATH|none   where COM1 goes (default stdio; Ctrl-A x quits)\n"
            "  --debugcon stdio|file:PATH|none  the debug console on port 0xe9 (default none: no device)  (-debugcon)\n"
            "  --timeout SEC          end the VM after SEC seconds, exit status 124\n"
            "  --kaslr [--seed N]     random physical load address (kernel needs XEN_ELFNOTE_PHYS32_RELOC)\n"
            "  --user NAME|UID[:GID]  drop root privileges after setup\n"
            "  --no-sandbox           run without the seccomp allow-list\n"
            "  --load map|copy        kernel and modules mapped from their files (default) or copied\n"
            "  --dry-run              set up guest RAM without KVM, print the layout, exit 0\n"
            "  --verbose              timings, VM exits, device counters and unhandled accesses at the end\n"
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

/* strtoull() and strtoul() skip leading white space and take a sign, "-1"
 * being ULLONG_MAX: a number from the user must begin with a digit. */
static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* SIZE: digits with an optional K, M, G or T suffix (binary); plain = MiB. */
static int parse_size(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    if (!is_digit(s[0]))
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || errno)
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
    if (!is_digit(s[0]))
        return -1;
    unsigned long v = strtoul(s, &end, 10);
    if (end == s || *end || errno || v > max)
        return -1;
    *out = v;
    return 0;
}

static int check_mem(uint64_t mem, const char *arg)
{
    if (mem < PVH_MIN_RAM || mem > PVH_MAX_RAM)
        return bad("--mem %s: guest RAM must be between 2M and 1T", arg);
    struct sysinfo si;
    if (sysinfo(&si) == 0) {
        uint64_t host = ((uint64_t)si.totalram + si.totalswap) * si.mem_unit;
        if (mem > host)
            return bad("--mem %s: more than this host's memory (%llu MiB of RAM and swap)", arg,
                       (unsigned long long)(host >> 20));
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

/* ---- drives ---------------------------------------------------------------- */

static int check_drive_id(const char *opt, const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > MAX_DRIVE_ID)
        return bad("%s: id=%s: 1 to %d characters (the guest reads it as the disk's serial)", opt, id,
                   MAX_DRIVE_ID);
    for (size_t i = 0; i < n; i++)
        if (id[i] < 0x21 || id[i] > 0x7e)
            return bad("%s: id=%s: printable characters without spaces only", opt, id);
    return 0;
}

static int parse_cache(const char *opt, const char *v, enum pvh_cache_mode *mode)
{
    if (!strcmp(v, "writeback"))
        *mode = PVH_CACHE_WRITEBACK;
    else if (!strcmp(v, "none"))
        *mode = PVH_CACHE_NONE;
    else
        return bad("%s: cache=%s: expected writeback (the page cache) or none (O_DIRECT)", opt, v);
    return 0;
}

static int parse_on_off(const char *opt, const char *key, const char *v, bool *out)
{
    if (!strcmp(v, "on") || !strcmp(v, "true") || !strcmp(v, "yes"))
        *out = true;
    else if (!strcmp(v, "off") || !strcmp(v, "false") || !strcmp(v, "no"))
        *out = false;
    else
        return bad("%s: %s=%s: expected on or off", opt, key, v);
    return 0;
}

static int add_drive(struct run_args *a, const char *opt, const struct pvh_vm_drive *d)
{
    struct pvh_vm_config *cfg = &a->cfg;
    if (cfg->ndrives == PVH_MAX_DRIVES)
        return bad("%s %s: at most %d drives", opt, d->path, PVH_MAX_DRIVES);
    cfg->drives[cfg->ndrives++] = *d;
    return 0;
}

/* One "key=value" (or bare "key") of a drive specification: ro, readonly,
 * id, cache, and QEMU's file, if, format, media, discard. */
static int drive_key(const char *opt, char *tok, struct pvh_vm_drive *d, const char **iface)
{
    char *eq = strchr(tok, '=');
    const char *v = eq ? eq + 1 : NULL;
    if (eq)
        *eq = '\0';
    if (!strcmp(tok, "ro") && !v)
        return d->read_only = true, 0;
    if (!strcmp(tok, "readonly"))
        return v ? parse_on_off(opt, tok, v, &d->read_only) : (d->read_only = true, 0);
    if (!v)
        return bad("%s: '%s': expected ro or key=value", opt, tok);
    if (!strcmp(tok, "id"))
        return d->id = v, check_drive_id(opt, v);
    if (!strcmp(tok, "cache"))
        return parse_cache(opt, v, &d->cache);
    if (!strcmp(tok, "file"))
        return d->path = v, 0;
    if (!strcmp(tok, "if"))
        return *iface = v, 0;
    if (!strcmp(tok, "format"))
        return strcmp(v, "raw") ? bad("%s: format=%s: pvhboot reads raw images only (qemu-img convert -O raw)",
                                      opt, v) : 0;
    if (!strcmp(tok, "media"))
        return strcmp(v, "disk") ? bad("%s: media=%s: only disks", opt, v) : 0;
    if (!strcmp(tok, "discard"))
        return 0; /* discard always reaches the file (hole punching) */
    return bad("%s: '%s=%s' is not supported (pvhboot: --drive FILE[,ro][,id=NAME][,cache=writeback|none])", opt,
               tok, v);
}

/* ours: FILE[,ro][,id=NAME][,cache=MODE] */
static int opt_drive(struct run_args *a, const char *opt, char *v)
{
    struct pvh_vm_drive d = {.path = v};
    const char *iface = NULL;
    if (v[0] == '\0' || v[0] == ',')
        return bad("%s: expected FILE[,ro][,id=NAME][,cache=writeback|none]", opt);
    char *save, *tok = strtok_r(v, ",", &save);
    while ((tok = strtok_r(NULL, ",", &save)))
        if (drive_key(opt, tok, &d, &iface))
            return PVH_EXIT_BAD_INPUT;
    if (iface)
        return bad("%s: 'if=' belongs to QEMU's -drive spelling", opt);
    return add_drive(a, opt, &d);
}

/* QEMU's: file=FILE,if=virtio[,...]; or if=none,id=ID claimed by a later
 * -device virtio-blk-device,drive=ID. */
static int opt_qemu_drive(struct run_args *a, const char *opt, char *v)
{
    struct pvh_vm_drive d = {0};
    const char *iface = NULL;
    char *save;
    for (char *tok = strtok_r(v, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
        if (drive_key(opt, tok, &d, &iface))
            return PVH_EXIT_BAD_INPUT;
    if (!d.path)
        return bad("%s: file=FILE is missing", opt);
    if (!iface || !strcmp(iface, "virtio"))
        return iface ? add_drive(a, opt, &d)
                     : bad("%s file=%s: add if=virtio (pvhboot's disks are virtio-blk)", opt, d.path);
    if (strcmp(iface, "none"))
        return bad("%s: if=%s: pvhboot's disks are virtio (if=virtio)", opt, iface);
    if (!d.id)
        return bad("%s file=%s,if=none: give it an id= for -device virtio-blk-device,drive=ID", opt, d.path);
    if (a->npending == PVH_MAX_DRIVES)
        return bad("%s: at most %d drives", opt, PVH_MAX_DRIVES);
    a->pending[a->npending++] = (struct pending_drive){d, d.id, false};
    return 0;
}

static int claim_pending_drive(struct run_args *a, const char *opt, const char *id)
{
    for (size_t i = 0; i < a->npending; i++) {
        if (strcmp(a->pending[i].id, id) || a->pending[i].claimed)
            continue;
        a->pending[i].claimed = true;
        return add_drive(a, opt, &a->pending[i].drive);
    }
    return bad("%s: drive=%s: no -drive ...,if=none,id=%s before it", opt, id, id);
}

/* QEMU's -device, for the devices pvhboot has. */
static int opt_qemu_device(struct run_args *a, const char *opt, char *v)
{
    char *save, *model = strtok_r(v, ",", &save);
    if (!model)
        return bad("%s: expected a device model", opt);
    if (!strcmp(model, "virtio-rng-device") || !strcmp(model, "virtio-rng-pci"))
        return a->cfg.rng = PVH_RNG_ON, 0;
    if (strcmp(model, "virtio-blk-device") && strcmp(model, "virtio-blk-pci"))
        return bad("%s %s: not a device pvhboot has (it has virtio-blk-device, virtio-rng-device)", opt, model);
    for (char *tok = strtok_r(NULL, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
        if (!strncmp(tok, "drive=", 6))
            return claim_pending_drive(a, opt, tok + 6);
    return bad("%s %s: drive=ID is missing", opt, model);
}

/* ---- the other options ------------------------------------------------------ */

static int opt_verbose(struct run_args *a, const char *o, char *v) { (void)o, (void)v; return a->cfg.verbose = true, 0; }
static int opt_kaslr(struct run_args *a, const char *o, char *v) { (void)o, (void)v; return a->cfg.kaslr = true, 0; }
static int opt_no_sandbox(struct run_args *a, const char *o, char *v) { (void)o, (void)v; return a->cfg.sandbox = false, 0; }
static int opt_dry_run(struct run_args *a, const char *o, char *v) { (void)o, (void)v; return a->cfg.dry_run = true, 0; }
static int opt_rng(struct run_args *a, const char *o, char *v) { (void)o, (void)v; return a->cfg.rng = PVH_RNG_ON, 0; }
static int opt_no_rng(struct run_args *a, const char *o, char *v) { (void)o, (void)v; return a->cfg.rng = PVH_RNG_OFF, 0; }
static int opt_initrd(struct run_args *a, const char *o, char *v) { (void)o; return a->initrd = v, 0; }
static int opt_cmdline(struct run_args *a, const char *o, char *v) { (void)o; return a->cfg.cmdline = v, 0; }
static int opt_kvm_device(struct run_args *a, const char *o, char *v) { (void)o; return a->cfg.kvm_device = v, 0; }

static int opt_module(struct run_args *a, const char *o, char *v)
{
    (void)o;
    if (a->nextra == PVH_MAX_MODULES - 1)
        return bad("--module %s: at most 15 besides the initrd", v);
    a->extra[a->nextra++] = v;
    return 0;
}

static int opt_mem(struct run_args *a, const char *o, char *v)
{
    (void)o;
    if (parse_size(v, &a->cfg.ram_size))
        return bad("--mem %s: expected a size such as 512M or 2G", v);
    return check_mem(a->cfg.ram_size, v);
}

static int opt_cpus(struct run_args *a, const char *o, char *v)
{
    (void)o;
    unsigned long n;
    const char *cpus = !strncmp(v, "cpus=", 5) ? v + 5 : v; /* QEMU's -smp cpus=N */
    if (parse_uint(cpus, PVH_MAX_CPUS, &n) || n == 0)
        return bad("--cpus %s: expected a number from 1 to 255", v);
    a->cfg.ncpus = (unsigned)n;
    return 0;
}

static int opt_serial(struct run_args *a, const char *o, char *v)
{
    (void)o;
    struct pvh_vm_config *cfg = &a->cfg;
    if (!strcmp(v, "stdio"))
        cfg->serial = PVH_SERIAL_STDIO;
    else if (!strcmp(v, "none"))
        cfg->serial = PVH_SERIAL_NONE;
    else if (!strncmp(v, "file:", 5) && v[5])
        cfg->serial = PVH_SERIAL_FILE, cfg->serial_path = v + 5;
    else
        return bad("--serial %s: expected stdio, file:PATH or none", v);
    return 0;
}

/* QEMU's -debugcon takes a character device; these are the ones that map. */
static int opt_debugcon(struct run_args *a, const char *o, char *v)
{
    struct pvh_vm_config *cfg = &a->cfg;
    if (!strcmp(v, "stdio"))
        cfg->debugcon = PVH_DEBUGCON_STDIO;
    else if (!strcmp(v, "none") || !strcmp(v, "null"))
        cfg->debugcon = PVH_DEBUGCON_NONE;
    else if (!strncmp(v, "file:", 5) && v[5])
        cfg->debugcon = PVH_DEBUGCON_FILE, cfg->debugcon_path = v + 5;
    else
        return bad("%s %s: expected stdio, file:PATH or none", o, v);
    return 0;
}

static int opt_console(struct run_args *a, const char *o, char *v)
{
    (void)o;
    if (!strcmp(v, "serial"))
        a->cfg.console = PVH_CONSOLE_SERIAL;
    else if (!strcmp(v, "virtio"))
        a->cfg.console = PVH_CONSOLE_VIRTIO;
    else
        return bad("--console %s: expected serial (COM1) or virtio (hvc0)", v);
    return 0;
}

static int opt_timeout(struct run_args *a, const char *o, char *v)
{
    (void)o;
    unsigned long n;
    if (parse_uint(v, 86400 * 365, &n) || n == 0)
        return bad("--timeout %s: expected seconds (1 or more)", v);
    a->cfg.timeout_s = (unsigned)n;
    return 0;
}

static int opt_seed(struct run_args *a, const char *o, char *v)
{
    (void)o;
    unsigned long n;
    if (parse_uint(v, ULONG_MAX, &n))
        return bad("--seed %s: expected a number", v);
    a->cfg.seed = n;
    return 0;
}

static int opt_user(struct run_args *a, const char *o, char *v)
{
    (void)o;
    struct pvh_error err;
    uid_t uid;
    gid_t gid;
    if (pvh_user_lookup(v, &uid, &gid, &err))
        return cli_report(&err);
    a->cfg.drop_user = true, a->cfg.uid = uid, a->cfg.gid = gid;
    return 0;
}

static int opt_load(struct run_args *a, const char *o, char *v)
{
    (void)o;
    if (!strcmp(v, "map") || !strcmp(v, "copy"))
        return a->cfg.load = v[0] == 'm' ? PVH_LOAD_MAP : PVH_LOAD_COPY, 0;
    return bad("--load %s: expected map or copy", v);
}

static int opt_kernel(struct run_args *a, const char *o, char *v)
{
    (void)o;
    if (a->cfg.kernel)
        return bad("-kernel %s: a kernel was already given", v);
    a->cfg.kernel = v;
    return 0;
}

struct run_option {
    const char *name, *alias; /* ours, and QEMU's (or another) spelling */
    bool takes_value;
    int (*handle)(struct run_args *a, const char *opt, char *value);
};

static const struct run_option options[] = {
    {"--verbose", "-v", false, opt_verbose},
    {"--kaslr", NULL, false, opt_kaslr},
    {"--no-sandbox", NULL, false, opt_no_sandbox},
    {"--dry-run", NULL, false, opt_dry_run},
    {"--rng", NULL, false, opt_rng},
    {"--no-rng", NULL, false, opt_no_rng},
    {"--initrd", "-initrd", true, opt_initrd},
    {"--module", NULL, true, opt_module},
    {"--cmdline", "-append", true, opt_cmdline},
    {"--mem", "-m", true, opt_mem},
    {"--cpus", "-smp", true, opt_cpus},
    {"--drive", NULL, true, opt_drive},
    {"-drive", NULL, true, opt_qemu_drive},
    {"-device", NULL, true, opt_qemu_device},
    {"--console", NULL, true, opt_console},
    {"--serial", NULL, true, opt_serial},
    {"--debugcon", "-debugcon", true, opt_debugcon},
    {"--timeout", NULL, true, opt_timeout},
    {"--seed", NULL, true, opt_seed},
    {"--user", NULL, true, opt_user},
    {"--kvm-device", NULL, true, opt_kvm_device},
    {"--load", NULL, true, opt_load},
    {"-kernel", NULL, true, opt_kernel},
};

/* The spelling of o that arg uses ("--mem" or "-m"), with the value inline
 * after '=' or not: NULL when arg is not this option. */
static const char *spelled(const struct run_option *o, const char *arg, char **inline_value)
{
    const char *names[2] = {o->name, o->alias};
    for (int k = 0; k < 2; k++) {
        size_t n = names[k] ? strlen(names[k]) : 0;
        if (!n || strncmp(arg, names[k], n))
            continue;
        if (arg[n] == '\0')
            return *inline_value = NULL, names[k];
        if (arg[n] == '=' && o->takes_value)
            return *inline_value = (char *)arg + n + 1, names[k];
    }
    return NULL;
}

static int parse_option(struct run_args *a, int argc, char **argv, int *i)
{
    for (size_t k = 0; k < sizeof(options) / sizeof(options[0]); k++) {
        char *value;
        const char *name = spelled(&options[k], argv[*i], &value);
        if (!name)
            continue;
        if (options[k].takes_value && !value) {
            if (*i + 1 >= argc)
                return bad("%s: missing value", name);
            value = argv[++*i];
        }
        return options[k].handle(a, name, value);
    }
    return bad("unknown option '%s' (see pvhboot run --help)", argv[*i]);
}

static int finish_modules(struct run_args *a)
{
    if (a->initrd)
        a->cfg.modules[a->cfg.nmodules++] = (struct pvh_vm_module){a->initrd, NULL};
    else if (a->nextra)
        return bad("%s", "--module needs --initrd first: module 0 is the initrd");
    for (size_t k = 0; k < a->nextra; k++)
        if (add_module(&a->cfg, a->extra[k]))
            return PVH_EXIT_BAD_INPUT;
    return 0;
}

static int finish_drives(struct run_args *a)
{
    for (size_t i = 0; i < a->npending; i++)
        if (!a->pending[i].claimed)
            return bad("-drive file=%s,if=none,id=%s: no -device virtio-blk-device,drive=%s uses it",
                       a->pending[i].drive.path, a->pending[i].id, a->pending[i].id);
    return 0;
}

int run_parse_args(struct run_args *a, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            run_usage(stdout);
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
        run_usage(stderr);
        return PVH_EXIT_BAD_INPUT;
    }
    int rc = finish_modules(a);
    return rc ? rc : finish_drives(a);
}
