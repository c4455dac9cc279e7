/*
 * store/store_redis.c: the shared backend ("redis://host:port[/db][?timeout_ms=N]"),
 * the store of a cluster of aox nodes (DESIGN.md §2). hiredis 0.14, synchronous.
 *
 * Redis has no ordered keyspace, so every logical key K lives in two places:
 *
 *   value    "aox:v:{TAG}" K        STRING, the value
 *   index    "aox:x:{TAG}" G        ZSET (all scores 0), member = K without G
 *   groups   "aox:groups"           ZSET (all scores 0), member = every G ever written
 *                                   (but the root)
 *
 * G, the *group* of K, is the "directory" a scan usually stays in:
 *
 *   K = "proc/<pid>/<rest>"   ->  G = "proc/<pid>/"    TAG = <pid>
 *   K = "<first>/<rest>"      ->  G = "<first>/"       TAG = "<first>/"
 *   K without '/'             ->  G = "" (the root)    TAG = "~"
 *
 * so every key of one process (and its index) shares the hash tag {<pid>}, i.e. one
 * Redis Cluster slot. A TAG that contains '{' or '}' is written in hex so the slot
 * is always computed from the whole tag. Members of one index sort bytewise
 * (ZRANGEBYLEX compares with memcmp), so a scan inside one group is a paged
 * ZRANGEBYLEX (16 members first, doubling up to 256) plus one MGET per page (same
 * slot). A scan whose prefix is not inside one group (e.g. "" or "proc/") merges the
 * groups that can hold matching keys: the first component's group (or the root)
 * plus the registered groups that start with the prefix (ZRANGEBYLEX on
 * aox:groups). seek_le fetches one member per group per round trip.
 *
 * Leases (store.h): "aox:l:{TAG}" NAME holds "<token>:<owner>" with PX expiry, and
 * "aox:c:{TAG}" NAME is the lease's token counter (INCR, never deleted), where TAG
 * is the tag of NAME + "/" — so the lease "proc/<pid>" lives in the process's slot
 * and a fenced batch of that process's keys touches one slot only.
 *
 * Redis Cluster ("?cluster=1"): host:port is any node. open reads the slot map
 * (CLUSTER SLOTS: slot -> server, every slot must be served) and checks the
 * durability settings on every server that serves slots. Each command goes to the
 * server of its first key's slot, on that server's own connection pool; a MOVED
 * answer updates that slot and marks the map for a reload (CLUSTER SLOTS) before
 * the next command, ASK sends ASKING + the command to the named server once,
 * TRYAGAIN is retried (see routed()). A connection error also marks the map stale
 * (a failover may have promoted a replica). The groups registration (pre) and the
 * command are then two round trips, in that order. Database 0 only.
 *
 * Cluster slots: no command names keys of two hash slots (what a Redis Cluster
 * refuses with CROSSSLOT). run2 checks every multi-key command (EVAL KEYS, MGET)
 * before sending it and refuses a cross-slot one with AOX_E_INTERNAL. A batch whose
 * keys fall in several slots is split into one EVAL per slot: first the slots of
 * content-addressed groups (page/, module/, data/: written once, same bytes, so
 * writing them early is harmless), then the others in order of first appearance,
 * the fence's slot last. A batch is therefore atomic per slot (per process), not
 * across processes; a fenced batch may only add content-addressed keys outside the
 * fence's slot (others: AOX_E_INVALID), and those are written before the fence is
 * checked.
 *
 * Atomicity: every write (put, del, batch, cas, lease op) is one EVAL of a script
 * below (one per slot for a batch that spans slots, see above). Redis runs a script without interleaving, and refuses a script that would
 * exceed maxmemory before its first write, never half-way; the scripts only issue
 * commands that cannot fail on keys of the right type. The effects reach the AOF as
 * one MULTI/EXEC block, and a block cut short by a crash is dropped at load
 * (aof-load-truncated), so a batch is all-or-nothing after a restart as well.
 * The groups a write puts keys in are registered by a "ZADD aox:groups" pipelined
 * just before the script (same connection, so it is applied first). It is outside
 * the script so that a script only touches the keys of its batch: a batch within
 * one process (plus its lease) is one slot. Registration is idempotent and never
 * undone: a group whose keys were all deleted stays registered (an empty index
 * costs a scan one empty ZRANGEBYLEX), and removing it could race with a writer
 * that has registered it but not yet written.
 *
 * Durability: acknowledged = fsync'd only with "appendonly yes" and "appendfsync
 * always" (Redis fsyncs the AOF before it sends the replies of an event-loop turn).
 * open checks both with CONFIG GET and refuses a server without them
 * (AOX_E_CONFIG) unless opts->no_sync, and always refuses a maxmemory-policy other
 * than noeviction; a server that forbids CONFIG is accepted unchecked.
 *
 * Connections: a mutex-guarded pool of idle connections; a call takes one (or
 * connects), so threads never share a connection. Any connection error frees that
 * connection and every idle one (after a server restart they are all dead) and
 * returns AOX_E_IO; calls whose repetition is harmless (get, put, del, plain batch,
 * scan pages, lease_get) retry once on a fresh connection, the others (cas, fenced
 * batch, lease acquire/renew/release) report AOX_E_IO because their outcome is
 * unknown. Connect and command timeouts: timeout_ms (default 5000).
 *
 * Scans are not snapshots: each page is read at its own moment; a key deleted
 * between the index read and the MGET is skipped.
 */
#include "store/store_int.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#define NS          "aox:"
#define GROUPS_KEY  NS "groups"
#define PAGE_FIRST  16           /* index members fetched by a scan's first round trip */
#define PAGE        256          /* ... doubling up to this many per round trip */
#define IDLE_MAX    32           /* idle connections kept in the pool */

#define NODES_MAX   64           /* cluster nodes known to one handle */
#define HOPS_MAX    8            /* MOVED/ASK/TRYAGAIN answers followed per command */

/* One server and its pool of idle connections. */
typedef struct rnode {
    char            host[256];
    int             port;
    redisContext   *idle[IDLE_MAX];
    int             nidle;
} rnode;

typedef struct redis_store {
    int             db;
    int             timeout_ms;
    int             cluster;     /* ?cluster=1: a Redis Cluster, commands routed by slot */
    pthread_mutex_t mu;          /* guards the pools, nodes/nnodes, slot_node, stale */
    rnode          *nodes[NODES_MAX];   /* [0] = the URI's server; never removed */
    int             nnodes;
    uint8_t         slot_node[16384];   /* cluster: hash slot -> nodes[] index */
    int             stale;       /* cluster: reload the slot map before the next command */
} redis_store;

/* ================================================================== scripts */

/* KEYS[1] lease key (fenced) or any key of the batch, then per op: value, index.
 * ARGV[1] token ("" = no fence), then per op: 'p'|'d', member, value. The groups
 * were registered just before (groups_cmd), outside the script, so that a batch of
 * one process's keys touches one slot only. */
static const char BATCH_LUA[] =
    "if ARGV[1] ~= '' then\n"
    "  local v = redis.call('GET', KEYS[1])\n"
    "  if not v or string.match(v, '^(%d+):') ~= ARGV[1] then return 0 end\n"
    "end\n"
    "for i = 0, (#KEYS - 1) / 2 - 1 do\n"
    "  local vk, ik = KEYS[2 + 2 * i], KEYS[3 + 2 * i]\n"
    "  if ARGV[2 + 3 * i] == 'p' then\n"
    "    redis.call('SET', vk, ARGV[4 + 3 * i])\n"
    "    redis.call('ZADD', ik, 0, ARGV[3 + 3 * i])\n"
    "  else\n"
    "    redis.call('DEL', vk)\n"
    "    redis.call('ZREM', ik, ARGV[3 + 3 * i])\n"
    "  end\n"
    "end\n"
    "return 1\n";

/* KEYS value, index. ARGV: expect flag ('0' absent, '1' value), expect, new flag
 * ('0' delete, '1' put), new, member. -> {1} or {0[, current]} */
static const char CAS_LUA[] =
    "local cur = redis.call('GET', KEYS[1])\n"
    "if ARGV[1] == '0' then\n"
    "  if cur then return {0, cur} end\n"
    "elseif cur ~= ARGV[2] then\n"
    "  if cur then return {0, cur} end\n"
    "  return {0}\n"
    "end\n"
    "if ARGV[3] == '1' then\n"
    "  redis.call('SET', KEYS[1], ARGV[4])\n"
    "  redis.call('ZADD', KEYS[2], 0, ARGV[5])\n"
    "else\n"
    "  redis.call('DEL', KEYS[1])\n"
    "  redis.call('ZREM', KEYS[2], ARGV[5])\n"
    "end\n"
    "return {1}\n";

