/* ELF32/ELF64 reading for kernel images: file header, program headers
 * (PT_LOAD by physical address, PT_NOTE) and section headers (SHT_NOTE when
 * there is no PT_NOTE), the notes of all of them read under one set of
 * bounds (struct pvh_note_scan). Every offset and size is checked against the
 * buffer before it is read; nothing here touches segment contents. */
#include "elf.h"

#include <string.h>

#define EI_CLASS 4
#define EI_DATA 5
#define EI_VERSION 6
#define ELFCLASS32 1
#define ELFCLASS64 2
#define ELFDATA2LSB 1
#define ET_REL 1
#define ET_EXEC 2
#define ET_DYN 3
#define ET_CORE 4
#define EM_386 3
#define EM_X86_64 62
#define PT_LOAD 1
#define PT_NOTE 4
#define SHT_NOTE 7
#define PF_X 1

/* Field offsets and sizes that differ between the two classes. */
struct elf_layout {
    unsigned ehdr_size, phoff, shoff, phentsize_at, phnum_at, shentsize_at, shnum_at, entry_at;
    unsigned ph_size, ph_type, ph_flags, ph_offset, ph_vaddr, ph_paddr, ph_filesz, ph_memsz, word;
    unsigned sh_size, sh_type, sh_offset, sh_size_at;
};

static const struct elf_layout layout32 = {52, 28, 32, 42, 44, 46, 48, 24,
                                           32, 0, 24, 4, 8, 12, 16, 20, 4,
                                           40, 4, 16, 20};
static const struct elf_layout layout64 = {64, 32, 40, 54, 56, 58, 60, 24,
                                           56, 0, 4, 8, 16, 24, 32, 40, 8,
                                           64, 4, 24, 32};

static int check_ident(const uint8_t *d, size_t size, const char *name, struct pvh_error *err)
{
    if (size < 16)
        return pvh_fail(err, PVH_E_INPUT, "%s: truncated ELF identification (%zu bytes, need 16)", name, size);
    if (d[EI_CLASS] != ELFCLASS32 && d[EI_CLASS] != ELFCLASS64)
        return pvh_fail(err, PVH_E_INPUT, "%s: offset 0x4: ELF class %u is neither ELF32 nor ELF64", name, d[EI_CLASS]);
    if (d[EI_DATA] != ELFDATA2LSB)
        return pvh_fail(err, PVH_E_INPUT,
                        "%s: offset 0x5: big-endian ELF (data encoding %u); x86 kernels are little endian", name,
                        d[EI_DATA]);
    if (d[EI_VERSION] != 1)
        return pvh_fail(err, PVH_E_INPUT, "%s: offset 0x6: ELF version %u, expected 1", name, d[EI_VERSION]);
    return 0;
}

/* What a non-executable ELF is, in words a user recognises. */
static int refuse_elf_type(const char *name, unsigned type, struct pvh_error *err)
{
    switch (type) {
    case ET_REL:
        return pvh_fail(err, PVH_E_INPUT, "%s: an object file (ELF type 1, ET_REL), not a kernel; link it into an "
                        "executable (ET_EXEC) with the PVH note", name);
    case ET_DYN:
        return pvh_fail(err, PVH_E_INPUT, "%s: a program or shared library (ELF type 3, ET_DYN), not a kernel; "
                        "pvhboot boots kernels such as /boot/vmlinuz-* or a vmlinux", name);
    case ET_CORE:
        return pvh_fail(err, PVH_E_INPUT, "%s: a core dump (ELF type 4, ET_CORE), not a kernel", name);
    default:
        return pvh_fail(err, PVH_E_INPUT, "%s: offset 0x10: ELF type %u is not an executable (ET_EXEC)", name, type);
    }
}

