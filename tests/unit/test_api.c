/* The API's request handler (api/) with a faked VMM (tests/lib/api_fake.h):
 * raw HTTP/1.1 requests in, status and JSON out. A table sends every
 * endpoint good and bad bodies before boot, each on a fresh API; a walk
 * boots (machine-config, boot-source, drives, entropy, InstanceStart) and
 * checks what the VMM was handed and what is refused after boot; a
 * snapshot load with its clone overrides (network_overrides, vsock_override)
 * and the restored machine shown by GET /machine-config and GET /vm/config
 * (its devices, which PATCH /drives then swaps); the HTTP
 * layer's limits (body size, headers, malformed requests, pipelining);
 * the config file through the same endpoints. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "../lib/api_fake.h"

struct fixture {
    struct api_fake fake;
    struct pvh_api_ops ops;
    struct pvh_api api;
    struct pvh_api_response r;
};

static const struct pvh_vm_config base_cfg = {.ram_size = 128 << 20, .ncpus = 1, .sandbox = true};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    f->ops = api_fake_ops(&f->fake);
    pvh_api_init(&f->api, &base_cfg, &f->ops, "0.1.0", "vm1");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    pvh_api_response_free(&f->r);
    pvh_api_fini(&f->api);
    free(f);
    return 0;
}

/* One request through the whole path: HTTP bytes, parser, endpoint. */
static int call(struct fixture *f, const char *method, const char *path, const char *body)
{
    char req[70000];
    size_t n = body ? strlen(body) : 0;
    int len = snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n"
                       "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s", method, path, n,
                       body ? body : "");
    pvh_api_response_free(&f->r);
    pvh_api_handle(&f->api, req, (size_t)len, &f->r);
    return f->r.status;
}

/* The body's fault_message; "" when none. */
static const char *fault(struct fixture *f)
{
    static char msg[700];
    json_t *o = f->r.body ? json_loads(f->r.body, 0, NULL) : NULL;
    const char *m = json_string_value(json_object_get(o, "fault_message"));
    snprintf(msg, sizeof(msg), "%s", m ? m : "");
    json_decref(o);
    return msg;
}

struct row {
    const char *method, *path, *body;
    int status;
    const char *says; /* in the fault_message (or the 200 body) */
};

