/*
 * tests/process/test_durable.c: durability on LMDB.
 *   - schedule, close, reopen: everything is there and the chain continues;
 *   - a child killed with SIGKILL right after aox_proc_schedule returns: the parent
 *     reopens the store and finds that assignment;
 *   - kill/restart equivalence: a child computes to 100 (snapshots every 16) and is
 *     SIGKILLed without shutdown; the parent reopens, computes to 150, and every
 *     result's bytes equal those of an uninterrupted run on the memory store;
 *     a clean close then snapshots the live state, and the next start uses it.
 */
#include <signal.h>
#include <sys/wait.h>

#include "proctest.h"

#define N_MSGS 150

static void schedule_all(aox_procs *p, const char *pid, int from, int to)
{
    for (int i = from; i <= to; i++)
        pt_schedule(p, pid, pt_msg(i, (i % 37) == 0 ? "fail" : NULL));
}

static void test_close_reopen(void)
{
    char dir[64], pid[44], id5[44];
    aox_store *s;
    aox_procs *p;
    aox_msg *a5 = NULL, *a5b = NULL, *m;
    uint64_t cur = 0, slot = 0;
    aox_err err = {0};

    pt_tmpdir(dir, sizeof dir);
    s = pt_lmdb(dir);
    p = pt_open(s, 0, 0);
    pt_spawn(p, "test-counter@1.0", 1, pid);
    schedule_all(p, pid, 1, 10);
    REQUIRE(aox_proc_assignment(p, pid, 5, &a5, &err) == AOX_OK);
    aox_procs_close(p);
    aox_store_close(s);

    s = pt_lmdb(dir);
    p = pt_open(s, 0, 0);
    CHECK_RC(aox_proc_current_slot(p, pid, &cur, &err), AOX_OK);
    CHECK(cur == 10);
    CHECK_RC(aox_proc_assignment(p, pid, 5, &a5b, &err), AOX_OK);
    CHECK(a5b && aox_msg_equal(a5, a5b));
    m = pt_msg(5, NULL);
    aox_msg_id(m, id5);
    aox_msg_free(m);
    CHECK_RC(aox_proc_slot_of_message(p, pid, id5, &slot, &err), AOX_OK);
    CHECK(slot == 5);
    /* the chain continues from the stored tail */
    {
        aox_msg *a10 = NULL, *a11 = NULL;
        uint8_t prev[32], h[32], want[32];
        char ws[44], id11[44];
        REQUIRE(aox_proc_assignment(p, pid, 10, &a10, &err) == AOX_OK);
        m = pt_msg(11, NULL);
        aox_msg_id(m, id11);
        CHECK_RC(aox_proc_schedule(p, pid, m, &a11, &err), AOX_OK);
        aox_msg_free(m);
        aox_id_to_hash(aox_msg_get_str(a10, "hash-chain", NULL), prev);
        aox_id_to_hash(id11, h);
        aox_sha256_2(prev, 32, h, 32, want);
        aox_id_from_hash(want, ws);
        CHECK(a11 && strcmp(aox_msg_get_str(a11, "hash-chain", NULL), ws) == 0);
        aox_msg_free(a10);
        aox_msg_free(a11);
    }
    aox_msg_free(a5);
    aox_msg_free(a5b);
    aox_procs_close(p);
    aox_store_close(s);
    pt_rmdir(dir);
}

/* Child: opens the store, does `what`, reports on the pipe, then waits to be killed. */
static pid_t run_child(const char *dir, const char *pid, int what, int fd[2])
{
    pid_t c = fork();
    REQUIRE(c >= 0);
    if (c == 0) {
        aox_store *s;
        aox_procs *p;
        char line[64];
        close(fd[0]);
        s = pt_lmdb(dir);
        p = pt_open(s, 16, 0);
        if (what == 1) {
            uint64_t slot = pt_schedule(p, pid, pt_msg(424242, NULL));
            snprintf(line, sizeof line, "%llu\n", (unsigned long long)slot);
        } else {
            aox_msg_free(pt_compute(p, pid, 100, NULL));
            snprintf(line, sizeof line, "100\n");
        }
        if (write(fd[1], line, strlen(line)) < 0)
            _exit(3);
        for (;;)
            pause();                      /* no close, no shutdown: killed here */
    }
    close(fd[1]);
    return c;
}

static uint64_t read_line(int fd)
{
    char buf[64] = {0};
    ssize_t n = read(fd, buf, sizeof buf - 1);
    REQUIRE(n > 0);
    return strtoull(buf, NULL, 10);
}

