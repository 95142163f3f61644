/* pvh_fail() and its prefixed form: the one way library code reports an error. */
#include <stdarg.h>
#include <stdio.h>

#include "pvhboot/error.h"

int pvh_fail(struct pvh_error *err, enum pvh_errcode code, const char *fmt, ...)
{
    if (!err)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    err->code = code;
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return -1;
}

int pvh_vfail_at(struct pvh_error *err, enum pvh_errcode code, const char *where, const char *fmt, va_list ap)
{
    char what[sizeof(err->msg)];
    vsnprintf(what, sizeof(what), fmt, ap);
    return pvh_fail(err, code, "%s: %s", where, what);
}

int pvh_fail_at(struct pvh_error *err, enum pvh_errcode code, const char *where, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = pvh_vfail_at(err, code, where, fmt, ap);
    va_end(ap);
    return rc;
}
