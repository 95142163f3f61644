/* PVH entry for hello64: enters in 32-bit protected mode, builds identity
 * page tables for the low 4 GiB (2 MiB pages), sets CR4.PAE, EFER.LME,
 * CR0.PG, loads its own GDT and jumps to 64-bit code: guest_main(%ebx). */
#include "stub.h"

    PVH_STUB_ENTRY
    movl %ebx, %ebp
    ZERO_BSS                /* page tables live in .bss */
    /* 2048 PD entries: 2 MiB pages, present | writable | PS */
    xorl %ecx, %ecx
1:  movl %ecx, %eax
    shll $21, %eax
    orl $0x83, %eax
    movl %eax, pd(,%ecx,8)
    incl %ecx
    cmpl $2048, %ecx
    jne 1b
    /* 4 PDPT entries, one PML4 entry */
    xorl %ecx, %ecx
2:  movl %ecx, %eax
    shll $12, %eax
    addl $pd + 3, %eax
    movl %eax, pdpt(,%ecx,8)
    incl %ecx
    cmpl $4, %ecx
    jne 2b
    movl $pdpt + 3, pml4
    /* CR4.PAE, CR3, EFER.LME, CR0.PG */
    movl %cr4, %eax
    orl $(1 << 5), %eax
    movl %eax, %cr4
    movl $pml4, %eax
    movl %eax, %cr3
    movl $0xC0000080, %ecx
    rdmsr
    orl $(1 << 8), %eax
    wrmsr
    movl %cr0, %eax
    orl $0x80000001, %eax
    movl %eax, %cr0
    lgdt gdt64_desc
    ljmp $0x08, $long_mode

    .code64
long_mode:
    movl $0x10, %eax
    movl %eax, %ds
    movl %eax, %es
    movl %eax, %ss
    movl %eax, %fs
    movl %eax, %gs
    movq $stack_top, %rsp
    movl %ebp, %edi
    call guest_main
    HALT_FOREVER

    .section .rodata
    .balign 8
gdt64:
    .quad 0
    .quad 0x00af9a000000ffff  /* 0x08: 64-bit code */
    .quad 0x00cf92000000ffff  /* 0x10: data */
gdt64_end:
gdt64_desc:
    .word gdt64_end - gdt64 - 1
    .long gdt64

    .section .bss
    .balign 4096
pml4: .skip 4096
pdpt: .skip 4096
pd:   .skip 4096 * 4
    STUB_STACK
