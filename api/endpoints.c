/* The API's endpoints (docs/api.md): the route table, and one function per
 * endpoint that checks its body against Firecracker's schema (fields.c)
 * and changes the configuration only when the whole body is good. Fields
 * pvhboot does not implement are accepted when absent or default and
 * refused with a fault_message otherwise, never ignored. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "fields.h"
#include "vmconfig.h"

#define MAX_DRIVE_ID 20 /* virtio-blk's serial: 20 bytes */
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

typedef void endpoint_fn(struct pvh_api *api, const char *id, json_t *body, struct pvh_api_response *r);

static void no_content(struct pvh_api_response *r)
{
    r->status = 204;
    r->body = NULL;
}

/* A hook's failure: its one line as the fault. */
static void hook_failed(struct pvh_api_response *r, const struct pvh_error *err)
{
    pvh_api_fault(r, 400, "%s", err->msg);
}

static void out_of_memory(struct pvh_api_response *r)
{
    pvh_api_fault(r, 500, "out of memory");
}

static int check_file(struct pvh_api *api, const char *what, const char *path, bool want_write,
                      struct pvh_api_response *r)
{
    struct pvh_error err = {0};
    if (!path[0]) {
        pvh_api_fault(r, 400, "%s: an empty path", what);
        return -1;
    }
    if (api->ops->check_file && api->ops->check_file(api->ops->ctx, path, want_write, &err)) {
        pvh_api_fault(r, 400, "%s: %s", what, err.msg);
        return -1;
    }
    return 0;
}

/* ---- machine-config ---------------------------------------------------------- */

static const struct pvh_field machine_fields_put[] = {
    {"vcpu_count", PVH_FIELD_INT, true},     {"mem_size_mib", PVH_FIELD_INT, true},
    {"smt", PVH_FIELD_BOOL, false},          {"track_dirty_pages", PVH_FIELD_BOOL, false},
    {"cpu_template", PVH_FIELD_STRING, false}, {"huge_pages", PVH_FIELD_STRING, false},
};
static const struct pvh_field machine_fields_patch[] = {
    {"vcpu_count", PVH_FIELD_INT, false},    {"mem_size_mib", PVH_FIELD_INT, false},
    {"smt", PVH_FIELD_BOOL, false},          {"track_dirty_pages", PVH_FIELD_BOOL, false},
    {"cpu_template", PVH_FIELD_STRING, false}, {"huge_pages", PVH_FIELD_STRING, false},
};

/* The fields pvhboot does not implement, at their defaults only. */
static int machine_defaults_only(json_t *b, struct pvh_api_response *r)
{
    if (pvh_field_bool(b, "smt", false))
        pvh_api_fault(r, 400, "machine-config: smt: pvhboot's vCPUs are single-threaded cores (false only)");
    else if (pvh_field_bool(b, "track_dirty_pages", false))
        pvh_api_fault(r, 400, "machine-config: track_dirty_pages: the API takes full snapshots only (false only); "
                      "pvhboot's diff snapshots are `pvhboot run --snapshot-file S --mem-file M --snapshot-diff` "
                      "generations (docs/snapshots.md)");
    else if (strcmp(pvh_field_string(b, "cpu_template", "None"), "None"))
        pvh_api_fault(r, 400, "machine-config: cpu_template: pvhboot has no CPU templates; the guest sees the "
                      "host's CPU as KVM offers it (\"None\" only)");
    else if (strcmp(pvh_field_string(b, "huge_pages", "None"), "None"))
        pvh_api_fault(r, 400, "machine-config: huge_pages: pvhboot maps guest RAM in 4 KiB pages (\"None\" only)");
    else
        return 0;
    return -1;
}

static void set_machine(struct pvh_api *api, json_t *b, const struct pvh_field *f, size_t n,
                        struct pvh_api_response *r)
{
    if (pvh_fields_check(b, "machine-config", f, n, r) || machine_defaults_only(b, r))
        return;
    long long vcpus = pvh_field_int(b, "vcpu_count", api->cfg.ncpus);
    long long mib = pvh_field_int(b, "mem_size_mib", (long long)(api->cfg.ram_size >> 20));
    if (vcpus < 1 || vcpus > PVH_MAX_CPUS) {
        pvh_api_fault(r, 400, "machine-config: vcpu_count %lld: from 1 to %d", vcpus, PVH_MAX_CPUS);
        return;
    }
    if (mib < (long long)(PVH_MIN_RAM >> 20) || mib > (long long)(PVH_MAX_RAM >> 20)) {
        pvh_api_fault(r, 400, "machine-config: mem_size_mib %lld: from 2 to 1048576 (1 TiB)", mib);
        return;
    }
    if (pvh_field_present(b, "vcpu_count"))
        api->cfg.ncpus = (unsigned)vcpus;
    if (pvh_field_present(b, "mem_size_mib"))
        api->cfg.ram_size = (uint64_t)mib << 20;
    no_content(r);
}

static void put_machine(struct pvh_api *api, const char *id, json_t *b, struct pvh_api_response *r)
{
    (void)id;
    set_machine(api, b, machine_fields_put, COUNT(machine_fields_put), r);
}

static void patch_machine(struct pvh_api *api, const char *id, json_t *b, struct pvh_api_response *r)
{
    (void)id;
    set_machine(api, b, machine_fields_patch, COUNT(machine_fields_patch), r);
}

/* ---- boot-source ------------------------------------------------------------- */

static const struct pvh_field boot_fields[] = {
    {"kernel_image_path", PVH_FIELD_STRING, true},
    {"boot_args", PVH_FIELD_STRING, false},
    {"initrd_path", PVH_FIELD_STRING, false},
};

