#!/usr/bin/env bash
# CI's run of the API benchmark (bench/api.sh, 1 round): the first-instruction
# guest and Debian's kernel to /init through `pvhboot run` and through the API
# (InstanceStart), callgrind's instruction counts of both paths up to the first
# KVM_RUN, and the API server's idle RSS; the table is printed (as TAP
# comments) with the KVM path it ran on, labelled "emulated" when that was the
# emulated machine. The checks: every round ended with its figures, both paths
# set the guest up the same way, the idle RSS is within 3 MiB.
set -u
cd "$(dirname "$0")/../.."
out=$(bench/api.sh "${BENCH_ROUNDS:-1}" 2>&1)
rc=$?
sed 's/^/# /' <<<"$out" | grep -v '^# RESULT' | tail -32
echo "1..4"
[ "$rc" -eq 0 ] && echo "ok 1 - bench/api.sh: every round ended with its figures, the same plan both ways, idle RSS <= 3 MiB" ||
    echo "not ok 1 - bench/api.sh exited $rc"
grep -q "api: InstanceStart sent -> first guest instruction .*[0-9] / [0-9].* / [0-9]" <<<"$out" &&
    echo "ok 2 - InstanceStart -> first instruction has figures" || echo "not ok 2 - InstanceStart -> first instruction"
grep -q "api: InstanceStart sent -> /init .*[0-9] / [0-9].* / [0-9]" <<<"$out" &&
    echo "ok 3 - InstanceStart -> /init has figures" || echo "not ok 3 - InstanceStart -> /init"
grep -q "the API's cost (difference) *-\?[0-9,]*$" <<<"$out" &&
    echo "ok 4 - callgrind: both paths counted" || echo "not ok 4 - callgrind figures"
