/* The API's request handler (api/) driven from a script, with the faked
 * VMM of tests/lib/api_fake.h, for tests/api/schema.t: each input line
 * "METHOD<TAB>PATH<TAB>BODY" becomes one HTTP/1.1 request's bytes through
 * pvh_api_handle (the parser, the JSON and the endpoint, on one API whose
 * state carries from line to line, so a walk can boot and go on after
 * boot); each answer is printed as "STATUS<TAB>BODY" on one line (BODY
 * empty for none). Test-only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/api_fake.h"

static void one_request(struct pvh_api *api, char *line)
{
    char *method = strtok(line, "\t\n"), *path = strtok(NULL, "\t\n"), *body = strtok(NULL, "\n");
    if (!method || !path) {
        printf("0\tbad script line\n");
        return;
    }
    size_t n = body ? strlen(body) : 0;
    size_t cap = n + 512;
    char *req = malloc(cap);
    if (!req)
        exit(1);
    int len = snprintf(req, cap, "%s %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                       "Content-Length: %zu\r\n\r\n%s", method, path, n, body ? body : "");
    struct pvh_api_response r = {0};
    pvh_api_handle(api, req, (size_t)len, &r);
    printf("%d\t%s\n", r.status, r.body ? r.body : "");
    fflush(stdout);
    pvh_api_response_free(&r);
    free(req);
}

int main(void)
{
    static const struct pvh_vm_config base = {.ram_size = 128 << 20, .ncpus = 1, .sandbox = true};
    struct api_fake fake = {0};
    struct pvh_api_ops ops = api_fake_ops(&fake);
    struct pvh_api api;
    pvh_api_init(&api, &base, &ops, "0.1.0", "schema-vm");
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, stdin) > 0)
        one_request(&api, line);
    free(line);
    pvh_api_fini(&api);
    return 0;
}
