#!/usr/bin/env bash
# Builds (once, cached) a tarball that runs Debian's gdb inside the emulated
# machine, whose userland is a static busybox: the gdb of Debian's
# `gdb-minimal` package (gdb 13 without Python, which the full `gdb` would
# need its whole standard library for) with every shared library `ldd`
# lists and the dynamic loader, run as
#     tar xzf gdb.tgz && ./gdb/ld.so --library-path ./gdb ./gdb/gdb ARGS
# (tests/run/gdb.t; the harness refuses dynamic ELF files, a tarball is
# none). The package is downloaded with apt-get (not installed: it conflicts
# with `gdb`, whose libraries tests/lib/install-deps.sh installs). Prints
# the tarball's path.
set -euo pipefail
cache=${PVHBOOT_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pvhboot-tests}
pkg=$(apt-cache policy gdb-minimal 2>/dev/null | awk '/Candidate:/ { print $2 }')
if [ -z "$pkg" ] || [ "$pkg" = "(none)" ]; then
    apt-get update -qq >/dev/null 2>&1 || true
    pkg=$(apt-cache policy gdb-minimal 2>/dev/null | awk '/Candidate:/ { print $2 }')
fi
[ -n "$pkg" ] && [ "$pkg" != "(none)" ] || { echo "gdb-bundle: no gdb-minimal package" >&2; exit 1; }
out=$cache/gdb-minimal-$pkg.tgz
if [ ! -s "$out" ]; then
    stage=$(mktemp -d "${TMPDIR:-/tmp}/gdb-bundle.XXXXXX")
    trap 'rm -rf "$stage"' EXIT
    (cd "$stage" && apt-get download gdb-minimal >/dev/null 2>&1) || { echo "gdb-bundle: apt-get download gdb-minimal failed" >&2; exit 1; }
    dpkg -x "$stage"/gdb-minimal_*.deb "$stage/root"
    mkdir -p "$stage/gdb"
    cp "$stage/root/usr/bin/gdb" "$stage/gdb/gdb"
    if ldd "$stage/gdb/gdb" | grep -q 'not found'; then
        echo "gdb-bundle: libraries missing on this host (tests/lib/install-deps.sh installs gdb, which has them):" >&2
        ldd "$stage/gdb/gdb" | grep 'not found' >&2
        exit 1
    fi
    ldd "$stage/gdb/gdb" | awk '/=> \// { print $3 }' | while read -r lib; do cp -L "$lib" "$stage/gdb/"; done
    cp -L "$(ldd "$stage/gdb/gdb" | awk '/ld-linux/ { print $1 }')" "$stage/gdb/ld.so"
    mkdir -p "$cache"
    tar -C "$stage" -czf "$out.$$" gdb
    mv "$out.$$" "$out"
fi
echo "$out"
