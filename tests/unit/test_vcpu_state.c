/* vCPU and VM state as section bytes (vmm/vcpu_state.c), the part of a
 * restore that reads a hostile state file: a state round-trips byte for
 * byte; every length that does not add up (short, one byte more or less,
 * an XSAVE length or MSR count past its bound, a count that would overflow
 * into a small buffer) is refused with a message, never read past. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../vmm/vcpu_state.h"
#include "pvhboot/bytes.h"

static struct pvh_vcpu_state sample(void)
{
    struct pvh_vcpu_state st;
    memset(&st, 0, sizeof(st));
    st.regs.rip = 0x100123;
    st.regs.rax = 0x5a5a;
    st.sregs.cr0 = 0x11;
    st.lapic.regs[0x20] = 7;
    st.events.nmi.pending = 1;
    st.mp.mp_state = 0;
    st.xsave_len = sizeof(struct kvm_xsave);
    st.xsave = calloc(1, st.xsave_len);
    st.xsave[17] = 0x42;
    st.nmsrs = 3;
    st.msrs = calloc(3, sizeof(*st.msrs));
    st.msrs[0] = (struct kvm_msr_entry){.index = 0x10, .data = 0x123456789ull};
    st.msrs[1] = (struct kvm_msr_entry){.index = 0x4b564d01, .data = 0x7001};
    st.msrs[2] = (struct kvm_msr_entry){.index = 0xc0000080, .data = 0x500};
    return st;
}

static void round_trip(void **state)
{
    (void)state;
    struct pvh_vcpu_state st = sample(), back;
    struct pvh_error err;
    size_t len = pvh_vcpu_state_size(&st);
    uint8_t *buf = malloc(len);
    pvh_vcpu_state_encode(&st, buf);
    assert_int_equal(pvh_vcpu_state_decode(buf, len, &back, &err), 0);
    assert_memory_equal(&back.regs, &st.regs, sizeof(st.regs));
    assert_memory_equal(&back.sregs, &st.sregs, sizeof(st.sregs));
    assert_memory_equal(&back.lapic, &st.lapic, sizeof(st.lapic));
    assert_memory_equal(&back.events, &st.events, sizeof(st.events));
    assert_int_equal(back.xsave_len, st.xsave_len);
    assert_memory_equal(back.xsave, st.xsave, st.xsave_len);
    assert_int_equal(back.nmsrs, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(back.msrs[i].index, st.msrs[i].index);
        assert_int_equal(back.msrs[i].data, st.msrs[i].data);
    }
    uint8_t *again = malloc(len);
    pvh_vcpu_state_encode(&back, again);
    assert_memory_equal(again, buf, len);
    free(again);
    free(buf);
    pvh_vcpu_state_free(&st);
    pvh_vcpu_state_free(&back);
}

static void lengths_that_do_not_add_up(void **state)
{
    (void)state;
    struct pvh_vcpu_state st = sample(), back;
    struct pvh_error err;
    size_t len = pvh_vcpu_state_size(&st);
    uint8_t *buf = malloc(len + 1);
    pvh_vcpu_state_encode(&st, buf);
    buf[len] = 0;
    assert_int_equal(pvh_vcpu_state_decode(buf, len - 1, &back, &err), -1);
    assert_non_null(strstr(err.msg, "where its counts make"));
    assert_int_equal(pvh_vcpu_state_decode(buf, len + 1, &back, &err), -1);
    assert_int_equal(pvh_vcpu_state_decode(buf, 7, &back, &err), -1);
    assert_non_null(strstr(err.msg, "fewer than"));
    pvh_put_le32(buf, PVH_VCPU_STATE_MAX_XSAVE + 1);
    assert_int_equal(pvh_vcpu_state_decode(buf, len, &back, &err), -1);
    assert_non_null(strstr(err.msg, "out of bounds"));
    pvh_put_le32(buf, 16); /* smaller than KVM's struct: KVM_SET_XSAVE would read past it */
    assert_int_equal(pvh_vcpu_state_decode(buf, len, &back, &err), -1);
    pvh_put_le32(buf, st.xsave_len);
    pvh_put_le32(buf + 4, 0xffffffffu); /* 2^32 MSRs: the size must not wrap */
    assert_int_equal(pvh_vcpu_state_decode(buf, len, &back, &err), -1);
    pvh_put_le32(buf + 4, 4); /* one MSR more than the bytes hold */
    assert_int_equal(pvh_vcpu_state_decode(buf, len, &back, &err), -1);
    free(buf);
    pvh_vcpu_state_free(&st);
}

static void vm_state_length_exact(void **state)
{
    (void)state;
    struct pvh_vm_kvm_state st, back;
    struct pvh_error err;
    memset(&st, 0, sizeof(st));
    st.pit.channels[0].count = 0x1234;
    st.clock.clock = 987654321;
    size_t len = pvh_vm_kvm_state_size();
    uint8_t *buf = malloc(len);
    pvh_vm_kvm_state_encode(&st, buf);
    assert_int_equal(pvh_vm_kvm_state_decode(buf, len, &back, &err), 0);
    assert_int_equal(back.pit.channels[0].count, 0x1234);
    assert_int_equal(back.clock.clock, 987654321);
    assert_int_equal(pvh_vm_kvm_state_decode(buf, len - 1, &back, &err), -1);
    assert_int_equal(pvh_vm_kvm_state_decode(buf, 0, &back, &err), -1);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),
        cmocka_unit_test(lengths_that_do_not_add_up),
        cmocka_unit_test(vm_state_length_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
