#!/usr/bin/env bash
# Fetches Debian's cloud kernel package (version resolved with apt-cache) into
# a cache outside the source tree and prints the cache directory, which holds:
#   vmlinuz   the bzImage (LZ4 payload)
#   vmlinux   the uncompressed ELF extracted from it
#   modules/  irqbypass.ko kvm.ko kvm-amd.ko (for the emulated machine), tun.ko
#             (its TAP devices: tests/run/net.t, bench/net.sh)
#   version   the package name
#   System.map  the kernel's symbols (the extracted vmlinux has none, and
#             the package's own /boot/System.map is a placeholder): the one
#             in the matching -dbg package (a 283 MB download for cloud,
#             once; only this file is kept). Made only when asked for with
#             PVHBOOT_WANT_SYSTEM_MAP=1 (tests/run/gdb.t)
# Usage: tests/lib/debian-kernel.sh [FLAVOUR [SUITE]]   (default: cloud-amd64,
# the machine's own suites). SUITE, e.g. bookworm-backports, is read through a
# private apt list directory in the cache; the system's sources are untouched.
# The i386 flavours (686-pae, 686) come from bookworm and bookworm-security's
# i386 indexes, read the same way (APT::Architecture=i386); their modules/
# directory is empty (the emulated machine's kernel is an amd64 one).
set -euo pipefail
flavour=${1:-cloud-amd64}
suite=${2:-}
cache=${PVHBOOT_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pvhboot-tests}
apt_opts=()
case $flavour in
    686*)
        aptdir=$cache/apt-bookworm-i386
        mkdir -p "$aptdir/lists/partial" "$aptdir/archives/partial"
        printf '%s\n' "deb http://deb.debian.org/debian bookworm main" \
            "deb http://deb.debian.org/debian-security bookworm-security main" >"$aptdir/sources.list"
        apt_opts=(-o "Dir::Etc::sourcelist=$aptdir/sources.list" -o Dir::Etc::sourceparts=-
                  -o "Dir::State::Lists=$aptdir/lists" -o "Dir::Cache=$aptdir"
                  -o APT::Architecture=i386 -o APT::Architectures::=i386)
        if [ -z "$(find "$aptdir/lists" -name '*Packages*' -mtime -1 2>/dev/null | head -1)" ]; then
            apt-get "${apt_opts[@]}" update -qq >/dev/null 2>&1 || true
        fi
        suite=bookworm-i386 ;;
esac
if [ -n "$suite" ] && [ ${#apt_opts[@]} -eq 0 ]; then
    aptdir=$cache/apt-$suite
    mkdir -p "$aptdir/lists/partial"
    echo "deb http://deb.debian.org/debian $suite main" >"$aptdir/sources.list"
    apt_opts=(-o "Dir::Etc::sourcelist=$aptdir/sources.list" -o Dir::Etc::sourceparts=-
              -o "Dir::State::Lists=$aptdir/lists")
    if [ -z "$(find "$aptdir/lists" -name '*Packages*' -mtime -1 2>/dev/null | head -1)" ]; then
        apt-get "${apt_opts[@]}" update -qq >/dev/null 2>&1 || true
    fi
fi
resolve() { apt-cache "${apt_opts[@]}" depends "linux-image-$flavour" 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }'; }
pkg=$(resolve)
if [ -z "$pkg" ] && [ -z "$suite" ]; then
    apt-get update -qq >/dev/null 2>&1 || true
    pkg=$(resolve)
fi
[ -n "$pkg" ] || { echo "debian-kernel: cannot resolve linux-image-$flavour" >&2; exit 1; }
dir=$cache/$pkg
extra_modules="drivers/net/tun.ko"
[ "$suite" != bookworm-i386 ] || extra_modules="" # no KVM modules, no TAPs there
# one fetch at a time per package (make check runs suites side by side)
mkdir -p "$cache" && exec 9>"$dir.lock" && flock 9
if [ ! -s "$dir/vmlinux" ]; then
    rm -rf "$dir.tmp" && mkdir -p "$dir.tmp/deb"
    (cd "$dir.tmp/deb" && apt-get "${apt_opts[@]}" download "$pkg" >/dev/null 2>&1)
    dpkg -x "$dir.tmp/deb"/*.deb "$dir.tmp/root"
    cp "$dir.tmp/root"/boot/vmlinuz-* "$dir.tmp/vmlinuz"
    mkdir -p "$dir.tmp/modules"
    for m in virt/lib/irqbypass.ko arch/x86/kvm/kvm.ko arch/x86/kvm/kvm-amd.ko $extra_modules; do
        [ "$suite" != bookworm-i386 ] || break
        src=$(ls "$dir.tmp/root"/lib/modules/*/kernel/$m* | head -1)
        case "$src" in
            *.xz) xz -dc "$src" >"$dir.tmp/modules/$(basename "$m")" ;;
            *) cp "$src" "$dir.tmp/modules/" ;;
        esac
    done
    "$(dirname "$0")/extract-vmlinux.sh" "$dir.tmp/vmlinuz" "$dir.tmp/vmlinux"
    echo "$pkg" >"$dir.tmp/version"
    rm -rf "$dir.tmp/deb" "$dir.tmp/root" "$dir"
    mv "$dir.tmp" "$dir"
fi
if [ "${PVHBOOT_WANT_SYSTEM_MAP:-0}" = 1 ] && [ ! -s "$dir/System.map" ]; then
    rm -rf "$dir.map" && mkdir -p "$dir.map/deb"
    (cd "$dir.map/deb" && apt-get "${apt_opts[@]}" download "$pkg-dbg" >/dev/null 2>&1)
    dpkg-deb --fsys-tarfile "$dir.map/deb"/*.deb |
        tar -x -C "$dir.map" --wildcards './usr/lib/debug/boot/System.map-*'
    cp "$dir.map"/usr/lib/debug/boot/System.map-* "$dir/System.map.tmp" && mv "$dir/System.map.tmp" "$dir/System.map"
    rm -rf "$dir.map"
fi
# A cache made before the extra modules were kept gets them added, each
# file written aside and renamed: what other runs read is never touched.
missing=""
for m in $extra_modules; do [ -s "$dir/modules/$(basename "$m")" ] || missing+=" $m"; done
if [ -n "$missing" ]; then
    tmp=$(mktemp -d "$cache/modules.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    deb=$(ls "$cache/debs/${pkg}_"*.deb 2>/dev/null | head -1 || true)
    if [ -z "$deb" ]; then
        (cd "$tmp" && apt-get "${apt_opts[@]}" download "$pkg" >/dev/null 2>&1)
        deb=$(ls "$tmp"/*.deb | head -1)
    fi
    mkdir -p "$tmp/root"
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp/root" --wildcards $(for m in $missing; do echo "*/kernel/$m*"; done)
    for m in $missing; do
        src=$(find "$tmp/root" -path "*/kernel/$m*" | head -1)
        out=$dir/modules/$(basename "$m")
        case "$src" in
            *.xz) xz -dc "$src" >"$out.$$" ;;
            *.zst) zstd -qdc "$src" >"$out.$$" ;;
            *) cp "$src" "$out.$$" ;;
        esac
        mv "$out.$$" "$out"
    done
fi
echo "$dir"
