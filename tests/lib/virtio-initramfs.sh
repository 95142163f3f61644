#!/usr/bin/env bash
# Writes a busybox initramfs (uncompressed newc cpio) that loads the virtio
# modules of a Debian kernel with plain insmod, runs a test program, and
# powers off:
#
#   tests/lib/virtio-initramfs.sh KERNEL_DIR OUT [--init FILE] [--file SRC:DEST]...
#
# KERNEL_DIR is a directory from tests/lib/debian-kernel.sh or
# tests/lib/debian-rootfs.sh; its `version` file names the kernel package
# whose modules are used (the same package as the kernel booted). The
# modules wanted are virtio_ring, virtio, virtio_mmio, virtio_blk, virtio-rng,
# virtio_console, virtio_net (with failover, net_failover) and the vsock ones
# (vsock, vmw_vsock_virtio_transport_common, vmw_vsock_virtio_transport);
# those the kernel has built in (its modules.builtin) are left out, the rest
# are loaded after what their modinfo `depends=` names. .ko.xz and .ko.zst
# modules are decompressed here, so busybox insmod only sees plain ELF.
#
# /init mounts /proc, /sys, /dev (devtmpfs), loads the modules, printing
# `VIRTIO-INITRAMFS insmod NAME` or `VIRTIO-INITRAMFS-INSMOD-FAIL NAME`, runs
# the test program (/test-init: FILE from --init, else a default that prints
# the virtio devices, /proc/partitions and the hwrng; it sees
# VIRTIO_INITRAMFS_FAILED=number of failed insmods), prints
# `VIRTIO-INITRAMFS-DONE status=N` with its exit status, and `poweroff -f`.
# --file SRC:DEST adds any file (e.g. a static test program) at DEST.
#
# Cached in $PVHBOOT_TEST_CACHE/virtio-initramfs (default
# ~/.cache/pvhboot-tests): the package's modules per package, and the base
# archive (busybox, modules, /init, default test) keyed by their hash; OUT is
# the base archive followed by a second small archive with --init/--file,
# which Linux unpacks over the first.
set -euo pipefail
cache=${PVHBOOT_TEST_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/pvhboot-tests}
wanted="virtio_ring virtio virtio_mmio virtio_blk virtio-rng virtio_console
        failover net_failover virtio_net
        vsock vmw_vsock_virtio_transport_common vmw_vsock_virtio_transport"

die() { echo "virtio-initramfs: $*" >&2; exit 1; }
usage() { die "usage: virtio-initramfs.sh KERNEL_DIR OUT [--init FILE] [--file SRC:DEST]..."; }

parse_args() {
    [ $# -ge 2 ] || usage
    kdir=$1 out=$2
    shift 2
    init_file='' extras=()
    while [ $# -gt 0 ]; do
        case $1 in
            --init) [ $# -ge 2 ] || usage; init_file=$2; shift 2 ;;
            --file) [ $# -ge 2 ] || usage; extras+=("$2"); shift 2 ;;
            *) usage ;;
        esac
    done
    [ -s "$kdir/version" ] || die "$kdir/version missing (want a dir from tests/lib/debian-kernel.sh)"
    pkg=$(cat "$kdir/version")
    [[ $pkg =~ ^linux-image-[0-9A-Za-z.+~-]+$ ]] || die "$kdir/version: '$pkg' is not a kernel package name"
    [ -z "$init_file" ] || [ -f "$init_file" ] || die "--init $init_file: no such file"
}

busybox_path() {
    local b
    for b in /bin/busybox /usr/bin/busybox; do
        [ -x "$b" ] && ! readelf -lW "$b" 2>/dev/null | grep -q 'program interpreter' && { echo "$b"; return; }
    done
    die "no static busybox (apt-get install busybox-static; tests/lib/install-deps.sh)"
}

# apt-get download PKG into $1: the system's lists first, then the private
# ones tests/lib/debian-kernel.sh keeps for other suites.
download_package() {
    local d=$1 lists
    (cd "$d" && apt-get download "$pkg" >/dev/null 2>&1) && return 0
    for lists in "$cache"/apt-*/; do
        [ -s "$lists/sources.list" ] || continue
        (cd "$d" && apt-get -o "Dir::Etc::sourcelist=$lists/sources.list" -o Dir::Etc::sourceparts=- \
            -o "Dir::State::Lists=$lists/lists" download "$pkg" >/dev/null 2>&1) && return 0
    done
    die "apt-get download $pkg failed"
}

depends_of() { tr '\0' '\n' <"$1" | sed -n 's/^depends=//p' | head -n 1 | tr ',' ' '; }

# Appends NAME's modules to the load order, its depends= first.
add_module() {
    local name=$1 f base dep
    [[ " $order " == *" $name "* ]] && return 0
    base=$(find "$tree" -name "$name.ko*" | head -n 1)
    if [ -z "$base" ]; then
        grep -q "/${name//-/[-_]}\.ko\$" "$tree/modules.builtin" && return 0
        die "$pkg has no module $name, built in or not"
    fi
    f=$mods.tmp/$name.ko
    case $base in
        *.ko) cp "$base" "$f" ;;
        *.ko.xz) xz -dc "$base" >"$f" ;;
        *.ko.zst) zstd -qdc "$base" >"$f" ;;
        *) die "$base: unknown module compression" ;;
    esac
    for dep in $(depends_of "$f"); do add_module "$dep"; done
    order+="$name "
}

