/* vCPU and VM state as data (vcpu_state.h): every KVM_GET_* a snapshot
 * needs, the matching KVM_SET_* in the order restores use (MP state, then
 * registers, XSAVE and XCRs, debug registers, the LAPIC before the MSRs
 * that depend on it such as the TSC deadline, and the pending events last),
 * and the section bytes: u32 XSAVE length, u32 MSR count, then the fixed
 * KVM structures in the order of struct pvh_vcpu_state, the XSAVE area and
 * the MSRs (index, reserved, data). */
#include "vcpu_state.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "pvhboot/bytes.h"

#define LEGACY_XSAVE_SIZE ((uint32_t)sizeof(struct kvm_xsave))

int pvh_vcpu_state_info_read(int kvm_fd, int vm_fd, struct pvh_vcpu_state_info *info, struct pvh_error *err)
{
    struct kvm_msr_list *list = calloc(1, sizeof(*list) + PVH_VCPU_STATE_MAX_MSRS * sizeof(uint32_t));
    if (!list)
        return pvh_fail(err, PVH_E_SYSTEM, "out of memory");
    list->nmsrs = PVH_VCPU_STATE_MAX_MSRS;
    int rc = ioctl(kvm_fd, KVM_GET_MSR_INDEX_LIST, list);
    int e = errno;
    if (rc == 0) {
        info->nmsrs = list->nmsrs;
        memcpy(info->msr_index, list->indices, list->nmsrs * sizeof(uint32_t));
    }
    free(list);
    if (rc != 0)
        return pvh_fail(err, PVH_E_SYSTEM, "KVM_GET_MSR_INDEX_LIST: %s", strerror(e));
    int size = ioctl(vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);
    info->xsave_size = size > (int)LEGACY_XSAVE_SIZE ? (uint32_t)size : LEGACY_XSAVE_SIZE;
    if (info->xsave_size > PVH_VCPU_STATE_MAX_XSAVE)
        return pvh_fail(err, PVH_E_SYSTEM, "KVM's XSAVE area is %u bytes, more than pvhboot saves (%u)",
                        info->xsave_size, PVH_VCPU_STATE_MAX_XSAVE);
    return 0;
}

/* The MSRs of the list KVM reads for this vCPU: KVM_GET_MSRS stops at the
 * first it refuses, which is dropped, and the rest is asked again. */
static int get_msrs(int fd, unsigned id, const struct pvh_vcpu_state_info *info, struct pvh_vcpu_state *st,
                    struct pvh_error *err)
{
    struct kvm_msrs *m = calloc(1, sizeof(*m) + (info->nmsrs + 1) * sizeof(struct kvm_msr_entry));
    st->msrs = calloc(info->nmsrs + 1, sizeof(struct kvm_msr_entry));
    if (!m || !st->msrs) {
        free(m);
        return pvh_fail(err, PVH_E_SYSTEM, "out of memory");
    }
    uint32_t next = 0;
    while (next < info->nmsrs) {
        m->nmsrs = info->nmsrs - next;
        for (uint32_t i = 0; i < m->nmsrs; i++)
            m->entries[i] = (struct kvm_msr_entry){.index = info->msr_index[next + i]};
        int got = ioctl(fd, KVM_GET_MSRS, m);
        if (got < 0) {
            int e = errno;
            free(m);
            return pvh_fail(err, PVH_E_SYSTEM, "vCPU %u: KVM_GET_MSRS: %s", id, strerror(e));
        }
        memcpy(&st->msrs[st->nmsrs], m->entries, (size_t)got * sizeof(struct kvm_msr_entry));
        st->nmsrs += (uint32_t)got;
        next += (uint32_t)got + 1; /* past the one refused (or the end) */
    }
    free(m);
    return 0;
}

