/*
 * lua/lua_config.h: compile-time tunables of lua@5.3, one place, each with why.
 * Runtime options are in aox_lua_opts (lua_env.h); these are their defaults and the
 * constants nothing should need to change.
 */
#ifndef AOX_LUA_CONFIG_H
#define AOX_LUA_CONFIG_H

/* VM instructions between two fuel checks = gas granularity. 100 keeps the hook's
 * cost small (one C call per 100 instructions) and gas meaningful for tiny handlers. */
#define AOXL_HOOK_STEP          100

/* Fuel for running the script at init, as a multiple of the per-message fuel. */
#define AOXL_INIT_FUEL_FACTOR   10

/* Limits applied when neither the process definition nor the node sets one
 * (limits of 0 mean "none given"): a runaway script must always end with an error
 * result instead of holding its worker forever or exhausting the node.
 * 10^9 VM instructions take a few seconds; 1 GiB bounds the Lua heap. */
#define AOXL_DEFAULT_FUEL       1000000000ull
#define AOXL_DEFAULT_MEMORY     ((size_t)1 << 30)

/* Bytes of print output one message may produce. */
#define AOXL_PRINT_MAX          ((size_t)1 << 20)

/* Rollback image policy: refresh when the time spent on logged messages reaches
 * this many times the time of the last image; or after this many logged messages
 * (bounds the log's memory); and right after a rollback that replayed at least
 * AOXL_REIMAGE_AFTER_REPLAY messages. */
#define AOXL_IMAGE_FACTOR       4
#define AOXL_IMAGE_MAX_LOG      100000
#define AOXL_REIMAGE_AFTER_REPLAY 16

/* Nesting limit for Lua -> JSON conversion (results, outbox): deeper means a cycle
 * or a mistake, and it bounds the C recursion. */
#define AOXL_JSON_DEPTH         100

/* Strings up to this length are written inline in images (no object number):
 * looking them up in the reference table costs more than repeating them, and Lua
 * interns strings up to 40 bytes anyway. */
#define AOXL_INLINE_STR         40

/* Snapshot page size of the device (content-addressed pages in the store). */
#define AOXL_DEVICE_PAGE        (1u << 20)

#endif
