/* ACPI tables parsed back from bytes: RSDP -> RSDT/XSDT -> FADT -> DSDT/FACS,
 * MADT entries, lengths and checksums, for 1, 2, 64 and 255 vCPUs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "pvhboot/acpi.h"
#include "pvhboot/bytes.h"

#define BASE 0xE0000u

static uint8_t buf[8192];

static uint8_t sum(const uint8_t *p, size_t n)
{
    uint8_t s = 0;
    while (n--)
        s = (uint8_t)(s + *p++);
    return s;
}

/* The table at guest address gpa: signature, sane length, zero checksum. */
static const uint8_t *table(uint64_t gpa, size_t used, const char *sig)
{
    assert_true(gpa >= BASE && gpa - BASE + 36 <= used);
    const uint8_t *t = buf + (gpa - BASE);
    assert_memory_equal(t, sig, 4);
    uint32_t len = pvh_le32(t + 4);
    assert_true(len >= 36 && gpa - BASE + len <= used);
    assert_int_equal(sum(t, len), 0);
    return t;
}

static void build(unsigned ncpus, size_t *used)
{
    uint64_t rsdp;
    struct pvh_error err;
    memset(buf, 0xAA, sizeof(buf));
    assert_int_equal(pvh_acpi_build(ncpus, BASE, buf, sizeof(buf), used, &rsdp, &err), 0);
    assert_int_equal(rsdp, BASE);
    assert_true(*used <= pvh_acpi_size(ncpus));
}

static void check_tables(unsigned ncpus)
{
    size_t used;
    build(ncpus, &used);
    const uint8_t *r = buf;
    assert_memory_equal(r, "RSD PTR ", 8);
    assert_int_equal(sum(r, 20), 0);
    assert_int_equal(r[15], 2);
    assert_int_equal(pvh_le32(r + 20), 36);
    assert_int_equal(sum(r, 36), 0);
    const uint8_t *x = table(pvh_le64(r + 24), used, "XSDT");
    const uint8_t *rs = table(pvh_le32(r + 16), used, "RSDT");
    assert_int_equal(pvh_le32(x + 4), 36 + 16);
    assert_int_equal(pvh_le32(rs + 4), 36 + 8);
    assert_int_equal(pvh_le64(x + 36), pvh_le32(rs + 36));
    assert_int_equal(pvh_le64(x + 44), pvh_le32(rs + 40));
    const uint8_t *f = table(pvh_le64(x + 36), used, "FACP");
    assert_int_equal(pvh_le32(f + 4), 276);
    assert_int_equal(pvh_le16(f + 46), PVH_ACPI_SCI_IRQ);
    assert_int_equal(pvh_le32(f + 56), PVH_ACPI_PM1A_EVT_PORT);
    assert_int_equal(pvh_le32(f + 64), PVH_ACPI_PM1A_CNT_PORT);
    assert_int_equal(f[88], 4);
    assert_int_equal(f[89], 2);
    assert_int_equal(pvh_le32(f + 112) & (1u << 20), 0); /* not hardware-reduced */
    assert_int_equal(pvh_le64(f + 140), pvh_le32(f + 40));   /* X_DSDT == DSDT */
    assert_int_equal(pvh_le64(f + 132), pvh_le32(f + 36));   /* X_FIRMWARE_CTRL == FACS */
    assert_int_equal(pvh_le64(f + 148 + 4), PVH_ACPI_PM1A_EVT_PORT);
    assert_int_equal(pvh_le64(f + 172 + 4), PVH_ACPI_PM1A_CNT_PORT);
    const uint8_t *facs = buf + (pvh_le32(f + 36) - BASE);
    assert_memory_equal(facs, "FACS", 4);
    assert_int_equal(pvh_le32(facs + 4), 64);
    assert_int_equal((pvh_le32(f + 36)) % 64, 0);
    const uint8_t *d = table(pvh_le32(f + 40), used, "DSDT");
    /* Name(_S5_, Package(4){5, 5, 0, 0}) in AML */
    const uint8_t s5[] = {0x08, '_', 'S', '5', '_', 0x12, 0x08, 0x04, 0x0a, 5, 0x0a, 5, 0, 0};
    assert_int_equal(pvh_le32(d + 4), 36 + sizeof(s5));
    assert_memory_equal(d + 36, s5, sizeof(s5));
    const uint8_t *m = table(pvh_le64(x + 44), used, "APIC");
    assert_int_equal(pvh_le32(m + 36), PVH_LAPIC_ADDR);
    uint32_t len = pvh_le32(m + 4), lapics = 0, ioapics = 0, isos = 0;
    for (uint32_t off = 44; off < len;) {
        const uint8_t *e = m + off;
        assert_true(e[1] >= 2 && off + e[1] <= len);
        if (e[0] == 0) {
            assert_int_equal(e[1], 8);
            assert_int_equal(e[3], lapics); /* APIC ids 0..n-1 in order */
            assert_int_equal(pvh_le32(e + 4) & 1, 1);
            lapics++;
        } else if (e[0] == 1) {
            assert_int_equal(pvh_le32(e + 4), PVH_IOAPIC_ADDR);
            assert_int_equal(pvh_le32(e + 8), 0);
            ioapics++;
        } else if (e[0] == 2) {
            if (e[3] == 0)
                assert_int_equal(pvh_le32(e + 4), 2);
            else {
                assert_int_equal(e[3], PVH_ACPI_SCI_IRQ);
                assert_int_equal(pvh_le32(e + 4), PVH_ACPI_SCI_IRQ);
                assert_int_equal(pvh_le16(e + 8), 0x000d); /* level, active high */
            }
            isos++;
        } else {
            fail_msg("unexpected MADT entry type %u", e[0]);
        }
        off += e[1];
    }
    assert_int_equal(lapics, ncpus);
    assert_int_equal(ioapics, 1);
    assert_int_equal(isos, 2);
}

static void tables_for_1_2_64_255_cpus(void **state)
{
    (void)state;
    check_tables(1);
    check_tables(2);
    check_tables(64);
    check_tables(255);
}

static void tables_fit_in_legacy_window(void **state)
{
    (void)state;
    assert_true(BASE + pvh_acpi_size(255) <= PVH_ACPI_LEGACY_WINDOW_END);
}

static void bad_arguments_refused(void **state)
{
    (void)state;
    size_t used;
    uint64_t rsdp;
    struct pvh_error err;
    assert_int_equal(pvh_acpi_build(0, BASE, buf, sizeof(buf), &used, &rsdp, &err), -1);
    assert_int_equal(pvh_acpi_build(256, BASE, buf, sizeof(buf), &used, &rsdp, &err), -1);
    assert_int_equal(pvh_acpi_build(4, BASE, buf, 100, &used, &rsdp, &err), -1);
    assert_int_equal(pvh_acpi_build(4, 0xFFFFFF00u, buf, sizeof(buf), &used, &rsdp, &err), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tables_for_1_2_64_255_cpus),
        cmocka_unit_test(tables_fit_in_legacy_window),
        cmocka_unit_test(bad_arguments_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
