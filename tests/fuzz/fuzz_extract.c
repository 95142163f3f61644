/* libFuzzer harness for extract/: the first input byte picks the mode —
 * even: the rest is a kernel payload (compressed stream + size trailer) for
 * pvh_extract_payload with a 1 MiB output cap; odd: the rest is a whole
 * bzImage for pvh_vmlinuz_inspect and pvh_vmlinuz_extract. Every buffer the
 * library returns is freed; errors must be one line; what it accepts must be
 * an x86 ELF file (the ELF gate: ELF32 EM_386 or ELF64 EM_X86_64). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pvhboot/extract.h"

#define FUZZ_MAX_OUT ((size_t)1 << 20)

static void check_one_line(const struct pvh_error *err)
{
    if (memchr(err->msg, '\n', sizeof(err->msg)) || err->msg[0] == '\0')
        abort();
}

static int x86_elf(const uint8_t *p, size_t len)
{
    if (len < 52 || memcmp(p, "\x7f" "ELF", 4) != 0 || p[5] != 1)
        return 0;
    unsigned machine = p[18] | p[19] << 8;
    return (p[4] == 1 && machine == 3) || (p[4] == 2 && len >= 64 && machine == 62);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct pvh_error err = {0};
    uint8_t *out = NULL;
    size_t out_len = 0;
    int rc;
    if ((data[0] & 1) == 0) {
        rc = pvh_extract_payload(data + 1, size - 1, "fuzz", 0x1000, FUZZ_MAX_OUT, &out, &out_len, &err);
    } else {
        struct pvh_vmlinuz_info info;
        if (pvh_vmlinuz_inspect(data + 1, size - 1, "fuzz", &info, &err) == 0)
            (void)pvh_compression_name(info.comp);
        rc = pvh_vmlinuz_extract(data + 1, size - 1, "fuzz", FUZZ_MAX_OUT, &out, &out_len, &err);
    }
    if (rc == 0 && (out == NULL || out_len > FUZZ_MAX_OUT || !x86_elf(out, out_len)))
        abort();
    if (rc != 0)
        check_one_line(&err);
    free(out);
    return 0;
}
