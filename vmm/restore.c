/* `pvhboot restore` (pvh_vm_restore, vmm.h): the state file read whole and
 * validated (pvhboot/snapfile.h; every section's own length checked here
 * before it is read), the machine it describes rebuilt (vCPUs, RAM, the same
 * devices in the same order), this host's KVM capabilities, XSAVE size and
 * CPUID compared with the snapshot's (a difference refused, named), the
 * memory file mapped private over guest RAM (copy-on-write: nothing is read
 * until the guest touches it, so the time does not grow with RAM), each
 * saved state set, and the VM run as pvh_vm_run runs one. A --snapshot-diff
 * snapshot of generation N (its CHAIN section) needs its chain's full base
 * as the memory file and the diffs 1..N (--mem-diff), each file's trailer
 * (pvhboot/snapmem.h) checked against the chain id and its place before the
 * diffs' pages are copied over the base, in order. The virtio devices are
 * built again from the VIRTIO section (virtio/devconfig.h) with the clone's
 * overrides, in the same slots; after their transports are set, each ready
 * queue is looked at again (kicked) and vsock tells the guest its
 * connections are gone (VIRTIO_VSOCK_EVENT_TRANSPORT_RESET). Every restore
 * writes a new VM generation ID where the ACPI PM state says it lives and
 * raises its GPE (vmgenid.c): each clone's kernel reseeds its RNG. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "pvhboot/bytes.h"
#include "pvhboot/sandbox.h"
#include "pvhboot/snapfile.h"
#include "pvhboot/snapmem.h"
#include "snapshot.h"
#include "vcpu_state.h"
#include "virtio/devconfig.h"
#include "virtio/vsock.h"

#define FOUR_GIB 0x100000000ull

struct restore {
    const char *state_path, *mem_path;
    struct pvh_file state, mem;
    struct pvh_snap_reader r;
    uint32_t ncpus;
    uint64_t low, high;
    uint32_t ndevices;
    const uint8_t *device_names;
    bool chained;              /* a CHAIN section: --snapshot-diff's files, each with a trailer */
    struct pvh_snapmem_id id;  /* the CHAIN section's */
    const char *const *diff_paths;
    unsigned ndiffs;
    struct pvh_file *diffs;    /* ndiffs of them, opened and checked */
    const uint8_t **diff_bitmaps;
    struct pvh_vconfig *vc;         /* the virtio devices, overrides applied */
};

__attribute__((format(printf, 3, 4))) static int bad_state(const struct restore *rs, struct pvh_error *err,
                                                           const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = pvh_vfail_at(err, PVH_E_INPUT, rs->state_path, fmt, ap);
    va_end(ap);
    return rc;
}

static int section(const struct restore *rs, uint32_t tag, uint32_t index, const char *what,
                   struct pvh_snap_section *s, struct pvh_error *err)
{
    if (!pvh_snap_find(&rs->r, tag, index, s))
        return bad_state(rs, err, "no %s section (tag %u, index %u)", what, tag, index);
    return 0;
}

static int read_state(struct restore *rs, struct pvh_error *err)
{
    if (pvh_file_open(&rs->state, rs->state_path, err))
        return -1;
    if (rs->state.size > PVH_SNAP_MAX_FILE)
        return bad_state(rs, err, "%zu bytes, more than a state file may hold (%u)", rs->state.size,
                         PVH_SNAP_MAX_FILE);
    struct pvh_error e;
    if (pvh_snap_open(&rs->r, rs->state.data, rs->state.size, &e) || pvh_file_check(&rs->state, &e))
        return bad_state(rs, err, "%s", e.msg);
    return 0;
}

static bool sane_ram(uint64_t low, uint64_t high)
{
    return low % PVH_PAGE_SIZE == 0 && high % PVH_PAGE_SIZE == 0 && low >= PVH_MIN_RAM && low <= FOUR_GIB &&
           high <= PVH_MAX_RAM;
}

