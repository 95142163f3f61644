#!/usr/bin/env python3
"""hostile_elf.py KIND OUT [N [AREA_KIB]]: crafted ELF kernels for the
hostile-input suites (tests/image/hostile-notes.t, tests/image/inspect-escapes.t)
and the fuzz regression in tests/fuzz/regressions/image/. Built here from the
ELF and Xen note layouts, not copied from any tool's output. Every kind but
small-repro is an ELF64 PVH kernel (a page of code, the PHYS32_ENTRY note in
its own PT_NOTE) plus:

  zero-area N      N PT_NOTE headers all naming one zero-filled area of
                   AREA_KIB (1024) KiB (every 12 zero bytes are a valid empty
                   note), the zeros written as a hole (a sparse file)
  shifted-areas N  N PT_NOTE headers over the same zeros, each starting 12
                   bytes later (all distinct areas)
  tiny-areas N     N PT_NOTE headers each naming its own 12 zero bytes
  sections N       no PT_NOTE: N SHT_NOTE section headers over the zeros
  same-notes N     N more PT_NOTE headers naming the kernel's note area
  small-repro      ELF32, 4096 PT_NOTE headers over 128 KiB of zeros, no PVH
                   note (the fuzz regression: slow before the limits)
  escapes          a PVH kernel whose string and feature notes hold ESC
                   sequences, quotes, backslashes, C1 controls and bytes that
                   are not UTF-8
"""
import struct
import sys

PT_LOAD, PT_NOTE, SHT_NOTE = 1, 4, 7
CODE_AT, CODE_PADDR, ENTRY = 0x1000, 0x100000, 0x100010
MIB = 1 << 20


def note(owner, ntype, desc):
    name = owner + b"\0"
    pad = lambda b: b + b"\0" * (-len(b) % 4)
    return struct.pack("<III", len(name), len(desc), ntype) + pad(name) + pad(desc)


def entry_note():
    return note(b"Xen", 18, struct.pack("<I", ENTRY))


def ehdr64(phoff, phnum, shoff=0, shnum=0):
    ident = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9)
    return ident + struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, ENTRY, phoff, shoff, 0, 64, 56, phnum, 64, shnum, 0)


def phdr64(ptype, flags, off, paddr, filesz, memsz):
    return struct.pack("<IIQQQQQQ", ptype, flags, off, paddr | 0xffffffff80000000, paddr, filesz, memsz, 4)


def shdr64(stype, off, size):
    return struct.pack("<IIQQQQIIQQ", 0, stype, 0, 0, off, size, 0, 0, 4, 0)


def page_up(n):
    return (n + 0xfff) & ~0xfff


class Image:
    """An ELF64 PVH kernel. File layout: ELF header; a page of code at 4 KiB
    (PT_LOAD R-X at 1 MiB); its notes (one PT_NOTE); the program header
    table on the next page; then `zero_len` zero bytes, written as a hole;
    then `tail` (a section header table)."""

    def __init__(self, notes, nheaders_after=0, pt_note=True):
        self.notes = notes
        self.notes_at = CODE_AT + 0x1000
        self.phoff = page_up(self.notes_at + len(notes))
        self.phdrs = [phdr64(PT_LOAD, 5, CODE_AT, CODE_PADDR, 0x1000, 0x1000)]
        if pt_note:
            self.phdrs.append(phdr64(PT_NOTE, 4, self.notes_at, 0, len(notes), len(notes)))
        self.zero_at = page_up(self.phoff + (len(self.phdrs) + nheaders_after) * 56)
        self.zero_len = 0
        self.tail = b""

    def write(self, path, shoff=0, shnum=0):
        assert len(self.phdrs) <= 0xffff and self.phoff + len(self.phdrs) * 56 <= self.zero_at
        with open(path, "wb") as f:
            f.write(ehdr64(self.phoff, len(self.phdrs), shoff, shnum))
            f.seek(CODE_AT)
            f.write(b"\xf4" * 0x1000)  # hlt
            f.write(self.notes)
            f.seek(self.phoff)
            f.write(b"".join(self.phdrs))
            f.seek(self.zero_at + self.zero_len)
            f.write(self.tail)
            f.truncate(self.zero_at + self.zero_len + len(self.tail))


def zero_area(path, n, area, kind):
    img = Image(entry_note(), n)
    img.zero_len = max(area, 12 * n)
    for i in range(n):
        start = {"zero-area": 0, "shifted-areas": 12 * i, "tiny-areas": 12 * i}[kind]
        length = 12 if kind == "tiny-areas" else area - start
        img.phdrs.append(phdr64(PT_NOTE, 4, img.zero_at + start, 0, length, length))
    img.write(path)


def sections(path, n, area):
    img = Image(entry_note(), pt_note=False)  # the notes are read from the section headers
    img.zero_len = area
    img.tail = (shdr64(0, 0, 0) + shdr64(SHT_NOTE, img.notes_at, len(img.notes))
                + shdr64(SHT_NOTE, img.zero_at, area) * n)
    img.write(path, shoff=img.zero_at + area, shnum=2 + n)


def same_notes(path, n):
    img = Image(note(b"Xen", 6, b"linux\0") + entry_note(), n)
    img.phdrs += [img.phdrs[1]] * n
    img.write(path)


def small_repro(path):
    n, area = 4096, 128 * 1024
    phoff = 52
    zero_at = phoff + n * 32
    ident = b"\x7fELF" + bytes([1, 1, 1]) + bytes(9)
    ehdr = ident + struct.pack("<HHIIIIIHHHHHH", 2, 3, 1, 0x100000, phoff, 0, 0, 52, 32, n, 40, 0, 0)
    ph = struct.pack("<IIIIIIII", PT_NOTE, zero_at, 0, 0, area, area, 4, 4)
    with open(path, "wb") as f:
        f.write(ehdr + ph * n + bytes(area))


# Note strings a hostile kernel could send to a terminal: OSC (window
# title), clear screen, colours, C1 CSI (0x9b), quotes, backslashes, bytes
# that are not UTF-8 (0xff 0xfe, overlong 0xc0 0xaf), UTF-8 (0xc3 0xa9), DEL,
# CR, LF, BS and TAB.
ESC_GUEST_OS = b"\x1b]0;pwned\x07\x1b[2J\x1b[31mred\x9b1m\"q\"\\b\\\xff\xfe\xc3\xa9\x7f\tend\0"
ESC_LOADER = b"a\rb\nc\x08\0"
ESC_FEATURES = b"!\x1b[1mbold|x\"y|z\\w|\xc0\xaf\0"


def escapes(path):
    notes = (note(b"Xen", 6, ESC_GUEST_OS) + note(b"Xen", 8, ESC_LOADER) + note(b"Xen", 10, ESC_FEATURES)
             + entry_note())
    Image(notes).write(path)


if __name__ == "__main__":
    kind, out = sys.argv[1], sys.argv[2]
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    area_bytes = int(sys.argv[4]) * 1024 if len(sys.argv) > 4 else MIB
    {"zero-area": lambda: zero_area(out, count, area_bytes, kind),
     "shifted-areas": lambda: zero_area(out, count, area_bytes, kind),
     "tiny-areas": lambda: zero_area(out, count, area_bytes, kind),
     "sections": lambda: sections(out, count, area_bytes),
     "same-notes": lambda: same_notes(out, count),
     "small-repro": lambda: small_repro(out),
     "escapes": lambda: escapes(out)}[kind]()
