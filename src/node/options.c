/*
 * node/options.c: the runtime option table and everything it drives — flag,
 * environment and config-file parsing with validation, the JSON view for
 * /~meta@1.0/info, and the generated help/docs. See options.h for the contract.
 *
 * Adding an option: add a field to aox_node_config and one row to opts[] below.
 * Nothing else needs to change (help, env var, config file, info all follow).
 */
#include "node/options.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

extern char **environ;

/* ------------------------------------------------------------------------ */
/* The table                                                                */
/* ------------------------------------------------------------------------ */

static const char *const log_words[] = { "debug", "info", "warn", "error", "off", NULL };
static const char *const forge_words[] = { "off", "lie", "tamper", NULL };
static const char *const isolation_words[] = { "thread", "process", NULL };

#define OFF(f) offsetof(aox_node_config, f)
#define NORANGE 1, 0
#define KiB 1024LL
#define MiB (1024LL * 1024)
#define GiB (1024LL * 1024 * 1024)
#define TiB (1024LL * 1024 * 1024 * 1024)

static const aox_node_opt opts[] = {
    { "data", AOX_OPT_STRING, "./aox-data",
      "data directory; the LMDB store lives here (created if missing)",
      NORANGE, NULL, OFF(data) },
    { "store", AOX_OPT_STRING, "",
      "store URI: lmdb:DIR, memory:, redis://HOST:PORT (?cluster=1: a Redis Cluster), or a "
      "cache: URI (an LMDB cache in front of another store, see docs/parts/cluster-store.md); "
      "empty = lmdb under --data",
      NORANGE, NULL, OFF(store) },
    { "bind", AOX_OPT_STRING, "127.0.0.1",
      "HTTP listen address (IPv4 or IPv6 literal)",
      NORANGE, NULL, OFF(bind) },
    { "port", AOX_OPT_UINT, "8734",
      "HTTP port (0 = any free port, logged at start-up)",
      0, 65535, NULL, OFF(port) },
    { "config", AOX_OPT_STRING, "",
      "config file of `name = value` lines (flag or AOX_CONFIG only)",
      NORANGE, NULL, OFF(config) },
    { "log-level", AOX_OPT_ENUM, "info",
      "log level: debug, info, warn, error, off (changeable at run time)",
      NORANGE, log_words, OFF(log_level) },
    { "isolation", AOX_OPT_ENUM, "thread",
      "where device states run: thread (in the node) or process (one sandboxed worker "
      "process each: rlimits, seccomp)", NORANGE, isolation_words, OFF(isolation) },
    { "prefork", AOX_OPT_UINT, "2",
      "with --isolation=process: idle worker processes kept forked, so a new device "
      "state does not wait for a fork (0 = fork on request)",
      0, 64, NULL, OFF(prefork) },
    { "snapshot-every", AOX_OPT_UINT, "64",
      "take a state snapshot every K computed slots",
      1, 1000000000LL, NULL, OFF(snapshot_every) },
    { "block-height", AOX_OPT_INT, "0",
      "block height recorded in every new assignment",
      0, INT64_MAX, NULL, OFF(block_height) },
    { "clock-fixed-ms", AOX_OPT_INT, "-1",
      "testing: use this fixed timestamp (ms) for every assignment; -1 = real clock",
      -1, INT64_MAX, NULL, OFF(clock_fixed_ms) },
    { "max-body", AOX_OPT_SIZE, "16MiB",
      "largest HTTP request body accepted (larger: 413)",
      1, 4 * GiB, NULL, OFF(max_body) },
    { "max-fuel", AOX_OPT_UINT, "0",
      "node maximum fuel per message for any process (0 = no maximum)",
      0, INT64_MAX, NULL, OFF(max_fuel) },
    { "max-memory", AOX_OPT_SIZE, "0",
      "node maximum guest memory per process (0 = no maximum)",
      0, INT64_MAX, NULL, OFF(max_memory) },
    { "max-wall", AOX_OPT_DURATION, "0",
      "node maximum wall time per message (0 = no maximum)",
      0, INT64_MAX, NULL, OFF(max_wall_ms) },
    { "max-result-bytes", AOX_OPT_SIZE, "0",
      "node maximum encoded result size per slot (0 = no maximum)",
      0, INT64_MAX, NULL, OFF(max_result_bytes) },
    { "max-message-bytes", AOX_OPT_SIZE, "0",
      "node maximum size of one scheduled message (0 = no maximum)",
      0, INT64_MAX, NULL, OFF(max_message_bytes) },
    { "live-states-max", AOX_OPT_UINT, "1024",
      "device states kept in memory (least recently used are snapshotted and dropped)",
      1, 100000000LL, NULL, OFF(live_states_max) },
    { "http-max-connections", AOX_OPT_UINT, "256",
      "concurrent HTTP connections (one thread each)",
      1, 65536, NULL, OFF(http_max_connections) },
    { "http-timeout", AOX_OPT_DURATION, "60s",
      "close HTTP connections idle this long (0 = never)",
      0, 86400000LL, NULL, OFF(http_timeout_ms) },
    { "schedule-page-max", AOX_OPT_UINT, "1000",
      "most assignments returned by one GET /<pid>/schedule",
      1, 1000000, NULL, OFF(schedule_page_max) },
    { "store-no-sync", AOX_OPT_BOOL, "false",
      "skip fsync on commit (unsafe: benchmarks only)",
      NORANGE, NULL, OFF(store_no_sync) },
    { "store-cache-max", AOX_OPT_SIZE, "1GiB",
      "cache: stores: key and value bytes kept in the local LMDB cache (least recently "
      "used dropped; 0 = no bound)",
      0, INT64_MAX, NULL, OFF(store_cache_max) },
    { "workers", AOX_OPT_UINT, "0",
      "worker pool threads running computations (0 = number of cores)",
      0, 1024, NULL, OFF(workers) },
    { "worker-queue", AOX_OPT_UINT, "64",
      "queued compute requests per process (more: 503 with Retry-After)",
      1, 1000000, NULL, OFF(worker_queue) },
    { "queue-max", AOX_OPT_UINT, "4096",
      "queued compute requests for all processes together (more: 503)",
      1, 100000000LL, NULL, OFF(queue_max) },
    { "readonly-queue", AOX_OPT_UINT, "256",
      "queued read-only requests, e.g. dry runs (more: 503)",
      1, 1000000, NULL, OFF(readonly_queue) },
    { "schedules-max", AOX_OPT_UINT, "1024",
      "schedule requests in flight (more: 503)",
      1, 1000000, NULL, OFF(schedules_max) },
    { "await-timeout", AOX_OPT_DURATION, "30s",
      "how long a request waits for its slot to be computed (then 504)",
      1, 86400000LL, NULL, OFF(await_timeout_ms) },
    { "worker-idle", AOX_OPT_DURATION, "5m",
      "snapshot and evict a worker idle this long (0 = never)",
      0, 86400000LL * 365, NULL, OFF(worker_idle_ms) },
    { "memory-budget", AOX_OPT_SIZE, "0",
      "memory for live states; over it the least recently used are evicted (0 = none)",
      0, INT64_MAX, NULL, OFF(memory_budget) },
    { "workers-max", AOX_OPT_UINT, "0",
      "live workers (0 = no maximum; at the maximum, idle ones are evicted, else 503)",
      0, 100000000LL, NULL, OFF(workers_max) },
    { "peers", AOX_OPT_STRING, "",
      "peer node URLs for delegated@1.0 compute, comma-separated (http://host:port,...)",
      NORANGE, NULL, OFF(peers) },
    { "delegate-timeout", AOX_OPT_DURATION, "10s",
      "timeout of one delegated-compute request to a peer",
      1, 3600000LL, NULL, OFF(delegate_timeout_ms) },
    { "delegate-peer-max", AOX_OPT_UINT, "100000",
      "as a delegation peer: imported assignments kept in memory (over it the least "
      "recently used processes are dropped)",
      1, 1000000000LL, NULL, OFF(delegate_peer_max) },
    { "sign-results", AOX_OPT_BOOL, "false",
      "sign results and assignments answered over HTTP with the node key",
      NORANGE, NULL, OFF(sign_results) },
    { "test-forge-results", AOX_OPT_ENUM, "off",
      "testing (needs AOX_TEST_HOOKS=1): as a delegation peer answer off, lie or tamper",
      NORANGE, forge_words, OFF(test_forge_results) },
    { "delegate", AOX_OPT_STRING, "",
      "node processes (config names, comma-separated) computed by --peers via delegated@1.0",
      NORANGE, NULL, OFF(delegate) },
    { "lease-ttl", AOX_OPT_DURATION, "10s",
      "cluster mode (redis store): process lease lifetime; renewed every third of it",
      100, 3600000LL, NULL, OFF(lease_ttl_ms) },
    { "advertise", AOX_OPT_STRING, "",
      "cluster mode: this node's URL for other nodes (empty = http://BIND:PORT)",
      NORANGE, NULL, OFF(advertise) },
};

