/* snapnow: asks pvhboot for a snapshot from inside a Linux guest (issue 16's
 * tiny static program): a 32-bit OUT of 0x50414e53 ("SNAP") to port 0x5f4,
 * which pvhboot honours with --snapshot-on-port (include/pvhboot/layout.h).
 * With it, pvhboot writes the snapshot and ends (or runs on with
 * --snapshot-continue); a restore resumes right after the OUT, so this
 * program then returns 0 in the restored guest. Without the option the port
 * is unclaimed and the OUT does nothing. Needs root (ioperm). Static:
 *   cc -static -O2 -o snapnow tests/lib/snapnow.c */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/io.h>

#define SNAPSHOT_PORT 0x5f4
#define SNAPSHOT_MAGIC 0x50414e53u

int main(void)
{
    if (ioperm(SNAPSHOT_PORT, 4, 1) != 0) {
        fprintf(stderr, "snapnow: ioperm(0x%x): %s (root needed)\n", SNAPSHOT_PORT, strerror(errno));
        return 1;
    }
    outl(SNAPSHOT_MAGIC, SNAPSHOT_PORT);
    return 0;
}
