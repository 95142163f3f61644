/* The Multiboot 1 information structure (MBI) as bytes: the fixed part,
 * module list, memory map and strings laid out contiguously at a guest
 * address, written through the caller's guest accessor. */
#include <stdlib.h>
#include <string.h>

#include "pvhboot/multiboot.h"
#include "pvhboot/bytes.h"

#define FOUR_GIB 0x100000000ull
#define MB1_MOD_ENTRY 16
#define MB1_MMAP_ENTRY 24
#define MB1_E820_USABLE 1
#define LOWER_MEMORY_END 0xa0000ull
#define UPPER_MEMORY_START 0x100000ull

#define MBI_MEMORY (1u << 0)
#define MBI_CMDLINE (1u << 2)
#define MBI_MODS (1u << 3)
#define MBI_MMAP (1u << 6)
#define MBI_LOADER_NAME (1u << 9)

/* String length bounded by PVH_MB1_MAX_STRING + 1 (over the limit). */
static size_t bounded_len(const char *s)
{
    return s ? strnlen(s, PVH_MB1_MAX_STRING + 1) : 0;
}

size_t pvh_mb1_info_size(const struct pvh_mb1_info_request *req)
{
    if (req->mmap_count > PVH_MB1_MAX_MMAP || req->nmods > PVH_MB1_MAX_MODULES)
        return 0;
    size_t size = PVH_MB1_INFO_FIXED + req->nmods * MB1_MOD_ENTRY + req->mmap_count * MB1_MMAP_ENTRY;
    size += sizeof(PVH_MB1_BOOTLOADER_NAME);
    if (req->cmdline) {
        if (bounded_len(req->cmdline) > PVH_MB1_MAX_STRING)
            return 0;
        size += bounded_len(req->cmdline) + 1;
    }
    for (size_t i = 0; i < req->nmods; i++) {
        if (bounded_len(req->mods[i].string) > PVH_MB1_MAX_STRING)
            return 0;
        size += bounded_len(req->mods[i].string) + 1;
    }
    return size;
}

/* The end of usable memory reached from `from` through contiguous usable
 * entries (from itself when no usable entry contains it). */
static uint64_t usable_end_from(const struct pvh_mb1_info_request *req, uint64_t from)
{
    uint64_t cur = from;
    for (size_t pass = 0; pass <= req->mmap_count; pass++) {
        bool grew = false;
        for (size_t i = 0; i < req->mmap_count; i++) {
            const struct pvh_mb1_mmap *m = &req->mmap[i];
            if (m->type == MB1_E820_USABLE && m->addr <= cur && m->size > cur - m->addr) {
                cur = m->addr + m->size;
                grew = true;
            }
        }
        if (!grew)
            break;
    }
    return cur;
}

static uint32_t kib_clamped(uint64_t bytes)
{
    uint64_t kib = bytes / 1024;
    return kib > 0xffffffffull ? 0xffffffffu : (uint32_t)kib;
}

static int check_request(const struct pvh_mb1_info_request *req, uint64_t gpa, size_t size,
                         struct pvh_error *err)
{
    if (size == 0)
        return pvh_fail(err, PVH_E_INPUT, "Multiboot information: more than %d memory map entries or %d modules, "
                        "or a string over %d bytes", PVH_MB1_MAX_MMAP, PVH_MB1_MAX_MODULES, PVH_MB1_MAX_STRING);
    if (gpa == 0 || gpa >= FOUR_GIB || size > FOUR_GIB - gpa)
        return pvh_fail(err, PVH_E_NOFIT, "Multiboot information at %#llx (%zu bytes) must lie between 0 and 4 GiB",
                        (unsigned long long)gpa, size);
    for (size_t i = 0; i < req->nmods; i++) {
        const struct pvh_mb1_module *m = &req->mods[i];
        if (m->paddr >= FOUR_GIB || m->size > FOUR_GIB - m->paddr)
            return pvh_fail(err, PVH_E_NOFIT, "Multiboot module %zu at %#llx (%llu bytes) must lie below 4 GiB", i,
                            (unsigned long long)m->paddr, (unsigned long long)m->size);
    }
    return 0;
}

