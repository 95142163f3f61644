#!/usr/bin/env bash
# `pvhboot serve --api-sock PATH` without KVM (ASan+UBSan build, --dry-run:
# InstanceStart sets the guest up and prints its plan, then the server ends
# with run's exit status): Firecracker's getting-started calls with curl
# --unix-socket, whose plan is byte for byte `run --dry-run`'s for the same
# VM; the socket's mode is 0600; a stale socket is replaced, a live one is
# not (the second server refuses); a client that sends nothing and one that
# sends a byte at a time do not hold up a third; 100 clients at once each
# get their own answer; `--config-file` boots at once through the same
# endpoints; `pvhboot --api-sock` is the same server.
set -u
cd "$(dirname "$0")/../.."
bin=$PWD/build/san/pvhboot
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$tmp"; }
trap cleanup EXIT
fail_all() { echo "1..1"; echo "not ok 1 - $*"; exit 1; }
[ -x "$bin" ] || fail_all "no $bin (make variant VARIANT=san)"
command -v curl >/dev/null || fail_all "no curl (tests/lib/install-deps.sh)"
make -s -C guest >/dev/null 2>&1 || fail_all "cannot build the guest SDK"
kernel=$PWD/guest/build/hello64
cd "$tmp"
head -c 70001 /dev/urandom >initrd
head -c 1M /dev/zero >root.img
n=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
notok() { n=$((n + 1)); echo "not ok $n - $*"; }
check() { if eval "$1"; then ok "$2"; else notok "$2"; fi; }
# c SOCK METHOD PATH [BODY]: prints the body, then the status on its own line
c() { curl -s --max-time 5 --unix-socket "$1" -w '\n%{http_code}\n' -X "$2" "http://localhost$3" \
      ${4:+-H 'Content-Type: application/json' -d "$4"}; }
wait_sock() { for _ in $(seq 100); do [ -S "$1" ] && return 0; sleep 0.1; done; return 1; }
start() { # start NAME ARGS...: a server in the background, its pid in pids and $srv
    local name=$1; shift
    "$@" >"$name.out" 2>"$name.err" & srv=$!; pids+=("$srv")
}

# 1. the getting-started walk, then InstanceStart under --dry-run
start walk "$bin" serve --api-sock api.sock --id vm1 --dry-run
wait_sock api.sock || fail_all "the server made no socket: $(cat walk.err)"
check '[ "$(stat -c %a api.sock)" = 600 ]' "the socket's mode is 0600"
out=$(c api.sock GET /)
check '[ "$(tail -1 <<<"$out")" = 200 ] && grep -q "\"id\":\"vm1\",\"state\":\"Not started\"" <<<"$out"' "GET / names the instance, not started"
check '[ "$(c api.sock PUT /machine-config "{\"vcpu_count\":2,\"mem_size_mib\":256}" | tail -1)" = 204 ]' "PUT /machine-config: 204"
check '[ "$(c api.sock PUT /boot-source "{\"kernel_image_path\":\"$kernel\",\"boot_args\":\"console=ttyS0 quiet\",\"initrd_path\":\"initrd\"}" | tail -1)" = 204 ]' "PUT /boot-source: 204"
check '[ "$(c api.sock PUT /drives/rootfs "{\"drive_id\":\"rootfs\",\"path_on_host\":\"root.img\",\"is_root_device\":true,\"is_read_only\":false}" | tail -1)" = 204 ]' "PUT /drives/rootfs: 204"
out=$(c api.sock PUT /drives/rootfs "{\"drive_id\":\"rootfs\",\"path_on_host\":\"nothere.img\",\"is_root_device\":true}")
check '[ "$(tail -1 <<<"$out")" = 400 ] && grep -q "\"fault_message\":\"drives: path_on_host: nothere.img: No such file or directory\"" <<<"$out"' "a drive that is not there: 400 with a fault_message"
check '[ "$(c api.sock PUT /network-interfaces/eth0 "{\"iface_id\":\"eth0\",\"host_dev_name\":\"pvhsrv0\",\"guest_mac\":\"06:00:ac:10:00:02\"}" | tail -1)" = 204 ]' "PUT /network-interfaces/eth0: 204"
out=$(c api.sock PUT /balloon "{\"amount_mib\":0,\"deflate_on_oom\":false}")
check '[ "$(tail -1 <<<"$out")" = 400 ] && grep -q "not built yet" <<<"$out"' "balloon: 400, not built yet"
check '[ "$(c api.sock PUT /entropy "{}" | tail -1)" = 204 ]' "PUT /entropy: 204"
check '[ "$(c api.sock PUT /actions "{\"action_type\":\"InstanceStart\"}" | tail -1)" = 204 ]' "InstanceStart: 204"
wait "$srv"; rc=$?
check '[ $rc -eq 0 ]' "the server ends with the dry run's exit status 0 (got $rc)"
"$bin" run "$kernel" --cmdline "console=ttyS0 quiet root=/dev/vda rw" --initrd initrd --drive root.img,id=rootfs \
    --mem 256 --cpus 2 --rng --net tap=pvhsrv0,mac=06:00:ac:10:00:02 --dry-run >run.out 2>&1
"$bin" run "$kernel" --cmdline "console=ttyS0 quiet root=/dev/vda rw" --initrd initrd --drive root.img,id=rootfs \
    --mem 256 --cpus 2 --rng --dry-run >run-nonet.out 2>&1
