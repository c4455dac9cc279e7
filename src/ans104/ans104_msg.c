/*
 * ans104/ans104_msg.c: a parsed data item as an aox message (ans104.h documents
 * the keys and the tag-copy rule).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ans104/ans104_int.h"
#include "core/id.h"

/* Keys the item itself fills; a tag never overwrites them. */
static const char *const reserved[] = {
    "id", "owner", "from", "target", "anchor", "tags", "data", "signature",
    "signature-type", NULL
};

static int is_reserved(const char *k)
{
    for (int i = 0; reserved[i]; i++)
        if (strcmp(k, reserved[i]) == 0) return 1;
    return 0;
}

static int set_b64(aox_msg *m, const char *key, const uint8_t *p, size_t n)
{
    char *s = malloc(aox_b64url_len(n) + 1);
    if (!s) return AOX_E_NOMEM;
    aox_b64url_encode(p, n, s);
    int rc = aox_msg_set_str(m, key, s);
    free(s);
    return rc;
}

int aox_ans104_to_msg(const aox_ans104_item *it, aox_msg **out, aox_err *err)
{
    int rc = AOX_E_NOMEM;
    aox_msg *m = aox_msg_new(), *t = NULL;
    char id[AOX_ID_LEN + 1], from[AOX_ANS104_ADDR_LEN + 1];
    char *lower = NULL;
    const uint8_t *p;
    size_t n;

    *out = NULL;
    if (!m) goto fail;
    aox_ans104_id(it, id);
    aox_ans104_owner_address(it, from);
    if ((rc = aox_msg_set_str(m, "id", id)) || (rc = aox_msg_set_str(m, "from", from)))
        goto fail;
    p = aox_ans104_owner(it, &n);
    if ((rc = set_b64(m, "owner", p, n))) goto fail;
    p = aox_ans104_signature(it, &n);
    if ((rc = set_b64(m, "signature", p, n))) goto fail;
    if ((rc = aox_msg_set_int(m, "signature-type", it->sig_type))) goto fail;
    if ((p = aox_ans104_target(it, &n)) && (rc = set_b64(m, "target", p, n))) goto fail;
    if ((p = aox_ans104_anchor(it, &n)) && (rc = aox_msg_set_bytes(m, "anchor", p, n)))
        goto fail;
    p = aox_ans104_data(it, &n);
    if ((rc = aox_msg_set_bytes(m, "data", p, n))) goto fail;

    /* `tags`, always present (an empty list has to exist as a value too) */
    for (size_t i = 0; i < it->tag_count; i++) {
        const aox_ans104_tag *tg = &it->tags[i];
        t = aox_msg_new();
        if (!t) { rc = AOX_E_NOMEM; goto fail; }
        if ((rc = aox_msg_set_bytes(t, "name", tg->name, tg->name_len)) ||
            (rc = aox_msg_set_bytes(t, "value", tg->value, tg->value_len)))
            goto fail;
        rc = aox_msg_list_append_msg(m, "tags", t);   /* takes t */
        t = NULL;
        if (rc) goto fail;
    }
    if (it->tag_count == 0) {
        aox_value v;
        memset(&v, 0, sizeof v);
        v.type = AOX_V_LIST;                   /* empty list: items NULL, len 0 */
        if ((rc = aox_msg_set_value(m, "tags", &v))) goto fail;
    }

    /* each tag under its lower-cased name, first one wins, reserved keys excluded */
    for (size_t i = 0; i < it->tag_count; i++) {
        const aox_ans104_tag *tg = &it->tags[i];
        if (tg->name_len == 0 || memchr(tg->name, 0, tg->name_len) ||
            !aox_utf8_valid(tg->name, tg->name_len))
            continue;
        free(lower);
        lower = malloc(tg->name_len + 1);
        if (!lower) { rc = AOX_E_NOMEM; goto fail; }
        for (size_t j = 0; j < tg->name_len; j++) {
            uint8_t c = tg->name[j];
            lower[j] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
        }
        lower[tg->name_len] = 0;
        if (is_reserved(lower) || aox_msg_get(m, lower)) continue;
        if ((rc = aox_msg_set_bytes(m, lower, tg->value, tg->value_len))) goto fail;
    }
    free(lower);
    *out = m;
    return 0;

fail:
    free(lower);
    aox_msg_free(t);
    aox_msg_free(m);
    return aox_err_set(err, rc, "ans104: cannot build the message (%s)", aox_code_name(rc));
}

