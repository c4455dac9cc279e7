/*
 * lua/lua_env.c: lifecycle of one lua@5.3 state — the counting allocator, the fuel
 * hook, calling the handler per message, building the result, and rollback.
 *
 * Rollback strategy ("image + replay"): the state keeps its last serialised image
 * (taken at init, at every aox_lua_snapshot and by the refresh policy below) and a
 * log of the messages applied successfully since. A message that fails (script
 * error, out of fuel, out of memory, result too large) or a dry run is undone by
 * closing the Lua state, restoring the image into a fresh sandbox and replaying the
 * log. A successful message costs a copy of its JSON into the log; a failure, one
 * restore plus the replay. The image is refreshed after a successful message once
 * the time spent on the messages logged since the image reaches image_factor x the
 * time the last image took (images then cost at most ~1/image_factor of compute,
 * and a replay stays within ~image_factor images' worth of work), or image_max_log
 * messages are logged. The clock decides only *when* an image is taken, never what
 * a message computes. A state that cannot be imaged (it holds a suspended
 * coroutine) falls back to the previous image, or to re-running the script from
 * scratch, and replays a longer log. After a rollback that replayed 16 or more
 * messages the state is re-imaged at once (the replay is already paid).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <lualib.h>
#include "lua/lua_int.h"

/* ================================================================ allocator */

/* Counts every byte of the Lua heap. While limit_on (guest code runs), a request
 * that would pass the limit fails once (Lua then runs an emergency full collection
 * and retries); if the retry fails too the guest is out of memory, sticky for the
 * rest of the message so a guest pcall cannot swallow it. Shrinking never fails. */
static void *l_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    aox_lua *lx = ud;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        free(ptr);
        lx->mem -= old;
        return NULL;
    }
    if (nsize > old && lx->limit_on && lx->mem_limit) {
        if (lx->oom || lx->mem - old + nsize > lx->mem_limit) {
            if (lx->fail_pending || lx->oom)
                lx->oom = 1;
            lx->fail_pending = 1;
            return NULL;
        }
        lx->fail_pending = 0;
    }
    void *p = realloc(ptr, nsize);
    if (!p) {
        if (nsize > old)
            lx->host_oom = 1;
        return NULL;
    }
    lx->mem = lx->mem - old + nsize;
    return p;
}

/* ================================================================= helpers */

