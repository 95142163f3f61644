/* The gdb stub's session (vmm/gdb.h): the listening socket (TCP on
 * 127.0.0.1 only, or a UNIX socket of mode 0600), one client at a time on
 * the I/O thread, its packets framed and decoded by lib/gdb_*.c and
 * answered here; stopping every vCPU (gdb connects, Ctrl-C, a breakpoint,
 * a watchpoint or a step on any vCPU) and resuming them. A vCPU thread
 * that takes a KVM_EXIT_DEBUG of gdb's records it, holds every vCPU and
 * wakes the I/O thread through an eventfd; the I/O thread kicks the others
 * out of KVM_RUN, waits until all are parked, and only then touches their
 * registers or the breakpoints. A client that misbehaves gets error
 * replies, or is dropped (the VM then runs on without breakpoints). */
#include "gdb.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
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

#include "vm.h"

#define PARK_POLL_NS 5000000 /* the I/O thread kicks vCPUs not yet parked this often */
#define SIGTRAP_NR 5
#define SIGINT_NR 2

/* ---- the listening socket ---------------------------------------------------- */

static int listen_tcp(uint16_t port, struct pvh_error *err)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return pvh_fail(err, PVH_E_SYSTEM, "--gdb: socket: %s", strerror(errno));
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)); /* accepted sockets inherit it */
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 1) != 0) {
        int e = errno;
        close(fd);
        return pvh_fail(err, PVH_E_SYSTEM, "--gdb tcp:%u: cannot listen on 127.0.0.1:%u: %s", port, port, strerror(e));
    }
    return fd;
}

/* A socket file left by an earlier run that nobody listens on any more is
 * replaced; anything else at the path is refused. */
static int clear_stale_socket(const char *path, struct pvh_error *err)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : pvh_fail(err, PVH_E_INPUT, "--gdb unix:%s: %s", path, strerror(errno));
    if (!S_ISSOCK(st.st_mode))
        return pvh_fail(err, PVH_E_INPUT, "--gdb unix:%s: the path exists and is not a socket", path);
    int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    memcpy(a.sun_path, path, strlen(path));
    int rc = probe < 0 ? -1 : connect(probe, (struct sockaddr *)&a, sizeof(a));
    int e = errno;
    if (probe >= 0)
        close(probe);
    if (rc == 0)
        return pvh_fail(err, PVH_E_INPUT, "--gdb unix:%s: another process listens there", path);
    if (e != ECONNREFUSED)
        return pvh_fail(err, PVH_E_INPUT, "--gdb unix:%s: %s", path, strerror(e));
    return unlink(path) == 0 ? 0 : pvh_fail(err, PVH_E_INPUT, "--gdb unix:%s: cannot remove the old socket: %s",
                                             path, strerror(errno));
}

static int listen_unix(const char *path, struct pvh_error *err)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (strlen(path) == 0 || strlen(path) >= sizeof(a.sun_path))
        return pvh_fail(err, PVH_E_INPUT, "--gdb unix:%s: a socket path has 1 to %zu bytes", path,
                        sizeof(a.sun_path) - 1);
    if (clear_stale_socket(path, err))
        return -1;
    memcpy(a.sun_path, path, strlen(path));
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return pvh_fail(err, PVH_E_SYSTEM, "--gdb: socket: %s", strerror(errno));
    mode_t old = umask(077); /* the socket gives control of the VM: its owner only */
    int rc = bind(fd, (struct sockaddr *)&a, sizeof(a));
    umask(old);
    if (rc != 0 || listen(fd, 1) != 0) {
        int e = errno;
        close(fd);
        return pvh_fail(err, PVH_E_SYSTEM, "--gdb unix:%s: cannot listen: %s", path, strerror(e));
    }
    return fd;
}

/* ---- vCPUs: park, hold, resume ----------------------------------------------- */

void pvh_gdb_park(struct pvh_gdb *g, unsigned vcpu)
{
    pthread_mutex_lock(&g->lock);
    g->nparked++;
    pthread_cond_broadcast(&g->cond);
    while (atomic_load(&g->hold[vcpu]) && !atomic_load(&g->vm->ending))
        pthread_cond_wait(&g->cond, &g->lock);
    g->nparked--;
    pthread_mutex_unlock(&g->lock);
}

