/* The gdb stub's machine side (vmm/gdb_target.c) against a fake KVM: this
 * binary defines ioctl() and answers the vCPU ioctls the stub makes on a
 * fake vCPU fd (registers kept here; KVM_TRANSLATE with paging off
 * (identity) or on (the kernel's high mapping); KVM_SET_GUEST_DEBUG
 * recorded, refusing KVM_GUESTDBG_BLOCKIRQ like an older KVM when asked).
 * Guest RAM is real (pvh_guestmem_map). Checked: an int3 written at the
 * translated address and the byte restored (not where the guest rewrote
 * it); a breakpoint where nothing is mapped yet goes to a debug register;
 * DR7's enable, RW and LEN bits for hardware breakpoints and watchpoints
 * split into aligned pieces, all or none; KVM_EXIT_DEBUG told apart: our
 * int3, a debug register hit (watch address), a step, and the guest's own
 * int3 given back to it (KVM_GUESTDBG_INJECT_BP); registers read from KVM
 * and only what changed written back; memory across pages. These are the
 * exits QEMU's TCG cannot produce for a nested guest (tests/run/gdb.t). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../../vmm/vm.h"

#define FAKE_FD 7000
#define RAM (64u << 20)
#define KERNEL_MAP 0xffffffff80000000ull

static struct {
    struct kvm_regs regs;
    struct kvm_sregs sregs;
    struct kvm_fpu fpu;
    bool paging;
    bool refuse_blockirq;
    struct kvm_guest_debug debug;
    unsigned set_debug_calls, set_regs_calls, set_sregs_calls, set_fpu_calls;
} kvm;

static int fake_translate(struct kvm_translation *t)
{
    uint64_t a = t->linear_address;
    t->valid = 0;
    if (kvm.paging && a >= KERNEL_MAP && a - KERNEL_MAP < RAM)
        t->physical_address = a - KERNEL_MAP, t->valid = 1;
    else if (!kvm.paging && a < RAM)
        t->physical_address = a, t->valid = 1;
    return 0;
}

static int fake_vcpu_ioctl(unsigned long request, void *arg)
{
    switch (request) {
    case KVM_GET_REGS: memcpy(arg, &kvm.regs, sizeof(kvm.regs)); return 0;
    case KVM_SET_REGS: memcpy(&kvm.regs, arg, sizeof(kvm.regs)); kvm.set_regs_calls++; return 0;
    case KVM_GET_SREGS: memcpy(arg, &kvm.sregs, sizeof(kvm.sregs)); return 0;
    case KVM_SET_SREGS: memcpy(&kvm.sregs, arg, sizeof(kvm.sregs)); kvm.set_sregs_calls++; return 0;
    case KVM_GET_FPU: memcpy(arg, &kvm.fpu, sizeof(kvm.fpu)); return 0;
    case KVM_SET_FPU: memcpy(&kvm.fpu, arg, sizeof(kvm.fpu)); kvm.set_fpu_calls++; return 0;
    case KVM_TRANSLATE: return fake_translate(arg);
    case KVM_SET_GUEST_DEBUG: {
        const struct kvm_guest_debug *d = arg;
        if (kvm.refuse_blockirq && (d->control & KVM_GUESTDBG_BLOCKIRQ)) {
            errno = EINVAL;
            return -1;
        }
        kvm.debug = *d;
        kvm.set_debug_calls++;
        return 0;
    }
    default:
        errno = ENOTTY;
        return -1;
    }
}

int ioctl(int fd, unsigned long request, ...);
int ioctl(int fd, unsigned long request, ...)
{
    va_list ap;
    va_start(ap, request);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    if (fd == FAKE_FD)
        return fake_vcpu_ioctl(request, arg);
    return (int)syscall(SYS_ioctl, fd, request, arg);
}

struct fixture {
    struct pvh_vm vm;
    struct pvh_gdb g;
    struct kvm_run run;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct pvh_error err;
    memset(&kvm, 0, sizeof(kvm));
    if (!f || pvh_guestmem_map(&f->vm.mem, RAM, 0, &err) != 0)
        return -1;
    f->vm.ncpus = 1;
    f->vm.vcpu[0] = (struct pvh_vcpu){.vm = &f->vm, .id = 0, .fd = FAKE_FD, .run = &f->run};
    f->g.vm = &f->vm;
    f->g.step_vcpu = -1;
    f->g.blockirq = true;
    f->vm.gdb = &f->g;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    pvh_guestmem_unmap(&f->vm.mem);
    free(f);
    return 0;
}

static uint8_t *ram(struct fixture *f, uint64_t gpa)
{
    return pvh_gpa_ptr(&f->vm.mem, gpa, 1);
}

static bool debug_exit(struct fixture *f, uint32_t exception, uint64_t pc, uint64_t dr6, struct pvh_gdb_stop *s)
{
    f->run.exit_reason = KVM_EXIT_DEBUG;
    f->run.debug.arch.exception = exception;
    f->run.debug.arch.pc = pc;
    f->run.debug.arch.dr6 = dr6;
    return pvh_gdb_classify_exit(&f->g, &f->vm.vcpu[0], s);
}

static void test_sw_breakpoint(void **state)
{
    struct fixture *f = *state;
    *ram(f, 0x100210) = 0x55;
    assert_int_equal(pvh_gdb_insert_bp(&f->g, 0, 0x100210, 1), 0);
    assert_int_equal(*ram(f, 0x100210), 0xcc);
    assert_int_equal(pvh_gdb_insert_bp(&f->g, 0, 0x100210, 1), 0); /* again: still one, byte kept */
    assert_int_equal(pvh_gdb_apply_debug(&f->g), 0);
    assert_int_equal(kvm.debug.control, KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_SW_BP);
    struct pvh_gdb_stop s;
    assert_true(debug_exit(f, 3, 0x100210, 0, &s));
    assert_int_equal(s.kind, PVH_GDB_STOP_SW);
    assert_int_equal(pvh_gdb_remove_bp(&f->g, 0, 0x100210, 1), 0);
    assert_int_equal(*ram(f, 0x100210), 0x55);
    /* the guest rewrote the byte meanwhile: it keeps what it wrote */
    assert_int_equal(pvh_gdb_insert_bp(&f->g, 0, 0x100210, 1), 0);
    *ram(f, 0x100210) = 0x90;
    pvh_gdb_remove_all_bps(&f->g);
    assert_int_equal(*ram(f, 0x100210), 0x90);
    assert_int_equal(pvh_gdb_apply_debug(&f->g), 0);
    assert_int_equal(kvm.debug.control, 0); /* nothing left: KVM debugs nothing */
}

