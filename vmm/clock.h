/* The VMM's one clock, CLOCK_MONOTONIC: the time now, a deadline for the
 * timed waits (condition variables set to this clock), and the now-callback
 * devices take (unit tests and fuzzers give them a fake one instead). */
#ifndef PVHBOOT_VMM_CLOCK_H
#define PVHBOOT_VMM_CLOCK_H

#include <stdint.h>
#include <time.h>

uint64_t pvh_now_ns(void);

/* The absolute CLOCK_MONOTONIC time ns from now. */
struct timespec pvh_deadline_in(uint64_t ns);

/* pvh_now_ns in the shape of a device's clock callback; ctx is unused. */
uint64_t pvh_now_ns_cb(void *ctx);

#endif