static void seterr(char *err, size_t errlen, const char *fmt, const char *a)
{
    if (err && errlen)
        snprintf(err, errlen, fmt, a ? a : "");
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* Elapsed time (ns), only used to decide when to refresh the image. Monotonic wall
 * time, not thread CPU time: the latter is a system call costing microseconds on
 * some VMs, the former is read from the vDSO. */
static uint64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void clear_guest_error(aox_lua *lx)
{
    free(lx->err_msg);
    free(lx->err_tb);
    lx->err_msg = lx->err_tb = NULL;
}

/* Runs f(ud) in protected mode with the limit off; on error copies the message. */
static int host_pcall(aox_lua *lx, lua_CFunction f, void *ud, char *err, size_t errlen)
{
    lua_State *L = lx->L;
    int top = lua_gettop(L);
    lx->limit_on = 0;
    lua_pushcfunction(L, f);
    lua_pushlightuserdata(L, ud);
    int st = lua_pcall(L, 1, 0, 0);
    if (st != LUA_OK) {
        const char *m = lua_tostring(L, -1);
        seterr(err, errlen, "%s", m ? m : "error");
    }
    lua_settop(L, top);
    return st;
}

/* Message handler for guest code: keeps the message and a traceback in host memory. */
static int msgh(lua_State *L)
{
    aox_lua *lx = aoxl_get(L);
    if (lx->out_of_fuel || lx->interrupted || lx->oom)
        return 1;
    const char *m = lua_tostring(L, 1);
    if (!m) {
        if (luaL_getmetafield(L, 1, "__tostring") != LUA_TNIL) {
            lua_pop(L, 1);
            aoxl_push_tostring(L, 1);          /* guest code, still metered */
        } else {
            lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
        }
        m = lua_tostring(L, -1);
    }
    lx->limit_on = 0;
    clear_guest_error(lx);
    lx->err_msg = xstrdup(m ? m : "?");
    luaL_traceback(L, L, m, 1);
    lx->err_tb = xstrdup(lua_tostring(L, -1));
    if (!lx->err_msg || !lx->err_tb)
        lx->host_oom = 1;
    return 1;
}

/* Calls the function on top of the stack (with nargs below it... above it) as guest
 * code: fuel hook and memory limit on. Returns the Lua status; results stay. */
static int guest_call(aox_lua *lx, int nargs, int nres, uint64_t fuel)
{
    lua_State *L = lx->L;
    int fidx = lua_gettop(L) - nargs;
    lua_pushcfunction(L, msgh);
    lua_insert(L, fidx);
    lx->gas = lx->step;             /* gas is charged per started step: rounds up */
    lx->fuel = fuel;
    lx->out_of_fuel = lx->interrupted = lx->oom = lx->fail_pending = 0;
    clear_guest_error(lx);
    lua_sethook(L, aoxl_hook, LUA_MASKCOUNT, (int)lx->step);
    lx->limit_on = 1;
    int st = lua_pcall(L, nargs, nres, fidx);
    lx->limit_on = 0;
    lua_sethook(L, NULL, 0, 0);
    lua_remove(L, fidx);
    return st;
}

/* ============================================================ state creation */

static int step_sandbox(lua_State *L)
{
    return aoxl_open_sandbox(L);
}

/* envdata.Process = read-only copy of the definition */
static int step_def(lua_State *L)
{
    aox_lua *lx = aoxl_get(L);
    lua_getfield(L, LUA_REGISTRYINDEX, AOXL_REG);
    lua_getfield(L, -1, "envdata");
    if (lx->def) {
        aoxl_push_json(L, lx->def, 1);
        lua_setfield(L, -2, "Process");
    }
    return 0;
}

/* preload[name] = the compiled module source (arg: the aox_lua_module) */
static int step_preload(lua_State *L)
{
    const aox_lua_module *m = lua_touserdata(L, 1);
    char chunk[80];
    snprintf(chunk, sizeof chunk, "=%.70s", m->name);
    lua_getfield(L, LUA_REGISTRYINDEX, AOXL_REG);
    lua_getfield(L, -1, "preload");
    if (luaL_loadbufferx(L, m->source, m->len, chunk, "t") != LUA_OK)
        return lua_error(L);
    lua_setfield(L, -2, m->name);
    return 0;
}

/* Keeps a copy of the host's modules (needed again when a rollback has no image). */
static int copy_modules(aox_lua *lx, const aox_lua_opts *opts, char *err, size_t errlen)
{
    size_t n = opts ? opts->nmodules : 0;
    lx->opts.modules = NULL;
    lx->opts.nmodules = 0;
    if (!n)
        return AOX_LUA_OK;
    aox_lua_module *m = calloc(n, sizeof *m);
    if (!m)
        return AOX_LUA_ENOMEM;
    lx->mods = m;
    lx->opts.modules = m;
    for (size_t i = 0; i < n; i++) {
        const aox_lua_module *src = &opts->modules[i];
        if (!src->name || !src->source) {
            seterr(err, errlen, "%s", "module without name or source");
            return AOX_LUA_EINVAL;
        }
        char *nm = xstrdup(src->name), *so = malloc(src->len + 1);
        if (!nm || !so) {
            free(nm);
            free(so);
            return AOX_LUA_ENOMEM;
        }
        memcpy(so, src->source, src->len);
        so[src->len] = 0;
        m[i].name = nm;
        m[i].source = so;
        m[i].len = src->len;
        lx->opts.nmodules = i + 1;
    }
    return AOX_LUA_OK;
}

static int apply_modules(aox_lua *lx, char *err, size_t errlen)
{
    for (size_t i = 0; i < lx->opts.nmodules; i++)
        if (host_pcall(lx, step_preload, (void *)&lx->opts.modules[i], err, errlen) != LUA_OK)
            return lx->host_oom ? AOX_LUA_ENOMEM : AOX_LUA_EINVAL;
    return AOX_LUA_OK;
}

static int new_sandbox(aox_lua *lx, char *err, size_t errlen)
{
    lx->mem = 0;
    lx->host_oom = 0;
    lx->ncf = 0;
    lx->L = lua_newstate(l_alloc, lx);
    if (!lx->L) {
        seterr(err, errlen, "%s", "cannot create a Lua state");
        return AOX_LUA_ENOMEM;
    }
    if (host_pcall(lx, step_sandbox, NULL, err, errlen) != LUA_OK ||
        host_pcall(lx, step_def, NULL, err, errlen) != LUA_OK)
        return AOX_LUA_ENOMEM;
    return AOX_LUA_OK;
}

static void close_state(aox_lua *lx)
{
    if (lx->L)
        lua_close(lx->L);
    lx->L = NULL;
}

static int run_script(aox_lua *lx, char *err, size_t errlen)
{
    lua_State *L = lx->L;
    lx->now_ms = 0;
    aoxl_seed(lx, lx->pid, strlen(lx->pid));
    lx->limit_on = 1;
    int st = luaL_loadbufferx(L, lx->script, lx->script_len, "=process", "t");
    lx->limit_on = 0;
    if (st != LUA_OK) {
        seterr(err, errlen, "%s", st == LUA_ERRMEM ? "out of memory" : lua_tostring(L, -1));
        lua_pop(L, 1);
        return AOX_LUA_EINVAL;
    }
    uint64_t fuel = lx->opts.init_fuel ? lx->opts.init_fuel
                                       : lx->opts.fuel * AOXL_INIT_FUEL_FACTOR;
    st = guest_call(lx, 0, 0, fuel);
    if (lx->host_oom) {
        seterr(err, errlen, "%s", "host out of memory");
        return AOX_LUA_ENOMEM;
    }
    if (st != LUA_OK || lx->oom || lx->out_of_fuel || lx->interrupted) {
        if (lx->oom || st == LUA_ERRMEM)
            seterr(err, errlen, "%s", "script: out of memory");
        else if (lx->out_of_fuel)
            seterr(err, errlen, "%s", "script: out of fuel");
        else if (lx->interrupted)
            seterr(err, errlen, "%s", "script: interrupted");
        else if (err && errlen)
            snprintf(err, errlen, "script: %s", lx->err_tb ? lx->err_tb : lua_tostring(L, -1));
        lua_settop(L, 0);
        return AOX_LUA_EINVAL;
    }
    lua_settop(L, 0);
    return AOX_LUA_OK;
}

static int make_image(aox_lua *lx, char *err, size_t errlen)
{
    aoxl_buf b[4];
    uint64_t t0 = cpu_ns();
    memset(b, 0, sizeof b);
    int st = host_pcall(lx, aoxl_persist, b, err, errlen);
    uint64_t dt = cpu_ns() - t0;
    aoxl_buf_free(&b[1]);
    aoxl_buf_free(&b[2]);
    aoxl_buf_free(&b[3]);
    if (st != LUA_OK) {
        aoxl_buf_free(&b[0]);
        return (st == LUA_ERRMEM || lx->host_oom) ? AOX_LUA_ENOMEM : AOX_LUA_EPERSIST;
    }
    free(lx->image);
    lx->image = b[0].p;
    lx->image_len = b[0].len;
    lx->stats.images++;
    for (size_t i = 0; i < lx->nlog; i++) {
        json_decref(lx->log[i].message);
        json_decref(lx->log[i].assignment);
        free(lx->log[i].message_id);
    }
    lx->nlog = 0;
    lx->log_ns = 0;
    /* one sample can be inflated by preemption: fall fast, rise slowly */
    lx->image_ns = (!lx->image_ns || dt < lx->image_ns) ? dt : (lx->image_ns * 3 + dt) / 4;
    lx->image_retry_at = 0;
    return AOX_LUA_OK;
}

static int load_image(aox_lua *lx, const uint8_t *p, size_t n, char *err, size_t errlen)
{
    aoxl_bytes by = {p, n};
    int st = host_pcall(lx, aoxl_unpersist, &by, err, errlen);
    if (st == LUA_ERRMEM)
        return AOX_LUA_ENOMEM;
    return st == LUA_OK ? AOX_LUA_OK : AOX_LUA_ECORRUPT;
}

static int lx_alloc(const aox_lua_opts *opts, const json_t *def, const char *script,
                    size_t script_len, aox_lua **out)
{
    aox_lua *lx = calloc(1, sizeof *lx);
    if (!lx)
        return AOX_LUA_ENOMEM;
    if (opts)
        lx->opts = *opts;
    lx->entry = xstrdup(lx->opts.entry ? lx->opts.entry : "handle");
    lx->pid = xstrdup(lx->opts.process_id ? lx->opts.process_id : "");
    lx->script = malloc(script_len + 1);
    lx->def = def ? json_deep_copy(def) : NULL;
    if (!lx->entry || !lx->pid || !lx->script || (def && !lx->def)) {
        aox_lua_free(lx);
        return AOX_LUA_ENOMEM;
    }
    if (script_len)
        memcpy(lx->script, script, script_len);
    lx->script[script_len] = 0;
    lx->script_len = script_len;
    lx->opts.entry = lx->entry;
    lx->opts.modules = NULL;         /* set by copy_modules (aox_lua_new only) */
    lx->opts.nmodules = 0;
    lx->opts.process_id = lx->pid;
    lx->mem_limit = lx->opts.memory;
    lx->step = lx->opts.hook_step ? lx->opts.hook_step : AOXL_HOOK_STEP;
    if (lx->step > (1u << 30))
        lx->step = 1u << 30;
    *out = lx;
    return AOX_LUA_OK;
}

int aox_lua_new(const aox_lua_opts *opts, const json_t *def, const char *script,
                size_t script_len, aox_lua **out, char *err, size_t errlen)
{
    aox_lua *lx = NULL;
    int rc;
    *out = NULL;
    if (!script) {
        seterr(err, errlen, "%s", "no script");
        return AOX_LUA_EINVAL;
    }
    if ((rc = lx_alloc(opts, def, script, script_len, &lx)))
        return rc;
    if ((rc = new_sandbox(lx, err, errlen)))
        goto fail;
    if ((rc = copy_modules(lx, opts, err, errlen)) || (rc = apply_modules(lx, err, errlen)))
        goto fail;
    if ((rc = run_script(lx, err, errlen)))
        goto fail;
    rc = make_image(lx, NULL, 0);       /* EPERSIST: roll back by re-running the script */
    if (rc == AOX_LUA_ENOMEM)
        goto fail;
    *out = lx;
    return AOX_LUA_OK;
fail:
    aox_lua_free(lx);
    return rc;
}

int aox_lua_restore(const aox_lua_opts *opts, const json_t *def, const char *script,
                    size_t script_len, const uint8_t *bytes, size_t len,
                    aox_lua **out, char *err, size_t errlen)
{
    aox_lua *lx = NULL;
    int rc;
    *out = NULL;
    if ((rc = lx_alloc(opts, def, script ? script : "", script ? script_len : 0, &lx)))
        return rc;
    uint64_t t0 = cpu_ns();
    if ((rc = new_sandbox(lx, err, errlen)) || (rc = load_image(lx, bytes, len, err, errlen)))
        goto fail;
    lx->image_ns = cpu_ns() - t0;    /* estimate of what an image of this state costs */
    lx->image = malloc(len ? len : 1);
    if (!lx->image) {
        rc = AOX_LUA_ENOMEM;
        goto fail;
    }
    memcpy(lx->image, bytes, len);
    lx->image_len = len;
    *out = lx;
    return AOX_LUA_OK;
fail:
    aox_lua_free(lx);
    return rc;
}

void aox_lua_free(aox_lua *lx)
{
    if (!lx)
        return;
    close_state(lx);
    for (size_t i = 0; i < lx->nlog; i++) {
        json_decref(lx->log[i].message);
        json_decref(lx->log[i].assignment);
        free(lx->log[i].message_id);
    }
    free(lx->log);
    free(lx->image);
    free(lx->cf);
    for (size_t i = 0; i < lx->opts.nmodules; i++) {
        free((char *)lx->mods[i].name);
        free((char *)lx->mods[i].source);
    }
    free(lx->mods);
    aoxl_buf_free(&lx->print);
    json_decref(lx->outbox);
    json_decref(lx->spawns);
    json_decref(lx->assigns);
    json_decref(lx->events);
    json_decref(lx->def);
    clear_guest_error(lx);
    free(lx->entry);
    free(lx->pid);
    free(lx->script);
    free(lx);
}

size_t aox_lua_memory(const aox_lua *lx) { return lx ? lx->mem : 0; }

void aox_lua_get_stats(const aox_lua *lx, aox_lua_stats *out)
{
    *out = lx->stats;
    out->image_bytes = lx->image ? lx->image_len : 0;
    out->log_len = lx->nlog;
}

/* ================================================================= messages */

typedef struct msgctx {
    const aox_lua_call *call;
    int      status;           /* of the guest call */
    json_t  *output;           /* converted return value, or NULL */
    char     cvt_err[256];     /* why the return value could not be converted */
    int      no_entry;
} msgctx;

/* Title-Case aliases for the message's lower-case keys (from -> From, block-height
 * -> Block-Height) when absent, so aos-style handlers (msg.From, msg.Data) work. */
static void add_aliases(lua_State *L, int t)
{
    lua_Integer n = aoxl_sorted_keys(L, t);
    int keys = lua_gettop(L);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, keys, i);
        size_t len;
        const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
        char alias[64];
        int ok = k && len > 0 && len < sizeof alias && strcmp(k, "tags") != 0;
        for (size_t j = 0; ok && j < len; j++) {
            char ch = k[j];
            ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-';
            alias[j] = (char)((j == 0 || k[j - 1] == '-') && ch >= 'a' && ch <= 'z'
                              ? ch - 'a' + 'A' : ch);
        }
        if (ok) {
            alias[len] = 0;
            if (lua_getfield(L, t, alias) == LUA_TNIL) {
                lua_pushvalue(L, -2);
                lua_rawget(L, t);
                lua_setfield(L, t, alias);
            }
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

/* Builds msg's Lua table: the message's keys, plus `tags` as an ordered list. If the
 * message has a `tags` list of {name, value}, each tag is also set as msg[name] when
 * that key is absent (ao style: msg.Action). Otherwise `tags` lists every key but
 * `data` in canonical order. Then Title-Case aliases are added (add_aliases). */
static void push_message(lua_State *L, const json_t *m)
{
    aoxl_push_json(L, m, 0);
    int t = lua_gettop(L);
    if (lua_getfield(L, t, "tags") == LUA_TTABLE) {
        lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
        for (lua_Integer i = 1; i <= n; i++) {
            lua_rawgeti(L, -1, i);
            if (lua_istable(L, -1)) {
                lua_getfield(L, -1, "name");
                if (lua_type(L, -1) == LUA_TSTRING) {
                    lua_pushvalue(L, -1);
                    if (lua_rawget(L, t) == LUA_TNIL) {
                        lua_pop(L, 1);
                        lua_getfield(L, -2, "value");
                        lua_rawset(L, t);
                    } else {
                        lua_pop(L, 2);
                    }
                } else {
                    lua_pop(L, 1);
                }
            }
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
        add_aliases(L, t);
        return;
    }
    lua_pop(L, 1);
    lua_Integer n = aoxl_sorted_keys(L, t);
    int keys = lua_gettop(L);
    lua_createtable(L, (int)n, 0);
    lua_Integer k = 0;
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, keys, i);
        if (lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), "data") != 0) {
            lua_createtable(L, 0, 2);
            lua_pushvalue(L, -2);
            lua_setfield(L, -2, "name");
            lua_pushvalue(L, -2);
            lua_rawget(L, t);
            lua_setfield(L, -2, "value");
            lua_rawseti(L, keys + 1, ++k);
        }
        lua_pop(L, 1);
    }
    lua_setfield(L, t, "tags");
    lua_pop(L, 1);
    add_aliases(L, t);
}

