#!/usr/bin/env bash
# QEMU's spellings as users type them (issue 18), with --dry-run (no KVM):
# options in any order before or after -kernel, `pvhboot -m 1G -kernel K`
# meaning run; the harmless flags (-nographic, -serial stdio, -enable-kvm,
# -no-reboot, -nodefaults, -display none, -accel kvm, -M microvm, -cpu host)
# accepted and the guest unchanged; -smp with a topology; sizes with a
# fraction (--mem 1.5G); the flags pvhboot cannot honour refused with exit 2
# and one line naming what pvhboot has instead; a file where the verb goes
# gets a hint to use run; --seed without --kaslr is refused.
set -u
cd "$(dirname "$0")/../.."
bin=build/san/pvhboot
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
make -s -C guest >/dev/null 2>&1
k=guest/build/hello64
n=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
notok() { n=$((n + 1)); echo "not ok $n - $*"; sed 's/^/# /' "$tmp/out" "$tmp/err" | head -4; }
# accepted: what | the RAM and vCPUs the dry run must report | arguments
accepted=(
  "options before -kernel|1024 MiB of guest RAM, 1 vCPU|-m 1G -kernel $k --dry-run"
  "the issue's command line|1536 MiB of guest RAM, 2 vCPUs|-nographic -serial stdio -enable-kvm -no-reboot -smp 2,sockets=1 --mem 1.5G -kernel $k --dry-run"
  "run verb, QEMU flags after the kernel|512 MiB of guest RAM, 1 vCPU|run $k -nographic -no-reboot -nodefaults -no-user-config --dry-run"
  "--dry-run first, then QEMU flags|256 MiB of guest RAM, 1 vCPU|--dry-run -append x -m 256 -kernel $k"
  "-display none -vga none -monitor none -name demo|512 MiB of guest RAM, 1 vCPU|-kernel $k -display none -vga none -monitor none -name demo --dry-run"
  "-accel kvm -machine accel=kvm -M microvm -cpu host|512 MiB of guest RAM, 1 vCPU|-kernel $k -accel kvm -machine accel=kvm -M microvm -cpu host --dry-run"
  "-serial mon:stdio and -serial null|512 MiB of guest RAM, 1 vCPU|-kernel $k -serial mon:stdio -serial null --dry-run"
  "-smp sockets=2,cores=2,threads=2|512 MiB of guest RAM, 8 vCPUs|-kernel $k -smp sockets=2,cores=2,threads=2 --dry-run"
  "-smp 4,maxcpus=4|512 MiB of guest RAM, 4 vCPUs|-kernel $k -smp 4,maxcpus=4 --dry-run"
  "-smp cpus=3,cores=3|512 MiB of guest RAM, 3 vCPUs|-kernel $k -smp cpus=3,cores=3 --dry-run"
  "--mem 0.5G|512 MiB of guest RAM, 1 vCPU|run $k --mem 0.5G --dry-run"
  "-m 1.25G|1280 MiB of guest RAM, 1 vCPU|-kernel $k -m 1.25G --dry-run"
  "--mem 2.5M|2 MiB of guest RAM, 1 vCPU|run $k --mem 2.5M --dry-run"
  "--mem=768MiB|768 MiB of guest RAM, 1 vCPU|run $k --mem=768MiB --dry-run"
)
# refused: what | the line on stderr (after "pvhboot: ") must hold this | arguments
refused=(
  "-hda|QEMU's -hda is not supported: pvhboot's disks are virtio-blk: --drive FILE|-kernel $k -hda disk.img"
  "-netdev user|-netdev user: pvhboot's NICs are host TAP devices: -netdev tap,id=ID,ifname=NAME|-kernel $k -netdev user,id=n0"
  "-nic user|-nic user: pvhboot's NICs are host TAP devices: -nic tap,ifname=NAME, or --net tap=NAME|-kernel $k -nic user"
  "-bios|QEMU's -bios is not supported: pvhboot boots the kernel directly, without firmware|-kernel $k -bios x.bin"
  "-S without a stub|--gdb-wait (-S) needs --gdb tcp:PORT|-kernel $k -S"
  "-s with --dry-run|--gdb and --dry-run: a dry run never starts the guest|-s -kernel $k --dry-run"
  "-snapshot|--drive FILE,ro|-kernel $k -snapshot"
  "-daemonize|--serial file:PATH|-kernel $k -daemonize"
  "-object rng-random|--rng|-kernel $k -object rng-random,id=r,filename=/dev/urandom"
  "-accel tcg|-accel tcg: pvhboot runs guests on KVM only; without KVM, --dry-run|-kernel $k -accel tcg"
  "-M pc|-M pc: pvhboot has one machine, like -M microvm: no PCI, no firmware|-M pc -kernel $k"
  "-machine q35|-machine q35: pvhboot has one machine, like -M microvm|-machine q35 -kernel $k"
  "-cpu qemu64|-cpu qemu64: the guest sees the host's CPU as KVM offers it|-kernel $k -cpu qemu64"
  "-display gtk|-display gtk: pvhboot has no display|-kernel $k -display gtk"
  "-smp 2,maxcpus=4|maxcpus=4: pvhboot has no CPU hotplug; the guest has exactly 2 vCPUs|-kernel $k -smp 2,maxcpus=4"
  "-smp 2,sockets=x|--cpus 2,sockets=x: expected a number from 1 to 255|-kernel $k -smp 2,sockets=x"
  "--mem 1.G|--mem 1.G: expected a size such as 512M or 2G|run $k --mem 1.G"
  "--mem 1.0000000001G|expected a size such as 512M or 2G|run $k --mem 1.0000000001G"
  "--seed without --kaslr|--seed 7: the seed only chooses --kaslr's load address; add --kaslr or drop --seed|run $k --seed 7 --dry-run"
  "a file where the verb goes|'$k' is a file, not a verb: boot it with 'pvhboot run $k', describe it with 'pvhboot inspect $k'|$k"
  "an unknown word where the verb goes|unknown verb 'bogus' (pvhboot run KERNEL boots a kernel)|bogus"
)
echo "1..$(( ${#accepted[@]} + ${#refused[@]} + 2 ))"
for c in "${accepted[@]}"; do
    IFS='|' read -r what want args <<<"$c"
    # shellcheck disable=SC2086
    $bin $args >"$tmp/out" 2>"$tmp/err"
    rc=$?
    if [ "$rc" -eq 0 ] && grep -q "^dry run (no KVM): $want\$" "$tmp/out" && [ ! -s "$tmp/err" ]; then
        ok "$what: exit 0, $want"
    else
        notok "$what: exit $rc, want '$want'"
    fi
