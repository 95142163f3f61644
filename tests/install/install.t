#!/usr/bin/env bash
# `make install` / `make uninstall` (issue 18), into temporary prefixes:
#  - DESTDIR=... PREFIX=/usr/local installs exactly pvhboot, pvhboot(1), the
#    bash completion, libpvhboot.a, the library's headers and pvhboot.pc
#    (the list checked here, file by file); `make uninstall` removes them all;
#  - the installed pvhboot runs (--version, inspect on Debian's kernel);
#  - a program built against the installed headers with
#    `pkg-config --cflags --libs pvhboot` (contrib/plan-example.c, -std=c11
#    -pedantic -Werror) parses and plans Debian's kernel: its entry and the
#    start_info magic it finds at %ebx are readelf's PHYS32_ENTRY and 0x336ec578;
#  - every function in the installed headers has a comment saying what it does;
#  - the man page: `man --warnings` prints nothing, and every option that
#    `pvhboot run --help` and `pvhboot inspect --help` list is in it.
set -u
cd "$(dirname "$0")/../.."
fail_all() { echo "1..1"; echo "not ok 1 - $*"; exit 1; }
kdir=$(tests/lib/debian-kernel.sh) || fail_all "cannot fetch Debian's kernel"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
n=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
notok() { n=$((n + 1)); echo "not ok $n - $*"; [ -s "$tmp/log" ] && sed 's/^/# /' "$tmp/log" | tail -8; }
check() { if eval "$1"; then ok "$2"; else notok "$2"; fi; }
echo "1..13"

dest=$tmp/dest
make -s install DESTDIR="$dest" PREFIX=/usr/local >"$tmp/log" 2>&1
rc=$?
(cd "$dest" && find . -type f | sort) >"$tmp/files"
cat >"$tmp/want" <<'LIST'
./usr/local/bin/pvhboot
./usr/local/include/pvh/start_info.h
./usr/local/include/pvhboot/acpi.h
./usr/local/include/pvhboot/aml.h
./usr/local/include/pvhboot/bootdata.h
./usr/local/include/pvhboot/bytes.h
./usr/local/include/pvhboot/bzimage.h
./usr/local/include/pvhboot/entry.h
./usr/local/include/pvhboot/error.h
./usr/local/include/pvhboot/file.h
./usr/local/include/pvhboot/image.h
./usr/local/include/pvhboot/layout.h
./usr/local/include/pvhboot/multiboot.h
./usr/local/include/pvhboot/plan.h
./usr/local/lib/libpvhboot.a
./usr/local/lib/pkgconfig/pvhboot.pc
./usr/local/share/bash-completion/completions/pvhboot
./usr/local/share/man/man1/pvhboot.1
LIST
check "[ $rc -eq 0 ] && cmp -s '$tmp/files' '$tmp/want'" \
    "make install DESTDIR=... PREFIX=/usr/local: exit $rc, the $(wc -l <"$tmp/want") files of the list ($(diff "$tmp/want" "$tmp/files" | grep -c '^[<>]') differ)"
check "grep -qx 'prefix=/usr/local' '$dest/usr/local/lib/pkgconfig/pvhboot.pc' && grep -qx 'Libs: -L\${libdir} -lpvhboot' '$dest/usr/local/lib/pkgconfig/pvhboot.pc'" \
    "pvhboot.pc: prefix /usr/local, -lpvhboot"
make -s uninstall DESTDIR="$dest" PREFIX=/usr/local >"$tmp/log" 2>&1
check "[ -z \"\$(find '$dest' -type f)\" ]" "make uninstall removes every installed file ($(find "$dest" -type f | wc -l) left)"

prefix=$tmp/prefix
make -s install PREFIX="$prefix" >"$tmp/log" 2>&1
bin=$prefix/bin/pvhboot
version=$(sed -n 's/^#define PVHBOOT_VERSION "\(.*\)"/\1/p' cli/main.c)
check "[ \"\$('$bin' --version)\" = 'pvhboot $version' ]" "the installed pvhboot --version: $("$bin" --version 2>&1)"
"$bin" inspect "$kdir/vmlinuz" >"$tmp/log" 2>&1
check "[ $? -eq 0 ] && grep -q '^protocol: pvh ' '$tmp/log'" "the installed pvhboot inspect Debian's vmlinuz: exit 0, protocol pvh"
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
flags=$(pkg-config --cflags --libs pvhboot 2>"$tmp/log")
check "[ \"\$(pkg-config --modversion pvhboot)\" = '$version' ] && [ \"$flags\" = '-I$prefix/include -L$prefix/lib -lpvhboot ' ]" \
    "pkg-config --cflags --libs pvhboot: $flags (version $(pkg-config --modversion pvhboot))"
cc -std=c11 -pedantic -Wall -Wextra -Werror -o "$tmp/plan-example" contrib/plan-example.c $flags >"$tmp/log" 2>&1
check "[ $? -eq 0 ]" "contrib/plan-example.c builds against the installed headers and libpvhboot.a with pkg-config's flags"
"$tmp/plan-example" "$kdir/vmlinux" 12345 >"$tmp/log" 2>&1
rc=$?
want=$(readelf -nW "$kdir/vmlinux" | sed -n 's/.*(0x00000012).*description data: \(..\) \(..\) \(..\) \(..\).*/0x\4\3\2\1/p' | sed 's/0x0*/0x/')
check "[ $rc -eq 0 ] && grep -q '^entry $want, ebx 0x[0-9a-f]* (start_info magic 0x336ec578), initrd at 0x' '$tmp/log'" \
    "the example parses and plans Debian's vmlinux: $(head -2 "$tmp/log" | tail -1) (readelf's entry $want)"
"$tmp/plan-example" /bin/ls >"$tmp/log" 2>&1
check "[ $? -eq 2 ] && grep -q 'not a kernel' '$tmp/log'" "the example gets the library's one-line error for /bin/ls: $(cat "$tmp/log")"
python3 tests/lib/header_docs.py "$prefix"/include/pvh/*.h "$prefix"/include/pvhboot/*.h >"$tmp/log" 2>&1
check "grep -qx '0 undocumented' '$tmp/log'" "every function of the installed headers has a comment ($(tail -1 "$tmp/log"))"

# the man page
man=$prefix/share/man/man1/pvhboot.1
LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$man" >"$tmp/man.txt" 2>"$tmp/log"
check "[ $? -eq 0 ] && [ ! -s '$tmp/log' ] && [ -s '$tmp/man.txt' ]" "man --warnings -l pvhboot.1: no warning ($(wc -l <"$tmp/log") lines), $(wc -l <"$tmp/man.txt") lines rendered"
# the options as the page writes them: roff's \- is a minus, fonts switch with \fB, \fI, \fR
sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' "$man" >"$tmp/man.src"
missing=
for opt in $( { "$bin" run --help; "$bin" inspect --help; "$bin" --help; } | grep -o -- '\(^\|[ ([|,]\)--\?[a-zA-Z][a-zA-Z-]*' | sed 's/^[ ([|,]//' | sort -u); do
    grep -q -- "$opt\b" "$tmp/man.src" || missing="$missing $opt"
done
check "[ -z '$missing' ]" "every option of pvhboot run --help, inspect --help and --help is in the man page${missing:+ (missing:$missing)}"
check "grep -q '^EXIT STATUS' '$tmp/man.txt' && grep -q '^       124' '$tmp/man.txt' && grep -q 'pvhboot $version' '$tmp/man.txt'" \
    "the man page has EXIT STATUS (0, 1, 2, 124, N) and pvhboot $version in its header"
