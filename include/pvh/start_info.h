/* The x86/HVM direct boot ABI ("PVH") as data: hvm_start_info v1 and its lists,
 * E820 memory types, and the Xen ELF note numbers a PVH kernel carries.
 * Canonical source: Xen's docs/misc/pvh and public/arch-x86/hvm/start_info.h.
 * Freestanding: used by the host library and by the guest SDK (-m32/-m64). */
#ifndef PVH_START_INFO_H
#define PVH_START_INFO_H

#include <stdint.h>

#define HVM_START_MAGIC_VALUE 0x336ec578u
#define HVM_START_INFO_VERSION 1u

/* All fields little endian; 0 as an address means "absent". */
struct hvm_start_info {
    uint32_t magic;          /* HVM_START_MAGIC_VALUE */
    uint32_t version;        /* 0 or 1 */
    uint32_t flags;          /* SIF_xxx */
    uint32_t nr_modules;
    uint64_t modlist_paddr;  /* array of struct hvm_modlist_entry */
    uint64_t cmdline_paddr;  /* NUL-terminated ASCII */
    uint64_t rsdp_paddr;     /* ACPI RSDP */
    uint64_t memmap_paddr;   /* version >= 1: array of struct hvm_memmap_table_entry */
    uint32_t memmap_entries; /* version >= 1; 0 means "no map given" */
    uint32_t reserved;
};

struct hvm_modlist_entry {
    uint64_t paddr;
    uint64_t size;
    uint64_t cmdline_paddr;
    uint64_t reserved;
};

struct hvm_memmap_table_entry {
    uint64_t addr;
    uint64_t size;   /* bytes */
    uint32_t type;   /* E820_TYPE_xxx */
    uint32_t reserved;
};

/* start_info.flags */
#define SIF_PRIVILEGED (1u << 0)
#define SIF_INITDOMAIN (1u << 1)

/* E820 / memory map types */
#define E820_TYPE_RAM       1u
#define E820_TYPE_RESERVED  2u
#define E820_TYPE_ACPI      3u
#define E820_TYPE_NVS       4u
#define E820_TYPE_UNUSABLE  5u
#define E820_TYPE_PMEM      7u

/* Xen ELF notes (owner "Xen", public/elfnote.h) */
#define XEN_ELFNOTE_INFO               0
#define XEN_ELFNOTE_ENTRY              1
#define XEN_ELFNOTE_HYPERCALL_PAGE     2
#define XEN_ELFNOTE_VIRT_BASE          3
#define XEN_ELFNOTE_PADDR_OFFSET       4
#define XEN_ELFNOTE_XEN_VERSION        5
#define XEN_ELFNOTE_GUEST_OS           6
#define XEN_ELFNOTE_GUEST_VERSION      7
#define XEN_ELFNOTE_LOADER             8
#define XEN_ELFNOTE_PAE_MODE           9
#define XEN_ELFNOTE_FEATURES          10
#define XEN_ELFNOTE_BSD_SYMTAB        11
#define XEN_ELFNOTE_HV_START_LOW      12
#define XEN_ELFNOTE_L1_MFN_VALID      13
#define XEN_ELFNOTE_SUSPEND_CANCEL    14
#define XEN_ELFNOTE_INIT_P2M          15
#define XEN_ELFNOTE_MOD_START_PFN     16
#define XEN_ELFNOTE_SUPPORTED_FEATURES 17
#define XEN_ELFNOTE_PHYS32_ENTRY      18
#define XEN_ELFNOTE_PHYS32_RELOC      19
#define XEN_ELFNOTE_MAX               XEN_ELFNOTE_PHYS32_RELOC

/* Name of a Xen note type, e.g. "PHYS32_ENTRY"; "UNKNOWN" past the table. */
static inline const char *xen_elfnote_name(uint32_t type)
{
    static const char *const names[] = {
        "INFO", "ENTRY", "HYPERCALL_PAGE", "VIRT_BASE", "PADDR_OFFSET",
        "XEN_VERSION", "GUEST_OS", "GUEST_VERSION", "LOADER", "PAE_MODE",
        "FEATURES", "BSD_SYMTAB", "HV_START_LOW", "L1_MFN_VALID",
        "SUSPEND_CANCEL", "INIT_P2M", "MOD_START_PFN", "SUPPORTED_FEATURES",
        "PHYS32_ENTRY", "PHYS32_RELOC",
    };
    return type <= XEN_ELFNOTE_MAX ? names[type] : "UNKNOWN";
}

/* Layout is ABI: any change here is a bug. */
#define PVH_ASSERT_OFFSET(T, f, off) \
    _Static_assert(__builtin_offsetof(struct T, f) == (off), #T "." #f " offset")
PVH_ASSERT_OFFSET(hvm_start_info, magic, 0);
PVH_ASSERT_OFFSET(hvm_start_info, version, 4);
PVH_ASSERT_OFFSET(hvm_start_info, flags, 8);
PVH_ASSERT_OFFSET(hvm_start_info, nr_modules, 12);
PVH_ASSERT_OFFSET(hvm_start_info, modlist_paddr, 16);
PVH_ASSERT_OFFSET(hvm_start_info, cmdline_paddr, 24);
PVH_ASSERT_OFFSET(hvm_start_info, rsdp_paddr, 32);
PVH_ASSERT_OFFSET(hvm_start_info, memmap_paddr, 40);
PVH_ASSERT_OFFSET(hvm_start_info, memmap_entries, 48);
PVH_ASSERT_OFFSET(hvm_start_info, reserved, 52);
_Static_assert(sizeof(struct hvm_start_info) == 56, "hvm_start_info size");
PVH_ASSERT_OFFSET(hvm_modlist_entry, paddr, 0);
PVH_ASSERT_OFFSET(hvm_modlist_entry, size, 8);
PVH_ASSERT_OFFSET(hvm_modlist_entry, cmdline_paddr, 16);
PVH_ASSERT_OFFSET(hvm_modlist_entry, reserved, 24);
_Static_assert(sizeof(struct hvm_modlist_entry) == 32, "hvm_modlist_entry size");
PVH_ASSERT_OFFSET(hvm_memmap_table_entry, addr, 0);
PVH_ASSERT_OFFSET(hvm_memmap_table_entry, size, 8);
PVH_ASSERT_OFFSET(hvm_memmap_table_entry, type, 16);
PVH_ASSERT_OFFSET(hvm_memmap_table_entry, reserved, 20);
_Static_assert(sizeof(struct hvm_memmap_table_entry) == 24, "hvm_memmap_table_entry size");

#endif
