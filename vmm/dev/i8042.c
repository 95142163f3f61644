/* i8042 keyboard controller (ports 0x60, 0x64), reduced to what guests use
 * to reset the machine: command 0xfe ("pulse reset line") written to 0x64
 * ends the VM cleanly (status 0). No keyboard: reads give an empty buffer. */
#include "i8042.h"

#define I8042_DATA 0      /* port 0x60 */
#define I8042_COMMAND 4   /* port 0x64 */
#define I8042_CMD_RESET 0xfe

void pvh_i8042_init(struct pvh_i8042 *k, const struct pvh_io_hooks *hooks)
{
    *k = (struct pvh_i8042){.hooks = hooks};
    pthread_mutex_init(&k->lock, NULL);
}

static uint64_t i8042_read(void *dev, uint64_t off, unsigned size)
{
    (void)dev;
    (void)size;
    return off == I8042_COMMAND ? 0x1c /* status: no data, input empty, system flag, command */ : 0x00;
}

static void i8042_write(void *dev, uint64_t off, uint64_t value, unsigned size)
{
    (void)size;
    struct pvh_i8042 *k = dev;
    if (off == I8042_COMMAND) {
        k->command = (uint8_t)value;
        if (k->command == I8042_CMD_RESET)
            k->hooks->end(k->hooks->ctx, PVH_END_RESET, 0);
    }
}

const struct pvh_dev_ops pvh_i8042_ops = {.name = "i8042", .read = i8042_read, .write = i8042_write};
