#!/usr/bin/env bash
# Snapshots and restores (issue 16), in the machine with KVM
# (tests/kvm/with-kvm.sh), with guest/build/snapcount, which counts on COM1
# and asks for a snapshot through the snapshot port after "count 5":
#  - --snapshot-on-port: the run stops after "count 5", exit 0, both files
#    written; the memory file is sparse (disk use well under its size);
#    `pvhboot restore` continues from "count 6" to "done" (the guest's RAM
#    back: "memory ok"), exit 33 as the guest asks, and a second restore of
#    the same files does it again;
#  - --snapshot-continue: the run goes on to the end, its snapshot restores;
#  - --cpus 2 (the second vCPU never started): snapshot and restore as well;
#  - SIGUSR2 on a guest that never asks: what the run printed and what the
#    restore prints make the whole count, once, in order;
#  - hostile state files, made on the host from the first snapshot by
#    tests/lib/snapfile-tamper.py: truncated, a byte flipped, and a CPUID
#    entry changed and resealed (another host's CPU): each refused with
#    exit 2 and one line (the CPUID one naming the leaf), the guest never run;
#  - a machine with a virtio device (--rng): snapshotted and restored like
#    the others, the count going on (tests/run/snapshot-virtio.t has the
#    Debian guest with a drive and vsock, and the clones);
#  - restore --load copy: the memory file's data copied in; the file zeroed
#    once the restored guest runs, the count goes on with its RAM intact;
#  - a run that never snapshots leaves an earlier snapshot's files as they
#    were; --snapshot-file naming a symbolic link is refused (exit 2).
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
run port ./pvhboot run snapcount --mem 64 --snapshot-on-port --snapshot-file s1.state --mem-file s1.mem
echo "=== BEGIN sizes"
echo "apparent=$(stat -c %s s1.mem) du_kib=$(du -k s1.mem | cut -f1) state=$(stat -c %s s1.state)"
echo "=== END sizes rc=0"
run restore ./pvhboot restore s1.state --mem-file s1.mem
run restore-again ./pvhboot restore s1.state --mem-file s1.mem -v
run continue ./pvhboot run snapcount --mem 64 --snapshot-on-port --snapshot-continue --snapshot-file s2.state --mem-file s2.mem
run restore-continue ./pvhboot restore s2.state --mem-file s2.mem
run smp ./pvhboot run snapcount --mem 64 --cpus 2 --snapshot-on-port --snapshot-file s4.state --mem-file s4.mem
run restore-smp ./pvhboot restore s4.state --mem-file s4.mem
echo "=== BEGIN signal"
./pvhboot run snapcount --mem 64 --cmdline "nosnap slow" --snapshot-file s3.state --mem-file s3.mem >sig.out 2>sig.err &
pid=$!
n=0
while ! grep -q "count 3" sig.out && [ $n -lt 600 ]; do busybox usleep 100000; n=$((n + 1)); done
kill -USR2 $pid
wait $pid
rc=$?
cat sig.out
echo "=== END signal rc=$rc"
echo "=== BEGIN signal-err"; cat sig.err; echo "=== END signal-err rc=0"
run restore-signal ./pvhboot restore s3.state --mem-file s3.mem
# the memory file zeroed as soon as the restored guest counts: --load copy
# (its data was copied in) and --load map (the default: the file's pages
# are the guest's until it writes them)
zeroed_under() { # NAME LOAD
    echo "=== BEGIN $1"
    busybox cp s3.mem s3z.mem
    busybox timeout -s KILL 120 ./pvhboot restore s3.state --mem-file s3z.mem --load $2 --timeout 60 >z.out 2>&1 &
    pid=$!
    n=0
    while ! grep -q "^count" z.out && [ $n -lt 600 ]; do busybox usleep 100000; n=$((n + 1)); done
    busybox dd if=/dev/zero of=s3z.mem bs=1M count=64 conv=notrunc 2>/dev/null
    echo "ZEROED $(busybox od -A n -t x1 -N 16 -j 1048576 s3z.mem | tr -d ' ')"
    wait $pid
    rc=$?
    cat z.out
    echo "=== END $1 rc=$rc"
}
zeroed_under restore-copy copy
zeroed_under restore-map-zeroed map
echo "=== BEGIN state-b64"; base64 s1.state; echo "=== END state-b64 rc=0"
CASES

tests/kvm/with-kvm.sh --mem 1024 --cpus 1 --file build/static/pvhboot --file guest/build/snapcount \
    --file "$work/cases.sh" -- sh cases.sh >"$work/out.txt" 2>"$work/err.txt"
