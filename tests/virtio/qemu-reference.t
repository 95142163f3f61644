#!/usr/bin/env bash
# The virtio test images proved against QEMU, independent of pvhboot: QEMU TCG
# on the host, -M microvm with ACPI on and auto-kernel-cmdline=off, so Debian's
# kernels can only find the virtio-mmio devices through the DSDT's LNRO0005
# entries (the way pvhboot describes them).
#  (a) Debian's 6.1 cloud kernel with tests/lib/virtio-initramfs.sh: two
#      virtio-blk disks (one read-only) and a virtio-rng; the guest reads a
#      file from the read-only ext4 disk (mkfs.ext4 -d), is refused a write
#      to it, and writes a copy of it, a text and hwrng bytes to the other;
#      the host reads them back with debugfs; a line written to /dev/hvc0
#      (virtio-serial, virtconsole) reaches the host's file.
#  (a2) the same builder for Debian's 6.12 cloud kernel (.ko.xz modules,
#      virtio core built in), with its default test program.
#  (b) tests/lib/debian-rootfs.sh's Debian bookworm on a copy of its image,
#      with its own initramfs-tools initrd: root=/dev/vda, systemd up to
#      multi-user.target and the ttyS0 login prompt, pvhboot-marker.service
#      writes its marker and powers off (QEMU exits 0); the host reads the
#      marker out of the image with debugfs, byte for byte what the guest
#      printed, with this run's nonce.
# Each boot's wall time is printed as a TAP comment. Under TCG the guest
# needs tsc_early_khz= (microvm has no HPET, PM timer or port 0x61 to
# calibrate the TSC against; without it Linux 6.1 hangs after "tsc: Marking
# TSC unstable"); the value is this host's TSC rate from /proc/cpuinfo. The
# CPU is max,-cx16: QEMU 7.2's TCG corrupts RFLAGS around CMPXCHG16B, which
# oopsed Linux 6.12 here (exc_debug_kernel warning, then a NULL RIP) in one
# of the first two boots of (a2) with plain max; see docs/kvm-tests.md.
# PVHBOOT_QEMU_REF_KEEP=1 keeps the work directory (path on stderr).
# shellcheck disable=SC2034  # known_sha, pristine, ...: read by check's eval
set -u
cd "$(dirname "$0")/../.." || exit 1
work=$(mktemp -d)
if [ "${PVHBOOT_QEMU_REF_KEEP:-0}" = 1 ]; then echo "keeping $work" >&2; else trap 'rm -rf "$work"' EXIT; fi
n=0
fail_all() { echo "1..1"; echo "not ok 1 - $*"; exit 1; }
check() { n=$((n + 1)); if eval "$1"; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }
show_tail() { echo "# last lines of $1:"; tail -n "${2:-15}" "$1" | cut -c1-200 | sed 's/^/#   /'; }

tests/lib/install-deps.sh >&2 || true
for t in qemu-system-x86_64 mkfs.ext4 debugfs e2fsck cpio; do
    command -v "$t" >/dev/null || fail_all "$t is missing (tests/lib/install-deps.sh)"
done
tsc_khz=$(awk -F: '/^cpu MHz/ { printf "%d", $2 * 1000; exit }' /proc/cpuinfo)
[ -n "$tsc_khz" ] && [ "$tsc_khz" -gt 0 ] || tsc_khz=2000000
nonce=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')

# qemu LOG TIMEOUT MEM KERNEL INITRD CMDLINE [QEMU ARG...]: sets rc, secs.
qemu() {
    local log=$1 limit=$2 mem=$3 kernel=$4 initrd=$5 cmdline=$6 t0
    shift 6
    t0=$(date +%s.%N)
    timeout "$limit" qemu-system-x86_64 -M microvm,acpi=on,auto-kernel-cmdline=off -accel tcg -cpu max,-cx16 \
        -m "$mem" -smp 1 -nodefaults -no-user-config -nographic -serial stdio -no-reboot \
        -kernel "$kernel" -initrd "$initrd" -append "$cmdline tsc_early_khz=$tsc_khz" "$@" \
        </dev/null 2>&1 | tr -d '\r' >"$log"
    rc=${PIPESTATUS[0]}
    secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
}

