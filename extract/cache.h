/* Internal interface between the cache lookup (cache.c), the safe opening
 * of its directory (cache_dir.c) and its size limit (cache_evict.c). */
#ifndef PVHBOOT_EXTRACT_CACHE_H
#define PVHBOOT_EXTRACT_CACHE_H

#include <stdint.h>

#include "pvhboot/error.h"

#define CACHE_ENTRY_PREFIX "vmlinux-"
#define CACHE_LINK_PREFIX "stat-"
#define CACHE_TMP_PREFIX ".tmp-"

/* Opens (creating what is missing, mode 0700) the cache directory: dir, or
 * pvh_cache_dir()'s when dir is NULL. *dirfd is O_DIRECTORY; path gets the
 * directory's name for messages. The rules are in cache_dir.c. */
int cache_dir_open(const char *dir, int *dirfd, char *path, size_t cap, struct pvh_error *err);

/* Removes least recently used entries (mtime order) other than keep until
 * the entries' sizes add up to at most max, stat- links whose entry is gone
 * or that are too many, and temporary files left by a crashed run. Best
 * effort. Returns the number of entries removed. */
unsigned cache_evict(int dirfd, uint64_t max, const char *keep);

#endif
