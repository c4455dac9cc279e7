/*
 * process/compute.c: the compute loop (DESIGN.md §3).
 *
 *   compute(pid, N):
 *     1. result/<N> in the store            -> return it, nothing runs (info.cached)
 *     2. N > current slot                   -> AOX_E_NOT_YET (info.current_slot)
 *     3. pick a start state, under the process's state_mu:
 *          live state at a slot < N          (started_from 0)
 *          nearest snapshot S <= N-1, when there is no usable live state or S is
 *            further along than it         (started_from 1)
 *          init, at slot 0                   (started_from 2)
 *        A live state at or beyond N is never rewound: the start state is then a
 *        scratch state (snapshot or init) that is replayed and freed; the live one is
 *        left alone. (A live state at exactly N never needs this: N's result would
 *        have been cached before the state moved past N-1.)
 *     4. apply slots start+1..N. Each result gets `process`, `slot` and, when the
 *        device has `digest`, `state-digest` (base64url SHA-256). Results, and the
 *        snapshot manifest of every slot that is a multiple of K, are committed in
 *        batches of at most FLUSH_SLOTS slots / FLUSH_BYTES bytes, and always before
 *        compute returns — so no caller ever sees a result that is not durable.
 *        A guest failure result is cached like any other; the device rolled back.
 *     5. a node fault (device returns non-OK) is not cached: results committed so far
 *        stay, the state is dropped and the error returned.
 *        A slot whose cached result is a guest error is skipped on replay (the state
 *        after it is the state before). A fresh failure marked AOX_RESULT_STATE_LOST
 *        (a device that could not roll back, e.g. a stack) makes the loop rebuild the
 *        state before that slot from a snapshot/init and carry on from there.
 *
 *   Slot 0 (the definition) has the result {process, slot: 0, state-digest?}, written
 *   when init runs.
 */
#include <stdio.h>
#include <string.h>

#include "core/id.h"
#include "core/log.h"
#include "core/metrics.h"
#include "process/proc_int.h"

#define FLUSH_SLOTS 64
#define PROC_CRASH_TRIES 3      /* attempts of one compute whose worker keeps dying */
#define FLUSH_BYTES (4u << 20)

/* Adds process, slot and state-digest to a result and encodes it. */
static int finish_result(proc_entry *e, void *state, uint64_t slot, aox_msg *res,
                         aox_buf *enc)
{
    int rc = aox_msg_set_str(res, "process", e->pid);
    if (!rc)
        rc = aox_msg_set_int(res, "slot", (int64_t)slot);
    if (!rc && e->ops->digest) {
        uint8_t d[32];
        char ds[AOX_ID_LEN + 1];
        if (e->ops->digest(state, d) == AOX_OK) {
            aox_id_from_hash(d, ds);
            rc = aox_msg_set_str(res, "state-digest", ds);
        }
    }
    if (!rc) {
        aox_buf_reset(enc);
        rc = aox_msg_encode(res, enc);
    }
    return rc;
}

/* Results and manifests waiting for a group commit (process/commit.c): key/value
 * pairs in one buffer, put into the forming group's batch at flush time, so that
 * computes of different processes (and schedules) share one durable commit.
 * Layout: { u32 klen, key, u32 vlen, value }*. */
typedef struct pend {
    aox_buf kv;
    size_t  n;
} pend;

static int pend_put(pend *pd, const aox_buf *k, const void *v, size_t vl)
{
    uint32_t kl = (uint32_t)k->len, l = (uint32_t)vl;
    int rc = aox_buf_append(&pd->kv, &kl, 4);
    if (!rc) rc = aox_buf_append(&pd->kv, k->data, k->len);
    if (!rc) rc = aox_buf_append(&pd->kv, &l, 4);
    if (!rc) rc = aox_buf_append(&pd->kv, v, vl);
    if (!rc) pd->n++;
    return rc;
}

/* Commits what pd holds (durable on return when 0) and empties it. */
static int pend_commit(aox_procs *p, const char *pid, pend *pd, aox_err *err)
{
    proc_group *g;
    size_t off = 0;
    int rc, prc = AOX_OK;
    if (!pd->n)
        return AOX_OK;
    rc = proc_gc_join(p, PROC_GC_ANY_EPOCH, pid, &g, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < pd->n && prc == AOX_OK; i++) {
        uint32_t kl, vl;
        const uint8_t *kp, *vp;
        memcpy(&kl, pd->kv.data + off, 4);
        kp = pd->kv.data + off + 4;
        off += 4 + (size_t)kl;
        memcpy(&vl, pd->kv.data + off, 4);
        vp = pd->kv.data + off + 4;
        off += 4 + (size_t)vl;
        prc = aox_batch_put(g->b, kp, kl, vp, vl);
    }
    proc_gc_joined(p, g, prc);
    rc = proc_gc_wait(p, g, err);
    aox_buf_reset(&pd->kv);
    pd->n = 0;
    return rc;
}

static int pend_result(pend *pd, aox_buf *k, const char *pid, uint64_t slot,
                       const aox_buf *enc)
{
    int rc = aox_key_proc(k, pid, "result", slot);
    return rc ? rc : pend_put(pd, k, enc->data, enc->len);
}

