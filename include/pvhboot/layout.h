/* The machine pvhboot builds, as data: every fixed guest-physical address
 * and port, the virtio-mmio window (one 4 KiB slot per device) and the
 * interrupt lines (GSIs) devices get. The planner, the ACPI generator and
 * the VMM all read it from here, so the tables a guest parses and the
 * devices it finds always agree. */
#ifndef PVHBOOT_LAYOUT_H
#define PVHBOOT_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

/* Interrupt controllers (KVM's in-kernel ones). */
#define PVH_IOAPIC_ADDR 0xFEC00000u
#define PVH_IOAPIC_PINS 24
#define PVH_LAPIC_ADDR 0xFEE00000u

/* Pages KVM needs in guest-physical space on Intel hosts (the real-mode TSS
 * and the identity map for CPUs without unrestricted guest): in the MMIO
 * hole, clear of the I/O APIC and the local APIC. */
#define PVH_KVM_IDENTITY_MAP_ADDR 0xFEFFC000u
#define PVH_KVM_TSS_ADDR 0xFEFFD000u

/* Legacy port-I/O devices and their ISA IRQs. */
#define PVH_COM1_PORT 0x3f8
#define PVH_COM1_IRQ 4
#define PVH_I8042_PORT 0x60          /* 0x60-0x64 */
#define PVH_DEBUG_EXIT_PORT 0xf4     /* 4 ports */
#define PVH_ACPI_PM1A_EVT_PORT 0x600 /* 4 bytes: status, enable */
#define PVH_ACPI_PM1A_CNT_PORT 0x604 /* 2 bytes */
#define PVH_ACPI_GPE0_PORT 0x608      /* 2 bytes: GPE0 status (write 1 to clear), GPE0 enable */
#define PVH_ACPI_GPE0_LEN 2
#define PVH_ACPI_PORTS_END (PVH_ACPI_GPE0_PORT + PVH_ACPI_GPE0_LEN) /* PM1a and GPE0: 0x600-0x609 */
#define PVH_ACPI_SCI_IRQ 9           /* level, active high: raised while a GPE0 status bit is enabled */
#define PVH_ACPI_GPE_VMGENID 0       /* GPE0 bit the VM generation ID's change raises (\_GPE._E00) */
#define PVH_VMGENID_SIZE 16          /* the VM generation ID's bytes, after the ACPI tables */
#define PVH_RTC_PORT 0x70            /* 0x70 index (bit 7: NMI mask), 0x71 data */
#define PVH_RTC_IRQ 8                /* ISA IRQ 8 = GSI 8, edge, active high (no MADT override) */
#define PVH_RTC_CENTURY_INDEX 0x32   /* CMOS byte with the century: the FADT's CENTURY field */
#define PVH_DEBUGCON_PORT 0xe9       /* Bochs/QEMU debug console: reads 0xe9 */
/* --snapshot-on-port: a 32-bit OUT of PVH_SNAPSHOT_MAGIC ("SNAP") to this
 * port asks for a snapshot (the guest SDK's pvh_snapshot()); the writing
 * vCPU stops right after the OUT, any other value is ignored. */
#define PVH_SNAPSHOT_PORT 0x5f4      /* 4 ports */
#define PVH_SNAPSHOT_MAGIC 0x50414e53u

/* The BIOS data area (segment 0x40) fields kernels without a BIOS still
 * read, and the extended BIOS data area (EBDA) the planner places at the top
 * of conventional memory (docs/layout.md). */
#define PVH_BDA_ADDR 0x400
#define PVH_BDA_SIZE 0x100
#define PVH_BDA_COM1 0x00            /* word: I/O base of COM1 */
#define PVH_BDA_EQUIPMENT 0x10       /* word: bits 9-11 serial ports */
#define PVH_BDA_EBDA_SEGMENT 0x0e    /* word: EBDA address >> 4 (0x40E) */
#define PVH_BDA_BASE_MEMORY_KIB 0x13 /* word: conventional memory below the EBDA, KiB (0x413) */
#define PVH_EBDA_SIZE 0x1000         /* one page; its first byte holds its size in KiB */

/* virtio-mmio devices: slot i at BASE + i * STRIDE, inside the 3-4 GiB hole
 * (RAM stops at 3 GiB), below the I/O APIC. */
#define PVH_VIRTIO_MMIO_BASE 0xD0000000ull
#define PVH_VIRTIO_MMIO_STRIDE 0x1000ull
#define PVH_MAX_VIRTIO_DEVICES 17

/* virtio device IDs (virtio 1.2, 5 "Device Types"). */
enum pvh_virtio_id {
    PVH_VIRTIO_ID_NET = 1,
    PVH_VIRTIO_ID_BLOCK = 2,
    PVH_VIRTIO_ID_CONSOLE = 3,
    PVH_VIRTIO_ID_RNG = 4,
    PVH_VIRTIO_ID_VSOCK = 19,
};

/* The GSI of virtio slot i (i < PVH_MAX_VIRTIO_DEVICES): the I/O APIC pins
 * no legacy device uses (0 PIT, 1 keyboard, 2 cascade, 3/4 COM2/COM1,
 * 8 RTC, 9 SCI stay free for them), edge-triggered, active high. */
unsigned pvh_layout_virtio_gsi(size_t slot);

/* A memory-mapped device the machine has: where, how big, which GSI. */
struct pvh_mmio_device {
    uint32_t virtio_id; /* enum pvh_virtio_id */
    uint64_t base;
    uint64_t size;
    uint32_t gsi;
};

/* "virtio-blk", "virtio-rng", ...; "virtio-?" for an unknown id. */
const char *pvh_virtio_id_name(uint32_t virtio_id);

#endif
