/* virtio-vsock, Firecracker's hybrid way (vmm/virtio/vsock.h): the
 * connection table, the transmit queue (guest packets to host sockets), the
 * receive queue (control packets and host bytes to the guest), the event
 * queue, the host's UNIX sockets on the I/O thread, and setup.
 *
 * Connections: a pool of max_conns slots, found by (local_port, peer_port)
 * in a hash table (local: the host's end, peer: the guest's). A slot is
 * FREE, HANDSHAKE (accepted on the host socket, its CONNECT line not read
 * yet: in no table) or LIVE (its protocol state in csm, vsock_proto.c). A
 * live connection that was reset stays until the RST it owes the guest has
 * gone out; its host socket is closed at the end of the I/O thread's
 * current callback (finish()), never from a vCPU thread.
 *
 * Guest to host: each transmit chain is one packet. Payload for a live
 * connection is written to its host socket straight from guest RAM; what the
 * socket does not take is copied into the connection's ring (allocated
 * while needed, at most buf_alloc bytes: the credit the guest was given),
 * and written out when the socket is writable again (EPOLLOUT). Credit
 * updates go to the guest as the host socket drains.
 *
 * Host to guest: connections with something to say (a control packet owed,
 * or a readable host socket and room in the guest's credit) wait in a FIFO
 * list; each receive chain carries one packet from the list's head, and
 * the connection goes to the tail. Data is read from the host socket
 * straight into the chain (readv), at most what the guest's credit allows,
 * so nothing from the host is buffered here. Resets for packets of no
 * connection wait in a small ring (PVH_VSOCK_ORPHAN_MAX; more are dropped).
 *
 * Host sockets are edge-triggered: the readable/writable flags are set by
 * events and cleared by EAGAIN, so a connection waiting for credit or for
 * receive buffers does not spin the I/O thread. */
#include "vsock.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../clock.h"
#include "../eventloop.h"
#include "pvhboot/bytes.h"
#include "pvhboot/layout.h"

#define NS_PER_S 1000000000ull
#define MAX_IOV 64
#define CONN_EVENTS (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET)
#define LOCAL_PORT_FIRST (1u << 30)
#define FD_RESERVE 256 /* fds kept for everything but connections */
#define TICK_NS (NS_PER_S / 4)
/* the I/O thread watches at most PVH_EVENTLOOP_MAX_WATCHES fds, shared with the other devices */
#define PVH_EVENTLOOP_MAX_CONNS (PVH_EVENTLOOP_MAX_WATCHES - 512)

enum conn_kind { CONN_FREE, CONN_HANDSHAKE, CONN_LIVE };

struct pvh_vsock_conn {
    struct pvh_vsock *owner;          /* the device whose pool holds the slot */
    struct pvh_vsock_csm csm;
    uint32_t local_port, peer_port;
    int fd;                           /* the host socket; -1 once closed */
    uint8_t kind;                     /* enum conn_kind */
    bool readable, writable;          /* as epoll last said, until EAGAIN */
    bool host_eof;                    /* the host sends no more */
    bool host_wr_shut;                /* shutdown(SHUT_WR) done: the guest sends no more */
    bool watched, closing, in_rx, in_hash;
    uint64_t deadline;                /* handshake's end; 0: none */
    uint8_t *ring;                    /* guest bytes the host socket has not taken */
    uint32_t ring_head, ring_len;     /* ring_len == csm held, always */
    struct pvh_vsock_conn *hnext;     /* hash chain */
    struct pvh_vsock_conn *rx_prev, *rx_next;
    struct pvh_vsock_conn *next;      /* free list, closing list */
};

static struct pvh_vsock *vsock_of(struct pvh_virtio_dev *d)
{
    return d->impl;
}

static uint64_t now(const struct pvh_vsock *v)
{
    return v->cfg.now_ns(v->cfg.clock_ctx);
}

static void count_drop(struct pvh_vsock *v)
{
    v->n.dropped++;
    v->dev.stats.errors++;
}

/* ---- the hash table ------------------------------------------------------------ */

static unsigned bucket_of(const struct pvh_vsock *v, uint32_t local, uint32_t peer)
{
    uint32_t h = local * 0x9e3779b1u ^ (peer + 0x7f4a7c15u) * 0x85ebca6bu;
    return (h ^ (h >> 15)) & (v->nbuckets - 1);
}

static struct pvh_vsock_conn *lookup(struct pvh_vsock *v, uint32_t local, uint32_t peer)
{
    for (struct pvh_vsock_conn *c = v->buckets[bucket_of(v, local, peer)]; c; c = c->hnext)
        if (c->local_port == local && c->peer_port == peer)
            return c;
    return NULL;
}

static void hash_insert(struct pvh_vsock *v, struct pvh_vsock_conn *c)
{
    unsigned b = bucket_of(v, c->local_port, c->peer_port);
    c->hnext = v->buckets[b];
    v->buckets[b] = c;
    c->in_hash = true;
}

static void hash_remove(struct pvh_vsock *v, struct pvh_vsock_conn *c)
{
    if (!c->in_hash)
        return;
    for (struct pvh_vsock_conn **p = &v->buckets[bucket_of(v, c->local_port, c->peer_port)]; *p; p = &(*p)->hnext)
        if (*p == c) {
            *p = c->hnext;
            break;
        }
    c->in_hash = false;
}

/* ---- the list of connections with something for the guest --------------------- */

static bool wants_rx(const struct pvh_vsock_conn *c)
{
    if (c->kind != CONN_LIVE)
        return false;
    if (c->csm.owe)
        return true;
    return c->fd >= 0 && !c->closing && c->readable && !c->host_eof && pvh_vsock_csm_room(&c->csm) > 0;
}

static void rx_unlink(struct pvh_vsock *v, struct pvh_vsock_conn *c)
{
    if (!c->in_rx)
        return;
    *(c->rx_prev ? &c->rx_prev->rx_next : &v->rx_head) = c->rx_next;
    *(c->rx_next ? &c->rx_next->rx_prev : &v->rx_tail) = c->rx_prev;
    c->rx_prev = c->rx_next = NULL;
    c->in_rx = false;
}

static void rx_append(struct pvh_vsock *v, struct pvh_vsock_conn *c)
{
    c->rx_prev = v->rx_tail;
    c->rx_next = NULL;
    *(v->rx_tail ? &v->rx_tail->rx_next : &v->rx_head) = c;
    v->rx_tail = c;
    c->in_rx = true;
}

