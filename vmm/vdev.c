/* The machine side of virtio devices (vmm/vdev.h): MMIO window on the bus,
 * ioeventfds on QueueNotify (KVM signals the queue's eventfd instead of
 * exiting to a vCPU thread), the I/O thread's handler for them, an irqfd
 * per device (a write raises an edge on its GSI), and the env callbacks
 * through which devices reach all of that. */
#include "vdev.h"

#include <errno.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "pvhboot/layout.h"

static void signal_eventfd(int fd)
{
    uint64_t one = 1;
    ssize_t n;
    do
        n = write(fd, &one, sizeof(one));
    while (n < 0 && errno == EINTR);
    /* EAGAIN: the counter is saturated, the reader is woken anyway */
}

static void env_interrupt(void *ctx, uint32_t gsi)
{
    (void)gsi;
    struct pvh_vdev_kvm *k = ctx;
    if (k->irqfd >= 0)
        signal_eventfd(k->irqfd);
}

/* A QueueNotify that reached a vCPU thread (no ioeventfd took it): the
 * queue's eventfd hands it to the I/O thread all the same. */
static void env_kick(void *ctx, struct pvh_virtio_dev *d, unsigned queue)
{
    (void)ctx;
    if (d->notify_fd[queue] >= 0)
        signal_eventfd(d->notify_fd[queue]);
}

static int env_watch(void *ctx, int fd, uint32_t events, void (*cb)(void *arg, uint32_t events), void *arg)
{
    struct pvh_vdev_kvm *k = ctx;
    struct pvh_error err;
    return k->loop ? pvh_eventloop_watch(k->loop, fd, events, cb, arg, &err) : -1;
}

static int env_watch_enable(void *ctx, int fd, bool on)
{
    struct pvh_vdev_kvm *k = ctx;
    return k->loop ? pvh_eventloop_enable(k->loop, fd, on) : -1;
}

static void env_unwatch(void *ctx, int fd)
{
    struct pvh_vdev_kvm *k = ctx;
    if (k->loop)
        pvh_eventloop_unwatch(k->loop, fd);
}

struct pvh_virtio_env pvh_vdev_env(struct pvh_vdev_kvm *k, const struct pvh_guestmem *mem)
{
    return (struct pvh_virtio_env){
        .ctx = k, .mem = mem, .interrupt = env_interrupt, .kick = env_kick, .watch = env_watch,
        .watch_enable = env_watch_enable,
        .unwatch = env_unwatch,
    };
}

/* The I/O thread: queue q of the device has buffers. */
static void on_queue_event(void *arg, uint32_t events)
{
    (void)events;
    struct pvh_vdev_queue *qw = arg;
    uint64_t count;
    if (read(qw->fd, &count, sizeof(count)) != sizeof(count))
        return; /* spurious wake-up */
    pvh_virtio_notify(qw->dev, qw->queue);
}

static int add_irqfd(struct pvh_vdev_kvm *k, struct pvh_error *err)
{
    k->irqfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (k->irqfd < 0)
        return pvh_fail(err, PVH_E_SYSTEM, "%s: eventfd: %s", k->dev->ops->name, strerror(errno));
    struct kvm_irqfd irqfd = {.fd = (uint32_t)k->irqfd, .gsi = k->dev->gsi};
    if (ioctl(k->vm_fd, KVM_IRQFD, &irqfd) != 0)
        return pvh_fail(err, PVH_E_SYSTEM, "%s: KVM_IRQFD on GSI %u: %s", k->dev->ops->name, k->dev->gsi,
                        strerror(errno));
    k->irqfd_assigned = true;
    return 0;
}

static int assign_ioeventfd(struct pvh_vdev_kvm *k, unsigned q)
{
    struct kvm_ioeventfd io = {
        .datamatch = q, .addr = k->dev->base + VIRTIO_MMIO_QUEUE_NOTIFY, .len = 4,
        .fd = k->dev->notify_fd[q], .flags = KVM_IOEVENTFD_FLAG_DATAMATCH,
    };
    return ioctl(k->vm_fd, KVM_IOEVENTFD, &io);
}

static int add_queue(struct pvh_vdev_kvm *k, unsigned q, struct pvh_error *err)
{
    struct pvh_virtio_dev *d = k->dev;
    d->notify_fd[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (d->notify_fd[q] < 0)
        return pvh_fail(err, PVH_E_SYSTEM, "%s: eventfd: %s", d->ops->name, strerror(errno));
    k->queue[q] = (struct pvh_vdev_queue){d, q, d->notify_fd[q], false};
    if (assign_ioeventfd(k, q) != 0)
        return pvh_fail(err, PVH_E_SYSTEM, "%s: KVM_IOEVENTFD for queue %u at %#llx: %s", d->ops->name, q,
                        (unsigned long long)(d->base + VIRTIO_MMIO_QUEUE_NOTIFY), strerror(errno));
    k->queue[q].assigned = true;
    return pvh_eventloop_watch(k->loop, d->notify_fd[q], EPOLLIN, on_queue_event, &k->queue[q], err);
}

int pvh_vdev_attach(struct pvh_vdev_kvm *k, struct pvh_virtio_dev *dev, struct pvh_bus *mmio, int vm_fd,
                    struct pvh_eventloop *loop, struct pvh_error *err)
{
    k->dev = dev;
    k->vm_fd = vm_fd;
    k->loop = loop;
    k->irqfd = -1;
    if (pvh_bus_register(mmio, dev->base, PVH_VIRTIO_MMIO_STRIDE, &pvh_virtio_mmio_ops, dev, &dev->lock, err))
        return -1;
    if (vm_fd < 0)
        return 0;
    if (add_irqfd(k, err))
        return -1;
    for (unsigned q = 0; q < dev->ops->nqueues; q++)
        if (add_queue(k, q, err))
            return -1;
    return 0;
}

/* Runs inside the sandbox, which allows no KVM_IOEVENTFD or KVM_IRQFD: the
 * registrations are not undone one by one; closing the VM's fd drops them
 * all (KVM holds its own reference to each eventfd until then). */
void pvh_vdev_detach(struct pvh_vdev_kvm *k)
{
    struct pvh_virtio_dev *d = k->dev;
    if (!d)
        return;
    for (unsigned q = 0; q < d->ops->nqueues; q++) {
        if (d->notify_fd[q] >= 0)
            close(d->notify_fd[q]);
        d->notify_fd[q] = -1;
        k->queue[q].assigned = false;
    }
    if (k->irqfd >= 0)
        close(k->irqfd);
    k->irqfd = -1;
    k->irqfd_assigned = false;
    k->dev = NULL;
}
