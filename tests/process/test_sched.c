/*
 * tests/process/test_sched.c: the scheduler on the memory store — spawn (slot 0),
 * dense slots, the hash chain recomputed independently, lookup by message ID,
 * idempotent re-schedule, unknown pid, oversize messages, unregistered devices,
 * concurrency (4 threads x 250 schedules), and content-addressed modules.
 */
#include <pthread.h>

#include "proctest.h"

static aox_store *st;

/* chain_n = SHA-256(chain_{n-1} || digest(message-id_n)); chain_0 uses digest(pid). */
static void next_chain(const uint8_t prev[32], const char *msg_id, uint8_t out[32])
{
    uint8_t h[32];
    REQUIRE(aox_id_to_hash(msg_id, h) == AOX_OK);
    aox_sha256_2(prev, 32, h, 32, out);
}

static int chain_is(const aox_msg *a, const uint8_t want[32])
{
    const char *c = aox_msg_get_str(a, "hash-chain", NULL);
    char w[44];
    aox_id_from_hash(want, w);
    return c && strcmp(c, w) == 0;
}

static void test_spawn(void)
{
    aox_procs *p = pt_open(st, 0, 0);
    aox_msg *def = pt_def("test-counter@1.0", 1), *a = NULL, *a2 = NULL, *got = NULL;
    char pid[44], id[44], pid2[44];
    uint8_t h[32], chain[32];
    aox_err err = {0};
    uint64_t cur = 99;
    int64_t v;

    CHECK_RC(aox_proc_spawn(p, def, pid, &a, &err), AOX_OK);
    REQUIRE(a);
    aox_msg_id(def, id);
    CHECK(strcmp(pid, id) == 0);
    CHECK(aox_msg_get_int(a, "slot", &v) == AOX_OK && v == 0);
    CHECK(aox_msg_get_int(a, "timestamp", &v) == AOX_OK && v == PT_CLOCK_MS);
    CHECK(aox_msg_get_int(a, "block-height", &v) == AOX_OK && v == 7);
    CHECK(strcmp(aox_msg_get_str(a, "process", NULL), pid) == 0);
    CHECK(strcmp(aox_msg_get_str(a, "message-id", NULL), pid) == 0);
    CHECK(aox_msg_equal(aox_msg_get_msg(a, "body"), def));
    aox_id_to_hash(pid, h);
    aox_sha256_2(h, 32, h, 32, chain);
    CHECK(chain_is(a, chain));

    /* idempotent */
    CHECK_RC(aox_proc_spawn(p, def, pid2, &a2, &err), AOX_OK);
    CHECK(strcmp(pid, pid2) == 0 && a2 && aox_msg_equal(a, a2));
    CHECK_RC(aox_proc_current_slot(p, pid, &cur, &err), AOX_OK);
    CHECK(cur == 0);
    CHECK_RC(aox_proc_definition(p, pid, &got, &err), AOX_OK);
    CHECK(got && aox_msg_equal(got, def));
    aox_msg_free(got);
    aox_msg_free(a);
    aox_msg_free(a2);
    aox_msg_free(def);

    /* an unregistered device is refused, naming it */
    def = pt_def("martian@0.1", 1);
    CHECK_RC(aox_proc_spawn(p, def, pid, NULL, &err), AOX_E_INVALID);
    CHECK(strstr(err.msg, "martian@0.1") != NULL);
    aox_msg_free(def);
    aox_procs_close(p);
}

