/*
 * lua/lua_lib.c: the sandbox library of lua@5.3.
 *
 * The sandbox is built by allow-list: the standard libraries are opened into a
 * scratch global table, and only the functions named in the tables below are copied
 * into a fresh global table that replaces the registry's. Everything that could reach
 * the host (io, os.execute/getenv/exit/remove, package, debug, dofile, loadfile,
 * string.dump, binary chunks) is simply never copied. Functions whose standard
 * behaviour would leak host state are replaced:
 *
 *   tostring/print/string.format  no addresses: "table: 0x00000007", a per-state
 *                                 identity assigned on first use and persisted
 *   pairs/next                    canonical key order, independent of Lua's hash
 *                                 seed and table layout (see aoxl_sorted_keys)
 *   table.sort                    stable merge sort (5.3's quicksort randomises
 *                                 its pivot from the clock on large arrays)
 *   math.random/randomseed        xoshiro256** seeded from the message (ID + slot)
 *   os.time/clock/date/difftime   from the assignment's timestamp and gas so far
 *   coroutine.resume/wrap         install the fuel hook on the coroutine first
 *   collectgarbage                "collect", "step", "count" (count answers 0)
 *   setmetatable                  refuses __gc and __mode (GC timing would leak)
 *   load                          text chunks only, env defaults to the sandbox
 *   require                       only modules the host preloaded
 *
 * The JSON <-> Lua conversions live in lua_json.c.
 *
 * Every C function reachable from the sandbox is registered by a stable name so the
 * persister can write functions by name and find them again on restore.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <lualib.h>
#include <openssl/sha.h>
#include "lua/lua_int.h"

/* ===================================================================== buffers */

int aoxl_buf_put(aoxl_buf *b, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *q = realloc(b->p, cap);
        if (!q)
            return -1;
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
    return 0;
}

void aoxl_buf_free(aoxl_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* ================================================================ C functions */

static void cf_add(lua_State *L, const char *name, lua_CFunction fn)
{
    aox_lua *lx = aoxl_get(L);
    if (aoxl_cfunc_name(lx, fn))
        return;                     /* one name per function (first wins) */
    if (lx->ncf == lx->capcf) {
        size_t cap = lx->capcf ? lx->capcf * 2 : 128;
        aoxl_cfunc *n = realloc(lx->cf, cap * sizeof *n);
        if (!n) {
            lx->host_oom = 1;
            luaL_error(L, "host out of memory");
        }
        lx->cf = n;
        lx->capcf = cap;
    }
    snprintf(lx->cf[lx->ncf].name, sizeof lx->cf[lx->ncf].name, "%s", name);
    lx->cf[lx->ncf].fn = fn;
    lx->ncf++;
}

const char *aoxl_cfunc_name(aox_lua *lx, lua_CFunction fn)
{
    for (size_t i = 0; i < lx->ncf; i++)
        if (lx->cf[i].fn == fn)
            return lx->cf[i].name;
    return NULL;
}

lua_CFunction aoxl_cfunc_find(aox_lua *lx, const char *name)
{
    for (size_t i = 0; i < lx->ncf; i++)
        if (strcmp(lx->cf[i].name, name) == 0)
            return lx->cf[i].fn;
    return NULL;
}

/* ======================================================================= hook */

void aoxl_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    aox_lua *lx = aoxl_get(L);
    if (!lx->out_of_fuel && !lx->interrupted) {
        lx->gas += lx->step;
        if (lx->interrupt && atomic_load(lx->interrupt))
            lx->interrupted = 1;
        else if (lx->fuel && lx->gas > lx->fuel)
            lx->out_of_fuel = 1;
        else
            return;
        /* From now on every instruction raises, so a guest pcall cannot swallow it. */
        lua_sethook(L, aoxl_hook, LUA_MASKCOUNT, 1);
    }
    luaL_error(L, lx->interrupted ? "interrupted" : "out of fuel");
}

/* Installs the hook on a coroutine before it runs (hooks are per thread). */
static void thread_hook(aox_lua *lx, lua_State *co)
{
    int want = (lx->out_of_fuel || lx->interrupted) ? 1 : (int)lx->step;
    if (lua_gethook(co) != aoxl_hook || lua_gethookcount(co) != want)
        lua_sethook(co, aoxl_hook, LUA_MASKCOUNT, want);
}

/* ================================================================= identities */

int64_t aoxl_identity(lua_State *L, int idx)
{
    aox_lua *lx = aoxl_get(L);
    int64_t id;
    idx = lua_absindex(L, idx);
    lua_getfield(L, LUA_REGISTRYINDEX, AOXL_IDS);
    lua_pushvalue(L, idx);
    if (lua_rawget(L, -2) == LUA_TNUMBER) {
        id = (int64_t)lua_tointeger(L, -1);
        lua_pop(L, 2);
        return id;
    }
    lua_pop(L, 1);
    id = ++lx->nextid;
    lua_pushvalue(L, idx);
    lua_pushinteger(L, (lua_Integer)id);
    lua_rawset(L, -3);
    lua_pop(L, 1);
    return id;
}