static const struct row pre_boot[] = {
    /* GET endpoints */
    {"GET", "/", NULL, 200, "\"state\":\"Not started\""},
    {"GET", "/version", NULL, 200, "\"firecracker_version\":\"0.1.0\""},
    {"GET", "/machine-config", NULL, 200, "\"mem_size_mib\":128"},
    /* nothing configured is left out, not null (Firecracker's schema: an object or absent) */
    {"GET", "/vm/config", NULL, 200, "{\"machine-config\":{"},
    /* machine-config */
    {"PUT", "/machine-config", "{\"vcpu_count\":2,\"mem_size_mib\":256}", 204, NULL},
    {"PUT", "/machine-config", "{\"vcpu_count\":2,\"mem_size_mib\":256,\"smt\":false,\"track_dirty_pages\":false,"
                               "\"cpu_template\":\"None\",\"huge_pages\":\"None\"}", 204, NULL},
    {"PUT", "/machine-config", "{\"vcpu_count\":2}", 400, "missing field 'mem_size_mib'"},
    {"PUT", "/machine-config", "{\"vcpu_count\":\"2\",\"mem_size_mib\":256}", 400, "'vcpu_count' must be an integer"},
    {"PUT", "/machine-config", "{\"vcpu_count\":0,\"mem_size_mib\":256}", 400, "vcpu_count 0"},
    {"PUT", "/machine-config", "{\"vcpu_count\":256,\"mem_size_mib\":256}", 400, "vcpu_count 256"},
    {"PUT", "/machine-config", "{\"vcpu_count\":1,\"mem_size_mib\":1}", 400, "mem_size_mib 1"},
    {"PUT", "/machine-config", "{\"vcpu_count\":1,\"mem_size_mib\":-5}", 400, "mem_size_mib -5"},
    {"PUT", "/machine-config", "{\"vcpu_count\":1,\"mem_size_mib\":128,\"smt\":true}", 400, "smt"},
    {"PUT", "/machine-config", "{\"vcpu_count\":1,\"mem_size_mib\":128,\"cpu_template\":\"T2\"}", 400, "cpu_template"},
    {"PUT", "/machine-config", "{\"vcpu_count\":1,\"mem_size_mib\":128,\"track_dirty_pages\":true}", 400,
     "track_dirty_pages: the API takes full snapshots only (false only); pvhboot's diff snapshots are `pvhboot run "
     "--snapshot-file S --mem-file M --snapshot-diff` generations"},
    {"PUT", "/machine-config", "{\"vcpu_count\":1,\"mem_size_mib\":128,\"huge_pages\":\"2M\"}", 400, "huge_pages"},
    {"PUT", "/machine-config", "{\"vcpu_count\":1,\"mem_size_mib\":128,\"vcpus\":1}", 400, "unknown field 'vcpus'"},
    {"PUT", "/machine-config", "{\"vcpu_count\":1,\"vcpu_count\":2,\"mem_size_mib\":128}", 400, "invalid JSON"},
    {"PUT", "/machine-config", "[1,2]", 400, "must be a JSON object"},
    {"PUT", "/machine-config", "{\"vcpu_count\":1,", 400, "invalid JSON"},
    {"PUT", "/machine-config", NULL, 400, "needs a JSON body"},
    {"PATCH", "/machine-config", "{\"mem_size_mib\":64}", 204, NULL},
    {"PATCH", "/machine-config", "{}", 204, NULL},
    {"PATCH", "/machine-config", "{\"smt\":true}", 400, "smt"},
    /* boot-source */
    {"PUT", "/boot-source", "{\"kernel_image_path\":\"vmlinux\",\"boot_args\":\"console=ttyS0\"}", 204, NULL},
    {"PUT", "/boot-source", "{\"kernel_image_path\":\"vmlinux\",\"initrd_path\":\"initrd\"}", 204, NULL},
    {"PUT", "/boot-source", "{\"boot_args\":\"console=ttyS0\"}", 400, "missing field 'kernel_image_path'"},
    {"PUT", "/boot-source", "{\"kernel_image_path\":\"missing-vmlinux\"}", 400, "no such file"},
    {"PUT", "/boot-source", "{\"kernel_image_path\":\"vmlinux\",\"initrd_path\":\"missing\"}", 400, "initrd_path"},
    {"PUT", "/boot-source", "{\"kernel_image_path\":\"\"}", 400, "an empty path"},
    {"PUT", "/boot-source", "{\"kernel_image_path\":7}", 400, "must be a string"},
    {"PUT", "/boot-source", "{\"kernel_image_path\":null}", 400, "must be a string"},
    /* drives */
    {"PUT", "/drives/rootfs", "{\"drive_id\":\"rootfs\",\"path_on_host\":\"disk.img\",\"is_root_device\":true,"
                              "\"is_read_only\":false}", 204, NULL},
    {"PUT", "/drives/rootfs", "{\"drive_id\":\"rootfs\",\"path_on_host\":\"disk.img\",\"is_root_device\":true,"
                              "\"cache_type\":\"Writeback\",\"io_engine\":\"Sync\",\"rate_limiter\":null,"
                              "\"partuuid\":\"0eaa91a0-01\"}", 204, NULL},
    {"PUT", "/drives/rootfs", "{\"drive_id\":\"other\",\"path_on_host\":\"disk.img\",\"is_root_device\":true}", 400,
     "differs from drive_id"},
    {"PUT", "/drives/root-fs", "{\"drive_id\":\"root-fs\",\"path_on_host\":\"d\",\"is_root_device\":true}", 400,
     "letters, digits and '_' only"},
    {"PUT", "/drives/a23456789012345678901", "{\"drive_id\":\"a23456789012345678901\",\"path_on_host\":\"d\","
                                              "\"is_root_device\":false}", 400, "1 to 20 characters"},
    {"PUT", "/drives/rootfs", "{\"drive_id\":\"rootfs\",\"path_on_host\":\"disk.img\"}", 400,
     "missing field 'is_root_device'"},
    {"PUT", "/drives/rootfs", "{\"drive_id\":\"rootfs\",\"is_root_device\":true}", 400, "path_on_host"},
    {"PUT", "/drives/rootfs", "{\"drive_id\":\"rootfs\",\"path_on_host\":\"d\",\"is_root_device\":true,"
                              "\"rate_limiter\":{\"bandwidth\":{\"size\":1,\"refill_time\":1}}}", 400, "rate_limiter"},
    {"PUT", "/drives/rootfs", "{\"drive_id\":\"rootfs\",\"path_on_host\":\"d\",\"is_root_device\":true,"
                              "\"rate_limiter\":{}}", 204, NULL},
    {"PUT", "/drives/rootfs", "{\"drive_id\":\"rootfs\",\"path_on_host\":\"d\",\"is_root_device\":true,"
                              "\"io_engine\":\"Async\"}", 400, "io_engine"},
    {"PUT", "/drives/rootfs", "{\"drive_id\":\"rootfs\",\"path_on_host\":\"d\",\"is_root_device\":true,"
                              "\"cache_type\":\"Fast\"}", 400, "cache_type"},
    {"PUT", "/drives/rootfs", "{\"drive_id\":\"rootfs\",\"socket\":\"/run/vhost.sock\",\"is_root_device\":true}", 400,
     "vhost-user"},
    {"PUT", "/drives/rootfs", "{\"drive_id\":\"rootfs\",\"path_on_host\":\"missing.img\",\"is_root_device\":true}", 400,
     "no such file"},
    {"PUT", "/drives/rootfs", "{\"drive_id\":\"rootfs\",\"path_on_host\":\"d\",\"is_root_device\":\"yes\"}", 400,
     "'is_root_device' must be true or false"},
    {"PUT", "/drives/", "{\"drive_id\":\"\",\"path_on_host\":\"d\",\"is_root_device\":true}", 400,
     "Invalid request method and/or path"},
    {"PUT", "/drives/a/b", "{\"drive_id\":\"a\",\"path_on_host\":\"d\",\"is_root_device\":true}", 400,
     "Invalid request method and/or path"},
    {"PATCH", "/drives/rootfs", "{\"drive_id\":\"rootfs\",\"path_on_host\":\"d\"}", 400, "only after InstanceStart"},
    /* entropy, logger, metrics */
    {"PUT", "/entropy", "{}", 204, NULL},
    {"PUT", "/entropy", "{\"rate_limiter\":{\"ops\":{\"size\":1,\"refill_time\":1}}}", 400, "rate_limiter"},
    {"PUT", "/entropy", "{\"rng\":1}", 400, "unknown field 'rng'"},
    {"PUT", "/logger", "{\"log_path\":\"log.fifo\",\"level\":\"Debug\",\"show_level\":true}", 204, NULL},
    {"PUT", "/logger", "{\"level\":\"info\"}", 204, NULL},
    {"PUT", "/logger", "{\"level\":\"Loud\"}", 400, "level 'Loud'"},
    {"PUT", "/logger", "{\"log_path\":\"missing/log\"}", 400, "no such file"},
    {"PUT", "/logger", "{\"module\":\"api_server\"}", 400, "module"},
    {"PUT", "/metrics", "{\"metrics_path\":\"metrics.fifo\"}", 204, NULL},
    {"PUT", "/metrics", "{}", 400, "missing field 'metrics_path'"},
    {"PUT", "/metrics", "{\"metrics_path\":\"missing/m\"}", 400, "no such file"},
    /* actions before boot */
    {"PUT", "/actions", "{\"action_type\":\"InstanceStart\"}", 400, "no kernel: PUT /boot-source first"},
    {"PUT", "/actions", "{\"action_type\":\"SendCtrlAltDel\"}", 400, "not running"},
    {"PUT", "/actions", "{\"action_type\":\"FlushMetrics\"}", 400, "PUT /metrics first"},
    {"PUT", "/actions", "{\"action_type\":\"Reboot\"}", 400, "action_type 'Reboot'"},
    {"PUT", "/actions", "{}", 400, "missing field 'action_type'"},
    {"PATCH", "/vm", "{\"state\":\"Paused\"}", 400, "only after InstanceStart"},
    /* not built yet, unknown paths, wrong methods */
    /* network interfaces */
    {"PUT", "/network-interfaces/eth0", "{\"iface_id\":\"eth0\",\"host_dev_name\":\"tap0\"}", 204, NULL},
    {"PUT", "/network-interfaces/eth0", "{\"iface_id\":\"eth0\",\"host_dev_name\":\"tap0\",\"guest_mac\":"
                                        "\"06:00:AC:10:00:02\",\"rx_rate_limiter\":null,\"tx_rate_limiter\":{}}", 204, NULL},
    {"PUT", "/network-interfaces/eth0", "{\"iface_id\":\"eth1\",\"host_dev_name\":\"tap0\"}", 400,
     "differs from iface_id"},
    {"PUT", "/network-interfaces/eth0", "{\"iface_id\":\"eth0\"}", 400, "missing field 'host_dev_name'"},
    {"PUT", "/network-interfaces/eth0", "{\"iface_id\":\"eth0\",\"host_dev_name\":\"a/b\"}", 400, "a TAP's name"},
    {"PUT", "/network-interfaces/eth0", "{\"iface_id\":\"eth0\",\"host_dev_name\":\"tap0123456789abc\"}", 400,
     "a TAP's name"},
    {"PUT", "/network-interfaces/eth0", "{\"iface_id\":\"eth0\",\"host_dev_name\":\"tap0\",\"guest_mac\":"
                                        "\"01:00:00:00:00:01\"}", 400, "guest_mac"},
    {"PUT", "/network-interfaces/eth0", "{\"iface_id\":\"eth0\",\"host_dev_name\":\"tap0\",\"guest_mac\":"
                                        "\"02:00:00:00:00\"}", 400, "guest_mac"},
    /* 17 characters, not hex (found by fuzz_api: a shift of -1 before the check) */
    {"PUT", "/network-interfaces/eth0", "{\"iface_id\":\"eth0\",\"host_dev_name\":\"tap0\",\"guest_mac\":"
                                        "\"zz:00:00:00:00:01\"}", 400, "guest_mac 'zz:00:00:00:00:01'"},
    {"PUT", "/network-interfaces/eth0", "{\"iface_id\":\"eth0\",\"host_dev_name\":\"tap0\",\"rx_rate_limiter\":"
                                        "{\"bandwidth\":{\"size\":1,\"refill_time\":1}}}", 400, "rate limiters"},
    {"PUT", "/network-interfaces/eth-0", "{\"iface_id\":\"eth-0\",\"host_dev_name\":\"tap0\"}", 400,
     "letters, digits and '_' only"},
    {"PUT", "/network-interfaces/eth0", "{\"iface_id\":\"eth0\",\"host_dev_name\":\"tap0\",\"mtu\":9000}", 400,
     "unknown field 'mtu'"},
    {"PATCH", "/network-interfaces/eth0", "{\"iface_id\":\"eth0\"}", 400, "only after InstanceStart"},
    /* vsock */
    {"PUT", "/vsock", "{\"guest_cid\":3,\"uds_path\":\"v.sock\"}", 204, NULL},
    {"PUT", "/vsock", "{\"vsock_id\":\"vsock0\",\"guest_cid\":4294967294,\"uds_path\":\"v.sock\"}", 204, NULL},
    {"PUT", "/vsock", "{\"guest_cid\":2,\"uds_path\":\"v.sock\"}", 400, "guest_cid 2"},
    {"PUT", "/vsock", "{\"guest_cid\":4294967295,\"uds_path\":\"v.sock\"}", 400, "guest_cid 4294967295"},
    {"PUT", "/vsock", "{\"guest_cid\":3,\"uds_path\":\"\"}", 400, "uds_path"},
    {"PUT", "/vsock", "{\"guest_cid\":3}", 400, "missing field 'uds_path'"},
    {"PUT", "/vsock", "{\"guest_cid\":\"3\",\"uds_path\":\"v.sock\"}", 400, "'guest_cid' must be an integer"},
    {"PUT", "/balloon", "{\"amount_mib\":0,\"deflate_on_oom\":false}", 400, "not built yet"},
    {"PUT", "/snapshot/create", "{}", 400, "only after InstanceStart"},
    /* snapshot/load on a fresh API (each row has its own) */
    {"PUT", "/snapshot/load", "{\"snapshot_path\":\"s.state\"}", 400, "missing field 'mem_backend'"},
    {"PUT", "/snapshot/load", "{\"snapshot_path\":\"s.state\",\"mem_file_path\":\"m\",\"mem_backend\":"
                              "{\"backend_type\":\"File\",\"backend_path\":\"m\"}}", 400, "not both"},
    {"PUT", "/snapshot/load", "{\"snapshot_path\":\"s.state\",\"mem_backend\":{\"backend_type\":\"Uffd\","
                              "\"backend_path\":\"u.sock\"}}", 400, "backend_type Uffd"},
    {"PUT", "/snapshot/load", "{\"snapshot_path\":\"s.state\",\"mem_backend\":{\"backend_type\":\"File\"}}",
     400, "missing field 'backend_path'"},
#define LOAD "{\"snapshot_path\":\"s.state\",\"mem_file_path\":\"m\","
#define NETS LOAD "\"network_overrides\":"
    {"PUT", "/snapshot/load", LOAD "\"enable_diff_snapshots\":true}", 400,
     "enable_diff_snapshots, track_dirty_pages: a loaded microVM takes full snapshots only (false only); pvhboot's "
     "diff snapshots are `pvhboot run --snapshot-diff` generations"},
    {"PUT", "/snapshot/load", LOAD "\"track_dirty_pages\":true}", 400, "a loaded microVM takes full snapshots only"},
    /* network_overrides and vsock_override: restore's clone overrides (the fake's snapshot has eth0 and eth1) */
    {"PUT", "/snapshot/load", NETS "[{\"iface_id\":\"eth0\",\"host_dev_name\":\"tap1\"}]}", 204, NULL},
    {"PUT", "/snapshot/load", NETS "[{\"iface_id\":\"eth9\",\"host_dev_name\":\"tap1\"}]}", 400,
     "snapshot/load: s.state: network override iface_id eth9: the snapshot has no network interface with that "
     "iface_id"},
    {"PUT", "/snapshot/load", NETS "[{\"iface_id\":\"eth0\",\"host_dev_name\":\"missing0\"}]}", 400,
     "snapshot/load: s.state: the snapshot's devices: TAP missing0: no such device"},
    {"PUT", "/snapshot/load", NETS "[1]}", 400, "network_overrides[0]: an object {\"iface_id\", \"host_dev_name\"}"},
    {"PUT", "/snapshot/load", NETS "[{\"iface_id\":\"eth0\"}]}", 400,
     "snapshot/load: network_overrides: missing field 'host_dev_name'"},
    {"PUT", "/snapshot/load", NETS "[{\"iface_id\":\"eth0\",\"host_dev_name\":\"tap1\",\"guest_mac\":\"x\"}]}", 400,
     "unknown field 'guest_mac'"},
    {"PUT", "/snapshot/load", NETS "[{\"iface_id\":\"\",\"host_dev_name\":\"tap1\"}]}", 400,
     "network_overrides: iface_id: an empty id"},
    {"PUT", "/snapshot/load", NETS "[{\"iface_id\":\"eth 0\",\"host_dev_name\":\"tap1\"}]}", 400,
     "network_overrides: iface_id 'eth 0': letters, digits and '_' only"},
    {"PUT", "/snapshot/load", NETS "[{\"iface_id\":\"eth0\",\"host_dev_name\":\"a/b\"}]}", 400,
     "network_overrides: host_dev_name 'a/b': a TAP's name"},
    {"PUT", "/snapshot/load", NETS "[{\"iface_id\":\"eth0\",\"host_dev_name\":\"tap1\"},{\"iface_id\":\"eth0\","
                                   "\"host_dev_name\":\"tap2\"}]}", 400, "iface_id 'eth0' given twice"},
    {"PUT", "/snapshot/load", NETS "[{\"iface_id\":\"eth0\",\"host_dev_name\":\"tap1\"},{\"iface_id\":\"eth1\","
                                   "\"host_dev_name\":\"tap1\"}]}", 400, "host_dev_name 'tap1' given twice"},
    {"PUT", "/snapshot/load", NETS "[{},{},{},{},{},{},{},{},{}]}", 400, "network_overrides: 9 of them"},
    {"PUT", "/snapshot/load", LOAD "\"vsock_override\":{\"uds_path\":\"clone.sock\"}}", 204, NULL},
    {"PUT", "/snapshot/load", "{\"snapshot_path\":\"novsock.state\",\"mem_file_path\":\"m\",\"vsock_override\":"
                              "{\"uds_path\":\"clone.sock\"}}", 400,
     "snapshot/load: novsock.state: vsock_override: the snapshot has no vsock device"},
    {"PUT", "/snapshot/load", LOAD "\"vsock_override\":{\"uds_path\":\"\"}}", 400,
     "vsock_override: uds_path: an empty path"},
    {"PUT", "/snapshot/load", LOAD "\"vsock_override\":{}}", 400, "vsock_override: missing field 'uds_path'"},
    {"PUT", "/snapshot/load", LOAD "\"vsock_override\":{\"uds_path\":\"v\",\"guest_cid\":5}}", 400,
     "unknown field 'guest_cid'"},
    {"PUT", "/snapshot/load", LOAD "\"vsock_override\":\"v\"}", 400, "'vsock_override' must be an object"},
    {"PUT", "/snapshot/load", "{\"snapshot_path\":\"s.state\",\"mem_file_path\":\"m\",\"network_overrides\":{}}",
     400, "'network_overrides' must be an array"},
    {"PUT", "/snapshot/load", "{\"snapshot_path\":\"s.state\",\"mem_file_path\":\"s.state\"}", 400, "same file"},
    {"PUT", "/snapshot/load", "{\"snapshot_path\":\"missing.state\",\"mem_file_path\":\"m\"}", 400,
     "snapshot_path: missing.state"},
    {"PUT", "/snapshot/load", "{\"snapshot_path\":\"corrupt.state\",\"mem_file_path\":\"m\"}", 400,
     "snapshot/load: corrupt.state: not a pvhboot state file"},
    {"PUT", "/snapshot/load", "{\"snapshot_path\":\"s.state\",\"mem_file_path\":\"m\",\"resume_vm\":true,"
                              "\"network_overrides\":[],\"clock_realtime\":false}", 204, NULL},
    {"GET", "/nothing", NULL, 400, "Invalid request method and/or path: GET /nothing"},
    /* not UTF-8: the fault is still JSON (found by fuzz_api: a 500 without a body) */
    {"GET", "/\xff\xfe", NULL, 400, "Invalid request method and/or path: GET /??"},
    {"DELETE", "/machine-config", NULL, 400, "takes another method"},
    {"POST", "/actions", "{\"action_type\":\"InstanceStart\"}", 400, "takes another method"},
    {"GET", "/drives/rootfs", NULL, 400, "takes another method"},
};
#undef NETS
#undef LOAD

