/*
 * lua/lua_persist.c: serialise and rebuild a whole lua@5.3 state through the
 * public Lua C API only.
 *
 * What is persisted: everything reachable from three roots — the globals table,
 * the registry table we own (AOXL_REG: ao.env data, preloaded/loaded modules) and the
 * string metatable — plus the identities (tostring/ordering ids) of reachable
 * objects and the identity counter. Objects are numbered 1..N in breadth-first
 * discovery order, with table keys visited in the canonical order of
 * aoxl_sorted_keys, so the same state always gives the same bytes.
 *
 *   image   := "AOXLUA1\n" uleb(version=1) uleb(len) LUA_RELEASE uleb(nextid) uleb(N)
 *              ctor{N} fill{N} value(globals) value(reg) value(stringmt)
 *              uleb(nids) { uleb(object) uleb(id) }*
 *   ctor    := 'S' uleb(len) bytes                      string
 *            | 'T' uleb(narr) uleb(nrec)                 table (sizes are hints)
 *            | 'F' uleb(bytecode string) uleb(nups)      Lua function
 *            | 'C' uleb(len) name                        C function (by name)
 *            | 'K' uleb(len) name uleb(nups)             C closure (by name)
 *            | 'R' byte(0 dead | 1 not started)          coroutine
 *            | 'M'                                       the main thread
 *   fill    := per object in index order, only for T F K R:
 *              T: value(metatable|nil) uleb(n) { value(key) value(val) }*
 *              F: { value | 'J'-tag uleb(function) uleb(upvalue) }*nups
 *              K: value*nups        R: value(body function|nil)
 *   value   := 0 nil | 1 false | 2 true | 3 zigzag-uleb int | 4 8-byte LE double
 *            | 5 uleb(object) | 6 (join, upvalues only) | 7 uleb(len) bytes (a string
 *              of at most 40 bytes, inline; longer strings are objects)
 *
 * Lua functions are written with lua_dump(strip = 0) and their upvalues one by
 * one; an upvalue shared by several closures (same lua_upvalueid) is written once
 * and re-joined with lua_upvaluejoin on restore. A coroutine that has started and
 * not finished cannot be captured with the public API: persisting one fails with
 * its path, e.g. "cannot persist suspended coroutine at Handlers.list[3].co".
 * Restoring loads bytecode: images must come from a trusted store.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lua/lua_int.h"

#define MAGIC "AOXLUA1\n"
enum { V_NIL, V_FALSE, V_TRUE, V_INT, V_FLT, V_REF, V_JOIN, V_STR };



/* ===================================================================== write */

typedef struct wctx {
    aox_lua  *lx;
    aoxl_buf *out, *ctor, *fill, *code;   /* owned by the caller (freed on error) */
    int       refs, objs, upv;     /* stack indices of work tables */
    lua_Integer n;                 /* objects discovered */
} wctx;

static void put(lua_State *L, wctx *c, aoxl_buf *b, const void *p, size_t n)
{
    if (aoxl_buf_put(b, p, n)) {
        c->lx->host_oom = 1;
        luaL_error(L, "host out of memory");
    }
}

static void put_byte(lua_State *L, wctx *c, aoxl_buf *b, int v)
{
    uint8_t x = (uint8_t)v;
    put(L, c, b, &x, 1);
}

static void put_uleb(lua_State *L, wctx *c, aoxl_buf *b, uint64_t v)
{
    uint8_t t[10];
    size_t n = 0;
    do {
        uint8_t x = v & 0x7f;
        v >>= 7;
        t[n++] = x | (v ? 0x80 : 0);
    } while (v);
    put(L, c, b, t, n);
}

/* Path of the value at idx from the roots (for error messages); pushes a string. */
static void push_path(lua_State *L, int target);

static lua_Integer ref_of(lua_State *L, wctx *c, int idx)
{
    idx = lua_absindex(L, idx);
    lua_pushvalue(L, idx);
    if (lua_rawget(L, c->refs) == LUA_TNUMBER) {
        lua_Integer r = lua_tointeger(L, -1);
        lua_pop(L, 1);
        return r;
    }
    lua_pop(L, 1);
    lua_Integer r = ++c->n;
    lua_pushvalue(L, idx);
    lua_pushinteger(L, r);
    lua_rawset(L, c->refs);
    lua_pushvalue(L, idx);
    lua_rawseti(L, c->objs, r);
    return r;
}

