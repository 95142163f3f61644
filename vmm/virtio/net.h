/* virtio-net (virtio 1.2, 5.1; device ID 1) on a host TAP device: one
 * receive queue (0) and one transmit queue (1), no control queue. Frames
 * move straight between the guest's buffers and the TAP with readv/writev
 * on the caller's thread (the VMM's I/O thread), under the device's lock:
 * the only bytes copied are the 12-byte virtio_net_hdr_v1 of each transmit
 * chain, read once and checked (pvh_net_check_tx_header) before the TAP
 * sees it. The TAP (vmm/tap.c) carries the same header (IFF_VNET_HDR with
 * TUNSETVNETHDRSZ 12), so the checksum and segmentation offloads the guest
 * negotiates are the kernel's. docs/virtio-net.md has the rules: features,
 * which frames are dropped, receive buffers, the bounds on one run. */
#ifndef PVHBOOT_VMM_VIRTIO_NET_H
#define PVHBOOT_VMM_VIRTIO_NET_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "pvhboot/error.h"
#include "virtio.h"

/* Feature bits (5.1.3). */
#define VIRTIO_NET_F_CSUM 0
#define VIRTIO_NET_F_GUEST_CSUM 1
#define VIRTIO_NET_F_MTU 3
#define VIRTIO_NET_F_MAC 5
#define VIRTIO_NET_F_GUEST_TSO4 7
#define VIRTIO_NET_F_GUEST_TSO6 8
#define VIRTIO_NET_F_GUEST_ECN 9
#define VIRTIO_NET_F_GUEST_UFO 10
#define VIRTIO_NET_F_HOST_TSO4 11
#define VIRTIO_NET_F_HOST_TSO6 12
#define VIRTIO_NET_F_HOST_ECN 13
#define VIRTIO_NET_F_HOST_UFO 14
#define VIRTIO_NET_F_MRG_RXBUF 15
#define VIRTIO_NET_F_STATUS 16

/* struct virtio_net_hdr_v1 (5.1.6): flags, gso_type, hdr_len, gso_size,
 * csum_start, csum_offset, num_buffers, little endian. */
#define VIRTIO_NET_HDR_BYTES 12
#define VIRTIO_NET_HDR_FLAGS 0
#define VIRTIO_NET_HDR_GSO_TYPE 1
#define VIRTIO_NET_HDR_HDR_LEN 2
#define VIRTIO_NET_HDR_GSO_SIZE 4
#define VIRTIO_NET_HDR_CSUM_START 6
#define VIRTIO_NET_HDR_CSUM_OFFSET 8
#define VIRTIO_NET_HDR_NUM_BUFFERS 10
#define VIRTIO_NET_HDR_F_NEEDS_CSUM 1
#define VIRTIO_NET_HDR_GSO_NONE 0
#define VIRTIO_NET_HDR_GSO_TCPV4 1
#define VIRTIO_NET_HDR_GSO_UDP 3
#define VIRTIO_NET_HDR_GSO_TCPV6 4
#define VIRTIO_NET_HDR_GSO_ECN 0x80

/* struct virtio_net_config (5.1.4): mac, status, max_virtqueue_pairs, mtu. */
#define VIRTIO_NET_CFG_MAC 0
#define VIRTIO_NET_CFG_STATUS 6
#define VIRTIO_NET_CFG_MAX_PAIRS 8
#define VIRTIO_NET_CFG_MTU 10
#define VIRTIO_NET_CONFIG_SIZE 12
#define VIRTIO_NET_S_LINK_UP 1

/* The TAP's offload flags (linux/if_tun.h TUN_F_*), named here so that
 * tests and fuzzers need no kernel header. */
#define PVH_TUN_F_CSUM 0x01
#define PVH_TUN_F_TSO4 0x02
#define PVH_TUN_F_TSO6 0x04
#define PVH_TUN_F_TSO_ECN 0x08
#define PVH_TUN_F_UFO 0x10

#define PVH_NET_RX 0                       /* receiveq1 */
#define PVH_NET_TX 1                       /* transmitq1 */
#define PVH_NET_QUEUE_SIZE 256             /* QueueNumMax of both */
#define PVH_NET_MIN_MTU 68                 /* 5.1.4.1: the device MUST NOT offer less */
#define PVH_NET_MAX_MTU 65535
#define PVH_NET_ETH_HLEN 14
#define PVH_NET_VLAN_HLEN 4
/* The largest frame a transmit chain may carry with a segmentation offload
 * (Linux's GSO limit, 64 KiB, plus room for Ethernet, VLAN and IPv6
 * headers); without one a frame may be at most MTU + 18 bytes. */
#define PVH_NET_MAX_GSO_FRAME (65536u + 256u)
#define PVH_NET_IOV_MAX 1024               /* Linux's UIO_MAXIOV: iovecs in one readv/writev */
#define PVH_NET_RX_CHAINS 64               /* receive chains one frame may span (mergeable buffers) */
#define PVH_NET_RX_BATCH 64                /* frames one receive run takes from the TAP, then it yields */