static void put_boot_source(struct pvh_api *api, const char *id, json_t *b, struct pvh_api_response *r)
{
    (void)id;
    if (pvh_fields_check(b, "boot-source", boot_fields, COUNT(boot_fields), r))
        return;
    const char *kernel = pvh_field_string(b, "kernel_image_path", NULL);
    const char *initrd = pvh_field_string(b, "initrd_path", NULL);
    const char *args = pvh_field_string(b, "boot_args", NULL);
    if (check_file(api, "boot-source: kernel_image_path", kernel, false, r) ||
        (initrd && check_file(api, "boot-source: initrd_path", initrd, false, r)))
        return;
    if (!pvh_set_string(&api->kernel, kernel) || !pvh_set_string(&api->initrd, initrd) ||
        !pvh_set_string(&api->boot_args, args)) {
        out_of_memory(r);
        return;
    }
    no_content(r);
}

/* ---- drives ------------------------------------------------------------------ */

static const struct pvh_field drive_fields[] = {
    {"drive_id", PVH_FIELD_STRING, true},     {"is_root_device", PVH_FIELD_BOOL, true},
    {"path_on_host", PVH_FIELD_STRING, false}, {"is_read_only", PVH_FIELD_BOOL, false},
    {"partuuid", PVH_FIELD_STRING, false},    {"cache_type", PVH_FIELD_STRING, false},
    {"io_engine", PVH_FIELD_STRING, false},   {"rate_limiter", PVH_FIELD_OBJECT, false},
    {"socket", PVH_FIELD_STRING, false},
};
static const struct pvh_field drive_patch_fields[] = {
    {"drive_id", PVH_FIELD_STRING, true},
    {"path_on_host", PVH_FIELD_STRING, false},
    {"rate_limiter", PVH_FIELD_OBJECT, false},
};

static struct pvh_api_drive *find_drive(struct pvh_api *api, const char *id)
{
    for (size_t i = 0; i < api->ndrives; i++)
        if (!strcmp(api->drives[i].id, id))
            return &api->drives[i];
    return NULL;
}

/* The id in the path: Firecracker's characters (letters, digits, '_'), at
 * most 20 of them (the guest reads it as the disk's serial), and the
 * body's drive_id. */
static int check_drive_id(const char *path_id, json_t *b, struct pvh_api_response *r)
{
    const char *body_id = pvh_field_string(b, "drive_id", "");
    size_t n = strlen(path_id);
    if (strcmp(path_id, body_id)) {
        pvh_api_fault(r, 400, "drives: the path's id '%.64s' differs from drive_id '%.64s'", path_id, body_id);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)path_id[i]) && path_id[i] != '_') {
            pvh_api_fault(r, 400, "drives: drive_id '%.64s': letters, digits and '_' only", path_id);
            return -1;
        }
    if (n == 0 || n > MAX_DRIVE_ID) {
        pvh_api_fault(r, 400, "drives: drive_id '%.64s': 1 to %d characters (the guest reads it as the disk's "
                      "serial)", path_id, MAX_DRIVE_ID);
        return -1;
    }
    return 0;
}

static int drive_defaults_only(json_t *b, struct pvh_api_response *r)
{
    const char *cache = pvh_field_string(b, "cache_type", "Unsafe");
    if (!pvh_field_no_rate_limit(b, "rate_limiter"))
        pvh_api_fault(r, 400, "drives: rate_limiter: pvhboot has no rate limiters (null or absent only)");
    else if (strcmp(pvh_field_string(b, "io_engine", "Sync"), "Sync"))
        pvh_api_fault(r, 400, "drives: io_engine: pvhboot's disks are served by its I/O thread (\"Sync\" only)");
    else if (pvh_field_present(b, "socket"))
        pvh_api_fault(r, 400, "drives: socket: pvhboot has no vhost-user disks; give path_on_host");
    else if (!pvh_field_present(b, "path_on_host"))
        pvh_api_fault(r, 400, "drives: missing field 'path_on_host'");
    else if (strcmp(cache, "Unsafe") && strcmp(cache, "Writeback"))
        pvh_api_fault(r, 400, "drives: cache_type '%.32s': \"Unsafe\" or \"Writeback\"", cache);
    else
        return 0;
    return -1;
}

static int other_root(struct pvh_api *api, const char *id, struct pvh_api_response *r)
{
    for (size_t i = 0; i < api->ndrives; i++)
        if (api->drives[i].root && strcmp(api->drives[i].id, id)) {
            pvh_api_fault(r, 400, "drives: drive '%s' is already the root device; only one can be", api->drives[i].id);
            return -1;
        }
    return 0;
}

static void put_drive(struct pvh_api *api, const char *id, json_t *b, struct pvh_api_response *r)
{
    if (pvh_fields_check(b, "drives", drive_fields, COUNT(drive_fields), r) || check_drive_id(id, b, r) ||
        drive_defaults_only(b, r))
        return;
    bool root = pvh_field_bool(b, "is_root_device", false), ro = pvh_field_bool(b, "is_read_only", false);
    const char *path = pvh_field_string(b, "path_on_host", "");
    if ((root && other_root(api, id, r)) || check_file(api, "drives: path_on_host", path, !ro, r))
        return;
    struct pvh_api_drive *d = find_drive(api, id);
    if (!d && api->ndrives == PVH_MAX_DRIVES) {
        pvh_api_fault(r, 400, "drives: at most %d drives", PVH_MAX_DRIVES);
        return;
    }
    struct pvh_api_drive nd = {.root = root, .read_only = ro, .cache = PVH_CACHE_WRITEBACK,
                               .cache_writeback = !strcmp(pvh_field_string(b, "cache_type", ""), "Writeback")};
    if (!pvh_set_string(&nd.id, id) || !pvh_set_string(&nd.path, path) ||
        !pvh_set_string(&nd.partuuid, pvh_field_string(b, "partuuid", NULL))) {
        pvh_api_drive_free(&nd);
        out_of_memory(r);
        return;
    }
    if (d)
        pvh_api_drive_free(d);
    else
        d = &api->drives[api->ndrives++];
    *d = nd;
    no_content(r);
}

