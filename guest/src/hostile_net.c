/* The hostile guest's attack on virtio-net (attack=net): the NIC in slot 0
 * (0xD0000000, e.g. --net tap=tap0 --rng), virtio-rng in slot 1. Every
 * transmit rule of docs/virtio-net.md broken once ("NET-ATTACK NAME
 * used=N status=0x..": each chain must come back, the device keep running,
 * nothing reach the TAP), a chain of 64 MiB behind one indirect table, then
 * a flood of NET_FLOOD malformed frames, the transmit queue kept full,
 * during which an entropy request to the rng must be served ("NET-FLOOD
 * frames=N stalls=S rng-served-at=I": the flood cannot keep the I/O
 * thread), and at last NET_VALID well-formed frames, 60-byte ARP requests
 * for an address nobody has (the host's stack takes them without a drop or
 * an answer), that must reach the TAP, and nothing else ("NET-VALID
 * sent=N bad=B": the host counts the TAP's packets). The
 * guest runs with paging off, interrupts off: it polls the used rings,
 * each wait bounded. */
#include "pvh_guest.h"

#define NET_BASE 0xd0000000u
#define RNG_BASE 0xd0001000u
#define NEEDS_RESET 0x40
#define TXQ 256
#define SMALLQ 16
#define NET_FLOOD 20000
#define NET_VALID 5
#define RNG_AT 5000            /* the flood frame at which the entropy request is made */
#define BIG_ENTRIES 1024       /* the indirect table of the 64 MiB chain */
#define BIG_BUF 65536u
#define WAIT 1000000

enum {
    REG_MAGIC = 0x000, REG_DEVICE_ID = 0x008, REG_DEV_FEAT = 0x010, REG_DEV_FEAT_SEL = 0x014,
    REG_DRV_FEAT = 0x020, REG_DRV_FEAT_SEL = 0x024, REG_QUEUE_SEL = 0x030, REG_QUEUE_NUM = 0x038,
    REG_QUEUE_READY = 0x044, REG_QUEUE_NOTIFY = 0x050, REG_STATUS = 0x070, REG_DESC_LO = 0x080,
    REG_DESC_HI = 0x084, REG_AVAIL_LO = 0x090, REG_AVAIL_HI = 0x094, REG_USED_LO = 0x0a0, REG_USED_HI = 0x0a4,
    REG_CONFIG = 0x100,
};
enum { F_CSUM = 0, F_MAC = 5, F_HOST_TSO4 = 11, F_INDIRECT = 28 };
enum { D_NEXT = 1, D_WRITE = 2, D_INDIRECT = 4 };

struct desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags, next;
};

struct used_elem {
    uint32_t id, len;
};

static struct {
    struct desc desc[TXQ] __attribute__((aligned(16)));
    struct { uint16_t flags, idx, ring[TXQ], used_event; } avail __attribute__((aligned(2)));
    struct { uint16_t flags, idx; struct used_elem ring[TXQ]; uint16_t avail_event; } used __attribute__((aligned(4)));
} txq __attribute__((aligned(4096)));

struct small_ring {
    struct desc desc[SMALLQ] __attribute__((aligned(16)));
    struct { uint16_t flags, idx, ring[SMALLQ], used_event; } avail __attribute__((aligned(2)));
    struct { uint16_t flags, idx; struct used_elem ring[SMALLQ]; uint16_t avail_event; } used __attribute__((aligned(4)));
};
static struct small_ring rxq __attribute__((aligned(4096)));
static struct small_ring rngq __attribute__((aligned(4096)));

static struct desc big_table[BIG_ENTRIES] __attribute__((aligned(16)));
static uint8_t big_buf[BIG_BUF] __attribute__((aligned(16)));
static uint8_t frame[16][1600] __attribute__((aligned(16)));
static uint8_t rng_buf[64];
static uint8_t mac[6];
static uint16_t tx_avail;     /* our copy of the available index */
static uint32_t bad_sent;     /* malformed frames sent (the VMM's error count must match) */

static void wr(uint32_t base, uint32_t off, uint32_t v)
{
    *(volatile uint32_t *)(uintptr_t)(base + off) = v;
}

static uint32_t rd(uint32_t base, uint32_t off)
{
    return *(volatile uint32_t *)(uintptr_t)(base + off);
}

static uint8_t rd8(uint32_t base, uint32_t off)
{
    return *(volatile uint8_t *)(uintptr_t)(base + off);
}

