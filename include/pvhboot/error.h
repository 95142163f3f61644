/* Errors as values: every library call that can fail fills a struct pvh_error
 * (a code and a one-line message) and returns -1. Only the CLI prints. */
#ifndef PVHBOOT_ERROR_H
#define PVHBOOT_ERROR_H

#include <stdarg.h>

enum pvh_errcode {
    PVH_OK = 0,
    PVH_E_INPUT,   /* unusable input (kernel image, module, option): exit 2 */
    PVH_E_NOFIT,   /* the guest layout cannot be built with these sizes */
    PVH_E_SYSTEM,  /* a host call failed (open, mmap, ioctl...) */
    PVH_E_GUEST,   /* the guest did something the VMM refuses */
};

struct pvh_error {
    enum pvh_errcode code;
    char msg[512];
};

/* Sets *err (if non-NULL) from a printf-style message; always returns -1. */
int pvh_fail(struct pvh_error *err, enum pvh_errcode code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* As pvh_fail, the message prefixed by "where: " (a file's name, "state
 * file", "i8042 state"): the one-line error of a reader of some input. */
int pvh_fail_at(struct pvh_error *err, enum pvh_errcode code, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* pvh_fail_at with the arguments as a va_list (for a reader's own
 * prefixing helper). */
int pvh_vfail_at(struct pvh_error *err, enum pvh_errcode code, const char *where, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

#endif
