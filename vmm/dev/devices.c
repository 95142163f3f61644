/* The device table: which port range goes to which device, and the
 * catch-all for accesses nobody claims (reads all ones, writes ignored,
 * counted per address in a bounded table for --verbose). */
#include "device.h"

#include <string.h>

#include "pvhboot/acpi.h"
#include "pvhboot/bytes.h"

#define COM1_PORT 0x3f8
#define COM1_IRQ 4

static void add(struct pvh_devices *d, const char *name, uint16_t base, uint16_t len,
                uint32_t (*rd)(void *, uint16_t, unsigned), void (*wr)(void *, uint16_t, uint32_t, unsigned),
                void *state)
{
    d->table[d->ndevices++] = (struct pvh_device){name, base, len, rd, wr, state};
}

void pvh_devices_init(struct pvh_devices *d, const struct pvh_io_hooks *hooks)
{
    memset(d, 0, sizeof(*d));
    pvh_uart_init(&d->uart, hooks, COM1_IRQ);
    pvh_i8042_init(&d->i8042, hooks);
    d->debugexit.hooks = hooks;
    pvh_acpipm_init(&d->acpipm, hooks);
    add(d, "uart8250", COM1_PORT, 8, pvh_uart_read, pvh_uart_write, &d->uart);
    add(d, "i8042", 0x60, 5, pvh_i8042_read, pvh_i8042_write, &d->i8042);
    add(d, "debugexit", 0xf4, 4, pvh_debugexit_read, pvh_debugexit_write, &d->debugexit);
    add(d, "acpipm", PVH_ACPI_PM1A_EVT_PORT, PVH_ACPI_PM1A_CNT_PORT + 2 - PVH_ACPI_PM1A_EVT_PORT, pvh_acpipm_read,
        pvh_acpipm_write, &d->acpipm);
}

void pvh_unhandled_count(struct pvh_unhandled *u, uint64_t addr, int mmio, int is_write)
{
    for (size_t i = 0; i < u->n; i++) {
        if (u->e[i].addr == addr && u->e[i].mmio == mmio) {
            *(is_write ? &u->e[i].writes : &u->e[i].reads) += 1;
            return;
        }
    }
    if (u->n == PVH_UNHANDLED_SLOTS) {
        u->other++;
        return;
    }
    u->e[u->n] = (struct pvh_unhandled_entry){addr, mmio, !is_write, is_write != 0};
    u->n++;
}

static const struct pvh_device *find(const struct pvh_devices *d, uint16_t port)
{
    for (size_t i = 0; i < d->ndevices; i++)
        if (port >= d->table[i].base && port - d->table[i].base < d->table[i].len)
            return &d->table[i];
    return NULL;
}

void pvh_devices_io(struct pvh_devices *d, uint16_t port, int is_write, uint8_t *data, unsigned size)
{
    const struct pvh_device *dev = find(d, port);
    if (size != 1 && size != 2 && size != 4)
        size = 1;
    if (!dev) {
        pvh_unhandled_count(&d->unhandled, port, 0, is_write);
        if (!is_write)
            memset(data, 0xff, size);
        return;
    }
    uint16_t off = (uint16_t)(port - dev->base);
    if (is_write) {
        dev->write(dev->state, off, (uint32_t)pvh_le(data, size), size);
    } else {
        pvh_put_le(data, dev->read(dev->state, off, size), size);
    }
}

void pvh_devices_mmio(struct pvh_devices *d, uint64_t gpa, int is_write, uint8_t *data, unsigned len)
{
    pvh_unhandled_count(&d->unhandled, gpa, 1, is_write);
    if (!is_write)
        memset(data, 0xff, len > 8 ? 8 : len);
}
