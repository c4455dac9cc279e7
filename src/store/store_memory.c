/*
 * store/store_memory.c: the in-process backend ("memory:"), for tests.
 *
 * A sorted array of owned (key, value) pairs under a reader-writer lock. Lookups and
 * scan starts are binary searches, so a scan costs O(log n + k); an insert in the
 * middle moves O(n) pointers (fine for test-sized data; appends in key order, the
 * common case for slot keys, are O(1) amortised). Nothing is persisted.
 */
#include "store/store_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct kv {
    uint8_t *k;
    size_t   kl;
    uint8_t *v;
    size_t   vl;
} kv;

typedef struct mem_store {
    pthread_rwlock_t lock;
    kv              *a;
    size_t           n, cap;
} mem_store;

/* First index whose key is >= k. */
static size_t lower_bound(const mem_store *m, const uint8_t *k, size_t kl)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (aox_store_key_cmp(m->a[mid].k, m->a[mid].kl, k, kl) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int found_at(const mem_store *m, size_t i, const uint8_t *k, size_t kl)
{
    return i < m->n && aox_store_key_cmp(m->a[i].k, m->a[i].kl, k, kl) == 0;
}

static uint8_t *dup_bytes(const uint8_t *p, size_t n)
{
    uint8_t *d = malloc(n ? n : 1);
    if (d && n)
        memcpy(d, p, n);
    return d;
}

static int reserve(mem_store *m, size_t extra)
{
    if (m->n + extra <= m->cap)
        return AOX_OK;
    size_t ncap = m->cap ? m->cap : 64;
    while (ncap < m->n + extra)
        ncap *= 2;
    kv *na = realloc(m->a, ncap * sizeof *na);
    if (!na)
        return AOX_E_NOMEM;
    m->a = na;
    m->cap = ncap;
    return AOX_OK;
}

/* Stores an owned pair (capacity already reserved); cannot fail. */
static void put_owned(mem_store *m, uint8_t *k, size_t kl, uint8_t *v, size_t vl)
{
    size_t i = lower_bound(m, k, kl);
    if (found_at(m, i, k, kl)) {
        free(k);
        free(m->a[i].v);
        m->a[i].v = v;
        m->a[i].vl = vl;
        return;
    }
    memmove(&m->a[i + 1], &m->a[i], (m->n - i) * sizeof *m->a);
    m->a[i] = (kv){ k, kl, v, vl };
    m->n++;
}

static void del_at(mem_store *m, const uint8_t *k, size_t kl)
{
    size_t i = lower_bound(m, k, kl);
    if (!found_at(m, i, k, kl))
        return;
    free(m->a[i].k);
    free(m->a[i].v);
    memmove(&m->a[i], &m->a[i + 1], (m->n - i - 1) * sizeof *m->a);
    m->n--;
}

/* ------------------------------------------------------------------ ops */

static int mem_get(void *impl, const uint8_t *k, size_t kl, aox_buf *out)
{
    mem_store *m = impl;
    int rc;
    pthread_rwlock_rdlock(&m->lock);
    size_t i = lower_bound(m, k, kl);
    if (found_at(m, i, k, kl))
        rc = aox_buf_append(out, m->a[i].v, m->a[i].vl);
    else
        rc = AOX_E_NOT_FOUND;
    pthread_rwlock_unlock(&m->lock);
    return rc;
}

static int mem_put(void *impl, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
    mem_store *m = impl;
    int rc = AOX_E_NOMEM;
    uint8_t *kc = dup_bytes(k, kl), *vc = dup_bytes(v, vl);
    if (!kc || !vc)
        goto fail;
    pthread_rwlock_wrlock(&m->lock);
    rc = reserve(m, 1);
    if (rc == AOX_OK)
        put_owned(m, kc, kl, vc, vl);
    pthread_rwlock_unlock(&m->lock);
    if (rc == AOX_OK)
        return AOX_OK;
fail:
    free(kc);
    free(vc);
    return rc;
}

static int mem_del(void *impl, const uint8_t *k, size_t kl)
{
    mem_store *m = impl;
    pthread_rwlock_wrlock(&m->lock);
    del_at(m, k, kl);
    pthread_rwlock_unlock(&m->lock);
    return AOX_OK;
}

/* All-or-nothing: every copy and the array capacity are secured before the first
 * change, so applying cannot fail half-way. */
static int mem_batch(void *impl, const aox_store_op *ops, size_t n, aox_err *err)
{
    mem_store *m = impl;
    int rc = AOX_OK;
    kv *cp = calloc(n, sizeof *cp);
    if (!cp)
        return aox_err_set(err, AOX_E_NOMEM, "memory store: out of memory");
    for (size_t i = 0; i < n; i++) {
        if (ops[i].del)
            continue;
        cp[i].k = dup_bytes(ops[i].k, ops[i].kl);
        cp[i].v = dup_bytes(ops[i].v, ops[i].vl);
        if (!cp[i].k || !cp[i].v) {
            rc = aox_err_set(err, AOX_E_NOMEM, "memory store: out of memory");
            goto fail;
        }
    }
    pthread_rwlock_wrlock(&m->lock);
    rc = reserve(m, n);
    if (rc == AOX_OK) {
        for (size_t i = 0; i < n; i++) {
            if (ops[i].del)
                del_at(m, ops[i].k, ops[i].kl);
            else
                put_owned(m, cp[i].k, ops[i].kl, cp[i].v, ops[i].vl);
        }
    }
    pthread_rwlock_unlock(&m->lock);
    if (rc == AOX_OK) {
        free(cp);
        return AOX_OK;
    }
    aox_err_set(err, rc, "memory store: out of memory");
fail:
    for (size_t i = 0; i < n; i++) {
        free(cp[i].k);
        free(cp[i].v);
    }
    free(cp);
    return rc;
}

static int mem_scan(void *impl, const uint8_t *p, size_t pl,
                    const uint8_t *start, size_t sl, int reverse,
                    aox_scan_fn fn, void *ud)
{
    mem_store *m = impl;
    int rc = 0;
    pthread_rwlock_rdlock(&m->lock);
    if (!reverse) {
        size_t i = start ? lower_bound(m, start, sl) : lower_bound(m, p, pl);
        for (; i < m->n && aox_store_has_prefix(m->a[i].k, m->a[i].kl, p, pl); i++)
            if ((rc = fn(ud, m->a[i].k, m->a[i].kl, m->a[i].v, m->a[i].vl)))
                break;
    } else {
        /* end: one past the last key <= start, or past the last prefixed key */
        size_t end;
        if (start) {
            end = lower_bound(m, start, sl);
            if (found_at(m, end, start, sl))
                end++;
        } else {
            uint8_t succ[AOX_STORE_KEY_MAX];
            size_t ql = aox_store_prefix_succ(p, pl, succ);
            end = ql ? lower_bound(m, succ, ql) : m->n;
        }
        for (size_t i = end; i > 0; i--) {
            const kv *e = &m->a[i - 1];
            if (!aox_store_has_prefix(e->k, e->kl, p, pl))
                break;
            if ((rc = fn(ud, e->k, e->kl, e->v, e->vl)))
                break;
        }
    }
    pthread_rwlock_unlock(&m->lock);
    return rc;
}

static int mem_cas(void *impl, const uint8_t *k, size_t kl, const uint8_t *expect,
                   size_t el, const uint8_t *v, size_t vl, aox_buf *cur)
{
    mem_store *m = impl;
    int rc = AOX_OK;
    uint8_t *kc = NULL, *vc = NULL;
    if (v) {
        kc = dup_bytes(k, kl);
        vc = dup_bytes(v, vl);
        if (!kc || !vc) {
            rc = AOX_E_NOMEM;
            goto done;
        }
    }
    pthread_rwlock_wrlock(&m->lock);
    size_t i = lower_bound(m, k, kl);
    int present = found_at(m, i, k, kl);
    int match = expect ? (present && m->a[i].vl == el &&
                          (el == 0 || memcmp(m->a[i].v, expect, el) == 0))
                       : !present;
    if (!match) {
        rc = AOX_E_CONFLICT;
        if (cur) {
            aox_buf_reset(cur);
            if (present && aox_buf_append(cur, m->a[i].v, m->a[i].vl))
                rc = AOX_E_NOMEM;
        }
    } else if (v) {
        rc = reserve(m, 1);
        if (rc == AOX_OK) {
            put_owned(m, kc, kl, vc, vl);
            kc = vc = NULL;
        }
    } else {
        del_at(m, k, kl);
    }
    pthread_rwlock_unlock(&m->lock);
done:
    free(kc);
    free(vc);
    return rc;
}

static void mem_close(void *impl)
{
    mem_store *m = impl;
    for (size_t i = 0; i < m->n; i++) {
        free(m->a[i].k);
        free(m->a[i].v);
    }
    free(m->a);
    pthread_rwlock_destroy(&m->lock);
    free(m);
}

static const aox_store_ops mem_ops = {
    .name = "memory",
    .get = mem_get,
    .put = mem_put,
    .del = mem_del,
    .batch = mem_batch,
    .scan = mem_scan,
    .seek_le = NULL,          /* from a reverse scan (store.c) */
    .cas = mem_cas,
    .close = mem_close,
};

int aox_store_memory_open(const aox_store_opts *o, const aox_store_ops **ops,
                          void **impl, aox_err *err)
{
    mem_store *m = calloc(1, sizeof *m);
    if (!m)
        return aox_err_set(err, AOX_E_NOMEM, "memory store: out of memory");
    if (pthread_rwlock_init(&m->lock, NULL)) {
        free(m);
        return aox_err_set(err, AOX_E_INTERNAL, "memory store: rwlock init failed");
    }
    *ops = &mem_ops;
    *impl = m;
    return AOX_OK;
}