/* A drive the command line gave with --drive FILE,id=NAME: in the config
 * InstanceStart handed over, after the API's own drives. */
static bool started_with_drive(const struct pvh_api *api, const char *id)
{
    for (size_t i = 0; api->state != PVH_API_NOT_STARTED && i < api->started.ndrives; i++)
        if (api->started.drives[i].id && !strcmp(api->started.drives[i].id, id))
            return true;
    return false;
}

static void patch_drive(struct pvh_api *api, const char *id, json_t *b, struct pvh_api_response *r)
{
    if (pvh_fields_check(b, "drives", drive_patch_fields, COUNT(drive_patch_fields), r) ||
        check_drive_id(id, b, r))
        return;
    if (!pvh_field_no_rate_limit(b, "rate_limiter")) {
        pvh_api_fault(r, 400, "drives: rate_limiter: pvhboot has no rate limiters (null or absent only)");
        return;
    }
    if (!find_drive(api, id) && !started_with_drive(api, id)) {
        pvh_api_fault(r, 400, "drives: no drive '%s' (PUT it before InstanceStart, or start with --drive FILE,id=%s)",
                      id, id);
        return;
    }
    const char *path = pvh_field_string(b, "path_on_host", NULL);
    if (!path) {
        no_content(r);
        return;
    }
    struct pvh_error err = {0};
    if (!api->ops->swap_drive) {
        pvh_api_fault(r, 400, "drives: swapping a running drive's file is not built yet");
        return;
    }
    if (api->ops->swap_drive(api->ops->ctx, id, path, &err)) {
        hook_failed(r, &err);
        return;
    }
    struct pvh_api_drive *known = find_drive(api, id); /* NULL: a drive of the command line's */
    if (known && !pvh_set_string(&known->path, path)) {
        out_of_memory(r);
        return;
    }
    no_content(r);
}

/* ---- network interfaces -------------------------------------------------------- */


static const struct pvh_field net_fields[] = {
    {"iface_id", PVH_FIELD_STRING, true},       {"host_dev_name", PVH_FIELD_STRING, true},
    {"guest_mac", PVH_FIELD_STRING, false},     {"rx_rate_limiter", PVH_FIELD_OBJECT, false},
    {"tx_rate_limiter", PVH_FIELD_OBJECT, false},
};
static const struct pvh_field net_patch_fields[] = {
    {"iface_id", PVH_FIELD_STRING, true},
    {"rx_rate_limiter", PVH_FIELD_OBJECT, false},
    {"tx_rate_limiter", PVH_FIELD_OBJECT, false},
};

static struct pvh_api_net *find_net(struct pvh_api *api, const char *id)
{
    for (size_t i = 0; i < api->nnets; i++)
        if (!strcmp(api->nets[i].id, id))
            return &api->nets[i];
    return NULL;
}

/* An iface_id: letters, digits and '_' (as Firecracker), at most
 * PVH_NET_ID_MAX of them (a snapshot keeps it: vmm/virtio/devconfig.h). */
static int check_iface_chars(const char *what, const char *id, struct pvh_api_response *r)
{
    for (const char *p = id; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_') {
            pvh_api_fault(r, 400, "%s: iface_id '%.64s': letters, digits and '_' only", what, id);
            return -1;
        }
    if (strlen(id) > PVH_NET_ID_MAX) {
        pvh_api_fault(r, 400, "%s: iface_id: at most %d characters", what, PVH_NET_ID_MAX);
        return -1;
    }
    return 0;
}

/* The path's id: the body's iface_id, and a good one. */
static int check_iface_id(const char *path_id, json_t *b, struct pvh_api_response *r)
{
    const char *body_id = pvh_field_string(b, "iface_id", "");
    if (strcmp(path_id, body_id)) {
        pvh_api_fault(r, 400, "network-interfaces: the path's id '%.64s' differs from iface_id '%.64s'", path_id, body_id);
        return -1;
    }
    return check_iface_chars("network-interfaces", path_id, r);
}

/* A TAP's name (pvh_tap_name_check). */
static int check_tap_name(const char *what, const char *name, struct pvh_api_response *r)
{
    if (pvh_tap_name_check(name) == PVH_TAP_NAME_OK)
        return 0;
    pvh_api_fault(r, 400, "%s: host_dev_name '%.64s': a TAP's name, 1 to %d printable characters other than / : %% "
                  "and spaces", what, name, PVH_TAP_NAME_MAX);
    return -1;
}

/* "02:00:00:00:00:01": six hex pairs, a unicast address other than zero. */
static int parse_guest_mac(const char *v, uint8_t mac[6], struct pvh_api_response *r)
{
    if (pvh_mac_parse(v, ":", mac) == PVH_MAC_OK)
        return 0;
    pvh_api_fault(r, 400, "network-interfaces: guest_mac '%.32s': six hex pairs such as 02:00:00:00:00:01, "
                  "a unicast address", v);
    return -1;
}

static int net_defaults_only(json_t *b, struct pvh_api_response *r)
{
    if (pvh_field_no_rate_limit(b, "rx_rate_limiter") && pvh_field_no_rate_limit(b, "tx_rate_limiter"))
        return 0;
    pvh_api_fault(r, 400, "network-interfaces: rx_rate_limiter, tx_rate_limiter: pvhboot has no rate limiters "
                  "(null or absent only)");
    return -1;
}

static int tap_taken(struct pvh_api *api, const char *id, const char *tap, struct pvh_api_response *r)
{
    for (size_t i = 0; i < api->nnets; i++)
        if (!strcmp(api->nets[i].tap, tap) && strcmp(api->nets[i].id, id)) {
            pvh_api_fault(r, 400, "network-interfaces: TAP %s is interface '%s''s already (one NIC per TAP)", tap,
                          api->nets[i].id);
            return -1;
        }
    return 0;
}

