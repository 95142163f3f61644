/* JSON bodies checked against field tables (fields.h), and the API's
 * faults: Firecracker's {"fault_message": "..."}, one line. */
#include "fields.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pvh_api_fault(struct pvh_api_response *r, int status, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    for (char *p = msg; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' '; /* one line */
        else if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
            *p = '?'; /* a request's bytes quoted back need not be UTF-8: JSON strings must be */
    json_t *o = json_pack("{s:s}", "fault_message", msg);
    r->status = status;
    r->body = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!r->body)
        r->status = 500;
}

void pvh_api_response_free(struct pvh_api_response *r)
{
    free(r->body);
    r->body = NULL;
}

json_t *pvh_api_parse_object(const char *body, size_t len, struct pvh_api_response *r)
{
    json_error_t e;
    if (len == 0) {
        pvh_api_fault(r, 400, "the request needs a JSON body");
        return NULL;
    }
    json_t *o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &e);
    if (!o) {
        pvh_api_fault(r, 400, "invalid JSON at line %d, column %d: %s", e.line, e.column, e.text);
        return NULL;
    }
    if (!json_is_object(o)) {
        json_decref(o);
        pvh_api_fault(r, 400, "the body must be a JSON object");
        return NULL;
    }
    return o;
}

static const char *type_name(enum pvh_field_type t)
{
    switch (t) {
    case PVH_FIELD_INT: return "an integer";
    case PVH_FIELD_BOOL: return "true or false";
    case PVH_FIELD_STRING: return "a string";
    case PVH_FIELD_ARRAY: return "an array";
    default: return "an object";
    }
}

static bool has_type(json_t *v, enum pvh_field_type t)
{
    switch (t) {
    case PVH_FIELD_INT: return json_is_integer(v);
    case PVH_FIELD_BOOL: return json_is_boolean(v);
    case PVH_FIELD_STRING: return json_is_string(v);
    case PVH_FIELD_ARRAY: return json_is_array(v);
    default: return json_is_object(v);
    }
}

static const struct pvh_field *find_field(const char *key, const struct pvh_field *f, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(f[i].name, key))
            return &f[i];
    return NULL;
}

static void list_fields(char *buf, size_t cap, const struct pvh_field *f, size_t n)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && used < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, "%s%s", i ? ", " : "", f[i].name);
}

int pvh_fields_check(json_t *obj, const char *what, const struct pvh_field *f, size_t n,
                     struct pvh_api_response *r)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        const struct pvh_field *fd = find_field(key, f, n);
        if (!fd) {
            char known[300];
            list_fields(known, sizeof(known), f, n);
            pvh_api_fault(r, 400, "%s: unknown field '%.64s' (its fields: %s)", what, key, known);
            return -1;
        }
        if (json_is_null(v) && !fd->required)
            continue;
        if (!has_type(v, fd->type)) {
            pvh_api_fault(r, 400, "%s: field '%s' must be %s", what, key, type_name(fd->type));
            return -1;
        }
    }
    for (size_t i = 0; i < n; i++)
        if (f[i].required && !json_object_get(obj, f[i].name)) {
            pvh_api_fault(r, 400, "%s: missing field '%s'", what, f[i].name);
            return -1;
        }
    return 0;
}

const char *pvh_field_string(json_t *obj, const char *name, const char *dflt)
{
    json_t *v = json_object_get(obj, name);
    return json_is_string(v) ? json_string_value(v) : dflt;
}

bool pvh_field_bool(json_t *obj, const char *name, bool dflt)
{
    json_t *v = json_object_get(obj, name);
    return json_is_boolean(v) ? json_is_true(v) : dflt;
}

long long pvh_field_int(json_t *obj, const char *name, long long dflt)
{
    json_t *v = json_object_get(obj, name);
    return json_is_integer(v) ? (long long)json_integer_value(v) : dflt;
}

bool pvh_field_present(json_t *obj, const char *name)
{
    json_t *v = json_object_get(obj, name);
    return v && !json_is_null(v);
}

bool pvh_field_no_rate_limit(json_t *obj, const char *name)
{
    json_t *v = json_object_get(obj, name);
    if (!v || json_is_null(v))
        return true;
    if (!json_is_object(v))
        return false;
    const char *key;
    json_t *bucket;
    json_object_foreach(v, key, bucket) {
        if ((strcmp(key, "bandwidth") && strcmp(key, "ops")) || !json_is_null(bucket))
            return false;
    }
    return true;
}

bool pvh_set_string(char **dst, const char *src)
{
    char *copy = src ? strdup(src) : NULL;
    if (src && !copy)
        return false;
    free(*dst);
    *dst = copy;
    return true;
}
