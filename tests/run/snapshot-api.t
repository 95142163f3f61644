#!/usr/bin/env bash
# The snapshot endpoints of the API (issue 16), in the machine with KVM
# (tests/kvm/with-kvm.sh), driven by Debian's curl --unix-socket
# (tests/lib/curl-bundle.sh), with guest/build/snapcount counting slowly
# and never asking for a snapshot itself ("nosnap slow"):
#  - serve 1 boots it through the API; PUT /snapshot/create before boot and
#    while it runs: 400; PATCH /vm Paused, then PUT /snapshot/create: 204, both
#    files written; it stays paused (no count for 2 s, GET / Paused); a Diff
#    snapshot: 400; serve 1 is ended (SIGTERM);
#  - serve 2: a truncated state file and a Uffd mem_backend are refused with
#    400 and a fault_message, the server staying up; the good files load
#    with resume_vm true (204, GET / Running), pre-boot PUTs and
#    InstanceStart are refused after it, and the guest counts on from where
#    serve 1 paused it to the end ("memory ok", exit 33 as it asks);
#    together the two serial logs hold 1..60 once each, in order;
#  - serve 3: a load with resume_vm false leaves it paused (GET / Paused, no
#    count for 2 s), PUT /snapshot/create of the restored VM works, and
#    PATCH /vm Resumed goes on from the next count.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/kvm-suite.sh
curl_tgz=$(tests/lib/curl-bundle.sh) || fail_all "cannot build the curl bundle (tests/lib/curl-bundle.sh)"
cp "$curl_tgz" "$work/curl.tgz"

