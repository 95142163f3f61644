#!/usr/bin/env bash
# Distro kernels as users have them, in ONE machine with KVM: Debian's
# compressed cloud vmlinuz (LZ4) boots through PVH twice, the first boot
# extracting its payload into the cache and the second hitting it; Debian's
# generic vmlinuz (XZ) boots once, extracting its payload, then a --dry-run
# of it hits the cache (a second full boot would add only emulated time); Debian's
# 6.12 cloud vmlinuz (zstd, carries XEN_ELFNOTE_PHYS32_RELOC) boots with
# --kaslr at a physical address other than its linked one. Each must reach
# init (its echo on the console) and power off with status 0; a boot that
# does not shows its first oops lines. The KASLR seed is fixed so the run is
# repeatable.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/kvm-suite.sh
k61=$(tests/lib/debian-kernel.sh) || fail_all "cannot fetch Debian's 6.1 cloud kernel"
k612=$(tests/lib/debian-kernel.sh cloud-amd64 bookworm-backports) || fail_all "cannot fetch Debian's 6.12 cloud kernel"
kgen=$(tests/lib/debian-kernel.sh amd64) || fail_all "cannot fetch Debian's 6.1 generic kernel"
mkdir -p "$work/root/bin"
cp /bin/busybox "$work/root/bin/busybox"
printf '#!/bin/busybox sh\n/bin/busybox echo "PVHBOOT-INIT-ECHO: init is running"\n/bin/busybox poweroff -f\n' >"$work/root/init"
chmod +x "$work/root/init"
(cd "$work/root" && find . | cpio -o -H newc --quiet) >"$work/initrd.cpio"
cp "$k61/vmlinuz" "$work/vmlinuz-6.1"
cp "$k612/vmlinuz" "$work/vmlinuz-6.12"
cp "$kgen/vmlinuz" "$work/vmlinuz-generic"
linked=$(build/san/pvhboot inspect --json "$k612/vmlinux" 2>/dev/null |
         python3 -c 'import json,sys; print(json.load(sys.stdin)["segments"][0]["paddr"])')
cat >"$work/cases.sh" <<'CASES'
export XDG_CACHE_HOME=/work/xdg-cache
boot() {
    name=$1; shift
    echo "=== BEGIN $name"
    busybox timeout -s KILL 300 ./pvhboot run "$@" --mem 256 --initrd initrd.cpio --timeout 250 --verbose 2>&1
    echo "=== END $name rc=$?"
}
boot lz4-first vmlinuz-6.1 --cmdline "console=ttyS0 panic=-1"
boot lz4-second vmlinuz-6.1 --cmdline "console=ttyS0 panic=-1"
boot kaslr vmlinuz-6.12 --kaslr --seed 4 --cmdline "console=ttyS0 panic=-1"
boot xz-first vmlinuz-generic --cmdline "console=ttyS0 panic=-1"
boot xz-second vmlinuz-generic --dry-run
CASES
start=$(date +%s)
tests/kvm/with-kvm.sh --mem 2048 --file build/static/pvhboot --file "$work/vmlinuz-6.1" \
    --file "$work/vmlinuz-6.12" --file "$work/vmlinuz-generic" --file "$work/initrd.cpio" --file "$work/cases.sh" -- sh cases.sh \
    >"$work/out.txt" 2>"$work/err.txt"
rc=$?
echo "# with-kvm.sh exit $rc after $(( $(date +%s) - start )) s; $(grep -m1 '^# kvm:' "$work/err.txt")"
[ "$rc" -eq 0 ] || sed 's/^/# /' "$work/err.txt" | tail -20
export WORK=$work LINKED=$linked
python3 - <<'PY'
import os, re, sys
sys.path.insert(0, "tests/lib")
from tap import check, finish, show_failed_boot, sections as split_sections
out = open(os.environ["WORK"] + "/out.txt", errors="replace").read()
linked = int(os.environ["LINKED"] or "0", 16)
sections = split_sections(out)


def reached_init(text, rc):
    return rc == 0 and "PVHBOOT-INIT-ECHO: init is running" in text and "reboot: Power down" in text


for name in ("lz4-first", "lz4-second", "kaslr", "xz-first"):
    text, rc = sections.get(name, ("", -1))
    if not check(reached_init(text, rc), f"{name}: boots to init and powers off with status 0 (got {rc})"):
        show_failed_boot(name, text, rc)
first, second = sections.get("lz4-first", ("", 0))[0], sections.get("lz4-second", ("", 0))[0]
check("bzImage payload extracted (cache miss)" in first, "the first boot of the vmlinuz extracts its payload (cache miss)")
check("bzImage payload cache hit" in second, "the second boot hits the cache")
xz_first, (xz_second, xz_rc) = sections.get("xz-first", ("", 0))[0], sections.get("xz-second", ("", -1))
check("bzImage payload extracted (cache miss)" in xz_first and "Linux version 6.1" in xz_first,
      "generic (XZ) vmlinuz: payload extracted (cache miss), Linux 6.1 ran")
check(xz_rc == 0 and "bzImage payload cache hit" in xz_second and "kernel loaded at 0x1000000" in xz_second,
      f"generic (XZ) vmlinuz again (--dry-run): cache hit, loaded at 0x1000000 (rc {xz_rc})")
text = sections.get("kaslr", ("", 0))[0]
m = re.search(r"kernel loaded at (0x[0-9a-f]+)", text)
addr = int(m.group(1), 16) if m else None
check(addr is not None and linked and addr != linked and addr % 0x200000 == 0,
      f"--kaslr: loaded at {m.group(1) if m else '?'}, 2 MiB aligned, not the linked {hex(linked)}")
finish()
PY