#define NOPTS (sizeof opts / sizeof opts[0])
_Static_assert(NOPTS <= sizeof(((aox_node_config *)0)->source),
               "aox_node_config.source is too small for the option table");

size_t aox_node_opt_count(void) { return NOPTS; }
const aox_node_opt *aox_node_opt_at(size_t i) { return i < NOPTS ? &opts[i] : NULL; }

static int name_eq(const char *a, size_t an, const char *b)
{
    size_t i;
    for (i = 0; i < an; i++) {
        char x = a[i] == '_' ? '-' : (char)tolower((unsigned char)a[i]);
        if (b[i] == '\0' || x != b[i]) return 0;
    }
    return b[i] == '\0';
}

static const aox_node_opt *find_n(const char *name, size_t n)
{
    for (size_t i = 0; i < NOPTS; i++)
        if (name_eq(name, n, opts[i].name)) return &opts[i];
    return NULL;
}

const aox_node_opt *aox_node_opt_find(const char *name)
{
    return name ? find_n(name, strlen(name)) : NULL;
}

void aox_node_opt_env_name(const aox_node_opt *o, char out[64])
{
    size_t j = 0;
    memcpy(out, "AOX_", 4);
    j = 4;
    for (const char *p = o->name; *p && j < 63; p++)
        out[j++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
    out[j] = '\0';
}

const char *aox_opt_source_name(aox_opt_source s)
{
    switch (s) {
    case AOX_SRC_DEFAULT: return "default";
    case AOX_SRC_FILE:    return "file";
    case AOX_SRC_ENV:     return "env";
    case AOX_SRC_FLAG:    return "flag";
    }
    return "unknown";
}

/* ------------------------------------------------------------------------ */
/* Value parsing                                                            */
/* ------------------------------------------------------------------------ */

static void *field(aox_node_config *c, const aox_node_opt *o)
{
    return (char *)c + o->offset;
}

static const void *cfield(const aox_node_config *c, const aox_node_opt *o)
{
    return (const char *)c + o->offset;
}

/* Parses a decimal number with an optional unit suffix from units[] (matched
 * case-insensitively). Overflow and trailing junk are errors. */
typedef struct unit { const char *suffix; uint64_t mul; } unit;

static int parse_scaled(const char *s, const unit *units, int allow_neg, int64_t *out)
{
    const char *p = s;
    int neg = 0;
    uint64_t v = 0, mul = 1;
    int digits = 0;

    while (isspace((unsigned char)*p)) p++;
    if (*p == '-') {
        if (!allow_neg) return -1;
        neg = 1;
        p++;
    } else if (*p == '+') {
        p++;
    }
    for (; isdigit((unsigned char)*p); p++, digits++) {
        uint64_t d = (uint64_t)(*p - '0');
        if (v > (UINT64_MAX - d) / 10) return -1;
        v = v * 10 + d;
    }
    if (!digits) return -1;
    while (isspace((unsigned char)*p)) p++;
    if (*p) {
        const unit *u = units;
        size_t n = strlen(p);
        while (n > 0 && isspace((unsigned char)p[n - 1])) n--;
        for (; u && u->suffix; u++)
            if (strlen(u->suffix) == n && strncasecmp(p, u->suffix, n) == 0) break;
        if (!u || !u->suffix) return -1;
        mul = u->mul;
    }
    if (mul && v > (uint64_t)INT64_MAX / mul) return -1;
    v *= mul;
    *out = neg ? -(int64_t)v : (int64_t)v;
    return 0;
}

static const unit size_units[] = {
    { "b", 1 }, { "k", KiB }, { "kb", KiB }, { "kib", KiB },
    { "m", MiB }, { "mb", MiB }, { "mib", MiB },
    { "g", GiB }, { "gb", GiB }, { "gib", GiB },
    { "t", TiB }, { "tb", TiB }, { "tib", TiB }, { NULL, 0 }
};
static const unit dur_units[] = {
    { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "min", 60000 }, { "h", 3600000 },
    { NULL, 0 }
};

static int parse_bool(const char *s, int *out)
{
    static const char *const yes[] = { "1", "true", "yes", "on", NULL };
    static const char *const no[] = { "0", "false", "no", "off", NULL };
    for (int i = 0; yes[i]; i++) if (strcasecmp(s, yes[i]) == 0) { *out = 1; return 0; }
    for (int i = 0; no[i]; i++) if (strcasecmp(s, no[i]) == 0) { *out = 0; return 0; }
    return -1;
}

static const char *type_hint(const aox_node_opt *o)
{
    switch (o->type) {
    case AOX_OPT_INT: return "an integer";
    case AOX_OPT_UINT: return "a non-negative integer";
    case AOX_OPT_SIZE: return "a size (e.g. 512, 64K, 16MiB)";
    case AOX_OPT_BOOL: return "true or false";
    case AOX_OPT_STRING: return "a string";
    case AOX_OPT_ENUM: return "one of the listed words";
    case AOX_OPT_DURATION: return "a duration (e.g. 250ms, 30s, 5m)";
    }
    return "a value";
}

int aox_node_config_set(aox_node_config *c, const aox_node_opt *o, const char *value,
                        aox_opt_source src, aox_err *err)
{
    int64_t v = 0;
    size_t idx = (size_t)(o - opts);

    if (!value) return aox_err_set(err, AOX_E_INVALID, "%s: missing value", o->name);
    switch (o->type) {
    case AOX_OPT_STRING: {
        char *copy = strdup(value);
        char **slot = field(c, o);
        if (!copy) return aox_err_set(err, AOX_E_NOMEM, "out of memory");
        free(*slot);
        *slot = copy;
        goto done;
    }
    case AOX_OPT_BOOL: {
        int b;
        if (parse_bool(value, &b) != 0) goto bad;
        *(int *)field(c, o) = b;
        goto done;
    }
    case AOX_OPT_ENUM:
        for (size_t i = 0; o->words[i]; i++) {
            if (strcasecmp(value, o->words[i]) == 0) {
                *(int64_t *)field(c, o) = (int64_t)i;
                goto done;
            }
        }
        {
            char list[256] = "";
            for (size_t i = 0; o->words[i]; i++) {
                strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
                strncat(list, o->words[i], sizeof list - strlen(list) - 1);
            }
            return aox_err_set(err, AOX_E_INVALID, "%s: '%s' is not one of: %s",
                               o->name, value, list);
        }
    case AOX_OPT_INT:
        if (parse_scaled(value, NULL, 1, &v) != 0) goto bad;
        break;
    case AOX_OPT_UINT:
        if (parse_scaled(value, NULL, 0, &v) != 0) goto bad;
        break;
    case AOX_OPT_SIZE:
        if (parse_scaled(value, size_units, 0, &v) != 0) goto bad;
        break;
    case AOX_OPT_DURATION:
        if (parse_scaled(value, dur_units, 0, &v) != 0) goto bad;
        break;
    }
    if (o->min <= o->max && (v < o->min || v > o->max))
        return aox_err_set(err, AOX_E_INVALID, "%s: %s is out of range %lld..%lld",
                           o->name, value, (long long)o->min, (long long)o->max);
    if (o->type == AOX_OPT_INT)
        *(int64_t *)field(c, o) = v;
    else
        *(uint64_t *)field(c, o) = (uint64_t)v;
done:
    c->source[idx] = (unsigned char)src;
    return AOX_OK;
bad:
    return aox_err_set(err, AOX_E_INVALID, "%s: '%s' is not %s", o->name, value,
                       type_hint(o));
}

/* ------------------------------------------------------------------------ */
/* Init / free                                                              */
/* ------------------------------------------------------------------------ */

int aox_node_config_init(aox_node_config *c)
{
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < NOPTS; i++) {
        aox_err e;
        /* The defaults are part of the code: a bad one is a bug caught by tests. */
        if (aox_node_config_set(c, &opts[i], opts[i].def, AOX_SRC_DEFAULT, &e) != 0) {
            aox_node_config_free(c);
            return e.code ? e.code : AOX_E_INTERNAL;
        }
    }
    return AOX_OK;
}

