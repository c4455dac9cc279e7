/*
 * node/delegate.c: delegated@1.0 (the delegating side: a device that forwards each
 * slot to peers and verifies their answers) and the peer side of
 * POST /~delegate@1.0/compute (an in-memory table of imported assignments and
 * device states). Protocol and checks: node/delegate.h.
 */
#include "node/delegate.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/id.h"
#include "core/identity.h"
#include "core/json.h"
#include "core/log.h"
#include "core/metrics.h"
#include "http/client.h"

#define DELEGATE_NAME  "delegated@1.0"
#define MAX_PEERS      16
#define URL_MAX        256
#define BACKOFF_MS     50
#define BACKOFF_MAX_MS 1000

/* ---------------------------------------------------------------- configuration */

static struct {
    pthread_mutex_t     mu;             /* guards the fields below and the table */
    char                peers[MAX_PEERS][URL_MAX];
    unsigned            npeers;
    uint64_t            timeout_ms;
    unsigned            attempts;
    const aox_identity *identity;
    aox_delegate_forge  forge;
    aox_store          *store;
    uint64_t            peer_max;       /* imported assignments kept (table bound) */
} cfg = { .mu = PTHREAD_MUTEX_INITIALIZER, .peer_max = 100000 };

static atomic_ullong served_n, rejected_n;
/* peer table accounting: assignments held over all entries (updated under the
 * entry's mu, read under cfg.mu), entries, evictions */
static atomic_ullong held_n, entries_n, evicted_n;

uint64_t aox_delegate_served(void) { return served_n; }
uint64_t aox_delegate_rejected(void) { return rejected_n; }

static void table_clear(void);

int aox_delegate_configure(const aox_delegate_opts *o, aox_err *err)
{
    int rc = AOX_OK;
    const char *p;

    pthread_mutex_lock(&cfg.mu);
    cfg.npeers = 0;
    p = o->peers ? o->peers : "";
    while (*p) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n > 0) {
            if (cfg.npeers == MAX_PEERS) {
                rc = aox_err_set(err, AOX_E_CONFIG, "--peers: more than %d peers", MAX_PEERS);
                goto done;
            }
            if (n >= URL_MAX || (strncmp(p, "http://", 7) && strncmp(p, "https://", 8))) {
                rc = aox_err_set(err, AOX_E_CONFIG,
                                 "--peers: '%.*s' is not an http(s) URL", (int)(n > 200 ? 200 : n), p);
                goto done;
            }
            memcpy(cfg.peers[cfg.npeers], p, n);
            cfg.peers[cfg.npeers][n] = '\0';
            if (n > 1 && cfg.peers[cfg.npeers][n - 1] == '/') cfg.peers[cfg.npeers][n - 1] = '\0';
            cfg.npeers++;
        }
        p += n + (e ? 1 : 0);
    }
    cfg.timeout_ms = o->timeout_ms ? o->timeout_ms : 10000;
    cfg.attempts = o->attempts;
    cfg.identity = o->identity;
    cfg.forge = o->forge;
    cfg.store = o->store;
    cfg.peer_max = o->peer_max ? o->peer_max : 100000;
done:
    pthread_mutex_unlock(&cfg.mu);
    return rc;
}

/* ================================================================ peer side */

/* One delegated process as a peer holds it. Slots strictly ascend in asg[]; gaps
 * are allowed (a delegator skips failed slots on replay, and a failed slot leaves
 * the state unchanged, so skipping it is the same as applying it). */
typedef struct pentry {
    char             pid[AOX_ID_LEN + 1];
    char             from[AOX_ID_LEN + 1];  /* delegator's node address */
    aox_buf          def_enc;           /* canonical encoding of the definition */
    aox_msg         *def;               /* with execution-device = delegate-device */
    const aox_device_ops *ops;
    int              boot;              /* ops boots for def: slot 0 is an assignment */
    pthread_mutex_t  mu;                /* serialises compute on this process */
    aox_msg        **asg;               /* imported assignments */
    aox_msg        **res;               /* answers (unsigned) per asg[i], NULL = not yet */
    size_t           n, cap;
    void            *state;             /* state after asg[0..at-1]; NULL = not built */
    size_t           at;
    uint8_t          digest[32];        /* digest of that state (valid if at > 0) */
    unsigned         refs;              /* requests using it (cfg.mu); 0 = evictable */
    struct pentry   *next;              /* most recently used first */
} pentry;

static pentry *table;

static void peer_metrics(uint64_t evicted)
{
    static const aox_metric_def dp = { AOX_METRIC_GAUGE, "aox_delegate_peer_processes",
        "delegated processes held by this node as a peer", NULL, NULL, 0, 0 };
    static const aox_metric_def da = { AOX_METRIC_GAUGE, "aox_delegate_peer_assignments",
        "imported assignments held by this node as a delegation peer", NULL, NULL, 0, 0 };
    static const aox_metric_def de = { AOX_METRIC_COUNTER, "aox_delegate_peer_evictions_total",
        "delegated processes dropped from the peer table (--delegate-peer-max)", NULL,
        NULL, 0, 0 };
    aox_metric_set(aox_metric_get(&dp), NULL, 0, (int64_t)entries_n);
    aox_metric_set(aox_metric_get(&da), NULL, 0, (int64_t)held_n);
    aox_metric_inc(aox_metric_get(&de), NULL, 0, evicted);
}

void aox_delegate_peer_stats(uint64_t *processes, uint64_t *assignments,
                             uint64_t *evictions)
{
    if (processes) *processes = entries_n;
    if (assignments) *assignments = held_n;
    if (evictions) *evictions = evicted_n;
}

