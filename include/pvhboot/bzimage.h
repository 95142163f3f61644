/* Linux bzImage recognition: the x86 boot protocol header ("HdrS" at 0x202)
 * and where the compressed kernel payload sits in the file. */
#ifndef PVHBOOT_BZIMAGE_H
#define PVHBOOT_BZIMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "pvhboot/error.h"

struct pvh_bzimage_info {
    uint16_t protocol;        /* boot protocol version, e.g. 0x020f */
    uint8_t setup_sects;      /* 0 in the header means 4 */
    uint64_t payload_offset;  /* compressed payload: offset in the file ... */
    uint64_t payload_length;  /* ... and its length (0 when protocol < 2.08) */
};

/* 1 when data starts with a bzImage boot header (info filled), 0 when not,
 * -1 when it does but the payload fields point outside the file (err set). */
int pvh_bzimage_probe(const uint8_t *data, size_t size, const char *name,
                      struct pvh_bzimage_info *info, struct pvh_error *err);

#endif
