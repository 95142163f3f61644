/* The virtio-mmio transport, version 2 (virtio 1.2 4.2.2): register reads
 * and writes on a device's 4 KiB window, feature negotiation (a driver must
 * accept VERSION_1 and nothing it was not offered, or FEATURES_OK does not
 * stick), queue setup checked by queue.c when a queue is made ready, reset,
 * the interrupt status, notifications and DEVICE_NEEDS_RESET. Registers are
 * 32-bit accesses at aligned offsets; other sizes read 0 and write nothing.
 * The configuration space takes 1, 2, 4 and 8 bytes. A developer's
 * recording (trace.h, off unless PVHBOOT_VIRTIO_TRACE is set) sees every
 * register access and every notification a device serves. Saved state
 * (save/restore): the transport's registers and each queue's size, ready
 * bit, ring addresses and indices; a device type's own state is not here. */
#include "virtio.h"

#include <stdio.h>
#include <string.h>

#include "../dev/devstate.h"
#include "pvhboot/bytes.h"
#include "trace.h"

#define TRANSPORT_FEATURES (VIRTIO_F_VERSION_1_BIT | VIRTIO_RING_F_EVENT_IDX_BIT | VIRTIO_RING_F_INDIRECT_DESC_BIT)

void pvh_virtio_init(struct pvh_virtio_dev *d, const struct pvh_virtio_device_ops *ops, void *impl,
                     const struct pvh_virtio_env *env, uint64_t base, uint32_t gsi)
{
    memset(d, 0, sizeof(*d));
    pthread_mutex_init(&d->lock, NULL);
    d->ops = ops;
    d->impl = impl;
    d->env = *env;
    d->base = base;
    d->gsi = gsi;
    for (unsigned i = 0; i < PVH_VIRTIO_MAX_QUEUES; i++)
        d->notify_fd[i] = -1;
    pvh_vtrace_device(d);
}

void pvh_virtio_destroy(struct pvh_virtio_dev *d)
{
    pthread_mutex_destroy(&d->lock);
}

uint64_t pvh_virtio_offered(const struct pvh_virtio_dev *d)
{
    return d->ops->features | TRANSPORT_FEATURES;
}

bool pvh_virtio_running(const struct pvh_virtio_dev *d)
{
    return (d->status & VIRTIO_STATUS_DRIVER_OK) && !d->broken;
}

static void raise_interrupt(struct pvh_virtio_dev *d, uint32_t why)
{
    d->isr |= why;
    d->stats.interrupts++;
    if (d->env.interrupt)
        d->env.interrupt(d->env.ctx, d->gsi);
}

void pvh_virtio_used(struct pvh_virtio_dev *d, unsigned queue)
{
    if (queue < d->ops->nqueues && pvh_virtq_should_interrupt(&d->q[queue]))
        raise_interrupt(d, VIRTIO_ISR_USED_BUFFER);
}

void pvh_virtio_fail(struct pvh_virtio_dev *d, const struct pvh_error *err)
{
    d->stats.errors++;
    size_t n = strnlen(err->msg, sizeof(d->last_error) - 1);
    memcpy(d->last_error, err->msg, n);
    d->last_error[n] = '\0';
    if (d->broken)
        return;
    d->broken = true;
    d->status |= VIRTIO_STATUS_NEEDS_RESET;
    if (d->status & VIRTIO_STATUS_DRIVER_OK)
        raise_interrupt(d, VIRTIO_ISR_CONFIG_CHANGE);
}

void pvh_virtio_config_changed(struct pvh_virtio_dev *d)
{
    d->config_generation++;
    if (d->status & VIRTIO_STATUS_DRIVER_OK)
        raise_interrupt(d, VIRTIO_ISR_CONFIG_CHANGE);
}

static void reset(struct pvh_virtio_dev *d)
{
    for (unsigned i = 0; i < PVH_VIRTIO_MAX_QUEUES; i++)
        pvh_virtq_reset(&d->q[i]);
    d->status = d->isr = 0;
    d->device_features_sel = d->driver_features_sel = d->queue_sel = 0;
    d->driver_features = 0;
    d->broken = false;
    if (d->ops->reset)
        d->ops->reset(d);
}

static struct pvh_virtq *selected(struct pvh_virtio_dev *d)
{
    return d->queue_sel < d->ops->nqueues ? &d->q[d->queue_sel] : NULL;
}

