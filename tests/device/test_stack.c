/*
 * tests/device/test_stack.c: stack@1.0 — devices run in order with passes, a device
 * reaches its sibling through the frame, guest failures stop the call, and the stack
 * snapshots/restores every sub-state in one snapshot.
 */
#include "core/id.h"
#include "dtest.h"

static aox_store *st;
static const aox_device_ops *tc, *stack;

/* probe@1.0: counts its calls; each call records the pass it ran in and the digest of
 * its test-counter sibling at that moment. */
typedef struct probe { int64_t calls; } probe;

static int probe_init(const aox_device_env *env, const aox_msg *def, void **s, aox_err *err)
{
    *s = calloc(1, sizeof(probe));
    return *s ? AOX_OK : AOX_E_NOMEM;
}

static int probe_compute(void *s, const aox_call *call, aox_msg *res, aox_err *err)
{
    probe *p = s;
    void *sib = aox_stack_sibling(call, "test-counter@1.0");
    aox_value v;
    uint8_t d[32];
    char id[44];
    if (!sib || aox_stack_sibling(call, "missing@1.0") != NULL)
        return aox_err_set(err, AOX_E_INTERNAL, "probe: sibling lookup broken");
    if (tc->digest(sib, d))
        return AOX_E_INTERNAL;
    aox_id_from_hash(d, id);
    v.type = AOX_V_INT;
    v.u.i = call->pass;
    aox_msg_list_append(res, "passes", &v);
    v.type = AOX_V_BYTES;
    v.u.bytes.ptr = (uint8_t *)id;
    v.u.bytes.len = 43;
    aox_msg_list_append(res, "sibling-digests", &v);
    if (!call->dry_run)
        p->calls++;
    return AOX_OK;
}

static int probe_snapshot(void *s, aox_snap_writer *w, aox_err *err)
{
    probe *p = s;
    uint8_t page[64];
    memset(page, (int)p->calls, sizeof page);
    int rc = aox_snap_write_meta(w, &p->calls, sizeof p->calls);
    if (!rc)
        rc = aox_snap_write_page(w, 2, page, sizeof page);     /* exercises namespacing */
    return rc;
}

static int probe_restore(const aox_device_env *env, const aox_msg *def, aox_snap_reader *r,
                         void **s, aox_err *err)
{
    const uint8_t *m;
    size_t n;
    aox_buf page = {0};
    probe *p;
    aox_snap_read_meta(r, &m, &n);
    if (n != sizeof p->calls || aox_snap_page_count(r) != 3)
        return AOX_E_CORRUPT;
    if (aox_snap_read_page(r, 2, &page) || page.len != 64) {
        aox_buf_free(&page);
        return AOX_E_CORRUPT;
    }
    p = calloc(1, sizeof *p);
    if (!p) {
        aox_buf_free(&page);
        return AOX_E_NOMEM;
    }
    memcpy(&p->calls, m, n);
    if (page.data[0] != (uint8_t)p->calls) {
        free(p);
        aox_buf_free(&page);
        return AOX_E_CORRUPT;
    }
    aox_buf_free(&page);
    *s = p;
    return AOX_OK;
}

static void probe_free(void *s) { free(s); }

static const aox_device_ops probe_ops = {
    .name = "probe@1.0", .init = probe_init, .compute = probe_compute,
    .snapshot = probe_snapshot, .restore = probe_restore, .free = probe_free,
};

static aox_msg *stack_def(const char **names, int n, int passes, int pages)
{
    aox_msg *d = aox_msg_new();
    REQUIRE(d && aox_msg_set_str(d, "execution-device", "stack@1.0") == AOX_OK);
    for (int i = 0; i < n; i++) {
        aox_value v = { .type = AOX_V_BYTES };
        v.u.bytes.ptr = (uint8_t *)names[i];
        v.u.bytes.len = strlen(names[i]);
        REQUIRE(aox_msg_list_append(d, "device-stack", &v) == AOX_OK);
    }
    if (passes)
        REQUIRE(aox_msg_set_int(d, "passes", passes) == AOX_OK);
    if (pages)
        REQUIRE(aox_msg_set_int(d, "pages", pages) == AOX_OK);
    return d;
}

