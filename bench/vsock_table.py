#!/usr/bin/env python3
"""Turns bench/vsock.sh's RESULT lines into the side-by-side table: per metric
min/median/max per VMM and the pvhboot/QEMU ratio of the medians (throughput:
higher is better, the target is >= 0.5 of QEMU's in-kernel vhost path;
connection setup: lower is better), pvhboot's own RSS after a round. Exits 1
when a run failed (a VMM's non-zero exit, a missing measurement, the vhost
modules not loaded).
Usage: vsock_table.py RESULTS LABEL MIB"""
import re
import statistics
import sys

TARGET = 0.5


def parse(path):
    vals = {}      # (vmm, metric) -> [values]
    failures = []
    rss = []
    with open(path) as f:
        for line in f:
            if line.startswith("VHOST"):
                failures.append(line.strip())
                continue
            m = re.match(r"RESULT vmm=(\S+) (.*)", line)
            if not m:
                continue
            vmm, rest = m.groups()
            if rest.startswith("exit="):
                if rest.strip() != "exit=0":
                    failures.append(f"{vmm} {rest.strip()}")
                continue
            r = re.search(r"VMM (\d+) KiB", rest)
            if r:
                rss.append(int(r.group(1)))
                continue
            for metric, pat in (("setup", r"SETUP-OK n=\d+ mean_us=(\d+)"), ("h2g", r"h2g SEND-OK .*MBps=([\d.]+)"),
                                ("g2h", r"g2h SINK-OK .*MBps=([\d.]+)")):
                r = re.search(pat, rest)
                if r:
                    vals.setdefault((vmm, metric), []).append(float(r.group(1)))
            if "FAIL" in rest:
                failures.append(f"{vmm} {rest.strip()[:100]}")
    return vals, failures, rss


def stats(values):
    return (min(values), statistics.median(values), max(values)) if values else None


def main():
    vals, failures, rss = parse(sys.argv[1])
    label, mib = sys.argv[2].lstrip("# "), sys.argv[3]
    emulated = "emulated" in label
    print(f"bench/vsock: {label}" + ("  -- emulated: not meaningful for speed, ratios only" if emulated else ""))
    print(f"  pvhboot --vsock (hybrid, userspace) vs QEMU -device vhost-vsock-device (in-kernel vhost); {mib} MiB streams")
    print(f"\n  {'metric':36} {'pvhboot min/median/max':>26} {'QEMU vhost min/median/max':>26} {'ratio':>7}")
    failed = bool(failures)
    ratios = {}
    for metric, title, fmt in (("h2g", "host -> guest stream (MB/s)", "{:.1f}"),
                               ("g2h", "guest -> host stream (MB/s)", "{:.1f}"),
                               ("setup", "connection setup, mean (us)", "{:.0f}")):
        p, q = stats(vals.get(("pvhboot", metric), [])), stats(vals.get(("qemu", metric), []))
        failed |= p is None or q is None
        ratio = p[1] / q[1] if p and q and q[1] else None
        ratios[metric] = ratio

        def cell(s):
            return "/".join(fmt.format(v) for v in s) if s else "-"
        print(f"  {title:36} {cell(p):>26} {cell(q):>26} {ratio and f'{ratio:.3f}' or '-':>7}")
    for metric, title in (("h2g", "host -> guest"), ("g2h", "guest -> host")):
        r = ratios.get(metric)
        verdict = "met" if r is not None and r >= TARGET else "NOT met"
        print(f"  target {title}: pvhboot >= {TARGET} x QEMU's vhost: {verdict} ({r and f'{r:.2f}' or '-'})")
    if rss:
        print(f"  pvhboot: VMM RSS (RSS less guest RAM touched) after a round: {max(rss)} KiB at most")
    for f in failures:
        print(f"  FAILED: {f}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
