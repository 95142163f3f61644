/* Multiboot 1 and 2 header recognition (the header must sit in the first
 * 8 KiB, 4-aligned, for Multiboot 1; first 32 KiB, 8-aligned, for Multiboot 2,
 * with a valid checksum), and Multiboot 1 loading as data: the header's
 * validated load plan, and the Multiboot information structure (MBI).
 *
 * Entry state for a Multiboot 1 kernel, as it differs from PVH's
 * (pvh_entry_state_init, include/pvhboot/entry.h): EAX = 0x2BADB002
 * (PVH_MB1_BOOTLOADER_MAGIC) and EBX = the MBI's guest-physical address
 * instead of start_info; EIP = pvh_mb1_load.entry; FS, GS and SS must be flat
 * 32-bit read/write data too (pvhboot's PVH state already has them so); no
 * TSS is required (the PVH TR is harmless); A20 is on (always, under KVM).
 * Everything else — CR0.PE only, paging off, flat CS, EFLAGS VM/IF clear,
 * the other GPRs 0 — is the PVH state. ESP is undefined for both. */
#ifndef PVHBOOT_MULTIBOOT_H
#define PVHBOOT_MULTIBOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pvhboot/bootdata.h"
#include "pvhboot/error.h"

#define PVH_MB1_HEADER_MAGIC 0x1BADB002u
#define PVH_MB2_HEADER_MAGIC 0xE85250D6u
#define PVH_MB1_SEARCH 8192u
#define PVH_MB2_SEARCH 32768u

/* Returns 1 or 2 (the Multiboot version found, 1 preferred) with *offset set
 * to the header's file offset, or 0 when there is no valid header. */
int pvh_multiboot_find(const uint8_t *data, size_t size, uint64_t *offset);

/* ---- Multiboot 1 ---- */

#define PVH_MB1_BOOTLOADER_MAGIC 0x2BADB002u /* EAX at entry */

/* Header flags. Bits 0-15 are requirements: a loader must refuse a kernel
 * setting one it does not know. pvhboot honours 0 and 1, accepts 2 (video
 * mode: a preference; no framebuffer is provided, MBI flag 11/12 stay clear)
 * and refuses 3-15. Bits 16-31 are optional; 16 is honoured. */
#define PVH_MB1_F_PAGE_ALIGN 0x00000001u  /* modules 4 KiB aligned */
#define PVH_MB1_F_MEMORY_INFO 0x00000002u /* mem_* and mmap wanted (always given) */
#define PVH_MB1_F_VIDEO_MODE 0x00000004u
#define PVH_MB1_F_ADDRESS 0x00010000u     /* a.out kludge address fields valid */
#define PVH_MB1_F_KNOWN_REQUIRED 0x00000007u

#define PVH_MB1_MAX_SEGMENTS 16

struct pvh_mb1_header {
    uint64_t offset;          /* of the header in the file */
    uint32_t flags;
    uint32_t header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr; /* flag 16 */
    uint32_t mode_type, width, height, depth;                                 /* flag 2 */
};

/* A piece of the kernel to load: file bytes [offset, offset + filesz) at
 * guest-physical paddr, then zeros up to memsz. */
struct pvh_mb1_segment {
    uint64_t offset, paddr, filesz, memsz;
};

struct pvh_mb1_load {
    struct pvh_mb1_header header;
    bool aout_kludge;         /* segments from the header's address fields */
    bool page_align_modules;  /* flag 0: module paddrs must be 4 KiB aligned */
    bool wants_video;         /* flag 2 (not provided) */
    uint32_t entry;           /* guest-physical EIP */
    size_t nsegments;         /* non-overlapping, each below 4 GiB */
    struct pvh_mb1_segment seg[PVH_MB1_MAX_SEGMENTS];
};

/* Reads the Multiboot 1 header of a kernel file and what the loader needs.
 * With flag 16 the address fields decide (all bounds checked against the
 * file and 4 GiB); without it the file must be an ELF32/ELF64 x86 executable
 * and its PT_LOAD segments are loaded at their physical addresses (the entry
 * translated from virtual to physical when it falls in a segment).
 * Returns 1 (load filled), 0 when there is no Multiboot 1 magic in the search
 * area, -1 with a one-line error (bad checksum, unsupported required flags,
 * address fields out of bounds, no loadable segment...). */
int pvh_mb1_parse(const uint8_t *data, size_t size, const char *name,
                  struct pvh_mb1_load *load, struct pvh_error *err);

/* Multiboot information, as bytes for guest RAM. */
struct pvh_mb1_mmap {
    uint64_t addr, size;
    uint32_t type;            /* E820: 1 usable, 2 reserved, 3 ACPI, 4 NVS */
};

struct pvh_mb1_module {
    uint64_t paddr, size;     /* loaded by the caller, below 4 GiB */
    const char *string;       /* NULL: empty string */
};

struct pvh_mb1_info_request {
    const struct pvh_mb1_mmap *mmap;
    size_t mmap_count;        /* at most PVH_MB1_MAX_MMAP */
    const char *cmdline;      /* NULL: no command line (flag 2 clear) */
    const struct pvh_mb1_module *mods;
    size_t nmods;             /* at most PVH_MB1_MAX_MODULES; 0: flag 3 clear */
};

#define PVH_MB1_MAX_MMAP 128
#define PVH_MB1_MAX_MODULES 64
#define PVH_MB1_MAX_STRING 4096   /* bytes per string, NUL excluded */
#define PVH_MB1_INFO_FIXED 120    /* the MBI itself (116 bytes, padded) */
#define PVH_MB1_BOOTLOADER_NAME "pvhboot"

/* Bytes the MBI and everything it points to occupy from its address, or 0
 * when the request is over a limit above. */
size_t pvh_mb1_info_size(const struct pvh_mb1_info_request *req);

/* Lays out at guest-physical gpa: the MBI (flags 0 mem_lower/mem_upper from
 * the usable memory contiguous from 0 and from 1 MiB, 2 cmdline, 3 mods,
 * 6 mmap, 9 boot_loader_name), then the module list (16-byte entries:
 * mod_start, mod_end exclusive, string, 0), the memory map (entries of
 * size=20, base u64, length u64, type u32 — "size" counts the bytes after
 * itself) and the strings. buf must hold pvh_mb1_info_size() bytes. */
int pvh_mb1_info_build(const struct pvh_mb1_info_request *req, uint64_t gpa,
                       uint8_t *buf, size_t cap, struct pvh_error *err);

/* The same, written into the guest through the caller's accessor. */
int pvh_mb1_info_write(const struct pvh_mb1_info_request *req, uint64_t gpa,
                       pvh_guest_write_fn write, void *ctx, struct pvh_error *err);

#endif
