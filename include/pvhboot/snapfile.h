/* The snapshot state file: a versioned, checksummed container of tagged
 * sections (each vCPU's registers, the VM's interrupt controllers and clock,
 * each device's state, guest memory's layout). Writing builds the file in a
 * growable buffer; reading validates a whole file held in memory (magic,
 * version, length, checksum, every section inside the file, no duplicate
 * (tag, index)) before anything may look at a section, so a corrupt,
 * truncated or hostile file is one error, never a read out of bounds. The
 * library only frames bytes: what a section holds is its owner's business,
 * and its owner checks a section's length before reading it.
 *
 * Layout (little endian): header {magic "PVHSNAP\0", u32 version, u32
 * sections, u64 file length}; sections, each {u32 tag, u32 index, u64 length,
 * bytes, zero padding to 8}; trailer {u32 CRC-32 (zlib) of everything before
 * it, u32 zero}. */
#ifndef PVHBOOT_SNAPFILE_H
#define PVHBOOT_SNAPFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pvhboot/error.h"

#define PVH_SNAP_VERSION 1
#define PVH_SNAP_MAX_SECTIONS 4096
#define PVH_SNAP_MAX_FILE (64u << 20) /* state only; guest memory is its own file */

/* Section tags: one per kind of state; index tells instances apart (vCPU
 * number, device slot). */
enum pvh_snap_tag {
    PVH_SNAP_MACHINE = 1, /* the machine: vCPU count, memory size and layout, CPUID digest */
    PVH_SNAP_CPUID,       /* the CPUID table the vCPUs ran with */
    PVH_SNAP_VCPU,        /* one vCPU's KVM state */
    PVH_SNAP_VM,          /* PIC, I/O APIC, PIT, kvmclock */
    PVH_SNAP_DEVICE,      /* one bus device's save() bytes, index = its registration order */
    PVH_SNAP_MEMORY,      /* guest memory's slots and their offsets in the memory file */
    PVH_SNAP_CHAIN,       /* --snapshot-diff: the chain id and generation of this snapshot (pvhboot/snapmem.h) */
    PVH_SNAP_VIRTIO,      /* the virtio devices' configuration (vmm/virtio/devconfig.h) */
};

struct pvh_snap_writer {
    uint8_t *buf;
    size_t len, cap;
    uint32_t sections;
    bool finished; /* pvh_snap_finish has written the trailer: no more sections */
};

/* Starts an empty file. pvh_snap_writer_free releases it (also after errors). */
int pvh_snap_writer_init(struct pvh_snap_writer *w, struct pvh_error *err);
void pvh_snap_writer_free(struct pvh_snap_writer *w);

/* Appends one section. Refuses a duplicate (tag, index), more than
 * PVH_SNAP_MAX_SECTIONS sections or a file past PVH_SNAP_MAX_FILE. */
int pvh_snap_put(struct pvh_snap_writer *w, uint32_t tag, uint32_t index, const void *data, size_t len,
                 struct pvh_error *err);

/* Writes the header's counts and the trailer; *out and *len then hold the whole
 * file (owned by the writer until pvh_snap_writer_free). After it the writer
 * refuses pvh_snap_put; finishing again gives the same file. */
int pvh_snap_finish(struct pvh_snap_writer *w, const uint8_t **out, size_t *len, struct pvh_error *err);

struct pvh_snap_section {
    uint32_t tag, index;
    const uint8_t *data; /* inside the reader's buffer */
    size_t len;
};

struct pvh_snap_reader {
    const uint8_t *buf;
    size_t len;
    uint32_t sections;
};

/* Validates buf[0, len) whole (see the top of this file); every error names
 * what is wrong and where ("state file: section 3 (tag 3) runs past the
 * file's end at offset 0x1a8"), and the caller prefixes the file's name. */
int pvh_snap_open(struct pvh_snap_reader *r, const uint8_t *buf, size_t len, struct pvh_error *err);

/* The section (tag, index), or NULL when the file has none. */
const struct pvh_snap_section *pvh_snap_find(const struct pvh_snap_reader *r, uint32_t tag, uint32_t index,
                                             struct pvh_snap_section *out);

/* Sections in file order: i from 0 to r->sections - 1 (past that: *out
 * zeroed, data NULL). */
void pvh_snap_at(const struct pvh_snap_reader *r, uint32_t i, struct pvh_snap_section *out);

#endif
