/* Read-only file mappings for kernel images and modules, with the checks
 * every input file gets (exists, regular, not empty) and one-line errors. */
#ifndef PVHBOOT_FILE_H
#define PVHBOOT_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "pvhboot/error.h"

struct pvh_file {
    const char *path;
    int fd;               /* kept open: the VMM maps segments from it */
    const uint8_t *data;  /* PROT_READ, MAP_PRIVATE mapping of the whole file */
    size_t size;
};

/* Opens and maps path read-only: 0, or -1 with err naming the file and why
 * (missing, a directory, not a regular file, empty). */
int pvh_file_open(struct pvh_file *f, const char *path, struct pvh_error *err);
/* Unmaps and closes; safe on a pvh_file whose open failed. */
void pvh_file_close(struct pvh_file *f);

#endif
