/*
 * tests/device/test_counter.c: the registry, result helpers and the test-counter@1.0
 * device on its own: arithmetic, tags, guest failures roll back, dry runs, big
 * outputs and the result limit, snapshot/restore (with pages) and determinism.
 */
#include "dtest.h"

static aox_store *st;
static const aox_device_ops *tc;

static void test_registry(void)
{
    static const aox_device_ops impostor = {
        .name = "test-counter@1.0", .init = NULL,
    };
    const char *names[16];
    size_t n;
    aox_err err = {0};
    aox_msg *def;

    CHECK_RC(aox_device_register_builtin(), AOX_OK);
    CHECK_RC(aox_device_register_builtin(), AOX_OK);            /* idempotent */
    tc = aox_device_find("test-counter@1.0");
    REQUIRE(tc != NULL);
    CHECK(aox_device_find("stack@1.0") != NULL);
    CHECK(aox_device_find("nope@1.0") == NULL);
    CHECK_RC(aox_device_register(&impostor), AOX_E_INVALID);    /* no functions */
    {
        aox_device_ops other = *tc;                             /* same name, other table */
        CHECK_RC(aox_device_register(&other), AOX_E_CONFLICT);
    }
    n = aox_device_list(names, 16);
    CHECK(n >= 2);
    for (size_t i = 1; i < n && i < 16; i++)
        CHECK(strcmp(names[i - 1], names[i]) < 0);

    def = aox_msg_new();
    REQUIRE(def);
    CHECK(aox_device_name_of(def) == NULL);
    CHECK_RC(aox_device_check(def, &err), AOX_E_INVALID);
    aox_msg_set_str(def, "device", "test-counter@1.0");
    CHECK(strcmp(aox_device_name_of(def), "test-counter@1.0") == 0);
    aox_msg_set_str(def, "execution-device", "nope@2.0");       /* preferred over device */
    CHECK_RC(aox_device_check(def, &err), AOX_E_INVALID);
    CHECK(strstr(err.msg, "nope@2.0") != NULL);
    aox_msg_free(def);
}

static void test_result_helpers(void)
{
    aox_msg *r = aox_msg_new();
    const aox_msg *e;
    REQUIRE(r);
    CHECK(!aox_result_is_error(r));
    CHECK_RC(aox_result_set_error(r, AOX_E_TRAP, "bad %d", 42), AOX_OK);
    CHECK(aox_result_is_error(r));
    e = aox_msg_get_msg(r, "error");
    REQUIRE(e);
    CHECK(strcmp(aox_msg_get_str(e, "code", NULL), "trap") == 0);
    CHECK(strcmp(aox_msg_get_str(e, "message", NULL), "bad 42") == 0);
    aox_msg_free(r);
}

static aox_msg *counter_def(int pages)
{
    aox_msg *d = aox_msg_new();
    REQUIRE(d && aox_msg_set_str(d, "device", "test-counter@1.0") == AOX_OK);
    if (pages)
        REQUIRE(aox_msg_set_int(d, "pages", pages) == AOX_OK);
    return d;
}

static void digest_of(void *s, uint8_t d[32]) { REQUIRE(tc->digest(s, d) == AOX_OK); }

