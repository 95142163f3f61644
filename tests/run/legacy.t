#!/usr/bin/env bash
# The legacy a firmware-less kernel still reads, in ONE machine with KVM
# (tests/kvm/with-kvm.sh): guest/build/legacy reports the BIOS data area
# (COM1, EBDA segment, base memory) against its memory map, the CMOS RTC
# (status registers, the date read the way GNU Mach and Linux read it, two
# updates two seconds apart, the RAM sizes in CMOS memory) and port 0xe9,
# with --debugcon file:PATH, -debugcon stdio and without it; then Debian's
# 6.1 cloud kernel with a busybox initramfs: rtc_cmos binds (no PNP device:
# the FADT says a CMOS RTC is there), /sys/class/rtc/rtc0 and busybox's
# hwclock read the host's time, update and alarm interrupts arrive on IRQ 8
# (tests/lib/rtc-check.c), and `hwclock -w` after `date -s 2001-...` changes what the guest reads and not
# the host's clock. Times are checked against the machine's own clock,
# which is the host's.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/kvm-suite.sh
kdir=$(tests/lib/debian-kernel.sh) || fail_all "cannot fetch the Debian kernel"
gcc -static -O2 -o "$work/rtc-check" tests/lib/rtc-check.c 2>"$work/cc.txt" || fail_all "cannot build tests/lib/rtc-check.c: $(head -3 "$work/cc.txt")"

mkdir -p "$work/root/bin"
cp /bin/busybox "$work/rtc-check" "$work/root/bin/"
cat >"$work/root/init" <<'INIT'
#!/bin/busybox sh
export PATH=/bin
busybox mkdir -p /proc /sys /dev
busybox mount -t proc proc /proc
busybox mount -t sysfs sysfs /sys
busybox mount -t devtmpfs devtmpfs /dev
echo "GUEST name=$(busybox cat /sys/class/rtc/rtc0/name)"
echo "GUEST since_epoch=$(busybox cat /sys/class/rtc/rtc0/since_epoch)"
echo "GUEST hwclock=$(busybox hwclock -r -u)"
/bin/rtc-check
busybox grep rtc0 /proc/interrupts | busybox sed 's/^/GUEST irq /'
busybox dmesg | busybox grep -E "rtc|RTC" | busybox sed 's/^/GUEST dmesg /'
busybox date -u -s "2001-01-01 00:00:00" >/dev/null
busybox hwclock -w -u
busybox sleep 1
echo "GUEST after-set since_epoch=$(busybox cat /sys/class/rtc/rtc0/since_epoch)"
busybox poweroff -f
INIT
chmod +x "$work/root/init"
(cd "$work/root" && find . | cpio -o -H newc --quiet) >"$work/initrd.cpio"

cat >"$work/cases.sh" <<'CASES'
# Runs inside the machine with KVM; every boot between markers, the
# machine's clock printed before and after each.
boot() {
    name=$1; shift
    echo "=== BEGIN $name"
    echo "L1-DATE before $(date +%s)"
    busybox timeout -s KILL 240 ./pvhboot run "$@" 2>&1
    rc=$?
    echo "L1-DATE after $(date +%s)"
    echo "=== END $name rc=$rc"
}
boot legacy-file legacy --mem 256 --debugcon file:dc.txt
echo "=== BEGIN debugcon-file"; cat dc.txt; echo "=== END debugcon-file rc=0"
boot legacy-stdio legacy --mem 256 -debugcon stdio
boot legacy-none legacy --mem 256 --verbose
boot linux vmlinux --initrd initrd.cpio --mem 256 --cmdline "console=ttyS0 quiet panic=-1" --timeout 200
CASES

start=$(date +%s)
tests/kvm/with-kvm.sh --mem 2048 --cpus 1 --file build/static/pvhboot --file guest/build/legacy \
    --file "$kdir/vmlinux" --file "$work/initrd.cpio" --file "$work/cases.sh" -- sh cases.sh \
    >"$work/out.txt" 2>"$work/err.txt"