static void test_schedule(void)
{
    aox_procs *p = pt_open(st, 0, 0);
    char pid[44], ids[4][44], unknown[44];
    aox_msg *msgs[4], *a = NULL, *again = NULL;
    uint8_t chain[32], h[32];
    aox_err err = {0};
    uint64_t slot, cur;

    pt_spawn(p, "test-counter@1.0", 2, pid);
    aox_id_to_hash(pid, h);
    aox_sha256_2(h, 32, h, 32, chain);
    for (int i = 1; i <= 3; i++) {
        int64_t v;
        msgs[i] = pt_msg(i, NULL);
        aox_msg_id(msgs[i], ids[i]);
        CHECK_RC(aox_proc_schedule(p, pid, msgs[i], &a, &err), AOX_OK);
        REQUIRE(a);
        CHECK(aox_msg_get_int(a, "slot", &v) == AOX_OK && v == i);
        CHECK(strcmp(aox_msg_get_str(a, "message-id", NULL), ids[i]) == 0);
        CHECK(aox_msg_equal(aox_msg_get_msg(a, "body"), msgs[i]));
        CHECK(strcmp(aox_msg_get_str(a, "process", NULL), pid) == 0);
        next_chain(chain, ids[i], chain);
        CHECK(chain_is(a, chain));
        aox_msg_free(a);
        a = NULL;
    }
    /* re-scheduling message 2 returns its assignment, nothing new is assigned */
    CHECK_RC(aox_proc_schedule(p, pid, msgs[2], &again, &err), AOX_OK);
    CHECK_RC(aox_proc_assignment(p, pid, 2, &a, &err), AOX_OK);
    CHECK(again && a && aox_msg_equal(again, a));
    aox_msg_free(a);
    aox_msg_free(again);
    CHECK_RC(aox_proc_current_slot(p, pid, &cur, &err), AOX_OK);
    CHECK(cur == 3);

    /* lookups */
    CHECK_RC(aox_proc_slot_of_message(p, pid, ids[3], &slot, &err), AOX_OK);
    CHECK(slot == 3);
    CHECK_RC(aox_proc_slot_of_message(p, pid, pid, &slot, &err), AOX_OK);
    CHECK(slot == 0);
    memset(unknown, 'Q', 43);
    unknown[43] = 0;
    CHECK_RC(aox_proc_slot_of_message(p, pid, unknown, &slot, &err), AOX_E_NOT_FOUND);
    CHECK_RC(aox_proc_slot_of_message(p, pid, "short", &slot, &err), AOX_E_INVALID);
    CHECK_RC(aox_proc_assignment(p, pid, 4, &a, &err), AOX_E_NOT_FOUND);

    /* unknown and malformed pids */
    CHECK_RC(aox_proc_schedule(p, unknown, msgs[1], NULL, &err), AOX_E_NOT_FOUND);
    CHECK_RC(aox_proc_schedule(p, "not-a-pid", msgs[1], NULL, &err), AOX_E_INVALID);
    CHECK_RC(aox_proc_current_slot(p, unknown, &cur, &err), AOX_E_NOT_FOUND);
    for (int i = 1; i <= 3; i++)
        aox_msg_free(msgs[i]);
    aox_procs_close(p);
}

static int collect(void *ud, const aox_msg *a)
{
    int64_t *slots = ud, v = -1;
    aox_msg_get_int(a, "slot", &v);
    slots[++slots[0]] = v;
    return slots[0] == 3 ? 1 : 0;          /* stop after three */
}

static void test_assignments_range(void)
{
    aox_procs *p = pt_open(st, 0, 0);
    char pid[44];
    int64_t slots[16] = {0};
    aox_err err = {0};

    pt_spawn(p, "test-counter@1.0", 3, pid);
    for (int i = 1; i <= 5; i++)
        pt_schedule(p, pid, pt_msg(i, NULL));
    CHECK_RC(aox_proc_assignments(p, pid, 2, 100, collect, slots, &err), AOX_OK);
    CHECK(slots[0] == 3 && slots[1] == 2 && slots[2] == 3 && slots[3] == 4);
    memset(slots, 0, sizeof slots);
    CHECK_RC(aox_proc_assignments(p, pid, 4, 100, collect, slots, &err), AOX_OK);
    CHECK(slots[0] == 2 && slots[1] == 4 && slots[2] == 5);
    memset(slots, 0, sizeof slots);
    CHECK_RC(aox_proc_assignments(p, pid, 6, 100, collect, slots, &err), AOX_OK);
    CHECK(slots[0] == 0);
    aox_procs_close(p);
}

static int64_t backwards_now = PT_CLOCK_MS;
static int64_t backwards_clock(void *ud) { (void)ud; return backwards_now -= 1000; }

