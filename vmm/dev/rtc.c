/* MC146818 CMOS RTC (ports 0x70/0x71, IRQ 8). The time is never stored
 * while the clock runs: each read derives the registers from the injected
 * monotonic clock plus an offset anchored to the host's date, in the format
 * register B selects (BCD or binary, 12 or 24 hours); the guest setting the
 * time (SET, or a divider reset, then the time registers) moves the offset,
 * never the host's clock. A step of the host's date (clock set, resume from
 * suspend) moves the RTC by the same step. The flags of register C are
 * brought up to date lazily, on each access and when the machine's timer
 * fires at the deadline the device asked for; IRQ 8 rises when an enabled
 * flag is set and falls when the guest reads C, which clears them. Saved
 * state (save/restore): the selected register, the NMI mask, the 128 bytes
 * of registers and memory, and the RTC's time as its offset from the host's
 * date, so that a restored RTC keeps the guest's own setting and runs on
 * from the host's date of the restore. */
#include "rtc.h"

#include "../clock.h"

#include <string.h>
#include <time.h>

#include "devstate.h"
#include "pvhboot/bytes.h"

#define NS PVH_RTC_NS_PER_S
#define DAY_S 86400

/* registers */
#define REG_SEC 0x00
#define REG_SEC_ALARM 0x01
#define REG_MIN 0x02
#define REG_MIN_ALARM 0x03
#define REG_HOUR 0x04
#define REG_HOUR_ALARM 0x05
#define REG_WDAY 0x06
#define REG_MDAY 0x07
#define REG_MONTH 0x08
#define REG_YEAR 0x09
#define REG_A 0x0a
#define REG_B 0x0b
#define REG_C 0x0c
#define REG_D 0x0d
#define REG_CENTURY 0x32 /* the FADT's CENTURY field names it */

#define A_UIP 0x80
#define A_DV 0x70
#define A_RS 0x0f
#define B_SET 0x80
#define B_PIE 0x40
#define B_AIE 0x20
#define B_UIE 0x10
#define B_SQWE 0x08
#define B_DM_BINARY 0x04
#define B_24H 0x02
#define C_IRQF 0x80
#define C_PF 0x40
#define C_AF 0x20
#define C_UF 0x10
#define D_VRT 0x80
#define ALARM_ANY 0xc0 /* bits 7-6 both set: "don't care" */

/* ---- the host's clocks (the default) */

static int64_t host_realtime(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * (int64_t)NS + ts.tv_nsec;
}

/* ---- calendar: days since 1970-01-01 <-> proleptic Gregorian dates */

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = floor_div(y, 400);
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

struct rtc_tm {
    int64_t year;
    int mon, mday, hour, min, sec, wday; /* mon 1-12, mday 1-31, wday 0 = Sunday */
};

static void civil_from_seconds(int64_t t, struct rtc_tm *tm)
{
    int64_t days = floor_div(t, DAY_S), tod = t - days * DAY_S;
    tm->hour = (int)(tod / 3600);
    tm->min = (int)(tod / 60 % 60);
    tm->sec = (int)(tod % 60);
    tm->wday = (int)(days - floor_div(days + 4, 7) * 7 + 4); /* 1970-01-01 was a Thursday */
    days += 719468;
    int64_t era = floor_div(days, 146097);
    int64_t doe = days - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    tm->mday = (int)(doy - (153 * mp + 2) / 5 + 1);
    tm->mon = (int)(mp < 10 ? mp + 3 : mp - 9);
    tm->year = yoe + era * 400 + (tm->mon <= 2);
}

/* Out-of-range fields (the guest may write anything) carry into the next
 * larger unit, as the arithmetic has it; months wrap into years. */
static int64_t seconds_from_civil(const struct rtc_tm *tm)
{
    int64_t m0 = tm->mon - 1;
    int64_t year = tm->year + floor_div(m0, 12);
    int64_t mon = m0 - floor_div(m0, 12) * 12 + 1;
    int64_t days = days_from_civil(year, mon, 1) + tm->mday - 1;
    return days * DAY_S + tm->hour * 3600 + tm->min * 60 + tm->sec;
}

/* ---- register formats */

static bool binary_mode(const struct pvh_rtc *r) { return r->cmos[REG_B] & B_DM_BINARY; }