static int commit_one(aox_procs *p, const char *pid, uint64_t slot, const aox_buf *enc,
                      aox_err *err)
{
    pend pd = {0};
    aox_buf k = {0};
    int rc = pend_result(&pd, &k, pid, slot, enc);
    if (rc)
        aox_err_set(err, rc, "out of memory");
    else
        rc = pend_commit(p, pid, &pd, err);
    aox_buf_free(&k);
    aox_buf_free(&pd.kv);
    return rc;
}

/* Runs the device's init into r->state. */
static int init_state(aox_procs *p, proc_entry *e, proc_run *r, aox_err *err)
{
    aox_device_env env = { e->pid, p->store, &e->limits };
    int rc = e->ops->init(&env, e->def, &r->state, err);
    if (rc) {
        PROC_COUNT(p, n_faults, 1);
        r->state = NULL;
        if (!err || err->code == AOX_OK)
            aox_err_set(err, rc, "device %s: init failed", e->ops->name);
        proc_act_error(e, rc, 1, 0, err ? err->msg : "init failed");
    }
    return rc;
}

/* Runs the device on slot s's assignment `a` (its message `body`) from r->state.
 * AOX_OK: *out is the new result (without process/slot) and *lost is set when the
 * device marked it state-lost (a guest failure it could not roll back: r's state is
 * not the state before s). Any other return is a node fault, counted, logged and
 * recorded in the activity; *out is NULL. Shared by slot 0's boot and advance. */
static int exec_slot(aox_procs *p, proc_entry *e, proc_run *r, const aox_msg *a,
                     const aox_msg *body, uint64_t s, aox_msg **out, int *lost, aox_err *err)
{
    aox_msg *res;
    aox_call call;
    proc_watch watch;
    uint64_t t0;
    int rc;

    *out = NULL;
    *lost = 0;
    aox_call_init(&call, e->pid, e->def, a, body, s, &e->limits);
    res = aox_msg_new();
    if (!res)
        return aox_err_set(err, AOX_E_NOMEM, "out of memory");
    if (err)
        aox_err_clear(err);
    proc_watch_begin(p, &watch, e->limits.wall_ms);
    call.interrupt = &watch.flag;
    t0 = proc_stage_begin(e, PROC_STAGE_EXECUTE);
    rc = e->ops->compute(r->state, &call, res, err);
    proc_stage_end(PROC_STAGE_EXECUTE, t0);
    proc_watch_end(p, &watch);
    if (rc) {
        if (!err || err->code == AOX_OK)
            aox_err_set(err, rc, "device %s failed at slot %llu", e->ops->name,
                        (unsigned long long)s);
        PROC_COUNT(p, n_faults, 1);
        if (rc == AOX_E_TIMEOUT)
            PROC_COUNT(p, n_timeouts, 1);
        aox_log(AOX_LOG_WARN, "node_fault", "\"pid\":\"%s\",\"slot\":%llu,\"code\":\"%s\"",
                e->pid, (unsigned long long)s, aox_code_name(rc));
        proc_act_error(e, rc, 1, s, err ? err->msg : "node fault");
        if (rc == AOX_E_CRASHED) {
            if (e->crash_count && e->crash_slot == s) {
                e->crash_count++;
            } else {
                e->crash_slot = s;
                e->crash_count = 1;
            }
        }
        aox_msg_free(res);
        return rc;
    }
    if (e->crash_count && e->crash_slot == s)
        e->crash_count = 0;                   /* computed at last: a transient death */
    PROC_COUNT(p, n_computed, 1);
    proc_act_result(e, s, res);
    if (aox_msg_get(res, AOX_RESULT_STATE_LOST)) {
        (void)aox_msg_remove(res, AOX_RESULT_STATE_LOST);
        if (!aox_result_is_error(res)) {
            aox_msg_free(res);
            return aox_err_set(err, AOX_E_INTERNAL, "device %s marked a successful "
                               "result state-lost", e->ops->name);
        }
        *lost = 1;
    }
    *out = res;
    return AOX_OK;
}

/* The process layer enforces the result limit for every device: a result of `got`
 * bytes over it becomes a limit_exceeded guest error (deterministic: the same limit
 * gives the same answer on replay). *out gets that error result. */
static int limit_result(aox_procs *p, proc_entry *e, size_t got, aox_msg **out,
                        aox_err *err)
{
    aox_msg *lim = aox_msg_new();
    int rc = lim ? aox_result_set_error(lim, AOX_E_LIMIT, "result of %zu bytes exceeds "
                                        "the limit of %llu bytes", got,
                                        (unsigned long long)e->limits.result_bytes)
                 : AOX_E_NOMEM;
    if (rc) {
        aox_msg_free(lim);
        return aox_err_set(err, rc, "out of memory");
    }
    PROC_COUNT(p, n_limit_result, 1);
    *out = lim;
    return AOX_OK;
}

