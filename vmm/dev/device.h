/* Port-I/O devices: each is a struct of callbacks over a port range, with
 * its own state, registered in one table (devices.c). Devices reach the
 * machine only through pvh_io_hooks, so tests can drive them without KVM. */
#ifndef PVHBOOT_VMM_DEV_DEVICE_H
#define PVHBOOT_VMM_DEV_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#include "pvhboot/vmm.h"

struct pvh_io_hooks {
    void *ctx;
    void (*set_irq)(void *ctx, unsigned irq, int level);
    void (*end)(void *ctx, enum pvh_vm_end end, int status);
    void (*output)(void *ctx, const uint8_t *buf, size_t len); /* serial bytes */
};

struct pvh_device {
    const char *name;
    uint16_t base, len;
    /* size is 1, 2 or 4; off is relative to base */
    uint32_t (*read)(void *state, uint16_t off, unsigned size);
    void (*write)(void *state, uint16_t off, uint32_t value, unsigned size);
    void *state;
};

/* 8250/16550A UART (COM1) */
#define PVH_UART_RX_SIZE 256
struct pvh_uart {
    const struct pvh_io_hooks *hooks;
    unsigned irq;
    uint8_t ier, lcr, mcr, scr, dll, dlm, fcr;
    uint8_t thre_pending; /* the transmitter-empty interrupt is owed */
    uint8_t rx[PVH_UART_RX_SIZE];
    unsigned rx_head, rx_count;
    int irq_level;
    uint64_t tx_bytes;
};
void pvh_uart_init(struct pvh_uart *u, const struct pvh_io_hooks *hooks, unsigned irq);
uint32_t pvh_uart_read(void *state, uint16_t off, unsigned size);
void pvh_uart_write(void *state, uint16_t off, uint32_t value, unsigned size);
/* Queues received bytes (console input); returns how many fitted. */
size_t pvh_uart_receive(struct pvh_uart *u, const uint8_t *buf, size_t len);

/* i8042 keyboard controller: only what guests use to reset the machine */
struct pvh_i8042 {
    const struct pvh_io_hooks *hooks;
    uint8_t command;
};
void pvh_i8042_init(struct pvh_i8042 *k, const struct pvh_io_hooks *hooks);
uint32_t pvh_i8042_read(void *state, uint16_t off, unsigned size);
void pvh_i8042_write(void *state, uint16_t off, uint32_t value, unsigned size);

/* debug-exit port 0xf4 */
struct pvh_debugexit {
    const struct pvh_io_hooks *hooks;
};
uint32_t pvh_debugexit_read(void *state, uint16_t off, unsigned size);
void pvh_debugexit_write(void *state, uint16_t off, uint32_t value, unsigned size);

/* ACPI PM1a event (4 ports) + control (2 ports) blocks, contiguous */
struct pvh_acpipm {
    const struct pvh_io_hooks *hooks;
    uint16_t status, enable, control;
};
void pvh_acpipm_init(struct pvh_acpipm *pm, const struct pvh_io_hooks *hooks);
uint32_t pvh_acpipm_read(void *state, uint16_t off, unsigned size);
void pvh_acpipm_write(void *state, uint16_t off, uint32_t value, unsigned size);

/* Accesses no device claims: reads all ones, writes ignored, counted. */
#define PVH_UNHANDLED_SLOTS 32
struct pvh_unhandled_entry {
    uint64_t addr; /* port or guest-physical address */
    int mmio;
    uint64_t reads, writes;
};
struct pvh_unhandled {
    struct pvh_unhandled_entry e[PVH_UNHANDLED_SLOTS];
    size_t n;
    uint64_t other; /* accesses to addresses beyond the table */
};
void pvh_unhandled_count(struct pvh_unhandled *u, uint64_t addr, int mmio, int is_write);

/* The machine's devices and their table. */
#define PVH_MAX_DEVICES 8
struct pvh_devices {
    struct pvh_uart uart;
    struct pvh_i8042 i8042;
    struct pvh_debugexit debugexit;
    struct pvh_acpipm acpipm;
    struct pvh_device table[PVH_MAX_DEVICES];
    size_t ndevices;
    struct pvh_unhandled unhandled;
};
void pvh_devices_init(struct pvh_devices *d, const struct pvh_io_hooks *hooks);
/* One port access of size 1, 2 or 4; data is little endian. */
void pvh_devices_io(struct pvh_devices *d, uint16_t port, int is_write, uint8_t *data, unsigned size);
/* One MMIO access no in-kernel device took. */
void pvh_devices_mmio(struct pvh_devices *d, uint64_t gpa, int is_write, uint8_t *data, unsigned len);

#endif
