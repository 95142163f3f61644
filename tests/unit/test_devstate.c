/* The legacy devices' saved state (save/restore in their pvh_dev_ops): each
 * device driven into a state of its own (registers, FIFO bytes, a pending
 * interrupt, a command half done, the guest's own RTC time), saved, restored
 * into a fresh machine's device, which then answers every access as the
 * original does and raises the same IRQ line (the ACPI SCI of a pending
 * GPE too); the RTC restored later runs on
 * from the host's date with the guest's offset. Hostile states are refused
 * with one line naming the device and leave it untouched: every truncation,
 * a byte too many, another version, and each field out of its range. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../vmm/dev/devices.h"
#include "pvhboot/acpi.h"
#include "pvhboot/bytes.h"

#define NS 1000000000ull

struct clock {
    uint64_t mono;
    int64_t real;
};

struct machine {
    int irq_level[16], irq_rises[16];
    uint8_t out[64];
    size_t nout;
    int ended;
};

static void set_irq(void *ctx, unsigned irq, int level)
{
    struct machine *m = ctx;
    assert_true(irq < 16);
    assert_int_not_equal(level, m->irq_level[irq]);
    m->irq_level[irq] = level;
    m->irq_rises[irq] += level;
}

static void end(void *ctx, enum pvh_vm_end e, int status)
{
    (void)e;
    (void)status;
    ((struct machine *)ctx)->ended++;
}

static void output(void *ctx, const uint8_t *buf, size_t len)
{
    struct machine *m = ctx;
    for (size_t i = 0; i < len && m->nout < sizeof(m->out); i++)
        m->out[m->nout++] = buf[i];
}

static void debug_output(void *ctx, const uint8_t *buf, size_t len)
{
    (void)ctx;
    (void)buf;
    (void)len;
}

static int64_t fake_real(void *ctx) { return ((struct clock *)ctx)->real; }
static uint64_t fake_mono(void *ctx) { return ((struct clock *)ctx)->mono; }

/* One machine's devices, its RTC on the shared fake clock. */
struct box {
    struct machine m;
    struct pvh_io_hooks hooks;
    struct pvh_devices d;
};

static struct clock clk;
static struct box boxes[3];

static void box_init(struct box *b)
{
    memset(b, 0, sizeof(*b));
    b->hooks = (struct pvh_io_hooks){&b->m, set_irq, end, output, debug_output};
    pvh_devices_init(&b->d, &b->hooks);
    struct pvh_rtc_clock c = {&clk, fake_real, fake_mono};
    pvh_rtc_destroy(&b->d.rtc);
    pvh_rtc_init(&b->d.rtc, &b->hooks, PVH_RTC_IRQ, &c);
}

static int setup(void **state)
{
    clk = (struct clock){.mono = 7 * NS + 1234, .real = 1700000000ll * (int64_t)NS + 250000000};
    for (int i = 0; i < 3; i++)
        box_init(&boxes[i]);
    *state = boxes;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < 3; i++)
        pvh_devices_destroy(&boxes[i].d);
    return 0;
}

static void elapse(uint64_t ns)
{
    clk.mono += ns;
    clk.real += (int64_t)ns;
}

static uint8_t inb(struct box *b, uint16_t port)
{
    uint8_t v = 0;
    pvh_devices_io(&b->d, port, 0, &v, 1);
    return v;
}

static uint16_t inw(struct box *b, uint16_t port)
{
    uint8_t v[2] = {0};
    pvh_devices_io(&b->d, port, 0, v, 2);
    return pvh_le16(v);
}

static void outb(struct box *b, uint16_t port, uint8_t v)
{
    pvh_devices_io(&b->d, port, 1, &v, 1);
}

static void outw(struct box *b, uint16_t port, uint16_t v)
{
    uint8_t d[2];
    pvh_put_le16(d, v);
    pvh_devices_io(&b->d, port, 1, d, 2);
}

/* Through the bus's table, under the device's lock, as the snapshot code calls them. */
static const struct pvh_bus_range *range(struct box *b, uint16_t port)
{
    const struct pvh_bus_range *r = pvh_bus_find(&b->d.pio, port);
    assert_non_null(r);
    assert_non_null(r->ops->save);
    assert_non_null(r->ops->restore);
    return r;
}