void pvh_gdb_vm_ending(struct pvh_gdb *g)
{
    pthread_mutex_lock(&g->lock);
    pthread_cond_broadcast(&g->cond);
    pthread_mutex_unlock(&g->lock);
}

static void hold_all(struct pvh_gdb *g)
{
    for (unsigned i = 0; i < g->vm->ncpus; i++)
        atomic_store(&g->hold[i], true);
}

/* Holds every vCPU and waits until each is parked: 0; -1 when the VM
 * ends meanwhile. Kicks are main's code (run.c), under its lock. */
static int stop_world(struct pvh_gdb *g)
{
    hold_all(g);
    pthread_mutex_lock(&g->lock);
    while (g->nparked < g->vm->ncpus && !atomic_load(&g->vm->ending)) {
        pthread_mutex_unlock(&g->lock);
        pvh_vm_kick_vcpus(g->vm);
        pthread_mutex_lock(&g->lock);
        struct timespec deadline = pvh_deadline_in(PARK_POLL_NS);
        pthread_cond_timedwait(&g->cond, &g->lock, &deadline);
    }
    bool all = g->nparked == g->vm->ncpus;
    pthread_mutex_unlock(&g->lock);
    return all ? 0 : -1;
}

/* Lets vCPU `only` (or, when -1, those with run[i]) go on. */
static void release(struct pvh_gdb *g, int only, const bool *run)
{
    pthread_mutex_lock(&g->lock);
    g->stop_pending = false;
    for (unsigned i = 0; i < g->vm->ncpus; i++)
        if (only >= 0 ? (int)i == only : (!run || run[i]))
            atomic_store(&g->hold[i], false);
    pthread_cond_broadcast(&g->cond);
    pthread_mutex_unlock(&g->lock);
}

/* gdb's resume: the debug state onto every vCPU, then the chosen go. */
static void resume(struct pvh_gdb *g, int step_vcpu, const bool *run)
{
    g->step_vcpu = step_vcpu;
    pvh_gdb_apply_debug(g);
    g->running = true;
    release(g, step_vcpu, run);
}

static bool take_pending(struct pvh_gdb *g, struct pvh_gdb_stop *s)
{
    pthread_mutex_lock(&g->lock);
    bool had = g->stop_pending;
    if (had)
        *s = g->pending;
    g->stop_pending = false;
    pthread_mutex_unlock(&g->lock);
    return had;
}

void pvh_gdb_debug_exit(struct pvh_vcpu *v)
{
    struct pvh_gdb *g = v->vm->gdb;
    struct pvh_gdb_stop s;
    if (!pvh_gdb_classify_exit(g, v, &s))
        return;
    pthread_mutex_lock(&g->lock);
    if (!g->stop_pending) { /* a second vCPU's stop meanwhile: its int3 or fault repeats later */
        g->stop_pending = true;
        g->pending = s;
        hold_all(g);
        uint64_t one = 1;
        if (write(g->event_fd, &one, sizeof(one)) != sizeof(one)) {
            /* the counter is already non-zero: the I/O thread will look */
        }
    }
    pthread_mutex_unlock(&g->lock);
}

/* ---- sending ----------------------------------------------------------------- */

static void drop_client(struct pvh_gdb *g, bool let_run);

static void send_bytes(struct pvh_gdb *g, const uint8_t *buf, size_t len)
{
    if (g->conn_fd < 0)
        return;
    ssize_t n = send(g->conn_fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n != (ssize_t)len)
        drop_client(g, true); /* gone, or not reading what we sent */
}

static void send_reply(struct pvh_gdb *g)
{
    g->frame_len = pvh_gdb_reply_frame(&g->reply, g->frame);
    send_bytes(g, g->frame, g->frame_len);
}

static void reply_str(struct pvh_gdb *g, const char *s)
{
    pvh_gdb_reply_init(&g->reply);
    pvh_gdb_reply_str(&g->reply, s);
    send_reply(g);
}

/* An 'O' console message for gdb to print (only while gdb waits for a stop). */
static void send_console(struct pvh_gdb *g, const char *text)
{
    pvh_gdb_reply_init(&g->reply);
    pvh_gdb_reply_str(&g->reply, "O");
    pvh_gdb_reply_hex(&g->reply, (const uint8_t *)text, strlen(text));
    send_reply(g);
}

