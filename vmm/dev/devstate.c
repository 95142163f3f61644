/* The framing of the legacy devices' saved state (devstate.h): room and
 * version byte on save, version and length checks on restore, and the one
 * shape of their error lines ("uart8250 state: ..."). */
#include "devstate.h"

#include <stdarg.h>
#include <stdio.h>

int pvh_devstate_begin(const char *dev, uint8_t version, uint8_t *buf, size_t cap, size_t need,
                       struct pvh_error *err)
{
    if (cap < need)
        return pvh_fail(err, PVH_E_SYSTEM, "%s state: needs %zu bytes, the buffer holds %zu", dev, need, cap);
    buf[0] = version;
    return 0;
}

int pvh_devstate_open(const char *dev, uint8_t version, const uint8_t *buf, size_t len, size_t min,
                      struct pvh_error *err)
{
    if (len == 0)
        return pvh_fail(err, PVH_E_INPUT, "%s state: empty", dev);
    if (buf[0] != version)
        return pvh_fail(err, PVH_E_INPUT, "%s state: version %u, this pvhboot restores version %u", dev, buf[0],
                        version);
    if (len < min)
        return pvh_fail(err, PVH_E_INPUT, "%s state: truncated: %zu bytes, expected at least %zu", dev, len, min);
    return 0;
}

int pvh_devstate_length(const char *dev, size_t len, size_t want, struct pvh_error *err)
{
    if (len != want)
        return pvh_fail(err, PVH_E_INPUT, "%s state: %zu bytes, expected %zu", dev, len, want);
    return 0;
}

int pvh_devstate_bad(struct pvh_error *err, const char *dev, const char *fmt, ...)
{
    char where[64];
    snprintf(where, sizeof(where), "%s state", dev);
    va_list ap;
    va_start(ap, fmt);
    int rc = pvh_vfail_at(err, PVH_E_INPUT, where, fmt, ap);
    va_end(ap);
    return rc;
}
