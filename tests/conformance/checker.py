#!/usr/bin/env python3
"""Grade a PVH probe report (guest/build/probe serial output) against the
x86/HVM direct boot ABI (Xen docs/misc/pvh): MUST items as the spec states
them, observations for what it leaves open, SHOULD for start_info sanity,
and an optional stricter "pvhboot" profile. Exit 1 on a MUST failure (and on
a SHOULD failure with --strict), 2 when the report is unreadable."""
import argparse
import sys

MAGIC = 0x336EC578
FOUR_G = 1 << 32
KNOWN_TYPES = {1, 2, 3, 4, 5, 7}
# CR0 bits software can write: MP EM TS NE WP AM NW CD PG (ET is fixed to 1).
CR0_WRITABLE_OTHER = {1: "MP", 2: "EM", 3: "TS", 5: "NE", 16: "WP", 18: "AM",
                      29: "NW", 30: "CD", 31: "PG"}
UNOBS = "unobservable from the guest"


def parse(lines):
    kv = {}
    for line in lines:
        line = line.rstrip("\r\n")
        if "=" in line and " " not in line.split("=", 1)[0]:
            key, val = line.split("=", 1)
            kv[key] = val
    return kv


def num(kv, key):
    val = kv.get(key)
    if val is None:
        return None
    try:
        return int(val, 0)
    except ValueError:
        return None


class Grader:
    def __init__(self):
        self.rows = []

    def add(self, item, expected, observed, level, ok):
        """ok: True/False, or None for an observation / unobservable item."""
        if ok is None:
            result = "n/a" if str(observed).startswith(UNOBS) else "obs"
        else:
            result = "pass" if ok else "fail"
        self.rows.append((item, expected, str(observed), level, result))

    def failed(self, level):
        return [r for r in self.rows if r[3] == level and r[4] == "fail"]

    def table(self):
        head = ("item", "expected", "observed", "level", "result")
        rows = [head] + self.rows
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        out = []
        for n, r in enumerate(rows):
            out.append("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |")
            if n == 0:
                out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
        return "\n".join(out)


def segment(kv, seg):
    """Descriptor fields via LAR/LSL/GDT, or None when the guest cannot see them."""
    if num(kv, seg + ".lar_ok") != 1:
        return None
    fields = {f: num(kv, seg + "." + f) for f in
              ("sel", "type", "s", "dpl", "p", "l", "db", "g", "limit", "base")}
    return fields


def hexo(val):
    return "?" if val is None else hex(val)


def describe(d):
    if d is None:
        return UNOBS
    return "sel=%s type=%s s=%s db=%s base=%s limit=%s" % (
        hexo(d["sel"]), hexo(d["type"]), d["s"], d["db"], hexo(d["base"]), hexo(d["limit"]))


def flat(d, code, writable):
    if d is None:
        return None
    if d["type"] is None:
        return False
    if d["s"] != 1 or d["p"] != 1 or d["db"] != 1 or d["l"] != 0:
        return False
    if code and (d["type"] & 0xA) != 0xA:          # code, readable
        return False
    if not code and (d["type"] & 0xA) != (0x2 if writable else 0x0):  # data, writable
        return False
    return d["base"] == 0 and d["limit"] == 0xFFFFFFFF


def grade_cpu(g, kv, profile):
    si_addr, ebx, magic = num(kv, "si.addr"), num(kv, "ebx"), num(kv, "si.magic")
    g.add("ebx = start_info address", "magic %#x at [ebx]" % MAGIC,
          "ebx=%s magic=%s" % (kv.get("ebx"), kv.get("si.magic")), "MUST",
          ebx is not None and ebx == si_addr and magic == MAGIC)
    g.add("start_info.magic", hex(MAGIC), kv.get("si.magic"), "MUST", magic == MAGIC)
    cr0 = num(kv, "cr0")
    g.add("CR0.PE", "1", None if cr0 is None else cr0 & 1, "MUST", cr0 is not None and cr0 & 1 == 1)
    for bit, name in sorted(CR0_WRITABLE_OTHER.items()):
        val = None if cr0 is None else (cr0 >> bit) & 1
        g.add("CR0.%s" % name, "0", val, "MUST", val == 0)
    cr4 = num(kv, "cr4")
    g.add("CR4", "0x0", kv.get("cr4"), "MUST", cr4 == 0)
    cs = segment(kv, "cs")
    g.add("CS", "32-bit r/x code, base 0, limit 0xffffffff", describe(cs), "MUST", flat(cs, True, False))
    for seg in ("ds", "es"):
        d = segment(kv, seg)
        g.add(seg.upper(), "32-bit r/w data, base 0, limit 0xffffffff", describe(d), "MUST",
              flat(d, False, True))
    grade_tr(g, kv)
    fl = num(kv, "eflags")
    for bit, name in ((17, "VM"), (9, "IF"), (8, "TF")):
        val = None if fl is None else (fl >> bit) & 1
        g.add("EFLAGS.%s" % name, "0", val, "MUST", val == 0)
    grade_observations(g, kv, profile, fl)