static uint8_t to_reg(const struct pvh_rtc *r, int v)
{
    return binary_mode(r) ? (uint8_t)v : (uint8_t)((v / 10) << 4 | v % 10);
}

/* A register byte as a number; invalid BCD digits count as their value. */
static int from_reg(const struct pvh_rtc *r, uint8_t b)
{
    return binary_mode(r) ? b : (b >> 4) * 10 + (b & 0x0f);
}

static uint8_t hour_to_reg(const struct pvh_rtc *r, int hour)
{
    if (r->cmos[REG_B] & B_24H)
        return to_reg(r, hour);
    int h12 = hour % 12 == 0 ? 12 : hour % 12;
    return (uint8_t)(to_reg(r, h12) | (hour >= 12 ? 0x80 : 0));
}

static int hour_from_reg(const struct pvh_rtc *r, uint8_t b)
{
    if (r->cmos[REG_B] & B_24H)
        return from_reg(r, b);
    return from_reg(r, b & 0x7f) % 12 + (b & 0x80 ? 12 : 0);
}

/* ---- the RTC's time */

static bool divider_counts(const struct pvh_rtc *r) { return (r->cmos[REG_A] & A_DV) <= 0x20; }
static bool divider_in_reset(const struct pvh_rtc *r) { return (r->cmos[REG_A] & 0x60) == 0x60; }
static bool running(const struct pvh_rtc *r) { return divider_counts(r) && !(r->cmos[REG_B] & B_SET); }

static uint64_t ticks_ns(const struct pvh_rtc *r, uint64_t now) { return now + r->phase_ns; }
static int64_t seconds_at(const struct pvh_rtc *r, uint64_t now)
{
    return r->offset_s + (int64_t)(ticks_ns(r, now) / NS);
}
static uint64_t subsecond_at(const struct pvh_rtc *r, uint64_t now) { return ticks_ns(r, now) % NS; }

/* The RTC reads `sec` seconds and `sub` ns into it at monotonic `now`. */
static void set_time(struct pvh_rtc *r, uint64_t now, int64_t sec, uint64_t sub)
{
    r->phase_ns = (sub % NS + NS - now % NS) % NS;
    r->offset_s = sec - (int64_t)(ticks_ns(r, now) / NS);
}

/* The time registers as the running clock shows them at `now`. */
static void time_to_regs(struct pvh_rtc *r, uint64_t now, uint8_t *regs)
{
    struct rtc_tm tm;
    civil_from_seconds(seconds_at(r, now), &tm);
    int64_t year = tm.year < 0 ? 0 : tm.year > 9999 ? 9999 : tm.year;
    regs[REG_SEC] = to_reg(r, tm.sec);
    regs[REG_MIN] = to_reg(r, tm.min);
    regs[REG_HOUR] = hour_to_reg(r, tm.hour);
    regs[REG_WDAY] = (uint8_t)(tm.wday + 1); /* 1 = Sunday */
    regs[REG_MDAY] = to_reg(r, tm.mday);
    regs[REG_MONTH] = to_reg(r, tm.mon);
    regs[REG_YEAR] = to_reg(r, (int)(year % 100));
    regs[REG_CENTURY] = to_reg(r, (int)(year / 100));
}

static int64_t time_from_regs(const struct pvh_rtc *r)
{
    const uint8_t *c = r->cmos;
    struct rtc_tm tm = {
        .year = (int64_t)from_reg(r, c[REG_CENTURY]) * 100 + from_reg(r, c[REG_YEAR]),
        .mon = from_reg(r, c[REG_MONTH]),
        .mday = from_reg(r, c[REG_MDAY]),
        .hour = hour_from_reg(r, c[REG_HOUR]),
        .min = from_reg(r, c[REG_MIN]),
        .sec = from_reg(r, c[REG_SEC]),
    };
    return seconds_from_civil(&tm);
}

static bool is_time_reg(uint8_t index)
{
    return index == REG_CENTURY ||
           (index <= REG_YEAR && index != REG_SEC_ALARM && index != REG_MIN_ALARM && index != REG_HOUR_ALARM);
}

/* ---- the alarm */

struct alarm {
    int hour, min, sec; /* -1: any; -2: never matches */
};

static int alarm_field(uint8_t b, int value, int limit)
{
    if ((b & ALARM_ANY) == ALARM_ANY)
        return -1;
    return value >= 0 && value < limit ? value : -2;
}

