/*
 * tests/node/test_workers.c: the worker layer (node/workers.h) and the resource
 * limits it relies on in process/: cached reads bypass the queues, each queue bound
 * answers AOX_E_BUSY with a Retry-After, the await deadline names the slot and the
 * computed slot, idle eviction, LRU eviction under the memory budget and under the
 * live-worker maximum, per-process limits (result, message, wall) from the
 * definition, and group commit keeping slots dense under concurrent schedules.
 *
 * Slow work comes from test-counter's `spin` action, which busy-waits until the
 * wall-clock limit interrupts it (a node fault: nothing is cached). Timeouts are
 * short (tens to hundreds of ms) so the whole file runs in a few seconds.
 */
#include <pthread.h>
#include <time.h>

#include <jansson.h>

#include "http/dispatch.h"
#include "node/workers.h"
#include "nodetest.h"
#include "proctest.h"

#define SPIN_MS 400

static aox_store *mem_store(void)
{
    aox_store *s = NULL;
    aox_err err = {0};
    REQUIRE(aox_store_open("memory:", NULL, &s, &err) == AOX_OK);
    return s;
}

/* A manager with a node wall limit of SPIN_MS (so spin ends) and optional limits. */
static aox_procs *open_procs(aox_store *s, uint64_t wall_ms)
{
    aox_procs_opts o;
    aox_procs *p = NULL;
    aox_err err = {0};
    memset(&o, 0, sizeof o);
    o.store = s;
    o.snapshot_every = 1000;
    o.clock_ms = pt_clock;
    o.max_limits.wall_ms = wall_ms;
    REQUIRE(aox_procs_open(&o, &p, &err) == AOX_OK);
    return p;
}

static aox_workers *open_workers(aox_workers_opts *o, aox_procs *p)
{
    aox_workers *w = NULL;
    aox_err err = {0};
    o->procs = p;
    REQUIRE(aox_workers_open(o, &w, &err) == AOX_OK);
    return w;
}

static void spawn_def(aox_procs *p, aox_msg *d, char pid[44])
{
    aox_err err = {0};
    int rc = aox_proc_spawn(p, d, pid, NULL, &err);
    if (rc) fprintf(stderr, "spawn: %s\n", err.msg);
    REQUIRE(rc == AOX_OK);
    aox_msg_free(d);
}

/* Waits (up to 5 s) until f(stats) holds. */
#define WAIT_UNTIL(w, cond) do { \
    for (int i_ = 0; i_ < 500; i_++) { \
        aox_workers_stats ws = nt_stats(w); \
        if (cond) \
            break; \
        nt_sleep_ms(10); \
    } } while (0)

/* A compute call on its own thread. */
typedef struct call {
    aox_workers  *w;
    char          pid[44];
    uint64_t      slot;
    uint64_t      timeout_ms;
    int           dry;
    int           rc;
    aox_work_info info;
    pthread_t     t;
} call;

static void *call_main(void *ud)
{
    call *c = ud;
    aox_msg *r = NULL;
    aox_err err = {0};
    if (c->dry) {
        aox_msg *m = pt_msg(99, "spin");
        c->rc = aox_workers_dry_run(c->w, c->pid, m, c->timeout_ms, &r, &c->info, &err);
        aox_msg_free(m);
    } else {
        c->rc = aox_workers_compute(c->w, c->pid, c->slot, c->timeout_ms, &r, &c->info, &err);
    }
    aox_msg_free(r);
    return NULL;
}

static void start(call *c, aox_workers *w, const char *pid, uint64_t slot, int dry)
{
    memset(c, 0, sizeof *c);
    c->w = w;
    memcpy(c->pid, pid, 44);
    c->slot = slot;
    c->timeout_ms = 10000;
    c->dry = dry;
    REQUIRE(pthread_create(&c->t, NULL, call_main, c) == 0);
}

/* ------------------------------------------------------------------------ */