static void put_value(lua_State *L, wctx *c, aoxl_buf *b, int idx)
{
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        put_byte(L, c, b, V_NIL);
        return;
    case LUA_TBOOLEAN:
        put_byte(L, c, b, lua_toboolean(L, idx) ? V_TRUE : V_FALSE);
        return;
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) {
            int64_t v = (int64_t)lua_tointeger(L, idx);
            put_byte(L, c, b, V_INT);
            put_uleb(L, c, b, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
        } else {
            double d = lua_tonumber(L, idx);
            uint64_t u;
            uint8_t t[8];
            memcpy(&u, &d, 8);
            for (int i = 0; i < 8; i++)
                t[i] = (uint8_t)(u >> (8 * i));
            put_byte(L, c, b, V_FLT);
            put(L, c, b, t, 8);
        }
        return;
    case LUA_TSTRING: {
        size_t len;
        const char *str = lua_tolstring(L, idx, &len);
        if (len <= AOXL_INLINE_STR) {
            put_byte(L, c, b, V_STR);
            put_uleb(L, c, b, len);
            put(L, c, b, str, len);
            return;
        }
    }
        /* fall through */
    case LUA_TTABLE: case LUA_TFUNCTION: case LUA_TTHREAD:
        put_byte(L, c, b, V_REF);
        put_uleb(L, c, b, (uint64_t)ref_of(L, c, idx));
        return;
    default:
        push_path(L, idx);
        luaL_error(L, "cannot persist %s at %s", luaL_typename(L, idx), lua_tostring(L, -1));
    }
}

static int dump_writer(lua_State *L, const void *p, size_t sz, void *ud)
{
    (void)L;
    return aoxl_buf_put(ud, p, sz);
}

static void write_table(lua_State *L, wctx *c, int t)
{
    lua_Integer n = aoxl_sorted_keys(L, t);
    int keys = lua_gettop(L);
    lua_Integer narr = 0;
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, keys, i);
        int seq = lua_isinteger(L, -1) && lua_tointeger(L, -1) == narr + 1;
        lua_pop(L, 1);
        if (!seq)
            break;
        narr++;
    }
    put_byte(L, c, c->ctor, 'T');
    put_uleb(L, c, c->ctor, (uint64_t)narr);
    put_uleb(L, c, c->ctor, (uint64_t)(n - narr));
    if (lua_getmetatable(L, t)) {
        put_value(L, c, c->fill, -1);
        lua_pop(L, 1);
    } else {
        put_byte(L, c, c->fill, V_NIL);
    }
    put_uleb(L, c, c->fill, (uint64_t)n);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, keys, i);
        put_value(L, c, c->fill, -1);
        lua_rawget(L, t);
        put_value(L, c, c->fill, -1);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

static int count_upvalues(lua_State *L, int f)
{
    int n = 0;
    while (lua_getupvalue(L, f, n + 1)) {
        lua_pop(L, 1);
        n++;
    }
    return n;
}

static void write_function(lua_State *L, wctx *c, int f, lua_Integer self)
{
    int nups = count_upvalues(L, f);
    if (lua_iscfunction(L, f)) {
        const char *name = aoxl_cfunc_name(c->lx, lua_tocfunction(L, f));
        if (!name) {
            push_path(L, f);
            luaL_error(L, "cannot persist C function at %s", lua_tostring(L, -1));
        }
        size_t len = strlen(name);
        put_byte(L, c, c->ctor, nups ? 'K' : 'C');
        put_uleb(L, c, c->ctor, len);
        put(L, c, c->ctor, name, len);
        if (nups)
            put_uleb(L, c, c->ctor, (uint64_t)nups);
        for (int i = 1; i <= nups; i++) {
            lua_getupvalue(L, f, i);
            put_value(L, c, c->fill, -1);
            lua_pop(L, 1);
        }
        return;
    }
    c->code->len = 0;
    lua_pushvalue(L, f);
    int r = lua_dump(L, dump_writer, c->code, 0);
    lua_pop(L, 1);
    if (r) {
        c->lx->host_oom = 1;
        luaL_error(L, "host out of memory");
    }
    lua_pushlstring(L, (const char *)c->code->p, c->code->len);
    lua_Integer cref = ref_of(L, c, -1);
    lua_pop(L, 1);
    put_byte(L, c, c->ctor, 'F');
    put_uleb(L, c, c->ctor, (uint64_t)cref);
    put_uleb(L, c, c->ctor, (uint64_t)nups);
    for (int i = 1; i <= nups; i++) {
        void *id = lua_upvalueid(L, f, i);
        lua_pushlightuserdata(L, id);
        if (lua_rawget(L, c->upv) == LUA_TNUMBER) {
            lua_Integer j = lua_tointeger(L, -1);
            lua_pop(L, 1);
            put_byte(L, c, c->fill, V_JOIN);
            put_uleb(L, c, c->fill, (uint64_t)(j >> 8));
            put_uleb(L, c, c->fill, (uint64_t)(j & 0xff));
            continue;
        }
        lua_pop(L, 1);
        lua_pushlightuserdata(L, id);
        lua_pushinteger(L, self * 256 + i);
        lua_rawset(L, c->upv);
        lua_getupvalue(L, f, i);
        put_value(L, c, c->fill, -1);
        lua_pop(L, 1);
    }
}

