/* i8042 keyboard controller (ports 0x60, 0x64), reduced to what guests use
 * to reset the machine: command 0xfe ("pulse reset line") written to 0x64
 * ends the VM cleanly (status 0). No keyboard: reads give an empty buffer. */
#include "device.h"

#define I8042_DATA 0      /* port 0x60 */
#define I8042_COMMAND 4   /* port 0x64 */
#define I8042_CMD_RESET 0xfe

void pvh_i8042_init(struct pvh_i8042 *k, const struct pvh_io_hooks *hooks)
{
    *k = (struct pvh_i8042){.hooks = hooks};
}

uint32_t pvh_i8042_read(void *state, uint16_t off, unsigned size)
{
    (void)state;
    (void)size;
    return off == I8042_COMMAND ? 0x1c /* status: no data, input empty, system flag, command */ : 0x00;
}

void pvh_i8042_write(void *state, uint16_t off, uint32_t value, unsigned size)
{
    (void)size;
    struct pvh_i8042 *k = state;
    if (off == I8042_COMMAND) {
        k->command = (uint8_t)value;
        if (k->command == I8042_CMD_RESET)
            k->hooks->end(k->hooks->ctx, PVH_END_RESET, 0);
    }
}
