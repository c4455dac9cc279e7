/*
 * tests/ans104/test_ans104.c: unit tests of src/ans104/ against vectors signed by
 * the real JS libraries (@permaweb/aoconnect and @dha-team/arbundles, see
 * tests/aoconnect/gen_vectors.mjs), plus malformed input, tampering, truncation,
 * signing round trips and the message conversion.
 *
 *   test_ans104 VECTORS_DIR [GROUP]     GROUP: vectors|malformed|sign|keygen|all
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <openssl/sha.h>
#include "ans104/ans104.h"
#include "core/id.h"
#include "core/message.h"

static int failures;
#define CHECK(c) do { if (!(c)) { failures++; \
    fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c); } } while (0)
#define CHECKF(c, ...) do { if (!(c)) { failures++; \
    fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #c); \
    fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)

static const char *vdir;

static int read_file(const char *name, aox_buf *out)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", vdir, name);
    FILE *f = fopen(path, "rb");
    if (!f) { fprintf(stderr, "cannot open %s\n", path); failures++; return -1; }
    uint8_t tmp[4096];
    size_t n;
    aox_buf_reset(out);
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0) aox_buf_append(out, tmp, n);
    fclose(f);
    return 0;
}

static void hex(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) sprintf(out + 2 * i, "%02x", p[i]);
}

static int bytes_eq(const uint8_t *p, size_t n, const char *s)
{
    return n == strlen(s) && memcmp(p, s, n) == 0;
}

/* ----------------------------------------------------------------- vectors */

static void check_msg(const aox_ans104_item *it, json_t *exp)
{
    aox_msg *m = NULL;
    aox_err err = {0};
    CHECKF(aox_ans104_to_msg(it, &m, &err) == 0, "%s", err.msg);
    if (!m) return;
    const char *id = json_string_value(json_object_get(exp, "id"));
    size_t l;
    const char *s = aox_msg_get_str(m, "id", &l);
    CHECK(s && strcmp(s, id) == 0);
    /* core's ID rule for signed messages must agree with the item's ID */
    char mid[AOX_ID_LEN + 1];
    CHECK(aox_msg_id(m, mid) == 0 && strcmp(mid, id) == 0);
    s = aox_msg_get_str(m, "from", &l);
    CHECK(s && strcmp(s, json_string_value(json_object_get(exp, "owner_address"))) == 0);
    s = aox_msg_get_str(m, "owner", &l);
    CHECK(s && l == 683);                          /* base64url of 512 bytes */
    const char *target = json_string_value(json_object_get(exp, "target"));
    s = aox_msg_get_str(m, "target", &l);
    if (*target) CHECK(s && strcmp(s, target) == 0);
    else CHECK(s == NULL);
    const char *anchor = json_string_value(json_object_get(exp, "anchor"));
    s = aox_msg_get_str(m, "anchor", &l);
    if (*anchor) CHECK(s && strcmp(s, anchor) == 0);
    else CHECK(s == NULL);
    int64_t st = 0;
    CHECK(aox_msg_get_int(m, "signature-type", &st) == 0 && st == 1);
    const aox_value *tags = aox_msg_get(m, "tags");
    json_t *et = json_object_get(exp, "tags");
    CHECK(tags && tags->type == AOX_V_LIST && tags->u.list.len == json_array_size(et));
    for (size_t i = 0; tags && i < tags->u.list.len && i < json_array_size(et); i++) {
        const aox_value *tv = &tags->u.list.items[i];
        CHECK(tv->type == AOX_V_MSG);
        if (tv->type != AOX_V_MSG) continue;
        const char *n = aox_msg_get_str(tv->u.msg, "name", &l);
        const char *v = aox_msg_get_str(tv->u.msg, "value", &l);
        json_t *e = json_array_get(et, i);
        CHECK(n && strcmp(n, json_string_value(json_object_get(e, "name"))) == 0);
        CHECK(v && strcmp(v, json_string_value(json_object_get(e, "value"))) == 0);
    }
    /* tag copies: the first tag of each lower-cased name, unless reserved */
    for (size_t i = 0; i < json_array_size(et); i++) {
        json_t *e = json_array_get(et, i);
        char low[256];
        const char *n = json_string_value(json_object_get(e, "name"));
        size_t k;
        for (k = 0; n[k] && k < sizeof low - 1; k++)
            low[k] = (char)(n[k] >= 'A' && n[k] <= 'Z' ? n[k] + 32 : n[k]);
        low[k] = 0;
        int first = 1;
        for (size_t j = 0; j < i; j++)
            if (strcasecmp(json_string_value(json_object_get(json_array_get(et, j), "name")), n) == 0)
                first = 0;
        const char *reserved[] = { "id", "owner", "from", "target", "anchor", "tags", "data",
                                   "signature", "signature-type" };
        for (size_t r = 0; r < sizeof reserved / sizeof *reserved; r++)
            if (strcmp(low, reserved[r]) == 0) first = 0;
        if (!first) continue;
        s = aox_msg_get_str(m, low, &l);
        CHECKF(s && strcmp(s, json_string_value(json_object_get(e, "value"))) == 0, "tag %s", low);
    }
    aox_msg_free(m);
}

