/* bzImage header reading: boot-protocol version and the compressed payload's
 * place in the file (boot protocol 2.08+: payload_offset/payload_length). */
#include "pvhboot/bzimage.h"

#include <string.h>
#include "pvhboot/bytes.h"

#define BZ_SETUP_SECTS 0x1f1
#define BZ_BOOT_FLAG 0x1fe
#define BZ_HEADER_MAGIC 0x202
#define BZ_VERSION 0x206
#define BZ_PAYLOAD_OFFSET 0x248
#define BZ_PAYLOAD_LENGTH 0x24c
#define BZ_HEADER_END 0x250

int pvh_bzimage_probe(const uint8_t *data, size_t size, const char *name,
                      struct pvh_bzimage_info *info, struct pvh_error *err)
{
    memset(info, 0, sizeof(*info));
    if (size < BZ_VERSION + 2 || pvh_le16(data + BZ_BOOT_FLAG) != 0xAA55 ||
        memcmp(data + BZ_HEADER_MAGIC, "HdrS", 4) != 0)
        return 0;
    info->protocol = pvh_le16(data + BZ_VERSION);
    info->setup_sects = data[BZ_SETUP_SECTS];
    if (info->protocol < 0x0208)
        return 1;
    if (size < BZ_HEADER_END)
        return pvh_fail(err, PVH_E_INPUT, "%s: bzImage header truncated at offset %#zx", name, size);
    uint64_t sects = info->setup_sects ? info->setup_sects : 4;
    uint64_t kernel_start = (sects + 1) * 512;
    info->payload_offset = kernel_start + pvh_le32(data + BZ_PAYLOAD_OFFSET);
    info->payload_length = pvh_le32(data + BZ_PAYLOAD_LENGTH);
    if (info->payload_offset > size || info->payload_length > size - info->payload_offset)
        return pvh_fail(err, PVH_E_INPUT,
                        "%s: bzImage payload at offset %#llx (%llu bytes) runs past the end of the file (%zu bytes)",
                        name, (unsigned long long)info->payload_offset,
                        (unsigned long long)info->payload_length, size);
    return 1;
}
