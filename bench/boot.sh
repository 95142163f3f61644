#!/usr/bin/env bash
# bench/boot.sh [N] — boot time, pvhboot vs QEMU microvm, side by side in one run.
# N boots (default 10) of each case under each VMM, same RAM (512 MiB) and vCPUs (1):
#   first   a 484-byte PVH guest that writes a serial byte at its first
#           instruction, then exits through port 0xf4:
#           process start -> first guest instruction, and -> exit;
#   linux   Debian's cloud vmlinux + a busybox initramfs whose /init prints a
#           marker and powers off: process start -> /init, and -> exit.
# Each run is timed by bench/boot_timer (same measurement for both VMMs) and
# the table gives min/median/max, peak RSS, and the pvhboot/QEMU ratio of the
# medians. QEMU: qemu-system-x86_64 -M microvm -accel kvm -nodefaults
# -no-user-config, Debian's build, carried with its libraries and firmware.
# Runs where tests/kvm/with-kvm.sh finds KVM: on the emulated machine the
# figures are labelled "emulated: not meaningful for speed".
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10}
work=build/bench-boot
rm -rf "$work" && mkdir -p "$work"
make -s VARIANT=static variant
cc -static -O2 -Wall -Wextra -Werror -o "$work/boot_timer" bench/boot_timer.c
gcc -m32 -nostdlib -static -no-pie -Wl,-T,bench/first-byte.ld -Wl,--build-id=none \
    -o "$work/first-byte" bench/first-byte.S
kdir=$(tests/lib/debian-kernel.sh)

# initramfs: static busybox, /init prints the marker and powers off.
root=$work/initramfs
mkdir -p "$root/bin" "$root/proc" "$root/dev"
cp /bin/busybox "$root/bin/busybox"
cat >"$root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox echo PVHBOOT-BENCH-INIT
/bin/busybox poweroff -f
INIT
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet) >"$work/initrd.cpio"

# QEMU with its shared libraries and firmware, unpacked and run through ld.so inside.
. bench/qemu-carry.sh
carry_qemu "$work"

cat >"$work/inner.sh" <<INNER
QEMU_INSIDE="$QEMU_INSIDE"
INNER
cat >>"$work/inner.sh" <<'INNER'
# Runs inside the machine with KVM: N rounds, alternating VMMs.
n=$1
tar -xf qemu.tar
qemu="$QEMU_INSIDE"
qargs="-M microvm -accel kvm -cpu host -m 512 -smp 1 -nodefaults -no-user-config -nographic -serial stdio -no-reboot -device isa-debug-exit,iobase=0xf4,iosize=4"
args_linux="console=ttyS0 reboot=k panic=-1 quiet"
i=0
while [ "$i" -lt "$n" ]; do
    i=$((i + 1))
    echo "RESULT vmm=pvhboot case=first $(./boot_timer -- ./pvhboot run first-byte --mem 512 --cpus 1)"
    echo "RESULT vmm=qemu case=first $(./boot_timer -- $qemu $qargs -kernel first-byte)"
    echo "RESULT vmm=pvhboot case=linux $(./boot_timer --marker PVHBOOT-BENCH-INIT --timeout 300 -- ./pvhboot run vmlinux --mem 512 --cpus 1 --initrd initrd.cpio --cmdline "$args_linux")"
    echo "RESULT vmm=qemu case=linux $(./boot_timer --marker PVHBOOT-BENCH-INIT --timeout 300 -- $qemu $qargs -kernel vmlinux -initrd initrd.cpio -append "$args_linux")"
done
INNER

where=$work/kvm-path.txt
tests/kvm/with-kvm.sh --mem 2560 --file build/static/pvhboot --file "$work/boot_timer" \
    --file "$work/first-byte" --file "$kdir/vmlinux" --file "$work/initrd.cpio" \
    --file "$work/qemu.tar" --file "$work/inner.sh" -- sh inner.sh "$n" \
    2>"$where" | tee "$work/raw.txt" | grep '^RESULT' >"$work/results.txt" || true
label=$(grep -m1 '^# kvm:' "$where" || echo "# kvm: unknown")
python3 bench/boot_table.py "$work/results.txt" "$label"
