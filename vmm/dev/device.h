/* What every device reaches the machine through (pvh_io_hooks: interrupt
 * lines, the end of the VM, console output), so that tests and fuzzers drive
 * devices without KVM, and what it offers the machine (pvh_dev_ops, bus.h). */
#ifndef PVHBOOT_VMM_DEV_DEVICE_H
#define PVHBOOT_VMM_DEV_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#include "../bus.h"
#include "pvhboot/vmm.h"

struct pvh_io_hooks {
    void *ctx;
    void (*set_irq)(void *ctx, unsigned irq, int level);
    void (*end)(void *ctx, enum pvh_vm_end end, int status);
    void (*output)(void *ctx, const uint8_t *buf, size_t len); /* serial bytes */
    void (*debug_output)(void *ctx, const uint8_t *buf, size_t len); /* port 0xe9; NULL: no debug console */
};

#endif
