/*
 * tests/store/test_store.c: one suite for every store backend. Run as
 *   test_store memory:   or   test_store lmdb:   or   test_store redis://HOST:PORT
 * ("lmdb:" makes fresh directories under $TMPDIR and removes them at the end;
 * "redis://" is run by redis_run.sh, which starts a throw-away server: each fresh
 * store is another database number of it).
 * LMDB-only parts: map growth from a 1 MiB map, close/reopen durability, and a
 * child killed with SIGKILL right after its batch commit returned. Redis-only parts:
 * the physical key layout, the durability configuration check, and redis-server
 * killed with SIGKILL right after a commit returned (AOX_E_IO while it is down, the
 * data back after a restart on the same AOF). Leases and fenced batches: all.
 * "cache:" runs the suite on cache:<fresh dir>|memory: plus test_cache (what lands
 * in the LMDB cache, reads through to an inner LMDB store, URI errors).
 */
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "../core/check.h"
#include "store/store.h"
#include "store/store_int.h"   /* redis slot helpers */

static int is_lmdb, is_redis, is_cache, is_cluster;
static void flush_cluster(void);
static void sync_mode(const char *mode);
static const char *backend = "memory";
static const char *redis_base;       /* "redis://127.0.0.1:PORT" */
static char tmp_root[256];
static int dir_seq;
static char last_dir[300];
static char last_uri[320];

/* A fresh, empty store (a new directory for LMDB). */
static aox_store *fresh_opts(size_t map_size, int no_sync)
{
    char uri[320];
    /* cache: a tiny bound, so the whole suite also runs with evictions */
    aox_store_opts o = { map_size, no_sync, is_cache ? 4096 : 0 };
    if (is_lmdb) {
        snprintf(last_dir, sizeof last_dir, "%s/db%d/sub", tmp_root, dir_seq++);
        snprintf(uri, sizeof uri, "lmdb:%s", last_dir);   /* sub/ tests mkdir -p */
    } else if (is_cluster) {
        flush_cluster();                           /* a cluster has database 0 only */
        snprintf(uri, sizeof uri, "%s", redis_base);
    } else if (is_redis) {
        snprintf(uri, sizeof uri, "%s/%d", redis_base, ++dir_seq);   /* an empty db */
    } else if (is_cache) {
        snprintf(last_dir, sizeof last_dir, "%s/cache%d", tmp_root, dir_seq++);
        snprintf(uri, sizeof uri, "cache:%s|memory:", last_dir);
    } else {
        snprintf(uri, sizeof uri, "memory:");
    }
    aox_store *s = NULL;
    aox_err err;
    int rc = aox_store_open(uri, &o, &s, &err);
    if (rc)
        fprintf(stderr, "open %s: %s\n", uri, err.msg);
    REQUIRE(rc == 0 && s);
    snprintf(last_uri, sizeof last_uri, "%s", uri);
    return s;
}

static aox_store *fresh(size_t map_size)
{
    return fresh_opts(map_size, 0);
}

static aox_store *reopen(const char *dir)
{
    char uri[320];
    snprintf(uri, sizeof uri, "lmdb:%s", dir);
    aox_store *s = NULL;
    aox_err err;
    REQUIRE(aox_store_open(uri, NULL, &s, &err) == 0);
    return s;
}

static int put_s(aox_store *s, const char *k, const char *v)
{
    return aox_store_put(s, k, strlen(k), v, strlen(v));
}

/* get as a string; "" marks absent */
static const char *get_s(aox_store *s, const char *k, aox_buf *b)
{
    int rc = aox_store_get(s, k, strlen(k), b);
    if (rc == AOX_E_NOT_FOUND)
        return "<absent>";
    REQUIRE(rc == 0);
    return (const char *)b->data;
}

/* ------------------------------------------------------------------ basics */

static void test_basic(void)
{
    aox_store *s = fresh(0);
    aox_buf b = { 0 };
    CHECK_STR(aox_store_backend(s), backend);
    CHECK_STR(get_s(s, "k1", &b), "<absent>");
    CHECK_EQ_INT(put_s(s, "k1", "v1"), 0);
    CHECK_STR(get_s(s, "k1", &b), "v1");
    CHECK_EQ_INT(put_s(s, "k1", "v1-longer"), 0);
    CHECK_STR(get_s(s, "k1", &b), "v1-longer");
    CHECK_EQ_INT(b.len, 9);
    CHECK_EQ_INT(aox_store_put(s, "e", 1, NULL, 0), 0);       /* empty value */
    CHECK_EQ_INT(aox_store_get(s, "e", 1, &b), 0);
    CHECK(b.len == 0 && b.data != NULL);
    /* binary keys and values */
    uint8_t bk[3] = { 0, 0xff, 0 }, bv[4] = { 1, 0, 2, 0 };
    CHECK_EQ_INT(aox_store_put(s, bk, 3, bv, 4), 0);
    CHECK_EQ_INT(aox_store_get(s, bk, 3, &b), 0);
    CHECK(b.len == 4 && memcmp(b.data, bv, 4) == 0);
    CHECK_EQ_INT(aox_store_get(s, bk, 2, &b), AOX_E_NOT_FOUND);
    CHECK_EQ_INT(b.len, 0);                                   /* reset on miss */
    CHECK_EQ_INT(aox_store_del(s, "k1", 2), 0);
    CHECK_STR(get_s(s, "k1", &b), "<absent>");
    CHECK_EQ_INT(aox_store_del(s, "k1", 2), 0);               /* absent: still 0 */
    /* key limits, the same on every backend */
    char longk[AOX_STORE_KEY_MAX + 1];
    memset(longk, 'k', sizeof longk);
    CHECK_EQ_INT(aox_store_put(s, longk, AOX_STORE_KEY_MAX, "v", 1), 0);
    CHECK_EQ_INT(aox_store_get(s, longk, AOX_STORE_KEY_MAX, &b), 0);
    CHECK_EQ_INT(aox_store_put(s, longk, AOX_STORE_KEY_MAX + 1, "v", 1), AOX_E_INVALID);
    CHECK_EQ_INT(aox_store_get(s, longk, AOX_STORE_KEY_MAX + 1, &b), AOX_E_INVALID);
    CHECK_EQ_INT(aox_store_put(s, "", 0, "v", 1), AOX_E_INVALID);
    CHECK_EQ_INT(aox_store_del(s, "", 0), AOX_E_INVALID);
    aox_buf_free(&b);
    aox_store_close(s);
    aox_store_close(NULL);
}

static void test_open_errors(void)
{
    aox_store *s = NULL;
    aox_err err;
    CHECK_EQ_INT(aox_store_open("", NULL, &s, &err), AOX_E_CONFIG);
    CHECK_EQ_INT(aox_store_open("lmdb:", NULL, &s, &err), AOX_E_CONFIG);
    CHECK_EQ_INT(aox_store_open("redis://127.0.0.1:1", NULL, &s, &err), AOX_E_IO);
    CHECK(strstr(err.msg, "127.0.0.1:1") != NULL);
    CHECK_EQ_INT(aox_store_open("redis://", NULL, &s, &err), AOX_E_CONFIG);
    CHECK_EQ_INT(aox_store_open("redis://h:99999", NULL, &s, &err), AOX_E_CONFIG);
    CHECK_EQ_INT(aox_store_open("redis://h:1/x", NULL, &s, &err), AOX_E_CONFIG);
    CHECK_EQ_INT(aox_store_open("redis://h:1/2?timeout_ms=0", NULL, &s, &err),
                 AOX_E_CONFIG);
    CHECK_EQ_INT(aox_store_open("redis://h:1?cluster=2", NULL, &s, &err), AOX_E_CONFIG);
    CHECK_EQ_INT(aox_store_open("redis://h:1/3?cluster=1", NULL, &s, &err), AOX_E_CONFIG);
    CHECK(strstr(err.msg, "database 0") != NULL);
    CHECK_EQ_INT(aox_store_open("redis://h:1?timeout_ms=9&cluster=1&x=1", NULL, &s, &err),
                 AOX_E_CONFIG);
    CHECK_EQ_INT(aox_store_open("redis://127.0.0.1:1?cluster=1&timeout_ms=500", NULL, &s,
                                &err), AOX_E_IO);
    CHECK_EQ_INT(aox_store_open("lmdb:/proc/definitely/not/here", NULL, &s, &err),
                 AOX_E_IO);
    CHECK(s == NULL);
}

static void test_keys(void)
{
    aox_buf k = { 0 };
    CHECK_EQ_INT(aox_key_proc(&k, "PID", "assign", 0x0102030405060708ULL), 0);
    static const char want[] = "proc/PID/assign/\x01\x02\x03\x04\x05\x06\x07\x08";
    CHECK(k.len == sizeof want - 1 && memcmp(k.data, want, k.len) == 0);
    CHECK_EQ_INT(aox_key_proc(&k, "PID", "def", AOX_KEY_NOSLOT), 0);
    CHECK(k.len == 12 && memcmp(k.data, "proc/PID/def", 12) == 0);
    CHECK_EQ_INT(aox_key_proc_str(&k, "PID", "msg", "MID"), 0);
    CHECK(k.len == 16 && memcmp(k.data, "proc/PID/msg/MID", 16) == 0);
    CHECK_EQ_INT(aox_key_proc_str(&k, "PID", "assign", ""), 0);
    CHECK(k.len == 16 && memcmp(k.data, "proc/PID/assign/", 16) == 0);
    CHECK_EQ_INT(aox_key_simple(&k, "module", "ID"), 0);
    CHECK(k.len == 9 && memcmp(k.data, "module/ID", 9) == 0);
    CHECK_EQ_INT(aox_key_proc(&k, "a/b", "def", AOX_KEY_NOSLOT), AOX_E_INVALID);
    CHECK_EQ_INT(aox_key_proc(&k, "", "def", AOX_KEY_NOSLOT), AOX_E_INVALID);
    CHECK_EQ_INT(aox_key_simple(&k, "", "x"), AOX_E_INVALID);
    /* slot keys sort in slot order */
    aox_buf k2 = { 0 };
    aox_key_proc(&k, "P", "result", 255);
    aox_key_proc(&k2, "P", "result", 256);
    CHECK(memcmp(k.data, k2.data, k.len) < 0);
    aox_buf_free(&k);
    aox_buf_free(&k2);
}

/* ------------------------------------------------------------------ batches */

