/*
 * lua/lua_json.c: conversions between jansson JSON and Lua values for lua@5.3.
 *
 * JSON -> Lua: objects become tables, arrays sequences, strings strings, integers
 * integers, reals floats; {"@b64": ...} becomes the decoded bytes and
 * {"@float": "nan"|"inf"|"-inf"} that float (the core/json.h conventions); null is
 * skipped. Optionally every table is wrapped in a read-only proxy.
 * Lua -> JSON: tables whose keys are exactly 1..n become arrays, others objects with
 * string or integer keys in canonical order; strings that are not UTF-8 (or hold NUL)
 * become {"@b64": ...}; functions, coroutines, NaN, cycles (depth > AOXL_JSON_DEPTH)
 * are refused with a reason. For ao messages the top-level keys are lower-cased and
 * a `Tags` field (map or {name, value} list) is merged into the message.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lua/lua_int.h"

/* ============================================================ JSON <-> Lua */

static const char b64u[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int b64u_val(int c)
{
    const char *p = c ? strchr(b64u, c) : NULL;
    return p ? (int)(p - b64u) : -1;
}

int aoxl_utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t k;
        uint32_t cp;
        if (c < 0x80) { i++; continue; }
        else if ((c & 0xE0) == 0xC0) { k = 1; cp = c & 0x1F; }
        else if ((c & 0xF0) == 0xE0) { k = 2; cp = c & 0x0F; }
        else if ((c & 0xF8) == 0xF0) { k = 3; cp = c & 0x07; }
        else return 0;
        if (i + k >= n)
            return 0;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + j] & 0x3F);
        }
        if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += k + 1;
    }
    return 1;
}

json_t *aoxl_str_to_json(const char *s, size_t n)
{
    if (aoxl_utf8_valid((const unsigned char *)s, n) && !memchr(s, 0, n))
        return json_stringn(s, n);
    size_t out = (n * 4 + 2) / 3;
    char *b = malloc(out + 1);
    if (!b)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)(unsigned char)s[i] << 16;
        if (i + 1 < n) v |= (uint32_t)(unsigned char)s[i + 1] << 8;
        if (i + 2 < n) v |= (unsigned char)s[i + 2];
        b[o++] = b64u[(v >> 18) & 63];
        b[o++] = b64u[(v >> 12) & 63];
        if (i + 1 < n) b[o++] = b64u[(v >> 6) & 63];
        if (i + 2 < n) b[o++] = b64u[v & 63];
    }
    json_t *j = json_pack("{s:s#}", "@b64", b, o);
    free(b);
    return j;
}

/* Pushes the bytes of {"@b64": "..."} or the float of {"@float": "nan"|"inf"|"-inf"};
 * 0 if j is not of either form. */
static int push_b64(lua_State *L, const json_t *j)
{
    const json_t *v;
    if (json_object_size(j) == 1 && (v = json_object_get(j, "@float")) && json_is_string(v)) {
        const char *f = json_string_value(v);
        lua_pushnumber(L, strcmp(f, "inf") == 0 ? HUGE_VAL
                          : strcmp(f, "-inf") == 0 ? -HUGE_VAL : (double)NAN);
        return 1;
    }
    if (json_object_size(j) != 1 || !(v = json_object_get(j, "@b64")) || !json_is_string(v))
        return 0;
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int x = b64u_val((unsigned char)s[i]);
        if (x < 0)
            continue;
        acc = (acc << 6) | (uint32_t)x;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            luaL_addchar(&b, (char)((acc >> bits) & 0xFF));
        }
    }
    luaL_pushresult(&b);
    return 1;
}

void aoxl_push_json(lua_State *L, const json_t *j, int readonly)
{
    luaL_checkstack(L, 4, "JSON too deep");
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        if (push_b64(L, j))
            return;
        const char *k;
        json_t *v;
        lua_createtable(L, 0, (int)json_object_size(j));
        json_object_foreach((json_t *)j, k, v) {
            if (json_is_null(v))
                continue;
            aoxl_push_json(L, v, readonly);
            lua_setfield(L, -2, k);
        }
        break;
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(j);
        lua_createtable(L, (int)n, 0);
        for (size_t i = 0; i < n; i++) {
            aoxl_push_json(L, json_array_get(j, i), readonly);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        break;
    }
    case JSON_STRING:
        lua_pushlstring(L, json_string_value(j), json_string_length(j));
        return;
    case JSON_INTEGER:
        lua_pushinteger(L, (lua_Integer)json_integer_value(j));
        return;
    case JSON_REAL:
        lua_pushnumber(L, json_real_value(j));
        return;
    case JSON_TRUE:
        lua_pushboolean(L, 1);
        return;
    case JSON_FALSE:
        lua_pushboolean(L, 0);
        return;
    default:
        lua_pushnil(L);
        return;
    }
    if (readonly)
        aoxl_make_readonly(L);
}

static int key_lower_set(json_t *o, const char *k, size_t kl, json_t *v, int lower)
{
    char small[128], *key = kl < sizeof small ? small : malloc(kl + 1);
    if (!key) {
        json_decref(v);
        return -1;
    }
    for (size_t i = 0; i < kl; i++)
        key[i] = lower ? (char)tolower((unsigned char)k[i]) : k[i];
    key[kl] = 0;
    int r = json_object_set_new(o, key, v);
    if (key != small)
        free(key);
    return r;
}

