/* virtio-vsock's protocol without I/O (virtio 1.2, 5.10): the 44-byte packet
 * header, the checks every packet from the guest must pass, the state of one
 * stream connection as the device sees it (what the guest sent, what the
 * device owes it, both directions' credit), and the host side's text
 * handshake of Firecracker's "hybrid" vsock ("CONNECT <port>\n" answered by
 * "OK <host_port>\n"). Pure functions on plain structs: vsock.c does the
 * sockets and the queues; tests and the fuzzer drive this part alone.
 *
 * Credit (5.10.6.3): each side advertises buf_alloc (its receive buffer) and
 * fwd_cnt (bytes it has consumed from that buffer) in every header; a sender
 * keeps tx_cnt (bytes it sent) and may have at most buf_alloc - (tx_cnt -
 * peer fwd_cnt) bytes in flight. All counters are 32 bits and wrap; every
 * difference here is taken modulo 2^32, and a peer whose numbers make no
 * sense (fwd_cnt ahead of what it was sent, buf_alloc shrunk under what is
 * in flight) simply has no room. */
#ifndef PVHBOOT_VMM_VIRTIO_VSOCK_PROTO_H
#define PVHBOOT_VMM_VIRTIO_VSOCK_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PVH_VSOCK_HDR_SIZE 44
#define PVH_VSOCK_HOST_CID 2ull
#define PVH_VSOCK_MIN_GUEST_CID 3ull
#define PVH_VSOCK_MAX_GUEST_CID 0xfffffffeull /* Linux's CIDs are 32 bits; U32_MAX is VMADDR_CID_ANY */
#define PVH_VSOCK_MAX_PAYLOAD (64u << 10)     /* the most one packet carries (Linux's MAX_PKT_BUF_SIZE) */
#define PVH_VSOCK_CONNECT_MAX 32              /* bytes of a "CONNECT <port>\n" line, newline included */
#define PVH_VSOCK_OK_MAX 16                   /* "OK 4294967295\n" and its NUL */

enum pvh_vsock_op {
    PVH_VSOCK_OP_INVALID = 0,
    PVH_VSOCK_OP_REQUEST = 1,
    PVH_VSOCK_OP_RESPONSE = 2,
    PVH_VSOCK_OP_RST = 3,
    PVH_VSOCK_OP_SHUTDOWN = 4,
    PVH_VSOCK_OP_RW = 5,
    PVH_VSOCK_OP_CREDIT_UPDATE = 6,
    PVH_VSOCK_OP_CREDIT_REQUEST = 7,
};

#define PVH_VSOCK_TYPE_STREAM 1
#define PVH_VSOCK_SHUTDOWN_RCV 1u  /* the sender will receive no more */
#define PVH_VSOCK_SHUTDOWN_SEND 2u /* the sender will send no more */
#define PVH_VSOCK_SHUTDOWN_BOTH 3u

/* struct virtio_vsock_hdr, decoded (little-endian, packed, 44 bytes). */
struct pvh_vsock_hdr {
    uint64_t src_cid, dst_cid;
    uint32_t src_port, dst_port;
    uint32_t len;
    uint16_t type, op;
    uint32_t flags;
    uint32_t buf_alloc, fwd_cnt;
};

void pvh_vsock_hdr_decode(const uint8_t *b, struct pvh_vsock_hdr *h);
void pvh_vsock_hdr_encode(const struct pvh_vsock_hdr *h, uint8_t *b);
const char *pvh_vsock_op_name(uint16_t op);

/* What to do with a packet from the guest before its connection is looked up. */
enum pvh_vsock_verdict {
    PVH_VSOCK_ACCEPT,   /* route it by its ports */
    PVH_VSOCK_DROP,     /* not ours to answer (wrong CIDs): dropped, counted */
    PVH_VSOCK_REFUSE,   /* malformed: the connection its ports name (if any) is reset */
};

/* Checks the CIDs (src = the guest's, dst = the host), the type (stream),
 * the op (1-7) and that len fits in payload_room (the chain's bytes after the
 * header) and PVH_VSOCK_MAX_PAYLOAD; *why says what was wrong. */
enum pvh_vsock_verdict pvh_vsock_check(const struct pvh_vsock_hdr *h, uint64_t guest_cid, uint64_t payload_room,
                                       const char **why);

/* Bytes a sender may still send: buf_alloc - (sent - fwd_cnt), 0 when that
 * makes no sense (more in flight than buf_alloc). */
uint32_t pvh_vsock_credit(uint32_t buf_alloc, uint32_t fwd_cnt, uint32_t sent);

/* ---- one connection -------------------------------------------------------- */

enum pvh_vsock_state {
    PVH_VSOCK_LOCAL_INIT = 1, /* the host connected: REQUEST owed or sent, no RESPONSE yet */
    PVH_VSOCK_ESTABLISHED,
    PVH_VSOCK_CLOSED,         /* reset: at most an RST is still owed */
};

/* Packets owed to the guest (sent in this order of priority). */
#define PVH_VSOCK_OWE_RST 1u
#define PVH_VSOCK_OWE_REQUEST 2u
#define PVH_VSOCK_OWE_RESPONSE 4u
#define PVH_VSOCK_OWE_SHUTDOWN 8u
#define PVH_VSOCK_OWE_CREDIT 16u

