#!/usr/bin/env bash
# `make demo`: boots the bundled hello64 guest with pvhboot and shows its
# serial output. Uses the host's /dev/kvm when it works; otherwise the
# emulated machine of tests/kvm/with-kvm.sh (slow: about a minute the first
# time, while it fetches Debian's kernel for the emulated machine).
set -eu
cd "$(dirname "$0")/.."
make -s VARIANT=static variant
make -s -C guest
echo "== pvhboot run guest/build/hello64 --cmdline 'hello from make demo' --verbose"
tests/kvm/with-kvm.sh --file build/static/pvhboot --file guest/build/hello64 -- \
    ./pvhboot run hello64 --cmdline "'hello from make demo'" --verbose
