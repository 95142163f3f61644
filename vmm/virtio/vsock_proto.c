/* virtio-vsock's protocol without I/O (vmm/virtio/vsock_proto.h): header
 * coding, the checks on guest packets, one connection's state machine with
 * both directions' credit, and the host's "CONNECT <port>" handshake line. */
#include "vsock_proto.h"

#include <string.h>

#include "pvhboot/bytes.h"

/* struct virtio_vsock_hdr's offsets */
enum {
    OFF_SRC_CID = 0, OFF_DST_CID = 8, OFF_SRC_PORT = 16, OFF_DST_PORT = 20, OFF_LEN = 24,
    OFF_TYPE = 28, OFF_OP = 30, OFF_FLAGS = 32, OFF_BUF_ALLOC = 36, OFF_FWD_CNT = 40,
};

void pvh_vsock_hdr_decode(const uint8_t *b, struct pvh_vsock_hdr *h)
{
    h->src_cid = pvh_le64(b + OFF_SRC_CID);
    h->dst_cid = pvh_le64(b + OFF_DST_CID);
    h->src_port = pvh_le32(b + OFF_SRC_PORT);
    h->dst_port = pvh_le32(b + OFF_DST_PORT);
    h->len = pvh_le32(b + OFF_LEN);
    h->type = pvh_le16(b + OFF_TYPE);
    h->op = pvh_le16(b + OFF_OP);
    h->flags = pvh_le32(b + OFF_FLAGS);
    h->buf_alloc = pvh_le32(b + OFF_BUF_ALLOC);
    h->fwd_cnt = pvh_le32(b + OFF_FWD_CNT);
}

void pvh_vsock_hdr_encode(const struct pvh_vsock_hdr *h, uint8_t *b)
{
    pvh_put_le64(b + OFF_SRC_CID, h->src_cid);
    pvh_put_le64(b + OFF_DST_CID, h->dst_cid);
    pvh_put_le32(b + OFF_SRC_PORT, h->src_port);
    pvh_put_le32(b + OFF_DST_PORT, h->dst_port);
    pvh_put_le32(b + OFF_LEN, h->len);
    pvh_put_le16(b + OFF_TYPE, h->type);
    pvh_put_le16(b + OFF_OP, h->op);
    pvh_put_le32(b + OFF_FLAGS, h->flags);
    pvh_put_le32(b + OFF_BUF_ALLOC, h->buf_alloc);
    pvh_put_le32(b + OFF_FWD_CNT, h->fwd_cnt);
}

const char *pvh_vsock_op_name(uint16_t op)
{
    static const char *const names[] = {"INVALID", "REQUEST", "RESPONSE", "RST", "SHUTDOWN", "RW",
                                        "CREDIT_UPDATE", "CREDIT_REQUEST"};
    return op < sizeof(names) / sizeof(names[0]) ? names[op] : "unknown";
}

enum pvh_vsock_verdict pvh_vsock_check(const struct pvh_vsock_hdr *h, uint64_t guest_cid, uint64_t payload_room,
                                       const char **why)
{
    *why = NULL;
    if (h->src_cid != guest_cid)
        return *why = "src_cid is not the guest's CID", PVH_VSOCK_DROP;
    if (h->dst_cid != PVH_VSOCK_HOST_CID)
        return *why = "dst_cid is not the host (2)", PVH_VSOCK_DROP;
    if (h->type != PVH_VSOCK_TYPE_STREAM)
        return *why = "type is not stream (1)", PVH_VSOCK_REFUSE;
    if (h->op == PVH_VSOCK_OP_INVALID || h->op > PVH_VSOCK_OP_CREDIT_REQUEST)
        return *why = "unknown op", PVH_VSOCK_REFUSE;
    if (h->len > PVH_VSOCK_MAX_PAYLOAD)
        return *why = "len over 64 KiB", PVH_VSOCK_REFUSE;
    if (h->len > payload_room)
        return *why = "len longer than the packet's buffers", PVH_VSOCK_REFUSE;
    return PVH_VSOCK_ACCEPT;
}

uint32_t pvh_vsock_credit(uint32_t buf_alloc, uint32_t fwd_cnt, uint32_t sent)
{
    uint32_t in_flight = sent - fwd_cnt; /* modulo 2^32 */
    return in_flight > buf_alloc ? 0 : buf_alloc - in_flight;
}

/* ---- one connection ---------------------------------------------------------- */

