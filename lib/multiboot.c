/* Multiboot: header search (versions 1 and 2), and for Multiboot 1 the
 * validated load plan (a.out-kludge address fields or ELF program headers)
 * and the Multiboot information structure builder. Input is hostile: every
 * field is checked against the file and against 4 GiB. */
#include "pvhboot/multiboot.h"

#include <stdlib.h>
#include <string.h>
#include "pvhboot/bytes.h"

#define FOUR_GIB 0x100000000ull
#define MB1_FIXED_FIELDS 12
#define MB1_ADDRESS_FIELDS 32
#define MB1_VIDEO_FIELDS 48

/* The first offset >= from, a multiple of align, where magic's 4 bytes
 * start inside [0, limit); -1 when none. The search areas (8 and 32 KiB)
 * are read for every image parsed, so memchr (vectorised) finds candidates
 * for the magic's first byte, a byte kernels' headers and zero padding
 * rarely hold. */
static long find_aligned(const uint8_t *data, size_t limit, size_t from, uint32_t magic, size_t align)
{
    while (from + 4 <= limit) {
        const uint8_t *hit = memchr(data + from, (int)(magic & 0xff), limit - 3 - from);
        if (!hit)
            return -1;
        size_t off = (size_t)(hit - data);
        if (off % align == 0 && pvh_le32(hit) == magic)
            return (long)off;
        from = off + 1;
    }
    return -1;
}

static int find_mb1(const uint8_t *data, size_t size, uint64_t *offset)
{
    size_t limit = size < PVH_MB1_SEARCH ? size : PVH_MB1_SEARCH;
    for (long off = find_aligned(data, limit, 0, PVH_MB1_HEADER_MAGIC, 4); off >= 0 && (size_t)off + 12 <= limit;
         off = find_aligned(data, limit, (size_t)off + 4, PVH_MB1_HEADER_MAGIC, 4)) {
        const uint8_t *p = data + off;
        if (pvh_le32(p) + pvh_le32(p + 4) + pvh_le32(p + 8) == 0) {
            *offset = (uint64_t)off;
            return 1;
        }
    }
    return 0;
}

static int find_mb2(const uint8_t *data, size_t size, uint64_t *offset)
{
    size_t limit = size < PVH_MB2_SEARCH ? size : PVH_MB2_SEARCH;
    for (long off = find_aligned(data, limit, 0, PVH_MB2_HEADER_MAGIC, 8); off >= 0 && (size_t)off + 16 <= limit;
         off = find_aligned(data, limit, (size_t)off + 8, PVH_MB2_HEADER_MAGIC, 8)) {
        const uint8_t *p = data + off;
        if (pvh_le32(p) + pvh_le32(p + 4) + pvh_le32(p + 8) + pvh_le32(p + 12) == 0) {
            *offset = (uint64_t)off;
            return 2;
        }
    }
    return 0;
}

int pvh_multiboot_find(const uint8_t *data, size_t size, uint64_t *offset)
{
    if (find_mb1(data, size, offset))
        return 1;
    return find_mb2(data, size, offset);
}

/* ---- Multiboot 1 header and load plan ---- */

/* The first 4-aligned magic in the search area, or -1. */
static long first_mb1_magic(const uint8_t *data, size_t size)
{
    size_t limit = size < PVH_MB1_SEARCH ? size : PVH_MB1_SEARCH;
    for (size_t off = 0; off + 4 <= limit; off += 4)
        if (pvh_le32(data + off) == PVH_MB1_HEADER_MAGIC)
            return (long)off;
    return -1;
}

static int read_header(const uint8_t *data, size_t size, const char *name,
                       struct pvh_mb1_header *h, struct pvh_error *err)
{
    uint64_t off;
    if (!find_mb1(data, size, &off)) {
        long at = first_mb1_magic(data, size);
        if (at + MB1_FIXED_FIELDS > (long)size)
            return pvh_fail(err, PVH_E_INPUT, "%s: Multiboot 1 header at offset %#lx is cut off by the end of the file",
                            name, at);
        return pvh_fail(err, PVH_E_INPUT, "%s: Multiboot 1 header at offset %#lx has a bad checksum "
                        "(magic + flags + checksum must be 0 mod 2^32)", name, at);
    }
    const uint8_t *p = data + off;
    h->offset = off;
    h->flags = pvh_le32(p + 4);
    size_t need = (h->flags & PVH_MB1_F_VIDEO_MODE) ? MB1_VIDEO_FIELDS
                : (h->flags & PVH_MB1_F_ADDRESS) ? MB1_ADDRESS_FIELDS : MB1_FIXED_FIELDS;
    if (size - off < need)
        return pvh_fail(err, PVH_E_INPUT, "%s: Multiboot 1 header at offset %#llx needs %zu bytes, the file ends first",
                        name, (unsigned long long)off, need);
    if (need >= MB1_ADDRESS_FIELDS) {
        h->header_addr = pvh_le32(p + 12);
        h->load_addr = pvh_le32(p + 16);
        h->load_end_addr = pvh_le32(p + 20);
        h->bss_end_addr = pvh_le32(p + 24);
        h->entry_addr = pvh_le32(p + 28);
    }
    if (need >= MB1_VIDEO_FIELDS) {
        h->mode_type = pvh_le32(p + 32);
        h->width = pvh_le32(p + 36);
        h->height = pvh_le32(p + 40);
        h->depth = pvh_le32(p + 44);
    }
    uint32_t unknown = h->flags & 0xffffu & ~PVH_MB1_F_KNOWN_REQUIRED;
    if (unknown)
        return pvh_fail(err, PVH_E_INPUT, "%s: Multiboot 1 header at offset %#llx requires features pvhboot "
                        "does not provide (flag bits %#x; known: 0 module alignment, 1 memory info, 2 video mode)",
                        name, (unsigned long long)off, unknown);
    return 0;
}

