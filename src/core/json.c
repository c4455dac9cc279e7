/*
 * core/json.c: messages to and from JSON (json.h), on jansson.
 *
 * Tagged forms (a JSON object with exactly one member whose value is a string):
 *   {"@b64": "<base64url>"}        bytes that are not valid UTF-8
 *   {"@float": "nan"|"inf"|"-inf"} a non-finite float (JSON has no literal for it)
 * A message whose only entry is "@b64" or "@float" with a bytes value would read
 * back as a tagged form, so it is written with its value in @b64 form instead:
 * {"@b64": {"@b64": "..."}}, which reads back as that message.
 */
#include "core/json.h"
#include "core/id.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ allocation */

/* jansson's lexer drops a character when its buffer cannot grow, so a parse under
 * memory pressure can "succeed" with wrong content (a digit missing from a number;
 * tests/core: oom). Every jansson allocation therefore goes through these wrappers,
 * installed once, which flag a failure for the calling thread; a parse or dump that
 * saw one reports AOX_E_NOMEM whatever jansson returned. */
static _Thread_local int json_oom;
static pthread_once_t json_alloc_once = PTHREAD_ONCE_INIT;

static void *json_malloc_hook(size_t n)
{
    void *p = malloc(n);
    if (!p)
        json_oom = 1;
    return p;
}

static void json_free_hook(void *p)
{
    free(p);
}

static void json_alloc_install(void)
{
    json_set_alloc_funcs(json_malloc_hook, json_free_hook);
}

static void json_guard_begin(void)
{
    pthread_once(&json_alloc_once, json_alloc_install);
    json_oom = 0;
}

/* ------------------------------------------------------------------ JSON -> msg */

static int obj_to_msg(const json_t *j, aox_msg **out, int depth, aox_err *err);

static int is_tag(const char *k)
{
    return strcmp(k, "@b64") == 0 || strcmp(k, "@float") == 0;
}

static int json_to_value(const json_t *j, aox_value *v, int depth, aox_err *err)
{
    memset(v, 0, sizeof *v);
    switch (json_typeof(j)) {
    case JSON_STRING: {
        size_t n = json_string_length(j);
        uint8_t *p = malloc(n + 1);
        if (!p)
            return aox_err_set(err, AOX_E_NOMEM, "out of memory");
        memcpy(p, json_string_value(j), n);
        p[n] = 0;
        v->type = AOX_V_BYTES;
        v->u.bytes.ptr = p;
        v->u.bytes.len = n;
        return AOX_OK;
    }
    case JSON_INTEGER:
        v->type = AOX_V_INT;
        v->u.i = (int64_t)json_integer_value(j);
        return AOX_OK;
    case JSON_REAL:
        v->type = AOX_V_FLOAT;
        v->u.f = json_real_value(j);
        return AOX_OK;
    case JSON_TRUE:
    case JSON_FALSE:
        v->type = AOX_V_INT;
        v->u.i = json_is_true(j) ? 1 : 0;
        return AOX_OK;
    case JSON_NULL:
        return aox_err_set(err, AOX_E_BAD_JSON, "null is not a message value");
    case JSON_ARRAY: {
        if (depth >= AOX_MSG_MAX_DEPTH)
            return aox_err_set(err, AOX_E_BAD_JSON, "nesting deeper than %d",
                               AOX_MSG_MAX_DEPTH);
        size_t n = json_array_size(j);
        v->type = AOX_V_LIST;
        if (n == 0)
            return AOX_OK;
        v->u.list.items = calloc(n, sizeof(aox_value));
        if (!v->u.list.items) {
            v->type = 0;
            return aox_err_set(err, AOX_E_NOMEM, "out of memory");
        }
        for (size_t i = 0; i < n; i++) {
            int rc = json_to_value(json_array_get(j, i), &v->u.list.items[i],
                                   depth + 1, err);
            if (rc) {
                aox_value_free(v);
                return rc;
            }
            v->u.list.len++;
        }
        return AOX_OK;
    }
    case JSON_OBJECT: {
        if (json_object_size(j) == 1) {
            const char *k = json_object_iter_key(json_object_iter((json_t *)j));
            const json_t *s = json_object_get(j, k);
            if (json_is_string(s) && strcmp(k, "@b64") == 0) {
                aox_buf b = { 0 };
                int rc = aox_b64_decode(json_string_value(s), json_string_length(s), &b);
                if (rc) {
                    aox_buf_free(&b);
                    return aox_err_set(err, rc == AOX_E_NOMEM ? rc : AOX_E_BAD_JSON,
                                       "\"@b64\" value is not base64");
                }
                if (!b.data && aox_buf_reserve(&b, 0))
                    return aox_err_set(err, AOX_E_NOMEM, "out of memory");
                v->type = AOX_V_BYTES;
                v->u.bytes.len = b.len;
                v->u.bytes.ptr = aox_buf_steal(&b, NULL);
                return AOX_OK;
            }
            if (json_is_string(s) && strcmp(k, "@float") == 0) {
                const char *t = json_string_value(s);
                v->type = AOX_V_FLOAT;
                if (strcmp(t, "nan") == 0)
                    v->u.f = NAN;
                else if (strcmp(t, "inf") == 0)
                    v->u.f = INFINITY;
                else if (strcmp(t, "-inf") == 0)
                    v->u.f = -INFINITY;
                else {
                    v->type = 0;
                    return aox_err_set(err, AOX_E_BAD_JSON,
                                       "\"@float\" must be \"nan\", \"inf\" or \"-inf\"");
                }
                return AOX_OK;
            }
        }
        aox_msg *m = NULL;
        int rc = obj_to_msg(j, &m, depth, err);
        if (rc)
            return rc;
        v->type = AOX_V_MSG;
        v->u.msg = m;
        return AOX_OK;
    }
    }
    return aox_err_set(err, AOX_E_BAD_JSON, "unsupported JSON type");
}