/* A queue's addresses and size may change only while it is not ready. */
static struct pvh_virtq *configurable(struct pvh_virtio_dev *d)
{
    struct pvh_virtq *q = selected(d);
    return q && !q->ready ? q : NULL;
}

static void set_half(uint64_t *v, int high, uint32_t value)
{
    *v = high ? (*v & 0xffffffffull) | (uint64_t)value << 32 : (*v & ~0xffffffffull) | value;
}

static void make_ready(struct pvh_virtio_dev *d, struct pvh_virtq *q, uint32_t value)
{
    struct pvh_error err;
    if (!value) {
        q->ready = false;
        return;
    }
    if (q->ready)
        return;
    if (pvh_virtq_start(q, d->env.mem, d->driver_features, d->ops->queue_max, &err)) {
        struct pvh_error why = err;
        pvh_fail(&err, PVH_E_GUEST, "%s queue %u: %.400s", d->ops->name, d->queue_sel, why.msg);
        pvh_virtio_fail(d, &err);
        return;
    }
    q->ready = true;
}

/* FEATURES_OK sticks only for a subset of what was offered that includes
 * VERSION_1 (pvhboot offers no legacy interface). */
static bool features_acceptable(const struct pvh_virtio_dev *d)
{
    return (d->driver_features & ~pvh_virtio_offered(d)) == 0 && (d->driver_features & VIRTIO_F_VERSION_1_BIT);
}

static void write_status(struct pvh_virtio_dev *d, uint32_t value)
{
    if (value == 0) {
        reset(d);
        return;
    }
    uint32_t added = value & ~d->status;
    if ((added & VIRTIO_STATUS_FEATURES_OK) && !features_acceptable(d))
        value &= ~(uint32_t)VIRTIO_STATUS_FEATURES_OK;
    if ((added & VIRTIO_STATUS_DRIVER_OK) && !(value & VIRTIO_STATUS_FEATURES_OK))
        value &= ~(uint32_t)VIRTIO_STATUS_DRIVER_OK; /* no running without agreed features */
    if (d->broken)
        value |= VIRTIO_STATUS_NEEDS_RESET;
    d->status = value;
    if ((added & value & VIRTIO_STATUS_DRIVER_OK) && d->ops->activate)
        d->ops->activate(d);
}

static void write_driver_features(struct pvh_virtio_dev *d, uint32_t value)
{
    if (!(d->status & VIRTIO_STATUS_DRIVER) || (d->status & VIRTIO_STATUS_FEATURES_OK))
        return; /* only while negotiating */
    if (d->driver_features_sel < 2)
        set_half(&d->driver_features, (int)d->driver_features_sel, value);
}

static void queue_notify(struct pvh_virtio_dev *d, uint32_t value)
{
    unsigned q = value & 0xffff;
    if (q >= d->ops->nqueues)
        return;
    if (d->env.kick)
        d->env.kick(d->env.ctx, d, q);
    else if (pvh_virtio_running(d) && d->q[q].ready) {
        d->stats.notifications++;
        if (pvh_vtrace_on)
            pvh_vtrace_notify(d, q);
        d->ops->queue_notify(d, q);
    }
}

static void write_queue_address(struct pvh_virtio_dev *d, uint64_t reg, uint32_t value)
{
    struct pvh_virtq *q = configurable(d);
    if (!q)
        return;
    int high = (reg & 4) != 0;
    switch (reg & ~4ull) {
    case VIRTIO_MMIO_QUEUE_DESC_LOW: set_half(&q->desc_gpa, high, value); break;
    case VIRTIO_MMIO_QUEUE_DRIVER_LOW: set_half(&q->avail_gpa, high, value); break;
    case VIRTIO_MMIO_QUEUE_DEVICE_LOW: set_half(&q->used_gpa, high, value); break;
    }
}

