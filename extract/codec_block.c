/* Decoders for the block formats: LZ4 legacy frames (liblz4), as made by
 * "lz4 -l" — magic 0x184C2102, then blocks of <le32 compressed size><data>
 * each expanding to at most 8 MiB, a repeated magic starting a new stream;
 * and lzop files (liblzo2, LZO1X) — header, then blocks of <be32 size><be32
 * compressed size><checksums><data> ending with a zero size. Before each
 * block codec_more() checks the output so far (the ELF gate) and makes room. */
#include <lz4.h>
#include <lzo/lzo1x.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "pvhboot/bytes.h"

#define LZ4_LEGACY_MAGIC 0x184C2102u
#define LZ4_LEGACY_BLOCK ((size_t)8 << 20)

#define LZOP_MAGIC_LEN 9
#define LZOP_MAX_BLOCK ((size_t)256 << 10) /* Linux's lib/decompress_unlzo.c refuses larger */
#define LZOP_F_ADLER32_D 0x1u
#define LZOP_F_ADLER32_C 0x2u
#define LZOP_F_H_EXTRA_FIELD 0x40u
#define LZOP_F_CRC32_D 0x100u
#define LZOP_F_CRC32_C 0x200u
#define LZOP_F_MULTIPART 0x400u
#define LZOP_F_H_FILTER 0x800u
#define LZOP_F_H_CRC32 0x1000u

/* An LZ4 block that did not fit the room left: decode it into a scratch
 * buffer of the format's full block size to tell "too large" from "corrupt". */
static int lz4_block_failed(struct codec_io *io, const uint8_t *src, uint32_t chunk, size_t pos)
{
    char *scratch = malloc(LZ4_LEGACY_BLOCK);
    if (!scratch)
        return codec_fail(io, PVH_E_SYSTEM, "out of memory");
    int r = LZ4_decompress_safe((const char *)src, scratch, (int)chunk, (int)LZ4_LEGACY_BLOCK);
    free(scratch);
    if (r >= 0)
        return codec_too_big(io);
    return codec_fail(io, PVH_E_INPUT, "corrupt LZ4 block at payload byte %zu", pos);
}

int codec_lz4_legacy(struct codec_io *io)
{
    const size_t bound = (size_t)LZ4_compressBound((int)LZ4_LEGACY_BLOCK);
    size_t pos = 0;
    while (pos < io->in_len) {
        if (io->in_len - pos < 4)
            return codec_truncated(io);
        uint32_t chunk = pvh_le32(io->in + pos);
        if (chunk == LZ4_LEGACY_MAGIC) {
            pos += 4;
            continue;
        }
        if (chunk == 0 || chunk > bound)
            return codec_fail(io, PVH_E_INPUT, "corrupt LZ4 block size %u at payload byte %zu", chunk, pos);
        pos += 4;
        if (chunk > io->in_len - pos)
            return codec_truncated(io);
        if (codec_more(io, LZ4_LEGACY_BLOCK) != 0)
            return -1;
        size_t room = io->avail - io->out_len;
        if (room > LZ4_LEGACY_BLOCK)
            room = LZ4_LEGACY_BLOCK;
        int r = LZ4_decompress_safe((const char *)io->in + pos, (char *)io->out + io->out_len,
                                    (int)chunk, (int)room);
        if (r < 0)
            return room < LZ4_LEGACY_BLOCK ? lz4_block_failed(io, io->in + pos, chunk, pos)
                                           : codec_fail(io, PVH_E_INPUT,
                                                        "corrupt LZ4 block at payload byte %zu", pos);
        io->out_len += (size_t)r;
        pos += chunk;
    }
    return 0;
}

/* The lzop header fields a decoder needs. */
struct lzop_header {
    uint32_t flags;
    size_t size;       /* bytes up to the first block */
};

static int lzop_checksum_ok(uint32_t flags, const uint8_t *p, size_t len, uint32_t want)
{
    uint32_t got = (flags & LZOP_F_H_CRC32) ? lzo_crc32(0, p, (lzo_uint)len)
                                            : lzo_adler32(1, p, (lzo_uint)len);
    return got == want;
}

