/* Multiboot 1 entry for mb1hello: the header (flags: modules page aligned,
 * memory information; with -DMB1_AOUT also flag 16 and the a.out-kludge
 * address fields, for the flat binary), a stack, .bss cleared, then
 * mb1_main(%eax magic, %ebx MBI). */
#include "stub.h"
#define MB1_MAGIC 0x1BADB002
#ifdef MB1_AOUT
#define MB1_FLAGS 0x00010003
#else
#define MB1_FLAGS 0x00000003
#endif

    .section .multiboot, "a"
    .balign 4
mb1_header:
    .long MB1_MAGIC
    .long MB1_FLAGS
    .long -(MB1_MAGIC + MB1_FLAGS)
#ifdef MB1_AOUT
    .long mb1_header        /* header_addr */
    .long __image_start     /* load_addr */
    .long __load_end        /* load_end_addr: end of the file's bytes */
    .long __bss_end         /* bss_end_addr */
    .long mb1_start         /* entry_addr */
#endif

    .section .text.entry, "ax"
    .code32
    .globl mb1_start
mb1_start:
    STUB_START
    movl %eax, %esi
    movl %ebx, %edx
    ZERO_BSS
    pushl %edx
    pushl %esi
    call mb1_main
    HALT_FOREVER

    STUB_STACK