/* Boot (device `boot` op): computes the process message (slot 0's body) on the state
 * init just made, so that r->state is the state after slot 0. *res gets the computed
 * result (without process/slot). `cached` is slot 0's cached result or NULL: a cached
 * guest failure means the state after slot 0 is init's (nothing runs). A failure the
 * device could not roll back (state-lost marker) or a result over the result limit
 * leaves a guest-failure result and the state re-initialised. Non-OK: node fault, r
 * has no state. */
static int run_boot(aox_procs *p, proc_entry *e, proc_run *r, const aox_msg *cached,
                    aox_msg **res, aox_err *err)
{
    aox_msg *a = NULL, *out = NULL;
    aox_buf enc = {0};
    const aox_msg *body;
    int rc, lost = 0;

    *res = NULL;
    if (cached && aox_result_is_error(cached))
        return AOX_OK;                          /* it failed: the state is init's */
    rc = proc_assignment_get(p, e->pid, 0, &a, err);
    if (rc == AOX_E_NOT_FOUND)
        rc = aox_err_set(err, AOX_E_CORRUPT, "slot 0 of %s is missing", e->pid);
    if (rc)
        goto fault;
    body = aox_msg_get_msg(a, "body");
    if (!body)
        body = e->def;
    rc = exec_slot(p, e, r, a, body, 0, &out, &lost, err);
    if (rc)
        goto fault;
    if (!lost && !aox_result_is_error(out) && e->limits.result_bytes) {
        /* the same rule as for every other slot (see advance) */
        rc = finish_result(e, r->state, 0, out, &enc);
        if (rc) {
            aox_err_set(err, rc, "out of memory");
            goto fault;
        }
        if (enc.len > e->limits.result_bytes) {
            aox_msg_free(out);
            out = NULL;
            rc = limit_result(p, e, enc.len, &out, err);
            if (rc)
                goto fault;
            lost = 1;
        }
    }
    if (aox_result_is_error(out))
        PROC_COUNT(p, n_guest, 1);
    if (lost) {                                 /* back to init's state */
        e->ops->free(r->state);
        r->state = NULL;
        rc = init_state(p, e, r, err);
        if (rc)
            goto fault;
    }
    *res = out;
    out = NULL;
    goto done;
fault:
    if (r->state)
        e->ops->free(r->state);
    r->state = NULL;
done:
    aox_msg_free(a);
    aox_msg_free(out);
    aox_buf_free(&enc);
    return rc;
}

/* Runs init into r (at slot 0) and makes sure result/0 exists. *res0 (may be NULL)
 * receives slot 0's result. For a device whose `boot` op says so, the process
 * message is computed too (run_boot) and slot 0's result is that computation's. */
static int run_init(aox_procs *p, proc_entry *e, proc_run *r, aox_msg **res0, aox_err *err)
{
    aox_msg *res = NULL, *cached = NULL, *booted = NULL;
    aox_buf enc = {0};
    int rc, boot = e->ops->boot && e->ops->boot(e->def);

    rc = init_state(p, e, r, err);
    if (rc)
        return rc;
    r->at_slot = 0;
    r->snap_slot = 0;
    aox_buf_free(&r->base);

    rc = proc_result_get(p, e->pid, 0, &cached);
    if (rc != AOX_OK)
        cached = NULL;
    if (boot) {
        rc = run_boot(p, e, r, cached, &booted, err);
        if (rc) {
            aox_msg_free(cached);
            return rc;
        }
    }
    if (cached) {               /* deterministic: a boot just run computed the same */
        aox_msg_free(booted);
        if (res0)
            *res0 = cached;
        else
            aox_msg_free(cached);
        return AOX_OK;
    }
    res = booted ? booted : aox_msg_new();
    rc = res ? finish_result(e, r->state, 0, res, &enc) : AOX_E_NOMEM;
    if (rc)
        aox_err_set(err, rc, "out of memory");
    else
        rc = commit_one(p, e->pid, 0, &enc, err);
    aox_buf_free(&enc);
    if (rc == AOX_OK && res0)
        *res0 = res;
    else
        aox_msg_free(res);
    if (rc)                     /* slot 0's result is not durable: keep no state */
        proc_run_clear(e, r);
    return rc;
}

static int run_restore(aox_procs *p, proc_entry *e, proc_run *r, uint64_t slot,
                       aox_buf *manifest, aox_err *err)
{
    aox_device_env env = { e->pid, p->store, &e->limits };
    aox_snap_reader *rd = NULL;
    int rc = aox_snap_reader_new(p->store, manifest->data, manifest->len, &rd, err);
    if (rc)
        return rc;
    rc = e->ops->restore(&env, e->def, rd, &r->state, err);
    aox_snap_reader_free(rd);
    if (rc) {
        r->state = NULL;
        return rc;
    }
    r->at_slot = slot;
    r->snap_slot = slot;
    aox_buf_free(&r->base);
    r->base = *manifest;
    *manifest = (aox_buf){0};
    return AOX_OK;
}

#define PROC_REBUILD (-1)           /* internal: advance() met a state-lost failure */

