#!/usr/bin/env bash
# virtio-net on host TAP devices, in ONE machine with KVM (tests/kvm/with-kvm.sh;
# in the emulated machine the test is root and the TAPs, their addresses and
# all traffic live inside it: it has no network). tun.ko comes from the
# machine's own kernel package (tests/lib/debian-kernel.sh).
#   "errors": what a user gets without the rights: /dev/net/tun closed to
#     them, a TAP of another user's, one that does not exist, an MTU only
#     root may set (each one line naming the fix); a TAP given to the user
#     opens; an interface that is not a TAP; --net and QEMU's -netdev/-device
#     and -nic spellings give the same machine.
#   "hostile": guest/build/hostile attack=net on tap0 (slot 0) with the rng
#     in slot 1: every transmit rule broken, a 64 MiB chain, 20,000
#     malformed frames during which the rng is still served, then 5 good
#     frames (ARP requests): the host's counters for tap0 (/proc/net/dev)
#     see exactly the 5, no error, no drop; the VMM counted each malformed
#     frame, stayed small (RSS), and the device never needed a reset.
#   "boot": Debian 6.1 (busybox initramfs, Debian's virtio_net) with two
#     NICs: eth0 on tap0 (--net, its MAC derived from the TAP's name), eth1
#     on pvhnew0, which pvhboot creates, brings up and sets to MTU 9000
#     (QEMU's -netdev tap + -device virtio-net-device,mac=,host_mtu=); the
#     guest pings both host addresses (8000-byte pings on the 9000 link),
#     fetches 64 MiB from the host's httpd over eth0 and 4 MiB over eth1,
#     serves 64 MiB of its own that the host fetches: every sha256 matches;
#     offloads (checksum, TSO) negotiated; a second pvhboot on tap0 is told
#     it is in use; pvhnew0 is gone once pvhboot exits.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/kvm-suite.sh
k61=$(tests/lib/debian-kernel.sh) || fail_all "cannot fetch Debian's 6.1 cloud kernel"
[ -s "$k61/modules/tun.ko" ] || fail_all "$k61/modules/tun.ko missing (tests/lib/debian-kernel.sh)"
cc -static -O2 -Wall -Wextra -Werror -o "$work/tapctl" tests/lib/tapctl.c 2>/dev/null || fail_all "cannot build tests/lib/tapctl.c"

cat >"$work/net-test" <<'TEST'
#!/bin/sh
# The guest's side of tests/run/net.t.
for d in /sys/bus/virtio/devices/*; do
    echo "DEV $(basename $d) $(cat $d/device) $(readlink $d/driver | sed 's|.*/||') $(cat $d/features)"
done
for i in eth0 eth1; do echo "NIC $i $(cat /sys/class/net/$i/address) mtu=$(cat /sys/class/net/$i/mtu)"; done
ip link set lo up
ip addr add 10.0.0.2/24 dev eth0 && ip link set eth0 up
ip addr add 10.0.1.2/24 dev eth1 && ip link set eth1 up
echo "CARRIER $(cat /sys/class/net/eth0/carrier) $(cat /sys/class/net/eth1/carrier)"
n=0
until ping -c 1 -W 2 10.0.0.1 >/dev/null 2>&1 || [ $n -ge 30 ]; do n=$((n + 1)); done
ping -c 3 -W 5 10.0.0.1 >/tmp/ping0 2>&1
echo "PING0 rc=$? replies=$(grep -c 'bytes from' /tmp/ping0)"
n=0 # eth1's TAP is pvhboot's: the host gives it its address meanwhile
until ping -c 1 -W 2 10.0.1.1 >/dev/null 2>&1 || [ $n -ge 60 ]; do n=$((n + 1)); done
ping -c 3 -W 5 -s 8000 10.0.1.1 >/tmp/ping1 2>&1
echo "PING1 rc=$? replies=$(grep -c 'bytes from' /tmp/ping1) waited=$n"
t0=$(date +%s)
wget -q -O /tmp/down http://10.0.0.1:8080/blob
echo "DOWN rc=$? $(sha256sum </tmp/down | cut -c1-64) $(($(date +%s) - t0))s"
rm -f /tmp/down
wget -q -O /tmp/down1 http://10.0.1.1:8080/small
echo "DOWN1 rc=$? $(sha256sum </tmp/down1 | cut -c1-64)"
rm -f /tmp/down1
mkdir -p /srv
dd if=/dev/urandom of=/srv/up bs=1M count=64 2>/dev/null
echo "UP-SHA $(sha256sum </srv/up | cut -c1-64)"
httpd -p 8081 -h /srv
echo GUEST-SERVING
nc -l -p 9000 >/dev/null # until the host says it has the file
echo GUEST-DONE
TEST
tests/lib/virtio-initramfs.sh "$k61" "$work/net.cpio" --init "$work/net-test" >/dev/null ||
    fail_all "cannot build the guest's initramfs"