static void test_vectors(void)
{
    aox_buf raw = {0}, dec = {0}, enc = {0};
    char path[1024];
    snprintf(path, sizeof path, "%s/expected.json", vdir);
    json_error_t je;
    json_t *all = json_load_file(path, 0, &je);
    CHECKF(json_is_array(all) && json_array_size(all) >= 6, "%s", je.text);
    size_t i;
    json_t *exp;
    json_array_foreach(all, i, exp) {
        const char *file = json_string_value(json_object_get(exp, "file"));
        if (read_file(file, &raw)) continue;
        aox_ans104_item *it = NULL;
        aox_err err = {0};
        CHECKF(aox_ans104_parse(raw.data, raw.len, &it, &err) == 0, "%s: %s", file, err.msg);
        if (!it) continue;
        char id[AOX_ID_LEN + 1], addr[AOX_ANS104_ADDR_LEN + 1];
        aox_ans104_id(it, id);
        CHECKF(strcmp(id, json_string_value(json_object_get(exp, "id"))) == 0, "%s id %s", file, id);
        aox_ans104_owner_address(it, addr);
        CHECK(strcmp(addr, json_string_value(json_object_get(exp, "owner_address"))) == 0);
        CHECK(aox_ans104_sig_type(it) == json_integer_value(json_object_get(exp, "signature_type")));

        uint8_t dh[AOX_ANS104_DEEP_HASH_LEN];
        char dhx[2 * AOX_ANS104_DEEP_HASH_LEN + 1];
        aox_ans104_signature_data(it, dh);
        hex(dh, sizeof dh, dhx);
        CHECKF(strcmp(dhx, json_string_value(json_object_get(exp, "signature_data_hex"))) == 0,
               "%s deep hash %s", file, dhx);

        size_t l;
        const uint8_t *p = aox_ans104_target(it, &l);
        const char *target = json_string_value(json_object_get(exp, "target"));
        if (*target) {
            char t64[64];
            CHECK(p && l == 32);
            if (p) { aox_b64url_encode(p, l, t64); CHECK(strcmp(t64, target) == 0); }
        } else {
            CHECK(!p && l == 0);
        }
        p = aox_ans104_anchor(it, &l);
        const char *anchor = json_string_value(json_object_get(exp, "anchor"));
        if (*anchor) CHECK(p && bytes_eq(p, l, anchor));
        else CHECK(!p && l == 0);

        json_t *et = json_object_get(exp, "tags");
        CHECK(aox_ans104_tag_count(it) == json_array_size(et));
        for (size_t t = 0; t < aox_ans104_tag_count(it) && t < json_array_size(et); t++) {
            const aox_ans104_tag *tg = aox_ans104_tag_at(it, t);
            json_t *e = json_array_get(et, t);
            CHECK(bytes_eq(tg->name, tg->name_len, json_string_value(json_object_get(e, "name"))));
            CHECK(bytes_eq(tg->value, tg->value_len, json_string_value(json_object_get(e, "value"))));
            CHECK(tg->name[tg->name_len] == 0 && tg->value[tg->value_len] == 0);
        }
        CHECK(aox_ans104_tag_at(it, aox_ans104_tag_count(it)) == NULL);
        /* re-encoding the parsed tags gives the signed bytes back */
        {
            size_t tl, n = aox_ans104_tag_count(it);
            aox_ans104_tag *copy = calloc(n ? n : 1, sizeof *copy);
            for (size_t t = 0; t < n; t++) copy[t] = *aox_ans104_tag_at(it, t);
            const uint8_t *tb = aox_ans104_tag_bytes(it, &tl);
            aox_buf_reset(&enc);
            CHECK(aox_ans104_tags_encode(copy, n, &enc) == 0);
            CHECK(enc.len == tl && (tl == 0 || memcmp(enc.data, tb, tl) == 0));
            free(copy);
        }

        aox_buf_reset(&dec);
        const char *d64 = json_string_value(json_object_get(exp, "data_b64"));
        CHECK(aox_b64_decode(d64, strlen(d64), &dec) == 0);
        p = aox_ans104_data(it, &l);
        CHECK(l == dec.len && (l == 0 || memcmp(p, dec.data, l) == 0));
        CHECK(p[l] == 0);
        const uint8_t *rp = aox_ans104_raw(it, &l);
        CHECK(l == raw.len && memcmp(rp, raw.data, l) == 0);

        /* JSON views: tags as arbundles reads them; the GraphQL node */
        json_t *tj = aox_ans104_tags_json(it);
        CHECKF(tj && json_equal(tj, et), "%s tags json", file);
        json_decref(tj);
        json_t *gn = aox_ans104_gql_node(it);
        CHECK(gn && strcmp(json_string_value(json_object_get(gn, "id")),
                           json_string_value(json_object_get(exp, "id"))) == 0);
        CHECK(gn && strcmp(json_string_value(json_object_get(json_object_get(gn, "owner"), "address")),
                           json_string_value(json_object_get(exp, "owner_address"))) == 0);
        CHECK(gn && strcmp(json_string_value(json_object_get(gn, "recipient")), target) == 0);
        CHECK(gn && strcmp(json_string_value(json_object_get(gn, "anchor")), anchor) == 0);
        CHECK(gn && json_equal(json_object_get(gn, "tags"), et));
        CHECK(gn && json_is_null(json_object_get(gn, "block")));
        {
            char sz[24];
            snprintf(sz, sizeof sz, "%zu", dec.len);
            json_t *d = gn ? json_object_get(gn, "data") : NULL;
            CHECK(d && strcmp(json_string_value(json_object_get(d, "size")), sz) == 0);
            const aox_ans104_tag *ct = aox_ans104_tag_find(it, "content-type");
            json_t *ty = d ? json_object_get(d, "type") : NULL;
            if (ct) CHECK(ty && bytes_eq(ct->value, ct->value_len, json_string_value(ty)));
            else CHECK(json_is_null(ty));
        }
        json_decref(gn);

        int valid = json_is_true(json_object_get(exp, "valid"));
        CHECKF((aox_ans104_verify(it, &err) == 0) == valid, "%s verify: %s", file, err.msg);
        check_msg(it, exp);
        aox_ans104_free(it);
    }
    json_decref(all);
    aox_buf_free(&raw);
    aox_buf_free(&dec);
    aox_buf_free(&enc);
}

