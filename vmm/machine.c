/* The machine's devices: which virtio devices the configuration asks for
 * (in slot order: drives, NICs, the console, the rng, vsock), the legacy devices and
 * their hooks (the RTC told the RAM sizes, its timer a timerfd), each
 * virtio device created on its planned slot and attached (vdev.c), and the
 * I/O thread they run on (with the gdb stub's socket). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "tap.h"
#include "virtio/blk.h"
#include "virtio/console.h"
#include "virtio/devconfig.h"
#include "virtio/net.h"
#include "virtio/rng.h"
#include "virtio/vsock.h"
#include "pvhboot/sandbox.h"
#include "vm.h"

size_t pvh_machine_device_specs(const struct pvh_vm_config *cfg, struct pvh_device_spec *specs)
{
    size_t n = 0;
    for (size_t i = 0; i < cfg->ndrives && n < PVH_MAX_VIRTIO_DEVICES; i++)
        specs[n++] = (struct pvh_device_spec){PVH_VIRTIO_ID_BLOCK, cfg->drives[i].path};
    for (size_t i = 0; i < cfg->nnets && n < PVH_MAX_VIRTIO_DEVICES; i++)
        specs[n++] = (struct pvh_device_spec){PVH_VIRTIO_ID_NET, cfg->nets[i].tap};
    if (cfg->console == PVH_CONSOLE_VIRTIO && n < PVH_MAX_VIRTIO_DEVICES)
        specs[n++] = (struct pvh_device_spec){PVH_VIRTIO_ID_CONSOLE, "console"};
    bool rng = cfg->rng == PVH_RNG_ON || (cfg->rng == PVH_RNG_AUTO && (n > 0 || cfg->vsock.uds_path));
    if (rng && n < PVH_MAX_VIRTIO_DEVICES)
        specs[n++] = (struct pvh_device_spec){PVH_VIRTIO_ID_RNG, "rng"};
    if (cfg->vsock.uds_path && n < PVH_MAX_VIRTIO_DEVICES)
        specs[n++] = (struct pvh_device_spec){PVH_VIRTIO_ID_VSOCK, "vsock"};
    return n;
}

static void destroy_rng(void *impl)
{
    pvh_rng_destroy(impl);
    free(impl);
}

static int create_rng(struct pvh_vm_vdev *v, const struct pvh_mmio_device *slot, const struct pvh_virtio_env *env,
                      struct pvh_error *err)
{
    struct pvh_rng *r = malloc(sizeof(*r)); /* pvh_rng_init sets every field */
    struct pvh_rng_config cfg = {0};
    if (!r)
        return pvh_fail(err, PVH_E_SYSTEM, "out of memory");
    if (pvh_rng_init(r, &cfg, env, slot->base, slot->gsi, err)) {
        free(r);
        return -1;
    }
    v->dev = &r->dev, v->impl = r, v->destroy = destroy_rng;
    return 0;
}

static void destroy_vsock(void *impl)
{
    pvh_vsock_destroy(impl);
    free(impl);
}

/* vsock's UNIX socket is bound now, before the sandbox; accepting on it and
 * connecting to <uds>_<port> happen inside it (pvh_sandbox_allow_unix_sockets). */
static int create_vsock(struct pvh_vm *vm, struct pvh_vm_vdev *v, const struct pvh_mmio_device *slot,
                        const struct pvh_virtio_env *env, struct pvh_error *err)
{
    struct pvh_vsock *s = malloc(sizeof(*s)); /* pvh_vsock_init sets every field */
    struct pvh_vsock_config cfg = {.guest_cid = vm->cfg->vsock.cid, .uds_path = vm->cfg->vsock.uds_path,
                                   .listen = !vm->cfg->dry_run};
    if (!s)
        return pvh_fail(err, PVH_E_SYSTEM, "out of memory");
    if (pvh_vsock_init(s, &cfg, env, slot->base, slot->gsi, err)) {
        free(s);
        return -1;
    }
    v->dev = &s->dev, v->impl = s, v->destroy = destroy_vsock;
    pvh_sandbox_allow_unix_sockets();
    return 0;
}

static void destroy_vconsole(void *impl)
{
    pvh_vconsole_destroy(impl);
    free(impl);
}

