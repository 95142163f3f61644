/* Guest RAM: anonymous mappings per slot; pvh_gpa_ptr, the checked
 * accessor through which every guest-physical dereference goes (marking
 * the VMM's dirty bitmap with --snapshot-diff); loading file
 * bytes into RAM by mapping or copying (mapped ranges registered with the
 * SIGBUS guard); finding a file that shrank under them; counting the
 * resident pages. */
#include "pvhboot/guestmem.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pvhboot/mapguard.h"

#define FOUR_GIB 0x100000000ull
#define DIRTY_PAGE 4096ull

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
        if (!mem->slot[i].host)
            continue;
        pvh_mapguard_remove(mem->slot[i].host, mem->slot[i].size);
        munmap(mem->slot[i].host, mem->slot[i].size);
        mem->slot[i].host = NULL;
        free(mem->slot[i].vmm_dirty);
        mem->slot[i].vmm_dirty = NULL;
    }
}

int pvh_guestmem_track_dirty(struct pvh_guestmem *mem, struct pvh_error *err)
{
    for (int i = 0; i < PVH_MEM_SLOTS; i++) {
        struct pvh_mem_slot *s = &mem->slot[i];
        if (!s->host || s->vmm_dirty)
            continue;
        uint64_t pages = (s->size + DIRTY_PAGE - 1) / DIRTY_PAGE;
        s->vmm_dirty = calloc((size_t)(pages + 63) / 64, sizeof(uint64_t));
        if (!s->vmm_dirty)
            return pvh_fail(err, PVH_E_SYSTEM, "out of memory for the dirty bitmap of %llu MiB of guest RAM",
                            (unsigned long long)(s->size >> 20));
    }
    return 0;
}

void pvh_guestmem_clear_dirty(struct pvh_guestmem *mem)
{
    for (int i = 0; i < PVH_MEM_SLOTS; i++) {
        struct pvh_mem_slot *s = &mem->slot[i];
        uint64_t pages = (s->size + DIRTY_PAGE - 1) / DIRTY_PAGE;
        if (s->vmm_dirty)
            memset(s->vmm_dirty, 0, (size_t)(pages + 63) / 64 * sizeof(uint64_t));
    }
}

/* [off, off + len) inside slot s, len > 0. */
static void mark_slot(const struct pvh_mem_slot *s, uint64_t off, uint64_t len)
{
    for (uint64_t p = off / DIRTY_PAGE; p <= (off + len - 1) / DIRTY_PAGE; p++)
        __atomic_fetch_or(&s->vmm_dirty[p / 64], 1ull << (p % 64), __ATOMIC_RELAXED);
}

void pvh_guestmem_mark_dirty(const struct pvh_guestmem *mem, uint64_t gpa, uint64_t len)
{
    for (int i = 0; i < PVH_MEM_SLOTS && len > 0; i++) {
        const struct pvh_mem_slot *s = &mem->slot[i];
        if (!s->vmm_dirty || gpa + len <= s->gpa || gpa >= s->gpa + s->size || gpa + len < gpa)
            continue;
        uint64_t from = gpa > s->gpa ? gpa - s->gpa : 0;
        uint64_t to = gpa + len - s->gpa < s->size ? gpa + len - s->gpa : s->size;
        mark_slot(s, from, to - from);
    }
}

int pvh_guestmem_vmm_dirty(const struct pvh_mem_slot *s, uint64_t off)
{
    if (!s->vmm_dirty || off >= s->size)
        return 0;
    uint64_t p = off / DIRTY_PAGE;
    return (int)((__atomic_load_n(&s->vmm_dirty[p / 64], __ATOMIC_RELAXED) >> (p % 64)) & 1);
}

