/* vmlinuz payload decompression: format detection by magic, the size
 * trailer Linux appends ("size_append"), the output bound, the widening
 * output window behind the ELF gate (elfgate.c), and dispatch to the
 * per-library decoders in codec_*.c. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "pvhboot/bzimage.h"
#include "pvhboot/bytes.h"

#define SIZE_TRAILER 4

struct format {
    enum pvh_compression comp;
    const char *name;
    const uint8_t *magic;
    size_t magic_len;
    int (*decode)(struct codec_io *io);
};

static const uint8_t GZIP_MAGIC[] = {0x1f, 0x8b};
static const uint8_t XZ_MAGIC[] = {0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00};
static const uint8_t LZMA_MAGIC[] = {0x5d, 0x00, 0x00};
static const uint8_t LZ4_MAGIC[] = {0x02, 0x21, 0x4c, 0x18};
static const uint8_t ZSTD_MAGIC[] = {0x28, 0xb5, 0x2f, 0xfd};
static const uint8_t BZIP2_MAGIC[] = {0x42, 0x5a, 0x68};
static const uint8_t LZO_MAGIC[] = {0x89, 0x4c, 0x5a, 0x4f, 0x00, 0x0d, 0x0a, 0x1a, 0x0a};

static const struct format FORMATS[] = {
    {PVH_COMP_GZIP, "gzip", GZIP_MAGIC, sizeof(GZIP_MAGIC), codec_gzip},
    {PVH_COMP_XZ, "xz", XZ_MAGIC, sizeof(XZ_MAGIC), codec_xz},
    {PVH_COMP_LZMA, "lzma", LZMA_MAGIC, sizeof(LZMA_MAGIC), codec_xz},
    {PVH_COMP_LZ4, "lz4", LZ4_MAGIC, sizeof(LZ4_MAGIC), codec_lz4_legacy},
    {PVH_COMP_ZSTD, "zstd", ZSTD_MAGIC, sizeof(ZSTD_MAGIC), codec_zstd},
    {PVH_COMP_BZIP2, "bzip2", BZIP2_MAGIC, sizeof(BZIP2_MAGIC), codec_bzip2},
    {PVH_COMP_LZO, "lzo", LZO_MAGIC, sizeof(LZO_MAGIC), codec_lzo},
};
#define NFORMATS (sizeof(FORMATS) / sizeof(FORMATS[0]))

static const struct format *format_of(enum pvh_compression comp)
{
    for (size_t i = 0; i < NFORMATS; i++)
        if (FORMATS[i].comp == comp)
            return &FORMATS[i];
    return NULL;
}

enum pvh_compression pvh_compression_detect(const uint8_t *data, size_t size)
{
    for (size_t i = 0; i < NFORMATS; i++)
        if (size >= FORMATS[i].magic_len && memcmp(data, FORMATS[i].magic, FORMATS[i].magic_len) == 0)
            return FORMATS[i].comp;
    return PVH_COMP_UNKNOWN;
}

const char *pvh_compression_name(enum pvh_compression comp)
{
    const struct format *f = format_of(comp);
    return f ? f->name : "unknown";
}

int codec_fail(struct codec_io *io, enum pvh_errcode code, const char *fmt, ...)
{
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return pvh_fail(io->err, code, "%s: %s payload at offset %#llx: %s", io->name,
                    pvh_compression_name(io->comp), (unsigned long long)io->offset, what);
}

int codec_truncated(struct codec_io *io)
{
    return codec_fail(io, PVH_E_INPUT, "truncated: the compressed stream ends early (%zu bytes)", io->in_len);
}

int codec_too_big(struct codec_io *io)
{
    return codec_fail(io, PVH_E_INPUT, "expands beyond the %zu bytes its size trailer announces",
                      io->out_cap - 1);
}

static int unknown_magic(const uint8_t *p, size_t len, const char *name, uint64_t offset,
                         struct pvh_error *err)
{
    char hex[3 * 8 + 1] = "";
    size_t at = 0;
    for (size_t i = 0; i < len && i < 8; i++)
        at += (size_t)snprintf(hex + at, sizeof(hex) - at, i ? " %02x" : "%02x", p[i]);
    return pvh_fail(err, PVH_E_INPUT,
                    "%s: unknown compression format at offset %#llx (magic bytes %s); "
                    "supported: gzip, xz, lzma, lz4, zstd, bzip2, lzo",
                    name, (unsigned long long)offset, hex);
}

int codec_more(struct codec_io *io, size_t need)
{
    if (gate_check(io, false) != 0)
        return -1;
    size_t want = gate_wants(io);
    if (need > io->out_cap - io->out_len)
        want = io->out_cap;
    else if (io->out_len + need > want)
        want = io->out_len + need;
    if (io->growable && want > io->allocated) {
        uint8_t *p = realloc(io->out, want);
        if (!p)
            return codec_fail(io, PVH_E_SYSTEM, "cannot allocate %zu bytes for the kernel", want);
        io->out = p;
        io->allocated = want;
    }
    if (want > io->avail)
        io->avail = want;
    return 0;
}

static int decode_checked(struct codec_io *io, const struct format *f, size_t expected)
{
    io->avail = 0;
    if (codec_more(io, 0) != 0 || f->decode(io) != 0)
        return -1;
    if (io->out_len > expected)
        return codec_too_big(io);
    if (io->out_len != expected)
        return codec_fail(io, PVH_E_INPUT, "decompressed to %zu bytes, its size trailer says %zu",
                          io->out_len, expected);
    return gate_check(io, true);
}

/* The payload's format and the size its trailer announces, checked. */
static int payload_plan(const uint8_t *payload, size_t len, const char *name, uint64_t file_offset,
                        size_t max_out, struct codec_io *io, const struct format **fmt, struct pvh_error *err)
{
    if (len <= SIZE_TRAILER)
        return pvh_fail(err, PVH_E_INPUT, "%s: payload at offset %#llx is %zu bytes, too short for "
                        "a compressed kernel and its size trailer", name,
                        (unsigned long long)file_offset, len);
    const struct format *f = format_of(pvh_compression_detect(payload, len - SIZE_TRAILER));
    if (!f)
        return unknown_magic(payload, len - SIZE_TRAILER, name, file_offset, err);
    *io = (struct codec_io){.in = payload, .in_len = len - SIZE_TRAILER, .name = name,
                            .offset = file_offset, .comp = f->comp, .err = err};
    *fmt = f;
    size_t expected = pvh_le32(payload + len - SIZE_TRAILER);
    if (expected > max_out)
        return codec_fail(io, PVH_E_INPUT, "its size trailer announces %zu bytes, over the %zu-byte limit",
                          expected, max_out);
    io->out_cap = expected + 1;
    return 0;
}

