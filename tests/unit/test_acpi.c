/* ACPI tables parsed back from bytes: RSDP -> RSDT/XSDT -> FADT -> DSDT/FACS,
 * MADT entries, lengths and checksums, for 1, 2, 64 and 255 vCPUs; the
 * DSDT's virtio-mmio devices for 0, 1, 8 and the most devices, and its
 * i8042 keyboard (PNP0303: Linux's i8042 driver finds the controller
 * through it; no mouse); the VM generation ID device (\_SB.VGEN: _HID,
 * _CID, ADDR pointing at 16 zero bytes after the MADT) and \_GPE._E00's
 * Notify of it, the FADT's GPE0 block; the AML writer's PkgLength
 * encodings, EISA IDs, dotted name paths and its measuring mode. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "pvhboot/acpi.h"
#include "pvhboot/aml.h"
#include "pvhboot/bytes.h"

#define BASE 0xE0000u

static uint8_t buf[16384];
static struct pvh_mmio_device devices[PVH_MAX_VIRTIO_DEVICES];

/* ncpus vCPUs and the first ndevices virtio slots, as the planner fills them. */
static struct pvh_acpi_config config(unsigned ncpus, size_t ndevices)
{
    for (size_t i = 0; i < ndevices; i++)
        devices[i] = (struct pvh_mmio_device){PVH_VIRTIO_ID_BLOCK, PVH_VIRTIO_MMIO_BASE + i * PVH_VIRTIO_MMIO_STRIDE,
                                              PVH_VIRTIO_MMIO_STRIDE, pvh_layout_virtio_gsi(i)};
    return (struct pvh_acpi_config){.ncpus = ncpus, .ndevices = ndevices, .devices = devices};
}

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

static void build(const struct pvh_acpi_config *cfg, size_t *used)
{
    uint64_t rsdp;
    struct pvh_error err;
    memset(buf, 0xAA, sizeof(buf));
    assert_int_equal(pvh_acpi_build(cfg, BASE, buf, sizeof(buf), used, &rsdp, &err), 0);
    assert_int_equal(rsdp, BASE);
    assert_int_equal(*used, pvh_acpi_size(cfg));
}

/* Where needle occurs in [p, p + len), from `from` on; -1 when nowhere. */
static long find(const uint8_t *p, size_t len, size_t from, const void *needle, size_t n)
{
    for (size_t i = from; i + n <= len; i++)
        if (memcmp(p + i, needle, n) == 0)
            return (long)i;
    return -1;
}

/* Each device i: "V00i" with _HID "LNRO0005", then a Memory32Fixed of its
 * window and an extended Interrupt descriptor with its GSI, in order. */
static void check_dsdt_devices(const uint8_t *d, const struct pvh_acpi_config *cfg)
{
    size_t len = pvh_le32(d + 4), at = 36;
    for (size_t i = 0; i < cfg->ndevices; i++) {
        char name[8];
        snprintf(name, sizeof(name), "V%03u", (unsigned)(i % 1000));
        long dev = find(d, len, at, name, 4);
        assert_true(dev > 0);
        long hid = find(d, len, (size_t)dev, "\x0dLNRO0005", 10);
        assert_true(hid > dev);
        uint8_t mem[12] = {0x86, 9, 0, 1};
        pvh_put_le32(mem + 4, (uint32_t)cfg->devices[i].base);
        pvh_put_le32(mem + 8, (uint32_t)cfg->devices[i].size);
        long m = find(d, len, (size_t)hid, mem, sizeof(mem));
        assert_true(m > hid);
        uint8_t irq[9] = {0x89, 6, 0, 0x03, 1};
        pvh_put_le32(irq + 5, cfg->devices[i].gsi);
        assert_int_equal(find(d, len, (size_t)m, irq, sizeof(irq)), m + (long)sizeof(mem));
        at = (size_t)m;
    }
    assert_int_equal(find(d, len, 36, "LNRO0005", 8) < 0, cfg->ndevices == 0);
}

/* Device(KBD_) { Name(_HID, EisaId("PNP0303")) Name(_CRS, ResourceTemplate() {
 * IO(Decode16, 0x60, 0x60, 1, 1) IO(Decode16, 0x64, 0x64, 1, 1) IRQNoFlags() {1} }) },
 * encoded by hand from ACPI 6.x 20 and 6.4.2; no mouse device. */
static const uint8_t i8042_aml[] = {
    0x5b, 0x82, 0x2d, 'K', 'B', 'D', '_',
    0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x03, 0x03,
    0x08, '_', 'C', 'R', 'S', 0x11, 0x18, 0x0a, 0x15,
    0x47, 0x01, 0x60, 0x00, 0x60, 0x00, 0x01, 0x01,
    0x47, 0x01, 0x64, 0x00, 0x64, 0x00, 0x01, 0x01,
    0x22, 0x02, 0x00, 0x79, 0x00,
};

