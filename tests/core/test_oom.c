/*
 * tests/core/test_oom.c: fails every allocation in turn (SQLite's faultsim, Lua's
 * memerr.lua) for the core operations and the memory store's batch, checking that
 * each either succeeds or reports AOX_E_NOMEM, leaks nothing, and leaves its
 * inputs unchanged. malloc & co. are interposed here, so this test is built only
 * without the sanitizers (which interpose them too).
 */
#include "check.h"
#include "gen.h"
#include "core/json.h"
#include "store/store.h"

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void  __libc_free(void *);

static long live;        /* allocations not yet freed */
static long calls;       /* allocation calls since arming */
static long fail_at;     /* 0: never fail; n: fail the n-th call */
static int  hit;         /* the armed failure happened */
static char last_msg[AOX_ERR_MSG_MAX];

static int should_fail(void)
{
    if (!fail_at)
        return 0;
    if (++calls == fail_at) {
        hit = 1;
        return 1;
    }
    return 0;
}

void *malloc(size_t n)
{
    if (should_fail())
        return NULL;
    void *p = __libc_malloc(n);
    if (p)
        live++;
    return p;
}

void *calloc(size_t a, size_t b)
{
    if (should_fail())
        return NULL;
    void *p = __libc_calloc(a, b);
    if (p)
        live++;
    return p;
}

void *realloc(void *q, size_t n)
{
    if (should_fail())
        return NULL;
    void *p = __libc_realloc(q, n);
    if (p && !q)
        live++;
    return p;
}

void free(void *p)
{
    if (p)
        live--;
    __libc_free(p);
}

/* Runs op with the n-th allocation failing, for n = 1, 2, ... until op completes
 * without meeting the failure. op returns an aox code and cleans up after itself. */
typedef int (*op_fn)(void *ctx);

static void faultsim(const char *name, op_fn op, void *ctx)
{
    long n;
    for (n = 1; n < 100000; n++) {
        long before = live;
        calls = 0;
        hit = 0;
        fail_at = n;
        int rc = op(ctx);
        fail_at = 0;
        if (rc != AOX_OK && rc != AOX_E_NOMEM) {
            fprintf(stderr, "  %s: failure %ld gave code %d (%s)\n", name, n, rc, last_msg);
            check_failures++;
        }
        if (!hit && rc != AOX_OK) {
            fprintf(stderr, "  %s: failed with no injected failure\n", name);
            check_failures++;
        }
        if (live != before) {
            fprintf(stderr, "  %s: failure %ld leaked %ld allocation(s)\n", name, n,
                    live - before);
            check_failures++;
        }
        if (!hit)
            break;
    }
    CHECK(n > 2);    /* the operation allocates: failures were really injected */
}

typedef struct ctx {
    aox_msg *m;
    aox_buf  enc;
    char    *json;
    aox_store *s;
} ctx;

static int op_decode(void *p)
{
    ctx *c = p;
    aox_msg *d = NULL;
    int rc = aox_msg_decode(c->enc.data, c->enc.len, &d, NULL);
    if (rc == 0 && !aox_msg_equal(d, c->m))
        rc = AOX_E_INTERNAL;
    aox_msg_free(d);
    return rc;
}

static int op_encode(void *p)
{
    ctx *c = p;
    aox_buf b = { 0 };
    int rc = aox_msg_encode(c->m, &b);
    if (rc == 0 && (b.len != c->enc.len || memcmp(b.data, c->enc.data, b.len)))
        rc = AOX_E_INTERNAL;
    aox_buf_free(&b);
    return rc;
}

static int op_clone(void *p)
{
    ctx *c = p;
    aox_msg *d = aox_msg_clone(c->m);
    int rc = d ? (aox_msg_equal(d, c->m) ? 0 : AOX_E_INTERNAL) : AOX_E_NOMEM;
    aox_msg_free(d);
    return rc;
}

static int op_from_json(void *p)
{
    ctx *c = p;
    aox_msg *d = NULL;
    aox_err err;
    aox_err_clear(&err);
    int rc = aox_msg_from_json_text(c->json, strlen(c->json), &d, &err);
    memcpy(last_msg, err.msg, sizeof last_msg);
    if (rc == 0 && !aox_msg_equal(d, c->m)) {
        long armed = fail_at;
        fail_at = 0;
        aox_buf b = { 0 };
        aox_msg_to_json_text(d, &b);
        snprintf(last_msg, sizeof last_msg, "parsed as %s", (char *)b.data);
        aox_buf_free(&b);
        fail_at = armed;
        rc = AOX_E_INTERNAL;
    }
    aox_msg_free(d);
    return rc;
}

static int op_to_json(void *p)
{
    ctx *c = p;
    aox_buf b = { 0 };
    int rc = aox_msg_to_json_text(c->m, &b);
    if (rc == 0 && strcmp((char *)b.data, c->json) != 0)
        rc = AOX_E_INTERNAL;
    aox_buf_free(&b);
    return rc;
}

