/*
 * process/procs.c: the process manager — the table of per-process entries (definition,
 * device, limits, locks, cached schedule tail, live device state), the LRU of live
 * states, and clean shutdown.
 *
 * Entries are created on first use (loading the definition from the store) and live
 * until aox_procs_close. Live device states are bounded by live_states_max: the least
 * recently used is snapshotted (if ahead of its last snapshot) and dropped.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/id.h"
#include "core/log.h"
#include "process/proc_int.h"

static int64_t real_clock_ms(void *ud)
{
    struct timespec ts;
    (void)ud;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int aox_procs_open(const aox_procs_opts *opts, aox_procs **out, aox_err *err)
{
    aox_procs *p;
    *out = NULL;
    if (!opts || !opts->store)
        return aox_err_set(err, AOX_E_INVALID, "aox_procs_open: a store is required");
    p = calloc(1, sizeof *p);
    if (!p)
        return aox_err_set(err, AOX_E_NOMEM, "aox_procs_open: out of memory");
    p->opts = *opts;
    p->store = opts->store;
    if (!p->opts.snapshot_every)
        p->opts.snapshot_every = 64;
    if (!p->opts.live_states_max)
        p->opts.live_states_max = 1024;
    if (!p->opts.clock_ms)
        p->opts.clock_ms = real_clock_ms;
    pthread_mutex_init(&p->mu, NULL);
    pthread_mutex_init(&p->spawn_mu, NULL);
    pthread_mutex_init(&p->watch_mu, NULL);
    proc_gc_init(p);
    {
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&p->watch_cv, &ca);
        pthread_condattr_destroy(&ca);
    }
    *out = p;
    return AOX_OK;
}

aox_store *aox_procs_store(aox_procs *p)
{
    return p->store;
}

#define LOAD(f) atomic_load_explicit(&p->f, memory_order_relaxed)
void aox_procs_stats_get(aox_procs *p, aox_procs_stats *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&p->mu);
    out->processes = p->nentries;
    out->live_states = p->live_count;
    pthread_mutex_unlock(&p->mu);
    out->assignments = LOAD(n_assign);
    out->slots_computed = LOAD(n_computed);
    out->cache_hits = LOAD(n_hits);
    out->guest_errors = LOAD(n_guest);
    out->node_faults = LOAD(n_faults);
    out->snapshots = LOAD(n_snaps);
    out->snapshot_page_bytes = LOAD(n_snap_bytes);
    out->evictions = LOAD(n_evict);
    out->group_commits = LOAD(n_groups);
    out->limit_result_bytes = LOAD(n_limit_result);
    out->limit_message_bytes = LOAD(n_limit_message);
    out->wall_timeouts = LOAD(n_timeouts);
    out->worker_crashes = LOAD(n_crashes);
    out->worker_crash_retries = LOAD(n_crash_retries);
}
#undef LOAD

/* ------------------------------------------------------------------ limits */

static uint64_t cap(uint64_t want, uint64_t max)
{
    if (!max)
        return want;
    if (!want || want > max)
        return max;
    return want;
}

void proc_limits_of(const aox_procs *p, const aox_msg *def, aox_limits *out)
{
    const aox_limits *max = &p->opts.max_limits;
    int64_t v;
    *out = *max;
    /* ao's definition tags: Memory-Limit (bytes), Compute-Limit (fuel per message).
     * Values that are not plain integers are ignored (the node maximum applies). */
    if (aox_msg_get_int(def, "memory-limit", &v) == AOX_OK && v > 0)
        out->memory_bytes = cap((uint64_t)v, max->memory_bytes);
    if (aox_msg_get_int(def, "compute-limit", &v) == AOX_OK && v > 0)
        out->fuel_per_message = cap((uint64_t)v, max->fuel_per_message);
    /* aox's own (added with the worker layer): wall ms per message, encoded result
     * bytes per slot, encoded message bytes per schedule — each only lowers the
     * node maximum. */
    if (aox_msg_get_int(def, "wall-limit", &v) == AOX_OK && v > 0)
        out->wall_ms = cap((uint64_t)v, max->wall_ms);
    if (aox_msg_get_int(def, "result-limit", &v) == AOX_OK && v > 0)
        out->result_bytes = cap((uint64_t)v, max->result_bytes);
    if (aox_msg_get_int(def, "message-limit", &v) == AOX_OK && v > 0)
        out->message_bytes = cap((uint64_t)v, max->message_bytes);
}

/* ------------------------------------------------------------------ entries */

