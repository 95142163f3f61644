#!/usr/bin/env bash
# Debian's real kernels through extract/: the cloud vmlinuz (LZ4 legacy
# frames), the generic one (xz with the x86 BCJ filter) and the
# bookworm-backports 6.12 cloud one (zstd) extract to exactly the
# vmlinux the Debian command-line tools give (tests/lib/extract-vmlinux.sh);
# the first cached lookup misses (extracted in the sandboxed decoder child),
# the second hits and names the same file; a decoder that tries to open a
# file in the child is killed: one line, nothing cached. With the cache limited
# to the two largest kernels, the least recently used one is evicted. The
# release build's child works in a process whose first malloc() is in the
# child (glibc then calls getrandom, which its filter must allow).
# Builds its own small driver (tests/extract/vmlinuz-tool.c) against the san
# libraries: run `make VARIANT=san variant` first.
set -u
cd "$(dirname "$0")/../.."
echo "1..20"
n=0
ok() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }
tool=build/san/extract-tool
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cc -std=c11 -D_GNU_SOURCE -g -O1 -Iinclude -fsanitize=address,undefined -fno-sanitize-recover=all \
    -o "$tool" tests/extract/vmlinuz-tool.c build/san/libpvhextract.a build/san/libpvhvmm.a build/san/libpvhboot.a \
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

# all three resolved before check_kernel sets XDG_CACHE_HOME, which the
# kernel cache's location follows
cloud=$(tests/lib/debian-kernel.sh cloud-amd64)
backports=$(tests/lib/debian-kernel.sh cloud-amd64 bookworm-backports)
generic=$(tests/lib/debian-kernel.sh amd64)
check_kernel "$cloud" lz4
cmp -s "$work/xdg-lz4/pvhboot/"vmlinux-* "$cloud/vmlinux"
ok $? "cloud vmlinux equals the test kernel cache's vmlinux"
check_kernel "$backports" zstd
check_kernel "$generic" xz

# a decoder taken over by its payload (the test hook opens /etc/passwd in the child)
export XDG_CACHE_HOME=$work/xdg-hostile
hostile=$("$tool" cached-hostile "$cloud/vmlinuz" 2>&1)
rc=$?
[ $rc = 1 ] && [ "$(wc -l <<<"$hostile")" = 1 ] &&
    [[ $hostile == *"lz4 payload at offset 0x52cc: the decoder made a forbidden system call, openat (257)"* ]]
ok $? "a decoder that opens a file in the child is killed, one line ($hostile)"
[ -z "$(ls -A "$XDG_CACHE_HOME/pvhboot")" ]
ok $? "nothing was cached for it"

# the size limit over real kernels: room for the two largest, LRU order
export XDG_CACHE_HOME=$work/xdg-lru
cache=$XDG_CACHE_HOME/pvhboot
gen_size=$(stat -c %s "$generic/vmlinux") bp_size=$(stat -c %s "$backports/vmlinux")
export PVHBOOT_CACHE_MAX=$((gen_size + bp_size))
"$tool" cached "$cloud/vmlinuz" >/dev/null && "$tool" cached "$backports/vmlinuz" >/dev/null &&
    touch -d '1 hour ago' "$cache"/vmlinux-* && "$tool" cached "$cloud/vmlinuz" >/dev/null
ok $? "cloud, backports, cloud again (a hit: the most recent now)"
"$tool" cached "$generic/vmlinuz" >/dev/null
ok $? "generic: a miss over the limit"
ls "$cache"/vmlinux-* | wc -l | grep -qx 2 && [ -e "$cache/vmlinux-$(sha256sum <"$cloud/vmlinuz" | cut -c1-64)" ] &&
    [ -e "$cache/vmlinux-$(sha256sum <"$generic/vmlinuz" | cut -c1-64)" ] &&
    [ "$(du -cb "$cache"/vmlinux-* | tail -1 | cut -f1)" -le "$PVHBOOT_CACHE_MAX" ]
ok $? "the least recently used entry (backports) went; cloud and generic stay within $PVHBOOT_CACHE_MAX bytes"
unset PVHBOOT_CACHE_MAX

# release build (glibc's malloc, not ASan's): the driver's first malloc() happens in the child
reltool=$work/extract-tool-release
if cc -std=c11 -D_GNU_SOURCE -O2 -Iinclude -o "$reltool" tests/extract/vmlinuz-tool.c build/release/libpvhextract.a \
    build/release/libpvhvmm.a build/release/libpvhboot.a -lz -llzma -llz4 -lzstd -lbz2 -llzo2 2>>"$work/cc.log"; then
    got=$(XDG_CACHE_HOME=$work/xdg-release "$reltool" cached "$backports/vmlinuz" 2>&1)
else
    got="no release build (make VARIANT=release variant)"
fi
[[ $got == "miss $work/xdg-release/pvhboot/vmlinux-"* ]]
ok $? "release build: the zstd kernel extracts in a child whose malloc starts there ($got)"