static size_t save_version(struct box *b, uint16_t port, uint8_t *buf, size_t cap, uint8_t version)
{
    const struct pvh_bus_range *r = range(b, port);
    struct pvh_error err;
    size_t len = 0;
    if (r->lock)
        pthread_mutex_lock(r->lock);
    int rc = r->ops->save(r->dev, buf, cap, &len, &err);
    if (r->lock)
        pthread_mutex_unlock(r->lock);
    if (rc != 0)
        fail_msg("%s", err.msg);
    assert_true(len >= 1 && len <= cap);
    assert_int_equal(buf[0], version);
    return len;
}

static size_t save(struct box *b, uint16_t port, uint8_t *buf, size_t cap)
{
    return save_version(b, port, buf, cap, 1);
}

static int restore(struct box *b, uint16_t port, const uint8_t *buf, size_t len, struct pvh_error *err)
{
    const struct pvh_bus_range *r = range(b, port);
    if (r->lock)
        pthread_mutex_lock(r->lock);
    int rc = r->ops->restore(r->dev, buf, len, err);
    if (r->lock)
        pthread_mutex_unlock(r->lock);
    return rc;
}

static void restore_ok(struct box *b, uint16_t port, const uint8_t *buf, size_t len)
{
    struct pvh_error err;
    if (restore(b, port, buf, len, &err) != 0)
        fail_msg("%s", err.msg);
}

/* The restore of buf[0, len) (copied to a buffer of exactly len bytes, so
 * that ASan sees any read past it) into box 2's device is refused with a
 * message naming the device and containing want, and changes nothing there. */
static void expect_refused(uint16_t port, const uint8_t *buf, size_t len, const char *dev, const char *want)
{
    struct box *b = &boxes[2];
    static struct pvh_devices before;
    static struct machine m_before;
    memcpy(&before, &b->d, sizeof(before));
    m_before = b->m;
    uint8_t *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, buf, len);
    struct pvh_error err = {0};
    assert_int_equal(restore(b, port, copy, len, &err), -1);
    free(copy);
    assert_int_equal(err.code, PVH_E_INPUT);
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "%s state: ", dev);
    if (strncmp(err.msg, prefix, strlen(prefix)) != 0 || !strstr(err.msg, want))
        fail_msg("\"%s\" is not \"%s...%s\"", err.msg, prefix, want);
    assert_null(strchr(err.msg, '\n'));
    assert_memory_equal(&before, &b->d, sizeof(before));
    assert_memory_equal(&m_before, &b->m, sizeof(m_before));
}

/* Every prefix of a good state, and the state with a byte more, refused. */
static void expect_every_truncation_refused(uint16_t port, const uint8_t *buf, size_t len, const char *dev)
{
    for (size_t n = 0; n < len; n++)
        expect_refused(port, buf, n, dev, n == 0 ? "empty" : "bytes");
    uint8_t longer[256] = {0};
    memcpy(longer, buf, len);
    expect_refused(port, longer, len + 1, dev, "bytes, expected");
}

/* The same reads from both boxes, one after the other. */
static void expect_same_reads(uint16_t port, int n)
{
    for (int i = 0; i < n; i++)
        assert_int_equal(inb(&boxes[0], port), inb(&boxes[1], port));
}

/* ---- the UART */

static void uart_busy(struct box *b)
{
    outb(b, 0x3fb, 0x80);
    outb(b, 0x3f8, 0x03); /* divisor 3 */
    outb(b, 0x3f9, 0x00);
    outb(b, 0x3fb, 0x03);
    outb(b, 0x3fa, 0xc7);
    outb(b, 0x3fc, 0x0b); /* DTR RTS OUT2 */
    outb(b, 0x3ff, 0x5a);
    outb(b, 0x3f9, 0x03); /* RDI and THRI: THRE owed */
    uint8_t fill[PVH_UART_RX_SIZE];
    for (size_t i = 0; i < sizeof(fill); i++)
        fill[i] = (uint8_t)i;
    assert_int_equal(pvh_uart_receive(&b->d.uart, fill, sizeof(fill)), PVH_UART_RX_SIZE);
    for (int i = 0; i < 250; i++) /* the FIFO's head far along its ring */
        inb(b, 0x3f8);
    assert_int_equal(pvh_uart_receive(&b->d.uart, (const uint8_t *)"wrapped", 7), 7);
}

