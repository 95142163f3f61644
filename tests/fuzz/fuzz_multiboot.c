/* libFuzzer harness for lib/multiboot*.c: the input is a kernel file for
 * pvh_multiboot_find and pvh_mb1_parse (a successful plan must lie inside the
 * file and below 4 GiB), and its first bytes also drive the information
 * builder (memory map, modules, command line from the input). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pvhboot/multiboot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t take64(const uint8_t **p, size_t *left)
{
    uint64_t v = 0;
    for (int i = 0; i < 8 && *left > 0; i++, (*p)++, (*left)--)
        v |= (uint64_t)**p << (8 * i);
    return v;
}

static void check_plan(const struct pvh_mb1_load *load, size_t size)
{
    for (size_t i = 0; i < load->nsegments; i++) {
        const struct pvh_mb1_segment *s = &load->seg[i];
        if (s->offset > size || s->filesz > size - s->offset || s->filesz > s->memsz ||
            s->paddr + s->memsz > 0x100000000ull)
            abort();
    }
}

static void fuzz_builder(const uint8_t *p, size_t left)
{
    struct pvh_mb1_mmap mmap[8];
    struct pvh_mb1_module mods[4];
    size_t nmap = left ? *p % 9 : 0, nmods = left > 1 ? p[1] % 5 : 0;
    for (size_t i = 0; i < nmap; i++) {
        mmap[i].addr = take64(&p, &left);
        mmap[i].size = take64(&p, &left);
        mmap[i].type = (uint32_t)take64(&p, &left) % 6;
    }
    for (size_t i = 0; i < nmods; i++) {
        mods[i].paddr = take64(&p, &left);
        mods[i].size = take64(&p, &left);
        mods[i].string = i % 2 ? NULL : "mod";
    }
    char cmdline[64] = "";
    size_t n = left < sizeof(cmdline) - 1 ? left : sizeof(cmdline) - 1;
    memcpy(cmdline, p, n);
    struct pvh_mb1_info_request req = {mmap, nmap, cmdline, mods, nmods};
    size_t size = pvh_mb1_info_size(&req);
    if (size == 0)
        return;
    uint8_t *buf = malloc(size);
    struct pvh_error err = {0};
    (void)pvh_mb1_info_build(&req, 0x9000, buf, size, &err);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t off;
    int v = pvh_multiboot_find(data, size, &off);
    if (v && off >= size)
        abort();
    struct pvh_mb1_load load;
    struct pvh_error err = {0};
    int rc = pvh_mb1_parse(data, size, "fuzz", &load, &err);
    if (rc == 1)
        check_plan(&load, size);
    if (rc < 0 && memchr(err.msg, '\n', sizeof(err.msg)))
        abort();
    fuzz_builder(data, size < 256 ? size : 256);
    return 0;
}
