/* The GDB remote protocol library (lib/gdb_*.c): framing (checksums, acks,
 * Ctrl-C, '$' restarting a packet, oversized packets consumed and refused,
 * noise), command decoding (every command the stub serves, X's '}'
 * escapes, M/G/P hex, vCont, qXfer, thread ids; malformed ones refused),
 * replies (checksum, binary escaping, overflow), and the register layouts
 * with their target descriptions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "pvhboot/gdb.h"

/* Feeds s; returns the events in order (at most 8) and their count. */
static size_t feed_all(struct pvh_gdb_framer *f, const char *s, size_t n, enum pvh_gdb_event *evs)
{
    size_t count = 0, off = 0;
    while (off < n) {
        enum pvh_gdb_event ev;
        off += pvh_gdb_framer_feed(f, (const uint8_t *)s + off, n - off, &ev);
        if (ev != PVH_GDB_EV_NONE && count < 8)
            evs[count++] = ev;
    }
    return count;
}

static void test_framer_packet_and_acks(void **state)
{
    (void)state;
    struct pvh_gdb_framer f;
    enum pvh_gdb_event ev[8];
    pvh_gdb_framer_init(&f);
    const char in[] = "+$qSupported#37-";
    assert_int_equal(feed_all(&f, in, strlen(in), ev), 3);
    assert_int_equal(ev[0], PVH_GDB_EV_ACK);
    assert_int_equal(ev[1], PVH_GDB_EV_PACKET);
    assert_int_equal(ev[2], PVH_GDB_EV_NAK);
    /* the buffer keeps the last packet's data, NUL terminated */
    assert_string_equal((char *)f.buf, "qSupported");
}

static void test_framer_checksum(void **state)
{
    (void)state;
    struct pvh_gdb_framer f;
    enum pvh_gdb_event ev[8];
    pvh_gdb_framer_init(&f);
    assert_int_equal(feed_all(&f, "$g#68", 5, ev), 1);
    assert_int_equal(ev[0], PVH_GDB_EV_BAD_CHECKSUM); /* 'g' is 0x67 */
    assert_int_equal(feed_all(&f, "$g#67", 5, ev), 1);
    assert_int_equal(ev[0], PVH_GDB_EV_PACKET);
    assert_int_equal(feed_all(&f, "$g#6G", 5, ev), 1); /* a non-hex digit */
    assert_int_equal(ev[0], PVH_GDB_EV_BAD_CHECKSUM);
    assert_int_equal(feed_all(&f, "$g#6", 4, ev), 0); /* split across reads */
    assert_int_equal(feed_all(&f, "7", 1, ev), 1);
    assert_int_equal(ev[0], PVH_GDB_EV_PACKET);
}

static void test_framer_interrupt_noise_restart(void **state)
{
    (void)state;
    struct pvh_gdb_framer f;
    enum pvh_gdb_event ev[8];
    pvh_gdb_framer_init(&f);
    const char in[] = "xyz\x03$mAB$g#67";
    assert_int_equal(feed_all(&f, in, strlen(in), ev), 2);
    assert_int_equal(ev[0], PVH_GDB_EV_INTERRUPT);
    assert_int_equal(ev[1], PVH_GDB_EV_PACKET);
    assert_string_equal((char *)f.buf, "g"); /* '$' dropped the half packet */
    /* 0x03 inside a packet is data (X's binary bytes may hold it) */
    const char bin[] = "$X0,1:\x03#00";
    uint8_t sum = 0;
    for (size_t i = 1; i < strlen(bin) - 3; i++)
        sum = (uint8_t)(sum + (uint8_t)bin[i]);
    char fixed[32];
    snprintf(fixed, sizeof(fixed), "$X0,1:\x03#%02x", sum);
    assert_int_equal(feed_all(&f, fixed, strlen(fixed), ev), 1);
    assert_int_equal(ev[0], PVH_GDB_EV_PACKET);
    assert_int_equal(f.len, 6);
}