/* The alarm hour in 24-hour terms: 12-hour mode knows 1-12 with PM in bit 7. */
static int alarm_hour(const struct pvh_rtc *r, uint8_t b)
{
    if (r->cmos[REG_B] & B_24H)
        return from_reg(r, b);
    int h12 = from_reg(r, b & 0x7f);
    return h12 >= 1 && h12 <= 12 ? hour_from_reg(r, b) : -2;
}

static struct alarm read_alarm(const struct pvh_rtc *r)
{
    const uint8_t *c = r->cmos;
    return (struct alarm){alarm_field(c[REG_HOUR_ALARM], alarm_hour(r, c[REG_HOUR_ALARM]), 24),
                          alarm_field(c[REG_MIN_ALARM], from_reg(r, c[REG_MIN_ALARM]), 60),
                          alarm_field(c[REG_SEC_ALARM], from_reg(r, c[REG_SEC_ALARM]), 60)};
}

static bool field_matches(int field, int v) { return field == -1 || field == v; }

/* The first second of the day after `after` (-1: from midnight) that the
 * alarm matches, or -1. Fields are one value or any, so the first matching
 * minute ends the search: at most 24 x 60 + 60 steps. */
static int64_t alarm_in_day(const struct alarm *a, int64_t after)
{
    int64_t from = after + 1;
    int h0 = (int)(from / 3600), m0 = (int)(from / 60 % 60), s0 = (int)(from % 60);
    for (int h = h0; h < 24; h++) {
        if (!field_matches(a->hour, h))
            continue;
        for (int m = h == h0 ? m0 : 0; m < 60; m++) {
            if (!field_matches(a->min, m))
                continue;
            for (int s = h == h0 && m == m0 ? s0 : 0; s < 60; s++)
                if (field_matches(a->sec, s))
                    return h * 3600 + m * 60 + s;
        }
    }
    return -1;
}

/* The first second after `sec` at which the alarm matches; INT64_MAX: never. */
static int64_t next_alarm(const struct pvh_rtc *r, int64_t sec)
{
    struct alarm a = read_alarm(r);
    if (a.hour == -2 || a.min == -2 || a.sec == -2)
        return INT64_MAX;
    int64_t day = floor_div(sec, DAY_S) * DAY_S;
    int64_t t = alarm_in_day(&a, sec - day);
    if (t >= 0)
        return day + t;
    t = alarm_in_day(&a, -1);
    return t >= 0 ? day + DAY_S + t : INT64_MAX;
}

/* ---- the periodic interrupt: RS 3-15 give 8192 Hz down to 2 Hz, 1 and 2 the same as 8 and 9 */

static uint64_t periodic_hz(const struct pvh_rtc *r)
{
    unsigned rs = r->cmos[REG_A] & A_RS;
    if (rs == 0 || !divider_counts(r))
        return 0;
    if (rs < 3)
        rs += 7;
    return 32768u >> (rs - 1);
}

static uint64_t ticks_before(uint64_t t, uint64_t hz) { return t / NS * hz + t % NS * hz / NS; }

/* The ns (on the tick clock) of periodic tick k: ceil(k * 1e9 / hz). */
static uint64_t tick_time(uint64_t k, uint64_t hz) { return k / hz * NS + (k % hz * NS + hz - 1) / hz; }

/* ---- flags, the line and the deadline */

/* Sets the flags of register C for what happened in (accounted_ns, now]. */
static void account(struct pvh_rtc *r, uint64_t now)
{
    if (now <= r->accounted_ns)
        return;
    uint64_t t0 = ticks_ns(r, r->accounted_ns), t1 = ticks_ns(r, now);
    uint64_t hz = periodic_hz(r);
    if (hz && ticks_before(t1, hz) > ticks_before(t0, hz))
        r->cmos[REG_C] |= C_PF;
    if (running(r)) {
        int64_t s0 = seconds_at(r, r->accounted_ns), s1 = seconds_at(r, now);
        if (s1 > s0)
            r->cmos[REG_C] |= C_UF;
        if (s1 > s0 && next_alarm(r, s0) <= s1)
            r->cmos[REG_C] |= C_AF;
    }
    r->accounted_ns = now;
}

