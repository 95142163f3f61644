/* virtio-vsock (virtio 1.2 5.10; device ID 19) served in pvhboot's own
 * process, the way Firecracker's "hybrid" vsock is: guest AF_VSOCK stream
 * sockets meet host AF_UNIX stream sockets, no vhost module involved.
 *
 *   host -> guest: a host program connects to the UNIX socket at uds_path,
 *     writes "CONNECT <port>\n" and reads "OK <host_port>\n" once the guest's
 *     listener on <port> accepted; the connection is then that stream. When
 *     nothing listens in the guest, the host connection is closed.
 *   guest -> host: a guest connection to CID 2, port P is joined to the UNIX
 *     socket listening at "<uds_path>_P"; when none answers the guest gets
 *     a reset.
 *
 * Queues: rx (0, host to guest), tx (1, guest to host), event (2). The
 * configuration space holds the guest's CID (le64). Bounds: at most
 * max_conns connections (handshakes included; more are refused), each
 * holding at most buf_alloc bytes of guest data the host socket has not
 * taken yet (the credit the device advertises; a guest sending beyond it is
 * reset), at most PVH_VSOCK_ORPHAN_MAX resets queued for packets of no
 * connection (more are dropped). Nothing read from a host socket is
 * buffered: it is read straight into the guest's receive buffers, as much
 * as the guest's credit allows.
 *
 * Threads: everything runs under the device's lock. Host sockets are
 * watched on the I/O thread (env->watch, edge-triggered) and closed there
 * (env->unwatch); a reset from a vCPU thread only marks connections and
 * wakes the I/O thread through an eventfd. Without env->watch (tests,
 * fuzzers) the caller drives events (pvh_vsock_io, pvh_vsock_tick). */
#ifndef PVHBOOT_VMM_VIRTIO_VSOCK_H
#define PVHBOOT_VMM_VIRTIO_VSOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "virtio.h"
#include "vsock_proto.h"

#define PVH_VSOCK_RX 0
#define PVH_VSOCK_TX 1
#define PVH_VSOCK_EVENT 2
#define PVH_VSOCK_QUEUE_MAX 256
#define PVH_VSOCK_CFG_SIZE 8                   /* le64 guest_cid */
#define PVH_VSOCK_DEFAULT_MAX_CONNS 1024       /* Firecracker allows 1023 */
#define PVH_VSOCK_DEFAULT_BUF (256u << 10)     /* Linux's default buffer, Firecracker's TX buffer */
#define PVH_VSOCK_MAX_BUF (4u << 20)
#define PVH_VSOCK_ORPHAN_MAX 256
#define PVH_VSOCK_RX_BATCH 16                  /* receive chains one read from a host socket may fill */
#define PVH_VSOCK_RX_SEGS 4                    /* buffers of a receive chain used (Linux posts 1 or 2) */
#define PVH_VSOCK_DEFAULT_TIMEOUT_NS (10ull * 1000000000ull) /* CONNECT line + the guest's answer */
#define PVH_VSOCK_EVENT_TRANSPORT_RESET 0

struct pvh_vsock_config {
    uint64_t guest_cid;            /* 3 .. 0xfffffffe */
    const char *uds_path;          /* the host's socket; guest connections to port P go to "<uds_path>_P" */
    bool listen;                   /* bind and listen on uds_path (not in --dry-run, tests) */
    unsigned max_conns;            /* 0: PVH_VSOCK_DEFAULT_MAX_CONNS */
    uint32_t buf_alloc;            /* 0: PVH_VSOCK_DEFAULT_BUF */
    uint64_t timeout_ns;           /* a host connection's CONNECT line and the guest's answer; 0: 10 s */
    /* A guest connection to port: a connected non-blocking stream socket, or
     * -1 (the guest gets a reset). NULL: connect to "<uds_path>_<port>". */
    int (*connect_port)(void *ctx, uint32_t port);
    void *connect_ctx;
    uint64_t (*now_ns)(void *ctx); /* NULL: CLOCK_MONOTONIC */
    void *clock_ctx;
};