static int get_xsave(int fd, unsigned id, const struct pvh_vcpu_state_info *info, struct pvh_vcpu_state *st,
                     struct pvh_error *err)
{
    st->xsave_len = info->xsave_size;
    st->xsave = calloc(1, st->xsave_len);
    if (!st->xsave)
        return pvh_fail(err, PVH_E_SYSTEM, "out of memory");
    unsigned long req = st->xsave_len > LEGACY_XSAVE_SIZE ? KVM_GET_XSAVE2 : KVM_GET_XSAVE;
    if (ioctl(fd, req, st->xsave) != 0)
        return pvh_fail(err, PVH_E_SYSTEM, "vCPU %u: %s: %s", id,
                        req == KVM_GET_XSAVE2 ? "KVM_GET_XSAVE2" : "KVM_GET_XSAVE", strerror(errno));
    return 0;
}

struct vcpu_part {
    const char *name;
    unsigned long get, set;
    size_t offset; /* in struct pvh_vcpu_state */
};

#define PART(field, get, set) {#get, get, set, offsetof(struct pvh_vcpu_state, field)}
/* Fixed parts, in the order they are set back (the XSAVE area goes after sregs, the MSRs after the LAPIC). */
static const struct vcpu_part parts_before_xsave[] = {
    PART(mp, KVM_GET_MP_STATE, KVM_SET_MP_STATE),
    PART(regs, KVM_GET_REGS, KVM_SET_REGS),
    PART(sregs, KVM_GET_SREGS, KVM_SET_SREGS),
};
static const struct vcpu_part parts_after_xsave[] = {
    PART(xcrs, KVM_GET_XCRS, KVM_SET_XCRS),
    PART(dregs, KVM_GET_DEBUGREGS, KVM_SET_DEBUGREGS),
    PART(lapic, KVM_GET_LAPIC, KVM_SET_LAPIC),
};
static const struct vcpu_part part_events = PART(events, KVM_GET_VCPU_EVENTS, KVM_SET_VCPU_EVENTS);
#undef PART
#define NPARTS(a) (sizeof(a) / sizeof((a)[0]))

static int get_part(int fd, unsigned id, const struct vcpu_part *p, struct pvh_vcpu_state *st, struct pvh_error *err)
{
    if (ioctl(fd, p->get, (uint8_t *)st + p->offset) != 0)
        return pvh_fail(err, PVH_E_SYSTEM, "vCPU %u: %s: %s", id, p->name, strerror(errno));
    return 0;
}

/* "KVM_GET_LAPIC" is named "LAPIC" when KVM refuses to set it. */
static int set_part(int fd, unsigned id, const struct vcpu_part *p, const struct pvh_vcpu_state *st,
                    struct pvh_error *err)
{
    if (ioctl(fd, p->set, (const uint8_t *)st + p->offset) != 0)
        return pvh_fail(err, PVH_E_INPUT, "state file: vCPU %u: KVM refused the saved %s (%s)", id,
                        p->name + strlen("KVM_GET_"), strerror(errno));
    return 0;
}

int pvh_vcpu_state_get(int vcpu_fd, unsigned id, const struct pvh_vcpu_state_info *info, struct pvh_vcpu_state *st,
                       struct pvh_error *err)
{
    memset(st, 0, sizeof(*st));
    for (size_t i = 0; i < NPARTS(parts_before_xsave); i++)
        if (get_part(vcpu_fd, id, &parts_before_xsave[i], st, err))
            return -1;
    for (size_t i = 0; i < NPARTS(parts_after_xsave); i++)
        if (get_part(vcpu_fd, id, &parts_after_xsave[i], st, err))
            return -1;
    if (get_part(vcpu_fd, id, &part_events, st, err) || get_xsave(vcpu_fd, id, info, st, err))
        return -1;
    return get_msrs(vcpu_fd, id, info, st, err);
}

