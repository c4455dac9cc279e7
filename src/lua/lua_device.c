/*
 * lua/lua_device.c: the `lua@5.3` execution device — adapts aox_lua (lua_env.h) to
 * the device interface (device/device.h).
 *
 * Definition keys:
 *   script   the Lua source, inline                     (one of script/module)
 *   module   ID of the source in the store (module/<id>)
 *   entry    global function called per message (default "handle")
 * Limits: fuel_per_message = VM instructions (0 = none), memory_bytes = Lua heap,
 * result_bytes = compact JSON of the result; wall_ms through call->interrupt (the
 * message is undone and the call returns AOX_E_TIMEOUT, a node fault).
 *
 * Per message the handler gets (msg, assignment) as Lua tables converted from the
 * messages' JSON form (core/json.h); the result entries are those of lua_env.h
 * (output, print, outbox, spawns, assignments, events, error, gas) converted back.
 * A guest failure sets `error` {code, message, traceback?} and the state is rolled
 * back by aox_lua.
 *
 * Snapshot: meta = "LUAD" u8(version 1) be64(image length) be32(page size); the
 * image (lua_persist.c) is cut into pages of LUAD_PAGE bytes, stored content-
 * addressed, so unchanged stretches are deduplicated by the store.
 */
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "device/device.h"
#include "lua/lua_config.h"
#include "lua/lua_device.h"
#include "lua/lua_env.h"
#include "store/store.h"

#define LUAD_PAGE   AOXL_DEVICE_PAGE   /* bytes per snapshot page (lua_config.h) */
#define LUAD_META   (4 + 1 + 8 + 4)

typedef struct luad {
    aox_lua *lx;
} luad;

static int map_rc(int rc)
{
    switch (rc) {
    case AOX_LUA_OK: return AOX_OK;
    case AOX_LUA_EINVAL: return AOX_E_INVALID;
    case AOX_LUA_ENOMEM: return AOX_E_NOMEM;
    case AOX_LUA_EINTR: return AOX_E_TIMEOUT;
    case AOX_LUA_ECORRUPT: return AOX_E_CORRUPT;
    case AOX_LUA_EPERSIST: return AOX_E_UNSUPPORTED;
    default: return AOX_E_INTERNAL;
    }
}

/* The script of a definition: inline `script`, else `module` read from the store. */
static int load_script(const aox_device_env *env, const aox_msg *def, aox_buf *out,
                       aox_err *err)
{
    size_t n;
    const char *s = aox_msg_get_str(def, "script", &n);
    aox_buf key = {0};
    int rc;
    if (s)
        return aox_buf_append(out, s, n) ? aox_err_set(err, AOX_E_NOMEM, "lua: out of memory")
                                         : AOX_OK;
    const char *id = aox_msg_get_str(def, "module", NULL);
    if (!id)
        return aox_err_set(err, AOX_E_INVALID, "lua@5.3: the definition needs `script` or "
                           "`module`");
    if (!env || !env->store)
        return aox_err_set(err, AOX_E_CONFIG, "lua@5.3: no store to read module %s", id);
    rc = aox_key_simple(&key, "module", id);
    if (!rc)
        rc = aox_store_get(env->store, key.data, key.len, out);
    aox_buf_free(&key);
    if (rc == AOX_E_NOT_FOUND)
        return aox_err_set(err, AOX_E_NOT_FOUND, "lua@5.3: module %s not found", id);
    if (rc)
        return aox_err_set(err, rc, "lua@5.3: cannot read module %s", id);
    return AOX_OK;
}

static void make_opts(const aox_device_env *env, const aox_msg *def, aox_lua_opts *o)
{
    memset(o, 0, sizeof *o);
    if (env && env->limits) {
        o->fuel = env->limits->fuel_per_message;
        o->memory = (size_t)env->limits->memory_bytes;
        o->result_max = (size_t)env->limits->result_bytes;
    }
    if (!o->fuel)
        o->fuel = AOXL_DEFAULT_FUEL;
    if (!o->memory)
        o->memory = AOXL_DEFAULT_MEMORY;
    o->entry = aox_msg_get_str(def, "entry", NULL);
    o->process_id = env && env->pid ? env->pid : "";
}