static void test_guest_own_int3_given_back(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(pvh_gdb_insert_bp(&f->g, 0, 0x2000, 1), 0);
    assert_int_equal(pvh_gdb_apply_debug(&f->g), 0);
    unsigned calls = kvm.set_debug_calls;
    struct pvh_gdb_stop s;
    assert_false(debug_exit(f, 3, 0x3000, 0, &s));
    assert_int_equal(kvm.set_debug_calls, calls + 1);
    assert_true(kvm.debug.control & KVM_GUESTDBG_INJECT_BP);
    assert_true(kvm.debug.control & KVM_GUESTDBG_USE_SW_BP);
}

static void test_breakpoint_before_paging_uses_a_debug_register(void **state)
{
    struct fixture *f = *state;
    const uint64_t start_kernel = 0xffffffff8304ee41ull;
    assert_int_equal(pvh_gdb_insert_bp(&f->g, 0, start_kernel, 1), 0);
    assert_int_equal(pvh_gdb_apply_debug(&f->g), 0);
    assert_int_equal(kvm.debug.control, KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_HW_BP);
    assert_true(kvm.debug.arch.debugreg[0] == start_kernel);
    assert_int_equal(kvm.debug.arch.debugreg[7], 0x2); /* G0, exec, 1 byte */
    struct pvh_gdb_stop s;
    assert_true(debug_exit(f, 1, start_kernel, 0x1, &s));
    assert_int_equal(s.kind, PVH_GDB_STOP_SW); /* gdb asked for a software one */
    /* once paging is on, a new one is an int3 at the physical address */
    kvm.paging = true;
    assert_int_equal(pvh_gdb_insert_bp(&f->g, 0, start_kernel + 0x10, 1), 0);
    assert_int_equal(*ram(f, 0x304ee51), 0xcc);
    assert_int_equal(pvh_gdb_remove_bp(&f->g, 0, start_kernel, 1), 0);
    assert_int_equal(pvh_gdb_apply_debug(&f->g), 0);
    assert_int_equal(kvm.debug.control, KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_SW_BP);
}

static void test_watchpoints_and_dr7(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(pvh_gdb_insert_bp(&f->g, 2, 0x101000, 8), 0);  /* write, 8 bytes */
    assert_int_equal(pvh_gdb_insert_bp(&f->g, 4, 0x101003, 3), 0);  /* access: 1 + 2 bytes */
    assert_int_equal(pvh_gdb_apply_debug(&f->g), 0);
    assert_int_equal(kvm.debug.control, KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_HW_BP);
    assert_true(kvm.debug.arch.debugreg[0] == 0x101000);
    assert_true(kvm.debug.arch.debugreg[1] == 0x101003);
    assert_true(kvm.debug.arch.debugreg[2] == 0x101004);
    uint64_t dr7 = (2 | 2 << 2 | 2 << 4) | (1ull << 16 | 2ull << 18) | (3ull << 20 | 0ull << 22) |
                   (3ull << 24 | 1ull << 26);
    assert_true(kvm.debug.arch.debugreg[7] == dr7);
    /* three pieces would be needed, one slot is left: refused, nothing taken */
    assert_int_equal(pvh_gdb_insert_bp(&f->g, 2, 0x200001, 7), -1);
    assert_int_equal(pvh_gdb_insert_bp(&f->g, 3, 0x200000, 4), 1); /* no read-only watch on x86 */
    assert_int_equal(pvh_gdb_insert_bp(&f->g, 1, 0x100020, 1), 0);  /* the last slot */
    assert_int_equal(pvh_gdb_insert_bp(&f->g, 1, 0x100030, 1), -1);
    struct pvh_gdb_stop s;
    assert_true(debug_exit(f, 1, 0x100040, 0x4, &s)); /* DR2: the access watch's second piece */
    assert_int_equal(s.kind, PVH_GDB_STOP_WATCH);
    assert_int_equal(s.watch_type, 4);
    assert_true(s.watch_addr == 0x101003);
    assert_true(debug_exit(f, 1, 0x100020, 0x8, &s));
    assert_int_equal(s.kind, PVH_GDB_STOP_HW);
    /* removing the access watch frees both of its pieces */
    assert_int_equal(pvh_gdb_remove_bp(&f->g, 4, 0x101003, 3), 0);
    assert_int_equal(pvh_gdb_insert_bp(&f->g, 2, 0x200002, 4), 0); /* 2 + 2 bytes */
}

