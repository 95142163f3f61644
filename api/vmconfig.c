/* The API's state: set up and freed, shown as JSON (GET /, GET /version,
 * GET /machine-config, GET /vm/config), loaded from Firecracker's config
 * file through the endpoints, turned into the struct pvh_vm_config
 * InstanceStart hands to the VMM (the same struct `pvhboot run` fills),
 * and after a snapshot load filled from the restored machine's devices. */
#include "vmconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fields.h"

void pvh_api_init(struct pvh_api *api, const struct pvh_vm_config *base, const struct pvh_api_ops *ops,
                  const char *version, const char *id)
{
    memset(api, 0, sizeof(*api));
    api->cfg = *base;
    api->ops = ops;
    api->version = version;
    api->id = id;
    api->log_fd = api->metrics_fd = -1;
}

void pvh_api_drive_free(struct pvh_api_drive *d)
{
    free(d->id);
    free(d->path);
    free(d->partuuid);
    memset(d, 0, sizeof(*d));
}

void pvh_api_net_free(struct pvh_api_net *n)
{
    free(n->id);
    free(n->tap);
    memset(n, 0, sizeof(*n));
}

void pvh_api_fini(struct pvh_api *api)
{
    for (size_t i = 0; i < api->ndrives; i++)
        pvh_api_drive_free(&api->drives[i]);
    for (size_t i = 0; i < api->nnets; i++)
        pvh_api_net_free(&api->nets[i]);
    free(api->kernel);
    free(api->boot_args);
    free(api->initrd);
    free(api->log_path);
    free(api->log_level);
    free(api->metrics_path);
    free(api->vsock_uds);
    free(api->started_cmdline);
    for (size_t i = 0; i < api->nload_nets; i++)
        pvh_api_net_free(&api->load_nets[i]);
    free(api->load_vsock_uds);
    if (api->log_fd >= 0)
        close(api->log_fd);
    if (api->metrics_fd >= 0)
        close(api->metrics_fd);
    memset(api, 0, sizeof(*api));
    api->log_fd = api->metrics_fd = -1;
}

/* r = 200 with o's text; o is consumed. */
static void json_reply(struct pvh_api_response *r, json_t *o)
{
    r->body = o ? json_dumps(o, JSON_COMPACT) : NULL;
    r->status = 200;
    json_decref(o);
    if (!r->body)
        pvh_api_fault(r, 500, "out of memory");
}

static const char *state_name(enum pvh_api_state s)
{
    return s == PVH_API_NOT_STARTED ? "Not started" : s == PVH_API_RUNNING ? "Running" : "Paused";
}

void pvh_api_get_instance(struct pvh_api *api, const char *id, json_t *b, struct pvh_api_response *r)
{
    (void)id, (void)b;
    json_reply(r, json_pack("{s:s, s:s, s:s, s:s}", "app_name", "pvhboot", "id", api->id ? api->id : "anonymous-instance",
                            "state", state_name(api->state), "vmm_version", api->version));
}

void pvh_api_get_version(struct pvh_api *api, const char *id, json_t *b, struct pvh_api_response *r)
{
    (void)id, (void)b;
    json_reply(r, json_pack("{s:s}", "firecracker_version", api->version));
}

static json_t *machine_json(const struct pvh_vm_config *cfg)
{
    return json_pack("{s:i, s:I, s:b, s:b, s:s}", "vcpu_count", (int)cfg->ncpus, "mem_size_mib",
                     (json_int_t)(cfg->ram_size >> 20), "smt", 0, "track_dirty_pages", 0, "huge_pages", "None");
}

void pvh_api_get_machine(struct pvh_api *api, const char *id, json_t *b, struct pvh_api_response *r)
{
    (void)id, (void)b;
    json_reply(r, machine_json(&api->cfg));
}

static json_t *boot_source_json(const struct pvh_api *api)
{
    if (!api->kernel)
        return NULL;
    json_t *o = json_pack("{s:s}", "kernel_image_path", api->kernel);
    if (o && api->boot_args)
        json_object_set_new(o, "boot_args", json_string(api->boot_args));
    if (o && api->initrd)
        json_object_set_new(o, "initrd_path", json_string(api->initrd));
    return o;
}

static json_t *drives_json(const struct pvh_api *api)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < api->ndrives; i++) {
        const struct pvh_api_drive *d = &api->drives[i];
        json_t *o = json_pack("{s:s, s:b, s:b, s:s, s:s, s:s}", "drive_id", d->id, "is_root_device", d->root,
                              "is_read_only", d->read_only, "path_on_host", d->path, "cache_type",
                              d->cache_writeback ? "Writeback" : "Unsafe", "io_engine", "Sync");
        if (o && d->partuuid)
            json_object_set_new(o, "partuuid", json_string(d->partuuid));
        json_array_append_new(a, o);
    }
    return a;
}

