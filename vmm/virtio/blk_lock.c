/* Disk image locks (blk_lock.h): QEMU's lock bytes taken with F_OFD_SETLK,
 * the conflicting ones tested with F_OFD_GETLK, and on a conflict the holder
 * found through /proc so the error can name it. */
#include "blk_lock.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* QEMU's bases and permission bits (BLK_PERM_*). */
#define PERM_BASE 100
#define SHARED_BASE 200
#define PERM_READ 0
#define PERM_WRITE 1
#define PERM_RESIZE 3

static struct flock byte_lock(short type, off_t off)
{
    struct flock l;
    memset(&l, 0, sizeof(l));
    l.l_type = type;
    l.l_whence = SEEK_SET;
    l.l_start = off;
    l.l_len = 1;
    return l;
}

static void unlock_all(int fd)
{
    struct flock l = byte_lock(F_UNLCK, 0);
    l.l_len = 0; /* to the end of the file */
    (void)fcntl(fd, F_OFD_SETLK, &l);
}

/* Another open file description holds a lock on `off` that conflicts with
 * one of `type`: 1 (and, for a classic POSIX lock, *pid), 0 free, -errno. */
static int byte_taken(int fd, short type, off_t off, pid_t *pid)
{
    struct flock l = byte_lock(type, off);
    if (fcntl(fd, F_OFD_GETLK, &l))
        return -errno;
    *pid = l.l_pid;
    return l.l_type != F_UNLCK;
}

/* One "lock:" line of an fdinfo file covers byte off of (dev, ino)? Format
 * (fs/locks.c): "lock:\t1: OFDLCK ADVISORY  READ -1 fe:00:1234 100 101". */
static bool line_covers(const char *line, dev_t dev, ino_t ino, off_t off)
{
    char kind[16], end[24];
    unsigned maj, min;
    unsigned long inode;
    long long start;
    if (sscanf(line, "lock: %*d: %15s %*s %*s %*d %x:%x:%lu %lld %23s", kind, &maj, &min, &inode, &start, end) != 6)
        return false;
    if (strcmp(kind, "OFDLCK") && strcmp(kind, "POSIX"))
        return false; /* flock() and leases do not conflict with OFD locks */
    if (maj != major(dev) || min != minor(dev) || inode != (unsigned long)ino || off < start)
        return false;
    return strcmp(end, "EOF") == 0 || off <= atoll(end);
}

static bool fdinfo_covers(const char *path, dev_t dev, ino_t ino, off_t off)
{
    char buf[4096];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    for (char *line = strstr(buf, "lock:"); line; line = strstr(line + 1, "\nlock:"))
        if (line_covers(*line == '\n' ? line + 1 : line, dev, ino, off))
            return true;
    return false;
}

static bool process_covers(const char *pid, dev_t dev, ino_t ino, off_t off)
{
    char dir[64], path[128];
    snprintf(dir, sizeof(dir), "/proc/%.20s/fdinfo", pid);
    DIR *d = opendir(dir);
    if (!d)
        return false; /* gone, or not ours to look at */
    bool found = false;
    struct dirent *e;
    while (!found && (e = readdir(d)))
        if (e->d_name[0] != '.') {
            snprintf(path, sizeof(path), "%s/%.20s", dir, e->d_name);
            found = fdinfo_covers(path, dev, ino, off);
        }
    closedir(d);
    return found;
}

static pid_t scan_fdinfo(dev_t dev, ino_t ino, off_t off)
{
    DIR *proc = opendir("/proc");
    if (!proc)
        return -1;
    pid_t holder = -1;
    struct dirent *e;
    while (holder < 0 && (e = readdir(proc))) {
        char *endp;
        long pid = strtol(e->d_name, &endp, 10);
        if (*endp == '\0' && pid > 0 && process_covers(e->d_name, dev, ino, off))
            holder = (pid_t)pid;
    }
    closedir(proc);
    return holder;
}

pid_t pvh_blk_lock_holder(int fd, off_t off)
{
    pid_t pid = -1;
    if (byte_taken(fd, F_WRLCK, off, &pid) == 1 && pid > 0)
        return pid;
    struct stat st;
    if (fstat(fd, &st))
        return -1;
    return scan_fdinfo(st.st_dev, st.st_ino, off);
}

static int conflict(int fd, const char *name, off_t off, struct pvh_error *err)
{
    unlock_all(fd); /* so that only the other holders are left to find */
    pid_t pid = pvh_blk_lock_holder(fd, off);
    if (pid <= 0)
        return pvh_fail(err, PVH_E_INPUT, "%s: locked by another process (another VM?); use ,ro on both or stop it",
                        name);
    char path[64], comm[32] = "";
    snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
    FILE *f = fopen(path, "re");
    if (f) {
        if (fgets(comm, sizeof(comm), f))
            comm[strcspn(comm, "\n")] = '\0';
        fclose(f);
    }
    return pvh_fail(err, PVH_E_INPUT, "%s: locked by process %d (%s%sanother VM?); use ,ro on both or stop it", name,
                    (int)pid, comm, comm[0] ? ", " : "");
}

static bool locks_unsupported(int e)
{
    return e == ENOLCK || e == EOPNOTSUPP || e == EINVAL;
}

int pvh_blk_lock(int fd, const char *name, bool write, bool *locked, struct pvh_error *err)
{
    /* what this user holds (shared locks), then what it must find free */
    const off_t hold_rw[] = {PERM_BASE + PERM_READ, PERM_BASE + PERM_WRITE, SHARED_BASE + PERM_WRITE,
                             SHARED_BASE + PERM_RESIZE};
    const off_t hold_ro[] = {PERM_BASE + PERM_READ, SHARED_BASE + PERM_WRITE, SHARED_BASE + PERM_RESIZE};
    const off_t free_rw[] = {SHARED_BASE + PERM_READ, SHARED_BASE + PERM_WRITE, PERM_BASE + PERM_WRITE,
                             PERM_BASE + PERM_RESIZE};
    const off_t free_ro[] = {SHARED_BASE + PERM_READ, PERM_BASE + PERM_WRITE, PERM_BASE + PERM_RESIZE};
    const off_t *hold = write ? hold_rw : hold_ro, *need_free = write ? free_rw : free_ro;
    size_t nhold = write ? 4 : 3, nfree = write ? 4 : 3;
    *locked = false;
    for (size_t i = 0; i < nhold; i++) {
        struct flock l = byte_lock(F_RDLCK, hold[i]);
        if (fcntl(fd, F_OFD_SETLK, &l) == 0)
            continue;
        int e = errno;
        if (e == EAGAIN || e == EACCES)
            return conflict(fd, name, hold[i], err);
        unlock_all(fd);
        if (locks_unsupported(e))
            return 0;
        return pvh_fail(err, PVH_E_SYSTEM, "%s: cannot lock byte %lld: %s", name, (long long)hold[i], strerror(e));
    }
    for (size_t i = 0; i < nfree; i++) {
        pid_t pid;
        int r = byte_taken(fd, F_WRLCK, need_free[i], &pid);
        if (r == 1)
            return conflict(fd, name, need_free[i], err);
        if (r < 0) {
            unlock_all(fd);
            return pvh_fail(err, PVH_E_SYSTEM, "%s: cannot test lock byte %lld: %s", name,
                            (long long)need_free[i], strerror(-r));
        }
    }
    *locked = true;
    return 0;
}
