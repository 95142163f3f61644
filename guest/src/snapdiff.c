/* snapdiff: a counter for tests/run/snapshot-diff.t (run --snapshot-diff).
 * A 1 MiB buffer is filled with pattern A at the start; the guest counts on
 * COM1 and asks for a snapshot after "count 3" (the full one, generation 0),
 * "count 6" (diff 1) and "count 8" (diff 2). Before count 4 it writes
 * pattern B over 64 KiB of the buffer and zeroes one page of it (a dirtied
 * page that is all zeros: a diff must hold it, not leave it a hole); before
 * count 7 pattern C over another 32 KiB; before count 9 pattern D over
 * 16 KiB more. At the end it checks
 * the whole buffer against what those three steps leave ("memory ok"), so a
 * restore from the base and the diff that lost a diff page, took a stale
 * page from the base or missed the zero page prints "memory BAD". Then
 * "done" and exit status 33 through port 0xf4. */
#include "pvh_guest.h"

#define FULL_AT 3
#define DIFF_AT 6
#define DIFF2_AT 8
#define END 10
#define BUF_WORDS (1024 * 1024 / 4)
#define B_FROM (64 * 1024 / 4)
#define B_TO (128 * 1024 / 4)
#define ZERO_FROM (512 * 1024 / 4)
#define ZERO_TO (ZERO_FROM + 4096 / 4)
#define C_FROM (768 * 1024 / 4)
#define C_TO (C_FROM + 32 * 1024 / 4)
#define D_FROM (900 * 1024 / 4)
#define D_TO (D_FROM + 16 * 1024 / 4)

void guest_main(uint32_t start_info_paddr);

static uint32_t buf[BUF_WORDS] __attribute__((aligned(4096)));

static uint32_t pattern(uint32_t i, uint32_t salt) { return i * 2654435761u + salt; }

/* What word i holds once the guest has passed count n. */
static uint32_t expected(uint32_t i, uint32_t n)
{
    if (n >= FULL_AT + 1 && i >= ZERO_FROM && i < ZERO_TO)
        return 0;
    if (n >= FULL_AT + 1 && i >= B_FROM && i < B_TO)
        return pattern(i, 0xb);
    if (n >= DIFF_AT + 1 && i >= C_FROM && i < C_TO)
        return pattern(i, 0xc);
    if (n >= DIFF2_AT + 1 && i >= D_FROM && i < D_TO)
        return pattern(i, 0xd);
    return pattern(i, 0xa);
}

static void write_step(uint32_t n)
{
    for (uint32_t i = 0; i < BUF_WORDS; i++)
        if (expected(i, n) != expected(i, n - 1))
            buf[i] = expected(i, n);
}

static int buffer_ok(uint32_t n)
{
    for (uint32_t i = 0; i < BUF_WORDS; i++)
        if (buf[i] != expected(i, n))
            return 0;
    return 1;
}

void guest_main(uint32_t start_info_paddr)
{
    (void)start_info_paddr;
    pvh_serial_init();
    for (uint32_t i = 0; i < BUF_WORDS; i++)
        buf[i] = pattern(i, 0xa);
    for (uint32_t n = 1; n <= END; n++) {
        if (n == FULL_AT + 1 || n == DIFF_AT + 1 || n == DIFF2_AT + 1)
            write_step(n);
        pvh_puts("count ");
        pvh_put_dec(n);
        pvh_putc('\n');
        if (n == FULL_AT || n == DIFF_AT || n == DIFF2_AT)
            pvh_snapshot();
    }
    pvh_puts(buffer_ok(END) ? "memory ok\n" : "memory BAD\n");
    pvh_puts("done\n");
    pvh_exit(33);
}
