/* The trailer of a memory file written with --snapshot-diff: it says which
 * snapshot chain and generation the file belongs to, whether it is the
 * chain's full base (generation 0) or a diff (generation 1, 2, ...), and, for
 * a diff, which pages it holds (a bitmap: a dirtied page may be all zeros,
 * so a hole cannot mean "not written"). The memory file is guest RAM at its
 * offsets (pages a diff does not hold are holes), then the trailer at offset
 * RAM size; the reader checks it whole before anything uses it.
 *
 * Layout (little endian), 64 bytes: magic "PVHMEMT\0", u32 version (1), u32
 * kind (0 full, 1 diff), u64 chain id, u32 generation, u32 reserved (0), u64
 * RAM bytes (the trailer's own offset), u64 pages held (a diff: the bitmap's
 * set bits; full: 0), u64 bitmap bytes (a diff: 8 * ceil(pages of RAM / 64);
 * full: 0), u32 CRC-32 (zlib) of these 64 bytes with this field zero and then
 * the bitmap, u32 reserved (0); then the bitmap, u64 words, bit i of word w
 * is RAM page 64 * w + i (RAM is the slots back to back, as in the file). */
#ifndef PVHBOOT_SNAPMEM_H
#define PVHBOOT_SNAPMEM_H

#include <stddef.h>
#include <stdint.h>

#include "pvhboot/error.h"

#define PVH_SNAPMEM_HEADER 64u
#define PVH_SNAPMEM_VERSION 1u
#define PVH_SNAPMEM_PAGE 4096u

enum pvh_snapmem_kind { PVH_SNAPMEM_FULL = 0, PVH_SNAPMEM_DIFF = 1 };

struct pvh_snapmem_id {
    uint32_t kind;       /* enum pvh_snapmem_kind */
    uint64_t chain;      /* random, one per `pvhboot run --snapshot-diff` */
    uint32_t generation; /* 0: the full base; n: the diff of generation n - 1 */
};

/* The bitmap's size for a memory file of ram bytes (ram a page multiple). */
uint64_t pvh_snapmem_bitmap_bytes(uint32_t kind, uint64_t ram);

/* The 64-byte header for id over ram bytes of RAM, with bitmap (of
 * pvh_snapmem_bitmap_bytes bytes, NULL for a full file) and its set bits. */
void pvh_snapmem_encode(const struct pvh_snapmem_id *id, uint64_t ram, const uint8_t *bitmap, uint64_t pages,
                        uint8_t out[PVH_SNAPMEM_HEADER]);

/* Checks the trailer of a memory file held whole in buf[0, len) whose guest
 * RAM is ram bytes: length, magic, version, kind, RAM size, bitmap size,
 * checksum, the count of set bits, no bit past RAM. *id and *bitmap (inside
 * buf, NULL for a full file) are set on success. Errors are one line
 * ("memory file: ..."); the caller prefixes the file's name. */
int pvh_snapmem_open(const uint8_t *buf, size_t len, uint64_t ram, struct pvh_snapmem_id *id,
                     const uint8_t **bitmap, struct pvh_error *err);

/* Whether page p (< RAM pages) is in the bitmap. */
static inline int pvh_snapmem_has(const uint8_t *bitmap, uint64_t p)
{
    return (bitmap[p / 8] >> (p % 8)) & 1; /* little-endian u64 words: byte p / 8, bit p % 8 */
}

#endif