static void set_envdata(lua_State *L, const char *k, const json_t *j)
{
    lua_getfield(L, LUA_REGISTRYINDEX, AOXL_REG);
    lua_getfield(L, -1, "envdata");
    if (j)
        aoxl_push_json(L, j, 1);
    else
        lua_pushnil(L);
    lua_setfield(L, -2, k);
    lua_pop(L, 2);
}

static int step_message(lua_State *L)
{
    aox_lua *lx = aoxl_get(L);
    msgctx *c = lua_touserdata(L, 1);
    const aox_lua_call *call = c->call;
    lua_settop(L, 0);
    if (lua_getglobal(L, lx->entry) != LUA_TFUNCTION) {
        c->no_entry = 1;
        return 0;
    }
    push_message(L, call->message);
    if (call->assignment) {
        aoxl_push_json(L, call->assignment, 0);
        lua_pushvalue(L, 2);
        lua_setfield(L, -2, "body");
    } else {
        lua_newtable(L);
    }
    set_envdata(L, "Assignment", call->assignment);
    lx->in_message = 1;
    c->status = guest_call(lx, 2, 1, lx->opts.fuel);
    lx->in_message = 0;
    set_envdata(L, "Assignment", NULL);
    if (c->status == LUA_OK && !lua_isnil(L, -1) && !lx->oom && !lx->out_of_fuel) {
        c->output = aoxl_to_json(L, -1, 0, c->cvt_err, sizeof c->cvt_err);
        if (!c->output && !c->cvt_err[0])
            snprintf(c->cvt_err, sizeof c->cvt_err, "host out of memory");
    }
    lua_settop(L, 0);
    return 0;
}

