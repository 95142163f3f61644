#!/usr/bin/env bash
# KVM smoke suite for the harness tests/kvm/with-kvm.sh (issue 4): a tiny
# static KVM program (tests/kvm/smoke.c) runs a real-mode and a protected-mode
# guest through the harness; the harness hands back exact output and exit
# status (a command exiting 3 is reported as 3); it fails loudly (exit 125)
# when KVM does not load, the run times out, a binary is dynamic, or no KVM can
# be had. Boot 3 proves the harness's host path on a real /dev/kvm: inside the
# emulated machine (a Linux host whose kvm-amd is loaded) the harness itself
# runs under a static bash and must pick /dev/kvm, not emulate. Three emulated
# boots in all.
set -u
cd "$(dirname "$0")/../.." || exit 1
harness=tests/kvm/with-kvm.sh
out=build/kvm
mkdir -p "$out"
tmp=$(mktemp -d) && trap 'rm -rf "$tmp"' EXIT
n=0 smoke_checks=11 total=$((smoke_checks + 26))

echo "1..$total"
result() { # result OK DESCRIPTION
    n=$((n + 1))
    if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi
}
assert() { local d=$1; shift; "$@" >/dev/null 2>&1; result $? "$d"; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# musl has no kernel headers: give it the kernel's UAPI headers alone.
build_smoke() {
    local uapi=$out/uapi flags="-std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wvla"
    mkdir -p "$uapi"
    ln -sfn /usr/include/linux "$uapi/linux"
    ln -sfn /usr/include/asm-generic "$uapi/asm-generic"
    ln -sfn "/usr/include/$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)/asm" "$uapi/asm"
    # shellcheck disable=SC2086
    { command -v musl-gcc >/dev/null && musl-gcc -static $flags -isystem "$uapi" -o "$out/smoke" tests/kvm/smoke.c; } ||
        ${CC:-cc} -static $flags -o "$out/smoke" tests/kvm/smoke.c || return 1
    # shellcheck disable=SC2086
    ${CC:-cc} $flags -o "$out/smoke-dynamic" tests/kvm/smoke.c
}
assert "build the static KVM smoke program (build/kvm/smoke)" build_smoke

# ---- boot 1: the smoke program, exact output, exit status 3 -----------------
printf 'known text\n' >"$tmp/expected-tail"
printf 'to stderr\n' >>"$tmp/expected-tail"
printf '\001\000\377\r\nno newline at end' >>"$tmp/expected-tail"
cmd='./smoke; echo "smoke-exit=$?"; echo "known text"; echo "to stderr" >&2; printf "\001\000\377\r\nno newline at end"; exit 3'
t0=$(now)
"$harness" --file "$out/smoke" -- "$cmd" >"$tmp/out1" 2>"$tmp/err1"
rc1=$?
echo "# boot 1 (smoke + exact output + exit 3): $(elapsed "$t0") s, $(grep -a '^# kvm:' "$tmp/err1" | head -1)"
grep -a '^# kvm: emulated run took' "$tmp/err1" | sed 's/^# /# /'

smoke_lines=$(grep -aE '^(ok|not ok) - ' "$tmp/out1" | head -n "$smoke_checks")
i=0
while IFS= read -r line; do
    [ -n "$line" ] || continue
    i=$((i + 1))
    case $line in
        "ok - "*) result 0 "smoke: ${line#ok - }" ;;
        *) result 1 "smoke: ${line#not ok - }" ;;
    esac
done <<<"$smoke_lines"
while [ "$i" -lt "$smoke_checks" ]; do
    i=$((i + 1))
    result 1 "smoke: check $i missing from the output"
done
assert "smoke program exited 0 inside" grep -aqx 'smoke-exit=0' "$tmp/out1"
result "$([ "$rc1" = 3 ] && echo 0 || echo 1)" "a command exiting 3 inside makes the harness exit 3 (got $rc1)"
tail -c "$(wc -c <"$tmp/expected-tail")" "$tmp/out1" >"$tmp/got-tail"
assert "stdout+stderr come back byte for byte (binary, CR, no final newline)" cmp "$tmp/expected-tail" "$tmp/got-tail"
lines=$(wc -l <"$tmp/out1")
result "$([ "$lines" = $((smoke_checks + 4)) ] && echo 0 || echo 1)" "stdout holds only the command's output ($lines lines)"
assert "stderr says which KVM was used" grep -aqE '^# kvm: (host|emulated)' "$tmp/err1"

# ---- checks that need no boot -----------------------------------------------
"$harness" --file "$out/smoke-dynamic" -- ./smoke-dynamic >/dev/null 2>"$tmp/err-dyn"
rc=$?
result "$([ "$rc" = 125 ] && grep -q 'dynamically linked' "$tmp/err-dyn" && echo 0 || echo 1)" \
    "a dynamically linked --file is refused with exit 125 (got $rc)"