cat >"$work/cases.sh" <<'CASES'
tar xzf curl.tgz || echo "CURL-UNTAR-FAIL"
CURL="./curl/ld.so --library-path ./curl ./curl/curl"
# C SOCK METHOD PATH [BODY]: one call; prints "CALL METHOD PATH -> STATUS BODY"
C() {
    rm -f body.txt
    if [ $# -ge 4 ]; then
        st=$($CURL -s --max-time 120 --unix-socket "$1" -o body.txt -w '%{http_code}' -X "$2" "http://localhost$3" \
             -H 'Content-Type: application/json' -d "$4")
    else
        st=$($CURL -s --max-time 120 --unix-socket "$1" -o body.txt -w '%{http_code}' -X "$2" "http://localhost$3")
    fi
    echo "CALL $2 $3 -> $st $(cat body.txt 2>/dev/null)"
}
wait_sock() { n=0; while [ ! -S "$1" ] && [ $n -lt 300 ]; do busybox usleep 100000; n=$((n + 1)); done; }
counts() { grep -c '^count' "$1" 2>/dev/null; }
wait_count() { n=0; while ! grep -q "^count $2" "$1" 2>/dev/null && [ $n -lt 1800 ]; do busybox usleep 100000; n=$((n + 1)); done; }
# a server whose VM never ran (a load refused) would wait for ever: ended after 300 s
watchdog() { (busybox sleep 300; kill "$1" 2>/dev/null) >/dev/null 2>&1 & }

echo "=== BEGIN serve1"
./pvhboot serve --api-sock a1.sock --id snap1 --serial file:serial1.log --timeout 600 >serve1.out 2>&1 &
srv=$!
watchdog $srv
wait_sock a1.sock
C a1.sock PUT /machine-config '{"vcpu_count":1,"mem_size_mib":64}'
C a1.sock PUT /boot-source '{"kernel_image_path":"snapcount","boot_args":"nosnap slow"}'
C a1.sock PUT /snapshot/create '{"snapshot_path":"early.state","mem_file_path":"early.mem"}'
C a1.sock PUT /actions '{"action_type":"InstanceStart"}'
wait_count serial1.log 3
C a1.sock PUT /snapshot/create '{"snapshot_path":"run.state","mem_file_path":"run.mem"}'
C a1.sock PATCH /vm '{"state":"Paused"}'
a=$(counts serial1.log)
C a1.sock PUT /snapshot/create '{"snapshot_path":"api.state","mem_file_path":"api.mem","snapshot_type":"Full"}'
C a1.sock PUT /snapshot/create '{"snapshot_path":"diff.state","mem_file_path":"diff.mem","snapshot_type":"Diff"}'
busybox sleep 2
b=$(counts serial1.log)
echo "PAUSED-COUNTS $a $b"
C a1.sock GET /
echo "FILES $(stat -c %s api.mem 2>/dev/null) $(stat -c %s api.state 2>/dev/null) $(ls early.state run.state diff.state 2>/dev/null | wc -l)"
kill $srv
wait $srv
echo "=== END serve1 rc=$?"
echo "=== BEGIN serial1"; cat serial1.log; echo "=== END serial1 rc=0"
echo "=== BEGIN serve1-err"; cat serve1.out; echo "=== END serve1-err rc=0"

head -c 100 api.state >short.state
echo "=== BEGIN serve2"
./pvhboot serve --api-sock a2.sock --id snap2 --serial file:serial2.log --timeout 600 >serve2.out 2>&1 &
srv=$!
watchdog $srv
wait_sock a2.sock
C a2.sock PUT /snapshot/load '{"snapshot_path":"short.state","mem_backend":{"backend_type":"File","backend_path":"api.mem"},"resume_vm":true}'
C a2.sock PUT /snapshot/load '{"snapshot_path":"api.state","mem_backend":{"backend_type":"Uffd","backend_path":"uffd.sock"},"resume_vm":true}'
C a2.sock PUT /snapshot/load '{"snapshot_path":"api.state","mem_backend":{"backend_type":"File","backend_path":"api.mem"},"resume_vm":true}'
C a2.sock GET /
C a2.sock PUT /boot-source '{"kernel_image_path":"snapcount"}'
C a2.sock PUT /actions '{"action_type":"InstanceStart"}'
C a2.sock PUT /snapshot/load '{"snapshot_path":"api.state","mem_file_path":"api.mem"}'
wait $srv
echo "=== END serve2 rc=$?"
echo "=== BEGIN serial2"; cat serial2.log; echo "=== END serial2 rc=0"
echo "=== BEGIN serve2-err"; cat serve2.out; echo "=== END serve2-err rc=0"

echo "=== BEGIN serve3"
./pvhboot serve --api-sock a3.sock --serial file:serial3.log --timeout 600 >serve3.out 2>&1 &
srv=$!
watchdog $srv
wait_sock a3.sock
C a3.sock PUT /snapshot/load '{"snapshot_path":"api.state","mem_file_path":"api.mem","resume_vm":false}'
C a3.sock GET /
busybox sleep 2
echo "LOADED-PAUSED-COUNTS $(counts serial3.log)"
C a3.sock PUT /snapshot/create '{"snapshot_path":"again.state","mem_file_path":"again.mem"}'
echo "AGAIN-FILES $(stat -c %s again.mem 2>/dev/null) $(stat -c %s again.state 2>/dev/null)"
C a3.sock PATCH /vm '{"state":"Resumed"}'
wait_count serial3.log "$(( $(grep -c '^count' serial1.log) + 2 ))"
kill $srv
wait $srv
echo "=== END serve3 rc=$?"
echo "=== BEGIN serial3"; cat serial3.log; echo "=== END serial3 rc=0"
echo "=== BEGIN serve3-err"; cat serve3.out; echo "=== END serve3-err rc=0"
CASES

start=$(date +%s)
tests/kvm/with-kvm.sh --mem 1024 --cpus 1 --file build/static/pvhboot --file guest/build/snapcount \
    --file "$work/curl.tgz" --file "$work/cases.sh" -- sh cases.sh >"$work/out.txt" 2>"$work/err.txt"
rc=$?
echo "# with-kvm.sh exit $rc after $(( $(date +%s) - start )) s; $(grep -m1 '^# kvm:' "$work/err.txt")"
[ "$rc" -eq 0 ] || sed 's/^/# /' "$work/err.txt" | tail -20

export WORK=$work
python3 - <<'PY'
import os, re, sys
sys.path.insert(0, "tests/lib")
from tap import check, finish, show_failed_boot, sections
out = open(os.environ["WORK"] + "/out.txt", errors="replace").read().replace("\r", "")
s = sections(out)
def get(name):
    return s.get(name, ("", -1))
def counts(text):
    return [int(x) for x in re.findall(r"^count (\d+)$", text, re.M)]
def calls(text, method, path):
    return [m.group(1) for m in re.finditer(r"^CALL %s %s -> (.*)$" % (method, re.escape(path)), text, re.M)]

s1, rc1 = get("serve1")
creates = calls(s1, "PUT", "/snapshot/create")
check(not re.search(r"CURL-UNTAR-FAIL", out) and calls(s1, "PUT", "/actions") == ["204 "],
      "serve 1: snapcount booted through the API (InstanceStart 204)")
check(len(creates) == 4 and re.match(r'400 \{"fault_message":"PUT /snapshot/create: only after InstanceStart', creates[0]),
      f"PUT /snapshot/create before boot: 400 ({creates[0][:120] if creates else 'no answer'})")
check(len(creates) == 4 and re.match(r'400 \{"fault_message":"snapshot/create: the microVM is not paused', creates[1]),
      f"PUT /snapshot/create while it runs: 400 ({creates[1][:120] if len(creates) > 1 else 'no answer'})")
m = re.search(r"^FILES (\d+) (\d+) (\d+)$", s1, re.M)
check(len(creates) == 4 and creates[2] == "204 " and m and int(m.group(1)) == 64 << 20 and int(m.group(2)) > 0,
      f"paused, PUT /snapshot/create: 204 and both files written ({m.group(0) if m else 'no FILES line'})")
check(len(creates) == 4 and re.match(r'400 \{"fault_message":"snapshot/create: snapshot_type Diff: ', creates[3])
      and m and m.group(3) == "0",
      f"a Diff snapshot: 400, and none of the refused calls left a file ({creates[3][:100] if len(creates) > 3 else ''})")
pm = re.search(r"^PAUSED-COUNTS (\d+) (\d+)$", s1, re.M)
check(pm and pm.group(1) == pm.group(2) and int(pm.group(1)) >= 3 and '"state":"Paused"' in (calls(s1, "GET", "/") or [""])[0],
      f"the VM stays paused after the snapshot (counts {pm.groups() if pm else '?'}, GET / Paused)")
first = counts(get("serial1")[0])

s2, rc2 = get("serve2")
loads = calls(s2, "PUT", "/snapshot/load")
check(len(loads) == 4 and re.match(r'400 \{"fault_message":"snapshot/load: short\.state: ', loads[0]),
      f"a truncated state file: 400 naming it, the server stays up ({loads[0][:140] if loads else 'no answer'})")
check(len(loads) == 4 and re.match(r'400 \{"fault_message":"snapshot/load: mem_backend: backend_type Uffd: ', loads[1]),
      f"mem_backend Uffd: 400 ({loads[1][:100] if len(loads) > 1 else ''})")
check(len(loads) == 4 and loads[2] == "204 " and '"state":"Running"' in (calls(s2, "GET", "/") or [""])[0],
      "the snapshot loads with resume_vm true: 204, GET / Running")
check(re.match(r'400 \{"fault_message":"PUT /boot-source: only before InstanceStart', (calls(s2, "PUT", "/boot-source") or [""])[0])
      and re.match(r'400 \{"fault_message":"InstanceStart: the microVM is already running', (calls(s2, "PUT", "/actions") or [""])[0])
      and len(loads) == 4 and re.match(r'400 \{"fault_message":"PUT /snapshot/load: only before InstanceStart', loads[3]),
      "after the load, PUT /boot-source, InstanceStart and a second load: 400 each")
ser2 = get("serial2")[0]
after = counts(ser2)
check(rc2 == 33 and first and after and after[0] == first[-1] + 1 and first + after == list(range(1, 61))
      and "memory ok" in ser2 and "done" in ser2,
      f"the loaded VM counts on from {after[0] if after else '?'} (serve 1 stopped at {first[-1] if first else '?'}) "
      f"to 60 with its RAM intact, serve exits 33 as the guest asks (rc {rc2})")
rc2 == 33 or show_failed_boot("serve2", s2 + get("serve2-err")[0] + ser2, rc2)

s3, rc3 = get("serve3")
m3 = re.search(r"^LOADED-PAUSED-COUNTS (\d+)$", s3, re.M)
check(calls(s3, "PUT", "/snapshot/load") == ["204 "] and '"state":"Paused"' in (calls(s3, "GET", "/") or [""])[0]
      and m3 and m3.group(1) == "0",
      f"resume_vm false: 204, GET / Paused, no count in 2 s ({m3.group(0) if m3 else 'no line'})")
ma = re.search(r"^AGAIN-FILES (\d+) (\d+)$", s3, re.M)
check(calls(s3, "PUT", "/snapshot/create") == ["204 "] and ma and int(ma.group(1)) == 64 << 20,
      "the restored, paused VM can be snapshotted again (204, its memory file written)")
third = counts(get("serial3")[0])
check(calls(s3, "PATCH", "/vm") == ["204 "] and first and third and third[0] == first[-1] + 1
      and third == list(range(third[0], third[0] + len(third))) and len(third) >= 2,
      f"PATCH /vm Resumed: it counts on from {third[0] if third else '?'}")
check(not re.search(r"Sanitizer|Segmentation fault|forbidden system call", out), "no crash, no forbidden system call")
finish()
PY
