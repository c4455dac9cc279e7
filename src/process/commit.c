/*
 * process/commit.c: group commit of assignments.
 *
 * One fsync'd store transaction per assignment caps scheduling at the disk's fsync
 * rate. Instead, schedules (and spawns) add their puts to the *forming* group's
 * batch and wait; the first waiter that finds no commit in flight takes the forming
 * group, commits it (one transaction, one fsync) and wakes everyone in it. While
 * that commit runs, newcomers fill the next group, so under load each fsync carries
 * every assignment that arrived during the previous one.
 *
 *        join (puts)        wait                        wait returns
 *   A ───────────────┐  ┌── commit G1 (A,B) ──┐  ───── A, B answered
 *   B ───────────────┤G1┘                     │
 *   C ─────────────────────────────────┐ G2   └─ commit G2 (C,D) ── C, D answered
 *   D ─────────────────────────────────┘
 *
 * Invariants:
 *   - a member is answered only after the group holding its puts committed;
 *   - groups commit one at a time, in formation order, so slot N of a process is
 *     never durable after slot N+1 (N+1 is in the same or a later group);
 *   - a failed commit bumps gc_epoch and poisons the group already forming (it may
 *     hold slots built on the failed ones); joins with an older epoch are refused,
 *     so a schedule tail built on uncommitted slots is reloaded from the store.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "process/proc_int.h"

void proc_gc_init(aox_procs *p)
{
    pthread_mutex_init(&p->gc_mu, NULL);
    pthread_cond_init(&p->gc_cv, NULL);
    p->gc_forming = NULL;
    p->gc_busy = 0;
    atomic_init(&p->gc_epoch, 0);
}

void proc_gc_destroy(aox_procs *p)
{
    /* Every waiter has returned before close (callers' contract), so a forming
     * group can only be one nobody waits for: nothing to answer. */
    if (p->gc_forming) {
        aox_store_batch_abort(p->gc_forming->b);
        free(p->gc_forming);
        p->gc_forming = NULL;
    }
    pthread_cond_destroy(&p->gc_cv);
    pthread_mutex_destroy(&p->gc_mu);
}

void aox_procs_set_fence(aox_procs *p,
                         int (*fence)(void *ud, const char *pid, aox_batch *b, aox_err *err),
                         void *ud)
{
    p->opts.fence = fence;
    p->opts.fence_ud = ud;
}

int proc_gc_join(aox_procs *p, uint64_t epoch, const char *pid, proc_group **g,
                 aox_err *err)
{
    proc_group *f;
    int rc;

    *g = NULL;
    pthread_mutex_lock(&p->gc_mu);
    /* Fenced (cluster mode): one process per group, since a batch takes one fence.
     * Wait until the forming group of another process has been taken for commit. */
    while (p->opts.fence && p->gc_forming && strcmp(p->gc_forming->pid, pid) != 0)
        pthread_cond_wait(&p->gc_cv, &p->gc_mu);
    if (epoch != PROC_GC_ANY_EPOCH &&
        epoch != atomic_load_explicit(&p->gc_epoch, memory_order_relaxed)) {
        pthread_mutex_unlock(&p->gc_mu);
        return aox_err_set(err, AOX_E_CONFLICT, "an earlier store commit failed; retry");
    }
    f = p->gc_forming;
    if (!f) {
        f = calloc(1, sizeof *f);
        if (!f) {
            pthread_mutex_unlock(&p->gc_mu);
            return aox_err_set(err, AOX_E_NOMEM, "out of memory");
        }
        rc = aox_store_batch_begin(p->store, &f->b);
        if (rc) {
            free(f);
            pthread_mutex_unlock(&p->gc_mu);
            return aox_err_set(err, rc, "cannot begin a store batch");
        }
        snprintf(f->pid, sizeof f->pid, "%s", pid);
        if (p->opts.fence && (rc = p->opts.fence(p->opts.fence_ud, pid, f->b, err)) != 0) {
            aox_store_batch_abort(f->b);
            free(f);
            pthread_mutex_unlock(&p->gc_mu);
            return rc;
        }
        p->gc_forming = f;
    }
    *g = f;
    return AOX_OK;                            /* gc_mu held: see proc_gc_joined */
}

void proc_gc_joined(aox_procs *p, proc_group *g, int put_rc)
{
    if (put_rc && !g->build_rc)
        g->build_rc = put_rc;     /* a partial member must not commit: the group fails */
    g->members++;
    g->refs++;
    pthread_mutex_unlock(&p->gc_mu);
}

void proc_gc_ref(aox_procs *p, proc_group *g)
{
    pthread_mutex_lock(&p->gc_mu);
    g->refs++;
    pthread_mutex_unlock(&p->gc_mu);
}

/* Under gc_mu. */
static void unref(proc_group *g)
{
    if (--g->refs == 0 && g->done)
        free(g);
}

int proc_gc_wait(aox_procs *p, proc_group *g, aox_err *err)
{
    int rc;

    pthread_mutex_lock(&p->gc_mu);
    while (!g->done) {
        if (p->gc_busy) {
            pthread_cond_wait(&p->gc_cv, &p->gc_mu);
            continue;
        }
        /* No commit in flight and g is not done: g is the forming group. */
        {
            proc_group *c = p->gc_forming;
            aox_err e2;
            aox_err_clear(&e2);
            p->gc_forming = NULL;
            p->gc_busy = 1;
            pthread_mutex_unlock(&p->gc_mu);
            if (c->build_rc) {
                aox_store_batch_abort(c->b);
                rc = aox_err_set(&e2, c->build_rc, "assignment commit failed: %s",
                                 c->build_rc == AOX_E_IO
                                 ? "an earlier commit failed" : aox_code_name(c->build_rc));
            } else {
                rc = aox_store_batch_commit(c->b, &e2);
            }
            c->b = NULL;
            pthread_mutex_lock(&p->gc_mu);
            c->done = 1;
            c->rc = rc;
            c->err = e2;
            p->gc_busy = 0;
            if (rc == AOX_OK) {
                PROC_COUNT(p, n_groups, 1);
            } else {
                atomic_fetch_add_explicit(&p->gc_epoch, 1, memory_order_relaxed);
                if (p->gc_forming && !p->gc_forming->build_rc)
                    p->gc_forming->build_rc = AOX_E_IO;   /* may build on c's slots */
            }
            pthread_cond_broadcast(&p->gc_cv);
        }
    }
    rc = g->rc;
    if (rc && err)
        *err = g->err;
    unref(g);
    pthread_mutex_unlock(&p->gc_mu);
    return rc;
}
