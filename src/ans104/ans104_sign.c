/*
 * ans104/ans104_sign.c: the cryptography of data items: Arweave deep hash
 * (SHA-384), RSA-PSS verification and signing through OpenSSL 3's EVP interface,
 * Arweave JWK keys, and building signed items.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include "ans104/ans104_int.h"
#include "core/id.h"

/* ----------------------------------------------------------------- deep hash */

/* One-shot SHA384() (the streaming SHA384_* calls are deprecated in OpenSSL 3). */
static void sha384(const uint8_t *p, size_t n, uint8_t out[AOX_ANS104_DEEP_HASH_LEN])
{
    static const uint8_t empty[1];
    SHA384(n ? p : empty, n, out);
}

/* SHA384(a || b) of two digests. */
static void sha384_pair(const uint8_t a[AOX_ANS104_DEEP_HASH_LEN],
                        const uint8_t b[AOX_ANS104_DEEP_HASH_LEN],
                        uint8_t out[AOX_ANS104_DEEP_HASH_LEN])
{
    uint8_t cat[2 * AOX_ANS104_DEEP_HASH_LEN];
    memcpy(cat, a, AOX_ANS104_DEEP_HASH_LEN);
    memcpy(cat + AOX_ANS104_DEEP_HASH_LEN, b, AOX_ANS104_DEEP_HASH_LEN);
    SHA384(cat, sizeof cat, out);
}

/* SHA384(prefix || decimal(n)) */
static void tag_hash(const char *prefix, size_t n, uint8_t out[AOX_ANS104_DEEP_HASH_LEN])
{
    char tag[48];
    int k = snprintf(tag, sizeof tag, "%s%zu", prefix, n);
    sha384((const uint8_t *)tag, (size_t)k, out);
}

void aox_deep_hash_list(const uint8_t *const *ptrs, const size_t *lens, size_t count,
                        uint8_t out[AOX_ANS104_DEEP_HASH_LEN])
{
    uint8_t acc[AOX_ANS104_DEEP_HASH_LEN];
    tag_hash("list", count, acc);
    for (size_t i = 0; i < count; i++) {
        /* blob = SHA384(SHA384("blob" len) || SHA384(bytes)) */
        uint8_t blob[AOX_ANS104_DEEP_HASH_LEN], tagh[AOX_ANS104_DEEP_HASH_LEN];
        tag_hash("blob", lens[i], tagh);
        sha384(ptrs[i], lens[i], blob);
        sha384_pair(tagh, blob, blob);
        sha384_pair(acc, blob, acc);
    }
    memcpy(out, acc, sizeof acc);
}

/* Deep hash of a data item's fields; lets create() hash before the item exists. */
static void item_hash(int sig_type, const uint8_t *owner, size_t owner_len,
                      const uint8_t *target, size_t target_len,
                      const uint8_t *anchor, size_t anchor_len,
                      const uint8_t *tags, size_t tags_len,
                      const uint8_t *data, size_t data_len,
                      uint8_t out[AOX_ANS104_DEEP_HASH_LEN])
{
    char type[12];
    int tl = snprintf(type, sizeof type, "%d", sig_type);
    const uint8_t *p[8] = { (const uint8_t *)"dataitem", (const uint8_t *)"1",
                            (const uint8_t *)type, owner, target, anchor, tags, data };
    size_t l[8] = { 8, 1, (size_t)tl, owner_len, target_len, anchor_len, tags_len, data_len };
    aox_deep_hash_list(p, l, 8, out);
}

int aox_ans104_signature_data(const aox_ans104_item *it, uint8_t out[AOX_ANS104_DEEP_HASH_LEN])
{
    const uint8_t *r = it->raw;
    item_hash(it->sig_type, r + it->owner_off, it->owner_len,
              r + it->target_off, it->target_len, r + it->anchor_off, it->anchor_len,
              r + it->tags_off, it->tags_len, r + it->data_off, it->data_len, out);
    return 0;
}

/* ----------------------------------------------------------------- keys */

