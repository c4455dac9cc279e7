/*
 * tests/process/test_compute.c: the compute contract of DESIGN.md §3, one test per
 * numbered point, plus slot 0's result, node faults, now / by-message / latest.
 * Uses the memory store and counting@1.0 (test-counter with call counters).
 */
#include "proctest.h"

static aox_store *st;

/* §3.1: a cached result is returned without running anything. */
static void test_1_cached(void)
{
    aox_procs *p = pt_open(st, 0, 0);
    aox_compute_info info;
    aox_msg *r1, *r2, *r3;
    aox_buf b1 = {0}, b2 = {0};
    char pid[44];

    pt_spawn(p, "counting@1.0", 1, pid);
    for (int i = 1; i <= 5; i++)
        pt_schedule(p, pid, pt_msg(i, NULL));
    pt_reset_counts();
    r1 = pt_compute(p, pid, 5, &info);
    CHECK(info.cached == 0 && info.started_from == 2 && info.start_slot == 0);
    CHECK(info.slots_applied == 5 && info.current_slot == 5);
    CHECK(atomic_load(&pt_computes) == 5 && atomic_load(&pt_inits) == 1);
    CHECK(pt_counter(r1) == 15);

    pt_reset_counts();
    r2 = pt_compute(p, pid, 5, &info);
    CHECK(info.cached == 1 && info.slots_applied == 0);
    r3 = pt_compute(p, pid, 3, &info);
    CHECK(info.cached == 1);
    CHECK(pt_counter(r3) == 6);
    CHECK(atomic_load(&pt_computes) == 0 && atomic_load(&pt_inits) == 0 &&
          atomic_load(&pt_restores) == 0);
    pt_encode(r1, &b1);
    pt_encode(r2, &b2);
    CHECK(b1.len == b2.len && memcmp(b1.data, b2.data, b1.len) == 0);
    {
        aox_procs_stats ps;
        aox_procs_stats_get(p, &ps);
        CHECK(ps.processes == 1 && ps.live_states == 1 && ps.assignments == 6);
        CHECK(ps.slots_computed == 5 && ps.cache_hits == 2 && ps.guest_errors == 0);
        CHECK(ps.node_faults == 0 && ps.snapshots == 0 && ps.evictions == 0);
    }

    /* every result names its slot and process and carries the state digest */
    {
        int64_t s = -1;
        const char *d = aox_msg_get_str(r3, "state-digest", NULL);
        CHECK(aox_msg_get_int(r3, "slot", &s) == AOX_OK && s == 3);
        CHECK(strcmp(aox_msg_get_str(r3, "process", NULL), pid) == 0);
        CHECK(d && aox_id_valid(d));
    }
    aox_buf_free(&b1);
    aox_buf_free(&b2);
    aox_msg_free(r1);
    aox_msg_free(r2);
    aox_msg_free(r3);
    aox_procs_close(p);
}

/* §3.2: the nearest snapshot <= N is restored; a slot older than the live state is
 * computed on a scratch state, giving identical bytes and leaving the live one. */