static void test_compute(void)
{
    aox_limits lim = {0};
    aox_device_env env = { DT_PID, st, &lim };
    aox_msg *def = counter_def(0), *m, *res;
    void *s = NULL;
    uint8_t d0[32], d1[32];
    int rc;

    REQUIRE(tc->init(&env, def, &s, NULL) == AOX_OK);
    m = dt_msg(5, NULL);
    res = dt_compute(tc, s, def, m, 1, &lim, 0, &rc);
    CHECK_RC(rc, AOX_OK);
    CHECK(pt_counter(res) == 5);
    CHECK(!aox_result_is_error(res));
    {
        int64_t g = 0, slot = 0, ts = 0;
        const aox_msg *out = aox_msg_get_msg(res, "output");
        CHECK(aox_msg_get_int(res, "gas", &g) == AOX_OK && g == 1);
        CHECK(out && aox_msg_get_int(out, "slot", &slot) == AOX_OK && slot == 1);
        CHECK(out && aox_msg_get_int(out, "timestamp", &ts) == AOX_OK &&
              ts == 1700000000001);
    }
    aox_msg_free(res);
    aox_msg_free(m);

    /* value as a tag, as ao clients send it */
    m = aox_msg_new();
    {
        aox_msg *t = aox_msg_new();
        aox_msg_set_str(t, "name", "Value");
        aox_msg_set_str(t, "value", "-2");
        aox_msg_list_append_msg(m, "tags", t);
    }
    res = dt_compute(tc, s, def, m, 2, &lim, 0, &rc);
    CHECK(rc == AOX_OK && pt_counter(res) == 3);
    aox_msg_free(res);
    aox_msg_free(m);

    /* guest failures leave the state alone */
    digest_of(s, d0);
    static const char *fails[] = { "fail", "trap", "out-of-fuel", "out-of-memory" };
    static const char *codes[] = { "guest_error", "trap", "out_of_fuel", "out_of_memory" };
    for (int i = 0; i < 4; i++) {
        m = dt_msg(100, fails[i]);
        res = dt_compute(tc, s, def, m, 3, &lim, 0, &rc);
        CHECK_RC(rc, AOX_OK);
        CHECK(aox_result_is_error(res));
        CHECK(strcmp(aox_msg_get_str(aox_msg_get_msg(res, "error"), "code", NULL),
                     codes[i]) == 0);
        aox_msg_free(res);
        aox_msg_free(m);
    }
    m = dt_msg(0, NULL);
    aox_msg_set_str(m, "value", "not a number");
    res = dt_compute(tc, s, def, m, 3, &lim, 0, &rc);
    CHECK(rc == AOX_OK && aox_result_is_error(res));
    aox_msg_free(res);
    aox_msg_free(m);
    digest_of(s, d1);
    CHECK(memcmp(d0, d1, 32) == 0);

    /* a node fault is a return code, not a result */
    m = dt_msg(1, "node-fault");
    res = dt_compute(tc, s, def, m, 3, &lim, 0, &rc);
    CHECK_RC(rc, AOX_E_IO);
    aox_msg_free(res);
    aox_msg_free(m);

    /* dry run: a result, no state change */
    m = dt_msg(10, NULL);
    res = dt_compute(tc, s, def, m, 3, &lim, 1, &rc);
    CHECK(rc == AOX_OK && pt_counter(res) == 13);
    aox_msg_free(res);
    digest_of(s, d1);
    CHECK(memcmp(d0, d1, 32) == 0);
    res = dt_compute(tc, s, def, m, 3, &lim, 0, &rc);
    CHECK(rc == AOX_OK && pt_counter(res) == 13);
    aox_msg_free(res);
    aox_msg_free(m);
    digest_of(s, d1);
    CHECK(memcmp(d0, d1, 32) != 0);

    /* big outputs, and the result limit */
    m = dt_msg(1, "big");
    aox_msg_set_int(m, "size", 5000);
    res = dt_compute(tc, s, def, m, 4, &lim, 0, &rc);
    {
        size_t n = 0;
        const aox_msg *out = aox_msg_get_msg(res, "output");
        CHECK(rc == AOX_OK && out && aox_msg_get_str(out, "blob", &n) && n == 5000);
        CHECK(pt_counter(res) == 14);
    }
    aox_msg_free(res);
    lim.result_bytes = 4000;
    res = dt_compute(tc, s, def, m, 5, &lim, 0, &rc);
    CHECK(rc == AOX_OK && aox_result_is_error(res));
    CHECK(strcmp(aox_msg_get_str(aox_msg_get_msg(res, "error"), "code", NULL),
                 "limit_exceeded") == 0);
    aox_msg_free(res);
    aox_msg_free(m);

    CHECK(tc->memory(s) > 0);
    tc->free(s);
    aox_msg_free(def);
}

