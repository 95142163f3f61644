#!/usr/bin/env bash
# `pvhboot run` refusing what it cannot run, with no KVM needed: each case
# gives exactly one line on stderr, the right exit status (2 unusable input,
# 1 VMM error) and no sanitizer report (ASan+UBSan build). --serial file:PATH
# is opened by --dry-run too (as a run would): a symbolic link there is
# refused, its target neither truncated nor created.
set -u
cd "$(dirname "$0")/../.."
bin=build/san/pvhboot
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
make -s -C guest >/dev/null 2>&1
hello=guest/build/hello64
head -c 4096 /dev/zero >"$tmp/zeros"
head -c 3M /dev/zero >"$tmp/big"
: >"$tmp/empty"
cc -static -no-pie -o "$tmp/plain" -x c - <<<'int main(void){return 0;}'
# --serial file:PATH where PATH is a symbolic link: to a file (not to be
# truncated) and dangling (not to be created)
echo keep >"$tmp/victim"
ln -s "$tmp/victim" "$tmp/serial-link"
ln -s "$tmp/made-through-link" "$tmp/dangling-link"
# a Multiboot 2 header (magic, arch 0, length 16, checksum) at offset 0x80, nothing else
python3 -c 'import struct,sys; m=0xE85250D6; sys.stdout.buffer.write(bytes(0x80)+struct.pack("<4I",m,0,16,(-(m+16))&0xffffffff)+bytes(4096))' >"$tmp/mb2"
# name | expected status | expected text | arguments
cases=(
  "missing /dev/kvm|1|$tmp/no-kvm: no such device — this machine has no KVM: load kvm_intel or kvm_amd (modprobe), turn on virtualization in the firmware, or nested virtualization for a cloud VM; without KVM, 'pvhboot inspect' and 'pvhboot run --dry-run' work (README.md: Getting KVM; man pvhboot)|$hello --kvm-device $tmp/no-kvm"
  "unreadable kernel|2|$tmp/missing: No such file or directory|$tmp/missing"
  "a directory|2|is a directory, not a kernel image or module file|$tmp"
  "empty kernel|2|empty|$tmp/empty"
  "not a kernel|2|not a kernel image pvhboot knows|$tmp/zeros"
  "non-PVH ELF|2|built without CONFIG_PVH|$tmp/plain"
  "RAM too small|2|try --mem|$hello --mem 2M --initrd $tmp/big --cmdline x"
  "--cpus 0|2|--cpus 0: expected a number from 1 to 255|$hello --cpus 0"
  "--cpus 256|2|--cpus 256: expected a number from 1 to 255|$hello --cpus 256"
  "absurd --mem|2|--mem 9999T: guest RAM must be between 2M and 1T|$hello --mem 9999T"
  "--mem beyond the host|2|more than this host's memory|$hello --mem 1T"
  "--mem garbage|2|--mem lots: expected a size such as 512M or 2G|$hello --mem lots"
  "unknown option|2|unknown option '--frobnicate'|$hello --frobnicate"
  "missing value|2|--initrd: missing value|$hello --initrd"
  "missing initrd|2|$tmp/nope: No such file or directory|$hello --initrd $tmp/nope"
  "--module without --initrd|2|--module needs --initrd first|$hello --module $tmp/zeros"
  "bad --serial|2|--serial tty: expected stdio, file:PATH or none|$hello --serial tty"
  "bad --timeout|2|--timeout 0: expected seconds|$hello --timeout 0"
  "--kaslr without the note|2|XEN_ELFNOTE_PHYS32_RELOC|$hello --kaslr --kvm-device $tmp/no-kvm"
  "bad --load|2|--load fast: expected map or copy|$hello --load fast"
  "--kaslr with a Multiboot 1 kernel|2|a Multiboot 1 kernel is loaded at the addresses its header names and cannot be moved; drop --kaslr|guest/build/mb1hello --kaslr --kvm-device $tmp/no-kvm"
  "a Multiboot 2 kernel|2|offset 0x80: a Multiboot 2 kernel without the PVH note; pvhboot boots PVH ELF and Multiboot 1 kernels, not Multiboot 2|$tmp/mb2"
  "--serial file: a symbolic link|2|--serial file:$tmp/serial-link: a symbolic link; pvhboot does not follow one there|$hello --serial file:$tmp/serial-link --dry-run"
  "--serial file: a dangling symbolic link|2|--serial file:$tmp/dangling-link: a symbolic link|$hello --serial file:$tmp/dangling-link --dry-run"
  "--serial file: no such directory, --dry-run|2|--serial file:$tmp/no/such/dir: No such file or directory|$hello --serial file:$tmp/no/such/dir --dry-run"
  "two kernels|2|unexpected argument|$hello $hello"
  "no kernel|2|usage: pvhboot run KERNEL|"
)
# Numbers must be plain decimal digits: strtoull() would skip white space and
# take a sign (--mem " -18446744073709550592" was 1 GiB). Each: exit 2, one
# line. Fields: the whole line expected after "pvhboot: " | the option | its
# value (kept whole: spaces and tabs are part of it); with --dry-run (no KVM),
# so that a value taken shows as exit 0.
tab=$'\t'
mem="expected a size such as 512M or 2G" cpus="expected a number from 1 to 255"
timeout="expected seconds (1 or more)" seed="expected a number" user="expected a user name or UID[:GID]"
numbers=(
  "run: --mem  5: $mem|--mem| 5" "run: --mem +5: $mem|--mem|+5" "run: --mem -5: $mem|--mem|-5" "run: --mem 5 : $mem|--mem|5 "
  "run: --mem 0x10: $mem|--mem|0x10" "run: --mem +1G: $mem|--mem|+1G" "run: --mem ${tab}1G: $mem|--mem|${tab}1G"
  "run: --mem  -18446744073709550592: $mem|--mem| -18446744073709550592" "run: --mem +512: $mem|-m|+512"
  "run: --cpus  1: $cpus|--cpus| 1" "run: --cpus +1: $cpus|--cpus|+1" "run: --cpus -1: $cpus|--cpus|-1" "run: --cpus 1 : $cpus|--cpus|1 "
  "run: --cpus 0x1: $cpus|--cpus|0x1" "run: --cpus cpus=+2: $cpus|-smp|cpus=+2" "run: --cpus cpus= 2: $cpus|-smp|cpus= 2"
  "run: --timeout  5: $timeout|--timeout| 5" "run: --timeout +5: $timeout|--timeout|+5" "run: --timeout -5: $timeout|--timeout|-5"
  "run: --timeout 5 : $timeout|--timeout|5 " "run: --timeout 0x10: $timeout|--timeout|0x10"
  "run: --seed  5: $seed|--seed| 5" "run: --seed +5: $seed|--seed|+5" "run: --seed -5: $seed|--seed|-5" "run: --seed  -5: $seed|--seed| -5"
  "run: --seed 5 : $seed|--seed|5 " "run: --seed 0x10: $seed|--seed|0x10"
  "--user 0: 5: $user|--user|0: 5" "--user 0:+5: $user|--user|0:+5" "--user 0:-5: $user|--user|0:-5"
  "--user 0:-18446744073709551615: $user|--user|0:-18446744073709551615" "--user 0:5 : $user|--user|0:5 "
  "--user 0:0x10: $user|--user|0:0x10" "--user 0x10: $user|--user|0x10"
)
echo "1..$(( ${#cases[@]} + ${#numbers[@]} + 3 ))"
n=0
for c in "${cases[@]}"; do
    IFS='|' read -r name want text args <<<"$c"
    n=$((n + 1))
    # shellcheck disable=SC2086
    $bin run $args >"$tmp/out" 2>"$tmp/err"
    rc=$?
    lines=$(wc -l <"$tmp/err")
    if [ "$rc" -eq "$want" ] && grep -qF -- "$text" "$tmp/err" && ! grep -q Sanitizer "$tmp/err" &&
       { [ "$lines" -eq 1 ] || [ -z "$args" ]; }; then
        echo "ok $n - $name: exit $rc: $(head -1 "$tmp/err")"
    else
        echo "not ok $n - $name: exit $rc (want $want), $lines lines, want '$text'"; sed 's/^/# /' "$tmp/err" | head -5
    fi