static void build_stop(struct pvh_gdb *g, const struct pvh_gdb_stop *s)
{
    struct pvh_gdb_reply *r = &g->reply;
    pvh_gdb_reply_init(r);
    pvh_gdb_reply_str(r, "T");
    uint8_t sig = s->kind == PVH_GDB_STOP_INTERRUPT ? SIGINT_NR : SIGTRAP_NR;
    pvh_gdb_reply_hex(r, &sig, 1);
    if (s->kind == PVH_GDB_STOP_SW && g->swbreak)
        pvh_gdb_reply_str(r, "swbreak:;");
    if (s->kind == PVH_GDB_STOP_HW && g->hwbreak)
        pvh_gdb_reply_str(r, "hwbreak:;");
    if (s->kind == PVH_GDB_STOP_WATCH) {
        pvh_gdb_reply_str(r, s->watch_type == 4 ? "awatch:" : "watch:");
        pvh_gdb_reply_u64(r, s->watch_addr);
        pvh_gdb_reply_str(r, ";");
    }
    pvh_gdb_reply_str(r, "thread:");
    pvh_gdb_reply_u64(r, s->vcpu + 1);
    pvh_gdb_reply_str(r, ";");
}

/* The world is stopped: tell gdb why. */
static void report_stop(struct pvh_gdb *g, const struct pvh_gdb_stop *s)
{
    g->running = false;
    g->step_vcpu = -1;
    g->last = *s;
    g->cur = s->vcpu;
    if (g->arch == PVH_GDB_ARCH_I386 && !g->warned_long_mode && pvh_gdb_in_long_mode(g, s->vcpu)) {
        g->warned_long_mode = true;
        send_console(g, "pvhboot: the guest is in long mode now; this connection keeps the i386 registers "
                        "(truncated): reconnect (target remote again) for i386:x86-64\n");
    }
    build_stop(g, s);
    send_reply(g);
}

/* ---- the client -------------------------------------------------------------- */

/* The VM runs on: breakpoints out, debugging off, every vCPU released. */
static void let_vm_run(struct pvh_gdb *g)
{
    if (atomic_load(&g->vm->ending) || stop_world(g) != 0)
        return;
    pvh_gdb_remove_all_bps(g);
    g->step_vcpu = -1;
    pvh_gdb_apply_debug(g);
    release(g, -1, NULL);
}

static void drop_client(struct pvh_gdb *g, bool let_run)
{
    if (g->conn_fd < 0)
        return;
    pvh_eventloop_unwatch(&g->vm->loop, g->conn_fd);
    close(g->conn_fd);
    g->conn_fd = -1;
    g->running = false;
    if (let_run)
        let_vm_run(g);
}

static void set_pc(struct pvh_gdb *g, unsigned vcpu, uint64_t pc)
{
    struct pvh_gdb_regs r;
    if (pvh_gdb_read_regs(g, vcpu, &r) == 0) {
        r.rip = pc;
        pvh_gdb_write_regs(g, vcpu, &r);
    }
}

static bool valid_thread(const struct pvh_gdb *g, int64_t t)
{
    return t >= 1 && t <= (int64_t)g->vm->ncpus;
}

/* 0 (any) and -1 (all) mean the current vCPU. */
static unsigned vcpu_of(const struct pvh_gdb *g, int64_t t)
{
    return valid_thread(g, t) ? (unsigned)(t - 1) : g->cur;
}

/* vCont: each vCPU takes the first action naming it (or all); a step
 * moves that one vCPU alone, the others stay stopped. */
static void do_vcont(struct pvh_gdb *g, const struct pvh_gdb_cmd *cmd)
{
    bool run[PVH_MAX_CPUS] = {false};
    int step = -1;
    for (size_t k = 0; k < cmd->nactions; k++)
        if (cmd->actions[k].action == 's' && !valid_thread(g, cmd->actions[k].thread) && step < 0)
            step = (int)g->cur; /* "s" for all: the current vCPU */
    for (unsigned i = 0; i < g->vm->ncpus; i++)
        for (size_t k = 0; k < cmd->nactions; k++) {
            const struct pvh_gdb_vcont_action *a = &cmd->actions[k];
            if (valid_thread(g, a->thread) && a->thread != (int64_t)i + 1)
                continue;
            run[i] = true;
            if (a->action == 's' && step < 0)
                step = (int)i;
            break;
        }
    resume(g, step, run);
}