static void test_uart_round_trip(void **state)
{
    struct box *b = *state;
    uart_busy(&b[0]);
    assert_int_equal(b[0].m.irq_level[PVH_COM1_IRQ], 1);
    uint8_t buf[512];
    size_t len = save(&b[0], 0x3f8, buf, sizeof(buf));
    assert_int_equal(len, 11 + 6 + 7);
    restore_ok(&b[1], 0x3f8, buf, len);
    assert_int_equal(b[1].m.irq_level[PVH_COM1_IRQ], 1); /* the line raised again */
    for (uint16_t reg = 1; reg < 8; reg++) /* IER, IIR (acknowledges nothing while data waits), ..., SCR */
        expect_same_reads((uint16_t)(0x3f8 + reg), 1);
    expect_same_reads(0x3f8, 14); /* the six bytes left, "wrapped", then nothing */
    assert_int_equal(inb(&b[1], 0x3fd) & 0x01, 0);
    expect_same_reads(0x3fa, 2); /* now THRE, acknowledged by the read */
    assert_int_equal(b[0].m.irq_level[PVH_COM1_IRQ], 0);
    assert_int_equal(b[1].m.irq_level[PVH_COM1_IRQ], 0);
    outb(&b[0], 0x3fb, 0x83);
    outb(&b[1], 0x3fb, 0x83);
    expect_same_reads(0x3f8, 1); /* the divisor */
    expect_same_reads(0x3f9, 1);
    outb(&b[1], 0x3fb, 0x03);
    outb(&b[1], 0x3f8, '!');
    assert_int_equal(b[1].m.nout, 1); /* transmits to its own machine's output */
}

