/* The smallest PVH guest: at its first instruction it writes one byte to
 * COM1 (so a timer sees "process start -> first guest instruction" as the
 * first serial byte), then exits with status 0 through the debug-exit port
 * 0xf4. Built with the host gcc: gcc -m32 -nostdlib -static -Wl,-Ttext=0x100000. */
    .section .note.Xen, "a"
    .p2align 2
    .long 4                  /* name size: "Xen\0" */
    .long 4                  /* descriptor size */
    .long 18                 /* XEN_ELFNOTE_PHYS32_ENTRY */
    .asciz "Xen"
    .long pvh_start

    .text
    .code32
    .globl pvh_start
pvh_start:
    movw $0x3f8, %dx
    movb $'!', %al
    outb %al, %dx
    movb $'\n', %al
    outb %al, %dx
    movw $0xf4, %dx
    xorl %eax, %eax
    outl %eax, %dx
1:  hlt
    jmp 1b
