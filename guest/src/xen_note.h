/* The PHYS32_ENTRY ELF note (owner "Xen", type 18, 4-byte 32-bit entry). */
#define PVH_ENTRY_NOTE(sym)                \
    .pushsection .note.Xen, "a", @note;    \
    .balign 4;                             \
    .long 4;                               \
    .long 4;                               \
    .long 18;                              \
    .asciz "Xen";                          \
    .balign 4;                             \
    .long sym;                             \
    .balign 4;                             \
    .popsection
