#!/usr/bin/env bash
# virtio-vsock, Firecracker's hybrid way (--vsock cid=N,uds=PATH;
# docs/vsock.md), under the seccomp sandbox, in ONE machine with KVM
# (tests/kvm/with-kvm.sh), host and guest sides both driven by the static
# tests/vsock/vsockpeer:
#   on the host, without KVM: --vsock's refusals (a CID under 3, a missing
#     part, two devices, a path too long, QEMU's vhost-vsock), --dry-run's
#     device list.
#   boot "hostile": the bare-metal hostile guest (attack=vsock) breaks every
#     rule of the protocol: 2000 packets for no connection with no receive
#     buffer (at most 256 resets wait), garbage of every kind (never
#     DEVICE_NEEDS_RESET; 7 resets for the 7 that name a connection), 1100
#     connection requests to a host server (1024 answered, 76 reset), 16 MiB
#     ignoring credit to a host that never reads (reset), then a proper
#     connection echoed; pvhboot's own memory stays bounded.
#   boot "linux": Debian 6.1's vsock driver (busybox initramfs). The guest
#     first connects out: 16 MiB echoed byte for byte by a host server at
#     PATH_6000, a reset from a port nobody listens on, then 1100
#     connections held at once to PATH_6002 (1024 at most, the limit); then
#     the host connects in with "CONNECT 5000\n": 16 MiB echoed byte for
#     byte (the first "OK 1073741824"), 200 concurrent connections each
#     echoed and checked, connection setup time, and a CONNECT to a port
#     nobody listens on closed without "OK".
set -u
cd "$(dirname "$0")/../.."
. tests/lib/kvm-suite.sh
k61=$(tests/lib/debian-kernel.sh) || fail_all "cannot fetch Debian's 6.1 cloud kernel"
cc -static -O2 -Wall -Wextra -Werror -o "$work/vsockpeer" tests/vsock/vsockpeer.c 2>"$work/cc.log" ||
    fail_all "cannot build tests/vsock/vsockpeer.c: $(head -3 "$work/cc.log")"
bin=build/static/pvhboot

# ---- on the host: the option's refusals and the dry run ----
refuse_case() { # NAME WANT ARGS...
    local name=$1 want=$2
    shift 2
    out=$("$bin" run guest/build/hello64 --dry-run "$@" 2>&1)
    rc=$?
    printf '%s\t%s\t%s\t%s\n' "$name" "$rc" "$want" "$(tr '\n' ' ' <<<"$out")" >>"$work/cli.tsv"
}
: >"$work/cli.tsv"
long=$(printf '%0120d' 0)
refuse_case cid-2 "cid=2: expected 3 to 4294967294" --vsock cid=2,uds=/tmp/x
refuse_case no-uds "expected cid=N,uds=PATH" --vsock cid=3
refuse_case no-cid "expected cid=N,uds=PATH" --vsock uds=/tmp/x
refuse_case two "one vsock device only" --vsock cid=3,uds=/tmp/x --vsock cid=4,uds=/tmp/y
refuse_case unknown-key "is not supported (pvhboot: --vsock cid=N,uds=PATH)" --vsock cid=3,uds=/tmp/x,port=5
refuse_case long-path "at most 96 bytes" --vsock "cid=3,uds=/tmp/$long"
refuse_case qemu-vhost "--vsock cid=N,uds=PATH" -device vhost-vsock-device,guest-cid=3
dry=$("$bin" run guest/build/hello64 --dry-run --vsock "cid=3,uds=$work/dry.sock" 2>&1)
dry_made_socket=$([ -e "$work/dry.sock" ] && echo 1 || echo 0)

# ---- the guest's side ----
cat >"$work/test-init" <<'TEST'
#!/bin/sh
/vsockpeer serve vsock:5000 >/dev/null 2>&1 &
echo "G2H-ECHO $(/vsockpeer echo vsock:2:6000 16777216 1)"
echo "G2H-NOBODY $(/vsockpeer echo vsock:2:6001 1 1)"
echo "G2H-HOLD $(/vsockpeer hold vsock:2:6002 1100)"
/vsockpeer send vsock:2:6003 1 >/dev/null
echo "GUEST-WAITING"
/vsockpeer sink vsock:5999 >/dev/null
TEST
tests/lib/virtio-initramfs.sh "$k61" "$work/vsock.cpio" --init "$work/test-init" \
    --file "$work/vsockpeer:/vsockpeer" >/dev/null || fail_all "cannot build the vsock initramfs"

