/*
 * tests/process/test_live.c: live states — the LRU bound (evicted states are
 * snapshotted and later restored), concurrent compute and schedule on one process,
 * and a stack@1.0 process through the whole loop.
 */
#include <pthread.h>

#include "proctest.h"

static aox_store *st;

static void test_lru(void)
{
    aox_procs *p = pt_open(st, 0, 2);
    aox_compute_info info;
    char pid[4][44];

    for (int i = 0; i < 4; i++) {
        pt_spawn(p, "counting@1.0", 100 + i, pid[i]);
        for (int j = 1; j <= 3; j++)
            pt_schedule(p, pid[i], pt_msg(j, NULL));
        aox_msg_free(pt_compute(p, pid[i], 3, NULL));
    }
    /* the two least recently used were evicted with a snapshot at slot 3 */
    CHECK(pt_store_has(st, pid[0], "snap", 3));
    CHECK(pt_store_has(st, pid[1], "snap", 3));
    CHECK(!pt_store_has(st, pid[2], "snap", 3));
    CHECK(!pt_store_has(st, pid[3], "snap", 3));
    pt_schedule(p, pid[0], pt_msg(4, NULL));
    pt_reset_counts();
    {
        aox_msg *r = pt_compute(p, pid[0], 4, &info);
        CHECK(info.started_from == 1 && info.start_slot == 3 && pt_counter(r) == 10);
        CHECK(atomic_load(&pt_restores) == 1);
        aox_msg_free(r);
    }
    /* pid[3] stayed live */
    pt_schedule(p, pid[3], pt_msg(4, NULL));
    aox_msg_free(pt_compute(p, pid[3], 4, &info));
    CHECK(info.started_from == 0 && info.start_slot == 3);
    {
        aox_procs_stats ps;
        aox_procs_stats_get(p, &ps);
        CHECK(ps.processes == 4 && ps.live_states == 2 && ps.evictions == 3);
        CHECK(ps.snapshots == 3 && ps.snapshot_page_bytes == 0);
    }
    CHECK(aox_procs_snapshot_all(p, NULL) == 2);
    aox_procs_close(p);
}

typedef struct ctx {
    aox_procs *p;
    const char *pid;
    atomic_int done;
    int bad;
} ctx;

static void *scheduler(void *ud)
{
    ctx *c = ud;
    for (int i = 1; i <= 200; i++)
        pt_schedule(c->p, c->pid, pt_msg(i, NULL));
    atomic_store(&c->done, 1);
    return NULL;
}

static void *computer(void *ud)
{
    ctx *c = ud;
    unsigned seed = 12345;
    while (!atomic_load(&c->done)) {
        uint64_t cur = 0;
        aox_msg *r = NULL;
        if (aox_proc_current_slot(c->p, c->pid, &cur, NULL))
            continue;
        seed = seed * 1103515245u + 12345u;
        uint64_t s = cur ? (seed >> 8) % (cur + 1) : 0;
        if (aox_proc_compute(c->p, c->pid, s, &r, NULL, NULL) != AOX_OK) {
            c->bad++;
            continue;
        }
        if (s > 0 && pt_counter(r) != (int64_t)(s * (s + 1) / 2))
            c->bad++;
        aox_msg_free(r);
    }
    return NULL;
}

static void test_concurrent_compute(void)
{
    aox_procs *p = pt_open(st, 8, 0);
    pthread_t ts, tc[2];
    ctx c;
    char pid[44];

    pt_spawn(p, "test-counter@1.0", 200, pid);
    memset(&c, 0, sizeof c);
    c.p = p;
    c.pid = pid;
    REQUIRE(pthread_create(&ts, NULL, scheduler, &c) == 0);
    for (int i = 0; i < 2; i++)
        REQUIRE(pthread_create(&tc[i], NULL, computer, &c) == 0);
    pthread_join(ts, NULL);
    for (int i = 0; i < 2; i++)
        pthread_join(tc[i], NULL);
    CHECK(c.bad == 0);
    for (uint64_t s = 1; s <= 200; s += 13) {
        aox_msg *r = pt_compute(p, pid, s, NULL);
        CHECK(pt_counter(r) == (int64_t)(s * (s + 1) / 2));
        aox_msg_free(r);
    }
    aox_procs_close(p);
}

/* Appends a device to def's device-stack. */
static void add_device(aox_msg *def, const char *name)
{
    aox_value v = { .type = AOX_V_BYTES };
    v.u.bytes.ptr = (uint8_t *)name;
    v.u.bytes.len = strlen(name);
    aox_msg_list_append(def, "device-stack", &v);
}

static void test_stack_process(void)
{
    aox_procs *p = pt_open(st, 2, 0);
    aox_msg *def = aox_msg_new(), *r;
    aox_err err = {0};
    aox_compute_info info;
    char pid[44];

    REQUIRE(def);
    aox_msg_set_str(def, "execution-device", "stack@1.0");
    add_device(def, "test-counter@1.0");
    add_device(def, "counting@1.0");
    aox_msg_set_int(def, "pages", 2);
    CHECK_RC(aox_proc_spawn(p, def, pid, NULL, &err), AOX_OK);
    for (int i = 1; i <= 5; i++)
        pt_schedule(p, pid, pt_msg(i, NULL));
    r = pt_compute(p, pid, 5, NULL);
    CHECK(pt_counter(r) == 15);      /* both counters add; the last one writes output */
    aox_msg_free(r);
    aox_procs_close(p);

    /* a new manager restores the stack from its snapshot at 4 */
    p = pt_open(st, 2, 0);
    pt_schedule(p, pid, pt_msg(6, NULL));
    r = pt_compute(p, pid, 6, &info);
    CHECK(info.started_from == 1 && info.start_slot == 5);   /* close snapshotted 5 */
    CHECK(pt_counter(r) == 21);
    aox_msg_free(r);
    aox_procs_close(p);

    /* an unknown device in the stack is refused at spawn, naming it */
    add_device(def, "ghost@1.0");
    p = pt_open(st, 2, 0);
    CHECK_RC(aox_proc_spawn(p, def, pid, NULL, &err), AOX_E_INVALID);
    CHECK(strstr(err.msg, "ghost@1.0") != NULL);
    aox_procs_close(p);
    aox_msg_free(def);
}

