/* Guest RAM and the one checked accessor every guest-physical address the
 * VMM dereferences goes through. RAM is at most two slots: [0, low_end) and
 * [4 GiB, 4 GiB + high_size) (the MMIO hole sits between). */
#ifndef PVHBOOT_GUESTMEM_H
#define PVHBOOT_GUESTMEM_H

#include <stddef.h>
#include <stdint.h>

#include "pvhboot/error.h"

#define PVH_MEM_SLOTS 2

struct pvh_mem_slot {
    uint64_t gpa;
    uint64_t size;
    uint8_t *host; /* NULL when the slot is unused */
};

struct pvh_guestmem {
    struct pvh_mem_slot slot[PVH_MEM_SLOTS];
};

/* Maps anonymous, zero-filled, lazily committed RAM for both slots. */
int pvh_guestmem_map(struct pvh_guestmem *mem, uint64_t low_size, uint64_t high_size,
                     struct pvh_error *err);
void pvh_guestmem_unmap(struct pvh_guestmem *mem);

/* Host pointer for [gpa, gpa + len) when that range lies entirely inside one
 * RAM slot (overflow-checked); NULL otherwise. len 0 is refused. */
void *pvh_gpa_ptr(const struct pvh_guestmem *mem, uint64_t gpa, uint64_t len);

/* pvh_guest_write_fn for pvh_bootdata_write: copies through pvh_gpa_ptr. */
int pvh_guestmem_write(void *mem, uint64_t gpa, const void *src, size_t len, struct pvh_error *err);

/* Bytes of guest RAM resident in host memory (touched pages). */
uint64_t pvh_guestmem_resident(const struct pvh_guestmem *mem);

#endif