/* The device tells the guest its fwd_cnt (a CREDIT_UPDATE) once the guest's
 * idea of our free space falls under this, as Linux does for its own side. */
#define PVH_VSOCK_CREDIT_LOW (64u << 10)

struct pvh_vsock_csm {
    uint8_t state;            /* enum pvh_vsock_state */
    uint8_t owe;              /* PVH_VSOCK_OWE_* */
    uint8_t peer_shut;        /* SHUTDOWN flags the guest sent */
    uint8_t shut_sent;        /* SHUTDOWN flags sent (or owed) to the guest */
    /* guest -> host: our receive buffer */
    uint32_t buf_alloc;       /* advertised; held guest bytes never exceed it */
    uint32_t recv_cnt;        /* payload bytes taken from the guest */
    uint32_t fwd_cnt;         /* of which the host socket took */
    uint32_t fwd_told;        /* the fwd_cnt the guest last heard */
    /* host -> guest: the guest's receive buffer */
    uint32_t peer_buf_alloc, peer_fwd_cnt;
    uint32_t tx_cnt;          /* payload bytes sent to the guest */
};

/* What the device must do after a packet of an existing connection. */
enum pvh_vsock_action {
    PVH_VSOCK_ACT_NONE,       /* nothing beyond what csm->owe says (credit noted, ...) */
    PVH_VSOCK_ACT_DATA,       /* hand h->len payload bytes to the host socket */
    PVH_VSOCK_ACT_CONNECTED,  /* the guest accepted the host's connection: "OK <port>\n" to the host */
    PVH_VSOCK_ACT_SHUTDOWN,   /* the guest shut down a direction (csm->peer_shut) */
    PVH_VSOCK_ACT_CLOSE,      /* the guest reset the connection: close it, answer nothing */
    PVH_VSOCK_ACT_RESET,      /* the guest broke the protocol: close it, RST owed (*why) */
};

/* A connection in `state` (LOCAL_INIT: the host asked, REQUEST owed;
 * ESTABLISHED: the guest asked, RESPONSE owed) with our buffer of buf_alloc
 * bytes and the guest's credit from its first packet (0, 0 for LOCAL_INIT). */
void pvh_vsock_csm_init(struct pvh_vsock_csm *c, enum pvh_vsock_state state, uint32_t buf_alloc,
                        uint32_t peer_buf_alloc, uint32_t peer_fwd_cnt);

/* A packet from the guest for this connection (pvh_vsock_check passed):
 * its credit is noted, its op applied. A RW beyond our free space, data
 * after the guest's SHUTDOWN(SEND), a REQUEST on a live connection, a
 * RESPONSE out of turn and data before the connection is up are resets. */
enum pvh_vsock_action pvh_vsock_csm_on_packet(struct pvh_vsock_csm *c, const struct pvh_vsock_hdr *h,
                                              const char **why);

/* Bytes the device may send the guest now (0 unless established and not
 * shut down for sending). */
uint32_t pvh_vsock_csm_room(const struct pvh_vsock_csm *c);

/* n payload bytes went to the guest (n <= room). */
void pvh_vsock_csm_sent(struct pvh_vsock_csm *c, uint32_t n);

/* The host socket took n of the held guest bytes (n <= held): a
 * CREDIT_UPDATE is owed when the guest's view of our room got low. */
void pvh_vsock_csm_forwarded(struct pvh_vsock_csm *c, uint32_t n);

/* Guest bytes taken and not yet forwarded (<= buf_alloc). */
uint32_t pvh_vsock_csm_held(const struct pvh_vsock_csm *c);

/* The host's side reached end of file: SHUTDOWN(SEND) owed once. */
void pvh_vsock_csm_host_eof(struct pvh_vsock_csm *c);

/* Closed with an RST owed (unless the guest reset it: owe nothing). */
void pvh_vsock_csm_reset(struct pvh_vsock_csm *c, bool owe_rst);

/* The next control packet owed, removed from csm->owe: its op (0 when none)
 * and flags. */
uint16_t pvh_vsock_csm_next_control(struct pvh_vsock_csm *c, uint32_t *flags);

/* Our credit fields for an outgoing header (buf_alloc, fwd_cnt); the guest
 * now knows fwd_cnt. */
void pvh_vsock_csm_stamp(struct pvh_vsock_csm *c, struct pvh_vsock_hdr *h);

/* ---- the host side's handshake ---------------------------------------------- */

/* "CONNECT <port>\n" (Firecracker's spelling, the word in any case; blanks
 * around words; further words ignored) at the start of buf[0, len): the
 * line's length (newline included) with *port set; 0 when no newline came
 * yet and there is room for one; -1 when it is not such a line, or longer
 * than PVH_VSOCK_CONNECT_MAX bytes. */
int pvh_vsock_parse_connect(const char *buf, size_t len, uint32_t *port);

/* "OK <port>\n" into buf (PVH_VSOCK_OK_MAX bytes); returns its length. */
size_t pvh_vsock_format_ok(char *buf, uint32_t port);

#endif
