/* The host side of the API's ops for the CLI: a file a body names must be
 * readable (and writable for a writable drive) now, as Firecracker checks
 * at PUT time; the logger's and metrics' files (or FIFOs) are opened for
 * appending without blocking; a config file is read whole and applied
 * through the endpoints. */
#include "api_host.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_CONFIG_FILE (1 << 20)

int api_host_check_file(void *ctx, const char *path, bool want_write, struct pvh_error *err)
{
    (void)ctx;
    if (access(path, want_write ? R_OK | W_OK : R_OK))
        return pvh_fail(err, PVH_E_INPUT, "%s: %s", path, strerror(errno));
    return 0;
}

int api_host_open_output(void *ctx, const char *path, struct pvh_error *err)
{
    (void)ctx;
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NONBLOCK | O_CLOEXEC, 0600);
    if (fd < 0)
        return pvh_fail(err, PVH_E_INPUT, "%s: %s", path, strerror(errno));
    return fd;
}

static char *read_small_file(const char *path, size_t *len, struct pvh_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st)) {
        pvh_fail(err, PVH_E_INPUT, "%s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    char *buf = S_ISREG(st.st_mode) && st.st_size <= MAX_CONFIG_FILE ? malloc((size_t)st.st_size + 1) : NULL;
    ssize_t n = buf ? read(fd, buf, (size_t)st.st_size) : -1;
    close(fd);
    if (n != st.st_size) {
        free(buf);
        pvh_fail(err, PVH_E_INPUT, "%s: not a readable file of at most 1 MiB", path);
        return NULL;
    }
    *len = (size_t)n;
    return buf;
}

int api_host_load_config_file(struct pvh_api *api, const char *path, struct pvh_error *err)
{
    size_t len;
    char *json = read_small_file(path, &len, err);
    if (!json)
        return -1;
    struct pvh_error inner = {0};
    int rc = pvh_api_load_config(api, json, len, &inner);
    free(json);
    return rc ? pvh_fail(err, PVH_E_INPUT, "--config-file %s: %s", path, inner.msg) : 0;
}
