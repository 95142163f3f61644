/* The extracted-kernel cache: <dir>/vmlinux-<sha256 of the vmlinuz>, where
 * dir is $XDG_CACHE_HOME/pvhboot (or ~/.cache/pvhboot), opened by
 * cache_dir.c; every name below is used relative to that directory's fd. A
 * hit needs a regular file of exactly the size the payload's trailer
 * announces, and has its mtime set to now (the LRU order of cache_evict.c);
 * a miss extracts in the sandboxed child (child.c) and publishes the file
 * atomically (a new temporary name in the same directory, renameat). A
 * stat-<identity> symlink per vmlinuz lets repeated lookups skip the hash. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "codec.h"
#include "pvhboot/extract.h"
#include "pvhboot/file.h"
#include "pvhboot/sha256.h"

#define ENTRY_NAME_MAX 128
#define LINK_NAME_MAX 160

/* A size with an optional K, M, G or T suffix (binary). */
static int parse_size(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || errno || s[0] == '-' || s[0] == '+')
        return -1;
    unsigned shift = 0;
    switch (*end) {
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    case 't': case 'T': shift = 40; end++; break;
    default: break;
    }
    if (*end || v > (UINT64_MAX >> shift))
        return -1;
    *out = (uint64_t)v << shift;
    return 0;
}

int pvh_cache_max(uint64_t *max, struct pvh_error *err)
{
    const char *s = getenv("PVHBOOT_CACHE_MAX");
    *max = PVH_CACHE_MAX_DEFAULT;
    if (!s || !*s)
        return 0;
    if (parse_size(s, max) != 0)
        return pvh_fail(err, PVH_E_INPUT, "PVHBOOT_CACHE_MAX=%s: expected the cache's size limit in bytes, with an "
                        "optional K, M, G or T suffix (e.g. 2G)", s);
    return 0;
}

/* An fd on entry `name` when it is a valid one: a regular file of the size
 * the trailer announces; else -1. */
static int open_entry(int dirfd, const char *name, uint32_t want_size)
{
    int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 && (uint64_t)st.st_size == want_size)
        return fd;
    if (fd >= 0)
        close(fd);
    return -1;
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

/* A fresh temporary name: .tmp-<prefix>-<pid>-<random>. */
static void temp_name(char *out, size_t cap, const char *prefix)
{
    unsigned long long r = 0;
    if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
        r = (unsigned long long)clock() ^ ((unsigned long long)(uintptr_t)out << 16);
    snprintf(out, cap, CACHE_TMP_PREFIX "%s-%ld-%016llx", prefix, (long)getpid(), r);
}

