/* Internal to vmm/: snapshots (snapshot.c) and restores (restore.c) of a
 * VM, and the sections they share. Section layouts (little endian):
 *   MACHINE: u32 version (1), u32 vCPUs, u64 low RAM size, u64 high RAM size,
 *            u32 devices, u32 reserved, then each device's name in 32 bytes
 *            (NUL padded), in bus order (port bus, then MMIO bus);
 *   CPUID:   u32 entries, u32 reserved, then each entry's function, index,
 *            flags, eax, ebx, ecx, edx and 3 reserved u32s (40 bytes);
 *   VCPU i:  vcpu_state.h's bytes;  VM: the same file's VM bytes;
 *   DEVICE i: the i-th device's save() bytes;
 *   MEMORY:  u32 slots, u32 reserved, then per slot u64 guest-physical
 *            address, u64 size, u64 offset in the memory file;
 *   CHAIN (--snapshot-diff only): u32 version (1), u32 kind (0 full, 1
 *            diff), u64 chain id, u32 generation, u32 reserved: the same
 *            identity as the memory file's trailer (pvhboot/snapmem.h);
 *   VIRTIO:  the virtio devices' configuration (virtio/devconfig.h). */
#ifndef PVHBOOT_VMM_SNAPSHOT_H
#define PVHBOOT_VMM_SNAPSHOT_H

#include "vm.h"

#define PVH_SNAP_MACHINE_VERSION 1
#define PVH_SNAP_DEVICE_NAME 32
#define PVH_SNAP_MAX_DEVICES (2 * PVH_BUS_MAX_RANGES)
#define PVH_SNAP_CPUID_ENTRY 40
#define PVH_SNAP_MAX_CPUID 256
#define PVH_SNAP_CHAIN_VERSION 1
#define PVH_SNAP_CHAIN_SIZE 24

/* The devices a snapshot saves: each device on the buses once, in bus
 * order, without the snapshot port itself (it holds no state). */
struct pvh_snap_devices {
    size_t n;
    const struct pvh_bus_range *r[PVH_SNAP_MAX_DEVICES];
};
void pvh_snap_devices_list(struct pvh_vm *vm, struct pvh_snap_devices *d);

/* Before the sandbox, with /dev/kvm still open (--snapshot-file): reads what
 * saving vCPUs needs, opens (creates, truncates) both files, registers the
 * snapshot port (--snapshot-on-port), and refuses a machine with a device
 * that cannot be saved (one line naming it). Under an API server without
 * --snapshot-file: only reads what saving vCPUs needs, for PUT
 * /snapshot/create (the devices are checked then). */
int pvh_snapshot_prepare(struct pvh_vm *vm, struct pvh_error *err);
/* Every vCPU parked: holds the I/O thread still (pvh_eventloop_pause: no
 * device request half served), writes the state file and the memory file,
 * each synced, and lets the I/O thread go on. With --snapshot-diff the first
 * is full, generation N > 0 goes to STATE.N and MEM.N with only the pages
 * KVM's dirty log and the VMM's bitmap (guestmem.h) mark since N - 1. */
int pvh_snapshot_take(struct pvh_vm *vm, struct pvh_error *err);
/* The same into files opened now at these paths (PUT /snapshot/create;
 * the VM prepared under an API server, every vCPU parked). */
int pvh_snapshot_take_to(struct pvh_vm *vm, const char *state_path, const char *mem_path, struct pvh_error *err);
void pvh_snapshot_close(struct pvh_vm *vm);

#endif
