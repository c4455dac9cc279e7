/*
 * tests/node/test_backpressure.c: the schedules-in-flight bound (--schedules-max) end
 * to end without sockets, and the rule that every 503 the node answers carries a
 * Retry-After.
 *
 * Schedules are held in flight by a commit fence (aox_procs_set_fence, the cluster
 * hook) that blocks until the test releases it; with schedules_max = 2 and two
 * schedules held, a third one is refused through every door: the workers API,
 * POST /<pid>/schedule, and the legacy POST / with a signed ANS-104 Message item
 * (which answered 503 without a Retry-After before). Each refusal is a JSON "busy"
 * error with Retry-After, counted in aox_busy_total{reason="schedules"} on /metrics;
 * /readyz says why it is not ready. After the release nothing was lost or changed:
 * the held schedules got slots 1 and 2, the refused messages have no slot, and
 * sending them again assigns dense slots 3, 4, 5.
 *
 * Usage: test_node_backpressure WALLET.json (the ANS-104 vector wallet).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "../ans104/test_wallet.h"
#include "ans104/ans104.h"
#include "core/metrics.h"
#include "http/dispatch.h"
#include "node/monitor.h"
#include "node/workers.h"
#include "nodetest.h"
#include "proctest.h"

static aox_ans104_key *key;

/* ------------------------------------------------------------------ the fence */

static pthread_mutex_t fmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t  fcv = PTHREAD_COND_INITIALIZER;
static int armed, entered;

static int hold_fence(void *ud, const char *pid, aox_batch *b, aox_err *err)
{
    (void)ud;
    (void)pid;
    (void)b;
    (void)err;
    pthread_mutex_lock(&fmu);
    entered++;
    while (armed) pthread_cond_wait(&fcv, &fmu);
    pthread_mutex_unlock(&fmu);
    return AOX_OK;
}

static void release_fence(void)
{
    pthread_mutex_lock(&fmu);
    armed = 0;
    pthread_cond_broadcast(&fcv);
    pthread_mutex_unlock(&fmu);
}

static int fence_entered(void)
{
    int n;
    pthread_mutex_lock(&fmu);
    n = entered;
    pthread_mutex_unlock(&fmu);
    return n;
}

/* ------------------------------------------------------------------ requests */

/* A schedule through the workers on its own thread. */
typedef struct sched_call {
    aox_workers *w;
    char         pid[44];
    int64_t      n;
    int          rc;
    int64_t      slot;
    pthread_t    t;
} sched_call;

static void *sched_main(void *ud)
{
    sched_call *c = ud;
    aox_msg *m = pt_msg(c->n, NULL), *asg = NULL;
    aox_err err = {0};
    c->rc = aox_workers_schedule(c->w, c->pid, m, &asg, NULL, &err);
    if (c->rc == AOX_OK) (void)aox_msg_get_int(asg, "slot", &c->slot);
    aox_msg_free(asg);
    aox_msg_free(m);
    return NULL;
}

/* Dispatches; returns the status; *out (may be NULL) gets the JSON body and
 * *retry_after the Retry-After value. */
static int req(const aox_http_ctx *ctx, const char *method, const char *path,
               const void *body, size_t n, json_t **out, unsigned *retry_after)
{
    aox_http_request rq = { method, path, NULL, NULL, body, n };
    aox_http_response resp;
    json_error_t je;
    int status;
    memset(&resp, 0, sizeof resp);
    (void)aox_http_dispatch(ctx, &rq, &resp);
    status = resp.status;
    if (retry_after) *retry_after = resp.retry_after;
    if (out) *out = json_loadb((const char *)resp.body.data, resp.body.len, 0, &je);
    aox_http_response_free(&resp);
    return status;
}

static const char *err_code(json_t *j)
{
    return json_string_value(json_object_get(json_object_get(j, "error"), "code"));
}

/* A signed Message item for target pid (data and one tag make it unique). */
static void message_item(aox_buf *out, const char *target, const char *data)
{
    aox_ans104_tag t[1];
    uint8_t tb[32];
    aox_buf tbuf = {0};
    aox_ans104_spec spec;
    aox_err err;
    t[0].name = (const uint8_t *)"Type";
    t[0].name_len = 4;
    t[0].value = (const uint8_t *)"Message";
    t[0].value_len = 7;
    REQUIRE(aox_b64_decode(target, strlen(target), &tbuf) == 0 && tbuf.len == 32);
    memcpy(tb, tbuf.data, 32);
    memset(&spec, 0, sizeof spec);
    spec.target = tb;
    spec.tags = t;
    spec.tag_count = 1;
    spec.data = (const uint8_t *)data;
    spec.data_len = strlen(data);
    aox_buf_reset(out);
    REQUIRE(aox_ans104_create(&spec, key, 0, out, &err) == 0);
    aox_buf_free(&tbuf);
}

