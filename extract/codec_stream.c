/* Decoders for the streaming libraries: gzip (zlib), bzip2 (libbz2), xz and
 * lzma_alone (liblzma), zstd (libzstd). Each runs over the whole input into
 * the output window codec_more() widens (after the ELF gate's checks) and
 * tells truncated, corrupt and too-large apart. */
#include <bzlib.h>
#include <limits.h>
#include <lzma.h>
#include <stdint.h>
#include <zlib.h>
#include <zstd.h>

#include "codec.h"

/* liblzma's memory limit: the dictionary need not exceed the output, so
 * the expected size plus room for an "xz -9" dictionary, at most 256 MiB. */
#define XZ_MEMLIMIT_SLACK ((uint64_t)64 << 20)
#define XZ_MEMLIMIT_MAX ((uint64_t)256 << 20)
#define ZSTD_WINDOW_LOG_MAX 27

/* The room zlib and libbz2 may fill next: the window, in unsigned-int pieces. */
static unsigned room_uint(const struct codec_io *io)
{
    size_t room = io->avail - io->out_len;
    return room > UINT_MAX ? UINT_MAX : (unsigned)room;
}

/* A decoder filled its window: widen it (0), or it is the whole buffer (too big). */
static int window_full(struct codec_io *io)
{
    if (io->avail == io->out_cap)
        return codec_too_big(io);
    return codec_more(io, 0);
}

static int gzip_status(struct codec_io *io, int ret, const z_stream *zs)
{
    const char *msg = zs->msg ? zs->msg : "invalid data";
    if (ret == Z_MEM_ERROR)
        return codec_fail(io, PVH_E_SYSTEM, "out of memory");
    if (ret == Z_DATA_ERROR || ret == Z_NEED_DICT || ret == Z_STREAM_ERROR)
        return codec_fail(io, PVH_E_INPUT, "corrupt data near payload byte %zu (zlib: %s)",
                          io->in_len - zs->avail_in, msg);
    return codec_truncated(io);
}

int codec_gzip(struct codec_io *io)
{
    if (io->in_len > UINT_MAX)
        return codec_fail(io, PVH_E_INPUT, "too large for zlib (%zu bytes)", io->in_len);
    z_stream zs = {0};
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
        return codec_fail(io, PVH_E_SYSTEM, "zlib initialisation failed");
    zs.next_in = (Bytef *)(uintptr_t)io->in;
    zs.avail_in = (uInt)io->in_len;
    int rc;
    for (;;) {
        unsigned room = room_uint(io);
        zs.next_out = io->out + io->out_len;
        zs.avail_out = room;
        int ret = inflate(&zs, Z_NO_FLUSH);
        io->out_len += room - zs.avail_out;
        if (ret == Z_STREAM_END) {
            rc = 0;
            break;
        }
        if ((ret == Z_OK || ret == Z_BUF_ERROR) && io->out_len == io->avail) {
            if ((rc = window_full(io)) != 0)
                break;
            continue;
        }
        rc = gzip_status(io, ret, &zs);
        break;
    }
    inflateEnd(&zs);
    return rc;
}

int codec_bzip2(struct codec_io *io)
{
    bz_stream bs = {0};
    if (BZ2_bzDecompressInit(&bs, 0, 0) != BZ_OK)
        return codec_fail(io, PVH_E_SYSTEM, "bzip2 initialisation failed");
    const uint8_t *in = io->in;
    size_t in_left = io->in_len;
    int rc = -1;
    for (;;) {
        unsigned in_chunk = in_left > UINT_MAX ? UINT_MAX : (unsigned)in_left;
        unsigned out_chunk = room_uint(io);
        bs.next_in = (char *)(uintptr_t)in;
        bs.avail_in = in_chunk;
        bs.next_out = (char *)(io->out + io->out_len);
        bs.avail_out = out_chunk;
        int ret = BZ2_bzDecompress(&bs);
        size_t used_in = in_chunk - bs.avail_in, made = out_chunk - bs.avail_out;
        in += used_in;
        in_left -= used_in;
        io->out_len += made;
        if (ret == BZ_STREAM_END) {
            rc = 0;
            break;
        }
        if (ret == BZ_MEM_ERROR) {
            rc = codec_fail(io, PVH_E_SYSTEM, "out of memory");
            break;
        }
        if (ret != BZ_OK) {
            rc = codec_fail(io, PVH_E_INPUT, "corrupt data near payload byte %zu (bzip2 error %d)",
                            io->in_len - in_left, ret);
            break;
        }
        if (io->out_len == io->avail) {
            if ((rc = window_full(io)) != 0)
                break;
            continue;
        }
        if (in_left == 0 || (used_in == 0 && made == 0)) {
            rc = codec_truncated(io);
            break;
        }
    }
    BZ2_bzDecompressEnd(&bs);
    return rc;
}