static void write_thread(lua_State *L, wctx *c, int t)
{
    lua_State *co = lua_tothread(L, t);
    lua_Debug ar;
    if (co == L || lua_pushthread(co)) {        /* the main thread */
        if (co != L)
            lua_pop(co, 1);
        put_byte(L, c, c->ctor, 'M');
        return;
    }
    lua_pop(co, 1);
    int st = lua_status(co);
    if (st == LUA_YIELD || (st == LUA_OK && lua_getstack(co, 0, &ar)) ||
        (st == LUA_OK && lua_gettop(co) > 1)) {
        push_path(L, t);
        luaL_error(L, "cannot persist suspended coroutine at %s", lua_tostring(L, -1));
    }
    int fresh = st == LUA_OK && lua_gettop(co) == 1;
    put_byte(L, c, c->ctor, 'R');
    put_byte(L, c, c->ctor, fresh);
    if (fresh) {
        lua_pushvalue(co, 1);
        lua_xmove(co, L, 1);
        put_value(L, c, c->fill, -1);
        lua_pop(L, 1);
    } else {
        put_byte(L, c, c->fill, V_NIL);
    }
}

static void push_roots(lua_State *L)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
    lua_getfield(L, LUA_REGISTRYINDEX, AOXL_REG);
    lua_pushliteral(L, "");
    if (!lua_getmetatable(L, -1))
        lua_pushnil(L);
    lua_remove(L, -2);
}

int aoxl_persist(lua_State *L)
{
    wctx c;
    aoxl_buf *bufs = lua_touserdata(L, 1);   /* [0] image, [1] ctor, [2] fill, [3] code */
    memset(&c, 0, sizeof c);
    c.lx = aoxl_get(L);
    c.out = &bufs[0];
    c.ctor = &bufs[1];
    c.fill = &bufs[2];
    c.code = &bufs[3];
    lua_settop(L, 0);
    lua_newtable(L); c.refs = 1;
    lua_newtable(L); c.objs = 2;
    lua_newtable(L); c.upv = 3;
    push_roots(L);                               /* 4 globals, 5 reg, 6 string mt */
    /* discover the roots first so they get the lowest numbers */
    for (int i = 4; i <= 6; i++)
        if (!lua_isnil(L, i))
            ref_of(L, &c, i);
    for (lua_Integer i = 1; i <= c.n; i++) {
        lua_rawgeti(L, c.objs, i);
        int top = lua_gettop(L);
        switch (lua_type(L, top)) {
        case LUA_TSTRING: {
            size_t len;
            const char *s = lua_tolstring(L, top, &len);
            put_byte(L, &c, c.ctor, 'S');
            put_uleb(L, &c, c.ctor, len);
            put(L, &c, c.ctor, s, len);
            break;
        }
        case LUA_TTABLE:
            write_table(L, &c, top);
            break;
        case LUA_TFUNCTION:
            write_function(L, &c, top, i);
            break;
        case LUA_TTHREAD:
            write_thread(L, &c, top);
            break;
        default:
            return luaL_error(L, "persist: unexpected object");
        }
        lua_settop(L, top - 1);
    }
    /* header */
    put(L, &c, c.out, MAGIC, 8);
    put_uleb(L, &c, c.out, 1);
    put_uleb(L, &c, c.out, strlen(LUA_RELEASE));           /* bytecode is build-specific */
    put(L, &c, c.out, LUA_RELEASE, strlen(LUA_RELEASE));
    put_uleb(L, &c, c.out, (uint64_t)c.lx->nextid);
    put_uleb(L, &c, c.out, (uint64_t)c.n);
    put(L, &c, c.out, c.ctor->p, c.ctor->len);
    put(L, &c, c.out, c.fill->p, c.fill->len);
    for (int i = 4; i <= 6; i++)
        put_value(L, &c, c.out, i);             /* all already numbered */
    /* identities of persisted objects, by id */
    lua_getfield(L, LUA_REGISTRYINDEX, AOXL_IDS);
    int ids = lua_gettop(L);
    lua_newtable(L);                             /* id -> object ref, for ordering */
    int byid = ids + 1;
    lua_pushnil(L);
    while (lua_next(L, ids)) {
        lua_pushvalue(L, -2);
        if (lua_rawget(L, c.refs) == LUA_TNUMBER) {
            lua_pushvalue(L, -2);                /* id */
            lua_insert(L, -2);
            lua_rawset(L, byid);                 /* byid[id] = ref */
        } else {
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
    lua_Integer n = aoxl_sorted_keys(L, byid);   /* integer ids: numeric order */
    put_uleb(L, &c, c.out, (uint64_t)n);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, -1, i);
        lua_Integer id = lua_tointeger(L, -1);
        lua_rawget(L, byid);
        put_uleb(L, &c, c.out, (uint64_t)lua_tointeger(L, -1));
        put_uleb(L, &c, c.out, (uint64_t)id);
        lua_pop(L, 1);
    }
    return 0;
}