/* Device(VGEN) { Name(_HID, "VMGENCTR") Name(_CID, "VM_GEN_COUNTER")
 * Name(_DDN, "VM_Gen_Counter") Name(ADDR, Package() { lo, hi }) }, lo and
 * hi as DWordConst (filled in by check_dsdt_tail), then Scope(\_GPE) {
 * Method(_E00, 0) { Notify(\_SB_.VGEN, 0x80) } }: by hand from ACPI 6.x 20. */
static const uint8_t vgen_aml[] = {
    0x5b, 0x82, 0x41, 0x05, 'V', 'G', 'E', 'N', /* PkgLength 81 in 2 bytes */
    0x08, '_', 'H', 'I', 'D', 0x0d, 'V', 'M', 'G', 'E', 'N', 'C', 'T', 'R', 0,
    0x08, '_', 'C', 'I', 'D', 0x0d, 'V', 'M', '_', 'G', 'E', 'N', '_', 'C', 'O', 'U', 'N', 'T', 'E', 'R', 0,
    0x08, '_', 'D', 'D', 'N', 0x0d, 'V', 'M', '_', 'G', 'e', 'n', '_', 'C', 'o', 'u', 'n', 't', 'e', 'r', 0,
    0x08, 'A', 'D', 'D', 'R', 0x12, 0x0c, 0x02, 0x0c, 0, 0, 0, 0, 0x0c, 0, 0, 0, 0,
};
#define VGEN_ADDR_LO 74 /* the offset of ADDR's low DWord in vgen_aml */
static const uint8_t gpe_aml[] = {
    0x10, 0x1a, '\\', '_', 'G', 'P', 'E',
    0x14, 0x13, '_', 'E', '0', '0', 0x00,
    0x86, '\\', 0x2e, '_', 'S', 'B', '_', 'V', 'G', 'E', 'N', 0x0a, 0x80,
};

/* The DSDT ends with the i8042's keyboard and the VM generation ID device
 * (closing \_SB), then \_GPE; ADDR holds the ID's address. */
static void check_dsdt_tail(const uint8_t *d, uint64_t id_gpa)
{
    size_t len = pvh_le32(d + 4), tail = sizeof(i8042_aml) + sizeof(vgen_aml) + sizeof(gpe_aml);
    uint8_t vgen[sizeof(vgen_aml)];
    memcpy(vgen, vgen_aml, sizeof(vgen));
    pvh_put_le32(vgen + VGEN_ADDR_LO, (uint32_t)id_gpa);
    pvh_put_le32(vgen + VGEN_ADDR_LO + 5, (uint32_t)(id_gpa >> 32));
    assert_true(len >= 36 + tail);
    const uint8_t *p = d + len - tail;
    assert_memory_equal(p, i8042_aml, sizeof(i8042_aml));
    assert_memory_equal(p + sizeof(i8042_aml), vgen, sizeof(vgen));
    assert_memory_equal(p + sizeof(i8042_aml) + sizeof(vgen), gpe_aml, sizeof(gpe_aml));
}

/* FADT: GPE0_BLK and X_GPE0_BLK (system I/O, 16 bits) at the GPE0 port,
 * GPE0_BLK_LEN 2 (one status byte, one enable byte), no GPE1 block. */
static void check_fadt_gpe0(const uint8_t *f)
{
    assert_int_equal(pvh_le32(f + 80), PVH_ACPI_GPE0_PORT);
    assert_int_equal(pvh_le32(f + 84), 0);
    assert_int_equal(f[92], 2);
    assert_int_equal(f[93], 0);
    assert_int_equal(f[220], 1);  /* system I/O */
    assert_int_equal(f[221], 16); /* bit width */
    assert_int_equal(pvh_le64(f + 224), PVH_ACPI_GPE0_PORT);
    assert_int_equal(pvh_le64(f + 236), 0); /* X_GPE1_BLK */
}

/* The ID's 16 bytes: after the MADT, 16-byte aligned, the tables' last
 * bytes, zero (the VMM writes them). */
static void check_vmgenid_room(const struct pvh_acpi_config *cfg, const uint8_t *madt, size_t used)
{
    size_t off = pvh_acpi_vmgenid_offset(cfg);
    assert_int_equal(off % 16, 0);
    assert_true(off >= (size_t)(madt - buf) + pvh_le32(madt + 4));
    assert_int_equal(off + PVH_VMGENID_SIZE, used);
    static const uint8_t zero[PVH_VMGENID_SIZE];
    assert_memory_equal(buf + off, zero, sizeof(zero));
}