static const char *lzma_what(lzma_ret ret)
{
    switch (ret) {
    case LZMA_FORMAT_ERROR: return "not a valid header";
    case LZMA_OPTIONS_ERROR: return "unsupported options";
    case LZMA_DATA_ERROR: return "corrupt data";
    case LZMA_UNSUPPORTED_CHECK: return "unsupported integrity check";
    case LZMA_MEMLIMIT_ERROR: return "needs a dictionary larger than the kernel plus 64 MiB (or 256 MiB)";
    default: return "decoder error";
    }
}

int codec_xz(struct codec_io *io)
{
    lzma_stream s = LZMA_STREAM_INIT;
    uint64_t memlimit = (uint64_t)io->out_cap + XZ_MEMLIMIT_SLACK;
    if (memlimit > XZ_MEMLIMIT_MAX)
        memlimit = XZ_MEMLIMIT_MAX;
    lzma_ret ret = io->comp == PVH_COMP_XZ ? lzma_stream_decoder(&s, memlimit, 0)
                                           : lzma_alone_decoder(&s, memlimit);
    if (ret != LZMA_OK)
        return codec_fail(io, PVH_E_SYSTEM, "liblzma initialisation failed");
    s.next_in = io->in;
    s.avail_in = io->in_len;
    int rc;
    for (;;) {
        s.next_out = io->out + io->out_len;
        s.avail_out = io->avail - io->out_len;
        ret = lzma_code(&s, LZMA_FINISH);
        io->out_len = (size_t)(s.next_out - io->out);
        if (ret == LZMA_OK && io->out_len == io->avail) {
            if ((rc = window_full(io)) != 0)
                break;
            continue;
        }
        if (ret == LZMA_OK)
            continue;
        if (ret == LZMA_STREAM_END)
            rc = 0;
        else if (ret == LZMA_MEM_ERROR)
            rc = codec_fail(io, PVH_E_SYSTEM, "out of memory");
        else if (ret == LZMA_BUF_ERROR && io->out_len == io->out_cap)
            rc = codec_too_big(io);
        else if (ret == LZMA_BUF_ERROR)
            rc = codec_truncated(io);
        else
            rc = codec_fail(io, PVH_E_INPUT, "%s near payload byte %zu (liblzma)", lzma_what(ret),
                            io->in_len - s.avail_in);
        break;
    }
    lzma_end(&s);
    return rc;
}

int codec_zstd(struct codec_io *io)
{
    ZSTD_DCtx *dctx = ZSTD_createDCtx();
    if (!dctx)
        return codec_fail(io, PVH_E_SYSTEM, "out of memory");
    ZSTD_DCtx_setParameter(dctx, ZSTD_d_windowLogMax, ZSTD_WINDOW_LOG_MAX);
    ZSTD_inBuffer in = {io->in, io->in_len, 0};
    ZSTD_outBuffer out = {io->out, io->avail, 0};
    int rc;
    for (;;) {
        size_t before_in = in.pos, before_out = out.pos;
        size_t ret = ZSTD_decompressStream(dctx, &out, &in);
        io->out_len = out.pos;
        if (ZSTD_isError(ret)) {
            rc = codec_fail(io, PVH_E_INPUT, "corrupt data near payload byte %zu (zstd: %s)",
                            in.pos, ZSTD_getErrorName(ret));
            break;
        }
        if (ret == 0 && in.pos == in.size) {
            rc = 0;
            break;
        }
        if (out.pos == out.size) {
            if ((rc = window_full(io)) != 0)
                break;
            out.dst = io->out;
            out.size = io->avail;
            continue;
        }
        if (in.pos == in.size || (in.pos == before_in && out.pos == before_out)) {
            rc = codec_truncated(io);
            break;
        }
    }
    ZSTD_freeDCtx(dctx);
    return rc;
}
