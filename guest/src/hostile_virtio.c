/* The hostile guest's attacks on virtio-mmio devices (attack=virtio): every
 * rule of the transport and of split virtqueues broken in turn against the
 * device in slot 0 (0xD0000000: pvhboot's layout, e.g. --rng), each followed
 * by a look at the device status ("VIRTIO-ATTACK NAME status=0x..": the
 * VMM must set DEVICE_NEEDS_RESET, 0x40, or ignore the write) and a reset;
 * then register garbage of every size at every offset and a notification
 * flood; at last a well-formed request, which must still be served
 * ("VIRTIO-OK used=1 len=N"). The guest runs with paging off, interrupts
 * off: it polls the used ring and the status, each poll bounded. */
#include "pvh_guest.h"

#define MMIO_BASE 0xd0000000u
#define NO_RAM 0xf0000000u
#define QSIZE 16
#define NEEDS_RESET 0x40
#define DESC_NEXT 1
#define DESC_WRITE 2
#define DESC_INDIRECT 4
#define BIG_TABLE 2048 /* entries: over the VMM's bound on a chain */

enum {
    REG_MAGIC = 0x000, REG_DEVICE_ID = 0x008, REG_DEV_FEAT = 0x010, REG_DEV_FEAT_SEL = 0x014,
    REG_DRV_FEAT = 0x020, REG_DRV_FEAT_SEL = 0x024, REG_QUEUE_SEL = 0x030, REG_QUEUE_NUM_MAX = 0x034,
    REG_QUEUE_NUM = 0x038, REG_QUEUE_READY = 0x044, REG_QUEUE_NOTIFY = 0x050, REG_ISR = 0x060,
    REG_ISR_ACK = 0x064, REG_STATUS = 0x070, REG_DESC_LO = 0x080, REG_DESC_HI = 0x084, REG_AVAIL_LO = 0x090,
    REG_AVAIL_HI = 0x094, REG_USED_LO = 0x0a0, REG_USED_HI = 0x0a4,
};

struct desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags, next;
};

struct ring {
    struct desc desc[QSIZE] __attribute__((aligned(16)));
    struct {
        uint16_t flags, idx, ring[QSIZE], used_event;
    } avail __attribute__((aligned(2)));
    struct {
        uint16_t flags, idx;
        struct { uint32_t id, len; } ring[QSIZE];
        uint16_t avail_event;
    } used __attribute__((aligned(4)));
};

static struct ring q __attribute__((aligned(4096)));
static struct desc big_table[BIG_TABLE] __attribute__((aligned(16)));
static uint8_t buf[256] __attribute__((aligned(16)));

static void wr(uint32_t off, uint32_t v, unsigned size)
{
    volatile void *p = (volatile void *)(uintptr_t)(MMIO_BASE + off);
    if (size == 1)
        *(volatile uint8_t *)p = (uint8_t)v;
    else if (size == 2)
        *(volatile uint16_t *)p = (uint16_t)v;
    else
        *(volatile uint32_t *)p = v;
}

static uint32_t rd(uint32_t off)
{
    return *(volatile uint32_t *)(uintptr_t)(MMIO_BASE + off);
}

static void zero(void *p, uint32_t n)
{
    volatile uint8_t *b = p;
    while (n--)
        *b++ = 0;
}

/* Reset, negotiate VERSION_1 (+ INDIRECT_DESC), queue 0 on our ring;
 * returns the status read back. */
static uint32_t setup(uint32_t desc_addr, uint32_t num)
{
    wr(REG_STATUS, 0, 4);
    zero(&q, sizeof(q));
    wr(REG_STATUS, 1 | 2, 4);
    wr(REG_DRV_FEAT_SEL, 0, 4);
    wr(REG_DRV_FEAT, 1u << 28, 4);
    wr(REG_DRV_FEAT_SEL, 1, 4);
    wr(REG_DRV_FEAT, 1, 4); /* VERSION_1 */
    wr(REG_STATUS, 1 | 2 | 8, 4);
    wr(REG_QUEUE_SEL, 0, 4);
    wr(REG_QUEUE_NUM, num, 4);
    wr(REG_DESC_LO, desc_addr, 4);
    wr(REG_DESC_HI, 0, 4);
    wr(REG_AVAIL_LO, (uint32_t)(uintptr_t)&q.avail, 4);
    wr(REG_AVAIL_HI, 0, 4);
    wr(REG_USED_LO, (uint32_t)(uintptr_t)&q.used, 4);
    wr(REG_USED_HI, 0, 4);
    wr(REG_QUEUE_READY, 1, 4);
    wr(REG_STATUS, 1 | 2 | 8 | 4, 4);
    return rd(REG_STATUS);
}

