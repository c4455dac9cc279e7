/*
 * ans104/ans104_parse.c: the binary data-item decoder, its Avro tag codec and the
 * accessors. Every read is bounds-checked against the input (this file is the
 * libFuzzer target's surface: tests/ans104/fuzz_ans104.c).
 */
#include <stdlib.h>
#include <string.h>
#include "ans104/ans104_int.h"
#include "core/id.h"

/* ----------------------------------------------------------------- helpers */

int ans104_sig_lengths(int type, size_t *sig_len, size_t *owner_len)
{
    switch (type) {
    case AOX_ANS104_SIG_ARWEAVE:  *sig_len = 512; *owner_len = 512; return 1;
    case AOX_ANS104_SIG_ED25519:  *sig_len = 64;  *owner_len = 32;  return 1;
    case AOX_ANS104_SIG_ETHEREUM: *sig_len = 65;  *owner_len = 65;  return 1;
    default: return 0;
    }
}

static uint64_t rd_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

/* A bounded cursor over the Avro tag bytes. */
typedef struct avro_rd {
    const uint8_t *p;
    size_t         n, pos;
} avro_rd;

/* Zigzag varint long. 0 or -1 (truncated, or more than 64 bits). */
static int avro_long(avro_rd *r, int64_t *out)
{
    uint64_t u = 0;
    for (unsigned shift = 0; ; shift += 7) {
        if (r->pos >= r->n || shift > 63) return -1;
        uint8_t b = r->p[r->pos++];
        if (shift == 63 && (b & 0x7e)) return -1;     /* bits beyond 64 */
        u |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) break;
    }
    *out = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
    return 0;
}

/* A length-prefixed byte string: sets *off and *len (relative to r->p). */
static int avro_bytes(avro_rd *r, size_t *off, size_t *len)
{
    int64_t l;
    if (avro_long(r, &l) || l < 0 || (uint64_t)l > r->n - r->pos) return -1;
    *off = r->pos;
    *len = (size_t)l;
    r->pos += (size_t)l;
    return 0;
}

typedef struct tag_span { size_t noff, nlen, voff, vlen; } tag_span;

/* Decodes the whole tag section into spans (at most AOX_ANS104_MAX_TAGS).
 * Returns the number of tags or -1 with a reason. */
static long avro_tags(const uint8_t *p, size_t n, tag_span *spans, const char **why)
{
    avro_rd r = { p, n, 0 };
    long count = 0;
    for (;;) {
        int64_t blk;
        if (avro_long(&r, &blk)) { *why = "bad block count"; return -1; }
        if (blk == 0) break;
        if (blk < 0) {
            int64_t size;
            if (blk == INT64_MIN) { *why = "bad block count"; return -1; }
            blk = -blk;
            /* the block's byte size: checked for sanity, otherwise unused */
            if (avro_long(&r, &size) || size < 0 || (uint64_t)size > n - r.pos) {
                *why = "bad block size"; return -1;
            }
        }
        if (blk > AOX_ANS104_MAX_TAGS - count) { *why = "too many tags"; return -1; }
        for (int64_t i = 0; i < blk; i++, count++) {
            tag_span *s = &spans[count];
            if (avro_bytes(&r, &s->noff, &s->nlen) || avro_bytes(&r, &s->voff, &s->vlen)) {
                *why = "truncated tag"; return -1;
            }
        }
    }
    if (r.pos != n) { *why = "trailing bytes after the tags"; return -1; }
    return count;
}

/* ----------------------------------------------------------------- parse */

void aox_ans104_free(aox_ans104_item *it)
{
    if (!it) return;
    free(it->raw);
    free(it->tags);
    free(it->strs);
    free(it->fixed);
    free(it);
}

