#!/usr/bin/env bash
# The gdb stub (--gdb, docs/gdb.md) driven by Debian's gdb in batch mode, in
# ONE machine with KVM (tests/kvm/with-kvm.sh). gdb is Debian's gdb-minimal
# carried in with its libraries (tests/lib/gdb-bundle.sh).
#   hello64 (built with -g here) on TCP with --gdb-wait: stopped at the PVH
#     entry with %ebx = the start_info address and its magic there, x86-64
#     registers zero-extended in 32-bit mode, stepi, a memory and a register
#     write, threads; a watchpoint, a software breakpoint on a C function
#     (then next and a variable) and a hardware breakpoint; continue to the
#     guest's exit status 7 (gdb: "exited with code 07").
#   hello32 (ELF32) on a UNIX socket: the i386 layout; detach lets it finish.
#   Debian's 6.1 cloud kernel on 2 vCPUs with QEMU's -s -S: stopped at its
#     first instruction, stepi, threads = vCPUs; a hardware breakpoint at
#     start_kernel (a 64-bit virtual address, set before paging is on);
#     Ctrl-C (SIGINT to gdb) once /init runs stops both vCPUs, linux_banner is
#     read through the guest's page tables, and continue runs to power-off.
#     Addresses from the -dbg package's System.map (debian-kernel.sh).
#   kill from gdb ends the VM with status 0; a client sending garbage (noise,
#     bad checksums, an oversized packet) cannot crash the VM, which runs to
#     its end once the client leaves.
# In QEMU's TCG emulation a nested guest's breakpoints never reach KVM
# (INT3 is checked against the INTn intercept instead of #BP's, and VMRUN
# loads DR7 without arming DR0-3): there the breakpoint and watchpoint hits
# are checked as accepted and harmless, and tests/unit/test_gdb_target.c
# checks what the stub does with the exits; on a host with KVM, the hits.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/kvm-suite.sh
kdir=$(PVHBOOT_WANT_SYSTEM_MAP=1 tests/lib/debian-kernel.sh) || fail_all "cannot fetch Debian's kernel and its System.map"
bundle=$(tests/lib/gdb-bundle.sh) || fail_all "cannot build the gdb bundle (tests/lib/gdb-bundle.sh)"
sym() { awk -v s="$1" '$3 == s { print "0x" $1; exit }' "$kdir/System.map"; }
start_kernel=$(sym start_kernel) linux_banner=$(sym linux_banner)
[ -n "$start_kernel" ] && [ -n "$linux_banner" ] || fail_all "no start_kernel or linux_banner in $kdir/System.map"
make -s -C guest B="$work/g" GUEST_CC="gcc -g" "$work/g/hello64" "$work/g/hello32" >/dev/null 2>&1 ||
    fail_all "cannot build hello64/hello32 with -g"
cp "$bundle" "$work/gdb.tgz"
# gdb itself reads our target descriptions (no KVM needed): the register
# numbers and g-packet offsets it derives must be our layout's
printf '%s\n' '#include <stdio.h>' '#include "pvhboot/gdb.h"' 'int main(int argc, char **argv)' '{' \
    '    size_t n;' \
    '    const char *x = pvh_gdb_target_xml(argc > 1 && argv[1][0] == 0x36 ? PVH_GDB_ARCH_X86_64 : PVH_GDB_ARCH_I386, &n);' \
    '    fwrite(x, 1, n, stdout);' '    return 0;' '}' >"$work/xml.c"
cc -Iinclude -o "$work/xml" "$work/xml.c" build/static/libpvhboot.a || fail_all "cannot build the description printer"
mkdir -p "$work/host" && tar -C "$work/host" -xzf "$bundle"
for bits in 32 64; do
    "$work/xml" $bits >"$work/tdesc$bits.xml"
    "$work/host/gdb/ld.so" --library-path "$work/host/gdb" "$work/host/gdb/gdb" -nx -batch \
        -ex "set tdesc filename $work/tdesc$bits.xml" -ex "file $work/g/hello$bits" -ex "show architecture" \
        -ex "maint print remote-registers" >"$work/remote$bits.txt" 2>&1
