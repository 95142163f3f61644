#!/usr/bin/env bash
# `pvhboot inspect` on a bzImage (vmlinuz) follows what `run` does with it
# (issue 18): Debian's vmlinuz files (LZ4, XZ, zstd) are bootable by PVH
# through their payload: exit 0, "protocol: pvh", JSON "bootable": true with
# the payload described (compression, size, segments, notes, PVH entry).
# Checked against independent readers: the payload's first bytes (compression
# magic), the vmlinux the Debian tools extract (tests/lib/extract-vmlinux.sh:
# its size, readelf -l and -n), and `run --dry-run`'s entry. A bzImage whose
# payload is no PVH kernel, or is corrupt, exits 2 naming the payload. With
# --json every answer is JSON, errors included (missing, empty, a directory,
# a bad argument, no argument).
set -u
cd "$(dirname "$0")/../.."
fail_all() { echo "1..1"; echo "not ok 1 - $*"; exit 1; }
k61=$(tests/lib/debian-kernel.sh) || fail_all "cannot fetch Debian's 6.1 cloud kernel"
kgen=$(tests/lib/debian-kernel.sh amd64) || fail_all "cannot fetch Debian's 6.1 generic kernel"
k612=$(tests/lib/debian-kernel.sh cloud-amd64 bookworm-backports) || fail_all "cannot fetch Debian's 6.12 kernel"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cc -static -no-pie -o "$tmp/plain" -x c - <<<'int main(void){return 0;}' || fail_all "cc -static"
export PVHBOOT=build/san/pvhboot TMP=$tmp KERNELS="$k61 $kgen $k612"
python3 - <<'PY'
import gzip, json, os, re, struct, subprocess, sys
sys.path.insert(0, "tests/lib")
from tap import check, finish
bin, tmp = os.environ["PVHBOOT"], os.environ["TMP"]