static void pentry_free(pentry *e)
{
    size_t i;
    if (!e) return;
    held_n -= e->n;
    if (e->state && e->ops) e->ops->free(e->state);
    for (i = 0; i < e->n; i++) { aox_msg_free(e->asg[i]); aox_msg_free(e->res[i]); }
    free(e->asg);
    free(e->res);
    aox_msg_free(e->def);
    aox_buf_free(&e->def_enc);
    pthread_mutex_destroy(&e->mu);
    free(e);
}

static void table_clear(void)
{
    while (table) {
        pentry *e = table;
        table = e->next;
        pentry_free(e);
        entries_n--;
    }
}

/* Ends a request's use of e; then drops least recently used entries not in use while
 * the table holds more than peer_max assignments. */
static void pentry_release(pentry *e)
{
    uint64_t dropped = 0;
    pthread_mutex_lock(&cfg.mu);
    e->refs--;
    while (held_n > cfg.peer_max) {
        pentry **pp, **victim = NULL;
        for (pp = &table; *pp; pp = &(*pp)->next)
            if ((*pp)->refs == 0) victim = pp;         /* the last one: least recent */
        if (!victim) break;
        e = *victim;
        *victim = e->next;
        aox_log(AOX_LOG_INFO, "delegate-peer-evicted",
                "\"pid\":\"%s\",\"from\":\"%s\",\"assignments\":%llu", e->pid, e->from,
                (unsigned long long)e->n);
        pentry_free(e);
        entries_n--;
        evicted_n++;
        dropped++;
    }
    peer_metrics(dropped);
    pthread_mutex_unlock(&cfg.mu);
}

void aox_delegate_shutdown(void)
{
    pthread_mutex_lock(&cfg.mu);
    table_clear();
    cfg.npeers = 0;
    cfg.identity = NULL;
    cfg.store = NULL;
    cfg.forge = AOX_FORGE_OFF;
    pthread_mutex_unlock(&cfg.mu);
}

static uint64_t slot_of(const aox_msg *a)
{
    int64_t s = -1;
    if (aox_msg_get_int(a, "slot", &s) || s < 0) return UINT64_MAX;
    return (uint64_t)s;
}

static void digest_text(const uint8_t d[32], char out[AOX_ID_LEN + 1])
{
    aox_id_from_hash(d, out);
}

/* The definition as the peers run it: execution-device = delegate-device, no
 * `device`. *out is NULL when delegate-device is missing or names delegated@1.0. */
static int peer_def(const aox_msg *def, aox_msg **out)
{
    const char *inner = aox_msg_get_str(def, "delegate-device", NULL);
    aox_msg *d;

    *out = NULL;
    if (!inner || !*inner || strcmp(inner, DELEGATE_NAME) == 0) return AOX_OK;
    d = aox_msg_clone(def);
    if (!d || aox_msg_set_str(d, "execution-device", inner)) {
        aox_msg_free(d);
        return AOX_E_NOMEM;
    }
    aox_msg_remove(d, "device");
    *out = d;
    return AOX_OK;
}

/* Finds or creates the entry for pid (definition must match an existing one). */
static int pentry_get(const char *from, const char *pid, const aox_msg *def, pentry **out,
                      aox_err *err)
{
    aox_buf enc = {0};
    pentry *e;
    const char *inner;
    int rc;

    rc = aox_msg_encode(def, &enc);
    if (rc) { aox_err_set(err, rc, "cannot encode the definition"); goto fail; }
    pthread_mutex_lock(&cfg.mu);
    {
        pentry **pp;
        for (pp = &table; *pp; pp = &(*pp)->next)
            if (!strcmp((*pp)->pid, pid) && !strcmp((*pp)->from, from)) break;
        e = *pp;
        if (e && pp != &table) {           /* most recently used first */
            *pp = e->next;
            e->next = table;
            table = e;
        }
    }
    if (e) {
        if (e->def_enc.len != enc.len || memcmp(e->def_enc.data, enc.data, enc.len)) {
            pthread_mutex_unlock(&cfg.mu);
            rc = aox_err_set(err, AOX_E_CONFLICT, "process %s: another definition", pid);
            goto fail;
        }
        e->refs++;
        pthread_mutex_unlock(&cfg.mu);
        aox_buf_free(&enc);
        *out = e;
        return AOX_OK;
    }
    inner = aox_msg_get_str(def, "delegate-device", NULL);
    if (!inner || !aox_device_find(inner) || strcmp(inner, DELEGATE_NAME) == 0) {
        pthread_mutex_unlock(&cfg.mu);
        rc = aox_err_set(err, AOX_E_INVALID, "delegate-device '%s' is not a device of this peer",
                         inner ? inner : "");
        goto fail;
    }
    e = calloc(1, sizeof *e);
    if (!e || peer_def(def, &e->def) || !e->def) {
        pthread_mutex_unlock(&cfg.mu);
        free(e);
        rc = aox_err_set(err, AOX_E_NOMEM, "out of memory");
        goto fail;
    }
    pthread_mutex_init(&e->mu, NULL);
    memcpy(e->pid, pid, AOX_ID_LEN + 1);
    memcpy(e->from, from, AOX_ID_LEN + 1);
    e->def_enc = enc;
    enc = (aox_buf){0};
    e->ops = aox_device_find(inner);
    e->boot = e->ops->boot && e->ops->boot(e->def);
    e->refs = 1;
    e->next = table;
    table = e;
    entries_n++;
    pthread_mutex_unlock(&cfg.mu);
    *out = e;
    return AOX_OK;
fail:
    aox_buf_free(&enc);
    return rc;
}

