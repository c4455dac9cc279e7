/*
 * tests/core/test_id.c: SHA-256, base64url and message IDs, checked against values
 * computed independently: published test vectors, and canonical bytes built by hand
 * here, hashed with OpenSSL directly and encoded by this file's own base64url.
 */
#include <openssl/sha.h>
#include "check.h"
#include "core/id.h"
#include "core/message.h"

/* An independent base64url encoder: bit by bit, nothing shared with core/id.c. */
static void ref_b64url(const uint8_t *p, size_t n, char *out)
{
    const char *al = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t bits = n * 8, o = 0;
    for (size_t pos = 0; pos < bits; pos += 6) {
        int v = 0;
        for (size_t b = pos; b < pos + 6; b++) {
            int bit = b < bits ? (p[b / 8] >> (7 - b % 8)) & 1 : 0;
            v = (v << 1) | bit;
        }
        out[o++] = al[v];
    }
    out[o] = 0;
}

static void ref_id(const uint8_t *p, size_t n, char out[44])
{
    uint8_t h[32];
    SHA256(p, n, h);
    ref_b64url(h, 32, out);
}

static void test_sha256(void)
{
    /* FIPS 180-2 example: SHA-256("abc") */
    static const uint8_t abc[32] = {
        0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae,
        0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61,
        0xf2, 0x00, 0x15, 0xad };
    uint8_t h[32];
    aox_sha256("abc", 3, h);
    CHECK(memcmp(h, abc, 32) == 0);
    aox_sha256_2("a", 1, "bc", 2, h);
    CHECK(memcmp(h, abc, 32) == 0);
    aox_sha256_2("", 0, "abc", 3, h);
    CHECK(memcmp(h, abc, 32) == 0);
}