/* KEYS lease, counter. ARGV owner, ttl_ms. -> {1, token} or {0, token, owner} */
static const char ACQUIRE_LUA[] =
    "local v = redis.call('GET', KEYS[1])\n"
    "if v then\n"
    "  local t, o = string.match(v, '^(%d+):(.*)$')\n"
    "  if o ~= ARGV[1] then return {0, t, o} end\n"
    "end\n"
    "local t = string.format('%d', redis.call('INCR', KEYS[2]))\n"
    "redis.call('SET', KEYS[1], t .. ':' .. ARGV[1], 'PX', ARGV[2])\n"
    "return {1, t}\n";

/* KEYS lease. ARGV token, ttl_ms. -> 1 or 0 */
static const char RENEW_LUA[] =
    "local v = redis.call('GET', KEYS[1])\n"
    "if v and string.match(v, '^(%d+):') == ARGV[1] then\n"
    "  redis.call('PEXPIRE', KEYS[1], ARGV[2])\n"
    "  return 1\n"
    "end\n"
    "return 0\n";

static const char RELEASE_LUA[] =
    "local v = redis.call('GET', KEYS[1])\n"
    "if v and string.match(v, '^(%d+):') == ARGV[1] then\n"
    "  redis.call('DEL', KEYS[1])\n"
    "  return 1\n"
    "end\n"
    "return 0\n";

/* KEYS lease. -> {} or {token, owner, pttl} */
static const char LEASE_GET_LUA[] =
    "local v = redis.call('GET', KEYS[1])\n"
    "if not v then return {} end\n"
    "local t, o = string.match(v, '^(%d+):(.*)$')\n"
    "return {t, o, redis.call('PTTL', KEYS[1])}\n";

/* ================================================================== key mapping */

/* Length of the group of k (a prefix of k; 0 = the root group). */
static size_t group_len(const uint8_t *k, size_t kl)
{
    const uint8_t *sl;
    if (kl > 5 && memcmp(k, "proc/", 5) == 0) {
        sl = memchr(k + 5, '/', kl - 5);
        if (sl && sl > k + 5)
            return (size_t)(sl - k) + 1;
    }
    sl = memchr(k, '/', kl);
    return sl ? (size_t)(sl - k) + 1 : 0;
}

/* Appends "{TAG}" of group g. */
static int tag_append(aox_buf *b, const uint8_t *g, size_t gl)
{
    const uint8_t *t = g;
    size_t tl = gl;
    int rc;
    if (gl == 0) {
        t = (const uint8_t *)"~";
        tl = 1;
    } else if (gl > 6 && memcmp(g, "proc/", 5) == 0) {
        t = g + 5;                      /* the pid */
        tl = gl - 6;
    }
    if ((rc = aox_buf_append_u8(b, '{')))
        return rc;
    if (memchr(t, '{', tl) || memchr(t, '}', tl)) {
        static const char hx[] = "0123456789abcdef";
        for (size_t i = 0; i < tl; i++)
            if ((rc = aox_buf_append_u8(b, (uint8_t)hx[t[i] >> 4])) ||
                (rc = aox_buf_append_u8(b, (uint8_t)hx[t[i] & 15])))
                return rc;
    } else if ((rc = aox_buf_append(b, t, tl))) {
        return rc;
    }
    return aox_buf_append_u8(b, '}');
}

/* "aox:<kind>:{TAG}" + rest, appended. */
static int phys_key(aox_buf *b, char kind, const uint8_t *g, size_t gl,
                    const uint8_t *rest, size_t rl)
{
    int rc;
    char head[8] = NS "?:";
    head[4] = kind;
    if ((rc = aox_buf_append(b, head, 6)) || (rc = tag_append(b, g, gl)) ||
        (rc = aox_buf_append(b, rest, rl)))
        return rc;
    return AOX_OK;
}

/* ================================================================== slots */

static unsigned crc16(const uint8_t *p, size_t n)
{
    unsigned crc = 0;
    for (size_t i = 0; i < n; i++) {
        crc ^= (unsigned)p[i] << 8;
        for (int b = 0; b < 8; b++)
            crc = (crc & 0x8000) ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    }
    return crc;
}

unsigned aox_store_redis_key_slot(const void *key, size_t n)
{
    const uint8_t *k = key, *open = memchr(k, '{', n);
    if (open) {
        size_t off = (size_t)(open - k) + 1;
        const uint8_t *close = memchr(k + off, '}', n - off);
        if (close && close > k + off)
            return crc16(k + off, (size_t)(close - (k + off))) & 16383;
    }
    return crc16(k, n) & 16383;
}

static _Atomic unsigned long long slot_multi, slot_cross, redir_moved, redir_ask;

void aox_store_redis_redirect_stats(unsigned long long *moved, unsigned long long *ask)
{
    if (moved)
        *moved = redir_moved;
    if (ask)
        *ask = redir_ask;
}

void aox_store_redis_slot_stats(unsigned long long *multi_key, unsigned long long *cross_slot)
{
    if (multi_key)
        *multi_key = slot_multi;
    if (cross_slot)
        *cross_slot = slot_cross;
}

/* Slot of logical key k (the slot of its physical keys). */
static unsigned op_slot(const uint8_t *k, size_t kl)
{
    aox_buf b = { 0 };
    unsigned slot;
    size_t gl = group_len(k, kl);
    if (tag_append(&b, k, gl) != 0) {         /* out of memory: any slot will do, */
        aox_buf_free(&b);                     /* the command build fails anyway */
        return 0;
    }
    slot = aox_store_redis_key_slot(b.data, b.len);
    aox_buf_free(&b);
    return slot;
}

/* Keys written once with the same bytes (content-addressed or immutable by ID). */
static int content_addressed(const uint8_t *k, size_t kl)
{
    return (kl > 5 && memcmp(k, "page/", 5) == 0) || (kl > 7 && memcmp(k, "module/", 7) == 0)
           || (kl > 5 && memcmp(k, "data/", 5) == 0);
}

/* ================================================================== commands */

/* An argument list; arguments are copied into an arena (kept as offsets, since the
 * arena moves as it grows) or referenced in place (ext, e.g. batch values). */
typedef struct cmd {
    aox_buf      arena;
    const char **ext;
    size_t      *off, *len;
    size_t       n, cap;
    int          failed;
} cmd;

static void cmd_free(cmd *c)
{
    aox_buf_free(&c->arena);
    free(c->ext);
    free(c->off);
    free(c->len);
    memset(c, 0, sizeof *c);
}

static int cmd_slot(cmd *c)
{
    if (c->failed)
        return -1;
    if (c->n == c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 16;
        const char **e = realloc(c->ext, nc * sizeof *e);
        if (e)
            c->ext = e;
        size_t *o = realloc(c->off, nc * sizeof *o);
        if (o)
            c->off = o;
        size_t *l = realloc(c->len, nc * sizeof *l);
        if (l)
            c->len = l;
        if (!e || !o || !l) {
            c->failed = AOX_E_NOMEM;
            return -1;
        }
        c->cap = nc;
    }
    return 0;
}

/* Starts an arena argument; append its bytes to c->arena, then cmd_end(). */
static void cmd_start(cmd *c)
{
    if (cmd_slot(c))
        return;
    c->ext[c->n] = NULL;
    c->off[c->n] = c->arena.len;
}

static void cmd_end(cmd *c, int rc)
{
    if (rc && !c->failed)
        c->failed = rc;
    if (c->failed)
        return;
    c->len[c->n] = c->arena.len - c->off[c->n];
    c->n++;
}

static void cmd_arg(cmd *c, const void *p, size_t n)
{
    cmd_start(c);
    if (!c->failed)
        cmd_end(c, aox_buf_append(&c->arena, p ? p : "", n));
}

static void cmd_str(cmd *c, const char *s)
{
    cmd_arg(c, s, strlen(s));
}

static void cmd_u64(cmd *c, uint64_t v)
{
    char t[24];
    snprintf(t, sizeof t, "%llu", (unsigned long long)v);
    cmd_str(c, t);
}

/* An argument used in place: p must outlive the command. */
static void cmd_ext(cmd *c, const void *p, size_t n)
{
    if (cmd_slot(c))
        return;
    c->ext[c->n] = p ? p : "";
    c->off[c->n] = 0;
    c->len[c->n] = n;
    c->n++;
}

static void cmd_phys(cmd *c, char kind, const uint8_t *g, size_t gl,
                     const uint8_t *rest, size_t rl)
{
    cmd_start(c);
    if (!c->failed)
        cmd_end(c, phys_key(&c->arena, kind, g, gl, rest, rl));
}

/* ================================================================== connections */

/* hiredis writes with write(2): a write to a connection the server dropped would
 * raise SIGPIPE and kill the process. Block it in this thread around each exchange
 * and discard one that became pending, so a dead server is an AOX_E_IO. */
