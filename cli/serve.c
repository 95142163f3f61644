/* `pvhboot serve --api-sock PATH [--id NAME] [run's options]` (and
 * `pvhboot --api-sock PATH ...`, Firecracker's way): the control API
 * (api/, docs/api.md) on a UNIX socket. One thread serves every client
 * from an epoll loop with non-blocking sockets, so a client that sends
 * slowly or never reads only holds its own slot (and loses it after
 * REQUEST_TIMEOUT_S for one request, IDLE_TIMEOUT_S idle). The command
 * line's options are the base config the API calls build on (the same
 * struct `run` fills); InstanceStart runs it on a VM thread through
 * run_config, exactly as `run` would, and waits until the guest runs or
 * its setup failed; SendCtrlAltDel types on the VM's i8042, PATCH /vm pauses
 * it (vmm/control.c), PUT /snapshot/create writes the paused VM's files and
 * PUT /snapshot/load restores one on the VM thread instead of booting. The process ends with the VM, with run's exit status;
 * the socket file goes with it (sock_janitor.c), however it ends. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "api_host.h"
#include "cli.h"
#include "run_options.h"
#include "sock_janitor.h"

#define MAX_CLIENTS 256
#define REQUEST_TIMEOUT_S 10 /* from a request's first byte to its last */
#define IDLE_TIMEOUT_S 60
#define API_DEFAULT_MEM (128ull << 20) /* Firecracker's default machine-config */

struct client {
    int fd;
    struct pvh_api_conn conn;
    bool receiving;          /* a request has begun */
    time_t since;            /* its first byte, or the last answer */
    char *out;               /* response bytes not yet written */
    size_t out_len, out_at;
    bool close_after;        /* answered a refused request: close once written */
};

struct server {
    int listen_fd, epoll_fd, end_fd;
    struct sock_janitor janitor; /* removes the socket file when serve ends */
    struct client *clients[MAX_CLIENTS];
    struct pvh_api api;
    struct pvh_api_ops ops;
    /* the VM */
    struct pvh_vm_control *control;
    pthread_t vm_thread;
    bool vm_thread_started;
    struct pvh_vm_config vm_cfg;   /* the VM thread's copy */
    char *load_state, *load_mem;   /* PUT /snapshot/load: the VM thread restores these instead of booting */
    char *load_strings;            /* the restored devices' strings the API's started config points to */
    struct pvh_error load_err;     /* why the restore failed, for the fault_message */
    int vm_status;
    unsigned long requests, faults;
};

/* ---- the socket ---------------------------------------------------------------- */

/* A socket file nobody listens on (connect refused) is replaced; anything
 * else at PATH is left alone. */
static int clear_stale_socket(const char *path, struct pvh_error *err)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : pvh_fail(err, PVH_E_INPUT, "--api-sock %s: %s", path, strerror(errno));
    if (!S_ISSOCK(st.st_mode))
        return pvh_fail(err, PVH_E_INPUT, "--api-sock %s: exists and is not a socket; remove it or pick another path",
                        path);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return pvh_fail(err, PVH_E_SYSTEM, "socket: %s", strerror(errno));
    int rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    int e = errno;
    close(fd);
    if (rc == 0)
        return pvh_fail(err, PVH_E_INPUT, "--api-sock %s: another process listens on it", path);
    if (e != ECONNREFUSED)
        return pvh_fail(err, PVH_E_INPUT, "--api-sock %s: %s", path, strerror(e));
    if (unlink(path) != 0)
        return pvh_fail(err, PVH_E_SYSTEM, "--api-sock %s: stale socket: %s", path, strerror(errno));
    return 0;
}

