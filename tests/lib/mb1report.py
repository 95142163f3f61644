"""The Multiboot 1 test guest's report (guest/src/mbhello.c prints it on
COM1), parsed for tests/run/multiboot.t (pvhboot) and
tests/conformance/multiboot.t (QEMU -kernel)."""
import re


def report(text):
    r = {"mmap": [], "mods": []}
    for line in text.splitlines():
        if m := re.match(r"magic=(0x[0-9a-f]+)$", line): r["magic"] = int(m.group(1), 16)
        elif m := re.match(r"mbi=(0x[0-9a-f]+) flags=(0x[0-9a-f]+)$", line):
            r["mbi"], r["flags"] = int(m.group(1), 16), int(m.group(2), 16)
        elif m := re.match(r"mem_lower=(\d+) mem_upper=(\d+)$", line): r["lower"], r["upper"] = map(int, m.groups())
        elif line.startswith("cmdline="): r["cmdline"] = line[len("cmdline="):]
        elif line.startswith("loader="): r["loader"] = line[len("loader="):]
        elif m := re.match(r"module (\d+) start=(0x[0-9a-f]+) end=(0x[0-9a-f]+) size=(\d+) string=(.*)$", line):
            r["mods"].append((int(m.group(2), 16), int(m.group(3), 16), m.group(5)))
        elif m := re.match(r"mmap \d+ base=(0x[0-9a-f]+) length=(0x[0-9a-f]+) type=(\d+)$", line):
            r["mmap"].append((int(m.group(1), 16), int(m.group(2), 16), int(m.group(3))))
        elif m := re.match(r"exit=(\d+)$", line): r["exit"] = int(m.group(1))
    return r


def usable_from(mmap, start):
    """End of usable memory reached from `start` through adjacent usable entries."""
    end, grew = start, True
    while grew:
        grew = False
        for b, l, t in mmap:
            if t == 1 and b <= end < b + l:
                end, grew = b + l, True
    return end