static void sigpipe_block(sigset_t *old)
{
    sigset_t p;
    sigemptyset(&p);
    sigaddset(&p, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &p, old);
}

static void sigpipe_restore(const sigset_t *old)
{
    sigset_t p, pend;
    if (sigismember(old, SIGPIPE))
        return;                         /* the caller blocks it already */
    sigemptyset(&p);
    sigaddset(&p, SIGPIPE);
    if (sigpending(&pend) == 0 && sigismember(&pend, SIGPIPE)) {
        struct timespec zero = { 0, 0 };
        sigtimedwait(&p, NULL, &zero);
    }
    pthread_sigmask(SIG_SETMASK, old, NULL);
}

static int io_fail(aox_err *err, const rnode *nd, const char *what, const char *why)
{
    return aox_err_set(err, AOX_E_IO, "redis %s:%d: %s: %s", nd->host, nd->port, what, why);
}

static int conn_open(redis_store *r, rnode *nd, redisContext **out, aox_err *err)
{
    struct timeval tv = { r->timeout_ms / 1000, (r->timeout_ms % 1000) * 1000 };
    redisContext *c = redisConnectWithTimeout(nd->host, nd->port, tv);
    int rc = AOX_OK;
    *out = NULL;
    if (!c)
        return aox_err_set(err, AOX_E_NOMEM, "redis: out of memory");
    if (c->err) {
        rc = io_fail(err, nd, "connect", c->errstr);
        goto fail;
    }
    if (redisSetTimeout(c, tv) != REDIS_OK) {
        rc = io_fail(err, nd, "set timeout", c->errstr);
        goto fail;
    }
    if (r->db) {
        sigset_t old;
        sigpipe_block(&old);
        redisReply *rep = redisCommand(c, "SELECT %d", r->db);
        sigpipe_restore(&old);
        if (!rep || rep->type == REDIS_REPLY_ERROR) {
            rc = rep ? aox_err_set(err, AOX_E_CONFIG, "redis: SELECT %d: %s", r->db, rep->str)
                     : io_fail(err, nd, "SELECT", c->errstr);
            if (rep)
                freeReplyObject(rep);
            goto fail;
        }
        freeReplyObject(rep);
    }
    *out = c;
    return AOX_OK;
fail:
    redisFree(c);
    return rc;
}

static int conn_take(redis_store *r, rnode *nd, redisContext **out, aox_err *err)
{
    pthread_mutex_lock(&r->mu);
    *out = nd->nidle ? nd->idle[--nd->nidle] : NULL;
    pthread_mutex_unlock(&r->mu);
    if (*out)
        return AOX_OK;
    return conn_open(r, nd, out, err);
}

/* ok: back to the pool. !ok: the connection broke; drop it and every idle one of
 * that server (and, in a cluster, reload the slot map: a failover may follow). */
static void conn_give(redis_store *r, rnode *nd, redisContext *c, int ok)
{
    redisContext *drop[IDLE_MAX + 1];
    int n = 0;
    pthread_mutex_lock(&r->mu);
    if (ok && nd->nidle < IDLE_MAX) {
        nd->idle[nd->nidle++] = c;
        c = NULL;
    } else if (!ok) {
        while (nd->nidle)
            drop[n++] = nd->idle[--nd->nidle];
        if (r->cluster)
            r->stale = 1;
    }
    pthread_mutex_unlock(&r->mu);
    if (c)
        redisFree(c);
    for (int i = 0; i < n; i++)
        redisFree(drop[i]);
}

/* The index of server host:port in r->nodes, added when new; -1 when the table is
 * full. */
static int node_index(redis_store *r, const char *host, size_t hl, int port)
{
    int i;
    if (hl == 0 || hl >= sizeof r->nodes[0]->host)
        return -1;
    pthread_mutex_lock(&r->mu);
    for (i = 0; i < r->nnodes; i++)
        if (r->nodes[i]->port == port && strlen(r->nodes[i]->host) == hl &&
            memcmp(r->nodes[i]->host, host, hl) == 0)
            break;
    if (i == r->nnodes) {
        rnode *nd = i < NODES_MAX ? calloc(1, sizeof *nd) : NULL;
        if (!nd) {
            i = -1;
        } else {
            memcpy(nd->host, host, hl);
            nd->host[hl] = 0;
            nd->port = port;
            r->nodes[r->nnodes++] = nd;
        }
    }
    pthread_mutex_unlock(&r->mu);
    return i;
}

/* Sends the k commands argv[j] (argc[j] arguments of lens[j] bytes) pipelined on one
 * connection to nd and returns their replies in rep[] (error replies included).
 * retry: once more on a fresh connection after a connection error. */
static int exchange(redis_store *r, rnode *nd, int k, const char **const *argv,
                    const size_t *argc, const size_t *const *lens, int retry,
                    redisReply **rep, aox_err *err)
{
    for (int attempt = 0;; attempt++) {
        redisContext *ctx;
        sigset_t old;
        int ok = 1, timed_out = 0, rc;
        for (int j = 0; j < k; j++)
            rep[j] = NULL;
        if ((rc = conn_take(r, nd, &ctx, err)))
            return rc;
        sigpipe_block(&old);
        for (int j = 0; j < k && ok; j++)
            if (redisAppendCommandArgv(ctx, (int)argc[j], argv[j], lens[j]) != REDIS_OK)
                ok = 0;
        for (int j = 0; j < k && ok; j++) {
            void *rp = NULL;
            if (redisGetReply(ctx, &rp) != REDIS_OK)
                ok = 0;
            rep[j] = rp;
        }
        if (!ok)
            timed_out = ctx->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK);
        sigpipe_restore(&old);
        if (ok) {
            conn_give(r, nd, ctx, 1);
            return AOX_OK;
        }
        for (int j = 0; j < k; j++) {
            if (rep[j])
                freeReplyObject(rep[j]);
            rep[j] = NULL;
        }
        rc = io_fail(err, nd, timed_out ? "command timed out" : "connection lost",
                     ctx->errstr);
        conn_give(r, nd, ctx, 0);
        if (retry && attempt == 0)
            continue;
        if (!retry && err) {
            char why[AOX_ERR_MSG_MAX];
            snprintf(why, sizeof why, "%s", err->msg);
            aox_err_set(err, AOX_E_IO, "%s (the outcome of the write is unknown)", why);
        }
        return rc;
    }
}

/* Reloads the slot map of a cluster from CLUSTER SLOTS, asking the known servers in
 * turn. AOX_E_CONFIG when the answer leaves a slot unserved. */
static int refresh_slots(redis_store *r, aox_err *err)
{
    static const char *const av[2] = { "CLUSTER", "SLOTS" };
    static const size_t al[2] = { 7, 5 };
    const char **avp = (const char **)av;
    const size_t *alp = al;
    size_t ac = 2;
    uint8_t *map = malloc(16384);
    unsigned char *seen = calloc(16384, 1);
    int rc = AOX_E_IO, n;

    if (!map || !seen) {
        free(map);
        free(seen);
        return aox_err_set(err, AOX_E_NOMEM, "redis: out of memory");
    }
    pthread_mutex_lock(&r->mu);
    n = r->nnodes;
    pthread_mutex_unlock(&r->mu);
    for (int i = 0; i < n && rc == AOX_E_IO; i++) {
        rnode *nd;
        redisReply *rep = NULL;
        pthread_mutex_lock(&r->mu);
        nd = r->nodes[i];
        pthread_mutex_unlock(&r->mu);
        if ((rc = exchange(r, nd, 1, &avp, &ac, &alp, 1, &rep, err)))
            continue;
        if (rep->type != REDIS_REPLY_ARRAY) {
            rc = aox_err_set(err, AOX_E_CONFIG, "redis %s:%d: CLUSTER SLOTS: %.*s "
                             "(not a cluster?)", nd->host, nd->port,
                             rep->type == REDIS_REPLY_ERROR ? (int)rep->len : 0,
                             rep->type == REDIS_REPLY_ERROR ? rep->str : "");
            freeReplyObject(rep);
            break;
        }
        memset(seen, 0, 16384);
        for (size_t e = 0; e < rep->elements && rc == AOX_OK; e++) {
            redisReply *x = rep->element[e], *m;
            long long lo, hi;
            int idx;
            if (x->type != REDIS_REPLY_ARRAY || x->elements < 3 ||
                x->element[0]->type != REDIS_REPLY_INTEGER ||
                x->element[1]->type != REDIS_REPLY_INTEGER ||
                (m = x->element[2])->type != REDIS_REPLY_ARRAY || m->elements < 2 ||
                m->element[0]->type != REDIS_REPLY_STRING ||
                m->element[1]->type != REDIS_REPLY_INTEGER) {
                rc = aox_err_set(err, AOX_E_CORRUPT, "redis: unexpected CLUSTER SLOTS reply");
                break;
            }
            lo = x->element[0]->integer;
            hi = x->element[1]->integer;
            if (lo < 0 || hi > 16383 || lo > hi) {
                rc = aox_err_set(err, AOX_E_CORRUPT, "redis: CLUSTER SLOTS range %lld-%lld",
                                 lo, hi);
                break;
            }
            /* an empty host: the server we asked */
            if (m->element[0]->len)
                idx = node_index(r, m->element[0]->str, m->element[0]->len,
                                 (int)m->element[1]->integer);
            else
                idx = node_index(r, nd->host, strlen(nd->host), (int)m->element[1]->integer);
            if (idx < 0) {
                rc = aox_err_set(err, AOX_E_CONFIG, "redis: more than %d cluster nodes",
                                 NODES_MAX);
                break;
            }
            for (long long sl = lo; sl <= hi; sl++) {
                map[sl] = (uint8_t)idx;
                seen[sl] = 1;
            }
        }
        freeReplyObject(rep);
        for (int sl = 0; sl < 16384 && rc == AOX_OK; sl++)
            if (!seen[sl])
                rc = aox_err_set(err, AOX_E_CONFIG, "redis cluster: slot %d is not served "
                                 "by any node", sl);
    }
    if (rc == AOX_OK) {
        pthread_mutex_lock(&r->mu);
        memcpy(r->slot_node, map, 16384);
        r->stale = 0;
        pthread_mutex_unlock(&r->mu);
    }
    free(map);
    free(seen);
    return rc;
}