static void test_batch(void)
{
    aox_store *s = fresh(0);
    aox_buf b = { 0 };
    aox_batch *bt;
    aox_err err;
    put_s(s, "old", "1");

    /* abort leaves nothing */
    CHECK_EQ_INT(aox_store_batch_begin(s, &bt), 0);
    aox_batch_put(bt, "x1", 2, "a", 1);
    aox_batch_del(bt, "old", 3);
    aox_store_batch_abort(bt);
    CHECK_STR(get_s(s, "x1", &b), "<absent>");
    CHECK_STR(get_s(s, "old", &b), "1");

    /* commit applies all, in order */
    CHECK_EQ_INT(aox_store_batch_begin(s, &bt), 0);
    for (int i = 0; i < 100; i++) {
        char k[16], v[16];
        snprintf(k, sizeof k, "b%03d", i);
        snprintf(v, sizeof v, "v%d", i);
        CHECK_EQ_INT(aox_batch_put(bt, k, strlen(k), v, strlen(v)), 0);
    }
    aox_batch_put(bt, "twice", 5, "first", 5);
    aox_batch_put(bt, "twice", 5, "second", 6);
    aox_batch_put(bt, "gone", 4, "x", 1);
    aox_batch_del(bt, "gone", 4);
    aox_batch_del(bt, "old", 3);
    CHECK_EQ_INT(aox_store_batch_commit(bt, &err), 0);
    CHECK_STR(get_s(s, "b000", &b), "v0");
    CHECK_STR(get_s(s, "b099", &b), "v99");
    CHECK_STR(get_s(s, "twice", &b), "second");
    CHECK_STR(get_s(s, "gone", &b), "<absent>");
    CHECK_STR(get_s(s, "old", &b), "<absent>");

    /* a batch that lost an op (invalid key) refuses to commit and applies nothing */
    CHECK_EQ_INT(aox_store_batch_begin(s, &bt), 0);
    aox_batch_put(bt, "y1", 2, "a", 1);
    CHECK_EQ_INT(aox_batch_put(bt, "", 0, "a", 1), AOX_E_INVALID);
    aox_batch_put(bt, "y2", 2, "a", 1);
    CHECK_EQ_INT(aox_store_batch_commit(bt, &err), AOX_E_INVALID);
    CHECK_STR(get_s(s, "y1", &b), "<absent>");
    CHECK_STR(get_s(s, "y2", &b), "<absent>");

    /* empty batch */
    CHECK_EQ_INT(aox_store_batch_begin(s, &bt), 0);
    CHECK_EQ_INT(aox_store_batch_commit(bt, &err), 0);
    aox_buf_free(&b);
    aox_store_close(s);
}

/* ------------------------------------------------------------------ scans */

typedef struct collect {
    char   out[1024];   /* keys joined with ',' */
    int    n, stop_after;
} collect;

static int collect_fn(void *ud, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
    collect *c = ud;
    size_t used = strlen(c->out);
    snprintf(c->out + used, sizeof c->out - used, "%s%.*s", c->n ? "," : "", (int)kl,
             (const char *)k);
    c->n++;
    if (c->stop_after && c->n == c->stop_after)
        return 7;
    return 0;
}

static int write_in_scan(void *ud, const uint8_t *k, size_t kl, const uint8_t *v,
                         size_t vl)
{
    aox_store *s = *(aox_store **)ud;
    aox_buf b = { 0 };
    CHECK_EQ_INT(aox_store_put(s, "w", 1, "x", 1), AOX_E_INTERNAL);
    CHECK_EQ_INT(aox_store_del(s, "a/1", 3), AOX_E_INTERNAL);
    CHECK_EQ_INT(aox_store_cas(s, "w", 1, NULL, 0, "x", 1, NULL), AOX_E_INTERNAL);
    aox_batch *bt;
    REQUIRE(aox_store_batch_begin(s, &bt) == 0);
    aox_batch_put(bt, "w", 1, "x", 1);
    CHECK_EQ_INT(aox_store_batch_commit(bt, NULL), AOX_E_INTERNAL);
    CHECK_EQ_INT(aox_store_get(s, "a/1", 3, &b), 0);             /* reads are fine */
    aox_buf_free(&b);
    return 0;
}

typedef struct order {
    int rev, n, bad;
} order;

/* checks that keys "proc/L/r/NNNN" come in order and carry their own key as value */
static int order_fn(void *ud, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
    order *o = ud;
    char want[32];
    snprintf(want, sizeof want, "proc/L/r/%04d", o->rev ? 599 - o->n : o->n);
    if (kl != strlen(want) || memcmp(k, want, kl) || vl != kl || memcmp(v, k, kl))
        o->bad++;
    o->n++;
    return 0;
}

static const char *scan_s(aox_store *s, const char *prefix, const char *start, int rev,
                          collect *c)
{
    memset(c, 0, sizeof *c);
    int rc = aox_store_scan(s, prefix, prefix ? strlen(prefix) : 0, start,
                            start ? strlen(start) : 0, rev, collect_fn, c);
    CHECK_EQ_INT(rc, 0);
    return c->out;
}

static void test_scan(void)
{
    aox_store *s = fresh(0);
    collect c;
    const char *keys[] = { "a", "a/1", "a/2", "a/3", "a/5", "a0", "b/1", "a/" };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        put_s(s, keys[i], "v");

    CHECK_STR(scan_s(s, "a/", NULL, 0, &c), "a/,a/1,a/2,a/3,a/5");
    CHECK_STR(scan_s(s, "a/", NULL, 1, &c), "a/5,a/3,a/2,a/1,a/");
    CHECK_STR(scan_s(s, "a/", "a/2", 0, &c), "a/2,a/3,a/5");
    CHECK_STR(scan_s(s, "a/", "a/2", 1, &c), "a/2,a/1,a/");
    CHECK_STR(scan_s(s, "a/", "a/4", 0, &c), "a/5");          /* start between keys */
    CHECK_STR(scan_s(s, "a/", "a/4", 1, &c), "a/3,a/2,a/1,a/");
    CHECK_STR(scan_s(s, "a/", "a", 0, &c), "a/,a/1,a/2,a/3,a/5");   /* start below range */
    CHECK_STR(scan_s(s, "a/", "a", 1, &c), "");
    CHECK_STR(scan_s(s, "a/", "a0", 0, &c), "");             /* start above range */
    CHECK_STR(scan_s(s, "a/", "zz", 1, &c), "a/5,a/3,a/2,a/1,a/");
    CHECK_STR(scan_s(s, "a/9", NULL, 0, &c), "");
    CHECK_STR(scan_s(s, "a/9", NULL, 1, &c), "");
    CHECK_STR(scan_s(s, "c", NULL, 1, &c), "");                /* after every key */
    CHECK_STR(scan_s(s, "0", NULL, 1, &c), "");                /* before every key */
    CHECK_STR(scan_s(s, NULL, NULL, 0, &c), "a,a/,a/1,a/2,a/3,a/5,a0,b/1");
    CHECK_STR(scan_s(s, NULL, NULL, 1, &c), "b/1,a0,a/5,a/3,a/2,a/1,a/,a");
    CHECK_STR(scan_s(s, "", "a0", 1, &c), "a0,a/5,a/3,a/2,a/1,a/,a");

    /* an empty start: everything forwards, nothing backwards */
    memset(&c, 0, sizeof c);
    CHECK_EQ_INT(aox_store_scan(s, "", 0, "", 0, 0, collect_fn, &c), 0);
    CHECK_EQ_INT(c.n, 8);
    memset(&c, 0, sizeof c);
    CHECK_EQ_INT(aox_store_scan(s, "", 0, "", 0, 1, collect_fn, &c), 0);
    CHECK_EQ_INT(c.n, 0);
    memset(&c, 0, sizeof c);
    CHECK_EQ_INT(aox_store_scan(s, "a/", 2, "", 0, 0, collect_fn, &c), 0);
    CHECK_EQ_INT(c.n, 5);
    CHECK_EQ_INT(aox_store_seek_le(s, "", 0, "", 0, NULL, NULL), AOX_E_NOT_FOUND);
    CHECK_EQ_INT(aox_store_seek_le(s, "", 0, "a/1", 3, NULL, NULL), 0);

    /* writing from inside a scan callback is refused, reading works */
    aox_store *self = s;
    memset(&c, 0, sizeof c);
    CHECK_EQ_INT(aox_store_scan(s, "a/", 2, NULL, 0, 0, write_in_scan, &self), 0);
    CHECK_EQ_INT(put_s(s, "after-scan", "ok"), 0);          /* and works again after */

    /* stop early: the callback's value comes back */
    memset(&c, 0, sizeof c);
    c.stop_after = 2;
    CHECK_EQ_INT(aox_store_scan(s, "a/", 2, NULL, 0, 0, collect_fn, &c), 7);
    CHECK_STR(c.out, "a/,a/1");

    /* prefixes ending in 0xff (no simple successor) */
    uint8_t p1[] = { 'z', 0xff }, k1[] = { 'z', 0xff, 1 }, k2[] = { 'z', 0xff, 0xff };
    uint8_t after[] = { 'z', 0xff, 0xff, 0xff, 0 }, other[] = { '{' };
    aox_store_put(s, k1, 3, "1", 1);
    aox_store_put(s, k2, 3, "2", 1);
    aox_store_put(s, after, 5, "3", 1);
    aox_store_put(s, other, 1, "4", 1);
    memset(&c, 0, sizeof c);
    CHECK_EQ_INT(aox_store_scan(s, p1, 2, NULL, 0, 1, collect_fn, &c), 0);
    CHECK_EQ_INT(c.n, 3);
    CHECK(c.out[0] == 'z' && (uint8_t)c.out[2] == 0xff && (uint8_t)c.out[3] == 0xff);
    uint8_t pff[] = { 0xff };
    aox_store_put(s, pff, 1, "5", 1);
    memset(&c, 0, sizeof c);
    CHECK_EQ_INT(aox_store_scan(s, pff, 1, NULL, 0, 1, collect_fn, &c), 0);
    CHECK_EQ_INT(c.n, 1);
    CHECK_EQ_INT(aox_store_scan(s, "a", 1, NULL, 0, 0, NULL, NULL), AOX_E_INVALID);
    aox_store_close(s);
}

/* Scans across "directories" (Redis keeps one ordered index per group: these merge
 * several), and long scans both ways (Redis pages of 256). */