/* A new state (img NULL) or one restored from a snapshot image: the shared part of
 * init and restore (script, definition, options). */
static int luad_open(const aox_device_env *env, const aox_msg *def, const aox_buf *img,
                     void **state, aox_err *err)
{
    aox_buf script = {0};
    json_t *jdef = NULL;
    luad *d = NULL;
    aox_lua_opts o;
    char msg[AOX_ERR_MSG_MAX];
    int rc;

    if ((rc = load_script(env, def, &script, err)))
        goto out;
    jdef = aox_msg_to_json(def);
    d = calloc(1, sizeof *d);
    if (!jdef || !d) {
        rc = aox_err_set(err, AOX_E_NOMEM, "lua@5.3: out of memory");
        goto out;
    }
    make_opts(env, def, &o);
    const char *src = script.data ? (const char *)script.data : "";
    if (img)
        rc = aox_lua_restore(&o, jdef, src, script.len, img->data, img->len, &d->lx, msg,
                             sizeof msg);
    else
        rc = aox_lua_new(&o, jdef, src, script.len, &d->lx, msg, sizeof msg);
    if (rc) {
        rc = aox_err_set(err, map_rc(rc), "lua@5.3: %s", msg);
        goto out;
    }
    *state = d;
    d = NULL;
out:
    free(d);
    json_decref(jdef);
    aox_buf_free(&script);
    return rc;
}

static int luad_init(const aox_device_env *env, const aox_msg *def, void **state, aox_err *err)
{
    *state = NULL;
    return luad_open(env, def, NULL, state, err);
}

/* result["error"] = {code, message, traceback?} from the library's error object. */
static int set_error(aox_msg *result, const json_t *e)
{
    aox_msg *m = aox_msg_new();
    const char *tb = json_string_value(json_object_get(e, "traceback"));
    const char *code = json_string_value(json_object_get(e, "code"));
    int rc;
    if (!m)
        return AOX_E_NOMEM;
    rc = aox_msg_set_str(m, "code", code ? code : aox_code_name(AOX_E_GUEST));
    if (!rc)
        rc = aox_msg_set_str(m, "message", json_string_value(json_object_get(e, "message")));
    if (!rc && tb)
        rc = aox_msg_set_str(m, "traceback", tb);
    if (rc) {
        aox_msg_free(m);
        return rc;
    }
    return aox_msg_take_msg(result, "error", m);
}

/* Copies every entry of the library result (but `error`) into result. A value that
 * has no message form (keys equal but for case) is kept as its JSON text. */
static int set_entries(aox_msg *result, json_t *r)
{
    const char *k;
    json_t *v;
    json_object_foreach(r, k, v) {
        if (strcmp(k, "error") == 0)
            continue;
        json_t *one = json_pack("{s:O}", k, v);
        aox_msg *m = NULL;
        int rc;
        if (!one)
            return AOX_E_NOMEM;
        rc = aox_msg_from_json(one, &m, NULL);
        json_decref(one);
        if (rc == AOX_E_NOMEM)
            return rc;
        if (rc) {
            char *txt = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
            if (!txt)
                return AOX_E_NOMEM;
            rc = aox_msg_set_str(result, k, txt);
            free(txt);
        } else {
            rc = aox_msg_set_value(result, k, aox_msg_get(m, k));
            aox_msg_free(m);
        }
        if (rc)
            return rc;
    }
    return AOX_OK;
}

static int luad_compute(void *state, const aox_call *call, aox_msg *result, aox_err *err)
{
    luad *d = state;
    json_t *jm = NULL, *ja = NULL, *r = NULL;
    char idbuf[AOX_ID_LEN + 1], msg[AOX_ERR_MSG_MAX];
    const char *mid;
    int rc;

    jm = aox_msg_to_json(call->message);
    ja = call->assignment ? aox_msg_to_json(call->assignment) : NULL;
    if (!jm || (call->assignment && !ja)) {
        rc = aox_err_set(err, AOX_E_NOMEM, "lua@5.3: out of memory");
        goto out;
    }
    mid = call->assignment ? aox_msg_get_str(call->assignment, "message-id", NULL) : NULL;
    if (!mid) {
        if (aox_msg_id(call->message, idbuf)) {
            rc = aox_err_set(err, AOX_E_NOMEM, "lua@5.3: out of memory");
            goto out;
        }
        mid = idbuf;
    }
    aox_lua_call c = {jm, ja, mid, call->slot, call->timestamp, call->interrupt,
                      call->dry_run};
    rc = aox_lua_compute(d->lx, &c, &r, msg, sizeof msg);
    if (rc) {
        rc = aox_err_set(err, map_rc(rc), "lua@5.3: %s", msg);
        goto out;
    }
    const json_t *e = json_object_get(r, "error");
    rc = e ? set_error(result, e) : AOX_OK;
    if (!rc)
        rc = set_entries(result, r);
    if (rc)
        rc = aox_err_set(err, rc, "lua@5.3: cannot build the result");
out:
    json_decref(jm);
    json_decref(ja);
    json_decref(r);
    return rc;
}

