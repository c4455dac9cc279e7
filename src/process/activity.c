/*
 * process/activity.c: what each process is doing, for monitoring — per-stage
 * latency histograms of the compute loop (aox_slot_stage_seconds{stage}), fuel and
 * limit counters, and the per-process activity behind GET /<pid>/status and
 * GET /~meta@1.0/processes (process.h: aox_proc_activity_get, aox_procs_activity_list).
 * Nothing here reaches a result: it only observes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/metrics.h"
#include "process/proc_int.h"

static const char *const stage_names[PROC_STAGE__COUNT] = {
    "idle", "load", "execute", "encode", "store", "snapshot"
};

/* 50us .. 10s: device calls of a few microseconds to long replays and fsyncs. */
static const uint64_t stage_bounds_us[] = {
    50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000,
    500000, 1000000, 2500000, 10000000
};

static aox_series *stage_series(int stage)
{
    static _Atomic(aox_series *) cache[PROC_STAGE__COUNT];
    aox_series *s = atomic_load_explicit(&cache[stage], memory_order_acquire);
    if (!s) {
        aox_metric_def d = { AOX_METRIC_HISTOGRAM, "aox_slot_stage_seconds",
                             "Time per compute stage: load (restore/init), execute (device "
                             "compute of one slot), encode (result), store (commit), "
                             "snapshot.", "stage", stage_bounds_us,
                             sizeof stage_bounds_us / sizeof stage_bounds_us[0], 1e-6 };
        const char *v[] = { stage_names[stage] };
        s = aox_metric_series(aox_metric_get(&d), v, 1);
        atomic_store_explicit(&cache[stage], s, memory_order_release);
    }
    return s;
}

void proc_act_init(proc_entry *e)
{
    pthread_mutex_init(&e->act.err_mu, NULL);
}

void proc_act_destroy(proc_entry *e)
{
    pthread_mutex_destroy(&e->act.err_mu);
}

uint64_t proc_stage_begin(proc_entry *e, int stage)
{
    atomic_store_explicit(&e->act.stage, stage, memory_order_relaxed);
    return aox_metrics_now_us();
}

void proc_stage_end(int stage, uint64_t t0)
{
    aox_series_observe(stage_series(stage), aox_metrics_now_us() - t0);
}

void proc_act_error(proc_entry *e, int code, int node, uint64_t slot, const char *msg)
{
    pthread_mutex_lock(&e->act.err_mu);
    e->act.last_code = code;
    e->act.last_node = node;
    e->act.last_slot = slot;
    snprintf(e->act.last_msg, sizeof e->act.last_msg, "%s", msg ? msg : "");
    pthread_mutex_unlock(&e->act.err_mu);
}

void proc_act_result(proc_entry *e, uint64_t slot, const aox_msg *res)
{
    static _Atomic(aox_series *) fuel, lim_fuel, lim_mem;
    int64_t gas = 0;
    aox_series *s;

    atomic_fetch_add_explicit(&e->act.slots, 1, memory_order_relaxed);
    s = atomic_load_explicit(&fuel, memory_order_acquire);
    if (!s) {
        aox_metric_def d = { AOX_METRIC_COUNTER, "aox_fuel_used_total",
                             "Fuel (device gas units) used by computed slots.", NULL, NULL, 0,
                             0 };
        s = aox_metric_series(aox_metric_get(&d), NULL, 0);
        atomic_store_explicit(&fuel, s, memory_order_release);
    }
    if (aox_msg_get_int(res, "gas", &gas) == AOX_OK && gas > 0)
        aox_series_add(s, (uint64_t)gas);
    if (aox_result_is_error(res)) {
        const aox_msg *er = aox_msg_get_msg(res, "error");
        const char *code = er ? aox_msg_get_str(er, "code", NULL) : NULL;
        const char *text = er ? aox_msg_get_str(er, "message", NULL) : NULL;
        int c = AOX_E_GUEST;
        if (code && strcmp(code, "out_of_fuel") == 0) c = AOX_E_OUT_OF_FUEL;
        else if (code && strcmp(code, "out_of_memory") == 0) c = AOX_E_OUT_OF_MEMORY;
        else if (code && strcmp(code, "trap") == 0) c = AOX_E_TRAP;
        else if (code && strcmp(code, "limit_exceeded") == 0) c = AOX_E_LIMIT;
        if (c == AOX_E_OUT_OF_FUEL || c == AOX_E_OUT_OF_MEMORY) {
            _Atomic(aox_series *) *slot_p = c == AOX_E_OUT_OF_FUEL ? &lim_fuel : &lim_mem;
            s = atomic_load_explicit(slot_p, memory_order_acquire);
            if (!s) {
                aox_metric_def d = { AOX_METRIC_COUNTER, "aox_limit_hits_total",
                                     "Limits hit, by limit (fuel and memory: guest results "
                                     "with out_of_fuel / out_of_memory).", "limit", NULL, 0,
                                     0 };
                const char *v[] = { c == AOX_E_OUT_OF_FUEL ? "fuel" : "memory" };
                s = aox_metric_series(aox_metric_get(&d), v, 1);
                atomic_store_explicit(slot_p, s, memory_order_release);
            }
            aox_series_add(s, 1);
        }
        proc_act_error(e, c, 0, slot, text ? text : code);
    }
}