# ---- (a) busybox initramfs on the 6.1 cloud kernel --------------------------
boot_initramfs() {
    k61=$(tests/lib/debian-kernel.sh) || fail_all "cannot fetch Debian's 6.1 cloud kernel"
    mkdir -p "$work/ro/data" "$work/rw"
    head -c 65536 /dev/urandom >"$work/ro/data/known.bin"
    known_sha=$(sha256sum <"$work/ro/data/known.bin" | cut -c1-64)
    mkfs.ext4 -q -F -L pvh-ro -d "$work/ro" "$work/ro.img" 16M >/dev/null 2>&1 || fail_all "mkfs.ext4 -d ro.img"
    mkfs.ext4 -q -F -L pvh-rw "$work/rw.img" 24M >/dev/null 2>&1 || fail_all "mkfs.ext4 rw.img"
    cat >"$work/test.sh" <<EOF
#!/bin/sh
# The guest side of qemu-reference.t (a).
echo "REF-CMDLINE \$(cat /proc/cmdline)"
for d in /sys/bus/virtio/devices/*; do
    echo "REF-DEV \$(basename \$d) device=\$(cat \$d/device) driver=\$(basename \$(readlink \$d/driver)) parent=\$(basename \$(readlink -f \$d/..))"
done
for a in /sys/bus/acpi/devices/LNRO0005:*; do echo "REF-ACPI \$(basename \$a) hid=\$(cat \$a/hid) path=\$(cat \$a/path)"; done
grep LNRO0005 /proc/iomem | sed 's/^ */REF-IOMEM /'
grep virtio /proc/interrupts | awk '{ print "REF-IRQ", \$NF, \$(NF-2), \$(NF-1) }'
for b in /sys/block/vd*; do
    echo "REF-DISK \$(basename \$b) serial=\$(cat \$b/serial) ro=\$(cat \$b/ro) sectors=\$(cat \$b/size)"
    [ "\$(cat \$b/serial)" = pvh-ro ] && ro=/dev/\$(basename \$b)
    [ "\$(cat \$b/serial)" = pvh-rw ] && rw=/dev/\$(basename \$b)
done
mkdir -p /ro /rw
mount -t ext4 -o ro "\$ro" /ro && echo "REF-RO-SHA \$(sha256sum </ro/data/known.bin | cut -c1-64)"
dd if=/dev/zero of="\$ro" bs=4096 count=1 seek=100 conv=fsync 2>/dev/null && echo "REF-RO-WRITE accepted" || echo "REF-RO-WRITE refused"
mount -t ext4 "\$rw" /rw || exit 1
mkdir -p /rw/out
cp /ro/data/known.bin /rw/out/copy.bin
echo "written by the guest, nonce $nonce" >/rw/out/guest.txt
echo "REF-HWRNG current=\$(cat /sys/class/misc/hw_random/rng_current)"
head -c 64 /dev/hwrng >/rw/out/rng.bin && echo "REF-RNG-SHA \$(sha256sum </rw/out/rng.bin | cut -c1-64)"
echo "hello over hvc0, nonce $nonce" >/dev/hvc0 && echo "REF-HVC0 written"
umount /rw && umount /ro && echo "REF-UNMOUNTED"
EOF
    tests/lib/virtio-initramfs.sh "$k61" "$work/a.cpio" --init "$work/test.sh" || fail_all "tests/lib/virtio-initramfs.sh failed"
    qemu "$work/a.log" 120 256 "$k61/vmlinuz" "$work/a.cpio" "console=ttyS0 panic=-1" \
        -drive id=ro,file="$work/ro.img",format=raw,if=none,readonly=on -device virtio-blk-device,drive=ro,serial=pvh-ro \
        -drive id=rw,file="$work/rw.img",format=raw,if=none -device virtio-blk-device,drive=rw,serial=pvh-rw \
        -device virtio-rng-device \
        -device virtio-serial-device -chardev file,id=vc,path="$work/hvc0.txt" -device virtconsole,chardev=vc
    echo "# (a) busybox initramfs, $(cat "$k61/version"): QEMU TCG boot to power-off took $secs s (exit $rc)"
}

