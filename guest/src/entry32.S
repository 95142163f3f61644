/* 32-bit PVH entry for hello32 and the hostile guest: stack, clear .bss, call guest_main(%ebx). */
#include "xen_note.h"
PVH_ENTRY_NOTE(pvh_start)

    .section .text.entry, "ax"
    .code32
    .globl pvh_start
pvh_start:
    cli
    cld
    movl $stack_top, %esp
    movl %ebx, %esi
    movl $__bss_start, %edi
    movl $__bss_end, %ecx
    subl %edi, %ecx
    xorl %eax, %eax
    rep stosb
    pushl %esi
    call guest_main
1:  hlt
    jmp 1b

    .section .bss
    .balign 16
    .skip 16384
stack_top:
