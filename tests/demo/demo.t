#!/usr/bin/env bash
# `make demo` shows only what a user should read (issue 18): its build is
# quiet even when something is rebuilt (one object removed here, so the
# static pvhboot is compiled and linked again: no compiler line, no linker
# warning reaches the screen), the guest's console and pvhboot's report each
# under a line saying what they are, and a last line that says what was
# proved and the real time it took (checked against this test's own clock).
set -u
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
echo "1..5"
make -s VARIANT=static variant >/dev/null 2>&1
rm -f build/static/obj/cli/main.o
start=$(date +%s%N)
make -s demo >"$tmp/out" 2>&1
rc=$?
wall=$(awk -v a="$start" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')
n=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
notok() { n=$((n + 1)); echo "not ok $n - $*"; sed 's/^/# /' "$tmp/out" | head -12; }
if [ $rc -eq 0 ]; then ok "make demo: exit 0 in $wall s"; else notok "make demo: exit $rc"; fi
noise=$(grep -cE '^(cc|gcc|clang|ar|rm) |^make(\[[0-9]+\])?: |warning:|In function|/usr/bin/ld' "$tmp/out")
if [ "$noise" -eq 0 ]; then ok "no compiler, linker or make line on the screen although pvhboot was rebuilt"; else notok "$noise build lines on the screen"; fi
if grep -q "^---- the guest's console (COM1)" "$tmp/out" && grep -q "^---- pvhboot's report (--verbose)" "$tmp/out" &&
   grep -q '^make demo: running on ' "$tmp/out"; then
    ok "the guest's console and pvhboot's report are each introduced; it says where KVM came from: $(grep -m1 '^make demo: running on ' "$tmp/out" | cut -c1-90)"
else
    notok "the sections are not introduced"
fi
last=$(tail -1 "$tmp/out")
said=$(echo "$last" | sed -n 's/.*exited with status 0: \([0-9.]*\) s in all.*/\1/p')
if [[ $last == "make demo: hello64 booted through PVH on "*" KVM, read the start_info, command line and memory map pvhboot wrote, and exited with status 0: "* ]]; then
    ok "the last line says what it proved: ${last:0:100}..."
else
    notok "the last line is not the summary: $last"
fi
if [ -n "$said" ] && awk -v s="$said" -v w="$wall" 'BEGIN { exit !(s <= w && w - s < 3) }'; then
    ok "the time it gives ($said s) is its real time (this test measured $wall s around make demo)"
else
    notok "the time it gives ('$said') is not the real time ($wall s)"
fi
