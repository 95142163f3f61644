/* Test driver for the extract/ API, built by tests/extract/*.t (not part of
 * pvhboot): "inspect VMLINUZ" prints "<format> <uncompressed size>";
 * "cached VMLINUZ" prints "hit|miss <path>" (cache dir from XDG_CACHE_HOME,
 * extraction in the sandboxed child); "cached-hostile VMLINUZ" is the same
 * with a decoder that tries to open /etc/passwd in the child (must fail);
 * "extract VMLINUZ OUT" writes the vmlinux (in-process). Errors: one line,
 * exit 1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "pvhboot/extract.h"
#include "pvhboot/file.h"

static int inspect(const char *path, struct pvh_error *err)
{
    struct pvh_file f;
    struct pvh_vmlinuz_info info;
    if (pvh_file_open(&f, path, err) != 0)
        return -1;
    int rc = pvh_vmlinuz_inspect(f.data, f.size, path, &info, err);
    if (rc == 0)
        printf("%s %u\n", pvh_compression_name(info.comp), info.uncompressed_size);
    pvh_file_close(&f);
    return rc;
}

static int extract(const char *path, const char *out_path, struct pvh_error *err)
{
    struct pvh_file f;
    uint8_t *elf;
    size_t len;
    if (pvh_file_open(&f, path, err) != 0)
        return -1;
    int rc = pvh_vmlinuz_extract(f.data, f.size, path, PVH_EXTRACT_MAX_DEFAULT, &elf, &len, err);
    pvh_file_close(&f);
    if (rc != 0)
        return -1;
    FILE *out = fopen(out_path, "wb");
    if (!out || fwrite(elf, 1, len, out) != len)
        rc = pvh_fail(err, PVH_E_SYSTEM, "%s: cannot write", out_path);
    if (out && fclose(out) != 0)
        rc = pvh_fail(err, PVH_E_SYSTEM, "%s: cannot write", out_path);
    free(elf);
    return rc;
}

static void open_a_file(void)
{
    int fd = open("/etc/passwd", O_RDONLY);
    if (fd >= 0)
        close(fd);
}

static int cached(const char *path, bool hostile, struct pvh_error *err)
{
    struct pvh_extract_sandbox sb = {.child_hook = hostile ? open_a_file : NULL};
    struct pvh_cache_request req = {.vmlinuz = path, .sandbox = &sb};
    struct pvh_cache_result res;
    if (pvh_vmlinuz_cache_lookup(&req, &res, err) != 0)
        return -1;
    printf("%s %s\n", res.hit ? "hit" : "miss", res.path);
    close(res.fd);
    return 0;
}

int main(int argc, char **argv)
{
    struct pvh_error err = {0};
    int rc = -1;
    if (argc == 3 && strcmp(argv[1], "inspect") == 0) {
        rc = inspect(argv[2], &err);
    } else if (argc == 3 && strcmp(argv[1], "cached") == 0) {
        rc = cached(argv[2], false, &err);
    } else if (argc == 3 && strcmp(argv[1], "cached-hostile") == 0) {
        rc = cached(argv[2], true, &err);
    } else if (argc == 4 && strcmp(argv[1], "extract") == 0) {
        rc = extract(argv[2], argv[3], &err);
    } else {
        fprintf(stderr, "usage: vmlinuz-tool inspect|cached|cached-hostile VMLINUZ | extract VMLINUZ OUT\n");
        return 2;
    }
    if (rc != 0)
        fprintf(stderr, "vmlinuz-tool: %s\n", err.msg);
    return rc == 0 ? 0 : 1;
}
