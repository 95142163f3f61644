#!/usr/bin/env bash
# Builds (once, cached) a tarball that runs Debian's curl inside the emulated
# machine, whose userland is a static busybox: the host's /usr/bin/curl
# (Debian's `curl` package, which tests/lib/install-deps.sh installs) with
# every shared library `ldd` lists and the dynamic loader, as
# tests/lib/gdb-bundle.sh carries gdb, run as
#     tar xzf curl.tgz && ./curl/ld.so --library-path ./curl ./curl/curl ARGS
# (tests/run/api.t; the harness refuses dynamic ELF files, a tarball is
# none). Prints the tarball's path.
set -euo pipefail
cache=${PVHBOOT_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pvhboot-tests}
curl_bin=$(command -v curl) || { echo "curl-bundle: no curl (tests/lib/install-deps.sh installs it)" >&2; exit 1; }
ver=$(dpkg-query -W -f '${Version}' curl 2>/dev/null) || { echo "curl-bundle: curl is not Debian's package" >&2; exit 1; }
out=$cache/curl-$ver.tgz
if [ ! -s "$out" ]; then
    stage=$(mktemp -d "${TMPDIR:-/tmp}/curl-bundle.XXXXXX")
    trap 'rm -rf "$stage"' EXIT
    mkdir -p "$stage/curl"
    cp "$curl_bin" "$stage/curl/curl"
    if ldd "$curl_bin" | grep -q 'not found'; then
        echo "curl-bundle: libraries missing on this host:" >&2
        ldd "$curl_bin" | grep 'not found' >&2
        exit 1
    fi
    ldd "$curl_bin" | awk '/=> \// { print $3 }' | while read -r lib; do cp -L "$lib" "$stage/curl/"; done
    cp -L "$(ldd "$curl_bin" | awk '/ld-linux/ { print $1 }')" "$stage/curl/ld.so"
    mkdir -p "$cache"
    tar -C "$stage" -czf "$out.$$" curl
    mv "$out.$$" "$out"
fi
echo "$out"
