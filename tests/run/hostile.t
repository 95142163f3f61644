#!/usr/bin/env bash
# Hostile guests against `pvhboot run`, in ONE machine with KVM
# (tests/kvm/with-kvm.sh): guest/build/hostile boots once per attack (see
# guest/src/hostile.c) and for each the VMM must not crash — no signal, no
# sanitizer or "Segmentation fault" text — and must do what docs/hardening.md
# says: string I/O from and to addresses outside RAM, MMIO where nothing is,
# every port, garbage to the ACPI PM block and the i8042, and a console flood
# leave it running (the guest prints HOSTILE-SURVIVED and exits 0), MMIO reads
# give all ones, the flood arrives whole with the VMM's own RSS <= 2 MiB, and
# a console closed under the flood does not stop the guest; string OUT/IN
# with a 4-billion count run until --timeout (124), and so does endless
# output into a console that is full, with nothing queued; a triple fault and
# a jump outside RAM end it with exit 1 and one line naming the cause. The
# virtio attack breaks every rule of the virtio-mmio transport and of split
# virtqueues against virtio-rng: each must leave the device needing a reset
# (or ignored, where harmless), the VMM running, and a proper request served.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/kvm-suite.sh
cat >"$work/cases.sh" <<'CASES'
attack() {
    name=$1; limit=$2; shift 2
    echo "=== BEGIN $name"
    busybox timeout -s KILL 120 ./pvhboot run hostile --mem 256 --cmdline "attack=$name" --timeout "$limit" --verbose \
        "$@" >"out.$name" 2>"err.$name"
    rc=$?
    echo "serial-file-bytes $(busybox wc -c <"out.$name")"
    busybox cat -v "out.$name" | busybox grep -E 'HOSTILE|mmio-read|pm-control|pm-gpe0|VIRTIO'
    busybox cat "err.$name"
    echo "=== END $name rc=$rc"
}
# The console closed: stdout is a pipe whose reader leaves after 100 bytes.
closed() {
    echo "=== BEGIN flood-closed"
    { busybox timeout -s KILL 60 ./pvhboot run hostile --mem 256 --cmdline attack=flood --timeout 60 --verbose \
        2>err.closed; echo $? >rc.closed; } | busybox head -c 100 >head.closed
    echo "console-bytes-read $(busybox wc -c <head.closed)"
    busybox cat err.closed
    echo "=== END flood-closed rc=$(busybox cat rc.closed)"
}
# The console stuck: stdout is a FIFO whose reader never reads, already
# holding 65,000 of its 65,536 bytes: the guest's output soon blocks the
# vCPU, and --timeout must still end the VM (not the KILL guard).
stuck() {
    echo "=== BEGIN console-stuck"
    busybox mkfifo fifo
    busybox sleep 60 <fifo &
    reader=$!
    start=$(busybox date +%s)
    { busybox head -c 65000 /dev/zero
      busybox timeout -s KILL 20 ./pvhboot run hostile --mem 256 --cmdline attack=uart-forever --timeout 4 --verbose \
        2>err.stuck; echo $? >rc.stuck; } >fifo
    rc=$(busybox cat rc.stuck)
    echo "seconds $(( $(busybox date +%s) - start ))"
    kill $reader
    busybox cat err.stuck
    echo "=== END console-stuck rc=$rc"
}
for a in outs-bogus ins-bogus mmio ports flood pm-garbage; do attack $a 60; done
attack huge-count 3
attack huge-ins 3
closed
stuck
attack triple-fault 20
attack wild-jump 20
attack virtio 90 --rng
CASES
start=$(date +%s)
tests/kvm/with-kvm.sh --mem 1024 --cpus 1 --file build/static/pvhboot --file guest/build/hostile \
    --file "$work/cases.sh" -- sh cases.sh >"$work/out.txt" 2>"$work/err.txt"
