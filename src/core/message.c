/*
 * core/message.c: the message map (message.h), its canonical encoding and its ID.
 *
 * A message is a sorted array of entries. Keys are stored lower-case and
 * NUL-terminated; the array is kept sorted by key bytes (strcmp order, which is
 * bytewise order for NUL-free keys), so lookups are binary searches and iteration,
 * encoding and JSON all come out in canonical order without sorting.
 *
 *   aox_msg { e ──► [ {key,klen,value} {key,klen,value} ... ]  n used, cap allocated }
 */
#include "core/message.h"
#include "core/id.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry {
    char     *key;      /* lower-case, NUL-terminated, valid UTF-8, non-empty */
    size_t    klen;
    aox_value v;
} entry;

struct aox_msg {
    entry  *e;
    size_t  n, cap;
};

#define CANON_NAN 0x7ff8000000000000ULL

/* ------------------------------------------------------------------ UTF-8 */

int aox_utf8_valid(const void *p, size_t n)
{
    const uint8_t *s = p;
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        uint32_t cp, min;
        if ((c & 0xe0) == 0xc0) { need = 1; cp = c & 0x1f; min = 0x80; }
        else if ((c & 0xf0) == 0xe0) { need = 2; cp = c & 0x0f; min = 0x800; }
        else if ((c & 0xf8) == 0xf0) { need = 3; cp = c & 0x07; min = 0x10000; }
        else return 0;
        if (n - i - 1 < need)
            return 0;
        for (size_t k = 1; k <= need; k++) {
            uint8_t cc = s[i + k];
            if ((cc & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (cc & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += need + 1;
    }
    return 1;
}

/* ------------------------------------------------------------------ keys */

static unsigned char lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

/* Compares a stored (lower-case) key with an input key read case-insensitively. */
static int key_cmp(const char *stored, const char *in)
{
    const unsigned char *a = (const unsigned char *)stored;
    const unsigned char *b = (const unsigned char *)in;
    for (;; a++, b++) {
        unsigned char cb = lower(*b);
        if (*a != cb)
            return *a < cb ? -1 : 1;
        if (*a == 0)
            return 0;
    }
}

/* Index of key, or -(insertion point)-1. */
static long find(const aox_msg *m, const char *key)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = key_cmp(m->e[mid].key, key);
        if (c == 0)
            return (long)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -(long)lo - 1;
}

static int key_ok(const char *key)
{
    if (!key || !key[0])
        return 0;
    return aox_utf8_valid(key, strlen(key));
}

/* Slot for key: existing entry (value freed, ready to be overwritten) or a new one
 * inserted in order with a fresh key. Returns NULL on OOM. */
static aox_value *slot_for(aox_msg *m, const char *key)
{
    long at = find(m, key);
    if (at >= 0) {
        aox_value_free(&m->e[at].v);
        return &m->e[at].v;
    }
    size_t pos = (size_t)(-at - 1);
    if (m->n == m->cap) {
        size_t ncap = m->cap ? m->cap * 2 : 8;
        entry *ne = realloc(m->e, ncap * sizeof *ne);
        if (!ne)
            return NULL;
        m->e = ne;
        m->cap = ncap;
    }
    size_t kl = strlen(key);
    char *k = malloc(kl + 1);
    if (!k)
        return NULL;
    for (size_t i = 0; i <= kl; i++)
        k[i] = (char)lower((unsigned char)key[i]);
    memmove(&m->e[pos + 1], &m->e[pos], (m->n - pos) * sizeof *m->e);
    m->e[pos].key = k;
    m->e[pos].klen = kl;
    memset(&m->e[pos].v, 0, sizeof m->e[pos].v);
    m->n++;
    return &m->e[pos].v;
}

/* Moves *v (already owned) into key. On failure v is freed. */
static int put_owned(aox_msg *m, const char *key, aox_value *v)
{
    if (!key_ok(key)) {
        aox_value_free(v);
        return AOX_E_INVALID;
    }
    aox_value *dst = slot_for(m, key);
    if (!dst) {
        aox_value_free(v);
        return AOX_E_NOMEM;
    }
    *dst = *v;
    return AOX_OK;
}

/* ------------------------------------------------------------------ lifetime */

aox_msg *aox_msg_new(void)
{
    return calloc(1, sizeof(aox_msg));
}

void aox_msg_free(aox_msg *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++) {
        free(m->e[i].key);
        aox_value_free(&m->e[i].v);
    }
    free(m->e);
    free(m);
}

aox_msg *aox_msg_clone(const aox_msg *m)
{
    aox_msg *c = aox_msg_new();
    if (!c)
        return NULL;
    if (m->n == 0)
        return c;
    c->e = calloc(m->n, sizeof *c->e);
    if (!c->e)
        goto fail;
    c->cap = m->n;
    for (size_t i = 0; i < m->n; i++) {
        entry *d = &c->e[i];
        d->key = malloc(m->e[i].klen + 1);
        if (!d->key)
            goto fail;
        memcpy(d->key, m->e[i].key, m->e[i].klen + 1);
        d->klen = m->e[i].klen;
        c->n++;
        if (aox_value_copy(&d->v, &m->e[i].v))
            goto fail;
    }
    return c;
fail:
    aox_msg_free(c);
    return NULL;
}

/* ------------------------------------------------------------------ values */

void aox_value_free(aox_value *v)
{
    if (!v)
        return;
    switch (v->type) {
    case AOX_V_BYTES:
        free(v->u.bytes.ptr);
        break;
    case AOX_V_LIST:
        for (size_t i = 0; i < v->u.list.len; i++)
            aox_value_free(&v->u.list.items[i]);
        free(v->u.list.items);
        break;
    case AOX_V_MSG:
        aox_msg_free(v->u.msg);
        break;
    default:
        break;
    }
    memset(v, 0, sizeof *v);
}

static int bytes_init(aox_value *v, const void *p, size_t n)
{
    uint8_t *d = malloc(n + 1);
    if (!d)
        return AOX_E_NOMEM;
    if (n)
        memcpy(d, p, n);
    d[n] = 0;
    v->type = AOX_V_BYTES;
    v->u.bytes.ptr = d;
    v->u.bytes.len = n;
    return AOX_OK;
}

int aox_value_copy(aox_value *dst, const aox_value *src)
{
    memset(dst, 0, sizeof *dst);
    switch (src->type) {
    case AOX_V_BYTES:
        return bytes_init(dst, src->u.bytes.ptr, src->u.bytes.len);
    case AOX_V_INT:
    case AOX_V_FLOAT:
        *dst = *src;
        return AOX_OK;
    case AOX_V_LIST: {
        size_t n = src->u.list.len;
        dst->type = AOX_V_LIST;
        if (n == 0)
            return AOX_OK;
        dst->u.list.items = calloc(n, sizeof(aox_value));
        if (!dst->u.list.items) {
            memset(dst, 0, sizeof *dst);
            return AOX_E_NOMEM;
        }
        for (size_t i = 0; i < n; i++) {
            if (aox_value_copy(&dst->u.list.items[i], &src->u.list.items[i])) {
                aox_value_free(dst);
                return AOX_E_NOMEM;
            }
            dst->u.list.len++;
        }
        return AOX_OK;
    }
    case AOX_V_MSG:
        dst->type = AOX_V_MSG;
        dst->u.msg = aox_msg_clone(src->u.msg);
        if (!dst->u.msg) {
            memset(dst, 0, sizeof *dst);
            return AOX_E_NOMEM;
        }
        return AOX_OK;
    }
    return AOX_E_INVALID;
}

static uint64_t float_bits(double f)
{
    uint64_t b;
    if (isnan(f))
        return CANON_NAN;
    memcpy(&b, &f, 8);
    return b;
}

/* Equality is equality of canonical encodings: all NaNs are equal, -0.0 != 0.0. */
int aox_value_equal(const aox_value *a, const aox_value *b)
{
    if (a->type != b->type)
        return 0;
    switch (a->type) {
    case AOX_V_BYTES:
        return a->u.bytes.len == b->u.bytes.len &&
               (a->u.bytes.len == 0 ||
                memcmp(a->u.bytes.ptr, b->u.bytes.ptr, a->u.bytes.len) == 0);
    case AOX_V_INT:
        return a->u.i == b->u.i;
    case AOX_V_FLOAT:
        return float_bits(a->u.f) == float_bits(b->u.f);
    case AOX_V_LIST:
        if (a->u.list.len != b->u.list.len)
            return 0;
        for (size_t i = 0; i < a->u.list.len; i++)
            if (!aox_value_equal(&a->u.list.items[i], &b->u.list.items[i]))
                return 0;
        return 1;
    case AOX_V_MSG:
        return aox_msg_equal(a->u.msg, b->u.msg);
    }
    return 0;
}

int aox_msg_equal(const aox_msg *a, const aox_msg *b)
{
    if (a->n != b->n)
        return 0;
    for (size_t i = 0; i < a->n; i++) {
        if (a->e[i].klen != b->e[i].klen || strcmp(a->e[i].key, b->e[i].key) != 0)
            return 0;
        if (!aox_value_equal(&a->e[i].v, &b->e[i].v))
            return 0;
    }
    return 1;
}

/* ------------------------------------------------------------------ setters */

int aox_msg_set_bytes(aox_msg *m, const char *key, const void *p, size_t n)
{
    aox_value v;
    if (bytes_init(&v, p, n))
        return AOX_E_NOMEM;
    return put_owned(m, key, &v);
}

int aox_msg_set_str(aox_msg *m, const char *key, const char *s)
{
    return aox_msg_set_bytes(m, key, s, strlen(s));
}

int aox_msg_set_int(aox_msg *m, const char *key, int64_t i)
{
    aox_value v = { .type = AOX_V_INT, .u.i = i };
    return put_owned(m, key, &v);
}

int aox_msg_set_float(aox_msg *m, const char *key, double f)
{
    aox_value v = { .type = AOX_V_FLOAT, .u.f = f };
    return put_owned(m, key, &v);
}

int aox_msg_set_value(aox_msg *m, const char *key, const aox_value *src)
{
    aox_value v;
    int rc = aox_value_copy(&v, src);   /* copy first: src may live inside m */
    if (rc)
        return rc;
    return put_owned(m, key, &v);
}

int aox_msg_set_msg(aox_msg *m, const char *key, const aox_msg *sub)
{
    aox_msg *c = aox_msg_clone(sub);
    if (!c)
        return AOX_E_NOMEM;
    return aox_msg_take_msg(m, key, c);
}

int aox_msg_take_msg(aox_msg *m, const char *key, aox_msg *sub)
{
    if (!sub)
        return AOX_E_INVALID;
    aox_value v = { .type = AOX_V_MSG, .u.msg = sub };
    return put_owned(m, key, &v);
}

/* Appends owned *v to the list at key; v is freed on failure. */
static int list_append_owned(aox_msg *m, const char *key, aox_value *v)
{
    int rc = AOX_OK;
    if (!key_ok(key)) {
        rc = AOX_E_INVALID;
        goto fail;
    }
    long at = find(m, key);
    aox_value *lv;
    if (at >= 0) {
        lv = &m->e[at].v;
        if (lv->type != AOX_V_LIST) {
            rc = AOX_E_INVALID;
            goto fail;
        }
    } else {
        /* allocate the items first so that a failure leaves m unchanged */
        aox_value *items = malloc(sizeof *items);
        if (!items || !(lv = slot_for(m, key))) {
            free(items);
            rc = AOX_E_NOMEM;
            goto fail;
        }
        lv->type = AOX_V_LIST;
        lv->u.list.items = items;
        lv->u.list.items[0] = *v;
        lv->u.list.len = 1;
        return AOX_OK;
    }
    size_t n = lv->u.list.len;
    /* Grow to the next power of two: capacity is implicit in len. */
    if ((n & (n - 1)) == 0) {
        size_t ncap = n ? n * 2 : 1;
        aox_value *ni = realloc(lv->u.list.items, ncap * sizeof *ni);
        if (!ni) {
            rc = AOX_E_NOMEM;
            goto fail;
        }
        lv->u.list.items = ni;
    }
    lv->u.list.items[n] = *v;
    lv->u.list.len = n + 1;
    return AOX_OK;
fail:
    aox_value_free(v);
    return rc;
}

int aox_msg_list_append(aox_msg *m, const char *key, const aox_value *src)
{
    aox_value v;
    int rc = aox_value_copy(&v, src);
    if (rc)
        return rc;
    return list_append_owned(m, key, &v);
}

int aox_msg_list_append_msg(aox_msg *m, const char *key, aox_msg *sub)
{
    if (!sub)
        return AOX_E_INVALID;
    aox_value v = { .type = AOX_V_MSG, .u.msg = sub };
    return list_append_owned(m, key, &v);
}

int aox_msg_remove(aox_msg *m, const char *key)
{
    if (!key)
        return AOX_E_NOT_FOUND;
    long at = find(m, key);
    if (at < 0)
        return AOX_E_NOT_FOUND;
    free(m->e[at].key);
    aox_value_free(&m->e[at].v);
    memmove(&m->e[at], &m->e[at + 1], (m->n - (size_t)at - 1) * sizeof *m->e);
    m->n--;
    return AOX_OK;
}

/* ------------------------------------------------------------------ getters */

const aox_value *aox_msg_get(const aox_msg *m, const char *key)
{
    if (!m || !key)
        return NULL;
    long at = find(m, key);
    return at >= 0 ? &m->e[at].v : NULL;
}

const char *aox_msg_get_str(const aox_msg *m, const char *key, size_t *len)
{
    const aox_value *v = aox_msg_get(m, key);
    if (!v || v->type != AOX_V_BYTES)
        return NULL;
    if (len)
        *len = v->u.bytes.len;
    return (const char *)v->u.bytes.ptr;
}

/* Strict decimal: optional '-', 1..19 digits, no spaces, no '+', in int64 range. */
static int parse_i64(const uint8_t *s, size_t n, int64_t *out)
{
    size_t i = 0;
    int neg = 0;
    if (n > 0 && s[0] == '-') {
        neg = 1;
        i = 1;
    }
    if (i == n)
        return AOX_E_INVALID;
    uint64_t acc = 0;
    uint64_t lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return AOX_E_INVALID;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (acc > (lim - d) / 10)
            return AOX_E_INVALID;
        acc = acc * 10 + d;
    }
    if (neg)
        *out = acc == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)acc;
    else
        *out = (int64_t)acc;
    return AOX_OK;
}

