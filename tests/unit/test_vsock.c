/* virtio-vsock (vmm/virtio/vsock.c, vsock_proto.c): the pure protocol (the
 * CONNECT line, credit arithmetic with wrap-around, the connection state
 * machine), then the device on fake guest RAM (tests/lib/virtio_driver.h)
 * with real UNIX sockets in a temporary directory, events pumped by hand
 * (pvh_vsock_io) and, once, by a real I/O thread: both directions of
 * connection, Firecracker's handshake byte for byte, credit both ways,
 * shutdown and reset, garbage packets, the connection limit, resets for
 * packets of no connection (bounded), device reset and the transport reset
 * event and handshake timeouts. The sandbox's additions for vsock are
 * tested in test_vsock_sandbox.c (valgrind cannot run under seccomp). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "../../vmm/eventloop.h"
#include "../../vmm/virtio/vsock.h"
#include "../lib/virtio_driver.h"

#define GOOD_FEATURES (VIRTIO_F_VERSION_1_BIT | VIRTIO_RING_F_EVENT_IDX_BIT)
#define CID 3
#define Q 64
#define RXBUF (PVH_VSOCK_HDR_SIZE + 4096)
#define RXBUF_ALLOC (64 + 4096) /* room for either layout: one buffer, or the header's and 4 KiB at +64 */
#define FIRST_PORT 1073741824u
#define IO (EPOLLIN | EPOLLOUT)

/* ---- the pure part ----------------------------------------------------------------- */

static void test_parse_connect(void **state)
{
    (void)state;
    uint32_t port = 0;
    assert_int_equal(pvh_vsock_parse_connect("CONNECT 52\n", 11, &port), 11);
    assert_int_equal(port, 52);
    assert_int_equal(pvh_vsock_parse_connect("connect 4294967295\nextra", 24, &port), 19);
    assert_int_equal(port, 4294967295u);
    assert_int_equal(pvh_vsock_parse_connect("  CoNnEcT\t7 ignored words\r\n", 27, &port), 27);
    assert_int_equal(port, 7);
    assert_int_equal(pvh_vsock_parse_connect("CONNECT 52", 10, &port), 0); /* no newline yet */
    assert_int_equal(pvh_vsock_parse_connect("", 0, &port), 0);
    assert_int_equal(pvh_vsock_parse_connect("CONNECT 4294967296\n", 19, &port), -1);
    assert_int_equal(pvh_vsock_parse_connect("CONNECT -1\n", 11, &port), -1);
    assert_int_equal(pvh_vsock_parse_connect("CONNECT\n", 8, &port), -1);
    assert_int_equal(pvh_vsock_parse_connect("CONNECTX 5\n", 11, &port), -1);
    assert_int_equal(pvh_vsock_parse_connect("HELLO 5\n", 8, &port), -1);
    assert_int_equal(pvh_vsock_parse_connect("CONNECT 5x\n", 11, &port), -1);
    char longline[40];
    memset(longline, ' ', sizeof(longline));
    assert_int_equal(pvh_vsock_parse_connect(longline, sizeof(longline), &port), -1); /* 32 bytes, no newline */
    memcpy(longline + 30, "CONNECT 1\n", 10);
    assert_int_equal(pvh_vsock_parse_connect(longline, sizeof(longline), &port), -1);
    char ok[PVH_VSOCK_OK_MAX];
    assert_int_equal(pvh_vsock_format_ok(ok, FIRST_PORT), 14);
    assert_string_equal(ok, "OK 1073741824\n");
    assert_int_equal(pvh_vsock_format_ok(ok, 4294967295u), 14);
    assert_string_equal(ok, "OK 4294967295\n");
}

static void test_credit_arithmetic(void **state)
{
    (void)state;
    assert_int_equal(pvh_vsock_credit(1000, 0, 0), 1000);
    assert_int_equal(pvh_vsock_credit(1000, 100, 600), 500);
    assert_int_equal(pvh_vsock_credit(1000, 0, 1000), 0);
    assert_int_equal(pvh_vsock_credit(1000, 0, 1001), 0);               /* more in flight than allowed */
    assert_int_equal(pvh_vsock_credit(1000, 0xfffffff0u, 0x10u), 968);  /* counters wrapped */
    assert_int_equal(pvh_vsock_credit(1000, 500, 100), 0);               /* fwd_cnt ahead of what was sent */
    assert_int_equal(pvh_vsock_credit(0, 0, 0), 0);
}

static struct pvh_vsock_hdr hdr_of(uint16_t op, uint32_t len, uint32_t flags, uint32_t buf_alloc, uint32_t fwd)
{
    return (struct pvh_vsock_hdr){.src_cid = CID, .dst_cid = 2, .src_port = 9, .dst_port = 7, .len = len,
                                  .type = 1, .op = op, .flags = flags, .buf_alloc = buf_alloc, .fwd_cnt = fwd};
}

