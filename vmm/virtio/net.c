/* virtio-net (vmm/virtio/net.h): the features offered for a TAP, the
 * configuration space, the transmit path (headers copied once and checked,
 * frames written from guest RAM with writev), the receive path (frames read
 * into the guest's buffers with readv, mergeable buffers), and when the TAP
 * is watched.
 *
 * Transmit: a run serves at most a queue's worth of chains; then it yields
 * (env->kick hands the queue back to the I/O thread, which serves its other
 * fds first), so a guest that keeps the queue full cannot keep the I/O
 * thread. Nothing is queued in the VMM: each frame is written to the TAP or
 * dropped (counted) before its chain goes back to the guest, so a flood
 * grows no host memory of ours.
 *
 * Receive: the device holds posted chains until they can take the largest
 * frame the TAP may deliver (12 + MTU + 18 bytes; 64 KiB more when the
 * guest takes segmentation offloads), reads one frame into them, returns
 * the chains it filled (num_buffers of them with VIRTIO_NET_F_MRG_RXBUF,
 * else one) and keeps the rest for the next frame; at the end of a run the
 * chains it still holds go back on the available ring (the guest sees
 * nothing of it). A frame longer than the buffers it was read into is
 * dropped (the TAP's read says its whole length). A run takes at most
 * PVH_NET_RX_BATCH frames; epoll reports the TAP again if more wait. When
 * the guest has no buffers (or the device does not run), the TAP's watch
 * is turned off (env->watch_enable) and the guest asked to notify; its
 * notification turns the watch back on: frames arriving meanwhile wait in
 * the TAP's own queue (the kernel drops them when it is full) and the I/O
 * thread does not spin on them.
 *
 * Chains the spec forbids (a device-writable buffer on the transmit queue,
 * a device-readable one or no writable byte on the receive queue) are
 * returned with 0 bytes and counted, as are frames whose header or length
 * breaks the rules (pvh_net_check_tx_header); only breaks of the ring rules
 * (queue.c) set DEVICE_NEEDS_RESET. */
#include "net.h"

#include <errno.h>
#include <linux/if_tun.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "pvhboot/bytes.h"
#include "pvhboot/layout.h"

#define BIT(n) (1ull << (n))
#define HDR VIRTIO_NET_HDR_BYTES
#define GUEST_GSO (PVH_TUN_F_TSO4 | PVH_TUN_F_TSO6 | PVH_TUN_F_UFO)

_Static_assert(PVH_TUN_F_CSUM == TUN_F_CSUM && PVH_TUN_F_TSO4 == TUN_F_TSO4 && PVH_TUN_F_TSO6 == TUN_F_TSO6 &&
                   PVH_TUN_F_TSO_ECN == TUN_F_TSO_ECN && PVH_TUN_F_UFO == TUN_F_UFO,
               "PVH_TUN_F_* are linux/if_tun.h's TUN_F_*");

/* A receive chain the device holds: its head, its iovecs in rx_iov, its bytes. */
struct rx_chain {
    uint16_t head;
    uint16_t niov;
    uint64_t bytes;
};

struct pvh_net {
    struct pvh_virtio_dev dev;
    struct pvh_virtio_device_ops ops;   /* the features depend on the TAP */
    struct pvh_net_config cfg;
    struct pvh_net_io io;
    uint8_t config[VIRTIO_NET_CONFIG_SIZE];
    struct pvh_net_counts counts;
    unsigned offloads_on;               /* PVH_TUN_F_* set on the TAP for the running driver */
    bool watched;                       /* env->watch took the TAP */
    bool rx_paused;                     /* its watch is off until the guest posts buffers */
    unsigned nrx;                       /* receive chains held, in the order they were popped */
    uint64_t rx_capacity;               /* their bytes */
    unsigned rx_niov;
    bool rx_iov_full;                   /* the last chain popped did not fit in rx_iov */
    struct rx_chain rx[PVH_NET_RX_CHAINS];
    struct iovec rx_iov[PVH_NET_IOV_MAX];
    struct iovec tmp_iov[PVH_NET_IOV_MAX + 1]; /* a transmit frame behind its header; a plain receive */
    struct pvh_vchain *chain;           /* the chain being popped (scratch) */
};

