/* Port 0xe9 (Bochs's "port E9 hack", QEMU's isa-debugcon): each byte a
 * guest writes is passed on at once, unbuffered, to the debug output (a
 * wider write: its first byte, the one port 0xe9 sees). Reads return 0xe9, as
 * Bochs and QEMU answer (readback=0xe9): a guest reads it to know the
 * console is there. The device exists only when --debugcon gives it an
 * output; without one the port reads all ones like any unclaimed port.
 * Saved state: the version byte alone (the byte count is the host's). */
#include "debugcon.h"

#include "devstate.h"

#define READBACK 0xe9

void pvh_debugcon_init(struct pvh_debugcon *d, const struct pvh_io_hooks *hooks)
{
    d->hooks = hooks;
    d->bytes = 0;
}

/* A wider access reaches 0xe9 with its first byte only; the others belong
 * to the ports above, which nobody claims. */
static uint64_t debugcon_read(void *dev, uint64_t off, unsigned size)
{
    (void)dev;
    (void)off;
    return size > 1 ? 0xffffff00u | READBACK : READBACK;
}

static void debugcon_write(void *dev, uint64_t off, uint64_t value, unsigned size)
{
    (void)off;
    (void)size;
    struct pvh_debugcon *d = dev;
    uint8_t c = (uint8_t)value;
    d->bytes++;
    if (d->hooks->debug_output)
        d->hooks->debug_output(d->hooks->ctx, &c, 1);
}

/* ---- saved state, version 1: the version byte alone (nothing the guest sees changes) */

#define STATE_VERSION 1

static int debugcon_save(void *dev, uint8_t *buf, size_t cap, size_t *len, struct pvh_error *err)
{
    (void)dev;
    if (pvh_devstate_begin("debugcon", STATE_VERSION, buf, cap, 1, err) != 0)
        return -1;
    *len = 1;
    return 0;
}

static int debugcon_restore(void *dev, const uint8_t *buf, size_t len, struct pvh_error *err)
{
    (void)dev;
    if (pvh_devstate_open("debugcon", STATE_VERSION, buf, len, 1, err) != 0)
        return -1;
    return pvh_devstate_length("debugcon", len, 1, err);
}

const struct pvh_dev_ops pvh_debugcon_ops = {
    .name = "debugcon", .read = debugcon_read, .write = debugcon_write,
    .save = debugcon_save, .restore = debugcon_restore,
};