struct aox_ans104_key {
    EVP_PKEY *pkey;
    int       priv;                          /* 1 when the private half is present */
    uint8_t   owner[AOX_ANS104_RSA_BYTES];   /* modulus, big-endian */
};

/* JWK field order of the private parts and their OpenSSL parameter names. */
static const char *const jwk_priv[6] = { "d", "p", "q", "dp", "dq", "qi" };
static const char *const ossl_priv[6] = {
    OSSL_PKEY_PARAM_RSA_D, OSSL_PKEY_PARAM_RSA_FACTOR1, OSSL_PKEY_PARAM_RSA_FACTOR2,
    OSSL_PKEY_PARAM_RSA_EXPONENT1, OSSL_PKEY_PARAM_RSA_EXPONENT2,
    OSSL_PKEY_PARAM_RSA_COEFFICIENT1
};

/* Builds an EVP_PKEY from big-endian n (512 bytes), e = 65537 and, when priv is
 * non-NULL, the six private numbers as BIGNUMs. NULL on failure. */
static EVP_PKEY *rsa_from_parts(const uint8_t *n, size_t nlen, BIGNUM *const *priv)
{
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    OSSL_PARAM *params = NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    BIGNUM *bn = BN_bin2bn(n, (int)nlen, NULL), *be = BN_new();
    if (!bld || !bn || !be || !BN_set_word(be, 65537)) goto done;
    if (!OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be))
        goto done;
    for (int i = 0; priv && i < 6; i++)
        if (!OSSL_PARAM_BLD_push_BN(bld, ossl_priv[i], priv[i])) goto done;
    params = OSSL_PARAM_BLD_to_param(bld);
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, &pkey, priv ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY,
                          params) <= 0)
        pkey = NULL;
done:
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn);
    BN_free(be);
    return pkey;
}

static int b64_field(json_t *obj, const char *name, aox_buf *out)
{
    json_t *v = json_object_get(obj, name);
    aox_buf_reset(out);
    if (!json_is_string(v)) return AOX_E_NOT_FOUND;
    return aox_b64_decode(json_string_value(v), json_string_length(v), out);
}

int aox_ans104_key_from_jwk(const char *json, size_t n, aox_ans104_key **out, aox_err *err)
{
    int rc = AOX_E_INVALID;
    json_error_t je;
    json_t *root = NULL;
    aox_buf b = {0};
    BIGNUM *priv[6] = {0};
    aox_ans104_key *k = NULL;
    int have_priv = 0;

    *out = NULL;
    root = json_loadb(json, n, 0, &je);
    if (!json_is_object(root)) {
        rc = aox_err_set(err, AOX_E_BAD_JSON, "jwk: not a JSON object (line %d: %s)",
                         je.line, je.text);
        goto fail;
    }
    json_t *kty = json_object_get(root, "kty");
    if (!json_is_string(kty) || strcmp(json_string_value(kty), "RSA") != 0) {
        aox_err_set(err, rc, "jwk: kty must be \"RSA\""); goto fail;
    }
    if (b64_field(root, "e", &b) || b.len != 3 ||
        b.data[0] != 0x01 || b.data[1] != 0x00 || b.data[2] != 0x01) {
        aox_err_set(err, rc, "jwk: e must be AQAB (65537)"); goto fail;
    }
    k = calloc(1, sizeof *k);
    if (!k) { rc = aox_err_set(err, AOX_E_NOMEM, "jwk: out of memory"); goto fail; }
    if (b64_field(root, "n", &b) || b.len != AOX_ANS104_RSA_BYTES || !(b.data[0] & 0x80)) {
        aox_err_set(err, rc, "jwk: n must be a 4096-bit modulus"); goto fail;
    }
    memcpy(k->owner, b.data, AOX_ANS104_RSA_BYTES);
    have_priv = json_object_get(root, "d") != NULL;
    for (int i = 0; have_priv && i < 6; i++) {
        if (b64_field(root, jwk_priv[i], &b) || b.len == 0) {
            aox_err_set(err, rc, "jwk: private key field \"%s\" missing or bad", jwk_priv[i]);
            goto fail;
        }
        priv[i] = BN_bin2bn(b.data, (int)b.len, NULL);
        if (!priv[i]) { rc = aox_err_set(err, AOX_E_NOMEM, "jwk: out of memory"); goto fail; }
    }
    k->pkey = rsa_from_parts(k->owner, AOX_ANS104_RSA_BYTES, have_priv ? priv : NULL);
    if (!k->pkey) { aox_err_set(err, rc, "jwk: OpenSSL rejected the key"); goto fail; }
    k->priv = have_priv;
    rc = 0;
    *out = k;
    k = NULL;
fail:
    ERR_clear_error();
    for (int i = 0; i < 6; i++) BN_clear_free(priv[i]);
    aox_buf_free(&b);
    json_decref(root);
    aox_ans104_key_free(k);
    return rc;
}

