/* pvh_file_open/close: map an input file read-only after checking that it is
 * a non-empty regular file. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pvhboot/file.h"

int pvh_file_open(struct pvh_file *f, const char *path, struct pvh_error *err)
{
    memset(f, 0, sizeof(*f));
    f->fd = -1;
    f->path = path;
    f->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (f->fd < 0)
        return pvh_fail(err, PVH_E_INPUT, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(f->fd, &st) != 0) {
        int e = errno;
        pvh_file_close(f);
        return pvh_fail(err, PVH_E_INPUT, "%s: %s", path, strerror(e));
    }
    if (S_ISDIR(st.st_mode)) {
        pvh_file_close(f);
        return pvh_fail(err, PVH_E_INPUT, "%s: is a directory, not a kernel image or module file", path);
    }
    if (!S_ISREG(st.st_mode)) {
        pvh_file_close(f);
        return pvh_fail(err, PVH_E_INPUT, "%s: not a regular file", path);
    }
    if (st.st_size == 0) {
        pvh_file_close(f);
        return pvh_fail(err, PVH_E_INPUT, "%s: empty file", path);
    }
    f->size = (size_t)st.st_size;
    void *p = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, f->fd, 0);
    if (p == MAP_FAILED) {
        int e = errno;
        pvh_file_close(f);
        return pvh_fail(err, PVH_E_SYSTEM, "%s: cannot map %zu bytes: %s", path, (size_t)st.st_size, strerror(e));
    }
    f->data = p;
    return 0;
}

void pvh_file_close(struct pvh_file *f)
{
    if (f->data)
        munmap((void *)f->data, f->size);
    if (f->fd >= 0)
        close(f->fd);
    f->data = NULL;
    f->fd = -1;
}