void aox_node_config_free(aox_node_config *c)
{
    if (!c) return;
    for (size_t i = 0; i < NOPTS; i++) {
        if (opts[i].type == AOX_OPT_STRING) {
            char **slot = field(c, &opts[i]);
            free(*slot);
            *slot = NULL;
        }
    }
    aox_buf_free(&c->warnings);
}

static void warn(aox_node_config *c, const char *fmt, const char *a, int line)
{
    if (c->warnings.len) aox_buf_append_str(&c->warnings, "\n");
    aox_buf_printf(&c->warnings, fmt, a, line);
}

/* ------------------------------------------------------------------------ */
/* Sources                                                                  */
/* ------------------------------------------------------------------------ */

static char *trim(char *s)
{
    char *e;
    while (isspace((unsigned char)*s)) s++;
    e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) *--e = '\0';
    return s;
}

static int load_file(aox_node_config *c, const char *path, aox_err *err)
{
    FILE *f = fopen(path, "r");
    char line[4096];
    int lineno = 0, rc = AOX_OK;
    char section[128] = "";

    if (!f)
        return aox_err_set(err, AOX_E_CONFIG, "config file %s: %s", path, strerror(errno));
    while (fgets(line, sizeof line, f)) {
        char *s, *eq, *key, *val;
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {
            rc = aox_err_set(err, AOX_E_CONFIG, "%s:%d: line too long", path, lineno);
            goto out;
        }
        s = trim(line);
        if (*s == '\0' || *s == '#' || *s == ';') continue;
        if (*s == '[') {
            char *end = strchr(s, ']');
            if (!end || end[1] != '\0') {
                rc = aox_err_set(err, AOX_E_CONFIG, "%s:%d: malformed section header",
                                 path, lineno);
                goto out;
            }
            *end = '\0';
            snprintf(section, sizeof section, "%s", trim(s + 1));
            /* [processes.NAME] define node processes: read by node/names.c */
            if (strncmp(section, "processes.", 10) != 0)
                warn(c, "config: unknown section [%s] (line %d) ignored", section, lineno);
            continue;
        }
        if (section[0]) continue;     /* inside an ignored section */
        eq = strchr(s, '=');
        if (!eq) {
            rc = aox_err_set(err, AOX_E_CONFIG, "%s:%d: expected `name = value`",
                             path, lineno);
            goto out;
        }
        *eq = '\0';
        key = trim(s);
        val = trim(eq + 1);
        if (*val == '"') {
            size_t n = strlen(val);
            if (n < 2 || val[n - 1] != '"') {
                rc = aox_err_set(err, AOX_E_CONFIG, "%s:%d: unterminated quote",
                                 path, lineno);
                goto out;
            }
            val[n - 1] = '\0';
            val++;
        }
        {
            const aox_node_opt *o = aox_node_opt_find(key);
            aox_err e;
            if (!o) {
                rc = aox_err_set(err, AOX_E_CONFIG, "%s:%d: unknown option '%s'",
                                 path, lineno, key);
                goto out;
            }
            if (o->offset == OFF(config)) {
                rc = aox_err_set(err, AOX_E_CONFIG,
                                 "%s:%d: 'config' cannot be set in a config file",
                                 path, lineno);
                goto out;
            }
            if (aox_node_config_set(c, o, val, AOX_SRC_FILE, &e) != 0) {
                rc = aox_err_set(err, AOX_E_CONFIG, "%s:%d: %s", path, lineno, e.msg);
                goto out;
            }
        }
    }
    if (ferror(f)) rc = aox_err_set(err, AOX_E_IO, "config file %s: read error", path);
out:
    fclose(f);
    return rc;
}

