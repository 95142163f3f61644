/* i8042 keyboard controller: only what guests use to reset the machine. */
#ifndef PVHBOOT_VMM_DEV_I8042_H
#define PVHBOOT_VMM_DEV_I8042_H

#include <pthread.h>

#include "device.h"

struct pvh_i8042 {
    pthread_mutex_t lock;
    const struct pvh_io_hooks *hooks;
    uint8_t command;
};
extern const struct pvh_dev_ops pvh_i8042_ops;
void pvh_i8042_init(struct pvh_i8042 *k, const struct pvh_io_hooks *hooks);

#endif
