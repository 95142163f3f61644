#!/usr/bin/env bash
# A snapshot of a machine with virtio-net, restored on another TAP (issue 16),
# in ONE machine with KVM (tests/kvm/with-kvm.sh; the TAPs, their addresses and
# all traffic live inside it, as in tests/run/net.t: tun.ko from the machine's
# own kernel package, TAPs made by tests/lib/tapctl.c).
#  - the template: Debian 6.1 (busybox initramfs, Debian's virtio_net) with
#    --net tap=tap0 gives eth0 10.0.0.2/24, pings the host's 10.0.0.1 on tap0,
#    makes 1 MiB of random bytes, serves them (busybox httpd), says it is
#    ready and loops pinging 10.0.0.9, which nobody has yet; SIGUSR2: exit 0,
#    both files;
#  - the host moves: tap0 loses 10.0.0.1 and goes down, tap1 gets 10.0.0.1
#    and 10.0.0.9; `pvhboot restore --net tap=tap1,mac=02:00:00:00:00:42 -v`:
#    the restored guest's ping of 10.0.0.9 goes through (only tap1 has it);
#    the host fetches the guest's file over tap1 and its sha256 is the one
#    the template printed; tap1's counters (/proc/net/dev) show the traffic;
#    --verbose names the device by its new TAP;
#  - the MAC (README: the device reports the new one, Linux read the old one
#    at probe): the restored guest's eth0 keeps the template's MAC, and the
#    host's ARP table on tap1 has that one; then the guest unbinds and binds
#    virtio_net (a new probe reads the device's configuration space again):
#    its NIC has 02:00:00:00:00:42, pings 10.0.0.9 again, and the host's ARP
#    table has the new MAC;
#  - refusals (one line, exit 2, the guest never runs): --net given twice to
#    a snapshot with one NIC (and neither TAP is created), and --net on tap1
#    while the restored guest holds it.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/kvm-suite.sh
k61=$(tests/lib/debian-kernel.sh) || fail_all "cannot fetch Debian's 6.1 cloud kernel"
[ -s "$k61/modules/tun.ko" ] || fail_all "$k61/modules/tun.ko missing (tests/lib/debian-kernel.sh)"
cc -static -O2 -Wall -Wextra -Werror -o "$work/tapctl" tests/lib/tapctl.c 2>"$work/cc.log" ||
    fail_all "cannot build tests/lib/tapctl.c: $(head -3 "$work/cc.log")"

cat >"$work/test-init" <<'TEST'
#!/bin/sh
# The guest's side of tests/run/snapshot-net.t.
ip link set lo up
ip addr add 10.0.0.2/24 dev eth0 && ip link set eth0 up
echo "MAC0 $(cat /sys/class/net/eth0/address)"
n=0
until ping -c 1 -W 2 10.0.0.1 >/dev/null 2>&1 || [ $n -ge 30 ]; do n=$((n + 1)); done
ping -c 3 -W 5 10.0.0.1 >/tmp/ping0 2>&1
echo "PING0 rc=$? replies=$(grep -c 'bytes from' /tmp/ping0)"
mkdir -p /srv
dd if=/dev/urandom of=/srv/blob bs=1024 count=1024 2>/dev/null
echo "BLOB-SHA $(sha256sum </srv/blob | cut -c1-64)"
httpd -p 8081 -h /srv
echo "SNAPN-READY"
# 10.0.0.9 is only on the TAP the restored guest is given
n=0
until ping -c 1 -W 1 10.0.0.9 >/dev/null 2>&1 || [ $n -ge 900 ]; do n=$((n + 1)); done
echo "SNAPN-PINGED tries=$n mac=$(cat /sys/class/net/eth0/address)"
nc -l -p 9000 >/dev/null # until the host has fetched the file
dev=$(basename "$(readlink -f /sys/class/net/eth0/device)")
echo "$dev" >/sys/bus/virtio/drivers/virtio_net/unbind
echo "$dev" >/sys/bus/virtio/drivers/virtio_net/bind
nic=$(ls "/sys/bus/virtio/devices/$dev/net" 2>/dev/null)
echo "REPROBED dev=$dev nic=$nic mac=$(cat "/sys/class/net/$nic/address")"
ip addr add 10.0.0.2/24 dev "$nic" && ip link set "$nic" up
n=0
until ping -c 1 -W 2 10.0.0.9 >/dev/null 2>&1 || [ $n -ge 30 ]; do n=$((n + 1)); done
ping -c 3 -W 5 10.0.0.9 >/tmp/ping9 2>&1
echo "PING-NEW rc=$? replies=$(grep -c 'bytes from' /tmp/ping9)"
nc -l -p 9001 >/dev/null # until the host has read its ARP table (its entry goes with tap1's carrier)
echo "SNAPN-DONE"
TEST
tests/lib/virtio-initramfs.sh "$k61" "$work/snapn.cpio" --init "$work/test-init" >/dev/null ||
    fail_all "cannot build the initramfs"

