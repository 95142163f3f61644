/* Guest RAM: anonymous mappings per slot, and pvh_gpa_ptr, the checked
 * accessor through which every guest-physical dereference goes. */
#include "pvhboot/guestmem.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define FOUR_GIB 0x100000000ull

static int map_slot(struct pvh_mem_slot *s, uint64_t gpa, uint64_t size, struct pvh_error *err)
{
    s->gpa = gpa;
    s->size = size;
    s->host = NULL;
    if (size == 0)
        return 0;
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return pvh_fail(err, PVH_E_SYSTEM, "cannot reserve %llu MiB of guest RAM: %s; try a smaller --mem",
                        (unsigned long long)(size >> 20), strerror(errno));
    madvise(p, size, MADV_MERGEABLE);
    s->host = p;
    return 0;
}

int pvh_guestmem_map(struct pvh_guestmem *mem, uint64_t low_size, uint64_t high_size,
                     struct pvh_error *err)
{
    memset(mem, 0, sizeof(*mem));
    if (map_slot(&mem->slot[0], 0, low_size, err) || map_slot(&mem->slot[1], FOUR_GIB, high_size, err)) {
        pvh_guestmem_unmap(mem);
        return -1;
    }
    return 0;
}

void pvh_guestmem_unmap(struct pvh_guestmem *mem)
{
    for (int i = 0; i < PVH_MEM_SLOTS; i++) {
        if (mem->slot[i].host)
            munmap(mem->slot[i].host, mem->slot[i].size);
        mem->slot[i].host = NULL;
    }
}

void *pvh_gpa_ptr(const struct pvh_guestmem *mem, uint64_t gpa, uint64_t len)
{
    if (len == 0 || gpa + len < gpa)
        return NULL;
    for (int i = 0; i < PVH_MEM_SLOTS; i++) {
        const struct pvh_mem_slot *s = &mem->slot[i];
        if (s->host && gpa >= s->gpa && gpa - s->gpa < s->size && len <= s->size - (gpa - s->gpa))
            return s->host + (gpa - s->gpa);
    }
    return NULL;
}

int pvh_guestmem_write(void *ctx, uint64_t gpa, const void *src, size_t len, struct pvh_error *err)
{
    if (len == 0)
        return 0;
    void *dst = pvh_gpa_ptr(ctx, gpa, len);
    if (!dst)
        return pvh_fail(err, PVH_E_SYSTEM, "guest write of %zu bytes at %#llx lies outside guest RAM", len,
                        (unsigned long long)gpa);
    memcpy(dst, src, len);
    return 0;
}

uint64_t pvh_guestmem_resident(const struct pvh_guestmem *mem)
{
    long page = sysconf(_SC_PAGESIZE);
    unsigned char vec[4096];
    uint64_t resident = 0;
    for (int i = 0; i < PVH_MEM_SLOTS; i++) {
        const struct pvh_mem_slot *s = &mem->slot[i];
        for (uint64_t off = 0; s->host && off < s->size; off += sizeof(vec) * (uint64_t)page) {
            uint64_t chunk = s->size - off < sizeof(vec) * (uint64_t)page ? s->size - off : sizeof(vec) * (uint64_t)page;
            if (mincore(s->host + off, chunk, vec) != 0)
                return 0;
            for (uint64_t p = 0; p < (chunk + (uint64_t)page - 1) / (uint64_t)page; p++)
                resident += vec[p] & 1;
        }
    }
    return resident * (uint64_t)page;
}