static void check_row(const struct row *w)
{
    struct fixture *f;
    setup((void **)&f);
    int status = call(f, w->method, w->path, w->body);
    const char *body = f->r.body ? f->r.body : "";
    if (status != w->status || (w->says && !strstr(status == 200 ? body : fault(f), w->says)) ||
        (status == 204 && f->r.body) || (status >= 400 && !fault(f)[0])) {
        print_error("%s %s %s: got %d %s; want %d with '%s'\n", w->method, w->path, w->body ? w->body : "", status,
                    body, w->status, w->says ? w->says : "");
        fail();
    }
    teardown((void **)&f);
}

static void every_endpoint_good_and_bad_bodies(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(pre_boot) / sizeof(pre_boot[0]); i++)
        check_row(&pre_boot[i]);
}

/* A load before boot: the restore gets the base config and resume_vm,
 * the state follows it, pre-boot calls are refused after it, and a
 * snapshot can be taken once paused; a load after configuring is refused. */
static void snapshot_load_then_create(void **state)
{
    struct fixture *f = *state;
    static const char load[] = "{\"snapshot_path\":\"s.state\",\"mem_backend\":{\"backend_type\":\"File\","
                               "\"backend_path\":\"s.mem\"}}";
    static const char create[] = "{\"snapshot_path\":\"t.state\",\"mem_file_path\":\"t.mem\"}";
    assert_int_equal(call(f, "PUT", "/logger", "{\"level\":\"Info\"}"), 204);
    assert_int_equal(call(f, "PUT", "/snapshot/load", load), 204);
    assert_int_equal(f->fake.loads, 1);
    assert_false(f->fake.load_resumed); /* resume_vm absent: paused, as in Firecracker */
    assert_int_equal(f->fake.started.ram_size, base_cfg.ram_size);
    assert_int_equal(f->api.state, PVH_API_PAUSED);
    assert_int_equal(call(f, "PUT", "/machine-config", "{\"vcpu_count\":1,\"mem_size_mib\":128}"), 400);
    assert_int_equal(call(f, "PUT", "/actions", "{\"action_type\":\"InstanceStart\"}"), 400);
    assert_int_equal(f->fake.starts, 0);
    assert_int_equal(call(f, "PUT", "/snapshot/create", create), 204);
    assert_int_equal(f->fake.snapshots, 1);
    assert_int_equal(call(f, "PUT", "/snapshot/create", "{\"snapshot_path\":\"t.state\",\"mem_file_path\":"
                                                        "\"t.mem\",\"snapshot_type\":\"Diff\"}"), 400);
    assert_string_equal(fault(f), "snapshot/create: snapshot_type Diff: the API takes full snapshots only (\"Full\"); "
                        "pvhboot's diff snapshots are `pvhboot run --snapshot-diff` generations (STATE.N and MEM.N, "
                        "restored with `pvhboot restore --mem-diff`), not Firecracker's sparse memory file");
    assert_int_equal(f->fake.snapshots, 1);
    assert_int_equal(call(f, "PATCH", "/vm", "{\"state\":\"Resumed\"}"), 204);
    assert_int_equal(call(f, "PUT", "/snapshot/create", create), 400);
    assert_non_null(strstr(fault(f), "not paused"));
    assert_int_equal(f->fake.snapshots, 1);
}

/* network_overrides and vsock_override reach the restore as its clone
 * overrides (each NIC by its iface_id; vsock's socket, CID 0: the
 * snapshot's); after the load GET /machine-config and GET /vm/config say
 * the restored machine's vCPUs and RAM, not the empty API's. */
static void snapshot_load_overrides_and_machine(void **state)
{
    struct fixture *f = *state;
    static const char load[] = "{\"snapshot_path\":\"s.state\",\"mem_file_path\":\"s.mem\",\"resume_vm\":true,"
                               "\"network_overrides\":[{\"iface_id\":\"eth1\",\"host_dev_name\":\"tap7\"},"
                               "{\"iface_id\":\"eth0\",\"host_dev_name\":\"tap6\"}],"
                               "\"vsock_override\":{\"uds_path\":\"clone.sock\"}}";
    assert_int_equal(call(f, "PUT", "/snapshot/load", load), 204);
    assert_int_equal(f->fake.loads, 1);
    assert_int_equal(f->fake.started.nnets, 2);
    assert_string_equal(f->fake.started.nets[0].id, "eth1");
    assert_string_equal(f->fake.started.nets[0].tap, "tap7");
    assert_false(f->fake.started.nets[0].has_mac); /* the snapshot's MAC stays */
    assert_string_equal(f->fake.started.nets[1].id, "eth0");
    assert_string_equal(f->fake.started.nets[1].tap, "tap6");
    assert_int_equal(f->fake.started.vsock.cid, 0); /* the snapshot's CID stays */
    assert_string_equal(f->fake.started.vsock.uds_path, "clone.sock");
    assert_int_equal(call(f, "GET", "/machine-config", NULL), 200);
    assert_non_null(strstr(f->r.body, "\"vcpu_count\":3"));
    assert_non_null(strstr(f->r.body, "\"mem_size_mib\":384"));
    assert_int_equal(call(f, "GET", "/vm/config", NULL), 200);
    assert_non_null(strstr(f->r.body, "\"machine-config\":{\"vcpu_count\":3,\"mem_size_mib\":384"));
}

/* A load whose override the restore refuses (a TAP that cannot be opened)
 * is a 400 naming it and leaves a fresh microVM: a second load with other
 * overrides goes through, with only its own. */
static void snapshot_load_refused_override_leaves_it_fresh(void **state)
{
    struct fixture *f = *state;
    static const char bad[] = "{\"snapshot_path\":\"s.state\",\"mem_file_path\":\"s.mem\",\"network_overrides\":"
                              "[{\"iface_id\":\"eth0\",\"host_dev_name\":\"tap1\"},{\"iface_id\":\"eth1\","
                              "\"host_dev_name\":\"missing9\"}]}";
    static const char good[] = "{\"snapshot_path\":\"s.state\",\"mem_file_path\":\"s.mem\",\"network_overrides\":"
                               "[{\"iface_id\":\"eth1\",\"host_dev_name\":\"tap2\"}]}";
    assert_int_equal(call(f, "PUT", "/snapshot/load", bad), 400);
    assert_string_equal(fault(f), "snapshot/load: s.state: the snapshot's devices: TAP missing9: no such device");
    assert_int_equal(f->api.state, PVH_API_NOT_STARTED);
    assert_int_equal(call(f, "GET", "/machine-config", NULL), 200);
    assert_non_null(strstr(f->r.body, "\"vcpu_count\":1"));
    assert_int_equal(call(f, "PUT", "/snapshot/load", good), 204);
    assert_int_equal(f->fake.started.nnets, 1);
    assert_string_equal(f->fake.started.nets[0].tap, "tap2");
    assert_null(f->fake.started.vsock.uds_path);
    assert_int_equal(f->api.state, PVH_API_PAUSED);
}

/* The command line's --net or --vsock and an override of the same kind:
 * refused (which would the snapshot's NIC take?). */
