/* bench_parse_plan: times what pvhboot does with a kernel file before any
 * guest memory is touched: open + map it, parse headers and notes, and plan
 * the guest layout (512 MiB, 1 vCPU, a 16 MiB initrd, a command line).
 * Usage: bench_parse_plan VMLINUX [ITERATIONS]. Prints min/median/max in µs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pvhboot/file.h"
#include "pvhboot/image.h"
#include "pvhboot/plan.h"
#include "timing.h"

/* One open + parse + plan; returns -1 with the reason printed. */
static int parse_and_plan(const char *path, struct pvh_image *img, struct pvh_plan *plan,
                          double *t_open, double *t_parse, double *t_plan)
{
    static const struct pvh_module_spec initrd = {"initrd", 16 * PVH_MiB, NULL};
    struct pvh_error err;
    struct pvh_file f;
    double t0 = bench_now_us();
    if (pvh_file_open(&f, path, &err) != 0) {
        fprintf(stderr, "bench_parse_plan: %s\n", err.msg);
        return -1;
    }
    double t1 = bench_now_us();
    int rc = pvh_image_parse(f.data, f.size, path, img, &err);
    double t2 = bench_now_us();
    struct pvh_plan_request req = {.ram_size = 512 * PVH_MiB, .ncpus = 1, .image = img,
                                   .cmdline = "console=ttyS0 root=/dev/ram0", .nmodules = 1,
                                   .modules = &initrd};
    if (rc == 0)
        rc = pvh_plan_build(&req, plan, &err);
    double t3 = bench_now_us();
    pvh_file_close(&f);
    if (rc != 0) {
        fprintf(stderr, "bench_parse_plan: %s\n", err.msg);
        return -1;
    }
    *t_open = t1 - t0;
    *t_parse = t2 - t1;
    *t_plan = t3 - t2;
    return 0;
}

int main(int argc, char **argv)
{
    int n = bench_iterations(argc, argv, "bench_parse_plan", 1000, 1000000);
    if (n < 0)
        return 2;
    double *t = calloc((size_t)n * 4, sizeof(double));
    struct pvh_image *img = malloc(sizeof(*img));
    struct pvh_plan *plan = malloc(sizeof(*plan));
    if (!t || !img || !plan)
        return 1;
    for (int i = 0; i < n; i++) {
        if (parse_and_plan(argv[1], img, plan, &t[i], &t[n + i], &t[2 * n + i]) != 0)
            return 1;
        t[3 * n + i] = t[i] + t[n + i] + t[2 * n + i];
    }
    printf("kernel %s: %zu PT_LOAD segments, PVH entry %#llx\n", argv[1], img->nsegments,
           (unsigned long long)plan->entry);
    bench_print_stats("open+mmap", t, n);
    bench_print_stats("parse (headers + notes)", t + n, n);
    bench_print_stats("plan (512 MiB, 1 vCPU, initrd)", t + 2 * n, n);
    bench_print_stats("open+parse+plan", t + 3 * n, n);
    free(t);
    free(img);
    free(plan);
    return 0;
}
