#!/usr/bin/env python3
"""Every endpoint of pvhboot's API with good and bad bodies, each response's
status and body validated with jsonschema against Firecracker's response
objects (tests/api/firecracker-schemas.json, written from Firecracker's
firecracker.yaml). Prints TAP.

  schema.py APIDRIVE SOCK
    first the request handler through tests/api/apidrive (faked VMM): a walk
    before boot, InstanceStart, and the calls after it, and a second walk
    on a fresh API that loads a snapshot (PUT /snapshot/load) instead of
    booting; then `pvhboot serve`
    (--dry-run) on SOCK, over its UNIX socket (real HTTP framing and the
    CLI's host side): the calls before boot

Each answer must have the status the table names; a 200 body must validate
against the table's schema, a 204 have no body, and every 4xx/5xx body be
Firecracker's Error ({"fault_message": "..."}). The snapshot endpoints'
request bodies are checked against the YAML's request objects too: a body
the YAML refuses must get a 400.
"""
import http.client
import json
import os
import socket
import subprocess
import sys

import jsonschema

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "firecracker-schemas.json")) as f:
    SCHEMAS = json.load(f)


def validator(name):
    schema = {"$ref": "#/definitions/" + name, "definitions": SCHEMAS["definitions"]}
    return jsonschema.Draft4Validator(schema)


def drive(path_id, **extra):
    body = {"drive_id": path_id, "path_on_host": "disk.img", "is_root_device": False}
    body.update(extra)
    return json.dumps(body)


def mc(**kw):
    return json.dumps(kw)


def snap(**kw):
    """A snapshot body: create's or load's fields as given."""
    return json.dumps(kw)


FILE_BACKEND = {"backend_type": "File", "backend_path": "snap.mem"}