static void fill(uint8_t *p, uint32_t n, uint8_t v)
{
    volatile uint8_t *b = p;
    while (n--)
        *b++ = v;
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void queue(uint32_t base, uint32_t sel, uint32_t num, const void *desc, const void *avail, const void *used)
{
    wr(base, REG_QUEUE_SEL, sel);
    wr(base, REG_QUEUE_NUM, num);
    wr(base, REG_DESC_LO, (uint32_t)(uintptr_t)desc);
    wr(base, REG_DESC_HI, 0);
    wr(base, REG_AVAIL_LO, (uint32_t)(uintptr_t)avail);
    wr(base, REG_AVAIL_HI, 0);
    wr(base, REG_USED_LO, (uint32_t)(uintptr_t)used);
    wr(base, REG_USED_HI, 0);
    wr(base, REG_QUEUE_READY, 1);
}

/* Reset, features (VERSION_1 and `low` of what is offered), FEATURES_OK. */
static int negotiate(uint32_t base, uint32_t low)
{
    wr(base, REG_STATUS, 0);
    wr(base, REG_STATUS, 1 | 2);
    wr(base, REG_DEV_FEAT_SEL, 0);
    uint32_t offered = rd(base, REG_DEV_FEAT);
    wr(base, REG_DRV_FEAT_SEL, 0);
    wr(base, REG_DRV_FEAT, low & offered);
    wr(base, REG_DRV_FEAT_SEL, 1);
    wr(base, REG_DRV_FEAT, 1); /* VERSION_1 */
    wr(base, REG_STATUS, 1 | 2 | 8);
    return (rd(base, REG_STATUS) & 8) != 0;
}

static uint32_t net_setup(void)
{
    if (!negotiate(NET_BASE, 1u << F_CSUM | 1u << F_MAC | 1u << F_HOST_TSO4 | 1u << F_INDIRECT))
        return 0;
    queue(NET_BASE, 0, SMALLQ, rxq.desc, &rxq.avail, &rxq.used); /* no receive buffers: frames wait */
    queue(NET_BASE, 1, TXQ, txq.desc, &txq.avail, &txq.used);
    wr(NET_BASE, REG_STATUS, 1 | 2 | 8 | 4);
    for (int i = 0; i < 6; i++)
        mac[i] = rd8(NET_BASE, REG_CONFIG + (uint32_t)i);
    return rd(NET_BASE, REG_STATUS);
}

static uint32_t rng_setup(void)
{
    if (rd(RNG_BASE, REG_MAGIC) != 0x74726976u || rd(RNG_BASE, REG_DEVICE_ID) != 4 || !negotiate(RNG_BASE, 0))
        return 0;
    queue(RNG_BASE, 0, SMALLQ, rngq.desc, &rngq.avail, &rngq.used);
    wr(RNG_BASE, REG_STATUS, 1 | 2 | 8 | 4);
    return rd(RNG_BASE, REG_STATUS);
}

static uint16_t tx_used(void)
{
    return *(volatile uint16_t *)&txq.used.idx;
}

/* Puts descriptor `head` on the transmit ring (notify: tell the device). */
static void tx_publish(uint16_t head, int notify)
{
    txq.avail.ring[tx_avail % TXQ] = head;
    __asm__ volatile("" ::: "memory");
    tx_avail++;
    *(volatile uint16_t *)&txq.avail.idx = tx_avail;
    __asm__ volatile("" ::: "memory");
    if (notify)
        wr(NET_BASE, REG_QUEUE_NOTIFY, 1);
}

/* Waits, bounded, for every transmit chain to come back. */
static int tx_drain(void)
{
    for (int i = 0; i < WAIT; i++) {
        if (tx_used() == tx_avail)
            return 1;
        if (i % 64 == 63)
            wr(NET_BASE, REG_QUEUE_NOTIFY, 1);
        (void)rd(NET_BASE, REG_STATUS); /* an exit: the VMM's threads run meanwhile */
    }
    return 0;
}

/* A frame: broadcast, from our MAC, ethertype 0x88b5 (the attacks'), then a pattern. */
static void ethernet(uint8_t *p, uint32_t len)
{
    fill(p, 6, 0xff);
    for (int i = 0; i < 6; i++)
        p[6 + i] = mac[i];
    p[12] = 0x88;
    p[13] = 0xb5;
    for (uint32_t i = 14; i < len; i++)
        p[i] = (uint8_t)i;
}

static void header(uint8_t *h, uint8_t flags, uint8_t gso, uint16_t hdr_len, uint16_t gso_size, uint16_t csum_start,
                   uint16_t csum_offset)
{
    h[0] = flags;
    h[1] = gso;
    put16(h + 2, hdr_len);
    put16(h + 4, gso_size);
    put16(h + 6, csum_start);
    put16(h + 8, csum_offset);
    put16(h + 10, 0);
}

/* One chain (header + frame of len bytes in buffer `slot`), sent and waited for. */
static void send_one(const char *name, unsigned slot, uint32_t len, uint16_t extra_flags, int bad)
{
    uint16_t head = (uint16_t)(tx_avail % TXQ);
    txq.desc[head] = (struct desc){(uint32_t)(uintptr_t)frame[slot], 12 + len, extra_flags, 0};
    tx_publish(head, 1);
    int back = tx_drain();
    bad_sent += bad ? 1 : 0;
    if (!name)
        return;
    pvh_puts("NET-ATTACK ");
    pvh_puts(name);
    pvh_puts(back ? " used=1" : " used=0");
    pvh_puts(" status=");
    pvh_put_hex(rd(NET_BASE, REG_STATUS));
    pvh_puts("\n");
}

static void malformed_headers(void)
{
    static const struct {
        const char *name;
        uint8_t flags, gso;
        uint16_t hdr_len, gso_size, csum_start, csum_offset;
        uint32_t len;
    } bad[] = {
        {"runt", 0, 0, 0, 0, 0, 0, 10},
        {"oversized", 0, 0, 0, 0, 0, 0, 1519},
        {"data-valid", 2, 0, 0, 0, 0, 0, 60},
        {"rsc-info", 4, 0, 0, 0, 0, 0, 60},
        {"csum-past-frame", 1, 0, 0, 0, 50, 16, 60},
        {"csum-wraps", 1, 0, 0, 0, 0xffff, 0xffff, 60},
        {"gso-udp-not-negotiated", 1, 3, 42, 1472, 34, 6, 1500},
        {"gso-without-csum", 0, 1, 54, 1448, 34, 16, 1500},
        {"gso-size-zero", 1, 1, 54, 0, 34, 16, 1500},
        {"gso-unknown-type", 1, 2, 54, 1448, 34, 16, 1500},
        {"gso-ecn-not-negotiated", 1, 0x81, 54, 1448, 34, 16, 1500},
        {"hdr-len-past-frame", 0, 0, 200, 0, 0, 0, 60},
    };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        header(frame[i], bad[i].flags, bad[i].gso, bad[i].hdr_len, bad[i].gso_size, bad[i].csum_start,
               bad[i].csum_offset);
        ethernet(frame[i] + 12, bad[i].len);
        send_one(bad[i].name, i, bad[i].len, 0, 1);
    }
    /* 8 bytes: not even a header */
    txq.desc[(tx_avail) % TXQ] = (struct desc){(uint32_t)(uintptr_t)frame[12], 8, 0, 0};
    tx_publish((uint16_t)(tx_avail % TXQ), 1);
    pvh_puts(tx_drain() ? "NET-ATTACK no-header used=1 status=" : "NET-ATTACK no-header used=0 status=");
    pvh_put_hex(rd(NET_BASE, REG_STATUS));
    pvh_puts("\n");
    bad_sent++;
    /* a device-writable buffer on the transmit queue */
    header(frame[13], 0, 0, 0, 0, 0, 0);
    ethernet(frame[13] + 12, 60);
    send_one("writable-buffer", 13, 60, D_WRITE, 1);
}