static void put_net(struct pvh_api *api, const char *id, json_t *b, struct pvh_api_response *r)
{
    if (pvh_fields_check(b, "network-interfaces", net_fields, COUNT(net_fields), r) || check_iface_id(id, b, r) ||
        net_defaults_only(b, r))
        return;
    const char *tap = pvh_field_string(b, "host_dev_name", ""), *mac = pvh_field_string(b, "guest_mac", NULL);
    struct pvh_api_net nn = {.has_mac = mac != NULL};
    if (check_tap_name("network-interfaces", tap, r) || tap_taken(api, id, tap, r) || (mac && parse_guest_mac(mac, nn.mac, r)))
        return;
    struct pvh_api_net *n = find_net(api, id);
    if (!n && api->nnets == PVH_MAX_NETS) {
        pvh_api_fault(r, 400, "network-interfaces: at most %d interfaces", PVH_MAX_NETS);
        return;
    }
    if (!pvh_set_string(&nn.id, id) || !pvh_set_string(&nn.tap, tap)) {
        pvh_api_net_free(&nn);
        out_of_memory(r);
        return;
    }
    if (n)
        pvh_api_net_free(n);
    else
        n = &api->nets[api->nnets++];
    *n = nn;
    no_content(r);
}

/* After boot only the rate limiters may change, and pvhboot has none. */
static void patch_net(struct pvh_api *api, const char *id, json_t *b, struct pvh_api_response *r)
{
    if (pvh_fields_check(b, "network-interfaces", net_patch_fields, COUNT(net_patch_fields), r) ||
        check_iface_id(id, b, r) || net_defaults_only(b, r))
        return;
    if (!find_net(api, id)) {
        pvh_api_fault(r, 400, "network-interfaces: no interface '%s' (PUT it before InstanceStart)", id);
        return;
    }
    no_content(r);
}

/* ---- vsock ----------------------------------------------------------------------- */

static const struct pvh_field vsock_fields[] = {
    {"guest_cid", PVH_FIELD_INT, true},
    {"uds_path", PVH_FIELD_STRING, true},
    {"vsock_id", PVH_FIELD_STRING, false}, /* deprecated in Firecracker; any value */
};

/* Firecracker's hybrid vsock (--vsock cid=N,uds=PATH; docs/vsock.md). */
static void put_vsock(struct pvh_api *api, const char *id, json_t *b, struct pvh_api_response *r)
{
    (void)id;
    if (pvh_fields_check(b, "vsock", vsock_fields, COUNT(vsock_fields), r))
        return;
    long long cid = pvh_field_int(b, "guest_cid", 0);
    const char *uds = pvh_field_string(b, "uds_path", "");
    if (cid < 3 || cid > 0xfffffffell) {
        pvh_api_fault(r, 400, "vsock: guest_cid %lld: from 3 to 4294967294 (0-2 are reserved; 2 is the host)", cid);
        return;
    }
    if (!uds[0]) {
        pvh_api_fault(r, 400, "vsock: uds_path: the path of the host's UNIX socket");
        return;
    }
    if (!pvh_set_string(&api->vsock_uds, uds)) {
        out_of_memory(r);
        return;
    }
    api->vsock_cid = (uint64_t)cid;
    no_content(r);
}

/* ---- entropy, logger, metrics --------------------------------------------------- */

static const struct pvh_field entropy_fields[] = {{"rate_limiter", PVH_FIELD_OBJECT, false}};

static void put_entropy(struct pvh_api *api, const char *id, json_t *b, struct pvh_api_response *r)
{
    (void)id;
    if (pvh_fields_check(b, "entropy", entropy_fields, COUNT(entropy_fields), r))
        return;
    if (!pvh_field_no_rate_limit(b, "rate_limiter")) {
        pvh_api_fault(r, 400, "entropy: rate_limiter: pvhboot has no rate limiters (null or absent only)");
        return;
    }
    api->entropy = true;
    api->cfg.rng = PVH_RNG_ON;
    no_content(r);
}

static const char *const log_levels[] = {"Off", "Error", "Warning", "Info", "Debug", "Trace"};

/* The level's index in log_levels (any case), -1 when none. */
int pvh_api_log_level(const char *level)
{
    for (size_t i = 0; i < COUNT(log_levels); i++)
        if (!strcasecmp(level, log_levels[i]))
            return (int)i;
    return -1;
}

static const struct pvh_field logger_fields[] = {
    {"level", PVH_FIELD_STRING, false},     {"log_path", PVH_FIELD_STRING, false},
    {"show_level", PVH_FIELD_BOOL, false},  {"show_log_origin", PVH_FIELD_BOOL, false},
    {"module", PVH_FIELD_STRING, false},
};

/* fd for path through ops->open_output, replacing *fd. */
static int open_output(struct pvh_api *api, const char *what, const char *path, int *fd, struct pvh_api_response *r)
{
    struct pvh_error err = {0};
    if (!path[0]) {
        pvh_api_fault(r, 400, "%s: an empty path", what);
        return -1;
    }
    if (!api->ops->open_output) {
        pvh_api_fault(r, 400, "%s: writing files is not built in this server", what);
        return -1;
    }
    int nfd = api->ops->open_output(api->ops->ctx, path, &err);
    if (nfd < 0) {
        pvh_api_fault(r, 400, "%s: %s", what, err.msg);
        return -1;
    }
    if (*fd >= 0)
        close(*fd);
    *fd = nfd;
    return 0;
}

static void put_logger(struct pvh_api *api, const char *id, json_t *b, struct pvh_api_response *r)
{
    (void)id;
    if (pvh_fields_check(b, "logger", logger_fields, COUNT(logger_fields), r))
        return;
    const char *level = pvh_field_string(b, "level", "Info"), *path = pvh_field_string(b, "log_path", NULL);
    if (pvh_api_log_level(level) < 0) {
        pvh_api_fault(r, 400, "logger: level '%.32s': Off, Error, Warning, Info, Debug or Trace", level);
        return;
    }
    if (pvh_field_present(b, "module")) {
        pvh_api_fault(r, 400, "logger: module: pvhboot's log has no modules to filter (leave it out)");
        return;
    }
    if (path && open_output(api, "logger: log_path", path, &api->log_fd, r))
        return;
    if (!pvh_set_string(&api->log_level, level) || (path && !pvh_set_string(&api->log_path, path))) {
        out_of_memory(r);
        return;
    }
    api->log_show_level = pvh_field_bool(b, "show_level", false);
    api->log_show_origin = pvh_field_bool(b, "show_log_origin", false);
    no_content(r);
}