cat >"$work/cases.sh" <<'CASES'
counters() { awk -v i="$1:" '$1 == i { print "rx_bytes=" $2, "rx_packets=" $3, "tx_bytes=" $10, "tx_packets=" $11 }' /proc/net/dev; }
section() { echo "=== BEGIN $1"; busybox cat "$2"; echo "=== END $1 rc=$3"; }
run() { name=$1; shift; echo "=== BEGIN $name"; busybox timeout -s KILL 120 "$@" 2>&1; echo "=== END $name rc=$?"; }
wait_line() { # FILE TEXT: up to 300 s
    i=0
    while ! busybox grep -q "$2" "$1" && [ $i -lt 1500 ]; do busybox usleep 200000; i=$((i + 1)); done
}
arp() { awk '$1 == "10.0.0.2" { print $4, $6 }' /proc/net/arp; }
insmod tun.ko || echo "TUN-INSMOD-FAIL"
./tapctl add tap0 0
./tapctl add tap1 0
ip addr add 10.0.0.1/24 dev tap0
ip link set tap0 up

# the template
busybox timeout -s KILL 420 ./pvhboot run vmlinux --initrd snapn.cpio --mem 128 --cmdline "console=ttyS0 quiet" \
    --net tap=tap0 --snapshot-file t.state --mem-file t.mem --timeout 600 >template.txt 2>&1 &
pv=$!
wait_line template.txt SNAPN-READY
kill -USR2 $pv
wait $pv
section template template.txt $?
[ -s t.state ] || exit 0 # no snapshot: nothing else can run (the checks say what failed)

# the host's address moves to tap1, which also has 10.0.0.9
ip addr del 10.0.0.1/24 dev tap0
ip link set tap0 down
ip addr add 10.0.0.1/24 dev tap1
ip addr add 10.0.0.9/24 dev tap1
ip link set tap1 up

run too-many ./pvhboot restore t.state --mem-file t.mem --net tap=tap7 --net tap=tap8
echo "=== BEGIN after-too-many"
echo "TAPS $(ls /sys/class/net | tr '\n' ' ')"
echo "=== END after-too-many rc=0"

echo "=== BEGIN counters-before"
echo "TAP0 $(counters tap0)"
echo "TAP1 $(counters tap1)"
echo "=== END counters-before rc=0"
busybox timeout -s KILL 360 ./pvhboot restore t.state --mem-file t.mem --net tap=tap1,mac=02:00:00:00:00:42 \
    --timeout 300 -v >restore.txt 2>&1 &
