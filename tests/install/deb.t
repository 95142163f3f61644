#!/usr/bin/env bash
# The Debian packages (issue 18): `dpkg-buildpackage -us -uc -b` builds
# pvhboot and libpvhboot-dev from a copy of the tree (the tree itself stays
# clean); lintian reports no error; both install with dpkg into a private
# root (--root: its own dpkg database, nothing of this machine's changes),
# and the Depends dpkg-shlibdeps computed are installed here at the versions
# asked; the packaged pvhboot runs (--version = debian/changelog's version,
# inspect on Debian's vmlinuz: exit 0, protocol pvh), its manual renders
# without a warning, its bash completion completes, and a program builds
# against libpvhboot-dev with pkg-config.
set -u
cd "$(dirname "$0")/../.."
fail_all() { echo "1..1"; echo "not ok 1 - $*"; exit 1; }
for t in dpkg-buildpackage lintian dh; do command -v $t >/dev/null || fail_all "$t is missing (tests/lib/install-deps.sh installs it)"; done
kdir=$(tests/lib/debian-kernel.sh) || fail_all "cannot fetch Debian's kernel"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
n=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
notok() { n=$((n + 1)); echo "not ok $n - $*"; [ -s "$tmp/log" ] && sed 's/^/# /' "$tmp/log" | tail -10; }
check() { if eval "$1"; then ok "$2"; else notok "$2"; fi; }
echo "1..10"
version=$(dpkg-parsechangelog -l debian/changelog -S Version)
mkdir -p "$tmp/src/pvhboot"
git ls-files -co --exclude-standard | grep -v '^build/' | tar cf - -T - | tar xf - -C "$tmp/src/pvhboot"
start=$(date +%s)
(cd "$tmp/src/pvhboot" && dpkg-buildpackage -us -uc -b) >"$tmp/log" 2>&1
rc=$?
secs=$(( $(date +%s) - start ))
deb=$tmp/src/pvhboot_${version}_amd64.deb dev=$tmp/src/libpvhboot-dev_${version}_amd64.deb
check "[ $rc -eq 0 ] && [ -s '$deb' ] && [ -s '$dev' ]" "dpkg-buildpackage -us -uc -b: exit $rc in $secs s, pvhboot_${version} and libpvhboot-dev_${version}"
grep -q -- '-D_FORTIFY_SOURCE=2' "$tmp/log" && grep -q -- '-fstack-protector-strong' "$tmp/log"
check "[ $? -eq 0 ]" "built with Debian's hardening flags (-D_FORTIFY_SOURCE=2, -fstack-protector-strong)"
lintian --fail-on error "$tmp/src/pvhboot_${version}_amd64.changes" >"$tmp/log" 2>&1
rc=$?
check "[ $rc -eq 0 ] && ! grep -q '^E:' '$tmp/log'" "lintian: no error ($(grep -c '^[EW]:' "$tmp/log") errors and warnings)"

root=$tmp/root
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates"
touch "$root/var/lib/dpkg/status" "$root/var/lib/dpkg/available"
# --force-depends: the private database knows no other package; the Depends are checked against this machine's below
dpkg --root="$root" --force-not-root --force-depends --force-script-chrootless -i "$deb" "$dev" >"$tmp/log" 2>&1
check "[ $? -eq 0 ] && dpkg --root='$root' -s pvhboot libpvhboot-dev 2>/dev/null | grep -c '^Status: install ok installed' | grep -qx 2" \
    "dpkg -i both packages into a private root: installed"
unmet=
IFS=',' read -r -a deps <<<"$(dpkg-deb -f "$deb" Depends)"
for d in "${deps[@]}"; do
    read -r name op ver <<<"$(echo "$d" | sed 's/[()]//g')"
    have=$(dpkg-query -W -f='${Version}' "$name" 2>/dev/null) || { unmet="$unmet $name"; continue; }
    [ -z "$op" ] || dpkg --compare-versions "$have" "$op" "$ver" || unmet="$unmet $name($have)"
done
check "[ -z '$unmet' ]" "pvhboot's Depends ($(dpkg-deb -f "$deb" Depends | tr -d ' ' | cut -c1-80)...) are installed on this Debian${unmet:+: missing$unmet}"
check "[ \"\$('$root/usr/bin/pvhboot' --version)\" = 'pvhboot $version' ]" "the packaged pvhboot --version: $("$root/usr/bin/pvhboot" --version 2>&1)"
"$root/usr/bin/pvhboot" inspect "$kdir/vmlinuz" >"$tmp/log" 2>&1
check "[ $? -eq 0 ] && grep -q '^protocol: pvh ' '$tmp/log'" "the packaged pvhboot inspect $(basename "$kdir")'s vmlinuz: exit 0, protocol pvh"
LC_ALL=C.UTF-8 man --warnings -l "$root/usr/share/man/man1/pvhboot.1.gz" >"$tmp/man.txt" 2>"$tmp/log"
check "[ $? -eq 0 ] && [ ! -s '$tmp/log' ] && grep -q '^EXIT STATUS' '$tmp/man.txt'" "the packaged pvhboot(1) renders without a warning"
got=$(bash -c '. "$1"; COMP_WORDS=(pvhboot run k --ser); COMP_CWORD=3; _pvhboot; echo "${COMPREPLY[*]}"' _ "$root/usr/share/bash-completion/completions/pvhboot")
check "[ '$got' = '--serial' ]" "the packaged bash completion: 'pvhboot run k --ser' -> $got"
flags=$(PKG_CONFIG_SYSROOT_DIR=$root PKG_CONFIG_LIBDIR=$root/usr/lib/x86_64-linux-gnu/pkgconfig pkg-config --cflags --libs pvhboot)
cc -std=c11 -Wall -Werror -o "$tmp/plan-example" contrib/plan-example.c $flags >"$tmp/log" 2>&1 && "$tmp/plan-example" "$kdir/vmlinux" >>"$tmp/log" 2>&1
check "[ $? -eq 0 ] && grep -q 'start_info magic 0x336ec578' '$tmp/log'" "a program built against libpvhboot-dev ($flags) plans Debian's vmlinux"