static int aout_fail(const char *name, const struct pvh_mb1_header *h, struct pvh_error *err, const char *what)
{
    return pvh_fail(err, PVH_E_INPUT, "%s: Multiboot 1 header at offset %#llx: %s (header_addr %#x load_addr %#x "
                    "load_end_addr %#x bss_end_addr %#x entry_addr %#x)", name, (unsigned long long)h->offset,
                    what, h->header_addr, h->load_addr, h->load_end_addr, h->bss_end_addr, h->entry_addr);
}

/* Flag 16: text starts (header_addr - load_addr) bytes before the header in
 * the file; load_end_addr 0 means "to the end of the file"; bss_end_addr 0
 * means no bss. */
static int plan_aout(size_t size, const char *name, struct pvh_mb1_load *load, struct pvh_error *err)
{
    const struct pvh_mb1_header *h = &load->header;
    if (h->header_addr < h->load_addr)
        return aout_fail(name, h, err, "header_addr is below load_addr");
    uint64_t lead = (uint64_t)h->header_addr - h->load_addr;
    if (lead > h->offset)
        return aout_fail(name, h, err, "load_addr would start before the beginning of the file");
    uint64_t text_off = h->offset - lead;
    uint64_t filesz;
    if (h->load_end_addr == 0)
        filesz = size - text_off;
    else if (h->load_end_addr <= h->load_addr)
        return aout_fail(name, h, err, "load_end_addr is not above load_addr");
    else
        filesz = (uint64_t)h->load_end_addr - h->load_addr;
    if (filesz > size - text_off)
        return aout_fail(name, h, err, "load_end_addr lies beyond the end of the file");
    if (lead >= filesz)
        return aout_fail(name, h, err, "the header is not inside the loaded part");
    uint64_t memsz = filesz;
    if (h->bss_end_addr != 0) {
        if ((uint64_t)h->bss_end_addr < h->load_addr + filesz)
            return aout_fail(name, h, err, "bss_end_addr is below the end of the loaded part");
        memsz = (uint64_t)h->bss_end_addr - h->load_addr;
    }
    if (h->load_addr + memsz > FOUR_GIB)
        return aout_fail(name, h, err, "the image would extend past 4 GiB");
    if (h->entry_addr < h->load_addr || h->entry_addr >= h->load_addr + filesz)
        return aout_fail(name, h, err, "entry_addr is outside the loaded part");
    load->aout_kludge = true;
    load->entry = h->entry_addr;
    load->nsegments = 1;
    load->seg[0] = (struct pvh_mb1_segment){text_off, h->load_addr, filesz, memsz};
    return 0;
}

/* ELF program headers, read for either class. */
struct elf_view {
    int is64;
    uint64_t entry, phoff;
    uint16_t phentsize, phnum;
};

static int elf_view(const uint8_t *d, size_t size, const char *name, struct elf_view *v, struct pvh_error *err)
{
    static const uint8_t magic[4] = {0x7f, 'E', 'L', 'F'};
    if (size < 52 || memcmp(d, magic, 4) != 0)
        return pvh_fail(err, PVH_E_INPUT, "%s: Multiboot 1 kernel without address fields (flag 16) must be an ELF file", name);
    if ((d[4] != 1 && d[4] != 2) || d[5] != 1)
        return pvh_fail(err, PVH_E_INPUT, "%s: ELF class %u / data encoding %u unsupported (little-endian ELF32 or ELF64 needed)",
                        name, d[4], d[5]);
    uint16_t machine = pvh_le16(d + 18);
    if (machine != 3 && machine != 62)
        return pvh_fail(err, PVH_E_INPUT, "%s: ELF machine %u is not x86", name, machine);
    v->is64 = d[4] == 2;
    if (v->is64 && size < 64)
        return pvh_fail(err, PVH_E_INPUT, "%s: ELF64 header truncated", name);
    v->entry = v->is64 ? pvh_le64(d + 24) : pvh_le32(d + 24);
    v->phoff = v->is64 ? pvh_le64(d + 32) : pvh_le32(d + 28);
    v->phentsize = pvh_le16(d + (v->is64 ? 54 : 42));
    v->phnum = pvh_le16(d + (v->is64 ? 56 : 44));
    size_t want = v->is64 ? 56 : 32;
    if (v->phentsize < want)
        return pvh_fail(err, PVH_E_INPUT, "%s: ELF program header entries of %u bytes (need %zu)", name, v->phentsize, want);
    if (v->phoff > size || (uint64_t)v->phnum * v->phentsize > size - v->phoff)
        return pvh_fail(err, PVH_E_INPUT, "%s: ELF program headers at offset %#llx run past the end of the file",
                        name, (unsigned long long)v->phoff);
    return 0;
}

