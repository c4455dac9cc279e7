/*
 * process/sched.c: the scheduler — spawn (slot 0), schedule (dense slots), and reads
 * of the schedule.
 *
 * An assignment is a message:
 *
 *   process       pid
 *   slot          int, dense from 0 (slot 0 = the definition)
 *   timestamp     int, ms since the epoch from the node clock, never decreasing
 *                 within a process
 *   block-height  int, opts.block_height
 *   message-id    the body's ID
 *   hash-chain    base64url( SHA-256( prev || digest(message-id) ) ) where prev is the
 *                 previous assignment's hash-chain digest (32 bytes); for slot 0,
 *                 prev = digest(pid) and message-id = pid
 *   body          the message
 *
 * One batch holds proc/<pid>/assign/<slot>, the counter proc/<pid>/slot (next slot,
 * be64) and proc/<pid>/msg/<id> (be64 slot); it is committed before the caller hears
 * of the slot. The per-process sched_mu makes slots dense and distinct. (One manager
 * per store and process is assumed; a cluster's shared store needs a lease first.)
 */
#include <string.h>

#include "core/id.h"
#include "process/proc_int.h"

static int64_t now_ms(aox_procs *p)
{
    return p->opts.clock_ms(p->opts.clock_ud);
}

/* Builds an assignment message (body deep-copied). */
static int make_assignment(const char *pid, uint64_t slot, int64_t ts, int64_t height,
                           const char *msg_id, const uint8_t chain[32], const aox_msg *body,
                           aox_msg **out)
{
    char chain_s[AOX_ID_LEN + 1];
    aox_msg *a = aox_msg_new();
    int rc;

    *out = NULL;
    if (!a)
        return AOX_E_NOMEM;
    aox_id_from_hash(chain, chain_s);
    rc = aox_msg_set_str(a, "process", pid);
    if (!rc) rc = aox_msg_set_int(a, "slot", (int64_t)slot);
    if (!rc) rc = aox_msg_set_int(a, "timestamp", ts);
    if (!rc) rc = aox_msg_set_int(a, "block-height", height);
    if (!rc) rc = aox_msg_set_str(a, "message-id", msg_id);
    if (!rc) rc = aox_msg_set_str(a, "hash-chain", chain_s);
    if (!rc) rc = aox_msg_set_msg(a, "body", body);
    if (rc) {
        aox_msg_free(a);
        return rc;
    }
    *out = a;
    return AOX_OK;
}

/* Adds assignment, counter and message lookup (and, for spawn, the definition) to
 * the forming commit group. On success *g holds a reference: the caller must
 * proc_gc_wait(g) before anyone hears of the slot. */
static int join_assignment(aox_procs *p, uint64_t epoch, const char *pid, uint64_t slot,
                           const char *msg_id, const aox_msg *a, const aox_buf *def_enc,
                           proc_group **g, aox_err *err)
{
    aox_buf k = {0}, enc = {0};
    aox_batch *b;
    uint8_t be_next[8], be_slot[8];
    int rc;

    *g = NULL;
    aox_be_put(be_next, slot + 1, 8);
    aox_be_put(be_slot, slot, 8);
    rc = aox_msg_encode(a, &enc);
    if (rc) {
        aox_buf_free(&enc);
        return aox_err_set(err, rc, "cannot encode the assignment");
    }
    rc = proc_gc_join(p, epoch, pid, g, err);
    if (rc) {
        aox_buf_free(&enc);
        return rc;
    }
    b = (*g)->b;                                          /* gc_mu held */
    if (def_enc) {
        rc = aox_key_proc(&k, pid, "def", AOX_KEY_NOSLOT);
        if (!rc) rc = aox_batch_put(b, k.data, k.len, def_enc->data, def_enc->len);
    }
    if (!rc) rc = aox_key_proc(&k, pid, "assign", slot);
    if (!rc) rc = aox_batch_put(b, k.data, k.len, enc.data, enc.len);
    if (!rc) rc = aox_key_proc(&k, pid, "slot", AOX_KEY_NOSLOT);
    if (!rc) rc = aox_batch_put(b, k.data, k.len, be_next, 8);
    if (!rc) rc = aox_key_proc_str(&k, pid, "msg", msg_id);
    if (!rc) rc = aox_batch_put(b, k.data, k.len, be_slot, 8);
    proc_gc_joined(p, *g, rc);                            /* releases gc_mu */
    aox_buf_free(&k);
    aox_buf_free(&enc);
    return AOX_OK;     /* a failed put fails the whole group: proc_gc_wait reports it */
}