int aox_ans104_parse(const uint8_t *p, size_t n, aox_ans104_item **out, aox_err *err)
{
    int rc = AOX_E_INVALID;
    aox_ans104_item *it = NULL;
    tag_span *spans = NULL;
    size_t pos = 0, sig_len = 0, owner_len = 0;

    if (out) *out = NULL;
    if (!p || !out) return aox_err_set(err, AOX_E_INVALID, "ans104: no input");
    if (n < 2) { aox_err_set(err, rc, "ans104: truncated signature type"); goto fail; }
    int type = p[0] | (p[1] << 8);
    if (!ans104_sig_lengths(type, &sig_len, &owner_len)) {
        rc = aox_err_set(err, AOX_E_UNSUPPORTED, "ans104: unknown signature type %d", type);
        goto fail;
    }
    it = calloc(1, sizeof *it);
    if (!it) { rc = aox_err_set(err, AOX_E_NOMEM, "ans104: out of memory"); goto fail; }
    it->sig_type = type;
    pos = 2;
    if (n - pos < sig_len + owner_len) {
        aox_err_set(err, rc, "ans104: truncated signature/owner"); goto fail;
    }
    it->sig_off = pos;    it->sig_len = sig_len;     pos += sig_len;
    it->owner_off = pos;  it->owner_len = owner_len; pos += owner_len;

    /* target, anchor: presence byte 0 or 1, then 32 bytes when 1 */
    for (int f = 0; f < 2; f++) {
        size_t *off = f ? &it->anchor_off : &it->target_off;
        size_t *len = f ? &it->anchor_len : &it->target_len;
        const char *what = f ? "anchor" : "target";
        if (pos >= n) { aox_err_set(err, rc, "ans104: truncated %s", what); goto fail; }
        uint8_t present = p[pos++];
        if (present > 1) {
            aox_err_set(err, rc, "ans104: bad %s presence byte %u", what, present); goto fail;
        }
        *off = pos;
        if (present) {
            if (n - pos < 32) { aox_err_set(err, rc, "ans104: truncated %s", what); goto fail; }
            *len = 32;
            pos += 32;
        }
    }

    if (n - pos < 16) { aox_err_set(err, rc, "ans104: truncated tag header"); goto fail; }
    uint64_t tag_count = rd_le64(p + pos), tag_bytes = rd_le64(p + pos + 8);
    pos += 16;
    if (tag_count > AOX_ANS104_MAX_TAGS) {
        aox_err_set(err, rc, "ans104: %llu tags (at most %d)",
                    (unsigned long long)tag_count, AOX_ANS104_MAX_TAGS);
        goto fail;
    }
    if (tag_bytes > AOX_ANS104_MAX_TAG_BYTES) {
        aox_err_set(err, rc, "ans104: %llu tag bytes (at most %d)",
                    (unsigned long long)tag_bytes, AOX_ANS104_MAX_TAG_BYTES);
        goto fail;
    }
    if (tag_bytes > n - pos) { aox_err_set(err, rc, "ans104: truncated tags"); goto fail; }
    it->tags_off = pos;
    it->tags_len = (size_t)tag_bytes;
    pos += (size_t)tag_bytes;
    it->data_off = pos;
    it->data_len = n - pos;

    long got = 0;
    if (tag_bytes > 0) {
        const char *why = "";
        spans = malloc(AOX_ANS104_MAX_TAGS * sizeof *spans);
        if (!spans) { rc = aox_err_set(err, AOX_E_NOMEM, "ans104: out of memory"); goto fail; }
        got = avro_tags(p + it->tags_off, it->tags_len, spans, &why);
        if (got < 0) { aox_err_set(err, rc, "ans104: tags: %s", why); goto fail; }
    }
    if ((uint64_t)got != tag_count) {
        aox_err_set(err, rc, "ans104: header says %llu tags, found %ld",
                    (unsigned long long)tag_count, got);
        goto fail;
    }

    /* own copies: raw (+NUL), fixed fields (+NUL each), tag strings (+NUL each) */
    it->raw = malloc(n + 1);
    it->fixed = malloc(sig_len + owner_len + it->target_len + it->anchor_len + 4);
    size_t str_total = 0;
    for (long i = 0; i < got; i++) str_total += spans[i].nlen + spans[i].vlen + 2;
    it->strs = malloc(str_total ? str_total : 1);
    it->tags = calloc(got ? (size_t)got : 1, sizeof *it->tags);
    if (!it->raw || !it->fixed || !it->strs || !it->tags) {
        rc = aox_err_set(err, AOX_E_NOMEM, "ans104: out of memory"); goto fail;
    }
    memcpy(it->raw, p, n);
    it->raw[n] = 0;
    it->raw_len = n;
    {
        uint8_t *f = it->fixed;
        const size_t offs[4] = { it->sig_off, it->owner_off, it->target_off, it->anchor_off };
        const size_t lens[4] = { it->sig_len, it->owner_len, it->target_len, it->anchor_len };
        for (int i = 0; i < 4; i++) {
            if (lens[i]) memcpy(f, p + offs[i], lens[i]);
            f[lens[i]] = 0;
            f += lens[i] + 1;
        }
    }
    {
        uint8_t *s = it->strs;
        const uint8_t *tb = p + it->tags_off;
        for (long i = 0; i < got; i++) {
            aox_ans104_tag *t = &it->tags[i];
            if (spans[i].nlen) memcpy(s, tb + spans[i].noff, spans[i].nlen);
            s[spans[i].nlen] = 0;
            t->name = s; t->name_len = spans[i].nlen; s += spans[i].nlen + 1;
            if (spans[i].vlen) memcpy(s, tb + spans[i].voff, spans[i].vlen);
            s[spans[i].vlen] = 0;
            t->value = s; t->value_len = spans[i].vlen; s += spans[i].vlen + 1;
        }
    }
    it->tag_count = (size_t)got;
    free(spans);
    *out = it;
    return 0;

fail:
    free(spans);
    aox_ans104_free(it);
    return rc;
}

