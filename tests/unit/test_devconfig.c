/* The virtio devices' configuration in a snapshot (vmm/virtio/devconfig.c):
 * a run's devices encode and decode back to the same devices in the same
 * slots (and encode again to the same bytes); every truncation, every
 * field out of range, a device out of pvhboot's slot order or off its slot
 * (the rng before a drive, two consoles) is refused with one line; the clone overrides replace a drive's file by
 * id, a NIC's TAP and MAC, vsock's CID and socket, and refuse what the
 * snapshot has not (an unknown drive id, one NIC too many, vsock on a
 * machine without it); a NIC's iface_id is kept (older sections without
 * one still decode) and the API's overrides find their NIC by it, vsock's
 * keeping its CID; a drive keeps the API's root flag and cache_type; apply
 * gives a run configuration back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../vmm/virtio/devconfig.h"
#include "pvhboot/bytes.h"

static struct pvh_vm_config sample(void)
{
    struct pvh_vm_config c = {0};
    c.ndrives = 2;
    c.drives[0] = (struct pvh_vm_drive){.path = "/img/root.ext4", .id = "root", .cache = PVH_CACHE_NONE};
    c.drives[1] = (struct pvh_vm_drive){.path = "/img/data.raw", .read_only = true};
    c.nnets = 1;
    c.nets[0] = (struct pvh_vm_net){.tap = "tap0", .has_mac = true, .mac = {2, 0, 0, 0, 0, 7}, .mtu = 1400};
    c.console = PVH_CONSOLE_VIRTIO;
    c.rng = PVH_RNG_AUTO;
    c.vsock = (struct pvh_vm_vsock){.cid = 42, .uds_path = "/run/v.sock"};
    return c;
}

static const uint64_t caps[2] = {2048, 8};

struct fixture {
    struct pvh_vconfig a, b;
    uint8_t buf[PVH_VCONFIG_MAX_BYTES], buf2[PVH_VCONFIG_MAX_BYTES];
    size_t len, len2;
    struct pvh_error err;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct pvh_vm_config c = sample();
    pvh_vconfig_from(&f->a, &c, caps);
    if (pvh_vconfig_encode(&f->a, f->buf, sizeof(f->buf), &f->len, &f->err))
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    free(*state);
    return 0;
}

static void one_line(const struct pvh_error *e, const char *want)
{
    assert_null(strchr(e->msg, '\n'));
    if (!strstr(e->msg, want))
        fail_msg("'%s' does not say '%s'", e->msg, want);
}

static void round_trip(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(f->a.ndevices, 6); /* 2 drives, NIC, console, rng (auto: there are devices), vsock */
    static const uint32_t order[] = {PVH_VIRTIO_ID_BLOCK, PVH_VIRTIO_ID_BLOCK, PVH_VIRTIO_ID_NET,
                                     PVH_VIRTIO_ID_CONSOLE, PVH_VIRTIO_ID_RNG, PVH_VIRTIO_ID_VSOCK};
    assert_int_equal(pvh_vconfig_decode(&f->b, f->buf, f->len, &f->err), 0);
    assert_int_equal(f->b.ndevices, 6);
    assert_memory_equal(f->b.virtio_id, order, sizeof(order));
    assert_string_equal(f->b.drives[0].path, "/img/root.ext4");
    assert_string_equal(f->b.drives[0].id, "root");
    assert_int_equal(f->b.drives[0].cache, PVH_CACHE_NONE);
    assert_false(f->b.drives[0].read_only);
    assert_null(f->b.drives[1].id);
    assert_true(f->b.drives[1].read_only);
    assert_int_equal(f->b.capacity[0], 2048);
    assert_int_equal(f->b.capacity[1], 8);
    assert_string_equal(f->b.nets[0].tap, "tap0");
    assert_true(f->b.nets[0].has_mac);
    assert_int_equal(f->b.nets[0].mac[5], 7);
    assert_int_equal(f->b.nets[0].mtu, 1400);
    assert_true(f->b.console && f->b.rng);
    assert_int_equal(f->b.vsock.cid, 42);
    assert_string_equal(f->b.vsock.uds_path, "/run/v.sock");
    assert_int_equal(pvh_vconfig_encode(&f->b, f->buf2, sizeof(f->buf2), &f->len2, &f->err), 0);
    assert_int_equal(f->len2, f->len);
    assert_memory_equal(f->buf2, f->buf, f->len);
    struct pvh_vm_config back = {0};
    pvh_vconfig_apply(&f->b, &back);
    assert_int_equal(back.ndrives, 2);
    assert_int_equal(back.rng, PVH_RNG_ON);
    assert_int_equal(back.console, PVH_CONSOLE_VIRTIO);
    assert_string_equal(back.vsock.uds_path, "/run/v.sock");
}

