/*
 * http/monitor.h: private to src/http/ — the monitoring route handlers
 * (http/monitor.c), called by aox_http_dispatch. Each fills resp and returns an aox
 * code (0 on success; on failure err says why and dispatch builds the error body).
 */
#ifndef AOX_HTTP_MONITOR_H
#define AOX_HTTP_MONITOR_H

#include "http/dispatch.h"

/* GET /metrics: the core/metrics registry (process-layer counters are copied into it
 * first, then node collectors run) plus the server's HTTP counters. */
int aox_http_monitor_metrics(const aox_http_ctx *ctx, aox_http_response *resp);
/* GET /readyz: 200 {"ready":true} or 503 {"ready":false,"reason":...} (ctx->ready). */
int aox_http_monitor_readyz(const aox_http_ctx *ctx, aox_http_response *resp);
/* GET /<pid>/status */
int aox_http_monitor_status(const aox_http_ctx *ctx, const char *pid,
                            aox_http_response *resp, aox_err *err);
/* GET /~meta@1.0/processes?sort=busy|slots|memory|pid&limit=N */
int aox_http_monitor_processes(const aox_http_ctx *ctx, const char *sort, const char *limit,
                               aox_http_response *resp, aox_err *err);
/* POST /~meta@1.0/snapshot: snapshots every live state ahead of its last snapshot. */
int aox_http_monitor_snapshot(const aox_http_ctx *ctx, aox_http_response *resp,
                              aox_err *err);

#endif