/* A JSON string of s with every byte that is not part of valid UTF-8 replaced by
 * '?' (error texts are for people; they must not make the result unencodable). */
static json_t *text_json(const char *s)
{
    size_t n = strlen(s);
    if (aoxl_utf8_valid((const unsigned char *)s, n))
        return json_stringn(s, n);
    char *t = malloc(n + 1);
    if (!t)
        return NULL;
    size_t i = 0;
    while (i < n) {
        size_t k = 1;
        while (k <= 4 && i + k <= n && !aoxl_utf8_valid((const unsigned char *)s + i, k))
            k++;
        if (k <= 4 && i + k <= n) {
            memcpy(t + i, s + i, k);
            i += k;
        } else {
            t[i++] = '?';
        }
    }
    json_t *j = json_stringn(t, n);
    free(t);
    return j;
}

static json_t *error_result(const char *code, const char *msg, const char *tb, uint64_t gas)
{
    json_t *e = json_object(), *r = json_object();
    if (!e || !r || json_object_set_new(e, "code", json_string(code)) ||
        json_object_set_new(e, "message", text_json(msg)) ||
        (tb && json_object_set_new(e, "traceback", text_json(tb))) ||
        json_object_set_new(r, "gas", json_integer((json_int_t)gas))) {
        json_decref(e);
        json_decref(r);
        return NULL;
    }
    if (json_object_set_new(r, "error", e)) {
        json_decref(r);
        return NULL;
    }
    return r;
}