done
for c in "${refused[@]}"; do
    IFS='|' read -r what want args <<<"$c"
    # shellcheck disable=SC2086
    $bin $args >"$tmp/out" 2>"$tmp/err"
    rc=$?
    if [ "$rc" -eq 2 ] && grep -qF -- "$want" "$tmp/err" && [ "$(grep -c '^pvhboot: ' "$tmp/err")" -eq 1 ] &&
       ! grep -q Sanitizer "$tmp/err"; then
        ok "$what: exit 2: $(head -1 "$tmp/err")"
    else
        notok "$what: exit $rc (want 2), want '$want'"
    fi
done
# the same seed on a kernel with PHYS32_RELOC: accepted with --kaslr, the same address twice
k612=$(tests/lib/debian-kernel.sh cloud-amd64 bookworm-backports 2>/dev/null)
a=$($bin run "$k612/vmlinux" --kaslr --seed 007 --dry-run 2>"$tmp/err" | grep '^kernel loaded at')
b=$($bin -kernel "$k612/vmlinux" --seed 7 --kaslr --dry-run 2>>"$tmp/err" | grep '^kernel loaded at')
if [ -n "$a" ] && [ "$a" = "$b" ] && [ ! -s "$tmp/err" ]; then ok "--kaslr --seed 007 = --seed 7 --kaslr: $a"; else notok "--kaslr --seed: '$a' vs '$b'"; fi
# a size is rounded up to whole 4 KiB pages, as QEMU rounds -m: 2.0001M = 2097362 bytes -> 513 pages,
# so the memory map's RAM above 1 MiB ends at 513 * 4096 - 1 = 0x200fff
$bin run "$k" --mem 2.0001M --dry-run >"$tmp/out" 2>"$tmp/err"
if [ $? -eq 0 ] && grep -q '^  0x0000100000-0x0000200fff  RAM$' "$tmp/out"; then
    ok "--mem 2.0001M: RAM rounded up to 513 pages (the memory map's RAM ends at 0x200fff)"
else
    notok "--mem 2.0001M: the memory map's RAM does not end at 0x200fff"
fi
