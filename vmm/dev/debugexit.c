/* The debug-exit port 0xf4 (QEMU's isa-debug-exit convention): a guest
 * writes its exit status there (1, 2 or 4 bytes) and pvhboot exits with that
 * value's low 8 bits. (QEMU exits with (value << 1) | 1 instead.) Saved
 * state: the version byte alone (the device has none). */
#include "debugexit.h"

#include "devstate.h"

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

/* ---- saved state, version 1: the version byte alone (nothing the guest sees changes) */

#define STATE_VERSION 1

static int debugexit_save(void *dev, uint8_t *buf, size_t cap, size_t *len, struct pvh_error *err)
{
    (void)dev;
    if (pvh_devstate_begin("debugexit", STATE_VERSION, buf, cap, 1, err) != 0)
        return -1;
    *len = 1;
    return 0;
}

static int debugexit_restore(void *dev, const uint8_t *buf, size_t len, struct pvh_error *err)
{
    (void)dev;
    if (pvh_devstate_open("debugexit", STATE_VERSION, buf, len, 1, err) != 0)
        return -1;
    return pvh_devstate_length("debugexit", len, 1, err);
}

const struct pvh_dev_ops pvh_debugexit_ops = {
    .name = "debugexit", .read = debugexit_read, .write = debugexit_write,
    .save = debugexit_save, .restore = debugexit_restore,
};
