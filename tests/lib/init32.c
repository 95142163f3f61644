/* An i386 /init without a libc (gcc -m32 -static -nostdlib), for 32-bit
 * kernels (tests/run/real-pvh.t): says it runs, then powers the machine
 * off through reboot(2); exits should that fail (the kernel then panics). */
static long syscall3(long nr, long a, long b, long c)
{
    long r;
    __asm__ volatile("int $0x80" : "=a"(r) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory");
    return r;
}

void _start(void)
{
    static const char msg[] = "PVHBOOT-INIT32: init is running\n";
    enum { SYS_exit = 1, SYS_write = 4, SYS_reboot = 88 };
    syscall3(SYS_write, 1, (long)msg, sizeof(msg) - 1);
    syscall3(SYS_reboot, 0xfee1dead, 0x28121969, 0x4321fedc); /* LINUX_REBOOT_CMD_POWER_OFF */
    for (;;)
        syscall3(SYS_exit, 1, 0, 0);
}