static int parse_machine(struct restore *rs, struct pvh_error *err)
{
    struct pvh_snap_section s;
    if (section(rs, PVH_SNAP_MACHINE, 0, "MACHINE", &s, err))
        return -1;
    if (s.len < 32)
        return bad_state(rs, err, "MACHINE section of %zu bytes, fewer than 32", s.len);
    if (pvh_le32(s.data) != PVH_SNAP_MACHINE_VERSION)
        return bad_state(rs, err, "MACHINE section version %u; this pvhboot reads %u", pvh_le32(s.data),
                         PVH_SNAP_MACHINE_VERSION);
    rs->ncpus = pvh_le32(s.data + 4);
    rs->low = pvh_le64(s.data + 8);
    rs->high = pvh_le64(s.data + 16);
    rs->ndevices = pvh_le32(s.data + 24);
    if (rs->ncpus == 0 || rs->ncpus > PVH_MAX_CPUS)
        return bad_state(rs, err, "MACHINE: %u vCPUs (1 to %d)", rs->ncpus, PVH_MAX_CPUS);
    if (!sane_ram(rs->low, rs->high))
        return bad_state(rs, err, "MACHINE: RAM of %#llx bytes below 4 GiB and %#llx above is not a machine's",
                         (unsigned long long)rs->low, (unsigned long long)rs->high);
    if (rs->ndevices > PVH_SNAP_MAX_DEVICES || s.len != 32 + (size_t)rs->ndevices * PVH_SNAP_DEVICE_NAME)
        return bad_state(rs, err, "MACHINE: %u devices in a section of %zu bytes", rs->ndevices, s.len);
    rs->device_names = s.data + 32;
    return 0;
}

static int parse_memory(struct restore *rs, struct pvh_error *err)
{
    struct pvh_snap_section s;
    if (section(rs, PVH_SNAP_MEMORY, 0, "MEMORY", &s, err))
        return -1;
    if (s.len != 8 + PVH_MEM_SLOTS * 24 || pvh_le32(s.data) != PVH_MEM_SLOTS)
        return bad_state(rs, err, "MEMORY section of %zu bytes is not %d slots", s.len, PVH_MEM_SLOTS);
    const uint64_t want[PVH_MEM_SLOTS][3] = {{0, rs->low, 0}, {FOUR_GIB, rs->high, rs->low}};
    for (int i = 0; i < PVH_MEM_SLOTS; i++)
        for (int k = 0; k < 3; k++)
            if (pvh_le64(s.data + 8 + i * 24 + k * 8) != want[i][k])
                return bad_state(rs, err, "MEMORY: slot %d does not match the MACHINE's RAM", i);
    if (pvh_file_open(&rs->mem, rs->mem_path, err))
        return -1;
    if (rs->chained)
        return 0; /* check_chain */
    if (rs->ndiffs)
        return bad_state(rs, err, "not a --snapshot-diff snapshot: it takes no --mem-diff");
    if (rs->mem.size != rs->low + rs->high)
        return pvh_fail(err, PVH_E_INPUT, "%s: %zu bytes; the snapshot's guest RAM is %llu bytes (another snapshot's "
                        "memory file?)", rs->mem_path, rs->mem.size, (unsigned long long)(rs->low + rs->high));
    return 0;
}

/* ---- --snapshot-diff chains ---- */

/* The CHAIN section, when there is one: rs->chained and rs->id. */
static int parse_chain(struct restore *rs, struct pvh_error *err)
{
    struct pvh_snap_section s;
    if (!pvh_snap_find(&rs->r, PVH_SNAP_CHAIN, 0, &s))
        return 0;
    if (s.len != PVH_SNAP_CHAIN_SIZE || pvh_le32(s.data) != PVH_SNAP_CHAIN_VERSION || pvh_le32(s.data + 20))
        return bad_state(rs, err, "CHAIN section of %zu bytes, version %u, is not this pvhboot's", s.len,
                         s.len >= 4 ? pvh_le32(s.data) : 0);
    rs->id = (struct pvh_snapmem_id){pvh_le32(s.data + 4), pvh_le64(s.data + 8), pvh_le32(s.data + 16)};
    if (rs->id.kind != (rs->id.generation ? PVH_SNAPMEM_DIFF : PVH_SNAPMEM_FULL))
        return bad_state(rs, err, "CHAIN: kind %u does not go with generation %u", rs->id.kind, rs->id.generation);
    rs->chained = true;
    return 0;
}

