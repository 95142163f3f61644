#!/usr/bin/env bash
# `pvhboot run` end to end, in ONE machine with KVM (tests/kvm/with-kvm.sh:
# the host's /dev/kvm, else the emulated machine): hello32, hello64 (with an
# initrd and two modules, exiting through port 0xf4 with status 7), the probe
# graded by the conformance checker (every MUST item, pvhboot profile),
# Debian's cloud vmlinux with a busybox initramfs on 1 and 2 vCPUs with ACPI,
# its segments and initrd mapped from the files (--load map; hello32 copies)
# (init's echo on the console, `poweroff -f` ends pvhboot with status 0), and a
# timeout (124). Each boot is bracketed by markers; the assertions run here.
# The emulated machine gets one CPU: with two, its KVM soft-locked (kvm-pit
# and a vCPU thread) in about 1 run in 8; with one, 8 runs out of 8 passed.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/kvm-suite.sh
kdir=$(tests/lib/debian-kernel.sh) || fail_all "cannot fetch the Debian kernel"

# modules: the initrd and two more, with sizes that are not page multiples
head -c 12345 /dev/urandom >"$work/mod0"
head -c 70001 /dev/urandom >"$work/mod1"
head -c 3 /dev/urandom >"$work/mod2"
# the Linux initramfs: static busybox, /init echoes a marker and powers off
mkdir -p "$work/root/bin"
cp /bin/busybox "$work/root/bin/busybox"
cat >"$work/root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox echo "PVHBOOT-INIT-ECHO: init is running"
/bin/busybox poweroff -f
INIT
# rdinit=/input: prints a marker, runs one line read from the console, waits
cat >"$work/root/input" <<'INPUT'
#!/bin/busybox sh
/bin/busybox echo "PVHBOOT-INPUT-READY"
read -r line
eval "$line"
/bin/busybox sleep 1000
INPUT
chmod +x "$work/root/init" "$work/root/input"
(cd "$work/root" && find . | cpio -o -H newc --quiet) >"$work/initrd.cpio"

cat >"$work/cases.sh" <<'CASES'
# Runs inside the machine with KVM; every boot between markers.
# A boot that hangs is killed after 240 s (pvhboot's own --timeout is the
# thing under test, so it is not trusted to end a hang) and reported rc=137.
boot() {
    name=$1; shift
    echo "=== BEGIN $name"
    busybox timeout -s KILL 240 ./pvhboot run "$@" 2>&1
    echo "=== END $name rc=$?"
}
boot hello32 hello32 --mem 256 --cmdline "hello32 test" --load copy --verbose
boot hello64 hello64 -m 256 -append "pvh.exit=7 from hello64" -initrd mod0 --module "mod1,cmdline=first module" --module "mod2,cmdline=second,with,commas"
boot probe probe --mem 256 --cmdline "probe run" --initrd mod0 --module "mod1,cmdline=first module" --module "mod2,cmdline=second,with,commas"
boot linux1 vmlinux --initrd initrd.cpio --mem 256 --cpus 1 --cmdline "console=ttyS0 panic=-1" --timeout 300 --verbose
boot linux2 vmlinux --initrd initrd.cpio --mem 256 --cpus 2 --cmdline "console=ttyS0 panic=-1" --timeout 300 --verbose
# console input through a pipe: once the guest says it is ready, a line for
# its shell to run, then Ctrl-A x (waiting for the marker, not a fixed time:
# a slow machine boots later)
echo "=== BEGIN input"
: >input.out
(n=0; while ! busybox grep -q PVHBOOT-INPUT-READY input.out && [ $n -lt 200 ]; do busybox sleep 1; n=$((n + 1)); done
 echo 'echo INPUT-WORKS-$((6*7))'; busybox sleep 5; printf '\001x') |
    busybox timeout -s KILL 240 ./pvhboot run vmlinux --initrd initrd.cpio --mem 256 --cmdline "console=ttyS0 rdinit=/input" --timeout 200 >input.out 2>&1
rc=$?
busybox cat input.out
echo "=== END input rc=$rc"
boot timeout vmlinux --initrd initrd.cpio --mem 256 --cmdline "console=ttyS0" --timeout 1
CASES

start=$(date +%s)
tests/kvm/with-kvm.sh --mem 2048 --cpus 1 --file build/static/pvhboot --file guest/build/hello32 \
    --file guest/build/hello64 --file guest/build/probe --file "$kdir/vmlinux" --file "$work/initrd.cpio" \
    --file "$work/mod0" --file "$work/mod1" --file "$work/mod2" --file "$work/cases.sh" -- sh cases.sh \
    >"$work/out.txt" 2>"$work/err.txt"
rc=$?
echo "# with-kvm.sh exit $rc after $(( $(date +%s) - start )) s; $(grep -m1 '^# kvm:' "$work/err.txt")"
[ "$rc" -eq 0 ] || { sed 's/^/# /' "$work/err.txt" | tail -30; }
export WORK=$work
python3 - <<'PY'
import os, re, subprocess, sys
sys.path.insert(0, "tests/lib")
from tap import check, finish, show_failed_boot, sections as split_sections
work = os.environ["WORK"]
out = open(f"{work}/out.txt", errors="replace").read()

sections = split_sections(out)
sizes = [os.path.getsize(f"{work}/mod{i}") for i in range(3)]
cmdlines = ["(none)", "first module", "second,with,commas"]

def usable_ok(text, mb):
    m = re.search(r"^usable_ram=(\d+)$", text, re.M)
    return m and (mb - 1) * 2**20 <= int(m.group(1)) <= mb * 2**20

for name in ("hello32", "hello64", "probe", "linux1", "linux2", "input", "timeout"):
    check(name in sections, f"{name}: booted and ended (markers seen)")

