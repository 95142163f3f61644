/* virtio-net (vmm/virtio/net.c) driven by tests/lib/virtio_driver.h on fake
 * guest RAM, its TAP a fake that behaves as the kernel's (one frame per
 * read, the whole length returned when it did not fit, the header's
 * num_buffers left as it was): features and configuration space, the
 * transmit header rules one by one, frames out with their header (split,
 * indirect), frames the rules refuse never reaching the TAP, one transmit
 * run bounded by the queue's size, frames in through mergeable buffers
 * (num_buffers, the chains kept for the next frame), room for the largest
 * frame, one chain per frame without mergeable buffers (a frame too long
 * dropped), forbidden receive chains, offloads following the driver, a TAP
 * that goes away, the stable MAC, the refused configurations. Then, with a
 * real epoll loop and a datagram socket as the TAP: the TAP's watch goes
 * off while the guest has no buffers (the loop does not spin on a flood)
 * and back on when it posts some. (The sandbox's side of the data path:
 * test_net_sandbox.c, kept apart so that valgrind, which a seccomp filter
 * traps, can run this one.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../vmm/eventloop.h"
#include "../../vmm/virtio/net.h"
#include "../lib/virtio_driver.h"
#include "pvhboot/sandbox.h"

#define RX PVH_NET_RX
#define TX PVH_NET_TX
#define HDR VIRTIO_NET_HDR_BYTES
#define F(b) (1ull << (b))
#define OFFLOADS_ALL (PVH_TUN_F_CSUM | PVH_TUN_F_TSO4 | PVH_TUN_F_TSO6 | PVH_TUN_F_TSO_ECN | PVH_TUN_F_UFO)
#define BASIC_FEATURES (VIRTIO_F_VERSION_1_BIT | VIRTIO_RING_F_INDIRECT_DESC_BIT | F(VIRTIO_NET_F_MAC) | \
                        F(VIRTIO_NET_F_STATUS) | F(VIRTIO_NET_F_MTU))
/* what Debian's 6.1 driver takes from a device offering everything here */
#define LINUX_FEATURES (BASIC_FEATURES | VIRTIO_RING_F_EVENT_IDX_BIT | F(VIRTIO_NET_F_MRG_RXBUF) | \
                        F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_GUEST_CSUM) | F(VIRTIO_NET_F_GUEST_TSO4) | \
                        F(VIRTIO_NET_F_GUEST_TSO6) | F(VIRTIO_NET_F_GUEST_ECN) | F(VIRTIO_NET_F_HOST_TSO4) | \
                        F(VIRTIO_NET_F_HOST_TSO6) | F(VIRTIO_NET_F_HOST_ECN))
#define MAX_FRAMES 128

struct frame {
    size_t len;
    uint8_t *bytes;
};

/* The fake TAP: frames for the guest (with their header when vnet), and
 * what the device wrote. */
struct fake_tap {
    struct frame in[MAX_FRAMES];
    unsigned in_head, in_tail;
    struct frame out[MAX_FRAMES];
    unsigned nout, writes;
    int read_errno, write_errno;
    unsigned offload_calls, offloads;
    bool vnet;
};

struct fixture {
    struct vdriver v; /* first: vd_interrupt takes the fixture as its vdriver */
    struct pvh_net *n;
    struct pvh_net_io io;
    struct fake_tap tap;
    unsigned kicks[2];
    void (*on_write)(struct fixture *f); /* the guest acting meanwhile */
};

static ssize_t fake_readv(void *ctx, int fd, const struct iovec *iov, int n)
{
    struct fake_tap *t = &((struct fixture *)ctx)->tap;
    (void)fd;
    if (t->read_errno) {
        errno = t->read_errno;
        return -1;
    }
    if (t->in_head == t->in_tail) {
        errno = EAGAIN;
        return -1;
    }
    const struct frame *fr = &t->in[t->in_head++ % MAX_FRAMES];
    size_t pos = 0;
    for (int i = 0; i < n && pos < fr->len; i++)
        for (size_t k = 0; k < iov[i].iov_len && pos < fr->len; k++, pos++)
            if (!t->vnet || pos < 10 || pos >= HDR) /* the kernel skips num_buffers */
                ((uint8_t *)iov[i].iov_base)[k] = fr->bytes[pos];
    return (ssize_t)fr->len;
}

static ssize_t fake_writev(void *ctx, int fd, const struct iovec *iov, int n)
{
    struct fixture *f = ctx;
    struct fake_tap *t = &f->tap;
    (void)fd;
    t->writes++;
    if (f->on_write)
        f->on_write(f);
    if (t->write_errno) {
        errno = t->write_errno;
        return -1;
    }
    size_t len = 0;
    for (int i = 0; i < n; i++)
        len += iov[i].iov_len;
    if (t->nout < MAX_FRAMES) {
        uint8_t *b = malloc(len ? len : 1);
        assert_non_null(b);
        size_t at = 0;
        for (int i = 0; i < n; i++, at += iov[i - 1].iov_len)
            memcpy(b + at, iov[i].iov_base, iov[i].iov_len);
        t->out[t->nout++] = (struct frame){len, b};
    }
    return (ssize_t)len;
}

static int fake_set_offloads(void *ctx, int fd, unsigned flags)
{
    struct fake_tap *t = &((struct fixture *)ctx)->tap;
    (void)fd;
    t->offload_calls++;
    t->offloads = flags;
    return 0;
}

static void count_kick(void *ctx, struct pvh_virtio_dev *d, unsigned queue)
{
    (void)d;
    ((struct fixture *)ctx)->kicks[queue]++;
}

static struct pvh_net_config config(struct fixture *f, bool vnet, unsigned offloads, uint16_t mtu)
{
    f->io = (struct pvh_net_io){fake_readv, fake_writev, fake_set_offloads, f};
    f->tap.vnet = vnet;
    return (struct pvh_net_config){.fd = -1, .vnet_hdr = vnet, .tun_offloads = offloads, .mtu = mtu,
                                   .mac = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55}, .io = &f->io};
}

