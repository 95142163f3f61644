/* libpvhboot in one program: parse a kernel image, plan where a guest's
 * memory holds it and an initrd, write the boot data into a buffer that
 * stands for guest RAM, and print the entry state a VMM would load.
 *
 *   cc plan-example.c $(pkg-config --cflags --libs pvhboot) -o plan-example
 *   ./plan-example vmlinux [INITRD_BYTES]
 *
 * Built against the installed headers by tests/install/install.t. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pvhboot/bootdata.h>
#include <pvhboot/entry.h>
#include <pvhboot/file.h>
#include <pvhboot/image.h>
#include <pvhboot/plan.h>

#define RAM (256 * PVH_MiB)

/* The write callback: guest-physical address -> offset in our buffer. */
static int write_ram(void *ctx, uint64_t gpa, const void *src, size_t len, struct pvh_error *err)
{
    uint8_t *ram = ctx;
    if (gpa > RAM || len > RAM - gpa)
        return pvh_fail(err, PVH_E_GUEST, "write of %zu bytes at %#" PRIx64 " outside RAM", len, gpa);
    memcpy(ram + gpa, src, len);
    return 0;
}

int main(int argc, char **argv)
{
    struct pvh_error err;
    struct pvh_file f;
    static struct pvh_image img; /* large: not on the stack */
    static struct pvh_plan plan;
    if (argc < 2) {
        fprintf(stderr, "usage: plan-example KERNEL [INITRD_BYTES]\n");
        return 2;
    }
    if (pvh_file_open(&f, argv[1], &err) || pvh_image_parse(f.data, f.size, argv[1], &img, &err)) {
        fprintf(stderr, "plan-example: %s\n", err.msg);
        return 2;
    }
    struct pvh_module_spec initrd = {"initrd", argc > 2 ? strtoull(argv[2], NULL, 10) : 4096, NULL};
    struct pvh_plan_request req = {.ram_size = RAM, .ncpus = 1, .image = &img, .cmdline = "console=ttyS0",
                                   .nmodules = 1, .modules = &initrd};
    uint8_t *ram = calloc(1, RAM);
    if (!ram || pvh_plan_build(&req, &plan, &err) || pvh_bootdata_write(&req, &plan, write_ram, ram, &err)) {
        fprintf(stderr, "plan-example: %s\n", ram ? err.msg : "out of memory");
        return 1;
    }
    struct pvh_entry_state st;
    pvh_plan_entry_state(&plan, &st);
    uint32_t magic;
    memcpy(&magic, ram + st.rbx, sizeof(magic));
    printf("protocol %s, %s\n", pvh_boot_protocol_name(img.protocol), img.protocol_reason);
    printf("entry %#" PRIx64 ", ebx %#" PRIx64 " (start_info magic %#" PRIx32 "), initrd at %#" PRIx64 "\n", st.rip,
           st.rbx, magic, plan.module_addr[0]);
    printf("memory map: %" PRIu32 " entries, RSDP at %#" PRIx64 "\n", plan.memmap_entries, plan.rsdp);
    free(ram);
    pvh_file_close(&f);
    return 0;
}
