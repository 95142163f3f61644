#!/usr/bin/env bash
# bench/api.sh [N] — what the control API adds to a boot, next to plain `pvhboot run`, in one run.
#  1. Wall time, N rounds (default 3) in the machine with KVM (tests/kvm/with-kvm.sh; without a
#     host KVM that is the emulated machine and the figures are labelled "emulated"):
#       first  bench/first-byte (a PVH guest that writes a serial byte at its first instruction
#              and exits): `pvhboot run` from process start to that byte (bench/boot_timer), and
#              `pvhboot serve` driven by bench/api_timer (machine-config, boot-source, then
#              InstanceStart): from sending InstanceStart to its 204, and to that byte;
#       linux  Debian's vmlinux + a busybox initramfs whose /init prints a marker and powers off,
#              512 MiB, 1 vCPU: the same, to /init.
#  2. callgrind (no KVM): instructions executed by the static binary, whole process in an empty
#     environment, for `pvhboot run hello64 --mem 128 --dry-run` and for `pvhboot serve --dry-run`
#     given the same VM by curl (PUT /machine-config, PUT /boot-source, InstanceStart, which under
#     --dry-run sets the guest up and stops where the first KVM_RUN would be, as bench/load.sh
#     does); and inside pvh_vm_run for both (the same setup: the API's cost is the difference
#     of the whole-process figures).
#  3. The API server's idle RSS: `pvhboot serve` (static and release builds) after GET /,
#     machine-config and boot-source, before InstanceStart: VmRSS and VmHWM (target <= 3 MiB).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-3}
work=build/bench-api
rm -rf "$work" && mkdir -p "$work"
make -s VARIANT=static variant
make -s VARIANT=release variant
make -s -C guest
cc -static -O2 -Wall -Wextra -Werror -o "$work/boot_timer" bench/boot_timer.c
cc -static -O2 -Wall -Wextra -Werror -D_GNU_SOURCE -o "$work/api_timer" bench/api_timer.c
gcc -m32 -nostdlib -static -no-pie -Wl,-T,bench/first-byte.ld -Wl,--build-id=none \
    -o "$work/first-byte" bench/first-byte.S
kdir=$(tests/lib/debian-kernel.sh)
root=$work/initramfs
mkdir -p "$root/bin" "$root/proc" "$root/dev"
cp /bin/busybox "$root/bin/busybox"
printf '#!/bin/busybox sh\n/bin/busybox echo PVHBOOT-BENCH-INIT\n/bin/busybox poweroff -f\n' >"$root/init"
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet) >"$work/initrd.cpio"

cat >"$work/inner.sh" <<'INNER'
# Inside the machine with KVM: N rounds, plain run and the API alternated.
n=$1
args="console=ttyS0 reboot=k panic=-1 quiet"
mc='PUT /machine-config {"vcpu_count": 1, "mem_size_mib": 512}'
i=0
while [ "$i" -lt "$n" ]; do
    i=$((i + 1))
    echo "RESULT path=run case=first $(./boot_timer -- ./pvhboot run first-byte --mem 512 --cpus 1)"
    rm -f api.sock
    echo "RESULT path=api case=first $(./api_timer --sock api.sock --call "$mc" \
        --call 'PUT /boot-source {"kernel_image_path": "first-byte"}' -- ./pvhboot serve --api-sock api.sock)"
    echo "RESULT path=run case=linux $(./boot_timer --marker PVHBOOT-BENCH-INIT --timeout 300 -- ./pvhboot run vmlinux --mem 512 --cpus 1 --initrd initrd.cpio --cmdline "$args")"
    rm -f api.sock
    echo "RESULT path=api case=linux $(./api_timer --marker PVHBOOT-BENCH-INIT --timeout 300 --sock api.sock --call "$mc" \
        --call "PUT /boot-source {\"kernel_image_path\": \"vmlinux\", \"initrd_path\": \"initrd.cpio\", \"boot_args\": \"$args\"}" \
        -- ./pvhboot serve --api-sock api.sock)"