static void test_2_start_state(void)
{
    aox_procs *p = pt_open(st, 4, 0), *q;
    aox_compute_info info;
    aox_msg *r, *want6, *want2;
    aox_buf a = {0}, b = {0};
    char pid[44];

    pt_spawn(p, "counting@1.0", 2, pid);
    for (int i = 1; i <= 10; i++)
        pt_schedule(p, pid, pt_msg(i, NULL));
    aox_msg_free(pt_compute(p, pid, 10, &info));
    want6 = pt_compute(p, pid, 6, NULL);
    want2 = pt_compute(p, pid, 2, NULL);

    /* a second manager on the same store has no live state: nearest snapshot is 8 */
    q = pt_open(st, 4, 0);
    pt_schedule(q, pid, pt_msg(11, NULL));
    pt_schedule(q, pid, pt_msg(12, NULL));
    pt_reset_counts();
    r = pt_compute(q, pid, 12, &info);
    CHECK(info.started_from == 1 && info.start_slot == 8 && info.slots_applied == 4);
    CHECK(atomic_load(&pt_restores) == 1 && atomic_load(&pt_inits) == 0);
    CHECK(pt_counter(r) == 78);
    aox_msg_free(r);

    /* live state is at 12; slot 6 is no longer cached: replay from snapshot 4 */
    pt_store_del(st, pid, "result", 6);
    pt_store_del(st, pid, "result", 5);
    r = pt_compute(q, pid, 6, &info);
    CHECK(info.cached == 0 && info.started_from == 1 && info.start_slot == 4 &&
          info.slots_applied == 2);
    pt_encode(r, &a);
    pt_encode(want6, &b);
    CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
    aox_msg_free(r);

    /* below the first snapshot: replay from init */
    pt_store_del(st, pid, "result", 2);
    r = pt_compute(q, pid, 2, &info);
    CHECK(info.started_from == 2 && info.start_slot == 0 && info.slots_applied == 2);
    pt_encode(r, &a);
    pt_encode(want2, &b);
    CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
    aox_msg_free(r);

    /* the live state was left alone at 12 */
    pt_schedule(q, pid, pt_msg(13, NULL));
    r = pt_compute(q, pid, 13, &info);
    CHECK(info.started_from == 0 && info.start_slot == 12 && info.slots_applied == 1);
    CHECK(pt_counter(r) == 91);
    aox_msg_free(r);

    aox_buf_free(&a);
    aox_buf_free(&b);
    aox_msg_free(want6);
    aox_msg_free(want2);
    aox_procs_close(q);
    aox_procs_close(p);
}

/* §3.3: every result is in the store when compute returns; a snapshot every K slots. */
static void test_3_durable_and_every_k(void)
{
    aox_procs *p = pt_open(st, 4, 0);
    char pid[44];

    pt_spawn(p, "counting@1.0", 3, pid);
    for (int i = 1; i <= 10; i++)
        pt_schedule(p, pid, pt_msg(i, NULL));
    aox_msg_free(pt_compute(p, pid, 10, NULL));
    for (uint64_t s = 0; s <= 10; s++)
        CHECK(pt_store_has(st, pid, "result", s));
    CHECK(!pt_store_has(st, pid, "result", 11));
    CHECK(pt_store_has(st, pid, "snap", 4));
    CHECK(pt_store_has(st, pid, "snap", 8));
    for (uint64_t s = 0; s <= 10; s++)
        if (s != 4 && s != 8)
            CHECK(!pt_store_has(st, pid, "snap", s));
    /* clean shutdown snapshots the live state ahead of its last snapshot */
    CHECK(aox_procs_snapshot_all(p, NULL) == 1);
    CHECK(pt_store_has(st, pid, "snap", 10));
    CHECK(aox_procs_snapshot_all(p, NULL) == 0);
    aox_procs_close(p);
}

/* §3.4: a slot not yet assigned is a clean "not yet" naming the current slot. */
static void test_4_not_yet(void)
{
    aox_procs *p = pt_open(st, 0, 0);
    aox_compute_info info;
    aox_msg *r = NULL;
    aox_err err = {0};
    char pid[44], unknown[44];

    pt_spawn(p, "counting@1.0", 4, pid);
    pt_schedule(p, pid, pt_msg(1, NULL));
    pt_schedule(p, pid, pt_msg(2, NULL));
    CHECK_RC(aox_proc_compute(p, pid, 3, &r, &info, &err), AOX_E_NOT_YET);
    CHECK(r == NULL && info.current_slot == 2);
    CHECK(strstr(err.msg, "current slot 2") != NULL);
    CHECK_RC(aox_proc_compute(p, pid, 1000000, &r, &info, &err), AOX_E_NOT_YET);
    memset(unknown, 'U', 43);
    unknown[43] = 0;
    CHECK_RC(aox_proc_compute(p, unknown, 0, &r, &info, &err), AOX_E_NOT_FOUND);
    aox_procs_close(p);
}

/* §3.5: a guest failure is the slot's cached result; the process moves on from the
 * state before the failing message. */
