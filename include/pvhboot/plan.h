/* Guest-physical layout planner: from RAM size, vCPU count, the kernel's
 * segments, the command line and the modules, decide where everything goes.
 * Pure arithmetic: no memory is touched. Every placed object is listed in
 * plan->regions so that callers and tests can check overlaps themselves. */
#ifndef PVHBOOT_PLAN_H
#define PVHBOOT_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pvh/start_info.h"
#include "pvhboot/error.h"
#include "pvhboot/image.h"
#include "pvhboot/layout.h"

#define PVH_KiB (1024ull)
#define PVH_MiB (1024ull * 1024)
#define PVH_GiB (1024ull * 1024 * 1024)
#define PVH_PAGE_SIZE 4096ull

#define PVH_MIN_RAM (2 * PVH_MiB)
#define PVH_MAX_RAM (1024 * PVH_GiB)
#define PVH_ISA_HOLE_START (640 * PVH_KiB)
#define PVH_ISA_HOLE_END (1 * PVH_MiB)
#define PVH_MMIO_HOLE_START (3 * PVH_GiB) /* RAM stops here ... */
#define PVH_MMIO_HOLE_END (4 * PVH_GiB)   /* ... and resumes here */
#define PVH_LOW_DATA_LIMIT (1 * PVH_GiB)  /* Linux's early mapping */
#define PVH_MAX_MODULES 16
#define PVH_MAX_MEMMAP 128
#define PVH_MAX_CPUS 255 /* xAPIC ids 0..254 */

struct pvh_module_spec {
    const char *name;    /* for messages, e.g. the file name */
    uint64_t size;       /* bytes */
    const char *cmdline; /* NULL: none */
};

/* A device the machine should have; the planner gives it its MMIO window
 * and GSI (pvhboot/layout.h), in request order. */
struct pvh_device_spec {
    uint32_t virtio_id;  /* enum pvh_virtio_id */
    const char *name;    /* for messages, e.g. "drive rootfs" */
};

struct pvh_plan_request {
    uint64_t ram_size;
    unsigned ncpus;
    const struct pvh_image *image; /* a parsed PVH ELF */
    const char *cmdline;           /* NULL: none */
    size_t nmodules;               /* module 0 is the initrd */
    const struct pvh_module_spec *modules;
    bool relocate;                 /* random load address (needs PHYS32_RELOC) */
    uint64_t seed;                 /* randomness for relocate */
    size_t ndevices;               /* virtio-mmio devices, at most PVH_MAX_VIRTIO_DEVICES */
    const struct pvh_device_spec *devices;
};

enum pvh_region_kind {
    PVH_REGION_KERNEL,         /* index: segment number */
    PVH_REGION_START_INFO,
    PVH_REGION_MODLIST,
    PVH_REGION_CMDLINE,
    PVH_REGION_MODULE_CMDLINE, /* index: module number */
    PVH_REGION_MEMMAP,
    PVH_REGION_GDT,
    PVH_REGION_ACPI,           /* RSDP and every table */
    PVH_REGION_MODULE,         /* index: module number */
    PVH_REGION_MBI,            /* Multiboot 1 information, with its lists and strings */
    PVH_REGION_EBDA,           /* the extended BIOS data area: the top page of conventional memory */
};

struct pvh_region {
    uint64_t addr;
    uint64_t size;
    enum pvh_region_kind kind;
    unsigned index;
};

#define PVH_MAX_REGIONS (PVH_MAX_SEGMENTS + 2 * PVH_MAX_MODULES + 8)

struct pvh_plan {
    enum pvh_boot_protocol protocol; /* the image's: PVH or Multiboot 1 */
    uint64_t ram_low_end;    /* RAM is [0, ram_low_end) ... */
    uint64_t ram_high_size;  /* ... and [4 GiB, 4 GiB + ram_high_size) */
    int64_t kernel_shift;    /* added to every segment paddr and the entry */
    uint64_t entry;          /* guest-physical entry, after relocation */
    uint64_t start_info;     /* PVH; 0 for Multiboot 1 */
    uint64_t mbi, mbi_size;  /* Multiboot 1: the MBI (at the top of conventional memory) */
    uint64_t modlist;        /* 0 when no modules */
    uint64_t cmdline;        /* 0 when no command line */
    uint64_t memmap;
    uint32_t memmap_entries;
    struct hvm_memmap_table_entry map[PVH_MAX_MEMMAP];
    uint64_t gdt;            /* flat GDT matching the entry state */
    uint64_t ebda;           /* the EBDA page (0: none, no page below 640 KiB was free) */
    uint64_t acpi_base, acpi_size;
    uint64_t rsdp;
    uint64_t module_addr[PVH_MAX_MODULES];
    uint64_t module_cmdline[PVH_MAX_MODULES]; /* 0 when none */
    size_t ndevices;         /* device i of the request sits at devices[i] */
    struct pvh_mmio_device devices[PVH_MAX_VIRTIO_DEVICES];
    size_t nregions;
    struct pvh_region regions[PVH_MAX_REGIONS];
};

/* Both protocols: the EBDA in the highest free page below 640 KiB (where a
 * BIOS keeps it; the BIOS data area at 0x400 points at it, lib/bda.c).
 * For a PVH image: start_info, lists, command lines and memory map low.
 * For a Multiboot 1 image (req->image->protocol): the MBI (its lists and
 * strings inside) and the GDT at the top of conventional memory, below
 * 640 KiB, reserved in the map like every page pvhboot writes; the kernel
 * where its header says (never moved: relocate is refused); modules page
 * aligned (flag 0 asks for it; pvhboot aligns every module anyway) and as
 * low as they fit above 1 MiB, in order, like QEMU and GRUB.
 * Returns 0, or -1 with a message giving the numbers and the fix, e.g.
 * "initrd.img (900 MiB) does not fit below 4 GiB with 512 MiB of RAM; try --mem 2G". */
int pvh_plan_build(const struct pvh_plan_request *req, struct pvh_plan *plan,
                   struct pvh_error *err);

/* "kernel", "start_info", "module", ...: for messages. */
const char *pvh_region_kind_name(enum pvh_region_kind kind);

/* What the plan's ACPI tables describe: ncpus vCPUs and its devices. */
struct pvh_acpi_config;
void pvh_plan_acpi_config(const struct pvh_plan *plan, unsigned ncpus, struct pvh_acpi_config *cfg);

/* The version-1 memory map for a plan whose regions are placed (lib/memmap.c):
 * fills plan->map and plan->memmap_entries. Returns 0 or -1 (too many entries). */
int pvh_memmap_build(struct pvh_plan *plan, struct pvh_error *err);

/* True for the regions pvhboot itself writes (described as reserved/ACPI). */
int pvh_region_is_bootdata(enum pvh_region_kind kind);

#endif
