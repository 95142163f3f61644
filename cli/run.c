/* `pvhboot run` (placeholder until its issue lands). */
#include <stdio.h>

#include "cli.h"

int cmd_run(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "pvhboot: run is not implemented yet\n");
    return PVH_EXIT_VMM_ERROR;
}