static json_t *nets_json(const struct pvh_api *api)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < api->nnets; i++) {
        const struct pvh_api_net *n = &api->nets[i];
        json_t *o = json_pack("{s:s, s:s}", "iface_id", n->id, "host_dev_name", n->tap);
        char mac[18];
        snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", n->mac[0], n->mac[1], n->mac[2], n->mac[3],
                 n->mac[4], n->mac[5]);
        if (o && n->has_mac)
            json_object_set_new(o, "guest_mac", json_string(mac));
        json_array_append_new(a, o);
    }
    return a;
}

static json_t *logger_json(const struct pvh_api *api)
{
    if (!api->log_level)
        return NULL;
    json_t *o = json_pack("{s:s, s:b, s:b}", "level", api->log_level, "show_level", api->log_show_level,
                          "show_log_origin", api->log_show_origin);
    if (o && api->log_path)
        json_object_set_new(o, "log_path", json_string(api->log_path));
    return o;
}

/* Sets key to v unless v is NULL: Firecracker's schema (FullVmConfiguration)
 * has each member an object or absent, so what is not configured is left
 * out rather than sent as null. */
static void set_if(json_t *o, const char *key, json_t *v)
{
    if (v)
        json_object_set_new(o, key, v);
}

void pvh_api_get_vm_config(struct pvh_api *api, const char *id, json_t *b, struct pvh_api_response *r)
{
    (void)id, (void)b;
    json_t *o = json_object();
    if (o) {
        set_if(o, "boot-source", boot_source_json(api));
        set_if(o, "machine-config", machine_json(&api->cfg));
        set_if(o, "drives", drives_json(api));
        set_if(o, "network-interfaces", nets_json(api));
        set_if(o, "vsock", api->vsock_uds ? json_pack("{s:I, s:s}", "guest_cid", (json_int_t)api->vsock_cid,
                                                      "uds_path", api->vsock_uds) : NULL);
        set_if(o, "entropy", api->entropy ? json_object() : NULL);
        set_if(o, "logger", logger_json(api));
        set_if(o, "metrics", api->metrics_path ? json_pack("{s:s}", "metrics_path", api->metrics_path) : NULL);
    }
    json_reply(r, o);
}

/* ---- a restored machine's devices ------------------------------------------------- */

static void forget_devices(struct pvh_api *api)
{
    for (size_t i = 0; i < api->ndrives; i++)
        pvh_api_drive_free(&api->drives[i]);
    for (size_t i = 0; i < api->nnets; i++)
        pvh_api_net_free(&api->nets[i]);
    api->ndrives = api->nnets = 0;
    free(api->vsock_uds);
    api->vsock_uds = NULL;
    api->vsock_cid = 0;
    api->entropy = false;
}

/* A drive as PUT /drives would have made it: cache_type as recorded (cache
 * none, O_DIRECT, which the API cannot ask for, shows as "Writeback": the
 * guest's flushes reach the disk). */
static int keep_drive(struct pvh_api *api, const struct pvh_vm_drive *d)
{
    struct pvh_api_drive *k = &api->drives[api->ndrives++];
    *k = (struct pvh_api_drive){.root = d->root, .read_only = d->read_only, .cache = d->cache,
                                .cache_writeback = d->api_writeback || d->cache == PVH_CACHE_NONE};
    return pvh_set_string(&k->id, d->id) && pvh_set_string(&k->path, d->path) ? 0 : -1;
}

static int keep_net(struct pvh_api *api, const struct pvh_vm_net *n)
{
    struct pvh_api_net *k = &api->nets[api->nnets++];
    *k = (struct pvh_api_net){.has_mac = n->has_mac};
    memcpy(k->mac, n->mac, sizeof(k->mac));
    return pvh_set_string(&k->id, n->id) && pvh_set_string(&k->tap, n->tap) ? 0 : -1;
}

int pvh_api_keep_restored(struct pvh_api *api, const struct pvh_vm_config *cfg)
{
    forget_devices(api);
    for (size_t i = 0; i < cfg->ndrives && i < PVH_MAX_DRIVES; i++)
        if (cfg->drives[i].id && keep_drive(api, &cfg->drives[i]))
            goto oom;
    for (size_t i = 0; i < cfg->nnets && i < PVH_MAX_NETS; i++)
        if (cfg->nets[i].id && keep_net(api, &cfg->nets[i]))
            goto oom;
    if (cfg->vsock.uds_path && !pvh_set_string(&api->vsock_uds, cfg->vsock.uds_path))
        goto oom;
    api->vsock_cid = cfg->vsock.cid;
    api->entropy = cfg->rng == PVH_RNG_ON;
    return 0;
oom:
    forget_devices(api);
    return -1;
}