static void no_devices(void **state)
{
    struct fixture *f = *state;
    struct pvh_vm_config none = {0};
    pvh_vconfig_from(&f->a, &none, NULL);
    assert_int_equal(pvh_vconfig_encode(&f->a, f->buf, sizeof(f->buf), &f->len, &f->err), 0);
    assert_int_equal(f->len, 8);
    assert_int_equal(pvh_vconfig_decode(&f->b, f->buf, f->len, &f->err), 0);
    assert_int_equal(f->b.ndevices, 0);
    struct pvh_vm_config back = {0};
    pvh_vconfig_apply(&f->b, &back);
    assert_int_equal(back.rng, PVH_RNG_OFF); /* the restored machine gets none, not rng's "auto" */
}

static void every_truncation_refused(void **state)
{
    struct fixture *f = *state;
    for (size_t n = 0; n < f->len; n++) {
        if (pvh_vconfig_decode(&f->b, f->buf, n, &f->err) == 0)
            fail_msg("a section cut to %zu of %zu bytes was accepted", n, f->len);
        one_line(&f->err, "virtio config: ");
    }
}

/* Byte offsets in the sample's encoding. */
#define DEV0 8               /* first device's header */
#define DEV0_BODY (DEV0 + 24)

static void refuse(struct fixture *f, size_t off, const void *bytes, size_t n, const char *want)
{
    uint8_t copy[PVH_VCONFIG_MAX_BYTES];
    memcpy(copy, f->buf, f->len);
    memcpy(copy + off, bytes, n);
    assert_int_equal(pvh_vconfig_decode(&f->b, copy, f->len, &f->err), -1);
    one_line(&f->err, want);
}

static void fields_out_of_range_refused(void **state)
{
    struct fixture *f = *state;
    uint8_t v[8];
    pvh_put_le32(v, 2);
    refuse(f, 0, v, 4, "version 2");
    pvh_put_le32(v, 18);
    refuse(f, 4, v, 4, "18 devices");
    pvh_put_le32(v, 7);
    refuse(f, DEV0, v, 4, "virtio device ID 7");
    pvh_put_le32(v, 1);
    refuse(f, DEV0 + 4, v, 4, "is not where pvhboot puts it");
    pvh_put_le64(v, 0xfee00000);
    refuse(f, DEV0 + 8, v, 8, "is not where pvhboot puts it");
    pvh_put_le32(v, 0xffffff);
    refuse(f, DEV0 + 20, v, 4, "runs past the section's end");
    refuse(f, DEV0_BODY, "\x02", 1, "drive flags");
    refuse(f, DEV0_BODY + 3, "\x04", 1, "drive flags 0/1/1/4");
    /* the path "/img/root.ext4" starts after 12 fixed bytes and its length */
    refuse(f, DEV0_BODY + 14 + 4, "\0", 1, "holds control character 0x00");
    refuse(f, DEV0_BODY + 14 + 5, "\n", 1, "holds control character 0x0a");
    /* the id "root": after the path's 14 bytes and the id's length */
    refuse(f, DEV0_BODY + 14 + 14 + 2, " ", 1, "drive id");
    refuse(f, DEV0_BODY + 2, "\x00", 1, "drive id"); /* an id without the has-id flag */
}

