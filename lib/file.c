/* pvh_file_open/close: map an input file read-only after checking that it is
 * a non-empty regular file, its mapping guarded against the file shrinking
 * (mapguard.h); pvh_file_check: did it change while we read it. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pvhboot/file.h"
#include "pvhboot/mapguard.h"

static int fail_closing(struct pvh_file *f, struct pvh_error *err, enum pvh_errcode code, const char *what, int e)
{
    pvh_file_close(f);
    return pvh_fail(err, code, "%s: %s", f->path, what ? what : strerror(e));
}

int pvh_file_open(struct pvh_file *f, const char *path, struct pvh_error *err)
{
    memset(f, 0, sizeof(*f));
    f->path = path;
    f->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (f->fd < 0)
        return pvh_fail(err, PVH_E_INPUT, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(f->fd, &st) != 0)
        return fail_closing(f, err, PVH_E_INPUT, NULL, errno);
    if (S_ISDIR(st.st_mode))
        return fail_closing(f, err, PVH_E_INPUT, "is a directory, not a kernel image or module file", 0);
    if (!S_ISREG(st.st_mode))
        return fail_closing(f, err, PVH_E_INPUT, "not a regular file", 0);
    if (st.st_size == 0)
        return fail_closing(f, err, PVH_E_INPUT, "empty file", 0);
    f->size = (size_t)st.st_size;
    f->ctime = st.st_ctim;
    void *p = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, f->fd, 0);
    if (p == MAP_FAILED) {
        int e = errno;
        pvh_file_close(f);
        return pvh_fail(err, PVH_E_SYSTEM, "%s: cannot map %zu bytes: %s", path, (size_t)st.st_size, strerror(e));
    }
    if (pvh_mapguard_add(p, f->size, PROT_READ, path, err) != 0) {
        munmap(p, f->size);
        pvh_file_close(f);
        return -1;
    }
    f->data = p;
    return 0;
}

void pvh_file_close(struct pvh_file *f)
{
    if (f->data) {
        pvh_mapguard_remove(f->data, f->size);
        munmap((void *)f->data, f->size);
    }
    if (f->fd >= 0)
        close(f->fd);
    f->data = NULL;
    f->fd = -1;
}

int pvh_file_check(const struct pvh_file *f, struct pvh_error *err)
{
    struct stat st;
    bool lost_pages = f->data && pvh_mapguard_changed(f->data, f->size);
    if (!lost_pages && fstat(f->fd, &st) == 0 && (uint64_t)st.st_size == f->size &&
        st.st_ctim.tv_sec == f->ctime.tv_sec && st.st_ctim.tv_nsec == f->ctime.tv_nsec)
        return 0;
    return pvh_fail(err, PVH_E_INPUT, "%s: the file changed (truncated?) while pvhboot was reading it", f->path);
}
