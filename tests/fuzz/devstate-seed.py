#!/usr/bin/env python3
"""devstate-seed.py OUT_DIR: writes seed inputs for tests/fuzz/fuzz_devstate.c
(tests/fuzz/corpus/devstate/): for each legacy device a valid saved state of
version 1 (the formats in vmm/dev/*.c and vmm/virtio/mmio.c, "saved state,
version 1"), followed by the harness's clock start and a few accesses; for
the harness's virtio-mmio device, a running state with two ready queues and
a chain built in RAM and notified; for the VIRTIO section (device 7,
vmm/virtio/devconfig.h), a drive with an id, a NIC, the console, the rng
and vsock; and two NICs, one with the API's iface_id, and vsock. The encoding is the
harness's (LLVMFuzzerTestOneInput and one_access there; keep them in step)."""
import os
import struct
import sys

UART, I8042, ACPIPM, RTC, DEBUGCON, DEBUGEXIT, VIRTIO, VCONFIG = range(8)


def seed(which, state, accesses):
    return bytes([which]) + struct.pack("<H", len(state)) + state + struct.pack("<I", 12345) + accesses


def read(reg, size_sel=0):
    return bytes([(reg << 2) | (size_sel << 5) | 0])


def write(reg, value, size_sel=0):
    return bytes([(reg << 2) | (size_sel << 5) | 1]) + struct.pack("<I", value)


def tick(ns):
    return bytes([2]) + struct.pack("<I", ns)


def rx(c):
    return bytes([3, c])


uart = bytes([1, 0x03, 0x03, 0x0b, 0x5a, 0x03, 0x00, 0xc1, 1]) + struct.pack("<H", 5) + b"hello"
i8042 = bytes([1, 0xd1, 0xd1, 0x47, 0x01, 0x08, 14, 3]) + bytes(range(0x10, 0x20))
acpipm = bytes([1]) + struct.pack("<HHH", 0, 0x0121, 0x0401)
cmos = bytearray(128)
cmos[0x0a], cmos[0x0b], cmos[0x0d] = 0x26, 0x42, 0x80
cmos[0x0c] = 0xc0
rtc = bytes([1, 0x0c, 1]) + bytes(cmos) + struct.pack("<qI", -3600, 500000000)



def queue(size, desc, avail, used, last_avail=0, used_idx=0):
    return struct.pack("<HBBBQQQHHHB", size, 1, 1, 1, desc, avail, used, last_avail, used_idx, used_idx, 1)


features = (1 << 32) | (1 << 29) | (1 << 28) | (1 << 3)
virtio = (bytes([1]) + struct.pack("<IB6IQB", 42, 2, 0x0f, 0, 0, 0, 1, 0, features, 0)
          + queue(16, 0x1000, 0x2000, 0x3000) + queue(8, 0x4000, 0x5000, 0x6000, 3, 3))


def ram(at, value):
    return bytes([2]) + struct.pack("<HQ", at, value)


notify = bytes([(0x50 // 4) << 2 | 1]) + struct.pack("<I", 0)
chain = ram(0x1000, 0x8000) + ram(0x1008, 16 | (2 << 32)) + ram(0x2000, 1 << 16)

GSIS = [5, 6, 7, 10, 11]  # lib/layout.c's first slots


def vdev(slot, vid, body):
    return struct.pack("<IIQII", vid, slot, 0xD0000000 + slot * 0x1000, GSIS[slot], len(body)) + body


def string(s):
    return struct.pack("<H", len(s)) + s


vconfig = (struct.pack("<II", 1, 5)
           + vdev(0, 2, bytes([0, 1, 1, 0]) + struct.pack("<Q", 2048) + string(b"/img/root.ext4") + string(b"a"))
           + vdev(1, 1, bytes([1, 2, 0, 0, 0, 0, 7, 0]) + struct.pack("<I", 1400) + string(b"tap0"))
           + vdev(2, 3, b"") + vdev(3, 4, b"")
           + vdev(4, 19, struct.pack("<Q", 42) + string(b"/run/v.sock")))

# two NICs, the first built by the API (the has-id flag, its iface_id after the TAP), and vsock
vconfig_ids = (struct.pack("<II", 1, 3)
               + vdev(0, 1, bytes([0, 0, 0, 0, 0, 0, 0, 1]) + struct.pack("<I", 0) + string(b"tap0") + string(b"eth0"))
               + vdev(1, 1, bytes([0, 0, 0, 0, 0, 0, 0, 0]) + struct.pack("<I", 0) + string(b"tap1"))
               + vdev(2, 19, struct.pack("<Q", 42) + string(b"/run/v.sock")))

SEEDS = {
    "vconfig": seed(VCONFIG, vconfig, b""),
    "vconfig-ids": seed(VCONFIG, vconfig_ids, b""),
    "virtio": seed(VIRTIO, virtio, chain + notify + bytes([(0x60 // 4) << 2]) + bytes([(0x70 // 4) << 2])),
    "uart": seed(UART, uart, read(0) * 6 + read(2) + rx(0x41) + write(3, 0x80) + read(0) + read(5)),
    "i8042": seed(I8042, i8042, read(1) + read(0) * 4 + write(1, 0xaa) + read(0) + write(0, 0xf2)),
    "acpipm": seed(ACPIPM, acpipm, read(0, 1) + read(1, 1) + write(2, 0xffff, 1) + read(2, 1)),
    "rtc": seed(RTC, rtc, read(1) + tick(600000000) + write(0, 0x0a) + read(1) + write(0, 0x0c) + read(1)),
    "debugcon": seed(DEBUGCON, bytes([1]), read(0) + write(0, 0x41)),
    "debugexit": seed(DEBUGEXIT, bytes([1]), read(0)),
}

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