cat >"$work/cases.sh" <<'CASES'
counters() { awk -v i="$1:" '$1 == i { print "rx_bytes=" $2, "rx_packets=" $3, "rx_errs=" $4, "rx_drop=" $5, "tx_packets=" $11 }' /proc/net/dev; }
insmod tun.ko || echo "TUN-INSMOD-FAIL"
mkdir -p /etc srv
echo "root:x:0:0::/:/bin/sh" >/etc/passwd
echo "net:x:1000:1000::/tmp:/bin/sh" >>/etc/passwd
printf 'root:x:0:\nnet:x:1000:\n' >/etc/group
as_user() { su -s /bin/sh -c "$*" net; }
./tapctl add tap0 0
ip addr add 10.0.0.1/24 dev tap0
ip link set tap0 up

echo "=== BEGIN errors"
echo "TUN-MODE $(stat -c %a /dev/net/tun)"
chmod 600 /dev/net/tun
as_user ./pvhboot run hostile --dry-run --net tap=tap0 2>&1 | sed 's/^/E-NODEV /'
chmod 666 /dev/net/tun
as_user ./pvhboot run hostile --dry-run --net tap=tap0 2>&1 | sed 's/^/E-OTHERS /'
as_user ./pvhboot run hostile --dry-run --net tap=nosuch0 2>&1 | sed 's/^/E-MISSING /'
./tapctl add tapu 1000
as_user ./pvhboot run hostile --dry-run --net tap=tapu 2>&1 | sed 's/^/E-OWN /'
echo "E-OWN-RC $(as_user ./pvhboot run hostile --dry-run --net tap=tapu >/dev/null 2>&1; echo $?)"
as_user ./pvhboot run hostile --dry-run --net tap=tapu,mtu=9000 2>&1 | sed 's/^/E-MTU /'
./pvhboot run hostile --dry-run --net tap=lo 2>&1 | sed 's/^/E-NOTTAP /'
./pvhboot run hostile --dry-run --net tap=tapu,mac=02:00:00:00:00:05,mtu=4000 >spell1 2>&1; echo "S1 $?"
./pvhboot run hostile --dry-run -netdev tap,id=n0,ifname=tapu,script=no,downscript=no,vhost=off \
    -device virtio-net-device,netdev=n0,mac=02:00:00:00:00:05,host_mtu=4000 >spell2 2>&1; echo "S2 $?"
./pvhboot run hostile --dry-run -nic tap,ifname=tapu,model=virtio-net-device,mac=02:00:00:00:00:05,mtu=4000 \
    >spell3 2>&1; echo "S3 $?"
grep '^device' spell1 | sed 's/^/S-DEVICE /'
echo "S-SAME $(cmp -s spell1 spell2 && cmp -s spell1 spell3 && echo yes || echo no)"
echo "S-TAPU-MTU $(cat /sys/class/net/tapu/mtu)"
echo "=== END errors rc=0"

echo "=== BEGIN hostile"
echo "BEFORE $(counters tap0)"
busybox timeout -s KILL 600 ./pvhboot run hostile --mem 256 --cmdline attack=net --net tap=tap0 --rng \
    --timeout 500 --verbose >out.hostile 2>&1
rc=$?
echo "AFTER $(counters tap0)"
cat out.hostile
echo "=== END hostile rc=$rc"

echo "=== BEGIN boot"
dd if=/dev/urandom of=srv/blob bs=1M count=64 2>/dev/null
dd if=/dev/urandom of=srv/small bs=1M count=4 2>/dev/null
echo "HOST-BLOB $(sha256sum <srv/blob | cut -c1-64)"
echo "HOST-SMALL $(sha256sum <srv/small | cut -c1-64)"
httpd -p 8080 -h srv
echo "BEFORE $(counters tap0)"
start=$(date +%s)
./pvhboot run vmlinux --initrd net.cpio --mem 512 --timeout 1200 --verbose --net tap=tap0 \
    -netdev tap,id=n1,ifname=pvhnew0,script=no,downscript=no \
    -device virtio-net-device,netdev=n1,mac=02:aa:bb:cc:dd:ee,host_mtu=9000 \
    --cmdline "console=ttyS0 quiet" >out.boot 2>&1 &