void aoxl_push_tostring(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    if (luaL_callmeta(L, idx, "__tostring")) {
        if (!lua_isstring(L, -1))
            luaL_error(L, "'__tostring' must return a string");
        return;
    }
    switch (lua_type(L, idx)) {
    case LUA_TNUMBER: case LUA_TSTRING: case LUA_TBOOLEAN: case LUA_TNIL:
        luaL_tolstring(L, idx, NULL);
        return;
    default: {
        const char *kind = luaL_typename(L, idx);
        int tt = luaL_getmetafield(L, idx, "__name");
        if (tt == LUA_TSTRING)
            kind = lua_tostring(L, -1);
        int64_t id = aoxl_identity(L, idx);
        char tmp[32];
        snprintf(tmp, sizeof tmp, "%08llx", (unsigned long long)id);
        lua_pushfstring(L, "%s: 0x%s", kind, tmp);
        if (tt != LUA_TNIL)
            lua_remove(L, -2);
        return;
    }
    }
}

static int l_tostring(lua_State *L)
{
    luaL_checkany(L, 1);
    aoxl_push_tostring(L, 1);
    return 1;
}

/* ============================================================ canonical order */

/* A key's place in the canonical order:
 *   numbers (by value) < strings (bytewise) < false < true < references (by identity) */
typedef struct keyd {
    int         rank;
    int         isint;
    lua_Integer i;
    double      f;
    const char *s;
    size_t      len;
    int64_t     id;
    lua_Integer pos;     /* tie-break: position of discovery */
} keyd;

static void describe(lua_State *L, int idx, keyd *k)
{
    memset(k, 0, sizeof *k);
    switch (lua_type(L, idx)) {
    case LUA_TNUMBER:
        k->rank = 0;
        if (lua_isinteger(L, idx)) {
            k->isint = 1;
            k->i = lua_tointeger(L, idx);
            k->f = (double)k->i;
        } else {
            k->f = lua_tonumber(L, idx);
        }
        break;
    case LUA_TSTRING:
        k->rank = 1;
        k->s = lua_tolstring(L, idx, &k->len);
        break;
    case LUA_TBOOLEAN:
        k->rank = 2 + lua_toboolean(L, idx);
        break;
    default:
        k->rank = 4;
        k->id = aoxl_identity(L, idx);
        break;
    }
}

static int keycmp(const keyd *a, const keyd *b)
{
    if (a->rank != b->rank)
        return a->rank < b->rank ? -1 : 1;
    switch (a->rank) {
    case 0:
        if (a->isint && b->isint)
            return a->i < b->i ? -1 : a->i > b->i;
        if (a->f != b->f)
            return a->f < b->f ? -1 : 1;
        if (a->isint != b->isint)
            return a->isint ? -1 : 1;
        break;
    case 1: {
        size_t n = a->len < b->len ? a->len : b->len;
        int c = memcmp(a->s, b->s, n);
        if (c)
            return c < 0 ? -1 : 1;
        if (a->len != b->len)
            return a->len < b->len ? -1 : 1;
        break;
    }
    case 4:
        if (a->id != b->id)
            return a->id < b->id ? -1 : 1;
        break;
    default:
        break;
    }
    return 0;
}

static int keyd_qcmp(const void *pa, const void *pb)
{
    const keyd *a = *(const keyd *const *)pa, *b = *(const keyd *const *)pb;
    int c = keycmp(a, b);
    if (c)
        return c;
    return a->pos < b->pos ? -1 : a->pos > b->pos;
}

lua_Integer aoxl_sorted_keys(lua_State *L, int t)
{
    lua_Integer n = 0;
    t = lua_absindex(L, t);
    lua_newtable(L);                       /* tmp: keys in discovery order */
    int tmp = lua_gettop(L);
    int seq = 1;                           /* every key an integer in 1..n? */
    lua_Integer max = 0;
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        if (seq) {
            lua_Integer k = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : 0;
            if (k < 1)
                seq = 0;
            else if (k > max)
                max = k;
        }
        lua_pushvalue(L, -1);
        lua_rawseti(L, tmp, ++n);
    }
    if (seq && max == n) {                 /* a proper sequence: keys are 1..n */
        for (lua_Integer i = 1; i <= n; i++) {
            lua_pushinteger(L, i);
            lua_rawseti(L, tmp, i);
        }
        return n;
    }
    /* descriptors plus an array of pointers to them (sorting pointers moves less);
     * a userdata, so an error (e.g. out of memory) frees it with the rest */
    size_t cnt = (size_t)(n ? n : 1);
    keyd *kd = lua_newuserdata(L, cnt * (sizeof(keyd) + sizeof(keyd *)));
    keyd **kp = (keyd **)(kd + cnt);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, tmp, i);
        describe(L, -1, &kd[i - 1]);       /* strings stay anchored in tmp */
        kd[i - 1].pos = i;
        kp[i - 1] = &kd[i - 1];
        lua_pop(L, 1);
    }
    qsort(kp, (size_t)n, sizeof *kp, keyd_qcmp);
    lua_createtable(L, (int)n, 0);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, tmp, kp[i - 1]->pos);
        lua_rawseti(L, -2, i);
    }
    lua_replace(L, tmp);                   /* result replaces tmp */
    lua_pop(L, 1);                         /* the descriptor block */
    return n;
}