/* Imports assignments with slot > base (base must be what the entry holds), and
 * slot 0's when the device boots (e->boot; the delegator sends it with every request
 * from base 0). On a base mismatch sets *have and returns AOX_E_CONFLICT. Caller
 * holds e->mu. */
static int pentry_import(pentry *e, uint64_t base, const aox_value *list, uint64_t *have,
                         uint64_t max, aox_err *err)
{
    uint64_t top = e->n ? slot_of(e->asg[e->n - 1]) : 0;
    size_t i;

    *have = top;
    if (base > top) return aox_err_set(err, AOX_E_CONFLICT, "peer holds up to slot %llu",
                                       (unsigned long long)top);
    if (!list) return AOX_OK;
    if (list->type != AOX_V_LIST) return aox_err_set(err, AOX_E_INVALID, "assignments: not a list");
    for (i = 0; i < list->u.list.len; i++) {
        const aox_value *v = &list->u.list.items[i];
        uint64_t s;
        size_t j;
        if (v->type != AOX_V_MSG) return aox_err_set(err, AOX_E_INVALID, "assignment: not a message");
        s = slot_of(v->u.msg);
        if (s == UINT64_MAX || (s == 0 && !e->boot))
            return aox_err_set(err, AOX_E_INVALID, "assignment without a slot >= 1 (slot 0 "
                               "only when delegate-device boots for the definition)");
        if (s == 0 && e->n && slot_of(e->asg[0]) != 0)
            return aox_err_set(err, AOX_E_CONFLICT, "slot 0 arrives after later slots");
        if (s <= top && e->n) {
            /* already held: must be the very same assignment */
            for (j = 0; j < e->n && slot_of(e->asg[j]) != s; j++) {}
            if (j < e->n && !aox_msg_equal(e->asg[j], v->u.msg))
                return aox_err_set(err, AOX_E_CONFLICT,
                                   "assignment for slot %llu differs from the one held",
                                   (unsigned long long)s);
            continue;
        }
        if (e->n >= max)
            return aox_err_set(err, AOX_E_TOO_LARGE, "peer: process %s needs more than %llu "
                               "imported assignments (--delegate-peer-max)", e->pid,
                               (unsigned long long)max);
        if (e->n == e->cap) {
            size_t nc = e->cap ? e->cap * 2 : 64;
            aox_msg **na = realloc(e->asg, nc * sizeof *na);
            if (!na) return aox_err_set(err, AOX_E_NOMEM, "out of memory");
            e->asg = na;
            na = realloc(e->res, nc * sizeof *na);
            if (!na) return aox_err_set(err, AOX_E_NOMEM, "out of memory");
            e->res = na;
            e->cap = nc;
        }
        e->asg[e->n] = aox_msg_clone(v->u.msg);
        if (!e->asg[e->n]) return aox_err_set(err, AOX_E_NOMEM, "out of memory");
        e->res[e->n] = NULL;
        e->n++;
        held_n++;
        top = s;
    }
    *have = top;
    return AOX_OK;
}

/* Digest of the state after applying a result: the device's own digest when it has
 * one, else SHA-256(previous digest || encoded result). */
static int next_digest(pentry *e, const aox_msg *result, uint8_t out[32])
{
    aox_buf b = {0};
    int rc;
    if (e->ops->digest) return e->ops->digest(e->state, out);
    rc = aox_msg_encode(result, &b);
    if (rc == 0) aox_sha256_2(e->digest, 32, b.data, b.len, out);
    aox_buf_free(&b);
    return rc;
}

/* Brings the state to "after asg[0..k-1]" (rebuilding from init when it is past
 * that), caching the answer of every slot computed. Caller holds e->mu. */
static int pentry_reach(pentry *e, size_t k, aox_err *err)
{
    aox_limits lim;
    aox_device_env env;
    int rc;

    memset(&lim, 0, sizeof lim);
    env.pid = e->pid;
    env.store = cfg.store;
    env.limits = &lim;
    if (e->state && e->at > k) {              /* past it: rebuild from init */
        e->ops->free(e->state);
        e->state = NULL;
    }
    if (!e->state) {
        rc = e->ops->init(&env, e->def, &e->state, err);
        if (rc) { e->state = NULL; return rc; }
        e->at = 0;
        aox_sha256(e->pid, AOX_ID_LEN, e->digest);   /* chain origin when no digest op */
        if (e->ops->digest && (rc = e->ops->digest(e->state, e->digest)))
            return aox_err_set(err, rc, "digest failed");
    }
    while (e->at < k) {
        const aox_msg *a = e->asg[e->at];
        aox_msg *result = aox_msg_new(), *ans = NULL;
        aox_call call;
        const aox_msg *body = aox_msg_get_msg(a, "body");
        uint8_t d[32];
        char prev[AOX_ID_LEN + 1], cur[AOX_ID_LEN + 1];

        if (!result) return aox_err_set(err, AOX_E_NOMEM, "out of memory");
        if (!body && slot_of(a) == 0) body = e->def;   /* as run_boot */
        aox_call_init(&call, e->pid, e->def, a, body, slot_of(a), &lim);
        rc = e->ops->compute(e->state, &call, result, err);
        if (rc == 0 && aox_msg_get(result, AOX_RESULT_STATE_LOST)) {
            /* the device cannot undo a failed slot: rebuild before the next one */
            aox_msg_remove(result, AOX_RESULT_STATE_LOST);
            rc = AOX_E_INTERNAL;     /* simplest correct course: recompute from init */
            aox_err_set(err, rc, "device lost its state at slot %llu; retry",
                        (unsigned long long)call.slot);
        }
        if (rc == 0) rc = next_digest(e, result, d);
        if (rc) {
            aox_msg_free(result);
            e->ops->free(e->state);
            e->state = NULL;
            if (err->code == AOX_OK) aox_err_set(err, rc, "device failed");
            return rc;
        }
        digest_text(e->digest, prev);
        digest_text(d, cur);
        ans = aox_msg_new();
        if (!ans || aox_msg_set_str(ans, "process", e->pid)
            || aox_msg_set_int(ans, "slot", (int64_t)call.slot)
            || aox_msg_take_msg(ans, "result", result)
            || aox_msg_set_str(ans, "state-digest", cur)
            || aox_msg_set_str(ans, "prev-state-digest", prev)) {
            aox_msg_free(ans);
            return aox_err_set(err, AOX_E_NOMEM, "out of memory");
        }
        aox_msg_free(e->res[e->at]);
        e->res[e->at] = ans;
        memcpy(e->digest, d, 32);
        e->at++;
    }
    return AOX_OK;
}

