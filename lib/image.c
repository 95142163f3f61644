/* Kernel image detection and the PVH verdict: is this file a bootable PVH
 * ELF, and if not, what is it and what should the user do instead. */
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

static int diagnose_multiboot(const char *name, struct pvh_image *img, const char *why, struct pvh_error *err)
{
    img->kind = img->multiboot_version == 1 ? PVH_IMAGE_MULTIBOOT1 : PVH_IMAGE_MULTIBOOT2;
    return pvh_fail(err, PVH_E_INPUT, "%s: offset %#llx: a Multiboot %d kernel %s; PVH needs XEN_ELFNOTE_PHYS32_ENTRY",
                    name, (unsigned long long)img->multiboot_header_off, img->multiboot_version, why);
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

int pvh_image_parse(const uint8_t *data, size_t size, const char *name, struct pvh_image *img,
                    struct pvh_error *err)
{
    memset(img, 0, sizeof(*img));
    if (size == 0)
        return pvh_fail(err, PVH_E_INPUT, "%s: empty file", name);
    int bz = diagnose_bzimage(data, size, name, img, err);
    if (bz != 0)
        return -1;
    note_multiboot(data, size, img);
    if (!pvh_is_elf(data, size)) {
        if (img->multiboot_version)
            return diagnose_multiboot(name, img, "(not ELF)", err);
        return pvh_fail(err, PVH_E_INPUT,
                        "%s: not a kernel image pvhboot knows (no ELF magic, bzImage header or Multiboot header); PVH boots an ELF vmlinux",
                        name);
    }
    if (pvh_elf_read(data, size, name, img, err))
        return -1;
    if (!img->has_pvh_entry) {
        if (img->multiboot_version)
            return diagnose_multiboot(name, img, "without the PVH note", err);
        return pvh_fail(err, PVH_E_INPUT,
                        "%s: ELF without a XEN_ELFNOTE_PHYS32_ENTRY note: built without CONFIG_PVH (Linux) or the PVH entry; rebuild with it",
                        name);
    }
    return check_pvh_entry(name, img, err);
}
