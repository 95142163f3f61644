/* libFuzzer harness for the GDB remote protocol library (lib/gdb_*.c): the
 * input is the byte stream a gdb client sends. It is cut by the framer
 * (in pieces whose sizes come from the input, as reads from a socket
 * would), every packet decoded, and what the stub would do with the
 * decoded fields done here without KVM: register blocks and single
 * registers written into and read back from both layouts, replies built
 * and framed, the target description read at the packet's offset. Every
 * invariant is asserted (abort() on a violation). */
#include <stdlib.h>
#include <string.h>

#include "pvhboot/gdb.h"

static void check(int ok)
{
    if (!ok)
        abort();
}

static void exercise_regs(const struct pvh_gdb_cmd *cmd)
{
    for (int a = 0; a < 2; a++) {
        enum pvh_gdb_arch arch = a ? PVH_GDB_ARCH_X86_64 : PVH_GDB_ARCH_I386;
        struct pvh_gdb_regs r;
        uint8_t block[1024], one[16];
        memset(&r, 0, sizeof(r));
        if (cmd->kind == PVH_GDB_CMD_WRITE_REGS) {
            int rc = pvh_gdb_regs_set(arch, &r, cmd->data, cmd->data_len);
            check(rc == 0 ? cmd->data_len <= pvh_gdb_regs_size(arch) : 1);
        }
        if (cmd->kind == PVH_GDB_CMD_WRITE_REG)
            pvh_gdb_reg_set(arch, &r, cmd->reg, cmd->data, cmd->data_len);
        size_t n = pvh_gdb_regs_get(arch, &r, block, sizeof(block));
        check(n == pvh_gdb_regs_size(arch));
        size_t k = pvh_gdb_reg_get(arch, &r, cmd->reg, one);
        check(cmd->reg < pvh_gdb_reg_count(arch) ? k > 0 && k <= 16 : k == 0);
        r.ftag = pvh_gdb_ftag_full(pvh_gdb_ftag_abridged(r.ftag), &r);
    }
}

static void exercise_reply(const struct pvh_gdb_cmd *cmd, const uint8_t *pkt, size_t len)
{
    static struct pvh_gdb_reply r;
    static uint8_t frame[PVH_GDB_MAX_FRAME];
    pvh_gdb_reply_init(&r);
    pvh_gdb_reply_binary(&r, pkt, len);
    pvh_gdb_reply_hex(&r, cmd->data ? cmd->data : pkt, cmd->data ? cmd->data_len : 0);
    pvh_gdb_reply_u64(&r, cmd->addr);
    check(r.len <= sizeof(r.data));
    size_t n = pvh_gdb_reply_frame(&r, frame);
    check(n >= 4 && n <= sizeof(frame) && frame[0] == '$' && frame[n - 3] == '#');
    /* the framer takes our own frame back as exactly one packet */
    static struct pvh_gdb_framer f;
    pvh_gdb_framer_init(&f);
    enum pvh_gdb_event ev;
    size_t used = pvh_gdb_framer_feed(&f, frame, n, &ev);
    check(used == n && (ev == PVH_GDB_EV_PACKET || ev == PVH_GDB_EV_OVERSIZED));
    if (cmd->kind == PVH_GDB_CMD_XFER_FEATURES) {
        size_t xlen;
        const char *xml = pvh_gdb_target_xml(cmd->addr & 1 ? PVH_GDB_ARCH_X86_64 : PVH_GDB_ARCH_I386, &xlen);
        check(xml[xlen] == '\0' && xlen > 0);
    }
}

static void on_packet(uint8_t *pkt, size_t len)
{
    static uint8_t copy[PVH_GDB_MAX_PACKET + 1];
    struct pvh_gdb_cmd cmd;
    memcpy(copy, pkt, len);
    int rc = pvh_gdb_parse(pkt, len, &cmd);
    check(rc == 0 || rc == -1);
    if (rc != 0)
        return;
    check(cmd.nactions <= PVH_GDB_MAX_VCONT);
    check(cmd.annex[sizeof(cmd.annex) - 1] == '\0');
    if (cmd.data) { /* decoded in place, inside the packet, never longer than it */
        check(cmd.data >= pkt && cmd.data + cmd.data_len <= pkt + len);
        check(cmd.data_len <= len);
    }
    if (cmd.kind == PVH_GDB_CMD_WRITE_MEM)
        check(cmd.data_len == cmd.len);
    exercise_regs(&cmd);
    exercise_reply(&cmd, copy, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct pvh_gdb_framer f;
    pvh_gdb_framer_init(&f);
    size_t off = 0, chunk = size ? (size_t)data[0] % 97 + 1 : 1;
    while (off < size) {
        size_t n = size - off < chunk ? size - off : chunk;
        size_t used = 0;
        while (used < n) {
            enum pvh_gdb_event ev;
            size_t k = pvh_gdb_framer_feed(&f, data + off + used, n - used, &ev);
            check(k > 0 && k <= n - used);
            used += k;
            check(f.len <= PVH_GDB_MAX_PACKET);
            if (ev == PVH_GDB_EV_PACKET)
                on_packet(f.buf, f.len);
        }
        off += n;
    }
    return 0;
}