static int check_header(const uint8_t *d, size_t size, const char *name, const struct elf_layout *l,
                        struct pvh_image *img, struct pvh_error *err)
{
    if (size < l->ehdr_size)
        return pvh_fail(err, PVH_E_INPUT, "%s: truncated ELF header (%zu bytes, need %u)", name, size, l->ehdr_size);
    uint16_t type = (uint16_t)pvh_le(d + 16, 2), machine = (uint16_t)pvh_le(d + 18, 2);
    img->elf_machine = machine;
    img->elf_entry = pvh_le(d + l->entry_at, l->word);
    if (machine != EM_386 && machine != EM_X86_64)
        return pvh_fail(err, PVH_E_INPUT,
                        "%s: offset 0x12: ELF machine %u is not x86 (EM_386 or EM_X86_64); PVH boots x86 kernels only",
                        name, machine);
    if (type != ET_EXEC)
        return refuse_elf_type(name, type, err);
    return 0;
}

/* Checks that a table of num entries of entsize bytes at off fits the file. */
static int check_table(size_t size, const char *name, const char *what, uint64_t off, uint64_t num,
                       uint64_t entsize, unsigned min_entsize, struct pvh_error *err)
{
    if (num == 0)
        return 0;
    if (entsize < min_entsize)
        return pvh_fail(err, PVH_E_INPUT, "%s: %s entry size %llu is smaller than %u", name, what,
                        (unsigned long long)entsize, min_entsize);
    if (off > size || num * entsize > size - off)
        return pvh_fail(err, PVH_E_INPUT,
                        "%s: offset %#llx: %s (%llu entries of %llu bytes) runs past the end of the file (%zu bytes)",
                        name, (unsigned long long)off, what, (unsigned long long)num,
                        (unsigned long long)entsize, size);
    return 0;
}

static int add_segment(const uint8_t *ph, const struct elf_layout *l, size_t size, const char *name,
                       uint64_t ph_off, struct pvh_image *img, struct pvh_error *err)
{
    struct pvh_segment s = {
        .flags = (uint32_t)pvh_le(ph + l->ph_flags, 4),
        .offset = pvh_le(ph + l->ph_offset, l->word),
        .vaddr = pvh_le(ph + l->ph_vaddr, l->word),
        .paddr = pvh_le(ph + l->ph_paddr, l->word),
        .filesz = pvh_le(ph + l->ph_filesz, l->word),
        .memsz = pvh_le(ph + l->ph_memsz, l->word),
    };
    size_t n = img->nsegments;
    if (n == PVH_MAX_SEGMENTS)
        return pvh_fail(err, PVH_E_INPUT, "%s: offset %#llx: more than %d PT_LOAD segments", name,
                        (unsigned long long)ph_off, PVH_MAX_SEGMENTS);
    if (s.filesz > s.memsz)
        return pvh_fail(err, PVH_E_INPUT,
                        "%s: offset %#llx: PT_LOAD segment %zu has file size %#llx larger than its memory size %#llx",
                        name, (unsigned long long)ph_off, n, (unsigned long long)s.filesz,
                        (unsigned long long)s.memsz);
    if (s.offset > size || s.filesz > size - s.offset)
        return pvh_fail(err, PVH_E_INPUT,
                        "%s: offset %#llx: PT_LOAD segment %zu (file offset %#llx, %#llx bytes) runs past the end of the file (%zu bytes)",
                        name, (unsigned long long)ph_off, n, (unsigned long long)s.offset,
                        (unsigned long long)s.filesz, size);
    if (s.paddr + s.memsz < s.paddr)
        return pvh_fail(err, PVH_E_INPUT,
                        "%s: offset %#llx: PT_LOAD segment %zu: address %#llx + size %#llx overflows", name,
                        (unsigned long long)ph_off, n, (unsigned long long)s.paddr, (unsigned long long)s.memsz);
    for (size_t i = 0; i < n; i++) {
        const struct pvh_segment *o = &img->seg[i];
        if (s.memsz && o->memsz && s.paddr < o->paddr + o->memsz && o->paddr < s.paddr + s.memsz)
            return pvh_fail(err, PVH_E_INPUT,
                            "%s: offset %#llx: PT_LOAD segment %zu [%#llx, %#llx) overlaps segment %zu [%#llx, %#llx)",
                            name, (unsigned long long)ph_off, n, (unsigned long long)s.paddr,
                            (unsigned long long)(s.paddr + s.memsz), i, (unsigned long long)o->paddr,
                            (unsigned long long)(o->paddr + o->memsz));
    }
    img->seg[n] = s;
    img->nsegments = n + 1;
    return 0;
}