/* In the list exactly when it wants a receive buffer. */
static void update_rx(struct pvh_vsock *v, struct pvh_vsock_conn *c)
{
    bool want = wants_rx(c);
    if (want && !c->in_rx)
        rx_append(v, c);
    else if (!want && c->in_rx)
        rx_unlink(v, c);
}

/* ---- connection slots ---------------------------------------------------------- */

static struct pvh_vsock_conn *conn_alloc(struct pvh_vsock *v, enum conn_kind kind, int fd)
{
    struct pvh_vsock_conn *c = v->free_list;
    if (!c)
        return NULL;
    v->free_list = c->next;
    memset(c, 0, sizeof(*c));
    c->owner = v;
    c->kind = (uint8_t)kind;
    c->fd = fd;
    c->readable = c->writable = true; /* until EAGAIN says otherwise */
    if (++v->n.conns > v->n.conns_peak)
        v->n.conns_peak = v->n.conns;
    return c;
}

static void drop_ring(struct pvh_vsock *v, struct pvh_vsock_conn *c)
{
    v->n.held -= c->ring_len;
    free(c->ring);
    c->ring = NULL;
    c->ring_head = c->ring_len = 0;
}

static void release(struct pvh_vsock *v, struct pvh_vsock_conn *c)
{
    hash_remove(v, c);
    rx_unlink(v, c);
    drop_ring(v, c);
    c->kind = CONN_FREE;
    c->next = v->free_list;
    v->free_list = c;
    v->n.conns--;
}

/* The host socket is closed at the end of the current callback (finish). */
static void schedule_close(struct pvh_vsock *v, struct pvh_vsock_conn *c)
{
    if (c->closing || c->fd < 0)
        return;
    c->closing = true;
    c->next = v->closing;
    v->closing = c;
}

/* Gone for good once the host socket is closed and the guest owed nothing. */
static void maybe_release(struct pvh_vsock *v, struct pvh_vsock_conn *c)
{
    if (c->kind == CONN_HANDSHAKE && c->fd < 0)
        release(v, c);
    else if (c->kind == CONN_LIVE && c->fd < 0 && c->csm.state == PVH_VSOCK_CLOSED && !c->csm.owe)
        release(v, c);
}

/* Reset: the guest is owed an RST (owe_rst) and the host socket closes. */
static void kill_conn(struct pvh_vsock *v, struct pvh_vsock_conn *c, bool owe_rst)
{
    if (c->kind == CONN_LIVE)
        pvh_vsock_csm_reset(&c->csm, owe_rst);
    c->deadline = 0;
    schedule_close(v, c);
    update_rx(v, c);
    maybe_release(v, c); /* its socket was closed already */
}

static void violation(struct pvh_vsock *v, struct pvh_vsock_conn *c)
{
    v->n.violations++;
    v->dev.stats.errors++;
    kill_conn(v, c, true);
}

/* Closes the host sockets of reset connections; frees what is done. Only
 * on the I/O thread (or without one): it unwatches. */
static void finish(struct pvh_vsock *v)
{
    while (v->closing) {
        struct pvh_vsock_conn *c = v->closing;
        v->closing = c->next;
        c->closing = false;
        if (c->watched && v->dev.env.unwatch)
            v->dev.env.unwatch(v->dev.env.ctx, c->fd);
        c->watched = false;
        close(c->fd);
        c->fd = -1;
        drop_ring(v, c);
        maybe_release(v, c);
    }
}

/* From a thread that may not unwatch: the I/O thread finishes the work. */
static void wake_io_thread(struct pvh_vsock *v)
{
    if (v->work_fd < 0) {
        finish(v);
        return;
    }
    uint64_t one = 1;
    if (write(v->work_fd, &one, sizeof(one)) < 0) {
        /* EAGAIN: the counter is saturated, the I/O thread is woken anyway */
    }
}

/* ---- resets for packets of no connection ----------------------------------------- */

static void orphan_rst(struct pvh_vsock *v, const struct pvh_vsock_hdr *h)
{
    if (h->op == PVH_VSOCK_OP_RST)
        return; /* never answer a reset with a reset */
    if (v->norphans == PVH_VSOCK_ORPHAN_MAX) {
        v->n.orphan_lost++;
        return;
    }
    unsigned i = (v->orphan_head + v->norphans++) % PVH_VSOCK_ORPHAN_MAX;
    v->orphans[i] = (struct pvh_vsock_orphan){h->dst_port, h->src_port};
}

/* ---- the timer: handshakes that never finish ------------------------------------ */

static void arm_timer(struct pvh_vsock *v, bool on)
{
    if (v->timer_fd < 0 || v->timer_armed == on)
        return;
    struct itimerspec its = {{0, 0}, {0, 0}};
    if (on)
        its.it_value.tv_nsec = its.it_interval.tv_nsec = (long)TICK_NS;
    timerfd_settime(v->timer_fd, 0, &its, NULL);
    v->timer_armed = on;
}

static void set_deadline(struct pvh_vsock *v, struct pvh_vsock_conn *c)
{
    c->deadline = now(v) + v->cfg.timeout_ns;
    arm_timer(v, true);
}

static void expire(struct pvh_vsock *v, uint64_t t)
{
    bool pending = false;
    for (unsigned i = 0; i < v->cfg.max_conns; i++) {
        struct pvh_vsock_conn *c = &v->pool[i];
        if (c->kind == CONN_FREE || !c->deadline)
            continue;
        if (t < c->deadline) {
            pending = true;
            continue;
        }
        c->deadline = 0;
        v->n.timeouts++;
        /* a REQUEST the guest never saw needs no RST */
        kill_conn(v, c, c->kind == CONN_LIVE && !(c->csm.owe & PVH_VSOCK_OWE_REQUEST));
    }
    arm_timer(v, pending);
}

/* ---- host sockets ---------------------------------------------------------------- */

/* iov over the chain's readable (or writable) bytes [off, off + len); returns
 * how many entries (at most MAX_IOV: the rest is left out). */
static int chain_iov(const struct pvh_vchain *ch, bool writable, size_t off, size_t len, struct iovec *iov)
{
    int n = 0;
    for (uint16_t i = 0; i < ch->n && len && n < MAX_IOV; i++) {
        const struct pvh_vbuf *b = &ch->buf[i];
        if (b->writable != writable)
            continue;
        if (off >= b->len) {
            off -= b->len;
            continue;
        }
        size_t take = b->len - off < len ? b->len - off : len;
        iov[n++] = (struct iovec){b->host + off, take};
        len -= take;
        off = 0;
    }
    return n;
}

/* sendmsg without SIGPIPE: bytes taken, 0 on EAGAIN, -1 when the host
 * socket is gone. */