pid=$!
n=0
while [ ! -e /sys/class/net/pvhnew0 ] && [ $n -lt 600 ]; do busybox sleep 0.1; n=$((n + 1)); done
echo "CREATED flags=$(cat /sys/class/net/pvhnew0/flags) mtu=$(cat /sys/class/net/pvhnew0/mtu)"
ip addr add 10.0.1.1/24 dev pvhnew0
./pvhboot run hostile --dry-run --net tap=tap0 2>&1 | sed 's/^/INUSE /'
n=0
until grep -q GUEST-SERVING out.boot || [ $n -ge 9000 ] || ! kill -0 $pid 2>/dev/null; do busybox sleep 0.1; n=$((n + 1)); done
t0=$(date +%s)
wget -q -O up http://10.0.0.2:8081/up
echo "HOST-UP rc=$? $(sha256sum <up | cut -c1-64) $(($(date +%s) - t0))s"
echo done | nc 10.0.0.2 9000
wait $pid
rc=$?
echo "SECONDS $(($(date +%s) - start))"
echo "GONE $([ -e /sys/class/net/pvhnew0 ] && echo no || echo yes)"
echo "AFTER $(counters tap0)"
cat out.boot
echo "=== END boot rc=$rc"
exit 0
CASES

start=$(date +%s)
tests/kvm/with-kvm.sh --mem 2048 --file build/static/pvhboot --file guest/build/hostile --file "$k61/vmlinux" \
    --file "$k61/modules/tun.ko" --file "$work/tapctl" --file "$work/net.cpio" --file "$work/cases.sh" -- sh cases.sh \
    >"$work/out.txt" 2>"$work/err.txt"
rc=$?
echo "# with-kvm.sh exit $rc after $(( $(date +%s) - start )) s; $(grep -m1 '^# kvm:' "$work/err.txt")"
[ "$rc" -eq 0 ] || sed 's/^/# /' "$work/err.txt" | tail -20

WORK=$work python3 - <<'PY'
import os, re, sys
sys.path.insert(0, "tests/lib")
from tap import check, finish, sections as split_sections, show_failed_boot
out = open(os.environ["WORK"] + "/out.txt", errors="replace").read()
sections = split_sections(out)
check("TUN-INSMOD-FAIL" not in out, "the machine's tun.ko loads")

def section(name):
    text, rc = sections.get(name, ("", -1))
    bad = [w for w in ("Sanitizer", "Segmentation fault", "Bus error", "forbidden system call") if w in text]
    check(name in sections and not bad, f"{name}: ran, no crash, no forbidden system call ({', '.join(bad) or 'none'})")
    return text, rc

def line(text, tag):
    m = re.search(rf"^{tag} (.*)$", text, re.M)
    return m.group(1) if m else ""

def counters(text, tag):
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", line(text, tag))}

def vmm_rss(text):
    m = re.search(r"memory: RSS \d+ KiB = guest RAM touched (\d+) KiB \+ VMM \d+ KiB; peak RSS (\d+) KiB", text)
    return int(m.group(2)) - int(m.group(1)) if m else None

def mac_for(tap):
    h = 0xcbf29ce484222325
    for b in b"pvhboot virtio-net " + tap.encode():
        h = ((h ^ b) * 0x100000001b3) & (2**64 - 1)
    return ":".join(["02"] + [f"{(h >> (8 * i)) & 0xff:02x}" for i in range(5)])

# ---- errors
text, _ = section("errors")
check(line(text, "E-NODEV") == "pvhboot: /dev/net/tun: permission denied — run as root or create the TAP with ip tuntap and give it to your user",
      f"no access to /dev/net/tun: one line saying what to do ({line(text, 'E-NODEV')[:110]})")
check(line(text, "E-OTHERS").startswith("pvhboot: tap tap0: permission denied — it is not yours: run as root"),
      f"a TAP of root's, opened by a user: one line ({line(text, 'E-OTHERS')[:100]})")
check(line(text, "E-MISSING").startswith("pvhboot: tap nosuch0: no such TAP, and creating one needs root (CAP_NET_ADMIN)"),
      f"a TAP that does not exist, as a user: one line ({line(text, 'E-MISSING')[:100]})")