/* ----------------------------------------------------------------- tampering */

/* Offsets of the regions of a type-1 item with target and anchor flags read from it. */
static void test_tamper_and_truncate(void)
{
    aox_buf raw = {0};
    if (read_file("ao_message_anchor.bin", &raw)) return;
    aox_ans104_item *it = NULL;
    CHECK(aox_ans104_parse(raw.data, raw.len, &it, NULL) == 0);
    if (!it) goto done;
    size_t tl, dl;
    const uint8_t *tags = aox_ans104_tag_bytes(it, &tl);
    const uint8_t *data = aox_ans104_data(it, &dl);
    size_t tags_off = (size_t)(tags - aox_ans104_raw(it, NULL));
    size_t data_off = (size_t)(data - aox_ans104_raw(it, NULL));
    CHECK(data_off + dl == raw.len && tags_off + tl == data_off);
    CHECK(aox_ans104_verify(it, NULL) == 0);
    aox_ans104_free(it);

    /* one flipped bit anywhere in a signed region breaks the signature */
    const size_t spots[] = { 2, 300, 513, 514 + 5, 514 + 511, 1026 + 1, 1026 + 33 + 1,
                             tags_off + 3, data_off, raw.len - 1 };
    for (size_t i = 0; i < sizeof spots / sizeof *spots; i++) {
        aox_buf b = {0};
        aox_buf_append(&b, raw.data, raw.len);
        b.data[spots[i]] ^= 0x04;
        aox_ans104_item *t = NULL;
        int rc = aox_ans104_parse(b.data, b.len, &t, NULL);
        if (rc == 0) CHECKF(aox_ans104_verify(t, NULL) == AOX_E_INVALID, "flip at %zu", spots[i]);
        aox_ans104_free(t);
        aox_buf_free(&b);
    }
    /* every truncation: a parse error before the data, a failed signature within */
    for (size_t n = 0; n < raw.len; n++) {
        aox_ans104_item *t = NULL;
        aox_err err = {0};
        int rc = aox_ans104_parse(raw.data, n, &t, &err);
        if (n < data_off) {
            CHECKF(rc == AOX_E_INVALID && t == NULL && err.msg[0], "prefix %zu rc %d", n, rc);
        } else {
            CHECK(rc == 0);
            if (t) CHECK(aox_ans104_verify(t, NULL) == AOX_E_INVALID);
        }
        aox_ans104_free(t);
    }
    /* trailing bytes are data, which the signature covers */
    aox_buf_append_u8(&raw, 'x');
    CHECK(aox_ans104_parse(raw.data, raw.len, &it, NULL) == 0);
    if (it) CHECK(aox_ans104_verify(it, NULL) == AOX_E_INVALID);
    aox_ans104_free(it);
done:
    aox_buf_free(&raw);
}

