/* Decoding the port-I/O and MMIO exits KVM reports in a vCPU's kvm_run and
 * handing them to the device table. Separate from the run loop so that a
 * fuzzer can feed hostile kvm_run contents without KVM (tests/fuzz/fuzz_devices.c):
 * nothing outside the kvm_run mapping is read or written, whatever its fields say. */
#ifndef PVHBOOT_VMM_EXIT_H
#define PVHBOOT_VMM_EXIT_H

#include <linux/kvm.h>
#include <stddef.h>

#include "dev/devices.h"
#include "pvhboot/error.h"

/* KVM_EXIT_IO: run->io.count accesses of run->io.size bytes (1, 2 or 4) at
 * run->io.port, data at run->io.data_offset inside the run_size-byte mapping
 * (string I/O: KVM has already moved the guest's bytes there). The fields
 * are read once. Returns 0, or -1 with err set when they are impossible
 * (size; data overlapping struct kvm_run or past the mapping); then no
 * device is touched. */
int pvh_exit_io(struct pvh_devices *dev, struct kvm_run *run, size_t run_size, struct pvh_error *err);

/* KVM_EXIT_MMIO: one access of run->mmio.len bytes (at most 8) no in-kernel
 * device took; a read fills run->mmio.data. */
void pvh_exit_mmio(struct pvh_devices *dev, struct kvm_run *run);

#endif
