/* Port-I/O and MMIO buses (vmm/bus.h): overlap-checked registration into a
 * sorted table, lookup by binary search, dispatch under the device's lock,
 * and the bounded count of accesses nobody claims. */
#include "bus.h"

#include <string.h>

#include "pvhboot/bytes.h"

void pvh_bus_init(struct pvh_bus *b, const char *name, int mmio, struct pvh_unhandled_table *unhandled)
{
    memset(b, 0, sizeof(*b));
    b->name = name;
    b->mmio = mmio;
    b->unhandled = unhandled;
}

void pvh_unhandled_count(struct pvh_unhandled *u, uint64_t addr, int mmio, int is_write)
{
    for (size_t i = 0; i < u->n; i++) {
        if (u->e[i].addr == addr && u->e[i].mmio == mmio) {
            *(is_write ? &u->e[i].writes : &u->e[i].reads) += 1;
            return;
        }
    }
    if (u->n == PVH_UNHANDLED_SLOTS) {
        u->other++;
        return;
    }
    u->e[u->n] = (struct pvh_unhandled_entry){addr, mmio, !is_write, is_write != 0};
    u->n++;
}

static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
    return a < b + blen && b < a + alen;
}

int pvh_bus_register(struct pvh_bus *b, uint64_t base, uint64_t len, const struct pvh_dev_ops *ops, void *dev,
                     pthread_mutex_t *lock, struct pvh_error *err)
{
    if (len == 0 || base + len < base)
        return pvh_fail(err, PVH_E_SYSTEM, "%s bus: %s: empty or wrapping range %#llx+%#llx", b->name, ops->name,
                        (unsigned long long)base, (unsigned long long)len);
    if (b->n == PVH_BUS_MAX_RANGES)
        return pvh_fail(err, PVH_E_SYSTEM, "%s bus: no room for %s (%d ranges at most)", b->name, ops->name,
                        PVH_BUS_MAX_RANGES);
    size_t at = 0;
    while (at < b->n && b->r[at].base < base)
        at++;
    for (size_t i = 0; i < b->n; i++)
        if (overlaps(base, len, b->r[i].base, b->r[i].len))
            return pvh_fail(err, PVH_E_SYSTEM, "%s bus: %s at %#llx+%#llx overlaps %s at %#llx+%#llx", b->name,
                            ops->name, (unsigned long long)base, (unsigned long long)len, b->r[i].ops->name,
                            (unsigned long long)b->r[i].base, (unsigned long long)b->r[i].len);
    memmove(&b->r[at + 1], &b->r[at], (b->n - at) * sizeof(b->r[0]));
    b->r[at] = (struct pvh_bus_range){base, len, ops, dev, lock};
    b->n++;
    return 0;
}

const struct pvh_bus_range *pvh_bus_find(const struct pvh_bus *b, uint64_t addr)
{
    size_t lo = 0, hi = b->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct pvh_bus_range *r = &b->r[mid];
        if (addr < r->base)
            hi = mid;
        else if (addr - r->base >= r->len)
            lo = mid + 1;
        else
            return r;
    }
    return NULL;
}

static bool size_ok(const struct pvh_bus *b, unsigned size)
{
    return size == 1 || size == 2 || size == 4 || (b->mmio && size == 8);
}

static void count_unhandled(struct pvh_bus *b, uint64_t addr, int is_write)
{
    pthread_mutex_lock(&b->unhandled->lock);
    pvh_unhandled_count(&b->unhandled->t, addr, b->mmio, is_write);
    pthread_mutex_unlock(&b->unhandled->lock);
}

bool pvh_bus_access(struct pvh_bus *b, uint64_t addr, int is_write, uint8_t *data, unsigned size)
{
    const struct pvh_bus_range *r = size_ok(b, size) ? pvh_bus_find(b, addr) : NULL;
    if (!r) {
        count_unhandled(b, addr, is_write);
        if (!is_write && size)
            memset(data, 0xff, size > 8 ? 8 : size);
        return false;
    }
    uint64_t off = addr - r->base;
    if (r->lock)
        pthread_mutex_lock(r->lock);
    if (is_write)
        r->ops->write(r->dev, off, pvh_le(data, size), size);
    else
        pvh_put_le(data, r->ops->read(r->dev, off, size), size);
    if (r->lock)
        pthread_mutex_unlock(r->lock);
    return true;
}