/* Runs one message on the current state. Returns a host code; on AOX_LUA_OK *res is
 * the result (which may carry `error`, in which case the state must be rolled back). */
static int run_one(aox_lua *lx, const aox_lua_call *call, json_t **res,
                   char *err, size_t errlen)
{
    msgctx c;
    int rc = AOX_LUA_OK;
    json_t *r = NULL;
    memset(&c, 0, sizeof c);
    c.call = call;
    *res = NULL;
    aoxl_buf_free(&lx->print);
    json_decref(lx->outbox); json_decref(lx->spawns);
    json_decref(lx->assigns); json_decref(lx->events);
    lx->outbox = json_array(); lx->spawns = json_array();
    lx->assigns = json_array(); lx->events = json_array();
    lx->now_ms = call->timestamp_ms;
    lx->interrupt = call->interrupt;
    {
        const char *id = call->message_id ? call->message_id : "";
        size_t n = strlen(id);
        uint8_t *seed = malloc(n + 8);
        if (!seed) {
            rc = AOX_LUA_ENOMEM;
            goto out;
        }
        memcpy(seed, id, n);
        for (int i = 0; i < 8; i++)
            seed[n + i] = (uint8_t)(call->slot >> (56 - 8 * i));
        aoxl_seed(lx, seed, n + 8);
        free(seed);
    }
    if (!lx->outbox || !lx->spawns || !lx->assigns || !lx->events) {
        rc = AOX_LUA_ENOMEM;
        goto out;
    }
    int st = host_pcall(lx, step_message, &c, err, errlen);
    lx->interrupt = NULL;
    if (lx->interrupted) {
        seterr(err, errlen, "%s", "interrupted by the host");
        rc = AOX_LUA_EINTR;
        goto out;
    }
    if (st != LUA_OK || lx->host_oom) {
        if (st == LUA_OK)
            seterr(err, errlen, "%s", "host out of memory");
        rc = AOX_LUA_ENOMEM;
        goto out;
    }
    uint64_t gas = lx->gas;
    /* The limit refusal is sticky when Lua's emergency collection did not help;
     * lauxlib's buffers report a refused allocation as an ordinary error. */
    if (c.status == LUA_ERRMEM ||
        (c.status != LUA_OK && lx->err_msg && strstr(lx->err_msg, "not enough memory")))
        lx->oom = 1;
    if (lx->oom)
        r = error_result("out_of_memory", "out of memory", NULL, gas);
    else if (lx->out_of_fuel)
        r = error_result("out_of_fuel", "out of fuel", NULL, lx->fuel);
    else if (c.no_entry) {
        char m[200];
        snprintf(m, sizeof m, "no global function '%.100s' to handle the message", lx->entry);
        r = error_result("guest_error", m, NULL, 0);
    } else if (c.status == LUA_ERRERR)
        r = error_result("guest_error", "error in error handling", NULL, gas);
    else if (c.status != LUA_OK)
        r = error_result("guest_error", lx->err_msg ? lx->err_msg : "error",
                         lx->err_tb, gas);
    else if (c.cvt_err[0]) {
        char m[300];
        snprintf(m, sizeof m, "cannot encode the handler's return value: %s", c.cvt_err);
        r = error_result("guest_error", m, NULL, gas);
    } else {
        r = json_object();
        if (!r)
            goto nomem;
        const char *pkey = c.output ? "print" : "output";
        if (c.output) {
            json_t *o = c.output;
            c.output = NULL;                      /* set_new takes it even on failure */
            if (json_object_set_new(r, "output", o))
                goto nomem;
        }
        if (lx->print.len &&
            json_object_set_new(r, pkey, aoxl_str_to_json((char *)lx->print.p, lx->print.len)))
            goto nomem;
        if ((json_array_size(lx->outbox) && json_object_set(r, "outbox", lx->outbox)) ||
            (json_array_size(lx->spawns) && json_object_set(r, "spawns", lx->spawns)) ||
            (json_array_size(lx->assigns) &&
             json_object_set(r, "assignments", lx->assigns)) ||
            (json_array_size(lx->events) && json_object_set(r, "events", lx->events)) ||
            json_object_set_new(r, "gas", json_integer((json_int_t)gas)))
            goto nomem;
    }
    if (!r)
        goto nomem;
    *res = r;
    goto out;
nomem:
    json_decref(r);
    seterr(err, errlen, "%s", "host out of memory");
    rc = AOX_LUA_ENOMEM;
out:
    json_decref(c.output);
    lx->stats.messages++;
    return rc;
}

