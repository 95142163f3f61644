#!/usr/bin/env bash
# Records what a real Linux guest does to pvhboot's virtio devices during one
# boot, for the fuzzers' seeds (tests/fuzz/trace-seeds.py turns the trace into
# corpus inputs):
#
#   tests/fuzz/record-trace.sh OUT.trace
#
# Boots Debian's 6.1 cloud kernel (tests/lib/debian-kernel.sh) with a busybox
# initramfs that loads its virtio modules (tests/lib/virtio-initramfs.sh), in
# the emulated machine (tests/kvm/with-kvm.sh), with build/static/pvhboot
# (make VARIANT=static variant) run as
#   PVHBOOT_VIRTIO_TRACE=virtio.trace pvhboot run vmlinux --initrd ... \
#       --drive ext4.img --rng --console virtio
# The guest mounts the ext4 drive (inode tables zeroed at mount:
# WRITE_ZEROES), reads and writes files, syncs, trims, reads the disk with
# O_DIRECT, discards a range, reads the serial (GET_ID), the hwrng and
# prints through hvc0. The trace comes back on a second --disk (stdout is a
# serial port: slow for megabytes); OUT gets the trace, and a line on stdout
# its size and the guest's exit status. docs/hardening.md documents the
# trace format ("Recording a driver's traffic").
set -euo pipefail
cd "$(dirname "$0")/../.."
die() { echo "record-trace: $*" >&2; exit 1; }
[ $# -eq 1 ] || die "usage: record-trace.sh OUT.trace"
out=$1
[ -x build/static/pvhboot ] || die "build/static/pvhboot missing (make VARIANT=static variant)"
command -v mkfs.ext4 >/dev/null || die "mkfs.ext4 missing (tests/lib/install-deps.sh)"
k61=$(tests/lib/debian-kernel.sh) || die "cannot fetch Debian's 6.1 cloud kernel"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/root/dir"
echo "hello from the traced drive" >"$work/root/hello.txt"
seq 1 2000 >"$work/root/dir/numbers.txt"
mkfs.ext4 -q -F -E lazy_itable_init=1 -d "$work/root" "$work/disk.img" 16M
truncate -s 64M "$work/trace.img"

cat >"$work/test" <<'TEST'
#!/bin/sh
echo "REC serial=$(cat /sys/block/vda/serial 2>/dev/null) size=$(cat /sys/block/vda/size)"
mkdir -p /mnt
mount -t ext4 -o init_itable=0,discard /dev/vda /mnt || exit 1
sleep 3 # ext4lazyinit zeroes the inode tables meanwhile
echo "REC read $(cat /mnt/hello.txt) $(wc -l </mnt/dir/numbers.txt)"
dd if=/dev/urandom of=/mnt/new.bin bs=4096 count=24 2>/dev/null
echo "written by the guest" >/mnt/dir/note.txt
sync
sleep 1
rm /mnt/new.bin
sync
fstrim /mnt && echo "REC fstrim ok"
umount /mnt
dd if=/dev/vda of=/dev/null bs=64k count=8 iflag=direct 2>/dev/null && echo "REC direct read ok"
blkdiscard -o $((12 << 20)) -l $((1 << 20)) /dev/vda && echo "REC discard ok"
echo "REC rng $(head -c 48 /dev/hwrng | od -An -tx1 | tr -d ' \n' | wc -c)"
i=0
while [ $i -lt 40 ]; do echo "REC console line $i"; i=$((i + 1)); done
TEST
tests/lib/virtio-initramfs.sh "$k61" "$work/rec.cpio" --init "$work/test" >/dev/null ||
    die "cannot build the initramfs"

cat >"$work/cases.sh" <<'CASES'
PVHBOOT_VIRTIO_TRACE=$PWD/virtio.trace ./pvhboot run vmlinux --initrd rec.cpio --mem 256 --timeout 300 \
    --drive "$DISK0,id=traced-disk" --rng --console virtio --cmdline "console=ttyS0 console=hvc0 quiet" >guest.out 2>&1
rc=$?
grep -a 'REC \|VIRTIO-INITRAMFS-DONE' guest.out | grep -v 'REC console line [1-9]'
bytes=$(wc -c <virtio.trace)
dd if=virtio.trace of="$DISK1" bs=1M conv=fsync 2>/dev/null
echo "TRACE rc=$rc bytes=$bytes"
CASES

tests/kvm/with-kvm.sh --mem 1024 --file build/static/pvhboot --file "$k61/vmlinux" --file "$work/rec.cpio" \
    --file "$work/cases.sh" --disk "$work/disk.img" --disk "$work/trace.img" -- sh cases.sh >"$work/out.txt" ||
    { cat "$work/out.txt" >&2; die "the emulated machine failed"; }
cat "$work/out.txt"
line=$(grep -a '^TRACE rc=' "$work/out.txt") || die "no TRACE line"
bytes=${line##*bytes=}
[[ $bytes =~ ^[0-9]+$ ]] && [ "$bytes" -gt 0 ] || die "empty trace ($line)"
head -c "$bytes" "$work/trace.img" >"$out"
echo "record-trace: $out: $bytes bytes, $(grep -c '^[rw] ' "$out") register accesses, $(grep -c '^q ' "$out") notifications"
