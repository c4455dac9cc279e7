/*
 * store/store.c: the store front end (store.h): URI dispatch to a backend,
 * argument checks, scan normalisation, batches and key builders.
 */
#include "store/store_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A lease kept in the handle (backends without a lease op: memory, LMDB). */
typedef struct lease_ent {
    char    *name;
    char    *owner;          /* NULL when free */
    uint64_t token;          /* last token issued for name */
    uint64_t expires_ms;     /* CLOCK_MONOTONIC */
} lease_ent;

struct aox_store {
    const aox_store_ops *ops;
    void                *impl;
    pthread_mutex_t      lease_mu;   /* guards leases; held across a fenced commit */
    lease_ent           *leases;
    size_t               nleases, cap_leases;
};

/* A batch records ops as offsets into one arena (the arena may move as it grows). */
typedef struct bop {
    int    del;
    size_t ko, kl, vo, vl;
} bop;

struct aox_batch {
    aox_store *s;
    aox_buf    arena;
    bop       *ops;
    size_t     n, cap;
    int        failed;       /* sticky: first error of batch_put/del, reported at commit */
    char      *fence;        /* lease name the commit is conditional on, or NULL */
    uint64_t   fence_token;
};

/* ------------------------------------------------------------------ helpers */

int aox_store_key_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    size_t m = al < bl ? al : bl;
    int c = m ? memcmp(a, b, m) : 0;
    if (c)
        return c < 0 ? -1 : 1;
    return al < bl ? -1 : al > bl ? 1 : 0;
}

int aox_store_has_prefix(const uint8_t *k, size_t kl, const uint8_t *p, size_t pl)
{
    return kl >= pl && (pl == 0 || memcmp(k, p, pl) == 0);
}

size_t aox_store_prefix_succ(const uint8_t *p, size_t pl, uint8_t *out)
{
    while (pl > 0 && p[pl - 1] == 0xff)
        pl--;
    if (pl == 0)
        return 0;
    memcpy(out, p, pl);
    out[pl - 1]++;
    return pl;
}

static int key_ok(const void *k, size_t kl)
{
    return k && kl > 0 && kl <= AOX_STORE_KEY_MAX;
}

/* Stores this thread is scanning right now. A write to one of them from a scan
 * callback would deadlock (memory: the scan holds the read lock; LMDB: growing the
 * map waits for the scan's transaction), so it is refused with AOX_E_INTERNAL. */
#define SCAN_NEST_MAX 8
static _Thread_local const aox_store *scanning[SCAN_NEST_MAX];
static _Thread_local int scan_depth;

static int in_scan(const aox_store *s)
{
    for (int i = 0; i < scan_depth && i < SCAN_NEST_MAX; i++)
        if (scanning[i] == s)
            return 1;
    return 0;
}

/* ------------------------------------------------------------------ open/close */

int aox_store_open(const char *uri, const aox_store_opts *opts,
                   aox_store **out, aox_err *err)
{
    static const aox_store_opts defaults = { 0, 0, 0 };
    aox_store *s = NULL;
    int rc;
    *out = NULL;
    if (!uri || !uri[0])
        return aox_err_set(err, AOX_E_CONFIG, "store: empty URI");
    if (!opts)
        opts = &defaults;
    s = calloc(1, sizeof *s);
    if (!s)
        return aox_err_set(err, AOX_E_NOMEM, "store: out of memory");
    if (strncmp(uri, "memory:", 7) == 0) {
        rc = aox_store_memory_open(opts, &s->ops, &s->impl, err);
    } else if (strncmp(uri, "redis://", 8) == 0) {
        rc = aox_store_redis_open(uri + 8, opts, &s->ops, &s->impl, err);
    } else if (strncmp(uri, "cache:", 6) == 0) {
        rc = aox_store_cache_open(uri + 6, opts, &s->ops, &s->impl, err);
    } else {
        const char *dir = strncmp(uri, "lmdb:", 5) == 0 ? uri + 5 : uri;
        if (!dir[0])
            rc = aox_err_set(err, AOX_E_CONFIG, "store: lmdb URI without a directory");
        else
            rc = aox_store_lmdb_open(dir, opts, &s->ops, &s->impl, err);
    }
    if (rc) {
        free(s);
        return rc;
    }
    pthread_mutex_init(&s->lease_mu, NULL);
    *out = s;
    return AOX_OK;
}