/* 64 MiB in one chain: an indirect table of 1024 entries naming one 64 KiB
 * buffer, behind a valid header: oversized, dropped without a copy. */
static void huge_chain(void)
{
    header(big_buf, 1, 1, 54, 1448, 34, 16);
    ethernet(big_buf + 12, BIG_BUF - 12);
    for (int i = 0; i < BIG_ENTRIES; i++)
        big_table[i] = (struct desc){(uint32_t)(uintptr_t)big_buf, BIG_BUF,
                                     (uint16_t)(i + 1 < BIG_ENTRIES ? D_NEXT : 0), (uint16_t)(i + 1)};
    uint16_t head = (uint16_t)(tx_avail % TXQ);
    txq.desc[head] = (struct desc){(uint32_t)(uintptr_t)big_table, sizeof(big_table), D_INDIRECT, 0};
    tx_publish(head, 1);
    int back = tx_drain();
    bad_sent++;
    pvh_puts(back ? "NET-ATTACK huge-chain used=1 status=" : "NET-ATTACK huge-chain used=0 status=");
    pvh_put_hex(rd(NET_BASE, REG_STATUS));
    pvh_puts("\n");
}

/* The transmit queue kept full of malformed frames; at RNG_AT, one
 * entropy request to the rng, which must be served while the flood goes on. */
