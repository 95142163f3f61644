#!/usr/bin/env bash
# The non-KVM test suite under valgrind memcheck (release build, no
# sanitizers): every unit-test binary and `pvhboot inspect` on good and bad
# images must finish with 0 memcheck errors and no definite or indirect leak.
# test_sandbox is left out: its children install a seccomp filter, which traps
# valgrind's own system calls (the ASan run covers it).
set -u
cd "$(dirname "$0")/../.."
vg=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect
    --show-leak-kinds=definite,indirect)
units=()
for t in build/release/tests/test_*; do
    [ -x "$t" ] && [[ $t != *.d && $t != *test_sandbox ]] && units+=("$t")
done
cases=()
kernel_dir=$(tests/lib/debian-kernel.sh 2>/dev/null) || kernel_dir=
# what|file|expected exit status
[ -x build/release/pvhboot ] && cases+=("inspect vmlinux|$kernel_dir/vmlinux|0" "inspect vmlinuz|$kernel_dir/vmlinuz|2"
                                        "inspect /bin/true|/bin/true|2" "inspect a directory|/|2")
echo "1..$(( ${#units[@]} + ${#cases[@]} ))"
n=0
for t in "${units[@]}"; do
    n=$((n + 1))
    log=$(mktemp)
    CMOCKA_MESSAGE_OUTPUT=TAP "${vg[@]}" --log-file="$log" "$t" >/dev/null 2>&1
    rc=$?
    if [ "$rc" -ne 99 ] && [ ! -s "$log" ]; then
        echo "ok $n - memcheck clean: $t (exit $rc)"
    else
        echo "not ok $n - memcheck: $t (exit $rc)"; sed 's/^/# /' "$log" | head -40
    fi
    rm -f "$log"
done
for c in "${cases[@]}"; do
    n=$((n + 1))
    IFS='|' read -r what file expected <<<"$c"
    log=$(mktemp)
    "${vg[@]}" --log-file="$log" build/release/pvhboot inspect "$file" >/dev/null 2>&1
    rc=$?
    if [ "$rc" -eq "$expected" ] && [ ! -s "$log" ]; then
        echo "ok $n - memcheck clean: pvhboot $what (exit $rc)"
    else
        echo "not ok $n - memcheck: pvhboot $what (exit $rc, expected $expected)"; sed 's/^/# /' "$log" | head -40
    fi
    rm -f "$log"
done
