#!/usr/bin/env bash
# CI's run of the virtio-net benchmark (bench/net.sh, 1 round of 3 s per
# direction): pvhboot's virtio-net and QEMU microvm's virtio-net-device on
# the same TAP, the same guest and host programs; the table is printed (as
# TAP comments) with the KVM path it ran on, labelled when that was the
# emulated machine. The checks: both VMMs produced both figures, and
# pvhboot's own RSS with a NIC stays within 2 MiB; the throughput ratio
# (target: >= 1.0) is judged only where KVM is the host's (on the emulated
# machine timings mean little).
set -u
cd "$(dirname "$0")/../.."
start=$(date +%s)
out=$(NET_BENCH_SECONDS=${NET_BENCH_SECONDS:-3} bench/net.sh "${BENCH_ROUNDS:-1}" 2>&1)
rc=$?
sed 's/^/# /' <<<"$out" | grep -v '^# RESULT' | tail -8
echo "# bench/net.sh took $(( $(date +%s) - start )) s"
echo "1..4"
[ "$rc" -eq 0 ] && echo "ok 1 - bench/net.sh: every run of both VMMs ended with its figures" ||
    echo "not ok 1 - bench/net.sh exited $rc"
rows=$(grep -cE "^  TCP .* [0-9.]+/[0-9.]+/[0-9.]+ +[0-9.]+/[0-9.]+/[0-9.]+ +[0-9.]+$" <<<"$out")
[ "$rows" -eq 2 ] && echo "ok 2 - two throughput rows with pvhboot's and QEMU's figures and a ratio" ||
    echo "not ok 2 - throughput rows with both VMMs' figures: $rows of 2"
rss=$(sed -n 's/.*with a NIC: \([0-9]*\) KiB.*/\1/p' <<<"$out")
[ -n "$rss" ] && [ "$rss" -le 2048 ] && echo "ok 3 - pvhboot's VMM RSS with a NIC: $rss KiB (<= 2048)" ||
    echo "not ok 3 - pvhboot's VMM RSS with a NIC: ${rss:-?} KiB (<= 2048 wanted)"
ratio=$(sed -n 's/^  TCP guest -> host .* \([0-9.]*\)$/\1/p' <<<"$out")
if grep -q '^bench/net: kvm: host' <<<"$out"; then
    awk -v r="${ratio:-0}" 'BEGIN { exit !(r >= 1.0) }' && echo "ok 4 - guest -> host throughput ratio $ratio >= 1.0 (host KVM)" ||
        echo "not ok 4 - guest -> host throughput ratio ${ratio:-?} < 1.0 (host KVM)"
else
    echo "ok 4 - guest -> host throughput ratio ${ratio:-?} (emulated machine: reported, not judged)"
fi
