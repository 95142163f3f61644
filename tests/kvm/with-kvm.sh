#!/usr/bin/env bash
# Runs a command where /dev/kvm works: on the host when its /dev/kvm is usable,
# else inside a QEMU-TCG emulated q35 machine (AMD SVM with nested paging, no CX16,
# Debian's cloud kernel with irqbypass/kvm/kvm-amd loaded, busybox userland).
#
#   tests/kvm/with-kvm.sh [--mem MB] [--cpus N] [--file PATH]... [--disk PATH]... -- COMMAND [ARG...]
#
# Each --disk PATH (a raw image, read and written in place) is a disk the
# command reaches as $DISK0, $DISK1, ...: the file itself on the host path;
# in the emulated machine an NVMe disk backed by the file (/dev/nvme0n1, ...),
# synced before the machine stops, so what the command wrote is in the file
# afterwards.
#
# COMMAND (the words joined by spaces, run with `sh -c`) runs in a directory
# holding each --file under its basename. Its stdout+stderr come back on our
# stdout, byte for byte; we exit with its status. Binaries passed in must be
# statically linked (checked). `# kvm: host` or `# kvm: emulated ...` goes to
# stderr. Exit 125, with the reason (and the emulated console log), when no
# KVM can be had, the machine does not boot, KVM does not load, or no result
# comes back within PVHBOOT_KVM_TIMEOUT seconds.
#
# Environment:
#   PVHBOOT_KVM=host|emulated    force a path (default: host if usable)
#   PVHBOOT_KVM_TIMEOUT          seconds for the emulated run (default 900)
#   PVHBOOT_KVM_QEMU             QEMU binary (default qemu-system-x86_64)
#   PVHBOOT_KVM_QEMU_CPU         QEMU -cpu value (default max,-cx16: QEMU 7.2's
#                                TCG corrupts RFLAGS around a nested guest's
#                                CMPXCHG16B; see docs/kvm-tests.md)
#   PVHBOOT_KVM_KERNEL_FLAVOUR   Debian kernel flavour (default cloud-amd64)
#   PVHBOOT_KVM_KERNEL_DIR       use this kernel dir (layout of debian-kernel.sh)
#   PVHBOOT_TEST_CACHE           cache dir (default ~/.cache/pvhboot-tests)
#   PVHBOOT_KVM_KEEP=1           keep the run's temp dir (path on stderr)
#   PVHBOOT_KVM_SYSMODULE        where loaded modules are listed (default
#                                /sys/module; tests point it elsewhere)
#   PVHBOOT_KVM_DEVICE           the host's KVM device (default /dev/kvm)
#
# A host /dev/kvm served by kvm_pvm alone (PVM: KVM without hardware
# virtualization, for guests built for it) is not used: it cannot emulate
# what unmodified guests do (LAR, Linux's boot), so `auto` emulates there and
# `host` refuses with the reason.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
mem=1024 cpus=1 files=() disks=()
timeout_s=${PVHBOOT_KVM_TIMEOUT:-900}
qemu=${PVHBOOT_KVM_QEMU:-qemu-system-x86_64}
qemu_cpu=${PVHBOOT_KVM_QEMU_CPU:-max,-cx16}
qemu_accel=${PVHBOOT_KVM_QEMU_ACCEL:-tcg}
flavour=${PVHBOOT_KVM_KERNEL_FLAVOUR:-cloud-amd64}
cache=${PVHBOOT_TEST_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/pvhboot-tests}
begin_marker=PVHBOOT-KVM-BEGIN end_marker=PVHBOOT-KVM-END fail_marker=PVHBOOT-KVM-FAIL

fail() { echo "with-kvm: $*" >&2; exit 125; }
usage() { fail "usage: with-kvm.sh [--mem MB] [--cpus N] [--file PATH]... [--disk PATH]... -- COMMAND [ARG...]"; }

