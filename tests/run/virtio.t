#!/usr/bin/env bash
# virtio devices under a real Linux guest (Debian's 6.1 cloud kernel, its own
# virtio modules loaded by a busybox initramfs: tests/lib/virtio-initramfs.sh),
# in ONE machine with KVM (tests/kvm/with-kvm.sh), disks passed as --disk:
#   boot "disks": two drives (a 160 MiB blank image read-write, an ext4 image
#     made with mkfs.ext4 -d read-only) and virtio-rng. The guest finds all
#     three through ACPI, reads a known file from the ext4 drive, fails to
#     write to it (the host file stays byte for byte the same), writes 64 MiB
#     of random data to the first drive and prints its sha256 (the host
#     computes its own from the image afterwards), fills 32 MiB more and
#     discards them (the image's allocated blocks shrink back), reads the
#     hwrng, and prints the disk's serial (GET_ID = the id= given).
#   boot "console": --console virtio (console=ttyS0 console=hvc0: Debian's
#     virtio_console is a module, so early messages need COM1): init's output
#     goes through hvc0, 64 KiB of it, once each (COM1 on stdout goes quiet
#     when hvc0 speaks); --verbose shows the bytes went through
#     virtio-console with far fewer VM exits than the same output through
#     COM1 costs.
#   boot "serial": the same 64 KiB through COM1, for the exit count.
#   boot "locked": a second pvhboot on an image the first holds read-write
#     exits 2 naming the holder.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/kvm-suite.sh
k61=$(tests/lib/debian-kernel.sh) || fail_all "cannot fetch Debian's 6.1 cloud kernel"
command -v mkfs.ext4 >/dev/null && command -v debugfs >/dev/null || fail_all "e2fsprogs missing (tests/lib/install-deps.sh)"

# The images: disk0 blank (sparse), disk1 an ext4 holding hello.txt.
truncate -s 160M "$work/disk0.img"
mkdir -p "$work/rootdir"
echo "hello from the read-only ext4 drive" >"$work/rootdir/hello.txt"
mkfs.ext4 -q -F -d "$work/rootdir" "$work/disk1.img" 16M || fail_all "mkfs.ext4 -d failed"
sha_ro_before=$(sha256sum <"$work/disk1.img" | cut -c1-64)

cat >"$work/disks-test" <<'TEST'
#!/bin/sh
for d in /sys/bus/virtio/devices/*; do echo "DEV $(basename $d) $(cat $d/device) $(readlink $d/driver | sed 's|.*/||')"; done
echo "BLOCK vda $(cat /sys/block/vda/size 2>/dev/null) vdb $(cat /sys/block/vdb/size 2>/dev/null) ro=$(cat /sys/block/vdb/ro 2>/dev/null)"
echo "SERIAL $(cat /sys/block/vda/serial 2>/dev/null)"
mkdir -p /mnt && mount -t ext4 -o ro /dev/vdb /mnt && echo "READ $(cat /mnt/hello.txt)"
umount /mnt
if dd if=/dev/zero of=/dev/vdb bs=4096 count=1 oflag=direct 2>/dev/null; then echo "RO-WRITE accepted"; else echo "RO-WRITE refused"; fi
dd if=/dev/urandom of=/dev/vda bs=1M count=64 oflag=direct 2>/dev/null
echo "SHA $(dd if=/dev/vda bs=1M count=64 iflag=direct 2>/dev/null | sha256sum | cut -c1-64)"
dd if=/dev/urandom of=/dev/vda bs=1M seek=64 count=32 oflag=direct 2>/dev/null
sync
echo "DISCARD $(blkdiscard -o $((64 << 20)) -l $((32 << 20)) /dev/vda && echo ok)"
sync
echo "RNG $(head -c 32 /dev/hwrng | od -An -tx1 | tr -d ' \n' | wc -c) $(cat /sys/class/misc/hw_random/rng_current)"
TEST
cat >"$work/console-test" <<'TEST'
#!/bin/sh
i=0
while [ $i -lt 1024 ]; do echo "CONSOLE-LINE-$i ................................................."; i=$((i + 1)); done
echo CONSOLE-DONE
TEST
tests/lib/virtio-initramfs.sh "$k61" "$work/disks.cpio" --init "$work/disks-test" >/dev/null ||
    fail_all "cannot build the disks initramfs"
tests/lib/virtio-initramfs.sh "$k61" "$work/console.cpio" --init "$work/console-test" >/dev/null ||
    fail_all "cannot build the console initramfs"

cat >"$work/cases.sh" <<'CASES'
args="--mem 256 --timeout 240 --verbose"
echo "=== BEGIN disks"
./pvhboot run vmlinux --initrd disks.cpio $args --drive "$DISK0,id=pvh-data-0" --drive "$DISK1,ro" \
    --cmdline "console=ttyS0 quiet" 2>&1
echo "=== END disks rc=$?"
echo "=== BEGIN console"
./pvhboot run vmlinux --initrd console.cpio $args --console virtio --cmdline "console=ttyS0 console=hvc0 quiet" 2>&1
echo "=== END console rc=$?"
echo "=== BEGIN serial"
./pvhboot run vmlinux --initrd console.cpio $args --cmdline "console=ttyS0 quiet" 2>&1
echo "=== END serial rc=$?"
echo "=== BEGIN locked"
./pvhboot run vmlinux --initrd console.cpio $args --drive "$DISK0" --cmdline "console=ttyS0 quiet" \
    >held.out 2>&1 &
holder=$!
busybox sleep 2
./pvhboot run vmlinux --drive "$DISK0" --dry-run 2>&1
echo "=== END locked rc=$?"
kill $holder; wait $holder
exit 0
CASES