static void check_tables(unsigned ncpus, size_t ndevices)
{
    size_t used;
    struct pvh_acpi_config cfg = config(ncpus, ndevices);
    build(&cfg, &used);
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
    assert_int_equal(pvh_le16(f + 109) & (1u << 5), 0);  /* the CMOS RTC is present (Linux's rtc_cmos binds) */
    assert_int_equal(f[108], PVH_RTC_CENTURY_INDEX);     /* CENTURY: the CMOS byte holding it */
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
    /* no device: Scope(\_SB_) (PkgLength 137 in 2 bytes) holds the i8042's keyboard and VGEN */
    const uint8_t sb[] = {0x10, 0x49, 0x08, '\\', '_', 'S', 'B', '_'};
    if (ndevices == 0) {
        assert_int_equal(pvh_le32(d + 4),
                         36 + sizeof(s5) + sizeof(sb) + sizeof(i8042_aml) + sizeof(vgen_aml) + sizeof(gpe_aml));
        assert_memory_equal(d + 36 + sizeof(s5), sb, sizeof(sb));
    }
    assert_memory_equal(d + 36, s5, sizeof(s5));
    check_dsdt_devices(d, &cfg);
    check_dsdt_tail(d, BASE + pvh_acpi_vmgenid_offset(&cfg));
    check_fadt_gpe0(f);
    const uint8_t *m = table(pvh_le64(x + 44), used, "APIC");
    check_vmgenid_room(&cfg, m, used);
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
    check_tables(1, 0);
    check_tables(2, 0);
    check_tables(64, 0);
    check_tables(255, 0);
}

static void devices_0_1_8_and_most(void **state)
{
    (void)state;
    check_tables(1, 1);
    check_tables(2, 8);
    check_tables(255, PVH_MAX_VIRTIO_DEVICES);
}

static void tables_fit_in_legacy_window(void **state)
{
    (void)state;
    struct pvh_acpi_config cfg = config(255, PVH_MAX_VIRTIO_DEVICES);
    assert_true(BASE + pvh_acpi_size(&cfg) <= PVH_ACPI_LEGACY_WINDOW_END);
}

/* A package's PkgLength counts itself: 1 byte up to 63, 2 up to 4095, ... */
static void aml_pkg_lengths(void **state)
{
    (void)state;
    static const struct { size_t contents; uint8_t head[4]; size_t n; } cases[] = {
        {0, {0x01}, 1}, {62, {0x3f}, 1}, {63, {0x41, 0x04}, 2}, {4093, {0x4f, 0xff}, 2},
        {4094, {0x81, 0x00, 0x01}, 3}, {70000, {0x83, 0x17, 0x11}, 3},
    };
    static uint8_t out[80000], filler[80000];
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        struct pvh_aml a, m;
        pvh_aml_init(&a, out, sizeof(out));
        pvh_aml_init(&m, NULL, 0);
        memset(filler, 0x5a, cases[c].contents);
        size_t mark = pvh_aml_pkg_begin(&a), mmark = pvh_aml_pkg_begin(&m);
        memcpy(out + a.len, filler, cases[c].contents); /* contents as a caller's bytes */
        a.len += cases[c].contents;
        m.len += cases[c].contents;
        pvh_aml_pkg_end(&a, mark);
        pvh_aml_pkg_end(&m, mmark);
        assert_false(a.overflow);
        assert_int_equal(a.len, cases[c].n + cases[c].contents);
        assert_int_equal(m.len, a.len);
        assert_memory_equal(out, cases[c].head, cases[c].n);
        assert_memory_equal(out + cases[c].n, filler, cases[c].contents);
    }
}

/* A writer whose buffer is too small stops, flags it and never writes past. */
static void aml_overflow_flagged(void **state)
{
    (void)state;
    uint8_t small[16 + 8];
    memset(small, 0xcc, sizeof(small));
    struct pvh_aml a;
    pvh_aml_init(&a, small, 16);
    pvh_aml_name_string(&a, "_HID", "LNRO0005"); /* 1 + 4 + 1 + 9 = 15 bytes */
    assert_false(a.overflow);
    pvh_aml_name_integer(&a, "_UID", 7);
    assert_true(a.overflow);
    for (size_t i = 16; i < sizeof(small); i++)
        assert_int_equal(small[i], 0xcc);
}

/* EisaId("PNP0303") is the integer 0x0303D041 (the bytes 41 D0 03 03); a
 * string that is not three capitals and four hex digits writes nothing. */