static void test_check(void)
{
    const char *bad1[] = { "test-counter@1.0", "ghost@9.9" };
    const char *nested[] = { "stack@1.0" };
    const char *ok[] = { "test-counter@1.0", "probe@1.0" };
    aox_err err = {0};
    aox_msg *d;

    d = stack_def(bad1, 2, 0, 0);
    CHECK_RC(aox_device_check(d, &err), AOX_E_INVALID);
    CHECK(strstr(err.msg, "ghost@9.9") != NULL);
    aox_msg_free(d);
    d = stack_def(nested, 1, 0, 0);
    CHECK_RC(aox_device_check(d, &err), AOX_E_INVALID);
    aox_msg_free(d);
    d = stack_def(ok, 2, 0, 0);
    CHECK_RC(aox_device_check(d, &err), AOX_OK);
    aox_msg_free(d);
    d = stack_def(ok, 2, 99, 0);
    CHECK_RC(aox_device_check(d, &err), AOX_E_INVALID);
    aox_msg_free(d);
    d = stack_def(ok, 0, 0, 0);                                  /* empty list */
    CHECK_RC(aox_device_check(d, &err), AOX_E_INVALID);
    aox_msg_free(d);
}

/* Two passes over [test-counter, probe]: the counter adds twice per message, the probe
 * sees pass 0 and 1 and its sibling's state as it is at that moment. */
static void test_passes_and_siblings(void)
{
    const char *names[] = { "test-counter@1.0", "probe@1.0" };
    aox_limits lim = {0};
    aox_device_env env = { DT_PID, st, &lim };
    aox_msg *def = stack_def(names, 2, 2, 0), *m, *res, *solo_res;
    void *s = NULL, *solo = NULL;
    uint8_t d_solo[32], d_stack[32], want[32];
    char id[44];
    aox_buf cat = {0};
    int rc;

    REQUIRE(stack->init(&env, def, &s, NULL) == AOX_OK);
    REQUIRE(tc->init(&env, def, &solo, NULL) == AOX_OK);
    m = dt_msg(5, NULL);
    res = dt_compute(stack, s, def, m, 1, &lim, 0, &rc);
    CHECK_RC(rc, AOX_OK);
    CHECK(pt_counter(res) == 10);
    {
        const aox_value *p = aox_msg_get(res, "passes");
        const aox_value *ds = aox_msg_get(res, "sibling-digests");
        CHECK(p && p->type == AOX_V_LIST && p->u.list.len == 2 &&
              p->u.list.items[0].u.i == 0 && p->u.list.items[1].u.i == 1);
        /* the same message applied twice to a lone test-counter gives the digests */
        aox_msg_free(dt_compute(tc, solo, def, m, 1, &lim, 0, &rc));
        tc->digest(solo, d_solo);
        aox_id_from_hash(d_solo, id);
        CHECK(ds && ds->u.list.len == 2 &&
              strcmp((const char *)ds->u.list.items[0].u.bytes.ptr, id) == 0);
        solo_res = dt_compute(tc, solo, def, m, 1, &lim, 0, &rc);
        tc->digest(solo, d_solo);
        aox_id_from_hash(d_solo, id);
        CHECK(ds && ds->u.list.len == 2 &&
              strcmp((const char *)ds->u.list.items[1].u.bytes.ptr, id) == 0);
        aox_msg_free(solo_res);
    }
    aox_msg_free(res);
    aox_msg_free(m);

    /* stack digest = SHA-256(name NUL digest) over the sub-devices with a digest */
    REQUIRE(stack->digest(s, d_stack) == AOX_OK);
    aox_buf_append_str(&cat, "test-counter@1.0");
    aox_buf_append_u8(&cat, 0);
    aox_buf_append(&cat, d_solo, 32);
    aox_sha256(cat.data, cat.len, want);
    CHECK(memcmp(want, d_stack, 32) == 0);
    CHECK(stack->memory(s) > tc->memory(solo));

    /* a guest failure stops the call: the probe does not run, nothing changes */
    m = dt_msg(5, "fail");
    res = dt_compute(stack, s, def, m, 2, &lim, 0, &rc);
    CHECK(rc == AOX_OK && aox_result_is_error(res));
    CHECK(aox_msg_get(res, "passes") == NULL);
    CHECK(aox_msg_get(res, AOX_RESULT_STATE_LOST) == NULL);     /* failed at position 0 */
    aox_msg_free(res);
    aox_msg_free(m);
    REQUIRE(stack->digest(s, d_solo) == AOX_OK);
    CHECK(memcmp(d_solo, d_stack, 32) == 0);

    /* a node fault from a sub-device is the stack's node fault */
    m = dt_msg(5, "node-fault");
    res = dt_compute(stack, s, def, m, 2, &lim, 0, &rc);
    CHECK_RC(rc, AOX_E_IO);
    aox_msg_free(res);
    aox_msg_free(m);

    /* failing after another device ran: the stack cannot roll that back, says so */
    {
        const char *rev[] = { "probe@1.0", "test-counter@1.0" };
        aox_msg *d2 = stack_def(rev, 2, 1, 0);
        void *s2 = NULL;
        REQUIRE(stack->init(&env, d2, &s2, NULL) == AOX_OK);
        m = dt_msg(5, "fail");
        res = dt_compute(stack, s2, d2, m, 1, &lim, 0, &rc);
        CHECK(rc == AOX_OK && aox_result_is_error(res));
        CHECK(aox_msg_get(res, AOX_RESULT_STATE_LOST) != NULL);
        aox_msg_free(res);
        res = dt_compute(stack, s2, d2, m, 1, &lim, 1, &rc);      /* dry run: no marker */
        CHECK(rc == AOX_OK && aox_result_is_error(res));
        CHECK(aox_msg_get(res, AOX_RESULT_STATE_LOST) == NULL);
        aox_msg_free(res);
        aox_msg_free(m);
        stack->free(s2);
        aox_msg_free(d2);
    }

    aox_buf_free(&cat);
    stack->free(s);
    tc->free(solo);
    aox_msg_free(def);
}

