/*
 * node/monitor.h: the node's part of monitoring (docs/parts/monitoring.md) — what
 * only the node knows: the worker pool's queues and workers (node/workers.h) as
 * metrics, the readiness rule of /readyz, and queue fields of GET /<pid>/status.
 * The process-level metrics live in process/activity.c and http/monitor.c.
 */
#ifndef AOX_NODE_MONITOR_H
#define AOX_NODE_MONITOR_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include "node/workers.h"

typedef struct aox_store aox_store;

/* Effective queue bounds (the 0 = default rule of aox_workers_opts resolved). */
typedef struct aox_node_bounds {
    uint64_t queue_total_max;      /* state-advancing requests queued, all processes */
    uint64_t ro_queue_max;         /* read-only requests queued */
    uint64_t schedules_max;        /* schedules in flight */
} aox_node_bounds;

/* Resolves the defaults of node/workers.h for the options in wo. */
void aox_node_bounds_of(const aox_workers_opts *wo, aox_node_bounds *out);

/* The readiness rule: ready when the store answers (store_ok) and every queue is
 * below its bound. Returns 1 (ready) or 0 with the first reason in why. Pure: the
 * node calls it with live numbers, tests with made-up ones. */
int aox_node_ready_eval(int store_ok, const aox_workers_stats *ws, const aox_node_bounds *b,
                        char *why, size_t why_len);

/* What the monitor reads; all must outlive it. */
typedef struct aox_node_monitor {
    aox_store       *store;
    aox_workers     *workers;      /* may be NULL (no queues to report) */
    aox_node_bounds  bounds;
} aox_node_monitor;

/* Callbacks for aox_http_ctx (ud = the aox_node_monitor). */
int  aox_node_monitor_ready(void *ud, char *why, size_t why_len);
void aox_node_monitor_status(void *ud, const char *pid, json_t *status);
/* core/metrics collector (ud = the aox_node_monitor): queue depths, live workers,
 * busy answers by reason, evictions by reason, await timeouts. Register with
 * aox_metrics_collector_add, remove before the monitor goes away. */
void aox_node_monitor_collect(void *ud);

#endif
