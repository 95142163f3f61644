/* Taking a snapshot (snapshot.h): the files opened and the machine checked
 * before the sandbox, the snapshot port a guest asks through, and, with
 * every vCPU parked outside KVM_RUN and the I/O thread held between two
 * callbacks (no device request, packet or interrupt half done or still to
 * come), the state file (pvhboot/snapfile.h: MACHINE, CPUID, one VCPU per
 * vCPU, VM, one DEVICE per bus device, MEMORY, VIRTIO) and the memory file:
 * guest RAM slot after slot, a page of zeros never written (a hole), both
 * synced before the snapshot counts as taken. */
#include "snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "pvhboot/bytes.h"
#include "pvhboot/layout.h"
#include "pvhboot/snapfile.h"
#include "vcpu_state.h"
#include "virtio/devconfig.h"

#define DEVICE_STATE_MAX (64u << 10)

/* ---- the snapshot port ---- */

static uint64_t snapshot_port_read(void *dev, uint64_t off, unsigned size)
{
    (void)dev, (void)off, (void)size;
    return ~0ull;
}

/* On the vCPU that wrote it: this vCPU parks at the top of its loop (its
 * OUT completed first), main sees the request, parks the others and saves. */
static void snapshot_port_write(void *dev, uint64_t off, uint64_t value, unsigned size)
{
    struct pvh_vm *vm = dev;
    if (off != 0 || size != 4 || value != PVH_SNAPSHOT_MAGIC)
        return;
    pthread_mutex_lock(&vm->end_lock);
    atomic_store(&vm->paused, true);
    atomic_store(&vm->snap_requested, true);
    pthread_cond_broadcast(&vm->end_cond);
    pthread_mutex_unlock(&vm->end_lock);
}

static const struct pvh_dev_ops snapshot_port_ops = {
    .name = "snapshot-port", .read = snapshot_port_read, .write = snapshot_port_write};

/* ---- the devices ---- */

static void list_bus(const struct pvh_bus *b, struct pvh_snap_devices *d)
{
    for (size_t i = 0; i < b->n; i++) {
        const struct pvh_bus_range *r = &b->r[i];
        bool seen = r->ops == &snapshot_port_ops;
        for (size_t k = 0; k < d->n && !seen; k++)
            seen = d->r[k]->dev == r->dev && d->r[k]->ops == r->ops; /* a device on several ranges */
        if (!seen && d->n < PVH_SNAP_MAX_DEVICES)
            d->r[d->n++] = r;
    }
}

void pvh_snap_devices_list(struct pvh_vm *vm, struct pvh_snap_devices *d)
{
    d->n = 0;
    list_bus(&vm->dev.pio, d);
    list_bus(&vm->dev.mmio, d);
}

static int check_devices(const struct pvh_snap_devices *d, struct pvh_error *err)
{
    for (size_t i = 0; i < d->n; i++)
        if (!d->r[i]->ops->save || !d->r[i]->ops->restore)
            return pvh_fail(err, PVH_E_INPUT, "snapshot: device %s (at %#llx) cannot be saved yet (no save/restore "
                            "operations); this machine cannot be snapshotted", d->r[i]->ops->name,
                            (unsigned long long)d->r[i]->base);
    return 0;
}

/* ---- setup ---- */

static int open_output(const char *path, const char *what, int *fd, struct pvh_error *err)
{
    *fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (*fd < 0)
        return pvh_fail(err, PVH_E_INPUT, "%s %s: %s", what, path, strerror(errno));
    return 0;
}

