/*
 * store/store_int.h: private backend interface of the store layer. Nothing outside
 * src/store/ includes this file.
 *
 * store.c validates arguments (key lengths, scan bounds) and normalises scans before
 * calling a backend, so backends may assume:
 *   - every key has 1..AOX_STORE_KEY_MAX bytes;
 *   - scan: start is NULL or begins with prefix (a start before the prefix range has
 *     been turned into NULL or an empty result, one after it likewise);
 *   - seek_le: bound begins with prefix.
 * A backend without seek_le gets it from a reverse scan (store.c).
 */
#ifndef AOX_STORE_STORE_INT_H
#define AOX_STORE_STORE_INT_H

#include "store/store.h"

/* One batched operation; pointers stay valid for the duration of batch(). */
typedef struct aox_store_op {
    int            del;      /* 1: delete k (v ignored) */
    const uint8_t *k;
    size_t         kl;
    const uint8_t *v;
    size_t         vl;
} aox_store_op;

typedef struct aox_store_ops {
    const char *name;        /* "lmdb", "memory", "redis" (cache: the inner one) */
    int  (*get)(void *impl, const uint8_t *k, size_t kl, aox_buf *out);
    int  (*put)(void *impl, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl);
    int  (*del)(void *impl, const uint8_t *k, size_t kl);
    /* All ops or none, in order (a later op on the same key wins), durable on 0. */
    int  (*batch)(void *impl, const aox_store_op *ops, size_t n, aox_err *err);
    int  (*scan)(void *impl, const uint8_t *prefix, size_t pl,
                 const uint8_t *start, size_t sl, int reverse,
                 aox_scan_fn fn, void *ud);
    int  (*seek_le)(void *impl, const uint8_t *prefix, size_t pl,
                    const uint8_t *bound, size_t bl, aox_buf *key_out, aox_buf *val_out);
    int  (*cas)(void *impl, const uint8_t *k, size_t kl, const uint8_t *expect, size_t el,
                const uint8_t *v, size_t vl, aox_buf *cur);
    void (*close)(void *impl);
    /* Optional (NULL: store.c keeps leases in the handle and checks fences itself,
     * see store.h). lease: op is an AOX_LEASE_OP_*; arguments were checked by
     * store.c. ACQUIRE sets *token; RENEW/RELEASE use *token; GET appends the owner
     * to owner_out and sets *token and *ttl_left. AOX_E_CONFLICT when the lease is
     * held by another owner (ACQUIRE) or not held with *token (RENEW/RELEASE),
     * AOX_E_NOT_FOUND when not held (GET). */
    int  (*lease)(void *impl, int op, const char *name, const char *owner,
                  uint64_t ttl_ms, uint64_t *token, aox_buf *owner_out,
                  uint64_t *ttl_left);
    /* batch, applied only if lease `fence` is held with `token` (else AOX_E_CONFLICT
     * and nothing is written); fence == NULL: same as batch. */
    int  (*batch_fenced)(void *impl, const aox_store_op *ops, size_t n,
                         const char *fence, uint64_t token, aox_err *err);
} aox_store_ops;

enum { AOX_LEASE_OP_ACQUIRE = 1, AOX_LEASE_OP_RENEW, AOX_LEASE_OP_RELEASE,
       AOX_LEASE_OP_GET };

/* Backend constructors: fill *impl and return the ops table through *ops. */
int aox_store_memory_open(const aox_store_opts *o, const aox_store_ops **ops,
                          void **impl, aox_err *err);
int aox_store_lmdb_open(const char *dir, const aox_store_opts *o,
                        const aox_store_ops **ops, void **impl, aox_err *err);
/* rest: the URI after "redis://". */
int aox_store_redis_open(const char *rest, const aox_store_opts *o,
                         const aox_store_ops **ops, void **impl, aox_err *err);

/* Redis Cluster hash slot of a key (CRC16/XMODEM of the key, or of its hash tag: the
 * bytes between the first '{' and the next '}' when non-empty), 0..16383. */
unsigned aox_store_redis_key_slot(const void *key, size_t n);
/* Process-wide counters of the redis backend, for tests: commands sent that name
 * more than one key (EVAL with several KEYS, MGET) and commands refused before
 * sending because their keys were in different slots (always 0 unless a bug). */
void aox_store_redis_slot_stats(unsigned long long *multi_key, unsigned long long *cross_slot);
/* Cluster redirections followed so far (process-wide): MOVED and ASK answers. */
void aox_store_redis_redirect_stats(unsigned long long *moved, unsigned long long *ask);

/* rest: the URI after "cache:", i.e. "<lmdb-dir>|<inner-uri>" (store_cache.c). */
int aox_store_cache_open(const char *rest, const aox_store_opts *o,
                         const aox_store_ops **ops, void **impl, aox_err *err);

/* Helpers shared by backends (store.c). */
int    aox_store_key_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl);
int    aox_store_has_prefix(const uint8_t *k, size_t kl, const uint8_t *p, size_t pl);
/* The smallest key greater than every key starting with p: p with trailing 0xff
 * bytes dropped and the last byte incremented, written to out (pl bytes room).
 * Returns its length, or 0 when no such key exists (p empty or all 0xff). */
size_t aox_store_prefix_succ(const uint8_t *p, size_t pl, uint8_t *out);

#endif
