/*
 * tests/core/test_message.c: the message map, the canonical encoding and the strict
 * decoder (core/message.h).
 */
#include <math.h>
#include "check.h"
#include "gen.h"
#include "core/message.h"

static void test_map(void)
{
    aox_msg *m = aox_msg_new();
    REQUIRE(m);
    CHECK_EQ_INT(aox_msg_set_str(m, "Target", "abc"), 0);
    CHECK_EQ_INT(aox_msg_set_int(m, "b", 42), 0);
    CHECK_EQ_INT(aox_msg_set_float(m, "A", 1.5), 0);
    CHECK_EQ_INT(aox_msg_set_bytes(m, "data", "\0\1\2", 3), 0);
    CHECK_EQ_INT(aox_msg_set_str(m, "", "x"), AOX_E_INVALID);
    CHECK_EQ_INT(aox_msg_set_str(m, "bad\xff", "x"), AOX_E_INVALID);
    CHECK_EQ_INT(aox_msg_count(m), 4);

    /* sorted, lower-cased iteration */
    const char *order[] = { "a", "b", "data", "target" };
    for (size_t i = 0; i < 4; i++)
        CHECK_STR(aox_msg_key_at(m, i), order[i]);
    CHECK(aox_msg_key_at(m, 4) == NULL);

    /* case-insensitive lookup */
    size_t len = 0;
    CHECK_STR(aox_msg_get_str(m, "TARGET", &len), "abc");
    CHECK_EQ_INT(len, 3);
    CHECK(aox_msg_get_str(m, "b", NULL) == NULL);     /* int, not bytes */
    const aox_value *v = aox_msg_get(m, "dAtA");
    CHECK(v && v->type == AOX_V_BYTES && v->u.bytes.len == 3 && v->u.bytes.ptr[2] == 2);
    CHECK(aox_msg_get(m, "missing") == NULL);

    /* replace keeps one entry */
    CHECK_EQ_INT(aox_msg_set_str(m, "TARGET", "xyz"), 0);
    CHECK_EQ_INT(aox_msg_count(m), 4);
    CHECK_STR(aox_msg_get_str(m, "target", NULL), "xyz");

    /* get_int: ints and decimal bytes, strictly */
    int64_t i64 = 0;
    CHECK_EQ_INT(aox_msg_get_int(m, "b", &i64), 0);
    CHECK_EQ_INT(i64, 42);
    aox_msg_set_str(m, "n", "-9223372036854775808");
    CHECK_EQ_INT(aox_msg_get_int(m, "n", &i64), 0);
    CHECK(i64 == INT64_MIN);
    aox_msg_set_str(m, "n", "9223372036854775808");
    CHECK_EQ_INT(aox_msg_get_int(m, "n", &i64), AOX_E_INVALID);
    aox_msg_set_str(m, "n", "12x");
    CHECK_EQ_INT(aox_msg_get_int(m, "n", &i64), AOX_E_INVALID);
    aox_msg_set_str(m, "n", "");
    CHECK_EQ_INT(aox_msg_get_int(m, "n", &i64), AOX_E_INVALID);
    CHECK_EQ_INT(aox_msg_get_int(m, "a", &i64), AOX_E_INVALID);
    CHECK_EQ_INT(aox_msg_get_int(m, "zz", &i64), AOX_E_NOT_FOUND);

    /* remove */
    CHECK_EQ_INT(aox_msg_remove(m, "N"), 0);
    CHECK_EQ_INT(aox_msg_remove(m, "n"), AOX_E_NOT_FOUND);
    CHECK_EQ_INT(aox_msg_remove(m, "A"), 0);
    CHECK_EQ_INT(aox_msg_count(m), 3);
    CHECK_STR(aox_msg_key_at(m, 0), "b");

    /* nested messages and lists */
    aox_msg *sub = aox_msg_new();
    aox_msg_set_int(sub, "x", 1);
    CHECK_EQ_INT(aox_msg_set_msg(m, "sub", sub), 0);    /* copy */
    aox_msg_set_int(sub, "x", 2);
    CHECK_EQ_INT(aox_msg_get_msg(m, "sub") != NULL, 1);
    CHECK_EQ_INT(aox_msg_get_int(aox_msg_get_msg(m, "SUB"), "x", &i64), 0);
    CHECK_EQ_INT(i64, 1);
    CHECK_EQ_INT(aox_msg_list_append_msg(m, "items", sub), 0);   /* takes sub */
    aox_value iv = { .type = AOX_V_INT, .u.i = 7 };
    CHECK_EQ_INT(aox_msg_list_append(m, "Items", &iv), 0);
    v = aox_msg_get(m, "items");
    CHECK(v && v->type == AOX_V_LIST && v->u.list.len == 2);
    CHECK(v && v->u.list.items[1].u.i == 7);
    CHECK_EQ_INT(aox_msg_list_append(m, "b", &iv), AOX_E_INVALID);  /* not a list */

    /* set_value from a value inside the same message */
    CHECK_EQ_INT(aox_msg_set_value(m, "copy", aox_msg_get(m, "items")), 0);
    CHECK(aox_value_equal(aox_msg_get(m, "copy"), aox_msg_get(m, "items")));

    /* self-insertion makes a deep copy */
    CHECK_EQ_INT(aox_msg_set_msg(m, "self", m), 0);
    CHECK(aox_msg_get_msg(m, "self") && aox_msg_count(aox_msg_get_msg(m, "self")) ==
                                        aox_msg_count(m) - 1);

    aox_msg *c = aox_msg_clone(m);
    CHECK(c && aox_msg_equal(c, m));
    aox_msg_set_int(c, "b", 43);
    CHECK(!aox_msg_equal(c, m));
    aox_msg_free(c);
    aox_msg_free(m);
    aox_msg_free(NULL);
}

