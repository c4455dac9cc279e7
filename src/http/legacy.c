/*
 * http/legacy.c: the legacy ao routes (messenger, compute unit, gateway) that
 * `@permaweb/aoconnect` speaks, mapped onto process/ and the ANS-104 module.
 * The spec, request by request, is docs/parts/legacy-routes.md; the route list is
 * in legacy.h. Sections: helpers, result shape, POST / (items, assign), graphql,
 * compute-unit reads (result, results, dry-run, state), entry point.
 *
 * Every answer is JSON, errors included ({"error":{"code","message"}} with the
 * status of core/error.h): aoconnect ignores the status of compute-unit routes and
 * shows the body to the user.
 */
#include "http/legacy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ans104/ans104.h"
#include "core/id.h"
#include "core/json.h"
#include "core/log.h"
#include "device/snapshot.h"
#include "process/process.h"
#include "store/store.h"

#define RESULTS_LIMIT_DEFAULT 25
#define RESULTS_LIMIT_MAX     1000
#define GRAPHQL_IDS_MAX       100    /* IDs one /graphql request may ask for */
#define WASM_PAGE             65536u /* /state bodies are whole WASM pages */

static const char *const CT_JSON = "application/json";

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

static const char *q(const aox_http_request *req, const char *key)
{
    return req->query ? req->query(req->query_ud, key) : NULL;
}

/* Body = compact JSON of j (insertion order kept: the ao shapes read better in the
 * order the spec lists them). Takes j. */
static int reply_json(aox_http_response *resp, int status, json_t *j, aox_err *err)
{
    char *s;
    if (!j) return aox_err_set(err, AOX_E_NOMEM, "out of memory");
    s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(j);
    if (!s) return aox_err_set(err, AOX_E_NOMEM, "out of memory");
    aox_buf_reset(&resp->body);
    if (aox_buf_append_str(&resp->body, s) != 0) {
        free(s);
        return aox_err_set(err, AOX_E_NOMEM, "out of memory");
    }
    free(s);
    resp->status = status;
    resp->content_type = CT_JSON;
    return AOX_OK;
}

/* The JSON error body for err, with "current" added for a 425. */
static void reply_error(aox_http_response *resp, const aox_err *err, int has_current,
                        uint64_t current)
{
    json_t *j;
    aox_err tmp;
    if (!has_current) {
        aox_http_error_response(resp, err);
        return;
    }
    j = aox_err_to_json(err);
    if (j) json_object_set_new(json_object_get(j, "error"), "current",
                               json_integer((json_int_t)current));
    if (reply_json(resp, aox_code_http_status(err->code), j, &tmp) != 0)
        aox_http_error_response(resp, err);
}

static int valid_pid(const char *s) { return s && aox_id_valid(s); }

/* "data-protocol" -> "Data-Protocol" (ASCII), into out[cap]. */
static void header_case(const char *key, char *out, size_t cap)
{
    size_t i = 0;
    int up = 1;
    for (; key[i] && i + 1 < cap; i++) {
        char c = key[i];
        if (up && c >= 'a' && c <= 'z') c = (char)(c - 'a' + 'A');
        out[i] = c;
        up = (c == '-');
    }
    out[i] = '\0';
}

/* A value as tag text: bytes as a string, integers in decimal, else JSON text. */
static json_t *value_text(const aox_value *v)
{
    char num[32];
    if (v->type == AOX_V_BYTES) return aox_value_to_json(v);
    if (v->type == AOX_V_INT) {
        snprintf(num, sizeof num, "%lld", (long long)v->u.i);
        return json_string(num);
    }
    {
        json_t *j = aox_value_to_json(v), *s;
        char *t = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        json_decref(j);
        s = t ? json_string(t) : NULL;
        free(t);
        return s;
    }
}

/* Loads and parses the raw ANS-104 item stored at data/<id>. AOX_E_NOT_FOUND when
 * absent; a stored item that no longer parses is AOX_E_CORRUPT. */
static int load_item(aox_store *s, const char *id, aox_ans104_item **out, aox_err *err)
{
    aox_buf k = {0}, v = {0};
    int rc;
    *out = NULL;
    rc = aox_ans104_store_key(&k, id);
    if (rc) {
        rc = aox_err_set(err, rc, "out of memory");
        goto out;
    }
    rc = aox_store_get(s, k.data, k.len, &v);
    if (rc == AOX_E_NOT_FOUND) {
        rc = aox_err_set(err, rc, "no data item %s on this node", id);
        goto out;
    }
    if (rc) {
        rc = aox_err_set(err, rc, "store: cannot read data item %s", id);
        goto out;
    }
    rc = aox_ans104_parse(v.data, v.len, out, err);
    if (rc && rc != AOX_E_NOMEM)
        rc = aox_err_set(err, AOX_E_CORRUPT, "stored data item %s does not parse", id);
out:
    aox_buf_free(&k);
    aox_buf_free(&v);
    return rc;
}

/* The tags of a native module (POST /modules + module/<id>/tags), as JSON. */
static int load_module_tags(aox_store *s, const char *id, json_t **out, aox_err *err)
{
    aox_buf k = {0}, v = {0};
    json_error_t jerr;
    int rc = aox_key_simple(&k, "module", id);
    *out = NULL;
    if (!rc) rc = aox_buf_append_str(&k, "/tags");
    if (rc) {
        rc = aox_err_set(err, AOX_E_NOMEM, "out of memory");
        goto out;
    }
    rc = aox_store_get(s, k.data, k.len, &v);
    if (rc == AOX_E_NOT_FOUND) {
        rc = aox_err_set(err, rc, "module %s not found (no data/%s item, no module/%s/tags)",
                         id, id, id);
        goto out;
    }
    if (rc) {
        rc = aox_err_set(err, rc, "store: cannot read the tags of module %s", id);
        goto out;
    }
    *out = json_loadb((const char *)v.data, v.len, 0, &jerr);
    if (!json_is_array(*out)) {
        json_decref(*out);
        *out = NULL;
        rc = aox_err_set(err, AOX_E_CORRUPT, "module/%s/tags is not a JSON array", id);
    }
out:
    aox_buf_free(&k);
    aox_buf_free(&v);
    return rc;
}

