#!/usr/bin/env bash
# The README's quick start (issue 18): contrib/pvhboot-quickstart builds a
# busybox initramfs and takes Debian's kernel (--debian-kernel: the package
# apt resolves, fetched with apt-get download: the same vmlinuz as
# tests/lib/debian-kernel.sh's) or a given one; without a usable /dev/kvm it
# says where the README explains KVM and shows the --dry-run layout (exit 1),
# and says so too for a /dev/kvm of kvm_pvm alone (PVM runs only PVM guests).
# Then, in ONE machine with KVM (tests/kvm/with-kvm.sh), the command it
# prints boots:
#  - to an interactive shell: the banner, the prompt, a command typed on the
#    console runs (its output 42), and `poweroff -f` ends pvhboot with 0;
#  - with --run CMD: CMD runs (uname -r is the kernel's version) and then
#    crashes the kernel (sysrq c): with pvhboot's default panic=-1 the VM
#    ends at the panic, not by --timeout.
# Last, the README's "Without KVM" block runs as written (HOME in a
# temporary directory, Debian's kernel put where the script keeps it):
# uname -a and the command line come back, exit 0.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/kvm-suite.sh
kdir=$(tests/lib/debian-kernel.sh) || fail_all "cannot fetch Debian's kernel"
cache=${PVHBOOT_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pvhboot-tests}
qs=contrib/pvhboot-quickstart
export PVHBOOT=$PWD/build/static/pvhboot
n=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
notok() { n=$((n + 1)); echo "not ok $n - $*"; [ -s "$work/log" ] && sed 's/^/# /' "$work/log" | tail -6; }
check() { if eval "$1"; then ok "$2"; else notok "$2"; fi; }
echo "1..11"

# Debian's kernel through apt (kept in the test cache: downloaded once)
PVHBOOT_QUICKSTART_DIR=$cache/quickstart $qs --debian-kernel --build-only >"$work/cmd-debian" 2>"$work/log"
rc=$?
check "[ $rc -eq 0 ] && cmp -s '$cache/quickstart/vmlinuz' '$kdir/vmlinuz'" \
    "--debian-kernel: exit $rc, apt-get download's vmlinuz is $(basename "$kdir")'s"

export PVHBOOT_QUICKSTART_DIR=$work/qs
$qs --kernel "$kdir/vmlinuz" --build-only >"$work/cmd-shell" 2>"$work/log"
rc=$?
cpio -it <"$work/qs/initramfs.cpio" >"$work/list" 2>/dev/null
check "[ $rc -eq 0 ] && grep -qx init '$work/list' && grep -qx bin/busybox '$work/list' && grep -qx bin/sh '$work/list' && grep -qx bin/cttyhack '$work/list'" \
    "--kernel FILE --build-only: exit $rc, an initramfs with /init, busybox and its applets ($(wc -l <"$work/list") entries)"
check "grep -q -- '--initrd .*initramfs.cpio --mem 512M --cmdline console=ttyS0\\\\ quiet' '$work/cmd-shell'" \
    "it prints the pvhboot command: $(head -c 160 "$work/cmd-shell")"
$qs --kernel "$kdir/vmlinuz" --run 'uname -r; echo c > /proc/sysrq-trigger' --build-only >"$work/cmd-run" 2>>"$work/log"
$qs --kernel "$kdir/vmlinuz" -- --kvm-device "$work/no-kvm" >"$work/out" 2>"$work/log"
rc=$?
check "[ $rc -eq 1 ] && grep -q 'Getting KVM' '$work/log' && grep -q '^dry run (no KVM)' '$work/out' && grep -q 'module 0 (initrd): .*initramfs.cpio' '$work/out'" \
    "no usable KVM device: exit $rc, points to the README's Getting KVM and shows the --dry-run layout"

mkdir -p "$work/sysmod/kvm" "$work/sysmod/kvm_pvm" && : >"$work/pvm-kvm"
PVHBOOT_KVM_SYSMODULE=$work/sysmod $qs --kernel "$kdir/vmlinuz" -- --kvm-device "$work/pvm-kvm" >"$work/out" 2>"$work/log"
rc=$?
check "[ $rc -eq 1 ] && grep -q 'served by kvm_pvm (PVM): it runs only guests built for PVM' '$work/log' && grep -q '^dry run (no KVM)' '$work/out'" \
    "a /dev/kvm of kvm_pvm alone (a fake module list): exit $rc, says PVM runs only PVM guests, shows the --dry-run layout"

# the printed commands, run where the files are (inside the machine: their base names)
local_cmd() { sed -e "s|$PVHBOOT|./pvhboot|" -e "s|$work/qs/||g" "$1"; }
cat >"$work/cases.sh" <<CASES
export XDG_CACHE_HOME=/work/xdg-cache
echo "=== BEGIN shell"
busybox mkfifo in
( exec 3>in
  i=0; while ! busybox grep -q 'pvhboot quick start: a busybox shell' out 2>/dev/null && [ \$i -lt 280 ]; do busybox sleep 1; i=\$((i + 1)); done
  busybox sleep 1; echo 'echo QUICKSTART-\$((6*7))' >&3; busybox sleep 2; echo 'poweroff -f' >&3; busybox sleep 300 ) &