int aox_msg_get_int(const aox_msg *m, const char *key, int64_t *out)
{
    const aox_value *v = aox_msg_get(m, key);
    if (!v)
        return AOX_E_NOT_FOUND;
    if (v->type == AOX_V_INT) {
        *out = v->u.i;
        return AOX_OK;
    }
    if (v->type == AOX_V_BYTES)
        return parse_i64(v->u.bytes.ptr, v->u.bytes.len, out);
    return AOX_E_INVALID;
}

const aox_msg *aox_msg_get_msg(const aox_msg *m, const char *key)
{
    const aox_value *v = aox_msg_get(m, key);
    return (v && v->type == AOX_V_MSG) ? v->u.msg : NULL;
}

size_t aox_msg_count(const aox_msg *m)
{
    return m ? m->n : 0;
}

const char *aox_msg_key_at(const aox_msg *m, size_t i)
{
    return (m && i < m->n) ? m->e[i].key : NULL;
}

const aox_value *aox_msg_value_at(const aox_msg *m, size_t i)
{
    return (m && i < m->n) ? &m->e[i].v : NULL;
}

/* ------------------------------------------------------------------ encoding */

static int enc_msg(const aox_msg *m, aox_buf *out, int depth);

static int enc_value(const aox_value *v, aox_buf *out, int depth)
{
    int rc;
    switch (v->type) {
    case AOX_V_BYTES:
        if ((rc = aox_buf_append_u8(out, 'B')) ||
            (rc = aox_buf_append_uleb(out, v->u.bytes.len)))
            return rc;
        return aox_buf_append(out, v->u.bytes.ptr, v->u.bytes.len);
    case AOX_V_INT:
        if ((rc = aox_buf_append_u8(out, 'I')))
            return rc;
        return aox_buf_append_be64(out, (uint64_t)v->u.i);
    case AOX_V_FLOAT:
        if ((rc = aox_buf_append_u8(out, 'F')))
            return rc;
        return aox_buf_append_be64(out, float_bits(v->u.f));
    case AOX_V_LIST:
        if (depth >= AOX_MSG_MAX_DEPTH)
            return AOX_E_INVALID;
        if ((rc = aox_buf_append_u8(out, 'L')) ||
            (rc = aox_buf_append_uleb(out, v->u.list.len)))
            return rc;
        for (size_t i = 0; i < v->u.list.len; i++)
            if ((rc = enc_value(&v->u.list.items[i], out, depth + 1)))
                return rc;
        return AOX_OK;
    case AOX_V_MSG:
        return enc_msg(v->u.msg, out, depth);
    }
    return AOX_E_INVALID;
}