if "hello32" in sections:
    text, rc = sections["hello32"]
    check(rc == 0, f"hello32: exit status 0 (got {rc})")
    check("cmdline=hello32 test\n" in text, "hello32: the exact command line arrived")
    check(usable_ok(text, 256), "hello32: usable RAM in the memmap is 255-256 MiB for --mem 256")
    check(re.search(r"kernel and modules 0 bytes mapped, [1-9]\d* copied", text), "hello32: --load copy copied every byte")
if "hello64" in sections:
    text, rc = sections["hello64"]
    check(rc == 7, f"hello64: the guest's debug-exit status 7 is pvhboot's exit status (got {rc})")
    check("cmdline=pvh.exit=7 from hello64\n" in text, "hello64: QEMU spellings -m/-append/-initrd work")
    mods = re.findall(r"^module (\d+) paddr=0x([0-9a-f]+) size=(\d+) cmdline=(.*)$", text, re.M)
    check([(int(s), c) for _, _, s, c in mods] == list(zip(sizes, cmdlines)),
          f"hello64: 3 modules with the files' sizes {sizes} and their command lines")
    check(all(int(p, 16) % 4096 == 0 and int(p, 16) > 0 for _, p, _, _ in mods), "hello64: modules page-aligned, not at 0")
    check(usable_ok(text, 256), "hello64: usable RAM consistent with -m 256")
if "probe" in sections:
    text, rc = sections["probe"]
    check(rc == 0, f"probe: exit status 0 (got {rc})")
    report = f"{work}/probe.log"
    open(report, "w").write(text)
    args = ["--expect-cmdline", "probe run", "--ram-mb", "256"]
    for s, c in zip(sizes, cmdlines):
        args += ["--expect-module", f"{s}" if c == "(none)" else f"{s}:{c}"]
    for profile in ("spec", "pvhboot"):
        p = subprocess.run(["python3", "tests/conformance/checker.py", "--profile", profile, *args, report],
                           capture_output=True, text=True)
        fails = [l for l in p.stdout.splitlines() if "FAIL" in l]
        check(p.returncode == 0, f"probe: checker --profile {profile}: every MUST passes (exit {p.returncode})")
        for l in fails[:10]:
            print(f"# {l}")
        if profile == "pvhboot":
            print("# pvhboot profile table:")
            for l in p.stdout.splitlines():
                print(f"#   {l}")
for name, cpus in (("linux1", 1), ("linux2", 2)):
    if name not in sections:
        continue
    text, rc = sections[name]
    if not check(rc == 0, f"{name}: poweroff -f ends pvhboot with status 0 (got {rc})"):
        show_failed_boot(name, text, rc)
    want = f"smp: Brought up 1 node, {cpus} CPU" + ("s" if cpus > 1 else "")
    check(want in text, f"{name}: the kernel says '{want}'")
    check("ACPI: PM: (supports S0 S5)" in text and "acpi=off" not in text, f"{name}: ACPI on, S5 supported")
    check("PVHBOOT-INIT-ECHO: init is running" in text, f"{name}: init's own echo reached the console (UART IRQ 4)")
    check("reboot: Power down" in text, f"{name}: the kernel powered off through ACPI")
    check("Kernel panic" not in text and "BUG:" not in text, f"{name}: no panic, no BUG")
    # the default --load map: vmlinux's segments (46 MB, page-congruent) and the page-aligned
    # initrd are mapped; only partial pages (at most 2 per segment or module) are copied
    ld = re.search(r"kernel and modules (\d+) bytes mapped, (\d+) copied", text)
    check(ld and int(ld.group(1)) > 40_000_000 and int(ld.group(2)) <= 5 * 2 * 4096,
          f"{name}: kernel and initrd mapped from their files ({ld.group(1) if ld else '?'} mapped, {ld.group(2) if ld else '?'} copied)")
    m = re.search(r"memory: RSS (\d+) KiB = guest RAM touched (\d+) KiB \+ VMM (\d+) KiB", text)
    if m:
        print(f"# {name}: VMM RSS beyond touched guest RAM: {m.group(3)} KiB (RSS {m.group(1)} KiB, guest {m.group(2)} KiB)")
    check(m and int(m.group(3)) <= 2048, f"{name}: VMM's own RSS <= 2 MiB ({m.group(3) if m else '?'} KiB)")
    t = re.search(r"first KVM_RUN ([\d.]+) ms, first serial byte ([\d.]+) ms, exit ([\d.]+) ms", text)
    if t:
        print(f"# {name}: first KVM_RUN {t.group(1)} ms, first serial byte {t.group(2)} ms, exit {t.group(3)} ms")
if "input" in sections:
    text, rc = sections["input"]
    check("PVHBOOT-INPUT-READY" in text and "INPUT-WORKS-42" in text,
          "console input: a line piped to pvhboot reached the guest's shell, which ran it")
    check(rc == 0 and "timeout" not in text, f"console input: Ctrl-A x ended the VM with status 0 (got {rc})")
if "timeout" in sections:
    text, rc = sections["timeout"]
    check(rc == 124 and "pvhboot: timeout: the guest was still running after 1 s" in text,
          f"timeout: --timeout 1 exits 124 with one line (got {rc})")
    m = re.search(r"^pvhboot: vCPU 0 was at rip (0x[0-9a-f]+), rflags 0x[0-9a-f]+ \(interrupts (on|off)\)$", text, re.M)
    check(m and int(m.group(1), 16) >= 0xffffffff80000000,
          f"timeout: and where vCPU 0 stood, in the kernel's text ({m.group(0) if m else 'no line'})")

finish()
PY
