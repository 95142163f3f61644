/* The snapshot state file (include/pvhboot/snapfile.h): the writer that
 * frames sections into a growable buffer, and the reader that validates a
 * whole file held in memory before anything looks at a section. Every size
 * read from the file is compared by subtraction from what is left, never
 * added to an offset first, so no length (up to UINT64_MAX) can wrap. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "pvhboot/bytes.h"
#include "pvhboot/snapfile.h"

#define MAGIC "PVHSNAP" /* with its NUL: 8 bytes */
#define HEADER_SIZE 24u
#define SECTION_HEADER_SIZE 16u
#define TRAILER_SIZE 8u
#define OFF_VERSION 8u
#define OFF_SECTIONS 12u
#define OFF_LENGTH 16u

static size_t padding(uint64_t len) { return (size_t)((8 - (len & 7)) & 7); }

static uint32_t checksum(const uint8_t *buf, size_t len)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    while (len > 0) { /* zlib takes a uInt length */
        uInt chunk = len > 0x40000000u ? 0x40000000u : (uInt)len;
        crc = crc32(crc, buf, chunk);
        buf += chunk;
        len -= chunk;
    }
    return (uint32_t)crc;
}

/* ---- the writer */

int pvh_snap_writer_init(struct pvh_snap_writer *w, struct pvh_error *err)
{
    memset(w, 0, sizeof(*w));
    w->cap = 4096;
    w->buf = calloc(1, w->cap);
    if (!w->buf) {
        w->cap = 0;
        return pvh_fail(err, PVH_E_SYSTEM, "state file: out of memory for a %zu-byte buffer", (size_t)4096);
    }
    memcpy(w->buf, MAGIC, 8);
    pvh_put_le32(w->buf + OFF_VERSION, PVH_SNAP_VERSION);
    w->len = HEADER_SIZE;
    return 0;
}

void pvh_snap_writer_free(struct pvh_snap_writer *w)
{
    free(w->buf);
    memset(w, 0, sizeof(*w));
}

static int reserve(struct pvh_snap_writer *w, size_t need, struct pvh_error *err)
{
    if (need <= w->cap)
        return 0;
    size_t cap = w->cap ? w->cap : 4096;
    while (cap < need)
        cap *= 2; /* need <= PVH_SNAP_MAX_FILE: cannot overflow */
    uint8_t *p = realloc(w->buf, cap);
    if (!p)
        return pvh_fail(err, PVH_E_SYSTEM, "state file: out of memory growing to %zu bytes", cap);
    memset(p + w->cap, 0, cap - w->cap);
    w->buf = p;
    w->cap = cap;
    return 0;
}

static bool has_section(const struct pvh_snap_writer *w, uint32_t tag, uint32_t index)
{
    size_t off = HEADER_SIZE;
    for (uint32_t i = 0; i < w->sections; i++) {
        const uint8_t *h = w->buf + off;
        if (pvh_le32(h) == tag && pvh_le32(h + 4) == index)
            return true;
        uint64_t len = pvh_le64(h + 8);
        off += SECTION_HEADER_SIZE + (size_t)len + padding(len);
    }
    return false;
}

int pvh_snap_put(struct pvh_snap_writer *w, uint32_t tag, uint32_t index, const void *data, size_t len,
                 struct pvh_error *err)
{
    if (!w->buf || w->finished)
        return pvh_fail(err, PVH_E_INPUT, "state file: section (tag %u, index %u) added to a %s writer", tag,
                        index, w->buf ? "finished" : "failed");
    if (w->sections >= PVH_SNAP_MAX_SECTIONS)
        return pvh_fail(err, PVH_E_INPUT,
                        "state file: section (tag %u, index %u) would be section %u, over the limit of %u", tag, index,
                        w->sections + 1, PVH_SNAP_MAX_SECTIONS);
    if (has_section(w, tag, index))
        return pvh_fail(err, PVH_E_INPUT, "state file: a second section (tag %u, index %u)", tag, index);
    size_t room = PVH_SNAP_MAX_FILE - w->len - TRAILER_SIZE; /* w->len never passes the limit less the trailer */
    if (room < SECTION_HEADER_SIZE || len > room - SECTION_HEADER_SIZE ||
        padding(len) > room - SECTION_HEADER_SIZE - len)
        return pvh_fail(err, PVH_E_INPUT,
                        "state file: section (tag %u, index %u) of %zu bytes would take the file past its %u-byte "
                        "limit",
                        tag, index, len, PVH_SNAP_MAX_FILE);
    size_t end = w->len + SECTION_HEADER_SIZE + len + padding(len);
    if (reserve(w, end + TRAILER_SIZE, err) != 0)
        return -1;
    uint8_t *h = w->buf + w->len;
    pvh_put_le32(h, tag);
    pvh_put_le32(h + 4, index);
    pvh_put_le64(h + 8, len);
    if (len)
        memcpy(h + SECTION_HEADER_SIZE, data, len);
    memset(h + SECTION_HEADER_SIZE + len, 0, padding(len));
    w->len = end;
    w->sections++;
    return 0;
}

