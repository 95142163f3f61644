/* Internal to api/: the API's state as JSON (GET /, /version,
 * /machine-config, /vm/config; vmconfig.c) and what endpoints.c shares. */
#ifndef PVHBOOT_API_VMCONFIG_H
#define PVHBOOT_API_VMCONFIG_H

#include <jansson.h>

#include "api.h"

void pvh_api_get_instance(struct pvh_api *api, const char *id, json_t *b, struct pvh_api_response *r);
void pvh_api_get_version(struct pvh_api *api, const char *id, json_t *b, struct pvh_api_response *r);
void pvh_api_get_machine(struct pvh_api *api, const char *id, json_t *b, struct pvh_api_response *r);
void pvh_api_get_vm_config(struct pvh_api *api, const char *id, json_t *b, struct pvh_api_response *r);

void pvh_api_drive_free(struct pvh_api_drive *d);
void pvh_api_net_free(struct pvh_api_net *n);
int pvh_api_log_level(const char *level); /* endpoints.c: 0 (Off) .. 5 (Trace), -1: not a level */

/* After PUT /snapshot/load: the restored machine's devices (cfg, as the
 * snapshot_load hook set it) become the API's own, copied, so GET
 * /vm/config lists them and PATCH /drives, PATCH /network-interfaces find
 * them: each drive and NIC with an id (one without has no name
 * Firecracker's bodies could carry: left out), vsock, entropy (virtio-rng).
 * -1 when out of memory: then none are kept. */
int pvh_api_keep_restored(struct pvh_api *api, const struct pvh_vm_config *cfg);

#endif