/* pairs iterator: upvalues = (sorted keys, position). */
static int pairs_iter(lua_State *L)
{
    lua_Integer pos = lua_tointeger(L, lua_upvalueindex(2));
    lua_Integer n = (lua_Integer)lua_rawlen(L, lua_upvalueindex(1));
    while (pos < n) {
        pos++;
        lua_rawgeti(L, lua_upvalueindex(1), pos);
        lua_pushvalue(L, -1);
        if (lua_rawget(L, 1) != LUA_TNIL) {   /* skip keys removed meanwhile */
            lua_pushinteger(L, pos);
            lua_replace(L, lua_upvalueindex(2));
            return 2;
        }
        lua_pop(L, 2);
    }
    lua_pushinteger(L, pos);
    lua_replace(L, lua_upvalueindex(2));
    lua_pushnil(L);
    return 1;
}

static int l_pairs(lua_State *L)
{
    luaL_checkany(L, 1);
    if (luaL_getmetafield(L, 1, "__pairs") != LUA_TNIL) {
        lua_pushvalue(L, 1);
        lua_call(L, 1, 3);
        return 3;
    }
    luaL_checktype(L, 1, LUA_TTABLE);
    aoxl_sorted_keys(L, 1);
    lua_pushinteger(L, 0);
    lua_pushcclosure(L, pairs_iter, 2);
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

/* next in canonical order: O(n) per call (a linear scan for the successor). */
static int l_next(lua_State *L)
{
    keyd kk, best, c;
    int have = 0, haskey;
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 2);
    haskey = !lua_isnil(L, 2);
    if (haskey)
        describe(L, 2, &kk);
    lua_pushnil(L);                         /* 3: best key so far */
    lua_pushnil(L);                         /* 4: iteration key */
    while (lua_next(L, 1)) {
        lua_pop(L, 1);
        describe(L, -1, &c);
        if (haskey && keycmp(&c, &kk) <= 0)
            continue;
        if (!have || keycmp(&c, &best) < 0) {
            lua_pushvalue(L, -1);
            lua_replace(L, 3);
            describe(L, 3, &best);
            have = 1;
        }
    }
    if (!have) {
        lua_pushnil(L);
        return 1;
    }
    lua_pushvalue(L, 3);
    lua_pushvalue(L, 3);
    lua_rawget(L, 1);
    return 2;
}

/* ================================================================ table.sort */

typedef struct sortctx {
    int          tmp;     /* stack index of the values table */
    int          cmp;     /* stack index of the comparator or 0 */
    lua_Integer *a, *b;   /* permutation and scratch */
} sortctx;

static int sort_less(lua_State *L, const sortctx *s, lua_Integer x, lua_Integer y)
{
    int r;
    if (s->cmp) {
        lua_pushvalue(L, s->cmp);
        lua_rawgeti(L, s->tmp, x);
        lua_rawgeti(L, s->tmp, y);
        lua_call(L, 2, 1);
        r = lua_toboolean(L, -1);
        lua_pop(L, 1);
    } else {
        lua_rawgeti(L, s->tmp, x);
        lua_rawgeti(L, s->tmp, y);
        r = lua_compare(L, -2, -1, LUA_OPLT);
        lua_pop(L, 2);
    }
    return r;
}

static int l_sort(lua_State *L)
{
    sortctx s;
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_Integer n = luaL_len(L, 1);
    if (!lua_isnoneornil(L, 2))
        luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_settop(L, 2);
    s.cmp = lua_isnil(L, 2) ? 0 : 2;
    luaL_argcheck(L, n < INT32_MAX, 1, "array too big");
    if (n < 2)
        return 0;
    lua_createtable(L, (int)n, 0);
    s.tmp = lua_gettop(L);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_geti(L, 1, i);
        lua_rawseti(L, s.tmp, i);
    }
    s.a = lua_newuserdata(L, 2 * (size_t)n * sizeof(lua_Integer));
    s.b = s.a + n;
    for (lua_Integer i = 0; i < n; i++)
        s.a[i] = i + 1;
    /* bottom-up merge sort: stable, no randomness, O(n log n) comparisons */
    for (lua_Integer w = 1; w < n; w *= 2) {
        for (lua_Integer lo = 0; lo < n; lo += 2 * w) {
            lua_Integer mid = lo + w < n ? lo + w : n;
            lua_Integer hi = lo + 2 * w < n ? lo + 2 * w : n;
            lua_Integer i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                s.b[k++] = sort_less(L, &s, s.a[j], s.a[i]) ? s.a[j++] : s.a[i++];
            while (i < mid)
                s.b[k++] = s.a[i++];
            while (j < hi)
                s.b[k++] = s.a[j++];
        }
        lua_Integer *t = s.a; s.a = s.b; s.b = t;
    }
    for (lua_Integer i = 0; i < n; i++) {
        lua_rawgeti(L, s.tmp, s.a[i]);
        lua_seti(L, 1, i + 1);
    }
    return 0;
}

/* ================================================================ base */

static int l_print(lua_State *L)
{
    aox_lua *lx = aoxl_get(L);
    int n = lua_gettop(L);
    size_t max = lx->opts.print_max ? lx->opts.print_max : AOXL_PRINT_MAX;
    for (int i = 1; i <= n; i++) {
        size_t len;
        aoxl_push_tostring(L, i);
        const char *s = lua_tolstring(L, -1, &len);
        if (lx->print.len + len + 1 > max)
            return luaL_error(L, "print output exceeds %d bytes", (int)max);
        if ((i > 1 && aoxl_buf_put(&lx->print, "\t", 1)) || aoxl_buf_put(&lx->print, s, len)) {
            lx->host_oom = 1;
            return luaL_error(L, "host out of memory");
        }
        lua_pop(L, 1);
    }
    if (aoxl_buf_put(&lx->print, "\n", 1)) {
        lx->host_oom = 1;
        return luaL_error(L, "host out of memory");
    }
    return 0;
}

