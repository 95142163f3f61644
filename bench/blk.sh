#!/usr/bin/env bash
# bench/blk.sh [N] — virtio-blk, pvhboot vs QEMU microvm, side by side in one run.
# The same raw image (256 MiB, a --disk of the machine with KVM) attached to
# pvhboot's virtio-blk (--drive IMG) and to QEMU's virtio-blk-device
# (-M microvm -accel kvm, -drive ...,cache=writeback), the same Debian 6.1
# cloud kernel and busybox initramfs (its virtio modules loaded by insmod),
# whose test runs bench/blkbench on /dev/vda: sequential write and read MB/s
# (1 MiB blocks, O_DIRECT, 64 MiB), 4 KiB random-read IOPS at queue depth 1
# and 32 (2 s each). N rounds (default 3), alternating VMMs; each round also
# times start -> /init with and without the drive (bench/boot_timer), and
# pvhboot's VMM RSS (RSS less guest RAM touched) with two drives attached.
# Prints raw numbers (min/median/max) and pvhboot/QEMU ratios of the medians.
# On the emulated machine the figures are labelled "emulated": ratios only.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-3}
work=build/bench-blk
rm -rf "$work" && mkdir -p "$work"
make -s VARIANT=static variant
cc -static -O2 -Wall -Wextra -Werror -o "$work/boot_timer" bench/boot_timer.c
cc -static -O2 -Wall -Wextra -Werror -pthread -o "$work/blkbench" bench/blkbench.c
kdir=$(tests/lib/debian-kernel.sh)
. bench/qemu-carry.sh
carry_qemu "$work"

# The guest's test: the /init marker at once, then the bench when a disk is there.
cat >"$work/test-init" <<'TEST'
#!/bin/sh
echo PVHBOOT-BENCH-INIT
[ -b /dev/vda ] && /blkbench /dev/vda 64 2
exit 0
TEST
tests/lib/virtio-initramfs.sh "$kdir" "$work/initrd.cpio" --init "$work/test-init" \
    --file "$work/blkbench:/blkbench" >/dev/null
truncate -s 256M "$work/disk.img" "$work/disk2.img"

cat >"$work/inner.sh" <<INNER
QEMU_INSIDE="$QEMU_INSIDE"
INNER
cat >>"$work/inner.sh" <<'INNER'
# Inside the machine with KVM: N rounds, alternating VMMs.
n=$1
tar -xf qemu.tar
cmdline="console=ttyS0 reboot=k panic=-1 quiet"
qemu="$QEMU_INSIDE -M microvm -accel kvm -cpu host -m 512 -smp 1 -nodefaults -no-user-config -nographic -serial stdio -no-reboot"
qdrive="-drive file=$DISK0,if=none,id=d0,format=raw,cache=writeback -device virtio-blk-device,drive=d0"
timer="./boot_timer --marker PVHBOOT-BENCH-INIT --timeout 300"
result() { # VMM CASE OUTPUT-FILE TIMER-LINE
    echo "RESULT vmm=$1 case=$2 $4"
    grep '^BLK-' "$3" | sed "s/^/RESULT vmm=$1 case=io /"
    echo "bench/blk: round $i $1 $2 done: $4" >/dev/console # progress on the machine's console
}
i=0
while [ "$i" -lt "$n" ]; do
    i=$((i + 1))
    t=$($timer --tee out.p -- ./pvhboot run vmlinux --initrd initrd.cpio --mem 512 --rng --drive "$DISK0" --cmdline "$cmdline")
    result pvhboot drive out.p "$t"
    t=$($timer --tee out.q -- $qemu -kernel vmlinux -initrd initrd.cpio -append "$cmdline" $qdrive -device virtio-rng-device)
    result qemu drive out.q "$t"
    t=$($timer --tee out.p0 -- ./pvhboot run vmlinux --initrd initrd.cpio --mem 512 --rng --cmdline "$cmdline")
    result pvhboot nodrive out.p0 "$t"
    t=$($timer --tee out.q0 -- $qemu -kernel vmlinux -initrd initrd.cpio -append "$cmdline" -device virtio-rng-device)
    result qemu nodrive out.q0 "$t"
done
./pvhboot run vmlinux --initrd initrd.cpio --mem 512 --rng --drive "$DISK0" --drive "$DISK1" --verbose \
    --cmdline "$cmdline" 2>&1 | grep -E '^pvhboot: memory:' | sed 's/^/RSS2 /'
INNER

where=$work/kvm-path.txt
tests/kvm/with-kvm.sh --mem 2560 --file build/static/pvhboot --file "$work/boot_timer" --file "$kdir/vmlinux" \
    --file "$work/initrd.cpio" --file "$work/qemu.tar" --file "$work/inner.sh" \
    --disk "$work/disk.img" --disk "$work/disk2.img" -- sh inner.sh "$n" \
    2>"$where" | tee "$work/raw.txt" | grep -E '^(RESULT|RSS2)' >"$work/results.txt" || true
label=$(grep -m1 '^# kvm:' "$where" || echo "# kvm: unknown")
python3 bench/blk_table.py "$work/results.txt" "$label"