/* Restores r from the given snapshot, or initialises it when there is none or the
 * snapshot does not restore. *from = 1 (snapshot) or 2 (init). */
static int restore_or_init(aox_procs *p, proc_entry *e, proc_run *r, int have_snap,
                           uint64_t snap_slot, aox_buf *manifest, aox_msg **res0, int *from,
                           aox_err *err)
{
    int rc = AOX_E_NOT_FOUND;
    if (have_snap) {
        aox_err rerr = {0};
        rc = run_restore(p, e, r, snap_slot, manifest, &rerr);
        if (rc == AOX_OK) {
            *from = 1;
            return AOX_OK;
        }
        /* A bad snapshot is an optimisation lost, not a reason to fail. */
        aox_log(AOX_LOG_WARN, "snapshot_restore_failed",
                "\"pid\":\"%s\",\"slot\":%llu,\"code\":\"%s\"", e->pid,
                (unsigned long long)snap_slot, aox_code_name(rerr.code));
        if (rc == AOX_E_NOMEM) {
            if (err)
                *err = rerr;
            return rc;
        }
    }
    rc = run_init(p, e, r, res0, err);
    if (rc == AOX_OK)
        *from = 2;
    return rc;
}

/* Commits the pending batch; a snapshot manifest in it becomes r's base. */
static int flush(aox_procs *p, const char *pid, proc_run *r, pend *b, aox_buf *manifest,
                 int *snap_pending, aox_err *err)
{
    int rc;
    if (!b->n)
        return AOX_OK;
    rc = pend_commit(p, pid, b, err);
    if (rc)
        return rc;
    if (*snap_pending) {
        PROC_COUNT(p, n_snaps, 1);
        aox_buf_free(&r->base);
        r->base = *manifest;
        *manifest = (aox_buf){0};
        r->snap_slot = r->at_slot;
        *snap_pending = 0;
    }
    return AOX_OK;
}

/* Applies slots r->at_slot+1 .. to; *last (may be NULL) receives slot `to`'s result.
 *
 * A slot whose cached result is a guest error is skipped without running the device:
 * by contract the state after it is the state before it. So a replay never re-runs a
 * failure, and a device that could not roll back (see below) is rebuilt only once.
 *
 * Returns PROC_REBUILD, with *lost_slot and *lost_res (owned by the caller), when the
 * device returned a fresh guest failure marked AOX_RESULT_STATE_LOST: r's state is not
 * the state before that slot, so the caller must rebuild it. On any other failure
 * the caller must drop r (its state and base may disagree). */