static void flood(void)
{
    header(frame[14], 2, 0, 0, 0, 0, 0); /* DATA_VALID: dropped */
    ethernet(frame[14] + 12, 60);
    for (int i = 0; i < TXQ; i++)
        txq.desc[i] = (struct desc){(uint32_t)(uintptr_t)frame[14], 72, 0, 0};
    uint32_t stalls = 0, served_at = 0;
    for (uint32_t n = 0; n < NET_FLOOD; n++) {
        int spins = 0;
        while ((uint16_t)(tx_avail - tx_used()) >= TXQ && spins++ < WAIT)
            (void)rd(NET_BASE, REG_STATUS);
        if (spins >= WAIT) {
            stalls++;
            break;
        }
        tx_publish((uint16_t)(n % TXQ), n % 32 == 31);
        bad_sent++;
        if (n == RNG_AT) {
            rngq.desc[0] = (struct desc){(uint32_t)(uintptr_t)rng_buf, sizeof(rng_buf), D_WRITE, 0};
            rngq.avail.ring[0] = 0;
            *(volatile uint16_t *)&rngq.avail.idx = 1;
            wr(RNG_BASE, REG_QUEUE_NOTIFY, 0);
        }
        if (!served_at && n > RNG_AT && *(volatile uint16_t *)&rngq.used.idx == 1)
            served_at = n;
    }
    if (!tx_drain())
        stalls++;
    pvh_puts("NET-FLOOD frames=");
    pvh_put_dec(NET_FLOOD);
    pvh_puts(" stalls=");
    pvh_put_dec(stalls);
    pvh_puts(" rng-served-at=");
    pvh_put_dec(served_at);
    pvh_puts(" status=");
    pvh_put_hex(rd(NET_BASE, REG_STATUS));
    pvh_puts("\n");
}

/* "Who has 10.0.0.254? Tell 10.0.0.9", broadcast, padded to 60 bytes. */
static void arp_request(uint8_t *p)
{
    static const uint8_t arp[] = {0x08, 0x06, 0, 1, 0x08, 0x00, 6, 4, 0, 1};
    ethernet(p, 60);
    for (unsigned i = 0; i < sizeof(arp); i++)
        p[12 + i] = arp[i];
    for (int i = 0; i < 6; i++)
        p[22 + i] = mac[i];
    static const uint8_t ips[] = {10, 0, 0, 9, 0, 0, 0, 0, 0, 0, 10, 0, 0, 254};
    for (unsigned i = 0; i < sizeof(ips); i++)
        p[28 + i] = ips[i];
    fill(p + 42, 18, 0);
}

static void valid_frames(void)
{
    header(frame[15], 0, 0, 0, 0, 0, 0);
    arp_request(frame[15] + 12);
    for (int i = 0; i < NET_VALID; i++)
        send_one(0, 15, 60, 0, 0);
    pvh_puts("NET-VALID sent=");
    pvh_put_dec(NET_VALID);
    pvh_puts(" bad=");
    pvh_put_dec(bad_sent);
    pvh_puts(" status=");
    pvh_put_hex(rd(NET_BASE, REG_STATUS));
    pvh_puts("\n");
}

void attack_net(void)
{
    if (rd(NET_BASE, REG_MAGIC) != 0x74726976u || rd(NET_BASE, REG_DEVICE_ID) != 1) {
        pvh_puts("net: no virtio-net at 0xd0000000 (run with --net tap=NAME --rng)\n");
        pvh_exit(3);
    }
    uint32_t status = net_setup();
    pvh_puts("NET-SETUP status=");
    pvh_put_hex(status);
    pvh_puts(" rng=");
    pvh_put_hex(rng_setup());
    pvh_puts("\n");
    if (!(status & 4)) {
        pvh_puts("net: the device did not start\n");
        pvh_exit(3);
    }
    malformed_headers();
    huge_chain();
    flood();
    valid_frames();
}
