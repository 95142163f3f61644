/* Kernel image detection and the boot verdict: is this file a bootable PVH
 * ELF (the note wins), else a Multiboot 1 kernel (its header's load plan
 * becomes the segments), and if neither, what is it and what should the
 * user do instead. */
#include <stdio.h>
#include <string.h>

#include "elf.h"
#include "pvhboot/bzimage.h"
#include "pvhboot/multiboot.h"

const char *pvh_image_kind_name(enum pvh_image_kind kind)
{
    switch (kind) {
    case PVH_IMAGE_ELF:
        return "elf";
    case PVH_IMAGE_BZIMAGE:
        return "bzimage";
    case PVH_IMAGE_MULTIBOOT1:
        return "multiboot1";
    case PVH_IMAGE_MULTIBOOT2:
        return "multiboot2";
    default:
        return "unknown";
    }
}

const char *pvh_boot_protocol_name(enum pvh_boot_protocol p)
{
    switch (p) {
    case PVH_BOOT_PVH:
        return "pvh";
    case PVH_BOOT_MULTIBOOT1:
        return "multiboot1";
    default:
        return "none";
    }
}

static int diagnose_bzimage(const uint8_t *data, size_t size, const char *name, struct pvh_image *img,
                            struct pvh_error *err)
{
    struct pvh_bzimage_info bz;
    int found = pvh_bzimage_probe(data, size, name, &bz, err);
    if (found <= 0)
        return found;
    img->kind = PVH_IMAGE_BZIMAGE;
    img->boot_protocol = bz.protocol;
    img->payload_offset = bz.payload_offset;
    img->payload_length = bz.payload_length;
    pvh_fail(err, PVH_E_INPUT,
             "%s: a Linux bzImage (boot protocol %u.%02u), not a PVH ELF; PVH boots the uncompressed vmlinux of a kernel built with CONFIG_PVH",
             name, bz.protocol >> 8, bz.protocol & 0xff);
    return 1;
}

static void note_multiboot(const uint8_t *data, size_t size, struct pvh_image *img)
{
    img->multiboot_version = pvh_multiboot_find(data, size, &img->multiboot_header_off);
}

static int refuse_multiboot2(const char *name, struct pvh_image *img, struct pvh_error *err)
{
    img->kind = PVH_IMAGE_MULTIBOOT2;
    return pvh_fail(err, PVH_E_INPUT, "%s: offset %#llx: a Multiboot 2 kernel without the PVH note; pvhboot boots "
                    "PVH ELF and Multiboot 1 kernels, not Multiboot 2 (add a Multiboot 1 header or the "
                    "XEN_ELFNOTE_PHYS32_ENTRY note)", name, (unsigned long long)img->multiboot_header_off);
}

/* The ELF's own view of a segment, to keep its virtual address and flags
 * when the Multiboot load plan names the same bytes. */
static const struct pvh_segment *same_elf_segment(const struct pvh_image *img, size_t n,
                                                  const struct pvh_mb1_segment *m)
{
    for (size_t i = 0; i < n; i++)
        if (img->seg[i].paddr == m->paddr && img->seg[i].offset == m->offset)
            return &img->seg[i];
    return NULL;
}

_Static_assert(PVH_MB1_MAX_SEGMENTS <= PVH_MAX_SEGMENTS, "a Multiboot load plan fits the image's segments");

/* Multiboot 1 (no PVH note): the header's validated load plan becomes the
 * image's segments, so the loader needs nothing protocol-specific. */
static int use_multiboot1(const uint8_t *data, size_t size, const char *name, struct pvh_image *img,
                          struct pvh_error *err)
{
    struct pvh_mb1_load load;
    if (pvh_mb1_parse(data, size, name, &load, err) != 1) {
        img->kind = img->elf_class ? img->kind : PVH_IMAGE_MULTIBOOT1;
        return -1;
    }
    struct pvh_segment seg[PVH_MB1_MAX_SEGMENTS];
    for (size_t i = 0; i < load.nsegments; i++) {
        const struct pvh_mb1_segment *m = &load.seg[i];
        const struct pvh_segment *e = same_elf_segment(img, img->nsegments, m);
        seg[i] = (struct pvh_segment){.paddr = m->paddr, .vaddr = e ? e->vaddr : m->paddr, .offset = m->offset,
                                      .filesz = m->filesz, .memsz = m->memsz, .flags = e ? e->flags : 7};
    }
    memcpy(img->seg, seg, load.nsegments * sizeof(seg[0]));
    img->nsegments = load.nsegments;
    if (!img->elf_class)
        img->kind = PVH_IMAGE_MULTIBOOT1;
    img->protocol = PVH_BOOT_MULTIBOOT1;
    img->mb1_flags = load.header.flags;
    img->mb1_aout_kludge = load.aout_kludge;
    img->mb1_page_align = load.page_align_modules;
    img->mb1_entry = load.entry;
    snprintf(img->protocol_reason, sizeof(img->protocol_reason), "Multiboot 1 header at offset %#llx, no PVH note%s",
             (unsigned long long)img->multiboot_header_off, load.aout_kludge ? " (a.out kludge address fields)" : "");
    return 0;
}