static void test_framer_oversized(void **state)
{
    (void)state;
    static char big[PVH_GDB_MAX_PACKET + 64];
    struct pvh_gdb_framer f;
    enum pvh_gdb_event ev[8];
    pvh_gdb_framer_init(&f);
    size_t n = 0;
    uint8_t sum = 0;
    big[n++] = '$';
    for (size_t i = 0; i < PVH_GDB_MAX_PACKET + 10; i++, n++) {
        big[n] = 'a';
        sum = (uint8_t)(sum + 'a');
    }
    n += (size_t)snprintf(big + n, sizeof(big) - n, "#%02x", sum);
    assert_int_equal(feed_all(&f, big, n, ev), 1);
    assert_int_equal(ev[0], PVH_GDB_EV_OVERSIZED);
    assert_true(f.len <= PVH_GDB_MAX_PACKET);
    /* the stream goes on with the next packet */
    assert_int_equal(feed_all(&f, "$?#3f", 5, ev), 1);
    assert_int_equal(ev[0], PVH_GDB_EV_PACKET);
}

/* ---- commands ---------------------------------------------------------------- */

static int parse(const char *text, struct pvh_gdb_cmd *cmd, uint8_t *buf)
{
    size_t n = strlen(text);
    memcpy(buf, text, n + 1);
    return pvh_gdb_parse(buf, n, cmd);
}

static void test_parse_memory(void **state)
{
    (void)state;
    struct pvh_gdb_cmd c;
    uint8_t buf[128];
    assert_int_equal(parse("mffffffff8211ffe0,40", &c, buf), 0);
    assert_int_equal(c.kind, PVH_GDB_CMD_READ_MEM);
    assert_true(c.addr == 0xffffffff8211ffe0ull);
    assert_int_equal(c.len, 0x40);
    assert_int_equal(parse("M1000,2:beef", &c, buf), 0);
    assert_int_equal(c.kind, PVH_GDB_CMD_WRITE_MEM);
    assert_int_equal(c.data_len, 2);
    assert_int_equal(c.data[0], 0xbe);
    assert_int_equal(c.data[1], 0xef);
    /* X: '}' escapes # $ } * (XOR 0x20) */
    assert_int_equal(parse("X2000,4:a}\x03}]}\x0a", &c, buf), 0);
    assert_int_equal(c.data_len, 4);
    assert_memory_equal(c.data, "a#}*", 4);
    assert_int_equal(parse("X0,0:", &c, buf), 0); /* gdb's probe for X */
    assert_int_equal(c.data_len, 0);
    /* refused: lengths that disagree, odd hex, a dangling escape, 17 digits, junk */
    assert_int_equal(parse("M1000,3:beef", &c, buf), -1);
    assert_int_equal(parse("M1000,2:bee", &c, buf), -1);
    assert_int_equal(parse("M1000,1:zz", &c, buf), -1);
    assert_int_equal(parse("X0,1:}", &c, buf), -1);
    assert_int_equal(parse("m11111111111111111,1", &c, buf), -1);
    assert_int_equal(parse("m10", &c, buf), -1);
    assert_int_equal(parse("m10,4x", &c, buf), -1);
}

static void test_parse_registers(void **state)
{
    (void)state;
    struct pvh_gdb_cmd c;
    uint8_t buf[128];
    assert_int_equal(parse("g", &c, buf), 0);
    assert_int_equal(c.kind, PVH_GDB_CMD_READ_REGS);
    assert_int_equal(parse("G0011", &c, buf), 0);
    assert_int_equal(c.kind, PVH_GDB_CMD_WRITE_REGS);
    assert_int_equal(c.data_len, 2);
    assert_int_equal(parse("p10", &c, buf), 0);
    assert_int_equal(c.kind, PVH_GDB_CMD_READ_REG);
    assert_int_equal(c.reg, 16);
    assert_int_equal(parse("P8=78563412", &c, buf), 0);
    assert_int_equal(c.kind, PVH_GDB_CMD_WRITE_REG);
    assert_int_equal(c.reg, 8);
    assert_int_equal(c.data_len, 4);
    assert_int_equal(c.data[0], 0x78);
    assert_int_equal(parse("P8", &c, buf), -1);
    assert_int_equal(parse("gx", &c, buf), -1);
}

