/* Internal interface between the payload dispatcher (decompress.c), the
 * ELF gate (elfgate.c), the per-library decoders (codec_*.c) and the
 * sandboxed child (child.c). Not installed. */
#ifndef PVHBOOT_EXTRACT_CODEC_H
#define PVHBOOT_EXTRACT_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pvhboot/error.h"
#include "pvhboot/extract.h"

/* What the first decompressed bytes have shown so far (elfgate.c). */
struct elf_gate {
    int stage;            /* 0: ELF header awaited, 1: program headers awaited, 2: passed */
    unsigned elf_class;   /* 32 or 64, from stage 1 on */
    uint64_t ph_off, ph_end;
    unsigned ph_num;
    uint64_t header_end;  /* furthest byte the ELF, program and section header tables name */
    uint64_t bound;       /* the largest file these headers allow (stage 2) */
};

/* One decompression: the whole compressed stream in, a buffer of out_cap
 * bytes out. A decoder returns 0 when its stream ended cleanly (out_len
 * set), or -1 through codec_fail(). out_cap is one byte more than the
 * expected size, so a full buffer means the payload expands too far.
 *
 * A decoder may write only out[0, avail). When it has filled that window
 * (streams), or before a block that needs more room (block formats), it
 * calls codec_more(), which first checks what is there (the ELF gate: an
 * x86 ELF header, then the program headers and the bound they give) and
 * then widens the window (and, for a growable buffer, reallocates it: io->out
 * may move). A window equal to out_cap that is full means "too big". So a
 * payload that does not start as a kernel stops after its first bytes
 * instead of after its announced size, having touched no more memory. */
struct codec_io {
    const uint8_t *in;
    size_t in_len;
    uint8_t *out;
    size_t out_cap;
    size_t avail;
    size_t out_len;
    const char *name;      /* file name, for messages */
    uint64_t offset;       /* the payload's offset in that file */
    enum pvh_compression comp;
    struct pvh_error *err;
    struct elf_gate gate;
    bool growable;         /* out is malloc'd, `allocated` bytes: codec_more reallocs it */
    size_t allocated;
};

/* "<name>: <format> payload at offset <off>: <what>"; returns -1. */
int codec_fail(struct codec_io *io, enum pvh_errcode code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The standard messages. */
int codec_truncated(struct codec_io *io);
int codec_too_big(struct codec_io *io);

/* Checks the output so far, then lets the decoder write at least `need`
 * more bytes when the gate and out_cap allow (need 0: as far as the next
 * check, or the end). 0, or -1 with the error set. */
int codec_more(struct codec_io *io, size_t need);

/* The ELF gate (elfgate.c). gate_check runs every check the first out_len
 * bytes allow; with `complete` the output is whole and a check that still
 * lacks bytes fails. gate_wants is the output length the next check needs
 * (out_cap once the gate is passed). */
int gate_check(struct codec_io *io, bool complete);
size_t gate_wants(const struct codec_io *io);

/* Decodes a payload (stream + size trailer) into out[0, out_cap), out_cap
 * at least the trailer's size + 1, with every check pvh_extract_payload
 * makes. The sandboxed child calls this on its shared output mapping. */
int extract_into(const uint8_t *payload, size_t len, const char *name, uint64_t file_offset,
                 uint8_t *out, size_t out_cap, size_t *out_len, struct pvh_error *err);

/* The size a payload's trailer announces after the checks made before
 * decoding (length, known magic, at most max_out). 0 or -1 with err. */
int extract_expected_size(const uint8_t *payload, size_t len, const char *name, uint64_t file_offset,
                          size_t max_out, size_t *expected, struct pvh_error *err);

/* Checks a finished output again (in the parent, after the child): exactly
 * the trailer's size, and it passes the ELF gate. */
int extract_verify(const uint8_t *out, size_t len, const uint8_t *payload, size_t payload_len,
                   const char *name, uint64_t file_offset, struct pvh_error *err);

/* Decodes a payload in the sandboxed child (child.c) into a shared mapping:
 * on success *map (*map_len bytes; the caller munmaps it) holds *out_len
 * bytes that passed extract_verify in the parent. */
int extract_sandboxed(const uint8_t *payload, size_t len, const char *name, uint64_t file_offset,
                      size_t max_out, const struct pvh_extract_sandbox *sb, uint8_t **map, size_t *map_len,
                      size_t *out_len, struct pvh_error *err);

int codec_gzip(struct codec_io *io);
int codec_bzip2(struct codec_io *io);
int codec_xz(struct codec_io *io);   /* PVH_COMP_XZ and PVH_COMP_LZMA */
int codec_zstd(struct codec_io *io);
int codec_lz4_legacy(struct codec_io *io);
int codec_lzo(struct codec_io *io);

#endif