/* The slot a command is about: its first key (EVAL: KEYS[1]); -1 for none. */
static int cmd_key_slot(size_t n, const char *const *argv, const size_t *len)
{
    if (n >= 4 && len[0] == 4 && memcmp(argv[0], "EVAL", 4) == 0)
        return len[2] == 1 && argv[2][0] == '0' ? -1
                                                : (int)aox_store_redis_key_slot(argv[3], len[3]);
    if (n >= 2 && len[0] == 6 && memcmp(argv[0], "CONFIG", 6) == 0)
        return -1;
    if (n >= 2)
        return (int)aox_store_redis_key_slot(argv[1], len[1]);
    return -1;
}

/* "MOVED|ASK <slot> <host>:<port>": 1 MOVED, 2 ASK, 0 other. */
static int redirect_of(const redisReply *x, int *slot, const char **host, size_t *hl,
                       int *port)
{
    const char *p, *colon;
    int kind;
    char *end;
    if (x->type != REDIS_REPLY_ERROR)
        return 0;
    if (strncmp(x->str, "MOVED ", 6) == 0) {
        kind = 1;
        p = x->str + 6;
    } else if (strncmp(x->str, "ASK ", 4) == 0) {
        kind = 2;
        p = x->str + 4;
    } else {
        return 0;
    }
    long sl = strtol(p, &end, 10);
    if (end == p || *end != ' ' || sl < 0 || sl > 16383)
        return 0;
    p = end + 1;
    colon = strrchr(p, ':');
    if (!colon || colon == p)
        return 0;
    long pt = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || pt <= 0 || pt > 65535)
        return 0;
    *slot = (int)sl;
    *host = p;
    *hl = (size_t)(colon - p);
    *port = (int)pt;
    return kind;
}

/* One command to the server of its slot, following MOVED (the slot map is updated
 * and reloaded before the next command), ASK (ASKING + the command, once) and
 * TRYAGAIN (a multi-key command during a slot migration: retried after 20 ms). A
 * redirection means the command was not executed, so it is safe to resend. A
 * multi-key command creating keys in a slot being migrated gets TRYAGAIN until the
 * migration ends: retried every 20 ms for up to 2 s, then AOX_E_IO. */
static int routed(redis_store *r, const char **argv, size_t argc, const size_t *lens,
                  int retry, redisReply **out, aox_err *err)
{
    static const char *const asking[1] = { "ASKING" };
    static const size_t asking_len[1] = { 6 };
    int slot = cmd_key_slot(argc, argv, lens), ask = -1, rc, tries = 0;
    rnode *nd;

    *out = NULL;
    pthread_mutex_lock(&r->mu);
    int stale = r->stale;
    pthread_mutex_unlock(&r->mu);
    if (stale)
        (void)refresh_slots(r, NULL);    /* on failure: the old map, then redirections */
    for (int hop = 0; hop < HOPS_MAX; hop++) {
        const char **av[2];
        size_t ac[2];
        const size_t *ln[2];
        redisReply *rep[2] = { NULL, NULL };
        int k = 0, s, port, kind;
        const char *host;
        size_t hl;
        pthread_mutex_lock(&r->mu);
        nd = r->nodes[ask >= 0 ? ask : slot >= 0 ? r->slot_node[slot] : 0];
        pthread_mutex_unlock(&r->mu);
        if (ask >= 0) {
            av[k] = (const char **)asking;
            ac[k] = 1;
            ln[k] = asking_len;
            k++;
        }
        av[k] = argv;
        ac[k] = argc;
        ln[k] = lens;
        k++;
        if ((rc = exchange(r, nd, k, (const char **const *)av, ac,
                           (const size_t *const *)ln, retry, rep, err)))
            return rc;
        if (k == 2)
            freeReplyObject(rep[0]);
        redisReply *x = rep[k - 1];
        ask = -1;
        kind = redirect_of(x, &s, &host, &hl, &port);
        if (kind) {
            int idx = node_index(r, host, hl, port);
            freeReplyObject(x);
            if (idx < 0)
                return aox_err_set(err, AOX_E_IO, "redis: more than %d cluster nodes",
                                   NODES_MAX);
            if (kind == 1) {
                redir_moved++;
                pthread_mutex_lock(&r->mu);
                r->slot_node[s] = (uint8_t)idx;
                r->stale = 1;
                pthread_mutex_unlock(&r->mu);
            } else {
                redir_ask++;
                ask = idx;
            }
            continue;
        }
        if (x->type == REDIS_REPLY_ERROR && strncmp(x->str, "TRYAGAIN", 8) == 0
            && tries++ < 100) {          /* a slot migration: up to 2 s, from the start */
            struct timespec ts = { 0, 20 * 1000000L };
            freeReplyObject(x);
            nanosleep(&ts, NULL);
            hop = -1;
            continue;
        }
        *out = x;
        return AOX_OK;
    }
    return aox_err_set(err, AOX_E_IO, "redis: more than %d cluster redirections for one "
                       "command", HOPS_MAX);
}

/* Sends pre (if non-NULL: an idempotent registration, its reply is only checked for
 * errors) and c in one round trip on one connection, and returns c's reply.
 * retry: the exchange may safely run twice (see the file comment). An error reply
 * is returned as AOX_E_IO with its text. */
/* 1 when the keys of command argv (EVAL's KEYS, MGET's arguments) are in one slot;
 * counts multi-key commands and refusals. */
static int one_slot(size_t n, const char *const *argv, const size_t *len)
{
    size_t first = 0, count = 0;
    if (n >= 3 && len[0] == 4 && memcmp(argv[0], "EVAL", 4) == 0) {
        char num[24];
        size_t l = len[2] < sizeof num - 1 ? len[2] : sizeof num - 1;
        memcpy(num, argv[2], l);
        num[l] = '\0';
        first = 3;
        count = (size_t)strtoull(num, NULL, 10);
        if (count > n - 3)
            count = n - 3;
    } else if (n >= 2 && len[0] == 4 && memcmp(argv[0], "MGET", 4) == 0) {
        first = 1;
        count = n - 1;
    }
    if (count < 2)
        return 1;
    slot_multi++;
    unsigned slot = aox_store_redis_key_slot(argv[first], len[first]);
    for (size_t i = first + 1; i < first + count; i++)
        if (aox_store_redis_key_slot(argv[i], len[i]) != slot) {
            slot_cross++;
            return 0;
        }
    return 1;
}

