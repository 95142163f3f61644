#!/usr/bin/env bash
# The control API with KVM (tests/kvm/with-kvm.sh): `pvhboot serve` in the
# machine with KVM, driven over its socket by Debian's curl (`curl
# --unix-socket`, carried into the machine with its shared libraries by
# tests/lib/curl-bundle.sh) through Firecracker's getting-started sequence:
# machine-config (2 vCPUs, 256 MiB), boot-source (Debian's 6.1 kernel, a
# busybox initramfs, boot_args), a read-only root drive holding a file, a
# network interface on a TAP with a guest_mac, a vsock, InstanceStart. The
# guest's /init runs and sees what was configured (2 CPUs, the memory, the
# drive's file, eth0's MAC, the vsock device); GET / says Running; PATCH /vm Paused
# stops its ticking on the serial console (not one line in 3 s) and
# Resumed starts it again; after boot, PUT /machine-config and a second
# InstanceStart get 400 with a fault_message; GET /vm/config shows the
# drive; SendCtrlAltDel reaches Linux through the i8042, which Linux found
# through the DSDT's PNP0303 device with the default command line (no
# boot_args: no i8042.nopnp), and it restarts, which ends the VM; serve exits 0 and its socket file is gone (removed
# although the server ran under the VM's seccomp allow-list). The guest's
# uptime does not jump over the 3 s pause (kvmclock stopped and set back). A
# second drive's file is swapped after boot (PATCH /drives/data, 8 MiB to 16
# MiB: the guest's vdb grows), and FlushMetrics writes a line with the
# devices' counters. Concurrency while the guest runs: 100 clients at once
# (tests/api/apiclient.c, static), half asking GET /machine-config and half
# GET /, each get the right answer while one client holds a connection and
# sends nothing and another sends a request a byte a second (the server
# drops it after its 10 s request limit); the guest keeps ticking throughout.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/kvm-suite.sh
k61=$(tests/lib/debian-kernel.sh) || fail_all "cannot fetch Debian's 6.1 cloud kernel"
[ -s "$k61/modules/tun.ko" ] || fail_all "$k61/modules/tun.ko missing (tests/lib/debian-kernel.sh)"
command -v mkfs.ext4 >/dev/null || fail_all "e2fsprogs missing (tests/lib/install-deps.sh)"
gcc -static -O2 -o "$work/apiclient" tests/api/apiclient.c 2>"$work/cc.txt" || fail_all "cannot build apiclient: $(head -3 "$work/cc.txt")"
curl_tgz=$(tests/lib/curl-bundle.sh) || fail_all "cannot build the curl bundle (tests/lib/curl-bundle.sh)"
cp "$curl_tgz" "$work/curl.tgz"
mkdir -p "$work/rootdir"
echo "hello from the API's root drive" >"$work/rootdir/hello.txt"
truncate -s 16M "$work/root.img"
mkfs.ext4 -q -F -d "$work/rootdir" "$work/root.img" || fail_all "mkfs.ext4 -d failed"
cat >"$work/api-init" <<'TEST'
#!/bin/sh
echo "API-INIT-REACHED"
echo "API-CPUS $(grep -c ^processor /proc/cpuinfo)"
echo "API-MEM $(sed -n 's/MemTotal: *\([0-9]*\).*/\1/p' /proc/meminfo)"
echo "API-MAC $(cat /sys/class/net/eth0/address 2>/dev/null)"
echo "API-VSOCK $(cat /sys/bus/virtio/devices/*/device | grep -c 0x0013) $(ls /sys/bus/virtio/drivers/vmw_vsock_virtio_transport 2>/dev/null | grep -c virtio)"
mkdir -p /mnt && mount -t ext4 -o ro /dev/vda /mnt && echo "API-READ $(cat /mnt/hello.txt)"
i=0
while [ $i -lt 90 ]; do
    echo "API-TICK $i $(cut -d' ' -f1 /proc/uptime)"; echo "API-VDB $(cat /sys/block/vdb/size 2>/dev/null)"
    sleep 1; i=$((i + 1))
