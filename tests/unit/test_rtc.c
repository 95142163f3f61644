/* The CMOS RTC (vmm/dev/rtc.c) on a clock the test moves: the host's date
 * in BCD and binary, 24 and 12 hours, across month, leap-day and century
 * ends; UIP set exactly in the 244 us before each update; the guest setting
 * its time (SET, a divider reset) moves only its own clock, which then runs
 * on; a step of the host's date is followed; the update, alarm and
 * periodic flags, IRQ 8 raised once per enabled flag and lowered by reading
 * C, the deadlines the machine's timer is given; the NMI-mask bit; CMOS
 * memory with the RAM sizes and checksum PC firmware writes there. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "../../vmm/dev/rtc.h"

#define NS 1000000000ull
#define MS 1000000ull

/* 2024-02-29 23:59:58.5 UTC, a Thursday */
#define LEAP_EVE_S 1709251198ll

struct fixture {
    uint64_t mono;
    int64_t real;
    int irq_level, irq_rises, irq_falls;
    unsigned irq;
    uint64_t deadline;
    int rearms;
    struct pvh_io_hooks hooks;
    struct pvh_rtc rtc;
};

static int64_t fake_real(void *ctx) { return ((struct fixture *)ctx)->real; }
static uint64_t fake_mono(void *ctx) { return ((struct fixture *)ctx)->mono; }

static void set_irq(void *ctx, unsigned irq, int level)
{
    struct fixture *f = ctx;
    assert_int_not_equal(level, f->irq_level);
    f->irq = irq;
    f->irq_level = level;
    if (level)
        f->irq_rises++;
    else
        f->irq_falls++;
}

static void rearm(void *ctx, uint64_t deadline)
{
    struct fixture *f = ctx;
    f->deadline = deadline;
    f->rearms++;
}

static void start(struct fixture *f, int64_t real_s, uint64_t sub_ns)
{
    memset(f, 0, sizeof(*f));
    f->mono = 5 * NS + 123;
    f->real = real_s * (int64_t)NS + (int64_t)sub_ns;
    f->hooks = (struct pvh_io_hooks){.ctx = f, .set_irq = set_irq};
    struct pvh_rtc_clock clock = {f, fake_real, fake_mono};
    pvh_rtc_init(&f->rtc, &f->hooks, 8, &clock);
    f->deadline = PVH_RTC_NO_DEADLINE;
    pvh_rtc_set_timer(&f->rtc, rearm, f);
}

static int setup(void **state)
{
    static struct fixture f;
    start(&f, LEAP_EVE_S, NS / 2);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    pvh_rtc_destroy(&((struct fixture *)*state)->rtc);
    return 0;
}

/* Both clocks move on together, as the host's do. */
static void elapse(struct fixture *f, uint64_t ns)
{
    f->mono += ns;
    f->real += (int64_t)ns;
}

/* Through the ops, with the lock taken as the bus takes it. */
static uint8_t rd(struct fixture *f, uint8_t reg)
{
    pthread_mutex_lock(&f->rtc.lock);
    pvh_rtc_ops.write(&f->rtc, 0, reg, 1);
    uint8_t v = (uint8_t)pvh_rtc_ops.read(&f->rtc, 1, 1);
    pthread_mutex_unlock(&f->rtc.lock);
    return v;
}

static void wr(struct fixture *f, uint8_t reg, uint8_t v)
{
    pthread_mutex_lock(&f->rtc.lock);
    pvh_rtc_ops.write(&f->rtc, 0, reg, 1);
    pvh_rtc_ops.write(&f->rtc, 1, v, 1);
    pthread_mutex_unlock(&f->rtc.lock);
}

/* sec, min, hour, wday, mday, month, year, century as read now */
static void read_time(struct fixture *f, uint8_t t[8])
{
    static const uint8_t regs[8] = {0x00, 0x02, 0x04, 0x06, 0x07, 0x08, 0x09, 0x32};
    for (int i = 0; i < 8; i++)
        t[i] = rd(f, regs[i]);
}

static void expect_time(struct fixture *f, const uint8_t want[8])
{
    uint8_t t[8];
    read_time(f, t);
    assert_memory_equal(t, want, 8);
}

