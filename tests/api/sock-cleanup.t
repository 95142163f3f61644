#!/usr/bin/env bash
# The API socket's file is removed when `pvhboot serve` ends, on every exit
# path (ASan+UBSan build, no KVM: --dry-run stands in for the guest's end;
# tests/run/api.t checks the end of a real guest, under the VM's seccomp
# allow-list): InstanceStart's dry run ending the server, an error exit
# (a bad --config-file), SIGTERM, SIGINT, SIGKILL (the janitor process sees
# serve's end), `pvhboot --api-sock`; and only our own socket: a second
# server refused on a live socket leaves the first one's file, and a file
# put at the path in the meantime (another socket, another inode) stays.
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
n=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
notok() { n=$((n + 1)); echo "not ok $n - $*"; }
check() { if eval "$1"; then ok "$2"; else notok "$2"; fi; }
c() { curl -s --max-time 5 --unix-socket "$1" -w '\n%{http_code}\n' -X "$2" "http://localhost$3" \
      ${4:+-H 'Content-Type: application/json' -d "$4"}; }
wait_sock() { for _ in $(seq 100); do [ -S "$1" ] && return 0; sleep 0.1; done; return 1; }
# gone PATH: the file disappears within 3 s (a signal: the janitor sees the process end)
gone() { for _ in $(seq 30); do [ -e "$1" ] || return 0; sleep 0.1; done; return 1; }
# start NAME ARGS...: a server in the background with SIGINT and SIGTERM at their
# defaults (a script's background jobs ignore SIGINT otherwise), its pid in $srv
start() {
    local name=$1; shift
    env --default-signal=INT,TERM "$@" >"$name.out" 2>"$name.err" & srv=$!; pids+=("$srv")
    wait_sock "$name.sock" && c "$name.sock" GET /version >/dev/null
}

# 1. InstanceStart's dry run ends the server: the file is gone when it has exited
start walk "$bin" serve --api-sock walk.sock --dry-run || fail_all "no socket: $(cat walk.err)"
c walk.sock PUT /boot-source "{\"kernel_image_path\":\"$kernel\"}" >/dev/null
c walk.sock PUT /actions '{"action_type":"InstanceStart"}' >/dev/null
wait "$srv"; rc=$?
check '[ $rc -eq 0 ] && [ ! -e walk.sock ]' "the VM's end (a dry run, exit $rc): the socket file is gone as serve exits"

# 2. an error exit after the socket was made
echo '{"machine-config": {"vcpu_count": 2}}' >bad.json
timeout 30 "$bin" serve --api-sock err.sock --config-file bad.json --dry-run >err.out 2>err.err; rc=$?
check '[ $rc -eq 2 ] && [ ! -e err.sock ]' "an error exit (a bad --config-file, exit $rc): the socket file is gone"

# 3. signals
for sig in TERM INT KILL; do
    start "$sig" "$bin" serve --api-sock "$sig.sock" || fail_all "no socket: $(cat "$sig.err")"
    kill -"$sig" "$srv"; { wait "$srv"; } 2>/dev/null; rc=$?
    check 'gone "$sig.sock"' "SIG$sig (exit $rc): the socket file is gone"
done

# 4. Firecracker's spelling: the same server, the same cleanup
start fc "$bin" --api-sock fc.sock --id fc1 || fail_all "no socket: $(cat fc.err)"
kill -TERM "$srv"; wait "$srv"
check 'gone fc.sock' "pvhboot --api-sock, SIGTERM: the socket file is gone"

# 5. only our own socket
start live "$bin" serve --api-sock live.sock || fail_all "no socket: $(cat live.err)"
live=$srv
"$bin" serve --api-sock live.sock --dry-run >second.out 2>second.err; rc=$?
check '[ $rc -eq 2 ] && [ -S live.sock ] && [ "$(c live.sock GET /version | tail -1)" = 200 ]' \
    "a second server refused on a live socket (exit $rc) leaves the first one's file"
rm live.sock
python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' live.sock
ino=$(stat -c %i live.sock)
kill -TERM "$live"; wait "$live"
sleep 1
check '[ -S live.sock ] && [ "$(stat -c %i live.sock)" = "$ino" ]' "a socket put at the path after ours (another inode) is left alone"
echo "1..$n"