static const char *env_lookup(char **envp, const char *name)
{
    size_t n = strlen(name);
    for (char **e = envp; e && *e; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=') return *e + n + 1;
    return NULL;
}

/* Flag values found on the command line, by option index (last one wins). */
typedef struct flagvals { const char *v[sizeof(((aox_node_config *)0)->source)]; } flagvals;

static int scan_flags(int argc, char **argv, flagvals *fv, aox_err *err)
{
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *name, *eq, *val = NULL;
        const aox_node_opt *o;
        size_t n;
        int negated = 0;

        if (strncmp(a, "--", 2) != 0 || a[2] == '\0')
            return aox_err_set(err, AOX_E_INVALID, "unexpected argument '%s'", a);
        name = a + 2;
        eq = strchr(name, '=');
        n = eq ? (size_t)(eq - name) : strlen(name);
        o = find_n(name, n);
        if (!o && n > 3 && strncmp(name, "no-", 3) == 0) {
            o = find_n(name + 3, n - 3);
            if (o && o->type == AOX_OPT_BOOL && !eq) negated = 1;
            else o = NULL;
        }
        if (!o)
            return aox_err_set(err, AOX_E_INVALID, "unknown option '--%.*s'", (int)n, name);
        if (negated) val = "false";
        else if (eq) val = eq + 1;
        else if (o->type == AOX_OPT_BOOL) val = "true";
        else if (i + 1 < argc) val = argv[++i];
        else return aox_err_set(err, AOX_E_INVALID, "option '--%s' needs a value", o->name);
        fv->v[o - opts] = val;
    }
    return AOX_OK;
}

