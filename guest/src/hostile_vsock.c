/* The hostile guest's attack on virtio-vsock (attack=vsock): a driver that
 * ignores every rule of the vsock protocol, against pvhboot's hybrid vsock
 * (--vsock; the device found by its ID in any slot). In turn:
 *   orphans  2000 data packets for connections that do not exist, with no
 *            receive buffer posted: the resets the device owes must stay
 *            bounded ("VSOCK-ORPHANS rsts=N" once buffers come)
 *   garbage  a header cut short, a device-writable transmit buffer, wrong
 *            CIDs, a datagram type, ops 0 and 99, lengths beyond the buffers
 *            and over 64 KiB, data/RESPONSE/RST for no connection
 *            ("VSOCK-ATTACK NAME status=..": never DEVICE_NEEDS_RESET), then
 *            "VSOCK-GARBAGE rsts=N"
 *   flood    1100 connection requests to host port 7000 (a host server that
 *            accepts everything): "VSOCK-FLOOD responses=N resets=M", then
 *            every connection reset by the guest
 *   credit   a connection to host port 7001 (a host server that never
 *            reads), then 16 MiB of data ignoring the credit the device gave:
 *            "VSOCK-CREDIT rst=N sent=BYTES" (the connection is reset, later
 *            packets for it too)
 *   last     a proper connection to port 7000, "hello vsock" echoed back:
 *            "VSOCK-OK echo=hello vsock"
 * The guest runs with paging and interrupts off and polls its rings, every
 * wait bounded. */
#include "pvh_guest.h"

#define MMIO_BASE 0xd0000000u
#define MMIO_SLOTS 17
#define QS 64
#define TX_SLOTS (QS / 2)            /* header + payload descriptors each */
#define RXBUF (44 + 4096)
#define HDR 44
#define GUEST_CID 3
#define NEEDS_RESET 0x40
#define DESC_NEXT 1
#define DESC_WRITE 2
#define SPIN_LIMIT 400000000u
#define IDLE_SPINS 300000u

enum {
    REG_MAGIC = 0x000, REG_DEVICE_ID = 0x008, REG_DRV_FEAT = 0x020, REG_DRV_FEAT_SEL = 0x024,
    REG_QUEUE_SEL = 0x030, REG_QUEUE_NUM = 0x038, REG_QUEUE_READY = 0x044, REG_QUEUE_NOTIFY = 0x050,
    REG_STATUS = 0x070, REG_DESC_LO = 0x080, REG_DESC_HI = 0x084, REG_AVAIL_LO = 0x090, REG_AVAIL_HI = 0x094,
    REG_USED_LO = 0x0a0, REG_USED_HI = 0x0a4,
};
enum { OP_REQUEST = 1, OP_RESPONSE = 2, OP_RST = 3, OP_SHUTDOWN = 4, OP_RW = 5, OP_CREDIT_UPDATE = 6 };

struct desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags, next;
};

struct vq {
    struct desc desc[QS] __attribute__((aligned(16)));
    struct {
        uint16_t flags, idx, ring[QS], used_event;
    } avail __attribute__((aligned(2)));
    struct {
        uint16_t flags, idx;
        struct {
            uint32_t id, len;
        } ring[QS];
        uint16_t avail_event;
    } used __attribute__((aligned(4)));
    uint16_t seen;
};

static struct vq rxq __attribute__((aligned(4096)));
static struct vq txq __attribute__((aligned(4096)));
static struct vq evq __attribute__((aligned(4096)));
static uint8_t rxbuf[QS][RXBUF] __attribute__((aligned(64)));
static uint8_t txhdr[TX_SLOTS][HDR] __attribute__((aligned(64)));
static uint8_t payload[64 << 10] __attribute__((aligned(64)));
static uint8_t evbuf[QS][4];
static uint32_t base;
static unsigned counts[8];           /* packets received, by op */
static uint8_t last_data[64];
static uint32_t last_data_len;

static void wr(uint32_t off, uint32_t v)
{
    *(volatile uint32_t *)(uintptr_t)(base + off) = v;
}