static void start_device(struct fixture *f, bool vnet, unsigned offloads, uint16_t mtu, bool with_kick)
{
    struct pvh_net_config cfg = config(f, vnet, offloads, mtu);
    struct pvh_virtio_env env = {.ctx = f, .mem = &f->v.mem, .interrupt = vd_interrupt};
    if (with_kick)
        env.kick = count_kick;
    struct pvh_error err;
    assert_int_equal(pvh_net_init(&f->n, &cfg, &env, 0xd0000000, 5, &err), 0);
    f->v.d = pvh_net_dev(f->n);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_int_equal(vd_ram_init(&f->v), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    pvh_net_destroy(f->n);
    for (unsigned i = 0; i < MAX_FRAMES; i++) {
        free(f->tap.in[i].bytes);
        free(f->tap.out[i].bytes);
    }
    pvh_guestmem_unmap(&f->v.mem);
    free(f);
    return 0;
}

/* ---- helpers: frames and chains ---- */

static void fill_pattern(uint8_t *p, size_t len, uint8_t seed)
{
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)(seed + i * 7 + (i >> 8));
}

/* A frame for the guest: a header (flags, gso_type) and len pattern bytes. */
static void inject(struct fixture *f, size_t len, uint8_t seed)
{
    struct fake_tap *t = &f->tap;
    size_t hdr = t->vnet ? HDR : 0;
    struct frame *fr = &t->in[t->in_tail++ % MAX_FRAMES];
    free(fr->bytes);
    fr->bytes = calloc(1, hdr + len);
    assert_non_null(fr->bytes);
    fr->len = hdr + len;
    if (hdr)
        fr->bytes[VIRTIO_NET_HDR_FLAGS] = 2; /* DATA_VALID, as the kernel may say */
    fill_pattern(fr->bytes + hdr, len, seed);
}

static void header(uint8_t *h, uint8_t flags, uint8_t gso, uint16_t hdr_len, uint16_t gso_size, uint16_t csum_start,
                   uint16_t csum_offset)
{
    h[0] = flags;
    h[1] = gso;
    pvh_put_le16(h + 2, hdr_len);
    pvh_put_le16(h + 4, gso_size);
    pvh_put_le16(h + 6, csum_start);
    pvh_put_le16(h + 8, csum_offset);
    pvh_put_le16(h + 10, 0x5a5a); /* num_buffers: the driver's garbage, cleared for the TAP */
}

/* A transmit chain: the header in `split` bytes, then the rest with the
 * frame (len bytes of pattern `seed`). */
static uint16_t send_frame(struct fixture *f, const uint8_t *hdr, size_t len, uint8_t seed, uint32_t split,
                           bool indirect)
{
    uint8_t *data = malloc(HDR + len);
    assert_non_null(data);
    memcpy(data, hdr, HDR);
    fill_pattern(data + HDR, len, seed);
    struct vd_buf b[2] = {{0, split, false}, {0, (uint32_t)(HDR + len - split), false}};
    unsigned nb = HDR + len > split ? 2 : 1;
    if (nb == 1)
        b[0].len = (uint32_t)(HDR + len);
    for (unsigned i = 0; i < nb; i++)
        b[i].gpa = vd_alloc(&f->v, b[i].len ? b[i].len : 1, 8);
    memcpy(vd_ptr(&f->v, b[0].gpa, b[0].len), data, b[0].len);
    if (nb == 2)
        memcpy(vd_ptr(&f->v, b[1].gpa, b[1].len), data + split, b[1].len);
    free(data);
    return indirect ? vd_add_indirect(&f->v, TX, b, nb) : vd_add_chain(&f->v, TX, b, nb);
}

static uint16_t send_plain(struct fixture *f, size_t len, uint8_t seed)
{
    uint8_t h[HDR];
    header(h, 0, 0, 0, 0, 0, 0);
    return send_frame(f, h, len, seed, HDR, false);
}

static uint64_t post_rx(struct fixture *f, uint32_t len, uint16_t *head)
{
    struct vd_buf b = {0, len, true};
    uint16_t h = vd_add_chain(&f->v, RX, &b, 1);
    memset(vd_ptr(&f->v, b.gpa, len), 0xee, len);
    if (head)
        *head = h;
    return b.gpa;
}

/* Guest RAM at gpa holds bytes [from, from + len) of pattern `seed`. */
static bool pattern_in(struct vdriver *v, uint64_t gpa, size_t len, uint8_t seed, size_t from)
{
    uint8_t *want = malloc(from + len);
    assert_non_null(want);
    fill_pattern(want, from + len, seed);
    bool same = !memcmp(vd_ptr(v, gpa, len), want + from, len);
    free(want);
    return same;
}

static bool status_ok(struct fixture *f)
{
    return !(vd_read32(&f->v, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
}

/* ---- features and configuration ---- */

static void identity_features_and_configuration(void **state)
{
    struct fixture *f = *state;
    start_device(f, true, OFFLOADS_ALL, 1500, false);
    assert_int_equal(vd_read32(&f->v, VIRTIO_MMIO_DEVICE_ID), 1);
    uint64_t want = F(VIRTIO_NET_F_MAC) | F(VIRTIO_NET_F_STATUS) | F(VIRTIO_NET_F_MTU) | F(VIRTIO_NET_F_MRG_RXBUF) |
                    F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_GUEST_CSUM) | F(VIRTIO_NET_F_GUEST_TSO4) |
                    F(VIRTIO_NET_F_GUEST_TSO6) | F(VIRTIO_NET_F_GUEST_ECN) | F(VIRTIO_NET_F_GUEST_UFO) |
                    F(VIRTIO_NET_F_HOST_TSO4) | F(VIRTIO_NET_F_HOST_TSO6) | F(VIRTIO_NET_F_HOST_ECN) |
                    F(VIRTIO_NET_F_HOST_UFO) | VIRTIO_F_VERSION_1_BIT | VIRTIO_RING_F_EVENT_IDX_BIT |
                    VIRTIO_RING_F_INDIRECT_DESC_BIT;
    assert_int_equal(vd_device_features(&f->v), want);
    const uint8_t mac[6] = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55};
    for (unsigned i = 0; i < 6; i++)
        assert_int_equal(vd_read(&f->v, VIRTIO_MMIO_CONFIG + VIRTIO_NET_CFG_MAC + i, 1), mac[i]);
    assert_int_equal(vd_read(&f->v, VIRTIO_MMIO_CONFIG + VIRTIO_NET_CFG_STATUS, 2), VIRTIO_NET_S_LINK_UP);
    assert_int_equal(vd_read(&f->v, VIRTIO_MMIO_CONFIG + VIRTIO_NET_CFG_MAX_PAIRS, 2), 1);
    assert_int_equal(vd_read(&f->v, VIRTIO_MMIO_CONFIG + VIRTIO_NET_CFG_MTU, 2), 1500);
    assert_int_equal(vd_read(&f->v, VIRTIO_MMIO_CONFIG + VIRTIO_NET_CONFIG_SIZE, 1), 0); /* past the end */
    for (unsigned q = 0; q < 2; q++) {
        vd_write32(&f->v, VIRTIO_MMIO_QUEUE_SEL, q);
        assert_int_equal(vd_read32(&f->v, VIRTIO_MMIO_QUEUE_NUM_MAX), PVH_NET_QUEUE_SIZE);
    }
    vd_write32(&f->v, VIRTIO_MMIO_QUEUE_SEL, 2);
    assert_int_equal(vd_read32(&f->v, VIRTIO_MMIO_QUEUE_NUM_MAX), 0); /* no control queue */
}