static void test_scan_groups(void)
{
    aox_store *s = fresh(0);
    collect c;
    const char *keys[] = { "proc/A/x", "proc/A/y", "proc/B/x", "proc/AB/z", "proc/A",
                           "proc/Az", "proc/", "pro", "proc0", "module/m", "proc//q" };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        put_s(s, keys[i], "v");
    CHECK_STR(scan_s(s, "proc/A", NULL, 0, &c), "proc/A,proc/A/x,proc/A/y,proc/AB/z,proc/Az");
    CHECK_STR(scan_s(s, "proc/A", NULL, 1, &c), "proc/Az,proc/AB/z,proc/A/y,proc/A/x,proc/A");
    CHECK_STR(scan_s(s, "proc/A", "proc/A/y", 1, &c), "proc/A/y,proc/A/x,proc/A");
    CHECK_STR(scan_s(s, "proc/A", "proc/A/xx", 0, &c), "proc/A/y,proc/AB/z,proc/Az");
    CHECK_STR(scan_s(s, "proc/", NULL, 0, &c),
              "proc/,proc//q,proc/A,proc/A/x,proc/A/y,proc/AB/z,proc/Az,proc/B/x");
    CHECK_STR(scan_s(s, "proc/A/", NULL, 1, &c), "proc/A/y,proc/A/x");
    CHECK_STR(scan_s(s, "pro", NULL, 0, &c),
              "pro,proc/,proc//q,proc/A,proc/A/x,proc/A/y,proc/AB/z,proc/Az,proc/B/x,proc0");
    CHECK_STR(scan_s(s, "", "proc/B", 1, &c),
              "proc/Az,proc/AB/z,proc/A/y,proc/A/x,proc/A,proc//q,proc/,pro,module/m");
    aox_store_del(s, "proc/A/x", 8);
    aox_store_del(s, "proc/A/y", 8);
    CHECK_STR(scan_s(s, "proc/A", NULL, 0, &c), "proc/A,proc/AB/z,proc/Az");
    /* 600 keys in one directory: every key once, in order, both ways */
    aox_batch *bt;
    REQUIRE(aox_store_batch_begin(s, &bt) == 0);
    for (int i = 0; i < 600; i++) {
        char k[32];
        snprintf(k, sizeof k, "proc/L/r/%04d", i);
        aox_batch_put(bt, k, strlen(k), k, strlen(k));
    }
    REQUIRE(aox_store_batch_commit(bt, NULL) == 0);
    for (int rev = 0; rev < 2; rev++) {
        order o = { rev, 0, 0 };
        CHECK_EQ_INT(aox_store_scan(s, "proc/L/r/", 9, NULL, 0, rev, order_fn, &o), 0);
        CHECK_EQ_INT(o.n, 600);
        CHECK_EQ_INT(o.bad, 0);
    }
    aox_store_close(s);
}

static void test_seek_le(void)
{
    aox_store *s = fresh(0);
    aox_buf k = { 0 }, key = { 0 }, val = { 0 }, pre = { 0 };
    uint64_t slots[] = { 0, 5, 10, 300 };
    for (int i = 0; i < 4; i++) {
        aox_key_proc(&k, "P", "snap", slots[i]);
        char v[8];
        snprintf(v, sizeof v, "s%llu", (unsigned long long)slots[i]);
        aox_store_put(s, k.data, k.len, v, strlen(v));
    }
    /* neighbours outside the prefix on both sides */
    put_s(s, "proc/P/snaq", "after");
    put_s(s, "proc/P/sna", "before");
    aox_key_proc(&k, "O", "snap", 3);
    aox_store_put(s, k.data, k.len, "other", 5);
    aox_key_proc_str(&pre, "P", "snap", "");

    struct { uint64_t bound; const char *want; } cases[] = {
        { 5, "s5" }, { 7, "s5" }, { 0, "s0" }, { 299, "s10" }, { 300, "s300" },
        { UINT64_MAX - 1, "s300" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        aox_key_proc(&k, "P", "snap", cases[i].bound);
        CHECK_EQ_INT(aox_store_seek_le(s, pre.data, pre.len, k.data, k.len, &key, &val), 0);
        CHECK_STR((const char *)val.data, cases[i].want);
        CHECK(key.len == pre.len + 8 && memcmp(key.data, pre.data, pre.len) == 0);
    }
    /* only the value is wanted */
    aox_key_proc(&k, "P", "snap", 6);
    CHECK_EQ_INT(aox_store_seek_le(s, pre.data, pre.len, k.data, k.len, NULL, &val), 0);
    CHECK_STR((const char *)val.data, "s5");
    /* before the first key of the prefix: a key outside the prefix is not returned */
    aox_key_proc(&k, "Q", "snap", 10);
    aox_buf qp = { 0 };
    aox_key_proc_str(&qp, "Q", "snap", "");
    CHECK_EQ_INT(aox_store_seek_le(s, qp.data, qp.len, k.data, k.len, &key, &val),
                 AOX_E_NOT_FOUND);
    aox_store_del(s, "proc/P/snap/\0\0\0\0\0\0\0\0", 20);
    aox_key_proc(&k, "P", "snap", 3);
    CHECK_EQ_INT(aox_store_seek_le(s, pre.data, pre.len, k.data, k.len, &key, &val),
                 AOX_E_NOT_FOUND);
    /* the bound itself is the prefix: only an exact key equal to it qualifies */
    CHECK_EQ_INT(aox_store_seek_le(s, pre.data, pre.len, pre.data, pre.len, &key, &val),
                 AOX_E_NOT_FOUND);
    /* bound outside the prefix is a caller error */
    CHECK_EQ_INT(aox_store_seek_le(s, pre.data, pre.len, "proc/X", 6, &key, &val),
                 AOX_E_INVALID);
    aox_buf_free(&k);
    aox_buf_free(&key);
    aox_buf_free(&val);
    aox_buf_free(&pre);
    aox_buf_free(&qp);
    aox_store_close(s);
}

/* ------------------------------------------------------------------ cas */

static void test_cas(void)
{
    aox_store *s = fresh(0);
    aox_buf cur = { 0 }, b = { 0 };
    CHECK_EQ_INT(aox_store_cas(s, "c", 1, NULL, 0, "1", 1, &cur), 0);       /* absent */
    CHECK_STR(get_s(s, "c", &b), "1");
    CHECK_EQ_INT(aox_store_cas(s, "c", 1, NULL, 0, "2", 1, &cur), AOX_E_CONFLICT);
    CHECK(cur.len == 1 && cur.data[0] == '1');
    CHECK_EQ_INT(aox_store_cas(s, "c", 1, "1", 1, "2", 1, &cur), 0);        /* expected */
    CHECK_STR(get_s(s, "c", &b), "2");
    CHECK_EQ_INT(aox_store_cas(s, "c", 1, "1", 1, "3", 1, &cur), AOX_E_CONFLICT);
    CHECK(cur.len == 1 && cur.data[0] == '2');
    CHECK_EQ_INT(aox_store_cas(s, "c", 1, "2", 1, NULL, 0, &cur), 0);       /* delete */
    CHECK_STR(get_s(s, "c", &b), "<absent>");
    CHECK_EQ_INT(aox_store_cas(s, "c", 1, "2", 1, "4", 1, &cur), AOX_E_CONFLICT);
    CHECK_EQ_INT(cur.len, 0);                                              /* absent */
    CHECK_EQ_INT(aox_store_cas(s, "c", 1, "2", 1, "4", 1, NULL), AOX_E_CONFLICT);
    /* empty expected value differs from absent */
    aox_store_put(s, "e", 1, "", 0);
    CHECK_EQ_INT(aox_store_cas(s, "e", 1, NULL, 0, "x", 1, &cur), AOX_E_CONFLICT);
    CHECK_EQ_INT(aox_store_cas(s, "e", 1, "", 0, "x", 1, &cur), 0);
    CHECK_STR(get_s(s, "e", &b), "x");
    aox_buf_free(&cur);
    aox_buf_free(&b);
    aox_store_close(s);
}

/* ------------------------------------------------------------------ size */

static void fill(uint8_t *p, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (uint8_t)(seed >> 16);
    }
}

static void test_growth(void)
{
    /* 1 MiB initial map: LMDB must grow it several times (Redis: run with
     * appendfsync no, see main; this is about sizes, not durability) */
    aox_store *s = fresh_opts((size_t)1 << 20, is_redis);
    aox_buf b = { 0 };
    size_t big = is_redis ? (size_t)2 << 20 : (size_t)16 << 20;   /* LMDB: > the map */
    uint8_t *v = malloc(big);
    REQUIRE(v);
    fill(v, big, 1);
    CHECK_EQ_INT(aox_store_put(s, "big1", 4, v, big), 0);
    /* many small keys in batches, then a second big value */
    for (int batch = 0; batch < 20; batch++) {
        aox_batch *bt;
        REQUIRE(aox_store_batch_begin(s, &bt) == 0);
        for (int i = 0; i < 1000; i++) {
            char k[32], val[100];
            snprintf(k, sizeof k, "many/%06d", batch * 1000 + i);
            memset(val, 'a' + i % 26, sizeof val);
            aox_batch_put(bt, k, strlen(k), val, sizeof val);
        }
        CHECK_EQ_INT(aox_store_batch_commit(bt, NULL), 0);
    }
    fill(v, big, 2);
    CHECK_EQ_INT(aox_store_put(s, "big2", 4, v, big), 0);
    /* everything survived the growth */
    CHECK_EQ_INT(aox_store_get(s, "big2", 4, &b), 0);
    CHECK(b.len == big && memcmp(b.data, v, big) == 0);
    fill(v, big, 1);
    CHECK_EQ_INT(aox_store_get(s, "big1", 4, &b), 0);
    CHECK(b.len == big && memcmp(b.data, v, big) == 0);
    collect c;
    memset(&c, 0, sizeof c);
    c.stop_after = 0;
    int count = 0;
    for (int i = 0; i < 20000; i += 997) {
        char k[32];
        snprintf(k, sizeof k, "many/%06d", i);
        CHECK_EQ_INT(aox_store_get(s, k, strlen(k), &b), 0);
        CHECK(b.len == 100 && b.data[0] == 'a' + (i % 1000) % 26);
        count++;
    }
    CHECK(count > 10);
    free(v);
    aox_buf_free(&b);
    aox_store_close(s);
    if (is_lmdb) {
        /* the data file outgrew the initial 1 MiB map many times over */
        char path[400];
        struct stat st;
        snprintf(path, sizeof path, "%s/data.mdb", last_dir);
        CHECK(stat(path, &st) == 0 && st.st_size > (off_t)(32 << 20));
        /* reopen with the default options: the grown map and data are there */
        s = reopen(last_dir);
        CHECK_EQ_INT(aox_store_get(s, "many/019999", 11, &b), 0);
        CHECK_EQ_INT(b.len, 100);
        aox_buf_free(&b);
        aox_store_close(s);
    }
}

/* ------------------------------------------------------------------ threads */

typedef struct thr {
    aox_store *s;
    int        id;
    int        errors;
} thr;

