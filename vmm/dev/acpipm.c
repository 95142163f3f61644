/* ACPI fixed hardware the FADT promises (include/pvhboot/acpi.h): the PM1a
 * event block (status, enable: 2 bytes each), the PM1a control block and
 * the GPE0 block (status, write 1 to clear, then enable: 1 byte each).
 * Writing SLP_EN with SLP_TYP = S5 (the DSDT's \_S5) powers the VM off,
 * ending it with status 0. SCI_EN reads as set: always in ACPI mode. The
 * SCI (level, active high) is raised while (GPE0 status & enable) != 0 and
 * lowered when that clears (no PM1 event ever sets a PM1 status bit). The
 * only GPE the VMM raises is the VM generation ID's change (bit 0, on every
 * restore: vmm/restore.c); the ID's address is kept here so that a restore
 * finds it in the saved state.
 * Saved state (save/restore), version 2: the PM1 registers, the GPE0
 * registers and the ID's address. */
#include "acpipm.h"

#include "devstate.h"
#include "pvhboot/acpi.h"
#include "pvhboot/bytes.h"

#define PM1_STATUS 0
#define PM1_ENABLE 2
#define PM1_CONTROL (PVH_ACPI_PM1A_CNT_PORT - PVH_ACPI_PM1A_EVT_PORT)
#define GPE0_STATUS (PVH_ACPI_GPE0_PORT - PVH_ACPI_PM1A_EVT_PORT)
#define GPE0_ENABLE (GPE0_STATUS + 1)
#define GPE0_RAISED (1u << PVH_ACPI_GPE_VMGENID) /* the status bits the VMM ever sets */
#define SCI_EN 0x0001
#define SLP_TYP_MASK (7u << PVH_ACPI_SLP_TYP_SHIFT)

void pvh_acpipm_init(struct pvh_acpipm *pm, const struct pvh_io_hooks *hooks)
{
    *pm = (struct pvh_acpipm){.hooks = hooks, .control = SCI_EN};
    pthread_mutex_init(&pm->lock, NULL);
}

static uint16_t *reg16(struct pvh_acpipm *pm, uint16_t off)
{
    switch (off & ~1u) {
    case PM1_STATUS:
        return &pm->status;
    case PM1_ENABLE:
        return &pm->enable;
    case PM1_CONTROL:
        return &pm->control;
    default:
        return NULL;
    }
}

/* The SCI follows the GPE0 block: high while an enabled status bit is set. */
static void update_sci(struct pvh_acpipm *pm)
{
    int level = (pm->gpe_status & pm->gpe_enable) != 0;
    if (level != pm->sci_level && pm->hooks && pm->hooks->set_irq)
        pm->hooks->set_irq(pm->hooks->ctx, PVH_ACPI_SCI_IRQ, level);
    pm->sci_level = level;
}

void pvh_acpipm_raise_gpe(struct pvh_acpipm *pm, unsigned bit)
{
    pm->gpe_status |= (uint8_t)(1u << (bit & 7));
    update_sci(pm);
}

static uint8_t read_byte(struct pvh_acpipm *pm, uint16_t off)
{
    if (off == GPE0_STATUS)
        return pm->gpe_status;
    if (off == GPE0_ENABLE)
        return pm->gpe_enable;
    uint16_t *r = reg16(pm, off);
    return r ? (uint8_t)(*r >> ((off & 1) * 8)) : 0xff;
}

static uint64_t acpipm_read(void *dev, uint64_t off, unsigned size)
{
    struct pvh_acpipm *pm = dev;
    uint32_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint32_t)read_byte(pm, (uint16_t)(off + i)) << (8 * i);
    return v;
}

static void write_byte(struct pvh_acpipm *pm, uint16_t off, uint8_t byte)
{
    if (off == GPE0_STATUS) {
        pm->gpe_status &= (uint8_t)~byte; /* write 1 to clear */
        return;
    }
    if (off == GPE0_ENABLE) {
        pm->gpe_enable = byte;
        return;
    }
    uint16_t *r = reg16(pm, off);
    if (!r)
        return;
    unsigned shift = (off & 1) * 8;
    if (r == &pm->status) {
        pm->status &= (uint16_t)~((unsigned)byte << shift); /* write 1 to clear */
        return;
    }
    *r = (uint16_t)((*r & ~(0xffu << shift)) | ((unsigned)byte << shift));
}