static void test_5_guest_failure(void)
{
    aox_procs *p = pt_open(st, 0, 0);
    aox_compute_info info;
    aox_msg *r1, *r2, *r3, *again;
    char pid[44];

    pt_spawn(p, "counting@1.0", 5, pid);
    pt_schedule(p, pid, pt_msg(1, NULL));
    pt_schedule(p, pid, pt_msg(100, "fail"));
    pt_schedule(p, pid, pt_msg(2, NULL));
    r3 = pt_compute(p, pid, 3, NULL);
    CHECK(pt_counter(r3) == 3);
    CHECK(!aox_result_is_error(r3));
    pt_reset_counts();
    r2 = pt_compute(p, pid, 2, &info);
    CHECK(info.cached == 1 && atomic_load(&pt_computes) == 0);
    CHECK(aox_result_is_error(r2));
    CHECK(strcmp(aox_msg_get_str(aox_msg_get_msg(r2, "error"), "code", NULL),
                 "guest_error") == 0);
    r1 = pt_compute(p, pid, 1, NULL);
    CHECK(strcmp(aox_msg_get_str(r1, "state-digest", NULL),
                 aox_msg_get_str(r2, "state-digest", NULL)) == 0);

    /* a node fault is not cached; the state is dropped and rebuilt next time */
    pt_schedule(p, pid, pt_msg(4, "node-fault"));
    {
        aox_msg *r = NULL;
        aox_err err = {0};
        uint64_t latest = 0;
        CHECK_RC(aox_proc_compute(p, pid, 4, &r, &info, &err), AOX_E_IO);
        CHECK(r == NULL && strstr(err.msg, "injected") != NULL);
        CHECK(!pt_store_has(st, pid, "result", 4));
        CHECK_RC(aox_proc_latest_result_slot(p, pid, &latest, &err), AOX_OK);
        CHECK(latest == 3);
        again = pt_compute(p, pid, 3, &info);          /* still served from the cache */
        CHECK(info.cached == 1);
        aox_msg_free(again);
        pt_reset_counts();
        CHECK_RC(aox_proc_compute(p, pid, 4, &r, &info, &err), AOX_E_IO);
        CHECK(atomic_load(&pt_inits) == 1);            /* live state was dropped */
        CHECK(atomic_load(&pt_computes) == 3);         /* 1, 3, 4: failed slot 2 skipped */
    }
    {
        aox_procs_stats ps;
        aox_procs_stats_get(p, &ps);
        /* slot 2 failed once: the replay from init skipped the cached failure */
        CHECK(ps.guest_errors == 1 && ps.node_faults == 2 && ps.live_states == 0);
    }
    aox_msg_free(r1);
    aox_msg_free(r2);
    aox_msg_free(r3);
    aox_procs_close(p);
}

static void test_slot0_and_reads(void)
{
    aox_procs *p = pt_open(st, 0, 0);
    aox_compute_info info;
    aox_msg *r0, *r, *m;
    aox_err err = {0};
    char pid[44], mid[44];
    uint64_t slot = 0;
    int64_t v = -1;

    pt_spawn(p, "counting@1.0", 6, pid);
    CHECK_RC(aox_proc_latest_result_slot(p, pid, &slot, &err), AOX_E_NOT_FOUND);
    r0 = pt_compute(p, pid, 0, &info);
    CHECK(info.started_from == 2 && info.slots_applied == 0);
    CHECK(aox_msg_get_int(r0, "slot", &v) == AOX_OK && v == 0);
    CHECK(strcmp(aox_msg_get_str(r0, "process", NULL), pid) == 0);
    CHECK(aox_msg_get(r0, "state-digest") != NULL);
    CHECK(aox_msg_get(r0, "output") == NULL);
    CHECK_RC(aox_proc_latest_result_slot(p, pid, &slot, &err), AOX_OK);
    CHECK(slot == 0);

    m = pt_msg(40, NULL);
    aox_msg_id(m, mid);
    pt_schedule(p, pid, m);
    pt_schedule(p, pid, pt_msg(2, NULL));
    CHECK_RC(aox_proc_result_by_message(p, pid, mid, &r, &slot, &err), AOX_OK);
    CHECK(slot == 1 && pt_counter(r) == 40);
    aox_msg_free(r);
    CHECK_RC(aox_proc_latest_result_slot(p, pid, &slot, &err), AOX_OK);
    CHECK(slot == 1);
    CHECK_RC(aox_proc_now(p, pid, &r, &info, &err), AOX_OK);
    CHECK(pt_counter(r) == 42 && info.current_slot == 2 && info.started_from == 0 &&
          info.start_slot == 1);
    aox_msg_free(r);
    CHECK_RC(aox_proc_latest_result_slot(p, pid, &slot, &err), AOX_OK);
    CHECK(slot == 2);
    aox_msg_free(r0);
    aox_procs_close(p);
}

