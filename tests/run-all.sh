#!/usr/bin/env bash
# The test runner behind `make check`. Every suite speaks TAP on stdout:
#   - each unit-test binary build/san/tests/test_* (cmocka, ASan+UBSan build);
#   - each executable script tests/*/*.t (sorted by path).
# A suite that exits non-zero or prints fewer results than its plan ("1..N")
# counts one extra failure. The last line is the summary:
#   N passed, N failed, N skipped
# Usage: tests/run-all.sh [PATTERN]   (only suites whose path contains PATTERN)
set -u
cd "$(dirname "$0")/.."
filter=${1:-}
summary_file=build/test-summary.txt
mkdir -p build
passed=0 failed=0 skipped=0
failures=()

suites=()
for f in build/san/tests/test_*; do [ -x "$f" ] && [ ! -d "$f" ] && [[ $f != *.d ]] && suites+=("$f"); done
while IFS= read -r f; do suites+=("$f"); done < <(find tests -mindepth 2 -maxdepth 2 -name '*.t' -perm -u+x | sort)

run_suite() {
    local suite=$1 log rc t0=$SECONDS
    log=$(mktemp)
    echo "# ---- $suite"
    CMOCKA_MESSAGE_OUTPUT=TAP timeout "${PVH_SUITE_TIMEOUT:-2400}" "$suite" >"$log" 2>&1
    rc=$?
    echo "# ---- $suite: $((SECONDS - t0)) s"
    cat "$log"
    local counts
    counts=$(awk '
        /^ok / { if ($0 ~ /# *[Ss][Kk][Ii][Pp]/) s++; else p++; n++ }
        /^not ok / { if ($0 ~ /# *[Tt][Oo][Dd][Oo]/) s++; else f++; n++ }
        /^1\.\.[0-9]+/ { split($0, a, /\.\./); plan += a[2] }
        END { printf "%d %d %d %d %d\n", p, f, s, n, plan }' "$log")
    read -r p f s n plan <<<"$counts"
    rm -f "$log"
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=$((f + 1)); echo "not ok - $suite exited with status $rc"
    elif [ "$plan" -gt "$n" ]; then
        f=$((f + 1)); echo "not ok - $suite planned $plan results, printed $n"
    fi
    [ "$n" -eq 0 ] && [ "$rc" -eq 0 ] && { f=$((f + 1)); echo "not ok - $suite printed no result"; }
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
    [ "$f" -gt 0 ] && failures+=("$suite ($f)")
}

for suite in "${suites[@]}"; do
    [ -n "$filter" ] && [[ $suite != *"$filter"* ]] && continue
    run_suite "$suite"
done

[ ${#failures[@]} -gt 0 ] && printf '# failing suites: %s\n' "${failures[*]}"
line="$passed passed, $failed failed, $skipped skipped"
echo "$line" >"$summary_file"
echo "$line"
[ "$failed" -eq 0 ]
