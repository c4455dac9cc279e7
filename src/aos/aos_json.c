/*
 * aos/aos_json.c: the aos JSON interface shapes (see aos_json.h).
 *
 * Built with jansson. Objects are emitted in insertion order, which is fixed by
 * this code, and tags come either in the order the sender gave them or in the
 * message's sorted key order, so the JSON a module sees is the same on every node.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aos/aos_json.h"
#include "core/id.h"
#include "core/json.h"
#include "device/device.h"

/* ------------------------------------------------------------------ helpers */

void aos_json_header_case(const char *key, char *out, size_t cap)
{
    size_t i = 0;
    int up = 1;
    if (!cap)
        return;
    for (; key[i] && i + 1 < cap; i++) {
        char c = key[i];
        if (up && c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        out[i] = c;
        up = c == '-';
    }
    out[i] = '\0';
}

static const char *const reserved_keys[] = {
    "id", "owner", "target", "anchor", "data", "signature", "tags", "original-tags",
    "commitments", "from", "module", "timestamp", "block-height", "hash-chain", NULL
};

static int is_reserved(const char *k)
{
    for (int i = 0; reserved_keys[i]; i++)
        if (strcmp(k, reserved_keys[i]) == 0)
            return 1;
    return 0;
}

/* A value as tag text: bytes as a string (lossy for non-UTF-8: base64url), ints in
 * decimal, floats %.17g, containers as their JSON text. New reference. */
static json_t *value_text(const aox_value *v)
{
    char tmp[64];
    switch (v->type) {
    case AOX_V_BYTES:
        if (aox_utf8_valid(v->u.bytes.ptr, v->u.bytes.len))
            return json_stringn((const char *)v->u.bytes.ptr, v->u.bytes.len);
        else {
            char *s = malloc(aox_b64url_len(v->u.bytes.len) + 1);
            if (!s)
                return NULL;
            aox_b64url_encode(v->u.bytes.ptr, v->u.bytes.len, s);
            json_t *j = json_string(s);
            free(s);
            return j;
        }
    case AOX_V_INT:
        snprintf(tmp, sizeof tmp, "%lld", (long long)v->u.i);
        return json_string(tmp);
    case AOX_V_FLOAT:
        snprintf(tmp, sizeof tmp, "%.17g", v->u.f);
        return json_string(tmp);
    default: {
        json_t *j = aox_value_to_json(v);
        if (!j)
            return NULL;
        char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
        json_decref(j);
        if (!s)
            return NULL;
        json_t *r = json_string(s);
        free(s);
        return r;
    }
    }
}

static const char *str_of(const aox_msg *m, const char *k)
{
    return m ? aox_msg_get_str(m, k, NULL) : NULL;
}

static json_t *tag_obj(json_t *name, json_t *value)
{
    json_t *o = json_object();
    if (!o || !name || !value || json_object_set_new(o, "name", name) ||
        json_object_set_new(o, "value", value)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* Tags from an explicit list of {name, value} messages; NULL if the list has
 * another shape (the caller then falls back to the keys). */
static json_t *tags_from_list(const aox_value *v)
{
    if (!v || v->type != AOX_V_LIST)
        return NULL;
    json_t *arr = json_array();
    if (!arr)
        return NULL;
    for (size_t i = 0; i < v->u.list.len; i++) {
        const aox_value *it = &v->u.list.items[i];
        if (it->type != AOX_V_MSG)
            goto fail;
        const aox_value *n = aox_msg_get(it->u.msg, "name");
        const aox_value *val = aox_msg_get(it->u.msg, "value");
        if (!n || !val || n->type != AOX_V_BYTES)
            goto fail;
        json_t *t = tag_obj(value_text(n), value_text(val));
        if (!t || json_array_append_new(arr, t))
            goto fail;
    }
    return arr;
fail:
    json_decref(arr);
    return NULL;
}

static json_t *tags_of(const aox_msg *m)
{
    json_t *arr = tags_from_list(aox_msg_get(m, "original-tags"));
    if (!arr)
        arr = tags_from_list(aox_msg_get(m, "tags"));
    if (arr)
        return arr;
    arr = json_array();
    if (!arr)
        return NULL;
    for (size_t i = 0; i < aox_msg_count(m); i++) {
        const char *k = aox_msg_key_at(m, i);
        char name[256];
        if (is_reserved(k))
            continue;
        aos_json_header_case(k, name, sizeof name);
        json_t *t = tag_obj(json_string(name), value_text(aox_msg_value_at(m, i)));
        if (!t || json_array_append_new(arr, t)) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

void aos_json_owner_address(const aox_msg *msg, char out[AOX_ID_LEN + 1])
{
    out[0] = '\0';
    const aox_value *v = msg ? aox_msg_get(msg, "owner") : NULL;
    if (!v || v->type != AOX_V_BYTES || v->u.bytes.len == 0)
        return;
    const char *s = (const char *)v->u.bytes.ptr;
    if (v->u.bytes.len == AOX_ID_LEN && aox_id_valid(s)) {
        memcpy(out, s, AOX_ID_LEN + 1);
        return;
    }
    uint8_t h[AOX_HASH_LEN];
    aox_buf key = {0};
    if (aox_utf8_valid(s, v->u.bytes.len) && aox_b64_decode(s, v->u.bytes.len, &key) == 0 &&
        key.len > 0)
        aox_sha256(key.data, key.len, h);
    else
        aox_sha256(v->u.bytes.ptr, v->u.bytes.len, h);
    aox_buf_free(&key);
    aox_id_from_hash(h, out);
}

static int set_str(json_t *o, const char *k, const char *v)
{
    return json_object_set_new(o, k, json_string(v ? v : ""));
}

static int dump_into(json_t *j, aox_buf *out, aox_err *err)
{
    char *s = json_dumps(j, JSON_COMPACT);
    if (!s)
        return aox_err_set(err, AOX_E_NOMEM, "json: out of memory");
    int rc = aox_buf_append_str(out, s);
    free(s);
    return rc ? aox_err_set(err, rc, "json: out of memory") : AOX_OK;
}

/* ------------------------------------------------------------------ message */

int aos_json_message(const aox_msg *msg, const aos_json_ctx *ctx, aox_buf *out, aox_err *err)
{
    char idbuf[AOX_ID_LEN + 1], owner[AOX_ID_LEN + 1];
    const char *id = ctx->id;
    int rc;
    if (!id) {
        rc = aox_msg_id(msg, idbuf);
        if (rc)
            return aox_err_set(err, rc, "json-iface: cannot compute message id");
        id = idbuf;
    }
    aos_json_owner_address(msg, owner);
    json_t *o = json_object();
    if (!o)
        return aox_err_set(err, AOX_E_NOMEM, "json: out of memory");
    const char *from = str_of(msg, "from-process");
    if (!from)
        from = str_of(msg, "from");
    if (!from)
        from = owner;
    const char *target = str_of(msg, "target");
    const aox_value *data = aox_msg_get(msg, "data");
    json_t *jdata;
    if (!data)
        jdata = json_string("");
    else if (data->type == AOX_V_BYTES)
        jdata = aox_utf8_valid(data->u.bytes.ptr, data->u.bytes.len)
                    ? json_stringn((const char *)data->u.bytes.ptr, data->u.bytes.len)
                    : json_null();
    else
        jdata = value_text(data);
    int bad = set_str(o, "Id", id);
    bad |= set_str(o, "Owner", owner);
    bad |= set_str(o, "From", from);
    bad |= set_str(o, "Target", target ? target : ctx->pid);
    if (aox_msg_get(msg, "anchor")) {
        const aox_value *a = aox_msg_get(msg, "anchor");
        bad |= json_object_set_new(o, "Anchor", value_text(a));
    }
    bad |= json_object_set_new(o, "Tags", tags_of(msg));
    bad |= json_object_set_new(o, "Data", jdata);
    bad |= set_str(o, "Module", ctx->module_id);
    bad |= json_object_set_new(o, "Block-Height", json_integer(ctx->block_height));
    bad |= json_object_set_new(o, "Timestamp", json_integer(ctx->timestamp));
    if (aox_msg_get(msg, "signature"))
        bad |= json_object_set_new(o, "Signature", value_text(aox_msg_get(msg, "signature")));
    if (ctx->hash_chain)
        bad |= set_str(o, "Hash-Chain", ctx->hash_chain);
    rc = bad ? aox_err_set(err, AOX_E_NOMEM, "json: out of memory") : dump_into(o, out, err);
    json_decref(o);
    return rc;
}

int aos_json_env(const aox_msg *def, const aos_json_ctx *ctx, const char *module_tags_json,
                 size_t module_tags_len, aox_buf *out, aox_err *err)
{
    char owner[AOX_ID_LEN + 1];
    aos_json_owner_address(def, owner);
    json_t *env = json_object(), *proc = json_object(), *mod = json_object();
    json_t *mtags = NULL;
    if (module_tags_json && module_tags_len) {
        mtags = json_loadb(module_tags_json, module_tags_len, 0, NULL);
        if (mtags && !json_is_array(mtags)) {
            json_decref(mtags);
            mtags = NULL;
        }
    }
    if (!mtags)
        mtags = json_array();
    int bad = !env || !proc || !mod;
    if (!bad) {
        bad |= set_str(proc, "Id", ctx->pid);
        bad |= set_str(proc, "Owner", owner);
        bad |= json_object_set_new(proc, "Tags", tags_of(def));
        bad |= set_str(mod, "Id", ctx->module_id);
        bad |= json_object_set(mod, "Tags", mtags);
        bad |= json_object_set(env, "Process", proc);
        bad |= json_object_set(env, "Module", mod);
    }
    int rc = bad ? aox_err_set(err, AOX_E_NOMEM, "json: out of memory") : dump_into(env, out, err);
    json_decref(mtags);
    json_decref(proc);
    json_decref(mod);
    json_decref(env);
    return rc;
}

char *aos_json_tag_value(const char *tags_json, size_t n, const char *name)
{
    json_t *arr = json_loadb(tags_json, n, 0, NULL);
    char *res = NULL;
    size_t i;
    json_t *t;
    if (!json_is_array(arr))
        goto done;
    json_array_foreach(arr, i, t) {
        const char *tn = json_string_value(json_object_get(t, "name"));
        const char *tv = json_string_value(json_object_get(t, "value"));
        if (tn && tv && strcasecmp(tn, name) == 0) {
            res = strdup(tv);
            break;
        }
    }
done:
    json_decref(arr);
    return res;
}

/* ------------------------------------------------------------------ result */

static int jval_to_value(const json_t *j, aox_value *v, int depth);

/* JSON object -> message with lower-cased keys; nulls and bad keys dropped. */
static aox_msg *jobj_to_msg(const json_t *j, int depth)
{
    aox_msg *m = aox_msg_new();
    const char *k;
    json_t *jv;
    if (!m)
        return NULL;
    json_object_foreach((json_t *)j, k, jv) {
        aox_value v;
        int rc = jval_to_value(jv, &v, depth + 1);
        if (rc == 1)
            continue;                       /* null or too deep: dropped */
        if (rc) {
            aox_msg_free(m);
            return NULL;
        }
        rc = aox_msg_set_value(m, k, &v);
        aox_value_free(&v);
        if (rc == AOX_E_NOMEM) {
            aox_msg_free(m);
            return NULL;
        }
    }
    return m;
}

/* 0 ok, 1 skip (null / too deep), -1 OOM */
static int jval_to_value(const json_t *j, aox_value *v, int depth)
{
    memset(v, 0, sizeof *v);
    if (depth >= AOX_MSG_MAX_DEPTH - 1)
        return 1;
    switch (json_typeof(j)) {
    case JSON_STRING: {
        size_t n = json_string_length(j);
        v->u.bytes.ptr = malloc(n + 1);
        if (!v->u.bytes.ptr)
            return -1;
        memcpy(v->u.bytes.ptr, json_string_value(j), n);
        v->u.bytes.ptr[n] = 0;
        v->u.bytes.len = n;
        v->type = AOX_V_BYTES;
        return 0;
    }
    case JSON_INTEGER:
        v->type = AOX_V_INT;
        v->u.i = (int64_t)json_integer_value(j);
        return 0;
    case JSON_REAL:
        v->type = AOX_V_FLOAT;
        v->u.f = json_real_value(j);
        return 0;
    case JSON_TRUE:
    case JSON_FALSE:
        v->type = AOX_V_INT;
        v->u.i = json_is_true(j);
        return 0;
    case JSON_NULL:
        return 1;
    case JSON_ARRAY: {
        size_t n = json_array_size(j), k = 0;
        v->type = AOX_V_LIST;
        v->u.list.items = n ? calloc(n, sizeof *v->u.list.items) : NULL;
        if (n && !v->u.list.items)
            return -1;
        for (size_t i = 0; i < n; i++) {
            int rc = jval_to_value(json_array_get(j, i), &v->u.list.items[k], depth + 1);
            if (rc < 0) {
                v->u.list.len = k;
                aox_value_free(v);
                return -1;
            }
            if (rc == 0)
                k++;
        }
        v->u.list.len = k;
        return 0;
    }
    case JSON_OBJECT:
        v->type = AOX_V_MSG;
        v->u.msg = jobj_to_msg(j, depth);
        return v->u.msg ? 0 : -1;
    }
    return 1;
}

static int set_json(aox_msg *m, const char *key, const json_t *j)
{
    aox_value v;
    int rc = jval_to_value(j, &v, 1);
    if (rc == 1)
        return 0;
    if (rc)
        return AOX_E_NOMEM;
    rc = aox_msg_set_value(m, key, &v);
    aox_value_free(&v);
    return rc == AOX_E_NOMEM ? rc : 0;
}

/* A legacy outgoing message {Target, Data, Anchor, Tags[]} -> aox message. */
static aox_msg *legacy_to_msg(const json_t *j, const aos_json_ctx *ctx)
{
    aox_msg *m = aox_msg_new();
    const char *k;
    json_t *jv;
    if (!m)
        return NULL;
    if (!json_is_object(j))
        goto done;
    json_object_foreach((json_t *)j, k, jv) {
        if (strcasecmp(k, "Tags") == 0)
            continue;
        if (set_json(m, k, jv))
            goto fail;
    }
    json_t *tags = json_object_get(j, "Tags");
    if (json_is_array(tags)) {
        size_t i;
        json_t *t;
        json_array_foreach(tags, i, t) {
            const char *tn = json_string_value(json_object_get(t, "name"));
            json_t *tv = json_object_get(t, "value");
            if (!tn || !tv)
                continue;
            if (set_json(m, tn, tv))
                goto fail;
        }
        if (set_json(m, "original-tags", tags))
            goto fail;
    }
done:
    if (aox_msg_set_str(m, "from-process", ctx->pid))
        goto fail;
    if (ctx->module_id && ctx->module_id[0] && aox_msg_set_str(m, "from-image", ctx->module_id))
        goto fail;
    return m;
fail:
    aox_msg_free(m);
    return NULL;
}

static int add_list(aox_msg *result, const char *key, const json_t *arr,
                    const aos_json_ctx *ctx, int legacy)
{
    size_t i;
    json_t *it;
    if (!json_is_array(arr))
        return 0;
    json_array_foreach(arr, i, it) {
        aox_msg *m = legacy ? legacy_to_msg(it, ctx)
                            : (json_is_object(it) ? jobj_to_msg(it, 1) : aox_msg_new());
        if (!m)
            return AOX_E_NOMEM;
        int rc = aox_msg_list_append_msg(result, key, m);
        if (rc)
            return rc;
    }
    return 0;
}

static char *text_of(const json_t *j)
{
    if (json_is_string(j))
        return strdup(json_string_value(j));
    return json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
}

int aos_json_result(const char *text, size_t n, const aos_json_ctx *ctx, aox_msg *result)
{
    json_error_t jerr;
    json_t *root = json_loadb(text, n, 0, &jerr);
    int rc = AOX_OK;
    if (!root || !json_is_object(root)) {
        rc = aox_result_set_error(result, AOX_E_GUEST,
                                  "JSON error parsing result output: %s",
                                  root ? "not an object" : jerr.text);
        goto done;
    }
    json_t *ok = json_object_get(root, "ok");
    json_t *resp = json_object_get(root, "response");
    if (!json_is_true(ok)) {
        char *s = resp ? text_of(resp) : NULL;
        rc = aox_result_set_error(result, AOX_E_GUEST, "%s",
                                  s ? s : (ok ? "handle failed" : "result has no ok field"));
        free(s);
        goto done;
    }
    if (!json_is_object(resp)) {
        rc = aox_result_set_error(result, AOX_E_GUEST, "JSON error parsing result output: "
                                  "response is not an object");
        goto done;
    }
    json_t *jo = json_object_get(resp, "Output");
    if (jo && (rc = set_json(result, "output", jo)))
        goto done;
    if ((rc = add_list(result, "outbox", json_object_get(resp, "Messages"), ctx, 1)) ||
        (rc = add_list(result, "spawns", json_object_get(resp, "Spawns"), ctx, 1)) ||
        (rc = add_list(result, "assignments", json_object_get(resp, "Assignments"), ctx, 0)))
        goto done;
    json_t *je = json_object_get(resp, "Error");
    if (je && !json_is_null(je) && !(json_is_string(je) && json_string_length(je) == 0) &&
        !json_is_false(je)) {
        char *s = text_of(je);
        rc = aox_result_set_error(result, AOX_E_GUEST, "%s", s ? s : "error");
        free(s);
    }
done:
    json_decref(root);
    return rc == AOX_E_NOMEM ? rc : AOX_OK;
}
