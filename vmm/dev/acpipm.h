/* ACPI PM1a event (4 ports) + control (2 ports) blocks, contiguous. */
#ifndef PVHBOOT_VMM_DEV_ACPIPM_H
#define PVHBOOT_VMM_DEV_ACPIPM_H

#include <pthread.h>

#include "device.h"

struct pvh_acpipm {
    pthread_mutex_t lock;
    const struct pvh_io_hooks *hooks;
    uint16_t status, enable, control;
};
extern const struct pvh_dev_ops pvh_acpipm_ops;
void pvh_acpipm_init(struct pvh_acpipm *pm, const struct pvh_io_hooks *hooks);

#endif
