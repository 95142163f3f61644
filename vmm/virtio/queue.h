/* Split virtqueues (virtio 1.2, 2.7) walked through guestmem's checked
 * accessor: the descriptor table, the available ring and the used ring are
 * checked once when the driver makes the queue ready (inside RAM, aligned,
 * a power-of-two size); every descriptor's buffer is checked when its chain
 * is popped. A chain that loops, is longer than the bound, names memory
 * outside RAM, nests indirect tables, or an available index that runs ahead
 * of the ring, is an error (one line): the device then needs a reset. The
 * guest may change ring memory at any time: every index and descriptor is
 * read once, and chains are copied out before they are used. */
#ifndef PVHBOOT_VMM_VIRTIO_QUEUE_H
#define PVHBOOT_VMM_VIRTIO_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pvhboot/error.h"
#include "pvhboot/guestmem.h"

#define PVH_VIRTQ_MAX_SIZE 1024   /* the largest QueueNumMax a device offers */
#define PVH_VCHAIN_MAX 1024       /* descriptors in one chain, indirect ones included */

#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_DESC_F_INDIRECT 4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY 1

struct pvh_virtq {
    /* set by the driver through the transport */
    uint16_t size;                 /* QueueNum */
    uint64_t desc_gpa, avail_gpa, used_gpa;
    bool ready;
    /* fixed when made ready (pvh_virtq_start) */
    bool event_idx;                /* VIRTIO_RING_F_EVENT_IDX negotiated */
    bool indirect;                 /* VIRTIO_RING_F_INDIRECT_DESC negotiated */
    const struct pvh_guestmem *mem;
    uint8_t *desc, *avail, *used;  /* host views, checked */
    /* device-side progress */
    uint16_t last_avail;           /* next available entry to take */
    uint16_t used_idx;             /* next used entry to fill */
    uint16_t signalled_used;       /* used_idx when the driver was last interrupted */
    bool signalled_valid;
};

/* One buffer of a chain: host view of [gpa, gpa + len), checked. */
struct pvh_vbuf {
    uint8_t *host;
    uint64_t gpa;
    uint32_t len;
    bool writable;                 /* device-writable (VIRTQ_DESC_F_WRITE) */
};

/* A popped chain: its head (what goes back on the used ring), its buffers
 * in order (driver-readable ones first, as the spec requires), the byte
 * counts of each kind. About 24 KiB: devices allocate one (pvh_vchain_new),
 * uninitialised, rather than embed and zero it. */
struct pvh_vchain {
    uint16_t head;
    uint16_t n;
    uint64_t readable, writable;   /* bytes */
    struct pvh_vbuf buf[PVH_VCHAIN_MAX];
};

/* malloc'd scratch for one chain; NULL when out of memory. free() it. */
struct pvh_vchain *pvh_vchain_new(void);

/* Checks the rings of a queue the driver made ready and fixes its host
 * views; features are the negotiated ones. -1 (err) when the size is not a
 * power of two from 1 to max_size, a ring is misaligned or not in RAM. */
int pvh_virtq_start(struct pvh_virtq *q, const struct pvh_guestmem *mem, uint64_t features, uint16_t max_size,
                    struct pvh_error *err);

/* Back to the reset state (not ready, addresses and indices zero). */
void pvh_virtq_reset(struct pvh_virtq *q);

/* Takes the next available chain: 1 with *c filled, 0 when none is
 * available, -1 (err) when the driver broke the rules. */
int pvh_virtq_pop(struct pvh_virtq *q, struct pvh_vchain *c, struct pvh_error *err);

/* Returns a chain to the driver: used entry (head, written bytes), then the
 * used index (release order). */
void pvh_virtq_push(struct pvh_virtq *q, uint16_t head, uint32_t written);

/* Whether the driver wants an interrupt for what was pushed since the last
 * one (EVENT_IDX's used_event, else the NO_INTERRUPT flag); remembers that
 * it was asked. */
bool pvh_virtq_should_interrupt(struct pvh_virtq *q);

/* Before sleeping: asks the driver to notify when it adds buffers (EVENT_IDX:
 * avail_event = the next index; else clears NO_NOTIFY), then returns true
 * when buffers arrived meanwhile (the caller pops again). */
bool pvh_virtq_arm_notify(struct pvh_virtq *q);

/* Copies up to len bytes out of the chain's readable buffers, from byte
 * offset off of their concatenation; returns the bytes copied. */
size_t pvh_vchain_read(const struct pvh_vchain *c, size_t off, void *dst, size_t len);

/* Copies len bytes into the chain's writable buffers from byte offset off of
 * their concatenation; returns the bytes copied (less when they run out). */
size_t pvh_vchain_write(const struct pvh_vchain *c, size_t off, const void *src, size_t len);

#endif