static size_t bucket_of(const char *pid)
{
    uint64_t h = 1469598103934665603ull;               /* FNV-1a */
    for (const char *c = pid; *c; c++)
        h = (h ^ (uint8_t)*c) * 1099511628211ull;
    return (size_t)(h % PROC_BUCKETS);
}

static proc_entry *find_locked(aox_procs *p, const char *pid)
{
    for (proc_entry *e = p->buckets[bucket_of(pid)]; e; e = e->hnext)
        if (strcmp(e->pid, pid) == 0)
            return e;
    return NULL;
}

static void entry_free(proc_entry *e)
{
    if (!e)
        return;
    proc_run_clear(e, &e->live);
    aox_msg_free(e->def);
    pthread_mutex_destroy(&e->sched_mu);
    pthread_mutex_destroy(&e->state_mu);
    proc_act_destroy(e);
    free(e);
}

int proc_entry_get(aox_procs *p, const char *pid, proc_entry **out, aox_err *err)
{
    proc_entry *e, *other;
    aox_buf k = {0}, v = {0};
    const char *dev;
    int rc;

    *out = NULL;
    if (!pid || !aox_id_valid(pid))
        return aox_err_set(err, AOX_E_INVALID, "'%.64s' is not a process ID", pid ? pid : "");
    pthread_mutex_lock(&p->mu);
    e = find_locked(p, pid);
    if (e)
        e->refs++;
    pthread_mutex_unlock(&p->mu);
    if (e) {
        *out = e;
        return AOX_OK;
    }

    /* Load outside the table lock, then insert unless another thread won. */
    e = calloc(1, sizeof *e);
    if (!e)
        return aox_err_set(err, AOX_E_NOMEM, "out of memory");
    memcpy(e->pid, pid, AOX_ID_LEN + 1);
    pthread_mutex_init(&e->sched_mu, NULL);
    pthread_mutex_init(&e->state_mu, NULL);
    proc_act_init(e);
    rc = aox_key_proc(&k, pid, "def", AOX_KEY_NOSLOT);
    if (!rc)
        rc = aox_store_get(p->store, k.data, k.len, &v);
    if (rc == AOX_E_NOT_FOUND) {
        aox_err_set(err, rc, "process %s not found", pid);
        goto fail;
    }
    if (rc) {
        aox_err_set(err, rc, "cannot read the definition of %s", pid);
        goto fail;
    }
    rc = aox_msg_decode(v.data, v.len, &e->def, err);
    if (rc)
        goto fail;
    dev = aox_device_name_of(e->def);
    e->ops = aox_device_find(dev);
    if (!e->ops) {
        rc = aox_err_set(err, AOX_E_CONFIG, "process %s needs device '%s', which is not "
                         "registered on this node", pid, dev ? dev : "(none)");
        goto fail;
    }
    proc_limits_of(p, e->def, &e->limits);
    e->refs = 1;

    pthread_mutex_lock(&p->mu);
    other = find_locked(p, pid);
    if (other) {
        other->refs++;
    } else {
        size_t b = bucket_of(pid);
        e->hnext = p->buckets[b];
        p->buckets[b] = e;
        p->nentries++;
    }
    pthread_mutex_unlock(&p->mu);
    if (other) {
        entry_free(e);
        e = other;
    }
    aox_buf_free(&k);
    aox_buf_free(&v);
    *out = e;
    return AOX_OK;
fail:
    aox_buf_free(&k);
    aox_buf_free(&v);
    entry_free(e);
    return rc;
}

void proc_entry_put(aox_procs *p, proc_entry *e)
{
    if (!e)
        return;
    pthread_mutex_lock(&p->mu);
    e->refs--;
    pthread_mutex_unlock(&p->mu);
}

void proc_run_clear(proc_entry *e, proc_run *r)
{
    if (r->state)
        e->ops->free(r->state);
    r->state = NULL;
    r->at_slot = 0;
    r->snap_slot = 0;
    aox_buf_free(&r->base);
}

/* ------------------------------------------------------------------ LRU */

static void lru_unlink(aox_procs *p, proc_entry *e)
{
    if (e->lru_prev)
        e->lru_prev->lru_next = e->lru_next;
    else
        p->lru_head = e->lru_next;
    if (e->lru_next)
        e->lru_next->lru_prev = e->lru_prev;
    else
        p->lru_tail = e->lru_prev;
    e->lru_prev = e->lru_next = NULL;
    e->in_lru = 0;
    p->live_count--;
}