parse_args() {
    while [ $# -gt 0 ]; do
        case $1 in
            --mem) [ $# -ge 2 ] || usage; mem=$2; shift 2 ;;
            --cpus) [ $# -ge 2 ] || usage; cpus=$2; shift 2 ;;
            --file) [ $# -ge 2 ] || usage; files+=("$2"); shift 2 ;;
            --disk) [ $# -ge 2 ] || usage; disks+=("$2"); shift 2 ;;
            --) shift; break ;;
            *) usage ;;
        esac
    done
    [ $# -gt 0 ] || usage
    [[ $mem =~ ^[1-9][0-9]*$ ]] || fail "--mem wants a number of MB, got '$mem'"
    [[ $cpus =~ ^[1-9][0-9]*$ ]] || fail "--cpus wants a positive count, got '$cpus'"
    [[ $timeout_s =~ ^[1-9][0-9]*$ ]] || fail "PVHBOOT_KVM_TIMEOUT wants seconds, got '$timeout_s'"
    command_text="$*"
}

# Refuses missing files, clashing basenames and dynamically linked ELF files
# (they would not run in the emulated machine's busybox-only userland).
check_files() {
    local f seen=" " name
    for f in "${files[@]+"${files[@]}"}"; do
        if [ ! -f "$f" ] || [ ! -r "$f" ]; then fail "--file $f: not a readable regular file"; fi
        name=$(basename "$f")
        case $name in *$'\n'*) fail "--file $f: a newline in the name is not supported" ;; esac
        [[ $seen == *" $name "* ]] && fail "--file $f: another --file has the basename $name"
        seen+="$name "
        [ "$(head -c 4 "$f" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ] || continue
        if readelf -lW "$f" 2>/dev/null | grep -q 'Requesting program interpreter' ||
            readelf -dW "$f" 2>/dev/null | grep -q '(NEEDED)'; then
            fail "--file $f: dynamically linked ELF; binaries run in the emulated machine must be static (link with -static or musl-gcc -static)"
        fi
    done
    for f in "${disks[@]+"${disks[@]}"}"; do
        [ -f "$f" ] && [ -r "$f" ] && [ -w "$f" ] || fail "--disk $f: not a readable and writable regular file"
        case $f in *,*) fail "--disk $f: a comma in the path is not supported (QEMU's -drive syntax)" ;; esac
    done
}

# DISK0=... lines for the command: the files themselves, or (emulated) the
# NVMe disks backed by them.
disk_env() {
    local i
    for i in "${!disks[@]}"; do
        if [ "$1" = host ]; then
            printf 'DISK%d=%s\n' "$i" "$(cd "$(dirname "${disks[$i]}")" && pwd)/$(basename "${disks[$i]}")"
        else
            printf 'DISK%d=/dev/nvme%dn1\n' "$i" "$i"
        fi
    done
}

# QEMU's arguments for the emulated machine's disks: NVMe (built into
# Debian's cloud kernel), writeback through the host's page cache.
disk_qemu_args() {
    local i
    for i in "${!disks[@]}"; do
        printf '%s\n' -drive "file=${disks[$i]},if=none,id=disk$i,format=raw,cache=writeback,discard=unmap" \
            -device "nvme,serial=pvhdisk$i,drive=disk$i"
    done
}

# True when /dev/kvm is hardware KVM (kvm_intel or kvm_amd, or no module
# list to tell), not PVM alone.
host_kvm_hardware() {
    local mods=${PVHBOOT_KVM_SYSMODULE:-/sys/module}
    [ -d "$mods/kvm_intel" ] || [ -d "$mods/kvm_amd" ] || [ ! -d "$mods/kvm_pvm" ]
}