static int l_setmetatable(lua_State *L)
{
    int t = lua_type(L, 2);
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_argcheck(L, t == LUA_TNIL || t == LUA_TTABLE, 2, "nil or table expected");
    if (t == LUA_TTABLE) {
        lua_getfield(L, 2, "__gc");
        lua_getfield(L, 2, "__mode");
        if (!lua_isnil(L, -1) || !lua_isnil(L, -2))
            return luaL_error(L, "__gc and __mode are not supported in lua@5.3 "
                              "(garbage-collection timing is not deterministic)");
        lua_pop(L, 2);
    }
    if (luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL)
        return luaL_error(L, "cannot change a protected metatable");
    lua_settop(L, 2);
    lua_setmetatable(L, 1);
    return 1;
}

static int l_collectgarbage(lua_State *L)
{
    const char *opt = luaL_optstring(L, 1, "collect");
    if (strcmp(opt, "collect") == 0) {
        lua_gc(L, LUA_GCCOLLECT, 0);
        lua_pushinteger(L, 0);
        return 1;
    }
    if (strcmp(opt, "step") == 0) {
        lua_gc(L, LUA_GCCOLLECT, 0);
        lua_pushboolean(L, 1);
        return 1;
    }
    if (strcmp(opt, "count") == 0) {
        /* The real heap size differs between a restored state and one that never
         * stopped (garbage, table slack), so it must not reach results. */
        lua_pushnumber(L, 0);
        lua_pushinteger(L, 0);
        return 2;
    }
    return luaL_error(L, "collectgarbage option '%s' is not allowed", opt);
}

static int l_load(lua_State *L)
{
    size_t len;
    const char *s = lua_tolstring(L, 1, &len);
    const char *name = luaL_optstring(L, 2, s ? s : "=(load)");
    const char *mode = luaL_optstring(L, 3, "t");
    int env = !lua_isnone(L, 4) ? 4 : 0;
    if (!s)
        return luaL_error(L, "load: only string chunks are supported");
    if (!strchr(mode, 't')) {
        lua_pushnil(L);
        lua_pushfstring(L, "attempt to load a text chunk (mode is '%s')", mode);
        return 2;
    }
    int st = luaL_loadbufferx(L, s, len, name, "t");
    if (st != LUA_OK) {
        lua_pushnil(L);
        lua_insert(L, -2);
        return 2;
    }
    if (env) {
        lua_pushvalue(L, env);
        if (!lua_setupvalue(L, -2, 1))
            lua_pop(L, 1);
    }
    return 1;
}

static int l_require(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    lua_settop(L, 1);
    lua_getfield(L, LUA_REGISTRYINDEX, AOXL_REG);     /* 2 */
    lua_getfield(L, 2, "loaded");                     /* 3 */
    if (lua_getfield(L, 3, name) != LUA_TNIL)
        return 1;
    lua_pop(L, 1);
    lua_getfield(L, 2, "preload");                    /* 4 */
    if (lua_getfield(L, 4, name) == LUA_TNIL)
        return luaL_error(L, "module '%s' not found (only modules preloaded by the "
                          "host are available)", name);
    if (lua_isfunction(L, -1)) {
        lua_pushvalue(L, 1);
        lua_call(L, 1, 1);
    }
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_pushboolean(L, 1);
    }
    lua_pushvalue(L, -1);
    lua_setfield(L, 3, name);
    return 1;
}

/* ============================================================ string.format */

/* Converts %s arguments that are not strings/numbers with our tostring so the
 * standard formatter never prints an address, then calls the original. */
static int l_format(lua_State *L)
{
    aox_lua *lx = aoxl_get(L);
    size_t len;
    const char *f = luaL_checklstring(L, 1, &len);
    const char *e = f + len;
    int arg = 1, top = lua_gettop(L);
    while (f < e) {
        if (*f++ != '%')
            continue;
        if (f < e && *f == '%') {
            f++;
            continue;
        }
        arg++;
        while (f < e && strchr("-+ #0123456789.", *f))
            f++;
        if (f < e && *f == 's' && arg <= top) {
            int t = lua_type(L, arg);
            if (t != LUA_TSTRING && t != LUA_TNUMBER) {
                aoxl_push_tostring(L, arg);
                lua_replace(L, arg);
            }
        }
        if (f < e)
            f++;
    }
    return lx->orig_format(L);
}

/* ===================================================================== math */

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t xoshiro(uint64_t s[4])
{
    uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
    s[2] ^= t; s[3] = rotl(s[3], 45);
    return r;
}

void aoxl_seed(aox_lua *lx, const void *p, size_t n)
{
    uint8_t h[32];
    SHA256(p, n, h);
    for (int i = 0; i < 4; i++) {
        uint64_t v = 0;
        for (int j = 0; j < 8; j++)
            v = (v << 8) | h[i * 8 + j];
        lx->prng[i] = v;
    }
    if (!(lx->prng[0] | lx->prng[1] | lx->prng[2] | lx->prng[3]))
        lx->prng[0] = 1;
}

