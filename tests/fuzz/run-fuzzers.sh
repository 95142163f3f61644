#!/usr/bin/env bash
# Runs libFuzzer harnesses, each for SECONDS, under ASan+UBSan with leak
# detection, starting from its seed corpus (tests/fuzz/corpus/<name>/) and
# replaying its regression inputs (tests/fuzz/regressions/<name>/) first.
# Prints one line per harness: "<name>: <execs> execs, <crashes> crashes,
# <n> regression inputs replayed".
# Crash inputs are kept under build/fuzz/artifacts/ (turn them into
# regression files: copy them to tests/fuzz/regressions/<name>/).
# Usage: run-fuzzers.sh SECONDS build/fuzz/fuzz_X...   Exit: 1 if any crashed.
set -u
seconds=$1; shift
cd "$(dirname "$0")/../.."
mkdir -p build/fuzz/artifacts
status=0
for fuzzer in "$@"; do
    name=$(basename "$fuzzer"); area=${name#fuzz_}
    work=$(mktemp -d)
    [ -d "tests/fuzz/corpus/$area" ] && cp -r "tests/fuzz/corpus/$area/." "$work/"
    crashes=0 replayed=0
    if [ -d "tests/fuzz/regressions/$area" ] && ls "tests/fuzz/regressions/$area"/* >/dev/null 2>&1; then
        replayed=$(find "tests/fuzz/regressions/$area" -type f | wc -l)
        "$fuzzer" -runs=1 "tests/fuzz/regressions/$area"/* >"build/fuzz/$area.regressions.log" 2>&1 || crashes=$((crashes + 1))
    fi
    log=build/fuzz/$area.log
    "$fuzzer" -max_total_time="$seconds" -print_final_stats=1 -rss_limit_mb=2048 \
        -artifact_prefix="build/fuzz/artifacts/$area-" "$work" >"$log" 2>&1 || crashes=$((crashes + 1))
    execs=$(awk '/stat::number_of_executed_units/ { print $NF }' "$log" | tail -1)
    echo "$name: ${execs:-0} execs, $crashes crashes, $replayed regression inputs replayed (log: $log)"
    [ "$crashes" -eq 0 ] || { status=1; grep -m3 -E 'ERROR|SUMMARY' "$log" "build/fuzz/$area.regressions.log" 2>/dev/null; }
    rm -rf "$work"
done
exit "$status"
