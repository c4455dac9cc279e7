/*
 * store/store_cache.c: "cache:DIR|INNER" — a local LMDB cache (DIR) in front of a
 * shared store (INNER, e.g. redis://...). The inner store is the authority; only keys
 * that are written once and never change are cached (see cacheable()):
 *   get        cacheable: the LMDB copy, else the inner store (then copied to LMDB,
 *              best effort); other keys: the inner store only.
 *   put/del/cas/batch (fenced or not)
 *              the inner store first; after it succeeded, the cacheable keys written
 *              are copied to / deleted from LMDB, best effort (a cache failure is
 *              ignored: the next get just misses).
 *   scan, seek_le, leases: the inner store only.
 * Bound (opts->cache_max, 0 = none): an in-memory LRU list of the cached keys with
 * their key + value bytes (rebuilt by a scan of DIR at open, in key order). Every
 * cache write and every hit updates it; when the total exceeds the bound the least
 * recently used entries are deleted from LMDB (one batch) until it is at most 7/8 of
 * the bound. A value larger than 1/8 of the bound is not cached. The LRU mutex is
 * held across each LMDB cache write, so the list and DIR agree.
 * Both stores are opened through the public API (aox_store_open), so leases and
 * fences behave exactly as the inner backend's do. aox_store_backend() of a cache
 * store is the inner backend's name: callers that key behaviour off "redis" (cluster
 * mode) see the shared store they are really talking to.
 */
#include "store/store_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* One cached key in the LRU list and the hash table. */
typedef struct centry {
    struct centry *hnext;            /* hash chain */
    struct centry *prev, *next;      /* LRU list: head = most recently used */
    uint64_t       h;
    uint64_t       size;             /* key + value bytes */
    size_t         kl;
    uint8_t        k[];
} centry;

typedef struct cache_impl {
    aox_store    *cache;     /* LMDB */
    aox_store    *inner;     /* the authority */
    aox_store_ops ops;       /* cache_ops named after the inner backend */
    /* bound (max == 0: none, the fields below stay empty) */
    uint64_t        max;
    pthread_mutex_t mu;      /* the LRU; held across LMDB cache writes */
    centry        **bucket;
    size_t          nb, n;
    centry         *head, *tail;
    uint64_t        bytes, evictions;
} cache_impl;

static uint64_t key_hash(const uint8_t *k, size_t kl)
{
    uint64_t h = 1469598103934665603ULL;               /* FNV-1a */
    for (size_t i = 0; i < kl; i++)
        h = (h ^ k[i]) * 1099511628211ULL;
    return h;
}

static centry *lru_find(cache_impl *c, const uint8_t *k, size_t kl, uint64_t h)
{
    centry *e = c->nb ? c->bucket[h & (c->nb - 1)] : NULL;
    while (e && !(e->h == h && e->kl == kl && memcmp(e->k, k, kl) == 0))
        e = e->hnext;
    return e;
}

static void lru_unlink(cache_impl *c, centry *e)
{
    if (e->prev) e->prev->next = e->next; else c->head = e->next;
    if (e->next) e->next->prev = e->prev; else c->tail = e->prev;
    e->prev = e->next = NULL;
}

static void lru_front(cache_impl *c, centry *e)
{
    e->next = c->head;
    if (c->head) c->head->prev = e; else c->tail = e;
    c->head = e;
}

/* Removes e from the table and the list and frees it. */
static void lru_drop(cache_impl *c, centry *e)
{
    centry **pp = &c->bucket[e->h & (c->nb - 1)];
    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    lru_unlink(c, e);
    c->bytes -= e->size;
    c->n--;
    free(e);
}

static int lru_grow(cache_impl *c)
{
    size_t nb = c->nb ? c->nb * 2 : 1024;
    centry **nbk = calloc(nb, sizeof *nbk);
    if (!nbk)
        return AOX_E_NOMEM;
    for (size_t i = 0; i < c->nb; i++) {
        centry *e = c->bucket[i];
        while (e) {
            centry *nx = e->hnext;
            e->hnext = nbk[e->h & (nb - 1)];
            nbk[e->h & (nb - 1)] = e;
            e = nx;
        }
    }
    free(c->bucket);
    c->bucket = nbk;
    c->nb = nb;
    return AOX_OK;
}