static void publish(uint16_t head)
{
    q.avail.ring[q.avail.idx % QSIZE] = head;
    __asm__ volatile("" ::: "memory");
    q.avail.idx++;
    __asm__ volatile("" ::: "memory");
    wr(REG_QUEUE_NOTIFY, 0, 4);
}

/* The device's work is asynchronous (the VMM's I/O thread): wait, bounded,
 * for the used index to move or NEEDS_RESET to show. */
static uint32_t settle(void)
{
    uint32_t status = 0;
    for (int i = 0; i < 2000; i++) {
        status = rd(REG_STATUS);
        if ((status & NEEDS_RESET) || *(volatile uint16_t *)&q.used.idx)
            break;
    }
    return status;
}

static void report(const char *name, uint32_t status)
{
    pvh_puts("VIRTIO-ATTACK ");
    pvh_puts(name);
    pvh_puts(" status=");
    pvh_put_hex(status);
    pvh_puts(" used=");
    pvh_put_dec(*(volatile uint16_t *)&q.used.idx);
    pvh_puts("\n");
}

static void chain_loop(void)
{
    q.desc[0] = (struct desc){(uint32_t)(uintptr_t)buf, 16, DESC_NEXT | DESC_WRITE, 1};
    q.desc[1] = (struct desc){(uint32_t)(uintptr_t)buf, 16, DESC_NEXT | DESC_WRITE, 0};
    publish(0);
}

static void buffer_outside_ram(void)
{
    q.desc[0] = (struct desc){NO_RAM, 4096, DESC_WRITE, 0};
    publish(0);
}

static void buffer_across_4g(void)
{
    q.desc[0] = (struct desc){0xfffff000u, 0x2000, DESC_WRITE, 0};
    publish(0);
}

static void huge_length(void)
{
    q.desc[0] = (struct desc){(uint32_t)(uintptr_t)buf, 0xffffffffu, DESC_WRITE, 0};
    publish(0);
}

static void head_out_of_range(void)
{
    publish(0xffff);
}

static void next_out_of_range(void)
{
    q.desc[0] = (struct desc){(uint32_t)(uintptr_t)buf, 16, DESC_NEXT | DESC_WRITE, 999};
    publish(0);
}

static void avail_far_ahead(void)
{
    q.desc[0] = (struct desc){(uint32_t)(uintptr_t)buf, 16, DESC_WRITE, 0};
    q.avail.ring[0] = 0;
    q.avail.idx = 1000;
    wr(REG_QUEUE_NOTIFY, 0, 4);
}

static void indirect_too_big(void)
{
    for (int i = 0; i < BIG_TABLE; i++)
        big_table[i] = (struct desc){(uint32_t)(uintptr_t)buf, 1, DESC_NEXT | DESC_WRITE, (uint16_t)(i + 1)};
    big_table[BIG_TABLE - 1].flags = DESC_WRITE;
    q.desc[0] = (struct desc){(uint32_t)(uintptr_t)big_table, sizeof(big_table), DESC_INDIRECT, 0};
    publish(0);
}

static void indirect_nested(void)
{
    big_table[0] = (struct desc){(uint32_t)(uintptr_t)&big_table[1], 16, DESC_INDIRECT, 0};
    big_table[1] = (struct desc){(uint32_t)(uintptr_t)buf, 16, DESC_WRITE, 0};
    q.desc[0] = (struct desc){(uint32_t)(uintptr_t)big_table, 16, DESC_INDIRECT, 0};
    publish(0);
}