static const struct pvh_field metrics_fields[] = {{"metrics_path", PVH_FIELD_STRING, true}};

static void put_metrics(struct pvh_api *api, const char *id, json_t *b, struct pvh_api_response *r)
{
    (void)id;
    if (pvh_fields_check(b, "metrics", metrics_fields, COUNT(metrics_fields), r))
        return;
    const char *path = pvh_field_string(b, "metrics_path", "");
    if (open_output(api, "metrics: metrics_path", path, &api->metrics_fd, r))
        return;
    if (!pvh_set_string(&api->metrics_path, path)) {
        out_of_memory(r);
        return;
    }
    no_content(r);
}

/* ---- actions and the VM's state -------------------------------------------------- */

static const struct pvh_field action_fields[] = {{"action_type", PVH_FIELD_STRING, true}};

static void instance_start(struct pvh_api *api, struct pvh_api_response *r)
{
    struct pvh_error err = {0};
    if (api->state != PVH_API_NOT_STARTED) {
        pvh_api_fault(r, 400, "InstanceStart: the microVM is already running");
        return;
    }
    if (!api->ops->start) {
        pvh_api_fault(r, 400, "InstanceStart: this server cannot start VMs");
        return;
    }
    if (pvh_api_build_config(api, &api->started, &err) || api->ops->start(api->ops->ctx, &api->started, &err)) {
        pvh_api_fault(r, 400, "InstanceStart: %s", err.msg);
        return;
    }
    api->state = PVH_API_RUNNING;
    no_content(r);
}

static void send_ctrl_alt_del(struct pvh_api *api, struct pvh_api_response *r)
{
    struct pvh_error err = {0};
    if (api->state == PVH_API_NOT_STARTED) {
        pvh_api_fault(r, 400, "SendCtrlAltDel: the microVM is not running (InstanceStart first)");
        return;
    }
    if (!api->ops->ctrl_alt_del) {
        pvh_api_fault(r, 400, "SendCtrlAltDel: not built yet");
        return;
    }
    if (api->ops->ctrl_alt_del(api->ops->ctx, &err)) {
        hook_failed(r, &err);
        return;
    }
    no_content(r);
}

static void flush_metrics(struct pvh_api *api, struct pvh_api_response *r)
{
    struct pvh_error err = {0};
    if (api->metrics_fd < 0) {
        pvh_api_fault(r, 400, "FlushMetrics: no metrics file (PUT /metrics first)");
        return;
    }
    if (!api->ops->flush_metrics) {
        pvh_api_fault(r, 400, "FlushMetrics: not built yet");
        return;
    }
    if (api->ops->flush_metrics(api->ops->ctx, api->metrics_fd, &err)) {
        hook_failed(r, &err);
        return;
    }
    no_content(r);
}

static void put_actions(struct pvh_api *api, const char *id, json_t *b, struct pvh_api_response *r)
{
    (void)id;
    if (pvh_fields_check(b, "actions", action_fields, COUNT(action_fields), r))
        return;
    const char *action = pvh_field_string(b, "action_type", "");
    if (!strcmp(action, "InstanceStart")) {
        instance_start(api, r);
        return;
    }
    if (!strcmp(action, "SendCtrlAltDel")) {
        send_ctrl_alt_del(api, r);
        return;
    }
    if (!strcmp(action, "FlushMetrics")) {
        flush_metrics(api, r);
        return;
    }
    pvh_api_fault(r, 400, "actions: action_type '%.32s': InstanceStart, SendCtrlAltDel or FlushMetrics", action);
}

static const struct pvh_field vm_fields[] = {{"state", PVH_FIELD_STRING, true}};

static void patch_vm(struct pvh_api *api, const char *id, json_t *b, struct pvh_api_response *r)
{
    (void)id;
    struct pvh_error err = {0};
    if (pvh_fields_check(b, "vm", vm_fields, COUNT(vm_fields), r))
        return;
    const char *state = pvh_field_string(b, "state", "");
    bool pause = !strcmp(state, "Paused");
    if (!pause && strcmp(state, "Resumed")) {
        pvh_api_fault(r, 400, "vm: state '%.32s': \"Paused\" or \"Resumed\"", state);
        return;
    }
    if (!api->ops->pause) {
        pvh_api_fault(r, 400, "vm: pausing is not built yet");
        return;
    }
    if (api->ops->pause(api->ops->ctx, pause, &err)) {
        hook_failed(r, &err);
        return;
    }
    api->state = pause ? PVH_API_PAUSED : PVH_API_RUNNING;
    no_content(r);
}

/* ---- snapshots ------------------------------------------------------------------ */

static const struct pvh_field snap_create_fields[] = {
    {"snapshot_path", PVH_FIELD_STRING, true},
    {"mem_file_path", PVH_FIELD_STRING, true},
    {"snapshot_type", PVH_FIELD_STRING, false},
};

static int snapshot_paths(const char *what, const char *state, const char *mem, struct pvh_api_response *r)
{
    if (!state[0] || !mem[0])
        pvh_api_fault(r, 400, "%s: %s: an empty path", what, state[0] ? "mem_file_path" : "snapshot_path");
    else if (!strcmp(state, mem))
        pvh_api_fault(r, 400, "%s: snapshot_path and the memory file are the same file '%.200s'", what, state);
    else
        return 0;
    return -1;
}

