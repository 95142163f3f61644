/* Buses: the machine's port-I/O space and its MMIO space, each a sorted table
 * of 64-bit ranges claimed by devices. Registration refuses overlaps; an
 * access goes to the device whose range holds its first byte, under that
 * device's lock; an access nobody claims reads all ones, is dropped when
 * written, and is counted per address (bounded) for --verbose. */
#ifndef PVHBOOT_VMM_BUS_H
#define PVHBOOT_VMM_BUS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pvhboot/error.h"

/* What every device offers the machine. read/write get the offset inside the
 * device's range and a size of 1, 2, 4 (or 8 on MMIO); values are little
 * endian in the low bytes. reset puts the device back to its power-on state
 * (NULL: nothing to do). save/restore are the room snapshots will use. */
struct pvh_dev_ops {
    const char *name;
    uint64_t (*read)(void *dev, uint64_t off, unsigned size);
    void (*write)(void *dev, uint64_t off, uint64_t value, unsigned size);
    void (*reset)(void *dev);
    int (*save)(void *dev, uint8_t *buf, size_t cap, size_t *len, struct pvh_error *err);
    int (*restore)(void *dev, const uint8_t *buf, size_t len, struct pvh_error *err);
};

/* Accesses no device claims: reads all ones, writes ignored, counted. */
#define PVH_UNHANDLED_SLOTS 32
struct pvh_unhandled_entry {
    uint64_t addr; /* port or guest-physical address */
    int mmio;
    uint64_t reads, writes;
};
struct pvh_unhandled {
    struct pvh_unhandled_entry e[PVH_UNHANDLED_SLOTS];
    size_t n;
    uint64_t other; /* accesses to addresses beyond the table */
};
void pvh_unhandled_count(struct pvh_unhandled *u, uint64_t addr, int mmio, int is_write);

struct pvh_bus_range {
    uint64_t base, len;
    const struct pvh_dev_ops *ops;
    void *dev;
    pthread_mutex_t *lock; /* the device's own; NULL: the device locks itself */
};

/* One table of unclaimed accesses for the whole machine, shared by its
 * buses, with its lock. */
struct pvh_unhandled_table {
    pthread_mutex_t lock;
    struct pvh_unhandled t;
};

#define PVH_BUS_MAX_RANGES 32
struct pvh_bus {
    const char *name;     /* "port" or "mmio", for messages */
    int mmio;             /* 1: MMIO (sizes up to 8), 0: port I/O (up to 4) */
    size_t n;
    struct pvh_bus_range r[PVH_BUS_MAX_RANGES]; /* sorted by base */
    struct pvh_unhandled_table *unhandled;
};

void pvh_bus_init(struct pvh_bus *b, const char *name, int mmio, struct pvh_unhandled_table *unhandled);

/* Claims [base, base + len) for dev. Refuses (one line, -1) an empty or
 * wrapping range, an overlap with a claimed one (naming both devices) and a
 * full table. */
int pvh_bus_register(struct pvh_bus *b, uint64_t base, uint64_t len, const struct pvh_dev_ops *ops, void *dev,
                     pthread_mutex_t *lock, struct pvh_error *err);

/* The range holding addr, or NULL. */
const struct pvh_bus_range *pvh_bus_find(const struct pvh_bus *b, uint64_t addr);

/* One access of size bytes at addr: data is little endian, filled on a read.
 * A size the bus does not take (0, 3, over 4/8) reads all ones and is
 * counted as unhandled. Returns true when a device claimed it. */
bool pvh_bus_access(struct pvh_bus *b, uint64_t addr, int is_write, uint8_t *data, unsigned size);

#endif
