#!/usr/bin/env bash
# The test runner behind `make check`. Every suite speaks TAP on stdout:
#   - each unit-test binary build/san/tests/test_* (cmocka, ASan+UBSan build);
#   - each executable script tests/*/*.t (sorted by path).
# A suite that exits non-zero or prints fewer results than its plan ("1..N")
# counts one extra failure. The last line is the summary:
#   N passed, N failed, N skipped
# Suites run PVH_TEST_JOBS at a time (default: one per CPU; most suites keep
# one CPU busy: an emulated machine, a sanitized binary); each suite's output
# is printed whole when it ends. The benchmarks (tests/bench/) and the fuzzers
# (tests/fuzz/fuzz.t, itself one harness per CPU) run afterwards, alone, so
# that their figures are not taken on a machine busy with other suites.
# Usage: tests/run-all.sh [PATTERN]   (only suites whose path contains PATTERN)
set -u
cd "$(dirname "$0")/.."
filter=${1:-}
jobs=${PVH_TEST_JOBS:-$(nproc)}
summary_file=build/test-summary.txt
mkdir -p build
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

suites=()
for f in build/san/tests/test_*; do [ -x "$f" ] && [ ! -d "$f" ] && [[ $f != *.d ]] && suites+=("$f"); done
while IFS= read -r f; do suites+=("$f"); done < <(find tests -mindepth 2 -maxdepth 2 -name '*.t' -perm -u+x | sort)

# tests/demo/demo.t rebuilds build/static/pvhboot, which the others use.
runs_alone() { [[ $1 == tests/bench/* || $1 == tests/fuzz/fuzz.t || $1 == tests/demo/* ]]; }

# Runs one suite; prints its output whole (under a lock) and leaves
# "passed failed skipped" in $out/N.counts.
run_suite() {
    local suite=$1 idx=$2 log=$out/$2.log rc t0=$SECONDS
    CMOCKA_MESSAGE_OUTPUT=TAP timeout "${PVH_SUITE_TIMEOUT:-2400}" "$suite" >"$log.raw" 2>&1
    rc=$?
    local counts
    counts=$(awk '
        /^ok / { if ($0 ~ /# *[Ss][Kk][Ii][Pp]/) s++; else p++; n++ }
        /^not ok / { if ($0 ~ /# *[Tt][Oo][Dd][Oo]/) s++; else f++; n++ }
        /^1\.\.[0-9]+/ { split($0, a, /\.\./); plan += a[2] }
        END { printf "%d %d %d %d %d\n", p, f, s, n, plan }' "$log.raw")
    read -r p f s n plan <<<"$counts"
    {
        echo "# ---- $suite"
        echo "# ---- $suite: $((SECONDS - t0)) s"
        cat "$log.raw"
        if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
            f=$((f + 1)); echo "not ok - $suite exited with status $rc"
        elif [ "$plan" -gt "$n" ]; then
            f=$((f + 1)); echo "not ok - $suite planned $plan results, printed $n"
        fi
        [ "$n" -eq 0 ] && [ "$rc" -eq 0 ] && { f=$((f + 1)); echo "not ok - $suite printed no result"; }
    } >"$log"
    echo "$p $f $s" >"$out/$idx.counts"
    flock "$out/print.lock" cat "$log"
}

selected=()
for suite in "${suites[@]}"; do
    [ -n "$filter" ] && [[ $suite != *"$filter"* ]] && continue
    selected+=("$suite")
done

t0=$SECONDS
for i in "${!selected[@]}"; do
    runs_alone "${selected[$i]}" && continue
    while [ "$(jobs -pr | wc -l)" -ge "$jobs" ]; do wait -n; done
    run_suite "${selected[$i]}" "$i" &
done
wait
for i in "${!selected[@]}"; do
    runs_alone "${selected[$i]}" && run_suite "${selected[$i]}" "$i"
done

passed=0 failed=0 skipped=0
failures=()
for i in "${!selected[@]}"; do
    if [ -f "$out/$i.counts" ]; then read -r p f s <"$out/$i.counts"; else p=0 f=1 s=0; fi
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
    [ "$f" -gt 0 ] && failures+=("${selected[$i]} ($f)")
done
echo "# all suites: $((SECONDS - t0)) s, $jobs at a time"
[ ${#failures[@]} -gt 0 ] && printf '# failing suites: %s\n' "${failures[*]}"
line="$passed passed, $failed failed, $skipped skipped"
echo "$line" >"$summary_file"
echo "$line"
[ "$failed" -eq 0 ]