static void aml_eisa_ids(void **state)
{
    (void)state;
    uint8_t out[32];
    struct pvh_aml a;
    pvh_aml_init(&a, out, sizeof(out));
    assert_true(pvh_aml_name_eisa_id(&a, "_HID", "PNP0303"));
    const uint8_t want[] = {0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x03, 0x03};
    assert_int_equal(a.len, sizeof(want));
    assert_memory_equal(out, want, sizeof(want));
    assert_false(pvh_aml_name_eisa_id(&a, "_HID", "pnp0303"));
    assert_false(pvh_aml_name_eisa_id(&a, "_HID", "PNP03G3"));
    assert_false(pvh_aml_name_eisa_id(&a, "_HID", "PNP030"));
    assert_int_equal(a.len, sizeof(want));
}

/* Notify's target as a NameSeg, a DualNamePath and a MultiNamePath (root-
 * relative or not); a method measures as it writes; an address package
 * keeps its size whatever the address. */
static void aml_name_paths_and_methods(void **state)
{
    (void)state;
    uint8_t out[64];
    struct pvh_aml a, m;
    pvh_aml_init(&a, out, sizeof(out));
    pvh_aml_notify(&a, "DEV", 1);
    const uint8_t one[] = {0x86, 'D', 'E', 'V', '_', 0x01};
    assert_int_equal(a.len, sizeof(one));
    assert_memory_equal(out, one, sizeof(one));
    pvh_aml_init(&a, out, sizeof(out));
    pvh_aml_notify(&a, "\\AB.CD.EF", 0x81);
    const uint8_t three[] = {0x86, '\\', 0x2f, 3, 'A', 'B', '_', '_', 'C', 'D', '_', '_', 'E', 'F', '_', '_', 0x0a, 0x81};
    assert_int_equal(a.len, sizeof(three));
    assert_memory_equal(out, three, sizeof(three));
    pvh_aml_init(&a, out, sizeof(out));
    pvh_aml_init(&m, NULL, 0);
    size_t mark = pvh_aml_method_begin(&a, "_E07", 2), mmark = pvh_aml_method_begin(&m, "_E07", 2);
    pvh_aml_notify(&a, "A.B", 0x80);
    pvh_aml_notify(&m, "A.B", 0x80);
    pvh_aml_pkg_end(&a, mark);
    pvh_aml_pkg_end(&m, mmark);
    const uint8_t method[] = {0x14, 0x12, '_', 'E', '0', '7', 0x02,
                              0x86, 0x2e, 'A', '_', '_', '_', 'B', '_', '_', '_', 0x0a, 0x80};
    assert_int_equal(a.len, sizeof(method));
    assert_int_equal(m.len, sizeof(method));
    assert_memory_equal(out, method, sizeof(method));
    pvh_aml_init(&a, NULL, 0);
    pvh_aml_name_address_package(&a, "ADDR", 0);
    size_t small = a.len;
    pvh_aml_init(&a, NULL, 0);
    pvh_aml_name_address_package(&a, "ADDR", 0x123456789abcdef0ull);
    assert_int_equal(a.len, small);
}

static void bad_arguments_refused(void **state)
{
    (void)state;
    size_t used;
    uint64_t rsdp;
    struct pvh_error err;
    struct pvh_acpi_config c0 = config(0, 0), c256 = config(256, 0), c4 = config(4, 2);
    assert_int_equal(pvh_acpi_build(&c0, BASE, buf, sizeof(buf), &used, &rsdp, &err), -1);
    assert_int_equal(pvh_acpi_build(&c256, BASE, buf, sizeof(buf), &used, &rsdp, &err), -1);
    assert_int_equal(pvh_acpi_build(&c4, BASE, buf, 100, &used, &rsdp, &err), -1);
    assert_int_equal(pvh_acpi_build(&c4, BASE, buf, pvh_acpi_size(&c4) - 1, &used, &rsdp, &err), -1);
    assert_int_equal(pvh_acpi_build(&c4, 0xFFFFFF00u, buf, sizeof(buf), &used, &rsdp, &err), -1);
    struct pvh_acpi_config many = config(1, PVH_MAX_VIRTIO_DEVICES);
    many.ndevices++;
    assert_int_equal(pvh_acpi_build(&many, BASE, buf, sizeof(buf), &used, &rsdp, &err), -1);
    devices[0].gsi = PVH_IOAPIC_PINS;
    struct pvh_acpi_config badgsi = {.ncpus = 1, .ndevices = 1, .devices = devices};
    assert_int_equal(pvh_acpi_build(&badgsi, BASE, buf, sizeof(buf), &used, &rsdp, &err), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tables_for_1_2_64_255_cpus),
        cmocka_unit_test(devices_0_1_8_and_most),
        cmocka_unit_test(tables_fit_in_legacy_window),
        cmocka_unit_test(aml_pkg_lengths),
        cmocka_unit_test(aml_overflow_flagged),
        cmocka_unit_test(aml_eisa_ids),
        cmocka_unit_test(aml_name_paths_and_methods),
        cmocka_unit_test(bad_arguments_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