static int listen_on(const char *path, struct pvh_error *err)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path))
        return pvh_fail(err, PVH_E_INPUT, "--api-sock %s: longer than %zu bytes", path, sizeof(sa.sun_path) - 1);
    if (clear_stale_socket(path, err))
        return -1;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return pvh_fail(err, PVH_E_SYSTEM, "socket: %s", strerror(errno));
    mode_t old = umask(0177); /* the socket: 0600, its owner's only */
    int rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    umask(old);
    if (rc != 0 || listen(fd, 128) != 0) {
        pvh_fail(err, PVH_E_INPUT, "--api-sock %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* ---- the VM --------------------------------------------------------------------- */

/* PUT /snapshot/load on the VM thread: `pvhboot restore`'s run, its
 * failure kept for the fault_message. */
static int restore_config(struct server *s)
{
    struct pvh_vm_result *res = malloc(sizeof(*res));
    if (!res)
        return cli_report(&(struct pvh_error){.code = PVH_E_SYSTEM, .msg = "out of memory"});
    struct pvh_error err = {0};
    int rc;
    if (pvh_vm_restore(&s->vm_cfg, s->load_state, s->load_mem, res, &s->load_err) != 0) {
        rc = cli_report(&s->load_err);
    } else {
        fflush(stdout);
        if (s->vm_cfg.verbose)
            run_print_stats(res);
        rc = run_exit_status(&s->vm_cfg, res, &err);
    }
    free(res);
    return rc;
}

static void *vm_thread(void *arg)
{
    struct server *s = arg;
    s->vm_status = s->load_state ? restore_config(s) : run_config(&s->vm_cfg);
    pvh_vm_control_end(s->control); /* also when it never reached the guest */
    uint64_t one = 1;
    if (write(s->end_fd, &one, sizeof(one)) < 0) {
        /* the loop also sees the control's end at its next tick */
    }
    return NULL;
}

/* The VM's thread started on cfg (booting it, or restoring load_state);
 * returns once its guest runs (0) or its setup failed (-1). */
static int start_vm_thread(struct server *s, const struct pvh_vm_config *cfg, struct pvh_error *err)
{
    if (s->vm_thread_started) { /* a start that failed before: its thread is over */
        pthread_join(s->vm_thread, NULL);
        s->vm_thread_started = false;
        pvh_vm_control_free(s->control);
    }
    s->control = pvh_vm_control_new();
    if (!s->control)
        return pvh_fail(err, PVH_E_SYSTEM, "out of memory");
    s->vm_cfg = *cfg;
    s->vm_cfg.control = s->control;
    s->vm_cfg.api_server = true;
    int rc = pthread_create(&s->vm_thread, NULL, vm_thread, s);
    if (rc)
        return pvh_fail(err, PVH_E_SYSTEM, "cannot start the VM's thread: %s", strerror(rc));
    s->vm_thread_started = true;
    if (pvh_vm_control_wait_running(s->control) == 0)
        return 0;
    pthread_join(s->vm_thread, NULL);
    if (s->vm_cfg.dry_run && s->vm_status == 0)
        return 0; /* --dry-run: the plan is printed and the server ends, as run --dry-run does */
    s->vm_thread_started = false;
    pvh_vm_control_free(s->control); /* its thread is over; a retry makes a new one */
    s->control = NULL;
    uint64_t drop;
    if (read(s->end_fd, &drop, sizeof(drop)) < 0) {
        /* nothing was pending */
    }
    if (s->load_state && s->load_err.msg[0])
        return pvh_fail(err, s->load_err.code, "%s", s->load_err.msg);
    return pvh_fail(err, PVH_E_INPUT, "the VM could not start (exit status %d; pvhboot's stderr says why)",
                    s->vm_status);
}

static int op_start(void *ctx, const struct pvh_vm_config *cfg, struct pvh_error *err)
{
    struct server *s = ctx;
    free(s->load_state); /* a load that failed before: this one boots */
    free(s->load_mem);
    s->load_state = s->load_mem = NULL;
    return start_vm_thread(s, cfg, err);
}

/* PUT /snapshot/load: the VM restored on its thread, as `pvhboot restore`
 * would, with the command line's host side (serial, sandbox, --timeout) and
 * cfg's clone overrides (network_overrides, vsock_override, --drive
 * id=NAME); paused before its first instruction unless resume. cfg then
 * says the restored machine's vCPUs, RAM and devices as it runs (read from
 * the VM: vmm/control.c), or, when it ended already, the command line's
 * vCPUs and RAM and no devices. */
static int op_snapshot_load(void *ctx, struct pvh_vm_config *cfg, const char *state_path, const char *mem_path,
                            bool resume, struct pvh_error *err)
{
    struct server *s = ctx;
    if (cfg->dry_run)
        return pvh_fail(err, PVH_E_INPUT, "--dry-run: nothing is restored");
    free(s->load_state);
    free(s->load_mem);
    s->load_state = strdup(state_path);
    s->load_mem = strdup(mem_path);
    s->load_err = (struct pvh_error){0};
    if (!s->load_state || !s->load_mem)
        return pvh_fail(err, PVH_E_SYSTEM, "out of memory");
    struct pvh_vm_config restore_cfg = *cfg;
    restore_cfg.start_paused = !resume;
    if (start_vm_thread(s, &restore_cfg, err))
        return -1;
    struct pvh_error over = {0};
    char *strings = NULL;
    if (pvh_vm_config_now(s->control, cfg, &strings, &over) != 0) {
        cfg->ndrives = cfg->nnets = 0; /* it ended already (or no memory): nothing to list */
        cfg->vsock = (struct pvh_vm_vsock){0};
        cfg->rng = PVH_RNG_OFF;
    }
    free(s->load_strings);
    s->load_strings = strings;
    return 0;
}

/* PUT /snapshot/create: the paused VM's files, written from this thread
 * while its vCPUs stay parked (vmm/control.c). */
static int op_snapshot_create(void *ctx, const char *state_path, const char *mem_path, struct pvh_error *err)
{
    struct server *s = ctx;
    return pvh_vm_snapshot_create(s->control, state_path, mem_path, err);
}

static int op_ctrl_alt_del(void *ctx, struct pvh_error *err)
{
    struct server *s = ctx;
    return pvh_vm_ctrl_alt_del(s->control, err);
}

static int op_pause(void *ctx, bool paused, struct pvh_error *err)
{
    struct server *s = ctx;
    return pvh_vm_pause(s->control, paused, err);
}

static int op_swap_drive(void *ctx, const char *drive_id, const char *path, struct pvh_error *err)
{
    struct server *s = ctx;
    return pvh_vm_swap_drive(s->control, drive_id, path, err);
}

/* One JSON line (api/metrics.c): what the API server counted, the VM's
 * state and, while it runs, its counters (--verbose's). */
static int op_flush_metrics(void *ctx, int fd, struct pvh_error *err)
{
    struct server *s = ctx;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct pvh_vm_stats st = {0};
    struct pvh_error not_running = {0};
    bool live = s->control && s->api.state != PVH_API_NOT_STARTED &&
                pvh_vm_counters(s->control, &st, &not_running) == 0;
    struct pvh_api_metrics m = {.utc_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000,
                                .requests = s->requests, .faults = s->faults, .state = s->api.state,
                                .vm = live ? &st : NULL};
    char *line = pvh_api_metrics_line(&m);
    if (!line)
        return pvh_fail(err, PVH_E_SYSTEM, "metrics: out of memory");
    size_t n = strlen(line);
    errno = 0;
    ssize_t w = write(fd, line, n);
    free(line);
    if (w != (ssize_t)n)
        return pvh_fail(err, PVH_E_SYSTEM, "metrics: %s", errno ? strerror(errno) : "short write");
    return 0;
}

/* ---- clients -------------------------------------------------------------------- */

static void drop_client(struct server *s, int slot)
{
    struct client *c = s->clients[slot];
    epoll_ctl(s->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    pvh_api_conn_fini(&c->conn);
    free(c->out);
    free(c);
    s->clients[slot] = NULL;
}

static void accept_clients(struct server *s)
{
    for (;;) {
        int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        int slot = 0;
        while (slot < MAX_CLIENTS && s->clients[slot])
            slot++;
        struct client *c = slot < MAX_CLIENTS ? calloc(1, sizeof(*c)) : NULL;
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)slot};
        if (!c || epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0) {
            free(c);
            close(fd); /* full: the client retries */
            continue;
        }
        c->fd = fd;
        c->since = time(NULL);
        pvh_api_conn_init(&c->conn);
        s->clients[slot] = c;
    }
}

/* Writes what is pending; false when the client is gone. */
static bool flush_client(struct server *s, int slot)
{
    struct client *c = s->clients[slot];
    while (c->out_at < c->out_len) {
        ssize_t n = write(c->fd, c->out + c->out_at, c->out_len - c->out_at);
        if (n < 0 && errno == EAGAIN)
            break;
        if (n <= 0)
            return false;
        c->out_at += (size_t)n;
    }
    bool pending = c->out_at < c->out_len;
    struct epoll_event ev = {.events = pending ? EPOLLOUT : EPOLLIN, .data.u32 = (uint32_t)slot};
    epoll_ctl(s->epoll_fd, EPOLL_CTL_MOD, c->fd, &ev);
    return pending || !c->close_after;
}

static void answer(struct server *s, struct client *c)
{
    struct pvh_api_response r = {0};
    pvh_api_conn_answer(&s->api, &c->conn, &r);
    s->requests++;
    s->faults += r.status >= 400;
    bool keep = c->conn.keep_alive && !c->conn.error_status;
    size_t n;
    char *bytes = pvh_api_format(&r, keep, &n);
    pvh_api_response_free(&r);
    char *grown = bytes ? realloc(c->out, c->out_len - c->out_at + n) : NULL;
    if (grown) {
        memmove(grown, grown + c->out_at, c->out_len - c->out_at);
        memcpy(grown + c->out_len - c->out_at, bytes, n);
        c->out = grown;
        c->out_len = c->out_len - c->out_at + n;
        c->out_at = 0;
    }
    free(bytes);
    c->close_after = !keep || !grown;
    pvh_api_conn_fini(&c->conn);
    pvh_api_conn_init(&c->conn);
    c->receiving = false;
    c->since = time(NULL);
}

/* Reads what the client sent and answers each complete request; a client
 * with answers not yet taken is not read (it cannot pile them up). */
static void read_client(struct server *s, int slot)
{
    struct client *c = s->clients[slot];
    char buf[4096];
    ssize_t n = read(c->fd, buf, sizeof(buf));
    if (n <= 0) {
        if (n == 0 || errno != EAGAIN)
            drop_client(s, slot);
        return;
    }
    size_t at = 0;
    if (!c->receiving)
        c->receiving = true, c->since = time(NULL);
    while (at < (size_t)n && !c->close_after) {
        size_t used;
        bool done = pvh_api_conn_feed(&c->conn, buf + at, (size_t)n - at, &used);
        at += used;
        if (!done)
            break;
        answer(s, c);
        if (at < (size_t)n)
            c->receiving = true;
    }
    if (!flush_client(s, slot))
        drop_client(s, slot);
}

static void expire_clients(struct server *s)
{
    time_t now = time(NULL);
    for (int i = 0; i < MAX_CLIENTS; i++) {
        struct client *c = s->clients[i];
        if (c && now - c->since > (c->receiving ? REQUEST_TIMEOUT_S : IDLE_TIMEOUT_S))
            drop_client(s, i);
    }
}

/* ---- the loop ------------------------------------------------------------------- */

#define LISTEN_TAG 0xfffffffeu
#define END_TAG 0xffffffffu

static int serve_loop(struct server *s)
{
    struct epoll_event evs[32];
    for (;;) {
        int n = epoll_wait(s->epoll_fd, evs, 32, 1000);
        if (n < 0 && errno != EINTR)
            return PVH_EXIT_VMM_ERROR;
        for (int i = 0; i < n; i++) {
            uint32_t tag = evs[i].data.u32;
            if (tag == END_TAG && s->api.state != PVH_API_NOT_STARTED)
                return s->vm_status;
            if (tag == LISTEN_TAG)
                accept_clients(s);
            else if (tag < MAX_CLIENTS && s->clients[tag] && (evs[i].events & EPOLLOUT)) {
                if (!flush_client(s, (int)tag))
                    drop_client(s, (int)tag);
            } else if (tag < MAX_CLIENTS && s->clients[tag]) {
                read_client(s, (int)tag);
            }
        }
        expire_clients(s);
    }
}

static int watch(struct server *s, int fd, uint32_t tag)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = tag};
    return epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, fd, &ev);
}

