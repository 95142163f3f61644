/* SHA-256 (FIPS 180-4), small and dependency-free: the cache key of an
 * extracted kernel is the SHA-256 of its vmlinuz. */
#ifndef PVHBOOT_SHA256_H
#define PVHBOOT_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define PVH_SHA256_SIZE 32

struct pvh_sha256 {
    uint32_t h[8];
    uint64_t total;      /* bytes hashed so far */
    uint8_t block[64];
    size_t fill;         /* bytes waiting in block */
};

void pvh_sha256_init(struct pvh_sha256 *s);
void pvh_sha256_update(struct pvh_sha256 *s, const void *data, size_t len);
void pvh_sha256_final(struct pvh_sha256 *s, uint8_t digest[PVH_SHA256_SIZE]);
/* One call: digest of data; and the same as 64 lowercase hex digits + NUL. */
void pvh_sha256(const void *data, size_t len, uint8_t digest[PVH_SHA256_SIZE]);
void pvh_sha256_hex(const void *data, size_t len, char hex[2 * PVH_SHA256_SIZE + 1]);

#endif
