/* Port-I/O and MMIO exits, decoded from kvm_run with every field checked
 * against the mapping, then dispatched to the device table (vmm/dev/). */
#include "exit.h"

int pvh_exit_io(struct pvh_devices *dev, struct kvm_run *run, size_t run_size, struct pvh_error *err)
{
    /* Read once: the data area may not overlap these fields, but if it did,
     * device reads written there must not change what is being decoded. */
    const unsigned size = run->io.size, port = run->io.port;
    const uint32_t count = run->io.count;
    const uint64_t offset = run->io.data_offset;
    const int is_write = run->io.direction == KVM_EXIT_IO_OUT;
    if (size != 1 && size != 2 && size != 4)
        return pvh_fail(err, PVH_E_GUEST, "KVM reported port I/O of %u bytes at port %#x", size, port);
    uint64_t bytes = (uint64_t)size * count;
    if (offset < sizeof(*run) || offset >= run_size || bytes > run_size - offset)
        return pvh_fail(err, PVH_E_GUEST,
                        "KVM reported port I/O data outside kvm_run's data area (offset %#llx, %u x %u bytes, "
                        "mapping %zu bytes)", (unsigned long long)offset, count, size, run_size);
    uint8_t *data = (uint8_t *)run + offset;
    for (uint32_t i = 0; i < count; i++)
        pvh_devices_io(dev, (uint16_t)port, is_write, data + (size_t)i * size, size);
    return 0;
}

void pvh_exit_mmio(struct pvh_devices *dev, struct kvm_run *run)
{
    unsigned len = run->mmio.len > sizeof(run->mmio.data) ? sizeof(run->mmio.data) : run->mmio.len;
    pvh_devices_mmio(dev, run->mmio.phys_addr, run->mmio.is_write, run->mmio.data, len);
}