/* One memory file of the chain: its trailer whole, then its place in it. */
static int check_link(const struct restore *rs, const struct pvh_file *f, uint32_t generation, const uint8_t **bitmap,
                      struct pvh_error *err)
{
    struct pvh_snapmem_id id;
    struct pvh_error e;
    uint64_t ram = rs->low + rs->high;
    if (pvh_snapmem_open(f->data, f->size, ram, &id, bitmap, &e) || pvh_file_check(f, &e))
        return pvh_fail(err, PVH_E_INPUT, "%s: %s", f->path, e.msg);
    if (id.chain != rs->id.chain)
        return pvh_fail(err, PVH_E_INPUT, "%s: belongs to another snapshot chain (id %016llx; %s's is %016llx): not "
                        "this snapshot's %s", f->path, (unsigned long long)id.chain, rs->state_path,
                        (unsigned long long)rs->id.chain, generation ? "diff" : "base");
    if (generation == 0 && id.kind != PVH_SNAPMEM_FULL)
        return pvh_fail(err, PVH_E_INPUT, "%s: a diff (generation %u), not the chain's full base: give the base "
                        "(generation 0) as --mem-file and the diffs as --mem-diff", f->path, id.generation);
    if (id.generation != generation)
        return pvh_fail(err, PVH_E_INPUT, "%s: generation %u of its chain where generation %u belongs (the diffs go "
                        "in order, 1 to %u)", f->path, id.generation, generation, rs->id.generation);
    return 0;
}

/* A chained snapshot: the base is generation 0, the --mem-diff files 1..N,
 * N the state file's generation. */
static int check_chain(struct restore *rs, struct pvh_error *err)
{
    if (!rs->chained)
        return 0;
    const uint8_t *none;
    if (check_link(rs, &rs->mem, 0, &none, err))
        return -1;
    if (rs->ndiffs != rs->id.generation)
        return bad_state(rs, err, "generation %u of a --snapshot-diff chain: it needs the diffs of generations 1 to "
                         "%u (--mem-diff, in order), %u given", rs->id.generation, rs->id.generation, rs->ndiffs);
    rs->diffs = calloc(rs->ndiffs ? rs->ndiffs : 1, sizeof(*rs->diffs));
    rs->diff_bitmaps = calloc(rs->ndiffs ? rs->ndiffs : 1, sizeof(*rs->diff_bitmaps));
    if (!rs->diffs || !rs->diff_bitmaps)
        return pvh_fail(err, PVH_E_SYSTEM, "out of memory");
    for (unsigned i = 0; i < rs->ndiffs; i++)
        rs->diffs[i] = (struct pvh_file){.fd = -1};
    for (unsigned i = 0; i < rs->ndiffs; i++)
        if (pvh_file_open(&rs->diffs[i], rs->diff_paths[i], err) ||
            check_link(rs, &rs->diffs[i], i + 1, &rs->diff_bitmaps[i], err))
            return -1;
    return 0;
}

static void close_diffs(struct restore *rs)
{
    for (unsigned i = 0; rs->diffs && i < rs->ndiffs; i++)
        pvh_file_close(&rs->diffs[i]);
    free(rs->diffs);
    free(rs->diff_bitmaps);
    rs->diffs = NULL;
    rs->diff_bitmaps = NULL;
}

/* Diff i's pages copied over guest RAM (a private mapping of the base: each
 * page copied is this VM's own from then on). */
static int apply_diff(const struct restore *rs, struct pvh_vm *vm, unsigned i, struct pvh_error *err)
{
    const struct pvh_file *f = &rs->diffs[i];
    const uint8_t *bitmap = rs->diff_bitmaps[i];
    uint64_t first = 0;
    for (int k = 0; k < PVH_MEM_SLOTS; k++) {
        const struct pvh_mem_slot *s = &vm->mem.slot[k];
        if (!s->host)
            continue;
        uint64_t n = s->size / PVH_PAGE_SIZE;
        for (uint64_t p = 0; p < n; p++)
            if (pvh_snapmem_has(bitmap, first + p))
                memcpy(s->host + p * PVH_PAGE_SIZE, f->data + (first + p) * PVH_PAGE_SIZE, PVH_PAGE_SIZE);
        first += n;
    }
    struct pvh_error e;
    if (pvh_file_check(f, &e))
        return pvh_fail(err, PVH_E_INPUT, "%s", e.msg);
    return 0;
}

static int apply_diffs(const struct restore *rs, struct pvh_vm *vm, struct pvh_error *err)
{
    for (unsigned i = 0; i < rs->ndiffs && rs->chained; i++)
        if (apply_diff(rs, vm, i, err))
            return -1;
    return 0;
}