static void test_parse_resume_and_breakpoints(void **state)
{
    (void)state;
    struct pvh_gdb_cmd c;
    uint8_t buf[128];
    assert_int_equal(parse("c", &c, buf), 0);
    assert_int_equal(c.kind, PVH_GDB_CMD_CONTINUE);
    assert_false(c.has_addr);
    assert_int_equal(parse("s100020", &c, buf), 0);
    assert_int_equal(c.kind, PVH_GDB_CMD_STEP);
    assert_true(c.has_addr && c.addr == 0x100020);
    assert_int_equal(parse("C05;1000", &c, buf), 0);
    assert_true(c.kind == PVH_GDB_CMD_CONTINUE && c.has_addr);
    assert_int_equal(parse("vCont;s:2;c", &c, buf), 0);
    assert_int_equal(c.kind, PVH_GDB_CMD_VCONT);
    assert_int_equal(c.nactions, 2);
    assert_true(c.actions[0].action == 's' && c.actions[0].thread == 2);
    assert_true(c.actions[1].action == 'c' && c.actions[1].thread == PVH_GDB_THREAD_ALL);
    assert_int_equal(parse("vCont;C02:p1.-1", &c, buf), 0);
    assert_true(c.actions[0].action == 'c' && c.actions[0].thread == PVH_GDB_THREAD_ALL);
    assert_int_equal(parse("vCont;t", &c, buf), -1);
    assert_int_equal(parse("vCont", &c, buf), -1);
    assert_int_equal(parse("vCont?", &c, buf), 0);
    assert_int_equal(c.kind, PVH_GDB_CMD_VCONT_QUERY);
    assert_int_equal(parse("Z0,ffffffff8304ee41,1", &c, buf), 0);
    assert_true(c.kind == PVH_GDB_CMD_INSERT_BP && c.bp_type == 0 && c.addr == 0xffffffff8304ee41ull);
    assert_int_equal(parse("z2,101000,8", &c, buf), 0);
    assert_true(c.kind == PVH_GDB_CMD_REMOVE_BP && c.bp_type == 2 && c.bp_kind == 8);
    assert_int_equal(parse("Z5,0,1", &c, buf), -1);
    assert_int_equal(parse("Z0,0", &c, buf), -1);
}

static void test_parse_queries_and_threads(void **state)
{
    (void)state;
    struct pvh_gdb_cmd c;
    uint8_t buf[256];
    assert_int_equal(parse("qSupported:multiprocess+;swbreak+;hwbreak+;xmlRegisters=i386", &c, buf), 0);
    assert_true(c.kind == PVH_GDB_CMD_SUPPORTED && c.swbreak && c.hwbreak);
    assert_int_equal(parse("qXfer:features:read:target.xml:0,ffb", &c, buf), 0);
    assert_int_equal(c.kind, PVH_GDB_CMD_XFER_FEATURES);
    assert_string_equal(c.annex, "target.xml");
    assert_true(c.addr == 0 && c.len == 0xffb);
    assert_int_equal(parse("qXfer:features:read:target.xml:0", &c, buf), -1);
    assert_int_equal(parse("qXfer:memory-map:read::0,10", &c, buf), 0);
    assert_int_equal(c.kind, PVH_GDB_CMD_UNSUPPORTED);
    assert_int_equal(parse("qfThreadInfo", &c, buf), 0);
    assert_int_equal(c.kind, PVH_GDB_CMD_THREADS_FIRST);
    assert_int_equal(parse("qC", &c, buf), 0);
    assert_int_equal(c.kind, PVH_GDB_CMD_CURRENT_THREAD);
    assert_int_equal(parse("qCRC:0,1", &c, buf), 0); /* not qC */
    assert_int_equal(c.kind, PVH_GDB_CMD_UNSUPPORTED);
    assert_int_equal(parse("qThreadExtraInfo,2", &c, buf), 0);
    assert_true(c.kind == PVH_GDB_CMD_THREAD_INFO && c.thread == 2);
    assert_int_equal(parse("Hg-1", &c, buf), 0);
    assert_true(c.kind == PVH_GDB_CMD_SET_THREAD && c.thread_op == 'g' && c.thread == PVH_GDB_THREAD_ALL);
    assert_int_equal(parse("Hgp1.3", &c, buf), 0);
    assert_int_equal(c.thread, 3);
    assert_int_equal(parse("T1ffffffff", &c, buf), -1);
    assert_int_equal(parse("QStartNoAckMode", &c, buf), 0);
    assert_int_equal(c.kind, PVH_GDB_CMD_NO_ACK);
    assert_int_equal(parse("vMustReplyEmpty", &c, buf), 0);
    assert_int_equal(c.kind, PVH_GDB_CMD_UNSUPPORTED);
    assert_int_equal(parse("", &c, buf), 0);
    assert_int_equal(c.kind, PVH_GDB_CMD_UNSUPPORTED);
    assert_int_equal(parse("k", &c, buf), 0);
    assert_true(c.kind == PVH_GDB_CMD_KILL && !c.wants_ok);
    assert_int_equal(parse("vKill;a410", &c, buf), 0);
    assert_true(c.kind == PVH_GDB_CMD_KILL && c.wants_ok);
    assert_int_equal(parse("D", &c, buf), 0);
    assert_int_equal(c.kind, PVH_GDB_CMD_DETACH);
}

