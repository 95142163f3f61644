/* ACPI tables for a PVH guest (RSDP rev 2 -> XSDT -> FADT -> DSDT, MADT),
 * generated from the machine description (pvhboot/layout.h): the vCPUs and
 * the virtio-mmio devices the plan placed; the VM generation ID's room. */
#ifndef PVHBOOT_ACPI_H
#define PVHBOOT_ACPI_H

#include <stddef.h>
#include <stdint.h>

#include "pvhboot/error.h"
#include "pvhboot/layout.h"

#define PVH_ACPI_SLP_TYP_S5 5        /* the DSDT's \_S5 value */
#define PVH_ACPI_SLP_EN (1u << 13)
#define PVH_ACPI_SLP_TYP_SHIFT 10
#define PVH_ACPI_LEGACY_WINDOW_START 0xE0000u /* guests may scan for the RSDP here */
#define PVH_ACPI_LEGACY_WINDOW_END 0x100000u

/* What the tables describe: 1-255 vCPUs (the MADT) and up to
 * PVH_MAX_VIRTIO_DEVICES virtio-mmio devices (the DSDT). */
struct pvh_acpi_config {
    unsigned ncpus;
    size_t ndevices;
    const struct pvh_mmio_device *devices;
};

/* Builds all tables into buf as they will sit at guest-physical base_gpa.
 * *used is the bytes written; *rsdp_gpa where the RSDP is (at base_gpa). */
int pvh_acpi_build(const struct pvh_acpi_config *cfg, uint64_t base_gpa, uint8_t *buf, size_t bufsize,
                   size_t *used, uint64_t *rsdp_gpa, struct pvh_error *err);

/* The exact size of pvh_acpi_build()'s output for cfg. */
size_t pvh_acpi_size(const struct pvh_acpi_config *cfg);

/* Where in that output the VM generation ID's PVH_VMGENID_SIZE bytes are
 * (the DSDT's \_SB.VGEN.ADDR points there; pvh_acpi_build leaves them zero). */
size_t pvh_acpi_vmgenid_offset(const struct pvh_acpi_config *cfg);

#endif