static int advance(aox_procs *p, proc_entry *e, proc_run *r, uint64_t to, aox_msg **last,
                   uint64_t *applied, uint64_t *lost_slot, aox_msg **lost_res, aox_err *err)
{
    const uint64_t K = p->opts.snapshot_every;
    pend b = {{0}, 0};
    size_t pending = 0, pending_bytes = 0;
    aox_buf enc = {0}, manifest = {0}, k = {0};
    uint64_t cached_max = 0;
    aox_msg *a = NULL, *res = NULL;
    int rc = AOX_OK, have_cached, snap_pending = 0;
    uint64_t t0;

    have_cached = proc_result_latest(p, e->pid, to, &cached_max) == AOX_OK;
    while (r->at_slot < to) {
        uint64_t s = r->at_slot + 1;
        const aox_msg *body;
        int lost;

        if (have_cached && s <= cached_max &&
            proc_result_get(p, e->pid, s, &res) == AOX_OK) {
            if (aox_result_is_error(res)) {
                r->at_slot = s;                         /* skipped: state unchanged */
                goto slot_done;
            }
            aox_msg_free(res);
            res = NULL;
        }

        rc = proc_assignment_get(p, e->pid, s, &a, err);
        if (rc == AOX_E_NOT_FOUND)
            rc = aox_err_set(err, AOX_E_CORRUPT, "slot %llu of %s is counted but missing",
                             (unsigned long long)s, e->pid);
        if (rc)
            goto fail;
        body = aox_msg_get_msg(a, "body");
        if (!body) {
            rc = aox_err_set(err, AOX_E_CORRUPT, "assignment %llu of %s has no body",
                             (unsigned long long)s, e->pid);
            goto fail;
        }
        rc = exec_slot(p, e, r, a, body, s, &res, &lost, err);
        if (rc)
            goto fail;
        if (lost) {
            PROC_COUNT(p, n_guest, 1);
            rc = flush(p, e->pid, r, &b, &manifest, &snap_pending, err);
            if (rc)
                goto fail;
            *lost_slot = s;
            *lost_res = res;
            res = NULL;
            rc = PROC_REBUILD;
            goto done;
        }
        if (aox_result_is_error(res))
            PROC_COUNT(p, n_guest, 1);
        r->at_slot = s;
        t0 = proc_stage_begin(e, PROC_STAGE_ENCODE);
        rc = finish_result(e, r->state, s, res, &enc);
        proc_stage_end(PROC_STAGE_ENCODE, t0);
        if (!rc && e->limits.result_bytes && enc.len > e->limits.result_bytes &&
            !aox_result_is_error(res)) {
            /* Over the result limit: a guest error (limit_result), and since the
             * device already advanced its state, the state before the slot is
             * rebuilt as for a state-lost failure. */
            aox_msg *lim = NULL;
            rc = limit_result(p, e, enc.len, &lim, err);
            if (rc)
                goto fail;
            PROC_COUNT(p, n_guest, 1);
            rc = flush(p, e->pid, r, &b, &manifest, &snap_pending, err);
            if (rc) {
                aox_msg_free(lim);
                goto fail;
            }
            aox_msg_free(res);
            res = NULL;
            *lost_slot = s;
            *lost_res = lim;
            rc = PROC_REBUILD;
            goto done;
        }
        if (!rc)
            rc = pend_result(&b, &k, e->pid, s, &enc);
        if (rc) {
            aox_err_set(err, rc, "out of memory");
            goto fail;
        }
        pending++;
        pending_bytes += enc.len;

    slot_done:
        if (s % K == 0) {
            t0 = proc_stage_begin(e, PROC_STAGE_SNAPSHOT);
            rc = proc_snap_take(p, e, r, &manifest, err);
            proc_stage_end(PROC_STAGE_SNAPSHOT, t0);
            if (rc == AOX_E_UNSUPPORTED) {
                /* The device cannot capture this state now (e.g. lua@5.3 holding a
                 * suspended coroutine); the state itself is unchanged. Snapshots
                 * only shorten replays and results never depend on them, so skip
                 * this one and compute on: recovery starts from an older snapshot or
                 * init. (Failing here would stop the process for good at slot s.) */
                char why[AOX_ERR_MSG_MAX + 96];
                snprintf(why, sizeof why, "%s slot %llu: %s", e->pid, (unsigned long long)s,
                         err ? err->msg : "unsupported");
                aox_log_kv(AOX_LOG_WARN, "snapshot_skipped", "why", why);  /* escaped */
                if (err)
                    aox_err_clear(err);
                aox_buf_reset(&manifest);
                rc = AOX_OK;
            } else {
                if (!rc) rc = aox_key_proc(&k, e->pid, "snap", s);
                if (!rc) rc = pend_put(&b, &k, manifest.data, manifest.len);
                if (rc)
                    goto fail;
                snap_pending = 1;
            }
        }
        if (pending >= FLUSH_SLOTS || pending_bytes >= FLUSH_BYTES || s == to ||
            snap_pending) {
            t0 = proc_stage_begin(e, PROC_STAGE_STORE);
            rc = flush(p, e->pid, r, &b, &manifest, &snap_pending, err);
            proc_stage_end(PROC_STAGE_STORE, t0);
            if (rc)
                goto fail;
            pending = 0;
            pending_bytes = 0;
        }
        (*applied)++;
        aox_msg_free(a);
        a = NULL;
        if (s == to && last) {
            *last = res;
            res = NULL;
        }
        aox_msg_free(res);
        res = NULL;
    }
    goto done;
fail:
    /* Results already in `b` are valid (deterministic): keep them. (A snapshot
     * manifest in it is kept too; it only names pages already committed.) */
    (void)pend_commit(p, e->pid, &b, NULL);
done:
    aox_buf_free(&b.kv);
    aox_msg_free(a);
    aox_msg_free(res);
    aox_buf_free(&enc);
    aox_buf_free(&manifest);
    aox_buf_free(&k);
    return rc;
}

/* After PROC_REBUILD at slot s: rebuilds r as the state before s (from the nearest
 * snapshot or init, replaying up to s-1), records `res` (s's guest-failure result)
 * with that state's digest, and leaves r at slot s. *out (may be NULL) gets res. */
static int rebuild(aox_procs *p, proc_entry *e, proc_run *r, uint64_t s, aox_msg *res,
                   aox_msg **out, uint64_t *applied, aox_err *err)
{
    aox_buf manifest = {0}, enc = {0};
    uint64_t snap_slot = 0, lost = 0;
    aox_msg *lost_res = NULL;
    int rc, from = 0, have_snap;
    uint64_t t0;

    proc_run_clear(e, r);
    rc = proc_snap_find(p, e->pid, s - 1, &snap_slot, &manifest);
    have_snap = rc == AOX_OK;
    if (rc != AOX_OK && rc != AOX_E_NOT_FOUND) {
        aox_err_set(err, rc, "cannot read the snapshots of %s", e->pid);
        goto done;
    }
    t0 = proc_stage_begin(e, PROC_STAGE_LOAD);
    rc = restore_or_init(p, e, r, have_snap, snap_slot, &manifest, NULL, &from, err);
    proc_stage_end(PROC_STAGE_LOAD, t0);
    if (!rc && r->at_slot < s - 1) {
        rc = advance(p, e, r, s - 1, NULL, applied, &lost, &lost_res, err);
        if (rc == PROC_REBUILD)                 /* earlier failures are cached: skipped */
            rc = aox_err_set(err, AOX_E_INTERNAL, "slot %llu of %s lost its state again",
                             (unsigned long long)lost, e->pid);
    }
    if (!rc)
        rc = finish_result(e, r->state, s, res, &enc);
    if (!rc)
        rc = commit_one(p, e->pid, s, &enc, err);
    if (!rc) {
        r->at_slot = s;
        (*applied)++;
        if (out) {
            *out = res;
            res = NULL;
        }
    }
done:
    aox_msg_free(res);
    aox_msg_free(lost_res);
    aox_buf_free(&manifest);
    aox_buf_free(&enc);
    return rc;
}

