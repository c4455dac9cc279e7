/*
 * http/monitor.c: the monitoring routes of the HTTP API (http/dispatch.h lists
 * them): /metrics, /readyz, /<pid>/status, /~meta@1.0/processes and
 * POST /~meta@1.0/snapshot. Each is one call into process/ or core/metrics; the
 * node adds what only it knows (queues, workers) through the ctx callbacks.
 */
#include "http/monitor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/json.h"
#include "core/log.h"
#include "core/metrics.h"
#include "process/process.h"

static int put_json(aox_http_response *resp, int status, json_t *j)
{
    char *s;
    int rc = AOX_OK;
    if (!j) return AOX_E_NOMEM;
    s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(j);
    if (!s) return AOX_E_NOMEM;
    aox_buf_reset(&resp->body);
    if (aox_buf_append_str(&resp->body, s) != 0) rc = AOX_E_NOMEM;
    free(s);
    if (rc == AOX_OK) {
        resp->status = status;
        resp->content_type = "application/json";
    }
    return rc;
}

int aox_http_monitor_readyz(const aox_http_ctx *ctx, aox_http_response *resp)
{
    char why[200] = "";
    int ready = ctx->ready ? ctx->ready(ctx->ready_ud, why, sizeof why) : 1;
    json_t *j = json_pack("{s:b}", "ready", ready);
    if (j && !ready) json_object_set_new(j, "reason", json_string(why));
    return put_json(resp, ready ? 200 : 503, j);
}

/* The JSON of one process's activity (the status route and the process list). */
static json_t *activity_json(const aox_proc_activity *a)
{
    json_t *j = json_pack("{s:s,s:b,s:b,s:s,s:I,s:I,s:I,s:f,s:I}", "process", a->pid,
                          "live", a->live, "busy", a->busy, "blocked-on", a->stage,
                          "waiting", (json_int_t)a->waiting,
                          "computes", (json_int_t)a->computes,
                          "slots-computed", (json_int_t)a->slots_computed,
                          "compute-seconds", (double)a->compute_us / 1e6,
                          "memory-bytes", (json_int_t)a->memory_bytes);
    if (!j) return NULL;
    json_object_set_new(j, "at-slot", a->live ? json_integer((json_int_t)a->at_slot)
                                              : json_null());
    json_object_set_new(j, "computing-slot", a->busy ? json_integer((json_int_t)a->target_slot)
                                                     : json_null());
    if (a->last_error_code)
        json_object_set_new(j, "last-error",
                            json_pack("{s:s,s:s,s:I,s:s}", "code",
                                      aox_code_name(a->last_error_code), "message",
                                      a->last_error, "slot", (json_int_t)a->last_error_slot,
                                      "kind", a->last_error_node ? "node" : "guest"));
    else
        json_object_set_new(j, "last-error", json_null());
    return j;
}

int aox_http_monitor_status(const aox_http_ctx *ctx, const char *pid,
                            aox_http_response *resp, aox_err *err)
{
    aox_proc_activity a;
    uint64_t cur = 0, computed = 0;
    int rc, have_computed;
    json_t *j;

    rc = aox_proc_current_slot(ctx->procs, pid, &cur, err);
    if (rc) return rc;
    rc = aox_proc_activity_get(ctx->procs, pid, &a, err);
    if (rc) return rc;
    have_computed = aox_proc_latest_result_slot(ctx->procs, pid, &computed, NULL) == AOX_OK;
    j = activity_json(&a);
    if (!j) return aox_err_set(err, AOX_E_NOMEM, "out of memory");
    json_object_set_new(j, "current", json_integer((json_int_t)cur));
    json_object_set_new(j, "computed", have_computed ? json_integer((json_int_t)computed)
                                                     : json_null());
    if (ctx->status_extra) ctx->status_extra(ctx->status_ud, pid, j);
    rc = put_json(resp, 200, j);
    return rc ? aox_err_set(err, rc, "out of memory") : AOX_OK;
}

typedef struct plist { aox_proc_activity *v; size_t n, cap; int oom; } plist;

static int collect(void *ud, const aox_proc_activity *a)
{
    plist *l = ud;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        aox_proc_activity *v = realloc(l->v, cap * sizeof *v);
        if (!v) {
            l->oom = 1;
            return 1;
        }
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = *a;
    return 0;
}

static int by_busy(const void *x, const void *y)
{
    const aox_proc_activity *a = x, *b = y;
    if (a->busy != b->busy) return b->busy - a->busy;
    if (a->compute_us != b->compute_us) return a->compute_us < b->compute_us ? 1 : -1;
    return strcmp(a->pid, b->pid);
}

static int by_slots(const void *x, const void *y)
{
    const aox_proc_activity *a = x, *b = y;
    if (a->slots_computed != b->slots_computed)
        return a->slots_computed < b->slots_computed ? 1 : -1;
    return strcmp(a->pid, b->pid);
}