def grade_tr(g, kv):
    sel = num(kv, "tr.sel")
    tr = segment(kv, "tr")
    if tr is None:
        g.add("TR", "32-bit busy TSS, base 0, limit 0x67",
              UNOBS + " (selector %s)" % kv.get("tr.sel"), "MUST", None)
        return
    ok = tr["s"] == 0 and tr["type"] == 0xB and tr["base"] == 0 and tr["limit"] == 0x67
    g.add("TR", "32-bit busy TSS (type 0xb), base 0, limit 0x67",
          "sel=%s type=%s base=%s limit=%s" % (hexo(sel), hexo(tr["type"]), hexo(tr["base"]),
                                               hexo(tr["limit"])), "MUST", ok)


def grade_observations(g, kv, profile, fl):
    strict = profile == "pvhboot"
    lvl = "MUST" if strict else "obs"
    g.add("EFLAGS (all bits)", "0x2 (pvhboot)" if strict else "unspecified", kv.get("eflags"), lvl,
          (fl == 0x2) if strict else None)
    ss = segment(kv, "ss")
    g.add("SS", "flat 32-bit r/w data (pvhboot)" if strict else "unspecified", describe(ss), lvl,
          (flat(ss, False, True) is True) if strict else None)
    for seg in ("fs", "gs"):
        g.add(seg.upper(), "unspecified", describe(segment(kv, seg)), "obs", None)
    for reg in ("eax", "ecx", "edx", "esi", "edi", "ebp", "esp"):
        val = num(kv, reg)
        g.add(reg, "0 (pvhboot)" if strict else "unspecified", kv.get(reg), lvl,
              (val == 0) if strict else None)
    for key in ("efer", "gdtr.base", "gdtr.limit", "idtr.base", "idtr.limit", "ldtr.sel"):
        g.add(key, "unspecified", kv.get(key), "obs", None)
    a20 = num(kv, "a20")
    g.add("A20", "unspecified", {1: "enabled", 0: "masked"}.get(a20, kv.get("a20")), "obs", None)


MAX_LIST = 1024  # the probe prints at most 128 memmap entries and 64 modules


def count(kv, key):
    n = num(kv, key) or 0
    return max(0, min(n, MAX_LIST))


def memmap(kv):
    n = count(kv, "mem.count")
    return [(num(kv, "mem.%d.addr" % i), num(kv, "mem.%d.size" % i), num(kv, "mem.%d.type" % i))
            for i in range(n)]


def modules(kv):
    n = count(kv, "mod.count")
    return [(num(kv, "mod.%d.paddr" % i), num(kv, "mod.%d.size" % i),
             kv.get("mod.%d.cmdline" % i), num(kv, "mod.%d.cmdline_paddr" % i)) for i in range(n)]


def below_4g(addr, size):
    return addr is not None and size is not None and addr + size <= FOUR_G


def grade_start_info(g, kv):
    if num(kv, "si.magic") != MAGIC:
        g.add("start_info contents", "readable", UNOBS + " (bad magic)", "SHOULD", None)
        return
    ver = num(kv, "si.version")
    g.add("start_info.version", "1", ver, "SHOULD", ver == 1)
    mm, mods = memmap(kv), modules(kv)
    zero = [k for k in ("si.addr",) if num(kv, k) == 0]
    zero += ["module %d" % i for i, m in enumerate(mods) if m[0] == 0]
    if mods and num(kv, "si.modlist_paddr") == 0:
        zero.append("modlist")
    if mm and num(kv, "si.memmap_paddr") == 0:
        zero.append("memmap")
    g.add("nothing placed at address 0", "none", ", ".join(zero) or "none", "SHOULD", not zero)
    high = []
    for key, size in (("si.addr", 56), ("si.cmdline_paddr", 1), ("si.rsdp_paddr", 20),
                      ("si.modlist_paddr", 32 * len(mods)), ("si.memmap_paddr", 24 * len(mm))):
        val = num(kv, key)
        if val and not below_4g(val, size):
            high.append(key)
    high += ["module %d" % i for i, m in enumerate(mods) if not below_4g(m[0], m[1])]
    g.add("structures below 4 GiB", "all", ", ".join(high) or "all", "SHOULD", not high)
    grade_memmap(g, kv, mm)
    usable = [(a, a + s) for a, s, t in mm if t == 1 and a is not None and s]
    outside = ["module %d" % i for i, m in enumerate(mods)
               if m[0] is None or m[1] is None
               or not any(lo <= m[0] and m[0] + m[1] <= hi for lo, hi in usable)]
    g.add("modules inside usable RAM", "all", ", ".join(outside) or ("all" if mods else "no modules"),
          "SHOULD", not outside)
    grade_rsdp(g, kv)


