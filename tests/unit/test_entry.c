/* The PVH entry state: the ABI's MUST items, Intel VMX guest-state checks
 * (SDM vol. 3, 26.3.1.2 segment registers, 26.3.1.4 RFLAGS; CR0/CR4 fixed
 * bits aside), and the GDT bytes decoding to the segment registers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "pvhboot/entry.h"

static struct pvh_entry_state st;

static int setup(void **state)
{
    (void)state;
    memset(&st, 0x5a, sizeof(st));
    pvh_entry_state_init(&st, 0x1000a30, 0x1000, 0x3000);
    return 0;
}

static void abi_must_items(void **state)
{
    (void)state;
    assert_int_equal(st.rip, 0x1000a30);
    assert_int_equal(st.rbx, 0x1000);
    assert_int_equal(st.cr0 & 1, 1);                  /* PE */
    assert_int_equal(st.cr0 & ~0x11ull, 0);           /* nothing writable but PE (ET is fixed 1) */
    assert_int_equal(st.cr0 & ((1u << 29) | (1u << 30) | (1u << 31)), 0); /* NW CD PG */
    assert_int_equal(st.cr4, 0);
    assert_int_equal(st.efer, 0);
    assert_int_equal(st.rflags, 0x2);                 /* VM, IF, TF clear; bit 1 set */
    const struct pvh_segment_reg *flat[] = {&st.cs, &st.ds, &st.es, &st.ss};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(flat[i]->base, 0);
        assert_int_equal(flat[i]->limit, 0xffffffff);
        assert_int_equal(flat[i]->db, 1);              /* 32-bit */
        assert_int_equal(flat[i]->l, 0);
        assert_int_equal(flat[i]->present, 1);
        assert_int_equal(flat[i]->s, 1);
        assert_int_equal(flat[i]->unusable, 0);
    }
    assert_int_equal(st.cs.type & 0xa, 0xa);           /* code, readable */
    assert_int_equal(st.ds.type & 0xa, 0x2);           /* data, writable */
    assert_int_equal(st.tr.base, 0);
    assert_int_equal(st.tr.limit, 0x67);
    assert_int_equal(st.tr.type, 0xb);                 /* busy 32-bit TSS */
    assert_int_equal(st.gdt_base, 0x3000);
    assert_int_equal(st.gdt_limit, PVH_GDT_ENTRIES * 8 - 1);
}

static void vmx_limit_granularity(const struct pvh_segment_reg *s)
{
    if ((s->limit & 0xfff) != 0xfff)
        assert_int_equal(s->g, 0);
    if (s->limit & 0xfff00000)
        assert_int_equal(s->g, 1);
}

static void vmx_data_segment(const struct pvh_segment_reg *s)
{
    if (s->unusable)
        return;
    assert_int_equal(s->type & 1, 1);                  /* accessed */
    if (s->type & 8)
        assert_int_equal(s->type & 2, 2);              /* code must be readable */
    assert_int_equal(s->s, 1);
    assert_int_equal(s->present, 1);
    if (s->type <= 11)
        assert_true(s->dpl >= (s->selector & 3));
    vmx_limit_granularity(s);
}