rc=$?
echo "# with-kvm.sh exit $rc after $(( $(date +%s) - start )) s; $(grep -m1 '^# kvm:' "$work/err.txt")"
[ "$rc" -eq 0 ] || sed 's/^/# /' "$work/err.txt" | tail -20
WORK=$work python3 - <<'PY'
import os, re, sys
sys.path.insert(0, "tests/lib")
from tap import check, finish, sections as split_sections
out = open(os.environ["WORK"] + "/out.txt", errors="replace").read()
sections = split_sections(out)
def no_crash(name):
    text, rc = sections.get(name, ("", -1))
    bad = [w for w in ("Sanitizer", "Segmentation fault", "Bus error", "Aborted", "core dumped") if w in text]
    check(0 <= rc < 128 and not bad, f"{name}: no crash (exit {rc}{', ' + ', '.join(bad) if bad else ''})")
    return text, rc
# The VMM's peak RSS: the process's peak (VmHWM) less the guest RAM it has
# touched at the end. The hostile guest touches all its pages (8 KiB of
# image, stack, boot data) before any attack, so that count is the same at
# the peak: what is left is pvhboot's own memory at its highest.
def vmm_rss(text):
    m = re.search(r"memory: RSS \d+ KiB = guest RAM touched (\d+) KiB \+ VMM \d+ KiB; peak RSS (\d+) KiB", text)
    return int(m.group(2)) - int(m.group(1)) if m else None
for name in ("outs-bogus", "ins-bogus", "mmio", "ports", "flood"):
    text, rc = no_crash(name)
    check(rc == 0 and f"HOSTILE-SURVIVED {name}" in text, f"{name}: the VMM kept running, the guest went on and exited 0")
text, _ = sections.get("outs-bogus", ("", 0))
check(re.search(r"unhandled mmio 0xf0000000: [1-9]\d* reads", text),
      "outs-bogus: the reads from outside RAM reached pvhboot as MMIO and were answered")
text, _ = sections.get("ins-bogus", ("", 0))
check(re.search(r"unhandled mmio 0xf0000000: 0 reads, [1-9]\d* writes", text),
      "ins-bogus: the writes outside RAM reached pvhboot as MMIO and were dropped")
text, _ = sections.get("mmio", ("", 0))
reads = re.findall(r"mmio-read (0x[0-9a-f]+) (0x[0-9a-f]+)", text)
check(len(reads) == 4 and all(v == "0xffffffff" for _, v in reads),
      f"mmio: reads where nothing is give all ones ({', '.join(a + '=' + v for a, v in reads)})")
text, _ = sections.get("flood", ("", 0))
m = re.search(r"serial-file-bytes (\d+)", text)
check(m and int(m.group(1)) >= 16 * 4096, f"flood: all 65536 bytes reached the console file ({m.group(1) if m else '?'} bytes)")
rss = vmm_rss(text)
check(rss is not None and rss <= 2048, f"flood: the VMM's own peak RSS stays <= 2 MiB ({rss} KiB)")
text, rc = no_crash("huge-count")
check(rc == 124 and "still running after 3 s" in text,
      f"huge-count: a 4-billion-byte string OUT keeps the guest busy until --timeout (exit {rc})")
rss = vmm_rss(text)
check(rss is not None and rss <= 2048, f"huge-count: the VMM's own peak RSS stays <= 2 MiB ({rss} KiB)")
text, rc = no_crash("huge-ins")
check(rc == 124 and "still running after 3 s" in text and
      re.search(r"unhandled mmio 0xf0000000: 0 reads, [1-9]\d* writes", text),
      f"huge-ins: a 4-billion-byte string IN to no RAM: writes dropped as MMIO until --timeout (exit {rc})")
text, rc = no_crash("pm-garbage")
check(rc == 0 and "HOSTILE-SURVIVED pm-garbage" in text,
      "pm-garbage: garbage to the ACPI PM block and the i8042 left the machine running")
m = re.search(r"pm-control (0x[0-9a-f]+)", text)
check(m and int(m.group(1), 16) == 1,
      f"pm-garbage: then writing 0 to PM1a control reads back SCI_EN alone, always ACPI mode ({m.group(1) if m else '?'})")