"$harness" --file "$tmp/does-not-exist" -- true >/dev/null 2>&1
rc=$?
result "$([ "$rc" = 125 ] && echo 0 || echo 1)" "a missing --file is refused with exit 125 (got $rc)"
"$harness" --mem 512 >/dev/null 2>"$tmp/err-usage"
rc=$?
result "$([ "$rc" = 125 ] && grep -q usage "$tmp/err-usage" && echo 0 || echo 1)" "no command: usage and exit 125 (got $rc)"
PVHBOOT_KVM=emulated PVHBOOT_KVM_QEMU=/nonexistent/qemu-system-x86_64 "$harness" -- true >/dev/null 2>"$tmp/err-noqemu"
rc=$?
result "$([ "$rc" = 125 ] && grep -q 'no QEMU' "$tmp/err-noqemu" && echo 0 || echo 1)" \
    "no QEMU for the emulated path: exit 125 saying why (got $rc)"
PVHBOOT_KVM=bogus "$harness" -- true >/dev/null 2>&1
rc=$?
result "$([ "$rc" = 125 ] && echo 0 || echo 1)" "an unknown PVHBOOT_KVM value is refused with exit 125 (got $rc)"
hardware_kvm() { [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ] || [ ! -d /sys/module/kvm_pvm ]; }
if [ -c /dev/kvm ] && [ -r /dev/kvm ] && [ -w /dev/kvm ] && hardware_kvm; then
    PVHBOOT_KVM=host "$harness" --file "$out/smoke" -- './smoke >/dev/null && echo host-smoke-ok' >"$tmp/out-host" 2>"$tmp/err-host"
    rc=$?
    result "$([ "$rc" = 0 ] && grep -qx host-smoke-ok "$tmp/out-host" && grep -q '^# kvm: host' "$tmp/err-host" && echo 0 || echo 1)" \
        "PVHBOOT_KVM=host runs the smoke program on the host's /dev/kvm (got $rc)"
else
    PVHBOOT_KVM=host "$harness" -- true >/dev/null 2>"$tmp/err-host"
    rc=$?
    result "$([ "$rc" = 125 ] && grep -q '/dev/kvm' "$tmp/err-host" && echo 0 || echo 1)" \
        "PVHBOOT_KVM=host without a usable /dev/kvm: exit 125 saying why (got $rc)"
fi
# A KVM device served by kvm_pvm alone (PVM) is not taken for hardware KVM;
# one next to kvm_amd is (and /dev/null then fails the API check).
mkdir -p "$tmp/mods-pvm/kvm_pvm" "$tmp/mods-amd/kvm_pvm" "$tmp/mods-amd/kvm_amd"
PVHBOOT_KVM=host PVHBOOT_KVM_DEVICE=/dev/null PVHBOOT_KVM_SYSMODULE="$tmp/mods-pvm" "$harness" -- true \
    >/dev/null 2>"$tmp/err-pvm"
rc=$?
result "$([ "$rc" = 125 ] && grep -q 'served by kvm_pvm' "$tmp/err-pvm" && echo 0 || echo 1)" \
    "a PVM-only KVM device is refused for PVHBOOT_KVM=host with the reason (got $rc)"
PVHBOOT_KVM=host PVHBOOT_KVM_DEVICE=/dev/null PVHBOOT_KVM_SYSMODULE="$tmp/mods-amd" "$harness" -- true \
    >/dev/null 2>"$tmp/err-amd"
rc=$?
result "$([ "$rc" = 125 ] && grep -q 'KVM_GET_API_VERSION' "$tmp/err-amd" && ! grep -q kvm_pvm "$tmp/err-amd" && echo 0 || echo 1)" \
    "next to kvm_amd the same device goes on to the API check (got $rc)"

# ---- boot 3: the harness's host path, on the emulated machine's /dev/kvm ----
# The harness is a bash script and the emulated machine's userland is busybox:
# Debian's bash-static runs it there. Inside, PVHBOOT_KVM=host must run the
# smoke program directly and pass its status back; with no PVHBOOT_KVM the
# harness must find /dev/kvm usable and say "host".
bash_static() {
    command -v bash-static >/dev/null || tests/lib/install-deps.sh >&2 || true
    command -v bash-static
}
host_path_boot() {
    local bash cmd t0 rc
    bash=$(bash_static) || bash=
    cmd='mkdir -p tests/kvm && cp with-kvm.sh tests/kvm/ || exit 99
PVHBOOT_KVM=host busybox time -f "host-path-seconds=%e" ./bash-static tests/kvm/with-kvm.sh --file smoke -- "./smoke; exit 5" 2>err-host
echo "host-rc=$?"; sed "s/^/host-stderr: /" err-host
unset PVHBOOT_KVM; ./bash-static tests/kvm/with-kvm.sh -- "echo auto-ran" 2>err-auto
echo "auto-rc=$?"; sed "s/^/auto-stderr: /" err-auto'
    t0=$(now)
    if [ -n "$bash" ]; then
        PVHBOOT_KVM=emulated "$harness" --file "$bash" --file "$harness" --file "$out/smoke" -- "$cmd" \
            >"$tmp/out-hostpath" 2>"$tmp/err-hostpath"
        rc=$?
    else
        echo "# bash-static is missing (apt-get install bash-static)"; rc=1; : >"$tmp/out-hostpath"
    fi
    echo "# boot 3 (the harness's host path inside the emulated machine): $(elapsed "$t0") s;" \
        "the harness + smoke program on its /dev/kvm took" \
        "$(sed -n 's/^host-stderr: host-path-seconds=//p' "$tmp/out-hostpath" | head -1) s there (no boot)"
    local oks bad
    oks=$(grep -acE '^ok - ' "$tmp/out-hostpath")
    bad=$(grep -aE '^not ok - ' "$tmp/out-hostpath" | head -3 | tr '\n' ';')
    result "$([ "$rc" = 0 ] && [ "$oks" = "$smoke_checks" ] && [ -z "$bad" ] && echo 0 || echo 1)" \
        "host path: all $smoke_checks smoke checks pass on the emulated machine's /dev/kvm through PVHBOOT_KVM=host (got $oks ok${bad:+, $bad})"
    assert "host path: the command's exit 5 comes back as 5" grep -aqx 'host-rc=5' "$tmp/out-hostpath"
    assert "host path: stderr says '# kvm: host (/dev/kvm)'" grep -aqx 'host-stderr: # kvm: host (/dev/kvm)' "$tmp/out-hostpath"
    result "$(grep -aqx 'auto-ran' "$tmp/out-hostpath" && grep -aqx 'auto-rc=0' "$tmp/out-hostpath" &&
        grep -aqx 'auto-stderr: # kvm: host (/dev/kvm)' "$tmp/out-hostpath" && echo 0 || echo 1)" \
        "host path: with no PVHBOOT_KVM the harness finds /dev/kvm usable and runs there, not emulated"
}

