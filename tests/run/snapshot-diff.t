#!/usr/bin/env bash
# Diff snapshots (issue 16, --snapshot-diff), in the machine with KVM
# (tests/kvm/with-kvm.sh), with guest/build/snapdiff: it fills a 1 MiB
# buffer, asks for a snapshot after "count 3" (the full one: d.state,
# d.mem), writes 64 KiB of a new pattern and zeroes a page, asks again after
# "count 6" (diff 1: d.state.1, d.mem.1), writes another 32 KiB, asks after
# "count 8" (diff 2: d.state.2, d.mem.2), writes 16 KiB more, and checks the
# whole buffer at the end ("memory ok"):
#  - the run (--snapshot-continue) counts 1 to 10 with the three snapshots;
#  - the diff's memory file holds far fewer pages on disk than the full one;
#  - restore d.state.1 --mem-file d.mem --mem-diff d.mem.1 counts on from 7
#    with the buffer intact (the diff's pages, the zeroed one too, layered
#    on the base); d.state.2 with both diffs from 9; d.state (the base
#    alone) from 4;
#  - refused with exit 2 and one line, the guest never run: the diff without
#    its base (d.mem.1 as --mem-file), the diff state without --mem-diff, a
#    base and a diff from another run (another chain), the two diffs in the
#    wrong order, and --mem-diff with a snapshot taken without
#    --snapshot-diff.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/kvm-suite.sh

cat >"$work/cases.sh" <<'CASES'
run() {
    name=$1; shift
    echo "=== BEGIN $name"
    busybox timeout -s KILL 120 "$@" 2>&1
    echo "=== END $name rc=$?"
}
diff="--mem 64 --snapshot-on-port --snapshot-continue --snapshot-diff"
run run ./pvhboot run snapdiff $diff --snapshot-file d.state --mem-file d.mem
echo "=== BEGIN files"
for f in d.state d.mem d.state.1 d.mem.1 d.state.2 d.mem.2; do
    [ -f $f ] && echo "$f apparent=$(stat -c %s $f) du_kib=$(du -k $f | cut -f1)"
done
echo "=== END files rc=0"
run restore-diff ./pvhboot restore d.state.1 --mem-file d.mem --mem-diff d.mem.1
run restore-base ./pvhboot restore d.state --mem-file d.mem
run restore-diff2 ./pvhboot restore d.state.2 --mem-file d.mem --mem-diff d.mem.1 --mem-diff d.mem.2
run swapped ./pvhboot restore d.state.2 --mem-file d.mem --mem-diff d.mem.2 --mem-diff d.mem.1
run other ./pvhboot run snapdiff $diff --snapshot-file e.state --mem-file e.mem
run no-base ./pvhboot restore d.state.1 --mem-file d.mem.1
run no-diff ./pvhboot restore d.state.1 --mem-file d.mem
run wrong-base ./pvhboot restore d.state.1 --mem-file e.mem --mem-diff d.mem.1
run wrong-diff ./pvhboot restore d.state.1 --mem-file d.mem --mem-diff e.mem.1
./pvhboot run snapcount --mem 64 --snapshot-on-port --snapshot-file p.state --mem-file p.mem >/dev/null 2>&1
run plain-with-diff ./pvhboot restore p.state --mem-file p.mem --mem-diff d.mem.1
CASES

tests/kvm/with-kvm.sh --mem 1024 --cpus 1 --file build/static/pvhboot --file guest/build/snapdiff \
    --file guest/build/snapcount --file "$work/cases.sh" -- sh cases.sh >"$work/out.txt" 2>"$work/err.txt"
rc=$?
echo "# with-kvm.sh (diff snapshots) exit $rc; $(grep -m1 '^# kvm:' "$work/err.txt")"
[ "$rc" -eq 0 ] || { sed 's/^/# /' "$work/err.txt" | tail -30; }

