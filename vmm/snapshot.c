/* Taking a snapshot (snapshot.h): the files opened and the machine checked
 * before the sandbox, the snapshot port a guest asks through, and, with
 * every vCPU parked outside KVM_RUN and the I/O thread held between two
 * callbacks (no device request, packet or interrupt half done or still to
 * come), the state file (pvhboot/snapfile.h: MACHINE, CPUID, one VCPU per
 * vCPU, VM, one DEVICE per bus device, MEMORY, VIRTIO, and CHAIN with
 * --snapshot-diff) and the memory file: guest RAM slot after slot, a page of
 * zeros never written (a hole), both synced before the snapshot counts as
 * taken. With --snapshot-diff the memory file ends in a trailer
 * (pvhboot/snapmem.h) and the CHAIN section names the same chain and
 * generation; generation 0 is full, generation N > 0 (STATE.N, MEM.N, opened
 * then) holds only the pages written since N - 1: KVM's dirty log of each
 * slot (KVM_GET_DIRTY_LOG, which also clears it) and the VMM's own bitmap
 * (guestmem.h), every such page written even when it is zero. For
 * PUT /snapshot/create: a full snapshot into files opened at the request's
 * paths. */
#include "snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <unistd.h>

#include "pvhboot/bytes.h"
#include "pvhboot/layout.h"
#include "pvhboot/snapfile.h"
#include "pvhboot/snapmem.h"
#include "clock.h"
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
    vm->t_snap_asked_ns = pvh_now_ns();
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

/* Opened (made) now, before the sandbox, but left as they are until a
 * snapshot is taken: an earlier snapshot in them survives a run that never
 * takes one. A symbolic link is refused (O_NOFOLLOW), as for --serial file:. */
static int open_output(const char *path, const char *what, int *fd, struct pvh_error *err)
{
    *fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (*fd < 0 && errno == ELOOP)
        return pvh_fail(err, PVH_E_INPUT, "%s %s: a symbolic link; pvhboot does not follow one there: name the file "
                        "itself", what, path);
    if (*fd < 0)
        return pvh_fail(err, PVH_E_INPUT, "%s %s: %s", what, path, strerror(errno));
    return 0;
}

static int read_vcpu_info(struct pvh_vm *vm, struct pvh_error *err)
{
    vm->snap_info = malloc(sizeof(*vm->snap_info));
    if (!vm->snap_info)
        return pvh_fail(err, PVH_E_SYSTEM, "out of memory");
    return pvh_vcpu_state_info_read(vm->kvm_fd, vm->vm_fd, vm->snap_info, err);
}