def run(*args):
    p = subprocess.run([bin, *args], capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr

MAGIC = {b"\x02\x21\x4c\x18": "lz4", b"\xfd7zXZ\x00": "xz", b"\x28\xb5\x2f\xfd": "zstd", b"\x1f\x8b": "gzip"}

def compression(path):
    """From the file: the payload offset in the boot header, its first bytes."""
    d = open(path, "rb").read(0x250)
    sects = d[0x1f1] or 4
    off = (sects + 1) * 512 + struct.unpack_from("<I", d, 0x248)[0]
    with open(path, "rb") as f:
        f.seek(off)
        head = f.read(8)
    return next((name for m, name in MAGIC.items() if head.startswith(m)), None)

def readelf_loads(path):
    out = subprocess.run(["readelf", "-lW", path], capture_output=True, text=True).stdout
    return [tuple(int(x, 16) for x in l.split()[1:6]) for l in out.splitlines() if l.split()[:1] == ["LOAD"]]

def readelf_xen_types(path):
    out = subprocess.run(["readelf", "-nW", path], capture_output=True, text=True).stdout
    return sum(1 for l in out.splitlines() if re.match(r"\s+Xen\s+0x", l))

def phys32_entry(path):
    out = subprocess.run(["readelf", "-nW", path], capture_output=True, text=True).stdout
    m = re.search(r"Xen\s+0x[0-9a-f]+\s+Unknown note type: \(0x00000012\)\s+description data: ((?:[0-9a-f]{2} ?){4})", out)
    return hex(int.from_bytes(bytes.fromhex(m.group(1).replace(" ", "")), "little")) if m else None

for kdir in os.environ["KERNELS"].split():
    label = os.path.basename(kdir)
    vmlinuz, vmlinux = f"{kdir}/vmlinuz", f"{kdir}/vmlinux"
    comp = compression(vmlinuz)
    rc, out, err = run("inspect", "--json", vmlinuz)
    try:
        j = json.loads(out)
    except ValueError as e:
        check(False, f"{label}: inspect --json prints JSON ({e})")
        continue
    check(rc == 0 and err == "", f"{label}: inspect --json exits 0, nothing on stderr (exit {rc}: {err.strip()})")
    check(j["bootable"] is True and j["pvh_bootable"] is True and j["protocol"] == "pvh" and j["error"] is None,
          f"{label}: bootable by PVH through its payload ({j.get('protocol')}, {j.get('protocol_reason')})")
    pl = j.get("payload", {})
    check(pl.get("compression") == comp and pl.get("size") == os.path.getsize(vmlinux),
          f"{label}: payload {pl.get('compression')} (magic says {comp}), {pl.get('size')} bytes"
          f" (the Debian tools' vmlinux: {os.path.getsize(vmlinux)})")
    segs = [tuple(int(s[k], 16) for k in ("offset", "vaddr", "paddr", "filesz", "memsz")) for s in pl.get("segments", [])]
    check(segs == readelf_loads(vmlinux) and len(pl.get("xen_notes", [])) == readelf_xen_types(vmlinux),
          f"{label}: the payload's {len(segs)} PT_LOADs and {len(pl.get('xen_notes', []))} Xen notes are readelf's")
    want = phys32_entry(vmlinux)
    check(want and pl.get("pvh_entry") == want == j.get("pvh_entry"),
          f"{label}: PVH entry {j.get('pvh_entry')} = the payload's = readelf's PHYS32_ENTRY {want}")
    rc, text, _ = run("inspect", vmlinuz)
    check(rc == 0 and "protocol: pvh (" in text and f"payload pvh entry: {want}" in text,
          f"{label}: text output: exit {rc}, protocol pvh, payload pvh entry {want}")
    rc, out, err = run("run", vmlinuz, "--dry-run")
    m = re.search(r"entry (0x[0-9a-f]+)", out)
    check(rc == 0 and m and m.group(1) == want, f"{label}: run --dry-run enters at {m and m.group(1)}: what inspect says")

def bzimage(path, payload):
    """A bzImage as the boot protocol lays it out: 4 setup sectors + the
    boot sector, protocol 2.15, the payload at the start of the 32-bit code."""
    setup = bytearray(5 * 512)
    setup[0x1f1] = 4
    struct.pack_into("<H", setup, 0x1fe, 0xAA55)
    setup[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", setup, 0x206, 0x020f)
    struct.pack_into("<II", setup, 0x248, 0, len(payload))
    with open(path, "wb") as f:
        f.write(bytes(setup) + payload)

plain = open(f"{tmp}/plain", "rb").read()
bzimage(f"{tmp}/nopvh", gzip.compress(plain) + struct.pack("<I", len(plain)))
rc, out, err = run("inspect", "--json", f"{tmp}/nopvh")
j = json.loads(out)
check(rc == 2 and j["bootable"] is False and j["protocol"] == "none" and j["payload"].get("kind") == "elf"
      and j["payload"].get("compression") == "gzip" and "(payload)" in j["error"] and "CONFIG_PVH" in j["error"],
      f"a bzImage whose payload has no PVH note: exit {rc}, JSON names the payload: {j.get('error')}")
check(err.count("\n") == 1 and "(payload)" in err, f"... and one line on stderr: {err.strip()}")
bzimage(f"{tmp}/corrupt", b"\x1f\x8b\x08\x00" + os.urandom(4000) + struct.pack("<I", 9000))
rc, out, err = run("inspect", "--json", f"{tmp}/corrupt")
j = json.loads(out)
check(rc == 2 and j["bootable"] is False and j["error"] and err.count("\n") == 1,
      f"a bzImage with a corrupt payload: exit {rc}, JSON error: {j.get('error')}")

# --json: every answer is JSON, errors included
open(f"{tmp}/empty", "wb").close()
for label, args in (("a missing file", [f"{tmp}/missing"]), ("an empty file", [f"{tmp}/empty"]),
                    ("a directory", [tmp]), ("two files", [f"{tmp}/plain", f"{tmp}/plain"]),
                    ("an unknown option", ["--frobnicate", f"{tmp}/plain"]), ("no file", [])):
    rc, out, err = run("inspect", "--json", *args)
    try:
        j = json.loads(out)
        ok = rc == 2 and j["bootable"] is False and j["protocol"] == "none" and j["error"] and err.count("\n") == 1
        check(ok, f"inspect --json, {label}: exit {rc}, JSON with the error: {j.get('error')}")
    except ValueError:
        check(False, f"inspect --json, {label}: exit {rc}, no JSON on stdout ({out[:80]!r}; stderr {err.strip()})")
finish()
PY