/* ----------------------------------------------------------------- accessors */

int aox_ans104_sig_type(const aox_ans104_item *it) { return it->sig_type; }

static const uint8_t *fixed_field(const aox_ans104_item *it, int which, size_t *len)
{
    const size_t lens[4] = { it->sig_len, it->owner_len, it->target_len, it->anchor_len };
    const uint8_t *f = it->fixed;
    for (int i = 0; i < which; i++) f += lens[i] + 1;
    if (len) *len = lens[which];
    return f;
}

const uint8_t *aox_ans104_signature(const aox_ans104_item *it, size_t *len)
{
    return fixed_field(it, 0, len);
}

const uint8_t *aox_ans104_owner(const aox_ans104_item *it, size_t *len)
{
    return fixed_field(it, 1, len);
}

const uint8_t *aox_ans104_target(const aox_ans104_item *it, size_t *len)
{
    const uint8_t *f = fixed_field(it, 2, len);
    return it->target_len ? f : NULL;
}

const uint8_t *aox_ans104_anchor(const aox_ans104_item *it, size_t *len)
{
    const uint8_t *f = fixed_field(it, 3, len);
    return it->anchor_len ? f : NULL;
}

size_t aox_ans104_tag_count(const aox_ans104_item *it) { return it->tag_count; }

const aox_ans104_tag *aox_ans104_tag_at(const aox_ans104_item *it, size_t i)
{
    return i < it->tag_count ? &it->tags[i] : NULL;
}

const aox_ans104_tag *aox_ans104_tag_find(const aox_ans104_item *it, const char *name)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i < it->tag_count; i++) {
        const aox_ans104_tag *t = &it->tags[i];
        if (t->name_len == nl && strncasecmp((const char *)t->name, name, nl) == 0)
            return t;
    }
    return NULL;
}

const uint8_t *aox_ans104_tag_bytes(const aox_ans104_item *it, size_t *len)
{
    if (len) *len = it->tags_len;
    return it->raw + it->tags_off;
}

const uint8_t *aox_ans104_data(const aox_ans104_item *it, size_t *len)
{
    if (len) *len = it->data_len;
    return it->raw + it->data_off;          /* data runs to the end: raw[n] is the NUL */
}

const uint8_t *aox_ans104_raw(const aox_ans104_item *it, size_t *len)
{
    if (len) *len = it->raw_len;
    return it->raw;
}

void aox_ans104_id(const aox_ans104_item *it, char out[AOX_ID_LEN + 1])
{
    uint8_t h[AOX_HASH_LEN];
    aox_sha256(it->raw + it->sig_off, it->sig_len, h);
    aox_id_from_hash(h, out);
}

void aox_ans104_owner_address(const aox_ans104_item *it, char out[AOX_ANS104_ADDR_LEN + 1])
{
    uint8_t h[AOX_HASH_LEN];
    aox_sha256(it->raw + it->owner_off, it->owner_len, h);
    aox_id_from_hash(h, out);
}

/* ----------------------------------------------------------------- Avro encode */

static int put_long(aox_buf *b, int64_t v)
{
    uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    uint8_t tmp[10];
    size_t k = 0;
    do {
        uint8_t c = u & 0x7f;
        u >>= 7;
        tmp[k++] = (uint8_t)(c | (u ? 0x80 : 0));
    } while (u);
    return aox_buf_append(b, tmp, k);
}

int aox_ans104_tags_encode(const aox_ans104_tag *tags, size_t count, aox_buf *out)
{
    if (count == 0) return 0;
    if (count > INT64_MAX / 2) return AOX_E_INVALID;
    size_t start = out->len;
    int rc = put_long(out, (int64_t)count);
    for (size_t i = 0; !rc && i < count; i++) {
        rc = put_long(out, (int64_t)tags[i].name_len);
        if (!rc) rc = aox_buf_append(out, tags[i].name, tags[i].name_len);
        if (!rc) rc = put_long(out, (int64_t)tags[i].value_len);
        if (!rc) rc = aox_buf_append(out, tags[i].value, tags[i].value_len);
    }
    if (!rc) rc = put_long(out, 0);
    if (rc) out->len = start;
    return rc;
}

int aox_ans104_store_key(aox_buf *k, const char *id)
{
    aox_buf_reset(k);
    return aox_buf_printf(k, "data/%s", id);
}