static ssize_t host_send(struct pvh_vsock_conn *c, struct iovec *iov, int n)
{
    struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)n};
    ssize_t r;
    do
        r = sendmsg(c->fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
    while (r < 0 && errno == EINTR);
    if (r >= 0)
        return r;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
        c->writable = false;
        return 0;
    }
    return -1;
}

/* The guest has shut down directions and the host socket has everything. */
static void after_forward(struct pvh_vsock *v, struct pvh_vsock_conn *c)
{
    if (c->ring_len || c->csm.state != PVH_VSOCK_ESTABLISHED)
        return;
    drop_ring(v, c);
    uint8_t shut = c->csm.peer_shut;
    if ((shut & PVH_VSOCK_SHUTDOWN_SEND) && !c->host_wr_shut) {
        shutdown(c->fd, SHUT_WR);
        c->host_wr_shut = true;
    }
    if (shut == PVH_VSOCK_SHUTDOWN_BOTH)
        kill_conn(v, c, true); /* the RST that ends the guest's close */
}

static void forwarded(struct pvh_vsock *v, struct pvh_vsock_conn *c, uint32_t n)
{
    pvh_vsock_csm_forwarded(&c->csm, n);
    v->n.from_guest += n;
    v->dev.stats.bytes += n;
}

/* Writes the ring to the host socket while it takes bytes. */
static void flush_ring(struct pvh_vsock *v, struct pvh_vsock_conn *c)
{
    uint32_t cap = c->csm.buf_alloc;
    while (c->ring_len && c->writable && !c->closing) {
        uint32_t first = cap - c->ring_head < c->ring_len ? cap - c->ring_head : c->ring_len;
        struct iovec iov[2] = {{c->ring + c->ring_head, first}, {c->ring, c->ring_len - first}};
        ssize_t r = host_send(c, iov, c->ring_len > first ? 2 : 1);
        if (r < 0) {
            kill_conn(v, c, true);
            return;
        }
        c->ring_head = (uint32_t)((c->ring_head + (size_t)r) % cap);
        c->ring_len -= (uint32_t)r;
        v->n.held -= (uint64_t)r;
        forwarded(v, c, (uint32_t)r);
    }
    after_forward(v, c);
}

/* Copies the chain's payload [off, off + len) to the ring's tail. */
static int ring_append(struct pvh_vsock *v, struct pvh_vsock_conn *c, const struct pvh_vchain *ch, size_t off,
                       uint32_t len)
{
    uint32_t cap = c->csm.buf_alloc;
    if (len > cap - c->ring_len)
        return -1; /* cannot happen: the credit check keeps held <= buf_alloc */
    if (!c->ring && !(c->ring = malloc(cap)))
        return -1;
    uint32_t tail = (c->ring_head + c->ring_len) % cap;
    uint32_t first = cap - tail < len ? cap - tail : len;
    pvh_vchain_read(ch, off, c->ring + tail, first);
    pvh_vchain_read(ch, off + first, c->ring, len - first);
    c->ring_len += len;
    v->n.held += len;
    if (v->n.held > v->n.held_peak)
        v->n.held_peak = v->n.held;
    return 0;
}

/* A RW packet's payload for the host socket: straight from guest RAM when
 * nothing waits before it, the rest into the ring. */
static void to_host(struct pvh_vsock *v, struct pvh_vsock_conn *c, const struct pvh_vchain *ch, uint32_t len)
{
    uint32_t sent = 0;
    if (c->closing)
        return;
    if (!c->ring_len && c->writable) {
        struct iovec iov[MAX_IOV];
        int n = chain_iov(ch, false, PVH_VSOCK_HDR_SIZE, len, iov);
        ssize_t r = host_send(c, iov, n);
        if (r < 0) {
            kill_conn(v, c, true);
            return;
        }
        sent = (uint32_t)r;
        forwarded(v, c, sent);
    }
    if (sent < len && ring_append(v, c, ch, PVH_VSOCK_HDR_SIZE + (size_t)sent, len - sent)) {
        kill_conn(v, c, true);
        return;
    }
    after_forward(v, c);
}

/* The guest accepted the host's connection: "OK <local_port>\n". */
static void host_ok(struct pvh_vsock *v, struct pvh_vsock_conn *c)
{
    char line[PVH_VSOCK_OK_MAX];
    struct iovec iov = {line, pvh_vsock_format_ok(line, c->local_port)};
    c->deadline = 0;
    if (host_send(c, &iov, 1) != (ssize_t)iov.iov_len) {
        kill_conn(v, c, true);
        return;
    }
    v->n.host_conns++;
}

static int watch_conn(struct pvh_vsock *v, struct pvh_vsock_conn *c);

/* <uds_path>_<port>, connected without blocking: -1 when nobody listens
 * there or its backlog is full. */
