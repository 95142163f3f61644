/* FlushMetrics' line (docs/api.md): one JSON object per flush, with what
 * the API server counted, the VM's state and, while the VM runs, the
 * counters `--verbose` prints: each virtio device's requests, bytes,
 * notifications, interrupts and errors, the legacy devices' (serial bytes
 * out, accesses no device claimed) and the VM exits by kind. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api.h"
#include "pvhboot/layout.h"

static json_t *exits_json(const struct pvh_vm_stats *s)
{
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "io", (json_int_t)s->exits_io, "mmio",
                     (json_int_t)s->exits_mmio, "hlt", (json_int_t)s->exits_hlt, "intr", (json_int_t)s->exits_intr,
                     "shutdown", (json_int_t)s->exits_shutdown, "system_event", (json_int_t)s->exits_system_event,
                     "other", (json_int_t)s->exits_other);
}

static json_t *device_json(const struct pvh_device_stats *d)
{
    json_t *o = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I}", "type", pvh_virtio_id_name(d->virtio_id), "name",
                          d->name, "requests", (json_int_t)d->requests, "bytes", (json_int_t)d->bytes,
                          "notifications", (json_int_t)d->notifications, "interrupts", (json_int_t)d->interrupts,
                          "errors", (json_int_t)d->errors);
    if (o && d->last_error[0])
        json_object_set_new(o, "last_error", json_string(d->last_error));
    return o;
}

static json_t *legacy_json(const struct pvh_vm_stats *s)
{
    uint64_t unclaimed = s->unhandled_other;
    for (size_t i = 0; i < s->nunhandled; i++)
        unclaimed += s->unhandled[i].reads + s->unhandled[i].writes;
    return json_pack("{s:{s:I}, s:I}", "serial", "tx_bytes", (json_int_t)s->serial_bytes, "unhandled_accesses",
                     (json_int_t)unclaimed);
}

static const char *state_name(enum pvh_api_state s)
{
    return s == PVH_API_NOT_STARTED ? "Not started" : s == PVH_API_RUNNING ? "Running" : "Paused";
}

char *pvh_api_metrics_line(const struct pvh_api_metrics *m)
{
    json_t *o = json_pack("{s:I, s:{s:I, s:I}, s:{s:s}}", "utc_timestamp_ms", (json_int_t)m->utc_ms, "api_server",
                          "requests", (json_int_t)m->requests, "faults", (json_int_t)m->faults, "vmm", "state",
                          state_name(m->state));
    if (o && m->vm) {
        json_t *devices = json_array();
        for (size_t i = 0; devices && i < m->vm->ndevices; i++)
            json_array_append_new(devices, device_json(&m->vm->devices[i]));
        json_object_set_new(o, "vcpu_exits", exits_json(m->vm));
        json_object_set_new(o, "devices", devices);
        json_object_set_new(o, "legacy", legacy_json(m->vm));
    }
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!text)
        return NULL;
    size_t n = strlen(text);
    char *line = realloc(text, n + 2);
    if (!line) {
        free(text);
        return NULL;
    }
    memcpy(line + n, "\n", 2);
    return line;
}