static void test_limits_and_clock(void)
{
    aox_procs_opts o;
    aox_procs *p = NULL;
    aox_msg *big, *a = NULL;
    char pid[44];
    aox_err err = {0};
    uint64_t cur;
    int64_t t1 = 0, t2 = 0;
    uint8_t blob[600];

    memset(&o, 0, sizeof o);
    o.store = st;
    o.clock_ms = backwards_clock;
    o.max_limits.message_bytes = 512;
    REQUIRE(aox_procs_open(&o, &p, &err) == AOX_OK);
    pt_spawn(p, "test-counter@1.0", 4, pid);
    memset(blob, 'x', sizeof blob);
    big = pt_msg(1, NULL);
    aox_msg_set_bytes(big, "data", blob, sizeof blob);
    CHECK_RC(aox_proc_schedule(p, pid, big, NULL, &err), AOX_E_TOO_LARGE);
    CHECK_RC(aox_proc_current_slot(p, pid, &cur, &err), AOX_OK);
    CHECK(cur == 0);
    aox_msg_free(big);
    /* a definition over the limit is refused too */
    big = pt_def("test-counter@1.0", 5);
    aox_msg_set_bytes(big, "data", blob, sizeof blob);
    CHECK_RC(aox_proc_spawn(p, big, pid, NULL, &err), AOX_E_TOO_LARGE);
    aox_msg_free(big);

    /* a clock that runs backwards never makes timestamps go backwards */
    pt_spawn(p, "test-counter@1.0", 6, pid);
    big = pt_msg(1, NULL);
    CHECK_RC(aox_proc_schedule(p, pid, big, &a, &err), AOX_OK);
    aox_msg_get_int(a, "timestamp", &t1);
    aox_msg_free(a);
    aox_msg_free(big);
    big = pt_msg(2, NULL);
    CHECK_RC(aox_proc_schedule(p, pid, big, &a, &err), AOX_OK);
    aox_msg_get_int(a, "timestamp", &t2);
    aox_msg_free(a);
    aox_msg_free(big);
    CHECK(t2 >= t1);
    aox_procs_close(p);
}

typedef struct worker {
    aox_procs *p;
    const char *pid;
    int base;
    uint64_t slots[250];
} worker;

static void *sched_worker(void *ud)
{
    worker *w = ud;
    for (int i = 0; i < 250; i++)
        w->slots[i] = pt_schedule(w->p, w->pid, pt_msg(w->base + i, NULL));
    return NULL;
}

static int64_t ts_of(const aox_msg *a) { int64_t v = 0; aox_msg_get_int(a, "timestamp", &v); return v; }

typedef struct verify_ctx {
    uint8_t chain[32];
    uint64_t next;
    int bad;
    aox_procs *p;
    const char *pid;
} verify_ctx;

static int verify_one(void *ud, const aox_msg *a)
{
    verify_ctx *c = ud;
    int64_t slot = -1;
    uint64_t looked = 0;
    const char *id = aox_msg_get_str(a, "message-id", NULL);
    char body_id[44];
    aox_msg_get_int(a, "slot", &slot);
    if ((uint64_t)slot != c->next || !id)
        c->bad++;
    else {
        aox_msg_id(aox_msg_get_msg(a, "body"), body_id);
        if (strcmp(body_id, id) != 0)
            c->bad++;
        next_chain(c->chain, id, c->chain);
        if (!chain_is(a, c->chain))
            c->bad++;
        if (aox_proc_slot_of_message(c->p, c->pid, id, &looked, NULL) || looked != c->next)
            c->bad++;
        (void)ts_of(a);
    }
    c->next++;
    return 0;
}