/* ----------------------------------------------------------------- malformed */

/* Hand-built item of signature type `type` (zero signature/owner). tag_count and
 * tag_bytes go in the header as given; avro is the tag section. */
static void build(aox_buf *b, int type, int target, int anchor, uint64_t tag_count,
                  uint64_t tag_bytes, const void *avro, size_t avro_len, const char *data)
{
    size_t sl = type == 1 ? 512 : type == 2 ? 64 : 65, ol = type == 1 ? 512 : type == 2 ? 32 : 65;
    aox_buf_reset(b);
    aox_buf_append_u8(b, (uint8_t)(type & 0xff));
    aox_buf_append_u8(b, (uint8_t)(type >> 8));
    for (size_t i = 0; i < sl + ol; i++) aox_buf_append_u8(b, (uint8_t)(i * 7));
    aox_buf_append_u8(b, (uint8_t)target);
    if (target == 1) for (int i = 0; i < 32; i++) aox_buf_append_u8(b, 'T');
    aox_buf_append_u8(b, (uint8_t)anchor);
    if (anchor == 1) for (int i = 0; i < 32; i++) aox_buf_append_u8(b, 'A');
    for (int i = 0; i < 8; i++) aox_buf_append_u8(b, (uint8_t)(tag_count >> (8 * i)));
    for (int i = 0; i < 8; i++) aox_buf_append_u8(b, (uint8_t)(tag_bytes >> (8 * i)));
    aox_buf_append(b, avro, avro_len);
    aox_buf_append_str(b, data);
}

static int parse_rc(const aox_buf *b, aox_ans104_item **keep)
{
    aox_ans104_item *it = NULL;
    aox_err err = {0};
    int rc = aox_ans104_parse(b->data, b->len, &it, &err);
    if (rc) CHECK(it == NULL && err.code == rc && err.msg[0]);
    if (keep) *keep = it;
    else aox_ans104_free(it);
    return rc;
}