static void test_round_trip(void)
{
    trng r = { 0x9e3779b97f4a7c15ULL };
    aox_buf enc = { 0 }, enc2 = { 0 };
    for (int iter = 0; iter < 400; iter++) {
        aox_msg *m = gen_msg(&r, 0);
        aox_buf_reset(&enc);
        aox_buf_reset(&enc2);
        REQUIRE(aox_msg_encode(m, &enc) == 0);
        aox_msg *d = NULL;
        aox_err err;
        int rc = aox_msg_decode(enc.data, enc.len, &d, &err);
        CHECK_EQ_INT(rc, 0);
        if (rc) {
            fprintf(stderr, "  decode: %s\n", err.msg);
            aox_msg_free(m);
            continue;
        }
        CHECK(aox_msg_equal(m, d));
        REQUIRE(aox_msg_encode(d, &enc2) == 0);
        CHECK(enc.len == enc2.len && memcmp(enc.data, enc2.data, enc.len) == 0);
        char id1[AOX_ID_LEN + 1], id2[AOX_ID_LEN + 1];
        CHECK_EQ_INT(aox_msg_id(m, id1), 0);
        CHECK_EQ_INT(aox_msg_id(d, id2), 0);
        CHECK_STR(id1, id2);
        CHECK_EQ_INT(strlen(id1), AOX_ID_LEN);
        aox_msg *c = aox_msg_clone(m);
        CHECK(c && aox_msg_equal(c, m));
        aox_msg_free(c);
        aox_msg_free(d);
        aox_msg_free(m);
    }
    aox_buf_free(&enc);
    aox_buf_free(&enc2);
}

static void test_floats(void)
{
    aox_msg *m = aox_msg_new();
    uint64_t payload_nan = 0x7ff0000000000123ULL;   /* a NaN with a payload */
    double f;
    memcpy(&f, &payload_nan, 8);
    aox_msg_set_float(m, "f", f);
    aox_msg_set_float(m, "z", -0.0);
    aox_buf enc = { 0 };
    REQUIRE(aox_msg_encode(m, &enc) == 0);
    /* M 2 | 1 'f' 'F' 7ff8000000000000 | 1 'z' 'F' 8000000000000000 */
    static const uint8_t want[] = {
        'M', 2, 1, 'f', 'F', 0x7f, 0xf8, 0, 0, 0, 0, 0, 0,
        1, 'z', 'F', 0x80, 0, 0, 0, 0, 0, 0, 0 };
    CHECK(enc.len == sizeof want && memcmp(enc.data, want, sizeof want) == 0);
    aox_msg *d = NULL;
    CHECK_EQ_INT(aox_msg_decode(enc.data, enc.len, &d, NULL), 0);
    if (d) {
        const aox_value *z = aox_msg_get(d, "z");
        CHECK(z && z->type == AOX_V_FLOAT && signbit(z->u.f) && z->u.f == 0.0);
        CHECK(isnan(aox_msg_get(d, "f")->u.f));
    }
    /* 0.0 and -0.0 differ; NaNs are equal */
    aox_msg *p = aox_msg_clone(m);
    aox_msg_set_float(p, "z", 0.0);
    CHECK(!aox_msg_equal(m, p));
    aox_msg_set_float(p, "z", -0.0);
    aox_msg_set_float(p, "f", NAN);
    CHECK(aox_msg_equal(m, p));
    aox_msg_free(p);
    aox_msg_free(d);
    aox_msg_free(m);
    aox_buf_free(&enc);
}