static void do_resume(struct pvh_gdb *g, const struct pvh_gdb_cmd *cmd)
{
    if (cmd->has_addr)
        set_pc(g, g->cur, cmd->addr);
    resume(g, cmd->kind == PVH_GDB_CMD_STEP ? (int)g->cur : -1, NULL);
}

static void do_read_regs(struct pvh_gdb *g)
{
    struct pvh_gdb_regs r;
    uint8_t block[1024];
    if (pvh_gdb_read_regs(g, g->cur, &r) != 0)
        return reply_str(g, "E05");
    size_t n = pvh_gdb_regs_get(g->arch, &r, block, sizeof(block));
    pvh_gdb_reply_init(&g->reply);
    pvh_gdb_reply_hex(&g->reply, block, n);
    send_reply(g);
}

static void do_write_regs(struct pvh_gdb *g, const struct pvh_gdb_cmd *cmd)
{
    struct pvh_gdb_regs r;
    bool ok = pvh_gdb_read_regs(g, g->cur, &r) == 0;
    if (cmd->kind == PVH_GDB_CMD_WRITE_REGS)
        ok = ok && pvh_gdb_regs_set(g->arch, &r, cmd->data, cmd->data_len) == 0;
    else
        ok = ok && pvh_gdb_reg_set(g->arch, &r, cmd->reg, cmd->data, cmd->data_len) == 0;
    reply_str(g, ok && pvh_gdb_write_regs(g, g->cur, &r) == 0 ? "OK" : "E16");
}

static void do_read_reg(struct pvh_gdb *g, unsigned regno)
{
    struct pvh_gdb_regs r;
    uint8_t val[16];
    size_t n = pvh_gdb_read_regs(g, g->cur, &r) == 0 ? pvh_gdb_reg_get(g->arch, &r, regno, val) : 0;
    if (n == 0)
        return reply_str(g, "E16");
    pvh_gdb_reply_init(&g->reply);
    pvh_gdb_reply_hex(&g->reply, val, n);
    send_reply(g);
}

static void do_read_mem(struct pvh_gdb *g, uint64_t addr, uint64_t len)
{
    uint8_t buf[PVH_GDB_MAX_REPLY / 2];
    size_t want = len < sizeof(buf) ? (size_t)len : sizeof(buf);
    size_t got = want ? pvh_gdb_read_mem(g, addr, buf, want) : 0;
    if (want && !got)
        return reply_str(g, "E14");
    pvh_gdb_reply_init(&g->reply);
    pvh_gdb_reply_hex(&g->reply, buf, got);
    send_reply(g);
}

static void do_write_mem(struct pvh_gdb *g, const struct pvh_gdb_cmd *cmd)
{
    bool ok = cmd->data_len == 0 || pvh_gdb_write_mem(g, cmd->addr, cmd->data, cmd->data_len) == cmd->data_len;
    reply_str(g, ok ? "OK" : "E14");
}

static void do_breakpoint(struct pvh_gdb *g, const struct pvh_gdb_cmd *cmd)
{
    int rc = cmd->kind == PVH_GDB_CMD_INSERT_BP ? pvh_gdb_insert_bp(g, cmd->bp_type, cmd->addr, cmd->bp_kind)
                                                : pvh_gdb_remove_bp(g, cmd->bp_type, cmd->addr, cmd->bp_kind);
    reply_str(g, rc == 0 ? "OK" : rc > 0 ? "" : "E28");
}

static void do_xfer(struct pvh_gdb *g, const struct pvh_gdb_cmd *cmd)
{
    if (strcmp(cmd->annex, "target.xml") != 0)
        return reply_str(g, "E00");
    size_t len;
    const char *xml = pvh_gdb_target_xml(g->arch, &len);
    uint64_t off = cmd->addr < len ? cmd->addr : len;
    size_t room = (PVH_GDB_MAX_REPLY - 1) / 2; /* every byte escaped at worst */
    size_t n = len - (size_t)off;
    if (n > cmd->len)
        n = (size_t)cmd->len;
    if (n > room)
        n = room;
    pvh_gdb_reply_init(&g->reply);
    pvh_gdb_reply_str(&g->reply, off + n >= len ? "l" : "m");
    pvh_gdb_reply_binary(&g->reply, (const uint8_t *)xml + off, n);
    send_reply(g);
}