static void test_malformed(void)
{
    aox_buf b = {0};
    aox_ans104_item *it = NULL;
    /* two tags in one block: "a"="1", "Bb"="" */
    static const uint8_t two[] = { 4, 2, 'a', 2, '1', 4, 'B', 'b', 0, 0 };

    build(&b, 1, 0, 0, 2, sizeof two, two, sizeof two, "hello");
    CHECK(parse_rc(&b, &it) == 0);
    if (it) {
        size_t l;
        CHECK(aox_ans104_tag_count(it) == 2);
        CHECK(bytes_eq(aox_ans104_data(it, &l), 5, "hello") && l == 5);
        const aox_ans104_tag *t = aox_ans104_tag_find(it, "bB");
        CHECK(t && t->value_len == 0 && t->value[0] == 0);
        CHECK(aox_ans104_tag_find(it, "c") == NULL);
        CHECK(aox_ans104_verify(it, NULL) == AOX_E_INVALID);   /* owner 0x00.. not 4096-bit */
        aox_msg *m = NULL;
        CHECK(aox_ans104_to_msg(it, &m, NULL) == 0);
        const char *s = aox_msg_get_str(m, "bb", &l);
        CHECK(s && l == 0);
        CHECK(aox_msg_get(m, "target") == NULL && aox_msg_get(m, "anchor") == NULL);
        aox_msg_free(m);
        aox_ans104_free(it);
    }
    /* the same tags as an Avro block with a negative count (-2, byte size 8) */
    static const uint8_t neg[] = { 3, 16, 2, 'a', 2, '1', 4, 'B', 'b', 0, 0 };
    build(&b, 1, 1, 1, 2, sizeof neg, neg, sizeof neg, "");
    CHECK(parse_rc(&b, &it) == 0);
    if (it) {
        size_t l;
        CHECK(aox_ans104_tag_count(it) == 2 && aox_ans104_target(it, &l) && l == 32);
        CHECK(aox_ans104_anchor(it, &l) && l == 32);
        aox_ans104_data(it, &l);
        CHECK(l == 0);
        aox_ans104_free(it);
    }
    /* no tags at all; an empty Avro array (just the 0) with count 0 is fine too */
    build(&b, 1, 0, 0, 0, 0, NULL, 0, "x");
    CHECK(parse_rc(&b, NULL) == 0);
    static const uint8_t empty[] = { 0 };
    build(&b, 1, 0, 0, 0, 1, empty, 1, "x");
    CHECK(parse_rc(&b, NULL) == 0);

    /* header/content disagreements */
    build(&b, 1, 0, 0, 3, sizeof two, two, sizeof two, "");
    CHECK(parse_rc(&b, NULL) == AOX_E_INVALID);                 /* count mismatch */
    build(&b, 1, 0, 0, 0, 0, two, sizeof two, "");
    CHECK(parse_rc(&b, NULL) == 0);                               /* avro is data now */
    build(&b, 1, 0, 0, 2, sizeof two - 1, two, sizeof two, "");
    CHECK(parse_rc(&b, NULL) == AOX_E_INVALID);                 /* missing terminator */
    static const uint8_t trailing[] = { 4, 2, 'a', 2, '1', 4, 'B', 'b', 0, 0, 7 };
    build(&b, 1, 0, 0, 2, sizeof trailing, trailing, sizeof trailing, "");
    CHECK(parse_rc(&b, NULL) == AOX_E_INVALID);                 /* bytes after the array */
    static const uint8_t longstr[] = { 2, 100, 'a', 0, 0 };
    build(&b, 1, 0, 0, 1, sizeof longstr, longstr, sizeof longstr, "");
    CHECK(parse_rc(&b, NULL) == AOX_E_INVALID);                 /* string past the end */
    static const uint8_t negstr[] = { 2, 1, 0, 0 };
    build(&b, 1, 0, 0, 1, sizeof negstr, negstr, sizeof negstr, "");
    CHECK(parse_rc(&b, NULL) == AOX_E_INVALID);                 /* negative length */
    static const uint8_t huge[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f };
    build(&b, 1, 0, 0, 1, sizeof huge, huge, sizeof huge, "");
    CHECK(parse_rc(&b, NULL) == AOX_E_INVALID);                 /* varint > 64 bits */
    static const uint8_t unterminated[] = { 0x80, 0x80 };
    build(&b, 1, 0, 0, 1, sizeof unterminated, unterminated, sizeof unterminated, "");
    CHECK(parse_rc(&b, NULL) == AOX_E_INVALID);
    static const uint8_t minblock[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 };
    build(&b, 1, 0, 0, 1, sizeof minblock, minblock, sizeof minblock, "");
    CHECK(parse_rc(&b, NULL) == AOX_E_INVALID);                 /* INT64_MIN block */
    build(&b, 1, 0, 0, 129, sizeof two, two, sizeof two, "");
    CHECK(parse_rc(&b, NULL) == AOX_E_INVALID);                 /* > 128 tags */
    build(&b, 1, 0, 0, 2, 4097, two, sizeof two, "");
    CHECK(parse_rc(&b, NULL) == AOX_E_INVALID);                 /* > 4096 tag bytes */
    build(&b, 1, 0, 0, 2, UINT64_MAX, two, sizeof two, "");
    CHECK(parse_rc(&b, NULL) == AOX_E_INVALID);
    build(&b, 1, 0, 0, UINT64_MAX, sizeof two, two, sizeof two, "");
    CHECK(parse_rc(&b, NULL) == AOX_E_INVALID);
    {   /* 129 empty tags in one block */
        uint8_t many[2 + 129 * 2 + 1];
        many[0] = 0x82; many[1] = 0x02;           /* zigzag(129) = 258 */
        memset(many + 2, 0, 129 * 2);
        many[sizeof many - 1] = 0;
        build(&b, 1, 0, 0, 129, sizeof many, many, sizeof many, "");
        CHECK(parse_rc(&b, NULL) == AOX_E_INVALID);
        many[0] = 0x80; many[1] = 0x02;           /* 128 tags: allowed */
        build(&b, 1, 0, 0, 128, sizeof many - 2, many, sizeof many - 2, "");
        CHECK(parse_rc(&b, &it) == 0);
        if (it) {
            aox_msg *m = NULL;          /* empty names appear only in `tags` */
            CHECK(aox_ans104_tag_count(it) == 128 && aox_ans104_to_msg(it, &m, NULL) == 0);
            const aox_value *tv = m ? aox_msg_get(m, "tags") : NULL;
            CHECK(tv && tv->u.list.len == 128);
            aox_msg_free(m);
            aox_ans104_free(it);
        }
    }
    {   /* tags that are not UTF-8: replaced in JSON, skipped as message keys */
        static const uint8_t bad[] = { 2, 4, 'A', 0xff, 6, 'x', 0xc3, 0xa9, 0 };
        build(&b, 1, 0, 0, 1, sizeof bad, bad, sizeof bad, "");
        CHECK(parse_rc(&b, &it) == 0);
        if (it) {
            json_t *tj = aox_ans104_tags_json(it);
            json_t *t0 = json_array_get(tj, 0);
            CHECK(t0 && strcmp(json_string_value(json_object_get(t0, "name")), "A\xef\xbf\xbd") == 0);
            CHECK(t0 && strcmp(json_string_value(json_object_get(t0, "value")), "x\xc3\xa9") == 0);
            json_decref(tj);
            aox_msg *m = NULL;
            CHECK(aox_ans104_to_msg(it, &m, NULL) == 0);
            CHECK(m && aox_msg_count(m) == 7);   /* the 7 item keys only, no tag copy */
            aox_msg_free(m);
            aox_ans104_free(it);
        }
    }
    /* presence bytes */
    build(&b, 1, 2, 0, 0, 0, NULL, 0, "");
    CHECK(parse_rc(&b, NULL) == AOX_E_INVALID);
    build(&b, 1, 0, 7, 0, 0, NULL, 0, "");
    CHECK(parse_rc(&b, NULL) == AOX_E_INVALID);
    /* signature types */
    build(&b, 2, 1, 0, 2, sizeof two, two, sizeof two, "ed");
    CHECK(parse_rc(&b, &it) == 0);
    if (it) {
        size_t l;
        aox_ans104_owner(it, &l);
        CHECK(l == 32 && aox_ans104_sig_type(it) == 2);
        aox_ans104_signature(it, &l);
        CHECK(l == 64);
        aox_err err = {0};
        CHECK(aox_ans104_verify(it, &err) == AOX_E_UNSUPPORTED && strstr(err.msg, "not supported"));
        aox_ans104_free(it);
    }
    build(&b, 3, 0, 1, 0, 0, NULL, 0, "eth");
    CHECK(parse_rc(&b, &it) == 0);
    if (it) { CHECK(aox_ans104_verify(it, NULL) == AOX_E_UNSUPPORTED); aox_ans104_free(it); }
    build(&b, 4, 0, 0, 0, 0, NULL, 0, "");
    CHECK(parse_rc(&b, NULL) == AOX_E_UNSUPPORTED);
    build(&b, 0x101, 0, 0, 0, 0, NULL, 0, "");
    CHECK(parse_rc(&b, NULL) == AOX_E_UNSUPPORTED);
    CHECK(aox_ans104_parse(NULL, 0, &it, NULL) == AOX_E_INVALID);
    uint8_t one = 1;
    CHECK(aox_ans104_parse(&one, 1, &it, NULL) == AOX_E_INVALID && it == NULL);
    aox_buf_free(&b);
}