/* Writes data to entry `name` through a temporary file in the same directory. */
static int publish(int dirfd, const char *dir, const char *name, const uint8_t *data, size_t len,
                   struct pvh_error *err)
{
    char tmp[96];
    int fd = -1;
    for (int tries = 0; fd < 0 && tries < 8; tries++) {
        temp_name(tmp, sizeof(tmp), "vmlinux");
        fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    if (fd < 0)
        return pvh_fail(err, PVH_E_SYSTEM, "%s: cannot create a file in the cache: %s", dir, strerror(errno));
    int bad = write_all(fd, data, len) != 0;
    int e = errno;
    if (close(fd) != 0 && !bad) {
        bad = 1;
        e = errno;
    }
    if (!bad && renameat(dirfd, tmp, dirfd, name) != 0) {
        bad = 1;
        e = errno;
    }
    if (bad) {
        unlinkat(dirfd, tmp, 0);
        return pvh_fail(err, PVH_E_SYSTEM, "%s/%s: cannot write the cached kernel: %s", dir, name, strerror(e));
    }
    return 0;
}

/* stat-<dev>-<ino>-<size>-<mtime>-<ctime>: the vmlinuz's identity as the
 * file system reports it (ctime changes with every content change, and
 * cannot be set back by users). A symlink by that name to the cache entry
 * lets a lookup skip hashing the vmlinuz. */
static int stat_link_name(int fd, char *out, size_t cap)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return -1;
    int n = snprintf(out, cap, CACHE_LINK_PREFIX "%llx-%llx-%llx-%lld.%09ld-%lld.%09ld",
                     (unsigned long long)st.st_dev, (unsigned long long)st.st_ino,
                     (unsigned long long)st.st_size, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
                     (long long)st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

/* The entry a stat- link names, when it is one and valid: its fd, else -1. */
static int stat_link_hit(int dirfd, const char *link, uint32_t want_size, char *entry, size_t cap)
{
    char target[128];
    ssize_t n = readlinkat(dirfd, link, target, sizeof(target) - 1);
    if (n != (ssize_t)(strlen(CACHE_ENTRY_PREFIX) + 2 * PVH_SHA256_SIZE))
        return -1;
    target[n] = '\0';
    if (strncmp(target, CACHE_ENTRY_PREFIX, strlen(CACHE_ENTRY_PREFIX)) != 0 ||
        strspn(target + strlen(CACHE_ENTRY_PREFIX), "0123456789abcdef") != 2 * PVH_SHA256_SIZE)
        return -1;
    int fd = open_entry(dirfd, target, want_size);
    if (fd >= 0) {
        snprintf(entry, cap, "%s", target);
        utimensat(dirfd, link, NULL, AT_SYMLINK_NOFOLLOW); /* the link's own LRU order */
    }
    return fd;
}

/* Best effort: a failure only costs the next lookup a hash. */
static void remember_stat(int dirfd, const char *link, const char *entry)
{
    char tmp[96];
    temp_name(tmp, sizeof(tmp), "stat");
    if (symlinkat(entry, dirfd, tmp) == 0 && renameat(dirfd, tmp, dirfd, link) != 0)
        unlinkat(dirfd, tmp, 0);
}

static int entry_name_of(const struct pvh_file *f, char *out, size_t cap)
{
    char hex[2 * PVH_SHA256_SIZE + 1];
    pvh_sha256_hex(f->data, f->size, hex);
    return snprintf(out, cap, CACHE_ENTRY_PREFIX "%s", hex) < (int)cap ? 0 : -1;
}

/* The miss: extract in the sandboxed child, publish, open the new entry. */
static int fill(const struct pvh_file *f, const struct pvh_vmlinuz_info *info,
                const struct pvh_extract_sandbox *sb, int dirfd, const char *dir, const char *name,
                struct pvh_error *err)
{
    uint8_t *map;
    size_t map_len, len;
    if (extract_sandboxed(f->data + info->payload_offset, info->payload_length, f->path, info->payload_offset,
                          PVH_EXTRACT_MAX_DEFAULT, sb, &map, &map_len, &len, err) != 0)
        return -1;
    int rc = pvh_file_check(f, err); /* never publish what a changing file gave */
    if (rc == 0)
        rc = publish(dirfd, dir, name, map, len, err);
    munmap(map, map_len);
    if (rc != 0)
        return -1;
    int fd = open_entry(dirfd, name, info->uncompressed_size);
    return fd >= 0 ? fd : pvh_fail(err, PVH_E_SYSTEM, "%s/%s: the cached kernel vanished after writing", dir, name);
}

/* The entry for f, found or made: its fd, with res->hit and entry set. */
static int find_or_fill(const struct pvh_cache_request *req, const struct pvh_file *f, int dirfd, const char *dir,
                        char *entry, size_t cap, struct pvh_cache_result *res, struct pvh_error *err)
{
    struct pvh_vmlinuz_info info;
    if (pvh_vmlinuz_inspect(f->data, f->size, f->path, &info, err) != 0)
        return -1;
    char link[LINK_NAME_MAX];
    bool have_link = stat_link_name(f->fd, link, sizeof(link)) == 0;
    int fd = have_link ? stat_link_hit(dirfd, link, info.uncompressed_size, entry, cap) : -1;
    if (fd >= 0) {
        res->hit = true;
        return fd;
    }
    if (entry_name_of(f, entry, cap) != 0)
        return pvh_fail(err, PVH_E_SYSTEM, "%s: cache entry name too long", dir);
    fd = open_entry(dirfd, entry, info.uncompressed_size);
    res->hit = fd >= 0;
    if (fd < 0 && (fd = fill(f, &info, req->sandbox, dirfd, dir, entry, err)) < 0)
        return -1;
    if (pvh_file_check(f, err) != 0) { /* the hash may be of a changing file: link nothing to it */
        close(fd);
        return -1;
    }
    if (have_link)
        remember_stat(dirfd, link, entry);
    return fd;
}

static int lookup_in(const struct pvh_cache_request *req, const struct pvh_file *f, uint64_t max,
                     struct pvh_cache_result *res, struct pvh_error *err)
{
    char dir[4096], entry[ENTRY_NAME_MAX];
    int dirfd;
    if (cache_dir_open(req->cache_dir, &dirfd, dir, sizeof(dir), err) != 0)
        return -1;
    int fd = find_or_fill(req, f, dirfd, dir, entry, sizeof(entry), res, err);
    if (fd >= 0 && snprintf(res->path, sizeof(res->path), "%s/%s", dir, entry) >= (int)sizeof(res->path)) {
        close(fd);
        fd = pvh_fail(err, PVH_E_SYSTEM, "%s: cache path too long", dir);
    }
    if (fd >= 0) {
        if (res->hit)
            futimens(fd, NULL); /* most recently used: mtime = now */
        res->evicted = cache_evict(dirfd, max, entry);
        res->fd = fd;
    }
    close(dirfd);
    return fd >= 0 ? 0 : -1;
}

int pvh_vmlinuz_cache_lookup(const struct pvh_cache_request *req, struct pvh_cache_result *res,
                             struct pvh_error *err)
{
    memset(res, 0, sizeof(*res));
    res->fd = -1;
    uint64_t max = req->cache_max;
    if (max == 0 && pvh_cache_max(&max, err) != 0)
        return -1;
    struct pvh_file f;
    if (pvh_file_open(&f, req->vmlinuz, err) != 0)
        return -1;
    int rc = lookup_in(req, &f, max, res, err);
    if (pvh_file_check(&f, err) != 0) { /* also when lookup failed: the zeros of a shrunk file mislead */
        if (rc == 0)
            close(res->fd);
        res->fd = -1;
        rc = -1;
    }
    pvh_file_close(&f);
    return rc;
}

int pvh_vmlinuz_cached_elf(const char *vmlinuz_path, const char *cache_dir,
                           char *out_path, size_t out_cap, bool *hit,
                           struct pvh_error *err)
{
    struct pvh_cache_request req = {.vmlinuz = vmlinuz_path, .cache_dir = cache_dir};
    struct pvh_cache_result res;
    *hit = false;
    if (pvh_vmlinuz_cache_lookup(&req, &res, err) != 0)
        return -1;
    close(res.fd);
    *hit = res.hit;
    if (snprintf(out_path, out_cap, "%s", res.path) >= (int)out_cap)
        return pvh_fail(err, PVH_E_SYSTEM, "%s: cache path does not fit %zu bytes", res.path, out_cap);
    return 0;
}
