#!/usr/bin/env bash
# Hostile note layouts (issue 19): up to 65535 program or section headers
# naming the same or overlapping note areas, or a zero-filled area where every
# 12 bytes are an empty note. Before the note bounds (PVH_MAX_NOTE_AREAS,
# PVH_MAX_NOTE_BYTES, PVH_MAX_NOTES_SCANNED) a 4.5 MiB file kept `inspect`
# and `run --dry-run` busy for 35-60 s. Each file is built here by
# tests/lib/hostile_elf.py; `inspect`, `inspect --json` and `run --dry-run`
# (ASan+UBSan build) must each finish in under 1 s with exit 2 and one line
# naming the file and the bound, or, for a valid kernel whose one note area
# is named 65534 times, boot with its notes read once.
set -u
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
export PVHBOOT=build/san/pvhboot TMP=$tmp
python3 - <<'PY'
import json, os, subprocess, sys, time
sys.path.insert(0, "tests/lib")
from tap import check, finish
bin, tmp = os.environ["PVHBOOT"], os.environ["TMP"]
LIMIT_S = 1.0

def make(kind, n, area_kib=1024):
    path = os.path.join(tmp, f"{kind}-{n}-{area_kib}k")
    subprocess.run([sys.executable, "tests/lib/hostile_elf.py", kind, path, str(n), str(area_kib)], check=True)
    return path

def timed(*args):
    start = time.monotonic()
    try:
        p = subprocess.run([bin, *args], capture_output=True, text=True, errors="replace", timeout=20)
        return p.returncode, p.stdout, p.stderr, time.monotonic() - start
    except subprocess.TimeoutExpired:
        return None, "", "(killed after 20 s)", time.monotonic() - start

def refused(label, path, bound):
    """inspect, inspect --json and run --dry-run: fast, exit 2, one line naming the file and the bound."""
    for args in (["inspect", path], ["inspect", "--json", path], ["run", path, "--dry-run"]):
        rc, out, err, secs = timed(*args)
        verb = " ".join(a for a in args if a != path)
        check(secs < LIMIT_S, f"{label}: {verb} finishes in {secs:.3f} s (< {LIMIT_S} s)")
        line = err.strip()
        check(rc == 2 and err.count("\n") == 1 and line.startswith(f"pvhboot: {path}: offset ") and bound in line
              and "Sanitizer" not in err, f"{label}: {verb}: exit {rc}, one line naming the file and '{bound}': {line}")
        if args[1] == "--json":
            try:
                j = json.loads(out)
                check(j["bootable"] is False and bound in j["error"], f"{label}: inspect --json: valid JSON, the error")
            except ValueError as e:
                check(False, f"{label}: inspect --json prints valid JSON ({e})")

BYTES = "the note areas add up to more than 1024 KiB"
NOTES = "more than 4096 notes in all note areas"
AREAS = "more than 64 distinct note areas"
refused("65533 PT_NOTE over one 1 MiB zero area", make("zero-area", 65533), BYTES)
refused("65533 PT_NOTE over one 64 KiB zero area", make("zero-area", 65533, 64), NOTES)
refused("65533 PT_NOTE, each 12 bytes further into 1 MiB of zeros", make("shifted-areas", 65533), BYTES)
refused("2700 PT_NOTE over 32 KiB of zeros, each 12 bytes further", make("shifted-areas", 2700, 32), NOTES)
refused("65533 PT_NOTE each naming its own 12 zero bytes", make("tiny-areas", 65533), AREAS)
refused("65533 SHT_NOTE over one 1 MiB zero area", make("sections", 65533), BYTES)
refused("65533 SHT_NOTE over one 64 KiB zero area", make("sections", 65533, 64), NOTES)

# a valid kernel whose note area (GUEST_OS, PHYS32_ENTRY) 65534 PT_NOTE headers name: read once, it boots
path = make("same-notes", 65533)
rc, out, err, secs = timed("inspect", "--json", path)
check(secs < LIMIT_S, f"one note area named 65534 times: inspect --json finishes in {secs:.3f} s")
try:
    j = json.loads(out)
    check(rc == 0 and [(n["type"], n["value"]) for n in j["xen_notes"]] == [(6, "linux"), (18, "0x100010")]
          and j["pvh_entry"] == "0x100010", f"one note area named 65534 times: exit {rc}, its 2 notes once: "
          + json.dumps(j["xen_notes"]) + err.strip())
except ValueError as e:
    check(False, f"one note area named 65534 times: inspect --json prints valid JSON ({e})")
rc, out, err, secs = timed("run", path, "--dry-run")
check(secs < LIMIT_S and rc == 0 and "entry 0x100010" in out,
      f"one note area named 65534 times: run --dry-run: exit {rc} in {secs:.3f} s, entry 0x100010 {err.strip()}")
finish()
PY