static int uds_connect(void *ctx, uint32_t port)
{
    struct pvh_vsock *v = ctx;
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    size_t len = strlen(v->cfg.uds_path);
    char digits[10];
    size_t nd = 0;
    memcpy(a.sun_path, v->cfg.uds_path, len); /* the length was checked at init */
    a.sun_path[len++] = '_';
    do
        digits[nd++] = (char)('0' + port % 10);
    while ((port /= 10) > 0);
    while (nd > 0)
        a.sun_path[len++] = digits[--nd];
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* The guest's REQUEST for a port on the host. */
static void guest_connect(struct pvh_vsock *v, const struct pvh_vsock_hdr *h)
{
    struct pvh_vsock_conn *c = NULL;
    int fd = -1;
    if (v->n.conns < v->cfg.max_conns)
        fd = v->cfg.connect_port(v->cfg.connect_ctx, h->dst_port);
    if (fd >= 0)
        c = conn_alloc(v, CONN_LIVE, fd);
    if (!c) {
        if (fd >= 0)
            close(fd);
        v->n.refused++;
        orphan_rst(v, h);
        return;
    }
    c->local_port = h->dst_port;
    c->peer_port = h->src_port;
    pvh_vsock_csm_init(&c->csm, PVH_VSOCK_ESTABLISHED, v->cfg.buf_alloc, h->buf_alloc, h->fwd_cnt);
    hash_insert(v, c);
    if (watch_conn(v, c)) {
        kill_conn(v, c, true);
        v->n.refused++;
        return;
    }
    v->n.guest_conns++;
    update_rx(v, c);
}

/* ---- the receive queue: packets to the guest ------------------------------------ *
 * Receive chains are taken from the queue into slots (a small FIFO): each
 * carries one packet. A connection's data may fill several slots with one
 * readv (Linux posts 4 KiB buffers: one system call per 64 KiB, not per
 * 4 KiB); slots not filled stay in hand for the next packet. */

static struct pvh_vsock_rxslot *slot(struct pvh_vsock *v, unsigned i)
{
    return &v->slots[(v->slot_first + i) % PVH_VSOCK_RX_BATCH];
}

/* Copies len bytes into the slot's buffers from byte off of their concatenation. */
static void slot_write(struct pvh_vsock_rxslot *s, size_t off, const uint8_t *src, size_t len)
{
    for (unsigned i = 0; i < s->nseg && len; i++) {
        if (off >= s->seg[i].iov_len) {
            off -= s->seg[i].iov_len;
            continue;
        }
        size_t n = s->seg[i].iov_len - off < len ? s->seg[i].iov_len - off : len;
        memcpy((uint8_t *)s->seg[i].iov_base + off, src, n);
        src += n;
        len -= n;
        off = 0;
    }
}

/* iov entries for the slot's payload bytes [0, len) (after the header). */
static void slot_payload_iov(const struct pvh_vsock_rxslot *s, size_t len, struct iovec *iov, int *n)
{
    size_t off = PVH_VSOCK_HDR_SIZE;
    for (unsigned i = 0; i < s->nseg && len; i++) {
        if (off >= s->seg[i].iov_len) {
            off -= s->seg[i].iov_len;
            continue;
        }
        size_t take = s->seg[i].iov_len - off < len ? s->seg[i].iov_len - off : len;
        iov[(*n)++] = (struct iovec){(uint8_t *)s->seg[i].iov_base + off, take};
        len -= take;
        off = 0;
    }
}

/* A popped chain as a slot: its first PVH_VSOCK_RX_SEGS buffers. -1 when it
 * cannot carry a packet: a device-readable buffer (the spec forbids it) or
 * no room for a byte after the header. */
static int make_slot(const struct pvh_vchain *ch, struct pvh_vsock_rxslot *s)
{
    uint64_t cap = 0;
    if (ch->readable)
        return -1;
    s->head = ch->head;
    s->nseg = 0;
    for (uint16_t i = 0; i < ch->n && s->nseg < PVH_VSOCK_RX_SEGS; i++) {
        if (!ch->buf[i].len)
            continue;
        s->seg[s->nseg++] = (struct iovec){ch->buf[i].host, ch->buf[i].len};
        cap += ch->buf[i].len;
    }
    if (cap <= PVH_VSOCK_HDR_SIZE)
        return -1;
    cap -= PVH_VSOCK_HDR_SIZE;
    s->room = cap > PVH_VSOCK_MAX_PAYLOAD ? PVH_VSOCK_MAX_PAYLOAD : (uint32_t)cap;
    return 0;
}

/* Slots in hand, taking chains until there are `want` (fewer when the
 * queue runs dry). Chains that cannot carry a packet are returned unused
 * and counted. */
static unsigned fill_slots(struct pvh_vsock *v, struct pvh_virtq *q, unsigned want, unsigned *pushed)
{
    struct pvh_error err;
    if (want > PVH_VSOCK_RX_BATCH)
        want = PVH_VSOCK_RX_BATCH;
    while (v->nslots < want) {
        int got = pvh_virtq_pop(q, v->rx_chain, &err);
        if (got < 0) {
            pvh_virtio_fail(&v->dev, &err);
            return 0;
        }
        if (got == 0) {
            if (pvh_virtq_arm_notify(q))
                continue; /* buffers came meanwhile */
            break;
        }
        if (make_slot(v->rx_chain, slot(v, v->nslots))) {
            count_drop(v);
            pvh_virtq_push(q, v->rx_chain->head, 0);
            (*pushed)++;
            continue;
        }
        v->nslots++;
    }
    return v->nslots;
}

/* Gives the first slot back to the guest with len bytes written. */
static void push_slot(struct pvh_vsock *v, struct pvh_virtq *q, uint32_t len)
{
    pvh_virtq_push(q, slot(v, 0)->head, len);
    v->slot_first = (v->slot_first + 1) % PVH_VSOCK_RX_BATCH;
    v->nslots--;
    v->dev.stats.requests++;
}

static void put_header(struct pvh_vsock *v, struct pvh_vsock_conn *c, struct pvh_vsock_rxslot *s, uint16_t op,
                       uint32_t flags, uint32_t len)
{
    struct pvh_vsock_hdr h = {
        .src_cid = PVH_VSOCK_HOST_CID, .dst_cid = v->cfg.guest_cid, .src_port = c->local_port,
        .dst_port = c->peer_port, .len = len, .type = PVH_VSOCK_TYPE_STREAM, .op = op, .flags = flags,
    };
    uint8_t b[PVH_VSOCK_HDR_SIZE];
    pvh_vsock_csm_stamp(&c->csm, &h);
    pvh_vsock_hdr_encode(&h, b);
    slot_write(s, 0, b, sizeof(b));
}

/* The next control packet the connection owes: packets pushed (0 or 1). */
static unsigned send_control(struct pvh_vsock *v, struct pvh_vsock_conn *c, struct pvh_virtq *q)
{
    uint32_t flags;
    uint16_t op = pvh_vsock_csm_next_control(&c->csm, &flags);
    if (!op)
        return 0;
    put_header(v, c, slot(v, 0), op, flags, 0);
    push_slot(v, q, PVH_VSOCK_HDR_SIZE);
    return 1;
}

/* Host bytes read straight into as many slots as the guest's credit covers
 * (at most PVH_VSOCK_RX_BATCH), one packet each: packets pushed, 0 when
 * none could be read (the connection leaves the list). */
static unsigned send_data(struct pvh_vsock *v, struct pvh_vsock_conn *c, struct pvh_virtq *q, unsigned *pushed)
{
    uint32_t credit = pvh_vsock_csm_room(&c->csm), covered = 0, left;
    if (!credit || !wants_rx(c))
        return 0;
    for (unsigned k = 0; covered < credit && k < PVH_VSOCK_RX_BATCH; k++) {
        if (k == v->nslots && fill_slots(v, q, k + 1, pushed) <= k)
            break;
        covered += slot(v, k)->room;
    }
    struct iovec iov[MAX_IOV];
    int niov = 0;
    left = credit;
    for (unsigned k = 0; k < v->nslots && left; k++) {
        uint32_t take = slot(v, k)->room < left ? slot(v, k)->room : left;
        slot_payload_iov(slot(v, k), take, iov, &niov);
        left -= take;
    }
    ssize_t r;
    do
        r = readv(c->fd, iov, niov);
    while (r < 0 && errno == EINTR);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        c->readable = false;
        return 0;
    }
    if (r <= 0) {
        if (r == 0) {
            c->host_eof = true;
            pvh_vsock_csm_host_eof(&c->csm);
        } else {
            kill_conn(v, c, true); /* ECONNRESET and the like */
        }
        return send_control(v, c, q);
    }
    unsigned packets = 0;
    for (uint32_t rem = (uint32_t)r; rem; packets++) {
        uint32_t take = slot(v, 0)->room < rem ? slot(v, 0)->room : rem;
        put_header(v, c, slot(v, 0), PVH_VSOCK_OP_RW, 0, take);
        pvh_vsock_csm_sent(&c->csm, take);
        push_slot(v, q, PVH_VSOCK_HDR_SIZE + take);
        rem -= take;
    }
    v->n.to_guest += (uint64_t)r;
    v->dev.stats.bytes += (uint64_t)r;
    return packets;
}

