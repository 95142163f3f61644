/* vmlinuz → vmlinux: decompressing the ELF kernel a bzImage carries (gzip,
 * xz, lzma, lz4 legacy frames, zstd, bzip2, lzo) with Debian's compression
 * libraries, and an on-disk cache of the result keyed by the vmlinuz's
 * SHA-256. Input is hostile: output is bounded, every error is one line. */
#ifndef PVHBOOT_EXTRACT_H
#define PVHBOOT_EXTRACT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pvhboot/error.h"

enum pvh_compression {
    PVH_COMP_UNKNOWN = 0,
    PVH_COMP_GZIP,   /* 1f 8b */
    PVH_COMP_XZ,     /* fd 37 7a 58 5a 00 */
    PVH_COMP_LZMA,   /* 5d 00 00 (lzma_alone, "lzma -9") */
    PVH_COMP_LZ4,    /* 02 21 4c 18 (legacy frames, "lz4 -l") */
    PVH_COMP_ZSTD,   /* 28 b5 2f fd */
    PVH_COMP_BZIP2,  /* 42 5a 68 ("BZh") */
    PVH_COMP_LZO,    /* 89 4c 5a 4f 00 0d 0a 1a 0a (lzop) */
};

/* Default bound on a decompressed kernel. */
#define PVH_EXTRACT_MAX_DEFAULT ((size_t)1 << 30)

/* The format a compressed stream starts with, by magic bytes. */
enum pvh_compression pvh_compression_detect(const uint8_t *data, size_t size);
/* "gzip", "xz", ... ; "unknown" for PVH_COMP_UNKNOWN. */
const char *pvh_compression_name(enum pvh_compression comp);

/* What a bzImage holds, read without decompressing (for `inspect`). */
struct pvh_vmlinuz_info {
    uint16_t protocol;          /* boot protocol version */
    uint64_t payload_offset;    /* compressed payload in the file */
    uint64_t payload_length;    /* including the 4-byte size trailer */
    enum pvh_compression comp;
    uint32_t uncompressed_size; /* the trailer ("size_append") */
};

/* 0 with *info filled; -1 (err set) when data is no bzImage with a payload
 * (protocol >= 2.08) or the payload is too short to hold its trailer. */
int pvh_vmlinuz_inspect(const uint8_t *data, size_t size, const char *name,
                        struct pvh_vmlinuz_info *info, struct pvh_error *err);

/* Decompresses a kernel payload: the compressed stream followed by the
 * 4-byte little-endian uncompressed size Linux appends ("size_append").
 * The output must be exactly that size, at most max_out bytes, and an ELF
 * file. file_offset is the payload's offset in `name`, for messages.
 * On success *out is malloc'd (caller frees) and *out_len set. */
int pvh_extract_payload(const uint8_t *payload, size_t len, const char *name,
                        uint64_t file_offset, size_t max_out,
                        uint8_t **out, size_t *out_len, struct pvh_error *err);

/* Same for a whole bzImage in memory: finds the payload, decompresses it. */
int pvh_vmlinuz_extract(const uint8_t *data, size_t size, const char *name,
                        size_t max_out, uint8_t **out, size_t *out_len,
                        struct pvh_error *err);

/* The cache directory: $XDG_CACHE_HOME/pvhboot when XDG_CACHE_HOME is an
 * absolute path, else $HOME/.cache/pvhboot. Not created here. */
int pvh_cache_dir(char *buf, size_t cap, struct pvh_error *err);

/* The vmlinux ELF for a vmlinuz file, from the cache: the file
 * <cache_dir>/vmlinux-<sha256 of the vmlinuz, hex>. On a miss it is
 * extracted and written atomically (temporary file + rename). cache_dir NULL
 * means pvh_cache_dir(). Writes the path to out_path and sets *hit to
 * whether the cached file was already there (valid: its size is the
 * payload's size trailer). */
int pvh_vmlinuz_cached_elf(const char *vmlinuz_path, const char *cache_dir,
                           char *out_path, size_t out_cap, bool *hit,
                           struct pvh_error *err);

#endif