static void test_state_machine(void **state)
{
    (void)state;
    struct pvh_vsock_csm c;
    const char *why;
    uint32_t flags;
    /* the guest connects: RESPONSE owed, data within our credit, not beyond */
    pvh_vsock_csm_init(&c, PVH_VSOCK_ESTABLISHED, 1000, 500, 0);
    assert_int_equal(pvh_vsock_csm_next_control(&c, &flags), PVH_VSOCK_OP_RESPONSE);
    assert_int_equal(pvh_vsock_csm_next_control(&c, &flags), 0);
    struct pvh_vsock_hdr h = hdr_of(PVH_VSOCK_OP_RW, 600, 0, 500, 0);
    assert_int_equal(pvh_vsock_csm_on_packet(&c, &h, &why), PVH_VSOCK_ACT_DATA);
    assert_int_equal(pvh_vsock_csm_held(&c), 600);
    pvh_vsock_csm_forwarded(&c, 600);
    assert_true(c.owe & PVH_VSOCK_OWE_CREDIT); /* the guest thinks 400 are left: under half */
    struct pvh_vsock_hdr out = {0};
    pvh_vsock_csm_stamp(&c, &out);
    assert_int_equal(out.fwd_cnt, 600);
    assert_int_equal(out.buf_alloc, 1000);
    assert_false(c.owe & PVH_VSOCK_OWE_CREDIT);
    h.len = 1000;
    assert_int_equal(pvh_vsock_csm_on_packet(&c, &h, &why), PVH_VSOCK_ACT_DATA);
    h.len = 1;
    assert_int_equal(pvh_vsock_csm_on_packet(&c, &h, &why), PVH_VSOCK_ACT_RESET);
    assert_non_null(why);
    assert_int_equal(pvh_vsock_csm_next_control(&c, &flags), PVH_VSOCK_OP_RST);
    assert_int_equal(pvh_vsock_csm_on_packet(&c, &h, &why), PVH_VSOCK_ACT_NONE); /* closed: ignored */

    /* our credit to the guest: what it advertised, wrapping */
    pvh_vsock_csm_init(&c, PVH_VSOCK_ESTABLISHED, 1000, 300, 0);
    assert_int_equal(pvh_vsock_csm_room(&c), 300);
    pvh_vsock_csm_sent(&c, 300);
    assert_int_equal(pvh_vsock_csm_room(&c), 0);
    h = hdr_of(PVH_VSOCK_OP_CREDIT_UPDATE, 0, 0, 300, 100);
    assert_int_equal(pvh_vsock_csm_on_packet(&c, &h, &why), PVH_VSOCK_ACT_NONE);
    assert_int_equal(pvh_vsock_csm_room(&c), 100);
    h = hdr_of(PVH_VSOCK_OP_CREDIT_REQUEST, 0, 0, 300, 100);
    pvh_vsock_csm_on_packet(&c, &h, &why);
    assert_int_equal(pvh_vsock_csm_next_control(&c, &flags), PVH_VSOCK_OP_RESPONSE);
    assert_int_equal(pvh_vsock_csm_next_control(&c, &flags), PVH_VSOCK_OP_CREDIT_UPDATE);

    /* shutdown: data after SHUTDOWN(SEND) is a violation; host EOF owes SHUTDOWN(SEND) once */
    pvh_vsock_csm_init(&c, PVH_VSOCK_ESTABLISHED, 1000, 300, 0);
    pvh_vsock_csm_host_eof(&c);
    pvh_vsock_csm_host_eof(&c);
    assert_int_equal(pvh_vsock_csm_next_control(&c, &flags), PVH_VSOCK_OP_RESPONSE);
    assert_int_equal(pvh_vsock_csm_next_control(&c, &flags), PVH_VSOCK_OP_SHUTDOWN);
    assert_int_equal(flags, PVH_VSOCK_SHUTDOWN_SEND);
    assert_int_equal(pvh_vsock_csm_next_control(&c, &flags), 0);
    assert_int_equal(pvh_vsock_csm_room(&c), 0);
    h = hdr_of(PVH_VSOCK_OP_SHUTDOWN, 0, PVH_VSOCK_SHUTDOWN_SEND, 300, 0);
    assert_int_equal(pvh_vsock_csm_on_packet(&c, &h, &why), PVH_VSOCK_ACT_SHUTDOWN);
    h = hdr_of(PVH_VSOCK_OP_RW, 1, 0, 300, 0);
    assert_int_equal(pvh_vsock_csm_on_packet(&c, &h, &why), PVH_VSOCK_ACT_RESET);

    /* the host connects: REQUEST first; RESPONSE only after it; data before it is a violation */
    pvh_vsock_csm_init(&c, PVH_VSOCK_LOCAL_INIT, 1000, 0, 0);
    h = hdr_of(PVH_VSOCK_OP_RESPONSE, 0, 0, 4096, 0);
    assert_int_equal(pvh_vsock_csm_on_packet(&c, &h, &why), PVH_VSOCK_ACT_RESET); /* REQUEST not sent yet */
    pvh_vsock_csm_init(&c, PVH_VSOCK_LOCAL_INIT, 1000, 0, 0);
    assert_int_equal(pvh_vsock_csm_next_control(&c, &flags), PVH_VSOCK_OP_REQUEST);
    h = hdr_of(PVH_VSOCK_OP_RW, 1, 0, 4096, 0);
    assert_int_equal(pvh_vsock_csm_on_packet(&c, &h, &why), PVH_VSOCK_ACT_RESET);
    pvh_vsock_csm_init(&c, PVH_VSOCK_LOCAL_INIT, 1000, 0, 0);
    pvh_vsock_csm_next_control(&c, &flags);
    h = hdr_of(PVH_VSOCK_OP_RESPONSE, 0, 0, 4096, 0);
    assert_int_equal(pvh_vsock_csm_on_packet(&c, &h, &why), PVH_VSOCK_ACT_CONNECTED);
    assert_int_equal(pvh_vsock_csm_room(&c), 4096);
    assert_int_equal(pvh_vsock_csm_on_packet(&c, &h, &why), PVH_VSOCK_ACT_RESET); /* twice */
    pvh_vsock_csm_init(&c, PVH_VSOCK_ESTABLISHED, 1000, 0, 0);
    h = hdr_of(PVH_VSOCK_OP_REQUEST, 0, 0, 0, 0);
    assert_int_equal(pvh_vsock_csm_on_packet(&c, &h, &why), PVH_VSOCK_ACT_RESET);
    pvh_vsock_csm_init(&c, PVH_VSOCK_ESTABLISHED, 1000, 0, 0);
    h = hdr_of(PVH_VSOCK_OP_RST, 0, 0, 0, 0);
    assert_int_equal(pvh_vsock_csm_on_packet(&c, &h, &why), PVH_VSOCK_ACT_CLOSE);
    assert_int_equal(c.owe, 0); /* a reset is not answered */
}

static void test_check(void **state)
{
    (void)state;
    const char *why;
    struct pvh_vsock_hdr h = hdr_of(PVH_VSOCK_OP_RW, 10, 0, 0, 0);
    assert_int_equal(pvh_vsock_check(&h, CID, 10, &why), PVH_VSOCK_ACCEPT);
    assert_int_equal(pvh_vsock_check(&h, CID, 9, &why), PVH_VSOCK_REFUSE);
    h.len = PVH_VSOCK_MAX_PAYLOAD + 1;
    assert_int_equal(pvh_vsock_check(&h, CID, UINT32_MAX, &why), PVH_VSOCK_REFUSE);
    h = hdr_of(PVH_VSOCK_OP_RW, 0, 0, 0, 0);
    h.src_cid = 4;
    assert_int_equal(pvh_vsock_check(&h, CID, 0, &why), PVH_VSOCK_DROP);
    h.src_cid = CID, h.dst_cid = 3;
    assert_int_equal(pvh_vsock_check(&h, CID, 0, &why), PVH_VSOCK_DROP);
    h.dst_cid = 2, h.type = 2;
    assert_int_equal(pvh_vsock_check(&h, CID, 0, &why), PVH_VSOCK_REFUSE);
    h.type = 1, h.op = 0;
    assert_int_equal(pvh_vsock_check(&h, CID, 0, &why), PVH_VSOCK_REFUSE);
    h.op = 8;
    assert_int_equal(pvh_vsock_check(&h, CID, 0, &why), PVH_VSOCK_REFUSE);
    uint8_t b[PVH_VSOCK_HDR_SIZE];
    struct pvh_vsock_hdr back;
    h = (struct pvh_vsock_hdr){0x1122334455667788ull, 0x99aabbccddeeff00ull, 1, 2, 3, 4, 5, 6, 7, 8};
    pvh_vsock_hdr_encode(&h, b);
    pvh_vsock_hdr_decode(b, &back);
    /* field by field: the struct's tail padding is indeterminate (valgrind) */
    assert_true(back.src_cid == h.src_cid && back.dst_cid == h.dst_cid && back.src_port == h.src_port &&
                back.dst_port == h.dst_port && back.len == h.len && back.type == h.type && back.op == h.op &&
                back.flags == h.flags && back.buf_alloc == h.buf_alloc && back.fwd_cnt == h.fwd_cnt);
    assert_int_equal(b[0], 0x88); /* little-endian */
    assert_int_equal(pvh_le16(b + 30), 5);
}

/* ---- the device on fake RAM ----------------------------------------------------------- */

struct fx {
    struct vdriver v;
    struct pvh_vsock s;
    char dir[64], path[96];
    uint64_t clock;
    uint64_t rx_gpa[Q];       /* by head: the chain's buffer (the header's, when split) */
    uint64_t rx_data[Q];      /* by head: the 4 KiB buffer of a split chain, 0 when one buffer */
    uint64_t tx_hdr, tx_data; /* scratch for transmit chains */
    uint64_t ev_gpa[Q];
    int listeners[8];
    unsigned nlisteners;
    int l1234;                  /* the host's listener on port 1234, once made */
    struct pvh_eventloop *loop; /* the real I/O thread test */
};

static uint64_t fake_now(void *ctx)
{
    return ((struct fx *)ctx)->clock;
}

static struct fx *fixture(unsigned max_conns, uint32_t buf_alloc)
{
    struct fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_int_equal(vd_ram_init(&f->v), 0);
    strcpy(f->dir, "/tmp/pvh-vsock-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/v.sock", f->dir);
    struct pvh_vsock_config cfg = {.guest_cid = CID, .uds_path = f->path, .listen = true, .max_conns = max_conns,
                                   .buf_alloc = buf_alloc, .now_ns = fake_now, .clock_ctx = f};
    struct pvh_virtio_env env = vd_env(&f->v);
    struct pvh_error err;
    assert_int_equal(pvh_vsock_init(&f->s, &cfg, &env, 0xd0000000, 5, &err), 0);
    f->v.d = &f->s.dev;
    assert_true(vd_start(&f->v, GOOD_FEATURES, Q));
    f->tx_hdr = vd_alloc(&f->v, PVH_VSOCK_HDR_SIZE, 8);
    f->tx_data = vd_alloc(&f->v, 64 << 10, 8);
    return f;
}