static int run2(redis_store *r, cmd *pre, cmd *c, int retry, redisReply **out,
                aox_err *err)
{
    cmd *cs[2] = { pre, c };
    const char **argv[2] = { NULL, NULL };
    int rc = AOX_OK;
    *out = NULL;
    for (int j = 0; j < 2; j++) {
        if (!cs[j])
            continue;
        if (cs[j]->failed) {
            rc = aox_err_set(err, cs[j]->failed, "redis: building a command: %s",
                             aox_code_name(cs[j]->failed));
            goto done;
        }
        argv[j] = malloc((cs[j]->n ? cs[j]->n : 1) * sizeof *argv[j]);
        if (!argv[j]) {
            rc = aox_err_set(err, AOX_E_NOMEM, "redis: out of memory");
            goto done;
        }
        for (size_t i = 0; i < cs[j]->n; i++)
            argv[j][i] = cs[j]->ext[i] ? cs[j]->ext[i]
                                       : (const char *)cs[j]->arena.data + cs[j]->off[i];
        if (!one_slot(cs[j]->n, argv[j], cs[j]->len)) {
            rc = aox_err_set(err, AOX_E_INTERNAL, "redis: a command names keys of several "
                             "hash slots (not sent)");
            goto done;
        }
    }
    {
        redisReply *rep[2] = { NULL, NULL };
        if (!r->cluster) {         /* one server: both on one connection, one round trip */
            const char **av[2];
            size_t ac[2];
            const size_t *ln[2];
            int k = 0;
            for (int j = 0; j < 2; j++) {
                if (!cs[j])
                    continue;
                av[k] = argv[j];
                ac[k] = cs[j]->n;
                ln[k] = cs[j]->len;
                k++;
            }
            if ((rc = exchange(r, r->nodes[0], k, (const char **const *)av, ac,
                               (const size_t *const *)ln, retry, rep + (pre ? 0 : 1), err)))
                goto done;
        } else {                   /* a cluster: each to the server of its slot, in order */
            if (pre && (rc = routed(r, argv[0], pre->n, pre->len, 1, &rep[0], err)))
                goto done;
            if (rep[0] && rep[0]->type == REDIS_REPLY_ERROR) {   /* not registered: */
                rc = aox_err_set(err, AOX_E_IO, "redis: %.*s", (int)rep[0]->len,
                                 rep[0]->str);                   /* do not write */
                freeReplyObject(rep[0]);
                goto done;
            }
            if ((rc = routed(r, argv[1], c->n, c->len, retry, &rep[1], err))) {
                if (rep[0])
                    freeReplyObject(rep[0]);
                goto done;
            }
        }
        for (int j = 0; j < 2; j++) {
            if (rep[j] && rep[j]->type == REDIS_REPLY_ERROR && !rc)
                rc = aox_err_set(err, AOX_E_IO, "redis: %.*s", (int)rep[j]->len,
                                 rep[j]->str);
        }
        if (rep[0])
            freeReplyObject(rep[0]);
        if (rc)
            freeReplyObject(rep[1]);
        else
            *out = rep[1];
    }
done:
    free(argv[0]);
    free(argv[1]);
    return rc;
}

static int run(redis_store *r, cmd *c, int retry, redisReply **out, aox_err *err)
{
    return run2(r, NULL, c, retry, out, err);
}

/* The registration of the groups of keys ops[0..n) that are written: "ZADD
 * aox:groups 0 G ...", or nothing (pre->n == 0) when every such key is in the root. */
static void groups_cmd(cmd *pre, const aox_store_op *ops, size_t n)
{
    size_t first = pre->n;
    for (size_t i = 0; i < n; i++) {
        size_t gl = group_len(ops[i].k, ops[i].kl);
        int seen = 0;
        if (ops[i].del || gl == 0)
            continue;
        /* compare with the groups already listed (few: usually one or two) */
        for (size_t j = first + 3; j < pre->n && !seen; j += 2)
            seen = pre->len[j] == gl && memcmp(pre->ext[j], ops[i].k, gl) == 0;
        if (seen)
            continue;
        if (pre->n == first) {
            cmd_str(pre, "ZADD");
            cmd_str(pre, GROUPS_KEY);
        }
        cmd_str(pre, "0");
        cmd_ext(pre, ops[i].k, gl);
    }
}

/* ================================================================== get/put/del */

static int rd_get(void *impl, const uint8_t *k, size_t kl, aox_buf *out)
{
    redis_store *r = impl;
    cmd c = { 0 };
    redisReply *rep = NULL;
    size_t gl = group_len(k, kl);
    cmd_str(&c, "GET");
    cmd_phys(&c, 'v', k, gl, k, kl);
    int rc = run(r, &c, 1, &rep, NULL);
    if (rc)
        goto done;
    if (rep->type == REDIS_REPLY_NIL)
        rc = AOX_E_NOT_FOUND;
    else if (rep->type != REDIS_REPLY_STRING)
        rc = AOX_E_CORRUPT;
    else if ((rc = aox_buf_append(out, rep->str, rep->len)) == 0 && !out->data)
        rc = aox_buf_reserve(out, 1);   /* empty value: data must be non-NULL */
done:
    if (rep)
        freeReplyObject(rep);
    cmd_free(&c);
    return rc;
}

/* One EVAL of BATCH_LUA over ops of one slot. fence == NULL: unconditional. */
static int batch_eval(redis_store *r, const aox_store_op *ops, size_t n,
                      const char *fence, uint64_t token, aox_err *err)
{
    cmd c = { 0 };
    redisReply *rep = NULL;
    int rc;
    cmd pre = { 0 };
    cmd_str(&c, "EVAL");
    cmd_str(&c, BATCH_LUA);
    cmd_u64(&c, 1 + 2 * (uint64_t)n);
    if (fence) {
        aox_buf nm = { 0 };
        size_t fl = strlen(fence);
        rc = aox_buf_append(&nm, fence, fl);
        if (!rc)
            rc = aox_buf_append_u8(&nm, '/');
        if (!rc)
            cmd_phys(&c, 'l', nm.data, group_len(nm.data, nm.len),
                     (const uint8_t *)fence, fl);
        aox_buf_free(&nm);
        if (rc) {
            rc = aox_err_set(err, rc, "redis: out of memory");
            goto done;
        }
    } else {
        /* a key of the batch, so that every key of the script is in its slots */
        size_t gl = group_len(ops[0].k, ops[0].kl);
        cmd_phys(&c, 'v', ops[0].k, gl, ops[0].k, ops[0].kl);
    }
    for (size_t i = 0; i < n; i++) {
        size_t gl = group_len(ops[i].k, ops[i].kl);
        cmd_phys(&c, 'v', ops[i].k, gl, ops[i].k, ops[i].kl);
        cmd_phys(&c, 'x', ops[i].k, gl, ops[i].k, gl);
    }
    if (fence)
        cmd_u64(&c, token);
    else
        cmd_arg(&c, "", 0);
    for (size_t i = 0; i < n; i++) {
        size_t gl = group_len(ops[i].k, ops[i].kl);
        cmd_str(&c, ops[i].del ? "d" : "p");
        cmd_ext(&c, ops[i].k + gl, ops[i].kl - gl);
        cmd_ext(&c, ops[i].v, ops[i].del ? 0 : ops[i].vl);
    }
    groups_cmd(&pre, ops, n);
    if ((rc = run2(r, pre.n ? &pre : NULL, &c, fence == NULL, &rep, err)))
        goto done;
    if (rep->type != REDIS_REPLY_INTEGER) {
        rc = aox_err_set(err, AOX_E_CORRUPT, "redis: unexpected batch reply");
    } else if (rep->integer != 1) {
        rc = aox_err_set(err, AOX_E_CONFLICT,
                         "store: lease '%s' is not held with token %llu; batch not applied",
                         fence ? fence : "?", (unsigned long long)token);
    }
done:
    if (rep)
        freeReplyObject(rep);
    cmd_free(&pre);
    cmd_free(&c);
    return rc;
}

/* A batch: one EVAL when its keys (and the fence's lease) share a slot, else one per
 * slot (see the file comment). */
