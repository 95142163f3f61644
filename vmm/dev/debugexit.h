/* The debug-exit port 0xf4: the guest's exit status. */
#ifndef PVHBOOT_VMM_DEV_DEBUGEXIT_H
#define PVHBOOT_VMM_DEV_DEBUGEXIT_H

#include "device.h"

struct pvh_debugexit {
    const struct pvh_io_hooks *hooks; /* stateless: no lock */
};
extern const struct pvh_dev_ops pvh_debugexit_ops;
void pvh_debugexit_init(struct pvh_debugexit *d, const struct pvh_io_hooks *hooks);

#endif
