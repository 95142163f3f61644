#!/usr/bin/env bash
# Boots the guest SDK images (hello32, hello64, probe) under QEMU TCG, -M pc
# and -M microvm, and asserts on their serial output: the exact command
# line, the module size (stat of the file), usable RAM against -m, the exit
# status through isa-debug-exit ((status << 1) | 1), and the checker's grade
# of the probe (every MUST passes; pvhboot profile recorded).
set -u
cd "$(dirname "$0")/../.."
G=guest/build
make -s -C guest >&2 || { echo "1..1"; echo "not ok 1 - make -C guest"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
head -c 12345 /dev/urandom >"$work/module.bin"
modsize=$(stat -c %s "$work/module.bin")
cmdline='console=ttyS0 pvh.test="two words" x=1'
n=0
ok() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }

# boot MACHINE MEM IMAGE LOG: sets rc
boot() {
    local machine=$1 mem=$2 image=$3 log=$4 mopts=(-M pc)
    [ "$machine" = microvm ] && mopts=(-M microvm -nodefaults -no-user-config)
    timeout 60 qemu-system-x86_64 -accel tcg "${mopts[@]}" -m "$mem" -kernel "$image" \
        -initrd "$work/module.bin" -append "$cmdline" \
        -device isa-debug-exit,iobase=0xf4,iosize=4 -display none -monitor none \
        -serial "file:$log" -no-reboot </dev/null >/dev/null 2>"$log.err"
    rc=$?
}

# usable RAM from "memmap N addr=.. size=.. type=1" lines must be -m minus at
# most 1 MiB (the 640K-1M legacy hole plus firmware-reserved pages).
usable_ok() {
    local log=$1 mem=$2 printed sum
    printed=$(sed -n 's/^usable_ram=\([0-9]*\).*/\1/p' "$log")
    sum=0
    while read -r _ _ _ size type; do
        [ "$type" = type=1 ] && sum=$((sum + ${size#size=}))
    done < <(grep -E '^memmap [0-9]+ addr=' "$log")
    [ -n "$printed" ] && [ "$printed" = "$sum" ] &&
        [ "$sum" -le $((mem << 20)) ] && [ "$sum" -ge $(((mem - 1) << 20)) ]
}

echo "1..40"
for machine in pc microvm; do
    for mem in 256 1000; do
        for image in hello32 hello64; do
            log="$work/$machine-$mem-$image.log"
            boot "$machine" "$mem" "$G/$image" "$log"
            tr -d '\r' <"$log" >"$log.txt"
            t="$image -M $machine -m $mem"
            ok $([ "$rc" = 1 ] && echo 0 || echo 1) "$t: exit status (0<<1)|1 = 1 (got $rc)"
            ok $(grep -qxF "cmdline=$cmdline" "$log.txt" && echo 0 || echo 1) "$t: exact command line"
            ok $(grep -qE "^module 0 paddr=0x[0-9a-f]+ size=$modsize cmdline=" "$log.txt" && echo 0 || echo 1) \
                "$t: module size = file size $modsize"
            ok $(usable_ok "$log.txt" "$mem" && echo 0 || echo 1) "$t: usable RAM consistent with -m $mem"
        done
    done
    log="$work/$machine-probe.log"
    boot "$machine" 256 "$G/probe" "$log"
    ok $([ "$rc" = 1 ] && echo 0 || echo 1) "probe -M $machine: exit status 1 (got $rc)"
    python3 tests/conformance/checker.py "$log" --expect-cmdline "$cmdline" \
        --expect-module "$modsize" --ram-mb 256 >"$log.grade"
    grc=$?
    sed 's/^/# /' "$log.grade"
    ok "$grc" "probe -M $machine: every MUST item passes (checker status $grc)"
    python3 tests/conformance/checker.py "$log" --profile pvhboot >"$log.pvhboot"
    prc=$?
    echo "# pvhboot profile under QEMU -M $machine (recorded, not asserted): $(tail -1 "$log.pvhboot" | sed 's/^# //'), status $prc"
    grep -qx 'end=1' "$log" 2>/dev/null || tr -d '\r' <"$log" | grep -qx 'end=1'
    ok $? "probe -M $machine: report complete"
done
# The status value travels: hello32 exits with N given as pvh.exit=N.
cmdline='pvh.exit=5'
boot pc 64 "$G/hello32" "$work/exit5.log"
ok $([ "$rc" = 11 ] && echo 0 || echo 1) "hello32 pvh.exit=5: QEMU exit status (5<<1)|1 = 11 (got $rc)"
for image in hello32 hello64 probe; do size=$(stat -c %s $G/$image); echo "# $image: $size bytes"; done
size=$(stat -c %s $G/hello32)
ok $([ "$size" -lt 16384 ] && echo 0 || echo 1) "hello32 is a few KiB ($size bytes)"
