#!/usr/bin/env bash
# Debian's real kernels through extract/: the cloud vmlinuz (LZ4 legacy
# frames), the generic one (xz with the x86 BCJ filter) and the
# bookworm-backports 6.12 cloud one (zstd) extract to exactly the
# vmlinux the Debian command-line tools give (tests/lib/extract-vmlinux.sh);
# the first cached lookup misses, the second hits and names the same file.
# Builds its own small driver (tests/extract/vmlinuz-tool.c) against the san
# libraries: run `make VARIANT=san variant` first.
set -u
cd "$(dirname "$0")/../.."
echo "1..14"
n=0
ok() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }
tool=build/san/extract-tool
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cc -std=c11 -D_GNU_SOURCE -g -O1 -Iinclude -fsanitize=address,undefined -fno-sanitize-recover=all \
    -o "$tool" tests/extract/vmlinuz-tool.c build/san/libpvhextract.a build/san/libpvhboot.a \
    -lz -llzma -llz4 -lzstd -lbz2 -llzo2 2>"$work/cc.log"
ok $? "driver builds against build/san/libpvhextract.a"

check_kernel() { # DIR FORMAT
    local dir=$1 fmt=$2 got
    got=$("$tool" inspect "$dir/vmlinuz" 2>&1)
    [ "$got" = "$fmt $(stat -c %s "$dir/vmlinux")" ]
    ok $? "$(basename "$dir"): inspect says $fmt and the vmlinux size ($got)"
    tests/lib/extract-vmlinux.sh "$dir/vmlinuz" "$work/reference" 2>/dev/null
    export XDG_CACHE_HOME=$work/xdg-$fmt
    local first second
    first=$("$tool" cached "$dir/vmlinuz" 2>&1)
    [ "$first" = "miss $XDG_CACHE_HOME/pvhboot/vmlinux-$(sha256sum <"$dir/vmlinuz" | cut -c1-64)" ]
    ok $? "$(basename "$dir"): first lookup misses, file named by sha256sum ($first)"
    cmp -s "${first#miss }" "$work/reference"
    ok $? "$(basename "$dir"): cached vmlinux is byte-identical to the Debian tools' extraction"
    second=$("$tool" cached "$dir/vmlinuz" 2>&1)
    [ "$second" = "hit ${first#miss }" ]
    ok $? "$(basename "$dir"): second lookup hits the same file ($second)"
}

cloud=$(tests/lib/debian-kernel.sh cloud-amd64)
check_kernel "$cloud" lz4
cmp -s "$work/xdg-lz4/pvhboot/"vmlinux-* "$cloud/vmlinux"
ok $? "cloud vmlinux equals the test kernel cache's vmlinux"
backports=$(tests/lib/debian-kernel.sh cloud-amd64 bookworm-backports)
check_kernel "$backports" zstd
generic=$(tests/lib/debian-kernel.sh amd64)
check_kernel "$generic" xz