static int by_memory(const void *x, const void *y)
{
    const aox_proc_activity *a = x, *b = y;
    if (a->memory_bytes != b->memory_bytes) return a->memory_bytes < b->memory_bytes ? 1 : -1;
    return strcmp(a->pid, b->pid);
}

static int by_pid(const void *x, const void *y)
{
    return strcmp(((const aox_proc_activity *)x)->pid, ((const aox_proc_activity *)y)->pid);
}

int aox_http_monitor_processes(const aox_http_ctx *ctx, const char *sort, const char *limit,
                               aox_http_response *resp, aox_err *err)
{
    int (*cmp)(const void *, const void *) = by_busy;
    uint64_t max = 100;
    plist l = { NULL, 0, 0, 0 };
    json_t *arr = NULL, *j;
    int rc;

    if (sort && strcmp(sort, "busy") == 0) cmp = by_busy;
    else if (sort && strcmp(sort, "slots") == 0) cmp = by_slots;
    else if (sort && strcmp(sort, "memory") == 0) cmp = by_memory;
    else if (sort && strcmp(sort, "pid") == 0) cmp = by_pid;
    else if (sort)
        return aox_err_set(err, AOX_E_INVALID, "sort: '%.40s' is not one of busy, slots, "
                           "memory, pid", sort);
    if (limit && (aox_http_parse_slot(limit, &max) != 0 || max == 0))
        return aox_err_set(err, AOX_E_INVALID, "limit: '%.40s' is not a positive integer",
                           limit);
    rc = aox_procs_activity_list(ctx->procs, collect, &l, err);
    if (rc == AOX_OK && l.oom) rc = aox_err_set(err, AOX_E_NOMEM, "out of memory");
    if (rc) goto out;
    if (l.n) qsort(l.v, l.n, sizeof l.v[0], cmp);
    arr = json_array();
    for (size_t i = 0; arr && i < l.n && i < max; i++) {
        json_t *e = activity_json(&l.v[i]);
        if (!e || json_array_append_new(arr, e) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    j = arr ? json_pack("{s:o,s:I}", "processes", arr, "total", (json_int_t)l.n) : NULL;
    rc = put_json(resp, 200, j);
    if (rc) aox_err_set(err, rc, "out of memory");
out:
    free(l.v);
    return rc;
}

int aox_http_monitor_snapshot(const aox_http_ctx *ctx, aox_http_response *resp,
                              aox_err *err)
{
    uint64_t t0 = aox_metrics_now_us();
    int n = aox_procs_snapshot_all(ctx->procs, err);
    if (n < 0) return -n;
    aox_log(AOX_LOG_INFO, "snapshot_all", "\"why\":\"http\",\"written\":%d", n);
    return put_json(resp, 200, json_pack("{s:i,s:f}", "written", n, "seconds",
                                         (double)(aox_metrics_now_us() - t0) / 1e6));
}

/* Process-layer counters, as registry families (so one exposition covers all). */
static void procs_collect(aox_procs *procs)
{
    static const struct { const char *name, *help; size_t off; int gauge; } pm[] = {
#define F(f) offsetof(aox_procs_stats, f)
        { "aox_processes", "Process entries loaded in this node.", F(processes), 1 },
        { "aox_live_states", "Device states held in memory.", F(live_states), 1 },
        { "aox_assignments_total", "Assignments committed (spawn + schedule).",
          F(assignments), 0 },
        { "aox_slots_computed_total", "Slots computed by a device.", F(slots_computed), 0 },
        { "aox_cache_hits_total", "Compute calls answered from the result cache.",
          F(cache_hits), 0 },
        { "aox_guest_errors_total", "Computed results carrying a guest error.",
          F(guest_errors), 0 },
        { "aox_node_faults_total", "Device failures (never cached).", F(node_faults), 0 },
        { "aox_snapshots_total", "Snapshots committed.", F(snapshots), 0 },
        { "aox_snapshot_page_bytes_total", "Page bytes newly written by snapshots.",
          F(snapshot_page_bytes), 0 },
        { "aox_evictions_total", "Live states dropped by the memory bound.", F(evictions), 0 },
        { "aox_group_commits_total", "Store commits carrying assignments.", F(group_commits),
          0 },
        { "aox_worker_crashes_total", "Compute attempts whose isolated worker died.",
          F(worker_crashes), 0 },
        { "aox_worker_crash_retries_total", "Compute attempts retried from the last "
          "snapshot after a worker death.", F(worker_crash_retries), 0 },
#undef F
    };
    static const struct { const char *limit; size_t off; } lim[] = {
        { "result_bytes", offsetof(aox_procs_stats, limit_result_bytes) },
        { "message_bytes", offsetof(aox_procs_stats, limit_message_bytes) },
        { "wall_ms", offsetof(aox_procs_stats, wall_timeouts) },
    };
    aox_metric_def ld = { AOX_METRIC_COUNTER, "aox_limit_hits_total",
                          "Limits hit, by limit (fuel and memory: guest results with "
                          "out_of_fuel / out_of_memory).", "limit", NULL, 0, 0 };
    aox_procs_stats ps;
    uint64_t v;

    memset(&ps, 0, sizeof ps);
    aox_procs_stats_get(procs, &ps);
    for (size_t i = 0; i < sizeof pm / sizeof pm[0]; i++) {
        aox_metric_def d = { pm[i].gauge ? AOX_METRIC_GAUGE : AOX_METRIC_COUNTER, pm[i].name,
                             pm[i].help, NULL, NULL, 0, 0 };
        memcpy(&v, (const char *)&ps + pm[i].off, sizeof v);
        aox_metric_set(aox_metric_get(&d), NULL, 0, (int64_t)v);
    }
    for (size_t i = 0; i < sizeof lim / sizeof lim[0]; i++) {
        const char *l[] = { lim[i].limit };
        memcpy(&v, (const char *)&ps + lim[i].off, sizeof v);
        aox_metric_set(aox_metric_get(&ld), l, 1, (int64_t)v);
    }
}

typedef struct act_sum { uint64_t computes, memory, busy; } act_sum;

static int sum_activity(void *ud, const aox_proc_activity *a)
{
    act_sum *t = ud;
    t->computes += a->computes;
    t->memory += a->memory_bytes;
    t->busy += (uint64_t)a->busy;
    return 0;
}

/* Resident set size of this program, from /proc/self/statm (0 if unreadable). */
static uint64_t rss_bytes(void)
{
    unsigned long long size = 0, res = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return 0;
    if (fscanf(f, "%llu %llu", &size, &res) != 2) res = 0;
    fclose(f);
    return (uint64_t)res * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* Sums over the processes (cache misses, live-state memory, busy) and the RSS. */
static void activity_collect(aox_procs *procs)
{
    aox_metric_def md = { AOX_METRIC_GAUGE, "aox_memory_bytes",
                          "Memory by category: live_states (device `memory` op of the states "
                          "held), rss (resident set of the node process).", "category", NULL,
                          0, 0 };
    aox_metric_def cm = { AOX_METRIC_COUNTER, "aox_cache_misses_total",
                          "Compute calls that had to run (took the process state).", NULL,
                          NULL, 0, 0 };
    aox_metric_def bd = { AOX_METRIC_GAUGE, "aox_processes_busy",
                          "Processes computing now.", NULL, NULL, 0, 0 };
    const char *live[] = { "live_states" }, *rss[] = { "rss" };
    act_sum t = { 0, 0, 0 };
    (void)aox_procs_activity_list(procs, sum_activity, &t, NULL);
    aox_metric_set(aox_metric_get(&md), live, 1, (int64_t)t.memory);
    aox_metric_set(aox_metric_get(&md), rss, 1, (int64_t)rss_bytes());
    aox_metric_set(aox_metric_get(&cm), NULL, 0, (int64_t)t.computes);
    aox_metric_set(aox_metric_get(&bd), NULL, 0, (int64_t)t.busy);
}

int aox_http_monitor_metrics(const aox_http_ctx *ctx, aox_http_response *resp)
{
    aox_buf *b = &resp->body;
    int rc;

    procs_collect(ctx->procs);
    activity_collect(ctx->procs);
    aox_buf_reset(b);
    rc = aox_metrics_render(b);
    if (ctx->metrics && rc == 0) {
        aox_http_metrics *m = ctx->metrics;
        rc = aox_buf_append_str(b,
            "# HELP aox_http_requests_total HTTP requests by route and status class.\n"
            "# TYPE aox_http_requests_total counter\n");
        for (int r = 0; r < AOX_R__COUNT && rc == 0; r++)
            for (int c = 1; c <= 5 && rc == 0; c++) {
                unsigned long long v = atomic_load_explicit(&m->requests[r][c],
                                                            memory_order_relaxed);
                if (v)
                    rc = aox_buf_printf(b, "aox_http_requests_total{route=\"%s\","
                                        "status=\"%dxx\"} %llu\n",
                                        aox_route_name((aox_route_kind)r), c, v);
            }
        if (rc == 0)
            rc = aox_buf_append_str(b,
                "# HELP aox_http_request_seconds_total Time spent handling requests.\n"
                "# TYPE aox_http_request_seconds_total counter\n");
        for (int r = 0; r < AOX_R__COUNT && rc == 0; r++) {
            unsigned long long us = atomic_load_explicit(&m->micros[r], memory_order_relaxed);
            if (us)
                rc = aox_buf_printf(b, "aox_http_request_seconds_total{route=\"%s\"} "
                                    "%llu.%06llu\n", aox_route_name((aox_route_kind)r),
                                    us / 1000000ull, us % 1000000ull);
        }
    }
    if (rc) return AOX_E_NOMEM;
    resp->status = 200;
    resp->content_type = "text/plain; version=0.0.4";
    return AOX_OK;
}
