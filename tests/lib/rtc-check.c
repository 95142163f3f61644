/* Runs inside a Linux guest (tests/run/legacy.t), statically linked: reads
 * /dev/rtc0 (RTC_RD_TIME), waits for three update interrupts (RTC_UIE_ON:
 * the RTC core arms the CMOS alarm each second, so each is an IRQ 8), then
 * for an alarm two seconds ahead (RTC_ALM_SET + RTC_AIE_ON); one line per
 * step, "rtc-check: ..." with the seconds each took. Exit 0 when all worked. */
#include <fcntl.h>
#include <linux/rtc.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int fail(const char *what)
{
    perror(what);
    printf("rtc-check: FAILED at %s\n", what);
    return 1;
}

/* Blocks until the next RTC interrupt; the count and flags it reports. */
static int wait_irq(int fd, unsigned long *data)
{
    return read(fd, data, sizeof(*data)) == (ssize_t)sizeof(*data) ? 0 : -1;
}

int main(void)
{
    int fd = open("/dev/rtc0", O_RDONLY);
    struct rtc_time tm;
    unsigned long data;
    if (fd < 0)
        return fail("open /dev/rtc0");
    if (ioctl(fd, RTC_RD_TIME, &tm))
        return fail("RTC_RD_TIME");
    struct tm t = {.tm_sec = tm.tm_sec, .tm_min = tm.tm_min, .tm_hour = tm.tm_hour,
                   .tm_mday = tm.tm_mday, .tm_mon = tm.tm_mon, .tm_year = tm.tm_year};
    printf("rtc-check: time %lld\n", (long long)timegm(&t));
    if (ioctl(fd, RTC_UIE_ON, 0))
        return fail("RTC_UIE_ON");
    double t0 = now();
    for (int i = 0; i < 3; i++) {
        if (wait_irq(fd, &data))
            return fail("read (update interrupt)");
        printf("rtc-check: update %d after %.3f s flags %#lx\n", i, now() - t0, data & 0xf0);
    }
    ioctl(fd, RTC_UIE_OFF, 0);
    if (ioctl(fd, RTC_RD_TIME, &tm))
        return fail("RTC_RD_TIME");
    t = (struct tm){.tm_sec = tm.tm_sec, .tm_min = tm.tm_min, .tm_hour = tm.tm_hour,
                    .tm_mday = tm.tm_mday, .tm_mon = tm.tm_mon, .tm_year = tm.tm_year};
    time_t at = timegm(&t) + 2;
    struct tm *a = gmtime(&at);
    struct rtc_time alarm = {.tm_sec = a->tm_sec, .tm_min = a->tm_min, .tm_hour = a->tm_hour};
    if (ioctl(fd, RTC_ALM_SET, &alarm) || ioctl(fd, RTC_AIE_ON, 0))
        return fail("RTC_ALM_SET/RTC_AIE_ON");
    t0 = now();
    if (wait_irq(fd, &data))
        return fail("read (alarm interrupt)");
    printf("rtc-check: alarm after %.3f s flags %#lx\n", now() - t0, data & 0xf0);
    ioctl(fd, RTC_AIE_OFF, 0);
    printf("rtc-check: done\n");
    return 0;
}
