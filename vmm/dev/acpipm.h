/* ACPI PM1a event (4 ports) + control (2 ports) blocks and the GPE0 block
 * (status, enable: 1 byte each), contiguous from PVH_ACPI_PM1A_EVT_PORT to
 * PVH_ACPI_PORTS_END; the SCI line; where the VM generation ID lives. */
#ifndef PVHBOOT_VMM_DEV_ACPIPM_H
#define PVHBOOT_VMM_DEV_ACPIPM_H

#include <pthread.h>

#include "device.h"

struct pvh_acpipm {
    pthread_mutex_t lock;
    const struct pvh_io_hooks *hooks;
    uint16_t status, enable, control;
    uint8_t gpe_status, gpe_enable;
    int sci_level;        /* what the SCI line was last set to */
    uint64_t vmgenid_gpa; /* the VM generation ID's 16 bytes; 0: none (a machine with no guest RAM) */
};
extern const struct pvh_dev_ops pvh_acpipm_ops;
void pvh_acpipm_init(struct pvh_acpipm *pm, const struct pvh_io_hooks *hooks);
/* Sets GPE0 status bit `bit` (0-7) and so the SCI if the guest enabled it. */
void pvh_acpipm_raise_gpe(struct pvh_acpipm *pm, unsigned bit);

#endif