export WORK=$work
python3 - <<'PY'
import os, re, sys
sys.path.insert(0, "tests/lib")
from tap import check, finish, show_failed_boot, sections as split_sections
work = os.environ["WORK"]
out = open(f"{work}/out.txt", errors="replace").read().replace("\r", "")
s = split_sections(out)
def get(name):
    return s.get(name, ("", -1))
def counts(text):
    return [int(x) for x in re.findall(r"^count (\d+)$", text, re.M)]

text, rc = get("run")
ok = check(rc == 33 and counts(text) == list(range(1, 11)) and "memory ok" in text and "done" in text,
           "--snapshot-diff --snapshot-continue: the run counts 1 to 10 through its three snapshots, memory ok, exit 33")
ok or show_failed_boot("run", text, rc)

text, rc = get("files")
files = {m.group(1): (int(m.group(2)), int(m.group(3)))
         for m in re.finditer(r"^(\S+) apparent=(\d+) du_kib=(\d+)$", text, re.M)}
check(set(files) == {"d.state", "d.mem", "d.state.1", "d.mem.1", "d.state.2", "d.mem.2"},
      f"the full snapshot went to d.state and d.mem, the diffs to d.state.N and d.mem.N: {sorted(files)}")
full = files.get("d.mem", (0, 0))[1]
diff = files.get("d.mem.1", (0, 0))[1]
check(full >= 1024 and 0 < diff * 8 < full,
      f"the diff's memory file holds far fewer pages than the full one: {diff} KiB on disk against {full} KiB")
check(files.get("d.mem.1", (0, 0))[0] > 64 << 20 and files.get("d.mem", (0, 0))[0] > 64 << 20,
      "both memory files are guest RAM's 64 MiB at their offsets, then the trailer")

text, rc = get("restore-diff")
ok = check(rc == 33 and counts(text) == list(range(7, 11)) and "memory ok" in text and "done" in text,
           f"restore of the diff (base + --mem-diff) counts on from 7 to 10 with the buffer intact: counts {counts(text)}")
ok or show_failed_boot("restore-diff", text, rc)
text, rc = get("restore-base")
ok = check(rc == 33 and counts(text) == list(range(4, 11)) and "memory ok" in text,
           f"restore of the full snapshot alone counts on from 4: counts {counts(text)}")
ok or show_failed_boot("restore-base", text, rc)
text, rc = get("restore-diff2")
ok = check(rc == 33 and counts(text) == [9, 10] and "memory ok" in text,
           f"restore of diff 2 (base + both diffs, in order) counts on from 9: counts {counts(text)}")
ok or show_failed_boot("restore-diff2", text, rc)
text, rc = get("other")
check(rc == 33 and "memory ok" in text, "a second run (another chain) for the wrong-base cases")

refusals = {
    "no-base": r"^pvhboot: d\.mem\.1: a diff \(generation 1\), not the chain's full base",
    "no-diff": r"^pvhboot: d\.state\.1: generation 1 of a --snapshot-diff chain: it needs the diffs .* 0 given",
    "wrong-base": r"^pvhboot: e\.mem: belongs to another snapshot chain .* not this snapshot's base",
    "wrong-diff": r"^pvhboot: e\.mem\.1: belongs to another snapshot chain .* not this snapshot's diff",
    "swapped": r"^pvhboot: d\.mem\.2: generation 2 of its chain where generation 1 belongs",
    "plain-with-diff": r"^pvhboot: p\.state: not a --snapshot-diff snapshot: it takes no --mem-diff",
}
for name, pattern in refusals.items():
    text, rc = get(name)
    lines = [l for l in text.splitlines() if l.strip()]
    ok = check(rc == 2 and len(lines) == 1 and re.search(pattern, lines[0]) and "count" not in text,
               f"{name}: refused with exit 2 and one line: {lines[0][:160] if lines else '(nothing)'}")
    ok or show_failed_boot(name, text, rc)
finish()
PY