void pvh_vsock_csm_init(struct pvh_vsock_csm *c, enum pvh_vsock_state state, uint32_t buf_alloc,
                        uint32_t peer_buf_alloc, uint32_t peer_fwd_cnt)
{
    memset(c, 0, sizeof(*c));
    c->state = (uint8_t)state;
    c->owe = state == PVH_VSOCK_LOCAL_INIT ? PVH_VSOCK_OWE_REQUEST : PVH_VSOCK_OWE_RESPONSE;
    c->buf_alloc = buf_alloc;
    c->peer_buf_alloc = peer_buf_alloc;
    c->peer_fwd_cnt = peer_fwd_cnt;
}

void pvh_vsock_csm_reset(struct pvh_vsock_csm *c, bool owe_rst)
{
    c->state = PVH_VSOCK_CLOSED;
    c->owe = owe_rst ? PVH_VSOCK_OWE_RST : 0;
}

static enum pvh_vsock_action broken(struct pvh_vsock_csm *c, const char **why, const char *what)
{
    *why = what;
    pvh_vsock_csm_reset(c, true);
    return PVH_VSOCK_ACT_RESET;
}

static enum pvh_vsock_action on_data(struct pvh_vsock_csm *c, const struct pvh_vsock_hdr *h, const char **why)
{
    if (c->state != PVH_VSOCK_ESTABLISHED)
        return broken(c, why, "data before the connection is up");
    if (c->peer_shut & PVH_VSOCK_SHUTDOWN_SEND)
        return broken(c, why, "data after the guest's SHUTDOWN(SEND)");
    if (h->len > c->buf_alloc - pvh_vsock_csm_held(c))
        return broken(c, why, "data beyond the credit the device gave");
    c->recv_cnt += h->len;
    return h->len ? PVH_VSOCK_ACT_DATA : PVH_VSOCK_ACT_NONE;
}

enum pvh_vsock_action pvh_vsock_csm_on_packet(struct pvh_vsock_csm *c, const struct pvh_vsock_hdr *h,
                                              const char **why)
{
    *why = NULL;
    if (c->state == PVH_VSOCK_CLOSED)
        return PVH_VSOCK_ACT_NONE; /* late packets of a reset connection */
    c->peer_buf_alloc = h->buf_alloc;
    c->peer_fwd_cnt = h->fwd_cnt;
    switch (h->op) {
    case PVH_VSOCK_OP_RW:
        return on_data(c, h, why);
    case PVH_VSOCK_OP_CREDIT_UPDATE:
        return PVH_VSOCK_ACT_NONE;
    case PVH_VSOCK_OP_CREDIT_REQUEST:
        if (c->state == PVH_VSOCK_ESTABLISHED)
            c->owe |= PVH_VSOCK_OWE_CREDIT;
        return PVH_VSOCK_ACT_NONE;
    case PVH_VSOCK_OP_RESPONSE:
        if (c->state != PVH_VSOCK_LOCAL_INIT || (c->owe & PVH_VSOCK_OWE_REQUEST))
            return broken(c, why, "a RESPONSE out of turn");
        c->state = PVH_VSOCK_ESTABLISHED;
        return PVH_VSOCK_ACT_CONNECTED;
    case PVH_VSOCK_OP_SHUTDOWN:
        if (c->state != PVH_VSOCK_ESTABLISHED)
            return broken(c, why, "a SHUTDOWN before the connection is up");
        c->peer_shut |= (uint8_t)(h->flags & PVH_VSOCK_SHUTDOWN_BOTH);
        return PVH_VSOCK_ACT_SHUTDOWN;
    case PVH_VSOCK_OP_RST:
        pvh_vsock_csm_reset(c, false);
        return PVH_VSOCK_ACT_CLOSE;
    case PVH_VSOCK_OP_REQUEST:
        return broken(c, why, "a REQUEST on a live connection");
    default:
        return broken(c, why, "an unknown op");
    }
}

uint32_t pvh_vsock_csm_room(const struct pvh_vsock_csm *c)
{
    if (c->state != PVH_VSOCK_ESTABLISHED || (c->shut_sent & PVH_VSOCK_SHUTDOWN_SEND) ||
        (c->peer_shut & PVH_VSOCK_SHUTDOWN_RCV))
        return 0;
    return pvh_vsock_credit(c->peer_buf_alloc, c->peer_fwd_cnt, c->tx_cnt);
}

void pvh_vsock_csm_sent(struct pvh_vsock_csm *c, uint32_t n)
{
    c->tx_cnt += n;
}

uint32_t pvh_vsock_csm_held(const struct pvh_vsock_csm *c)
{
    return c->recv_cnt - c->fwd_cnt;
}