/* ---- the TAP's calls ---- */

static ssize_t sys_readv(void *ctx, int fd, const struct iovec *iov, int n)
{
    (void)ctx;
    return readv(fd, iov, n);
}

static ssize_t sys_writev(void *ctx, int fd, const struct iovec *iov, int n)
{
    (void)ctx;
    return writev(fd, iov, n);
}

static int sys_set_offloads(void *ctx, int fd, unsigned flags)
{
    (void)ctx;
    return ioctl(fd, TUNSETOFFLOAD, (unsigned long)flags);
}

/* ---- iovecs ---- */

/* Copies len bytes to byte `off` of the iovec array. */
static void iov_put(const struct iovec *iov, unsigned n, size_t off, const void *src, size_t len)
{
    const uint8_t *s = src;
    for (unsigned i = 0; i < n && len; i++) {
        if (off >= iov[i].iov_len) {
            off -= iov[i].iov_len;
            continue;
        }
        size_t take = iov[i].iov_len - off < len ? iov[i].iov_len - off : len;
        memcpy((uint8_t *)iov[i].iov_base + off, s, take);
        s += take;
        len -= take;
        off = 0;
    }
}

/* out = the iovec array without its first `off` bytes; returns its count. */
static unsigned iov_skip(const struct iovec *iov, unsigned n, size_t off, struct iovec *out)
{
    unsigned k = 0;
    for (unsigned i = 0; i < n; i++) {
        if (off >= iov[i].iov_len) {
            off -= iov[i].iov_len;
            continue;
        }
        out[k++] = (struct iovec){(uint8_t *)iov[i].iov_base + off, iov[i].iov_len - off};
        off = 0;
    }
    return k;
}

/* ---- features and configuration ---- */

static uint64_t offered_features(const struct pvh_net_config *c)
{
    uint64_t f = BIT(VIRTIO_NET_F_MAC) | BIT(VIRTIO_NET_F_STATUS) | BIT(VIRTIO_NET_F_MTU) |
                 BIT(VIRTIO_NET_F_MRG_RXBUF);
    unsigned t = c->tun_offloads;
    if (!c->vnet_hdr || !(t & PVH_TUN_F_CSUM))
        return f;
    f |= BIT(VIRTIO_NET_F_CSUM) | BIT(VIRTIO_NET_F_GUEST_CSUM);
    if (t & PVH_TUN_F_TSO4)
        f |= BIT(VIRTIO_NET_F_GUEST_TSO4) | BIT(VIRTIO_NET_F_HOST_TSO4);
    if (t & PVH_TUN_F_TSO6)
        f |= BIT(VIRTIO_NET_F_GUEST_TSO6) | BIT(VIRTIO_NET_F_HOST_TSO6);
    if ((t & PVH_TUN_F_TSO_ECN) && (t & (PVH_TUN_F_TSO4 | PVH_TUN_F_TSO6)))
        f |= BIT(VIRTIO_NET_F_GUEST_ECN) | BIT(VIRTIO_NET_F_HOST_ECN);
    if (t & PVH_TUN_F_UFO)
        f |= BIT(VIRTIO_NET_F_GUEST_UFO) | BIT(VIRTIO_NET_F_HOST_UFO);
    return f;
}

/* What the TAP may hand a driver that accepted `features` (TUN_F_* flags). */
static unsigned offloads_for(uint64_t features)
{
    if (!(features & BIT(VIRTIO_NET_F_GUEST_CSUM)))
        return 0; /* the TAP refuses segmentation without checksum offload, and so does the spec */
    unsigned t = PVH_TUN_F_CSUM;
    if (features & BIT(VIRTIO_NET_F_GUEST_TSO4))
        t |= PVH_TUN_F_TSO4;
    if (features & BIT(VIRTIO_NET_F_GUEST_TSO6))
        t |= PVH_TUN_F_TSO6;
    if ((features & BIT(VIRTIO_NET_F_GUEST_ECN)) && (t & (PVH_TUN_F_TSO4 | PVH_TUN_F_TSO6)))
        t |= PVH_TUN_F_TSO_ECN;
    if (features & BIT(VIRTIO_NET_F_GUEST_UFO))
        t |= PVH_TUN_F_UFO;
    return t;
}

