#!/usr/bin/env bash
# Replays every crash reproducer and crafted edge case in
# tests/fuzz/regressions/NAME/ once through build/fuzz/fuzz_NAME (one TAP
# line per file: ok when the harness finds nothing and the input takes under
# 3 s: some are slow inputs, milliseconds once fixed), then runs every libFuzzer
# harness built by `make fuzz-build` for FUZZ_SECONDS each (default 60, CI's
# setting; `make fuzz` uses 600), FUZZ_JOBS of them at once (default nproc). One TAP line per harness: ok when it ran at
# least one input and found no crash, leak or sanitizer report.
set -u
cd "$(dirname "$0")/../.."
seconds=${FUZZ_SECONDS:-60}
fuzzers=(build/fuzz/fuzz_*)
[ -x "${fuzzers[0]}" ] || { echo "1..1"; echo "not ok 1 - no fuzzer built (run make fuzz-build)"; exit 1; }
replays=()
for f in "${fuzzers[@]}"; do
    area=$(basename "$f"); area=${area#fuzz_}
    for r in tests/fuzz/regressions/"$area"/*; do
        [ -f "$r" ] && replays+=("$f $r")
    done
done
echo "1..$((${#replays[@]} + ${#fuzzers[@]}))"
n=0
for pair in "${replays[@]}"; do
    n=$((n + 1))
    f=${pair%% *} r=${pair#* }
    if out=$("$f" -runs=1 -timeout=3 "$r" 2>&1); then
        echo "ok $n - $(basename "$f") replays $r"
    else
        echo "not ok $n - $(basename "$f") replays $r"
        grep -m3 -E 'ERROR|SUMMARY|runtime error' <<<"$out" | sed 's/^/# /'
    fi
done
# The harnesses run FUZZ_JOBS at a time (default: one per CPU), each for its
# full FUZZ_SECONDS; their lines are printed in order once all have ended.
jobs=${FUZZ_JOBS:-$(nproc)}
lines=$(mktemp -d)
trap 'rm -rf "$lines"' EXIT
i=0
for f in "${fuzzers[@]}"; do
    while [ "$(jobs -pr | wc -l)" -ge "$jobs" ]; do wait -n; done
    i=$((i + 1))
    tests/fuzz/run-fuzzers.sh "$seconds" "$f" | head -1 >"$lines/$i" &
done
wait
for i in $(seq 1 "${#fuzzers[@]}"); do
    n=$((n + 1))
    line=$(cat "$lines/$i")
    execs=$(sed -n 's/.*: \([0-9]*\) execs.*/\1/p' <<<"$line")
    if [[ $line == *", 0 crashes"* ]] && [ "${execs:-0}" -gt 0 ]; then
        echo "ok $n - $line"
    else
        echo "not ok $n - ${line:-$(basename "${fuzzers[$((i - 1))]}"): no result}"
    fi
done