static uint8_t enabled_flags(const struct pvh_rtc *r)
{
    /* B's PIE, AIE and UIE sit on the same bits as C's PF, AF and UF */
    return (uint8_t)(r->cmos[REG_C] & r->cmos[REG_B] & (C_PF | C_AF | C_UF));
}

static void update_irq(struct pvh_rtc *r)
{
    int level = enabled_flags(r) != 0;
    if (level)
        r->cmos[REG_C] |= C_IRQF;
    if (level != r->irq_level && r->hooks && r->hooks->set_irq)
        r->hooks->set_irq(r->hooks->ctx, r->irq, level);
    if (level && !r->irq_level)
        r->interrupts++;
    r->irq_level = level;
}

static uint64_t earliest(uint64_t a, uint64_t b) { return a < b ? a : b; }

uint64_t pvh_rtc_next_deadline(const struct pvh_rtc *r, uint64_t now)
{
    uint8_t b = r->cmos[REG_B];
    uint64_t deadline = PVH_RTC_NO_DEADLINE, t = ticks_ns(r, now);
    if (r->irq_level)
        return deadline; /* nothing new reaches the guest until it reads C */
    uint64_t hz = periodic_hz(r);
    if ((b & B_PIE) && hz)
        deadline = earliest(deadline, tick_time(ticks_before(t, hz) + 1, hz) - r->phase_ns);
    if (!running(r))
        return deadline;
    uint64_t next_second = now + (NS - t % NS);
    if (b & B_UIE)
        deadline = earliest(deadline, next_second);
    if (b & B_AIE) {
        int64_t sec = seconds_at(r, now), at = next_alarm(r, sec);
        if (at != INT64_MAX)
            deadline = earliest(deadline, next_second + (uint64_t)(at - sec - 1) * NS);
    }
    return deadline;
}

static void rearm(struct pvh_rtc *r, uint64_t now)
{
    uint64_t d = pvh_rtc_next_deadline(r, now);
    if (d == r->armed || !r->rearm)
        return;
    r->armed = d;
    r->rearm(r->rearm_ctx, d);
}

/* Follows a step of the host's date (anything over a millisecond: the two
 * clocks otherwise move together, both slewed by NTP). */
static void follow_host(struct pvh_rtc *r, uint64_t now)
{
    int64_t skew = r->clock.realtime_ns(r->clock.ctx) - (int64_t)now;
    int64_t step = skew - r->host_skew_ns;
    if (step > -1000000 && step < 1000000)
        return;
    r->host_skew_ns = skew;
    int64_t sub = (int64_t)subsecond_at(r, now) + step % (int64_t)NS, carry = floor_div(sub, NS);
    set_time(r, now, seconds_at(r, now) + step / (int64_t)NS + carry, (uint64_t)(sub - carry * (int64_t)NS));
}

/* Every access starts here: the clock brought to now, the flags accounted. */
static uint64_t catch_up(struct pvh_rtc *r)
{
    uint64_t now = r->clock.monotonic_ns(r->clock.ctx);
    account(r, now);
    if (running(r))
        follow_host(r, now);
    return now;
}

/* ---- registers */

static uint8_t read_a(const struct pvh_rtc *r, uint64_t now)
{
    bool uip = running(r) && subsecond_at(r, now) >= NS - PVH_RTC_UIP_NS;
    return (uint8_t)((r->cmos[REG_A] & ~A_UIP) | (uip ? A_UIP : 0));
}

static uint8_t read_reg(struct pvh_rtc *r, uint64_t now)
{
    uint8_t i = r->index;
    if (i == REG_A)
        return read_a(r, now);
    if (i == REG_C) {
        uint8_t c = r->cmos[REG_C];
        r->cmos[REG_C] = 0; /* reading C acknowledges: flags cleared, the line falls */
        update_irq(r);
        return c;
    }
    if (i == REG_D)
        return D_VRT;
    if (is_time_reg(i) && running(r)) {
        uint8_t regs[128];
        time_to_regs(r, now, regs);
        return regs[i];
    }
    return r->cmos[i];
}

/* The running clock stops (SET, or the divider held): its time is frozen
 * into the registers, where the guest may rewrite it. */
static void freeze(struct pvh_rtc *r, uint64_t now)
{
    time_to_regs(r, now, r->cmos);
}

/* The clock starts again from the registers: half a second to the first
 * update after a divider reset (MC146818), the running phase otherwise. */
