#!/usr/bin/env bash
# Fetches one Debian package (apt-get download, the system's sources) into a
# cache outside the source tree and prints the path of one file from it,
# gunzipped when its name ends in .gz. The cached file is reused for a day
# before apt is asked again whether the package changed.
# Usage: tests/lib/debian-file.sh PACKAGE PATH-IN-PACKAGE
#   e.g. tests/lib/debian-file.sh tboot boot/tboot.gz   -> .../tboot/<version>/tboot
set -euo pipefail
pkg=$1 path=$2
cache=${PVHBOOT_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pvhboot-tests}
base=$cache/debian-files/$pkg
name=$(basename "$path" .gz)
memo=$base/current
if [ -n "$(find "$memo" -mmin -1440 2>/dev/null)" ] && [ -s "$(cat "$memo")/$name" ]; then
    echo "$(cat "$memo")/$name"
    exit 0
fi
version=$(apt-cache policy "$pkg" 2>/dev/null | awk '/Candidate:/ { print $2; exit }')
if [ -z "$version" ] || [ "$version" = "(none)" ]; then
    apt-get update -qq >/dev/null 2>&1 || true
    version=$(apt-cache policy "$pkg" 2>/dev/null | awk '/Candidate:/ { print $2; exit }')
fi
[ -n "$version" ] && [ "$version" != "(none)" ] || { echo "debian-file: no package $pkg" >&2; exit 1; }
dir=$base/${version//:/_}
# one fetch at a time per package (make check runs suites side by side)
mkdir -p "$base" && exec 9>"$dir.lock" && flock 9
if [ ! -s "$dir/$name" ]; then
    rm -rf "$dir.tmp" && mkdir -p "$dir.tmp/deb"
    (cd "$dir.tmp/deb" && apt-get download "$pkg=$version" >/dev/null 2>&1) || { echo "debian-file: cannot download $pkg" >&2; exit 1; }
    dpkg -x "$dir.tmp/deb"/*.deb "$dir.tmp/root"
    [ -f "$dir.tmp/root/$path" ] || { echo "debian-file: $pkg $version has no $path" >&2; exit 1; }
    case $path in
        *.gz) gzip -dc "$dir.tmp/root/$path" >"$dir.tmp/$name" ;;
        *) cp "$dir.tmp/root/$path" "$dir.tmp/$name" ;;
    esac
    echo "$pkg $version" >"$dir.tmp/version"
    rm -rf "$dir.tmp/deb" "$dir.tmp/root" "$dir"
    mv "$dir.tmp" "$dir"
fi
echo "$dir" >"$memo.$$" && mv "$memo.$$" "$memo"
echo "$dir/$name"