static int read_program_headers(const uint8_t *d, size_t size, const char *name, const struct elf_layout *l,
                                struct pvh_note_scan *scan, struct pvh_image *img, unsigned *nnote_segments,
                                struct pvh_error *err)
{
    uint64_t phoff = pvh_le(d + l->phoff, l->word);
    uint64_t phentsize = pvh_le(d + l->phentsize_at, 2), phnum = pvh_le(d + l->phnum_at, 2);
    if (check_table(size, name, "program header table", phoff, phnum, phentsize, l->ph_size, err))
        return -1;
    *nnote_segments = 0;
    for (uint64_t i = 0; i < phnum; i++) {
        uint64_t at = phoff + i * phentsize;
        const uint8_t *ph = d + at;
        uint32_t type = (uint32_t)pvh_le(ph + l->ph_type, 4);
        if (type == PT_LOAD && add_segment(ph, l, size, name, at, img, err))
            return -1;
        if (type == PT_NOTE) {
            (*nnote_segments)++;
            if (pvh_notes_scan(d, size, name, pvh_le(ph + l->ph_offset, l->word),
                               pvh_le(ph + l->ph_filesz, l->word), scan, img, err))
                return -1;
        }
    }
    return 0;
}

static int read_note_sections(const uint8_t *d, size_t size, const char *name, const struct elf_layout *l,
                              struct pvh_note_scan *scan, struct pvh_image *img, struct pvh_error *err)
{
    uint64_t shoff = pvh_le(d + l->shoff, l->word);
    uint64_t shentsize = pvh_le(d + l->shentsize_at, 2), shnum = pvh_le(d + l->shnum_at, 2);
    if (shoff == 0)
        return 0;
    if (check_table(size, name, "section header table", shoff, shnum, shentsize, l->sh_size, err))
        return -1;
    for (uint64_t i = 0; i < shnum; i++) {
        const uint8_t *sh = d + shoff + i * shentsize;
        if (pvh_le(sh + l->sh_type, 4) == SHT_NOTE &&
            pvh_notes_scan(d, size, name, pvh_le(sh + l->sh_offset, l->word),
                           pvh_le(sh + l->sh_size_at, l->word), scan, img, err))
            return -1;
    }
    return 0;
}

bool pvh_is_elf(const uint8_t *data, size_t size)
{
    return size >= 4 && memcmp(data, "\x7f" "ELF", 4) == 0;
}

int pvh_elf_read(const uint8_t *data, size_t size, const char *name, struct pvh_image *img,
                 struct pvh_error *err)
{
    if (check_ident(data, size, name, err))
        return -1;
    const struct elf_layout *l = data[EI_CLASS] == ELFCLASS64 ? &layout64 : &layout32;
    img->kind = PVH_IMAGE_ELF;
    img->elf_class = data[EI_CLASS] == ELFCLASS64 ? 64 : 32;
    unsigned nnote_segments;
    struct pvh_note_scan scan = {0};
    if (check_header(data, size, name, l, img, err) ||
        read_program_headers(data, size, name, l, &scan, img, &nnote_segments, err))
        return -1;
    if (nnote_segments == 0)
        return read_note_sections(data, size, name, l, &scan, img, err);
    return 0;
}

bool pvh_segment_is_executable(const struct pvh_segment *s)
{
    return (s->flags & PF_X) != 0;
}
