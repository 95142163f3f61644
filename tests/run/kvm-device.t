#!/usr/bin/env bash
# `pvhboot run` when /dev/kvm cannot be used (no KVM needed): the device
# cannot be opened (permission denied: the exact sentence), is not a KVM
# device, or is missing behind QEMU's option spellings. Each: exit 1, one
# line on stderr, no sanitizer report (build/san/pvhboot).
set -u
cd "$(dirname "$0")/../.." || exit 1
B=build/san/pvhboot
[ -x "$B" ] || make -s VARIANT=san variant >&2
make -s -C guest >/dev/null 2>&1
G=guest/build
tmp=$(mktemp -d) && trap 'rm -rf "$tmp"' EXIT
n=0
result() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }
check() { # DESCRIPTION RC PATTERN: the last run's status, one stderr line matching PATTERN
    local lines
    lines=$(wc -l <"$tmp/err")
    if [ "$2" = 1 ] && [ "$lines" = 1 ] && grep -qE -- "$3" "$tmp/err" && ! grep -q Sanitizer "$tmp/err"; then
        result 0 "$1 (exit $2)"
    else
        result 1 "$1: exit $2, $lines stderr lines"
        sed 's/^/#   /' "$tmp/err" | head -5
    fi
}
echo "1..3"
chmod 755 "$tmp" && : >"$tmp/kvm" && chmod 600 "$tmp/kvm"
if [ "$(id -u)" = 0 ]; then
    setpriv --reuid=65534 --regid=65534 --clear-groups "$B" run "$G/hello64" --kvm-device "$tmp/kvm" >/dev/null 2>"$tmp/err" </dev/null
else
    chmod 000 "$tmp/kvm"
    "$B" run "$G/hello64" --kvm-device "$tmp/kvm" >/dev/null 2>"$tmp/err" </dev/null
fi
check "unopenable device: permission denied sentence" $? "^pvhboot: $tmp/kvm: permission denied — add yourself to the kvm group \(sudo usermod -aG kvm \\\$USER, then log in again; README.md: Getting KVM\)\$"
"$B" run "$G/hello64" --kvm-device /dev/null >/dev/null 2>"$tmp/err" </dev/null
check "a file that is not a KVM device" $? "^pvhboot: /dev/null: not a KVM device"
"$B" -kernel "$G/hello64" -m 64 -smp 2 -append x=1 --kvm-device "$tmp/none" >/dev/null 2>"$tmp/err" </dev/null
check "QEMU spellings reach KVM: missing device sentence" $? "^pvhboot: $tmp/none: no such device — this machine has no KVM: load kvm_intel or kvm_amd \(modprobe\), .* \(README.md: Getting KVM; man pvhboot\)\$"