/* A dry run of assignment `dry` (for `slot`, above every slot held) on the state
 * after all held assignments: the answer (not cached) carries that state's digest as
 * both prev-state-digest and state-digest. Caller holds e->mu. */
static int pentry_dry_run(pentry *e, const aox_msg *dry, uint64_t slot, aox_msg **out,
                          aox_err *err)
{
    aox_limits lim;
    aox_call call;
    aox_msg *result = NULL, *ans = NULL;
    char cur[AOX_ID_LEN + 1];
    int rc;

    *out = NULL;
    if (e->n && slot_of(e->asg[e->n - 1]) >= slot)
        return aox_err_set(err, AOX_E_INVALID, "dry run at slot %llu: the peer holds slot %llu",
                           (unsigned long long)slot,
                           (unsigned long long)slot_of(e->asg[e->n - 1]));
    rc = pentry_reach(e, e->n, err);
    if (rc) return rc;
    result = aox_msg_new();
    if (!result) return aox_err_set(err, AOX_E_NOMEM, "out of memory");
    memset(&lim, 0, sizeof lim);
    aox_call_init(&call, e->pid, e->def, dry, aox_msg_get_msg(dry, "body"), slot, &lim);
    call.dry_run = 1;
    rc = e->ops->compute(e->state, &call, result, err);
    if (rc || aox_msg_get(result, AOX_RESULT_STATE_LOST)) {
        /* the state is suspect after a failed call: rebuild it next time */
        e->ops->free(e->state);
        e->state = NULL;
        aox_msg_remove(result, AOX_RESULT_STATE_LOST);
    }
    if (rc) {
        aox_msg_free(result);
        if (err->code == AOX_OK) aox_err_set(err, rc, "device failed in a dry run");
        return rc;
    }
    digest_text(e->digest, cur);
    ans = aox_msg_new();
    if (!ans || aox_msg_set_str(ans, "process", e->pid)
        || aox_msg_set_int(ans, "slot", (int64_t)slot)
        || aox_msg_take_msg(ans, "result", result)
        || aox_msg_set_str(ans, "state-digest", cur)
        || aox_msg_set_str(ans, "prev-state-digest", cur)
        || aox_msg_set_int(ans, "dry-run", 1)) {
        if (!ans) aox_msg_free(result);
        aox_msg_free(ans);
        return aox_err_set(err, AOX_E_NOMEM, "out of memory");
    }
    *out = ans;
    return AOX_OK;
}

static int answer_error(int *status, aox_buf *out, const aox_err *err, int64_t have)
{
    json_t *j = aox_err_to_json(err), *o;
    char *t;
    if (!j) return AOX_E_NOMEM;
    o = json_object_get(j, "error");
    if (have >= 0 && o) json_object_set_new(o, "have", json_integer((json_int_t)have));
    t = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!t) return AOX_E_NOMEM;
    aox_buf_reset(out);
    aox_buf_append_str(out, t);
    free(t);
    *status = aox_code_http_status(err->code);
    return AOX_OK;
}

/* Test hook: a well-formed but wrong state digest (SHA-256 of "forged" + the real one). */
static int forge_digest(aox_msg *ans)
{
    const char *d = aox_msg_get_str(ans, "state-digest", NULL);
    uint8_t h[32];
    char t[AOX_ID_LEN + 1];
    if (!d) return AOX_E_INTERNAL;
    aox_sha256_2("forged", 6, d, strlen(d), h);
    aox_id_from_hash(h, t);
    return aox_msg_set_str(ans, "state-digest", t);
}

