/* i8042 keyboard controller (ports 0x60, 0x64): what Linux's i8042 and
 * atkbd drivers need to find a keyboard when they probe the ports (found
 * through the DSDT's PNP0303 device, lib/acpi.c, or with i8042.nopnp, as
 * Firecracker's default boot arguments have), and what guests use to reset the machine:
 * command 0xfe ("pulse reset line") ends the VM cleanly (status 0).
 * Bytes for the guest wait in a 16-byte queue; while the command byte's
 * keyboard-interrupt bit is set, each one is announced by an edge on
 * IRQ 1 (the driver reads one byte per interrupt). The keyboard answers
 * every command with ACK (0xfa), its ID to 0xf2 and its self-test to 0xff.
 * The controller translates (command byte bit 6), so keys arrive in set 1.
 * Saved state (save/restore): the controller's bytes and the whole queue
 * ring (an empty queue still answers its last byte); IRQ 1 follows. */
#include "i8042.h"

#include <stdbool.h>

#include "devstate.h"

#define I8042_DATA 0      /* port 0x60 */
#define I8042_COMMAND 4   /* port 0x64 */

#define ST_OUTPUT_FULL 0x01
#define ST_SYSTEM 0x04
#define ST_COMMAND 0x08
#define ST_UNLOCKED 0x10

#define CTR_KBD_INT 0x01
#define CTR_SYSTEM 0x04
#define CTR_KBD_DISABLED 0x10
#define CTR_AUX_DISABLED 0x20
#define CTR_TRANSLATE 0x40

#define KBD_ACK 0xfa

void pvh_i8042_init(struct pvh_i8042 *k, const struct pvh_io_hooks *hooks)
{
    *k = (struct pvh_i8042){.hooks = hooks, .ctr = CTR_TRANSLATE | CTR_SYSTEM | CTR_AUX_DISABLED | CTR_KBD_INT,
                            .outport = 0x01};
    pthread_mutex_init(&k->lock, NULL);
}

static void set_irq(struct pvh_i8042 *k, int level)
{
    if (level != k->irq_level && k->hooks->set_irq) {
        k->irq_level = level;
        k->hooks->set_irq(k->hooks->ctx, PVH_I8042_IRQ, level);
    }
}

/* A byte at the head of the queue and interrupts on: a rising edge. */
static void announce(struct pvh_i8042 *k)
{
    set_irq(k, 0);
    if (k->count && (k->ctr & CTR_KBD_INT))
        set_irq(k, 1);
}

static void push(struct pvh_i8042 *k, uint8_t byte)
{
    if (k->count == PVH_I8042_QUEUE)
        return; /* a real buffer overflows too; the guest resynchronises */
    k->queue[(k->head + k->count++) % PVH_I8042_QUEUE] = byte;
    if (k->count == 1)
        announce(k);
}

static uint8_t pop(struct pvh_i8042 *k)
{
    if (!k->count)
        return k->queue[(k->head + PVH_I8042_QUEUE - 1) % PVH_I8042_QUEUE]; /* the last byte again */
    uint8_t b = k->queue[k->head];
    k->head = (k->head + 1) % PVH_I8042_QUEUE;
    k->count--;
    announce(k);
    return b;
}

static uint64_t i8042_read(void *dev, uint64_t off, unsigned size)
{
    (void)size;
    struct pvh_i8042 *k = dev;
    if (off == I8042_DATA)
        return pop(k);
    if (off == I8042_COMMAND)
        return (k->count ? ST_OUTPUT_FULL : 0) | ST_SYSTEM | k->status_cmd | ST_UNLOCKED;
    return 0;
}

/* A command written to 0x64. */
static void controller_command(struct pvh_i8042 *k, uint8_t cmd)
{
    k->command = cmd;
    k->status_cmd = ST_COMMAND;
    k->pending = 0;
    switch (cmd) {
    case 0x20: push(k, k->ctr); break;                 /* read the command byte */
    case 0xaa: push(k, 0x55); break;                   /* controller self-test: passed */
    case 0xab: push(k, 0x00); break;                   /* keyboard port test: no error */
    case 0xa9: push(k, 0xff); break;                   /* aux port test: no aux port */
    case 0xad: k->ctr |= CTR_KBD_DISABLED; break;
    case 0xae: k->ctr &= (uint8_t)~CTR_KBD_DISABLED; break;
    case 0xa7: k->ctr |= CTR_AUX_DISABLED; break;
    case 0xd0: push(k, k->outport); break;             /* read the output port */
    case 0x60: case 0xd1: case 0xd2: case 0xd3: case 0xd4:
        k->pending = cmd;                              /* their byte follows on 0x60 */
        break;
    case 0xfe:
        k->hooks->end(k->hooks->ctx, PVH_END_RESET, 0); /* pulse the reset line */
        break;
    default:
        break;
    }
}