/* ----------------------------------------------------------------- deep hash */

static void test_deep_hash(void)
{
    /* list of nothing = SHA384("list0") */
    uint8_t got[48], want[48];
    aox_deep_hash_list(NULL, NULL, 0, got);
    SHA384((const uint8_t *)"list0", 5, want);
    CHECK(memcmp(got, want, 48) == 0);
    /* ["ab"] by the definition, computed the long way */
    const uint8_t *p[1] = { (const uint8_t *)"ab" };
    size_t l[1] = { 2 };
    aox_deep_hash_list(p, l, 1, got);
    uint8_t acc[48], cat[96], blob[48];
    SHA384((const uint8_t *)"list1", 5, acc);
    SHA384((const uint8_t *)"blob2", 5, cat);
    SHA384((const uint8_t *)"ab", 2, cat + 48);
    SHA384(cat, 96, blob);
    memcpy(cat, acc, 48);
    memcpy(cat + 48, blob, 48);
    SHA384(cat, 96, want);
    CHECK(memcmp(got, want, 48) == 0);
}

/* ----------------------------------------------------------------- signing */

static aox_ans104_key *load_wallet(void)
{
    aox_buf w = {0};
    aox_ans104_key *k = NULL;
    aox_err err = {0};
    if (read_file("wallet.json", &w) == 0)
        CHECKF(aox_ans104_key_from_jwk((const char *)w.data, w.len, &k, &err) == 0, "%s", err.msg);
    aox_buf_free(&w);
    return k;
}