int aox_delegate_serve(const uint8_t *body, size_t len, int *status, aox_buf *out)
{
    aox_msg *req = NULL, *ans = NULL;
    aox_err err;
    pentry *e = NULL;
    const char *pid;
    const aox_msg *def, *dry;
    int64_t base = 0, slot = 0;
    uint64_t have = 0;
    size_t idx;
    int rc, locked = 0, have_set = 0;
    aox_delegate_forge forge;
    const aox_identity *id;
    char from[AOX_ID_LEN + 1];
    uint64_t max;

    aox_err_clear(&err);
    pthread_mutex_lock(&cfg.mu);
    forge = cfg.forge;
    id = cfg.identity;
    max = cfg.peer_max;
    pthread_mutex_unlock(&cfg.mu);
    if (!id) { rc = aox_err_set(&err, AOX_E_UNSUPPORTED, "this node has no identity"); goto fail; }
    rc = aox_msg_from_json_text((const char *)body, len, &req, &err);
    if (rc) goto fail;
    /* requests are signed by the delegating node; its imports are kept apart */
    rc = aox_identity_verify_msg(req, NULL, from, &err);
    if (rc) { aox_err_set(&err, rc, "request is not signed by a node"); goto fail; }
    pid = aox_msg_get_str(req, "process", NULL);
    def = aox_msg_get_msg(req, "definition");
    if (!pid || !aox_id_valid(pid) || !def || aox_msg_get_int(req, "slot", &slot) || slot < 0
        || (aox_msg_get(req, "base") && (aox_msg_get_int(req, "base", &base) || base < 0))) {
        rc = aox_err_set(&err, AOX_E_INVALID,
                         "need process (ID), definition (message), slot >= 0, base >= 0");
        goto fail;
    }
    dry = aox_msg_get_msg(req, "dry-run");
    if (aox_msg_get(req, "dry-run") && (!dry || slot_of(dry) != (uint64_t)slot)) {
        rc = aox_err_set(&err, AOX_E_INVALID, "dry-run must be an assignment for slot %lld",
                         (long long)slot);
        goto fail;
    }
    rc = pentry_get(from, pid, def, &e, &err);
    if (rc) goto fail;
    if (slot == 0 && (dry || !e->boot)) {
        rc = aox_err_set(&err, AOX_E_INVALID, "slot 0 is computed only when delegate-device "
                         "boots for the definition (and never as a dry run)");
        goto fail;
    }
    pthread_mutex_lock(&e->mu);
    locked = 1;
    rc = pentry_import(e, (uint64_t)base, aox_msg_get(req, "assignments"), &have, max, &err);
    have_set = 1;
    if (rc) goto fail;
    if (dry) {                       /* after everything held, nothing kept */
        rc = pentry_dry_run(e, dry, (uint64_t)slot, &ans, &err);
        if (rc) goto fail;
        pthread_mutex_unlock(&e->mu);
        locked = 0;
        pentry_release(e);
        e = NULL;
        goto answer;
    }
    for (idx = 0; idx < e->n && slot_of(e->asg[idx]) != (uint64_t)slot; idx++) {}
    if (idx == e->n) {
        rc = aox_err_set(&err, AOX_E_CONFLICT, "peer holds no assignment for slot %lld",
                         (long long)slot);
        goto fail;
    }
    if (!e->res[idx] && (rc = pentry_reach(e, idx + 1, &err))) goto fail;
    ans = aox_msg_clone(e->res[idx]);
    pthread_mutex_unlock(&e->mu);
    locked = 0;
    pentry_release(e);
    e = NULL;
answer:
    if (!ans) { rc = aox_err_set(&err, AOX_E_NOMEM, "out of memory"); goto fail; }
    if (forge == AOX_FORGE_LIE) {
        aox_msg *r = aox_msg_clone(aox_msg_get_msg(ans, "result"));
        if (!r || aox_msg_set_str(r, "output", "forged")
            || aox_msg_take_msg(ans, "result", r)
            || forge_digest(ans)) {
            rc = aox_err_set(&err, AOX_E_NOMEM, "out of memory");
            goto fail;
        }
    }
    rc = aox_identity_sign_msg(id, ans);
    if (rc) { aox_err_set(&err, rc, "cannot sign"); goto fail; }
    if (forge == AOX_FORGE_TAMPER) {
        aox_msg *r = aox_msg_clone(aox_msg_get_msg(ans, "result"));
        if (!r || aox_msg_set_str(r, "output", "tampered") || aox_msg_take_msg(ans, "result", r)) {
            rc = aox_err_set(&err, AOX_E_NOMEM, "out of memory");
            goto fail;
        }
    }
    aox_buf_reset(out);
    rc = aox_msg_to_json_text(ans, out);
    if (rc) { aox_err_set(&err, rc, "cannot encode"); goto fail; }
    *status = 200;
    served_n++;
    aox_msg_free(ans);
    aox_msg_free(req);
    return AOX_OK;
fail:
    if (locked) pthread_mutex_unlock(&e->mu);
    if (e) pentry_release(e);
    aox_msg_free(ans);
    aox_msg_free(req);
    return answer_error(status, out, &err,
                        (have_set && err.code == AOX_E_CONFLICT) ? (int64_t)have : -1);
}

/* ================================================================ delegating side */

typedef struct dstate {
    char        pid[AOX_ID_LEN + 1];
    aox_msg    *def;
    int64_t     verify;           /* k >= 1 */
    aox_msg   **asg;              /* assignments applied (slot ascending, gaps allowed) */
    size_t      n, cap;
    char        digest[AOX_ID_LEN + 1];   /* accepted state digest; "" before slot 1 */
    uint64_t    have[MAX_PEERS];  /* highest slot each peer is believed to hold */
} dstate;

static void ds_free(void *s)
{
    dstate *d = s;
    size_t i;
    if (!d) return;
    for (i = 0; i < d->n; i++) aox_msg_free(d->asg[i]);
    free(d->asg);
    aox_msg_free(d->def);
    free(d);
}

static int ds_new(const aox_device_env *env, const aox_msg *def, dstate **out, aox_err *err)
{
    dstate *d;
    const char *inner = aox_msg_get_str(def, "delegate-device", NULL);
    int64_t k = 1;

    if (!inner || !*inner || strcmp(inner, DELEGATE_NAME) == 0)
        return aox_err_set(err, AOX_E_INVALID, DELEGATE_NAME ": definition needs delegate-device");
    if (aox_msg_get(def, "verify") && (aox_msg_get_int(def, "verify", &k) || k < 1 || k > MAX_PEERS))
        return aox_err_set(err, AOX_E_INVALID, DELEGATE_NAME ": verify must be 1..%d", MAX_PEERS);
    d = calloc(1, sizeof *d);
    if (!d || !(d->def = aox_msg_clone(def))) {
        free(d);
        return aox_err_set(err, AOX_E_NOMEM, "out of memory");
    }
    memcpy(d->pid, env->pid, AOX_ID_LEN + 1);
    d->verify = k;
    *out = d;
    return AOX_OK;
}