/* Packets of the list's head; the connection moves to the tail while it
 * has more. */
static unsigned send_from_list(struct pvh_vsock *v, struct pvh_virtq *q, unsigned *pushed)
{
    struct pvh_vsock_conn *c = v->rx_head;
    unsigned n = send_control(v, c, q);
    if (!n)
        n = send_data(v, c, q, pushed);
    rx_unlink(v, c);
    update_rx(v, c);
    maybe_release(v, c);
    return n;
}

static unsigned send_orphan(struct pvh_vsock *v, struct pvh_virtq *q)
{
    struct pvh_vsock_orphan o = v->orphans[v->orphan_head];
    v->orphan_head = (v->orphan_head + 1) % PVH_VSOCK_ORPHAN_MAX;
    v->norphans--;
    struct pvh_vsock_hdr h = {
        .src_cid = PVH_VSOCK_HOST_CID, .dst_cid = v->cfg.guest_cid, .src_port = o.local_port,
        .dst_port = o.peer_port, .type = PVH_VSOCK_TYPE_STREAM, .op = PVH_VSOCK_OP_RST,
    };
    uint8_t b[PVH_VSOCK_HDR_SIZE];
    pvh_vsock_hdr_encode(&h, b);
    slot_write(slot(v, 0), 0, b, sizeof(b));
    push_slot(v, q, PVH_VSOCK_HDR_SIZE);
    return 1;
}

static bool rx_work(const struct pvh_vsock *v)
{
    return v->norphans || v->rx_head;
}

static bool can_serve(const struct pvh_virtio_dev *d, unsigned queue)
{
    return pvh_virtio_running(d) && d->q[queue].ready;
}

static void rx_run(struct pvh_vsock *v)
{
    struct pvh_virtio_dev *d = &v->dev;
    struct pvh_virtq *q = &d->q[PVH_VSOCK_RX];
    unsigned pushed = 0, idle = 0;
    while (can_serve(d, PVH_VSOCK_RX) && rx_work(v) && pushed < q->size && idle <= v->cfg.max_conns) {
        if (!fill_slots(v, q, 1, &pushed))
            break;
        unsigned n = v->norphans ? send_orphan(v, q) : send_from_list(v, q, &pushed);
        if (!n) {
            idle++; /* that connection had nothing after all (it left the list): the slots stay in hand */
            continue;
        }
        pushed += n;
    }
    if (pushed && !d->broken)
        pvh_virtio_used(d, PVH_VSOCK_RX);
    if (pushed >= q->size && rx_work(v) && d->env.kick)
        d->env.kick(d->env.ctx, d, PVH_VSOCK_RX); /* more later: other fds first */
}

/* ---- the transmit queue: packets from the guest -------------------------------- */

static void on_conn_packet(struct pvh_vsock *v, struct pvh_vsock_conn *c, const struct pvh_vsock_hdr *h,
                           const struct pvh_vchain *ch)
{
    const char *why;
    switch (pvh_vsock_csm_on_packet(&c->csm, h, &why)) {
    case PVH_VSOCK_ACT_DATA: to_host(v, c, ch, h->len); break;
    case PVH_VSOCK_ACT_CONNECTED: host_ok(v, c); break;
    case PVH_VSOCK_ACT_SHUTDOWN: after_forward(v, c); break;
    case PVH_VSOCK_ACT_CLOSE: kill_conn(v, c, false); break;
    case PVH_VSOCK_ACT_RESET: violation(v, c); break;
    case PVH_VSOCK_ACT_NONE: break;
    }
    update_rx(v, c);
}

static void tx_packet(struct pvh_vsock *v, const struct pvh_vchain *ch)
{
    uint8_t b[PVH_VSOCK_HDR_SIZE];
    struct pvh_vsock_hdr h;
    const char *why;
    v->dev.stats.requests++;
    if (ch->writable || ch->readable < PVH_VSOCK_HDR_SIZE) {
        count_drop(v); /* 5.10.6.6: a header and its payload, all device-readable */
        return;
    }
    pvh_vchain_read(ch, 0, b, sizeof(b));
    pvh_vsock_hdr_decode(b, &h);
    enum pvh_vsock_verdict verdict = pvh_vsock_check(&h, v->cfg.guest_cid, ch->readable - PVH_VSOCK_HDR_SIZE, &why);
    if (verdict == PVH_VSOCK_DROP) {
        count_drop(v);
        return;
    }
    struct pvh_vsock_conn *c = lookup(v, h.dst_port, h.src_port);
    if (verdict == PVH_VSOCK_REFUSE) {
        if (c && c->csm.state != PVH_VSOCK_CLOSED)
            violation(v, c);
        else
            count_drop(v), orphan_rst(v, &h);
        return;
    }
    if (c)
        on_conn_packet(v, c, &h, ch);
    else if (h.op == PVH_VSOCK_OP_REQUEST)
        guest_connect(v, &h);
    else
        count_drop(v), orphan_rst(v, &h);
}

static void tx_run(struct pvh_vsock *v)
{
    struct pvh_virtio_dev *d = &v->dev;
    struct pvh_virtq *q = &d->q[PVH_VSOCK_TX];
    struct pvh_error err;
    unsigned served = 0;
    bool more = true;
    while (more) {
        if (served == q->size)
            break;
        int got = pvh_virtq_pop(q, v->tx_chain, &err);
        if (got < 0) {
            pvh_virtio_fail(d, &err);
            return;
        }
        if (got == 0) {
            more = pvh_virtq_arm_notify(q);
            continue;
        }
        tx_packet(v, v->tx_chain);
        pvh_virtq_push(q, v->tx_chain->head, 0);
        served++;
    }
    if (served)
        pvh_virtio_used(d, PVH_VSOCK_TX);
    if (served == q->size && d->env.kick)
        d->env.kick(d->env.ctx, d, PVH_VSOCK_TX);
}