/* ---- replies ----------------------------------------------------------------- */

static void test_reply_frame_and_escape(void **state)
{
    (void)state;
    struct pvh_gdb_reply r;
    uint8_t out[PVH_GDB_MAX_FRAME];
    pvh_gdb_reply_init(&r);
    pvh_gdb_reply_str(&r, "OK");
    size_t n = pvh_gdb_reply_frame(&r, out);
    assert_int_equal(n, 6);
    assert_memory_equal(out, "$OK#9a", 6);
    pvh_gdb_reply_init(&r);
    pvh_gdb_reply_binary(&r, (const uint8_t *)"a#$}*b", 6);
    assert_int_equal(r.len, 10);
    assert_memory_equal(r.data, "a}\x03}\x04}]}\x0a" "b", 10);
    pvh_gdb_reply_init(&r);
    pvh_gdb_reply_u64(&r, 0);
    pvh_gdb_reply_str(&r, ",");
    pvh_gdb_reply_u64(&r, 0xffffffff8304ee41ull);
    assert_int_equal(r.len, 18);
    assert_memory_equal(r.data, "0,ffffffff8304ee41", 18);
    pvh_gdb_reply_init(&r);
    pvh_gdb_reply_hex(&r, (const uint8_t *)"\x00\xab", 2);
    assert_memory_equal(r.data, "00ab", 4);
}

static void test_reply_overflow(void **state)
{
    (void)state;
    static struct pvh_gdb_reply r;
    static uint8_t big[PVH_GDB_MAX_REPLY];
    uint8_t out[PVH_GDB_MAX_FRAME];
    pvh_gdb_reply_init(&r);
    pvh_gdb_reply_hex(&r, big, sizeof(big)); /* twice the room */
    assert_true(r.overflow);
    size_t n = pvh_gdb_reply_frame(&r, out);
    assert_int_equal(n, 7);
    assert_memory_equal(out, "$E28#af", 7);
}

/* ---- registers --------------------------------------------------------------- */

static void test_regs_layout_sizes(void **state)
{
    (void)state;
    /* gdb's numbering: rip is 16 on amd64, eip 8 on i386 */
    assert_int_equal(pvh_gdb_reg_pc(PVH_GDB_ARCH_X86_64), 16);
    assert_int_equal(pvh_gdb_reg_pc(PVH_GDB_ARCH_I386), 8);
    /* amd64: 16*8 + 8 + 4 + 6*4 + 8*10 + 8*4 + 16*16 + 4 + 2*8 + 6*8 */
    assert_int_equal(pvh_gdb_regs_size(PVH_GDB_ARCH_X86_64), 128 + 8 + 4 + 24 + 80 + 32 + 256 + 4 + 16 + 48);
    /* i386: 8*4 + 4 + 4 + 6*4 + 8*10 + 8*4 + 8*16 + 4 + 2*4 + 5*4 + 8 */
    assert_int_equal(pvh_gdb_regs_size(PVH_GDB_ARCH_I386), 32 + 4 + 4 + 24 + 80 + 32 + 128 + 4 + 8 + 20 + 8);
}

