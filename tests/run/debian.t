#!/usr/bin/env bash
# A real Debian system on pvhboot, end to end: tests/lib/debian-rootfs.sh's
# Debian bookworm (debootstrap, systemd, Debian's cloud kernel and the
# initrd.img initramfs-tools built inside it, made into an ext4 image with
# mkfs.ext4 -d) booted as a user would:
#   pvhboot run vmlinuz --initrd initrd.img --drive rootfs.img --rng \
#       --cmdline "console=ttyS0 root=/dev/vda ro ..."
# in the machine with KVM (tests/kvm/with-kvm.sh; the image, a fresh sparse
# copy of the cached one, travels as --disk). Debian's own initramfs must
# find the disk through ACPI (udev loads virtio_mmio by its LNRO0005 alias:
# no module list of ours), systemd must reach multi-user.target and the
# ttyS0 login prompt, its pvhboot-marker.service writes a file with this
# run's nonce, syncs and powers off (exit 0), and the host then reads that
# file out of the image with debugfs, byte for byte what the guest printed.
# tests/virtio/qemu-reference.t boots the same image under QEMU microvm.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/kvm-suite.sh
command -v debugfs >/dev/null && command -v e2fsck >/dev/null || fail_all "e2fsprogs missing (tests/lib/install-deps.sh)"
t0=$SECONDS
rootfs=$(tests/lib/debian-rootfs.sh) || fail_all "tests/lib/debian-rootfs.sh failed"
echo "# rootfs: $rootfs ($((SECONDS - t0)) s to get)"
cp --sparse=always "$rootfs/rootfs.img" "$work/root.img"
cp "$rootfs/vmlinuz" "$rootfs/initrd.img" "$work/"
nonce=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
kver=$(cat "$rootfs/version"); kver=${kver#linux-image-}

cat >"$work/cases.sh" <<CASES
echo "=== BEGIN debian"
./pvhboot run vmlinuz --initrd initrd.img --drive "\$DISK0,id=pvh-root" --rng --mem 512 --timeout 500 --verbose \\
    --cmdline "console=ttyS0 root=/dev/vda ro pvhboot.nonce=$nonce" 2>&1
echo "=== END debian rc=\$?"
CASES
start=$(date +%s)
tests/kvm/with-kvm.sh --mem 1536 --file build/static/pvhboot --file "$work/vmlinuz" --file "$work/initrd.img" \
    --file "$work/cases.sh" --disk "$work/root.img" -- sh cases.sh >"$work/out.txt" 2>"$work/err.txt"
rc=$?
echo "# with-kvm.sh exit $rc after $(( $(date +%s) - start )) s; $(grep -m1 '^# kvm:' "$work/err.txt")"
[ "$rc" -eq 0 ] || sed 's/^/# /' "$work/err.txt" | tail -20
tr -d '\r' <"$work/out.txt" | sed -n 's/.*PVHBOOT-MARKER \(.*\)$/\1/p' >"$work/console-marker.txt"
debugfs -R 'cat /var/lib/pvhboot-test/marker' "$work/root.img" >"$work/marker.txt" 2>/dev/null
e2fsck -fn "$work/root.img" >"$work/fsck.txt" 2>&1
fsck_rc=$?
WORK=$work NONCE=$nonce KVER=$kver FSCK_RC=$fsck_rc PRISTINE=$([[ $(debugfs -R "stat /var/lib/pvhboot-test/marker" "$rootfs/rootfs.img" 2>&1) == *"File not found"* ]] && echo 1 || echo 0) \
python3 - <<'PY'
import os, re, sys
sys.path.insert(0, "tests/lib")
from tap import check, finish, sections as split_sections
work = os.environ["WORK"]
out = open(work + "/out.txt", errors="replace").read().replace("\r", "")
text, rc = split_sections(out).get("debian", ("", -1))
marker = open(work + "/marker.txt", errors="replace").read()
console_marker = open(work + "/console-marker.txt", errors="replace").read()
bad = [w for w in ("Sanitizer", "Segmentation fault", "forbidden system call", "Kernel panic", "BUG:") if w in text]
check(not bad, f"debian: no crash, no panic, no forbidden system call ({', '.join(bad) or 'none'})")
check(rc == 0 and "reboot: Power down" in text, f"debian: Debian powered itself off through ACPI, pvhboot exit 0 (got {rc})")
check(re.search(r"virtio_blk virtio\d+: \[vda\]", text) and "EXT4-fs (vda): mounted" in text,
      "debian: Debian's initramfs found the virtio-mmio disk through ACPI (udev, modalias) and mounted /dev/vda")
# The marker unit powers off once multi-user.target is reached, which does not
# wait for agetty's prompt: under load the power-off can stop serial-getty
# before it prints (one CI run of 2026-11-28). Then its start and its stop by
# the power-off, both on the console, are the evidence.
prompt = re.search(r"^pvhboot-test login:", text, re.M)
started = re.search(r"Started .*Serial Getty on ttyS0", text)
stopped = started and re.search(r"Stopped .*Serial Getty on ttyS0", text[started.end():])
check(prompt or stopped, "debian: serial-getty on ttyS0: " +
      ("its login prompt" if prompt else "started, then stopped by the power-off before its prompt" if stopped
       else "neither a login prompt nor its start and stop"))
check(marker and marker == console_marker and "PVHBOOT-MARKER-DONE" in text,
      f"debian: debugfs reads the unit's file out of the image, byte for byte what the guest printed ({len(marker)} bytes)")
check(marker.startswith(f"pvhboot-test marker v1\nnonce={os.environ['NONCE']}\n"),
      "debian: the file has the fixed first line and this run's nonce")
check("multi-user.target=active" in marker.splitlines(), "debian: systemd had reached multi-user.target")
check(f"root=/dev/vda ext4 rw" in marker.splitlines() and f"kernel={os.environ['KVER']}" in marker.splitlines(),
      f"debian: / is /dev/vda, ext4, read-write; the kernel is {os.environ['KVER']} (the vmlinuz, extracted by pvhboot)")
check("virtio=0x0002 0x0004" in marker.splitlines() and re.search(r"^hwrng=virtio_rng\.\d+$", marker, re.M),
      "debian: udev loaded virtio-rng by modalias: devices 0x0002 (blk) and 0x0004 (rng), hwrng virtio_rng")
check(os.environ["FSCK_RC"] == "0", "debian: the root file system is clean after shutdown (e2fsck -fn)")
check(os.environ["PRISTINE"] == "1", "debian: the cached image stayed pristine (the guest wrote to a copy)")
m = re.search(r"virtio-blk \S+: mmio 0xd0000000, GSI 5; requests (\d+), bytes (\d+).*errors (\d+)", text)
check(m and int(m.group(1)) > 0 and int(m.group(3)) == 0,
      f"debian: --verbose counts the disk's requests, no device error ({m.group(0)[:110] if m else '?'})")
m = re.search(r"times from process start: first KVM_RUN ([\d.]+) ms, first serial byte ([\d.]+) ms, exit ([\d.]+) ms", text)
if m:
    print(f"# boot to power-off: {float(m.group(3)) / 1000:.1f} s (emulated machine)")
finish()
PY
