/* Writes the boot data a plan placed: start_info v1, the module list, the
 * command lines, the memory map (or, for a Multiboot 1 plan, the MBI:
 * lib/mb1_bootdata.c), the GDT, the ACPI tables and the BIOS data areas
 * (lib/bda.c), each through the
 * caller's write callback only (guest memory is never touched here). */
#include <stdlib.h>
#include <string.h>

#include "pvhboot/acpi.h"
#include "pvhboot/bootdata.h"
#include "pvhboot/entry.h"

static int write_string(pvh_guest_write_fn write, void *ctx, uint64_t gpa, const char *s,
                        struct pvh_error *err)
{
    if (!s || !gpa)
        return 0;
    return write(ctx, gpa, s, strlen(s) + 1, err);
}

static int write_modlist(const struct pvh_plan_request *req, const struct pvh_plan *plan,
                         pvh_guest_write_fn write, void *ctx, struct pvh_error *err)
{
    for (size_t i = 0; i < req->nmodules; i++) {
        struct hvm_modlist_entry e = {.paddr = plan->module_addr[i],
                                      .size = req->modules[i].size,
                                      .cmdline_paddr = plan->module_cmdline[i]};
        if (write(ctx, plan->modlist + i * sizeof(e), &e, sizeof(e), err) ||
            write_string(write, ctx, plan->module_cmdline[i], req->modules[i].cmdline, err))
            return -1;
    }
    return 0;
}

static int write_acpi(const struct pvh_plan_request *req, const struct pvh_plan *plan,
                      pvh_guest_write_fn write, void *ctx, struct pvh_error *err)
{
    struct pvh_acpi_config cfg;
    pvh_plan_acpi_config(plan, req->ncpus, &cfg);
    uint8_t *buf = malloc(plan->acpi_size);
    if (!buf)
        return pvh_fail(err, PVH_E_SYSTEM, "out of memory for %llu bytes of ACPI tables",
                        (unsigned long long)plan->acpi_size);
    size_t used;
    uint64_t rsdp;
    int rc = pvh_acpi_build(&cfg, plan->acpi_base, buf, plan->acpi_size, &used, &rsdp, err);
    if (rc == 0 && (rsdp != plan->rsdp || used != plan->acpi_size))
        rc = pvh_fail(err, PVH_E_NOFIT, "ACPI tables (%zu bytes) do not match the plan", used);
    if (rc == 0)
        rc = write(ctx, plan->acpi_base, buf, used, err);
    free(buf);
    return rc;
}

static int write_start_info(const struct pvh_plan_request *req, const struct pvh_plan *plan,
                            pvh_guest_write_fn write, void *ctx, struct pvh_error *err)
{
    struct hvm_start_info si = {
        .magic = HVM_START_MAGIC_VALUE,
        .version = HVM_START_INFO_VERSION,
        .nr_modules = (uint32_t)req->nmodules,
        .modlist_paddr = req->nmodules ? plan->modlist : 0,
        .cmdline_paddr = plan->cmdline,
        .rsdp_paddr = plan->rsdp,
        .memmap_paddr = plan->memmap,
        .memmap_entries = plan->memmap_entries,
    };
    if (write(ctx, plan->start_info, &si, sizeof(si), err) ||
        write_string(write, ctx, plan->cmdline, req->cmdline, err) ||
        write_modlist(req, plan, write, ctx, err))
        return -1;
    return write(ctx, plan->memmap, plan->map,
                 plan->memmap_entries * sizeof(struct hvm_memmap_table_entry), err);
}

int pvh_bootdata_write(const struct pvh_plan_request *req, const struct pvh_plan *plan,
                       pvh_guest_write_fn write, void *ctx, struct pvh_error *err)
{
    uint64_t gdt[PVH_GDT_ENTRIES];
    pvh_gdt_build(gdt);
    int rc = plan->protocol == PVH_BOOT_MULTIBOOT1 ? pvh_mb1_bootdata_write(req, plan, write, ctx, err)
                                                   : write_start_info(req, plan, write, ctx, err);
    if (rc || write(ctx, plan->gdt, gdt, sizeof(gdt), err) || pvh_bda_write(plan, write, ctx, err))
        return -1;
    return write_acpi(req, plan, write, ctx, err);
}
