/* Read-only file mappings for kernel images and modules, with the checks
 * every input file gets (exists, regular, not empty) and one-line errors.
 * The mapping is registered with the SIGBUS guard (pvhboot/mapguard.h): a
 * file that shrinks while it is read gives zeros, not a crash, and
 * pvh_file_check says so afterwards. */
#ifndef PVHBOOT_FILE_H
#define PVHBOOT_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "pvhboot/error.h"

struct pvh_file {
    const char *path;
    int fd;               /* kept open: the VMM maps segments from it */
    const uint8_t *data;  /* PROT_READ, MAP_PRIVATE mapping of the whole file */
    size_t size;
    struct timespec ctime; /* at open: any later write, truncation or extension changes it */
};

/* Opens and maps path read-only: 0, or -1 with err naming the file and why
 * (missing, a directory, not a regular file, empty). */
int pvh_file_open(struct pvh_file *f, const char *path, struct pvh_error *err);
/* Unmaps and closes; safe on a pvh_file whose open failed. */
void pvh_file_close(struct pvh_file *f);

/* Whether f is still what was opened, after reading it: 0 when no page of
 * its mapping went missing and fstat gives the size and ctime of the open;
 * else -1 with err "PATH: the file changed (truncated?) while pvhboot was
 * reading it" (PVH_E_INPUT). A caller whose reading failed asks this first:
 * the zeros of a shrunk file make a misleading diagnosis. */
int pvh_file_check(const struct pvh_file *f, struct pvh_error *err);

#endif