int extract_expected_size(const uint8_t *payload, size_t len, const char *name, uint64_t file_offset,
                          size_t max_out, size_t *expected, struct pvh_error *err)
{
    struct codec_io io;
    const struct format *f;
    if (payload_plan(payload, len, name, file_offset, max_out, &io, &f, err) != 0)
        return -1;
    *expected = io.out_cap - 1;
    return 0;
}

int extract_into(const uint8_t *payload, size_t len, const char *name, uint64_t file_offset,
                 uint8_t *out, size_t out_cap, size_t *out_len, struct pvh_error *err)
{
    struct codec_io io;
    const struct format *f;
    *out_len = 0;
    if (payload_plan(payload, len, name, file_offset, out_cap - 1, &io, &f, err) != 0)
        return -1;
    io.out = out;
    if (decode_checked(&io, f, io.out_cap - 1) != 0)
        return -1;
    *out_len = io.out_len;
    return 0;
}

int extract_verify(const uint8_t *out, size_t len, const uint8_t *payload, size_t payload_len,
                   const char *name, uint64_t file_offset, struct pvh_error *err)
{
    struct codec_io io;
    const struct format *f;
    if (payload_plan(payload, payload_len, name, file_offset, SIZE_MAX - 1, &io, &f, err) != 0)
        return -1;
    if (len != io.out_cap - 1)
        return codec_fail(&io, PVH_E_INPUT, "the decoder returned %zu bytes, its size trailer says %zu", len,
                          io.out_cap - 1);
    io.out = (uint8_t *)(uintptr_t)out;
    io.out_len = len;
    return gate_check(&io, true);
}

int pvh_extract_payload(const uint8_t *payload, size_t len, const char *name,
                        uint64_t file_offset, size_t max_out,
                        uint8_t **out, size_t *out_len, struct pvh_error *err)
{
    *out = NULL;
    *out_len = 0;
    struct codec_io io;
    const struct format *f;
    if (payload_plan(payload, len, name, file_offset, max_out, &io, &f, err) != 0)
        return -1;
    /* allocated as the ELF gate lets the window grow: a payload that fails
     * it never gets the buffer its trailer asks for */
    io.growable = true;
    if (decode_checked(&io, f, io.out_cap - 1) != 0) {
        free(io.out);
        return -1;
    }
    *out = io.out;
    *out_len = io.out_len;
    return 0;
}

int pvh_vmlinuz_inspect(const uint8_t *data, size_t size, const char *name,
                        struct pvh_vmlinuz_info *info, struct pvh_error *err)
{
    memset(info, 0, sizeof(*info));
    struct pvh_bzimage_info bz;
    int r = pvh_bzimage_probe(data, size, name, &bz, err);
    if (r < 0)
        return -1;
    if (r == 0)
        return pvh_fail(err, PVH_E_INPUT, "%s: not a bzImage (no \"HdrS\" boot header at offset 0x202)", name);
    info->protocol = bz.protocol;
    if (bz.protocol < 0x0208)
        return pvh_fail(err, PVH_E_INPUT, "%s: boot protocol %u.%02u has no payload fields (2.08+ needed)",
                        name, bz.protocol >> 8, bz.protocol & 0xff);
    info->payload_offset = bz.payload_offset;
    info->payload_length = bz.payload_length;
    if (bz.payload_length <= SIZE_TRAILER)
        return pvh_fail(err, PVH_E_INPUT, "%s: payload at offset %#llx is %llu bytes, too short for "
                        "a compressed kernel and its size trailer", name,
                        (unsigned long long)bz.payload_offset, (unsigned long long)bz.payload_length);
    const uint8_t *p = data + bz.payload_offset;
    info->comp = pvh_compression_detect(p, bz.payload_length - SIZE_TRAILER);
    info->uncompressed_size = pvh_le32(p + bz.payload_length - SIZE_TRAILER);
    return 0;
}

int pvh_vmlinuz_extract(const uint8_t *data, size_t size, const char *name,
                        size_t max_out, uint8_t **out, size_t *out_len,
                        struct pvh_error *err)
{
    *out = NULL;
    *out_len = 0;
    struct pvh_vmlinuz_info info;
    if (pvh_vmlinuz_inspect(data, size, name, &info, err) != 0)
        return -1;
    return pvh_extract_payload(data + info.payload_offset, info.payload_length, name,
                               info.payload_offset, max_out, out, out_len, err);
}
