/*
 * tests/core/test_json.c: messages to and from JSON (core/json.h).
 */
#include <math.h>
#include "check.h"
#include "gen.h"
#include "core/json.h"

static aox_msg *parse(const char *s, int *rc, aox_err *err)
{
    aox_msg *m = NULL;
    *rc = aox_msg_from_json_text(s, strlen(s), &m, err);
    return m;
}

static char *dump(const aox_msg *m)
{
    aox_buf b = { 0 };
    REQUIRE(aox_msg_to_json_text(m, &b) == 0);
    return (char *)aox_buf_steal(&b, NULL);
}

static void test_round_trips(void)
{
    trng r = { 777 };
    for (int it = 0; it < 300; it++) {
        aox_msg *m = gen_msg(&r, 0);
        char *txt = dump(m);
        int rc;
        aox_err err;
        aox_msg *back = parse(txt, &rc, &err);
        CHECK_EQ_INT(rc, 0);
        if (rc)
            fprintf(stderr, "  %s\n  in: %s\n", err.msg, txt);
        if (back && !aox_msg_equal(m, back))
            fprintf(stderr, "  not equal after JSON: %s\n", txt);
        CHECK(back && aox_msg_equal(m, back));
        /* the direct writer agrees with jansson's dump of the same tree */
        json_t *tree = aox_msg_to_json(m);
        char *jtxt = json_dumps(tree, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
        CHECK_STR(txt, jtxt);
        free(jtxt);
        json_decref(tree);
        /* text is stable: dumping the parsed message gives the same text */
        if (back) {
            char *txt2 = dump(back);
            CHECK_STR(txt, txt2);
            free(txt2);
        }
        aox_msg_free(back);
        aox_msg_free(m);
        free(txt);
    }
}

/* Strings with every ASCII byte and floats of every magnitude, writer vs jansson. */
static void test_writer_vs_jansson(void)
{
    aox_msg *m = aox_msg_new();
    char all[128];
    for (int i = 0; i < 128; i++)
        all[i] = (char)i;
    aox_msg_set_bytes(m, "ascii", all, 128);
    aox_msg_set_str(m, "utf8", "caf\xc3\xa9 \xe2\x80\xa8 \xf0\x9f\x98\x80 /");
    trng r = { 99 };
    for (int i = 0; i < 2000; i++) {
        uint64_t bits = trng_next(&r);
        double f;
        if (i % 2) {
            /* a "nice" decimal of random magnitude */
            f = (double)(int64_t)(trng_below(&r, 2000000) - 1000000) *
                pow(10.0, (double)((int)trng_below(&r, 40) - 20));
        } else {
            memcpy(&f, &bits, 8);
        }
        aox_msg_set_float(m, "f", f);
        aox_buf b = { 0 };
        REQUIRE(aox_msg_to_json_text(m, &b) == 0);
        json_t *tree = aox_msg_to_json(m);
        char *jtxt = json_dumps(tree, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
        if (strcmp((char *)b.data, jtxt) != 0) {
            fprintf(stderr, "  writer: %s\n  jansson: %s\n", (char *)b.data, jtxt);
            check_failures++;
            i = 2000;
        }
        free(jtxt);
        json_decref(tree);
        aox_buf_free(&b);
    }
    aox_msg_free(m);
}

static void test_mapping(void)
{
    int rc;
    aox_err err;
    const char *src = "{\"Target\":\"abc\",\"n\":-5,\"f\":2.5,\"t\":true,\"no\":false,"
                      "\"l\":[1,\"x\",{\"Deep\":[]}],\"raw\":{\"@b64\":\"_wA\"},"
                      "\"nul\":\"a\\u0000b\",\"inf\":{\"@float\":\"-inf\"}}";
    aox_msg *m = parse(src, &rc, &err);
    CHECK_EQ_INT(rc, 0);
    REQUIRE(m);
    CHECK_STR(aox_msg_get_str(m, "target", NULL), "abc");
    int64_t i;
    CHECK(aox_msg_get_int(m, "n", &i) == 0 && i == -5);
    CHECK(aox_msg_get(m, "f")->type == AOX_V_FLOAT && aox_msg_get(m, "f")->u.f == 2.5);
    CHECK(aox_msg_get_int(m, "t", &i) == 0 && i == 1);
    CHECK(aox_msg_get_int(m, "no", &i) == 0 && i == 0);
    const aox_value *l = aox_msg_get(m, "l");
    CHECK(l->type == AOX_V_LIST && l->u.list.len == 3);
    CHECK(l->u.list.items[2].type == AOX_V_MSG &&
          aox_msg_get(l->u.list.items[2].u.msg, "deep")->type == AOX_V_LIST);
    const aox_value *raw = aox_msg_get(m, "raw");
    CHECK(raw->type == AOX_V_BYTES && raw->u.bytes.len == 2 && raw->u.bytes.ptr[0] == 0xff &&
          raw->u.bytes.ptr[1] == 0);
    size_t len;
    const char *nul = aox_msg_get_str(m, "nul", &len);
    CHECK(len == 3 && nul[1] == 0 && nul[2] == 'b');
    CHECK(isinf(aox_msg_get(m, "inf")->u.f) && aox_msg_get(m, "inf")->u.f < 0);

    char *txt = dump(m);
    CHECK_STR(txt, "{\"f\":2.5,\"inf\":{\"@float\":\"-inf\"},\"l\":[1,\"x\",{\"deep\":[]}],"
                   "\"n\":-5,\"no\":0,\"nul\":\"a\\u0000b\",\"raw\":{\"@b64\":\"_wA\"},"
                   "\"t\":1,\"target\":\"abc\"}");
    free(txt);
    aox_msg_free(m);

    /* a message that looks like a tagged form is escaped and comes back as a message */
    m = aox_msg_new();
    aox_msg *inner = aox_msg_new();
    aox_msg_set_str(inner, "@b64", "hello");
    aox_msg_take_msg(m, "v", inner);
    inner = aox_msg_new();
    aox_msg_set_str(inner, "@float", "nan");
    aox_msg_take_msg(m, "w", inner);
    txt = dump(m);
    CHECK_STR(txt, "{\"v\":{\"@b64\":{\"@b64\":\"aGVsbG8\"}},\"w\":{\"@float\":{\"@b64\":\"bmFu\"}}}");
    aox_msg *back = parse(txt, &rc, &err);
    CHECK(back && aox_msg_equal(back, m));
    aox_msg_free(back);
    free(txt);
    aox_msg_free(m);

    /* -0.0 and integral floats keep their type */
    m = parse("{\"z\":-0.0,\"o\":1.0}", &rc, &err);
    REQUIRE(m);
    CHECK(aox_msg_get(m, "z")->type == AOX_V_FLOAT && signbit(aox_msg_get(m, "z")->u.f));
    txt = dump(m);
    CHECK_STR(txt, "{\"o\":1.0,\"z\":-0.0}");
    free(txt);
    aox_msg_free(m);
}

static void test_errors(void)
{
    int rc;
    aox_err err;
    aox_msg *m = parse("{\"a\": 1,\n  \"b\": [1, 2,, 3]}", &rc, &err);
    CHECK(m == NULL);
    CHECK_EQ_INT(rc, AOX_E_BAD_JSON);
    CHECK(strstr(err.msg, "line 2") != NULL);
    CHECK(strstr(err.msg, "column") != NULL);

    struct { const char *src; const char *needle; } bad[] = {
        { "[1,2]", "object" },
        { "{\"a\":null}", "null" },
        { "{\"a\":{\"@b64\":\"***\"}}", "base64" },
        { "{\"a\":{\"@float\":\"big\"}}", "@float" },
        { "{\"A\":1,\"a\":2}", "duplicate" },
        { "{\"a\":1,\"a\":2}", "line 1" },
        { "{\"\":1}", "empty key" },
        { "{\"a\":1} x", "line 1" },
        { "", "line" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        aox_err_clear(&err);
        m = parse(bad[i].src, &rc, &err);
        CHECK(m == NULL);
        CHECK(rc == AOX_E_BAD_JSON);
        if (!strstr(err.msg, bad[i].needle))
            fprintf(stderr, "  %s -> \"%s\" lacks \"%s\"\n", bad[i].src, err.msg,
                    bad[i].needle);
        CHECK(strstr(err.msg, bad[i].needle) != NULL);
    }

    /* nesting: 64 containers accepted, 65 rejected */
    for (int depth = 64; depth <= 65; depth++) {
        aox_buf b = { 0 };
        aox_buf_append_str(&b, "{\"a\":");
        for (int i = 1; i < depth; i++)
            aox_buf_append_str(&b, "[");
        aox_buf_append_str(&b, "1");
        for (int i = 1; i < depth; i++)
            aox_buf_append_str(&b, "]");
        aox_buf_append_str(&b, "}");
        m = parse((char *)b.data, &rc, &err);
        if (depth == 64) {
            CHECK_EQ_INT(rc, 0);
        } else {
            CHECK_EQ_INT(rc, AOX_E_BAD_JSON);
            CHECK(strstr(err.msg, "deeper") != NULL);
        }
        aox_msg_free(m);
        aox_buf_free(&b);
    }

    /* not NUL-terminated input: only n bytes are read */
    const char text[] = "{\"a\":1}garbage";
    CHECK_EQ_INT(aox_msg_from_json_text(text, 7, &m, &err), 0);
    aox_msg_free(m);

    /* error JSON */
    aox_err_set(&err, AOX_E_NOT_FOUND, "no slot %d", 7);
    json_t *j = aox_err_to_json(&err);
    REQUIRE(j);
    CHECK_STR(json_string_value(json_object_get(json_object_get(j, "error"), "code")),
              "not_found");
    CHECK_STR(json_string_value(json_object_get(json_object_get(j, "error"), "message")),
              "no slot 7");
    json_decref(j);
    aox_err_set(&err, AOX_E_INVALID, "bad \xff byte");
    j = aox_err_to_json(&err);
    CHECK(j != NULL);
    json_decref(j);
}

int main(void)
{
    test_round_trips();
    test_writer_vs_jansson();
    test_mapping();
    test_errors();
    return check_report("core_json");
}