/* A byte for the keyboard: acknowledged, with what its command returns. */
static void keyboard_command(struct pvh_i8042 *k, uint8_t cmd)
{
    if (cmd == 0xee) { /* echo */
        push(k, 0xee);
        return;
    }
    push(k, KBD_ACK);
    if (cmd == 0xf2) { /* identify: an MF2 keyboard, translated */
        push(k, 0xab);
        push(k, 0x41);
    } else if (cmd == 0xff) { /* reset: self-test passed */
        push(k, 0xaa);
    }
}

static void i8042_write(void *dev, uint64_t off, uint64_t value, unsigned size)
{
    (void)size;
    struct pvh_i8042 *k = dev;
    uint8_t v = (uint8_t)value;
    if (off == I8042_COMMAND) {
        controller_command(k, v);
        return;
    }
    if (off != I8042_DATA)
        return;
    k->status_cmd = 0;
    uint8_t cmd = k->pending;
    k->pending = 0;
    switch (cmd) {
    case 0x60: k->ctr = v; announce(k); break;         /* the command byte (interrupts may turn on) */
    case 0xd1: k->outport = v; break;                  /* the output port: the reset line is 0xfe's */
    case 0xd2: push(k, v); break;                      /* as if the keyboard sent it */
    case 0xd3: case 0xd4: break;                       /* the aux port: there is none */
    default: keyboard_command(k, v); break;
    }
}

void pvh_i8042_ctrl_alt_del(struct pvh_i8042 *k)
{
    /* Ctrl, Alt, Delete (E0 53) pressed, then released */
    static const uint8_t keys[] = {0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d};
    for (size_t i = 0; i < sizeof(keys); i++)
        push(k, keys[i]);
}

/* ---- saved state, version 1: command pending ctr outport status_cmd head
 * count, the 16 queue bytes as the ring holds them */

#define STATE_VERSION 1
#define STATE_LEN (8 + PVH_I8042_QUEUE)

static int i8042_save(void *dev, uint8_t *buf, size_t cap, size_t *len, struct pvh_error *err)
{
    struct pvh_i8042 *k = dev;
    if (pvh_devstate_begin("i8042", STATE_VERSION, buf, cap, STATE_LEN, err) != 0)
        return -1;
    const uint8_t fields[7] = {k->command, k->pending, k->ctr, k->outport, k->status_cmd, (uint8_t)k->head,
                               (uint8_t)k->count};
    for (size_t i = 0; i < sizeof(fields); i++)
        buf[1 + i] = fields[i];
    for (size_t i = 0; i < PVH_I8042_QUEUE; i++)
        buf[8 + i] = k->queue[i];
    *len = STATE_LEN;
    return 0;
}

static bool takes_data_byte(uint8_t cmd)
{
    return cmd == 0x60 || (cmd >= 0xd1 && cmd <= 0xd4);
}

static int check_state(const uint8_t *buf, size_t len, struct pvh_error *err)
{
    if (pvh_devstate_open("i8042", STATE_VERSION, buf, len, STATE_LEN, err) != 0 ||
        pvh_devstate_length("i8042", len, STATE_LEN, err) != 0)
        return -1;
    if (buf[2] && !takes_data_byte(buf[2]))
        return pvh_devstate_bad(err, "i8042", "pending command 0x%02x takes no data byte", buf[2]);
    if (buf[5] != 0 && buf[5] != ST_COMMAND)
        return pvh_devstate_bad(err, "i8042", "status command bit 0x%02x is not 0 or 0x%02x", buf[5], ST_COMMAND);
    if (buf[6] >= PVH_I8042_QUEUE || buf[7] > PVH_I8042_QUEUE)
        return pvh_devstate_bad(err, "i8042", "queue head %u / count %u outside its %u bytes", buf[6], buf[7],
                                PVH_I8042_QUEUE);
    return 0;
}

static int i8042_restore(void *dev, const uint8_t *buf, size_t len, struct pvh_error *err)
{
    struct pvh_i8042 *k = dev;
    if (check_state(buf, len, err) != 0)
        return -1;
    k->command = buf[1];
    k->pending = buf[2];
    k->ctr = buf[3];
    k->outport = buf[4];
    k->status_cmd = buf[5];
    k->head = buf[6];
    k->count = buf[7];
    for (size_t i = 0; i < PVH_I8042_QUEUE; i++)
        k->queue[i] = buf[8 + i];
    announce(k);
    return 0;
}

const struct pvh_dev_ops pvh_i8042_ops = {
    .name = "i8042", .read = i8042_read, .write = i8042_write, .save = i8042_save, .restore = i8042_restore};