/* ---- the event queue -------------------------------------------------------------- */

static void event_run(struct pvh_vsock *v)
{
    struct pvh_virtio_dev *d = &v->dev;
    struct pvh_virtq *q = &d->q[PVH_VSOCK_EVENT];
    struct pvh_error err;
    bool pushed = false;
    while (v->event_owed && can_serve(d, PVH_VSOCK_EVENT)) {
        const struct pvh_vchain *ch = v->tx_chain; /* scratch outside tx_run */
        int got = pvh_virtq_pop(q, v->tx_chain, &err);
        if (got < 0)
            pvh_virtio_fail(d, &err);
        if (got <= 0)
            break;
        uint8_t ev[4];
        pvh_put_le32(ev, PVH_VSOCK_EVENT_TRANSPORT_RESET);
        bool ok = !ch->readable && ch->writable >= sizeof(ev);
        if (ok)
            pvh_vchain_write(ch, 0, ev, sizeof(ev));
        else
            count_drop(v);
        pvh_virtq_push(q, ch->head, ok ? sizeof(ev) : 0);
        v->event_owed = !ok;
        pushed = true;
    }
    if (pushed)
        pvh_virtio_used(d, PVH_VSOCK_EVENT);
}

/* ---- host socket events ------------------------------------------------------------- */

/* The host end's port for a connection to the guest's `peer`: the next in
 * [2^30, 2^31) not in use with it (Firecracker's range: "OK 1073741824"
 * first). */
static uint32_t next_local_port(struct pvh_vsock *v, uint32_t peer)
{
    do {
        v->next_local_port++;
        if (v->next_local_port < LOCAL_PORT_FIRST || v->next_local_port >= (1u << 31))
            v->next_local_port = LOCAL_PORT_FIRST;
    } while (lookup(v, v->next_local_port, peer));
    return v->next_local_port;
}

/* The handshake line: peeked, then consumed exactly, so that bytes after
 * it stay in the socket for the guest. */