/* ---- the verb ------------------------------------------------------------------- */

static void serve_usage(FILE *f)
{
    fprintf(f, "usage: pvhboot serve --api-sock PATH [--id NAME] [--config-file FILE] [run's options, KERNEL optional]\n"
               "       pvhboot --api-sock PATH [--id NAME] [options]   (Firecracker's way of starting)\n"
               "  the Firecracker-compatible API on a UNIX socket (mode 0600): the VM is configured\n"
               "  through it and booted by PUT /actions {\"action_type\": \"InstanceStart\"}; run's options\n"
               "  (--serial, --timeout, --user, --no-sandbox, ...) are the config the calls build on.\n"
               "  --config-file FILE: Firecracker's JSON config through the same endpoints, then\n"
               "  InstanceStart at once; the API stays up.\n"
               "  The process ends with the VM, with run's exit status.  Manual: docs/api.md\n");
}

struct serve_options {
    const char *sock, *id, *config_file;
};

/* Takes --api-sock, --id and --config-file out of argv (the rest is run's). */
static int take_serve_options(int *argc, char **argv, struct serve_options *o)
{
    int out = 1;
    const char **sock = &o->sock, **id = &o->id;
    for (int i = 1; i < *argc; i++) {
        const char **dst = !strcmp(argv[i], "--api-sock") ? sock : !strcmp(argv[i], "--id") ? id
                           : !strcmp(argv[i], "--config-file") ? &o->config_file : NULL;
        if (!dst) {
            argv[out++] = argv[i];
            continue;
        }
        if (i + 1 >= *argc) {
            fprintf(stderr, "pvhboot: serve: %s: missing value\n", argv[i]);
            return PVH_EXIT_BAD_INPUT;
        }
        *dst = argv[++i];
    }
    *argc = out;
    if (!*sock) {
        serve_usage(stderr);
        return PVH_EXIT_BAD_INPUT;
    }
    size_t n = *id ? strlen(*id) : 1;
    for (size_t i = 0; *id && i < n; i++)
        if ((*id)[i] < 0x21 || (*id)[i] > 0x7e)
            n = 0;
    if (n == 0 || n > PVH_API_MAX_ID) {
        fprintf(stderr, "pvhboot: serve: --id %s: 1 to %d printable characters, no spaces\n", *id, PVH_API_MAX_ID);
        return PVH_EXIT_BAD_INPUT;
    }
    return 0;
}