static int metrics_has(const aox_http_ctx *ctx, const char *line)
{
    aox_http_request rq = { "GET", "/metrics", NULL, NULL, NULL, 0 };
    aox_http_response resp;
    int ok;
    memset(&resp, 0, sizeof resp);
    (void)aox_http_dispatch(ctx, &rq, &resp);
    REQUIRE(aox_buf_append(&resp.body, "", 1) == 0);
    ok = resp.status == 200 && strstr((const char *)resp.body.data, line) != NULL;
    if (!ok) fprintf(stderr, "  /metrics has no line '%s'\n", line);
    aox_http_response_free(&resp);
    return ok;
}

static uint64_t current_slot(aox_procs *p, const char *pid)
{
    uint64_t cur = 0;
    aox_err err = {0};
    CHECK_RC(aox_proc_current_slot(p, pid, &cur, &err), AOX_OK);
    return cur;
}

/* ------------------------------------------------------------------------ */

static void test_schedules_max(void)
{
    static const aox_http_workers_api api = {
        .compute = aox_workers_compute, .now = aox_workers_now,
        .result_by_message = aox_workers_result_by_message,
        .schedule = aox_workers_schedule, .dry_run = aox_workers_dry_run_ex,
        .snapshot = aox_workers_snapshot,
    };
    aox_store *s = NULL;
    aox_procs_opts po;
    aox_procs *p = NULL;
    aox_workers_opts wo;
    aox_workers *w = NULL;
    aox_node_monitor mon;
    aox_http_ctx ctx;
    aox_err err = {0};
    char pid[44], path[80], json4[64];
    aox_buf item = {0};
    sched_call held[2];
    json_t *j = NULL;
    unsigned ra = 0;
    aox_work_info info;
    aox_msg *m3, *asg = NULL;

    REQUIRE(aox_store_open("memory:", NULL, &s, &err) == AOX_OK);
    memset(&po, 0, sizeof po);
    po.store = s;
    po.snapshot_every = 1000;
    po.clock_ms = pt_clock;
    REQUIRE(aox_procs_open(&po, &p, &err) == AOX_OK);
    memset(&wo, 0, sizeof wo);
    wo.procs = p;
    wo.threads = 1;
    wo.schedules_max = 2;
    wo.retry_after_s = 4;
    REQUIRE(aox_workers_open(&wo, &w, &err) == AOX_OK);
    memset(&mon, 0, sizeof mon);
    mon.store = s;
    mon.workers = w;
    aox_node_bounds_of(&wo, &mon.bounds);
    REQUIRE(aox_metrics_collector_add(aox_node_monitor_collect, &mon) == 0);
    memset(&ctx, 0, sizeof ctx);
    ctx.procs = p;
    ctx.page_max = 100;
    ctx.workers = w;
    ctx.wapi = &api;
    ctx.ready = aox_node_monitor_ready;
    ctx.ready_ud = &mon;

    pt_spawn(p, "test-counter@1.0", 80, pid);
    snprintf(path, sizeof path, "/%s/schedule", pid);
    snprintf(json4, sizeof json4, "{\"value\":4,\"nonce\":4}");
    message_item(&item, pid, "five");
    CHECK(req(&ctx, "GET", "/readyz", NULL, 0, NULL, NULL) == 200);

    /* two schedules held in the commit: the bound is reached */
    armed = 1;
    aox_procs_set_fence(p, hold_fence, NULL);
    for (int i = 0; i < 2; i++) {
        memset(&held[i], 0, sizeof held[i]);
        held[i].w = w;
        memcpy(held[i].pid, pid, 44);
        held[i].n = i + 1;
        REQUIRE(pthread_create(&held[i].t, NULL, sched_main, &held[i]) == 0);
    }
    for (int i = 0; i < 500 && (nt_stats(w).schedules_inflight < 2 || fence_entered() < 1); i++)
        nt_sleep_ms(10);
    CHECK(nt_stats(w).schedules_inflight == 2 && fence_entered() == 1);

    /* the workers API */
    m3 = pt_msg(3, NULL);
    memset(&info, 0, sizeof info);
    CHECK_RC(aox_workers_schedule(w, pid, m3, &asg, &info, &err), AOX_E_BUSY);
    CHECK(asg == NULL && info.retry_after_s == 4 && strstr(err.msg, "schedules in flight"));
    CHECK(nt_stats(w).busy_schedules == 1);

    /* POST /<pid>/schedule */
    CHECK(req(&ctx, "POST", path, json4, strlen(json4), &j, &ra) == 503);
    CHECK(ra == 4 && err_code(j) && strcmp(err_code(j), "busy") == 0);
    json_decref(j);
    CHECK(nt_stats(w).busy_schedules == 2);

    /* legacy POST / with a Message item: the same 503, with its Retry-After */
    CHECK(req(&ctx, "POST", "/", item.data, item.len, &j, &ra) == 503);
    CHECK(ra == 4 && err_code(j) && strcmp(err_code(j), "busy") == 0);
    json_decref(j);
    CHECK(nt_stats(w).busy_schedules == 3);

    /* the metric, the depth at the bound, and readiness (a 503 with Retry-After too) */
    CHECK(metrics_has(&ctx, "aox_busy_total{reason=\"schedules\"} 3\n"));
    CHECK(metrics_has(&ctx, "aox_queue_depth{queue=\"schedules\"} 2\n"));
    CHECK(metrics_has(&ctx, "aox_queue_bound{queue=\"schedules\"} 2\n"));
    CHECK(req(&ctx, "GET", "/readyz", NULL, 0, &j, &ra) == 503);
    CHECK(ra == AOX_HTTP_RETRY_AFTER_DEFAULT &&
          strstr(json_string_value(json_object_get(j, "reason")), "schedules"));
    json_decref(j);

    /* release: the held schedules commit; the refused ones changed nothing */
    release_fence();
    for (int i = 0; i < 2; i++) {
        pthread_join(held[i].t, NULL);
        CHECK(held[i].rc == AOX_OK);
    }
    CHECK((held[0].slot == 1 && held[1].slot == 2) || (held[0].slot == 2 && held[1].slot == 1));
    CHECK(current_slot(p, pid) == 2);
    {
        char id[AOX_ID_LEN + 1];
        uint64_t slot = 0;
        CHECK(aox_msg_id(m3, id) == AOX_OK);
        CHECK_RC(aox_proc_slot_of_message(p, pid, id, &slot, &err), AOX_E_NOT_FOUND);
    }
    CHECK(nt_stats(w).schedules_inflight == 0);
    CHECK(metrics_has(&ctx, "aox_queue_depth{queue=\"schedules\"} 0\n"));
    CHECK(req(&ctx, "GET", "/readyz", NULL, 0, NULL, &ra) == 200 && ra == 0);

    /* sent again, each refused request is accepted, in dense slots */
    CHECK_RC(aox_workers_schedule(w, pid, m3, &asg, &info, &err), AOX_OK);
    {
        int64_t slot = -1;
        CHECK(asg && aox_msg_get_int(asg, "slot", &slot) == AOX_OK && slot == 3);
    }
    CHECK(req(&ctx, "POST", path, json4, strlen(json4), NULL, &ra) == 200 && ra == 0);
    CHECK(req(&ctx, "POST", "/", item.data, item.len, NULL, &ra) == 200 && ra == 0);
    CHECK(current_slot(p, pid) == 5);
    CHECK(nt_stats(w).busy_schedules == 3);
    {
        aox_msg *r = NULL;
        CHECK_RC(aox_workers_compute(w, pid, 5, 0, &r, NULL, &err), AOX_OK);
        CHECK(pt_counter(r) == 1 + 2 + 3 + 4);  /* the item has no value: counts 0 */
        aox_msg_free(r);
    }

    aox_metrics_collector_remove(aox_node_monitor_collect, &mon);
    aox_msg_free(asg);
    aox_msg_free(m3);
    aox_buf_free(&item);
    aox_workers_close(w);
    aox_procs_close(p);
    aox_store_close(s);
}

/* A 503 from a route that did not set a Retry-After gets the default one. */
static int never_ready(void *ud, char *why, size_t n)
{
    (void)ud;
    snprintf(why, n, "testing");
    return 0;
}

static void test_every_503_retry_after(void)
{
    aox_http_ctx ctx;
    unsigned ra = 0;
    memset(&ctx, 0, sizeof ctx);
    ctx.ready = never_ready;
    CHECK(req(&ctx, "GET", "/readyz", NULL, 0, NULL, &ra) == 503);
    CHECK(ra == AOX_HTTP_RETRY_AFTER_DEFAULT);
    CHECK(req(&ctx, "GET", "/healthz", NULL, 0, NULL, &ra) == 200 && ra == 0);
}

int main(int argc, char **argv)
{
    int rc = tw_wallet_arg(argc, argv, &key);
    if (rc)
        return rc;
    pt_register();
    PT_RUN(test_schedules_max);
    PT_RUN(test_every_503_retry_after);
    aox_ans104_key_free(key);
    PT_DONE();
}