/* What --verbose and the tests read. */
struct pvh_vsock_counters {
    uint64_t host_conns, guest_conns;   /* connections established each way */
    uint64_t refused;                   /* refused: table full, no listener at <uds_path>_P, bad CONNECT line */
    uint64_t violations;                /* connections reset because the guest broke the protocol */
    uint64_t dropped;                   /* guest packets refused (malformed, wrong CIDs, no connection) */
    uint64_t orphan_lost;               /* resets not sent: the queue of them was full */
    uint64_t timeouts;                  /* host connections that never got going */
    uint64_t to_guest, from_guest;      /* payload bytes */
    uint64_t held, held_peak;           /* guest bytes waiting for host sockets, now and at most */
    unsigned conns, conns_peak;
};

/* A receive chain in hand: its head and first buffers; room = the payload
 * it can carry after the header (<= 64 KiB). */
struct pvh_vsock_rxslot {
    uint16_t head;
    uint8_t nseg;
    uint32_t room;
    struct iovec seg[PVH_VSOCK_RX_SEGS];
};

struct pvh_vsock_conn;
struct pvh_vsock_orphan {
    uint32_t local_port, peer_port;
};

/* The device: the transport plus the connection table. Caller-owned. */
struct pvh_vsock {
    struct pvh_virtio_dev dev;
    struct pvh_vsock_config cfg;
    struct pvh_vsock_counters n;
    int listen_fd, timer_fd, work_fd;   /* -1 when none */
    bool timer_armed;
    struct pvh_vsock_conn *pool;        /* max_conns slots */
    struct pvh_vsock_conn *free_list;
    struct pvh_vsock_conn **buckets;    /* by (local_port, peer_port) */
    unsigned nbuckets;
    struct pvh_vsock_conn *rx_head, *rx_tail;  /* connections with something for the guest */
    struct pvh_vsock_conn *closing;            /* host fds to close on the I/O thread */
    struct pvh_vsock_orphan orphans[PVH_VSOCK_ORPHAN_MAX];
    unsigned orphan_head, norphans;
    uint32_t next_local_port;           /* host connections' ports: [2^30, 2^31), round robin */
    bool event_owed;                    /* TRANSPORT_RESET waiting for an event buffer */
    struct pvh_vchain *rx_chain;        /* scratch: the receive chain being taken */
    struct pvh_vsock_rxslot slots[PVH_VSOCK_RX_BATCH]; /* receive chains in hand, a FIFO */
    unsigned slot_first, nslots;
    struct pvh_vchain *tx_chain;        /* scratch: the transmit chain being served */
};

extern const struct pvh_virtio_device_ops pvh_vsock_ops;

/* Sets up v at base/gsi. With cfg->listen: the UNIX socket at uds_path is
 * bound (a stale socket nobody listens on is replaced; a live one or another
 * file is an error) and, with env->watch, watched with the timer and the
 * wake-up eventfd (all before the sandbox). -1 (err) for a CID out of range,
 * a path too long for "<path>_<port>", a bad limit, or a failed call. */
int pvh_vsock_init(struct pvh_vsock *v, const struct pvh_vsock_config *cfg, const struct pvh_virtio_env *env,
                   uint64_t base, uint32_t gsi, struct pvh_error *err);
/* Closes every socket (the I/O thread is stopped). The socket file at
 * uds_path stays: the sandbox allows no unlink; the next run replaces it. */
void pvh_vsock_destroy(struct pvh_vsock *v);

/* Every connection closed (host sockets too) and the guest told by a
 * VIRTIO_VSOCK_EVENT_TRANSPORT_RESET event, at once or as soon as it posts
 * an event buffer: what a restored snapshot owes the guest. Any thread;
 * takes the lock. */
void pvh_vsock_transport_reset(struct pvh_virtio_dev *d);

/* Without an I/O thread: events on every host socket as if epoll reported
 * `events` (EPOLLIN/EPOLLOUT), new connections on the listener accepted.
 * Takes the lock. */
void pvh_vsock_io(struct pvh_virtio_dev *d, uint32_t events);

/* Expires handshakes older than cfg->timeout_ns (the timer's work; tests
 * call it after moving their clock). Takes the lock. */
void pvh_vsock_tick(struct pvh_virtio_dev *d);

/* Counters, copied under the lock. */
struct pvh_vsock_counters pvh_vsock_counters(struct pvh_virtio_dev *d);

#endif
