#!/usr/bin/env bash
# CI's run of the loader benchmark (bench/load.sh, 10 rounds; no KVM needed):
# the table is printed as TAP comments. The checks follow from what mapping
# does (no byte of a whole page is touched at load time), not from earlier
# figures: mapping is faster than copying, maps all but partial pages of the
# 46 MB of segments, and executes fewer instructions in the setup path.
set -u
cd "$(dirname "$0")/../.."
out=$(bench/load.sh 10 2>&1)
rc=$?
sed 's/^/# /' <<<"$out"
echo "1..5"
[ "$rc" -eq 0 ] && echo "ok 1 - bench/load.sh ran (exit 0)" || echo "not ok 1 - bench/load.sh exited $rc"
copy=$(sed -n 's/^load, copy .*median *\([0-9.]*\) us.*/\1/p' <<<"$out")
map=$(sed -n 's/^load, map .*median *\([0-9.]*\) us.*/\1/p' <<<"$out")
awk -v c="${copy:-0}" -v m="${map:-0}" 'BEGIN{exit !(m > 0 && c > 10 * m)}' &&
    echo "ok 2 - median load: map $map us, copy $copy us (map at least 10x faster)" ||
    echo "not ok 2 - median load: map '$map' us vs copy '$copy' us"
read -r mapped copied <<<"$(sed -n 's/^map: \([0-9]*\) bytes mapped, \([0-9]*\) copied.*/\1 \2/p' <<<"$out")"
[ "${mapped:-0}" -gt 40000000 ] && [ "${copied:-1000000}" -le $((4 * 2 * 4096)) ] &&
    echo "ok 3 - map: $mapped bytes mapped, $copied copied (partial pages only)" ||
    echo "not ok 3 - map: '$mapped' mapped, '$copied' copied"
read -r _ copy_whole copy_setup <<<"$(grep '^copy ' <<<"$out")"
read -r _ map_whole map_setup <<<"$(grep '^map ' <<<"$out")"
[ "${map_setup:-0}" -gt 0 ] && [ "${copy_setup:-0}" -gt "$map_setup" ] && [ "${copy_whole:-0}" -gt "${map_whole:-0}" ] &&
    echo "ok 4 - callgrind: pvh_vm_run $map_setup instructions mapping vs $copy_setup copying" ||
    echo "not ok 4 - callgrind figures: map '$map_setup' copy '$copy_setup'"
two=$(sed -n 's/^hello64 with 2 drives: \([0-9]*\) instructions/\1/p' <<<"$out")
[ -n "$two" ] && [ "$two" -le 150000 ] &&
    echo "ok 5 - callgrind: static pvhboot run hello64 --dry-run with two drives: $two instructions (<= 150,000)" ||
    echo "not ok 5 - callgrind with two drives: '${two:-?}' instructions (<= 150,000 wanted)"