done
for c in "${numbers[@]}"; do
    IFS='|' read -r -a f <<<"$c"
    n=$((n + 1))
    $bin run "$hello" --dry-run "${f[@]:1}" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    lines=$(wc -l <"$tmp/err")
    if [ "$rc" -eq 2 ] && [ "$lines" -eq 1 ] && grep -qxF -- "pvhboot: ${f[0]}" "$tmp/err"; then
        echo "ok $n - ${f[1]} '${f[2]}': exit 2: $(cat -A "$tmp/err" | sed 's/\$$//')"
    else
        echo "not ok $n - ${f[1]} '${f[2]}': exit $rc (want 2), $lines lines, want 'pvhboot: ${f[0]}'"
        sed 's/^/# /' "$tmp/err" | head -3
    fi
done
n=$((n + 1))
$bin run "$hello" --dry-run --mem 1G --cpus 2 --timeout 5 --user 0:0 >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ "$rc" -eq 0 ] && grep -q "1024 MiB of guest RAM, 2 vCPUs" "$tmp/out" && [ ! -s "$tmp/err" ]; then
    echo "ok $n - plain decimal numbers are still taken: --mem 1G --cpus 2 --timeout 5 --user 0:0 (--seed 007: tests/cli/qemu-habits.t)"
else
    echo "not ok $n - plain decimal numbers: exit $rc"; sed 's/^/# /' "$tmp/out" "$tmp/err" | head -5
fi
n=$((n + 1))
$bin run --help >"$tmp/out" 2>&1
if [ $? -eq 0 ] && grep -q -- "--initrd FILE" "$tmp/out" && grep -q "Ctrl-A x" "$tmp/out"; then
    echo "ok $n - run --help documents the options and the serial escape"
else
    echo "not ok $n - run --help"
fi
n=$((n + 1))
if [ "$(cat "$tmp/victim")" = keep ] && [ ! -e "$tmp/made-through-link" ]; then
    echo "ok $n - --serial file: through a symbolic link neither truncated its target nor created one"
else
    echo "not ok $n - --serial file: a symbolic link was followed: victim '$(cat "$tmp/victim")', $(ls "$tmp")"
fi
n=$((n + 1))
echo stale >"$tmp/serial-out"
$bin run $hello --serial file:"$tmp/serial-out" --dry-run >"$tmp/out" 2>&1
rc=$?
if [ "$rc" -eq 0 ] && [ -f "$tmp/serial-out" ] && [ ! -s "$tmp/serial-out" ]; then
    echo "ok $n - --serial file:PATH --dry-run opens it as a run would (created or truncated), exit 0"
else
    echo "not ok $n - --serial file:PATH --dry-run: exit $rc, $(wc -c <"$tmp/serial-out") bytes left"
fi
