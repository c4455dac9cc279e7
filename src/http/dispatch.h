/*
 * http/dispatch.h: the HTTP API as plain functions, independent of the server
 * library — routing a (method, path) to a route, and serving a parsed request
 * against the process manager. http/server.c is the thin libmicrohttpd glue
 * around aox_http_dispatch; unit tests call it directly without sockets.
 *
 * Routes (DESIGN.md §6; `<pid>` may also be written `<pid>~process@1.0`):
 *
 *   GET  /healthz                         {"ok":true}
 *   GET  /readyz                          200 {"ready":true}, or 503 {"ready":false,
 *                                         "reason":...} when ctx->ready says so
 *   GET  /metrics                         Prometheus text: the core/metrics registry
 *                                         (stage histograms, process counters, node
 *                                         collectors) and HTTP requests by route and
 *                                         status class (http/monitor.c)
 *   GET  /~meta@1.0/processes?sort=&limit=  processes by busy|slots|memory|pid
 *   POST /~meta@1.0/snapshot              snapshot every live state now {"written":N}
 *   GET  /<pid>/status                    what the process is doing (http/monitor.c)
 *   GET  /~meta@1.0/info                  node info (from the info callback)
 *   GET  /~meta@1.0/log-level             {"level":"info"}
 *   POST /~meta@1.0/log-level             body {"level":"debug"} -> {"level":"debug"}
 *   POST /spawn                           definition JSON -> {"process":pid,"assignment":{..}}
 *   POST /modules                         raw bytes -> {"id":"<43 chars>"}
 *   GET  /modules/<id>                    raw bytes (application/octet-stream)
 *   GET  /<pid>                           the process definition
 *   POST /<pid>/schedule                  message JSON -> its assignment
 *   GET  /<pid>/schedule?from=&to=        a page of assignments (see below)
 *   GET  /<pid>/compute?slot=N            result of slot N   (also /<pid>/compute/N)
 *   GET  /<pid>/now                       result at the current slot
 *   GET  /<pid>/slot                      {"current":N}      (also /<pid>/slot/current)
 *   GET  /<pid>/result/<message-id>       result of the slot holding that message
 *   GET  /result/<message-id>?process-id=<pid>   the same, ao compute-unit form
 *   POST /, /graphql, /dry-run; GET /results/<pid>, /state/<pid>: the legacy ao
 *        routes of http/legacy.h (served before routing by aox_http_legacy_serve)
 *
 * Errors: {"error":{"code":"<aox code name>","message":"..."}} with the status of
 * core/error.h's table (400 bad input, 404 unknown route or process, 405 wrong
 * method with an Allow header, 413 too large, 425 not yet — with "current": N in
 * the error object — and 5xx only for node faults). A rejected request changes
 * nothing.
 */
#ifndef AOX_HTTP_DISPATCH_H
#define AOX_HTTP_DISPATCH_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "core/buf.h"
#include "core/error.h"
#include "core/message.h"
#include "node/workers.h"      /* types only (aox_workers, aox_work_info): no link */

typedef struct aox_procs aox_procs;

typedef enum aox_route_kind {
    AOX_R_NONE = 0,
    AOX_R_HEALTHZ, AOX_R_READYZ, AOX_R_METRICS, AOX_R_INFO, AOX_R_LOG_LEVEL_GET, AOX_R_LOG_LEVEL_SET,
    AOX_R_SPAWN, AOX_R_MODULE_ADD, AOX_R_MODULE_GET,
    AOX_R_DEFINITION, AOX_R_SCHEDULE, AOX_R_ASSIGNMENTS, AOX_R_COMPUTE, AOX_R_NOW,
    AOX_R_SLOT, AOX_R_RESULT, AOX_R_CU_RESULT,
    AOX_R_LEGACY_ITEM, AOX_R_LEGACY_ASSIGN, AOX_R_GRAPHQL, AOX_R_DRY_RUN, AOX_R_RESULTS,
    AOX_R_STATE,                       /* legacy ao routes (http/legacy.h) */
    AOX_R_STATUS, AOX_R_PROCESSES, AOX_R_SNAPSHOT,   /* monitoring (http/monitor.c) */
    AOX_R__COUNT
} aox_route_kind;

