#!/usr/bin/env bash
# Input files that shrink while pvhboot reads them (no KVM needed). A racer
# truncates a copy of the file and grows it back, as fast as it can, while
# `pvhboot run --dry-run` (or inspect) reads it: parsing, hashing and
# extracting a bzImage, copying (--load copy) and mapping (--load map) the
# kernel's segments and a module. Every run must end by itself: exit 0, or
# exactly one line on stderr ("pvhboot: ...") and exit 1 or 2; never a
# signal (before the SIGBUS guard: exit 135, "Bus error"), never a sanitizer
# report. Release build for the many runs, the ASan+UBSan build for a few.
set -u
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
racer=
trap '[ -n "$racer" ] && kill "$racer" 2>/dev/null; rm -rf "$tmp"' EXIT
fail_all() { echo "1..1"; echo "not ok 1 - $*"; exit 1; }
make -s VARIANT=release variant >/dev/null 2>&1 || fail_all "cannot build build/release/pvhboot"
make -s -C guest >/dev/null 2>&1 || fail_all "cannot build the guest SDK"
kdir=$(tests/lib/debian-kernel.sh) || fail_all "cannot fetch the Debian kernel"
runs=${PVH_TRUNCATE_RUNS:-40}
export XDG_CACHE_HOME=$tmp/cache # bzImage payloads are extracted here

# racer FILE CUT: truncates FILE to CUT bytes and back to its size, forever
# (what lies past CUT reads as zeros after the first round).
start_racer() {
    python3 -c '
import os, sys
path, cut = sys.argv[1], int(sys.argv[2])
full = os.path.getsize(path)
while True:
    os.truncate(path, cut)
    os.truncate(path, full)
' "$1" "$2" &
    racer=$!
}
stop_racer() { kill "$racer" 2>/dev/null; wait "$racer" 2>/dev/null; racer=; }

n=0
# race NAME FILE CUT COUNT COMMAND...: COUNT runs of COMMAND while FILE (a
# fresh copy of the pristine $FILE.orig each time) races.
race() {
    local name=$1 file=$2 cut=$3 count=$4 ok=0 failed=0 bad=0 i rc lines first=
    shift 4
    cp "$file.orig" "$file"
    start_racer "$file" "$cut"
    for ((i = 0; i < count; i++)); do
        "$@" >"$tmp/out" 2>"$tmp/err"
        rc=$?
        lines=$(wc -l <"$tmp/err")
        if [ "$rc" -eq 0 ] && ! grep -q Sanitizer "$tmp/err"; then
            ok=$((ok + 1))
        elif { [ "$rc" -eq 1 ] || [ "$rc" -eq 2 ]; } && [ "$lines" -eq 1 ] && grep -q '^pvhboot: ' "$tmp/err"; then
            failed=$((failed + 1))
        else
            bad=$((bad + 1))
            [ -z "$first" ] && first="exit $rc, $lines lines: $(head -c 300 "$tmp/err" | tr '\n' '|')"
        fi
    done
    stop_racer
    n=$((n + 1))
    if [ "$bad" -eq 0 ]; then
        echo "ok $n - $name: $count runs under truncation: $ok exit 0, $failed one-line errors, no signal"
    else
        echo "not ok $n - $name: $bad of $count runs crashed or said more than one line (first: $first)"
    fi
}

cp "$kdir/vmlinux" "$tmp/vmlinux.orig"
cp "$kdir/vmlinuz" "$tmp/vmlinuz.orig"
head -c $((16 << 20)) /dev/urandom >"$tmp/module.orig"
head -c 123 /dev/urandom >>"$tmp/module.orig" # a partial last page
# Cut past the PVH note (the kernel still parses) and into the segments.
vmlinux_cut=$(((24 << 20) + 5))
rel=build/release/pvhboot san=build/san/pvhboot
echo "1..9"
race "vmlinux --load map" "$tmp/vmlinux" $vmlinux_cut "$runs" $rel run "$tmp/vmlinux" --dry-run --load map
race "vmlinux --load copy" "$tmp/vmlinux" $vmlinux_cut "$runs" $rel run "$tmp/vmlinux" --dry-run --load copy
race "module --load map" "$tmp/module" $((4 << 20)) "$runs" \
    $rel run guest/build/hello64 --initrd "$tmp/module" --dry-run --load map
race "module --load copy" "$tmp/module" $((4 << 20)) "$runs" \
    $rel run guest/build/hello64 --initrd "$tmp/module" --dry-run --load copy
race "vmlinuz (hashed, extracted)" "$tmp/vmlinuz" $((6 << 20)) $((runs / 4)) $rel run "$tmp/vmlinuz" --dry-run
race "inspect vmlinux" "$tmp/vmlinux" $vmlinux_cut $((runs / 2)) $rel inspect "$tmp/vmlinux"
race "inspect vmlinuz" "$tmp/vmlinuz" $((6 << 20)) $((runs / 4)) $rel inspect "$tmp/vmlinuz"
if [ -x "$san" ]; then
    race "ASan+UBSan: vmlinux --load copy" "$tmp/vmlinux" $vmlinux_cut $((runs / 4)) \
        $san run "$tmp/vmlinux" --dry-run --load copy
    race "ASan+UBSan: module --load map" "$tmp/module" $((4 << 20)) $((runs / 4)) \
        $san run guest/build/hello64 --initrd "$tmp/module" --dry-run
else
    n=$((n + 2)); echo "not ok 8 - no $san (make variant VARIANT=san)"; echo "not ok 9 - no $san"
fi
