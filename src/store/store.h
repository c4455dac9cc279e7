/*
 * store/store.h: aox's key-value store interface (DESIGN.md §2, §4).
 *
 * Keys and values are byte strings. Keys sort bytewise; slot numbers inside keys are
 * written as fixed-width big-endian so that scans come out in slot order (see
 * aox_key_* helpers below). Backends:
 *
 *   "lmdb:DIR" or a plain path   LMDB environment in DIR (created if missing); the
 *                                map size grows on demand. The default.
 *   "memory:"                    in-process sorted map, for unit tests.
 *   "redis://host:port[/db][?timeout_ms=N][&cluster=1]"
 *                                shared store for a cluster (store_redis.c; needs
 *                                appendonly yes + appendfsync always unless no_sync;
 *                                docs/parts/cluster-store.md). Connection failures
 *                                are AOX_E_IO; the next call reconnects. cluster=1:
 *                                host:port is one node of a Redis Cluster (slot
 *                                map from CLUSTER SLOTS, MOVED/ASK followed).
 *   "cache:DIR|INNER"            e.g. "cache:/data/cache|redis://127.0.0.1:6379":
 *                                INNER is the store (the authority); DIR is a
 *                                local LMDB cache of its immutable keys (proc/<pid>/
 *                                assign/, result/, snap/, def, page/, module/,
 *                                data/), read first by get and filled on a miss
 *                                and after successful writes, best effort. All
 *                                else (counters, msg/, scans, seek_le, cas, leases,
 *                                fences) goes to INNER only (store_cache.c). The
 *                                cache assumes those keys never change once
 *                                written except through this handle. Bounded by
 *                                opts.cache_max (LRU, in key + value bytes).
 *                                aox_store_backend() names INNER's backend.
 *
 * Thread safety: a store handle may be used from many threads at once. Each single
 * call is atomic. A batch is applied all-or-nothing by aox_store_batch_commit, and
 * after a successful commit the data is durable (LMDB: fsync'd) — callers rely on
 * this to acknowledge assignments and publish results only after they are safe.
 * Redis (Cluster-compatible): all-or-nothing per hash slot, i.e. per process
 * (proc/<pid>/ keys) or per first path component; a batch spanning slots is applied
 * slot by slot (content-addressed page/, module/, data/ keys first).
 * A handle must not be used across fork(): open the store again in the child.
 */
#ifndef AOX_STORE_STORE_H
#define AOX_STORE_STORE_H

#include <stddef.h>
#include <stdint.h>
#include "core/buf.h"
#include "core/error.h"

typedef struct aox_store aox_store;

/* Keys have 1..AOX_STORE_KEY_MAX bytes (LMDB's default limit); calls given an empty or
 * longer key (or a longer prefix/start/bound) return AOX_E_INVALID on every backend. */
#define AOX_STORE_KEY_MAX 511
typedef struct aox_batch aox_batch;

typedef struct aox_store_opts {
    size_t   map_size_initial;   /* LMDB: initial map size in bytes (0 = 64 MiB) */
    int      no_sync;            /* 1: skip fsync (tests/benchmarks only) */
    uint64_t cache_max;          /* cache: key + value bytes kept in the local LMDB;
                                    over it the least recently used are dropped
                                    (0 = no bound) */
} aox_store_opts;

/* Opens a store from a URI (see above). opts may be NULL. */
int  aox_store_open(const char *uri, const aox_store_opts *opts,
                    aox_store **out, aox_err *err);
void aox_store_close(aox_store *s);                /* NULL-safe */
const char *aox_store_backend(const aox_store *s); /* "lmdb", "memory", "redis" */

/* get: appends the value to out (after resetting it). AOX_E_NOT_FOUND if absent. */
int aox_store_get(aox_store *s, const void *k, size_t kl, aox_buf *out);
int aox_store_put(aox_store *s, const void *k, size_t kl, const void *v, size_t vl);
/* del: 0 whether or not the key existed. */
int aox_store_del(aox_store *s, const void *k, size_t kl);

/* Batches: a list of puts/deletes applied atomically and durably at commit.
 * The batch is freed by commit (success or failure) or by abort. */
int  aox_store_batch_begin(aox_store *s, aox_batch **out);
int  aox_batch_put(aox_batch *b, const void *k, size_t kl, const void *v, size_t vl);
int  aox_batch_del(aox_batch *b, const void *k, size_t kl);
int  aox_store_batch_commit(aox_batch *b, aox_err *err);
void aox_store_batch_abort(aox_batch *b);

/* Scans keys that start with prefix, in ascending order (or descending when
 * reverse != 0), from `start` inclusive (NULL = from the first / last key of the
 * prefix). fn returns 0 to continue, non-zero to stop (that value is returned
 * by scan). Key/value pointers are valid only during the callback. The callback may
 * read from the store but not write to it (the scan holds a read transaction): a
 * put/del/cas/batch commit on the same store from inside the callback returns
 * AOX_E_INTERNAL instead of risking a deadlock. */