static int set_xsave(int fd, unsigned id, const struct pvh_vcpu_state *st, struct pvh_error *err)
{
    if (ioctl(fd, KVM_SET_XSAVE, st->xsave) != 0)
        return pvh_fail(err, PVH_E_INPUT, "state file: vCPU %u: KVM refused the saved XSAVE area (%s)", id,
                        strerror(errno));
    return 0;
}

static int set_msrs(int fd, unsigned id, const struct pvh_vcpu_state *st, struct pvh_error *err)
{
    struct kvm_msrs *m = calloc(1, sizeof(*m) + (st->nmsrs + 1) * sizeof(struct kvm_msr_entry));
    if (!m)
        return pvh_fail(err, PVH_E_SYSTEM, "out of memory");
    m->nmsrs = st->nmsrs;
    memcpy(m->entries, st->msrs, st->nmsrs * sizeof(struct kvm_msr_entry));
    int set = ioctl(fd, KVM_SET_MSRS, m);
    int e = errno;
    free(m);
    if (set < 0)
        return pvh_fail(err, PVH_E_SYSTEM, "vCPU %u: KVM_SET_MSRS: %s", id, strerror(e));
    if ((uint32_t)set < st->nmsrs)
        return pvh_fail(err, PVH_E_INPUT, "state file: vCPU %u: KVM refused MSR %#x = %#llx", id,
                        st->msrs[set].index, (unsigned long long)st->msrs[set].data);
    return 0;
}

int pvh_vcpu_state_set(int vcpu_fd, unsigned id, const struct pvh_vcpu_state *st, struct pvh_error *err)
{
    for (size_t i = 0; i < NPARTS(parts_before_xsave); i++)
        if (set_part(vcpu_fd, id, &parts_before_xsave[i], st, err))
            return -1;
    if (set_xsave(vcpu_fd, id, st, err))
        return -1;
    for (size_t i = 0; i < NPARTS(parts_after_xsave); i++)
        if (set_part(vcpu_fd, id, &parts_after_xsave[i], st, err))
            return -1;
    if (set_msrs(vcpu_fd, id, st, err))
        return -1;
    return set_part(vcpu_fd, id, &part_events, st, err);
}

void pvh_vcpu_state_free(struct pvh_vcpu_state *st)
{
    free(st->xsave);
    free(st->msrs);
    st->xsave = NULL;
    st->msrs = NULL;
}

/* ---- section bytes ---- */

#define FIXED_SIZE                                                                                                  \
    (sizeof(struct kvm_mp_state) + sizeof(struct kvm_regs) + sizeof(struct kvm_sregs) + sizeof(struct kvm_xcrs) +    \
     sizeof(struct kvm_debugregs) + sizeof(struct kvm_lapic_state) + sizeof(struct kvm_vcpu_events))
#define HEADER_SIZE 8u
#define MSR_SIZE 16u

size_t pvh_vcpu_state_size(const struct pvh_vcpu_state *st)
{
    return HEADER_SIZE + FIXED_SIZE + st->xsave_len + (size_t)st->nmsrs * MSR_SIZE;
}

/* The fixed structures in file order. */
#define NFIELDS 7
static const size_t field_size[NFIELDS] = {
    sizeof(struct kvm_mp_state), sizeof(struct kvm_regs), sizeof(struct kvm_sregs), sizeof(struct kvm_xcrs),
    sizeof(struct kvm_debugregs), sizeof(struct kvm_lapic_state), sizeof(struct kvm_vcpu_events)};

static void field_ptrs(const struct pvh_vcpu_state *st, const void **p)
{
    p[0] = &st->mp, p[1] = &st->regs, p[2] = &st->sregs, p[3] = &st->xcrs, p[4] = &st->dregs;
    p[5] = &st->lapic, p[6] = &st->events;
}