#define AOX_ROUTE_ARG_MAX 128

typedef struct aox_route {
    aox_route_kind kind;
    char pid[AOX_ID_LEN + 1];          /* "" unless the path names a process */
    char arg[AOX_ROUTE_ARG_MAX];       /* message/module ID or path slot; "" if none */
    const char *allow;                 /* on AOX_E_METHOD: the methods allowed */
} aox_route;

/* Short stable name of a route kind for logs ("compute"); "unknown" for NONE. */
const char *aox_route_name(aox_route_kind k);

/* Routes method + path (path without the query string, already %-decoded).
 * Returns 0, AOX_E_NOT_FOUND (no such route; a path segment that is not a
 * well-formed ID counts as no such route) or AOX_E_METHOD (route exists, method
 * not allowed: r->allow says which are). err gets a message in both cases. */
int aox_http_route(const char *method, const char *path, aox_route *r, aox_err *err);

/* Parses a slot number: decimal digits only, no sign, fits in uint64.
 * Returns 0 or AOX_E_INVALID. */
int aox_http_parse_slot(const char *s, uint64_t *out);

/* Request counters kept by the server for /metrics: by route and by status class
 * (index status/100, 1..5; 0 unused), plus the summed handling time. */
typedef struct aox_http_metrics {
    _Atomic unsigned long long requests[AOX_R__COUNT][6];
    _Atomic unsigned long long micros[AOX_R__COUNT];
} aox_http_metrics;

/* Counts one request (thread-safe). */
void aox_http_metrics_count(aox_http_metrics *m, aox_route_kind route, int status,
                            unsigned long long micros);

/* What the info route returns: a new JSON object reference (or NULL on OOM). */
typedef json_t *(*aox_http_info_fn)(void *ud);

struct aox_http_request;
struct aox_http_response;

/* The node's live workers (node/workers.h), as functions node.c hands in, so http/
 * does not link against node/. When ctx->workers is NULL, compute, now, result and
 * schedule call process/ directly in the request thread. Through the workers: a
 * full queue is 503 with Retry-After; an expired wait is 504 whose error object
 * carries "slot" (waited for) and "computed" (the process's computed slot, or
 * null); compute and now accept ?timeout=MS (the wait deadline). */
typedef struct aox_http_workers_api {
    int (*compute)(aox_workers *w, const char *pid, uint64_t slot, uint64_t timeout_ms,
                   aox_msg **result, aox_work_info *info, aox_err *err);
    int (*now)(aox_workers *w, const char *pid, uint64_t timeout_ms, aox_msg **result,
               aox_work_info *info, aox_err *err);
    int (*result_by_message)(aox_workers *w, const char *pid, const char *msg_id,
                             uint64_t timeout_ms, aox_msg **result, uint64_t *slot,
                             aox_work_info *info, aox_err *err);
    int (*schedule)(aox_workers *w, const char *pid, const aox_msg *msg,
                    aox_msg **assignment, aox_work_info *info, aox_err *err);
    int (*dry_run)(aox_workers *w, const char *pid, const aox_msg *msg,
                   const aox_dry_run_opts *opts, uint64_t timeout_ms, aox_msg **result,
                   aox_work_info *info, aox_err *err);
    /* May be NULL: then aox_proc_snapshot is used. */
    int (*snapshot)(aox_workers *w, const char *pid, int *written, aox_err *err);
} aox_http_workers_api;