static void test_cached_bypass(void)
{
    aox_store *s = mem_store();
    aox_procs *p = open_procs(s, 0);
    aox_workers_opts o = {0};
    aox_workers *w;
    char pid[44];
    aox_msg *r = NULL;
    aox_work_info info;
    aox_err err = {0};

    o.threads = 2;
    w = open_workers(&o, p);
    pt_spawn(p, "test-counter@1.0", 1, pid);
    for (int i = 1; i <= 5; i++) pt_schedule(p, pid, pt_msg(i, NULL));
    CHECK_RC(aox_workers_compute(w, pid, 5, 0, &r, &info, &err), AOX_OK);
    CHECK(info.queued == 1 && !info.ci.cached && pt_counter(r) == 15);
    aox_msg_free(r);
    CHECK_RC(aox_workers_compute(w, pid, 3, 0, &r, &info, &err), AOX_OK);
    CHECK(info.queued == 0 && info.ci.cached == 1 && pt_counter(r) == 6);
    aox_msg_free(r);
    CHECK_RC(aox_workers_now(w, pid, 0, &r, &info, &err), AOX_OK);
    CHECK(info.queued == 0 && pt_counter(r) == 15);
    aox_msg_free(r);
    CHECK_RC(aox_workers_compute(w, pid, 9, 0, &r, &info, &err), AOX_E_NOT_YET);
    CHECK(nt_stats(w).direct_reads == 2 && nt_stats(w).jobs_run == 1 && nt_stats(w).workers == 1);
    aox_workers_close(w);
    aox_procs_close(p);
    aox_store_close(s);
}

/* The wait deadline: 504 naming the slot waited for and the computed slot. */
static void test_await_deadline(void)
{
    aox_store *s = mem_store();
    aox_procs *p = open_procs(s, SPIN_MS);
    aox_workers_opts o = {0};
    aox_workers *w;
    char pid[44];
    aox_msg *r = NULL;
    aox_work_info info;
    aox_err err = {0};

    o.threads = 1;
    w = open_workers(&o, p);
    pt_spawn(p, "test-counter@1.0", 2, pid);
    pt_schedule(p, pid, pt_msg(1, NULL));
    CHECK_RC(aox_workers_compute(w, pid, 1, 0, &r, NULL, &err), AOX_OK);
    aox_msg_free(r);
    pt_schedule(p, pid, pt_msg(2, "spin"));
    CHECK_RC(aox_workers_compute(w, pid, 2, 60, &r, &info, &err), AOX_E_TIMEOUT);
    CHECK(r == NULL && info.wait_slot == 2 && info.has_computed && info.computed_slot == 1);
    CHECK(info.waited_ms >= 50 && info.waited_ms < SPIN_MS);
    CHECK(strstr(err.msg, "slot 2") && strstr(err.msg, "computed slot is 1"));
    CHECK(nt_stats(w).await_timeouts == 1);
    /* the abandoned computation ends at the wall limit: a node fault, counted */
    WAIT_UNTIL(w, ws.jobs_run == 2);
    {
        aox_procs_stats ps;
        aox_procs_stats_get(p, &ps);
        CHECK(ps.wall_timeouts == 1 && ps.node_faults == 1);
    }
    aox_workers_close(w);
    aox_procs_close(p);
    aox_store_close(s);
}

/* Per-process queue, total queue and read-only queue bounds. */
static void test_queue_bounds(void)
{
    aox_store *s = mem_store();
    aox_procs *p = open_procs(s, SPIN_MS);
    aox_workers_opts o = {0};
    aox_workers *w;
    char a[44], b[44], c[44], d[44];
    aox_msg *r = NULL;
    aox_work_info info;
    aox_err err = {0};
    call running, queued_a, queued_b, dry1, dry2;

    o.threads = 1;
    o.queue_max = 1;
    o.queue_total_max = 2;
    o.ro_queue_max = 1;
    o.retry_after_s = 3;
    w = open_workers(&o, p);
    pt_spawn(p, "test-counter@1.0", 10, a);
    pt_spawn(p, "test-counter@1.0", 11, b);
    pt_spawn(p, "test-counter@1.0", 12, c);
    pt_spawn(p, "test-counter@1.0", 13, d);
    pt_schedule(p, a, pt_msg(1, "spin"));
    pt_schedule(p, a, pt_msg(2, NULL));
    pt_schedule(p, b, pt_msg(1, NULL));
    pt_schedule(p, c, pt_msg(1, NULL));

    start(&running, w, a, 1, 0);                 /* occupies the only pool thread */
    WAIT_UNTIL(w, ws.running == 1);
    start(&queued_a, w, a, 2, 0);                /* slot 2 of a: queued behind it */
    WAIT_UNTIL(w, ws.queued == 1);
    CHECK_RC(aox_workers_compute(w, a, 1, 0, &r, &info, &err), AOX_E_BUSY);
    CHECK(info.retry_after_s == 3 && strstr(err.msg, "queue of"));
    CHECK(nt_stats(w).busy_queue == 1);
    start(&queued_b, w, b, 1, 0);
    WAIT_UNTIL(w, ws.queued == 2);
    CHECK_RC(aox_workers_compute(w, c, 1, 0, &r, &info, &err), AOX_E_BUSY);
    CHECK(info.retry_after_s == 3 && nt_stats(w).busy_total == 1);

    /* read-only work has its own queue and threads: a dry run runs now */
    start(&dry1, w, d, 0, 1);
    WAIT_UNTIL(w, ws.ro_queued == 0 && ws.ro_jobs_run == 0);
    nt_sleep_ms(30);
    start(&dry2, w, d, 0, 1);
    WAIT_UNTIL(w, ws.ro_queued == 1);
    {
        aox_msg *m = pt_msg(5, NULL);
        CHECK_RC(aox_workers_dry_run(w, d, m, 0, &r, &info, &err), AOX_E_BUSY);
        aox_msg_free(m);
    }
    CHECK(nt_stats(w).busy_ro == 1);

    pthread_join(running.t, NULL);
    pthread_join(queued_a.t, NULL);
    pthread_join(queued_b.t, NULL);
    pthread_join(dry1.t, NULL);
    pthread_join(dry2.t, NULL);
    CHECK(running.rc == AOX_E_TIMEOUT);           /* spin: stopped at the wall limit */
    CHECK(queued_a.rc == AOX_E_TIMEOUT);          /* needs slot 1: spins again */
    CHECK(queued_b.rc == AOX_OK);
    CHECK(dry1.rc == AOX_E_TIMEOUT && dry2.rc == AOX_E_TIMEOUT);
    aox_workers_close(w);
    aox_procs_close(p);
    aox_store_close(s);
}

