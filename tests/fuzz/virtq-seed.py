#!/usr/bin/env python3
"""virtq-seed.py OUT_DIR: writes crafted inputs of tests/fuzz/fuzz_virtq.c
(tests/fuzz/regressions/virtq/) that pin the walker's bounds exactly, so that
a regression fails at once instead of waiting for the fuzzer: loops of
zero-length descriptors, indirect tables and chains one past PVH_VCHAIN_MAX
and exactly at it, order, heads and indices out of range, rings and buffers at
the very ends of the RAM slots. The encoding is the harness's (start and
one_operation there; keep the two in step). Each input's expectation is the
harness's reference model: it aborts when the walker disagrees."""
import os
import struct
import sys

OP_RAM, OP_DESC, OP_DESC_ANYWHERE, OP_PUBLISH, OP_RING_FIELD, OP_POP, OP_POP_ALL = 0, 1, 2, 3, 4, 5, 6
OP_PUSH, OP_PUSH_RAW, OP_INTERRUPT, OP_ARM, OP_CHAIN_IO, OP_CHAIN = 7, 8, 9, 10, 11, 12
F_NEXT, F_WRITE, F_INDIRECT = 1, 2, 4
EVENT_IDX, INDIRECT = 1, 2
SLOT0_END, SLOT1, SLOT1_END = 64 << 10, 0x18000, 0x20000