static void indirect_loop(void)
{
    big_table[0] = (struct desc){(uint32_t)(uintptr_t)buf, 16, DESC_NEXT | DESC_WRITE, 1};
    big_table[1] = (struct desc){(uint32_t)(uintptr_t)buf, 16, DESC_NEXT | DESC_WRITE, 0};
    q.desc[0] = (struct desc){(uint32_t)(uintptr_t)big_table, 32, DESC_INDIRECT, 0};
    publish(0);
}

static void read_only_buffer(void)
{
    q.desc[0] = (struct desc){(uint32_t)(uintptr_t)buf, 16, 0, 0}; /* the device may only read it */
    publish(0);
}

static const struct {
    const char *name;
    void (*run)(void);
} chain_attacks[] = {
    {"desc-loop", chain_loop},
    {"buffer-outside-ram", buffer_outside_ram},
    {"buffer-across-4g", buffer_across_4g},
    {"huge-length", huge_length},
    {"head-out-of-range", head_out_of_range},
    {"next-out-of-range", next_out_of_range},
    {"avail-far-ahead", avail_far_ahead},
    {"indirect-too-big", indirect_too_big},
    {"indirect-nested", indirect_nested},
    {"indirect-loop", indirect_loop},
    {"read-only-buffer", read_only_buffer},
};

/* Queue setups the device must refuse when the queue is made ready. */
static void bad_setups(void)
{
    report("queue-size-6", setup((uint32_t)(uintptr_t)q.desc, 6));
    report("queue-size-over-max", setup((uint32_t)(uintptr_t)q.desc, 65536));
    report("ring-outside-ram", setup(NO_RAM, QSIZE));
    report("ring-misaligned", setup((uint32_t)(uintptr_t)q.desc + 8, QSIZE));
    /* legacy driver: no VERSION_1, FEATURES_OK must not stick */
    wr(REG_STATUS, 0, 4);
    wr(REG_STATUS, 1 | 2, 4);
    wr(REG_DRV_FEAT_SEL, 1, 4);
    wr(REG_DRV_FEAT, 0, 4);
    wr(REG_STATUS, 1 | 2 | 8, 4);
    report("no-version-1", rd(REG_STATUS));
}

/* Every offset of the window, every size, values that mean nothing. */
static void register_garbage(void)
{
    uint32_t v = 0x9e3779b9u;
    for (uint32_t off = 0; off < 0x1000; off++) {
        if (off == REG_QUEUE_NOTIFY)
            continue;
        for (unsigned size = 1; size <= 4; size *= 2) {
            v = v * 1103515245u + 12345u;
            if (off % size == 0 || size == 1)
                wr(off, v, size);
        }
        (void)rd(off & ~3u);
    }
    report("register-garbage", rd(REG_STATUS));
}

static void notify_flood(void)
{
    setup((uint32_t)(uintptr_t)q.desc, QSIZE);
    for (int i = 0; i < 100000; i++)
        wr(REG_QUEUE_NOTIFY, (uint32_t)i & 0xffff, 4);
    report("notify-flood", rd(REG_STATUS));
}

/* After all that, one proper request: a 64-byte device-writable buffer. */
static void proper_request(void)
{
    uint32_t status = setup((uint32_t)(uintptr_t)q.desc, QSIZE);
    q.desc[0] = (struct desc){(uint32_t)(uintptr_t)buf, 64, DESC_WRITE, 0};
    publish(0);
    status = settle();
    pvh_puts("VIRTIO-OK status=");
    pvh_put_hex(status);
    pvh_puts(" used=");
    pvh_put_dec(q.used.idx);
    pvh_puts(" len=");
    pvh_put_dec(q.used.ring[0].len);
    pvh_puts("\n");
}

void attack_virtio(void)
{
    if (rd(REG_MAGIC) != 0x74726976u || rd(REG_DEVICE_ID) == 0) {
        pvh_puts("virtio: no device at 0xd0000000 (run with --rng)\n");
        pvh_exit(3);
    }
    for (unsigned i = 0; i < sizeof(chain_attacks) / sizeof(chain_attacks[0]); i++) {
        setup((uint32_t)(uintptr_t)q.desc, QSIZE);
        chain_attacks[i].run();
        report(chain_attacks[i].name, settle());
    }
    bad_setups();
    register_garbage();
    notify_flood();
    proper_request();
}