/* depth: containers already open around this one (0 for the top level). */
static int enc_msg(const aox_msg *m, aox_buf *out, int depth)
{
    int rc;
    if (depth >= AOX_MSG_MAX_DEPTH)
        return AOX_E_INVALID;
    if ((rc = aox_buf_append_u8(out, 'M')) || (rc = aox_buf_append_uleb(out, m->n)))
        return rc;
    for (size_t i = 0; i < m->n; i++) {
        if ((rc = aox_buf_append_uleb(out, m->e[i].klen)) ||
            (rc = aox_buf_append(out, m->e[i].key, m->e[i].klen)) ||
            (rc = enc_value(&m->e[i].v, out, depth + 1)))
            return rc;
    }
    return AOX_OK;
}

int aox_msg_encode(const aox_msg *m, aox_buf *out)
{
    size_t mark = out->len;
    int rc = enc_msg(m, out, 0);
    if (rc) {
        out->len = mark;      /* leave out as it was */
        if (out->data)
            out->data[mark] = 0;
    }
    return rc;
}

/* ------------------------------------------------------------------ decoding */

typedef struct rd {
    const uint8_t *p;
    size_t         n, off;
    aox_err       *err;
} rd;

static int corrupt(rd *r, const char *what)
{
    return aox_err_set(r->err, AOX_E_CORRUPT, "message decode: %s at offset %zu",
                       what, r->off);
}