static void no_offloads_without_vnet_header(void **state)
{
    struct fixture *f = *state;
    start_device(f, false, 0, 9000, false);
    assert_int_equal(vd_device_features(&f->v), F(VIRTIO_NET_F_MAC) | F(VIRTIO_NET_F_STATUS) |
                                                    F(VIRTIO_NET_F_MTU) | F(VIRTIO_NET_F_MRG_RXBUF) |
                                                    VIRTIO_F_VERSION_1_BIT | VIRTIO_RING_F_EVENT_IDX_BIT |
                                                    VIRTIO_RING_F_INDIRECT_DESC_BIT);
    assert_int_equal(vd_read(&f->v, VIRTIO_MMIO_CONFIG + VIRTIO_NET_CFG_MTU, 2), 9000);
    assert_true(vd_start(&f->v, BASIC_FEATURES | F(VIRTIO_NET_F_MRG_RXBUF), 0));
    assert_int_equal(f->tap.offload_calls, 0); /* a TAP without headers has no offloads to set */
}

/* ---- transmit ---- */

static void transmit_header_rules(void **state)
{
    (void)state;
    const uint64_t all = LINUX_FEATURES | F(VIRTIO_NET_F_HOST_UFO);
    const uint64_t no_csum = BASIC_FEATURES;
    struct {
        uint8_t flags, gso;
        uint16_t hdr_len, gso_size, csum_start, csum_offset;
        uint64_t len, features;
        enum pvh_net_tx_verdict want;
    } cases[] = {
        {0, 0, 0, 0, 0, 0, 60, all, PVH_NET_TX_OK},
        {0, 0, 0, 0, 0, 0, 14, all, PVH_NET_TX_OK},                      /* an Ethernet header alone */
        {0, 0, 0, 0, 0, 0, 13, all, PVH_NET_TX_RUNT},
        {0, 0, 0, 0, 0, 0, 1518, all, PVH_NET_TX_OK},                    /* MTU 1500 + 14 + a VLAN tag */
        {0, 0, 0, 0, 0, 0, 1519, all, PVH_NET_TX_OVERSIZE},
        {1, 0, 0, 0, 34, 16, 100, all, PVH_NET_TX_OK},                   /* TCP checksum at 34 + 16 */
        {1, 0, 0, 0, 34, 16, 51, all, PVH_NET_TX_CSUM},                  /* ends past the frame */
        {1, 0, 0, 0, 34, 16, 52, all, PVH_NET_TX_OK},
        {1, 0, 0, 0, 0xffff, 0xffff, 100, all, PVH_NET_TX_CSUM},         /* no 16-bit wrap */
        {1, 0, 0, 0, 34, 16, 100, no_csum, PVH_NET_TX_CSUM},             /* VIRTIO_NET_F_CSUM not taken */
        {2, 0, 0, 0, 0, 0, 60, all, PVH_NET_TX_FLAGS},                   /* DATA_VALID is the device's */
        {4, 0, 0, 0, 0, 0, 60, all, PVH_NET_TX_FLAGS},                   /* RSC_INFO too */
        {1, 1, 54, 1448, 34, 16, 65000, all, PVH_NET_TX_OK},             /* TSO4 */
        {1, 4, 74, 1428, 54, 16, 65000, all, PVH_NET_TX_OK},             /* TSO6 */
        {1, 0x81, 54, 1448, 34, 16, 65000, all, PVH_NET_TX_OK},          /* TSO4 with ECN */
        {1, 3, 42, 1472, 34, 6, 9000, all, PVH_NET_TX_OK},               /* UFO */
        {1, 0x83, 42, 1472, 34, 6, 9000, all, PVH_NET_TX_GSO},           /* ECN on UDP */
        {1, 3, 42, 1472, 34, 6, 9000, LINUX_FEATURES, PVH_NET_TX_GSO},   /* UFO not taken */
        {1, 1, 54, 1448, 34, 16, 65000, no_csum | F(VIRTIO_NET_F_HOST_TSO4), PVH_NET_TX_CSUM},
        {1, 0x81, 54, 1448, 34, 16, 65000, all & ~F(VIRTIO_NET_F_HOST_ECN), PVH_NET_TX_GSO},
        {1, 4, 74, 1428, 54, 16, 65000, all & ~F(VIRTIO_NET_F_HOST_TSO6), PVH_NET_TX_GSO},
        {1, 2, 54, 1448, 34, 16, 65000, all, PVH_NET_TX_GSO},            /* type 2: no such type */
        {1, 5, 54, 1448, 34, 16, 65000, all, PVH_NET_TX_GSO},            /* UDP_L4 (USO): not offered */
        {0, 1, 54, 1448, 34, 16, 65000, all, PVH_NET_TX_GSO},            /* GSO without NEEDS_CSUM */
        {1, 1, 54, 0, 34, 16, 65000, all, PVH_NET_TX_GSO},               /* gso_size 0 */
        {1, 1, 54, 1448, 34, 16, PVH_NET_MAX_GSO_FRAME, all, PVH_NET_TX_OK},
        {1, 1, 54, 1448, 34, 16, PVH_NET_MAX_GSO_FRAME + 1, all, PVH_NET_TX_OVERSIZE},
        {1, 1, 65001, 1448, 34, 16, 65000, all, PVH_NET_TX_HDR_LEN},
        {0, 0, 61, 0, 0, 0, 60, all, PVH_NET_TX_HDR_LEN},
        {0, 0, 0, 0, 0, 0, 1ull << 40, all, PVH_NET_TX_OVERSIZE},        /* a chain of terabytes */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t h[HDR], out[HDR];
        memset(out, 0xcc, sizeof(out));
        header(h, cases[i].flags, cases[i].gso, cases[i].hdr_len, cases[i].gso_size, cases[i].csum_start,
               cases[i].csum_offset);
        enum pvh_net_tx_verdict got = pvh_net_check_tx_header(h, cases[i].len, cases[i].features, 1500, out);
        if (got != cases[i].want)
            fail_msg("case %zu: %s, wanted %s", i, pvh_net_tx_verdict_name(got),
                     pvh_net_tx_verdict_name(cases[i].want));
        if (got == PVH_NET_TX_OK) {
            assert_memory_equal(out, h, 10);
            assert_int_equal(pvh_le16(out + 10), 0);
        }
    }
    assert_string_equal(pvh_net_tx_verdict_name(PVH_NET_TX_OVERSIZE), "oversized frame");
    assert_string_equal(pvh_net_tx_verdict_name(PVH_NET_TX_VERDICTS), "?");
}