done
mkdir -p "$work/root/bin"
cp /bin/busybox "$work/root/bin/busybox"
printf '#!/bin/busybox sh\n/bin/busybox echo "PVHBOOT-INIT-ECHO: init is running"\n/bin/busybox sleep 5\n/bin/busybox echo "PVHBOOT-INIT-DONE"\n/bin/busybox poweroff -f\n' >"$work/root/init"
chmod +x "$work/root/init"
(cd "$work/root" && find . | cpio -o -H newc --quiet) >"$work/initrd.cpio"
# the garbage client's bytes: the same every run (a fixed seed)
python3 -c 'import random, sys; random.seed(17); sys.stdout.buffer.write(bytes(random.randrange(256) for _ in range(6000)))' >"$work/noise.bin"

head='set pagination off
set confirm off'
cat >"$work/h64-common.gdb" <<EOF
$head
file hello64
target remote 127.0.0.1:1234
show architecture
echo @entry\n
p/x \$pc
p/x \$ebx
x/wx \$ebx
p/x \$rbx
info registers cr0 efer
stepi
stepi
stepi
echo @stepped\n
p/x \$pc
set {int}0x7000 = 0x12345678
x/wx 0x7000
set \$ecx = 0xcafe
p/x \$ecx
info threads
EOF
# TCG: the hits cannot happen; the requests must be accepted and the guest unharmed
cat "$work/h64-common.gdb" - >"$work/h64-tcg.gdb" <<'EOF'
watch *(long*)&pml4
hbreak guest_main
echo @continue\n
continue
EOF
cat "$work/h64-common.gdb" - >"$work/h64-kvm.gdb" <<'EOF'
watch *(long*)&pml4
echo @watch\n
continue
p/x *(long*)&pml4 == (long)&pdpt + 3
delete
break guest_main
echo @break\n
continue
p start_info_paddr
next
next
echo @next\n
info line *$pc
delete
hbreak *((char*)guest_main + 4)
echo @hbreak\n
info registers rip
echo @continue\n
continue
EOF
cat >"$work/h32.gdb" <<EOF
$head
file hello32
target remote hello32.sock
show architecture
echo @regs\n
info registers eip
p/x \$ebx
x/wx \$ebx
p \$rax
detach
EOF
cat >"$work/lx-common.gdb" <<EOF
$head
target remote 127.0.0.1:1234
echo @entry\n
p/x \$pc
info registers cr0
stepi
echo @stepped\n
p/x \$pc
info threads
EOF
cat "$work/lx-common.gdb" - >"$work/lx-tcg.gdb" <<EOF
hbreak *$start_kernel
echo @continue\n
continue
echo @stopped\n
p/x \$pc
info registers efer
x/s $linux_banner
info threads
delete
echo @end\n
continue
EOF
cat "$work/lx-common.gdb" - >"$work/lx-kvm.gdb" <<EOF
hbreak *$start_kernel
echo @startkernel\n
continue
p/x \$pc
x/s $linux_banner
delete
echo @continue\n
continue
echo @stopped\n
p/x \$pc
info registers efer
x/s $linux_banner
info threads
echo @end\n
continue
EOF
printf '%s\nfile hello64\ntarget remote 127.0.0.1:1236\nkill\n' "$head" >"$work/kill.gdb"

