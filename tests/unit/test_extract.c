/* extract/: every supported payload format, made in the setup by the Debian
 * command-line compressors from an ELF file (this test binary), decompressed
 * and compared byte for byte; size trailer, truncated, corrupt, unknown,
 * over-limit and non-ELF payloads; bzImage probing; SHA-256 (FIPS 180-2
 * vectors); the on-disk cache (miss then hit, under XDG_CACHE_HOME). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "pvhboot/extract.h"
#include "pvhboot/sha256.h"
#include "pvhboot/bytes.h"

struct buf {
    uint8_t *data;
    size_t len;
};

static char tmpdir[256];
static struct buf original;   /* an ELF file: this test binary */

static struct buf read_file(const char *path)
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

static void write_file(const char *path, const uint8_t *p, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, len, f), len);
    fclose(f);
}

/* Runs "TOOL < in > out" in tmpdir and returns out plus a size trailer of
 * trailer_size (the uncompressed size, as Linux's size_append writes it). */
static struct buf compress_with(const char *tool, const char *in, uint32_t trailer_size)
{
    char cmd[1024], out[512];
    snprintf(out, sizeof(out), "%s/payload", tmpdir);
    snprintf(cmd, sizeof(cmd), "%s < '%s' > '%s'", tool, in, out);
    assert_int_equal(system(cmd), 0);
    struct buf b = read_file(out);
    pvh_put_le32(b.data + b.len, trailer_size);
    b.len += 4;
    return b;
}

static struct buf compress_original(const char *tool)
{
    char in[512];
    snprintf(in, sizeof(in), "%s/original", tmpdir);
    return compress_with(tool, in, (uint32_t)original.len);
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/pvh-test-extract-XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    char path[512];
    snprintf(path, sizeof(path), "%s/original", tmpdir);
    original = read_file("/proc/self/exe");
    write_file(path, original.data, original.len);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    free(original.data);
    return system(cmd) == 0 ? 0 : -1;
}

struct case_ {
    const char *tool;
    enum pvh_compression comp;
};

static const struct case_ CASES[] = {
    {"gzip -9 -c", PVH_COMP_GZIP},
    {"xz --check=crc32 -c", PVH_COMP_XZ},
    {"lzma -c", PVH_COMP_LZMA},
    {"lz4 -l -c", PVH_COMP_LZ4},
    {"zstd -q -c", PVH_COMP_ZSTD},
    {"bzip2 -c", PVH_COMP_BZIP2},
    {"lzop -c", PVH_COMP_LZO},
};
#define NCASES (sizeof(CASES) / sizeof(CASES[0]))

static void roundtrip(const struct case_ *c)
{
    struct buf p = compress_original(c->tool);
    assert_int_equal(pvh_compression_detect(p.data, p.len), c->comp);
    uint8_t *out = NULL;
    size_t out_len = 0;
    struct pvh_error err = {0};
    int rc = pvh_extract_payload(p.data, p.len, "k", 0x1000, PVH_EXTRACT_MAX_DEFAULT, &out, &out_len, &err);
    if (rc != 0)
        fail_msg("%s: %s", c->tool, err.msg);
    assert_int_equal(out_len, original.len);
    assert_memory_equal(out, original.data, original.len);
    free(out);
    free(p.data);
}

static void every_format_decompresses_to_the_original(void **state)
{
    (void)state;
    for (size_t i = 0; i < NCASES; i++)
        roundtrip(&CASES[i]);
}

static void expect_error(const struct buf *p, size_t max_out, const char *want)
{
    uint8_t *out = (uint8_t *)1;
    size_t out_len = 7;
    struct pvh_error err = {0};
    assert_int_equal(pvh_extract_payload(p->data, p->len, "vmlinuz", 0x4000, max_out, &out, &out_len, &err), -1);
    assert_null(out);
    assert_int_equal(out_len, 0);
    if (!strstr(err.msg, want) || !strstr(err.msg, "vmlinuz: ") || !strstr(err.msg, "0x4000") ||
        strchr(err.msg, '\n'))
        fail_msg("message \"%s\" lacks \"%s\", the file name or the offset", err.msg, want);
}

static void a_smaller_size_trailer_is_expansion_beyond_it(void **state)
{
    (void)state;
    for (size_t i = 0; i < NCASES; i++) {
        struct buf p = compress_original(CASES[i].tool);
        pvh_put_le32(p.data + p.len - 4, (uint32_t)original.len - 1);
        expect_error(&p, PVH_EXTRACT_MAX_DEFAULT, "expands beyond");
        free(p.data);
    }
}

