#!/usr/bin/env bash
# Is an interrupt ever delivered on top of another, with interrupts off, in
# the machine tests/kvm/with-kvm.sh gives? (docs/kvm-tests.md, "Interrupts
# delivered twice"). Runs guest/build/irqfresh (its LAPIC timer's ticks
# land on pages never touched: KVM maps each on the tick's nested page
# fault) N times at once, then guest/build/irqfresh_snap once to a snapshot
# and N clones of it at once, restored --load map and then --load copy. Each
# guest counts interrupts whose saved EFLAGS has IF clear (none on a correct
# machine). Prints one line per guest and a total per group; exits 0 when no
# guest saw one, 1 when some did, 2 when it could not run. Not part of
# `make check` (10 to 25 minutes here with N=10; with N=20 the machine has
# stopped before the end): a diagnostic for the
# emulated machine, and a check of a host's KVM.
# Usage: tests/kvm/irqfresh.sh [N]   (default 20)
set -u
cd "$(dirname "$0")/../.."
n=${1:-20}
[[ $n =~ ^[1-9][0-9]*$ ]] || { echo "usage: tests/kvm/irqfresh.sh [N]" >&2; exit 2; }
make -s VARIANT=static variant >/dev/null && make -s -C guest >/dev/null || { echo "irqfresh.sh: build failed" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat >"$work/cases.sh" <<CASES
N=$n
CASES
cat >>"$work/cases.sh" <<'CASES'
group() { # NAME COMMAND...: N guests at once, one line each
    name=$1; shift
    i=1
    while [ $i -le $N ]; do
        busybox timeout -s KILL 400 "$@" --timeout 380 >g$i.txt 2>&1 &
        eval "pid$i=\$!"
        i=$((i + 1))
    done
    i=1
    while [ $i -le $N ]; do
        eval "wait \$pid$i"
        line="$name $i rc=$?: $(busybox grep -E 'ticks|pvhboot:' g$i.txt | busybox tr '\n' ' ')"
        echo "$line"
        echo "irqfresh: $line" >/dev/console # also on the machine's console, should the machine stop
        i=$((i + 1))
    done
}
group cold ./pvhboot run irqfresh --mem 64
busybox timeout -s KILL 120 ./pvhboot run irqfresh_snap --mem 64 --snapshot-on-port --snapshot-file s.state --mem-file s.mem >t.txt 2>&1
echo "template rc=$?" | busybox tee /dev/console
group clone-map ./pvhboot restore s.state --mem-file s.mem --load map
group clone-copy ./pvhboot restore s.state --mem-file s.mem --load copy
CASES
PVHBOOT_KVM_TIMEOUT=${PVHBOOT_KVM_TIMEOUT:-1500} tests/kvm/with-kvm.sh --mem 3072 --cpus 2 --file build/static/pvhboot \
    --file guest/build/irqfresh --file guest/build/irqfresh_snap --file "$work/cases.sh" -- sh cases.sh >"$work/out.txt" 2>"$work/err.txt"
rc=$?
grep -m1 '^# kvm:' "$work/err.txt"
[ "$rc" -eq 0 ] || { echo "irqfresh.sh: the machine failed (with-kvm.sh exit $rc); its last lines:"; tail -15 "$work/err.txt"; }
# the command's output, or what reached the console before the machine stopped
[ "$rc" -eq 0 ] && results=$work/out.txt || { sed -n 's/^irqfresh: //p' "$work/err.txt" >"$work/console.txt"; results=$work/console.txt; }
cat "$results"
python3 - "$results" <<'PY'
import re, sys
groups = {}
for line in open(sys.argv[1], errors="replace"):
    m = re.match(r"(cold|clone-map|clone-copy) \d+ rc=(\d+): (.*)", line)
    if not m:
        continue
    g = groups.setdefault(m.group(1), {"guests": 0, "hit": 0, "times": 0, "other": 0})
    g["guests"] += 1
    f = re.search(r"if-off (\d+)", m.group(3))
    if f and int(f.group(1)):
        g["hit"] += 1
        g["times"] += int(f.group(1))
    elif m.group(2) != "33":
        g["other"] += 1
bad = False
for name, g in groups.items():
    print(f"{name}: {g['hit']} of {g['guests']} guests got an interrupt with IF clear ({g['times']} times); "
          f"{g['other']} ended otherwise (not 33)")
    bad = bad or g["hit"] or g["other"]
sys.exit(1 if bad or not groups else 0)
PY