/* The paused VM's state and memory written to the two paths; it stays paused. */
static void put_snapshot_create(struct pvh_api *api, const char *id, json_t *b, struct pvh_api_response *r)
{
    (void)id;
    struct pvh_error err = {0};
    if (pvh_fields_check(b, "snapshot/create", snap_create_fields, COUNT(snap_create_fields), r))
        return;
    const char *type = pvh_field_string(b, "snapshot_type", "Full");
    const char *state = pvh_field_string(b, "snapshot_path", ""), *mem = pvh_field_string(b, "mem_file_path", "");
    if (!strcmp(type, "Diff")) {
        pvh_api_fault(r, 400, "snapshot/create: snapshot_type Diff: the API takes full snapshots only (\"Full\"); "
                      "pvhboot's diff snapshots are `pvhboot run --snapshot-diff` generations (STATE.N and MEM.N, "
                      "restored with `pvhboot restore --mem-diff`), not Firecracker's sparse memory file");
        return;
    }
    if (strcmp(type, "Full")) {
        pvh_api_fault(r, 400, "snapshot/create: snapshot_type '%.32s': \"Full\" or \"Diff\"", type);
        return;
    }
    if (snapshot_paths("snapshot/create", state, mem, r))
        return;
    if (api->state != PVH_API_PAUSED) {
        pvh_api_fault(r, 400, "snapshot/create: the microVM is not paused (PATCH /vm {\"state\": \"Paused\"} first)");
        return;
    }
    if (!api->ops->snapshot_create) {
        pvh_api_fault(r, 400, "snapshot/create: not built in this server");
        return;
    }
    if (api->ops->snapshot_create(api->ops->ctx, state, mem, &err)) {
        pvh_api_fault(r, 400, "snapshot/create: %s", err.msg);
        return;
    }
    no_content(r);
}

static const struct pvh_field snap_load_fields[] = {
    {"snapshot_path", PVH_FIELD_STRING, true},     {"mem_file_path", PVH_FIELD_STRING, false},
    {"mem_backend", PVH_FIELD_OBJECT, false},      {"enable_diff_snapshots", PVH_FIELD_BOOL, false},
    {"track_dirty_pages", PVH_FIELD_BOOL, false},  {"resume_vm", PVH_FIELD_BOOL, false},
    {"network_overrides", PVH_FIELD_ARRAY, false}, {"vsock_override", PVH_FIELD_OBJECT, false},
    {"clock_realtime", PVH_FIELD_BOOL, false},
};
static const struct pvh_field mem_backend_fields[] = {
    {"backend_type", PVH_FIELD_STRING, true},
    {"backend_path", PVH_FIELD_STRING, true},
};

/* The memory file: mem_backend {File, path} or the deprecated mem_file_path, exactly one. */
static const char *load_mem_path(json_t *b, struct pvh_api_response *r)
{
    json_t *mb = json_object_get(b, "mem_backend");
    bool has_backend = mb && !json_is_null(mb), has_file = pvh_field_present(b, "mem_file_path");
    if (has_backend == has_file) {
        pvh_api_fault(r, 400, has_file ? "snapshot/load: mem_backend and mem_file_path: give one of them, not both"
                                       : "snapshot/load: missing field 'mem_backend' (or the deprecated 'mem_file_path')");
        return NULL;
    }
    if (has_file)
        return pvh_field_string(b, "mem_file_path", "");
    if (pvh_fields_check(mb, "snapshot/load: mem_backend", mem_backend_fields, COUNT(mem_backend_fields), r))
        return NULL;
    const char *type = pvh_field_string(mb, "backend_type", "");
    if (!strcmp(type, "File"))
        return pvh_field_string(mb, "backend_path", "");
    if (!strcmp(type, "Uffd"))
        pvh_api_fault(r, 400, "snapshot/load: mem_backend: backend_type Uffd: pvhboot has no userfaultfd page server; "
                      "\"File\" only (the file is mapped copy-on-write, read as the guest touches it)");
    else
        pvh_api_fault(r, 400, "snapshot/load: mem_backend: backend_type '%.32s': \"File\" or \"Uffd\"", type);
    return NULL;
}

/* What pvhboot's restore does not do, at its defaults only. */
static int load_defaults_only(json_t *b, struct pvh_api_response *r)
{
    if (pvh_field_bool(b, "enable_diff_snapshots", false) || pvh_field_bool(b, "track_dirty_pages", false))
        pvh_api_fault(r, 400, "snapshot/load: enable_diff_snapshots, track_dirty_pages: a loaded microVM takes full "
                      "snapshots only (false only); pvhboot's diff snapshots are `pvhboot run --snapshot-diff` "
                      "generations (docs/snapshots.md)");
    else if (pvh_field_bool(b, "clock_realtime", false))
        pvh_api_fault(r, 400, "snapshot/load: clock_realtime: kvmclock resumes where the snapshot stopped it (false "
                      "only)");
    else
        return 0;
    return -1;
}

static const struct pvh_field net_override_fields[] = {
    {"iface_id", PVH_FIELD_STRING, true},
    {"host_dev_name", PVH_FIELD_STRING, true},
};
static const struct pvh_field vsock_override_fields[] = {{"uds_path", PVH_FIELD_STRING, true}};

#define NET_OVERRIDES "snapshot/load: network_overrides"

/* network_overrides[i]: an object naming an iface_id and a TAP, neither
 * named by an earlier entry. */
