#!/usr/bin/env python3
"""Turns bench/net.sh's RESULT lines into the side-by-side table: TCP
throughput guest -> host and host -> guest, min/median/max MB/s per VMM and
the pvhboot/QEMU ratio of the medians (higher is better), then pvhboot's
own RSS with the NIC. Exits 1 when a run failed (a VMM's non-zero exit, an
error line, or fewer measurements than rounds).
Usage: net_table.py RESULTS LABEL ROUNDS"""
import re
import statistics
import sys


def parse(path):
    mbps, exits, errors, rss = {}, [], [], None
    with open(path) as f:
        for line in f:
            if line.startswith("RSS1 "):
                m = re.search(r"guest RAM touched (\d+) KiB \+ VMM (\d+) KiB", line)
                rss = int(m.group(2)) if m else None
                continue
            fields = dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv)
            vmm, case = fields.get("vmm"), fields.get("case")
            if case == "exit":
                exits.append((vmm, fields.get("status")))
            elif case == "error":
                errors.append(line.strip())
            elif case == "io" and int(fields.get("us", 0)) > 0:
                mbps.setdefault((vmm, fields["dir"]), []).append(int(fields["bytes"]) / int(fields["us"]))
    return mbps, exits, errors, rss


def stats(values):
    return (min(values), statistics.median(values), max(values)) if values else None


def row(title, p, q):
    def cell(s):
        return "/".join(f"{v:.1f}" for v in s) if s else "-"
    ratio = f"{p[1] / q[1]:.3f}" if p and q and q[1] else "-"
    print(f"  {title:40} {cell(p):>28} {cell(q):>28} {ratio:>7}")


def main():
    mbps, exits, errors, rss = parse(sys.argv[1])
    label, rounds = sys.argv[2].lstrip("# "), int(sys.argv[3])
    print(f"bench/net: {label}" + ("  -- emulated: not meaningful for speed, ratios only" if "emulated" in label else ""))
    failed = False
    for vmm, status in exits:
        if status != "0":
            print(f"  FAILED run: {vmm} exited {status}")
            failed = True
    for e in errors:
        print(f"  FAILED: {e}")
        failed = True
    print(f"\n  {'metric':40} {'pvhboot min/median/max':>28} {'QEMU microvm min/median/max':>28} {'ratio':>7}")
    for d, title in (("g2h", "TCP guest -> host (MB/s)"), ("h2g", "TCP host -> guest (MB/s)")):
        p, q = mbps.get(("pvhboot", d), []), mbps.get(("qemu", d), [])
        failed |= len(p) < rounds or len(q) < rounds
        row(title, stats(p), stats(q))
    print(f"\n  pvhboot: VMM RSS (RSS less guest RAM touched) with a NIC: {rss} KiB")
    failed |= rss is None
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