start=$(date +%s)
tests/kvm/with-kvm.sh --mem 1024 --file build/static/pvhboot --file "$k61/vmlinux" \
    --file "$work/disks.cpio" --file "$work/console.cpio" --file "$work/cases.sh" \
    --disk "$work/disk0.img" --disk "$work/disk1.img" -- sh cases.sh >"$work/out.txt" 2>"$work/err.txt"
rc=$?
echo "# with-kvm.sh exit $rc after $(( $(date +%s) - start )) s; $(grep -m1 '^# kvm:' "$work/err.txt")"
[ "$rc" -eq 0 ] || sed 's/^/# /' "$work/err.txt" | tail -20

host_sha=$(head -c $((64 << 20)) "$work/disk0.img" | sha256sum | cut -c1-64)
allocated_kib=$(du -k "$work/disk0.img" | cut -f1)
sha_ro_after=$(sha256sum <"$work/disk1.img" | cut -c1-64)
WORK=$work HOST_SHA=$host_sha ALLOC_KIB=$allocated_kib RO_SAME=$([ "$sha_ro_before" = "$sha_ro_after" ] && echo 1 || echo 0) \
python3 - <<'PY'
import os, re, sys
sys.path.insert(0, "tests/lib")
from tap import check, finish, sections as split_sections
out = open(os.environ["WORK"] + "/out.txt", errors="replace").read()
sections = split_sections(out)
def section(name):
    text, rc = sections.get(name, ("", -1))
    bad = [w for w in ("Sanitizer", "Segmentation fault", "Bus error", "forbidden system call") if w in text]
    check(not bad, f"{name}: no crash, no forbidden system call ({', '.join(bad) or 'none'})")
    return text, rc

text, rc = section("disks")
check(rc == 0 and "VIRTIO-INITRAMFS-DONE status=0" in text, f"disks: the guest ran its test and powered off (exit {rc})")
devs = re.findall(r"^DEV virtio\d+ (0x[0-9a-f]+) (\S+)", text, re.M)
check(("0x0002", "virtio_blk") in devs and devs.count(("0x0002", "virtio_blk")) == 2 and ("0x0004", "virtio_rng") in devs,
      f"disks: Linux found two virtio-blk disks and virtio-rng through ACPI ({devs})")
m = re.search(r"BLOCK vda (\d+) vdb (\d+) ro=(\d)", text)
check(m and int(m.group(1)) == 160 * 2048 and int(m.group(2)) == 16 * 2048 and m.group(3) == "1",
      f"disks: sizes 160 MiB and 16 MiB, the second read-only ({m.group(0) if m else 'no BLOCK line'})")
check("SERIAL pvh-data-0" in text, "disks: the drive's serial (GET_ID) is the id= given")
check("READ hello from the read-only ext4 drive" in text, "disks: the guest mounted the ext4 drive and read the host's file")
check("RO-WRITE refused" in text and os.environ["RO_SAME"] == "1",
      "disks: a write to the read-only drive is refused and the host's image is unchanged byte for byte")
m = re.search(r"^SHA ([0-9a-f]{64})", text, re.M)
check(m and m.group(1) == os.environ["HOST_SHA"],
      f"disks: sha256 of the 64 MiB the guest wrote = the host's view of the image ({m.group(1)[:16] if m else '?'}... vs {os.environ['HOST_SHA'][:16]}...)")
alloc = int(os.environ["ALLOC_KIB"])
check("DISCARD ok" in text and 64 * 1024 <= alloc < 80 * 1024,
      f"disks: 96 MiB written, 32 MiB discarded: the image holds {alloc} KiB (64-80 MiB expected)")
m = re.search(r"^RNG (\d+) (\S+)", text, re.M)
check(m and m.group(1) == "64" and m.group(2) == "virtio_rng.0", f"disks: /dev/hwrng is virtio_rng.0 and gives bytes ({m.group(0) if m else '?'})")
m = re.search(r"virtio-blk \S+: mmio 0xd0000000, GSI 5; requests (\d+), bytes (\d+).*errors (\d+)", text)
check(m and int(m.group(1)) > 0 and int(m.group(2)) >= 128 << 20,
      f"disks: --verbose counts the first drive's requests and bytes ({m.group(0)[:120] if m else '?'})")

text, rc = section("console")
lines = len(re.findall(r"CONSOLE-LINE-\d+", text))
check(rc == 0 and lines == 1024 and "CONSOLE-DONE" in text,
      f"console: init's 1024 lines came through hvc0, each once ({lines} seen, exit {rc})")
m = re.search(r"virtio-console console: .*bytes (\d+)", text)
check(m and int(m.group(1)) >= 64 * 1024, f"console: virtio-console carried them ({m.group(1) if m else '?'} bytes)")
io_virtio = int(re.search(r"VM exits: io (\d+)", text).group(1)) if "VM exits" in text else None
text, rc = section("serial")
lines = len(re.findall(r"CONSOLE-LINE-\d+", text))
io_serial = int(re.search(r"VM exits: io (\d+)", text).group(1)) if "VM exits" in text else None
check(rc == 0 and lines == 1024, f"serial: the same lines through COM1 ({lines} seen)")
check(io_virtio is not None and io_serial is not None and io_virtio * 10 < io_serial,
      f"console: port-I/O exits through virtio-console are under a tenth of COM1's ({io_virtio} vs {io_serial})")

text, rc = section("locked")
check(rc == 2 and re.search(r"locked by process \d+ \(pvhboot", text),
      f"locked: a second pvhboot on an image held read-write exits 2 naming the holder (exit {rc}: {text.strip()[:120]})")
finish()
PY
