/* The Bochs/QEMU debug console, port 0xe9: bytes written there go to the
 * machine's debug output (--debugcon); a read answers 0xe9, which is how
 * guests find it. */
#ifndef PVHBOOT_VMM_DEV_DEBUGCON_H
#define PVHBOOT_VMM_DEV_DEBUGCON_H

#include "device.h"

struct pvh_debugcon {
    const struct pvh_io_hooks *hooks; /* hooks->debug_output takes the bytes */
    _Atomic unsigned long long bytes; /* written by the guest (no lock: one counter) */
};
extern const struct pvh_dev_ops pvh_debugcon_ops;
void pvh_debugcon_init(struct pvh_debugcon *d, const struct pvh_io_hooks *hooks);

#endif
