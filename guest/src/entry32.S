/* 32-bit PVH entry for hello32 and the hostile guest: stack, clear .bss, call guest_main(%ebx). */
#include "xen_note.h"
#include "stub.h"
PVH_ENTRY_NOTE(pvh_start)

    .section .text.entry, "ax"
    .code32
    .globl pvh_start
pvh_start:
    STUB_START
    movl %ebx, %esi
    ZERO_BSS
    pushl %esi
    call guest_main
    HALT_FOREVER

    STUB_STACK