static int rd_uleb(rd *r, uint64_t *out)
{
    uint64_t v = 0;
    for (int i = 0; i < 10; i++) {
        if (r->off >= r->n)
            return corrupt(r, "truncated integer");
        uint8_t b = r->p[r->off++];
        if (i == 9 && b > 1)
            return corrupt(r, "integer overflow");
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            if (b == 0 && i > 0)
                return corrupt(r, "non-minimal integer");
            *out = v;
            return AOX_OK;
        }
    }
    return corrupt(r, "integer too long");
}

static int rd_be64(rd *r, uint64_t *out)
{
    if (r->n - r->off < 8)
        return corrupt(r, "truncated number");
    *out = aox_be_get(r->p + r->off, 8);
    r->off += 8;
    return AOX_OK;
}

static int dec_msg(rd *r, aox_msg **out, int depth);

/* Reads one value whose tag is next in the input. */
static int dec_value(rd *r, aox_value *v, int depth)
{
    int rc;
    uint64_t u = 0;
    memset(v, 0, sizeof *v);
    if (r->off >= r->n)
        return corrupt(r, "truncated value");
    uint8_t tag = r->p[r->off];
    switch (tag) {
    case 'B':
        r->off++;
        if ((rc = rd_uleb(r, &u)))
            return rc;
        if (u > r->n - r->off)
            return corrupt(r, "bytes length beyond input");
        if (bytes_init(v, r->p + r->off, (size_t)u))
            return aox_err_set(r->err, AOX_E_NOMEM, "message decode: out of memory");
        r->off += (size_t)u;
        return AOX_OK;
    case 'I':
        r->off++;
        if ((rc = rd_be64(r, &u)))
            return rc;
        v->type = AOX_V_INT;
        v->u.i = (int64_t)u;
        return AOX_OK;
    case 'F': {
        r->off++;
        if ((rc = rd_be64(r, &u)))
            return rc;
        double f;
        memcpy(&f, &u, 8);
        if (isnan(f) && u != CANON_NAN)
            return corrupt(r, "non-canonical NaN");
        v->type = AOX_V_FLOAT;
        v->u.f = f;
        return AOX_OK;
    }
    case 'L': {
        if (depth >= AOX_MSG_MAX_DEPTH)
            return corrupt(r, "nesting too deep");
        r->off++;
        if ((rc = rd_uleb(r, &u)))
            return rc;
        /* Every value takes at least 2 bytes: bound the count before allocating. */
        if (u > (r->n - r->off) / 2)
            return corrupt(r, "list count beyond input");
        v->type = AOX_V_LIST;
        if (u == 0)
            return AOX_OK;
        v->u.list.items = calloc((size_t)u, sizeof(aox_value));
        if (!v->u.list.items) {
            v->type = 0;
            return aox_err_set(r->err, AOX_E_NOMEM, "message decode: out of memory");
        }
        for (uint64_t i = 0; i < u; i++) {
            if ((rc = dec_value(r, &v->u.list.items[i], depth + 1))) {
                aox_value_free(v);
                return rc;
            }
            v->u.list.len++;
        }
        return AOX_OK;
    }
    case 'M':
        v->type = AOX_V_MSG;
        if ((rc = dec_msg(r, &v->u.msg, depth))) {
            v->type = 0;
            return rc;
        }
        return AOX_OK;
    default:
        return corrupt(r, "unknown tag");
    }
}