void aox_store_close(aox_store *s)
{
    if (!s)
        return;
    s->ops->close(s->impl);
    for (size_t i = 0; i < s->nleases; i++) {
        free(s->leases[i].name);
        free(s->leases[i].owner);
    }
    free(s->leases);
    pthread_mutex_destroy(&s->lease_mu);
    free(s);
}

const char *aox_store_backend(const aox_store *s)
{
    return s->ops->name;
}

/* ------------------------------------------------------------------ single ops */

int aox_store_get(aox_store *s, const void *k, size_t kl, aox_buf *out)
{
    aox_buf_reset(out);
    if (!key_ok(k, kl))
        return AOX_E_INVALID;
    return s->ops->get(s->impl, k, kl, out);
}

int aox_store_put(aox_store *s, const void *k, size_t kl, const void *v, size_t vl)
{
    if (!key_ok(k, kl) || (!v && vl))
        return AOX_E_INVALID;
    if (in_scan(s))
        return AOX_E_INTERNAL;
    return s->ops->put(s->impl, k, kl, v ? v : (const void *)"", vl);
}

int aox_store_del(aox_store *s, const void *k, size_t kl)
{
    if (!key_ok(k, kl))
        return AOX_E_INVALID;
    if (in_scan(s))
        return AOX_E_INTERNAL;
    return s->ops->del(s->impl, k, kl);
}

int aox_store_cas(aox_store *s, const void *k, size_t kl,
                  const void *expect, size_t el,
                  const void *v, size_t vl, aox_buf *cur)
{
    if (!key_ok(k, kl) || (!v && vl) || (!expect && el))
        return AOX_E_INVALID;
    if (in_scan(s))
        return AOX_E_INTERNAL;
    return s->ops->cas(s->impl, k, kl, expect, el, v, vl, cur);
}

/* ------------------------------------------------------------------ scans */

static int scan_guarded(aox_store *s, const uint8_t *p, size_t pl, const uint8_t *start,
                        size_t sl, int reverse, aox_scan_fn fn, void *ud)
{
    if (scan_depth < SCAN_NEST_MAX)
        scanning[scan_depth] = s;
    scan_depth++;
    int rc = s->ops->scan(s->impl, p, pl, start, sl, reverse, fn, ud);
    scan_depth--;
    return rc;
}

int aox_store_scan(aox_store *s, const void *prefix, size_t pl,
                   const void *start, size_t sl, int reverse,
                   aox_scan_fn fn, void *ud)
{
    const uint8_t *p = prefix ? prefix : (const uint8_t *)"";
    if (!prefix)
        pl = 0;
    if (pl > AOX_STORE_KEY_MAX || sl > AOX_STORE_KEY_MAX || !fn)
        return AOX_E_INVALID;
    if (start && sl == 0) {
        /* every key is non-empty, hence greater than the empty start */
        if (reverse)
            return AOX_OK;
        start = NULL;
    }
    if (start) {
        uint8_t succ[AOX_STORE_KEY_MAX];
        size_t ql = aox_store_prefix_succ(p, pl, succ);
        if (aox_store_key_cmp(start, sl, p, pl) < 0) {
            if (reverse)
                return AOX_OK;          /* every prefixed key is above start */
            start = NULL;               /* from the first prefixed key */
        } else if (ql && aox_store_key_cmp(start, sl, succ, ql) >= 0) {
            if (!reverse)
                return AOX_OK;          /* every prefixed key is below start */
            start = NULL;               /* from the last prefixed key */
        }
        /* otherwise start lies inside the prefix range, so it begins with p */
    }
    if (!start)
        sl = 0;
    return scan_guarded(s, p, pl, start, sl, reverse, fn, ud);
}

typedef struct first_ctx {
    aox_buf *k, *v;
    int      rc;
} first_ctx;

static int take_first(void *ud, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
    first_ctx *c = ud;
    c->rc = AOX_OK;
    if (c->k && (c->rc = aox_buf_append(c->k, k, kl)))
        return 1;
    if (c->v && (c->rc = aox_buf_append(c->v, v, vl)))
        return 1;
    return 1;                           /* stop after the first */
}

