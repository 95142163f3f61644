#!/usr/bin/env bash
# Snapshots of a machine with virtio devices (issue 16), in ONE machine with
# KVM (tests/kvm/with-kvm.sh): Debian 6.1's kernel with the busybox virtio
# initramfs (tests/lib/virtio-initramfs.sh), an ext4 drive (id=data) and
# vsock. The guest mounts the drive, serves an echo on vsock port 5000, says
# SNAPV-READY and waits on vsock port 5999 for a count of bytes N; then it
# writes "written after restore by clone N" to /restored.txt on the drive,
# unmounts it and powers off.
#  - the template: SIGUSR2 once SNAPV-READY is out: exit 0, both files;
#  - restore: the restored guest answers on vsock (its listener works after
#    the transport reset; the CONNECT goes through the host socket restore
#    made) and writes its file, which lands in the drive's image on the host
#    (debugfs reads it, e2fsck finds the file system clean);
#  - 20 clones restored from the one snapshot at once, each with its own
#    drive (--drive FILE,id=data: a copy of the drive as the snapshot left
#    it), CID and socket (--vsock cid=N,uds=PATH): each answers on its own
#    socket and writes its own number to its own drive;
#  - refusals (one line, exit 2, the guest never runs): --drive naming an id
#    the snapshot has not, --drive with a file of another size; a state file
#    whose VIRTIO section names a drive file that is not there, and one whose
#    vsock CID is 2 (both resealed by tests/lib/snapfile-tamper.py from the
#    template's state file).
# SNAPV_CLONES=N runs N clones instead of 20 (while developing).
set -u
cd "$(dirname "$0")/../.."
. tests/lib/kvm-suite.sh
CLONES=${SNAPV_CLONES:-20}
k61=$(tests/lib/debian-kernel.sh) || fail_all "cannot fetch Debian's 6.1 cloud kernel"
cc -static -O2 -Wall -Wextra -Werror -o "$work/vsockpeer" tests/vsock/vsockpeer.c 2>"$work/cc.log" ||
    fail_all "cannot build tests/vsock/vsockpeer.c: $(head -3 "$work/cc.log")"
truncate -s 4M "$work/disk.img"
mkfs.ext4 -q -F -b 1024 -L snapv "$work/disk.img" >"$work/mkfs.log" 2>&1 || fail_all "mkfs.ext4: $(head -3 "$work/mkfs.log")"
truncate -s $(( (CLONES + 1) * 4 ))M "$work/results.img"

cat >"$work/test-init" <<'TEST'
#!/bin/sh
mkdir -p /mnt
mount -t ext4 /dev/vda /mnt || { echo "SNAPV-MOUNT-FAIL"; exit 1; }
/vsockpeer serve vsock:5000 >/dev/null 2>&1 &
echo "SNAPV-READY"
out=$(/vsockpeer sink vsock:5999 | grep SINK-OK)
n=${out#SINK-OK bytes=}
n=${n%% *}
echo "written after restore by clone $n" >/mnt/restored.txt
sync
umount /mnt
echo "SNAPV-WROTE clone=$n"
TEST
tests/lib/virtio-initramfs.sh "$k61" "$work/snapv.cpio" --init "$work/test-init" \
    --file "$work/vsockpeer:/vsockpeer" >/dev/null || fail_all "cannot build the initramfs"

cat >"$work/cases.sh" <<CASES
CLONES=$CLONES
CASES
cat >>"$work/cases.sh" <<'CASES'
p=./vsockpeer
section() { echo "=== BEGIN $1"; busybox cat "$2"; echo "=== END $1 rc=$3"; }
wait_line() { # FILE TEXT: up to 300 s
    i=0
    while ! busybox grep -q "$2" "$1" && [ $i -lt 1500 ]; do busybox usleep 200000; i=$((i + 1)); done
}
retry() { # tries a vsockpeer command until it prints its OK line, up to 60 s (each try 30 s at most)
    i=0
    while [ $i -lt 120 ]; do
        out=$(busybox timeout -s KILL 30 "$@" 2>&1)
        case $out in *-OK*) echo "$out"; return 0 ;; esac
        busybox usleep 500000
        i=$((i + 1))
    done
    echo "GAVE-UP $out"
}

