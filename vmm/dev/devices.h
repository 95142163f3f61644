/* The machine's device set (devices.c): its two buses and the legacy
 * devices registered on them. */
#ifndef PVHBOOT_VMM_DEV_DEVICES_H
#define PVHBOOT_VMM_DEV_DEVICES_H

#include "acpipm.h"
#include "debugcon.h"
#include "debugexit.h"
#include "i8042.h"
#include "rtc.h"
#include "uart8250.h"

/* The machine's devices: the port-I/O and MMIO buses, the legacy devices
 * every machine has, the table of unclaimed accesses. */
struct pvh_devices {
    struct pvh_bus pio, mmio;
    struct pvh_unhandled_table unhandled;
    struct pvh_uart uart;
    struct pvh_i8042 i8042;
    struct pvh_debugexit debugexit;
    struct pvh_acpipm acpipm;
    struct pvh_rtc rtc;
    struct pvh_debugcon debugcon; /* on the bus only when hooks->debug_output is set */
};
/* Initialises both buses and registers the legacy devices on the port bus
 * (the RTC on the host's clocks: machine.c adds its timer). */
void pvh_devices_init(struct pvh_devices *d, const struct pvh_io_hooks *hooks);
void pvh_devices_destroy(struct pvh_devices *d);
/* One port access of size 1, 2 or 4; data is little endian. */
void pvh_devices_io(struct pvh_devices *d, uint16_t port, int is_write, uint8_t *data, unsigned size);
/* One MMIO access no in-kernel device took (len 1-8). */
void pvh_devices_mmio(struct pvh_devices *d, uint64_t gpa, int is_write, uint8_t *data, unsigned len);

#endif