/* Records k (size bytes) as the most recently used entry. */
static int lru_add(cache_impl *c, const uint8_t *k, size_t kl, uint64_t size)
{
    uint64_t h = key_hash(k, kl);
    centry *e = lru_find(c, k, kl, h);
    if (e) {
        c->bytes = c->bytes - e->size + size;
        e->size = size;
        lru_unlink(c, e);
        lru_front(c, e);
        return AOX_OK;
    }
    if (c->n >= c->nb && lru_grow(c))
        return AOX_E_NOMEM;
    e = malloc(sizeof *e + kl);
    if (!e)
        return AOX_E_NOMEM;
    memset(e, 0, sizeof *e);
    e->h = h;
    e->size = size;
    e->kl = kl;
    memcpy(e->k, k, kl);
    e->hnext = c->bucket[h & (c->nb - 1)];
    c->bucket[h & (c->nb - 1)] = e;
    lru_front(c, e);
    c->bytes += size;
    c->n++;
    return AOX_OK;
}

static void lru_forget(cache_impl *c, const uint8_t *k, size_t kl)
{
    centry *e = lru_find(c, k, kl, key_hash(k, kl));
    if (e)
        lru_drop(c, e);
}

/* Over the bound: deletes least recently used entries from LMDB (one batch) until
 * the total is at most 7/8 of the bound. Caller holds c->mu. */
static void lru_evict(cache_impl *c)
{
    aox_batch *b = NULL;
    if (c->bytes <= c->max || aox_store_batch_begin(c->cache, &b))
        return;
    while (c->tail && c->bytes > c->max - c->max / 8) {
        centry *e = c->tail;
        (void)aox_batch_del(b, e->k, e->kl);
        lru_drop(c, e);
        c->evictions++;
    }
    (void)aox_store_batch_commit(b, NULL);
}

/* Caches k = v (bounded: under c->mu, with the LRU updated). */
static void cache_put(cache_impl *c, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
    if (!c->max) {
        (void)aox_store_put(c->cache, k, kl, v, vl);
        return;
    }
    if ((uint64_t)kl + vl > c->max / 8)
        return;                               /* too large to be worth a slot */
    pthread_mutex_lock(&c->mu);
    if (aox_store_put(c->cache, k, kl, v, vl) == AOX_OK && lru_add(c, k, kl, kl + vl) == 0)
        lru_evict(c);
    pthread_mutex_unlock(&c->mu);
}

static void cache_del(cache_impl *c, const uint8_t *k, size_t kl)
{
    if (c->max)
        pthread_mutex_lock(&c->mu);
    (void)aox_store_del(c->cache, k, kl);
    if (c->max) {
        lru_forget(c, k, kl);
        pthread_mutex_unlock(&c->mu);
    }
}

static void cache_hit(cache_impl *c, const uint8_t *k, size_t kl)
{
    centry *e;
    if (!c->max)
        return;
    pthread_mutex_lock(&c->mu);
    e = lru_find(c, k, kl, key_hash(k, kl));
    if (e) {
        lru_unlink(c, e);
        lru_front(c, e);
    }
    pthread_mutex_unlock(&c->mu);
}

static int has(const uint8_t *k, size_t kl, const char *p)
{
    size_t pl = strlen(p);
    return kl >= pl && memcmp(k, p, pl) == 0;
}

/* Immutable key families (store.h key builders): proc/<pid>/{assign,result,snap}/...,
 * proc/<pid>/def, page/..., module/..., data/.... Not: proc/<pid>/slot, msg/, names. */
static int cacheable(const uint8_t *k, size_t kl)
{
    if (has(k, kl, "page/") || has(k, kl, "module/") || has(k, kl, "data/"))
        return 1;
    if (!has(k, kl, "proc/"))
        return 0;
    const uint8_t *p = k + 5, *end = k + kl;
    const uint8_t *sl = memchr(p, '/', (size_t)(end - p));
    if (!sl || sl == p)
        return 0;
    const uint8_t *r = sl + 1;
    size_t rl = (size_t)(end - r);
    return has(r, rl, "assign/") || has(r, rl, "result/") || has(r, rl, "snap/") ||
           (rl == 3 && memcmp(r, "def", 3) == 0);
}