# the template
busybox timeout -s KILL 420 ./pvhboot run vmlinux --initrd snapv.cpio --mem 128 --cmdline "console=ttyS0 quiet" --drive disk.img,id=data \
    --vsock cid=3,uds=/tmp/t.sock --snapshot-file t.state --mem-file t.mem --timeout 600 >template.txt 2>&1 &
pv=$!
wait_line template.txt SNAPV-READY
kill -USR2 $pv
wait $pv
section template template.txt $?
[ -s t.state ] || exit 0 # no snapshot: nothing else can run (the checks say what failed)
busybox cp disk.img base.img   # the drive as the snapshot left it, for the clones

# one restore, on the template's own drive and socket
busybox timeout -s KILL 240 ./pvhboot restore t.state --mem-file t.mem --timeout 180 >r0.txt 2>&1 &
pv=$!
echo "=== BEGIN restore-vsock"
retry $p echo hybrid:/tmp/t.sock:5000 4096 1
retry $p send hybrid:/tmp/t.sock:5999 100
echo "=== END restore-vsock rc=0"
wait $pv
section restore r0.txt $?
busybox dd if=disk.img of=$DISK0 bs=1M conv=notrunc 2>/dev/null

# the clones, all at once
n=1
while [ $n -le $CLONES ]; do
    busybox cp base.img d$n.img
    busybox timeout -s KILL 300 ./pvhboot restore t.state --mem-file t.mem --drive d$n.img,id=data --vsock cid=$((100 + n)),uds=/tmp/c$n.sock \
        --timeout 240 >c$n.txt 2>&1 &
    eval "pid$n=\$!"
    n=$((n + 1))
done
busybox sleep 1
echo "=== BEGIN clones-running"
busybox ps | busybox grep -v "timeout -s KILL" | busybox grep -c "[p]vhboot restore"
echo "=== END clones-running rc=0"
echo "=== BEGIN clones-ended"
n=1
while [ $n -le $CLONES ]; do
    eval "kill -0 \$pid$n 2>/dev/null" || echo $n
    n=$((n + 1))
done
echo "=== END clones-ended rc=0"
n=1
while [ $n -le $CLONES ]; do
    echo "=== BEGIN clone-vsock-$n"
    retry $p echo hybrid:/tmp/c$n.sock:5000 4096 1
    echo "=== END clone-vsock-$n rc=0"
    n=$((n + 1))
done
n=1
while [ $n -le $CLONES ]; do
    echo "=== BEGIN clone-send-$n"
    busybox timeout -s KILL 60 $p send hybrid:/tmp/c$n.sock:5999 $n 2>&1
    echo "=== END clone-send-$n rc=$?"
    n=$((n + 1))
done
n=1
while [ $n -le $CLONES ]; do
    eval "wait \$pid$n"
    section clone-$n c$n.txt $?
    busybox dd if=d$n.img of=$DISK0 bs=1M seek=$((4 * n)) conv=notrunc 2>/dev/null
    n=$((n + 1))
done
busybox sync

# refusals
run() { name=$1; shift; echo "=== BEGIN $name"; busybox timeout -s KILL 120 "$@" 2>&1; echo "=== END $name rc=$?"; }
run no-such-id ./pvhboot restore t.state --mem-file t.mem --drive d1.img,id=nope
busybox dd if=/dev/zero of=small.img bs=1M count=1 2>/dev/null
run small-drive ./pvhboot restore t.state --mem-file t.mem --drive small.img,id=data
echo "=== BEGIN l1-svm-run"; busybox grep -w __svm_vcpu_run /proc/kallsyms; echo "=== END l1-svm-run rc=0"
echo "=== BEGIN state-b64"; busybox base64 t.state; echo "=== END state-b64 rc=0"
CASES

run_machine() { # OUT ERR FILES...
    local out=$1 err=$2
    shift 2
    PVHBOOT_KVM_TIMEOUT=900 tests/kvm/with-kvm.sh --mem 3072 --cpus 2 --file build/static/pvhboot \
        --file "$k61/vmlinux" --file "$work/snapv.cpio" --file "$work/vsockpeer" --file "$work/disk.img" \
        --disk "$work/results.img" "$@" -- sh cases.sh >"$out" 2>"$err"
}
start=$(date +%s)
run_machine "$work/out.txt" "$work/err.txt" --file "$work/cases.sh"
rc=$?
echo "# with-kvm.sh exit $rc after $(( $(date +%s) - start )) s; $(grep -m1 '^# kvm:' "$work/err.txt")"
[ "$rc" -eq 0 ] || { sed 's/^/# /' "$work/err.txt" | tail -30; }

