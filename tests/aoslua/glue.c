/* tests/aoslua/glue.c: the C side of aoslua.wasm, an aos-like process made of the
 * real Lua 5.3 VM (Debian's lua5.3 source, fetched at build time, never part of this
 * repository) compiled with emscripten, plus tests/aoslua/process.lua.
 *
 * handle(msg_json, env_json) -> result_json, the aos JSON interface. The first call
 * (the Process message, slot 0) creates the lua_State and runs the embedded script;
 * the state then lives in linear memory across calls, so the node's snapshots carry
 * it. Each call runs the script's global handle(msg_json, env_json) under
 * lua_pcall: a Lua error (error(), a runtime fault) arrives here through Lua's
 * longjmp (emscripten SjLj through the host's invoke_* trampolines, or wasm
 * exceptions in the -sSUPPORT_LONGJMP=wasm build) and becomes
 * {"ok":false,"response":"<message>"}; the node then rolls the memory back. Out of
 * memory (LUA_ERRMEM) aborts instead: after a refused heap growth the node reports
 * the memory-limit error and rolls back. */
#ifdef __EMSCRIPTEN__
#include <emscripten.h>
#else /* bench/aoslua builds the same glue natively for comparison */
#define EMSCRIPTEN_KEEPALIVE
#endif
#include <stdlib.h>
#include <string.h>

#include "lauxlib.h"
#include "lua.h"
#include "lualib.h"

#include "aoslua_script.h" /* generated: aoslua_script[], aoslua_script_len */

static lua_State *L;
static char *result;           /* the last answer, owned here until the next call */

static const char *keep(const char *s, size_t n)
{
    free(result);
    result = malloc(n + 1);
    if (!result)
        abort();
    memcpy(result, s, n);
    result[n] = 0;
    return result;
}

/* {"ok":false,"response":"<msg as a JSON string>"} */
static const char *fail(const char *msg)
{
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addstring(&b, "{\"ok\":false,\"response\":\"");
    for (const unsigned char *p = (const unsigned char *)msg; *p; p++) {
        if (*p == '"' || *p == '\\') {
            luaL_addchar(&b, '\\');
            luaL_addchar(&b, (char)*p);
        } else if (*p < 0x20) {
            char esc[8];
            static const char hex[] = "0123456789abcdef";
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[*p >> 4];
            esc[5] = hex[*p & 15];
            luaL_addlstring(&b, esc, 6);
        } else {
            luaL_addchar(&b, (char)*p);
        }
    }
    luaL_addstring(&b, "\"}");
    luaL_pushresult(&b);
    size_t n;
    const char *s = lua_tolstring(L, -1, &n);
    const char *r = keep(s, n);
    lua_pop(L, 1);
    return r;
}

static int traceback(lua_State *l)
{
    const char *m = lua_tostring(l, 1);
    luaL_traceback(l, l, m ? m : "(error object is not a string)", 1);
    return 1;
}

static const char *error_of(int rc)
{
    if (rc == LUA_ERRMEM)
        abort(); /* the node turns the refused growth into its memory-limit error */
    const char *m = lua_tostring(L, -1);
    const char *r = fail(m ? m : "error");
    lua_pop(L, 1);
    return r;
}

EMSCRIPTEN_KEEPALIVE const char *handle(const char *msg, const char *env)
{
    int rc;
    if (!L) {
        L = luaL_newstate();
        if (!L)
            abort();
        luaL_openlibs(L);
        lua_pushcfunction(L, traceback);
        rc = luaL_loadbuffer(L, aoslua_script, aoslua_script_len, "=process.lua");
        if (rc == LUA_OK)
            rc = lua_pcall(L, 0, 0, 1);
        if (rc != LUA_OK) {
            const char *r = error_of(rc);
            lua_close(L);   /* the next call starts over (the node rolls back anyway) */
            L = NULL;
            return r;
        }
        lua_pop(L, 1);
    }
    lua_pushcfunction(L, traceback);
    lua_getglobal(L, "handle");
    lua_pushstring(L, msg ? msg : "{}");
    lua_pushstring(L, env ? env : "{}");
    rc = lua_pcall(L, 2, 1, 1);
    if (rc != LUA_OK) {
        const char *r = error_of(rc);
        lua_pop(L, 1);
        return r;
    }
    size_t n;
    const char *s = lua_tolstring(L, -1, &n);
    const char *r = s ? keep(s, n) : fail("handle returned no string");
    lua_pop(L, 2);
    return r;
}
