#!/usr/bin/env bash
# Diff snapshots (issue 16, --snapshot-diff) of a guest whose virtio-blk
# drive wrote guest RAM between the generations, in ONE machine with KVM
# (tests/kvm/with-kvm.sh): Debian 6.1's kernel with the busybox virtio
# initramfs (tests/lib/virtio-initramfs.sh) and an ext4 drive (id=data,
# mounted read-only) holding data.bin (4 MiB) and control.bin (1 MiB), both
# random bytes made here. The guest runs tests/lib/snapnow (the full
# snapshot, s.state + s.mem), reads data.bin (sha256sum: the drive's reads
# land in its page cache, written into guest RAM by pvhboot's I/O thread,
# never by a vCPU), prints the sum, runs snapnow again (diff 1: s.state.1 +
# s.mem.1), then prints data.bin's sum again and control.bin's.
#  - the run (--snapshot-continue) goes through both snapshots; its sums are
#    the host's;
#  - s.mem.1 holds far fewer pages on disk than s.mem, and every 4 KiB page
#    of data.bin is among them (tests/lib/snapmem-drop.c looks for each);
#  - restore s.state.1 --mem-file s.mem --mem-diff s.mem.1 with the drive
#    replaced by zeros (--drive zero.img,id=data, same size): the restored
#    guest's data.bin sum (read again from its page cache) is the host's,
#    and its control.bin sum, never read before the snapshot so read from
#    the drive now, is that of zeros: any page the guest re-read from the
#    drive would be zeros, so a right sum means the pages came from the
#    snapshot;
#  - the control: the same restore with s.mem.1 less exactly the pages that
#    hold data.bin (what a VMM that missed its own writes would have put in
#    the diff; snapmem-drop writes it, trailer resealed) gives another sum.
#    A page missed by the diff comes from the base instead, where it held
#    whatever it did before the read (the kernel boots with init_on_alloc=0,
#    so no vCPU zeroes a page-cache page before the drive fills it: KVM's
#    dirty log never sees those pages, only the VMM's own bitmap does), and
#    the kernel, whose page-cache bookkeeping (in vCPU-written pages, in the
#    diff) says the page is up to date, hands out those stale bytes without
#    asking the drive.
# Every pvhboot under busybox timeout -s KILL; no sanitizer, segfault or
# sandbox text in any output.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/kvm-suite.sh
k61=$(tests/lib/debian-kernel.sh) || fail_all "cannot fetch Debian's 6.1 cloud kernel"
cc -static -O2 -Wall -Wextra -Werror -o "$work/snapnow" tests/lib/snapnow.c 2>"$work/cc.log" ||
    fail_all "cannot build tests/lib/snapnow.c: $(head -3 "$work/cc.log")"
cc -static -O2 -Wall -Wextra -Werror -Iinclude -o "$work/snapmem-drop" tests/lib/snapmem-drop.c \
    build/static/libpvhboot.a -lz 2>"$work/cc.log" ||
    fail_all "cannot build tests/lib/snapmem-drop.c: $(head -3 "$work/cc.log")"
mkdir "$work/fs"
head -c 4M /dev/urandom >"$work/fs/data.bin"
head -c 1M /dev/urandom >"$work/fs/control.bin"
truncate -s 16M "$work/disk.img"
mkfs.ext4 -q -F -b 4096 -L snapdv -d "$work/fs" "$work/disk.img" >"$work/mkfs.log" 2>&1 ||
    fail_all "mkfs.ext4 -d: $(head -3 "$work/mkfs.log")"

