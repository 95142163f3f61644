/* Reading and writing fixed-width integers in a byte buffer, whatever the
 * host's byte order: little endian (the PVH, ELF, Multiboot, bzImage and
 * ACPI formats) and big endian (some compressed-stream headers, SHA-256). */
#ifndef PVHBOOT_BYTES_H
#define PVHBOOT_BYTES_H

#include <stdint.h>

/* The little-endian unsigned of n bytes (n <= 8) at p. */
static inline uint64_t pvh_le(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = n; i-- > 0;)
        v = v << 8 | p[i];
    return v;
}

static inline uint16_t pvh_le16(const uint8_t *p) { return (uint16_t)pvh_le(p, 2); }
static inline uint32_t pvh_le32(const uint8_t *p) { return (uint32_t)pvh_le(p, 4); }
static inline uint64_t pvh_le64(const uint8_t *p) { return pvh_le(p, 8); }

static inline uint16_t pvh_be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static inline uint32_t pvh_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void pvh_put_le(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline void pvh_put_le16(uint8_t *p, uint16_t v) { pvh_put_le(p, v, 2); }
static inline void pvh_put_le32(uint8_t *p, uint32_t v) { pvh_put_le(p, v, 4); }
static inline void pvh_put_le64(uint8_t *p, uint64_t v) { pvh_put_le(p, v, 8); }

#endif