static void thaw(struct pvh_rtc *r, uint64_t now, bool from_reset)
{
    set_time(r, now, time_from_regs(r), from_reset ? NS / 2 : subsecond_at(r, now));
    r->host_skew_ns = r->clock.realtime_ns(r->clock.ctx) - (int64_t)now; /* steps while stopped do not count */
}

static void write_a(struct pvh_rtc *r, uint64_t now, uint8_t v)
{
    bool was_running = running(r), was_reset = divider_in_reset(r);
    r->cmos[REG_A] = (uint8_t)(v & ~A_UIP);
    if (was_running && !running(r))
        freeze(r, now);
    else if (!was_running && running(r))
        thaw(r, now, was_reset);
}

static void write_b(struct pvh_rtc *r, uint64_t now, uint8_t v)
{
    bool was_running = running(r);
    if (v & B_SET)
        v &= (uint8_t)~B_UIE; /* setting SET clears UIE */
    if (was_running && (v & B_SET))
        freeze(r, now);
    r->cmos[REG_B] = v;
    if (!was_running && running(r))
        thaw(r, now, false);
}

static void write_reg(struct pvh_rtc *r, uint64_t now, uint8_t v)
{
    uint8_t i = r->index;
    switch (i) {
    case REG_A: write_a(r, now, v); break;
    case REG_B: write_b(r, now, v); break;
    case REG_C:
    case REG_D: break; /* read-only */
    default:
        if (is_time_reg(i) && running(r)) { /* the running clock takes the new field at once */
            freeze(r, now);
            r->cmos[i] = v;
            thaw(r, now, false);
        } else {
            r->cmos[i] = v;
        }
    }
}

/* ---- the port pair: 0x70 selects (bit 7 masks NMIs), 0x71 reads/writes */

static uint64_t rtc_read(void *dev, uint64_t off, unsigned size)
{
    struct pvh_rtc *r = dev;
    uint64_t now = catch_up(r), v = 0;
    for (unsigned k = 0; k < size; k++) {
        uint8_t b = off + k == 1 ? read_reg(r, now) : 0xff; /* 0x70 is write-only */
        v |= (uint64_t)b << (8 * k);
    }
    update_irq(r);
    rearm(r, now);
    return v;
}

static void rtc_write(void *dev, uint64_t off, uint64_t value, unsigned size)
{
    struct pvh_rtc *r = dev;
    uint64_t now = catch_up(r);
    for (unsigned k = 0; k < size; k++) {
        uint8_t b = (uint8_t)(value >> (8 * k));
        if (off + k == 0) {
            r->index = b & 0x7f;
            r->nmi_masked = b & 0x80;
        } else if (off + k == 1) {
            write_reg(r, now, b);
        }
    }
    update_irq(r);
    rearm(r, now);
}

/* Back to the power-on state (the lock held, as for read and write):
 * firmware's register values, no interrupt, the time and memory kept. */
static void rtc_reset(void *dev)
{
    struct pvh_rtc *r = dev;
    uint64_t now = catch_up(r);
    if (!running(r)) {
        bool was_reset = divider_in_reset(r);
        r->cmos[REG_A] = 0x26;
        r->cmos[REG_B] &= (uint8_t)~B_SET;
        if (running(r))
            thaw(r, now, was_reset);
    }
    r->cmos[REG_A] = 0x26;
    r->cmos[REG_B] = B_24H;
    r->cmos[REG_C] = 0;
    r->index = 0;
    r->nmi_masked = false;
    update_irq(r);
    rearm(r, now);
}

void pvh_rtc_advance(struct pvh_rtc *r, uint64_t now)
{
    pthread_mutex_lock(&r->lock);
    account(r, now);
    update_irq(r);
    rearm(r, now);
    pthread_mutex_unlock(&r->lock);
}

