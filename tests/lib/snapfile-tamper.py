#!/usr/bin/env python3
"""Rewrites a pvhboot snapshot state file (include/pvhboot/snapfile.h):
    snapfile-tamper.py IN OUT cpuid    flips a bit of the first CPUID entry's
                                       eax (another host's CPU) and reseals
                                       the file with a correct CRC-32;
    snapfile-tamper.py IN OUT flip     flips one byte in the middle (the CRC
                                       then fails);
    snapfile-tamper.py IN OUT truncate keeps the first 100 bytes;
    snapfile-tamper.py IN OUT vsock-cid   sets the VIRTIO section's vsock CID
                                       to 2 (the host's) and reseals;
    snapfile-tamper.py IN OUT drive-path  turns the VIRTIO section's first
                                       drive's file name into x's (a file that
                                       is not there) and reseals.
Prints what it changed on stdout."""
import struct
import sys
import zlib

HEADER, CPUID, VIRTIO = 24, 2, 8
BLOCK, VSOCK = 2, 19


def virtio_devices(buf):
    """(virtio ID, body offset) of each device in the VIRTIO section (vmm/virtio/devconfig.h)."""
    data, length = next((d, n) for tag, _, d, n in sections(buf) if tag == VIRTIO)
    count = struct.unpack_from("<I", buf, data + 4)[0]
    off = data + 8
    for _ in range(count):
        vid, _, _, _, blen = struct.unpack_from("<IIQII", buf, off)
        yield vid, off + 24
        off += 24 + blen


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
    elif how == "vsock-cid":
        body = next(b for vid, b in virtio_devices(buf) if vid == VSOCK)
        struct.pack_into("<Q", buf, body, 2)
        reseal(buf)
        print("vsock CID -> 2")
    elif how == "drive-path":
        body = next(b for vid, b in virtio_devices(buf) if vid == BLOCK)
        n = struct.unpack_from("<H", buf, body + 12)[0]
        buf[body + 14:body + 14 + n] = b"x" * n
        reseal(buf)
        print(f"drive file -> {'x' * n}")
    elif how == "truncate":
        buf = buf[:100]
        print("kept 100 bytes")
    open(dst, "wb").write(buf)


main()