static void pending_unlink(proc_pending **head, proc_pending *n)
{
    for (proc_pending **pp = head; *pp; pp = &(*pp)->next)
        if (*pp == n) {
            *pp = n->next;
            return;
        }
}

static proc_pending *pending_find(proc_pending *head, const char *id)
{
    for (; head; head = head->next)
        if (strcmp(head->id, id) == 0)
            return head;
    return NULL;
}

int proc_assignment_get(aox_procs *p, const char *pid, uint64_t slot, aox_msg **out,
                        aox_err *err)
{
    aox_buf k = {0}, v = {0};
    int rc = aox_key_proc(&k, pid, "assign", slot);
    *out = NULL;
    if (!rc)
        rc = aox_store_get(p->store, k.data, k.len, &v);
    if (rc == AOX_E_NOT_FOUND)
        aox_err_set(err, rc, "slot %llu of %s is not assigned", (unsigned long long)slot, pid);
    else if (rc)
        aox_err_set(err, rc, "cannot read assignment %llu of %s", (unsigned long long)slot, pid);
    else
        rc = aox_msg_decode(v.data, v.len, out, err);
    aox_buf_free(&k);
    aox_buf_free(&v);
    return rc;
}

int proc_current_slot(aox_procs *p, const char *pid, uint64_t *slot, aox_err *err)
{
    aox_buf k = {0};
    uint64_t next = 0;
    int rc = aox_key_proc(&k, pid, "slot", AOX_KEY_NOSLOT);
    if (!rc)
        rc = proc_get_u64(p->store, &k, &next);
    aox_buf_free(&k);
    if (rc == AOX_E_NOT_FOUND)
        return aox_err_set(err, rc, "process %s not found", pid);
    if (rc == AOX_OK && next == 0)
        rc = AOX_E_CORRUPT;
    if (rc)
        return aox_err_set(err, rc, "cannot read the slot counter of %s", pid);
    *slot = next - 1;
    return AOX_OK;
}

void aox_proc_forget_tail(aox_procs *p, const char *pid)
{
    proc_entry *e;
    aox_err err;
    if (proc_entry_get(p, pid, &e, &err) != AOX_OK)
        return;                        /* not spawned (yet): nothing cached */
    pthread_mutex_lock(&e->sched_mu);
    e->chain_ok = 0;
    pthread_mutex_unlock(&e->sched_mu);
    proc_entry_put(p, e);
}

/* ------------------------------------------------------------------ spawn */