void proc_lru_touch(aox_procs *p, proc_entry *e)
{
    pthread_mutex_lock(&p->mu);
    if (e->in_lru)
        lru_unlink(p, e);
    if (e->live.state) {
        e->lru_next = p->lru_head;
        if (p->lru_head)
            p->lru_head->lru_prev = e;
        p->lru_head = e;
        if (!p->lru_tail)
            p->lru_tail = e;
        e->in_lru = 1;
        p->live_count++;
    }
    pthread_mutex_unlock(&p->mu);
}

static int ahead_of_snapshot(const proc_run *r)
{
    return r->state && r->at_slot > 0 && (r->base.len == 0 || r->snap_slot < r->at_slot);
}

void proc_lru_evict(aox_procs *p, proc_entry *keep)
{
    for (;;) {
        proc_entry *v;
        aox_err err = {0};

        pthread_mutex_lock(&p->mu);
        if (p->live_count <= p->opts.live_states_max) {
            pthread_mutex_unlock(&p->mu);
            return;
        }
        for (v = p->lru_tail; v && v == keep; v = v->lru_prev)
            ;
        if (v)
            v->refs++;
        pthread_mutex_unlock(&p->mu);
        if (!v)
            return;

        pthread_mutex_lock(&v->state_mu);
        if (ahead_of_snapshot(&v->live) && proc_snap_commit(p, v, &v->live, &err) != AOX_OK)
            aox_log(AOX_LOG_WARN, "snapshot_on_evict_failed", "\"pid\":\"%s\",\"code\":\"%s\"",
                    v->pid, aox_code_name(err.code));
        if (v->live.state)
            PROC_COUNT(p, n_evict, 1);
        proc_run_clear(v, &v->live);
        proc_lru_touch(p, v);
        pthread_mutex_unlock(&v->state_mu);
        proc_entry_put(p, v);
    }
}

/* ------------------------------------------------------------------ worker API */

int aox_proc_evict(aox_procs *p, const char *pid, int *freed, aox_err *err)
{
    proc_entry *e;
    int rc = proc_entry_get(p, pid, &e, err);
    if (freed)
        *freed = 0;
    if (rc)
        return rc;
    pthread_mutex_lock(&e->state_mu);
    if (ahead_of_snapshot(&e->live) && proc_snap_commit(p, e, &e->live, err) != AOX_OK) {
        rc = err && err->code ? err->code : AOX_E_IO;
        aox_log(AOX_LOG_WARN, "snapshot_on_evict_failed", "\"pid\":\"%s\",\"code\":\"%s\"",
                e->pid, aox_code_name(rc));
    }
    if (e->live.state) {
        PROC_COUNT(p, n_evict, 1);
        if (freed)
            *freed = 1;
    }
    proc_run_clear(e, &e->live);
    proc_lru_touch(p, e);
    pthread_mutex_unlock(&e->state_mu);
    proc_entry_put(p, e);
    return rc;
}

int aox_proc_snapshot(aox_procs *p, const char *pid, int *written, aox_err *err)
{
    proc_entry *e;
    int rc = proc_entry_get(p, pid, &e, err);
    if (written)
        *written = 0;
    if (rc)
        return rc;
    pthread_mutex_lock(&e->state_mu);
    if (ahead_of_snapshot(&e->live)) {
        rc = proc_snap_commit(p, e, &e->live, err);
        if (rc == AOX_OK) {
            if (written)
                *written = 1;
        } else if (rc != AOX_E_UNSUPPORTED) {
            proc_run_clear(e, &e->live);
            proc_lru_touch(p, e);
        }
    }
    pthread_mutex_unlock(&e->state_mu);
    proc_entry_put(p, e);
    return rc;
}

int aox_proc_live_info(aox_procs *p, const char *pid, aox_proc_live *out, aox_err *err)
{
    proc_entry *e;
    int rc = proc_entry_get(p, pid, &e, err);
    memset(out, 0, sizeof *out);
    if (rc)
        return rc;
    if (pthread_mutex_trylock(&e->state_mu) != 0) {
        proc_entry_put(p, e);
        return aox_err_set(err, AOX_E_BUSY, "process %s is computing", pid);
    }
    if (e->live.state) {
        out->live = 1;
        out->at_slot = e->live.at_slot;
        out->memory_bytes = e->ops->memory ? e->ops->memory(e->live.state) : 0;
    }
    pthread_mutex_unlock(&e->state_mu);
    proc_entry_put(p, e);
    return AOX_OK;
}

/* ------------------------------------------------------------------ watchdog */

/* Wall-clock limits (limits.wall_ms) are enforced through call->interrupt: one thread
 * per manager sleeps until the earliest deadline of the calls in flight and sets
 * their flags. The host clock only decides *when* to interrupt; what a device does
 * then is its own contract (a timeout should be a node fault, never a cached result,
 * since wall time is not deterministic). */
