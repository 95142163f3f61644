#!/usr/bin/env python3
"""virtio-seed.py OUTDIR: writes the hand-made seeds of tests/fuzz/fuzz_virtio.c
into OUTDIR (tests/fuzz/corpus/virtio/): for each device type a proper
initialisation and a request, in the harness's input encoding (see
LLVMFuzzerTestOneInput and one_operation there; keep the two in step)."""
import os
import struct
import sys

RNG, CONSOLE, BLK, NET = 0, 1, 2, 3       # index in the harness's `devices` table
OP_WRITE, OP_INIT, OP_NOTIFY, OP_HOST, OP_CHAIN = 0, 2, 5, 7, 11
REG_EMERG_WR = 23                        # pick_register: regs[23] is VIRTIO_MMIO_CONFIG + 8
SIZE_1, SIZE_4 = 3, 0                    # pick_size: sizes[3] == 1, sizes[0] == 4
FEAT_EVENT_IDX, FEAT_INDIRECT, FEAT_DEVICE = 1, 2, 4


def header(device, kick):
    return bytes([device, 1 if kick else 0])


def rng_config(rate, burst):
    return struct.pack("<I", rate - 1)[:3] + struct.pack("<H", burst - 1)


def init(features, *size_exponents):
    return bytes([OP_INIT, features, *size_exponents])


def chain(queue, buffers, indirect=False):
    """buffers: (length, writable) pairs, 1 to 4."""
    out = bytes([OP_CHAIN, queue, len(buffers) - 1])
    for length, writable in buffers:
        out += struct.pack("<HB", length, 1 if writable else 0)
    return out + bytes([1 if indirect else 0])


def rng_host(advance_ns, mode=0):
    return bytes([OP_HOST]) + struct.pack("<I", advance_ns >> 10) + bytes([mode])


def console_input(data):
    return bytes([OP_HOST, len(data)]) + data


def net_config(vnet, mtu):
    return bytes([1 if vnet else 0]) + struct.pack("<H", mtu - 68)


def net_frame(length):
    return bytes([OP_HOST]) + struct.pack("<I", length)[:3]


def emergency_write(char):
    return bytes([OP_WRITE, REG_EMERG_WR, SIZE_1]) + struct.pack("<I", ord(char))


SEEDS = {
    "rng-request": header(RNG, False) + rng_config(1 << 20, 64 << 10)
    + init(FEAT_EVENT_IDX | FEAT_INDIRECT, 3) + chain(0, [(64, True)]) + rng_host(1000000),
    "rng-throttled-io-thread": header(RNG, True) + rng_config(1000, 100)
    + init(FEAT_INDIRECT, 2) + chain(0, [(200, True)]) + chain(0, [(32, True), (32, True)], indirect=True)
    + rng_host(20000000) + rng_host(200000000, mode=3) + rng_host(200000000),
    "console-transmit": header(CONSOLE, False) + bytes([1])
    + init(FEAT_EVENT_IDX | FEAT_INDIRECT | FEAT_DEVICE, 3, 3)
    + chain(1, [(10, False), (5000, False)]) + chain(1, [(12, False), (3, False)], indirect=True),
    "console-receive-io-thread": header(CONSOLE, True) + bytes([0])
    + init(FEAT_INDIRECT, 3, 3) + chain(0, [(16, True)]) + console_input(b"hello world\n")
    + emergency_write("E"),
    "net-transmit-receive": header(NET, False) + net_config(True, 1500)
    + init(FEAT_EVENT_IDX | FEAT_INDIRECT | FEAT_DEVICE, 4, 4)
    + chain(0, [(1536, True)]) + chain(0, [(1536, True)]) + chain(1, [(12, False), (60, False)])
    + chain(1, [(72, False)], indirect=True) + net_frame(112) + net_frame(3000),
    "net-io-thread": header(NET, True) + net_config(False, 9000) + init(FEAT_INDIRECT, 3, 3)
    + chain(1, [(5, False), (1000, False)]) + chain(0, [(4096, True), (8192, True)]) + net_frame(9030),
}

outdir = sys.argv[1]
os.makedirs(outdir, exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(outdir, name), "wb") as f:
        f.write(data)
