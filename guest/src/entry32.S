/* 32-bit PVH entry for hello32 and the hostile guest: stack, clear .bss, call guest_main(%ebx). */
#include "stub.h"

    PVH_STUB_ENTRY
    movl %ebx, %esi
    ZERO_BSS
    pushl %esi
    call guest_main
    HALT_FOREVER

    STUB_STACK
