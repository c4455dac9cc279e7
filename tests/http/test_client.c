/*
 * http_client: aox_http_client_header reads the last response's headers (the ones
 * node/cluster.c carries through forwarding): case-insensitive names, trimmed
 * values, truncation to the caller's buffer, "" and 0 for a missing header, and
 * the headers of the latest exchange only. A server on a free loopback port.
 */
#include <stdio.h>
#include <string.h>

#include "http/client.h"
#include "http/server.h"

static int failures;
#define CHECK(c) do { if (!(c)) { failures++; \
    fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #c); } } while (0)

/* /busy: 503 with Retry-After 7 and X-Aox-Compute; anything else: 200, no extras */
static int pre(void *ud, const aox_http_ctx *ctx, const aox_http_request *req,
               aox_http_response *resp, int *rc)
{
    (void)ud;
    (void)ctx;
    aox_buf_reset(&resp->body);
    aox_buf_append_str(&resp->body, "{}");
    resp->content_type = "application/json";
    if (strcmp(req->path, "/busy") == 0) {
        resp->status = 503;
        resp->retry_after = 7;
        snprintf(resp->compute, sizeof resp->compute, "cached=1; current=42");
    } else {
        resp->status = 200;
    }
    *rc = 0;
    return 1;
}

int main(void)
{
    aox_http_opts ho;
    aox_http_server *srv = NULL;
    aox_http_client *c = NULL;
    aox_buf body = {0};
    aox_err err;
    long status = 0;
    char url[64], v[64], tiny[4];

    memset(&ho, 0, sizeof ho);
    ho.bind = "127.0.0.1";
    ho.max_body = 1 << 16;
    ho.ctx.pre = pre;
    ho.ctx.page_max = 100;
    if (aox_http_start(&ho, &srv, &err)) {
        fprintf(stderr, "server: %s\n", err.msg);
        return 1;
    }
    snprintf(url, sizeof url, "http://127.0.0.1:%u", (unsigned)aox_http_port(srv));
    CHECK(aox_http_client_new(url, 5000, &c, &err) == 0);
    CHECK(aox_http_client_request(c, "GET", "/busy", NULL, 0, NULL, &status, &body, &err) == 0);
    CHECK(status == 503);
    CHECK(aox_http_client_header(c, "Retry-After", v, sizeof v) == 1 && strcmp(v, "7") == 0);
    CHECK(aox_http_client_header(c, "retry-after", v, sizeof v) == 1 && strcmp(v, "7") == 0);
    CHECK(aox_http_client_header(c, "X-AOX-COMPUTE", v, sizeof v) == 1
          && strcmp(v, "cached=1; current=42") == 0);
    CHECK(aox_http_client_header(c, "X-Aox-Compute", tiny, sizeof tiny) == 1
          && strcmp(tiny, "cac") == 0);                       /* truncated, terminated */
    CHECK(aox_http_client_header(c, "Retry", v, sizeof v) == 0 && v[0] == '\0');
    CHECK(aox_http_client_header(c, "X-Missing", v, sizeof v) == 0 && v[0] == '\0');
    /* the next exchange replaces them (same connection) */
    CHECK(aox_http_client_request(c, "GET", "/ok", NULL, 0, NULL, &status, &body, &err) == 0);
    CHECK(status == 200);
    CHECK(aox_http_client_header(c, "Retry-After", v, sizeof v) == 0);
    CHECK(aox_http_client_header(c, "X-Aox-Compute", v, sizeof v) == 0);
    CHECK(aox_http_client_header(c, "Content-Type", v, sizeof v) == 1
          && strcmp(v, "application/json") == 0);
    aox_http_client_free(c);
    aox_buf_free(&body);
    aox_http_stop(srv);
    if (failures) fprintf(stderr, "%d check(s) failed\n", failures);
    else fprintf(stderr, "http_client ok\n");
    return failures ? 1 : 0;
}
