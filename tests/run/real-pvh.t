#!/usr/bin/env bash
# Debian's PVH kernels, in ONE machine with KVM (with-kvm.sh): the extracted
# vmlinux of the flavours tests/run/distro.t does not boot (6.1 rt-amd64 from
# bookworm, 6.12 amd64 and rt-amd64 from bookworm-backports; distro.t boots
# the vmlinuz of 6.1 cloud-amd64 and amd64 and 6.12 cloud-amd64) each boot
# with a busybox initramfs to init (its echo on the console) and power off
# with status 0; then the i386
# 686-pae kernel (ELF32, PVH entry 0x10002e0):
#   - with the machine's KVM on nested paging (kvm_amd npt=1, the default) it
#     triple-faults before printing anything, under pvhboot AND under QEMU
#     -accel kvm on the same machine; KVM's trace shows why: the #GP it
#     injects on startup_32's `mov %eax,%cr0` (paging on), because a PAE
#     PDPTE holds bit 5, which is reserved. guest/build/paging shows who set
#     it: after PAE paging is on, the PDPTEs in memory read 0x...21, so the
#     emulated CPU's page walk sets "accessed" in PDPTEs (QEMU's TCG does it
#     without KVM too, where nothing checks), and the second time a guest
#     turns PAE paging on (Linux's 32-bit PVH entry does it twice) KVM finds
#     the reserved bit and refuses, under pvhboot and QEMU alike;
#   - with the machine's KVM on shadow paging (kvm_amd reloaded npt=0, so
#     KVM walks the guest's tables itself and the emulated CPU never sees
#     them) the same kernel boots under pvhboot to its init (a 32-bit one,
#     tests/lib/init32.c) and powers off; the paging guest's PDPTEs stay clean;
# and on this host QEMU TCG `-kernel` boots the 686-pae kernel through PVH
# to the same init. docs/kernels.md has the whole story.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/kvm-suite.sh
flavours="6.1-rt:rt-amd64: 6.12-amd64:amd64:bookworm-backports 6.12-rt:rt-amd64:bookworm-backports"
names=()
files=()
for f in $flavours; do
    IFS=: read -r name flavour suite <<<"$f"
    dir=$(tests/lib/debian-kernel.sh "$flavour" $suite) || fail_all "cannot fetch Debian's $flavour kernel ${suite:-(bookworm)}"
    ln -s "$dir/vmlinux" "$work/vmlinux-$name"
    names+=("$name")
    files+=(--file "$work/vmlinux-$name")
    echo "$name $(cat "$dir/version")" >>"$work/versions"
done
k686=$(tests/lib/debian-kernel.sh 686-pae) || fail_all "cannot fetch Debian's 686-pae kernel"
ln -s "$k686/vmlinux" "$work/vmlinux-686pae"
echo "686pae $(cat "$k686/version")" >>"$work/versions"
qemu_tar=$(tests/lib/qemu-carry.sh) || fail_all "cannot pack QEMU for the emulated machine (tests/lib/qemu-carry.sh)"
cp "$qemu_tar" "$work/qemu-carry.tar.gz"

# the initramfs for the 64-bit kernels: static busybox; for the 32-bit one: init32
mkdir -p "$work/root/bin" "$work/root32"
cp /bin/busybox "$work/root/bin/busybox"
printf '#!/bin/busybox sh\n/bin/busybox echo "PVHBOOT-INIT-ECHO: init is running"\n/bin/busybox poweroff -f\n' >"$work/root/init"
chmod +x "$work/root/init"
(cd "$work/root" && find . | cpio -o -H newc --quiet) >"$work/initrd.cpio"
gcc -m32 -static -nostdlib -ffreestanding -fno-pic -fno-pie -no-pie -O2 -o "$work/root32/init" tests/lib/init32.c \
    || fail_all "cannot build tests/lib/init32.c (gcc -m32)"
(cd "$work/root32" && find . | cpio -o -H newc --quiet) >"$work/initrd32.cpio"

