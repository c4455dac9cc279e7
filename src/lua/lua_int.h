/*
 * lua/lua_int.h: private to src/lua/. The aox_lua body and the helpers the
 * environment (lua_env.c), the sandbox library (lua_lib.c) and the persister
 * (lua_persist.c) share. Nothing outside src/lua/ includes this.
 */
#ifndef AOX_LUA_INT_H
#define AOX_LUA_INT_H

#include <stdint.h>
#include <stddef.h>
#include <jansson.h>
#include <lua.h>
#include <lauxlib.h>
#include "lua/lua_config.h"
#include "lua/lua_env.h"

/* Registry keys (strings in the Lua registry). */
#define AOXL_REG     "aox.reg"    /* persisted: {envdata=, preload=, loaded=} */
#define AOXL_IDS     "aox.ids"    /* persisted (filtered): weak-keyed object -> id */


/* A growable byte buffer for host-side data (never counted against the guest). */
typedef struct aoxl_buf {
    uint8_t *p;
    size_t   len, cap;
} aoxl_buf;
int  aoxl_buf_put(aoxl_buf *b, const void *p, size_t n);   /* 0 or -1 (OOM) */
void aoxl_buf_free(aoxl_buf *b);

/* One C function the sandbox exposes, by stable name (persisted by that name). */
typedef struct aoxl_cfunc {
    char          name[40];
    lua_CFunction fn;
} aoxl_cfunc;

/* One logged message since the rollback image (replayed to roll back). */
typedef struct aoxl_logent {
    json_t  *message, *assignment;   /* own references (deep copies) */
    char    *message_id;
    uint64_t slot;
    int64_t  timestamp_ms;
} aoxl_logent;

struct aox_lua {
    lua_State   *L;
    aox_lua_opts opts;              /* entry/process_id point into the strings below */
    char        *entry, *pid;
    json_t      *def;               /* process definition or NULL (own reference) */
    char        *script;            /* kept for a rollback of last resort */
    aox_lua_module *mods;           /* owned copies of opts.modules (same count) */
    size_t       script_len;

    /* allocator: bytes in use, limit (0 = none); limit applies while limit_on */
    size_t mem, mem_limit;
    int    limit_on;
    int    fail_pending;            /* a limited request failed; next one decides */
    int    oom;                     /* sticky: the guest hit the memory limit */
    int    host_oom;                /* the host's malloc failed */

    /* fuel: gas in VM instructions, charged `step` at a time by the count hook */
    uint64_t    gas, fuel;
    uint32_t    step;
    int         out_of_fuel;        /* sticky for the message */
    int         interrupted;
    atomic_int *interrupt;

    /* per-message context */
    int64_t  now_ms;
    uint64_t prng[4];               /* xoshiro256** */
    aoxl_buf print;
    json_t  *outbox, *spawns, *assigns, *events;   /* arrays, own references */
    int      in_message;            /* ao.send etc. only work inside a message */
    char    *err_msg, *err_tb;      /* the guest error caught by our message handler */

    /* identities for tostring / ordering of reference values (persisted) */
    int64_t nextid;

    /* C functions by name */
    aoxl_cfunc   *cf;
    size_t        ncf, capcf;
    lua_CFunction orig_format;

    /* rollback */
    uint8_t     *image;             /* last image (NULL: re-run the script) */
    size_t       image_len;
    aoxl_logent *log;
    size_t       nlog, caplog;
    uint64_t     log_ns;            /* CPU time computing the logged messages */
    uint64_t     image_ns;          /* CPU time the last image took */
    size_t       image_retry_at;    /* after a failed image: retry at this log length */
    int          broken;
    aox_lua_stats stats;
};

static inline aox_lua *aoxl_get(lua_State *L)
{
    void *ud = NULL;
    (void)lua_getallocf(L, &ud);
    return (aox_lua *)ud;
}

/* --- lua_lib.c --- */
/* Builds the sandbox in lx->L. Call in protected mode (lua_pcall of a C function). */
int  aoxl_open_sandbox(lua_State *L);
void aoxl_hook(lua_State *L, lua_Debug *ar);
/* Pushes tostring(v) with stable identities instead of addresses. */
void aoxl_push_tostring(lua_State *L, int idx);
/* Pushes a new array of the keys of table t in canonical order; returns the count.
 * Reference-typed keys are ordered by identity (assigned if missing). */
lua_Integer aoxl_sorted_keys(lua_State *L, int t);
/* Identity of the reference value at idx (assigned from lx->nextid if missing). */
int64_t aoxl_identity(lua_State *L, int idx);
/* --- lua_json.c ---
 * JSON <-> Lua. push_json raises only memory errors. to_json returns NULL and writes
 * a reason to err on values it cannot encode (functions, cycles, NaN...).
 * lower_keys: lower-case the top-level keys and merge a `Tags` field (ao messages). */
void    aoxl_push_json(lua_State *L, const json_t *j, int readonly);
json_t *aoxl_to_json(lua_State *L, int idx, int lower_keys, char *err, size_t errlen);
/* A JSON string, or {"@b64": ...} for bytes that are not UTF-8 or hold NUL. */
json_t *aoxl_str_to_json(const char *s, size_t n);
int     aoxl_utf8_valid(const unsigned char *s, size_t n);
/* C function registry lookups (NULL when unknown). */
const char   *aoxl_cfunc_name(aox_lua *lx, lua_CFunction fn);
lua_CFunction aoxl_cfunc_find(aox_lua *lx, const char *name);
/* Replaces the table on top of the stack by a read-only proxy of it. */
void aoxl_make_readonly(lua_State *L);
/* Marks a table as weak-keyed in a way the sandbox cannot (internal use). */
void aoxl_make_weak_keys(lua_State *L, int t);
/* Seeds the PRNG from SHA-256 of bytes. */
void aoxl_seed(aox_lua *lx, const void *p, size_t n);

/* --- lua_persist.c --- */
/* Serialises the state into out (host memory). Protected mode required. On a value
 * that cannot be persisted, raises a Lua error naming its path. */
int  aoxl_persist(lua_State *L);      /* arg 1: light userdata aoxl_buf[4], all owned by
                                        the caller: [0] gets the image, [1..3] scratch */
/* Rebuilds the state from bytes (arg 1 = light userdata to a {p,len} pair); the
 * sandbox must already be open. Raises on corrupt input. */
int  aoxl_unpersist(lua_State *L);
typedef struct aoxl_bytes { const uint8_t *p; size_t len; } aoxl_bytes;

#endif
