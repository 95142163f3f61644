/* ACPI tables: RSDP (revision 2) at the base, then FACS, RSDT, XSDT, FADT
 * (ACPI 6.0 layout, 276 bytes), DSDT (only Name(_S5, Package(){5,5,0,0}))
 * and MADT (one enabled local APIC per vCPU, one I/O APIC, IRQ0->GSI2 and
 * SCI overrides). Bytes are written little-endian field by field. */
#include <string.h>

#include "pvhboot/acpi.h"
#include "pvhboot/bytes.h"

#define HDR_LEN 36
#define RSDP_LEN 36
#define FACS_LEN 64
#define FADT_LEN 276
#define MADT_FIXED 44
#define MADT_LAPIC_LEN 8
#define MADT_IOAPIC_LEN 12
#define MADT_ISO_LEN 10

/* Name(_S5_, Package(4){5, 5, 0, 0}): NameOp, NameSeg, PackageOp, PkgLength
 * (8: itself + NumElements + 6 element bytes), NumElements, BytePrefix 5 x2,
 * ZeroOp x2. */
static const uint8_t dsdt_aml[] = {
    0x08, '_', 'S', '5', '_', 0x12, 0x08, 0x04,
    0x0a, PVH_ACPI_SLP_TYP_S5, 0x0a, PVH_ACPI_SLP_TYP_S5, 0x00, 0x00,
};

/* FADT Flags and IA-PC boot architecture bits (ACPI 6.0 5.2.9.3, 5.2.9.4). */
#define FADT_WBINVD (1u << 0)
#define FADT_PROC_C1 (1u << 2)
#define FADT_PWR_BUTTON (1u << 4) /* no fixed power button */
#define FADT_SLP_BUTTON (1u << 5) /* no fixed sleep button */
#define IAPC_VGA_NOT_PRESENT (1u << 2)
#define IAPC_MSI_NOT_SUPPORTED (1u << 3)
#define IAPC_CMOS_RTC_NOT_PRESENT (1u << 5)

static uint8_t checksum(const uint8_t *p, size_t len)
{
    uint8_t sum = 0;
    for (size_t i = 0; i < len; i++)
        sum = (uint8_t)(sum + p[i]);
    return (uint8_t)(0x100 - sum);
}

static size_t align16(size_t n) { return (n + 15) & ~(size_t)15; }

static size_t madt_len(unsigned ncpus)
{
    return MADT_FIXED + ncpus * MADT_LAPIC_LEN + MADT_IOAPIC_LEN + 2 * MADT_ISO_LEN;
}

/* Offsets of each table from the base. */
struct acpi_layout {
    size_t facs, rsdt, xsdt, fadt, dsdt, madt, end;
};

static void layout(unsigned ncpus, struct acpi_layout *l)
{
    l->facs = 64; /* RSDP in [0, 36); FACS must be 64-byte aligned */
    l->rsdt = l->facs + FACS_LEN;
    l->xsdt = align16(l->rsdt + HDR_LEN + 2 * 4);
    l->fadt = align16(l->xsdt + HDR_LEN + 2 * 8);
    l->dsdt = align16(l->fadt + FADT_LEN);
    l->madt = align16(l->dsdt + HDR_LEN + sizeof(dsdt_aml));
    l->end = l->madt + madt_len(ncpus);
}

size_t pvh_acpi_size(unsigned ncpus)
{
    struct acpi_layout l;
    layout(ncpus, &l);
    return l.end;
}

static void header(uint8_t *p, const char *sig, uint32_t len, uint8_t rev)
{
    memcpy(p, sig, 4);
    pvh_put_le32(p + 4, len);
    p[8] = rev;
    memcpy(p + 10, "PVHBT ", 6);
    memcpy(p + 16, "PVHBOOT ", 8);
    pvh_put_le32(p + 24, 1);
    memcpy(p + 28, "PVHB", 4);
    pvh_put_le32(p + 32, 1);
}

static void seal(uint8_t *p, size_t len) { p[9] = checksum(p, len); }

/* Generic Address Structure: system I/O space, byte access. */
static void gas_io(uint8_t *p, uint8_t bits, uint64_t port)
{
    p[0] = 1;
    p[1] = bits;
    p[2] = 0;
    p[3] = 0;
    pvh_put_le64(p + 4, port);
}

static void build_fadt(uint8_t *p, uint64_t facs, uint64_t dsdt)
{
    header(p, "FACP", FADT_LEN, 6);
    pvh_put_le32(p + 36, (uint32_t)facs);
    pvh_put_le32(p + 40, (uint32_t)dsdt);
    pvh_put_le16(p + 46, PVH_ACPI_SCI_IRQ);
    pvh_put_le32(p + 56, PVH_ACPI_PM1A_EVT_PORT);
    pvh_put_le32(p + 64, PVH_ACPI_PM1A_CNT_PORT);
    p[88] = 4; /* PM1_EVT_LEN */
    p[89] = 2; /* PM1_CNT_LEN */
    pvh_put_le16(p + 96, 101);  /* P_LVL2_LAT > 100: C2 unsupported */
    pvh_put_le16(p + 98, 1001); /* P_LVL3_LAT > 1000: C3 unsupported */
    pvh_put_le16(p + 109, IAPC_VGA_NOT_PRESENT | IAPC_MSI_NOT_SUPPORTED | IAPC_CMOS_RTC_NOT_PRESENT);
    pvh_put_le32(p + 112, FADT_WBINVD | FADT_PROC_C1 | FADT_PWR_BUTTON | FADT_SLP_BUTTON);
    p[131] = 0; /* FADT minor version: ACPI 6.0 */
    pvh_put_le64(p + 132, facs);
    pvh_put_le64(p + 140, dsdt);
    gas_io(p + 148, 32, PVH_ACPI_PM1A_EVT_PORT);
    gas_io(p + 172, 16, PVH_ACPI_PM1A_CNT_PORT);
    memcpy(p + 268, "PVHBOOT ", 8);
    seal(p, FADT_LEN);
}