/* The virtio devices: the VIRTIO section, then the clone's overrides
 * (cfg_in's drives, NICs and vsock). */
static int parse_virtio(struct restore *rs, const struct pvh_vm_config *over, struct pvh_error *err)
{
    struct pvh_snap_section s;
    struct pvh_error e;
    if (section(rs, PVH_SNAP_VIRTIO, 0, "VIRTIO", &s, err))
        return -1;
    rs->vc = malloc(sizeof(*rs->vc));
    if (!rs->vc)
        return pvh_fail(err, PVH_E_SYSTEM, "out of memory");
    if (pvh_vconfig_decode(rs->vc, s.data, s.len, &e) || pvh_vconfig_override(rs->vc, over, &e))
        return bad_state(rs, err, "%s", e.msg);
    return 0;
}

/* The plan's virtio slots for the devices cfg asks for: slot i at its
 * base and GSI, as a run's plan puts them (lib/plan.c). */
static int plan_virtio(const struct restore *rs, const struct pvh_vm_config *cfg, struct pvh_boot_inputs *in,
                       struct pvh_error *err)
{
    in->ndevices = pvh_machine_device_specs(cfg, in->devices);
    if (in->ndevices != rs->vc->ndevices)
        return bad_state(rs, err, "VIRTIO: %zu devices, the machine rebuilt has %zu", rs->vc->ndevices, in->ndevices);
    for (size_t i = 0; i < in->ndevices; i++) {
        if (in->devices[i].virtio_id != rs->vc->virtio_id[i])
            return bad_state(rs, err, "VIRTIO: slot %zu is %s, the machine rebuilt puts %s there", i,
                             pvh_virtio_id_name(rs->vc->virtio_id[i]), pvh_virtio_id_name(in->devices[i].virtio_id));
        in->plan.devices[i] = (struct pvh_mmio_device){
            .virtio_id = in->devices[i].virtio_id, .base = PVH_VIRTIO_MMIO_BASE + i * PVH_VIRTIO_MMIO_STRIDE,
            .size = PVH_VIRTIO_MMIO_STRIDE, .gsi = pvh_layout_virtio_gsi(i)};
    }
    in->plan.ndevices = in->ndevices;
    return 0;
}

/* After every transport is set: vsock's connections are gone (the host's
 * sockets were another process's) and its driver is told so. */
static void reset_vsock(struct pvh_vm *vm)
{
    for (size_t i = 0; i < vm->nvdev; i++)
        if (vm->vdev[i].dev->ops->device_id == PVH_VIRTIO_ID_VSOCK)
            pvh_vsock_transport_reset(vm->vdev[i].dev);
}

/* ---- this host against the snapshot ---- */

struct needed_cap {
    int cap;
    const char *name;
};

static const struct needed_cap restore_caps[] = {
    {KVM_CAP_MP_STATE, "KVM_CAP_MP_STATE"},       {KVM_CAP_VCPU_EVENTS, "KVM_CAP_VCPU_EVENTS"},
    {KVM_CAP_DEBUGREGS, "KVM_CAP_DEBUGREGS"},     {KVM_CAP_XSAVE, "KVM_CAP_XSAVE"},
    {KVM_CAP_XCRS, "KVM_CAP_XCRS"},               {KVM_CAP_ADJUST_CLOCK, "KVM_CAP_ADJUST_CLOCK"},
    {KVM_CAP_PIT_STATE2, "KVM_CAP_PIT_STATE2"},
};

static int check_caps(const struct restore *rs, int kvm_fd, struct pvh_error *err)
{
    for (size_t i = 0; i < sizeof(restore_caps) / sizeof(restore_caps[0]); i++)
        if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, restore_caps[i].cap) <= 0)
            return bad_state(rs, err, "cannot be restored here: this host's KVM lacks %s", restore_caps[i].name);
    return 0;
}

static const struct kvm_cpuid_entry2 *host_leaf(const struct kvm_cpuid2 *c, uint32_t function, uint32_t index)
{
    for (uint32_t i = 0; i < c->nent; i++)
        if (c->entries[i].function == function && c->entries[i].index == index)
            return &c->entries[i];
    return NULL;
}