/* Dry runs: a result for a message as if scheduled next; nothing stored or kept. */
static void test_dry_run(void)
{
    aox_procs *p = pt_open(st, 0, 0), *q;
    aox_msg *m, *r = NULL;
    aox_err err = {0};
    uint64_t cur = 0;
    int64_t v = 0;
    char pid[44];

    pt_spawn(p, "counting@1.0", 7, pid);
    pt_schedule(p, pid, pt_msg(1, NULL));
    pt_schedule(p, pid, pt_msg(2, NULL));
    m = pt_msg(10, NULL);
    CHECK_RC(aox_proc_dry_run(p, pid, m, &r, &err), AOX_OK);
    CHECK(r && pt_counter(r) == 13);
    CHECK(r && aox_msg_get_int(r, "slot", &v) == AOX_OK && v == 3);
    CHECK(r && aox_msg_get_int(r, "dry-run", &v) == AOX_OK && v == 1);
    aox_msg_free(r);
    CHECK_RC(aox_proc_current_slot(p, pid, &cur, &err), AOX_OK);
    CHECK(cur == 2);
    CHECK(!pt_store_has(st, pid, "result", 3));
    CHECK_RC(aox_proc_slot_of_message(p, pid, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                                      &cur, &err), AOX_E_NOT_FOUND);
    /* a failing dry run is an error result, and the state is untouched */
    aox_msg_set_str(m, "action", "fail");
    CHECK_RC(aox_proc_dry_run(p, pid, m, &r, &err), AOX_OK);
    CHECK(r && aox_result_is_error(r));
    aox_msg_free(r);
    pt_schedule(p, pid, pt_msg(1, "x"));
    r = pt_compute(p, pid, 3, NULL);
    CHECK(pt_counter(r) == 4);
    aox_msg_free(r);
    /* a manager without a live state rebuilds one first */
    q = pt_open(st, 0, 0);
    aox_msg_remove(m, "action");
    CHECK_RC(aox_proc_dry_run(q, pid, m, &r, &err), AOX_OK);
    CHECK(r && pt_counter(r) == 14);
    aox_msg_free(r);
    aox_procs_close(q);
    aox_msg_free(m);
    aox_procs_close(p);
}

/* A snapshot that does not restore is skipped (logged): init and replay instead. */
static void test_bad_snapshot(void)
{
    aox_procs *p = pt_open(st, 4, 0), *q;
    aox_compute_info info;
    aox_msg *want, *got;
    aox_buf k = {0}, a = {0}, b = {0};
    char pid[44];

    pt_spawn(p, "counting@1.0", 8, pid);
    for (int i = 1; i <= 6; i++)
        pt_schedule(p, pid, pt_msg(i, NULL));
    want = pt_compute(p, pid, 6, NULL);
    aox_procs_close(p);                             /* snapshots 4 and 6 */
    REQUIRE(aox_key_proc(&k, pid, "snap", 4) == AOX_OK);
    REQUIRE(aox_store_put(st, k.data, k.len, "AOXS\x01junk", 9) == AOX_OK);
    pt_store_del(st, pid, "snap", 6);
    pt_store_del(st, pid, "result", 6);
    q = pt_open(st, 4, 0);
    pt_reset_counts();
    got = pt_compute(q, pid, 6, &info);
    CHECK(info.started_from == 2 && info.slots_applied == 6);
    pt_encode(want, &a);
    pt_encode(got, &b);
    CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
    aox_msg_free(want);
    aox_msg_free(got);
    aox_buf_free(&k);
    aox_buf_free(&a);
    aox_buf_free(&b);
    aox_procs_close(q);
}