# True when /dev/kvm opens read-write, KVM_GET_API_VERSION answers 12 and it
# is hardware KVM; why_not says why when it is not.
why_not=
host_kvm_usable() {
    local dev=${PVHBOOT_KVM_DEVICE:-/dev/kvm}
    why_not="$dev is missing or unusable (open O_RDWR + KVM_GET_API_VERSION)"
    [ -c "$dev" ] && [ -r "$dev" ] && [ -w "$dev" ] || return 1
    if ! host_kvm_hardware; then
        why_not="$dev is served by kvm_pvm (PVM, no hardware virtualization): it runs only guests built for PVM"
        return 1
    fi
    command -v python3 >/dev/null || return 0
    KVM_DEV=$dev python3 - <<'EOF' 2>/dev/null
import fcntl, os, sys
fd = os.open(os.environ["KVM_DEV"], os.O_RDWR | os.O_CLOEXEC)
sys.exit(0 if fcntl.ioctl(fd, 0xAE00) == 12 else 1)
EOF
}

make_workdir() {
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/with-kvm.XXXXXX") || fail "cannot create a temp dir"
    if [ "${PVHBOOT_KVM_KEEP:-0}" = 1 ]; then
        echo "with-kvm: keeping $tmp" >&2
    else
        trap 'rm -rf "$tmp"' EXIT
        trap 'exit 130' INT
        trap 'exit 143' TERM
    fi
    mkdir -p "$tmp/work"
    local f
    for f in "${files[@]+"${files[@]}"}"; do
        ln -s "$(cd "$(dirname "$f")" && pwd)/$(basename "$f")" "$tmp/work/$(basename "$f")"
    done
}

run_on_host() {
    echo "# kvm: host (/dev/kvm)" >&2
    make_workdir
    (cd "$tmp/work" && set -a && eval "$(disk_env host)" && set +a && exec sh -c "$command_text" 2>&1 </dev/null)
    exit $?
}

# ---- emulated path ----------------------------------------------------------

# The emulated machine's /init. It reports on the console (ttyS0) with markers
# and sends the command's output to the second serial port (ttyS1), raw, so
# that kernel messages never mix with it. Should `reboot -f` fail, init exits:
# the kernel panics and panic=-1 restarts, which QEMU's -no-reboot ends.
init_script() {
    cat <<'EOF'
#!/bin/busybox sh
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/work TMPDIR=/tmp
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mkdir -p /dev/shm && mount -t tmpfs tmpfs /dev/shm
die() {
    echo "PVHBOOT-KVM-FAIL $*"
    dmesg | tail -n 40
    reboot -f
    exit 1
}
for m in irqbypass kvm kvm-amd; do
    insmod /modules/$m.ko || die "insmod $m.ko failed"
done
[ -c /dev/kvm ] || die "no /dev/kvm after loading kvm-amd"
/bin/kvm-pin || die "kvm-pin failed (a VM held for the whole run: tests/kvm/kvm-pin.c says why)"
[ -c /dev/ttyS1 ] || die "no /dev/ttyS1 for the command's output"
stty -F /dev/ttyS1 raw -echo -onlcr || die "stty on /dev/ttyS1 failed"
set -a; . /disks; set +a
for d in $(sed 's/^[^=]*=//' /disks); do
    n=0
    while [ ! -b "$d" ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
    [ -b "$d" ] || die "no disk $d"
done
echo "PVHBOOT-KVM-BEGIN"
cd /work && sh -c "$(cat /cmd)" >/dev/ttyS1 2>&1 </dev/null
status=$?
sync
cd /
: >/dev/ttyS1
echo "PVHBOOT-KVM-END $status END"
reboot -f
exit 1
EOF
}

ensure_tools() {
    local missing=()
    command -v "$qemu" >/dev/null || missing+=(qemu-system-x86)
    command -v busybox >/dev/null || [ -x /bin/busybox ] || missing+=(busybox-static)
    command -v cpio >/dev/null || missing+=(cpio)
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ -z "${PVHBOOT_KVM_QEMU:-}" ]; then
        echo "with-kvm: installing ${missing[*]}" >&2
        "$root/tests/lib/install-deps.sh" >&2 || true
    fi
    command -v "$qemu" >/dev/null || fail "no usable /dev/kvm on this host and no QEMU ($qemu) to emulate one; install qemu-system-x86 (tests/lib/install-deps.sh) or run on a host with /dev/kvm"
    command -v cpio >/dev/null || fail "cpio is missing (apt-get install cpio)"
}

