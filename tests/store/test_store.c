/*
 * tests/store/test_store.c: one suite for every store backend. Run as
 *   test_store memory:      or      test_store lmdb:
 * ("lmdb:" makes fresh directories under $TMPDIR and removes them at the end).
 * LMDB-only parts: map growth from a 1 MiB map, close/reopen durability, and a
 * child killed with SIGKILL right after its batch commit returned.
 */
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "../core/check.h"
#include "store/store.h"

static int is_lmdb;
static char tmp_root[256];
static int dir_seq;
static char last_dir[300];

/* A fresh, empty store (a new directory for LMDB). */
static aox_store *fresh_opts(size_t map_size, int no_sync)
{
    char uri[320];
    aox_store_opts o = { map_size, no_sync };
    if (is_lmdb) {
        snprintf(last_dir, sizeof last_dir, "%s/db%d/sub", tmp_root, dir_seq++);
        snprintf(uri, sizeof uri, "lmdb:%s", last_dir);   /* sub/ tests mkdir -p */
    } else {
        snprintf(uri, sizeof uri, "memory:");
    }
    aox_store *s = NULL;
    aox_err err;
    int rc = aox_store_open(uri, &o, &s, &err);
    if (rc)
        fprintf(stderr, "open %s: %s\n", uri, err.msg);
    REQUIRE(rc == 0 && s);
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
    CHECK_STR(aox_store_backend(s), is_lmdb ? "lmdb" : "memory");
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
    CHECK_EQ_INT(aox_store_open("redis://127.0.0.1:1", NULL, &s, &err), AOX_E_UNSUPPORTED);
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
    /* 1 MiB initial map: LMDB must grow it several times */
    aox_store *s = fresh((size_t)1 << 20);
    aox_buf b = { 0 };
    size_t big = (size_t)16 << 20;
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

/* ------------------------------------------------------------------ main */

static int rm_fn(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(p);
}

int main(int argc, char **argv)
{
    if (argc != 2 || (strcmp(argv[1], "memory:") && strcmp(argv[1], "lmdb:"))) {
        fprintf(stderr, "usage: test_store memory:|lmdb:\n");
        return 2;
    }
    is_lmdb = strcmp(argv[1], "lmdb:") == 0;
    if (is_lmdb) {
        const char *t = getenv("TMPDIR");
        snprintf(tmp_root, sizeof tmp_root, "%s/aox-store-XXXXXX", t && t[0] ? t : "/tmp");
        REQUIRE(mkdtemp(tmp_root));
    }
    test_basic();
    test_open_errors();
    test_keys();
    test_batch();
    test_scan();
    test_seek_le();
    test_cas();
    test_growth();
    test_threads();
    if (is_lmdb) {
        test_reopen();
        test_kill();
        nftw(tmp_root, rm_fn, 16, FTW_DEPTH | FTW_PHYS);
    }
    return check_report(is_lmdb ? "store_lmdb" : "store_memory");
}
