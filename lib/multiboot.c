/* Multiboot header search: finds a Multiboot 1 or 2 header with a valid
 * checksum where the specifications say a loader must look for it. */
#include "pvhboot/multiboot.h"

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int find_mb1(const uint8_t *data, size_t size, uint64_t *offset)
{
    size_t limit = size < PVH_MB1_SEARCH ? size : PVH_MB1_SEARCH;
    for (size_t off = 0; off + 12 <= limit; off += 4) {
        uint32_t magic = le32(data + off), flags = le32(data + off + 4);
        if (magic == PVH_MB1_HEADER_MAGIC && magic + flags + le32(data + off + 8) == 0) {
            *offset = off;
            return 1;
        }
    }
    return 0;
}

static int find_mb2(const uint8_t *data, size_t size, uint64_t *offset)
{
    size_t limit = size < PVH_MB2_SEARCH ? size : PVH_MB2_SEARCH;
    for (size_t off = 0; off + 16 <= limit; off += 8) {
        uint32_t magic = le32(data + off), arch = le32(data + off + 4);
        uint32_t len = le32(data + off + 8), sum = le32(data + off + 12);
        if (magic == PVH_MB2_HEADER_MAGIC && magic + arch + len + sum == 0) {
            *offset = off;
            return 2;
        }
    }
    return 0;
}

int pvh_multiboot_find(const uint8_t *data, size_t size, uint64_t *offset)
{
    if (find_mb1(data, size, offset))
        return 1;
    return find_mb2(data, size, offset);
}
