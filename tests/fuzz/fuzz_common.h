/* What the libFuzzer harnesses share (header only): reading the fuzzer's
 * bytes as little-endian numbers, the harness's own invariant check (an
 * abort libFuzzer reports as a crash), and checks on the iovecs a device
 * hands to its host calls (inside the fake guest RAM; all zero). */
#ifndef PVHBOOT_TESTS_FUZZ_COMMON_H
#define PVHBOOT_TESTS_FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/uio.h>

/* The fuzzer's input, consumed from the front. */
struct input {
    const uint8_t *p;
    size_t n;
};

/* The next `bytes` bytes as a little-endian number; what is missing past
 * the end reads as zero. */
static inline uint64_t take(struct input *in, unsigned bytes)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes && in->n; i++, in->p++, in->n--)
        v |= (uint64_t)*in->p << (8 * i);
    return v;
}

/* An invariant of the harness: breaking it is a finding. */
static inline void check(int ok)
{
    if (!ok)
        abort();
}

/* Every buffer of iov lies inside [ram, ram + size). */
static inline bool iov_inside(const struct iovec *iov, int n, const uint8_t *ram, size_t size)
{
    for (int i = 0; i < n; i++) {
        const uint8_t *p = iov[i].iov_base;
        if (p < ram || iov[i].iov_len > size || p + iov[i].iov_len > ram + size)
            return false;
    }
    return true;
}

/* Every byte of iov is zero. */
static inline bool iov_all_zeros(const struct iovec *iov, int n)
{
    for (int i = 0; i < n; i++)
        for (size_t k = 0; k < iov[i].iov_len; k++)
            if (((const uint8_t *)iov[i].iov_base)[k])
                return false;
    return true;
}

#endif
