/*
 * node/monitor.c: worker-pool metrics, readiness and status fields (monitor.h).
 */
#include "node/monitor.h"

#include <stdio.h>
#include <string.h>

#include "core/metrics.h"
#include "store/store.h"

void aox_node_bounds_of(const aox_workers_opts *wo, aox_node_bounds *out)
{
    /* the defaults documented in node/workers.h */
    out->queue_total_max = wo->queue_total_max ? wo->queue_total_max : 4096;
    out->ro_queue_max = wo->ro_queue_max ? wo->ro_queue_max : 256;
    out->schedules_max = wo->schedules_max ? wo->schedules_max : 1024;
}

int aox_node_ready_eval(int store_ok, const aox_workers_stats *ws, const aox_node_bounds *b,
                        char *why, size_t why_len)
{
    if (!store_ok) {
        snprintf(why, why_len, "store is not answering");
        return 0;
    }
    if (!ws) return 1;
    if (ws->queued >= b->queue_total_max) {
        snprintf(why, why_len, "compute queues full: %llu queued (bound %llu)",
                 (unsigned long long)ws->queued, (unsigned long long)b->queue_total_max);
        return 0;
    }
    if (ws->ro_queued >= b->ro_queue_max) {
        snprintf(why, why_len, "read-only queue full: %llu queued (bound %llu)",
                 (unsigned long long)ws->ro_queued, (unsigned long long)b->ro_queue_max);
        return 0;
    }
    if (ws->schedules_inflight >= b->schedules_max) {
        snprintf(why, why_len, "schedules in flight at the bound: %llu (bound %llu)",
                 (unsigned long long)ws->schedules_inflight,
                 (unsigned long long)b->schedules_max);
        return 0;
    }
    return 1;
}

/* The store answers a read (a missing key is an answer). */
static int store_ok(aox_store *s)
{
    static const char probe[] = "node/ready-probe";
    aox_buf v = {0};
    int rc = aox_store_get(s, probe, sizeof probe - 1, &v);
    aox_buf_free(&v);
    return rc == AOX_OK || rc == AOX_E_NOT_FOUND;
}

int aox_node_monitor_ready(void *ud, char *why, size_t why_len)
{
    aox_node_monitor *m = ud;
    aox_workers_stats ws;
    if (m->workers) {
        memset(&ws, 0, sizeof ws);
        aox_workers_stats_get(m->workers, &ws);
    }
    return aox_node_ready_eval(store_ok(m->store), m->workers ? &ws : NULL, &m->bounds, why,
                               why_len);
}

void aox_node_monitor_status(void *ud, const char *pid, json_t *status)
{
    aox_node_monitor *m = ud;
    aox_workers_stats ws;
    (void)pid;
    if (!m->workers) return;
    memset(&ws, 0, sizeof ws);
    aox_workers_stats_get(m->workers, &ws);
    /* per-process queue lengths are the workers layer's; node-wide depths here */
    json_object_set_new(status, "node-queued", json_integer((json_int_t)ws.queued));
    json_object_set_new(status, "node-running", json_integer((json_int_t)ws.running));
}

static void set_gauge(const char *name, const char *help, const char *label,
                      const char *value, uint64_t v)
{
    aox_metric_def d = { AOX_METRIC_GAUGE, name, help, label, NULL, 0, 0 };
    const char *vals[] = { value };
    aox_metric_set(aox_metric_get(&d), vals, label ? 1 : 0, (int64_t)v);
}

/* Counters copied from the workers' totals are exposed as counters. */
static void set_counter(const char *name, const char *help, const char *label,
                        const char *value, uint64_t v)
{
    aox_metric_def d = { AOX_METRIC_COUNTER, name, help, label, NULL, 0, 0 };
    const char *vals[] = { value };
    aox_metric_set(aox_metric_get(&d), vals, label ? 1 : 0, (int64_t)v);
}

void aox_node_monitor_collect(void *ud)
{
    aox_node_monitor *m = ud;
    aox_workers_stats ws;
    static const char qh[] = "Requests waiting, by queue (compute: state-advancing, "
                             "readonly: dry runs, schedules: in flight).";
    static const char bh[] = "Requests answered 503 busy, by reason.";
    static const char eh[] = "Live states evicted by the worker layer, by reason.";
    static const char qbh[] = "Queue bounds (readiness fails at the bound).";
    if (!m->workers) return;
    memset(&ws, 0, sizeof ws);
    aox_workers_stats_get(m->workers, &ws);
    set_gauge("aox_queue_depth", qh, "queue", "compute", ws.queued);
    set_gauge("aox_queue_depth", qh, "queue", "readonly", ws.ro_queued);
    set_gauge("aox_queue_depth", qh, "queue", "schedules", ws.schedules_inflight);
    set_gauge("aox_queue_bound", qbh, "queue", "compute", m->bounds.queue_total_max);
    set_gauge("aox_queue_bound", qbh, "queue", "readonly", m->bounds.ro_queue_max);
    set_gauge("aox_queue_bound", qbh, "queue", "schedules", m->bounds.schedules_max);
    set_gauge("aox_workers_live", "Processes with a live worker.", NULL, NULL, ws.workers);
    set_gauge("aox_workers_running", "Requests being run by pool threads now.", NULL, NULL,
              ws.running);
    set_gauge("aox_worker_threads", "Pool threads (compute and read-only).", "pool",
              "compute", ws.threads);
    set_gauge("aox_worker_threads", "Pool threads (compute and read-only).", "pool",
              "readonly", ws.ro_threads);
    set_gauge("aox_workers_memory_bytes",
              "Last measured memory of the live states the workers hold.", NULL, NULL,
              ws.live_memory_bytes);
    set_counter("aox_worker_jobs_total", "Requests run by pool threads.", "pool", "compute",
                ws.jobs_run);
    set_counter("aox_worker_jobs_total", "Requests run by pool threads.", "pool", "readonly",
                ws.ro_jobs_run);
    set_counter("aox_direct_reads_total", "Compute requests answered from the cache "
                "without a queue.", NULL, NULL, ws.direct_reads);
    set_counter("aox_busy_total", bh, "reason", "queue", ws.busy_queue);
    set_counter("aox_busy_total", bh, "reason", "total", ws.busy_total);
    set_counter("aox_busy_total", bh, "reason", "readonly", ws.busy_ro);
    set_counter("aox_busy_total", bh, "reason", "live_max", ws.busy_live);
    set_counter("aox_busy_total", bh, "reason", "schedules", ws.busy_schedules);
    set_counter("aox_await_timeouts_total", "Requests that hit their wait deadline (504).",
                NULL, NULL, ws.await_timeouts);
    set_counter("aox_worker_evictions_total", eh, "reason", "idle", ws.evict_idle);
    set_counter("aox_worker_evictions_total", eh, "reason", "memory", ws.evict_memory);
    set_counter("aox_worker_evictions_total", eh, "reason", "live_max", ws.evict_live_max);
}