static void test_snapshot_restore(void)
{
    const char *names[] = { "test-counter@1.0", "probe@1.0" };
    aox_limits lim = {0};
    aox_device_env env = { DT_PID, st, &lim };
    aox_msg *def = stack_def(names, 2, 1, 3), *m, *r1, *r2;
    void *a = NULL, *b = NULL;
    aox_snap_writer *w;
    aox_snap_reader *rd;
    aox_buf man = {0};
    uint8_t da[32], db[32];
    int rc;

    REQUIRE(stack->init(&env, def, &a, NULL) == AOX_OK);
    for (int i = 1; i <= 6; i++) {
        m = dt_msg(i * 10, NULL);
        aox_msg_free(dt_compute(stack, a, def, m, (uint64_t)i, &lim, 0, &rc));
        CHECK_RC(rc, AOX_OK);
        aox_msg_free(m);
    }
    REQUIRE(aox_snap_writer_new(st, NULL, 0, &w) == AOX_OK);
    CHECK_RC(stack->snapshot(a, w, NULL), AOX_OK);
    CHECK_RC(aox_snap_writer_finish(w, &man), AOX_OK);
    aox_snap_writer_free(w);

    REQUIRE(aox_snap_reader_new(st, man.data, man.len, &rd, NULL) == AOX_OK);
    /* counter pages 0..2 in namespace 0, the probe's page 2 in namespace 1 */
    CHECK(aox_snap_page_count(rd) == (1ull << 48) + 3);
    CHECK_RC(stack->restore(&env, def, rd, &b, NULL), AOX_OK);
    aox_snap_reader_free(rd);
    REQUIRE(b);
    stack->digest(a, da);
    stack->digest(b, db);
    CHECK(memcmp(da, db, 32) == 0);
    m = dt_msg(1, NULL);
    r1 = dt_compute(stack, a, def, m, 7, &lim, 0, &rc);
    r2 = dt_compute(stack, b, def, m, 7, &lim, 0, &rc);
    CHECK(pt_counter(r1) == 211);
    CHECK(dt_encode_equal(r1, r2));
    aox_msg_free(r1);
    aox_msg_free(r2);
    aox_msg_free(m);

    /* a definition with another stack cannot restore this snapshot */
    {
        const char *other[] = { "probe@1.0", "test-counter@1.0" };
        aox_msg *d2 = stack_def(other, 2, 1, 3);
        void *c = NULL;
        aox_err err = {0};
        REQUIRE(aox_snap_reader_new(st, man.data, man.len, &rd, NULL) == AOX_OK);
        CHECK_RC(stack->restore(&env, d2, rd, &c, &err), AOX_E_CORRUPT);
        CHECK(c == NULL);
        aox_snap_reader_free(rd);
        aox_msg_free(d2);
    }
    stack->free(a);
    stack->free(b);
    aox_buf_free(&man);
    aox_msg_free(def);
}