static void set_offloads(struct pvh_net *n, unsigned flags)
{
    if (!n->cfg.vnet_hdr)
        return;
    if (n->io.set_offloads(n->io.ctx, n->cfg.fd, flags) == 0)
        n->offloads_on = flags;
}

static void build_config(struct pvh_net *n)
{
    memcpy(n->config + VIRTIO_NET_CFG_MAC, n->cfg.mac, 6);
    pvh_put_le16(n->config + VIRTIO_NET_CFG_STATUS, VIRTIO_NET_S_LINK_UP);
    pvh_put_le16(n->config + VIRTIO_NET_CFG_MAX_PAIRS, 1);
    pvh_put_le16(n->config + VIRTIO_NET_CFG_MTU, n->cfg.mtu);
}

static void net_config_read(struct pvh_virtio_dev *d, uint32_t off, uint8_t *data, unsigned len)
{
    memcpy(data, ((struct pvh_net *)d->impl)->config + off, len);
}

/* ---- the TAP's watch ---- */

static void watch_tap(struct pvh_net *n, bool on)
{
    const struct pvh_virtio_env *env = &n->dev.env;
    if (n->rx_paused == !on)
        return;
    n->rx_paused = !on;
    if (n->watched)
        env->watch_enable(env->ctx, n->cfg.fd, on);
}

/* Reads or writes fail for good (the TAP was deleted): link down, a
 * configuration interrupt, the watch off. Lock held. */
static void tap_lost(struct pvh_net *n)
{
    watch_tap(n, false);
    if (n->counts.tap_lost)
        return;
    n->counts.tap_lost = true;
    pvh_put_le16(n->config + VIRTIO_NET_CFG_STATUS, 0);
    pvh_virtio_config_changed(&n->dev);
}

static bool gone(int e)
{
    return e == EBADFD || e == ENXIO || e == ENODEV || e == EBADF;
}

/* ---- transmit ---- */

enum pvh_net_tx_verdict pvh_net_check_tx_header(const uint8_t *hdr, uint64_t frame_len, uint64_t features,
                                                uint16_t mtu, uint8_t *out)
{
    uint8_t flags = hdr[VIRTIO_NET_HDR_FLAGS], gso = hdr[VIRTIO_NET_HDR_GSO_TYPE];
    uint8_t kind = gso & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
    uint64_t csum_end = (uint64_t)pvh_le16(hdr + VIRTIO_NET_HDR_CSUM_START) +
                        pvh_le16(hdr + VIRTIO_NET_HDR_CSUM_OFFSET) + 2;
    bool needs_csum = flags & VIRTIO_NET_HDR_F_NEEDS_CSUM;
    if (frame_len < PVH_NET_ETH_HLEN)
        return PVH_NET_TX_RUNT;
    if (flags & ~VIRTIO_NET_HDR_F_NEEDS_CSUM)
        return PVH_NET_TX_FLAGS;
    if (needs_csum && (!(features & BIT(VIRTIO_NET_F_CSUM)) || csum_end > frame_len))
        return PVH_NET_TX_CSUM;
    if (gso == VIRTIO_NET_HDR_GSO_NONE) {
        if (frame_len > (uint64_t)mtu + PVH_NET_ETH_HLEN + PVH_NET_VLAN_HLEN)
            return PVH_NET_TX_OVERSIZE;
    } else {
        int need = kind == VIRTIO_NET_HDR_GSO_TCPV4 ? VIRTIO_NET_F_HOST_TSO4
                   : kind == VIRTIO_NET_HDR_GSO_TCPV6 ? VIRTIO_NET_F_HOST_TSO6
                   : kind == VIRTIO_NET_HDR_GSO_UDP ? VIRTIO_NET_F_HOST_UFO : -1;
        bool ecn_ok = !(gso & VIRTIO_NET_HDR_GSO_ECN) ||
                      ((features & BIT(VIRTIO_NET_F_HOST_ECN)) && kind != VIRTIO_NET_HDR_GSO_UDP);
        if (need < 0 || !(features & BIT(need)) || !ecn_ok || !needs_csum ||
            pvh_le16(hdr + VIRTIO_NET_HDR_GSO_SIZE) == 0)
            return PVH_NET_TX_GSO;
        if (frame_len > PVH_NET_MAX_GSO_FRAME)
            return PVH_NET_TX_OVERSIZE;
    }
    if (pvh_le16(hdr + VIRTIO_NET_HDR_HDR_LEN) > frame_len)
        return PVH_NET_TX_HDR_LEN;
    memcpy(out, hdr, HDR);
    pvh_put_le16(out + VIRTIO_NET_HDR_NUM_BUFFERS, 0);
    return PVH_NET_TX_OK;
}