static void teardown_fx(struct fx *f)
{
    pvh_vsock_destroy(&f->s);
    for (unsigned i = 0; i < f->nlisteners; i++)
        close(f->listeners[i]);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    pvh_guestmem_unmap(&f->v.mem);
    free(f);
}

/* n receive chains of one 44 + 4096-byte buffer each (as Linux 6.2+ posts them). */
static void post_rx(struct fx *f, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        struct vd_buf b = {0, RXBUF, true};
        uint16_t head = f->v.next_desc[PVH_VSOCK_RX];
        if (!f->rx_gpa[head])
            f->rx_gpa[head] = vd_alloc(&f->v, RXBUF_ALLOC, 8);
        b.gpa = f->rx_gpa[head];
        f->rx_data[head] = 0;
        vd_add_chain(&f->v, PVH_VSOCK_RX, &b, 1);
    }
    vd_kick(&f->v, PVH_VSOCK_RX);
}

/* n receive chains of two buffers, the header's and 4 KiB (as Linux 6.1 posts them). */
static void post_rx_split(struct fx *f, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        uint16_t head = f->v.next_desc[PVH_VSOCK_RX];
        if (!f->rx_gpa[head])
            f->rx_gpa[head] = vd_alloc(&f->v, RXBUF_ALLOC, 8);
        struct vd_buf b[2] = {{f->rx_gpa[head], PVH_VSOCK_HDR_SIZE, true},
                              {f->rx_gpa[head] + 64, 4096, true}};
        f->rx_data[head] = b[1].gpa;
        vd_add_chain(&f->v, PVH_VSOCK_RX, b, 2);
    }
    vd_kick(&f->v, PVH_VSOCK_RX);
}

/* The next packet the device returned on rx: 1 with h and up to cap payload bytes. */
static int guest_recv(struct fx *f, struct pvh_vsock_hdr *h, void *payload, size_t cap)
{
    uint32_t id = 0, len = 0;
    if (!vd_get_used(&f->v, PVH_VSOCK_RX, &id, &len))
        return 0;
    assert_true(len >= PVH_VSOCK_HDR_SIZE && len <= RXBUF);
    const uint8_t *p = vd_ptr(&f->v, f->rx_gpa[id], RXBUF);
    pvh_vsock_hdr_decode(p, h);
    assert_int_equal(len, PVH_VSOCK_HDR_SIZE + h->len);
    assert_int_equal(h->src_cid, 2);
    assert_int_equal(h->dst_cid, CID);
    assert_int_equal(h->type, 1);
    if (payload)
        memcpy(payload, f->rx_data[id] ? vd_ptr(&f->v, f->rx_data[id], 4096) : p + PVH_VSOCK_HDR_SIZE,
               h->len < cap ? h->len : cap);
    return 1;
}

static struct pvh_vsock_hdr expect_packet(struct fx *f, uint16_t op)
{
    struct pvh_vsock_hdr h;
    assert_int_equal(guest_recv(f, &h, NULL, 0), 1);
    if (h.op != op)
        fail_msg("expected %s, got %s", pvh_vsock_op_name(op), pvh_vsock_op_name(h.op));
    return h;
}

static void expect_no_packet(struct fx *f)
{
    struct pvh_vsock_hdr h;
    if (guest_recv(f, &h, NULL, 0))
        fail_msg("unexpected %s %u -> %u", pvh_vsock_op_name(h.op), h.src_port, h.dst_port);
}

struct gpkt {
    uint16_t op;
    uint32_t src_port, dst_port, flags, buf_alloc, fwd_cnt;
    uint64_t src_cid, dst_cid;
    uint16_t type;
};

/* One transmit chain: header (+ payload), served at once (no kick hook). */
static void guest_send_full(struct fx *f, struct gpkt p, const void *data, uint32_t len)
{
    struct pvh_vsock_hdr h = {.src_cid = p.src_cid ? p.src_cid : CID, .dst_cid = p.dst_cid ? p.dst_cid : 2,
                              .src_port = p.src_port, .dst_port = p.dst_port, .len = len,
                              .type = p.type ? p.type : 1, .op = p.op, .flags = p.flags,
                              .buf_alloc = p.buf_alloc, .fwd_cnt = p.fwd_cnt};
    pvh_vsock_hdr_encode(&h, vd_ptr(&f->v, f->tx_hdr, PVH_VSOCK_HDR_SIZE));
    struct vd_buf b[2] = {{f->tx_hdr, PVH_VSOCK_HDR_SIZE, false}, {f->tx_data, len, false}};
    if (len)
        memcpy(vd_ptr(&f->v, f->tx_data, len), data, len);
    vd_add_chain(&f->v, PVH_VSOCK_TX, b, len ? 2 : 1);
    vd_kick(&f->v, PVH_VSOCK_TX);
    uint32_t id, ulen;
    assert_int_equal(vd_get_used(&f->v, PVH_VSOCK_TX, &id, &ulen), 1);
    assert_int_equal(ulen, 0);
}

static void guest_send(struct fx *f, uint16_t op, uint32_t src, uint32_t dst, uint32_t flags, const void *data,
                       uint32_t len)
{
    guest_send_full(f, (struct gpkt){.op = op, .src_port = src, .dst_port = dst, .flags = flags,
                                     .buf_alloc = 256 << 10}, data, len);
}

static int unix_listener(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 64), 0);
    return fd;
}

static int host_listen(struct fx *f, uint32_t port)
{
    char p[160];
    snprintf(p, sizeof(p), "%s_%u", f->path, port);
    int fd = unix_listener(p);
    f->listeners[f->nlisteners++] = fd;
    return fd;
}

static int host_connect(struct fx *f)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    assert_true(strlen(f->path) < sizeof(a.sun_path));
    memcpy(a.sun_path, f->path, strlen(f->path));
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    return fd;
}

static void host_write(int fd, const void *p, size_t n)
{
    assert_int_equal(write(fd, p, n), (ssize_t)n);
}

/* What the host socket has now (without waiting): bytes, 0 at EOF, -1 none. */
static ssize_t host_read_now(int fd, void *p, size_t n)
{
    ssize_t r = recv(fd, p, n, MSG_DONTWAIT);
    return r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? -1 : r;
}

static void pump(struct fx *f)
{
    pvh_vsock_io(&f->s.dev, IO);
}

/* The guest connects out to host port 1234 from its port 5000. */
static int guest_connects(struct fx *f, int *listener_out)
{
    int l = f->l1234 ? f->l1234 : (f->l1234 = host_listen(f, 1234));
    post_rx(f, 8);
    guest_send_full(f, (struct gpkt){.op = PVH_VSOCK_OP_REQUEST, .src_port = 5000, .dst_port = 1234,
                                     .buf_alloc = 64 << 10}, NULL, 0);
    struct pvh_vsock_hdr h = expect_packet(f, PVH_VSOCK_OP_RESPONSE);
    assert_int_equal(h.src_port, 1234);
    assert_int_equal(h.dst_port, 5000);
    assert_int_equal(h.buf_alloc, f->s.cfg.buf_alloc);
    int fd = accept4(l, NULL, NULL, SOCK_CLOEXEC);
    assert_true(fd >= 0);
    if (listener_out)
        *listener_out = l;
    return fd;
}

