/* CMOS real-time clock (MC146818 compatible) on ports 0x70/0x71, IRQ 8:
 * the time from injected clocks (so tests drive it without KVM or real
 * time), status registers A-D, the periodic, alarm and update-ended
 * interrupts, the NMI-mask bit and 114 bytes of CMOS memory holding the RAM
 * sizes the way PC firmware fills them. The device never sleeps or arms a
 * timer itself: it says when its next interrupt is due (rearm) and the
 * machine calls pvh_rtc_advance at that time. */
#ifndef PVHBOOT_VMM_DEV_RTC_H
#define PVHBOOT_VMM_DEV_RTC_H

#include <pthread.h>
#include <stdbool.h>

#include "device.h"

#define PVH_RTC_NO_DEADLINE UINT64_MAX
#define PVH_RTC_NS_PER_S 1000000000ull
/* UIP is set this long before each update (MC146818: 244 us = 8 cycles of
 * the 32.768 kHz time base); software that reads UIP clear has that long. */
#define PVH_RTC_UIP_NS 244141ull

/* Where the time comes from: realtime is the host's date (ns since the Unix
 * epoch), monotonic paces the seconds, UIP and the interrupts. */
struct pvh_rtc_clock {
    void *ctx;
    int64_t (*realtime_ns)(void *ctx);
    uint64_t (*monotonic_ns)(void *ctx);
};

/* What PC firmware records in CMOS memory about the machine. */
struct pvh_rtc_machine {
    uint64_t ram_below_4g;  /* bytes of RAM from 0 (the 3-4 GiB hole excluded) */
    uint64_t ram_above_4g;  /* bytes of RAM from 4 GiB */
    unsigned ncpus;
};

struct pvh_rtc {
    pthread_mutex_t lock;  /* vCPUs and the I/O thread's timer */
    const struct pvh_io_hooks *hooks;
    struct pvh_rtc_clock clock;
    unsigned irq;
    /* the machine's timer: called (lock held) whenever the next interrupt
     * deadline (a monotonic ns, or PVH_RTC_NO_DEADLINE) changes */
    void (*rearm)(void *ctx, uint64_t deadline_ns);
    void *rearm_ctx;
    uint64_t armed;        /* the deadline last given to rearm */

    uint8_t index;         /* register selected through port 0x70 */
    bool nmi_masked;       /* port 0x70 bit 7 */
    uint8_t cmos[128];     /* registers 0x00-0x0d (the time ones only while stopped) and memory */
    /* The RTC's time at monotonic `now`: t = now + phase_ns, seconds since
     * 1970 of its own calendar = offset_s + t / 1e9, t % 1e9 into the second. */
    int64_t offset_s;
    uint64_t phase_ns;     /* < 1e9 */
    int64_t host_skew_ns;  /* realtime - monotonic when last anchored to the host's date */
    uint64_t accounted_ns; /* monotonic time up to which the flags in C are up to date */
    int irq_level;
    uint64_t interrupts;   /* IRQ 8 edges raised */
};

extern const struct pvh_dev_ops pvh_rtc_ops;

/* Power-on state: 24-hour BCD mode, 32.768 kHz divider running at 1024 Hz,
 * VRT set, the time the host's (clock NULL: the host's real clocks), CMOS
 * memory empty until pvh_rtc_set_machine. */
void pvh_rtc_init(struct pvh_rtc *r, const struct pvh_io_hooks *hooks, unsigned irq, const struct pvh_rtc_clock *clock);
void pvh_rtc_destroy(struct pvh_rtc *r);
/* Fills the RAM size bytes (0x15-0x18, 0x30-0x31, 0x34-0x35, 0x5b-0x5d),
 * the CPU count (0x5f) and the checksum over 0x10-0x2d (0x2e-0x2f). */
void pvh_rtc_set_machine(struct pvh_rtc *r, const struct pvh_rtc_machine *m);
/* The machine's timer, then the first rearm call with the current deadline. */
void pvh_rtc_set_timer(struct pvh_rtc *r, void (*rearm)(void *ctx, uint64_t deadline_ns), void *ctx);
/* Brings the flags of register C up to monotonic time `now` (raising IRQ 8
 * for an enabled one) and rearms. The timer's handler calls it; takes the lock. */
void pvh_rtc_advance(struct pvh_rtc *r, uint64_t now);
/* The monotonic ns at which the next enabled interrupt is due
 * (PVH_RTC_NO_DEADLINE: none, or the line is up until C is read). Lock held. */
uint64_t pvh_rtc_next_deadline(const struct pvh_rtc *r, uint64_t now);

#endif
