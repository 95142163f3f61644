/* GDB remote protocol commands (pvhboot/gdb.h): one packet's data decoded
 * into a struct pvh_gdb_cmd. Numbers are hex of at most 16 digits; every
 * length is checked against the bytes present; X's escaped binary data and
 * the hex data of G, P and M are decoded in place. */
#include "pvhboot/gdb.h"

#include <string.h>

struct cursor {
    uint8_t *p;
    size_t n;
};

static bool at_end(const struct cursor *c)
{
    return c->n == 0;
}

static bool eat(struct cursor *c, char ch)
{
    if (c->n == 0 || c->p[0] != (uint8_t)ch)
        return false;
    c->p++;
    c->n--;
    return true;
}

static bool eat_str(struct cursor *c, const char *s)
{
    size_t k = strlen(s);
    if (c->n < k || memcmp(c->p, s, k) != 0)
        return false;
    c->p += k;
    c->n -= k;
    return true;
}

/* One to 16 hex digits. */
static bool hex_u64(struct cursor *c, uint64_t *out)
{
    uint64_t v = 0;
    size_t digits = 0;
    int d;
    while (c->n > 0 && (d = pvh_gdb_hex_digit(c->p[0])) >= 0) {
        if (++digits > 16)
            return false;
        v = (v << 4) | (uint64_t)d;
        c->p++;
        c->n--;
    }
    *out = v;
    return digits > 0;
}

/* "-1" (all) or hex ("0": any). */
static bool plain_thread_id(struct cursor *c, int64_t *out)
{
    uint64_t v;
    if (eat_str(c, "-1"))
        return *out = PVH_GDB_THREAD_ALL, true;
    if (!hex_u64(c, &v) || v > 0x7fffffff)
        return false;
    *out = (int64_t)v;
    return true;
}

/* A thread id; the multiprocess form "pPID.TID" gives TID ("pPID": all). */
static bool thread_id(struct cursor *c, int64_t *out)
{
    int64_t pid;
    if (!eat(c, 'p'))
        return plain_thread_id(c, out);
    if (!plain_thread_id(c, &pid))
        return false;
    if (!eat(c, '.'))
        return *out = PVH_GDB_THREAD_ALL, true;
    return plain_thread_id(c, out);
}