pv=$!
wait_line restore.txt SNAPN-PINGED
run in-use ./pvhboot restore t.state --mem-file t.mem --net tap=tap1
echo "=== BEGIN fetch"
busybox timeout -s KILL 120 wget -q -O got http://10.0.0.2:8081/blob
echo "FETCH rc=$? $(sha256sum <got | cut -c1-64) bytes=$(wc -c <got)"
echo "ARP-OLD $(arp)"
echo "=== END fetch rc=0"
echo go | busybox timeout -s KILL 60 nc 10.0.0.2 9000
wait_line restore.txt PING-NEW
echo "=== BEGIN counters-after"
echo "TAP0 $(counters tap0)"
echo "TAP1 $(counters tap1)"
echo "ARP-NEW $(arp)"
echo "=== END counters-after rc=0"
echo go | busybox timeout -s KILL 60 nc 10.0.0.2 9001
wait $pv
rc=$?
section restore restore.txt $rc
exit 0
CASES

start=$(date +%s)
PVHBOOT_KVM_TIMEOUT=600 tests/kvm/with-kvm.sh --mem 1024 --file build/static/pvhboot --file "$k61/vmlinux" \
    --file "$k61/modules/tun.ko" --file "$work/tapctl" --file "$work/snapn.cpio" --file "$work/cases.sh" -- sh cases.sh \
    >"$work/out.txt" 2>"$work/err.txt"
rc=$?
echo "# with-kvm.sh exit $rc after $(( $(date +%s) - start )) s; $(grep -m1 '^# kvm:' "$work/err.txt")"
[ "$rc" -eq 0 ] || sed 's/^/# /' "$work/err.txt" | tail -20
[ -z "${SNAPN_KEEP:-}" ] || cp "$work/out.txt" "$work/err.txt" "$SNAPN_KEEP/"

WORK=$work python3 - <<'PY'
import os, re, sys
sys.path.insert(0, "tests/lib")
from tap import check, finish, show_failed_boot, sections as split_sections
out = open(os.environ["WORK"] + "/out.txt", errors="replace").read().replace("\r", "")
s = split_sections(out)
check("TUN-INSMOD-FAIL" not in out, "the machine's tun.ko loads")

def get(name):
    return s.get(name, ("", -1))

def line(text, tag):
    m = re.search(rf"^{tag} (.*)$", text, re.M)
    return m.group(1) if m else ""

def counters(text, tag):
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", line(text, tag))}

def crashed(text):
    return [w for w in ("Sanitizer", "Segmentation fault", "Bus error", "forbidden system call", "DEVICE_NEEDS_RESET")
            if w in text]

def mac_for(tap):  # pvh_net_default_mac: the MAC a NIC gets from its TAP's name
    h = 0xcbf29ce484222325
    for b in b"pvhboot virtio-net " + tap.encode():
        h = ((h ^ b) * 0x100000001b3) & (2**64 - 1)
    return ":".join(["02"] + [f"{(h >> (8 * i)) & 0xff:02x}" for i in range(5)])

old_mac, new_mac = mac_for("tap0"), "02:00:00:00:00:42"

# ---- the template
text, rc = get("template")
ok = check(rc == 0 and "SNAPN-READY" in text and "snapshot written to t.state and t.mem" in text
           and "SNAPN-PINGED" not in text and not crashed(text),
           f"the template (Debian 6.1, --net tap=tap0) is snapshotted by SIGUSR2 once it is ready: exit {rc}, both files")
ok or show_failed_boot("template", text, rc)
check(line(text, "PING0").startswith("rc=0 replies=3") and line(text, "MAC0") == old_mac,
      f"the template's eth0 ({line(text, 'MAC0')}) pings the host on tap0 ({line(text, 'PING0')})")
blob = line(text, "BLOB-SHA")

# ---- refusals
def refused(name, pattern):
    text, rc = get(name)
    lines = [l for l in text.splitlines() if l.strip()]
    ok = check(rc == 2 and len(lines) == 1 and re.search(pattern, lines[0]) and "SNAPN" not in text,
               f"{name}: refused with exit 2 and one line: {lines[0][:150] if lines else '(nothing)'}")
    ok or show_failed_boot(name, text, rc)