/* Under e->state_mu: brings a state to slot `target` and returns it in *out (either
 * &e->live or scratch). strict = 1 (compute): the start must be *before* target, so
 * that target's result is produced (*res receives it); strict = 0 (dry run): a state
 * at target itself will do. On failure the state used is dropped. */
static int reach(aox_procs *p, proc_entry *e, uint64_t target, int strict, proc_run *scratch,
                 proc_run **out, aox_msg **res, aox_compute_info *info, aox_err *err)
{
    aox_buf manifest = {0};
    uint64_t snap_slot = 0, applied = 0;
    int rc = AOX_OK, have_snap = 0, live_ok, from = 0;
    proc_run *r;

    /* 2. pick the start */
    if (!strict || target > 0) {
        rc = proc_snap_find(p, e->pid, strict ? target - 1 : target, &snap_slot, &manifest);
        if (rc == AOX_OK)
            have_snap = 1;
        else if (rc != AOX_E_NOT_FOUND) {
            aox_err_set(err, rc, "cannot read the snapshots of %s", e->pid);
            goto done;
        }
        rc = AOX_OK;
    }
    live_ok = e->live.state && (strict ? e->live.at_slot < target : e->live.at_slot <= target);
    if (live_ok && !(have_snap && snap_slot > e->live.at_slot)) {
        r = &e->live;
        info->started_from = 0;
    } else {
        if (live_ok)
            proc_run_clear(e, &e->live);                /* a snapshot is further along */
        r = e->live.state ? scratch : &e->live;         /* never rewind the live state */
        uint64_t t0 = proc_stage_begin(e, PROC_STAGE_LOAD);
        rc = restore_or_init(p, e, r, have_snap, snap_slot, &manifest,
                             strict && target == 0 ? res : NULL, &from, err);
        proc_stage_end(PROC_STAGE_LOAD, t0);
        if (rc)
            goto done;
        info->started_from = from;
    }
    info->start_slot = r->at_slot;

    /* 3. apply */
    while (rc == AOX_OK && target > r->at_slot) {
        uint64_t lost = 0;
        aox_msg *lost_res = NULL;
        rc = advance(p, e, r, target, strict ? res : NULL, &applied, &lost, &lost_res, err);
        if (rc == PROC_REBUILD)
            rc = rebuild(p, e, r, lost, lost_res, strict && lost == target ? res : NULL,
                         &applied, err);
    }
    info->slots_applied = applied;
    if (rc) {
        proc_run_clear(e, r);
        goto done;
    }
    if (strict && !*res) {
        rc = aox_err_set(err, AOX_E_INTERNAL, "no result for slot %llu of %s",
                         (unsigned long long)target, e->pid);
        goto done;
    }
    *out = r;
done:
    aox_buf_free(&manifest);
    return rc;
}

/* Ends a locked section: LRU bookkeeping, unlock, then evict beyond the bound. */
static void unlock_state(aox_procs *p, proc_entry *e, proc_run *scratch)
{
    proc_run_clear(e, scratch);
    proc_lru_touch(p, e);
    pthread_mutex_unlock(&e->state_mu);
    proc_lru_evict(p, e);
}

int aox_proc_compute_cached(aox_procs *p, const char *pid, uint64_t slot,
                            aox_msg **result, uint64_t *current, aox_err *err)
{
    proc_entry *e = NULL;
    uint64_t cur = 0;
    int rc;

    *result = NULL;
    rc = proc_entry_get(p, pid, &e, err);
    if (rc)
        return rc;
    rc = proc_result_get(p, pid, slot, result);
    if (rc == AOX_OK) {
        PROC_COUNT(p, n_hits, 1);
        goto done;
    }
    if (rc != AOX_E_NOT_FOUND) {
        aox_err_set(err, rc, "cannot read result %llu of %s", (unsigned long long)slot, pid);
        goto done;
    }
    rc = proc_current_slot(p, pid, &cur, err);
    if (rc)
        goto done;
    if (current)
        *current = cur;
    if (slot > cur)
        rc = aox_err_set(err, AOX_E_NOT_YET, "slot %llu of %s is not assigned yet "
                         "(current slot %llu)", (unsigned long long)slot, pid,
                         (unsigned long long)cur);
    else
        rc = aox_err_set(err, AOX_E_NOT_FOUND, "slot %llu of %s is not computed yet",
                         (unsigned long long)slot, pid);
done:
    proc_entry_put(p, e);
    return rc;
}