static void test_host_date_in_bcd(void **state)
{
    struct fixture *f = *state;
    const uint8_t want[8] = {0x58, 0x59, 0x23, 5 /* Thursday */, 0x29, 0x02, 0x24, 0x20};
    expect_time(f, want);
    assert_int_equal(rd(f, 0x0a), 0x26);
    assert_int_equal(rd(f, 0x0b), 0x02);
    assert_int_equal(rd(f, 0x0d), 0x80);
}

static void test_runs_across_leap_day_and_month(void **state)
{
    struct fixture *f = *state;
    elapse(f, 3 * NS / 2); /* 2024-03-01 00:00:00.0 */
    const uint8_t want[8] = {0x00, 0x00, 0x00, 6 /* Friday */, 0x01, 0x03, 0x24, 0x20};
    expect_time(f, want);
    elapse(f, NS - 1);
    assert_int_equal(rd(f, 0x00), 0x00);
    elapse(f, 1);
    assert_int_equal(rd(f, 0x00), 0x01);
}

static void test_century_rolls_over(void **state)
{
    struct fixture *f = *state;
    start(f, 4102444799ll, 0); /* 2099-12-31 23:59:59 */
    assert_int_equal(rd(f, 0x32), 0x20);
    elapse(f, NS);
    const uint8_t want[8] = {0x00, 0x00, 0x00, 6 /* 2100-01-01: a Friday */, 0x01, 0x01, 0x00, 0x21};
    expect_time(f, want);
}

static void test_binary_and_12_hour_modes(void **state)
{
    struct fixture *f = *state;
    wr(f, 0x0b, 0x06); /* binary, 24 h */
    const uint8_t bin[8] = {58, 59, 23, 5, 29, 2, 24, 20};
    expect_time(f, bin);
    wr(f, 0x0b, 0x00); /* BCD, 12 h: 23:59 is 11 PM */
    assert_int_equal(rd(f, 0x04), 0x91);
    elapse(f, 3 * NS / 2); /* midnight is 12 AM */
    assert_int_equal(rd(f, 0x04), 0x12);
    elapse(f, 12 * 3600 * NS); /* noon is 12 PM */
    assert_int_equal(rd(f, 0x04), 0x92);
    wr(f, 0x0b, 0x04); /* binary, 12 h */
    assert_int_equal(rd(f, 0x04), 0x8c);
}

/* UIP exactly in the last 244 us of each second; never while SET holds the clock. */
static void test_uip_window(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(rd(f, 0x0a) & 0x80, 0); /* .5 s */
    elapse(f, NS / 2 - PVH_RTC_UIP_NS - 1);
    assert_int_equal(rd(f, 0x0a) & 0x80, 0);
    assert_int_equal(rd(f, 0x00), 0x58);
    elapse(f, 1);
    assert_int_equal(rd(f, 0x0a), 0x80 | 0x26);
    elapse(f, PVH_RTC_UIP_NS - 1);
    assert_int_equal(rd(f, 0x0a) & 0x80, 0x80);
    assert_int_equal(rd(f, 0x00), 0x58); /* the update happens when UIP ends */
    elapse(f, 1);
    assert_int_equal(rd(f, 0x0a) & 0x80, 0);
    assert_int_equal(rd(f, 0x00), 0x59);
    elapse(f, NS - 100 * 1000);
    wr(f, 0x0b, 0x82);
    assert_int_equal(rd(f, 0x0a) & 0x80, 0);
}

/* What Linux's mc146818_set_time does: SET, the divider in reset, the
 * registers, then both released; the first update half a second later. */