static void order_refused(void **state)
{
    struct fixture *f = *state;
    /* the rng before a drive, then a second console */
    struct pvh_vm_config c = {.ndrives = 1, .drives = {{.path = "/d"}}, .rng = PVH_RNG_ON};
    pvh_vconfig_from(&f->a, &c, NULL);
    f->a.virtio_id[0] = PVH_VIRTIO_ID_RNG;
    f->a.virtio_id[1] = PVH_VIRTIO_ID_BLOCK;
    assert_int_equal(pvh_vconfig_encode(&f->a, f->buf, sizeof(f->buf), &f->len, &f->err), 0);
    assert_int_equal(pvh_vconfig_decode(&f->b, f->buf, f->len, &f->err), -1);
    one_line(&f->err, "slot 1: virtio-blk out of pvhboot's order");
    struct pvh_vm_config two = {.console = PVH_CONSOLE_VIRTIO, .rng = PVH_RNG_ON};
    pvh_vconfig_from(&f->a, &two, NULL);
    f->a.virtio_id[1] = PVH_VIRTIO_ID_CONSOLE;
    assert_int_equal(pvh_vconfig_encode(&f->a, f->buf, sizeof(f->buf), &f->len, &f->err), 0);
    assert_int_equal(pvh_vconfig_decode(&f->b, f->buf, f->len, &f->err), -1);
    one_line(&f->err, "slot 1: virtio-console out of pvhboot's order");
}

static void more_fields_refused(void **state)
{
    struct fixture *f = *state;
    /* a section with just a vsock device, then a NIC */
    struct pvh_vm_config c = {.vsock = {.cid = 3, .uds_path = "/s"}, .rng = PVH_RNG_OFF};
    pvh_vconfig_from(&f->a, &c, NULL);
    assert_int_equal(pvh_vconfig_encode(&f->a, f->buf, sizeof(f->buf), &f->len, &f->err), 0);
    uint8_t v[8];
    pvh_put_le64(v, 2);
    refuse(f, DEV0_BODY, v, 8, "vsock CID 2");
    pvh_put_le64(v, 0xffffffffull);
    refuse(f, DEV0_BODY, v, 8, "vsock CID 4294967295");
    uint8_t longer[PVH_VCONFIG_MAX_BYTES];
    memcpy(longer, f->buf, f->len);
    longer[f->len] = 0;
    assert_int_equal(pvh_vconfig_decode(&f->b, longer, f->len + 1, &f->err), -1);
    one_line(&f->err, "1 bytes after the last device");
    struct pvh_vm_config n = {.nnets = 1, .nets = {{.tap = "tap1", .has_mac = true, .mac = {2, 1, 1, 1, 1, 1}}}};
    n.rng = PVH_RNG_OFF;
    pvh_vconfig_from(&f->a, &n, NULL);
    assert_int_equal(pvh_vconfig_encode(&f->a, f->buf, sizeof(f->buf), &f->len, &f->err), 0);
    refuse(f, DEV0_BODY + 1, "\x03", 1, "multicast or zero");
    refuse(f, DEV0_BODY + 12 + 2, "/", 1, "TAP name");
    pvh_put_le32(v, 10);
    refuse(f, DEV0_BODY + 8, v, 4, "MTU 10");
}

/* A NIC the API built keeps its iface_id (the has-id flag and the id after
 * the TAP); one without keeps the old body, so older snapshots still
 * decode; a bad id or flag is refused. */
static void nic_ids(void **state)
{
    struct fixture *f = *state;
    struct pvh_vm_config c = {.nnets = 2, .nets = {{.tap = "tap1", .id = "eth_0"}, {.tap = "tap2"}}, .rng = PVH_RNG_OFF};
    pvh_vconfig_from(&f->a, &c, NULL);
    assert_int_equal(pvh_vconfig_encode(&f->a, f->buf, sizeof(f->buf), &f->len, &f->err), 0);
    assert_int_equal(pvh_vconfig_decode(&f->b, f->buf, f->len, &f->err), 0);
    assert_string_equal(f->b.nets[0].id, "eth_0");
    assert_null(f->b.nets[1].id);
    assert_int_equal(f->buf[DEV0_BODY + 7], 1);
    /* the second NIC's body is the old one: flag 0, no id after its TAP */
    size_t dev1_body = DEV0_BODY + 12 + 2 + 4 + 2 + 5 + 24;
    assert_int_equal(f->buf[dev1_body + 7], 0);
    assert_int_equal(pvh_le32(f->buf + dev1_body - 4), 12 + 2 + 4);
    refuse(f, DEV0_BODY + 7, "\x02", 1, "NIC flags 0/2");
    refuse(f, DEV0_BODY + 12 + 2 + 4 + 2 + 3, "-", 1, "an iface_id of 5 bytes is not one");
    struct pvh_vm_config longer = {.nnets = 1, .rng = PVH_RNG_OFF};
    char id[PVH_NET_ID_MAX + 2];
    memset(id, 'a', sizeof(id) - 1);
    id[sizeof(id) - 1] = '\0';
    longer.nets[0] = (struct pvh_vm_net){.tap = "tap1", .id = id};
    pvh_vconfig_from(&f->a, &longer, NULL);
    assert_int_equal(pvh_vconfig_encode(&f->a, f->buf, sizeof(f->buf), &f->len, &f->err), 0);
    assert_int_equal(pvh_vconfig_decode(&f->b, f->buf, f->len, &f->err), -1);
    one_line(&f->err, "an iface_id of 65 bytes is not one");
}

/* A drive keeps the API's is_root_device and cache_type "Writeback" (bits 0
 * and 1 of its fourth flag byte) through encode, decode, an override of its
 * file and apply; a drive without them keeps the byte 0, as every drive's
 * was before (so older sections decode, without them). */
static void drive_api_flags(void **state)
{
    struct fixture *f = *state;
    struct pvh_vm_config c = {.ndrives = 3, .rng = PVH_RNG_OFF};
    c.drives[0] = (struct pvh_vm_drive){.path = "/r", .id = "rootfs", .root = true};
    c.drives[1] = (struct pvh_vm_drive){.path = "/d", .id = "data", .read_only = true, .api_writeback = true};
    c.drives[2] = (struct pvh_vm_drive){.path = "/o"};
    pvh_vconfig_from(&f->a, &c, NULL);
    assert_int_equal(pvh_vconfig_encode(&f->a, f->buf, sizeof(f->buf), &f->len, &f->err), 0);
    size_t body1 = DEV0_BODY + 12 + 2 + 2 + 2 + 6 + 24, body2 = body1 + 12 + 2 + 2 + 2 + 4 + 24;
    assert_int_equal(f->buf[DEV0_BODY + 3], 1);
    assert_int_equal(f->buf[body1 + 3], 2);
    assert_int_equal(f->buf[body2 + 3], 0);
    assert_int_equal(pvh_vconfig_decode(&f->b, f->buf, f->len, &f->err), 0);
    assert_true(f->b.drives[0].root && !f->b.drives[0].api_writeback);
    assert_true(!f->b.drives[1].root && f->b.drives[1].api_writeback && f->b.drives[1].read_only);
    assert_true(!f->b.drives[2].root && !f->b.drives[2].api_writeback);
    struct pvh_vm_config o = {.ndrives = 1, .drives = {{.path = "/clone", .id = "rootfs"}}};
    assert_int_equal(pvh_vconfig_override(&f->b, &o, &f->err), 0);
    struct pvh_vm_config back = {0};
    pvh_vconfig_apply(&f->b, &back);
    assert_string_equal(back.drives[0].path, "/clone");
    assert_true(back.drives[0].root); /* the override changes the file only */
    assert_true(back.drives[1].api_writeback);
    f->buf[DEV0_BODY + 3] = 3;
    assert_int_equal(pvh_vconfig_decode(&f->b, f->buf, f->len, &f->err), 0);
    assert_true(f->b.drives[0].root && f->b.drives[0].api_writeback);
}

/* The API's overrides: a NIC by its iface_id (whatever its slot), vsock's
 * socket with CID 0 keeping the snapshot's; an id the snapshot has not,
 * or vsock on a machine without it, refused in the API's words. */