static int create_vconsole(struct pvh_vm *vm, struct pvh_vm_vdev *v, const struct pvh_mmio_device *slot,
                           const struct pvh_virtio_env *env, struct pvh_error *err)
{
    struct pvh_vconsole *c = malloc(sizeof(*c)); /* pvh_vconsole_init sets every field */
    struct pvh_vconsole_config cfg = {.output = pvh_vconsole_output, .ctx = vm};
    if (!c)
        return pvh_fail(err, PVH_E_SYSTEM, "out of memory");
    if (pvh_vconsole_init(c, &cfg, env, slot->base, slot->gsi, err)) {
        free(c);
        return -1;
    }
    v->dev = &c->dev, v->impl = c, v->destroy = destroy_vconsole;
    vm->vconsole = &c->dev;
    return 0;
}

/* A drive: the file opened and locked (blk.c), its transport beside it. */
struct vm_drive {
    struct pvh_virtio_dev dev;
    struct pvh_blk *blk;
};

static void destroy_drive(void *impl)
{
    struct vm_drive *d = impl;
    pvh_blk_close(d->blk);
    pvh_virtio_destroy(&d->dev);
    free(d);
}

static int create_drive(struct pvh_vm_vdev *v, const struct pvh_vm_drive *cfg, const struct pvh_mmio_device *slot,
                        const struct pvh_virtio_env *env, struct pvh_error *err)
{
    struct vm_drive *d = malloc(sizeof(*d)); /* pvh_virtio_init sets the transport */
    if (!d)
        return pvh_fail(err, PVH_E_SYSTEM, "out of memory");
    struct pvh_blk_config bc = {.path = cfg->path, .read_only = cfg->read_only, .id = cfg->id,
                                .cache = cfg->cache == PVH_CACHE_NONE ? PVH_BLK_CACHE_NONE : PVH_BLK_CACHE_WRITEBACK};
    if (pvh_blk_open(&d->blk, &bc, err)) {
        free(d);
        return -1;
    }
    pvh_virtio_init(&d->dev, pvh_blk_device_ops(d->blk), d->blk, env, slot->base, slot->gsi);
    v->dev = &d->dev, v->impl = d, v->destroy = destroy_drive;
    return 0;
}

/* The drive whose configured id is `id`: the k-th virtio-blk device is
 * cfg->drives[k] (they are created in that order). NULL: none. */
static struct vm_drive *find_drive(struct pvh_vm *vm, const char *id, struct pvh_vm_vdev **vdev)
{
    size_t k = 0;
    for (size_t i = 0; i < vm->nvdev; i++) {
        if (vm->vdev[i].destroy != destroy_drive)
            continue;
        const char *cid = k < vm->cfg->ndrives ? vm->cfg->drives[k].id : NULL;
        k++;
        if (cid && !strcmp(cid, id)) {
            *vdev = &vm->vdev[i];
            return vm->vdev[i].impl;
        }
    }
    return NULL;
}

int pvh_machine_swap_drive(struct pvh_vm *vm, const char *id, const char *path, struct pvh_error *err)
{
    struct pvh_vm_vdev *v;
    struct vm_drive *d = find_drive(vm, id, &v);
    if (!d)
        return pvh_fail(err, PVH_E_INPUT, "drives: no drive '%s' in the running VM", id);
    pthread_mutex_lock(&d->dev.lock); /* no request in flight while the file changes */
    int rc = pvh_blk_swap(d->blk, path, err);
    if (rc == 0) {
        v->name = pvh_blk_name(d->blk); /* the caller's string for the old path may go */
        pvh_virtio_config_changed(&d->dev);
    }
    pthread_mutex_unlock(&d->dev.lock);
    return rc;
}

void pvh_machine_vconfig(struct pvh_vm *vm, struct pvh_vconfig *vc)
{
    uint64_t capacity[PVH_MAX_DRIVES] = {0};
    const char *path[PVH_MAX_DRIVES] = {0};
    size_t k = 0;
    for (size_t i = 0; i < vm->nvdev && k < PVH_MAX_DRIVES; i++) {
        if (vm->vdev[i].destroy != destroy_drive)
            continue;
        struct vm_drive *d = vm->vdev[i].impl;
        capacity[k] = pvh_blk_capacity(d->blk);
        path[k++] = vm->vdev[i].name; /* the drive's file now (PATCH /drives may have changed it) */
    }
    pvh_vconfig_from(vc, vm->cfg, capacity);
    for (size_t i = 0; i < k && i < vc->ndrives; i++)
        vc->drives[i].path = path[i];
}