/* Snapshot after some messages, restore, and both compute the same from there on. */
static void test_snapshot_restore(void)
{
    aox_limits lim = {0};
    aox_device_env env = { DT_PID, st, &lim };
    aox_msg *def = counter_def(4), *m, *r1, *r2;
    void *a = NULL, *b = NULL;
    aox_snap_writer *w;
    aox_snap_reader *rd;
    aox_buf man = {0}, man2 = {0};
    uint8_t da[32], db[32];
    int rc;

    REQUIRE(tc->init(&env, def, &a, NULL) == AOX_OK);
    for (int i = 1; i <= 10; i++) {
        m = dt_msg(i, NULL);
        aox_msg_free(dt_compute(tc, a, def, m, (uint64_t)i, &lim, 0, &rc));
        CHECK_RC(rc, AOX_OK);
        aox_msg_free(m);
    }
    REQUIRE(aox_snap_writer_new(st, NULL, 0, &w) == AOX_OK);
    CHECK_RC(tc->snapshot(a, w, NULL), AOX_OK);
    CHECK(aox_snap_writer_bytes_written(w) > 0);
    CHECK_RC(aox_snap_writer_finish(w, &man), AOX_OK);
    aox_snap_writer_free(w);

    REQUIRE(aox_snap_reader_new(st, man.data, man.len, &rd, NULL) == AOX_OK);
    CHECK(aox_snap_page_count(rd) == 4);
    CHECK_RC(tc->restore(&env, def, rd, &b, NULL), AOX_OK);
    aox_snap_reader_free(rd);
    REQUIRE(b);
    digest_of(a, da);
    digest_of(b, db);
    CHECK(memcmp(da, db, 32) == 0);

    m = dt_msg(7, NULL);
    r1 = dt_compute(tc, a, def, m, 11, &lim, 0, &rc);
    r2 = dt_compute(tc, b, def, m, 11, &lim, 0, &rc);
    CHECK(dt_encode_equal(r1, r2));
    CHECK(pt_counter(r1) == 62);
    aox_msg_free(r1);
    aox_msg_free(r2);
    aox_msg_free(m);

    /* incremental snapshot: one message dirties one page; the rest are kept */
    REQUIRE(aox_snap_writer_new(st, man.data, man.len, &w) == AOX_OK);
    CHECK_RC(tc->snapshot(a, w, NULL), AOX_OK);
    CHECK(aox_snap_writer_bytes_written(w) == 256);
    CHECK_RC(aox_snap_writer_finish(w, &man2), AOX_OK);
    aox_snap_writer_free(w);
    tc->free(b);
    REQUIRE(aox_snap_reader_new(st, man2.data, man2.len, &rd, NULL) == AOX_OK);
    CHECK_RC(tc->restore(&env, def, rd, &b, NULL), AOX_OK);
    aox_snap_reader_free(rd);
    digest_of(a, da);
    digest_of(b, db);
    CHECK(memcmp(da, db, 32) == 0);

    /* corrupt meta is refused */
    {
        aox_buf bad = {0};
        void *c = NULL;
        aox_err err = {0};
        REQUIRE(aox_snap_writer_new(st, NULL, 0, &w) == AOX_OK);
        aox_snap_write_meta(w, "Tx", 2);
        aox_snap_writer_finish(w, &bad);
        aox_snap_writer_free(w);
        REQUIRE(aox_snap_reader_new(st, bad.data, bad.len, &rd, NULL) == AOX_OK);
        CHECK_RC(tc->restore(&env, def, rd, &c, &err), AOX_E_CORRUPT);
        CHECK(c == NULL);
        aox_snap_reader_free(rd);
        aox_buf_free(&bad);
    }

    tc->free(a);
    tc->free(b);
    aox_buf_free(&man);
    aox_buf_free(&man2);
    aox_msg_free(def);
}

static void test_bad_def(void)
{
    aox_limits lim = {0};
    aox_device_env env = { DT_PID, st, &lim };
    aox_msg *def = counter_def(0);
    void *s = NULL;
    aox_err err = {0};
    aox_msg_set_int(def, "pages", 1000);
    CHECK_RC(tc->init(&env, def, &s, &err), AOX_E_INVALID);
    CHECK(s == NULL);
    aox_msg_free(def);
}

int main(void)
{
    REQUIRE(aox_store_open("memory:", NULL, &st, NULL) == AOX_OK);
    PT_RUN(test_registry);
    PT_RUN(test_result_helpers);
    PT_RUN(test_compute);
    PT_RUN(test_snapshot_restore);
    PT_RUN(test_bad_def);
    aox_store_close(st);
    PT_DONE();
}