static void test_sign(void)
{
    aox_ans104_key *k = load_wallet();
    if (!k) return;
    CHECK(aox_ans104_key_is_private(k));
    aox_buf a = {0}, b2 = {0}, jwk = {0}, exp = {0};
    uint8_t target[32], anchor[32];
    for (int i = 0; i < 32; i++) { target[i] = (uint8_t)(200 + i); anchor[i] = (uint8_t)('a' + i % 26); }
    aox_ans104_tag tags[3] = {
        { (const uint8_t *)"Data-Protocol", 13, (const uint8_t *)"ao", 2 },
        { (const uint8_t *)"Type", 4, (const uint8_t *)"Message", 7 },
        { (const uint8_t *)"Action", 6, (const uint8_t *)"", 0 },
    };
    aox_ans104_spec spec = { target, anchor, tags, 3, (const uint8_t *)"payload", 7 };
    aox_err err = {0};
    CHECKF(aox_ans104_create(&spec, k, 0, &a, &err) == 0, "%s", err.msg);
    CHECK(aox_ans104_create(&spec, k, 0, &b2, NULL) == 0);
    CHECK(a.len == b2.len && memcmp(a.data, b2.data, a.len) == 0);  /* salt 0: deterministic */
    aox_ans104_item *it = NULL;
    CHECK(aox_ans104_parse(a.data, a.len, &it, NULL) == 0);
    if (it) {
        size_t l;
        CHECKF(aox_ans104_verify(it, &err) == 0, "%s", err.msg);
        uint8_t owner[512];
        aox_ans104_key_owner(k, owner);
        CHECK(memcmp(aox_ans104_owner(it, &l), owner, 512) == 0 && l == 512);
        CHECK(memcmp(aox_ans104_target(it, &l), target, 32) == 0);
        CHECK(memcmp(aox_ans104_anchor(it, &l), anchor, 32) == 0);
        CHECK(aox_ans104_tag_count(it) == 3);
        char a1[44], a2[44];
        aox_ans104_owner_address(it, a1);
        aox_ans104_key_address(k, a2);
        CHECK(strcmp(a1, a2) == 0);
        aox_ans104_free(it);
    }
    /* default salt: randomised, still verifies */
    aox_buf_reset(&b2);
    CHECK(aox_ans104_create(&spec, k, -1, &b2, NULL) == 0);
    CHECK(aox_ans104_parse(b2.data, b2.len, &it, NULL) == 0);
    if (it) { CHECK(aox_ans104_verify(it, NULL) == 0); aox_ans104_free(it); }
    /* empty item: no target, anchor, tags or data */
    aox_ans104_spec none = {0};
    aox_buf_reset(&b2);
    CHECK(aox_ans104_create(&none, k, 0, &b2, NULL) == 0);
    CHECK(b2.len == 2 + 512 + 512 + 1 + 1 + 16);
    CHECK(aox_ans104_parse(b2.data, b2.len, &it, NULL) == 0);
    if (it) {
        aox_msg *m = NULL;
        CHECK(aox_ans104_verify(it, NULL) == 0 && aox_ans104_to_msg(it, &m, NULL) == 0);
        const aox_value *tv = m ? aox_msg_get(m, "tags") : NULL;
        CHECK(tv && tv->type == AOX_V_LIST && tv->u.list.len == 0);
        aox_msg_free(m);
        aox_ans104_free(it);
    }
    /* too many tags */
    aox_ans104_tag many[129];
    for (int i = 0; i < 129; i++) many[i] = tags[0];
    aox_ans104_spec big = { NULL, NULL, many, 129, NULL, 0 };
    size_t before = b2.len;
    CHECK(aox_ans104_create(&big, k, 0, &b2, NULL) == AOX_E_INVALID && b2.len == before);
    /* too many tag bytes */
    static uint8_t longv[4100];
    memset(longv, 'v', sizeof longv);
    aox_ans104_tag lt = { (const uint8_t *)"n", 1, longv, sizeof longv };
    aox_ans104_spec lts = { NULL, NULL, &lt, 1, NULL, 0 };
    CHECK(aox_ans104_create(&lts, k, 0, &b2, NULL) == AOX_E_INVALID && b2.len == before);

    /* JWK round trip, and a public-only key cannot sign */
    CHECK(aox_ans104_key_to_jwk(k, &jwk) == 0);
    aox_ans104_key *k2 = NULL, *pub = NULL;
    CHECK(aox_ans104_key_from_jwk((const char *)jwk.data, jwk.len, &k2, NULL) == 0);
    if (k2) {
        aox_buf_reset(&b2);
        CHECK(aox_ans104_create(&spec, k2, 0, &b2, NULL) == 0);
        CHECK(b2.len == a.len && memcmp(a.data, b2.data, a.len) == 0);  /* same key */
    }
    json_t *j = json_loadb((const char *)jwk.data, jwk.len, 0, NULL);
    const char *priv[] = { "d", "p", "q", "dp", "dq", "qi" };
    for (int i = 0; i < 6; i++) json_object_del(j, priv[i]);
    char *pubtxt = json_dumps(j, JSON_COMPACT);
    CHECK(aox_ans104_key_from_jwk(pubtxt, strlen(pubtxt), &pub, NULL) == 0);
    if (pub) {
        CHECK(!aox_ans104_key_is_private(pub));
        CHECK(aox_ans104_create(&spec, pub, 0, &b2, NULL) == AOX_E_INVALID);
        aox_buf_reset(&exp);
        CHECK(aox_ans104_key_to_jwk(pub, &exp) == 0 && strstr((char *)exp.data, "\"d\"") == NULL);
    }
    free(pubtxt);
    /* bad JWKs */
    json_object_set_new(j, "e", json_string("Aw"));
    pubtxt = json_dumps(j, JSON_COMPACT);
    aox_ans104_key *bad = NULL;
    CHECK(aox_ans104_key_from_jwk(pubtxt, strlen(pubtxt), &bad, NULL) == AOX_E_INVALID && !bad);
    free(pubtxt);
    json_object_set_new(j, "e", json_string("AQAB"));
    json_object_set_new(j, "n", json_string("AQAB"));
    pubtxt = json_dumps(j, JSON_COMPACT);
    CHECK(aox_ans104_key_from_jwk(pubtxt, strlen(pubtxt), &bad, NULL) == AOX_E_INVALID && !bad);
    free(pubtxt);
    CHECK(aox_ans104_key_from_jwk("[1]", 3, &bad, NULL) == AOX_E_BAD_JSON);
    CHECK(aox_ans104_key_from_jwk("{", 1, &bad, NULL) == AOX_E_BAD_JSON);
    json_decref(j);

    aox_buf key = {0};
    CHECK(aox_ans104_store_key(&key, "abc") == 0 && strcmp((char *)key.data, "data/abc") == 0);
    aox_buf_free(&key);
    aox_ans104_key_free(pub);
    aox_ans104_key_free(k2);
    aox_ans104_key_free(k);
    aox_buf_free(&a);
    aox_buf_free(&b2);
    aox_buf_free(&jwk);
    aox_buf_free(&exp);
}