static int decode_fails(const uint8_t *p, size_t n)
{
    aox_msg *d = NULL;
    aox_err err;
    int rc = aox_msg_decode(p, n, &d, &err);
    aox_msg_free(d);
    return rc == AOX_E_CORRUPT && d == NULL;
}

static void test_malformed(void)
{
    /* A valid encoding of every kind of value. */
    aox_msg *m = aox_msg_new();
    aox_msg_set_str(m, "a", "hello");
    aox_msg_set_int(m, "b", -3);
    aox_msg_set_float(m, "c", 2.5);
    aox_value iv = { .type = AOX_V_INT, .u.i = 9 };
    aox_msg_list_append(m, "d", &iv);
    aox_msg *sub = aox_msg_new();
    aox_msg_set_str(sub, "k", "v");
    aox_msg_take_msg(m, "e", sub);
    aox_buf enc = { 0 };
    REQUIRE(aox_msg_encode(m, &enc) == 0);

    /* every strict prefix is rejected */
    for (size_t n = 0; n < enc.len; n++)
        CHECK(decode_fails(enc.data, n));
    /* trailing byte */
    uint8_t *t = malloc(enc.len + 1);
    memcpy(t, enc.data, enc.len);
    t[enc.len] = 0;
    CHECK(decode_fails(t, enc.len + 1));
    /* flipping any byte never crashes; an accepted result re-encodes to the input */
    size_t accepted = 0;
    for (size_t i = 0; i < enc.len; i++) {
        for (int x = 1; x < 256; x += 7) {
            memcpy(t, enc.data, enc.len);
            t[i] ^= (uint8_t)x;
            aox_msg *d = NULL;
            if (aox_msg_decode(t, enc.len, &d, NULL) == 0) {
                aox_buf re = { 0 };
                CHECK_EQ_INT(aox_msg_encode(d, &re), 0);
                CHECK(re.len == enc.len && memcmp(re.data, t, enc.len) == 0);
                aox_buf_free(&re);
                aox_msg_free(d);
                accepted++;
            }
        }
    }
    CHECK(accepted > 0);    /* e.g. changed string bytes stay valid */
    free(t);

    /* hand-made malformed inputs, each naming one rule */
    static const struct { const char *what; uint8_t b[24]; size_t n; } bad[] = {
        { "not a message",    { 'B', 0 }, 2 },
        { "unknown tag",      { 'M', 1, 1, 'a', 'X', 0 }, 6 },
        { "unsorted keys",    { 'M', 2, 1, 'b', 'B', 0, 1, 'a', 'B', 0 }, 10 },
        { "duplicate keys",   { 'M', 2, 1, 'a', 'B', 0, 1, 'a', 'B', 0 }, 10 },
        { "upper-case key",   { 'M', 1, 1, 'A', 'B', 0 }, 6 },
        { "empty key",        { 'M', 1, 0, 'B', 0 }, 5 },
        { "NUL in key",       { 'M', 1, 1, 0, 'B', 0 }, 6 },
        { "non-UTF-8 key",    { 'M', 1, 1, 0xff, 'B', 0 }, 6 },
        { "non-minimal uleb", { 'M', 1, 1, 'a', 'B', 0x80, 0x00 }, 7 },
        { "bytes too long",   { 'M', 1, 1, 'a', 'B', 5, 'x' }, 7 },
        { "huge length",      { 'M', 1, 1, 'a', 'B', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                0xff, 0xff, 0xff, 0x01 }, 15 },
        { "uleb overflow",    { 'M', 1, 1, 'a', 'B', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                0xff, 0xff, 0xff, 0x02 }, 15 },
        { "huge count",       { 'M', 0xff, 0xff, 0xff, 0xff, 0x0f }, 6 },
        { "huge list",        { 'M', 1, 1, 'a', 'L', 0xff, 0xff, 0x03 }, 8 },
        { "odd NaN",          { 'M', 1, 1, 'a', 'F', 0x7f, 0xf0, 0, 0, 0, 0, 0, 1 }, 13 },
        { "short int",        { 'M', 1, 1, 'a', 'I', 0, 0, 0 }, 8 },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (!decode_fails(bad[i].b, bad[i].n))
            fprintf(stderr, "  accepted malformed input: %s\n", bad[i].what);
        CHECK(decode_fails(bad[i].b, bad[i].n));
    }
    /* the same frames made valid are accepted (so the rejections above are specific) */
    static const uint8_t good[] = { 'M', 2, 1, 'a', 'B', 0, 1, 'b', 'F', 0x7f, 0xf8, 0, 0,
                                    0, 0, 0, 0 };
    aox_msg *d = NULL;
    CHECK_EQ_INT(aox_msg_decode(good, sizeof good, &d, NULL), 0);
    aox_msg_free(d);
    CHECK_EQ_INT(aox_msg_decode(NULL, 0, &d, NULL), AOX_E_CORRUPT);

    aox_buf_free(&enc);
    aox_msg_free(m);
}

