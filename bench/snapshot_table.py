#!/usr/bin/env python3
"""Turns bench/snapshot.sh's SNAPSHOT, RESULT and CLONES lines into its
table: min/median/max of each timing (a run's value -1 or missing: the
event did not happen), then the ratios of the medians next
to issue 16's targets, and the clones' PSS and start rates. Exits 1 when a
snapshot or a run failed (a non-zero status, or a missing event)."""
import statistics
import sys

TIMINGS = [  # (case, how, mem, key, title)
    ("first", "cold", "256", "first_byte_us", "cold boot -> its first instruction (A), 256 MiB (us)"),
    ("first", "cold", "256", "marker_us", "cold boot -> the snapshot's point (B), 256 MiB (us)"),
    ("first", "restore", "256", "marker_us", "restore -> first guest instruction, 256 MiB (us)"),
    ("first", "restore", "2048", "marker_us", "restore -> first guest instruction, 2 GiB (us)"),
    ("first", "restore", "256", "maxrss_kib", "restore peak RSS, 256 MiB (KiB)"),
    ("first", "restore", "2048", "maxrss_kib", "restore peak RSS, 2 GiB (KiB)"),
    ("linux", "cold", "512", "marker_us", "Linux cold boot -> userspace marker (us)"),
    ("linux", "restore", "512", "marker_us", "Linux restore -> userspace marker (us)"),
    ("linux", "cold", "512", "first_run_us", "Linux cold boot -> its first instruction, -v (us)"),
    ("linux", "point", "512", "asked_us", "Linux cold boot -> the snapshot's point, -v (us)"),
    ("linux", "restore", "512", "first_run_us", "Linux restore -> first guest instruction, -v (us)"),
    ("vsock", "cold", "512", "vsock_us", "Linux cold boot -> userspace answering on vsock (us)"),
    ("vsock", "restore", "512", "vsock_us", "Linux restore -> userspace answering on vsock (us)"),
]
KILLED = "137"  # the vsock runs: boot_timer kills the VM once it answered


def fields(line):
    return dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv)


def parse(path):
    snaps, runs, clones, cpus = [], {}, [], "?"
    with open(path) as f:
        for line in f:
            tag = line.split(" ", 1)[0]
            if tag == "SNAPSHOT":
                snaps.append(fields(line))
            elif tag == "RESULT":
                r = fields(line)
                runs.setdefault((r["case"], r["how"], r["mem"]), []).append(r)
            elif tag == "CLONES":
                clones.append(fields(line))
            elif tag == "CPUS":
                cpus = line.split()[1]
            elif tag == "SNAPLOG":
                print("  " + line.rstrip())
    return snaps, runs, clones, cpus


def value(r, key):
    v = r.get(key, "")
    return int(v) if v.lstrip("-").isdigit() else -1


def run_failed(case, r):
    if case == "vsock":
        return r.get("status") != KILLED or value(r, "vsock_us") < 0 or value(r, "marker_us") < 0
    if case == "linux" and value(r, "first_run_us") < 0:
        return True
    return r.get("status") not in ("0", "1") or value(r, "marker_us") < 0


def check_runs(snaps, runs, clones):
    failed = []
    for s in snaps:
        if s.get("rc") != "0" or int(s.get("state", "-1")) <= 0 or value(s, "asked_us") < 0:
            failed.append(f"snapshot {s}")
    for key, rs in runs.items():
        for r in rs:
            if run_failed(key[0], r):
                failed.append(f"run {key}: {r}")
    for c in clones:
        if c.get("failed") != "0":
            failed.append(f"clones {c}")
    return failed


def median_row(runs, case, how, mem, key, title):
    vals = sorted(value(r, key) for r in runs.get((case, how, mem), []) if value(r, key) >= 0)
    if not vals:
        print(f"  {title:56} {'-':>30}")
        return None
    med = statistics.median(vals)
    print(f"  {title:56} {f'{vals[0]}/{med:.0f}/{vals[-1]}':>30}")
    return med


def ratio_row(title, num, den, target, judged):
    value = f"{num / den:.3f}" if num is not None and den else "-"
    print(f"  {title:56} {value:>10}   target {target}{'' if judged else ' (not judged here)'}")