# (method, path, body or None, status, schema of a 200 body, {field: value} the 200 body must hold)
BEFORE = [
    ("GET", "/", None, 200, "InstanceInfo", {"state": "Not started", "app_name": "pvhboot"}),
    ("GET", "/version", None, 200, "FirecrackerVersion", {}),
    ("GET", "/machine-config", None, 200, "MachineConfiguration", {"vcpu_count": 1}),
    ("GET", "/vm/config", None, 200, "FullVmConfiguration", {}),
    ("PUT", "/machine-config", mc(vcpu_count=2, mem_size_mib=256), 204, None, {}),
    ("PUT", "/machine-config", mc(vcpu_count=2, mem_size_mib=256, smt=False, track_dirty_pages=False,
                                  cpu_template="None", huge_pages="None"), 204, None, {}),
    ("PUT", "/machine-config", mc(vcpu_count=2), 400, None, {}),
    ("PUT", "/machine-config", mc(vcpu_count="2", mem_size_mib=256), 400, None, {}),
    ("PUT", "/machine-config", mc(vcpu_count=0, mem_size_mib=256), 400, None, {}),
    ("PUT", "/machine-config", mc(vcpu_count=1, mem_size_mib=128, smt=True), 400, None, {}),
    ("PUT", "/machine-config", mc(vcpu_count=1, mem_size_mib=128, cpu_template="T2"), 400, None, {}),
    ("PUT", "/machine-config", mc(vcpu_count=1, mem_size_mib=128, vcpus=1), 400, None, {}),
    ("PUT", "/machine-config", '{"vcpu_count":1,', 400, None, {}),
    ("PUT", "/machine-config", "[1,2]", 400, None, {}),
    ("PUT", "/machine-config", None, 400, None, {}),
    ("PATCH", "/machine-config", mc(mem_size_mib=192), 204, None, {}),
    ("PATCH", "/machine-config", mc(huge_pages="2M"), 400, None, {}),
    ("GET", "/machine-config", None, 200, "MachineConfiguration", {"vcpu_count": 2, "mem_size_mib": 192}),
    ("PUT", "/boot-source", json.dumps({"kernel_image_path": "vmlinux", "boot_args": "console=ttyS0",
                                        "initrd_path": "initrd"}), 204, None, {}),
    ("PUT", "/boot-source", json.dumps({"boot_args": "console=ttyS0"}), 400, None, {}),
    ("PUT", "/boot-source", json.dumps({"kernel_image_path": "missing-vmlinux"}), 400, None, {}),
    ("PUT", "/boot-source", json.dumps({"kernel_image_path": 7}), 400, None, {}),
    ("PUT", "/drives/rootfs", drive("rootfs", is_root_device=True, is_read_only=False), 204, None, {}),
    ("PUT", "/drives/data", drive("data", cache_type="Writeback", io_engine="Sync", rate_limiter=None), 204, None, {}),
    ("PUT", "/drives/rootfs", drive("other", is_root_device=True), 400, None, {}),
    ("PUT", "/drives/rootfs", json.dumps({"drive_id": "rootfs", "path_on_host": "disk.img"}), 400, None, {}),
    ("PUT", "/drives/rootfs", drive("rootfs", io_engine="Async"), 400, None, {}),
    ("PUT", "/drives/rootfs", drive("rootfs", cache_type="Fast"), 400, None, {}),
    ("PUT", "/drives/rootfs", drive("rootfs", rate_limiter={"bandwidth": {"size": 1, "refill_time": 1}}), 400, None, {}),
    ("PUT", "/drives/rootfs", drive("rootfs", path_on_host="missing.img"), 400, None, {}),
    ("PATCH", "/drives/rootfs", json.dumps({"drive_id": "rootfs", "path_on_host": "disk2.img"}), 400, None, {}),
    ("PUT", "/network-interfaces/eth0", json.dumps({"iface_id": "eth0", "host_dev_name": "tap0",
                                                    "guest_mac": "06:00:ac:10:00:02"}), 204, None, {}),
    ("PUT", "/network-interfaces/eth0", json.dumps({"iface_id": "eth0"}), 400, None, {}),
    ("PUT", "/network-interfaces/eth0", json.dumps({"iface_id": "eth0", "host_dev_name": "tap0",
                                                    "guest_mac": "zz:00:00:00:00:01"}), 400, None, {}),
    ("PATCH", "/network-interfaces/eth0", json.dumps({"iface_id": "eth0"}), 400, None, {}),
    ("PUT", "/vsock", json.dumps({"guest_cid": 3, "uds_path": "v.sock"}), 204, None, {}),
    ("PUT", "/vsock", json.dumps({"guest_cid": 2, "uds_path": "v.sock"}), 400, None, {}),
    ("PUT", "/vsock", json.dumps({"guest_cid": "3", "uds_path": "v.sock"}), 400, None, {}),
    ("PUT", "/entropy", "{}", 204, None, {}),
    ("PUT", "/entropy", json.dumps({"rng": 1}), 400, None, {}),
    ("PUT", "/logger", json.dumps({"log_path": "api.log", "level": "Debug", "show_level": True}), 204, None, {}),
    ("PUT", "/logger", json.dumps({"level": "Loud"}), 400, None, {}),
    ("PUT", "/logger", json.dumps({"module": "api_server"}), 400, None, {}),
    ("PUT", "/metrics", json.dumps({"metrics_path": "metrics.json"}), 204, None, {}),
    ("PUT", "/metrics", "{}", 400, None, {}),
    ("PUT", "/actions", json.dumps({"action_type": "FlushMetrics"}), 204, None, {}),
    ("PUT", "/actions", json.dumps({"action_type": "SendCtrlAltDel"}), 400, None, {}),
    ("PUT", "/actions", json.dumps({"action_type": "Reboot"}), 400, None, {}),
    ("PUT", "/actions", "{}", 400, None, {}),
    ("PATCH", "/vm", json.dumps({"state": "Paused"}), 400, None, {}),
    ("PUT", "/balloon", json.dumps({"amount_mib": 0, "deflate_on_oom": False}), 400, None, {}),
    ("PUT", "/snapshot/create", "{}", 400, None, {}),
    ("PUT", "/snapshot/create", snap(snapshot_path="snap.state", mem_file_path="snap.mem"), 400, None, {}),
    ("PUT", "/snapshot/load", snap(snapshot_path="snap.state"), 400, None, {}),
    ("PUT", "/snapshot/load", snap(snapshot_path="snap.state", mem_file_path="snap.mem", mem_backend=FILE_BACKEND),
     400, None, {}),
    ("PUT", "/snapshot/load", snap(snapshot_path="snap.state", mem_backend={"backend_type": "Uffd",
                                                                           "backend_path": "uffd.sock"}), 400, None, {}),
    ("PUT", "/snapshot/load", snap(snapshot_path="snap.state", mem_backend={"backend_type": "Disk",
                                                                           "backend_path": "snap.mem"}), 400, None, {}),
    ("PUT", "/snapshot/load", snap(snapshot_path="snap.state", mem_backend={"backend_type": "File"}), 400, None, {}),
    ("PUT", "/snapshot/load", snap(snapshot_path="snap.state", mem_backend=FILE_BACKEND, enable_diff_snapshots=True),
     400, None, {}),
    ("PUT", "/snapshot/load", snap(snapshot_path="snap.state", mem_backend=FILE_BACKEND, track_dirty_pages=True),
     400, None, {}),
    ("PUT", "/snapshot/load", snap(snapshot_path="snap.state", mem_backend=FILE_BACKEND,
                                   network_overrides=[{"iface_id": "eth0", "host_dev_name": "tap1"}]), 400, None, {}),
    ("PUT", "/snapshot/load", snap(snapshot_path="snap.state", mem_backend=FILE_BACKEND, network_overrides="eth0"),
     400, None, {}),
    ("PUT", "/snapshot/load", snap(snapshot_path="snap.state", mem_backend=FILE_BACKEND,
                                   network_overrides=[{"iface_id": "eth0"}]), 400, None, {}),
    ("PUT", "/snapshot/load", snap(snapshot_path="snap.state", mem_backend=FILE_BACKEND,
                                   network_overrides=[{"iface_id": "eth0", "host_dev_name": "tap1", "mac": "x"}]),
     400, None, {}),
    ("PUT", "/snapshot/load", snap(snapshot_path="snap.state", mem_backend=FILE_BACKEND, vsock_override={}),
     400, None, {}),
    ("PUT", "/snapshot/load", snap(snapshot_path="snap.state", mem_backend=FILE_BACKEND,
                                   vsock_override={"uds_path": "v2.sock", "guest_cid": 3}), 400, None, {}),
    ("PUT", "/snapshot/load", snap(snapshot_path="snap.state", mem_backend=FILE_BACKEND,
                                   vsock_override={"uds_path": "v2.sock"}), 400, None, {}),
    ("PUT", "/snapshot/load", snap(snapshot_path="snap.state", mem_backend=FILE_BACKEND, clock_realtime=True),
     400, None, {}),
    ("PUT", "/snapshot/load", snap(snapshot_path="snap.state", mem_backend=FILE_BACKEND, resume_vm="yes"), 400, None, {}),
    ("PUT", "/snapshot/load", snap(snapshot_path="snap.state", mem_file_path=""), 400, None, {}),
    ("PUT", "/snapshot/load", snap(snapshot_path="snap.state", mem_file_path="snap.mem", version="1.0"), 400, None, {}),
    # a good body, but boot resources were configured above (Firecracker's rule: a fresh microVM only)
    ("PUT", "/snapshot/load", snap(snapshot_path="snap.state", mem_backend=FILE_BACKEND, resume_vm=True), 400, None, {}),
    ("GET", "/", None, 200, "InstanceInfo", {"state": "Not started"}),
    ("GET", "/nothing", None, 400, None, {}),
    ("DELETE", "/machine-config", None, 400, None, {}),
    ("GET", "/drives/rootfs", None, 400, None, {}),
    ("GET", "/vm/config", None, 200, "FullVmConfiguration", {}),
]