static int c_get(void *impl, const uint8_t *k, size_t kl, aox_buf *out)
{
    cache_impl *c = impl;
    if (!cacheable(k, kl))
        return aox_store_get(c->inner, k, kl, out);
    if (aox_store_get(c->cache, k, kl, out) == AOX_OK) {
        cache_hit(c, k, kl);
        return AOX_OK;
    }
    int rc = aox_store_get(c->inner, k, kl, out);
    if (rc == AOX_OK)
        cache_put(c, k, kl, out->data ? out->data : (const uint8_t *)"", out->len);
    return rc;
}

static int c_put(void *impl, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
    cache_impl *c = impl;
    int rc = aox_store_put(c->inner, k, kl, v, vl);
    if (rc == AOX_OK && cacheable(k, kl))
        cache_put(c, k, kl, v, vl);
    return rc;
}

static int c_del(void *impl, const uint8_t *k, size_t kl)
{
    cache_impl *c = impl;
    int rc = aox_store_del(c->inner, k, kl);
    if (rc == AOX_OK && cacheable(k, kl))
        cache_del(c, k, kl);
    return rc;
}

/* After a successful inner commit: mirror the cacheable ops into LMDB (one batch,
 * best effort; a later op on the same key wins there too). */
static void mirror(cache_impl *c, const aox_store_op *ops, size_t n)
{
    aox_batch *b = NULL;
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        m += cacheable(ops[i].k, ops[i].kl) != 0;
    if (m == 0)
        return;
    if (c->max)
        pthread_mutex_lock(&c->mu);
    if (aox_store_batch_begin(c->cache, &b))
        goto out;
    for (size_t i = 0; i < n; i++) {
        if (!cacheable(ops[i].k, ops[i].kl))
            continue;
        if (ops[i].del)
            (void)aox_batch_del(b, ops[i].k, ops[i].kl);
        else if (!c->max || (uint64_t)ops[i].kl + ops[i].vl <= c->max / 8)
            (void)aox_batch_put(b, ops[i].k, ops[i].kl, ops[i].v, ops[i].vl);
    }
    if (aox_store_batch_commit(b, NULL) == AOX_OK && c->max) {  /* a failed one writes nothing */
        for (size_t i = 0; i < n; i++) {
            if (!cacheable(ops[i].k, ops[i].kl))
                continue;
            if (ops[i].del)
                lru_forget(c, ops[i].k, ops[i].kl);
            else if ((uint64_t)ops[i].kl + ops[i].vl <= c->max / 8)
                (void)lru_add(c, ops[i].k, ops[i].kl, ops[i].kl + ops[i].vl);
        }
        lru_evict(c);
    }
out:
    if (c->max)
        pthread_mutex_unlock(&c->mu);
}

static int c_batch_fenced(void *impl, const aox_store_op *ops, size_t n,
                          const char *fence, uint64_t token, aox_err *err)
{
    cache_impl *c = impl;
    aox_batch *b = NULL;
    int rc = aox_store_batch_begin(c->inner, &b);
    if (rc)
        return aox_err_set(err, rc, "store: out of memory");
    for (size_t i = 0; i < n; i++)
        if (ops[i].del)
            (void)aox_batch_del(b, ops[i].k, ops[i].kl);
        else
            (void)aox_batch_put(b, ops[i].k, ops[i].kl, ops[i].v, ops[i].vl);
    if (fence)
        (void)aox_batch_fence(b, fence, token);
    /* a failed batch_put/del/fence is sticky and reported by commit */
    rc = aox_store_batch_commit(b, err);
    if (rc == AOX_OK)
        mirror(c, ops, n);
    return rc;
}

static int c_batch(void *impl, const aox_store_op *ops, size_t n, aox_err *err)
{
    return c_batch_fenced(impl, ops, n, NULL, 0, err);
}

static int c_scan(void *impl, const uint8_t *prefix, size_t pl,
                  const uint8_t *start, size_t sl, int reverse,
                  aox_scan_fn fn, void *ud)
{
    cache_impl *c = impl;
    return aox_store_scan(c->inner, prefix, pl, start, sl, reverse, fn, ud);
}

static int c_seek_le(void *impl, const uint8_t *prefix, size_t pl,
                     const uint8_t *bound, size_t bl, aox_buf *key_out, aox_buf *val_out)
{
    cache_impl *c = impl;
    return aox_store_seek_le(c->inner, prefix, pl, bound, bl, key_out, val_out);
}