static json_t *to_json(lua_State *L, int idx, int depth, int lower, char *err, size_t errlen);

/* Merges a Tags field ({name=value} map or {{name=,value=},...} list) into o. */
static int merge_tags(lua_State *L, int tags, json_t *o, int depth, char *err, size_t errlen)
{
    lua_Integer n = aoxl_sorted_keys(L, tags);
    int karr = lua_gettop(L);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, karr, i);
        lua_pushvalue(L, -1);
        lua_rawget(L, tags);                          /* key, value */
        if (lua_type(L, -2) == LUA_TNUMBER && lua_istable(L, -1)) {
            lua_getfield(L, -1, "name");
            lua_getfield(L, -2, "value");
        } else {
            lua_pushvalue(L, -2);
            lua_pushvalue(L, -2);
        }
        if (lua_type(L, -2) != LUA_TSTRING) {
            snprintf(err, errlen, "tag names must be strings");
            lua_settop(L, karr - 1);
            return -1;
        }
        size_t kl;
        const char *k = lua_tolstring(L, -2, &kl);
        if (memchr(k, 0, kl) || !aoxl_utf8_valid((const unsigned char *)k, kl)) {
            snprintf(err, errlen, "tag names must be valid UTF-8 without NUL");
            lua_settop(L, karr - 1);
            return -1;
        }
        json_t *v = to_json(L, lua_gettop(L), depth + 1, 0, err, errlen);
        if (!v || key_lower_set(o, k, kl, v, 1)) {
            lua_settop(L, karr - 1);
            return -1;
        }
        lua_pop(L, 4);
    }
    lua_settop(L, karr - 1);
    return 0;
}

static json_t *to_json(lua_State *L, int idx, int depth, int lower, char *err, size_t errlen)
{
    idx = lua_absindex(L, idx);
    if (depth > AOXL_JSON_DEPTH) {
        snprintf(err, errlen, "value too deeply nested (or cyclic) for a result");
        return NULL;
    }
    if (!lua_checkstack(L, 8)) {
        snprintf(err, errlen, "stack overflow converting a result");
        return NULL;
    }
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        snprintf(err, errlen, "nil cannot be encoded");
        return NULL;
    case LUA_TBOOLEAN:
        return json_boolean(lua_toboolean(L, idx));
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx))
            return json_integer((json_int_t)lua_tointeger(L, idx));
        if (!isfinite(lua_tonumber(L, idx))) {
            snprintf(err, errlen, "NaN and infinity cannot be encoded");
            return NULL;
        }
        return json_real(lua_tonumber(L, idx));
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        return aoxl_str_to_json(s, n);
    }
    case LUA_TTABLE:
        break;
    default:
        snprintf(err, errlen, "a %s cannot be encoded", luaL_typename(L, idx));
        return NULL;
    }
    lua_Integer n = aoxl_sorted_keys(L, idx);
    int karr = lua_gettop(L);
    int is_array = n > 0;
    for (lua_Integer i = 1; i <= n && is_array; i++) {
        lua_rawgeti(L, karr, i);
        is_array = lua_isinteger(L, -1) && lua_tointeger(L, -1) == i;
        lua_pop(L, 1);
    }
    json_t *out = is_array ? json_array() : json_object();
    if (!out)
        goto oom;
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, karr, i);                /* key */
        lua_pushvalue(L, -1);
        lua_rawget(L, idx);                     /* key, value */
        if (is_array) {
            json_t *v = to_json(L, -1, depth + 1, 0, err, errlen);
            if (!v || json_array_append_new(out, v))
                goto fail;
            lua_pop(L, 2);
            continue;
        }
        char num[32];
        const char *k;
        size_t kl;
        if (lua_type(L, -2) == LUA_TSTRING) {
            k = lua_tolstring(L, -2, &kl);
        } else if (lua_isinteger(L, -2)) {
            kl = (size_t)snprintf(num, sizeof num, "%lld", (long long)lua_tointeger(L, -2));
            k = num;
        } else {
            snprintf(err, errlen, "a %s key cannot be encoded", luaL_typename(L, -2));
            goto fail;
        }
        if (memchr(k, 0, kl) || !aoxl_utf8_valid((const unsigned char *)k, kl)) {
            snprintf(err, errlen, "keys must be valid UTF-8 without NUL");
            goto fail;
        }
        if (lower && lua_istable(L, -1) && kl == 4 &&
            (strncmp(k, "Tags", 4) == 0 || strncmp(k, "tags", 4) == 0)) {
            if (merge_tags(L, lua_gettop(L), out, depth, err, errlen))
                goto fail;
            lua_pop(L, 2);
            continue;
        }
        json_t *v = to_json(L, -1, depth + 1, 0, err, errlen);
        if (!v || key_lower_set(out, k, kl, v, lower))
            goto fail;
        lua_pop(L, 2);
    }
    lua_settop(L, karr - 1);
    return out;
oom:
    snprintf(err, errlen, "host out of memory");
fail:
    if (!err[0])
        snprintf(err, errlen, "host out of memory");
    json_decref(out);
    lua_settop(L, karr - 1);
    return NULL;
}

json_t *aoxl_to_json(lua_State *L, int idx, int lower_keys, char *err, size_t errlen)
{
    err[0] = 0;
    return to_json(L, idx, 0, lower_keys, err, errlen);
}
