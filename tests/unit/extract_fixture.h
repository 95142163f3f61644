/* Shared set-up for the extract/ unit tests (test_extract*.c): a temporary
 * directory, an ELF file to compress (the test binary itself), payloads made
 * by the Debian command-line compressors or by zlib, minimal bzImages around
 * them, and the process's memory figures from /proc/self/status. */
#ifndef PVHBOOT_TEST_EXTRACT_FIXTURE_H
#define PVHBOOT_TEST_EXTRACT_FIXTURE_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "pvhboot/bytes.h"

struct buf {
    uint8_t *data;
    size_t len;
};

static char tmpdir[256];
static struct buf original;   /* an ELF file: this test binary */

static inline struct buf read_file(const char *path)
{
    struct buf b = {0};
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    b.len = (size_t)n;
    b.data = malloc(b.len + 4);
    assert_non_null(b.data);
    assert_int_equal(fread(b.data, 1, b.len, f), b.len);
    fclose(f);
    return b;
}

static inline void write_file(const char *path, const uint8_t *p, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, len, f), len);
    fclose(f);
}

/* Runs "TOOL < in > out" in tmpdir and returns out plus a size trailer of
 * trailer_size (the uncompressed size, as Linux's size_append writes it). */
static inline struct buf compress_with(const char *tool, const char *in, uint32_t trailer_size)
{
    char cmd[2048], out[512];
    snprintf(out, sizeof(out), "%s/payload", tmpdir);
    snprintf(cmd, sizeof(cmd), "%s < '%s' > '%s'", tool, in, out);
    assert_int_equal(system(cmd), 0);
    struct buf b = read_file(out);
    pvh_put_le32(b.data + b.len, trailer_size);
    b.len += 4;
    return b;
}

static inline struct buf compress_original(const char *tool)
{
    char in[512];
    snprintf(in, sizeof(in), "%s/original", tmpdir);
    return compress_with(tool, in, (uint32_t)original.len);
}

/* A gzip payload (zlib, level 1) of `head` followed by `zeros` zero bytes,
 * with a size trailer announcing trailer_size: a decompression bomb when
 * zeros is large. */
static inline struct buf gzip_bomb(const uint8_t *head, size_t head_len, size_t zeros, uint32_t trailer_size)
{
    z_stream zs = {0};
    assert_int_equal(deflateInit2(&zs, 1, Z_DEFLATED, 16 + MAX_WBITS, 9, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = head_len + zeros / 128 + (1 << 16); /* level 1 makes about 4.6 KB per MiB of zeros */
    struct buf b = {malloc(cap + 4), 0};
    assert_non_null(b.data);
    static uint8_t chunk[1 << 20];
    zs.next_out = b.data;
    zs.avail_out = (uInt)cap;
    zs.next_in = (Bytef *)(uintptr_t)head;
    zs.avail_in = (uInt)head_len;
    assert_int_equal(deflate(&zs, Z_NO_FLUSH), Z_OK);
    for (size_t left = zeros; left > 0;) {
        size_t n = left < sizeof(chunk) ? left : sizeof(chunk);
        zs.next_in = chunk;
        zs.avail_in = (uInt)n;
        assert_int_equal(deflate(&zs, Z_NO_FLUSH), Z_OK);
        assert_int_equal(zs.avail_in, 0);
        left -= n;
    }
    assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
    b.len = cap - zs.avail_out;
    deflateEnd(&zs);
    pvh_put_le32(b.data + b.len, trailer_size);
    b.len += 4;
    return b;
}

/* A minimal bzImage: one setup sector after the boot sector, boot protocol
 * 2.15, the payload right after the setup code (payload_offset 0). */
static inline struct buf make_bzimage(const struct buf *payload)
{
    struct buf b;
    b.len = 1024 + payload->len;
    b.data = calloc(1, b.len);
    assert_non_null(b.data);
    b.data[0x1f1] = 1;
    b.data[0x1fe] = 0x55;
    b.data[0x1ff] = 0xaa;
    memcpy(b.data + 0x202, "HdrS", 4);
    b.data[0x206] = 0x0f;
    b.data[0x207] = 0x02;
    pvh_put_le32(b.data + 0x248, 0);
    pvh_put_le32(b.data + 0x24c, (uint32_t)payload->len);
    memcpy(b.data + 1024, payload->data, payload->len);
    return b;
}

/* Writes a bzImage of payload p to tmpdir/name and its path to out. */
static inline void write_vmlinuz(const char *name, const struct buf *p, char *out, size_t cap)
{
    struct buf bz = make_bzimage(p);
    snprintf(out, cap, "%s/%s", tmpdir, name);
    write_file(out, bz.data, bz.len);
    free(bz.data);
}

/* The files in dir whose names start with prefix ("" for all). */
static inline int count_files(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && !strncmp(de->d_name, prefix, strlen(prefix)))
            n++;
    closedir(d);
    return n;
}

/* A field of /proc/self/status in KiB (VmRSS, VmHWM). */
static inline long status_kib(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    assert_non_null(f);
    char line[256];
    long v = -1;
    size_t n = strlen(field);
    while (fgets(line, sizeof(line), f))
        if (!strncmp(line, field, n) && line[n] == ':')
            v = strtol(line + n + 1, NULL, 10);
    fclose(f);
    return v;
}

/* Resets VmHWM (the peak RSS) to the current RSS. */
static inline void reset_peak_rss(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    assert_non_null(f);
    fputs("5", f);
    fclose(f);
}

static inline int fixture_setup(const char *name)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/pvh-test-%s-XXXXXX", name);
    if (!mkdtemp(tmpdir))
        return -1;
    char path[512];
    snprintf(path, sizeof(path), "%s/original", tmpdir);
    original = read_file("/proc/self/exe");
    write_file(path, original.data, original.len);
    return 0;
}

static inline int fixture_teardown(void)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    free(original.data);
    return system(cmd) == 0 ? 0 : -1;
}

#endif
