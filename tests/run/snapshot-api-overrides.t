#!/usr/bin/env bash
# PUT /snapshot/load's clone overrides (issue 16) in the machine with KVM
# (tests/kvm/with-kvm.sh), driven by Debian's curl --unix-socket: Debian
# 6.1's kernel with the busybox virtio initramfs (tests/lib/virtio-initramfs.sh)
# serving an echo on vsock port 5000, booted through the API with 128 MiB, a
# NIC eth0 on TAP apiv0, vsock (CID 3) on /tmp/t.sock, a root drive rootfs
# (root.img) and a read-only data drive (cache_type Writeback); paused and
# snapshotted through the API, that server ended. A second server (--mem 256,
# --drive clone.img,id=rootfs: restore's override of that drive's file):
#  - network_overrides naming an iface_id the snapshot has not: 400 naming
#    it, the server stays fresh (GET /machine-config: serve's 256 MiB);
#  - the load with network_overrides [{eth0 -> apiv1}] and vsock_override
#    {/tmp/clone.sock}, resume_vm true: 204; GET /machine-config and GET
#    /vm/config say the snapshot's 128 MiB; the restored guest answers on
#    the NEW socket (its CONNECT goes through the listener restore made
#    there; nothing answers on the template's /tmp/t.sock); the NIC is on the new TAP apiv1
#    (pvhboot made it: it is in /sys/class/net while the clone runs);
#  - GET /vm/config after the load lists the restored devices as the clone
#    runs them: eth0 on apiv1, vsock CID 3 on /tmp/clone.sock, rootfs on
#    clone.img (still the root device), data on data.img (read-only,
#    Writeback), entropy (the template's automatic virtio-rng);
#  - PATCH /drives/rootfs on the clone swaps the restored drive's file: 204,
#    and GET /vm/config then says clone2.img.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/kvm-suite.sh
k61=$(tests/lib/debian-kernel.sh) || fail_all "cannot fetch Debian's 6.1 cloud kernel"
[ -s "$k61/modules/tun.ko" ] || fail_all "$k61/modules/tun.ko missing (tests/lib/debian-kernel.sh)"
curl_tgz=$(tests/lib/curl-bundle.sh) || fail_all "cannot build the curl bundle (tests/lib/curl-bundle.sh)"
cp "$curl_tgz" "$work/curl.tgz"
cc -static -O2 -Wall -Wextra -Werror -o "$work/vsockpeer" tests/vsock/vsockpeer.c 2>"$work/cc.log" ||
    fail_all "cannot build tests/vsock/vsockpeer.c: $(head -3 "$work/cc.log")"
cat >"$work/test-init" <<'TEST'
#!/bin/sh
/vsockpeer serve vsock:5000 >/dev/null 2>&1 &
echo "APIV-READY"
/vsockpeer sink vsock:5999 | grep SINK-OK
TEST
tests/lib/virtio-initramfs.sh "$k61" "$work/apiv.cpio" --init "$work/test-init" \
    --file "$work/vsockpeer:/vsockpeer" >/dev/null || fail_all "cannot build the initramfs"

cat >"$work/cases.sh" <<'CASES'
tar xzf curl.tgz || echo "CURL-UNTAR-FAIL"
insmod tun.ko || echo "TUN-INSMOD-FAIL"
CURL="./curl/ld.so --library-path ./curl ./curl/curl"
C() { # SOCK METHOD PATH [BODY]: one call; prints "CALL METHOD PATH -> STATUS BODY"
    rm -f body.txt
    if [ $# -ge 4 ]; then
        st=$($CURL -s --max-time 120 --unix-socket "$1" -o body.txt -w '%{http_code}' -X "$2" "http://localhost$3" \
             -H 'Content-Type: application/json' -d "$4")
    else
        st=$($CURL -s --max-time 120 --unix-socket "$1" -o body.txt -w '%{http_code}' -X "$2" "http://localhost$3")
    fi
    echo "CALL $2 $3 -> $st $(cat body.txt 2>/dev/null)"
}
wait_sock() { n=0; while [ ! -S "$1" ] && [ $n -lt 300 ]; do busybox usleep 100000; n=$((n + 1)); done; }
wait_line() { # FILE TEXT PID: until the line is there or PID is gone, up to 240 s
    n=0
    while ! busybox grep -q "$2" "$1" 2>/dev/null && kill -0 "$3" 2>/dev/null && [ $n -lt 1200 ]; do
        busybox usleep 200000
        n=$((n + 1))
    done
    echo "WAITED $2 $((n / 5)) s"
}
retry() { # a vsockpeer command until it prints its OK line, up to 60 s
    i=0
    while [ $i -lt 120 ]; do
        out=$("$@" 2>&1)
        case $out in *-OK*) echo "$out"; return 0 ;; esac
        busybox usleep 500000
        i=$((i + 1))
    done
    echo "GAVE-UP $out"
}
watchdog() { (busybox sleep 300; kill "$1" 2>/dev/null) >/dev/null 2>&1 & }
LOAD='"snapshot_path":"api.state","mem_backend":{"backend_type":"File","backend_path":"api.mem"}'
for d in root data clone; do busybox dd if=/dev/zero of=$d.img bs=1024 count=1024 2>/dev/null; done
busybox dd if=/dev/zero of=clone2.img bs=1024 count=2048 2>/dev/null

