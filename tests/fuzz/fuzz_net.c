/* libFuzzer harness for virtio-net's frame handling (vmm/virtio/net.c)
 * behind the virtio-mmio transport: every transmit header byte, frame
 * length and buffer layout is the fuzzer's, and so is every frame the fake
 * TAP hands the device and every receive buffer the guest posts. The fake
 * TAP behaves as the kernel's (a frame per read, the whole length returned
 * when it did not fit, num_buffers left as it was). Fake RAM is 4 MiB
 * between PROT_NONE guard pages (rings, then receive buffers, then transmit
 * buffers, each area used round and round); ASan watches the rest.
 *
 * Input: byte 0 flags (bit 0 INDIRECT_DESC, bit 1 EVENT_IDX, bit 2 the TAP
 * takes virtio-net headers, bit 3 MRG_RXBUF), byte 1 the offloads the
 * driver takes (bit 0 CSUM, 1 HOST_TSO4, 2 HOST_TSO6, 3 HOST_ECN, 4
 * HOST_UFO, 5 GUEST_CSUM, 6 GUEST_TSO4+6, 7 GUEST_UFO; none without
 * headers), byte 2 the MTU (68, 576, 1500, 9000, 65535), byte 3 log2 of
 * the queue sizes (mod 9), then records:
 *   even first byte, 16 bytes: a transmit chain: 12 raw header bytes, the
 *     frame's length (2 bytes; bit 15: 64 KiB + twice the low byte), a layout
 *     byte (bits 0-1 buffers - 1, bit 2 indirect, bit 3 a writable buffer,
 *     bit 4 the header alone in 12 bytes); published and notified;
 *   odd first byte, 6 bytes: the host sends a frame of (2 bytes, as above)
 *     bytes and the guest posts (byte 3 % 16) receive
 *     buffers of (2 bytes % 8192 + 1) bytes; the TAP's watch fires.
 * Checked (abort() on a violation), after every record:
 *   - what the TAP got: only headers that follow docs/virtio-net.md's rules
 *     for the negotiated features and MTU (flags, checksum range, GSO type,
 *     gso_size, hdr_len, frame length), num_buffers 0, followed by exactly
 *     the chain's frame bytes; a frame reaches the TAP if and only if a
 *     reference reading of those rules accepts it; no iovec outside RAM;
 *   - every transmit chain comes back, with 0 bytes written;
 *   - every receive chain comes back at most once, with no more bytes than
 *     it holds; a frame's chains carry num_buffers = their count (1 without
 *     MRG_RXBUF) and, joined, the TAP's header and the frame's bytes;
 *   - frames read = frames delivered + frames dropped as too long;
 *   - a run reads at most PVH_NET_RX_BATCH frames and writes at most a
 *     queue's worth.
 * Seeds: tests/fuzz/corpus/net/, made by tests/fuzz/net-seed.py. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../vmm/virtio/net.h"
#include "../lib/virtio_driver.h"
#include "pvhboot/layout.h"

#define RAM_SIZE (4u << 20)
#define PAGE 4096u
#define RX_RING 0x0000u
#define TX_RING 0x4000u
#define RX_AREA 0x8000u            /* 256 live buffers of 8 KiB at most: less than the area */
#define TX_AREA (3u << 20)         /* transmit chains all come back at once */
#define HDR VIRTIO_NET_HDR_BYTES
#define F(b) (1ull << (b))
#define MAX_FRAME (65536u + 512u)
#define MAX_RX_POSTED 4096

static void check(int ok)
{
    if (!ok)
        abort();
}

static uint8_t *ram;

/* ---- the fake TAP ---- */

static struct {
    bool vnet;
    size_t in_len;                 /* host -> guest: one frame waiting at most (the record's) */
    bool in_ready;
    unsigned reads, frames_read;
    size_t out_len;                /* guest -> host: the last frame written */
    unsigned writes;
    uint8_t in[HDR + MAX_FRAME];
    uint8_t out[HDR + MAX_FRAME + 64];
} tap;

