#!/usr/bin/env bash
# bench/snapshot.sh [N] — snapshot restore against cold boot, side by side in
# one run in the machine with KVM (issue 16 part 3). N rounds (default 5) of:
#   first   bench/snapmark, a PVH guest that writes "A" at its first
#           instruction, touches 64 MiB, snapshots itself through the port and
#           writes "B" as its first act after: restore -> "B" (with 256 MiB
#           and with 2 GiB of guest RAM) against cold boot -> "B" (the same
#           point: the port unclaimed, the guest goes on) and -> "A";
#   linux   Debian's cloud vmlinux + a busybox initramfs whose /init runs
#           tests/lib/snapnow (the snapshot port from userspace) and then
#           prints a marker: cold boot -> marker against restore -> marker,
#           and process start -> first KVM_RUN (pvhboot -v): the restored
#           guest's first instruction against the cold boot's arrival at the
#           same point (a snapshot's run each round, -v: "snapshot: asked
#           for") and
#           against the kernel's own first instruction;
#   vsock   the same kernel + the virtio initramfs (tests/lib/virtio-
#           initramfs.sh: its modules loaded) whose /init starts an echo
#           server on vsock port 5000 (tests/vsock/vsockpeer), runs snapnow
#           and prints a marker: cold boot -> userspace answering on vsock
#           against restore -> the same (boot_timer --vsock: a CONNECT
#           through pvhboot's hybrid socket, a byte echoed).
# Once: 1 clone, then 20 clones at once, restored from one snapshot of
# snapmark (command line "h": after "B" each reads the 64 MiB and halts):
# total PSS of the 20 pvhboot processes against the one's, and clones started
# per second (all 20 at their first instruction) against 20 cold boots of
# snapmark started at once (all 20 at theirs).
# Timed by bench/boot_timer and bench/clone_timer; the table (bench/
# snapshot_table.py) gives min/median/max, the ratios and their targets.
# Without a host KVM it runs in the emulated machine (1 CPU) and labels its
# figures "emulated: not meaningful for speed".
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-5}
work=build/bench-snapshot
rm -rf "$work" && mkdir -p "$work"
make -s VARIANT=static variant
cc -static -O2 -pthread -Wall -Wextra -Werror -o "$work/boot_timer" bench/boot_timer.c
cc -static -O2 -Wall -Wextra -Werror -o "$work/clone_timer" bench/clone_timer.c
cc -static -O2 -Wall -Wextra -Werror -o "$work/snapnow" tests/lib/snapnow.c
cc -static -O2 -Wall -Wextra -Werror -o "$work/vsockpeer" tests/vsock/vsockpeer.c
gcc -m32 -nostdlib -static -no-pie -Wl,-T,bench/first-byte.ld -Wl,--build-id=none \
    -o "$work/snapmark" bench/snapmark.S
kdir=$(tests/lib/debian-kernel.sh)

# initramfs: static busybox and snapnow; /init asks for the snapshot, then
# (in the restored guest, or a cold boot where the port is unclaimed) prints
# the marker and powers off.
root=$work/initramfs
mkdir -p "$root/bin" "$root/proc" "$root/dev"
cp /bin/busybox "$root/bin/busybox"
cp "$work/snapnow" "$root/bin/snapnow"
cat >"$root/init" <<'INIT'
#!/bin/busybox sh
/bin/snapnow
/bin/busybox echo PVHBOOT-SNAP-MARK
/bin/busybox poweroff -f
INIT
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet) >"$work/initrd.cpio"

# the virtio initramfs: the echo server listening before the snapshot is
# asked for, so a restored guest answers at once
cat >"$work/vsock-init" <<'INIT'
#!/bin/sh
/vsockpeer serve vsock:5000 >/serve.log 2>&1 &
while ! grep -q SERVE-READY /serve.log 2>/dev/null; do usleep 1000; done
/snapnow
echo PVHBOOT-SNAP-VSOCK
sleep 3600
INIT
tests/lib/virtio-initramfs.sh "$kdir" "$work/vsock.cpio" --init "$work/vsock-init" \
    --file "$work/vsockpeer:/vsockpeer" --file "$work/snapnow:/snapnow" >/dev/null