void pvh_rtc_init(struct pvh_rtc *r, const struct pvh_io_hooks *hooks, unsigned irq, const struct pvh_rtc_clock *clock)
{
    memset(r, 0, sizeof(*r));
    pthread_mutex_init(&r->lock, NULL);
    r->hooks = hooks;
    r->irq = irq;
    r->clock = clock ? *clock : (struct pvh_rtc_clock){NULL, host_realtime, pvh_now_ns_cb};
    r->armed = PVH_RTC_NO_DEADLINE;
    r->cmos[REG_A] = 0x26; /* 32.768 kHz time base, 1024 Hz periodic rate: what PC firmware sets */
    r->cmos[REG_B] = B_24H;
    r->cmos[REG_D] = D_VRT;
    uint64_t now = r->clock.monotonic_ns(r->clock.ctx);
    int64_t host = r->clock.realtime_ns(r->clock.ctx);
    r->host_skew_ns = host - (int64_t)now;
    set_time(r, now, floor_div(host, NS), (uint64_t)(host - floor_div(host, NS) * (int64_t)NS));
    r->accounted_ns = now;
}

void pvh_rtc_destroy(struct pvh_rtc *r)
{
    pthread_mutex_destroy(&r->lock);
}

static void put16(uint8_t *c, unsigned at, uint64_t v)
{
    c[at] = (uint8_t)v;
    c[at + 1] = (uint8_t)(v >> 8);
}

void pvh_rtc_set_machine(struct pvh_rtc *r, const struct pvh_rtc_machine *m)
{
    const uint64_t kib = 1024, mib = 1024 * kib;
    uint64_t ext = m->ram_below_4g > mib ? (m->ram_below_4g - mib) / kib : 0;
    uint64_t above16 = m->ram_below_4g > 16 * mib ? (m->ram_below_4g - 16 * mib) / (64 * kib) : 0;
    uint64_t above4g = m->ram_above_4g / (64 * kib);
    pthread_mutex_lock(&r->lock);
    uint8_t *c = r->cmos;
    put16(c, 0x15, 640);                              /* base memory, KiB */
    put16(c, 0x17, ext > 0xffff ? 0xffff : ext);      /* extended memory from 1 MiB, KiB (to 64 MiB) */
    put16(c, 0x30, ext > 0xffff ? 0xffff : ext);      /* ... as POST found it */
    put16(c, 0x34, above16 > 0xffff ? 0xffff : above16); /* from 16 MiB to the hole, 64 KiB units */
    put16(c, 0x5b, above4g);                          /* from 4 GiB, 64 KiB units (24 bits) */
    c[0x5d] = (uint8_t)(above4g >> 16);
    c[0x5f] = (uint8_t)(m->ncpus ? m->ncpus - 1 : 0); /* CPUs - 1 (SeaBIOS reads it) */
    unsigned sum = 0;
    for (unsigned i = 0x10; i <= 0x2d; i++)
        sum += c[i];
    c[0x2e] = (uint8_t)(sum >> 8);
    c[0x2f] = (uint8_t)sum;
    pthread_mutex_unlock(&r->lock);
}

void pvh_rtc_set_timer(struct pvh_rtc *r, void (*fn)(void *ctx, uint64_t deadline_ns), void *ctx)
{
    pthread_mutex_lock(&r->lock);
    r->rearm = fn;
    r->rearm_ctx = ctx;
    r->armed = PVH_RTC_NO_DEADLINE;
    uint64_t now = r->clock.monotonic_ns(r->clock.ctx);
    uint64_t d = pvh_rtc_next_deadline(r, now);
    if (fn && d != PVH_RTC_NO_DEADLINE) {
        r->armed = d;
        fn(ctx, d);
    }
    pthread_mutex_unlock(&r->lock);
}

/* ---- saved state, version 1: index, nmi_masked, cmos[128], then the RTC's
 * time less the host's date: seconds (i64) and ns (u32, < 1e9) */

#define STATE_VERSION 1
#define STATE_LEN (3 + 128 + 8 + 4)
#define OFF_CMOS 3
#define OFF_DELTA_S (OFF_CMOS + 128)
#define OFF_DELTA_NS (OFF_DELTA_S + 8)
/* the RTC's registers reach years 0 to 16665 (invalid BCD digits counted),
 * months and days carrying on: well inside 2^40 s of any host's date */
#define MAX_DELTA_S (1ll << 40)

static void split_ns(int64_t t, int64_t *sec, int64_t *ns)
{
    *sec = floor_div(t, NS);
    *ns = t - *sec * (int64_t)NS;
}

/* Brought up to now first, as an access would: the flags accounted, a step
 * of the host's date followed. */
