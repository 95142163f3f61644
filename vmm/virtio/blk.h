/* virtio-blk (virtio 1.2, 5.2): a disk backed by a raw image file or a host
 * block device. pvh_blk_open opens and locks the image (QEMU's OFD lock
 * bytes, so two VMs, or a VM and qemu-img, cannot both write it) and builds
 * the device type; its handler serves IN, OUT, FLUSH, GET_ID, DISCARD and
 * WRITE_ZEROES straight between the chain's buffers and the file, on the
 * caller's thread (the VMM's I/O thread), under the device's lock.
 * docs/virtio-blk.md has the rules: capacity, errors, locking. */
#ifndef PVHBOOT_VMM_VIRTIO_BLK_H
#define PVHBOOT_VMM_VIRTIO_BLK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "pvhboot/error.h"
#include "virtio.h"

#define PVH_BLK_ID_BYTES 20        /* GET_ID's serial, not NUL-terminated at 20 */
#define PVH_BLK_QUEUE_SIZE 256
#define PVH_BLK_SECTOR 512ull

enum pvh_blk_cache {
    PVH_BLK_CACHE_WRITEBACK, /* the host's page cache; FLUSH = fdatasync (the default) */
    PVH_BLK_CACHE_NONE,      /* O_DIRECT; unaligned requests go through a bounce buffer */
};

struct pvh_blk_config {
    const char *path;
    bool read_only;
    const char *id;          /* serial for GET_ID, at most 20 bytes; NULL: the file's name */
    enum pvh_blk_cache cache;
};

/* The host calls a drive makes, replaceable by tests (NULL members: libc's). */
struct pvh_blk_io {
    ssize_t (*preadv)(int fd, const struct iovec *iov, int n, off_t off);
    ssize_t (*pwritev)(int fd, const struct iovec *iov, int n, off_t off);
    int (*fdatasync)(int fd);
    int (*fallocate)(int fd, int mode, off_t off, off_t len);
};

/* Per-drive counts beyond the transport's (requests, bytes, errors). */
struct pvh_blk_counts {
    uint64_t reads, writes, flushes, get_ids, discards, write_zeroes, unsupported;
    uint64_t bounced;        /* cache=none requests that needed the bounce buffer */
};

struct pvh_blk;

/* Opens cfg->path (O_CLOEXEC; O_RDONLY for a read-only drive; O_DIRECT for
 * cache=none), checks it is a regular file or a block device, takes the
 * locks and builds the drive. Errors are one line naming the file:
 * PVH_E_INPUT for what the user can fix (no such file, not a disk, an id
 * over 20 bytes, "rootfs.ext4: locked by process 1234 (another VM?); use ,ro
 * on both or stop it"), PVH_E_SYSTEM for the rest. */
int pvh_blk_open(struct pvh_blk **out, const struct pvh_blk_config *cfg, struct pvh_error *err);

/* PATCH /drives/{id} after boot: the drive's file becomes `path`, opened
 * as the first was (read-only or not, the same cache mode), a regular file
 * or a block device, and locked (pvh_blk_lock, against other processes);
 * only then is the old file closed (its locks released) and the capacity
 * and configuration space the new file's. The same file again (same
 * inode): its size is read again (a host-side resize). On error (one line,
 * as pvh_blk_open's) the drive keeps its file. The caller holds the
 * device's lock, so no request is in flight, and then tells the driver
 * (pvh_virtio_config_changed). */
int pvh_blk_swap(struct pvh_blk *b, const char *path, struct pvh_error *err);

/* The path of the drive's file, as given (the drive owns it). */
const char *pvh_blk_name(const struct pvh_blk *b);

/* Closes the file (releasing its locks) and frees the drive. NULL: nothing. */
void pvh_blk_close(struct pvh_blk *b);

/* The device type to hand pvh_virtio_init with the drive as impl; its
 * features depend on the drive (VIRTIO_BLK_F_RO), so it lives in it. */
const struct pvh_virtio_device_ops *pvh_blk_device_ops(const struct pvh_blk *b);

uint64_t pvh_blk_capacity(const struct pvh_blk *b); /* 512-byte sectors */
const struct pvh_blk_counts *pvh_blk_counts(const struct pvh_blk *b);

/* false when the file system refused OFD locks (ENOLCK, EOPNOTSUPP, EINVAL):
 * the drive works unlocked and the CLI may say so. */
bool pvh_blk_locked(const struct pvh_blk *b);

/* Tests and fuzzers: replaces the host calls (see struct pvh_blk_io). */
void pvh_blk_set_io(struct pvh_blk *b, const struct pvh_blk_io *io);

/* virtio-blk numbers (5.2.3, 5.2.6). */
#define VIRTIO_BLK_F_SEG_MAX 2
#define VIRTIO_BLK_F_RO 5
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH 9
#define VIRTIO_BLK_F_MQ 12
#define VIRTIO_BLK_F_DISCARD 13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_GET_ID 8
#define VIRTIO_BLK_T_DISCARD 11
#define VIRTIO_BLK_T_WRITE_ZEROES 13

#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2

#define VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP 1

/* Configuration space offsets (5.2.4). */
#define VIRTIO_BLK_CFG_CAPACITY 0
#define VIRTIO_BLK_CFG_SEG_MAX 12
#define VIRTIO_BLK_CFG_BLK_SIZE 20
#define VIRTIO_BLK_CFG_NUM_QUEUES 34
#define VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS 36
#define VIRTIO_BLK_CFG_MAX_DISCARD_SEG 40
#define VIRTIO_BLK_CFG_DISCARD_ALIGNMENT 44
#define VIRTIO_BLK_CFG_MAX_WRITE_ZEROES_SECTORS 48
#define VIRTIO_BLK_CFG_MAX_WRITE_ZEROES_SEG 52
#define VIRTIO_BLK_CFG_WRITE_ZEROES_MAY_UNMAP 56
#define VIRTIO_BLK_CONFIG_SIZE 60

/* What the drive offers (docs/virtio-blk.md says why). */
#define PVH_BLK_SEG_MAX (PVH_BLK_QUEUE_SIZE - 2)   /* data buffers in one request */
#define PVH_BLK_MAX_DISCARD_SECTORS (1u << 22)     /* 2 GiB per segment */
#define PVH_BLK_MAX_DISCARD_SEG 32
#define PVH_BLK_DISCARD_ALIGNMENT 8                /* sectors: 4 KiB */
#define PVH_BLK_MAX_WRITE_ZEROES_SECTORS (1u << 22)
#define PVH_BLK_MAX_WRITE_ZEROES_SEG 32

#endif
