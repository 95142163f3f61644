/* The machine's device set: both buses, and the legacy devices every
 * machine has, one registration line each at the address the machine
 * description (pvhboot/layout.h) gives them. */
#include "devices.h"

#include <string.h>

#include "pvhboot/layout.h"

static void must_register(struct pvh_bus *b, uint64_t base, uint64_t len, const struct pvh_dev_ops *ops, void *dev,
                          pthread_mutex_t *lock)
{
    struct pvh_error err;
    /* fixed, non-overlapping ranges into an empty table: cannot fail */
    (void)pvh_bus_register(b, base, len, ops, dev, lock, &err);
}

void pvh_devices_init(struct pvh_devices *d, const struct pvh_io_hooks *hooks)
{
    memset(d, 0, sizeof(*d));
    pthread_mutex_init(&d->unhandled.lock, NULL);
    pvh_bus_init(&d->pio, "port", 0, &d->unhandled);
    pvh_bus_init(&d->mmio, "mmio", 1, &d->unhandled);
    pvh_uart_init(&d->uart, hooks, PVH_COM1_IRQ);
    pvh_i8042_init(&d->i8042, hooks);
    pvh_debugexit_init(&d->debugexit, hooks);
    pvh_acpipm_init(&d->acpipm, hooks);
    pvh_rtc_init(&d->rtc, hooks, PVH_RTC_IRQ, NULL);
    pvh_debugcon_init(&d->debugcon, hooks);
    must_register(&d->pio, PVH_COM1_PORT, 8, &pvh_uart_ops, &d->uart, &d->uart.lock);
    must_register(&d->pio, PVH_I8042_PORT, 5, &pvh_i8042_ops, &d->i8042, &d->i8042.lock);
    must_register(&d->pio, PVH_DEBUG_EXIT_PORT, 4, &pvh_debugexit_ops, &d->debugexit, NULL);
    must_register(&d->pio, PVH_ACPI_PM1A_EVT_PORT, PVH_ACPI_PORTS_END - PVH_ACPI_PM1A_EVT_PORT, &pvh_acpipm_ops,
                  &d->acpipm, &d->acpipm.lock);
    must_register(&d->pio, PVH_RTC_PORT, 2, &pvh_rtc_ops, &d->rtc, &d->rtc.lock);
    if (hooks->debug_output)
        must_register(&d->pio, PVH_DEBUGCON_PORT, 1, &pvh_debugcon_ops, &d->debugcon, NULL);
}

void pvh_devices_destroy(struct pvh_devices *d)
{
    pthread_mutex_destroy(&d->uart.lock);
    pthread_mutex_destroy(&d->i8042.lock);
    pthread_mutex_destroy(&d->acpipm.lock);
    pvh_rtc_destroy(&d->rtc);
    pthread_mutex_destroy(&d->unhandled.lock);
}

void pvh_devices_io(struct pvh_devices *d, uint16_t port, int is_write, uint8_t *data, unsigned size)
{
    pvh_bus_access(&d->pio, port, is_write, data, size);
}

void pvh_devices_mmio(struct pvh_devices *d, uint64_t gpa, int is_write, uint8_t *data, unsigned len)
{
    pvh_bus_access(&d->mmio, gpa, is_write, data, len);
}
