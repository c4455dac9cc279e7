/*
 * http/server.h: the node's HTTP server (libmicrohttpd) serving the API of
 * http/dispatch.h.
 *
 * Threading: one thread per connection (MHD_USE_THREAD_PER_CONNECTION with an
 * internal poll-based listener), capped by max_connections. Why not a thread pool:
 * handlers block — a compute may wait for its process's lock and replay thousands
 * of slots — and MHD's pool multiplexes many connections on each pool thread, so
 * one slow compute would stall unrelated requests that happen to share its thread.
 * With a thread per connection a slow compute delays only its own connection;
 * cheap requests (slot, cached results) stay fast. Keep-alive connections keep
 * their thread, so clients should reuse connections.
 *
 * Request bodies are read incrementally and capped at max_body bytes: a request
 * whose Content-Length exceeds the cap is answered 413 before its body is read; a
 * chunked body is dropped (not buffered) as soon as it passes the cap and answered
 * 413 once the client has finished sending.
 */
#ifndef AOX_HTTP_SERVER_H
#define AOX_HTTP_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include "core/error.h"
#include "http/dispatch.h"

typedef struct aox_http_server aox_http_server;

typedef struct aox_http_opts {
    const char  *bind;             /* IPv4 or IPv6 literal; NULL = "127.0.0.1" */
    uint16_t     port;             /* 0 = any free port (see aox_http_port) */
    size_t       max_body;         /* bytes (> 0) */
    unsigned     max_connections;  /* 0 = 256 */
    unsigned     timeout_s;        /* idle connection timeout; 0 = none */
    aox_http_ctx ctx;              /* copied; its pointers must outlive the server */
} aox_http_opts;

/* Starts listening and serving. On success *out owns threads and the socket. */
int  aox_http_start(const aox_http_opts *opts, aox_http_server **out, aox_err *err);
/* The port actually bound (useful with port 0). */
uint16_t aox_http_port(const aox_http_server *s);
/* Stops accepting, waits for in-flight requests to finish, frees. NULL-safe. */
void aox_http_stop(aox_http_server *s);

#endif