int aox_proc_spawn(aox_procs *p, const aox_msg *def, char pid[AOX_ID_LEN + 1],
                   aox_msg **assignment, aox_err *err)
{
    aox_buf enc = {0}, k = {0}, v = {0};
    uint8_t h[32], chain[32];
    aox_msg *a = NULL;
    proc_pending me, *dup;
    int rc;

    memset(&me, 0, sizeof me);
    if (assignment)
        *assignment = NULL;
    rc = aox_device_check(def, err);
    if (rc)
        return rc;
    rc = aox_msg_encode(def, &enc);
    if (rc) {
        aox_err_set(err, rc, "cannot encode the definition");
        goto done;
    }
    if (p->opts.max_limits.message_bytes && enc.len > p->opts.max_limits.message_bytes) {
        rc = aox_err_set(err, AOX_E_TOO_LARGE, "definition of %zu bytes exceeds the node's "
                         "limit of %llu", enc.len,
                         (unsigned long long)p->opts.max_limits.message_bytes);
        goto done;
    }
    rc = aox_msg_id(def, pid);
    if (!rc) rc = aox_id_to_hash(pid, h);
    if (rc) {
        aox_err_set(err, rc, "cannot compute the definition's ID");
        goto done;
    }

    pthread_mutex_lock(&p->spawn_mu);
    rc = aox_key_proc(&k, pid, "def", AOX_KEY_NOSLOT);
    if (!rc)
        rc = aox_store_get(p->store, k.data, k.len, &v);
    if (rc == AOX_E_NOT_FOUND && (dup = pending_find(p->spawn_pending, pid)) != NULL) {
        /* the same spawn is waiting for its commit: wait for that one */
        proc_group *g = dup->g;
        proc_gc_ref(p, g);
        pthread_mutex_unlock(&p->spawn_mu);
        rc = proc_gc_wait(p, g, err);
        if (rc == AOX_OK && assignment)
            rc = proc_assignment_get(p, pid, 0, assignment, err);
        goto done;
    }
    if (rc == AOX_OK) {                                   /* already spawned */
        pthread_mutex_unlock(&p->spawn_mu);
        if (assignment)
            rc = proc_assignment_get(p, pid, 0, assignment, err);
        goto done;
    }
    if (rc != AOX_E_NOT_FOUND) {
        pthread_mutex_unlock(&p->spawn_mu);
        aox_err_set(err, rc, "cannot read the store");
        goto done;
    }
    aox_sha256_2(h, 32, h, 32, chain);
    rc = make_assignment(pid, 0, now_ms(p), p->opts.block_height, pid, chain, def, &a);
    if (rc) {
        aox_err_set(err, rc, "out of memory");
        pthread_mutex_unlock(&p->spawn_mu);
        goto done;
    }
    rc = join_assignment(p, PROC_GC_ANY_EPOCH, pid, 0, pid, a, &enc, &me.g, err);
    if (rc) {
        pthread_mutex_unlock(&p->spawn_mu);
        goto done;
    }
    memcpy(me.id, pid, AOX_ID_LEN + 1);
    me.slot = 0;
    me.next = p->spawn_pending;
    p->spawn_pending = &me;
    pthread_mutex_unlock(&p->spawn_mu);
    rc = proc_gc_wait(p, me.g, err);                      /* durable before answered */
    pthread_mutex_lock(&p->spawn_mu);
    pending_unlink(&p->spawn_pending, &me);
    pthread_mutex_unlock(&p->spawn_mu);
    if (rc == AOX_OK)
        PROC_COUNT(p, n_assign, 1);
    if (rc == AOX_OK && assignment) {
        *assignment = a;
        a = NULL;
    }
done:
    aox_msg_free(a);
    aox_buf_free(&enc);
    aox_buf_free(&k);
    aox_buf_free(&v);
    return rc;
}

/* ------------------------------------------------------------------ schedule */

/* Loads the schedule's tail (next slot, last chain, last timestamp) into e. */
static int load_tail(aox_procs *p, proc_entry *e, aox_err *err)
{
    aox_msg *last = NULL;
    uint64_t cur;
    const char *chain;
    int64_t ts = 0;
    int rc = proc_current_slot(p, e->pid, &cur, err);
    if (!rc)
        rc = proc_assignment_get(p, e->pid, cur, &last, err);
    if (rc)
        return rc;
    chain = aox_msg_get_str(last, "hash-chain", NULL);
    if (!chain || aox_id_to_hash(chain, e->chain)) {
        rc = aox_err_set(err, AOX_E_CORRUPT, "assignment %llu of %s has no valid hash-chain",
                         (unsigned long long)cur, e->pid);
    } else {
        (void)aox_msg_get_int(last, "timestamp", &ts);
        e->last_ts = ts;
        e->next_slot = cur + 1;
        e->chain_ok = 1;
    }
    aox_msg_free(last);
    return rc;
}

