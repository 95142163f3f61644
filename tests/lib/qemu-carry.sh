#!/usr/bin/env bash
# Packs this host's qemu-system-x86_64 with everything it needs to run in the
# emulated machine's busybox userland (docs/kvm-tests.md, shared nested-KVM
# notes): the binary, the dynamic loader and every library ldd lists, and the
# firmware files -kernel boots use (pvh.bin, linuxboot_dma.bin, multiboot_dma.bin,
# kvmvapic.bin, bios-256k.bin, bios-microvm.bin, qboot.rom), as one gzip'd
# tar in a cache outside the source tree; prints its path. Inside the machine:
#   mkdir q && tar -xzf qemu-carry.tar.gz -C q
#   q/run -accel kvm -M pc -L q/fw ...       (q/run execs the loader on the binary)
set -euo pipefail
qemu=${PVHBOOT_KVM_QEMU:-$(command -v qemu-system-x86_64)}
cache=${PVHBOOT_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pvhboot-tests}
stamp=$(stat -c %Y-%s "$qemu")
out=$cache/qemu-carry/qemu-carry-$stamp.tar.gz
if [ ! -s "$out" ]; then
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    mkdir -p "$tmp/lib" "$tmp/fw"
    cp "$qemu" "$tmp/qemu-system-x86_64"
    ldd "$qemu" | awk '/=> \// { print $3 } /^\t\/.*ld-linux/ { print $1 }' | while read -r lib; do
        cp -L "$lib" "$tmp/lib/"
    done
    for f in pvh.bin linuxboot_dma.bin multiboot_dma.bin kvmvapic.bin bios-microvm.bin qboot.rom; do
        cp /usr/share/qemu/$f "$tmp/fw/"
    done
    cp /usr/share/seabios/bios-256k.bin "$tmp/fw/"
    loader=$(cd "$tmp/lib" && ls ld-linux-x86-64.so.*)
    printf '#!/bin/sh\nd=$(dirname "$0")\nexec "$d/lib/%s" --library-path "$d/lib" "$d/qemu-system-x86_64" "$@"\n' "$loader" >"$tmp/run"
    chmod +x "$tmp/run"
    mkdir -p "$(dirname "$out")"
    tar -czf "$out.$$" -C "$tmp" .
    mv "$out.$$" "$out"
fi
echo "$out"
