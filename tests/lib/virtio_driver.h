/* A minimal virtio driver for tests and fuzzers (header only): it owns a
 * fake guest RAM (pvh_guestmem, anonymous memory), talks to a device through
 * the virtio-mmio registers (pvh_virtio_mmio_ops under the device's lock,
 * as the MMIO bus does) and builds split virtqueues and descriptor chains
 * in that RAM the way Linux's driver does, with room to break every rule. */
#ifndef PVHBOOT_TESTS_VIRTIO_DRIVER_H
#define PVHBOOT_TESTS_VIRTIO_DRIVER_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "../../vmm/virtio/virtio.h"
#include "pvhboot/bytes.h"
#include "pvhboot/guestmem.h"

#define VD_RAM (4u << 20)        /* 4 MiB of fake guest RAM at gpa 0 */
#define VD_HEAP_START 0x100000u  /* rings and buffers are allocated from here */

struct vdriver {
    struct pvh_guestmem mem;
    struct pvh_virtio_dev *d;
    uint64_t heap;
    uint16_t size[PVH_VIRTIO_MAX_QUEUES];
    uint64_t desc[PVH_VIRTIO_MAX_QUEUES], avail[PVH_VIRTIO_MAX_QUEUES], used[PVH_VIRTIO_MAX_QUEUES];
    uint16_t next_desc[PVH_VIRTIO_MAX_QUEUES];  /* descriptors handed out round-robin */
    uint16_t avail_idx[PVH_VIRTIO_MAX_QUEUES];
    uint16_t used_seen[PVH_VIRTIO_MAX_QUEUES];
    unsigned interrupts;
};

/* One buffer of a chain to build: len bytes at gpa (0: allocated here). */
struct vd_buf {
    uint64_t gpa;
    uint32_t len;
    bool writable;
};

static inline void vd_interrupt(void *ctx, uint32_t gsi)
{
    (void)gsi;
    ((struct vdriver *)ctx)->interrupts++;
}

static inline int vd_ram_init(struct vdriver *v)
{
    struct pvh_error err;
    memset(v, 0, sizeof(*v));
    v->heap = VD_HEAP_START;
    return pvh_guestmem_map(&v->mem, VD_RAM, 0, &err);
}

static inline struct pvh_virtio_env vd_env(struct vdriver *v)
{
    return (struct pvh_virtio_env){.ctx = v, .mem = &v->mem, .interrupt = vd_interrupt};
}

static inline uint8_t *vd_ptr(struct vdriver *v, uint64_t gpa, uint64_t len)
{
    return pvh_gpa_ptr(&v->mem, gpa, len);
}

static inline uint64_t vd_alloc(struct vdriver *v, uint64_t len, uint64_t align)
{
    v->heap = (v->heap + align - 1) & ~(align - 1);
    uint64_t gpa = v->heap;
    v->heap += len;
    return v->heap <= VD_RAM ? gpa : 0;
}

static inline uint32_t vd_read(struct vdriver *v, uint64_t off, unsigned size)
{
    pthread_mutex_lock(&v->d->lock);
    uint32_t r = (uint32_t)pvh_virtio_mmio_ops.read(v->d, off, size);
    pthread_mutex_unlock(&v->d->lock);
    return r;
}

static inline void vd_write(struct vdriver *v, uint64_t off, uint32_t value, unsigned size)
{
    pthread_mutex_lock(&v->d->lock);
    pvh_virtio_mmio_ops.write(v->d, off, value, size);
    pthread_mutex_unlock(&v->d->lock);
}

static inline uint32_t vd_read32(struct vdriver *v, uint64_t off) { return vd_read(v, off, 4); }
static inline void vd_write32(struct vdriver *v, uint64_t off, uint32_t value) { vd_write(v, off, value, 4); }