cat >"$work/inner.sh" <<'INNER'
# Runs inside the machine with KVM.
n=$1
args_linux="console=ttyS0 reboot=k panic=-1 quiet"
# snap NAME MB ARGS...: one snapshot; its line says whether it was written,
# and when the guest asked for it (pvhboot -v): a cold boot to the point a
# restore resumes at.
snap() {
    name=$1 mb=$2; shift 2
    ./pvhboot run "$@" --mem "$mb" --snapshot-on-port --snapshot-file "$name.state" \
        --mem-file "$name.mem" -v >"$name.log" 2>&1
    rc=$?
    asked=$(sed -n 's/.*snapshot: asked for \([0-9]*\)\.\([0-9]*\) ms from process start.*/\1\2/p' "$name.log")
    echo "SNAPSHOT name=$name mem_mib=$mb rc=$rc state=$(stat -c %s "$name.state" 2>/dev/null || echo -1)" \
        "mem_file_kib=$(du -k "$name.mem" 2>/dev/null | cut -f1 || echo -1) asked_us=${asked:--1}"
    [ "$rc" -eq 0 ] || sed "s/^/SNAPLOG $name: /" "$name.log" | tail -5
}
snap s256 256 snapmark --cmdline t
snap s2048 2048 snapmark --cmdline t
snap hold 256 snapmark --cmdline h
snap linux 512 vmlinux --initrd initrd.cpio --cmdline "$args_linux"
snap lvsock 512 vmlinux --initrd vsock.cpio --cmdline "$args_linux" --vsock cid=3,uds=lvsock.sock
# first_run FILE: "first KVM_RUN N.NNN ms" of pvhboot -v, in microseconds
first_run() { sed -n 's/.*first KVM_RUN \([0-9]*\)\.\([0-9]*\) ms.*/\1\2/p' "$1"; }
i=0
while [ "$i" -lt "$n" ]; do
    i=$((i + 1))
    echo "RESULT case=first how=cold mem=256 $(./boot_timer --marker B -- ./pvhboot run snapmark --mem 256 --cmdline t)"
    echo "RESULT case=first how=restore mem=256 $(./boot_timer --marker B -- ./pvhboot restore s256.state --mem-file s256.mem)"
    echo "RESULT case=first how=restore mem=2048 $(./boot_timer --marker B -- ./pvhboot restore s2048.state --mem-file s2048.mem)"
    snap point 512 vmlinux --initrd initrd.cpio --cmdline "$args_linux"   # a cold boot to the snapshot's point
    rm -f point.state point.mem
    r=$(./boot_timer --marker PVHBOOT-SNAP-MARK --timeout 300 -- ./pvhboot run vmlinux --mem 512 --initrd initrd.cpio --cmdline "$args_linux" -v 2>cold.err)
    echo "RESULT case=linux how=cold mem=512 $r first_run_us=$(first_run cold.err)"
    r=$(./boot_timer --marker PVHBOOT-SNAP-MARK --timeout 300 -- ./pvhboot restore linux.state --mem-file linux.mem -v 2>restore.err)
    echo "RESULT case=linux how=restore mem=512 $r first_run_us=$(first_run restore.err)"
    echo "RESULT case=vsock how=cold mem=512 $(./boot_timer --marker PVHBOOT-SNAP-VSOCK --vsock cold.sock:5000 --timeout 300 -- ./pvhboot run vmlinux --mem 512 --initrd vsock.cpio --cmdline "$args_linux" --vsock cid=3,uds=cold.sock)"
    echo "RESULT case=vsock how=restore mem=512 $(./boot_timer --marker PVHBOOT-SNAP-VSOCK --vsock lvsock.sock:5000 --timeout 300 -- ./pvhboot restore lvsock.state --mem-file lvsock.mem)"
done
echo "CLONES how=restore $(./clone_timer -n 1 --marker B --ready C -- ./pvhboot restore hold.state --mem-file hold.mem)"
echo "CLONES how=restore $(./clone_timer -n 20 --marker B --ready C -- ./pvhboot restore hold.state --mem-file hold.mem)"
echo "CLONES how=cold $(./clone_timer -n 20 --marker A -- ./pvhboot run snapmark --mem 256 --cmdline x)"
echo "CPUS $(grep -c ^processor /proc/cpuinfo)"
INNER

where=$work/kvm-path.txt
tests/kvm/with-kvm.sh --mem 3072 --cpus 1 --file build/static/pvhboot --file "$work/boot_timer" \
    --file "$work/clone_timer" --file "$work/snapmark" --file "$kdir/vmlinux" \
    --file "$work/initrd.cpio" --file "$work/vsock.cpio" --file "$work/inner.sh" -- sh inner.sh "$n" \
    2>"$where" | tee "$work/raw.txt" | grep -E '^(RESULT|CLONES|SNAPSHOT|SNAPLOG|CPUS)' >"$work/results.txt" || true
label=$(grep -m1 '^# kvm:' "$where" || echo "# kvm: unknown")
python3 bench/snapshot_table.py "$work/results.txt" "$label"