done
TEST
tests/lib/virtio-initramfs.sh "$k61" "$work/api.cpio" --init "$work/api-init" >/dev/null ||
    fail_all "cannot build the initramfs"

cat >"$work/cases.sh" <<'CASES'
insmod tun.ko || echo "TUN-INSMOD-FAIL"
tar xzf curl.tgz || echo "CURL-UNTAR-FAIL"
CURL="./curl/ld.so --library-path ./curl ./curl/curl"
echo "CURL-VERSION $($CURL --version | head -1)"
busybox dd if=/dev/zero of=data.img bs=1M count=0 seek=8 2>/dev/null
busybox dd if=/dev/zero of=data2.img bs=1M count=0 seek=16 2>/dev/null
./pvhboot serve --api-sock api.sock --id kvm1 --serial file:serial.log --timeout 400 >serve.out 2>&1 &
srv=$!
./apiclient api.sock --wait || echo "NO-SOCKET"
# C METHOD PATH [BODY]: one call with curl --unix-socket: "CALL METHOD PATH -> STATUS BODY"
C() {
    rm -f body.txt
    if [ $# -ge 3 ]; then
        st=$($CURL -s --max-time 60 --unix-socket api.sock -o body.txt -w '%{http_code}' -X "$1" "http://localhost$2" \
             -H 'Content-Type: application/json' -d "$3")
    else
        st=$($CURL -s --max-time 60 --unix-socket api.sock -o body.txt -w '%{http_code}' -X "$1" "http://localhost$2")
    fi
    echo "CALL $1 $2 -> $st $(cat body.txt 2>/dev/null)"
}
ticks() { grep -c API-TICK serial.log; }
C PUT /machine-config '{"vcpu_count":2,"mem_size_mib":256}'
C PUT /boot-source '{"kernel_image_path":"vmlinux","initrd_path":"api.cpio"}'
C PUT /drives/rootfs "{\"drive_id\":\"rootfs\",\"path_on_host\":\"$DISK0\",\"is_root_device\":true,\"is_read_only\":true}"
C PUT /network-interfaces/eth0 '{"iface_id":"eth0","host_dev_name":"pvhapi0","guest_mac":"06:00:ac:10:00:02"}'
C PUT /drives/data '{"drive_id":"data","path_on_host":"data.img","is_root_device":false}'
C PUT /vsock '{"guest_cid":3,"uds_path":"v.sock"}'
C PUT /metrics '{"metrics_path":"metrics.json"}'
C PUT /actions '{"action_type":"InstanceStart"}'
i=0
while ! grep -q 'API-TICK 2' serial.log 2>/dev/null && [ $i -lt 600 ]; do busybox sleep 0.5; i=$((i + 1)); done
C GET /
C PATCH /vm '{"state":"Paused"}'
a=$(ticks); busybox sleep 3; b=$(ticks)
echo "PAUSED-TICKS $a $b"
C GET /
C PATCH /vm '{"state":"Resumed"}'
busybox sleep 4; c=$(ticks)
echo "RESUMED-TICKS $b $c"
C PUT /machine-config '{"vcpu_count":1,"mem_size_mib":128}'
C PUT /actions '{"action_type":"InstanceStart"}'
C PATCH /drives/data '{"drive_id":"data","path_on_host":"data2.img"}'
busybox sleep 2
s1=$(busybox wc -c <serial.log)
C PUT /actions '{"action_type":"FlushMetrics"}'
s2=$(busybox wc -c <serial.log)
echo "METRICS $(cat metrics.json)"
echo "SERIAL-BYTES $s1 $s2"
C GET /vm/config
# concurrency: an idle client and a dripping one connected, then 100 clients at once
./apiclient api.sock --idle 25 >idle.out 2>&1 &
idle=$!
./apiclient api.sock --drip / >drip.out 2>&1 &
drip=$!
busybox sleep 1
t0=$(ticks); w0=$(busybox date +%s)
pids=""
j=1
while [ $j -le 100 ]; do
    if [ $((j % 2)) = 0 ]; then ./apiclient api.sock GET /machine-config >conc.$j 2>&1 &
    else ./apiclient api.sock GET / >conc.$j 2>&1 &
    fi
    pids="$pids $!"; j=$((j + 1))
done
for p in $pids; do wait $p; done
w1=$(busybox date +%s); t1=$(ticks)
good=0; j=1
while [ $j -le 100 ]; do
    if [ $((j % 2)) = 0 ]; then
        grep -q '^200 {"vcpu_count":2,"mem_size_mib":256,' conc.$j && good=$((good + 1))
    else
        grep -q '^200 {"app_name":"pvhboot","id":"kvm1","state":"Running",' conc.$j && good=$((good + 1))
    fi
    j=$((j + 1))
done
echo "CONC-GOOD $good"; echo "CONC-SAMPLE $(cat conc.1) | $(cat conc.2)"
echo "CONC-SECONDS $((w1 - w0)) TICKS $t0 $t1"
C GET /version
wait $drip
w2=$(busybox date +%s); t2=$(ticks)
echo "DRIP $(cat drip.out)"
echo "DRIP-SECONDS $((w2 - w0)) TICKS $t1 $t2"
kill $idle 2>/dev/null; wait $idle
echo "CAD $(C PUT /actions '{"action_type":"SendCtrlAltDel"}')"
wait $srv
echo "SERVE-EXIT $?"
if [ -e api.sock ]; then echo "SOCKET-LEFT"; else echo "SOCKET-GONE"; fi
echo "=== serial"; cat serial.log
echo "=== serve"; cat serve.out
CASES

start=$(date +%s)
tests/kvm/with-kvm.sh --mem 1024 --cpus 2 --file build/static/pvhboot --file "$k61/vmlinux" --file "$work/api.cpio" \
    --file "$work/apiclient" --file "$work/curl.tgz" --file "$work/cases.sh" --file "$k61/modules/tun.ko" --disk "$work/root.img" -- sh cases.sh >"$work/out.txt" 2>"$work/err.txt"
rc=$?
echo "# with-kvm.sh exit $rc after $(( $(date +%s) - start )) s; $(grep -m1 '^# kvm:' "$work/err.txt")"
[ "$rc" -eq 0 ] || sed 's/^/# /' "$work/err.txt" | tail -20
tr -d '\r' <"$work/out.txt" >"$work/out.lf" # the serial log's lines end in CR LF
out=$work/out.lf
n=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
notok() { n=$((n + 1)); echo "not ok $n - $*"; }
check() { if eval "$1"; then ok "$2"; else notok "$2"; fi; }
call() { grep -m1 -F "CALL $1 $2 -> " "$out" | sed 's/^CALL [A-Z]* [^ ]* -> //'; }
echo "# $(grep -m1 '^CURL-VERSION' "$out")"
check 'grep -q "^CURL-VERSION curl [0-9]" "$out" && ! grep -q CURL-UNTAR-FAIL "$out"' "Debian's curl runs in the machine with KVM"
check '[ "$(grep -c "^CALL .* -> 204 $" "$out")" -ge 8 ] && ! grep -q NO-SOCKET "$out"' "machine-config, boot-source, the root drive, a data drive, a network interface, vsock, metrics and InstanceStart: 204 each"
check 'grep -q "^API-INIT-REACHED" "$out"' "the guest reached /init"
check 'grep -q "^API-CPUS 2$" "$out"' "it has the 2 vCPUs machine-config asked for"
mem=$(sed -n 's/^API-MEM \([0-9]*\)/\1/p' "$out")
check '[ -n "$mem" ] && [ "$mem" -gt 200000 ] && [ "$mem" -le 262144 ]' "and about the 256 MiB ($mem KiB MemTotal)"
check 'grep -q "^API-READ hello from the API.s root drive" "$out"' "it read the file on the root drive"
check 'grep -q "^API-MAC 06:00:ac:10:00:02$" "$out"' "its eth0 has the guest_mac given (on the TAP pvhboot made)"
check 'grep -q "^API-VSOCK 1 1$" "$out"' "it has a virtio-vsock device, bound by Linux's vsock transport ($(grep -m1 "^API-VSOCK" "$out"))"
check 'grep -q "CALL GET / -> 200 .*\"id\":\"kvm1\",\"state\":\"Running\"" "$out"' "GET /: Running"
read -r _ pa pb < <(grep -m1 '^PAUSED-TICKS' "$out")
check '[ -n "$pa" ] && [ "$pa" = "$pb" ] && [ "$(call PATCH /vm)" = "204 " ]' "Paused: no tick in 3 s ($pa then $pb)"
check 'grep -q "\"state\":\"Paused\"" "$out"' "GET / while paused: Paused"
# the guest's uptime between the tick before the pause and the one after: a
# gap like the others (kvmclock set back on resume), not 3 s more
clock=$(PAUSED_AT="$pa" python3 - "$out" <<'PY'
import os, re, sys
up = [float(u) for u in re.findall(r"^API-TICK \d+ ([0-9.]+)$", open(sys.argv[1]).read(), re.M)]
a = int(os.environ["PAUSED_AT"] or 0)
gaps = [b - x for x, b in zip(up, up[1:])]
if a < 1 or a >= len(up):
    print("bad no ticks around the pause"); sys.exit()
across, others = gaps[a - 1], gaps[:a - 1] + gaps[a:]
print(("good" if others and across < max(others) + 1.5 else "bad") +
      f" across the pause {across:.2f} s, the other gaps at most {max(others or [0]):.2f} s")
PY
)
check '[ "${clock%% *}" = good ]' "the guest's clock does not jump over the pause (${clock#* })"
read -r _ rb rc2 < <(grep -m1 '^RESUMED-TICKS' "$out")
check '[ -n "$rc2" ] && [ "$rc2" -gt "$rb" ]' "Resumed: it ticks again ($rb then $rc2)"
check 'grep -q "CALL PUT /machine-config -> 400 {\"fault_message\":\"PUT /machine-config: only before InstanceStart" "$out"' "PUT /machine-config after boot: 400"
check 'grep -q "CALL PUT /actions -> 400 {\"fault_message\":\"InstanceStart: the microVM is already running\"}" "$out"' "a second InstanceStart: 400"
check 'grep -q "CALL GET /vm/config -> 200 .*\"drive_id\":\"rootfs\"" "$out"' "GET /vm/config shows the root drive"
# PATCH /drives/data after boot: data.img (8 MiB) swapped for data2.img (16 MiB); the guest's
# vdb reads the new capacity (in 512-byte sectors) after the configuration interrupt
vdb=$(grep '^API-VDB' "$out" | awk 'NF > 1 {print $2}' | sort -un | tr '\n' ' ')
check '[ "$(call PATCH /drives/data)" = "204 " ] && [ "$vdb" = "16384 32768 " ]' "PATCH /drives/data swaps its file: the guest's vdb goes from 16384 to 32768 sectors (saw: $vdb)"
check 'grep -q "CALL GET /vm/config -> 200 .*\"path_on_host\":\"data2.img\"" "$out"' "GET /vm/config shows the new path"
# FlushMetrics while it runs: one JSON line with the devices' and the VM exits' counters
metrics=$(python3 - "$out" <<'PY'
import json, re, sys
text = open(sys.argv[1]).read()
m = re.search(r"^METRICS (.*)$", text, re.M)
s1, s2 = (int(x) for x in re.search(r"^SERIAL-BYTES (\d+) (\d+)$", text, re.M).groups())
try:
    o = json.loads(m.group(1))
except Exception as e:
    print("bad no JSON line (%s)" % e); sys.exit()
devs = {d["type"] + ":" + d["name"]: d for d in o.get("devices", [])}
blk = [d for d in o.get("devices", []) if d["type"] == "virtio-blk"]
good = (o["vmm"]["state"] == "Running" and o["api_server"]["requests"] >= 10 and o["vcpu_exits"]["io"] > 0
        and o["vcpu_exits"]["hlt"] + o["vcpu_exits"]["intr"] + o["vcpu_exits"]["mmio"] > 0
        and 0 < s1 <= o["legacy"]["serial"]["tx_bytes"] <= s2 and len(blk) == 2 and blk[0]["requests"] > 0
        and blk[0]["bytes"] > 0 and blk[0]["interrupts"] > 0 and blk[1]["name"] == "data2.img"
        and any(d["type"] == "virtio-net" for d in o["devices"]) and any(d["type"] == "virtio-vsock" for d in o["devices"]))
print(("good" if good else "bad") + " root drive %d requests %d bytes, exits io %d, serial %d bytes (the log: %d"
      " before, %d after), %d devices" % (blk[0]["requests"] if blk else -1, blk[0]["bytes"] if blk else -1,
      o["vcpu_exits"]["io"], o["legacy"]["serial"]["tx_bytes"], s1, s2, len(o.get("devices", []))))
PY
)
echo "# $(grep -m1 '^METRICS' "$out")"
check '[ "${metrics%% *}" = good ]' "FlushMetrics: a JSON line with the devices' counters and the VM exits (${metrics#* })"
# 100 clients at once while the guest runs, an idle and a dripping client connected
read -r _ cgood < <(grep -m1 '^CONC-GOOD' "$out")
read -r _ csec _ _ _ < <(grep -m1 '^CONC-SECONDS' "$out")
echo "# $(grep -m1 '^CONC-SAMPLE' "$out")"
check '[ "$cgood" = 100 ]' "100 clients at once (GET / and GET /machine-config) while the guest runs: $cgood of 100 got the right answer"
check '[ -n "$csec" ] && [ "$csec" -le 30 ]' \
    "... all answered within ${csec:-?} s (at most 30), with a client that sends nothing and one dripping a byte a second connected"
check 'grep -q "^CALL GET /version -> 200 {\"firecracker_version\":" "$out"' "curl's GET /version right after: 200"
read -r _ dsec _ dt0 dt1 < <(grep -m1 '^DRIP-SECONDS' "$out")
drip=$(grep -m1 '^DRIP ' "$out")
check '[[ $drip =~ ^DRIP\ sent\ ([0-9]+)\ of\ ([0-9]+)\ bytes,\ then:\ 0\ $ ]] && [ "${BASH_REMATCH[1]}" -lt "${BASH_REMATCH[2]}" ] && [ "$dt1" -gt "$dt0" ]' \
    "the dripping client is dropped at the request time limit, unanswered (${drip#DRIP }), the guest ticking meanwhile (${dt0:-?} then ${dt1:-?})"
check 'grep -q "i8042: PNP: PS/2 Controller \[PNP0303:KBD\] at 0x60,0x64 irq 1$" "$out" && grep -q "i8042: PNP: PS/2 appears to have AUX port disabled" "$out" && ! grep "i8042.nopnp" "$out" | grep -vq "AUX port disabled"' \
    "Linux found the i8042's keyboard through ACPI PNP (the DSDT's PNP0303) and left the absent aux port alone, the command line without i8042.nopnp: $(grep -m1 -o "PNP: PS/2 Controller.*" "$out")"
check 'grep -q "^CAD CALL PUT /actions -> 204 $" "$out"' "SendCtrlAltDel: 204"
check 'grep -q "reboot: Restarting system" "$out" && ! grep -q "VIRTIO-INITRAMFS-DONE" "$out" && ! grep -q "API-TICK 89" "$out"' \
    "Linux took Ctrl-Alt-Del from the i8042 and restarted, before its init's 90 ticks were done"
check 'grep -q "^SERVE-EXIT 0$" "$out"' "the VM ended with the restart; serve exited 0"
check 'grep -q "^SOCKET-GONE$" "$out"' "the API socket's file is gone after serve ran the VM under its sandbox and ended"
check '! grep -qE "Sanitizer|Segmentation fault|forbidden system call" "$out"' "no crash, no forbidden system call"
echo "1..$n"