static int luad_snapshot(void *state, aox_snap_writer *w, aox_err *err)
{
    luad *d = state;
    uint8_t *img = NULL, meta[LUAD_META];
    size_t n = 0;
    char msg[AOX_ERR_MSG_MAX];
    int rc = aox_lua_snapshot(d->lx, &img, &n, msg, sizeof msg);
    if (rc)
        return aox_err_set(err, map_rc(rc), "lua@5.3: %s", msg);
    memcpy(meta, "LUAD", 4);
    meta[4] = 1;
    aox_be_put(meta + 5, n, 8);
    aox_be_put(meta + 13, LUAD_PAGE, 4);
    rc = aox_snap_write_meta(w, meta, sizeof meta);
    for (size_t off = 0, i = 0; !rc && off < n; off += LUAD_PAGE, i++)
        rc = aox_snap_write_page(w, i, img + off, n - off < LUAD_PAGE ? n - off : LUAD_PAGE);
    free(img);
    if (rc)
        return aox_err_set(err, rc, "lua@5.3: cannot write the snapshot");
    return AOX_OK;
}

static int luad_restore(const aox_device_env *env, const aox_msg *def, aox_snap_reader *r,
                        void **state, aox_err *err)
{
    const uint8_t *meta;
    size_t mlen;
    aox_buf img = {0}, page = {0};
    int rc;

    *state = NULL;
    if ((rc = aox_snap_read_meta(r, &meta, &mlen)))
        return aox_err_set(err, rc, "lua@5.3: cannot read the snapshot");
    if (mlen != LUAD_META || memcmp(meta, "LUAD", 4) != 0 || meta[4] != 1)
        return aox_err_set(err, AOX_E_CORRUPT, "lua@5.3: bad snapshot meta");
    uint64_t total = aox_be_get(meta + 5, 8), psize = aox_be_get(meta + 13, 4);
    if (psize == 0 || (total + psize - 1) / psize != aox_snap_page_count(r))
        return aox_err_set(err, AOX_E_CORRUPT, "lua@5.3: snapshot page count mismatch");
    for (uint64_t i = 0; i < aox_snap_page_count(r); i++) {
        rc = aox_snap_read_page(r, i, &page);
        if (!rc && page.len != (i + 1 < aox_snap_page_count(r) ? psize : total - i * psize))
            rc = AOX_E_CORRUPT;
        if (!rc)
            rc = aox_buf_append(&img, page.data, page.len);
        if (rc) {
            rc = aox_err_set(err, rc, "lua@5.3: cannot read snapshot page %llu",
                             (unsigned long long)i);
            goto out;
        }
    }
    rc = luad_open(env, def, &img, state, err);
out:
    aox_buf_free(&img);
    aox_buf_free(&page);
    return rc;
}

static void luad_free(void *state)
{
    luad *d = state;
    if (!d)
        return;
    aox_lua_free(d->lx);
    free(d);
}

static uint64_t luad_memory(void *state)
{
    luad *d = state;
    return (uint64_t)aox_lua_memory(d->lx);
}

const aox_device_ops aox_lua_device = {
    .name = "lua@5.3",
    .init = luad_init,
    .compute = luad_compute,
    .snapshot = luad_snapshot,
    .restore = luad_restore,
    .free = luad_free,
    .memory = luad_memory,
    .digest = NULL,
};

int aox_lua_device_register(void)
{
    return aox_device_register(&aox_lua_device);
}