static int c_cas(void *impl, const uint8_t *k, size_t kl, const uint8_t *expect,
                 size_t el, const uint8_t *v, size_t vl, aox_buf *cur)
{
    cache_impl *c = impl;
    int rc = aox_store_cas(c->inner, k, kl, expect, el, v, vl, cur);
    if (rc == AOX_OK && cacheable(k, kl)) {
        if (v)
            cache_put(c, k, kl, v, vl);
        else
            cache_del(c, k, kl);
    }
    return rc;
}

static int c_lease(void *impl, int op, const char *name, const char *owner,
                   uint64_t ttl_ms, uint64_t *token, aox_buf *owner_out,
                   uint64_t *ttl_left)
{
    cache_impl *c = impl;
    switch (op) {
    case AOX_LEASE_OP_ACQUIRE:
        return aox_store_lease_acquire(c->inner, name, owner, ttl_ms, token);
    case AOX_LEASE_OP_RENEW:
        return aox_store_lease_renew(c->inner, name, *token, ttl_ms);
    case AOX_LEASE_OP_RELEASE:
        return aox_store_lease_release(c->inner, name, *token);
    default:
        return aox_store_lease_get(c->inner, name, owner_out, token, ttl_left);
    }
}

static void c_close(void *impl)
{
    cache_impl *c = impl;
    if (!c)
        return;
    aox_store_close(c->cache);
    aox_store_close(c->inner);
    while (c->head) {
        centry *e = c->head;
        c->head = e->next;
        free(e);
    }
    free(c->bucket);
    if (c->max)
        pthread_mutex_destroy(&c->mu);
    free(c);
}

static const aox_store_ops cache_ops = {
    .name = "cache",
    .get = c_get,
    .put = c_put,
    .del = c_del,
    .batch = c_batch,
    .scan = c_scan,
    .seek_le = c_seek_le,
    .cas = c_cas,
    .close = c_close,
    .lease = c_lease,
    .batch_fenced = c_batch_fenced,
};

static int lru_load(void *ud, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
    (void)v;
    return lru_add(ud, k, kl, kl + vl) ? AOX_E_NOMEM : 0;
}

int aox_store_cache_open(const char *rest, const aox_store_opts *o,
                         const aox_store_ops **ops, void **impl, aox_err *err)
{
    int rc;
    char *dir = NULL;
    cache_impl *c = NULL;
    const char *bar = strchr(rest, '|');
    if (!bar || bar == rest || !bar[1]) {
        rc = aox_err_set(err, AOX_E_CONFIG,
                         "store: cache URI must be cache:<lmdb-dir>|<inner-uri>");
        goto fail;
    }
    if (strncmp(bar + 1, "cache:", 6) == 0) {
        rc = aox_err_set(err, AOX_E_CONFIG, "store: a cache cannot wrap another cache");
        goto fail;
    }
    c = calloc(1, sizeof *c);
    dir = malloc((size_t)(bar - rest) + 6);
    if (!c || !dir) {
        rc = aox_err_set(err, AOX_E_NOMEM, "store: out of memory");
        goto fail;
    }
    memcpy(dir, "lmdb:", 5);
    memcpy(dir + 5, rest, (size_t)(bar - rest));
    dir[5 + (bar - rest)] = '\0';
    if ((rc = aox_store_open(bar + 1, o, &c->inner, err)))
        goto fail;
    if ((rc = aox_store_open(dir, o, &c->cache, err)))
        goto fail;
    free(dir);
    dir = NULL;                          /* fail: frees it (a failed scan below) */
    if (o && o->cache_max) {             /* the bound: what DIR holds already */
        c->max = o->cache_max;
        pthread_mutex_init(&c->mu, NULL);
        rc = aox_store_scan(c->cache, "", 0, NULL, 0, 0, lru_load, c);
        if (rc) {
            rc = aox_err_set(err, rc, "store: cannot read the cache directory");
            goto fail;
        }
        pthread_mutex_lock(&c->mu);
        lru_evict(c);
        pthread_mutex_unlock(&c->mu);
    }
    /* aox_store_backend reports the inner backend ("redis" turns cluster mode on) */
    c->ops = cache_ops;
    c->ops.name = aox_store_backend(c->inner);
    *ops = &c->ops;
    *impl = c;
    return AOX_OK;
fail:
    free(dir);
    c_close(c);
    return rc;
}