static void do_threads(struct pvh_gdb *g)
{
    pvh_gdb_reply_init(&g->reply);
    pvh_gdb_reply_str(&g->reply, "m");
    for (unsigned i = 0; i < g->vm->ncpus; i++) {
        if (i)
            pvh_gdb_reply_str(&g->reply, ",");
        pvh_gdb_reply_u64(&g->reply, i + 1);
    }
    send_reply(g);
}

static void do_thread_info(struct pvh_gdb *g, int64_t t)
{
    char text[48];
    if (!valid_thread(g, t))
        return reply_str(g, "E16");
    unsigned id = (unsigned)(t - 1);
    snprintf(text, sizeof(text), "vCPU %u%s", id, pvh_gdb_in_long_mode(g, id) ? ", long mode" : "");
    pvh_gdb_reply_init(&g->reply);
    pvh_gdb_reply_hex(&g->reply, (const uint8_t *)text, strlen(text));
    send_reply(g);
}

static void do_supported(struct pvh_gdb *g, const struct pvh_gdb_cmd *cmd)
{
    char text[160];
    g->swbreak = cmd->swbreak;
    g->hwbreak = cmd->hwbreak;
    snprintf(text, sizeof(text), "PacketSize=%x;qXfer:features:read+;QStartNoAckMode+;swbreak+;hwbreak+;vContSupported+",
             PVH_GDB_MAX_PACKET);
    reply_str(g, text);
}

static void do_current_thread(struct pvh_gdb *g)
{
    pvh_gdb_reply_init(&g->reply);
    pvh_gdb_reply_str(&g->reply, "QC");
    pvh_gdb_reply_u64(&g->reply, g->cur + 1);
    send_reply(g);
}

static void do_set_thread(struct pvh_gdb *g, const struct pvh_gdb_cmd *cmd)
{
    if (cmd->thread != PVH_GDB_THREAD_ALL && cmd->thread != PVH_GDB_THREAD_ANY && !valid_thread(g, cmd->thread))
        return reply_str(g, "E16");
    if (cmd->thread_op == 'g')
        g->cur = vcpu_of(g, cmd->thread);
    reply_str(g, "OK");
}

static void dispatch(struct pvh_gdb *g, const struct pvh_gdb_cmd *cmd)
{
    switch (cmd->kind) {
    case PVH_GDB_CMD_STOP_REASON: build_stop(g, &g->last); return send_reply(g);
    case PVH_GDB_CMD_READ_REGS: return do_read_regs(g);
    case PVH_GDB_CMD_WRITE_REGS: case PVH_GDB_CMD_WRITE_REG: return do_write_regs(g, cmd);
    case PVH_GDB_CMD_READ_REG: return do_read_reg(g, cmd->reg);
    case PVH_GDB_CMD_READ_MEM: return do_read_mem(g, cmd->addr, cmd->len);
    case PVH_GDB_CMD_WRITE_MEM: return do_write_mem(g, cmd);
    case PVH_GDB_CMD_CONTINUE: case PVH_GDB_CMD_STEP: return do_resume(g, cmd);
    case PVH_GDB_CMD_VCONT: return do_vcont(g, cmd);
    case PVH_GDB_CMD_VCONT_QUERY: return reply_str(g, "vCont;c;C;s;S");
    case PVH_GDB_CMD_INSERT_BP: case PVH_GDB_CMD_REMOVE_BP: return do_breakpoint(g, cmd);
    case PVH_GDB_CMD_SET_THREAD: return do_set_thread(g, cmd);
    case PVH_GDB_CMD_THREAD_ALIVE: return reply_str(g, valid_thread(g, cmd->thread) ? "OK" : "E16");
    case PVH_GDB_CMD_THREADS_FIRST: return do_threads(g);
    case PVH_GDB_CMD_THREADS_NEXT: return reply_str(g, "l");
    case PVH_GDB_CMD_CURRENT_THREAD: return do_current_thread(g);
    case PVH_GDB_CMD_THREAD_INFO: return do_thread_info(g, cmd->thread);
    case PVH_GDB_CMD_SUPPORTED: return do_supported(g, cmd);
    case PVH_GDB_CMD_XFER_FEATURES: return do_xfer(g, cmd);
    case PVH_GDB_CMD_ATTACHED: return reply_str(g, "1");
    case PVH_GDB_CMD_NO_ACK: reply_str(g, "OK"); g->no_ack = true; return;
    case PVH_GDB_CMD_DETACH: reply_str(g, "OK"); return drop_client(g, true);
    case PVH_GDB_CMD_KILL:
        if (cmd->wants_ok)
            reply_str(g, "OK");
        pvh_vm_end(g->vm, PVH_END_RESET, 0);
        return drop_client(g, false);
    default: return reply_str(g, "");
    }
}

