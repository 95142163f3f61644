/* The VMM's monotonic clock (see clock.h). */
#include "clock.h"

#define NS_PER_S 1000000000ull

uint64_t pvh_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

struct timespec pvh_deadline_in(uint64_t ns)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    uint64_t sum = (uint64_t)t.tv_nsec + ns;
    t.tv_sec += (time_t)(sum / NS_PER_S);
    t.tv_nsec = (long)(sum % NS_PER_S);
    return t;
}

uint64_t pvh_now_ns_cb(void *ctx)
{
    (void)ctx;
    return pvh_now_ns();
}