int pvh_snapshot_prepare(struct pvh_vm *vm, struct pvh_error *err)
{
    const struct pvh_vm_config *cfg = vm->cfg;
    if (!cfg->snapshot_file)
        return 0;
    if (cfg->snapshot_on_port &&
        pvh_bus_register(&vm->dev.pio, PVH_SNAPSHOT_PORT, 4, &snapshot_port_ops, vm, NULL, err))
        return -1;
    struct pvh_snap_devices d;
    pvh_snap_devices_list(vm, &d);
    if (check_devices(&d, err))
        return -1;
    vm->snap_info = malloc(sizeof(*vm->snap_info));
    if (!vm->snap_info)
        return pvh_fail(err, PVH_E_SYSTEM, "out of memory");
    if (pvh_vcpu_state_info_read(vm->kvm_fd, vm->vm_fd, vm->snap_info, err))
        return -1;
    return open_output(cfg->snapshot_file, "--snapshot-file", &vm->snap_state_fd, err) ||
                   open_output(cfg->snapshot_mem_file, "--mem-file", &vm->snap_mem_fd, err)
               ? -1
               : 0;
}

void pvh_snapshot_close(struct pvh_vm *vm)
{
    if (vm->snap_state_fd >= 0)
        close(vm->snap_state_fd);
    if (vm->snap_mem_fd >= 0)
        close(vm->snap_mem_fd);
    vm->snap_state_fd = vm->snap_mem_fd = -1;
    free(vm->snap_info);
    vm->snap_info = NULL;
}

/* ---- the sections ---- */

static int put_machine(struct pvh_snap_writer *w, struct pvh_vm *vm, const struct pvh_snap_devices *d,
                       struct pvh_error *err)
{
    size_t len = 32 + d->n * PVH_SNAP_DEVICE_NAME;
    uint8_t *b = calloc(1, len);
    if (!b)
        return pvh_fail(err, PVH_E_SYSTEM, "out of memory");
    pvh_put_le32(b, PVH_SNAP_MACHINE_VERSION);
    pvh_put_le32(b + 4, vm->ncpus);
    pvh_put_le64(b + 8, vm->mem.slot[0].host ? vm->mem.slot[0].size : 0);
    pvh_put_le64(b + 16, vm->mem.slot[1].host ? vm->mem.slot[1].size : 0);
    pvh_put_le32(b + 24, (uint32_t)d->n);
    for (size_t i = 0; i < d->n; i++)
        strncpy((char *)b + 32 + i * PVH_SNAP_DEVICE_NAME, d->r[i]->ops->name, PVH_SNAP_DEVICE_NAME - 1);
    int rc = pvh_snap_put(w, PVH_SNAP_MACHINE, 0, b, len, err);
    free(b);
    return rc;
}

static int put_cpuid(struct pvh_snap_writer *w, const struct kvm_cpuid2 *c, struct pvh_error *err)
{
    size_t len = 8 + (size_t)c->nent * PVH_SNAP_CPUID_ENTRY;
    uint8_t *b = calloc(1, len);
    if (!b)
        return pvh_fail(err, PVH_E_SYSTEM, "out of memory");
    pvh_put_le32(b, c->nent);
    for (uint32_t i = 0; i < c->nent; i++) {
        const struct kvm_cpuid_entry2 *e = &c->entries[i];
        const uint32_t v[] = {e->function, e->index, e->flags, e->eax, e->ebx, e->ecx, e->edx};
        for (size_t k = 0; k < sizeof(v) / sizeof(v[0]); k++)
            pvh_put_le32(b + 8 + i * PVH_SNAP_CPUID_ENTRY + 4 * k, v[k]);
    }
    int rc = pvh_snap_put(w, PVH_SNAP_CPUID, 0, b, len, err);
    free(b);
    return rc;
}

static int put_vcpu(struct pvh_snap_writer *w, struct pvh_vm *vm, unsigned id, struct pvh_error *err)
{
    struct pvh_vcpu_state st;
    int rc = pvh_vcpu_state_get(vm->vcpu[id].fd, id, vm->snap_info, &st, err);
    uint8_t *b = rc == 0 ? malloc(pvh_vcpu_state_size(&st)) : NULL;
    if (rc == 0 && !b)
        rc = pvh_fail(err, PVH_E_SYSTEM, "out of memory");
    if (rc == 0) {
        pvh_vcpu_state_encode(&st, b);
        rc = pvh_snap_put(w, PVH_SNAP_VCPU, id, b, pvh_vcpu_state_size(&st), err);
    }
    free(b);
    pvh_vcpu_state_free(&st);
    return rc;
}