/* ------------------------------------------------------------------ public API */

static void fill(proc_entry *e, aox_proc_activity *out)
{
    memset(out, 0, sizeof *out);
    memcpy(out->pid, e->pid, AOX_ID_LEN + 1);
    out->busy = atomic_load_explicit(&e->act.busy, memory_order_relaxed) != 0;
    out->stage = out->busy
        ? stage_names[atomic_load_explicit(&e->act.stage, memory_order_relaxed)] : "idle";
    out->target_slot = atomic_load_explicit(&e->act.target, memory_order_relaxed);
    out->waiting = atomic_load_explicit(&e->act.waiting, memory_order_relaxed);
    out->computes = atomic_load_explicit(&e->act.computes, memory_order_relaxed);
    out->slots_computed = atomic_load_explicit(&e->act.slots, memory_order_relaxed);
    out->compute_us = atomic_load_explicit(&e->act.compute_us, memory_order_relaxed);
    out->memory_bytes = atomic_load_explicit(&e->act.memory, memory_order_relaxed);
    /* A waiting request is blocked on the compute ahead of it. */
    if (!out->busy && out->waiting) out->stage = "state-lock";
    if (pthread_mutex_trylock(&e->state_mu) == 0) {
        out->live = e->live.state != NULL;
        out->at_slot = e->live.at_slot;
        if (e->live.state && e->ops->memory) out->memory_bytes = e->ops->memory(e->live.state);
        else if (!e->live.state) out->memory_bytes = 0;
        pthread_mutex_unlock(&e->state_mu);
    } else {
        out->live = 1;                       /* computing: it holds a state */
    }
    pthread_mutex_lock(&e->act.err_mu);
    out->last_error_code = e->act.last_code;
    out->last_error_node = e->act.last_node;
    out->last_error_slot = e->act.last_slot;
    memcpy(out->last_error, e->act.last_msg, sizeof out->last_error);
    pthread_mutex_unlock(&e->act.err_mu);
}

int aox_proc_activity_get(aox_procs *p, const char *pid, aox_proc_activity *out, aox_err *err)
{
    proc_entry *e;
    int rc = proc_entry_get(p, pid, &e, err);
    if (rc) return rc;
    fill(e, out);
    proc_entry_put(p, e);
    return AOX_OK;
}

int aox_procs_activity_list(aox_procs *p, aox_proc_activity_fn fn, void *ud, aox_err *err)
{
    proc_entry **v = NULL;
    size_t n = 0, cap = 0;
    int rc = AOX_OK;

    /* Take a reference to every entry under the table lock, report outside it. */
    pthread_mutex_lock(&p->mu);
    for (size_t b = 0; b < PROC_BUCKETS && rc == AOX_OK; b++)
        for (proc_entry *e = p->buckets[b]; e; e = e->hnext) {
            if (n == cap) {
                size_t nc = cap ? 2 * cap : 64;
                proc_entry **nv = realloc(v, nc * sizeof *nv);
                if (!nv) {
                    rc = aox_err_set(err, AOX_E_NOMEM, "out of memory");
                    break;
                }
                v = nv;
                cap = nc;
            }
            e->refs++;
            v[n++] = e;
        }
    pthread_mutex_unlock(&p->mu);
    for (size_t i = 0, stop = 0; i < n; i++) {
        if (rc == AOX_OK && !stop) {
            aox_proc_activity a;
            fill(v[i], &a);
            stop = fn(ud, &a) != 0;
        }
        proc_entry_put(p, v[i]);
    }
    free(v);
    return rc;
}