static inline uint64_t vd_device_features(struct vdriver *v)
{
    vd_write32(v, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
    uint64_t lo = vd_read32(v, VIRTIO_MMIO_DEVICE_FEATURES);
    vd_write32(v, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
    return lo | (uint64_t)vd_read32(v, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
}

/* ACKNOWLEDGE, DRIVER, the features, FEATURES_OK; returns whether it stuck. */
static inline bool vd_negotiate(struct vdriver *v, uint64_t features)
{
    vd_write32(v, VIRTIO_MMIO_STATUS, 0);
    vd_write32(v, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
    vd_write32(v, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    vd_write32(v, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
    vd_write32(v, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)features);
    vd_write32(v, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
    vd_write32(v, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(features >> 32));
    vd_write32(v, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
    return vd_read32(v, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK;
}

/* Rings for queue q of `size` entries, allocated and handed to the device;
 * returns the QueueReady value read back. */
static inline uint32_t vd_setup_queue(struct vdriver *v, unsigned q, uint16_t size)
{
    v->size[q] = size;
    v->desc[q] = vd_alloc(v, 16ull * size, 16);
    v->avail[q] = vd_alloc(v, 6ull + 2ull * size, 2);
    v->used[q] = vd_alloc(v, 6ull + 8ull * size, 4);
    v->next_desc[q] = v->avail_idx[q] = v->used_seen[q] = 0;
    vd_write32(v, VIRTIO_MMIO_QUEUE_SEL, q);
    vd_write32(v, VIRTIO_MMIO_QUEUE_NUM, size);
    vd_write32(v, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)v->desc[q]);
    vd_write32(v, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(v->desc[q] >> 32));
    vd_write32(v, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)v->avail[q]);
    vd_write32(v, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, (uint32_t)(v->avail[q] >> 32));
    vd_write32(v, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)v->used[q]);
    vd_write32(v, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, (uint32_t)(v->used[q] >> 32));
    vd_write32(v, VIRTIO_MMIO_QUEUE_READY, 1);
    return vd_read32(v, VIRTIO_MMIO_QUEUE_READY);
}

/* The whole initialisation: features, every queue (its QueueNumMax, capped
 * at size_cap when non-zero), DRIVER_OK. Returns whether the device runs. */
static inline bool vd_start(struct vdriver *v, uint64_t features, uint16_t size_cap)
{
    if (!vd_negotiate(v, features))
        return false;
    for (unsigned q = 0; q < v->d->ops->nqueues; q++) {
        vd_write32(v, VIRTIO_MMIO_QUEUE_SEL, q);
        uint32_t max = vd_read32(v, VIRTIO_MMIO_QUEUE_NUM_MAX);
        uint16_t size = (uint16_t)(size_cap && size_cap < max ? size_cap : max);
        if (!vd_setup_queue(v, q, size))
            return false;
    }
    vd_write32(v, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                                          VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
    return (vd_read32(v, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DRIVER_OK) != 0;
}

static inline void vd_put_desc(struct vdriver *v, uint64_t table, uint16_t i, uint64_t addr, uint32_t len,
                               uint16_t flags, uint16_t next)
{
    uint8_t *p = vd_ptr(v, table + 16ull * i, 16);
    pvh_put_le64(p, addr);
    pvh_put_le32(p + 8, len);
    pvh_put_le16(p + 12, flags);
    pvh_put_le16(p + 14, next);
}

/* Publishes descriptor `head` on the available ring of q. */
static inline void vd_publish(struct vdriver *v, unsigned q, uint16_t head)
{
    uint8_t *avail = vd_ptr(v, v->avail[q], 6ull + 2ull * v->size[q]);
    pvh_put_le16(avail + 4 + 2 * (v->avail_idx[q] % v->size[q]), head);
    v->avail_idx[q]++;
    __atomic_store_n((uint16_t *)(void *)(avail + 2), v->avail_idx[q], __ATOMIC_RELEASE);
}

/* A chain of n buffers (allocated where gpa is 0) in fresh descriptors;
 * returns its head. */
static inline uint16_t vd_add_chain(struct vdriver *v, unsigned q, struct vd_buf *bufs, unsigned n)
{
    uint16_t head = v->next_desc[q], i = head;
    for (unsigned k = 0; k < n; k++) {
        if (!bufs[k].gpa)
            bufs[k].gpa = vd_alloc(v, bufs[k].len ? bufs[k].len : 1, 8);
        uint16_t next = (uint16_t)((i + 1) % v->size[q]);
        uint16_t flags = (uint16_t)((bufs[k].writable ? VIRTQ_DESC_F_WRITE : 0) | (k + 1 < n ? VIRTQ_DESC_F_NEXT : 0));
        vd_put_desc(v, v->desc[q], i, bufs[k].gpa, bufs[k].len, flags, next);
        i = next;
    }
    v->next_desc[q] = i;
    vd_publish(v, q, head);
    return head;
}

/* The same chain behind one indirect descriptor. */
static inline uint16_t vd_add_indirect(struct vdriver *v, unsigned q, struct vd_buf *bufs, unsigned n)
{
    uint64_t table = vd_alloc(v, 16ull * n, 16);
    for (unsigned k = 0; k < n; k++) {
        if (!bufs[k].gpa)
            bufs[k].gpa = vd_alloc(v, bufs[k].len ? bufs[k].len : 1, 8);
        uint16_t flags = (uint16_t)((bufs[k].writable ? VIRTQ_DESC_F_WRITE : 0) | (k + 1 < n ? VIRTQ_DESC_F_NEXT : 0));
        vd_put_desc(v, table, (uint16_t)k, bufs[k].gpa, bufs[k].len, flags, (uint16_t)(k + 1));
    }
    uint16_t head = v->next_desc[q];
    vd_put_desc(v, v->desc[q], head, table, 16 * n, VIRTQ_DESC_F_INDIRECT, 0);
    v->next_desc[q] = (uint16_t)((head + 1) % v->size[q]);
    vd_publish(v, q, head);
    return head;
}

static inline void vd_kick(struct vdriver *v, unsigned q)
{
    vd_write32(v, VIRTIO_MMIO_QUEUE_NOTIFY, q);
}

/* The next used entry of q not yet seen: 1 with id and len, 0 when none. */
static inline int vd_get_used(struct vdriver *v, unsigned q, uint32_t *id, uint32_t *len)
{
    uint8_t *used = vd_ptr(v, v->used[q], 6ull + 8ull * v->size[q]);
    uint16_t idx = __atomic_load_n((uint16_t *)(void *)(used + 2), __ATOMIC_ACQUIRE);
    if (idx == v->used_seen[q])
        return 0;
    uint8_t *e = used + 4 + 8 * (v->used_seen[q] % v->size[q]);
    *id = pvh_le32(e);
    *len = pvh_le32(e + 4);
    v->used_seen[q]++;
    return 1;
}

#endif