static void test_uart_hostile(void **state)
{
    struct box *b = *state;
    uart_busy(&b[0]);
    uint8_t good[512];
    size_t len = save(&b[0], 0x3f8, good, sizeof(good));
    expect_every_truncation_refused(0x3f8, good, len, "uart8250");
    uint8_t bad[512];
    struct {
        size_t at;
        uint8_t value;
        const char *want;
    } cases[] = {
        {0, 2, "version 2, this pvhboot restores version 1"},
        {1, 0x13, "IER 0x13 has bits other than 0x0f"},
        {3, 0x2b, "MCR 0x2b has bits other than 0x1f"},
        {7, 0xc3, "FCR 0xc3 has bits other than 0xc9"},
        {8, 2, "THRE pending 2 is not 0 or 1"},
        {10, 1, "269 received bytes, more than the FIFO's 256"},
        {9, 14, "24 bytes, expected 25"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memcpy(bad, good, len);
        bad[cases[i].at] = cases[i].value;
        expect_refused(0x3f8, bad, len, "uart8250", cases[i].want);
    }
    uint8_t cap[4];
    struct pvh_error err;
    size_t n;
    assert_int_equal(pvh_uart_ops.save(&b[0].d.uart, cap, sizeof(cap), &n, &err), -1);
    assert_string_equal(err.msg, "uart8250 state: needs 24 bytes, the buffer holds 4");
}

/* ---- the i8042 */

static void i8042_busy(struct box *b)
{
    outb(b, 0x64, 0xaa);        /* self-test: 0x55 queued, IRQ 1 */
    outb(b, 0x64, 0xd2);
    outb(b, 0x60, 0x12);        /* as if the keyboard sent it */
    pvh_i8042_ctrl_alt_del(&b->d.i8042);
    assert_int_equal(inb(b, 0x60), 0x55);
    outb(b, 0x64, 0xd1);        /* the output port's byte still to come */
}

static void test_i8042_round_trip(void **state)
{
    struct box *b = *state;
    i8042_busy(&b[0]);
    uint8_t buf[64];
    size_t len = save(&b[0], 0x60, buf, sizeof(buf));
    assert_int_equal(len, 24);
    restore_ok(&b[1], 0x60, buf, len);
    assert_int_equal(b[1].m.irq_level[PVH_I8042_IRQ], 1);
    expect_same_reads(0x64, 1);
    outb(&b[0], 0x60, 0x03);
    outb(&b[1], 0x60, 0x03);    /* both take it as the output port */
    outb(&b[0], 0x64, 0xd0);
    outb(&b[1], 0x64, 0xd0);
    expect_same_reads(0x60, 12); /* 0x12, Ctrl-Alt-Del, the output port, then the last byte again */
    expect_same_reads(0x64, 1);
    assert_int_equal(b[1].m.irq_level[PVH_I8042_IRQ], 0);
    outb(&b[1], 0x64, 0xfe);
    assert_int_equal(b[1].m.ended, 1);
}

static void test_i8042_hostile(void **state)
{
    struct box *b = *state;
    i8042_busy(&b[0]);
    uint8_t good[64];
    size_t len = save(&b[0], 0x60, good, sizeof(good));
    expect_every_truncation_refused(0x60, good, len, "i8042");
    uint8_t bad[64];
    struct {
        size_t at;
        uint8_t value;
        const char *want;
    } cases[] = {
        {0, 0, "version 0, this pvhboot restores version 1"},
        {2, 0x61, "pending command 0x61 takes no data byte"},
        {5, 0x04, "status command bit 0x04 is not 0 or 0x08"},
        {6, 16, "queue head 16 / count 9 outside its 16 bytes"},
        {7, 17, "queue head 1 / count 17 outside its 16 bytes"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memcpy(bad, good, len);
        bad[cases[i].at] = cases[i].value;
        expect_refused(0x60, bad, len, "i8042", cases[i].want);
    }
}

/* ---- ACPI PM, debugcon, debug-exit */

/* Version 2: PM1 registers, GPE0 status and enable, the VM generation ID's
 * address. A pending enabled GPE raises the restored machine's SCI. */
static void test_acpipm_round_trip_and_hostile(void **state)
{
    struct box *b = *state;
    const uint16_t evt = PVH_ACPI_PM1A_EVT_PORT, cnt = PVH_ACPI_PM1A_CNT_PORT, gpe = PVH_ACPI_GPE0_PORT;
    outw(&b[0], (uint16_t)(evt + 2), 0x0121);
    outw(&b[0], cnt, (uint16_t)(PVH_ACPI_SLP_EN | (1u << PVH_ACPI_SLP_TYP_SHIFT))); /* a sleep that is not S5 */
    outb(&b[0], (uint16_t)(gpe + 1), 0x81);
    b[0].d.acpipm.vmgenid_gpa = 0xe1230;
    pvh_acpipm_raise_gpe(&b[0].d.acpipm, PVH_ACPI_GPE_VMGENID);
    assert_int_equal(b[0].m.irq_level[PVH_ACPI_SCI_IRQ], 1);
    uint8_t good[32];
    size_t len = save_version(&b[0], evt, good, sizeof(good), 2);
    assert_int_equal(len, 17);
    restore_ok(&b[1], evt, good, len);
    for (uint16_t p = evt; p < PVH_ACPI_PORTS_END; p++)
        assert_int_equal(inb(&b[0], p), inb(&b[1], p));
    assert_int_equal(inw(&b[1], (uint16_t)(evt + 2)), 0x0121);
    assert_int_equal(inb(&b[1], gpe), 1);
    assert_int_equal(inb(&b[1], (uint16_t)(gpe + 1)), 0x81);
    assert_int_equal(b[1].d.acpipm.vmgenid_gpa, 0xe1230);
    assert_int_equal(b[1].m.irq_level[PVH_ACPI_SCI_IRQ], 1); /* the pending GPE's SCI, raised again */
    outb(&b[1], gpe, 1);
    assert_int_equal(b[1].m.irq_level[PVH_ACPI_SCI_IRQ], 0);
    outw(&b[1], cnt, (uint16_t)(PVH_ACPI_SLP_EN | (PVH_ACPI_SLP_TYP_S5 << PVH_ACPI_SLP_TYP_SHIFT)));
    assert_int_equal(b[1].m.ended, 1);

    expect_every_truncation_refused(evt, good, len, "acpipm");
    uint8_t bad[32];
    memcpy(bad, good, len);
    bad[1] = 0x01;
    expect_refused(evt, bad, len, "acpipm", "PM1 status 0x0001 is not 0");
    memcpy(bad, good, len);
    pvh_put_le16(bad + 5, 0);
    expect_refused(evt, bad, len, "acpipm", "PM1 control 0x0000 lacks SCI_EN");
    pvh_put_le16(bad + 5, (uint16_t)(1 | PVH_ACPI_SLP_EN | (PVH_ACPI_SLP_TYP_S5 << PVH_ACPI_SLP_TYP_SHIFT)));
    expect_refused(evt, bad, len, "acpipm", "is an S5 sleep already taken");
    memcpy(bad, good, len);
    bad[7] = 0x03;
    expect_refused(evt, bad, len, "acpipm", "GPE0 status 0x03 has bits no event sets");
    memcpy(bad, good, len);
    pvh_put_le64(bad + 9, 0xe1238);
    expect_refused(evt, bad, len, "acpipm", "VM generation ID address 0xe1238 is not 16-byte aligned below 4 GiB");
    pvh_put_le64(bad + 9, 0x100000000ull);
    expect_refused(evt, bad, len, "acpipm", "VM generation ID address 0x100000000 is not 16-byte aligned");
    memcpy(bad, good, len);
    bad[0] = 9;
    expect_refused(evt, bad, len, "acpipm", "version 9");
    /* a version-1 state (7 bytes: before the GPE0 block and the ID) */
    const uint8_t v1[7] = {1, 0, 0, 0x21, 0x01, 0x01, 0x00};
    expect_refused(evt, v1, sizeof(v1), "acpipm", "version 1 is from a pvhboot without the VM generation ID device");
}

static void test_stateless_devices(void **state)
{
    struct box *b = *state;
    static const struct {
        uint16_t port;
        const char *name;
    } devs[] = {{PVH_DEBUGCON_PORT, "debugcon"}, {PVH_DEBUG_EXIT_PORT, "debugexit"}};
    for (size_t i = 0; i < 2; i++) {
        uint8_t buf[8];
        size_t len = save(&b[0], devs[i].port, buf, sizeof(buf));
        assert_int_equal(len, 1);
        restore_ok(&b[1], devs[i].port, buf, len);
        expect_every_truncation_refused(devs[i].port, buf, len, devs[i].name);
        buf[0] = 2;
        expect_refused(devs[i].port, buf, 1, devs[i].name, "version 2");
    }
    assert_int_equal(inb(&b[1], PVH_DEBUGCON_PORT), 0xe9);
}

/* ---- the RTC */

static uint8_t rtc_rd(struct box *b, uint8_t reg)
{
    outb(b, 0x70, reg);
    return inb(b, 0x71);
}

static void rtc_wr(struct box *b, uint8_t reg, uint8_t v)
{
    outb(b, 0x70, reg);
    outb(b, 0x71, v);
}

/* The guest's own date (1999-12-31 23:59:50), the periodic interrupt at
 * 2 Hz with its flag up, an alarm, CMOS memory, NMIs masked. */
static void rtc_busy(struct box *b)
{
    rtc_wr(b, 0x0b, 0x82);
    static const uint8_t regs[] = {0x00, 0x02, 0x04, 0x07, 0x08, 0x09, 0x32};
    static const uint8_t vals[] = {0x50, 0x59, 0x23, 0x31, 0x12, 0x99, 0x19};
    for (size_t i = 0; i < sizeof(regs); i++)
        rtc_wr(b, regs[i], vals[i]);
    rtc_wr(b, 0x0a, 0x2f);               /* 2 Hz */
    rtc_wr(b, 0x0b, 0x02 | 0x40 | 0x20); /* running, PIE, AIE */
    rtc_wr(b, 0x01, 0x00);               /* alarm at hh:mm:00 of any hour, minute */
    rtc_wr(b, 0x03, 0xc0);
    rtc_wr(b, 0x05, 0xc0);
    rtc_wr(b, 0x40, 0x99);
    elapse(NS * 3 / 4);                  /* a periodic tick: PF, IRQ 8 up */
    outb(b, 0x70, 0x80 | 0x0c);          /* NMIs masked, C selected */
    inb(b, 0x70);
}

static void test_rtc_round_trip(void **state)
{
    struct box *b = *state;
    rtc_busy(&b[0]);
    assert_int_equal(b[0].m.irq_level[PVH_RTC_IRQ], 1);
    uint8_t buf[256];
    size_t len = save(&b[0], 0x70, buf, sizeof(buf));
    assert_int_equal(len, 143);
    restore_ok(&b[1], 0x70, buf, len);
    assert_int_equal(b[1].m.irq_level[PVH_RTC_IRQ], 1);
    assert_int_equal(b[1].d.rtc.index, 0x0c);
    assert_true(b[1].d.rtc.nmi_masked);
    uint64_t now = clk.mono;
    assert_int_equal(pvh_rtc_next_deadline(&b[0].d.rtc, now), pvh_rtc_next_deadline(&b[1].d.rtc, now));
    expect_same_reads(0x71, 1); /* C: the flags, cleared by the read */
    assert_int_equal(b[1].m.irq_level[PVH_RTC_IRQ], 0);
    for (int step = 0; step < 4; step++) { /* across the year 2000, the alarm and ticks */
        for (uint8_t reg = 0; reg < 0x80; reg++) {
            outb(&b[0], 0x70, reg);
            outb(&b[1], 0x70, reg);
            expect_same_reads(0x71, 1);
        }
        assert_int_equal(b[0].m.irq_level[PVH_RTC_IRQ], b[1].m.irq_level[PVH_RTC_IRQ]);
        assert_int_equal(pvh_rtc_next_deadline(&b[0].d.rtc, clk.mono), pvh_rtc_next_deadline(&b[1].d.rtc, clk.mono));
        elapse(NS * 7 / 3);
    }
    assert_int_equal(rtc_rd(&b[1], 0x09), 0x00); /* 2000 */
    assert_int_equal(rtc_rd(&b[1], 0x32), 0x20);
}

/* Restored a day of host time later, the guest's clock has moved on a day
 * with the host's (as the original's has): its offset from the host's date
 * is what was kept, not the date it read when saved. */
static void test_rtc_restored_later_keeps_offset(void **state)
{
    struct box *b = *state;
    rtc_busy(&b[0]);
    uint8_t buf[256];
    size_t len = save(&b[0], 0x70, buf, sizeof(buf));
    elapse(86400 * NS + NS / 3);
    restore_ok(&b[1], 0x70, buf, len);
    static const uint8_t regs[7] = {0x00, 0x02, 0x04, 0x07, 0x08, 0x09, 0x32};
    static const uint8_t want[7] = {0x51, 0x59, 0x23, 0x01, 0x01, 0x00, 0x20}; /* 2000-01-01 23:59:51 */
    for (int i = 0; i < 7; i++) {
        assert_int_equal(rtc_rd(&b[0], regs[i]), want[i]);
        assert_int_equal(rtc_rd(&b[1], regs[i]), want[i]);
    }
}

static void test_rtc_hostile(void **state)
{
    struct box *b = *state;
    rtc_busy(&b[0]);
    uint8_t good[256];
    size_t len = save(&b[0], 0x70, good, sizeof(good));
    expect_every_truncation_refused(0x70, good, len, "rtc");
    uint8_t bad[256];
    struct {
        size_t at;
        uint8_t value;
        const char *want;
    } cases[] = {
        {0, 2, "version 2"},
        {1, 0x80, "register index 0x80 past 0x7f"},
        {2, 2, "NMI mask 2 is not 0 or 1"},
        {3 + 0x0a, 0xa6, "register A 0xa6 holds UIP"},
        {3 + 0x0b, 0x92, "register B 0x92 has both SET and UIE"},
        {3 + 0x0c, 0x41, "register C 0x41 has bits other than its flags"},
        {3 + 0x0d, 0x00, "register D 0x00 is not 0x80"},
        {131 + 7, 0x7f, "s + "},       /* delta seconds near INT64_MAX */
        {131 + 7, 0x80, "s + "},       /* near INT64_MIN */
        {131 + 5, 0x01, "s + "},       /* just over 2^40 */
        {139 + 3, 0x3c, "out of range"}, /* ns >= 1e9 */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memcpy(bad, good, len);
        bad[cases[i].at] = cases[i].value;
        expect_refused(0x70, bad, len, "rtc", cases[i].want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_uart_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_uart_hostile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_i8042_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_i8042_hostile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_acpipm_round_trip_and_hostile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stateless_devices, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rtc_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rtc_restored_later_keeps_offset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rtc_hostile, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
