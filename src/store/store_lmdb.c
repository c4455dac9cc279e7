/*
 * store/store_lmdb.c: the LMDB backend ("lmdb:DIR", the default).
 *
 * Threading. The environment is opened with MDB_NOTLS, so read transactions are not
 * tied to threads and any thread may use the handle. Every call runs its own
 * transaction: reads a read-only txn, writes one write txn serialised by `wlock`
 * (LMDB allows one writer at a time anyway; the mutex keeps our threads from piling
 * up inside LMDB's).
 *
 * Map growth. mdb_env_set_mapsize may only be called while this process has no
 * transaction open, so every transaction runs under `resize` held for reading, and
 * growing takes it for writing:
 *
 *     reader/writer:  rdlock(resize) [wlock] txn ... commit/abort [unlock] unlock
 *     on MDB_MAP_FULL: abort, unlock all, wrlock(resize), double the map if nobody
 *                      else has grown it since, unlock, retry the whole txn
 *     on MDB_MAP_RESIZED (another process grew it): same, adopting its size
 *
 * The rwlock prefers readers, so a thread that already holds it for reading (a scan
 * callback calling get) may take it again. A scan callback must not write to the
 * same store: a write that needs to grow the map would wait for the scan forever.
 *
 * Durability. Commits fsync (no MDB_NOSYNC unless opts->no_sync), so a batch whose
 * commit returned 0 survives a crash of the process (tests/store: SIGKILL test).
 */
#include "store/store_int.h"

#include <errno.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define LMDB_MAP_DEFAULT   ((size_t)64 << 20)      /* 64 MiB */
#define LMDB_MAP_MAX       ((size_t)1 << 40)       /* 1 TiB: beyond this, fail */
#define LMDB_MAX_READERS   1024

typedef struct lmdb_store {
    MDB_env          *env;
    MDB_dbi           dbi;
    pthread_rwlock_t  resize;   /* read: a txn is open; write: resizing the map */
    pthread_mutex_t   wlock;    /* one write txn at a time */
} lmdb_store;

static int map_err(int rc)
{
    switch (rc) {
    case 0:                    return AOX_OK;
    case MDB_NOTFOUND:         return AOX_E_NOT_FOUND;
    case MDB_BAD_VALSIZE:      return AOX_E_INVALID;
    case MDB_TXN_FULL:         return AOX_E_TOO_LARGE;
    case MDB_MAP_FULL:         return AOX_E_TOO_LARGE;
    case MDB_READERS_FULL:     return AOX_E_BUSY;
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
    case MDB_VERSION_MISMATCH: return AOX_E_CORRUPT;
    case ENOMEM:               return AOX_E_NOMEM;
    default:                   return AOX_E_IO;
    }
}

static MDB_val val(const void *p, size_t n)
{
    MDB_val v = { n, (void *)p };
    return v;
}

/* Grows the map (or adopts another process's size when seen == 0). Called with no
 * locks held. */
static int grow(lmdb_store *s, size_t seen)
{
    int rc = 0;
    pthread_rwlock_wrlock(&s->resize);
    if (seen == 0) {
        rc = mdb_env_set_mapsize(s->env, 0);
    } else {
        MDB_envinfo info;
        mdb_env_info(s->env, &info);
        if (info.me_mapsize == seen) {          /* nobody grew it meanwhile */
            if (seen >= LMDB_MAP_MAX)
                rc = MDB_MAP_FULL;
            else
                rc = mdb_env_set_mapsize(s->env, seen * 2);
        }
    }
    pthread_rwlock_unlock(&s->resize);
    return rc;
}

/* ------------------------------------------------------------------ reads */

/* Opens a read txn under the resize lock; on success the caller must call
 * read_end. Handles MDB_MAP_RESIZED by adopting the new size. */
