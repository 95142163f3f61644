/* Split virtqueue walking (vmm/virtio/queue.h): ring checks at start, chain
 * walks with loop, length, indirect and RAM bounds, used-ring publication
 * with release ordering, and the two notification-suppression schemes
 * (EVENT_IDX indices, or the NO_INTERRUPT flag). */
#include "queue.h"

#include <stdlib.h>
#include <string.h>

#include "pvhboot/bytes.h"
#include "virtio_defs.h"

#define DESC_SIZE 16
#define RING_HEADER 4 /* flags, idx */

static uint16_t load16(const uint8_t *p)
{
    return __atomic_load_n((const uint16_t *)(const void *)p, __ATOMIC_ACQUIRE);
}

static void store16(uint8_t *p, uint16_t v)
{
    __atomic_store_n((uint16_t *)(void *)p, v, __ATOMIC_RELEASE);
}

static uint64_t avail_bytes(uint16_t size) { return RING_HEADER + 2ull * size + 2; }
static uint64_t used_bytes(uint16_t size) { return RING_HEADER + 8ull * size + 2; }

static uint8_t *ring_view(const struct pvh_guestmem *mem, uint64_t gpa, uint64_t len, uint64_t align,
                          const char *what, struct pvh_error *err)
{
    if (gpa % align) {
        pvh_fail(err, PVH_E_GUEST, "the %s at %#llx is not %llu-byte aligned", what, (unsigned long long)gpa,
                 (unsigned long long)align);
        return NULL;
    }
    uint8_t *p = pvh_gpa_ptr(mem, gpa, len);
    if (!p)
        pvh_fail(err, PVH_E_GUEST, "the %s [%#llx, +%#llx) is not in guest RAM", what, (unsigned long long)gpa,
                 (unsigned long long)len);
    return p;
}

int pvh_virtq_start(struct pvh_virtq *q, const struct pvh_guestmem *mem, uint64_t features, uint16_t max_size,
                    struct pvh_error *err)
{
    if (q->size == 0 || q->size > max_size || (q->size & (q->size - 1)))
        return pvh_fail(err, PVH_E_GUEST, "queue size %u is not a power of two from 1 to %u", q->size, max_size);
    q->mem = mem;
    q->desc = ring_view(mem, q->desc_gpa, (uint64_t)DESC_SIZE * q->size, 16, "descriptor table", err);
    q->avail = q->desc ? ring_view(mem, q->avail_gpa, avail_bytes(q->size), 2, "available ring", err) : NULL;
    q->used = q->avail ? ring_view(mem, q->used_gpa, used_bytes(q->size), 4, "used ring", err) : NULL;
    if (!q->used)
        return -1;
    q->event_idx = features & VIRTIO_RING_F_EVENT_IDX_BIT;
    q->indirect = features & VIRTIO_RING_F_INDIRECT_DESC_BIT;
    q->last_avail = q->used_idx = q->signalled_used = 0;
    q->signalled_valid = false;
    return 0;
}

struct pvh_vchain *pvh_vchain_new(void)
{
    return malloc(sizeof(struct pvh_vchain));
}

void pvh_virtq_reset(struct pvh_virtq *q)
{
    memset(q, 0, sizeof(*q));
}

struct desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags, next;
};

static struct desc read_desc(const uint8_t *table, uint16_t i)
{
    uint8_t raw[DESC_SIZE];
    memcpy(raw, table + (size_t)i * DESC_SIZE, DESC_SIZE); /* read once */
    return (struct desc){pvh_le64(raw), pvh_le32(raw + 8), pvh_le16(raw + 12), pvh_le16(raw + 14)};
}

/* Where the walk is: the table it reads (the ring's or an indirect one). */
struct walk {
    const uint8_t *table;
    uint32_t table_size;
    uint32_t visited; /* descriptors read from this table: more than its size means a loop */
    bool indirect;
};

static int enter_indirect(const struct pvh_virtq *q, struct walk *w, const struct desc *d, struct pvh_error *err)
{
    if (!q->indirect)
        return pvh_fail(err, PVH_E_GUEST, "an indirect descriptor, but VIRTIO_RING_F_INDIRECT_DESC was not negotiated");
    if (w->indirect)
        return pvh_fail(err, PVH_E_GUEST, "an indirect table inside an indirect table");
    if (d->flags & VIRTQ_DESC_F_NEXT)
        return pvh_fail(err, PVH_E_GUEST, "an indirect descriptor with NEXT set");
    if (d->len == 0 || d->len % DESC_SIZE || d->len / DESC_SIZE > PVH_VCHAIN_MAX)
        return pvh_fail(err, PVH_E_GUEST, "an indirect table of %u bytes (a multiple of 16, at most %u entries)",
                        d->len, PVH_VCHAIN_MAX);
    const uint8_t *t = pvh_gpa_ptr(q->mem, d->addr, d->len);
    if (!t)
        return pvh_fail(err, PVH_E_GUEST, "an indirect table [%#llx, +%#x) outside guest RAM",
                        (unsigned long long)d->addr, d->len);
    *w = (struct walk){t, d->len / DESC_SIZE, 0, true};
    return 0;
}