static int rd_batch_fenced(void *impl, const aox_store_op *ops, size_t n,
                           const char *fence, uint64_t token, aox_err *err)
{
    redis_store *r = impl;
    unsigned *slots = NULL, *order = NULL, fslot;
    aox_store_op *sub = NULL;
    size_t no = 0;
    int rc = AOX_OK, split = 0;

    if (n == 0)
        return fence ? batch_eval(r, ops, n, fence, token, err) : AOX_OK;
    slots = malloc(n * sizeof *slots);
    if (!slots)
        return aox_err_set(err, AOX_E_NOMEM, "redis: out of memory");
    for (size_t i = 0; i < n; i++)
        slots[i] = op_slot(ops[i].k, ops[i].kl);
    if (fence) {
        aox_buf nm = { 0 };
        rc = aox_buf_append(&nm, fence, strlen(fence));
        if (!rc)
            rc = aox_buf_append_u8(&nm, '/');
        fslot = rc ? 0 : op_slot(nm.data, nm.len);
        aox_buf_free(&nm);
        if (rc) {
            rc = aox_err_set(err, rc, "redis: out of memory");
            goto done;
        }
    } else {
        fslot = slots[0];
    }
    for (size_t i = 0; i < n; i++) {
        if (slots[i] == fslot)
            continue;
        split = 1;
        if (fence && !content_addressed(ops[i].k, ops[i].kl)) {
            rc = aox_err_set(err, AOX_E_INVALID, "redis: a fenced batch writes '%.*s', "
                             "outside the hash slot of lease '%s' (only page/, module/ and "
                             "data/ keys may be added)", (int)(ops[i].kl > 80 ? 80 : ops[i].kl),
                             (const char *)ops[i].k, fence);
            goto done;
        }
    }
    if (!split) {
        rc = batch_eval(r, ops, n, fence, token, err);
        goto done;
    }
    sub = malloc(n * sizeof *sub);
    order = malloc((n + 1) * sizeof *order);
    if (!sub || !order) {
        rc = aox_err_set(err, AOX_E_NOMEM, "redis: out of memory");
        goto done;
    }
    /* the slots in writing order: content-addressed first, then the others (first
     * appearance), the fence's slot last (even with no op: the fence is checked) */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < n; i++) {
            size_t j = 0;
            if ((fence && slots[i] == fslot) || content_addressed(ops[i].k, ops[i].kl) != !pass)
                continue;
            while (j < no && order[j] != slots[i])
                j++;
            if (j == no)
                order[no++] = slots[i];
        }
    }
    if (fence)
        order[no++] = fslot;
    for (size_t o = 0; o < no && !rc; o++) {
        size_t m = 0;
        for (size_t j = 0; j < n; j++)
            if (slots[j] == order[o])
                sub[m++] = ops[j];
        rc = batch_eval(r, sub, m, fence && order[o] == fslot ? fence : NULL, token, err);
    }
done:
    free(order);
    free(sub);
    free(slots);
    return rc;
}

static int rd_batch(void *impl, const aox_store_op *ops, size_t n, aox_err *err)
{
    return rd_batch_fenced(impl, ops, n, NULL, 0, err);
}

static int rd_put(void *impl, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
    aox_store_op op = { 0, k, kl, v, vl };
    return rd_batch(impl, &op, 1, NULL);
}

static int rd_del(void *impl, const uint8_t *k, size_t kl)
{
    aox_store_op op = { 1, k, kl, NULL, 0 };
    return rd_batch(impl, &op, 1, NULL);
}

static int rd_cas(void *impl, const uint8_t *k, size_t kl, const uint8_t *expect,
                  size_t el, const uint8_t *v, size_t vl, aox_buf *cur)
{
    redis_store *r = impl;
    cmd c = { 0 }, pre = { 0 };
    redisReply *rep = NULL;
    size_t gl = group_len(k, kl);
    int rc;
    if (cur)
        aox_buf_reset(cur);
    cmd_str(&c, "EVAL");
    cmd_str(&c, CAS_LUA);
    cmd_str(&c, "2");
    cmd_phys(&c, 'v', k, gl, k, kl);
    cmd_phys(&c, 'x', k, gl, k, gl);
    cmd_str(&c, expect ? "1" : "0");
    cmd_ext(&c, expect, el);
    cmd_str(&c, v ? "1" : "0");
    cmd_ext(&c, v, vl);
    cmd_ext(&c, k + gl, kl - gl);
    aox_store_op op = { v == NULL, k, kl, v, vl };
    groups_cmd(&pre, &op, 1);
    if ((rc = run2(r, pre.n ? &pre : NULL, &c, 0, &rep, NULL)))
        goto done;
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 1 ||
        rep->element[0]->type != REDIS_REPLY_INTEGER) {
        rc = AOX_E_CORRUPT;
    } else if (rep->element[0]->integer != 1) {
        rc = AOX_E_CONFLICT;
        if (cur && rep->elements > 1 && rep->element[1]->type == REDIS_REPLY_STRING) {
            int arc = aox_buf_append(cur, rep->element[1]->str, rep->element[1]->len);
            if (arc)
                rc = arc;
        }
    }
done:
    if (rep)
        freeReplyObject(rep);
    cmd_free(&pre);
    cmd_free(&c);
    return rc;
}

/* ================================================================== scans */

/* One group's cursor: a page of (member, value) pairs read ahead. */
typedef struct gcur {
    aox_buf     g;               /* the group prefix */
    aox_buf     lo, hi;          /* ZRANGEBYLEX bounds ("-", "+", "[m", "(m") */
    redisReply *mem, *val;       /* current page: members, MGET values */
    size_t      pos;
    size_t      lim;             /* members to fetch next round trip */
    int         done;            /* no more pages after this one */
    aox_buf     key;             /* full key of the head entry (valid if has_head) */
    int         has_head;
} gcur;

static void gcur_free(gcur *c)
{
    aox_buf_free(&c->g);
    aox_buf_free(&c->lo);
    aox_buf_free(&c->hi);
    aox_buf_free(&c->key);
    if (c->mem)
        freeReplyObject(c->mem);
    if (c->val)
        freeReplyObject(c->val);
}

static int bound_set(aox_buf *b, char kind, const uint8_t *m, size_t ml)
{
    aox_buf_reset(b);
    int rc = aox_buf_append_u8(b, (uint8_t)kind);
    if (!rc && (kind == '[' || kind == '('))
        rc = aox_buf_append(b, m, ml);
    return rc;
}

/* Sets the bounds of cursor c (group g) for keys starting with p, from start s
 * (NULL: none; s begins with p). Returns 1 when the group holds no candidate. */
static int gcur_bounds(gcur *c, const uint8_t *p, size_t pl, const uint8_t *s,
                       size_t sl, int reverse, int *rc)
{
    const uint8_t *g = c->g.data;
    size_t gl = c->g.len;
    uint8_t succ[AOX_STORE_KEY_MAX];
    *rc = 0;
    /* the prefix bounds, in member space */
    if (pl > gl) {
        size_t ql = aox_store_prefix_succ(p + gl, pl - gl, succ);
        if ((*rc = bound_set(&c->lo, '[', p + gl, pl - gl)) ||
            (*rc = ql ? bound_set(&c->hi, '(', succ, ql) : bound_set(&c->hi, '+', 0, 0)))
            return 1;
    } else if ((*rc = bound_set(&c->lo, '-', 0, 0)) || (*rc = bound_set(&c->hi, '+', 0, 0))) {
        return 1;
    }
    if (!s)
        return 0;
    if (aox_store_has_prefix(s, sl, g, gl)) {
        *rc = bound_set(reverse ? &c->hi : &c->lo, '[', s + gl, sl - gl);
        return *rc != 0;
    }
    /* s is outside the group's range: every key of g is above s or below it */
    int below = aox_store_key_cmp(s, sl, g, gl) < 0;
    return reverse ? below : !below;
}

/* Reads the next page of c. */
static int gcur_fetch(redis_store *r, gcur *c, int reverse)
{
    cmd q = { 0 };
    int rc;
    if (c->mem)
        freeReplyObject(c->mem);
    if (c->val)
        freeReplyObject(c->val);
    c->mem = c->val = NULL;
    c->pos = 0;
    c->has_head = 0;
    if (c->done)
        return AOX_OK;
    cmd_str(&q, reverse ? "ZREVRANGEBYLEX" : "ZRANGEBYLEX");
    cmd_phys(&q, 'x', c->g.data, c->g.len, c->g.data, c->g.len);
    if (reverse) {
        cmd_arg(&q, c->hi.data, c->hi.len);
        cmd_arg(&q, c->lo.data, c->lo.len);
    } else {
        cmd_arg(&q, c->lo.data, c->lo.len);
        cmd_arg(&q, c->hi.data, c->hi.len);
    }
    size_t lim = c->lim;
    c->lim = lim * 2 < PAGE ? lim * 2 : PAGE;
    cmd_str(&q, "LIMIT");
    cmd_str(&q, "0");
    cmd_u64(&q, lim);
    rc = run(r, &q, 1, &c->mem, NULL);
    cmd_free(&q);
    if (rc)
        return rc;
    if (c->mem->type != REDIS_REPLY_ARRAY)
        return AOX_E_CORRUPT;
    size_t n = c->mem->elements;
    if (n < lim)
        c->done = 1;
    if (n == 0)
        return AOX_OK;
    /* the next page starts after the last member of this one */
    redisReply *last = c->mem->element[n - 1];
    if ((rc = bound_set(reverse ? &c->hi : &c->lo, '(', (const uint8_t *)last->str,
                        last->len)))
        return rc;
    cmd_str(&q, "MGET");
    for (size_t i = 0; i < n; i++) {
        redisReply *m = c->mem->element[i];
        if (m->type != REDIS_REPLY_STRING) {
            cmd_free(&q);
            return AOX_E_CORRUPT;
        }
        cmd_start(&q);
        if (!q.failed) {
            int arc = phys_key(&q.arena, 'v', c->g.data, c->g.len, c->g.data, c->g.len);
            if (!arc)
                arc = aox_buf_append(&q.arena, m->str, m->len);
            cmd_end(&q, arc);
        }
    }
    rc = run(r, &q, 1, &c->val, NULL);
    cmd_free(&q);
    if (rc)
        return rc;
    if (c->val->type != REDIS_REPLY_ARRAY || c->val->elements != n)
        return AOX_E_CORRUPT;
    return AOX_OK;
}

