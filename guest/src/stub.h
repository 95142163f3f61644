/* What the guests' entry stubs share (assembler macros): the PVH entry
 * point and its note, the first instructions (interrupts off, string ops upward, our own stack), zeroing
 * .bss, halting for good, and the 16 KiB stack itself. */

#include "xen_note.h"

/* A PVH kernel's entry pvh_start (its PHYS32_ENTRY note, in .text.entry),
 * starting with STUB_START. */
.macro PVH_STUB_ENTRY
    PVH_ENTRY_NOTE(pvh_start)
    .section .text.entry, "ax"
    .code32
    .globl pvh_start
pvh_start:
    STUB_START
.endm

/* cli, cld and %esp = stack_top; touches no other register. */
.macro STUB_START
    cli
    cld
    movl $stack_top, %esp
.endm

/* Zeroes __bss_start..__bss_end; clobbers %eax, %ecx and %edi. */
.macro ZERO_BSS
    movl $__bss_start, %edi
    movl $__bss_end, %ecx
    subl %edi, %ecx
    xorl %eax, %eax
    rep stosb
.endm

/* Where guest_main returns to: hlt, and again should anything wake us. */
.macro HALT_FOREVER
1:  hlt
    jmp 1b
.endm

/* The stack in .bss, 16-byte aligned; stack_top is its end. */
.macro STUB_STACK
    .section .bss
    .balign 16
    .skip 16384
stack_top:
.endm