static void snapshot_load_override_and_command_line_refused(void **state)
{
    struct fixture *f = *state;
    struct pvh_vm_config base = base_cfg;
    base.nnets = 1;
    base.nets[0] = (struct pvh_vm_net){.tap = "tap0"};
    base.vsock = (struct pvh_vm_vsock){.cid = 3, .uds_path = "v.sock"};
    pvh_api_fini(&f->api);
    pvh_api_init(&f->api, &base, &f->ops, "0.1.0", "vm1");
    assert_int_equal(call(f, "PUT", "/snapshot/load", "{\"snapshot_path\":\"s\",\"mem_file_path\":\"m\","
                                                      "\"network_overrides\":[{\"iface_id\":\"eth0\","
                                                      "\"host_dev_name\":\"tap1\"}]}"), 400);
    assert_string_equal(fault(f), "snapshot/load: network_overrides and the command line's --net: give one of them");
    assert_int_equal(call(f, "PUT", "/snapshot/load", "{\"snapshot_path\":\"s\",\"mem_file_path\":\"m\","
                                                      "\"vsock_override\":{\"uds_path\":\"c.sock\"}}"), 400);
    assert_string_equal(fault(f), "snapshot/load: vsock_override and the command line's --vsock: give one of them");
    assert_int_equal(f->fake.loads, 0);
}

/* GET /vm/config's member key (an array: its element whose id_key is id). */
static const char *str_of(json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v ? v : "(none)";
}

static json_t *vm_config_item(json_t *doc, const char *key, const char *id_key, const char *id)
{
    json_t *v = json_object_get(doc, key), *e;
    size_t i;
    if (!id_key)
        return v;
    json_array_foreach(v, i, e)
        if (!strcmp(str_of(e, id_key), id))
            return e;
    return NULL;
}

/* After a load GET /vm/config lists the restored machine's devices as the
 * restore built them (tests/lib/api_fake.h's snapshot), not the empty
 * API's: the drives with an id (the root flag and cache_type recorded; the
 * command line's --drive id=rootfs file), the NICs with an iface_id (eth1
 * on its network_overrides TAP, eth0's MAC), vsock (the snapshot's CID on
 * vsock_override's socket), entropy; the drive and NIC without ids, which
 * Firecracker's bodies cannot name, are left out. */
static void snapshot_load_lists_restored_devices(void **state)
{
    struct fixture *f = *state;
    struct pvh_vm_config base = base_cfg;
    base.ndrives = 1;
    base.drives[0] = (struct pvh_vm_drive){.path = "clone-root.ext4", .id = "rootfs"};
    pvh_api_fini(&f->api);
    pvh_api_init(&f->api, &base, &f->ops, "0.1.0", "vm1");
    static const char load[] = "{\"snapshot_path\":\"s.state\",\"mem_file_path\":\"s.mem\","
                               "\"network_overrides\":[{\"iface_id\":\"eth1\",\"host_dev_name\":\"tap7\"}],"
                               "\"vsock_override\":{\"uds_path\":\"clone.sock\"}}";
    assert_int_equal(call(f, "PUT", "/snapshot/load", load), 204);
    assert_int_equal(call(f, "GET", "/vm/config", NULL), 200);
    json_t *doc = json_loads(f->r.body, 0, NULL);
    assert_non_null(doc);
    assert_int_equal(json_array_size(json_object_get(doc, "drives")), 2);
    json_t *root = vm_config_item(doc, "drives", "drive_id", "rootfs");
    assert_string_equal(str_of(root, "path_on_host"), "clone-root.ext4");
    assert_true(json_is_true(json_object_get(root, "is_root_device")));
    assert_true(json_is_false(json_object_get(root, "is_read_only")));
    assert_string_equal(str_of(root, "cache_type"), "Unsafe");
    json_t *data = vm_config_item(doc, "drives", "drive_id", "data");
    assert_string_equal(str_of(data, "path_on_host"), "snap-data.img");
    assert_true(json_is_false(json_object_get(data, "is_root_device")));
    assert_true(json_is_true(json_object_get(data, "is_read_only")));
    assert_string_equal(str_of(data, "cache_type"), "Writeback");
    assert_int_equal(json_array_size(json_object_get(doc, "network-interfaces")), 2);
    json_t *eth0 = vm_config_item(doc, "network-interfaces", "iface_id", "eth0");
    assert_string_equal(str_of(eth0, "host_dev_name"), "tap0");
    assert_string_equal(str_of(eth0, "guest_mac"), "06:00:ac:10:00:02");
    json_t *eth1 = vm_config_item(doc, "network-interfaces", "iface_id", "eth1");
    assert_string_equal(str_of(eth1, "host_dev_name"), "tap7");
    assert_null(json_object_get(eth1, "guest_mac"));
    json_t *vsock = vm_config_item(doc, "vsock", NULL, NULL);
    assert_int_equal(json_integer_value(json_object_get(vsock, "guest_cid")), 5);
    assert_string_equal(str_of(vsock, "uds_path"), "clone.sock");
    assert_true(json_is_object(json_object_get(doc, "entropy")));
    assert_null(json_object_get(doc, "boot-source"));
    json_decref(doc);
}

/* A restored drive is swapped by PATCH /drives/{its id} (the hook gets it,
 * GET /vm/config then shows the new file), a restored NIC takes PATCH
 * /network-interfaces; ids the snapshot has not are refused, naming them;
 * a snapshot without vsock lists none. */
static void snapshot_load_patch_restored_drive(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(call(f, "PUT", "/snapshot/load", "{\"snapshot_path\":\"novsock.state\","
                                                      "\"mem_file_path\":\"s.mem\",\"resume_vm\":true}"), 204);
    assert_int_equal(call(f, "PATCH", "/drives/rootfs", "{\"drive_id\":\"rootfs\",\"path_on_host\":\"new.ext4\"}"),
                     204);
    assert_string_equal(f->fake.swapped, "rootfs=new.ext4");
    assert_int_equal(call(f, "GET", "/vm/config", NULL), 200);
    json_t *doc = json_loads(f->r.body, 0, NULL);
    assert_string_equal(str_of(vm_config_item(doc, "drives", "drive_id", "rootfs"), "path_on_host"), "new.ext4");
    assert_null(json_object_get(doc, "vsock"));
    json_decref(doc);
    assert_int_equal(call(f, "PATCH", "/drives/rootfs", "{\"drive_id\":\"rootfs\",\"path_on_host\":\"missing.img\"}"),
                     400);
    assert_int_equal(call(f, "GET", "/vm/config", NULL), 200);
    assert_non_null(strstr(f->r.body, "\"path_on_host\":\"new.ext4\"")); /* a refused swap keeps the file */
    assert_int_equal(call(f, "PATCH", "/drives/other", "{\"drive_id\":\"other\",\"path_on_host\":\"n.img\"}"), 400);
    assert_string_equal(fault(f),
                        "drives: no drive 'other' (PUT it before InstanceStart, or start with --drive FILE,id=other)");
    assert_int_equal(f->fake.swaps, 1);
    assert_int_equal(call(f, "PATCH", "/network-interfaces/eth1", "{\"iface_id\":\"eth1\"}"), 204);
    assert_int_equal(call(f, "PATCH", "/network-interfaces/eth7", "{\"iface_id\":\"eth7\"}"), 400);
}

static void snapshot_load_only_when_fresh(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(call(f, "PUT", "/machine-config", "{\"vcpu_count\":2,\"mem_size_mib\":256}"), 204);
    assert_int_equal(call(f, "PUT", "/snapshot/load", "{\"snapshot_path\":\"s\",\"mem_file_path\":\"m\"}"), 400);
    assert_non_null(strstr(fault(f), "only on a fresh microVM"));
    assert_int_equal(f->fake.loads, 0);
    assert_int_equal(f->api.state, PVH_API_NOT_STARTED);
}