/* Wall-clock limits reach the device through call->interrupt. */
static void test_wall_clock(void)
{
    aox_procs_opts o;
    aox_procs *p = NULL, *q;
    aox_msg *r = NULL;
    aox_err err = {0};
    char pid[44], pid2[44];

    memset(&o, 0, sizeof o);
    o.store = st;
    o.clock_ms = pt_clock;
    o.max_limits.wall_ms = 30;
    REQUIRE(aox_procs_open(&o, &p, NULL) == AOX_OK);
    pt_spawn(p, "test-counter@1.0", 9, pid);
    pt_schedule(p, pid, pt_msg(1, "spin"));
    CHECK_RC(aox_proc_compute(p, pid, 1, &r, NULL, &err), AOX_E_TIMEOUT);
    CHECK(r == NULL && !pt_store_has(st, pid, "result", 1));
    CHECK_RC(aox_proc_dry_run(p, pid, r = pt_msg(2, "spin"), &(aox_msg *){NULL}, &err),
             AOX_E_TIMEOUT);
    aox_msg_free(r);
    aox_procs_close(p);

    /* without a wall limit the device refuses to spin, deterministically */
    q = pt_open(st, 0, 0);
    pt_spawn(q, "test-counter@1.0", 10, pid2);
    pt_schedule(q, pid2, pt_msg(1, "spin"));
    r = pt_compute(q, pid2, 1, NULL);
    CHECK(aox_result_is_error(r));
    aox_msg_free(r);
    aox_procs_close(q);
}

/* Boot (device `boot` op): slot 0 computes the Process message itself. booting@1.0 is
 * counting@1.0 with boot on, so the definition's `value` lands in the counter. */
static int boot_yes(const aox_msg *def) { return aox_msg_get(def, "no-boot") == NULL; }
static aox_device_ops booting;

static aox_msg *boot_def(int64_t value, const char *action)
{
    aox_msg *d = pt_def("booting@1.0", 90);
    REQUIRE(aox_msg_set_int(d, "value", value) == AOX_OK);
    if (action)
        REQUIRE(aox_msg_set_str(d, "action", action) == AOX_OK);
    return d;
}

static void boot_spawn(aox_procs *p, aox_msg *d, char pid[44])
{
    aox_err err = {0};
    REQUIRE(aox_proc_spawn(p, d, pid, NULL, &err) == AOX_OK);
    aox_msg_free(d);
}