rc=$?
echo "# with-kvm.sh (snapshots) exit $rc; $(grep -m1 '^# kvm:' "$work/err.txt")"
[ "$rc" -eq 0 ] || { sed 's/^/# /' "$work/err.txt" | tail -30; }

# The hostile state files, from the first snapshot's state.
python3 - "$work" <<'PY'
import base64, re, sys
work = sys.argv[1]
out = open(f"{work}/out.txt", errors="replace").read().replace("\r", "")
m = re.search(r"=== BEGIN state-b64\n(.*?)=== END state-b64", out, re.S)
open(f"{work}/good.state", "wb").write(base64.b64decode(m.group(1)) if m else b"")
PY
for how in truncate flip cpuid; do
    python3 tests/lib/snapfile-tamper.py "$work/good.state" "$work/$how.state" "$how" >"$work/tamper-$how.txt" 2>&1
done
cat >"$work/hostile.sh" <<'CASES'
run() {
    name=$1; shift
    echo "=== BEGIN $name"
    busybox timeout -s KILL 120 "$@" 2>&1
    echo "=== END $name rc=$?"
}
dd if=/dev/zero of=zero.mem bs=1 count=0 seek=67108864 2>/dev/null
for how in truncate flip cpuid; do
    run hostile-$how ./pvhboot restore $how.state --mem-file zero.mem
done
run rng ./pvhboot run snapcount --mem 64 --rng --snapshot-on-port --snapshot-file u.state --mem-file u.mem
run restore-rng ./pvhboot restore u.state --mem-file u.mem
busybox cp cpuid.state keep.state
echo old-memory >keep.mem
sums=$(busybox md5sum keep.state keep.mem)
run keep ./pvhboot run snapcount --mem 64 --cmdline nosnap --snapshot-file keep.state --mem-file keep.mem
echo "=== BEGIN keep-sums"
[ "$(busybox md5sum keep.state keep.mem)" = "$sums" ] && echo "files unchanged" || echo "files changed"
echo "=== END keep-sums rc=0"
busybox ln -s keep.state link.state
run link ./pvhboot run snapcount --mem 64 --snapshot-on-port --snapshot-file link.state --mem-file l.mem
CASES
tests/kvm/with-kvm.sh --mem 512 --cpus 1 --file build/static/pvhboot --file guest/build/snapcount --file "$work/truncate.state" \
    --file "$work/flip.state" --file "$work/cpuid.state" --file "$work/hostile.sh" -- sh hostile.sh \
    >"$work/out2.txt" 2>"$work/err2.txt"
rc=$?
echo "# with-kvm.sh (hostile state files) exit $rc"
[ "$rc" -eq 0 ] || { sed 's/^/# /' "$work/err2.txt" | tail -30; }

export WORK=$work
python3 - <<'PY'
import os, re, sys
sys.path.insert(0, "tests/lib")
from tap import check, finish, show_failed_boot, sections as split_sections
work = os.environ["WORK"]
out = open(f"{work}/out.txt", errors="replace").read().replace("\r", "")
out2 = open(f"{work}/out2.txt", errors="replace").read().replace("\r", "")
s = split_sections(out)
s.update(split_sections(out2))
def get(name):
    return s.get(name, ("", -1))
def counts(text):
    return [int(x) for x in re.findall(r"^count (\d+)$", text, re.M)]

text, rc = get("port")
ok = check(rc == 0 and counts(text) == list(range(1, 6)) and "snapshot written to s1.state and s1.mem" in text,
           "--snapshot-on-port: the run counts to 5, writes the snapshot and exits 0")
ok or show_failed_boot("port", text, rc)

text, rc = get("sizes")
m = re.search(r"apparent=(\d+) du_kib=(\d+) state=(\d+)", text)
apparent, du_kib = (int(m.group(1)), int(m.group(2))) if m else (0, 0)
check(apparent == 64 << 20 and 0 < du_kib * 1024 < apparent // 8,
      f"the memory file is sparse: {du_kib} KiB on disk for {apparent} bytes of guest RAM")

for name in ("restore", "restore-again"):
    text, rc = get(name)
    ok = check(rc == 33 and counts(text) == list(range(6, 11)) and "memory ok" in text and "done" in text,
               f"{name}: the restored VM counts on from 6 to 10 with its RAM intact, exit 33")
    ok or show_failed_boot(name, text, rc)

text, _ = get("restore-again")
m = re.search(r"^pvhboot: restored (\d+\.\d+) ms from process start: the machine rebuilt", text, re.M)
check(m and "kernel loaded at" not in text and re.search(r"^pvhboot: times from process start: first KVM_RUN", text, re.M),
      f"restore -v says when the machine was restored ({m.group(1) + ' ms' if m else 'no line'}), no kernel load")

