/* Probe entry: the first instructions save the producer's registers into a
 * static area (no stack use, no flag change: only MOVs to memory through
 * the producer's DS), then load our own ESP and PUSHF (EFLAGS as the
 * producer left it: MOV does not alter flags; PUSHF uses the producer's SS
 * with our ESP), then read CR0/CR4/EFER/GDTR/IDTR/TR/LDTR, then C. */
#include "xen_note.h"
PVH_ENTRY_NOTE(pvh_start)

    .section .text.entry, "ax"
    .code32
    .globl pvh_start
pvh_start:
    movl %eax, entry_regs + 0
    movl %ebx, entry_regs + 4
    movl %ecx, entry_regs + 8
    movl %edx, entry_regs + 12
    movl %esi, entry_regs + 16
    movl %edi, entry_regs + 20
    movl %ebp, entry_regs + 24
    movl %esp, entry_regs + 28
    movw %cs, entry_sel + 0
    movw %ds, entry_sel + 2
    movw %es, entry_sel + 4
    movw %ss, entry_sel + 6
    movw %fs, entry_sel + 8
    movw %gs, entry_sel + 10
    movl $stack_top, %esp
    pushfl
    popl entry_eflags
    movl %cr0, %eax
    movl %eax, entry_cr0
    movl %cr4, %eax
    movl %eax, entry_cr4
    movl $0xC0000080, %ecx
    rdmsr
    movl %eax, entry_efer
    movl %edx, entry_efer + 4
    sgdt entry_gdtr
    sidt entry_idtr
    str entry_sel + 12
    sldt entry_sel + 14
    cli
    cld
    movl $__bss_start, %edi
    movl $__bss_end, %ecx
    subl %edi, %ecx
    xorl %eax, %eax
    rep stosb
    call probe_main
1:  hlt
    jmp 1b

    .section .data
    .balign 16
    .globl entry_regs, entry_sel, entry_eflags, entry_cr0, entry_cr4, entry_efer, entry_gdtr, entry_idtr
entry_regs:   .skip 32
entry_sel:    .skip 16
entry_eflags: .long 0
entry_cr0:    .long 0
entry_cr4:    .long 0
entry_efer:   .quad 0
entry_gdtr:   .skip 8
entry_idtr:   .skip 8

    .section .bss
    .balign 16
    .skip 8192
stack_top:
