/*
 * core/id.c: SHA-256 (OpenSSL) and base64url (RFC 4648 §5) for IDs (id.h).
 */
#include "core/id.h"
#include "core/error.h"

#include <openssl/sha.h>
#include <string.h>

void aox_sha256(const void *p, size_t n, uint8_t out[AOX_HASH_LEN])
{
    aox_sha256_2(p, n, NULL, 0, out);
}

/* The low-level SHA256_* calls are deprecated in OpenSSL 3 but remain exact and never
 * allocate. OpenSSL 3's one-shot SHA256() and EVP both fetch an implementation and
 * allocate a context; when that allocation fails SHA256() returns NULL and leaves
 * the digest unwritten, which a void function could not report (tests/core: oom). */
void aox_sha256_2(const void *a, size_t an, const void *b, size_t bn,
                  uint8_t out[AOX_HASH_LEN])
{
    SHA256_CTX c;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    SHA256_Init(&c);
    if (an)
        SHA256_Update(&c, a, an);
    if (bn)
        SHA256_Update(&c, b, bn);
    SHA256_Final(out, &c);
#pragma GCC diagnostic pop
}

static const char b64url_alpha[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t aox_b64url_len(size_t n)
{
    return (n / 3) * 4 + (n % 3 ? n % 3 + 1 : 0);
}

void aox_b64url_encode(const void *p, size_t n, char *out)
{
    const uint8_t *s = p;
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
        out[o++] = b64url_alpha[(v >> 18) & 63];
        out[o++] = b64url_alpha[(v >> 12) & 63];
        out[o++] = b64url_alpha[(v >> 6) & 63];
        out[o++] = b64url_alpha[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)s[i] << 16;
        out[o++] = b64url_alpha[(v >> 18) & 63];
        out[o++] = b64url_alpha[(v >> 12) & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;
        out[o++] = b64url_alpha[(v >> 18) & 63];
        out[o++] = b64url_alpha[(v >> 12) & 63];
        out[o++] = b64url_alpha[(v >> 6) & 63];
    }
    out[o] = '\0';
}

/* 0..63, or -1 for a character outside both alphabets. */
static int b64_val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-' || c == '+') return 62;
    if (c == '_' || c == '/') return 63;
    return -1;
}

int aox_b64_decode(const char *s, size_t n, aox_buf *out)
{
    /* Strip up to two '=' of padding; the rest must be alphabet characters. */
    size_t pad = 0;
    while (n > 0 && s[n - 1] == '=' && pad < 2) {
        n--;
        pad++;
    }
    if (n % 4 == 1)
        return AOX_E_INVALID;
    if (pad && (n + pad) % 4 != 0)
        return AOX_E_INVALID;
    size_t olen = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
    int rc = aox_buf_reserve(out, olen);
    if (rc)
        return rc;
    uint8_t *d = out->data + out->len;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64_val((unsigned char)s[i]);
        if (v < 0)
            return AOX_E_INVALID;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            d[o++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    /* Leftover bits must be zero, so each byte string has exactly one encoding. */
    if (acc != 0)
        return AOX_E_INVALID;
    out->len += o;
    out->data[out->len] = 0;
    return AOX_OK;
}

void aox_id_from_hash(const uint8_t h[AOX_HASH_LEN], char out[44])
{
    aox_b64url_encode(h, AOX_HASH_LEN, out);
}

int aox_id_valid(const char *s)
{
    if (!s)
        return 0;
    for (int i = 0; i < 43; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\0' || c == '+' || c == '/' || b64_val(c) < 0)
            return 0;
    }
    if (s[43] != '\0')
        return 0;
    /* The last character carries 2 spare bits that must be zero. */
    return (b64_val((unsigned char)s[42]) & 3) == 0;
}

int aox_id_to_hash(const char *id, uint8_t out[AOX_HASH_LEN])
{
    if (!aox_id_valid(id))
        return AOX_E_INVALID;
    uint8_t tmp[AOX_HASH_LEN + 1];
    aox_buf b = { tmp, 0, sizeof tmp - 1 };   /* fits exactly: no realloc happens */
    int rc = aox_b64_decode(id, 43, &b);
    if (rc || b.len != AOX_HASH_LEN)
        return AOX_E_INVALID;
    memcpy(out, tmp, AOX_HASH_LEN);
    return AOX_OK;
}