static int dec_msg(rd *r, aox_msg **out, int depth)
{
    int rc;
    uint64_t cnt;
    aox_msg *m = NULL;
    *out = NULL;
    if (depth >= AOX_MSG_MAX_DEPTH)
        return corrupt(r, "nesting too deep");
    if (r->off >= r->n)
        return corrupt(r, "truncated message");
    if (r->p[r->off] != 'M')
        return corrupt(r, "expected message");
    r->off++;
    if ((rc = rd_uleb(r, &cnt)))
        return rc;
    /* Every entry takes at least 4 bytes (klen, key, tag, length). */
    if (cnt > (r->n - r->off) / 4)
        return corrupt(r, "entry count beyond input");
    m = aox_msg_new();
    if (!m)
        goto oom;
    if (cnt) {
        m->e = calloc((size_t)cnt, sizeof *m->e);
        if (!m->e)
            goto oom;
        m->cap = (size_t)cnt;
    }
    for (uint64_t i = 0; i < cnt; i++) {
        uint64_t kl;
        if ((rc = rd_uleb(r, &kl)))
            goto fail;
        if (kl == 0) {
            rc = corrupt(r, "empty key");
            goto fail;
        }
        if (kl > r->n - r->off) {
            rc = corrupt(r, "key length beyond input");
            goto fail;
        }
        const uint8_t *kp = r->p + r->off;
        for (uint64_t j = 0; j < kl; j++) {
            if (kp[j] == 0 || (kp[j] >= 'A' && kp[j] <= 'Z')) {
                rc = corrupt(r, "key not lower-case text");
                goto fail;
            }
        }
        if (!aox_utf8_valid(kp, (size_t)kl)) {
            rc = corrupt(r, "key not UTF-8");
            goto fail;
        }
        if (m->n > 0) {
            const entry *pe = &m->e[m->n - 1];
            size_t ml = pe->klen < kl ? pe->klen : (size_t)kl;
            int c = memcmp(pe->key, kp, ml);
            if (c > 0 || (c == 0 && pe->klen >= kl)) {
                rc = corrupt(r, "keys not sorted or duplicated");
                goto fail;
            }
        }
        entry *e = &m->e[m->n];
        e->key = malloc((size_t)kl + 1);
        if (!e->key)
            goto oom;
        memcpy(e->key, kp, (size_t)kl);
        e->key[kl] = 0;
        e->klen = (size_t)kl;
        m->n++;
        r->off += (size_t)kl;
        if ((rc = dec_value(r, &e->v, depth + 1)))
            goto fail;
    }
    *out = m;
    return AOX_OK;
oom:
    rc = aox_err_set(r->err, AOX_E_NOMEM, "message decode: out of memory");
fail:
    aox_msg_free(m);
    return rc;
}

