/*
 * tests/aos/aos_bench.c: figures for bench/aos/run.sh (not a test).
 *   aos_bench <module.wasm> <messages> [snapshots]
 * Prints, for a json-iface process of that module driven through the device vtable
 * over a memory store: messages per second for a small handle, failing (rolled
 * back) messages per second, and snapshot bytes written per message (one
 * snapshot after each message, each based on the previous manifest).
 * After every successful message it takes the state digest, as the process layer
 * does for every result (AOS_BENCH_DIGEST=0 leaves that out: the figures without it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aos/aos.h"
#include "core/id.h"
#include "device/device.h"
#include "device/snapshot.h"
#include "store/store.h"

#define PID "PROCESS0000000000000000000000000000000000A"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int run(const aox_device_ops *ops, void *st, aox_msg *def, const char *data,
               uint64_t slot, int *is_err)
{
    aox_msg *m = aox_msg_new(), *asg = aox_msg_new(), *res = aox_msg_new();
    aox_err err = {0};
    aox_limits lim = {0};
    char d[64];
    snprintf(d, sizeof d, "%s", data);
    aox_msg_set_str(m, "data", d);
    aox_msg_set_int(m, "n", (int64_t)slot);
    aox_call call;
    memset(&call, 0, sizeof call);
    call.pid = PID;
    call.process = def;
    call.assignment = asg;
    call.message = m;
    call.slot = slot;
    call.timestamp = 1700000000000 + (int64_t)slot;
    call.limits = &lim;
    int rc = ops->compute(st, &call, res, &err);
    *is_err = aox_result_is_error(res);
    if (rc)
        fprintf(stderr, "compute: %s\n", err.msg);
    aox_msg_free(m);
    aox_msg_free(asg);
    aox_msg_free(res);
    return rc;
}

int main(int argc, char **argv)
{
    aox_store *store;
    aox_err err = {0};
    if (argc < 3)
        return 2;
    long n = atol(argv[2]), nsnap = argc > 3 ? atol(argv[3]) : 20;
    FILE *f = fopen(argv[1], "rb");
    if (!f || aox_store_open("memory:", NULL, &store, &err)) {
        fprintf(stderr, "cannot open %s or the store\n", argv[1]);
        return 1;
    }
    aox_buf b = {0};
    char tmp[65536];
    size_t k;
    while ((k = fread(tmp, 1, sizeof tmp, f)) > 0)
        aox_buf_append(&b, tmp, k);
    fclose(f);
    uint8_t h[AOX_HASH_LEN];
    char id[AOX_ID_LEN + 1];
    aox_sha256(b.data, b.len, h);
    aox_id_from_hash(h, id);
    aox_buf key = {0};
    aox_key_simple(&key, "module", id);
    aox_store_put(store, key.data, key.len, b.data, b.len);
    aox_device_register_builtin();
    aox_aos_register_devices();
    aox_msg *def = aox_msg_new();
    aox_msg_set_str(def, "execution-device", "wasm-64@1.0");
    aox_msg_set_str(def, "image", id);
    const aox_device_ops *ops = aox_device_find("wasm-64@1.0");
    aox_limits lim = {0};
    aox_device_env env = { PID, store, &lim };
    void *st = NULL;
    double t0 = now_s();
    if (ops->init(&env, def, &st, &err)) {
        fprintf(stderr, "init: %s\n", err.msg);
        return 1;
    }
    double t_init = now_s() - t0;
    const char *dg = getenv("AOS_BENCH_DIGEST");
    int digest = ops->digest && !(dg && strcmp(dg, "0") == 0);
    uint8_t dig[32];
    double t_dig0 = 0, t_dig = 0;
    if (digest) {
        t0 = now_s();
        if (ops->digest(st, dig))
            return 1;
        t_dig0 = now_s() - t0;                 /* the whole tree, built once */
    }
    aox_aos_stats stats0;
    aox_aos_get_stats(&stats0);
    uint64_t slot = 0;
    int e;
    t0 = now_s();
    for (long i = 0; i < n; i++) {
        if (run(ops, st, def, "x", ++slot, &e) || e) {
            fprintf(stderr, "message %ld failed\n", i);
            return 1;
        }
        if (digest) {
            double t1 = now_s();
            if (ops->digest(st, dig))
                return 1;
            t_dig += now_s() - t1;
        }
    }
    double t_ok = now_s() - t0;
    aox_aos_stats stats;
    aox_aos_get_stats(&stats);
    t0 = now_s();
    for (long i = 0; i < n; i++)
        if (run(ops, st, def, argc > 4 ? argv[4] : "f", ++slot, &e) || !e) {
            fprintf(stderr, "failing message %ld did not fail\n", i);
            return 1;
        }
    double t_fail = now_s() - t0;

    aox_buf man = {0}, prev = {0};
    uint64_t first = 0, total = 0;
    double t_snap = 0;
    for (long i = 0; i <= nsnap; i++) {
        if (i > 0 && (run(ops, st, def, "x", ++slot, &e) || e))
            return 1;
        aox_snap_writer *w = NULL;
        t0 = now_s();
        if (aox_snap_writer_new(store, prev.len ? prev.data : NULL, prev.len, &w) ||
            ops->snapshot(st, w, &err) || aox_snap_writer_finish(w, &man)) {
            fprintf(stderr, "snapshot failed: %s\n", err.msg);
            return 1;
        }
        if (i > 0)
            t_snap += now_s() - t0;
        uint64_t bw = aox_snap_writer_bytes_written(w);
        aox_snap_writer_free(w);
        if (i == 0)
            first = bw;
        else
            total += bw;
        aox_buf_reset(&prev);
        aox_buf_append(&prev, man.data, man.len);
        aox_buf_reset(&man);
    }
    printf("module_bytes=%zu memory_bytes=%llu init_s=%.3f\n", b.len,
           (unsigned long long)ops->memory(st) / 2, t_init);
    printf("msgs_per_s=%.0f ms_per_msg=%.4f (%ld messages, %s)\n", n / t_ok,
           t_ok * 1000 / (double)n, n, digest ? "with state digest" : "no state digest");
    if (digest)
        printf("digest_first_ms=%.2f digest_us_per_msg=%.2f pages_hashed_per_msg=%.2f\n",
               t_dig0 * 1000, t_dig * 1e6 / (double)n,
               (double)(stats.pages_hashed - stats0.pages_hashed) / (double)n);
    printf("failed_msgs_per_s=%.0f (rolled back)\n", n / t_fail);
    printf("snapshot_first_bytes=%llu\n", (unsigned long long)first);
    printf("snapshot_bytes_per_message=%.0f (avg of %ld, one snapshot per message)\n",
           nsnap ? (double)total / (double)nsnap : 0.0, nsnap);
    printf("snapshot_manifest_bytes=%zu snapshot_ms=%.2f\n", prev.len,
           nsnap ? t_snap * 1000 / (double)nsnap : 0.0);
    ops->free(st);
    aox_msg_free(def);
    aox_buf_free(&b);
    aox_buf_free(&key);
    aox_buf_free(&man);
    aox_buf_free(&prev);
    aox_store_close(store);
    return 0;
}