void *pvh_gpa_ptr(const struct pvh_guestmem *mem, uint64_t gpa, uint64_t len)
{
    if (len == 0 || gpa + len < gpa)
        return NULL;
    for (int i = 0; i < PVH_MEM_SLOTS; i++) {
        const struct pvh_mem_slot *s = &mem->slot[i];
        if (s->host && gpa >= s->gpa && gpa - s->gpa < s->size && len <= s->size - (gpa - s->gpa)) {
            if (s->vmm_dirty)
                mark_slot(s, gpa - s->gpa, len);
            return s->host + (gpa - s->gpa);
        }
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

static uint64_t host_page_size(void)
{
    return (uint64_t)sysconf(_SC_PAGESIZE);
}

/* Replaces [host, host + len) (page-aligned) by a private mapping of the file
 * at offset, registered with the SIGBUS guard under the file's name. Returns
 * 0; 1 when the file cannot be mapped or guarded there (the range holds fresh
 * zero pages again: a failed MAP_FIXED may have unmapped it); -1 when not
 * even anonymous memory could be put back. */
static int map_file_pages(uint8_t *host, uint64_t len, const struct pvh_file *f, uint64_t offset)
{
    pvh_mapguard_remove(host, len); /* whatever was mapped there before is replaced */
    if (pvh_mapguard_add(host, len, PROT_READ | PROT_WRITE, f->path, NULL) == 0) {
        if (mmap(host, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED | MAP_NORESERVE, f->fd, (off_t)offset) ==
            host)
            return 0;
        pvh_mapguard_remove(host, len);
    }
    void *back = mmap(host, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE,
                      -1, 0);
    return back == host ? 1 : -1;
}

int pvh_guestmem_load(struct pvh_guestmem *mem, uint64_t gpa, const struct pvh_file *f, uint64_t offset, uint64_t len,
                      enum pvh_load_mode mode, const char *what, uint64_t *mapped, struct pvh_error *err)
{
    if (mapped)
        *mapped = 0;
    if (len == 0)
        return 0;
    if (offset > f->size || len > f->size - offset)
        return pvh_fail(err, PVH_E_INPUT, "%s: file bytes [%#llx, %#llx + %#llx) run past the file's end (%llu bytes)",
                        what, (unsigned long long)offset, (unsigned long long)offset, (unsigned long long)len,
                        (unsigned long long)f->size);
    uint8_t *host = pvh_gpa_ptr(mem, gpa, len);
    if (!host)
        return pvh_fail(err, PVH_E_SYSTEM, "%s (%llu bytes at %#llx) lies outside guest RAM", what,
                        (unsigned long long)len, (unsigned long long)gpa);
    uint64_t page = host_page_size();
    uint64_t head = (page - gpa % page) % page; /* bytes before the first whole page */
    uint64_t whole = len > head ? (len - head) & ~(page - 1) : 0;
    if (mode == PVH_LOAD_MAP && offset % page == gpa % page && whole > 0) {
        int rc = map_file_pages(host + head, whole, f, offset + head);
        if (rc < 0)
            return pvh_fail(err, PVH_E_SYSTEM, "%s: guest RAM at %#llx lost its mapping: %s", what,
                            (unsigned long long)(gpa + head), strerror(errno));
        if (rc == 0) {
            memcpy(host, f->data + offset, head);
            memcpy(host + head + whole, f->data + offset + head + whole, len - head - whole);
            if (mapped)
                *mapped = whole;
            return 0;
        }
    }
    memcpy(host, f->data + offset, len);
    return 0;
}

int pvh_guestmem_check_files(const struct pvh_guestmem *mem, struct pvh_error *err)
{
    for (int i = 0; i < PVH_MEM_SLOTS; i++) {
        const struct pvh_mem_slot *s = &mem->slot[i];
        const char *name = s->host ? pvh_mapguard_probe(s->host, s->size) : NULL;
        if (name)
            return pvh_fail(err, PVH_E_INPUT, "%s: the file shrank while the VM ran; guest RAM mapped from it "
                            "(--load map) lost its pages", name);
    }
    return 0;
}

uint64_t pvh_guestmem_resident(const struct pvh_guestmem *mem, int pagemap_fd)
{
    enum { BATCH = 512 };
    uint64_t entry[BATCH];
    uint64_t page = host_page_size(), present = 0;
    if (pagemap_fd < 0)
        return 0;
    for (int i = 0; i < PVH_MEM_SLOTS; i++) {
        const struct pvh_mem_slot *s = &mem->slot[i];
        uint64_t first = (uint64_t)(uintptr_t)s->host / page, npages = s->host ? s->size / page : 0;
        for (uint64_t p = 0; p < npages; p += BATCH) {
            size_t n = npages - p < BATCH ? (size_t)(npages - p) : BATCH;
            ssize_t got = pread(pagemap_fd, entry, n * sizeof(entry[0]), (off_t)((first + p) * sizeof(entry[0])));
            if (got != (ssize_t)(n * sizeof(entry[0])))
                return 0;
            for (size_t k = 0; k < n; k++)
                present += entry[k] >> 63; /* bit 63: page present */
        }
    }
    return present * page;
}