static bool iov_in_ram(const struct iovec *iov, int n, const void *allowed)
{
    for (int i = 0; i < n; i++) {
        const uint8_t *p = iov[i].iov_base;
        if (p == allowed && iov[i].iov_len == HDR)
            continue; /* the device's header copy */
        if (p < ram || iov[i].iov_len > RAM_SIZE || p + iov[i].iov_len > ram + RAM_SIZE)
            return false;
    }
    return true;
}

static ssize_t fake_readv(void *ctx, int fd, const struct iovec *iov, int n)
{
    (void)ctx, (void)fd;
    check(n > 0 && n <= PVH_NET_IOV_MAX && iov_in_ram(iov, n, NULL));
    tap.reads++;
    if (!tap.in_ready) {
        errno = EAGAIN;
        return -1;
    }
    tap.in_ready = false;
    tap.frames_read++;
    size_t pos = 0;
    for (int i = 0; i < n && pos < tap.in_len; i++) {
        size_t take = iov[i].iov_len < tap.in_len - pos ? iov[i].iov_len : tap.in_len - pos;
        uint8_t *dst = iov[i].iov_base;
        for (size_t k = 0; k < take;) { /* the kernel skips num_buffers, bytes [10, 12) */
            size_t at = pos + k, run = take - k;
            if (tap.vnet && at >= 10 && at < HDR) {
                k += HDR - at < run ? HDR - at : run;
                continue;
            }
            if (tap.vnet && at < 10 && run > 10 - at)
                run = 10 - at;
            memcpy(dst + k, tap.in + at, run);
            k += run;
        }
        pos += take;
    }
    return (ssize_t)tap.in_len;
}

static const uint8_t *last_hdr_copy;

static ssize_t fake_writev(void *ctx, int fd, const struct iovec *iov, int n)
{
    (void)ctx, (void)fd;
    check(n > 0 && n <= PVH_NET_IOV_MAX);
    if (tap.vnet) {
        check(iov[0].iov_len == HDR);
        last_hdr_copy = iov[0].iov_base;
    }
    check(iov_in_ram(iov, n, tap.vnet ? iov[0].iov_base : NULL));
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        check(len + iov[i].iov_len <= sizeof(tap.out));
        memcpy(tap.out + len, iov[i].iov_base, iov[i].iov_len);
        len += iov[i].iov_len;
    }
    tap.out_len = len;
    tap.writes++;
    return (ssize_t)len;
}

static int fake_set_offloads(void *ctx, int fd, unsigned flags)
{
    (void)ctx, (void)fd, (void)flags;
    return 0;
}

static const struct pvh_net_io fake_io = {fake_readv, fake_writev, fake_set_offloads, NULL};

/* ---- the reference reading of the transmit rules (docs/virtio-net.md) ---- */

static bool reference_accepts(const uint8_t *h, uint64_t len, uint64_t f, uint16_t mtu)
{
    unsigned flags = h[0], gso = h[1];
    unsigned hdr_len = pvh_le16(h + 2), gso_size = pvh_le16(h + 4);
    unsigned long csum_end = (unsigned long)pvh_le16(h + 6) + pvh_le16(h + 8) + 2;
    if (len < 14 || (flags != 0 && flags != 1) || hdr_len > len)
        return false;
    if (flags == 1 && (!(f & F(VIRTIO_NET_F_CSUM)) || csum_end > len))
        return false;
    if (gso == 0)
        return len <= mtu + 18u;
    bool ok_type = (gso & 0x7f) == 1 ? (f & F(VIRTIO_NET_F_HOST_TSO4)) != 0
                   : (gso & 0x7f) == 4 ? (f & F(VIRTIO_NET_F_HOST_TSO6)) != 0
                   : gso == 3 ? (f & F(VIRTIO_NET_F_HOST_UFO)) != 0 : false;
    if ((gso & 0x80) && !(f & F(VIRTIO_NET_F_HOST_ECN)))
        return false;
    return ok_type && flags == 1 && gso_size != 0 && len <= PVH_NET_MAX_GSO_FRAME;
}