check_initramfs() {
    local a=$work/a.log
    check '[ "$rc" = 0 ] && grep -q "^VIRTIO-INITRAMFS-DONE status=0" "$a" && grep -q "reboot: Power down" "$a"' \
        "(a) the initramfs ran its test and powered off; QEMU exit 0 (got $rc)"
    [ "$rc" = 0 ] || show_tail "$a" 25
    check '[ "$(grep -c "^VIRTIO-INITRAMFS insmod " "$a")" = 12 ] && ! grep -q INSMOD-FAIL "$a"' \
        "(a) insmod of the 12 virtio modules (ring, core, mmio, blk, rng, console, net, vsock) succeeded"
    check 'grep -q "^REF-CMDLINE " "$a" && ! grep "^REF-CMDLINE " "$a" | grep -q virtio_mmio' \
        "(a) no virtio_mmio.device= on the command line: the devices come from ACPI only"
    check '[ "$(grep -cE "^REF-DEV virtio[0-9]+ device=0x0002 driver=virtio_blk parent=LNRO0005:[0-9a-f]+$" "$a")" = 2 ] &&
           [ "$(grep -cE "^REF-DEV virtio[0-9]+ device=0x0004 driver=virtio_rng parent=LNRO0005:[0-9a-f]+$" "$a")" = 1 ] &&
           [ "$(grep -cE "^REF-DEV virtio[0-9]+ device=0x0003 driver=virtio_console parent=LNRO0005:[0-9a-f]+$" "$a")" = 1 ] &&
           [ "$(grep -c "^REF-DEV " "$a")" = 4 ]' \
        "(a) two virtio-blk, a virtio-rng and a virtio-serial, each bound, each on an ACPI LNRO0005 platform device"
    check '[ "$(grep -cE "^REF-ACPI LNRO0005:[0-9a-f]+ hid=LNRO0005 path=\\\\_SB_\.VR[0-9]+$" "$a")" = 4 ] &&
           [ "$(grep -cE "^REF-IOMEM [0-9a-f]+-[0-9a-f]+ : LNRO0005:[0-9a-f]+$" "$a")" = 4 ] &&
           [ "$(grep -cE "^REF-IRQ virtio[0-9] " "$a")" = 4 ]' \
        "(a) four LNRO0005 devices in the DSDT, each with its MMIO window (/proc/iomem) and interrupt (/proc/interrupts)"
    check 'grep -qE "^REF-DISK vd[a-z] serial=pvh-ro ro=1 sectors=32768$" "$a" &&
           grep -qE "^REF-DISK vd[a-z] serial=pvh-rw ro=0 sectors=49152$" "$a"' \
        "(a) disks: pvh-ro read-only 16 MiB, pvh-rw writable 24 MiB"
    check 'grep -qx "REF-RO-SHA $known_sha" "$a"' "(a) the known file read from the read-only ext4 disk has the host's SHA-256"
    check 'grep -qx "REF-RO-WRITE refused" "$a"' "(a) a write to the read-only disk is refused"
    debugfs -R 'cat /out/copy.bin' "$work/rw.img" >"$work/copy.bin" 2>/dev/null
    check 'cmp -s "$work/copy.bin" "$work/ro/data/known.bin"' \
        "(a) debugfs on the host reads back the guest's copy, byte for byte (65536 bytes)"
    check '[ "$(debugfs -R "cat /out/guest.txt" "$work/rw.img" 2>/dev/null)" = "written by the guest, nonce $nonce" ]' \
        "(a) debugfs reads back the text the guest wrote, with this run's nonce"
    debugfs -R 'cat /out/rng.bin' "$work/rw.img" >"$work/rng.bin" 2>/dev/null
    check 'grep -qE "^REF-HWRNG current=virtio_rng\.[0-9]+$" "$a" && [ "$(stat -c %s "$work/rng.bin")" = 64 ] &&
           grep -qx "REF-RNG-SHA $(sha256sum <"$work/rng.bin" | cut -c1-64)" "$a" && [ "$(tr -d "\0" <"$work/rng.bin" | wc -c)" -gt 0 ]' \
        "(a) virtio-rng is the current hwrng; its 64 bytes reached the disk as the guest hashed them"
    check 'grep -qx "REF-HVC0 written" "$a" && [ "$(tr -d "\r" <"$work/hvc0.txt")" = "hello over hvc0, nonce $nonce" ]' \
        "(a) a line written to /dev/hvc0 (virtio_console) reached the host's chardev file"
    check 'grep -qx REF-UNMOUNTED "$a" && e2fsck -fn "$work/rw.img" >"$work/fsck.txt" 2>&1' \
        "(a) the written file system is clean (e2fsck -fn)"
}

