/*
 * lua/lua_env.h: the `lua@5.3` execution environment as a library.
 *
 * One aox_lua is one sandboxed Lua 5.3 state running one process's script. It
 * depends only on liblua5.3, OpenSSL (SHA-256) and jansson; messages, assignments
 * and results cross this boundary as jansson JSON so a device adapter
 * (lua_device.c) can map them to aox messages with core/json.h.
 *
 *   aox_lua_new(opts, script)            -> state after running the script once
 *   aox_lua_compute(state, call, &res)   -> one message: calls the global `handle`
 *   aox_lua_snapshot(state, &bytes)      -> canonical image of the whole state
 *   aox_lua_restore(opts, bytes, &state) -> a state that computes identically
 *   aox_lua_free(state)
 *
 * A guest failure (script error, out of fuel, out of memory) is a *result* (the
 * result JSON carries `error`), the call returns AOX_LUA_OK and the state is rolled
 * back to what it was before the message. A non-zero return code is a host fault
 * (host out of memory, interrupted by the host, corrupt image, bug); after one the
 * state must be freed (aox_lua_compute refuses further work with AOX_LUA_EBROKEN).
 *
 * Result JSON (an object; absent keys mean "none"):
 *   output       the handler's return value (string/number/bool/table -> JSON), or
 *                the text printed during the message when the handler returned nil
 *   print        the text printed during the message (when output is the return value)
 *   outbox       [message...]   from ao.send   (keys lower-cased, Tags merged in)
 *   spawns       [message...]   from ao.spawn
 *   assignments  [message...]   from ao.assign
 *   events       [value...]     from ao.event
 *   error        {code: "guest_error"|"out_of_fuel"|"out_of_memory"|"limit_exceeded",
 *                 message: "...", traceback: "..."}     (then no outbox etc.)
 *   gas          integer: VM instructions charged to this message
 * Lua strings that are not valid UTF-8 are written as {"@b64": "<base64url>"} (the
 * core/json.h convention); the same form is decoded back to bytes on input, and
 * {"@float": "nan"|"inf"|"-inf"} to that float. JSON null is never produced.
 *
 * Thread safety: one aox_lua is used by one thread at a time; distinct states are
 * independent.
 */
#ifndef AOX_LUA_ENV_H
#define AOX_LUA_ENV_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

typedef struct aox_lua aox_lua;

enum {
    AOX_LUA_OK = 0,
    AOX_LUA_EINVAL,      /* bad argument or the script failed to load/initialise */
    AOX_LUA_ENOMEM,      /* the host (not the guest's limit) ran out of memory */
    AOX_LUA_EINTR,       /* the host set *interrupt: state rolled back, no result */
    AOX_LUA_ECORRUPT,    /* a snapshot image could not be decoded */
    AOX_LUA_EPERSIST,    /* the state holds a value that cannot be persisted */
    AOX_LUA_EBROKEN      /* an earlier host fault left the state unusable */
};

/* A Lua module the host offers to `require` (text source, run on first require). */
typedef struct aox_lua_module {
    const char *name;
    const char *source;
    size_t      len;
} aox_lua_module;

/* Options; the zero value gives the defaults noted. Copied by aox_lua_new/restore
 * (the module list is used by aox_lua_new only: preloaded modules are part of the
 * state, so an image carries them). */
typedef struct aox_lua_opts {
    uint64_t    fuel;         /* VM instructions per message; 0 = unlimited */
    uint64_t    init_fuel;    /* for running the script at init; 0 = 10 * fuel */
    size_t      memory;       /* bytes the Lua heap may hold; 0 = unlimited */
    uint32_t    hook_step;    /* instructions between fuel checks (gas granularity);
                               * 0 = 100. Defaults: lua_config.h */
    size_t      print_max;    /* bytes of print output per message; 0 = 1 MiB */
    size_t      result_max;   /* bytes of the compact result JSON; over it the message
                               * fails with limit_exceeded (rolled back); 0 = none */
    const char *entry;        /* global function called per message; NULL = "handle" */
    const char *process_id;   /* ao.id; NULL = "" */
    const aox_lua_module *modules;   /* offered to require(name); may be NULL */
    size_t      nmodules;
    /* Rollback image policy (see docs/parts/lua.md): after a successful message the
     * image is refreshed once the time spent computing the messages logged since the
     * image reaches image_factor x the time the last image took (so images
     * cost at most ~1/image_factor of compute time, and a rollback replays at most
     * ~image_factor images' worth of work), or image_max_log messages are logged.
     * This decides only when images are taken (see docs/parts/lua.md for the one
     * corner where an image can matter: never-identified reference-typed keys). */
    uint32_t    image_factor;      /* 0 = 4 */
    uint32_t    image_max_log;     /* 0 = 100000 */
} aox_lua_opts;

/* Inputs of one message. Everything is borrowed for the duration of the call. */
typedef struct aox_lua_call {
    const json_t *message;      /* object; required */
    const json_t *assignment;   /* object or NULL */
    const char   *message_id;   /* seeds math.random with slot; NULL = "" */
    uint64_t      slot;
    int64_t       timestamp_ms; /* os.time() = timestamp_ms / 1000 */
    atomic_int   *interrupt;    /* non-zero stops the message (AOX_LUA_EINTR); may be NULL */
    int           dry_run;      /* 1: compute the result, keep no state change */
} aox_lua_call;

/* Creates a sandbox, runs `script` (a text chunk) once with `def` (the process
 * definition as JSON, may be NULL) visible as ao.env.Process, timestamp 0 and the
 * init fuel. On failure returns AOX_LUA_EINVAL with the reason (error message and
 * traceback) in err. *out is owned by the caller (aox_lua_free). */
int  aox_lua_new(const aox_lua_opts *opts, const json_t *def,
                 const char *script, size_t script_len,
                 aox_lua **out, char *err, size_t errlen);

/* Applies one message. On AOX_LUA_OK *result is a new reference (caller decrefs). */
int  aox_lua_compute(aox_lua *lx, const aox_lua_call *call, json_t **result,
                     char *err, size_t errlen);

/* Serialises the whole state (canonical, deterministic bytes). *bytes is malloc'd,
 * caller frees. AOX_LUA_EPERSIST names the offending value's path in err (e.g.
 * "cannot persist suspended coroutine at Handlers.list[3].co"). A successful
 * snapshot also becomes the state's rollback image. */
int  aox_lua_snapshot(aox_lua *lx, uint8_t **bytes, size_t *len, char *err, size_t errlen);

/* Rebuilds a state from a snapshot in a fresh sandbox. `def` and `script` are what
 * was given to aox_lua_new (the script is kept, not re-run, for a rollback of last
 * resort when the state cannot be imaged). */
int  aox_lua_restore(const aox_lua_opts *opts, const json_t *def,
                     const char *script, size_t script_len,
                     const uint8_t *bytes, size_t len,
                     aox_lua **out, char *err, size_t errlen);

void aox_lua_free(aox_lua *lx);      /* NULL-safe */

/* Bytes the Lua heap holds now. */
size_t aox_lua_memory(const aox_lua *lx);

/* Statistics for benches and docs. */
typedef struct aox_lua_stats {
    uint64_t messages;        /* computed, including failures */
    uint64_t rollbacks;       /* restores done to undo a failed or dry-run message */
    uint64_t images;          /* rollback images taken */
    size_t   image_bytes;     /* size of the current image (0 = none) */
    size_t   log_len;         /* messages logged since the image */
} aox_lua_stats;
void aox_lua_get_stats(const aox_lua *lx, aox_lua_stats *out);

#endif