static int op_id(void *p)
{
    ctx *c = p;
    char id[AOX_ID_LEN + 1];
    return aox_msg_id(c->m, id);
}

/* One setter on a fresh copy: on failure the copy must still equal the original. */
static int setter_case(ctx *c, int which)
{
    long armed = fail_at;
    fail_at = 0;                          /* set-up allocations are not injected */
    aox_msg *d = aox_msg_clone(c->m), *orig = aox_msg_clone(c->m);
    aox_msg *sub = aox_msg_new();
    REQUIRE(d && orig && sub);
    aox_msg_set_str(sub, "k", "v");
    aox_value lv = { .type = AOX_V_INT, .u.i = 5 };
    fail_at = armed;
    int rc;
    switch (which) {
    case 0:  rc = aox_msg_set_str(d, "brand-new-key", "value"); break;
    case 1:  rc = aox_msg_set_msg(d, "a", sub); break;           /* replace */
    case 2:  rc = aox_msg_list_append(d, "new-list", &lv); break;
    default: rc = aox_msg_set_value(d, "copy", aox_msg_value_at(c->m, 0)); break;
    }
    fail_at = 0;
    if (rc != 0 && !aox_msg_equal(d, orig))
        rc = AOX_E_INTERNAL;              /* a failed setter changed the message */
    aox_msg_free(d);
    aox_msg_free(orig);
    aox_msg_free(sub);
    return rc;
}

static int op_set0(void *p) { return setter_case(p, 0); }
static int op_set1(void *p) { return setter_case(p, 1); }
static int op_set2(void *p) { return setter_case(p, 2); }
static int op_set3(void *p) { return setter_case(p, 3); }

static int count_cb(void *ud, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
    (*(int *)ud)++;
    return 0;
}

/* A memory-store batch is all or nothing, also when allocation fails. */
static int op_batch(void *p)
{
    ctx *c = p;
    aox_batch *b = NULL;
    int rc = aox_store_batch_begin(c->s, &b);
    for (int i = 0; rc == 0 && i < 20; i++) {
        char k[16];
        snprintf(k, sizeof k, "b/%02d", i);
        rc = aox_batch_put(b, k, strlen(k), "value", 5);
    }
    if (rc == 0)
        rc = aox_store_batch_commit(b, NULL);
    else
        aox_store_batch_abort(b);
    long armed = fail_at;
    fail_at = 0;
    int n = 0;
    aox_store_scan(c->s, "b/", 2, NULL, 0, 0, count_cb, &n);
    if ((rc == 0 && n != 20) || (rc != 0 && n != 0))
        rc = AOX_E_INTERNAL;
    for (int i = 0; i < 20; i++) {            /* back to the empty store */
        char k[16];
        snprintf(k, sizeof k, "b/%02d", i);
        aox_store_del(c->s, k, strlen(k));
    }
    fail_at = armed;
    return rc;
}

int main(void)
{
    ctx c = { 0 };
    trng r = { 2024 };
    /* a message with every kind of value, a few levels deep */
    c.m = aox_msg_new();
    aox_msg_set_str(c.m, "a", "text");
    aox_msg_set_bytes(c.m, "raw", "\xff\xfe", 2);
    aox_msg_set_int(c.m, "n", -7);
    aox_msg_set_float(c.m, "f", 0.25);
    for (int i = 0; i < 3; i++) {
        aox_value v;
        gen_value(&r, &v, 2);
        aox_msg_list_append(c.m, "list", &v);
        aox_value_free(&v);
    }
    aox_msg_take_msg(c.m, "sub", gen_msg(&r, 1));
    REQUIRE(aox_msg_encode(c.m, &c.enc) == 0);
    aox_buf j = { 0 };
    REQUIRE(aox_msg_to_json_text(c.m, &j) == 0);
    c.json = (char *)aox_buf_steal(&j, NULL);
    REQUIRE(aox_store_open("memory:", NULL, &c.s, NULL) == 0);
    /* warm the store up: its array exists before counting starts */
    REQUIRE(aox_store_put(c.s, "w", 1, "w", 1) == 0);
    REQUIRE(aox_store_del(c.s, "w", 1) == 0);

    faultsim("decode", op_decode, &c);
    faultsim("encode", op_encode, &c);
    faultsim("clone", op_clone, &c);
    faultsim("from_json", op_from_json, &c);
    faultsim("to_json", op_to_json, &c);
    faultsim("id", op_id, &c);
    faultsim("set_str", op_set0, &c);
    faultsim("set_msg", op_set1, &c);
    faultsim("list_append", op_set2, &c);
    faultsim("set_value", op_set3, &c);
    faultsim("store_batch", op_batch, &c);

    aox_store_close(c.s);
    aox_msg_free(c.m);
    aox_buf_free(&c.enc);
    free(c.json);
    return check_report("core_oom");
}