static int count_fn(void *ud, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
    (*(int *)ud)++;
    return 0;
}

static void *worker(void *arg)
{
    thr *t = arg;
    aox_buf cur = { 0 };
    char k[32], val[64];
    uint8_t pad[3000];
    memset(pad, t->id, sizeof pad);
    for (int i = 0; i < 300; i++) {
        snprintf(k, sizeof k, "t%d/%05d", t->id, i);
        /* large-ish values so that the 1 MiB map has to grow under load */
        if (aox_store_put(t->s, k, strlen(k), pad, sizeof pad))
            t->errors++;
        /* increment the shared counter with cas */
        for (;;) {
            long n = 0;
            int rc = aox_store_get(t->s, "counter", 7, &cur);
            if (rc == 0)
                n = strtol((const char *)cur.data, NULL, 10);
            else if (rc != AOX_E_NOT_FOUND) {
                t->errors++;
                break;
            }
            snprintf(val, sizeof val, "%ld", n + 1);
            char old[64];
            snprintf(old, sizeof old, "%ld", n);
            rc = aox_store_cas(t->s, "counter", 7, rc == 0 ? old : NULL,
                               rc == 0 ? strlen(old) : 0, val, strlen(val), NULL);
            if (rc == 0)
                break;
            if (rc != AOX_E_CONFLICT) {
                t->errors++;
                break;
            }
        }
        if (i % 25 == 0) {
            int n = 0;
            snprintf(k, sizeof k, "t%d/", t->id);
            if (aox_store_scan(t->s, k, strlen(k), NULL, 0, i % 50 == 0, count_fn, &n) ||
                n != i + 1)
                t->errors++;
        }
    }
    aox_buf_free(&cur);
    return NULL;
}

static void test_threads(void)
{
    /* no fsync here: this is about locking and map growth under load, and 2400
     * synced commits would make the test slow on a busy disk */
    aox_store *s = fresh_opts((size_t)1 << 20, 1);
    pthread_t th[4];
    thr t[4];
    for (int i = 0; i < 4; i++) {
        t[i] = (thr){ s, i, 0 };
        REQUIRE(pthread_create(&th[i], NULL, worker, &t[i]) == 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ_INT(t[i].errors, 0);
    }
    aox_buf b = { 0 };
    CHECK_EQ_INT(aox_store_get(s, "counter", 7, &b), 0);
    CHECK_STR((const char *)b.data, "1200");
    int n = 0;
    CHECK_EQ_INT(aox_store_scan(s, "t", 1, NULL, 0, 0, count_fn, &n), 0);
    CHECK_EQ_INT(n, 1200);
    aox_buf_free(&b);
    aox_store_close(s);
}

/* ------------------------------------------------------------------ durability */

static void test_reopen(void)
{
    aox_store *s = fresh(0);
    aox_buf b = { 0 };
    char dir[300];
    snprintf(dir, sizeof dir, "%s", last_dir);
    put_s(s, "durable", "yes");
    aox_batch *bt;
    aox_store_batch_begin(s, &bt);
    aox_batch_put(bt, "d1", 2, "1", 1);
    aox_batch_put(bt, "d2", 2, "2", 1);
    CHECK_EQ_INT(aox_store_batch_commit(bt, NULL), 0);
    aox_store_close(s);
    s = reopen(dir);
    CHECK_STR(get_s(s, "durable", &b), "yes");
    CHECK_STR(get_s(s, "d2", &b), "2");
    aox_buf_free(&b);
    aox_store_close(s);
}

static int kill_cb(void *ud, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
    kill(getpid(), SIGKILL);
    return 1;
}

/* A child opens the store, commits a batch and is SIGKILLed the moment commit
 * returns (a second child holds a read transaction open while it dies). The parent
 * reopens and must find the whole batch. */
static void test_kill(void)
{
    char dir[300];
    snprintf(dir, sizeof dir, "%s/killed", tmp_root);
    for (int round = 0; round < 2; round++) {
        fflush(NULL);
        pid_t pid = fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            aox_store *s = reopen(dir);
            aox_batch *bt;
            if (aox_store_batch_begin(s, &bt))
                _exit(3);
            for (int i = 0; i < 500; i++) {
                char k[32];
                snprintf(k, sizeof k, "r%d/%04d", round, i);
                aox_batch_put(bt, k, strlen(k), k, strlen(k));
            }
            if (aox_store_batch_commit(bt, NULL))
                _exit(4);
            if (round == 1) {
                /* die inside a scan callback: a read txn is open */
                aox_store_scan(s, "r", 1, NULL, 0, 0, kill_cb, NULL);
            }
            kill(getpid(), SIGKILL);
            _exit(5);
        }
        int st = 0;
        REQUIRE(waitpid(pid, &st, 0) == pid);
        CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
        aox_store *s = reopen(dir);
        int n = 0;
        char pre[8];
        snprintf(pre, sizeof pre, "r%d/", round);
        CHECK_EQ_INT(aox_store_scan(s, pre, strlen(pre), NULL, 0, 0, count_fn, &n), 0);
        CHECK_EQ_INT(n, 500);
        /* and the store is still writable */
        CHECK_EQ_INT(put_s(s, "after", "kill"), 0);
        aox_store_close(s);
    }
}

/* ------------------------------------------------------------------ leases */

/* A second handle on the same store for "another node": Redis shares leases across
 * handles (and nodes); memory/LMDB keep them in the handle, so the same handle is
 * used there (one node's threads). */
static aox_store *other_node(aox_store *s)
{
    if (!is_redis)
        return s;
    aox_store *o = NULL;
    aox_err err;
    REQUIRE(aox_store_open(last_uri, NULL, &o, &err) == 0);
    return o;
}

static int fenced_put(aox_store *s, const char *lease, uint64_t tok, const char *k,
                      const char *v)
{
    aox_batch *bt;
    aox_err err;
    REQUIRE(aox_store_batch_begin(s, &bt) == 0);
    aox_batch_put(bt, k, strlen(k), v, strlen(v));
    aox_batch_put(bt, "proc/P/other", 12, v, strlen(v));
    if (aox_batch_fence(bt, lease, tok)) {
        aox_store_batch_abort(bt);
        return -1;
    }
    return aox_store_batch_commit(bt, &err);
}

static void test_lease(void)
{
    aox_store *a = fresh(0);
    aox_store *b = other_node(a);
    aox_buf own = { 0 }, v = { 0 };
    uint64_t t1 = 0, t2 = 0, t3 = 0, t4 = 0, tok = 0, left = 0, tq = 0;

    CHECK_EQ_INT(aox_store_lease_get(a, "proc/P", &own, &tok, &left), AOX_E_NOT_FOUND);
    CHECK_EQ_INT(aox_store_lease_acquire(a, "proc/P", "node-a", 10000, &t1), 0);
    CHECK(t1 > 0);
    CHECK_EQ_INT(aox_store_lease_get(b, "proc/P", &own, &tok, &left), 0);
    CHECK_STR((const char *)own.data, "node-a");
    CHECK(tok == t1 && left > 0 && left <= 10000);
    /* conflict: another owner */
    CHECK_EQ_INT(aox_store_lease_acquire(b, "proc/P", "node-b", 10000, &tok), AOX_E_CONFLICT);
    /* renew with the right token only */
    CHECK_EQ_INT(aox_store_lease_renew(a, "proc/P", t1, 20000), 0);
    CHECK_EQ_INT(aox_store_lease_get(a, "proc/P", NULL, &tok, &left), 0);
    CHECK(left > 10000 && left <= 20000);
    CHECK_EQ_INT(aox_store_lease_renew(b, "proc/P", t1 + 1, 20000), AOX_E_CONFLICT);
    /* fenced writes: the holder's token commits, a wrong one writes nothing */
    CHECK_EQ_INT(fenced_put(a, "proc/P", t1, "proc/P/slot", "1"), 0);
    CHECK_STR(get_s(a, "proc/P/slot", &v), "1");
    CHECK_EQ_INT(fenced_put(b, "proc/P", t1 + 7, "proc/P/slot", "2"), AOX_E_CONFLICT);
    /* another lease: refused (Redis: the keys are outside that lease's hash slot) */
    int wrong = fenced_put(b, "proc/Q", t1, "proc/P/slot", "2");
    CHECK(wrong == AOX_E_CONFLICT || (is_redis && wrong == AOX_E_INVALID));
    CHECK_STR(get_s(a, "proc/P/slot", &v), "1");
    CHECK_STR(get_s(a, "proc/P/other", &v), "1");
    /* the same owner acquiring again gets a new token; the old one is dead */
    CHECK_EQ_INT(aox_store_lease_acquire(a, "proc/P", "node-a", 10000, &t2), 0);
    CHECK(t2 > t1);
    CHECK_EQ_INT(fenced_put(a, "proc/P", t1, "proc/P/slot", "3"), AOX_E_CONFLICT);
    CHECK_STR(get_s(a, "proc/P/slot", &v), "1");
    /* release needs the current token; then the lease is free */
    CHECK_EQ_INT(aox_store_lease_release(a, "proc/P", t1), AOX_E_CONFLICT);
    CHECK_EQ_INT(aox_store_lease_release(a, "proc/P", t2), 0);
    CHECK_EQ_INT(aox_store_lease_get(b, "proc/P", &own, &tok, &left), AOX_E_NOT_FOUND);
    CHECK(own.len == 0 && tok == 0);
    CHECK_EQ_INT(fenced_put(a, "proc/P", t2, "proc/P/slot", "4"), AOX_E_CONFLICT);

    /* expiry and take-over: node-a stops renewing, node-b takes over; node-a's
     * writes with its old token are rejected */
    CHECK_EQ_INT(aox_store_lease_acquire(a, "proc/P", "node-a", 100, &t3), 0);
    CHECK(t3 > t2);
    CHECK_EQ_INT(fenced_put(a, "proc/P", t3, "proc/P/slot", "5"), 0);
    usleep(250 * 1000);
    CHECK_EQ_INT(aox_store_lease_get(b, "proc/P", &own, &tok, &left), AOX_E_NOT_FOUND);
    CHECK_EQ_INT(aox_store_lease_renew(a, "proc/P", t3, 10000), AOX_E_CONFLICT);
    CHECK_EQ_INT(fenced_put(a, "proc/P", t3, "proc/P/slot", "6"), AOX_E_CONFLICT);
    CHECK_EQ_INT(aox_store_lease_acquire(b, "proc/P", "node-b", 10000, &t4), 0);
    CHECK(t4 > t3);
    CHECK_EQ_INT(fenced_put(a, "proc/P", t3, "proc/P/slot", "7"), AOX_E_CONFLICT);
    CHECK_STR(get_s(a, "proc/P/slot", &v), "5");
    CHECK_EQ_INT(fenced_put(b, "proc/P", t4, "proc/P/slot", "8"), 0);
    CHECK_STR(get_s(a, "proc/P/slot", &v), "8");
    CHECK_EQ_INT(aox_store_lease_acquire(a, "proc/P", "node-a", 10000, &tok), AOX_E_CONFLICT);
    CHECK_EQ_INT(aox_store_lease_release(a, "proc/P", t3), AOX_E_CONFLICT);
    CHECK_EQ_INT(aox_store_lease_get(a, "proc/P", &own, &tok, &left), 0);
    CHECK_STR((const char *)own.data, "node-b");
    CHECK(tok == t4);

    /* an empty fenced batch is an ownership probe */
    aox_batch *bt;
    REQUIRE(aox_store_batch_begin(b, &bt) == 0);
    CHECK_EQ_INT(aox_batch_fence(bt, "proc/P", t4), 0);
    CHECK_EQ_INT(aox_store_batch_commit(bt, NULL), 0);
    REQUIRE(aox_store_batch_begin(b, &bt) == 0);
    CHECK_EQ_INT(aox_batch_fence(bt, "proc/P", t3), 0);
    CHECK_EQ_INT(aox_store_batch_commit(bt, NULL), AOX_E_CONFLICT);
    /* one fence per batch; a second one poisons the batch */
    REQUIRE(aox_store_batch_begin(b, &bt) == 0);
    CHECK_EQ_INT(aox_batch_fence(bt, "proc/P", t4), 0);
    CHECK_EQ_INT(aox_batch_fence(bt, "proc/P", t4), AOX_E_INVALID);
    aox_batch_put(bt, "proc/P/slot", 11, "9", 1);
    CHECK_EQ_INT(aox_store_batch_commit(bt, NULL), AOX_E_INVALID);
    CHECK_STR(get_s(a, "proc/P/slot", &v), "8");

    /* names are independent; a name without '/' works too */
    CHECK_EQ_INT(aox_store_lease_acquire(a, "proc/Q", "node-a", 10000, &tq), 0);
    CHECK_EQ_INT(tq, 1);
    CHECK_EQ_INT(aox_store_lease_acquire(a, "cluster", "node-a", 10000, &tok), 0);
    CHECK_EQ_INT(tok, 1);
    CHECK_EQ_INT(aox_store_lease_get(b, "cluster", &own, &tok, &left), 0);
    /* argument checks */
    char longn[AOX_LEASE_NAME_MAX + 2];
    memset(longn, 'n', sizeof longn - 1);
    longn[sizeof longn - 1] = 0;
    CHECK_EQ_INT(aox_store_lease_acquire(a, "", "o", 100, &tok), AOX_E_INVALID);
    CHECK_EQ_INT(aox_store_lease_acquire(a, longn, "o", 100, &tok), AOX_E_INVALID);
    CHECK_EQ_INT(aox_store_lease_acquire(a, "x", "", 100, &tok), AOX_E_INVALID);
    CHECK_EQ_INT(aox_store_lease_acquire(a, "x", "o", 0, &tok), AOX_E_INVALID);
    CHECK_EQ_INT(aox_store_lease_renew(a, "x", 1, 0), AOX_E_INVALID);
    REQUIRE(aox_store_batch_begin(a, &bt) == 0);
    CHECK_EQ_INT(aox_batch_fence(bt, "", 1), AOX_E_INVALID);
    aox_store_batch_abort(bt);

    aox_buf_free(&own);
    aox_buf_free(&v);
    if (b != a)
        aox_store_close(b);
    aox_store_close(a);
}

