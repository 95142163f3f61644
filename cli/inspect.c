/* `pvhboot inspect` (placeholder until its issue lands). */
#include <stdio.h>

#include "cli.h"

int cmd_inspect(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "pvhboot: inspect is not implemented yet\n");
    return PVH_EXIT_VMM_ERROR;
}