static void test_idle_eviction(void)
{
    aox_store *s = mem_store();
    aox_procs *p = open_procs(s, 0);
    aox_workers_opts o = {0};
    aox_workers *w;
    aox_procs_stats ps;
    char pid[44];
    aox_msg *r = NULL;
    aox_work_info info;
    aox_err err = {0};

    o.threads = 1;
    o.idle_ms = 40;
    w = open_workers(&o, p);
    pt_spawn(p, "test-counter@1.0", 20, pid);
    for (int i = 1; i <= 4; i++) pt_schedule(p, pid, pt_msg(i, NULL));
    CHECK_RC(aox_workers_compute(w, pid, 4, 0, &r, NULL, &err), AOX_OK);
    aox_msg_free(r);
    aox_procs_stats_get(p, &ps);
    CHECK(ps.live_states == 1);
    WAIT_UNTIL(w, ws.evict_idle == 1 && ws.workers == 0);
    CHECK(nt_stats(w).evict_idle == 1 && nt_stats(w).workers == 0);
    aox_procs_stats_get(p, &ps);
    CHECK(ps.live_states == 0 && ps.snapshots >= 1);    /* snapshotted before freeing */
    /* the next slot starts from that snapshot */
    pt_schedule(p, pid, pt_msg(5, NULL));
    CHECK_RC(aox_workers_compute(w, pid, 5, 0, &r, &info, &err), AOX_OK);
    CHECK(info.ci.started_from == 1 && info.ci.start_slot == 4 && pt_counter(r) == 15);
    aox_msg_free(r);
    aox_workers_close(w);
    aox_procs_close(p);
    aox_store_close(s);
}

/* Memory budget: live states over it evict the least recently used. */
static void test_memory_budget(void)
{
    aox_store *s = mem_store();
    aox_procs *p = open_procs(s, 0);
    aox_workers_opts o = {0};
    aox_workers *w;
    aox_workers_stats st;
    char pid[3][44];
    aox_msg *r = NULL;
    aox_err err = {0};

    o.threads = 1;
    o.memory_budget = 2 * 8 * 257 + 600;   /* about two states of 8 pages */
    w = open_workers(&o, p);
    for (int i = 0; i < 3; i++) {
        aox_msg *d = pt_def("test-counter@1.0", 30 + i);
        REQUIRE(aox_msg_set_int(d, "pages", 8) == AOX_OK);
        spawn_def(p, d, pid[i]);
        pt_schedule(p, pid[i], pt_msg(1, NULL));
    }
    for (int i = 0; i < 3; i++) {
        CHECK_RC(aox_workers_compute(w, pid[i], 1, 0, &r, NULL, &err), AOX_OK);
        aox_msg_free(r);
    }
    /* the pool thread evicts after answering: wait for it */
    WAIT_UNTIL(w, ws.evict_memory == 1 && ws.workers == 2);
    st = nt_stats(w);
    if (st.evict_memory != 1)
        fprintf(stderr, "  evict_memory %llu workers %llu live bytes %llu\n",
                (unsigned long long)st.evict_memory, (unsigned long long)st.workers,
                (unsigned long long)st.live_memory_bytes);
    CHECK(st.evict_memory == 1 && st.workers == 2);
    CHECK(st.live_memory_bytes > 0 && st.live_memory_bytes <= o.memory_budget);
    /* the evicted one was the least recently used: pid[0] */
    {
        aox_proc_live lv;
        CHECK_RC(aox_proc_live_info(p, pid[0], &lv, &err), AOX_OK);
        CHECK(lv.live == 0);
        CHECK_RC(aox_proc_live_info(p, pid[2], &lv, &err), AOX_OK);
        CHECK(lv.live == 1 && lv.at_slot == 1 && lv.memory_bytes > 8 * 256);
    }
    aox_workers_close(w);
    aox_procs_close(p);
    aox_store_close(s);
}

