/* The debug-exit port 0xf4 (QEMU's isa-debug-exit convention): a guest
 * writes its exit status there (1, 2 or 4 bytes) and pvhboot exits with that
 * value's low 8 bits. (QEMU exits with (value << 1) | 1 instead.) */
#include "debugexit.h"

void pvh_debugexit_init(struct pvh_debugexit *d, const struct pvh_io_hooks *hooks)
{
    d->hooks = hooks;
}

static uint64_t debugexit_read(void *dev, uint64_t off, unsigned size)
{
    (void)dev;
    (void)off;
    (void)size;
    return 0xffffffffu;
}

static void debugexit_write(void *dev, uint64_t off, uint64_t value, unsigned size)
{
    (void)off;
    (void)size;
    struct pvh_debugexit *d = dev;
    d->hooks->end(d->hooks->ctx, PVH_END_DEBUG_EXIT, (int)(value & 0xff));
}

const struct pvh_dev_ops pvh_debugexit_ops = {.name = "debugexit", .read = debugexit_read, .write = debugexit_write};