/* Moves c to its next live entry (skipping keys deleted since the index read). */
static int gcur_advance(redis_store *r, gcur *c, int reverse)
{
    int rc;
    for (;;) {
        if (!c->mem || c->pos >= c->mem->elements) {
            if (c->done && c->mem) {
                c->has_head = 0;
                return AOX_OK;
            }
            if ((rc = gcur_fetch(r, c, reverse)))
                return rc;
            if (!c->mem || c->mem->elements == 0) {
                c->has_head = 0;
                return AOX_OK;
            }
        }
        size_t i = c->pos;
        if (c->val->element[i]->type == REDIS_REPLY_STRING) {
            redisReply *m = c->mem->element[i];
            aox_buf_reset(&c->key);
            if ((rc = aox_buf_append(&c->key, c->g.data, c->g.len)) ||
                (rc = aox_buf_append(&c->key, m->str, m->len)))
                return rc;
            c->has_head = 1;
            return AOX_OK;
        }
        c->pos++;
    }
}

/* Whether a registered group other than the prefix groups of p can start with p.
 * Groups are "c/" (one component) and "proc/<pid>/", so only a p that is a prefix
 * of "proc/" + something needs the registry: p without '/', "proc/", "proc/<pid>". */
static int need_registry(const uint8_t *p, size_t pl)
{
    const uint8_t *slash = pl ? memchr(p, '/', pl) : NULL;
    if (!slash)
        return 1;
    if ((size_t)(slash - p) != 4 || memcmp(p, "proc", 4) != 0)
        return 0;                       /* inside "c/": only "c/" itself */
    return group_len(p, pl) <= 5;       /* "proc/..." without a whole "<pid>/" yet */
}

/* Adds group g (if new) to the cursor list. */
static int add_group(gcur **cs, size_t *n, size_t *cap, const uint8_t *g, size_t gl)
{
    for (size_t i = 0; i < *n; i++)
        if ((*cs)[i].g.len == gl && (gl == 0 || memcmp((*cs)[i].g.data, g, gl) == 0))
            return AOX_OK;
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 4;
        gcur *nv = realloc(*cs, nc * sizeof *nv);
        if (!nv)
            return AOX_E_NOMEM;
        *cs = nv;
        *cap = nc;
    }
    gcur *c = &(*cs)[(*n)++];
    memset(c, 0, sizeof *c);
    return aox_buf_append(&c->g, g, gl);
}

/* A scan whose cursors fetch first_lim members in their first round trip. */
static int scan_lim(void *impl, const uint8_t *p, size_t pl, const uint8_t *s,
                    size_t sl, int reverse, aox_scan_fn fn, void *ud, size_t first_lim)
{
    redis_store *r = impl;
    gcur *cs = NULL;
    size_t n = 0, cap = 0;
    redisReply *groups = NULL;
    cmd q = { 0 };
    int rc = AOX_OK;

    /* the groups that can hold keys starting with p: inside a process directory only
     * that process's group; else the first component's group (or the root when p has
     * no '/') plus, if needed, the registered groups that start with p */
    const uint8_t *slash = pl ? memchr(p, '/', pl) : NULL;
    size_t gl = group_len(p, pl);
    if (gl > 6 && memcmp(p, "proc/", 5) == 0)
        rc = add_group(&cs, &n, &cap, p, gl);
    else
        rc = add_group(&cs, &n, &cap, p, slash ? (size_t)(slash - p) + 1 : 0);
    if (rc)
        goto done;
    /* registered groups that start with p */
    if (need_registry(p, pl)) {
        uint8_t succ[AOX_STORE_KEY_MAX];
        size_t ql = aox_store_prefix_succ(p, pl, succ);
        cmd_str(&q, "ZRANGEBYLEX");
        cmd_str(&q, GROUPS_KEY);
        cmd_start(&q);
        if (!q.failed) {
            int arc = aox_buf_append_u8(&q.arena, '[');
            if (!arc && pl)
                arc = aox_buf_append(&q.arena, p, pl);
            cmd_end(&q, arc);
        }
        cmd_start(&q);
        if (!q.failed) {
            int arc = ql ? aox_buf_append_u8(&q.arena, '(') : aox_buf_append_u8(&q.arena, '+');
            if (!arc && ql)
                arc = aox_buf_append(&q.arena, succ, ql);
            cmd_end(&q, arc);
        }
        if ((rc = run(r, &q, 1, &groups, NULL)))
            goto done;
        if (groups->type != REDIS_REPLY_ARRAY) {
            rc = AOX_E_CORRUPT;
            goto done;
        }
        for (size_t i = 0; i < groups->elements && !rc; i++)
            rc = add_group(&cs, &n, &cap, (const uint8_t *)groups->element[i]->str,
                           groups->element[i]->len);
        if (rc)
            goto done;
    }
    /* position every cursor */
    for (size_t i = 0; i < n; i++) {
        cs[i].lim = first_lim;
        if (gcur_bounds(&cs[i], p, pl, s, sl, reverse, &rc)) {
            if (rc)
                goto done;
            cs[i].done = 1;
            cs[i].has_head = 0;
            continue;
        }
        if ((rc = gcur_advance(r, &cs[i], reverse)))
            goto done;
    }
    /* merge: repeatedly take the smallest (largest) head */
    for (;;) {
        gcur *best = NULL;
        for (size_t i = 0; i < n; i++) {
            if (!cs[i].has_head)
                continue;
            if (!best) {
                best = &cs[i];
                continue;
            }
            int c = aox_store_key_cmp(cs[i].key.data, cs[i].key.len, best->key.data,
                                      best->key.len);
            if (reverse ? c > 0 : c < 0)
                best = &cs[i];
        }
        if (!best)
            break;
        redisReply *v = best->val->element[best->pos];
        rc = fn(ud, best->key.data, best->key.len, (const uint8_t *)(v->str ? v->str : ""),
                v->len);
        if (rc)
            goto done;
        best->pos++;
        if ((rc = gcur_advance(r, best, reverse)))
            goto done;
    }
done:
    for (size_t i = 0; i < n; i++)
        gcur_free(&cs[i]);
    free(cs);
    if (groups)
        freeReplyObject(groups);
    cmd_free(&q);
    return rc;
}

static int rd_scan(void *impl, const uint8_t *p, size_t pl, const uint8_t *s,
                   size_t sl, int reverse, aox_scan_fn fn, void *ud)
{
    return scan_lim(impl, p, pl, s, sl, reverse, fn, ud, PAGE_FIRST);
}

typedef struct first_ctx {
    aox_buf *k, *v;
    int      rc, found;
} first_ctx;

static int take_first(void *ud, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
    first_ctx *c = ud;
    c->found = 1;
    if (c->k && (c->rc = aox_buf_append(c->k, k, kl)))
        return 1;
    if (c->v && (c->rc = aox_buf_append(c->v, v, vl)))
        return 1;
    return 1;
}

/* One member per group per round trip: the reverse scan stops at its first key, so
 * only one value (e.g. a snapshot manifest) is read. */
static int rd_seek_le(void *impl, const uint8_t *p, size_t pl, const uint8_t *bound,
                      size_t bl, aox_buf *key_out, aox_buf *val_out)
{
    first_ctx c = { key_out, val_out, AOX_OK, 0 };
    int rc = scan_lim(impl, p, pl, bound, bl, 1, take_first, &c, 1);
    if (rc != 0 && rc != 1)
        return rc;
    if (c.rc)
        return c.rc;
    return c.found ? AOX_OK : AOX_E_NOT_FOUND;
}

/* ================================================================== leases */

static void lease_keys(cmd *c, const char *name, int with_counter, int *rc)
{
    aox_buf nm = { 0 };
    size_t nl = strlen(name);
    *rc = aox_buf_append(&nm, name, nl);
    if (!*rc)
        *rc = aox_buf_append_u8(&nm, '/');
    if (!*rc) {
        size_t gl = group_len(nm.data, nm.len);
        cmd_phys(c, 'l', nm.data, gl, (const uint8_t *)name, nl);
        if (with_counter)
            cmd_phys(c, 'c', nm.data, gl, (const uint8_t *)name, nl);
    }
    aox_buf_free(&nm);
}

static uint64_t reply_u64(const redisReply *e)
{
    if (e->type == REDIS_REPLY_INTEGER)
        return (uint64_t)e->integer;
    if (e->type == REDIS_REPLY_STRING)
        return strtoull(e->str, NULL, 10);
    return 0;
}