/* The bits of register reg (0 eax .. 3 edx) of leaf fn that KVM_GET_SUPPORTED_CPUID
 * fills from whichever host CPU the ioctl ran on (its APIC ID): vcpu.c puts
 * each vCPU's own ID there, so they are not compared (else a restore on
 * another CPU of the same host is refused). */
static uint32_t host_cpu_bits(uint32_t fn, int reg)
{
    if (fn == 1 && reg == 1)
        return 0xff000000u; /* EBX[31:24]: the initial APIC ID */
    if ((fn == 0xb || fn == 0x1f) && reg == 3)
        return 0xffffffffu; /* EDX: the x2APIC ID */
    return 0;
}

/* The snapshot's CPUID table is this host's, entry for entry. */
static int check_cpuid(const struct restore *rs, const struct kvm_cpuid2 *host, struct pvh_error *err)
{
    struct pvh_snap_section s;
    if (section(rs, PVH_SNAP_CPUID, 0, "CPUID", &s, err))
        return -1;
    uint32_t n = s.len >= 8 ? pvh_le32(s.data) : 0;
    if (s.len < 8 || n > PVH_SNAP_MAX_CPUID || s.len != 8 + (size_t)n * PVH_SNAP_CPUID_ENTRY)
        return bad_state(rs, err, "CPUID section of %zu bytes does not hold its %u entries", s.len, n);
    static const char *const reg[] = {"eax", "ebx", "ecx", "edx"};
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *e = s.data + 8 + (size_t)i * PVH_SNAP_CPUID_ENTRY;
        uint32_t fn = pvh_le32(e), idx = pvh_le32(e + 4);
        const struct kvm_cpuid_entry2 *h = host_leaf(host, fn, idx);
        if (!h)
            return bad_state(rs, err, "cannot be restored here: CPUID leaf 0x%x subleaf %u is not on this host", fn,
                             idx);
        const uint32_t mine[] = {h->eax, h->ebx, h->ecx, h->edx};
        for (int k = 0; k < 4; k++)
            if ((pvh_le32(e + 12 + 4 * k) ^ mine[k]) & ~host_cpu_bits(fn, k))
                return bad_state(rs, err, "cannot be restored here: CPUID leaf 0x%x subleaf %u %s is %#x in the "
                                 "snapshot, %#x on this host", fn, idx, reg[k], pvh_le32(e + 12 + 4 * k), mine[k]);
    }
    if (n != host->nent)
        return bad_state(rs, err, "cannot be restored here: the snapshot has %u CPUID leaves, this host %u", n,
                         host->nent);
    return 0;
}

/* The machine built here has the snapshot's devices, in its order. */
static int check_devices(const struct restore *rs, struct pvh_vm *vm, struct pvh_error *err)
{
    struct pvh_snap_devices d;
    pvh_snap_devices_list(vm, &d);
    for (size_t i = 0; i < rs->ndevices || i < d.n; i++) {
        char name[PVH_SNAP_DEVICE_NAME];
        if (i < rs->ndevices)
            memcpy(name, rs->device_names + i * PVH_SNAP_DEVICE_NAME, sizeof(name));
        name[sizeof(name) - 1] = '\0';
        const char *here = i < d.n ? d.r[i]->ops->name : "(none)";
        if (i >= rs->ndevices || strcmp(name, here))
            return bad_state(rs, err, "device %zu is %s in the snapshot, %s in the machine restore builds "
                             "(restore rebuilds the legacy devices, without --debugcon, and the VIRTIO section's)", i,
                             i < rs->ndevices ? name : "(none)", here);
    }
    return 0;
}

/* ---- setting the state ---- */

static int restore_vcpus(const struct restore *rs, struct pvh_vm *vm, const struct pvh_vcpu_state_info *info,
                         struct pvh_error *err)
{
    for (unsigned i = 0; i < vm->ncpus; i++) {
        struct pvh_snap_section s;
        struct pvh_vcpu_state st;
        struct pvh_error e;
        if (section(rs, PVH_SNAP_VCPU, i, "VCPU", &s, err))
            return -1;
        if (pvh_vcpu_state_decode(s.data, s.len, &st, &e))
            return bad_state(rs, err, "VCPU %u section: %s", i, e.msg);
        int rc = 0;
        if (st.xsave_len != info->xsave_size)
            rc = bad_state(rs, err, "cannot be restored here: KVM's XSAVE area is %u bytes in the snapshot, %u on "
                           "this host", st.xsave_len, info->xsave_size);
        if (rc == 0 && pvh_vcpu_state_set(vm->vcpu[i].fd, i, &st, &e))
            rc = e.code == PVH_E_INPUT ? bad_state(rs, err, "%s", e.msg + strlen("state file: "))
                                       : pvh_fail(err, e.code, "%s", e.msg);
        pvh_vcpu_state_free(&st);
        if (rc)
            return -1;
    }
    return 0;
}

