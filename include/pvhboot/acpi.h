/* ACPI tables for a PVH guest (RSDP rev 2 -> XSDT -> FADT -> DSDT, MADT) and
 * the fixed hardware addresses the tables promise and the VMM implements. */
#ifndef PVHBOOT_ACPI_H
#define PVHBOOT_ACPI_H

#include <stddef.h>
#include <stdint.h>

#include "pvhboot/error.h"

#define PVH_IOAPIC_ADDR 0xFEC00000u
#define PVH_LAPIC_ADDR 0xFEE00000u
#define PVH_ACPI_SCI_IRQ 9
#define PVH_ACPI_PM1A_EVT_PORT 0x600 /* 4 bytes: status, enable */
#define PVH_ACPI_PM1A_CNT_PORT 0x604 /* 2 bytes */
#define PVH_ACPI_SLP_TYP_S5 5        /* the DSDT's \_S5 value */
#define PVH_ACPI_SLP_EN (1u << 13)
#define PVH_ACPI_SLP_TYP_SHIFT 10
#define PVH_ACPI_LEGACY_WINDOW_START 0xE0000u /* guests may scan for the RSDP here */
#define PVH_ACPI_LEGACY_WINDOW_END 0x100000u

/* Builds all tables into buf as they will sit at guest-physical base_gpa.
 * *used is the bytes written; *rsdp_gpa where the RSDP is (at base_gpa). */
int pvh_acpi_build(unsigned ncpus, uint64_t base_gpa, uint8_t *buf, size_t bufsize,
                   size_t *used, uint64_t *rsdp_gpa, struct pvh_error *err);

/* Upper bound of pvh_acpi_build()'s output for ncpus. */
size_t pvh_acpi_size(unsigned ncpus);

#endif
