/*
 * node/workers.c: live workers, their queues, the thread pools, deadlines,
 * backpressure and eviction (see workers.h for the contract).
 *
 * Locking: one mutex (w->mu) guards every queue, the worker table, the LRU and the
 * counters; it is never held while calling into process/ (compute, dry run, evict,
 * live info), so a long compute never blocks submission, and process/'s own locks
 * are always taken without w->mu. A worker is:
 *
 *   in the table   from its first queued request until it is evicted
 *   runnable       on the run queue (has requests, no thread on it)
 *   running        a pool thread runs one of its requests (at most one)
 *   evicting       a thread is snapshotting/freeing its live state
 *
 * and it is freed only when evicted while neither running, runnable nor queued.
 * A job lives on the heap: the waiter frees it, unless it gave up (deadline) while
 * the job was running — then the pool thread frees it when done ("abandoned").
 */
#include "node/workers.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/id.h"
#include "core/log.h"

#define W_BUCKETS 1024

typedef enum { JOB_COMPUTE, JOB_DRY } job_kind;
typedef enum { JOB_QUEUED, JOB_RUNNING, JOB_DONE } job_state;

typedef struct worker worker;

typedef struct job {
    job_kind         kind;
    char             pid[AOX_ID_LEN + 1];
    uint64_t         slot;          /* compute: the slot wanted */
    aox_msg         *msg;           /* dry run: owned copy of the message */
    char            *msg_id;        /* dry run: owned copy of opts->message_id, or NULL */
    aox_msg         *res;
    aox_compute_info ci;
    int              rc;
    aox_err          err;
    job_state        state;         /* w->mu */
    int              abandoned;     /* w->mu: the waiter left; the runner frees */
    pthread_cond_t   cv;
    worker          *wk;            /* compute: its worker */
    struct job      *next;
} job;

struct worker {
    char     pid[AOX_ID_LEN + 1];
    job     *qh, *qt;
    uint64_t qlen;
    int      running, runnable, evicting;
    int64_t  last_ms;               /* CLOCK_MONOTONIC ms of the last request's end */
    uint64_t mem;                   /* last measured bytes of its live state */
    worker  *hnext;                 /* table bucket */
    worker  *rnext;                 /* run queue */
    worker  *lprev, *lnext;         /* LRU, head = most recently used */
};

struct aox_workers {
    aox_workers_opts o;
    pthread_mutex_t  mu;
    pthread_cond_t   work_cv, ro_cv, reap_cv;
    worker          *buckets[W_BUCKETS];
    worker          *rq_head, *rq_tail;
    worker          *lru_head, *lru_tail;
    job             *ro_head, *ro_tail;
    uint64_t         ro_len, nworkers, queued, running, sched_inflight, mem_total;
    int              stop;
    pthread_t       *threads, *ro_threads, reaper;
    unsigned         nthreads, nro, started, ro_started;
    int              reaper_started;
    aox_workers_stats c;            /* counters (gauges filled in by stats_get) */
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void cond_init_mono(pthread_cond_t *cv)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &ca);
    pthread_condattr_destroy(&ca);
}

static void deadline_ts(int64_t deadline_ms, struct timespec *ts)
{
    ts->tv_sec = deadline_ms / 1000;
    ts->tv_nsec = (deadline_ms % 1000) * 1000000;
}

/* ------------------------------------------------------------------------ */
/* Table, run queue, LRU (all under w->mu)                                  */
/* ------------------------------------------------------------------------ */

static size_t bucket_of(const char *pid)
{
    uint64_t h = 1469598103934665603ull;               /* FNV-1a */
    for (const char *c = pid; *c; c++)
        h = (h ^ (uint8_t)*c) * 1099511628211ull;
    return (size_t)(h % W_BUCKETS);
}

static worker *find(aox_workers *w, const char *pid)
{
    for (worker *k = w->buckets[bucket_of(pid)]; k; k = k->hnext)
        if (strcmp(k->pid, pid) == 0)
            return k;
    return NULL;
}