static void transmit_frames_with_their_header(void **state)
{
    struct fixture *f = *state;
    start_device(f, true, OFFLOADS_ALL, 1500, false);
    assert_true(vd_start(&f->v, LINUX_FEATURES, 0));
    uint8_t tso[HDR];
    header(tso, 1, 1, 54, 1448, 34, 16);
    send_plain(f, 60, 1);
    send_frame(f, tso, 20000, 2, 5, false); /* the header split 5 + 7 */
    send_frame(f, tso, 3000, 3, HDR, true);  /* behind an indirect descriptor */
    unsigned before = f->v.interrupts;
    vd_kick(&f->v, TX);
    assert_int_equal(f->tap.nout, 3);
    size_t lens[3] = {60, 20000, 3000};
    for (unsigned i = 0; i < 3; i++) {
        const struct frame *o = &f->tap.out[i];
        assert_int_equal(o->len, HDR + lens[i]);
        assert_int_equal(pvh_le16(o->bytes + 10), 0);
        assert_int_equal(o->bytes[1], i == 0 ? 0 : 1);
        uint8_t *want = malloc(lens[i]);
        fill_pattern(want, lens[i], (uint8_t)(i + 1));
        assert_memory_equal(o->bytes + HDR, want, lens[i]);
        free(want);
        uint32_t id, len;
        assert_int_equal(vd_get_used(&f->v, TX, &id, &len), 1);
        assert_int_equal(len, 0);
    }
    const struct pvh_net_counts *c = pvh_net_counts(f->n);
    assert_int_equal(c->tx_frames, 3);
    assert_int_equal(c->tx_bytes, 23060);
    assert_int_equal(f->v.d->stats.bytes, 23060);
    assert_true(f->v.interrupts > before);
}

static void transmit_drops_what_the_rules_refuse(void **state)
{
    struct fixture *f = *state;
    start_device(f, true, OFFLOADS_ALL, 1500, false);
    assert_true(vd_start(&f->v, LINUX_FEATURES, 0));
    uint8_t h[HDR];
    struct vd_buf w = {0, 64, true};
    vd_add_chain(&f->v, TX, &w, 1);                                      /* a writable buffer */
    struct vd_buf short_hdr = {0, 8, false};
    vd_add_chain(&f->v, TX, &short_hdr, 1);                              /* 8 bytes: no header */
    send_plain(f, 10, 0);                                                /* a runt */
    send_plain(f, 1519, 0);                                              /* over MTU + 18 */
    header(h, 2, 0, 0, 0, 0, 0);
    send_frame(f, h, 60, 0, HDR, false);                                 /* DATA_VALID */
    header(h, 1, 0, 0, 0, 50, 16);
    send_frame(f, h, 60, 0, HDR, false);                                 /* checksum past the frame */
    header(h, 1, 3, 42, 1472, 34, 6);
    send_frame(f, h, 9000, 0, HDR, false);                               /* UFO, not negotiated */
    header(h, 0, 0, 100, 0, 0, 0);
    send_frame(f, h, 60, 0, HDR, false);                                 /* hdr_len past the frame */
    send_plain(f, 100, 9);                                               /* and one good frame */
    vd_kick(&f->v, TX);
    assert_int_equal(f->tap.writes, 1);
    assert_int_equal(f->tap.out[0].len, HDR + 100);
    const struct pvh_net_counts *c = pvh_net_counts(f->n);
    enum pvh_net_tx_verdict dropped[] = {PVH_NET_TX_WRITABLE, PVH_NET_TX_NO_HEADER, PVH_NET_TX_RUNT,
                                         PVH_NET_TX_OVERSIZE, PVH_NET_TX_FLAGS, PVH_NET_TX_CSUM,
                                         PVH_NET_TX_GSO, PVH_NET_TX_HDR_LEN};
    for (size_t i = 0; i < sizeof(dropped) / sizeof(dropped[0]); i++)
        assert_int_equal(c->tx_dropped[dropped[i]], 1);
    assert_int_equal(f->v.d->stats.errors, 8);
    assert_int_equal(f->v.d->stats.requests, 9);
    for (unsigned i = 0; i < 9; i++) { /* every chain back, none written to */
        uint32_t id, len;
        assert_int_equal(vd_get_used(&f->v, TX, &id, &len), 1);
        assert_int_equal(len, 0);
    }
    assert_true(status_ok(f)); /* frames, not ring rules: the device runs on */
}

static void refill_tx(struct fixture *f)
{
    send_plain(f, 60, 5);
}