int aox_node_config_load(aox_node_config *c, int argc, char **argv, char **envp,
                         aox_err *err)
{
    flagvals fv;
    int rc;
    const aox_node_opt *cfg = &opts[0];

    memset(&fv, 0, sizeof fv);
    if (!envp) envp = environ;
    rc = scan_flags(argc, argv, &fv, err);
    if (rc) return rc;

    /* 1. config file: named by flag, else by environment */
    for (size_t i = 0; i < NOPTS; i++)
        if (opts[i].offset == OFF(config)) cfg = &opts[i];
    {
        char env[64];
        const char *path = fv.v[cfg - opts];
        aox_opt_source src = AOX_SRC_FLAG;
        aox_node_opt_env_name(cfg, env);
        if (!path) { path = env_lookup(envp, env); src = AOX_SRC_ENV; }
        if (path && *path) {
            rc = aox_node_config_set(c, cfg, path, src, err);
            if (rc) return rc;
            rc = load_file(c, path, err);
            if (rc) return rc;
        }
    }
    /* 2. environment */
    for (size_t i = 0; i < NOPTS; i++) {
        char env[64];
        const char *v;
        aox_err e;
        if (&opts[i] == cfg) continue;
        aox_node_opt_env_name(&opts[i], env);
        v = env_lookup(envp, env);
        if (!v) continue;
        if (aox_node_config_set(c, &opts[i], v, AOX_SRC_ENV, &e) != 0)
            return aox_err_set(err, e.code, "environment %s: %s", env, e.msg);
    }
    /* 3. flags */
    for (size_t i = 0; i < NOPTS; i++) {
        aox_err e;
        if (!fv.v[i] || &opts[i] == cfg) continue;
        if (aox_node_config_set(c, &opts[i], fv.v[i], AOX_SRC_FLAG, &e) != 0)
            return aox_err_set(err, e.code, "--%s", e.msg);
    }
    return AOX_OK;
}

