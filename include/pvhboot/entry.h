/* The vCPU state at the PVH entry point, as data: what the ABI requires
 * (and pvhboot's stricter choices), so the KVM layer only copies it. */
#ifndef PVHBOOT_ENTRY_H
#define PVHBOOT_ENTRY_H

#include <stdint.h>

/* Mirrors the fields of KVM's struct kvm_segment without including it. */
struct pvh_segment_reg {
    uint64_t base;
    uint32_t limit;
    uint16_t selector;
    uint8_t type, present, dpl, db, s, l, g, avl, unusable;
};

struct pvh_entry_state {
    uint64_t rip, rax, rbx, rflags; /* every other GPR is 0 */
    uint64_t cr0, cr3, cr4, efer;
    struct pvh_segment_reg cs, ds, es, fs, gs, ss, tr, ldt;
    uint64_t gdt_base, idt_base;
    uint16_t gdt_limit, idt_limit;
};

/* Entry state for a kernel entered at `entry` with %ebx = start_info and
 * a flat GDT written by the boot data at `gdt` (selectors match it). */
void pvh_entry_state_init(struct pvh_entry_state *st, uint64_t entry,
                          uint64_t start_info, uint64_t gdt);

/* The Multiboot 1 entry: the PVH state with %eax = 0x2BADB002 and %ebx =
 * the MBI's address (see include/pvhboot/multiboot.h for why the rest is
 * the same). */
void pvh_mb1_entry_state_init(struct pvh_entry_state *st, uint64_t entry,
                              uint64_t mbi, uint64_t gdt);

/* Size of the GDT pvh_entry_state_init's selectors refer to, and its bytes:
 * null, flat 32-bit code, flat 32-bit data, 32-bit busy TSS (base 0, limit 0x67). */
#define PVH_GDT_ENTRIES 4
#define PVH_SEL_CODE 0x08
#define PVH_SEL_DATA 0x10
#define PVH_SEL_TSS 0x18
void pvh_gdt_build(uint64_t gdt[PVH_GDT_ENTRIES]);

#endif