typedef int (*aox_scan_fn)(void *ud, const uint8_t *k, size_t kl,
                           const uint8_t *v, size_t vl);
int aox_store_scan(aox_store *s, const void *prefix, size_t pl,
                   const void *start, size_t sl, int reverse,
                   aox_scan_fn fn, void *ud);

/* Finds the greatest key that starts with prefix and is <= bound (bound must
 * start with prefix). Fills key_out/val_out (either may be NULL).
 * AOX_E_NOT_FOUND if none. Used for "nearest snapshot <= N" and "latest". */
int aox_store_seek_le(aox_store *s, const void *prefix, size_t pl,
                      const void *bound, size_t bl,
                      aox_buf *key_out, aox_buf *val_out);

/* Atomic compare-and-set: if the current value equals expect (expect == NULL means
 * "key absent"), write v (v == NULL deletes) and return 0; else AOX_E_CONFLICT and
 * the current value in cur (if non-NULL; empty if absent). */
int aox_store_cas(aox_store *s, const void *k, size_t kl,
                  const void *expect, size_t el,
                  const void *v, size_t vl, aox_buf *cur);

/* Leases: named, expiring ownership records with fencing tokens (cluster mode: one
 * lease "proc/<pid>" per process; a node writes that process's keys only through
 * batches fenced with its token).
 *
 *   acquire: if `name` is free (never taken, released or expired) or already held by
 *            `owner`, it becomes held by owner for ttl_ms with a new token, greater
 *            than every token ever issued for this name on this store; the holder's
 *            previous token (if any) stops being valid. AOX_E_CONFLICT if another
 *            owner holds it.
 *   renew:   extends a lease still held with `token` to ttl_ms from now;
 *            AOX_E_CONFLICT if it expired or was taken over (the caller lost it).
 *   release: frees a lease held with `token`; AOX_E_CONFLICT if not held with it.
 *   get:     current holder (owner appended to owner_out after a reset, if non-NULL),
 *            its token and the ms left; AOX_E_NOT_FOUND if free.
 *
 * name: 1..AOX_LEASE_NAME_MAX bytes, no NUL; owner likewise; ttl_ms in 1..2^40.
 * Clocks: Redis expires leases by the Redis server's clock, shared by all nodes.
 * memory/LMDB keep leases in the store handle (CLOCK_MONOTONIC): they coordinate the
 * threads of one process using one handle, which is what a single node needs; they
 * are not persisted (a restarted node holds no lease), but tokens only grow while the
 * handle lives. Redis lease calls other than get are not retried after a connection
 * error (AOX_E_IO: outcome unknown; call get to find out). */
#define AOX_LEASE_NAME_MAX 256
int aox_store_lease_acquire(aox_store *s, const char *name, const char *owner,
                            uint64_t ttl_ms, uint64_t *token /* OUT */);
int aox_store_lease_renew(aox_store *s, const char *name, uint64_t token, uint64_t ttl_ms);
int aox_store_lease_release(aox_store *s, const char *name, uint64_t token);
int aox_store_lease_get(aox_store *s, const char *name, aox_buf *owner_out,
                        uint64_t *token /* OUT */, uint64_t *ttl_left_ms /* OUT */);

/* Makes batch b conditional: at commit it is applied only if lease `name` is held
 * (not expired) with `token`, checked atomically with the writes; otherwise commit
 * returns AOX_E_CONFLICT and writes nothing. A fenced empty batch just checks the
 * lease. One fence per batch (a second call: AOX_E_INVALID, and the batch fails).
 * Redis: besides keys of the lease's slot (proc/<pid> fences proc/<pid>/...) a fenced
 * batch may only hold page/, module/ and data/ keys, written before the fence is
 * checked (they are the same bytes whoever writes them); another key is
 * AOX_E_INVALID at commit, nothing written. */
int aox_batch_fence(aox_batch *b, const char *name, uint64_t token);

/* Key builders for the layout of DESIGN.md §4, e.g.
 *   aox_key_proc(&k, pid, "assign", slot)  ->  "proc/<pid>/assign/" + be64(slot)
 *   aox_key_proc(&k, pid, "def", AOX_KEY_NOSLOT) -> "proc/<pid>/def"
 * They reset k first. pid/what/space must be non-empty and contain no '/'
 * (AOX_E_INVALID otherwise). An empty suffix/name gives the scan prefix of that
 * space, e.g. aox_key_proc_str(&k, pid, "assign", "") -> "proc/<pid>/assign/". */
#define AOX_KEY_NOSLOT UINT64_MAX
int aox_key_proc(aox_buf *k, const char *pid, const char *what, uint64_t slot);
int aox_key_proc_str(aox_buf *k, const char *pid, const char *what, const char *suffix);
int aox_key_simple(aox_buf *k, const char *space, const char *name);  /* "module/<id>" */

#endif