/* ------------------------------------------------------------------------ */
/* Views: text, JSON, help, Markdown                                        */
/* ------------------------------------------------------------------------ */

int aox_node_config_format(const aox_node_config *c, const aox_node_opt *o, aox_buf *out)
{
    switch (o->type) {
    case AOX_OPT_STRING: {
        const char *s = *(char *const *)cfield(c, o);
        return aox_buf_append_str(out, s ? s : "");
    }
    case AOX_OPT_BOOL:
        return aox_buf_append_str(out, *(const int *)cfield(c, o) ? "true" : "false");
    case AOX_OPT_ENUM:
        return aox_buf_append_str(out, o->words[*(const int64_t *)cfield(c, o)]);
    case AOX_OPT_INT:
        return aox_buf_printf(out, "%lld", (long long)*(const int64_t *)cfield(c, o));
    case AOX_OPT_UINT:
    case AOX_OPT_SIZE:
        return aox_buf_printf(out, "%llu",
                              (unsigned long long)*(const uint64_t *)cfield(c, o));
    case AOX_OPT_DURATION:
        return aox_buf_printf(out, "%llums",
                              (unsigned long long)*(const uint64_t *)cfield(c, o));
    }
    return AOX_E_INTERNAL;
}

static json_t *opt_json(const aox_node_config *c, const aox_node_opt *o)
{
    switch (o->type) {
    case AOX_OPT_STRING: {
        const char *s = *(char *const *)cfield(c, o);
        return json_string(s ? s : "");
    }
    case AOX_OPT_BOOL:
        return json_boolean(*(const int *)cfield(c, o));
    case AOX_OPT_ENUM:
        return json_string(o->words[*(const int64_t *)cfield(c, o)]);
    case AOX_OPT_INT:
        return json_integer((json_int_t)*(const int64_t *)cfield(c, o));
    case AOX_OPT_UINT:
    case AOX_OPT_SIZE:
    case AOX_OPT_DURATION:
        /* All ranges in the table fit in int64. */
        return json_integer((json_int_t)*(const uint64_t *)cfield(c, o));
    }
    return NULL;
}