/* Four "nodes" race for one lease: exactly one wins. */
typedef struct racer {
    aox_store *s;
    char       owner[16];
    int        rc;
    uint64_t   tok;
} racer;

static void *race(void *arg)
{
    racer *r = arg;
    r->rc = aox_store_lease_acquire(r->s, "proc/R", r->owner, 10000, &r->tok);
    return NULL;
}

static void test_lease_race(void)
{
    aox_store *s = fresh(0);
    pthread_t th[4];
    racer r[4];
    for (int i = 0; i < 4; i++) {
        r[i].s = other_node(s);
        snprintf(r[i].owner, sizeof r[i].owner, "node-%d", i);
    }
    for (int i = 0; i < 4; i++)
        REQUIRE(pthread_create(&th[i], NULL, race, &r[i]) == 0);
    int won = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK(r[i].rc == 0 || r[i].rc == AOX_E_CONFLICT);
        if (r[i].rc == 0) {
            won++;
            CHECK_EQ_INT(r[i].tok, 1);
        }
    }
    CHECK_EQ_INT(won, 1);
    for (int i = 0; i < 4; i++)
        if (r[i].s != s)
            aox_store_close(r[i].s);
    aox_store_close(s);
}

/* ------------------------------------------------------------------ redis only */

/* Runs redis-cli against the test server (database db); first line of output. */
static void cli(int db, const char *args, char *out, size_t n)
{
    char cmdline[600];
    snprintf(cmdline, sizeof cmdline, "redis-cli -h 127.0.0.1 -p %s -n %d %s",
             getenv("AOX_REDIS_PORT"), db, args);
    FILE *p = popen(cmdline, "r");
    REQUIRE(p);
    out[0] = 0;
    if (!fgets(out, (int)n, p))
        out[0] = 0;
    out[strcspn(out, "\n")] = 0;
    pclose(p);
}

static void ctl(const char *what)
{
    char cmdline[400];
    snprintf(cmdline, sizeof cmdline, "%s %s", getenv("AOX_REDIS_CTL"), what);
    REQUIRE(system(cmdline) == 0);
}

/* Redis Cluster (redis_cluster_run.sh): redis-cli on one of the servers. */
static void ccli(const char *port, const char *args, char *out, size_t n)
{
    char cmdline[600];
    snprintf(cmdline, sizeof cmdline, "redis-cli -h 127.0.0.1 -p %s %s", port, args);
    FILE *p = popen(cmdline, "r");
    REQUIRE(p);
    out[0] = 0;
    if (!fgets(out, (int)n, p))
        out[0] = 0;
    out[strcspn(out, "\r\n")] = 0;
    pclose(p);
}

/* Calls fn for each server port of the cluster. */
static void each_port(void (*fn)(const char *port, void *ud), void *ud)
{
    char ports[200], *save = NULL;
    snprintf(ports, sizeof ports, "%s", getenv("AOX_REDIS_PORTS"));
    for (char *t = strtok_r(ports, " ", &save); t; t = strtok_r(NULL, " ", &save))
        fn(t, ud);
}

static void flush_one(const char *port, void *ud)
{
    char out[64];
    (void)ud;
    ccli(port, "FLUSHALL", out, sizeof out);
    CHECK_STR(out, "OK");
}

static void flush_cluster(void)
{
    each_port(flush_one, NULL);
}

static void count_one(const char *port, void *ud)
{
    char out[64];
    ccli(port, "DBSIZE", out, sizeof out);
    int *a = ud;
    a[a[0] + 1] = atoi(out);
    a[0]++;
}

/* A real Redis Cluster of 3 masters: keys spread over all of them, a slot moved to
 * another master under an open handle (MOVED followed), a write into a slot being
 * migrated (ASK followed), cross-group scans afterwards. */
static void test_redis_cluster(void)
{
    aox_store *s = fresh(0);
    aox_buf v = { 0 };
    char k[64], val[16], cmd[64];
    int dbs[8] = { 0 };
    unsigned long long moved0, ask0, moved1, ask1;
    int n = 0;

    for (int i = 0; i < 60; i++) {
        snprintf(k, sizeof k, "proc/P%02d/slot", i);
        snprintf(val, sizeof val, "%d", i);
        CHECK_EQ_INT(put_s(s, k, val), 0);
    }
    each_port(count_one, dbs);
    CHECK_EQ_INT(dbs[0], 3);
    CHECK(dbs[1] > 0 && dbs[2] > 0 && dbs[3] > 0);       /* on every master */
    aox_store_redis_redirect_stats(&moved0, &ask0);
    /* MOVED: P07's slot goes to another master, with its keys */
    snprintf(cmd, sizeof cmd, "move %u", aox_store_redis_key_slot("P07", 3));
    ctl(cmd);
    CHECK_STR(get_s(s, "proc/P07/slot", &v), "7");
    CHECK_EQ_INT(put_s(s, "proc/P07/slot", "seven"), 0);
    CHECK_STR(get_s(s, "proc/P07/slot", &v), "seven");
    aox_store_redis_redirect_stats(&moved1, &ask1);
    CHECK(moved1 > moved0);
    /* ASK: QA's slot migrates; once its keys moved, the old owner answers ASK */
    unsigned qa = aox_store_redis_key_slot("QA", 2);
    int clash = 0;
    for (int i = 0; i < 60; i++) {          /* QA must not share a slot with a P key */
        snprintf(k, sizeof k, "P%02d", i);
        clash |= aox_store_redis_key_slot(k, 3) == qa;
    }
    REQUIRE(!clash);
    CHECK_EQ_INT(put_s(s, "proc/QA/slot", "qa"), 0);
    snprintf(cmd, sizeof cmd, "migrating %u", qa);
    ctl(cmd);
    CHECK_STR(get_s(s, "proc/QA/slot", &v), "qa");      /* keys still at the source */
    snprintf(cmd, sizeof cmd, "keys %u", qa);
    ctl(cmd);                                            /* keys moved, slot not yet */
    CHECK_STR(get_s(s, "proc/QA/slot", &v), "qa");      /* ASK */
    CHECK_EQ_INT(put_s(s, "proc/QA/slot", "qa2"), 0);   /* ASK; both keys there */
    aox_store_redis_redirect_stats(NULL, &ask1);
    CHECK(ask1 >= ask0 + 2);
    snprintf(cmd, sizeof cmd, "finish %u", qa);
    ctl(cmd);
    CHECK_STR(get_s(s, "proc/QA/slot", &v), "qa2");     /* MOVED */
    /* a fenced batch on a moved process, and a scan over every process */
    uint64_t tok = 0;
    aox_batch *bt;
    aox_err err;
    CHECK_EQ_INT(aox_store_lease_acquire(s, "proc/P07", "n", 60000, &tok), 0);
    REQUIRE(aox_store_batch_begin(s, &bt) == 0);
    aox_batch_put(bt, "proc/P07/assign", 15, "A", 1);
    aox_batch_put(bt, "page/x", 6, "X", 1);
    CHECK_EQ_INT(aox_batch_fence(bt, "proc/P07", tok), 0);
    CHECK_EQ_INT(aox_store_batch_commit(bt, &err), 0);
    CHECK_STR(get_s(s, "proc/P07/assign", &v), "A");
    CHECK_EQ_INT(aox_store_scan(s, "proc/", 5, NULL, 0, 0, count_fn, &n), 0);
    CHECK(n == 62);                          /* 60 slot keys + QA + P07's assign */
    aox_buf_free(&v);
    aox_store_close(s);
}

