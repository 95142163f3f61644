/* Xen ELF notes: walking a note area (entries padded to 4 bytes, whatever the
 * segment's alignment) once, within the bounds on areas, bytes and notes
 * (PVH_MAX_NOTE_*), recording the notes whose owner is "Xen", decoding
 * the two PVH ones (PHYS32_ENTRY, PHYS32_RELOC), and how each note type's
 * descriptor is to be shown. */
#include <string.h>

#include "elf.h"
#include "pvh/start_info.h"

#define NOTE_HEADER 12

static uint64_t pad4(uint64_t n)
{
    return (n + 3) & ~3ull;
}

static int decode_entry(const uint8_t *desc, uint32_t descsz, const char *name, uint64_t at,
                        struct pvh_image *img, struct pvh_error *err)
{
    if (descsz != 4 && descsz != 8)
        return pvh_fail(err, PVH_E_INPUT,
                        "%s: offset %#llx: XEN_ELFNOTE_PHYS32_ENTRY has a %u-byte descriptor; expected 4 or 8",
                        name, (unsigned long long)at, descsz);
    uint64_t entry = pvh_le(desc, descsz);
    if (entry >> 32)
        return pvh_fail(err, PVH_E_INPUT,
                        "%s: offset %#llx: XEN_ELFNOTE_PHYS32_ENTRY %#llx is not a 32-bit address", name,
                        (unsigned long long)at, (unsigned long long)entry);
    img->has_pvh_entry = true;
    img->pvh_entry = entry;
    return 0;
}

static int decode_reloc(const uint8_t *desc, uint32_t descsz, const char *name, uint64_t at,
                        struct pvh_image *img, struct pvh_error *err)
{
    if (descsz != 12)
        return pvh_fail(err, PVH_E_INPUT,
                        "%s: offset %#llx: XEN_ELFNOTE_PHYS32_RELOC has a %u-byte descriptor; expected 12 (align, min, max)",
                        name, (unsigned long long)at, descsz);
    uint32_t align = (uint32_t)pvh_le(desc, 4), min = (uint32_t)pvh_le(desc + 4, 4);
    uint32_t max = (uint32_t)pvh_le(desc + 8, 4);
    if (align == 0 || (align & (align - 1)) != 0 || min > max)
        return pvh_fail(err, PVH_E_INPUT,
                        "%s: offset %#llx: XEN_ELFNOTE_PHYS32_RELOC align %#x min %#x max %#x is invalid (align must be a power of two, min <= max)",
                        name, (unsigned long long)at, align, min, max);
    img->has_reloc = true;
    img->reloc_align = align;
    img->reloc_min = min;
    img->reloc_max = max;
    return 0;
}

static int record_xen_note(const uint8_t *data, uint32_t type, uint64_t desc_off, uint32_t descsz,
                           const char *name, uint64_t at, struct pvh_image *img, struct pvh_error *err)
{
    if (img->nnotes == PVH_MAX_NOTES)
        return pvh_fail(err, PVH_E_INPUT, "%s: offset %#llx: more than %d Xen notes", name,
                        (unsigned long long)at, PVH_MAX_NOTES);
    img->notes[img->nnotes++] = (struct pvh_note){type, desc_off, descsz};
    if (type == XEN_ELFNOTE_PHYS32_ENTRY && !img->has_pvh_entry)
        return decode_entry(data + desc_off, descsz, name, at, img, err);
    if (type == XEN_ELFNOTE_PHYS32_RELOC && !img->has_reloc)
        return decode_reloc(data + desc_off, descsz, name, at, img, err);
    return 0;
}

static bool already_scanned(const struct pvh_note_scan *scan, uint64_t off, uint64_t len)
{
    for (size_t i = 0; i < scan->nareas; i++)
        if (scan->area_off[i] == off && scan->area_len[i] == len)
            return true;
    return false;
}