static void test_device_identity(void **state)
{
    (void)state;
    struct fx *f = fixture(0, 0);
    assert_int_equal(vd_read32(&f->v, VIRTIO_MMIO_DEVICE_ID), 19);
    assert_int_equal(vd_device_features(&f->v), VIRTIO_F_VERSION_1_BIT | VIRTIO_RING_F_EVENT_IDX_BIT |
                                                    VIRTIO_RING_F_INDIRECT_DESC_BIT);
    assert_int_equal(vd_read32(&f->v, VIRTIO_MMIO_CONFIG), CID);
    assert_int_equal(vd_read32(&f->v, VIRTIO_MMIO_CONFIG + 4), 0);
    struct stat st;
    assert_int_equal(stat(f->path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    teardown_fx(f);
}

static void test_guest_to_host(void **state)
{
    (void)state;
    struct fx *f = fixture(0, 0);
    int fd = guest_connects(f, NULL);
    char buf[64];
    guest_send(f, PVH_VSOCK_OP_RW, 5000, 1234, 0, "hello", 5);
    assert_int_equal(host_read_now(fd, buf, sizeof(buf)), 5);
    assert_memory_equal(buf, "hello", 5);
    host_write(fd, "world!", 6);
    pump(f);
    struct pvh_vsock_hdr h;
    assert_int_equal(guest_recv(f, &h, buf, sizeof(buf)), 1);
    assert_int_equal(h.op, PVH_VSOCK_OP_RW);
    assert_int_equal(h.len, 6);
    assert_memory_equal(buf, "world!", 6);
    assert_int_equal(h.src_port, 1234);
    assert_int_equal(h.dst_port, 5000);
    /* the guest closes: SHUTDOWN(both) -> the host reads EOF, the guest gets its RST */
    guest_send(f, PVH_VSOCK_OP_SHUTDOWN, 5000, 1234, PVH_VSOCK_SHUTDOWN_BOTH, NULL, 0);
    expect_packet(f, PVH_VSOCK_OP_RST);
    assert_int_equal(host_read_now(fd, buf, sizeof(buf)), 0);
    struct pvh_vsock_counters n = pvh_vsock_counters(&f->s.dev);
    assert_int_equal(n.guest_conns, 1);
    assert_int_equal(n.conns, 0);
    assert_int_equal(n.from_guest, 5);
    assert_int_equal(n.to_guest, 6);
    close(fd);
    teardown_fx(f);
}

static void test_guest_to_nobody(void **state)
{
    (void)state;
    struct fx *f = fixture(0, 0);
    post_rx(f, 4);
    guest_send(f, PVH_VSOCK_OP_REQUEST, 5000, 4321, 0, NULL, 0); /* nothing at v.sock_4321 */
    struct pvh_vsock_hdr h = expect_packet(f, PVH_VSOCK_OP_RST);
    assert_int_equal(h.src_port, 4321);
    assert_int_equal(h.dst_port, 5000);
    assert_int_equal(pvh_vsock_counters(&f->s.dev).refused, 1);
    assert_int_equal(pvh_vsock_counters(&f->s.dev).conns, 0);
    teardown_fx(f);
}

/* The host connects with "CONNECT 52\n"; the guest answers; "OK <port>\n". */
static int host_connects(struct fx *f, uint32_t guest_port, uint32_t *local)
{
    int fd = host_connect(f);
    char line[32];
    int n = snprintf(line, sizeof(line), "CONNECT %u\n", guest_port);
    host_write(fd, line, (size_t)n);
    post_rx(f, 1);
    pump(f);
    struct pvh_vsock_hdr h = expect_packet(f, PVH_VSOCK_OP_REQUEST);
    assert_int_equal(h.dst_port, guest_port);
    assert_true(h.src_port >= FIRST_PORT && h.src_port < 2 * FIRST_PORT);
    assert_int_equal(h.buf_alloc, PVH_VSOCK_DEFAULT_BUF);
    guest_send_full(f, (struct gpkt){.op = PVH_VSOCK_OP_RESPONSE, .src_port = guest_port, .dst_port = h.src_port,
                                     .buf_alloc = 64 << 10}, NULL, 0);
    n = snprintf(line, sizeof(line), "OK %u\n", h.src_port);
    char got[32] = {0};
    assert_int_equal(host_read_now(fd, got, sizeof(got)), n);
    assert_string_equal(got, line);
    *local = h.src_port;
    return fd;
}

static void test_host_to_guest(void **state)
{
    (void)state;
    struct fx *f = fixture(0, 0);
    uint32_t local, local2;
    int fd = host_connects(f, 52, &local);
    assert_int_equal(local, FIRST_PORT); /* Firecracker's first: "OK 1073741824" */
    char buf[64];
    host_write(fd, "ping", 4);
    post_rx(f, 2);
    pump(f);
    struct pvh_vsock_hdr h;
    assert_int_equal(guest_recv(f, &h, buf, sizeof(buf)), 1);
    assert_int_equal(h.op, PVH_VSOCK_OP_RW);
    assert_memory_equal(buf, "ping", 4);
    guest_send(f, PVH_VSOCK_OP_RW, 52, local, 0, "pong", 4);
    assert_int_equal(host_read_now(fd, buf, sizeof(buf)), 4);
    assert_memory_equal(buf, "pong", 4);
    int fd2 = host_connects(f, 52, &local2);
    assert_int_equal(local2, FIRST_PORT + 1);
    /* the host closes its end: the guest is told SHUTDOWN(SEND) */
    close(fd);
    pump(f);
    h = expect_packet(f, PVH_VSOCK_OP_SHUTDOWN);
    assert_int_equal(h.flags, PVH_VSOCK_SHUTDOWN_SEND);
    assert_int_equal(h.src_port, local);
    /* the guest's late data finds the host gone: reset */
    guest_send(f, PVH_VSOCK_OP_RW, 52, local, 0, "late", 4);
    post_rx(f, 1);
    expect_packet(f, PVH_VSOCK_OP_RST);
    assert_int_equal(pvh_vsock_counters(&f->s.dev).host_conns, 2);
    assert_int_equal(pvh_vsock_counters(&f->s.dev).conns, 1);
    close(fd2);
    teardown_fx(f);
}

/* The line in pieces, then with data right behind it in one write: the
 * data waits in the socket and reaches the guest after the RESPONSE. */
static void test_handshake_split_and_early_data(void **state)
{
    (void)state;
    struct fx *f = fixture(0, 0);
    int fd = host_connect(f);
    post_rx(f, 4);
    host_write(fd, "CONN", 4);
    pump(f);
    expect_no_packet(f);
    host_write(fd, "ECT 77\nearly bytes", 18);
    pump(f);
    struct pvh_vsock_hdr h = expect_packet(f, PVH_VSOCK_OP_REQUEST);
    assert_int_equal(h.dst_port, 77);
    guest_send_full(f, (struct gpkt){.op = PVH_VSOCK_OP_RESPONSE, .src_port = 77, .dst_port = h.src_port,
                                     .buf_alloc = 4096}, NULL, 0);
    char buf[32];
    assert_int_equal(guest_recv(f, &h, buf, sizeof(buf)), 1);
    assert_int_equal(h.op, PVH_VSOCK_OP_RW);
    assert_int_equal(h.len, 11);
    assert_memory_equal(buf, "early bytes", 11);
    memset(buf, 0, sizeof(buf));
    assert_int_equal(host_read_now(fd, buf, sizeof(buf)), 14);
    assert_string_equal(buf, "OK 1073741824\n");
    close(fd);
    teardown_fx(f);
}

static void test_host_to_nobody(void **state)
{
    (void)state;
    struct fx *f = fixture(0, 0);
    int fd = host_connect(f);
    host_write(fd, "CONNECT 52\n", 11);
    post_rx(f, 1);
    pump(f);
    struct pvh_vsock_hdr h = expect_packet(f, PVH_VSOCK_OP_REQUEST);
    guest_send(f, PVH_VSOCK_OP_RST, 52, h.src_port, 0, NULL, 0); /* no listener in the guest */
    char buf[8];
    assert_int_equal(host_read_now(fd, buf, sizeof(buf)), 0); /* closed, nothing said */
    post_rx(f, 1);
    expect_no_packet(f);
    assert_int_equal(pvh_vsock_counters(&f->s.dev).conns, 0);
    close(fd);
    teardown_fx(f);
}

static void test_bad_connect_lines(void **state)
{
    (void)state;
    struct fx *f = fixture(0, 0);
    static const char *const lines[] = {"HELLO 5\n", "CONNECT x\n", "CONNECT 99999999999\n",
                                        "CONNECT 52 but the line goes on and on\n", "\n"};
    post_rx(f, 4);
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        int fd = host_connect(f);
        host_write(fd, lines[i], strlen(lines[i]));
        pump(f);
        char buf[8];
        if (host_read_now(fd, buf, sizeof(buf)) != 0)
            fail_msg("line %zu (%s) was not refused", i, lines[i]);
        close(fd);
    }
    int fd = host_connect(f); /* connects and hangs up */
    close(fd);
    pump(f);
    expect_no_packet(f);
    struct pvh_vsock_counters n = pvh_vsock_counters(&f->s.dev);
    assert_int_equal(n.refused, 6);
    assert_int_equal(n.conns, 0);
    teardown_fx(f);
}

/* The device gives the guest no more than it advertised, and more after its
 * CREDIT_UPDATE. */
static void test_credit_to_guest(void **state)
{
    (void)state;
    struct fx *f = fixture(0, 0);
    int l;
    int fd = guest_connects(f, &l);
    guest_send_full(f, (struct gpkt){.op = PVH_VSOCK_OP_CREDIT_UPDATE, .src_port = 5000, .dst_port = 1234,
                                     .buf_alloc = 10000, .fwd_cnt = 0}, NULL, 0);
    static char big[64 << 10];
    memset(big, 'x', sizeof(big));
    host_write(fd, big, sizeof(big));
    post_rx(f, 40);
    pump(f);
    struct pvh_vsock_hdr h;
    uint32_t got = 0;
    while (guest_recv(f, &h, NULL, 0)) {
        assert_int_equal(h.op, PVH_VSOCK_OP_RW);
        got += h.len;
    }
    assert_int_equal(got, 10000);
    pump(f);
    expect_no_packet(f);
    guest_send_full(f, (struct gpkt){.op = PVH_VSOCK_OP_CREDIT_UPDATE, .src_port = 5000, .dst_port = 1234,
                                     .buf_alloc = 10000, .fwd_cnt = 10000}, NULL, 0);
    got = 0;
    while (guest_recv(f, &h, NULL, 0))
        got += h.len;
    assert_int_equal(got, 10000);
    close(fd);
    teardown_fx(f);
}

/* One host write of 200 KiB spread over Linux 6.1's two-buffer chains, read
 * 16 chains at a time: every packet full but the last, the bytes in order. */
static void test_many_chains_in_order(void **state)
{
    (void)state;
    struct fx *f = fixture(0, 0);
    int fd = guest_connects(f, NULL);
    guest_send_full(f, (struct gpkt){.op = PVH_VSOCK_OP_CREDIT_UPDATE, .src_port = 5000, .dst_port = 1234,
                                     .buf_alloc = 1 << 20}, NULL, 0);
    static uint8_t out[200 << 10], in[4096];
    for (size_t i = 0; i < sizeof(out); i++)
        out[i] = (uint8_t)(i * 13 + (i >> 12));
    host_write(fd, out, sizeof(out));
    uint32_t got = 0, packets = 0;
    for (int round = 0; round < 8 && got < sizeof(out); round++) {
        post_rx_split(f, 24); /* 48 descriptors: with what is posted, under the ring's 64 */
        pump(f);
        struct pvh_vsock_hdr h;
        while (guest_recv(f, &h, in, sizeof(in))) {
            assert_int_equal(h.op, PVH_VSOCK_OP_RW);
            assert_true(h.len == 4096 || got + h.len == sizeof(out));
            assert_memory_equal(in, out + got, h.len);
            got += h.len;
            packets++;
        }
    }
    assert_int_equal(got, sizeof(out));
    assert_int_equal(packets, 50);
    close(fd);
    teardown_fx(f);
}

/* The guest sends while the host reads: credit updates come back without a
 * request, before the guest runs dry. */
static void test_credit_updates_to_guest(void **state)
{
    (void)state;
    struct fx *f = fixture(0, 0);
    int fd = guest_connects(f, NULL);
    static char chunk[64 << 10], sink[256 << 10];
    uint32_t sent = 0, told = 0;
    post_rx(f, 8);
    for (int i = 0; i < 16; i++) {
        guest_send(f, PVH_VSOCK_OP_RW, 5000, 1234, 0, chunk, sizeof(chunk));
        sent += sizeof(chunk);
        while (host_read_now(fd, sink, sizeof(sink)) > 0) {
        }
        pump(f);
        struct pvh_vsock_hdr h;
        while (guest_recv(f, &h, NULL, 0)) {
            assert_int_equal(h.op, PVH_VSOCK_OP_CREDIT_UPDATE);
            told = h.fwd_cnt;
            post_rx(f, 1);
        }
        /* the guest may always send what its view of the credit allows */
        assert_true(pvh_vsock_credit(PVH_VSOCK_DEFAULT_BUF, told, sent) >= 64u << 10 || i < 2);
    }
    assert_true(told >= 15u * (64 << 10));
    assert_int_equal(pvh_vsock_counters(&f->s.dev).from_guest, 16u * (64 << 10));
    close(fd);
    teardown_fx(f);
}

/* A guest ignoring credit while the host does not read: reset, and never
 * more than buf_alloc held for it. */
static void test_credit_violation(void **state)
{
    (void)state;
    struct fx *f = fixture(0, 32 << 10);
    int fd = guest_connects(f, NULL);
    static char chunk[16 << 10];
    struct pvh_vsock_hdr h;
    int rst = 0;
    for (int i = 0; i < 512 && !rst; i++) {
        guest_send(f, PVH_VSOCK_OP_RW, 5000, 1234, 0, chunk, sizeof(chunk));
        while (guest_recv(f, &h, NULL, 0)) {
            rst |= h.op == PVH_VSOCK_OP_RST;
            post_rx(f, 1);
        }
    }
    assert_true(rst);
    struct pvh_vsock_counters n = pvh_vsock_counters(&f->s.dev);
    assert_int_equal(n.violations, 1);
    assert_true(n.held_peak <= 32u << 10);
    assert_true(n.held_peak > 0);
    assert_int_equal(n.held, 0);
    assert_int_equal(n.conns, 0);
    assert_false(vd_read32(&f->v, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
    char buf[64 << 10];
    ssize_t r;
    while ((r = host_read_now(fd, buf, sizeof(buf))) > 0) {
    }
    assert_int_equal(r, 0); /* the host socket was closed */
    close(fd);
    teardown_fx(f);
}

/* Held bytes reach the host once it reads (EPOLLOUT), in order. */
static void test_ring_drains_in_order(void **state)
{
    (void)state;
    struct fx *f = fixture(0, 0);
    int fd = guest_connects(f, NULL);
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    static uint8_t chunk[32 << 10], got[512 << 10];
    uint32_t sent = 0, told = 0, rcvd = 0;
    post_rx(f, 16);
    while (sent < (sizeof(got) - sizeof(chunk)) && pvh_vsock_credit(PVH_VSOCK_DEFAULT_BUF, told, sent) >= sizeof(chunk)) {
        for (size_t i = 0; i < sizeof(chunk); i++)
            chunk[i] = (uint8_t)((sent + i) * 7 + 3);
        guest_send(f, PVH_VSOCK_OP_RW, 5000, 1234, 0, chunk, sizeof(chunk));
        sent += sizeof(chunk);
    }
    assert_true(pvh_vsock_counters(&f->s.dev).held > 0);
    for (int round = 0; round < 10000 && rcvd < sent; round++) {
        ssize_t r = host_read_now(fd, got + rcvd, sizeof(got) - rcvd);
        if (r > 0)
            rcvd += (uint32_t)r;
        pump(f);
        struct pvh_vsock_hdr h;
        while (guest_recv(f, &h, NULL, 0)) {
            assert_int_equal(h.op, PVH_VSOCK_OP_CREDIT_UPDATE);
            told = h.fwd_cnt;
            post_rx(f, 1);
        }
    }
    assert_int_equal(rcvd, sent);
    for (uint32_t i = 0; i < sent; i++)
        if (got[i] != (uint8_t)(i * 7 + 3))
            fail_msg("byte %u differs", i);
    assert_int_equal(pvh_vsock_counters(&f->s.dev).held, 0);
    assert_true(pvh_vsock_credit(PVH_VSOCK_DEFAULT_BUF, told, sent) >= PVH_VSOCK_DEFAULT_BUF / 2);
    close(fd);
    teardown_fx(f);
}

static void test_half_close_both_ways(void **state)
{
    (void)state;
    struct fx *f = fixture(0, 0);
    int fd = guest_connects(f, NULL);
    char buf[16];
    /* the guest stops sending: the host reads EOF but may still send */
    guest_send(f, PVH_VSOCK_OP_SHUTDOWN, 5000, 1234, PVH_VSOCK_SHUTDOWN_SEND, NULL, 0);
    assert_int_equal(host_read_now(fd, buf, sizeof(buf)), 0);
    host_write(fd, "still", 5);
    pump(f);
    struct pvh_vsock_hdr h;
    assert_int_equal(guest_recv(f, &h, buf, sizeof(buf)), 1);
    assert_int_equal(h.op, PVH_VSOCK_OP_RW);
    assert_memory_equal(buf, "still", 5);
    /* data after its SHUTDOWN(SEND) is a violation */
    guest_send(f, PVH_VSOCK_OP_RW, 5000, 1234, 0, "x", 1);
    expect_packet(f, PVH_VSOCK_OP_RST);
    assert_int_equal(pvh_vsock_counters(&f->s.dev).violations, 1);
    close(fd);
    /* the host half-closes: the guest gets SHUTDOWN(SEND) and may still send */
    fd = guest_connects(f, NULL);
    shutdown(fd, SHUT_WR);
    pump(f);
    h = expect_packet(f, PVH_VSOCK_OP_SHUTDOWN);
    assert_int_equal(h.flags, PVH_VSOCK_SHUTDOWN_SEND);
    guest_send(f, PVH_VSOCK_OP_RW, 5000, 1234, 0, "after", 5);
    assert_int_equal(host_read_now(fd, buf, sizeof(buf)), 5);
    close(fd);
    teardown_fx(f);
}

/* Every kind of garbage: refused and counted, answered with an RST where
 * a connection could be meant, the device running on. */
static void test_garbage(void **state)
{
    (void)state;
    struct fx *f = fixture(0, 0);
    int fd = guest_connects(f, NULL);
    post_rx(f, 16);
    struct pvh_vsock_hdr h;
    uint32_t id = 0, len = 0;
    /* a header cut short; a device-writable transmit buffer */
    struct vd_buf shortb = {f->tx_hdr, 20, false};
    vd_add_chain(&f->v, PVH_VSOCK_TX, &shortb, 1);
    struct vd_buf wr = {f->tx_hdr, PVH_VSOCK_HDR_SIZE, true};
    vd_add_chain(&f->v, PVH_VSOCK_TX, &wr, 1);
    vd_kick(&f->v, PVH_VSOCK_TX);
    while (vd_get_used(&f->v, PVH_VSOCK_TX, &id, &len))
        assert_int_equal(len, 0);
    expect_no_packet(f);
    /* wrong CIDs: dropped silently */
    guest_send_full(f, (struct gpkt){.op = PVH_VSOCK_OP_RW, .src_port = 5000, .dst_port = 1234, .src_cid = 9}, "a", 1);
    guest_send_full(f, (struct gpkt){.op = PVH_VSOCK_OP_RW, .src_port = 5000, .dst_port = 1234, .dst_cid = 7}, "a", 1);
    expect_no_packet(f);
    /* no connection: RST (but never for an RST) */
    guest_send(f, PVH_VSOCK_OP_RW, 6000, 1234, 0, "a", 1);
    h = expect_packet(f, PVH_VSOCK_OP_RST);
    assert_int_equal(h.dst_port, 6000);
    guest_send(f, PVH_VSOCK_OP_RESPONSE, 6001, 1234, 0, NULL, 0);
    expect_packet(f, PVH_VSOCK_OP_RST);
    guest_send(f, PVH_VSOCK_OP_RST, 6002, 1234, 0, NULL, 0);
    expect_no_packet(f);
    /* a bad type, an unknown op, a length beyond the buffers on no connection: RST */
    guest_send_full(f, (struct gpkt){.op = PVH_VSOCK_OP_REQUEST, .src_port = 6003, .dst_port = 1234, .type = 2}, NULL, 0);
    expect_packet(f, PVH_VSOCK_OP_RST);
    guest_send(f, 99, 6004, 1234, 0, NULL, 0);
    expect_packet(f, PVH_VSOCK_OP_RST);
    struct pvh_vsock_hdr lie = {.src_cid = CID, .dst_cid = 2, .src_port = 6005, .dst_port = 1234, .len = 1000,
                                .type = 1, .op = PVH_VSOCK_OP_RW};
    pvh_vsock_hdr_encode(&lie, vd_ptr(&f->v, f->tx_hdr, PVH_VSOCK_HDR_SIZE));
    struct vd_buf lb[2] = {{f->tx_hdr, PVH_VSOCK_HDR_SIZE, false}, {f->tx_data, 10, false}};
    vd_add_chain(&f->v, PVH_VSOCK_TX, lb, 2);
    vd_kick(&f->v, PVH_VSOCK_TX);
    assert_int_equal(vd_get_used(&f->v, PVH_VSOCK_TX, &id, &len), 1);
    expect_packet(f, PVH_VSOCK_OP_RST);
    /* the same lie on the live connection resets it */
    lie.src_port = 5000;
    pvh_vsock_hdr_encode(&lie, vd_ptr(&f->v, f->tx_hdr, PVH_VSOCK_HDR_SIZE));
    vd_add_chain(&f->v, PVH_VSOCK_TX, lb, 2);
    vd_kick(&f->v, PVH_VSOCK_TX);
    assert_int_equal(vd_get_used(&f->v, PVH_VSOCK_TX, &id, &len), 1);
    h = expect_packet(f, PVH_VSOCK_OP_RST);
    assert_int_equal(h.dst_port, 5000);
    char buf[4];
    assert_int_equal(host_read_now(fd, buf, sizeof(buf)), 0);
    /* a receive chain with a device-readable buffer, one too small: returned unused */
    struct vd_buf ro = {0, RXBUF, false};
    vd_add_chain(&f->v, PVH_VSOCK_RX, &ro, 1);
    struct vd_buf tiny = {0, PVH_VSOCK_HDR_SIZE, true};
    vd_add_chain(&f->v, PVH_VSOCK_RX, &tiny, 1);
    vd_kick(&f->v, PVH_VSOCK_RX);
    guest_send(f, PVH_VSOCK_OP_RW, 6006, 1234, 0, "a", 1); /* something to say */
    struct pvh_vsock_counters n = pvh_vsock_counters(&f->s.dev);
    assert_int_equal(n.violations, 1);
    assert_true(n.dropped >= 10);
    assert_false(vd_read32(&f->v, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
    close(fd);
    teardown_fx(f);
}

static void test_connection_limit(void **state)
{
    (void)state;
    struct fx *f = fixture(4, 0);
    int fds[6];
    char buf[8];
    post_rx(f, 16);
    for (int i = 0; i < 6; i++) {
        fds[i] = host_connect(f);
        pump(f);
    }
    for (int i = 0; i < 6; i++) /* the fifth and sixth were closed at once */
        assert_int_equal(host_read_now(fds[i], buf, sizeof(buf)), i < 4 ? -1 : 0);
    host_listen(f, 1234);
    guest_send(f, PVH_VSOCK_OP_REQUEST, 7000, 1234, 0, NULL, 0);
    expect_packet(f, PVH_VSOCK_OP_RST); /* table full */
    struct pvh_vsock_counters n = pvh_vsock_counters(&f->s.dev);
    assert_int_equal(n.refused, 3);
    assert_int_equal(n.conns, 4);
    assert_int_equal(n.conns_peak, 4);
    for (int i = 0; i < 6; i++)
        close(fds[i]);
    pump(f);
    assert_int_equal(pvh_vsock_counters(&f->s.dev).conns, 0);
    guest_send(f, PVH_VSOCK_OP_REQUEST, 7001, 1234, 0, NULL, 0);
    expect_packet(f, PVH_VSOCK_OP_RESPONSE);
    teardown_fx(f);
}

/* Packets of no connection while the guest posts no receive buffer: at most
 * PVH_VSOCK_ORPHAN_MAX resets wait; the rest are counted and dropped. */
static void test_orphan_flood(void **state)
{
    (void)state;
    struct fx *f = fixture(0, 0);
    for (uint32_t i = 0; i < 1000; i++)
        guest_send(f, PVH_VSOCK_OP_RW, 10000 + i, 1234, 0, "z", 1);
    struct pvh_vsock_counters n = pvh_vsock_counters(&f->s.dev);
    assert_int_equal(n.orphan_lost, 1000 - PVH_VSOCK_ORPHAN_MAX);
    unsigned rsts = 0;
    for (int round = 0; round < 8; round++) {
        post_rx(f, 60);
        struct pvh_vsock_hdr h;
        while (guest_recv(f, &h, NULL, 0)) {
            assert_int_equal(h.op, PVH_VSOCK_OP_RST);
            assert_int_equal(h.dst_port, 10000 + rsts);
            rsts++;
        }
    }
    assert_int_equal(rsts, PVH_VSOCK_ORPHAN_MAX);
    teardown_fx(f);
}

/* A driver reset closes every connection's host socket; the listener stays. */
static void test_device_reset(void **state)
{
    (void)state;
    struct fx *f = fixture(0, 0);
    int g = guest_connects(f, NULL);
    uint32_t local;
    int h = host_connects(f, 52, &local);
    int waiting = host_connect(f); /* a handshake: not the guest's business */
    pump(f);
    vd_write32(&f->v, VIRTIO_MMIO_STATUS, 0);
    char buf[8];
    assert_int_equal(host_read_now(g, buf, sizeof(buf)), 0);
    assert_int_equal(host_read_now(h, buf, sizeof(buf)), 0);
    assert_int_equal(host_read_now(waiting, buf, sizeof(buf)), -1);
    assert_int_equal(pvh_vsock_counters(&f->s.dev).conns, 1);
    assert_true(vd_start(&f->v, GOOD_FEATURES, Q));
    host_write(waiting, "CONNECT 9\n", 10);
    post_rx(f, 1);
    pump(f);
    expect_packet(f, PVH_VSOCK_OP_REQUEST);
    close(g), close(h), close(waiting);
    teardown_fx(f);
}

static void post_events(struct fx *f, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        struct vd_buf b = {0, 4, true};
        uint16_t head = f->v.next_desc[PVH_VSOCK_EVENT];
        if (!f->ev_gpa[head])
            f->ev_gpa[head] = vd_alloc(&f->v, 4, 4);
        b.gpa = f->ev_gpa[head];
        pvh_put_le32(vd_ptr(&f->v, b.gpa, 4), 0xdeadbeef);
        vd_add_chain(&f->v, PVH_VSOCK_EVENT, &b, 1);
    }
    vd_kick(&f->v, PVH_VSOCK_EVENT);
}

static void test_transport_reset(void **state)
{
    (void)state;
    struct fx *f = fixture(0, 0);
    int g = guest_connects(f, NULL);
    uint32_t id = 0, len = 0;
    pvh_vsock_transport_reset(&f->s.dev); /* no event buffer yet: owed */
    char buf[8];
    assert_int_equal(host_read_now(g, buf, sizeof(buf)), 0);
    assert_int_equal(vd_get_used(&f->v, PVH_VSOCK_EVENT, &id, &len), 0);
    post_events(f, 2);
    assert_int_equal(vd_get_used(&f->v, PVH_VSOCK_EVENT, &id, &len), 1);
    assert_int_equal(len, 4);
    assert_int_equal(pvh_le32(vd_ptr(&f->v, f->ev_gpa[id], 4)), PVH_VSOCK_EVENT_TRANSPORT_RESET);
    assert_int_equal(vd_get_used(&f->v, PVH_VSOCK_EVENT, &id, &len), 0); /* once */
    post_rx(f, 2);
    expect_no_packet(f); /* the guest learns from the event, not from RSTs */
    pvh_vsock_transport_reset(&f->s.dev); /* a buffer is posted: at once */
    assert_int_equal(vd_get_used(&f->v, PVH_VSOCK_EVENT, &id, &len), 1);
    assert_int_equal(pvh_vsock_counters(&f->s.dev).conns, 0);
    close(g);
    teardown_fx(f);
}

static void test_handshake_timeouts(void **state)
{
    (void)state;
    struct fx *f = fixture(0, 0);
    int silent = host_connect(f);
    pump(f);
    int unanswered = host_connect(f);
    host_write(unanswered, "CONNECT 52\n", 11);
    post_rx(f, 4);
    pump(f);
    struct pvh_vsock_hdr req = expect_packet(f, PVH_VSOCK_OP_REQUEST);
    f->clock += PVH_VSOCK_DEFAULT_TIMEOUT_NS - 1;
    pvh_vsock_tick(&f->s.dev);
    char buf[8];
    assert_int_equal(host_read_now(silent, buf, sizeof(buf)), -1);
    f->clock += 2;
    pvh_vsock_tick(&f->s.dev);
    assert_int_equal(host_read_now(silent, buf, sizeof(buf)), 0);
    assert_int_equal(host_read_now(unanswered, buf, sizeof(buf)), 0);
    struct pvh_vsock_hdr h = expect_packet(f, PVH_VSOCK_OP_RST); /* the guest's half-open connection */
    assert_int_equal(h.src_port, req.src_port);
    assert_int_equal(pvh_vsock_counters(&f->s.dev).timeouts, 2);
    assert_int_equal(pvh_vsock_counters(&f->s.dev).conns, 0);
    close(silent), close(unanswered);
    teardown_fx(f);
}

static void test_bad_configs(void **state)
{
    (void)state;
    struct vdriver v;
    assert_int_equal(vd_ram_init(&v), 0);
    struct pvh_virtio_env env = vd_env(&v);
    struct pvh_error err;
    struct pvh_vsock *s = malloc(sizeof(*s));
    char longpath[200];
    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[sizeof(longpath) - 1] = 0;
    const struct pvh_vsock_config bad[] = {
        {.guest_cid = 2, .uds_path = "/tmp/x"},
        {.guest_cid = 0xffffffffull, .uds_path = "/tmp/x"},
        {.guest_cid = 3, .uds_path = NULL},
        {.guest_cid = 3, .uds_path = longpath},
        {.guest_cid = 3, .uds_path = "/tmp/x", .buf_alloc = 100},
        {.guest_cid = 3, .uds_path = "/tmp/x", .max_conns = 100000},
        {.guest_cid = 3, .uds_path = "/nonexistent-dir/v.sock", .listen = true},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (pvh_vsock_init(s, &bad[i], &env, 0xd0000000, 5, &err) == 0)
            fail_msg("config %zu accepted", i);
        assert_non_null(strstr(err.msg, "virtio-vsock"));
    }
    /* a regular file at the path is never replaced; a stale socket is */
    char dir[] = "/tmp/pvh-vsock-cfg-XXXXXX", path[64];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/v.sock", dir);
    close(open(path, O_CREAT | O_WRONLY, 0600));
    struct pvh_vsock_config cfg = {.guest_cid = 3, .uds_path = path, .listen = true};
    assert_int_equal(pvh_vsock_init(s, &cfg, &env, 0xd0000000, 5, &err), -1);
    assert_non_null(strstr(err.msg, "is not a socket"));
    unlink(path);
    int live = unix_listener(path);
    assert_int_equal(pvh_vsock_init(s, &cfg, &env, 0xd0000000, 5, &err), -1);
    assert_non_null(strstr(err.msg, "another process listens there"));
    close(live); /* the file stays: stale */
    assert_int_equal(pvh_vsock_init(s, &cfg, &env, 0xd0000000, 5, &err), 0);
    pvh_vsock_destroy(s);
    unlink(path);
    rmdir(dir);
    free(s);
    pvh_guestmem_unmap(&v.mem);
}

/* ---- with a real I/O thread ---------------------------------------------------------------- */

static int loop_watch(void *ctx, int fd, uint32_t events, void (*cb)(void *arg, uint32_t events), void *arg)
{
    struct pvh_error err;
    return pvh_eventloop_watch(ctx, fd, events, cb, arg, &err);
}

static void loop_unwatch(void *ctx, int fd)
{
    pvh_eventloop_unwatch(ctx, fd);
}

static bool wait_used(struct fx *f, unsigned q, uint32_t *id, uint32_t *len)
{
    for (int i = 0; i < 5000; i++) {
        pthread_mutex_lock(&f->s.dev.lock);
        int got = vd_get_used(&f->v, q, id, len);
        pthread_mutex_unlock(&f->s.dev.lock);
        if (got)
            return true;
        usleep(1000);
    }
    return false;
}

/* The host connects, the guest answers, bytes both ways, the guest resets:
 * the host socket is closed and unwatched by the I/O thread. */
static void test_with_io_thread(void **state)
{
    (void)state;
    struct fx *f = calloc(1, sizeof(*f));
    struct pvh_eventloop loop;
    struct pvh_error err;
    assert_int_equal(pvh_eventloop_init(&loop, &err), 0);
    assert_int_equal(vd_ram_init(&f->v), 0);
    strcpy(f->dir, "/tmp/pvh-vsock-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/v.sock", f->dir);
    struct pvh_virtio_env env = vd_env(&f->v);
    env.ctx = &loop, env.watch = loop_watch, env.unwatch = loop_unwatch;
    env.interrupt = NULL;
    struct pvh_vsock_config cfg = {.guest_cid = CID, .uds_path = f->path, .listen = true};
    assert_int_equal(pvh_vsock_init(&f->s, &cfg, &env, 0xd0000000, 5, &err), 0);
    unsigned base_watches = loop.nwatches;
    assert_int_equal(base_watches, 3); /* the listener, the timer, the wake-up eventfd */
    f->v.d = &f->s.dev;
    f->s.dev.env.interrupt = NULL;
    assert_true(vd_start(&f->v, GOOD_FEATURES, Q));
    f->tx_hdr = vd_alloc(&f->v, PVH_VSOCK_HDR_SIZE, 8);
    f->tx_data = vd_alloc(&f->v, 64 << 10, 8);
    assert_int_equal(pvh_eventloop_start(&loop, &err), 0);

    pthread_mutex_lock(&f->s.dev.lock);
    pthread_mutex_unlock(&f->s.dev.lock);
    post_rx(f, 8);
    int fd = host_connect(f);
    host_write(fd, "CONNECT 52\n", 11);
    uint32_t id = 0, len = 0;
    assert_true(wait_used(f, PVH_VSOCK_RX, &id, &len));
    struct pvh_vsock_hdr h;
    pvh_vsock_hdr_decode(vd_ptr(&f->v, f->rx_gpa[id], RXBUF), &h);
    assert_int_equal(h.op, PVH_VSOCK_OP_REQUEST);
    guest_send_full(f, (struct gpkt){.op = PVH_VSOCK_OP_RESPONSE, .src_port = 52, .dst_port = h.src_port,
                                     .buf_alloc = 64 << 10}, NULL, 0);
    char buf[32] = {0};
    struct pollfd pfd = {fd, POLLIN, 0};
    assert_int_equal(poll(&pfd, 1, 5000), 1);
    assert_int_equal(read(fd, buf, sizeof(buf)), 14);
    assert_string_equal(buf, "OK 1073741824\n");
    host_write(fd, "abc", 3);
    assert_true(wait_used(f, PVH_VSOCK_RX, &id, &len));
    assert_int_equal(len, PVH_VSOCK_HDR_SIZE + 3);
    assert_memory_equal(vd_ptr(&f->v, f->rx_gpa[id] + PVH_VSOCK_HDR_SIZE, 3), "abc", 3);
    assert_int_equal(loop.nwatches, base_watches + 1);
    /* the guest resets from "its" thread: the I/O thread closes the socket */
    guest_send(f, PVH_VSOCK_OP_RST, 52, h.src_port, 0, NULL, 0);
    assert_int_equal(poll(&pfd, 1, 5000), 1);
    assert_int_equal(read(fd, buf, sizeof(buf)), 0);
    /* a driver reset from this (vCPU-like) thread closes through the wake-up eventfd */
    int g = host_connect(f);
    host_write(g, "CONNECT 53\n", 11);
    assert_true(wait_used(f, PVH_VSOCK_RX, &id, &len));
    vd_write32(&f->v, VIRTIO_MMIO_STATUS, 0);
    pfd.fd = g;
    assert_int_equal(poll(&pfd, 1, 5000), 1);
    assert_int_equal(read(g, buf, sizeof(buf)), 0);
    pvh_eventloop_stop(&loop);
    assert_int_equal(loop.nwatches, base_watches);
    close(fd), close(g);
    pvh_vsock_destroy(&f->s);
    pvh_eventloop_destroy(&loop);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    pvh_guestmem_unmap(&f->v.mem);
    free(f);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* the host side of these tests writes to closed sockets on purpose */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_connect),
        cmocka_unit_test(test_credit_arithmetic),
        cmocka_unit_test(test_state_machine),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_device_identity),
        cmocka_unit_test(test_guest_to_host),
        cmocka_unit_test(test_guest_to_nobody),
        cmocka_unit_test(test_host_to_guest),
        cmocka_unit_test(test_handshake_split_and_early_data),
        cmocka_unit_test(test_host_to_nobody),
        cmocka_unit_test(test_bad_connect_lines),
        cmocka_unit_test(test_credit_to_guest),
        cmocka_unit_test(test_many_chains_in_order),
        cmocka_unit_test(test_credit_updates_to_guest),
        cmocka_unit_test(test_credit_violation),
        cmocka_unit_test(test_ring_drains_in_order),
        cmocka_unit_test(test_half_close_both_ways),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_connection_limit),
        cmocka_unit_test(test_orphan_flood),
        cmocka_unit_test(test_device_reset),
        cmocka_unit_test(test_transport_reset),
        cmocka_unit_test(test_handshake_timeouts),
        cmocka_unit_test(test_bad_configs),
        cmocka_unit_test(test_with_io_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