/* A body that is refused changes nothing. */
static void refused_body_changes_nothing(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(call(f, "PUT", "/machine-config", "{\"vcpu_count\":4,\"mem_size_mib\":1}"), 400);
    assert_int_equal(call(f, "PUT", "/machine-config", "{\"vcpu_count\":4,\"mem_size_mib\":512,\"smt\":true}"), 400);
    assert_int_equal(call(f, "GET", "/machine-config", NULL), 200);
    assert_non_null(strstr(f->r.body, "\"vcpu_count\":1"));
    assert_non_null(strstr(f->r.body, "\"mem_size_mib\":128"));
}

static void put_boot_config(struct fixture *f)
{
    assert_int_equal(call(f, "PUT", "/machine-config", "{\"vcpu_count\":2,\"mem_size_mib\":256}"), 204);
    assert_int_equal(call(f, "PUT", "/boot-source", "{\"kernel_image_path\":\"vmlinux\",\"boot_args\":"
                                                    "\"console=ttyS0 quiet\",\"initrd_path\":\"initrd.cpio\"}"), 204);
    assert_int_equal(call(f, "PUT", "/drives/data", "{\"drive_id\":\"data\",\"path_on_host\":\"data.img\","
                                                    "\"is_root_device\":false,\"is_read_only\":true}"), 204);
    assert_int_equal(call(f, "PUT", "/drives/rootfs", "{\"drive_id\":\"rootfs\",\"path_on_host\":\"root.ext4\","
                                                      "\"is_root_device\":true,\"is_read_only\":false}"), 204);
    assert_int_equal(call(f, "PUT", "/entropy", "{}"), 204);
    assert_int_equal(call(f, "PUT", "/vsock", "{\"guest_cid\":7,\"uds_path\":\"/run/v.sock\"}"), 204);
    assert_int_equal(call(f, "PUT", "/network-interfaces/eth0", "{\"iface_id\":\"eth0\",\"host_dev_name\":"
                                                                "\"tap0\",\"guest_mac\":\"02:fc:00:00:00:05\"}"), 204);
    assert_int_equal(call(f, "PUT", "/network-interfaces/eth1", "{\"iface_id\":\"eth1\",\"host_dev_name\":"
                                                                "\"tap0\"}"), 400); /* one NIC per TAP */
}

/* InstanceStart hands the VMM the config the calls described: the root
 * drive first (vda) with root= added, the initrd as module 0. */
static void instance_start_hands_over_the_config(void **state)
{
    struct fixture *f = *state;
    put_boot_config(f);
    assert_int_equal(call(f, "PUT", "/actions", "{\"action_type\":\"InstanceStart\"}"), 204);
    const struct pvh_vm_config *c = &f->fake.started;
    assert_int_equal(f->fake.starts, 1);
    assert_string_equal(c->kernel, "vmlinux");
    assert_string_equal(c->cmdline, "console=ttyS0 quiet root=/dev/vda rw");
    assert_int_equal(c->ncpus, 2);
    assert_int_equal(c->ram_size, 256ull << 20);
    assert_int_equal(c->nmodules, 1);
    assert_string_equal(c->modules[0].path, "initrd.cpio");
    assert_int_equal(c->ndrives, 2);
    assert_string_equal(c->drives[0].path, "root.ext4");
    assert_string_equal(c->drives[0].id, "rootfs");
    assert_false(c->drives[0].read_only);
    assert_string_equal(c->drives[1].path, "data.img");
    assert_true(c->drives[1].read_only);
    assert_int_equal(c->rng, PVH_RNG_ON);
    assert_true(c->sandbox);
    assert_int_equal(c->vsock.cid, 7);
    assert_string_equal(c->vsock.uds_path, "/run/v.sock");
    assert_int_equal(c->nnets, 1);
    assert_string_equal(c->nets[0].tap, "tap0");
    assert_string_equal(c->nets[0].id, "eth0"); /* a snapshot of it records the iface_id (network_overrides) */
    assert_true(c->nets[0].has_mac);
    assert_int_equal(c->nets[0].mac[1], 0xfc);
    assert_int_equal(c->nets[0].mac[5], 0x05);
}

static const struct row after_boot[] = {
    {"PUT", "/machine-config", "{\"vcpu_count\":1,\"mem_size_mib\":128}", 400, "only before InstanceStart"},
    {"PATCH", "/machine-config", "{\"vcpu_count\":1}", 400, "only before InstanceStart"},
    {"PUT", "/boot-source", "{\"kernel_image_path\":\"vmlinux\"}", 400, "only before InstanceStart"},
    {"PUT", "/drives/rootfs", "{\"drive_id\":\"rootfs\",\"path_on_host\":\"d\",\"is_root_device\":true}", 400,
     "only before InstanceStart"},
    {"PUT", "/entropy", "{}", 400, "only before InstanceStart"},
    {"PUT", "/logger", "{}", 400, "only before InstanceStart"},
    {"PUT", "/metrics", "{\"metrics_path\":\"m\"}", 400, "only before InstanceStart"},
    {"PUT", "/actions", "{\"action_type\":\"InstanceStart\"}", 400, "already running"},
    {"PATCH", "/drives/nosuch", "{\"drive_id\":\"nosuch\",\"path_on_host\":\"d\"}", 400, "no drive 'nosuch'"},
    {"PATCH", "/drives/data", "{\"drive_id\":\"data\",\"path_on_host\":\"missing.img\"}", 400, "no such file"},
    {"PATCH", "/drives/data", "{\"drive_id\":\"data\",\"rate_limiter\":{\"ops\":{}}}", 400, "rate_limiter"},
    {"PATCH", "/vm", "{\"state\":\"Stopped\"}", 400, "state 'Stopped'"},
    {"PATCH", "/vm", "{\"state\":1}", 400, "must be a string"},
    {"GET", "/", NULL, 200, "\"state\":\"Running\""},
    {"GET", "/vm/config", NULL, 200, "\"path_on_host\":\"root.ext4\""},
    {"GET", "/vm/config", NULL, 200, "\"iface_id\":\"eth0\",\"host_dev_name\":\"tap0\",\"guest_mac\":\"02:fc:00:00:00:05\""},
    {"PATCH", "/network-interfaces/eth0", "{\"iface_id\":\"eth0\",\"rx_rate_limiter\":null}", 204, NULL},
    {"PATCH", "/network-interfaces/eth9", "{\"iface_id\":\"eth9\"}", 400, "no interface 'eth9'"},
    {"PATCH", "/network-interfaces/eth0", "{\"iface_id\":\"eth0\",\"tx_rate_limiter\":{\"ops\":{}}}", 400,
     "rate limiters"},
    {"PUT", "/network-interfaces/eth1", "{\"iface_id\":\"eth1\",\"host_dev_name\":\"tap1\"}", 400,
     "only before InstanceStart"},
    {"PUT", "/vsock", "{\"guest_cid\":3,\"uds_path\":\"v.sock\"}", 400, "only before InstanceStart"},
    {"GET", "/vm/config", NULL, 200, "\"vsock\":{\"guest_cid\":7,\"uds_path\":\"/run/v.sock\"}"},
    {"PUT", "/actions", "{\"action_type\":\"SendCtrlAltDel\"}", 204, NULL},
    {"PATCH", "/drives/data", "{\"drive_id\":\"data\",\"path_on_host\":\"other.img\"}", 204, NULL},
    {"GET", "/vm/config", NULL, 200, "\"path_on_host\":\"other.img\""},
    {"PATCH", "/vm", "{\"state\":\"Paused\"}", 204, NULL},
    {"GET", "/", NULL, 200, "\"state\":\"Paused\""},
    {"PATCH", "/vm", "{\"state\":\"Resumed\"}", 204, NULL},
    {"GET", "/", NULL, 200, "\"state\":\"Running\""},
};

