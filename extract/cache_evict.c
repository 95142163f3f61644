/* The cache's size limit. Entries (vmlinux-<64 hex digits>, regular files)
 * are ordered by mtime, which a hit sets to now: the least recently used
 * go first, until the entries' sizes (st_size) add up to the limit. The
 * entry a lookup is about to return is never removed, even when it alone is
 * over the limit. Also removed: stat-* shortcuts whose entry is gone, the
 * oldest (by their mtime, set on use) beyond MAX_LINKS, and temporary files
 * (.tmp-*) older than STALE_TMP_SECONDS, which a crashed run left. */
#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "pvhboot/sha256.h"

#define MAX_LINKS 64
#define STALE_TMP_SECONDS 3600
#define ENTRY_NAME_LEN (sizeof(CACHE_ENTRY_PREFIX) - 1 + 2 * PVH_SHA256_SIZE)

struct item {
    char name[256];
    uint64_t size;
    struct timespec mtime;
    bool gone;
};

struct list {
    struct item *v;
    size_t n, cap;
};

static bool is_entry_name(const char *name)
{
    return strlen(name) == ENTRY_NAME_LEN && strncmp(name, CACHE_ENTRY_PREFIX, sizeof(CACHE_ENTRY_PREFIX) - 1) == 0 &&
           strspn(name + sizeof(CACHE_ENTRY_PREFIX) - 1, "0123456789abcdef") == 2 * PVH_SHA256_SIZE;
}

static bool has_prefix(const char *name, const char *prefix)
{
    return strncmp(name, prefix, strlen(prefix)) == 0;
}

static int push(struct list *l, const char *name, const struct stat *st)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        struct item *v = realloc(l->v, cap * sizeof(*v));
        if (!v)
            return -1;
        l->v = v;
        l->cap = cap;
    }
    struct item *it = &l->v[l->n++];
    snprintf(it->name, sizeof(it->name), "%s", name);
    it->size = (uint64_t)st->st_size;
    it->mtime = st->st_mtim;
    it->gone = false;
    return 0;
}

static int older_first(const void *a, const void *b)
{
    const struct item *x = a, *y = b;
    if (x->mtime.tv_sec != y->mtime.tv_sec)
        return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
    if (x->mtime.tv_nsec != y->mtime.tv_nsec)
        return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : 1;
    return strcmp(x->name, y->name);
}

static bool stale_tmp(const struct stat *st)
{
    return time(NULL) - st->st_mtim.tv_sec > STALE_TMP_SECONDS;
}

/* Sorts the directory's names into entries and links; removes stale temporaries. */
static int scan(int dirfd, struct list *entries, struct list *links)
{
    int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    struct dirent *de;
    int rc = 0;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        struct stat st;
        if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        if (is_entry_name(de->d_name) && S_ISREG(st.st_mode))
            rc = push(entries, de->d_name, &st);
        else if (has_prefix(de->d_name, CACHE_LINK_PREFIX) && S_ISLNK(st.st_mode))
            rc = push(links, de->d_name, &st);
        else if (has_prefix(de->d_name, CACHE_TMP_PREFIX) && stale_tmp(&st) && !S_ISDIR(st.st_mode))
            unlinkat(dirfd, de->d_name, 0);
    }
    closedir(d);
    return rc;
}

static unsigned evict_entries(int dirfd, struct list *entries, uint64_t max, const char *keep)
{
    uint64_t total = 0;
    unsigned removed = 0;
    for (size_t i = 0; i < entries->n; i++)
        total += entries->v[i].size;
    qsort(entries->v, entries->n, sizeof(entries->v[0]), older_first);
    for (size_t i = 0; i < entries->n && total > max; i++) {
        struct item *it = &entries->v[i];
        if (keep && strcmp(it->name, keep) == 0)
            continue;
        if (unlinkat(dirfd, it->name, 0) == 0) {
            it->gone = true;
            total -= it->size;
            removed++;
        }
    }
    return removed;
}

static bool entry_alive(const struct list *entries, const char *name)
{
    for (size_t i = 0; i < entries->n; i++)
        if (!entries->v[i].gone && strcmp(entries->v[i].name, name) == 0)
            return true;
    return false;
}

static void evict_links(int dirfd, struct list *links, const struct list *entries)
{
    size_t alive = 0;
    for (size_t i = 0; i < links->n; i++) {
        char target[128];
        ssize_t n = readlinkat(dirfd, links->v[i].name, target, sizeof(target) - 1);
        target[n > 0 ? n : 0] = '\0';
        links->v[i].gone = n <= 0 || !entry_alive(entries, target);
        if (links->v[i].gone)
            unlinkat(dirfd, links->v[i].name, 0);
        else
            alive++;
    }
    qsort(links->v, links->n, sizeof(links->v[0]), older_first);
    for (size_t i = 0; i < links->n && alive > MAX_LINKS; i++)
        if (!links->v[i].gone && unlinkat(dirfd, links->v[i].name, 0) == 0)
            alive--;
}

unsigned cache_evict(int dirfd, uint64_t max, const char *keep)
{
    struct list entries = {0}, links = {0};
    unsigned removed = 0;
    if (scan(dirfd, &entries, &links) == 0) {
        removed = evict_entries(dirfd, &entries, max, keep);
        evict_links(dirfd, &links, &entries);
    }
    free(entries.v);
    free(links.v);
    return removed;
}
