#!/usr/bin/env bash
# Multiboot 1 through `pvhboot run`, in ONE machine with KVM (with-kvm.sh):
# guest/build/mb1hello (ELF32) and mb1hello.bin (a.out kludge) with a command
# line and three modules, their reports checked; then the same two images
# under QEMU TCG `-M pc -kernel` (on this host) and the two loaders compared.
# "The same" (docs/multiboot.md): the command line byte for byte (QEMU puts
# the kernel's file name and a space before it, as GRUB does; that word is
# removed first); the modules' sizes and, for modules given a command line,
# their strings (QEMU's string is the -initrd item, "FILE ARGS"; pvhboot's is
# the module's cmdline, so the test gives each pvhboot module its QEMU item;
# the --initrd module has no cmdline in pvhboot, its string is empty); usable
# memory: below 640 KiB one range from 0 (mem_lower) ending in the top 16 KiB
# of conventional memory in both (QEMU's BIOS keeps its 1 KiB EBDA there,
# pvhboot its MBI and GDT pages); above 1 MiB one range from 1 MiB whose size
# is -m - 1 MiB in pvhboot and at most 1 MiB less in QEMU (its firmware
# reserves the top of RAM); mem_upper = that range in KiB in both.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/kvm-suite.sh
. tests/lib/mb1-qemu.sh
mb1_stage "$work"
cmdline='hello "two words" x=1 tab	end'
mem=256

cat >"$work/cases.sh" <<CASES
boot() {
    name=\$1; shift
    echo "=== BEGIN \$name"
    busybox timeout -s KILL 120 ./pvhboot run "\$@" 2>&1
    echo "=== END \$name rc=\$?"
}
for k in mb1hello mb1hello.bin; do
    boot "pvhboot-\$k" \$k --verbose --mem $mem --cpus 1 --cmdline '$cmdline' --initrd mod0 \
        --module "mod1,cmdline=mod1 first module" --module "mod2,cmdline=mod2"
done
CASES

start=$(date +%s)
tests/kvm/with-kvm.sh --mem 1024 --cpus 1 --file build/static/pvhboot --file "$work/mb1hello" \
    --file "$work/mb1hello.bin" --file "$work/mod0" --file "$work/mod1" --file "$work/mod2" \
    --file "$work/cases.sh" -- sh cases.sh >"$work/out.txt" 2>"$work/err.txt"
rc=$?
echo "# with-kvm.sh exit $rc after $(( $(date +%s) - start )) s; $(grep -m1 '^# kvm:' "$work/err.txt")"
[ "$rc" -eq 0 ] || { sed 's/^/# /' "$work/err.txt" | tail -30; }

# QEMU: the same images, modules and command line (run in $work: file names as given)
for k in mb1hello mb1hello.bin; do
    qemu_mb1_boot "qemu-$k" "$work" "$k" "$mem" "$cmdline"
done >>"$work/out.txt"

export WORK=$work CMDLINE=$cmdline MEM=$mem
python3 - <<'PY'
import os, re, sys
sys.path.insert(0, "tests/lib")
from tap import check, finish, sections as split_sections
from mb1report import report, usable_from
work, cmdline, mem = os.environ["WORK"], os.environ["CMDLINE"], int(os.environ["MEM"])
out = open(f"{work}/out.txt", errors="replace").read().replace("\r", "")

sections = split_sections(out)
sizes = [os.path.getsize(f"{work}/mod{i}") for i in range(3)]
KiB, MiB = 1024, 1 << 20

def kernel_end(image):
    # the ELF's bss end: the end of its one PT_LOAD (memsz), read from the file
    import struct
    d = open(f"{work}/{image}", "rb").read()
    if d[:4] == b"\x7fELF":
        phoff, = struct.unpack_from("<I", d, 28)
        _, off, vaddr, paddr, filesz, memsz = struct.unpack_from("<IIIIII", d, phoff)
        return paddr, paddr + memsz
    # a.out kludge: header at offset 0, load_addr and bss_end_addr fields
    magic, flags, _, hdr, load, load_end, bss_end, entry = struct.unpack_from("<8I", d, 0)
    return load, bss_end