int aox_store_seek_le(aox_store *s, const void *prefix, size_t pl,
                      const void *bound, size_t bl,
                      aox_buf *key_out, aox_buf *val_out)
{
    const uint8_t *p = prefix ? prefix : (const uint8_t *)"";
    if (!prefix)
        pl = 0;
    if (key_out)
        aox_buf_reset(key_out);
    if (val_out)
        aox_buf_reset(val_out);
    if (!bound || bl > AOX_STORE_KEY_MAX || !aox_store_has_prefix(bound, bl, p, pl))
        return AOX_E_INVALID;
    if (bl == 0)
        return AOX_E_NOT_FOUND;         /* no key is <= the empty key */
    if (s->ops->seek_le)
        return s->ops->seek_le(s->impl, p, pl, bound, bl, key_out, val_out);
    first_ctx c = { key_out, val_out, AOX_E_NOT_FOUND };
    int rc = scan_guarded(s, p, pl, bound, bl, 1, take_first, &c);
    if (rc != 0 && rc != 1)
        return rc;
    return c.rc;
}

/* ------------------------------------------------------------------ leases */

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int lease_name_ok(const char *n)
{
    return n && n[0] && strlen(n) <= AOX_LEASE_NAME_MAX;
}

#define LEASE_TTL_MAX ((uint64_t)1 << 40)

/* The entry of name (created free if absent and create != 0); lease_mu held. */
static lease_ent *lease_find(aox_store *s, const char *name, int create)
{
    for (size_t i = 0; i < s->nleases; i++)
        if (strcmp(s->leases[i].name, name) == 0)
            return &s->leases[i];
    if (!create)
        return NULL;
    if (s->nleases == s->cap_leases) {
        size_t nc = s->cap_leases ? s->cap_leases * 2 : 8;
        lease_ent *nv = realloc(s->leases, nc * sizeof *nv);
        if (!nv)
            return NULL;
        s->leases = nv;
        s->cap_leases = nc;
    }
    char *nm = strdup(name);
    if (!nm)
        return NULL;
    lease_ent *e = &s->leases[s->nleases++];
    *e = (lease_ent){ nm, NULL, 0, 0 };
    return e;
}

/* The holder of e, after dropping an expired hold; lease_mu held. */
static const char *lease_holder(lease_ent *e, uint64_t now)
{
    if (e && e->owner && e->expires_ms <= now) {
        free(e->owner);
        e->owner = NULL;
    }
    return e ? e->owner : NULL;
}

static int local_lease(aox_store *s, int op, const char *name, const char *owner,
                       uint64_t ttl_ms, uint64_t *token, aox_buf *owner_out,
                       uint64_t *ttl_left)
{
    int rc = AOX_OK;
    uint64_t now = now_ms();
    pthread_mutex_lock(&s->lease_mu);
    lease_ent *e = lease_find(s, name, op == AOX_LEASE_OP_ACQUIRE);
    const char *h = lease_holder(e, now);
    switch (op) {
    case AOX_LEASE_OP_ACQUIRE:
        if (!e) {
            rc = AOX_E_NOMEM;
        } else if (h && strcmp(h, owner) != 0) {
            rc = AOX_E_CONFLICT;
        } else {
            char *o = strdup(owner);
            if (!o) {
                rc = AOX_E_NOMEM;
                break;
            }
            free(e->owner);
            e->owner = o;
            e->token++;
            e->expires_ms = now + ttl_ms;
            *token = e->token;
        }
        break;
    case AOX_LEASE_OP_RENEW:
    case AOX_LEASE_OP_RELEASE:
        if (!h || e->token != *token) {
            rc = AOX_E_CONFLICT;
        } else if (op == AOX_LEASE_OP_RENEW) {
            e->expires_ms = now + ttl_ms;
        } else {
            free(e->owner);
            e->owner = NULL;
        }
        break;
    default:
        if (!h) {
            rc = AOX_E_NOT_FOUND;
        } else {
            *token = e->token;
            *ttl_left = e->expires_ms - now;
            if (owner_out)
                rc = aox_buf_append_str(owner_out, h);
        }
        break;
    }
    pthread_mutex_unlock(&s->lease_mu);
    return rc;
}