static int add_buffer(const struct pvh_virtq *q, struct pvh_vchain *c, const struct desc *d, struct pvh_error *err)
{
    bool writable = d->flags & VIRTQ_DESC_F_WRITE;
    if (!writable && c->writable)
        return pvh_fail(err, PVH_E_GUEST, "a device-readable buffer after a device-writable one");
    if (d->len == 0)
        return 0;
    if (c->n == PVH_VCHAIN_MAX)
        return pvh_fail(err, PVH_E_GUEST, "a chain of more than %u buffers", PVH_VCHAIN_MAX);
    uint8_t *host = pvh_gpa_ptr(q->mem, d->addr, d->len);
    if (!host)
        return pvh_fail(err, PVH_E_GUEST, "a buffer [%#llx, +%#x) outside guest RAM", (unsigned long long)d->addr,
                        d->len);
    c->buf[c->n++] = (struct pvh_vbuf){host, d->addr, d->len, writable};
    *(writable ? &c->writable : &c->readable) += d->len;
    return 0;
}

static int walk_chain(const struct pvh_virtq *q, uint16_t head, struct pvh_vchain *c, struct pvh_error *err)
{
    struct walk w = {q->desc, q->size, 0, false};
    uint32_t i = head;
    c->head = head; /* the buffer array is scratch: only what is filled is read */
    c->n = 0;
    c->readable = c->writable = 0;
    for (;;) {
        if (i >= w.table_size)
            return pvh_fail(err, PVH_E_GUEST, "descriptor %u is past the %s of %u entries", i,
                            w.indirect ? "indirect table" : "queue", w.table_size);
        if (++w.visited > w.table_size)
            return pvh_fail(err, PVH_E_GUEST, "the chain from descriptor %u loops", head);
        struct desc d = read_desc(w.table, (uint16_t)i);
        if (d.flags & VIRTQ_DESC_F_INDIRECT) {
            if (enter_indirect(q, &w, &d, err))
                return -1;
            i = 0;
            continue;
        }
        if (add_buffer(q, c, &d, err))
            return -1;
        if (!(d.flags & VIRTQ_DESC_F_NEXT))
            return 0;
        i = d.next;
    }
}

int pvh_virtq_pop(struct pvh_virtq *q, struct pvh_vchain *c, struct pvh_error *err)
{
    uint16_t avail_idx = load16(q->avail + 2);
    uint16_t pending = (uint16_t)(avail_idx - q->last_avail);
    if (pending == 0)
        return 0;
    if (pending > q->size)
        return pvh_fail(err, PVH_E_GUEST, "the available index %u is %u entries ahead of %u in a queue of %u",
                        avail_idx, pending, q->last_avail, q->size);
    uint16_t head = load16(q->avail + RING_HEADER + 2 * (q->last_avail % q->size));
    if (walk_chain(q, head, c, err))
        return -1;
    q->last_avail++;
    return 1;
}

void pvh_virtq_push(struct pvh_virtq *q, uint16_t head, uint32_t written)
{
    uint8_t *e = q->used + RING_HEADER + 8 * (size_t)(q->used_idx % q->size);
    pvh_put_le32(e, head);
    pvh_put_le32(e + 4, written);
    q->used_idx++;
    store16(q->used + 2, q->used_idx); /* release: the entry is visible first */
}

bool pvh_virtq_should_interrupt(struct pvh_virtq *q)
{
    __atomic_thread_fence(__ATOMIC_SEQ_CST); /* the used index is out before the driver's flags are read */
    if (!q->event_idx)
        return !(load16(q->avail) & VIRTQ_AVAIL_F_NO_INTERRUPT);
    uint16_t used_event = load16(q->avail + RING_HEADER + 2 * (size_t)q->size);
    uint16_t old = q->signalled_used, now = q->used_idx;
    bool valid = q->signalled_valid;
    q->signalled_used = now;
    q->signalled_valid = true;
    if (!valid)
        return true;
    return (uint16_t)(now - used_event - 1) < (uint16_t)(now - old);
}

bool pvh_virtq_arm_notify(struct pvh_virtq *q)
{
    if (q->event_idx)
        store16(q->used + RING_HEADER + 8 * (size_t)q->size, q->last_avail);
    else
        store16(q->used, 0); /* VIRTQ_USED_F_NO_NOTIFY clear */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    return load16(q->avail + 2) != q->last_avail;
}

size_t pvh_vchain_read(const struct pvh_vchain *c, size_t off, void *dst, size_t len)
{
    size_t done = 0;
    for (uint16_t i = 0; i < c->n && done < len && !c->buf[i].writable; i++) {
        const struct pvh_vbuf *b = &c->buf[i];
        if (off >= b->len) {
            off -= b->len;
            continue;
        }
        size_t n = b->len - off < len - done ? b->len - off : len - done;
        memcpy((uint8_t *)dst + done, b->host + off, n);
        done += n;
        off = 0;
    }
    return done;
}

size_t pvh_vchain_write(const struct pvh_vchain *c, size_t off, const void *src, size_t len)
{
    size_t done = 0;
    for (uint16_t i = 0; i < c->n && done < len; i++) {
        const struct pvh_vbuf *b = &c->buf[i];
        if (!b->writable)
            continue;
        if (off >= b->len) {
            off -= b->len;
            continue;
        }
        size_t n = b->len - off < len - done ? b->len - off : len - done;
        memcpy(b->host + off, (const uint8_t *)src + done, n);
        done += n;
        off = 0;
    }
    return done;
}
