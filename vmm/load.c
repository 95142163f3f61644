/* Loading the guest: kernel segments and modules into guest RAM (mapped
 * from their files or copied, as --load says), each file checked once its
 * bytes are in, then the boot data, all through the checked accessor. */
#include <stdio.h>

#include "pvhboot/bootdata.h"
#include "vm.h"

/* len bytes of f from offset into guest RAM at gpa (mapped or copied, as
 * --load says and the alignment allows), counted in the stats. */
static int load_file_bytes(struct pvh_vm *vm, uint64_t gpa, const struct pvh_file *f, uint64_t offset, uint64_t len,
                           const char *what, struct pvh_vm_stats *st, struct pvh_error *err)
{
    uint64_t mapped = 0;
    if (pvh_guestmem_load(&vm->mem, gpa, f, offset, len, vm->cfg->load, what, &mapped, err))
        return -1;
    st->bytes_mapped += mapped;
    st->bytes_copied += len - mapped;
    return 0;
}

/* Kernel segments (the bss stays zero: fresh anonymous memory), then the
 * modules, then the boot data. Each file is checked once its bytes are in:
 * a file that changed meanwhile fails the setup (pvh_file_check). */
int pvh_load_guest(struct pvh_vm *vm, struct pvh_boot_inputs *in, struct pvh_vm_stats *st, struct pvh_error *err)
{
    char what[64];
    uint64_t t0 = pvh_now_ns();
    for (size_t i = 0; i < in->image.nsegments; i++) {
        const struct pvh_segment *s = &in->image.seg[i];
        snprintf(what, sizeof(what), "%s: kernel segment %zu", in->kernel.path, i);
        if (load_file_bytes(vm, s->paddr + (uint64_t)in->plan.kernel_shift, &in->kernel, s->offset, s->filesz, what,
                            st, err))
            return -1;
    }
    if (pvh_file_check(&in->kernel, err))
        return -1;
    for (size_t i = 0; i < in->req.nmodules; i++) {
        const struct pvh_file *m = &in->module[i];
        snprintf(what, sizeof(what), "%s: module %zu", m->path, i);
        if (load_file_bytes(vm, in->plan.module_addr[i], m, 0, m->size, what, st, err) || pvh_file_check(m, err))
            return -1;
    }
    int rc = pvh_bootdata_write(&in->req, &in->plan, pvh_guestmem_write, &vm->mem, err);
    uint64_t t1 = pvh_now_ns();
    st->ns_load = t1 - t0;
    st->ns_loaded = t1 > vm->cfg->start_ns ? t1 - vm->cfg->start_ns : 0;
    return rc;
}