/* depth: containers open around this object (0 at the top level). */
static int obj_to_msg(const json_t *j, aox_msg **out, int depth, aox_err *err)
{
    int rc = AOX_OK;
    const char *k;
    json_t *jv;
    *out = NULL;
    if (!json_is_object(j))
        return aox_err_set(err, AOX_E_BAD_JSON, "expected a JSON object");
    if (depth >= AOX_MSG_MAX_DEPTH)
        return aox_err_set(err, AOX_E_BAD_JSON, "nesting deeper than %d",
                           AOX_MSG_MAX_DEPTH);
    aox_msg *m = aox_msg_new();
    if (!m)
        return aox_err_set(err, AOX_E_NOMEM, "out of memory");
    json_object_foreach((json_t *)j, k, jv) {
        if (!k[0]) {
            rc = aox_err_set(err, AOX_E_BAD_JSON, "empty key");
            goto fail;
        }
        if (aox_msg_get(m, k)) {
            rc = aox_err_set(err, AOX_E_BAD_JSON,
                             "duplicate key \"%.200s\" (keys are case-insensitive)", k);
            goto fail;
        }
        aox_value v;
        if ((rc = json_to_value(jv, &v, depth + 1, err)))
            goto fail;
        /* Nested messages move in; other values are copied by set_value. */
        if (v.type == AOX_V_MSG) {
            rc = aox_msg_take_msg(m, k, v.u.msg);
        } else {
            rc = aox_msg_set_value(m, k, &v);
            aox_value_free(&v);
        }
        if (rc) {
            aox_err_set(err, rc, rc == AOX_E_NOMEM ? "out of memory"
                                                   : "invalid key \"%.200s\"", k);
            goto fail;
        }
    }
    *out = m;
    return AOX_OK;
fail:
    aox_msg_free(m);
    return rc;
}

int aox_msg_from_json(const json_t *j, aox_msg **out, aox_err *err)
{
    return obj_to_msg(j, out, 0, err);
}

int aox_msg_from_json_text(const char *text, size_t n, aox_msg **out, aox_err *err)
{
    json_error_t je;
    *out = NULL;
    json_guard_begin();
    json_t *j = json_loadb(text, n, JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &je);
    if (json_oom || (!j && json_error_code(&je) == json_error_out_of_memory)) {
        json_decref(j);
        return aox_err_set(err, AOX_E_NOMEM, "out of memory parsing JSON");
    }
    if (!j) {
        return aox_err_set(err, AOX_E_BAD_JSON, "bad JSON at line %d, column %d: %s",
                           je.line, je.column, je.text);
    }
    int rc = aox_msg_from_json(j, out, err);
    json_decref(j);
    return rc;
}

/* ------------------------------------------------------------------ msg -> JSON */

static json_t *b64_obj(const uint8_t *p, size_t n)
{
    char *t = malloc(aox_b64url_len(n) + 1);
    if (!t)
        return NULL;
    aox_b64url_encode(p, n, t);
    json_t *o = json_object();
    if (o && json_object_set_new(o, "@b64", json_string(t))) {
        json_decref(o);
        o = NULL;
    }
    free(t);
    return o;
}

