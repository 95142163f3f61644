/* Opening the cache directory so that nobody else can choose where pvhboot
 * writes. The base, $XDG_CACHE_HOME or $HOME (or the parent of an explicit
 * directory), is taken as the environment gives it (created when missing).
 * Below it each component is opened with openat(O_NOFOLLOW | O_DIRECTORY)
 * relative to the one before (made with mkdirat 0700 when missing):
 *   - the last one (pvhboot) must be a real directory, never a symlink;
 *   - one in between (.cache) may be a symlink only when the effective user
 *     owns it and the directory holding it belongs to that user or root and
 *     is not group/world writable, so nobody else planted it or can swap it
 *     (~/.cache -> /data/cache stays usable; alice's link in her home does
 *     not steer a root run with her HOME);
 * and the directory reached must be owned by the effective user (as root:
 * root) and not group/world writable (checked with fstat on the fd). Every
 * later operation is relative to the fd. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache.h"
#include "pvhboot/extract.h"

#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_CLOEXEC)

int pvh_cache_dir(char *buf, size_t cap, struct pvh_error *err)
{
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    int n;
    if (xdg && xdg[0] == '/')
        n = snprintf(buf, cap, "%s/pvhboot", xdg);
    else if (home && home[0] == '/')
        n = snprintf(buf, cap, "%s/.cache/pvhboot", home);
    else
        return pvh_fail(err, PVH_E_SYSTEM, "no cache directory: neither XDG_CACHE_HOME nor HOME is an "
                        "absolute path; set XDG_CACHE_HOME");
    if (n < 0 || (size_t)n >= cap)
        return pvh_fail(err, PVH_E_SYSTEM, "cache directory path too long");
    return 0;
}

/* Splits the cache directory into the base taken as given and the
 * components below it: ("$XDG", "pvhboot"), ("$HOME", ".cache/pvhboot"),
 * or (dirname, basename) of an explicit directory. */
static int split_path(const char *dir, char *base, char *rel, size_t cap, struct pvh_error *err)
{
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (!dir) {
        const char *b = xdg && xdg[0] == '/' ? xdg : home && home[0] == '/' ? home : NULL;
        if (!b)
            return pvh_cache_dir(base, cap, err);
        int n = snprintf(base, cap, "%s", b);
        snprintf(rel, cap, "%s", b == xdg ? "pvhboot" : ".cache/pvhboot");
        return n < 0 || (size_t)n >= cap ? pvh_fail(err, PVH_E_SYSTEM, "cache directory path too long") : 0;
    }
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/')
        len--;
    if (dir[0] != '/' || len < 2 || len >= cap)
        return pvh_fail(err, PVH_E_SYSTEM, "%s: the cache directory must be an absolute path below /", dir);
    const char *slash = memrchr(dir, '/', len);
    size_t base_len = slash == dir ? 1 : (size_t)(slash - dir);
    memcpy(base, dir, base_len);
    base[base_len] = '\0';
    memcpy(rel, slash + 1, len - (size_t)(slash + 1 - dir));
    rel[len - (size_t)(slash + 1 - dir)] = '\0';
    return 0;
}

/* mkdir -p for the base, which is taken as given (symlinks followed). */
static int open_base(const char *base, struct pvh_error *err)
{
    int fd = open(base, DIR_FLAGS);
    if (fd >= 0 || errno != ENOENT)
        return fd >= 0 ? fd : pvh_fail(err, PVH_E_SYSTEM, "%s: %s", base, strerror(errno));
    char path[4096];
    size_t len = strlen(base);
    if (len >= sizeof(path))
        return pvh_fail(err, PVH_E_SYSTEM, "%s: cache directory path too long", base);
    memcpy(path, base, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        char saved = path[i];
        path[i] = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST)
            return pvh_fail(err, PVH_E_SYSTEM, "%s: cannot create cache directory: %s", path, strerror(errno));
        path[i] = saved;
    }
    fd = open(base, DIR_FLAGS);
    return fd >= 0 ? fd : pvh_fail(err, PVH_E_SYSTEM, "%s: %s", base, strerror(errno));
}

/* Only the effective user (or root) can have made, or can replace, the
 * symlink `name` in `parent`: then following it is that user's own choice. */
static bool symlink_is_ours(int parent, const struct stat *link)
{
    struct stat dir;
    uid_t me = geteuid();
    return link->st_uid == me && fstat(parent, &dir) == 0 && (dir.st_uid == me || dir.st_uid == 0) &&
           (dir.st_mode & 022) == 0;
}

