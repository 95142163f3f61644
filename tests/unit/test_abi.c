/* The ABI header: note names and the start_info layout as bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "pvh/start_info.h"

static void note_names_cover_0_to_19(void **state)
{
    (void)state;
    assert_string_equal(xen_elfnote_name(XEN_ELFNOTE_INFO), "INFO");
    assert_string_equal(xen_elfnote_name(XEN_ELFNOTE_PHYS32_ENTRY), "PHYS32_ENTRY");
    assert_string_equal(xen_elfnote_name(XEN_ELFNOTE_PHYS32_RELOC), "PHYS32_RELOC");
    assert_string_equal(xen_elfnote_name(20), "UNKNOWN");
    for (uint32_t t = 0; t <= XEN_ELFNOTE_MAX; t++)
        assert_string_not_equal(xen_elfnote_name(t), "UNKNOWN");
}

static void start_info_bytes_are_little_endian_at_spec_offsets(void **state)
{
    (void)state;
    struct hvm_start_info si;
    memset(&si, 0, sizeof(si));
    si.magic = HVM_START_MAGIC_VALUE;
    si.memmap_paddr = 0x1122334455667788ull;
    si.memmap_entries = 7;
    const uint8_t *b = (const uint8_t *)&si;
    const uint8_t magic[4] = {0x78, 0xc5, 0x6e, 0x33};
    assert_memory_equal(b, magic, 4);
    assert_int_equal(b[40], 0x88);
    assert_int_equal(b[47], 0x11);
    assert_int_equal(b[48], 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(note_names_cover_0_to_19),
        cmocka_unit_test(start_info_bytes_are_little_endian_at_spec_offsets),
    };
    return cmocka_run_group_tests_name("abi", tests, NULL, NULL);
}