static int ds_init(const aox_device_env *env, const aox_msg *def, void **state, aox_err *err)
{
    dstate *d = NULL;
    int rc = ds_new(env, def, &d, err);
    if (rc == 0) *state = d;
    return rc;
}

static int ds_push(dstate *d, const aox_msg *a)
{
    if (d->n == d->cap) {
        size_t nc = d->cap ? d->cap * 2 : 64;
        aox_msg **na = realloc(d->asg, nc * sizeof *na);
        if (!na) return AOX_E_NOMEM;
        d->asg = na;
        d->cap = nc;
    }
    if (!(d->asg[d->n] = aox_msg_clone(a))) return AOX_E_NOMEM;
    d->n++;
    return AOX_OK;
}

/* The request for peer i: assignments above what it holds. */
static int build_request(const dstate *d, const aox_identity *id, uint64_t base, uint64_t slot,
                         const aox_msg *dry, aox_buf *out)
{
    aox_msg *m = aox_msg_new();
    size_t i;
    int rc = AOX_E_NOMEM;

    if (!m) return rc;
    if (aox_msg_set_str(m, "process", d->pid) || aox_msg_set_msg(m, "definition", d->def)
        || aox_msg_set_int(m, "base", (int64_t)base) || aox_msg_set_int(m, "slot", (int64_t)slot)
        || (dry && aox_msg_set_msg(m, "dry-run", dry)))
        goto done;
    {   /* an empty list is still a list */
        aox_value empty = { .type = AOX_V_LIST };
        if (aox_msg_set_value(m, "assignments", &empty)) goto done;
    }
    for (i = 0; i < d->n; i++) {
        uint64_t s = slot_of(d->asg[i]);
        /* slot 0 (a boot) is held only from base 0 on: resent with every request
         * from there, since "holds up to slot 0" cannot tell it from nothing */
        if (s <= base && !(s == 0 && base == 0)) continue;
        aox_msg *c = aox_msg_clone(d->asg[i]);
        if (!c || aox_msg_list_append_msg(m, "assignments", c)) goto done;
    }
    if (!id) { rc = AOX_E_CONFIG; goto done; }
    if ((rc = aox_identity_sign_msg(id, m))) goto done;
    aox_buf_reset(out);
    rc = aox_msg_to_json_text(m, out);
done:
    aox_msg_free(m);
    return rc;
}

/* Asks peer `url` for slot; on success *ans is the verified answer. why gets the
 * reason of a failure. rejected: 1 when the peer answered but failed a check. */
static int ask_peer(dstate *d, const aox_identity *identity, unsigned pi, const char *url,
                    uint64_t timeout_ms, uint64_t slot, const aox_msg *dry,
                    aox_msg **ans, char *why, size_t why_len, int *rejected)
{
    aox_http_client *c = NULL;
    aox_buf req = {0}, resp = {0};
    aox_err err;
    aox_msg *m = NULL;
    long status = 0;
    int rc, round;
    char addr[AOX_ID_LEN + 1];
    int64_t s = -1;
    const char *pd, *sd, *pr;

    *ans = NULL;
    *rejected = 0;
    aox_err_clear(&err);
    rc = aox_http_client_new(url, (long)timeout_ms, &c, &err);
    if (rc) goto fail;
    for (round = 0; round < 2; round++) {
        rc = build_request(d, identity, d->have[pi], slot, dry, &req);
        if (rc) { aox_err_set(&err, rc, "cannot build the request"); goto fail; }
        rc = aox_http_client_request(c, "POST", "/~delegate@1.0/compute", req.data, req.len,
                                     NULL, &status, &resp, &err);
        if (rc) goto fail;
        if (status == 409 && round == 0) {
            /* the peer holds less (or other) than we thought: resend from its mark */
            json_t *j = json_loadb((const char *)resp.data, resp.len, 0, NULL);
            json_t *h = j ? json_object_get(json_object_get(j, "error"), "have") : NULL;
            uint64_t hv = json_is_integer(h) && json_integer_value(h) >= 0
                              ? (uint64_t)json_integer_value(h) : 0;
            json_decref(j);
            d->have[pi] = hv < d->have[pi] ? hv : 0;
            continue;
        }
        break;
    }
    if (status != 200) {
        rc = aox_err_set(&err, AOX_E_UPSTREAM, "answered %ld: %.*s", status,
                         (int)(resp.len > 160 ? 160 : resp.len), resp.data ? (char *)resp.data : "");
        goto fail;
    }
    *rejected = 1;
    rc = aox_msg_from_json_text((const char *)resp.data, resp.len, &m, &err);
    if (rc) goto fail;
    rc = aox_identity_verify_msg(m, NULL, addr, &err);
    if (rc) { aox_err_set(&err, rc, "signature does not verify"); goto fail; }
    pd = aox_msg_get_str(m, "process", NULL);
    sd = aox_msg_get_str(m, "state-digest", NULL);
    pr = aox_msg_get_str(m, "prev-state-digest", NULL);
    if (!pd || strcmp(pd, d->pid) || aox_msg_get_int(m, "slot", &s) || (uint64_t)s != slot
        || !aox_msg_get_msg(m, "result")) {
        rc = aox_err_set(&err, AOX_E_FORBIDDEN, "answer is not for process %s slot %llu",
                         d->pid, (unsigned long long)slot);
        goto fail;
    }
    if (!sd || !aox_id_valid(sd)) {
        rc = aox_err_set(&err, AOX_E_FORBIDDEN, "answer has no valid state-digest");
        goto fail;
    }
    if (d->digest[0] && (!pr || strcmp(pr, d->digest))) {
        rc = aox_err_set(&err, AOX_E_FORBIDDEN,
                         "prev-state-digest %s does not continue the accepted state %s",
                         pr ? pr : "(none)", d->digest);
        goto fail;
    }
    *rejected = 0;
    /* a dry run leaves the peer holding our assignments, not the dry one */
    d->have[pi] = dry ? (d->n ? slot_of(d->asg[d->n - 1]) : 0) : slot;
    *ans = m;
    m = NULL;
    rc = AOX_OK;
fail:
    if (rc) snprintf(why, why_len, "%s", err.msg[0] ? err.msg : aox_code_name(rc));
    aox_msg_free(m);
    aox_buf_free(&req);
    aox_buf_free(&resp);
    aox_http_client_free(c);
    return rc;
}