cat >"$work/cases.sh" <<CASES
boot() {
    name=\$1; shift
    echo "=== BEGIN \$name"
    busybox timeout -s KILL 240 ./pvhboot run "\$@" 2>&1
    echo "=== END \$name rc=\$?"
}
qemu() { # QEMU -accel kvm inside the machine (tests/lib/qemu-carry.sh)
    name=\$1; shift
    echo "=== BEGIN \$name"
    busybox timeout -s KILL 120 q/run -accel kvm -cpu host -L q/fw -nodefaults -no-user-config -display none \
        -serial stdio -device isa-debug-exit,iobase=0xf4,iosize=4 -no-reboot "\$@" </dev/null 2>&1
    echo "=== END \$name rc=\$?"
}
T=/sys/kernel/tracing
traced() { # KVM's exits and injected exceptions during one run, the last lines
    tname=\$1; shift
    echo > \$T/trace
    echo 1 > \$T/events/kvm/kvm_exit/enable; echo 1 > \$T/events/kvm/kvm_inj_exception/enable; echo 1 > \$T/tracing_on
    "\$@"
    echo 0 > \$T/tracing_on
    echo "=== BEGIN trace-\$tname"; grep -v '^#' \$T/trace | grep -v 'reason npf\|reason io ' | tail -n 30; echo "=== END trace-\$tname rc=0"
}
mount -t tracefs tracefs \$T
mkdir q && tar -xzf qemu-carry.tar.gz -C q
for k in ${names[*]}; do
    boot "\$k" vmlinux-\$k --initrd initrd.cpio --mem 512 --cmdline "console=ttyS0 quiet panic=-1" --timeout 200
done
echo "=== BEGIN npt"; cat /sys/module/kvm_amd/parameters/npt; echo "=== END npt rc=0"
traced pvhboot-686 boot 686-npt vmlinux-686pae --initrd initrd32.cpio --mem 256 --cmdline "console=ttyS0 panic=-1" --timeout 60
traced qemu-686 qemu qemu-686-npt -M pc -m 256 -kernel vmlinux-686pae -initrd initrd32.cpio -append "console=ttyS0 panic=-1"
boot paging-npt paging --cmdline "pae2m linux" --timeout 30
qemu qemu-paging-npt -M microvm -m 64 -kernel paging -append "pae2m linux"
# the harness's kvm-pin holds a VM (tests/kvm/kvm-pin.c): let it go for the reload, then hold one again
killall kvm-pin; n=0; while pidof kvm-pin >/dev/null && [ \$n -lt 100 ]; do usleep 100000; n=\$((n + 1)); done
rmmod kvm_amd && insmod /modules/kvm-amd.ko npt=0 && /bin/kvm-pin >/dev/null
echo "=== BEGIN shadow"; cat /sys/module/kvm_amd/parameters/npt; echo "=== END shadow rc=0"
boot paging-shadow paging --cmdline "pae2m linux" --timeout 30
boot 686-shadow vmlinux-686pae --initrd initrd32.cpio --mem 256 --cmdline "console=ttyS0 quiet panic=-1" --timeout 200
CASES

start=$(date +%s)
tests/kvm/with-kvm.sh --mem 2048 --cpus 1 --file build/static/pvhboot --file guest/build/paging "${files[@]}" \
    --file "$work/vmlinux-686pae" --file "$work/initrd.cpio" --file "$work/initrd32.cpio" --file "$work/qemu-carry.tar.gz" \
    --file "$work/cases.sh" -- sh cases.sh >"$work/out.txt" 2>"$work/err.txt"
rc=$?
echo "# with-kvm.sh exit $rc after $(( $(date +%s) - start )) s; $(grep -m1 '^# kvm:' "$work/err.txt")"
[ "$rc" -eq 0 ] || { sed 's/^/# /' "$work/err.txt" | tail -30; }

# QEMU TCG on this host (no KVM anywhere): the 686-pae kernel through PVH, to its init
{
    echo "=== BEGIN qemu-tcg-686"
    timeout 180 qemu-system-x86_64 -accel tcg -M pc -cpu max -m 256 -kernel "$work/vmlinux-686pae" \
        -initrd "$work/initrd32.cpio" -append "console=ttyS0 quiet panic=-1" -display none -monitor none \
        -serial stdio -no-reboot </dev/null 2>&1
    echo "=== END qemu-tcg-686 rc=$?"
} >>"$work/out.txt"

export WORK=$work NAMES="${names[*]}"
python3 - <<'PY'
import os, re, sys
sys.path.insert(0, "tests/lib")
from tap import check, finish, show_failed_boot, sections as split_sections
work = os.environ["WORK"]
out = open(f"{work}/out.txt", errors="replace").read().replace("\r", "")
sections = split_sections(out)
versions = dict(l.split(" ", 1) for l in open(f"{work}/versions").read().splitlines())