static int read_begin(lmdb_store *s, MDB_txn **t)
{
    for (;;) {
        pthread_rwlock_rdlock(&s->resize);
        int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, t);
        if (rc == 0)
            return 0;
        pthread_rwlock_unlock(&s->resize);
        if (rc != MDB_MAP_RESIZED)
            return rc;
        if ((rc = grow(s, 0)))
            return rc;
    }
}

static void read_end(lmdb_store *s, MDB_txn *t)
{
    mdb_txn_abort(t);
    pthread_rwlock_unlock(&s->resize);
}

static int lm_get(void *impl, const uint8_t *k, size_t kl, aox_buf *out)
{
    lmdb_store *s = impl;
    MDB_txn *t;
    int rc = read_begin(s, &t);
    if (rc)
        return map_err(rc);
    MDB_val key = val(k, kl), data;
    rc = mdb_get(t, s->dbi, &key, &data);
    if (rc == 0)
        rc = aox_buf_append(out, data.mv_data, data.mv_size);
    else
        rc = map_err(rc);
    read_end(s, t);
    return rc;
}

static int lm_scan(void *impl, const uint8_t *p, size_t pl,
                   const uint8_t *start, size_t sl, int reverse,
                   aox_scan_fn fn, void *ud)
{
    lmdb_store *s = impl;
    MDB_txn *t;
    MDB_cursor *c = NULL;
    MDB_val key, data;
    uint8_t succ[AOX_STORE_KEY_MAX];
    int rc = read_begin(s, &t);
    if (rc)
        return map_err(rc);
    if ((rc = mdb_cursor_open(t, s->dbi, &c)))
        goto mdb_fail;

    /* Position the cursor on the first key to report. */
    if (!reverse) {
        key = start ? val(start, sl) : val(p, pl);
        rc = key.mv_size ? mdb_cursor_get(c, &key, &data, MDB_SET_RANGE)
                         : mdb_cursor_get(c, &key, &data, MDB_FIRST);
    } else {
        /* greatest key <= start, or < succ(prefix), or the very last key */
        size_t ql = 0;
        if (start)
            key = val(start, sl);
        else if ((ql = aox_store_prefix_succ(p, pl, succ)))
            key = val(succ, ql);
        if (start || ql) {
            MDB_val want = key;
            rc = mdb_cursor_get(c, &key, &data, MDB_SET_RANGE);
            if (rc == 0 && !(start && aox_store_key_cmp(key.mv_data, key.mv_size,
                                                        want.mv_data, want.mv_size) == 0))
                rc = mdb_cursor_get(c, &key, &data, MDB_PREV);
            else if (rc == MDB_NOTFOUND)
                rc = mdb_cursor_get(c, &key, &data, MDB_LAST);
        } else {
            rc = mdb_cursor_get(c, &key, &data, MDB_LAST);
        }
    }
    /* Walk while keys keep the prefix. */
    while (rc == 0) {
        if (!aox_store_has_prefix(key.mv_data, key.mv_size, p, pl))
            break;
        int u = fn(ud, key.mv_data, key.mv_size, data.mv_data, data.mv_size);
        if (u) {
            mdb_cursor_close(c);
            read_end(s, t);
            return u;
        }
        rc = mdb_cursor_get(c, &key, &data, reverse ? MDB_PREV : MDB_NEXT);
    }
    if (rc == MDB_NOTFOUND)
        rc = 0;
    if (rc)
        goto mdb_fail;
    mdb_cursor_close(c);
    read_end(s, t);
    return AOX_OK;
mdb_fail:
    if (c)
        mdb_cursor_close(c);
    read_end(s, t);
    return map_err(rc);
}

/* ------------------------------------------------------------------ writes */

/* The body of a write txn: returns an LMDB code; sets *abort_code to an aox code to
 * abort without an LMDB error (e.g. a CAS conflict). */
typedef int (*write_fn)(lmdb_store *s, MDB_txn *t, void *arg, int *abort_code);

