/*
 * node/options.h: the node's runtime options, all in one table (STYLE.md
 * "Configuration"; the model is Redis's static_configs[]).
 *
 * Each option has a name, a type, a default, an environment variable
 * (AOX_<NAME>, upper-case, '-' -> '_'), a line of documentation and a validation
 * range. The same table drives:
 *
 *   - command-line flags          --NAME VALUE  or  --NAME=VALUE  (bool: --NAME,
 *                                 --no-NAME, --NAME=true|false)
 *   - the environment             AOX_NAME=VALUE
 *   - an optional config file     `name = value` lines (see aox_node_config_load)
 *   - /~meta@1.0/info             aox_node_config_to_json
 *   - `aox serve --help` and the docs table (aox_node_config_help, _markdown)
 *
 * Precedence, highest first: flag > environment > config file > default.
 * The config file itself is named by --config FILE or AOX_CONFIG.
 */
#ifndef AOX_NODE_OPTIONS_H
#define AOX_NODE_OPTIONS_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "core/buf.h"
#include "core/error.h"

typedef enum aox_opt_type {
    AOX_OPT_INT,        /* signed 64-bit decimal */
    AOX_OPT_UINT,       /* unsigned 64-bit decimal */
    AOX_OPT_SIZE,       /* bytes; suffixes K/M/G/T (x1024), also KiB/MiB/GiB/TiB, KB/MB.. */
    AOX_OPT_BOOL,       /* true/false, yes/no, on/off, 1/0 */
    AOX_OPT_STRING,
    AOX_OPT_ENUM,       /* one of a fixed list of words; stored as its index */
    AOX_OPT_DURATION    /* milliseconds; suffixes ms, s, m, h (bare number = ms) */
} aox_opt_type;

/* Where an option's effective value came from. */
typedef enum aox_opt_source {
    AOX_SRC_DEFAULT, AOX_SRC_FILE, AOX_SRC_ENV, AOX_SRC_FLAG
} aox_opt_source;

/* Effective configuration. Strings are heap copies owned by the struct
 * (aox_node_config_free releases them). Units are in the field comments. */
typedef struct aox_node_config {
    char    *data;                 /* data directory (LMDB store lives here) */
    char    *store;                /* store URI; "" = "lmdb:<data>" */
    char    *bind;                 /* listen address, IPv4 or IPv6 literal */
    uint64_t port;                 /* TCP port, 0..65535 (0 = any free port) */
    char    *config;               /* config file path ("" = none) */
    int64_t  log_level;            /* aox_log_level as enum index */
    int64_t  isolation;            /* enum: 0 thread, 1 process (device/isolate.h) */
    uint64_t prefork;              /* process isolation: spare pre-forked workers
                                      (0 = fork each worker on request), <= 64 */
    uint64_t snapshot_every;       /* slots between snapshots, >= 1 */
    int64_t  block_height;         /* recorded in every assignment, >= 0 */
    int64_t  clock_fixed_ms;       /* -1 = real clock; else fixed timestamp (tests) */
    uint64_t max_body;             /* bytes, largest HTTP request body */
    uint64_t max_fuel;             /* node maximum fuel per message (0 = none) */
    uint64_t max_memory;           /* bytes, node maximum guest memory (0 = none) */
    uint64_t max_wall_ms;          /* ms, node maximum wall time per message (0 = none) */
    uint64_t max_result_bytes;     /* bytes, node maximum encoded result (0 = none) */
    uint64_t max_message_bytes;    /* bytes, node maximum incoming message (0 = none) */
    uint64_t live_states_max;      /* device states kept hot, >= 1 */
    uint64_t http_max_connections; /* concurrent HTTP connections, >= 1 */
    uint64_t http_timeout_ms;      /* ms, idle connection timeout (0 = none) */
    uint64_t schedule_page_max;    /* assignments per GET /<pid>/schedule page */
    int      store_no_sync;        /* bool: skip fsync (benchmarks only: unsafe) */
    uint64_t store_cache_max;      /* bytes, cache: store bound (0 = none) */
    /* live workers (node/workers.h) */
    uint64_t workers;              /* pool threads (0 = number of cores) */
    uint64_t worker_queue;         /* queued requests per process, >= 1 */
    uint64_t queue_max;            /* queued requests, all processes, >= 1 */
    uint64_t readonly_queue;       /* queued read-only requests (dry runs), >= 1 */
    uint64_t schedules_max;        /* schedules in flight, >= 1 */
    uint64_t await_timeout_ms;     /* ms, default wait deadline of a request, >= 1 */
    uint64_t worker_idle_ms;       /* ms, evict workers idle this long (0 = never) */
    uint64_t memory_budget;        /* bytes of live states (0 = no budget) */
    uint64_t workers_max;          /* live workers (0 = no maximum) */
    /* issue 6: delegation, signing (node/delegate.h, node/cluster.h) */
    char    *peers;                /* "URL,URL" peers for delegated@1.0 ("" = none) */
    uint64_t delegate_timeout_ms;  /* ms, one peer request, >= 1 */
    uint64_t delegate_peer_max;    /* as a peer: imported assignments kept, >= 1 */
    int      sign_results;         /* bool: sign answered results/assignments */
    int64_t  test_forge_results;   /* enum off/lie/tamper (tests; AOX_TEST_HOOKS=1) */
    char    *delegate;             /* "NAME,NAME": node processes to delegate */
    uint64_t lease_ttl_ms;         /* ms, cluster-mode process lease, >= 100 */
    char    *advertise;            /* this node's URL for peers ("" = http://bind:port) */

    unsigned char source[48];      /* aox_opt_source per option index */
    aox_buf  warnings;             /* "\n"-separated warnings from loading (e.g.
                                      ignored config sections); may be empty */
} aox_node_config;