static uint32_t rd(uint32_t off)
{
    return *(volatile uint32_t *)(uintptr_t)(base + off);
}

static void barrier(void)
{
    __asm__ volatile("" ::: "memory");
}

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)v); put16(p + 2, (uint16_t)(v >> 16)); }
static void put64(uint8_t *p, uint64_t v) { put32(p, (uint32_t)v); put32(p + 4, (uint32_t)(v >> 32)); }
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t get32(const uint8_t *p) { return get16(p) | (uint32_t)get16(p + 2) << 16; }

static void copy(uint8_t *d, const char *s, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        d[i] = (uint8_t)s[i];
}

static int find_device(void)
{
    for (uint32_t i = 0; i < MMIO_SLOTS; i++) {
        base = MMIO_BASE + i * 0x1000u;
        if (rd(REG_MAGIC) == 0x74726976u && rd(REG_DEVICE_ID) == 19)
            return 0;
    }
    return -1;
}

static void setup_queue(uint32_t q, struct vq *v)
{
    wr(REG_QUEUE_SEL, q);
    wr(REG_QUEUE_NUM, QS);
    wr(REG_DESC_LO, (uint32_t)(uintptr_t)v->desc);
    wr(REG_DESC_HI, 0);
    wr(REG_AVAIL_LO, (uint32_t)(uintptr_t)&v->avail);
    wr(REG_AVAIL_HI, 0);
    wr(REG_USED_LO, (uint32_t)(uintptr_t)&v->used);
    wr(REG_USED_HI, 0);
    wr(REG_QUEUE_READY, 1);
}

static void start_device(void)
{
    wr(REG_STATUS, 0);
    wr(REG_STATUS, 1 | 2);
    wr(REG_DRV_FEAT_SEL, 0);
    wr(REG_DRV_FEAT, 0);
    wr(REG_DRV_FEAT_SEL, 1);
    wr(REG_DRV_FEAT, 1); /* VERSION_1 */
    wr(REG_STATUS, 1 | 2 | 8);
    setup_queue(0, &rxq);
    setup_queue(1, &txq);
    setup_queue(2, &evq);
    wr(REG_STATUS, 1 | 2 | 8 | 4);
}

static void publish(struct vq *v, uint32_t q, uint16_t head)
{
    v->avail.ring[v->avail.idx % QS] = head;
    barrier();
    v->avail.idx++;
    barrier();
    wr(REG_QUEUE_NOTIFY, q);
}

/* ---- receive ---- */

static void post_rx(uint16_t i)
{
    rxq.desc[i] = (struct desc){(uint32_t)(uintptr_t)rxbuf[i], RXBUF, DESC_WRITE, 0};
    publish(&rxq, 0, i);
}

static void post_all_rx(void)
{
    for (uint16_t i = 0; i < QS; i++)
        post_rx(i);
    for (uint16_t i = 0; i < QS; i++)
        evq.desc[i] = (struct desc){(uint32_t)(uintptr_t)evbuf[i], 4, DESC_WRITE, 0};
}

/* Every packet the device returned: counted by op, the buffer posted again. */
static unsigned drain_rx(void)
{
    unsigned n = 0;
    while (*(volatile uint16_t *)&rxq.used.idx != rxq.seen) {
        barrier();
        uint32_t id = rxq.used.ring[rxq.seen % QS].id % QS;
        const uint8_t *h = rxbuf[id];
        uint16_t op = get16(h + 30);
        counts[op < 8 ? op : 0]++;
        if (op == OP_RW) {
            uint32_t len = get32(h + 24);
            last_data_len = len < sizeof(last_data) ? len : sizeof(last_data);
            for (uint32_t i = 0; i < last_data_len; i++)
                last_data[i] = h[HDR + i];
        }
        rxq.seen++;
        n++;
        post_rx((uint16_t)id);
    }
    return n;
}

/* Waits (bounded) until `cond` holds, draining the receive queue meanwhile. */
static int wait_for(int (*cond)(void))
{
    for (uint32_t spin = 0; spin < SPIN_LIMIT; spin++) {
        drain_rx();
        if (cond())
            return 0;
        __asm__ volatile("pause");
    }
    return -1;
}

