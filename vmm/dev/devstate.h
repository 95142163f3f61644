/* What every legacy device's saved state (pvh_dev_ops save/restore) shares:
 * a version byte first, then the device's own fields, little endian; a
 * restore checks the version, the exact length and every field's range
 * before it changes anything, and refuses with one line naming the device.
 * save and restore run with the device's lock held, as read and write do. */
#ifndef PVHBOOT_VMM_DEV_DEVSTATE_H
#define PVHBOOT_VMM_DEV_DEVSTATE_H

#include <stddef.h>
#include <stdint.h>

#include "pvhboot/error.h"

/* Room for need bytes in buf[0, cap): writes the version byte. */
int pvh_devstate_begin(const char *dev, uint8_t version, uint8_t *buf, size_t cap, size_t need,
                       struct pvh_error *err);
/* buf[0, len) is version `version` and at least min bytes long. */
int pvh_devstate_open(const char *dev, uint8_t version, const uint8_t *buf, size_t len, size_t min,
                      struct pvh_error *err);
/* len is exactly want. */
int pvh_devstate_length(const char *dev, size_t len, size_t want, struct pvh_error *err);
/* A field out of its range: "DEV state: <what>". */
int pvh_devstate_bad(struct pvh_error *err, const char *dev, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