static void lru_unlink(aox_workers *w, worker *k)
{
    if (!k->lprev && w->lru_head != k)
        return;                                       /* not listed */
    if (k->lprev) k->lprev->lnext = k->lnext;
    else w->lru_head = k->lnext;
    if (k->lnext) k->lnext->lprev = k->lprev;
    else w->lru_tail = k->lprev;
    k->lprev = k->lnext = NULL;
}

static void lru_front(aox_workers *w, worker *k)
{
    lru_unlink(w, k);
    k->lnext = w->lru_head;
    if (w->lru_head) w->lru_head->lprev = k;
    w->lru_head = k;
    if (!w->lru_tail) w->lru_tail = k;
}

static worker *create(aox_workers *w, const char *pid)
{
    worker *k = calloc(1, sizeof *k);
    size_t b;
    if (!k) return NULL;
    memcpy(k->pid, pid, AOX_ID_LEN + 1);
    k->last_ms = mono_ms();
    b = bucket_of(pid);
    k->hnext = w->buckets[b];
    w->buckets[b] = k;
    lru_front(w, k);
    w->nworkers++;
    return k;
}

static void destroy(aox_workers *w, worker *k)
{
    worker **pp = &w->buckets[bucket_of(k->pid)];
    while (*pp && *pp != k) pp = &(*pp)->hnext;
    if (*pp) *pp = k->hnext;
    lru_unlink(w, k);
    w->mem_total -= k->mem;
    w->nworkers--;
    free(k);
}

static void rq_push(aox_workers *w, worker *k)
{
    if (k->runnable || k->running) return;
    k->runnable = 1;
    k->rnext = NULL;
    if (w->rq_tail) w->rq_tail->rnext = k;
    else w->rq_head = k;
    w->rq_tail = k;
    pthread_cond_signal(&w->work_cv);
}

static worker *rq_pop(aox_workers *w)
{
    worker *k = w->rq_head;
    if (!k) return NULL;
    w->rq_head = k->rnext;
    if (!w->rq_head) w->rq_tail = NULL;
    k->rnext = NULL;
    k->runnable = 0;
    return k;
}

static int idle(const worker *k)
{
    return !k->running && !k->runnable && !k->evicting && k->qlen == 0;
}

/* Least recently used idle worker other than keep (NULL: none). */
static worker *victim(aox_workers *w, const worker *keep)
{
    for (worker *k = w->lru_tail; k; k = k->lprev)
        if (k != keep && idle(k))
            return k;
    return NULL;
}

/* Snapshots and frees k's live state (w->mu released meanwhile); frees k itself if
 * it is still idle afterwards. Returns 1 if a live state was freed. */
static int evict_locked(aox_workers *w, worker *k, uint64_t *counter)
{
    char pid[AOX_ID_LEN + 1];
    aox_err err;
    int freed = 0, rc;
    memcpy(pid, k->pid, sizeof pid);
    k->evicting = 1;
    pthread_mutex_unlock(&w->mu);
    aox_err_clear(&err);
    rc = aox_proc_evict(w->o.procs, pid, &freed, &err);
    if (rc)
        aox_log(AOX_LOG_WARN, "worker_evict_failed", "\"pid\":\"%s\",\"code\":\"%s\"", pid,
                aox_code_name(rc));
    pthread_mutex_lock(&w->mu);
    k->evicting = 0;
    w->mem_total -= k->mem;
    k->mem = 0;
    if (freed && counter) (*counter)++;
    if (idle(k)) destroy(w, k);
    return freed;
}

/* Evicts least recently used idle workers (not keep) while over the budget. */
static void enforce_budget(aox_workers *w, const worker *keep)
{
    int rounds = 0;
    while (w->o.memory_budget && w->mem_total > w->o.memory_budget && rounds++ < 1024) {
        worker *v = victim(w, keep);
        if (!v) break;              /* only keep (or busy workers) left: stay over */
        evict_locked(w, v, &w->c.evict_memory);
    }
}

/* ------------------------------------------------------------------------ */
/* Jobs                                                                     */
/* ------------------------------------------------------------------------ */

static job *job_new(job_kind kind, const char *pid)
{
    job *j = calloc(1, sizeof *j);
    if (!j) return NULL;
    j->kind = kind;
    memcpy(j->pid, pid, AOX_ID_LEN + 1);
    cond_init_mono(&j->cv);
    return j;
}