/* Nesting: AOX_MSG_MAX_DEPTH containers encode and decode, one more does not. */
static void test_depth(void)
{
    for (int depth = AOX_MSG_MAX_DEPTH - 1; depth <= AOX_MSG_MAX_DEPTH + 1; depth++) {
        /* depth containers: the top message plus depth-1 nested, alternating
         * messages and lists */
        aox_value cur = { .type = AOX_V_INT, .u.i = 1 };
        for (int i = 1; i < depth; i++) {
            aox_value next;
            if (i % 2) {
                next.type = AOX_V_LIST;
                next.u.list.items = malloc(sizeof(aox_value));
                next.u.list.items[0] = cur;
                next.u.list.len = 1;
            } else {
                next.type = AOX_V_MSG;
                next.u.msg = aox_msg_new();
                aox_msg_set_value(next.u.msg, "k", &cur);
                aox_value_free(&cur);
            }
            cur = next;
        }
        aox_msg *top = aox_msg_new();
        aox_msg_set_value(top, "k", &cur);
        aox_value_free(&cur);
        aox_buf enc = { 0 };
        int rc = aox_msg_encode(top, &enc);
        if (depth <= AOX_MSG_MAX_DEPTH) {
            CHECK_EQ_INT(rc, 0);
            aox_msg *d = NULL;
            CHECK_EQ_INT(aox_msg_decode(enc.data, enc.len, &d, NULL), 0);
            aox_msg_free(d);
        } else {
            CHECK_EQ_INT(rc, AOX_E_INVALID);
            CHECK_EQ_INT(enc.len, 0);
        }
        aox_buf_free(&enc);
        aox_msg_free(top);
    }
    /* a hand-built 65-deep list nest is rejected by the decoder */
    uint8_t deep[4 + 2 * 70];
    size_t n = 0;
    deep[n++] = 'M'; deep[n++] = 1; deep[n++] = 1; deep[n++] = 'a';
    for (int i = 0; i < 64; i++) { deep[n++] = 'L'; deep[n++] = 1; }
    deep[n++] = 'I';
    uint8_t full[sizeof deep + 8];
    memcpy(full, deep, n);
    memset(full + n, 0, 8);
    CHECK(decode_fails(full, n + 8));
    /* one level less decodes */
    uint8_t ok[sizeof full];
    size_t m = 0;
    ok[m++] = 'M'; ok[m++] = 1; ok[m++] = 1; ok[m++] = 'a';
    for (int i = 0; i < 63; i++) { ok[m++] = 'L'; ok[m++] = 1; }
    ok[m++] = 'I';
    memset(ok + m, 0, 8);
    aox_msg *d = NULL;
    CHECK_EQ_INT(aox_msg_decode(ok, m + 8, &d, NULL), 0);
    aox_msg_free(d);
}

int main(void)
{
    test_map();
    test_round_trip();
    test_floats();
    test_malformed();
    test_depth();
    return check_report("core_message");
}