done
INNER

tests/kvm/with-kvm.sh --mem 2048 --file build/static/pvhboot --file "$work/boot_timer" --file "$work/api_timer" \
    --file "$work/first-byte" --file "$kdir/vmlinux" --file "$work/initrd.cpio" --file "$work/inner.sh" \
    -- sh inner.sh "$n" 2>"$work/kvm-path.txt" | tee "$work/raw.txt" | grep '^RESULT' >"$work/results.txt" || true
label=$(grep -m1 '^# kvm:' "$work/kvm-path.txt" || echo "# kvm: unknown")

# 2. callgrind, no KVM
kernel=$PWD/guest/build/hello64
cg() { env -i "$(command -v valgrind)" --tool=callgrind "$@"; }
ir() { sed -n 's/^summary: //p' "$1"; }
for scope in whole setup; do
    toggle=(); [ "$scope" = setup ] && toggle=(--toggle-collect=pvh_vm_run)
    cg "${toggle[@]}" --callgrind-out-file="$work/cg.run.$scope" build/static/pvhboot run "$kernel" --mem 128 \
        --dry-run >"$work/run.$scope.out" 2>"$work/vg.run.$scope"
    rm -f "$work/cg.sock"
    cg "${toggle[@]}" --callgrind-out-file="$work/cg.api.$scope" build/static/pvhboot serve \
        --api-sock "$work/cg.sock" --dry-run >"$work/api.$scope.out" 2>"$work/vg.api.$scope" &
    srv=$!
    for _ in $(seq 300); do [ -S "$work/cg.sock" ] && break; sleep 0.1; done
    c() { curl -s --max-time 60 --unix-socket "$work/cg.sock" -o /dev/null -w '%{http_code} ' -X PUT \
          -H 'Content-Type: application/json' "http://localhost$1" -d "$2"; }
    codes=$(c /machine-config '{"vcpu_count": 1, "mem_size_mib": 128}'; c /boot-source "{\"kernel_image_path\": \"$kernel\"}"
            c /actions '{"action_type": "InstanceStart"}')
    wait "$srv"
    [ "$codes" = "204 204 204 " ] || { echo "callgrind: the API calls got $codes" >&2; exit 1; }
done
cmp -s <(grep -v '^pvhboot:' "$work/run.whole.out") <(grep -v '^pvhboot:' "$work/api.whole.out") && same=yes || same=no

# 3. idle RSS with the API up
rss() { # BINARY: VmRSS and VmHWM (KiB) of serve after GET /, machine-config, boot-source
    rm -f "$work/rss.sock"
    "$1" serve --api-sock "$work/rss.sock" >/dev/null 2>&1 & local pid=$!
    for _ in $(seq 100); do [ -S "$work/rss.sock" ] && break; sleep 0.05; done
    curl -s --unix-socket "$work/rss.sock" http://localhost/ >/dev/null
    curl -s --unix-socket "$work/rss.sock" -X PUT http://localhost/machine-config -d '{"vcpu_count": 1, "mem_size_mib": 512}'
    curl -s --unix-socket "$work/rss.sock" -X PUT http://localhost/boot-source -d "{\"kernel_image_path\": \"$kernel\"}"
    sleep 0.5
    echo "$(sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$pid/status") $(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$pid/status")"
    kill "$pid"; wait "$pid" 2>/dev/null || true
}
read -r rss_static hwm_static < <(rss build/static/pvhboot)
read -r rss_release hwm_release < <(rss build/release/pvhboot)

python3 bench/api_table.py "$work/results.txt" "$label" \
    "$(ir "$work/cg.run.whole")" "$(ir "$work/cg.api.whole")" "$(ir "$work/cg.run.setup")" "$(ir "$work/cg.api.setup")" \
    "$same" "$rss_static" "$hwm_static" "$rss_release" "$hwm_release"
