#!/usr/bin/env bash
# ACPI tables checked by a real tool: for 1, 2 and 64 vCPUs with 0, 1 and 8
# virtio-mmio devices, build the tables (tests/acpi/acpi-dump.c against
# build/san/libpvhboot.a), disassemble each with `iasl -d` and assert: no
# error, no checksum warning, the MADT lists exactly N processor local APICs,
# the DSDT holds _S5 = {5, 5, 0, 0}, one LNRO0005 device per virtio slot
# with its Memory32Fixed window and its interrupt, and the i8042's keyboard
# (PNP0303: ports 0x60 and 0x64, IRQ 1; no mouse), through which Linux's
# i8042 driver finds the controller.
set -u
cd "$(dirname "$0")/../.."
tables="APIC DSDT FACP FACS rsdt xsdt"
configs="1:0 2:1 64:8"
n=0
echo "1..$((3 * (6 + 5) + 1))"
ok() { n=$((n + 1)); if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cc -std=c11 -Wall -Wextra -Werror -Iinclude -fsanitize=address,undefined \
    tests/acpi/acpi-dump.c build/san/libpvhboot.a -o "$work/acpi-dump" 2>"$work/cc.log"
ok $? "acpi-dump builds against build/san/libpvhboot.a" || true
[ -x "$work/acpi-dump" ] || { cat "$work/cc.log" | sed 's/^/# /'; exit 1; }

# The DSDT's device i, as iasl prints it: name, _HID, window, interrupt.
expected_devices() {
    local i gsis=(5 6 7 10 11 12 13 14 15 16 17 18 19 20 21 22 23)
    for ((i = 0; i < $1; i++)); do
        printf 'Device(V%03d){Name(_HID,"LNRO0005")Name(_UID,%s)Name(_CCA,One)' "$i" \
            "$( [ "$i" -eq 0 ] && echo Zero || { [ "$i" -eq 1 ] && echo One || printf '0x%02X' "$i"; } )"
        printf 'Name(_CRS,ResourceTemplate(){Memory32Fixed(ReadWrite,0x%08X,0x00001000,)' $((0xD0000000 + i * 4096))
        printf 'Interrupt(ResourceConsumer,Edge,ActiveHigh,Exclusive,,,){0x%08X,}})}' "${gsis[$i]}"
    done
}

for cfg in $configs; do
    c=${cfg%:*} ndev=${cfg#*:}
    d="$work/$c"
    mkdir -p "$d"
    "$work/acpi-dump" "$c" "$ndev" "$d" 2>&1 | sed 's/^/# /'
    for t in $tables; do
        (cd "$d" && iasl -d "$t.dat" >"$t.log" 2>&1)
        rc=$?
        bad=0
        [ "$rc" -eq 0 ] && [ -s "$d/$t.dsl" ] || bad=1
        grep -Eiq 'error|incorrect checksum|invalid' "$d/$t.log" "$d/$t.dsl" 2>/dev/null && bad=1
        [ "$bad" -ne 0 ] && sed 's/^/# /' "$d/$t.log"
        ok "$bad" "$c vCPUs: iasl -d $t: no error, no checksum warning"
    done
    lapics=$(grep -c 'Subtable Type : 00 \[Processor Local APIC\]' "$d/APIC.dsl")
    [ "$lapics" -eq "$c" ]; ok $? "$c vCPUs: MADT lists $lapics processor local APICs (want $c)"
    ioapic=$(grep -c 'Subtable Type : 01 \[I/O APIC\]' "$d/APIC.dsl")
    [ "$ioapic" -eq 1 ]; ok $? "$c vCPUs: MADT lists one I/O APIC"
    tr -d ' \n' <"$d/DSDT.dsl" | grep -q 'Name(_S5,Package(0x04)//_S5_:S5SystemState{0x05,0x05,Zero,Zero})'
    ok $? "$c vCPUs: DSDT declares _S5 = {5, 5, 0, 0}"
    got=$(sed 's|//.*||' "$d/DSDT.dsl" | tr -d ' \n' | grep -o 'Device(V[0-9]*){.*' | sed 's/})*}$//')
    want=$(expected_devices "$ndev")
    if [ "$ndev" -eq 0 ]; then [ -z "$got" ]; else [[ "$got" == "$want"* ]]; fi
    r=$?
    [ "$r" -ne 0 ] && { echo "# want: $want"; echo "# got:  $got"; }
    ok "$r" "$c vCPUs, $ndev devices: DSDT describes each virtio-mmio device (LNRO0005, window, GSI)"
    kbd='Device(KBD){Name(_HID,EisaId("PNP0303"))Name(_CRS,ResourceTemplate(){IO(Decode16,0x0060,0x0060,0x01,0x01,)IO(Decode16,0x0064,0x0064,0x01,0x01,)IRQNoFlags(){1}})}'
    got=$(sed 's|//.*||; s|/\*[^*]*\*/||g' "$d/DSDT.dsl" | tr -d ' \n' | grep -o 'Device(KBD).*' | sed 's/}}$//')
    [ "$got" = "$kbd" ]; r=$?
    [ "$r" -ne 0 ] && { echo "# want: $kbd"; echo "# got:  $got"; }
    ok "$r" "$c vCPUs: DSDT describes the i8042 (PNP0303 at 0x60/0x64 IRQ 1, no mouse)"
done