static void transmit_run_bounded(void **state)
{
    struct fixture *f = *state;
    start_device(f, true, 0, 1500, true);
    assert_true(vd_start(&f->v, BASIC_FEATURES, 8));
    for (int i = 0; i < 8; i++)
        send_plain(f, 60, 5);
    vd_kick(&f->v, TX);
    assert_int_equal(f->kicks[TX], 1);     /* the notification goes to the I/O thread */
    assert_int_equal(f->tap.writes, 0);
    f->on_write = refill_tx;               /* the guest puts a frame back for each one sent */
    pvh_virtio_notify(f->v.d, TX);         /* the I/O thread serves it */
    assert_int_equal(f->tap.writes, 8);    /* one queue's worth */
    assert_int_equal(f->kicks[TX], 2);     /* then the queue is handed back to the I/O thread */
    assert_int_equal(pvh_net_counts(f->n)->tx_yields, 1);
    pvh_virtio_notify(f->v.d, TX);         /* which comes back to it after its other fds */
    assert_int_equal(f->tap.writes, 16);
    assert_int_equal(f->kicks[TX], 3);
    f->on_write = NULL;
    pvh_virtio_notify(f->v.d, TX);         /* the 8 the guest put back */
    assert_int_equal(f->tap.writes, 24);
    pvh_virtio_notify(f->v.d, TX);         /* nothing left */
    assert_int_equal(f->tap.writes, 24);
    for (unsigned i = 0; i < 24; i++) {
        uint32_t id, len;
        assert_int_equal(vd_get_used(&f->v, TX, &id, &len), 1);
    }
}

static void transmit_refused_by_the_tap(void **state)
{
    struct fixture *f = *state;
    start_device(f, true, 0, 1500, false);
    assert_true(vd_start(&f->v, BASIC_FEATURES, 0));
    f->tap.write_errno = ENOBUFS;
    send_plain(f, 60, 1);
    vd_kick(&f->v, TX);
    assert_int_equal(pvh_net_counts(f->n)->tx_refused, 1);
    assert_int_equal(pvh_net_counts(f->n)->tx_frames, 0);
    assert_false(pvh_net_counts(f->n)->tap_lost);
    f->tap.write_errno = 0;
    send_plain(f, 60, 1);
    vd_kick(&f->v, TX);
    assert_int_equal(pvh_net_counts(f->n)->tx_frames, 1);
}

/* ---- receive ---- */

static void used(struct fixture *f, uint32_t *id, uint32_t *len)
{
    assert_int_equal(vd_get_used(&f->v, RX, id, len), 1);
}

static void receive_into_mergeable_buffers(void **state)
{
    struct fixture *f = *state;
    start_device(f, true, OFFLOADS_ALL, 1500, false);
    assert_true(vd_start(&f->v, LINUX_FEATURES, 0));
    uint64_t gpa[48];
    uint16_t head[48];
    for (int i = 0; i < 48; i++) /* 72 KiB: room for the largest frame */
        gpa[i] = post_rx(f, 1536, &head[i]);
    inject(f, 100, 1);
    inject(f, 4000, 2);
    pvh_net_rx_poll(f->v.d);
    uint32_t id, len;
    used(f, &id, &len);
    assert_int_equal(id, head[0]);
    assert_int_equal(len, HDR + 100);
    uint8_t *h = vd_ptr(&f->v, gpa[0], HDR);
    assert_int_equal(h[0], 2);                   /* the TAP's header */
    assert_int_equal(pvh_le16(h + 10), 1);       /* num_buffers, the device's */
    assert_true(pattern_in(&f->v, gpa[0] + HDR, 100, 1, 0));
    uint32_t want[3] = {1536, 1536, HDR + 4000 - 3072};
    for (int i = 0; i < 3; i++) {
        used(f, &id, &len);
        assert_int_equal(id, head[1 + i]);
        assert_int_equal(len, want[i]);
    }
    assert_int_equal(pvh_le16(vd_ptr(&f->v, gpa[1] + 10, 2)), 3);
    assert_true(pattern_in(&f->v, gpa[1] + HDR, 1536 - HDR, 2, 0));
    assert_true(pattern_in(&f->v, gpa[2], 1536, 2, 1536 - HDR));
    assert_true(pattern_in(&f->v, gpa[3], want[2], 2, 3072 - HDR));
    assert_int_equal(vd_get_used(&f->v, RX, &id, &len), 0);
    assert_int_equal(pvh_net_counts(f->n)->rx_frames, 2);
    assert_true(pvh_net_rx_watching(f->n));
    /* the chains it held but did not fill went back: the next frame takes the next one */
    inject(f, 50, 3);
    pvh_net_rx_poll(f->v.d);
    used(f, &id, &len);
    assert_int_equal(id, head[4]);
    assert_int_equal(len, HDR + 50);
    assert_true(pattern_in(&f->v, gpa[4] + HDR, 50, 3, 0));
    assert_int_equal(pvh_le16(vd_ptr(&f->v, gpa[5], 2)), 0xeeee); /* untouched */
}

static void receive_waits_for_room_for_the_largest_frame(void **state)
{
    struct fixture *f = *state;
    start_device(f, true, OFFLOADS_ALL, 1500, false);
    assert_true(vd_start(&f->v, LINUX_FEATURES, 0)); /* segmentation offloads: frames up to 64 KiB */
    for (int i = 0; i < 4; i++)
        post_rx(f, 1536, NULL);
    inject(f, 100, 1);
    pvh_net_rx_poll(f->v.d);
    uint32_t id, len;
    assert_int_equal(vd_get_used(&f->v, RX, &id, &len), 0);
    assert_false(pvh_net_rx_watching(f->n));        /* the TAP is left alone ... */
    assert_int_equal(pvh_net_counts(f->n)->rx_stalls, 1);
    for (int i = 0; i < 44; i++)
        post_rx(f, 1536, NULL);
    vd_kick(&f->v, RX);                              /* ... until the guest posts more */
    used(f, &id, &len);
    assert_int_equal(len, HDR + 100);
    assert_true(pvh_net_rx_watching(f->n));
}