/* What the TAP got must hold whatever the reference says (belt and braces). */
static void check_written_header(const uint8_t *h, uint64_t len, uint64_t f, uint16_t mtu)
{
    check(h[0] == 0 || h[0] == 1);
    check(pvh_le16(h + 10) == 0);
    check(pvh_le16(h + 2) <= len);
    check(len >= 14 && len <= PVH_NET_MAX_GSO_FRAME);
    if (h[0] == 1)
        check((f & F(VIRTIO_NET_F_CSUM)) && (uint64_t)pvh_le16(h + 6) + pvh_le16(h + 8) + 2 <= len);
    if (h[1] == 0)
        check(len <= mtu + 18u);
    else
        check(h[0] == 1 && pvh_le16(h + 4) != 0);
}

/* ---- the guest ---- */

struct posted {
    uint64_t gpa;
    uint32_t len;
    bool live; /* posted, not returned yet */
};

static struct {
    uint64_t features;
    uint16_t qsize, mtu;
    bool indirect, mergeable;
    uint64_t rx_heap, tx_heap;
    uint16_t next_desc[2], avail_idx[2], used_seen[2];
    uint64_t desc[2], avail[2], used[2];
    struct posted rx[MAX_RX_POSTED]; /* by head: chains are one descriptor (or one indirect) */
    struct vdriver v;
    struct pvh_virtio_dev *d;
    struct pvh_net *n;
    unsigned tx_sent;                /* transmit chains published */
    unsigned tx_returned;
    uint64_t delivered, tap_writes_expected;
} g;

/* From [start, end), round and round: receive chains come back in the
 * order they were posted, transmit chains at once, so a buffer is reused
 * only once its chain is back. */
static uint64_t balloc_in(uint64_t *heap, uint64_t start, uint64_t end, uint64_t len, uint64_t align)
{
    uint64_t gpa = (*heap + align - 1) / align * align;
    if (gpa + len > end)
        gpa = start;
    if (gpa + len > end)
        return 0;
    *heap = gpa + len;
    return gpa;
}

static uint64_t rx_alloc(uint64_t len, uint64_t align) { return balloc_in(&g.rx_heap, RX_AREA, TX_AREA, len, align); }
static uint64_t tx_alloc(uint64_t len, uint64_t align) { return balloc_in(&g.tx_heap, TX_AREA, RAM_SIZE, len, align); }

static void put_desc(uint64_t table, uint32_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
    uint8_t *p = ram + table + 16ull * i;
    pvh_put_le64(p, addr);
    pvh_put_le32(p + 8, len);
    pvh_put_le16(p + 12, flags);
    pvh_put_le16(p + 14, next);
}

static void publish(unsigned q, uint16_t head)
{
    uint8_t *avail = ram + g.avail[q];
    pvh_put_le16(avail + 4 + 2 * (g.avail_idx[q] % g.qsize), head);
    g.avail_idx[q]++;
    __atomic_store_n((uint16_t *)(void *)(avail + 2), g.avail_idx[q], __ATOMIC_RELEASE);
}

/* A chain of n pieces, direct or behind one indirect descriptor; its head,
 * or -1 when there is no room for its table. */
