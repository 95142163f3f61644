#!/usr/bin/env bash
# pvhboot's own file descriptors, no KVM needed (ASan+UBSan build, traced by
# strace): vCPUs that were never created are never closed. Each used to
# close(0), pvhboot's stdin, once per vCPU (issue 19 #4): with --dry-run,
# which creates none, and when /dev/kvm cannot be opened. The trace must
# show pvhboot closing other fds (so it did trace) and no close(0).
set -u
cd "$(dirname "$0")/../.."
bin=build/san/pvhboot
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail_all() { echo "1..1"; echo "not ok 1 - $*"; exit 1; }
make -s -C guest >/dev/null 2>&1 || fail_all "cannot build the guest SDK"
command -v strace >/dev/null || fail_all "strace is missing (tests/lib/install-deps.sh installs it)"
n=0
result() { n=$((n + 1)); if [ "$1" = ok ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }
# LeakSanitizer cannot run under ptrace; the other sanitizers still do.
traced() {
    ASAN_OPTIONS=detect_leaks=0 strace -f -qq -e trace=close -o "$tmp/trace" "$bin" run "$@" >"$tmp/out" 2>&1
}
echo "1..2"
for c in "dry-run|0|--dry-run" "no /dev/kvm|1|--kvm-device $tmp/no-kvm"; do
    IFS='|' read -r name want args <<<"$c"
    # shellcheck disable=SC2086 # args is a list of words
    traced guest/build/hello64 --cpus 4 --mem 64 $args
    rc=$?
    closes=$(grep -c 'close(' "$tmp/trace")
    zero=$(grep -c 'close(0)' "$tmp/trace")
    if [ "$rc" -eq "$want" ] && [ "$closes" -gt 0 ] && [ "$zero" -eq 0 ]; then
        result ok "$name --cpus 4: exit $rc, $closes close calls traced, none of fd 0"
    else
        result notok "$name --cpus 4: exit $rc (want $want), $closes close calls traced, $zero of fd 0 (want 0)"
        sed 's/^/# /' "$tmp/out" | head -5
        grep 'close(0)' "$tmp/trace" | head -5 | sed 's/^/# /'
    fi
done
