#!/usr/bin/env bash
# virtio-net's options refused before any TAP is opened (no root, no
# /dev/net/tun needed; the options accepted, their QEMU spellings and the
# TAP's own errors are tests/run/net.t's, in the machine with KVM where the
# test is root): --net tap=NAME[,mac=MAC][,mtu=N] with a bad name, MAC or
# MTU, a key it does not have, one TAP twice, more than 8 NICs; QEMU's
# -netdev of another type than tap, without id= or ifname=, with vhost=on,
# a script or queues=2, an unclaimed one, a -device naming none; -nic with
# another model. Each exits 2 with one line naming the fix.
set -u
cd "$(dirname "$0")/../.."
bin=build/san/pvhboot
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
make -s -C guest >/dev/null 2>&1
k=guest/build/hello64
nine=""
for i in 0 1 2 3 4 5 6 7 8; do nine+=" --net tap=t$i"; done
# what | the line on stderr (after "pvhboot: run: ") must hold this | arguments
refused=(
  "no tap=|--net: tap=NAME is missing (pvhboot's NICs are host TAP devices|run $k --net mac=02:00:00:00:00:01"
  "a name with a slash|--net: tap name 'a/b': printable characters other than / : % and spaces only|run $k --net tap=a/b"
  "a template name|tap name 'tap%d': printable characters other than|run $k --net tap=tap%d"
  "a name of 16 characters|tap name 'abcdefghijklmnop': 1 to 15 characters|run $k --net tap=abcdefghijklmnop"
  "an empty name|tap name '': 1 to 15 characters|run $k --net tap="
  "a multicast MAC|mac=01:00:5e:00:00:01: a multicast address (its first byte is odd)|run $k --net tap=t,mac=01:00:5e:00:00:01"
  "a short MAC|mac=02:00:00:00:00: expected six hex pairs such as 02:00:00:00:00:01|run $k --net tap=t,mac=02:00:00:00:00"
  "a MAC with a bad digit|mac=02:00:00:00:00:0g: expected six hex pairs|run $k --net tap=t,mac=02:00:00:00:00:0g"
  "a zero MAC|mac=00:00:00:00:00:00: not an address a NIC may have|run $k --net tap=t,mac=00:00:00:00:00:00"
  "an MTU of 67|mtu=67: an MTU from 68 to 65535|run $k --net tap=t,mtu=67"
  "an MTU of 65536|mtu=65536: an MTU from 68 to 65535|run $k --net tap=t,mtu=65536"
  "a signed MTU|mtu=+1500: an MTU from 68 to 65535|run $k --net tap=t,mtu=+1500"
  "an unknown key|--net: 'queues=2' is not supported (pvhboot: --net tap=NAME[,mac=MAC][,mtu=N])|run $k --net tap=t,queues=2"
  "one TAP twice|--net tap=t: that TAP is this VM's already (one NIC per TAP)|run $k --net tap=t --net tap=t,mac=02:00:00:00:00:01"
  "nine NICs|--net tap=t8: at most 8 NICs|run $k$nine"
  "-netdev user|-netdev user: pvhboot's NICs are host TAP devices: -netdev tap,id=ID,ifname=NAME with -device virtio-net-device,netdev=ID, or --net tap=NAME|run $k -netdev user,id=n"
  "-netdev bridge|-netdev bridge: pvhboot's NICs are host TAP devices|run $k -netdev bridge,id=n,br=br0"
  "-netdev without id=|-netdev tap: id=ID is missing|run $k -netdev tap,ifname=t"
  "-netdev without ifname=|-netdev tap,id=n: ifname=NAME is missing (pvhboot opens the TAP by its name)|run $k -netdev tap,id=n -device virtio-net-device,netdev=n"
  "-netdev vhost=on|vhost=on: pvhboot has no vhost-net|run $k -netdev tap,id=n,ifname=t,vhost=on"
  "-netdev with a script|script=/etc/qemu-ifup: pvhboot runs no scripts; set the TAP up beforehand|run $k -netdev tap,id=n,ifname=t,script=/etc/qemu-ifup"
  "-netdev queues=2|queues=2: pvhboot's NICs have one queue pair|run $k -netdev tap,id=n,ifname=t,queues=2"
  "-netdev fd=|'fd=3' is not supported (pvhboot: -netdev tap,id=ID,ifname=NAME, or --net tap=NAME)|run $k -netdev tap,id=n,fd=3"
  "-netdev id twice|-netdev: id=n is given twice|run $k -netdev tap,id=n,ifname=a -netdev tap,id=n,ifname=b"
  "an unclaimed -netdev|-netdev tap,id=n,ifname=t: no -device virtio-net-device,netdev=n uses it|run $k -netdev tap,id=n,ifname=t"
  "-device naming no -netdev|-device virtio-net-device: netdev=n: no -netdev tap,id=n before it|run $k -device virtio-net-device,netdev=n"
  "-device without netdev=|-device virtio-net-device: netdev=ID is missing|run $k -netdev tap,id=n,ifname=t -device virtio-net-device"
  "-device with a bad host_mtu|host_mtu=20: an MTU from 68 to 65535|run $k -netdev tap,id=n,ifname=t -device virtio-net-device,netdev=n,host_mtu=20"
  "-device with an unknown key|-device virtio-net-device: 'bus=virtio-mmio-bus.0' is not supported (netdev=ID, mac=MAC, host_mtu=N)|run $k -netdev tap,id=n,ifname=t -device virtio-net-device,netdev=n,bus=virtio-mmio-bus.0"
  "-nic e1000|-nic: model=e1000: pvhboot's NICs are virtio-net (model=virtio-net-device)|run $k -nic tap,ifname=t,model=e1000"
  "-nic user|-nic user: pvhboot's NICs are host TAP devices: -nic tap,ifname=NAME, or --net tap=NAME|run $k -nic user"
  "-nic without ifname=|-nic tap: ifname=NAME is missing|run $k -nic tap,model=virtio-net-device"
  "-net|QEMU's -net is not supported: pvhboot's NICs are host TAP devices: --net tap=NAME|run $k -net nic"
)
echo "1..$(( ${#refused[@]} + 1 ))"
n=0
for c in "${refused[@]}"; do
    IFS='|' read -r what want args <<<"$c"
    n=$((n + 1))
    # shellcheck disable=SC2086
    $bin $args >"$tmp/out" 2>"$tmp/err"
    rc=$?
    if [ "$rc" -eq 2 ] && grep -qF -- "$want" "$tmp/err" && [ "$(wc -l <"$tmp/err")" -eq 1 ] &&
       grep -q '^pvhboot: run: ' "$tmp/err"; then
        echo "ok $n - $what: exit 2: $(cat "$tmp/err")"
    else
        echo "not ok $n - $what: exit $rc, want '$want'"
        sed 's/^/# /' "$tmp/err" | head -3
    fi
done
n=$((n + 1))
$bin run --help >"$tmp/out" 2>&1
if grep -q -- '--net tap=NAME\[,mac=MAC\]\[,mtu=N\]' "$tmp/out" && grep -q -- '-netdev tap,id=ID,ifname=NAME' "$tmp/out"; then
    echo "ok $n - run --help names --net and its QEMU spelling"
else
    echo "not ok $n - run --help lacks --net"
fi
