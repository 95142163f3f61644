/* Multiboot 1 and 2 header recognition (the header must sit in the first
 * 8 KiB, 4-aligned, for Multiboot 1; first 32 KiB, 8-aligned, for Multiboot 2,
 * with a valid checksum). */
#ifndef PVHBOOT_MULTIBOOT_H
#define PVHBOOT_MULTIBOOT_H

#include <stddef.h>
#include <stdint.h>

#define PVH_MB1_HEADER_MAGIC 0x1BADB002u
#define PVH_MB2_HEADER_MAGIC 0xE85250D6u
#define PVH_MB1_SEARCH 8192u
#define PVH_MB2_SEARCH 32768u

/* Returns 1 or 2 (the Multiboot version found, 1 preferred) with *offset set
 * to the header's file offset, or 0 when there is no valid header. */
int pvh_multiboot_find(const uint8_t *data, size_t size, uint64_t *offset);

#endif