check 'cmp -s walk.out run.out' "the plan InstanceStart set up is run --dry-run's for the same VM"
diff walk.out run.out | head -5 | sed 's/^/# /'
check '! grep -q . walk.err' "nothing on the server's stderr"

# 2. stale and live sockets (a stale one: bound, its process gone, the file left)
python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' api.sock
check '[ -S api.sock ] && ! c api.sock GET /version >/dev/null' "a stale socket file (nobody listens)"
start live "$bin" serve --api-sock api.sock --dry-run
wait_sock api.sock && sleep 0.3
check '[ "$(c api.sock GET /version | tail -1)" = 200 ]' "a stale socket (its server gone) is replaced"
"$bin" serve --api-sock api.sock --dry-run >second.out 2>second.err; rc=$?
check '[ $rc -eq 2 ] && grep -q "api.sock: another process listens on it" second.err' "a second server on a live socket refuses (exit $rc)"
check '[ "$(c api.sock GET /version | tail -1)" = 200 ]' "... and the first still answers"
: >plain
"$bin" serve --api-sock plain --dry-run >plain.out 2>plain.err; rc=$?
check '[ $rc -eq 2 ] && grep -q "exists and is not a socket" plain.err && [ -f plain ]' "a file that is not a socket is left alone"

# 3. slow clients do not hold up others
python3 - api.sock >slow.out 2>&1 <<'PY' &
import socket, sys, time
idle = socket.socket(socket.AF_UNIX); idle.connect(sys.argv[1])          # sends nothing
drip = socket.socket(socket.AF_UNIX); drip.connect(sys.argv[1])
for b in b"GET /version HTTP/1.1\r\n":                                   # a byte at a time
    drip.send(bytes([b])); time.sleep(0.2)
time.sleep(3)
PY
slow=$!; pids+=("$slow")
sleep 0.5
t0=$(date +%s%N)
out=$(c api.sock GET /machine-config)
t1=$(date +%s%N)
check '[ "$(tail -1 <<<"$out")" = 200 ] && [ $(( (t1 - t0) / 1000000 )) -lt 1000 ]' "an idle and a dripping client do not hold up a third ($(( (t1 - t0) / 1000000 )) ms)"
wait "$slow" 2>/dev/null

# 4. 100 clients at once, each its own answer
# (curl's own limit raised to 60 s here: 200 curl processes on a loaded 2-core machine are slow to start)
c60() { curl -s --max-time 60 --unix-socket "$1" -w '\n%{http_code}\n' -X "$2" "http://localhost$3" \
        ${4:+-H 'Content-Type: application/json' -d "$4"}; echo "curl exit $?" >&2; }
for i in $(seq 100); do
    (c60 api.sock PATCH /machine-config "{\"mem_size_mib\":$((100 + i))}" 2>"e$i" | tail -1 >"p$i"
     c60 api.sock GET /version >"g$i" 2>>"e$i") &
done
wait_n=0; for j in $(jobs -p); do [ "$j" = "$srv" ] || wait "$j" 2>/dev/null; done
good=0
for i in $(seq 100); do
    [ "$(cat "p$i")" = 204 ] && grep -q '"firecracker_version":"0.1.0"' "g$i" && [ "$(tail -1 "g$i")" = 200 ] && good=$((good + 1))
done
check '[ $good -eq 100 ]' "100 clients at once: $good of 100 got their 204 and their 200"
[ $good -eq 100 ] || for i in $(seq 100); do
    [ "$(cat "p$i")" = 204 ] || { echo "# client $i: PATCH gave '$(cat "p$i")', $(tr '\n' ' ' <"e$i")"; break; }
done
mib=$(c api.sock GET /machine-config | sed -n 's/.*"mem_size_mib":\([0-9]*\).*/\1/p')
check '[ "$mib" -ge 101 ] && [ "$mib" -le 200 ]' "the machine-config is one of theirs ($mib MiB)"
kill "$srv"; wait "$srv" 2>/dev/null

# 5. --config-file: the file through the endpoints, then InstanceStart at once
printf '{"boot-source": {"kernel_image_path": "%s", "boot_args": "console=ttyS0 quiet", "initrd_path": "initrd"},
 "drives": [{"drive_id": "rootfs", "path_on_host": "root.img", "is_root_device": true, "is_read_only": false}],
 "machine-config": {"vcpu_count": 2, "mem_size_mib": 256}, "entropy": {}}\n' "$kernel" >vm.json
timeout 30 "$bin" serve --api-sock cf.sock --config-file vm.json --dry-run >cf.out 2>cf.err; rc=$?
check '[ $rc -eq 0 ] && cmp -s cf.out run-nonet.out' "serve --config-file boots at once: the plan is run's (exit $rc)"
echo '{"machine-config": {"vcpu_count": 2}}' >bad.json
timeout 30 "$bin" serve --api-sock cf.sock --config-file bad.json --dry-run >cf.out 2>cf.err; rc=$?
check '[ $rc -eq 2 ] && grep -q "bad.json: machine-config: missing field .mem_size_mib." cf.err' "serve --config-file with a bad file: exit 2 naming the field (exit $rc)"

# 6. Firecracker's spelling of the start
start fc "$bin" --api-sock fc.sock --id fc1 --dry-run
wait_sock fc.sock
check 'c fc.sock GET / | grep -q "\"id\":\"fc1\""' "pvhboot --api-sock PATH serves the same API"
kill "$srv"; wait "$srv" 2>/dev/null
echo "1..$n"