# ---- (a2) the same initramfs builder on 6.12 (.ko.xz, virtio core built in) --
boot_initramfs_612() {
    k612=$(tests/lib/debian-kernel.sh cloud-amd64 bookworm-backports) || fail_all "cannot fetch Debian's 6.12 cloud kernel"
    tests/lib/virtio-initramfs.sh "$k612" "$work/a2.cpio" || fail_all "tests/lib/virtio-initramfs.sh (6.12) failed"
    modules612=$(wc -w <"${PVHBOOT_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pvhboot-tests}/virtio-initramfs/modules-$(cat "$k612/version")/order")
    qemu "$work/a2.log" 120 256 "$k612/vmlinuz" "$work/a2.cpio" "console=ttyS0 panic=-1" \
        -drive id=rw,file="$work/rw.img",format=raw,if=none -device virtio-blk-device,drive=rw,serial=pvh-rw \
        -device virtio-rng-device -device virtio-serial-device
    echo "# (a2) busybox initramfs (default test), $(cat "$k612/version"): QEMU TCG boot to power-off took $secs s (exit $rc)"
}

check_initramfs_612() {
    local a=$work/a2.log
    check '[ "$rc" = 0 ] && grep -q "^VIRTIO-INITRAMFS-DONE status=0" "$a" && [ "$(grep -c "^VIRTIO-INITRAMFS insmod " "$a")" = "$modules612" ] &&
           [ "$modules612" -ge 6 ] && ! grep -q INSMOD-FAIL "$a"' \
        "(a2) 6.12: the $modules612 decompressed .ko.xz modules loaded, the default test passed, QEMU exit 0 (got $rc)"
    [ "$rc" = 0 ] || show_tail "$a" 25
    check 'grep -qE "^VIRTIO-DEVICE virtio[0-9]+ device=0x0002 vendor=0x554d4551 driver=virtio_blk parent=LNRO0005:[0-9a-f]+$" "$a" &&
           grep -qE "^VIRTIO-DEVICE virtio[0-9]+ device=0x0004 vendor=0x554d4551 driver=virtio_rng parent=LNRO0005:[0-9a-f]+$" "$a" &&
           grep -qE "^VIRTIO-DEVICE virtio[0-9]+ device=0x0003 vendor=0x554d4551 driver=virtio_console parent=LNRO0005:[0-9a-f]+$" "$a" &&
           grep -qE "^ +254 +0 +24576 vda$" "$a" && grep -qE "^VIRTIO-HWRNG current=virtio_rng\.0 " "$a"' \
        "(a2) 6.12: blk, rng and console found through ACPI and bound; vda in /proc/partitions; hwrng virtio_rng.0"
}