cat >"$work/cases.sh" <<'CASES'
p=./vsockpeer
# The host's servers live in /tmp; each pvhboot's socket is its own.
$p serve unix:/tmp/h.sock_7000 >/dev/null 2>&1 &
s1=$!
$p stall unix:/tmp/h.sock_7001 >/dev/null 2>&1 &
s2=$!
busybox sleep 0.3
echo "=== BEGIN hostile"
./pvhboot run hostile --mem 256 --vsock cid=3,uds=/tmp/h.sock --cmdline attack=vsock --timeout 240 --verbose 2>&1
echo "=== END hostile rc=$?"
kill $s1 $s2

$p serve unix:/tmp/v.sock_6000 >/dev/null 2>&1 &
s1=$!
$p serve unix:/tmp/v.sock_6002 >/dev/null 2>&1 &
s2=$!
$p sink unix:/tmp/v.sock_6003 >/dev/null 2>&1 &
guest_done=$!
./pvhboot run vmlinux --initrd vsock.cpio --mem 256 --vsock cid=3,uds=/tmp/v.sock --timeout 600 --verbose \
    --cmdline "console=ttyS0 quiet" >linux.txt 2>&1 &
pv=$!
wait $guest_done   # the guest's own connections are over
echo "=== BEGIN h2g"
echo "H2G-ECHO $($p echo hybrid:/tmp/v.sock:5000 16777216 1)"
echo "H2G-MANY $($p echo hybrid:/tmp/v.sock:5000 32768 200)"
echo "H2G-SETUP $($p setup hybrid:/tmp/v.sock:5000 20)"
echo "H2G-NOBODY $($p setup hybrid:/tmp/v.sock:4999 1)"
echo "=== END h2g rc=0"
i=0
while [ $i -lt 100 ] && ! $p send hybrid:/tmp/v.sock:5999 1 >/dev/null 2>&1; do busybox sleep 0.2; i=$((i + 1)); done
wait $pv
rc=$?
echo "=== BEGIN linux"
busybox cat linux.txt
echo "=== END linux rc=$rc"
kill $s1 $s2
exit 0
CASES

start=$(date +%s)
tests/kvm/with-kvm.sh --mem 1024 --file "$bin" --file "$k61/vmlinux" --file guest/build/hostile \
    --file "$work/vsock.cpio" --file "$work/vsockpeer" --file "$work/cases.sh" -- sh cases.sh \
    >"$work/out.txt" 2>"$work/err.txt"
rc=$?
echo "# with-kvm.sh exit $rc after $(( $(date +%s) - start )) s; $(grep -m1 '^# kvm:' "$work/err.txt")"
[ "$rc" -eq 0 ] || sed 's/^/# /' "$work/err.txt" | tail -20

WORK=$work DRY="$dry" DRY_SOCKET=$dry_made_socket python3 - <<'PY'
import os, re, sys
sys.path.insert(0, "tests/lib")
from tap import check, finish, sections as split_sections, show_failed_boot
work = os.environ["WORK"]

for line in open(work + "/cli.tsv"):
    name, rc, want, out = line.rstrip("\n").split("\t", 3)
    check(rc == "2" and want in out, f"--vsock refused ({name}): exit {rc}, '{out.strip()[:110]}'")
dry = os.environ["DRY"]
check("device virtio-vsock vsock: mmio 0xd0001000, GSI 6" in dry and "device virtio-rng rng: mmio 0xd0000000" in dry
      and os.environ["DRY_SOCKET"] == "0",
      "--dry-run lists virtio-vsock after the rng it brings, and binds no socket")

out = open(work + "/out.txt", errors="replace").read()
sections = split_sections(out)
def section(name):
    text, rc = sections.get(name, ("", -1))
    bad = [w for w in ("Sanitizer", "Segmentation fault", "Bus error", "forbidden system call") if w in text]
    check(not bad, f"{name}: no crash, no forbidden system call under the sandbox ({', '.join(bad) or 'none'})")
    return text, rc
def vmm_kib(text):
    m = re.search(r"pvhboot: memory: RSS \d+ KiB = guest RAM touched \d+ KiB \+ VMM (\d+) KiB", text)
    return int(m.group(1)) if m else None

text, rc = section("hostile")
if not check(rc == 0 and "HOSTILE-SURVIVED vsock" in text, f"hostile: the VMM ran through every attack (exit {rc})"):
    show_failed_boot("hostile", text, rc)
