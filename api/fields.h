/* Internal to api/: a JSON object checked against a table of its fields
 * (types, required, unknown names refused), the typed reads after the
 * check, and the faults. jansson parses; this only checks shapes. */
#ifndef PVHBOOT_API_FIELDS_H
#define PVHBOOT_API_FIELDS_H

#include <jansson.h>
#include <stdbool.h>

#include "api.h"

enum pvh_field_type { PVH_FIELD_INT, PVH_FIELD_BOOL, PVH_FIELD_STRING, PVH_FIELD_OBJECT, PVH_FIELD_ARRAY };

struct pvh_field {
    const char *name;
    enum pvh_field_type type;
    bool required;
};

/* The body as a JSON object: NULL after a 400 naming what is wrong. */
json_t *pvh_api_parse_object(const char *body, size_t len, struct pvh_api_response *r);

/* 0 when obj has only known fields of the right types and every required
 * one; else -1 after a 400 naming the field (what: "machine-config"). A
 * null optional field counts as absent. */
int pvh_fields_check(json_t *obj, const char *what, const struct pvh_field *f, size_t n,
                     struct pvh_api_response *r);

/* After a check: the field's value, or dflt when absent or null. */
const char *pvh_field_string(json_t *obj, const char *name, const char *dflt);
bool pvh_field_bool(json_t *obj, const char *name, bool dflt);
long long pvh_field_int(json_t *obj, const char *name, long long dflt);
bool pvh_field_present(json_t *obj, const char *name);

/* A rate_limiter that limits nothing: absent, null, {} or both buckets null. */
bool pvh_field_no_rate_limit(json_t *obj, const char *name);

/* *dst = a copy of src (NULL: NULL); false when out of memory. */
bool pvh_set_string(char **dst, const char *src);

#endif
