/* i8042 keyboard controller (ports 0x60, 0x64): the controller's own
 * commands Linux's i8042 driver uses at probe (self-test, the command byte,
 * the keyboard port's test and enable), a keyboard that acknowledges its
 * commands, a small output buffer raising IRQ 1, the reset line (0xfe), and
 * Ctrl-Alt-Del typed from outside (the API's SendCtrlAltDel). */
#ifndef PVHBOOT_VMM_DEV_I8042_H
#define PVHBOOT_VMM_DEV_I8042_H

#include <pthread.h>

#include "device.h"

#define PVH_I8042_IRQ 1
#define PVH_I8042_QUEUE 16

struct pvh_i8042 {
    pthread_mutex_t lock;
    const struct pvh_io_hooks *hooks;
    uint8_t command;              /* the last command written to 0x64 */
    uint8_t pending;              /* a command waiting for its data byte on 0x60; 0: none */
    uint8_t ctr;                  /* the controller's command byte */
    uint8_t outport;
    uint8_t status_cmd;           /* status bit 3: the last write was a command */
    uint8_t queue[PVH_I8042_QUEUE];
    unsigned head, count;
    int irq_level;
};
extern const struct pvh_dev_ops pvh_i8042_ops;
void pvh_i8042_init(struct pvh_i8042 *k, const struct pvh_io_hooks *hooks);
/* Types Ctrl-Alt-Del (scancode set 1, as a translating controller gives
 * it): under k->lock. */
void pvh_i8042_ctrl_alt_del(struct pvh_i8042 *k);

#endif
