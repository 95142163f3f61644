/* A developer's recording of what a driver does to the virtio devices, the
 * source of the fuzzers' seeds from real Linux traffic
 * (tests/fuzz/trace-seeds.py). Off unless the environment variable
 * PVHBOOT_VIRTIO_TRACE names a file when the first device is created (read
 * once per process; the guest cannot turn it on). Then every virtio-mmio
 * register access, and at every queue notification the queue's ring state
 * and the chains made available (their descriptors and the first bytes of
 * their driver-readable buffers), go to that file as text lines:
 * docs/hardening.md ("Recording a driver's traffic") gives the format.
 * Recording stops at PVH_VTRACE_MAX_BYTES. Only write(2) is called after
 * the file is opened, so the sandboxed run loop may record. */
#ifndef PVHBOOT_VMM_VIRTIO_TRACE_H
#define PVHBOOT_VMM_VIRTIO_TRACE_H

#include <stdbool.h>
#include <stdint.h>

#define PVH_VTRACE_ENV "PVHBOOT_VIRTIO_TRACE"
#define PVH_VTRACE_MAX_BYTES (64ull << 20)
#define PVH_VTRACE_CHAIN_DESCS 300  /* descriptors recorded per chain */
#define PVH_VTRACE_BUF_BYTES 64     /* bytes recorded per driver-readable buffer */
#define PVH_VTRACE_CHAIN_BYTES 512  /* and per chain */

struct pvh_virtio_dev;

/* Whether recording is on (set once, by the first pvh_vtrace_device). */
extern bool pvh_vtrace_on;

/* A device was created: the first call reads PVH_VTRACE_ENV and opens the
 * file; when recording, a `dev` line describes the device. */
void pvh_vtrace_device(const struct pvh_virtio_dev *d);

/* A register access on the device's window (value: what a read returned,
 * what a write wrote). Device lock held. */
void pvh_vtrace_register(const struct pvh_virtio_dev *d, bool write, uint64_t off, unsigned size, uint64_t value);

/* Queue `queue` is about to be served after a notification: its ring state
 * and the chains from the device's next available entry on. Device lock
 * held; guest memory is only read, through pvh_gpa_ptr. */
void pvh_vtrace_notify(const struct pvh_virtio_dev *d, unsigned queue);

#endif
