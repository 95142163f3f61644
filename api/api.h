/* The Firecracker-compatible control API (docs/api.md), without sockets:
 * the bytes of one HTTP/1.1 request in (http.c, Debian's http-parser), a
 * status and a JSON body out; the endpoints (endpoints.c, jansson) validate
 * Firecracker's bodies and fill the same struct pvh_vm_config that
 * `pvhboot run`'s command line fills. What touches the VM or the host's
 * files goes through struct pvh_api_ops, so tests and the fuzzer fake it.
 * Library code: nothing here prints or exits. */
#ifndef PVHBOOT_API_H
#define PVHBOOT_API_H

#include <http_parser.h>
#include <stdbool.h>
#include <stddef.h>

#include "pvhboot/error.h"
#include "pvhboot/vmm.h"

#define PVH_API_MAX_BODY 51200 /* Firecracker's default payload limit */
#define PVH_API_MAX_HEAD 8192  /* request line and headers */
#define PVH_API_MAX_ID 64      /* --id */

enum pvh_api_state { PVH_API_NOT_STARTED, PVH_API_RUNNING, PVH_API_PAUSED };

/* The VMM and the host, as the endpoints see them. Each returns 0, or -1
 * with err's one line (it becomes the fault_message). A NULL hook: "not
 * built yet" (400). */
struct pvh_api_ops {
    void *ctx;
    /* InstanceStart: cfg (and its strings) stay valid until pvh_api_fini */
    int (*start)(void *ctx, const struct pvh_vm_config *cfg, struct pvh_error *err);
    int (*ctrl_alt_del)(void *ctx, struct pvh_error *err);
    int (*pause)(void *ctx, bool paused, struct pvh_error *err);
    /* PUT /logger, PUT /metrics: an fd to append to (the API owns it) */
    int (*open_output)(void *ctx, const char *path, struct pvh_error *err);
    /* FlushMetrics: one JSON line onto fd */
    int (*flush_metrics)(void *ctx, int fd, struct pvh_error *err);
    /* PATCH /drives/{id} after boot: the drive's new backing file */
    int (*swap_drive)(void *ctx, const char *drive_id, const char *path, struct pvh_error *err);
    /* a file named in a body must be readable (writable: want_write) */
    int (*check_file)(void *ctx, const char *path, bool want_write, struct pvh_error *err);
    /* PUT /snapshot/create, the VM paused: both files written, it stays paused */
    int (*snapshot_create)(void *ctx, const char *state_path, const char *mem_path, struct pvh_error *err);
    /* PUT /snapshot/load before boot: the VM restored from the files on cfg's
     * host side (serial, sandbox, ...), running (resume) or paused; cfg's
     * nets (each with its iface_id) and vsock (CID 0: the snapshot's) are
     * the clone overrides `pvhboot restore --net/--vsock` applies (and
     * cfg's drives with an id `--drive FILE,id=NAME`'s). On success the
     * hook sets cfg->ncpus, cfg->ram_size and cfg's drives, nets, vsock and
     * rng to the restored machine's as it runs (the snapshot's, overrides
     * applied; no devices when it ended already); their strings are the
     * hook's and stay valid until pvh_api_fini, as cfg does. */
    int (*snapshot_load)(void *ctx, struct pvh_vm_config *cfg, const char *state_path, const char *mem_path,
                         bool resume, struct pvh_error *err);
};

/* PUT /drives/{id}'s fields. */
struct pvh_api_drive {
    char *id, *path, *partuuid;
    bool root, read_only;
    enum pvh_cache_mode cache;
    bool cache_writeback; /* "Writeback" given (else Firecracker's default "Unsafe") */
};

/* PUT /network-interfaces/{id}'s fields: a virtio-net NIC on a host TAP. */
struct pvh_api_net {
    char *id, *tap;
    bool has_mac;
    uint8_t mac[6];
};