static int add_chain(unsigned q, const struct vd_buf *b, unsigned n, bool indirect)
{
    if (indirect) {
        uint64_t table = q ? tx_alloc(16ull * n, 16) : rx_alloc(16ull * n, 16);
        if (!table)
            return -1;
        for (unsigned k = 0; k < n; k++)
            put_desc(table, k, b[k].gpa, b[k].len,
                     (uint16_t)((b[k].writable ? VIRTQ_DESC_F_WRITE : 0) | (k + 1 < n ? VIRTQ_DESC_F_NEXT : 0)),
                     (uint16_t)(k + 1));
        uint16_t head = g.next_desc[q];
        put_desc(g.desc[q], head, table, 16 * n, VIRTQ_DESC_F_INDIRECT, 0);
        g.next_desc[q] = (uint16_t)((head + 1) % g.qsize);
        publish(q, head);
        return head;
    }
    uint16_t head = g.next_desc[q], i = head;
    for (unsigned k = 0; k < n; k++) {
        uint16_t next = (uint16_t)((i + 1) % g.qsize);
        put_desc(g.desc[q], i, b[k].gpa, b[k].len,
                 (uint16_t)((b[k].writable ? VIRTQ_DESC_F_WRITE : 0) | (k + 1 < n ? VIRTQ_DESC_F_NEXT : 0)), next);
        i = next;
    }
    g.next_desc[q] = i;
    publish(q, head);
    return head;
}

static int next_used(unsigned q, uint32_t *id, uint32_t *len)
{
    uint8_t *used = ram + g.used[q];
    uint16_t idx = __atomic_load_n((uint16_t *)(void *)(used + 2), __ATOMIC_ACQUIRE);
    if (idx == g.used_seen[q])
        return 0;
    uint8_t *e = used + 4 + 8 * (g.used_seen[q] % g.qsize);
    *id = pvh_le32(e);
    *len = pvh_le32(e + 4);
    g.used_seen[q]++;
    return 1;
}

static uint16_t in_flight(unsigned q)
{
    return (uint16_t)(g.avail_idx[q] - g.used_seen[q]);
}

/* ---- records ---- */

static uint32_t frame_len(const uint8_t *p)
{
    uint16_t v = pvh_le16(p);
    return v & 0x8000 ? 65536u + 2u * (v & 0xff) : v;
}

/* Frame bytes: a window of one pattern, chosen by seed (memcpy: fast under
 * the fuzzer's instrumentation). */
static void fill(uint8_t *p, size_t len, uint32_t seed)
{
    static uint8_t pattern[MAX_FRAME + 256];
    static bool made;
    if (!made) {
        for (size_t i = 0; i < sizeof(pattern); i++)
            pattern[i] = (uint8_t)(i * 7 + (i >> 9) + (i >> 3));
        made = true;
    }
    memcpy(p, pattern + seed % 256, len);
}

static void transmit(const uint8_t *r)
{
    uint8_t layout = r[15];
    uint32_t len = frame_len(r + 13);
    unsigned pieces = (layout & 3) + 1;
    uint64_t total = HDR + (uint64_t)len;
    uint64_t gpa = tx_alloc(total, 8);
    if (!gpa)
        return;
    memcpy(ram + gpa, r + 1, HDR);
    fill(ram + gpa + HDR, len, g.tx_sent);
    struct vd_buf b[6];
    unsigned n = 0;
    uint64_t at = 0;
    if (layout & 16) {
        b[n++] = (struct vd_buf){gpa, HDR, false};
        at = HDR;
    }
    for (unsigned k = 0; k < pieces && at < total; k++) {
        uint64_t take = k + 1 == pieces ? total - at : (total - at) / (pieces - k);
        b[n++] = (struct vd_buf){gpa + at, (uint32_t)take, false};
        at += take;
    }
    if (layout & 8) { /* a writable buffer: the whole chain is refused */
        uint64_t w = tx_alloc(64, 8);
        if (!w)
            return;
        b[n++] = (struct vd_buf){w, 64, true};
    }
    bool indirect = (layout & 4) && g.indirect;
    if ((indirect ? 1 : n) > g.qsize || add_chain(1, b, n, indirect) < 0)
        return; /* no room in so small a ring */
    bool accept = !(layout & 8) && reference_accepts(r + 1, len, g.features, g.mtu);
    unsigned writes = tap.writes;
    g.tx_sent++;
    vd_kick(&g.v, 1);
    check(tap.writes - writes == (accept ? 1u : 0u));
    if (accept) {
        uint64_t hdr = tap.vnet ? HDR : 0;
        check(tap.out_len == hdr + len);
        if (tap.vnet) {
            check(!memcmp(tap.out, r + 1, 10));
            check_written_header(tap.out, len, g.features, g.mtu);
        }
        check(!memcmp(tap.out + hdr, ram + gpa + HDR, len));
    }
    uint32_t id, used;
    while (next_used(1, &id, &used)) {
        check(used == 0 && id < g.qsize);
        g.tx_returned++;
    }
    check(g.tx_returned == g.tx_sent); /* every chain back at once */
}