static int lease_call(aox_store *s, int op, const char *name, const char *owner,
                      uint64_t ttl_ms, uint64_t *token, aox_buf *owner_out,
                      uint64_t *ttl_left)
{
    if (!lease_name_ok(name))
        return AOX_E_INVALID;
    if (op == AOX_LEASE_OP_ACQUIRE && !lease_name_ok(owner))
        return AOX_E_INVALID;
    if (op != AOX_LEASE_OP_RELEASE && op != AOX_LEASE_OP_GET &&
        (ttl_ms == 0 || ttl_ms > LEASE_TTL_MAX))
        return AOX_E_INVALID;
    if (op != AOX_LEASE_OP_GET && in_scan(s))
        return AOX_E_INTERNAL;
    if (s->ops->lease)
        return s->ops->lease(s->impl, op, name, owner, ttl_ms, token, owner_out, ttl_left);
    return local_lease(s, op, name, owner, ttl_ms, token, owner_out, ttl_left);
}

int aox_store_lease_acquire(aox_store *s, const char *name, const char *owner,
                            uint64_t ttl_ms, uint64_t *token)
{
    return lease_call(s, AOX_LEASE_OP_ACQUIRE, name, owner, ttl_ms, token, NULL, NULL);
}

int aox_store_lease_renew(aox_store *s, const char *name, uint64_t token, uint64_t ttl_ms)
{
    return lease_call(s, AOX_LEASE_OP_RENEW, name, NULL, ttl_ms, &token, NULL, NULL);
}

int aox_store_lease_release(aox_store *s, const char *name, uint64_t token)
{
    return lease_call(s, AOX_LEASE_OP_RELEASE, name, NULL, 0, &token, NULL, NULL);
}

int aox_store_lease_get(aox_store *s, const char *name, aox_buf *owner_out,
                        uint64_t *token, uint64_t *ttl_left_ms)
{
    uint64_t t = 0, left = 0;
    if (owner_out)
        aox_buf_reset(owner_out);
    int rc = lease_call(s, AOX_LEASE_OP_GET, name, NULL, 0, &t, owner_out, &left);
    if (token)
        *token = rc ? 0 : t;
    if (ttl_left_ms)
        *ttl_left_ms = rc ? 0 : left;
    return rc;
}

/* A fenced commit on a backend without batch_fenced: the lease check and the write
 * happen under lease_mu, so no acquire can slip in between. */
static int local_commit_fenced(aox_store *s, const aox_store_op *ops, size_t n,
                               const char *fence, uint64_t token, aox_err *err)
{
    int rc;
    pthread_mutex_lock(&s->lease_mu);
    lease_ent *e = lease_find(s, fence, 0);
    if (!lease_holder(e, now_ms()) || e->token != token)
        rc = aox_err_set(err, AOX_E_CONFLICT,
                         "store: lease '%s' is not held with token %llu; batch not applied",
                         fence, (unsigned long long)token);
    else
        rc = n ? s->ops->batch(s->impl, ops, n, err) : AOX_OK;
    pthread_mutex_unlock(&s->lease_mu);
    return rc;
}

/* ------------------------------------------------------------------ batches */

int aox_store_batch_begin(aox_store *s, aox_batch **out)
{
    aox_batch *b = calloc(1, sizeof *b);
    *out = b;
    if (!b)
        return AOX_E_NOMEM;
    b->s = s;
    return AOX_OK;
}

static int batch_add(aox_batch *b, int del, const void *k, size_t kl,
                     const void *v, size_t vl)
{
    int rc;
    if (b->failed)
        return b->failed;
    if (!key_ok(k, kl) || (!del && !v && vl)) {
        rc = AOX_E_INVALID;
        goto fail;
    }
    if (b->n == b->cap) {
        size_t ncap = b->cap ? b->cap * 2 : 16;
        bop *no = realloc(b->ops, ncap * sizeof *no);
        if (!no) {
            rc = AOX_E_NOMEM;
            goto fail;
        }
        b->ops = no;
        b->cap = ncap;
    }
    bop *o = &b->ops[b->n];
    o->del = del;
    o->ko = b->arena.len;
    o->kl = kl;
    if ((rc = aox_buf_append(&b->arena, k, kl)))
        goto fail;
    o->vo = b->arena.len;
    o->vl = del ? 0 : vl;
    if (!del && vl && (rc = aox_buf_append(&b->arena, v, vl)))
        goto fail;
    b->n++;
    return AOX_OK;
fail:
    b->failed = rc;     /* a batch with a lost op must not commit */
    return rc;
}

int aox_batch_put(aox_batch *b, const void *k, size_t kl, const void *v, size_t vl)
{
    return batch_add(b, 0, k, kl, v, vl);
}

