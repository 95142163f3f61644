#!/usr/bin/env bash
# Multiboot 1 kernels nobody here wrote, from Debian's packages
# (tests/lib/debian-file.sh), in ONE machine with KVM (with-kvm.sh), each run
# until its last line and then ended with Ctrl-A x (tests/lib/until-line.sh):
#   tboot (ELF32): banner, the command line and the memory map on COM1, then
#     its halt for want of a TXT platform;
#   GNU Mach 1.8 (ELF64 with a Multiboot 1 header): banner, memory map, the
#     date it reads from the CMOS RTC, then its "no bootstrap" panic (without
#     an RTC whose update-in-progress bit clears it polls port 0x71 forever);
# and the same kernels under QEMU TCG `-M pc -kernel` on this host for
# comparison: tboot's command line and memory map agree (usable RAM from
# 0 within 16 KiB, from 1 MiB within the 1 MiB QEMU's firmware keeps);
# QEMU refuses GNU Mach ("Cannot load x86-64 image").
set -u
cd "$(dirname "$0")/../.."
. tests/lib/kvm-suite.sh
. tests/lib/until-line.sh
tboot=$(tests/lib/debian-file.sh tboot boot/tboot.gz) || fail_all "cannot fetch Debian's tboot"
mach=$(tests/lib/debian-file.sh gnumach-image-1.8-486 boot/gnumach-1.8-486.gz) || fail_all "cannot fetch Debian's GNU Mach"
cp "$tboot" "$work/tboot" && cp "$mach" "$work/gnumach" && cp tests/lib/until-line.sh "$work/"
mem=256
tboot_args="loglvl=all logging=serial"
tboot_end="shutdown_system() called"
mach_end="No bootstrap code loaded with the kernel"

cat >"$work/cases.sh" <<CASES
. ./until-line.sh
boot() {
    name=\$1 pat=\$2; shift 2
    echo "=== BEGIN \$name"
    echo "L1-DATE before \$(date +%s)"
    pvhboot_until "\$pat" 90 out.txt ./pvhboot run "\$@" --verbose --timeout 120
    rc=\$?
    cat out.txt
    echo "L1-DATE after \$(date +%s)"
    echo "=== END \$name rc=\$rc"
}
# QEMU's command line for a Multiboot kernel is its file name, a space, -append
boot pvhboot-tboot "$tboot_end" tboot --mem $mem --cmdline "tboot $tboot_args"
boot pvhboot-gnumach "$mach_end" gnumach --mem $mem --cmdline "gnumach console=com0"
CASES

start=$(date +%s)
tests/kvm/with-kvm.sh --mem 1024 --cpus 1 --file build/static/pvhboot --file "$work/tboot" --file "$work/gnumach" \
    --file "$work/until-line.sh" --file "$work/cases.sh" -- sh cases.sh >"$work/out.txt" 2>"$work/err.txt"
rc=$?
echo "# with-kvm.sh exit $rc after $(( $(date +%s) - start )) s; $(grep -m1 '^# kvm:' "$work/err.txt")"
[ "$rc" -eq 0 ] || { sed 's/^/# /' "$work/err.txt" | tail -30; }

qemu_kernel() { # LABEL KERNEL PATTERN: QEMU TCG -M pc -kernel, until PATTERN
    local rc
    (cd "$work" && qemu_until "$3" 60 "qemu-$1.txt" qemu-system-x86_64 -accel tcg -M pc -m $mem -kernel "$2" \
        -append "$tboot_args" -display none -monitor none -serial stdio -no-reboot)
    rc=$?
    { echo "=== BEGIN $1"; cat "$work/qemu-$1.txt"; echo "=== END $1 rc=$rc"; } >>"$work/out.txt"
}
qemu_kernel qemu-tboot tboot "$tboot_end"
qemu_kernel qemu-gnumach gnumach "Cannot load"

export WORK=$work MEM=$mem TBOOT_ARGS=$tboot_args
python3 - <<'PY'
import calendar, os, re, sys, time
sys.path.insert(0, "tests/lib")
from tap import check, finish, show_failed_boot, sections as split_sections
work, mem = os.environ["WORK"], int(os.environ["MEM"])
KiB, MiB = 1024, 1024 * 1024
out = open(f"{work}/out.txt", errors="replace").read().replace("\r", "")
sections = split_sections(out)

for name in ("pvhboot-tboot", "pvhboot-gnumach", "qemu-tboot", "qemu-gnumach"):
    check(name in sections, f"{name}: ran and ended (markers seen)")


def usable_from(mmap, start):
    cur = start
    for _ in mmap:
        grown = [a + s for a, s, t in mmap if t == 1 and a <= cur < a + s]
        if not grown or max(grown) == cur:
            break
        cur = max(grown)
    return cur