static int log_call(aox_lua *lx, const aox_lua_call *call, uint64_t ns)
{
    if (lx->nlog == lx->caplog) {
        size_t cap = lx->caplog ? lx->caplog * 2 : 64;
        aoxl_logent *n = realloc(lx->log, cap * sizeof *n);
        if (!n)
            return AOX_LUA_ENOMEM;
        lx->log = n;
        lx->caplog = cap;
    }
    aoxl_logent *e = &lx->log[lx->nlog];
    e->message = json_deep_copy(call->message);
    e->assignment = call->assignment ? json_deep_copy(call->assignment) : NULL;
    e->message_id = xstrdup(call->message_id ? call->message_id : "");
    e->slot = call->slot;
    e->timestamp_ms = call->timestamp_ms;
    if (!e->message || (call->assignment && !e->assignment) || !e->message_id) {
        json_decref(e->message);
        json_decref(e->assignment);
        free(e->message_id);
        return AOX_LUA_ENOMEM;
    }
    lx->nlog++;
    lx->log_ns += ns;
    return AOX_LUA_OK;
}

/* Undo everything since the image: fresh sandbox, image (or script), replay. */
static int rollback(aox_lua *lx, char *err, size_t errlen)
{
    int rc;
    close_state(lx);                 /* first: the allocator counts both otherwise */
    lx->stats.rollbacks++;
    if ((rc = new_sandbox(lx, err, errlen)))
        goto fail;
    if (lx->image)
        rc = load_image(lx, lx->image, lx->image_len, err, errlen);
    else {
        lx->nextid = 0;
        rc = apply_modules(lx, err, errlen);
        if (!rc)
            rc = run_script(lx, err, errlen);
    }
    if (rc)
        goto fail;
    for (size_t i = 0; i < lx->nlog; i++) {
        aoxl_logent *e = &lx->log[i];
        aox_lua_call c = {e->message, e->assignment, e->message_id, e->slot,
                          e->timestamp_ms, NULL, 0};
        json_t *r = NULL;
        if ((rc = run_one(lx, &c, &r, err, errlen)))
            goto fail;
        int bad = json_object_get(r, "error") != NULL;
        json_decref(r);
        if (bad) {
            seterr(err, errlen, "%s", "replay diverged (a logged message failed)");
            rc = AOX_LUA_EBROKEN;
            goto fail;
        }
        lx->stats.messages--;
    }
    /* The replayed work is paid; re-image now so the next rollback replays only what
     * comes after (failures tend to cluster). A state that cannot be imaged keeps
     * its older image and log. */
    if (lx->nlog >= AOXL_REIMAGE_AFTER_REPLAY && lx->nlog >= lx->image_retry_at) {
        rc = make_image(lx, NULL, 0);
        if (rc == AOX_LUA_EPERSIST)
            lx->image_retry_at = lx->nlog * 2;
        else if (rc)
            goto fail;
        rc = AOX_LUA_OK;
    }
    return AOX_LUA_OK;
fail:
    lx->broken = 1;
    return rc ? rc : AOX_LUA_EBROKEN;
}