int aox_batch_del(aox_batch *b, const void *k, size_t kl)
{
    return batch_add(b, 1, k, kl, NULL, 0);
}

int aox_batch_fence(aox_batch *b, const char *name, uint64_t token)
{
    int rc;
    if (b->failed)
        return b->failed;
    if (!lease_name_ok(name) || b->fence) {
        rc = AOX_E_INVALID;
        goto fail;
    }
    if (!(b->fence = strdup(name))) {
        rc = AOX_E_NOMEM;
        goto fail;
    }
    b->fence_token = token;
    return AOX_OK;
fail:
    b->failed = rc;
    return rc;
}

void aox_store_batch_abort(aox_batch *b)
{
    if (!b)
        return;
    free(b->fence);
    aox_buf_free(&b->arena);
    free(b->ops);
    free(b);
}

int aox_store_batch_commit(aox_batch *b, aox_err *err)
{
    int rc;
    aox_store_op *ops = NULL;
    if (!b)
        return aox_err_set(err, AOX_E_INVALID, "store: NULL batch");
    if (b->failed) {
        rc = aox_err_set(err, b->failed, "store: batch lost an operation (%s)",
                         aox_code_name(b->failed));
        goto done;
    }
    if (b->n == 0 && !b->fence) {
        rc = AOX_OK;
        goto done;
    }
    if (in_scan(b->s)) {
        rc = aox_err_set(err, AOX_E_INTERNAL,
                         "store: batch committed from inside a scan of the same store");
        goto done;
    }
    ops = calloc(b->n ? b->n : 1, sizeof *ops);
    if (!ops) {
        rc = aox_err_set(err, AOX_E_NOMEM, "store: out of memory");
        goto done;
    }
    for (size_t i = 0; i < b->n; i++) {
        ops[i].del = b->ops[i].del;
        ops[i].k = b->arena.data + b->ops[i].ko;
        ops[i].kl = b->ops[i].kl;
        ops[i].v = b->arena.data + b->ops[i].vo;
        ops[i].vl = b->ops[i].vl;
    }
    if (!b->fence)
        rc = b->s->ops->batch(b->s->impl, ops, b->n, err);
    else if (b->s->ops->batch_fenced)
        rc = b->s->ops->batch_fenced(b->s->impl, ops, b->n, b->fence, b->fence_token, err);
    else
        rc = local_commit_fenced(b->s, ops, b->n, b->fence, b->fence_token, err);
done:
    free(ops);
    aox_store_batch_abort(b);
    return rc;
}

/* ------------------------------------------------------------------ keys */

static int key_check(const char *part)
{
    return part && part[0] && !strchr(part, '/');
}

int aox_key_proc(aox_buf *k, const char *pid, const char *what, uint64_t slot)
{
    int rc;
    aox_buf_reset(k);
    if (!key_check(pid) || !key_check(what))
        return AOX_E_INVALID;
    if ((rc = aox_buf_append_str(k, "proc/")) || (rc = aox_buf_append_str(k, pid)) ||
        (rc = aox_buf_append_u8(k, '/')) || (rc = aox_buf_append_str(k, what)))
        return rc;
    if (slot == AOX_KEY_NOSLOT)
        return AOX_OK;
    if ((rc = aox_buf_append_u8(k, '/')) || (rc = aox_buf_append_be64(k, slot)))
        return rc;
    return AOX_OK;
}

int aox_key_proc_str(aox_buf *k, const char *pid, const char *what, const char *suffix)
{
    int rc;
    aox_buf_reset(k);
    if (!key_check(pid) || !key_check(what) || !suffix)
        return AOX_E_INVALID;
    if ((rc = aox_buf_append_str(k, "proc/")) || (rc = aox_buf_append_str(k, pid)) ||
        (rc = aox_buf_append_u8(k, '/')) || (rc = aox_buf_append_str(k, what)) ||
        (rc = aox_buf_append_u8(k, '/')) || (rc = aox_buf_append_str(k, suffix)))
        return rc;
    return AOX_OK;
}

int aox_key_simple(aox_buf *k, const char *space, const char *name)
{
    int rc;
    aox_buf_reset(k);
    if (!key_check(space) || !name)
        return AOX_E_INVALID;
    if ((rc = aox_buf_append_str(k, space)) || (rc = aox_buf_append_u8(k, '/')) ||
        (rc = aox_buf_append_str(k, name)))
        return rc;
    return AOX_OK;
}