m = re.search(r"pm-gpe0 (0x[0-9a-f]+)", text)
check(m and int(m.group(1), 16) == 0xff00,
      f"pm-garbage: GPE0 after all ones to both bytes: status 0 (the guest cannot set one), enable 0xff "
      f"({m.group(1) if m else '?'})")
text, rc = no_crash("flood-closed")
m = re.search(r"console-bytes-read (\d+)", text)
check(rc == 0 and m and int(m.group(1)) == 100,
      f"flood-closed: the console's reader left after 100 bytes; the guest ran on to its exit 0 (exit {rc})")
text, rc = no_crash("console-stuck")
m = re.search(r"seconds (\d+)", text)
check(rc == 124 and "still running after 4 s" in text and m and int(m.group(1)) < 20,
      f"console-stuck: output blocked on a full pipe, --timeout still ended the VM (exit {rc}, "
      f"{m.group(1) if m else '?'} s)")
m = re.search(r"serial bytes (\d+)", text)
check(m and int(m.group(1)) <= 4096,
      f"console-stuck: the guest was stopped once the pipe was full, nothing queued ({m.group(1) if m else '?'} bytes sent)")
rss = vmm_rss(text)
check(rss is not None and rss <= 2048, f"console-stuck: the VMM's own peak RSS stays <= 2 MiB ({rss} KiB)")
text, rc = no_crash("triple-fault")
check(rc == 1 and re.search(r"^pvhboot: vCPU 0: the guest triple-faulted \(shutdown\)", text, re.M),
      f"triple-fault: exit 1, one line: the guest triple-faulted (exit {rc})")
text, rc = no_crash("wild-jump")
check(rc == 1 and re.search(r"^pvhboot: vCPU 0: KVM internal error 1 \(instruction emulation failed.*\) at rip 0xf0000000", text, re.M),
      f"wild-jump: exit 1, one line: KVM could not run code outside RAM, at its address (exit {rc})")
text, rc = no_crash("virtio")
check(rc == 0 and "HOSTILE-SURVIVED virtio" in text, f"virtio: the VMM kept running through every attack (exit {rc})")
seen = dict(re.findall(r"VIRTIO-ATTACK (\S+) status=(0x[0-9a-f]+)", text))
broken = ["desc-loop", "buffer-outside-ram", "buffer-across-4g", "huge-length", "head-out-of-range",
          "next-out-of-range", "avail-far-ahead", "indirect-too-big", "indirect-nested", "indirect-loop",
          "queue-size-6", "queue-size-over-max", "ring-outside-ram", "ring-misaligned"]
for a in broken:
    check(a in seen and int(seen[a], 16) & 0x40, f"virtio {a}: the device set DEVICE_NEEDS_RESET (status {seen.get(a)})")
check("no-version-1" in seen and not int(seen["no-version-1"], 16) & 0x8,
      f"virtio no-version-1: a legacy driver's FEATURES_OK does not stick (status {seen.get('no-version-1')})")
check(re.search(r"VIRTIO-ATTACK read-only-buffer status=0xf used=1", text),
      "virtio read-only-buffer: a request with nothing to write into is returned with 0 bytes, the device runs on")
check(re.search(r"VIRTIO-OK status=0xf used=1 len=64", text),
      "virtio: after all that a proper request is served (64 bytes of entropy)")
m = re.search(r"virtio-rng rng: .*errors (\d+)", text)
check(m and int(m.group(1)) >= len(broken), f"virtio: each broken rule was counted ({m.group(1) if m else '?'} errors)")
rss = vmm_rss(text)
check(rss is not None and rss <= 2048, f"virtio: the VMM's own peak RSS stays <= 2 MiB ({rss} KiB)")
for name in ("huge-count", "huge-ins", "console-stuck", "triple-fault", "wild-jump"):
    for line in sections.get(name, ("", 0))[0].splitlines():
        if line.startswith("pvhboot: ") and not re.match(r"pvhboot: (loaded|times|VM exits|kernel loaded|unhandled|memory)", line):
            print(f"# {name}: {line}")
finish()
PY