/* Live-worker maximum: idle ones are evicted to make room; if all are busy, 503. */
static void test_live_max(void)
{
    aox_store *s = mem_store();
    aox_procs *p = open_procs(s, SPIN_MS);
    aox_workers_opts o = {0};
    aox_workers *w;
    char a[44], b[44];
    aox_msg *r = NULL;
    aox_work_info info;
    aox_err err = {0};
    call spin;

    o.threads = 1;
    o.live_max = 1;
    w = open_workers(&o, p);
    pt_spawn(p, "test-counter@1.0", 40, a);
    pt_spawn(p, "test-counter@1.0", 41, b);
    pt_schedule(p, a, pt_msg(1, NULL));
    pt_schedule(p, b, pt_msg(1, NULL));
    pt_schedule(p, a, pt_msg(2, "spin"));
    CHECK_RC(aox_workers_compute(w, a, 1, 0, &r, NULL, &err), AOX_OK);
    aox_msg_free(r);
    CHECK_RC(aox_workers_compute(w, b, 1, 0, &r, NULL, &err), AOX_OK);   /* evicts a */
    aox_msg_free(r);
    CHECK(nt_stats(w).evict_live_max == 1 && nt_stats(w).workers == 1);
    start(&spin, w, a, 2, 0);                  /* evicts b, then spins */
    WAIT_UNTIL(w, ws.running == 1);
    CHECK_RC(aox_workers_compute(w, b, 0, 0, &r, &info, &err), AOX_OK);  /* cached: ok */
    aox_msg_free(r);
    pt_schedule(p, b, pt_msg(2, NULL));
    CHECK_RC(aox_workers_compute(w, b, 2, 0, &r, &info, &err), AOX_E_BUSY);
    CHECK(info.retry_after_s >= 1 && nt_stats(w).busy_live == 1);
    pthread_join(spin.t, NULL);
    CHECK(spin.rc == AOX_E_TIMEOUT);
    aox_workers_close(w);
    aox_procs_close(p);
    aox_store_close(s);
}

/* Per-process limits from the definition, capped by node maxima, enforced by the
 * process layer for every device. */