static int bn_param_bytes(EVP_PKEY *pkey, const char *name, size_t pad, aox_buf *out)
{
    BIGNUM *bn = NULL;
    int rc = AOX_E_INTERNAL;
    if (EVP_PKEY_get_bn_param(pkey, name, &bn) <= 0) goto done;
    int nb = BN_num_bytes(bn);
    size_t len = pad && (size_t)nb < pad ? pad : (size_t)nb;
    aox_buf_reset(out);
    if ((rc = aox_buf_reserve(out, len))) goto done;
    if (BN_bn2binpad(bn, out->data, (int)len) < 0) { rc = AOX_E_INTERNAL; goto done; }
    out->len = len;
    rc = 0;
done:
    BN_clear_free(bn);
    return rc;
}

int aox_ans104_key_generate(aox_ans104_key **out, aox_err *err)
{
    int rc = AOX_E_INTERNAL;
    aox_buf b = {0};
    aox_ans104_key *k = calloc(1, sizeof *k);
    *out = NULL;
    if (!k) return aox_err_set(err, AOX_E_NOMEM, "key: out of memory");
    k->pkey = EVP_RSA_gen(4096);            /* e = 65537 by default */
    if (!k->pkey) { aox_err_set(err, rc, "key: RSA generation failed"); goto fail; }
    if (bn_param_bytes(k->pkey, OSSL_PKEY_PARAM_RSA_N, AOX_ANS104_RSA_BYTES, &b) ||
        b.len != AOX_ANS104_RSA_BYTES) {
        aox_err_set(err, rc, "key: cannot read the modulus"); goto fail;
    }
    memcpy(k->owner, b.data, AOX_ANS104_RSA_BYTES);
    k->priv = 1;
    *out = k;
    k = NULL;
    rc = 0;
fail:
    ERR_clear_error();
    aox_buf_free(&b);
    aox_ans104_key_free(k);
    return rc;
}

static int jwk_put(json_t *o, const char *name, const uint8_t *p, size_t n)
{
    char *s = malloc(aox_b64url_len(n) + 1);
    if (!s) return AOX_E_NOMEM;
    aox_b64url_encode(p, n, s);
    int rc = json_object_set_new(o, name, json_string(s)) ? AOX_E_NOMEM : 0;
    free(s);
    return rc;
}

int aox_ans104_key_to_jwk(const aox_ans104_key *k, aox_buf *out)
{
    static const uint8_t e[3] = { 1, 0, 1 };
    int rc = AOX_E_NOMEM;
    aox_buf b = {0};
    char *text = NULL;
    json_t *o = json_object();
    if (!o) goto done;
    if (json_object_set_new(o, "kty", json_string("RSA")) ||
        (rc = jwk_put(o, "n", k->owner, sizeof k->owner)) ||
        (rc = jwk_put(o, "e", e, 3)))
        goto done;
    for (int i = 0; k->priv && i < 6; i++) {
        if ((rc = bn_param_bytes(k->pkey, ossl_priv[i], 0, &b)) ||
            (rc = jwk_put(o, jwk_priv[i], b.data, b.len)))
            goto done;
    }
    rc = AOX_E_NOMEM;
    text = json_dumps(o, JSON_COMPACT);
    if (!text) goto done;
    rc = aox_buf_append_str(out, text);
done:
    ERR_clear_error();
    if (b.data) OPENSSL_cleanse(b.data, b.cap);
    aox_buf_free(&b);
    if (text) { OPENSSL_cleanse(text, strlen(text)); free(text); }
    json_decref(o);
    return rc;
}