START = [("PUT", "/actions", json.dumps({"action_type": "InstanceStart"}), 204, None, {})]

AFTER = [
    ("GET", "/", None, 200, "InstanceInfo", {"state": "Running"}),
    ("PUT", "/actions", json.dumps({"action_type": "InstanceStart"}), 400, None, {}),
    ("PUT", "/machine-config", mc(vcpu_count=1, mem_size_mib=128), 400, None, {}),
    ("PUT", "/drives/more", drive("more"), 400, None, {}),
    ("PATCH", "/vm", json.dumps({"state": "Paused"}), 204, None, {}),
    ("GET", "/", None, 200, "InstanceInfo", {"state": "Paused"}),
    ("PUT", "/snapshot/create", snap(snapshot_path="snap.state", mem_file_path="snap.mem"), 204, None, {}),
    ("PUT", "/snapshot/create", snap(snapshot_path="snap.state", mem_file_path="snap.mem", snapshot_type="Full"),
     204, None, {}),
    ("PUT", "/snapshot/create", snap(snapshot_path="snap.state", mem_file_path="snap.mem", snapshot_type="Diff"),
     400, None, {}),
    ("PUT", "/snapshot/create", snap(snapshot_path="snap.state", mem_file_path="snap.mem", snapshot_type="Incremental"),
     400, None, {}),
    ("PUT", "/snapshot/create", snap(snapshot_path="snap.state"), 400, None, {}),
    ("PUT", "/snapshot/create", snap(snapshot_path="snap.state", mem_file_path="snap.state"), 400, None, {}),
    ("PUT", "/snapshot/create", snap(snapshot_path="missing/snap.state", mem_file_path="snap.mem"), 400, None, {}),
    ("PUT", "/snapshot/create", snap(snapshot_path=7, mem_file_path="snap.mem"), 400, None, {}),
    ("PUT", "/snapshot/load", snap(snapshot_path="snap.state", mem_file_path="snap.mem"), 400, None, {}),
    ("GET", "/", None, 200, "InstanceInfo", {"state": "Paused"}),
    ("PATCH", "/vm", json.dumps({"state": "Stopped"}), 400, None, {}),
    ("PATCH", "/vm", json.dumps({"state": "Resumed"}), 204, None, {}),
    ("PATCH", "/drives/data", json.dumps({"drive_id": "data", "path_on_host": "disk2.img"}), 204, None, {}),
    ("PATCH", "/drives/data", json.dumps({"drive_id": "data", "path_on_host": "missing.img"}), 400, None, {}),
    ("PATCH", "/drives/nodrive", json.dumps({"drive_id": "nodrive", "path_on_host": "disk2.img"}), 400, None, {}),
    ("PATCH", "/drives/data", json.dumps({"drive_id": "data", "is_read_only": True}), 400, None, {}),
    ("PATCH", "/network-interfaces/eth0", json.dumps({"iface_id": "eth0", "rx_rate_limiter": None}), 204, None, {}),
    ("PUT", "/actions", json.dumps({"action_type": "FlushMetrics"}), 204, None, {}),
    ("PUT", "/actions", json.dumps({"action_type": "SendCtrlAltDel"}), 204, None, {}),
    ("GET", "/machine-config", None, 200, "MachineConfiguration", {"vcpu_count": 2}),
    ("GET", "/vm/config", None, 200, "FullVmConfiguration", {}),
    ("GET", "/version", None, 200, "FirecrackerVersion", {}),
    ("PUT", "/snapshot/create", snap(snapshot_path="snap.state", mem_file_path="snap.mem"), 400, None, {}),
]