int aox_proc_compute(aox_procs *p, const char *pid, uint64_t slot,
                     aox_msg **result, aox_compute_info *info, aox_err *err)
{
    aox_compute_info dummy;
    proc_entry *e = NULL;
    proc_run scratch = {0}, *r = NULL;
    uint64_t cur;
    aox_msg *res = NULL;
    int rc, locked = 0;
    uint64_t t_lock = 0;

    *result = NULL;
    if (!info)
        info = &dummy;
    memset(info, 0, sizeof *info);
    rc = proc_entry_get(p, pid, &e, err);
    if (rc)
        return rc;
    rc = proc_current_slot(p, pid, &cur, err);
    if (rc)
        goto done;
    info->current_slot = cur;

    /* 1. cached */
    rc = proc_result_get(p, pid, slot, &res);
    if (rc == AOX_OK) {
        info->cached = 1;
        PROC_COUNT(p, n_hits, 1);
        goto done;
    }
    if (rc != AOX_E_NOT_FOUND) {
        aox_err_set(err, rc, "cannot read result %llu of %s", (unsigned long long)slot, pid);
        goto done;
    }
    /* 4. not yet */
    if (slot > cur) {
        rc = aox_err_set(err, AOX_E_NOT_YET, "slot %llu of %s is not assigned yet "
                         "(current slot %llu)", (unsigned long long)slot, pid,
                         (unsigned long long)cur);
        goto done;
    }

    atomic_fetch_add_explicit(&e->act.waiting, 1, memory_order_relaxed);
    pthread_mutex_lock(&e->state_mu);
    atomic_fetch_sub_explicit(&e->act.waiting, 1, memory_order_relaxed);
    locked = 1;
    t_lock = aox_metrics_now_us();
    atomic_store_explicit(&e->act.target, slot, memory_order_relaxed);
    atomic_store_explicit(&e->act.busy, 1, memory_order_relaxed);
    rc = proc_result_get(p, pid, slot, &res);           /* computed while we waited? */
    if (rc == AOX_OK) {
        info->cached = 1;
        PROC_COUNT(p, n_hits, 1);
        goto done;
    }
    atomic_fetch_add_explicit(&e->act.computes, 1, memory_order_relaxed);
    rc = reach(p, e, slot, 1, &scratch, &r, &res, info, err);
    /* A lost worker (AOX_E_CRASHED: an isolated device process died) is a node fault
     * that may be transient (killed from outside): retry at once from the last
     * snapshot, up to PROC_CRASH_TRIES attempts in all. Then answer a clear error:
     * nothing is recorded for the slot (a crash is not a deterministic result). */
    for (int tries = 1; rc == AOX_E_CRASHED; tries++) {
        PROC_COUNT(p, n_crashes, 1);
        if (tries >= PROC_CRASH_TRIES) {
            char last[200];
            snprintf(last, sizeof last, "%.150s", err ? err->msg : "worker died");
            if (e->crash_count)
                aox_err_set(err, AOX_E_CRASHED, "slot %llu of %s not computed: its worker "
                            "died %u times in a row computing slot %llu (last: %s); a "
                            "crash is a node fault, no result is recorded",
                            (unsigned long long)slot, pid, e->crash_count,
                            (unsigned long long)e->crash_slot, last);
            else
                aox_err_set(err, AOX_E_CRASHED, "slot %llu of %s not computed: its worker "
                            "died %d times in a row starting the state (last: %s); no "
                            "result is recorded", (unsigned long long)slot, pid, tries, last);
            proc_act_error(e, AOX_E_CRASHED, 1, e->crash_count ? e->crash_slot : slot,
                           err ? err->msg : "worker died");
            break;
        }
        PROC_COUNT(p, n_crash_retries, 1);
        aox_log(AOX_LOG_WARN, "worker_crash_retry", "\"pid\":\"%s\",\"slot\":%llu,"
                "\"attempt\":%d", pid, (unsigned long long)slot, tries + 1);
        aox_msg_free(res);
        res = NULL;
        if (err)
            aox_err_clear(err);
        rc = reach(p, e, slot, 1, &scratch, &r, &res, info, err);
    }

done:
    if (locked) {
        atomic_store_explicit(&e->act.memory, e->live.state && e->ops->memory
                              ? e->ops->memory(e->live.state) : 0, memory_order_relaxed);
        atomic_fetch_add_explicit(&e->act.compute_us, aox_metrics_now_us() - t_lock,
                                  memory_order_relaxed);
        atomic_store_explicit(&e->act.stage, PROC_STAGE_IDLE, memory_order_relaxed);
        atomic_store_explicit(&e->act.busy, 0, memory_order_relaxed);
        unlock_state(p, e, &scratch);
    }
    if (rc == AOX_OK)
        *result = res;
    else
        aox_msg_free(res);
    proc_entry_put(p, e);
    return rc;
}

int aox_proc_dry_run(aox_procs *p, const char *pid, const aox_msg *msg,
                     aox_msg **result, aox_err *err)
{
    return aox_proc_dry_run_ex(p, pid, msg, NULL, result, err);
}

#define DRY_ID_MAX 256

