/*
 * node/workers.h: live workers over the process manager (issue 5, points 1 and 2).
 *
 * One *worker* per active process holds its state hot (the state itself lives in
 * process/, see aox_proc_*) and runs that process's state-advancing requests one at
 * a time, in arrival order, from its own bounded queue. A pool of OS threads runs
 * the workers that have work (a worker is on at most one thread at a time). Read-only
 * requests (dry runs) go to a separate bounded queue served by their own threads, so
 * they never occupy the pool or a process queue.
 *
 *   request ──> cached? ──yes──> answered from the store (no queue, no lock)
 *                  │no
 *                  v
 *          worker queue (<= queue_max, all queues <= queue_total_max) ──> pool thread
 *                  │                                            runs aox_proc_compute
 *          caller waits until done or its deadline: on expiry AOX_E_TIMEOUT (504)
 *          naming the slot it waited for and the process's computed slot
 *
 * Backpressure: a full queue, too many schedules in flight, or the live-worker
 * maximum with no idle worker to evict is AOX_E_BUSY (503 with Retry-After), never
 * unbounded growth. Eviction (snapshot, then free the live state) happens when a
 * worker has been idle for idle_ms, when the measured memory of live states
 * (device `memory` op) exceeds memory_budget (least recently used idle workers
 * first), and to make room under live_max.
 *
 * Scheduling does not touch state: aox_workers_schedule calls the scheduler in the
 * caller's thread (concurrent schedules share group commits, process/commit.c),
 * bounded only by schedules_max in flight.
 *
 * Thread safety: every call may be made from any thread. The manager must outlive
 * the workers; aox_workers_close must run before aox_procs_close.
 */
#ifndef AOX_NODE_WORKERS_H
#define AOX_NODE_WORKERS_H

#include <stdint.h>
#include "core/error.h"
#include "core/message.h"
#include "process/process.h"

typedef struct aox_workers aox_workers;

typedef struct aox_workers_opts {
    aox_procs *procs;              /* required; must outlive the workers */
    unsigned   threads;            /* pool threads (0 = number of online cores) */
    unsigned   ro_threads;         /* read-only threads (0 = 1) */
    uint64_t   queue_max;          /* queued requests per process (0 = 64) */
    uint64_t   queue_total_max;    /* queued state-advancing requests, all processes
                                      (0 = 4096) */
    uint64_t   ro_queue_max;       /* queued read-only requests (0 = 256) */
    uint64_t   schedules_max;      /* schedules in flight (0 = 1024) */
    uint64_t   await_ms;           /* default wait deadline, ms (0 = 30000) */
    uint64_t   idle_ms;            /* evict workers idle this long, ms (0 = never) */
    uint64_t   memory_budget;      /* bytes of live states (0 = no budget) */
    uint64_t   live_max;           /* live workers (0 = no maximum) */
    unsigned   retry_after_s;      /* Retry-After of a busy answer, s (0 = 1) */
} aox_workers_opts;

int  aox_workers_open(const aox_workers_opts *opts, aox_workers **out, aox_err *err);
/* Stops the threads (a running request finishes; queued ones are answered
 * AOX_E_BUSY), then snapshots and frees every live state. NULL-safe. */
void aox_workers_close(aox_workers *w);

/* What happened to a request, for HTTP answers and tests. */
typedef struct aox_work_info {
    aox_compute_info ci;           /* from the compute that answered (if any) */
    int      queued;               /* 1: went through a queue; 0: answered directly */
    /* on AOX_E_TIMEOUT: what the caller waited for */
    uint64_t wait_slot;            /* the slot waited for */
    uint64_t computed_slot;        /* the process's highest computed slot then */
    int      has_computed;         /* computed_slot valid (0: nothing computed yet) */
    uint64_t waited_ms;
    /* on AOX_E_BUSY */
    unsigned retry_after_s;
} aox_work_info;

/* The result of slot N (see aox_proc_compute). timeout_ms: the wait deadline
 * (0 = opts.await_ms). AOX_E_TIMEOUT when it expires (the computation goes on and
 * its result is cached; info says what was waited for); AOX_E_BUSY on backpressure;
 * otherwise aox_proc_compute's codes. info may be NULL. */
int aox_workers_compute(aox_workers *w, const char *pid, uint64_t slot,
                        uint64_t timeout_ms, aox_msg **result, aox_work_info *info,
                        aox_err *err);
/* The result at the current slot (through the same queue). */
int aox_workers_now(aox_workers *w, const char *pid, uint64_t timeout_ms,
                    aox_msg **result, aox_work_info *info, aox_err *err);
/* The result for a message ID (its slot, through the same queue). */
int aox_workers_result_by_message(aox_workers *w, const char *pid, const char *msg_id,
                                  uint64_t timeout_ms, aox_msg **result, uint64_t *slot,
                                  aox_work_info *info, aox_err *err);
/* aox_proc_schedule, bounded by schedules_max in flight. */
int aox_workers_schedule(aox_workers *w, const char *pid, const aox_msg *msg,
                         aox_msg **assignment, aox_work_info *info, aox_err *err);
/* aox_proc_dry_run through the read-only queue. */
int aox_workers_dry_run(aox_workers *w, const char *pid, const aox_msg *msg,
                        uint64_t timeout_ms, aox_msg **result, aox_work_info *info,
                        aox_err *err);

/* aox_proc_dry_run_ex (opts may be NULL) through the read-only queue (issue 7). */
int aox_workers_dry_run_ex(aox_workers *w, const char *pid, const aox_msg *msg,
                           const aox_dry_run_opts *opts, uint64_t timeout_ms,
                           aox_msg **result, aox_work_info *info, aox_err *err);
/* Snapshots pid's live state if it is ahead of its last snapshot (aox_proc_snapshot);
 * waits for a compute in progress on pid, touches no other process (issue 7). */
int aox_workers_snapshot(aox_workers *w, const char *pid, int *written, aox_err *err);

/* Evicts every worker idle for at least idle_ms now (the reaper thread does this
 * on its own every min(idle_ms/4, 1 s)); returns how many live states it freed. */
int aox_workers_sweep(aox_workers *w, uint64_t idle_ms);

typedef struct aox_workers_stats {
    /* gauges */
    uint64_t threads, ro_threads;
    uint64_t workers;              /* worker entries (processes with a live worker) */
    uint64_t running;              /* requests being run now */
    uint64_t queued;               /* state-advancing requests waiting */
    uint64_t ro_queued;            /* read-only requests waiting */
    uint64_t schedules_inflight;
    uint64_t live_memory_bytes;    /* sum of the last measured memory of live states */
    /* counters */
    uint64_t jobs_run;             /* requests run by pool threads */
    uint64_t ro_jobs_run;
    uint64_t direct_reads;         /* compute answered from the cache, no queue */
    uint64_t busy_queue;           /* 503: a process's queue was full */
    uint64_t busy_total;           /* 503: all queues together were full */
    uint64_t busy_ro;              /* 503: read-only queue full */
    uint64_t busy_live;            /* 503: live_max reached, nothing evictable */
    uint64_t busy_schedules;       /* 503: schedules_max in flight */
    uint64_t await_timeouts;       /* 504: deadline expired while waiting */
    uint64_t evict_idle;           /* live states freed by the idle time */
    uint64_t evict_memory;         /* ... by the memory budget */
    uint64_t evict_live_max;       /* ... to stay under live_max */
} aox_workers_stats;
void aox_workers_stats_get(aox_workers *w, aox_workers_stats *out);

#endif
