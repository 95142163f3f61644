/* A vCPU's and a VM's KVM state as data (vcpu_state.c): read from KVM,
 * written back to KVM in an order KVM accepts, and turned into and out of
 * the bytes of a snapshot section (a section is hostile input: decoding
 * checks every length before it copies). */
#ifndef PVHBOOT_VMM_VCPU_STATE_H
#define PVHBOOT_VMM_VCPU_STATE_H

#include <linux/kvm.h>
#include <stddef.h>
#include <stdint.h>

#include "pvhboot/error.h"

#define PVH_VCPU_STATE_MAX_MSRS 1024
#define PVH_VCPU_STATE_MAX_XSAVE (1u << 20)

/* What a vCPU's state needs from KVM that is read once per VM: the MSRs KVM
 * saves and restores (KVM_GET_MSR_INDEX_LIST, from /dev/kvm) and the size of
 * the XSAVE area (KVM_CAP_XSAVE2; 4096 without it). */
struct pvh_vcpu_state_info {
    uint32_t nmsrs;
    uint32_t msr_index[PVH_VCPU_STATE_MAX_MSRS];
    uint32_t xsave_size;
};

struct pvh_vcpu_state {
    struct kvm_mp_state mp;
    struct kvm_regs regs;
    struct kvm_sregs sregs;
    struct kvm_xcrs xcrs;
    struct kvm_debugregs dregs;
    struct kvm_lapic_state lapic;
    struct kvm_vcpu_events events;
    uint32_t xsave_len;
    uint8_t *xsave;             /* xsave_len bytes, malloc'ed */
    uint32_t nmsrs;
    struct kvm_msr_entry *msrs; /* nmsrs entries, malloc'ed */
};

struct pvh_vm_kvm_state {
    struct kvm_irqchip pic_master, pic_slave, ioapic;
    struct kvm_pit_state2 pit;
    struct kvm_clock_data clock;
};

/* kvm_fd: /dev/kvm (the MSR list); vm_fd: the VM (the XSAVE size). */
int pvh_vcpu_state_info_read(int kvm_fd, int vm_fd, struct pvh_vcpu_state_info *info, struct pvh_error *err);

/* One vCPU (out of KVM_RUN, its pending I/O completed) into *st; the MSRs
 * KVM will not read for this vCPU are left out. */
int pvh_vcpu_state_get(int vcpu_fd, unsigned id, const struct pvh_vcpu_state_info *info, struct pvh_vcpu_state *st,
                       struct pvh_error *err);
/* Back into a fresh vCPU whose CPUID is set: MP state, registers, special
 * registers, XSAVE, XCRs, debug registers, LAPIC, MSRs (TSC deadline after
 * the LAPIC), events. A value KVM refuses is PVH_E_INPUT naming the part. */
int pvh_vcpu_state_set(int vcpu_fd, unsigned id, const struct pvh_vcpu_state *st, struct pvh_error *err);
void pvh_vcpu_state_free(struct pvh_vcpu_state *st);

/* Section bytes: a buffer of pvh_vcpu_state_size(st) bytes. */
size_t pvh_vcpu_state_size(const struct pvh_vcpu_state *st);
void pvh_vcpu_state_encode(const struct pvh_vcpu_state *st, uint8_t *buf);
/* From section bytes (any bytes): 0, or -1 naming what is wrong. */
int pvh_vcpu_state_decode(const uint8_t *buf, size_t len, struct pvh_vcpu_state *st, struct pvh_error *err);

/* The VM: both PICs, the I/O APIC, the PIT and kvmclock. */
int pvh_vm_kvm_state_get(int vm_fd, struct pvh_vm_kvm_state *st, struct pvh_error *err);
int pvh_vm_kvm_state_set(int vm_fd, const struct pvh_vm_kvm_state *st, struct pvh_error *err);
size_t pvh_vm_kvm_state_size(void);
void pvh_vm_kvm_state_encode(const struct pvh_vm_kvm_state *st, uint8_t *buf);
int pvh_vm_kvm_state_decode(const uint8_t *buf, size_t len, struct pvh_vm_kvm_state *st, struct pvh_error *err);

#endif