static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *watch_main(void *ud)
{
    aox_procs *p = ud;
    pthread_mutex_lock(&p->watch_mu);
    while (!p->watch_stop) {
        int64_t now = mono_ms(), next = now + 1000;
        struct timespec until;
        for (proc_watch *w = p->watch_head; w; w = w->next) {
            if (now >= w->deadline)
                atomic_store(&w->flag, 1);
            else if (w->deadline < next)
                next = w->deadline;
        }
        until.tv_sec = next / 1000;
        until.tv_nsec = (next % 1000) * 1000000;
        pthread_cond_timedwait(&p->watch_cv, &p->watch_mu, &until);
    }
    pthread_mutex_unlock(&p->watch_mu);
    return NULL;
}

void proc_watch_begin(aox_procs *p, proc_watch *w, uint64_t wall_ms)
{
    atomic_init(&w->flag, 0);
    w->listed = 0;
    w->prev = w->next = NULL;
    if (!wall_ms)
        return;
    w->deadline = mono_ms() + (int64_t)(wall_ms > INT32_MAX ? INT32_MAX : wall_ms);
    pthread_mutex_lock(&p->watch_mu);
    if (!p->watch_started && !p->watch_stop &&
        pthread_create(&p->watch_thread, NULL, watch_main, p) == 0)
        p->watch_started = 1;
    if (p->watch_started) {
        w->next = p->watch_head;
        if (p->watch_head)
            p->watch_head->prev = w;
        p->watch_head = w;
        w->listed = 1;
        pthread_cond_signal(&p->watch_cv);
    }
    pthread_mutex_unlock(&p->watch_mu);
}

void proc_watch_end(aox_procs *p, proc_watch *w)
{
    if (!w->listed)
        return;
    pthread_mutex_lock(&p->watch_mu);
    if (w->prev)
        w->prev->next = w->next;
    else
        p->watch_head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->listed = 0;
    pthread_mutex_unlock(&p->watch_mu);
}

/* ------------------------------------------------------------------ shutdown */

int aox_procs_snapshot_all(aox_procs *p, aox_err *err)
{
    proc_entry **list = NULL;
    size_t n = 0, capn = 0;
    int written = 0, rc = AOX_OK;

    pthread_mutex_lock(&p->mu);
    for (proc_entry *e = p->lru_head; e; e = e->lru_next) {
        if (n == capn) {
            size_t nc = capn ? capn * 2 : 16;
            proc_entry **nl = realloc(list, nc * sizeof *nl);
            if (!nl) {
                rc = AOX_E_NOMEM;
                break;
            }
            list = nl;
            capn = nc;
        }
        e->refs++;
        list[n++] = e;
    }
    pthread_mutex_unlock(&p->mu);

    for (size_t i = 0; i < n; i++) {
        proc_entry *e = list[i];
        aox_err e2 = {0};
        pthread_mutex_lock(&e->state_mu);
        if (ahead_of_snapshot(&e->live)) {
            int r2 = proc_snap_commit(p, e, &e->live, &e2);
            if (r2 == AOX_OK) {
                written++;
            } else {
                /* The state's page bookkeeping no longer matches its base: drop it. */
                proc_run_clear(e, &e->live);
                proc_lru_touch(p, e);
                if (rc == AOX_OK) {
                    rc = r2;
                    if (err)
                        *err = e2;
                }
            }
        }
        pthread_mutex_unlock(&e->state_mu);
        proc_entry_put(p, e);
    }
    free(list);
    if (rc) {
        if (err && err->code == AOX_OK)
            aox_err_set(err, rc, "snapshot_all: out of memory");
        return -rc;
    }
    return written;
}

void aox_procs_close(aox_procs *p)
{
    if (!p)
        return;
    (void)aox_procs_snapshot_all(p, NULL);
    for (size_t b = 0; b < PROC_BUCKETS; b++) {
        proc_entry *e = p->buckets[b];
        while (e) {
            proc_entry *next = e->hnext;
            entry_free(e);
            e = next;
        }
    }
    pthread_mutex_destroy(&p->mu);
    pthread_mutex_lock(&p->watch_mu);
    p->watch_stop = 1;
    pthread_cond_signal(&p->watch_cv);
    pthread_mutex_unlock(&p->watch_mu);
    if (p->watch_started)
        pthread_join(p->watch_thread, NULL);
    pthread_cond_destroy(&p->watch_cv);
    pthread_mutex_destroy(&p->watch_mu);
    pthread_mutex_destroy(&p->spawn_mu);
    proc_gc_destroy(p);
    free(p);
}