static void job_free(job *j)
{
    if (!j) return;
    aox_msg_free(j->msg);
    free(j->msg_id);
    aox_msg_free(j->res);
    pthread_cond_destroy(&j->cv);
    free(j);
}

/* Under w->mu: marks j done and wakes (or frees, when abandoned) its waiter. */
static void job_finish(job *j)
{
    j->state = JOB_DONE;
    if (j->abandoned) job_free(j);
    else pthread_cond_signal(&j->cv);
}

static void measure(aox_workers *w, worker *k)
{
    aox_proc_live lv;
    char pid[AOX_ID_LEN + 1];
    int rc;
    memcpy(pid, k->pid, sizeof pid);          /* k cannot go away: it is running */
    pthread_mutex_unlock(&w->mu);
    rc = aox_proc_live_info(w->o.procs, pid, &lv, NULL);
    pthread_mutex_lock(&w->mu);
    if (rc == AOX_OK) {
        uint64_t m = lv.live ? lv.memory_bytes : 0;
        w->mem_total = w->mem_total - k->mem + m;
        k->mem = m;
    }
}

static void *pool_main(void *ud)
{
    aox_workers *w = ud;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        worker *k;
        job *j;
        while (!w->stop && !w->rq_head)
            pthread_cond_wait(&w->work_cv, &w->mu);
        if (w->stop) break;
        k = rq_pop(w);
        j = k->qh;
        if (!j) continue;                     /* its waiters all gave up */
        k->qh = j->next;
        if (!k->qh) k->qt = NULL;
        k->qlen--;
        w->queued--;
        k->running = 1;
        w->running++;
        j->state = JOB_RUNNING;
        pthread_mutex_unlock(&w->mu);

        j->rc = aox_proc_compute(w->o.procs, j->pid, j->slot, &j->res, &j->ci, &j->err);

        pthread_mutex_lock(&w->mu);
        measure(w, k);
        w->c.jobs_run++;
        w->running--;
        k->running = 0;
        k->last_ms = mono_ms();
        lru_front(w, k);
        job_finish(j);
        if (k->qlen) rq_push(w, k);
        enforce_budget(w, k);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

static void *ro_main(void *ud)
{
    aox_workers *w = ud;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        job *j;
        while (!w->stop && !w->ro_head)
            pthread_cond_wait(&w->ro_cv, &w->mu);
        if (w->stop) break;
        j = w->ro_head;
        w->ro_head = j->next;
        if (!w->ro_head) w->ro_tail = NULL;
        w->ro_len--;
        j->state = JOB_RUNNING;
        pthread_mutex_unlock(&w->mu);
        {
            aox_dry_run_opts o = { j->msg_id };
            j->rc = aox_proc_dry_run_ex(w->o.procs, j->pid, j->msg, &o, &j->res, &j->err);
        }
        pthread_mutex_lock(&w->mu);
        w->c.ro_jobs_run++;
        job_finish(j);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

static void *reap_main(void *ud)
{
    aox_workers *w = ud;
    int64_t period = (int64_t)(w->o.idle_ms / 4);
    if (period < 10) period = 10;
    if (period > 1000) period = 1000;
    pthread_mutex_lock(&w->mu);
    while (!w->stop) {
        struct timespec until;
        deadline_ts(mono_ms() + period, &until);
        pthread_cond_timedwait(&w->reap_cv, &w->mu, &until);
        if (w->stop) break;
        pthread_mutex_unlock(&w->mu);
        (void)aox_workers_sweep(w, w->o.idle_ms);
        pthread_mutex_lock(&w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

int aox_workers_sweep(aox_workers *w, uint64_t idle_ms)
{
    int freed = 0, rounds = 0;
    pthread_mutex_lock(&w->mu);
    while (!w->stop && rounds++ < 100000) {
        int64_t now = mono_ms();
        worker *v = NULL;
        for (worker *k = w->lru_tail; k; k = k->lprev)
            if (idle(k) && now - k->last_ms >= (int64_t)idle_ms) {
                v = k;
                break;
            }
        if (!v) break;
        freed += evict_locked(w, v, &w->c.evict_idle);
    }
    pthread_mutex_unlock(&w->mu);
    return freed;
}

/* ------------------------------------------------------------------------ */
/* Open / close / stats                                                     */
/* ------------------------------------------------------------------------ */

int aox_workers_open(const aox_workers_opts *opts, aox_workers **out, aox_err *err)
{
    aox_workers *w;
    *out = NULL;
    if (!opts || !opts->procs)
        return aox_err_set(err, AOX_E_INVALID, "aox_workers_open: a process manager is "
                           "required");
    w = calloc(1, sizeof *w);
    if (!w) return aox_err_set(err, AOX_E_NOMEM, "out of memory");
    w->o = *opts;
    if (!w->o.threads) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        w->o.threads = n > 0 && n < 1024 ? (unsigned)n : 2;
    }
    if (!w->o.ro_threads) w->o.ro_threads = 1;
    if (!w->o.queue_max) w->o.queue_max = 64;
    if (!w->o.queue_total_max) w->o.queue_total_max = 4096;
    if (!w->o.ro_queue_max) w->o.ro_queue_max = 256;
    if (!w->o.schedules_max) w->o.schedules_max = 1024;
    if (!w->o.await_ms) w->o.await_ms = 30000;
    if (!w->o.retry_after_s) w->o.retry_after_s = 1;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->work_cv, NULL);
    pthread_cond_init(&w->ro_cv, NULL);
    cond_init_mono(&w->reap_cv);
    w->threads = calloc(w->o.threads, sizeof *w->threads);
    w->ro_threads = calloc(w->o.ro_threads, sizeof *w->ro_threads);
    if (!w->threads || !w->ro_threads) {
        aox_workers_close(w);
        return aox_err_set(err, AOX_E_NOMEM, "out of memory");
    }
    for (unsigned i = 0; i < w->o.threads; i++) {
        if (pthread_create(&w->threads[i], NULL, pool_main, w) != 0) break;
        w->started++;
    }
    for (unsigned i = 0; i < w->o.ro_threads; i++) {
        if (pthread_create(&w->ro_threads[i], NULL, ro_main, w) != 0) break;
        w->ro_started++;
    }
    if (w->o.idle_ms && pthread_create(&w->reaper, NULL, reap_main, w) == 0)
        w->reaper_started = 1;
    if (w->started < w->o.threads || w->ro_started < w->o.ro_threads ||
        (w->o.idle_ms && !w->reaper_started)) {
        aox_workers_close(w);
        return aox_err_set(err, AOX_E_NOMEM, "cannot start worker threads");
    }
    *out = w;
    return AOX_OK;
}

void aox_workers_close(aox_workers *w)
{
    if (!w) return;
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_cond_broadcast(&w->work_cv);
    pthread_cond_broadcast(&w->ro_cv);
    pthread_cond_broadcast(&w->reap_cv);
    pthread_mutex_unlock(&w->mu);
    for (unsigned i = 0; i < w->started; i++) pthread_join(w->threads[i], NULL);
    for (unsigned i = 0; i < w->ro_started; i++) pthread_join(w->ro_threads[i], NULL);
    if (w->reaper_started) pthread_join(w->reaper, NULL);

    /* No thread runs now: answer whatever is still queued, then free the workers.
     * (Their states are snapshotted by aox_procs_close / snapshot_all.) */
    pthread_mutex_lock(&w->mu);
    for (size_t b = 0; b < W_BUCKETS; b++)
        for (worker *k = w->buckets[b]; k; k = k->hnext)
            while (k->qh) {
                job *j = k->qh;
                k->qh = j->next;
                j->rc = aox_err_set(&j->err, AOX_E_BUSY, "the node is shutting down");
                job_finish(j);
            }
    while (w->ro_head) {
        job *j = w->ro_head;
        w->ro_head = j->next;
        j->rc = aox_err_set(&j->err, AOX_E_BUSY, "the node is shutting down");
        job_finish(j);
    }
    for (size_t b = 0; b < W_BUCKETS; b++) {
        worker *k = w->buckets[b];
        while (k) {
            worker *n = k->hnext;
            free(k);
            k = n;
        }
    }
    pthread_mutex_unlock(&w->mu);
    free(w->threads);
    free(w->ro_threads);
    pthread_cond_destroy(&w->work_cv);
    pthread_cond_destroy(&w->ro_cv);
    pthread_cond_destroy(&w->reap_cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

void aox_workers_stats_get(aox_workers *w, aox_workers_stats *out)
{
    pthread_mutex_lock(&w->mu);
    *out = w->c;
    out->threads = w->started;
    out->ro_threads = w->ro_started;
    out->workers = w->nworkers;
    out->running = w->running;
    out->queued = w->queued;
    out->ro_queued = w->ro_len;
    out->schedules_inflight = w->sched_inflight;
    out->live_memory_bytes = w->mem_total;
    pthread_mutex_unlock(&w->mu);
}

/* ------------------------------------------------------------------------ */
/* Requests                                                                 */
/* ------------------------------------------------------------------------ */

static int busy(aox_workers *w, aox_work_info *info, uint64_t *counter, aox_err *err,
                const char *fmt, const char *pid, unsigned long long n)
{
    (*counter)++;
    info->retry_after_s = w->o.retry_after_s;
    return aox_err_set(err, AOX_E_BUSY, fmt, pid, n);
}

/* Under w->mu: waits for j until deadline. Returns 1 when done, 0 on expiry (then
 * j is no longer the caller's: it was unqueued and freed, or left to its runner). */
static int wait_job(aox_workers *w, job *j, int64_t deadline, int *was_running)
{
    struct timespec until;
    deadline_ts(deadline, &until);
    while (j->state != JOB_DONE) {
        if (pthread_cond_timedwait(&j->cv, &w->mu, &until) == ETIMEDOUT &&
            j->state != JOB_DONE)
            break;
    }
    if (j->state == JOB_DONE) return 1;
    *was_running = j->state == JOB_RUNNING;
    if (j->state == JOB_QUEUED) {
        /* Still queued: take it out, nobody wants its answer. */
        job **pp;
        if (j->kind == JOB_COMPUTE) {
            worker *k = j->wk;
            job *prev = NULL;
            for (pp = &k->qh; *pp && *pp != j; pp = &(*pp)->next) prev = *pp;
            if (*pp) {
                *pp = j->next;
                if (k->qt == j) k->qt = prev;
                k->qlen--;
                w->queued--;
            }
        } else {
            job *prev = NULL;
            for (pp = &w->ro_head; *pp && *pp != j; pp = &(*pp)->next) prev = *pp;
            if (*pp) {
                *pp = j->next;
                if (w->ro_tail == j) w->ro_tail = prev;
                w->ro_len--;
            }
        }
        job_free(j);
    } else {
        j->abandoned = 1;
    }
    return 0;
}

static int timeout_answer(aox_workers *w, const char *pid, uint64_t slot, int was_running,
                          const char *what, aox_work_info *info, aox_err *err)
{
    uint64_t computed = 0;
    info->wait_slot = slot;
    info->has_computed =
        aox_proc_latest_result_slot(w->o.procs, pid, &computed, NULL) == AOX_OK;
    info->computed_slot = computed;
    if (info->has_computed)
        return aox_err_set(err, AOX_E_TIMEOUT, "waited %llu ms for %s slot %llu of %s (%s); "
                           "computed slot is %llu", (unsigned long long)info->waited_ms,
                           what, (unsigned long long)slot, pid,
                           was_running ? "being computed" : "still queued",
                           (unsigned long long)computed);
    return aox_err_set(err, AOX_E_TIMEOUT, "waited %llu ms for %s slot %llu of %s (%s); "
                       "nothing computed yet", (unsigned long long)info->waited_ms, what,
                       (unsigned long long)slot, pid,
                       was_running ? "being computed" : "still queued");
}

/* Waits (w->mu held) for job j until deadline, then releases the mutex. A finished job
 * hands over its answer (rc, *result or *err, and a compute's info) and is freed; at the
 * deadline it stays with its runner (no longer ours) and the answer is a timeout for
 * slot of pid ("what" names what was waited for; start: when the request came). */
static int await_job(aox_workers *w, job *j, const char *pid, uint64_t slot,
                     const char *what, int64_t start, int64_t deadline, aox_msg **result,
                     aox_work_info *info, aox_err *err)
{
    int rc, was_running = 0;
    if (!wait_job(w, j, deadline, &was_running)) {
        w->c.await_timeouts++;
        pthread_mutex_unlock(&w->mu);
        info->waited_ms = (uint64_t)(mono_ms() - start);
        return timeout_answer(w, pid, slot, was_running, what, info, err);
    }
    rc = j->rc;
    if (j->kind == JOB_COMPUTE)
        info->ci = j->ci;
    if (rc == AOX_OK) {
        *result = j->res;
        j->res = NULL;
    } else if (err) {
        *err = j->err;
    }
    pthread_mutex_unlock(&w->mu);
    job_free(j);
    return rc;
}

int aox_workers_compute(aox_workers *w, const char *pid, uint64_t slot,
                        uint64_t timeout_ms, aox_msg **result, aox_work_info *info,
                        aox_err *err)
{
    aox_work_info dummy;
    worker *k;
    job *j = NULL;
    int64_t start, deadline;
    int rc, tries = 0;

    *result = NULL;
    if (!info) info = &dummy;
    memset(info, 0, sizeof *info);
    /* 1. cached: straight from the store, no queue */
    rc = aox_proc_compute_cached(w->o.procs, pid, slot, result, &info->ci.current_slot, err);
    if (rc == AOX_OK) {
        info->ci.cached = 1;
        pthread_mutex_lock(&w->mu);
        w->c.direct_reads++;
        pthread_mutex_unlock(&w->mu);
        return AOX_OK;
    }
    if (rc != AOX_E_NOT_FOUND) return rc;       /* not yet, unknown process, I/O */
    if (err) aox_err_clear(err);

    /* 2. queue it to the process's worker */
    j = job_new(JOB_COMPUTE, pid);
    if (!j) return aox_err_set(err, AOX_E_NOMEM, "out of memory");
    j->slot = slot;
    start = mono_ms();
    deadline = start + (int64_t)(timeout_ms ? timeout_ms : w->o.await_ms);
    pthread_mutex_lock(&w->mu);
    for (;;) {
        k = find(w, pid);
        if (k || !w->o.live_max || w->nworkers < w->o.live_max) break;
        {
            worker *v = victim(w, NULL);
            if (!v || tries++ >= 8) {
                rc = busy(w, info, &w->c.busy_live, err,
                          "cannot start a worker for %s: %llu live workers (the maximum) "
                          "are all busy", pid, (unsigned long long)w->o.live_max);
                goto out;
            }
            evict_locked(w, v, &w->c.evict_live_max);
        }
    }
    if (w->stop) {
        rc = aox_err_set(err, AOX_E_BUSY, "the node is shutting down");
        info->retry_after_s = w->o.retry_after_s;
        goto out;
    }
    if (k && k->qlen >= w->o.queue_max) {
        rc = busy(w, info, &w->c.busy_queue, err, "the queue of %s is full (%llu requests)",
                  pid, (unsigned long long)w->o.queue_max);
        goto out;
    }
    if (w->queued >= w->o.queue_total_max) {
        rc = busy(w, info, &w->c.busy_total, err, "the node's queues are full (%s: %llu "
                  "requests queued)", pid, (unsigned long long)w->queued);
        goto out;
    }
    if (!k && !(k = create(w, pid))) {
        rc = aox_err_set(err, AOX_E_NOMEM, "out of memory");
        goto out;
    }
    j->wk = k;
    if (k->qt) k->qt->next = j;
    else k->qh = j;
    k->qt = j;
    k->qlen++;
    w->queued++;
    lru_front(w, k);
    rq_push(w, k);
    info->queued = 1;
    return await_job(w, j, pid, slot, "the result of", start, deadline, result, info, err);
out:
    pthread_mutex_unlock(&w->mu);
    job_free(j);
    return rc;
}

int aox_workers_now(aox_workers *w, const char *pid, uint64_t timeout_ms,
                    aox_msg **result, aox_work_info *info, aox_err *err)
{
    uint64_t cur;
    int rc;
    *result = NULL;
    rc = aox_proc_current_slot(w->o.procs, pid, &cur, err);
    if (rc) {
        if (info) memset(info, 0, sizeof *info);
        return rc;
    }
    return aox_workers_compute(w, pid, cur, timeout_ms, result, info, err);
}

int aox_workers_result_by_message(aox_workers *w, const char *pid, const char *msg_id,
                                  uint64_t timeout_ms, aox_msg **result, uint64_t *slot,
                                  aox_work_info *info, aox_err *err)
{
    uint64_t s = 0;
    int rc;
    *result = NULL;
    rc = aox_proc_slot_of_message(w->o.procs, pid, msg_id, &s, err);
    if (rc) {
        if (info) memset(info, 0, sizeof *info);
        return rc;
    }
    if (slot) *slot = s;
    return aox_workers_compute(w, pid, s, timeout_ms, result, info, err);
}

int aox_workers_schedule(aox_workers *w, const char *pid, const aox_msg *msg,
                         aox_msg **assignment, aox_work_info *info, aox_err *err)
{
    aox_work_info dummy;
    int rc;
    if (!info) info = &dummy;
    memset(info, 0, sizeof *info);
    if (assignment) *assignment = NULL;
    pthread_mutex_lock(&w->mu);
    if (w->sched_inflight >= w->o.schedules_max) {
        rc = busy(w, info, &w->c.busy_schedules, err, "too many schedules in flight (%s: "
                  "%llu)", pid, (unsigned long long)w->sched_inflight);
        pthread_mutex_unlock(&w->mu);
        return rc;
    }
    w->sched_inflight++;
    pthread_mutex_unlock(&w->mu);
    rc = aox_proc_schedule(w->o.procs, pid, msg, assignment, err);
    pthread_mutex_lock(&w->mu);
    w->sched_inflight--;
    pthread_mutex_unlock(&w->mu);
    return rc;
}

int aox_workers_dry_run(aox_workers *w, const char *pid, const aox_msg *msg,
                        uint64_t timeout_ms, aox_msg **result, aox_work_info *info,
                        aox_err *err)
{
    return aox_workers_dry_run_ex(w, pid, msg, NULL, timeout_ms, result, info, err);
}

int aox_workers_snapshot(aox_workers *w, const char *pid, int *written, aox_err *err)
{
    /* aox_proc_snapshot takes the process's state lock, so it waits for (and never
     * races) the compute a pool thread may be running for pid; no queue needed. */
    return aox_proc_snapshot(w->o.procs, pid, written, err);
}

int aox_workers_dry_run_ex(aox_workers *w, const char *pid, const aox_msg *msg,
                           const aox_dry_run_opts *opts, uint64_t timeout_ms,
                           aox_msg **result, aox_work_info *info, aox_err *err)
{
    aox_work_info dummy;
    job *j;
    int64_t start, deadline;
    uint64_t cur = 0;
    int rc;

    *result = NULL;
    if (!info) info = &dummy;
    memset(info, 0, sizeof *info);
    rc = aox_proc_current_slot(w->o.procs, pid, &cur, err);   /* 404 before queueing */
    if (rc) return rc;
    j = job_new(JOB_DRY, pid);
    if (!j || !(j->msg = aox_msg_clone(msg)) ||
        (opts && opts->message_id && !(j->msg_id = strdup(opts->message_id)))) {
        job_free(j);
        return aox_err_set(err, AOX_E_NOMEM, "out of memory");
    }
    start = mono_ms();
    deadline = start + (int64_t)(timeout_ms ? timeout_ms : w->o.await_ms);
    pthread_mutex_lock(&w->mu);
    if (w->stop || w->ro_len >= w->o.ro_queue_max) {
        rc = busy(w, info, &w->c.busy_ro, err, "the read-only queue is full (%s: %llu "
                  "requests)", pid, (unsigned long long)w->ro_len);
        goto out;
    }
    if (w->ro_tail) w->ro_tail->next = j;
    else w->ro_head = j;
    w->ro_tail = j;
    w->ro_len++;
    pthread_cond_signal(&w->ro_cv);
    info->queued = 1;
    return await_job(w, j, pid, cur + 1, "a dry run at", start, deadline, result, info, err);
out:
    pthread_mutex_unlock(&w->mu);
    job_free(j);
    return rc;
}
