#!/usr/bin/env bash
# Builds (once per cache key) a Debian bookworm root filesystem image for the
# virtio-mmio boot tests and prints the cache directory, which holds:
#   rootfs.img        ext4 image (sparse, label pvhboot-root), the whole system
#   vmlinuz           boot/vmlinuz-* of linux-image-cloud-amd64 (bzImage)
#   initrd.img        Debian's own initramfs-tools initrd, built in the chroot
#   config            the kernel's build config
#   initrd-files.txt  lsinitramfs of initrd.img (virtio_mmio/virtio_blk checked)
#   packages.txt      name and version of every package in the image
#   key.txt           the text the cache key is the hash of
#   stats.txt         download bytes, build seconds, image sizes
#   version           the kernel package name (as tests/lib/debian-kernel.sh)
#
# The image: debootstrap --variant=minbase bookworm + systemd-sysv, udev,
# initramfs-tools and linux-image-cloud-amd64 (docs, man pages and locales
# left out), root without a password, a getty on the kernel's console, and
# pvhboot-marker.service, which after multi-user.target writes
# /var/lib/pvhboot-test/marker (the fixed first line below, the
# pvhboot.nonce= word of the kernel command line, boot id, kernel release,
# virtio device ids, current hwrng), echoes it to the console, syncs and
# powers off. `pvhboot.stay` on the command line keeps the system running.
# Boot it with: root=/dev/vda ro console=ttyS0 pvhboot.nonce=WORD
#
# The key: this script's own hash and the versions apt resolves (on this
# machine's sources) for debootstrap, systemd, systemd-sysv, udev,
# initramfs-tools, linux-image-cloud-amd64 and the kernel package it depends
# on; a new version or a changed recipe builds a new directory (built in a
# temp dir, then renamed). Packages are kept in $cache/debs for rebuilds.
# Needs root (debootstrap, chroot); the mirrors are the ones this machine's
# apt uses for bookworm, bookworm-updates and bookworm-security.
#
# Usage: tests/lib/debian-rootfs.sh        (env: PVHBOOT_TEST_CACHE,
#        PVHBOOT_ROOTFS_SIZE, default 512M)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
self=$here/$(basename "$0")
cache=${PVHBOOT_TEST_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/pvhboot-tests}
size=${PVHBOOT_ROOTFS_SIZE:-512M}
suite=bookworm
marker_head="pvhboot-test marker v1"
key_packages="systemd systemd-sysv udev initramfs-tools linux-image-cloud-amd64"

die() { echo "debian-rootfs: $*" >&2; exit 1; }
log() { echo "debian-rootfs: $*" >&2; }

kernel_package() { apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }'; }

# "URI SUITE" for each bookworm suite (main, amd64) this machine's apt reads,
# from apt-cache policy, so both one-line and deb822 sources count.
apt_suites() {
    apt-cache policy 2>/dev/null |
        awk -v s="$suite" '$3 ~ ("^" s "(-updates|-security)?/main$") && $4 == "amd64" {
            split($3, a, "/"); print $2, a[1] }' | sort -u
}

# The cache key text: recipe hash, host debootstrap and package candidates
# (one apt-cache call for all of them).
key_text() {
    local p v candidates
    echo "recipe $(sha256sum "$self" | cut -c1-16)"
    echo "size $size"
    echo "debootstrap $(dpkg-query -W -f='${Version}' debootstrap 2>/dev/null || echo none)"
    candidates=$(apt-cache policy $key_packages "$kpkg" 2>/dev/null |
        awk '/^[^ ].*:$/ { p = substr($1, 1, length($1) - 1) } /Candidate:/ { print p, $2 }')
    for p in $key_packages "$kpkg"; do
        v=$(awk -v p="$p" '$1 == p { print $2; exit }' <<<"$candidates")
        [ -n "$v" ] && [ "$v" != "(none)" ] || die "apt-cache policy $p: no candidate (are bookworm's sources configured?)"
        echo "$p $v"
    done
}

resolve() {
    kpkg=$(kernel_package)
    if [ -z "$kpkg" ]; then
        apt-get update -qq >/dev/null 2>&1 || true
        kpkg=$(kernel_package)
    fi
    [ -n "$kpkg" ] || die "cannot resolve linux-image-cloud-amd64 with apt-cache depends"
    suites=$(apt_suites)
    mirror=$(awk -v s="$suite" '$2 == s { print $1; exit }' <<<"$suites")
    [ -n "$mirror" ] || die "no '$suite main amd64' source in this machine's apt configuration"
}

ensure_tools() {
    [ "$(id -u)" -eq 0 ] || die "needs root (debootstrap and chroot)"
    local t missing=0
    for t in debootstrap mkfs.ext4 debugfs flock; do
        command -v "$t" >/dev/null || missing=1
    done
    [ "$missing" -eq 0 ] && return 0
    "$here/install-deps.sh" >&2 || true
    for t in debootstrap mkfs.ext4 debugfs flock; do
        command -v "$t" >/dev/null || die "$t is missing (tests/lib/install-deps.sh installs it)"
    done
}

