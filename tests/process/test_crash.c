/*
 * tests/process/test_crash.c: a device call that loses its worker (AOX_E_CRASHED,
 * what the isolation proxy returns when a worker process dies) is retried at once
 * from the last snapshot, 3 attempts in all, then answered with an error naming the
 * slot and the deaths in a row; nothing is recorded for the slot, other processes
 * compute on, and the count starts again once the slot computes.
 *
 * The device is test-counter@1.0 behind a wrapper (dying@1.0) that fails a message
 * with action "die" and value die_value while a shared budget of deaths lasts
 * (-1 = always).
 */
#include "core/log.h"
#include "proctest.h"

static atomic_int deaths_left, die_value;

static int die_compute(void *s, const aox_call *c, aox_msg *r, aox_err *err)
{
    size_t n = 0;
    const char *act = aox_msg_get_str(c->message, "action", &n);
    int64_t v = 0;
    (void)aox_msg_get_int(c->message, "value", &v);
    if (act && n == 3 && memcmp(act, "die", 3) == 0 && v == atomic_load(&die_value)) {
        int left = atomic_load(&deaths_left);
        if (left != 0) {
            if (left > 0) atomic_fetch_sub(&deaths_left, 1);
            return aox_err_set(err, AOX_E_CRASHED, "worker (pid 1) died");
        }
    }
    return pt_tc->compute(s, c, r, err);
}

static const aox_device_ops dying = {
    .name = "dying@1.0", .init = cnt_init, .compute = die_compute,
    .snapshot = cnt_snapshot, .restore = cnt_restore, .free = cnt_free,
    .memory = cnt_memory, .digest = cnt_digest,
};

static aox_procs_stats stats(aox_procs *p)
{
    aox_procs_stats s;
    aox_procs_stats_get(p, &s);
    return s;
}

static aox_msg *die_msg(int64_t n)
{
    return pt_msg(n, "die");
}

static void test_transient_death(void)
{
    aox_store *s = NULL;
    aox_procs *p;
    aox_err err = {0};
    aox_compute_info info;
    char pid[44];
    aox_msg *r;

    REQUIRE(aox_store_open("memory:", NULL, &s, &err) == AOX_OK);
    p = pt_open(s, 1, 16);                         /* a snapshot after every slot */
    pt_spawn(p, "dying@1.0", 1, pid);
    pt_schedule(p, pid, pt_msg(5, NULL));
    pt_schedule(p, pid, die_msg(7));
    r = pt_compute(p, pid, 1, NULL);
    aox_msg_free(r);
    atomic_store(&die_value, 7);
    atomic_store(&deaths_left, 1);                 /* one death, then it computes */
    pt_reset_counts();
    r = pt_compute(p, pid, 2, &info);
    CHECK(pt_counter(r) == 12);
    CHECK(info.started_from == 1 && info.start_slot == 1);   /* retried from slot 1 */
    CHECK(atomic_load(&pt_restores) == 1);
    CHECK(stats(p).worker_crashes == 1 && stats(p).worker_crash_retries == 1);
    aox_msg_free(r);
    aox_procs_close(p);
    aox_store_close(s);
}

static void test_poison_slot(void)
{
    aox_store *s = NULL;
    aox_procs *p;
    aox_err err = {0};
    char pid[44], other[44], want[160];
    aox_msg *r = NULL;
    uint64_t cur = 0;

    REQUIRE(aox_store_open("memory:", NULL, &s, &err) == AOX_OK);
    p = pt_open(s, 4, 16);
    pt_spawn(p, "dying@1.0", 2, pid);
    pt_spawn(p, "dying@1.0", 3, other);
    pt_schedule(p, pid, pt_msg(5, NULL));
    pt_schedule(p, pid, die_msg(7));
    pt_schedule(p, pid, pt_msg(9, NULL));
    pt_schedule(p, other, pt_msg(4, NULL));
    atomic_store(&die_value, 7);
    atomic_store(&deaths_left, -1);                /* dies every time */

    for (int round = 1; round <= 2; round++) {
        CHECK_RC(aox_proc_compute(p, pid, 3, &r, NULL, &err), AOX_E_CRASHED);
        CHECK(r == NULL);
        snprintf(want, sizeof want, "slot 3 of %s not computed: its worker died %d times "
                 "in a row computing slot 2", pid, 3 * round);
        CHECK(strstr(err.msg, want) != NULL);
        if (!strstr(err.msg, want)) fprintf(stderr, "  got: %s\n", err.msg);
        CHECK(stats(p).worker_crashes == 3u * round);
        CHECK(stats(p).worker_crash_retries == 2u * round);
    }
    /* nothing recorded for slots 2 and 3; slot 1 was committed before the death */
    CHECK_RC(aox_proc_compute_cached(p, pid, 2, &r, &cur, &err), AOX_E_NOT_FOUND);
    CHECK_RC(aox_proc_compute_cached(p, pid, 3, &r, &cur, &err), AOX_E_NOT_FOUND);
    CHECK_RC(aox_proc_compute_cached(p, pid, 1, &r, &cur, &err), AOX_OK);
    aox_msg_free(r);
    r = NULL;
    /* another process computes meanwhile */
    r = pt_compute(p, other, 1, NULL);
    CHECK(pt_counter(r) == 4);
    aox_msg_free(r);
    /* the death stops: the slot computes, and the count starts again */
    atomic_store(&deaths_left, 0);
    r = pt_compute(p, pid, 3, NULL);
    CHECK(pt_counter(r) == 21);
    aox_msg_free(r);
    pt_schedule(p, pid, die_msg(1));
    atomic_store(&die_value, 1);                   /* now slot 4 dies, slot 2 not */
    atomic_store(&deaths_left, -1);
    CHECK_RC(aox_proc_compute(p, pid, 4, &r, NULL, &err), AOX_E_CRASHED);
    CHECK(strstr(err.msg, "died 3 times in a row computing slot 4") != NULL);
    if (!strstr(err.msg, "slot 4")) fprintf(stderr, "  got: %s\n", err.msg);
    atomic_store(&deaths_left, 0);
    aox_procs_close(p);
    aox_store_close(s);
}

int main(void)
{
    aox_log_set_level(AOX_LOG_ERROR);         /* the faults are expected: no warnings */
    pt_register();
    REQUIRE(aox_device_register(&dying) == AOX_OK);
    PT_RUN(test_transient_death);
    PT_RUN(test_poison_slot);
    PT_DONE();
}
