#!/usr/bin/env bash
# The non-KVM test suite under valgrind memcheck (release build, no
# sanitizers): every unit-test binary, `pvhboot inspect` on good and bad
# images, and `pvhboot run --dry-run` (the VMM's setup path without KVM:
# parse, plan, guest RAM, loading by mapping and by copying, boot data; a
# bzImage through the cache; Multiboot 1 images) must finish with 0 memcheck errors and no
# definite or indirect leak.
# test_runloop and every test_*_sandbox (test_sandbox, test_extract_sandbox,
# test_gdb_sandbox, test_net_sandbox, test_vsock_sandbox) are left out: their
# children install a seccomp filter, which traps valgrind's own system calls
# (the ASan run covers them). The vmlinuz decoder child leaves its filter out
# under valgrind (extract/child.c), so the extraction itself is checked here.
# So is test_mapguard: its children die by SIGBUS on purpose (valgrind reports
# each), and valgrind makes a load that faulted again with imprecise registers
# (the ASan run covers it; test_guestmem's truncated files run here).
set -u
cd "$(dirname "$0")/../.."
vg=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect
    --show-leak-kinds=definite,indirect)
units=()
for t in build/release/tests/test_*; do
    [ -x "$t" ] && [[ $t != *.d && $t != *_sandbox && $t != *test_mapguard && $t != *test_runloop ]] &&
        units+=("$t")
done
cases=()
kernel_dir=$(tests/lib/debian-kernel.sh 2>/dev/null) || kernel_dir=
# what|pvhboot arguments|expected exit status
cases+=("inspect vmlinux|inspect $kernel_dir/vmlinux|0"
    "inspect vmlinuz (payload decompressed)|inspect --json $kernel_dir/vmlinuz|0" "inspect /bin/true|inspect /bin/true|2" "inspect a directory|inspect /|2"
    "run --dry-run vmlinux (map)|run $kernel_dir/vmlinux --initrd $kernel_dir/vmlinuz --dry-run --verbose|0"
    "run --dry-run vmlinux (copy)|run $kernel_dir/vmlinux --initrd $kernel_dir/vmlinuz --dry-run --load copy|0"
    "run --dry-run vmlinuz (bzImage, cache)|run $kernel_dir/vmlinuz --dry-run|0"
    "run --dry-run of a non-kernel|run /bin/true --dry-run|2")
# Multiboot 1 images (the guest SDK's): the header, the MBI and modules.
mb=guest/build
cases+=(
    "inspect mb1hello.bin (Multiboot a.out kludge)|inspect $mb/mb1hello.bin|0"
    "run --dry-run mb1hello (Multiboot ELF32, a module)|run $mb/mb1hello --initrd $mb/hello32 --cmdline x=1 --dry-run|0"
    "run --dry-run mb1hello.bin (a.out kludge)|run $mb/mb1hello.bin --dry-run --load copy|0")
# Firecracker's config file through the API's endpoints (jansson's allocations freed)
cfgdir=$(mktemp -d); trap 'rm -rf "$cfgdir"' EXIT
head -c 1M /dev/zero >"$cfgdir/root.img"
printf '{"boot-source": {"kernel_image_path": "%s", "boot_args": "console=ttyS0", "initrd_path": "%s"},
 "drives": [{"drive_id": "rootfs", "path_on_host": "%s", "is_root_device": true}],
 "machine-config": {"vcpu_count": 2, "mem_size_mib": 64}, "entropy": {}}\n' \
    "$PWD/$mb/hello64" "$PWD/$mb/hello32" "$cfgdir/root.img" >"$cfgdir/vm.json"
echo '{"machine-config": {"vcpu_count": "2"}}' >"$cfgdir/bad.json"
cases+=("run --config-file --dry-run|run --config-file $cfgdir/vm.json --dry-run|0"
    "run --config-file with a bad body|run --config-file $cfgdir/bad.json --dry-run|2")
echo "1..$(( ${#units[@]} + ${#cases[@]} ))"
n=0
for t in "${units[@]}"; do
    n=$((n + 1))
    log=$(mktemp)
    CMOCKA_MESSAGE_OUTPUT=TAP "${vg[@]}" --log-file="$log" "$t" >/dev/null 2>&1
    rc=$?
    if [ "$rc" -ne 99 ] && [ ! -s "$log" ]; then
        echo "ok $n - memcheck clean: $t (exit $rc)"
    else
        echo "not ok $n - memcheck: $t (exit $rc)"; sed 's/^/# /' "$log" | head -40
    fi
    rm -f "$log"
done
for c in "${cases[@]}"; do
    n=$((n + 1))
    IFS='|' read -r what args expected <<<"$c"
    log=$(mktemp)
    # shellcheck disable=SC2086
    "${vg[@]}" --log-file="$log" build/release/pvhboot $args >/dev/null 2>&1
    rc=$?
    if [ "$rc" -eq "$expected" ] && [ ! -s "$log" ]; then
        echo "ok $n - memcheck clean: pvhboot $what (exit $rc)"
    else
        echo "not ok $n - memcheck: pvhboot $what (exit $rc, expected $expected)"; sed 's/^/# /' "$log" | head -40
    fi
    rm -f "$log"
done
