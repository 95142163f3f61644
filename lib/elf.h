/* Internal to lib/: ELF reading and Xen note scanning for image.c. */
#ifndef PVHBOOT_LIB_ELF_H
#define PVHBOOT_LIB_ELF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pvhboot/bytes.h"
#include "pvhboot/image.h"

bool pvh_is_elf(const uint8_t *data, size_t size);

/* Reads the ELF header, PT_LOAD segments and Xen notes into img. */
int pvh_elf_read(const uint8_t *data, size_t size, const char *name, struct pvh_image *img,
                 struct pvh_error *err);

bool pvh_segment_is_executable(const struct pvh_segment *s);

/* What one image's note reading has covered so far: the distinct areas and
 * the bytes and notes in them, held to the PVH_MAX_NOTE_* bounds. Zeroed
 * before the first area. */
struct pvh_note_scan {
    uint64_t area_off[PVH_MAX_NOTE_AREAS], area_len[PVH_MAX_NOTE_AREAS];
    size_t nareas;
    uint64_t bytes, notes;
};

/* Walks the notes in [off, off+len) of the file, recording Xen ones in img
 * and decoding PHYS32_ENTRY and PHYS32_RELOC (the first of each wins). An
 * area already walked (same offset and size) is skipped. */
int pvh_notes_scan(const uint8_t *data, size_t size, const char *name, uint64_t off, uint64_t len,
                   struct pvh_note_scan *scan, struct pvh_image *img, struct pvh_error *err);

#endif
