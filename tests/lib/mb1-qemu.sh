# Sourced by the Multiboot 1 suites (tests/run/multiboot.t,
# tests/conformance/multiboot.t): the guest SDK's two Multiboot images and
# three random modules in a directory, and a QEMU `-kernel` boot of one image
# with those modules (TCG, -M pc, isa-debug-exit to end it), its output
# between "=== BEGIN LABEL" and "=== END LABEL rc=N" lines.

# mb1_stage DIR: mb1hello, mb1hello.bin, mod0 (12345 B), mod1 (70001 B), mod2 (3 B).
mb1_stage() {
    head -c 12345 /dev/urandom >"$1/mod0"
    head -c 70001 /dev/urandom >"$1/mod1"
    head -c 3 /dev/urandom >"$1/mod2"
    cp guest/build/mb1hello guest/build/mb1hello.bin "$1/"
}

# qemu_mb1_boot LABEL DIR IMAGE MEM_MB CMDLINE (runs in DIR: QEMU sees the
# file names as given, "mod1 first module" is mod1 with a command line).
qemu_mb1_boot() {
    local label=$1 dir=$2 image=$3 mem=$4 cmdline=$5 rc
    echo "=== BEGIN $label"
    (cd "$dir" && timeout 60 qemu-system-x86_64 -accel tcg -M pc -m "$mem" -kernel "$image" -append "$cmdline" \
        -initrd "mod0,mod1 first module,mod2" -device isa-debug-exit,iobase=0xf4,iosize=4 \
        -display none -monitor none -serial stdio -no-reboot </dev/null 2>&1)
    rc=$?
    echo "=== END $label rc=$rc"
}
