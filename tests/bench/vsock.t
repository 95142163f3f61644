#!/usr/bin/env bash
# CI's run of the vsock benchmark (bench/vsock.sh, 1 round, 32 MiB streams):
# pvhboot's hybrid vsock and QEMU's in-kernel vhost-vsock-device driven by the
# same client and guest program; the table is printed (as TAP comments) with
# the KVM path it ran on, labelled when that was the emulated machine. The
# checks: the vhost modules loaded and both VMMs produced every figure (the
# same client worked against both), the table compares them (ratios printed
# against the 0.5 target; on the emulated machine they are not judged: the
# guest's emulation dominates there), and pvhboot's own RSS after a round of
# streams stays within 4 MiB.
set -u
cd "$(dirname "$0")/../.."
start=$(date +%s)
out=$(BENCH_VSOCK_MIB=${BENCH_VSOCK_MIB:-32} bench/vsock.sh "${BENCH_ROUNDS:-1}" 2>&1)
rc=$?
sed 's/^/# /' <<<"$out" | grep -v '^# RESULT' | tail -12
echo "# bench/vsock.sh took $(( $(date +%s) - start )) s"
echo "1..4"
[ "$rc" -eq 0 ] && echo "ok 1 - bench/vsock.sh: every run of both VMMs ended with its figures" ||
    echo "not ok 1 - bench/vsock.sh exited $rc"
rows=$(grep -cE "^  (host -> guest|guest -> host|connection setup).* [0-9.]+/[0-9.]+/[0-9.]+ +[0-9.]+/[0-9.]+/[0-9.]+ +[0-9.]+$" <<<"$out")
[ "$rows" -eq 3 ] && echo "ok 2 - three rows with pvhboot's and QEMU vhost-vsock's figures and a ratio" ||
    echo "not ok 2 - rows with both VMMs' figures: $rows of 3"
targets=$(grep -cE "^  target (host -> guest|guest -> host): pvhboot >= 0.5 x QEMU's vhost: (met|NOT met) \([0-9.]+\)" <<<"$out")
[ "$targets" -eq 2 ] && echo "ok 3 - both stream directions compared with the 0.5 target" ||
    echo "not ok 3 - target lines: $targets of 2"
rss=$(sed -n 's/.*after a round: \([0-9]*\) KiB at most.*/\1/p' <<<"$out")
[ -n "$rss" ] && [ "$rss" -le 4096 ] && echo "ok 4 - pvhboot's VMM RSS after a round of streams: $rss KiB (<= 4096)" ||
    echo "not ok 4 - pvhboot's VMM RSS after a round: ${rss:-?} KiB (<= 4096 wanted)"