static void test_step_and_blockirq_fallback(void **state)
{
    struct fixture *f = *state;
    f->g.step_vcpu = 0;
    kvm.refuse_blockirq = true;
    assert_int_equal(pvh_gdb_apply_debug(&f->g), 0);
    assert_false(f->g.blockirq);
    assert_int_equal(kvm.debug.control, KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP);
    struct pvh_gdb_stop s;
    assert_true(debug_exit(f, 1, 0x100027, 0x4000, &s));
    assert_int_equal(s.kind, PVH_GDB_STOP_STEP);
    /* a #DB that is neither ours nor a step goes back to the guest */
    f->g.step_vcpu = -1;
    assert_int_equal(pvh_gdb_insert_bp(&f->g, 1, 0x5000, 1), 0);
    assert_int_equal(pvh_gdb_apply_debug(&f->g), 0);
    assert_false(debug_exit(f, 1, 0x6000, 0x4000, &s));
    assert_true(kvm.debug.control & KVM_GUESTDBG_INJECT_DB);
}

static void test_registers(void **state)
{
    struct fixture *f = *state;
    kvm.regs.rbx = 0x1000;
    kvm.regs.rip = 0x100020;
    kvm.sregs.cs.selector = 0x10;
    kvm.sregs.cr0 = 0x11;
    kvm.fpu.fcw = 0x37f;
    struct pvh_gdb_regs r;
    assert_int_equal(pvh_gdb_read_regs(&f->g, 0, &r), 0);
    assert_true(r.gpr[PVH_GDB_RBX] == 0x1000 && r.rip == 0x100020 && r.seg[PVH_GDB_CS] == 0x10);
    assert_true(r.cr0 == 0x11 && r.fctrl == 0x37f && !r.code64);
    assert_int_equal(pvh_gdb_write_regs(&f->g, 0, &r), 0); /* unchanged: nothing written */
    assert_int_equal(kvm.set_regs_calls + kvm.set_sregs_calls + kvm.set_fpu_calls, 0);
    r.rip = 0x100030;
    r.cr3 = 0x5000;
    assert_int_equal(pvh_gdb_write_regs(&f->g, 0, &r), 0);
    assert_true(kvm.regs.rip == 0x100030 && kvm.sregs.cr3 == 0x5000);
    assert_int_equal(kvm.set_regs_calls, 1);
    assert_int_equal(kvm.set_sregs_calls, 1);
    assert_int_equal(kvm.set_fpu_calls, 0);
    kvm.sregs.efer = 0x500; /* LMA|LME */
    kvm.sregs.cs.l = 1;
    assert_int_equal(pvh_gdb_read_regs(&f->g, 0, &r), 0);
    assert_true(r.code64);
    assert_true(pvh_gdb_in_long_mode(&f->g, 0));
}

static void test_memory(void **state)
{
    struct fixture *f = *state;
    uint8_t buf[16];
    memcpy(ram(f, 0xffa), "0123456789abcdef", 16);
    assert_int_equal(pvh_gdb_read_mem(&f->g, 0xffa, buf, 16), 16); /* across a page */
    assert_memory_equal(buf, "0123456789abcdef", 16);
    assert_int_equal(pvh_gdb_write_mem(&f->g, RAM - 8, (const uint8_t *)"ABCDEFGHIJKL", 12), 8); /* RAM ends */
    assert_int_equal(pvh_gdb_read_mem(&f->g, 0xffffffff8211ffe0ull, buf, 4), 0); /* not mapped yet */
    kvm.paging = true;
    memcpy(ram(f, 0x211ffe0), "Linux", 5);
    assert_int_equal(pvh_gdb_read_mem(&f->g, 0xffffffff8211ffe0ull, buf, 5), 5);
    assert_memory_equal(buf, "Linux", 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sw_breakpoint, setup, teardown),
        cmocka_unit_test_setup_teardown(test_guest_own_int3_given_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_breakpoint_before_paging_uses_a_debug_register, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watchpoints_and_dr7, setup, teardown),
        cmocka_unit_test_setup_teardown(test_step_and_blockirq_fallback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_registers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
