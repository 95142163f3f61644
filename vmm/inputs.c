/* The run's inputs: the kernel and module files opened (and checked once
 * parsed), the image parsed, and the plan built for them and for the
 * devices the configuration asks for. */
#include "vm.h"

#include "pvhboot/image.h"
#include "pvhboot/plan.h"

int pvh_inputs_read(const struct pvh_vm_config *cfg, struct pvh_boot_inputs *in, struct pvh_error *err)
{
    in->kernel = (struct pvh_file){.fd = -1};
    for (size_t i = 0; i < PVH_MAX_MODULES; i++)
        in->module[i] = (struct pvh_file){.fd = -1};
    in->ndevices = 0;
    if (pvh_file_open(&in->kernel, cfg->kernel, err))
        return -1;
    const char *name = cfg->kernel_name ? cfg->kernel_name : cfg->kernel;
    int parsed = pvh_image_parse(in->kernel.data, in->kernel.size, name, &in->image, err);
    if (pvh_file_check(&in->kernel, err) || parsed) /* a shrunk file's zeros would mislead the parser's diagnosis */
        return -1;
    for (size_t i = 0; i < cfg->nmodules; i++) {
        if (pvh_file_open(&in->module[i], cfg->modules[i].path, err))
            return -1;
        in->spec[i] = (struct pvh_module_spec){cfg->modules[i].path, in->module[i].size, cfg->modules[i].cmdline};
    }
    in->ndevices = pvh_machine_device_specs(cfg, in->devices);
    in->req = (struct pvh_plan_request){.ram_size = cfg->ram_size, .ncpus = cfg->ncpus, .image = &in->image,
                                        .cmdline = cfg->cmdline, .nmodules = cfg->nmodules, .modules = in->spec,
                                        .relocate = cfg->kaslr, .seed = cfg->seed, .ndevices = in->ndevices,
                                        .devices = in->devices};
    return pvh_plan_build(&in->req, &in->plan, err);
}

void pvh_inputs_close(struct pvh_boot_inputs *in, size_t nmodules)
{
    for (size_t i = 0; i < nmodules; i++)
        pvh_file_close(&in->module[i]);
    pvh_file_close(&in->kernel);
}
