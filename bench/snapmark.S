/* snapmark: the PVH guest of bench/snapshot.sh. At its first instruction it
 * writes "A\n" to COM1 (a timer sees process start -> first guest
 * instruction as the first serial byte). Command line "x": it exits there.
 * Otherwise it writes a pattern over 64 MiB of RAM (16 to 80 MiB) and asks
 * for a snapshot through the snapshot port (0x50414e53 to 0x5f4; a cold boot
 * without --snapshot-on-port goes straight on). Its first act after that,
 * and so the first instruction a restore runs, writes "B\n"; then it exits
 * with status 0 through port 0xf4. Command line "h" (hold, for clones): after
 * "B" it reads one word of each of the 16,384 touched pages (a clone maps
 * them from the shared memory file), writes "C\n" and halts with interrupts
 * off for good: the process stays until it is killed.
 * Built like first-byte.S, with bench/first-byte.ld. */
    .section .note.Xen, "a"
    .p2align 2
    .long 4                  /* name size: "Xen\0" */
    .long 4                  /* descriptor size */
    .long 18                 /* XEN_ELFNOTE_PHYS32_ENTRY */
    .asciz "Xen"
    .long pvh_start

    .set COM1, 0x3f8
    .set TOUCH_BASE, 0x1000000
    .set TOUCH_BYTES, 0x4000000
    .set START_INFO_CMDLINE, 24   /* hvm_start_info.cmdline_paddr (low half) */

    .text
    .code32
    .globl pvh_start
pvh_start:
    movw $COM1, %dx
    movb $'A', %al
    outb %al, %dx
    movb $'\n', %al
    outb %al, %dx
    /* the command line's first byte in %bl (0 when there is none) */
    movl START_INFO_CMDLINE(%ebx), %esi
    xorl %ebx, %ebx
    testl %esi, %esi
    jz 1f
    movb (%esi), %bl
1:  cmpb $'x', %bl
    je exit
    movl $TOUCH_BASE, %edi
    movl $TOUCH_BYTES / 4, %ecx
    movl $0x5a5a5a5a, %eax
    cld
    rep stosl
    movw $0x5f4, %dx
    movl $0x50414e53, %eax
    outl %eax, %dx
    movw $COM1, %dx           /* the first act after a restore */
    movb $'B', %al
    outb %al, %dx
    movb $'\n', %al
    outb %al, %dx
    cmpb $'h', %bl
    jne exit
    movl $TOUCH_BASE, %esi
    xorl %eax, %eax
2:  addl (%esi), %eax
    addl $4096, %esi
    cmpl $TOUCH_BASE + TOUCH_BYTES, %esi
    jb 2b
    movb $'C', %al
    outb %al, %dx
    movb $'\n', %al
    outb %al, %dx
    cli
3:  hlt
    jmp 3b
exit:
    movw $0xf4, %dx
    xorl %eax, %eax
    outl %eax, %dx
4:  hlt
    jmp 4b
