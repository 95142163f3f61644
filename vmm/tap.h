/* A host TAP device for virtio-net (vmm/virtio/net.c): opened through
 * /dev/net/tun, non-blocking, frames without packet information and, when
 * the kernel has it, with a 12-byte virtio_net_hdr_v1 (IFF_VNET_HDR,
 * TUNSETVNETHDRSZ), the checksum and segmentation offloads it accepts
 * probed (TUNSETOFFLOAD), its MTU read or set. A TAP that does not exist is
 * created (the kernel allows it to root: CAP_NET_ADMIN) and brought up; it
 * goes away when pvhboot closes it. Errors are one line naming the TAP and
 * what to do: "/dev/net/tun: permission denied — run as root or create the
 * TAP with ip tuntap and give it to your user". docs/virtio-net.md. */
#ifndef PVHBOOT_VMM_TAP_H
#define PVHBOOT_VMM_TAP_H

#include <stdbool.h>

#include "pvhboot/error.h"
#include "pvhboot/vmm.h"


struct pvh_tap {
    int fd;                        /* -1 when closed */
    char name[PVH_TAP_NAME_MAX + 1];
    bool vnet_hdr;                 /* frames carry a 12-byte virtio_net_hdr_v1 */
    unsigned offloads;             /* PVH_TUN_F_* it accepted (set back to none until a driver asks) */
    unsigned mtu;                  /* the interface's MTU */
    bool created;                  /* pvhboot created it */
};

/* Opens (or creates) TAP `name`; mtu 0 keeps the interface's MTU, else it
 * is set to mtu (an error when that is not allowed). The tun device node
 * is `tun_path` (NULL: /dev/net/tun). -1 (err): PVH_E_INPUT for what the
 * user can fix (permissions, a name that is not a TAP, one in use),
 * PVH_E_SYSTEM for the rest. */
int pvh_tap_open(struct pvh_tap *t, const char *name, unsigned mtu, const char *tun_path, struct pvh_error *err);

void pvh_tap_close(struct pvh_tap *t);

#endif
