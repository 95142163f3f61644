#!/usr/bin/env bash
# The fuzzers' seeds from real Linux traffic, end to end: records one boot of
# Debian's 6.1 cloud kernel with a drive, the rng and virtio-console under
# PVHBOOT_VIRTIO_TRACE in the emulated machine (tests/fuzz/record-trace.sh),
# checks the recording (all three devices, their register accesses, every
# kind of block request Linux sent, chains the recorder walked to their end),
# converts it with tests/fuzz/trace-seeds.py and replays the seeds through
# fuzz_virtio, fuzz_blk and fuzz_virtq: no crash, and the recorded requests
# succeed there (FUZZ_SUMMARY) as they did in the guest.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/kvm-suite.sh
make -s build/fuzz/fuzz_virtio build/fuzz/fuzz_blk build/fuzz/fuzz_virtq >/dev/null 2>&1 ||
    fail_all "cannot build the virtio fuzzers (make fuzz-build: clang)"

start=$(date +%s)
tests/fuzz/record-trace.sh "$work/boot.trace" >"$work/record.out" 2>"$work/record.err"
rc=$?
echo "# record-trace.sh exit $rc after $(( $(date +%s) - start )) s; $(grep -m1 '^# kvm:' "$work/record.err")"
[ "$rc" -eq 0 ] || sed 's/^/# /' "$work/record.err" | tail -20
python3 tests/fuzz/trace-seeds.py "$work/boot.trace" "$work/corpus" >"$work/seeds.out" 2>&1
seeds_rc=$?
replay() { # harness, seeds: "name rc summary-line" per seed
    local f
    for f in "$work/corpus/$2"/*; do
        [ -f "$f" ] || continue
        out=$(FUZZ_SUMMARY=1 "build/fuzz/fuzz_$1" -runs=1 -timeout=10 "$f" 2>&1)
        echo "$(basename "$f") $? $(grep -m1 -E '^(virtio-|virtq:)' <<<"$out")"
    done
}
replay virtio virtio >"$work/virtio.replay"
replay blk blk >"$work/blk.replay"
replay virtq virtq >"$work/virtq.replay"

WORK=$work RC=$rc SEEDS_RC=$seeds_rc python3 - <<'PY'
import os, re, struct, sys
sys.path.insert(0, "tests/lib")
from tap import check, finish
work = os.environ["WORK"]
out = open(work + "/record.out", errors="replace").read()
check(os.environ["RC"] == "0" and "VIRTIO-INITRAMFS-DONE status=0" in out and "TRACE rc=0" in out,
      f"the guest booted, ran its disk, rng and console work and powered off under the recorder (rc {os.environ['RC']})")
try:
    lines = open(work + "/boot.trace", errors="replace").read().splitlines()
except OSError:
    lines = []
devs = {l.split()[3]: l.split()[1] for l in lines if l.startswith("dev ")}
check(lines[:1] == ["# pvhboot virtio trace 1"] and sorted(devs) == ["virtio-blk", "virtio-console", "virtio-rng"],
      f"the trace names the three devices ({sorted(devs)})")
regs = [l for l in lines if l[:2] in ("r ", "w ")]
check(len(regs) > 300 and all(any(l.split()[1] == b for l in regs) for b in devs.values())
      and any(l.split()[2] == "0x70" and l.split()[4] == "0xf" and l[0] == "w" for l in regs),
      f"register accesses of every device recorded, DRIVER_OK among them ({len(regs)})")
notes = [l for l in lines if l.startswith("q ")]
per_dev = {n: sum(1 for l in notes if l.split()[1] == b) for n, b in devs.items()}
check(all(v > 0 for v in per_dev.values()) and len(notes) > 100, f"notifications with ring state for every device ({per_dev})")
# block requests: the first bytes of the first buffer of each chain on the drive's queue
types, cur, first = {}, None, False
for l in lines:
    f = l.split()
    if f[0] == "q":
        cur = f[1]
    elif f[0] == "c":
        first = True
    elif f[0] == "b" and first and cur == devs.get("virtio-blk"):
        t = struct.unpack("<I", bytes.fromhex(f[2][:8]))[0]
        types[t] = types.get(t, 0) + 1
        first = False
    elif f[0] == "b":
        first = False
names = {0: "IN", 1: "OUT", 4: "FLUSH", 8: "GET_ID", 11: "DISCARD", 13: "WRITE_ZEROES"}
seen = {names.get(t, t): n for t, n in types.items()}
check(all(t in types for t in (0, 1, 4, 8, 11)), f"Linux's block requests recorded with their headers ({seen})")
stops = [l for l in lines if l.startswith("e ") or l.startswith("# truncated")]
check(not stops, f"every chain Linux made available walked to its end ({stops[:3]})")
check(os.environ["SEEDS_RC"] == "0", "trace-seeds.py converts the trace: " + open(work + "/seeds.out").read().replace("\n", "; "))
sizes = [os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(work + "/corpus") for f in fs]
check(sizes and max(sizes) <= 64 << 10 and sum(sizes) <= 1 << 20,
      f"{len(sizes)} seeds, each under 64 KiB ({max(sizes or [0])}), {sum(sizes)} bytes in all")

def replays(name):
    rows = [l.split(" ", 2) for l in open(f"{work}/{name}.replay").read().splitlines()]
    return {r[0]: (r[1], r[2] if len(r) > 2 else "") for r in rows}

for name in ("virtio", "blk", "virtq"):
    r = replays(name)
    bad = [k for k, (rc, _) in r.items() if rc != "0"]
    check(r and not bad, f"fuzz_{name} replays its {len(r)} seeds without a crash ({bad[:3]})")
v = replays("virtio")
def summary(name):
    m = re.search(r"requests (\d+), bytes (\d+).*errors (\d+)", v.get(name, ("", ""))[1])
    return tuple(map(int, m.groups())) if m else (0, 0, -1)
blk, con, rng = summary("linux-blk-boot"), summary("linux-console-boot"), summary("linux-rng-boot")
check(blk[0] >= 40 and blk[2] == 0 and con[0] > 0 and con[2] == 0 and rng[1] > 0,
      f"fuzz_virtio: the recorded sessions serve every request without an error (blk {blk}, console {con}, rng {rng}; requests, bytes, errors)")
q = replays("virtq")
refused = [k for k, (_, s) in q.items() if not re.search(r"[1-9]\d* chains popped, 0 refused", s)]
check(q and not refused, f"fuzz_virtq: every recorded chain pops as Linux made it ({refused[:3]})")
finish()
PY