/* The receive chains returned since the last look: refused ones (0 bytes),
 * and at most one frame's (one frame is offered per record). */
static void check_received(void)
{
    static uint8_t joined[HDR + MAX_FRAME];
    size_t have = 0;
    unsigned chains = 0;
    uint32_t id, len;
    while (next_used(0, &id, &len)) {
        check(id < g.qsize && g.rx[id].live);
        g.rx[id].live = false;
        check(len <= g.rx[id].len);
        if (len == 0)
            continue; /* a chain the device refused */
        check(have + len <= sizeof(joined));
        memcpy(joined + have, ram + g.rx[id].gpa, len);
        have += len;
        chains++;
    }
    if (!chains)
        return;
    check(g.mergeable || chains == 1);
    /* the TAP's header (zeros without one), num_buffers = the chains, the frame's bytes */
    size_t tap_hdr = tap.vnet ? HDR : 0;
    check(have == HDR + tap.in_len - tap_hdr);
    static const uint8_t zero[10];
    check(!memcmp(joined, tap.vnet ? tap.in : zero, 10));
    check(pvh_le16(joined + 10) == chains);
    check(!memcmp(joined + HDR, tap.in + tap_hdr, have - HDR));
    g.delivered++;
}

static void receive(const uint8_t *r)
{
    uint32_t len = frame_len(r + 1);
    unsigned nbuf = r[3] % 16;
    uint32_t size = pvh_le16(r + 4) % 8192 + 1;
    for (unsigned k = 0; k < nbuf && in_flight(0) < g.qsize; k++) {
        uint64_t gpa = rx_alloc(size, 8);
        if (!gpa)
            break;
        memset(ram + gpa, 0xee, size);
        struct vd_buf b = {gpa, size, true};
        int head = add_chain(0, &b, 1, g.indirect && (k & 1));
        if (head < 0)
            break;
        check(!g.rx[head].live);
        g.rx[head] = (struct posted){gpa, size, true};
    }
    size_t hdr = tap.vnet ? HDR : 0;
    tap.in_len = hdr + len;
    memset(tap.in, 0, hdr);
    if (hdr)
        tap.in[0] = 2; /* DATA_VALID */
    fill(tap.in + hdr, len, 0x55 + r[0]);
    tap.in_ready = true;
    unsigned reads = tap.reads;
    vd_kick(&g.v, 0);          /* the guest's notification */
    pvh_net_rx_poll(g.d);      /* and the TAP's watch */
    check(tap.reads - reads <= 2 * (PVH_NET_RX_BATCH + 1));
    check_received();
    const struct pvh_net_counts *c = pvh_net_counts(g.n);
    check(tap.frames_read == c->rx_frames + c->rx_truncated);
    check(c->rx_frames == g.delivered);
    tap.in_ready = false; /* a frame no buffer took is gone (the kernel's queue would drop it too) */
}

/* ---- setup ---- */