cat >"$work/cases.sh" <<'CASES'
ip link set lo up
tar xzf gdb.tgz
kind=kvm; grep -q "QEMU TCG CPU" /proc/cpuinfo && kind=tcg
echo "=== KIND $kind"
# until pvhboot listens on 127.0.0.1:PORT (or the UNIX socket PATH exists), 60 s at most
wait_listen() {
    n=0
    case $1 in
        unix:*) until [ -S "${1#unix:}" ] || [ $n -ge 600 ]; do busybox usleep 100000; n=$((n + 1)); done ;;
        *) hex=$(printf '%04X' "$1")
           until grep -q "0100007F:$hex 00000000:0000 0A" /proc/net/tcp || [ $n -ge 600 ]; do
               busybox usleep 100000; n=$((n + 1))
           done ;;
    esac
}
GDB="./gdb/ld.so --library-path ./gdb ./gdb/gdb -nx -batch" # a command, not a function: $! is gdb
# session NAME SCRIPT SIGINT-MARKER LISTEN -- pvhboot's arguments: pvhboot in the
# background, gdb in the foreground (killed after 200 s); with a marker,
# gdb gets SIGINT (Ctrl-C) once the guest printed it
session() {
    name=$1 script=$2 marker=$3 listen=$4; shift 5
    echo "=== BEGIN $name"
    busybox timeout -s KILL 280 ./pvhboot run "$@" >"$name.serial" 2>&1 &
    pid=$!
    wait_listen "$listen"
    $GDB -x "$script" >"$name.gdbout" 2>&1 &
    gpid=$!
    if [ -n "$marker" ]; then
        n=0
        until grep -q "$marker" "$name.serial" || [ $n -ge 200 ]; do busybox sleep 1; n=$((n + 1)); done
        kill -INT $gpid
    fi
    ( busybox sleep 200; kill -9 $gpid 2>/dev/null ) &
    watchdog=$!
    wait $gpid
    echo "gdb-rc=$?"
    kill $watchdog 2>/dev/null
    wait $pid
    rc=$?
    echo "--- gdb"; cat "$name.gdbout"; echo "--- serial"; cat "$name.serial"
    echo "=== END $name rc=$rc"
}
session hello64 "h64-$kind.gdb" "" 1234 -- hello64 --mem 64 --cmdline "pvh.exit=7" --gdb tcp:1234 --gdb-wait --timeout 250
session hello32 h32.gdb "" unix:hello32.sock -- hello32 --mem 64 -gdb unix:hello32.sock -S --timeout 250
session linux "lx-$kind.gdb" PVHBOOT-INIT-ECHO 1234 -- vmlinux --initrd initrd.cpio --mem 256 --cpus 2 -s -S --timeout 250
session kill kill.gdb "" 1236 -- hello64 --mem 64 --gdb tcp:1236 --gdb-wait --timeout 250
# a client that sends garbage, then leaves: the guest runs to its end
echo "=== BEGIN garbage"
busybox timeout -s KILL 100 ./pvhboot run hello64 --mem 64 --cmdline "pvh.exit=9" --gdb tcp:1237 --gdb-wait --timeout 60 >garbage.serial 2>&1 &
pid=$!
wait_listen 1237
{ printf '+$qSupported#37xx\003$g#00$m0,zz#00}}}$X0,4:}'; cat noise.bin; printf '$'; busybox head -c 9000 /dev/zero | tr '\0' a; printf '#00$?#3f'; busybox sleep 1; } |
    busybox timeout 20 busybox nc 127.0.0.1 1237 >garbage.replies 2>&1
echo "replies=$(busybox wc -c <garbage.replies)"
wait $pid
rc=$?
cat garbage.serial
echo "=== END garbage rc=$rc"
CASES

start=$(date +%s)
tests/kvm/with-kvm.sh --mem 2048 --cpus 1 --file build/static/pvhboot --file "$work/g/hello64" --file "$work/g/hello32" \
    --file "$kdir/vmlinux" --file "$work/initrd.cpio" --file "$work/gdb.tgz" --file "$work/cases.sh" \
    --file "$work/h64-tcg.gdb" --file "$work/h64-kvm.gdb" --file "$work/h32.gdb" --file "$work/lx-tcg.gdb" \
    --file "$work/lx-kvm.gdb" --file "$work/kill.gdb" --file "$work/noise.bin" -- sh cases.sh >"$work/out.txt" 2>"$work/err.txt"
rc=$?
echo "# with-kvm.sh exit $rc after $(( $(date +%s) - start )) s; $(grep -m1 '^# kvm:' "$work/err.txt")"
[ "$rc" -eq 0 ] || sed 's/^/# /' "$work/err.txt" | tail -30
mkdir -p build && cp "$work/out.txt" build/gdb.t.out # the whole session, for a look after a failure
export WORK=$work START_KERNEL=$start_kernel ENTRY64=$(readelf -h "$work/g/hello64" | awk '/Entry/ { print $4 }')
python3 - <<'PY'
import os, re, sys
sys.path.insert(0, "tests/lib")
from tap import check, finish, sections as split_sections
work = os.environ["WORK"]
out = open(f"{work}/out.txt", errors="replace").read()
sections = split_sections(out)
kind = (re.search(r"=== KIND (\w+)", out) or [None, "?"])[1]
tcg = kind == "tcg"
if tcg:
    print("# QEMU TCG: breakpoint and watchpoint hits cannot reach KVM in a nested guest; checked as accepted "
          "(tests/unit/test_gdb_target.c checks the stub's handling of the exits)")