static void test_guest_sets_its_time(void **state)
{
    struct fixture *f = *state;
    int64_t host_before = f->real;
    wr(f, 0x0b, 0x82);
    wr(f, 0x0a, 0x70);
    const uint8_t t[8] = {0x30, 0x15, 0x07, 1, 0x04, 0x07, 0x76, 0x19}; /* 1976-07-04 07:15:30 */
    static const uint8_t regs[8] = {0x00, 0x02, 0x04, 0x06, 0x07, 0x08, 0x09, 0x32};
    for (int i = 0; i < 8; i++)
        wr(f, regs[i], t[i]);
    elapse(f, 3 * NS); /* held: nothing moves */
    expect_time(f, t);
    wr(f, 0x0b, 0x02);
    expect_time(f, t); /* the divider is still in reset */
    wr(f, 0x0a, 0x26);
    elapse(f, NS / 2 - 1);
    assert_int_equal(rd(f, 0x00), 0x30);
    elapse(f, 1);
    assert_int_equal(rd(f, 0x00), 0x31);
    elapse(f, 3600 * NS);
    const uint8_t later[8] = {0x31, 0x15, 0x08, 1 /* a Sunday */, 0x04, 0x07, 0x76, 0x19};
    expect_time(f, later);
    assert_true(f->real == host_before + (int64_t)(3 * NS + NS / 2 + 3600 * NS)); /* the host's clock untouched */
}

/* SET alone keeps the divider's phase; a time register written while the
 * clock runs takes effect at once (QEMU does the same). */
static void test_set_bit_keeps_phase_and_running_writes(void **state)
{
    struct fixture *f = *state;
    wr(f, 0x0b, 0x82);
    wr(f, 0x02, 0x00); /* 23:00:58 */
    wr(f, 0x0b, 0x02);
    assert_int_equal(rd(f, 0x02), 0x00);
    elapse(f, NS / 2); /* the old phase: the update comes at the old second's end */
    assert_int_equal(rd(f, 0x00), 0x59);
    wr(f, 0x04, 0x10);
    assert_int_equal(rd(f, 0x04), 0x10);
    assert_int_equal(rd(f, 0x00), 0x59);
}

static void test_follows_host_date_steps(void **state)
{
    struct fixture *f = *state;
    f->real += 3600 * (int64_t)NS; /* the host's clock is set an hour on */
    assert_int_equal(rd(f, 0x04), 0x00); /* 00:59:58 on March 1 */
    assert_int_equal(rd(f, 0x02), 0x59);
    assert_int_equal(rd(f, 0x07), 0x01);
    f->real -= 2 * 3600 * (int64_t)NS;
    assert_int_equal(rd(f, 0x04), 0x22);
    f->real += 500 * 1000; /* under a millisecond: the clocks' usual disagreement */
    assert_int_equal(rd(f, 0x00), 0x58);
}

static void test_update_interrupt(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(f->deadline, PVH_RTC_NO_DEADLINE);
    wr(f, 0x0b, 0x12); /* UIE */
    assert_int_equal(f->deadline, f->mono + NS / 2);
    pvh_rtc_advance(&f->rtc, f->mono + NS / 2 - 1);
    assert_int_equal(f->irq_rises, 0);
    elapse(f, NS / 2);
    pvh_rtc_advance(&f->rtc, f->mono);
    assert_int_equal(f->irq_rises, 1);
    assert_int_equal(f->irq, 8);
    assert_int_equal(f->deadline, PVH_RTC_NO_DEADLINE); /* the line is up until C is read */
    elapse(f, 3 * NS);
    pvh_rtc_advance(&f->rtc, f->mono);
    assert_int_equal(f->irq_rises, 1); /* edge-triggered: no new edge before the ack */
    /* IRQF, UF; PF (1024 Hz) and AF (the alarm registers' 00:00:00 passed) set, not enabled */
    assert_int_equal(rd(f, 0x0c), 0x80 | 0x40 | 0x20 | 0x10);
    assert_int_equal(f->irq_falls, 1);
    assert_int_equal(rd(f, 0x0c), 0x00);
    assert_int_equal(f->deadline, f->mono + NS); /* the next second */
}

/* Flags are set whether or not enabled; enabling one that is set raises IRQ 8 at once. */
static void test_flags_without_enable(void **state)
{
    struct fixture *f = *state;
    elapse(f, NS);
    assert_int_equal(f->irq_rises, 0);
    assert_int_equal(rd(f, 0x0c), 0x10 | 0x40); /* UF, and PF at 1024 Hz */
    elapse(f, NS);
    wr(f, 0x0b, 0x12);
    assert_int_equal(f->irq_rises, 1);
    assert_int_equal(rd(f, 0x0c), 0x80 | 0x40 | 0x20 | 0x10); /* midnight matched the alarm's 00:00:00 */
    assert_int_equal(f->irq_level, 0);
}

