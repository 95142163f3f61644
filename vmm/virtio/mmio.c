/* The virtio-mmio transport, version 2 (virtio 1.2 4.2.2): register reads
 * and writes on a device's 4 KiB window, feature negotiation (a driver must
 * accept VERSION_1 and nothing it was not offered, or FEATURES_OK does not
 * stick), queue setup checked by queue.c when a queue is made ready, reset,
 * the interrupt status, notifications and DEVICE_NEEDS_RESET. Registers are
 * 32-bit accesses at aligned offsets; other sizes read 0 and write nothing.
 * The configuration space takes 1, 2, 4 and 8 bytes. A developer's
 * recording (trace.h, off unless PVHBOOT_VIRTIO_TRACE is set) sees every
 * register access and every notification a device serves. */
#include "virtio.h"

#include <stdio.h>
#include <string.h>

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

const struct pvh_dev_ops pvh_virtio_mmio_ops = {
    .name = "virtio-mmio", .read = mmio_read, .write = mmio_write, .reset = mmio_reset,
};