refused("too-many", r"^pvhboot: t\.state: --net given 2 times; the snapshot has 1 NIC$")
taps = line(get("after-too-many")[0], "TAPS").split()
check("tap0" in taps and "tap1" in taps and "tap7" not in taps and "tap8" not in taps,
      f"too-many: neither TAP was created ({' '.join(taps)})")
refused("in-use", r"^pvhboot: .*tap tap1: in use by another process \(another VM\?\)")

# ---- the restore on tap1
text, rc = get("restore")
ok = check(rc == 0 and "SNAPN-DONE" in text and "VIRTIO-INITRAMFS-DONE status=0" in text and not crashed(text),
           f"the restored guest ran to its end and powered off (exit {rc})")
ok or show_failed_boot("restore", text, rc, 20)
m = re.search(r"^SNAPN-PINGED tries=(\d+) mac=(\S+)$", text, re.M)
check(m, f"the restored guest reaches 10.0.0.9, which only tap1 has: its NIC works on the new TAP "
      f"({m.group(0) if m else 'no SNAPN-PINGED line'})")
check(re.search(r"^pvhboot: virtio-net tap1: mmio 0xd0000000, GSI 5; requests \d+", text, re.M),
      "restore --verbose names the NIC by its new TAP, in the snapshot's slot (mmio 0xd0000000, GSI 5)")
fetch = get("fetch")[0]
m = re.search(r"^FETCH rc=(\d+) ([0-9a-f]{64}) bytes=(\d+)", fetch, re.M)
check(m and m.group(1) == "0" and len(blob) == 64 and m.group(2) == blob and m.group(3) == str(1 << 20),
      f"the host fetches the guest's 1 MiB (made before the snapshot) over tap1: sha256 matches "
      f"({m.group(2)[:12] if m else '?'} vs {blob[:12]})")
before, after = get("counters-before")[0], get("counters-after")[0]
d1 = {k: counters(after, "TAP1").get(k, 0) - v for k, v in counters(before, "TAP1").items()}
check(d1.get("rx_bytes", 0) >= 1 << 20 and d1.get("rx_packets", 0) > 100 and d1.get("tx_packets", 0) > 10,
      f"tap1's counters (/proc/net/dev) show the restored guest's traffic ({d1})")
d0 = {k: counters(after, "TAP0").get(k, 0) - v for k, v in counters(before, "TAP0").items()}
check(d0 and d0.get("rx_packets") == 0 and d0.get("tx_packets") == 0, f"and tap0's none ({d0})")

# ---- the MAC: the device reports the new one; Linux read the old one at probe
m = re.search(r"^SNAPN-PINGED tries=\d+ mac=(\S+)$", text, re.M)
arp_old = line(fetch, "ARP-OLD")
check(m and m.group(1) == old_mac and arp_old == f"{old_mac} tap1",
      f"the restored guest's eth0 keeps the template's MAC, as the README says ({m.group(1) if m else '?'}; the host's "
      f"ARP entry for 10.0.0.2: {arp_old}; template {old_mac})")
m = re.search(r"^REPROBED dev=(virtio\d+) nic=(\S+) mac=(\S+)$", text, re.M)
check(m and m.group(3) == new_mac,
      f"virtio_net unbound and bound again reads the device's new MAC ({m.group(0) if m else 'no REPROBED line'})")
arp_new = line(after, "ARP-NEW")
check(line(text, "PING-NEW").startswith("rc=0 replies=3") and arp_new == f"{new_mac} tap1",
      f"the re-probed NIC pings 10.0.0.9 ({line(text, 'PING-NEW')}), the host's ARP entry has the new MAC ({arp_new})")
bad = crashed(out)  # the whole output: a shell's "Segmentation fault" for a pvhboot comes outside its section
check(not bad and "Killed" not in out, f"no sanitizer report, crash, forbidden system call or killed pvhboot anywhere "
      f"({', '.join(bad) or 'none'})")
finish()
PY
