#!/usr/bin/env bash
# bench/vsock.sh [N] — vsock stream throughput and connection setup, pvhboot's
# hybrid vsock (userspace, --vsock) vs QEMU's vhost-vsock-device (the
# in-kernel vhost path, /dev/vhost-vsock), side by side in one run of the
# machine with KVM. Same Debian 6.1 cloud kernel and busybox initramfs for
# both (-M microvm -accel kvm for QEMU, 512 MiB, 1 vCPU), same guest program
# and the same host-side client (tests/vsock/vsockpeer): on pvhboot it speaks
# Firecracker's protocol on the UNIX socket ("CONNECT 5000\n"), on QEMU plain
# AF_VSOCK to CID 3 on the machine's kernel (vhost_iotlb, vhost, vsock,
# vmw_vsock_virtio_transport_common and vhost_vsock loaded from the same
# kernel package: tests/lib/vhost-modules.sh). Per round and VMM:
#   setup   50 connections one after another, each to its first echoed byte
#           (pvhboot: connect + CONNECT + OK; QEMU: connect)
#   h2g     BENCH_VSOCK_MIB MiB (default 64) host -> guest, to the guest's
#           sink, timed on the host until the guest's count comes back
#   g2h     the same guest -> host, timed by the host's sink
# N rounds (default 3), alternating VMMs. Prints raw numbers (min/median/max)
# and pvhboot/QEMU ratios of the medians, with the targets (throughput >= 0.5
# of QEMU's); on the emulated machine the figures are labelled: ratios only.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-3}
mib=${BENCH_VSOCK_MIB:-64}
work=build/bench-vsock
rm -rf "$work" && mkdir -p "$work"
make -s VARIANT=static variant
cc -static -O2 -Wall -Wextra -Werror -o "$work/vsockpeer" tests/vsock/vsockpeer.c
kdir=$(tests/lib/debian-kernel.sh)
vhost=$(tests/lib/vhost-modules.sh "$kdir")
. bench/qemu-carry.sh
carry_qemu "$work"
tar -C "$vhost" -cf "$work/vhost.tar" .

cat >"$work/test-init" <<TEST
#!/bin/sh
/vsockpeer serve vsock:5000 >/dev/null 2>&1 &
/vsockpeer sink vsock:5001 >/dev/null
/vsockpeer send vsock:2:6001 $((mib << 20)) >/dev/null
/vsockpeer sink vsock:5999 >/dev/null
exit 0
TEST
tests/lib/virtio-initramfs.sh "$kdir" "$work/initrd.cpio" --init "$work/test-init" \
    --file "$work/vsockpeer:/vsockpeer" >/dev/null

cat >"$work/inner.sh" <<INNER
QEMU_INSIDE="$QEMU_INSIDE"
BYTES=$((mib << 20))
INNER
cat >>"$work/inner.sh" <<'INNER'
# Inside the machine with KVM: the vhost modules, then N rounds alternating VMMs.
n=$1
tar -xf qemu.tar
mkdir -p vhost && tar -C vhost -xf vhost.tar
for m in $(cat vhost/order); do insmod vhost/$m.ko || echo "VHOST-INSMOD-FAIL $m"; done
[ -c /dev/vhost-vsock ] || echo "VHOST-MISSING /dev/vhost-vsock"
p=./vsockpeer
cmdline="console=ttyS0 reboot=k panic=-1 quiet"
qemu="$QEMU_INSIDE -M microvm -accel kvm -cpu host -m 512 -smp 1 -nodefaults -no-user-config -nographic -serial stdio -no-reboot"
# one VMM: NAME GUEST-ADDR-PREFIX HOST-SINK-ADDR COMMAND...
round() {
    name=$1 to_guest=$2 host_sink=$3
    shift 3
    "$@" >vm.$name.log 2>&1 &
    vm=$!
    i=0
    while [ $i -lt 600 ] && ! $p setup ${to_guest}5000 1 >/dev/null 2>&1; do busybox sleep 0.2; i=$((i + 1)); done
    echo "RESULT vmm=$name $($p setup ${to_guest}5000 50)"
    $p sink $host_sink >sink.$name.log 2>&1 &
    sink=$!
    echo "RESULT vmm=$name h2g $($p send ${to_guest}5001 $BYTES)"
    wait $sink
    echo "RESULT vmm=$name g2h $(busybox cat sink.$name.log | busybox grep SINK-OK)"
    i=0
    while [ $i -lt 100 ] && ! $p send ${to_guest}5999 1 >/dev/null 2>&1; do busybox sleep 0.2; i=$((i + 1)); done
    wait $vm
    echo "RESULT vmm=$name exit=$?"
    busybox grep -E "^pvhboot: (memory|virtio-vsock)" vm.$name.log | busybox sed "s/^/RESULT vmm=$name /"
}
k=0
while [ "$k" -lt "$n" ]; do
    k=$((k + 1))
    round pvhboot hybrid:/tmp/v.sock: unix:/tmp/v.sock_6001 \
        ./pvhboot run vmlinux --initrd initrd.cpio --mem 512 --vsock cid=3,uds=/tmp/v.sock --verbose --cmdline "$cmdline"
    round qemu vsock:3: vsock:6001 \
        $qemu -kernel vmlinux -initrd initrd.cpio -append "$cmdline" -device vhost-vsock-device,guest-cid=3
done
INNER

where=$work/kvm-path.txt
tests/kvm/with-kvm.sh --mem 2560 --file build/static/pvhboot --file "$work/vsockpeer" --file "$kdir/vmlinux" \
    --file "$work/initrd.cpio" --file "$work/qemu.tar" --file "$work/vhost.tar" --file "$work/inner.sh" \
    -- sh inner.sh "$n" 2>"$where" | tee "$work/raw.txt" | grep -E '^(RESULT|VHOST)' >"$work/results.txt" || true
label=$(grep -m1 '^# kvm:' "$where" || echo "# kvm: unknown")
python3 bench/vsock_table.py "$work/results.txt" "$label" "$mib"
