/* Kernel image reader: what a file is (PVH ELF, bzImage, Multiboot...), its
 * loadable segments and its Xen notes. Input is hostile: every offset and size
 * is checked against the buffer; nothing outside it is ever read.
 * Parsing reads headers and notes only; segment bytes stay untouched. */
#ifndef PVHBOOT_IMAGE_H
#define PVHBOOT_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pvhboot/error.h"

enum pvh_image_kind {
    PVH_IMAGE_UNKNOWN = 0,
    PVH_IMAGE_ELF,        /* ELF32 or ELF64 x86 executable */
    PVH_IMAGE_BZIMAGE,    /* Linux bzImage (boot protocol header "HdrS") */
    PVH_IMAGE_MULTIBOOT1, /* non-ELF file with a Multiboot 1 header */
    PVH_IMAGE_MULTIBOOT2,
};

/* How a parsed image boots: PVH when the ELF carries the PHYS32_ENTRY note
 * (even when it also has a Multiboot header), else Multiboot 1 when it has a
 * valid Multiboot 1 header, else not at all. */
enum pvh_boot_protocol {
    PVH_BOOT_NONE = 0,
    PVH_BOOT_PVH,
    PVH_BOOT_MULTIBOOT1,
};

#define PVH_MAX_SEGMENTS 64
#define PVH_MAX_NOTES 64

/* Bounds on reading notes, so that any file parses in milliseconds (a
 * hostile one could name one large area of empty notes from each of 65535
 * program headers). Debian's kernels have one note area of about 500 bytes
 * holding about 20 notes. Each distinct area (offset, size) is read once;
 * going past a bound is an error naming the file and the bound. */
#define PVH_MAX_NOTE_AREAS 64            /* distinct PT_NOTE / SHT_NOTE areas */
#define PVH_MAX_NOTE_BYTES (1u << 20)    /* their sizes added up */
#define PVH_MAX_NOTES_SCANNED 4096       /* notes of any owner, all areas */

struct pvh_segment {
    uint64_t paddr;
    uint64_t vaddr;
    uint64_t offset;   /* in the file */
    uint64_t filesz;
    uint64_t memsz;
    uint32_t flags;    /* PF_X=1, PF_W=2, PF_R=4 */
};

struct pvh_note {
    uint32_t type;       /* XEN_ELFNOTE_xxx */
    uint64_t desc_off;   /* offset of the descriptor in the file */
    uint32_t desc_size;
};

struct pvh_image {
    enum pvh_image_kind kind;
    int elf_class;            /* 32 or 64, 0 when not ELF */
    uint16_t elf_machine;     /* EM_386 or EM_X86_64 */
    uint64_t elf_entry;       /* e_entry (virtual) */
    size_t nsegments;         /* PT_LOAD segments, in file order */
    struct pvh_segment seg[PVH_MAX_SEGMENTS];
    size_t nnotes;            /* every Xen note found, in file order */
    struct pvh_note notes[PVH_MAX_NOTES];
    bool has_pvh_entry;
    uint64_t pvh_entry;       /* XEN_ELFNOTE_PHYS32_ENTRY: guest-physical */
    bool has_reloc;           /* XEN_ELFNOTE_PHYS32_RELOC */
    uint32_t reloc_align, reloc_min, reloc_max;
    /* bzImage only */
    uint16_t boot_protocol;   /* e.g. 0x020f */
    uint64_t payload_offset;  /* compressed payload, offset in the file */
    uint64_t payload_length;
    /* Multiboot header (also set for an ELF that carries one) */
    int multiboot_version;    /* 0 none, 1 or 2 */
    uint64_t multiboot_header_off;
    /* The verdict: the protocol and why, e.g. "PVH note present" */
    enum pvh_boot_protocol protocol;
    char protocol_reason[128];
    /* Multiboot 1 only: seg[] holds the load plan of its header (a.out-kludge
     * address fields or ELF program headers), every segment below 4 GiB */
    uint32_t mb1_flags;       /* header flags */
    bool mb1_aout_kludge;     /* flag 16: segments from the address fields */
    bool mb1_page_align;      /* flag 0: modules 4 KiB aligned */
    uint32_t mb1_entry;       /* guest-physical EIP */
};

/* Parses `size` bytes of the file called `name` (used in messages).
 * Returns 0 when the image is bootable (img->protocol says how: a PVH ELF,
 * or a Multiboot 1 kernel without the PVH note); otherwise -1 with err
 * naming the file, the offset where relevant and what to do. img is filled
 * as far as parsing got (kind is set for bzImage/Multiboot diagnoses). */
int pvh_image_parse(const uint8_t *data, size_t size, const char *name,
                    struct pvh_image *img, struct pvh_error *err);

/* "elf", "bzimage", "multiboot1", "multiboot2", "unknown". */
const char *pvh_image_kind_name(enum pvh_image_kind kind);
const char *pvh_boot_protocol_name(enum pvh_boot_protocol p); /* "pvh", "multiboot1", "none" */

/* How a Xen note's descriptor is meant to be read (for `inspect`). A NUMBER
 * of 1, 2, 4 or 8 bytes is little endian; other sizes are shown as bytes. */
enum pvh_note_format {
    PVH_NOTE_BYTES,    /* unknown type, or a byte array (L1_MFN_VALID) */
    PVH_NOTE_STRING,   /* NUL-terminated */
    PVH_NOTE_FEATURES, /* a string of '|'-separated names, '!' = required */
    PVH_NOTE_NUMBER,
    PVH_NOTE_RELOC,    /* PHYS32_RELOC: align, min, max (u32 each) */
};
/* The format of Xen note `type` (XEN_ELFNOTE_*); BYTES for unknown types. */
enum pvh_note_format pvh_xen_note_format(uint32_t type);

#endif