static int restore_vm_state(const struct restore *rs, struct pvh_vm *vm, struct pvh_error *err)
{
    struct pvh_snap_section s;
    struct pvh_vm_kvm_state st;
    struct pvh_error e;
    if (section(rs, PVH_SNAP_VM, 0, "VM", &s, err))
        return -1;
    if (pvh_vm_kvm_state_decode(s.data, s.len, &st, &e))
        return bad_state(rs, err, "VM section: %s", e.msg);
    if (pvh_vm_kvm_state_set(vm->vm_fd, &st, &e))
        return e.code == PVH_E_INPUT ? bad_state(rs, err, "%s", e.msg + strlen("state file: "))
                                     : pvh_fail(err, e.code, "%s", e.msg);
    return 0;
}

static int restore_devices(const struct restore *rs, struct pvh_vm *vm, struct pvh_error *err)
{
    struct pvh_snap_devices d;
    pvh_snap_devices_list(vm, &d);
    for (size_t i = 0; i < d.n; i++) {
        struct pvh_snap_section s;
        struct pvh_error e;
        const struct pvh_bus_range *r = d.r[i];
        if (section(rs, PVH_SNAP_DEVICE, (uint32_t)i, r->ops->name, &s, err))
            return -1;
        if (!r->ops->restore)
            return bad_state(rs, err, "device %s cannot be restored (no restore operation)", r->ops->name);
        if (r->lock)
            pthread_mutex_lock(r->lock);
        int rc = r->ops->restore(r->dev, s.data, s.len, &e);
        if (r->lock)
            pthread_mutex_unlock(r->lock);
        if (rc)
            return bad_state(rs, err, "device %s: %s", r->ops->name, e.msg);
    }
    return 0;
}

/* --load copy: the file's data extents [offset, offset + len) copied into
 * the slot at host; its holes (pages the guest never touched, or zero
 * when saved) are skipped, so those guest pages stay untouched anonymous
 * memory. A file system without SEEK_DATA gets everything copied. */
static void copy_extents(const struct pvh_file *f, uint64_t offset, uint64_t len, uint8_t *host)
{
    uint64_t pos = offset, end = offset + len;
    while (pos < end) {
        off_t data = lseek(f->fd, (off_t)pos, SEEK_DATA);
        if (data < 0 && errno == ENXIO)
            return; /* nothing but a hole after pos */
        if (data < 0) {
            memcpy(host + (pos - offset), f->data + pos, end - pos);
            return;
        }
        if ((uint64_t)data >= end)
            return;
        off_t hole = lseek(f->fd, data, SEEK_HOLE);
        uint64_t stop = hole < 0 || (uint64_t)hole > end ? end : (uint64_t)hole;
        memcpy(host + ((uint64_t)data - offset), f->data + data, stop - (uint64_t)data);
        pos = stop;
    }
}

/* Guest RAM: the memory file mapped over each slot, private (--load map),
 * or its data copied in (--load copy). */
static int map_memory(struct restore *rs, struct pvh_vm *vm, struct pvh_error *err)
{
    uint64_t offset = 0;
    for (int i = 0; i < PVH_MEM_SLOTS; i++) {
        const struct pvh_mem_slot *s = &vm->mem.slot[i];
        if (!s->host)
            continue;
        if (vm->cfg->load == PVH_LOAD_COPY)
            copy_extents(&rs->mem, offset, s->size, s->host);
        else if (pvh_guestmem_load(&vm->mem, s->gpa, &rs->mem, offset, s->size, PVH_LOAD_MAP, "guest memory", NULL,
                                   err))
            return -1;
        offset += s->size;
    }
    return 0;
}

