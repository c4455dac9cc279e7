/*
 * node_fence: cluster-mode fencing of the process layer's assignment commits
 * (aox_procs_set_fence, as node/cluster.c uses it): a node whose lease was taken
 * over cannot write assignments any more, and fenced groups carry one process.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/message.h"
#include "device/device.h"
#include "process/process.h"
#include "store/store.h"

static int failures;
#define CHECK(c) do { if (!(c)) { failures++; \
    fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #c); } } while (0)

typedef struct lease_ctx {
    aox_store *s;
    char       name[64];
    uint64_t   token;       /* the token this "node" believes it holds; 0 = none */
    int        calls;
} lease_ctx;

static int fence(void *ud, const char *pid, aox_batch *b, aox_err *err)
{
    lease_ctx *l = ud;
    l->calls++;
    if (!l->token) return aox_err_set(err, AOX_E_CONFLICT, "not the owner of %s", pid);
    return aox_batch_fence(b, l->name, l->token);
}

static int schedule(aox_procs *p, const char *pid, int v, uint64_t *slot)
{
    aox_msg *m = aox_msg_new(), *a = NULL;
    aox_err err;
    int64_t s = -1;
    int rc;
    aox_msg_set_int(m, "value", v);
    rc = aox_proc_schedule(p, pid, m, &a, &err);
    if (rc == 0 && slot) { aox_msg_get_int(a, "slot", &s); *slot = (uint64_t)s; }
    aox_msg_free(m);
    aox_msg_free(a);
    return rc;
}

int main(void)
{
    aox_store *s = NULL;
    aox_procs *p = NULL;
    aox_procs_opts po;
    aox_err err;
    aox_msg *def = aox_msg_new(), *a = NULL;
    char pid[AOX_ID_LEN + 1], pid2[AOX_ID_LEN + 1];
    lease_ctx l;
    uint64_t slot = 0, tok_b = 0, cur = 0;

    CHECK(aox_device_register_builtin() == 0);
    CHECK(aox_store_open("memory:", NULL, &s, &err) == 0);
    memset(&po, 0, sizeof po);
    po.store = s;
    CHECK(aox_procs_open(&po, &p, &err) == 0);
    memset(&l, 0, sizeof l);
    l.s = s;
    aox_procs_set_fence(p, fence, &l);

    aox_msg_set_str(def, "execution-device", "test-counter@1.0");
    CHECK(aox_msg_id(def, pid) == 0);
    snprintf(l.name, sizeof l.name, "proc/%s", pid);

    /* without a lease nothing is written, not even the spawn */
    CHECK(aox_proc_spawn(p, def, pid2, &a, &err) == AOX_E_CONFLICT);
    CHECK(aox_proc_current_slot(p, pid, &cur, &err) == AOX_E_NOT_FOUND);

    /* node A owns it: spawn and schedule */
    CHECK(aox_store_lease_acquire(s, l.name, "A", 60000, &l.token) == 0);
    CHECK(aox_proc_spawn(p, def, pid2, &a, &err) == 0);
    aox_msg_free(a);
    a = NULL;
    CHECK(schedule(p, pid, 1, &slot) == 0 && slot == 1);

    /* B takes the lease over; A still believes it holds its old token */
    CHECK(aox_store_lease_release(s, l.name, l.token) == 0);
    CHECK(aox_store_lease_acquire(s, l.name, "B", 60000, &tok_b) == 0);
    CHECK(tok_b > l.token);
    CHECK(schedule(p, pid, 2, NULL) == AOX_E_CONFLICT);      /* fenced off */
    CHECK(aox_proc_current_slot(p, pid, &cur, &err) == 0 && cur == 1);

    /* with B's token the next write goes through, on the dense next slot */
    l.token = tok_b;
    CHECK(schedule(p, pid, 3, &slot) == 0 && slot == 2);
    CHECK(aox_proc_current_slot(p, pid, &cur, &err) == 0 && cur == 2);
    CHECK(l.calls >= 4);

    /* A second manager on the same store ("node B") appends while it owns the lease;
     * when A owns it again it must not reuse its cached tail (aox_proc_forget_tail). */
    {
        aox_procs *q = NULL;
        lease_ctx lb;
        uint64_t tok_a2 = 0;
        CHECK(aox_procs_open(&po, &q, &err) == 0);
        memset(&lb, 0, sizeof lb);
        snprintf(lb.name, sizeof lb.name, "proc/%s", pid);
        lb.token = tok_b;
        aox_procs_set_fence(q, fence, &lb);
        CHECK(schedule(q, pid, 4, &slot) == 0 && slot == 3);
        CHECK(aox_store_lease_release(s, l.name, tok_b) == 0);
        CHECK(aox_store_lease_acquire(s, l.name, "A", 60000, &tok_a2) == 0);
        l.token = tok_a2;
        aox_proc_forget_tail(p, pid);
        CHECK(schedule(p, pid, 5, &slot) == 0 && slot == 4);   /* not 3 again */
        CHECK(aox_proc_current_slot(q, pid, &cur, &err) == 0 && cur == 4);
        aox_procs_close(q);
    }

    aox_procs_close(p);
    aox_store_close(s);
    aox_msg_free(def);
    if (failures) { fprintf(stderr, "%d failure(s)\n", failures); return 1; }
    printf("ok\n");
    return 0;
}