static void test_regs_values(void **state)
{
    (void)state;
    struct pvh_gdb_regs r;
    memset(&r, 0, sizeof(r));
    r.gpr[PVH_GDB_RBX] = 0x1122334455667788ull;
    r.gpr[PVH_GDB_RCX] = 0xaabbccdd00000001ull;
    r.gpr[12] = 0x1212121212121212ull;
    r.rip = 0xffffffff8304ee41ull;
    r.cr3 = 0x4bae000;
    r.code64 = true;
    uint8_t v[16];
    /* amd64: rbx is register 1, rcx 2, r12 12 */
    assert_int_equal(pvh_gdb_reg_get(PVH_GDB_ARCH_X86_64, &r, 1, v), 8);
    assert_memory_equal(v, "\x88\x77\x66\x55\x44\x33\x22\x11", 8);
    assert_int_equal(pvh_gdb_reg_get(PVH_GDB_ARCH_X86_64, &r, 16, v), 8);
    assert_memory_equal(v, "\x41\xee\x04\x83\xff\xff\xff\xff", 8);
    /* outside 64-bit code the general registers and rip read as 32 bits */
    r.code64 = false;
    assert_int_equal(pvh_gdb_reg_get(PVH_GDB_ARCH_X86_64, &r, 2, v), 8);
    assert_memory_equal(v, "\x01\x00\x00\x00\x00\x00\x00\x00", 8);
    assert_int_equal(pvh_gdb_reg_get(PVH_GDB_ARCH_X86_64, &r, 12, v), 8); /* r12 as it is */
    assert_int_equal(v[7], 0x12);
    /* i386: ebx is register 3, 4 bytes */
    assert_int_equal(pvh_gdb_reg_get(PVH_GDB_ARCH_I386, &r, 3, v), 4);
    assert_memory_equal(v, "\x88\x77\x66\x55", 4);
    assert_int_equal(pvh_gdb_reg_get(PVH_GDB_ARCH_I386, &r, 999, v), 0);
    /* a write of eax keeps rax's upper half; sizes must match */
    assert_int_equal(pvh_gdb_reg_set(PVH_GDB_ARCH_I386, &r, 3, (const uint8_t *)"\x01\x02\x03\x04", 4), 0);
    assert_true(r.gpr[PVH_GDB_RBX] == 0x1122334404030201ull);
    assert_int_equal(pvh_gdb_reg_set(PVH_GDB_ARCH_I386, &r, 3, (const uint8_t *)"\x01\x02", 2), -1);
    assert_int_equal(pvh_gdb_reg_set(PVH_GDB_ARCH_X86_64, &r, 1000, v, 8), -1);
}

static void test_regs_block_roundtrip(void **state)
{
    (void)state;
    for (int a = 0; a < 2; a++) {
        enum pvh_gdb_arch arch = a ? PVH_GDB_ARCH_X86_64 : PVH_GDB_ARCH_I386;
        struct pvh_gdb_regs r, back;
        memset(&r, 0, sizeof(r));
        memset(&back, 0, sizeof(back));
        uint8_t *p = (uint8_t *)&r;
        for (size_t i = 0; i < offsetof(struct pvh_gdb_regs, code64); i++)
            p[i] = (uint8_t)(i * 7 + 3);
        r.code64 = back.code64 = true;
        uint8_t block[1024], again[1024];
        size_t n = pvh_gdb_regs_get(arch, &r, block, sizeof(block));
        assert_int_equal(n, pvh_gdb_regs_size(arch));
        assert_int_equal(pvh_gdb_regs_set(arch, &back, block, n), 0);
        assert_int_equal(pvh_gdb_regs_get(arch, &back, again, sizeof(again)), n);
        assert_memory_equal(block, again, n);
        /* a block that ends inside a register, or runs past the end, changes nothing */
        struct pvh_gdb_regs untouched = back;
        assert_int_equal(pvh_gdb_regs_set(arch, &back, block, 3), -1);
        assert_int_equal(pvh_gdb_regs_set(arch, &back, block, n + 1 <= sizeof(block) ? n + 1 : n), -1);
        assert_memory_equal(&untouched, &back, sizeof(back));
        /* a prefix ending on a register boundary is taken */
        assert_int_equal(pvh_gdb_regs_set(arch, &back, block, a ? 8 : 4), 0);
    }
}