feeder=\$!
busybox timeout -s KILL 300 $(local_cmd "$work/cmd-shell") --timeout 280 <in >out 2>&1
rc=\$?
kill \$feeder
busybox cat out
echo "=== END shell rc=\$rc"
echo "=== BEGIN run"
start=\$(busybox date +%s)
busybox timeout -s KILL 300 $(local_cmd "$work/cmd-run") --timeout 280 2>&1
rc=\$?
echo "took \$((\$(busybox date +%s) - start)) s"
echo "=== END run rc=\$rc"
CASES
start=$(date +%s)
tests/kvm/with-kvm.sh --mem 1024 --file build/static/pvhboot --file "$work/qs/vmlinuz" --file "$work/qs/initramfs.cpio" \
    --file "$work/cases.sh" -- sh cases.sh >"$work/out.txt" 2>"$work/err.txt"
rc=$?
echo "# with-kvm.sh exit $rc after $(( $(date +%s) - start )) s; $(grep -m1 '^# kvm:' "$work/err.txt")"
[ "$rc" -eq 0 ] || sed 's/^/# /' "$work/err.txt" | tail -20
# the README's block, as written
home=$work/home pkg=$(basename "$kdir")
mkdir -p "$home/.cache/pvhboot-quickstart/$pkg" && cp "$kdir/vmlinuz" "$home/.cache/pvhboot-quickstart/$pkg/vmlinuz"
make -s VARIANT=release build/release/pvhboot >/dev/null 2>&1
sed -n '/^<!-- quickstart-no-kvm -->$/,/^<!-- \/quickstart-no-kvm -->$/p' README.md | grep -v '^<!--\|^```' >"$work/readme.sh"
env -u XDG_CACHE_HOME -u PVHBOOT -u PVHBOOT_QUICKSTART_DIR HOME="$home" PVHBOOT_TEST_CACHE="$cache" \
    bash -e "$work/readme.sh" >"$work/readme.out" 2>"$work/readme.err"
rc=$?
{ echo "=== BEGIN readme"; cat "$work/readme.out"; echo "=== END readme rc=$rc"; } >>"$work/out.txt"
echo "# the README's block: $(wc -l <"$work/readme.sh") lines, $(grep -m1 '^# kvm:' "$work/readme.err")"
export WORK=$work KVERSION=$(basename "$kdir" | sed 's/^linux-image-//') N=$n
python3 - <<'PY'
import os, re, sys
sys.path.insert(0, "tests/lib")
from tap import check, show_failed_boot, sections, results
out = open(os.environ["WORK"] + "/out.txt", errors="replace").read()
s = sections(out)
text, rc = s.get("shell", ("", -1))
ok = check("pvhboot quick start: a busybox shell on Linux " + os.environ["KVERSION"] in text and "pvhboot:/root# " in text,
           f"the shell: the banner names Linux {os.environ['KVERSION']}, then the prompt 'pvhboot:/root# '")
ok &= check("QUICKSTART-42" in text and rc == 0 and "reboot: Power down" in text,
            f"a command typed on the console runs (QUICKSTART-42), poweroff -f ends pvhboot with 0 (got {rc})")
if not ok:
    show_failed_boot("shell", text, rc)
text, rc = s.get("run", ("", -1))
took = re.search(r"took (\d+) s", text)
ok = check(os.environ["KVERSION"] in text and "Kernel panic - not syncing: sysrq triggered crash" in text,
           "--run CMD: CMD ran (uname -r printed the kernel's version), then the kernel panicked")
ok &= check(rc not in (124, 137, -1) and took and int(took.group(1)) < 280,
            f"the panic ended the VM at once (panic=-1 by default): exit {rc} after {took and took.group(1)} s, not --timeout's 124")
if not ok:
    show_failed_boot("run", text, rc)
text, rc = s.get("readme", ("", -1))
ok = check(re.search(r"^Linux \S+ " + re.escape(os.environ["KVERSION"]) + " #1 SMP", text, re.M)
           and "console=ttyS0 quiet panic=-1 -- uname -a; cat /proc/cmdline" in text,
           "the README's no-KVM block: uname -a names the kernel, /proc/cmdline is the block's (with panic=-1)")
ok &= check(rc == 0, f"the README's no-KVM block exits 0 (got {rc})")
if not ok:
    show_failed_boot("readme", text, rc)
n = int(os.environ["N"])
for i, (good, what, _) in enumerate(results, n + 1):
    print(f"{'ok' if good else 'not ok'} {i} - {what}")
PY