def tboot_report(text):
    mm = [(int(a, 16), int(b, 16) - int(a, 16), int(t)) for a, b, t in
          re.findall(r"^TBOOT: \t([0-9a-f]{16}) - ([0-9a-f]{16})  \((\d+)\)$", text, re.M)]
    cl = re.search(r"^TBOOT: command line: (.*)$", text, re.M)
    return mm, cl.group(1) if cl else None


tb = {}
for name in ("pvhboot-tboot", "qemu-tboot"):
    if name not in sections:
        continue
    text, rc = sections[name]
    banner = "TBOOT: *********************** TBOOT ***********************" in text and "TBOOT:    2022-03-04 12:00 +0100 1.10.5" in text
    if not check(rc == 0 and banner and "shutdown_system() called for shutdown_type: TB_SHUTDOWN_HALT" in text,
                 f"{name}: tboot 1.10.5's banner, then its halt (no TXT here) (rc {rc})"):
        show_failed_boot(name, text, rc)
    tb[name] = tboot_report(text)
    mm, cl = tb[name]
    check(cl == "tboot " + os.environ["TBOOT_ARGS"], f"{name}: tboot prints the command line 'tboot {os.environ['TBOOT_ARGS']}' (got {cl!r})")
    check(mm and all(a + s <= b for (a, s, _), (b, _, _) in zip(mm, mm[1:])),
          f"{name}: tboot prints a sorted, disjoint memory map ({len(mm)} entries)")
if "pvhboot-tboot" in tb:
    mm = tb["pvhboot-tboot"][0]
    low, high = usable_from(mm, 0), usable_from(mm, MiB)
    check(624 * KiB <= low <= 640 * KiB and high == mem * MiB,
          f"pvhboot-tboot: usable from 0 to {low:#x} (top 16 KiB of 640 KiB) and from 1 MiB to exactly --mem ({high:#x})")
if len(tb) == 2:
    (p, _), (q, _) = tb["pvhboot-tboot"], tb["qemu-tboot"]
    pl, ql, ph, qh = usable_from(p, 0), usable_from(q, 0), usable_from(p, MiB), usable_from(q, MiB)
    print(f"# tboot's usable RAM: pvhboot {pl // KiB} KiB + {(ph - MiB) // KiB} KiB, QEMU {ql // KiB} KiB + {(qh - MiB) // KiB} KiB")
    check(abs(pl - ql) <= 16 * KiB and 0 <= ph - qh <= MiB,
          "tboot under pvhboot and QEMU: usable RAM below 640 KiB within 16 KiB, from 1 MiB within QEMU's firmware's 1 MiB")

if "pvhboot-gnumach" in sections:
    text, rc = sections["pvhboot-gnumach"]
    panic = re.search(r"^panic .*bootstrap_create: No bootstrap code loaded with the kernel!$", text, re.M)
    if not check(rc == 0 and "GNU Mach 1.8" in text and panic,
                 f"pvhboot-gnumach: GNU Mach 1.8's banner, then past the RTC to its 'no bootstrap' panic (rc {rc})"):
        show_failed_boot("pvhboot-gnumach", text, rc)
    mm = [(int(a, 16), int(b, 16), t) for a, b, t in
          re.findall(r"^biosmem: ([0-9a-f]{18}):([0-9a-f]{18}), (\w+)$", text, re.M)]
    avail = [(a, b) for a, b, t in mm if t == "available"]
    check(len(avail) == 2 and avail[0][0] == 0 and 624 * KiB <= avail[0][1] <= 640 * KiB and avail[1] == (MiB, mem * MiB),
          f"pvhboot-gnumach: its memory map: available from 0 to the top of conventional memory and 1 MiB to --mem ({avail})")
    r = re.search(r"^RTC time is (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)$", text, re.M)
    b = re.search(r"^L1-DATE before (\d+)$", text, re.M)
    a = re.search(r"^L1-DATE after (\d+)$", text, re.M)
    t = calendar.timegm(time.strptime(r.group(1), "%Y-%m-%d %H:%M:%S")) if r else None
    check(t and b and a and int(b.group(1)) - 1 <= t <= int(a.group(1)) + 1,
          f"pvhboot-gnumach: GNU Mach reads the host's date from the CMOS RTC ({r.group(1) if r else 'no RTC line'})")
    io = re.search(r"VM exits: io (\d+),", text)
    check(io and int(io.group(1)) < 20000,
          f"pvhboot-gnumach: {io.group(1) if io else '?'} port exits to the panic (a dead RTC costs 300,000 in 30 s)")
if "qemu-gnumach" in sections:
    text, rc = sections["qemu-gnumach"]
    check("Cannot load x86-64 image, give a 32bit one." in text,
          "QEMU -kernel refuses GNU Mach's ELF64 Multiboot image ('Cannot load x86-64 image'); pvhboot boots it")
finish()
PY
