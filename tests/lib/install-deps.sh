#!/usr/bin/env bash
# Installs the Debian packages the build and the tests need, when missing.
# Why each: gcc/clang/make build; libcmocka-dev is the unit-test framework;
# acpica-tools (iasl) validates our ACPI tables; qemu-system-x86, busybox-static,
# cpio run the emulated machine with nested KVM and the reference producer
# (bash-static runs the harness inside it, to test its host path);
# musl-tools links small static test programs; the compression libraries
# (zlib, liblzma, liblz4, libzstd, libbz2, liblzo2) decompress vmlinuz payloads
# and their command-line tools make test payloads; valgrind checks for leaks;
# debootstrap builds the Debian root filesystem of the virtio tests
# (tests/lib/debian-rootfs.sh) and e2fsprogs makes and reads their ext4
# images without mounts (mkfs.ext4 -d, debugfs, e2fsck).
# dpkg-dev, debhelper and lintian build and check the .deb (tests/install/deb.t),
# man-db and groff-base render pvhboot(1) with warnings on, pkg-config finds the
# installed library (tests/install/install.t).
# strace shows which fds pvhboot closes (tests/run/fds.t); gdb is the client
# of docs/gdb.md's session and brings the shared libraries that Debian's
# gdb-minimal, carried into the emulated machine by tests/lib/gdb-bundle.sh
# for tests/run/gdb.t, needs.
# libjansson-dev (JSON) and libhttp-parser-dev (HTTP/1.1 requests) are the
# control API's parsers (api/); both ship static archives, so the static
# variant links them too. python3-jsonschema validates the API's responses
# against Firecracker's schemas (tests/api/schema.t). curl is the API's client
# (tests/api/*.t) and, carried into the emulated machine with its libraries by
# tests/lib/curl-bundle.sh, tests/run/api.t's.
set -eu
pkgs="make gcc clang libc6-dev libclang-rt-14-dev libcmocka-dev acpica-tools qemu-system-x86
      busybox-static bash-static cpio musl-tools binutils python3 valgrind strace gdb
      zlib1g-dev liblzma-dev liblz4-dev libzstd-dev libbz2-dev liblzo2-dev
      gzip xz-utils lz4 zstd bzip2 lzop debootstrap e2fsprogs
      dpkg-dev debhelper lintian man-db groff-base pkg-config libjansson-dev libhttp-parser-dev
      python3-jsonschema curl"
missing=()
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}" >&2
sudo=; [ "$(id -u)" -ne 0 ] && sudo=sudo
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