int pvh_machine_check_drives(struct pvh_vm *vm, const struct pvh_vconfig *vc, struct pvh_error *err)
{
    size_t k = 0;
    for (size_t i = 0; i < vm->nvdev && k < vc->ndrives; i++) {
        if (vm->vdev[i].destroy != destroy_drive)
            continue;
        struct vm_drive *d = vm->vdev[i].impl;
        uint64_t have = pvh_blk_capacity(d->blk), want = vc->capacity[k++];
        if (have != want)
            return pvh_fail(err, PVH_E_INPUT, "drive %s: %llu sectors of 512 bytes; the snapshot's guest was told "
                            "%llu (a drive keeps its size across a restore)", vm->vdev[i].name,
                            (unsigned long long)have, (unsigned long long)want);
    }
    return 0;
}

/* A NIC: its TAP opened (or created), the device on it. */
struct vm_nic {
    struct pvh_tap tap;
    struct pvh_net *net;
};

static void destroy_nic(void *impl)
{
    struct vm_nic *nic = impl;
    pvh_net_destroy(nic->net);
    pvh_tap_close(&nic->tap);
    free(nic);
}

static int create_nic(struct pvh_vm_vdev *v, const struct pvh_vm_net *cfg, const struct pvh_mmio_device *slot,
                      const struct pvh_virtio_env *env, struct pvh_error *err)
{
    struct vm_nic *nic = calloc(1, sizeof(*nic));
    if (!nic)
        return pvh_fail(err, PVH_E_SYSTEM, "out of memory");
    if (pvh_tap_open(&nic->tap, cfg->tap, cfg->mtu, NULL, err)) {
        free(nic);
        return -1;
    }
    struct pvh_net_config nc = {.fd = nic->tap.fd, .vnet_hdr = nic->tap.vnet_hdr, .tun_offloads = nic->tap.offloads,
                                .mtu = (uint16_t)(nic->tap.mtu > PVH_NET_MAX_MTU ? PVH_NET_MAX_MTU : nic->tap.mtu)};
    memcpy(nc.mac, cfg->mac, 6);
    if (!cfg->has_mac)
        pvh_net_default_mac(cfg->tap, nc.mac);
    if (pvh_net_init(&nic->net, &nc, env, slot->base, slot->gsi, err)) {
        pvh_tap_close(&nic->tap);
        free(nic);
        return -1;
    }
    v->dev = pvh_net_dev(nic->net), v->impl = nic, v->destroy = destroy_nic;
    return 0;
}

/* The device type's own part of virtio device `v` on its planned slot;
 * drive and nic are the indices of the drive or NIC it serves. */
static int create_virtio(struct pvh_vm *vm, struct pvh_vm_vdev *v, const struct pvh_mmio_device *slot,
                         const struct pvh_virtio_env *env, size_t drive, size_t nic, struct pvh_error *err)
{
    switch (slot->virtio_id) {
    case PVH_VIRTIO_ID_BLOCK: return create_drive(v, &vm->cfg->drives[drive], slot, env, err);
    case PVH_VIRTIO_ID_NET: return create_nic(v, &vm->cfg->nets[nic], slot, env, err);
    case PVH_VIRTIO_ID_RNG: return create_rng(v, slot, env, err);
    case PVH_VIRTIO_ID_CONSOLE: return create_vconsole(vm, v, slot, env, err);
    case PVH_VIRTIO_ID_VSOCK: return create_vsock(vm, v, slot, env, err);
    default:
        return pvh_fail(err, PVH_E_INPUT, "%s: not available in this build", pvh_virtio_id_name(slot->virtio_id));
    }
}

static int create_virtio_devices(struct pvh_vm *vm, const struct pvh_plan *plan, const char *const *plan_names,
                                 struct pvh_error *err)
{
    size_t drive = 0, nic = 0;
    for (size_t i = 0; i < plan->ndevices; i++) {
        const struct pvh_mmio_device *slot = &plan->devices[i];
        struct pvh_vm_vdev *v = &vm->vdev[i];
        struct pvh_virtio_env env = pvh_vdev_env(&v->kvm, &vm->mem);
        v->kvm.loop = &vm->loop; /* the device may watch fds as it is created */
        v->name = plan_names[i];
        if (create_virtio(vm, v, slot, &env, drive, nic, err))
            return -1;
        vm->nvdev = i + 1;
        if (slot->virtio_id == PVH_VIRTIO_ID_BLOCK)
            drive++;
        if (slot->virtio_id == PVH_VIRTIO_ID_NET)
            nic++;
        if (pvh_vdev_attach(&v->kvm, v->dev, &vm->dev.mmio, vm->cfg->dry_run ? -1 : vm->vm_fd, &vm->loop, err))
            return -1;
    }
    return 0;
}