void pvh_vcpu_state_encode(const struct pvh_vcpu_state *st, uint8_t *buf)
{
    const void *field[NFIELDS];
    field_ptrs(st, field);
    pvh_put_le32(buf, st->xsave_len);
    pvh_put_le32(buf + 4, st->nmsrs);
    uint8_t *p = buf + HEADER_SIZE;
    for (size_t i = 0; i < NFIELDS; i++) {
        memcpy(p, field[i], field_size[i]);
        p += field_size[i];
    }
    memcpy(p, st->xsave, st->xsave_len);
    p += st->xsave_len;
    for (uint32_t i = 0; i < st->nmsrs; i++, p += MSR_SIZE) {
        pvh_put_le32(p, st->msrs[i].index);
        pvh_put_le32(p + 4, 0);
        pvh_put_le64(p + 8, st->msrs[i].data);
    }
}

int pvh_vcpu_state_decode(const uint8_t *buf, size_t len, struct pvh_vcpu_state *st, struct pvh_error *err)
{
    memset(st, 0, sizeof(*st));
    if (len < HEADER_SIZE + FIXED_SIZE)
        return pvh_fail(err, PVH_E_INPUT, "%zu bytes, fewer than the %zu of a vCPU's registers", len,
                        (size_t)(HEADER_SIZE + FIXED_SIZE));
    uint32_t xsave_len = pvh_le32(buf), nmsrs = pvh_le32(buf + 4);
    if (xsave_len < LEGACY_XSAVE_SIZE || xsave_len > PVH_VCPU_STATE_MAX_XSAVE || nmsrs > PVH_VCPU_STATE_MAX_MSRS)
        return pvh_fail(err, PVH_E_INPUT, "XSAVE area of %u bytes or %u MSRs out of bounds", xsave_len, nmsrs);
    size_t want = HEADER_SIZE + FIXED_SIZE + xsave_len + (size_t)nmsrs * MSR_SIZE;
    if (len != want)
        return pvh_fail(err, PVH_E_INPUT, "%zu bytes where its counts make %zu", len, want);
    st->xsave = malloc(xsave_len);
    st->msrs = calloc(nmsrs + 1, sizeof(struct kvm_msr_entry));
    if (!st->xsave || !st->msrs) {
        pvh_vcpu_state_free(st);
        return pvh_fail(err, PVH_E_SYSTEM, "out of memory");
    }
    const void *field[NFIELDS];
    field_ptrs(st, field);
    const uint8_t *p = buf + HEADER_SIZE;
    for (size_t i = 0; i < NFIELDS; i++) {
        memcpy((void *)field[i], p, field_size[i]); /* st's own fields */
        p += field_size[i];
    }
    st->xsave_len = xsave_len;
    memcpy(st->xsave, p, xsave_len);
    p += xsave_len;
    st->nmsrs = nmsrs;
    for (uint32_t i = 0; i < nmsrs; i++, p += MSR_SIZE)
        st->msrs[i] = (struct kvm_msr_entry){.index = pvh_le32(p), .data = pvh_le64(p + 8)};
    return 0;
}

/* ---- the VM ---- */

static int irqchip(int vm_fd, unsigned long req, struct kvm_irqchip *c, uint32_t chip, const char *name,
                   struct pvh_error *err)
{
    c->chip_id = chip;
    if (ioctl(vm_fd, req, c) != 0)
        return pvh_fail(err, req == KVM_SET_IRQCHIP ? PVH_E_INPUT : PVH_E_SYSTEM, "%s %s: %s",
                        req == KVM_SET_IRQCHIP ? "state file: KVM refused the saved" : "KVM_GET_IRQCHIP", name,
                        strerror(errno));
    return 0;
}