/* One row of the table, read-only. */
typedef struct aox_node_opt {
    const char   *name;            /* "snapshot-every" (flag --snapshot-every) */
    aox_opt_type  type;
    const char   *def;             /* default as text (as a user would write it) */
    const char   *doc;             /* one line */
    int64_t       min, max;        /* inclusive range for numeric types (min>max: none) */
    const char *const *words;      /* ENUM: NULL-terminated list */
    size_t        offset;          /* offsetof(aox_node_config, field) */
} aox_node_opt;

size_t              aox_node_opt_count(void);
const aox_node_opt *aox_node_opt_at(size_t i);
const aox_node_opt *aox_node_opt_find(const char *name);   /* '-' or '_' accepted */
/* "AOX_SNAPSHOT_EVERY" for "snapshot-every"; out must hold 64 bytes. */
void aox_node_opt_env_name(const aox_node_opt *o, char out[64]);

/* Fills c with the defaults. The default data directory is $AOX_DATA when set at
 * load time (it is just the `data` option's environment variable), else
 * ./aox-data. Must be paired with aox_node_config_free. Returns 0 or AOX_E_NOMEM. */
int  aox_node_config_init(aox_node_config *c);
void aox_node_config_free(aox_node_config *c);

/* Sets one option from text, validating it. src is recorded as its source.
 * AOX_E_INVALID with a message naming the option on a bad value. */
int aox_node_config_set(aox_node_config *c, const aox_node_opt *o, const char *value,
                        aox_opt_source src, aox_err *err);

/* Loads everything in precedence order: defaults, then the config file (from
 * --config / AOX_CONFIG), then the environment, then flags.
 *
 *   argv: the option words only (e.g. argv+2 after "aox serve"), argc of them.
 *         Unknown flags and stray arguments are errors (AOX_E_INVALID).
 *   envp: NULL-terminated "K=V" array; NULL means the process environment.
 *
 * Config file: one `name = value` per line; '#' or ';' starts a comment line;
 * values may be double-quoted; blank lines ignored. `[section]` headers start a
 * section: options are read only before the first section; the contents of
 * `[processes.NAME]` sections (reserved for a later release) and of any other
 * section are ignored with a warning (in c->warnings). An unknown option name at
 * top level is an error naming file:line.
 *
 * On error err says which source (flag, variable or file:line) was wrong and c keeps
 * whatever was applied so far (callers just free it). */
int aox_node_config_load(aox_node_config *c, int argc, char **argv, char **envp,
                         aox_err *err);

/* Value of option o in c as text (appended to out). */
int aox_node_config_format(const aox_node_config *c, const aox_node_opt *o, aox_buf *out);
/* {"name": value, ...} with typed JSON values (numbers, bools, strings; enums as
 * their word). New reference, NULL on OOM. If sources != 0, each value is instead
 * {"value": v, "source": "default|file|env|flag"}. */
json_t *aox_node_config_to_json(const aox_node_config *c, int sources);

/* Help text for `aox serve --help`: one block per option (flag, env, default, doc). */
int aox_node_config_help(aox_buf *out);
/* A Markdown table of all options (for docs). */
int aox_node_config_markdown(aox_buf *out);

const char *aox_opt_source_name(aox_opt_source s);

#endif