static int check_net_override(json_t *nets, size_t i, struct pvh_api_response *r)
{
    json_t *o = json_array_get(nets, i);
    if (!json_is_object(o)) {
        pvh_api_fault(r, 400, NET_OVERRIDES "[%zu]: an object {\"iface_id\", \"host_dev_name\"}", i);
        return -1;
    }
    if (pvh_fields_check(o, NET_OVERRIDES, net_override_fields, COUNT(net_override_fields), r))
        return -1;
    const char *id = pvh_field_string(o, "iface_id", ""), *tap = pvh_field_string(o, "host_dev_name", "");
    if (!id[0]) {
        pvh_api_fault(r, 400, NET_OVERRIDES ": iface_id: an empty id");
        return -1;
    }
    if (check_iface_chars(NET_OVERRIDES, id, r) || check_tap_name(NET_OVERRIDES, tap, r))
        return -1;
    for (size_t k = 0; k < i; k++) {
        json_t *e = json_array_get(nets, k);
        bool same_id = !strcmp(pvh_field_string(e, "iface_id", ""), id);
        if (same_id || !strcmp(pvh_field_string(e, "host_dev_name", ""), tap)) {
            pvh_api_fault(r, 400, NET_OVERRIDES ": %s '%s' given twice (%s)", same_id ? "iface_id" : "host_dev_name",
                          same_id ? id : tap, same_id ? "one override per interface" : "one NIC per TAP");
            return -1;
        }
    }
    return 0;
}

/* The overrides' shapes, before anything is kept. */
static int check_overrides(json_t *b, struct pvh_api_response *r)
{
    json_t *nets = json_object_get(b, "network_overrides"), *vs = json_object_get(b, "vsock_override");
    size_t n = json_is_array(nets) ? json_array_size(nets) : 0;
    if (n > PVH_MAX_NETS) {
        pvh_api_fault(r, 400, NET_OVERRIDES ": %zu of them; a microVM has at most %d interfaces", n, PVH_MAX_NETS);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (check_net_override(nets, i, r))
            return -1;
    if (!vs || json_is_null(vs))
        return 0;
    if (pvh_fields_check(vs, "snapshot/load: vsock_override", vsock_override_fields, COUNT(vsock_override_fields), r))
        return -1;
    if (!pvh_field_string(vs, "uds_path", "")[0]) {
        pvh_api_fault(r, 400, "snapshot/load: vsock_override: uds_path: an empty path");
        return -1;
    }
    return 0;
}

static void free_overrides(struct pvh_api *api)
{
    for (size_t i = 0; i < api->nload_nets; i++)
        pvh_api_net_free(&api->load_nets[i]);
    api->nload_nets = 0;
    free(api->load_vsock_uds);
    api->load_vsock_uds = NULL;
}

/* The checked overrides kept (copies) and put on api->started as restore's
 * clone overrides: each NIC by its iface_id, vsock's socket with CID 0 (the
 * snapshot's stays, as Firecracker's). */
static int keep_overrides(struct pvh_api *api, json_t *b, struct pvh_api_response *r)
{
    json_t *nets = json_object_get(b, "network_overrides"), *vs = json_object_get(b, "vsock_override");
    size_t n = json_is_array(nets) ? json_array_size(nets) : 0;
    bool has_vsock = vs && !json_is_null(vs);
    if (n && api->cfg.nnets) {
        pvh_api_fault(r, 400, "snapshot/load: network_overrides and the command line's --net: give one of them");
        return -1;
    }
    if (has_vsock && api->cfg.vsock.uds_path) {
        pvh_api_fault(r, 400, "snapshot/load: vsock_override and the command line's --vsock: give one of them");
        return -1;
    }
    free_overrides(api);
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(nets, i);
        struct pvh_api_net *k = &api->load_nets[api->nload_nets++];
        if (!pvh_set_string(&k->id, pvh_field_string(o, "iface_id", "")) ||
            !pvh_set_string(&k->tap, pvh_field_string(o, "host_dev_name", "")))
            goto oom;
        api->started.nets[i] = (struct pvh_vm_net){.tap = k->tap, .id = k->id};
        api->started.nnets = i + 1;
    }
    if (has_vsock) {
        if (!pvh_set_string(&api->load_vsock_uds, pvh_field_string(vs, "uds_path", "")))
            goto oom;
        api->started.vsock = (struct pvh_vm_vsock){.cid = 0, .uds_path = api->load_vsock_uds};
    }
    return 0;
oom:
    free_overrides(api);
    out_of_memory(r);
    return -1;
}

/* A fresh microVM restored from the two files instead of booted. */
static void put_snapshot_load(struct pvh_api *api, const char *id, json_t *b, struct pvh_api_response *r)
{
    (void)id;
    struct pvh_error err = {0};
    if (pvh_fields_check(b, "snapshot/load", snap_load_fields, COUNT(snap_load_fields), r) ||
        load_defaults_only(b, r) || check_overrides(b, r))
        return;
    const char *state = pvh_field_string(b, "snapshot_path", ""), *mem = load_mem_path(b, r);
    bool resume = pvh_field_bool(b, "resume_vm", false);
    if (!mem || snapshot_paths("snapshot/load", state, mem, r))
        return;
    if (api->configured) {
        pvh_api_fault(r, 400, "snapshot/load: only on a fresh microVM; boot resources were configured already "
                      "(only logger and metrics may come before a load)");
        return;
    }
    if (check_file(api, "snapshot/load: snapshot_path", state, false, r) ||
        check_file(api, "snapshot/load: memory file", mem, false, r))
        return;
    if (!api->ops->snapshot_load) {
        pvh_api_fault(r, 400, "snapshot/load: not built in this server");
        return;
    }
    api->started = api->cfg;
    if (keep_overrides(api, b, r))
        return;
    if (api->ops->snapshot_load(api->ops->ctx, &api->started, state, mem, resume, &err)) {
        pvh_api_fault(r, 400, "snapshot/load: %s", err.msg);
        return;
    }
    api->cfg.ncpus = api->started.ncpus; /* GET /machine-config: the restored machine's */
    api->cfg.ram_size = api->started.ram_size;
    api->state = resume ? PVH_API_RUNNING : PVH_API_PAUSED;
    if (pvh_api_keep_restored(api, &api->started)) { /* GET /vm/config, PATCH /drives: its devices */
        pvh_api_fault(r, 500, "snapshot/load: the microVM was restored, but out of memory listing its devices");
        return;
    }
    no_content(r);
}

