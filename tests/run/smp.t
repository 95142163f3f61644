#!/usr/bin/env bash
# The end of a VM with many vCPUs, in ONE machine with KVM
# (tests/kvm/with-kvm.sh), with guest/build/smp (guest/src/smp.c): its BSP
# starts 7 APs with INIT-SIPI-SIPI into a real-mode trampoline, all of them
# do port I/O, and the AP with the highest APIC id triple-faults. Five boots
# in a row must each end promptly with exit 1 and the line naming vCPU 7, no
# crash and no hang (issue 19: the end used to kick vCPU threads that main
# had already joined, and could miss one in KVM_RUN). --timeout must end a
# VM whose APs were never started (smp=nosipi) with 124, promptly, and
# hello64 on 8 vCPUs (APs waiting for a SIPI) must exit 0 at once. While the
# VM runs, none of pvhboot's fds is /dev/kvm any more (listed from
# /proc/PID/fd): it is closed once the VM and its vCPUs exist.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/kvm-suite.sh
cat >"$work/cases.sh" <<'CASES'
# Every boot between markers with its duration; a hang is killed by the KILL
# guard (rc 137), since pvhboot's own --timeout is under test.
boot() {
    name=$1; shift
    echo "=== BEGIN $name"
    start=$(busybox date +%s)
    busybox timeout -s KILL 120 ./pvhboot run "$@" 2>&1
    rc=$?
    echo "seconds $(( $(busybox date +%s) - start ))"
    echo "=== END $name rc=$rc"
}
for i in 1 2 3 4 5; do boot fault$i smp --cpus 8 --mem 64 --cmdline smp=fault --timeout 100; done
boot nosipi smp --cpus 8 --mem 64 --cmdline smp=nosipi --timeout 3
boot hello64 hello64 --cpus 8 --mem 64
# pvhboot's fds while its 8 vCPUs run: listed once the APs are up
echo "=== BEGIN fds"
./pvhboot run smp --cpus 8 --mem 64 --cmdline smp=spin --timeout 20 >out.fds 2>&1 &
pid=$!
for t in $(busybox seq 150); do busybox grep -q "APs up" out.fds && break; busybox sleep 0.1; done
busybox cat out.fds
busybox ls -l /proc/$pid/fd | busybox sed 's/^/fd: /'
wait $pid
echo "=== END fds rc=$?"
CASES
start=$(date +%s)
tests/kvm/with-kvm.sh --mem 1024 --cpus 1 --file build/static/pvhboot --file guest/build/smp \
    --file guest/build/hello64 --file "$work/cases.sh" -- sh cases.sh >"$work/out.txt" 2>"$work/err.txt"
rc=$?
echo "# with-kvm.sh exit $rc after $(( $(date +%s) - start )) s; $(grep -m1 '^# kvm:' "$work/err.txt")"
[ "$rc" -eq 0 ] || sed 's/^/# /' "$work/err.txt" | tail -20
WORK=$work python3 - <<'PY'
import os, re, sys
sys.path.insert(0, "tests/lib")
from tap import check, finish, show_failed_boot, sections as split_sections
out = open(os.environ["WORK"] + "/out.txt", errors="replace").read()
sections = split_sections(out)
CRASH = ("Sanitizer", "Segmentation fault", "Bus error", "Aborted", "core dumped")
def seconds(text):
    m = re.search(r"^seconds (\d+)$", text, re.M)
    return int(m.group(1)) if m else None
for i in range(1, 6):
    name = f"fault{i}"
    text, rc = sections.get(name, ("", -1))
    secs = seconds(text)
    ok = check(rc == 1 and "smp: 7 APs up" in text and "smp: APIC id 7 triple-faults now" in text and
               re.search(r"^pvhboot: vCPU 7: the guest triple-faulted \(shutdown\)", text, re.M) and
               not any(w in text for w in CRASH) and secs is not None and secs < 60,
               f"{name}: 8 vCPUs doing port I/O, vCPU 7 triple-faults: exit {rc} after {secs} s, "
               "one line naming vCPU 7, no crash")
    if not ok:
        show_failed_boot(name, text, rc)
text, rc = sections.get("nosipi", ("", -1))
secs = seconds(text)
ok = check(rc == 124 and "smp: APs left waiting for SIPI" in text and "still running after 3 s" in text and
           secs is not None and secs < 20,
           f"nosipi: 7 APs never started, --timeout 3 still ends the VM: exit {rc} after {secs} s")
if not ok:
    show_failed_boot("nosipi", text, rc)
text, rc = sections.get("hello64", ("", -1))
secs = seconds(text)
ok = check(rc == 0 and "exit=0" in text and secs is not None and secs < 20,
           f"hello64 --cpus 8: vCPU 0 exits while 7 APs wait for a SIPI: exit {rc} after {secs} s")
if not ok:
    show_failed_boot("hello64", text, rc)
text, rc = sections.get("fds", ("", -1))
fds = [l for l in text.splitlines() if l.startswith("fd: ")]
vcpus = [l for l in fds if "kvm-vcpu" in l]
kvm = [l for l in fds if l.rstrip().endswith("-> /dev/kvm")]
ok = check(rc == 124 and "smp: 7 APs up" in text and len(vcpus) == 8 and not kvm,
           f"fds: while the VM runs (exit {rc}), pvhboot holds its 8 vCPU fds ({len(vcpus)} listed) "
           f"and no fd of /dev/kvm ({len(kvm)})")
if not ok:
    show_failed_boot("fds", text, rc, tail=20)
finish()
PY