static int lzop_parse_header(struct codec_io *io, struct lzop_header *h)
{
    const uint8_t *p = io->in;
    size_t n = io->in_len;
    /* magic, version, lib version, [needed version], method, [level], flags */
    if (n < LZOP_MAGIC_LEN + 7)
        return codec_truncated(io);
    size_t at = LZOP_MAGIC_LEN;
    uint16_t version = pvh_be16(p + at);
    at += 4;
    if (version >= 0x0940)
        at += 2;
    uint8_t method = p[at++];
    if (version >= 0x0940)
        at++;
    if (n < at + 4)
        return codec_truncated(io);
    h->flags = pvh_be32(p + at);
    at += 4;
    if (method < 1 || method > 3)
        return codec_fail(io, PVH_E_INPUT, "unsupported lzop method %u (LZO1X only)", method);
    if (h->flags & (LZOP_F_H_EXTRA_FIELD | LZOP_F_MULTIPART))
        return codec_fail(io, PVH_E_INPUT, "unsupported lzop header flags %#x", h->flags);
    at += (h->flags & LZOP_F_H_FILTER) ? 4 : 0;
    at += 8 + (version >= 0x0940 ? 4 : 0); /* mode, mtime low [, high] */
    if (n < at + 1)
        return codec_truncated(io);
    at += 1 + p[at]; /* file name */
    if (n < at + 4)
        return codec_truncated(io);
    if (!lzop_checksum_ok(h->flags, p + LZOP_MAGIC_LEN, at - LZOP_MAGIC_LEN, pvh_be32(p + at)))
        return codec_fail(io, PVH_E_INPUT, "corrupt lzop header (checksum mismatch)");
    h->size = at + 4;
    return 0;
}

/* Checksum words before a block's data: of the decompressed bytes (always
 * by flags) and of the compressed bytes (only when the block is compressed). */
static size_t lzop_checksum_words(uint32_t flags, int compressed)
{
    size_t words = !!(flags & LZOP_F_ADLER32_D) + !!(flags & LZOP_F_CRC32_D);
    if (compressed)
        words += !!(flags & LZOP_F_ADLER32_C) + !!(flags & LZOP_F_CRC32_C);
    return words;
}

static int lzop_verify_block(struct codec_io *io, uint32_t flags, const uint8_t *sums,
                             const uint8_t *data, size_t len, size_t pos)
{
    if ((flags & LZOP_F_ADLER32_D) && lzo_adler32(1, data, (lzo_uint)len) != pvh_be32(sums))
        return codec_fail(io, PVH_E_INPUT, "corrupt lzop block at payload byte %zu (Adler-32 mismatch)", pos);
    if (flags & LZOP_F_ADLER32_D)
        sums += 4;
    if ((flags & LZOP_F_CRC32_D) && lzo_crc32(0, data, (lzo_uint)len) != pvh_be32(sums))
        return codec_fail(io, PVH_E_INPUT, "corrupt lzop block at payload byte %zu (CRC-32 mismatch)", pos);
    return 0;
}

static int lzop_block(struct codec_io *io, uint32_t flags, size_t *pos, int *done)
{
    const uint8_t *p = io->in;
    size_t at = *pos, n = io->in_len;
    if (n - at < 4)
        return codec_truncated(io);
    size_t dst_len = pvh_be32(p + at);
    if (dst_len == 0) {
        *pos = at + 4;
        *done = 1;
        return 0;
    }
    if (n - at < 8)
        return codec_truncated(io);
    size_t src_len = pvh_be32(p + at + 4);
    if (dst_len > LZOP_MAX_BLOCK || src_len == 0 || src_len > dst_len)
        return codec_fail(io, PVH_E_INPUT, "corrupt lzop block sizes at payload byte %zu", at);
    int compressed = src_len < dst_len;
    size_t sums = 4 * lzop_checksum_words(flags, compressed);
    if (n - at - 8 < sums || n - at - 8 - sums < src_len)
        return codec_truncated(io);
    if (codec_more(io, dst_len) != 0)
        return -1;
    if (dst_len > io->avail - io->out_len)
        return codec_too_big(io);
    const uint8_t *src = p + at + 8 + sums;
    uint8_t *dst = io->out + io->out_len;
    if (compressed) {
        lzo_uint got = dst_len;
        int r = lzo1x_decompress_safe(src, src_len, dst, &got, NULL);
        if (r != LZO_E_OK || got != dst_len)
            return codec_fail(io, PVH_E_INPUT, "corrupt lzop block at payload byte %zu (LZO error %d)", at, r);
    } else {
        memcpy(dst, src, dst_len);
    }
    if (lzop_verify_block(io, flags, p + at + 8, dst, dst_len, at) != 0)
        return -1;
    io->out_len += dst_len;
    *pos = at + 8 + sums + src_len;
    return 0;
}

int codec_lzo(struct codec_io *io)
{
    if (lzo_init() != LZO_E_OK)
        return codec_fail(io, PVH_E_SYSTEM, "liblzo2 initialisation failed");
    struct lzop_header h = {0};
    if (lzop_parse_header(io, &h) != 0)
        return -1;
    size_t pos = h.size;
    int done = 0;
    while (!done)
        if (lzop_block(io, h.flags, &pos, &done) != 0)
            return -1;
    if (pos != io->in_len)
        return codec_fail(io, PVH_E_INPUT, "%zu bytes of garbage after the lzop end marker", io->in_len - pos);
    return 0;
}
