/* snapmem-drop: finds a file's contents among the pages of a --snapshot-diff
 * memory file, and writes a copy of that diff without them (the negative
 * control of tests/run/snapshot-diff-virtio.t: the diff a VMM that missed
 * those pages would have written).
 *
 *   snapmem-drop DIFF DATA OUT
 *
 * DIFF is a diff memory file (checked whole by lib/snapmem.c, whose trailer
 * says how much guest RAM it covers); DATA a file whose size is a multiple of
 * 4096 bytes, of random bytes, so that each of its 4 KiB chunks is unlike any
 * other page. A page DIFF holds whose 4096 bytes equal one of DATA's chunks
 * (the guest's page cache holds each chunk in a page of its own) is left out
 * of OUT: its bit cleared, the trailer's count and CRC made again by
 * lib/snapmem.c, every other page of DIFF copied at its offset. Prints
 *   SNAPMEM-DROP held=H chunks=C found=F dropped=D
 * H the pages DIFF holds, C DATA's chunks, F how many of them DIFF holds,
 * D the pages left out of OUT (F and more: a copy in a read buffer counts).
 * Static, built by the suite:
 *   cc -static -Iinclude -o snapmem-drop tests/lib/snapmem-drop.c build/static/libpvhboot.a -lz */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pvhboot/snapmem.h"

#define PAGE PVH_SNAPMEM_PAGE

static const uint8_t *map_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || st.st_size == 0) {
        fprintf(stderr, "snapmem-drop: %s: %s\n", path, fd < 0 ? strerror(errno) : "empty or unreadable");
        exit(1);
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED) {
        fprintf(stderr, "snapmem-drop: mmap %s: %s\n", path, strerror(errno));
        exit(1);
    }
    *len = (size_t)st.st_size;
    return p;
}

/* Guest RAM's size: the trailer sits at a page boundary, RAM size, and says
 * so itself; the file ends with it and its bitmap. */
static uint64_t find_ram(const uint8_t *buf, size_t len)
{
    for (uint64_t ram = (len - PVH_SNAPMEM_HEADER) / PAGE * PAGE; ram > 0 && len - ram < (1u << 20); ram -= PAGE) {
        uint64_t said = 0;
        memcpy(&said, buf + ram + 32, 8); /* the trailer's RAM bytes (little endian, as x86) */
        if (memcmp(buf + ram, "PVHMEMT", 8) == 0 && said == ram)
            return ram;
    }
    return 0;
}

static int has_chunk(const uint8_t *data, size_t chunks, const uint8_t *page, uint8_t *seen)
{
    for (size_t c = 0; c < chunks; c++)
        if (memcmp(data + c * PAGE, page, PAGE) == 0) {
            seen[c] = 1;
            return 1;
        }
    return 0;
}

static void write_at(int fd, const void *p, size_t len, uint64_t off)
{
    if (pwrite(fd, p, len, (off_t)off) != (ssize_t)len) {
        fprintf(stderr, "snapmem-drop: writing the copy: %s\n", strerror(errno));
        exit(1);
    }
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: snapmem-drop DIFF DATA OUT\n");
        return 2;
    }
    size_t len, data_len;
    const uint8_t *buf = map_file(argv[1], &len), *data = map_file(argv[2], &data_len);
    uint64_t ram = len > PVH_SNAPMEM_HEADER ? find_ram(buf, len) : 0;
    struct pvh_snapmem_id id;
    const uint8_t *held;
    struct pvh_error err;
    const char *bad = ram == 0                                                   ? "no trailer"
                      : data_len % PAGE                                          ? "DATA is not whole pages"
                      : pvh_snapmem_open(buf, len, ram, &id, &held, &err) != 0 ? err.msg
                      : id.kind != PVH_SNAPMEM_DIFF                              ? "not a diff"
                                                                                 : NULL;
    if (bad) {
        fprintf(stderr, "snapmem-drop: %s: %s\n", argv[1], bad);
        return 1;
    }
    uint64_t bitmap_len = pvh_snapmem_bitmap_bytes(PVH_SNAPMEM_DIFF, ram), pages = ram / PAGE;
    size_t chunks = data_len / PAGE;
    uint8_t *kept = malloc(bitmap_len), *seen = calloc(chunks, 1);
    int out = open(argv[3], O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (!kept || !seen || out < 0 || ftruncate(out, (off_t)len) != 0) {
        fprintf(stderr, "snapmem-drop: %s: %s\n", argv[3], strerror(errno));
        return 1;
    }
    memcpy(kept, held, bitmap_len);
    uint64_t n_held = 0, n_kept = 0, dropped = 0;
    for (uint64_t p = 0; p < pages; p++) {
        if (!pvh_snapmem_has(held, p))
            continue;
        n_held++;
        if (has_chunk(data, chunks, buf + p * PAGE, seen)) {
            kept[p / 8] &= (uint8_t)~(1u << (p % 8));
            dropped++;
            continue;
        }
        n_kept++;
        write_at(out, buf + p * PAGE, PAGE, p * PAGE);
    }
    uint8_t header[PVH_SNAPMEM_HEADER];
    pvh_snapmem_encode(&id, ram, kept, n_kept, header);
    write_at(out, header, sizeof(header), ram);
    write_at(out, kept, bitmap_len, ram + sizeof(header));
    if (fsync(out) != 0 || close(out) != 0) {
        fprintf(stderr, "snapmem-drop: %s: %s\n", argv[3], strerror(errno));
        return 1;
    }
    size_t found = 0;
    for (size_t c = 0; c < chunks; c++)
        found += seen[c];
    printf("SNAPMEM-DROP held=%llu chunks=%zu found=%zu dropped=%llu\n", (unsigned long long)n_held, chunks, found,
           (unsigned long long)dropped);
    free(kept);
    free(seen);
    return 0;
}