/* Firecracker endpoints pvhboot does not have (yet): a 400 saying so. */
static void not_built(struct pvh_api *api, const char *id, json_t *b, struct pvh_api_response *r)
{
    (void)api, (void)id, (void)b;
    pvh_api_fault(r, 400, "not built yet in pvhboot (docs/api.md lists the endpoints it has)");
}

/* ---- routes ------------------------------------------------------------------ */

enum when { ANY_TIME, BEFORE_BOOT, AFTER_BOOT };
enum body { NO_BODY, JSON_BODY };

struct route {
    const char *method, *path; /* a path ending in '/' takes an id after it */
    enum when when;
    enum body body;
    endpoint_fn *fn;
};

static const struct route routes[] = {
    {"GET", "/", ANY_TIME, NO_BODY, pvh_api_get_instance},
    {"GET", "/version", ANY_TIME, NO_BODY, pvh_api_get_version},
    {"GET", "/machine-config", ANY_TIME, NO_BODY, pvh_api_get_machine},
    {"PUT", "/machine-config", BEFORE_BOOT, JSON_BODY, put_machine},
    {"PATCH", "/machine-config", BEFORE_BOOT, JSON_BODY, patch_machine},
    {"PUT", "/boot-source", BEFORE_BOOT, JSON_BODY, put_boot_source},
    {"PUT", "/drives/", BEFORE_BOOT, JSON_BODY, put_drive},
    {"PATCH", "/drives/", AFTER_BOOT, JSON_BODY, patch_drive},
    {"PUT", "/entropy", BEFORE_BOOT, JSON_BODY, put_entropy},
    {"PUT", "/logger", BEFORE_BOOT, JSON_BODY, put_logger},
    {"PUT", "/metrics", BEFORE_BOOT, JSON_BODY, put_metrics},
    {"PUT", "/actions", ANY_TIME, JSON_BODY, put_actions},
    {"GET", "/vm/config", ANY_TIME, NO_BODY, pvh_api_get_vm_config},
    {"PATCH", "/vm", AFTER_BOOT, JSON_BODY, patch_vm},
    {"PUT", "/network-interfaces/", BEFORE_BOOT, JSON_BODY, put_net},
    {"PATCH", "/network-interfaces/", AFTER_BOOT, JSON_BODY, patch_net},
    {"PUT", "/vsock", BEFORE_BOOT, JSON_BODY, put_vsock},
    {"PUT", "/balloon", BEFORE_BOOT, NO_BODY, not_built},
    {"PUT", "/mmds", ANY_TIME, NO_BODY, not_built},
    {"PUT", "/mmds/config", BEFORE_BOOT, NO_BODY, not_built},
    {"PUT", "/snapshot/create", AFTER_BOOT, JSON_BODY, put_snapshot_create},
    {"PUT", "/snapshot/load", BEFORE_BOOT, JSON_BODY, put_snapshot_load},
    {"PUT", "/cpu-config", BEFORE_BOOT, NO_BODY, not_built},
};

/* Whether path is the route's, with *id the part after a trailing '/'. */
static bool route_matches(const struct route *rt, const char *path, const char **id)
{
    size_t n = strlen(rt->path);
    *id = NULL;
    if (n > 1 && rt->path[n - 1] == '/') {
        if (strncmp(path, rt->path, n) || !path[n] || strchr(path + n, '/'))
            return false;
        *id = path + n;
        return true;
    }
    return !strcmp(path, rt->path);
}

static void dispatch(struct pvh_api *api, const struct route *rt, const char *id, const char *body, size_t len,
                     struct pvh_api_response *r)
{
    if (rt->when == BEFORE_BOOT && api->state != PVH_API_NOT_STARTED) {
        pvh_api_fault(r, 400, "%s %s: only before InstanceStart (the microVM is running)", rt->method, rt->path);
        return;
    }
    if (rt->when == AFTER_BOOT && api->state == PVH_API_NOT_STARTED) {
        pvh_api_fault(r, 400, "%s %s: only after InstanceStart (the microVM is not running yet)", rt->method,
                      rt->path);
        return;
    }
    if (rt->body == NO_BODY) {
        rt->fn(api, id, NULL, r);
        return;
    }
    json_t *obj = pvh_api_parse_object(body, len, r);
    if (!obj)
        return;
    rt->fn(api, id, obj, r);
    json_decref(obj);
    if (rt->when == BEFORE_BOOT && r->status == 204 && rt->fn != put_logger && rt->fn != put_metrics)
        api->configured = true; /* Firecracker's rule: a snapshot loads only into a fresh microVM */
}

/* One line per request onto the logger's file, at level Info and above. */
static void log_request(struct pvh_api *api, const char *method, const char *path, const struct pvh_api_response *r)
{
    if (api->log_fd < 0 || pvh_api_log_level(api->log_level ? api->log_level : "Info") < 3)
        return;
    dprintf(api->log_fd, "%spvhboot%s%s: api: %.16s %.255s: %d\n", api->log_show_level ? "[Info] " : "",
            api->id ? ":" : "", api->id ? api->id : "", method, path, r->status);
}

void pvh_api_call(struct pvh_api *api, const char *method, const char *path, const char *body, size_t len,
                  struct pvh_api_response *r)
{
    r->status = 0;
    r->body = NULL;
    bool path_known = false;
    for (size_t i = 0; i < COUNT(routes); i++) {
        const char *id;
        if (!route_matches(&routes[i], path, &id))
            continue;
        path_known = true;
        if (!strcmp(routes[i].method, method)) {
            dispatch(api, &routes[i], id, body, len, r);
            log_request(api, method, path, r);
            return;
        }
    }
    if (path_known)
        pvh_api_fault(r, 400, "Invalid request method and/or path: %.16s %.200s (this path takes another method)",
                      method, path);
    else
        pvh_api_fault(r, 400, "Invalid request method and/or path: %.16s %.200s", method, path);
    log_request(api, method, path, r);
}
