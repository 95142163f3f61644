#!/usr/bin/env bash
# bench/net.sh [N] — virtio-net, pvhboot vs QEMU microvm, side by side in one run.
# In the machine with KVM (tests/kvm/with-kvm.sh) a TAP, tap0 (10.0.0.1/24,
# tun.ko from the machine's own kernel package), is the NIC of each VMM in
# turn: pvhboot's virtio-net (--net tap=tap0) and QEMU microvm's
# virtio-net-device (-netdev tap,ifname=tap0,script=no + -device
# virtio-net-device: userspace virtio-net, as pvhboot's), both with QEMU's
# default MAC, the same Debian 6.1 cloud kernel and busybox initramfs (its
# virtio modules loaded by insmod), in which the same static program
# (bench/netbench.c) measures TCP throughput against the same program on
# the host side: guest -> host for SECONDS (default 5), then host -> guest
# for as long. N rounds (default 3), alternating VMMs; the last also gives
# pvhboot's VMM RSS with the NIC (--verbose). Prints raw numbers
# (min/median/max MB/s) and the pvhboot/QEMU ratio of the medians. On the
# emulated machine the figures are labelled "emulated": ratios only.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-3}
seconds=${NET_BENCH_SECONDS:-5}
work=build/bench-net
rm -rf "$work" && mkdir -p "$work"
make -s VARIANT=static variant
cc -static -O2 -Wall -Wextra -Werror -o "$work/netbench" bench/netbench.c 2>&1 | grep -v 'statically linked' || true
[ -x "$work/netbench" ]
kdir=$(tests/lib/debian-kernel.sh)
[ -s "$kdir/modules/tun.ko" ]
. bench/qemu-carry.sh
carry_qemu "$work"

# The guest's test: its address, the host reachable, then both directions.
cat >"$work/test-init" <<TEST
#!/bin/sh
ip link set lo up
ip addr add 10.0.0.2/24 dev eth0 && ip link set eth0 up
echo PVHBOOT-BENCH-INIT
n=0
until ping -c 1 -W 1 10.0.0.1 >/dev/null 2>&1 || [ \$n -ge 60 ]; do n=\$((n + 1)); done
/netbench send 10.0.0.1 5001 $seconds
/netbench recv 10.0.0.1 5002 h2g
exit 0
TEST
tests/lib/virtio-initramfs.sh "$kdir" "$work/initrd.cpio" --init "$work/test-init" \
    --file "$work/netbench:/netbench" >/dev/null

cat >"$work/inner.sh" <<INNER
QEMU_INSIDE="$QEMU_INSIDE"
SECONDS_EACH=$seconds
INNER
cat >>"$work/inner.sh" <<'INNER'
# Inside the machine with KVM: tap0, then N rounds alternating VMMs.
n=$1
tar -xf qemu.tar
insmod tun.ko
tunctl -t tap0 >/dev/null
ip addr add 10.0.0.1/24 dev tap0
ip link set tap0 up
mac=52:54:00:12:34:56
cmdline="console=ttyS0 reboot=k panic=-1 quiet"
qemu="$QEMU_INSIDE -M microvm -accel kvm -cpu host -m 512 -smp 1 -nodefaults -no-user-config -nographic -serial stdio -no-reboot"
qnet="-netdev tap,id=n0,ifname=tap0,script=no,downscript=no -device virtio-net-device,netdev=n0,mac=$mac"
measure() { # VMM COMMAND...: one run, the host's side of both directions around it
    vmm=$1
    shift
    ./netbench sink 5001 g2h >sink.out 2>&1 &
    sink=$!
    ./netbench source 5002 "$SECONDS_EACH" >source.out 2>&1 &
    source=$!
    "$@" >vm.out 2>&1
    echo "RESULT vmm=$vmm case=exit status=$?"
    kill $sink $source 2>/dev/null
    wait $sink $source 2>/dev/null
    grep -h '^NET-RESULT' sink.out vm.out | sed "s/^NET-RESULT/RESULT vmm=$vmm case=io/"
    grep -h 'NET-ERROR' sink.out source.out vm.out | sed "s/^/RESULT vmm=$vmm case=error /"
    grep -E '^pvhboot: memory:' vm.out | sed 's/^/RSS1 /'
}
i=0
while [ "$i" -lt "$n" ]; do
    i=$((i + 1))
    verbose=""
    [ "$i" -eq "$n" ] && verbose=--verbose
    measure pvhboot ./pvhboot run vmlinux --initrd initrd.cpio --mem 512 --rng --net tap=tap0,mac=$mac \
        --cmdline "$cmdline" --timeout 600 $verbose
    measure qemu busybox timeout 600 $qemu -kernel vmlinux -initrd initrd.cpio -append "$cmdline" $qnet \
        -device virtio-rng-device
done
INNER

where=$work/kvm-path.txt
tests/kvm/with-kvm.sh --mem 2048 --file build/static/pvhboot --file "$work/netbench" --file "$kdir/vmlinux" \
    --file "$kdir/modules/tun.ko" --file "$work/initrd.cpio" --file "$work/qemu.tar" --file "$work/inner.sh" \
    -- sh inner.sh "$n" 2>"$where" | tee "$work/raw.txt" | grep -E '^(RESULT|RSS1)' >"$work/results.txt" || true
label=$(grep -m1 '^# kvm:' "$where" || echo "# kvm: unknown")
python3 bench/net_table.py "$work/results.txt" "$label" "$n"
