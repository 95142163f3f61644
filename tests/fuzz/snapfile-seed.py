#!/usr/bin/env python3
"""snapfile-seed.py OUT_DIR: writes seed state files for tests/fuzz/fuzz_snapfile.c
(tests/fuzz/corpus/snapfile/), in the format include/pvhboot/snapfile.h
describes: an empty file, a machine of two vCPUs and its devices, sections of
every padding (0 to 7 bytes), and a file of many small sections."""
import os
import struct
import sys
import zlib

MACHINE, CPUID, VCPU, VM, DEVICE, MEMORY = 1, 2, 3, 4, 5, 6


def state_file(sections):
    body = b""
    for tag, index, data in sections:
        body += struct.pack("<IIQ", tag, index, len(data)) + data + bytes(-len(data) % 8)
    length = 24 + len(body) + 8
    head = b"PVHSNAP\0" + struct.pack("<IIQ", 1, len(sections), length)
    return head + body + struct.pack("<II", zlib.crc32(head + body), 0)


SEEDS = {
    "empty": [],
    "machine": [
        (MACHINE, 0, struct.pack("<IQ", 2, 256 << 20)),
        (CPUID, 0, bytes(range(40))),
        (VCPU, 0, bytes(range(1, 100))),
        (VCPU, 1, bytes(range(100, 200))),
        (VM, 0, bytes(64)),
        (DEVICE, 0, bytes([1, 0x03, 0x03, 0x0b, 0, 1, 0, 0xc1, 0, 2, 0, 0x41, 0x42])),
        (DEVICE, 1, bytes([1] + [0] * 23)),
        (MEMORY, 0, struct.pack("<QQQ", 0, 256 << 20, 0)),
    ],
    "paddings": [(DEVICE, n, bytes([0xa5] * n)) for n in range(9)],
    "many": [(VCPU, i, struct.pack("<I", i)) for i in range(64)],
}

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
for name, sections in SEEDS.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(state_file(sections))