const char *pvh_net_tx_verdict_name(enum pvh_net_tx_verdict v)
{
    static const char *const names[PVH_NET_TX_VERDICTS] = {
        "ok", "writable buffer", "no header", "runt frame", "oversized frame", "bad flags",
        "bad checksum request", "bad segmentation request", "hdr_len past the frame", "too many buffers",
    };
    return (unsigned)v < PVH_NET_TX_VERDICTS ? names[v] : "?";
}

/* The header (hdr) and the frame as iovecs in tmp_iov: the header first
 * when the TAP takes one. 0 when they are more than one writev takes. */
static unsigned tx_iov(struct pvh_net *n, const struct pvh_vchain *c, uint8_t *hdr)
{
    unsigned k = 0;
    if (n->cfg.vnet_hdr)
        n->tmp_iov[k++] = (struct iovec){hdr, HDR};
    struct iovec *bufs = n->tmp_iov + k; /* room for PVH_VCHAIN_MAX buffers */
    for (uint16_t i = 0; i < c->n; i++)
        bufs[i] = (struct iovec){c->buf[i].host, c->buf[i].len};
    k += iov_skip(bufs, c->n, HDR, bufs); /* in place: it never writes ahead of what it reads */
    return k <= PVH_NET_IOV_MAX ? k : 0;
}

static enum pvh_net_tx_verdict tx_verdict(struct pvh_net *n, const struct pvh_vchain *c, uint8_t *hdr)
{
    uint8_t raw[HDR];
    if (c->writable)
        return PVH_NET_TX_WRITABLE;
    if (c->readable < HDR)
        return PVH_NET_TX_NO_HEADER;
    pvh_vchain_read(c, 0, raw, HDR); /* read once: the guest may change it meanwhile */
    return pvh_net_check_tx_header(raw, c->readable - HDR, n->dev.driver_features, n->cfg.mtu, hdr);
}

static void tx_frame(struct pvh_net *n, const struct pvh_vchain *c)
{
    struct pvh_virtio_dev *d = &n->dev;
    uint8_t hdr[HDR];
    unsigned k = 0;
    enum pvh_net_tx_verdict v = tx_verdict(n, c, hdr);
    if (v == PVH_NET_TX_OK && (k = tx_iov(n, c, hdr)) == 0)
        v = PVH_NET_TX_BUFFERS;
    if (v != PVH_NET_TX_OK) {
        n->counts.tx_dropped[v]++;
        d->stats.errors++;
        return;
    }
    ssize_t r;
    do
        r = n->io.writev(n->io.ctx, n->cfg.fd, n->tmp_iov, (int)k);
    while (r < 0 && errno == EINTR);
    if (r < 0) {
        if (gone(errno))
            tap_lost(n);
        n->counts.tx_refused++; /* EAGAIN, ENOBUFS: the host is busy; EIO: the TAP is down; EINVAL */
        d->stats.errors++;
        return;
    }
    uint64_t frame = c->readable - HDR;
    n->counts.tx_frames++;
    n->counts.tx_bytes += frame;
    d->stats.bytes += frame;
}