static int put_vm(struct pvh_snap_writer *w, struct pvh_vm *vm, struct pvh_error *err)
{
    struct pvh_vm_kvm_state st;
    uint8_t b[sizeof(st)];
    if (pvh_vm_kvm_state_get(vm->vm_fd, &st, err))
        return -1;
    if (vm->clock_saved)
        st.clock = vm->paused_clock; /* where the guest's clock stopped at the pause */
    pvh_vm_kvm_state_encode(&st, b);
    return pvh_snap_put(w, PVH_SNAP_VM, 0, b, pvh_vm_kvm_state_size(), err);
}

static int put_devices(struct pvh_snap_writer *w, const struct pvh_snap_devices *d, struct pvh_error *err)
{
    uint8_t *b = malloc(DEVICE_STATE_MAX);
    if (!b)
        return pvh_fail(err, PVH_E_SYSTEM, "out of memory");
    int rc = 0;
    for (size_t i = 0; i < d->n && rc == 0; i++) {
        const struct pvh_bus_range *r = d->r[i];
        size_t len = 0;
        if (r->lock)
            pthread_mutex_lock(r->lock);
        rc = r->ops->save(r->dev, b, DEVICE_STATE_MAX, &len, err);
        if (r->lock)
            pthread_mutex_unlock(r->lock);
        if (rc == 0 && len > DEVICE_STATE_MAX)
            rc = pvh_fail(err, PVH_E_SYSTEM, "snapshot: device %s saved more than it was given", r->ops->name);
        if (rc == 0)
            rc = pvh_snap_put(w, PVH_SNAP_DEVICE, (uint32_t)i, b, len, err);
    }
    free(b);
    return rc;
}

static int put_memory(struct pvh_snap_writer *w, const struct pvh_vm *vm, struct pvh_error *err)
{
    uint8_t b[8 + PVH_MEM_SLOTS * 24] = {0};
    uint64_t offset = 0;
    pvh_put_le32(b, PVH_MEM_SLOTS);
    for (int i = 0; i < PVH_MEM_SLOTS; i++) {
        const struct pvh_mem_slot *s = &vm->mem.slot[i];
        uint64_t size = s->host ? s->size : 0;
        pvh_put_le64(b + 8 + i * 24, s->gpa);
        pvh_put_le64(b + 16 + i * 24, size);
        pvh_put_le64(b + 24 + i * 24, offset);
        offset += size;
    }
    return pvh_snap_put(w, PVH_SNAP_MEMORY, 0, b, sizeof(b), err);
}

/* What restore needs to build the same virtio devices (devconfig.h). */
static int put_virtio(struct pvh_snap_writer *w, struct pvh_vm *vm, struct pvh_error *err)
{
    struct pvh_vconfig *vc = malloc(sizeof(*vc));
    uint8_t *b = malloc(PVH_VCONFIG_MAX_BYTES);
    size_t len = 0;
    int rc = vc && b ? 0 : pvh_fail(err, PVH_E_SYSTEM, "out of memory");
    if (rc == 0) {
        pvh_machine_vconfig(vm, vc);
        rc = pvh_vconfig_encode(vc, b, PVH_VCONFIG_MAX_BYTES, &len, err);
    }
    if (rc == 0)
        rc = pvh_snap_put(w, PVH_SNAP_VIRTIO, 0, b, len, err);
    free(vc);
    free(b);
    return rc;
}

/* ---- the files ---- */

static int write_all(int fd, const uint8_t *p, size_t len, uint64_t offset, const char *what, struct pvh_error *err)
{
    while (len > 0) {
        ssize_t n = pwrite(fd, p, len, (off_t)offset);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return pvh_fail(err, PVH_E_SYSTEM, "snapshot: writing %s: %s", what, n < 0 ? strerror(errno) : "no space");
        p += n, len -= (size_t)n, offset += (uint64_t)n;
    }
    return 0;
}