static void test_boot(void)
{
    aox_store *s2 = pt_memory();
    aox_procs *p = pt_open(st, 2, 0), *q;
    aox_compute_info info;
    aox_msg *r, *m;
    aox_buf a = {0}, b = {0};
    aox_err err = {0};
    char pid[44], pid2[44];
    int64_t v = -1;

    booting = pt_counting;
    booting.name = "booting@1.0";
    booting.boot = boot_yes;
    REQUIRE(aox_device_register(&booting) == AOX_OK);

    /* slot 0 is a computed result: the definition's value, once */
    boot_spawn(p, boot_def(40, NULL), pid);
    pt_reset_counts();
    r = pt_compute(p, pid, 0, &info);
    CHECK(info.started_from == 2 && !aox_result_is_error(r));
    CHECK(pt_counter(r) == 40 && aox_msg_get_int(r, "slot", &v) == AOX_OK && v == 0);
    CHECK(aox_msg_get(r, "state-digest") != NULL);
    CHECK(atomic_load(&pt_inits) == 1 && atomic_load(&pt_computes) == 1);
    aox_msg_free(r);
    pt_schedule(p, pid, pt_msg(1, NULL));
    pt_schedule(p, pid, pt_msg(2, NULL));
    r = pt_compute(p, pid, 2, &info);
    CHECK(pt_counter(r) == 43 && atomic_load(&pt_computes) == 3);
    aox_msg_free(r);

    /* restart: from the snapshot at 2, boot does not run again */
    aox_procs_close(p);
    p = pt_open(st, 2, 0);
    pt_schedule(p, pid, pt_msg(3, NULL));
    pt_reset_counts();
    r = pt_compute(p, pid, 3, &info);
    CHECK(info.started_from == 1 && info.start_slot == 2 && pt_counter(r) == 46);
    CHECK(atomic_load(&pt_inits) == 0 && atomic_load(&pt_computes) == 1);
    aox_msg_free(r);
    for (uint64_t sl = 0; sl <= 3; sl++) {
        r = pt_compute(p, pid, sl, NULL);
        pt_encode(r, &a);
        aox_msg_free(r);
    }

    /* the same process elsewhere, init + boot + replay: byte-identical results */
    q = pt_open(s2, 0, 0);
    boot_spawn(q, boot_def(40, NULL), pid2);
    CHECK(strcmp(pid, pid2) == 0);
    for (int i = 1; i <= 3; i++)
        pt_schedule(q, pid2, pt_msg(i, NULL));
    r = pt_compute(q, pid2, 3, &info);
    CHECK(info.started_from == 2 && info.slots_applied == 3);
    aox_msg_free(r);
    for (uint64_t sl = 0; sl <= 3; sl++) {
        r = pt_compute(q, pid2, sl, NULL);
        pt_encode(r, &b);
        aox_msg_free(r);
    }
    CHECK(a.len > 0 && a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
    aox_procs_close(q);

    /* a failing boot is slot 0's cached guest error; the state is init's */
    boot_spawn(p, boot_def(40, "fail"), pid);
    r = pt_compute(p, pid, 0, NULL);
    CHECK(aox_result_is_error(r));
    aox_msg_free(r);
    pt_schedule(p, pid, pt_msg(5, NULL));
    r = pt_compute(p, pid, 1, NULL);
    CHECK(!aox_result_is_error(r) && pt_counter(r) == 5);
    aox_msg_free(r);

    /* a node fault at boot caches nothing */
    boot_spawn(p, boot_def(40, "node-fault"), pid);
    r = NULL;
    CHECK_RC(aox_proc_compute(p, pid, 0, &r, NULL, &err), AOX_E_IO);
    CHECK(r == NULL && !pt_store_has(st, pid, "result", 0));

    /* a dry run on a fresh process boots first; its time is the spawn's */
    boot_spawn(p, boot_def(7, NULL), pid);
    m = pt_msg(1, NULL);
    CHECK_RC(aox_proc_dry_run(p, pid, m, &r, &err), AOX_OK);
    CHECK(r && pt_counter(r) == 8);
    CHECK(r && aox_msg_get_int(aox_msg_get_msg(r, "output"), "timestamp", &v) == AOX_OK &&
          v == PT_CLOCK_MS);
    aox_msg_free(r);
    aox_msg_free(m);

    /* boot off for this definition: slot 0 is init only, as before */
    {
        aox_msg *d = boot_def(40, NULL);
        REQUIRE(aox_msg_set_int(d, "no-boot", 1) == AOX_OK);
        boot_spawn(p, d, pid);
        r = pt_compute(p, pid, 0, NULL);
        CHECK(aox_msg_get(r, "output") == NULL);
        aox_msg_free(r);
    }
    aox_procs_close(p);
    aox_store_close(s2);
    aox_buf_free(&a);
    aox_buf_free(&b);
}

int main(void)
{
    pt_register();
    st = pt_memory();
    PT_RUN(test_1_cached);
    PT_RUN(test_2_start_state);
    PT_RUN(test_3_durable_and_every_k);
    PT_RUN(test_4_not_yet);
    PT_RUN(test_5_guest_failure);
    PT_RUN(test_slot0_and_reads);
    PT_RUN(test_dry_run);
    PT_RUN(test_bad_snapshot);
    PT_RUN(test_wall_clock);
    PT_RUN(test_boot);
    aox_store_close(st);
    PT_DONE();
}