/* Copies s (or "") with its NUL at buf + *at, returns its guest address. */
static uint32_t put_string(uint8_t *buf, size_t *at, uint64_t gpa, const char *s)
{
    size_t len = bounded_len(s);
    uint32_t addr = (uint32_t)(gpa + *at);
    if (len)
        memcpy(buf + *at, s, len);
    buf[*at + len] = 0;
    *at += len + 1;
    return addr;
}

int pvh_mb1_info_build(const struct pvh_mb1_info_request *req, uint64_t gpa,
                       uint8_t *buf, size_t cap, struct pvh_error *err)
{
    size_t size = pvh_mb1_info_size(req);
    if (check_request(req, gpa, size, err) != 0)
        return -1;
    if (cap < size)
        return pvh_fail(err, PVH_E_NOFIT, "Multiboot information needs %zu bytes, the buffer holds %zu", size, cap);
    memset(buf, 0, size);
    uint32_t flags = MBI_MEMORY | MBI_MMAP | MBI_LOADER_NAME;
    uint64_t lower = usable_end_from(req, 0), upper = usable_end_from(req, UPPER_MEMORY_START);
    pvh_put_le32(buf + 4, kib_clamped(lower < LOWER_MEMORY_END ? lower : LOWER_MEMORY_END));
    pvh_put_le32(buf + 8, kib_clamped(upper - UPPER_MEMORY_START));
    size_t mods_at = PVH_MB1_INFO_FIXED;
    size_t mmap_at = mods_at + req->nmods * MB1_MOD_ENTRY;
    size_t str_at = mmap_at + req->mmap_count * MB1_MMAP_ENTRY;
    if (req->nmods) {
        flags |= MBI_MODS;
        pvh_put_le32(buf + 20, (uint32_t)req->nmods);
        pvh_put_le32(buf + 24, (uint32_t)(gpa + mods_at));
    }
    pvh_put_le32(buf + 44, (uint32_t)(req->mmap_count * MB1_MMAP_ENTRY));
    pvh_put_le32(buf + 48, (uint32_t)(gpa + mmap_at));
    for (size_t i = 0; i < req->mmap_count; i++) {
        uint8_t *e = buf + mmap_at + i * MB1_MMAP_ENTRY;
        pvh_put_le32(e, MB1_MMAP_ENTRY - 4);
        pvh_put_le64(e + 4, req->mmap[i].addr);
        pvh_put_le64(e + 12, req->mmap[i].size);
        pvh_put_le32(e + 20, req->mmap[i].type);
    }
    if (req->cmdline) {
        flags |= MBI_CMDLINE;
        pvh_put_le32(buf + 16, put_string(buf, &str_at, gpa, req->cmdline));
    }
    pvh_put_le32(buf + 64, put_string(buf, &str_at, gpa, PVH_MB1_BOOTLOADER_NAME));
    for (size_t i = 0; i < req->nmods; i++) {
        uint8_t *e = buf + mods_at + i * MB1_MOD_ENTRY;
        pvh_put_le32(e, (uint32_t)req->mods[i].paddr);
        pvh_put_le32(e + 4, (uint32_t)(req->mods[i].paddr + req->mods[i].size));
        pvh_put_le32(e + 8, put_string(buf, &str_at, gpa, req->mods[i].string));
    }
    pvh_put_le32(buf, flags);
    return 0;
}

int pvh_mb1_info_write(const struct pvh_mb1_info_request *req, uint64_t gpa,
                       pvh_guest_write_fn write, void *ctx, struct pvh_error *err)
{
    size_t size = pvh_mb1_info_size(req);
    if (check_request(req, gpa, size, err) != 0)
        return -1;
    uint8_t *buf = malloc(size);
    if (!buf)
        return pvh_fail(err, PVH_E_SYSTEM, "out of memory for the Multiboot information (%zu bytes)", size);
    int rc = pvh_mb1_info_build(req, gpa, buf, size, err);
    if (rc == 0)
        rc = write(ctx, gpa, buf, size, err);
    free(buf);
    return rc;
}