cat >"$work/test-init" <<'TEST'
#!/bin/sh
mkdir -p /mnt
mount -t ext4 -o ro /dev/vda /mnt || { echo "SNAPDV-MOUNT-FAIL"; exit 1; }
/snapnow
echo "SNAPDV-GEN0 rc=$?"
sum=$(sha256sum /mnt/data.bin)
echo "SNAPDV-SUM1 ${sum%% *}"
/snapnow
echo "SNAPDV-GEN1 rc=$?"
sum=$(sha256sum /mnt/data.bin)
echo "SNAPDV-SUM2 ${sum%% *}"
sum=$(sha256sum /mnt/control.bin)
echo "SNAPDV-CONTROL ${sum%% *}"
umount /mnt
TEST
tests/lib/virtio-initramfs.sh "$k61" "$work/snapdv.cpio" --init "$work/test-init" \
    --file "$work/snapnow:/snapnow" >/dev/null || fail_all "cannot build the initramfs"

cat >"$work/cases.sh" <<'CASES'
run() {
    name=$1; shift
    echo "=== BEGIN $name"
    busybox timeout -s KILL 300 "$@" 2>&1
    echo "=== END $name rc=$?"
}
run run ./pvhboot run vmlinux --initrd snapdv.cpio --mem 128 --timeout 240 --drive disk.img,id=data \
    --cmdline "console=ttyS0 quiet init_on_alloc=0 init_on_free=0" \
    --snapshot-on-port --snapshot-continue --snapshot-diff --snapshot-file s.state --mem-file s.mem
echo "=== BEGIN files"
for f in s.state s.mem s.state.1 s.mem.1; do
    [ -f $f ] && echo "$f apparent=$(busybox stat -c %s $f) du_kib=$(busybox du -k $f | busybox cut -f1)"
done
echo "=== END files rc=0"
busybox dd if=/dev/zero of=zero.img bs=1M count=16 2>/dev/null
run restore ./pvhboot restore s.state.1 --mem-file s.mem --mem-diff s.mem.1 --drive zero.img,id=data --timeout 240
run drop ./snapmem-drop s.mem.1 data.bin dropped.mem
run restore-dropped ./pvhboot restore s.state.1 --mem-file s.mem --mem-diff dropped.mem --drive zero.img,id=data \
    --timeout 240
echo "=== BEGIN zero-after"
echo "non-zero bytes: $(busybox tr -d '\000' <zero.img | busybox wc -c)"
echo "=== END zero-after rc=0"
CASES

start=$(date +%s)
PVHBOOT_KVM_TIMEOUT=900 tests/kvm/with-kvm.sh --mem 1536 --cpus 1 --file build/static/pvhboot --file "$k61/vmlinux" \
    --file "$work/snapdv.cpio" --file "$work/disk.img" --file "$work/fs/data.bin" --file "$work/snapmem-drop" \
    --file "$work/cases.sh" -- sh cases.sh >"$work/out.txt" 2>"$work/err.txt"
rc=$?
echo "# with-kvm.sh exit $rc after $(( $(date +%s) - start )) s; $(grep -m1 '^# kvm:' "$work/err.txt")"
[ "$rc" -eq 0 ] || { sed 's/^/# /' "$work/err.txt" | tail -30; }

export WORK=$work
export DATA_SUM=$(sha256sum "$work/fs/data.bin" | cut -d' ' -f1)
export CONTROL_SUM=$(sha256sum "$work/fs/control.bin" | cut -d' ' -f1)
export ZERO_SUM=$(head -c 1M /dev/zero | sha256sum | cut -d' ' -f1)
python3 - <<'PY'
import os, re, sys
sys.path.insert(0, "tests/lib")
from tap import check, finish, show_failed_boot, sections as split_sections
work = os.environ["WORK"]
data_sum, control_sum, zero_sum = os.environ["DATA_SUM"], os.environ["CONTROL_SUM"], os.environ["ZERO_SUM"]
out = open(f"{work}/out.txt", errors="replace").read().replace("\r", "")
s = split_sections(out)
def get(name):
    return s.get(name, ("", -1))
def crashed(text):
    return [w for w in ("Sanitizer", "Segmentation fault", "forbidden system call", "DEVICE_NEEDS_RESET") if w in text]
def sums(text, what):
    return re.findall(rf"^SNAPDV-{what} ([0-9a-f]{{64}})$", text, re.M)
