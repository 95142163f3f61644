/* libFuzzer harness for the --snapshot-diff memory file's trailer reader
 * (lib/snapmem.c). Input: byte 0 picks guest RAM's size (1 to 256 pages,
 * left as zeros), the rest is what follows RAM in the file (the trailer and
 * its bitmap), checked as it is and again "resealed" (the checksum made
 * right, so the fuzzer reaches the count and tail-bit checks). A refusal is
 * one line starting "memory file: "; an accepted file has its bitmap inside
 * the input, exactly its header's count of bits, none past RAM, and
 * encodes back to the same header. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "fuzz_common.h"
#include "pvhboot/bytes.h"
#include "pvhboot/snapmem.h"

static void open_and_check(const uint8_t *buf, size_t len, uint64_t ram)
{
    struct pvh_snapmem_id id;
    const uint8_t *bitmap = NULL;
    struct pvh_error err = {0};
    if (pvh_snapmem_open(buf, len, ram, &id, &bitmap, &err) != 0) {
        check(err.msg[0] != '\0' && strchr(err.msg, '\n') == NULL && strncmp(err.msg, "memory file: ", 13) == 0);
        return;
    }
    uint64_t blen = pvh_snapmem_bitmap_bytes(id.kind, ram), pages = 0;
    check(len == ram + PVH_SNAPMEM_HEADER + blen && (bitmap == NULL) == (blen == 0));
    for (uint64_t p = 0; p < blen * 8; p++) /* ASan: every bit read lies inside the input */
        if (pvh_snapmem_has(bitmap, p)) {
            check(p < ram / PVH_SNAPMEM_PAGE);
            pages++;
        }
    uint8_t h[PVH_SNAPMEM_HEADER];
    pvh_snapmem_encode(&id, ram, bitmap, pages, h);
    check(memcmp(h, buf + ram, sizeof(h)) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint64_t ram = ((uint64_t)data[0] + 1) * PVH_SNAPMEM_PAGE;
    size_t tail = size - 1, len = (size_t)ram + tail;
    uint8_t *file = calloc(1, len ? len : 1); /* exactly the file's size: ASan sees any read past it */
    if (!file)
        return 0;
    memcpy(file + ram, data + 1, tail);
    open_and_check(file, len, ram);
    if (tail >= PVH_SNAPMEM_HEADER) {
        uint8_t *h = file + ram;
        pvh_put_le32(h + 56, 0);
        pvh_put_le32(h + 56, (uint32_t)crc32(crc32(0L, Z_NULL, 0), h, (uInt)tail));
        open_and_check(file, len, ram);
    }
    free(file);
    return 0;
}
