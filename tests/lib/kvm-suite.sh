# Sourced by the suites that boot guests under pvhboot in the machine with
# KVM (tests/run/*.t): a work directory removed on exit, fail_all (one
# failing TAP result, then exit), and the static pvhboot and the guest SDK
# built, since the emulated machine runs static binaries only.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail_all() { echo "1..1"; echo "not ok 1 - $*"; exit 1; }
make -s VARIANT=static variant >/dev/null 2>&1 || fail_all "cannot build build/static/pvhboot"
make -s -C guest >/dev/null 2>&1 || fail_all "cannot build the guest SDK"