static bool page_is_zero(const uint8_t *p)
{
    return p[0] == 0 && memcmp(p, p + 1, PVH_PAGE_SIZE - 1) == 0;
}

/* One slot at offset: runs of non-zero pages written, zero pages left as holes. */
static int write_slot(int fd, const struct pvh_mem_slot *s, uint64_t offset, struct pvh_error *err)
{
    uint64_t run = 0, len = 0; /* the current run of pages to write */
    for (uint64_t at = 0; at < s->size; at += PVH_PAGE_SIZE) {
        bool zero = page_is_zero(s->host + at);
        if (!zero && len == 0)
            run = at;
        if (!zero)
            len += PVH_PAGE_SIZE;
        if ((zero || at + PVH_PAGE_SIZE == s->size) && len > 0) {
            if (write_all(fd, s->host + run, len, offset + run, "the memory file", err))
                return -1;
            len = 0;
        }
    }
    return 0;
}

static int write_memory(struct pvh_vm *vm, struct pvh_error *err)
{
    int fd = vm->snap_mem_fd;
    uint64_t offset = 0;
    if (ftruncate(fd, 0) != 0)
        return pvh_fail(err, PVH_E_SYSTEM, "snapshot: truncating the memory file: %s", strerror(errno));
    for (int i = 0; i < PVH_MEM_SLOTS; i++) {
        const struct pvh_mem_slot *s = &vm->mem.slot[i];
        if (!s->host)
            continue;
        if (write_slot(fd, s, offset, err))
            return -1;
        offset += s->size;
    }
    if (ftruncate(fd, (off_t)offset) != 0 || fsync(fd) != 0)
        return pvh_fail(err, PVH_E_SYSTEM, "snapshot: the memory file: %s", strerror(errno));
    return 0;
}

static int write_state(struct pvh_vm *vm, const uint8_t *data, size_t len, struct pvh_error *err)
{
    if (ftruncate(vm->snap_state_fd, 0) != 0)
        return pvh_fail(err, PVH_E_SYSTEM, "snapshot: truncating the state file: %s", strerror(errno));
    if (write_all(vm->snap_state_fd, data, len, 0, "the state file", err))
        return -1;
    if (fsync(vm->snap_state_fd) != 0)
        return pvh_fail(err, PVH_E_SYSTEM, "snapshot: syncing the state file: %s", strerror(errno));
    return 0;
}

static int build_state(struct pvh_snap_writer *w, struct pvh_vm *vm, struct pvh_error *err)
{
    struct pvh_snap_devices d;
    pvh_snap_devices_list(vm, &d);
    if (check_devices(&d, err) || put_machine(w, vm, &d, err) || put_cpuid(w, vm->cpuid, err))
        return -1;
    for (unsigned i = 0; i < vm->ncpus; i++)
        if (put_vcpu(w, vm, i, err))
            return -1;
    return put_vm(w, vm, err) || put_devices(w, &d, err) || put_memory(w, vm, err) || put_virtio(w, vm, err) ? -1
                                                                                                        : 0;
}

int pvh_snapshot_take(struct pvh_vm *vm, struct pvh_error *err)
{
    struct pvh_snap_writer w;
    const uint8_t *data;
    size_t len;
    if (pvh_snap_writer_init(&w, err))
        return -1;
    if (vm->loop_ready) /* the vCPUs are parked; now the devices' own thread */
        pvh_eventloop_pause(&vm->loop);
    int rc = build_state(&w, vm, err) || pvh_snap_finish(&w, &data, &len, err) ? -1 : 0;
    /* memory first: a state file that is there and whole comes with its memory */
    if (rc == 0)
        rc = write_memory(vm, err) || write_state(vm, data, len, err) ? -1 : 0;
    if (vm->loop_ready)
        pvh_eventloop_resume(&vm->loop);
    pvh_snap_writer_free(&w);
    return rc;
}
