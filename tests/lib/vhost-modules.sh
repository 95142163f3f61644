#!/usr/bin/env bash
# Prints a directory holding the host-side vhost-vsock modules of a Debian
# kernel package, for the emulated machine (tests/kvm/with-kvm.sh boots that
# same package) to insmod before QEMU's -device vhost-vsock-device:
#
#   tests/lib/vhost-modules.sh KERNEL_DIR
#
# KERNEL_DIR comes from tests/lib/debian-kernel.sh (its `version` names the
# package). The directory holds vhost_iotlb.ko vhost.ko vsock.ko
# vmw_vsock_virtio_transport_common.ko vhost_vsock.ko (decompressed) and
# `order`, the insmod order (each after what its modinfo depends= names;
# those built in are left out). Cached in $PVHBOOT_TEST_CACHE/vhost-modules-PKG
# (default ~/.cache/pvhboot-tests); the package is taken from the cache's
# debs/ when there, else fetched with apt-get download. A separate cache from
# debian-kernel.sh's, which other suites share.
set -euo pipefail
cache=${PVHBOOT_TEST_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/pvhboot-tests}
wanted="vhost_iotlb vhost vsock vmw_vsock_virtio_transport_common vhost_vsock"
die() { echo "vhost-modules: $*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: vhost-modules.sh KERNEL_DIR"
[ -s "$1/version" ] || die "$1/version missing (want a dir from tests/lib/debian-kernel.sh)"
pkg=$(cat "$1/version")
[[ $pkg =~ ^linux-image-[0-9A-Za-z.+~-]+$ ]] || die "'$pkg' is not a kernel package name"
out=$cache/vhost-modules-$pkg
[ -s "$out/order" ] && { echo "$out"; exit 0; }

mkdir -p "$cache"
exec 9>"$cache/vhost-modules.lock"
flock 9
[ -s "$out/order" ] && { echo "$out"; exit 0; }
tmp=$(mktemp -d "$cache/vhost-modules.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
deb=$(ls "$cache"/debs/"${pkg}"_*.deb 2>/dev/null | head -n 1 || true)
if [ -z "$deb" ]; then
    (cd "$tmp" && apt-get download "$pkg" >/dev/null 2>&1) || die "apt-get download $pkg failed"
    deb=$(ls "$tmp"/*.deb | head -n 1)
fi
dpkg-deb -x "$deb" "$tmp/root"
tree=$(ls -d "$tmp"/root/lib/modules/* | head -n 1)
mkdir -p "$tmp/out"
order=" "
add() {
    local name=$1 src dep
    [[ $order == *" $name "* ]] && return 0
    src=$(find "$tree" -name "$name.ko*" | head -n 1)
    if [ -z "$src" ]; then
        grep -q "/${name//-/[-_]}\.ko\$" "$tree/modules.builtin" && return 0
        die "$pkg has no module $name"
    fi
    case $src in
        *.ko) cp "$src" "$tmp/out/$name.ko" ;;
        *.ko.xz) xz -dc "$src" >"$tmp/out/$name.ko" ;;
        *.ko.zst) zstd -qdc "$src" >"$tmp/out/$name.ko" ;;
        *) die "$src: unknown compression" ;;
    esac
    for dep in $(tr '\0' '\n' <"$tmp/out/$name.ko" | sed -n 's/^depends=//p' | head -n 1 | tr ',' ' '); do
        add "$dep"
    done
    order+="$name "
}
for m in $wanted; do add "$m"; done
echo $order >"$tmp/out/order"
rm -rf "$out"
mv "$tmp/out" "$out"
echo "$out"
