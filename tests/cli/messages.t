#!/usr/bin/env bash
# What pvhboot says to a newcomer (issue 18), no KVM needed:
#  - `run /bin/ls`: a program, not a kernel (was "ELF type 3 is not an executable");
#  - the "try --mem" hint fits everything at the first try, an initrd included
#    (was: one hint for the kernel, then another for the initrd);
#  - --dry-run prints the command line the guest gets, every placed region
#    (the initrd, the kernel's segments, ACPI tables with the RSDP) and the
#    memory map, checked here against stat, readelf and the --mem given;
#  - a Linux kernel's command line gets panic=-1 unless it sets panic=
#    (before a " -- "); other kernels get theirs as given;
#  - no /dev/kvm, or no permission on it: one line saying what to do, and
#    where the README explains it.
set -u
cd "$(dirname "$0")/../.."
bin=build/san/pvhboot
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail_all() { echo "1..1"; echo "not ok 1 - $*"; exit 1; }
make -s -C guest >/dev/null 2>&1 || fail_all "cannot build the guest SDK"
kdir=$(tests/lib/debian-kernel.sh) || fail_all "cannot fetch Debian's kernel"
head -c 100M /dev/zero >"$tmp/initrd-100M"
head -c 12345 /dev/urandom >"$tmp/initrd"
export PVHBOOT=$bin TMP=$tmp KDIR=$kdir
python3 - <<'PY'
import os, re, subprocess, sys
sys.path.insert(0, "tests/lib")
from tap import check, finish
bin, tmp, kdir = os.environ["PVHBOOT"], os.environ["TMP"], os.environ["KDIR"]
hello, vmlinux, vmlinuz = "guest/build/hello64", f"{kdir}/vmlinux", f"{kdir}/vmlinuz"

def run(*args, **kw):
    p = subprocess.run([bin, *args], capture_output=True, text=True, **kw)
    return p.returncode, p.stdout, p.stderr

rc, out, err = run("run", "/bin/ls", "--dry-run")
check(rc == 2 and err.count("\n") == 1 and "/bin/ls: a program or shared library (ELF type 3, ET_DYN), not a kernel" in err,
      f"run /bin/ls: exit {rc}, a program, not a kernel: {err.strip()}")

# the --mem hint: followed once, the guest fits
for kernel in (hello, vmlinux):
    for initrd in (f"{tmp}/initrd-100M", f"{tmp}/initrd"):
        for mem in ("2M", "16M", "64M", "100M"):
            rc, out, err = run("run", kernel, "--initrd", initrd, "--mem", mem, "--dry-run")
            if rc == 0:
                continue
            m = re.search(r"try --mem (\w+)", err)
            rc2, out2, err2 = run("run", kernel, "--initrd", initrd, "--mem", m.group(1), "--dry-run") if m else (-1, "", "")
            check(m and rc2 == 0, f"{os.path.basename(kernel)}, {os.path.basename(initrd)}, --mem {mem}: the hint"
                  f" '{m and m.group(0)}' fits at the first try (exit {rc2} {err2.strip()})")

# --dry-run's layout, against stat and readelf
rc, out, err = run("run", vmlinux, "--initrd", f"{tmp}/initrd", "--mem", "256M", "--dry-run")
regions = re.findall(r"^  0x([0-9a-f]+)-0x([0-9a-f]+)  (.*)$", out, re.M)
layout = out[out.find("guest-physical layout"):out.find("memory map the guest reads")]
mmap = out[out.find("memory map the guest reads"):]
spans = lambda text: [(int(a, 16), int(b, 16), what) for a, b, what in re.findall(r"^  0x([0-9a-f]+)-0x([0-9a-f]+)  (.*)$", text, re.M)]
lay, mm = spans(layout), spans(mmap)
mod = [(a, b) for a, b, w in lay if w.startswith("module 0 (initrd): ")]
size = os.path.getsize(f"{tmp}/initrd")
ram = [(a, b) for a, b, w in mm if w == "RAM"]
check(rc == 0 and mod and mod[0][1] - mod[0][0] + 1 == size and f"({size} bytes)" in out
      and any(a <= mod[0][0] and mod[0][1] <= b for a, b in ram),
      f"--dry-run names the initrd, its {size} bytes (stat), inside RAM of the memory map")
