/* bench_load: times putting a kernel's PT_LOAD segments into fresh guest RAM
 * (512 MiB, as `pvhboot run` maps it) with pvh_guestmem_load, copying every
 * byte vs mapping whole pages from the file, the two alternated in one run.
 * The file is opened and parsed once (bench_parse_plan times that); each
 * iteration maps new guest RAM, loads, and unmaps, so page faults on fresh
 * memory count as they do in a real boot. The file should be in the page
 * cache (run it twice) for the figures to mean loading, not disk reads.
 * Usage: bench_load VMLINUX [ITERATIONS]. Prints min/median/max in µs. */
#include <stdio.h>
#include <stdlib.h>

#include "pvhboot/file.h"
#include "pvhboot/guestmem.h"
#include "pvhboot/image.h"
#include "timing.h"

#define GUEST_RAM (512ull << 20)

/* One load of every segment into fresh guest RAM; returns µs, or -1. */
static double load_once(const struct pvh_file *f, const struct pvh_image *img, enum pvh_load_mode mode,
                        uint64_t *mapped_total)
{
    struct pvh_guestmem mem;
    struct pvh_error err;
    if (pvh_guestmem_map(&mem, GUEST_RAM, 0, &err)) {
        fprintf(stderr, "bench_load: %s\n", err.msg);
        return -1;
    }
    *mapped_total = 0;
    double t0 = bench_now_us();
    for (size_t i = 0; i < img->nsegments; i++) {
        const struct pvh_segment *s = &img->seg[i];
        uint64_t mapped;
        if (pvh_guestmem_load(&mem, s->paddr, f, s->offset, s->filesz, mode, "segment",
                              &mapped, &err)) {
            fprintf(stderr, "bench_load: %s\n", err.msg);
            pvh_guestmem_unmap(&mem);
            return -1;
        }
        *mapped_total += mapped;
    }
    double t = bench_now_us() - t0;
    pvh_guestmem_unmap(&mem);
    return t;
}

int main(int argc, char **argv)
{
    int n = bench_iterations(argc, argv, "bench_load", 50, 100000);
    if (n < 0)
        return 2;
    struct pvh_error err;
    struct pvh_file f;
    struct pvh_image *img = malloc(sizeof(*img));
    double *t = calloc((size_t)n * 2, sizeof(double));
    if (!img || !t || pvh_file_open(&f, argv[1], &err) || pvh_image_parse(f.data, f.size, argv[1], img, &err)) {
        fprintf(stderr, "bench_load: %s\n", img && t ? err.msg : "out of memory");
        return 1;
    }
    uint64_t filesz = 0, mapped[2] = {0, 0};
    for (size_t i = 0; i < img->nsegments; i++)
        filesz += img->seg[i].filesz;
    for (int i = 0; i < n; i++) {
        t[i] = load_once(&f, img, PVH_LOAD_COPY, &mapped[0]);
        t[n + i] = load_once(&f, img, PVH_LOAD_MAP, &mapped[1]);
        if (t[i] < 0 || t[n + i] < 0)
            return 1;
    }
    printf("kernel %s: %zu PT_LOAD segments, %llu file bytes; 512 MiB guest RAM\n", argv[1], img->nsegments,
           (unsigned long long)filesz);
    double copy = bench_print_stats("load, copy", t, n);
    double map = bench_print_stats("load, map", t + n, n);
    printf("map: %llu bytes mapped, %llu copied; median copy/map = %.1f\n", (unsigned long long)mapped[1],
           (unsigned long long)(filesz - mapped[1]), map > 0 ? copy / map : 0.0);
    pvh_file_close(&f);
    free(img);
    free(t);
    return 0;
}
