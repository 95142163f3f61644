/* The extracted-kernel cache: <dir>/vmlinux-<sha256 of the vmlinuz>, where
 * dir is $XDG_CACHE_HOME/pvhboot (or ~/.cache/pvhboot). A hit needs a regular
 * file of exactly the size the payload's trailer announces; a miss extracts
 * and publishes the file atomically (mkstemp in the same directory, rename).
 * A stat-<identity> symlink per vmlinuz lets repeated lookups skip the hash. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pvhboot/extract.h"
#include "pvhboot/file.h"
#include "pvhboot/sha256.h"

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

/* The cache is trusted only when nobody else can plant entries in it: an
 * existing directory must be ours and not group- or world-writable. */
static int check_dir_private(const char *dir, struct pvh_error *err)
{
    struct stat st;
    if (stat(dir, &st) != 0)
        return errno == ENOENT ? 0 : pvh_fail(err, PVH_E_SYSTEM, "%s: %s", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return pvh_fail(err, PVH_E_SYSTEM, "%s: cache path is not a directory", dir);
    if (st.st_uid != geteuid() || (st.st_mode & 022))
        return pvh_fail(err, PVH_E_SYSTEM, "%s: cache directory is owned by another user or writable by others; "
                        "fix its permissions (chmod 700) or set XDG_CACHE_HOME", dir);
    return 0;
}

/* mkdir -p with mode 0700 for the parts that do not exist yet. */
static int make_dirs(const char *dir, struct pvh_error *err)
{
    char path[4096];
    size_t len = strlen(dir);
    if (len == 0 || len >= sizeof(path))
        return pvh_fail(err, PVH_E_SYSTEM, "%s: bad cache directory path", dir);
    memcpy(path, dir, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        char saved = path[i];
        path[i] = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST)
            return pvh_fail(err, PVH_E_SYSTEM, "%s: cannot create cache directory: %s", path, strerror(errno));
        path[i] = saved;
    }
    return check_dir_private(dir, err);
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Writes data to final_path through a temporary file in the same directory. */
static int publish(const char *dir, const char *final_path, const uint8_t *data, size_t len,
                   struct pvh_error *err)
{
    char tmp[4096];
    int n = snprintf(tmp, sizeof(tmp), "%s/.tmp-vmlinux-XXXXXX", dir);
    if (n < 0 || (size_t)n >= sizeof(tmp))
        return pvh_fail(err, PVH_E_SYSTEM, "%s: cache path too long", dir);
    int fd = mkstemp(tmp);
    if (fd < 0)
        return pvh_fail(err, PVH_E_SYSTEM, "%s: cannot create a file in the cache: %s", dir, strerror(errno));
    int bad = write_all(fd, data, len) != 0;
    int e = errno;
    if (close(fd) != 0 && !bad) {
        bad = 1;
        e = errno;
    }
    if (!bad && rename(tmp, final_path) != 0) {
        bad = 1;
        e = errno;
    }
    if (bad) {
        unlink(tmp);
        return pvh_fail(err, PVH_E_SYSTEM, "%s: cannot write the cached kernel: %s", final_path, strerror(e));
    }
    return 0;
}

static int cache_valid(const char *path, uint32_t want_size)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
           (uint64_t)st.st_size == want_size;
}

static int cached_path(const char *dir, const struct pvh_file *f, char *out, size_t cap,
                       struct pvh_error *err)
{
    char hex[2 * PVH_SHA256_SIZE + 1];
    pvh_sha256_hex(f->data, f->size, hex);
    int n = snprintf(out, cap, "%s/vmlinux-%s", dir, hex);
    if (n < 0 || (size_t)n >= cap)
        return pvh_fail(err, PVH_E_SYSTEM, "%s: cache path does not fit %zu bytes", dir, cap);
    return 0;
}

static int fill_cache(const struct pvh_file *f, const char *dir, const char *path,
                      struct pvh_error *err)
{
    uint8_t *elf;
    size_t elf_len;
    if (pvh_vmlinuz_extract(f->data, f->size, f->path, PVH_EXTRACT_MAX_DEFAULT, &elf, &elf_len, err) != 0)
        return -1;
    int rc = pvh_file_check(f, err); /* never publish what a changing file gave */
    if (rc == 0)
        rc = make_dirs(dir, err);
    if (rc == 0)
        rc = publish(dir, path, elf, elf_len, err);
    free(elf);
    return rc;
}

