/* What every bench_* program shares: a monotonic clock in µs and the
 * min/median/max line of a sample (sorted in place). */
#ifndef PVHBOOT_BENCH_TIMING_H
#define PVHBOOT_BENCH_TIMING_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline double bench_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* "PROG FILE [ITERATIONS]": the iteration count (def when absent or outside
 * [1, max]), or -1 after a usage line when FILE is missing. */
static inline int bench_iterations(int argc, char **argv, const char *prog, int def, int max)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s VMLINUX [ITERATIONS]\n", prog);
        return -1;
    }
    int n = argc > 2 ? atoi(argv[2]) : def;
    return n < 1 || n > max ? def : n;
}

/* Sorts t[0..n) and prints "WHAT min .. median .. max .. (n=N)"; returns the median. */
static inline double bench_print_stats(const char *what, double *t, int n)
{
    qsort(t, (size_t)n, sizeof(*t), bench_cmp_double);
    printf("%-34s min %10.2f us  median %10.2f us  max %10.2f us  (n=%d)\n", what, t[0], t[n / 2], t[n - 1], n);
    return t[n / 2];
}

#endif
