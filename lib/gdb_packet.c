/* GDB remote protocol framing (pvhboot/gdb.h): the byte stream from gdb
 * cut into packets with their checksums checked, acks and Ctrl-C told
 * apart, oversized packets consumed and refused; replies built within a
 * fixed buffer, binary bytes escaped, framed with their checksum. */
#include "pvhboot/gdb.h"

#include <string.h>

enum { IDLE, DATA, SUM_HI, SUM_LO };

void pvh_gdb_framer_init(struct pvh_gdb_framer *f)
{
    memset(f, 0, sizeof(*f));
    f->state = IDLE;
}

int pvh_gdb_hex_digit(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static void start_packet(struct pvh_gdb_framer *f)
{
    f->state = DATA;
    f->len = 0;
    f->sum = 0;
    f->got = 0;
    f->bad_digit = false;
    f->oversized = false;
}

static enum pvh_gdb_event idle_byte(struct pvh_gdb_framer *f, uint8_t c)
{
    switch (c) {
    case '$':
        start_packet(f);
        return PVH_GDB_EV_NONE;
    case '+':
        return PVH_GDB_EV_ACK;
    case '-':
        return PVH_GDB_EV_NAK;
    case 0x03:
        return PVH_GDB_EV_INTERRUPT;
    default:
        return PVH_GDB_EV_NONE; /* noise between packets */
    }
}

static void data_byte(struct pvh_gdb_framer *f, uint8_t c)
{
    if (c == '$') { /* a new packet: gdb gave up on the one before */
        start_packet(f);
        return;
    }
    if (c == '#') {
        f->state = SUM_HI;
        return;
    }
    f->sum = (uint8_t)(f->sum + c);
    if (f->len < PVH_GDB_MAX_PACKET)
        f->buf[f->len++] = c;
    else
        f->oversized = true;
}

static enum pvh_gdb_event sum_byte(struct pvh_gdb_framer *f, uint8_t c)
{
    int d = pvh_gdb_hex_digit(c);
    if (d < 0)
        f->bad_digit = true;
    f->got = (uint8_t)((f->got << 4) | (d < 0 ? 0 : d));
    if (f->state == SUM_HI) {
        f->state = SUM_LO;
        return PVH_GDB_EV_NONE;
    }
    f->state = IDLE;
    if (f->bad_digit || f->got != f->sum)
        return PVH_GDB_EV_BAD_CHECKSUM;
    if (f->oversized)
        return PVH_GDB_EV_OVERSIZED;
    f->buf[f->len] = '\0';
    return PVH_GDB_EV_PACKET;
}

size_t pvh_gdb_framer_feed(struct pvh_gdb_framer *f, const uint8_t *in, size_t n, enum pvh_gdb_event *ev)
{
    *ev = PVH_GDB_EV_NONE;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = in[i];
        switch (f->state) {
        case IDLE:
            *ev = idle_byte(f, c);
            break;
        case DATA:
            data_byte(f, c);
            break;
        default:
            *ev = sum_byte(f, c);
            break;
        }
        if (*ev != PVH_GDB_EV_NONE)
            return i + 1;
    }
    return n;
}

/* ---- replies ---------------------------------------------------------------- */

void pvh_gdb_reply_init(struct pvh_gdb_reply *r)
{
    r->len = 0;
    r->overflow = false;
}

static void put(struct pvh_gdb_reply *r, uint8_t c)
{
    if (r->len < sizeof(r->data))
        r->data[r->len++] = c;
    else
        r->overflow = true;
}

void pvh_gdb_reply_str(struct pvh_gdb_reply *r, const char *s)
{
    while (*s)
        put(r, (uint8_t)*s++);
}

static const char hexchars[] = "0123456789abcdef";

void pvh_gdb_reply_hex(struct pvh_gdb_reply *r, const uint8_t *bytes, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        put(r, (uint8_t)hexchars[bytes[i] >> 4]);
        put(r, (uint8_t)hexchars[bytes[i] & 15]);
    }
}

void pvh_gdb_reply_u64(struct pvh_gdb_reply *r, uint64_t v)
{
    char buf[17];
    int i = 16;
    buf[i] = '\0';
    do {
        buf[--i] = hexchars[v & 15];
        v >>= 4;
    } while (v);
    pvh_gdb_reply_str(r, &buf[i]);
}

static bool needs_escape(uint8_t c)
{
    return c == '#' || c == '$' || c == '}' || c == '*';
}

void pvh_gdb_reply_binary(struct pvh_gdb_reply *r, const uint8_t *bytes, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (needs_escape(bytes[i])) {
            put(r, '}');
            put(r, bytes[i] ^ 0x20);
        } else {
            put(r, bytes[i]);
        }
    }
}

size_t pvh_gdb_reply_frame(const struct pvh_gdb_reply *r, uint8_t *out)
{
    static const uint8_t refused[] = "E28"; /* ENOSPC: the reply did not fit */
    const uint8_t *data = r->overflow ? refused : r->data;
    size_t len = r->overflow ? sizeof(refused) - 1 : r->len;
    uint8_t sum = 0;
    size_t n = 0;
    out[n++] = '$';
    for (size_t i = 0; i < len; i++) {
        out[n++] = data[i];
        sum = (uint8_t)(sum + data[i]);
    }
    out[n++] = '#';
    out[n++] = (uint8_t)hexchars[sum >> 4];
    out[n++] = (uint8_t)hexchars[sum & 15];
    return n;
}
