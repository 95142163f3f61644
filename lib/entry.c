/* The vCPU 0 entry state of the PVH ABI (and of Multiboot 1, which differs
 * in %eax and %ebx only), and the flat GDT its selectors name. Choices: CS
 * type 0xb and data type 0x3 (accessed: Intel VMX entry
 * requires the accessed bit on usable segments, so an Intel host accepts
 * exactly what we load); CR0 = PE|ET: ET is hard-wired to 1 on every CPU
 * with an FPU since the 486/P6 (not writable), so "every other writable bit
 * clear" holds, and it is what KVM reports anyway. */
#include <string.h>

#include "pvhboot/bootdata.h"
#include "pvhboot/entry.h"
#include "pvhboot/multiboot.h"

#define CR0_PE (1u << 0)
#define CR0_ET (1u << 4)

static uint64_t gdt_entry(uint32_t base, uint32_t limit, uint8_t access, uint8_t flags)
{
    return (uint64_t)(limit & 0xffff) | (uint64_t)(base & 0xffffff) << 16 |
           (uint64_t)access << 40 | (uint64_t)((limit >> 16) & 0xf) << 48 |
           (uint64_t)(flags & 0xf) << 52 | (uint64_t)(base >> 24) << 56;
}

void pvh_gdt_build(uint64_t gdt[PVH_GDT_ENTRIES])
{
    gdt[0] = 0;
    gdt[1] = gdt_entry(0, 0xfffff, 0x9b, 0xc); /* P, S, code r/x accessed; G, D */
    gdt[2] = gdt_entry(0, 0xfffff, 0x93, 0xc); /* P, S, data r/w accessed; G, B */
    gdt[3] = gdt_entry(0, 0x67, 0x8b, 0x0);    /* P, 32-bit busy TSS; byte limit */
}

static struct pvh_segment_reg flat(uint16_t sel, uint8_t type)
{
    return (struct pvh_segment_reg){.base = 0, .limit = 0xffffffff, .selector = sel,
                                    .type = type, .present = 1, .dpl = 0, .db = 1, .s = 1,
                                    .l = 0, .g = 1, .avl = 0, .unusable = 0};
}

void pvh_entry_state_init(struct pvh_entry_state *st, uint64_t entry, uint64_t start_info,
                          uint64_t gdt)
{
    memset(st, 0, sizeof(*st));
    st->rip = entry;
    st->rbx = start_info;
    st->rflags = 0x2;
    st->cr0 = CR0_PE | CR0_ET;
    st->cs = flat(PVH_SEL_CODE, 0xb);
    st->ds = st->es = st->fs = st->gs = st->ss = flat(PVH_SEL_DATA, 0x3);
    st->tr = (struct pvh_segment_reg){.base = 0, .limit = 0x67, .selector = PVH_SEL_TSS,
                                      .type = 0xb, .present = 1};
    st->ldt = (struct pvh_segment_reg){.type = 0x2, .unusable = 1};
    st->gdt_base = gdt;
    st->gdt_limit = PVH_GDT_ENTRIES * 8 - 1;
}

void pvh_mb1_entry_state_init(struct pvh_entry_state *st, uint64_t entry, uint64_t mbi, uint64_t gdt)
{
    pvh_entry_state_init(st, entry, mbi, gdt);
    st->rax = PVH_MB1_BOOTLOADER_MAGIC;
}

void pvh_plan_entry_state(const struct pvh_plan *plan, struct pvh_entry_state *st)
{
    if (plan->protocol == PVH_BOOT_MULTIBOOT1)
        pvh_mb1_entry_state_init(st, plan->entry, plan->mbi, plan->gdt);
    else
        pvh_entry_state_init(st, plan->entry, plan->start_info, plan->gdt);
}