int aox_msg_decode(const uint8_t *p, size_t n, aox_msg **out, aox_err *err)
{
    rd r = { p, n, 0, err };
    aox_msg *m = NULL;
    *out = NULL;
    if (!p && n)
        return aox_err_set(err, AOX_E_INVALID, "message decode: NULL input");
    int rc = dec_msg(&r, &m, 0);
    if (rc)
        return rc;
    if (r.off != n) {
        aox_msg_free(m);
        return corrupt(&r, "trailing bytes");
    }
    *out = m;
    return AOX_OK;
}

/* ------------------------------------------------------------------ IDs */

int aox_msg_id(const aox_msg *m, char out[AOX_ID_LEN + 1])
{
    uint8_t h[AOX_HASH_LEN];
    int rc;
    const aox_value *sig = aox_msg_get(m, "signature");
    if (sig && sig->type == AOX_V_BYTES && aox_msg_get(m, "owner")) {
        aox_buf raw = { 0 };
        rc = aox_b64_decode((const char *)sig->u.bytes.ptr, sig->u.bytes.len, &raw);
        if (rc == AOX_OK && raw.len > 0) {
            aox_sha256(raw.data, raw.len, h);
            aox_buf_free(&raw);
            aox_id_from_hash(h, out);
            return AOX_OK;
        }
        aox_buf_free(&raw);
        if (rc == AOX_E_NOMEM)
            return rc;
        /* Not base64: fall through to the canonical rule. */
    }
    aox_buf enc = { 0 };
    rc = aox_msg_encode(m, &enc);
    if (rc == AOX_OK) {
        aox_sha256(enc.data, enc.len, h);
        aox_id_from_hash(h, out);
    }
    aox_buf_free(&enc);
    return rc;
}
