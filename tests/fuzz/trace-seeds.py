#!/usr/bin/env python3
"""trace-seeds.py TRACE[.gz] CORPUS_DIR: turns a recording of a real driver's
virtio traffic (PVHBOOT_VIRTIO_TRACE, made by tests/fuzz/record-trace.sh;
docs/hardening.md gives the format) into seed inputs for three harnesses,
each in its own input format (keep this file in step with them):

  CORPUS_DIR/virtio/linux-*  fuzz_virtio.c: per device type the whole session
      (every register access as OP_READ/OP_WRITE, ring addresses moved into
      the harness's layout; each notification's chains as OP_CHAIN_BYTES with
      their recorded first bytes, then OP_NOTIFY), and the initialisation
      followed by one notification of each kind of request;
  CORPUS_DIR/blk/linux-*     fuzz_blk.c: fake-RAM images (its ring_layout)
      holding one notification's chains as Linux laid them out (descriptor
      indices, indirect tables, buffer lengths, headers, segments), and
      request-mode records of the boot's requests;
  CORPUS_DIR/virtq/linux-*   fuzz_virtq.c: per queue, the notifications'
      descriptors (ring and indirect), publications, pops, chain copies,
      pushes, interrupt and notification checks.

Guest-physical addresses are moved into each harness's small RAM; blk sectors
and DISCARD segments are folded into its drive's capacity, so that requests
succeed there as they did in the guest. Each seed stays under 64 KiB.
tests/fuzz/traces/ keeps the recording the committed seeds came from:

    tests/fuzz/trace-seeds.py tests/fuzz/traces/linux-6.1-boot.trace.gz tests/fuzz/corpus

FUZZ_SUMMARY=1 build/fuzz/fuzz_X -runs=1 SEED prints what a seed did there
(requests served, errors)."""
import collections
import gzip
import os
import struct
import sys

F_NEXT, F_WRITE, F_INDIRECT = 1, 2, 4
EVENT_IDX, INDIRECT_DESC = 1 << 29, 1 << 28
T_IN, T_OUT, T_FLUSH, T_GET_ID, T_DISCARD, T_WRITE_ZEROES = 0, 1, 4, 8, 11, 13
TYPE_NAMES = {T_IN: "read", T_OUT: "write", T_FLUSH: "flush", T_GET_ID: "get-id", T_DISCARD: "discard",
              T_WRITE_ZEROES: "write-zeroes"}
SEED_MAX = 64 << 10


# ---- the trace

class Chain:
    def __init__(self, head):
        self.head, self.descs, self.error = head, [], None

    def buffers(self):
        """(length, writable, first bytes) of each buffer, in order."""
        return [(d["len"], bool(d["flags"] & F_WRITE), d["bytes"]) for d in self.descs
                if not d["flags"] & F_INDIRECT]

    def indirect(self):
        return bool(self.descs) and bool(self.descs[0]["flags"] & F_INDIRECT)


def parse(path):
    devices, events = {}, []
    chain = None
    opener = gzip.open if path.endswith(".gz") else open
    for line in opener(path, "rt", errors="replace"):
        f = line.split()
        if not f or f[0].startswith("#"):
            continue
        kind = f[0]
        if kind == "dev":
            devices[int(f[1], 0)] = {"id": int(f[2]), "name": f[3], "nqueues": int(f[4]), "qmax": int(f[5])}
        elif kind in "rw" and len(f) == 5:
            events.append({"kind": kind, "base": int(f[1], 0), "off": int(f[2], 0), "size": int(f[3]),
                           "value": int(f[4], 0)})
        elif kind == "q":
            v = [int(x, 0) for x in f[1:]]
            events.append({"kind": "q", "base": v[0], "queue": v[1], "size": v[2], "features": v[3],
                           "avail_flags": v[7], "avail_idx": v[8], "used_event": v[9], "chains": []})
        elif kind == "c":
            chain = Chain(int(f[1]))
            events[-1]["chains"].append(chain)
        elif kind == "d":
            chain.descs.append({"where": f[1], "idx": int(f[2]), "addr": int(f[3], 0), "len": int(f[4], 0),
                                "flags": int(f[5], 0), "next": int(f[6]), "bytes": b""})
        elif kind == "b":
            chain.descs[-1]["bytes"] = bytes.fromhex(f[2]) if len(f) > 2 else b""
        elif kind == "e" and chain is not None:
            chain.error = f[1]
    return devices, events


