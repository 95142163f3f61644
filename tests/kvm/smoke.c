/* KVM smoke test: proves that /dev/kvm runs guests, independently of pvhboot.
 * Runs two one-vCPU guests, each doing one OUT to a port then HLT:
 *   - real mode: OUT of the byte 0x41 to port 0x3f8;
 *   - 32-bit protected mode (flat segments, paging off): OUT of the dword
 *     0x12345678 to port 0xe9 (the encoding only means that in 32-bit mode).
 * Asserts KVM_EXIT_IO (direction, size, port, count, data) then KVM_EXIT_HLT.
 * Prints one unnumbered TAP line per check ("ok - ..." / "not ok - ...");
 * smoke.t numbers them. Exit status: 0 when every check passed. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

enum { GUEST_MEM = 0x10000, CODE_ADDR = 0x1000 };

struct guest_case {
    const char *name;
    const uint8_t *code;
    size_t code_len;
    int protected_mode;
    uint16_t port;
    uint8_t size;
    uint32_t data;
};

/* mov al,0x41; mov dx,0x3f8; out dx,al; hlt */
static const uint8_t real_mode_code[] = {0xb0, 0x41, 0xba, 0xf8, 0x03, 0xee, 0xf4};
/* mov eax,0x12345678; mov edx,0xe9; out dx,eax; hlt */
static const uint8_t protected_mode_code[] = {0xb8, 0x78, 0x56, 0x34, 0x12, 0xba, 0xe9,
                                              0x00, 0x00, 0x00, 0xef, 0xf4};

static int failures;

static void check(int ok, const char *what, const char *name)
{
    printf("%s - %s: %s\n", ok ? "ok" : "not ok", name, what);
    fflush(stdout);
    if (!ok)
        failures++;
}

static void flat_segment(struct kvm_segment *seg, uint16_t selector, uint8_t type)
{
    memset(seg, 0, sizeof(*seg));
    seg->base = 0;
    seg->limit = 0xffffffff;
    seg->selector = selector;
    seg->type = type;
    seg->present = 1;
    seg->db = 1;
    seg->s = 1;
    seg->g = 1;
}

static int enter_protected_mode(int vcpu)
{
    struct kvm_sregs sregs;
    if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0)
        return -1;
    flat_segment(&sregs.cs, 0x08, 0xb);
    flat_segment(&sregs.ds, 0x10, 0x3);
    sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
    memset(&sregs.tr, 0, sizeof(sregs.tr));
    sregs.tr.limit = 0x67;
    sregs.tr.type = 0xb; /* busy 32-bit TSS */
    sregs.tr.present = 1;
    sregs.cr0 = 0x1; /* PE only: paging, caching flags off */
    sregs.cr4 = 0;
    sregs.efer = 0;
    return ioctl(vcpu, KVM_SET_SREGS, &sregs);
}

static int enter_real_mode_at_zero(int vcpu)
{
    struct kvm_sregs sregs;
    if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0)
        return -1;
    sregs.cs.base = 0;
    sregs.cs.selector = 0;
    return ioctl(vcpu, KVM_SET_SREGS, &sregs);
}

static void check_io_exit(const struct guest_case *gc, struct kvm_run *run)
{
    char what[160];
    snprintf(what, sizeof(what), "first exit is KVM_EXIT_IO (got reason %u)", run->exit_reason);
    check(run->exit_reason == KVM_EXIT_IO, what, gc->name);
    if (run->exit_reason != KVM_EXIT_IO) {
        check(0, "OUT direction/port/size/count", gc->name);
        check(0, "OUT data", gc->name);
        return;
    }
    snprintf(what, sizeof(what), "OUT to port 0x%x size %u count 1 (got dir %u port 0x%x size %u count %u)",
             gc->port, gc->size, run->io.direction, run->io.port, run->io.size, run->io.count);
    check(run->io.direction == KVM_EXIT_IO_OUT && run->io.port == gc->port && run->io.size == gc->size &&
              run->io.count == 1,
          what, gc->name);
    uint32_t data = 0;
    memcpy(&data, (const uint8_t *)run + run->io.data_offset, gc->size);
    snprintf(what, sizeof(what), "OUT data 0x%x (got 0x%x)", gc->data, data);
    check(data == gc->data, what, gc->name);
}

static int setup_guest(int kvm, const struct guest_case *gc, int *vm_out, int *vcpu_out, uint8_t **mem_out)
{
    int vm = ioctl(kvm, KVM_CREATE_VM, 0);
    if (vm < 0)
        return -1;
    uint8_t *mem = mmap(NULL, GUEST_MEM, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED)
        return -1;
    memcpy(mem + CODE_ADDR, gc->code, gc->code_len);
    struct kvm_userspace_memory_region region = {
        .slot = 0, .guest_phys_addr = 0, .memory_size = GUEST_MEM, .userspace_addr = (uintptr_t)mem};
    if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
        return -1;
    int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
    if (vcpu < 0)
        return -1;
    if ((gc->protected_mode ? enter_protected_mode(vcpu) : enter_real_mode_at_zero(vcpu)) < 0)
        return -1;
    struct kvm_regs regs = {.rip = CODE_ADDR, .rflags = 0x2};
    if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
        return -1;
    *vm_out = vm;
    *vcpu_out = vcpu;
    *mem_out = mem;
    return 0;
}

static void run_case(int kvm, const struct guest_case *gc, size_t run_size)
{
    int vm = -1, vcpu = -1;
    uint8_t *mem = NULL;
    char what[160];
    int ok = setup_guest(kvm, gc, &vm, &vcpu, &mem) == 0;
    snprintf(what, sizeof(what), "create VM and vCPU, load code (%s)", ok ? "done" : strerror(errno));
    check(ok, what, gc->name);
    struct kvm_run *run = ok ? mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0) : MAP_FAILED;
    ok = ok && run != MAP_FAILED && ioctl(vcpu, KVM_RUN, 0) == 0;
    if (!ok) {
        check(0, "first KVM_RUN", gc->name);
        check(0, "OUT direction/port/size/count", gc->name);
        check(0, "OUT data", gc->name);
        check(0, "second exit is KVM_EXIT_HLT", gc->name);
        return;
    }
    check_io_exit(gc, run);
    int rc = ioctl(vcpu, KVM_RUN, 0);
    snprintf(what, sizeof(what), "second exit is KVM_EXIT_HLT (got rc %d reason %u)", rc, run->exit_reason);
    check(rc == 0 && run->exit_reason == KVM_EXIT_HLT, what, gc->name);
    munmap(run, run_size);
    munmap(mem, GUEST_MEM);
    close(vcpu);
    close(vm);
}

int main(void)
{
    static const struct guest_case cases[] = {
        {"real mode", real_mode_code, sizeof(real_mode_code), 0, 0x3f8, 1, 0x41},
        {"protected mode", protected_mode_code, sizeof(protected_mode_code), 1, 0xe9, 4, 0x12345678},
    };
    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    int api = kvm < 0 ? -1 : ioctl(kvm, KVM_GET_API_VERSION, 0);
    char what[96];
    snprintf(what, sizeof(what), "/dev/kvm opens and KVM_GET_API_VERSION is 12 (got %d)", api);
    check(api == KVM_API_VERSION, what, "kvm");
    int run_size = api == KVM_API_VERSION ? ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0) : -1;
    if (run_size <= 0)
        return 1;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        run_case(kvm, &cases[i], (size_t)run_size);
    return failures ? 1 : 0;
}