for name in os.environ["NAMES"].split():
    text, rc = sections.get(name, ("", -1))
    ok = rc == 0 and "PVHBOOT-INIT-ECHO: init is running" in text and "reboot: Power down" in text
    if not check(ok, f"{versions[name]} (vmlinux): boots to init and powers off with status 0 (got {rc})"):
        show_failed_boot(name, text, rc)

npt = sections.get("npt", ("", 0))[0].strip()
check(npt in ("1", "Y"), f"the machine's KVM runs on nested paging first (kvm_amd npt={npt})")
text, rc = sections.get("686-npt", ("", -1))
check(rc == 1 and "the guest triple-faulted" in text and "Linux version" not in text,
      f"686-pae on nested paging: pvhboot reports the triple fault, nothing printed (rc {rc})")
qtext, qrc = sections.get("qemu-686-npt", ("", -1))
check("Linux version" not in qtext and "PVHBOOT-INIT32" not in qtext,
      f"686-pae on nested paging: QEMU -accel kvm on the same machine prints nothing either (rc {qrc})")
for who in ("pvhboot-686", "qemu-686"):
    tr = sections.get(f"trace-{who}", ("", 0))[0]
    # the CR0 write, the #GP KVM injects and the shutdown, in that order; a
    # VMM's own exits may come between them (QEMU's did once)
    m = re.search(r"reason cr0_sel_write rip (0x[0-9a-f]+)[^\n]*\n(?:[^\n]*\n){0,8}?[^\n]*kvm_inj_exception: #GP"
                  r"[^\n]*\n(?:[^\n]*\n){0,8}?[^\n]*reason shutdown rip (0x[0-9a-f]+)", tr)
    if not check(m and m.group(1) == m.group(2) == "0x1000126",
                 f"{who}: KVM injects #GP on the CR0 write at 0x1000126 (startup_32 turning paging on), then the triple fault"):
        print("\n".join("# " + l for l in tr.splitlines()[-30:]))
    if not m:
        print("\n".join(f"#   {l[:180]}" for l in tr.splitlines()))


def pdptes(text):
    return [(int(a, 16), int(b, 16)) for a, b in re.findall(r"pdpte0=(0x[0-9a-f]+) pdpte3=(0x[0-9a-f]+)", text)]


for who in ("paging-npt", "qemu-paging-npt"):
    text, rc = sections.get(who, ("", -1))
    seen = pdptes(text)
    check(seen and all(a & 0x20 and b & 0x20 for a, b in seen),
          f"{who}: with PAE paging on, the emulated CPU has set bit 5 (reserved) in the PDPTEs it walked ({[hex(a) for a, _ in seen]})")
    if not check("pae2m: paging off" in text and "linux: paging off" in text and "paging done" not in text,
                 f"{who}: PAE paging goes on once, and fails the second time (KVM finds the reserved bit), under pvhboot and QEMU alike"):
        show_failed_boot(who, text, rc)

shadow = sections.get("shadow", ("", 0))[0].strip()
check(shadow in ("0", "N"), f"kvm_amd reloaded with npt=0: KVM walks guest page tables itself (npt={shadow})")
text, rc = sections.get("paging-shadow", ("", -1))
seen = pdptes(text)
check(rc == 0 and "paging done" in text and seen and not any(a & 0x20 or b & 0x20 for a, b in seen),
      f"paging on shadow paging: PAE goes on and off twice, the PDPTEs stay clean ({[hex(a) for a, _ in seen]})")
text, rc = sections.get("686-shadow", ("", -1))
ok = rc == 0 and "PVHBOOT-INIT32: init is running" in text and "reboot: Power down" in text
if not check(ok, f"{versions['686pae']} (ELF32 vmlinux) on shadow paging: boots to its init and powers off (got {rc})"):
    show_failed_boot("686-shadow", text, rc)
text, rc = sections.get("qemu-tcg-686", ("", -1))
check("PVHBOOT-INIT32: init is running" in text,
      f"{versions['686pae']}: QEMU TCG -kernel on this host boots it through PVH to the same init (rc {rc})")
finish()
PY
