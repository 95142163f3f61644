/* vmlinuz → vmlinux: decompressing the ELF kernel a bzImage carries (gzip,
 * xz, lzma, lz4 legacy frames, zstd, bzip2, lzo) with Debian's compression
 * libraries, in a sandboxed child process, and an on-disk cache of the result
 * keyed by the vmlinuz's SHA-256, bounded in total size (least recently used
 * entries go first). Input is hostile: output is bounded by an absolute cap
 * and by what the ELF headers in its first bytes allow; every error is one
 * line. docs/extract.md has the details. */
#ifndef PVHBOOT_EXTRACT_H
#define PVHBOOT_EXTRACT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

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

/* Default bound on a decompressed kernel (Debian's largest are about 66 MB). */
#define PVH_EXTRACT_MAX_DEFAULT ((size_t)256 << 20)
/* The decompression child's default CPU time limit (seconds). */
#define PVH_EXTRACT_CPU_SECONDS 60
/* Default bound on the cache's entries together; PVHBOOT_CACHE_MAX overrides. */
#define PVH_CACHE_MAX_DEFAULT ((uint64_t)1 << 30)

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
 * The output must be exactly that size, at most max_out bytes, and an x86
 * ELF file whose headers account for that size; decoding stops as soon as
 * the first bytes fail these checks. file_offset is the payload's offset in
 * `name`, for messages. Runs in the calling process (the fuzzer's entry);
 * pvh_vmlinuz_extract_sandboxed is the one for untrusted files.
 * On success *out is malloc'd (caller frees) and *out_len set. */
int pvh_extract_payload(const uint8_t *payload, size_t len, const char *name,
                        uint64_t file_offset, size_t max_out,
                        uint8_t **out, size_t *out_len, struct pvh_error *err);

/* Same for a whole bzImage in memory: finds the payload, decompresses it. */
int pvh_vmlinuz_extract(const uint8_t *data, size_t size, const char *name,
                        size_t max_out, uint8_t **out, size_t *out_len,
                        struct pvh_error *err);

/* Who the decompression child is (pvh_vmlinuz_extract_sandboxed). */
struct pvh_extract_sandbox {
    bool drop_user;     /* when running as root: the child runs as uid:gid (run --user) */
    uid_t uid;
    gid_t gid;
    bool no_filter;     /* run --no-sandbox: no seccomp filter in the child either */
    unsigned cpu_seconds; /* the child's CPU time limit; 0: PVH_EXTRACT_CPU_SECONDS */
    void (*child_hook)(void); /* tests only: runs in the child under its filter, before decoding */
};

/* pvh_vmlinuz_extract in a forked child that has dropped privileges (when
 * asked and root), has no core dumps, a CPU-time limit and a seccomp filter
 * allowing only anonymous non-executable memory calls, a write to its result
 * pipe and exit; it decodes into memory shared with the parent, which checks
 * the result again (size, ELF gate). A child killed by the filter or by a
 * signal is a one-line error. sb NULL: no drop, filtered. *out is malloc'd. */
int pvh_vmlinuz_extract_sandboxed(const uint8_t *data, size_t size, const char *name, size_t max_out,
                                  const struct pvh_extract_sandbox *sb, uint8_t **out, size_t *out_len,
                                  struct pvh_error *err);

/* The cache directory: $XDG_CACHE_HOME/pvhboot when XDG_CACHE_HOME is an
 * absolute path, else $HOME/.cache/pvhboot. Not created here. */
int pvh_cache_dir(char *buf, size_t cap, struct pvh_error *err);

/* The cache's size limit: PVHBOOT_CACHE_MAX (bytes, K/M/G/T suffix, binary)
 * when set, else PVH_CACHE_MAX_DEFAULT. */
int pvh_cache_max(uint64_t *max, struct pvh_error *err);

struct pvh_cache_request {
    const char *vmlinuz;       /* the bzImage file */
    const char *cache_dir;     /* NULL: pvh_cache_dir() */
    uint64_t cache_max;        /* 0: pvh_cache_max() */
    const struct pvh_extract_sandbox *sandbox; /* the decompression child; NULL: defaults */
};

struct pvh_cache_result {
    char path[4096];           /* <cache dir>/vmlinux-<sha256 of the vmlinuz, hex> */
    int fd;                    /* read-only on that entry, or -1; the caller closes it */
    bool hit;                  /* the entry was there (and valid) */
    unsigned evicted;          /* entries removed to keep the size limit */
};

/* The vmlinux ELF for a vmlinuz file, from the cache. The cache directory is
 * opened without following a symlink at its last component (nor, below
 * $XDG_CACHE_HOME or $HOME, one owned by another user) and must belong to
 * the effective user (root: root) and not be group/world writable; every
 * entry is created, looked up, renamed and removed relative to it. A hit
 * needs a regular file whose size is the payload's size trailer; its mtime
 * is set to now (the LRU order). On a miss the payload is extracted in the
 * sandboxed child and published atomically (temporary file + rename). Then
 * least recently used entries (never this one) are removed until the cache
 * fits cache_max, with stale stat- shortcuts and leftover temporary files.
 * res->fd stays valid whatever later happens to the path. */
int pvh_vmlinuz_cache_lookup(const struct pvh_cache_request *req, struct pvh_cache_result *res,
                             struct pvh_error *err);

/* pvh_vmlinuz_cache_lookup with the defaults, returning the path only. */
int pvh_vmlinuz_cached_elf(const char *vmlinuz_path, const char *cache_dir,
                           char *out_path, size_t out_cap, bool *hit,
                           struct pvh_error *err);

#endif