static void receive_small_ring_takes_what_it_has(void **state)
{
    struct fixture *f = *state;
    start_device(f, true, OFFLOADS_ALL, 1500, false);
    assert_true(vd_start(&f->v, LINUX_FEATURES, 4)); /* a ring of 4 can never hold 64 KiB of 1536 */
    uint64_t gpa[6];
    for (int i = 0; i < 4; i++)
        gpa[i] = post_rx(f, 1536, NULL);
    inject(f, 3000, 4);
    inject(f, 9000, 5); /* more than the whole ring: dropped */
    inject(f, 1000, 6);
    pvh_net_rx_poll(f->v.d); /* the whole ring is there: the first frame takes two chains */
    uint32_t id, len;
    used(f, &id, &len);
    used(f, &id, &len);
    assert_int_equal(len, HDR + 3000 - 1536);
    assert_true(pattern_in(&f->v, gpa[0] + HDR, 100, 4, 0));
    assert_int_equal(vd_get_used(&f->v, RX, &id, &len), 0); /* two left: it waits for the guest's refill */
    assert_false(pvh_net_rx_watching(f->n));
    gpa[4] = post_rx(f, 1536, NULL);
    gpa[5] = post_rx(f, 1536, NULL);
    vd_kick(&f->v, RX);
    assert_int_equal(pvh_net_counts(f->n)->rx_truncated, 1);
    used(f, &id, &len); /* the third frame in the first chain left */
    assert_int_equal(len, HDR + 1000);
    assert_true(pattern_in(&f->v, gpa[2] + HDR, 1000, 6, 0));
}

static void receive_one_chain_per_frame_without_mergeable(void **state)
{
    struct fixture *f = *state;
    start_device(f, true, OFFLOADS_ALL, 1500, false);
    assert_true(vd_start(&f->v, BASIC_FEATURES, 0));
    assert_int_equal(f->tap.offloads, 0); /* no GUEST_CSUM: the TAP may hand it nothing partial */
    uint16_t small_head;
    post_rx(f, 10, &small_head);          /* no room for a header and a frame */
    uint64_t a = post_rx(f, HDR + 1514, NULL);
    uint64_t b = post_rx(f, HDR + 1514, NULL);
    inject(f, 1514, 1);
    inject(f, 3000, 2); /* longer than any chain: dropped, the chain kept */
    inject(f, 64, 3);
    pvh_net_rx_poll(f->v.d);
    uint32_t id, len;
    used(f, &id, &len);
    assert_int_equal(id, small_head);
    assert_int_equal(len, 0);
    used(f, &id, &len);
    assert_int_equal(len, HDR + 1514);
    assert_int_equal(pvh_le16(vd_ptr(&f->v, a + 10, 2)), 1);
    assert_true(pattern_in(&f->v, a + HDR, 1514, 1, 0));
    used(f, &id, &len);
    assert_int_equal(len, HDR + 64);
    assert_true(pattern_in(&f->v, b + HDR, 64, 3, 0));
    const struct pvh_net_counts *c = pvh_net_counts(f->n);
    assert_int_equal(c->rx_truncated, 1);
    assert_int_equal(c->rx_bad_chains, 1);
    assert_int_equal(c->rx_frames, 2);
    assert_true(status_ok(f));
}

static void receive_forbidden_chain_returned_empty(void **state)
{
    struct fixture *f = *state;
    start_device(f, true, 0, 1500, false);
    assert_true(vd_start(&f->v, BASIC_FEATURES | F(VIRTIO_NET_F_MRG_RXBUF), 0));
    struct vd_buf bad[2] = {{0, 16, false}, {0, 2048, true}};
    uint16_t bad_head = vd_add_chain(&f->v, RX, bad, 2);
    uint64_t good[2];
    good[0] = post_rx(f, 1536, NULL);
    good[1] = post_rx(f, 1536, NULL);
    inject(f, 200, 7);
    pvh_net_rx_poll(f->v.d);
    uint32_t id, len;
    used(f, &id, &len);
    assert_int_equal(id, bad_head);
    assert_int_equal(len, 0);
    used(f, &id, &len);
    assert_int_equal(len, HDR + 200);
    assert_true(pattern_in(&f->v, good[0] + HDR, 200, 7, 0));
    assert_int_equal(pvh_net_counts(f->n)->rx_bad_chains, 1);
    assert_true(status_ok(f));
}

static void receive_without_vnet_header(void **state)
{
    struct fixture *f = *state;
    start_device(f, false, 0, 1500, false);
    assert_true(vd_start(&f->v, BASIC_FEATURES | F(VIRTIO_NET_F_MRG_RXBUF), 0));
    uint64_t gpa = post_rx(f, 1536, NULL);
    post_rx(f, 1536, NULL);
    inject(f, 300, 8);
    pvh_net_rx_poll(f->v.d);
    uint32_t id, len;
    used(f, &id, &len);
    assert_int_equal(len, HDR + 300);
    uint8_t zero[10] = {0};
    assert_memory_equal(vd_ptr(&f->v, gpa, 10), zero, 10); /* a header of zeros: nothing to offload */
    assert_int_equal(pvh_le16(vd_ptr(&f->v, gpa + 10, 2)), 1);
    assert_true(pattern_in(&f->v, gpa + HDR, 300, 8, 0));
}

static void receive_batch_bounded(void **state)
{
    struct fixture *f = *state;
    start_device(f, true, 0, 1500, false);
    assert_true(vd_start(&f->v, BASIC_FEATURES | F(VIRTIO_NET_F_MRG_RXBUF), 0));
    for (int i = 0; i < 200; i++)
        post_rx(f, 1536, NULL);
    for (int i = 0; i < 100; i++)
        inject(f, 60, (uint8_t)i);
    pvh_net_rx_poll(f->v.d); /* 100 frames wait, one run takes at most PVH_NET_RX_BATCH */
    assert_int_equal(pvh_net_counts(f->n)->rx_frames, PVH_NET_RX_BATCH);
    assert_true(pvh_net_rx_watching(f->n)); /* epoll reports the TAP again: the rest next time */
    pvh_net_rx_poll(f->v.d);
    assert_int_equal(pvh_net_counts(f->n)->rx_frames, 100);
}

/* ---- the driver's side ---- */

