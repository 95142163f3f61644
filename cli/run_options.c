/* `pvhboot run`'s options: one table row per option (our spelling, QEMU's
 * where it maps cleanly, whether it takes a value, its handler), the
 * number and size parsers (digits first: no sign, no white space), the
 * module, drive and NIC specifications, and the usage text. */
#include "run_options.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>

#include "api_host.h"
#include "cli.h"
#include "pvhboot/sandbox.h"

#define MAX_DRIVE_ID 20 /* virtio-blk's serial: 20 bytes */
#define MIN_MTU 68      /* virtio-net's smallest (virtio 1.2, 5.1.4.1) */
#define MAX_MTU 65535

#define bad(...) cli_bad_input("run", __VA_ARGS__)

/* strtoull() and strtoul() skip leading white space and take a sign, "-1"
 * being ULLONG_MAX: a number from the user must begin with a digit. */
static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* SIZE: digits, an optional fraction (".5"), an optional K, M, G or T
 * suffix (binary; plain = MiB, as QEMU's -m) and an optional "B" or "iB",
 * rounded up to a whole 4 KiB page (KVM maps RAM in pages; QEMU rounds too). */
static int parse_size(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    if (!is_digit(s[0]))
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || errno)
        return -1;
    uint64_t frac = 0, fives = 1; /* the fraction is frac / 10^decimals */
    unsigned decimals = 0;
    if (*end == '.') {
        end++;
        if (!is_digit(*end))
            return -1;
        for (; is_digit(*end); end++, decimals++) {
            if (decimals == 9)
                return -1;
            frac = frac * 10 + (uint64_t)(*end - '0');
            fives *= 5;
        }
    }
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
    if (*end || v > (UINT64_MAX >> shift) - 2)
        return -1;
    /* frac / 10^d << shift = (frac << (shift - d)) / 5^d, below 2^61 since frac < 10^d */
    uint64_t part = ((frac << (shift - decimals)) + fives - 1) / fives;
    uint64_t bytes = ((uint64_t)v << shift) + part;
    *out = (bytes + PVH_PAGE_SIZE - 1) & ~(PVH_PAGE_SIZE - 1);
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

/* Splits "key=value" in place; NULL when there is no '='. */
static const char *key_value(char *tok)
{
    char *eq = strchr(tok, '=');
    if (!eq)
        return NULL;
    *eq = '\0';
    return eq + 1;
}

/* One "key=value" (or bare "key") of a drive specification: ro, readonly,
 * id, cache, and QEMU's file, if, format, media, discard. */
static int drive_key(const char *opt, char *tok, struct pvh_vm_drive *d, const char **iface)
{
    const char *v = key_value(tok);
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

static int qemu_net_device(struct run_args *a, const char *opt, const char *model, char **save);

/* QEMU's -device, for the devices pvhboot has. */
static int opt_qemu_device(struct run_args *a, const char *opt, char *v)
{
    char *save, *model = strtok_r(v, ",", &save);
    if (!model)
        return bad("%s: expected a device model", opt);
    if (!strcmp(model, "virtio-rng-device") || !strcmp(model, "virtio-rng-pci"))
        return a->cfg.rng = PVH_RNG_ON, 0;
    if (!strcmp(model, "virtio-net-device") || !strcmp(model, "virtio-net-pci"))
        return qemu_net_device(a, opt, model, &save);
    if (!strncmp(model, "vhost-vsock", 11) || !strncmp(model, "vhost-user-vsock", 16))
        return bad("%s %s: pvhboot serves vsock itself, Firecracker's way: --vsock cid=N,uds=PATH", opt, model);
    if (strcmp(model, "virtio-blk-device") && strcmp(model, "virtio-blk-pci"))
        return bad("%s %s: not a device pvhboot has (it has virtio-blk-device, virtio-net-device, virtio-rng-device)",
                   opt, model);
    for (char *tok = strtok_r(NULL, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
        if (!strncmp(tok, "drive=", 6))
            return claim_pending_drive(a, opt, tok + 6);
    return bad("%s %s: drive=ID is missing", opt, model);
}

/* ---- NICs ------------------------------------------------------------------ */

static int check_tap_name(const char *opt, const char *name)
{
    switch (pvh_tap_name_check(name)) {
    case PVH_TAP_NAME_BAD_LENGTH:
        return bad("%s: tap name '%s': 1 to %d characters", opt, name, PVH_TAP_NAME_MAX);
    case PVH_TAP_NAME_BAD_CHAR:
        return bad("%s: tap name '%s': printable characters other than / : %% and spaces only", opt, name);
    default:
        return 0;
    }
}

/* Six pairs of hex digits separated by ':' (or '-'); a unicast address, not zero. */
static int parse_mac(const char *opt, const char *v, uint8_t mac[6])
{
    switch (pvh_mac_parse(v, ":-", mac)) {
    case PVH_MAC_MALFORMED:
        return bad("%s: mac=%s: expected six hex pairs such as 02:00:00:00:00:01", opt, v);
    case PVH_MAC_MULTICAST:
        return bad("%s: mac=%s: a multicast address (its first byte is odd); a NIC needs a unicast one", opt, v);
    case PVH_MAC_ZERO:
        return bad("%s: mac=%s: not an address a NIC may have", opt, v);
    default:
        return 0;
    }
}

static int parse_mtu(const char *opt, const char *key, const char *v, unsigned *mtu)
{
    unsigned long n;
    if (parse_uint(v, MAX_MTU, &n) || n < MIN_MTU)
        return bad("%s: %s=%s: an MTU from %d to %d", opt, key, v, MIN_MTU, MAX_MTU);
    *mtu = (unsigned)n;
    return 0;
}

static int add_net(struct run_args *a, const char *opt, const struct pvh_vm_net *n)
{
    struct pvh_vm_config *cfg = &a->cfg;
    if (cfg->nnets == PVH_MAX_NETS)
        return bad("%s tap=%s: at most %d NICs", opt, n->tap, PVH_MAX_NETS);
    for (size_t i = 0; i < cfg->nnets; i++)
        if (!strcmp(cfg->nets[i].tap, n->tap))
            return bad("%s tap=%s: that TAP is this VM's already (one NIC per TAP)", opt, n->tap);
    cfg->nets[cfg->nnets++] = *n;
    return 0;
}

/* The keys a NIC takes in any spelling: mac=, and mtu= (QEMU's host_mtu=). */
static int nic_key(const char *opt, const char *key, const char *v, struct pvh_vm_net *n)
{
    if (!strcmp(key, "mac"))
        return n->has_mac = true, parse_mac(opt, v, n->mac);
    if (!strcmp(key, "mtu") || !strcmp(key, "host_mtu"))
        return parse_mtu(opt, key, v, &n->mtu);
    return -1;
}

/* ours: tap=NAME[,mac=MAC][,mtu=N] */
static int opt_net(struct run_args *a, const char *opt, char *v)
{
    struct pvh_vm_net n = {0};
    char *save;
    for (char *tok = strtok_r(v, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        const char *val = key_value(tok);
        int rc = val ? nic_key(opt, tok, val, &n) : -1;
        if (rc > 0)
            return rc;
        if (rc == 0)
            continue;
        if (!val || strcmp(tok, "tap"))
            return bad("%s: '%s%s%s' is not supported (pvhboot: --net tap=NAME[,mac=MAC][,mtu=N])", opt, tok,
                       val ? "=" : "", val ? val : "");
        if (check_tap_name(opt, val))
            return PVH_EXIT_BAD_INPUT;
        n.tap = val;
    }
    if (!n.tap)
        return bad("%s: tap=NAME is missing (pvhboot's NICs are host TAP devices: --net tap=NAME[,mac=MAC][,mtu=N])",
                   opt);
    return add_net(a, opt, &n);
}

/* QEMU's tap options that pvhboot can honour: ifname=, script=no and
 * downscript=no (pvhboot runs no scripts), vhost=off, queues=1. 0 when
 * taken, else the exit status after one line. */
static int tap_key(const char *opt, const char *key, const char *v, struct pvh_vm_net *n)
{
    if (!strcmp(key, "ifname"))
        return check_tap_name(opt, v) ? PVH_EXIT_BAD_INPUT : (n->tap = v, 0);
    if (!strcmp(key, "script") || !strcmp(key, "downscript"))
        return strcmp(v, "no") && *v ? bad("%s: %s=%s: pvhboot runs no scripts; set the TAP up beforehand (ip addr, "
                                           "ip link set NAME up) and give %s=no", opt, key, v, key) : 0;
    if (!strcmp(key, "vhost"))
        return strcmp(v, "off") ? bad("%s: vhost=%s: pvhboot has no vhost-net; its virtio-net runs in the VMM (vhost=off)",
                                      opt, v) : 0;
    if (!strcmp(key, "queues"))
        return strcmp(v, "1") ? bad("%s: queues=%s: pvhboot's NICs have one queue pair", opt, v) : 0;
    return bad("%s: '%s=%s' is not supported (pvhboot: -netdev tap,id=ID,ifname=NAME, or --net tap=NAME)", opt, key, v);
}

/* QEMU's -netdev tap,id=ID,ifname=NAME[,...], claimed by a later
 * -device virtio-net-device,netdev=ID. */
static int opt_qemu_netdev(struct run_args *a, const char *opt, char *v)
{
    char *save, *type = strtok_r(v, ",", &save);
    if (!type || strcmp(type, "tap"))
        return bad("%s %s: pvhboot's NICs are host TAP devices: -netdev tap,id=ID,ifname=NAME with -device "
                   "virtio-net-device,netdev=ID, or --net tap=NAME", opt, type ? type : "");
    struct pending_net p = {0};
    for (char *tok = strtok_r(NULL, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        const char *val = key_value(tok);
        if (!val)
            return bad("%s: '%s': expected key=value", opt, tok);
        int rc = !strcmp(tok, "id") ? (p.id = val, 0) : tap_key(opt, tok, val, &p.net);
        if (rc)
            return rc;
    }
    if (!p.id || !*p.id)
        return bad("%s tap: id=ID is missing (for -device virtio-net-device,netdev=ID)", opt);
    if (!p.net.tap)
        return bad("%s tap,id=%s: ifname=NAME is missing (pvhboot opens the TAP by its name)", opt, p.id);
    for (size_t i = 0; i < a->npending_nets; i++)
        if (!strcmp(a->pending_nets[i].id, p.id))
            return bad("%s: id=%s is given twice", opt, p.id);
    if (a->npending_nets == PVH_MAX_NETS)
        return bad("%s: at most %d NICs", opt, PVH_MAX_NETS);
    a->pending_nets[a->npending_nets++] = p;
    return 0;
}

/* -device virtio-net-device,netdev=ID[,mac=MAC][,host_mtu=N][,id=NAME] */
static int qemu_net_device(struct run_args *a, const char *opt, const char *model, char **save)
{
    struct pvh_vm_net extra = {0};
    const char *netdev = NULL;
    for (char *tok = strtok_r(NULL, ",", save); tok; tok = strtok_r(NULL, ",", save)) {
        const char *val = key_value(tok);
        int rc = val ? nic_key(opt, tok, val, &extra) : -1;
        if (rc > 0)
            return rc;
        if (rc == 0 || (val && !strcmp(tok, "id")))
            continue;
        if (!val || strcmp(tok, "netdev"))
            return bad("%s %s: '%s%s%s' is not supported (netdev=ID, mac=MAC, host_mtu=N)", opt, model, tok,
                       val ? "=" : "", val ? val : "");
        netdev = val;
    }
    if (!netdev)
        return bad("%s %s: netdev=ID is missing", opt, model);
    for (size_t i = 0; i < a->npending_nets; i++) {
        struct pending_net *p = &a->pending_nets[i];
        if (strcmp(p->id, netdev) || p->claimed)
            continue;
        p->claimed = true;
        struct pvh_vm_net n = p->net;
        if (extra.has_mac)
            n.has_mac = true, memcpy(n.mac, extra.mac, 6);
        if (extra.mtu)
            n.mtu = extra.mtu;
        return add_net(a, opt, &n);
    }
    return bad("%s %s: netdev=%s: no -netdev tap,id=%s before it", opt, model, netdev, netdev);
}

static bool is_virtio_net_model(const char *m)
{
    return !strcmp(m, "virtio-net-device") || !strcmp(m, "virtio-net-pci") || !strcmp(m, "virtio");
}

/* QEMU's -nic tap,ifname=NAME[,model=virtio-net-device][,mac=MAC][,script=no,...]. */
static int opt_qemu_nic(struct run_args *a, const char *opt, char *v)
{
    char *save, *type = strtok_r(v, ",", &save);
    if (!type || strcmp(type, "tap"))
        return bad("%s %s: pvhboot's NICs are host TAP devices: -nic tap,ifname=NAME, or --net tap=NAME", opt,
                   type ? type : "");
    struct pvh_vm_net n = {0};
    for (char *tok = strtok_r(NULL, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        const char *val = key_value(tok);
        if (!val)
            return bad("%s: '%s': expected key=value", opt, tok);
        if (!strcmp(tok, "model")) {
            if (!is_virtio_net_model(val))
                return bad("%s: model=%s: pvhboot's NICs are virtio-net (model=virtio-net-device)", opt, val);
            continue;
        }
        int rc = !strcmp(tok, "id") ? 0 : nic_key(opt, tok, val, &n);
        if (rc < 0)
            rc = tap_key(opt, tok, val, &n);
        if (rc)
            return rc;
    }
    if (!n.tap)
        return bad("%s tap: ifname=NAME is missing (pvhboot opens the TAP by its name)", opt);
    return add_net(a, opt, &n);
}

/* ---- vsock ------------------------------------------------------------------- */

/* cid=N,uds=PATH (Firecracker's guest_cid and uds_path spell too). */
static int vsock_key(const char *opt, char *tok, struct pvh_vm_vsock *vs)
{
    const char *v = key_value(tok);
    if (!v)
        return bad("%s: '%s': expected cid=N or uds=PATH", opt, tok);
    if (!strcmp(tok, "cid") || !strcmp(tok, "guest-cid") || !strcmp(tok, "guest_cid")) {
        unsigned long cid;
        if (parse_uint(v, 0xfffffffeul, &cid) || cid < 3)
            return bad("%s: cid=%s: expected 3 to 4294967294 (0-2 are reserved; 2 is the host)", opt, v);
        vs->cid = cid;
        return 0;
    }
    if (!strcmp(tok, "uds") || !strcmp(tok, "uds_path") || !strcmp(tok, "uds-path"))
        return *v ? (vs->uds_path = v, 0) : bad("%s: uds=: expected the path of the host's UNIX socket", opt);
    return bad("%s: '%s=%s' is not supported (pvhboot: --vsock cid=N,uds=PATH)", opt, tok, v);
}

static int opt_vsock(struct run_args *a, const char *opt, char *v)
{
    struct pvh_vm_vsock vs = {0};
    if (a->cfg.vsock.uds_path)
        return bad("%s: one vsock device only (it serves every port)", opt);
    char *save;
    for (char *tok = strtok_r(v, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
        if (vsock_key(opt, tok, &vs))
            return PVH_EXIT_BAD_INPUT;
    if (!vs.cid || !vs.uds_path)
        return bad("%s: expected cid=N,uds=PATH (the guest's CID, 3 or more, and the host's UNIX socket)", opt);
    a->cfg.vsock = vs;
    return 0;
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
static int opt_snapshot_file(struct run_args *a, const char *o, char *v) { (void)o; return a->cfg.snapshot_file = v, 0; }
static int opt_mem_file(struct run_args *a, const char *o, char *v) { (void)o; return a->cfg.snapshot_mem_file = v, 0; }
static int opt_snapshot_on_port(struct run_args *a, const char *o, char *v) { (void)o, (void)v; return a->cfg.snapshot_on_port = true, 0; }
static int opt_snapshot_continue(struct run_args *a, const char *o, char *v) { (void)o, (void)v; return a->cfg.snapshot_continue = true, 0; }
static int opt_snapshot_diff(struct run_args *a, const char *o, char *v) { (void)o, (void)v; return a->cfg.snapshot_diff = true, 0; }

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

/* One "key=N" of QEMU's -smp: N into *out, 0 when the key is not this one,
 * -1 when its number is bad. */
static int smp_key(const char *tok, const char *key, unsigned long *out)
{
    size_t n = strlen(key);
    if (strncmp(tok, key, n) || tok[n] != '=')
        return 0;
    return parse_uint(tok + n + 1, PVH_MAX_CPUS, out) || *out == 0 ? -1 : 1;
}

/* N, or QEMU's -smp [N][,cpus=N][,sockets=S][,dies=D][,clusters=C][,cores=C][,threads=T][,maxcpus=M]:
 * the guest sees N vCPUs whatever the topology says (the keys are accepted,
 * their product gives N when no count is given); no hotplug: maxcpus = N. */
static int opt_cpus(struct run_args *a, const char *o, char *v)
{
    static const char *const topology[] = {"sockets", "dies", "clusters", "cores", "threads"};
    const char *spec = v;
    unsigned long n = 0, maxcpus = 0, product = 1, k;
    bool have_topology = false;
    char buf[256];
    if (strlen(v) >= sizeof(buf))
        return bad("%s %.40s...: too long", o, v);
    strcpy(buf, v);
    char *save, *tok = strtok_r(buf, ",", &save);
    if (tok && is_digit(tok[0])) {
        if (parse_uint(tok, PVH_MAX_CPUS, &n) || n == 0)
            return bad("--cpus %s: expected a number from 1 to 255", spec);
        tok = strtok_r(NULL, ",", &save);
    }
    for (; tok; tok = strtok_r(NULL, ",", &save)) {
        int r = smp_key(tok, "cpus", &n);
        if (!r)
            r = smp_key(tok, "maxcpus", &maxcpus);
        for (size_t t = 0; !r && t < sizeof(topology) / sizeof(topology[0]); t++)
            if ((r = smp_key(tok, topology[t], &k)) == 1)
                product *= k, have_topology = true;
        if (r <= 0)
            return bad("--cpus %s: expected a number from 1 to 255", spec);
    }
    if (!n && have_topology)
        n = product;
    if (!n || n > PVH_MAX_CPUS)
        return bad("--cpus %s: expected a number from 1 to 255", spec);
    if (maxcpus && maxcpus != n)
        return bad("%s %s: maxcpus=%lu: pvhboot has no CPU hotplug; the guest has exactly %lu vCPUs", o, spec,
                   maxcpus, n);
    a->cfg.ncpus = (unsigned)n;
    return 0;
}

static int opt_serial(struct run_args *a, const char *o, char *v)
{
    (void)o;
    struct pvh_vm_config *cfg = &a->cfg;
    if (!strcmp(v, "stdio") || !strcmp(v, "mon:stdio"))
        cfg->serial = PVH_SERIAL_STDIO; /* Ctrl-A x quits, as with QEMU's mon:stdio */
    else if (!strcmp(v, "none") || !strcmp(v, "null"))
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
    a->seed = v;
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

/* ---- QEMU's other flags ------------------------------------------------------ */

/* Flags that change nothing in pvhboot's machine: accepted, ignored. */
static int opt_noop(struct run_args *a, const char *o, char *v) { (void)a, (void)o, (void)v; return 0; }

/* QEMU flags whose values are accepted when they describe what pvhboot
 * does anyway (one or more '|'-separated values), else refused with what
 * pvhboot has instead. */
struct qemu_value_rule {
    const char *flag, *accepted, *instead;
};

static const struct qemu_value_rule qemu_values[] = {
    {"-display", "none", "pvhboot has no display: the guest's console is COM1 on stdio (-nographic)"},
    {"-vga", "none", "pvhboot has no display: the guest's console is COM1 on stdio (-nographic)"},
    {"-monitor", "none", "pvhboot has no monitor: Ctrl-A x ends the VM"},
    {"-accel", "kvm", "pvhboot runs guests on KVM only; without KVM, --dry-run sets the guest up and stops"},
    {"-machine", "microvm|microvm,accel=kvm|accel=kvm",
     "pvhboot has one machine, like -M microvm: no PCI, no firmware, virtio on MMIO (see pvhboot(1), MACHINE)"},
    {"-cpu", "host|max", "the guest sees the host's CPU as KVM offers it (like -cpu host); there is no CPU model"},
};

static int opt_qemu_value(struct run_args *a, const char *o, char *v)
{
    (void)a;
    const char *flag = strcmp(o, "-M") ? o : "-machine";
    for (size_t i = 0; i < sizeof(qemu_values) / sizeof(qemu_values[0]); i++) {
        const struct qemu_value_rule *r = &qemu_values[i];
        if (strcmp(flag, r->flag))
            continue;
        size_t n = strlen(v);
        for (const char *p = r->accepted; p; p = strchr(p, '|') ? strchr(p, '|') + 1 : NULL)
            if (!strncmp(p, v, n) && (p[n] == '|' || p[n] == '\0'))
                return 0;
        return bad("%s %s: %s", o, v, r->instead);
    }
    return bad("%s: not a QEMU flag pvhboot knows", o);
}

/* QEMU flags pvhboot refuses, each with what to use instead. */
struct qemu_refusal {
    const char *flag;
    bool takes_value;
    const char *instead;
};

static const struct qemu_refusal qemu_refused[] = {
    {"-hda", true, "pvhboot's disks are virtio-blk: --drive FILE (the guest's /dev/vda)"},
    {"-hdb", true, "pvhboot's disks are virtio-blk: --drive FILE (the guest's /dev/vda, /dev/vdb, ...)"},
    {"-cdrom", true, "pvhboot has no CD-ROM: --drive FILE,ro"},
    {"-snapshot", false, "pvhboot writes disks in place: --drive FILE,ro for a read-only disk"},
    {"-net", true, "pvhboot's NICs are host TAP devices: --net tap=NAME, or -netdev tap,id=ID,ifname=NAME with "
                   "-device virtio-net-device,netdev=ID"},
    {"-bios", true, "pvhboot boots the kernel directly, without firmware (PVH): drop -bios"},
    {"-boot", true, "pvhboot boots the kernel directly, without firmware (PVH): drop -boot"},
    {"-daemonize", false, "run pvhboot in the background from the shell (&), with --serial file:PATH"},
    {"-chardev", true, "pvhboot's console is --serial stdio|file:PATH|none or --console virtio"},
    {"-object", true, "pvhboot's entropy source is virtio-rng: --rng"},
    {"-rtc", true, "pvhboot's machine has no RTC"},
    {"-qmp", true, "pvhboot has no QMP monitor"},
    {"-pidfile", true, "pvhboot writes no pid file; the shell's $! has its pid"},
    {"-virtfs", true, "pvhboot has no shared folders (9p, virtiofs); pass files in an initramfs or a --drive"},
    {"-fsdev", true, "pvhboot has no shared folders (9p, virtiofs); pass files in an initramfs or a --drive"},
};

static int refuse_qemu_flag(const char *arg)
{
    for (size_t i = 0; i < sizeof(qemu_refused) / sizeof(qemu_refused[0]); i++) {
        const struct qemu_refusal *r = &qemu_refused[i];
        size_t n = strlen(r->flag);
        if (!strncmp(arg, r->flag, n) && (arg[n] == '\0' || (r->takes_value && arg[n] == '=')))
            return bad("QEMU's %s is not supported: %s", r->flag, r->instead);
    }
    return 0;
}


/* ---- the gdb stub ------------------------------------------------------------- */

/* tcp:PORT, tcp::PORT, tcp:127.0.0.1:PORT, tcp:localhost:PORT (QEMU's
 * spellings; the stub listens on the loopback address only), unix:PATH. */
static int opt_gdb(struct run_args *a, const char *o, char *v)
{
    struct pvh_vm_config *cfg = &a->cfg;
    if (!strncmp(v, "unix:", 5) && v[5]) {
        cfg->gdb = PVH_GDB_UNIX, cfg->gdb_path = v + 5;
        return 0;
    }
    if (strncmp(v, "tcp:", 4))
        return bad("%s %s: expected tcp:PORT or unix:PATH", o, v);
    const char *port = v + 4, *colon = strrchr(port, ':');
    if (colon) {
        size_t host_len = (size_t)(colon - port);
        bool loopback = host_len == 0 || (host_len == 9 && !strncmp(port, "127.0.0.1", 9)) ||
                        (host_len == 9 && !strncmp(port, "localhost", 9));
        if (!loopback)
            return bad("%s %s: the gdb stub listens on 127.0.0.1 only (it gives full control of the VM); "
                       "reach it from elsewhere through an SSH tunnel", o, v);
        port = colon + 1;
    }
    unsigned long n;
    if (parse_uint(port, 65535, &n) || n == 0)
        return bad("%s %s: expected a TCP port from 1 to 65535", o, v);
    cfg->gdb = PVH_GDB_TCP, cfg->gdb_port = (uint16_t)n;
    return 0;
}

static int opt_gdb_default(struct run_args *a, const char *o, char *v)
{
    (void)v;
    char spec[] = "tcp::1234";
    return opt_gdb(a, o, spec);
}

static int opt_gdb_wait(struct run_args *a, const char *o, char *v) { (void)o, (void)v; return a->cfg.gdb_wait = true, 0; }

/* ---- --config-file: Firecracker's JSON, through the API's endpoints ---------------- */

static int opt_config_file(struct run_args *a, const char *o, char *v)
{
    if (a->config_file)
        return bad("%s %s: one config file only", o, v);
    a->config_file = v;
    return 0;
}

/* Firecracker starts from a config file with `--no-api --config-file F`;
 * run never serves the API, so the flag only asks for the config file. */
static int opt_no_api(struct run_args *a, const char *o, char *v)
{
    (void)o, (void)v;
    a->no_api = true;
    return 0;
}

static const struct pvh_api_ops config_file_ops = {
    .check_file = api_host_check_file,
    .open_output = api_host_open_output,
};

/* The file's objects go through the same endpoints as the API's PUTs, onto
 * the config the options filled; what both name (kernel, boot arguments,
 * initrd) is refused. */
static int apply_config_file(struct run_args *a)
{
    struct pvh_error err = {0};
    if (!a->config_file)
        return 0;
    a->api = malloc(sizeof(*a->api));
    if (!a->api)
        return bad("%s", "out of memory");
    pvh_api_init(a->api, &a->cfg, &config_file_ops, cli_version(), NULL);
    if (api_host_load_config_file(a->api, a->config_file, &err))
        return cli_report(&err);
    if (a->api->metrics_path)
        return bad("--config-file %s: metrics: flushed through the API only (pvhboot serve); leave it out for run",
                   a->config_file);
    if (pvh_api_build_config(a->api, &a->cfg, &err))
        return bad("--config-file %s: %s", a->config_file, err.msg);
    return 0;
}

void run_args_fini(struct run_args *a)
{
    if (a->api)
        pvh_api_fini(a->api);
    free(a->api);
    a->api = NULL;
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
    {"--net", NULL, true, opt_net},
    {"-netdev", NULL, true, opt_qemu_netdev},
    {"-nic", NULL, true, opt_qemu_nic},
    {"-drive", NULL, true, opt_qemu_drive},
    {"-device", NULL, true, opt_qemu_device},
    {"--console", NULL, true, opt_console},
    {"--vsock", NULL, true, opt_vsock},
    {"--serial", "-serial", true, opt_serial},
    {"--debugcon", "-debugcon", true, opt_debugcon},
    {"--timeout", NULL, true, opt_timeout},
    {"--seed", NULL, true, opt_seed},
    {"--user", NULL, true, opt_user},
    {"--kvm-device", NULL, true, opt_kvm_device},
    {"--load", NULL, true, opt_load},
    {"-kernel", NULL, true, opt_kernel},
    /* QEMU habits that change nothing here: pvhboot never draws, always uses
     * KVM, ends the VM on a reset, and has no default devices or config */
    {"-nographic", NULL, false, opt_noop},
    {"-enable-kvm", NULL, false, opt_noop},
    {"-no-reboot", NULL, false, opt_noop},
    {"-nodefaults", NULL, false, opt_noop},
    {"-no-user-config", NULL, false, opt_noop},
    {"-name", NULL, true, opt_noop},
    {"-display", NULL, true, opt_qemu_value},
    {"-vga", NULL, true, opt_qemu_value},
    {"-monitor", NULL, true, opt_qemu_value},
    {"-accel", NULL, true, opt_qemu_value},
    {"-machine", "-M", true, opt_qemu_value},
    {"-cpu", NULL, true, opt_qemu_value},

    {"--gdb", "-gdb", true, opt_gdb},
    {"-s", NULL, false, opt_gdb_default},
    {"--gdb-wait", "-S", false, opt_gdb_wait},
    {"--config-file", NULL, true, opt_config_file},
    {"--no-api", NULL, false, opt_no_api},
    {"--snapshot-file", NULL, true, opt_snapshot_file},
    {"--mem-file", NULL, true, opt_mem_file},
    {"--snapshot-on-port", NULL, false, opt_snapshot_on_port},
    {"--snapshot-continue", NULL, false, opt_snapshot_continue},
    {"--snapshot-diff", NULL, false, opt_snapshot_diff},
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
    int rc = refuse_qemu_flag(argv[*i]);
    return rc ? rc : bad("unknown option '%s' (see pvhboot run --help)", argv[*i]);
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
    for (size_t i = 0; i < a->npending_nets; i++)
        if (!a->pending_nets[i].claimed)
            return bad("-netdev tap,id=%s,ifname=%s: no -device virtio-net-device,netdev=%s uses it",
                       a->pending_nets[i].id, a->pending_nets[i].net.tap, a->pending_nets[i].id);
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
    if (a->no_api && a->kernel_later)
        return bad("%s", "--no-api with --api-sock (or serve): the one serves the API, the other asks for none");
    if (a->no_api && !a->config_file)
        return bad("%s", "--no-api needs --config-file FILE (Firecracker's rule: without the API the VM comes from the "
                   "file)");
    if (!a->cfg.kernel && !a->config_file && !a->kernel_later) {
        run_usage(stderr);
        return PVH_EXIT_BAD_INPUT;
    }
    if (a->seed && !a->cfg.kaslr)
        return bad("--seed %s: the seed only chooses --kaslr's load address; add --kaslr or drop --seed", a->seed);

    if (a->cfg.gdb_wait && a->cfg.gdb == PVH_GDB_OFF)
        return bad("%s", "--gdb-wait (-S) needs --gdb tcp:PORT|unix:PATH (or -s): nothing could resume the VM");
    if (a->cfg.gdb != PVH_GDB_OFF && a->cfg.dry_run)
        return bad("%s", "--gdb and --dry-run: a dry run never starts the guest");
    if (!a->cfg.snapshot_file != !a->cfg.snapshot_mem_file)
        return bad("%s", "--snapshot-file STATE and --mem-file MEM go together: a snapshot is both files");
    if (!a->cfg.snapshot_file && (a->cfg.snapshot_on_port || a->cfg.snapshot_continue || a->cfg.snapshot_diff))
        return bad("%s", "--snapshot-on-port, --snapshot-continue and --snapshot-diff need --snapshot-file STATE "
                   "--mem-file MEM");
    if (a->cfg.snapshot_file && a->cfg.dry_run)
        return bad("%s", "--snapshot-file and --dry-run: a dry run never starts the guest");
    int rc = finish_modules(a);
    rc = rc ? rc : finish_drives(a);
    return rc ? rc : apply_config_file(a);
}

/* Words wrapped at 78 columns, each line indented by four spaces. */
static void wrap_word(FILE *f, size_t *col, const char *word)
{
    size_t n = strlen(word);
    if (*col + 1 + n > 78)
        *col = (size_t)fprintf(f, "\n   ") - 1;
    *col += (size_t)fprintf(f, " %s", word);
}

/* The accepted QEMU value of a flag (its first alternative), or "". */
static const char *qemu_accepted_value(const char *flag, char *buf, size_t cap)
{
    for (size_t i = 0; i < sizeof(qemu_values) / sizeof(qemu_values[0]); i++)
        if (!strcmp(qemu_values[i].flag, flag)) {
            snprintf(buf, cap, "%.*s", (int)strcspn(qemu_values[i].accepted, "|"), qemu_values[i].accepted);
            return buf;
        }
    return "";
}

/* The QEMU flags of the tables: the ones accepted as no-ops (with the value
 * they accept), or the ones refused. */
static void print_qemu_flags(FILE *f, const char *label, bool accepted)
{
    fprintf(f, "  %s\n   ", label);
    size_t col = 3;
    char word[64], value[32];
    for (size_t k = 0; accepted && k < sizeof(options) / sizeof(options[0]); k++) {
        const struct run_option *o = &options[k];
        if (o->handle != opt_noop && o->handle != opt_qemu_value)
            continue;
        const char *v = o->handle == opt_qemu_value ? qemu_accepted_value(o->name, value, sizeof(value))
                                                     : o->takes_value ? "X" : "";
        snprintf(word, sizeof(word), "%s%s%s", o->name, o->alias ? "|" : "", o->alias ? o->alias : "");
        if (*v)
            snprintf(word + strlen(word), sizeof(word) - strlen(word), " %s", v);
        wrap_word(f, &col, word);
    }
    for (size_t k = 0; !accepted && k < sizeof(qemu_refused) / sizeof(qemu_refused[0]); k++)
        wrap_word(f, &col, qemu_refused[k].flag);
    fputc('\n', f);
}

void run_usage(FILE *f)
{
    fprintf(f,
            "usage: pvhboot run KERNEL [options]      (or: pvhboot [options] -kernel KERNEL [options])\n"
            "  KERNEL                 a PVH ELF (vmlinux), a bzImage (vmlinuz) whose payload is one,\n"
            "                         or a Multiboot 1 kernel (ELF or a.out kludge)\n"
            "  --initrd FILE          module 0, the initrd                                (-initrd)\n"
            "  --module FILE[,cmdline=STR]  a further module, with its own command line\n"
            "  --cmdline STR          kernel command line (default \"console=ttyS0\"; Linux also\n"
            "                         gets panic=-1 unless it sets panic=)                 (-append)\n"
            "  --mem SIZE             guest RAM: 512M, 1.5G, 2G; a plain number is MiB (default 512M)  (-m)\n"
            "  --cpus N               vCPUs (default 1)                       (-smp N[,sockets=S,...])\n"
            "  --drive FILE[,ro][,id=NAME][,cache=writeback|none]   a virtio-blk disk; /dev/vda is the first\n"
            "                         (-drive file=FILE,if=virtio[,readonly=on][,id=NAME][,cache=MODE],\n"
            "                         or -drive ...,if=none,id=ID with -device virtio-blk-device,drive=ID)\n"
            "  --net tap=NAME[,mac=MAC][,mtu=N]   a virtio-net NIC on host TAP device NAME (created when\n"
            "                         root and missing); eth0 is the first (-netdev tap,id=ID,ifname=NAME\n"
            "                         with -device virtio-net-device,netdev=ID, or -nic tap,ifname=NAME)\n"
            "  --rng, --no-rng        virtio-rng (default: on when the machine has another virtio device)\n"
            "                         (-device virtio-rng-device)\n"
            "  --console serial|virtio  where stdin/stdout go: COM1 (default) or virtio-console (hvc0)\n"
            "  --vsock cid=N,uds=PATH virtio-vsock: host programs connect to PATH and send \"CONNECT <port>\\n\";\n"
            "                         guest connections to CID 2 port P reach PATH_P (docs/vsock.md)\n"
            "  --serial stdio|file:PATH|none   where COM1 goes (default stdio; Ctrl-A x quits)  (-serial)\n"
            "  --debugcon stdio|file:PATH|none  the debug console on port 0xe9 (default none: no device)  (-debugcon)\n"
            "  --gdb tcp:PORT|unix:PATH  a gdb stub on 127.0.0.1:PORT or a UNIX socket (docs/gdb.md)\n"
            "                         (QEMU: -gdb tcp::PORT; -s = -gdb tcp::1234)\n"
            "  --gdb-wait             with --gdb: stop before the kernel's first instruction  (QEMU: -S)\n"
            "  --timeout SEC          end the VM after SEC seconds, exit status 124\n"
            "  --kaslr [--seed N]     random physical load address (kernel needs XEN_ELFNOTE_PHYS32_RELOC)\n"
            "  --user NAME|UID[:GID]  drop root privileges after setup\n"
            "  --no-sandbox           run without the seccomp allow-list\n"
            "  --load map|copy        kernel and modules mapped from their files (default) or copied\n"
            "  --dry-run              no KVM: set the guest up, print its layout and memory map, exit 0\n"
            "  --verbose, -v          timings, VM exits, device counters and unhandled accesses at the end\n"
            "  --kvm-device PATH      the KVM device (default /dev/kvm)\n"
            "  --config-file FILE     Firecracker's JSON config (boot-source, machine-config, drives,\n"
            "                         entropy, logger): KERNEL may then be left out (docs/api.md);\n"
            "                         --no-api is accepted beside it, as Firecracker spells that start\n"
            "  --snapshot-file STATE --mem-file MEM   where a snapshot goes (SIGUSR2 takes one; the VM then\n"
            "                         ends, exit 0); restore it with pvhboot restore STATE --mem-file MEM\n"
            "  --snapshot-on-port     the guest may ask for the snapshot: a 32-bit OUT of 0x50414e53 (\"SNAP\")\n"
            "                         to port 0x5f4 (guest SDK: pvh_snapshot())\n"
            "  --snapshot-continue    run on after each snapshot instead of ending\n"
            "  --snapshot-diff        the first snapshot full, each later one (with --snapshot-continue) only\n"
            "                         the pages written since the one before, to STATE.N and MEM.N, N = 1, 2...;\n"
            "                         restoring STATE.N layers MEM.1 to MEM.N on MEM (pvhboot restore --help)\n"
            "  --help, -h             this text\n"
            "QEMU flags:\n");
    print_qemu_flags(f, "accepted, changing nothing (pvhboot never draws, always uses KVM, ends on a reset):", true);
    print_qemu_flags(f, "refused, each with a line saying what pvhboot has instead:", false);
    fprintf(f,
            "exit status: the guest's debug-exit (port 0xf4) value; 0 after power-off or reset;\n"
            "124 on timeout; 1 on a VMM error; 2 on unusable input.   Manual: man pvhboot\n");
}
