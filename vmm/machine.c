/* The machine's devices: which virtio devices the configuration asks for
 * (in slot order: drives, the console, the rng), the legacy devices and
 * their hooks, each virtio device created on its planned slot and attached
 * (vdev.c), and the I/O thread they run on. */
#include <string.h>

#include "vm.h"

size_t pvh_machine_device_specs(const struct pvh_vm_config *cfg, struct pvh_device_spec *specs)
{
    size_t n = 0;
    for (size_t i = 0; i < cfg->ndrives && n < PVH_MAX_VIRTIO_DEVICES; i++)
        specs[n++] = (struct pvh_device_spec){PVH_VIRTIO_ID_BLOCK, cfg->drives[i].path};
    if (cfg->console == PVH_CONSOLE_VIRTIO && n < PVH_MAX_VIRTIO_DEVICES)
        specs[n++] = (struct pvh_device_spec){PVH_VIRTIO_ID_CONSOLE, "console"};
    bool rng = cfg->rng == PVH_RNG_ON || (cfg->rng == PVH_RNG_AUTO && n > 0);
    if (rng && n < PVH_MAX_VIRTIO_DEVICES)
        specs[n++] = (struct pvh_device_spec){PVH_VIRTIO_ID_RNG, "rng"};
    return n;
}

/* The device type's own part of virtio device `v` on its planned slot. */
static int create_virtio(struct pvh_vm *vm, struct pvh_vm_vdev *v, const struct pvh_mmio_device *slot,
                         const struct pvh_virtio_env *env, size_t drive, struct pvh_error *err)
{
    (void)vm, (void)v, (void)env, (void)drive;
    return pvh_fail(err, PVH_E_INPUT, "%s: not available in this build", pvh_virtio_id_name(slot->virtio_id));
}

static int create_virtio_devices(struct pvh_vm *vm, const struct pvh_plan *plan, struct pvh_error *err)
{
    size_t drive = 0;
    for (size_t i = 0; i < plan->ndevices; i++) {
        const struct pvh_mmio_device *slot = &plan->devices[i];
        struct pvh_vm_vdev *v = &vm->vdev[i];
        struct pvh_virtio_env env = pvh_vdev_env(&v->kvm, &vm->mem);
        if (create_virtio(vm, v, slot, &env, drive, err))
            return -1;
        vm->nvdev = i + 1;
        if (slot->virtio_id == PVH_VIRTIO_ID_BLOCK)
            drive++;
        if (pvh_vdev_attach(&v->kvm, &v->dev, &vm->dev.mmio, vm->cfg->dry_run ? -1 : vm->vm_fd, &vm->loop, err))
            return -1;
    }
    return 0;
}

int pvh_machine_devices_create(struct pvh_vm *vm, const struct pvh_plan *plan, struct pvh_error *err)
{
    vm->hooks = (struct pvh_io_hooks){vm, pvh_kvm_set_irq, pvh_vm_end, pvh_console_output};
    pvh_devices_init(&vm->dev, &vm->hooks);
    vm->devices_ready = true;
    if (pvh_eventloop_init(&vm->loop, err))
        return -1;
    vm->loop_ready = true;
    return create_virtio_devices(vm, plan, err);
}

int pvh_machine_start_io(struct pvh_vm *vm, struct pvh_error *err)
{
    return vm->nvdev ? pvh_eventloop_start(&vm->loop, err) : 0;
}

void pvh_machine_devices_destroy(struct pvh_vm *vm)
{
    if (vm->loop_ready)
        pvh_eventloop_stop(&vm->loop);
    for (size_t i = vm->nvdev; i-- > 0;) {
        struct pvh_vm_vdev *v = &vm->vdev[i];
        pvh_vdev_detach(&v->kvm);
        if (v->destroy)
            v->destroy(v);
        pvh_virtio_destroy(&v->dev);
    }
    vm->nvdev = 0;
    if (vm->loop_ready)
        pvh_eventloop_destroy(&vm->loop);
    vm->loop_ready = false;
    if (vm->devices_ready)
        pvh_devices_destroy(&vm->dev);
    vm->devices_ready = false;
}
