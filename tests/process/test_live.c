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

static void test_stack_process(void)
{
    aox_procs *p = pt_open(st, 2, 0);
    aox_msg *def = aox_msg_new(), *r;
    aox_value v = { .type = AOX_V_BYTES };
    aox_err err = {0};
    aox_compute_info info;
    char pid[44];

    REQUIRE(def);
    aox_msg_set_str(def, "execution-device", "stack@1.0");
    v.u.bytes.ptr = (uint8_t *)"test-counter@1.0";
    v.u.bytes.len = 16;
    aox_msg_list_append(def, "device-stack", &v);
    v.u.bytes.ptr = (uint8_t *)"counting@1.0";
    v.u.bytes.len = 12;
    aox_msg_list_append(def, "device-stack", &v);
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
    v.u.bytes.ptr = (uint8_t *)"ghost@1.0";
    v.u.bytes.len = 9;
    aox_msg_list_append(def, "device-stack", &v);
    p = pt_open(st, 2, 0);
    CHECK_RC(aox_proc_spawn(p, def, pid, NULL, &err), AOX_E_INVALID);
    CHECK(strstr(err.msg, "ghost@1.0") != NULL);
    aox_procs_close(p);
    aox_msg_free(def);
}

int main(void)
{
    pt_register();
    st = pt_memory();
    PT_RUN(test_lru);
    PT_RUN(test_concurrent_compute);
    PT_RUN(test_stack_process);
    aox_store_close(st);
    PT_DONE();
}