check(line(text, "E-OWN-RC") == "0" and re.search(r"^E-OWN device virtio-net tapu: mmio 0xd0000000, GSI 5$", text, re.M),
      "a TAP given to the user (ip tuntap ... user: tests/lib/tapctl.c) opens without root")
check(line(text, "E-MTU").startswith("pvhboot: tap tapu: its MTU is 1500, and setting it to 9000 needs root"),
      f"an MTU only root may set: one line ({line(text, 'E-MTU')[:100]})")
check(line(text, "E-NOTTAP").startswith("pvhboot: lo is not a single-queue TAP device"),
      f"an interface that is not a TAP: one line ({line(text, 'E-NOTTAP')[:100]})")
check(all(f"S{i} 0" in text for i in (1, 2, 3)) and line(text, "S-SAME") == "yes"
      and "virtio-net tapu: mmio 0xd0000000, GSI 5" in line(text, "S-DEVICE"),
      "--net tap=,mac=,mtu= = -netdev tap,ifname= + -device virtio-net-device,mac=,host_mtu= = -nic tap: the same machine")
check(line(text, "S-TAPU-MTU") == "4000", f"mtu=4000, as root, sets the TAP's MTU ({line(text, 'S-TAPU-MTU')})")

# ---- hostile
text, rc = section("hostile")
check(rc == 0 and "HOSTILE-SURVIVED net" in text, f"hostile: the VMM ran through the attack, the guest exited 0 (exit {rc})")
m = re.search(r"NET-SETUP status=(0x[0-9a-f]+) rng=(0x[0-9a-f]+)", text)
check(m and int(m.group(1), 16) == 0xf and int(m.group(2), 16) == 0xf, f"hostile: the NIC and the rng started ({m.group(0) if m else '?'})")
attacks = re.findall(r"NET-ATTACK (\S+) used=(\d) status=(0x[0-9a-f]+)", text)
check(len(attacks) == 15 and all(u == "1" and int(s, 16) == 0xf for _, u, s in attacks),
      f"hostile: each of 15 broken rules (a 64 MiB chain among them) got its chain back, the device never needed a reset "
      f"({', '.join(a for a, u, s in attacks if u != '1' or int(s, 16) != 0xf) or 'all fine'})")
m = re.search(r"NET-FLOOD frames=(\d+) stalls=(\d+) rng-served-at=(\d+) status=(0x[0-9a-f]+)", text)
check(m and m.group(2) == "0" and 5000 < int(m.group(3)) < int(m.group(1)),
      f"hostile: 20,000 malformed frames, the queue kept full: the rng's request made during the flood was served "
      f"during it ({m.group(0) if m else '?'})")
m = re.search(r"NET-VALID sent=(\d+) bad=(\d+)", text)
sent, bad = (int(m.group(1)), int(m.group(2))) if m else (None, None)
before, after = counters(text, "BEFORE"), counters(text, "AFTER")
delta = {k: after.get(k, 0) - before.get(k, 0) for k in before}
check(sent == 5 and delta.get("rx_packets") == 5 and delta.get("rx_bytes") == 5 * 60,
      f"hostile: the host's tap0 received exactly the 5 well-formed frames, 300 bytes (rx {delta})")
check(delta.get("rx_errs") == 0 and delta.get("rx_drop") == 0, f"hostile: and no errored or dropped frame ({delta})")
m = re.search(r"virtio-net tap0: mmio 0xd0000000, GSI 5; requests (\d+), bytes (\d+).*errors (\d+)", text)
check(m and bad and int(m.group(3)) == bad and int(m.group(2)) == 5 * 60,
      f"hostile: the VMM counted each of the {bad} malformed frames and sent 300 bytes ({m.group(0)[40:] if m else '?'})")
rss = vmm_rss(text)
# About 1.35 MiB in nine runs of ten; one measured 3.4 MiB: 2 MiB more, one
# transparent huge page (THP is "always" in the machine) somewhere in the
# VMM's own memory. The bound is for growth with the attack (20,000 frames,
# a 64 MiB chain: a copy or a queue would be megabytes), not for THP's luck.
check(rss is not None and rss <= 4096, f"hostile: the VMM's own peak RSS stays <= 4 MiB through the flood ({rss} KiB)")

# ---- boot
text, rc = section("boot")
ok = rc == 0 and "VIRTIO-INITRAMFS-DONE status=0" in text and "GUEST-DONE" in text
check(ok, f"boot: the guest ran its test and powered off (exit {rc}, {line(text, 'SECONDS')} s)")
if not ok:
    show_failed_boot("boot", text, rc, 20)
