/* The registry of file-backed ranges and the SIGBUS handler that turns a
 * page lost to a shrunk file into a zero page and a mark (see mapguard.h). */
#include "pvhboot/mapguard.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

struct guard_range {
    _Atomic uintptr_t start; /* 0: the entry is free; set last, cleared first */
    uintptr_t end;
    int prot;
    atomic_bool changed;
    char *name;
};

static struct guard_range ranges[PVH_MAPGUARD_MAX];
static _Atomic size_t slots_used; /* no entry at or past this index was ever taken */
static struct sigaction previous_action;
static uintptr_t page_size;

static struct guard_range *range_at(uintptr_t addr)
{
    for (size_t i = 0, n = atomic_load(&slots_used); i < n; i++) {
        uintptr_t start = atomic_load_explicit(&ranges[i].start, memory_order_acquire);
        if (start && addr >= start && addr < ranges[i].end)
            return &ranges[i];
    }
    return NULL;
}

/* Async-signal-safe: a raw mmap system call, atomics, sigaction, raise. */
static void on_sigbus(int sig, siginfo_t *info, void *ucontext)
{
    (void)ucontext;
    int saved_errno = errno;
    uintptr_t addr = (uintptr_t)info->si_addr;
    struct guard_range *r = info->si_code == BUS_ADRERR ? range_at(addr) : NULL;
    if (r) {
        uintptr_t page = addr & ~(page_size - 1);
        long got = syscall(SYS_mmap, page, page_size, r->prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        if (got == (long)page) {
            atomic_store(&r->changed, true);
            errno = saved_errno;
            return; /* the access is made again and reads zeros */
        }
    }
    /* Not ours (or no page could be put back): the action from before takes
     * the access made again, or the signal sent by someone. */
    sigaction(SIGBUS, &previous_action, NULL);
    if (info->si_code <= 0)
        raise(sig);
    errno = saved_errno;
}

/* Puts the handler in place unless it is there already: checked at every
 * registration, since whoever set another SIGBUS action since (a test
 * framework, say) must not leave a registered range unguarded. What was in
 * place becomes the action for SIGBUS that are not ours. */
static int ensure_handler(void)
{
    struct sigaction current;
    if (sigaction(SIGBUS, NULL, &current) != 0)
        return -1;
    if ((current.sa_flags & SA_SIGINFO) && current.sa_sigaction == on_sigbus)
        return 0;
    page_size = (uintptr_t)sysconf(_SC_PAGESIZE);
    previous_action = current;
    struct sigaction sa = {.sa_sigaction = on_sigbus, .sa_flags = SA_SIGINFO};
    sigemptyset(&sa.sa_mask);
    return sigaction(SIGBUS, &sa, NULL);
}

static bool overlaps(const struct guard_range *r, uintptr_t start, uintptr_t end)
{
    uintptr_t s = atomic_load(&r->start);
    return s && s < end && start < r->end;
}

int pvh_mapguard_add(const void *start, size_t len, int prot, const char *name, struct pvh_error *err)
{
    if (ensure_handler() != 0)
        return pvh_fail(err, PVH_E_SYSTEM, "%s: cannot install the SIGBUS handler: %s", name, strerror(errno));
    for (size_t i = 0; i < PVH_MAPGUARD_MAX; i++) {
        struct guard_range *r = &ranges[i];
        if (atomic_load(&r->start))
            continue;
        r->name = strdup(name);
        if (!r->name)
            return pvh_fail(err, PVH_E_SYSTEM, "out of memory");
        r->end = (uintptr_t)start + len;
        r->prot = prot & (PROT_READ | PROT_WRITE);
        atomic_store(&r->changed, false);
        if (atomic_load(&slots_used) < i + 1)
            atomic_store(&slots_used, i + 1); /* before start: a reader that sees start sees the slot */
        atomic_store_explicit(&r->start, (uintptr_t)start, memory_order_release);
        return 0;
    }
    return pvh_fail(err, PVH_E_SYSTEM, "%s: more than %d file mappings at once", name, PVH_MAPGUARD_MAX);
}

void pvh_mapguard_remove(const void *start, size_t len)
{
    uintptr_t s = (uintptr_t)start, e = s + len;
    for (size_t i = 0, n = atomic_load(&slots_used); i < n; i++) {
        struct guard_range *r = &ranges[i];
        if (!overlaps(r, s, e))
            continue;
        atomic_store(&r->start, 0);
        free(r->name);
        r->name = NULL;
    }
}

const char *pvh_mapguard_changed(const void *start, size_t len)
{
    uintptr_t s = (uintptr_t)start, e = s + len;
    for (size_t i = 0, n = atomic_load(&slots_used); i < n; i++)
        if (overlaps(&ranges[i], s, e) && atomic_load(&ranges[i].changed))
            return ranges[i].name;
    return NULL;
}

const char *pvh_mapguard_probe(const void *start, size_t len)
{
    uintptr_t s = (uintptr_t)start, e = s + len;
    for (size_t i = 0, n = atomic_load(&slots_used); i < n; i++) {
        const struct guard_range *r = &ranges[i];
        uintptr_t rs = atomic_load(&r->start);
        if (!rs || rs < s || r->end > e)
            continue;
        for (uintptr_t a = rs; a < r->end; a = (a | (page_size - 1)) + 1)
            (void)*(const volatile uint8_t *)a;
    }
    return pvh_mapguard_changed(start, len);
}
