/* vCPUs: creation with their shared kvm_run pages, CPUID from what KVM
 * supports (hypervisor leaves included) with each vCPU's APIC id, and vCPU
 * 0's registers set to exactly the entry state (PVH or Multiboot 1). Secondary vCPUs keep
 * KVM's reset state and wait for the guest's INIT/SIPI. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vm.h"

#define CPUID_MAX_ENTRIES 256

static int load_supported_cpuid(struct pvh_vm *vm, struct pvh_error *err)
{
    vm->cpuid = calloc(1, sizeof(*vm->cpuid) + CPUID_MAX_ENTRIES * sizeof(struct kvm_cpuid_entry2));
    if (!vm->cpuid)
        return pvh_fail(err, PVH_E_SYSTEM, "out of memory");
    vm->cpuid->nent = CPUID_MAX_ENTRIES;
    if (ioctl(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, vm->cpuid) != 0)
        return pvh_fail(err, PVH_E_SYSTEM, "KVM_GET_SUPPORTED_CPUID: %s", strerror(errno));
    return 0;
}

/* The supported set with this vCPU's APIC id in leaf 1 and leaves 0xb/0x1f. */
static int set_cpuid(struct pvh_vcpu *v, struct pvh_error *err)
{
    const struct kvm_cpuid2 *sup = v->vm->cpuid;
    size_t bytes = sizeof(*sup) + sup->nent * sizeof(sup->entries[0]);
    struct kvm_cpuid2 *c = malloc(bytes);
    if (!c)
        return pvh_fail(err, PVH_E_SYSTEM, "out of memory");
    memcpy(c, sup, bytes);
    for (uint32_t i = 0; i < c->nent; i++) {
        struct kvm_cpuid_entry2 *e = &c->entries[i];
        if (e->function == 1) {
            e->ebx = (e->ebx & 0x00ffffffu) | (v->id << 24);
            e->ecx |= 1u << 31; /* running on a hypervisor */
        }
        if (e->function == 0xb || e->function == 0x1f)
            e->edx = v->id;
    }
    int rc = ioctl(v->fd, KVM_SET_CPUID2, c);
    free(c);
    if (rc != 0)
        return pvh_fail(err, PVH_E_SYSTEM, "KVM_SET_CPUID2 (vCPU %u): %s", v->id, strerror(errno));
    return 0;
}

static int create_vcpu(struct pvh_vm *vm, unsigned id, struct pvh_error *err)
{
    struct pvh_vcpu *v = &vm->vcpu[id];
    *v = (struct pvh_vcpu){.vm = vm, .id = id, .fd = -1};
    v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
    if (v->fd < 0)
        return pvh_fail(err, PVH_E_SYSTEM, "KVM_CREATE_VCPU %u: %s", id, strerror(errno));
    v->run_size = (size_t)vm->run_size;
    void *run = mmap(NULL, v->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
    if (run == MAP_FAILED)
        return pvh_fail(err, PVH_E_SYSTEM, "mmap of vCPU %u's kvm_run: %s", id, strerror(errno));
    v->run = run;
    return set_cpuid(v, err);
}

int pvh_vcpus_create(struct pvh_vm *vm, struct pvh_error *err)
{
    if (load_supported_cpuid(vm, err))
        return -1;
    for (unsigned i = 0; i < vm->ncpus; i++)
        if (create_vcpu(vm, i, err))
            return -1;
    return 0;
}

static void to_kvm_segment(struct kvm_segment *k, const struct pvh_segment_reg *s)
{
    *k = (struct kvm_segment){.base = s->base, .limit = s->limit, .selector = s->selector, .type = s->type,
                              .present = s->present, .dpl = s->dpl, .db = s->db, .s = s->s, .l = s->l,
                              .g = s->g, .avl = s->avl, .unusable = s->unusable};
}

int pvh_vcpu_set_entry(struct pvh_vcpu *v, const struct pvh_entry_state *st, struct pvh_error *err)
{
    struct kvm_sregs sregs;
    if (ioctl(v->fd, KVM_GET_SREGS, &sregs) != 0)
        return pvh_fail(err, PVH_E_SYSTEM, "KVM_GET_SREGS: %s", strerror(errno));
    to_kvm_segment(&sregs.cs, &st->cs);
    to_kvm_segment(&sregs.ds, &st->ds);
    to_kvm_segment(&sregs.es, &st->es);
    to_kvm_segment(&sregs.fs, &st->fs);
    to_kvm_segment(&sregs.gs, &st->gs);
    to_kvm_segment(&sregs.ss, &st->ss);
    to_kvm_segment(&sregs.tr, &st->tr);
    to_kvm_segment(&sregs.ldt, &st->ldt);
    sregs.gdt.base = st->gdt_base;
    sregs.gdt.limit = st->gdt_limit;
    sregs.idt.base = st->idt_base;
    sregs.idt.limit = st->idt_limit;
    sregs.cr0 = st->cr0;
    sregs.cr3 = st->cr3;
    sregs.cr4 = st->cr4;
    sregs.efer = st->efer;
    if (ioctl(v->fd, KVM_SET_SREGS, &sregs) != 0)
        return pvh_fail(err, PVH_E_SYSTEM, "KVM_SET_SREGS: %s", strerror(errno));
    struct kvm_regs regs = {.rip = st->rip, .rax = st->rax, .rbx = st->rbx, .rflags = st->rflags};
    if (ioctl(v->fd, KVM_SET_REGS, &regs) != 0)
        return pvh_fail(err, PVH_E_SYSTEM, "KVM_SET_REGS: %s", strerror(errno));
    return 0;
}

/* A vCPU never created (--dry-run, a setup that failed first) has fd -1
 * and no kvm_run (pvh_vm_init): nothing is closed or unmapped for it. */
void pvh_vcpus_destroy(struct pvh_vm *vm)
{
    for (unsigned i = 0; i < vm->ncpus; i++) {
        struct pvh_vcpu *v = &vm->vcpu[i];
        if (v->run)
            munmap(v->run, v->run_size);
        if (v->fd >= 0)
            close(v->fd);
        v->run = NULL;
        v->fd = -1;
    }
    free(vm->cpuid);
    vm->cpuid = NULL;
}
