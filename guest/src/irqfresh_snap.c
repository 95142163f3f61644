/* irqfresh after a snapshot and restore: its ticks land on pages of the restored memory (irqfresh.c). */
#define SNAPSHOT 1
#include "irqfresh.c"