void aox_ans104_key_owner(const aox_ans104_key *k, uint8_t out[AOX_ANS104_RSA_BYTES])
{
    memcpy(out, k->owner, AOX_ANS104_RSA_BYTES);
}

int aox_ans104_key_is_private(const aox_ans104_key *k) { return k->priv; }

void aox_ans104_key_address(const aox_ans104_key *k, char out[AOX_ANS104_ADDR_LEN + 1])
{
    uint8_t h[AOX_HASH_LEN];
    aox_sha256(k->owner, sizeof k->owner, h);
    aox_id_from_hash(h, out);
}

void aox_ans104_key_free(aox_ans104_key *k)
{
    if (!k) return;
    EVP_PKEY_free(k->pkey);
    free(k);
}

/* ----------------------------------------------------------------- PSS */

/* Sets up ctx for RSA-PSS, SHA-256, MGF1-SHA-256 with the given salt length
 * (RSA_PSS_SALTLEN_AUTO when verifying). 1 on success. */
static int pss_init(EVP_MD_CTX *md, EVP_PKEY *pkey, int sign, int salt)
{
    EVP_PKEY_CTX *pctx = NULL;
    int ok = sign ? EVP_DigestSignInit(md, &pctx, EVP_sha256(), NULL, pkey)
                  : EVP_DigestVerifyInit(md, &pctx, EVP_sha256(), NULL, pkey);
    return ok > 0 &&
           EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0 &&
           EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) > 0 &&
           EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, salt) > 0;
}

int aox_ans104_verify(const aox_ans104_item *it, aox_err *err)
{
    int rc = AOX_E_INVALID;
    EVP_PKEY *pkey = NULL;
    EVP_MD_CTX *md = NULL;
    uint8_t msg[AOX_ANS104_DEEP_HASH_LEN];

    if (it->sig_type != AOX_ANS104_SIG_ARWEAVE)
        return aox_err_set(err, AOX_E_UNSUPPORTED,
                           "ans104: signature type %d is not supported", it->sig_type);
    const uint8_t *owner = it->raw + it->owner_off;
    if (!(owner[0] & 0x80)) {            /* Arweave keys are exactly 4096 bits */
        aox_err_set(err, rc, "ans104: owner is not a 4096-bit RSA modulus");
        goto done;
    }
    pkey = rsa_from_parts(owner, it->owner_len, NULL);
    md = EVP_MD_CTX_new();
    if (!pkey || !md) {
        rc = aox_err_set(err, pkey ? AOX_E_NOMEM : AOX_E_INVALID,
                         "ans104: cannot use the owner as an RSA key");
        goto done;
    }
    aox_ans104_signature_data(it, msg);
    if (!pss_init(md, pkey, 0, RSA_PSS_SALTLEN_AUTO)) {
        rc = aox_err_set(err, AOX_E_INTERNAL, "ans104: OpenSSL PSS setup failed");
        goto done;
    }
    if (EVP_DigestVerify(md, it->raw + it->sig_off, it->sig_len, msg, sizeof msg) != 1) {
        aox_err_set(err, rc, "ans104: signature does not verify");
        goto done;
    }
    rc = 0;
done:
    ERR_clear_error();
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(pkey);
    return rc;
}

/* ----------------------------------------------------------------- create */

static int put_le(aox_buf *b, uint64_t v, int bytes)
{
    uint8_t t[8];
    for (int i = 0; i < bytes; i++) { t[i] = (uint8_t)(v & 0xff); v >>= 8; }
    return aox_buf_append(b, t, (size_t)bytes);
}

