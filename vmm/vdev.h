/* Attaching a virtio device to the running machine: its window on the MMIO
 * bus; one eventfd per queue, registered with KVM as an ioeventfd on the
 * QueueNotify register (the queue index as datamatch) and watched by the
 * I/O thread; an irqfd on its GSI for interrupts. Without KVM (--dry-run)
 * only the bus registration is made. */
#ifndef PVHBOOT_VMM_VDEV_H
#define PVHBOOT_VMM_VDEV_H

#include "bus.h"
#include "eventloop.h"
#include "virtio/virtio.h"

/* One queue's notification path: its eventfd, watched by the I/O thread. */
struct pvh_vdev_queue {
    struct pvh_virtio_dev *dev;
    unsigned queue;
    int fd;
    bool assigned;            /* registered with KVM as an ioeventfd */
};

/* The machine side of one virtio device. */
struct pvh_vdev_kvm {
    struct pvh_virtio_dev *dev;
    int vm_fd;                /* -1: no KVM (dry run) */
    int irqfd;                /* -1 when none */
    bool irqfd_assigned;
    struct pvh_eventloop *loop;
    struct pvh_vdev_queue queue[PVH_VIRTIO_MAX_QUEUES];
};

/* The pvh_virtio_env a device gets in this machine (ctx is the
 * pvh_vdev_kvm, filled by pvh_vdev_attach). */
struct pvh_virtio_env pvh_vdev_env(struct pvh_vdev_kvm *k, const struct pvh_guestmem *mem);

/* Registers the device's window on mmio and, when vm_fd >= 0, its irqfd and
 * its queues' ioeventfds, watched on loop. -1 (err) on any failure; what was
 * made is undone by pvh_vdev_detach. */
int pvh_vdev_attach(struct pvh_vdev_kvm *k, struct pvh_virtio_dev *dev, struct pvh_bus *mmio, int vm_fd,
                    struct pvh_eventloop *loop, struct pvh_error *err);

/* Closes the eventfds (the I/O thread is stopped); their KVM registrations
 * go with the VM's fd. */
void pvh_vdev_detach(struct pvh_vdev_kvm *k);

#endif