static void kill_child(pid_t c)
{
    int status = 0;
    kill(c, SIGKILL);
    waitpid(c, &status, 0);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

static void test_kill_after_schedule(void)
{
    char dir[64], pid[44], mid[44];
    aox_store *s;
    aox_procs *p;
    int fd[2];
    pid_t c;
    uint64_t slot, cur = 0, found = 0;
    aox_msg *a = NULL, *m;

    pt_tmpdir(dir, sizeof dir);
    s = pt_lmdb(dir);
    p = pt_open(s, 0, 0);
    pt_spawn(p, "test-counter@1.0", 2, pid);
    schedule_all(p, pid, 1, 3);
    aox_procs_close(p);
    aox_store_close(s);

    REQUIRE(pipe(fd) == 0);
    c = run_child(dir, pid, 1, fd);
    slot = read_line(fd[0]);
    kill_child(c);
    close(fd[0]);
    CHECK(slot == 4);

    s = pt_lmdb(dir);
    p = pt_open(s, 0, 0);
    CHECK_RC(aox_proc_current_slot(p, pid, &cur, NULL), AOX_OK);
    CHECK(cur == 4);
    CHECK_RC(aox_proc_assignment(p, pid, 4, &a, NULL), AOX_OK);
    m = pt_msg(424242, NULL);
    aox_msg_id(m, mid);
    CHECK(a && aox_msg_equal(aox_msg_get_msg(a, "body"), m));
    CHECK_RC(aox_proc_slot_of_message(p, pid, mid, &found, NULL), AOX_OK);
    CHECK(found == 4);
    aox_msg_free(m);
    aox_msg_free(a);
    aox_procs_close(p);
    aox_store_close(s);
    pt_rmdir(dir);
}

static void test_kill_restart_equivalence(void)
{
    char dir[64], pid[44], pid_ref[44];
    aox_store *mem, *s;
    aox_procs *ref, *p;
    aox_compute_info info;
    aox_buf want[N_MSGS + 1], got = {0};
    uint64_t latest = 0;
    int fd[2];
    pid_t c;

    /* the uninterrupted run */
    mem = pt_memory();
    ref = pt_open(mem, 16, 0);
    pt_spawn(ref, "test-counter@1.0", 3, pid_ref);
    schedule_all(ref, pid_ref, 1, N_MSGS);
    for (int i = 0; i <= N_MSGS; i++) {
        aox_msg *r = pt_compute(ref, pid_ref, (uint64_t)(N_MSGS - i), NULL);
        want[N_MSGS - i] = (aox_buf){0};
        pt_encode(r, &want[N_MSGS - i]);
        aox_msg_free(r);
    }

    /* the interrupted one */
    pt_tmpdir(dir, sizeof dir);
    s = pt_lmdb(dir);
    p = pt_open(s, 16, 0);
    pt_spawn(p, "test-counter@1.0", 3, pid);
    CHECK(strcmp(pid, pid_ref) == 0);
    schedule_all(p, pid, 1, N_MSGS);
    aox_procs_close(p);
    aox_store_close(s);

    REQUIRE(pipe(fd) == 0);
    c = run_child(dir, pid, 2, fd);
    CHECK(read_line(fd[0]) == 100);
    kill_child(c);
    close(fd[0]);

    s = pt_lmdb(dir);
    p = pt_open(s, 16, 0);
    CHECK_RC(aox_proc_latest_result_slot(p, pid, &latest, NULL), AOX_OK);
    CHECK(latest == 100);
    CHECK(pt_store_has(s, pid, "snap", 96) && !pt_store_has(s, pid, "snap", 100));
    {
        aox_msg *r = pt_compute(p, pid, N_MSGS, &info);
        CHECK(info.started_from == 1 && info.start_slot == 96 && info.slots_applied == 54);
        aox_msg_free(r);
    }
    for (int i = 0; i <= N_MSGS; i++) {
        aox_msg *r = pt_compute(p, pid, (uint64_t)i, NULL);
        pt_encode(r, &got);
        CHECK(got.len == want[i].len && memcmp(got.data, want[i].data, got.len) == 0);
        aox_msg_free(r);
    }
    /* clean close snapshots slot 150; the next start restores it */
    aox_procs_close(p);
    CHECK(pt_store_has(s, pid, "snap", N_MSGS));
    p = pt_open(s, 16, 0);
    pt_schedule(p, pid, pt_msg(N_MSGS + 1, NULL));
    {
        aox_msg *r = pt_compute(p, pid, N_MSGS + 1, &info);
        CHECK(info.started_from == 1 && info.start_slot == N_MSGS && info.slots_applied == 1);
        aox_msg_free(r);
    }
    aox_procs_close(p);
    aox_store_close(s);
    pt_rmdir(dir);

    for (int i = 0; i <= N_MSGS; i++)
        aox_buf_free(&want[i]);
    aox_buf_free(&got);
    aox_procs_close(ref);
    aox_store_close(mem);
}

int main(void)
{
    pt_register();
    PT_RUN(test_close_reopen);
    PT_RUN(test_kill_after_schedule);
    PT_RUN(test_kill_restart_equivalence);
    PT_DONE();
}