attacks = dict(re.findall(r"^VSOCK-ATTACK (\S+) status=(0x[0-9a-f]+)", text, re.M))
broken = [a for a, s in attacks.items() if int(s, 16) & 0x40]
check(len(attacks) == 13 and not broken,
      f"hostile: 12 kinds of garbage (short header, writable header, wrong CIDs, seqpacket, ops 0 and 99, lengths), "
      f"never DEVICE_NEEDS_RESET ({len(attacks)} reports, broken: {broken or 'none'})")
m = re.search(r"VSOCK-ORPHANS rsts=(\d+)", text)
check(m and int(m.group(1)) == 256,
      f"hostile: 2000 packets for no connection with no receive buffer: 256 resets kept, the rest dropped ({m and m.group(1)})")
m = re.search(r"VSOCK-GARBAGE rsts=(\d+)", text)
check(m and int(m.group(1)) == 7, f"hostile: a reset for each of the 7 garbage packets that name a connection ({m and m.group(1)})")
m = re.search(r"VSOCK-FLOOD responses=(\d+) resets=(\d+)", text)
check(m and int(m.group(1)) == 1024 and int(m.group(2)) == 76,
      f"hostile: 1100 connection requests: 1024 answered (the limit), 76 reset ({m and m.group(0)})")
m = re.search(r"VSOCK-CREDIT rst=(\d+) sent=(\d+)", text)
check(m and int(m.group(1)) >= 1 and int(m.group(2)) == 16 << 20,
      f"hostile: 16 MiB ignoring the credit, to a host that never reads: the connection is reset ({m and m.group(0)})")
check("VSOCK-OK responses=1 echo=hello vsock" in text, "hostile: after all that a proper connection is echoed by the host")
vmm = vmm_kib(text)
m = re.search(r"virtio-vsock vsock: .*errors (\d+)", text)
check(vmm is not None and vmm <= 8192 and m and int(m.group(1)) > 2000,
      f"hostile: pvhboot's own memory stays bounded after 1024 connections and 16 MiB beyond credit "
      f"({vmm} KiB <= 8 MiB), the refused packets counted ({m and m.group(1)} errors)")

text, rc = section("linux")
if not check(rc == 0 and "VIRTIO-INITRAMFS-DONE status=0" in text and "insmod vmw_vsock_virtio_transport" in text,
             f"linux: Debian 6.1's vsock driver came up, the guest ran its test and powered off (exit {rc})"):
    show_failed_boot("linux", text, rc)
m = re.search(r"G2H-ECHO (\S+.*)", text)
check(m and m.group(1).startswith("ECHO-OK conns=1 bytes=16777216"),
      f"linux: guest -> host: 16 MiB to PATH_6000 echoed back byte for byte ({m and m.group(1)[:90]})")
check(re.search(r"G2H-NOBODY ECHO-FAIL connection 0 of 1 refused", text),
      "linux: guest -> host port 6001 with nothing at PATH_6001: the guest gets a reset")
m = re.search(r"G2H-HOLD HOLD opened=(\d+) refused=(\d+)", text)
check(m and 1000 <= int(m.group(1)) <= 1024 and int(m.group(1)) + int(m.group(2)) == 1100,
      f"linux: 1100 connections held at once: at least 1000 and at most the limit of 1024 open ({m and m.group(0)})")
vmm = vmm_kib(text)
check(vmm is not None and vmm <= 8192, f"linux: pvhboot's own memory after all that: {vmm} KiB (<= 8 MiB)")

text, rc = sections.get("h2g", ("", -1))
m = re.search(r"H2G-ECHO (\S+.*)", text)
check(m and m.group(1).startswith("ECHO-OK conns=1 bytes=16777216") and "local=1073741824" in m.group(1),
      f"linux: host -> guest with CONNECT 5000: 16 MiB echoed byte for byte, the first OK 1073741824 ({m and m.group(1)[:100]})")
m = re.search(r"H2G-MANY (\S+.*)", text)
check(m and m.group(1).startswith("ECHO-OK conns=200 bytes=32768"),
      f"linux: 200 concurrent host connections, each echoed and checked ({m and m.group(1)[:90]})")
m = re.search(r"H2G-SETUP SETUP-OK n=20 mean_us=(\d+) worst_us=(\d+)", text)
check(m, f"linux: connection setup (connect, CONNECT, OK, first byte echoed): mean {m and m.group(1)} us, "
         f"worst {m and m.group(2)} us (emulated machine)")
check("H2G-NOBODY SETUP-FAIL connection 0" in text,
      "linux: CONNECT to a port nobody listens on in the guest: closed without OK")
finish()
PY