# ---- (b) Debian bookworm with systemd, its own initrd ----------------------
boot_rootfs() {
    local t0=$SECONDS
    rootfs=$(tests/lib/debian-rootfs.sh) || fail_all "tests/lib/debian-rootfs.sh failed"
    echo "# (b) rootfs: $rootfs ($((SECONDS - t0)) s to get; built: $(tr '\n' ' ' <"$rootfs/stats.txt"))"
    cp --sparse=always "$rootfs/rootfs.img" "$work/root.img"
    pristine=$(debugfs -R 'stat /var/lib/pvhboot-test/marker' "$work/root.img" 2>&1)
    qemu "$work/b.log" 400 512 "$rootfs/vmlinuz" "$rootfs/initrd.img" \
        "console=ttyS0 root=/dev/vda ro panic=-1 pvhboot.nonce=$nonce" \
        -drive id=root,file="$work/root.img",format=raw,if=none -device virtio-blk-device,drive=root,serial=pvh-root \
        -device virtio-rng-device
    echo "# (b) Debian bookworm ($(cat "$rootfs/version"), systemd $(awk '$1 == "systemd" { print $2 }' "$rootfs/packages.txt")): QEMU TCG boot to power-off took $secs s (exit $rc)"
    grep -E "Run /init|EXT4-fs \(vda\): mounted|login:|PVHBOOT-MARKER-DONE|reboot: Power down" "$work/b.log" |
        cut -c1-120 | sed 's/^/#   /'
}

check_rootfs() {
    local b=$work/b.log kver
    kver=$(cat "$rootfs/version"); kver=${kver#linux-image-}
    check '[[ $pristine == *"File not found"* ]]' "(b) the fresh copy of the cached image has no marker yet"
    check '[ "$rc" = 0 ] && grep -q "reboot: Power down" "$b"' "(b) Debian powered itself off; QEMU exit 0 (got $rc)"
    [ "$rc" = 0 ] || show_tail "$b" 25
    check 'grep -q "virtio_blk virtio[0-9]*: \[vda\]" "$b" && grep -q "EXT4-fs (vda): mounted" "$b"' \
        "(b) Debian's initrd found the virtio-mmio disk through ACPI (udev, modalias) and mounted /dev/vda"
    check 'grep -q "^pvhboot-test login:" "$b"' "(b) the login prompt on ttyS0"
    sed -n 's/.*PVHBOOT-MARKER \(.*\)$/\1/p' "$b" >"$work/console-marker.txt"
    debugfs -R 'cat /var/lib/pvhboot-test/marker' "$work/root.img" >"$work/marker.txt" 2>/dev/null
    check '[ -s "$work/marker.txt" ] && cmp -s "$work/marker.txt" "$work/console-marker.txt" && grep -q PVHBOOT-MARKER-DONE "$b"' \
        "(b) debugfs reads the marker out of the image, byte for byte what the guest printed ($(stat -c %s "$work/marker.txt") bytes)"
    check '[ "$(head -n 2 "$work/marker.txt")" = "pvhboot-test marker v1
nonce=$nonce" ]' "(b) the marker has the fixed first line and this run's nonce"
    check 'grep -qx "multi-user.target=active" "$work/marker.txt"' "(b) systemd had reached multi-user.target when the marker was written"
    check 'grep -qx "root=/dev/vda ext4 rw" "$work/marker.txt" && grep -qx "kernel=$kver" "$work/marker.txt"' \
        "(b) / is /dev/vda, ext4, read-write; the kernel is $kver"
    check 'grep -qx "virtio=0x0002 0x0004" "$work/marker.txt" && grep -qE "^hwrng=virtio_rng\.[0-9]+$" "$work/marker.txt"' \
        "(b) udev loaded virtio-rng by modalias: devices 0x0002 (blk) and 0x0004 (rng), hwrng virtio_rng"
    check 'e2fsck -fn "$work/root.img" >"$work/fsck-root.txt" 2>&1' "(b) the root file system is clean after shutdown (e2fsck -fn)"
    check '[[ $(debugfs -R "stat /var/lib/pvhboot-test/marker" "$rootfs/rootfs.img" 2>&1) == *"File not found"* ]]' \
        "(b) the cached image stayed pristine"
}

boot_initramfs
check_initramfs
boot_initramfs_612
check_initramfs_612
boot_rootfs
check_rootfs
echo "1..$n"