int aox_proc_schedule(aox_procs *p, const char *pid, const aox_msg *msg,
                      aox_msg **assignment, aox_err *err)
{
    proc_entry *e = NULL;
    aox_buf enc = {0}, k = {0};
    char id[AOX_ID_LEN + 1];
    uint8_t idh[32], chain[32];
    uint64_t slot;
    int64_t ts;
    aox_msg *a = NULL;
    proc_pending me, *dup;
    uint64_t epoch;
    int rc, locked = 0;

    memset(&me, 0, sizeof me);
    if (assignment)
        *assignment = NULL;
    rc = proc_entry_get(p, pid, &e, err);
    if (rc)
        return rc;
    rc = aox_msg_encode(msg, &enc);
    if (rc) {
        aox_err_set(err, rc, "cannot encode the message");
        goto done;
    }
    if (e->limits.message_bytes && enc.len > e->limits.message_bytes) {
        PROC_COUNT(p, n_limit_message, 1);
        rc = aox_err_set(err, AOX_E_TOO_LARGE, "message of %zu bytes exceeds the limit of "
                         "%llu", enc.len, (unsigned long long)e->limits.message_bytes);
        goto done;
    }
    rc = aox_msg_id(msg, id);
    if (!rc) rc = aox_id_to_hash(id, idh);
    if (rc) {
        aox_err_set(err, rc, "cannot compute the message's ID");
        goto done;
    }

    pthread_mutex_lock(&e->sched_mu);
    locked = 1;
    /* idempotent: the message is already in this process's schedule */
    rc = aox_key_proc_str(&k, pid, "msg", id);
    if (!rc)
        rc = proc_get_u64(p->store, &k, &slot);
    if (rc == AOX_E_NOT_FOUND && (dup = pending_find(e->pending, id)) != NULL) {
        /* ... or waiting for its commit: answer once that commit is durable */
        proc_group *g = dup->g;
        slot = dup->slot;
        proc_gc_ref(p, g);
        pthread_mutex_unlock(&e->sched_mu);
        locked = 0;
        rc = proc_gc_wait(p, g, err);
        if (rc == AOX_OK && assignment)
            rc = proc_assignment_get(p, pid, slot, assignment, err);
        goto done;
    }
    if (rc == AOX_OK) {
        if (assignment)
            rc = proc_assignment_get(p, pid, slot, assignment, err);
        goto done;
    }
    if (rc != AOX_E_NOT_FOUND) {
        aox_err_set(err, rc, "cannot read the message index of %s", pid);
        goto done;
    }
    epoch = atomic_load_explicit(&p->gc_epoch, memory_order_relaxed);
    if (!e->chain_ok || e->tail_epoch != epoch) {
        /* After a failed group commit the cached tail may name slots that were
         * never committed: reload it. With other schedules of this process still
         * waiting, their slots are in a poisoned group and fail too. */
        e->chain_ok = 0;
        rc = load_tail(p, e, err);
        if (rc)
            goto done;
        e->tail_epoch = epoch;
    }
    slot = e->next_slot;
    ts = now_ms(p);
    if (ts < e->last_ts)
        ts = e->last_ts;
    aox_sha256_2(e->chain, 32, idh, 32, chain);
    rc = make_assignment(pid, slot, ts, p->opts.block_height, id, chain, msg, &a);
    if (rc) {
        aox_err_set(err, rc, "out of memory");
        goto done;
    }
    rc = join_assignment(p, epoch, pid, slot, id, a, NULL, &me.g, err);
    if (rc) {
        e->chain_ok = 0;            /* reload the tail from the store next time */
        goto done;
    }
    /* The tail moves on at once, so the next schedule of this process can join the
     * same group; nobody hears of this slot before proc_gc_wait says it is durable. */
    e->next_slot = slot + 1;
    memcpy(e->chain, chain, 32);
    e->last_ts = ts;
    memcpy(me.id, id, AOX_ID_LEN + 1);
    me.slot = slot;
    me.next = e->pending;
    e->pending = &me;
    pthread_mutex_unlock(&e->sched_mu);
    locked = 0;
    rc = proc_gc_wait(p, me.g, err);
    pthread_mutex_lock(&e->sched_mu);
    pending_unlink(&e->pending, &me);
    if (rc)
        e->chain_ok = 0;
    pthread_mutex_unlock(&e->sched_mu);
    if (rc)
        goto done;
    PROC_COUNT(p, n_assign, 1);
    if (assignment) {
        *assignment = a;
        a = NULL;
    }
done:
    if (locked)
        pthread_mutex_unlock(&e->sched_mu);
    aox_msg_free(a);
    aox_buf_free(&enc);
    aox_buf_free(&k);
    proc_entry_put(p, e);
    return rc;
}

/* ------------------------------------------------------------------ reads */

int aox_proc_current_slot(aox_procs *p, const char *pid, uint64_t *slot, aox_err *err)
{
    proc_entry *e;
    int rc = proc_entry_get(p, pid, &e, err);
    if (rc)
        return rc;
    rc = proc_current_slot(p, pid, slot, err);
    proc_entry_put(p, e);
    return rc;
}