def blk_type(chain):
    bufs = chain.buffers()
    if not bufs or len(bufs[0][2]) < 4:
        return None
    return struct.unpack_from("<I", bufs[0][2])[0]


def fold_blk(bufs, capacity):
    """The chain's buffers with the request's sector (and DISCARD /
    WRITE_ZEROES segments) folded into a drive of `capacity` sectors."""
    if not bufs or len(bufs[0][2]) < 16:
        return bufs
    hdr = bytearray(bufs[0][2])
    rtype, sector = struct.unpack_from("<I", hdr)[0], struct.unpack_from("<Q", hdr, 8)[0]
    data = sum(n for n, w, _ in bufs[1:-1])
    out = list(bufs)
    if rtype in (T_IN, T_OUT):
        sectors = data // 512
        room = capacity - sectors
        struct.pack_into("<Q", hdr, 8, sector % room if room > 0 else sector)
    elif rtype in (T_DISCARD, T_WRITE_ZEROES) and len(bufs) > 1:
        segs = bytearray(bufs[1][2])
        for off in range(0, len(segs) - 15, 16):
            s, n = struct.unpack_from("<QI", segs, off)
            n = min(n, capacity // 2)
            struct.pack_into("<QI", segs, off, s % (capacity - n) if capacity > n else 0, n)
        out[1] = (bufs[1][0], bufs[1][1], bytes(segs))
    out[0] = (bufs[0][0], bufs[0][1], bytes(hdr))
    return out


# ---- fuzz_virtio

V_DEVICE = {4: 0, 3: 1, 2: 2}  # virtio id -> index in fuzz_virtio's `devices`
V_OP_WRITE, V_OP_READ, V_OP_NOTIFY, V_OP_CHAIN_BYTES = 0, 1, 5, 13
V_REGS = [0x000, 0x010, 0x014, 0x020, 0x024, 0x030, 0x034, 0x038, 0x044, 0x050, 0x060, 0x064, 0x070, 0x080, 0x084,
          0x090, 0x094, 0x0a0, 0x0a4, 0x0fc, 0x100, 0x102, 0x104, 0x108]
V_SIZES = {4: 0, 1: 3, 2: 4, 8: 5, 3: 7}
V_QUEUE_AREA, V_AVAIL_AT, V_USED_AT = 0x2000, 0x1000, 0x1400
V_DRIVE_SECTORS = (1 << 20) // 512


def v_register(off):
    if off in V_REGS:
        return bytes([V_REGS.index(off)])
    return bytes([0xf0]) + struct.pack("<H", off & 0xfff)


def v_create(device_id):
    if device_id == 4:  # rng: 1 MiB/s, a 64 KiB burst
        return struct.pack("<I", (1 << 20) - 1)[:3] + struct.pack("<H", (64 << 10) - 1)
    return bytes([0])    # console without a size; blk read-write


class VirtioSession:
    """One device's traffic in fuzz_virtio's encoding."""

    def __init__(self, device_id):
        self.out = bytearray([V_DEVICE[device_id], 1]) + v_create(device_id)
        self.device_id, self.queue_sel = device_id, 0

    def register(self, ev):
        off, value = ev["off"], ev["value"]
        if ev["kind"] == "r":
            self.out += bytes([V_OP_READ]) + v_register(off) + bytes([V_SIZES.get(ev["size"], 0)])
            return
        if off == 0x030:
            self.queue_sel = value
        if off in (0x080, 0x090, 0x0a0):  # the rings, moved into the harness's layout
            value = V_QUEUE_AREA * self.queue_sel + {0x080: 0, 0x090: V_AVAIL_AT, 0x0a0: V_USED_AT}[off]
        elif off in (0x084, 0x094, 0x0a4):
            value = 0
        self.out += bytes([V_OP_WRITE]) + v_register(off) + bytes([V_SIZES.get(ev["size"], 0)])
        self.out += struct.pack("<I", value & 0xffffffff)

    def chain(self, queue, chain):
        bufs = chain.buffers()[:256]
        if self.device_id == 2:
            bufs = fold_blk(bufs, V_DRIVE_SECTORS)
        if not bufs:
            return
        self.out += bytes([V_OP_CHAIN_BYTES, queue, 1 if chain.indirect() else 0, len(bufs) - 1])
        for n, w, first in bufs:
            first = first[:min(n, 127)]
            self.out += struct.pack("<HB", min(n, 0xffff), (len(first) << 1) | (1 if w else 0)) + first

    def notification(self, ev):
        for c in ev["chains"]:
            self.chain(ev["queue"], c)
        self.out += bytes([V_OP_NOTIFY, ev["queue"]])


def virtio_seeds(devices, events):
    seeds = {}
    by_type = {}
    for base, dev in devices.items():
        if dev["id"] not in V_DEVICE:
            continue
        name = dev["name"].replace("virtio-", "")
        mine = [e for e in events if e["base"] == base]
        session = VirtioSession(dev["id"])
        init_len = None
        for e in mine:
            if e["kind"] == "q":
                if init_len is None:
                    init_len = len(session.out)
                session.notification(e)
            else:
                session.register(e)
        seeds[f"linux-{name}-boot"] = bytes(session.out)
        if init_len is None:
            continue
        prefix = bytes(session.out[:init_len])
        for e in mine:  # the initialisation and one notification of each kind
            if e["kind"] != "q" or not e["chains"]:
                continue
            kind = (e["queue"], blk_type(e["chains"][0]) if dev["id"] == 2 else None, len(e["chains"]) > 1)
            if (base, kind) in by_type:
                continue
            one = VirtioSession(dev["id"])
            one.out = bytearray(prefix)
            one.notification(e)
            label = TYPE_NAMES.get(kind[1], f"queue{kind[0]}") if dev["id"] == 2 else f"queue{kind[0]}"
            by_type[(base, kind)] = True
            seeds[f"linux-{name}-{label}{'-batch' if kind[2] else ''}"] = bytes(one.out)
    return seeds


# ---- fuzz_blk

B_RAM = 64 << 10
B_CAPACITY = B_RAM // 512


class BlkImage:
    """fuzz_blk's raw mode: header, then RAM from gpa 0 (its ring_layout)."""

    def __init__(self, qsize, features):
        self.qsize = qsize
        self.avail = 16 * qsize
        self.used = (self.avail + 6 + 2 * qsize + 3) & ~3
        self.mem = bytearray(B_RAM)
        self.meta = (self.used + 6 + 8 * qsize + 15) & ~15   # headers, statuses, indirect tables
        self.data_start = self.data = max(self.meta + 0x2000, 0x4000)
        self.flags = (1 if features & INDIRECT_DESC else 0) | (2 if features & EVENT_IDX else 0)

    def alloc_meta(self, n):
        gpa = (self.meta + 15) & ~15
        self.meta = gpa + n
        return gpa if self.meta <= self.data_start else None

    def alloc_data(self, n):
        n = min(n, B_RAM - self.data_start)
        if self.data + n > B_RAM:
            self.data = self.data_start
        gpa = self.data
        self.data = (self.data + n + 15) & ~15
        return gpa, n

    def put_desc(self, gpa, addr, n, flags, nxt):
        struct.pack_into("<QIHH", self.mem, gpa, addr, n, flags, nxt)

    def chain(self, chain):
        """Linux's descriptors at its own indices, buffers moved; False when
        it does not fit."""
        bufs = fold_blk(chain.buffers(), B_CAPACITY)
        moved = []
        for n, w, first in bufs:  # headers and statuses apart from the data
            gpa, n = (self.alloc_meta(n), n) if n <= 64 else self.alloc_data(n)
            if gpa is None:
                return False
            self.mem[gpa:gpa + len(first[:n])] = first[:n]
            moved.append((gpa, n))
        table = None
        k = 0
        for d in chain.descs:
            if d["idx"] >= self.qsize and d["where"] == "r":
                return False
            if d["flags"] & F_INDIRECT:
                entries = d["len"] // 16
                table = self.alloc_meta(16 * entries)
                if table is None:
                    return False
                self.put_desc(16 * d["idx"], table, 16 * entries, d["flags"], d["next"])
                continue
            gpa, n = moved[k]
            k += 1
            at = table + 16 * d["idx"] if d["where"] == "i" else 16 * d["idx"]
            self.put_desc(at, gpa, n, d["flags"], d["next"])
        return True

    def seed(self, heads, avail_flags, used_event):
        struct.pack_into("<HH", self.mem, self.avail, avail_flags, len(heads))
        for k, h in enumerate(heads):
            struct.pack_into("<H", self.mem, self.avail + 4 + 2 * k, h)
        struct.pack_into("<H", self.mem, self.avail + 4 + 2 * self.qsize, used_event)
        end = len(self.mem.rstrip(b"\0"))
        return bytes([self.flags, self.qsize.bit_length() - 1]) + bytes(self.mem[:end])


def blk_record(chain):
    """fuzz_blk's request mode: one 16-byte record for a Linux request."""
    kinds = {T_IN: 0, T_OUT: 1, T_FLUSH: 2, T_GET_ID: 3, T_DISCARD: 4, T_WRITE_ZEROES: 5}
    rtype = blk_type(chain)
    if rtype is None:
        return None
    bufs = fold_blk(chain.buffers(), B_CAPACITY)
    hdr = bufs[0][2]
    sector = struct.unpack_from("<Q", hdr, 8)[0] if len(hdr) >= 16 else 0
    data = [b for b in bufs[1:-1]]
    nbytes = sum(n for n, _, _ in data)
    r = bytearray(16)
    r[0] = kinds.get(rtype, 7)
    r[15] = rtype & 0xff
    r[1] = (max(1, min(len(data), 4)) - 1) | (4 if chain.indirect() else 0)
    struct.pack_into("<H", r, 2, sector & 0x1ff)
    struct.pack_into("<H", r, 4, 0x8000 | min(nbytes // 512, 0x3f) if nbytes % 512 == 0 else nbytes & 0x1fff)
    if rtype in (T_DISCARD, T_WRITE_ZEROES) and data and len(data[0][2]) >= 16:
        segs = data[0][2]
        s, n, fl = struct.unpack_from("<QII", segs)
        r[6] = nbytes // 16 % 41
        r[7] = fl & 3
        struct.pack_into("<H", r, 2, s & 0x1ff)
        struct.pack_into("<H", r, 8, min(n, 0x7f))
    r[10] = 0x5a
    return bytes(r)


def blk_seeds(devices, events):
    seeds = {}
    bases = [b for b, d in devices.items() if d["id"] == 2]
    if not bases:
        return seeds
    blocks = [e for e in events if e["kind"] == "q" and e["base"] == bases[0] and e["chains"]]
    seen = set()
    for e in blocks:
        kinds = tuple(blk_type(c) for c in e["chains"])
        shape = (kinds, tuple(len(c.buffers()) > 3 for c in e["chains"]))
        if shape in seen:
            continue
        img = BlkImage(e["size"], e["features"])
        if not all(img.chain(c) for c in e["chains"]):
            continue
        seen.add(shape)
        names = "-".join(TYPE_NAMES.get(k, "other") for k in dict.fromkeys(kinds))
        seed = img.seed([c.head for c in e["chains"]], e["avail_flags"], e["used_event"])
        if len(seed) <= SEED_MAX:
            seeds[f"linux-{names}-{len(seeds)}"] = seed
    records = [r for e in blocks for c in e["chains"] for r in [blk_record(c)] if r]
    feats = blocks[0]["features"] if blocks else 0
    flags = 8 | (1 if feats & INDIRECT_DESC else 0) | (2 if feats & EVENT_IDX else 0)
    for k in range(0, len(records), 8):
        seeds[f"linux-requests-{k // 8}"] = bytes([flags, 6]) + b"".join(records[k:k + 8])
    return seeds


# ---- fuzz_virtq

Q_OP_DESC, Q_OP_DESC_ANYWHERE, Q_OP_PUBLISH, Q_OP_POP_ALL, Q_OP_PUSH = 1, 2, 3, 6, 7
Q_OP_INTERRUPT, Q_OP_ARM, Q_OP_CHAIN_IO = 9, 10, 11
Q_SLOT0, Q_SLOT1_GPA, Q_SLOT1 = 64 << 10, 0x18000, 32 << 10
Q_SEED_OPS = 120  # per seed: short inputs keep the harness fast (its MAX_OPS is 2048)


def q_addr_slot0(gpa):
    return bytes([0]) + struct.pack("<H", gpa)


def q_addr_slot1(gpa):
    return bytes([0xa0]) + struct.pack("<H", gpa - Q_SLOT1_GPA)


def q_len(n):
    if n < 0x100:
        return bytes([0, n])
    if n < 0x10000:
        return bytes([0x80]) + struct.pack("<H", n)
    return bytes([0xe0]) + struct.pack("<I", n)


def q_flags(f):
    return bytes([f & 7]) if f < 8 else bytes([0x80 | (f & 0x7f), f >> 8])


class VirtqSession:
    def __init__(self, qsize, features):
        self.qsize = qsize
        desc, avail = 0, 16 * qsize
        used = (avail + 6 + 2 * qsize + 3) & ~3
        self.buf_start = (used + 6 + 8 * qsize + 0xfff) & ~0xfff
        fl = (1 if features & EVENT_IDX else 0) | (2 if features & INDIRECT_DESC else 0)
        self.out = bytearray([qsize.bit_length() - 1, fl]) + struct.pack("<HHH", desc // 16, avail // 2, used // 4)
        self.ops = 0

    def op(self, data):
        self.out += data
        self.ops += 1

    def notification(self, ev):
        table_at = Q_SLOT1_GPA
        data_at = self.buf_start
        for c in ev["chains"]:
            table = None
            for d in c.descs:
                n = d["len"]
                if d["flags"] & F_INDIRECT:
                    if n > Q_SLOT1 or table_at + n > Q_SLOT1_GPA + Q_SLOT1:
                        table_at = Q_SLOT1_GPA
                    table, addr = table_at, q_addr_slot1(table_at)
                    table_at += (n + 15) & ~15
                else:
                    n = min(n, Q_SLOT0 - self.buf_start)
                    if data_at + n > Q_SLOT0:
                        data_at = self.buf_start
                    addr = q_addr_slot0(data_at)
                    data_at = (data_at + n + 15) & ~15
                args = addr + q_len(n) + q_flags(d["flags"]) + struct.pack("<H", d["next"])
                if d["where"] == "r":
                    self.op(bytes([Q_OP_DESC]) + struct.pack("<H", d["idx"]) + args)
                else:
                    at = table + 16 * d["idx"]
                    self.op(bytes([Q_OP_DESC_ANYWHERE]) + struct.pack("<I", at)[:3] + args)
            self.op(bytes([Q_OP_PUBLISH]) + struct.pack("<H", c.head) + bytes([1]))
        self.op(bytes([Q_OP_POP_ALL]))
        # the last chain: read its first 16 bytes, write 4 KiB into it
        self.op(bytes([Q_OP_CHAIN_IO, 0]) + struct.pack("<HBH", 0, 0, 16))
        self.op(bytes([Q_OP_CHAIN_IO, 1]) + struct.pack("<HBH", 0, 0, 4096))
        for _ in ev["chains"]:
            self.op(bytes([Q_OP_PUSH, 0, 0, 0xff, 0xff, 0xff, 0xff]))
        self.op(bytes([Q_OP_INTERRUPT]))
        self.op(bytes([Q_OP_ARM]))


def virtq_seeds(devices, events):
    seeds = {}
    queues = collections.OrderedDict()
    for e in events:
        if e["kind"] == "q" and e["base"] in devices:
            queues.setdefault((e["base"], e["queue"]), []).append(e)
    for (base, queue), evs in queues.items():
        name = devices[base]["name"].replace("virtio-", "")
        part, session = 0, None
        for e in evs:
            if session is None:
                session = VirtqSession(e["size"], e["features"])
            session.notification(e)
            if session.ops > Q_SEED_OPS or len(session.out) > SEED_MAX - 4096:
                seeds[f"linux-{name}-q{queue}-{part}"] = bytes(session.out)
                part, session = part + 1, None
        if session is not None:
            seeds[f"linux-{name}-q{queue}-{part}"] = bytes(session.out)
    return seeds


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: trace-seeds.py TRACE CORPUS_DIR")
    devices, events = parse(sys.argv[1])
    total = 0
    for area, seeds in (("virtio", virtio_seeds(devices, events)), ("blk", blk_seeds(devices, events)),
                        ("virtq", virtq_seeds(devices, events))):
        d = os.path.join(sys.argv[2], area)
        os.makedirs(d, exist_ok=True)
        for name, data in sorted(seeds.items()):
            assert len(data) <= SEED_MAX, (area, name, len(data))
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
            total += len(data)
        print(f"{area}: {len(seeds)} seeds, {sum(map(len, seeds.values()))} bytes")
    print(f"total {total} bytes")


if __name__ == "__main__":
    main()
