#!/usr/bin/env bash
# CI's run of the boot benchmark (bench/boot.sh, 2 rounds): pvhboot and QEMU
# microvm each boot the first-instruction guest and Debian's kernel to /init;
# the table is printed (as TAP comments) with the KVM path it ran on, labelled
# "not meaningful for speed" when that was the emulated machine. The checks:
# every run of both VMMs ended well and produced every figure.
set -u
cd "$(dirname "$0")/../.."
out=$(bench/boot.sh "${BENCH_ROUNDS:-2}" 2>&1)
rc=$?
sed 's/^/# /' <<<"$out" | grep -v '^# RESULT' | tail -16
echo "1..3"
[ "$rc" -eq 0 ] && echo "ok 1 - bench/boot.sh: every run of both VMMs ended with its figures" ||
    echo "not ok 1 - bench/boot.sh exited $rc"
grep -q "start -> first guest instruction (us) .*[0-9]/[0-9].*[0-9]/[0-9]" <<<"$out" &&
    echo "ok 2 - first-instruction row has pvhboot and QEMU figures" || echo "not ok 2 - first-instruction row"
grep -q "start -> /init (us) .*[0-9]/[0-9].*[0-9]/[0-9]" <<<"$out" &&
    echo "ok 3 - /init row has pvhboot and QEMU figures" || echo "not ok 3 - /init row"
