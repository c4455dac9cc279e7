/*
 * bench/store/bench_store.c: store figures for one backend URI (bench/store/run.sh
 * runs it for LMDB and for a local redis-server with appendfsync always):
 * synced single puts, 1,000-op batches, gets, a 10,000-key scan, 1 MiB values,
 * lease acquire/renew and fenced batches. Prints one line per figure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "store/store.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int count_fn(void *ud, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
    (void)k, (void)kl, (void)v, (void)vl;
    (*(int *)ud)++;
    return 0;
}

static void report(const char *what, int n, double secs)
{
    printf("  %-34s %8.1f us/op  (%d in %.3f s)\n", what, secs / n * 1e6, n, secs);
}

int main(int argc, char **argv)
{
    aox_store *s = NULL;
    aox_err err;
    aox_buf b = { 0 };
    char k[64], v[100];
    double t;
    if (argc != 2) {
        fprintf(stderr, "usage: bench_store URI\n");
        return 2;
    }
    if (aox_store_open(argv[1], NULL, &s, &err)) {
        fprintf(stderr, "open %s: %s\n", argv[1], err.msg);
        return 1;
    }
    printf("%s (%s)\n", aox_store_backend(s), argv[1]);
    memset(v, 'v', sizeof v);

    int n = 200;
    t = now();
    for (int i = 0; i < n; i++) {
        snprintf(k, sizeof k, "proc/B/assign/%06d", i);
        if (aox_store_put(s, k, strlen(k), v, sizeof v))
            return 1;
    }
    report("put (100 B, durable)", n, now() - t);

    int nb = 20;
    t = now();
    for (int j = 0; j < nb; j++) {
        aox_batch *bt;
        aox_store_batch_begin(s, &bt);
        for (int i = 0; i < 1000; i++) {
            snprintf(k, sizeof k, "proc/B/result/%06d", j * 1000 + i);
            aox_batch_put(bt, k, strlen(k), v, sizeof v);
        }
        if (aox_store_batch_commit(bt, &err))
            return 1;
    }
    report("batch of 1000 puts (durable)", nb, now() - t);

    n = 2000;
    t = now();
    for (int i = 0; i < n; i++) {
        snprintf(k, sizeof k, "proc/B/result/%06d", (i * 7919) % 20000);
        if (aox_store_get(s, k, strlen(k), &b))
            return 1;
    }
    report("get (100 B)", n, now() - t);

    int cnt = 0;
    t = now();
    aox_store_scan(s, "proc/B/result/", 14, NULL, 0, 0, count_fn, &cnt);
    report("scan, per key (20,000 keys)", cnt, now() - t);
    aox_buf lo = { 0 };
    aox_key_proc(&lo, "B", "result", AOX_KEY_NOSLOT);
    n = 500;
    t = now();
    for (int i = 0; i < n; i++) {
        snprintf(k, sizeof k, "proc/B/result/%06d", (i * 7919) % 20000);
        if (aox_store_seek_le(s, "proc/B/result/", 14, k, strlen(k), NULL, &b))
            return 1;
    }
    report("seek_le", n, now() - t);
    aox_buf_free(&lo);

    size_t big = (size_t)1 << 20;
    uint8_t *bv = malloc(big);
    memset(bv, 7, big);
    n = 20;
    t = now();
    for (int i = 0; i < n; i++)
        if (aox_store_put(s, "page/big", 8, bv, big))
            return 1;
    report("put 1 MiB (durable)", n, now() - t);
    t = now();
    for (int i = 0; i < n; i++)
        if (aox_store_get(s, "page/big", 8, &b))
            return 1;
    report("get 1 MiB", n, now() - t);
    free(bv);

    uint64_t tok = 0;
    n = 200;
    t = now();
    for (int i = 0; i < n; i++)
        if (aox_store_lease_acquire(s, "proc/B", "bench", 10000, &tok))
            return 1;
    report("lease acquire", n, now() - t);
    t = now();
    for (int i = 0; i < n; i++)
        if (aox_store_lease_renew(s, "proc/B", tok, 10000))
            return 1;
    report("lease renew", n, now() - t);
    t = now();
    for (int i = 0; i < n; i++) {
        aox_batch *bt;
        aox_store_batch_begin(s, &bt);
        snprintf(k, sizeof k, "proc/B/assign/%06d", i);
        aox_batch_put(bt, k, strlen(k), v, sizeof v);
        aox_batch_put(bt, "proc/B/slot", 11, v, 8);
        aox_batch_fence(bt, "proc/B", tok);
        if (aox_store_batch_commit(bt, &err))
            return 1;
    }
    report("fenced batch of 2 puts (durable)", n, now() - t);
    aox_buf_free(&b);
    aox_store_close(s);
    return 0;
}