json_t *aox_node_config_to_json(const aox_node_config *c, int sources)
{
    json_t *obj = json_object();
    if (!obj) return NULL;
    for (size_t i = 0; i < NOPTS; i++) {
        json_t *v = opt_json(c, &opts[i]);
        if (v && sources) {
            json_t *w = json_pack("{s:o,s:s}", "value", v, "source",
                                  aox_opt_source_name((aox_opt_source)c->source[i]));
            v = w;
        }
        if (!v || json_object_set_new(obj, opts[i].name, v) != 0) {
            json_decref(obj);
            return NULL;
        }
    }
    return obj;
}

static const char *type_word(const aox_node_opt *o)
{
    switch (o->type) {
    case AOX_OPT_INT: return "int";
    case AOX_OPT_UINT: return "uint";
    case AOX_OPT_SIZE: return "size";
    case AOX_OPT_BOOL: return "bool";
    case AOX_OPT_STRING: return "string";
    case AOX_OPT_ENUM: return "enum";
    case AOX_OPT_DURATION: return "duration";
    }
    return "?";
}

static int arg_word(const aox_node_opt *o, char *buf, size_t n)
{
    switch (o->type) {
    case AOX_OPT_BOOL: buf[0] = '\0'; break;
    case AOX_OPT_SIZE: snprintf(buf, n, " BYTES"); break;
    case AOX_OPT_DURATION: snprintf(buf, n, " DURATION"); break;
    case AOX_OPT_STRING:
        snprintf(buf, n, " %s", o->offset == OFF(data) ? "DIR" :
                 o->offset == OFF(config) ? "FILE" :
                 o->offset == OFF(bind) ? "ADDR" : "STRING");
        break;
    case AOX_OPT_ENUM: snprintf(buf, n, " WORD"); break;
    default: snprintf(buf, n, " N"); break;
    }
    return 0;
}

int aox_node_config_help(aox_buf *out)
{
    int rc = 0;
    for (size_t i = 0; i < NOPTS && rc == 0; i++) {
        const aox_node_opt *o = &opts[i];
        char env[64], arg[32], flag[96];
        aox_node_opt_env_name(o, env);
        arg_word(o, arg, sizeof arg);
        snprintf(flag, sizeof flag, "--%s%s", o->name, arg);
        rc = aox_buf_printf(out, "  %-32s %s\n  %-32s env %s, default: %s\n",
                            flag, o->doc, "", env, *o->def ? o->def : "(empty)");
    }
    return rc;
}

int aox_node_config_markdown(aox_buf *out)
{
    int rc = aox_buf_append_str(out,
        "| flag | type | default | environment | meaning |\n"
        "|------|------|---------|-------------|---------|\n");
    for (size_t i = 0; i < NOPTS && rc == 0; i++) {
        const aox_node_opt *o = &opts[i];
        char env[64];
        aox_node_opt_env_name(o, env);
        rc = aox_buf_printf(out, "| `--%s` | %s | %s%s%s | `%s` | %s |\n", o->name,
                            type_word(o), *o->def ? "`" : "", *o->def ? o->def : "(empty)",
                            *o->def ? "`" : "", env, o->doc);
    }
    return rc;
}
