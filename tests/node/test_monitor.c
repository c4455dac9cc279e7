/*
 * tests/node/test_monitor.c: the readiness rule of node/monitor.h (store, each queue
 * at its bound) and GET /readyz through the dispatcher: 503 with the reason when the
 * ready callback says no, 200 otherwise.
 */
#include <stdio.h>
#include <string.h>

#include "http/dispatch.h"
#include "node/monitor.h"

static int fails;
#define CHECK(c) do { if (!(c)) { fprintf(stderr, "%s:%d: FAIL %s\n", __FILE__, __LINE__, #c); fails++; } } while (0)

static int not_ready(void *ud, char *why, size_t n)
{
    snprintf(why, n, "%s", (const char *)ud);
    return 0;
}

int main(void)
{
    aox_workers_opts wo;
    aox_node_bounds b;
    aox_workers_stats ws;
    char why[200];
    aox_http_ctx ctx;
    aox_http_request req;
    aox_http_response resp;

    memset(&wo, 0, sizeof wo);
    aox_node_bounds_of(&wo, &b);
    CHECK(b.queue_total_max == 4096 && b.ro_queue_max == 256 && b.schedules_max == 1024);
    wo.queue_total_max = 3;
    wo.ro_queue_max = 2;
    wo.schedules_max = 5;
    aox_node_bounds_of(&wo, &b);
    memset(&ws, 0, sizeof ws);
    CHECK(aox_node_ready_eval(1, &ws, &b, why, sizeof why) == 1);
    CHECK(aox_node_ready_eval(1, NULL, &b, why, sizeof why) == 1);
    CHECK(aox_node_ready_eval(0, &ws, &b, why, sizeof why) == 0 && strstr(why, "store"));
    ws.queued = 2;
    CHECK(aox_node_ready_eval(1, &ws, &b, why, sizeof why) == 1);
    ws.queued = 3;                                   /* at the bound: not ready */
    CHECK(aox_node_ready_eval(1, &ws, &b, why, sizeof why) == 0 &&
          strstr(why, "compute queues full"));
    ws.queued = 0;
    ws.ro_queued = 2;
    CHECK(aox_node_ready_eval(1, &ws, &b, why, sizeof why) == 0 && strstr(why, "read-only"));
    ws.ro_queued = 0;
    ws.schedules_inflight = 5;
    CHECK(aox_node_ready_eval(1, &ws, &b, why, sizeof why) == 0 && strstr(why, "schedules"));

    /* /readyz through the dispatcher (no process manager needed for this route) */
    memset(&ctx, 0, sizeof ctx);
    memset(&req, 0, sizeof req);
    memset(&resp, 0, sizeof resp);
    req.method = "GET";
    req.path = "/readyz";
    ctx.ready = not_ready;
    ctx.ready_ud = (void *)"compute queues full: 3 queued (bound 3)";
    aox_http_dispatch(&ctx, &req, &resp);
    CHECK(resp.status == 503);
    CHECK(resp.body.len && strstr((const char *)resp.body.data, "\"ready\":false") &&
          strstr((const char *)resp.body.data, "bound 3"));
    aox_http_response_free(&resp);
    memset(&resp, 0, sizeof resp);
    ctx.ready = NULL;
    aox_http_dispatch(&ctx, &req, &resp);
    CHECK(resp.status == 200 && strstr((const char *)resp.body.data, "\"ready\":true"));
    aox_http_response_free(&resp);
    if (fails) fprintf(stderr, "%d failure(s)\n", fails);
    return fails ? 1 : 0;
}