/* Value of the first tag named `name` (case-insensitive) in a tags JSON array. */
static const char *tags_find(const json_t *tags, const char *name)
{
    size_t i;
    json_t *t;
    json_array_foreach(tags, i, t) {
        const char *n = json_string_value(json_object_get(t, "name"));
        if (n && strcasecmp(n, name) == 0)
            return json_string_value(json_object_get(t, "value"));
    }
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* The compute-unit result shape                                            */
/* ------------------------------------------------------------------------ */

/* Keys of an outbox/spawn message that are not "extra fields" of the guest. */
static int out_reserved(const char *k)
{
    static const char *const r[] = { "target", "anchor", "data", "tags", "original-tags",
                                     "from-process", "from-image", NULL };
    for (int i = 0; r[i]; i++) if (strcmp(k, r[i]) == 0) return 1;
    return 0;
}

/* {name, value} list (messages) -> JSON [{"name","value"}]; NULL if not such a list. */
static json_t *tag_list_json(const aox_value *v)
{
    json_t *arr;
    if (!v || v->type != AOX_V_LIST) return NULL;
    arr = json_array();
    for (size_t i = 0; arr && i < v->u.list.len; i++) {
        const aox_value *it = &v->u.list.items[i];
        const aox_value *n, *val;
        json_t *o;
        if (it->type != AOX_V_MSG) continue;
        n = aox_msg_get(it->u.msg, "name");
        val = aox_msg_get(it->u.msg, "value");
        if (!n || !val) continue;
        o = json_object();
        if (!o || json_object_set_new(o, "name", value_text(n)) ||
            json_object_set_new(o, "value", value_text(val)) ||
            json_array_append_new(arr, o)) {
            json_decref(o);
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

/* Is k the lower-cased name of one of the tags? (then it is a tag copy, not extra) */
static int is_tag_copy(const json_t *tags, const char *k)
{
    size_t i;
    json_t *t;
    json_array_foreach(tags, i, t) {
        const char *n = json_string_value(json_object_get(t, "name"));
        if (n && strcasecmp(n, k) == 0) return 1;
    }
    return 0;
}

/* One outbox/spawn message as the guest emitted it: {Target, Anchor?, Tags, Data}
 * plus extra fields. With `original-tags` (the aos interface keeps them) Tags are
 * those; otherwise every non-reserved key becomes a tag (header case, text). */
static json_t *out_msg_json(const aox_msg *m)
{
    json_t *o = json_object(), *tags;
    const aox_value *v;
    char hk[128];
    int fail = 0;
    if (!o) return NULL;
    tags = tag_list_json(aox_msg_get(m, "original-tags"));
    if (!tags) tags = tag_list_json(aox_msg_get(m, "tags"));
    if ((v = aox_msg_get(m, "target"))) fail |= json_object_set_new(o, "Target", value_text(v));
    if ((v = aox_msg_get(m, "anchor"))) fail |= json_object_set_new(o, "Anchor", value_text(v));
    if (!tags) {
        tags = json_array();
        for (size_t i = 0; tags && i < aox_msg_count(m); i++) {
            const char *k = aox_msg_key_at(m, i);
            if (out_reserved(k)) continue;
            header_case(k, hk, sizeof hk);
            fail |= json_array_append_new(tags, json_pack("{s:s,s:o}", "name", hk, "value",
                                                          value_text(aox_msg_value_at(m, i))));
        }
    } else {
        for (size_t i = 0; i < aox_msg_count(m); i++) {
            const char *k = aox_msg_key_at(m, i);
            if (out_reserved(k) || is_tag_copy(tags, k)) continue;
            header_case(k, hk, sizeof hk);
            fail |= json_object_set_new(o, hk, aox_value_to_json(aox_msg_value_at(m, i)));
        }
    }
    if (!tags) fail = 1;
    else fail |= json_object_set_new(o, "Tags", tags);
    if ((v = aox_msg_get(m, "data"))) fail |= json_object_set_new(o, "Data", aox_value_to_json(v));
    if (fail) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *out_list_json(const aox_msg *res, const char *key)
{
    const aox_value *v = aox_msg_get(res, key);
    json_t *arr = json_array();
    if (!arr || !v || v->type != AOX_V_LIST) return arr;
    for (size_t i = 0; i < v->u.list.len; i++) {
        const aox_value *it = &v->u.list.items[i];
        json_t *j = it->type == AOX_V_MSG ? out_msg_json(it->u.msg) : aox_value_to_json(it);
        if (!j || json_array_append_new(arr, j)) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

/* assignments: [{processes: [...], message: id}] -> [{"Processes","Message"}] */
static json_t *assignments_json(const aox_msg *res)
{
    const aox_value *v = aox_msg_get(res, "assignments");
    json_t *arr = json_array();
    if (!arr || !v || v->type != AOX_V_LIST) return arr;
    for (size_t i = 0; i < v->u.list.len; i++) {
        const aox_value *it = &v->u.list.items[i];
        json_t *o;
        if (it->type == AOX_V_MSG) {
            const aox_value *ps = aox_msg_get(it->u.msg, "processes");
            const aox_value *mv = aox_msg_get(it->u.msg, "message");
            o = json_object();
            if (o) {
                json_object_set_new(o, "Processes", ps ? aox_value_to_json(ps) : json_array());
                json_object_set_new(o, "Message", mv ? value_text(mv) : json_string(""));
            }
        } else {
            o = aox_value_to_json(it);
        }
        if (!o || json_array_append_new(arr, o)) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

json_t *aox_http_legacy_result_json(const aox_msg *res)
{
    json_t *o = json_object();
    const aox_value *out = aox_msg_get(res, "output");
    const aox_value *e = aox_msg_get(res, "error");
    int64_t gas = 0;
    int fail;
    if (!o) return NULL;
    fail = json_object_set_new(o, "Output", out ? aox_value_to_json(out) : json_string(""));
    fail |= json_object_set_new(o, "Messages", out_list_json(res, "outbox"));
    fail |= json_object_set_new(o, "Spawns", out_list_json(res, "spawns"));
    fail |= json_object_set_new(o, "Assignments", assignments_json(res));
    if (e) {
        /* error = {code, message}: the guest's text is the message (aos keeps the
         * guest's Error there); anything else is shown as JSON text. */
        const aox_value *m = e->type == AOX_V_MSG ? aox_msg_get(e->u.msg, "message") : NULL;
        fail |= json_object_set_new(o, "Error", value_text(m ? m : e));
    }
    if (aox_msg_get_int(res, "gas", &gas) != 0) gas = 0;
    fail |= json_object_set_new(o, "GasUsed", json_integer((json_int_t)gas));
    if (fail) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* ------------------------------------------------------------------------ */
/* POST / : data items and assignments                                      */
/* ------------------------------------------------------------------------ */

static int put_item(aox_store *s, const aox_ans104_item *it, const char *id, aox_err *err)
{
    aox_buf k = {0};
    size_t n;
    const uint8_t *raw = aox_ans104_raw(it, &n);
    int rc = aox_ans104_store_key(&k, id);
    if (!rc) rc = aox_store_put(s, k.data, k.len, raw, n);
    aox_buf_free(&k);
    return rc ? aox_err_set(err, rc, "store: cannot write data/%s", id) : AOX_OK;
}

/* `image` and `execution-device` for a Process item, from its module's tags. */
static int add_module(aox_store *s, const aox_ans104_item *it, aox_msg *def, aox_err *err)
{
    const aox_ans104_tag *mt = aox_ans104_tag_find(it, "Module");
    char mid[AOX_ID_LEN + 1];
    aox_ans104_item *mod = NULL;
    json_t *tags = NULL;
    const char *fmt, *dev;
    int rc;

    if (!mt || mt->value_len != AOX_ID_LEN)
        return aox_err_set(err, AOX_E_INVALID, "Process item has no Module tag holding a "
                           "43-character module ID");
    memcpy(mid, mt->value, AOX_ID_LEN);
    mid[AOX_ID_LEN] = '\0';
    if (!aox_id_valid(mid))
        return aox_err_set(err, AOX_E_INVALID, "Module tag '%s' is not an ID", mid);
    rc = load_item(s, mid, &mod, err);
    if (rc == 0) {
        tags = aox_ans104_tags_json(mod);
        if (!tags) rc = aox_err_set(err, AOX_E_NOMEM, "out of memory");
    } else if (rc == AOX_E_NOT_FOUND) {
        rc = load_module_tags(s, mid, &tags, err);
    }
    if (rc) goto out;
    fmt = tags_find(tags, "Module-Format");
    if (!fmt) {
        rc = aox_err_set(err, AOX_E_INVALID, "module %s has no Module-Format tag", mid);
        goto out;
    }
    if (strncmp(fmt, "wasm32-", 7) == 0) dev = "wasm@1.0";
    else if (strncmp(fmt, "wasm64-", 7) == 0) dev = "wasm-64@1.0";
    else {
        rc = aox_err_set(err, AOX_E_UNSUPPORTED, "module %s: Module-Format '%.80s' is not "
                         "supported (wasm32-* or wasm64-*)", mid, fmt);
        goto out;
    }
    rc = aox_msg_set_str(def, "execution-device", dev);
    if (!rc) rc = aox_msg_set_str(def, "image", mid);
    if (rc) rc = aox_err_set(err, AOX_E_NOMEM, "out of memory");
out:
    json_decref(tags);
    aox_ans104_free(mod);
    return rc;
}

/* {"id","process","slot","timestamp"[,"message"]} of an assignment. */
static json_t *assignment_reply(const char *id, const char *pid, const aox_msg *asg,
                                const char *message)
{
    int64_t slot = 0, ts = 0;
    json_t *j;
    (void)aox_msg_get_int(asg, "slot", &slot);
    (void)aox_msg_get_int(asg, "timestamp", &ts);
    j = json_pack("{s:s,s:s,s:I,s:I}", "id", id, "process", pid, "slot", (json_int_t)slot,
                  "timestamp", (json_int_t)ts);
    if (j && message) json_object_set_new(j, "message", json_string(message));
    return j;
}

static int h_spawn_item(const aox_http_ctx *ctx, const aox_ans104_item *it, const char *id,
                        aox_http_response *resp, aox_err *err)
{
    aox_store *s = aox_procs_store(ctx->procs);
    aox_msg *def = NULL, *asg = NULL;
    char pid[AOX_ID_LEN + 1];
    int rc = aox_ans104_to_msg(it, &def, err);
    if (!rc) rc = add_module(s, it, def, err);
    if (!rc) rc = aox_proc_spawn(ctx->procs, def, pid, &asg, err);
    if (rc) goto out;
    if (strcmp(pid, id) != 0) {      /* the ID rule of signed messages broke: never lie */
        rc = aox_err_set(err, AOX_E_INTERNAL, "spawned %s but the item ID is %s", pid, id);
        goto out;
    }
    aox_log_kv(AOX_LOG_INFO, "legacy-spawn", "pid", pid);
    rc = reply_json(resp, 200, assignment_reply(id, pid, asg, NULL), err);
out:
    aox_msg_free(def);
    aox_msg_free(asg);
    return rc;
}

/* Schedules item (already verified) on pid. A busy answer (schedules in flight at
 * --schedules-max) sets the response's Retry-After. */
static int schedule_item(const aox_http_ctx *ctx, const aox_ans104_item *it, const char *pid,
                         aox_msg **asg, aox_http_response *resp, aox_err *err)
{
    aox_msg *msg = NULL;
    int rc = aox_ans104_to_msg(it, &msg, err);
    if (!rc && ctx->workers && ctx->wapi) {        /* bounded, group-committed */
        aox_work_info wi;
        rc = ctx->wapi->schedule(ctx->workers, pid, msg, asg, &wi, err);
        if (rc == AOX_E_BUSY) resp->retry_after = wi.retry_after_s ? wi.retry_after_s : 1;
    } else if (!rc)
        rc = aox_proc_schedule(ctx->procs, pid, msg, asg, err);
    aox_msg_free(msg);
    return rc;
}

static int h_message_item(const aox_http_ctx *ctx, const aox_ans104_item *it,
                          const char *id, aox_http_response *resp, aox_err *err)
{
    size_t tl;
    const uint8_t *t = aox_ans104_target(it, &tl);
    char pid[AOX_ID_LEN + 1];
    aox_msg *asg = NULL;
    int rc;
    if (!t || tl != 32)
        return aox_err_set(err, AOX_E_INVALID, "Message item %s has no target process", id);
    aox_b64url_encode(t, 32, pid);
    rc = schedule_item(ctx, it, pid, &asg, resp, err);
    if (rc == 0) rc = reply_json(resp, 200, assignment_reply(id, pid, asg, NULL), err);
    aox_msg_free(asg);
    return rc;
}

static int h_item(const aox_http_ctx *ctx, const aox_http_request *req,
                  aox_http_response *resp, aox_err *err)
{
    aox_ans104_item *it = NULL;
    const aox_ans104_tag *type;
    char id[AOX_ID_LEN + 1];
    int rc;

    if (req->body_len == 0)
        return aox_err_set(err, AOX_E_INVALID, "POST / expects an ANS-104 data item body "
                           "(application/octet-stream)");
    rc = aox_ans104_parse(req->body, req->body_len, &it, err);
    if (!rc) rc = aox_ans104_verify(it, err);
    if (rc) goto out;
    aox_ans104_id(it, id);
    rc = put_item(aox_procs_store(ctx->procs), it, id, err);
    if (rc) goto out;
    type = aox_ans104_tag_find(it, "Type");
    if (type && type->value_len == 6 && memcmp(type->value, "Module", 6) == 0) {
        aox_log_kv(AOX_LOG_INFO, "legacy-module", "id", id);
        rc = reply_json(resp, 200, json_pack("{s:s}", "id", id), err);
    } else if (type && type->value_len == 7 && memcmp(type->value, "Process", 7) == 0) {
        rc = h_spawn_item(ctx, it, id, resp, err);
    } else if (!type || (type->value_len == 7 && memcmp(type->value, "Message", 7) == 0)) {
        rc = h_message_item(ctx, it, id, resp, err);
    } else {
        rc = aox_err_set(err, AOX_E_UNSUPPORTED, "item %s: Type '%.40s' is not one of "
                         "Module, Process, Message (the item is stored)", id,
                         (const char *)type->value);
    }
out:
    aox_ans104_free(it);
    return rc;
}

static int h_assign(const aox_http_ctx *ctx, const aox_http_request *req,
                    aox_http_response *resp, aox_err *err)
{
    const char *pid = q(req, "process-id"), *mid = q(req, "assign");
    aox_ans104_item *it = NULL;
    aox_msg *asg = NULL;
    char aid[AOX_ID_LEN + 1];
    int rc;

    if (!valid_pid(pid))
        return aox_err_set(err, AOX_E_INVALID, "assign: missing or malformed ?process-id=");
    if (!mid || !aox_id_valid(mid))
        return aox_err_set(err, AOX_E_INVALID, "assign: ?assign= must be a message ID");
    if (q(req, "base-layer"))
        return aox_err_set(err, AOX_E_UNSUPPORTED, "assign: base-layer (Arweave L1) "
                           "assignments are not supported by aox");
    rc = load_item(aox_procs_store(ctx->procs), mid, &it, err);
    if (!rc) rc = aox_ans104_verify(it, err);
    if (!rc) rc = schedule_item(ctx, it, pid, &asg, resp, err);
    if (!rc) rc = aox_msg_id(asg, aid);
    if (rc) {
        if (err->code == AOX_OK) aox_err_set(err, rc, "assign: cannot identify the assignment");
        goto out;
    }
    rc = reply_json(resp, 200, assignment_reply(aid, pid, asg, mid), err);
out:
    aox_ans104_free(it);
    aox_msg_free(asg);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* POST /graphql : transactions by ID                                       */
/* ------------------------------------------------------------------------ */

/* IDs from `ids: ["..", ".."]` literals in the query text. */
static json_t *ids_from_query(const char *qs)
{
    json_t *ids = json_array();
    const char *p = qs;
    while (ids && (p = strstr(p, "ids")) != NULL) {
        p += 3;
        while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r') p++;
        if (*p != ':') continue;
        p++;
        while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r') p++;
        if (*p != '[') continue;
        for (p++; *p && *p != ']'; p++) {
            const char *e;
            if (*p != '"') continue;
            e = strchr(p + 1, '"');
            if (!e) break;
            json_array_append_new(ids, json_stringn(p + 1, (size_t)(e - p - 1)));
            p = e;
        }
    }
    return ids;
}

/* The node of a native module (module/<id>/tags): owner unknown. */
static json_t *module_node(aox_store *s, const char *id, aox_err *err)
{
    json_t *tags = NULL, *node;
    aox_buf k = {0}, v = {0};
    char size[32];
    if (load_module_tags(s, id, &tags, err) != 0) return NULL;
    if (aox_key_simple(&k, "module", id) != 0 || aox_store_get(s, k.data, k.len, &v) != 0)
        v.len = 0;
    snprintf(size, sizeof size, "%zu", v.len);
    aox_buf_free(&k);
    aox_buf_free(&v);
    node = json_pack("{s:s,s:s,s:s,s:s,s:{s:s,s:s},s:o,s:{s:s,s:o},s:n}",
                     "id", id, "anchor", "", "signature", "", "recipient", "",
                     "owner", "address", "", "key", "", "tags", tags,
                     "data", "size", size, "type",
                     tags_find(tags, "Content-Type")
                         ? json_string(tags_find(tags, "Content-Type")) : json_null(),
                     "block");
    return node;
}

static int h_graphql(const aox_http_ctx *ctx, const aox_http_request *req,
                     aox_http_response *resp, aox_err *err)
{
    aox_store *s = aox_procs_store(ctx->procs);
    json_error_t jerr;
    json_t *body = NULL, *ids = NULL, *edges = NULL, *vars, *v;
    const char *key;
    size_t i;
    int rc = AOX_OK;

    body = json_loadb((const char *)req->body, req->body_len, 0, &jerr);
    if (!json_is_object(body)) {
        rc = aox_err_set(err, AOX_E_BAD_JSON, "graphql: body must be a JSON object "
                         "{\"query\", \"variables\"}%s%s", body ? "" : ": ",
                         body ? "" : jerr.text);
        goto out;
    }
    vars = json_object_get(body, "variables");
    if (json_is_object(vars)) {
        json_object_foreach(vars, key, v) {
            size_t j;
            json_t *x;
            int all = json_is_array(v);
            json_array_foreach(v, j, x) if (!json_is_string(x)) all = 0;
            if (all) {
                ids = json_incref(v);
                break;
            }
        }
    }
    if (!ids && json_is_string(json_object_get(body, "query")))
        ids = ids_from_query(json_string_value(json_object_get(body, "query")));
    if (!ids || json_array_size(ids) == 0) {
        rc = aox_err_set(err, AOX_E_INVALID, "graphql: only transactions(ids: [...]) queries "
                         "are served; no IDs found in variables or query");
        goto out;
    }
    if (json_array_size(ids) > GRAPHQL_IDS_MAX) {
        rc = aox_err_set(err, AOX_E_INVALID, "graphql: at most %d IDs per request",
                         GRAPHQL_IDS_MAX);
        goto out;
    }
    edges = json_array();
    if (!edges) {
        rc = aox_err_set(err, AOX_E_NOMEM, "out of memory");
        goto out;
    }
    json_array_foreach(ids, i, v) {
        const char *id = json_string_value(v);
        aox_ans104_item *it = NULL;
        json_t *node = NULL;
        aox_err e2;
        aox_err_clear(&e2);
        if (!id || !aox_id_valid(id)) continue;          /* unknown: left out */
        rc = load_item(s, id, &it, &e2);
        if (rc == 0) {
            node = aox_ans104_gql_node(it);
            aox_ans104_free(it);
            if (!node) rc = AOX_E_NOMEM;
        } else if (rc == AOX_E_NOT_FOUND) {
            node = module_node(s, id, &e2);
            rc = (node || e2.code == AOX_E_NOT_FOUND) ? AOX_OK : e2.code;
        }
        if (rc) {
            *err = e2;
            if (err->code == AOX_OK) aox_err_set(err, rc, "graphql: cannot read %s", id);
            goto out;
        }
        if (node && json_array_append_new(edges, json_pack("{s:s,s:o}", "cursor", id,
                                                           "node", node))) {
            rc = aox_err_set(err, AOX_E_NOMEM, "out of memory");
            goto out;
        }
    }
    rc = reply_json(resp, 200, json_pack("{s:{s:{s:{s:b},s:O}}}", "data", "transactions",
                                         "pageInfo", "hasNextPage", 0, "edges", edges), err);
out:
    json_decref(body);
    json_decref(ids);
    json_decref(edges);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Compute-unit reads                                                       */
/* ------------------------------------------------------------------------ */

static int h_result(const aox_http_ctx *ctx, const char *msg_id, const aox_http_request *req,
                    aox_http_response *resp, aox_err *err, uint64_t *current)
{
    const char *pid = q(req, "process-id");
    aox_msg *res = NULL;
    uint64_t slot = 0;
    int rc;
    if (!valid_pid(pid))
        return aox_err_set(err, AOX_E_INVALID, "result: missing or malformed ?process-id=");
    if (ctx->workers && ctx->wapi) {               /* queued to the process's worker */
        aox_work_info wi;
        rc = ctx->wapi->result_by_message(ctx->workers, pid, msg_id, 0, &res, &slot, &wi, err);
        if (rc == AOX_E_BUSY) resp->retry_after = wi.retry_after_s;
    } else {
        rc = aox_proc_result_by_message(ctx->procs, pid, msg_id, &res, &slot, err);
    }
    if (rc == AOX_E_NOT_YET) (void)aox_proc_current_slot(ctx->procs, pid, current, NULL);
    if (rc) return rc;
    rc = reply_json(resp, 200, aox_http_legacy_result_json(res), err);
    aox_msg_free(res);
    return rc;
}

static int parse_u64(const char *name, const char *s, uint64_t *out, aox_err *err)
{
    if (aox_http_parse_slot(s, out) != 0)
        return aox_err_set(err, AOX_E_INVALID, "results: %s '%.40s' is not a cursor "
                           "(a slot number)", name, s);
    return AOX_OK;
}

static int h_results(const aox_http_ctx *ctx, const char *pid, const aox_http_request *req,
                     aox_http_response *resp, aox_err *err)
{
    const char *fs = q(req, "from"), *ts = q(req, "to"), *ss = q(req, "sort");
    const char *ls = q(req, "limit");
    uint64_t cur, from = 0, to, limit = RESULTS_LIMIT_DEFAULT, lo, hi, n;
    int desc = 0, rc;
    aox_msg *res = NULL;
    json_t *edges = NULL;

    if (fs && *fs && (rc = parse_u64("from", fs, &from, err))) return rc;
    if (ts && *ts && (rc = parse_u64("to", ts, &to, err))) return rc;
    if (ls && *ls && (rc = parse_u64("limit", ls, &limit, err))) return rc;
    if (ss && *ss) {
        if (strcasecmp(ss, "DESC") == 0) desc = 1;
        else if (strcasecmp(ss, "ASC") != 0)
            return aox_err_set(err, AOX_E_INVALID, "results: sort must be ASC or DESC");
    }
    if (limit == 0 || limit > RESULTS_LIMIT_MAX)
        return aox_err_set(err, AOX_E_INVALID, "results: limit must be 1..%d",
                           RESULTS_LIMIT_MAX);
    rc = aox_proc_current_slot(ctx->procs, pid, &cur, err);
    if (rc) return rc;
    if (!(ts && *ts) || to > cur) to = cur;
    edges = json_array();
    if (!edges) return aox_err_set(err, AOX_E_NOMEM, "out of memory");
    /* from is exclusive, to inclusive: slots (from, to] when from is given */
    lo = (fs && *fs) ? from + 1 : 0;
    if ((fs && *fs && from == UINT64_MAX) || lo > to) goto reply;
    n = to - lo + 1 < limit ? to - lo + 1 : limit;
    if (desc) { hi = to; lo = to - (n - 1); }
    else      { hi = lo + (n - 1); }
    /* one compute up to the highest slot; the rest are cache reads */
    rc = aox_proc_compute(ctx->procs, pid, hi, &res, NULL, err);
    aox_msg_free(res);
    res = NULL;
    for (uint64_t i = 0; rc == 0 && i < n; i++) {
        uint64_t slot = desc ? hi - i : lo + i;
        char cursor[24];
        json_t *node;
        rc = aox_proc_compute(ctx->procs, pid, slot, &res, NULL, err);
        if (rc) break;
        node = aox_http_legacy_result_json(res);
        aox_msg_free(res);
        res = NULL;
        snprintf(cursor, sizeof cursor, "%llu", (unsigned long long)slot);
        if (!node || json_array_append_new(edges, json_pack("{s:s,s:o}", "cursor", cursor,
                                                            "node", node)))
            rc = aox_err_set(err, AOX_E_NOMEM, "out of memory");
    }
    aox_msg_free(res);
    if (rc) {
        json_decref(edges);
        return rc;
    }
reply:
    return reply_json(resp, 200, json_pack("{s:o}", "edges", edges), err);
}

/* Appends {name, value} to the message's `tags` list and the lower-cased tag copy
 * (unless the key is taken), as aox_ans104_to_msg does for signed items. */
static int add_tag(aox_msg *m, const char *name, const char *value)
{
    aox_msg *t = aox_msg_new();
    char low[256];
    size_t i;
    int rc;
    if (!t) return AOX_E_NOMEM;
    rc = aox_msg_set_str(t, "name", name);
    if (!rc) rc = aox_msg_set_str(t, "value", value);
    if (rc) {
        aox_msg_free(t);
        return rc;
    }
    rc = aox_msg_list_append_msg(m, "tags", t);
    if (rc) return rc;
    for (i = 0; name[i] && i + 1 < sizeof low; i++)
        low[i] = (name[i] >= 'A' && name[i] <= 'Z') ? (char)(name[i] - 'A' + 'a') : name[i];
    low[i] = '\0';
    if (i == 0 || name[i] || aox_msg_get(m, low)) return AOX_OK;
    rc = aox_msg_set_str(m, low, value);
    return rc == AOX_E_NOMEM ? rc : AOX_OK;   /* a key core refuses stays a tag only */
}

/* The aoconnect dry-run body as a message: owner/from verbatim, target = pid,
 * tags in order (plus lower-cased copies), data, anchor. */
static int dry_run_msg(const json_t *b, const char *pid, aox_msg **out, aox_err *err)
{
    aox_msg *m = aox_msg_new();
    const char *owner = json_string_value(json_object_get(b, "Owner"));
    const char *from = json_string_value(json_object_get(b, "From"));
    const char *anchor = json_string_value(json_object_get(b, "Anchor"));
    json_t *data = json_object_get(b, "Data"), *tags = json_object_get(b, "Tags"), *t;
    size_t i;
    int rc = m ? AOX_OK : AOX_E_NOMEM;

    *out = NULL;
    if (!rc && owner && *owner) rc = aox_msg_set_str(m, "owner", owner);
    if (!rc && (from || (owner && *owner))) rc = aox_msg_set_str(m, "from", from ? from : owner);
    if (!rc) rc = aox_msg_set_str(m, "target", pid);
    if (!rc && anchor && *anchor) rc = aox_msg_set_str(m, "anchor", anchor);
    if (!rc && data) {
        if (json_is_string(data)) {
            rc = aox_msg_set_bytes(m, "data", json_string_value(data), json_string_length(data));
        } else {
            char *s = json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY);
            rc = s ? aox_msg_set_str(m, "data", s) : AOX_E_NOMEM;
            free(s);
        }
    }
    if (rc) goto fail;
    if (tags && !json_is_array(tags)) {
        rc = aox_err_set(err, AOX_E_INVALID, "dry-run: Tags must be a list of {name, value}");
        goto fail;
    }
    json_array_foreach(tags, i, t) {
        const char *n = json_string_value(json_object_get(t, "name"));
        json_t *v = json_object_get(t, "value");
        char *vs = NULL;
        if (!n || !v) {
            rc = aox_err_set(err, AOX_E_INVALID, "dry-run: tag %zu is not {name, value}", i);
            goto fail;
        }
        vs = json_is_string(v) ? strdup(json_string_value(v))
                               : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        rc = vs ? add_tag(m, n, vs) : AOX_E_NOMEM;
        free(vs);
        if (rc) goto fail;
    }
    if (!tags) rc = aox_msg_set_value(m, "tags", &(aox_value){ .type = AOX_V_LIST });
    if (rc) goto fail;
    *out = m;
    return AOX_OK;
fail:
    aox_msg_free(m);
    if (err->code == AOX_OK) aox_err_set(err, rc, "dry-run: out of memory");
    return err->code;
}

static int h_dry_run(const aox_http_ctx *ctx, const aox_http_request *req,
                     aox_http_response *resp, aox_err *err)
{
    const char *pid = q(req, "process-id");
    json_error_t jerr;
    json_t *b = NULL;
    aox_msg *msg = NULL, *res = NULL;
    aox_dry_run_opts opts = { NULL };
    int rc;

    if (!valid_pid(pid))
        return aox_err_set(err, AOX_E_INVALID, "dry-run: missing or malformed ?process-id=");
    b = req->body_len ? json_loadb((const char *)req->body, req->body_len, 0, &jerr) : NULL;
    if (!json_is_object(b)) {
        rc = aox_err_set(err, AOX_E_BAD_JSON, "dry-run: body must be a JSON message object "
                         "{Owner, Tags, Data, ...}");
        goto out;
    }
    rc = dry_run_msg(b, pid, &msg, err);
    /* The guest sees the body's Id (aoconnect sends one) as the message's Id. */
    opts.message_id = json_string_value(json_object_get(b, "Id"));
    if (opts.message_id && !opts.message_id[0]) opts.message_id = NULL;
    if (!rc && ctx->workers && ctx->wapi) {        /* the read-only queue */
        aox_work_info wi;
        rc = ctx->wapi->dry_run(ctx->workers, pid, msg, &opts, 0, &res, &wi, err);
        if (rc == AOX_E_BUSY) resp->retry_after = wi.retry_after_s;
    } else if (!rc) {
        rc = aox_proc_dry_run_ex(ctx->procs, pid, msg, &opts, &res, err);
    }
    if (!rc) rc = reply_json(resp, 200, aox_http_legacy_result_json(res), err);
out:
    json_decref(b);
    aox_msg_free(msg);
    aox_msg_free(res);
    return rc;
}

/* The /state body, streamed page by page from a snapshot (one connection thread
 * reads it; the pages are content-addressed and never change). */
typedef struct state_stream {
    aox_buf          manifest;     /* the reader reads from it */
    aox_snap_reader *rd;
    uint64_t         pages;        /* page slots in the snapshot */
    uint64_t         page_size;    /* bytes per page (the device's page) */
    uint64_t         loaded;       /* index of the page in `page`; UINT64_MAX none */
    aox_buf          page;         /* empty: a page the snapshot left out (zeros) */
} state_stream;

static void state_free(void *ud)
{
    state_stream *ss = ud;
    if (!ss) return;
    aox_snap_reader_free(ss->rd);
    aox_buf_free(&ss->manifest);
    aox_buf_free(&ss->page);
    free(ss);
}

/* Loads page i into ss->page (empty when the snapshot left it out: zeros). */
static int state_load(state_stream *ss, uint64_t i)
{
    int rc;
    if (ss->loaded == i) return AOX_OK;
    rc = aox_snap_read_page(ss->rd, i, &ss->page);
    if (rc == AOX_E_NOT_FOUND) {
        aox_buf_reset(&ss->page);
        rc = AOX_OK;
    }
    ss->loaded = rc ? UINT64_MAX : i;
    return rc;
}

static long long state_read(void *ud, uint64_t pos, char *buf, size_t max)
{
    state_stream *ss = ud;
    uint64_t i = ss->page_size ? pos / ss->page_size : UINT64_MAX;
    uint64_t off = ss->page_size ? pos % ss->page_size : 0, n;
    if (max == 0) return -1;
    if (i >= ss->pages) {                       /* padding up to a whole WASM page */
        n = WASM_PAGE - pos % WASM_PAGE;
        n = n < max ? n : max;
        memset(buf, 0, (size_t)n);
        return (long long)n;
    }
    if (state_load(ss, i) != 0) return -1;
    if (ss->page.len && ss->page.len != ss->page_size) return -1;
    n = ss->page_size - off;
    n = n < max ? n : max;
    if (ss->page.len) memcpy(buf, ss->page.data + off, (size_t)n);
    else memset(buf, 0, (size_t)n);
    return (long long)n;
}

/* GET /state/<pid>: the WASM linear memory after the latest slot, streamed from a
 * snapshot taken at that slot. Pages the snapshot leaves out (all-zero ones) are
 * zeros; the length is the snapshot's pages rounded up to whole 64 KiB WASM pages,
 * so all-zero 64 KiB pages at the very end of memory are not sent. */
static int h_state(const aox_http_ctx *ctx, const char *pid, aox_http_response *resp,
                   aox_err *err)
{
    aox_store *s = aox_procs_store(ctx->procs);
    aox_msg *def = NULL, *res = NULL;
    aox_buf prefix = {0}, bound = {0}, key = {0};
    state_stream *ss = NULL;
    const char *dev;
    uint64_t cur, snap_slot = 0, len;
    int rc;

    rc = aox_proc_definition(ctx->procs, pid, &def, err);
    if (rc) goto out;
    dev = aox_msg_get_str(def, "execution-device", NULL);
    if (!dev || (strcmp(dev, "wasm@1.0") != 0 && strcmp(dev, "wasm-64@1.0") != 0)) {
        rc = aox_err_set(err, AOX_E_UNSUPPORTED, "state: process %s runs %s; /state serves "
                         "the linear memory of wasm@1.0 and wasm-64@1.0 processes only "
                         "(use /%s/now for its result)", pid, dev ? dev : "no named device",
                         pid);
        goto out;
    }
    if (ctx->workers && ctx->wapi) {               /* through the process's worker */
        aox_work_info wi;
        rc = ctx->wapi->now(ctx->workers, pid, 0, &res, &wi, err);
        if (rc == AOX_E_BUSY) resp->retry_after = wi.retry_after_s;
    } else {
        rc = aox_proc_now(ctx->procs, pid, &res, NULL, err);
    }
    if (!rc) {
        int64_t at = 0;
        rc = aox_msg_get_int(res, "slot", &at) == AOX_OK && at >= 0
                 ? AOX_OK : aox_err_set(err, AOX_E_INTERNAL, "state: result has no slot");
        cur = (uint64_t)at;
    }
    if (rc) goto out;
    /* The latest state is live after compute; a snapshot of this process (only)
     * makes it readable here. */
    if (ctx->workers && ctx->wapi && ctx->wapi->snapshot)
        rc = ctx->wapi->snapshot(ctx->workers, pid, NULL, err);
    else
        rc = aox_proc_snapshot(ctx->procs, pid, NULL, err);
    if (rc == AOX_E_UNSUPPORTED) {
        aox_err_clear(err);
        rc = AOX_OK;                 /* an older snapshot is served (state-slot says) */
    }
    if (rc) goto out;
    ss = calloc(1, sizeof *ss);
    rc = ss ? aox_key_proc_str(&prefix, pid, "snap", "") : AOX_E_NOMEM;
    if (!rc) rc = aox_key_proc(&bound, pid, "snap", cur);
    if (rc) {
        rc = aox_err_set(err, AOX_E_NOMEM, "out of memory");
        goto out;
    }
    ss->loaded = UINT64_MAX;
    rc = aox_store_seek_le(s, prefix.data, prefix.len, bound.data, bound.len, &key,
                           &ss->manifest);
    if (rc == AOX_E_NOT_FOUND) {
        rc = aox_err_set(err, AOX_E_NOT_YET, "state: no snapshot of %s yet", pid);
        goto out;
    }
    if (!rc && key.len >= 8)        /* the key ends in the slot, big-endian */
        for (size_t i = key.len - 8; i < key.len; i++) snap_slot = snap_slot << 8 | key.data[i];
    if (!rc) rc = aox_snap_reader_new(s, ss->manifest.data, ss->manifest.len, &ss->rd, err);
    if (rc) {
        if (err->code == AOX_OK) aox_err_set(err, rc, "state: cannot read the snapshot");
        goto out;
    }
    ss->pages = aox_snap_page_count(ss->rd);
    /* the page size: that of the first page the snapshot holds */
    for (uint64_t i = 0; i < ss->pages && !ss->page_size; i++) {
        rc = state_load(ss, i);
        if (rc) {
            rc = aox_err_set(err, rc, "state: cannot read page %llu", (unsigned long long)i);
            goto out;
        }
        ss->page_size = ss->page.len;
    }
    if (!ss->page_size) ss->pages = 0;          /* nothing stored: all zeros */
    if (ss->page_size && ss->pages > UINT64_MAX / 2 / ss->page_size) {
        rc = aox_err_set(err, AOX_E_CORRUPT, "state: snapshot of %s is too large", pid);
        goto out;
    }
    len = ss->pages * ss->page_size;
    len += (WASM_PAGE - len % WASM_PAGE) % WASM_PAGE;
    aox_buf_free(&resp->body);
    resp->stream_read = state_read;
    resp->stream_free = state_free;
    resp->stream_ud = ss;
    resp->stream_len = len;
    ss = NULL;
    resp->status = 200;
    resp->content_type = "application/octet-stream";
    snprintf(resp->compute, sizeof resp->compute, "state-slot=%llu; current=%llu",
             (unsigned long long)snap_slot, (unsigned long long)cur);
out:
    state_free(ss);
    aox_buf_free(&prefix);
    aox_buf_free(&bound);
    aox_buf_free(&key);
    aox_msg_free(def);
    aox_msg_free(res);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Entry point                                                              */
/* ------------------------------------------------------------------------ */

json_t *aox_http_legacy_info(json_t *info)
{
    json_t *f;
    if (!json_is_object(info)) return info;
    f = json_object_get(info, "features");
    if (!json_is_array(f)) {
        f = json_array();
        if (!f || json_object_set_new(info, "features", f)) return info;
    }
    json_array_append_new(f, json_string(AOX_HTTP_LEGACY_FEATURE));
    return info;
}

/* "/word/<id>" (an optional trailing slash): copies <id> to id when it is valid. */
static int path_id(const char *path, const char *word, char id[AOX_ID_LEN + 1])
{
    size_t wl = strlen(word);
    if (path[0] != '/' || strncmp(path + 1, word, wl) != 0 || path[1 + wl] != '/')
        return 0;
    path += 2 + wl;
    if (strlen(path) < AOX_ID_LEN || (path[AOX_ID_LEN] && strcmp(path + AOX_ID_LEN, "/") != 0))
        return 0;
    memcpy(id, path, AOX_ID_LEN);
    id[AOX_ID_LEN] = '\0';
    return aox_id_valid(id);
}

/* The process a legacy request is about (for ctx->owner): the item's own ID for a
 * Process item, its target for a Message item, ?process-id= or the path's ID.
 * Returns 0 when there is none (Module items, /graphql, malformed requests: those
 * are served, or refused, here). */
static int route_pid(const aox_http_request *req, aox_route_kind kind, const char *id,
                     char pid[AOX_ID_LEN + 1])
{
    const char *p = NULL;
    if (kind == AOX_R_LEGACY_ITEM) {
        aox_ans104_item *it = NULL;
        const aox_ans104_tag *type;
        const uint8_t *t;
        size_t tl = 0;
        int got = 0;
        if (req->body_len == 0 || aox_ans104_parse(req->body, req->body_len, &it, NULL))
            return 0;
        type = aox_ans104_tag_find(it, "Type");
        t = aox_ans104_target(it, &tl);
        if (type && type->value_len == 7 && memcmp(type->value, "Process", 7) == 0) {
            aox_ans104_id(it, pid);
            got = 1;
        } else if ((!type || (type->value_len == 7 && memcmp(type->value, "Message", 7) == 0))
                   && t && tl == 32) {
            aox_b64url_encode(t, 32, pid);
            got = 1;
        }
        aox_ans104_free(it);
        return got;
    }
    if (kind == AOX_R_LEGACY_ASSIGN || kind == AOX_R_DRY_RUN || kind == AOX_R_CU_RESULT)
        p = q(req, "process-id");
    else if (kind == AOX_R_RESULTS || kind == AOX_R_STATE)
        p = id;
    if (!valid_pid(p)) return 0;
    memcpy(pid, p, AOX_ID_LEN + 1);
    return 1;
}

int aox_http_legacy_serve(const aox_http_ctx *ctx, const aox_http_request *req,
                          aox_http_response *resp, int *rcp)
{
    const char *m = req->method, *p = req->path, *allow = NULL;
    char id[AOX_ID_LEN + 1], pid[AOX_ID_LEN + 1];
    aox_route_kind kind;
    aox_err err;
    uint64_t current = 0;
    int rc, is_get = strcmp(m, "GET") == 0, is_post = strcmp(m, "POST") == 0;

    if (strcmp(p, "/") == 0) {
        kind = q(req, "assign") ? AOX_R_LEGACY_ASSIGN : AOX_R_LEGACY_ITEM;
        allow = is_post ? NULL : "POST";
    } else if (strcmp(p, "/graphql") == 0 || strcmp(p, "/graphql/") == 0) {
        kind = AOX_R_GRAPHQL;
        allow = is_post ? NULL : "POST";
    } else if (strcmp(p, "/dry-run") == 0 || strcmp(p, "/dry-run/") == 0) {
        kind = AOX_R_DRY_RUN;
        allow = is_post ? NULL : "POST";
    } else if (path_id(p, "result", id)) {
        kind = AOX_R_CU_RESULT;
        allow = is_get ? NULL : "GET";
    } else if (path_id(p, "results", id)) {
        kind = AOX_R_RESULTS;
        allow = is_get ? NULL : "GET";
    } else if (path_id(p, "state", id)) {
        kind = AOX_R_STATE;
        allow = is_get ? NULL : "GET";
    } else {
        return 0;
    }
    aox_err_clear(&err);
    resp->route = kind;
    if (allow) {
        resp->allow = allow;
        rc = aox_err_set(&err, AOX_E_METHOD, "method %s not allowed here (allowed: %s)",
                         m, allow);
        goto fail;
    }
    if (ctx->owner && route_pid(req, kind, id, pid)
        && ctx->owner(ctx->owner_ud, req, pid, resp, rcp))
        return 1;                              /* cluster mode: served by the owner */
    switch (kind) {
    case AOX_R_LEGACY_ITEM:   rc = h_item(ctx, req, resp, &err); break;
    case AOX_R_LEGACY_ASSIGN: rc = h_assign(ctx, req, resp, &err); break;
    case AOX_R_GRAPHQL:       rc = h_graphql(ctx, req, resp, &err); break;
    case AOX_R_DRY_RUN:       rc = h_dry_run(ctx, req, resp, &err); break;
    case AOX_R_CU_RESULT:     rc = h_result(ctx, id, req, resp, &err, &current); break;
    case AOX_R_RESULTS:       rc = h_results(ctx, id, req, resp, &err); break;
    case AOX_R_STATE:         rc = h_state(ctx, id, resp, &err); break;
    default:                  rc = aox_err_set(&err, AOX_E_INTERNAL, "unrouted"); break;
    }
    if (rc == 0) {
        *rcp = AOX_OK;
        return 1;
    }
fail:
    if (err.code == AOX_OK) aox_err_set(&err, rc, "%s", aox_code_name(rc));
    reply_error(resp, &err, err.code == AOX_E_NOT_YET && kind == AOX_R_CU_RESULT, current);
    *rcp = err.code;
    return 1;
}