static void test_alarm(void **state)
{
    struct fixture *f = *state;
    wr(f, 0x01, 0x02); /* 00:00:02 on March 1: 3.5 s away */
    wr(f, 0x03, 0x00);
    wr(f, 0x05, 0x00);
    wr(f, 0x0b, 0x22); /* AIE */
    assert_int_equal(f->deadline, f->mono + 3 * NS + NS / 2);
    elapse(f, 3 * NS);
    pvh_rtc_advance(&f->rtc, f->mono);
    assert_int_equal(f->irq_rises, 0);
    assert_int_equal(rd(f, 0x0c) & 0x20, 0);
    elapse(f, NS / 2);
    pvh_rtc_advance(&f->rtc, f->mono);
    assert_int_equal(f->irq_rises, 1);
    assert_int_equal(rd(f, 0x0c), 0x80 | 0x40 | 0x20 | 0x10);
    assert_int_equal(f->deadline, f->mono + 86400 * NS); /* the same time tomorrow */
    wr(f, 0x05, 0xc0); /* any hour: xx:00:02, the next in an hour */
    assert_int_equal(f->deadline, f->mono + 3600 * NS);
    wr(f, 0x03, 0xff);
    wr(f, 0x01, 0xff); /* every second */
    assert_int_equal(f->deadline, f->mono + NS);
    wr(f, 0x01, 0x60); /* 60 seconds: never */
    assert_int_equal(f->deadline, PVH_RTC_NO_DEADLINE);
    elapse(f, 200 * NS);
    assert_int_equal(rd(f, 0x0c) & 0x20, 0);
}

/* Alarm hours in 12-hour mode: 0x81 is 1 PM. */
static void test_alarm_12_hour(void **state)
{
    struct fixture *f = *state;
    start(f, 1709208000ll, 0); /* 2024-02-29 12:00:00 */
    wr(f, 0x0b, 0x20); /* BCD, 12 h, AIE */
    wr(f, 0x01, 0x00);
    wr(f, 0x03, 0x00);
    wr(f, 0x05, 0x81);
    assert_int_equal(f->deadline, f->mono + 3600 * NS);
    wr(f, 0x05, 0x13); /* hour 13 does not exist in 12-hour mode */
    assert_int_equal(f->deadline, PVH_RTC_NO_DEADLINE);
}

static void test_periodic_interrupt(void **state)
{
    struct fixture *f = *state;
    wr(f, 0x0a, 0x2f); /* 2 Hz */
    wr(f, 0x0b, 0x42); /* PIE */
    assert_int_equal(f->deadline, f->mono + NS / 2); /* ticks at each half second of the RTC's time */
    elapse(f, NS / 2);
    pvh_rtc_advance(&f->rtc, f->mono);
    assert_int_equal(f->irq_rises, 1);
    assert_int_equal(rd(f, 0x0c), 0x80 | 0x40 | 0x10);
    assert_int_equal(f->deadline, f->mono + NS / 2);
    wr(f, 0x0a, 0x23); /* 8192 Hz: 122070.3125 ns */
    assert_true(f->deadline > f->mono && f->deadline <= f->mono + 122071);
    wr(f, 0x0a, 0x20); /* rate 0: no periodic interrupt */
    assert_int_equal(f->deadline, PVH_RTC_NO_DEADLINE);
    wr(f, 0x0a, 0x21); /* RS 1 is RS 8: 256 Hz */
    assert_int_equal(f->deadline, f->mono + NS / 256);
}

