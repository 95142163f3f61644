/* snapcount: a counter for tests/run/snapshot.t. Prints "count 1" to
 * "count END" on COM1 and asks for a snapshot through the snapshot port
 * right after "count 5" (pvh_snapshot(); "nosnap" on the command line: it
 * never asks, for SIGUSR2's test; "slow": a pause between counts, so a
 * signal lands mid-run). A 64 KiB pattern written at the start is checked
 * at the end ("memory ok"): a restored VM got its RAM back. Then "done" and
 * exit status 33 through port 0xf4. */
#include "pvh_guest.h"

#define SNAP_AT 5
#define END_FAST 10
#define END_SLOW 60
#define PATTERN_WORDS (64 * 1024 / 4)

void guest_main(uint32_t start_info_paddr);

static uint32_t pattern[PATTERN_WORDS];

static void fill_pattern(void)
{
    for (uint32_t i = 0; i < PATTERN_WORDS; i++)
        pattern[i] = i * 2654435761u + 1;
}

static int pattern_ok(void)
{
    for (uint32_t i = 0; i < PATTERN_WORDS; i++)
        if (pattern[i] != i * 2654435761u + 1)
            return 0;
    return 1;
}

static void pause_a_while(void)
{
    for (volatile uint32_t i = 0; i < 20000000u; i++) {
    }
}

void guest_main(uint32_t start_info_paddr)
{
    pvh_serial_init();
    const struct hvm_start_info *si = pvh_ptr(start_info_paddr, sizeof(*si));
    uint64_t cmdline = si ? si->cmdline_paddr : 0;
    int ask = !pvh_cmdline_has(cmdline, "nosnap");
    int slow = pvh_cmdline_has(cmdline, "slow");
    uint32_t end = slow ? END_SLOW : END_FAST;
    fill_pattern();
    for (uint32_t n = 1; n <= end; n++) {
        pvh_puts("count ");
        pvh_put_dec(n);
        pvh_putc('\n');
        if (ask && n == SNAP_AT)
            pvh_snapshot();
        if (slow)
            pause_a_while();
    }
    pvh_puts(pattern_ok() ? "memory ok\n" : "memory BAD\n");
    pvh_puts("done\n");
    pvh_exit(33);
}
