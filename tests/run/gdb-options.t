#!/usr/bin/env bash
# `pvhboot run`'s gdb options without KVM: what --gdb, --gdb-wait and QEMU's
# -gdb, -s, -S accept and refuse (exit 2 with one line naming the fix);
# accepted spellings are shown by reaching the next check (--dry-run is
# refused with --gdb, so a spelling that parses fails only there).
set -u
cd "$(dirname "$0")/../.."
make -s VARIANT=release variant >/dev/null 2>&1 && make -s -C guest >/dev/null 2>&1 || { echo "1..1"; echo "not ok 1 - build"; exit 1; }
p=build/release/pvhboot k=guest/build/hello64
n=0
t() { # EXPECTED-STATUS PATTERN DESCRIPTION -- ARGS
    local want=$1 pat=$2 what=$3; shift 4
    local out rc
    out=$("$p" run "$k" "$@" 2>&1 </dev/null); rc=$?
    n=$((n + 1))
    if [ "$rc" -eq "$want" ] && grep -qE -- "$pat" <<<"$out" && [ "$(wc -l <<<"$out")" -eq 1 ]; then
        echo "ok $n - $what"
    else
        echo "not ok $n - $what (status $rc: $out)"
    fi
}
echo "1..11"
t 2 "listens on 127.0.0.1 only" "--gdb tcp:0.0.0.0:1234 is refused (loopback only)" -- --gdb tcp:0.0.0.0:1234
t 2 "listens on 127.0.0.1 only" "-gdb tcp:example.org:1234 is refused" -- -gdb tcp:example.org:1234
t 2 "expected a TCP port from 1 to 65535" "--gdb tcp:65536 is refused" -- --gdb tcp:65536
t 2 "expected a TCP port" "--gdb tcp:-1 is refused" -- --gdb tcp:-1
t 2 "expected tcp:PORT or unix:PATH" "--gdb serial:/dev/ttyS0 is refused" -- --gdb serial:/dev/ttyS0
t 2 "expected tcp:PORT or unix:PATH" "--gdb unix: (no path) is refused" -- --gdb unix:
t 2 "needs --gdb" "--gdb-wait without --gdb is refused" -- --gdb-wait
t 2 "needs --gdb" "-S without -gdb is refused" -- -S
t 2 "a dry run never starts" "--gdb tcp::1234 parses (then refused with --dry-run)" -- --gdb tcp::1234 --dry-run
t 2 "a dry run never starts" "-s -S and -gdb tcp:localhost:1 parse" -- -s -S -gdb tcp:localhost:1 --dry-run
t 2 "a dry run never starts" "--gdb unix:PATH --gdb-wait parses" -- --gdb unix:/tmp/x.sock --gdb-wait --dry-run
