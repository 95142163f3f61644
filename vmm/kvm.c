/* KVM itself: opening /dev/kvm with errors that say what to do, checking
 * the API version and each capability pvhboot needs, creating the VM with
 * its in-kernel interrupt controllers and PIT, and giving it guest RAM
 * (its writes logged, KVM_MEM_LOG_DIRTY_PAGES, with --snapshot-diff).
 * /dev/kvm is closed as soon as the VM and its vCPUs exist: the run needs
 * only their fds (and the CPUID set read from it, kept in memory). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vm.h"

/* Pages KVM needs in guest-physical space on Intel hosts (the real-mode TSS
 * and the identity map for unrestricted-guest-less CPUs): in the MMIO hole,
 * clear of the I/O APIC (0xfec00000) and local APIC (0xfee00000). */
#define PVH_KVM_IDENTITY_MAP 0xfeffc000u
#define PVH_KVM_TSS 0xfeffd000u

struct needed_cap {
    int cap;
    const char *name;
};

static const struct needed_cap needed_caps[] = {
    {KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"},
    {KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP"},
    {KVM_CAP_PIT2, "KVM_CAP_PIT2"},
    {KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR"},
    {KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID"},
    {KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT"},
    {KVM_CAP_IRQ_ROUTING, "KVM_CAP_IRQ_ROUTING"},
};

static int open_error(const char *dev, int e, struct pvh_error *err)
{
    if (e == ENOENT || e == ENODEV || e == ENXIO)
        return pvh_fail(err, PVH_E_SYSTEM, "%s: no such device — KVM is not available on this machine; see README", dev);
    if (e == EACCES || e == EPERM)
        return pvh_fail(err, PVH_E_SYSTEM, "%s: permission denied — add yourself to the kvm group", dev);
    return pvh_fail(err, PVH_E_SYSTEM, "%s: %s", dev, strerror(e));
}

int pvh_kvm_open(struct pvh_vm *vm, struct pvh_error *err)
{
    const char *dev = vm->cfg->kvm_device ? vm->cfg->kvm_device : "/dev/kvm";
    vm->kvm_fd = open(dev, O_RDWR | O_CLOEXEC);
    if (vm->kvm_fd < 0)
        return open_error(dev, errno, err);
    int version = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
    if (version < 0)
        return pvh_fail(err, PVH_E_SYSTEM, "%s: not a KVM device (KVM_GET_API_VERSION: %s); use /dev/kvm", dev,
                        strerror(errno));
    if (version != KVM_API_VERSION)
        return pvh_fail(err, PVH_E_SYSTEM, "%s: KVM API version %d, pvhboot needs %d", dev, version, KVM_API_VERSION);
    for (size_t i = 0; i < sizeof(needed_caps) / sizeof(needed_caps[0]); i++)
        if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, needed_caps[i].cap) <= 0)
            return pvh_fail(err, PVH_E_SYSTEM, "%s: this kernel's KVM lacks %s, which pvhboot needs", dev,
                            needed_caps[i].name);
    vm->run_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (vm->run_size <= 0)
        return pvh_fail(err, PVH_E_SYSTEM, "KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
    int max = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
    if (max <= 0)
        max = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
    if (max > 0 && vm->cfg->ncpus > (unsigned)max)
        return pvh_fail(err, PVH_E_INPUT, "--cpus %u: this host's KVM allows at most %d vCPUs", vm->cfg->ncpus, max);
    return 0;
}

static int set_memory(struct pvh_vm *vm, struct pvh_error *err)
{
    for (unsigned i = 0; i < PVH_MEM_SLOTS; i++) {
        const struct pvh_mem_slot *s = &vm->mem.slot[i];
        if (!s->host)
            continue;
        struct kvm_userspace_memory_region r = {
            .slot = i, .flags = vm->cfg->snapshot_diff ? KVM_MEM_LOG_DIRTY_PAGES : 0, /* --snapshot-diff */
            .guest_phys_addr = s->gpa, .memory_size = s->size, .userspace_addr = (uintptr_t)s->host};
        if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) != 0)
            return pvh_fail(err, PVH_E_SYSTEM, "KVM_SET_USER_MEMORY_REGION (slot %u, %llu MiB at %#llx): %s", i,
                            (unsigned long long)(s->size >> 20), (unsigned long long)s->gpa, strerror(errno));
    }
    return 0;
}

/* Interrupt routing as the MADT describes it (a PC's): ISA IRQ 0, the PIT,
 * reaches I/O APIC pin 2 (the MADT's IRQ0 -> GSI2 override); every other
 * GSI n is I/O APIC pin n; GSIs 0-15 also reach the 8259 PICs (not 2, the
 * cascade). KVM's default routing sends GSI 0 to pin 0, which the guest
 * would never unmask. */
static int set_irq_routing(struct pvh_vm *vm, struct pvh_error *err)
{
    enum { IOAPIC_PINS = 24, MAX_ROUTES = 48 };
    /* struct kvm_irq_routing ends in a flexible array: allocate it whole. */
    struct kvm_irq_routing *r = calloc(1, sizeof(*r) + MAX_ROUTES * sizeof(r->entries[0]));
    if (!r)
        return pvh_fail(err, PVH_E_SYSTEM, "out of memory");
    unsigned n = 0;
    for (unsigned gsi = 0; gsi < 16; gsi++) {
        if (gsi == 2)
            continue;
        r->entries[n++] = (struct kvm_irq_routing_entry){
            .gsi = gsi, .type = KVM_IRQ_ROUTING_IRQCHIP,
            .u.irqchip = {.irqchip = gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE, .pin = gsi % 8}};
    }
    for (unsigned gsi = 0; gsi < IOAPIC_PINS; gsi++) {
        if (gsi == 2)
            continue;
        r->entries[n++] = (struct kvm_irq_routing_entry){
            .gsi = gsi, .type = KVM_IRQ_ROUTING_IRQCHIP,
            .u.irqchip = {.irqchip = KVM_IRQCHIP_IOAPIC, .pin = gsi == 0 ? 2 : gsi}};
    }
    r->nr = n;
    int rc = ioctl(vm->vm_fd, KVM_SET_GSI_ROUTING, r);
    int e = errno;
    free(r);
    if (rc != 0)
        return pvh_fail(err, PVH_E_SYSTEM, "KVM_SET_GSI_ROUTING: %s", strerror(e));
    return 0;
}

int pvh_kvm_create_vm(struct pvh_vm *vm, uint64_t low_size, uint64_t high_size, struct pvh_error *err)
{
    vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
    if (vm->vm_fd < 0)
        return pvh_fail(err, PVH_E_SYSTEM, "KVM_CREATE_VM: %s", strerror(errno));
    if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)PVH_KVM_TSS) != 0)
        return pvh_fail(err, PVH_E_SYSTEM, "KVM_SET_TSS_ADDR: %s", strerror(errno));
    uint64_t identity = PVH_KVM_IDENTITY_MAP;
    if (ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &identity) != 0 && errno != EINVAL)
        return pvh_fail(err, PVH_E_SYSTEM, "KVM_SET_IDENTITY_MAP_ADDR: %s", strerror(errno));
    if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) != 0)
        return pvh_fail(err, PVH_E_SYSTEM, "KVM_CREATE_IRQCHIP: %s", strerror(errno));
    if (set_irq_routing(vm, err))
        return -1;
    struct kvm_pit_config pit = {.flags = 0};
    if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) != 0)
        return pvh_fail(err, PVH_E_SYSTEM, "KVM_CREATE_PIT2: %s", strerror(errno));
    if (pvh_guestmem_map(&vm->mem, low_size, high_size, err))
        return -1;
    if (vm->cfg->snapshot_diff && pvh_guestmem_track_dirty(&vm->mem, err))
        return -1;
    return set_memory(vm, err);
}

void pvh_kvm_set_irq(void *ctx, unsigned irq, int level)
{
    struct pvh_vm *vm = ctx;
    struct kvm_irq_level l = {.irq = irq, .level = (uint32_t)level};
    ioctl(vm->vm_fd, KVM_IRQ_LINE, &l);
}

void pvh_kvm_close_device(struct pvh_vm *vm)
{
    if (vm->kvm_fd >= 0)
        close(vm->kvm_fd);
    vm->kvm_fd = -1;
}

void pvh_kvm_close(struct pvh_vm *vm)
{
    pvh_guestmem_unmap(&vm->mem);
    if (vm->vm_fd >= 0)
        close(vm->vm_fd);
    vm->vm_fd = -1;
    pvh_kvm_close_device(vm);
}
