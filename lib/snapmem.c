/* The --snapshot-diff memory file's trailer (pvhboot/snapmem.h): encoding
 * its header, and checking a whole file's trailer before a restore maps or
 * copies any page of it. Sizes read from the file are compared by
 * subtraction from what is left, never added first, so none can wrap. */
#include "pvhboot/snapmem.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "pvhboot/bytes.h"

#define MAGIC "PVHMEMT" /* with its NUL: 8 bytes */
#define OFF_VERSION 8
#define OFF_KIND 12
#define OFF_CHAIN 16
#define OFF_GENERATION 24
#define OFF_RESERVED1 28
#define OFF_RAM 32
#define OFF_PAGES 40
#define OFF_BITMAP 48
#define OFF_CRC 56
#define OFF_RESERVED2 60

uint64_t pvh_snapmem_bitmap_bytes(uint32_t kind, uint64_t ram)
{
    if (kind != PVH_SNAPMEM_DIFF)
        return 0;
    uint64_t pages = ram / PVH_SNAPMEM_PAGE;
    return (pages / 64 + (pages % 64 != 0)) * 8;
}

static uint32_t crc_of(const uint8_t *header, const uint8_t *bitmap, uint64_t bitmap_len)
{
    uint8_t h[PVH_SNAPMEM_HEADER];
    memcpy(h, header, sizeof(h));
    pvh_put_le32(h + OFF_CRC, 0);
    uLong crc = crc32(crc32(0L, Z_NULL, 0), h, sizeof(h));
    while (bitmap_len > 0) { /* zlib takes a uInt length */
        uInt chunk = bitmap_len > 0x40000000u ? 0x40000000u : (uInt)bitmap_len;
        crc = crc32(crc, bitmap, chunk);
        bitmap += chunk;
        bitmap_len -= chunk;
    }
    return (uint32_t)crc;
}

void pvh_snapmem_encode(const struct pvh_snapmem_id *id, uint64_t ram, const uint8_t *bitmap, uint64_t pages,
                        uint8_t out[PVH_SNAPMEM_HEADER])
{
    uint64_t bitmap_len = bitmap ? pvh_snapmem_bitmap_bytes(id->kind, ram) : 0;
    memset(out, 0, PVH_SNAPMEM_HEADER);
    memcpy(out, MAGIC, 8);
    pvh_put_le32(out + OFF_VERSION, PVH_SNAPMEM_VERSION);
    pvh_put_le32(out + OFF_KIND, id->kind);
    pvh_put_le64(out + OFF_CHAIN, id->chain);
    pvh_put_le32(out + OFF_GENERATION, id->generation);
    pvh_put_le64(out + OFF_RAM, ram);
    pvh_put_le64(out + OFF_PAGES, bitmap ? pages : 0);
    pvh_put_le64(out + OFF_BITMAP, bitmap_len);
    pvh_put_le32(out + OFF_CRC, crc_of(out, bitmap, bitmap_len));
}

#define bad(err, ...) pvh_fail_at(err, PVH_E_INPUT, "memory file", __VA_ARGS__)

static uint64_t popcount(const uint8_t *b, uint64_t len)
{
    uint64_t n = 0;
    for (uint64_t i = 0; i < len; i++)
        n += (uint64_t)__builtin_popcount(b[i]);
    return n;
}

/* No bit for a page at or past RAM's end in the last word. */
static int check_tail_bits(const uint8_t *bitmap, uint64_t bitmap_len, uint64_t ram_pages, struct pvh_error *err)
{
    for (uint64_t p = ram_pages; p < bitmap_len * 8; p++)
        if (pvh_snapmem_has(bitmap, p))
            return bad(err, "the bitmap marks page %llu, past guest RAM's %llu pages", (unsigned long long)p,
                       (unsigned long long)ram_pages);
    return 0;
}

static int check_header(const uint8_t *h, uint64_t ram, struct pvh_error *err)
{
    if (memcmp(h, MAGIC, 8) != 0)
        return bad(err, "no trailer at offset %#llx (bad magic: not a --snapshot-diff memory file)",
                   (unsigned long long)ram);
    uint32_t version = pvh_le32(h + OFF_VERSION), kind = pvh_le32(h + OFF_KIND);
    if (version != PVH_SNAPMEM_VERSION)
        return bad(err, "trailer version %u; this pvhboot reads version %u", version, PVH_SNAPMEM_VERSION);
    if (kind != PVH_SNAPMEM_FULL && kind != PVH_SNAPMEM_DIFF)
        return bad(err, "trailer kind %u (0 full, 1 diff)", kind);
    if (pvh_le32(h + OFF_RESERVED1) || pvh_le32(h + OFF_RESERVED2))
        return bad(err, "the trailer's reserved words are not zero");
    if (pvh_le64(h + OFF_RAM) != ram)
        return bad(err, "the trailer is for %#llx bytes of guest RAM, the snapshot's is %#llx",
                   (unsigned long long)pvh_le64(h + OFF_RAM), (unsigned long long)ram);
    uint64_t bitmap_len = pvh_le64(h + OFF_BITMAP);
    if (bitmap_len != pvh_snapmem_bitmap_bytes(kind, ram))
        return bad(err, "a bitmap of %#llx bytes; a %s file over this RAM has %#llx", (unsigned long long)bitmap_len,
                   kind == PVH_SNAPMEM_DIFF ? "diff" : "full", (unsigned long long)pvh_snapmem_bitmap_bytes(kind, ram));
    return 0;
}

int pvh_snapmem_open(const uint8_t *buf, size_t len, uint64_t ram, struct pvh_snapmem_id *id,
                     const uint8_t **bitmap, struct pvh_error *err)
{
    if (ram % PVH_SNAPMEM_PAGE)
        return bad(err, "guest RAM of %#llx bytes is not whole pages", (unsigned long long)ram);
    if (len < ram || len - ram < PVH_SNAPMEM_HEADER)
        return bad(err, "%zu bytes, too short for %#llx bytes of guest RAM and a %u-byte trailer", len,
                   (unsigned long long)ram, PVH_SNAPMEM_HEADER);
    const uint8_t *h = buf + ram;
    if (check_header(h, ram, err))
        return -1;
    uint64_t bitmap_len = pvh_le64(h + OFF_BITMAP);
    if (len - ram - PVH_SNAPMEM_HEADER != bitmap_len)
        return bad(err, "%zu bytes; guest RAM, the trailer and its bitmap make %#llx (%s)", len,
                   (unsigned long long)(ram + PVH_SNAPMEM_HEADER + bitmap_len),
                   len - ram - PVH_SNAPMEM_HEADER < bitmap_len ? "truncated" : "trailing bytes");
    const uint8_t *b = h + PVH_SNAPMEM_HEADER;
    uint32_t stored = pvh_le32(h + OFF_CRC), computed = crc_of(h, b, bitmap_len);
    if (stored != computed)
        return bad(err, "trailer checksum 0x%08x does not match the contents' 0x%08x (corrupt file)", stored, computed);
    uint64_t pages = pvh_le64(h + OFF_PAGES);
    if (pages != popcount(b, bitmap_len))
        return bad(err, "the trailer counts %llu pages, its bitmap %llu", (unsigned long long)pages,
                   (unsigned long long)popcount(b, bitmap_len));
    if (check_tail_bits(b, bitmap_len, ram / PVH_SNAPMEM_PAGE, err))
        return -1;
    *id = (struct pvh_snapmem_id){pvh_le32(h + OFF_KIND), pvh_le64(h + OFF_CHAIN), pvh_le32(h + OFF_GENERATION)};
    *bitmap = bitmap_len ? b : NULL;
    return 0;
}