def main():
    (snaps, runs, clones, cpus), label = parse(sys.argv[1]), sys.argv[2]
    emulated = "emulated" in label
    print(f"bench/snapshot: {label.lstrip('# ')}" + ("  -- emulated: not meaningful for speed" if emulated else ""))
    for s in (s for s in snaps if s.get("name") != "point"):
        print(f"  snapshot {s.get('name')}: {s.get('mem_mib')} MiB guest, state file {s.get('state')} bytes, "
              f"memory file {s.get('mem_file_kib')} KiB on disk, rc={s.get('rc')}")
    failed = check_runs(snaps, runs, clones)
    runs[("linux", "point", "512")] = [s for s in snaps if s.get("name") == "point"]  # a cold boot each round
    for f in failed:
        print(f"  FAILED {f}")
    n = len(runs.get(("first", "cold", "256"), []))
    print(f"\ntimings (n={n})  {'min/median/max':>69}")
    med = {(c, h, m, k): median_row(runs, c, h, m, k, t) for c, h, m, k, t in TIMINGS}
    one = next((c for c in clones if c.get("how") == "restore" and c.get("n") == "1"), {})
    many = next((c for c in clones if c.get("how") == "restore" and c.get("n") != "1"), {})
    cold = next((c for c in clones if c.get("how") == "cold"), {})
    k = many.get("n", "?")
    print(f"\nclones (snapmark, 256 MiB, 64 MiB touched; {cpus} CPU)")
    for title, value in [("one clone's PSS (KiB)", one.get("pss_total_kib")),
                         (f"{k} clones' total PSS (KiB)", many.get("pss_total_kib")),
                         (f"{k} clones, largest single PSS (KiB)", many.get("pss_max_kib")),
                         (f"{k} clones restored at once: last at first instruction (us)", many.get("last_marker_us")),
                         (f"{cold.get('n', '?')} cold boots at once: last at first instruction (us)",
                          cold.get("last_marker_us"))]:
        print(f"  {title:56} {value or '-':>30}")

    def rate(c):
        us = int(c.get("last_marker_us", "-1"))
        return int(c["n"]) * 1e6 / us if us > 0 else None
    clone_rate, cold_rate = rate(many), rate(cold)
    print(f"  {'clones started per second':56} {f'{clone_rate:.1f}' if clone_rate else '-':>30}")
    print(f"  {'cold boots started per second':56} {f'{cold_rate:.1f}' if cold_rate else '-':>30}")

    def num(c, key):
        v = int(c.get(key, "-1"))
        return v if v >= 0 else None
    real = not emulated
    print(f"\nratios (of medians)")
    ratio_row("restore/cold, first guest instruction (256 MiB)", med[("first", "restore", "256", "marker_us")],
              med[("first", "cold", "256", "marker_us")], "-", real)
    ratio_row("restore/cold, each to its own first instruction", med[("first", "restore", "256", "marker_us")],
              med[("first", "cold", "256", "first_byte_us")], "-", real)
    ratio_row("restore 2 GiB / 256 MiB, first guest instruction", med[("first", "restore", "2048", "marker_us")],
              med[("first", "restore", "256", "marker_us")], "<= 1.2", real)
    ratio_row("restore 2 GiB / 256 MiB, peak RSS", med[("first", "restore", "2048", "maxrss_kib")],
              med[("first", "restore", "256", "maxrss_kib")], "<= 1.2", True)
    ratio_row("restore/cold, Linux userspace marker", med[("linux", "restore", "512", "marker_us")],
              med[("linux", "cold", "512", "marker_us")], "<= 0.1", real)
    ratio_row("restore/cold, Linux first guest instruction", med[("linux", "restore", "512", "first_run_us")],
              med[("linux", "point", "512", "asked_us")], "<= 0.1", real)
    ratio_row("restore/cold, Linux each to its own first instr.", med[("linux", "restore", "512", "first_run_us")],
              med[("linux", "cold", "512", "first_run_us")], "-", real)
    ratio_row("restore/cold, Linux userspace answering on vsock", med[("vsock", "restore", "512", "vsock_us")],
              med[("vsock", "cold", "512", "vsock_us")], "<= 0.1", real)
    ratio_row(f"{k} clones' total PSS / one clone's", num(many, "pss_total_kib"), num(one, "pss_total_kib"),
              "<= 3", True)
    ratio_row("clones per second / cold boots per second", clone_rate, cold_rate, "-", real)
    return 1 if failed or not runs or not clones else 0


if __name__ == "__main__":
    sys.exit(main())