rep = {}
for k in ("mb1hello", "mb1hello.bin"):
    for loader in ("pvhboot", "qemu"):
        name = f"{loader}-{k}"
        if name not in sections:
            check(False, f"{name}: booted and ended (markers seen)")
            continue
        text, rc = sections[name]
        r = rep[name] = report(text)
        want_rc = 0 if loader == "pvhboot" else 1  # QEMU's isa-debug-exit: (0 << 1) | 1
        check(rc == want_rc and r.get("exit") == 0, f"{name}: the guest ran to its end, exit status {rc}")
        check(r.get("magic") == 0x2BADB002, f"{name}: EAX = 0x2badb002 at entry")
        fl = r.get("flags", 0)
        check(all(fl & (1 << b) for b in (0, 2, 3, 6)), f"{name}: MBI flags {fl:#x} have mem, cmdline, mods, mmap")
        mods = r["mods"]
        check([e - s for s, e, _ in mods] == sizes, f"{name}: 3 modules of the files' sizes {sizes}")
        check(all(s % 4096 == 0 for s, _, _ in mods), f"{name}: modules 4 KiB aligned (header flag 0)")
        klo, khi = kernel_end(k)
        spans = sorted([(s, e) for s, e, _ in mods] + [(klo, khi), (r.get("mbi", 0), r.get("mbi", 0) + 116)])
        check(all(a[1] <= b[0] for a, b in zip(spans, spans[1:])), f"{name}: modules, kernel and MBI do not overlap")
        mm = r["mmap"]
        check(mm and all(a[0] + a[1] <= b[0] for a, b in zip(mm, mm[1:])), f"{name}: {len(mm)} mmap entries, sorted, disjoint")
        low_end, high_end = usable_from(mm, 0), usable_from(mm, MiB)
        check(r.get("lower") == min(low_end, 640 * KiB) // KiB and r.get("upper") == (high_end - MiB) // KiB,
              f"{name}: mem_lower {r.get('lower')} / mem_upper {r.get('upper')} KiB match the mmap's usable ranges from 0 and 1 MiB")
        check(624 * KiB <= low_end <= 640 * KiB, f"{name}: usable from 0 to {low_end:#x} (top 16 KiB of 640 KiB)")
        if loader == "pvhboot":
            check(r.get("cmdline") == cmdline, f"{name}: the command line exactly as given")
            check(r.get("loader") == "pvhboot", f"{name}: boot loader name pvhboot")
            check([s for _, _, s in mods] == ["", "mod1 first module", "mod2"], f"{name}: module strings = their cmdlines")
            check(high_end == mem * MiB, f"{name}: usable from 1 MiB to exactly -m ({mem} MiB): {high_end:#x}")
            mbi = r.get("mbi", 0)
            check(any(b <= mbi and mbi + 116 <= b + l and t == 2 for b, l, t in mm), f"{name}: the MBI at {mbi:#x} is reserved in the mmap")
        else:
            check(r.get("cmdline") == f"{k} {cmdline}", f"{name}: QEMU's command line is the kernel's file name, a space, then -append")
            check([s for _, _, s in mods] == ["mod0", "mod1 first module", "mod2"], f"{name}: module strings = the -initrd items")
            check(mem * MiB - MiB <= high_end <= mem * MiB, f"{name}: usable from 1 MiB to {high_end:#x}, within 1 MiB below -m")

# pvhboot against QEMU, and the two images under pvhboot against each other
for k in ("mb1hello", "mb1hello.bin"):
    p, q = rep.get(f"pvhboot-{k}"), rep.get(f"qemu-{k}")
    if not p or not q:
        continue
    qc = q.get("cmdline", "")
    check(qc.split(" ", 1)[1:] == [p.get("cmdline")], f"{k}: same command line byte for byte (after QEMU's file-name word)")
    check([e - s for s, e, _ in p["mods"]] == [e - s for s, e, _ in q["mods"]], f"{k}: same module sizes")
    check([s for _, _, s in p["mods"]][1:] == [s for _, _, s in q["mods"]][1:],
          f"{k}: same strings for the modules given one (module 0: QEMU {q['mods'][0][2] if q['mods'] else '?'!r}, pvhboot '')")
    pl, ql = usable_from(p["mmap"], 0), usable_from(q["mmap"], 0)
    ph, qh = usable_from(p["mmap"], MiB), usable_from(q["mmap"], MiB)
    check(abs(pl - ql) <= 16 * KiB, f"{k}: usable RAM below 640 KiB: pvhboot {pl // KiB} KiB, QEMU {ql // KiB} KiB (within 16 KiB)")
    check(0 <= ph - qh <= MiB, f"{k}: usable RAM from 1 MiB: pvhboot {(ph - MiB) // KiB} KiB, QEMU {(qh - MiB) // KiB} KiB (QEMU's firmware keeps {(ph - qh) // KiB} KiB)")
    t = re.search(r"first KVM_RUN ([\d.]+) ms, first serial byte ([\d.]+) ms, exit ([\d.]+) ms", sections[f"pvhboot-{k}"][0])
    if t:
        print(f"# pvhboot {k}: first KVM_RUN {t.group(1)} ms, first serial byte {t.group(2)} ms, exit {t.group(3)} ms (emulated machine)")
    print(f"# {k}: mem_lower pvhboot {p.get('lower')} QEMU {q.get('lower')}; mem_upper pvhboot {p.get('upper')} QEMU {q.get('upper')}")
if "pvhboot-mb1hello" in sections:
    print("# pvhboot's report for mb1hello:")
    for line in sections["pvhboot-mb1hello"][0].splitlines():
        print(f"#   {line}")
a, b = rep.get("pvhboot-mb1hello"), rep.get("pvhboot-mb1hello.bin")
if a and b:
    check(a["mmap"] == b["mmap"] and a.get("cmdline") == b.get("cmdline"),
          "pvhboot: ELF and a.out-kludge images get the same memory map and command line")

finish()
PY