static void test_concurrent(void)
{
    aox_procs *p = pt_open(st, 0, 0);
    char pid[44];
    worker w[4];
    pthread_t th[4];
    static uint8_t seen[1001];
    uint64_t cur;
    verify_ctx vc;
    uint8_t h[32];

    pt_spawn(p, "test-counter@1.0", 7, pid);
    for (int t = 0; t < 4; t++) {
        w[t].p = p;
        w[t].pid = pid;
        w[t].base = 100000 * (t + 1);
        REQUIRE(pthread_create(&th[t], NULL, sched_worker, &w[t]) == 0);
    }
    for (int t = 0; t < 4; t++)
        pthread_join(th[t], NULL);
    memset(seen, 0, sizeof seen);
    for (int t = 0; t < 4; t++)
        for (int i = 0; i < 250; i++) {
            uint64_t s = w[t].slots[i];
            CHECK(s >= 1 && s <= 1000);
            if (s >= 1 && s <= 1000) {
                CHECK(!seen[s]);
                seen[s] = 1;
            }
            if (i > 0)
                CHECK(s > w[t].slots[i - 1]);      /* one thread's messages stay in order */
        }
    CHECK_RC(aox_proc_current_slot(p, pid, &cur, NULL), AOX_OK);
    CHECK(cur == 1000);

    /* the whole chain, recomputed from the assignments alone */
    memset(&vc, 0, sizeof vc);
    vc.p = p;
    vc.pid = pid;
    aox_id_to_hash(pid, h);
    aox_sha256_2(h, 32, h, 32, vc.chain);
    vc.next = 1;
    CHECK_RC(aox_proc_assignments(p, pid, 1, 1000, verify_one, &vc, NULL), AOX_OK);
    CHECK(vc.bad == 0 && vc.next == 1001);
    aox_procs_close(p);
}

static void test_modules(void)
{
    char id1[44], id2[44];
    aox_buf b = {0};
    aox_err err = {0};
    uint8_t h[32];
    char want[44];

    CHECK_RC(aox_module_put(st, "print('hi')", 11, id1, &err), AOX_OK);
    aox_sha256("print('hi')", 11, h);
    aox_id_from_hash(h, want);
    CHECK(strcmp(id1, want) == 0);
    CHECK_RC(aox_module_put(st, "print('hi')", 11, id2, &err), AOX_OK);
    CHECK(strcmp(id1, id2) == 0);
    CHECK_RC(aox_module_get(st, id1, &b, &err), AOX_OK);
    CHECK(b.len == 11 && memcmp(b.data, "print('hi')", 11) == 0);
    memset(want, 'A', 43);
    CHECK_RC(aox_module_get(st, want, &b, &err), AOX_E_NOT_FOUND);
    CHECK_RC(aox_module_get(st, "../etc", &b, &err), AOX_E_INVALID);
    aox_buf_free(&b);
}

typedef struct spawner { aox_procs *p; char pid[44]; int rc; } spawner;

static void *spawn_worker(void *ud)
{
    spawner *w = ud;
    aox_msg *d = pt_def("test-counter@1.0", 99);
    w->rc = aox_proc_spawn(w->p, d, w->pid, NULL, NULL);
    aox_msg_free(d);
    return NULL;
}

/* Concurrent spawns of one definition: one process, slot 0 once. */
static void test_concurrent_spawn(void)
{
    aox_procs *p = pt_open(st, 0, 0);
    spawner w[4];
    pthread_t th[4];
    uint64_t cur = 9;
    for (int i = 0; i < 4; i++) {
        w[i].p = p;
        REQUIRE(pthread_create(&th[i], NULL, spawn_worker, &w[i]) == 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 4; i++)
        CHECK(w[i].rc == AOX_OK && strcmp(w[i].pid, w[0].pid) == 0);
    CHECK_RC(aox_proc_current_slot(p, w[0].pid, &cur, NULL), AOX_OK);
    CHECK(cur == 0);
    {
        aox_procs_stats ps;
        aox_procs_stats_get(p, &ps);
        CHECK(ps.assignments == 1);
    }
    aox_procs_close(p);
}

int main(void)
{
    pt_register();
    st = pt_memory();
    PT_RUN(test_spawn);
    PT_RUN(test_schedule);
    PT_RUN(test_assignments_range);
    PT_RUN(test_limits_and_clock);
    PT_RUN(test_concurrent);
    PT_RUN(test_concurrent_spawn);
    PT_RUN(test_modules);
    aox_store_close(st);
    PT_DONE();
}