static void overrides_by_id(void **state)
{
    struct fixture *f = *state;
    struct pvh_vm_config c = {.nnets = 2, .nets = {{.tap = "tap1", .id = "eth0", .has_mac = true, .mac = {2, 1}},
                                                   {.tap = "tap2", .id = "eth1"}},
                              .vsock = {.cid = 42, .uds_path = "/run/v.sock"}};
    pvh_vconfig_from(&f->a, &c, NULL);
    assert_int_equal(pvh_vconfig_encode(&f->a, f->buf, sizeof(f->buf), &f->len, &f->err), 0);
    assert_int_equal(pvh_vconfig_decode(&f->b, f->buf, f->len, &f->err), 0);
    struct pvh_vm_config o = {.nnets = 1, .nets = {{.tap = "clone2", .id = "eth1"}},
                              .vsock = {.cid = 0, .uds_path = "/run/clone.sock"}};
    assert_int_equal(pvh_vconfig_override(&f->b, &o, &f->err), 0);
    assert_string_equal(f->b.nets[0].tap, "tap1");
    assert_string_equal(f->b.nets[1].tap, "clone2");
    assert_string_equal(f->b.nets[1].id, "eth1");
    assert_int_equal(f->b.nets[0].mac[1], 1);
    assert_int_equal(f->b.vsock.cid, 42);
    assert_string_equal(f->b.vsock.uds_path, "/run/clone.sock");
    struct pvh_vm_config all = {.nnets = 2, .nets = {{.tap = "c0", .id = "eth0"}, {.tap = "c1", .id = "eth1"}}};
    assert_int_equal(pvh_vconfig_override(&f->b, &all, &f->err), 0);
    assert_string_equal(f->b.nets[0].tap, "c0");
    assert_string_equal(f->b.nets[1].tap, "c1");
    struct pvh_vm_config unknown = {.nnets = 1, .nets = {{.tap = "c9", .id = "eth9"}}};
    assert_int_equal(pvh_vconfig_override(&f->b, &unknown, &f->err), -1);
    one_line(&f->err, "network override iface_id eth9: the snapshot has no network interface with that iface_id");
    /* a NIC from run's --net has no id: an override by id does not find it */
    assert_int_equal(pvh_vconfig_decode(&f->b, f->buf, f->len, &f->err), 0);
    f->b.nets[1].id = NULL;
    struct pvh_vm_config by_id = {.nnets = 1, .nets = {{.tap = "c1", .id = "eth1"}}};
    assert_int_equal(pvh_vconfig_override(&f->b, &by_id, &f->err), -1);
    one_line(&f->err, "iface_id eth1: the snapshot has no network interface");
    struct pvh_vm_config none = {0};
    pvh_vconfig_from(&f->a, &none, NULL);
    struct pvh_vm_config vs = {.vsock = {.cid = 0, .uds_path = "/s"}};
    assert_int_equal(pvh_vconfig_override(&f->a, &vs, &f->err), -1);
    one_line(&f->err, "vsock_override: the snapshot has no vsock device");
}

static void overrides(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(pvh_vconfig_decode(&f->b, f->buf, f->len, &f->err), 0);
    struct pvh_vm_config o = {0};
    o.ndrives = 1;
    o.drives[0] = (struct pvh_vm_drive){.path = "/clone/root.ext4", .id = "root"};
    o.nnets = 1;
    o.nets[0] = (struct pvh_vm_net){.tap = "tap9", .has_mac = true, .mac = {2, 9, 9, 9, 9, 9}};
    o.vsock = (struct pvh_vm_vsock){.cid = 77, .uds_path = "/run/clone.sock"};
    assert_int_equal(pvh_vconfig_override(&f->b, &o, &f->err), 0);
    assert_string_equal(f->b.drives[0].path, "/clone/root.ext4");
    assert_string_equal(f->b.drives[1].path, "/img/data.raw");
    assert_string_equal(f->b.nets[0].tap, "tap9");
    assert_int_equal(f->b.nets[0].mac[1], 9);
    assert_int_equal(f->b.vsock.cid, 77);
    assert_string_equal(f->b.vsock.uds_path, "/run/clone.sock");

    struct pvh_vm_config bad = {.ndrives = 1, .drives = {{.path = "/x", .id = "nope"}}};
    assert_int_equal(pvh_vconfig_override(&f->b, &bad, &f->err), -1);
    one_line(&f->err, "--drive id=nope: the snapshot has no drive with that id");
    struct pvh_vm_config two = {.nnets = 2, .nets = {{.tap = "a"}, {.tap = "b"}}};
    assert_int_equal(pvh_vconfig_override(&f->b, &two, &f->err), -1);
    one_line(&f->err, "--net given 2 times; the snapshot has 1 NIC");
    struct pvh_vm_config none = {0};
    pvh_vconfig_from(&f->a, &none, NULL);
    struct pvh_vm_config vs = {.vsock = {.cid = 5, .uds_path = "/s"}};
    assert_int_equal(pvh_vconfig_override(&f->a, &vs, &f->err), -1);
    one_line(&f->err, "--vsock: the snapshot has no vsock device");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(no_devices, setup, teardown),
        cmocka_unit_test_setup_teardown(every_truncation_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(fields_out_of_range_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(order_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(more_fields_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(overrides, setup, teardown),
        cmocka_unit_test_setup_teardown(nic_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(overrides_by_id, setup, teardown),
        cmocka_unit_test_setup_teardown(drive_api_flags, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