static int build_machine(struct restore *rs, struct pvh_vm *vm, struct pvh_error *err)
{
    struct pvh_vcpu_state_info *info = malloc(sizeof(*info));
    struct pvh_boot_inputs *in = calloc(1, sizeof(*in)); /* no kernel: the plan's RAM sizes and virtio slots */
    int rc = -1;
    if (!info || !in) {
        rc = pvh_fail(err, PVH_E_SYSTEM, "out of memory");
        goto out;
    }
    in->plan.ram_low_end = rs->low;
    in->plan.ram_high_size = rs->high;
    if (plan_virtio(rs, vm->cfg, in, err))
        goto out;
    if (pvh_kvm_open(vm, err) || check_caps(rs, vm->kvm_fd, err) || pvh_kvm_create_vm(vm, rs->low, rs->high, err) ||
        map_memory(rs, vm, err) || apply_diffs(rs, vm, err))
        goto out;
    if (pvh_console_open(vm, err))
        goto out;
    struct pvh_error e;
    if (pvh_machine_devices_create(vm, in, &e) || pvh_machine_check_drives(vm, rs->vc, &e)) {
        rc = pvh_fail(err, e.code, "%s: the snapshot's devices: %s", rs->state_path, e.msg); /* its file, its TAP */
        goto out;
    }
    if (check_devices(rs, vm, err))
        goto out;
    if (pvh_vcpus_create(vm, err) || check_cpuid(rs, vm->cpuid, err) ||
        pvh_vcpu_state_info_read(vm->kvm_fd, vm->vm_fd, info, err))
        goto out;
    if (restore_vcpus(rs, vm, info, err) || restore_vm_state(rs, vm, err) || restore_devices(rs, vm, err) ||
        pvh_vmgenid_restore(vm, err))
        goto out;
    reset_vsock(vm);
    pvh_kvm_close_device(vm);
    if (vm->cfg->api_server) /* kept for a PUT /snapshot/create of the restored VM */
        vm->snap_info = info, info = NULL;
    rc = vm->cfg->drop_user ? pvh_drop_privileges(vm->cfg->uid, vm->cfg->gid, err) : 0;
out:
    free(info);
    free(in);
    return rc;
}

int pvh_vm_restore(const struct pvh_vm_config *cfg_in, const char *state_file, const char *mem_file,
                   struct pvh_vm_result *res, struct pvh_error *err)
{
    struct restore rs = {.state_path = state_file, .mem_path = mem_file, .diff_paths = cfg_in->restore_mem_diffs,
                         .ndiffs = cfg_in->restore_mem_ndiffs};
    rs.state = rs.mem = (struct pvh_file){.fd = -1};
    memset(res, 0, sizeof(*res));
    if (read_state(&rs, err) || parse_machine(&rs, err) || parse_chain(&rs, err) || parse_memory(&rs, err) ||
        check_chain(&rs, err) || parse_virtio(&rs, cfg_in, err)) {
        pvh_file_close(&rs.state);
        pvh_file_close(&rs.mem);
        close_diffs(&rs);
        free(rs.vc);
        return -1;
    }
    struct pvh_vm_config cfg = *cfg_in;
    cfg.ncpus = rs.ncpus;
    cfg.ram_size = rs.low + rs.high;
    pvh_vconfig_apply(rs.vc, &cfg); /* cfg's device strings point into rs.vc until the VM is gone */
    struct pvh_vm *vm = malloc(sizeof(*vm)); /* pvh_vm_init sets what is read */
    if (!vm) {
        pvh_file_close(&rs.state);
        pvh_file_close(&rs.mem);
        close_diffs(&rs);
        free(rs.vc);
        return pvh_fail(err, PVH_E_SYSTEM, "out of memory");
    }
    pvh_vm_init(vm, &cfg);
    struct pvh_proc_files pf;
    pvh_proc_files_open(&pf);
    bool ready = build_machine(&rs, vm, err) == 0;
    res->stats.restored = true;
    res->stats.ns_loaded = pvh_now_ns() - cfg.start_ns;
    if (ready)
        pvh_proc_files_open_pagemap(&cfg, &pf);
    pvh_file_close(&rs.state); /* every section is set */
    pvh_file_close(&rs.mem);   /* guest RAM keeps its own mappings of it */
    close_diffs(&rs);          /* their pages were copied */
    int rc = pvh_vm_run_prepared(vm, ready, &pf, res, err);
    free(rs.vc);
    return rc;
}
