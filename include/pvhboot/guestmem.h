/* Guest RAM and the one checked accessor every guest-physical address the
 * VMM dereferences goes through. RAM is at most two slots: [0, low_end) and
 * [4 GiB, 4 GiB + high_size) (the MMIO hole sits between). */
#ifndef PVHBOOT_GUESTMEM_H
#define PVHBOOT_GUESTMEM_H

#include <stddef.h>
#include <stdint.h>

#include "pvhboot/error.h"
#include "pvhboot/file.h"

#define PVH_MEM_SLOTS 2

struct pvh_mem_slot {
    uint64_t gpa;
    uint64_t size;
    uint8_t *host; /* NULL when the slot is unused */
    uint64_t *vmm_dirty; /* pvh_guestmem_track_dirty: a bit per 4 KiB page the VMM may have written; else NULL */
};

struct pvh_guestmem {
    struct pvh_mem_slot slot[PVH_MEM_SLOTS];
};

/* Maps anonymous, zero-filled, lazily committed RAM for both slots. */
int pvh_guestmem_map(struct pvh_guestmem *mem, uint64_t low_size, uint64_t high_size,
                     struct pvh_error *err);
void pvh_guestmem_unmap(struct pvh_guestmem *mem);

/* Host pointer for [gpa, gpa + len) when that range lies entirely inside one
 * RAM slot (overflow-checked); NULL otherwise. len 0 is refused. With dirty
 * tracking on, every page of the range is marked written by the VMM (a
 * pointer handed out may be written through: the conservative answer). */
void *pvh_gpa_ptr(const struct pvh_guestmem *mem, uint64_t gpa, uint64_t len);

/* --snapshot-diff: KVM's dirty log sees the guest's writes only, not the
 * VMM's (virtio used rings, device DMA from the I/O thread). This turns on a
 * VMM-side bitmap per slot that pvh_gpa_ptr (and so pvh_guestmem_write)
 * sets. Snapshots never clear it: a pointer handed out before a snapshot (a
 * virtio ring's view) may be written through after it, so every page the VMM
 * ever got a pointer to is in every diff. */
int pvh_guestmem_track_dirty(struct pvh_guestmem *mem, struct pvh_error *err);
/* Clears the VMM's bitmap: once, when the guest is about to start, so the
 * kernel and boot data the loader wrote (in the full snapshot anyway, and
 * holding no pointer) are not in every diff. Nothing without tracking. */
void pvh_guestmem_clear_dirty(struct pvh_guestmem *mem);
/* Marks [gpa, gpa + len) written by the VMM (the part inside RAM); nothing
 * without tracking. Thread-safe (atomic). */
void pvh_guestmem_mark_dirty(const struct pvh_guestmem *mem, uint64_t gpa, uint64_t len);
/* Whether the VMM marked the page at slot offset off (0 without tracking). */
int pvh_guestmem_vmm_dirty(const struct pvh_mem_slot *s, uint64_t off);

/* pvh_guest_write_fn for pvh_bootdata_write: copies through pvh_gpa_ptr. */
int pvh_guestmem_write(void *mem, uint64_t gpa, const void *src, size_t len, struct pvh_error *err);

/* How pvh_guestmem_load puts file bytes into guest RAM. */
enum pvh_load_mode {
    PVH_LOAD_MAP,  /* whole pages mapped from the file (copy-on-write), the rest copied */
    PVH_LOAD_COPY, /* every byte copied */
};

/* Puts bytes [offset, offset + len) of the open file f (pvh_file_open) at
 * guest-physical gpa. With PVH_LOAD_MAP, when offset and gpa are congruent
 * modulo the page size, the whole pages inside the range are replaced by a
 * private mapping of the file (MAP_FIXED): nothing is read until the guest
 * touches a page, and a guest write copies only that page; the partial first
 * and last pages are copied, so bytes past len stay zero. Other ranges are
 * copied from f->data. The range is checked with pvh_gpa_ptr and against
 * f->size first; what names it in errors ("kernel segment 2"). *mapped (may
 * be NULL) gets the bytes mapped rather than copied. Returns 0 or -1 with err
 * set. Mapped ranges are registered with the SIGBUS guard (mapguard.h) under
 * f->path: a page lost to the file shrinking reads as zeros, never kills the
 * VMM, and pvh_guestmem_check_files names the file. A copy reads f->data,
 * itself guarded: pvh_file_check tells whether the file changed meanwhile. */
int pvh_guestmem_load(struct pvh_guestmem *mem, uint64_t gpa, const struct pvh_file *f, uint64_t offset, uint64_t len,
                      enum pvh_load_mode mode, const char *what, uint64_t *mapped, struct pvh_error *err);

/* Whether a file mapped into guest RAM shrank below what was mapped: touches
 * the last page of each mapped range (the SIGBUS guard puts a zero page there
 * when it is gone) and returns -1 with err "PATH: the file shrank while the VM
 * ran; ..." for the first such file; 0 when none did. For the VMM after
 * KVM_RUN fails with EFAULT (KVM could not fault in a guest page), and after
 * the VMM itself touched guest RAM. */
int pvh_guestmem_check_files(const struct pvh_guestmem *mem, struct pvh_error *err);

/* Bytes of guest RAM present in this process's page tables (pages the guest
 * or the VMM touched, file-mapped ones included), read from pagemap_fd, an
 * open /proc/self/pagemap. Returns 0 when it cannot be read. */
uint64_t pvh_guestmem_resident(const struct pvh_guestmem *mem, int pagemap_fd);

#endif