text, rc = get("continue")
ok = check(rc == 33 and counts(text) == list(range(1, 11)) and "done" in text,
           "--snapshot-continue: the run goes on to the end after its snapshot")
ok or show_failed_boot("continue", text, rc)
text, rc = get("restore-continue")
ok = check(rc == 33 and counts(text) == list(range(6, 11)), "--snapshot-continue's snapshot restores from count 6")
ok or show_failed_boot("restore-continue", text, rc)

text, rc = get("smp")
ok = check(rc == 0 and counts(text) == list(range(1, 6)), "--cpus 2: the snapshot is taken with both vCPUs stopped")
ok or show_failed_boot("smp", text, rc)
text, rc = get("restore-smp")
ok = check(rc == 33 and counts(text) == list(range(6, 11)) and "memory ok" in text,
           "--cpus 2: the restore (vCPU 1 still waiting for its SIPI) counts on from 6")
ok or show_failed_boot("restore-smp", text, rc)

before, rc1 = get("signal")
after, rc2 = get("restore-signal")
whole = before + after.replace("pvhboot: snapshot written", "")
seq = counts(before + after)
ok = check(rc1 == 0 and rc2 == 33 and seq == list(range(1, 61)) and 3 <= len(counts(before)) < 60
           and "memory ok" in after,
           f"SIGUSR2: the run stopped after count {len(counts(before))}, the restore went on; together 1..60 once each")
ok or (show_failed_boot("signal", before + get("signal-err")[0], rc1), show_failed_boot("restore-signal", after, rc2))

text, rc = get("restore-copy")
seq = counts(text)
ok = check(rc == 33 and seq and seq == list(range(seq[0], 61)) and seq[0] == len(counts(before)) + 1
           and "memory ok" in text and re.search(r"^ZEROED 0{32}$", text, re.M),
           f"--load copy: the memory file zeroed once the restored guest ran, it counts on from {seq[:1]} to 60 "
           "with its RAM intact (its data was copied in)")
ok or show_failed_boot("restore-copy", text, rc)
text, rc = get("restore-map-zeroed")
check(re.search(r"^ZEROED 0{32}$", text, re.M) and "count" in text and "memory ok" not in text,
      f"--load map (the default), the same: the guest loses what it had not written yet (exit {rc}, "
      f"{'memory BAD' if 'memory BAD' in text else 'no memory check'}): what README says of changing a memory file")

expect = {"truncate": r"s?tate", "flip": r"", "cpuid": r"CPUID leaf 0x[0-9a-f]+ subleaf \d+ eax"}
for how, pattern in expect.items():
    text, rc = get(f"hostile-{how}")
    lines = [l for l in text.splitlines() if l.strip()]
    ok = check(rc == 2 and len(lines) == 1 and lines[0].startswith(f"pvhboot: {how}.state: ") and re.search(pattern, lines[0])
               and "count" not in text,
               f"restore refuses a {how} state file with exit 2 and one line: {lines[0][:150] if lines else '(nothing)'}")
    ok or show_failed_boot(f"hostile-{how}", text, rc)
text, rc = get("rng")
ok = check(rc == 0 and counts(text) == list(range(1, 6)) and "snapshot written to u.state and u.mem" in text,
           "a machine with virtio-rng (--rng) is snapshotted after count 5")
ok or show_failed_boot("rng", text, rc)
text, rc = get("restore-rng")
ok = check(rc == 33 and counts(text) == list(range(6, 11)) and "memory ok" in text,
           "its restore rebuilds the rng in its slot (the VIRTIO section) and counts on from 6")
ok or show_failed_boot("restore-rng", text, rc)

text, rc = get("keep")
sums, _ = get("keep-sums")
ok = check(rc == 33 and counts(text) == list(range(1, 11)) and "files unchanged" in sums,
           f"a run that never takes a snapshot leaves the files named by --snapshot-file/--mem-file as they were "
           f"(exit {rc}; {sums.strip()})")
ok or show_failed_boot("keep", text, rc)
text, rc = get("link")
lines = [l for l in text.splitlines() if l.strip()]
ok = check(rc == 2 and len(lines) == 1 and lines[0] == "pvhboot: --snapshot-file link.state: a symbolic link; pvhboot "
           "does not follow one there: name the file itself" and "count" not in text,
           f"--snapshot-file naming a symbolic link: refused before the guest runs, exit 2, one line ({lines[:1]})")
ok or show_failed_boot("link", text, rc)
finish()
PY