static void write_register(struct pvh_virtio_dev *d, uint64_t reg, uint32_t value)
{
    struct pvh_virtq *q;
    switch (reg) {
    case VIRTIO_MMIO_DEVICE_FEATURES_SEL: d->device_features_sel = value; break;
    case VIRTIO_MMIO_DRIVER_FEATURES: write_driver_features(d, value); break;
    case VIRTIO_MMIO_DRIVER_FEATURES_SEL: d->driver_features_sel = value; break;
    case VIRTIO_MMIO_QUEUE_SEL: d->queue_sel = value; break;
    case VIRTIO_MMIO_QUEUE_NUM:
        if ((q = configurable(d)))
            q->size = value > 0xffff ? 0 : (uint16_t)value; /* checked when made ready */
        break;
    case VIRTIO_MMIO_QUEUE_READY:
        if ((q = selected(d)) && !d->broken)
            make_ready(d, q, value & 1);
        break;
    case VIRTIO_MMIO_QUEUE_NOTIFY: queue_notify(d, value); break;
    case VIRTIO_MMIO_INTERRUPT_ACK: d->isr &= ~value; break;
    case VIRTIO_MMIO_STATUS: write_status(d, value & 0xff); break;
    case VIRTIO_MMIO_QUEUE_DESC_LOW: case VIRTIO_MMIO_QUEUE_DESC_HIGH:
    case VIRTIO_MMIO_QUEUE_DRIVER_LOW: case VIRTIO_MMIO_QUEUE_DRIVER_HIGH:
    case VIRTIO_MMIO_QUEUE_DEVICE_LOW: case VIRTIO_MMIO_QUEUE_DEVICE_HIGH:
        write_queue_address(d, reg, value);
        break;
    default: break; /* read-only or reserved */
    }
}

static uint32_t feature_half(uint64_t features, uint32_t sel)
{
    return sel == 0 ? (uint32_t)features : sel == 1 ? (uint32_t)(features >> 32) : 0;
}

static uint32_t read_register(struct pvh_virtio_dev *d, uint64_t reg)
{
    const struct pvh_virtq *q = selected(d);
    switch (reg) {
    case VIRTIO_MMIO_MAGIC_VALUE: return VIRTIO_MMIO_MAGIC;
    case VIRTIO_MMIO_VERSION: return VIRTIO_MMIO_VERSION_2;
    case VIRTIO_MMIO_DEVICE_ID: return d->ops->device_id;
    case VIRTIO_MMIO_VENDOR_ID: return VIRTIO_VENDOR_PVHBOOT;
    case VIRTIO_MMIO_DEVICE_FEATURES: return feature_half(pvh_virtio_offered(d), d->device_features_sel);
    case VIRTIO_MMIO_QUEUE_NUM_MAX: return q ? d->ops->queue_max : 0;
    case VIRTIO_MMIO_QUEUE_READY: return q ? q->ready : 0;
    case VIRTIO_MMIO_INTERRUPT_STATUS: return d->isr;
    case VIRTIO_MMIO_STATUS: return d->status;
    case VIRTIO_MMIO_SHM_LEN_LOW: case VIRTIO_MMIO_SHM_LEN_HIGH:
    case VIRTIO_MMIO_SHM_BASE_LOW: case VIRTIO_MMIO_SHM_BASE_HIGH:
        return 0xffffffffu; /* no shared memory regions */
    case VIRTIO_MMIO_CONFIG_GENERATION: return d->config_generation;
    default: return 0;
    }
}

static uint64_t config_read(struct pvh_virtio_dev *d, uint64_t off, unsigned size)
{
    uint8_t data[8] = {0};
    if (off < d->ops->config_size && size <= d->ops->config_size - off)
        d->ops->config_read(d, (uint32_t)off, data, size);
    return pvh_le(data, size);
}

static void config_write(struct pvh_virtio_dev *d, uint64_t off, uint64_t value, unsigned size)
{
    uint8_t data[8];
    pvh_put_le(data, value, size);
    if (d->ops->config_write && off < d->ops->config_size && size <= d->ops->config_size - off)
        d->ops->config_write(d, (uint32_t)off, data, size);
}

static uint64_t mmio_read(void *dev, uint64_t off, unsigned size)
{
    struct pvh_virtio_dev *d = dev;
    uint64_t value;
    if (off >= VIRTIO_MMIO_CONFIG)
        value = config_read(d, off - VIRTIO_MMIO_CONFIG, size);
    else
        value = size == 4 && off % 4 == 0 ? read_register(d, off) : 0;
    if (pvh_vtrace_on)
        pvh_vtrace_register(d, false, off, size, value);
    return value;
}

static void mmio_write(void *dev, uint64_t off, uint64_t value, unsigned size)
{
    struct pvh_virtio_dev *d = dev;
    if (pvh_vtrace_on)
        pvh_vtrace_register(d, true, off, size, value);
    if (off >= VIRTIO_MMIO_CONFIG)
        config_write(d, off - VIRTIO_MMIO_CONFIG, value, size);
    else if (size == 4 && off % 4 == 0)
        write_register(d, off, (uint32_t)value);
}

