#!/usr/bin/env python3
"""kernel-seed.py VMLINUX OUT: a small fuzzing seed made from a real kernel.
Keeps the ELF64 header, every program header and the PT_NOTE bytes (the Xen
notes, the PVH entry, the relocation range) and drops the segment contents:
PT_LOAD file sizes become 0 (memory sizes stay), the notes move right after
the program headers, section headers go. `pvhboot inspect OUT` reads the same
notes and entry as the kernel it came from. Used for tests/fuzz/corpus/image/."""
import struct
import sys

src, dst = sys.argv[1], sys.argv[2]
data = open(src, "rb").read()
assert data[:4] == b"\x7fELF" and data[4] == 2, "ELF64 only"
ehdr = bytearray(data[:64])
phoff, = struct.unpack_from("<Q", ehdr, 32)
phentsize, phnum = struct.unpack_from("<HH", ehdr, 54)
phdrs = [bytearray(data[phoff + i * phentsize: phoff + (i + 1) * phentsize]) for i in range(phnum)]
notes, note_at = b"", 64 + phnum * phentsize
for ph in phdrs:
    p_type, _, p_offset = struct.unpack_from("<IIQ", ph, 0)
    p_filesz, = struct.unpack_from("<Q", ph, 32)
    if p_type == 4:  # PT_NOTE: its bytes follow the program headers
        struct.pack_into("<Q", ph, 8, note_at + len(notes))
        notes += data[p_offset:p_offset + p_filesz]
    elif p_type == 1:  # PT_LOAD: no file bytes
        struct.pack_into("<Q", ph, 8, 0)
        struct.pack_into("<Q", ph, 32, 0)
struct.pack_into("<Q", ehdr, 32, 64)           # e_phoff
struct.pack_into("<Q", ehdr, 40, 0)            # e_shoff
struct.pack_into("<HHH", ehdr, 58, 0, 0, 0)    # e_shentsize, e_shnum, e_shstrndx
open(dst, "wb").write(bytes(ehdr) + b"".join(phdrs) + notes)
