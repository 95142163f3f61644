#!/usr/bin/env python3
"""Turns bench/boot.sh's RESULT lines into the side-by-side table: for each
case and metric, min/median/max per VMM and the pvhboot/QEMU ratio of the
medians. Exits 1 when a run failed (non-zero status or a missing event)."""
import statistics
import sys

METRICS = {
    "first": [("first_byte_us", "start -> first guest instruction (us)"),
              ("exit_us", "start -> exit (us)"), ("maxrss_kib", "peak RSS (KiB)")],
    "linux": [("marker_us", "start -> /init (us)"), ("exit_us", "start -> exit (us)"),
              ("maxrss_kib", "peak RSS (KiB)")],
}


def parse(path):
    runs = {}
    with open(path) as f:
        for line in f:
            fields = dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv)
            runs.setdefault((fields["vmm"], fields["case"]), []).append(fields)
    return runs


def main():
    runs, label = parse(sys.argv[1]), sys.argv[2]
    emulated = "emulated" in label
    print(f"bench/boot: {label.lstrip('# ')}" +
          ("  -- emulated: not meaningful for speed" if emulated else ""))
    failed = False
    for case, metrics in METRICS.items():
        for vmm in ("pvhboot", "qemu"):
            for r in runs.get((vmm, case), []):
                if r["status"] not in ("0", "1") or any(int(r[m]) < 0 for m, _ in metrics):
                    print(f"  FAILED run: {vmm} {case}: {r}")
                    failed = True
        print(f"\n{case} (n={len(runs.get(('pvhboot', case), []))})")
        print(f"  {'metric':40} {'pvhboot min/median/max':>30} {'QEMU microvm min/median/max':>32} {'ratio':>7}")
        for key, title in metrics:
            cols, medians = [], []
            for vmm in ("pvhboot", "qemu"):
                vals = sorted(int(r[key]) for r in runs.get((vmm, case), []) if int(r[key]) >= 0)
                if not vals:
                    cols.append("-")
                    medians.append(None)
                    continue
                med = statistics.median(vals)
                medians.append(med)
                cols.append(f"{vals[0]}/{med:.0f}/{vals[-1]}")
            ratio = (f"{medians[0] / medians[1]:.3f}" if None not in medians and medians[1] else "-")
            print(f"  {title:40} {cols[0]:>30} {cols[1]:>32} {ratio:>7}")
    return 1 if failed or not runs else 0


if __name__ == "__main__":
    sys.exit(main())