static void test_nmi_mask_and_memory(void **state)
{
    struct fixture *f = *state;
    pthread_mutex_lock(&f->rtc.lock);
    pvh_rtc_ops.write(&f->rtc, 0, 0x8d, 1);
    assert_true(f->rtc.nmi_masked);
    assert_int_equal(pvh_rtc_ops.read(&f->rtc, 1, 1), 0x80); /* bit 7 does not select a register */
    assert_int_equal(pvh_rtc_ops.read(&f->rtc, 0, 1), 0xff); /* the index port is write-only */
    pvh_rtc_ops.write(&f->rtc, 0, 0x0d, 1);
    assert_false(f->rtc.nmi_masked);
    pthread_mutex_unlock(&f->rtc.lock);
    wr(f, 0x40, 0x5a);
    wr(f, 0x7f, 0xa5);
    assert_int_equal(rd(f, 0x40), 0x5a);
    assert_int_equal(rd(f, 0x7f), 0xa5);
    wr(f, 0x0d, 0x00); /* D and C are read-only */
    assert_int_equal(rd(f, 0x0d), 0x80);
    pthread_mutex_lock(&f->rtc.lock); /* a word write: the index, then the data */
    pvh_rtc_ops.write(&f->rtc, 0, 0x40 | (uint64_t)0x33 << 8, 2);
    pthread_mutex_unlock(&f->rtc.lock);
    assert_int_equal(rd(f, 0x40), 0x33);
}

static uint16_t word(struct fixture *f, uint8_t reg) { return (uint16_t)(rd(f, reg) | rd(f, reg + 1) << 8); }

static void test_cmos_ram_sizes(void **state)
{
    struct fixture *f = *state;
    pvh_rtc_set_machine(&f->rtc, &(struct pvh_rtc_machine){512ull << 20, 0, 2});
    assert_int_equal(word(f, 0x15), 640);
    assert_int_equal(word(f, 0x17), 0xffff); /* 511 MiB from 1 MiB: capped at 64 MiB */
    assert_int_equal(word(f, 0x30), 0xffff);
    assert_int_equal(word(f, 0x34), (512 - 16) * 16);
    assert_int_equal(rd(f, 0x5b) | rd(f, 0x5c) << 8 | rd(f, 0x5d) << 16, 0);
    assert_int_equal(rd(f, 0x5f), 1);
    unsigned sum = 0;
    for (uint8_t i = 0x10; i <= 0x2d; i++)
        sum += rd(f, i);
    assert_int_equal(word(f, 0x2e), (uint16_t)((sum >> 8) | (sum & 0xff) << 8)); /* big-endian */
    pvh_rtc_set_machine(&f->rtc, &(struct pvh_rtc_machine){32ull << 20, 0, 1});
    assert_int_equal(word(f, 0x17), 31 * 1024);
    assert_int_equal(word(f, 0x34), 16 * 16);
    pvh_rtc_set_machine(&f->rtc, &(struct pvh_rtc_machine){3ull << 30, 5ull << 30, 64});
    assert_int_equal(word(f, 0x34), 0xbf00); /* 3 GiB - 16 MiB */
    assert_int_equal(rd(f, 0x5b) | rd(f, 0x5c) << 8 | rd(f, 0x5d) << 16, 5 * 16384);
    assert_int_equal(rd(f, 0x5f), 63);
}

static void test_reset_clears_interrupts_keeps_time(void **state)
{
    struct fixture *f = *state;
    wr(f, 0x0b, 0x16); /* UIE, binary */
    elapse(f, NS);
    pvh_rtc_advance(&f->rtc, f->mono);
    assert_int_equal(f->irq_level, 1);
    pthread_mutex_lock(&f->rtc.lock);
    pvh_rtc_ops.reset(&f->rtc);
    pthread_mutex_unlock(&f->rtc.lock);
    assert_int_equal(f->irq_level, 0);
    assert_int_equal(rd(f, 0x0b), 0x02);
    assert_int_equal(rd(f, 0x00), 0x59);
    assert_int_equal(f->deadline, PVH_RTC_NO_DEADLINE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_host_date_in_bcd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_runs_across_leap_day_and_month, setup, teardown),
        cmocka_unit_test_setup_teardown(test_century_rolls_over, setup, teardown),
        cmocka_unit_test_setup_teardown(test_binary_and_12_hour_modes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_uip_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_guest_sets_its_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_bit_keeps_phase_and_running_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_follows_host_date_steps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_update_interrupt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flags_without_enable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alarm, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alarm_12_hour, setup, teardown),
        cmocka_unit_test_setup_teardown(test_periodic_interrupt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nmi_mask_and_memory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cmos_ram_sizes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_clears_interrupts_keeps_time, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