int aox_ans104_create(const aox_ans104_spec *spec, const aox_ans104_key *k,
                      int salt_len, aox_buf *out, aox_err *err)
{
    int rc = AOX_E_INVALID;
    aox_buf tags = {0}, item = {0};
    EVP_MD_CTX *md = NULL;
    uint8_t msg[AOX_ANS104_DEEP_HASH_LEN];
    static const uint8_t zero_sig[AOX_ANS104_RSA_BYTES];

    if (!k->priv) { aox_err_set(err, rc, "ans104: signing needs a private key"); goto done; }
    if (spec->tag_count > AOX_ANS104_MAX_TAGS) {
        aox_err_set(err, rc, "ans104: %zu tags (at most %d)", spec->tag_count,
                    AOX_ANS104_MAX_TAGS);
        goto done;
    }
    if ((rc = aox_ans104_tags_encode(spec->tags, spec->tag_count, &tags))) {
        aox_err_set(err, rc, "ans104: cannot encode tags");
        goto done;
    }
    rc = AOX_E_INVALID;
    if (tags.len > AOX_ANS104_MAX_TAG_BYTES) {
        aox_err_set(err, rc, "ans104: %zu tag bytes (at most %d)", tags.len,
                    AOX_ANS104_MAX_TAG_BYTES);
        goto done;
    }
    size_t tl = spec->target ? 32 : 0, al = spec->anchor ? 32 : 0;
    item_hash(AOX_ANS104_SIG_ARWEAVE, k->owner, sizeof k->owner, spec->target, tl,
              spec->anchor, al, tags.data, tags.len, spec->data, spec->data_len, msg);

    size_t sig_len = 0;
    md = EVP_MD_CTX_new();
    if (!md || !pss_init(md, k->pkey, 1, salt_len < 0 ? AOX_ANS104_SALT_DEFAULT : salt_len) ||
        EVP_DigestSign(md, NULL, &sig_len, msg, sizeof msg) != 1 ||
        sig_len != AOX_ANS104_RSA_BYTES) {
        rc = aox_err_set(err, AOX_E_INTERNAL, "ans104: OpenSSL signing setup failed");
        goto done;
    }
    /* layout: type, signature (patched below), owner, target, anchor, tag header,
     * tags, data */
    if ((rc = put_le(&item, AOX_ANS104_SIG_ARWEAVE, 2)) ||
        (rc = aox_buf_append(&item, zero_sig, sizeof zero_sig)) ||
        (rc = aox_buf_append(&item, k->owner, sizeof k->owner)) ||
        (rc = aox_buf_append_u8(&item, spec->target ? 1 : 0)) ||
        (rc = aox_buf_append(&item, spec->target, tl)) ||
        (rc = aox_buf_append_u8(&item, spec->anchor ? 1 : 0)) ||
        (rc = aox_buf_append(&item, spec->anchor, al)) ||
        (rc = put_le(&item, spec->tag_count, 8)) ||
        (rc = put_le(&item, tags.len, 8)) ||
        (rc = aox_buf_append(&item, tags.data, tags.len)) ||
        (rc = aox_buf_append(&item, spec->data, spec->data_len))) {
        aox_err_set(err, rc, "ans104: out of memory");
        goto done;
    }
    if (EVP_DigestSign(md, item.data + 2, &sig_len, msg, sizeof msg) != 1 ||
        sig_len != AOX_ANS104_RSA_BYTES) {
        rc = aox_err_set(err, AOX_E_INTERNAL, "ans104: OpenSSL signing failed");
        goto done;
    }
    if ((rc = aox_buf_append(out, item.data, item.len))) {
        aox_err_set(err, rc, "ans104: out of memory");
        goto done;
    }
    rc = 0;
done:
    ERR_clear_error();
    EVP_MD_CTX_free(md);
    aox_buf_free(&tags);
    aox_buf_free(&item);
    return rc;
}