def part(text, name):
    """gdb's output between '@name' and the next '@' marker"""
    m = re.search(r"^@" + name + r"\n(.*?)(?=^@|\Z)", text, re.S | re.M)
    return m.group(1) if m else ""

def split(name):
    text, rc = sections.get(name, ("", -1))
    g = re.search(r"--- gdb\n(.*)--- serial\n(.*)", text, re.S)
    grc = re.search(r"gdb-rc=(\d+)", text)
    return (g.group(1) if g else ""), (g.group(2) if g else ""), rc, int(grc.group(1)) if grc else -1

# ---- gdb's own reading of the descriptions (host) ----
for bits, arch, count, size in ((32, "i386", 49, 344), (64, "i386:x86-64", 65, 600)):
    text = open(f"{work}/remote{bits}.txt", errors="replace").read()
    rows = [l.split() for l in text.splitlines()]
    regs = sorted((int(r[6]), int(r[7]), int(r[4]), r[0]) for r in rows
                  if len(r) == 8 and r[0] != "''" and r[6].isdigit())
    offsets_ok = all(off == sum(s for _, _, s, _ in regs[:i]) for i, (_, off, _, _) in enumerate(regs))
    check(f'currently "{arch}"' in text and "internal-error" not in text and len(regs) == count and offsets_ok and
          sum(s for _, _, s, _ in regs) == size,
          f"gdb takes the {arch} description: {len(regs)} registers in our order, g packet of {size} bytes")

for name in ("hello64", "hello32", "linux", "kill", "garbage"):
    check(name in sections, f"{name}: ran and ended (markers seen)")

# ---- hello64 ----
g, serial, rc, grc = split("hello64")
entry = int(os.environ["ENTRY64"], 16)
e = part(g, "entry")
check(re.search(r'currently "?i386:x86-64"?\)', g), "hello64: a 64-bit ELF gets the i386:x86-64 description")
check(f"$1 = {entry:#x}" in e, f"hello64: --gdb-wait stops at the PVH entry {entry:#x} before its first instruction")
check("$2 = 0x1000" in e and re.search(r"0x1000:\s+0x336ec578", e),
      "hello64: %ebx is the start_info address and holds the magic 0x336ec578")
check("$3 = 0x1000" in e, "hello64: %rbx reads zero-extended in 32-bit mode")
check(re.search(r"cr0\s+0x11\b", e) and re.search(r"efer\s+0x0\b", e), "hello64: cr0 = PE|ET, efer = 0 at the entry")
s = part(g, "stepped")
m = re.search(r"\$4 = (0x[0-9a-f]+)", s)
check(m and int(m.group(1), 16) != entry, f"hello64: stepi moves the pc ({m.group(1) if m else '?'})")
check(re.search(r"0x7000:\s+0x12345678", s), "hello64: a memory write through gdb reads back")
check("$5 = 0xcafe" in s, "hello64: a register write reads back")
check(re.search(r"\* 1\s+Thread 1 \(vCPU 0\)", s), "hello64: threads are vCPUs ('Thread 1 (vCPU 0)')")
check(rc == 7 and "exited with code 07" in g, f"hello64: continue runs to the guest's exit, status 7 (rc {rc})")
check("exit=7" in serial and "memmap_entries=" in serial, "hello64: the guest printed everything (no byte of ours left in it)")
if tcg:
    check("Hardware watchpoint 1: *(long*)&pml4" in g and "Hardware assisted breakpoint 2" in g and
          "Could not insert" not in g and "Cannot insert" not in g,
          "hello64: watchpoint and hardware breakpoint accepted by the stub and KVM (the hits: KVM hosts only)")