/* ================================================================ error paths */

/* Breadth-first search from the roots for the value at `target`; pushes a path such
 * as "Handlers.list[3].co". Only used to word an error, so speed does not matter. */
static void push_label(lua_State *L, int key)
{
    size_t n;
    if (lua_type(L, key) == LUA_TSTRING) {
        const char *s = lua_tolstring(L, key, &n);
        int ident = n > 0 && n < 64 && !(s[0] >= '0' && s[0] <= '9');
        for (size_t i = 0; i < n && ident; i++)
            ident = (s[i] == '_' || (s[i] >= 'a' && s[i] <= 'z') ||
                     (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9'));
        if (ident)
            lua_pushfstring(L, ".%s", s);
        else
            lua_pushfstring(L, "[\"%s\"]", s);
    } else if (lua_type(L, key) == LUA_TNUMBER) {
        lua_pushvalue(L, key);
        lua_pushfstring(L, "[%s]", lua_tostring(L, -1));
        lua_remove(L, -2);
    } else {
        lua_pushfstring(L, "[<%s key>]", luaL_typename(L, key));
    }
}

/* Records value v (reached by the path string on top of the stack, which is
 * popped) if it is an object not seen yet. */
static void visit(lua_State *L, int path, int queue, lua_Integer *qn, int v)
{
    int t = lua_type(L, v);
    if ((t != LUA_TTABLE && t != LUA_TFUNCTION && t != LUA_TTHREAD &&
         t != LUA_TUSERDATA && t != LUA_TLIGHTUSERDATA)) {
        lua_pop(L, 1);
        return;
    }
    lua_pushvalue(L, v);
    if (lua_rawget(L, path) != LUA_TNIL) {
        lua_pop(L, 2);
        return;
    }
    lua_pop(L, 1);
    lua_pushvalue(L, v);
    lua_insert(L, -2);
    lua_rawset(L, path);                  /* path[v] = label */
    lua_pushvalue(L, v);
    lua_rawseti(L, queue, ++*qn);
}

static void push_path(lua_State *L, int target)
{
    static const char *const rootname[] = {"", "<registry>", "<string metatable>"};
    target = lua_absindex(L, target);
    if (!lua_checkstack(L, 20)) {
        lua_pushliteral(L, "?");
        return;
    }
    int base = lua_gettop(L);
    lua_newtable(L);                        /* base+1: path[obj] = string */
    lua_newtable(L);                        /* base+2: queue */
    int path = base + 1, queue = base + 2;
    lua_Integer qn = 0;
    push_roots(L);
    for (int i = 0; i < 3; i++) {
        lua_pushstring(L, rootname[i]);
        visit(L, path, queue, &qn, base + 3 + i);
    }
    lua_settop(L, queue);
    for (lua_Integer qi = 1; qi <= qn; qi++) {
        lua_rawgeti(L, queue, qi);
        int o = lua_gettop(L);
        lua_pushvalue(L, o);
        lua_rawget(L, path);
        int here = o + 1;
        if (lua_istable(L, o)) {
            if (lua_getmetatable(L, o)) {
                lua_pushfstring(L, "%s.<metatable>", lua_tostring(L, here));
                visit(L, path, queue, &qn, here + 1);
                lua_settop(L, here);
            }
            lua_pushnil(L);
            while (lua_next(L, o)) {
                int v = lua_gettop(L), k = v - 1;
                lua_pushstring(L, lua_tostring(L, here));
                push_label(L, k);
                lua_concat(L, 2);
                visit(L, path, queue, &qn, v);
                lua_pushfstring(L, "%s.<key>", lua_tostring(L, here));
                visit(L, path, queue, &qn, k);
                lua_settop(L, k);
            }
        } else if (lua_isfunction(L, o)) {
            const char *name;
            for (int i = 1; (name = lua_getupvalue(L, o, i)) != NULL; i++) {
                lua_pushfstring(L, "%s.<upvalue %s>", lua_tostring(L, here),
                                *name ? name : "?");
                visit(L, path, queue, &qn, here + 1);
                lua_settop(L, here);
            }
        }
        lua_settop(L, queue);
    }
    lua_pushvalue(L, target);
    if (lua_rawget(L, path) != LUA_TSTRING) {
        lua_pop(L, 1);
        lua_pushliteral(L, "?");
    }
    const char *p = lua_tostring(L, -1);
    lua_pushstring(L, *p == '.' ? p + 1 : p);
    lua_replace(L, base + 1);
    lua_settop(L, base + 1);
}

/* ====================================================================== read */

typedef struct rctx {
    const uint8_t *p, *e;
    int            objs;          /* stack index: objects by number */
    lua_Integer    n;
} rctx;

static void corrupt(lua_State *L, const char *what) __attribute__((noreturn));
static void corrupt(lua_State *L, const char *what)
{
    luaL_error(L, "corrupt lua@5.3 image: %s", what);
    abort();   /* not reached */
}

static int get_byte(lua_State *L, rctx *r)
{
    if (r->p >= r->e)
        corrupt(L, "truncated");
    return *r->p++;
}

static uint64_t get_uleb(lua_State *L, rctx *r)
{
    uint64_t v = 0;
    for (int sh = 0; sh < 64; sh += 7) {
        int b = get_byte(L, r);
        v |= (uint64_t)(b & 0x7f) << sh;
        if (!(b & 0x80))
            return v;
    }
    corrupt(L, "bad number");
}

static const uint8_t *get_bytes(lua_State *L, rctx *r, size_t n)
{
    if ((size_t)(r->e - r->p) < n)
        corrupt(L, "truncated");
    const uint8_t *p = r->p;
    r->p += n;
    return p;
}

static lua_Integer get_ref(lua_State *L, rctx *r)
{
    uint64_t i = get_uleb(L, r);
    if (i < 1 || i > (uint64_t)r->n)
        corrupt(L, "object number out of range");
    return (lua_Integer)i;
}

/* Pushes one value; a V_JOIN tag is returned as 0 (nothing pushed) for the caller. */
static int get_value(lua_State *L, rctx *r, int allow_join)
{
    int t = get_byte(L, r);
    switch (t) {
    case V_NIL: lua_pushnil(L); return 1;
    case V_FALSE: lua_pushboolean(L, 0); return 1;
    case V_TRUE: lua_pushboolean(L, 1); return 1;
    case V_INT: {
        uint64_t z = get_uleb(L, r);
        lua_pushinteger(L, (lua_Integer)((z >> 1) ^ (~(z & 1) + 1)));
        return 1;
    }
    case V_FLT: {
        const uint8_t *b = get_bytes(L, r, 8);
        uint64_t u = 0;
        double d;
        for (int i = 0; i < 8; i++)
            u |= (uint64_t)b[i] << (8 * i);
        memcpy(&d, &u, 8);
        lua_pushnumber(L, d);
        return 1;
    }
    case V_REF:
        lua_rawgeti(L, r->objs, get_ref(L, r));
        return 1;
    case V_STR: {
        size_t len = (size_t)get_uleb(L, r);
        const uint8_t *p = get_bytes(L, r, len);
        lua_pushlstring(L, (const char *)p, len);
        return 1;
    }
    case V_JOIN:
        if (allow_join)
            return 0;
        /* fall through */
    default:
        corrupt(L, "bad value tag");
    }
}

int aoxl_unpersist(lua_State *L)
{
    aox_lua *lx = aoxl_get(L);
    const aoxl_bytes *in = lua_touserdata(L, 1);
    rctx r = {in->p, in->p + in->len, 0, 0};
    lua_settop(L, 0);
    if (in->len < 8 || memcmp(in->p, MAGIC, 8) != 0)
        corrupt(L, "bad magic");
    r.p += 8;
    if (get_uleb(L, &r) != 1)
        corrupt(L, "unknown version");
    size_t rl = (size_t)get_uleb(L, &r);
    const uint8_t *rel = get_bytes(L, &r, rl);
    if (rl != strlen(LUA_RELEASE) || memcmp(rel, LUA_RELEASE, rl) != 0)
        luaL_error(L, "image was written by %s, this is %s", "another Lua release",
                   LUA_RELEASE);
    uint64_t nextid = get_uleb(L, &r);
    uint64_t n = get_uleb(L, &r);
    if (n > (uint64_t)(r.e - r.p))
        corrupt(L, "object count");
    r.n = (lua_Integer)n;
    lua_createtable(L, (int)n, 0);
    r.objs = 1;
    /* per object: kind, and for F/K: upvalue count; for F: code ref; for K: name */
    uint8_t *kind = lua_newuserdata(L, n + 1);
    uint32_t *nups = lua_newuserdata(L, (n + 1) * sizeof *nups);
    lua_Integer *aux = lua_newuserdata(L, (n + 1) * sizeof *aux);
    const uint8_t **name = lua_newuserdata(L, (n + 1) * sizeof *name);
    /* pass 1: strings, tables, C functions, threads; functions wait for their code */
    for (lua_Integer i = 1; i <= r.n; i++) {
        int k = get_byte(L, &r);
        kind[i] = (uint8_t)k;
        nups[i] = 0;
        switch (k) {
        case 'S': {
            size_t len = (size_t)get_uleb(L, &r);
            const uint8_t *s = get_bytes(L, &r, len);
            lua_pushlstring(L, (const char *)s, len);
            break;
        }
        case 'T': {
            uint64_t na = get_uleb(L, &r), nr = get_uleb(L, &r);
            if (na > (uint64_t)in->len || nr > (uint64_t)in->len)
                corrupt(L, "table size");
            lua_createtable(L, (int)na, (int)nr);
            break;
        }
        case 'F':
            aux[i] = get_ref(L, &r);
            nups[i] = (uint32_t)get_uleb(L, &r);
            if (nups[i] > 255)
                corrupt(L, "upvalue count");
            continue;
        case 'C': case 'K': {
            size_t len = (size_t)get_uleb(L, &r);
            const uint8_t *s = get_bytes(L, &r, len);
            char nm[40];
            if (len >= sizeof nm)
                corrupt(L, "C function name");
            memcpy(nm, s, len);
            nm[len] = 0;
            lua_CFunction fn = aoxl_cfunc_find(lx, nm);
            if (!fn)
                luaL_error(L, "image needs C function '%s', unknown to this sandbox", nm);
            name[i] = s;
            aux[i] = (lua_Integer)len;
            if (k == 'K') {
                nups[i] = (uint32_t)get_uleb(L, &r);
                if (nups[i] > 255)
                    corrupt(L, "upvalue count");
                for (uint32_t u = 0; u < nups[i]; u++)
                    lua_pushnil(L);
                lua_pushcclosure(L, fn, (int)nups[i]);
            } else {
                lua_pushcfunction(L, fn);
            }
            break;
        }
        case 'R':
            aux[i] = get_byte(L, &r);
            lua_newthread(L);
            break;
        case 'M':
            lua_pushthread(L);
            break;
        default:
            corrupt(L, "bad object kind");
        }
        lua_rawseti(L, r.objs, i);
    }
    /* pass 2: Lua functions from their bytecode */
    for (lua_Integer i = 1; i <= r.n; i++) {
        if (kind[i] != 'F')
            continue;
        if (kind[aux[i]] != 'S')
            corrupt(L, "function code is not a string");
        lua_rawgeti(L, r.objs, aux[i]);
        size_t len;
        const char *code = lua_tolstring(L, -1, &len);
        if (luaL_loadbufferx(L, code, len, "=image", "b") != LUA_OK)
            luaL_error(L, "corrupt lua@5.3 image: %s", lua_tostring(L, -1));
        if ((uint32_t)count_upvalues(L, lua_gettop(L)) != nups[i])
            corrupt(L, "upvalue count mismatch");
        lua_rawseti(L, r.objs, i);
        lua_pop(L, 1);
    }
    /* fill */
    for (lua_Integer i = 1; i <= r.n; i++) {
        int top = lua_gettop(L);
        switch (kind[i]) {
        case 'T': {
            lua_rawgeti(L, r.objs, i);
            get_value(L, &r, 0);
            if (lua_istable(L, -1))
                lua_setmetatable(L, top + 1);
            else if (lua_isnil(L, -1))
                lua_pop(L, 1);
            else
                corrupt(L, "metatable");
            uint64_t np = get_uleb(L, &r);
            for (uint64_t j = 0; j < np; j++) {
                get_value(L, &r, 0);
                get_value(L, &r, 0);
                if (lua_isnil(L, -2) || (lua_type(L, -2) == LUA_TNUMBER &&
                                         lua_tonumber(L, -2) != lua_tonumber(L, -2)))
                    corrupt(L, "table key");
                lua_rawset(L, top + 1);
            }
            break;
        }
        case 'F':
            lua_rawgeti(L, r.objs, i);
            for (uint32_t u = 1; u <= nups[i]; u++) {
                if (get_value(L, &r, 1)) {
                    if (!lua_setupvalue(L, top + 1, (int)u))
                        corrupt(L, "upvalue");
                    continue;
                }
                lua_Integer f2 = get_ref(L, &r);
                uint64_t u2 = get_uleb(L, &r);
                if (f2 >= i || kind[f2] != 'F' || u2 < 1 || u2 > nups[f2])
                    corrupt(L, "upvalue join");
                lua_rawgeti(L, r.objs, f2);
                lua_upvaluejoin(L, top + 1, (int)u, top + 2, (int)u2);
                lua_pop(L, 1);
            }
            break;
        case 'K':
            lua_rawgeti(L, r.objs, i);
            for (uint32_t u = 1; u <= nups[i]; u++) {
                get_value(L, &r, 0);
                if (!lua_setupvalue(L, top + 1, (int)u))
                    corrupt(L, "upvalue");
            }
            break;
        case 'R':
            get_value(L, &r, 0);
            if (aux[i] == 1) {
                if (!lua_isfunction(L, -1))
                    corrupt(L, "coroutine body");
                lua_rawgeti(L, r.objs, i);
                lua_State *co = lua_tothread(L, -1);
                lua_pushvalue(L, -2);
                lua_xmove(L, co, 1);
            }
            break;
        default:
            break;
        }
        lua_settop(L, top);
    }
    /* roots */
    get_value(L, &r, 0);
    if (!lua_istable(L, -1))
        corrupt(L, "globals");
    lua_rawseti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
    get_value(L, &r, 0);
    if (!lua_istable(L, -1))
        corrupt(L, "registry");
    lua_setfield(L, LUA_REGISTRYINDEX, AOXL_REG);
    get_value(L, &r, 0);
    if (lua_istable(L, -1)) {
        lua_pushliteral(L, "");
        lua_insert(L, -2);
        lua_setmetatable(L, -2);
    }
    lua_settop(L, 1);
    /* identities */
    lua_newtable(L);
    aoxl_make_weak_keys(L, -1);
    uint64_t nids = get_uleb(L, &r);
    for (uint64_t j = 0; j < nids; j++) {
        lua_rawgeti(L, r.objs, get_ref(L, &r));
        uint64_t id = get_uleb(L, &r);
        if (id < 1 || id > nextid)
            corrupt(L, "identity");
        lua_pushinteger(L, (lua_Integer)id);
        lua_rawset(L, -3);
    }
    lua_setfield(L, LUA_REGISTRYINDEX, AOXL_IDS);
    if (r.p != r.e)
        corrupt(L, "trailing bytes");
    lx->nextid = (int64_t)nextid;
    lua_settop(L, 0);
    lua_gc(L, LUA_GCCOLLECT, 0);
    return 0;
}
