#!/usr/bin/env bash
# ACPI tables checked by a real tool: for 1, 2 and 64 vCPUs with 0, 1 and 8
# virtio-mmio devices, build the tables (tests/acpi/acpi-dump.c against
# build/san/libpvhboot.a), disassemble each with `iasl -d` and assert: no
# error, no checksum warning, the MADT lists exactly N processor local APICs,
# the DSDT holds _S5 = {5, 5, 0, 0}, one LNRO0005 device per virtio slot
# with its Memory32Fixed window and its interrupt, and the i8042's keyboard
# (PNP0303: ports 0x60 and 0x64, IRQ 1; no mouse), through which Linux's
# i8042 driver finds the controller; the VM generation ID device
# \_SB.VGEN (_HID VMGENCTR, _CID VM_GEN_COUNTER, ADDR = the 16-byte-aligned
# address right after the MADT, which the RSDT and the MADT's length give)
# and Scope(\_GPE) { Method(_E00) { Notify(\_SB.VGEN, 0x80) } }; the FADT's
# GPE0 block (port 0x608, length 2, X_GPE0_BLK in system I/O, 16 bits).
set -u
cd "$(dirname "$0")/../.."
tables="APIC DSDT FACP FACS rsdt xsdt"
configs="1:0 2:1 64:8"
n=0
echo "1..$((3 * (6 + 8) + 1))"
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
    got=$(sed 's|//.*||; s|/\*[^*]*\*/||g' "$d/DSDT.dsl" | tr -d ' \n' | grep -o 'Device(KBD).*' | sed 's/Device(VGEN).*//')
    [ "$got" = "$kbd" ]; r=$?
    [ "$r" -ne 0 ] && { echo "# want: $kbd"; echo "# got:  $got"; }
    ok "$r" "$c vCPUs: DSDT describes the i8042 (PNP0303 at 0x60/0x64 IRQ 1, no mouse)"
    (cd "$d" && iasl -d rsdt.dat >/dev/null 2>&1)
    madt=$(awk '/ACPI Table Address   1/ { print $NF }' "$d/rsdt.dsl")
    madt_len=$(awk '/Table Length/ { print $NF; exit }' "$d/APIC.dsl")
    id=$(( (0x$madt + 0x$madt_len + 15) / 16 * 16 ))
    vgen=$(printf 'Device(VGEN){Name(_HID,"VMGENCTR")Name(_CID,"VM_GEN_COUNTER")Name(_DDN,"VM_Gen_Counter")Name(ADDR,Package(0x02){0x%08X,0x00000000})}' "$id")
    got=$(sed 's|//.*||' "$d/DSDT.dsl" | tr -d ' \n' | grep -o 'Device(VGEN){[^}]*}[^}]*}')
    [ "$got" = "$vgen" ]; r=$?
    [ "$r" -ne 0 ] && { echo "# want: $vgen"; echo "# got:  $got"; }
    ok "$r" "$c vCPUs: DSDT describes \\_SB.VGEN (VMGENCTR, VM_GEN_COUNTER, ADDR $(printf '0x%X' "$id") after the MADT)"
    gpe='Scope(\_GPE){Method(_E00,0,NotSerialized){Notify(\_SB.VGEN,0x80)}}}'
    got=$(sed 's|//.*||' "$d/DSDT.dsl" | tr -d ' \n' | grep -o 'Scope(\\_GPE).*')
    [ "$got" = "$gpe" ]; r=$?
    [ "$r" -ne 0 ] && { echo "# want: $gpe"; echo "# got:  $got"; }
    ok "$r" "$c vCPUs: DSDT's \\_GPE._E00 notifies \\_SB.VGEN (0x80), the DSDT's last object"
    f="$d/FACP.dsl"
    grep -q 'GPE0 Block Address : 00000608' "$f" && grep -q 'GPE0 Block Length : 02' "$f" &&
        grep -A5 'GPE0 Block : \[Generic Address Structure\]' "$f" | tr -s ' ' |
        grep -c -e 'Space ID : 01 \[SystemIO\]' -e 'Bit Width : 10' -e 'Address : 0000000000000608' | grep -qx 3
    ok $? "$c vCPUs: FADT GPE0_BLK 0x608, GPE0_BLK_LEN 2, X_GPE0_BLK system I/O 16 bits at 0x608"
done