else:
    w = part(g, "watch")
    check("Old value = 0" in w and "New value =" in w and "$6 = 1" in w,
          "hello64: the write watchpoint on pml4 stops after the write of pdpt + 3")
    b = part(g, "break")
    check("Breakpoint 2, guest_main (start_info_paddr=4096)" in b and "= 4096" in b,
          "hello64: a software breakpoint on guest_main stops with its argument 4096")
    n = part(g, "next")
    check(re.search(r"Line \d+ of \"src/hello.c\"", n), "hello64: next steps through C lines")
    h = part(g, "hbreak")
    check("Hardware assisted breakpoint" in h, "hello64: a hardware breakpoint is accepted")

# ---- hello32 ----
g, serial, rc, grc = split("hello32")
r = part(g, "regs")
check(re.search(r'currently "?i386"?\)', g), "hello32: a 32-bit ELF gets the i386 description (over a UNIX socket, -gdb, -S)")
check(re.search(r"eip\s+0x[0-9a-f]+", r) and re.search(r"0x1000:\s+0x336ec578", r) and "= void" in r,
      "hello32: eip, %ebx -> the start_info magic; no 64-bit registers")
check(rc == 0 and re.search(r"Detaching from|\) detached\]", g) and "exit=0" in serial, f"hello32: detach lets the guest run to its end (rc {rc})")

# ---- linux ----
g, serial, rc, grc = split("linux")
sk = int(os.environ["START_KERNEL"], 16)
e = part(g, "entry")
check("$1 = 0x1000850" in e and re.search(r"cr0\s+0x11\b", e), "linux: -s -S stops at the PVH entry 0x1000850, paging off")
s = part(g, "stepped")
check("$2 = 0x1000851" in s or re.search(r"\$2 = 0x10008[5-9a-f][0-9a-f]", s), "linux: stepi in 32-bit code")
check(re.search(r"Thread 1 \(vCPU 0\)", s) and re.search(r"Thread 2 \(vCPU 1\)", s), "linux: 2 vCPUs are 2 threads")
if tcg:
    check("Hardware assisted breakpoint 1 at " + hex(sk) in g and "Cannot insert" not in g,
          f"linux: hbreak at start_kernel {sk:#x} (64-bit, before paging) accepted (the hit: KVM hosts only)")
else:
    k = part(g, "startkernel")
    check(f"= {sk:#x}" in k and "Linux version 6.1" in k,
          f"linux: the hardware breakpoint stops at start_kernel {sk:#x}; linux_banner reads")
st = part(g, "stopped")
check("received signal SIGINT" in part(g, "continue") + st or "received signal SIGINT" in g,
      "linux: Ctrl-C (SIGINT to gdb) after /init started stops the VM")
check(re.search(r"efer\s+0x[0-9a-f]*d01\b", st), "linux: stopped in long mode (EFER LMA|LME|SCE)")
check(re.search(r'0xffffffff[0-9a-f]+:\s+"Linux version 6\.1\.0', st),
      "linux: linux_banner read by its virtual address through the guest's page tables")
check(re.search(r"Thread 1 \(vCPU 0, long mode\)", st) and re.search(r"Thread 2 \(vCPU 1, long mode\)", st),
      "linux: both vCPUs stopped, in long mode")
check(rc == 0 and "exited normally" in part(g, "end") and "PVHBOOT-INIT-DONE" in serial and "reboot: Power down" in serial,
      f"linux: continue after Ctrl-C runs init to its power-off (rc {rc})")

# ---- kill, garbage ----
g, serial, rc, grc = split("kill")
check(rc == 0 and "pvh hello64" not in serial and grc == 0 and "killed]" in g,
      f"kill: gdb's kill ends the VM before it ran, status 0 (rc {rc}, gdb {grc})")
text, rc = sections.get("garbage", ("", -1))
replies = re.search(r"replies=(\d+)", text)
check(replies and int(replies.group(1)) > 0 and rc == 9 and "exit=9" in text,
      f"garbage: noise, bad checksums and an oversized packet are answered; the guest then runs to its end (rc {rc})")
finish()
PY