/* ---- the config file ------------------------------------------------------------ */

/* The fault's text without the endpoint's own "name: " prefix. */
static const char *unprefixed(const char *msg, const char *name)
{
    size_t n = strlen(name);
    return !strncmp(msg, name, n) && !strncmp(msg + n, ": ", 2) ? msg + n + 2 : msg;
}

/* One member's body through its endpoint: PUT /name[/id]. */
static int put_member(struct pvh_api *api, const char *path, json_t *value, const char *member, struct pvh_error *err)
{
    char *body = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
    struct pvh_api_response r = {0};
    if (!body)
        return pvh_fail(err, PVH_E_SYSTEM, "out of memory");
    pvh_api_call(api, "PUT", path, body, strlen(body), &r);
    free(body);
    int rc = 0;
    if (r.status != 204) {
        json_t *fault = r.body ? json_loads(r.body, 0, NULL) : NULL;
        const char *msg = json_string_value(json_object_get(fault, "fault_message"));
        char name[32];
        snprintf(name, sizeof(name), "%.*s", (int)strcspn(path + 1, "/"), path + 1);
        rc = pvh_fail(err, PVH_E_INPUT, "%s: %s", member, msg ? unprefixed(msg, name) : "refused");
        json_decref(fault);
    }
    pvh_api_response_free(&r);
    return rc;
}

/* An array member ("drives", "network-interfaces"): each element PUT to
 * /name/<its id_key>. */
static int put_array(struct pvh_api *api, const char *name, const char *id_key, json_t *items, struct pvh_error *err)
{
    size_t i;
    json_t *d;
    if (!json_is_array(items))
        return pvh_fail(err, PVH_E_INPUT, "%s: expected an array of objects", name);
    json_array_foreach(items, i, d) {
        const char *id = json_string_value(json_object_get(d, id_key));
        char path[128], member[48];
        if (!json_is_object(d) || !id || strlen(id) > 64 || strchr(id, '/') || strchr(id, '?'))
            return pvh_fail(err, PVH_E_INPUT, "%s[%zu]: expected an object with its %s", name, i, id_key);
        snprintf(path, sizeof(path), "/%s/%s", name, id);
        snprintf(member, sizeof(member), "%s[%zu]", name, i);
        if (put_member(api, path, d, member, err))
            return -1;
    }
    return 0;
}

/* The members in the order a boot needs them; each a PUT body. */
static const char *const config_members[] = {"machine-config", "boot-source", "entropy", "vsock", "logger", "metrics"};

static int known_member(const char *key)
{
    static const char *const others[] = {"drives", "network-interfaces", "vsock", "balloon", "mmds-config",
                                         "cpu-config"};
    for (size_t i = 0; i < sizeof(config_members) / sizeof(config_members[0]); i++)
        if (!strcmp(key, config_members[i]))
            return 1;
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
        if (!strcmp(key, others[i]))
            return 1;
    return 0;
}

static int check_members(json_t *root, struct pvh_error *err)
{
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        if (!known_member(key))
            return pvh_fail(err, PVH_E_INPUT, "unknown member '%.64s' (members: boot-source, machine-config, "
                            "drives, network-interfaces, vsock, entropy, logger, metrics)", key);
        if (json_is_null(v) || (json_is_array(v) && json_array_size(v) == 0))
            continue;
        if (!strcmp(key, "balloon") ||
            !strcmp(key, "mmds-config") || !strcmp(key, "cpu-config"))
            return pvh_fail(err, PVH_E_INPUT, "%s: not built yet in pvhboot (docs/api.md)", key);
    }
    return 0;
}

int pvh_api_load_config(struct pvh_api *api, const char *json, size_t len, struct pvh_error *err)
{
    json_error_t e;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &e);
    if (!root)
        return pvh_fail(err, PVH_E_INPUT, "line %d, column %d: %s", e.line, e.column, e.text);
    int rc = json_is_object(root) ? check_members(root, err)
                                  : pvh_fail(err, PVH_E_INPUT, "expected a JSON object (Firecracker's config file)");
    for (size_t i = 0; !rc && i < sizeof(config_members) / sizeof(config_members[0]); i++) {
        json_t *v = json_object_get(root, config_members[i]);
        char path[32];
        snprintf(path, sizeof(path), "/%s", config_members[i]);
        if (v && !json_is_null(v))
            rc = put_member(api, path, v, config_members[i], err);
    }
    json_t *drives = json_object_get(root, "drives"), *nets = json_object_get(root, "network-interfaces");
    if (!rc && drives && !json_is_null(drives))
        rc = put_array(api, "drives", "drive_id", drives, err);
    if (!rc && nets && !json_is_null(nets))
        rc = put_array(api, "network-interfaces", "iface_id", nets, err);
    json_decref(root);
    return rc;
}