static void offloads_follow_the_driver(void **state)
{
    struct fixture *f = *state;
    start_device(f, true, OFFLOADS_ALL, 1500, false);
    assert_true(vd_start(&f->v, LINUX_FEATURES, 0));
    assert_int_equal(f->tap.offloads, PVH_TUN_F_CSUM | PVH_TUN_F_TSO4 | PVH_TUN_F_TSO6 | PVH_TUN_F_TSO_ECN);
    vd_write32(&f->v, VIRTIO_MMIO_STATUS, 0); /* reset: the next driver may take fewer */
    assert_int_equal(f->tap.offloads, 0);
    assert_true(vd_start(&f->v, BASIC_FEATURES | F(VIRTIO_NET_F_GUEST_TSO4), 0)); /* TSO without checksums */
    assert_int_equal(f->tap.offloads, 0);
    vd_write32(&f->v, VIRTIO_MMIO_STATUS, 0);
    assert_true(vd_start(&f->v, BASIC_FEATURES | F(VIRTIO_NET_F_GUEST_CSUM) | F(VIRTIO_NET_F_GUEST_UFO), 0));
    assert_int_equal(f->tap.offloads, PVH_TUN_F_CSUM | PVH_TUN_F_UFO);
}

static void watch_follows_the_device_state(void **state)
{
    struct fixture *f = *state;
    start_device(f, true, 0, 1500, true);
    inject(f, 60, 1);
    pvh_net_rx_poll(f->v.d); /* a frame before the driver is ready: the TAP is left alone */
    assert_false(pvh_net_rx_watching(f->n));
    assert_true(vd_start(&f->v, BASIC_FEATURES | F(VIRTIO_NET_F_MRG_RXBUF), 0));
    assert_int_equal(f->kicks[RX], 1); /* DRIVER_OK: the I/O thread is asked to look again */
    post_rx(f, 1536, NULL);
    post_rx(f, 1536, NULL);
    pvh_virtio_notify(f->v.d, RX); /* what the I/O thread does with that kick */
    assert_true(pvh_net_rx_watching(f->n));
    uint32_t id, len;
    used(f, &id, &len);
    assert_int_equal(len, HDR + 60);
}

