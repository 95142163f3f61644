/* The debug-exit port 0xf4 (QEMU's isa-debug-exit convention): a guest
 * writes its exit status there (1, 2 or 4 bytes) and pvhboot exits with that
 * value's low 8 bits. (QEMU exits with (value << 1) | 1 instead.) */
#include "device.h"

uint32_t pvh_debugexit_read(void *state, uint16_t off, unsigned size)
{
    (void)state;
    (void)off;
    (void)size;
    return 0xffffffffu;
}

void pvh_debugexit_write(void *state, uint16_t off, uint32_t value, unsigned size)
{
    (void)off;
    (void)size;
    struct pvh_debugexit *d = state;
    d->hooks->end(d->hooks->ctx, PVH_END_DEBUG_EXIT, (int)(value & 0xff));
}