static void a_larger_size_trailer_is_a_size_mismatch(void **state)
{
    (void)state;
    for (size_t i = 0; i < NCASES; i++) {
        struct buf p = compress_original(CASES[i].tool);
        pvh_put_le32(p.data + p.len - 4, (uint32_t)original.len + 100);
        expect_error(&p, PVH_EXTRACT_MAX_DEFAULT, "its size trailer says");
        free(p.data);
    }
}

static void a_truncated_stream_is_reported_as_truncated(void **state)
{
    (void)state;
    for (size_t i = 0; i < NCASES; i++) {
        struct buf p = compress_original(CASES[i].tool);
        size_t half = (p.len - 4) / 2;
        pvh_put_le32(p.data + half, (uint32_t)original.len);
        p.len = half + 4;
        expect_error(&p, PVH_EXTRACT_MAX_DEFAULT, "truncated");
        free(p.data);
    }
}

/* Formats with integrity checks: flipped bytes in the middle are caught. */
static void corrupt_data_is_reported_as_corrupt(void **state)
{
    (void)state;
    for (size_t i = 0; i < NCASES; i++) {
        if (CASES[i].comp == PVH_COMP_LZ4 || CASES[i].comp == PVH_COMP_LZMA)
            continue; /* no checksums: covered by the fuzzer (no crash) */
        struct buf p = compress_original(CASES[i].tool);
        for (size_t k = 0; k < 16; k++)
            p.data[p.len / 2 + k] ^= 0x55;
        uint8_t *out;
        size_t out_len;
        struct pvh_error err = {0};
        assert_int_equal(pvh_extract_payload(p.data, p.len, "vmlinuz", 0x4000, PVH_EXTRACT_MAX_DEFAULT,
                                             &out, &out_len, &err), -1);
        /* a damaged bzip2 block may decode past the trailer before its CRC is seen */
        if (!strstr(err.msg, "corrupt") && !strstr(err.msg, "mismatch") && !strstr(err.msg, "expands beyond"))
            fail_msg("%s: \"%s\"", CASES[i].tool, err.msg);
        free(p.data);
    }
}

static void an_unknown_magic_is_named_in_hex(void **state)
{
    (void)state;
    uint8_t bytes[16] = {0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 1, 0};
    struct buf p = {bytes, sizeof(bytes)};
    expect_error(&p, PVH_EXTRACT_MAX_DEFAULT, "magic bytes de ad be ef 01 02 03 04");
    p.len = 4;
    expect_error(&p, PVH_EXTRACT_MAX_DEFAULT, "too short");
}

static void a_trailer_over_the_limit_is_refused_before_decoding(void **state)
{
    (void)state;
    struct buf p = compress_original("gzip -9 -c");
    expect_error(&p, original.len - 1, "limit");
    pvh_put_le32(p.data + p.len - 4, 0xffffffffu);
    expect_error(&p, PVH_EXTRACT_MAX_DEFAULT, "over the 1073741824-byte limit");
    free(p.data);
}

static void a_non_elf_result_is_refused(void **state)
{
    (void)state;
    char in[512];
    snprintf(in, sizeof(in), "%s/text", tmpdir);
    const char text[] = "not a kernel, just some text\n";
    write_file(in, (const uint8_t *)text, sizeof(text) - 1);
    struct buf p = compress_with("zstd -q -c", in, sizeof(text) - 1);
    expect_error(&p, PVH_EXTRACT_MAX_DEFAULT, "not an ELF file (starts 6e 6f 74 20)");
    free(p.data);
}

/* A minimal bzImage: one setup sector after the boot sector, boot protocol
 * 2.15, the payload right after the setup code (payload_offset 0). */
static struct buf make_bzimage(const struct buf *payload)
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

static void a_bzimage_is_inspected_and_extracted(void **state)
{
    (void)state;
    struct buf p = compress_original("lz4 -l -c");
    struct buf bz = make_bzimage(&p);
    struct pvh_vmlinuz_info info;
    struct pvh_error err = {0};
    assert_int_equal(pvh_vmlinuz_inspect(bz.data, bz.len, "bz", &info, &err), 0);
    assert_int_equal(info.protocol, 0x020f);
    assert_int_equal(info.payload_offset, 1024);
    assert_int_equal(info.payload_length, p.len);
    assert_int_equal(info.comp, PVH_COMP_LZ4);
    assert_string_equal(pvh_compression_name(info.comp), "lz4");
    assert_int_equal(info.uncompressed_size, original.len);
    uint8_t *out;
    size_t out_len;
    assert_int_equal(pvh_vmlinuz_extract(bz.data, bz.len, "bz", PVH_EXTRACT_MAX_DEFAULT, &out, &out_len, &err), 0);
    assert_int_equal(out_len, original.len);
    assert_memory_equal(out, original.data, out_len);
    free(out);
    assert_int_equal(pvh_vmlinuz_inspect(original.data, original.len, "elf", &info, &err), -1);
    assert_non_null(strstr(err.msg, "elf: not a bzImage"));
    free(bz.data);
    free(p.data);
}