# $cache/virtio-initramfs/modules-PKG/: NAME.ko files and `order`.
package_modules() {
    mods=$cache/virtio-initramfs/modules-$pkg
    [ -s "$mods/order" ] && return 0
    rm -rf "$mods.tmp" && mkdir -p "$mods.tmp/deb"
    download_package "$mods.tmp/deb"
    dpkg-deb -x "$mods.tmp"/deb/*.deb "$mods.tmp/root"
    tree=$(ls -d "$mods.tmp"/root/lib/modules/* 2>/dev/null | head -n 1)
    [ -d "$tree/kernel" ] || die "$pkg: no lib/modules/*/kernel"
    order=" "
    local m
    for m in $wanted; do add_module "$m"; done
    echo $order >"$mods.tmp/order"
    rm -rf "$mods.tmp/deb" "$mods.tmp/root" "$mods"
    mv "$mods.tmp" "$mods"
}

init_script() {
    cat <<'EOF'
#!/bin/busybox sh
# pvhboot tests/lib/virtio-initramfs.sh: load the virtio modules, run
# /test-init, power off.
export PATH=/bin
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
failed=0
for m in $(cat /lib/modules/order); do
    if insmod /lib/modules/$m.ko; then
        echo "VIRTIO-INITRAMFS insmod $m"
    else
        echo "VIRTIO-INITRAMFS-INSMOD-FAIL $m"
        failed=$((failed + 1))
    fi
done
export VIRTIO_INITRAMFS_FAILED=$failed
# console=hvc0 (virtio-console) exists only now that its module is loaded:
# open /dev/console again, so that what follows goes there.
[ -c /dev/hvc0 ] && exec </dev/console >/dev/console 2>&1
/test-init
echo "VIRTIO-INITRAMFS-DONE status=$?"
sync
poweroff -f
EOF
}

default_test() {
    cat <<'EOF'
#!/bin/sh
# Default test program: what the kernel found.
for d in /sys/bus/virtio/devices/*; do
    [ -e "$d/device" ] || continue
    drv=$(basename "$(readlink "$d/driver" 2>/dev/null)" 2>/dev/null)
    echo "VIRTIO-DEVICE $(basename "$d") device=$(cat "$d/device") vendor=$(cat "$d/vendor") driver=${drv:-none} parent=$(basename "$(readlink -f "$d/..")")"
done
echo "VIRTIO-PARTITIONS"
cat /proc/partitions
echo "VIRTIO-HWRNG current=$(cat /sys/class/misc/hw_random/rng_current 2>/dev/null || echo none) available=$(cat /sys/class/misc/hw_random/rng_available 2>/dev/null)"
[ "$VIRTIO_INITRAMFS_FAILED" = 0 ]
EOF
}

# The base archive: busybox with applet links, modules, /init, default test.
base_archive() {
    local bb key stage m
    bb=$(busybox_path)
    key=$( { init_script; default_test; cat "$mods/order"; sha256sum "$bb" "$mods"/*.ko; } |
        sha256sum | cut -c1-16)
    base=$cache/virtio-initramfs/base-$key.cpio
    [ -s "$base" ] && return 0
    stage=$(mktemp -d "$cache/virtio-initramfs/stage.XXXXXX")
    mkdir -p "$stage"/{bin,dev,proc,sys,tmp,lib/modules}
    cp "$bb" "$stage/bin/busybox"
    for m in $("$bb" --list); do [ "$m" = busybox ] || ln -s busybox "$stage/bin/$m"; done
    cp "$mods"/*.ko "$mods/order" "$stage/lib/modules/"
    init_script >"$stage/init" && default_test >"$stage/test-init"
    chmod 755 "$stage/init" "$stage/test-init"
    (cd "$stage" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$base.$$"
    rm -rf "$stage"
    mv "$base.$$" "$base"
}

# The second archive: --init as /test-init, each --file SRC:DEST.
extras_archive() {
    local stage=$1 spec src dest
    if [ -n "$init_file" ]; then cp "$init_file" "$stage/test-init" && chmod 755 "$stage/test-init"; fi
    for spec in "${extras[@]+"${extras[@]}"}"; do
        src=${spec%%:*} dest=${spec#*:}
        [ "$src" != "$spec" ] && [ -n "$dest" ] || die "--file $spec: want SRC:DEST"
        [ -f "$src" ] || die "--file $spec: $src is not a file"
        dest=/${dest#/}
        mkdir -p "$stage$(dirname "$dest")"
        cp -p "$src" "$stage$dest"
    done
    (cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet)
}

main() {
    parse_args "$@"
    command -v cpio >/dev/null || die "cpio is missing (tests/lib/install-deps.sh)"
    mkdir -p "$cache/virtio-initramfs"
    exec 9>"$cache/virtio-initramfs/lock"
    flock 9
    package_modules
    base_archive
    flock -u 9
    stage=$(mktemp -d)
    trap 'rm -rf "$stage" "$out.tmp.$$"' EXIT
    { cat "$base"; extras_archive "$stage"; } >"$out.tmp.$$"
    mv "$out.tmp.$$" "$out"
}

main "$@"