static void sync_mode(const char *mode)
{
    char args[64], out[64];
    snprintf(args, sizeof args, "CONFIG SET appendfsync %s", mode);
    cli(0, args, out, sizeof out);
    CHECK_STR(out, "OK");
}

static void test_redis_layout(void)
{
    aox_store *s = fresh(0);
    int db = dir_seq;
    char out[256];
    aox_buf k = { 0 };
    put_s(s, "proc/P1/def", "d");
    aox_key_proc(&k, "P1", "assign", 5);
    aox_store_put(s, k.data, k.len, "a", 1);
    put_s(s, "module/M", "m");
    put_s(s, "top", "t");
    put_s(s, "proc/{x}/def", "braces");
    /* every key of a process carries the hash tag {pid} */
    cli(db, "GET 'aox:v:{P1}proc/P1/def'", out, sizeof out);
    CHECK_STR(out, "d");
    cli(db, "--no-raw ZRANGEBYLEX 'aox:x:{P1}proc/P1/' - +", out, sizeof out);
    CHECK_STR(out, "1) \"assign/\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x05\"");
    cli(db, "ZCARD 'aox:x:{P1}proc/P1/'", out, sizeof out);
    CHECK_STR(out, "2");
    cli(db, "GET 'aox:v:{module/}module/M'", out, sizeof out);
    CHECK_STR(out, "m");
    cli(db, "GET 'aox:v:{~}top'", out, sizeof out);
    CHECK_STR(out, "t");
    cli(db, "GET 'aox:v:{7b787d}proc/{x}/def'", out, sizeof out);   /* hex tag */
    CHECK_STR(out, "braces");
    cli(db, "ZCOUNT aox:groups -inf +inf", out, sizeof out);
    CHECK_STR(out, "3");                    /* proc/P1/, module/, proc/{x}/ */
    /* an emptied group loses its index and stays registered */
    aox_store_del(s, "module/M", 8);
    cli(db, "ZCOUNT aox:groups -inf +inf", out, sizeof out);
    CHECK_STR(out, "3");
    cli(db, "EXISTS 'aox:x:{module/}module/' 'aox:v:{module/}module/M'", out, sizeof out);
    CHECK_STR(out, "0");
    collect c;
    CHECK_STR(scan_s(s, "", NULL, 0, &c), "proc/P1/assign/,proc/P1/def,proc/{x}/def,top");
    /* the lease of a process lives in the process's slot */
    uint64_t tok;
    CHECK_EQ_INT(aox_store_lease_acquire(s, "proc/P1", "me", 10000, &tok), 0);
    cli(db, "GET 'aox:l:{P1}proc/P1'", out, sizeof out);
    CHECK_STR(out, "1:me");
    cli(db, "GET 'aox:c:{P1}proc/P1'", out, sizeof out);
    CHECK_STR(out, "1");
    aox_buf_free(&k);
    aox_store_close(s);

    /* a server without appendfsync always is refused (unless no_sync) */
    aox_err err;
    cli(0, "CONFIG SET appendfsync everysec", out, sizeof out);
    CHECK_STR(out, "OK");
    CHECK_EQ_INT(aox_store_open(last_uri, NULL, &s, &err), AOX_E_CONFIG);
    CHECK(strstr(err.msg, "appendfsync always") != NULL);
    aox_store_opts o = { 0, 1, 0 };
    CHECK_EQ_INT(aox_store_open(last_uri, &o, &s, &err), 0);
    aox_store_close(s);
    cli(0, "CONFIG SET appendfsync always", out, sizeof out);
    CHECK_STR(out, "OK");
    /* an evicting server is refused even with no_sync */
    cli(0, "CONFIG SET maxmemory-policy allkeys-lru", out, sizeof out);
    CHECK_STR(out, "OK");
    CHECK_EQ_INT(aox_store_open(last_uri, &o, &s, &err), AOX_E_CONFIG);
    CHECK(strstr(err.msg, "noeviction") != NULL);
    cli(0, "CONFIG SET maxmemory-policy noeviction", out, sizeof out);
    CHECK_STR(out, "OK");
    CHECK_EQ_INT(aox_store_open(last_uri, NULL, &s, &err), 0);
    aox_store_close(s);
}

/* A hung server (SIGSTOP) makes calls fail with AOX_E_IO after timeout_ms, not hang;
 * once it runs again the handle works. */
static void test_redis_timeout(void)
{
    char uri[400];
    aox_store *s = NULL;
    aox_err err;
    aox_buf b = { 0 };
    snprintf(uri, sizeof uri, "%s/%d?timeout_ms=300", redis_base, ++dir_seq);
    REQUIRE(aox_store_open(uri, NULL, &s, &err) == 0);
    CHECK_EQ_INT(put_s(s, "proc/T/x", "1"), 0);
    ctl("stop");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    /* on the pooled connection: sent, no answer -> outcome unknown */
    aox_batch *bt;
    REQUIRE(aox_store_batch_begin(s, &bt) == 0);
    aox_batch_put(bt, "proc/T/y", 8, "1", 1);
    aox_batch_fence(bt, "proc/T", 1);
    CHECK_EQ_INT(aox_store_batch_commit(bt, &err), AOX_E_IO);
    CHECK(strstr(err.msg, "timed out") != NULL && strstr(err.msg, "unknown") != NULL);
    /* new connections: the TCP connect succeeds, the first command times out */
    CHECK_EQ_INT(aox_store_get(s, "proc/T/x", 8, &b), AOX_E_IO);
    uint64_t tok;
    CHECK_EQ_INT(aox_store_lease_acquire(s, "proc/T", "me", 1000, &tok), AOX_E_IO);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    CHECK(secs < 5.0);              /* about 4 x 300 ms */
    ctl("cont");
    CHECK_STR(get_s(s, "proc/T/x", &b), "1");
    aox_buf_free(&b);
    aox_store_close(s);
}

/* redis-server is SIGKILLed right after a commit returned: while it is down calls
 * fail with AOX_E_IO; restarted on the same AOF, everything acknowledged is there
 * and the same handle reconnects. */
static void test_redis_kill(void)
{
    aox_store *s = fresh(0);
    aox_buf b = { 0 };
    aox_batch *bt;
    aox_err err;
    uint64_t tok;
    REQUIRE(aox_store_batch_begin(s, &bt) == 0);
    for (int i = 0; i < 500; i++) {
        char k[32];
        snprintf(k, sizeof k, "proc/K/assign/%04d", i);
        aox_batch_put(bt, k, strlen(k), k, strlen(k));
    }
    CHECK_EQ_INT(aox_store_batch_commit(bt, &err), 0);
    CHECK_EQ_INT(put_s(s, "proc/K/slot", "500"), 0);
    CHECK_EQ_INT(aox_store_lease_acquire(s, "proc/K", "node-a", 60000, &tok), 0);
    ctl("kill");
    CHECK_EQ_INT(aox_store_get(s, "proc/K/slot", 11, &b), AOX_E_IO);
    CHECK_EQ_INT(put_s(s, "proc/K/x", "1"), AOX_E_IO);
    REQUIRE(aox_store_batch_begin(s, &bt) == 0);
    aox_batch_put(bt, "proc/K/y", 8, "1", 1);
    CHECK_EQ_INT(aox_store_batch_commit(bt, &err), AOX_E_IO);
    CHECK(strstr(err.msg, "redis 127.0.0.1:") != NULL);
    ctl("start");
    CHECK_STR(get_s(s, "proc/K/slot", &b), "500");
    int n = 0;
    CHECK_EQ_INT(aox_store_scan(s, "proc/K/assign/", 14, NULL, 0, 0, count_fn, &n), 0);
    CHECK_EQ_INT(n, 500);
    CHECK_STR(get_s(s, "proc/K/assign/0499", &b), "proc/K/assign/0499");
    /* the lease and its token counter survived too */
    CHECK_EQ_INT(aox_store_lease_get(s, "proc/K", &b, &tok, NULL), 0);
    CHECK_STR((const char *)b.data, "node-a");
    CHECK_EQ_INT(put_s(s, "after", "restart"), 0);
    aox_buf_free(&b);
    aox_store_close(s);
}

/* ------------------------------------------------------------------ cache */

/* Is k (built by a key builder) in the LMDB store at dir? 1 yes, 0 no. */
static int in_lmdb(aox_store *l, const aox_buf *k)
{
    aox_buf v = { 0 };
    int rc = aox_store_get(l, k->data, k->len, &v);
    aox_buf_free(&v);
    REQUIRE(rc == 0 || rc == AOX_E_NOT_FOUND);
    return rc == 0;
}

