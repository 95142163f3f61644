#!/usr/bin/env bash
# `pvhboot run --config-file FILE` (Firecracker's JSON config), no KVM
# needed (ASan+UBSan build, --dry-run): the plan a config file gives is
# byte for byte the plan of the equivalent command line (guest RAM, vCPUs,
# kernel, command line with the root drive's root=, initrd, drives in
# Firecracker's order with the root drive first, network interfaces after
# the command line's, entropy); and each bad
# file is refused with exit status 2 and one line naming the member;
# Firecracker's `--no-api --config-file F` spelling is taken, --no-api
# alone or beside --api-sock refused.
set -u
cd "$(dirname "$0")/../.."
bin=build/san/pvhboot
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail_all() { echo "1..1"; echo "not ok 1 - $*"; exit 1; }
[ -x "$bin" ] || fail_all "no $bin (make variant VARIANT=san)"
make -s -C guest >/dev/null 2>&1 || fail_all "cannot build the guest SDK"
kernel=$PWD/guest/build/hello64
head -c 70001 /dev/urandom >"$tmp/initrd"
head -c 1M /dev/zero >"$tmp/root.img"
head -c 1M /dev/zero >"$tmp/data.img"
n=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
notok() { n=$((n + 1)); echo "not ok $n - $*"; }

# same_plan NAME JSON [OPTIONS...] -- CLI ARGS...: run --config-file JSON
# OPTIONS and run CLI ARGS print the same dry run.
same_plan() {
    local name=$1 json=$2; shift 2
    local -a with_file=()
    while [ "$1" != "--" ]; do with_file+=("$1"); shift; done
    shift
    printf '%s\n' "$json" >"$tmp/vm.json"
    (cd "$tmp" && "$OLDPWD/$bin" run --config-file vm.json "${with_file[@]}" --dry-run >file.out 2>file.err); local rc1=$?
    (cd "$tmp" && "$OLDPWD/$bin" run "$@" --dry-run >cli.out 2>cli.err); local rc2=$?
    if [ $rc1 -eq 0 ] && [ $rc2 -eq 0 ] && [ -s "$tmp/file.out" ] && cmp -s "$tmp/file.out" "$tmp/cli.out"; then
        ok "$name: the config file's plan is the command line's"
    else
        notok "$name: the config file's plan is the command line's (exit $rc1 and $rc2)"
        diff "$tmp/file.out" "$tmp/cli.out" | head -8 | sed 's/^/# /'
        cat "$tmp/file.err" "$tmp/cli.err" | head -4 | sed 's/^/# /'
    fi
}

same_plan "kernel and machine-config" \
    "{\"boot-source\": {\"kernel_image_path\": \"$kernel\"}, \"machine-config\": {\"vcpu_count\": 3, \"mem_size_mib\": 300}}" \
    -- "$kernel" --mem 300 --cpus 3