int aox_proc_definition(aox_procs *p, const char *pid, aox_msg **def, aox_err *err)
{
    proc_entry *e;
    int rc = proc_entry_get(p, pid, &e, err);
    *def = NULL;
    if (rc)
        return rc;
    *def = aox_msg_clone(e->def);
    proc_entry_put(p, e);
    return *def ? AOX_OK : aox_err_set(err, AOX_E_NOMEM, "out of memory");
}

int aox_proc_assignment(aox_procs *p, const char *pid, uint64_t slot,
                        aox_msg **assignment, aox_err *err)
{
    proc_entry *e;
    int rc = proc_entry_get(p, pid, &e, err);
    *assignment = NULL;
    if (rc)
        return rc;
    rc = proc_assignment_get(p, pid, slot, assignment, err);
    proc_entry_put(p, e);
    return rc;
}

int aox_proc_slot_of_message(aox_procs *p, const char *pid, const char *msg_id,
                             uint64_t *slot, aox_err *err)
{
    proc_entry *e;
    aox_buf k = {0};
    int rc = proc_entry_get(p, pid, &e, err);
    if (rc)
        return rc;
    if (!msg_id || !aox_id_valid(msg_id)) {
        rc = aox_err_set(err, AOX_E_INVALID, "'%.64s' is not a message ID",
                         msg_id ? msg_id : "");
        goto done;
    }
    rc = aox_key_proc_str(&k, pid, "msg", msg_id);
    if (!rc)
        rc = proc_get_u64(p->store, &k, slot);
    if (rc == AOX_E_NOT_FOUND)
        aox_err_set(err, rc, "message %s is not scheduled in %s", msg_id, pid);
    else if (rc)
        aox_err_set(err, rc, "cannot read the message index of %s", pid);
done:
    aox_buf_free(&k);
    proc_entry_put(p, e);
    return rc;
}

typedef struct scan_ctx {
    uint64_t      to;
    size_t        prefix_len;
    aox_assign_fn fn;
    void         *ud;
    int           rc;          /* decode failure */
    int           stopped;
} scan_ctx;

static int scan_one(void *ud, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
    scan_ctx *c = ud;
    aox_msg *a = NULL;
    uint64_t slot = 0;
    int r;
    if (kl != c->prefix_len + 8) {
        c->rc = AOX_E_CORRUPT;
        return 1;
    }
    slot = aox_be_get(k + c->prefix_len, 8);
    if (slot > c->to)
        return 1;
    c->rc = aox_msg_decode(v, vl, &a, NULL);
    if (c->rc)
        return 1;
    r = c->fn(c->ud, a);
    aox_msg_free(a);
    if (r)
        c->stopped = 1;
    return r ? 1 : 0;
}

int aox_proc_assignments(aox_procs *p, const char *pid, uint64_t from, uint64_t to,
                         aox_assign_fn fn, void *ud, aox_err *err)
{
    proc_entry *e;
    aox_buf prefix = {0}, start = {0};
    uint64_t cur;
    scan_ctx c = {0};
    int rc = proc_entry_get(p, pid, &e, err);
    if (rc)
        return rc;
    rc = proc_current_slot(p, pid, &cur, err);
    if (rc)
        goto done;
    if (to > cur)
        to = cur;
    if (from > to)
        goto done;
    rc = proc_key_prefix(&prefix, pid, "assign");
    if (!rc) rc = aox_key_proc(&start, pid, "assign", from);
    if (rc) {
        aox_err_set(err, rc, "out of memory");
        goto done;
    }
    c.to = to;
    c.prefix_len = prefix.len;
    c.fn = fn;
    c.ud = ud;
    rc = aox_store_scan(p->store, prefix.data, prefix.len, start.data, start.len, 0,
                        scan_one, &c);
    if (c.rc)
        rc = aox_err_set(err, c.rc, "corrupt assignment in %s", pid);
    else if (rc == 1)
        rc = AOX_OK;                          /* stopped by us or by fn */
    else if (rc)
        aox_err_set(err, rc, "cannot scan the assignments of %s", pid);
done:
    aox_buf_free(&prefix);
    aox_buf_free(&start);
    proc_entry_put(p, e);
    return rc;
}