int aox_proc_dry_run_ex(aox_procs *p, const char *pid, const aox_msg *msg,
                        const aox_dry_run_opts *opts, aox_msg **result, aox_err *err)
{
    aox_compute_info info = {0};
    proc_entry *e = NULL;
    proc_run scratch = {0}, *r = NULL;
    aox_msg *a = NULL, *res = NULL, *last = NULL;
    aox_buf enc = {0};
    char idbuf[AOX_ID_LEN + 1];
    const char *id = opts ? opts->message_id : NULL;
    uint64_t cur;
    int64_t ts = 0, height = 0;
    aox_call call;
    proc_watch watch;
    int rc, locked = 0;

    *result = NULL;
    if (id && (!id[0] || strlen(id) > DRY_ID_MAX))
        return aox_err_set(err, AOX_E_INVALID, "dry run: a message ID must be 1..%d bytes",
                           DRY_ID_MAX);
    rc = proc_entry_get(p, pid, &e, err);
    if (rc)
        return rc;
    rc = aox_msg_encode(msg, &enc);
    if (rc == AOX_OK && e->limits.message_bytes && enc.len > e->limits.message_bytes)
        rc = aox_err_set(err, AOX_E_TOO_LARGE, "message of %zu bytes exceeds the limit of "
                         "%llu", enc.len, (unsigned long long)e->limits.message_bytes);
    if (rc == AOX_OK && !id) {
        rc = aox_msg_id(msg, idbuf);
        id = idbuf;
    }
    if (rc) {
        if (!err || err->code == AOX_OK)
            aox_err_set(err, rc, "cannot encode the message");
        goto done;
    }
    pthread_mutex_lock(&e->state_mu);
    locked = 1;
    rc = proc_current_slot(p, pid, &cur, err);
    if (!rc)
        rc = reach(p, e, cur, 0, &scratch, &r, &res, &info, err);
    if (!rc)
        rc = proc_assignment_get(p, e->pid, cur, &last, err);
    if (rc)
        goto done;

    /* The message as if assigned next: no hash-chain, nothing stored. Time and
     * height are the latest assignment's (never the host clock: deterministic). */
    (void)aox_msg_get_int(last, "timestamp", &ts);
    (void)aox_msg_get_int(last, "block-height", &height);
    a = aox_msg_new();
    res = aox_msg_new();
    if (!a || !res) {
        rc = aox_err_set(err, AOX_E_NOMEM, "out of memory");
        goto done;
    }
    rc = aox_msg_set_str(a, "process", pid);
    if (!rc) rc = aox_msg_set_int(a, "slot", (int64_t)(cur + 1));
    if (!rc) rc = aox_msg_set_int(a, "timestamp", ts);
    if (!rc) rc = aox_msg_set_int(a, "block-height", height);
    if (!rc) rc = aox_msg_set_str(a, "message-id", id);
    if (!rc) rc = aox_msg_set_msg(a, "body", msg);
    if (rc) {
        aox_err_set(err, rc, "out of memory");
        goto done;
    }
    aox_call_init(&call, e->pid, e->def, a, aox_msg_get_msg(a, "body"), cur + 1, &e->limits);
    call.dry_run = 1;
    if (err)
        aox_err_clear(err);
    proc_watch_begin(p, &watch, e->limits.wall_ms);
    call.interrupt = &watch.flag;
    rc = e->ops->compute(r->state, &call, res, err);
    proc_watch_end(p, &watch);
    if (rc) {
        if (!err || err->code == AOX_OK)
            aox_err_set(err, rc, "device %s failed in a dry run", e->ops->name);
        proc_run_clear(e, r);                 /* a node fault: the state is suspect */
        goto done;
    }
    (void)aox_msg_remove(res, AOX_RESULT_STATE_LOST);    /* dry runs keep no state */
    rc = aox_msg_set_str(res, "process", pid);
    if (!rc) rc = aox_msg_set_int(res, "slot", (int64_t)(cur + 1));
    if (!rc) rc = aox_msg_set_int(res, "dry-run", 1);
    if (rc)
        aox_err_set(err, rc, "out of memory");
done:
    if (locked)
        unlock_state(p, e, &scratch);
    aox_msg_free(a);
    aox_msg_free(last);
    aox_buf_free(&enc);
    if (rc == AOX_OK)
        *result = res;
    else
        aox_msg_free(res);
    proc_entry_put(p, e);
    return rc;
}

int aox_proc_now(aox_procs *p, const char *pid, aox_msg **result,
                 aox_compute_info *info, aox_err *err)
{
    uint64_t cur;
    int rc = aox_proc_current_slot(p, pid, &cur, err);
    *result = NULL;
    if (rc)
        return rc;
    return aox_proc_compute(p, pid, cur, result, info, err);
}

int aox_proc_result_by_message(aox_procs *p, const char *pid, const char *msg_id,
                               aox_msg **result, uint64_t *slot, aox_err *err)
{
    uint64_t s;
    int rc = aox_proc_slot_of_message(p, pid, msg_id, &s, err);
    *result = NULL;
    if (rc)
        return rc;
    if (slot)
        *slot = s;
    return aox_proc_compute(p, pid, s, result, NULL, err);
}
