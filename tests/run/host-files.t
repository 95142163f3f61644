#!/usr/bin/env bash
# The host files pvhboot holds while a guest runs, in ONE machine with KVM
# (tests/kvm/with-kvm.sh):
#  - a module file truncated under a running guest that reads it
#    (guest/build/hostile attack=read-module): with --load map the guest's
#    pages are gone, KVM_RUN fails with EFAULT, and pvhboot must end with one
#    line naming the file, exit 1, no signal (before: "KVM_RUN: Bad address",
#    the file unnamed); with --load copy the guest never notices (exit 124 at
#    --timeout);
#  - --user: while the guest runs, no descriptor of the process is
#    /proc/self/pagemap opened as root (it would go on giving physical frame
#    numbers to the unprivileged process); without --user the same listing
#    shows it, so the listing is known to see it;
#  - --serial file:PATH on a real run where PATH is a symbolic link: refused
#    with one line, exit 2, the link's target untouched.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/kvm-suite.sh
cat >"$work/cases.sh" <<'CASES'
# wait_for FILE TEXT: up to about 60 s for TEXT to appear in FILE
wait_for() {
    i=0
    while ! busybox grep -q "$2" "$1" 2>/dev/null && [ $i -lt 300 ]; do busybox sleep 0.2; i=$((i + 1)); done
}
# truncated MODE: the guest reads module 0 round after round; once it has read
# it whole, the module's file is cut to one page.
truncated() {
    mode=$1
    echo "=== BEGIN truncate-$mode"
    busybox head -c 8388608 /dev/urandom >module.$mode
    busybox timeout -s KILL 120 ./pvhboot run hostile --mem 256 --initrd module.$mode --load $mode \
        --cmdline attack=read-module --timeout 20 >out.$mode 2>err.$mode &
    pid=$!
    wait_for out.$mode MODULE-READ
    busybox truncate -s 4096 module.$mode
    echo "truncated-to $(busybox wc -c <module.$mode)"
    wait $pid
    rc=$?
    busybox cat out.$mode | busybox grep -E 'MODULE-READ|read-module'
    echo "stderr-lines $(busybox wc -l <err.$mode)"
    busybox cat err.$mode
    echo "=== END truncate-$mode rc=$rc"
}
# fds NAME ARGS...: a guest busy until --timeout 5; the process's descriptors
# listed while it runs (vCPU fd present: setup is over).
fds() {
    name=$1; shift
    echo "=== BEGIN $name"
    ./pvhboot run hostile --mem 64 --cmdline attack=huge-count --timeout 5 --verbose "$@" >out.$name 2>err.$name &
    pid=$!
    i=0
    while ! busybox ls -l /proc/$pid/fd 2>/dev/null | busybox grep -q kvm-vcpu && [ $i -lt 300 ]; do
        busybox sleep 0.1; i=$((i + 1))
    done
    busybox ls -l /proc/$pid/fd | busybox sed 's/.* -> /fd -> /'
    busybox grep '^Uid:' /proc/$pid/status
    wait $pid
    rc=$?
    busybox cat err.$name
    echo "=== END $name rc=$rc"
}
serial_link() {
    echo "=== BEGIN serial-link"
    echo keep >victim
    busybox ln -s victim serial-link
    busybox timeout -s KILL 60 ./pvhboot run hostile --mem 64 --cmdline attack=mmio --serial file:serial-link 2>err.link
    rc=$?
    echo "victim: $(busybox cat victim | busybox head -c 40)"
    echo "stderr-lines $(busybox wc -l <err.link)"
    busybox cat err.link
    echo "=== END serial-link rc=$rc"
}
truncated map
truncated copy
fds fds-user --user 65534:65534
fds fds-root
serial_link
CASES
start=$(date +%s)
tests/kvm/with-kvm.sh --mem 1024 --cpus 1 --file build/static/pvhboot --file guest/build/hostile \
    --file "$work/cases.sh" -- sh cases.sh >"$work/out.txt" 2>"$work/err.txt"
rc=$?
echo "# with-kvm.sh exit $rc after $(( $(date +%s) - start )) s; $(grep -m1 '^# kvm:' "$work/err.txt")"
[ "$rc" -eq 0 ] || sed 's/^/# /' "$work/err.txt" | tail -20
WORK=$work python3 - <<'PY'
import os, re, sys
sys.path.insert(0, "tests/lib")
from tap import check, finish, sections as split_sections
out = open(os.environ["WORK"] + "/out.txt", errors="replace").read()
sections = split_sections(out)
def section(name):
    text, rc = sections.get(name, ("", -1))
    bad = [w for w in ("Sanitizer", "Segmentation fault", "Bus error", "Aborted", "core dumped") if w in text]
    return text, rc, bad
def vmm_lines(text):
    return [l for l in text.splitlines() if l.startswith("pvhboot: ")]

text, rc, bad = section("truncate-map")
read = re.search(r"MODULE-READ (\d+)", text)
check(read and int(read.group(1)) == 2048 and "truncated-to 4096" in text,
      f"--load map: the guest read the 8 MiB module (2048 pages), then its file was cut to one page")
lines = vmm_lines(text)
want = re.compile(r"pvhboot: vCPU 0: module\.map: the file shrank while the VM ran; guest RAM mapped from it "
                  r"\(--load map\) lost its pages$")
check(rc == 1 and not bad and "stderr-lines 1" in text and len(lines) == 1 and want.match(lines[0]),
      f"--load map: the guest touching the lost pages ends pvhboot with exit 1 and one line naming the file, "
      f"no signal (exit {rc}: {lines[:2]}{', ' + ', '.join(bad) if bad else ''})")

text, rc, bad = section("truncate-copy")
check(rc == 124 and not bad and "MODULE-READ 2048" in text and "truncated-to 4096" in text and
      "still running after 20 s" in text,
      f"--load copy: the guest read its copy on, untouched by the truncation, until --timeout (exit {rc})")

text, rc, bad = section("fds-user")
fds = re.findall(r"^fd -> (.*)$", text, re.M)
check(re.search(r"^Uid:\s+65534\s+65534\s+65534\s+65534", text, re.M) and any("kvm-vcpu" in f for f in fds),
      f"--user 65534: the descriptors were listed while the guest ran as uid 65534 ({len(fds)} descriptors)")
check(fds and not any("pagemap" in f for f in fds),
      f"--user: no descriptor is /proc/self/pagemap ({', '.join(sorted(set(fds)))})")
check(rc == 124 and not bad and "guest RAM touched unknown" in text,
      f"--user --verbose: the run ends at --timeout (exit {rc}), the guest RAM figure said to be unknown")
text, rc, bad = section("fds-root")
fds = re.findall(r"^fd -> (.*)$", text, re.M)
check(any("pagemap" in f for f in fds) and rc == 124 and re.search(r"guest RAM touched \d+ KiB", text),
      f"without --user, the same listing shows /proc/self/pagemap open for --verbose (exit {rc})")

text, rc, bad = section("serial-link")
lines = vmm_lines(text)
check(rc == 2 and "victim: keep" in text and "stderr-lines 1" in text and len(lines) == 1 and
      "serial-link: a symbolic link; pvhboot does not follow one there" in lines[0],
      f"--serial file: a symbolic link on a real run: exit {rc}, one line, its target untouched ({lines[:1]})")
finish()
PY
