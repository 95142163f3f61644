/* The API's host side shared by `run --config-file` and `serve`: files
 * checked and opened for the endpoints (api/api.h's ops), and a config
 * file read into an API state. */
#ifndef PVHBOOT_CLI_API_HOST_H
#define PVHBOOT_CLI_API_HOST_H

#include "../api/api.h"

int api_host_check_file(void *ctx, const char *path, bool want_write, struct pvh_error *err);
int api_host_open_output(void *ctx, const char *path, struct pvh_error *err);

/* Reads FILE (at most 1 MiB) into api through the endpoints. */
int api_host_load_config_file(struct pvh_api *api, const char *path, struct pvh_error *err);

const char *cli_version(void); /* main.c */

#endif