# Unmounts whatever a killed debootstrap left mounted under $1, then removes it.
remove_tree() {
    local m
    [ -e "$1" ] || return 0
    for m in $(awk -v p="$1/" 'index($2, p) == 1 { print $2 }' /proc/mounts | sort -r); do
        umount -l "$m" 2>/dev/null || true
    done
    rm -rf --one-file-system "$1"
}

in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
    DEBIAN_FRONTEND=noninteractive LC_ALL=C "$@"; }

write_config() {
    mkdir -p "$root/etc/dpkg/dpkg.cfg.d"
    printf 'path-exclude=/usr/share/%s/*\n' doc man locale info >"$root/etc/dpkg/dpkg.cfg.d/01-pvhboot-slim"
    awk '{ print "deb " $1 " " $2 " main" }' <<<"$suites" >"$root/etc/apt/sources.list"
    echo pvhboot-test >"$root/etc/hostname"
    printf '127.0.0.1\tlocalhost\n127.0.1.1\tpvhboot-test\n' >"$root/etc/hosts"
    printf 'LABEL=pvhboot-root\t/\text4\tdefaults\t0\t1\n' >"$root/etc/fstab"
    in_root passwd -d root >/dev/null
    write_marker_unit
}

write_marker_unit() {
    mkdir -p "$root/usr/local/sbin" "$root/etc/systemd/system/multi-user.target.wants"
    cat >"$root/usr/local/sbin/pvhboot-marker" <<EOF
#!/bin/sh
# Written by pvhboot's tests/lib/debian-rootfs.sh: proves this boot reached
# multi-user.target and could write its root disk, then powers off.
set -eu
word() { tr ' ' '\n' </proc/cmdline | sed -n "s/^\$1//p" | head -n 1; }
dir=/var/lib/pvhboot-test
mkdir -p "\$dir"
{
    echo "$marker_head"
    echo "nonce=\$(word pvhboot.nonce=)"
    echo "boot_id=\$(cat /proc/sys/kernel/random/boot_id)"
    echo "kernel=\$(uname -r)"
    echo "virtio=\$(cat /sys/bus/virtio/devices/*/device 2>/dev/null | sort | xargs)"
    echo "hwrng=\$(cat /sys/class/misc/hw_random/rng_current 2>/dev/null || echo none)"
    echo "root=\$(findmnt -rn -o SOURCE,FSTYPE,OPTIONS / | cut -d, -f1)"
    echo "multi-user.target=\$(systemctl is-active multi-user.target)"
} >"\$dir/marker.tmp"
mv "\$dir/marker.tmp" "\$dir/marker"
sync
sed 's/^/PVHBOOT-MARKER /' "\$dir/marker"
echo "PVHBOOT-MARKER-DONE"
if ! grep -qw pvhboot.stay /proc/cmdline; then systemctl --no-block poweroff; fi
EOF
    chmod 755 "$root/usr/local/sbin/pvhboot-marker"
    cat >"$root/etc/systemd/system/pvhboot-marker.service" <<'EOF'
[Unit]
Description=pvhboot test marker (write, sync, power off)
After=multi-user.target

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/pvhboot-marker
StandardOutput=journal+console

[Install]
WantedBy=multi-user.target
EOF
    ln -sf /etc/systemd/system/pvhboot-marker.service \
        "$root/etc/systemd/system/multi-user.target.wants/pvhboot-marker.service"
    # Only the serial console's getty (systemd starts it for console=ttyS0):
    # no virtual terminals to log in on.
    ln -sf /dev/null "$root/etc/systemd/system/getty-static.service"
    rm -f "$root/etc/systemd/system/getty.target.wants/getty@tty1.service"
}

bootstrap() {
    debootstrap --variant=minbase --include=systemd-sysv,udev --cache-dir="$cache/debs" \
        "$suite" "$root" "$mirror" >"$tmp/logs/debootstrap.log" 2>&1 ||
        { tail -n 30 "$tmp/logs/debootstrap.log" >&2; die "debootstrap failed"; }
}

# Pre-seeds apt's archive dir from the package cache, installs, saves back.
install_packages() {
    local a=$root/var/cache/apt/archives
    find "$cache/debs" -maxdepth 1 -name '*.deb' -exec cp -n {} "$a/" \;
    in_root apt-get update -qq 2>"$tmp/logs/update.log" && ! grep -q '^[WE]:' "$tmp/logs/update.log" ||
        { cat "$tmp/logs/update.log" >&2; die "apt-get update in the chroot failed"; }
    # initramfs-tools first, so that the kernel's postinst builds the initrd once.
    for p in initramfs-tools linux-image-cloud-amd64; do
        in_root apt-get install -y -q --no-install-recommends "$p" >>"$tmp/logs/apt.log" 2>&1 ||
            { tail -n 30 "$tmp/logs/apt.log" >&2; die "apt-get install $p in the chroot failed"; }
    done
    in_root dpkg-query -W "$kpkg" initramfs-tools >/dev/null 2>&1 ||
        die "the chroot did not install $kpkg (apt-get update in the chroot failed?)"
    find "$a" -maxdepth 1 -name '*.deb' -exec cp -n {} "$cache/debs/" \;
    # What a build with an empty package cache downloads: the image's .debs.
    download=$(in_root dpkg-query -W -f='${Package}_${Version}_${Architecture}.deb\n' | sed 's/:/%3a/g' |
        while read -r f; do stat -c %s "$a/$f" 2>/dev/null || echo "missing $f" >&2; done |
        awk '{ s += $1 } END { print s + 0 }')
}