# the tampered files from the template's state, refused in a short second machine
python3 - "$work" <<'PY'
import base64, re, sys
work = sys.argv[1]
out = open(f"{work}/out.txt", errors="replace").read().replace("\r", "")
m = re.search(r"=== BEGIN state-b64\n(.*?)=== END state-b64", out, re.S)
open(f"{work}/good.state", "wb").write(base64.b64decode(m.group(1)) if m else b"")
PY
for how in drive-path vsock-cid; do
    python3 tests/lib/snapfile-tamper.py "$work/good.state" "$work/$how.state" "$how" >"$work/tamper-$how.txt" 2>&1
done
cat >"$work/refuse.sh" <<'CASES'
run() { name=$1; shift; echo "=== BEGIN $name"; busybox timeout -s KILL 120 "$@" 2>&1; echo "=== END $name rc=$?"; }
busybox dd if=/dev/zero of=t.mem bs=1 count=0 seek=134217728 2>/dev/null
run missing-drive ./pvhboot restore drive-path.state --mem-file t.mem
run bad-cid ./pvhboot restore vsock-cid.state --mem-file t.mem
CASES
tests/kvm/with-kvm.sh --mem 512 --cpus 1 --file build/static/pvhboot --file "$work/disk.img" \
    --file "$work/drive-path.state" --file "$work/vsock-cid.state" --file "$work/refuse.sh" -- sh refuse.sh \
    >"$work/out2.txt" 2>"$work/err2.txt"
echo "# with-kvm.sh (tampered state files) exit $?"

# the drives as the restored guests left them, read on the host
for n in $(seq 0 "$CLONES"); do
    dd if="$work/results.img" of="$work/r$n.img" bs=1M skip=$((4 * n)) count=4 2>/dev/null
    { debugfs -R "cat /restored.txt" "$work/r$n.img" 2>/dev/null | head -1; } >"$work/file$n.txt"
    e2fsck -fn "$work/r$n.img" >"$work/fsck$n.txt" 2>&1
    echo $? >"$work/fsck$n.rc"
done

export WORK=$work CLONES SYSTEM_MAP=$k61/System.map
python3 - <<'PY'
import os, re, sys
sys.path.insert(0, "tests/lib")
from tap import check, finish, show_failed_boot, sections as split_sections
work, clones = os.environ["WORK"], int(os.environ["CLONES"])
out = open(f"{work}/out.txt", errors="replace").read().replace("\r", "")
out2 = open(f"{work}/out2.txt", errors="replace").read().replace("\r", "")
s = split_sections(out)
s2 = split_sections(out2)
def get(name, where=s):
    return where.get(name, ("", -1))
def crashed(text):
    return [w for w in ("Sanitizer", "Segmentation fault", "forbidden system call", "DEVICE_NEEDS_RESET") if w in text]
# The emulated machine's known bugs (docs/snapshots.md, "Known bugs";
# docs/kvm-tests.md, "Interrupts delivered twice"): its QEMU TCG delivers
# an interrupt to a nested guest a second time, on top of the first, with
# interrupts off, when the first one's delivery met a nested page fault
# (tests/kvm/irqfresh.sh shows it in guests that were never snapshotted, so
# it is not pvhboot's); restored guests meet it most, since KVM maps their
# memory page by page as they touch it. Seen as:
#  - a guest out of time whose vCPU spins in native_queued_spin_lock_slowpath
#    with interrupts off (the second handler waits for a lock the first
#    holds): pvhboot's "vCPU 0 was at rip" by the kernel's System.map;
#  - a triple fault;
#  - a guest out of time whose vCPU's saved rip is the machine's own KVM's
#    (kvm_amd's __svm_vcpu_run, just after its VMRUN, from the machine's
#    /proc/kallsyms): the emulator left its host state as the guest's.
# Each is a TODO naming it; any other failure is a failure.
import bisect
syms = []
for line in open(os.environ["SYSTEM_MAP"], errors="replace"):
    f = line.split()
    if len(f) >= 3 and f[1] in "tTwW":
        syms.append((int(f[0], 16), f[2]))