def broken(text):
    return [l[:120] for l in text.splitlines() if re.search(r"EXT4-fs (error|warning)|I/O error|BUG:|Oops", l)]

text, rc = get("run")
ok = check(rc == 0 and "SNAPDV-GEN0 rc=0" in text and "SNAPDV-GEN1 rc=0" in text
           and sums(text, "SUM1") == [data_sum] and sums(text, "SUM2") == [data_sum]
           and sums(text, "CONTROL") == [control_sum] and not crashed(text) and not broken(text),
           "--snapshot-diff --snapshot-continue: Debian 6.1 with an ext4 drive goes through the full snapshot and "
           "diff 1 (snapnow), its sums of data.bin and control.bin are the host's, exit 0")
ok or show_failed_boot("run", text, rc)

text, rc = get("files")
files = {m.group(1): (int(m.group(2)), int(m.group(3)))
         for m in re.finditer(r"^(\S+) apparent=(\d+) du_kib=(\d+)$", text, re.M)}
check(set(files) == {"s.state", "s.mem", "s.state.1", "s.mem.1"},
      f"the full snapshot went to s.state and s.mem, diff 1 to s.state.1 and s.mem.1: {sorted(files)}")
full, diff = files.get("s.mem", (0, 0))[1], files.get("s.mem.1", (0, 0))[1]
check(full >= 16 << 10 and 4 << 10 <= diff and diff * 3 < full,
      f"the diff's memory file holds far fewer pages than the full one, and at least data.bin's 4 MiB: "
      f"{diff} KiB on disk against {full} KiB")

text, rc = get("drop")
m = re.search(r"^SNAPMEM-DROP held=(\d+) chunks=(\d+) found=(\d+) dropped=(\d+)$", text, re.M)
held, chunks, found, dropped = (int(x) for x in m.groups()) if m else (0, 0, 0, 0)
ok = check(rc == 0 and chunks == 1024 and found == chunks and dropped >= found and held > dropped,
           f"every 4 KiB page of data.bin (written into guest RAM by the VMM's virtio-blk) is in the diff: "
           f"{found} of {chunks} found among its {held} pages")
ok or show_failed_boot("drop", text, rc)

text, rc = get("restore")
ok = check(rc == 0 and sums(text, "SUM2") == [data_sum] and "SNAPDV-GEN1 rc=0" in text
           and not sums(text, "SUM1") and "SNAPDV-GEN0" not in text,
           f"restore of diff 1 over the base, the drive now zeros: the guest resumes after the second snapnow and "
           f"its data.bin sum, from its page cache, is the host's: {(sums(text, 'SUM2') or ['none'])[0][:16]}... "
           f"(host {data_sum[:16]}...)")
ok or show_failed_boot("restore", text, rc)
ok = check(rc == 0 and sums(text, "CONTROL") == [zero_sum] and "VIRTIO-INITRAMFS-DONE status=0" in text
           and not broken(text),
           "...and control.bin, read from the drive only now, is all zeros (a page re-read from the drive "
           "cannot pass for data.bin's), unmounted and powered off")
ok or show_failed_boot("restore", text, rc)

text, rc = get("restore-dropped")
got = sums(text, "SUM2")
ok = check(rc == 0 and len(got) == 1 and got[0] != data_sum and sums(text, "CONTROL") == [zero_sum],
           f"control: the same restore with a diff lacking exactly data.bin's pages ({dropped} left out) gives "
           f"another sum ({(got or ['none'])[0][:16]}...): a page the diff misses shows")
ok or show_failed_boot("restore-dropped", text, rc)

text, _ = get("zero-after")
check(re.search(r"^non-zero bytes: 0$", text, re.M),
      f"nothing wrote the zero drive (mounted read-only), so it stayed zeros for both restores: {text.strip()[:80]}")
every = "".join(get(n)[0] for n in ("run", "restore", "drop", "restore-dropped"))
check(not crashed(every), f"no sanitizer, segfault or sandbox text in any output: {crashed(every)}")
finish()
PY