/* tally@1.0: counts the calls it sees (state), reports `tally`, has a digest. Placed
 * before test-counter in a stack, a failing test-counter leaves it changed. */
static int tally_init(const aox_device_env *env, const aox_msg *def, void **s, aox_err *err)
{
    *s = calloc(1, sizeof(int64_t));
    return *s ? AOX_OK : AOX_E_NOMEM;
}
static int tally_compute(void *s, const aox_call *call, aox_msg *res, aox_err *err)
{
    int64_t *n = s;
    if (!call->dry_run)
        ++*n;
    return aox_msg_set_int(res, "tally", *n);
}
static int tally_snapshot(void *s, aox_snap_writer *w, aox_err *err)
{
    return aox_snap_write_meta(w, s, sizeof(int64_t));
}
static int tally_restore(const aox_device_env *env, const aox_msg *def, aox_snap_reader *r,
                         void **s, aox_err *err)
{
    const uint8_t *m;
    size_t n;
    aox_snap_read_meta(r, &m, &n);
    if (n != sizeof(int64_t))
        return AOX_E_CORRUPT;
    *s = malloc(n);
    if (!*s)
        return AOX_E_NOMEM;
    memcpy(*s, m, n);
    return AOX_OK;
}
static void tally_free(void *s) { free(s); }
static int tally_digest(void *s, uint8_t out[32]) { aox_sha256(s, sizeof(int64_t), out); return 0; }
static const aox_device_ops tally_ops = {
    .name = "tally@1.0", .init = tally_init, .compute = tally_compute,
    .snapshot = tally_snapshot, .restore = tally_restore, .free = tally_free,
    .digest = tally_digest,
};

static int64_t tally_of(const aox_msg *r) { int64_t v = -1; aox_msg_get_int(r, "tally", &v); return v; }

/* A stack whose last device fails after the first changed its state: the process layer
 * rebuilds the state before the failing slot, so the failure leaves no trace. */
static void test_stack_state_lost(void)
{
    aox_procs *p = pt_open(st, 2, 0), *q;
    aox_msg *def = aox_msg_new(), *r[6], *again;
    aox_buf x = {0}, y = {0};
    aox_compute_info info;
    char pid[44];
    static const char *act[6] = { NULL, NULL, "fail", NULL, "trap", NULL };

    REQUIRE(def);
    aox_msg_set_str(def, "execution-device", "stack@1.0");
    add_device(def, "tally@1.0");
    add_device(def, "test-counter@1.0");
    REQUIRE(aox_proc_spawn(p, def, pid, NULL, NULL) == AOX_OK);
    for (int i = 1; i <= 5; i++)
        pt_schedule(p, pid, pt_msg(i, act[i]));
    aox_msg_free(pt_compute(p, pid, 5, &info));
    for (int i = 1; i <= 5; i++)
        r[i] = pt_compute(p, pid, (uint64_t)i, NULL);
    CHECK(tally_of(r[1]) == 1 && tally_of(r[3]) == 2 && tally_of(r[5]) == 3);
    CHECK(pt_counter(r[5]) == 9);
    CHECK(aox_result_is_error(r[2]) && aox_result_is_error(r[4]));
    CHECK(aox_msg_get(r[2], AOX_RESULT_STATE_LOST) == NULL);
    CHECK(strcmp(aox_msg_get_str(r[1], "state-digest", NULL),
                 aox_msg_get_str(r[2], "state-digest", NULL)) == 0);
    CHECK(strcmp(aox_msg_get_str(r[3], "state-digest", NULL),
                 aox_msg_get_str(r[4], "state-digest", NULL)) == 0);

    /* a replay on another manager skips the cached failures and agrees byte for byte */
    q = pt_open(st, 2, 0);
    pt_store_del(st, pid, "result", 5);
    pt_store_del(st, pid, "snap", 4);
    again = pt_compute(q, pid, 5, &info);
    CHECK(info.started_from == 2 || info.start_slot < 4);
    pt_encode(again, &x);
    pt_encode(r[5], &y);
    CHECK(x.len == y.len && memcmp(x.data, y.data, x.len) == 0);
    aox_msg_free(again);
    aox_procs_close(q);

    for (int i = 1; i <= 5; i++)
        aox_msg_free(r[i]);
    aox_buf_free(&x);
    aox_buf_free(&y);
    aox_msg_free(def);
    aox_procs_close(p);
}

int main(void)
{
    pt_register();
    REQUIRE(aox_device_register(&tally_ops) == AOX_OK);
    st = pt_memory();
    PT_RUN(test_lru);
    PT_RUN(test_concurrent_compute);
    PT_RUN(test_stack_process);
    PT_RUN(test_stack_state_lost);
    aox_store_close(st);
    PT_DONE();
}