/* ---- InstanceStart's config -------------------------------------------------------- */

/* The boot arguments with root= for the root drive, as Firecracker adds it. */
static int root_cmdline(struct pvh_api *api, const struct pvh_api_drive *root, const char *args, struct pvh_error *err)
{
    char *line = NULL;
    int n = root->partuuid ? asprintf(&line, "%s root=PARTUUID=%s %s", args, root->partuuid, root->read_only ? "ro" : "rw")
                           : asprintf(&line, "%s root=/dev/vda %s", args, root->read_only ? "ro" : "rw");
    if (n < 0)
        return pvh_fail(err, PVH_E_SYSTEM, "out of memory");
    free(api->started_cmdline);
    api->started_cmdline = line;
    return 0;
}

static void add_drive(struct pvh_vm_config *out, const struct pvh_api_drive *d)
{
    out->drives[out->ndrives++] = (struct pvh_vm_drive){.path = d->path, .id = d->id, .read_only = d->read_only,
                                                        .cache = d->cache, .root = d->root,
                                                        .api_writeback = d->cache_writeback};
}

static int build_drives(struct pvh_api *api, struct pvh_vm_config *out, struct pvh_error *err)
{
    const struct pvh_api_drive *root = NULL;
    if (out->ndrives + api->ndrives > PVH_MAX_DRIVES)
        return pvh_fail(err, PVH_E_INPUT, "more than %d drives", PVH_MAX_DRIVES);
    struct pvh_vm_drive base[PVH_MAX_DRIVES];
    size_t nbase = out->ndrives;
    memcpy(base, out->drives, nbase * sizeof(base[0]));
    out->ndrives = 0;
    for (size_t i = 0; i < api->ndrives; i++)
        if (api->drives[i].root)
            add_drive(out, root = &api->drives[i]); /* /dev/vda */
    for (size_t i = 0; i < api->ndrives; i++)
        if (!api->drives[i].root)
            add_drive(out, &api->drives[i]);
    memcpy(out->drives + out->ndrives, base, nbase * sizeof(base[0]));
    out->ndrives += nbase;
    const char *args = api->boot_args ? api->boot_args : out->cmdline;
    if (root && root_cmdline(api, root, args ? args : "console=ttyS0", err))
        return -1;
    out->cmdline = root ? api->started_cmdline : args;
    return 0;
}

/* The API's NICs after the command line's (eth0 is the first given). */
static int build_nets(const struct pvh_api *api, struct pvh_vm_config *out, struct pvh_error *err)
{
    if (out->nnets + api->nnets > PVH_MAX_NETS)
        return pvh_fail(err, PVH_E_INPUT, "more than %d network interfaces", PVH_MAX_NETS);
    for (size_t i = 0; i < api->nnets; i++) {
        const struct pvh_api_net *n = &api->nets[i];
        for (size_t k = 0; k < out->nnets; k++)
            if (!strcmp(out->nets[k].tap, n->tap))
                return pvh_fail(err, PVH_E_INPUT, "TAP %s from both the command line and network-interfaces", n->tap);
        struct pvh_vm_net *o = &out->nets[out->nnets++];
        *o = (struct pvh_vm_net){.tap = n->tap, .has_mac = n->has_mac, .id = n->id}; /* a snapshot keeps the id */
        memcpy(o->mac, n->mac, sizeof(o->mac));
    }
    return 0;
}

int pvh_api_build_config(struct pvh_api *api, struct pvh_vm_config *out, struct pvh_error *err)
{
    *out = api->cfg;
    if (api->kernel && out->kernel)
        return pvh_fail(err, PVH_E_INPUT, "a kernel from both the command line (%s) and boot-source (%s)", out->kernel,
                        api->kernel);
    if (!api->kernel && !out->kernel)
        return pvh_fail(err, PVH_E_INPUT, "no kernel: PUT /boot-source first");
    if (api->boot_args && out->cmdline)
        return pvh_fail(err, PVH_E_INPUT, "boot arguments from both the command line and boot-source's boot_args");
    if (api->kernel)
        out->kernel = api->kernel;
    if (api->vsock_uds) {
        if (out->vsock.uds_path)
            return pvh_fail(err, PVH_E_INPUT, "a vsock from both the command line (--vsock) and PUT /vsock");
        out->vsock = (struct pvh_vm_vsock){.cid = api->vsock_cid, .uds_path = api->vsock_uds};
    }
    if (api->initrd) {
        if (out->nmodules)
            return pvh_fail(err, PVH_E_INPUT, "an initrd from both the command line and boot-source's initrd_path");
        out->modules[0] = (struct pvh_vm_module){api->initrd, NULL};
        out->nmodules = 1;
    }
    return build_nets(api, out, err) ? -1 : build_drives(api, out, err);
}