static int refuse_symlink(const char *path, const struct stat *link, bool last, struct pvh_error *err)
{
    if (last)
        return pvh_fail(err, PVH_E_SYSTEM, "%s: the cache directory is a symlink; pvhboot does not follow one there: "
                        "remove it, or set XDG_CACHE_HOME to the real directory's parent", path);
    return pvh_fail(err, PVH_E_SYSTEM, "%s: a symlink owned by uid %u, or in a directory others can change; pvhboot "
                    "(uid %u) follows only its own there: set XDG_CACHE_HOME to a directory of its own",
                    path, (unsigned)link->st_uid, (unsigned)geteuid());
}

/* Opens component `name` of the cache path below `parent`; path names it. */
static int open_component(int parent, const char *name, const char *path, bool last, struct pvh_error *err)
{
    int fd = openat(parent, name, DIR_FLAGS | O_NOFOLLOW);
    if (fd < 0 && errno == ENOENT) {
        if (mkdirat(parent, name, 0700) != 0 && errno != EEXIST)
            return pvh_fail(err, PVH_E_SYSTEM, "%s: cannot create cache directory: %s", path, strerror(errno));
        fd = openat(parent, name, DIR_FLAGS | O_NOFOLLOW);
    }
    if (fd >= 0)
        return fd;
    int e = errno;
    struct stat st;
    if ((e == ELOOP || e == ENOTDIR) && fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
        if (last || !symlink_is_ours(parent, &st))
            return refuse_symlink(path, &st, last, err);
        fd = openat(parent, name, DIR_FLAGS);
        if (fd >= 0)
            return fd;
        e = errno;
    }
    if (e == ENOTDIR)
        return pvh_fail(err, PVH_E_SYSTEM, "%s: cache path is not a directory", path);
    return pvh_fail(err, PVH_E_SYSTEM, "%s: %s", path, strerror(e));
}

/* The cache is trusted only when nobody else can plant entries in it. */
static int check_private(int fd, const char *path, struct pvh_error *err)
{
    struct stat st;
    uid_t me = geteuid();
    if (fstat(fd, &st) != 0)
        return pvh_fail(err, PVH_E_SYSTEM, "%s: %s", path, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return pvh_fail(err, PVH_E_SYSTEM, "%s: cache path is not a directory", path);
    if (st.st_uid != me && me == 0)
        return pvh_fail(err, PVH_E_SYSTEM, "%s: the cache directory belongs to uid %u, not root; as root pvhboot "
                        "uses only a root-owned cache: set XDG_CACHE_HOME to one (e.g. /root/.cache) or run it "
                        "without sudo -E", path, (unsigned)st.st_uid);
    if (st.st_uid != me)
        return pvh_fail(err, PVH_E_SYSTEM, "%s: cache directory is owned by another user (uid %u); set "
                        "XDG_CACHE_HOME to a directory of your own", path, (unsigned)st.st_uid);
    if (st.st_mode & 022)
        return pvh_fail(err, PVH_E_SYSTEM, "%s: cache directory is writable by others (mode %03o); fix its "
                        "permissions (chmod 700) or set XDG_CACHE_HOME", path, (unsigned)(st.st_mode & 0777));
    return 0;
}

/* Walks rel below the base fd; returns the last component's fd or -1. */
static int walk(int fd, const char *base, const char *rel, char *path, size_t cap, struct pvh_error *err)
{
    char name[256];
    int n = snprintf(path, cap, "%s", base);
    while (n >= 0 && (size_t)n < cap && *rel) {
        size_t len = strcspn(rel, "/");
        if (len == 0 || len >= sizeof(name) || (len <= 2 && rel[0] == '.' && (len == 1 || rel[1] == '.'))) {
            close(fd);
            return pvh_fail(err, PVH_E_SYSTEM, "%s/%s: bad cache directory path", base, rel);
        }
        memcpy(name, rel, len);
        name[len] = '\0';
        rel += len + (rel[len] == '/');
        n += snprintf(path + n, cap - (size_t)n, "%s%s", n > 0 && path[n - 1] == '/' ? "" : "/", name);
        if (n < 0 || (size_t)n >= cap)
            break;
        int next = open_component(fd, name, path, *rel == '\0', err);
        close(fd);
        if (next < 0)
            return -1;
        fd = next;
    }
    if (n < 0 || (size_t)n >= cap) {
        close(fd);
        return pvh_fail(err, PVH_E_SYSTEM, "%s: cache directory path too long", base);
    }
    return fd;
}

int cache_dir_open(const char *dir, int *dirfd, char *path, size_t cap, struct pvh_error *err)
{
    char base[4096], rel[4096];
    *dirfd = -1;
    if (split_path(dir, base, rel, sizeof(base), err) != 0)
        return -1;
    int fd = open_base(base, err);
    if (fd < 0)
        return -1;
    fd = walk(fd, base, rel, path, cap, err);
    if (fd < 0)
        return -1;
    if (check_private(fd, path, err) != 0) {
        close(fd);
        return -1;
    }
    *dirfd = fd;
    return 0;
}
