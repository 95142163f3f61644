/* Internal interface between the payload dispatcher (decompress.c) and the
 * per-library decoders (codec_*.c). Not installed. */
#ifndef PVHBOOT_EXTRACT_CODEC_H
#define PVHBOOT_EXTRACT_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "pvhboot/error.h"
#include "pvhboot/extract.h"

/* One decompression: the whole compressed stream in, a buffer of out_cap
 * bytes out. A decoder returns 0 when its stream ended cleanly (out_len
 * set), or -1 through codec_fail(). out_cap is one byte more than the
 * expected size, so a full buffer means the payload expands too far. */
struct codec_io {
    const uint8_t *in;
    size_t in_len;
    uint8_t *out;
    size_t out_cap;
    size_t out_len;
    const char *name;      /* file name, for messages */
    uint64_t offset;       /* the payload's offset in that file */
    enum pvh_compression comp;
    struct pvh_error *err;
};

/* "<name>: <format> payload at offset <off>: <what>"; returns -1. */
int codec_fail(struct codec_io *io, enum pvh_errcode code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The standard messages. */
int codec_truncated(struct codec_io *io);
int codec_too_big(struct codec_io *io);

int codec_gzip(struct codec_io *io);
int codec_bzip2(struct codec_io *io);
int codec_xz(struct codec_io *io);   /* PVH_COMP_XZ and PVH_COMP_LZMA */
int codec_zstd(struct codec_io *io);
int codec_lz4_legacy(struct codec_io *io);
int codec_lzo(struct codec_io *io);

#endif