# The kernel cache dir from tests/lib/debian-kernel.sh; its answer is kept for
# a day (resolving the package with apt-cache costs ~1 s per run).
kernel_dir() {
    local memo=$cache/kvm-initramfs/kernel-$flavour dir
    if [ -n "${PVHBOOT_KVM_KERNEL_DIR:-}" ]; then
        dir=$PVHBOOT_KVM_KERNEL_DIR
    elif [ -n "$(find "$memo" -mmin -1440 2>/dev/null)" ] && dir=$(cat "$memo") && kernel_dir_complete "$dir"; then
        :
    else
        dir=$("$root/tests/lib/debian-kernel.sh" "$flavour") || fail "cannot get Debian's $flavour kernel (tests/lib/debian-kernel.sh)"
        mkdir -p "$cache/kvm-initramfs" && echo "$dir" >"$memo.$$" && mv "$memo.$$" "$memo"
    fi
    kernel_dir_complete "$dir" || fail "kernel dir $dir lacks vmlinuz, version or modules/{irqbypass,kvm,kvm-amd}.ko"
    echo "$dir"
}

kernel_dir_complete() {
    [ -s "$1/vmlinuz" ] && [ -s "$1/version" ] && [ -s "$1/modules/irqbypass.ko" ] &&
        [ -s "$1/modules/kvm.ko" ] && [ -s "$1/modules/kvm-amd.ko" ]
}

busybox_path() {
    local b
    for b in /bin/busybox /usr/bin/busybox "$(command -v busybox)"; do
        [ -x "$b" ] || continue
        if ! readelf -lW "$b" 2>/dev/null | grep -q 'program interpreter'; then echo "$b"; return; fi
    done
    fail "no static busybox found (apt-get install busybox-static)"
}

