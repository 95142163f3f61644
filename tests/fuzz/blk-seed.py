#!/usr/bin/env python3
"""Writes the seed inputs of tests/fuzz/fuzz_blk.c into OUT_DIR: each is the
harness's 2-byte header (flags, log2 queue size) and a fake-RAM image with the
descriptor table at 0, the available ring after it, the used ring at the next
4-byte boundary (the harness's ring_layout) and then requests laid out the way
Linux's virtio-blk driver does.
Usage: tests/fuzz/blk-seed.py OUT_DIR"""
import os
import struct
import sys

T_IN, T_OUT, T_FLUSH, T_GET_ID, T_DISCARD, T_WRITE_ZEROES = 0, 1, 4, 8, 11, 13
F_NEXT, F_WRITE, F_INDIRECT = 1, 2, 4


class Ram:
    def __init__(self, qsize):
        self.avail = 16 * qsize
        used = (self.avail + 6 + 2 * qsize + 3) & ~3
        heap = used + 6 + 8 * qsize
        self.qsize, self.mem, self.heap, self.desc, self.heads = qsize, bytearray(heap), heap, 0, []

    def alloc(self, data, align=16):
        self.heap = (self.heap + align - 1) // align * align
        gpa = self.heap
        self.mem.extend(b"\0" * (gpa + len(data) - len(self.mem)))
        self.mem[gpa:gpa + len(data)] = data
        self.heap += len(data)
        return gpa

    def put_desc(self, table, i, addr, length, flags, nxt):
        struct.pack_into("<QIHH", self.mem, table + 16 * i, addr, length, flags, nxt)

    def chain(self, bufs, indirect=False):
        """bufs: (bytes, writable); publishes the chain, returns its head."""
        gpas = [(self.alloc(data), len(data), w) for data, w in bufs]
        head = self.desc
        if indirect:
            table = self.alloc(b"\0" * 16 * len(gpas))
            for k, (gpa, n, w) in enumerate(gpas):
                last = k + 1 == len(gpas)
                self.put_desc(table, k, gpa, n, (F_WRITE if w else 0) | (0 if last else F_NEXT), k + 1)
            self.put_desc(0, head, table, 16 * len(gpas), F_INDIRECT, 0)
            self.desc += 1
        else:
            for k, (gpa, n, w) in enumerate(gpas):
                last = k + 1 == len(gpas)
                self.put_desc(0, self.desc, gpa, n, (F_WRITE if w else 0) | (0 if last else F_NEXT), self.desc + 1)
                self.desc += 1
        self.heads.append(head)
        return head

    def image(self, flags):
        struct.pack_into("<HH", self.mem, self.avail, 0, len(self.heads))
        for k, h in enumerate(self.heads):
            struct.pack_into("<H", self.mem, self.avail + 4 + 2 * k, h)
        log2 = self.qsize.bit_length() - 1
        return bytes([flags, log2]) + bytes(self.mem)


def header(t, sector=0):
    return struct.pack("<IIQ", t, 0, sector)


def segment(sector, count, flags=0):
    return struct.pack("<QII", sector, count, flags)


def request(ram, t, sector=0, out=b"", in_len=0, split=1, indirect=False):
    bufs = [(header(t, sector), False)]
    for k in range(split if out else 0):
        bufs.append((out[k * len(out) // split:(k + 1) * len(out) // split], False))
    for k in range(split if in_len else 0):
        bufs.append((b"\0" * (in_len // split), True))
    bufs.append((b"\xff", True))
    return ram.chain(bufs, indirect)


def seeds():
    r = Ram(8); request(r, T_IN, 3, in_len=1024, split=2); yield "read", r.image(0)
    r = Ram(8); request(r, T_OUT, 5, out=bytes(range(256)) * 2); yield "write", r.image(0)
    r = Ram(8); request(r, T_FLUSH); yield "flush", r.image(0)
    r = Ram(8); request(r, T_GET_ID, in_len=20); yield "get-id", r.image(4)
    r = Ram(8); request(r, T_DISCARD, out=segment(0, 8) + segment(64, 16)); yield "discard", r.image(0)
    r = Ram(8); request(r, T_WRITE_ZEROES, out=segment(8, 8, 1) + segment(100, 28)); yield "write-zeroes", r.image(0)
    r = Ram(8); request(r, T_IN, 120, in_len=4096, split=4, indirect=True); yield "read-indirect", r.image(1)
    r = Ram(16)
    request(r, T_OUT, 0, out=b"\xaa" * 1024, split=2)
    request(r, T_FLUSH)
    request(r, T_IN, 0, in_len=1024, indirect=True)
    request(r, T_DISCARD, out=segment(0, 2))
    yield "batch-event-idx", r.image(3)
    r = Ram(8); request(r, T_OUT, 1, out=b"\x55" * 512); yield "write-read-only", r.image(4)
    r = Ram(8); request(r, T_IN, 127, in_len=1024); yield "read-past-end", r.image(0)
    r = Ram(8); r.chain([(header(T_IN), False)]); yield "no-status", r.image(0)
    r = Ram(8); request(r, 99, in_len=512); yield "unknown-type", r.image(0)


def record(kind, layout=0, sector=0, length=0, nseg=0, seg_flags=0, seg_sectors=0, fill=0, raw_type=0):
    """One 16-byte record of the harness's request mode (see fuzz_blk.c)."""
    return struct.pack("<BBHHBBHB4xB", kind, layout, sector, length, nseg, seg_flags, seg_sectors, fill, raw_type)


def request_seeds():
    """Flags bit 3: the request mode; records in a queue of 16 (or 64)."""
    sectors = lambda n: 0x8000 | n
    yield "req-read-write", bytes([8 | 1, 4]) + record(1, 0, 3, sectors(2), fill=0x5a) + record(0, 1, 3, sectors(2)) \
        + record(0, 4 | 8, 127, sectors(1)) + record(1, 2 | 16 | 32, 126, sectors(2), fill=7)
    yield "req-edges", bytes([8 | 1, 4]) + record(0, 0, 128, sectors(1)) + record(1, 0, 0xffff, sectors(1)) \
        + record(0, 0, 5, 700) + record(1, 8, 0, 512) + record(7, 0, raw_type=99) + record(3, 32, length=20)
    yield "req-segments", bytes([8 | 1 | 2, 4]) + record(4, 0, 8, nseg=2, seg_sectors=8) \
        + record(5, 1, 100, nseg=1, seg_flags=1, seg_sectors=28) + record(4, 0, 0, nseg=33, seg_sectors=1) \
        + record(5, 4, 120, nseg=3, seg_sectors=4) + record(4, 0, 0, nseg=1, seg_flags=1, seg_sectors=1) \
        + record(2, 0)
    yield "req-read-only", bytes([8 | 4, 5]) + record(1, 0, 0, sectors(1)) + record(4, 0, 0, nseg=1, seg_sectors=8) \
        + record(5, 0, 0, nseg=1, seg_sectors=8) + record(0, 0, 0, sectors(4)) + record(2, 0) + record(3, 0, length=20)
    yield "req-no-status", bytes([8, 4]) + record(0, 0, 1, sectors(1)) + record(0, 0xff, 2, sectors(1))


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for name, data in list(seeds()) + list(request_seeds()):
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
