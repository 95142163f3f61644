#!/usr/bin/env bash
# Feeds tests/conformance/checker.py deliberately wrong probe reports, each
# derived from a real report captured under QEMU -M pc (fixture) by changing
# one item, and asserts the item is flagged at its level with the right exit
# status: the checker can fail.
set -u
cd "$(dirname "$0")/../.."
CHK=tests/conformance/checker.py
GOOD=tests/conformance/fixtures/qemu-pc-probe.log
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
n=0
ok() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }

# mutate KEY=VALUE...: the good report with each KEY's line replaced (or added)
mutate() {
    cp "$GOOD" "$work/r.log"
    local kv key
    for kv in "$@"; do
        key=${kv%%=*}
        if grep -q "^$key=" "$work/r.log"; then
            sed -i "s|^$key=.*|$kv|" "$work/r.log"
        else
            sed -i "s|^end=1|$kv\nend=1|" "$work/r.log"
        fi
    done
}

# expect STATUS "ITEM" LEVEL RESULT "what" [checker options...]: run on r.log
expect() {
    local want=$1 item=$2 level=$3 result=$4 what=$5
    shift 5
    python3 "$CHK" "$work/r.log" "$@" >"$work/out" 2>&1
    local rc=$?
    local row
    row=$(grep -F "| $item " "$work/out" | head -1)
    local good=1
    [ "$rc" = "$want" ] && echo "$row" | grep -qE "\| $level +\| $result +\|$" && good=0
    [ $good = 0 ] || { echo "# status $rc (want $want); row: $row"; }
    ok $good "$what: '$item' $level $result, status $want"
}