# Builds (once, cached) the base initramfs: busybox with its applet links,
# the three KVM modules, tests/kvm/kvm-pin (a VM held for the whole run, so
# that KVM's APIC static key is not rewritten under running CPUs: a QEMU TCG
# hang, see that file) and /init.
base_initramfs() {
    local kdir=$1 bb key out stage
    bb=$(busybox_path)
    key=$( { init_script; cat "$kdir/version"; sha256sum "$bb" "$kdir"/modules/*.ko "$root/tests/kvm/kvm-pin.c"; } |
        sha256sum | cut -c1-16)
    out=$cache/kvm-initramfs/base-$key.cpio
    if [ ! -s "$out" ]; then
        mkdir -p "$cache/kvm-initramfs" || fail "cannot create $cache/kvm-initramfs"
        stage=$(mktemp -d "$cache/kvm-initramfs/stage.XXXXXX")
        (
            set -e
            cd "$stage"
            mkdir -p bin sbin usr/bin usr/sbin dev proc sys tmp work modules
            cp "$bb" bin/busybox
            for link in $(bin/busybox --list-full); do
                [ -e "$link" ] || ln -s /bin/busybox "$link"
            done
            cp "$kdir"/modules/irqbypass.ko "$kdir"/modules/kvm.ko "$kdir"/modules/kvm-amd.ko modules/
            cc -static -O2 -Wall -Wextra -Werror -o bin/kvm-pin "$root/tests/kvm/kvm-pin.c"
            init_script >init && chmod 755 init
            find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet >"$out.$$"
            mv "$out.$$" "$out"
        ) || { rm -rf "$stage"; fail "building the base initramfs in $cache/kvm-initramfs failed"; }
        rm -rf "$stage"
    fi
    echo "$out"
}

# The per-run archive: /work with the files (dereferenced) and /cmd.
run_initramfs() {
    (
        set -e
        mkdir -p "$tmp/run"
        mv "$tmp/work" "$tmp/run/work"
        printf '%s' "$command_text" >"$tmp/run/cmd"
        disk_env emulated >"$tmp/run/disks"
        cd "$tmp/run"
        find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 -L --quiet >"$tmp/run.cpio"
    ) || fail "building the per-run initramfs failed"
}

console_tail() {
    echo "with-kvm: ---- emulated machine console (last 150 lines) ----" >&2
    tr -d '\r' <"$tmp/console" 2>/dev/null | tail -n 150 >&2
    if [ -s "$tmp/qemu.err" ]; then
        echo "with-kvm: ---- qemu stderr ----" >&2
        tail -n 20 "$tmp/qemu.err" >&2
    fi
    echo "with-kvm: ---- end ----" >&2
}

run_emulated() {
    ensure_tools
    local kdir base status rc t0 t1
    kdir=$(kernel_dir)
    base=$(base_initramfs "$kdir")
    make_workdir
    run_initramfs
    cat "$base" "$tmp/run.cpio" >"$tmp/initrd" || fail "cannot write $tmp/initrd"
    echo "# kvm: emulated (qemu TCG -cpu $qemu_cpu, q35, $mem MB, $cpus cpu, $(cat "$kdir/version"))" >&2
    : >"$tmp/console"; : >"$tmp/out"
    t0=$(date +%s.%N)
    local disk_args=()
    mapfile -t disk_args < <(disk_qemu_args)
    timeout -k 5 "$timeout_s" "$qemu" -accel "$qemu_accel" -cpu "$qemu_cpu" -M q35 -m "$mem" -smp "$cpus" \
        -nodefaults -display none -no-reboot -no-user-config "${disk_args[@]+"${disk_args[@]}"}" \
        -serial "file:$tmp/console" -serial "file:$tmp/out" \
        -kernel "$kdir/vmlinuz" -initrd "$tmp/initrd" \
        -append "console=ttyS0 quiet reboot=k panic=-1" \
        </dev/null >"$tmp/qemu.err" 2>&1
    rc=$?
    t1=$(date +%s.%N)
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        console_tail
        fail "no result from the emulated machine within ${timeout_s}s (PVHBOOT_KVM_TIMEOUT)"
    fi
    if grep -aq "$fail_marker" "$tmp/console"; then
        console_tail
        fail "KVM is not usable in the emulated machine: $(grep -a "$fail_marker" "$tmp/console" | head -1 | tr -d '\r' | sed "s/.*$fail_marker //")"
    fi
    status=$(grep -aoE "$end_marker [0-9]+ END" "$tmp/console" | tail -1 | cut -d' ' -f2)
    if [ -z "$status" ]; then
        console_tail
        if grep -aq "$begin_marker" "$tmp/console"; then
            fail "the emulated machine stopped while the command ran (qemu exit $rc, no end marker)"
        fi
        local initrd_mb=$(( $(wc -c <"$tmp/initrd") / 1048576 ))
        fail "the emulated machine did not boot to its init (qemu exit $rc; initramfs $initrd_mb MB in --mem $mem MB: give it at least twice that plus 200)"
    fi
    cat "$tmp/out"
    printf '# kvm: emulated run took %.1f s\n' "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" >&2
    exit "$status"
}

main() {
    parse_args "$@"
    check_files
    case ${PVHBOOT_KVM:-auto} in
        host) host_kvm_usable || fail "PVHBOOT_KVM=host but $why_not"; run_on_host ;;
        emulated) run_emulated ;;
        auto) if host_kvm_usable; then run_on_host; else
                  [ -c "${PVHBOOT_KVM_DEVICE:-/dev/kvm}" ] && echo "# kvm: not the host's: $why_not" >&2
                  run_emulated
              fi ;;
        *) fail "PVHBOOT_KVM must be host or emulated, got '${PVHBOOT_KVM}'" ;;
    esac
}

main "$@"
