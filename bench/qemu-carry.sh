# Sourced by the benches that run QEMU inside the machine with KVM:
# carry_qemu DIR writes DIR/qemu.tar, Debian's qemu-system-x86_64 with the
# shared libraries ldd lists and the firmware it asks for; inside, after
# `tar -xf qemu.tar`, run it as $QEMU_INSIDE.
QEMU_INSIDE="./qemu/lib/ld-linux-x86-64.so.2 --library-path ./qemu/lib ./qemu/qemu-system-x86_64 -L ./qemu/fw"
carry_qemu() {
    local work=$1 q=$1/qemu f
    mkdir -p "$q/lib" "$q/fw"
    cp /usr/bin/qemu-system-x86_64 "$q/"
    ldd /usr/bin/qemu-system-x86_64 | awk '/=> \// { print $3 } /^\t\/.*ld-linux/ { print $1 }' |
        while read -r lib; do cp -L "$lib" "$q/lib/"; done
    for f in bios-microvm.bin qboot.rom pvh.bin linuxboot_dma.bin kvmvapic.bin; do
        cp -L "/usr/share/qemu/$f" "$q/fw/"
    done
    cp -L /usr/share/seabios/bios-256k.bin "$q/fw/"
    tar -C "$work" -cf "$work/qemu.tar" qemu
}