# A fresh API (its own apidrive): logger and metrics may come before a load;
# a state file the restore refuses (the fake's "corrupt"): 400, still fresh;
# then a load that leaves the VM paused, and the calls after it.
LOAD = [
    ("PUT", "/logger", json.dumps({"log_path": "api.log", "level": "Info"}), 204, None, {}),
    ("PUT", "/metrics", json.dumps({"metrics_path": "metrics.json"}), 204, None, {}),
    ("PUT", "/snapshot/load", snap(snapshot_path="corrupt.state", mem_backend=FILE_BACKEND), 400, None, {}),
    ("PUT", "/snapshot/load", snap(snapshot_path="missing.state", mem_backend=FILE_BACKEND), 400, None, {}),
    # overrides the (fake) restore refuses: an iface_id its snapshot has not, a TAP that does not open
    ("PUT", "/snapshot/load", snap(snapshot_path="snap.state", mem_backend=FILE_BACKEND,
                                   network_overrides=[{"iface_id": "eth9", "host_dev_name": "tap1"}]), 400, None, {}),
    ("PUT", "/snapshot/load", snap(snapshot_path="snap.state", mem_backend=FILE_BACKEND,
                                   network_overrides=[{"iface_id": "eth0", "host_dev_name": "missing0"}]),
     400, None, {}),
    ("GET", "/", None, 200, "InstanceInfo", {"state": "Not started"}),
    ("GET", "/machine-config", None, 200, "MachineConfiguration", {"vcpu_count": 1, "mem_size_mib": 128}),
    ("PUT", "/snapshot/load", snap(snapshot_path="snap.state", mem_backend=FILE_BACKEND, resume_vm=False,
                                   enable_diff_snapshots=False,
                                   network_overrides=[{"iface_id": "eth0", "host_dev_name": "tap1"}],
                                   vsock_override={"uds_path": "clone.sock"}), 204, None, {}),
    ("GET", "/", None, 200, "InstanceInfo", {"state": "Paused"}),
    # the restored machine's (the fake snapshot's 3 vCPUs, 384 MiB), not the empty API's defaults
    ("GET", "/machine-config", None, 200, "MachineConfiguration", {"vcpu_count": 3, "mem_size_mib": 384}),
    # and its devices (tests/lib/api_fake.h), the overrides applied; those without an id left out
    ("GET", "/vm/config", None, 200, "FullVmConfiguration",
     {"network-interfaces": [{"iface_id": "eth0", "host_dev_name": "tap1", "guest_mac": "06:00:ac:10:00:02"},
                             {"iface_id": "eth1", "host_dev_name": "tap5"}],
      "vsock": {"guest_cid": 5, "uds_path": "clone.sock"}, "entropy": {}}),
    ("PATCH", "/drives/rootfs", json.dumps({"drive_id": "rootfs", "path_on_host": "disk2.img"}), 204, None, {}),
    ("PATCH", "/network-interfaces/eth1", json.dumps({"iface_id": "eth1", "rx_rate_limiter": None}), 204, None, {}),
    ("PUT", "/boot-source", json.dumps({"kernel_image_path": "vmlinux"}), 400, None, {}),
    ("PUT", "/actions", json.dumps({"action_type": "InstanceStart"}), 400, None, {}),
    ("PUT", "/snapshot/load", snap(snapshot_path="snap.state", mem_file_path="snap.mem"), 400, None, {}),
    ("PUT", "/snapshot/create", snap(snapshot_path="snap2.state", mem_file_path="snap2.mem"), 204, None, {}),
    ("PATCH", "/vm", json.dumps({"state": "Resumed"}), 204, None, {}),
    ("GET", "/", None, 200, "InstanceInfo", {"state": "Running"}),
    ("PUT", "/snapshot/create", snap(snapshot_path="snap2.state", mem_file_path="snap2.mem"), 400, None, {}),
    ("GET", "/vm/config", None, 200, "FullVmConfiguration",
     {"drives": [{"drive_id": "rootfs", "is_root_device": True, "is_read_only": False, "path_on_host": "disk2.img",
                  "cache_type": "Unsafe", "io_engine": "Sync"},
                 {"drive_id": "data", "is_root_device": False, "is_read_only": True, "path_on_host": "snap-data.img",
                  "cache_type": "Writeback", "io_engine": "Sync"}]}),
]

