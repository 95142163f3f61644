#!/usr/bin/env python3
"""bench/api.sh's table: the control API's boot next to plain `pvhboot run`
(wall time from the machine with KVM, min/median/max of the rounds), the
callgrind instruction counts of both paths up to the first KVM_RUN, and the
API server's idle RSS. Exits 1 when a round failed (a bad status or a
missing event).
  api_table.py RESULTS LABEL IR_RUN IR_API IR_RUN_SETUP IR_API_SETUP SAME_PLAN RSS HWM RSS_REL HWM_REL"""
import statistics
import sys


def parse(path):
    runs = {}
    with open(path) as f:
        for line in f:
            fields = dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv)
            runs.setdefault((fields["path"], fields["case"]), []).append({k: v for k, v in fields.items()})
    return runs


def stats(values):
    return "%s / %s / %s" % (f"{min(values):,}", f"{int(statistics.median(values)):,}", f"{max(values):,}")


def main():
    results, label = sys.argv[1], sys.argv[2]
    ir_run, ir_api, ir_run_setup, ir_api_setup = (int(x) for x in sys.argv[3:7])
    same_plan = sys.argv[7]
    rss, hwm, rss_rel, hwm_rel = (int(x) for x in sys.argv[8:12])
    runs = parse(results)
    emulated = "emulated" in label
    print("bench/api: %s%s" % (label.lstrip("# "), "  -- emulated: not meaningful for speed" if emulated else ""))
    failed = False
    for case, event in (("first", "first_byte_us"), ("linux", "marker_us")):
        run, api = runs.get(("run", case), []), runs.get(("api", case), [])
        bad = [r for r in run + api if r["status"] not in ("0", "1") or int(r[event]) < 0 or
               ("start_status" in r and r["start_status"] != "204")]
        if bad or not run or not api:
            print("  FAILED %s: %s" % (case, bad or "no rounds"))
            failed = True
            continue
        what = "first guest instruction" if case == "first" else "/init"
        rows = [
            ("run: process start -> " + what, [int(r[event]) for r in run]),
            ("api: process start -> socket up", [int(r["sock_us"]) for r in api]),
            ("api: config calls (machine-config, boot-source)",
             [int(r["start_sent_us"]) - int(r["sock_us"]) for r in api]),
            ("api: InstanceStart sent -> its 204", [int(r["start_answered_us"]) - int(r["start_sent_us"]) for r in api]),
            ("api: InstanceStart sent -> " + what, [int(r[event]) - int(r["start_sent_us"]) for r in api]),
            ("api: InstanceStart's 204 -> " + what, [int(r[event]) - int(r["start_answered_us"]) for r in api]),
            ("run: peak RSS (KiB)", [int(r["maxrss_kib"]) for r in run]),
            ("api: peak RSS (KiB)", [int(r["maxrss_kib"]) for r in api]),
        ]
        print(f"\n{case} (n={len(run)}; min / median / max, us)")
        for title, values in rows:
            print(f"  {title:52} {stats(values):>36}")
    print("\ncallgrind (static binary, env -i, hello64, 128 MiB, --dry-run: up to the first KVM_RUN; instructions)")
    print(f"  pvhboot run, whole process                        {ir_run:>12,}")
    print(f"  pvhboot serve + 3 API calls, whole process        {ir_api:>12,}")
    print(f"  the API's cost (difference)                       {ir_api - ir_run:>12,}")
    print(f"  inside pvh_vm_run: run / serve                    {ir_run_setup:>12,} / {ir_api_setup:,}")
    print(f"  the same guest layout printed by both: {same_plan}")
    print("\nidle RSS with the API up (serve after GET /, machine-config, boot-source; KiB)")
    print(f"  static build:  VmRSS {rss:,}, VmHWM {hwm:,}   (target <= 3072)")
    print(f"  release build: VmRSS {rss_rel:,}, VmHWM {hwm_rel:,}   (shared libraries counted)")
    if same_plan != "yes" or rss > 3072:
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