static void vmx_guest_state_checks(void **state)
{
    (void)state;
    /* CS: accessed code 9/11/13/15, S=1, P=1, DPL = SS.DPL for non-conforming */
    assert_true(st.cs.type == 9 || st.cs.type == 11 || st.cs.type == 13 || st.cs.type == 15);
    assert_int_equal(st.cs.s, 1);
    assert_int_equal(st.cs.present, 1);
    assert_int_equal(st.cs.dpl, st.ss.dpl);
    assert_false(st.cs.l && st.cs.db);
    vmx_limit_granularity(&st.cs);
    /* SS: usable -> type 3 or 7, DPL = RPL of selector; with CR0.PE and CS not
     * type 3, SS.DPL = SS.RPL */
    assert_true(st.ss.type == 3 || st.ss.type == 7);
    assert_int_equal(st.ss.dpl, st.ss.selector & 3);
    assert_int_equal(st.ss.s, 1);
    assert_int_equal(st.ss.present, 1);
    vmx_limit_granularity(&st.ss);
    vmx_data_segment(&st.ds);
    vmx_data_segment(&st.es);
    vmx_data_segment(&st.fs);
    vmx_data_segment(&st.gs);
    /* TR: TI=0, type 11 (32-bit busy), S=0, P=1, usable */
    assert_int_equal(st.tr.selector & 4, 0);
    assert_int_equal(st.tr.type, 11);
    assert_int_equal(st.tr.s, 0);
    assert_int_equal(st.tr.present, 1);
    assert_int_equal(st.tr.unusable, 0);
    vmx_limit_granularity(&st.tr);
    /* LDTR: unusable here (else TI=0, type 2, S=0, P=1) */
    if (!st.ldt.unusable) {
        assert_int_equal(st.ldt.type, 2);
        assert_int_equal(st.ldt.s, 0);
        assert_int_equal(st.ldt.present, 1);
    }
    assert_int_equal(st.ldt.selector, 0);
    /* RFLAGS: reserved bits 63:22, 15, 5, 3 zero, bit 1 set; VM clear when PE */
    assert_int_equal(st.rflags & ~0x3f7fd7ull, 0);
    assert_int_equal(st.rflags & 2, 2);
    assert_int_equal(st.rflags & (1u << 17), 0);
    /* selectors' RPL 0 and TI 0 (GDT) */
    const struct pvh_segment_reg *all[] = {&st.cs, &st.ds, &st.es, &st.fs, &st.gs, &st.ss, &st.tr};
    for (int i = 0; i < 7; i++)
        assert_int_equal(all[i]->selector & 7, 0);
}

/* Decodes a GDT descriptor and compares it with a segment register. */
static void gdt_matches(const uint64_t *gdt, const struct pvh_segment_reg *s)
{
    unsigned idx = s->selector >> 3;
    assert_true(idx > 0 && idx < PVH_GDT_ENTRIES);
    uint64_t d = gdt[idx];
    uint32_t base = (uint32_t)(((d >> 16) & 0xffffff) | ((d >> 56) & 0xff) << 24);
    uint32_t raw_limit = (uint32_t)((d & 0xffff) | ((d >> 48) & 0xf) << 16);
    unsigned g = (d >> 55) & 1;
    uint32_t limit = g ? (raw_limit << 12) | 0xfff : raw_limit;
    assert_int_equal(base, s->base);
    assert_int_equal(limit, s->limit);
    assert_int_equal((d >> 40) & 0xf, s->type);
    assert_int_equal((d >> 44) & 1, s->s);
    assert_int_equal((d >> 45) & 3, s->dpl);
    assert_int_equal((d >> 47) & 1, s->present);
    assert_int_equal((d >> 52) & 1, s->avl);
    assert_int_equal((d >> 53) & 1, s->l);
    assert_int_equal((d >> 54) & 1, s->db);
    assert_int_equal(g, s->g);
}

static void gdt_bytes_decode_to_segment_registers(void **state)
{
    (void)state;
    uint64_t gdt[PVH_GDT_ENTRIES];
    pvh_gdt_build(gdt);
    assert_int_equal(gdt[0], 0);
    gdt_matches(gdt, &st.cs);
    gdt_matches(gdt, &st.ds);
    gdt_matches(gdt, &st.es);
    gdt_matches(gdt, &st.fs);
    gdt_matches(gdt, &st.gs);
    gdt_matches(gdt, &st.ss);
    gdt_matches(gdt, &st.tr);
    /* the well-known flat descriptors (e.g. Linux's GDT_ENTRY(0xc09b, 0, 0xfffff)) */
    assert_int_equal(gdt[1], 0x00cf9b000000ffffull);
    assert_int_equal(gdt[2], 0x00cf93000000ffffull);
    assert_int_equal(gdt[3], 0x00008b0000000067ull);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(abi_must_items, setup),
        cmocka_unit_test_setup(vmx_guest_state_checks, setup),
        cmocka_unit_test_setup(gdt_bytes_decode_to_segment_registers, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
