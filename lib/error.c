/* pvh_fail(): the one way library code reports an error. */
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