slim_root() {
    in_root apt-get clean
    rm -rf "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* "$root"/usr/share/man/* \
        "$root"/usr/share/info/* "$root"/var/cache/debconf/*-old "$root"/var/log/apt/* \
        "$root"/var/log/dpkg.log "$root"/var/log/bootstrap.log "$root"/etc/resolv.conf
    find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
}

# Debian's initrd must find a virtio-mmio disk by modalias on its own.
check_initrd() {
    local f m
    f=$(ls "$root"/boot/initrd.img-* 2>/dev/null | head -n 1)
    [ -s "$f" ] || die "no /boot/initrd.img-* in the chroot"
    in_root lsinitramfs "/boot/$(basename "$f")" >"$tmp/initrd-files.txt"
    for m in virtio_ring virtio virtio_mmio virtio_blk; do
        grep -q "/$m\.ko" "$tmp/initrd-files.txt" || die "initrd lacks $m.ko (MODULES=most?)"
    done
    cp "$f" "$tmp/initrd.img"
    cp "$root"/boot/vmlinuz-* "$tmp/vmlinuz"
    cp "$root"/boot/config-* "$tmp/config"
}

make_image() {
    mkfs.ext4 -q -F -L pvhboot-root -d "$root" "$tmp/rootfs.img" "$size" >&2 ||
        die "mkfs.ext4 -d failed (image size $size too small?)"
}

write_stats() {
    local used
    used=$(dumpe2fs -h "$tmp/rootfs.img" 2>/dev/null |
        awk -F: '/^Block count/ { b = $2 } /^Free blocks/ { f = $2 } /^Block size/ { s = $2 }
                 END { printf "%d", (b - f) * s }')
    {
        echo "download_bytes $download"
        echo "build_seconds $(($(date +%s) - start))"
        echo "image_bytes $(stat -c %s "$tmp/rootfs.img")"
        echo "image_allocated_bytes $(($(stat -c %b "$tmp/rootfs.img") * $(stat -c %B "$tmp/rootfs.img")))"
        echo "image_used_bytes $used"
        echo "tree_bytes $(du -sb "$root" | cut -f1)"
        echo "initrd_bytes $(stat -c %s "$tmp/initrd.img")"
        echo "package_count $(wc -l <"$tmp/packages.txt")"
        printf '%s' "$phases"
    } >"$tmp/stats.txt"
}

# Runs a step and adds "NAME_seconds N" to the stats.
phase() {
    local t0=$SECONDS
    "$@"
    phases+="$1_seconds $((SECONDS - t0))"$'\n'
}

# Keeps only the .debs this build used in the package cache.
prune_package_cache() {
    local keep=$root/var/cache/apt/archives f
    for f in "$cache"/debs/*.deb; do
        [ -e "$keep/$(basename "$f")" ] || rm -f "$f"
    done
}

build() {
    start=$(date +%s)
    tmp=$dir.tmp.$$
    root=$tmp/root
    remove_tree "$tmp"
    trap 'remove_tree "$tmp"' EXIT
    mkdir -p "$tmp/logs" "$cache/debs"
    phases=
    log "building $dir (a few minutes)"
    phase bootstrap
    write_config
    phase install_packages
    phase check_initrd
    in_root dpkg-query -W -f='${Package} ${Version}\n' >"$tmp/packages.txt"
    prune_package_cache
    slim_root
    phase make_image
    write_stats
    echo "$kpkg" >"$tmp/version"
    echo "$keytext" >"$tmp/key.txt"
    remove_tree "$root"
    mv "$tmp" "$dir"
    trap - EXIT
    log "built $dir: $(tr '\n' ' ' <"$dir/stats.txt")"
}

complete() { [ -s "$1/rootfs.img" ] && [ -s "$1/vmlinuz" ] && [ -s "$1/initrd.img" ] && [ -s "$1/key.txt" ]; }

main() {
    resolve
    keytext=$(key_text)
    dir=$cache/rootfs-$suite-$(sha256sum <<<"$keytext" | cut -c1-16)
    if complete "$dir"; then echo "$dir"; return; fi
    ensure_tools
    mkdir -p "$cache"
    exec 9>"$cache/rootfs.lock"
    flock 9
    if ! complete "$dir"; then
        remove_tree "$dir"
        build
    fi
    echo "$dir"
}

main "$@"