enum tx_stop { TX_EMPTY, TX_YIELD, TX_BROKEN };

static enum tx_stop tx_chains(struct pvh_net *n, struct pvh_virtq *q, unsigned *budget)
{
    struct pvh_error err;
    for (;;) {
        if (*budget == 0)
            return TX_YIELD;
        int got = pvh_virtq_pop(q, n->chain, &err);
        if (got == 0)
            return TX_EMPTY;
        if (got < 0) {
            pvh_virtio_fail(&n->dev, &err);
            return TX_BROKEN;
        }
        (*budget)--;
        tx_frame(n, n->chain);
        pvh_virtq_push(q, n->chain->head, 0); /* the device wrote nothing */
        n->dev.stats.requests++;
    }
}

static void tx_run(struct pvh_net *n)
{
    struct pvh_virtio_dev *d = &n->dev;
    struct pvh_virtq *q = &d->q[PVH_NET_TX];
    unsigned budget = q->size;
    enum tx_stop why;
    do
        why = tx_chains(n, q, &budget);
    while (why == TX_EMPTY && pvh_virtq_arm_notify(q));
    if (budget < q->size)
        pvh_virtio_used(d, PVH_NET_TX);
    if (why == TX_YIELD) {
        n->counts.tx_yields++;
        if (d->env.kick)
            d->env.kick(d->env.ctx, d, PVH_NET_TX);
    }
}

/* ---- receive ---- */

enum rx_stop { RX_READY, RX_EMPTY, RX_NO_BUFFERS, RX_BUDGET, RX_LOST, RX_BROKEN };

static bool mergeable(const struct pvh_net *n)
{
    return n->dev.driver_features & BIT(VIRTIO_NET_F_MRG_RXBUF);
}

/* The bytes a frame from the TAP may take, header included. */
static uint64_t rx_need(const struct pvh_net *n)
{
    if (n->offloads_on & GUEST_GSO)
        return HDR + PVH_NET_MAX_GSO_FRAME;
    return HDR + (uint64_t)n->cfg.mtu + PVH_NET_ETH_HLEN + PVH_NET_VLAN_HLEN;
}

enum hold { HOLD_OK, HOLD_BAD, HOLD_FULL };

/* The chain just popped joins the held ones (its buffers appended to rx_iov). */
static enum hold hold_chain(struct pvh_net *n)
{
    const struct pvh_vchain *c = n->chain;
    if (c->readable || !c->writable || (!mergeable(n) && c->writable < HDR + PVH_NET_ETH_HLEN))
        return HOLD_BAD; /* without mergeable buffers a chain must hold a header and a frame */
    if (n->rx_niov + c->n > PVH_NET_IOV_MAX)
        return HOLD_FULL;
    for (uint16_t i = 0; i < c->n; i++)
        n->rx_iov[n->rx_niov++] = (struct iovec){c->buf[i].host, c->buf[i].len};
    n->rx[n->nrx++] = (struct rx_chain){c->head, c->n, c->writable};
    n->rx_capacity += c->writable;
    return HOLD_OK;
}

/* Puts the chain just popped back on the available ring. */
static void unpop(struct pvh_virtq *q, unsigned chains)
{
    q->last_avail = (uint16_t)(q->last_avail - chains);
}

/* Gives back the held chains (the last nrx popped) at the end of a run. */
static void release_held(struct pvh_net *n, struct pvh_virtq *q)
{
    unpop(q, n->nrx);
    n->nrx = 0;
    n->rx_niov = 0;
    n->rx_capacity = 0;
    n->rx_iov_full = false;
}

/* A chain the spec forbids on the receive queue: returned at once when
 * nothing is held (else it waits its turn: held chains must stay the last
 * ones popped). false: stop filling. */
static bool reject_chain(struct pvh_net *n, struct pvh_virtq *q)
{
    if (n->nrx) {
        unpop(q, 1);
        return false;
    }
    n->counts.rx_bad_chains++;
    n->dev.stats.errors++;
    pvh_virtq_push(q, n->chain->head, 0);
    return true;
}