syms.sort()
starts = [a for a, _ in syms]
def hang_place(text):
    m = re.search(r"^pvhboot: vCPU 0 was at rip (0x[0-9a-f]+), rflags 0x[0-9a-f]+ \(interrupts (on|off)\)$", text, re.M)
    if not m:
        return None, None
    i = bisect.bisect_right(starts, int(m.group(1), 16)) - 1
    return (syms[i][1] if i >= 0 else m.group(1)), m.group(2)
def irq_deadlock(text, rc):
    sym, irqs = hang_place(text)
    return rc == 124 and irqs == "off" and sym is not None and "spin_lock" in sym
IRQ_DEADLOCK = ("known bug (the emulated machine): the guest's interrupt handler spins with interrupts off on a lock "
                "the interrupted code holds: QEMU TCG delivered an interrupt twice (tests/kvm/irqfresh.sh; "
                "docs/snapshots.md)")
svm_run = [int(l.split()[0], 16) for l in get("l1-svm-run")[0].splitlines() if l.split()[:1] != ["0" * 16]][:1]
def host_rip(text, rc):
    m = re.search(r"^pvhboot: vCPU 0 was at rip (0x[0-9a-f]+), ", text, re.M)
    return rc == 124 and bool(m) and bool(svm_run) and 0 <= int(m.group(1), 16) - svm_run[0] < 0x400
HOST_RIP = ("known bug (the emulated machine): the guest's vCPU was found at the machine's own KVM's rip, just after "
            "its VMRUN in kvm_amd's __svm_vcpu_run: QEMU TCG left its host state as the guest's (docs/snapshots.md)")
TRIPLE = ("known bug (the emulated machine): a triple fault with no console output; tests/kvm/irqfresh.sh's restored "
          "clones, which do nothing but take timer ticks, also end so there at times (docs/snapshots.md)")
def known_bug(text, rc):
    if irq_deadlock(text, rc):
        return IRQ_DEADLOCK + f" (at {hang_place(text)[0]})"
    if host_rip(text, rc):
        return HOST_RIP
    if rc != 0 and "the guest triple-faulted" in text:
        return TRIPLE
    return None

def disk(n):
    text = open(f"{work}/file{n}.txt", errors="replace").read().strip()
    rc = int(open(f"{work}/fsck{n}.rc").read().strip() or 99)
    return text, rc

# The emulated machine's own kernel (L1, kvm_amd under QEMU TCG) locking
# up ("watchdog: BUG: soft lockup", the emulator's hang that
# tests/kvm/kvm-pin.c works around: docs/kvm-tests.md, "KVM's APIC static
# key") or panicking (a local run of 2026-11-29 died in the template's boot:
# a stack overflow in error_entry under a pvhboot thread's KVM_RUN, "Kernel
# panic - not syncing: Fatal exception in interrupt"; tests/kvm/irqfresh.sh
# has stopped that machine too: docs/kvm-tests.md, "Interrupts delivered
# twice"): the checks say so as TODOs naming its line. A user process
# cannot do either to a correct kernel. A pvhboot killed by its own timeout
# without it is a plain failure.
machine_said = [l.strip() for l in open(f"{work}/err.txt", errors="replace").read().splitlines()
                if "soft lockup" in l or "Kernel panic - not syncing" in l]
text, rc = get("template")
if machine_said:
    _check0 = check
    def check(ok, what, todo=None):
        return _check0(ok, what, todo or f"the emulated machine's own kernel failed ('{machine_said[0][:100]}'): "
                       "QEMU TCG's nested SVM (docs/kvm-tests.md), not pvhboot's")
ok = check(rc == 0 and "SNAPV-READY" in text and "snapshot written to t.state and t.mem" in text
           and "SNAPV-WROTE" not in text,
           "the template (Debian 6.1, ext4 drive, vsock) is snapshotted by SIGUSR2 once its userspace runs: exit 0")
ok or show_failed_boot("template", text, rc)

vs, _ = get("restore-vsock")
text, rc = get("restore")
todo0 = known_bug(text, rc)
ok = check("ECHO-OK" in vs and "SEND-OK" in vs,
           f"the restored guest answers on vsock (listeners work after the transport reset): "
           f"{(vs.strip().splitlines() or [''])[0][:100]}", todo=todo0)
ok = check(rc == 0 and "SNAPV-WROTE clone=100" in text and not crashed(text),
           "the restored guest writes its file, unmounts and powers off (exit 0)", todo=todo0) and ok
