#!/usr/bin/env python3
"""Writes the seed inputs of tests/fuzz/fuzz_net.c into OUT_DIR: the
harness's 4-byte header (flags, the driver's offloads, the MTU's index, log2
of the queue sizes) and records, each a transmit chain (16 bytes: an even
byte, the 12-byte virtio-net header, the frame's length, a layout byte) or a
frame from the host with receive buffers posted for it (6 bytes: an odd
byte, the frame's length, buffers, their size).
Usage: tests/fuzz/net-seed.py OUT_DIR"""
import os
import struct
import sys

INDIRECT, EVENT_IDX, VNET, MRG = 1, 2, 4, 8
CSUM, TSO4, TSO6, ECN, UFO, GUEST_CSUM, GUEST_TSO, GUEST_UFO = (1 << i for i in range(8))
MTU_68, MTU_576, MTU_1500, MTU_9000, MTU_65535 = range(5)
BIG = 0x8000  # a length of 64 KiB + twice the low byte


def head(flags, offloads, mtu, log2q):
    return bytes([flags, offloads, mtu, log2q])


def hdr(flags=0, gso=0, hdr_len=0, gso_size=0, csum_start=0, csum_offset=0, num_buffers=0):
    return struct.pack("<BBHHHHH", flags, gso, hdr_len, gso_size, csum_start, csum_offset, num_buffers)


def tx(h, length, layout=0):
    return b"\x00" + h + struct.pack("<HB", length, layout)


def rx(length, nbuf, size, tag=1):
    return bytes([tag | 1]) + struct.pack("<HBH", length, nbuf, size - 1)


TCP4 = hdr(1, 1, 54, 1448, 34, 16)
TCP6 = hdr(1, 4, 74, 1428, 54, 16)
LINUX = head(INDIRECT | EVENT_IDX | VNET | MRG, CSUM | TSO4 | TSO6 | ECN | GUEST_CSUM | GUEST_TSO, MTU_1500, 8)

seeds = {
    # Debian's driver: small frames, TSO both ways, split headers, indirect chains
    "linux-tso": LINUX + tx(hdr(), 60) + tx(TCP4, 20000, 0x11) + tx(TCP6, 64000, 0x06)
                 + rx(100, 15, 8192) + rx(4000, 0, 1536) + rx(BIG | 0x20, 15, 8192) + rx(BIG, 15, 4096)
                 + tx(TCP4, BIG | 0x80, 0x02) + tx(TCP4, BIG | 0x81, 0x02),
    "checksum": LINUX + tx(hdr(1, 0, 0, 0, 34, 16), 100) + tx(hdr(1, 0, 0, 0, 34, 16), 51)
                + tx(hdr(1, 0, 0, 0, 0xffff, 0xffff), 100),
    # every rule broken once, a good frame after each
    "bad-headers": LINUX + b"".join(tx(h, n) + tx(hdr(), 60) for h, n in [
        (hdr(2), 60), (hdr(4), 60), (hdr(0x80), 60), (hdr(1, 3, 42, 1472, 34, 6), 9000),
        (hdr(0, 1, 54, 1448, 34, 16), 9000), (hdr(1, 1, 54, 0, 34, 16), 9000), (hdr(1, 2, 54, 1448, 34, 16), 9000),
        (hdr(1, 5, 54, 1448, 34, 16), 9000), (hdr(0, 0, 61), 60), (hdr(), 13), (hdr(), 1519),
        (TCP4, BIG | 0x81), (hdr(1, 0x81, 54, 1448, 34, 16), 9000)])
                   + tx(hdr(), 60, 0x08),
    "plain-tap": head(MRG | EVENT_IDX, 0, MTU_1500, 5) + tx(hdr(), 1514) + tx(hdr(1, 0, 0, 0, 34, 16), 100)
                 + rx(1514, 2, 1536) + rx(60, 1, 64) + rx(3000, 3, 1000),
    "no-mergeable": head(VNET, CSUM | GUEST_CSUM, MTU_1500, 6) + rx(1514, 3, 1526) + rx(3000, 0, 1526)
                    + rx(60, 1, 10) + rx(60, 1, 1526),
    "jumbo": head(VNET | MRG, CSUM | GUEST_CSUM, MTU_9000, 7) + tx(hdr(), 9018) + tx(hdr(), 9019)
             + rx(9014, 7, 1536) + rx(9014, 2, 4096),
    "small-ring": head(VNET | MRG | INDIRECT, CSUM | TSO4 | GUEST_CSUM | GUEST_TSO, MTU_1500, 1)
                  + rx(3000, 2, 1536) + rx(60, 0, 1) + tx(TCP4, 20000, 0x07) + tx(TCP4, 20000, 0x03),
    "ufo-ecn": head(VNET | MRG, CSUM | TSO4 | ECN | UFO | GUEST_CSUM | GUEST_UFO, MTU_576, 4)
               + tx(hdr(1, 3, 42, 548, 34, 6), 9000) + tx(hdr(1, 0x81, 54, 524, 34, 16), 30000)
               + tx(hdr(1, 0x83, 42, 548, 34, 6), 9000) + tx(hdr(), 594) + tx(hdr(), 595),
    "min-mtu": head(VNET, 0, MTU_68, 3) + tx(hdr(), 86) + tx(hdr(), 87) + rx(86, 2, 98) + rx(87, 1, 99),
}

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
