/* libFuzzer harness for virtio-vsock's packet handling. Byte 0 picks a mode:
 *
 * even: the pure protocol (vmm/virtio/vsock_proto.c). The rest is a CONNECT
 *   line for pvh_vsock_parse_connect (its answer must be -1, 0, or the
 *   length of a line that ends in a newline within 32 bytes, whose port
 *   round-trips through "OK <port>"), then 16-byte records driving one
 *   connection's state machine: guest packets with any header, bytes sent
 *   to the guest (never more than csm_room), bytes forwarded to the host
 *   (never more than held), host EOF, control packets taken. Checked after
 *   every step: held guest bytes never exceed buf_alloc; what was sent to
 *   the guest never exceeds the credit its last header gave; a reset state
 *   owes nothing but an RST.
 *
 * odd: the device (vmm/virtio/vsock.c) on fake guest RAM
 *   (tests/lib/virtio_driver.h), guest connections joined to socketpairs,
 *   host connections made on a real UNIX socket in a temporary directory.
 *   16-byte records: a transmit packet (any header; CIDs, type, op, length,
 *   descriptor layout broken on demand; ports from small sets so that they
 *   meet connections), receive buffers (any size, tiny ones too), host
 *   actions (connect and send a fuzzed handshake line, write, read, half-
 *   close, close), events, the clock, a driver reset, a transport reset,
 *   event buffers. Checked after every record: connections <= the limit,
 *   held bytes <= limit * buf_alloc, resets waiting <= PVH_VSOCK_ORPHAN_MAX,
 *   every packet the device returns well-formed (its CIDs, stream type, an
 *   op the device may send, len = the used length - 44, <= 64 KiB, within
 *   the buffer). ASan and UBSan watch the rest.
 * Seeds: tests/fuzz/corpus/vsock/ (tests/fuzz/vsock-seed.py). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../../vmm/virtio/vsock.h"
#include "../lib/virtio_driver.h"

#define REC 16
#define CID 3
#define Q 32
#define MAX_CONNS 8
#define BUF_ALLOC 16384
#define HOST_ENDS 16

#define check(ok)                                                                                          \
    do {                                                                                                   \
        if (!(ok)) {                                                                                       \
            fprintf(stderr, "fuzz_vsock: check failed at line %d: %s\n", __LINE__, #ok);                   \
            abort();                                                                                       \
        }                                                                                                  \
    } while (0)

/* ---- the pure protocol ---------------------------------------------------------------- */

