/* kvm-pin: started by tests/kvm/with-kvm.sh's /init in the emulated machine,
 * before any test. It creates one KVM VM with an in-kernel irqchip and one
 * vCPU, and keeps them until the machine ends. A new vCPU's local APIC is
 * software-disabled, and KVM counts such APICs in a static key
 * (apic_sw_disabled): while the count is above zero the key's jump sites in
 * kvm.ko stay as they are. Without this VM the count drops to zero a second
 * after every test VM's guest enables its APIC, and rises again with the
 * next VM's vCPU; each change rewrites the sites with text_poke (an int3,
 * then the new bytes) while other CPUs run them. Under QEMU TCG a CPU can
 * then keep executing a stale int3 at such a site: both CPUs of the machine
 * were found looping at __apic_accept_irq+0x72 (apic_enabled()'s jump site),
 * "soft lockup" on each, the machine hung (seen with 20 restored clones and
 * with one). Pinned, the sites are rewritten once, here, before anything
 * runs.
 * Prints "kvm-pin: holding VM" and returns once the holder runs in the
 * background; exit 1 with the failing call otherwise. Static, libc only. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static int fail(const char *what)
{
    fprintf(stderr, "kvm-pin: %s: %s\n", what, strerror(errno));
    return 1;
}

int main(void)
{
    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm < 0)
        return fail("/dev/kvm");
    int vm = ioctl(kvm, KVM_CREATE_VM, 0);
    if (vm < 0)
        return fail("KVM_CREATE_VM");
    if (ioctl(vm, KVM_CREATE_IRQCHIP, 0) != 0)
        return fail("KVM_CREATE_IRQCHIP");
    if (ioctl(vm, KVM_CREATE_VCPU, 0) < 0)
        return fail("KVM_CREATE_VCPU");
    pid_t pid = fork();
    if (pid < 0)
        return fail("fork");
    if (pid > 0) {
        printf("kvm-pin: holding VM (pid %d)\n", (int)pid);
        return 0;
    }
    setsid();
    for (;;)
        pause();
}