static int l_random(lua_State *L)
{
    aox_lua *lx = aoxl_get(L);
    uint64_t r = xoshiro(lx->prng);
    lua_Integer lo, hi;
    switch (lua_gettop(L)) {
    case 0:
        lua_pushnumber(L, (double)(r >> 11) * 0x1.0p-53);
        return 1;
    case 1:
        lo = 1;
        hi = luaL_checkinteger(L, 1);
        break;
    case 2:
        lo = luaL_checkinteger(L, 1);
        hi = luaL_checkinteger(L, 2);
        break;
    default:
        return luaL_error(L, "wrong number of arguments");
    }
    luaL_argcheck(L, lo <= hi, lua_gettop(L), "interval is empty");
    uint64_t span = (uint64_t)hi - (uint64_t)lo;
    if (span != UINT64_MAX) {
        /* unbiased: reject the top partial bucket */
        uint64_t m = span + 1, lim = UINT64_MAX - (UINT64_MAX % m);
        while (r >= lim)
            r = xoshiro(lx->prng);
        r %= m;
    }
    lua_pushinteger(L, (lua_Integer)((uint64_t)lo + r));
    return 1;
}

static int l_randomseed(lua_State *L)
{
    aox_lua *lx = aoxl_get(L);
    uint8_t b[8];
    uint64_t v;
    if (lua_isinteger(L, 1))
        v = (uint64_t)lua_tointeger(L, 1);
    else {
        double d = luaL_checknumber(L, 1);
        memcpy(&v, &d, sizeof v);
    }
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (56 - 8 * i));
    aoxl_seed(lx, b, sizeof b);
    return 0;
}

/* ======================================================================= os */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int64_t field(lua_State *L, const char *k, int64_t d, int required)
{
    int isnum;
    lua_getfield(L, 1, k);
    int64_t v = (int64_t)lua_tointegerx(L, -1, &isnum);
    if (!isnum) {
        if (!lua_isnil(L, -1) || required)
            luaL_error(L, "field '%s' missing in date table", k);
        v = d;
    }
    lua_pop(L, 1);
    return v;
}

static int l_time(lua_State *L)
{
    aox_lua *lx = aoxl_get(L);
    if (lua_isnoneornil(L, 1)) {
        int64_t ms = lx->now_ms;
        lua_pushinteger(L, (lua_Integer)(ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000)));
        return 1;
    }
    luaL_checktype(L, 1, LUA_TTABLE);
    int64_t y = field(L, "year", 0, 1), mo = field(L, "month", 0, 1);
    int64_t d = field(L, "day", 0, 1), h = field(L, "hour", 12, 0);
    int64_t mi = field(L, "min", 0, 0), s = field(L, "sec", 0, 0);
    if (y < -1000000 || y > 1000000 || mo < -100000 || mo > 100000)
        return luaL_error(L, "time result cannot be represented in this installation");
    /* normalise the month, then let days/hours/minutes/seconds carry linearly */
    int64_t m0 = mo - 1;
    y += m0 >= 0 ? m0 / 12 : -((-m0 + 11) / 12);
    m0 = ((m0 % 12) + 12) % 12;
    int64_t days = days_from_civil(y, m0 + 1, 1) + (d - 1);
    lua_pushinteger(L, (lua_Integer)(days * 86400 + h * 3600 + mi * 60 + s));
    return 1;
}

static int l_clock(lua_State *L)
{
    /* "CPU time" of the message: gas so far at a nominal 10^8 instructions/s */
    aox_lua *lx = aoxl_get(L);
    lua_pushnumber(L, (double)lx->gas / 1e8);
    return 1;
}

static int l_difftime(lua_State *L)
{
    lua_pushnumber(L, (double)luaL_checkinteger(L, 1) - (double)luaL_optinteger(L, 2, 0));
    return 1;
}

static const char *const wday_name[] = {"Sunday", "Monday", "Tuesday", "Wednesday",
                                        "Thursday", "Friday", "Saturday"};
static const char *const mon_name[] = {"January", "February", "March", "April", "May",
                                       "June", "July", "August", "September",
                                       "October", "November", "December"};