json_t *aox_value_to_json(const aox_value *v)
{
    switch (v->type) {
    case AOX_V_BYTES:
        if (aox_utf8_valid(v->u.bytes.ptr, v->u.bytes.len))
            return json_stringn_nocheck((const char *)v->u.bytes.ptr, v->u.bytes.len);
        return b64_obj(v->u.bytes.ptr, v->u.bytes.len);
    case AOX_V_INT:
        return json_integer((json_int_t)v->u.i);
    case AOX_V_FLOAT: {
        double f = v->u.f;
        if (isfinite(f))
            return json_real(f);
        json_t *o = json_object();
        const char *t = isnan(f) ? "nan" : f > 0 ? "inf" : "-inf";
        if (o && json_object_set_new(o, "@float", json_string(t))) {
            json_decref(o);
            o = NULL;
        }
        return o;
    }
    case AOX_V_LIST: {
        json_t *a = json_array();
        if (!a)
            return NULL;
        for (size_t i = 0; i < v->u.list.len; i++) {
            if (json_array_append_new(a, aox_value_to_json(&v->u.list.items[i]))) {
                json_decref(a);
                return NULL;
            }
        }
        return a;
    }
    case AOX_V_MSG:
        return aox_msg_to_json(v->u.msg);
    }
    return NULL;
}

json_t *aox_msg_to_json(const aox_msg *m)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    size_t n = aox_msg_count(m);
    for (size_t i = 0; i < n; i++) {
        const char *k = aox_msg_key_at(m, i);
        const aox_value *v = aox_msg_value_at(m, i);
        json_t *jv;
        if (n == 1 && v->type == AOX_V_BYTES && is_tag(k))
            jv = b64_obj(v->u.bytes.ptr, v->u.bytes.len);   /* see file comment */
        else
            jv = aox_value_to_json(v);
        /* json_object_set_new consumes jv (and fails) when jv is NULL. */
        if (json_object_set_new_nocheck(o, k, jv)) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

/* ------------------------------------------------------------------ msg -> text */

/* The text writer produces exactly what json_dumps(aox_msg_to_json(m), JSON_COMPACT |
 * JSON_SORT_KEYS | JSON_REAL_PRECISION(17)) would (tests/core: json checks this on
 * random messages), without building a jansson tree: about ten times faster. */

static void put_str(aox_buf *b, const uint8_t *p, size_t n, int *rc)
{
    static const char hex[] = "0123456789ABCDEF";    /* jansson writes \u001F */
    *rc |= aox_buf_append_u8(b, '"');
    size_t run = 0;                     /* start of the pending unescaped run */
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        const char *e = NULL;
        char u[6];
        if (c == '"') e = "\\\"";
        else if (c == '\\') e = "\\\\";
        else if (c == '\b') e = "\\b";
        else if (c == '\f') e = "\\f";
        else if (c == '\n') e = "\\n";
        else if (c == '\r') e = "\\r";
        else if (c == '\t') e = "\\t";
        else if (c < 0x20) {
            u[0] = '\\'; u[1] = 'u'; u[2] = '0'; u[3] = '0';
            u[4] = hex[c >> 4]; u[5] = hex[c & 15];
        } else {
            continue;
        }
        *rc |= aox_buf_append(b, p + run, i - run);
        if (e)
            *rc |= aox_buf_append_str(b, e);
        else
            *rc |= aox_buf_append(b, u, 6);
        run = i + 1;
    }
    *rc |= aox_buf_append(b, p + run, n - run);
    *rc |= aox_buf_append_u8(b, '"');
}

static void put_b64(aox_buf *b, const uint8_t *p, size_t n, int *rc)
{
    size_t tl = aox_b64url_len(n);
    *rc |= aox_buf_append_str(b, "{\"@b64\":\"");
    if (aox_buf_reserve(b, tl + 1) == AOX_OK) {
        aox_b64url_encode(p, n, (char *)b->data + b->len);
        b->len += tl;
    } else {
        *rc |= AOX_E_NOMEM;
    }
    *rc |= aox_buf_append_str(b, "\"}");
}

/* jansson's real format: %.17g, then ".0" if it has neither '.' nor 'e', then no '+'
 * and no leading zeros in the exponent. */
