#!/usr/bin/env python3
"""Writes the seed inputs of tests/fuzz/fuzz_vsock.c into OUT_DIR: the pure
mode (byte 0 even: a CONNECT line and state machine records) and the device
mode (byte 0 odd: 16-byte records, see the harness): a guest connection with
data both ways and a clean close, a host connection with its handshake, a
guest ignoring credit, garbage of every kind, resets and events.
Usage: tests/fuzz/vsock-seed.py OUT_DIR"""
import os
import struct
import sys

REQUEST, RESPONSE, RST, SHUTDOWN, RW, CREDIT_UPDATE, CREDIT_REQUEST = range(1, 8)


def tx(op, gport=0, hport=0, local=False, payload=0, flags=0, buf_alloc=65536, fwd=0, bits=0, fill=0x41):
    ports = (gport & 3) | ((hport & 3) | (4 if local else 0)) << 2
    return struct.pack("<BBBBHBIIB", 0, op - 1, bits, ports, payload, flags, buf_alloc, fwd, fill)


def rx(count=8, size=4140, full=True):
    return struct.pack("<BBHB", 3, count - 1, size, 1 if full else 0) + bytes(11)


def host(end, action, *args):
    return bytes([4, end, action] + list(args)).ljust(16, b"\0")


def connect_line(port_index):
    return host(0, 0, 1, port_index)


def io():
    return host(0, 5)


def clock(steps):
    return bytes([6, steps]).ljust(16, b"\0")


def reset(transport):
    return bytes([7, 0 if transport else 1]).ljust(16, b"\0")


def events(n=2):
    return bytes([8, n - 1, 0]).ljust(16, b"\0")


def device(*records):
    return b"\x01" + b"".join(records)


def csm_record(kind, *words):
    return (bytes([kind]) + b"".join(struct.pack("<I", w) for w in words)).ljust(16, b"\0")[:16]


SEEDS = {
    "pure-connect": b"\x00" + b"CONNECT 52\n".ljust(40, b" ")
    + csm_record(0, 0x00050001 | RESPONSE << 8) + csm_record(4) + csm_record(1, 5000) + csm_record(2, 100),
    "pure-data": b"\x02" + b"connect 4294967295\n".ljust(40, b"\0")
    + b"".join(csm_record(0, RW << 8, 3000, 0x10000, 0) for _ in range(4)) + csm_record(2, 2000)
    + csm_record(4) + csm_record(3) + csm_record(4) + csm_record(5, 1000, 500, 700),
    "guest-connect": device(
        rx(8), tx(REQUEST, 0, 0), tx(RW, 0, 0, payload=100), host(0, 2), host(0, 1, 0x10, 0x00),
        io(), tx(CREDIT_REQUEST, 0, 0), tx(CREDIT_UPDATE, 0, 0, fwd=4096), tx(SHUTDOWN, 0, 0, flags=3), io()),
    "host-connect": device(
        rx(8), connect_line(0), io(), tx(RESPONSE, 0, 0, local=True), host(1, 1, 0x00, 0x02), io(),
        tx(RW, 0, 0, local=True, payload=2000), host(1, 2), host(1, 3), io(), tx(RST, 0, 0, local=True)),
    "credit-ignored": device(
        rx(8), tx(REQUEST, 1, 1, buf_alloc=4096),
        *[tx(RW, 1, 1, payload=16384) for _ in range(6)], io(), rx(8), io()),
    "garbage": device(
        rx(8), tx(RW, 2, 2, payload=10, bits=0x01), tx(RW, 2, 2, bits=0x02), tx(REQUEST, 2, 2, bits=0x04),
        tx(RW, 2, 2, payload=10, bits=0x08 | 0x40, fill=200), tx(RW, 2, 2, bits=0x10), tx(RW, 2, 2, bits=0x20),
        tx(RW, 2, 2, payload=3000, bits=0x80), tx(RESPONSE, 3, 3), tx(RST, 3, 3), rx(4, 20, False)),
    "resets-and-events": device(
        rx(4), tx(REQUEST, 0, 0), connect_line(1), io(), events(2), reset(True), io(), tx(REQUEST, 1, 0),
        reset(False), connect_line(2), clock(3), clock(3), io(), events(4)),
    "handshake-junk": device(
        host(0, 0, 0, 13) , io(), host(0, 0, 0, 5), host(1, 4), io(), connect_line(3), io(), clock(3), io()),
}


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    os.makedirs(sys.argv[1], exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(sys.argv[1], name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
