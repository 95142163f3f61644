/* libFuzzer harness for the control API (api/): the input is the bytes a
 * client sends on one connection, served request after request (pipelined,
 * keep-alive) through http-parser, jansson and the endpoints, with the VMM
 * faked (tests/lib/api_fake.h), so a sequence can boot and then send the
 * after-boot calls; each response is formatted as it would be sent. An
 * input starting with '{' is also loaded as a --config-file. Leaks, crashes
 * and undefined behaviour are the findings. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/api_fake.h"

static void serve(struct pvh_api *api, const char *data, size_t size)
{
    size_t at = 0;
    for (int requests = 0; at < size && requests < 64; requests++) {
        struct pvh_api_conn c;
        struct pvh_api_response r = {0};
        size_t used;
        pvh_api_conn_init(&c);
        bool done = pvh_api_conn_feed(&c, data + at, size - at, &used);
        at += used;
        if (done) {
            pvh_api_conn_answer(api, &c, &r);
            size_t n;
            free(pvh_api_format(&r, c.keep_alive, &n));
            if (r.status < 200 || r.status > 599 || (r.status >= 400 && !r.body))
                abort();
            pvh_api_response_free(&r);
        }
        bool more = done && !c.error_status && c.keep_alive && used > 0;
        pvh_api_conn_fini(&c);
        if (!more)
            break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct pvh_vm_config base = {.ram_size = 128 << 20, .ncpus = 1};
    struct api_fake fake = {0};
    struct pvh_api_ops ops = api_fake_ops(&fake);
    struct pvh_api api;
    pvh_api_init(&api, &base, &ops, "0.1.0", "fuzz");
    if (size && data[0] == '{') {
        struct pvh_error err;
        struct pvh_vm_config cfg;
        if (pvh_api_load_config(&api, (const char *)data, size, &err) == 0)
            (void)pvh_api_build_config(&api, &cfg, &err);
    } else {
        serve(&api, (const char *)data, size);
    }
    pvh_api_fini(&api);
    return 0;
}