static void fuzz_connect_line(const uint8_t *p, size_t n)
{
    uint32_t port;
    int r = pvh_vsock_parse_connect((const char *)p, n, &port);
    check(r >= -1 && r <= PVH_VSOCK_CONNECT_MAX);
    if (r == 0)
        check(n < PVH_VSOCK_CONNECT_MAX && !memchr(p, '\n', n));
    if (r > 0) {
        check(p[r - 1] == '\n' && !memchr(p, '\n', (size_t)r - 1));
        char ok[PVH_VSOCK_OK_MAX], line[32];
        size_t len = pvh_vsock_format_ok(ok, port);
        check(len < PVH_VSOCK_OK_MAX && ok[len - 1] == '\n');
        snprintf(line, sizeof(line), "OK %u\n", port);
        check(!strcmp(ok, line));
        snprintf(line, sizeof(line), "CONNECT %u\n", port);
        uint32_t again;
        check(pvh_vsock_parse_connect(line, strlen(line), &again) == (int)strlen(line) && again == port);
    }
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void fuzz_state_machine(const uint8_t *data, size_t size)
{
    struct pvh_vsock_csm c;
    uint32_t buf_alloc = 4096 + (le32(data) & 0x3ffff);
    bool local = data[4] & 1;
    pvh_vsock_csm_init(&c, local ? PVH_VSOCK_LOCAL_INIT : PVH_VSOCK_ESTABLISHED, buf_alloc, le32(data + 5), 0);
    uint32_t flags;
    for (size_t off = 9; off + REC <= size; off += REC) {
        const uint8_t *r = data + off;
        const char *why;
        switch (r[0] % 6) {
        case 0: {
            struct pvh_vsock_hdr h = {.src_cid = CID, .dst_cid = 2, .len = le32(r + 2) & 0x1ffff, .type = 1,
                                      .op = r[1] & 7, .flags = r[6], .buf_alloc = le32(r + 7),
                                      .fwd_cnt = le32(r + 11)};
            uint8_t state = c.state;
            enum pvh_vsock_action a = pvh_vsock_csm_on_packet(&c, &h, &why);
            check(a <= PVH_VSOCK_ACT_RESET);
            if (a == PVH_VSOCK_ACT_RESET)
                check(why && c.state == PVH_VSOCK_CLOSED && c.owe == PVH_VSOCK_OWE_RST);
            if (a == PVH_VSOCK_ACT_CLOSE)
                check(c.owe == 0);
            if (state == PVH_VSOCK_CLOSED)
                check(a == PVH_VSOCK_ACT_NONE);
            break;
        }
        case 1: { /* the device sends data: never beyond the guest's credit */
            uint32_t room = pvh_vsock_csm_room(&c), n = (uint32_t)(le32(r + 1) % ((uint64_t)room + 1)); /* room may be 2^32-1 */
            check(room <= c.peer_buf_alloc);
            pvh_vsock_csm_sent(&c, n);
            check(c.tx_cnt - c.peer_fwd_cnt <= c.peer_buf_alloc || n == 0);
            break;
        }
        case 2: { /* the host takes some of what is held */
            uint32_t held = pvh_vsock_csm_held(&c);
            pvh_vsock_csm_forwarded(&c, (uint32_t)(le32(r + 1) % ((uint64_t)held + 1)));
            break;
        }
        case 3: pvh_vsock_csm_host_eof(&c); break;
        case 4: {
            uint16_t op = pvh_vsock_csm_next_control(&c, &flags);
            check(op <= PVH_VSOCK_OP_CREDIT_UPDATE && op != PVH_VSOCK_OP_RW);
            if (op == PVH_VSOCK_OP_SHUTDOWN)
                check(flags == PVH_VSOCK_SHUTDOWN_SEND);
            struct pvh_vsock_hdr out = {0};
            pvh_vsock_csm_stamp(&c, &out);
            check(out.buf_alloc == buf_alloc && out.fwd_cnt == c.fwd_cnt);
            break;
        }
        default: {
            uint32_t credit = pvh_vsock_credit(le32(r + 1), le32(r + 5), le32(r + 9));
            check(credit <= le32(r + 1));
            break;
        }
        }
        check(pvh_vsock_csm_held(&c) <= buf_alloc);
        if (c.state == PVH_VSOCK_CLOSED)
            check((c.owe & ~PVH_VSOCK_OWE_RST) == 0 && pvh_vsock_csm_room(&c) == 0);
    }
}

/* ---- the device -------------------------------------------------------------------------- */

static struct vdriver drv;
static struct pvh_vsock dev;
static char dir[64], path[96];
static int host_end[HOST_ENDS];
static unsigned next_end;
static uint64_t clock_ns;
static uint64_t rx_gpa[Q];
static uint32_t rx_len[Q];
static unsigned rx_out;       /* receive buffers posted and not returned: at most Q */
static bool rx_posted[Q];     /* by head: posted and not returned yet */
static uint64_t tx_hdr, tx_data, ev_gpa;
static uint64_t heap_start;

static uint64_t fake_now(void *ctx)
{
    (void)ctx;
    return clock_ns;
}

static void keep_end(int fd)
{
    unsigned i = next_end++ % HOST_ENDS;
    if (host_end[i] >= 0)
        close(host_end[i]);
    host_end[i] = fd;
}

/* Guest connections to ports 50..52 meet a socketpair; others nobody. */
static int fake_connect(void *ctx, uint32_t port)
{
    (void)ctx;
    int sv[2];
    if (port < 50 || port > 52 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0)
        return -1;
    int small = 4096; /* the socket fills after a few KiB: the device's ring comes into play */
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
    keep_end(sv[1]);
    return sv[0];
}

static void setup_once(void)
{
    if (drv.d)
        return;
    check(vd_ram_init(&drv) == 0);
    heap_start = drv.heap;
    snprintf(dir, sizeof(dir), "/tmp/fuzz-vsock-XXXXXX");
    check(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/v.sock", dir);
    for (int i = 0; i < HOST_ENDS; i++)
        host_end[i] = -1;
    drv.d = &dev.dev;
}

static void start(void)
{
    struct pvh_vsock_config cfg = {.guest_cid = CID, .uds_path = path, .listen = true, .max_conns = MAX_CONNS,
                                   .buf_alloc = BUF_ALLOC, .timeout_ns = 1000000000ull, .connect_port = fake_connect,
                                   .now_ns = fake_now};
    struct pvh_virtio_env env = vd_env(&drv);
    struct pvh_error err;
    drv.heap = heap_start;
    memset(vd_ptr(&drv, heap_start, 1u << 20), 0, 1u << 20); /* the previous input's rings and buffers */
    check(pvh_vsock_init(&dev, &cfg, &env, 0xd0000000, 5, &err) == 0);
    drv.d = &dev.dev;
    check(vd_start(&drv, VIRTIO_F_VERSION_1_BIT | VIRTIO_RING_F_EVENT_IDX_BIT, Q));
    rx_out = 0;
    memset(rx_posted, 0, sizeof(rx_posted));
    tx_hdr = vd_alloc(&drv, 64, 8);
    tx_data = vd_alloc(&drv, (64 << 10) + 64, 8);
    ev_gpa = vd_alloc(&drv, 4 * Q, 4);
    for (unsigned i = 0; i < Q; i++)
        rx_gpa[i] = vd_alloc(&drv, 4096 + 64, 8);
}

static void stop(void)
{
    pvh_vsock_destroy(&dev);
    for (int i = 0; i < HOST_ENDS; i++)
        if (host_end[i] >= 0)
            close(host_end[i]), host_end[i] = -1;
    unlink(path);
}

/* Every packet the device returned on the receive queue is well-formed. */
static void check_rx(void)
{
    uint32_t id, len;
    while (vd_get_used(&drv, PVH_VSOCK_RX, &id, &len)) {
        check(id < Q && len <= rx_len[id] && rx_out > 0 && rx_posted[id]); /* each chain back once */
        rx_out--;
        rx_posted[id] = false;
        if (len == 0)
            continue; /* a buffer the device refused */
        check(len >= PVH_VSOCK_HDR_SIZE);
        struct pvh_vsock_hdr h;
        pvh_vsock_hdr_decode(vd_ptr(&drv, rx_gpa[id], PVH_VSOCK_HDR_SIZE), &h);
        check(h.src_cid == 2 && h.dst_cid == CID && h.type == 1);
        check(h.op >= PVH_VSOCK_OP_REQUEST && h.op <= PVH_VSOCK_OP_CREDIT_UPDATE);
        check(h.len == len - PVH_VSOCK_HDR_SIZE && h.len <= PVH_VSOCK_MAX_PAYLOAD);
        check(h.op == PVH_VSOCK_OP_RW || h.len == 0);
        if (h.op == PVH_VSOCK_OP_SHUTDOWN)
            check(h.flags == PVH_VSOCK_SHUTDOWN_SEND);
    }
    while (vd_get_used(&drv, PVH_VSOCK_TX, &id, &len))
        check(len == 0);
    while (vd_get_used(&drv, PVH_VSOCK_EVENT, &id, &len))
        check(len == 0 || len == 4);
}

static void check_bounds(void)
{
    struct pvh_vsock_counters n = pvh_vsock_counters(&dev.dev);
    check(n.conns <= MAX_CONNS && n.conns_peak <= MAX_CONNS);
    check(n.held <= (uint64_t)MAX_CONNS * BUF_ALLOC && n.held_peak <= (uint64_t)MAX_CONNS * BUF_ALLOC);
    check(dev.norphans <= PVH_VSOCK_ORPHAN_MAX);
}

static uint32_t guest_port(uint8_t b) { return 1000 + (b & 3); }

static uint32_t host_port(uint8_t b)
{
    return b & 4 ? (1u << 30) + (b & 3) : 50 + (b & 3);
}

/* A transmit packet. r[1] op, r[2] breakage bits, r[3] ports, r[4-5] payload
 * length, r[6] flags, r[7-10] buf_alloc, r[11-14] fwd_cnt, r[15] length lie. */
static void tx_record(const uint8_t *r)
{
    uint8_t bits = r[2];
    uint32_t payload = (uint32_t)(r[4] | r[5] << 8) % ((64 << 10) + 17);
    struct pvh_vsock_hdr h = {
        .src_cid = bits & 1 ? 9 : CID, .dst_cid = bits & 2 ? 3 : 2, .src_port = guest_port(r[3]),
        .dst_port = host_port((uint8_t)(r[3] >> 2)), .len = payload, .type = bits & 4 ? 2 : 1,
        .op = bits & 8 ? r[1] : (uint16_t)(1 + r[1] % 7), .flags = r[6], .buf_alloc = le32(r + 7),
        .fwd_cnt = le32(r + 11),
    };
    if (bits & 0x40)
        h.len += r[15];
    uint8_t *hp = vd_ptr(&drv, tx_hdr, PVH_VSOCK_HDR_SIZE);
    pvh_vsock_hdr_encode(&h, hp);
    memset(vd_ptr(&drv, tx_data, payload ? payload : 1), r[15], payload ? payload : 1);
    struct vd_buf b[3] = {{tx_hdr, bits & 0x20 ? 20 : PVH_VSOCK_HDR_SIZE, (bits & 0x10) != 0}};
    unsigned n = 1;
    if (payload && (bits & 0x80) && payload > 1) {
        b[n++] = (struct vd_buf){tx_data, payload / 2, false};
        b[n++] = (struct vd_buf){tx_data + payload / 2, payload - payload / 2, false};
    } else if (payload) {
        b[n++] = (struct vd_buf){tx_data, payload, false};
    }
    vd_add_chain(&drv, PVH_VSOCK_TX, b, n);
    vd_kick(&drv, PVH_VSOCK_TX);
}

static void rx_record(const uint8_t *r)
{
    unsigned count = 1 + r[1] % 8;
    for (unsigned i = 0; i < count && rx_out < Q; i++, rx_out++) {
        /* a free descriptor, as a driver keeps them: chains may come back out of order */
        while (rx_posted[drv.next_desc[PVH_VSOCK_RX]])
            drv.next_desc[PVH_VSOCK_RX] = (uint16_t)((drv.next_desc[PVH_VSOCK_RX] + 1) % Q);
        uint16_t head = drv.next_desc[PVH_VSOCK_RX];
        uint32_t size = (uint32_t)(r[2] | r[3] << 8) % (4096 + 64 + 1);
        if (r[4] & 1)
            size = 4096 + PVH_VSOCK_HDR_SIZE;
        rx_len[head] = size;
        check(!rx_posted[head]);
        rx_posted[head] = true;
        struct vd_buf b = {rx_gpa[head], size, !(r[4] & 2) || i};
        vd_add_chain(&drv, PVH_VSOCK_RX, &b, 1);
    }
    vd_kick(&drv, PVH_VSOCK_RX);
}

static int connect_path(void)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    memcpy(a.sun_path, path, strlen(path));
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
        close(fd), fd = -1;
    return fd;
}

/* Host actions: r[1] which end, r[2] what, r[3..] bytes. */
static void host_record(const uint8_t *r)
{
    int *end = &host_end[r[1] % HOST_ENDS];
    static uint8_t junk[8192];
    switch (r[2] % 6) {
    case 0: { /* a host connection with a (fuzzed) handshake line */
        int fd = connect_path();
        if (fd < 0)
            return;
        char line[16];
        size_t n = r[3] & 1 ? (size_t)snprintf(line, sizeof(line), "CONNECT %u\n", 1000 + (r[4] & 3))
                            : (size_t)(r[4] % 14);
        if (!(r[3] & 1))
            memcpy(line, r + 3, n);
        if (send(fd, line, n, MSG_NOSIGNAL) < 0) {
            /* the device may have closed it */
        }
        keep_end(fd);
        break;
    }
    case 1:
        if (*end >= 0 && send(*end, junk, 1 + (size_t)(r[3] | r[4] << 8) % sizeof(junk), MSG_NOSIGNAL) < 0) {
            /* full or closed: fine */
        }
        break;
    case 2:
        while (*end >= 0 && read(*end, junk, sizeof(junk)) > 0) {
        }
        break;
    case 3:
        if (*end >= 0)
            shutdown(*end, SHUT_WR);
        break;
    case 4:
        if (*end >= 0)
            close(*end), *end = -1;
        break;
    default:
        pvh_vsock_io(&dev.dev, EPOLLIN | EPOLLOUT);
        break;
    }
}

static void event_record(const uint8_t *r)
{
    for (unsigned i = 0; i < 1 + r[1] % 4u; i++) {
        struct vd_buf b = {ev_gpa + 4 * (drv.next_desc[PVH_VSOCK_EVENT] % Q), r[2] & 1 ? 2 : 4, !(r[2] & 2)};
        vd_add_chain(&drv, PVH_VSOCK_EVENT, &b, 1);
    }
    vd_kick(&drv, PVH_VSOCK_EVENT);
}

static void fuzz_device(const uint8_t *data, size_t size)
{
    setup_once();
    start();
    for (size_t off = 0; off + REC <= size && off < 400 * REC; off += REC) {
        const uint8_t *r = data + off;
        switch (r[0] % 9) {
        case 0: case 1: case 2: tx_record(r); break;
        case 3: rx_record(r); break;
        case 4: case 5: host_record(r); break;
        case 6: clock_ns += (uint64_t)(r[1] % 4) * 400000000ull; pvh_vsock_tick(&dev.dev); break;
        case 7:
            if (r[1] & 1) {
                vd_write32(&drv, VIRTIO_MMIO_STATUS, 0);
                pvh_vsock_io(&dev.dev, EPOLLIN);
                check(vd_start(&drv, VIRTIO_F_VERSION_1_BIT | VIRTIO_RING_F_EVENT_IDX_BIT, Q));
                rx_out = 0; /* new rings: what was posted is gone */
                memset(rx_posted, 0, sizeof(rx_posted));
            } else {
                pvh_vsock_transport_reset(&dev.dev);
            }
            break;
        default: event_record(r); break;
        }
        check_rx();
        check_bounds();
    }
    stop();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] & 1) {
        fuzz_device(data + 1, size - 1);
        return 0;
    }
    size_t line = size - 1 < 40 ? size - 1 : 40;
    fuzz_connect_line(data + 1, line);
    if (size >= 1 + 9)
        fuzz_state_machine(data + 1, size - 1);
    return 0;
}