static void test_cache(void)
{
    char cdir[300], idir[300], uri[700];
    aox_buf k = { 0 }, b = { 0 }, dk = { 0 }, sk = { 0 }, mk = { 0 }, rk = { 0 };
    aox_buf ak = { 0 }, gone = { 0 }, bad = { 0 }, nk = { 0 }, ck = { 0 };
    aox_store *s = NULL, *l = NULL;
    aox_err err;
    /* URI errors */
    CHECK_EQ_INT(aox_store_open("cache:", NULL, &s, &err), AOX_E_CONFIG);
    CHECK_EQ_INT(aox_store_open("cache:/tmp/x", NULL, &s, &err), AOX_E_CONFIG);
    CHECK_EQ_INT(aox_store_open("cache:|memory:", NULL, &s, &err), AOX_E_CONFIG);
    CHECK_EQ_INT(aox_store_open("cache:/tmp/x|", NULL, &s, &err), AOX_E_CONFIG);
    CHECK_EQ_INT(aox_store_open("cache:/tmp/x|cache:/tmp/y|memory:", NULL, &s, &err),
                 AOX_E_CONFIG);
    CHECK_EQ_INT(aox_store_open("cache:/proc/definitely/not|memory:", NULL, &s, &err),
                 AOX_E_IO);
    CHECK(s == NULL);

    /* 1. writes through the cache store: what is cached and what is not */
    snprintf(cdir, sizeof cdir, "%s/c1", tmp_root);
    snprintf(idir, sizeof idir, "%s/i1", tmp_root);
    snprintf(uri, sizeof uri, "cache:%s|lmdb:%s", cdir, idir);
    REQUIRE(aox_store_open(uri, NULL, &s, &err) == 0);
    CHECK_STR(aox_store_backend(s), "lmdb");      /* the inner backend's name */
    REQUIRE(aox_key_proc(&ak, "p1", "assign", 1) == 0);
    REQUIRE(aox_key_proc(&sk, "p1", "slot", AOX_KEY_NOSLOT) == 0);
    REQUIRE(aox_key_proc(&rk, "p1", "result", 1) == 0);
    REQUIRE(aox_key_proc(&dk, "p1", "def", AOX_KEY_NOSLOT) == 0);
    REQUIRE(aox_key_proc_str(&nk, "p1", "msg", "m1") == 0);
    REQUIRE(aox_key_simple(&mk, "module", "m1") == 0);
    REQUIRE(aox_key_simple(&gone, "data", "d1") == 0);
    REQUIRE(aox_key_proc(&bad, "p1", "assign", 2) == 0);
    REQUIRE(aox_key_proc(&ck, "p1", "snap", 1) == 0);
    CHECK_EQ_INT(aox_store_put(s, ak.data, ak.len, "A1", 2), 0);
    CHECK_EQ_INT(aox_store_put(s, sk.data, sk.len, "1", 1), 0);
    CHECK_EQ_INT(aox_store_put(s, mk.data, mk.len, "MOD", 3), 0);
    CHECK_EQ_INT(aox_store_put(s, gone.data, gone.len, "D", 1), 0);
    CHECK_EQ_INT(aox_store_del(s, gone.data, gone.len), 0);
    CHECK_EQ_INT(aox_store_get(s, gone.data, gone.len, &b), AOX_E_NOT_FOUND);
    /* a cas on a mutable key and on a cacheable one */
    CHECK_EQ_INT(aox_store_cas(s, sk.data, sk.len, "1", 1, "2", 1, NULL), 0);
    CHECK_EQ_INT(aox_store_cas(s, ck.data, ck.len, NULL, 0, "S1", 2, NULL), 0);
    /* a fenced batch passes the lease through */
    uint64_t tok = 0;
    CHECK_EQ_INT(aox_store_lease_acquire(s, "proc/p1", "node-a", 60000, &tok), 0);
    aox_buf owner = { 0 };
    uint64_t t2 = 0, left = 0;
    CHECK_EQ_INT(aox_store_lease_get(s, "proc/p1", &owner, &t2, &left), 0);
    CHECK_STR((const char *)owner.data, "node-a");
    CHECK(t2 == tok && left > 0);
    aox_buf_free(&owner);
    aox_batch *bt;
    REQUIRE(aox_store_batch_begin(s, &bt) == 0);
    aox_batch_put(bt, rk.data, rk.len, "R1", 2);
    aox_batch_put(bt, dk.data, dk.len, "DEF", 3);
    aox_batch_put(bt, nk.data, nk.len, "1", 1);
    aox_batch_put(bt, sk.data, sk.len, "3", 1);
    aox_batch_fence(bt, "proc/p1", tok);
    CHECK_EQ_INT(aox_store_batch_commit(bt, &err), 0);
    /* a stale token: nothing written, nothing cached */
    REQUIRE(aox_store_batch_begin(s, &bt) == 0);
    aox_batch_put(bt, bad.data, bad.len, "X", 1);
    aox_batch_fence(bt, "proc/p1", tok + 1);
    CHECK_EQ_INT(aox_store_batch_commit(bt, &err), AOX_E_CONFLICT);
    CHECK_EQ_INT(aox_store_get(s, bad.data, bad.len, &b), AOX_E_NOT_FOUND);
    CHECK_EQ_INT(aox_store_lease_release(s, "proc/p1", tok), 0);
    CHECK_EQ_INT(aox_store_lease_get(s, "proc/p1", NULL, NULL, NULL), AOX_E_NOT_FOUND);
    aox_store_close(s);

    /* the cache directory holds exactly the immutable keys */
    snprintf(uri, sizeof uri, "lmdb:%s", cdir);
    REQUIRE(aox_store_open(uri, NULL, &l, &err) == 0);
    CHECK_EQ_INT(in_lmdb(l, &ak), 1);
    CHECK_EQ_INT(in_lmdb(l, &rk), 1);
    CHECK_EQ_INT(in_lmdb(l, &dk), 1);
    CHECK_EQ_INT(in_lmdb(l, &mk), 1);
    CHECK_EQ_INT(in_lmdb(l, &ck), 1);
    CHECK_EQ_INT(in_lmdb(l, &sk), 0);      /* slot counter: mutable */
    CHECK_EQ_INT(in_lmdb(l, &nk), 0);      /* msg/ lookup: not cached */
    CHECK_EQ_INT(in_lmdb(l, &gone), 0);    /* deleted through the cache store */
    CHECK_EQ_INT(in_lmdb(l, &bad), 0);     /* rejected batch */
    CHECK_EQ_INT(aox_store_get(l, rk.data, rk.len, &b), 0);
    CHECK(b.len == 2 && memcmp(b.data, "R1", 2) == 0);
    /* 2. a cached value is served from the cache: change it there and read it back
     * through the cache store (the inner store still has the original) */
    CHECK_EQ_INT(aox_store_put(l, mk.data, mk.len, "CACHED", 6), 0);
    aox_store_close(l);
    snprintf(uri, sizeof uri, "cache:%s|lmdb:%s", cdir, idir);
    REQUIRE(aox_store_open(uri, NULL, &s, &err) == 0);
    CHECK_STR(get_s(s, (const char *)mk.data, &b), "CACHED");
    CHECK_EQ_INT(aox_store_get(s, sk.data, sk.len, &b), 0);        /* from inner */
    CHECK(b.len == 1 && b.data[0] == '3');
    aox_store_close(s);

    /* 3. a read miss goes to the inner store and fills the cache; a missing key is
     * not cached as absent */
    aox_store *in = reopen(idir);
    CHECK_EQ_INT(aox_store_put(in, bad.data, bad.len, "A2", 2), 0);
    CHECK_EQ_INT(aox_store_put(in, nk.data, nk.len, "2", 1), 0);
    aox_store_close(in);
    snprintf(uri, sizeof uri, "cache:%s|lmdb:%s", cdir, idir);
    REQUIRE(aox_store_open(uri, NULL, &s, &err) == 0);
    CHECK_EQ_INT(aox_store_get(s, bad.data, bad.len, &b), 0);
    CHECK(b.len == 2 && memcmp(b.data, "A2", 2) == 0);
    CHECK_EQ_INT(aox_store_get(s, nk.data, nk.len, &b), 0);
    CHECK(b.len == 1 && b.data[0] == '2');
    CHECK_EQ_INT(aox_store_get(s, gone.data, gone.len, &b), AOX_E_NOT_FOUND);
    aox_store_close(s);
    l = reopen(cdir);
    CHECK_EQ_INT(in_lmdb(l, &bad), 1);
    CHECK_EQ_INT(in_lmdb(l, &nk), 0);
    CHECK_EQ_INT(in_lmdb(l, &gone), 0);
    aox_store_close(l);
    aox_buf_free(&k); aox_buf_free(&b); aox_buf_free(&dk); aox_buf_free(&sk);
    aox_buf_free(&mk); aox_buf_free(&rk); aox_buf_free(&ak); aox_buf_free(&gone);
    aox_buf_free(&bad); aox_buf_free(&nk); aox_buf_free(&ck);
}

/* Redis Cluster slots: the slot function against values Redis documents, batches
 * spanning slots (split per slot, content-addressed keys first), fenced batches with
 * content-addressed extras and with a foreign key. */
static void test_redis_slots(void)
{
    aox_store *s = fresh(0);
    aox_batch *bt;
    aox_buf v = { 0 };
    aox_err err;
    uint64_t tok = 0;
    unsigned long long multi0, cross0, multi1, cross1;

    CHECK_EQ_INT((int)aox_store_redis_key_slot("123456789", 9), 0x31C3);  /* CRC16 check */
    CHECK_EQ_INT((int)aox_store_redis_key_slot("foo", 3), 12182);
    CHECK_EQ_INT((int)aox_store_redis_key_slot("somekey", 7), 11058);
    CHECK_EQ_INT((int)aox_store_redis_key_slot("foo{hash_tag}", 13), 2515);
    CHECK_EQ_INT((int)aox_store_redis_key_slot("x{hash_tag}y", 12), 2515);
    /* an empty tag hashes the whole key */
    CHECK(aox_store_redis_key_slot("a{}1", 4) != aox_store_redis_key_slot("a{}2", 4));
    /* tags of two processes, and of page/, are different slots here */
    CHECK(aox_store_redis_key_slot("{PA}", 4) != aox_store_redis_key_slot("{PB}", 4));
    CHECK(aox_store_redis_key_slot("{PA}", 4) != aox_store_redis_key_slot("{page/}", 7));

    aox_store_redis_slot_stats(&multi0, &cross0);
    /* unfenced: two processes, pages and a module in one batch */
    REQUIRE(aox_store_batch_begin(s, &bt) == 0);
    aox_batch_put(bt, "proc/PA/slot", 12, "1", 1);
    aox_batch_put(bt, "page/h1", 7, "P1", 2);
    aox_batch_put(bt, "proc/PB/slot", 12, "2", 1);
    aox_batch_put(bt, "proc/PA/assign", 14, "A", 1);
    aox_batch_put(bt, "module/m1", 9, "M", 1);
    aox_batch_put(bt, "page/h2", 7, "P2", 2);
    CHECK_EQ_INT(aox_store_batch_commit(bt, &err), 0);
    CHECK_STR(get_s(s, "proc/PA/slot", &v), "1");
    CHECK_STR(get_s(s, "proc/PB/slot", &v), "2");
    CHECK_STR(get_s(s, "proc/PA/assign", &v), "A");
    CHECK_STR(get_s(s, "page/h1", &v), "P1");
    CHECK_STR(get_s(s, "page/h2", &v), "P2");
    CHECK_STR(get_s(s, "module/m1", &v), "M");
    /* fenced: the process's keys plus pages */
    CHECK_EQ_INT(aox_store_lease_acquire(s, "proc/PA", "node-a", 60000, &tok), 0);
    REQUIRE(aox_store_batch_begin(s, &bt) == 0);
    aox_batch_put(bt, "page/h3", 7, "P3", 2);
    aox_batch_put(bt, "proc/PA/slot", 12, "3", 1);
    aox_batch_put(bt, "data/d1", 7, "D", 1);
    CHECK_EQ_INT(aox_batch_fence(bt, "proc/PA", tok), 0);
    CHECK_EQ_INT(aox_store_batch_commit(bt, &err), 0);
    CHECK_STR(get_s(s, "proc/PA/slot", &v), "3");
    CHECK_STR(get_s(s, "page/h3", &v), "P3");
    CHECK_STR(get_s(s, "data/d1", &v), "D");
    /* a stale token: the process's keys are not written (pages may be: they were
     * written first, and are the same bytes whoever writes them) */
    REQUIRE(aox_store_batch_begin(s, &bt) == 0);
    aox_batch_put(bt, "page/h4", 7, "P4", 2);
    aox_batch_put(bt, "proc/PA/slot", 12, "4", 1);
    CHECK_EQ_INT(aox_batch_fence(bt, "proc/PA", tok + 1), 0);
    CHECK_EQ_INT(aox_store_batch_commit(bt, &err), AOX_E_CONFLICT);
    CHECK_STR(get_s(s, "proc/PA/slot", &v), "3");
    /* a fenced batch writing another process's key: refused, nothing written */
    REQUIRE(aox_store_batch_begin(s, &bt) == 0);
    aox_batch_put(bt, "page/h5", 7, "P5", 2);
    aox_batch_put(bt, "proc/PA/slot", 12, "5", 1);
    aox_batch_put(bt, "proc/PB/slot", 12, "5", 1);
    CHECK_EQ_INT(aox_batch_fence(bt, "proc/PA", tok), 0);
    CHECK_EQ_INT(aox_store_batch_commit(bt, &err), AOX_E_INVALID);
    CHECK(strstr(err.msg, "proc/PB/slot") != NULL);
    CHECK_STR(get_s(s, "proc/PA/slot", &v), "3");
    CHECK_STR(get_s(s, "proc/PB/slot", &v), "2");
    CHECK_EQ_INT(aox_store_get(s, "page/h5", 7, &v), AOX_E_NOT_FOUND);
    /* a fenced batch of pages only is still an ownership check */
    REQUIRE(aox_store_batch_begin(s, &bt) == 0);
    aox_batch_put(bt, "page/h6", 7, "P6", 2);
    CHECK_EQ_INT(aox_batch_fence(bt, "proc/PA", tok + 1), 0);
    CHECK_EQ_INT(aox_store_batch_commit(bt, &err), AOX_E_CONFLICT);
    aox_store_redis_slot_stats(&multi1, &cross1);
    CHECK(multi1 > multi0);          /* multi-key EVALs were checked ... */
    CHECK(cross1 == 0);              /* ... and none had to be refused */
    aox_buf_free(&v);
    aox_store_close(s);
}

