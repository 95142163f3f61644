/* Disk image locking, compatible with QEMU's (block/file-posix.c): shared
 * OFD locks on single bytes, byte 100 + i meaning "I use permission i" and
 * byte 200 + i "I do not let others have permission i" (i: 0 consistent
 * read, 1 write, 3 resize). A writer holds 100, 101, 201, 203; a reader 100,
 * 201, 203; each then checks that nobody holds the bytes its own use
 * conflicts with. So two writers, or a writer and a reader, conflict (in
 * either order, with pvhboot or QEMU on either side) and readers share. */
#ifndef PVHBOOT_VMM_VIRTIO_BLK_LOCK_H
#define PVHBOOT_VMM_VIRTIO_BLK_LOCK_H

#include <stdbool.h>
#include <sys/types.h>

#include "pvhboot/error.h"

/* Locks the image open on fd (name: how messages call it) for writing or
 * only reading. 0: locked (*locked true), or the file system takes no OFD
 * locks (*locked false, nothing held). -1 (err): another process holds a
 * conflicting lock, named by pid when it can be found ("rootfs.ext4: locked
 * by process 1234 (pvhboot, another VM?); use ,ro on both or stop it",
 * PVH_E_INPUT), or fcntl failed (PVH_E_SYSTEM). Nothing is held on error.
 * The locks go away when fd (its last duplicate) is closed. */
int pvh_blk_lock(int fd, const char *name, bool write, bool *locked, struct pvh_error *err);

/* The process holding a lock that covers byte `off` of the file open on fd
 * (locks fd itself holds excluded when they are released first): from
 * F_OFD_GETLK for classic POSIX locks, else from the "lock:" lines of every
 * process's /proc/PID/fdinfo (OFD locks show pid -1 in /proc/locks). -1 when
 * none is found. */
pid_t pvh_blk_lock_holder(int fd, off_t off);

#endif