static void test_target_xml(void **state)
{
    (void)state;
    size_t len;
    const char *x = pvh_gdb_target_xml(PVH_GDB_ARCH_X86_64, &len);
    assert_int_equal(strlen(x), len);
    assert_non_null(strstr(x, "<architecture>i386:x86-64</architecture>"));
    assert_non_null(strstr(x, "<feature name=\"org.gnu.gdb.i386.core\">"));
    assert_non_null(strstr(x, "<reg name=\"rip\" bitsize=\"64\" type=\"code_ptr\" regnum=\"16\"/>"));
    assert_non_null(strstr(x, "<reg name=\"xmm15\" bitsize=\"128\" type=\"vec128\" regnum=\"55\"/>"));
    assert_non_null(strstr(x, "<reg name=\"cr3\""));
    assert_non_null(strstr(x, "</target>\n"));
    /* every register of the layout, in order, once */
    const char *at = x;
    for (unsigned i = 0; i < pvh_gdb_reg_count(PVH_GDB_ARCH_X86_64); i++) {
        char want[32];
        snprintf(want, sizeof(want), "regnum=\"%u\"", i);
        const char *p = strstr(at, want);
        assert_non_null(p);
        at = p;
    }
    x = pvh_gdb_target_xml(PVH_GDB_ARCH_I386, &len);
    assert_non_null(strstr(x, "<architecture>i386</architecture>"));
    assert_non_null(strstr(x, "<reg name=\"eip\" bitsize=\"32\" type=\"code_ptr\" regnum=\"8\"/>"));
    assert_null(strstr(x, "xmm8"));
    assert_null(strstr(x, "rax"));
}

static void test_ftag(void **state)
{
    (void)state;
    struct pvh_gdb_regs r;
    memset(&r, 0, sizeof(r));
    /* ST0 = 1.0 (valid), ST1 = 0 (zero), the rest empty; TOP = 6 */
    r.st[0][7] = 0x80, r.st[0][8] = 0xff, r.st[0][9] = 0x3f;
    r.fstat = 6u << 11;
    uint8_t abridged = (1u << 6) | (1u << 7); /* physical 6 = ST0, 7 = ST1 */
    uint32_t full = pvh_gdb_ftag_full(abridged, &r);
    assert_int_equal(full, 0x4fff); /* R7 zero (01), R6 valid (00), R0-R5 empty (11) */
    assert_int_equal(pvh_gdb_ftag_abridged(full), abridged);
    assert_int_equal(pvh_gdb_ftag_abridged(0xffff), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_framer_packet_and_acks),
        cmocka_unit_test(test_framer_checksum),
        cmocka_unit_test(test_framer_interrupt_noise_restart),
        cmocka_unit_test(test_framer_oversized),
        cmocka_unit_test(test_parse_memory),
        cmocka_unit_test(test_parse_registers),
        cmocka_unit_test(test_parse_resume_and_breakpoints),
        cmocka_unit_test(test_parse_queries_and_threads),
        cmocka_unit_test(test_reply_frame_and_escape),
        cmocka_unit_test(test_reply_overflow),
        cmocka_unit_test(test_regs_layout_sizes),
        cmocka_unit_test(test_regs_values),
        cmocka_unit_test(test_regs_block_roundtrip),
        cmocka_unit_test(test_target_xml),
        cmocka_unit_test(test_ftag),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