static int l_date(lua_State *L)
{
    aox_lua *lx = aoxl_get(L);
    const char *fmt = luaL_optstring(L, 1, "%c");
    int64_t ms = lx->now_ms;
    int64_t t = lua_isnoneornil(L, 2) ? (ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000))
                                      : (int64_t)luaL_checkinteger(L, 2);
    /* civil from days (inverse of days_from_civil) */
    int64_t days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
    int64_t secs = t - days * 86400;
    int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9;
    int64_t y = yoe + era * 400 + (m <= 2);
    int64_t wday = ((days % 7) + 11) % 7;           /* 1970-01-01 was a Thursday */
    int64_t yday = days - days_from_civil(y, 1, 1);
    int64_t H = secs / 3600, M = secs / 60 % 60, S = secs % 60;
    if (*fmt == '!')
        fmt++;                                       /* UTC is the only zone */
    if (strncmp(fmt, "*t", 2) == 0) {
        lua_createtable(L, 0, 9);
        lua_pushinteger(L, (lua_Integer)y); lua_setfield(L, -2, "year");
        lua_pushinteger(L, (lua_Integer)m); lua_setfield(L, -2, "month");
        lua_pushinteger(L, (lua_Integer)d); lua_setfield(L, -2, "day");
        lua_pushinteger(L, (lua_Integer)H); lua_setfield(L, -2, "hour");
        lua_pushinteger(L, (lua_Integer)M); lua_setfield(L, -2, "min");
        lua_pushinteger(L, (lua_Integer)S); lua_setfield(L, -2, "sec");
        lua_pushinteger(L, (lua_Integer)(wday + 1)); lua_setfield(L, -2, "wday");
        lua_pushinteger(L, (lua_Integer)(yday + 1)); lua_setfield(L, -2, "yday");
        lua_pushboolean(L, 0); lua_setfield(L, -2, "isdst");
        return 1;
    }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    char tmp[160];
    for (const char *p = fmt; *p; p++) {
        if (*p != '%' || !p[1]) {
            luaL_addchar(&b, *p);
            continue;
        }
        p++;
        switch (*p) {
        case 'Y': snprintf(tmp, sizeof tmp, "%lld", (long long)y); break;
        case 'y': snprintf(tmp, sizeof tmp, "%02lld", (long long)(((y % 100) + 100) % 100)); break;
        case 'm': snprintf(tmp, sizeof tmp, "%02lld", (long long)m); break;
        case 'd': snprintf(tmp, sizeof tmp, "%02lld", (long long)d); break;
        case 'H': snprintf(tmp, sizeof tmp, "%02lld", (long long)H); break;
        case 'I': snprintf(tmp, sizeof tmp, "%02lld", (long long)((H + 11) % 12 + 1)); break;
        case 'M': snprintf(tmp, sizeof tmp, "%02lld", (long long)M); break;
        case 'S': snprintf(tmp, sizeof tmp, "%02lld", (long long)S); break;
        case 'p': snprintf(tmp, sizeof tmp, "%s", H < 12 ? "AM" : "PM"); break;
        case 'j': snprintf(tmp, sizeof tmp, "%03lld", (long long)(yday + 1)); break;
        case 'w': snprintf(tmp, sizeof tmp, "%lld", (long long)wday); break;
        case 'a': snprintf(tmp, sizeof tmp, "%.3s", wday_name[wday]); break;
        case 'A': snprintf(tmp, sizeof tmp, "%s", wday_name[wday]); break;
        case 'b': snprintf(tmp, sizeof tmp, "%.3s", mon_name[m - 1]); break;
        case 'B': snprintf(tmp, sizeof tmp, "%s", mon_name[m - 1]); break;
        case 'Z': snprintf(tmp, sizeof tmp, "UTC"); break;
        case 'x': snprintf(tmp, sizeof tmp, "%02lld/%02lld/%02lld", (long long)m,
                           (long long)d, (long long)(((y % 100) + 100) % 100)); break;
        case 'X': snprintf(tmp, sizeof tmp, "%02lld:%02lld:%02lld", (long long)H,
                           (long long)M, (long long)S); break;
        case 'c': snprintf(tmp, sizeof tmp, "%.3s %.3s %2lld %02lld:%02lld:%02lld %lld",
                           wday_name[wday], mon_name[m - 1], (long long)d, (long long)H,
                           (long long)M, (long long)S, (long long)y); break;
        case '%': snprintf(tmp, sizeof tmp, "%%"); break;
        default:
            return luaL_error(L, "invalid conversion specifier '%%%c'", *p);
        }
        luaL_addstring(&b, tmp);
    }
    luaL_pushresult(&b);
    return 1;
}

/* ================================================================ coroutine */

static int auxresume(lua_State *L, lua_State *co, int narg)
{
    aox_lua *lx = aoxl_get(L);
    if (!lua_checkstack(co, narg)) {
        lua_pushliteral(L, "too many arguments to resume");
        return -1;
    }
    if (lua_status(co) == LUA_OK && lua_gettop(co) == 0) {
        lua_pushliteral(L, "cannot resume dead coroutine");
        return -1;
    }
    thread_hook(lx, co);
    lua_xmove(L, co, narg);
    int st = lua_resume(co, L, narg);
    if (st == LUA_OK || st == LUA_YIELD) {
        int nres = lua_gettop(co);
        if (!lua_checkstack(L, nres + 1)) {
            lua_pop(co, nres);
            lua_pushliteral(L, "too many results to resume");
            return -1;
        }
        lua_xmove(co, L, nres);
        return nres;
    }
    lua_xmove(co, L, 1);
    return -1;
}

static int l_resume(lua_State *L)
{
    lua_State *co = lua_tothread(L, 1);
    luaL_argcheck(L, co, 1, "coroutine expected");
    int r = auxresume(L, co, lua_gettop(L) - 1);
    if (r < 0) {
        lua_pushboolean(L, 0);
        lua_insert(L, -2);
        return 2;
    }
    lua_pushboolean(L, 1);
    lua_insert(L, -(r + 1));
    return r + 1;
}

static int wrap_iter(lua_State *L)
{
    lua_State *co = lua_tothread(L, lua_upvalueindex(1));
    int r = auxresume(L, co, lua_gettop(L));
    if (r < 0) {
        if (lua_type(L, -1) == LUA_TSTRING) {
            luaL_where(L, 1);
            lua_insert(L, -2);
            lua_concat(L, 2);
        }
        return lua_error(L);
    }
    return r;
}