/* No PVH note: Multiboot 1 boots, Multiboot 2 is refused, else `why`. */
static int without_pvh_note(const uint8_t *data, size_t size, const char *name, struct pvh_image *img,
                            const struct pvh_error *why, struct pvh_error *err)
{
    if (img->multiboot_version == 1)
        return use_multiboot1(data, size, name, img, err);
    if (img->multiboot_version == 2)
        return refuse_multiboot2(name, img, err);
    if (err)
        *err = *why;
    return -1;
}

static int check_pvh_entry(const char *name, const struct pvh_image *img, struct pvh_error *err)
{
    uint64_t e = img->pvh_entry;
    for (size_t i = 0; i < img->nsegments; i++) {
        const struct pvh_segment *s = &img->seg[i];
        if (e >= s->paddr && e - s->paddr < s->memsz) {
            if (!pvh_segment_is_executable(s))
                return pvh_fail(err, PVH_E_INPUT,
                                "%s: the PVH entry %#llx lies in PT_LOAD segment %zu, which is not executable",
                                name, (unsigned long long)e, i);
            if (s->paddr + s->memsz > 0x100000000ull)
                return pvh_fail(err, PVH_E_INPUT,
                                "%s: the PVH entry %#llx lies in PT_LOAD segment %zu, which reaches above 4 GiB",
                                name, (unsigned long long)e, i);
            return 0;
        }
    }
    return pvh_fail(err, PVH_E_INPUT, "%s: the PVH entry %#llx lies outside every PT_LOAD segment", name,
                    (unsigned long long)e);
}

static int pvh_verdict(const char *name, struct pvh_image *img, struct pvh_error *err)
{
    if (check_pvh_entry(name, img, err))
        return -1;
    img->protocol = PVH_BOOT_PVH;
    if (img->multiboot_version)
        snprintf(img->protocol_reason, sizeof(img->protocol_reason),
                 "PVH note present (it wins over the Multiboot %d header at offset %#llx)", img->multiboot_version,
                 (unsigned long long)img->multiboot_header_off);
    else
        snprintf(img->protocol_reason, sizeof(img->protocol_reason), "PVH note present");
    return 0;
}

int pvh_image_parse(const uint8_t *data, size_t size, const char *name, struct pvh_image *img,
                    struct pvh_error *err)
{
    struct pvh_error why = {0};
    memset(img, 0, sizeof(*img));
    if (size == 0)
        return pvh_fail(err, PVH_E_INPUT, "%s: empty file", name);
    int bz = diagnose_bzimage(data, size, name, img, err);
    if (bz != 0)
        return -1;
    note_multiboot(data, size, img);
    if (!pvh_is_elf(data, size)) {
        pvh_fail(&why, PVH_E_INPUT,
                 "%s: not a kernel image pvhboot knows (no ELF magic, bzImage header or Multiboot header); PVH boots an ELF vmlinux",
                 name);
        return without_pvh_note(data, size, name, img, &why, err);
    }
    if (pvh_elf_read(data, size, name, img, &why)) {
        if (img->multiboot_version != 1 || img->has_pvh_entry) {
            if (err)
                *err = why;
            return -1;
        }
        img->nsegments = 0; /* the Multiboot header decides what loads */
        return use_multiboot1(data, size, name, img, err);
    }
    if (!img->has_pvh_entry) {
        pvh_fail(&why, PVH_E_INPUT,
                 "%s: ELF without a XEN_ELFNOTE_PHYS32_ENTRY note: built without CONFIG_PVH (Linux) or the PVH entry; rebuild with it",
                 name);
        return without_pvh_note(data, size, name, img, &why, err);
    }
    return pvh_verdict(name, img, err);
}