def grade_memmap(g, kv, mm):
    given = num(kv, "si.memmap_entries") or 0
    g.add("memmap present (v1)", "entries > 0", given, "SHOULD", given > 0)
    broken = [str(i) for i, e in enumerate(mm) if None in e]
    g.add("memmap entries readable", "addr, size, type", "bad: " + ",".join(broken) if broken else "all",
          "SHOULD", not broken)
    mm = [e for e in mm if None not in e]
    empty = [str(i) for i, (a, s, t) in enumerate(mm) if not s]
    g.add("memmap entries non-empty", "size > 0", "empty: " + ",".join(empty) if empty else "all",
          "SHOULD", not empty)
    unknown = ["%d:type %s" % (i, t) for i, (a, s, t) in enumerate(mm) if t not in KNOWN_TYPES]
    g.add("memmap types known", "1-5,7", ", ".join(unknown) or "all", "SHOULD", not unknown)
    real = [(a, s) for a, s, t in mm if s]
    sorted_ok = all(real[i][0] < real[i + 1][0] for i in range(len(real) - 1))
    g.add("memmap sorted by address", "ascending", "yes" if sorted_ok else "no", "SHOULD", sorted_ok)
    spans = sorted(real)
    overlap = [hex(spans[i + 1][0]) for i in range(len(spans) - 1)
               if spans[i][0] + spans[i][1] > spans[i + 1][0]]
    g.add("memmap non-overlapping", "no overlap", ", ".join(overlap) or "none", "SHOULD", not overlap)


def grade_rsdp(g, kv):
    rsdp = num(kv, "si.rsdp_paddr")
    g.add("rsdp_paddr", "unspecified (0 = absent)", kv.get("si.rsdp_paddr"), "obs", None)
    g.add("RSDP by BIOS-area scan", "unspecified", kv.get("rsdp_scan"), "obs", None)
    if not rsdp:
        return
    ok = num(kv, "rsdp.sig_ok") == 1 and num(kv, "rsdp.checksum_ok") == 1
    rev = num(kv, "rsdp.revision")
    if rev is not None and rev >= 2:
        ok = ok and num(kv, "rsdp.xchecksum_ok") == 1
    g.add("RSDP signature+checksum", "valid", "rev=%s sig_ok=%s sum_ok=%s" % (
        rev, kv.get("rsdp.sig_ok"), kv.get("rsdp.checksum_ok")), "SHOULD", ok)


def grade_expectations(g, kv, args):
    if args.expect_cmdline is not None:
        g.add("cmdline", repr(args.expect_cmdline), repr(kv.get("si.cmdline")), "MUST",
              kv.get("si.cmdline") == args.expect_cmdline)
    mods = modules(kv)
    if args.expect_module:
        g.add("module count", str(len(args.expect_module)), len(mods), "MUST",
              len(mods) == len(args.expect_module))
    for i, spec in enumerate(args.expect_module):
        size, _, cmd = spec.partition(":")
        got = mods[i] if i < len(mods) else None
        try:
            want_size = int(size, 0)
        except ValueError:
            want_size = -1
        ok = got is not None and got[1] == want_size and (not cmd or got[2] == cmd)
        g.add("module %d" % i, spec, "missing" if got is None else "%s:%s" % (got[1], got[2]),
              "MUST", ok)
    if args.ram_mb is not None:
        usable = sum(s for a, s, t in memmap(kv) if t == 1 and s and s > 0)
        total = args.ram_mb << 20
        # legacy 640K-1M hole and firmware-reserved pages: allow up to 1 MiB less
        g.add("usable RAM", "%d MiB - [0, 1 MiB]" % args.ram_mb, usable, "MUST",
              total - (1 << 20) <= usable <= total)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("report", help="probe serial log ('-' for stdin)")
    ap.add_argument("--profile", choices=("spec", "pvhboot"), default="spec")
    ap.add_argument("--expect-cmdline")
    ap.add_argument("--expect-module", action="append", default=[], metavar="SIZE[:CMDLINE]")
    ap.add_argument("--ram-mb", type=int)
    ap.add_argument("--strict", action="store_true", help="SHOULD failures also fail")
    args = ap.parse_args(argv)
    src = sys.stdin if args.report == "-" else open(args.report, encoding="latin-1")
    with src:
        kv = parse(src)
    if kv.get("probe") != "1" or kv.get("end") != "1":
        print("checker: %s: not a complete probe report (missing probe=1 or end=1 line); "
              "check that the guest booted and the serial log was captured" % args.report)
        return 2
    g = Grader()
    grade_cpu(g, kv, args.profile)
    grade_start_info(g, kv)
    grade_expectations(g, kv, args)
    print(g.table())
    must, should = g.failed("MUST"), g.failed("SHOULD")
    print("# profile=%s MUST failures: %d, SHOULD failures: %d" % (args.profile, len(must), len(should)))
    if must or (args.strict and should):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