static int l_wrap(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TFUNCTION);
    lua_State *co = lua_newthread(L);
    lua_pushvalue(L, 1);
    lua_xmove(L, co, 1);
    lua_pushcclosure(L, wrap_iter, 1);
    return 1;
}

/* ======================================================== read-only proxies */

static int ro_newindex(lua_State *L)
{
    return luaL_error(L, "attempt to modify a read-only table");
}

static int ro_pairs(lua_State *L)
{
    if (!lua_getmetatable(L, 1))
        return luaL_error(L, "not a read-only table");
    lua_getfield(L, -1, "__index");
    lua_pushcfunction(L, l_pairs);
    lua_insert(L, -2);
    lua_call(L, 1, 3);
    return 3;
}

static int ro_len(lua_State *L)
{
    if (!lua_getmetatable(L, 1))
        return luaL_error(L, "not a read-only table");
    lua_getfield(L, -1, "__index");
    lua_pushinteger(L, (lua_Integer)lua_rawlen(L, -1));
    return 1;
}

/* Wraps the table on top of the stack in a read-only proxy (replaces it). */
void aoxl_make_readonly(lua_State *L)
{
    lua_newtable(L);                        /* proxy */
    lua_createtable(L, 0, 5);               /* its metatable */
    lua_pushvalue(L, -3);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, ro_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushcfunction(L, ro_pairs);
    lua_setfield(L, -2, "__pairs");
    lua_pushcfunction(L, ro_len);
    lua_setfield(L, -2, "__len");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_remove(L, -2);
}

void aoxl_make_weak_keys(lua_State *L, int t)
{
    t = lua_absindex(L, t);
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, t);
}

/* ======================================================================= ao */

static int ao_append(lua_State *L, json_t *list, int lower, const char *what)
{
    aox_lua *lx = aoxl_get(L);
    char err[256];
    if (!lx->in_message || !list)
        return luaL_error(L, "%s: only available while handling a message", what);
    json_t *j = aoxl_to_json(L, 1, lower, err, sizeof err);
    if (!j)
        return luaL_error(L, "%s: %s", what, err);
    if (json_array_append_new(list, j)) {
        lx->host_oom = 1;
        return luaL_error(L, "host out of memory");
    }
    lua_settop(L, 1);
    return 1;
}

static int ao_send(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_getfield(L, 1, "Target");
    lua_getfield(L, 1, "target");
    if (lua_isnil(L, -1) && lua_isnil(L, -2))
        return luaL_error(L, "ao.send: message needs a Target");
    lua_settop(L, 1);
    return ao_append(L, aoxl_get(L)->outbox, 1, "ao.send");
}

static int ao_spawn(lua_State *L)
{
    /* ao.spawn(module, msg) or ao.spawn(msg) */
    if (lua_type(L, 1) == LUA_TSTRING) {
        luaL_checktype(L, 2, LUA_TTABLE);
        lua_pushvalue(L, 1);
        lua_setfield(L, 2, "Module");
        lua_remove(L, 1);
    }
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    return ao_append(L, aoxl_get(L)->spawns, 1, "ao.spawn");
}

static int ao_assign(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    return ao_append(L, aoxl_get(L)->assigns, 1, "ao.assign");
}

static int ao_event(lua_State *L)
{
    int n = lua_gettop(L);
    if (n != 1 || !lua_istable(L, 1)) {
        lua_createtable(L, n, 0);
        for (int i = 1; i <= n; i++) {
            lua_pushvalue(L, i);
            lua_rawseti(L, -2, i);
        }
        lua_replace(L, 1);
        lua_settop(L, 1);
    }
    return ao_append(L, aoxl_get(L)->events, 0, "ao.event");
}

/* ================================================================== builder */

static const char *const base_allowed[] = {
    "assert", "error", "getmetatable", "ipairs", "pcall", "rawequal", "rawget",
    "rawlen", "rawset", "select", "tonumber", "type", "xpcall", NULL
};

static const luaL_Reg base_ours[] = {
    {"tostring", l_tostring}, {"print", l_print}, {"pairs", l_pairs},
    {"next", l_next}, {"setmetatable", l_setmetatable},
    {"collectgarbage", l_collectgarbage}, {"load", l_load}, {"require", l_require},
    {NULL, NULL}
};

static const luaL_Reg os_ours[] = {
    {"time", l_time}, {"clock", l_clock}, {"date", l_date}, {"difftime", l_difftime},
    {NULL, NULL}
};

static const luaL_Reg ao_funcs[] = {
    {"send", ao_send}, {"spawn", ao_spawn}, {"assign", ao_assign}, {"event", ao_event},
    {NULL, NULL}
};

/* Functions not reachable through a table but still values a guest can hold. */
static const luaL_Reg hidden[] = {
    {"aox.pairs_iter", pairs_iter}, {"aox.wrap_iter", wrap_iter},
    {"aox.ro_newindex", ro_newindex}, {"aox.ro_pairs", ro_pairs}, {"aox.ro_len", ro_len},
    {NULL, NULL}
};

