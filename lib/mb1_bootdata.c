/* Multiboot 1 boot data from a plan: the MBI request (the plan's memory
 * map, its placed modules with their command lines as module strings, the
 * command line), its size for the planner, and its write into the guest. */
#include <string.h>

#include "pvhboot/bootdata.h"
#include "pvhboot/multiboot.h"

struct mb1_request {
    struct pvh_mb1_info_request info;
    struct pvh_mb1_mmap mmap[PVH_MAX_MEMMAP];
    struct pvh_mb1_module mods[PVH_MAX_MODULES];
};

static void fill_modules(const struct pvh_plan_request *req, const struct pvh_plan *plan,
                         struct mb1_request *r)
{
    size_t n = req->nmodules < PVH_MAX_MODULES ? req->nmodules : PVH_MAX_MODULES;
    for (size_t i = 0; i < n; i++)
        r->mods[i] = (struct pvh_mb1_module){.paddr = plan ? plan->module_addr[i] : 0,
                                             .size = req->modules[i].size,
                                             .string = req->modules[i].cmdline};
    r->info.mods = r->mods;
    r->info.nmods = n;
    r->info.cmdline = req->cmdline;
}

size_t pvh_mb1_plan_info_size(const struct pvh_plan_request *req)
{
    struct mb1_request r;
    memset(&r, 0, sizeof(r));
    if (req->nmodules > PVH_MAX_MODULES)
        return 0;
    fill_modules(req, NULL, &r);
    r.info.mmap = r.mmap;
    r.info.mmap_count = PVH_MAX_MEMMAP < PVH_MB1_MAX_MMAP ? PVH_MAX_MEMMAP : PVH_MB1_MAX_MMAP;
    return pvh_mb1_info_size(&r.info);
}

int pvh_mb1_bootdata_write(const struct pvh_plan_request *req, const struct pvh_plan *plan,
                           pvh_guest_write_fn write, void *ctx, struct pvh_error *err)
{
    struct mb1_request r;
    memset(&r, 0, sizeof(r));
    if (plan->memmap_entries > PVH_MAX_MEMMAP || req->nmodules > PVH_MAX_MODULES)
        return pvh_fail(err, PVH_E_INPUT, "Multiboot information: the plan has too many entries");
    fill_modules(req, plan, &r);
    for (uint32_t i = 0; i < plan->memmap_entries; i++)
        r.mmap[i] = (struct pvh_mb1_mmap){plan->map[i].addr, plan->map[i].size, plan->map[i].type};
    r.info.mmap = r.mmap;
    r.info.mmap_count = plan->memmap_entries;
    size_t size = pvh_mb1_info_size(&r.info);
    if (size == 0 || size > plan->mbi_size)
        return pvh_fail(err, PVH_E_NOFIT, "Multiboot information (%zu bytes) does not fit the %llu bytes planned",
                        size, (unsigned long long)plan->mbi_size);
    return pvh_mb1_info_write(&r.info, plan->mbi, write, ctx, err);
}