static void handshake(struct pvh_vsock *v, struct pvh_vsock_conn *c)
{
    char line[PVH_VSOCK_CONNECT_MAX];
    uint32_t port;
    ssize_t n;
    do
        n = recv(c->fd, line, sizeof(line), MSG_PEEK | MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return;
    int len = n > 0 ? pvh_vsock_parse_connect(line, (size_t)n, &port) : -1;
    if (len == 0)
        return; /* more is coming */
    if (len < 0) {
        /* what the host sent is consumed (up to 1 KiB) before closing, so that
         * it reads end of file rather than a connection reset */
        for (int i = 0; i < 32 && read(c->fd, line, sizeof(line)) > 0; i++) {
        }
        v->n.refused++;
        schedule_close(v, c);
        return;
    }
    if (read(c->fd, line, (size_t)len) != len) {
        v->n.refused++;
        schedule_close(v, c);
        return;
    }
    c->kind = CONN_LIVE;
    c->local_port = next_local_port(v, port);
    c->peer_port = port;
    pvh_vsock_csm_init(&c->csm, PVH_VSOCK_LOCAL_INIT, v->cfg.buf_alloc, 0, 0);
    hash_insert(v, c);
    update_rx(v, c);
}

static void conn_event(struct pvh_vsock *v, struct pvh_vsock_conn *c, uint32_t events)
{
    if (c->kind == CONN_FREE || c->closing)
        return;
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        c->readable = true;
    if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
        c->writable = true;
    if (c->kind == CONN_HANDSHAKE) {
        if (c->readable)
            handshake(v, c);
        return;
    }
    if (c->ring_len && c->writable)
        flush_ring(v, c);
    update_rx(v, c);
}

static void on_conn(void *arg, uint32_t events);

static int watch_conn(struct pvh_vsock *v, struct pvh_vsock_conn *c)
{
    const struct pvh_virtio_env *env = &v->dev.env;
    if (!env->watch)
        return 0;
    if (env->watch(env->ctx, c->fd, CONN_EVENTS, on_conn, c) != 0)
        return -1;
    c->watched = true;
    return 0;
}

static void accept_all(struct pvh_vsock *v)
{
    for (;;) {
        int fd = accept4(v->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0 && (errno == EINTR || errno == ECONNABORTED))
            continue;
        if (fd < 0)
            return; /* EAGAIN; EMFILE cannot be helped (the limit was raised at init) */
        struct pvh_vsock_conn *c = v->n.conns < v->cfg.max_conns ? conn_alloc(v, CONN_HANDSHAKE, fd) : NULL;
        if (!c) {
            close(fd);
            v->n.refused++;
            continue;
        }
        if (watch_conn(v, c)) {
            close(fd);
            release(v, c);
            v->n.refused++;
            continue;
        }
        set_deadline(v, c);
        handshake(v, c);
    }
}

/* Work that may have become possible, then the closes. Lock held. */
static void settle(struct pvh_vsock *v)
{
    rx_run(v);
    finish(v);
}


static void on_conn(void *arg, uint32_t events)
{
    struct pvh_vsock_conn *c = arg;
    struct pvh_vsock *v = c->owner;
    pthread_mutex_lock(&v->dev.lock);
    conn_event(v, c, events);
    settle(v);
    pthread_mutex_unlock(&v->dev.lock);
}

static void on_listener(void *arg, uint32_t events)
{
    struct pvh_vsock *v = arg;
    (void)events;
    pthread_mutex_lock(&v->dev.lock);
    accept_all(v);
    settle(v);
    pthread_mutex_unlock(&v->dev.lock);
}

static void drain_fd(int fd)
{
    uint64_t count;
    if (read(fd, &count, sizeof(count)) < 0) {
        /* EAGAIN: a spurious wake-up */
    }
}

static void on_timer(void *arg, uint32_t events)
{
    struct pvh_vsock *v = arg;
    (void)events;
    drain_fd(v->timer_fd);
    pthread_mutex_lock(&v->dev.lock);
    expire(v, now(v));
    settle(v);
    pthread_mutex_unlock(&v->dev.lock);
}

/* A vCPU thread reset the device, or the transport was reset. */
static void on_work(void *arg, uint32_t events)
{
    struct pvh_vsock *v = arg;
    (void)events;
    drain_fd(v->work_fd);
    pthread_mutex_lock(&v->dev.lock);
    event_run(v);
    settle(v);
    pthread_mutex_unlock(&v->dev.lock);
}

/* ---- device-type operations ------------------------------------------------------ */

static void vsock_config_read(struct pvh_virtio_dev *d, uint32_t off, uint8_t *data, unsigned len)
{
    uint8_t cfg[PVH_VSOCK_CFG_SIZE];
    pvh_put_le64(cfg, vsock_of(d)->cfg.guest_cid);
    memcpy(data, cfg + off, len);
}

/* On the I/O thread (or the caller's, without one), lock held. */
static void vsock_queue_notify(struct pvh_virtio_dev *d, unsigned queue)
{
    struct pvh_vsock *v = vsock_of(d);
    if (queue == PVH_VSOCK_TX)
        tx_run(v);
    else if (queue == PVH_VSOCK_EVENT)
        event_run(v);
    settle(v); /* the receive queue: whatever is owed, whatever came */
}

/* Every connection the guest knows ends (host sockets closed on the I/O
 * thread); handshakes on the host side wait for the next driver. */
static void close_all(struct pvh_vsock *v)
{
    for (unsigned i = 0; i < v->cfg.max_conns; i++)
        if (v->pool[i].kind == CONN_LIVE)
            kill_conn(v, &v->pool[i], false);
    v->norphans = 0;
    v->nslots = 0; /* the queues are gone with the driver */
}

/* The driver reset the device (a vCPU thread, lock held). */
static void vsock_reset(struct pvh_virtio_dev *d)
{
    struct pvh_vsock *v = vsock_of(d);
    close_all(v);
    v->event_owed = false;
    wake_io_thread(v);
}

const struct pvh_virtio_device_ops pvh_vsock_ops = {
    .name = "virtio-vsock", .device_id = PVH_VIRTIO_ID_VSOCK, .nqueues = 3, .queue_max = PVH_VSOCK_QUEUE_MAX,
    .features = 0, /* stream sockets only: 5.10.3, no feature bit means VIRTIO_VSOCK_F_STREAM */
    .config_size = PVH_VSOCK_CFG_SIZE, .config_read = vsock_config_read, .queue_notify = vsock_queue_notify,
    .reset = vsock_reset,
};

void pvh_vsock_transport_reset(struct pvh_virtio_dev *d)
{
    struct pvh_vsock *v = vsock_of(d);
    pthread_mutex_lock(&d->lock);
    close_all(v);
    v->event_owed = pvh_virtio_running(d);
    event_run(v);
    wake_io_thread(v);
    pthread_mutex_unlock(&d->lock);
}

void pvh_vsock_io(struct pvh_virtio_dev *d, uint32_t events)
{
    struct pvh_vsock *v = vsock_of(d);
    pthread_mutex_lock(&d->lock);
    if (v->listen_fd >= 0)
        accept_all(v);
    for (unsigned i = 0; i < v->cfg.max_conns; i++)
        conn_event(v, &v->pool[i], events);
    settle(v);
    pthread_mutex_unlock(&d->lock);
}

void pvh_vsock_tick(struct pvh_virtio_dev *d)
{
    struct pvh_vsock *v = vsock_of(d);
    pthread_mutex_lock(&d->lock);
    expire(v, now(v));
    settle(v);
    pthread_mutex_unlock(&d->lock);
}

struct pvh_vsock_counters pvh_vsock_counters(struct pvh_virtio_dev *d)
{
    pthread_mutex_lock(&d->lock);
    struct pvh_vsock_counters n = vsock_of(d)->n;
    pthread_mutex_unlock(&d->lock);
    return n;
}

/* ---- setup ---------------------------------------------------------------------- */

/* "<path>_<port>" must fit sockaddr_un for every port. */
#define MAX_PATH (sizeof(((struct sockaddr_un *)0)->sun_path) - 1 - 1 - 10)

static int resolve_config(struct pvh_vsock *v, const struct pvh_vsock_config *in, struct pvh_error *err)
{
    struct pvh_vsock_config *c = &v->cfg;
    *c = *in;
    if (c->guest_cid < PVH_VSOCK_MIN_GUEST_CID || c->guest_cid > PVH_VSOCK_MAX_GUEST_CID)
        return pvh_fail(err, PVH_E_INPUT, "virtio-vsock: guest CID %llu: expected 3 to 4294967294 (0-2 are "
                        "reserved: the hypervisor, local, the host)", (unsigned long long)c->guest_cid);
    if (!c->connect_port && (!c->uds_path || !c->uds_path[0]))
        return pvh_fail(err, PVH_E_INPUT, "virtio-vsock: no uds= path for the host's socket");
    if (c->uds_path && strlen(c->uds_path) > MAX_PATH)
        return pvh_fail(err, PVH_E_INPUT, "virtio-vsock: uds=%s: at most %zu bytes (\"PATH_PORT\" must fit a "
                        "UNIX socket address)", c->uds_path, (size_t)MAX_PATH);
    if (!c->max_conns)
        c->max_conns = PVH_VSOCK_DEFAULT_MAX_CONNS;
    if (c->max_conns > PVH_EVENTLOOP_MAX_CONNS)
        return pvh_fail(err, PVH_E_INPUT, "virtio-vsock: %u connections: at most %u", c->max_conns,
                        PVH_EVENTLOOP_MAX_CONNS);
    if (!c->buf_alloc)
        c->buf_alloc = PVH_VSOCK_DEFAULT_BUF;
    if (c->buf_alloc < 4096 || c->buf_alloc > PVH_VSOCK_MAX_BUF)
        return pvh_fail(err, PVH_E_INPUT, "virtio-vsock: a buffer of %u bytes: 4 KiB to 4 MiB", c->buf_alloc);
    if (!c->timeout_ns)
        c->timeout_ns = PVH_VSOCK_DEFAULT_TIMEOUT_NS;
    if (!c->now_ns)
        c->now_ns = pvh_now_ns_cb;
    if (!c->connect_port)
        c->connect_port = uds_connect, c->connect_ctx = v;
    return 0;
}

/* Every connection is an fd: the soft limit is raised to the hard one as
 * needed, and the table shrinks to what fits under it. */
static int raise_fd_limit(struct pvh_vsock *v, struct pvh_error *err)
{
    struct rlimit rl;
    rlim_t want = (rlim_t)v->cfg.max_conns + FD_RESERVE;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
        return 0;
    rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
    setrlimit(RLIMIT_NOFILE, &rl);
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
        return 0;
    if (rl.rlim_cur < FD_RESERVE + 16)
        return pvh_fail(err, PVH_E_SYSTEM, "virtio-vsock: the fd limit (ulimit -n) is %llu; it needs %llu",
                        (unsigned long long)rl.rlim_cur, (unsigned long long)want);
    v->cfg.max_conns = (unsigned)(rl.rlim_cur - FD_RESERVE);
    return 0;
}

static int alloc_tables(struct pvh_vsock *v, struct pvh_error *err)
{
    v->nbuckets = 16;
    while (v->nbuckets < 2 * v->cfg.max_conns)
        v->nbuckets *= 2;
    v->pool = calloc(v->cfg.max_conns, sizeof(*v->pool));
    v->buckets = calloc(v->nbuckets, sizeof(*v->buckets));
    v->rx_chain = pvh_vchain_new();
    v->tx_chain = pvh_vchain_new();
    if (!v->pool || !v->buckets || !v->rx_chain || !v->tx_chain)
        return pvh_fail(err, PVH_E_SYSTEM, "virtio-vsock: out of memory");
    for (unsigned i = v->cfg.max_conns; i-- > 0;) {
        v->pool[i].owner = v;
        v->pool[i].fd = -1;
        v->pool[i].next = v->free_list;
        v->free_list = &v->pool[i];
    }
    v->next_local_port = LOCAL_PORT_FIRST - 1;
    return 0;
}

static void fill_address(struct sockaddr_un *a, const char *path)
{
    memset(a, 0, sizeof(*a));
    a->sun_family = AF_UNIX;
    memcpy(a->sun_path, path, strlen(path)); /* checked against MAX_PATH */
}

/* A socket file at path: replaced when nobody listens there (a VM that
 * ended: the sandbox keeps pvhboot from unlinking it at exit), else an
 * error naming what is there. */
static int replace_stale(const char *path, struct pvh_error *err)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return 0; /* gone meanwhile: bind again */
    if (!S_ISSOCK(st.st_mode))
        return pvh_fail(err, PVH_E_INPUT, "virtio-vsock: uds=%s exists and is not a socket; remove it or choose "
                        "another path", path);
    struct sockaddr_un a;
    fill_address(&a, path);
    int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (probe < 0)
        return pvh_fail(err, PVH_E_SYSTEM, "virtio-vsock: socket: %s", strerror(errno));
    int rc = connect(probe, (struct sockaddr *)&a, sizeof(a)), e = errno;
    close(probe);
    if (rc == 0 || e != ECONNREFUSED)
        return pvh_fail(err, PVH_E_INPUT, "virtio-vsock: uds=%s: %s", path,
                        rc == 0 ? "another process listens there (another VM?); choose another path" : strerror(e));
    if (unlink(path) != 0 && errno != ENOENT)
        return pvh_fail(err, PVH_E_SYSTEM, "virtio-vsock: uds=%s: cannot remove the stale socket: %s", path,
                        strerror(errno));
    return 0;
}