static int add_elf_segment(const uint8_t *ph, int is64, size_t size, const char *name,
                           struct pvh_mb1_load *load, uint64_t *vaddr, struct pvh_error *err)
{
    struct pvh_mb1_segment s;
    s.offset = is64 ? pvh_le64(ph + 8) : pvh_le32(ph + 4);
    *vaddr = is64 ? pvh_le64(ph + 16) : pvh_le32(ph + 8);
    s.paddr = is64 ? pvh_le64(ph + 24) : pvh_le32(ph + 12);
    s.filesz = is64 ? pvh_le64(ph + 32) : pvh_le32(ph + 16);
    s.memsz = is64 ? pvh_le64(ph + 40) : pvh_le32(ph + 20);
    if (s.memsz == 0)
        return 0;
    if (s.filesz > s.memsz || s.offset > size || s.filesz > size - s.offset)
        return pvh_fail(err, PVH_E_INPUT, "%s: ELF segment at file offset %#llx (%#llx bytes) lies outside the file "
                        "or is larger than its memory size", name, (unsigned long long)s.offset,
                        (unsigned long long)s.filesz);
    if (s.paddr >= FOUR_GIB || s.memsz > FOUR_GIB - s.paddr)
        return pvh_fail(err, PVH_E_INPUT, "%s: ELF segment at physical %#llx (%#llx bytes) extends past 4 GiB",
                        name, (unsigned long long)s.paddr, (unsigned long long)s.memsz);
    for (size_t i = 0; i < load->nsegments; i++) {
        const struct pvh_mb1_segment *o = &load->seg[i];
        if (s.paddr < o->paddr + o->memsz && o->paddr < s.paddr + s.memsz)
            return pvh_fail(err, PVH_E_INPUT, "%s: ELF segments at physical %#llx and %#llx overlap", name,
                            (unsigned long long)o->paddr, (unsigned long long)s.paddr);
    }
    if (load->nsegments == PVH_MB1_MAX_SEGMENTS)
        return pvh_fail(err, PVH_E_INPUT, "%s: more than %d loadable ELF segments", name, PVH_MB1_MAX_SEGMENTS);
    load->seg[load->nsegments++] = s;
    return 0;
}

static int plan_elf(const uint8_t *d, size_t size, const char *name, struct pvh_mb1_load *load,
                    struct pvh_error *err)
{
    struct elf_view v = {0};
    if (elf_view(d, size, name, &v, err) != 0)
        return -1;
    uint64_t entry = v.entry;
    bool entry_found = false;
    for (uint16_t i = 0; i < v.phnum; i++) {
        const uint8_t *ph = d + v.phoff + (uint64_t)i * v.phentsize;
        if (pvh_le32(ph) != 1) /* PT_LOAD */
            continue;
        uint64_t vaddr;
        size_t before = load->nsegments;
        if (add_elf_segment(ph, v.is64, size, name, load, &vaddr, err) != 0)
            return -1;
        const struct pvh_mb1_segment *s = &load->seg[before];
        if (load->nsegments > before && !entry_found && v.entry >= vaddr && v.entry - vaddr < s->filesz) {
            entry = s->paddr + (v.entry - vaddr);
            entry_found = true;
        }
    }
    if (load->nsegments == 0)
        return pvh_fail(err, PVH_E_INPUT, "%s: ELF file has no loadable segment", name);
    if (!entry_found)
        return pvh_fail(err, PVH_E_INPUT, "%s: ELF entry point %#llx is not inside a loaded segment",
                        name, (unsigned long long)v.entry);
    load->entry = (uint32_t)entry;
    return 0;
}

int pvh_mb1_parse(const uint8_t *data, size_t size, const char *name,
                  struct pvh_mb1_load *load, struct pvh_error *err)
{
    memset(load, 0, sizeof(*load));
    if (first_mb1_magic(data, size) < 0)
        return 0;
    if (read_header(data, size, name, &load->header, err) != 0)
        return -1;
    load->page_align_modules = load->header.flags & PVH_MB1_F_PAGE_ALIGN;
    load->wants_video = load->header.flags & PVH_MB1_F_VIDEO_MODE;
    int rc = (load->header.flags & PVH_MB1_F_ADDRESS) ? plan_aout(size, name, load, err)
                                                      : plan_elf(data, size, name, load, err);
    return rc == 0 ? 1 : -1;
}