static int write_txn(lmdb_store *s, write_fn fn, void *arg, aox_err *err)
{
    for (;;) {
        MDB_txn *t = NULL;
        MDB_envinfo info;
        int abort_code = 0;
        pthread_rwlock_rdlock(&s->resize);
        pthread_mutex_lock(&s->wlock);
        mdb_env_info(s->env, &info);
        size_t seen = info.me_mapsize;
        int rc = mdb_txn_begin(s->env, NULL, 0, &t);
        if (rc == 0) {
            rc = fn(s, t, arg, &abort_code);
            if (rc == 0 && abort_code == 0)
                rc = mdb_txn_commit(t);     /* frees t, success or not */
            else
                mdb_txn_abort(t);
        }
        pthread_mutex_unlock(&s->wlock);
        pthread_rwlock_unlock(&s->resize);
        if (rc == MDB_MAP_FULL || rc == MDB_MAP_RESIZED) {
            int g = grow(s, rc == MDB_MAP_FULL ? seen : 0);
            if (g == 0)
                continue;
            return aox_err_set(err, map_err(g), "lmdb: cannot grow the map beyond "
                               "%zu bytes: %s", seen, mdb_strerror(g));
        }
        if (rc)
            return aox_err_set(err, map_err(rc), "lmdb: %s", mdb_strerror(rc));
        return abort_code;
    }
}

typedef struct ops_arg {
    const aox_store_op *ops;
    size_t              n;
} ops_arg;

static int do_ops(lmdb_store *s, MDB_txn *t, void *arg, int *abort_code)
{
    const ops_arg *a = arg;
    for (size_t i = 0; i < a->n; i++) {
        const aox_store_op *o = &a->ops[i];
        MDB_val key = val(o->k, o->kl);
        int rc;
        if (o->del) {
            rc = mdb_del(t, s->dbi, &key, NULL);
            if (rc == MDB_NOTFOUND)
                rc = 0;
        } else {
            MDB_val data = val(o->v, o->vl);
            rc = mdb_put(t, s->dbi, &key, &data, 0);
        }
        if (rc)
            return rc;
    }
    return 0;
}

static int lm_batch(void *impl, const aox_store_op *ops, size_t n, aox_err *err)
{
    ops_arg a = { ops, n };
    return write_txn(impl, do_ops, &a, err);
}

static int lm_put(void *impl, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
    aox_store_op o = { 0, k, kl, v, vl };
    return lm_batch(impl, &o, 1, NULL);
}

static int lm_del(void *impl, const uint8_t *k, size_t kl)
{
    aox_store_op o = { 1, k, kl, NULL, 0 };
    return lm_batch(impl, &o, 1, NULL);
}

typedef struct cas_arg {
    const uint8_t *k, *expect, *v;
    size_t         kl, el, vl;
    aox_buf       *cur;
} cas_arg;