/* Sums key + value bytes of a store (a scan callback). */
static int sum_fn(void *ud, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
    (void)k; (void)v;
    ((uint64_t *)ud)[0] += kl + vl;
    ((uint64_t *)ud)[1]++;
    return 0;
}

static aox_store *open_cache(const char *cdir, const char *idir, uint64_t max)
{
    char uri[700];
    aox_store_opts o = { 0, 1, max };
    aox_store *s = NULL;
    aox_err err;
    snprintf(uri, sizeof uri, "cache:%s|lmdb:%s", cdir, idir);
    REQUIRE(aox_store_open(uri, &o, &s, &err) == 0);
    return s;
}

/* The bound of the cache (opts.cache_max): LRU eviction, values over 1/8 of the
 * bound not cached, the bound applied at open to what the directory holds. */
static void test_cache_bound(void)
{
    char cdir[300], idir[300], k[32], v[1600];
    aox_buf b = { 0 };
    aox_batch *bt;
    aox_err err;
    uint64_t tot[2];
    aox_store *s, *l;

    snprintf(cdir, sizeof cdir, "%s/cb", tmp_root);
    snprintf(idir, sizeof idir, "%s/ib", tmp_root);
    s = open_cache(cdir, idir, 8000);
    memset(v, 'v', sizeof v);
    for (int i = 0; i < 10; i++) {                     /* 10 x 508 bytes */
        snprintf(k, sizeof k, "page/%02d", i);
        v[0] = (char)('a' + i);
        CHECK_EQ_INT(aox_store_put(s, k, 7, v, 500), 0);
    }
    CHECK_EQ_INT(aox_store_get(s, "page/00", 7, &b), 0);   /* a hit: most recent now */
    REQUIRE(aox_store_batch_begin(s, &bt) == 0);            /* through the batch path */
    for (int i = 10; i < 20; i++) {
        snprintf(k, sizeof k, "page/%02d", i);
        v[0] = (char)('a' + i);
        aox_batch_put(bt, k, 7, v, 500);
        if (i == 14) {
            CHECK_EQ_INT(aox_store_batch_commit(bt, &err), 0);
            REQUIRE(aox_store_batch_begin(s, &bt) == 0);
        }
    }
    CHECK_EQ_INT(aox_store_batch_commit(bt, &err), 0);
    memset(v, 'w', sizeof v);
    CHECK_EQ_INT(aox_store_put(s, "page/big", 8, v, 1500), 0);   /* > 8000 / 8 */
    aox_store_close(s);
    l = reopen(cdir);
    tot[0] = tot[1] = 0;
    CHECK_EQ_INT(aox_store_scan(l, "", 0, NULL, 0, 0, sum_fn, tot), 0);
    CHECK(tot[0] <= 8000 && tot[1] >= 10 && tot[1] < 20);
    CHECK_EQ_INT(aox_store_get(l, "page/00", 7, &b), 0);           /* touched: kept */
    CHECK_EQ_INT(aox_store_get(l, "page/01", 7, &b), AOX_E_NOT_FOUND);  /* the LRU one */
    CHECK_EQ_INT(aox_store_get(l, "page/19", 7, &b), 0);
    CHECK_EQ_INT(aox_store_get(l, "page/big", 8, &b), AOX_E_NOT_FOUND);
    aox_store_close(l);
    /* a smaller bound at open trims the directory */
    s = open_cache(cdir, idir, 2000);
    aox_store_close(s);
    l = reopen(cdir);
    tot[0] = tot[1] = 0;
    CHECK_EQ_INT(aox_store_scan(l, "", 0, NULL, 0, 0, sum_fn, tot), 0);
    CHECK(tot[0] <= 2000 && tot[1] >= 1);
    aox_store_close(l);
    /* evictions never change an answer: everything reads through */
    s = open_cache(cdir, idir, 2000);
    for (int i = 0; i < 20; i++) {
        snprintf(k, sizeof k, "page/%02d", i);
        CHECK_EQ_INT(aox_store_get(s, k, 7, &b), 0);
        CHECK(b.len == 500 && b.data[0] == 'a' + i && b.data[499] == 'v');
    }
    CHECK_EQ_INT(aox_store_get(s, "page/big", 8, &b), 0);
    CHECK(b.len == 1500 && b.data[0] == 'w');
    aox_store_close(s);
    l = reopen(cdir);
    tot[0] = tot[1] = 0;
    CHECK_EQ_INT(aox_store_scan(l, "", 0, NULL, 0, 0, sum_fn, tot), 0);
    CHECK(tot[0] <= 2000);
    CHECK_EQ_INT(aox_store_get(l, "page/19", 7, &b), 0);           /* the last read */
    aox_store_close(l);
    aox_buf_free(&b);
}

/* ------------------------------------------------------------------ main */

static int rm_fn(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(p);
}

int main(int argc, char **argv)
{
    /* test_store [--lease] URI: --lease runs only the lease tests (store_lease_*) */
    int lease_only = argc == 3 && strcmp(argv[1], "--lease") == 0;
    const char *uri = argc == 2 + lease_only ? argv[1 + lease_only] : "";
    if (strcmp(uri, "memory:") && strcmp(uri, "lmdb:") && strcmp(uri, "cache:") &&
        strncmp(uri, "redis://", 8)) {
        fprintf(stderr, "usage: test_store [--lease] memory:|lmdb:|cache:|redis://HOST:PORT\n");
        return 2;
    }
    is_lmdb = strcmp(uri, "lmdb:") == 0;
    is_redis = strncmp(uri, "redis://", 8) == 0;
    is_cache = strcmp(uri, "cache:") == 0;
    backend = is_lmdb ? "lmdb" : is_redis ? "redis" : "memory";   /* cache: its inner */
    is_cluster = is_redis && strstr(uri, "cluster=1") != NULL;
    if (is_cluster) {
        redis_base = uri;
        if (!getenv("AOX_REDIS_CTL") || !getenv("AOX_REDIS_PORTS")) {
            fprintf(stderr, "test_store redis://...?cluster=1: run me through "
                    "redis_cluster_run.sh\n");
            return 2;
        }
    } else if (is_redis) {
        redis_base = uri;
        if (!getenv("AOX_REDIS_CTL") || !getenv("AOX_REDIS_PORT")) {
            fprintf(stderr, "test_store redis://: run me through redis_run.sh\n");
            return 2;
        }
    }
    if (is_lmdb || is_cache) {
        const char *t = getenv("TMPDIR");
        snprintf(tmp_root, sizeof tmp_root, "%s/aox-store-XXXXXX", t && t[0] ? t : "/tmp");
        REQUIRE(mkdtemp(tmp_root));
    }
    if (lease_only) {
        test_lease();
        test_lease_race();
    } else {
        test_basic();
        test_open_errors();
        test_keys();
        test_batch();
        test_scan();
        test_scan_groups();
        test_seek_le();
        test_cas();
        if (is_redis && !is_cluster)
            sync_mode("no");   /* sizes and locking, not durability: spare the fsyncs */
        test_growth();
        test_threads();
        if (is_redis && !is_cluster)
            sync_mode("always");
        if (is_cluster) {
            test_redis_slots();
            test_redis_cluster();
        } else if (is_redis) {
            test_redis_slots();
            test_redis_layout();
            test_redis_timeout();
            test_redis_kill();
        }
        if (is_lmdb) {
            test_reopen();
            test_kill();
        }
        if (is_cache) {
            test_cache();
            test_cache_bound();
        }
    }
    if (is_redis) {         /* no command of the whole suite named keys of two slots */
        unsigned long long multi = 0, cross = 0;
        aox_store_redis_slot_stats(&multi, &cross);
        CHECK(multi > 0);
        CHECK(cross == 0);
    }
    if (is_lmdb || is_cache)
        nftw(tmp_root, rm_fn, 16, FTW_DEPTH | FTW_PHYS);
    char name[32];
    snprintf(name, sizeof name, "store_%s%s", lease_only ? "lease_" : "",
             is_cache ? "cache" : backend);
    return check_report(name);
}
