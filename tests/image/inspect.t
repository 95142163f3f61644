#!/usr/bin/env bash
# `pvhboot inspect` on Debian's real kernels, checked against independent
# readers: binutils' readelf for the segments and every Xen note, od for the
# bzImage boot-protocol field. Also bad inputs through the CLI: exit 2 and one
# line on stderr.
set -u
cd "$(dirname "$0")/../.."
bin=build/san/pvhboot
kdir=$(tests/lib/debian-kernel.sh) || { echo "1..1"; echo "not ok 1 - cannot fetch the Debian kernel"; exit 1; }
kreloc=$(tests/lib/debian-kernel.sh cloud-amd64 bookworm-backports 2>/dev/null) || kreloc=
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
make -s -C guest >/dev/null 2>&1 || { echo "1..1"; echo "not ok 1 - make -C guest"; exit 1; }
export PVHBOOT=$bin KDIR=$kdir KRELOC=$kreloc TMP=$tmp
python3 - <<'PY'
import json, os, re, subprocess, sys
bin, kdir, kreloc, tmp = os.environ["PVHBOOT"], os.environ["KDIR"], os.environ["KRELOC"], os.environ["TMP"]
results = []
def check(ok, what):
    results.append((bool(ok), what))

def run(*args):
    p = subprocess.run([bin, *args], capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr

def readelf_notes(path):
    """Xen notes from readelf -n: (type, description bytes)."""
    out = subprocess.run(["readelf", "-nW", path], capture_output=True, text=True).stdout
    # readelf prints generic names for the note types ELF itself defines
    named = {"NT_VERSION (version)": 1, "NT_ARCH (architecture)": 2, "GO BUILDID": 4}
    notes = []
    for line in out.splitlines():
        m = re.match(r"\s+Xen\s+0x[0-9a-f]+\s+(.*?)\s+description data:\s*([0-9a-f ]*)", line)
        if m:
            t = re.search(r"\(0x([0-9a-f]+)\)", m.group(1))
            ntype = int(t.group(1), 16) if t else named[m.group(1).strip()]
            notes.append((ntype, bytes.fromhex(m.group(2).replace(" ", ""))))
    return notes

def readelf_loads(path):
    out = subprocess.run(["readelf", "-lW", path], capture_output=True, text=True).stdout
    loads = []
    for line in out.splitlines():
        f = line.split()
        if f and f[0] == "LOAD":
            loads.append({"offset": int(f[1], 16), "vaddr": int(f[2], 16), "paddr": int(f[3], 16),
                          "filesz": int(f[4], 16), "memsz": int(f[5], 16)})
    return loads

def expected_value(ntype, desc):
    le = lambda b: int.from_bytes(b, "little")
    if ntype in (5, 6, 7, 8, 9, 11):
        return desc.split(b"\0")[0].decode()
    if ntype == 10:
        return desc.split(b"\0")[0].decode().split("|")
    if ntype == 19:
        return {"align": hex(le(desc[0:4])), "min": hex(le(desc[4:8])), "max": hex(le(desc[8:12]))}
    if ntype in (1, 2, 3, 4, 12, 14, 15, 16, 17, 18) and len(desc) in (1, 2, 4, 8):
        v = le(desc)
        return hex(v) if v else "0"
    return desc.hex()

def check_kernel(label, path):
    rc, out, err = run("inspect", "--json", path)
    check(rc == 0, f"{label}: inspect --json exits 0 (got {rc}) {err.strip()}")
    try:
        j = json.loads(out)
    except ValueError as e:
        check(False, f"{label}: inspect --json prints valid JSON ({e})")
        return
    check(j["kind"] == "elf" and j["pvh_bootable"] is True and j["error"] is None,
          f"{label}: kind elf, bootable")
    notes = readelf_notes(path)
    entry = [d for t, d in notes if t == 18]
    check(entry and j["pvh_entry"] == hex(int.from_bytes(entry[0], "little")),
          f"{label}: PVH entry {j['pvh_entry']} equals readelf's PHYS32_ENTRY note")
    got = [(n["type"], n["value"]) for n in j["xen_notes"]]
    want = [(t, expected_value(t, d)) for t, d in notes]
    check(got == want, f"{label}: all {len(want)} Xen notes decoded as readelf shows them"
          + ("" if got == want else f" (got {got}, want {want})"))
    loads = readelf_loads(path)
    segs = [{k: int(s[k], 16) for k in ("offset", "vaddr", "paddr", "filesz", "memsz")} for s in j["segments"]]
    check(segs == loads, f"{label}: {len(loads)} PT_LOAD segments equal readelf -l's")
    rc, text, _ = run("inspect", path)
    check(rc == 0 and f"pvh entry: {j['pvh_entry']}" in text, f"{label}: text output names the PVH entry")
    return j

check_kernel("6.1 cloud vmlinux", f"{kdir}/vmlinux")
if kreloc:
    j = check_kernel("6.12 cloud vmlinux", f"{kreloc}/vmlinux")
    reloc = [d for t, d in readelf_notes(f"{kreloc}/vmlinux") if t == 19]
    if j is not None:
        check(reloc and j["pvh_relocation"] == expected_value(19, reloc[0]),
              f"6.12 cloud vmlinux: PHYS32_RELOC {j['pvh_relocation']} equals readelf's")

# the vmlinuz: a bzImage with its protocol version, read here with plain file reads;
# judged by its payload, as run boots it (tests/image/inspect-bzimage.t checks the payload)
vmlinuz = f"{kdir}/vmlinuz"
with open(vmlinuz, "rb") as f:
    head = f.read(0x210)
proto = int.from_bytes(head[0x206:0x208], "little")
want = f"{proto >> 8}.{proto & 0xff:02d}"
rc, out, err = run("inspect", "--json", vmlinuz)
j = json.loads(out)
check(rc == 0 and err == "", f"vmlinuz: exit 0, nothing on stderr (got {rc}: {err.strip()})")
check(j["kind"] == "bzimage" and j["boot_protocol"] == want, f"vmlinuz: bzImage, boot protocol {want}")
check(j["bootable"] and j["protocol"] == "pvh" and j["error"] is None,
      f"vmlinuz: bootable by PVH through its payload: {j['protocol_reason']}")

# bad inputs through the CLI: each gives exit 2 and exactly one line on stderr
bad = {
    "empty": b"",
    "script": b"#!/bin/sh\necho hi\n",
    "truncated-elf": b"\x7fELF\x02\x01\x01" + b"\0" * 20,
    "arm64-elf": b"\x7fELF\x02\x01\x01" + b"\0" * 9 + b"\x02\x00\xb7\x00" + b"\0" * 44,
}
for name, data in bad.items():
    p = os.path.join(tmp, name)
    with open(p, "wb") as f:
        f.write(data)
    rc, out, err = run("inspect", p)
    check(rc == 2 and err.count("\n") == 1 and err.startswith(f"pvhboot: {p}") and "AddressSanitizer" not in err,
          f"bad input {name}: exit 2, one line: {err.strip()}")
plain = os.path.join(tmp, "plain")
subprocess.run(["cc", "-static", "-no-pie", "-o", plain, "-x", "c", "-"], input="int main(void){return 0;}",
               text=True, check=True)
rc, out, err = run("inspect", plain)
check(rc == 2 and "ELF without a XEN_ELFNOTE_PHYS32_ENTRY note: built without CONFIG_PVH" in err,
      f"a static executable without the PVH note: exit 2: {err.strip()}")
rc, out, err = run("inspect", "/bin/true")
check(rc == 2 and "a program or shared library (ELF type 3, ET_DYN), not a kernel" in err,
      f"/bin/true (PIE): exit 2, a program, not a kernel: {err.strip()}")
rc, out, err = run("inspect", tmp)
check(rc == 2 and err.count("\n") == 1 and "directory" in err, f"a directory: exit 2: {err.strip()}")
rc, out, err = run("inspect", os.path.join(tmp, "missing"))
check(rc == 2 and err.count("\n") == 1, f"a missing file: exit 2: {err.strip()}")

# the boot protocol: PVH (hello32), Multiboot 1 as ELF (mb1hello) and as a.out kludge (mb1hello.bin);
# expected values read from the files here (header search, readelf, nm)
import struct
def mb1_header_offset(path):
    d = open(path, "rb").read(8192)
    for off in range(0, len(d) - 11, 4):
        m, f, c = struct.unpack_from("<3I", d, off)
        if m == 0x1BADB002 and (m + f + c) & 0xffffffff == 0:
            return off, f
    return None, None
def nm(path, sym):
    out = subprocess.run(["nm", path], capture_output=True, text=True).stdout
    return next(int(l.split()[0], 16) for l in out.splitlines() if l.split()[-1] == sym)
rc, out, err = run("inspect", "--json", "guest/build/hello32")
j = json.loads(out)
check(rc == 0 and j["protocol"] == "pvh" and j["protocol_reason"] == "PVH note present" and j["pvh_bootable"],
      f"hello32: protocol pvh, reason 'PVH note present' ({j.get('protocol')}, {j.get('protocol_reason')})")
off, flags = mb1_header_offset("guest/build/mb1hello")
rc, out, err = run("inspect", "--json", "guest/build/mb1hello")
j = json.loads(out)
check(rc == 0 and j["bootable"] and not j["pvh_bootable"] and j["protocol"] == "multiboot1",
      f"mb1hello: exit 0, bootable by multiboot1, not PVH (exit {rc}, {j.get('protocol')})")
check(j["protocol_reason"] == f"Multiboot 1 header at offset {off:#x}, no PVH note",
      f"mb1hello: reason names the header offset {off:#x}: {j.get('protocol_reason')}")
mb = j.get("multiboot1", {})
loads = readelf_loads("guest/build/mb1hello")
check(int(mb.get("flags", "-1"), 16) == flags and mb.get("aout_kludge") is False and mb.get("page_align_modules") is True
      and int(mb.get("entry", "0"), 16) == nm("guest/build/mb1hello", "mb1_start"),
      f"mb1hello: header flags {flags:#x}, ELF load plan, entry = nm's mb1_start")
check([(int(l["paddr"], 16), int(l["offset"], 16), int(l["filesz"], 16), int(l["memsz"], 16)) for l in mb.get("load", [])]
      == [(l["paddr"], l["offset"], l["filesz"], l["memsz"]) for l in loads], "mb1hello: load plan = readelf's PT_LOADs")
rc, text, _ = run("inspect", "guest/build/mb1hello")
check(rc == 0 and f"protocol: multiboot1 (Multiboot 1 header at offset {off:#x}, no PVH note)" in text,
      "mb1hello: text output names the protocol and why")
off, flags = mb1_header_offset("guest/build/mb1hello.bin")
rc, out, err = run("inspect", "--json", "guest/build/mb1hello.bin")
j = json.loads(out)
mb = j.get("multiboot1", {})
aout = "guest/build/mb1hello.aout.elf"
size = os.path.getsize("guest/build/mb1hello.bin")
check(rc == 0 and j["kind"] == "multiboot1" and j["protocol"] == "multiboot1" and mb.get("aout_kludge") is True
      and "(a.out kludge address fields)" in j["protocol_reason"], f"mb1hello.bin: a.out kludge ({j.get('protocol_reason')})")
check(int(mb.get("flags", "-1"), 16) == flags == 0x10003 and int(mb.get("entry", "0"), 16) == nm(aout, "mb1_start")
      and [(int(l["paddr"], 16), int(l["filesz"], 16), int(l["memsz"], 16)) for l in mb.get("load", [])]
      == [(nm(aout, "__image_start"), size, nm(aout, "__bss_end") - nm(aout, "__image_start"))],
      "mb1hello.bin: entry, load address, file size and bss end as the link map says")

print(f"1..{len(results)}")
for i, (ok, what) in enumerate(results, 1):
    print(f"{'ok' if ok else 'not ok'} {i} - {what}")
PY