static int do_cas(lmdb_store *s, MDB_txn *t, void *arg, int *abort_code)
{
    const cas_arg *a = arg;
    MDB_val key = val(a->k, a->kl), data;
    int rc = mdb_get(t, s->dbi, &key, &data);
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    int present = rc == 0;
    int match = a->expect ? (present && data.mv_size == a->el &&
                             (a->el == 0 || memcmp(data.mv_data, a->expect, a->el) == 0))
                          : !present;
    if (!match) {
        *abort_code = AOX_E_CONFLICT;
        if (a->cur) {
            aox_buf_reset(a->cur);
            if (present && aox_buf_append(a->cur, data.mv_data, data.mv_size))
                *abort_code = AOX_E_NOMEM;
        }
        return 0;
    }
    if (a->v) {
        MDB_val nv = val(a->v, a->vl);
        return mdb_put(t, s->dbi, &key, &nv, 0);
    }
    rc = mdb_del(t, s->dbi, &key, NULL);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static int lm_cas(void *impl, const uint8_t *k, size_t kl, const uint8_t *expect,
                  size_t el, const uint8_t *v, size_t vl, aox_buf *cur)
{
    cas_arg a = { k, expect, v, kl, el, vl, cur };
    return write_txn(impl, do_cas, &a, NULL);
}

/* ------------------------------------------------------------------ open/close */

static void lm_close(void *impl)
{
    lmdb_store *s = impl;
    if (s->env)
        mdb_env_close(s->env);
    pthread_rwlock_destroy(&s->resize);
    pthread_mutex_destroy(&s->wlock);
    free(s);
}

static const aox_store_ops lmdb_ops = {
    .name = "lmdb",
    .get = lm_get,
    .put = lm_put,
    .del = lm_del,
    .batch = lm_batch,
    .scan = lm_scan,
    .seek_le = NULL,          /* a reverse scan positioned by MDB_SET_RANGE + PREV */
    .cas = lm_cas,
    .close = lm_close,
};

/* mkdir -p */
static int make_dirs(const char *dir)
{
    size_t n = strlen(dir);
    char *p = malloc(n + 1);
    if (!p)
        return ENOMEM;
    memcpy(p, dir, n + 1);
    int rc = 0;
    for (size_t i = 1; i <= n && rc == 0; i++) {
        if (p[i] == '/' || p[i] == '\0') {
            char c = p[i];
            p[i] = '\0';
            if (mkdir(p, 0755) != 0 && errno != EEXIST)
                rc = errno;
            p[i] = c;
        }
    }
    free(p);
    return rc;
}

int aox_store_lmdb_open(const char *dir, const aox_store_opts *o,
                        const aox_store_ops **ops, void **impl, aox_err *err)
{
    int rc;
    int dead = 0;
    MDB_txn *t = NULL;
    lmdb_store *s = calloc(1, sizeof *s);
    if (!s)
        return aox_err_set(err, AOX_E_NOMEM, "lmdb: out of memory");
    pthread_rwlockattr_t ra;
    pthread_rwlockattr_init(&ra);
    pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_READER_NP);
    pthread_rwlock_init(&s->resize, &ra);
    pthread_rwlockattr_destroy(&ra);
    pthread_mutex_init(&s->wlock, NULL);

    if ((rc = make_dirs(dir))) {
        aox_err_set(err, AOX_E_IO, "lmdb: cannot create %s: %s", dir, strerror(rc));
        rc = AOX_E_IO;
        goto fail;
    }
    if ((rc = mdb_env_create(&s->env)))
        goto mdb_fail;
    size_t map = o->map_size_initial ? o->map_size_initial : LMDB_MAP_DEFAULT;
    if ((rc = mdb_env_set_mapsize(s->env, map)) ||
        (rc = mdb_env_set_maxreaders(s->env, LMDB_MAX_READERS)))
        goto mdb_fail;
    unsigned flags = MDB_NOTLS | (o->no_sync ? MDB_NOSYNC : 0);
    if ((rc = mdb_env_open(s->env, dir, flags, 0644)))
        goto mdb_fail;
    if (mdb_env_get_maxkeysize(s->env) < AOX_STORE_KEY_MAX) {
        rc = aox_err_set(err, AOX_E_CONFIG, "lmdb: max key size %d < %d",
                         mdb_env_get_maxkeysize(s->env), AOX_STORE_KEY_MAX);
        goto fail;
    }
    /* Clear reader slots left by crashed processes. */
    mdb_reader_check(s->env, &dead);
    if ((rc = mdb_txn_begin(s->env, NULL, 0, &t)))
        goto mdb_fail;
    if ((rc = mdb_dbi_open(t, NULL, 0, &s->dbi))) {
        mdb_txn_abort(t);
        goto mdb_fail;
    }
    if ((rc = mdb_txn_commit(t)))
        goto mdb_fail;
    *ops = &lmdb_ops;
    *impl = s;
    return AOX_OK;
mdb_fail:
    aox_err_set(err, map_err(rc), "lmdb: cannot open %s: %s", dir, mdb_strerror(rc));
    rc = map_err(rc);
fail:
    lm_close(s);
    return rc;
}