static void test_limits(void)
{
    aox_store *s = mem_store();
    aox_procs *p = open_procs(s, 0);
    aox_procs_stats ps;
    char pid[44], pid2[44];
    aox_msg *d, *m, *r = NULL, *a = NULL;
    aox_err err = {0};

    d = pt_def("test-counter@1.0", 50);
    REQUIRE(aox_msg_set_int(d, "result-limit", 600) == AOX_OK);
    REQUIRE(aox_msg_set_int(d, "message-limit", 300) == AOX_OK);
    spawn_def(p, d, pid);
    pt_schedule(p, pid, pt_msg(1, NULL));
    m = pt_msg(100, "big");                    /* the device allows 500 <= 600 bytes... */
    REQUIRE(aox_msg_set_int(m, "size", 500) == AOX_OK);
    pt_schedule(p, pid, m);
    pt_schedule(p, pid, pt_msg(2, NULL));
    r = pt_compute(p, pid, 2, NULL);          /* ...but the whole result is larger */
    CHECK(aox_result_is_error(r));
    {
        const aox_msg *e = aox_msg_get_msg(r, "error");
        const char *code = e ? aox_msg_get_str(e, "code", NULL) : NULL;
        CHECK(code && strcmp(code, "limit_exceeded") == 0);
    }
    aox_msg_free(r);
    r = pt_compute(p, pid, 3, NULL);
    CHECK(pt_counter(r) == 3);                 /* the oversized slot changed nothing */
    aox_msg_free(r);
    /* message limit */
    m = aox_msg_new();
    REQUIRE(m && aox_msg_set_str(m, "data", "0123456789012345678901234567890123456789"
            "0123456789012345678901234567890123456789012345678901234567890123456789"
            "0123456789012345678901234567890123456789012345678901234567890123456789"
            "0123456789012345678901234567890123456789012345678901234567890123456789"
            "0123456789012345678901234567890123456789012345678901234567890123456789")
            == AOX_OK);
    CHECK_RC(aox_proc_schedule(p, pid, m, &a, &err), AOX_E_TOO_LARGE);
    aox_msg_free(m);
    /* wall limit from the definition (no node maximum here) */
    d = pt_def("test-counter@1.0", 51);
    REQUIRE(aox_msg_set_int(d, "wall-limit", 30) == AOX_OK);
    spawn_def(p, d, pid2);
    pt_schedule(p, pid2, pt_msg(1, "spin"));
    CHECK_RC(aox_proc_compute(p, pid2, 1, &r, NULL, &err), AOX_E_TIMEOUT);
    aox_procs_stats_get(p, &ps);
    CHECK(ps.limit_result_bytes == 1 && ps.limit_message_bytes == 1 && ps.wall_timeouts == 1);
    /* a replay agrees: a fresh manager recomputes from init */
    aox_procs_close(p);
    p = open_procs(s, 0);
    pt_store_del(s, pid, "result", 3);
    pt_store_del(s, pid, "result", 1);
    r = pt_compute(p, pid, 3, NULL);
    CHECK(pt_counter(r) == 3);
    aox_msg_free(r);
    aox_procs_close(p);
    aox_store_close(s);
}

/* Group commit: many threads scheduling into few processes; slots stay dense,
 * every acknowledged assignment is durable, fewer commits than assignments. */
typedef struct sched_arg { aox_workers *w; char pid[44]; int base, n, rc; } sched_arg;

static void *sched_main(void *ud)
{
    sched_arg *a = ud;
    for (int i = 0; i < a->n && a->rc == 0; i++) {
        aox_msg *m = pt_msg(a->base + i, NULL), *asg = NULL;
        aox_err err = {0};
        a->rc = aox_workers_schedule(a->w, a->pid, m, &asg, NULL, &err);
        aox_msg_free(asg);
        aox_msg_free(m);
    }
    return NULL;
}

