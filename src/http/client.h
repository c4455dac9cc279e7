/*
 * http/client.h: a small HTTP client (libcurl) for the aox command line and
 * tests. One client holds one connection and reuses it (keep-alive) across
 * requests. Not thread-safe: use one client per thread.
 */
#ifndef AOX_HTTP_CLIENT_H
#define AOX_HTTP_CLIENT_H

#include <stddef.h>
#include "core/buf.h"
#include "core/error.h"

typedef struct aox_http_client aox_http_client;

/* base_url: "http://127.0.0.1:8734" (a trailing '/' is ignored). Copied.
 * timeout_ms: whole-request timeout, 0 = none. */
int  aox_http_client_new(const char *base_url, long timeout_ms,
                         aox_http_client **out, aox_err *err);
void aox_http_client_free(aox_http_client *c);       /* NULL-safe */

/* Sends method + path (path starts with '/', may carry a query string) with an
 * optional body (content_type NULL = "application/json"). On a completed exchange
 * returns 0 with *status set (any status, including 4xx/5xx) and the response body
 * in resp (reset first). A transport failure (cannot connect, timeout) returns
 * AOX_E_UPSTREAM (or AOX_E_TIMEOUT) with err naming the URL and the reason. */
int aox_http_client_request(aox_http_client *c, const char *method, const char *path,
                            const void *body, size_t body_len, const char *content_type,
                            long *status, aox_buf *resp, aox_err *err);

/* The Content-Type of the last completed exchange's response ("" when it had none);
 * valid until the next request or aox_http_client_free. */
const char *aox_http_client_content_type(aox_http_client *c);

/* A response header of the last completed exchange (name case-insensitive; the
 * final response's headers only): copies its value, trimmed and truncated to
 * cap - 1 bytes, into out and returns 1; 0 when the response had no such header
 * (out is then ""). cap must be >= 1. */
int aox_http_client_header(aox_http_client *c, const char *name, char *out, size_t cap);

#endif
