#!/usr/bin/env bash
# `make demo`: builds pvhboot and the guest SDK quietly (the log goes to
# build/demo-build.log and is shown only when the build fails), boots the
# bundled hello64 guest with pvhboot, shows the guest's console and
# pvhboot's --verbose report with a line saying what each is, and ends with
# a one-line summary: what was proved and the real time it took. Uses the
# host's /dev/kvm when it works, else the emulated machine of
# tests/kvm/with-kvm.sh (the first run fetches Debian's kernel for it).
set -u
cd "$(dirname "$0")/.."
t0=$(date +%s%N)
secs() { awk -v a="$1" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }'; }
mkdir -p build
log=build/demo-build.log
if ! { make VARIANT=static variant && make -C guest; } >"$log" 2>&1; then
    tail -20 "$log"
    echo "make demo: the build failed (above: the end of $log)"
    exit 1
fi
echo "make demo: built pvhboot and the guest SDK in $(secs "$t0") s (quiet; the log is $log)"
echo "make demo: pvhboot run guest/build/hello64 --cmdline 'hello from make demo' --verbose"
echo "           hello64 is a 9 KiB PVH kernel (guest/): it prints what pvhboot handed it, then exits through port 0xf4"
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT
t1=$(date +%s%N)
tests/kvm/with-kvm.sh --file build/static/pvhboot --file guest/build/hello64 -- \
    ./pvhboot run hello64 --cmdline "'hello from make demo'" --verbose >"$out" 2>"$err"
rc=$?
kvm=$(sed -n 's/^# kvm: //p' "$err" | head -1)
case $kvm in
    host*) where="this machine's /dev/kvm" ;;
    emulated*) where="KVM inside an emulated machine (no usable /dev/kvm here: QEMU TCG with nested KVM, docs/kvm-tests.md)" ;;
    *) where="no KVM (the harness said: $(tail -1 "$err"))" ;;
esac
echo "make demo: running on $where"
echo "---- the guest's console (COM1): start_info at %ebx, the command line, the memory map (type 1 RAM, 2 reserved, 3 ACPI)"
grep -v '^pvhboot: ' "$out"
echo "---- pvhboot's report (--verbose): load time, times from process start, VM exits, memory"
grep '^pvhboot: ' "$out"
if [ "$rc" -eq 0 ] && grep -q '^cmdline=hello from make demo$' "$out" && grep -q '^exit=0$' "$out"; then
    echo "make demo: hello64 booted through PVH on $(echo "$kvm" | cut -d' ' -f1) KVM, read the start_info, command line and" \
         "memory map pvhboot wrote, and exited with status 0: $(secs "$t0") s in all ($(secs "$t1") s for the boot)"
else
    [ -s "$err" ] && sed 's/^/  /' "$err" | tail -20
    echo "make demo: FAILED: pvhboot exited with status $rc after $(secs "$t0") s (the harness's messages are above)"
    exit 1
fi
