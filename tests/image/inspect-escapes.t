#!/usr/bin/env bash
# `pvhboot inspect` on a kernel whose Xen note strings hold terminal escape
# sequences (OSC title, clear screen, colours, C1 CSI 0x9b), quotes,
# backslashes, CR/LF/BS/TAB/DEL and bytes that are not UTF-8 (issue 19), built
# by tests/lib/hostile_elf.py, and saved under a file name that holds ESC too.
# Text output: only printable ASCII and newlines, each string exactly as the
# escaping rule below, written here from the note bytes. JSON output: pure
# ASCII, parsed by Python's json module, every string giving back the note's
# bytes as code points 0-255 (value.encode("latin-1")).
set -u
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
export PVHBOOT=build/san/pvhboot TMP=$tmp
python3 - <<'PY'
import json, os, subprocess, sys
sys.path.insert(0, "tests/lib")
from tap import check, finish
import hostile_elf
bin, tmp = os.environ["PVHBOOT"], os.environ["TMP"]

def text_escape(b):
    """inspect's text rule: printable ASCII as is, " and \\ escaped, other bytes \\xNN."""
    out = ""
    for c in b:
        out += "\\" + chr(c) if c in b'"\\' else chr(c) if 0x20 <= c < 0x7f else f"\\x{c:02x}"
    return out

def cstr(desc):
    return desc.split(b"\0")[0]

path = os.path.join(tmp, "k\x1b[31mred\x07.elf")
hostile_elf.escapes(path)
notes = {6: cstr(hostile_elf.ESC_GUEST_OS), 8: cstr(hostile_elf.ESC_LOADER), 10: cstr(hostile_elf.ESC_FEATURES)}

p = subprocess.run([bin, "inspect", path], capture_output=True)
out = p.stdout
check(p.returncode == 0 and p.stderr == b"", f"inspect: exit {p.returncode}, nothing on stderr {p.stderr[:200]!r}")
raw = sorted({c for c in out if c != 0x0a and not 0x20 <= c < 0x7f})
check(not raw, f"inspect: text output holds no control byte, DEL or byte >= 0x80 (found {[hex(c) for c in raw]})")
lines = out.decode("ascii", "replace").splitlines()
want = {
    "file": "file: " + text_escape(path.encode()),
    "GUEST_OS": f'note GUEST_OS (6): "{text_escape(notes[6])}"',
    "LOADER": f'note LOADER (8): "{text_escape(notes[8])}"',
    "FEATURES": "note FEATURES (10): " + ", ".join(text_escape(f) for f in notes[10].split(b"|")),
}
for what, line in want.items():
    check(line in lines, f"inspect: {what} line is {line!r}")
check("pvh entry: 0x100010" in lines, "inspect: the PVH entry is still read")

p = subprocess.run([bin, "inspect", "--json", path], capture_output=True)
check(p.returncode == 0 and all(c < 0x80 for c in p.stdout), f"inspect --json: exit {p.returncode}, pure ASCII output")
try:
    j = json.loads(p.stdout)
except ValueError as e:
    check(False, f"inspect --json: Python's json module parses it ({e})")
    j = None
if j is not None:
    check(True, "inspect --json: Python's json module parses it")
    byname = {n["type"]: n["value"] for n in j["xen_notes"]}
    for t in (6, 8):
        got = byname.get(t, "").encode("latin-1")
        check(got == notes[t], f"inspect --json: note {t} gives back its bytes {notes[t]!r} (got {got!r})")
    got = [f.encode("latin-1") for f in byname.get(10, [])]
    check(got == notes[10].split(b"|"), f"inspect --json: the features give back their bytes (got {got!r})")
    check(j["file"].encode("latin-1") == path.encode(), f"inspect --json: file gives back the path's bytes")
    check(j["pvh_entry"] == "0x100010" and j["bootable"] is True, "inspect --json: the PVH entry is still read")
finish()
PY