static void setup_once(void)
{
    if (ram)
        return;
    uint8_t *map = mmap(NULL, RAM_SIZE + 2 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    check(map != MAP_FAILED);
    ram = map + PAGE;
    check(mprotect(ram, RAM_SIZE, PROT_READ | PROT_WRITE) == 0);
}

static uint64_t driver_features(uint8_t flags, uint8_t off)
{
    uint64_t f = VIRTIO_F_VERSION_1_BIT | F(VIRTIO_NET_F_MAC) | F(VIRTIO_NET_F_STATUS) | F(VIRTIO_NET_F_MTU);
    if (flags & 1)
        f |= VIRTIO_RING_F_INDIRECT_DESC_BIT;
    if (flags & 2)
        f |= VIRTIO_RING_F_EVENT_IDX_BIT;
    if (flags & 8)
        f |= F(VIRTIO_NET_F_MRG_RXBUF);
    if (!(flags & 4))
        return f; /* no headers on the TAP: no offloads offered */
    static const int bits[8][2] = {
        {VIRTIO_NET_F_CSUM, -1}, {VIRTIO_NET_F_HOST_TSO4, -1}, {VIRTIO_NET_F_HOST_TSO6, -1},
        {VIRTIO_NET_F_HOST_ECN, -1}, {VIRTIO_NET_F_HOST_UFO, -1}, {VIRTIO_NET_F_GUEST_CSUM, -1},
        {VIRTIO_NET_F_GUEST_TSO4, VIRTIO_NET_F_GUEST_TSO6}, {VIRTIO_NET_F_GUEST_UFO, -1},
    };
    for (int i = 0; i < 8; i++)
        if (off & (1u << i))
            for (int k = 0; k < 2; k++)
                if (bits[i][k] >= 0)
                    f |= F(bits[i][k]);
    return f;
}

static void setup_queue(unsigned q, uint64_t base)
{
    g.desc[q] = base;
    g.avail[q] = base + 16ull * g.qsize;
    g.used[q] = (g.avail[q] + 6 + 2ull * g.qsize + 3) & ~3ull;
    vd_write32(&g.v, VIRTIO_MMIO_QUEUE_SEL, q);
    vd_write32(&g.v, VIRTIO_MMIO_QUEUE_NUM, g.qsize);
    vd_write32(&g.v, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)g.desc[q]);
    vd_write32(&g.v, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)g.avail[q]);
    vd_write32(&g.v, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)g.used[q]);
    vd_write32(&g.v, VIRTIO_MMIO_QUEUE_READY, 1);
    check(vd_read32(&g.v, VIRTIO_MMIO_QUEUE_READY) == 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint16_t mtus[5] = {68, 576, 1500, 9000, 65535};
    setup_once();
    if (size < 4)
        return 0;
    memset(&g, 0, sizeof(g));
    memset(&tap, 0, offsetof(__typeof__(tap), in));
    memset(ram, 0, RX_AREA); /* fresh rings */
    tap.vnet = data[0] & 4;
    g.features = driver_features(data[0], data[1]);
    g.mtu = mtus[data[2] % 5];
    g.qsize = (uint16_t)(1u << (data[3] % 9));
    g.indirect = data[0] & 1;
    g.mergeable = data[0] & 8;
    g.rx_heap = RX_AREA;
    g.tx_heap = TX_AREA;

    struct pvh_net_config cfg = {
        .fd = -1, .vnet_hdr = tap.vnet, .tun_offloads = tap.vnet ? 0x1f : 0, .mtu = g.mtu,
        .mac = {2, 0, 0, 0, 0, 1}, .io = &fake_io,
    };
    g.v.mem.slot[0] = (struct pvh_mem_slot){0, RAM_SIZE, ram};
    struct pvh_virtio_env env = vd_env(&g.v);
    struct pvh_error err;
    check(pvh_net_init(&g.n, &cfg, &env, PVH_VIRTIO_MMIO_BASE, 5, &err) == 0);
    g.d = g.v.d = pvh_net_dev(g.n);
    check(vd_negotiate(&g.v, g.features));
    setup_queue(0, RX_RING);
    setup_queue(1, TX_RING);
    vd_write32(&g.v, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                                             VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
    check(pvh_virtio_running(g.d));

    for (size_t off = 4; off < size;) {
        const uint8_t *r = data + off;
        size_t need = r[0] & 1 ? 6 : 16;
        if (off + need > size)
            break;
        if (r[0] & 1)
            receive(r);
        else
            transmit(r);
        off += need;
        check(!g.d->broken); /* well-formed rings: frames never break the device */
    }
    pvh_net_destroy(g.n);
    return 0;
}
