/* pvh_vm_run: from a config to a finished VM. Reads the inputs and plans
 * the layout (inputs.c), creates the KVM machine and guest RAM, loads the
 * guest (load.c), opens the console (console.c), creates the devices and
 * the I/O thread (machine.c), the vCPUs with vCPU 0 in the entry state of
 * the image's protocol, drops privileges, opens the gdb stub's socket
 * (gdb.c, --gdb), runs (run.c) and collects the
 * statistics (stats.c). --dry-run stops before KVM: guest RAM is only
 * mapped, loaded and written, and the devices' files opened. */
#include <stdlib.h>
#include <string.h>

#include "pvhboot/bootdata.h"
#include "pvhboot/sandbox.h"
#include "snapshot.h"
#include "vm.h"

/* Guest RAM: registered with KVM, or (--dry-run) only mapped. */
static int setup_memory(struct pvh_vm *vm, const struct pvh_plan *plan, struct pvh_error *err)
{
    if (vm->cfg->dry_run)
        return pvh_guestmem_map(&vm->mem, plan->ram_low_end, plan->ram_high_size, err);
    return pvh_kvm_open(vm, err) || pvh_kvm_create_vm(vm, plan->ram_low_end, plan->ram_high_size, err) ? -1 : 0;
}

static int setup_machine(struct pvh_vm *vm, struct pvh_boot_inputs *in, struct pvh_vm_stats *st, struct pvh_error *err)
{
    struct pvh_entry_state entry;
    pvh_plan_entry_state(&in->plan, &entry);
    st->kernel_load = in->image.nsegments ? in->image.seg[0].paddr + (uint64_t)in->plan.kernel_shift : 0;
    st->entry = entry.rip;
    st->boot_info = entry.rbx;
    if (setup_memory(vm, &in->plan, err) || pvh_load_guest(vm, in, st, err))
        return -1;
    if (pvh_console_open(vm, err) || pvh_machine_devices_create(vm, in, err) ||
        pvh_vmgenid_boot(vm, in, err))
        return -1;
    if (vm->cfg->dry_run)
        return 0;
    if (pvh_vcpus_create(vm, err) || pvh_vcpu_set_entry(&vm->vcpu[0], &entry, err) ||
        pvh_snapshot_prepare(vm, err))
        return -1;
    pvh_kvm_close_device(vm); /* the VM and its vCPUs exist: the run needs no /dev/kvm */
    if (vm->cfg->drop_user && pvh_drop_privileges(vm->cfg->uid, vm->cfg->gid, err))
        return -1;
    /* after the drop: the socket belongs to the user who runs gdb */
    if (vm->cfg->gdb != PVH_GDB_OFF)
        return pvh_gdb_create(vm, in->image.elf_class == 64, err);
    return 0;
}


int pvh_vm_run(const struct pvh_vm_config *cfg, struct pvh_vm_result *res, struct pvh_error *err)
{
    struct pvh_vm *vm = malloc(sizeof(*vm)); /* pvh_vm_init sets what is read */
    struct pvh_boot_inputs *in = malloc(sizeof(*in)); /* pvh_inputs_read sets what is read */
    if (!vm || !in) {
        free(vm);
        free(in);
        return pvh_fail(err, PVH_E_SYSTEM, "out of memory");
    }
    pvh_vm_init(vm, cfg);
    struct pvh_proc_files pf;
    pvh_proc_files_open(&pf);
    res->end = 0;
    res->status = 0;
    memset(&res->stats, 0, sizeof(res->stats)); /* image and plan: --dry-run fills them */
    bool ready = pvh_inputs_read(cfg, in, err) == 0 && setup_machine(vm, in, &res->stats, err) == 0;
    if (ready)
        pvh_proc_files_open_pagemap(cfg, &pf);
    pvh_inputs_close(in, cfg->nmodules); /* loaded (mapped pages keep their own reference) */
    if (ready && cfg->dry_run) {
        res->end = PVH_END_DRY_RUN;
        res->image = in->image;
        res->plan = in->plan;
        pvh_stats_collect(vm, &pf, &res->stats);
        pvh_proc_files_close(&pf);
        pvh_vm_teardown(vm);
        free(in);
        return 0;
    }
    free(in);
    return pvh_vm_run_prepared(vm, ready, &pf, res, err);
}

int pvh_vm_run_prepared(struct pvh_vm *vm, bool ready, struct pvh_proc_files *pf, struct pvh_vm_result *res,
                        struct pvh_error *err)
{
    int rc = -1;
    if (ready && pvh_vm_start_and_wait(vm, err) == 0) {
        res->end = vm->result.end;
        res->status = vm->result.status;
        if (res->end == PVH_END_ERROR)
            *err = vm->end_err;
        pvh_stats_collect(vm, pf, &res->stats);
        rc = 0;
    }
    pvh_proc_files_close(pf);
    pvh_vm_teardown(vm);
    return rc;
}

void pvh_vm_teardown(struct pvh_vm *vm)
{
    const struct pvh_vm_config *cfg = vm->cfg;
    pvh_snapshot_close(vm);
    pvh_machine_devices_destroy(vm);
    pvh_console_close(vm);
    pvh_vcpus_destroy(vm);
    pvh_kvm_close(vm);
    if (cfg->control)
        pvh_vm_control_detach(cfg->control); /* a setup that failed: whoever waits learns it */
    pvh_vm_fini(vm);
    free(vm);
}