/* The RTC's timer: its next interrupt deadline, absolute on CLOCK_MONOTONIC
 * (the RTC's own clock); the I/O thread brings the RTC up to that time. */
static void rtc_rearm(void *ctx, uint64_t deadline_ns)
{
    struct pvh_vm *vm = ctx;
    struct itimerspec its = {{0, 0}, {0, 0}}; /* zero: disarmed */
    if (deadline_ns != PVH_RTC_NO_DEADLINE)
        its.it_value = (struct timespec){(time_t)(deadline_ns / PVH_RTC_NS_PER_S),
                                         (long)(deadline_ns % PVH_RTC_NS_PER_S)};
    timerfd_settime(vm->rtc_timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void on_rtc_timer(void *arg, uint32_t events)
{
    (void)events;
    struct pvh_vm *vm = arg;
    struct pvh_rtc *r = &vm->dev.rtc;
    uint64_t expirations;
    if (read(vm->rtc_timer_fd, &expirations, sizeof(expirations)) < 0) {
        /* EAGAIN: the deadline moved before we ran; the RTC catches up to now all the same */
    }
    pvh_rtc_advance(r, r->clock.monotonic_ns(r->clock.ctx));
}

/* The RTC: the RAM sizes in its CMOS memory; for a run, its timerfd on the
 * I/O thread (created here, before the sandbox). */
static int setup_rtc(struct pvh_vm *vm, const struct pvh_plan *plan, struct pvh_error *err)
{
    struct pvh_rtc_machine m = {plan->ram_low_end, plan->ram_high_size, vm->cfg->ncpus};
    pvh_rtc_set_machine(&vm->dev.rtc, &m);
    if (vm->cfg->dry_run)
        return 0;
    vm->rtc_timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (vm->rtc_timer_fd < 0)
        return pvh_fail(err, PVH_E_SYSTEM, "the RTC's timerfd: %s", strerror(errno));
    if (pvh_eventloop_watch(&vm->loop, vm->rtc_timer_fd, EPOLLIN, on_rtc_timer, vm, err)) {
        close(vm->rtc_timer_fd);
        return -1;
    }
    vm->rtc_timer = true;
    pvh_rtc_set_timer(&vm->dev.rtc, rtc_rearm, vm);
    return 0;
}

int pvh_machine_devices_create(struct pvh_vm *vm, const struct pvh_boot_inputs *in, struct pvh_error *err)
{
    const char *names[PVH_MAX_VIRTIO_DEVICES];
    for (size_t i = 0; i < in->ndevices; i++)
        names[i] = in->devices[i].name;
    vm->hooks = (struct pvh_io_hooks){vm, pvh_kvm_set_irq, pvh_vm_end, pvh_console_output,
                                      vm->cfg->debugcon != PVH_DEBUGCON_NONE ? pvh_debugcon_output : NULL};
    pvh_devices_init(&vm->dev, &vm->hooks);
    vm->devices_ready = true;
    if (pvh_eventloop_init(&vm->loop, err))
        return -1;
    vm->loop_ready = true;
    if (setup_rtc(vm, &in->plan, err))
        return -1;
    return create_virtio_devices(vm, &in->plan, names, err);
}

/* The I/O thread runs whenever something waits on it: virtio devices, the RTC's timer. */
int pvh_machine_start_io(struct pvh_vm *vm, struct pvh_error *err)
{
    return vm->nvdev || vm->gdb || vm->rtc_timer ? pvh_eventloop_start(&vm->loop, err) : 0;
}

void pvh_machine_devices_destroy(struct pvh_vm *vm)
{
    if (vm->loop_ready)
        pvh_eventloop_stop(&vm->loop);
    pvh_gdb_destroy(vm); /* its watches are gone with the loop's thread */
    if (vm->rtc_timer) {
        pvh_rtc_set_timer(&vm->dev.rtc, NULL, NULL);
        close(vm->rtc_timer_fd);
        vm->rtc_timer = false;
    }
    for (size_t i = vm->nvdev; i-- > 0;) {
        struct pvh_vm_vdev *v = &vm->vdev[i];
        pvh_vdev_detach(&v->kvm);
        v->destroy(v->impl);
    }
    vm->nvdev = 0;
    vm->vconsole = NULL;
    if (vm->loop_ready)
        pvh_eventloop_destroy(&vm->loop);
    vm->loop_ready = false;
    if (vm->devices_ready)
        pvh_devices_destroy(&vm->dev);
    vm->devices_ready = false;
}
