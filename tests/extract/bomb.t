#!/usr/bin/env python3
"""Decompression bombs through `pvhboot run --dry-run` (ASan+UBSan build), as
issue 19 found them: each is refused with one line, exit 2, within a time and
peak-RSS budget, and nothing is cached. The peak is os.wait4's ru_maxrss:
pvhboot's and its decoder child's, and (exec keeps the larger) this script's
own, which stays small because the bombs are made in a forked child.
  - a bzImage whose gzip payload is 1 GiB of zeros and says so (was 13 s and
    1 GiB of RSS, and a 1 GiB cache file): over the 256 MiB cap;
  - 255 MiB of zeros, under the cap: not an ELF file, stopped after 64 bytes;
  - an x86-64 ELF header (one 4 KiB PT_LOAD) and 200 MiB of zeros: refused
    once its program headers are in, at the bound they give (12300 bytes)."""
import os
import struct
import subprocess
import sys
import tempfile
import time
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from tap import check, finish  # noqa: E402

BIN = "build/san/pvhboot"
SECONDS = 1.0
PEAK_KIB = 48 * 1024   # the san build's own RSS is about 17 MiB


def gzip_payload(head, zeros, trailer):
    """head + zeros zero bytes, gzip level 1, then Linux's 4-byte size trailer."""
    c = zlib.compressobj(1, zlib.DEFLATED, 31)
    out, block = [c.compress(head)], bytes(1 << 20)
    while zeros:
        n = min(zeros, len(block))
        out.append(c.compress(block[:n]))
        zeros -= n
    out.append(c.flush())
    return b"".join(out) + struct.pack("<I", trailer)


def bzimage(payload):
    """Boot protocol 2.15, one setup sector, the payload right after it."""
    b = bytearray(1024)
    b[0x1f1] = 1
    b[0x1fe:0x200] = b"\x55\xaa"
    b[0x202:0x206] = b"HdrS"
    b[0x206:0x208] = b"\x0f\x02"
    struct.pack_into("<II", b, 0x248, 0, len(payload))
    return bytes(b) + payload


def elf64_one_load():
    """ELF64 x86-64 header, one PT_LOAD: offset 0x1000, 0x1000 bytes."""
    ident = b"\x7fELF\x02\x01\x01" + bytes(9)
    ehdr = ident + struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, 0x1000000, 64, 0, 0, 64, 56, 1, 64, 0, 0)
    phdr = struct.pack("<IIQQQQQQ", 1, 5, 0x1000, 0x1000000, 0x1000000, 0x1000, 0x1000, 0x1000)
    return ehdr + phdr


def run(path, env):
    start = time.monotonic()
    p = subprocess.Popen([BIN, "run", path, "--dry-run"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(p.pid, 0)
    elapsed = time.monotonic() - start
    err = p.stderr.read().decode(errors="replace")
    p.stdout.read()
    return os.waitstatus_to_exitcode(status), err, elapsed, usage.ru_maxrss


CASES = [
    ("gzip of 1 GiB of zeros announcing 1 GiB", b"", 1 << 30, 1 << 30,
     "its size trailer announces 1073741824 bytes, over the 268435456-byte limit"),
    ("gzip of 255 MiB of zeros announcing 255 MiB", b"", 255 << 20, 255 << 20,
     "not an ELF file (starts 00 00 00 00); stopped after 64 of the 267386880 bytes"),
    ("an ELF header and 200 MiB of zeros announcing 200 MiB", elf64_one_load(), (200 << 20) - 120, 200 << 20,
     "announces 209715200 bytes, more than its ELF headers account for (12300"),
]

def make_bombs(tmp):
    """Writes bomb-N.bz in a forked child, so that this process stays small."""
    pid = os.fork()
    if pid == 0:
        for i, (_, head, zeros, trailer, _) in enumerate(CASES):
            with open(os.path.join(tmp, f"bomb-{i}.bz"), "wb") as f:
                f.write(bzimage(gzip_payload(head, zeros, trailer)))
        os._exit(0)
    os.waitpid(pid, 0)


with tempfile.TemporaryDirectory() as tmp:
    env = dict(os.environ, XDG_CACHE_HOME=os.path.join(tmp, "xdg"))
    make_bombs(tmp)
    _, _, _, baseline = run("--help", env)
    for i, (name, _, _, _, want) in enumerate(CASES):
        path = os.path.join(tmp, f"bomb-{i}.bz")
        size = os.path.getsize(path)
        rc, err, elapsed, peak = run(path, env)
        lines = err.strip().splitlines()
        check(rc == 2 and len(lines) == 1 and want in err and "Sanitizer" not in err,
              f"{name} ({size} bytes): exit {rc}, one line: {err.strip()}")
        check(elapsed < SECONDS and peak < PEAK_KIB,
              f"{name}: {elapsed:.2f} s, peak RSS {peak} KiB (budget {SECONDS} s, {PEAK_KIB} KiB; "
              f"`pvhboot run --help`: {baseline} KiB)")
    cache = os.path.join(tmp, "xdg", "pvhboot")
    left = os.listdir(cache) if os.path.isdir(cache) else []
    check(left == [], f"nothing was cached ({left})")
finish()
