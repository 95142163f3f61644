#!/usr/bin/env bash
# `pvhboot run --dry-run`, no KVM needed (ASan+UBSan build): the guest is set
# up as for a boot (RAM mapped, kernel and modules loaded, boot data written)
# and the layout printed. Checked against readelf, not against pvhboot:
#  - the load address and entry are the ELF's first PT_LOAD paddr and its
#    PVH note (readelf -n) for hello64 and Debian's vmlinux;
#  - mapped + copied bytes = the PT_LOADs' file sizes + the module sizes;
#  - --load map maps all but the partial pages of Debian's page-aligned
#    vmlinux (at most 2 pages per segment/module copied), --load copy maps 0;
#  - --kaslr --seed N on the 6.12 kernel (PHYS32_RELOC) moves load address and
#    entry by the same multiple of the note's alignment, inside its range, and
#    the same seed gives the same address;
#  - a Multiboot 1 a.out-kludge kernel loads and enters where its header says.
set -u
cd "$(dirname "$0")/../.."
bin=build/san/pvhboot
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail_all() { echo "1..1"; echo "not ok 1 - $*"; exit 1; }
make -s -C guest >/dev/null 2>&1 || fail_all "cannot build the guest SDK"
kdir=$(tests/lib/debian-kernel.sh) || fail_all "cannot fetch the Debian kernel"
k612=$(tests/lib/debian-kernel.sh cloud-amd64 bookworm-backports) || fail_all "cannot fetch the 6.12 kernel"
head -c 70001 /dev/urandom >"$tmp/mod"
n=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
notok() { n=$((n + 1)); echo "not ok $n - $*"; }
check() { if eval "$1"; then ok "$2"; else notok "$2"; sed 's/^/# /' "$tmp/out" | head -8; fi; }

# From readelf: first PT_LOAD paddr, sum of PT_LOAD file sizes, PVH entry.
elf_first_paddr() { readelf -lW "$1" | awk '$1=="LOAD"{print $4; exit}'; }
elf_filesz_sum() {
    local s=0 f
    for f in $(readelf -lW "$1" | awk '$1=="LOAD"{print $5}'); do s=$((s + f)); done
    echo $s
}
# the description bytes of Xen note TYPE (hex, e.g. 0x00000012), space-separated
xen_note_bytes() { readelf -n "$1" | awk -v t="$2" '/Xen/ && $0 ~ t {getline; sub(/.*description data: /,""); print; exit}'; }
# little-endian u32 number W (0-based) of a byte list
le32() { local -a b=($1); printf '%d' "0x${b[$2*4+3]}${b[$2*4+2]}${b[$2*4+1]}${b[$2*4]}"; }
elf_pvh_entry() { printf '%#x\n' "$(le32 "$(xen_note_bytes "$1" 0x00000012)" 0)"; }
field() { sed -n "s/.*$1 \(0x[0-9a-f]*\).*/\1/p" "$tmp/out" | head -1; }
bytes() { sed -n 's/kernel and modules: \([0-9]*\) bytes mapped from their files, \([0-9]*\) bytes copied/\1 \2/p' "$tmp/out"; }

echo "1..14"
for k in guest/build/hello64 "$kdir/vmlinux"; do
    name=$(basename "$k")
    $bin run "$k" --initrd "$tmp/mod" --dry-run >"$tmp/out" 2>&1
    rc=$?
    load=$(field "loaded at"); entry=$(field "entry")
    want_load=$(printf '%#x' "$(elf_first_paddr "$k")"); want_entry=$(elf_pvh_entry "$k")
    check "[ $rc -eq 0 ] && [ '$load' = '$want_load' ] && [ '$entry' = '$want_entry' ]" \
        "$name: dry run exit $rc, loaded at $load (readelf $want_load), entry $entry (readelf $want_entry)"
    read -r mapped copied <<<"$(bytes)"
    want=$(( $(elf_filesz_sum "$k") + 70001 ))
    check "[ $((mapped + copied)) -eq $want ]" "$name: $mapped mapped + $copied copied = $want (PT_LOAD file sizes + module)"