/* The rest is hex pairs: decoded in place; the byte count in *len. */
static bool hex_data_in_place(struct cursor *c, const uint8_t **data, size_t *len)
{
    if (c->n % 2)
        return false;
    uint8_t *out = c->p;
    for (size_t i = 0; i < c->n; i += 2) {
        int hi = pvh_gdb_hex_digit(c->p[i]), lo = pvh_gdb_hex_digit(c->p[i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    *data = out;
    *len = c->n / 2;
    c->p += c->n;
    c->n = 0;
    return true;
}

/* The rest is binary with '}' escapes: decoded in place. */
static bool binary_in_place(struct cursor *c, const uint8_t **data, size_t *len)
{
    uint8_t *out = c->p;
    size_t k = 0;
    for (size_t i = 0; i < c->n; i++) {
        uint8_t b = c->p[i];
        if (b == '}') {
            if (++i == c->n)
                return false; /* an escape with nothing after it */
            b = c->p[i] ^ 0x20;
        }
        out[k++] = b;
    }
    *data = out;
    *len = k;
    c->p += c->n;
    c->n = 0;
    return true;
}

/* "addr,len" */
static bool addr_len(struct cursor *c, struct pvh_gdb_cmd *cmd)
{
    return hex_u64(c, &cmd->addr) && eat(c, ',') && hex_u64(c, &cmd->len);
}

static int parse_mem(struct cursor *c, struct pvh_gdb_cmd *cmd, char op)
{
    if (!addr_len(c, cmd))
        return -1;
    if (op == 'm') {
        cmd->kind = PVH_GDB_CMD_READ_MEM;
        return at_end(c) ? 0 : -1;
    }
    cmd->kind = PVH_GDB_CMD_WRITE_MEM;
    if (!eat(c, ':'))
        return -1;
    bool ok = op == 'M' ? hex_data_in_place(c, &cmd->data, &cmd->data_len)
                        : binary_in_place(c, &cmd->data, &cmd->data_len);
    return ok && cmd->data_len == cmd->len ? 0 : -1;
}

/* c [addr], s [addr], C sig[;addr], S sig[;addr] */
static int parse_resume(struct cursor *c, struct pvh_gdb_cmd *cmd, char op)
{
    cmd->kind = (op == 'c' || op == 'C') ? PVH_GDB_CMD_CONTINUE : PVH_GDB_CMD_STEP;
    if (op == 'C' || op == 'S') {
        uint64_t sig;
        if (!hex_u64(c, &sig) || sig > 0xff)
            return -1;
        if (at_end(c))
            return 0;
        if (!eat(c, ';'))
            return -1;
    }
    if (at_end(c))
        return 0;
    cmd->has_addr = hex_u64(c, &cmd->addr);
    return cmd->has_addr && at_end(c) ? 0 : -1;
}

static int parse_bp(struct cursor *c, struct pvh_gdb_cmd *cmd, char op)
{
    uint64_t type, kind;
    cmd->kind = op == 'Z' ? PVH_GDB_CMD_INSERT_BP : PVH_GDB_CMD_REMOVE_BP;
    if (!hex_u64(c, &type) || type > 4 || !eat(c, ',') || !hex_u64(c, &cmd->addr) || !eat(c, ',') ||
        !hex_u64(c, &kind) || kind > 0xffff)
        return -1;
    cmd->bp_type = (unsigned)type;
    cmd->bp_kind = (unsigned)kind;
    return at_end(c) || eat(c, ';') ? 0 : -1; /* conditions after ';' are not evaluated here */
}

static int parse_reg(struct cursor *c, struct pvh_gdb_cmd *cmd, char op)
{
    uint64_t reg;
    if (!hex_u64(c, &reg) || reg > 0xffff)
        return -1;
    cmd->reg = (unsigned)reg;
    if (op == 'p') {
        cmd->kind = PVH_GDB_CMD_READ_REG;
        return at_end(c) ? 0 : -1;
    }
    cmd->kind = PVH_GDB_CMD_WRITE_REG;
    return eat(c, '=') && hex_data_in_place(c, &cmd->data, &cmd->data_len) ? 0 : -1;
}

/* vCont;action[:thread];... with actions c, C sig, s, S sig (t and r are refused) */
static int parse_vcont(struct cursor *c, struct pvh_gdb_cmd *cmd)
{
    cmd->kind = PVH_GDB_CMD_VCONT;
    while (eat(c, ';')) {
        if (cmd->nactions == PVH_GDB_MAX_VCONT || at_end(c))
            return -1;
        char a = (char)c->p[0];
        c->p++, c->n--;
        uint64_t sig;
        if (a == 'C' || a == 'S') {
            if (!hex_u64(c, &sig) || sig > 0xff)
                return -1;
            a = a == 'C' ? 'c' : 's';
        } else if (a != 'c' && a != 's') {
            return -1;
        }
        struct pvh_gdb_vcont_action *act = &cmd->actions[cmd->nactions++];
        act->action = a;
        act->thread = PVH_GDB_THREAD_ALL;
        if (eat(c, ':') && !thread_id(c, &act->thread))
            return -1;
    }
    return at_end(c) && cmd->nactions > 0 ? 0 : -1;
}

/* qSupported:feat;feat... — only swbreak+ and hwbreak+ matter here. */
static int parse_supported(struct cursor *c, struct pvh_gdb_cmd *cmd)
{
    cmd->kind = PVH_GDB_CMD_SUPPORTED;
    if (!eat(c, ':'))
        return at_end(c) ? 0 : -1;
    while (!at_end(c)) {
        size_t k = 0;
        while (k < c->n && c->p[k] != ';')
            k++;
        if (k == 8 && !memcmp(c->p, "swbreak+", 8))
            cmd->swbreak = true;
        if (k == 8 && !memcmp(c->p, "hwbreak+", 8))
            cmd->hwbreak = true;
        c->p += k, c->n -= k;
        eat(c, ';');
    }
    return 0;
}

/* qXfer:features:read:ANNEX:offset,length */
static int parse_xfer(struct cursor *c, struct pvh_gdb_cmd *cmd)
{
    if (!eat_str(c, "features:read:"))
        return 0; /* another object: unsupported */
    cmd->kind = PVH_GDB_CMD_XFER_FEATURES;
    size_t k = 0;
    while (k < c->n && c->p[k] != ':')
        k++;
    if (k == c->n || k >= sizeof(cmd->annex))
        return -1;
    memcpy(cmd->annex, c->p, k);
    cmd->annex[k] = '\0';
    c->p += k + 1, c->n -= k + 1;
    return addr_len(c, cmd) && at_end(c) ? 0 : -1;
}

static int parse_query(struct cursor *c, struct pvh_gdb_cmd *cmd)
{
    if (eat_str(c, "Supported"))
        return parse_supported(c, cmd);
    if (eat_str(c, "Xfer:"))
        return parse_xfer(c, cmd);
    if (eat_str(c, "ThreadExtraInfo,")) {
        cmd->kind = PVH_GDB_CMD_THREAD_INFO;
        return thread_id(c, &cmd->thread) && at_end(c) ? 0 : -1;
    }
    static const struct { const char *name; enum pvh_gdb_cmd_kind kind; } exact[] = {
        {"fThreadInfo", PVH_GDB_CMD_THREADS_FIRST}, {"sThreadInfo", PVH_GDB_CMD_THREADS_NEXT},
        {"C", PVH_GDB_CMD_CURRENT_THREAD}, {"Attached", PVH_GDB_CMD_ATTACHED},
    };
    for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++) {
        size_t k = strlen(exact[i].name);
        if (c->n >= k && !memcmp(c->p, exact[i].name, k) && (c->n == k || c->p[k] == ':')) {
            cmd->kind = exact[i].kind;
            return 0;
        }
    }
    return 0; /* unsupported */
}

static int parse_v(struct cursor *c, struct pvh_gdb_cmd *cmd)
{
    if (eat_str(c, "Cont?")) {
        cmd->kind = PVH_GDB_CMD_VCONT_QUERY;
        return 0;
    }
    if (eat_str(c, "Cont"))
        return parse_vcont(c, cmd);
    if (eat_str(c, "Kill"))
        cmd->kind = PVH_GDB_CMD_KILL, cmd->wants_ok = true;
    return 0;
}

static int parse_set_thread(struct cursor *c, struct pvh_gdb_cmd *cmd)
{
    cmd->kind = PVH_GDB_CMD_SET_THREAD;
    if (at_end(c))
        return -1;
    cmd->thread_op = (char)c->p[0];
    c->p++, c->n--;
    return thread_id(c, &cmd->thread) && at_end(c) ? 0 : -1;
}

int pvh_gdb_parse(uint8_t *pkt, size_t len, struct pvh_gdb_cmd *cmd)
{
    memset(cmd, 0, sizeof(*cmd));
    cmd->kind = PVH_GDB_CMD_UNSUPPORTED;
    if (len == 0)
        return 0;
    struct cursor c = {pkt + 1, len - 1};
    char op = (char)pkt[0];
    switch (op) {
    case '?': cmd->kind = PVH_GDB_CMD_STOP_REASON; return 0;
    case 'g': cmd->kind = PVH_GDB_CMD_READ_REGS; return at_end(&c) ? 0 : -1;
    case 'G':
        cmd->kind = PVH_GDB_CMD_WRITE_REGS;
        return hex_data_in_place(&c, &cmd->data, &cmd->data_len) ? 0 : -1;
    case 'p': case 'P': return parse_reg(&c, cmd, op);
    case 'm': case 'M': case 'X': return parse_mem(&c, cmd, op);
    case 'c': case 'C': case 's': case 'S': return parse_resume(&c, cmd, op);
    case 'Z': case 'z': return parse_bp(&c, cmd, op);
    case 'H': return parse_set_thread(&c, cmd);
    case 'T':
        cmd->kind = PVH_GDB_CMD_THREAD_ALIVE;
        return thread_id(&c, &cmd->thread) && at_end(&c) ? 0 : -1;
    case 'q': return parse_query(&c, cmd);
    case 'Q':
        if (eat_str(&c, "StartNoAckMode") && at_end(&c))
            cmd->kind = PVH_GDB_CMD_NO_ACK;
        return 0;
    case 'v': return parse_v(&c, cmd);
    case 'D': cmd->kind = PVH_GDB_CMD_DETACH; return 0;
    case 'k': cmd->kind = PVH_GDB_CMD_KILL; return 0;
    default: return 0;
    }
}