static int bind_listener(struct pvh_vsock *v, struct pvh_error *err)
{
    struct sockaddr_un a;
    const char *path = v->cfg.uds_path;
    fill_address(&a, path);
    v->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (v->listen_fd < 0)
        return pvh_fail(err, PVH_E_SYSTEM, "virtio-vsock: socket: %s", strerror(errno));
    int rc = bind(v->listen_fd, (struct sockaddr *)&a, sizeof(a));
    if (rc != 0 && errno == EADDRINUSE) {
        if (replace_stale(path, err))
            return -1;
        rc = bind(v->listen_fd, (struct sockaddr *)&a, sizeof(a));
    }
    if (rc != 0)
        return pvh_fail(err, PVH_E_SYSTEM, "virtio-vsock: uds=%s: bind: %s", path, strerror(errno));
    if (listen(v->listen_fd, SOMAXCONN) != 0)
        return pvh_fail(err, PVH_E_SYSTEM, "virtio-vsock: uds=%s: listen: %s", path, strerror(errno));
    return 0;
}

static int watch_own(struct pvh_vsock *v, int fd, uint32_t events, void (*cb)(void *arg, uint32_t events),
                     struct pvh_error *err)
{
    const struct pvh_virtio_env *env = &v->dev.env;
    if (fd < 0)
        return pvh_fail(err, PVH_E_SYSTEM, "virtio-vsock: eventfd/timerfd: %s", strerror(errno));
    if (env->watch(env->ctx, fd, events, cb, v) != 0)
        return pvh_fail(err, PVH_E_SYSTEM, "virtio-vsock: the I/O thread would not watch fd %d", fd);
    return 0;
}

/* The I/O thread's part: the wake-up eventfd, the timer, the listener. */
static int start_io(struct pvh_vsock *v, struct pvh_error *err)
{
    v->work_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (watch_own(v, v->work_fd, EPOLLIN, on_work, err))
        return -1;
    v->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (watch_own(v, v->timer_fd, EPOLLIN, on_timer, err))
        return -1;
    return v->listen_fd < 0 ? 0 : watch_own(v, v->listen_fd, EPOLLIN | EPOLLET, on_listener, err);
}

int pvh_vsock_init(struct pvh_vsock *v, const struct pvh_vsock_config *cfg, const struct pvh_virtio_env *env,
                   uint64_t base, uint32_t gsi, struct pvh_error *err)
{
    memset(v, 0, sizeof(*v));
    v->listen_fd = v->timer_fd = v->work_fd = -1;
    if (resolve_config(v, cfg, err) || (cfg->listen && raise_fd_limit(v, err)) || alloc_tables(v, err)) {
        pvh_vsock_destroy(v);
        return -1;
    }
    pvh_virtio_init(&v->dev, &pvh_vsock_ops, v, env, base, gsi);
    if ((cfg->listen && bind_listener(v, err)) || (env->watch && start_io(v, err))) {
        pvh_vsock_destroy(v);
        return -1;
    }
    return 0;
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

void pvh_vsock_destroy(struct pvh_vsock *v)
{
    for (unsigned i = 0; v->pool && i < v->cfg.max_conns; i++) {
        close_fd(&v->pool[i].fd);
        free(v->pool[i].ring);
    }
    close_fd(&v->listen_fd);
    close_fd(&v->timer_fd);
    close_fd(&v->work_fd);
    if (v->dev.ops)
        pvh_virtio_destroy(&v->dev);
    free(v->pool);
    free(v->buckets);
    free(v->rx_chain);
    free(v->tx_chain);
    v->pool = v->free_list = NULL;
    v->buckets = NULL;
    v->rx_chain = v->tx_chain = NULL;
}