int pvh_snap_finish(struct pvh_snap_writer *w, const uint8_t **out, size_t *len, struct pvh_error *err)
{
    if (!w->buf)
        return pvh_fail(err, PVH_E_INPUT, "state file: finishing a failed writer");
    if (!w->finished) {
        if (reserve(w, w->len + TRAILER_SIZE, err) != 0)
            return -1;
        pvh_put_le32(w->buf + OFF_SECTIONS, w->sections);
        pvh_put_le64(w->buf + OFF_LENGTH, w->len + TRAILER_SIZE);
        pvh_put_le32(w->buf + w->len, checksum(w->buf, w->len));
        pvh_put_le32(w->buf + w->len + 4, 0);
        w->len += TRAILER_SIZE;
        w->finished = true;
    }
    *out = w->buf;
    *len = w->len;
    return 0;
}

/* ---- the reader */

#define bad(err, ...) pvh_fail_at(err, PVH_E_INPUT, "state file", __VA_ARGS__)

static int check_header(const uint8_t *buf, size_t len, struct pvh_error *err)
{
    size_t k = 0;
    while (k < 8 && k < len && buf[k] == (uint8_t)MAGIC[k])
        k++;
    if (k < 8 && k < len)
        return bad(err, "bad magic at offset 0x%zx (not a pvhboot state file)", k);
    if (len < HEADER_SIZE)
        return bad(err, "truncated: %zu bytes, shorter than its %u-byte header", len, HEADER_SIZE);
    uint32_t version = pvh_le32(buf + OFF_VERSION);
    if (version != PVH_SNAP_VERSION)
        return bad(err, "version %u at offset 0x%x; this pvhboot reads version %u", version, OFF_VERSION,
                   PVH_SNAP_VERSION);
    uint64_t declared = pvh_le64(buf + OFF_LENGTH);
    if (declared != len)
        return bad(err, "the header's length 0x%llx at offset 0x%x is not the file's 0x%zx bytes (%s)",
                   (unsigned long long)declared, OFF_LENGTH, len, declared > len ? "truncated" : "trailing bytes");
    if (len > PVH_SNAP_MAX_FILE)
        return bad(err, "%zu bytes, over the %u-byte limit of a state file", len, PVH_SNAP_MAX_FILE);
    if (len < HEADER_SIZE + TRAILER_SIZE || len % 8)
        return bad(err, "length 0x%zx is not a header, whole 8-byte units and a trailer", len);
    uint32_t sections = pvh_le32(buf + OFF_SECTIONS);
    if (sections > PVH_SNAP_MAX_SECTIONS)
        return bad(err, "%u sections at offset 0x%x, over the limit of %u", sections, OFF_SECTIONS,
                   PVH_SNAP_MAX_SECTIONS);
    return 0;
}

/* Section i at *off: inside the file, its padding zero; *key is its
 * (tag, index), *off moves to the next one. */
static int check_section(const uint8_t *buf, size_t end, uint32_t i, size_t *off, uint64_t *key,
                         struct pvh_error *err)
{
    size_t at = *off;
    if (end - at < SECTION_HEADER_SIZE)
        return bad(err, "section %u's header at offset 0x%zx runs past the sections' end at 0x%zx", i, at, end);
    uint32_t tag = pvh_le32(buf + at);
    uint64_t len = pvh_le64(buf + at + 8);
    *key = (uint64_t)tag << 32 | pvh_le32(buf + at + 4);
    size_t room = end - at - SECTION_HEADER_SIZE; /* a multiple of 8 */
    if (len > room)
        return bad(err, "section %u (tag %u) of 0x%llx bytes at offset 0x%zx runs past the sections' end at 0x%zx", i,
                   tag, (unsigned long long)len, at, end);
    size_t data = at + SECTION_HEADER_SIZE, pad = padding(len);
    for (size_t k = 0; k < pad; k++)
        if (buf[data + (size_t)len + k])
            return bad(err, "section %u (tag %u): non-zero padding at offset 0x%zx", i, tag, data + (size_t)len + k);
    *off = data + (size_t)len + pad;
    return 0;
}