/* Registers every C function in the table at idx under "<prefix>.<name>". */
static void register_table(lua_State *L, int idx, const char *prefix)
{
    lua_Integer n = aoxl_sorted_keys(L, idx);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, -1, i);
        lua_pushvalue(L, -1);
        lua_rawget(L, idx);
        if (lua_iscfunction(L, -1) && lua_type(L, -2) == LUA_TSTRING) {
            char name[40];
            snprintf(name, sizeof name, "%s.%s", prefix, lua_tostring(L, -2));
            cf_add(L, name, lua_tocfunction(L, -1));
        }
        lua_pop(L, 2);
    }
    lua_pop(L, 1);
}

/* Opens a standard library, keeps the allowed fields (all when allow == NULL) minus
 * `deny`, and leaves the new table on the stack. */
static void open_lib(lua_State *L, const char *name, lua_CFunction open,
                     const char *const *deny)
{
    luaL_requiref(L, name, open, 0);
    for (const char *const *d = deny; d && *d; d++) {
        lua_pushnil(L);
        lua_setfield(L, -2, *d);
    }
}

int aoxl_open_sandbox(lua_State *L)
{
    aox_lua *lx = aoxl_get(L);
    static const char *const string_deny[] = {"dump", NULL};
    static const char *const math_deny[] = {"random", "randomseed", NULL};
    static const char *const co_deny[] = {"resume", "wrap", NULL};

    /* identities first: sorted_keys may need them for reference keys */
    lua_newtable(L);
    aoxl_make_weak_keys(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, AOXL_IDS);

    luaL_requiref(L, "_G", luaopen_base, 0);          /* the scratch globals */
    int old = lua_gettop(L);
    lua_newtable(L);                                    /* G */
    int G = lua_gettop(L);
    for (const char *const *p = base_allowed; *p; p++) {
        lua_getfield(L, old, *p);
        lua_setfield(L, G, *p);
    }
    luaL_setfuncs(L, base_ours, 0);
    lua_pushliteral(L, LUA_VERSION);
    lua_setfield(L, G, "_VERSION");
    lua_pushvalue(L, G);
    lua_setfield(L, G, "_G");

    open_lib(L, "string", luaopen_string, string_deny);
    lua_getfield(L, -1, "format");
    lx->orig_format = lua_tocfunction(L, -1);
    lua_pop(L, 1);
    lua_pushcfunction(L, l_format);
    lua_setfield(L, -2, "format");
    lua_setfield(L, G, "string");

    open_lib(L, "table", luaopen_table, NULL);
    lua_pushcfunction(L, l_sort);
    lua_setfield(L, -2, "sort");
    lua_setfield(L, G, "table");

    open_lib(L, "math", luaopen_math, math_deny);
    lua_pushcfunction(L, l_random);
    lua_setfield(L, -2, "random");
    lua_pushcfunction(L, l_randomseed);
    lua_setfield(L, -2, "randomseed");
    lua_setfield(L, G, "math");

    open_lib(L, "utf8", luaopen_utf8, NULL);
    lua_setfield(L, G, "utf8");

    open_lib(L, "coroutine", luaopen_coroutine, co_deny);
    lua_pushcfunction(L, l_resume);
    lua_setfield(L, -2, "resume");
    lua_pushcfunction(L, l_wrap);
    lua_setfield(L, -2, "wrap");
    lua_setfield(L, G, "coroutine");

    lua_newtable(L);
    luaL_setfuncs(L, os_ours, 0);
    lua_setfield(L, G, "os");

    /* ao: id, env (read-only view of the registry's envdata), send/spawn/... */
    lua_newtable(L);
    luaL_setfuncs(L, ao_funcs, 0);
    lua_pushstring(L, lx->pid ? lx->pid : "");
    lua_setfield(L, -2, "id");
    lua_setfield(L, G, "ao");

    /* registry: the new globals, an empty _LOADED (so tracebacks never search module
     * tables in hash order), and our persisted registry table */
    lua_pushvalue(L, G);
    lua_rawseti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, "_LOADED");
    lua_createtable(L, 0, 3);
    lua_newtable(L);
    lua_setfield(L, -2, "envdata");
    lua_newtable(L);
    lua_setfield(L, -2, "preload");
    lua_newtable(L);
    lua_setfield(L, -2, "loaded");
    lua_setfield(L, LUA_REGISTRYINDEX, AOXL_REG);

    /* ao.env = read-only proxy of envdata (filled per message by the host) */
    lua_getfield(L, G, "ao");
    lua_getfield(L, LUA_REGISTRYINDEX, AOXL_REG);
    lua_getfield(L, -1, "envdata");
    aoxl_make_readonly(L);
    lua_setfield(L, -3, "env");
    lua_pop(L, 2);

    /* name every reachable C function */
    register_table(L, G, "_G");
    static const char *const libs[] = {"string", "table", "math", "utf8", "coroutine",
                                       "os", "ao", NULL};
    for (const char *const *p = libs; *p; p++) {
        lua_getfield(L, G, *p);
        register_table(L, lua_gettop(L), *p);
        lua_pop(L, 1);
    }
    for (const luaL_Reg *r = hidden; r->name; r++)
        cf_add(L, r->name, r->func);
    lua_getfield(L, G, "ipairs");                      /* ipairs' iterator */
    lua_newtable(L);
    lua_call(L, 1, 1);
    cf_add(L, "aox.ipairs_iter", lua_tocfunction(L, -1));
    lua_pop(L, 1);

    lua_settop(L, old - 1);
    lua_gc(L, LUA_GCCOLLECT, 0);
    return 0;
}