int pvh_snapshot_prepare(struct pvh_vm *vm, struct pvh_error *err)
{
    const struct pvh_vm_config *cfg = vm->cfg;
    if (!cfg->snapshot_file)
        return cfg->api_server ? read_vcpu_info(vm, err) : 0;
    if (cfg->snapshot_on_port &&
        pvh_bus_register(&vm->dev.pio, PVH_SNAPSHOT_PORT, 4, &snapshot_port_ops, vm, NULL, err))
        return -1;
    struct pvh_snap_devices d;
    pvh_snap_devices_list(vm, &d);
    if (check_devices(&d, err))
        return -1;
    if (read_vcpu_info(vm, err))
        return -1;
    vm->snap_generation = 0;
    if (cfg->snapshot_diff && getrandom(&vm->snap_chain, sizeof(vm->snap_chain), 0) != sizeof(vm->snap_chain))
        return pvh_fail(err, PVH_E_SYSTEM, "--snapshot-diff: no random chain id: %s", strerror(errno));
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

static uint32_t snap_kind(const struct pvh_vm *vm)
{
    return vm->snap_generation ? PVH_SNAPMEM_DIFF : PVH_SNAPMEM_FULL;
}

static int put_chain(struct pvh_snap_writer *w, const struct pvh_vm *vm, struct pvh_error *err)
{
    uint8_t b[PVH_SNAP_CHAIN_SIZE] = {0};
    pvh_put_le32(b, PVH_SNAP_CHAIN_VERSION);
    pvh_put_le32(b + 4, snap_kind(vm));
    pvh_put_le64(b + 8, vm->snap_chain);
    pvh_put_le32(b + 16, vm->snap_generation);
    return pvh_snap_put(w, PVH_SNAP_CHAIN, 0, b, sizeof(b), err);
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

static uint64_t ram_bytes(const struct pvh_vm *vm)
{
    uint64_t ram = 0;
    for (int i = 0; i < PVH_MEM_SLOTS; i++)
        ram += vm->mem.slot[i].host ? vm->mem.slot[i].size : 0;
    return ram;
}

/* --snapshot-diff: the trailer at offset ram (after guest RAM), then the
 * file's length set to its end. */
static int write_trailer(struct pvh_vm *vm, uint64_t ram, const uint8_t *bitmap, uint64_t pages,
                         struct pvh_error *err)
{
    struct pvh_snapmem_id id = {snap_kind(vm), vm->snap_chain, vm->snap_generation};
    uint8_t h[PVH_SNAPMEM_HEADER];
    uint64_t bitmap_len = pvh_snapmem_bitmap_bytes(id.kind, ram);
    pvh_snapmem_encode(&id, ram, bitmap, pages, h);
    if (write_all(vm->snap_mem_fd, h, sizeof(h), ram, "the memory file's trailer", err) ||
        (bitmap_len && write_all(vm->snap_mem_fd, bitmap, bitmap_len, ram + sizeof(h), "the memory file's bitmap", err)))
        return -1;
    if (ftruncate(vm->snap_mem_fd, (off_t)(ram + sizeof(h) + bitmap_len)) != 0)
        return pvh_fail(err, PVH_E_SYSTEM, "snapshot: sizing the memory file: %s", strerror(errno));
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
    if (ftruncate(fd, (off_t)offset) != 0)
        return pvh_fail(err, PVH_E_SYSTEM, "snapshot: the memory file: %s", strerror(errno));
    if (vm->cfg->snapshot_diff && write_trailer(vm, offset, NULL, 0, err))
        return -1;
    if (fsync(fd) != 0)
        return pvh_fail(err, PVH_E_SYSTEM, "snapshot: syncing the memory file: %s", strerror(errno));
    return 0;
}

/* ---- diff snapshots ---- */

/* KVM's dirty log of slot i into log (a bit per page, 64-bit words), which
 * KVM clears as it hands it over. */
static int get_dirty_log(struct pvh_vm *vm, unsigned i, uint64_t *log, struct pvh_error *err)
{
    struct kvm_dirty_log d;
    memset(&d, 0, sizeof(d));
    d.slot = i;
    d.dirty_bitmap = log;
    if (ioctl(vm->vm_fd, KVM_GET_DIRTY_LOG, &d) != 0)
        return pvh_fail(err, PVH_E_SYSTEM, "snapshot: KVM_GET_DIRTY_LOG (slot %u): %s", i, strerror(errno));
    return 0;
}

/* The pages written since the last snapshot, KVM's and the VMM's, into the
 * file's bitmap (RAM pages back to back, slot after slot); *pages counts
 * them. With no bitmap (the full generation 0) KVM's log is only cleared. */
static int collect_dirty(struct pvh_vm *vm, uint8_t *bitmap, uint64_t *pages, struct pvh_error *err)
{
    uint64_t first = 0; /* the slot's first page in the file */
    *pages = 0;
    for (unsigned i = 0; i < PVH_MEM_SLOTS; i++) {
        const struct pvh_mem_slot *s = &vm->mem.slot[i];
        if (!s->host)
            continue;
        uint64_t n = s->size / PVH_PAGE_SIZE;
        uint64_t *log = calloc((size_t)(n + 63) / 64, sizeof(uint64_t));
        if (!log)
            return pvh_fail(err, PVH_E_SYSTEM, "out of memory for a dirty log of %llu pages", (unsigned long long)n);
        int rc = get_dirty_log(vm, i, log, err);
        for (uint64_t p = 0; rc == 0 && bitmap && p < n; p++) {
            if (!((log[p / 64] >> (p % 64)) & 1) && !pvh_guestmem_vmm_dirty(s, p * PVH_PAGE_SIZE))
                continue;
            bitmap[(first + p) / 8] |= (uint8_t)(1u << ((first + p) % 8));
            ++*pages;
        }
        free(log);
        if (rc)
            return -1;
        first += n;
    }
    return 0;
}

/* The pages in bitmap, each written (zero or not) at its offset: runs of
 * them in one write each. */
static int write_dirty_pages(struct pvh_vm *vm, const uint8_t *bitmap, struct pvh_error *err)
{
    uint64_t offset = 0;
    for (int i = 0; i < PVH_MEM_SLOTS; i++) {
        const struct pvh_mem_slot *s = &vm->mem.slot[i];
        if (!s->host)
            continue;
        uint64_t first = offset / PVH_PAGE_SIZE, n = s->size / PVH_PAGE_SIZE;
        for (uint64_t p = 0; p < n;) {
            if (!pvh_snapmem_has(bitmap, first + p)) {
                p++;
                continue;
            }
            uint64_t end = p;
            while (end < n && pvh_snapmem_has(bitmap, first + end))
                end++;
            if (write_all(vm->snap_mem_fd, s->host + p * PVH_PAGE_SIZE, (end - p) * PVH_PAGE_SIZE,
                          offset + p * PVH_PAGE_SIZE, "the memory file", err))
                return -1;
            p = end;
        }
        offset += s->size;
    }
    return 0;
}

static int write_diff_memory(struct pvh_vm *vm, const uint8_t *bitmap, uint64_t pages, struct pvh_error *err)
{
    if (ftruncate(vm->snap_mem_fd, 0) != 0)
        return pvh_fail(err, PVH_E_SYSTEM, "snapshot: truncating the memory file: %s", strerror(errno));
    if (write_dirty_pages(vm, bitmap, err) || write_trailer(vm, ram_bytes(vm), bitmap, pages, err))
        return -1;
    if (fsync(vm->snap_mem_fd) != 0)
        return pvh_fail(err, PVH_E_SYSTEM, "snapshot: syncing the memory file: %s", strerror(errno));
    return 0;
}

/* Generation N > 0 goes to STATE.N and MEM.N: both opened (created,
 * truncated) now, the previous generation's files closed. */
static int open_generation(struct pvh_vm *vm, struct pvh_error *err)
{
    char state[PATH_MAX], mem[PATH_MAX];
    unsigned g = vm->snap_generation;
    if (snprintf(state, sizeof(state), "%s.%u", vm->cfg->snapshot_file, g) >= (int)sizeof(state) ||
        snprintf(mem, sizeof(mem), "%s.%u", vm->cfg->snapshot_mem_file, g) >= (int)sizeof(mem))
        return pvh_fail(err, PVH_E_INPUT, "snapshot: the name of generation %u's files is too long", g);
    int state_fd, mem_fd;
    if (open_output(state, "snapshot: state file", &state_fd, err))
        return -1;
    if (open_output(mem, "snapshot: memory file", &mem_fd, err)) {
        close(state_fd);
        return -1;
    }
    close(vm->snap_state_fd);
    close(vm->snap_mem_fd);
    vm->snap_state_fd = state_fd;
    vm->snap_mem_fd = mem_fd;
    return 0;
}

/* The memory file of this generation: full (KVM's log cleared) or diff. */
static int write_generation_memory(struct pvh_vm *vm, struct pvh_error *err)
{
    if (!vm->cfg->snapshot_diff)
        return write_memory(vm, err);
    if (vm->snap_generation == 0)
        return collect_dirty(vm, NULL, &(uint64_t){0}, err) || write_memory(vm, err) ? -1 : 0;
    uint64_t ram = ram_bytes(vm), pages = 0;
    uint8_t *bitmap = calloc(1, (size_t)pvh_snapmem_bitmap_bytes(PVH_SNAPMEM_DIFF, ram));
    if (!bitmap)
        return pvh_fail(err, PVH_E_SYSTEM, "out of memory for the dirty bitmap");
    int rc = collect_dirty(vm, bitmap, &pages, err) || write_diff_memory(vm, bitmap, pages, err) ? -1 : 0;
    free(bitmap);
    return rc;
}

static int write_state(struct pvh_vm *vm, const uint8_t *data, size_t len, struct pvh_error *err)
{
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
    if (put_vm(w, vm, err) || put_devices(w, &d, err) || put_memory(w, vm, err) || put_virtio(w, vm, err))
        return -1;
    return vm->cfg->snapshot_diff ? put_chain(w, vm, err) : 0;
}

int pvh_snapshot_take(struct pvh_vm *vm, struct pvh_error *err)
{
    struct pvh_snap_writer w;
    const uint8_t *data;
    size_t len;
    if (vm->cfg->snapshot_diff && vm->snap_generation > 0 && open_generation(vm, err))
        return -1;
    if (pvh_snap_writer_init(&w, err))
        return -1;
    if (vm->loop_ready) /* the vCPUs are parked; now the devices' own thread */
        pvh_eventloop_pause(&vm->loop);
    int rc = build_state(&w, vm, err) || pvh_snap_finish(&w, &data, &len, err) ? -1 : 0;
    /* The state file emptied first, written last: a state file that is there
     * and whole comes with its memory, never with an earlier snapshot's. */
    if (rc == 0 && ftruncate(vm->snap_state_fd, 0) != 0)
        rc = pvh_fail(err, PVH_E_SYSTEM, "snapshot: truncating the state file: %s", strerror(errno));
    if (rc == 0)
        rc = write_generation_memory(vm, err) || write_state(vm, data, len, err) ? -1 : 0;
    if (vm->loop_ready)
        pvh_eventloop_resume(&vm->loop);
    pvh_snap_writer_free(&w);
    if (rc == 0 && vm->cfg->snapshot_diff)
        vm->snap_generation++;
    return rc;
}

/* PUT /snapshot/create: a full snapshot into the two paths, the files of
 * --snapshot-file (if any) set aside meanwhile. */
int pvh_snapshot_take_to(struct pvh_vm *vm, const char *state_path, const char *mem_path, struct pvh_error *err)
{
    if (!vm->snap_info)
        return pvh_fail(err, PVH_E_INPUT, "snapshot: this VM was set up without what saving its vCPUs needs");
    if (vm->cfg->snapshot_diff)
        return pvh_fail(err, PVH_E_INPUT, "snapshot: this VM takes --snapshot-diff generations; it takes no other "
                        "snapshot");
    int state_fd = -1, mem_fd = -1, kept_state = vm->snap_state_fd, kept_mem = vm->snap_mem_fd;
    int rc = open_output(state_path, "snapshot_path", &state_fd, err) ||
                     open_output(mem_path, "mem_file_path", &mem_fd, err)
                 ? -1
                 : 0;
    if (rc == 0) {
        vm->snap_state_fd = state_fd, vm->snap_mem_fd = mem_fd;
        rc = pvh_snapshot_take(vm, err);
        vm->snap_state_fd = kept_state, vm->snap_mem_fd = kept_mem;
    }
    if (state_fd >= 0)
        close(state_fd);
    if (mem_fd >= 0)
        close(mem_fd);
    return rc;
}