/* Shared, read-only context of a server (all pointers outlive it). */
typedef struct aox_http_ctx {
    aox_procs        *procs;
    uint64_t          page_max;    /* most assignments per GET /<pid>/schedule (>= 1) */
    aox_http_info_fn  info;        /* may be NULL: info returns {} */
    void             *info_ud;
    aox_http_metrics *metrics;     /* may be NULL (then /metrics has no HTTP counters);
                                      aox_http_start points it at the server's own */
    /* Readiness for /readyz: returns 1 when ready, else 0 with a reason in why.
     * NULL = always ready. */
    int  (*ready)(void *ud, char *why, size_t why_len);
    void  *ready_ud;
    /* Adds node-level fields (queue, worker) to a GET /<pid>/status object. May be NULL. */
    void (*status_extra)(void *ud, const char *pid, json_t *status);
    void  *status_ud;
    /* Node-level routes served before routing (node/cluster.c: /~delegate@1.0/...,
     * /~name/..., signed results). Returns 1 when it answered (resp filled, *rc the
     * outcome), 0 to let routing go on. It may call aox_http_dispatch itself (it then
     * must not answer the nested call). May be NULL. */
    int  (*pre)(void *ud, const struct aox_http_ctx *ctx, const struct aox_http_request *req,
                struct aox_http_response *resp, int *rc);
    void  *pre_ud;
    /* Cluster mode (node/cluster.c): the legacy routes (http/legacy.c) call it with
     * the process a request is about before serving it. Returns 1 when it answered
     * (forwarded to the node that owns pid; resp filled, *rc the outcome), 0 to serve
     * the request here. May be NULL. */
    int  (*owner)(void *ud, const struct aox_http_request *req, const char *pid,
                  struct aox_http_response *resp, int *rc);
    void  *owner_ud;
    /* The node's workers (see aox_http_workers_api); both NULL = direct calls. */
    aox_workers                *workers;
    const aox_http_workers_api *wapi;
} aox_http_ctx;

/* Query-string lookup: the value of key, or NULL when absent. */
typedef const char *(*aox_http_query_fn)(void *ud, const char *key);

typedef struct aox_http_request {
    const char        *method;     /* "GET", "POST", ... */
    const char        *path;       /* without query string */
    aox_http_query_fn  query;      /* may be NULL (no query string) */
    void              *query_ud;
    const uint8_t     *body;       /* may be NULL when body_len == 0 */
    size_t             body_len;
} aox_http_request;

typedef struct aox_http_response {
    int          status;           /* HTTP status */
    aox_buf      body;             /* owned; aox_http_response_free releases it */
    const char  *content_type;     /* static string */
    const char  *allow;            /* non-NULL: send an Allow header (405) */
    char         compute[160];     /* non-empty: X-Aox-Compute header (how compute ran) */
    unsigned     retry_after;      /* non-zero: Retry-After header, seconds (503) */
    aox_route_kind route;          /* for logs */
    /* Streamed body (GET /state): when stream_read is non-NULL the server sends
     * stream_len bytes produced by stream_read(ud, pos, buf, max) in order (it
     * returns the bytes written, 1..max, or < 0 on failure: the connection is then
     * closed) instead of `body`, and calls stream_free(ud) once when done or
     * aborted. aox_http_response_free calls it for a response never sent. */
    long long  (*stream_read)(void *ud, uint64_t pos, char *buf, size_t max);
    void       (*stream_free)(void *ud);
    void        *stream_ud;
    uint64_t     stream_len;
} aox_http_response;

/* Retry-After (s) of a 503 whose handler did not set one. */
#define AOX_HTTP_RETRY_AFTER_DEFAULT 1u

/* Serves one request. Always fills resp (an error becomes an error response);
 * returns the aox code of the outcome (0 on success) for logs and tests. Every 503
 * answer has a non-zero retry_after (the workers' value for backpressure, else
 * AOX_HTTP_RETRY_AFTER_DEFAULT). */
int  aox_http_dispatch(const aox_http_ctx *ctx, const aox_http_request *req,
                       aox_http_response *resp);
void aox_http_response_free(aox_http_response *resp);

/* Fills resp with the JSON error body for err (status from the code's table). */
void aox_http_error_response(aox_http_response *resp, const aox_err *err);

#endif