devs = re.findall(r"^DEV virtio\d+ (0x[0-9a-f]+) (\S+) ([01]+)", text, re.M)
nets = [f for d, drv, f in devs if d == "0x0001" and drv == "virtio_net"]
check(len(nets) == 2, f"boot: Debian's virtio_net drives two NICs found through ACPI ({[(d, drv) for d, drv, _ in devs]})")
want = {0: "CSUM", 1: "GUEST_CSUM", 3: "MTU", 5: "MAC", 7: "GUEST_TSO4", 8: "GUEST_TSO6", 11: "HOST_TSO4",
        12: "HOST_TSO6", 15: "MRG_RXBUF", 16: "STATUS"}
missing = [n for b, n in want.items() if not nets or nets[0][b] != "1"]
check(nets and not missing, f"boot: the driver took checksum and segmentation offloads, mergeable buffers, MAC, MTU, "
      f"link status (missing: {missing or 'none'})")
nic = dict(re.findall(r"^NIC (eth\d) (\S+ mtu=\d+)", text, re.M))
check(nic.get("eth0") == f"{mac_for('tap0')} mtu=1500",
      f"boot: eth0's MAC is derived from its TAP's name ({nic.get('eth0')}, expected {mac_for('tap0')})")
check(nic.get("eth1") == "02:aa:bb:cc:dd:ee mtu=9000", f"boot: eth1 has the MAC and MTU -device gave ({nic.get('eth1')})")
check(line(text, "CARRIER") == "1 1", f"boot: both links up ({line(text, 'CARRIER')})")
m = re.search(r"flags=(0x[0-9a-f]+) mtu=(\d+)", line(text, "CREATED"))
check(m and int(m.group(1), 16) & 1 and m.group(2) == "9000",
      f"boot: pvhboot created pvhnew0, brought it up (IFF_UP) and set its MTU ({line(text, 'CREATED')})")
check(line(text, "INUSE").startswith("pvhboot: tap tap0: in use by another process (another VM?)"),
      f"boot: a second pvhboot on tap0 is told it is in use ({line(text, 'INUSE')[:90]})")
check(line(text, "PING0").startswith("rc=0 replies=3"), f"boot: the guest pings the host on eth0 ({line(text, 'PING0')})")
check(line(text, "PING1").startswith("rc=0 replies=3"),
      f"boot: and with 8000-byte pings on eth1 (MTU 9000) ({line(text, 'PING1')})")
host_blob, host_small = line(text, "HOST-BLOB"), line(text, "HOST-SMALL")
m = re.search(r"^DOWN rc=(\d+) ([0-9a-f]{64}) (\d+)s", text, re.M)
check(m and m.group(1) == "0" and m.group(2) == host_blob,
      f"boot: 64 MiB host -> guest over eth0, sha256 matches ({m.group(2)[:12] if m else '?'} vs {host_blob[:12]}, "
      f"{m.group(3) if m else '?'} s)")
m = re.search(r"^DOWN1 rc=(\d+) ([0-9a-f]{64})", text, re.M)
check(m and m.group(1) == "0" and m.group(2) == host_small, "boot: 4 MiB host -> guest over eth1, sha256 matches")
up = line(text, "UP-SHA")
m = re.search(r"^HOST-UP rc=(\d+) ([0-9a-f]{64}) (\d+)s", text, re.M)
check(m and m.group(1) == "0" and len(up) == 64 and m.group(2) == up,
      f"boot: 64 MiB guest -> host over eth0, sha256 matches ({up[:12]} vs {m.group(2)[:12] if m else '?'}, "
      f"{m.group(3) if m else '?'} s)")
check(line(text, "GONE") == "yes", "boot: the TAP pvhboot created is gone once it exits")
m = re.search(r"virtio-net tap0: mmio 0xd0000000, GSI 5; requests (\d+), bytes (\d+).*errors (\d+)", text)
check(m and int(m.group(2)) >= 128 << 20 and m.group(3) == "0",
      f"boot: --verbose counts eth0's frames and bytes, no error ({m.group(0)[40:] if m else '?'})")
m = re.search(r"virtio-net pvhnew0: mmio 0xd0001000, GSI 6", text)
check(m, "boot: the second NIC sits in slot 1 (after the first, before the rng)")
finish()
PY