/* Holds chains until they can take the largest frame (one chain without
 * mergeable buffers). RX_READY, RX_NO_BUFFERS or RX_BROKEN. */
static enum rx_stop rx_fill(struct pvh_net *n, struct pvh_virtq *q, bool *returned)
{
    struct pvh_error err;
    unsigned max_chains = mergeable(n) ? (q->size < PVH_NET_RX_CHAINS ? q->size : PVH_NET_RX_CHAINS) : 1;
    uint64_t need = mergeable(n) ? rx_need(n) : 1;
    while (n->nrx < max_chains && n->rx_capacity < need && !n->rx_iov_full) {
        int got = pvh_virtq_pop(q, n->chain, &err);
        if (got < 0) {
            pvh_virtio_fail(&n->dev, &err);
            return RX_BROKEN;
        }
        if (got == 0) {
            if (pvh_virtq_arm_notify(q))
                continue; /* buffers arrived meanwhile */
            break;
        }
        enum hold h = hold_chain(n);
        if (h == HOLD_FULL) {
            unpop(q, 1);
            n->rx_iov_full = true;
        } else if (h == HOLD_BAD) {
            if (!reject_chain(n, q))
                break;
            *returned = true;
        }
    }
    bool enough = n->rx_capacity >= need || n->nrx == max_chains || n->rx_iov_full;
    return n->nrx && n->rx_capacity >= HDR + PVH_NET_ETH_HLEN && enough ? RX_READY : RX_NO_BUFFERS;
}

/* One frame from the TAP into the first `niov` held iovecs; its length with
 * the header, or -errno. A TAP without headers gets a zero header written. */
static ssize_t read_frame(struct pvh_net *n, unsigned niov)
{
    ssize_t r;
    if (n->cfg.vnet_hdr) {
        do
            r = n->io.readv(n->io.ctx, n->cfg.fd, n->rx_iov, (int)niov);
        while (r < 0 && errno == EINTR);
        return r < 0 ? -errno : r;
    }
    unsigned k = iov_skip(n->rx_iov, niov, HDR, n->tmp_iov);
    do
        r = n->io.readv(n->io.ctx, n->cfg.fd, n->tmp_iov, (int)k);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return -errno;
    static const uint8_t zero[HDR];
    iov_put(n->rx_iov, niov, 0, zero, HDR);
    return r + HDR;
}

/* The first `chains` held chains, filled with `len` bytes, go to the used
 * ring; the held ones after them move up. */
static void deliver(struct pvh_net *n, struct pvh_virtq *q, unsigned chains, uint64_t len)
{
    unsigned niov = 0;
    for (unsigned i = 0; i < chains; i++) {
        uint64_t take = len < n->rx[i].bytes ? len : n->rx[i].bytes;
        pvh_virtq_push(q, n->rx[i].head, (uint32_t)take);
        len -= take;
        niov += n->rx[i].niov;
        n->rx_capacity -= n->rx[i].bytes;
    }
    n->nrx -= chains;
    n->rx_niov -= niov;
    memmove(n->rx, n->rx + chains, n->nrx * sizeof(n->rx[0]));
    memmove(n->rx_iov, n->rx_iov + niov, n->rx_niov * sizeof(n->rx_iov[0]));
    n->rx_iov_full = false;
}