static void after_boot_only_runtime_calls(void **state)
{
    struct fixture *f = *state;
    put_boot_config(f);
    assert_int_equal(call(f, "PUT", "/actions", "{\"action_type\":\"InstanceStart\"}"), 204);
    for (size_t i = 0; i < sizeof(after_boot) / sizeof(after_boot[0]); i++) {
        const struct row *w = &after_boot[i];
        int status = call(f, w->method, w->path, w->body);
        const char *text = status == 200 ? f->r.body : fault(f);
        if (status != w->status || (w->says && !strstr(text, w->says))) {
            print_error("after boot: %s %s: got %d %s; want %d with '%s'\n", w->method, w->path, status,
                        f->r.body ? f->r.body : "", w->status, w->says ? w->says : "");
            fail();
        }
    }
    assert_int_equal(f->fake.starts, 1);
    assert_int_equal(f->fake.ctrl_alt_dels, 1);
    assert_int_equal(f->fake.pauses, 1);
    assert_int_equal(f->fake.resumes, 1);
    assert_string_equal(f->fake.swapped, "data=other.img");
}

/* A drive from the command line (--drive FILE,id=NAME, in the base config)
 * is swapped by PATCH /drives/NAME after boot like an API drive; one without
 * an id, or an id nobody gave, is refused. */
static void command_line_drive_swapped_by_its_id(void **state)
{
    struct fixture *f = *state;
    pvh_api_fini(&f->api);
    struct pvh_vm_config base = base_cfg;
    base.ndrives = 2;
    base.drives[0] = (struct pvh_vm_drive){.path = "cli.img", .id = "scratch"};
    base.drives[1] = (struct pvh_vm_drive){.path = "anon.img"};
    pvh_api_init(&f->api, &base, &f->ops, "0.1.0", "vm1");
    put_boot_config(f);
    assert_int_equal(call(f, "PATCH", "/drives/scratch", "{\"drive_id\":\"scratch\",\"path_on_host\":\"n.img\"}"), 400);
    assert_non_null(strstr(fault(f), "only after InstanceStart"));
    assert_int_equal(call(f, "PUT", "/actions", "{\"action_type\":\"InstanceStart\"}"), 204);
    assert_int_equal(call(f, "PATCH", "/drives/scratch", "{\"drive_id\":\"scratch\",\"path_on_host\":\"n.img\"}"), 204);
    assert_string_equal(f->fake.swapped, "scratch=n.img");
    assert_int_equal(call(f, "PATCH", "/drives/anon", "{\"drive_id\":\"anon\",\"path_on_host\":\"n.img\"}"), 400);
    assert_string_equal(fault(f),
                        "drives: no drive 'anon' (PUT it before InstanceStart, or start with --drive FILE,id=anon)");
    assert_int_equal(f->fake.swaps, 1);
}

static void start_failure_is_a_fault_and_leaves_it_not_started(void **state)
{
    struct fixture *f = *state;
    f->fake.fail_start = true;
    put_boot_config(f);
    assert_int_equal(call(f, "PUT", "/actions", "{\"action_type\":\"InstanceStart\"}"), 400);
    assert_string_equal(fault(f), "InstanceStart: /dev/kvm: no such device");
    assert_int_equal(call(f, "GET", "/", NULL), 200);
    assert_non_null(strstr(f->r.body, "Not started"));
    assert_int_equal(call(f, "PUT", "/machine-config", "{\"vcpu_count\":1,\"mem_size_mib\":128}"), 204);
}

static void metrics_flush_reaches_the_vmm(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(call(f, "PUT", "/metrics", "{\"metrics_path\":\"metrics.json\"}"), 204);
    assert_int_equal(call(f, "PUT", "/actions", "{\"action_type\":\"FlushMetrics\"}"), 204);
    assert_int_equal(f->fake.flushes, 1);
}

static void vm_config_shows_what_was_put(void **state)
{
    struct fixture *f = *state;
    put_boot_config(f);
    assert_int_equal(call(f, "GET", "/vm/config", NULL), 200);
    json_t *o = json_loads(f->r.body, 0, NULL);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(json_object_get(o, "boot-source"), "kernel_image_path")),
                        "vmlinux");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(o, "machine-config"), "vcpu_count")), 2);
    assert_int_equal(json_array_size(json_object_get(o, "drives")), 2);
    assert_true(json_is_object(json_object_get(o, "entropy")));
    assert_int_equal(json_array_size(json_object_get(o, "network-interfaces")), 1);
    json_decref(o);
}

/* ---- HTTP ------------------------------------------------------------------------ */

static int raw(struct fixture *f, const char *req, size_t n)
{
    pvh_api_response_free(&f->r);
    pvh_api_handle(&f->api, req, n, &f->r);
    return f->r.status;
}