rc=$?
echo "# with-kvm.sh exit $rc after $(( $(date +%s) - start )) s; $(grep -m1 '^# kvm:' "$work/err.txt")"
[ "$rc" -eq 0 ] || { sed 's/^/# /' "$work/err.txt" | tail -30; }
HOST_NOW=$(date +%s)
export WORK=$work HOST_NOW
python3 - <<'PY'
import os, re, sys
sys.path.insert(0, "tests/lib")
from tap import check, finish, show_failed_boot, sections as split_sections
work = os.environ["WORK"]
out = open(f"{work}/out.txt", errors="replace").read().replace("\r", "")
sections = split_sections(out)
E9_LINE = "debugcon: hello from port 0xe9"

for name in ("legacy-file", "debugcon-file", "legacy-stdio", "legacy-none", "linux"):
    check(name in sections, f"{name}: ran and ended (markers seen)")


def clock(text):
    b = re.search(r"^L1-DATE before (\d+)$", text, re.M)
    a = re.search(r"^L1-DATE after (\d+)$", text, re.M)
    return (int(b.group(1)), int(a.group(1))) if a and b else (None, None)


def rtc_epoch(stamp):
    import calendar, time
    return calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ"))


def check_legacy_report(name, text):
    m = re.search(r"^bda com1=(\S+) equipment=(\S+) ebda_segment=(\S+) base_kib=(\d+) ebda_kib=(\d+)$", text, re.M)
    check(m and m.groups() == ("0x3f8", "0x200", "0x9f00", "636", "4"),
          f"{name}: BIOS data area: COM1 0x3f8, one serial port, EBDA at 0x9f000 (4 KiB), 636 KiB below it "
          f"(got {m.groups() if m else None})")
    low = [(int(a, 16), int(s, 16), int(t)) for a, s, t in
           re.findall(r"^low_memmap addr=(\S+) size=(\S+) type=(\d+)$", text, re.M)]
    ram_end = max((a + s for a, s, t in low if t == 1 and a < 0x9f000), default=0)
    ebda_reserved = any(t == 2 and a <= 0x9f000 < a + s for a, s, t in low)
    check(m and ram_end == int(m.group(4)) * 1024 and ebda_reserved,
          f"{name}: base memory ends where the memory map's RAM below the EBDA ends ({ram_end:#x}); the EBDA page is reserved")
    r = re.search(r"^rtc a=(\S+) b=(\S+) c=\S+ d=(\S+)$", text, re.M)
    check(r and r.groups() == ("0x26", "0x2", "0x80"),
          f"{name}: RTC registers A=0x26 (32.768 kHz, 1024 Hz), B=0x02 (24 h, BCD), D=0x80 (valid) as firmware leaves them")
    c = re.search(r"^cmos base_kib=(\d+) ext_kib=(\d+) above16m_64k=(\d+) cpus=(\d+)$", text, re.M)
    check(c and c.groups() == ("640", "65535", str((256 - 16) * 16), "1"),
          f"{name}: CMOS memory: 640 KiB base, 64 MiB extended (capped), 240 MiB above 16 MiB in 64 KiB units, 1 CPU "
          f"(got {c.groups() if c else None})")
    times = re.findall(r"^rtc time=(\S+)$", text, re.M)
    before, after = clock(text)
    ok = len(times) == 2 and before is not None
    if ok:
        first, second = rtc_epoch(times[0]), rtc_epoch(times[1])
        print(f"# {name}: RTC read {times[0]} and {times[1]}; machine clock {before}..{after}")
        ok = before - 1 <= first <= second <= after + 1 and second - first == 2
    check(ok, f"{name}: the RTC reads the host's date and time, and two updates later reads two seconds more")
    e9 = re.search(r"^e9_read=(\S+)$", text, re.M)
    return e9.group(1) if e9 else None


if "legacy-file" in sections:
    text, rc = sections["legacy-file"]
    check(rc == 0 and "legacy done" in text, f"legacy --debugcon file: exit 0 after its report (got {rc})")
    check(check_legacy_report("legacy --debugcon file", text) == "0xe9", "legacy --debugcon file: port 0xe9 reads 0xe9")
    check(E9_LINE not in text, "legacy --debugcon file: the debug console's line is not on the serial console")
    check(sections.get("debugcon-file", ("", 0))[0] == E9_LINE + "\n",
          "legacy --debugcon file:dc.txt: the file holds exactly what the guest wrote to port 0xe9")