done
segs=$(readelf -lW "$kdir/vmlinux" | grep -c ' LOAD ')
check "[ $copied -le $(( (segs + 1) * 2 * 4096 )) ] && [ $mapped -gt 0 ]" \
    "vmlinux --load map: $copied bytes copied, at most 2 partial pages for each of $segs segments + the module"
$bin run "$kdir/vmlinux" --initrd "$tmp/mod" --dry-run --load copy >"$tmp/out" 2>&1
read -r mapped copied <<<"$(bytes)"
check "[ $mapped -eq 0 ] && [ $copied -eq $want ]" "vmlinux --load copy: $mapped mapped, $copied copied"
$bin run "$kdir/vmlinuz" --dry-run >"$tmp/out" 2>&1
rc=$?
check "[ $rc -eq 0 ] && [ '$(field "loaded at")' = '$(printf '%#x' "$(elf_first_paddr "$kdir/vmlinux")")' ]" \
    "vmlinuz (bzImage) dry run loads the extracted payload where the vmlinux's first PT_LOAD goes"

# --kaslr on 6.12: PHYS32_RELOC from readelf (align, min, max: three LE u32)
reloc=$(xen_note_bytes "$k612/vmlinux" 0x00000013)
align=$(le32 "$reloc" 0); min=$(le32 "$reloc" 1); max=$(le32 "$reloc" 2)
base=$(( $(elf_first_paddr "$k612/vmlinux") ))
base_entry=$(( $(elf_pvh_entry "$k612/vmlinux") ))
check "[ $align -gt 0 ] && [ $max -gt $min ]" "6.12 PHYS32_RELOC from readelf: align $align min $min max $max"
for seed in 4 9; do
    $bin run "$k612/vmlinux" --dry-run --mem 1G --kaslr --seed $seed >"$tmp/out" 2>&1
    load=$(( $(field "loaded at") )); entry=$(( $(field "entry") ))
    check "[ $load -ne $base ] && [ $((load % align)) -eq 0 ] && [ $load -ge $min ] && [ $load -le $max ] && [ $((entry - load)) -eq $((base_entry - base)) ]" \
        "--kaslr --seed $seed: loaded at $(printf %#x $load), aligned, in [min, max], entry moved with it"
    eval "load_$seed=$load"
done
$bin run "$k612/vmlinux" --dry-run --mem 1G --kaslr --seed 4 >"$tmp/out" 2>&1
check "[ $(( $(field "loaded at") )) -eq $load_4 ]" "--kaslr --seed 4 again: same address"
check "[ $load_4 -ne $load_9 ]" "seeds 4 and 9 give different addresses"
# Multiboot 1, a.out kludge: entry and load address are the header's entry_addr
# and load_addr (u32 at offsets 28 and 16 of the header, which sits at offset 0)
mb=guest/build/mb1hello.bin
$bin run "$mb" --dry-run >"$tmp/out" 2>&1
rc=$?
want_entry=$(printf '%#x' "$(od -An -tu4 -j28 -N4 "$mb" | tr -d ' ')")
want_load=$(printf '%#x' "$(od -An -tu4 -j16 -N4 "$mb" | tr -d ' ')")
check "[ $rc -eq 0 ] && [ '$(field "loaded at")' = '$want_load' ] && [ '$(field "entry")' = '$want_entry' ]" \
    "mb1hello.bin (Multiboot a.out kludge): loaded at $want_load, entry $want_entry, as its header says"
$bin run "$kdir/vmlinux" --dry-run --verbose >"$tmp/out" 2>&1
check "grep -q 'pvhboot: loaded .* ms from process start: kernel and modules [0-9]* bytes mapped' '$tmp/out' && ! grep -q Sanitizer '$tmp/out'" \
    "--dry-run --verbose prints the load figures, no sanitizer report"