static void acpipm_write(void *dev, uint64_t off, uint64_t value, unsigned size)
{
    struct pvh_acpipm *pm = dev;
    for (unsigned i = 0; i < size; i++)
        write_byte(pm, (uint16_t)(off + i), (uint8_t)(value >> (8 * i)));
    update_sci(pm);
    pm->control |= SCI_EN;
    if ((pm->control & PVH_ACPI_SLP_EN) &&
        ((pm->control & SLP_TYP_MASK) >> PVH_ACPI_SLP_TYP_SHIFT) == PVH_ACPI_SLP_TYP_S5) {
        pm->control &= (uint16_t)~PVH_ACPI_SLP_EN;
        pm->hooks->end(pm->hooks->ctx, PVH_END_POWEROFF, 0);
    }
}

/* ---- saved state, version 2: status, enable, control (u16 each), GPE0
 * status and enable (u8 each), the VM generation ID's address (u64).
 * Version 1 (no GPE0 block, no ID) is refused: its guest's DSDT has no
 * VM generation ID device to tell of the clone. */

#define STATE_VERSION 2
#define STATE_LEN 17
#define STATE_VERSION_NO_VMGENID 1

static int acpipm_save(void *dev, uint8_t *buf, size_t cap, size_t *len, struct pvh_error *err)
{
    struct pvh_acpipm *pm = dev;
    if (pvh_devstate_begin("acpipm", STATE_VERSION, buf, cap, STATE_LEN, err) != 0)
        return -1;
    pvh_put_le16(buf + 1, pm->status);
    pvh_put_le16(buf + 3, pm->enable);
    pvh_put_le16(buf + 5, pm->control);
    buf[7] = pm->gpe_status;
    buf[8] = pm->gpe_enable;
    pvh_put_le64(buf + 9, pm->vmgenid_gpa);
    *len = STATE_LEN;
    return 0;
}

static int check_pm1(uint16_t status, uint16_t control, struct pvh_error *err)
{
    if (status)
        return pvh_devstate_bad(err, "acpipm", "PM1 status 0x%04x is not 0 (no event sets a status bit)", status);
    if (!(control & SCI_EN))
        return pvh_devstate_bad(err, "acpipm", "PM1 control 0x%04x lacks SCI_EN", control);
    if ((control & PVH_ACPI_SLP_EN) && ((control & SLP_TYP_MASK) >> PVH_ACPI_SLP_TYP_SHIFT) == PVH_ACPI_SLP_TYP_S5)
        return pvh_devstate_bad(err, "acpipm", "PM1 control 0x%04x is an S5 sleep already taken", control);
    return 0;
}

/* GPE0 status holds only bits the VMM raises; the ID is 16 bytes below
 * 4 GiB (the DSDT's ADDR), aligned as the tables place it, or absent (0). */
static int check_gpe_and_id(uint8_t gpe_status, uint64_t gpa, struct pvh_error *err)
{
    if (gpe_status & ~GPE0_RAISED)
        return pvh_devstate_bad(err, "acpipm", "GPE0 status 0x%02x has bits no event sets (only 0x%02x)", gpe_status,
                                GPE0_RAISED);
    if (gpa % PVH_VMGENID_SIZE || gpa > 0x100000000ull - PVH_VMGENID_SIZE)
        return pvh_devstate_bad(err, "acpipm", "VM generation ID address 0x%llx is not 16-byte aligned below 4 GiB",
                                (unsigned long long)gpa);
    return 0;
}

/* Status bits are only ever cleared (nothing here sets one); SCI_EN always
 * reads set; a written S5 sleep has already powered the VM off. */
static int check_state(const uint8_t *buf, size_t len, struct pvh_error *err)
{
    if (len > 0 && buf[0] == STATE_VERSION_NO_VMGENID)
        return pvh_devstate_bad(err, "acpipm", "version 1 is from a pvhboot without the VM generation ID device; "
                                "boot the template again with this pvhboot and take a new snapshot");
    if (pvh_devstate_open("acpipm", STATE_VERSION, buf, len, STATE_LEN, err) != 0 ||
        pvh_devstate_length("acpipm", len, STATE_LEN, err) != 0)
        return -1;
    return check_pm1(pvh_le16(buf + 1), pvh_le16(buf + 5), err) || check_gpe_and_id(buf[7], pvh_le64(buf + 9), err)
               ? -1
               : 0;
}

static int acpipm_restore(void *dev, const uint8_t *buf, size_t len, struct pvh_error *err)
{
    struct pvh_acpipm *pm = dev;
    if (check_state(buf, len, err) != 0)
        return -1;
    pm->status = pvh_le16(buf + 1);
    pm->enable = pvh_le16(buf + 3);
    pm->control = pvh_le16(buf + 5);
    pm->gpe_status = buf[7];
    pm->gpe_enable = buf[8];
    pm->vmgenid_gpa = pvh_le64(buf + 9);
    update_sci(pm);
    return 0;
}

const struct pvh_dev_ops pvh_acpipm_ops = {
    .name = "acpipm", .read = acpipm_read, .write = acpipm_write, .save = acpipm_save, .restore = acpipm_restore};