# The request bodies Firecracker's YAML describes: one it refuses must get a
# 400 (and a 204 is only for one it takes).
REQUEST_SCHEMAS = {("PUT", "/snapshot/create"): "SnapshotCreateParams",
                   ("PUT", "/snapshot/load"): "SnapshotLoadParams"}

COUNT = [0]


def request_problems(method, path, req, status):
    """The YAML's verdict on a snapshot body against the status it got."""
    name = REQUEST_SCHEMAS.get((method, path))
    if not name or req is None:
        return [], ""
    try:
        doc = json.loads(req)
        errors = [e.message for e in validator(name).iter_errors(doc)]
    except ValueError:
        errors = ["not JSON"]
    verdict = " (YAML: %s)" % ("refused" if errors else "valid")
    if errors and status != 400:
        return ["the YAML's %s refuses the body (%s) but it got %d" % (name, errors[0][:80], status)], verdict
    return [], verdict


def check(case, status, body):
    """One TAP line: the status, then the body against its schema."""
    method, path, req, want, schema, fields = case
    name = "%s %s %s: %d" % (method, path, req if req is not None else "", want)
    problems = []
    if status != want:
        problems.append("status %d" % status)
    try:
        doc = json.loads(body) if body else None
    except ValueError as e:
        doc, problems = None, problems + ["not JSON (%s): %r" % (e, body[:200])]
    if status == 204 and body:
        problems.append("a 204 with a body")
    req_problems, verdict = request_problems(method, path, req, status)
    problems += req_problems
    name += verdict
    if status >= 400 or schema:
        v = validator("Error" if status >= 400 else schema)
        for e in v.iter_errors(doc):
            problems.append("%s at %s" % (e.message, "/".join(str(p) for p in e.absolute_path) or "the top"))
    for k, value in fields.items():
        if not isinstance(doc, dict) or doc.get(k) != value:
            problems.append("%s is not %r" % (k, value))
    COUNT[0] += 1
    if problems:
        print("not ok %d - %s (%s; body %s)" % (COUNT[0], name, "; ".join(problems), body[:300]))
        return False
    print("ok %d - %s, body valid" % (COUNT[0], name))
    return True