same_plan "root drive, second drive, initrd, boot_args, entropy" \
    "{\"boot-source\": {\"kernel_image_path\": \"$kernel\", \"boot_args\": \"console=ttyS0 quiet\", \"initrd_path\": \"initrd\"},
      \"drives\": [{\"drive_id\": \"data\", \"path_on_host\": \"data.img\", \"is_root_device\": false, \"is_read_only\": true},
                   {\"drive_id\": \"rootfs\", \"path_on_host\": \"root.img\", \"is_root_device\": true, \"is_read_only\": false}],
      \"machine-config\": {\"vcpu_count\": 2, \"mem_size_mib\": 256, \"smt\": false}, \"entropy\": {},
      \"network-interfaces\": [], \"vsock\": null}" \
    -- "$kernel" --cmdline "console=ttyS0 quiet root=/dev/vda rw" --initrd initrd --mem 256 --cpus 2 --rng \
    --drive root.img,id=rootfs --drive data.img,ro,id=data
same_plan "two network interfaces after a --net" \
    "{\"boot-source\": {\"kernel_image_path\": \"$kernel\"},
      \"network-interfaces\": [{\"iface_id\": \"eth1\", \"host_dev_name\": \"pvhcf1\", \"guest_mac\": \"06:00:ac:10:00:02\"},
                               {\"iface_id\": \"eth2\", \"host_dev_name\": \"pvhcf2\"}]}" --net tap=pvhcf0 \
    -- "$kernel" --net tap=pvhcf0 --net tap=pvhcf1,mac=06:00:ac:10:00:02 --net tap=pvhcf2
same_plan "a vsock" \
    "{\"boot-source\": {\"kernel_image_path\": \"$kernel\"}, \"vsock\": {\"guest_cid\": 52, \"uds_path\": \"v.sock\"}}" \
    -- "$kernel" --vsock cid=52,uds=v.sock
same_plan "read-only root with a partuuid" \
    "{\"boot-source\": {\"kernel_image_path\": \"$kernel\", \"boot_args\": \"console=ttyS0\"},
      \"drives\": [{\"drive_id\": \"root\", \"path_on_host\": \"root.img\", \"is_root_device\": true, \"is_read_only\": true,
                    \"partuuid\": \"0eaa91a0-01\"}]}" \
    -- "$kernel" --cmdline "console=ttyS0 root=PARTUUID=0eaa91a0-01 ro" --drive root.img,ro,id=root
same_plan "the command line's options beside a file without machine-config" \
    "{\"boot-source\": {\"kernel_image_path\": \"$kernel\"}}" --mem 64 --load copy \
    -- "$kernel" --mem 64 --load copy
same_plan "run's defaults when the file has no machine-config" \
    "{\"boot-source\": {\"kernel_image_path\": \"$kernel\"}}" -- "$kernel"
same_plan "Firecracker's start spelling, --no-api beside --config-file" \
    "{\"boot-source\": {\"kernel_image_path\": \"$kernel\"}, \"machine-config\": {\"vcpu_count\": 2, \"mem_size_mib\": 96}}" \
    --no-api -- "$kernel" --mem 96 --cpus 2

# refused: refuses NAME JSON EXPECTED [ARGS...]: exit 2, one line holding EXPECTED
refuses() {
    local name=$1 json=$2 want=$3; shift 3
    printf '%s\n' "$json" >"$tmp/bad.json"
    (cd "$tmp" && "$OLDPWD/$bin" run --config-file bad.json "$@" --dry-run >bad.out 2>bad.err); local rc=$?
    if [ $rc -eq 2 ] && [ "$(wc -l <"$tmp/bad.err")" -eq 1 ] && grep -qF -- "$want" "$tmp/bad.err"; then
        ok "refused: $name"
    else
        notok "refused: $name (exit $rc)"
        sed 's/^/# /' "$tmp/bad.err" | head -3
    fi
}
refuses "an unknown field" "{\"boot-source\": {\"kernel_image_path\": \"$kernel\", \"initrd\": \"x\"}}" \
    "--config-file bad.json: boot-source: unknown field 'initrd'"
refuses "a kernel that is not there" '{"boot-source": {"kernel_image_path": "nothere"}}' \
    "boot-source: kernel_image_path: nothere: No such file or directory"
refuses "a kernel twice" "{\"boot-source\": {\"kernel_image_path\": \"$kernel\"}}" \
    "a kernel from both the command line" "$kernel"
refuses "boot arguments twice" "{\"boot-source\": {\"kernel_image_path\": \"$kernel\", \"boot_args\": \"x\"}}" \
    "boot arguments from both" --cmdline y
refuses "a CPU template" "{\"boot-source\": {\"kernel_image_path\": \"$kernel\"}, \"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 128, \"cpu_template\": \"T2\"}}" \
    "machine-config: cpu_template: pvhboot has no CPU templates"
refuses "a rate limiter" "{\"boot-source\": {\"kernel_image_path\": \"$kernel\"}, \"drives\": [{\"drive_id\": \"r\", \"path_on_host\": \"root.img\", \"is_root_device\": true, \"rate_limiter\": {\"ops\": {\"size\": 100, \"refill_time\": 1000}}}]}" \
    "drives[0]: rate_limiter: pvhboot has no rate limiters"
refuses "a balloon (not built yet)" "{\"boot-source\": {\"kernel_image_path\": \"$kernel\"}, \"balloon\": {\"amount_mib\": 0, \"deflate_on_oom\": false}}" \
    "balloon: not built yet"
refuses "a vsock beside --vsock" "{\"boot-source\": {\"kernel_image_path\": \"$kernel\"}, \"vsock\": {\"guest_cid\": 3, \"uds_path\": \"v.sock\"}}" \
    "a vsock from both the command line (--vsock) and PUT /vsock" --vsock cid=4,uds=w.sock
refuses "a network interface's rate limiter" "{\"boot-source\": {\"kernel_image_path\": \"$kernel\"}, \"network-interfaces\": [{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", \"tx_rate_limiter\": {\"ops\": {\"size\": 1, \"refill_time\": 1}}}]}" \
    "network-interfaces[0]: rx_rate_limiter, tx_rate_limiter: pvhboot has no rate limiters"
refuses "metrics (the API flushes them)" "{\"boot-source\": {\"kernel_image_path\": \"$kernel\"}, \"metrics\": {\"metrics_path\": \"m.json\"}}" \
    "metrics: flushed through the API only"
refuses "invalid JSON" '{"boot-source": ' "--config-file bad.json: line 2"
refuses "no kernel anywhere" '{"machine-config": {"vcpu_count": 1, "mem_size_mib": 128}}' "no kernel: PUT /boot-source first"
# --no-api without a config file, and beside --api-sock: exit 2, one line
no_api_refused() {
    local name=$1 want=$2; shift 2
    "$bin" "$@" >"$tmp/na.out" 2>"$tmp/na.err"; local rc=$?
    if [ $rc -eq 2 ] && [ "$(wc -l <"$tmp/na.err")" -eq 1 ] && grep -qF -- "$want" "$tmp/na.err"; then
        ok "refused: $name"
    else
        notok "refused: $name (exit $rc)"
        sed 's/^/# /' "$tmp/na.err" | head -3
    fi
}
no_api_refused "--no-api without --config-file" "--no-api needs --config-file FILE" --no-api "$kernel" --dry-run
no_api_refused "--no-api beside --api-sock" "--no-api with --api-sock" --api-sock "$tmp/api.sock" --no-api
echo "1..$n"