static uint8_t *madt_iso(uint8_t *q, uint8_t irq, uint32_t gsi, uint16_t flags)
{
    q[0] = 2;
    q[1] = MADT_ISO_LEN;
    q[2] = 0; /* ISA bus */
    q[3] = irq;
    pvh_put_le32(q + 4, gsi);
    pvh_put_le16(q + 8, flags);
    return q + MADT_ISO_LEN;
}

static void build_madt(uint8_t *p, unsigned ncpus)
{
    size_t len = madt_len(ncpus);
    header(p, "APIC", (uint32_t)len, 4);
    pvh_put_le32(p + 36, PVH_LAPIC_ADDR);
    pvh_put_le32(p + 40, 1); /* PCAT_COMPAT: KVM's in-kernel 8259s exist; guests mask them */
    uint8_t *q = p + MADT_FIXED;
    for (unsigned i = 0; i < ncpus; i++, q += MADT_LAPIC_LEN) {
        q[0] = 0;
        q[1] = MADT_LAPIC_LEN;
        q[2] = (uint8_t)i; /* ACPI processor UID */
        q[3] = (uint8_t)i; /* APIC id */
        pvh_put_le32(q + 4, 1);   /* enabled */
    }
    q[0] = 1;
    q[1] = MADT_IOAPIC_LEN;
    q[2] = 0; /* I/O APIC id: KVM's reset value */
    q[3] = 0;
    pvh_put_le32(q + 4, PVH_IOAPIC_ADDR);
    pvh_put_le32(q + 8, 0); /* GSI base */
    q = madt_iso(q + MADT_IOAPIC_LEN, 0, 2, 0);
    /* SCI: level-triggered (11b << 2), active high (01b): the VMM raises the line to 1. */
    madt_iso(q, PVH_ACPI_SCI_IRQ, PVH_ACPI_SCI_IRQ, 0x000d);
    seal(p, len);
}

static void build_rsdp(uint8_t *p, uint64_t rsdt, uint64_t xsdt)
{
    memcpy(p, "RSD PTR ", 8);
    memcpy(p + 9, "PVHBT ", 6);
    p[15] = 2;
    pvh_put_le32(p + 16, (uint32_t)rsdt);
    pvh_put_le32(p + 20, RSDP_LEN);
    pvh_put_le64(p + 24, xsdt);
    p[8] = checksum(p, 20);
    p[32] = checksum(p, RSDP_LEN);
}

int pvh_acpi_build(unsigned ncpus, uint64_t base_gpa, uint8_t *buf, size_t bufsize,
                   size_t *used, uint64_t *rsdp_gpa, struct pvh_error *err)
{
    struct acpi_layout l;
    if (ncpus < 1 || ncpus > 255)
        return pvh_fail(err, PVH_E_INPUT, "%u vCPUs: the MADT describes 1 to 255", ncpus);
    layout(ncpus, &l);
    if (bufsize < l.end)
        return pvh_fail(err, PVH_E_NOFIT, "ACPI tables need %zu bytes, buffer has %zu",
                        l.end, bufsize);
    if (base_gpa + l.end > 0x100000000ull)
        return pvh_fail(err, PVH_E_NOFIT, "ACPI tables at 0x%llx cross 4 GiB",
                        (unsigned long long)base_gpa);
    memset(buf, 0, l.end);
    uint8_t *facs = buf + l.facs;
    memcpy(facs, "FACS", 4);
    pvh_put_le32(facs + 4, FACS_LEN);
    facs[32] = 2; /* version */
    uint8_t *rsdt = buf + l.rsdt, *xsdt = buf + l.xsdt;
    header(rsdt, "RSDT", HDR_LEN + 8, 1);
    pvh_put_le32(rsdt + 36, (uint32_t)(base_gpa + l.fadt));
    pvh_put_le32(rsdt + 40, (uint32_t)(base_gpa + l.madt));
    seal(rsdt, HDR_LEN + 8);
    header(xsdt, "XSDT", HDR_LEN + 16, 1);
    pvh_put_le64(xsdt + 36, base_gpa + l.fadt);
    pvh_put_le64(xsdt + 44, base_gpa + l.madt);
    seal(xsdt, HDR_LEN + 16);
    build_fadt(buf + l.fadt, base_gpa + l.facs, base_gpa + l.dsdt);
    uint8_t *dsdt = buf + l.dsdt;
    header(dsdt, "DSDT", (uint32_t)(HDR_LEN + sizeof(dsdt_aml)), 2);
    memcpy(dsdt + HDR_LEN, dsdt_aml, sizeof(dsdt_aml));
    seal(dsdt, HDR_LEN + sizeof(dsdt_aml));
    build_madt(buf + l.madt, ncpus);
    build_rsdp(buf, base_gpa + l.rsdt, base_gpa + l.xsdt);
    *used = l.end;
    *rsdp_gpa = base_gpa;
    return 0;
}