if "legacy-stdio" in sections:
    text, rc = sections["legacy-stdio"]
    check(rc == 0 and check_legacy_report("legacy -debugcon stdio", text) == "0xe9" and E9_LINE in text,
          "legacy -debugcon stdio (QEMU's spelling): 0xe9 reads 0xe9, its line on stdout with the serial console")
if "legacy-none" in sections:
    text, rc = sections["legacy-none"]
    check(rc == 0 and check_legacy_report("legacy (no --debugcon)", text) == "0xff" and E9_LINE not in text,
          "legacy without --debugcon: no device at 0xe9 (reads 0xff), its bytes go nowhere")
    check(re.search(r"unhandled port 0xe9: 1 reads, 31 writes", text),
          "legacy without --debugcon: --verbose counts 0xe9 as unhandled (1 read, 31 writes)")

if "linux" in sections:
    text, rc = sections["linux"]
    if not check(rc == 0 and "GUEST after-set" in text, f"linux: boots, runs init, powers off (got {rc})"):
        show_failed_boot("linux", text, rc)
    check("platform rtc_cmos: registered platform RTC device (no PNP device found)" in text
          and "rtc_cmos rtc_cmos: registered as rtc0" in text,
          "linux: x86 registers the rtc_cmos platform device (FADT: CMOS RTC present) and rtc_cmos binds as rtc0")
    check("rtc_cmos rtc_cmos: alarms up to one day, y3k, 114 bytes nvram" in text,
          "linux: rtc_cmos uses the FADT's century byte (y3k) and 114 bytes of CMOS memory")
    check("GUEST name=rtc_cmos" in text, "linux: /sys/class/rtc/rtc0 is rtc_cmos")
    before, after = clock(text)
    s = re.search(r"^GUEST since_epoch=(\d+)$", text, re.M)
    check(s and before and before - 1 <= int(s.group(1)) <= after + 1,
          f"linux: /sys/class/rtc/rtc0/since_epoch {s.group(1) if s else '?'} is the host's time ({before}..{after})")
    h = re.search(r"^GUEST hwclock=(.*\d{4}.*)$", text, re.M)
    check(h, f"linux: busybox hwclock -r reads the RTC ({h.group(1).strip() if h else 'no output'})")
    ups = [float(x) for x in re.findall(r"^rtc-check: update \d after ([\d.]+) s flags 0x90$", text, re.M)]
    gaps = [b - a for a, b in zip(ups, ups[1:])]
    check(len(ups) == 3 and all(0.5 <= g <= 1.5 for g in gaps),
          f"linux: three update interrupts (IRQF|UF), a second apart (at {ups} s)")
    a = re.search(r"^rtc-check: alarm after ([\d.]+) s flags 0xa0$", text, re.M)
    check(a and 1.0 <= float(a.group(1)) <= 3.0 and "rtc-check: done" in text,
          f"linux: the alarm interrupt (IRQF|AF) two seconds ahead arrives (after {a.group(1) if a else '?'} s)")
    irq = re.search(r"^GUEST irq\s+8:\s+(\d+)\s+IO-APIC\s+8-edge\s+rtc0", text, re.M)
    check(irq and int(irq.group(1)) >= 4, f"linux: /proc/interrupts: IRQ 8 edge-triggered, {irq.group(1) if irq else 0} interrupts (>= 4)")
    s2 = re.search(r"^GUEST after-set since_epoch=(\d+)$", text, re.M)
    check(s2 and 978307200 <= int(s2.group(1)) <= 978307200 + 10,
          f"linux: after date -s 2001-01-01 and hwclock -w the guest's RTC reads 2001 ({s2.group(1) if s2 else '?'})")
    check(after and after >= before and int(os.environ["HOST_NOW"]) >= after,
          "linux: the machine's and the host's clocks were not set back by the guest's hwclock -w")
finish()
PY