/* Counts a new area against the bounds on areas and bytes. */
static int add_area(struct pvh_note_scan *scan, const char *name, uint64_t off, uint64_t len,
                    struct pvh_error *err)
{
    if (scan->nareas == PVH_MAX_NOTE_AREAS)
        return pvh_fail(err, PVH_E_INPUT,
                        "%s: offset %#llx: more than %d distinct note areas (pvhboot's limit; kernels have one or two)",
                        name, (unsigned long long)off, PVH_MAX_NOTE_AREAS);
    if (len > PVH_MAX_NOTE_BYTES - scan->bytes)
        return pvh_fail(err, PVH_E_INPUT,
                        "%s: offset %#llx: with this note area (%#llx bytes) the note areas add up to more than %u KiB (pvhboot's limit; kernels have under 4 KiB)",
                        name, (unsigned long long)off, (unsigned long long)len, PVH_MAX_NOTE_BYTES >> 10);
    scan->area_off[scan->nareas] = off;
    scan->area_len[scan->nareas++] = len;
    scan->bytes += len;
    return 0;
}

int pvh_notes_scan(const uint8_t *data, size_t size, const char *name, uint64_t off, uint64_t len,
                   struct pvh_note_scan *scan, struct pvh_image *img, struct pvh_error *err)
{
    if (off > size || len > size - off)
        return pvh_fail(err, PVH_E_INPUT,
                        "%s: offset %#llx: note area (%#llx bytes) runs past the end of the file (%zu bytes)", name,
                        (unsigned long long)off, (unsigned long long)len, size);
    if (len < NOTE_HEADER || already_scanned(scan, off, len))
        return 0;
    if (add_area(scan, name, off, len, err))
        return -1;
    uint64_t end = off + len, at = off;
    while (end - at >= NOTE_HEADER) {
        if (++scan->notes > PVH_MAX_NOTES_SCANNED)
            return pvh_fail(err, PVH_E_INPUT,
                            "%s: offset %#llx: more than %d notes in all note areas (pvhboot's limit; kernels have a few dozen)",
                            name, (unsigned long long)at, PVH_MAX_NOTES_SCANNED);
        uint64_t namesz = pvh_le(data + at, 4), descsz = pvh_le(data + at + 4, 4);
        uint32_t type = (uint32_t)pvh_le(data + at + 8, 4);
        uint64_t name_off = at + NOTE_HEADER, desc_off = name_off + pad4(namesz);
        if (pad4(namesz) > end - name_off || pad4(descsz) > end - desc_off)
            return pvh_fail(err, PVH_E_INPUT,
                            "%s: offset %#llx: note (name %llu bytes, descriptor %llu bytes) runs past its note area ending at %#llx",
                            name, (unsigned long long)at, (unsigned long long)namesz,
                            (unsigned long long)descsz, (unsigned long long)end);
        if (namesz == 4 && memcmp(data + name_off, "Xen", 4) == 0 &&
            record_xen_note(data, type, desc_off, (uint32_t)descsz, name, at, img, err))
            return -1;
        at = desc_off + pad4(descsz);
    }
    return 0;
}

enum pvh_note_format pvh_xen_note_format(uint32_t type)
{
    switch (type) {
    case XEN_ELFNOTE_XEN_VERSION:
    case XEN_ELFNOTE_GUEST_OS:
    case XEN_ELFNOTE_GUEST_VERSION:
    case XEN_ELFNOTE_LOADER:
    case XEN_ELFNOTE_PAE_MODE:
    case XEN_ELFNOTE_BSD_SYMTAB:
        return PVH_NOTE_STRING;
    case XEN_ELFNOTE_FEATURES:
        return PVH_NOTE_FEATURES;
    case XEN_ELFNOTE_ENTRY:
    case XEN_ELFNOTE_HYPERCALL_PAGE:
    case XEN_ELFNOTE_VIRT_BASE:
    case XEN_ELFNOTE_PADDR_OFFSET:
    case XEN_ELFNOTE_HV_START_LOW:
    case XEN_ELFNOTE_SUSPEND_CANCEL:
    case XEN_ELFNOTE_INIT_P2M:
    case XEN_ELFNOTE_MOD_START_PFN:
    case XEN_ELFNOTE_SUPPORTED_FEATURES:
    case XEN_ELFNOTE_PHYS32_ENTRY:
        return PVH_NOTE_NUMBER;
    case XEN_ELFNOTE_PHYS32_RELOC:
        return PVH_NOTE_RELOC;
    default:
        return PVH_NOTE_BYTES;
    }
}
