/* The SMP guest's AP start code. smp.c copies ap_trampoline..ap_trampoline_end
 * to SMP_TRAMPOLINE; a SIPI with vector SMP_TRAMPOLINE >> 12 starts an AP
 * there in real mode (CS = 0x7000, IP = 0). It loads a flat GDT (inside the
 * copy), enters 32-bit protected mode, takes the next SMP_AP_STACK bytes of
 * ap_stacks and calls ap_main() at its linked address. Everything inside
 * the copy is addressed relative to SMP_TRAMPOLINE, never to where it was
 * linked. */
#include "smp.h"

    .section .text
    .code16
    .globl ap_trampoline, ap_trampoline_end
ap_trampoline:
    cli
    cld
    movw %cs, %ax
    movw %ax, %ds
    lgdtl tr_gdt_desc - ap_trampoline
    movl %cr0, %eax
    orl $1, %eax
    movl %eax, %cr0
    ljmpl $0x08, $(SMP_TRAMPOLINE + tr_protected - ap_trampoline)

    .code32
tr_protected:
    movl $0x10, %eax
    movl %eax, %ds
    movl %eax, %es
    movl %eax, %ss
    movl %eax, %fs
    movl %eax, %gs
    movl $SMP_AP_STACK, %eax
    lock xaddl %eax, ap_stack_used
    leal ap_stacks + SMP_AP_STACK(%eax), %esp
    movl $ap_main, %eax
    call *%eax
1:  cli
    hlt
    jmp 1b

    .balign 8
tr_gdt:
    .quad 0
    .quad 0x00cf9a000000ffff  /* 0x08: 32-bit code, base 0, limit 4 GiB */
    .quad 0x00cf92000000ffff  /* 0x10: data, the same */
tr_gdt_end:
tr_gdt_desc:
    .word tr_gdt_end - tr_gdt - 1
    .long SMP_TRAMPOLINE + tr_gdt - ap_trampoline
ap_trampoline_end:

    .section .data
    .balign 4
ap_stack_used:
    .long 0

    .section .bss
    .balign 16
ap_stacks:
    .skip SMP_AP_STACK * SMP_MAX_CPUS