static void sleep_ms(uint64_t ms)
{
    struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* Same result and digest (signatures and signers apart). */
static int answers_agree(const aox_msg *a, const aox_msg *b)
{
    const char *da = aox_msg_get_str(a, "state-digest", NULL);
    const char *db = aox_msg_get_str(b, "state-digest", NULL);
    return da && db && strcmp(da, db) == 0
           && aox_msg_equal(aox_msg_get_msg(a, "result"), aox_msg_get_msg(b, "result"));
}

/* delegated@1.0 boots exactly when its delegate-device boots for the definition as
 * the peers run it (peer_def), so slot 0 is computed remotely like any slot. Out of
 * memory here answers 1: ds_compute then re-checks and fails the slot as a node fault
 * (nothing cached) rather than cache a slot 0 without its boot. */
static int inner_boots(const aox_msg *def, int *boots)
{
    aox_msg *pd = NULL;
    const aox_device_ops *ops;
    int rc = peer_def(def, &pd);

    *boots = 0;
    if (rc) return rc;
    ops = pd ? aox_device_find(aox_msg_get_str(pd, "delegate-device", NULL)) : NULL;
    *boots = ops && ops->boot && ops->boot(pd);
    aox_msg_free(pd);
    return AOX_OK;
}

static int ds_boot(const aox_msg *def)
{
    int boots = 0;
    return inner_boots(def, &boots) ? 1 : boots;
}

static int ds_compute(void *s, const aox_call *call, aox_msg *result, aox_err *err)
{
    dstate *d = s;
    char peers[MAX_PEERS][URL_MAX];
    unsigned np, attempts, start, tried = 0, i;
    uint64_t timeout_ms, backoff = BACKOFF_MS;
    aox_msg *got[MAX_PEERS] = {0};
    unsigned got_peer[MAX_PEERS];
    unsigned ngot = 0;
    aox_buf why = {0};
    int rc = AOX_OK, pushed = 0;
    uint8_t h[32];
    const aox_identity *identity;

    if (d->n && slot_of(d->asg[d->n - 1]) >= call->slot)
        return aox_err_set(err, AOX_E_INTERNAL, DELEGATE_NAME ": slot %llu out of order",
                           (unsigned long long)call->slot);
    if (call->slot == 0) {         /* the boot (ds_boot said yes) */
        int boots = 0;
        if ((rc = inner_boots(d->def, &boots)))
            return aox_err_set(err, rc, "out of memory");
        if (!boots || call->dry_run)
            return aox_err_set(err, AOX_E_INTERNAL, DELEGATE_NAME ": slot 0 computed but "
                               "%s does not boot; retry",
                               aox_msg_get_str(d->def, "delegate-device", NULL));
    }
    pthread_mutex_lock(&cfg.mu);
    np = cfg.npeers;
    memcpy(peers, cfg.peers, sizeof peers);
    timeout_ms = cfg.timeout_ms;
    attempts = cfg.attempts ? cfg.attempts : 2 * np;
    identity = cfg.identity;
    pthread_mutex_unlock(&cfg.mu);
    if (np == 0)
        return aox_err_set(err, AOX_E_CONFIG, DELEGATE_NAME ": no peers (--peers)");
    if (!call->dry_run) {          /* a dry run: the peers run it on the current state */
        if ((rc = ds_push(d, call->assignment))) return aox_err_set(err, rc, "out of memory");
        pushed = 1;
    }
    /* a stable first peer per process (keeps peers' imported assignments useful) */
    aox_sha256(d->pid, AOX_ID_LEN, h);
    start = h[0] % np;
    for (i = 0; i < np && ngot < (unsigned)d->verify && tried < attempts; i++) {
        unsigned pi = (start + i) % np;
        aox_msg *ans = NULL;
        char reason[AOX_ERR_MSG_MAX + 8];
        int rejected = 0;
        tried++;
        rc = ask_peer(d, identity, pi, peers[pi], timeout_ms, call->slot,
                      call->dry_run ? call->assignment : NULL, &ans, reason, sizeof reason,
                      &rejected);
        if (rc == 0) {
            got[ngot] = ans;
            got_peer[ngot++] = pi;
            continue;
        }
        if (rejected) rejected_n++;
        aox_buf_printf(&why, "%s%s: %s", why.len ? "; " : "", peers[pi], reason);
        aox_log(AOX_LOG_WARN, "delegate-peer-failed", "\"pid\":\"%s\",\"slot\":%llu,\"rejected\":%d",
                d->pid, (unsigned long long)call->slot, rejected);
        if (i + 1 < np) {
            sleep_ms(backoff);
            backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
        }
    }
    if (ngot < (unsigned)d->verify) {
        rc = aox_err_set(err, AOX_E_UPSTREAM,
                         "delegated slot %llu: %u of %lld peers answered (%s)",
                         (unsigned long long)call->slot, ngot, (long long)d->verify,
                         why.len ? (char *)why.data : "no peer left to try");
        goto fail;
    }
    for (i = 1; i < ngot; i++) {
        if (!answers_agree(got[0], got[i])) {
            aox_buf_reset(&why);
            for (unsigned j = 0; j < ngot; j++)
                aox_buf_printf(&why, "%s%s state-digest %s", j ? ", " : "", peers[got_peer[j]],
                               aox_msg_get_str(got[j], "state-digest", NULL));
            rejected_n++;
            rc = aox_err_set(err, AOX_E_UPSTREAM, "delegated slot %llu: peers disagree: %s",
                             (unsigned long long)call->slot, (char *)why.data);
            goto fail;
        }
    }
    {   /* take the result over: every entry of the device's result */
        const aox_msg *r = aox_msg_get_msg(got[0], "result");
        size_t k, n = aox_msg_count(r);
        for (k = 0; k < n; k++) {
            const char *key = aox_msg_key_at(r, k);
            if (!strcmp(key, "slot") || !strcmp(key, "process") || !strcmp(key, "state-digest"))
                continue;
            if ((rc = aox_msg_set_value(result, key, aox_msg_value_at(r, k)))) {
                aox_err_set(err, rc, "out of memory");
                goto fail;
            }
        }
    }
    if (!call->dry_run)
        snprintf(d->digest, sizeof d->digest, "%s",
                 aox_msg_get_str(got[0], "state-digest", NULL));
    rc = AOX_OK;
    pushed = 0;
fail:
    if (pushed) { d->n--; aox_msg_free(d->asg[d->n]); }
    for (i = 0; i < ngot; i++) aox_msg_free(got[i]);
    aox_buf_free(&why);
    return rc;
}

/* Snapshot: one meta blob, the encoding of {assignments: [...], digest}. */
static int ds_snapshot(void *s, aox_snap_writer *w, aox_err *err)
{
    dstate *d = s;
    aox_msg *m = aox_msg_new();
    aox_buf b = {0};
    size_t i;
    int rc = AOX_E_NOMEM;
    aox_value empty = { .type = AOX_V_LIST };

    if (!m || aox_msg_set_str(m, "digest", d->digest) || aox_msg_set_value(m, "assignments", &empty))
        goto done;
    for (i = 0; i < d->n; i++) {
        aox_msg *c = aox_msg_clone(d->asg[i]);
        if (!c || aox_msg_list_append_msg(m, "assignments", c)) goto done;
    }
    if ((rc = aox_msg_encode(m, &b))) goto done;
    rc = aox_snap_write_meta(w, b.data, b.len);
done:
    if (rc) aox_err_set(err, rc, DELEGATE_NAME ": snapshot failed");
    aox_msg_free(m);
    aox_buf_free(&b);
    return rc;
}

static int ds_restore(const aox_device_env *env, const aox_msg *def, aox_snap_reader *r,
                      void **state, aox_err *err)
{
    dstate *d = NULL;
    aox_msg *m = NULL;
    const uint8_t *p;
    size_t n, i;
    const aox_value *l;
    const char *dg;
    int rc;

    rc = ds_new(env, def, &d, err);
    if (rc) return rc;
    rc = aox_snap_read_meta(r, &p, &n);
    if (rc == 0) rc = aox_msg_decode(p, n, &m, err);
    if (rc) goto fail;
    l = aox_msg_get(m, "assignments");
    dg = aox_msg_get_str(m, "digest", NULL);
    if (!l || l->type != AOX_V_LIST || !dg || strlen(dg) > AOX_ID_LEN) {
        rc = aox_err_set(err, AOX_E_CORRUPT, DELEGATE_NAME ": bad snapshot");
        goto fail;
    }
    for (i = 0; i < l->u.list.len; i++) {
        if (l->u.list.items[i].type != AOX_V_MSG || (rc = ds_push(d, l->u.list.items[i].u.msg))) {
            if (!rc) rc = AOX_E_CORRUPT;
            aox_err_set(err, rc, DELEGATE_NAME ": bad snapshot");
            goto fail;
        }
    }
    snprintf(d->digest, sizeof d->digest, "%s", dg);
    aox_msg_free(m);
    *state = d;
    return AOX_OK;
fail:
    aox_msg_free(m);
    ds_free(d);
    return rc;
}

static int ds_digest(void *s, uint8_t out[32])
{
    dstate *d = s;
    if (!d->digest[0]) {              /* before slot 1: a digest of the process */
        aox_sha256(d->pid, AOX_ID_LEN, out);
        return AOX_OK;
    }
    return aox_id_to_hash(d->digest, out) ? AOX_E_CORRUPT : AOX_OK;
}

static const aox_device_ops delegated_ops = {
    .name = DELEGATE_NAME,
    .init = ds_init,
    .compute = ds_compute,
    .snapshot = ds_snapshot,
    .restore = ds_restore,
    .free = ds_free,
    .digest = ds_digest,
    .boot = ds_boot,
};

const aox_device_ops *aox_delegate_device(void) { return &delegated_ops; }