static void tap_lost_takes_the_link_down(void **state)
{
    struct fixture *f = *state;
    start_device(f, true, 0, 1500, false);
    assert_true(vd_start(&f->v, BASIC_FEATURES | F(VIRTIO_NET_F_MRG_RXBUF), 0));
    post_rx(f, 1536, NULL);
    post_rx(f, 1536, NULL);
    unsigned irq = f->v.interrupts, gen = vd_read32(&f->v, VIRTIO_MMIO_CONFIG_GENERATION);
    f->tap.read_errno = EBADFD; /* what a deleted TAP's read says */
    pvh_net_rx_poll(f->v.d);
    assert_true(pvh_net_counts(f->n)->tap_lost);
    assert_int_equal(vd_read(&f->v, VIRTIO_MMIO_CONFIG + VIRTIO_NET_CFG_STATUS, 2), 0);
    assert_int_equal(vd_read32(&f->v, VIRTIO_MMIO_CONFIG_GENERATION), gen + 1);
    assert_true(vd_read32(&f->v, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_ISR_CONFIG_CHANGE);
    assert_int_equal(f->v.interrupts, irq + 1);
    assert_false(pvh_net_rx_watching(f->n));
    f->tap.read_errno = 0;
    inject(f, 60, 1);
    pvh_net_rx_poll(f->v.d); /* no more reading */
    assert_int_equal(pvh_net_counts(f->n)->rx_frames, 0);
    assert_true(status_ok(f));
}

static void default_mac_stable_and_local(void **state)
{
    (void)state;
    uint8_t a[6], b[6], c[6];
    pvh_net_default_mac("tap0", a);
    pvh_net_default_mac("tap0", b);
    pvh_net_default_mac("tap1", c);
    assert_memory_equal(a, b, 6);
    assert_memory_not_equal(a, c, 6);
    assert_int_equal(a[0], 0x02); /* locally administered, unicast */
    assert_int_equal(c[0], 0x02);
    assert_memory_not_equal(a + 1, "\0\0\0\0\0", 5);
}

static void refused_configurations(void **state)
{
    struct fixture *f = *state;
    struct pvh_virtio_env env = {.ctx = f, .mem = &f->v.mem};
    struct pvh_error err;
    struct pvh_net_config cfg = config(f, true, 0, 67);
    assert_int_equal(pvh_net_init(&f->n, &cfg, &env, 0xd0000000, 5, &err), -1);
    assert_non_null(strstr(err.msg, "an MTU of 67"));
    cfg = config(f, true, 0, 1500);
    cfg.mac[0] = 0x03;
    assert_int_equal(pvh_net_init(&f->n, &cfg, &env, 0xd0000000, 5, &err), -1);
    assert_non_null(strstr(err.msg, "not a unicast MAC address"));
    memset(cfg.mac, 0, 6);
    assert_int_equal(pvh_net_init(&f->n, &cfg, &env, 0xd0000000, 5, &err), -1);
    cfg = config(f, false, PVH_TUN_F_CSUM, 1500);
    assert_int_equal(pvh_net_init(&f->n, &cfg, &env, 0xd0000000, 5, &err), -1);
    assert_non_null(strstr(err.msg, "IFF_VNET_HDR"));
    assert_null(f->n);
}

/* ---- with a real I/O thread: the TAP's watch ---- */

struct loop_fixture {
    struct vdriver v;
    struct pvh_eventloop loop;
    struct pvh_net *n;
    int sv[2];       /* sv[0] the device's "TAP", sv[1] the host side */
    int notify_fd;   /* the queues' notifications, as KVM's ioeventfds would deliver them */
};

static void on_notify(void *arg, uint32_t events)
{
    struct loop_fixture *l = arg;
    uint64_t v;
    (void)events;
    if (read(l->notify_fd, &v, sizeof(v)) != sizeof(v))
        return;
    pvh_virtio_notify(l->v.d, RX);
    pvh_virtio_notify(l->v.d, TX);
}

static void loop_kick(void *ctx, struct pvh_virtio_dev *d, unsigned queue)
{
    struct loop_fixture *l = ctx;
    uint64_t one = 1;
    (void)d, (void)queue;
    assert_int_equal(write(l->notify_fd, &one, sizeof(one)), sizeof(one));
}

static int loop_watch(void *ctx, int fd, uint32_t events, void (*cb)(void *arg, uint32_t events), void *arg)
{
    struct pvh_error err;
    return pvh_eventloop_watch(&((struct loop_fixture *)ctx)->loop, fd, events, cb, arg, &err);
}

static int loop_watch_enable(void *ctx, int fd, bool on)
{
    return pvh_eventloop_enable(&((struct loop_fixture *)ctx)->loop, fd, on);
}

static uint16_t used_idx(struct vdriver *v, unsigned q)
{
    return __atomic_load_n((uint16_t *)(void *)vd_ptr(v, v->used[q] + 2, 2), __ATOMIC_ACQUIRE);
}

static bool wait_used(struct vdriver *v, unsigned q, uint16_t want)
{
    for (int i = 0; i < 2000 && used_idx(v, q) != want; i++)
        usleep(1000);
    return used_idx(v, q) == want;
}

static uint64_t loop_wakeups(struct pvh_eventloop *l)
{
    return __atomic_load_n(&l->wakeups, __ATOMIC_RELAXED);
}

static void tap_watch_off_while_no_buffers(void **state)
{
    (void)state;
    struct loop_fixture *l = calloc(1, sizeof(*l));
    assert_non_null(l);
    assert_int_equal(vd_ram_init(&l->v), 0);
    struct pvh_error err;
    assert_int_equal(pvh_eventloop_init(&l->loop, &err), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, l->sv), 0);
    l->notify_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    assert_true(l->notify_fd >= 0);
    assert_int_equal(pvh_eventloop_watch(&l->loop, l->notify_fd, EPOLLIN, on_notify, l, &err), 0);
    struct pvh_net_config cfg = {.fd = l->sv[0], .vnet_hdr = false, .mtu = 1500, .mac = {2, 0, 0, 0, 0, 1}};
    struct pvh_virtio_env env = {.ctx = l, .mem = &l->v.mem, .interrupt = vd_interrupt, .kick = loop_kick,
                                 .watch = loop_watch, .watch_enable = loop_watch_enable};
    assert_int_equal(pvh_net_init(&l->n, &cfg, &env, 0xd0000000, 5, &err), 0);
    l->v.d = pvh_net_dev(l->n);
    assert_int_equal(pvh_eventloop_start(&l->loop, &err), 0);
    assert_true(vd_start(&l->v, BASIC_FEATURES | F(VIRTIO_NET_F_MRG_RXBUF), 16));

    /* a flood from the host while the guest has no buffer */
    uint8_t frame[64];
    unsigned queued = 0;
    for (int i = 0; i < 200; i++) {
        fill_pattern(frame, sizeof(frame), (uint8_t)i);
        if (send(l->sv[1], frame, sizeof(frame), 0) == (ssize_t)sizeof(frame))
            queued++;
    }
    assert_true(queued >= 2);
    usleep(50000);
    uint64_t before = loop_wakeups(&l->loop);
    usleep(200000);
    uint64_t idle = loop_wakeups(&l->loop) - before;
    assert_true(idle <= 2); /* the I/O thread sleeps: the TAP's watch is off */
    assert_false(pvh_net_rx_watching(l->n));

    /* the guest posts 16 buffers and notifies: frames flow again */
    uint64_t gpa[16];
    for (int i = 0; i < 16; i++) {
        struct vd_buf b = {0, 1536, true};
        vd_add_chain(&l->v, RX, &b, 1);
        gpa[i] = b.gpa;
    }
    vd_kick(&l->v, RX);
    uint16_t want = (uint16_t)(queued < 16 ? queued : 16);
    assert_true(wait_used(&l->v, RX, want));
    assert_true(pattern_in(&l->v, gpa[0] + HDR, sizeof(frame), 0, 0));

    /* a frame out: on the host side without a header (this "TAP" takes none) */
    struct vd_buf t[2] = {{0, HDR, false}, {0, 64, false}};
    vd_add_chain(&l->v, TX, t, 2);
    memset(vd_ptr(&l->v, t[0].gpa, HDR), 0, HDR);
    fill_pattern(vd_ptr(&l->v, t[1].gpa, 64), 64, 9);
    vd_kick(&l->v, TX);
    assert_true(wait_used(&l->v, TX, 1));
    uint8_t got[128];
    ssize_t r = recv(l->sv[1], got, sizeof(got), 0);
    assert_int_equal(r, 64);
    assert_memory_equal(got, vd_ptr(&l->v, t[1].gpa, 64), 64);

    pvh_eventloop_stop(&l->loop);
    pvh_net_destroy(l->n);
    pvh_eventloop_destroy(&l->loop);
    close(l->sv[0]);
    close(l->sv[1]);
    close(l->notify_fd);
    pvh_guestmem_unmap(&l->v.mem);
    free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(identity_features_and_configuration, setup, teardown),
        cmocka_unit_test_setup_teardown(no_offloads_without_vnet_header, setup, teardown),
        cmocka_unit_test(transmit_header_rules),
        cmocka_unit_test_setup_teardown(transmit_frames_with_their_header, setup, teardown),
        cmocka_unit_test_setup_teardown(transmit_drops_what_the_rules_refuse, setup, teardown),
        cmocka_unit_test_setup_teardown(transmit_run_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(transmit_refused_by_the_tap, setup, teardown),
        cmocka_unit_test_setup_teardown(receive_into_mergeable_buffers, setup, teardown),
        cmocka_unit_test_setup_teardown(receive_waits_for_room_for_the_largest_frame, setup, teardown),
        cmocka_unit_test_setup_teardown(receive_small_ring_takes_what_it_has, setup, teardown),
        cmocka_unit_test_setup_teardown(receive_one_chain_per_frame_without_mergeable, setup, teardown),
        cmocka_unit_test_setup_teardown(receive_forbidden_chain_returned_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(receive_without_vnet_header, setup, teardown),
        cmocka_unit_test_setup_teardown(receive_batch_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(offloads_follow_the_driver, setup, teardown),
        cmocka_unit_test_setup_teardown(watch_follows_the_device_state, setup, teardown),
        cmocka_unit_test_setup_teardown(tap_lost_takes_the_link_down, setup, teardown),
        cmocka_unit_test(default_mac_stable_and_local),
        cmocka_unit_test_setup_teardown(refused_configurations, setup, teardown),
        cmocka_unit_test(tap_watch_off_while_no_buffers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