echo "=== BEGIN serve1"
./pvhboot serve --api-sock a1.sock --serial file:serial1.log --timeout 600 >serve1.out 2>&1 &
srv=$!
watchdog $srv
wait_sock a1.sock
C a1.sock PUT /machine-config '{"vcpu_count":1,"mem_size_mib":128}'
C a1.sock PUT /boot-source '{"kernel_image_path":"vmlinux","initrd_path":"apiv.cpio","boot_args":"console=ttyS0 quiet"}'
C a1.sock PUT /network-interfaces/eth0 '{"iface_id":"eth0","host_dev_name":"apiv0"}'
C a1.sock PUT /vsock '{"guest_cid":3,"uds_path":"/tmp/t.sock"}'
C a1.sock PUT /drives/rootfs '{"drive_id":"rootfs","path_on_host":"root.img","is_root_device":true,"is_read_only":false}'
C a1.sock PUT /drives/data '{"drive_id":"data","path_on_host":"data.img","is_root_device":false,"is_read_only":true,"cache_type":"Writeback"}'
C a1.sock PUT /actions '{"action_type":"InstanceStart"}'
wait_line serial1.log APIV-READY $srv
busybox sleep 1
C a1.sock PATCH /vm '{"state":"Paused"}'
C a1.sock PUT /snapshot/create '{"snapshot_path":"api.state","mem_file_path":"api.mem"}'
kill $srv
wait $srv
echo "=== END serve1 rc=$?"
echo "=== BEGIN serve1-err"; cat serve1.out; busybox tail -20 serial1.log; echo "=== END serve1-err rc=0"
echo "TEMPLATE-SOCKET $(ls /tmp/t.sock 2>/dev/null | wc -l)"

echo "=== BEGIN serve2"
[ -s api.state ] || { echo "NO-SNAPSHOT"; exit 0; } # nothing else can run (the checks say what failed)
./pvhboot serve --api-sock a2.sock --mem 256 --drive clone.img,id=rootfs --serial file:serial2.log --timeout 600 \
    >serve2.out 2>&1 &
srv=$!
watchdog $srv
wait_sock a2.sock
C a2.sock PUT /snapshot/load "{$LOAD,\"resume_vm\":true,\"network_overrides\":[{\"iface_id\":\"eth9\",\"host_dev_name\":\"apiv9\"}]}"
C a2.sock GET /machine-config
C a2.sock PUT /snapshot/load "{$LOAD,\"resume_vm\":true,\"network_overrides\":[{\"iface_id\":\"eth0\",\"host_dev_name\":\"apiv1\"}],\"vsock_override\":{\"uds_path\":\"/tmp/clone.sock\"}}"
C a2.sock GET /machine-config
C a2.sock GET /vm/config
C a2.sock PATCH /drives/rootfs '{"drive_id":"rootfs","path_on_host":"clone2.img"}'
C a2.sock GET /vm/config
echo "CLONE-VSOCK $(retry ./vsockpeer echo hybrid:/tmp/clone.sock:5000 4096 1)"
echo "OLD-VSOCK $(./vsockpeer echo hybrid:/tmp/t.sock:5000 4096 1 2>&1)"
echo "TAPS apiv1=$(ls -d /sys/class/net/apiv1 2>/dev/null | wc -l) apiv0=$(ls -d /sys/class/net/apiv0 2>/dev/null | wc -l) t.sock=$(ls /tmp/t.sock 2>/dev/null | wc -l)"
./vsockpeer send hybrid:/tmp/clone.sock:5999 7 >/dev/null 2>&1
wait_line serial2.log SINK-OK $srv
kill $srv
wait $srv
echo "=== END serve2 rc=$?"
echo "=== BEGIN serve2-err"; cat serve2.out; busybox tail -20 serial2.log; echo "=== END serve2-err rc=0"
CASES

start=$(date +%s)
PVHBOOT_KVM_TIMEOUT=900 tests/kvm/with-kvm.sh --mem 1536 --cpus 1 --file build/static/pvhboot \
    --file "$k61/vmlinux" --file "$work/apiv.cpio" --file "$work/vsockpeer" --file "$work/curl.tgz" \
    --file "$k61/modules/tun.ko" --file "$work/cases.sh" -- sh cases.sh >"$work/out.txt" 2>"$work/err.txt"
rc=$?
echo "# with-kvm.sh exit $rc after $(( $(date +%s) - start )) s; $(grep -m1 '^# kvm:' "$work/err.txt")"
[ "$rc" -eq 0 ] || sed 's/^/# /' "$work/err.txt" | tail -20

export WORK=$work
python3 - <<'PY'
import json, os, re, sys
sys.path.insert(0, "tests/lib")
from tap import check, finish, show_failed_boot, sections
out = open(os.environ["WORK"] + "/out.txt", errors="replace").read().replace("\r", "")
s = sections(out)
def get(name):
    return s.get(name, ("", -1))