static enum rx_stop rx_frame(struct pvh_net *n, struct pvh_virtq *q, bool *returned)
{
    unsigned chains = mergeable(n) ? n->nrx : 1, niov = 0;
    uint64_t capacity = 0;
    for (unsigned i = 0; i < chains; i++) {
        niov += n->rx[i].niov;
        capacity += n->rx[i].bytes;
    }
    ssize_t got = read_frame(n, niov);
    if (got == -EAGAIN || got == -EWOULDBLOCK)
        return RX_EMPTY;
    if (got < 0 && gone((int)-got))
        return RX_LOST;
    if (got < 0 || (uint64_t)got > capacity || got < HDR) {
        n->counts.rx_truncated++; /* the TAP consumed it: lost, the chains kept */
        n->dev.stats.errors++;
        return RX_READY;
    }
    unsigned used = 0;
    for (uint64_t sum = 0; sum < (uint64_t)got; used++)
        sum += n->rx[used].bytes;
    uint8_t count[2];
    pvh_put_le16(count, (uint16_t)used);
    iov_put(n->rx_iov, niov, VIRTIO_NET_HDR_NUM_BUFFERS, count, 2);
    deliver(n, q, used, (uint64_t)got);
    n->counts.rx_frames++;
    n->counts.rx_bytes += (uint64_t)got;
    n->dev.stats.requests++;
    n->dev.stats.bytes += (uint64_t)got - HDR;
    *returned = true;
    return RX_READY;
}

static bool can_receive(const struct pvh_net *n)
{
    return pvh_virtio_running(&n->dev) && n->dev.q[PVH_NET_RX].ready && !n->counts.tap_lost;
}

static void rx_run(struct pvh_net *n)
{
    if (!can_receive(n)) {
        watch_tap(n, false); /* back on when the driver is ready (activate kicks the queue) */
        return;
    }
    struct pvh_virtq *q = &n->dev.q[PVH_NET_RX];
    bool returned = false;
    enum rx_stop why = RX_BUDGET;
    for (unsigned i = 0; i < PVH_NET_RX_BATCH && why == RX_BUDGET; i++) {
        why = rx_fill(n, q, &returned);
        if (why == RX_READY)
            why = rx_frame(n, q, &returned);
        if (why == RX_READY)
            why = RX_BUDGET;
    }
    release_held(n, q);
    if (returned)
        pvh_virtio_used(&n->dev, PVH_NET_RX);
    if (why == RX_NO_BUFFERS)
        n->counts.rx_stalls++; /* the driver was asked to notify when it posts more */
    if (why == RX_LOST)
        tap_lost(n);
    watch_tap(n, why == RX_EMPTY || why == RX_BUDGET); /* RX_BROKEN: until the driver resets */
}

void pvh_net_rx_poll(struct pvh_virtio_dev *d)
{
    pthread_mutex_lock(&d->lock);
    rx_run(d->impl);
    pthread_mutex_unlock(&d->lock);
}

static void on_tap(void *arg, uint32_t events)
{
    struct pvh_net *n = arg;
    pthread_mutex_lock(&n->dev.lock);
    if (events & (EPOLLERR | EPOLLHUP))
        tap_lost(n);
    else
        rx_run(n);
    pthread_mutex_unlock(&n->dev.lock);
}

/* ---- device-type operations ---- */

static void net_queue_notify(struct pvh_virtio_dev *d, unsigned queue)
{
    struct pvh_net *n = d->impl;
    if (queue == PVH_NET_TX)
        tx_run(n);
    else
        rx_run(n); /* new buffers: frames that waited are read, the watch goes back on */
}

static void net_activate(struct pvh_virtio_dev *d)
{
    struct pvh_net *n = d->impl;
    set_offloads(n, offloads_for(d->driver_features) & n->cfg.tun_offloads);
    if (d->env.kick)
        d->env.kick(d->env.ctx, d, PVH_NET_RX); /* the I/O thread turns the TAP's watch on */
}

static void net_reset(struct pvh_virtio_dev *d)
{
    struct pvh_net *n = d->impl;
    n->nrx = 0; /* nothing is held between runs; kept simple and sure */
    n->rx_niov = 0;
    n->rx_capacity = 0;
    n->rx_iov_full = false;
    set_offloads(n, 0); /* the next driver may take fewer */
}

static const struct pvh_virtio_device_ops net_ops_template = {
    .name = "virtio-net",
    .device_id = PVH_VIRTIO_ID_NET,
    .nqueues = 2,
    .queue_max = PVH_NET_QUEUE_SIZE,
    .config_size = VIRTIO_NET_CONFIG_SIZE,
    .config_read = net_config_read,
    .queue_notify = net_queue_notify,
    .activate = net_activate,
    .reset = net_reset,
};

