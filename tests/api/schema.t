#!/usr/bin/env bash
# Firecracker's response schemas (tests/api/firecracker-schemas.json,
# written from firecracker.yaml) against every endpoint's answers, good and
# bad bodies, validated by Python's jsonschema (tests/api/schema.py): the
# request handler through tests/api/apidrive.c (faked VMM: before boot,
# InstanceStart, after boot; a fresh one through PUT /snapshot/load), then
# `pvhboot serve --dry-run` over its socket before boot. No KVM. ASan+UBSan build (make variant VARIANT=san).
set -u
cd "$(dirname "$0")/../.."
root=$PWD
san=$root/build/san
tmp=$(mktemp -d)
srv=
cleanup() { [ -n "$srv" ] && kill "$srv" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
fail_all() { echo "1..1"; echo "not ok 1 - $*"; exit 1; }
[ -x "$san/pvhboot" ] && [ -f "$san/libpvhapi.a" ] || fail_all "no $san/pvhboot (make variant VARIANT=san)"
python3 -c 'import jsonschema' 2>/dev/null || fail_all "no python3-jsonschema (tests/lib/install-deps.sh)"
SAN="-fsanitize=address,undefined -fno-sanitize-recover=all"
cc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -g $SAN -Iinclude -o "$tmp/apidrive" tests/api/apidrive.c \
    "$san/libpvhapi.a" "$san/libpvhboot.a" -ljansson -lhttp_parser 2>"$tmp/cc.txt" \
    || fail_all "cannot build apidrive: $(head -3 "$tmp/cc.txt")"
cd "$tmp"
touch vmlinux initrd disk.img disk2.img snap.state snap.mem corrupt.state
"$san/pvhboot" serve --api-sock api.sock --id schema-vm --dry-run >serve.out 2>serve.err & srv=$!
for _ in $(seq 100); do [ -S api.sock ] && break; sleep 0.1; done
[ -S api.sock ] || fail_all "the server made no socket: $(cat serve.err)"
python3 "$root/tests/api/schema.py" "$tmp/apidrive" api.sock