void pvh_virtio_notify(struct pvh_virtio_dev *d, unsigned queue)
{
    pthread_mutex_lock(&d->lock);
    if (queue < d->ops->nqueues && pvh_virtio_running(d) && d->q[queue].ready) {
        d->stats.notifications++;
        if (pvh_vtrace_on)
            pvh_vtrace_notify(d, queue);
        d->ops->queue_notify(d, queue);
    }
    pthread_mutex_unlock(&d->lock);
}

static void mmio_reset(void *dev)
{
    reset(dev);
}

/* ---- saved state, version 1: device ID (u32), queue count (u8), status,
 * ISR, the two feature selectors, QueueSel, the configuration generation
 * (u32 each), the driver's features (u64), broken (u8); then per queue: size
 * (u16), ready, event_idx, indirect (u8), the descriptor, driver and device
 * ring addresses (u64), last_avail, used_idx, signalled_used (u16),
 * signalled_valid (u8). Host views, stats and the last error are the host's. */

#define STATE_VERSION 1
#define STATE_FIXED 39
#define STATE_QUEUE 36
#define NAME "virtio-mmio"

static void save_queue(const struct pvh_virtq *q, uint8_t *p)
{
    pvh_put_le16(p, q->size);
    p[2] = q->ready;
    p[3] = q->event_idx;
    p[4] = q->indirect;
    pvh_put_le64(p + 5, q->desc_gpa);
    pvh_put_le64(p + 13, q->avail_gpa);
    pvh_put_le64(p + 21, q->used_gpa);
    pvh_put_le16(p + 29, q->last_avail);
    pvh_put_le16(p + 31, q->used_idx);
    pvh_put_le16(p + 33, q->signalled_used);
    p[35] = q->signalled_valid;
}

static int mmio_save(void *dev, uint8_t *buf, size_t cap, size_t *len, struct pvh_error *err)
{
    struct pvh_virtio_dev *d = dev;
    size_t need = STATE_FIXED + (size_t)STATE_QUEUE * d->ops->nqueues;
    if (pvh_devstate_begin(NAME, STATE_VERSION, buf, cap, need, err) != 0)
        return -1;
    pvh_put_le32(buf + 1, d->ops->device_id);
    buf[5] = (uint8_t)d->ops->nqueues;
    const uint32_t regs[6] = {d->status, d->isr, d->device_features_sel, d->driver_features_sel, d->queue_sel,
                              d->config_generation};
    for (unsigned i = 0; i < 6; i++)
        pvh_put_le32(buf + 6 + 4 * i, regs[i]);
    pvh_put_le64(buf + 30, d->driver_features);
    buf[38] = d->broken;
    for (unsigned i = 0; i < d->ops->nqueues; i++)
        save_queue(&d->q[i], buf + STATE_FIXED + (size_t)STATE_QUEUE * i);
    *len = need;
    return 0;
}

/* One queue's saved fields into *q; a ready queue's rings checked against
 * guest RAM and its host views set, as the driver's QueueReady write does
 * (pvh_virtq_start). */
static int load_queue(const struct pvh_virtio_dev *d, uint64_t features, unsigned i, const uint8_t *p,
                      struct pvh_virtq *q, struct pvh_error *err)
{
    if (p[2] > 1 || p[3] > 1 || p[4] > 1 || p[35] > 1)
        return pvh_devstate_bad(err, NAME, "%s queue %u: a flag is not 0 or 1", d->ops->name, i);
    pvh_virtq_reset(q);
    q->size = pvh_le16(p);
    q->desc_gpa = pvh_le64(p + 5);
    q->avail_gpa = pvh_le64(p + 13);
    q->used_gpa = pvh_le64(p + 21);
    if (p[2]) {
        struct pvh_error why;
        if (pvh_virtq_start(q, d->env.mem, features, d->ops->queue_max, &why) != 0)
            return pvh_devstate_bad(err, NAME, "%s queue %u: %.300s", d->ops->name, i, why.msg);
        q->ready = true;
    }
    q->event_idx = p[3];
    q->indirect = p[4];
    q->last_avail = pvh_le16(p + 29);
    q->used_idx = pvh_le16(p + 31);
    q->signalled_used = pvh_le16(p + 33);
    q->signalled_valid = p[35];
    return 0;
}