def header(log2, flags, desc, avail, used):
    return bytes([log2, flags]) + struct.pack("<HHH", desc // 16, avail // 2, used // 4)


def raw_header(log2, flags, desc, avail, used):
    return bytes([log2, flags | 8]) + struct.pack("<QQQ", desc, avail, used)


def addr(gpa):
    return bytes([0xf0]) + struct.pack("<Q", gpa)


def length(n):
    return bytes([0xe0]) + struct.pack("<I", n)


def desc(i, gpa, n, flags, nxt=0):
    return bytes([OP_DESC]) + struct.pack("<H", i) + addr(gpa) + length(n) + bytes([flags]) + struct.pack("<H", nxt)


def publish(head):
    return bytes([OP_PUBLISH]) + struct.pack("<H", head) + bytes([1])


def chain(indirect, n, readable=0, length_=64, direct_first=False, unused=0):
    shape = (1 if indirect else 0) | (2 if direct_first else 0) | (unused << 2)
    count = struct.pack("<H", n - 1) if indirect else bytes([n - 1])
    return bytes([OP_CHAIN, shape]) + count + struct.pack("<HH", readable, length_ - 1)


def ring_field(which, value):
    return bytes([OP_RING_FIELD, which]) + struct.pack("<H", value)


POP, ALL, INTR, ARM = bytes([OP_POP]), bytes([OP_POP_ALL]), bytes([OP_INTERRUPT]), bytes([OP_ARM])
Q8 = header(3, EVENT_IDX | INDIRECT, 0, 0x100, 0x200)   # 8 entries: desc 0, avail 0x100, used 0x200
PUSH = bytes([OP_PUSH, 0, 0, 0xff, 0xff, 0xff, 0xff])

SEEDS = {
    # two zero-length descriptors naming each other: no buffer is ever added,
    # only the visit count ends the walk (refused)
    "zero-length-loop": Q8 + desc(0, 0x1000, 0, F_NEXT, 1) + desc(1, 0x1000, 0, F_NEXT, 0) + publish(0) + POP,
    # the same loop inside an indirect table of 2 entries (refused)
    "zero-length-loop-indirect": Q8 + desc(0, SLOT1, 32, F_INDIRECT)
    + bytes([OP_DESC_ANYWHERE]) + struct.pack("<I", SLOT1)[:3] + addr(0x1000) + length(0) + bytes([F_NEXT, 1, 0])
    + bytes([OP_DESC_ANYWHERE]) + struct.pack("<I", SLOT1 + 16)[:3] + addr(0x1000) + length(0) + bytes([F_NEXT, 0, 0])
    + publish(0) + POP,
    # an indirect table of PVH_VCHAIN_MAX entries, all used: accepted
    "indirect-1024-entries": Q8 + chain(True, 1024, readable=512) + ALL + PUSH + INTR + ARM,
    # 1024 used entries in a table of 1025: refused for the table's size
    "indirect-1025-entries-1024-used": Q8 + chain(True, 1024, unused=1) + POP,
    # a direct buffer, then an indirect table of 1024: 1025 buffers, refused
    "chain-1025-buffers": Q8 + chain(True, 1024, direct_first=True) + POP,
    # a direct buffer, then 1023 indirect ones: exactly 1024, accepted
    "chain-1024-buffers": Q8 + chain(True, 1023, readable=1, direct_first=True) + ALL + PUSH,
    # a readable buffer after a writable one (refused); a zero-length
    # readable one after a writable one (refused too: the order rule comes first)
    "readable-after-writable": Q8 + desc(0, 0x1000, 8, F_WRITE | F_NEXT, 1) + desc(1, 0x1100, 8, 0) + publish(0) + POP,
    "empty-readable-after-writable": Q8 + desc(0, 0x1000, 8, F_WRITE | F_NEXT, 1) + desc(1, 0x1100, 0, 0)
    + publish(0) + POP,
    # a head and a next past the queue, an available index 9 ahead of 0 in a
    # queue of 8, then one exactly 8 ahead (accepted, chains one by one)
    "head-and-next-past-queue": Q8 + publish(8) + POP + ring_field(1, 0) + desc(0, 0x1000, 8, F_NEXT, 8)
    + publish(0) + POP,
    "avail-index-ahead": Q8 + desc(0, 0x1000, 8, 0) + ring_field(1, 9) + POP + ring_field(1, 8) + ALL,
    # the available ring ending exactly at the end of slot 0 (accepted), the
    # used ring two bytes past it (refused), the table in the gap (refused)
    "rings-at-slot-end": raw_header(3, EVENT_IDX, SLOT0_END - 256, SLOT0_END - 22, SLOT0_END - 128)
    + desc(0, SLOT0_END - 8, 8, F_WRITE) + publish(0) + ALL + PUSH + INTR + ARM,
    "used-ring-past-slot-end": raw_header(3, EVENT_IDX, SLOT0_END - 256, SLOT0_END - 150, SLOT0_END - 68) + POP,
    "rings-across-slot-gap": raw_header(3, 0, SLOT1 - 64, 0x100, 0x200) + POP,
    # buffers: ending exactly at the end of slot 1 (accepted), one byte over,
    # across the gap between the slots, wrapping 2^64 (refused)
    "buffer-at-slot1-end": Q8 + desc(0, SLOT1_END - 16, 16, F_WRITE) + publish(0) + ALL
    + bytes([OP_CHAIN_IO, 1]) + struct.pack("<HBH", 0, 0, 64) + PUSH,
    "buffer-past-slot1-end": Q8 + desc(0, SLOT1_END - 16, 17, 0) + publish(0) + POP,
    "buffer-across-slot-gap": Q8 + desc(0, SLOT0_END - 16, 0x8020, 0) + publish(0) + POP,
    "buffer-wraps-2-64": Q8 + desc(0, 2**64 - 8, 16, 0) + publish(0) + POP,
    # an indirect table inside an indirect table, and one with NEXT (refused)
    "nested-indirect": Q8 + desc(0, SLOT1, 16, F_INDIRECT)
    + bytes([OP_DESC_ANYWHERE]) + struct.pack("<I", SLOT1)[:3] + addr(SLOT1 + 256) + length(16) + bytes([F_INDIRECT, 0, 0])
    + publish(0) + POP,
    "indirect-with-next": Q8 + desc(0, SLOT1, 16, F_INDIRECT | F_NEXT, 1) + publish(0) + POP,
}

outdir = sys.argv[1]
os.makedirs(outdir, exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(outdir, name), "wb") as f:
        f.write(data)