/* ---- transmit ---- */

static int tx_has_room(void)
{
    return (uint16_t)(txq.avail.idx - *(volatile uint16_t *)&txq.used.idx) < TX_SLOTS;
}

static int tx_all_done(void)
{
    return *(volatile uint16_t *)&txq.used.idx == txq.avail.idx;
}

struct pkt {
    uint64_t src_cid, dst_cid;
    uint32_t src_port, dst_port, len;
    uint16_t type, op;
    uint32_t flags, buf_alloc, fwd_cnt;
};

/* One packet: header + `data` payload bytes of `payload` (none when 0). */
static void send_raw(const struct pkt *p, uint32_t hdr_len, uint32_t data, uint16_t hdr_flags)
{
    if (wait_for(tx_has_room)) {
        pvh_puts("VSOCK-STUCK the transmit queue never moved\n");
        pvh_exit(3);
    }
    uint16_t slot = (uint16_t)(txq.avail.idx % TX_SLOTS), d = (uint16_t)(slot * 2);
    uint8_t *h = txhdr[slot];
    put64(h, p->src_cid);
    put64(h + 8, p->dst_cid);
    put32(h + 16, p->src_port);
    put32(h + 20, p->dst_port);
    put32(h + 24, p->len);
    put16(h + 28, p->type);
    put16(h + 30, p->op);
    put32(h + 32, p->flags);
    put32(h + 36, p->buf_alloc);
    put32(h + 40, p->fwd_cnt);
    txq.desc[d] = (struct desc){(uint32_t)(uintptr_t)h, hdr_len, (uint16_t)(hdr_flags | (data ? DESC_NEXT : 0)),
                                (uint16_t)(d + 1)};
    txq.desc[d + 1] = (struct desc){(uint32_t)(uintptr_t)payload, data, 0, 0};
    publish(&txq, 1, d);
}

static void send_pkt(uint16_t op, uint32_t src, uint32_t dst, uint32_t flags, uint32_t len)
{
    struct pkt p = {GUEST_CID, 2, src, dst, len, 1, op, flags, 64u << 10, 0};
    send_raw(&p, HDR, len, 0);
}

/* Everything sent is served, and no reply came for a while (replies come
 * from the VMM's I/O thread after the transmit chains are returned). */
static void settle(void)
{
    if (wait_for(tx_all_done)) {
        pvh_puts("VSOCK-STUCK the transmit queue never emptied\n");
        pvh_exit(3);
    }
    for (uint32_t idle = 0; idle < IDLE_SPINS;) {
        if (drain_rx()) {
            idle = 0;
        } else {
            idle++;
            __asm__ volatile("pause");
        }
    }
}

static void report_status(const char *name)
{
    pvh_puts("VSOCK-ATTACK ");
    pvh_puts(name);
    pvh_puts(" status=");
    pvh_put_hex(rd(REG_STATUS));
    pvh_puts("\n");
}

/* ---- the attacks ---- */

static void orphans(void)
{
    for (uint32_t i = 0; i < 2000; i++)
        send_pkt(OP_RW, 40000 + i, 7000, 0, 1);
    settle();
    post_all_rx();
    settle();
    pvh_puts("VSOCK-ORPHANS rsts=");
    pvh_put_dec(counts[OP_RST]);
    pvh_puts("\n");
}