static void test_b64(void)
{
    /* RFC 4648 §10 vectors, without padding */
    static const char *const in[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
    static const char *const out[] = { "", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE",
                                       "Zm9vYmFy" };
    char buf[64];
    for (int i = 0; i < 7; i++) {
        size_t n = strlen(in[i]);
        CHECK_EQ_INT(aox_b64url_len(n), strlen(out[i]));
        aox_b64url_encode(in[i], n, buf);
        CHECK_STR(buf, out[i]);
        aox_buf d = { 0 };
        CHECK_EQ_INT(aox_b64_decode(out[i], strlen(out[i]), &d), 0);
        CHECK(d.len == n && (n == 0 || memcmp(d.data, in[i], n) == 0));
        aox_buf_free(&d);
    }
    /* url alphabet vs standard alphabet and padding */
    static const uint8_t raw[] = { 0xfb, 0xff, 0xbf };
    aox_b64url_encode(raw, 3, buf);
    CHECK_STR(buf, "-_-_");
    aox_buf d = { 0 };
    CHECK_EQ_INT(aox_b64_decode("+/+/", 4, &d), 0);
    CHECK(d.len == 3 && memcmp(d.data, raw, 3) == 0);
    aox_buf_reset(&d);
    CHECK_EQ_INT(aox_b64_decode("Zg==", 4, &d), 0);
    CHECK(d.len == 1 && d.data[0] == 'f');
    aox_buf_reset(&d);
    CHECK_EQ_INT(aox_b64_decode("Zh", 2, &d), AOX_E_INVALID);     /* stray bits */
    CHECK_EQ_INT(aox_b64_decode("Z", 1, &d), AOX_E_INVALID);
    CHECK_EQ_INT(aox_b64_decode("Zm9v!", 5, &d), AOX_E_INVALID);
    CHECK_EQ_INT(aox_b64_decode("Zg=", 3, &d), AOX_E_INVALID);
    CHECK_EQ_INT(d.len, 0);
    aox_buf_free(&d);
    /* the reference encoder agrees on random data */
    trng r = { 42 };
    for (int it = 0; it < 200; it++) {
        uint8_t p[64];
        size_t n = (size_t)trng_below(&r, sizeof p);
        for (size_t i = 0; i < n; i++)
            p[i] = (uint8_t)trng_next(&r);
        char a[100], b[100];
        aox_b64url_encode(p, n, a);
        ref_b64url(p, n, b);
        CHECK_STR(a, b);
        aox_buf dd = { 0 };
        CHECK_EQ_INT(aox_b64_decode(a, strlen(a), &dd), 0);
        CHECK(dd.len == n && (n == 0 || memcmp(dd.data, p, n) == 0));
        aox_buf_free(&dd);
    }
}

static void test_id_helpers(void)
{
    uint8_t h[32], h2[32];
    for (int i = 0; i < 32; i++)
        h[i] = (uint8_t)(i * 7 + 3);
    char id[44], ref[44];
    aox_id_from_hash(h, id);
    ref_b64url(h, 32, ref);
    CHECK_STR(id, ref);
    CHECK(aox_id_valid(id));
    CHECK_EQ_INT(aox_id_to_hash(id, h2), 0);
    CHECK(memcmp(h, h2, 32) == 0);
    CHECK(!aox_id_valid("short"));
    CHECK(!aox_id_valid(NULL));
    char bad[45];
    memcpy(bad, id, 44);
    bad[5] = '+';
    CHECK(!aox_id_valid(bad));
    memcpy(bad, id, 44);
    bad[42] = 'B';            /* non-zero spare bits */
    CHECK(!aox_id_valid(bad));
    memcpy(bad, id, 44);
    bad[43] = 'A';
    bad[44] = 0;
    CHECK(!aox_id_valid(bad));
    CHECK_EQ_INT(aox_id_to_hash("nope", h2), AOX_E_INVALID);
}

static void test_msg_ids(void)
{
    /* {"Action": "Eval", "n": 1, "l": [2.5, {}]} built by hand in canonical form */
    static const uint8_t canon[] = {
        'M', 3,
        6, 'a', 'c', 't', 'i', 'o', 'n', 'B', 4, 'E', 'v', 'a', 'l',
        1, 'l', 'L', 2, 'F', 0x40, 0x04, 0, 0, 0, 0, 0, 0, 'M', 0,
        1, 'n', 'I', 0, 0, 0, 0, 0, 0, 0, 1 };
    aox_msg *m = aox_msg_new();
    aox_msg_set_str(m, "Action", "Eval");
    aox_msg_set_int(m, "N", 1);
    aox_value f = { .type = AOX_V_FLOAT, .u.f = 2.5 };
    aox_msg_list_append(m, "l", &f);
    aox_msg_list_append_msg(m, "l", aox_msg_new());
    aox_buf enc = { 0 };
    REQUIRE(aox_msg_encode(m, &enc) == 0);
    CHECK(enc.len == sizeof canon && memcmp(enc.data, canon, sizeof canon) == 0);
    char id[44], want[44];
    CHECK_EQ_INT(aox_msg_id(m, id), 0);
    ref_id(canon, sizeof canon, want);
    CHECK_STR(id, want);

    /* the empty message: "M\0" */
    aox_msg *e = aox_msg_new();
    static const uint8_t empty[] = { 'M', 0 };
    aox_msg_id(e, id);
    ref_id(empty, 2, want);
    CHECK_STR(id, want);

    /* a long bytes value exercises a 2-byte uleb length (300 = 0xac 0x02) */
    uint8_t big[4 + 3 + 300];
    size_t n = 0;
    big[n++] = 'M'; big[n++] = 1; big[n++] = 1; big[n++] = 'x';
    big[n++] = 'B'; big[n++] = 0xac; big[n++] = 0x02;
    memset(big + n, 'q', 300);
    n += 300;
    aox_msg_set_bytes(e, "x", big + 7, 300);
    aox_msg_id(e, id);
    ref_id(big, n, want);
    CHECK_STR(id, want);

    /* signed message: ID = sha256(raw signature), raw given as base64url text */
    uint8_t sig[512];
    for (int i = 0; i < 512; i++)
        sig[i] = (uint8_t)(i * 31 + 1);
    char sig_txt[700];
    ref_b64url(sig, sizeof sig, sig_txt);
    aox_msg *s = aox_msg_clone(m);
    aox_msg_set_str(s, "signature", sig_txt);
    aox_msg_set_str(s, "owner", "some-owner-key");
    CHECK_EQ_INT(aox_msg_id(s, id), 0);
    ref_id(sig, sizeof sig, want);
    CHECK_STR(id, want);
    /* signature alone (no owner): canonical rule */
    aox_msg_remove(s, "owner");
    aox_buf enc2 = { 0 };
    aox_msg_encode(s, &enc2);
    aox_msg_id(s, id);
    ref_id(enc2.data, enc2.len, want);
    CHECK_STR(id, want);
    /* undecodable signature text: canonical rule */
    aox_msg_set_str(s, "owner", "o");
    aox_msg_set_str(s, "signature", "not base64!");
    aox_buf_reset(&enc2);
    aox_msg_encode(s, &enc2);
    aox_msg_id(s, id);
    ref_id(enc2.data, enc2.len, want);
    CHECK_STR(id, want);

    aox_buf_free(&enc2);
    aox_buf_free(&enc);
    aox_msg_free(s);
    aox_msg_free(e);
    aox_msg_free(m);
}

int main(void)
{
    test_sha256();
    test_b64();
    test_id_helpers();
    test_msg_ids();
    return check_report("core_id");
}