loads = [l.split() for l in subprocess.run(["readelf", "-lW", vmlinux], capture_output=True, text=True).stdout.splitlines()
         if l.split()[:1] == ["LOAD"]]
segs = [(a, b) for a, b, w in lay if w.startswith("kernel segment")]
check(segs == [(int(l[3], 16), int(l[3], 16) + int(l[5], 16) - 1) for l in loads],
      f"--dry-run: the {len(segs)} kernel segments at readelf's physical addresses and sizes")
acpi = [(a, b, w) for a, b, w in lay if w.startswith("ACPI tables (RSDP at ")]
rsdp = int(re.search(r"RSDP at (0x[0-9a-f]+)", acpi[0][2]).group(1), 16) if acpi else -1
check(acpi and acpi[0][0] <= rsdp <= acpi[0][1] and any(a <= acpi[0][0] and acpi[0][1] <= b for a, b, w in mm if w == "ACPI tables"),
      f"--dry-run: the ACPI tables and their RSDP ({rsdp:#x}) inside an 'ACPI tables' entry of the memory map")
low = sorted((a, b) for a, b, w in mm if a < (256 << 20))
contiguous = all(low[i][1] + 1 == low[i + 1][0] for i in range(len(low) - 1))
check(low and low[0][0] == 0 and low[-1][1] == (256 << 20) - 1 and contiguous and ram[-1][1] == (256 << 20) - 1,
      f"--dry-run: the memory map covers [0, 256 MiB) without a gap, RAM up to --mem ({len(low)} entries)")

# the command line a Linux kernel gets
def cmdline_of(*args):
    rc, out, err = run("run", *args, "--dry-run")
    m = re.search(r'^command line: "(.*)"$', out, re.M)
    return m.group(1) if m else f"(exit {rc}: {err.strip()})"
cases = [
    ("vmlinux, default command line", [vmlinux], "console=ttyS0 panic=-1"),
    ("vmlinuz (bzImage), default command line", [vmlinuz], "console=ttyS0 panic=-1"),
    ("vmlinux, the user's command line", [vmlinux, "--cmdline", "console=ttyS0 quiet"], "console=ttyS0 quiet panic=-1"),
    ("vmlinux, the user's panic=5 kept", [vmlinux, "-append", "console=ttyS0 panic=5"], "console=ttyS0 panic=5"),
    ("vmlinux, before init's arguments", [vmlinux, "--cmdline", "console=ttyS0 -- single"], "console=ttyS0 panic=-1 -- single"),
    ("vmlinux, panic= after -- is init's", [vmlinux, "--cmdline", "quiet -- panic=3"], "quiet panic=-1 -- panic=3"),
    ("hello64 (not Linux): as given", [hello, "--cmdline", "console=ttyS0 x=1"], "console=ttyS0 x=1"),
    ("hello64 (not Linux): the default as is", [hello], "console=ttyS0"),
]
for what, args, want in cases:
    got = cmdline_of(*args)
    check(got == want, f"{what}: '{got}' (want '{want}')")

# no KVM device, or no permission on it
rc, out, err = run("run", hello, "--kvm-device", f"{tmp}/no-kvm")
check(rc == 1 and err.count("\n") == 1 and "no such device — this machine has no KVM: load kvm_intel or kvm_amd" in err
      and "'pvhboot run --dry-run' work" in err and "README.md: Getting KVM" in err,
      f"no /dev/kvm: exit {rc}, what to do and where the README says it: {err.strip()}")
open(f"{tmp}/kvm", "w").close()
os.chmod(f"{tmp}/kvm", 0)
os.chmod(tmp, 0o755)
as_user = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.getuid() == 0 else []
p = subprocess.run([*as_user, bin, "run", hello, "--kvm-device", f"{tmp}/kvm"], capture_output=True, text=True)
check(p.returncode == 1 and p.stderr.count("\n") == 1 and "permission denied — add yourself to the kvm group (sudo usermod -aG kvm" in p.stderr,
      f"/dev/kvm without permission: exit {p.returncode}: {p.stderr.strip()}")
finish()
PY