int aox_lua_compute(aox_lua *lx, const aox_lua_call *call, json_t **result,
                    char *err, size_t errlen)
{
    int rc;
    json_t *r = NULL;
    *result = NULL;
    if (lx->broken) {
        seterr(err, errlen, "%s", "state unusable after an earlier host fault");
        return AOX_LUA_EBROKEN;
    }
    if (!call || !json_is_object(call->message) ||
        (call->assignment && !json_is_object(call->assignment))) {
        seterr(err, errlen, "%s", "message must be a JSON object");
        return AOX_LUA_EINVAL;
    }
    uint64_t t0 = cpu_ns();
    rc = run_one(lx, call, &r, err, errlen);
    uint64_t spent = cpu_ns() - t0;
    if (rc) {
        char tmp[8];
        int rb = rollback(lx, tmp, sizeof tmp);
        return rb ? AOX_LUA_EBROKEN : rc;
    }
    int failed = json_object_get(r, "error") != NULL;
    if (!failed && lx->opts.result_max) {
        size_t sz = json_dumpb(r, NULL, 0, JSON_COMPACT);
        if (sz > lx->opts.result_max) {
            char m[160];
            json_int_t gas = json_integer_value(json_object_get(r, "gas"));
            snprintf(m, sizeof m, "result of %zu bytes exceeds the limit of %zu bytes", sz,
                     lx->opts.result_max);
            json_decref(r);
            r = error_result("limit_exceeded", m, NULL, (uint64_t)gas);
            if (!r) {
                seterr(err, errlen, "%s", "host out of memory");
                return rollback(lx, NULL, 0) ? AOX_LUA_EBROKEN : AOX_LUA_ENOMEM;
            }
            failed = 1;
        }
    }
    if (failed || call->dry_run) {
        char rerr[256];
        if ((rc = rollback(lx, rerr, sizeof rerr))) {
            json_decref(r);
            seterr(err, errlen, "rollback failed: %s", rerr);
            return rc;
        }
    } else {
        if ((rc = log_call(lx, call, spent))) {
            json_decref(r);
            lx->broken = 1;
            seterr(err, errlen, "%s", "host out of memory");
            return rc;
        }
        uint64_t factor = lx->opts.image_factor ? lx->opts.image_factor : AOXL_IMAGE_FACTOR;
        size_t maxlog = lx->opts.image_max_log ? lx->opts.image_max_log : AOXL_IMAGE_MAX_LOG;
        if ((lx->log_ns >= factor * lx->image_ns || lx->nlog >= maxlog) &&
            lx->nlog >= lx->image_retry_at) {
            rc = make_image(lx, NULL, 0);
            if (rc == AOX_LUA_EPERSIST)
                lx->image_retry_at = lx->nlog * 2;
            else if (rc) {
                json_decref(r);
                lx->broken = 1;
                seterr(err, errlen, "%s", "host out of memory");
                return rc;
            }
        }
    }
    *result = r;
    return AOX_LUA_OK;
}

int aox_lua_snapshot(aox_lua *lx, uint8_t **bytes, size_t *len, char *err, size_t errlen)
{
    *bytes = NULL;
    *len = 0;
    if (lx->broken) {
        seterr(err, errlen, "%s", "state unusable after an earlier host fault");
        return AOX_LUA_EBROKEN;
    }
    int rc = make_image(lx, err, errlen);
    if (rc)
        return rc;
    *bytes = malloc(lx->image_len ? lx->image_len : 1);
    if (!*bytes)
        return AOX_LUA_ENOMEM;
    memcpy(*bytes, lx->image, lx->image_len);
    *len = lx->image_len;
    return AOX_LUA_OK;
}
