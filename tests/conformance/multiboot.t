#!/usr/bin/env bash
# The Multiboot 1 test kernel under the reference loader: guest/build/mb1hello
# (ELF32) and mb1hello.bin (a.out kludge) booted by QEMU TCG `-M pc -kernel`
# with -append and three modules (`-initrd "a,b args,c"`, QEMU's Multiboot
# module syntax), at -m 256 and -m 1000. Asserts on the guest's report: the
# magic, the command line (QEMU prefixes the kernel's file name and a space),
# the modules (sizes from stat, strings = the -initrd items, 4 KiB aligned:
# header flag 0), a sorted disjoint memory map, mem_lower/mem_upper equal to
# the map's usable ranges from 0 and 1 MiB, usable RAM consistent with -m, and
# the exit status through isa-debug-exit ((0 << 1) | 1). This grades the
# guest itself; tests/run/multiboot.t compares pvhboot against these boots.
set -u
cd "$(dirname "$0")/../.."
make -s -C guest >/dev/null 2>&1 || { echo "1..1"; echo "not ok 1 - make -C guest"; exit 1; }
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
. tests/lib/mb1-qemu.sh
mb1_stage "$work"
cmdline='console=ttyS0 mb1.test="two words" x=1'
for mem in 256 1000; do
    for k in mb1hello mb1hello.bin; do
        qemu_mb1_boot "$k-$mem" "$work" "$k" "$mem" "$cmdline"
    done
done >"$work/out.txt"
export WORK=$work CMDLINE=$cmdline
python3 - <<'PY'
import os, re, sys
sys.path.insert(0, "tests/lib")
from tap import check, finish, sections as split_sections
from mb1report import report, usable_from
work, cmdline = os.environ["WORK"], os.environ["CMDLINE"]
out = open(f"{work}/out.txt", errors="replace").read().replace("\r", "")
KiB, MiB = 1024, 1 << 20
sizes = [os.path.getsize(f"{work}/mod{i}") for i in range(3)]
sections = split_sections(out)
for mem in (256, 1000):
    for k in ("mb1hello", "mb1hello.bin"):
        name = f"{k} -m {mem}"
        text, rc = sections.get(f"{k}-{mem}", ("", -1))
        check(rc == 1 and "\nexit=0\n" in text, f"{name}: ran to its end, QEMU exit status (0<<1)|1 = 1 (got {rc})")
        check("magic=0x2badb002\n" in text, f"{name}: EAX = 0x2badb002")
        check(f"\ncmdline={k} {cmdline}\n" in text, f"{name}: command line = the kernel's file name, a space, -append")
        r = report(text)
        mods = r["mods"]
        check([e - s for s, e, _ in mods] == sizes and [st for _, _, st in mods] == ["mod0", "mod1 first module", "mod2"],
              f"{name}: 3 modules, sizes {sizes}, strings = the -initrd items")
        check(mods and all(s % 4096 == 0 for s, _, _ in mods), f"{name}: modules 4 KiB aligned (header flag 0)")
        mm = r["mmap"]
        check(mm and all(a[0] + a[1] <= b[0] for a, b in zip(mm, mm[1:])), f"{name}: {len(mm)} mmap entries, sorted, disjoint")
        lo, hi = usable_from(mm, 0), usable_from(mm, MiB)
        check(r.get("lower") == lo // KiB and r.get("upper") == (hi - MiB) // KiB,
              f"{name}: mem_lower/mem_upper = the usable ranges from 0 ({lo:#x}) and from 1 MiB ({hi:#x})")
        check(624 * KiB <= lo <= 640 * KiB and mem * MiB - MiB <= hi <= mem * MiB,
              f"{name}: usable RAM consistent with -m {mem}")
finish()
PY