def calls(text, method, path):
    return [m.group(1) for m in re.finditer(r"^CALL %s %s -> (.*)$" % (method, re.escape(path)), text, re.M)]
def body(answer):
    try:
        return json.loads(answer.split(" ", 1)[1])
    except (IndexError, ValueError):
        return {}

s1, _ = get("serve1")
ok1 = calls(s1, "PUT", "/actions") == ["204 "] and calls(s1, "PUT", "/snapshot/create") == ["204 "]
check(not re.search(r"CURL-UNTAR-FAIL|TUN-INSMOD-FAIL", out) and ok1 and calls(s1, "PUT", "/network-interfaces/eth0") == ["204 "]
      and calls(s1, "PUT", "/vsock") == ["204 "] and calls(s1, "PUT", "/drives/rootfs") == ["204 "]
      and calls(s1, "PUT", "/drives/data") == ["204 "],
      "the template (Debian 6.1, NIC eth0 on apiv0, vsock on /tmp/t.sock, drives rootfs and data, 128 MiB) booted and "
      "snapshotted through the API")
ok1 or show_failed_boot("serve1", s1 + get("serve1-err")[0], -1)

s2, _ = get("serve2")
loads = calls(s2, "PUT", "/snapshot/load")
machines = calls(s2, "GET", "/machine-config")
check(len(loads) == 2 and re.match(r'400 \{"fault_message":"snapshot/load: api\.state: network override iface_id eth9: '
                                   r'the snapshot has no network interface with that iface_id"\}$', loads[0])
      and len(machines) == 2 and body(machines[0]).get("mem_size_mib") == 256,
      f"an iface_id the snapshot has not: 400 naming it, the server stays fresh ({loads[0][:160] if loads else 'no answer'})")
check(len(loads) == 2 and loads[1] == "204 ",
      f"network_overrides eth0 -> apiv1 and vsock_override /tmp/clone.sock: 204 ({loads[1][:160] if len(loads) > 1 else ''})")
vmc = calls(s2, "GET", "/vm/config")
check(len(machines) == 2 and body(machines[1]).get("mem_size_mib") == 128 and body(machines[1]).get("vcpu_count") == 1
      and vmc and body(vmc[0]).get("machine-config", {}).get("mem_size_mib") == 128,
      f"after the load GET /machine-config and GET /vm/config say the snapshot's 128 MiB, not serve's --mem 256 "
      f"({machines[1][:80] if len(machines) > 1 else ''})")
after = body(vmc[0]) if vmc else {}
def drive(doc, name):
    return next((d for d in doc.get("drives", []) if d.get("drive_id") == name), None)
want_drives = [{"drive_id": "rootfs", "is_root_device": True, "is_read_only": False, "path_on_host": "clone.img",
                "cache_type": "Unsafe", "io_engine": "Sync"},
               {"drive_id": "data", "is_root_device": False, "is_read_only": True, "path_on_host": "data.img",
                "cache_type": "Writeback", "io_engine": "Sync"}]
check(after.get("network-interfaces") == [{"iface_id": "eth0", "host_dev_name": "apiv1"}]
      and after.get("vsock") == {"guest_cid": 3, "uds_path": "/tmp/clone.sock"}
      and after.get("drives") == want_drives and after.get("entropy") == {},
      f"after the load GET /vm/config lists the restored devices: eth0 on apiv1, vsock CID 3 on /tmp/clone.sock, "
      f"rootfs on clone.img (--drive's override, still the root device), data read-only Writeback, entropy "
      f"({vmc[0][:400] if vmc else 'no answer'})")
patched = calls(s2, "PATCH", "/drives/rootfs")
swapped = drive(body(vmc[1]), "rootfs") if len(vmc) > 1 else None
check(patched == ["204 "] and swapped and swapped.get("path_on_host") == "clone2.img",
      f"PATCH /drives/rootfs swaps the restored drive's file (204), GET /vm/config then says clone2.img "
      f"({patched[:1]}; {vmc[1][:200] if len(vmc) > 1 else 'no answer'})")
vs = re.search(r"^CLONE-VSOCK (.*)$", s2, re.M)
old = re.search(r"^OLD-VSOCK (.*)$", s2, re.M)
check(vs and "ECHO-OK" in vs.group(1) and old and "ECHO-OK" not in old.group(1),
      f"the restored guest answers on the NEW socket /tmp/clone.sock, not on the snapshot's /tmp/t.sock "
      f"({vs.group(1)[:80] if vs else 'no line'}; {old.group(1)[:80] if old else 'no line'})")
m = re.search(r"^TAPS apiv1=(\d+) apiv0=(\d+) t\.sock=(\d+)$", s2, re.M)
check(m and m.group(1) == "1" and m.group(2) == "0",
      f"the restored NIC is on the TAP the override names (apiv1 there, apiv0 not: {m.group(0) if m else 'no line'})")
check("SINK-OK" in get("serve2-err")[0],
      "the guest got the bytes sent on the new socket's port 5999 (SINK-OK on its console)")
check(not re.search(r"Sanitizer|Segmentation fault|forbidden system call", out), "no crash, no forbidden system call")
finish()
PY