struct pvh_api {
    struct pvh_vm_config cfg;   /* machine-config, entropy; the rest is built at InstanceStart */
    const struct pvh_api_ops *ops;
    const char *version, *id;
    enum pvh_api_state state;
    char *kernel, *boot_args, *initrd;     /* boot-source */
    size_t ndrives;                         /* in PUT order; the root drive goes first at start (after a
                                               snapshot load: the restored machine's, pvh_api_keep_restored) */
    struct pvh_api_drive drives[PVH_MAX_DRIVES];
    size_t nnets;                           /* in PUT order: eth0 first */
    struct pvh_api_net nets[PVH_MAX_NETS];
    uint64_t vsock_cid;                     /* PUT /vsock; vsock_uds NULL: none */
    char *vsock_uds;
    bool entropy;
    char *log_path, *log_level;
    bool log_show_level, log_show_origin;
    int log_fd;
    char *metrics_path;
    int metrics_fd;
    bool configured;                        /* a boot resource was PUT (snapshot/load is refused after) */
    struct pvh_vm_config started;          /* what InstanceStart (or snapshot/load) handed to ops; after a
                                               load, the restored machine's (drives, nets, vsock: also copied
                                               into the lists above) */
    size_t nload_nets;                      /* snapshot/load's network_overrides: iface_id and TAP (copies) */
    struct pvh_api_net load_nets[PVH_MAX_NETS];
    char *load_vsock_uds;                   /* snapshot/load's vsock_override (a copy; NULL: none) */
    char *started_cmdline;
};

struct pvh_api_response {
    int status;  /* 200, 204, 400, 404, 405, 413, 500 */
    char *body;  /* JSON (malloc'd) or NULL (204) */
};

/* base: the config before any call (the command line's defaults and
 * options); version: GET /version's; id: GET /'s (--id). */
void pvh_api_init(struct pvh_api *api, const struct pvh_vm_config *base, const struct pvh_api_ops *ops,
                  const char *version, const char *id);
void pvh_api_fini(struct pvh_api *api);
void pvh_api_response_free(struct pvh_api_response *r);

/* One request, parsed: dispatch to its endpoint. */
void pvh_api_call(struct pvh_api *api, const char *method, const char *path, const char *body, size_t len,
                  struct pvh_api_response *r);

/* Firecracker's --config-file format: an object whose members are the PUT
 * bodies ("boot-source", "machine-config", "drives": [...], ...), applied
 * through the same endpoints. 0, or -1 with err naming the member. */
int pvh_api_load_config(struct pvh_api *api, const char *json, size_t len, struct pvh_error *err);

/* The VM config InstanceStart hands over: boot-source, the root drive
 * first with root= on the command line, the initrd as module 0. Its
 * strings belong to api. */
int pvh_api_build_config(struct pvh_api *api, struct pvh_vm_config *out, struct pvh_error *err);

/* ---- metrics (metrics.c) ------------------------------------------------------- */

/* What one FlushMetrics line says. */
struct pvh_api_metrics {
    uint64_t utc_ms;
    uint64_t requests, faults;          /* the API server's */
    enum pvh_api_state state;
    const struct pvh_vm_stats *vm;      /* the VM's counters; NULL when it does not run */
};
/* The line: one JSON object and '\n' (malloc'd; NULL when out of memory). */
char *pvh_api_metrics_line(const struct pvh_api_metrics *m);

/* ---- HTTP (http.c) ---------------------------------------------------------- */

/* One connection's request being received. */
struct pvh_api_conn {
    http_parser parser;
    char method[16];
    char url[256];
    size_t url_len, head_bytes;
    char *body;
    size_t body_len;
    bool complete, keep_alive;
    int error_status;            /* non-zero: answer this and close */
    char error_msg[128];
};

void pvh_api_conn_init(struct pvh_api_conn *c);
void pvh_api_conn_fini(struct pvh_api_conn *c);
/* Feeds bytes; *used says how many were taken (the rest belong to the
 * next request). Returns true once the request is complete or refused. */
bool pvh_api_conn_feed(struct pvh_api_conn *c, const char *buf, size_t n, size_t *used);
/* The answer to a complete (or refused) request. */
void pvh_api_conn_answer(struct pvh_api *api, struct pvh_api_conn *c, struct pvh_api_response *r);
/* The response's bytes (malloc'd; NULL when out of memory). */
char *pvh_api_format(const struct pvh_api_response *r, bool keep_alive, size_t *len);

/* The whole path for tests and the fuzzer: one request's bytes in, the
 * response out (an incomplete request: 400). */
void pvh_api_handle(struct pvh_api *api, const char *req, size_t n, struct pvh_api_response *r);

/* A fault: status and {"fault_message": "..."}. */
void pvh_api_fault(struct pvh_api_response *r, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