static void on_packet(struct pvh_gdb *g, uint8_t *pkt, size_t len)
{
    struct pvh_gdb_cmd cmd;
    if (!g->no_ack)
        send_bytes(g, (const uint8_t *)"+", 1);
    if (g->conn_fd < 0)
        return;
    if (pvh_gdb_parse(pkt, len, &cmd) != 0)
        return reply_str(g, "E01");
    if (g->running) /* gdb waits for a stop reply now; only Ctrl-C is expected */
        return reply_str(g, "E16");
    dispatch(g, &cmd);
}

static void on_interrupt(struct pvh_gdb *g)
{
    if (!g->running || stop_world(g) != 0)
        return;
    struct pvh_gdb_stop s;
    if (!take_pending(g, &s)) /* a breakpoint at the same moment wins */
        s = (struct pvh_gdb_stop){.kind = PVH_GDB_STOP_INTERRUPT, .vcpu = g->cur};
    report_stop(g, &s);
}

static void on_event(struct pvh_gdb *g, enum pvh_gdb_event ev)
{
    switch (ev) {
    case PVH_GDB_EV_PACKET: return on_packet(g, g->framer.buf, g->framer.len);
    case PVH_GDB_EV_BAD_CHECKSUM: if (!g->no_ack) send_bytes(g, (const uint8_t *)"-", 1); return;
    case PVH_GDB_EV_OVERSIZED:
        if (!g->no_ack)
            send_bytes(g, (const uint8_t *)"+", 1);
        return reply_str(g, "E28");
    case PVH_GDB_EV_INTERRUPT: return on_interrupt(g);
    case PVH_GDB_EV_NAK: if (g->frame_len) send_bytes(g, g->frame, g->frame_len); return;
    default: return;
    }
}

static void on_conn(void *arg, uint32_t events)
{
    struct pvh_gdb *g = arg;
    uint8_t buf[4096];
    (void)events;
    ssize_t n = recv(g->conn_fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0)
        return drop_client(g, true);
    size_t off = 0;
    while (off < (size_t)n && g->conn_fd >= 0) {
        enum pvh_gdb_event ev;
        off += pvh_gdb_framer_feed(&g->framer, buf + off, (size_t)n - off, &ev);
        on_event(g, ev);
    }
}

static void start_session(struct pvh_gdb *g, int fd)
{
    struct pvh_error err;
    g->conn_fd = fd;
    pvh_gdb_framer_init(&g->framer);
    g->no_ack = g->swbreak = g->hwbreak = g->running = g->warned_long_mode = false;
    g->frame_len = 0;
    g->step_vcpu = -1;
    if (pvh_eventloop_watch(&g->vm->loop, fd, EPOLLIN, on_conn, g, &err) != 0) {
        close(fd);
        g->conn_fd = -1;
        return;
    }
    if (stop_world(g) != 0)
        return; /* the VM is ending */
    struct pvh_gdb_stop s;
    g->cur = 0;
    if (!take_pending(g, &s))
        s = (struct pvh_gdb_stop){.kind = PVH_GDB_STOP_TRAP, .vcpu = 0};
    g->last = s;
    g->cur = s.vcpu;
    /* the layout lasts the connection: x86-64 for a 64-bit kernel or a vCPU in long mode */
    g->arch = g->elf64 || pvh_gdb_in_long_mode(g, 0) ? PVH_GDB_ARCH_X86_64 : PVH_GDB_ARCH_I386;
}