static void garbage(void)
{
    unsigned before = counts[OP_RST];
    struct pkt p = {GUEST_CID, 2, 100, 7000, 0, 1, OP_RW, 0, 65536, 0};
    send_raw(&p, 20, 0, 0);
    settle(), report_status("short-header");
    send_raw(&p, HDR, 0, DESC_WRITE);
    settle(), report_status("writable-header");
    p.src_cid = 9;
    send_raw(&p, HDR, 0, 0);
    settle(), report_status("wrong-src-cid");
    p.src_cid = GUEST_CID, p.dst_cid = 77;
    send_raw(&p, HDR, 0, 0);
    settle(), report_status("wrong-dst-cid");
    p.dst_cid = 2, p.type = 2, p.op = OP_REQUEST;
    send_raw(&p, HDR, 0, 0);
    settle(), report_status("seqpacket-type");
    p.type = 1, p.op = 0;
    send_raw(&p, HDR, 0, 0);
    settle(), report_status("op-0");
    p.op = 99;
    send_raw(&p, HDR, 0, 0);
    settle(), report_status("op-99");
    p.op = OP_RW, p.len = 1000;
    send_raw(&p, HDR, 10, 0);
    settle(), report_status("len-beyond-buffers");
    p.len = 0x10001;
    send_raw(&p, HDR, sizeof(payload), 0);
    settle(), report_status("len-over-64k");
    send_pkt(OP_RW, 101, 7000, 0, 5);
    settle(), report_status("data-no-connection");
    send_pkt(OP_RESPONSE, 102, 7000, 0, 0);
    settle(), report_status("response-no-connection");
    send_pkt(OP_RST, 103, 7000, 0, 0);
    settle(), report_status("rst-no-connection");
    pvh_puts("VSOCK-GARBAGE rsts=");
    pvh_put_dec(counts[OP_RST] - before);
    pvh_puts("\n");
}

static void flood(void)
{
    unsigned resp = counts[OP_RESPONSE], rst = counts[OP_RST];
    for (uint32_t i = 0; i < 1100; i++)
        send_pkt(OP_REQUEST, 20000 + i, 7000, 0, 0);
    settle();
    pvh_puts("VSOCK-FLOOD responses=");
    pvh_put_dec(counts[OP_RESPONSE] - resp);
    pvh_puts(" resets=");
    pvh_put_dec(counts[OP_RST] - rst);
    pvh_puts("\n");
    for (uint32_t i = 0; i < 1100; i++)
        send_pkt(OP_RST, 20000 + i, 7000, 0, 0);
    settle();
}

static void credit(void)
{
    unsigned rst = counts[OP_RST], resp = counts[OP_RESPONSE];
    send_pkt(OP_REQUEST, 30001, 7001, 0, 0);
    settle();
    if (counts[OP_RESPONSE] == resp) {
        pvh_puts("VSOCK-CREDIT no connection to port 7001\n");
        return;
    }
    uint32_t sent = 0;
    for (int i = 0; i < 256; i++) { /* 16 MiB, never waiting for a credit update, on after the reset */
        send_pkt(OP_RW, 30001, 7001, 0, sizeof(payload));
        sent += sizeof(payload);
        drain_rx();
    }
    settle();
    pvh_puts("VSOCK-CREDIT rst=");
    pvh_put_dec(counts[OP_RST] - rst);
    pvh_puts(" sent=");
    pvh_put_dec(sent);
    pvh_puts("\n");
}

static void last(void)
{
    unsigned resp = counts[OP_RESPONSE], rw = counts[OP_RW];
    send_pkt(OP_REQUEST, 30002, 7000, 0, 0);
    settle();
    copy(payload, "hello vsock", 11);
    send_pkt(OP_RW, 30002, 7000, 0, 11);
    for (int i = 0; i < 50 && counts[OP_RW] == rw; i++)
        settle();
    pvh_puts("VSOCK-OK responses=");
    pvh_put_dec(counts[OP_RESPONSE] - resp);
    pvh_puts(" echo=");
    for (uint32_t i = 0; counts[OP_RW] != rw && i < last_data_len; i++)
        pvh_putc((char)last_data[i]);
    pvh_puts("\n");
    send_pkt(OP_SHUTDOWN, 30002, 7000, 3, 0);
    settle();
}

void attack_vsock(void)
{
    if (find_device()) {
        pvh_puts("vsock: no virtio-vsock device (run with --vsock)\n");
        pvh_exit(3);
    }
    start_device();
    for (uint32_t i = 0; i < sizeof(payload); i++)
        payload[i] = (uint8_t)i;
    orphans();
    garbage();
    flood();
    credit();
    last();
    report_status("end");
}