int pvh_vm_kvm_state_get(int vm_fd, struct pvh_vm_kvm_state *st, struct pvh_error *err)
{
    memset(st, 0, sizeof(*st));
    if (irqchip(vm_fd, KVM_GET_IRQCHIP, &st->pic_master, KVM_IRQCHIP_PIC_MASTER, "PIC (master)", err) ||
        irqchip(vm_fd, KVM_GET_IRQCHIP, &st->pic_slave, KVM_IRQCHIP_PIC_SLAVE, "PIC (slave)", err) ||
        irqchip(vm_fd, KVM_GET_IRQCHIP, &st->ioapic, KVM_IRQCHIP_IOAPIC, "I/O APIC", err))
        return -1;
    if (ioctl(vm_fd, KVM_GET_PIT2, &st->pit) != 0)
        return pvh_fail(err, PVH_E_SYSTEM, "KVM_GET_PIT2: %s", strerror(errno));
    if (ioctl(vm_fd, KVM_GET_CLOCK, &st->clock) != 0)
        return pvh_fail(err, PVH_E_SYSTEM, "KVM_GET_CLOCK: %s", strerror(errno));
    return 0;
}

int pvh_vm_kvm_state_set(int vm_fd, const struct pvh_vm_kvm_state *st, struct pvh_error *err)
{
    struct pvh_vm_kvm_state s = *st; /* chip ids are ours, not the file's */
    if (irqchip(vm_fd, KVM_SET_IRQCHIP, &s.pic_master, KVM_IRQCHIP_PIC_MASTER, "PIC (master)", err) ||
        irqchip(vm_fd, KVM_SET_IRQCHIP, &s.pic_slave, KVM_IRQCHIP_PIC_SLAVE, "PIC (slave)", err) ||
        irqchip(vm_fd, KVM_SET_IRQCHIP, &s.ioapic, KVM_IRQCHIP_IOAPIC, "I/O APIC", err))
        return -1;
    if (ioctl(vm_fd, KVM_SET_PIT2, &s.pit) != 0)
        return pvh_fail(err, PVH_E_INPUT, "state file: KVM refused the saved PIT (%s)", strerror(errno));
    struct kvm_clock_data clock = {.clock = s.clock.clock};
    if (ioctl(vm_fd, KVM_SET_CLOCK, &clock) != 0)
        return pvh_fail(err, PVH_E_INPUT, "state file: KVM refused the saved kvmclock (%s)", strerror(errno));
    return 0;
}

size_t pvh_vm_kvm_state_size(void)
{
    return sizeof(struct kvm_irqchip) * 3 + sizeof(struct kvm_pit_state2) + sizeof(struct kvm_clock_data);
}

void pvh_vm_kvm_state_encode(const struct pvh_vm_kvm_state *st, uint8_t *buf)
{
    memcpy(buf, &st->pic_master, sizeof(st->pic_master));
    buf += sizeof(st->pic_master);
    memcpy(buf, &st->pic_slave, sizeof(st->pic_slave));
    buf += sizeof(st->pic_slave);
    memcpy(buf, &st->ioapic, sizeof(st->ioapic));
    buf += sizeof(st->ioapic);
    memcpy(buf, &st->pit, sizeof(st->pit));
    buf += sizeof(st->pit);
    memcpy(buf, &st->clock, sizeof(st->clock));
}

int pvh_vm_kvm_state_decode(const uint8_t *buf, size_t len, struct pvh_vm_kvm_state *st, struct pvh_error *err)
{
    if (len != pvh_vm_kvm_state_size())
        return pvh_fail(err, PVH_E_INPUT, "%zu bytes, not the %zu of the VM's interrupt controllers and clock", len,
                        pvh_vm_kvm_state_size());
    memcpy(&st->pic_master, buf, sizeof(st->pic_master));
    buf += sizeof(st->pic_master);
    memcpy(&st->pic_slave, buf, sizeof(st->pic_slave));
    buf += sizeof(st->pic_slave);
    memcpy(&st->ioapic, buf, sizeof(st->ioapic));
    buf += sizeof(st->ioapic);
    memcpy(&st->pit, buf, sizeof(st->pit));
    buf += sizeof(st->pit);
    memcpy(&st->clock, buf, sizeof(st->clock));
    return 0;
}