HANDLER_CASES = BEFORE + START + AFTER
# before boot only: InstanceStart under --dry-run ends the server
SOCKET_CASES = [c for c in BEFORE if c[0:2] != ("PUT", "/actions") or "FlushMetrics" in (c[2] or "")]


def run_handler(apidrive, cases):
    script = "".join("%s\t%s\t%s\n" % (m, p, b if b is not None else "") if b is not None else "%s\t%s\n" % (m, p)
                     for m, p, b, *_ in cases)
    out = subprocess.run([apidrive], input=script.encode(), stdout=subprocess.PIPE, check=True).stdout.decode()
    answers = out.splitlines()
    good = len(answers) == len(cases)
    for i, case in enumerate(cases):
        status, _, body = answers[i].partition("\t") if i < len(answers) else ("0", "", "")
        good &= check(case, int(status), body)
    return good


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=10)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(self.unix_path)


def run_socket(sock):
    cases = SOCKET_CASES
    good = True
    conn = UnixHTTPConnection(sock)
    for i, (method, path, body, *_rest) in enumerate(cases):
        headers = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(method, path, body=body.encode() if body is not None else None, headers=headers)
        resp = conn.getresponse()
        data = resp.read().decode()
        if resp.status >= 400 and resp.getheader("Connection", "").lower() == "close":
            conn.close()
            conn = UnixHTTPConnection(sock)
        good &= check(cases[i], resp.status, data)
    conn.close()
    return good


if __name__ == "__main__":
    print("1..%d" % (len(HANDLER_CASES) + len(LOAD) + len(SOCKET_CASES)))
    ok = run_handler(sys.argv[1], HANDLER_CASES)
    ok = run_handler(sys.argv[1], LOAD) and ok
    ok = run_socket(sys.argv[2]) and ok
    sys.exit(0 if ok else 1)