void pvh_vsock_csm_forwarded(struct pvh_vsock_csm *c, uint32_t n)
{
    c->fwd_cnt += n;
    /* the guest believes it may send buf_alloc - (recv_cnt - fwd_told) more */
    if (c->state == PVH_VSOCK_ESTABLISHED && c->fwd_cnt != c->fwd_told &&
        pvh_vsock_credit(c->buf_alloc, c->fwd_told, c->recv_cnt) < c->buf_alloc / 2)
        c->owe |= PVH_VSOCK_OWE_CREDIT;
}

void pvh_vsock_csm_host_eof(struct pvh_vsock_csm *c)
{
    if (c->state != PVH_VSOCK_ESTABLISHED || (c->shut_sent & PVH_VSOCK_SHUTDOWN_SEND))
        return;
    c->shut_sent |= PVH_VSOCK_SHUTDOWN_SEND;
    c->owe |= PVH_VSOCK_OWE_SHUTDOWN;
}

uint16_t pvh_vsock_csm_next_control(struct pvh_vsock_csm *c, uint32_t *flags)
{
    static const struct {
        uint8_t bit;
        uint16_t op;
    } order[] = {
        {PVH_VSOCK_OWE_RST, PVH_VSOCK_OP_RST},
        {PVH_VSOCK_OWE_REQUEST, PVH_VSOCK_OP_REQUEST},
        {PVH_VSOCK_OWE_RESPONSE, PVH_VSOCK_OP_RESPONSE},
        {PVH_VSOCK_OWE_SHUTDOWN, PVH_VSOCK_OP_SHUTDOWN},
        {PVH_VSOCK_OWE_CREDIT, PVH_VSOCK_OP_CREDIT_UPDATE},
    };
    *flags = 0;
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        if (!(c->owe & order[i].bit))
            continue;
        c->owe &= (uint8_t)~order[i].bit;
        if (order[i].op == PVH_VSOCK_OP_SHUTDOWN)
            *flags = c->shut_sent;
        return order[i].op;
    }
    return 0;
}

void pvh_vsock_csm_stamp(struct pvh_vsock_csm *c, struct pvh_vsock_hdr *h)
{
    h->buf_alloc = c->buf_alloc;
    h->fwd_cnt = c->fwd_cnt;
    c->fwd_told = c->fwd_cnt;
    c->owe &= (uint8_t)~PVH_VSOCK_OWE_CREDIT; /* every header carries the update */
}

/* ---- the host side's handshake ------------------------------------------------ */

static bool is_blank(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\v' || ch == '\f';
}

static size_t skip_blanks(const char *s, size_t i, size_t end)
{
    while (i < end && is_blank(s[i]))
        i++;
    return i;
}

static bool is_connect_word(const char *w, size_t n)
{
    static const char word[] = "connect";
    if (n != sizeof(word) - 1)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((w[i] | 0x20) != word[i])
            return false;
    return true;
}

/* Decimal digits [i, end) up to the next blank: a 32-bit port. */
static int parse_port(const char *s, size_t i, size_t end, uint32_t *port)
{
    uint64_t v = 0;
    size_t start = i;
    for (; i < end && !is_blank(s[i]); i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
        if (v > UINT32_MAX)
            return -1;
    }
    if (i == start)
        return -1;
    *port = (uint32_t)v;
    return 0;
}

int pvh_vsock_parse_connect(const char *buf, size_t len, uint32_t *port)
{
    size_t n = len < PVH_VSOCK_CONNECT_MAX ? len : PVH_VSOCK_CONNECT_MAX;
    const char *nl = memchr(buf, '\n', n);
    if (!nl)
        return len >= PVH_VSOCK_CONNECT_MAX ? -1 : 0;
    size_t end = (size_t)(nl - buf);
    size_t i = skip_blanks(buf, 0, end), w = i;
    while (i < end && !is_blank(buf[i]))
        i++;
    if (!is_connect_word(buf + w, i - w))
        return -1;
    i = skip_blanks(buf, i, end);
    if (parse_port(buf, i, end, port))
        return -1;
    return (int)end + 1;
}

size_t pvh_vsock_format_ok(char *buf, uint32_t port)
{
    char digits[10];
    size_t n = 0, len = 0;
    do
        digits[n++] = (char)('0' + port % 10);
    while ((port /= 10) > 0);
    buf[len++] = 'O';
    buf[len++] = 'K';
    buf[len++] = ' ';
    while (n > 0)
        buf[len++] = digits[--n];
    buf[len++] = '\n';
    buf[len] = '\0';
    return len;
}
