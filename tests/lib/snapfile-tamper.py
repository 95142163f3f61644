#!/usr/bin/env python3
"""Rewrites a pvhboot snapshot state file (include/pvhboot/snapfile.h):
    snapfile-tamper.py IN OUT cpuid    flips a bit of the first CPUID entry's
                                       eax (another host's CPU) and reseals
                                       the file with a correct CRC-32;
    snapfile-tamper.py IN OUT flip     flips one byte in the middle (the CRC
                                       then fails);
    snapfile-tamper.py IN OUT truncate keeps the first 100 bytes.
Prints what it changed on stdout."""
import struct
import sys
import zlib

HEADER, CPUID = 24, 2


def sections(buf):
    off = HEADER
    _, _, count, _ = struct.unpack_from("<8sIIQ", buf, 0)
    for _ in range(count):
        tag, index, length = struct.unpack_from("<IIQ", buf, off)
        yield tag, index, off + 16, length
        off += 16 + (length + 7) // 8 * 8


def reseal(buf):
    struct.pack_into("<II", buf, len(buf) - 8, zlib.crc32(bytes(buf[:-8])) & 0xffffffff, 0)


def main():
    src, dst, how = sys.argv[1:4]
    buf = bytearray(open(src, "rb").read())
    if how == "cpuid":
        data = next(d for tag, _, d, _ in sections(buf) if tag == CPUID)
        entry = data + 8
        function, index, _, eax = struct.unpack_from("<IIII", buf, entry)
        struct.pack_into("<I", buf, entry + 12, eax ^ 1)
        reseal(buf)
        print(f"CPUID leaf {function:#x} subleaf {index}: eax {eax:#x} -> {eax ^ 1:#x}")
    elif how == "flip":
        buf[len(buf) // 2] ^= 0x40
        print(f"byte {len(buf) // 2:#x} flipped")
    elif how == "truncate":
        buf = buf[:100]
        print("kept 100 bytes")
    open(dst, "wb").write(buf)


main()
