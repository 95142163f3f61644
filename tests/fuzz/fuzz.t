#!/usr/bin/env bash
# Runs every libFuzzer harness (built by `make fuzz-build` into build/fuzz/)
# for FUZZ_SECONDS each (default 60, CI's setting; `make fuzz` uses 600)
# after replaying its regression inputs. One TAP result per harness: ok when
# it ran at least one input and found no crash, leak or sanitizer report.
set -u
cd "$(dirname "$0")/../.."
seconds=${FUZZ_SECONDS:-60}
fuzzers=(build/fuzz/fuzz_*)
[ -x "${fuzzers[0]}" ] || { echo "1..1"; echo "not ok 1 - no fuzzer built (run make fuzz-build)"; exit 1; }
echo "1..${#fuzzers[@]}"
n=0
for f in "${fuzzers[@]}"; do
    n=$((n + 1))
    line=$(tests/fuzz/run-fuzzers.sh "$seconds" "$f" | head -1)
    execs=$(sed -n 's/.*: \([0-9]*\) execs.*/\1/p' <<<"$line")
    if [[ $line == *", 0 crashes"* ]] && [ "${execs:-0}" -gt 0 ]; then
        echo "ok $n - $line"
    else
        echo "not ok $n - $line"
    fi
done