static void http_limits_and_malformed_requests(void **state)
{
    struct fixture *f = *state;
    static const char big_len[] = "PUT /machine-config HTTP/1.1\r\nContent-Length: 51201\r\n\r\n{}";
    assert_int_equal(raw(f, big_len, strlen(big_len)), 413);
    assert_non_null(strstr(fault(f), "over 51200 bytes"));
    static const char garbage[] = "\x01\x02 not http\r\n\r\n";
    assert_int_equal(raw(f, garbage, strlen(garbage)), 400);
    assert_non_null(strstr(fault(f), "malformed HTTP request"));
    static const char partial[] = "PUT /machine-config HTTP/1.1\r\nContent-Length: 10\r\n\r\n{}";
    assert_int_equal(raw(f, partial, strlen(partial)), 400);
    assert_string_equal(fault(f), "incomplete HTTP request");
    char *huge = malloc(10000);
    int n = snprintf(huge, 10000, "GET / HTTP/1.1\r\nX-Pad: %09000d\r\n\r\n", 0);
    assert_int_equal(raw(f, huge, (size_t)n), 400);
    assert_non_null(strstr(fault(f), "headers over 8192 bytes"));
    free(huge);
    static const char chunked[] = "PUT /machine-config HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                                  "1e\r\n{\"vcpu_count\":3,\"mem_size_mib\"\r\n5\r\n:300}\r\n0\r\n\r\n";
    assert_int_equal(raw(f, chunked, strlen(chunked)), 204);
    assert_int_equal(f->api.cfg.ncpus, 3);
    static const char query[] = "GET /machine-config?x=1 HTTP/1.1\r\n\r\n";
    assert_int_equal(raw(f, query, strlen(query)), 200);
}

/* A chunked body over the limit is refused while it arrives. */
static void chunked_body_over_the_limit(void **state)
{
    struct fixture *f = *state;
    struct pvh_api_conn c;
    size_t used;
    char chunk[1100];
    pvh_api_conn_init(&c);
    const char *head = "PUT /logger HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
    assert_false(pvh_api_conn_feed(&c, head, strlen(head), &used));
    int n = snprintf(chunk, sizeof(chunk), "400\r\n%01024d\r\n", 0);
    bool done = false;
    for (int i = 0; i < 60 && !done; i++)
        done = pvh_api_conn_feed(&c, chunk, (size_t)n, &used);
    assert_true(done);
    pvh_api_conn_answer(&f->api, &c, &f->r);
    assert_int_equal(f->r.status, 413);
    pvh_api_conn_fini(&c);
}

/* Bytes arriving one at a time, and two requests in one read. */
static void requests_in_pieces_and_pipelined(void **state)
{
    struct fixture *f = *state;
    const char two[] = "GET /version HTTP/1.1\r\n\r\nPATCH /machine-config HTTP/1.1\r\nContent-Length: 16\r\n\r\n"
                       "{\"vcpu_count\":4}";
    struct pvh_api_conn c;
    size_t used, at = 0;
    pvh_api_conn_init(&c);
    while (!pvh_api_conn_feed(&c, two + at, 1, &used))
        at += used;
    at += used;
    assert_true(c.keep_alive);
    pvh_api_conn_answer(&f->api, &c, &f->r);
    assert_int_equal(f->r.status, 200);
    pvh_api_conn_fini(&c);
    pvh_api_response_free(&f->r);
    pvh_api_conn_init(&c);
    assert_true(pvh_api_conn_feed(&c, two + at, strlen(two) - at, &used));
    assert_int_equal(at + used, strlen(two));
    pvh_api_conn_answer(&f->api, &c, &f->r);
    assert_int_equal(f->r.status, 204);
    assert_int_equal(f->api.cfg.ncpus, 4);
    pvh_api_conn_fini(&c);
}

static void response_bytes(void **state)
{
    (void)state;
    struct pvh_api_response r = {0};
    size_t n;
    pvh_api_fault(&r, 400, "bad\nthing");
    char *out = pvh_api_format(&r, true, &n);
    assert_string_equal(out, "HTTP/1.1 400 Bad Request\r\nServer: pvhboot API\r\nConnection: keep-alive\r\n"
                             "Content-Type: application/json\r\nContent-Length: 29\r\n\r\n"
                             "{\"fault_message\":\"bad thing\"}");
    assert_int_equal(n, strlen(out));
    free(out);
    pvh_api_response_free(&r);
    r.status = 204;
    out = pvh_api_format(&r, false, &n);
    assert_string_equal(out, "HTTP/1.1 204 No Content\r\nServer: pvhboot API\r\nConnection: close\r\n\r\n");
    free(out);
}

/* ---- the config file ---------------------------------------------------------------- */

static void config_file_through_the_endpoints(void **state)
{
    struct fixture *f = *state;
    static const char file[] =
        "{\"boot-source\": {\"kernel_image_path\": \"vmlinux\", \"boot_args\": \"console=ttyS0\"},\n"
        " \"drives\": [{\"drive_id\": \"rootfs\", \"path_on_host\": \"root.ext4\", \"is_root_device\": true,"
        " \"is_read_only\": true}],\n"
        " \"machine-config\": {\"vcpu_count\": 2, \"mem_size_mib\": 1024},\n"
        " \"network-interfaces\": [{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap7\"}], \"vsock\": null}\n";
    struct pvh_error err = {0};
    struct pvh_vm_config c;
    assert_int_equal(pvh_api_load_config(&f->api, file, strlen(file), &err), 0);
    assert_int_equal(pvh_api_build_config(&f->api, &c, &err), 0);
    assert_string_equal(c.kernel, "vmlinux");
    assert_string_equal(c.cmdline, "console=ttyS0 root=/dev/vda ro");
    assert_int_equal(c.ncpus, 2);
    assert_int_equal(c.ram_size, 1024ull << 20);
    assert_int_equal(c.ndrives, 1);
    assert_true(c.drives[0].read_only);
    assert_int_equal(c.nnets, 1);
    assert_string_equal(c.nets[0].tap, "tap7");
    assert_false(c.nets[0].has_mac);
}

struct bad_file {
    const char *json, *says;
};

static const struct bad_file bad_files[] = {
    {"{\"boot-source\": {\"kernel_image_path\": \"vmlinux\"}, \"machine-config\": {\"vcpu_count\": 2}}",
     "machine-config: missing field 'mem_size_mib'"},
    {"{\"boot-source\": {\"kernel_image_path\": \"vmlinux\", \"initrd\": \"x\"}}", "unknown field 'initrd'"},
    {"{\"boot\": {}}", "unknown member 'boot'"},
    {"{\"drives\": {}}", "drives: expected an array of objects"},
    {"{\"drives\": [{\"path_on_host\": \"x\"}]}", "drives[0]: expected an object with its drive_id"},
    {"{\"drives\": [{\"drive_id\": \"a\", \"path_on_host\": \"x\", \"is_root_device\": true},"
     " {\"drive_id\": \"b\", \"path_on_host\": \"y\", \"is_root_device\": true}]}", "drives[1]:"},
    {"{\"network-interfaces\": [{\"iface_id\": \"eth0\"}]}", "network-interfaces[0]: missing field 'host_dev_name'"},
    {"{\"network-interfaces\": [{\"host_dev_name\": \"tap0\"}]}", "network-interfaces[0]: expected an object with its iface_id"},
    {"{\"vsock\": {\"guest_cid\": 1, \"uds_path\": \"v.sock\"}}", "vsock: guest_cid 1"},
    {"{\"balloon\": {\"amount_mib\": 0, \"deflate_on_oom\": false}}", "balloon: not built yet"},
    {"[]", "expected a JSON object"},
    {"{\"machine-config\": ", "line 1"},
};

static void config_file_errors_name_the_member(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad_files) / sizeof(bad_files[0]); i++) {
        struct fixture *f;
        struct pvh_error err = {0};
        setup((void **)&f);
        int rc = pvh_api_load_config(&f->api, bad_files[i].json, strlen(bad_files[i].json), &err);
        if (rc != -1 || !strstr(err.msg, bad_files[i].says)) {
            print_error("%s: got %d '%s', want '%s'\n", bad_files[i].json, rc, err.msg, bad_files[i].says);
            fail();
        }
        teardown((void **)&f);
    }
}

/* Kernel, boot arguments or initrd from both the command line and the file. */
static void config_twice_refused(void **state)
{
    struct fixture *f = *state;
    struct pvh_vm_config c;
    struct pvh_error err = {0};
    f->api.cfg.kernel = "cli-vmlinux";
    assert_int_equal(call(f, "PUT", "/boot-source", "{\"kernel_image_path\":\"vmlinux\"}"), 204);
    assert_int_equal(pvh_api_build_config(&f->api, &c, &err), -1);
    assert_non_null(strstr(err.msg, "a kernel from both"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_endpoint_good_and_bad_bodies),
        cmocka_unit_test_setup_teardown(refused_body_changes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(instance_start_hands_over_the_config, setup, teardown),
        cmocka_unit_test_setup_teardown(after_boot_only_runtime_calls, setup, teardown),
        cmocka_unit_test_setup_teardown(command_line_drive_swapped_by_its_id, setup, teardown),
        cmocka_unit_test_setup_teardown(start_failure_is_a_fault_and_leaves_it_not_started, setup, teardown),
        cmocka_unit_test_setup_teardown(metrics_flush_reaches_the_vmm, setup, teardown),
        cmocka_unit_test_setup_teardown(vm_config_shows_what_was_put, setup, teardown),
        cmocka_unit_test_setup_teardown(http_limits_and_malformed_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(chunked_body_over_the_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(requests_in_pieces_and_pipelined, setup, teardown),
        cmocka_unit_test(response_bytes),
        cmocka_unit_test_setup_teardown(config_file_through_the_endpoints, setup, teardown),
        cmocka_unit_test(config_file_errors_name_the_member),
        cmocka_unit_test_setup_teardown(config_twice_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(snapshot_load_then_create, setup, teardown),
        cmocka_unit_test_setup_teardown(snapshot_load_only_when_fresh, setup, teardown),
        cmocka_unit_test_setup_teardown(snapshot_load_overrides_and_machine, setup, teardown),
        cmocka_unit_test_setup_teardown(snapshot_load_refused_override_leaves_it_fresh, setup, teardown),
        cmocka_unit_test_setup_teardown(snapshot_load_override_and_command_line_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(snapshot_load_lists_restored_devices, setup, teardown),
        cmocka_unit_test_setup_teardown(snapshot_load_patch_restored_drive, setup, teardown),
    };
    return cmocka_run_group_tests_name("api", tests, NULL, NULL);
}
