#!/usr/bin/env python3
"""Turns bench/blk.sh's RESULT lines into the side-by-side table: per metric
min/median/max per VMM and the pvhboot/QEMU ratio of the medians (for
throughput and IOPS higher is better; for times and RSS lower is), then the
time to /init a drive adds, and pvhboot's own RSS with two drives. Exits 1
when a run failed (a missing measurement or a non-zero exit)."""
import re
import statistics
import sys


def parse(path):
    runs = {}   # (vmm, case) -> list of dicts (timer lines)
    io = {}     # (vmm, test) -> list of (value, unit)
    rss2 = None
    with open(path) as f:
        for line in f:
            if line.startswith("RSS2 "):
                m = re.search(r"guest RAM touched (\d+) KiB \+ VMM (\d+) KiB", line)
                rss2 = int(m.group(2)) if m else None
                continue
            fields = dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv)
            if fields.get("case") == "io" and "test" in fields:
                us, nbytes, ops = int(fields["us"]), int(fields["bytes"]), int(fields["ops"])
                value = ops / (us / 1e6) if fields["test"].startswith("rand") else nbytes / us  # IOPS or MB/s
                io.setdefault((fields["vmm"], fields["test"]), []).append(value)
            elif "case" in fields:
                runs.setdefault((fields["vmm"], fields["case"]), []).append(fields)
    return runs, io, rss2


def stats(values):
    return (min(values), statistics.median(values), max(values)) if values else None


def row(title, p, q, fmt="{:.1f}"):
    def cell(s):
        return "/".join(fmt.format(v) for v in s) if s else "-"
    ratio = f"{p[1] / q[1]:.3f}" if p and q and q[1] else "-"
    print(f"  {title:40} {cell(p):>28} {cell(q):>28} {ratio:>7}")


def main():
    runs, io, rss2 = parse(sys.argv[1])
    label = sys.argv[2].lstrip("# ")
    print(f"bench/blk: {label}" + ("  -- emulated: not meaningful for speed, ratios only" if "emulated" in label else ""))
    failed = False
    for (vmm, case), rs in runs.items():
        for r in rs:
            if r.get("status") != "0" or int(r.get("marker_us", -1)) < 0:
                print(f"  FAILED run: {vmm} {case}: {r}")
                failed = True
    print(f"\n  {'metric':40} {'pvhboot min/median/max':>28} {'QEMU microvm min/median/max':>28} {'ratio':>7}")
    for test, title in (("seq-write", "sequential write, 1 MiB O_DIRECT (MB/s)"),
                        ("seq-read", "sequential read, 1 MiB O_DIRECT (MB/s)"),
                        ("rand-read-qd1", "4 KiB random read, QD1 (IOPS)"),
                        ("rand-read-qd32", "4 KiB random read, QD32 (IOPS)")):
        p, q = stats(io.get(("pvhboot", test), [])), stats(io.get(("qemu", test), []))
        failed |= p is None or q is None
        row(title, p, q)
    for case, title in (("nodrive", "start -> /init, no drive (ms)"), ("drive", "start -> /init, one drive (ms)")):
        p = stats([int(r["marker_us"]) / 1000 for r in runs.get(("pvhboot", case), []) if int(r["marker_us"]) >= 0])
        q = stats([int(r["marker_us"]) / 1000 for r in runs.get(("qemu", case), []) if int(r["marker_us"]) >= 0])
        row(title, p, q, "{:.0f}")
    p0 = stats([int(r["marker_us"]) for r in runs.get(("pvhboot", "nodrive"), [])])
    p1 = stats([int(r["marker_us"]) for r in runs.get(("pvhboot", "drive"), [])])
    if p0 and p1 and p0[1] > 0:
        print(f"\n  pvhboot: attaching a drive adds {100 * (p1[1] - p0[1]) / p0[1]:+.1f} % to start -> /init (medians)")
    print(f"  pvhboot: VMM RSS (RSS less guest RAM touched) with two drives: {rss2} KiB")
    failed |= rss2 is None
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