/* ---- setup ---- */

static int check_config(const struct pvh_net_config *c, struct pvh_error *err)
{
    static const uint8_t zero[6];
    if (c->mtu < PVH_NET_MIN_MTU)
        return pvh_fail(err, PVH_E_INPUT, "virtio-net: an MTU of %u (%u to %u)", c->mtu, PVH_NET_MIN_MTU,
                        PVH_NET_MAX_MTU);
    if ((c->mac[0] & 1) || !memcmp(c->mac, zero, 6))
        return pvh_fail(err, PVH_E_INPUT, "virtio-net: %02x:%02x:%02x:%02x:%02x:%02x is not a unicast MAC address",
                        c->mac[0], c->mac[1], c->mac[2], c->mac[3], c->mac[4], c->mac[5]);
    if (!c->vnet_hdr && c->tun_offloads)
        return pvh_fail(err, PVH_E_INPUT, "virtio-net: offloads need a TAP with virtio-net headers (IFF_VNET_HDR)");
    return 0;
}

static int watch(struct pvh_net *n, struct pvh_error *err)
{
    const struct pvh_virtio_env *env = &n->dev.env;
    if (!env->watch)
        return 0;
    if (!env->watch_enable)
        return pvh_fail(err, PVH_E_SYSTEM, "virtio-net: the I/O thread cannot pause a watch");
    if (env->watch(env->ctx, n->cfg.fd, EPOLLIN, on_tap, n) != 0)
        return pvh_fail(err, PVH_E_SYSTEM, "virtio-net: the I/O thread would not watch the TAP");
    n->watched = true;
    return 0;
}

int pvh_net_init(struct pvh_net **out, const struct pvh_net_config *cfg, const struct pvh_virtio_env *env,
                 uint64_t base, uint32_t gsi, struct pvh_error *err)
{
    *out = NULL;
    if (check_config(cfg, err))
        return -1;
    struct pvh_net *n = calloc(1, sizeof(*n));
    struct pvh_vchain *chain = pvh_vchain_new();
    if (!n || !chain) {
        free(n);
        free(chain);
        return pvh_fail(err, PVH_E_SYSTEM, "virtio-net: out of memory");
    }
    n->cfg = *cfg;
    n->chain = chain;
    n->io = cfg->io ? *cfg->io : (struct pvh_net_io){0};
    if (!n->io.readv)
        n->io.readv = sys_readv;
    if (!n->io.writev)
        n->io.writev = sys_writev;
    if (!n->io.set_offloads)
        n->io.set_offloads = sys_set_offloads;
    n->ops = net_ops_template;
    n->ops.features = offered_features(cfg);
    build_config(n);
    pvh_virtio_init(&n->dev, &n->ops, n, env, base, gsi);
    if (watch(n, err)) {
        pvh_net_destroy(n);
        return -1;
    }
    *out = n;
    return 0;
}

void pvh_net_destroy(struct pvh_net *n)
{
    if (!n)
        return;
    pvh_virtio_destroy(&n->dev);
    free(n->chain);
    free(n);
}

struct pvh_virtio_dev *pvh_net_dev(struct pvh_net *n) { return &n->dev; }
const struct pvh_net_counts *pvh_net_counts(const struct pvh_net *n) { return &n->counts; }

bool pvh_net_rx_watching(const struct pvh_net *n)
{
    return !n->rx_paused;
}

void pvh_net_default_mac(const char *tap_name, uint8_t mac[6])
{
    static const char salt[] = "pvhboot virtio-net ";
    uint64_t h = 0xcbf29ce484222325ull;
    for (const char *p = salt; *p; p++)
        h = (h ^ (uint8_t)*p) * 0x100000001b3ull;
    for (const char *p = tap_name; *p; p++)
        h = (h ^ (uint8_t)*p) * 0x100000001b3ull;
    mac[0] = 0x02;
    for (int i = 1; i < 6; i++)
        mac[i] = (uint8_t)(h >> (8 * (i - 1)));
}