# ---- --disk: a file the command writes, whatever path runs it ---------------
disk_boot() {
    truncate -s 4M "$tmp/disk0.img" "$tmp/disk1.img"
    printf 'second-disk' | dd of="$tmp/disk1.img" conv=notrunc 2>/dev/null
    local t0; t0=$(now)
    "$harness" --disk "$tmp/disk0.img" --disk "$tmp/disk1.img" -- \
        'echo wrote-through-$DISK0 | dd of=$DISK0 bs=512 conv=sync 2>/dev/null; head -c 11 $DISK1; echo' \
        >"$tmp/out-disk" 2>"$tmp/err-disk"
    local rc=$?
    echo "# --disk boot: $(elapsed "$t0") s"
    result "$([ "$rc" = 0 ] && grep -aq '^wrote-through-' "$tmp/disk0.img" && echo 0 || echo 1)" \
        "--disk: what the command writes to \$DISK0 is in the file afterwards (got $rc: $(head -c 40 "$tmp/disk0.img" | tr -d '\0'))"
    assert "--disk: the second file is \$DISK1, read whole" grep -aqx 'second-disk' "$tmp/out-disk"
    "$harness" --disk "$tmp/no-such.img" -- true >/dev/null 2>"$tmp/err-nodisk"
    rc=$?
    result "$([ "$rc" = 125 ] && grep -q 'not a readable and writable regular file' "$tmp/err-nodisk" && echo 0 || echo 1)" \
        "--disk of a missing file: exit 125 saying why (got $rc)"
}
disk_boot

# ---- emulated-path failures (one short boot + one timeout) ------------------
if command -v "${PVHBOOT_KVM_QEMU:-qemu-system-x86_64}" >/dev/null; then
    t0=$(now)
    PVHBOOT_KVM=emulated PVHBOOT_KVM_QEMU_CPU=max,-svm "$harness" -- 'echo must-not-run' >"$tmp/out-nosvm" 2>"$tmp/err-nosvm"
    rc=$?
    echo "# boot 2 (-cpu max,-svm): $(elapsed "$t0") s"
    result "$([ "$rc" = 125 ] && echo 0 || echo 1)" "KVM fails to load (-cpu max,-svm): exit 125 (got $rc)"
    assert "... the command did not run" test ! -s "$tmp/out-nosvm"
    assert "... stderr names the failure (insmod kvm-amd.ko failed)" grep -q 'KVM is not usable.*insmod kvm-amd.ko failed' "$tmp/err-nosvm"
    assert "... stderr carries the console log (kernel: no hardware support)" grep -q "no hardware support" "$tmp/err-nosvm"
    t0=$(now)
    PVHBOOT_KVM=emulated PVHBOOT_KVM_TIMEOUT=1 "$harness" -- 'sleep 100' >/dev/null 2>"$tmp/err-timeout"
    rc=$?
    echo "# timeout case: $(elapsed "$t0") s"
    result "$([ "$rc" = 125 ] && grep -q 'within 1s' "$tmp/err-timeout" && echo 0 || echo 1)" \
        "no result within PVHBOOT_KVM_TIMEOUT: exit 125 saying so (got $rc)"
    host_path_boot
else
    for what in "KVM fails to load" "... the command did not run" "... stderr names the failure" \
        "... stderr carries the console log" "timeout" "host path: smoke checks" \
        "host path: exit status" "host path: stderr says host" "host path: auto picks host"; do
        n=$((n + 1)); echo "ok $n - $what # SKIP no QEMU here (the host's /dev/kvm is used)"
    done
fi
[ "$n" = "$total" ] || echo "# internal: printed $n results"
