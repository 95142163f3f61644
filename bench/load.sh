#!/usr/bin/env bash
# bench/load.sh [N] — loading Debian's vmlinux into guest RAM, copy vs mapping.
#  1. bench_load: N loads (default 50) of the 53 MB vmlinux's PT_LOAD segments
#     into fresh 512 MiB guest RAM with each mode, alternated; min/median/max µs.
#  2. callgrind: instructions executed by `pvhboot run vmlinux --initrd
#     (16 MiB) --dry-run` with each --load mode: the whole process, and inside
#     pvh_vm_run (open, parse, plan, guest RAM, loading, boot data): the setup
#     path up to where the first KVM_RUN would be (--dry-run stops before KVM;
#     KVM's own ioctls are kernel work callgrind would not count anyway).
#  3. callgrind: the static binary's whole process for `pvhboot run
#     guest/build/hello64 --dry-run`, without devices and with two drives
#     (issue 13's bound: <= 150,000 instructions with two drives), in an
#     empty environment (env -i): static glibc's start-up reads every
#     variable against its tunables, ~500 instructions each, which would
#     make the figure the caller's environment's rather than pvhboot's.
# Release and static builds; no KVM needed. Instruction counts repeat on noisy
# machines.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-50}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
make -s VARIANT=release variant
kdir=$(tests/lib/debian-kernel.sh)
vmlinux=$kdir/vmlinux
cat "$vmlinux" >/dev/null # in the page cache: time loading, not the disk
head -c 16M /dev/urandom >"$work/initrd"
echo "== bench_load ($(nproc) CPUs, $(uname -r))"
build/release/bench/bench_load "$vmlinux" "$n"
echo "== callgrind: pvhboot run vmlinux --initrd (16 MiB) --dry-run (instructions executed)"
printf '%-6s %16s %16s\n' mode "whole process" "pvh_vm_run"
declare -A ir
for mode in copy map; do
    for scope in whole setup; do
        toggle=(); [ "$scope" = setup ] && toggle=(--toggle-collect=pvh_vm_run)
        valgrind --tool=callgrind "${toggle[@]}" --callgrind-out-file="$work/cg" \
            build/release/pvhboot run "$vmlinux" --initrd "$work/initrd" --dry-run --load "$mode" >/dev/null 2>"$work/vg"
        ir[$mode.$scope]=$(sed -n 's/^summary: //p' "$work/cg")
    done
    printf '%-6s %16s %16s\n' "$mode" "${ir[$mode.whole]}" "${ir[$mode.setup]}"
done
awk -v c="${ir[copy.setup]}" -v m="${ir[map.setup]}" 'BEGIN{printf "pvh_vm_run copy/map instruction ratio: %.1f\n", c/m}'
make -s VARIANT=static variant 2>/dev/null
make -s -C guest
truncate -s 64M "$work/drive0.img" "$work/drive1.img"
echo "== callgrind: static pvhboot run guest/build/hello64 --dry-run (whole process, env -i)"
for drives in 0 2; do
    args=(); [ "$drives" = 2 ] && args=(--drive "$work/drive0.img" --drive "$work/drive1.img")
    env -i "$(command -v valgrind)" --tool=callgrind --callgrind-out-file="$work/cg" \
        build/static/pvhboot run guest/build/hello64 --dry-run "${args[@]}" >/dev/null 2>"$work/vg"
    printf 'hello64 with %d drives: %s instructions\n' "$drives" "$(sed -n 's/^summary: //p' "$work/cg")"
done