/* <dir>/stat-<dev>-<ino>-<size>-<mtime>-<ctime>: the vmlinuz's identity as
 * the file system reports it (ctime changes with every content change, and
 * cannot be set back by users). A symlink by that name to the cache entry
 * lets a lookup skip hashing the vmlinuz. */
static int stat_link_path(const char *dir, int fd, char *out, size_t cap)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return -1;
    int n = snprintf(out, cap, "%s/stat-%llx-%llx-%llx-%lld.%09ld-%lld.%09ld", dir,
                     (unsigned long long)st.st_dev, (unsigned long long)st.st_ino,
                     (unsigned long long)st.st_size, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
                     (long long)st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

static bool stat_link_hit(const char *link, const char *dir, uint32_t want_size,
                          char *out_path, size_t out_cap)
{
    char target[128];
    ssize_t n = readlink(link, target, sizeof(target) - 1);
    if (n != (ssize_t)strlen("vmlinux-") + 2 * PVH_SHA256_SIZE)
        return false;
    target[n] = '\0';
    if (strncmp(target, "vmlinux-", 8) != 0 || strspn(target + 8, "0123456789abcdef") != 2 * PVH_SHA256_SIZE)
        return false;
    int m = snprintf(out_path, out_cap, "%s/%s", dir, target);
    return m > 0 && (size_t)m < out_cap && cache_valid(out_path, want_size);
}

/* Best effort: a failure only costs the next lookup a hash. */
static void remember_stat(const char *link, const char *entry_path)
{
    const char *base = strrchr(entry_path, '/');
    char tmp[4200];
    int n = snprintf(tmp, sizeof(tmp), "%s.tmp%ld", link, (long)getpid());
    if (!base || n < 0 || (size_t)n >= sizeof(tmp))
        return;
    unlink(tmp);
    if (symlink(base + 1, tmp) == 0 && rename(tmp, link) != 0)
        unlink(tmp);
}

static int lookup(const struct pvh_file *f, const char *dir, char *out_path, size_t out_cap,
                  bool *hit, struct pvh_error *err)
{
    struct pvh_vmlinuz_info info;
    if (pvh_vmlinuz_inspect(f->data, f->size, f->path, &info, err) != 0 || check_dir_private(dir, err) != 0)
        return -1;
    char link[4096];
    bool have_link = stat_link_path(dir, f->fd, link, sizeof(link)) == 0;
    if (have_link && stat_link_hit(link, dir, info.uncompressed_size, out_path, out_cap)) {
        *hit = true;
        return 0;
    }
    if (cached_path(dir, f, out_path, out_cap, err) != 0)
        return -1;
    if (cache_valid(out_path, info.uncompressed_size))
        *hit = true;
    else if (fill_cache(f, dir, out_path, err) != 0)
        return -1;
    if (pvh_file_check(f, err) != 0) /* the hash may be of a changing file: link nothing to it */
        return -1;
    if (have_link)
        remember_stat(link, out_path);
    return 0;
}

int pvh_vmlinuz_cached_elf(const char *vmlinuz_path, const char *cache_dir,
                           char *out_path, size_t out_cap, bool *hit,
                           struct pvh_error *err)
{
    *hit = false;
    char dir[4096];
    if (cache_dir) {
        if (snprintf(dir, sizeof(dir), "%s", cache_dir) >= (int)sizeof(dir))
            return pvh_fail(err, PVH_E_SYSTEM, "cache directory path too long");
    } else if (pvh_cache_dir(dir, sizeof(dir), err) != 0) {
        return -1;
    }
    struct pvh_file f;
    if (pvh_file_open(&f, vmlinuz_path, err) != 0)
        return -1;
    int rc = lookup(&f, dir, out_path, out_cap, hit, err);
    if (pvh_file_check(&f, err)) /* also when lookup failed: the zeros of a shrunk file mislead */
        rc = -1;
    pvh_file_close(&f);
    return rc;
}