/* boot: the stack boots when a member boots for the definition (and never for a
 * definition it cannot parse) */
static int boot_on(const aox_msg *def) { return aox_msg_get(def, "boot-please") != NULL; }
static aox_device_ops booter_ops;

static void test_boot(void)
{
    const char *with[] = { "probe@1.0", "booter@1.0" }, *without[] = { "probe@1.0",
                                                                      "test-counter@1.0" };
    aox_msg *d;
    booter_ops = probe_ops;
    booter_ops.name = "booter@1.0";
    booter_ops.boot = boot_on;
    REQUIRE(aox_device_register(&booter_ops) == AOX_OK);
    REQUIRE(stack->boot != NULL);
    d = stack_def(with, 2, 0, 0);
    CHECK(stack->boot(d) == 0);                     /* the member says no for this def */
    REQUIRE(aox_msg_set_int(d, "boot-please", 1) == AOX_OK);
    CHECK(stack->boot(d) != 0);
    aox_msg_free(d);
    d = stack_def(without, 2, 0, 0);
    REQUIRE(aox_msg_set_int(d, "boot-please", 1) == AOX_OK);
    CHECK(stack->boot(d) == 0);                     /* no member boots */
    aox_msg_free(d);
    d = stack_def(with, 0, 0, 0);                   /* empty list: not a stack */
    REQUIRE(aox_msg_set_int(d, "boot-please", 1) == AOX_OK);
    CHECK(stack->boot(d) == 0);
    aox_msg_free(d);
    /* test-counter: slot 0 is init, unless the definition opts in with boot: 1 */
    d = stack_def(without, 2, 0, 0);
    REQUIRE(tc->boot != NULL);
    CHECK(tc->boot(d) == 0);
    CHECK(stack->boot(d) == 0);
    REQUIRE(aox_msg_set_str(d, "boot", "yes") == AOX_OK);
    CHECK(tc->boot(d) == 0);
    REQUIRE(aox_msg_set_int(d, "boot", 2) == AOX_OK);
    CHECK(tc->boot(d) == 0);
    REQUIRE(aox_msg_set_int(d, "boot", 1) == AOX_OK);
    CHECK(tc->boot(d) != 0);
    CHECK(stack->boot(d) != 0);                     /* a stack holding it boots too */
    aox_msg_free(d);
}

int main(void)
{
    REQUIRE(aox_store_open("memory:", NULL, &st, NULL) == AOX_OK);
    REQUIRE(aox_device_register_builtin() == AOX_OK);
    REQUIRE(aox_device_register(&probe_ops) == AOX_OK);
    tc = aox_device_find("test-counter@1.0");
    stack = aox_device_find("stack@1.0");
    REQUIRE(tc && stack);
    PT_RUN(test_check);
    PT_RUN(test_passes_and_siblings);
    PT_RUN(test_snapshot_restore);
    PT_RUN(test_boot);
    aox_store_close(st);
    PT_DONE();
}