static int compare_keys(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* No (tag, index) twice: the keys sorted, neighbours compared. */
static int check_unique(uint64_t *keys, uint32_t n, struct pvh_error *err)
{
    qsort(keys, n, sizeof(*keys), compare_keys);
    for (uint32_t i = 1; i < n; i++)
        if (keys[i] == keys[i - 1])
            return bad(err, "two sections with tag %u and index %u", (uint32_t)(keys[i] >> 32), (uint32_t)keys[i]);
    return 0;
}

/* Every section inside [HEADER_SIZE, end), back to back up to end, padding
 * zero, each (tag, index) once. */
static int check_sections(const uint8_t *buf, size_t end, uint32_t sections, struct pvh_error *err)
{
    uint64_t *keys = malloc((sections ? sections : 1) * sizeof(*keys));
    if (!keys)
        return pvh_fail(err, PVH_E_SYSTEM, "state file: out of memory checking %u sections", sections);
    size_t off = HEADER_SIZE;
    int rc = 0;
    for (uint32_t i = 0; i < sections && rc == 0; i++) {
        rc = check_section(buf, end, i, &off, &keys[i], err);
    }
    if (rc == 0 && off != end)
        rc = bad(err, "0x%zx bytes at offset 0x%zx after the last of the header's %u sections", end - off, off,
                 sections);
    if (rc == 0)
        rc = check_unique(keys, sections, err);
    free(keys);
    return rc;
}

int pvh_snap_open(struct pvh_snap_reader *r, const uint8_t *buf, size_t len, struct pvh_error *err)
{
    memset(r, 0, sizeof(*r));
    if (check_header(buf, len, err) != 0)
        return -1;
    size_t end = len - TRAILER_SIZE;
    uint32_t reserved = pvh_le32(buf + end + 4);
    if (reserved)
        return bad(err, "the trailer's reserved word at offset 0x%zx is 0x%x, not zero", end + 4, reserved);
    uint32_t sections = pvh_le32(buf + OFF_SECTIONS);
    if (check_sections(buf, end, sections, err) != 0)
        return -1;
    uint32_t stored = pvh_le32(buf + end), computed = checksum(buf, end);
    if (stored != computed)
        return bad(err, "checksum 0x%08x at offset 0x%zx does not match the contents' 0x%08x (corrupt file)", stored,
                   end, computed);
    *r = (struct pvh_snap_reader){buf, len, sections};
    return 0;
}

void pvh_snap_at(const struct pvh_snap_reader *r, uint32_t i, struct pvh_snap_section *out)
{
    memset(out, 0, sizeof(*out));
    if (i >= r->sections)
        return;
    size_t off = HEADER_SIZE;
    for (uint32_t k = 0;; k++) {
        const uint8_t *h = r->buf + off;
        uint64_t len = pvh_le64(h + 8);
        if (k == i) {
            *out = (struct pvh_snap_section){pvh_le32(h), pvh_le32(h + 4), h + SECTION_HEADER_SIZE, (size_t)len};
            return;
        }
        off += SECTION_HEADER_SIZE + (size_t)len + padding(len);
    }
}

const struct pvh_snap_section *pvh_snap_find(const struct pvh_snap_reader *r, uint32_t tag, uint32_t index,
                                             struct pvh_snap_section *out)
{
    size_t off = HEADER_SIZE;
    for (uint32_t k = 0; k < r->sections; k++) {
        const uint8_t *h = r->buf + off;
        uint64_t len = pvh_le64(h + 8);
        if (pvh_le32(h) == tag && pvh_le32(h + 4) == index) {
            *out = (struct pvh_snap_section){tag, index, h + SECTION_HEADER_SIZE, (size_t)len};
            return out;
        }
        off += SECTION_HEADER_SIZE + (size_t)len + padding(len);
    }
    return NULL;
}