static void on_listen(void *arg, uint32_t events)
{
    struct pvh_gdb *g = arg;
    (void)events;
    int fd = accept4(g->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
        return;
    if (g->conn_fd >= 0) { /* one gdb at a time */
        close(fd);
        return;
    }
    start_session(g, fd);
}

/* A vCPU recorded a stop: stop the others, tell gdb. */
static void on_stop_event(void *arg, uint32_t events)
{
    struct pvh_gdb *g = arg;
    uint64_t count;
    (void)events;
    if (read(g->event_fd, &count, sizeof(count)) != sizeof(count))
        return;
    if (!g->running || g->conn_fd < 0)
        return; /* recorded while stopping for another reason: it repeats when resumed */
    if (stop_world(g) != 0)
        return;
    struct pvh_gdb_stop s;
    if (take_pending(g, &s))
        report_stop(g, &s);
}

/* ---- lifecycle ------------------------------------------------------------------ */

static int watch_fds(struct pvh_gdb *g, struct pvh_error *err)
{
    g->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (g->event_fd < 0)
        return pvh_fail(err, PVH_E_SYSTEM, "--gdb: eventfd: %s", strerror(errno));
    if (pvh_eventloop_watch(&g->vm->loop, g->listen_fd, EPOLLIN, on_listen, g, err) ||
        pvh_eventloop_watch(&g->vm->loop, g->event_fd, EPOLLIN, on_stop_event, g, err))
        return -1;
    return 0;
}

int pvh_gdb_create(struct pvh_vm *vm, bool elf64, struct pvh_error *err)
{
    const struct pvh_vm_config *cfg = vm->cfg;
    struct pvh_gdb *g = calloc(1, sizeof(*g));
    if (!g)
        return pvh_fail(err, PVH_E_SYSTEM, "out of memory");
    *g = (struct pvh_gdb){.vm = vm, .listen_fd = -1, .conn_fd = -1, .event_fd = -1, .elf64 = elf64,
                          .step_vcpu = -1, .blockirq = true};
    pthread_mutex_init(&g->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&g->cond, &ca);
    pthread_condattr_destroy(&ca);
    vm->gdb = g;
    g->listen_fd = cfg->gdb == PVH_GDB_UNIX ? listen_unix(cfg->gdb_path, err) : listen_tcp(cfg->gdb_port, err);
    if (g->listen_fd < 0 || watch_fds(g, err))
        return -1;
    g->last = (struct pvh_gdb_stop){.kind = PVH_GDB_STOP_TRAP};
    if (cfg->gdb_wait)
        hold_all(g); /* the vCPUs park before their first KVM_RUN */
    return 0;
}

/* The exit status pvhboot will have, as gdb's "W" reply. */
static int exit_code(const struct pvh_vm *vm)
{
    switch (vm->result.end) {
    case PVH_END_DEBUG_EXIT: return vm->result.status & 0xff;
    case PVH_END_POWEROFF: case PVH_END_RESET: return 0;
    case PVH_END_TIMEOUT: return 124;
    default: return 1;
    }
}

void pvh_gdb_destroy(struct pvh_vm *vm)
{
    struct pvh_gdb *g = vm->gdb;
    if (!g)
        return;
    if (g->conn_fd >= 0 && g->running) { /* gdb waits for the stop that will not come: the end */
        uint8_t code = (uint8_t)exit_code(vm);
        pvh_gdb_reply_init(&g->reply);
        pvh_gdb_reply_str(&g->reply, "W");
        pvh_gdb_reply_hex(&g->reply, &code, 1);
        g->frame_len = pvh_gdb_reply_frame(&g->reply, g->frame);
        if (send(g->conn_fd, g->frame, g->frame_len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
            /* gdb is gone already */
        }
    }
    int fds[3] = {g->conn_fd, g->listen_fd, g->event_fd};
    for (int i = 0; i < 3; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    pthread_mutex_destroy(&g->lock);
    pthread_cond_destroy(&g->cond);
    free(g);
    vm->gdb = NULL;
}