static void put_real(aox_buf *b, double f, int *rc)
{
    char t[40];
    int n = snprintf(t, sizeof t, "%.17g", f);
    if (n < 0 || (size_t)n >= sizeof t - 3) {
        *rc |= AOX_E_INTERNAL;
        return;
    }
    if (!strchr(t, '.') && !strchr(t, 'e')) {
        memcpy(t + n, ".0", 3);
        n += 2;
    }
    char *e = strchr(t, 'e');
    if (e) {
        char *d = e + 1, *q = e + 1;
        if (*q == '+')
            q++;
        else if (*q == '-')
            d = ++q;
        while (*q == '0' && q[1])
            q++;
        memmove(d, q, strlen(q) + 1);
        n = (int)strlen(t);
    }
    *rc |= aox_buf_append(b, t, (size_t)n);
}

static void put_msg(aox_buf *b, const aox_msg *m, int *rc);

static void put_value(aox_buf *b, const aox_value *v, int *rc)
{
    switch (v->type) {
    case AOX_V_BYTES:
        if (aox_utf8_valid(v->u.bytes.ptr, v->u.bytes.len))
            put_str(b, v->u.bytes.ptr, v->u.bytes.len, rc);
        else
            put_b64(b, v->u.bytes.ptr, v->u.bytes.len, rc);
        return;
    case AOX_V_INT:
        *rc |= aox_buf_printf(b, "%lld", (long long)v->u.i);
        return;
    case AOX_V_FLOAT:
        if (isfinite(v->u.f))
            put_real(b, v->u.f, rc);
        else
            *rc |= aox_buf_printf(b, "{\"@float\":\"%s\"}",
                                  isnan(v->u.f) ? "nan" : v->u.f > 0 ? "inf" : "-inf");
        return;
    case AOX_V_LIST:
        *rc |= aox_buf_append_u8(b, '[');
        for (size_t i = 0; i < v->u.list.len; i++) {
            if (i)
                *rc |= aox_buf_append_u8(b, ',');
            put_value(b, &v->u.list.items[i], rc);
        }
        *rc |= aox_buf_append_u8(b, ']');
        return;
    case AOX_V_MSG:
        put_msg(b, v->u.msg, rc);
        return;
    }
    *rc |= AOX_E_INTERNAL;
}

static void put_msg(aox_buf *b, const aox_msg *m, int *rc)
{
    size_t n = aox_msg_count(m);
    *rc |= aox_buf_append_u8(b, '{');
    for (size_t i = 0; i < n; i++) {
        const char *k = aox_msg_key_at(m, i);
        const aox_value *v = aox_msg_value_at(m, i);
        if (i)
            *rc |= aox_buf_append_u8(b, ',');
        put_str(b, (const uint8_t *)k, strlen(k), rc);
        *rc |= aox_buf_append_u8(b, ':');
        if (n == 1 && v->type == AOX_V_BYTES && is_tag(k))
            put_b64(b, v->u.bytes.ptr, v->u.bytes.len, rc);   /* see file comment */
        else
            put_value(b, v, rc);
    }
    *rc |= aox_buf_append_u8(b, '}');
}

int aox_msg_to_json_text(const aox_msg *m, aox_buf *out)
{
    size_t mark = out->len;
    int rc = 0;
    put_msg(out, m, &rc);
    if (rc) {
        /* codes are OR-ed together: report memory, which is the only real cause */
        out->len = mark;
        if (out->data)
            out->data[mark] = 0;
        return AOX_E_NOMEM;
    }
    return AOX_OK;
}

json_t *aox_err_to_json(const aox_err *err)
{
    int code = err ? err->code : AOX_E_INTERNAL;
    const char *msg = (err && err->msg[0]) ? err->msg : aox_code_name(code);
    char clean[AOX_ERR_MSG_MAX];
    size_t n = strnlen(msg, sizeof clean - 1);
    memcpy(clean, msg, n);
    clean[n] = 0;
    if (!aox_utf8_valid(clean, n)) {
        /* Messages may quote caller input: keep JSON valid by masking non-ASCII. */
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)clean[i] >= 0x80)
                clean[i] = '?';
    }
    json_t *inner = json_pack("{s:s,s:s}", "code", aox_code_name(code), "message", clean);
    if (!inner)
        return NULL;
    json_t *o = json_object();
    if (!o) {
        json_decref(inner);
        return NULL;
    }
    if (json_object_set_new(o, "error", inner)) {
        json_decref(o);
        return NULL;
    }
    return o;
}