/* Why a transmit chain's frame was dropped (nothing reached the TAP). */
enum pvh_net_tx_verdict {
    PVH_NET_TX_OK,
    PVH_NET_TX_WRITABLE,      /* a device-writable buffer on the transmit queue (5.1.6.2) */
    PVH_NET_TX_NO_HEADER,     /* fewer readable bytes than the 12-byte header */
    PVH_NET_TX_RUNT,          /* a frame shorter than an Ethernet header */
    PVH_NET_TX_OVERSIZE,      /* over MTU + 18 bytes, or PVH_NET_MAX_GSO_FRAME with GSO */
    PVH_NET_TX_FLAGS,         /* flags other than NEEDS_CSUM (DATA_VALID, RSC_INFO are the device's) */
    PVH_NET_TX_CSUM,          /* NEEDS_CSUM without VIRTIO_NET_F_CSUM, or its range outside the frame */
    PVH_NET_TX_GSO,           /* a GSO type not negotiated, unknown, without NEEDS_CSUM, or gso_size 0 */
    PVH_NET_TX_HDR_LEN,       /* hdr_len past the frame */
    PVH_NET_TX_BUFFERS,       /* more buffers than one writev takes */
    PVH_NET_TX_VERDICTS
};

/* The TAP's calls, replaceable by tests and fuzzers (NULL members: readv,
 * writev and ioctl(TUNSETOFFLOAD) on cfg->fd). A readv returns what the
 * TAP's does: the whole frame's length even when it did not fit. */
struct pvh_net_io {
    ssize_t (*readv)(void *ctx, int fd, const struct iovec *iov, int n);
    ssize_t (*writev)(void *ctx, int fd, const struct iovec *iov, int n);
    int (*set_offloads)(void *ctx, int fd, unsigned tun_flags); /* 0 or -1 with errno */
    void *ctx;
};

struct pvh_net_config {
    int fd;                  /* the TAP, non-blocking */
    bool vnet_hdr;           /* its frames carry a 12-byte virtio_net_hdr_v1 (else none: no offloads) */
    unsigned tun_offloads;   /* PVH_TUN_F_* the TAP accepts (vmm/tap.c probes them) */
    uint8_t mac[6];
    uint16_t mtu;            /* PVH_NET_MIN_MTU..PVH_NET_MAX_MTU: offered as VIRTIO_NET_F_MTU */
    const struct pvh_net_io *io;
};

/* What the device did, beyond the transport's counters. */
struct pvh_net_counts {
    uint64_t rx_frames, rx_bytes;   /* delivered to the guest (headers included) */
    uint64_t rx_truncated;          /* frames longer than the buffers they were read into: dropped */
    uint64_t rx_stalls;             /* runs that stopped for want of receive buffers */
    uint64_t rx_bad_chains;         /* receive chains the spec forbids (readable, or no writable byte) */
    uint64_t tx_frames, tx_bytes;   /* handed to the TAP (frames, without the header) */
    uint64_t tx_refused;            /* frames the TAP refused (EINVAL, ENOBUFS, EAGAIN, ...) */
    uint64_t tx_dropped[PVH_NET_TX_VERDICTS]; /* by verdict; [PVH_NET_TX_OK] unused */
    uint64_t tx_yields;             /* transmit runs that stopped at their bound */
    bool tap_lost;                  /* the TAP went away (reads or writes fail for good): link down */
};

struct pvh_net;

/* A virtio-net device at base/gsi on cfg's TAP (which stays the caller's).
 * With env->watch, the TAP is watched for EPOLLIN on the I/O thread (do
 * this before the sandbox). -1 (err) for an MTU out of range, a multicast
 * or zero MAC, offloads without vnet_hdr, or no memory. */
int pvh_net_init(struct pvh_net **out, const struct pvh_net_config *cfg, const struct pvh_virtio_env *env,
                 uint64_t base, uint32_t gsi, struct pvh_error *err);
void pvh_net_destroy(struct pvh_net *n); /* NULL: nothing */

struct pvh_virtio_dev *pvh_net_dev(struct pvh_net *n);
const struct pvh_net_counts *pvh_net_counts(const struct pvh_net *n);

/* Whether the TAP's frames are wanted now: false while the guest has no
 * receive buffers or the device does not run (the TAP's watch is off). */
bool pvh_net_rx_watching(const struct pvh_net *n);

/* The TAP has frames (its EPOLLIN handler; tests call it directly): takes
 * the device's lock and moves up to PVH_NET_RX_BATCH of them into the
 * receive buffers the guest posted. */
void pvh_net_rx_poll(struct pvh_virtio_dev *d);

/* Checks a transmit header (12 bytes, read once by the caller) for a frame
 * of frame_len bytes under the negotiated features and the MTU; on
 * PVH_NET_TX_OK, out (12 bytes) is the header to hand the TAP, num_buffers
 * cleared. */
enum pvh_net_tx_verdict pvh_net_check_tx_header(const uint8_t *hdr, uint64_t frame_len, uint64_t features,
                                                uint16_t mtu, uint8_t *out);

/* "writable buffer", "no header", ...: for messages. */
const char *pvh_net_tx_verdict_name(enum pvh_net_tx_verdict v);

/* The MAC pvhboot gives a NIC whose MAC is not set: 02 (locally
 * administered, unicast) and 40 bits of a 64-bit FNV-1a hash of the TAP's
 * name, so that the same TAP gets the same MAC from run to run. */
void pvh_net_default_mac(const char *tap_name, uint8_t mac[6]);

#endif
