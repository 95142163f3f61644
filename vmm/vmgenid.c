/* The VM generation ID (lib/acpi.c describes the device, vmm/dev/acpipm.c
 * holds its GPE and its address): 16 random bytes from getrandom written
 * after the ACPI tables at boot, and on every restore a fresh 16 bytes at
 * the address the snapshot's ACPI PM state kept, then GPE0 bit 0 set, so
 * that the guest's SCI runs \_GPE._E00 and its vmgenid driver reseeds the
 * kernel's RNG: each clone of one snapshot draws its own random numbers.
 * PVHBOOT_VMGENID_NO_NOTIFY=1 (tests only: the control that shows the
 * notify is what reseeds) writes the new ID on restore but raises no GPE. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "pvhboot/acpi.h"
#include "vm.h"

static int fresh_id(uint8_t id[PVH_VMGENID_SIZE], struct pvh_error *err)
{
    ssize_t got = getrandom(id, PVH_VMGENID_SIZE, 0);
    if (got != PVH_VMGENID_SIZE)
        return pvh_fail(err, PVH_E_SYSTEM, "getrandom for the VM generation ID: %s",
                        got < 0 ? strerror(errno) : "short read");
    return 0;
}

static int write_id(struct pvh_vm *vm, uint64_t gpa, struct pvh_error *err)
{
    uint8_t id[PVH_VMGENID_SIZE];
    if (fresh_id(id, err))
        return -1;
    return pvh_guestmem_write(&vm->mem, gpa, id, sizeof(id), err);
}

/* The ID is the last PVH_VMGENID_SIZE bytes of the planned tables
 * (lib/acpi.c's layout: pvh_acpi_vmgenid_offset of the tables' own
 * configuration, which the planner sized them by), so the address is the
 * one their ADDR names; read from the plan, the DSDT is not built once
 * more just to find it. */
int pvh_vmgenid_boot(struct pvh_vm *vm, const struct pvh_boot_inputs *in, struct pvh_error *err)
{
    if (!in->plan.acpi_size)
        return 0; /* no ACPI tables planned: no device to tell */
    uint64_t gpa = in->plan.acpi_base + in->plan.acpi_size - PVH_VMGENID_SIZE;
    if (write_id(vm, gpa, err))
        return -1;
    pthread_mutex_lock(&vm->dev.acpipm.lock);
    vm->dev.acpipm.vmgenid_gpa = gpa;
    pthread_mutex_unlock(&vm->dev.acpipm.lock);
    return 0;
}

int pvh_vmgenid_restore(struct pvh_vm *vm, struct pvh_error *err)
{
    struct pvh_acpipm *pm = &vm->dev.acpipm;
    pthread_mutex_lock(&pm->lock);
    uint64_t gpa = pm->vmgenid_gpa;
    pthread_mutex_unlock(&pm->lock);
    if (!gpa)
        return 0;
    if (write_id(vm, gpa, err))
        return -1;
    const char *skip = getenv("PVHBOOT_VMGENID_NO_NOTIFY");
    if (skip && strcmp(skip, "1") == 0)
        return 0;
    pthread_mutex_lock(&pm->lock);
    pvh_acpipm_raise_gpe(pm, PVH_ACPI_GPE_VMGENID);
    pthread_mutex_unlock(&pm->lock);
    return 0;
}