static int rd_lease(void *impl, int op, const char *name, const char *owner,
                    uint64_t ttl_ms, uint64_t *token, aox_buf *owner_out,
                    uint64_t *ttl_left)
{
    redis_store *r = impl;
    cmd c = { 0 };
    redisReply *rep = NULL;
    int rc;
    cmd_str(&c, "EVAL");
    switch (op) {
    case AOX_LEASE_OP_ACQUIRE:
        cmd_str(&c, ACQUIRE_LUA);
        cmd_str(&c, "2");
        lease_keys(&c, name, 1, &rc);
        cmd_str(&c, owner);
        cmd_u64(&c, ttl_ms);
        break;
    case AOX_LEASE_OP_RENEW:
    case AOX_LEASE_OP_RELEASE:
        cmd_str(&c, op == AOX_LEASE_OP_RENEW ? RENEW_LUA : RELEASE_LUA);
        cmd_str(&c, "1");
        lease_keys(&c, name, 0, &rc);
        cmd_u64(&c, *token);
        cmd_u64(&c, ttl_ms);
        break;
    default:
        cmd_str(&c, LEASE_GET_LUA);
        cmd_str(&c, "1");
        lease_keys(&c, name, 0, &rc);
        break;
    }
    if (rc)
        goto done;
    if ((rc = run(r, &c, op == AOX_LEASE_OP_GET, &rep, NULL)))
        goto done;
    switch (op) {
    case AOX_LEASE_OP_ACQUIRE:
        if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 2) {
            rc = AOX_E_CORRUPT;
        } else if (rep->element[0]->integer == 1) {
            *token = reply_u64(rep->element[1]);
        } else {
            rc = AOX_E_CONFLICT;
        }
        break;
    case AOX_LEASE_OP_RENEW:
    case AOX_LEASE_OP_RELEASE:
        if (rep->type != REDIS_REPLY_INTEGER)
            rc = AOX_E_CORRUPT;
        else if (rep->integer != 1)
            rc = AOX_E_CONFLICT;
        break;
    default:
        if (rep->type != REDIS_REPLY_ARRAY) {
            rc = AOX_E_CORRUPT;
        } else if (rep->elements < 3) {
            rc = AOX_E_NOT_FOUND;
        } else {
            *token = reply_u64(rep->element[0]);
            int64_t left = rep->element[2]->type == REDIS_REPLY_INTEGER ?
                           rep->element[2]->integer : 0;
            *ttl_left = left > 0 ? (uint64_t)left : 0;
            if (owner_out && rep->element[1]->type == REDIS_REPLY_STRING)
                rc = aox_buf_append(owner_out, rep->element[1]->str, rep->element[1]->len);
        }
        break;
    }
done:
    if (rep)
        freeReplyObject(rep);
    cmd_free(&c);
    return rc;
}

/* ================================================================== open/close */

static void rd_close(void *impl)
{
    redis_store *r = impl;
    if (!r)
        return;
    for (int n = 0; n < r->nnodes; n++) {
        for (int i = 0; i < r->nodes[n]->nidle; i++)
            redisFree(r->nodes[n]->idle[i]);
        free(r->nodes[n]);
    }
    pthread_mutex_destroy(&r->mu);
    free(r);
}

static const aox_store_ops redis_ops = {
    .name = "redis",
    .get = rd_get,
    .put = rd_put,
    .del = rd_del,
    .batch = rd_batch,
    .scan = rd_scan,
    .seek_le = rd_seek_le,
    .cas = rd_cas,
    .close = rd_close,
    .lease = rd_lease,
    .batch_fenced = rd_batch_fenced,
};

/* "host:port[/db][?timeout_ms=N][&cluster=1]" (after "redis://"; the parameters in
 * any order). Adds the URI's server as nodes[0]. */
static int parse_uri(redis_store *r, const char *u, aox_err *err)
{
    const char *e = u + strcspn(u, ":/?");
    size_t hl = (size_t)(e - u);
    char *end;
    int port = 6379;
    if (hl == 0 || hl >= sizeof r->nodes[0]->host)
        return aox_err_set(err, AOX_E_CONFIG, "redis: bad host in URI");
    r->timeout_ms = 5000;
    if (*e == ':') {
        long pt = strtol(e + 1, &end, 10);
        if (end == e + 1 || pt <= 0 || pt > 65535)
            return aox_err_set(err, AOX_E_CONFIG, "redis: bad port in URI");
        port = (int)pt;
        e = end;
    }
    if (*e == '/' && e[1] && e[1] != '?') {
        long db = strtol(e + 1, &end, 10);
        if (end == e + 1 || db < 0 || db > 1000000)
            return aox_err_set(err, AOX_E_CONFIG, "redis: bad database number in URI");
        r->db = (int)db;
        e = end;
    } else if (*e == '/') {
        e++;
    }
    for (char sep = '?'; *e == sep; sep = '&') {
        if (strncmp(e + 1, "timeout_ms=", 11) == 0) {
            long t = strtol(e + 12, &end, 10);
            if (end == e + 12 || t <= 0 || t > 3600000 || (*end && *end != '&'))
                return aox_err_set(err, AOX_E_CONFIG, "redis: bad timeout_ms in URI");
            r->timeout_ms = (int)t;
            e = end;
        } else if (strncmp(e + 1, "cluster=", 8) == 0 && (e[9] == '0' || e[9] == '1')
                   && (!e[10] || e[10] == '&')) {
            r->cluster = e[9] == '1';
            e += 10;
        } else {
            break;
        }
    }
    if (*e)
        return aox_err_set(err, AOX_E_CONFIG, "redis: unexpected '%s' in URI", e);
    if (r->cluster && r->db)
        return aox_err_set(err, AOX_E_CONFIG, "redis: a cluster has database 0 only");
    if (node_index(r, u, hl, port) != 0)
        return aox_err_set(err, AOX_E_NOMEM, "redis: out of memory");
    return AOX_OK;
}

/* CONFIG GET name: 1 if the value equals want, 0 if not, -1 if CONFIG is refused. */
static int config_is(redisContext *c, const char *name, const char *want, int *io)
{
    redisReply *rep = redisCommand(c, "CONFIG GET %s", name);
    int res = -1;
    *io = rep == NULL;
    if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
        rep->element[1]->type == REDIS_REPLY_STRING)
        res = strcmp(rep->element[1]->str, want) == 0;
    if (rep)
        freeReplyObject(rep);
    return res;
}

int aox_store_redis_open(const char *rest, const aox_store_opts *o,
                         const aox_store_ops **ops, void **impl, aox_err *err)
{
    redis_store *r = calloc(1, sizeof *r);
    redisContext *c = NULL;
    sigset_t old;
    int rc;
    if (!r)
        return aox_err_set(err, AOX_E_NOMEM, "redis: out of memory");
    pthread_mutex_init(&r->mu, NULL);
    if ((rc = parse_uri(r, rest, err)))
        goto fail;
    if (r->cluster && (rc = refresh_slots(r, err)))
        goto fail;
    /* every server that serves slots (one without a cluster) has to be durable */
    for (int n = 0; n < (r->cluster ? r->nnodes : 1); n++) {
        rnode *nd = r->nodes[n];
        int io1 = 0, io2 = 0, io3 = 0, aof = 1, fs = 1, serves = !r->cluster;
        for (int sl = 0; sl < 16384 && !serves; sl++)
            serves = r->slot_node[sl] == n;
        if (!serves)
            continue;
        if ((rc = conn_take(r, nd, &c, err)))
            goto fail;
        sigpipe_block(&old);
        int ev = config_is(c, "maxmemory-policy", "noeviction", &io3);
        if (!o->no_sync) {
            aof = config_is(c, "appendonly", "yes", &io1);
            fs = config_is(c, "appendfsync", "always", &io2);
        }
        sigpipe_restore(&old);
        if (io1 || io2 || io3) {
            rc = io_fail(err, nd, "CONFIG GET", c->errstr);
            goto fail;
        }
        if (ev == 0) {
            rc = aox_err_set(err, AOX_E_CONFIG,
                             "redis %s:%d: maxmemory-policy must be noeviction (an "
                             "evicting server drops data)", nd->host, nd->port);
            goto fail;
        }
        if (aof == 0 || fs == 0) {
            rc = aox_err_set(err, AOX_E_CONFIG,
                             "redis %s:%d: durable commits need appendonly yes and "
                             "appendfsync always", nd->host, nd->port);
            goto fail;
        }
        conn_give(r, nd, c, 1);
        c = NULL;
    }
    *ops = &redis_ops;
    *impl = r;
    return AOX_OK;
fail:
    if (c)
        redisFree(c);
    rd_close(r);
    return rc;
}