/* ----------------------------------------------------------------- JSON views */

/* p[0..n) as a JSON string, invalid UTF-8 sequences replaced by U+FFFD. */
static json_t *lossy_string(const uint8_t *p, size_t n)
{
    if (aox_utf8_valid(p, n)) return json_stringn((const char *)p, n);
    aox_buf b = {0};
    json_t *j = NULL;
    for (size_t i = 0; i < n; ) {
        size_t k = 1;                 /* longest valid sequence starting at i (1..4) */
        while (k <= 4 && i + k <= n && !aox_utf8_valid(p + i, k)) k++;
        if (k <= 4 && i + k <= n) {
            if (aox_buf_append(&b, p + i, k)) goto done;
            i += k;
        } else {
            if (aox_buf_append(&b, "\xef\xbf\xbd", 3)) goto done;
            i++;
        }
    }
    j = json_stringn(b.data ? (const char *)b.data : "", b.len);
done:
    aox_buf_free(&b);
    return j;
}

/* json_object_set_new that reports failure (and always consumes v). */
static int put(json_t *o, const char *k, json_t *v)
{
    return !v || json_object_set_new(o, k, v) ? -1 : 0;
}

static json_t *b64_string(const uint8_t *p, size_t n)
{
    char *s = malloc(aox_b64url_len(n) + 1);
    if (!s) return NULL;
    aox_b64url_encode(p, n, s);
    json_t *j = json_string(s);
    free(s);
    return j;
}

json_t *aox_ans104_tags_json(const aox_ans104_item *it)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < it->tag_count; i++) {
        const aox_ans104_tag *t = &it->tags[i];
        json_t *o = json_object();
        if (!o || put(o, "name", lossy_string(t->name, t->name_len)) ||
            put(o, "value", lossy_string(t->value, t->value_len)) ||
            json_array_append_new(a, o)) {
            json_decref(o);
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

json_t *aox_ans104_gql_node(const aox_ans104_item *it)
{
    char id[AOX_ID_LEN + 1], addr[AOX_ANS104_ADDR_LEN + 1], size[24];
    size_t n;
    const uint8_t *p;
    json_t *node = json_object(), *owner = json_object(), *data = json_object();
    if (!node || !owner || !data) goto fail;
    aox_ans104_id(it, id);
    aox_ans104_owner_address(it, addr);
    p = aox_ans104_owner(it, &n);
    if (put(owner, "address", json_string(addr)) || put(owner, "key", b64_string(p, n)))
        goto fail;
    snprintf(size, sizeof size, "%zu", it->data_len);
    const aox_ans104_tag *ct = aox_ans104_tag_find(it, "Content-Type");
    if (put(data, "size", json_string(size)) ||
        put(data, "type", ct ? lossy_string(ct->value, ct->value_len) : json_null()))
        goto fail;
    if (put(node, "id", json_string(id))) goto fail;
    p = aox_ans104_anchor(it, &n);
    if (put(node, "anchor", p ? lossy_string(p, n) : json_string(""))) goto fail;
    p = aox_ans104_signature(it, &n);
    if (put(node, "signature", b64_string(p, n))) goto fail;
    p = aox_ans104_target(it, &n);
    if (put(node, "recipient", p ? b64_string(p, n) : json_string("")) ||
        put(node, "tags", aox_ans104_tags_json(it)) || put(node, "block", json_null()))
        goto fail;
    if (put(node, "owner", owner)) { owner = NULL; goto fail; }
    owner = NULL;
    if (put(node, "data", data)) { data = NULL; goto fail; }
    return node;
fail:
    json_decref(owner);
    json_decref(data);
    json_decref(node);
    return NULL;
}