ok or show_failed_boot("restore", text, rc)
content, fsck = disk(0)
check(content == "written after restore by clone 100" and fsck == 0,
      f"its file is in the drive's image on the host (debugfs: '{content}'; e2fsck -fn exit {fsck})", todo=todo0)

running, _ = get("clones-running")
wrote = [n for n in range(1, clones + 1) if get(f"clone-{n}")[1] == 0 and f"SNAPV-WROTE clone={n}\n" in get(f"clone-{n}")[0]]
bad = [n for n in range(1, clones + 1) if n not in wrote]
tripled = [n for n in bad if "the guest triple-faulted" in get(f"clone-{n}")[0]]
deadlocked = [n for n in bad if irq_deadlock(*get(f"clone-{n}"))]
at_host_rip = [n for n in bad if host_rip(*get(f"clone-{n}"))]
known = tripled + deadlocked + at_host_rip
others = [n for n in bad if n not in known]
# A clone that ended within the first second is counted as started when it
# ended as one of the known bugs (in a CI run of 2026-11-28 one clone of 20
# triple-faulted that soon).
ended = [int(w) for w in get("clones-ended")[0].split()]
check(running.strip().isdigit() and int(running) + len(ended) == clones and all(n in known for n in ended),
      f"{clones} clones of one snapshot run at once ({running.strip()} restore processes; ended within a second: "
      f"{ended}{', the known bugs below' if ended else ''})")
answered = [n for n in range(1, clones + 1) if "ECHO-OK" in get(f"clone-vsock-{n}")[0]]
check(len(answered) == clones or all(n in known for n in range(1, clones + 1) if n not in answered),
      f"each clone answers on its own vsock socket (--vsock uds override): {len(answered)} of {clones}"
      f"{' (the others: the known bugs below)' if len(answered) < clones else ''}")
check(not others, f"each clone got its own number over its own socket, wrote it and powered off (failed: {others[:8]}; "
      f"the known bugs below: {known[:8]})")
check(not tripled, f"no restored clone triple-faulted ({tripled[:8]})", todo=TRIPLE)
# About 1 clone of 20 a run met them in 2026-11-28's runs (0 to 2): 5 or
# more is not that rare case.
check(len(known) <= 4, f"at most 4 clones of {clones} hit the known bugs ({len(known)}): more is not the emulator's rare case")
check(not deadlocked, f"no restored clone hung in an interrupt handler with interrupts off "
      f"({[(n, hang_place(get(f'clone-{n}')[0])[0]) for n in deadlocked][:4]})", todo=IRQ_DEADLOCK)
check(not at_host_rip, f"no restored clone's vCPU was found at the machine's own KVM's rip ({at_host_rip[:8]})",
      todo=HOST_RIP)
for n in bad[:2]:
    show_failed_boot(f"clone-{n}", *get(f"clone-{n}"))
landed = [n for n in range(1, clones + 1) if disk(n) == (f"written after restore by clone {n}", 0)]
check(all(n in landed or n in known for n in range(1, clones + 1)),
      f"each clone's file is on its own drive (--drive FILE,id=data), clean under e2fsck: {len(landed)} of {clones}"
      f"{' (the others: the known bugs above)' if len(landed) < clones else ''}")
check(not any(crashed(get(f"clone-{n}")[0]) for n in range(1, clones + 1)), "no clone crashed or hit the sandbox")

def refused(name, pattern, where):
    text, rc = get(name, where)
    lines = [l for l in text.splitlines() if l.strip()]
    ok = check(rc == 2 and len(lines) == 1 and re.search(pattern, lines[0]) and "SNAPV" not in text,
               f"{name}: refused with exit 2 and one line: {lines[0][:150] if lines else '(nothing)'}")
    ok or show_failed_boot(name, text, rc)
refused("no-such-id", r"^pvhboot: t\.state: --drive id=nope: the snapshot has no drive with that id$", s)
refused("small-drive", r"^pvhboot: t\.state: the snapshot's devices: drive small\.img: 2048 sectors of 512 bytes; "
        r"the snapshot's guest was told 8192", s)
refused("missing-drive", r"^pvhboot: drive-path\.state: the snapshot's devices: xxxxxxxx: ", s2)
refused("bad-cid", r"^pvhboot: vsock-cid\.state: virtio config: slot \d+: vsock CID 2 \(3 to 4294967294\)", s2)
finish()
PY