static void test_group_commit(void)
{
    char dir[64], uri[80], pid[2][44];
    aox_store *s = NULL;
    aox_procs *p;
    aox_workers_opts o = {0};
    aox_workers *w;
    aox_procs_stats ps;
    aox_err err = {0};
    sched_arg args[8];
    pthread_t t[8];

    pt_tmpdir(dir, sizeof dir);
    snprintf(uri, sizeof uri, "lmdb:%s", dir);
    REQUIRE(aox_store_open(uri, NULL, &s, &err) == AOX_OK);
    p = open_procs(s, 0);
    o.threads = 1;
    w = open_workers(&o, p);
    pt_spawn(p, "test-counter@1.0", 60, pid[0]);
    pt_spawn(p, "test-counter@1.0", 61, pid[1]);
    for (int i = 0; i < 8; i++) {
        args[i].w = w;
        memcpy(args[i].pid, pid[i % 2], 44);
        args[i].base = 1000 * (i + 1);
        args[i].n = 25;
        args[i].rc = 0;
        REQUIRE(pthread_create(&t[i], NULL, sched_main, &args[i]) == 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        CHECK(args[i].rc == AOX_OK);
    }
    aox_procs_stats_get(p, &ps);
    CHECK(ps.assignments == 202);
    CHECK(ps.group_commits < ps.assignments);
    fprintf(stderr, "  group commit: %llu assignments in %llu commits\n",
            (unsigned long long)ps.assignments, (unsigned long long)ps.group_commits);
    aox_workers_close(w);
    aox_procs_close(p);
    aox_store_close(s);
    /* reopen: both processes have slots 0..100, each counted message once */
    REQUIRE(aox_store_open(uri, NULL, &s, &err) == AOX_OK);
    p = open_procs(s, 0);
    for (int k = 0; k < 2; k++) {
        uint64_t cur = 0;
        aox_msg *r;
        int64_t want = 0;
        CHECK_RC(aox_proc_current_slot(p, pid[k], &cur, &err), AOX_OK);
        CHECK(cur == 100);
        for (int i = k; i < 8; i += 2)
            for (int j = 0; j < 25; j++) want += 1000 * (i + 1) + j;
        r = pt_compute(p, pid[k], 100, NULL);
        CHECK(pt_counter(r) == want);
        aox_msg_free(r);
    }
    aox_procs_close(p);
    aox_store_close(s);
    pt_rmdir(dir);
}

/* The HTTP answers through aox_http_dispatch with the workers in the ctx: 504 with
 * the slot waited for and the computed slot, 503 with a Retry-After. */
typedef struct kv { const char *slot, *timeout; } kv;

static const char *kv_get(void *ud, const char *key)
{
    kv *q = ud;
    if (strcmp(key, "slot") == 0) return q->slot;
    if (strcmp(key, "timeout") == 0) return q->timeout;
    return NULL;
}

static json_t *get_compute(const aox_http_ctx *ctx, const char *pid, const char *slot,
                           const char *timeout, aox_http_response *resp)
{
    char path[128];
    kv q = { slot, timeout };
    aox_http_request req = { "GET", path, kv_get, &q, NULL, 0 };
    json_error_t je;
    snprintf(path, sizeof path, "/%s/compute", pid);
    memset(resp, 0, sizeof *resp);
    (void)aox_http_dispatch(ctx, &req, resp);
    return json_loadb((const char *)resp->body.data, resp->body.len, 0, &je);
}

static void test_http_answers(void)
{
    static const aox_http_workers_api api = {
        .compute = aox_workers_compute, .now = aox_workers_now,
        .result_by_message = aox_workers_result_by_message,
        .schedule = aox_workers_schedule, .dry_run = aox_workers_dry_run_ex,
        .snapshot = aox_workers_snapshot,
    };
    aox_store *s = mem_store();
    aox_procs *p = open_procs(s, SPIN_MS);
    aox_workers_opts o = {0};
    aox_workers *w;
    aox_http_ctx ctx;
    aox_http_response resp;
    char a[44];
    json_t *j;
    call queued;

    o.threads = 1;
    o.queue_max = 1;
    o.retry_after_s = 2;
    w = open_workers(&o, p);
    memset(&ctx, 0, sizeof ctx);
    ctx.procs = p;
    ctx.page_max = 100;
    ctx.workers = w;
    ctx.wapi = &api;
    pt_spawn(p, "test-counter@1.0", 70, a);
    pt_schedule(p, a, pt_msg(1, "spin"));
    pt_schedule(p, a, pt_msg(2, NULL));

    j = get_compute(&ctx, a, "1", "50", &resp);
    CHECK(resp.status == 504 && j);
    if (j) {
        json_t *e = json_object_get(j, "error");
        CHECK(json_integer_value(json_object_get(e, "slot")) == 1);
        CHECK(json_integer_value(json_object_get(e, "computed")) == 0);
        CHECK(strcmp(json_string_value(json_object_get(e, "code")), "timeout") == 0);
    }
    json_decref(j);
    aox_http_response_free(&resp);
    /* the abandoned computation still runs; one request may queue behind it */
    start(&queued, w, a, 2, 0);
    WAIT_UNTIL(w, ws.queued == 1);
    j = get_compute(&ctx, a, "2", NULL, &resp);
    CHECK(resp.status == 503 && resp.retry_after == 2 && j);
    if (j)
        CHECK(strcmp(json_string_value(json_object_get(json_object_get(j, "error"), "code")),
                     "busy") == 0);
    json_decref(j);
    aox_http_response_free(&resp);
    j = get_compute(&ctx, a, "0", NULL, &resp);           /* cached: never queued */
    CHECK(resp.status == 200 && resp.retry_after == 0);
    json_decref(j);
    aox_http_response_free(&resp);
    pthread_join(queued.t, NULL);
    aox_workers_close(w);
    aox_procs_close(p);
    aox_store_close(s);
}

int main(void)
{
    pt_register();
    PT_RUN(test_cached_bypass);
    PT_RUN(test_await_deadline);
    PT_RUN(test_queue_bounds);
    PT_RUN(test_idle_eviction);
    PT_RUN(test_memory_budget);
    PT_RUN(test_live_max);
    PT_RUN(test_limits);
    PT_RUN(test_group_commit);
    PT_RUN(test_http_answers);
    PT_DONE();
}