/* The transport's fields as only its register writes can leave them
 * (DRIVER_OK without FEATURES_OK is one: write_status checks only the bits
 * a write adds, so a driver may take FEATURES_OK back). */
static int check_transport(const struct pvh_virtio_dev *d, const uint8_t *buf, size_t len, struct pvh_error *err)
{
    if (pvh_devstate_open(NAME, STATE_VERSION, buf, len, STATE_FIXED, err) != 0)
        return -1;
    uint32_t id = pvh_le32(buf + 1), status = pvh_le32(buf + 6), isr = pvh_le32(buf + 10);
    if (id != d->ops->device_id || buf[5] != d->ops->nqueues)
        return pvh_devstate_bad(err, NAME, "a device of ID %u with %u queues, this one is %s (ID %u, %u queues)", id,
                                buf[5], d->ops->name, d->ops->device_id, d->ops->nqueues);
    if (pvh_devstate_length(NAME, len, STATE_FIXED + (size_t)STATE_QUEUE * d->ops->nqueues, err) != 0)
        return -1;
    if (status > 0xff || isr > (VIRTIO_ISR_USED_BUFFER | VIRTIO_ISR_CONFIG_CHANGE) || buf[38] > 1)
        return pvh_devstate_bad(err, NAME, "%s: status 0x%x, ISR 0x%x or broken %u out of range", d->ops->name,
                                status, isr, buf[38]);
    if (buf[38] && !(status & VIRTIO_STATUS_NEEDS_RESET))
        return pvh_devstate_bad(err, NAME, "%s: broken without DEVICE_NEEDS_RESET in status 0x%x", d->ops->name,
                                status);
    uint64_t features = pvh_le64(buf + 30);
    if ((status & VIRTIO_STATUS_FEATURES_OK) &&
        ((features & ~pvh_virtio_offered(d)) || !(features & VIRTIO_F_VERSION_1_BIT)))
        return pvh_devstate_bad(err, NAME, "%s: features 0x%llx agreed, not a subset of 0x%llx with VERSION_1",
                                d->ops->name, (unsigned long long)features, (unsigned long long)pvh_virtio_offered(d));
    return 0;
}

/* Checked whole before anything changes; then the device is reset (its
 * type's reset too), takes the saved transport, is activated again when
 * the driver had it running, the interrupt is raised again when the ISR
 * still holds a reason (an edge the guest may not have taken), and a
 * running device's ready queues are handed to the I/O thread (env->kick:
 * buffers the driver made available before the snapshot, whose
 * notification the snapshot did not keep, are served). */
static int mmio_restore(void *dev, const uint8_t *buf, size_t len, struct pvh_error *err)
{
    struct pvh_virtio_dev *d = dev;
    if (check_transport(d, buf, len, err) != 0)
        return -1;
    struct pvh_virtq q[PVH_VIRTIO_MAX_QUEUES];
    uint64_t features = pvh_le64(buf + 30);
    for (unsigned i = 0; i < d->ops->nqueues; i++)
        if (load_queue(d, features, i, buf + STATE_FIXED + (size_t)STATE_QUEUE * i, &q[i], err) != 0)
            return -1;
    reset(d);
    d->status = pvh_le32(buf + 6);
    d->isr = pvh_le32(buf + 10);
    d->device_features_sel = pvh_le32(buf + 14);
    d->driver_features_sel = pvh_le32(buf + 18);
    d->queue_sel = pvh_le32(buf + 22);
    d->config_generation = pvh_le32(buf + 26);
    d->driver_features = features;
    d->broken = buf[38];
    for (unsigned i = 0; i < d->ops->nqueues; i++)
        d->q[i] = q[i];
    if ((d->status & VIRTIO_STATUS_DRIVER_OK) && d->ops->activate)
        d->ops->activate(d);
    if (d->isr && d->env.interrupt)
        d->env.interrupt(d->env.ctx, d->gsi);
    for (unsigned i = 0; i < d->ops->nqueues && d->env.kick && pvh_virtio_running(d); i++)
        if (d->q[i].ready)
            d->env.kick(d->env.ctx, d, i);
    return 0;
}

const struct pvh_dev_ops pvh_virtio_mmio_ops = {
    .name = "virtio-mmio", .read = mmio_read, .write = mmio_write, .reset = mmio_reset,
    .save = mmio_save, .restore = mmio_restore,
};