static void test_keygen(void)
{
    aox_ans104_key *k = NULL;
    aox_err err = {0};
    CHECKF(aox_ans104_key_generate(&k, &err) == 0, "%s", err.msg);
    if (!k) return;
    uint8_t owner[512];
    aox_ans104_key_owner(k, owner);
    CHECK(owner[0] & 0x80);
    aox_buf out = {0};
    aox_ans104_spec spec = { NULL, NULL, NULL, 0, (const uint8_t *)"x", 1 };
    CHECK(aox_ans104_create(&spec, k, -1, &out, NULL) == 0);
    aox_ans104_item *it = NULL;
    CHECK(aox_ans104_parse(out.data, out.len, &it, NULL) == 0);
    if (it) CHECK(aox_ans104_verify(it, NULL) == 0);
    aox_ans104_free(it);
    aox_buf_free(&out);
    aox_ans104_key_free(k);
}

int main(int argc, char **argv)
{
    if (argc < 2) { fprintf(stderr, "usage: %s VECTORS_DIR [GROUP]\n", argv[0]); return 2; }
    vdir = argv[1];
    const char *g = argc > 2 ? argv[2] : "all";
    int all = strcmp(g, "all") == 0;
    if (all || !strcmp(g, "vectors"))   { test_vectors(); test_tamper_and_truncate(); }
    if (all || !strcmp(g, "malformed")) { test_malformed(); test_deep_hash(); }
    if (all || !strcmp(g, "sign"))      test_sign();
    if (all || !strcmp(g, "keygen"))    test_keygen();
    if (failures) { fprintf(stderr, "%d check(s) failed\n", failures); return 1; }
    printf("ok\n");
    return 0;
}