static void hex_of(const uint8_t d[PVH_SHA256_SIZE], char out[65])
{
    for (int i = 0; i < PVH_SHA256_SIZE; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void sha256_matches_the_fips_180_2_vectors(void **state)
{
    (void)state;
    char hex[65];
    pvh_sha256_hex("abc", 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    pvh_sha256_hex(two, strlen(two), hex);
    assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    pvh_sha256_hex("", 0, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    /* one million 'a', fed in uneven pieces */
    struct pvh_sha256 s;
    uint8_t chunk[997], d[PVH_SHA256_SIZE];
    memset(chunk, 'a', sizeof(chunk));
    pvh_sha256_init(&s);
    size_t left = 1000000;
    for (size_t step = 1; left > 0; step = step * 7 % 997 + 1) {
        size_t n = step < left ? step : left;
        pvh_sha256_update(&s, chunk, n);
        left -= n;
    }
    pvh_sha256_final(&s, d);
    hex_of(d, hex);
    assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

/* The cache file name comes from sha256sum(1), an independent implementation. */
static void expected_cache_path(const char *vmlinuz, const char *dir, char *out, size_t cap)
{
    char cmd[1024], hex[65] = "";
    snprintf(cmd, sizeof(cmd), "sha256sum '%s'", vmlinuz);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    assert_int_equal(fscanf(f, "%64s", hex), 1);
    pclose(f);
    snprintf(out, cap, "%s/vmlinux-%s", dir, hex);
}

static void the_second_lookup_hits_the_cache(void **state)
{
    (void)state;
    struct buf p = compress_original("zstd -q -c");
    struct buf bz = make_bzimage(&p);
    char vmlinuz[512], xdg[512], dir[600], want[800], path[800];
    snprintf(vmlinuz, sizeof(vmlinuz), "%s/vmlinuz", tmpdir);
    snprintf(xdg, sizeof(xdg), "%s/xdg", tmpdir);
    snprintf(dir, sizeof(dir), "%s/pvhboot", xdg);
    write_file(vmlinuz, bz.data, bz.len);
    setenv("XDG_CACHE_HOME", xdg, 1);
    char got_dir[600];
    struct pvh_error err = {0};
    assert_int_equal(pvh_cache_dir(got_dir, sizeof(got_dir), &err), 0);
    assert_string_equal(got_dir, dir);
    expected_cache_path(vmlinuz, dir, want, sizeof(want));

    bool hit = true;
    if (pvh_vmlinuz_cached_elf(vmlinuz, NULL, path, sizeof(path), &hit, &err) != 0)
        fail_msg("%s", err.msg);
    assert_false(hit);
    assert_string_equal(path, want);
    struct buf cached = read_file(path);
    assert_int_equal(cached.len, original.len);
    assert_memory_equal(cached.data, original.data, cached.len);
    free(cached.data);

    assert_int_equal(pvh_vmlinuz_cached_elf(vmlinuz, NULL, path, sizeof(path), &hit, &err), 0);
    assert_true(hit);
    assert_string_equal(path, want);
    /* the shortcut from the vmlinuz's stat identity names the same entry */
    char cmd[1400], link_target[200] = "";
    snprintf(cmd, sizeof(cmd), "readlink '%s'/stat-*", dir);
    FILE *rl = popen(cmd, "r");
    assert_non_null(rl);
    assert_int_equal(fscanf(rl, "%199s", link_target), 1);
    pclose(rl);
    assert_string_equal(link_target, strrchr(want, '/') + 1);

    /* a damaged (short) cache file is not a hit: it is rewritten */
    truncate(path, 10);
    assert_int_equal(pvh_vmlinuz_cached_elf(vmlinuz, NULL, path, sizeof(path), &hit, &err), 0);
    assert_false(hit);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal((size_t)st.st_size, original.len);

    /* new content at the same path: a new key, a miss, then a hit */
    struct buf p2 = compress_original("gzip -9 -c");
    struct buf bz2 = make_bzimage(&p2);
    write_file(vmlinuz, bz2.data, bz2.len);
    char want2[800];
    expected_cache_path(vmlinuz, dir, want2, sizeof(want2));
    assert_string_not_equal(want2, want);
    assert_int_equal(pvh_vmlinuz_cached_elf(vmlinuz, NULL, path, sizeof(path), &hit, &err), 0);
    assert_false(hit);
    assert_string_equal(path, want2);
    assert_int_equal(pvh_vmlinuz_cached_elf(vmlinuz, NULL, path, sizeof(path), &hit, &err), 0);
    assert_true(hit);
    assert_string_equal(path, want2);
    free(bz2.data);
    free(p2.data);
    free(bz.data);
    free(p.data);
}

static void a_relative_xdg_cache_home_falls_back_to_home(void **state)
{
    (void)state;
    char dir[600];
    struct pvh_error err = {0};
    setenv("XDG_CACHE_HOME", "relative/dir", 1);
    setenv("HOME", "/home/someone", 1);
    assert_int_equal(pvh_cache_dir(dir, sizeof(dir), &err), 0);
    assert_string_equal(dir, "/home/someone/.cache/pvhboot");
    unsetenv("XDG_CACHE_HOME");
    unsetenv("HOME");
    assert_int_equal(pvh_cache_dir(dir, sizeof(dir), &err), -1);
    assert_non_null(strstr(err.msg, "XDG_CACHE_HOME"));
}

static void a_bad_vmlinuz_fails_the_cache_lookup_with_one_line(void **state)
{
    (void)state;
    char path[800];
    bool hit;
    struct pvh_error err = {0};
    char bad[512];
    snprintf(bad, sizeof(bad), "%s/original", tmpdir);
    assert_int_equal(pvh_vmlinuz_cached_elf(bad, tmpdir, path, sizeof(path), &hit, &err), -1);
    assert_non_null(strstr(err.msg, "not a bzImage"));
    assert_int_equal(pvh_vmlinuz_cached_elf("/nonexistent/vmlinuz", tmpdir, path, sizeof(path), &hit, &err), -1);
    assert_non_null(strstr(err.msg, "/nonexistent/vmlinuz: "));
}

static void a_cache_directory_others_can_write_is_refused(void **state)
{
    (void)state;
    struct buf p = compress_original("lz4 -l -c");
    struct buf bz = make_bzimage(&p);
    char vmlinuz[512], dir[512], path[800];
    snprintf(vmlinuz, sizeof(vmlinuz), "%s/vmlinuz-open", tmpdir);
    snprintf(dir, sizeof(dir), "%s/open-cache", tmpdir);
    write_file(vmlinuz, bz.data, bz.len);
    assert_int_equal(mkdir(dir, 0700), 0);
    assert_int_equal(chmod(dir, 0777), 0);
    bool hit;
    struct pvh_error err = {0};
    assert_int_equal(pvh_vmlinuz_cached_elf(vmlinuz, dir, path, sizeof(path), &hit, &err), -1);
    assert_non_null(strstr(err.msg, "writable by others"));
    assert_int_equal(chmod(dir, 0700), 0);
    assert_int_equal(pvh_vmlinuz_cached_elf(vmlinuz, dir, path, sizeof(path), &hit, &err), 0);
    assert_false(hit);
    free(bz.data);
    free(p.data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_format_decompresses_to_the_original),
        cmocka_unit_test(a_smaller_size_trailer_is_expansion_beyond_it),
        cmocka_unit_test(a_larger_size_trailer_is_a_size_mismatch),
        cmocka_unit_test(a_truncated_stream_is_reported_as_truncated),
        cmocka_unit_test(corrupt_data_is_reported_as_corrupt),
        cmocka_unit_test(an_unknown_magic_is_named_in_hex),
        cmocka_unit_test(a_trailer_over_the_limit_is_refused_before_decoding),
        cmocka_unit_test(a_non_elf_result_is_refused),
        cmocka_unit_test(a_bzimage_is_inspected_and_extracted),
        cmocka_unit_test(sha256_matches_the_fips_180_2_vectors),
        cmocka_unit_test(the_second_lookup_hits_the_cache),
        cmocka_unit_test(a_relative_xdg_cache_home_falls_back_to_home),
        cmocka_unit_test(a_bad_vmlinuz_fails_the_cache_lookup_with_one_line),
        cmocka_unit_test(a_cache_directory_others_can_write_is_refused),
    };
    return cmocka_run_group_tests_name("extract", tests, setup, teardown);
}
