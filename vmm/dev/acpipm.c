/* ACPI fixed hardware the FADT promises (include/pvhboot/acpi.h): the PM1a
 * event block (status, enable: 2 bytes each) and the PM1a control block.
 * Writing SLP_EN with SLP_TYP = S5 (the DSDT's \_S5) powers the VM off,
 * ending it with status 0. SCI_EN reads as set: always in ACPI mode.
 * Saved state (save/restore): the three registers. */
#include "acpipm.h"

#include "devstate.h"
#include "pvhboot/acpi.h"
#include "pvhboot/bytes.h"

#define PM1_STATUS 0
#define PM1_ENABLE 2
#define PM1_CONTROL (PVH_ACPI_PM1A_CNT_PORT - PVH_ACPI_PM1A_EVT_PORT)
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

static uint64_t acpipm_read(void *dev, uint64_t off, unsigned size)
{
    struct pvh_acpipm *pm = dev;
    uint32_t v = 0;
    for (unsigned i = 0; i < size; i++) {
        uint16_t *r = reg16(pm, (uint16_t)(off + i));
        uint8_t byte = r ? (uint8_t)(*r >> (((off + i) & 1) * 8)) : 0xff;
        v |= (uint32_t)byte << (8 * i);
    }
    return v;
}

static void write_byte(struct pvh_acpipm *pm, uint16_t off, uint8_t byte)
{
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
    pm->control |= SCI_EN;
    if ((pm->control & PVH_ACPI_SLP_EN) &&
        ((pm->control & SLP_TYP_MASK) >> PVH_ACPI_SLP_TYP_SHIFT) == PVH_ACPI_SLP_TYP_S5) {
        pm->control &= (uint16_t)~PVH_ACPI_SLP_EN;
        pm->hooks->end(pm->hooks->ctx, PVH_END_POWEROFF, 0);
    }
}

/* ---- saved state, version 1: status, enable, control (u16 each) */

#define STATE_VERSION 1
#define STATE_LEN 7

static int acpipm_save(void *dev, uint8_t *buf, size_t cap, size_t *len, struct pvh_error *err)
{
    struct pvh_acpipm *pm = dev;
    if (pvh_devstate_begin("acpipm", STATE_VERSION, buf, cap, STATE_LEN, err) != 0)
        return -1;
    pvh_put_le16(buf + 1, pm->status);
    pvh_put_le16(buf + 3, pm->enable);
    pvh_put_le16(buf + 5, pm->control);
    *len = STATE_LEN;
    return 0;
}

/* Status bits are only ever cleared (nothing here sets one); SCI_EN always
 * reads set; a written S5 sleep has already powered the VM off. */
static int check_state(const uint8_t *buf, size_t len, struct pvh_error *err)
{
    if (pvh_devstate_open("acpipm", STATE_VERSION, buf, len, STATE_LEN, err) != 0 ||
        pvh_devstate_length("acpipm", len, STATE_LEN, err) != 0)
        return -1;
    uint16_t status = pvh_le16(buf + 1), control = pvh_le16(buf + 5);
    if (status)
        return pvh_devstate_bad(err, "acpipm", "PM1 status 0x%04x is not 0 (no event sets a status bit)", status);
    if (!(control & SCI_EN))
        return pvh_devstate_bad(err, "acpipm", "PM1 control 0x%04x lacks SCI_EN", control);
    if ((control & PVH_ACPI_SLP_EN) && ((control & SLP_TYP_MASK) >> PVH_ACPI_SLP_TYP_SHIFT) == PVH_ACPI_SLP_TYP_S5)
        return pvh_devstate_bad(err, "acpipm", "PM1 control 0x%04x is an S5 sleep already taken", control);
    return 0;
}

static int acpipm_restore(void *dev, const uint8_t *buf, size_t len, struct pvh_error *err)
{
    struct pvh_acpipm *pm = dev;
    if (check_state(buf, len, err) != 0)
        return -1;
    pm->status = pvh_le16(buf + 1);
    pm->enable = pvh_le16(buf + 3);
    pm->control = pvh_le16(buf + 5);
    return 0;
}

const struct pvh_dev_ops pvh_acpipm_ops = {
    .name = "acpipm", .read = acpipm_read, .write = acpipm_write, .save = acpipm_save, .restore = acpipm_restore};