echo "1..39"
mutate
expect 0 "CR0.PG" MUST pass "good QEMU report"
ok $(grep -q '| fail ' "$work/out"; [ $? = 1 ] && echo 0 || echo 1) "good QEMU report: no failing row"
mutate cr0=0x80000011;  expect 1 "CR0.PG" MUST fail "PG=1"
mutate cr0=0x40000011;  expect 1 "CR0.CD" MUST fail "CD=1 (KVM reset value)"
mutate cr0=0x60000011;  expect 1 "CR0.NW" MUST fail "NW=1"
mutate cr0=0x10;        expect 1 "CR0.PE" MUST fail "PE=0"
mutate cr0=0x10011;     expect 1 "CR0.WP" MUST fail "WP=1"
mutate cr4=0x20;        expect 1 "CR4" MUST fail "CR4.PAE=1"
mutate eflags=0x206;    expect 1 "EFLAGS.IF" MUST fail "IF=1"
mutate eflags=0x102;    expect 1 "EFLAGS.TF" MUST fail "TF=1"
mutate eflags=0x20002;  expect 1 "EFLAGS.VM" MUST fail "VM=1"
mutate eflags=0x46;     expect 0 "EFLAGS (all bits)" obs obs "ZF=1 is only an observation"
mutate ebx=0x21e8;      expect 1 "ebx = start_info address" MUST fail "%ebx off by 8 (only ebx changed)"
mutate ebx=0x21e8 si.addr=0x21e8 si.magic=0x0
expect 1 "ebx = start_info address" MUST fail "%ebx off by 8 (probe reads flags as magic)"
mutate si.magic=0x12345678; expect 1 "start_info.magic" MUST fail "bad magic"
mutate cs.limit=0xfffff; expect 1 "CS" MUST fail "CS limit 0xfffff"
mutate cs.db=0;          expect 1 "CS" MUST fail "CS 16-bit"
mutate cs.type=0x8;      expect 1 "CS" MUST fail "CS execute-only"
mutate cs.base=0x1000;   expect 1 "CS" MUST fail "CS base 0x1000"
mutate ds.type=0x1;      expect 1 "DS" MUST fail "DS read-only"
mutate es.type=0xb;      expect 1 "ES" MUST fail "ES is a code segment"
mutate tr.sel=0x18 tr.lar_ok=1 tr.type=0x9 tr.s=0 tr.p=1 tr.l=0 tr.db=0 tr.g=0 tr.limit=0x67 tr.base=0x0
expect 1 "TR" MUST fail "TR type 0x9 (available, not busy)"
mutate tr.sel=0x18 tr.lar_ok=1 tr.type=0xb tr.s=0 tr.p=1 tr.l=0 tr.db=0 tr.g=0 tr.limit=0x67 tr.base=0x0
expect 0 "TR" MUST pass "TR busy 32-bit TSS, limit 0x67"
mutate
expect 0 "TR" MUST n/a "TR selector 0"
mutate mem.3.size=0x0;   expect 0 "memmap entries non-empty" SHOULD fail "zero-length memmap entry"
expect 1 "memmap entries non-empty" SHOULD fail "zero-length memmap entry with --strict" --strict
mutate mem.1.addr=0x9f000; expect 0 "memmap non-overlapping" SHOULD fail "overlapping memmap entries"
mutate mem.2.addr=0x50000; expect 0 "memmap sorted by address" SHOULD fail "unsorted memmap"
mutate mem.1.type=9;     expect 0 "memmap types known" SHOULD fail "unknown memmap type"
mutate mod.0.paddr=0xfffc0000; expect 0 "modules inside usable RAM" SHOULD fail "module in reserved range"
mutate si.cmdline_paddr=0x100000000; expect 0 "structures below 4 GiB" SHOULD fail "cmdline above 4 GiB"
mutate rsdp.checksum_ok=0; expect 0 "RSDP signature+checksum" SHOULD fail "bad RSDP checksum"
mutate ss.type=0xb;      expect 1 "SS" MUST fail "SS code segment fails the pvhboot profile" --profile pvhboot
mutate eflags=0x2 eax=0x0 ecx=0x0 edx=0x0 esi=0x0 edi=0x0 ebp=0x0 esp=0x0
expect 0 "EFLAGS (all bits)" MUST pass "pvhboot profile passes on pvhboot's entry state" --profile pvhboot
mutate
expect 1 "cmdline" MUST fail "wrong --expect-cmdline" --expect-cmdline "a b=d"
expect 1 "module 0" MUST fail "wrong --expect-module size" --expect-module 7
expect 1 "usable RAM" MUST fail "wrong --ram-mb" --ram-mb 512
sed -i '/^end=1/d' "$work/r.log"
python3 "$CHK" "$work/r.log" >/dev/null 2>&1
rc=$?
ok $([ $rc = 2 ] && echo 0 || echo 1) "truncated report: status 2 (got $rc)"
# Corrupted values (garbage, empty, negative, huge) in random lines: the
# checker must answer 0, 1 or 2 and never raise.
python3 - "$CHK" "$GOOD" "$work" <<'PY'
import contextlib, io, os, random, sys
chk, good, work = sys.argv[1:]
sys.path.insert(0, os.path.dirname(chk))
import checker
lines = open(good).read().splitlines()
rng = random.Random(7)
bad = 0
for _ in range(200):
    rep = list(lines)
    for _ in range(rng.randint(1, 8)):
        i = rng.randrange(len(rep))
        key = rep[i].split("=", 1)[0]
        if "=" in rep[i] and key not in ("probe", "end"):
            rep[i] = key + "=" + rng.choice(["zz", "", "0x", "-1", "-0x10", "0x" + "f" * 20, "9" * 25])
    open(work + "/fz.log", "w").write("\n".join(rep) + "\n")
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            rc = checker.main([work + "/fz.log", "--ram-mb", "256", "--expect-module", "6:x"])
    except Exception:
        rc = -1
    bad += rc not in (0, 1, 2)
sys.exit(1 if bad else 0)
PY
ok $? "200 randomly corrupted reports: no crash, status 0/1/2"