static int rtc_save(void *dev, uint8_t *buf, size_t cap, size_t *len, struct pvh_error *err)
{
    struct pvh_rtc *r = dev;
    if (pvh_devstate_begin("rtc", STATE_VERSION, buf, cap, STATE_LEN, err) != 0)
        return -1;
    uint64_t now = catch_up(r);
    update_irq(r);
    rearm(r, now);
    int64_t host_s, host_ns;
    split_ns(r->clock.realtime_ns(r->clock.ctx), &host_s, &host_ns);
    int64_t delta_s = seconds_at(r, now) - host_s, delta_ns = (int64_t)subsecond_at(r, now) - host_ns;
    if (delta_ns < 0) {
        delta_ns += (int64_t)NS;
        delta_s--;
    }
    buf[1] = r->index;
    buf[2] = r->nmi_masked;
    memcpy(buf + OFF_CMOS, r->cmos, sizeof(r->cmos));
    pvh_put_le64(buf + OFF_DELTA_S, (uint64_t)delta_s);
    pvh_put_le32(buf + OFF_DELTA_NS, (uint32_t)delta_ns);
    *len = STATE_LEN;
    return 0;
}

/* What the registers' code can leave: no UIP stored in A (it is derived),
 * only flags in C, D the constant VRT, never SET with UIE. */
static int check_state(const uint8_t *buf, size_t len, struct pvh_error *err)
{
    if (pvh_devstate_open("rtc", STATE_VERSION, buf, len, STATE_LEN, err) != 0 ||
        pvh_devstate_length("rtc", len, STATE_LEN, err) != 0)
        return -1;
    const uint8_t *c = buf + OFF_CMOS;
    if (buf[1] & 0x80)
        return pvh_devstate_bad(err, "rtc", "register index 0x%02x past 0x7f", buf[1]);
    if (buf[2] > 1)
        return pvh_devstate_bad(err, "rtc", "NMI mask %u is not 0 or 1", buf[2]);
    if (c[REG_A] & A_UIP)
        return pvh_devstate_bad(err, "rtc", "register A 0x%02x holds UIP", c[REG_A]);
    if ((c[REG_B] & B_SET) && (c[REG_B] & B_UIE))
        return pvh_devstate_bad(err, "rtc", "register B 0x%02x has both SET and UIE", c[REG_B]);
    if (c[REG_C] & ~(C_IRQF | C_PF | C_AF | C_UF))
        return pvh_devstate_bad(err, "rtc", "register C 0x%02x has bits other than its flags", c[REG_C]);
    if (c[REG_D] != D_VRT)
        return pvh_devstate_bad(err, "rtc", "register D 0x%02x is not 0x%02x", c[REG_D], D_VRT);
    int64_t delta_s = (int64_t)pvh_le64(buf + OFF_DELTA_S);
    uint32_t delta_ns = pvh_le32(buf + OFF_DELTA_NS);
    if (delta_s > MAX_DELTA_S || delta_s < -MAX_DELTA_S || delta_ns >= NS)
        return pvh_devstate_bad(err, "rtc", "time %lld s + %u ns from the host's date is out of range",
                                (long long)delta_s, delta_ns);
    return 0;
}

static int rtc_restore(void *dev, const uint8_t *buf, size_t len, struct pvh_error *err)
{
    struct pvh_rtc *r = dev;
    if (check_state(buf, len, err) != 0)
        return -1;
    r->index = buf[1];
    r->nmi_masked = buf[2];
    memcpy(r->cmos, buf + OFF_CMOS, sizeof(r->cmos));
    uint64_t now = r->clock.monotonic_ns(r->clock.ctx);
    int64_t host = r->clock.realtime_ns(r->clock.ctx), host_s, host_ns;
    split_ns(host, &host_s, &host_ns);
    int64_t sec = host_s + (int64_t)pvh_le64(buf + OFF_DELTA_S);
    int64_t sub = host_ns + pvh_le32(buf + OFF_DELTA_NS);
    if (sub >= (int64_t)NS) {
        sub -= (int64_t)NS;
        sec++;
    }
    set_time(r, now, sec, (uint64_t)sub);
    r->host_skew_ns = host - (int64_t)now;
    r->accounted_ns = now;
    update_irq(r);
    rearm(r, now);
    return 0;
}

const struct pvh_dev_ops pvh_rtc_ops = {.name = "rtc", .read = rtc_read, .write = rtc_write, .reset = rtc_reset,
                                        .save = rtc_save, .restore = rtc_restore};
