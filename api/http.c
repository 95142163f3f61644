/* HTTP/1.1 for the API: a request received in pieces through Debian's
 * http-parser (no parser of our own), bounded (request line and headers
 * PVH_API_MAX_HEAD bytes, body PVH_API_MAX_BODY), and a response's bytes.
 * The parser pauses at the end of each request, so pipelined bytes stay
 * with the caller for the next one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"

static struct pvh_api_conn *conn_of(http_parser *p)
{
    return p->data;
}

/* Refuses the request: answered with status, then the connection closes. */
static int refuse(http_parser *p, int status, const char *msg)
{
    struct pvh_api_conn *c = conn_of(p);
    if (!c->error_status) {
        c->error_status = status;
        snprintf(c->error_msg, sizeof(c->error_msg), "%s", msg);
    }
    return -1; /* stops the parser */
}

static int count_head(http_parser *p, size_t n)
{
    struct pvh_api_conn *c = conn_of(p);
    c->head_bytes += n;
    return c->head_bytes > PVH_API_MAX_HEAD ? refuse(p, 400, "request line and headers over 8192 bytes") : 0;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
    struct pvh_api_conn *c = conn_of(p);
    if (count_head(p, n))
        return -1;
    if (c->url_len + n >= sizeof(c->url))
        return refuse(p, 400, "request path over 255 bytes");
    memcpy(c->url + c->url_len, at, n);
    c->url_len += n;
    c->url[c->url_len] = '\0';
    return 0;
}

static int on_header_piece(http_parser *p, const char *at, size_t n)
{
    (void)at;
    return count_head(p, n);
}

static int on_headers_complete(http_parser *p)
{
    struct pvh_api_conn *c = conn_of(p);
    snprintf(c->method, sizeof(c->method), "%s", http_method_str((enum http_method)p->method));
    if ((p->flags & F_CONTENTLENGTH) && p->content_length > PVH_API_MAX_BODY)
        return refuse(p, 413, "request body over 51200 bytes");
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
    struct pvh_api_conn *c = conn_of(p);
    if (c->body_len + n > PVH_API_MAX_BODY)
        return refuse(p, 413, "request body over 51200 bytes");
    char *grown = realloc(c->body, c->body_len + n + 1);
    if (!grown)
        return refuse(p, 500, "out of memory");
    c->body = grown;
    memcpy(c->body + c->body_len, at, n);
    c->body_len += n;
    c->body[c->body_len] = '\0';
    return 0;
}

static int on_message_complete(http_parser *p)
{
    struct pvh_api_conn *c = conn_of(p);
    c->complete = true;
    c->keep_alive = http_should_keep_alive(p) != 0;
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings settings = {
    .on_url = on_url,
    .on_header_field = on_header_piece,
    .on_header_value = on_header_piece,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

void pvh_api_conn_init(struct pvh_api_conn *c)
{
    memset(c, 0, sizeof(*c));
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
}

void pvh_api_conn_fini(struct pvh_api_conn *c)
{
    free(c->body);
    c->body = NULL;
}

bool pvh_api_conn_feed(struct pvh_api_conn *c, const char *buf, size_t n, size_t *used)
{
    *used = 0;
    if (c->complete || c->error_status)
        return true;
    size_t took = http_parser_execute(&c->parser, &settings, buf, n);
    enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
    *used = took;
    if (c->complete)
        return true;
    if (e != HPE_OK && !c->error_status) {
        c->error_status = 400;
        snprintf(c->error_msg, sizeof(c->error_msg), "malformed HTTP request: %s", http_errno_description(e));
    }
    if (c->error_status)
        *used = n; /* the connection closes: nothing more is read from it */
    return c->error_status != 0;
}

void pvh_api_conn_answer(struct pvh_api *api, struct pvh_api_conn *c, struct pvh_api_response *r)
{
    if (c->error_status) {
        pvh_api_fault(r, c->error_status, "%s", c->error_msg);
        return;
    }
    char *query = strchr(c->url, '?');
    if (query)
        *query = '\0'; /* Firecracker's endpoints take no query */
    pvh_api_call(api, c->method, c->url, c->body ? c->body : "", c->body_len, r);
}

static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Payload Too Large";
    default: return "Internal Server Error";
    }
}

char *pvh_api_format(const struct pvh_api_response *r, bool keep_alive, size_t *len)
{
    size_t body = r->body ? strlen(r->body) : 0;
    size_t cap = body + 256;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    int n = snprintf(out, cap, "HTTP/1.1 %d %s\r\nServer: pvhboot API\r\nConnection: %s\r\n", r->status,
                     reason(r->status), keep_alive ? "keep-alive" : "close");
    if (r->body)
        n += snprintf(out + n, cap - (size_t)n, "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                      body, r->body);
    else
        n += snprintf(out + n, cap - (size_t)n, "\r\n");
    *len = (size_t)n;
    return out;
}

void pvh_api_handle(struct pvh_api *api, const char *req, size_t n, struct pvh_api_response *r)
{
    struct pvh_api_conn c;
    size_t used;
    pvh_api_conn_init(&c);
    if (pvh_api_conn_feed(&c, req, n, &used))
        pvh_api_conn_answer(api, &c, r);
    else
        pvh_api_fault(r, 400, "incomplete HTTP request");
    pvh_api_conn_fini(&c);
}