static int setup_server(struct server *s, const char *sock, struct pvh_error *err)
{
    if (sock_janitor_start(&s->janitor, sock, err))
        return -1;
    s->listen_fd = listen_on(sock, err);
    if (s->listen_fd < 0 || sock_janitor_arm(&s->janitor, sock, err))
        return -1;
    s->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    s->end_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (s->epoll_fd < 0 || s->end_fd < 0 || watch(s, s->listen_fd, LISTEN_TAG) || watch(s, s->end_fd, END_TAG))
        return pvh_fail(err, PVH_E_SYSTEM, "epoll: %s", strerror(errno));
    return 0;
}

/* --config-file: the file through the server's own endpoints, then
 * InstanceStart at once, as Firecracker does; the API stays up. */
static int boot_from_file(struct server *s, const char *path)
{
    struct pvh_error err = {0};
    struct pvh_api_response r = {0};
    static const char start[] = "{\"action_type\": \"InstanceStart\"}";
    if (api_host_load_config_file(&s->api, path, &err))
        return cli_report(&err);
    pvh_api_call(&s->api, "PUT", "/actions", start, sizeof(start) - 1, &r);
    int rc = r.status == 204 ? 0 : PVH_EXIT_BAD_INPUT;
    if (rc)
        fprintf(stderr, "pvhboot: serve: --config-file %s: %s\n", path, r.body ? r.body : "InstanceStart refused");
    pvh_api_response_free(&r);
    return rc;
}

