/* virtio-console (vmm/virtio/console.h): transmit runs that turn the
 * transmit queue's readable bytes into few output calls, host input copied
 * into posted receive buffers, the configuration space (size, emerg_wr).
 *
 * Transmit: each readable buffer of PVH_VCONSOLE_STAGE bytes or more goes to
 * the output as it is (one call, straight from guest RAM); smaller ones are
 * gathered in the stage and output together, at the latest when the run
 * ends. A run serves at most a queue's worth of chains and stops after
 * PVH_VCONSOLE_RUN_MAX bytes; then it yields: env->kick hands the queue back
 * to the I/O thread, which serves its other fds first (without a kick hook,
 * the next notification goes on). One chain's bytes past
 * PVH_VCONSOLE_CHAIN_MAX are dropped and counted: a guest naming the same
 * RAM a thousand times in one chain gets 1 MiB out, not gigabytes.
 *
 * Chains the spec forbids (5.3.6.1: a device-writable buffer on the transmit
 * queue, a device-readable one on a receive queue; also a transmit chain
 * with no byte to send) are returned with 0 bytes and counted in
 * stats.errors; nothing of them is output or written; the device goes on.
 * Only breaks of the ring rules (queue.c) set DEVICE_NEEDS_RESET. */
#include "console.h"

#include <stdlib.h>
#include <string.h>

#include "pvhboot/bytes.h"
#include "pvhboot/layout.h"

static struct pvh_vconsole *console_of(struct pvh_virtio_dev *d)
{
    return d->impl;
}

static bool offers_size(const struct pvh_virtio_dev *d)
{
    return (d->ops->features & VIRTIO_CONSOLE_F_SIZE) != 0;
}

/* --- output */

static void output(struct pvh_vconsole *c, const uint8_t *buf, size_t len)
{
    c->output_calls++;
    c->cfg.output(c->cfg.ctx, buf, len);
}

static void flush(struct pvh_vconsole *c)
{
    if (c->staged)
        output(c, c->stage, c->staged);
    c->staged = 0;
}

static void emit(struct pvh_vconsole *c, const uint8_t *p, size_t len)
{
    if (len > sizeof(c->stage) - c->staged)
        flush(c);
    if (len >= sizeof(c->stage)) {
        output(c, p, len);
        return;
    }
    memcpy(c->stage + c->staged, p, len);
    c->staged += len;
}

/* --- transmit */

static void count_error(struct pvh_vconsole *c)
{
    c->dev.stats.errors++;
}

/* Outputs one chain's readable bytes (up to PVH_VCONSOLE_CHAIN_MAX);
 * returns how many. */
static uint64_t transmit_chain(struct pvh_vconsole *c, const struct pvh_vchain *ch)
{
    if (!ch->readable || ch->writable) {
        count_error(c);
        return 0;
    }
    uint64_t left = ch->readable < PVH_VCONSOLE_CHAIN_MAX ? ch->readable : PVH_VCONSOLE_CHAIN_MAX;
    uint64_t sent = left;
    for (uint16_t i = 0; i < ch->n && left; i++) {
        size_t n = ch->buf[i].len < left ? ch->buf[i].len : (size_t)left;
        emit(c, ch->buf[i].host, n);
        left -= n;
    }
    if (ch->readable > sent) {
        c->dropped += ch->readable - sent;
        count_error(c);
    }
    return sent;
}

enum stop { STOP_EMPTY, STOP_YIELD, STOP_BROKEN };

static enum stop transmit_chains(struct pvh_vconsole *c, struct pvh_virtq *q, unsigned *budget, uint64_t *bytes)
{
    struct pvh_error err;
    for (;;) {
        if (*budget == 0 || *bytes >= PVH_VCONSOLE_RUN_MAX)
            return STOP_YIELD;
        int got = pvh_virtq_pop(q, c->chain, &err);
        if (got == 0)
            return STOP_EMPTY;
        if (got < 0) {
            pvh_virtio_fail(&c->dev, &err);
            return STOP_BROKEN;
        }
        (*budget)--;
        uint64_t sent = transmit_chain(c, c->chain);
        pvh_virtq_push(q, c->chain->head, 0); /* the device wrote nothing */
        *bytes += sent;
        c->tx_bytes += sent;
        c->dev.stats.bytes += sent;
        c->dev.stats.requests++;
    }
}

static void transmit(struct pvh_vconsole *c)
{
    struct pvh_virtio_dev *d = &c->dev;
    struct pvh_virtq *q = &d->q[PVH_VCONSOLE_TX];
    unsigned budget = q->size;
    uint64_t bytes = 0;
    enum stop why;
    do
        why = transmit_chains(c, q, &budget, &bytes);
    while (why == STOP_EMPTY && pvh_virtq_arm_notify(q));
    flush(c);
    if (budget < q->size)
        pvh_virtio_used(d, PVH_VCONSOLE_TX);
    if (why == STOP_YIELD && d->env.kick)
        d->env.kick(d->env.ctx, d, PVH_VCONSOLE_TX);
}

/* --- receive */

/* Copies buf into one posted chain; returns the bytes it took. */
static size_t receive_chain(struct pvh_vconsole *c, const struct pvh_vchain *ch, const uint8_t *buf, size_t len)
{
    if (ch->readable || !ch->writable) {
        count_error(c);
        return 0;
    }
    return pvh_vchain_write(ch, 0, buf, len);
}