static int serve_with(struct server *s, struct run_args *a, const struct serve_options *o)
{
    const char *sock = o->sock, *id = o->id;
    struct pvh_error err = {0};
    struct sigaction ignore = {.sa_handler = SIG_IGN};
    sigemptyset(&ignore.sa_mask);
    sigaction(SIGPIPE, &ignore, NULL); /* a client that left: its writes fail with EPIPE */
    s->ops = (struct pvh_api_ops){.ctx = s, .start = op_start, .ctrl_alt_del = op_ctrl_alt_del, .pause = op_pause,
                                  .open_output = api_host_open_output, .flush_metrics = op_flush_metrics,
                                  .swap_drive = op_swap_drive, .check_file = api_host_check_file,
                                  .snapshot_create = op_snapshot_create, .snapshot_load = op_snapshot_load};
    pvh_api_init(&s->api, &a->cfg, &s->ops, cli_version(), id);
    if (setup_server(s, sock, &err))
        return cli_report(&err);
    if (o->config_file) {
        int rc = boot_from_file(s, o->config_file);
        if (rc)
            return rc;
    }
    return serve_loop(s);
}

int cmd_serve(int argc, char **argv)
{
    struct serve_options o = {0};
    int rc = take_serve_options(&argc, argv, &o);
    if (rc)
        return rc;
    struct run_args a = {.cfg = {.ram_size = API_DEFAULT_MEM, .ncpus = 1, .serial = PVH_SERIAL_STDIO,
                                 .sandbox = true}, .kernel_later = true};
    a.cfg.seed = (uint64_t)time(NULL) ^ (uint64_t)clock();
    rc = run_parse_args(&a, argc, argv);
    if (rc)
        return rc < 0 ? 0 : rc;
    struct server *s = calloc(1, sizeof(*s));
    if (!s)
        return PVH_EXIT_VMM_ERROR;
    s->listen_fd = s->epoll_fd = s->end_fd = -1;
    s->janitor.order_fd = s->janitor.done_fd = -1;
    rc = serve_with(s, &a, &o);
    /* the VM has ended (or never ran): its thread is done or never was */
    if (s->vm_thread_started)
        pthread_join(s->vm_thread, NULL);
    for (int i = 0; i < MAX_CLIENTS; i++)
        if (s->clients[i])
            drop_client(s, i);
    pvh_vm_control_free(s->control);
    free(s->load_state);
    free(s->load_mem);
    pvh_api_fini(&s->api);
    free(s->load_strings); /* after the API: its started config pointed into them */
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    sock_janitor_finish(&s->janitor); /* the socket file goes (SIGTERM or a crash: when the process does) */
    if (s->epoll_fd >= 0)
        close(s->epoll_fd);
    if (s->end_fd >= 0)
        close(s->end_fd);
    free(s);
    run_args_fini(&a);
    return rc;
}