static size_t receive(struct pvh_vconsole *c, const uint8_t *buf, size_t len)
{
    struct pvh_virtio_dev *d = &c->dev;
    struct pvh_virtq *q = &d->q[PVH_VCONSOLE_RX];
    struct pvh_error err;
    size_t taken = 0;
    unsigned chains = 0;
    while (taken < len && chains < q->size) {
        int got = pvh_virtq_pop(q, c->chain, &err);
        if (got < 0)
            pvh_virtio_fail(d, &err);
        if (got <= 0)
            break;
        chains++;
        size_t n = receive_chain(c, c->chain, buf + taken, len - taken);
        pvh_virtq_push(q, c->chain->head, (uint32_t)n);
        taken += n;
        d->stats.requests++;
    }
    c->rx_bytes += taken;
    d->stats.bytes += taken;
    if (chains)
        pvh_virtio_used(d, PVH_VCONSOLE_RX);
    return taken;
}

size_t pvh_vconsole_receive(struct pvh_virtio_dev *d, const uint8_t *buf, size_t len)
{
    size_t taken = 0;
    pthread_mutex_lock(&d->lock);
    if (pvh_virtio_running(d) && d->q[PVH_VCONSOLE_RX].ready)
        taken = receive(console_of(d), buf, len);
    pthread_mutex_unlock(&d->lock);
    return taken;
}

/* --- configuration space */

static void console_config_read(struct pvh_virtio_dev *d, uint32_t off, uint8_t *data, unsigned len)
{
    const struct pvh_vconsole *c = console_of(d);
    uint8_t cfg[VIRTIO_CONSOLE_CFG_SIZE] = {0};
    if (offers_size(d)) {
        pvh_put_le16(cfg + VIRTIO_CONSOLE_CFG_COLS, c->cfg.cols);
        pvh_put_le16(cfg + VIRTIO_CONSOLE_CFG_ROWS, c->cfg.rows);
    }
    pvh_put_le32(cfg + VIRTIO_CONSOLE_CFG_MAX_NR_PORTS, 1); /* only meaningful with MULTIPORT */
    memcpy(data, cfg + off, len);                           /* emerg_wr reads 0 */
}

/* A write that starts at emerg_wr outputs its first byte (5.3.4: usable
 * before the queues are set up, even before the feature is acknowledged). */
static void console_config_write(struct pvh_virtio_dev *d, uint32_t off, const uint8_t *data, unsigned len)
{
    struct pvh_vconsole *c = console_of(d);
    if (off != VIRTIO_CONSOLE_CFG_EMERG_WR || len == 0)
        return;
    output(c, data, 1);
    c->emerg_bytes++;
    d->stats.bytes++;
}

/* --- device-type operations */

static void console_queue_notify(struct pvh_virtio_dev *d, unsigned queue)
{
    /* receive buffers are taken when input arrives: nothing to do for queue 0 */
    if (queue == PVH_VCONSOLE_TX)
        transmit(console_of(d));
}

static void console_reset(struct pvh_virtio_dev *d)
{
    console_of(d)->staged = 0; /* empty between runs; kept simple and sure */
}

#define CONSOLE_OPS(feature_bits)                                                                              \
    {                                                                                                          \
        .name = "virtio-console", .device_id = PVH_VIRTIO_ID_CONSOLE, .nqueues = 2,                            \
        .queue_max = PVH_VCONSOLE_QUEUE_MAX, .features = (feature_bits), .config_size = VIRTIO_CONSOLE_CFG_SIZE, \
        .config_read = console_config_read, .config_write = console_config_write,                            \
        .queue_notify = console_queue_notify, .reset = console_reset,                                          \
    }

const struct pvh_virtio_device_ops pvh_vconsole_ops = CONSOLE_OPS(VIRTIO_CONSOLE_F_EMERG_WRITE);
const struct pvh_virtio_device_ops pvh_vconsole_size_ops =
    CONSOLE_OPS(VIRTIO_CONSOLE_F_EMERG_WRITE | VIRTIO_CONSOLE_F_SIZE);

void pvh_vconsole_resize(struct pvh_virtio_dev *d, uint16_t cols, uint16_t rows)
{
    pthread_mutex_lock(&d->lock);
    struct pvh_vconsole *c = console_of(d);
    if (offers_size(d) && (c->cfg.cols != cols || c->cfg.rows != rows)) {
        c->cfg.cols = cols;
        c->cfg.rows = rows;
        pvh_virtio_config_changed(d);
    }
    pthread_mutex_unlock(&d->lock);
}

/* --- setup */

int pvh_vconsole_init(struct pvh_vconsole *c, const struct pvh_vconsole_config *cfg,
                      const struct pvh_virtio_env *env, uint64_t base, uint32_t gsi, struct pvh_error *err)
{
    memset(c, 0, sizeof(*c));
    if (!cfg || !cfg->output)
        return pvh_fail(err, PVH_E_INPUT, "virtio-console: no output for the guest's console");
    if (!cfg->cols != !cfg->rows)
        return pvh_fail(err, PVH_E_INPUT, "virtio-console: a size of %ux%u (both or neither must be 0)",
                        cfg->cols, cfg->rows);
    c->cfg = *cfg;
    if (!(c->chain = pvh_vchain_new()))
        return pvh_fail(err, PVH_E_SYSTEM, "virtio-console: out of memory");
    pvh_virtio_init(&c->dev, cfg->cols ? &pvh_vconsole_size_ops : &pvh_vconsole_ops, c, env, base, gsi);
    return 0;
}

void pvh_vconsole_destroy(struct pvh_vconsole *c)
{
    pvh_virtio_destroy(&c->dev);
    free(c->chain);
    c->chain = NULL;
}
