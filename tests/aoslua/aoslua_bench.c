/*
 * tests/aoslua/aoslua_bench.c: figures for bench/aoslua/run.sh (not a test).
 *   aoslua_bench <aoslua.wasm> <process.lua> <transfers> [snapshots]
 * Drives the same token script (tests/aoslua/process.lua) through the device
 * vtable over a memory store, compute only: as aoslua.wasm on `wasm@1.0` (Lua 5.3
 * in wasm, JSON interface) and as a script on the native `lua@5.3` device (when
 * built with it). Prints Transfer messages per second for each, their ratio, and
 * the aoslua process's snapshot bytes written per message (one snapshot after each
 * of [snapshots] transfers, each on the previous manifest).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aos/aos.h"
#include "core/id.h"
#include "core/json.h"
#include "device/device.h"
#include "device/snapshot.h"
#include "store/store.h"
#ifdef AOSLUA_NATIVE
#include "lua/lua_device.h"
#endif

#define PID "PROCESS0000000000000000000000000000000000A"
#define NSEND 4

static const char *senders[NSEND] = {
    "SENDERA0000000000000000000000000000000000A", "SENDERB0000000000000000000000000000000000B",
    "SENDERC0000000000000000000000000000000000C", "SENDERD0000000000000000000000000000000000D"};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int read_file(const char *path, aox_buf *b)
{
    FILE *f = fopen(path, "rb");
    char tmp[65536];
    size_t k;
    if (!f)
        return -1;
    while ((k = fread(tmp, 1, sizeof tmp, f)) > 0)
        aox_buf_append(b, tmp, k);
    fclose(f);
    return 0;
}

/* One message: Action (+ Recipient/Quantity) from a sender, as plain keys (both
 * devices turn them into tags / msg.Action).
 * Returns 0 when it computed without an error result. */
static int run(const aox_device_ops *ops, void *st, aox_msg *def, const char *action,
               const char *from, const char *to, const char *q, uint64_t slot)
{
    aox_msg *m = aox_msg_new(), *asg = aox_msg_new(), *res = aox_msg_new();
    aox_err err = {0};
    aox_limits lim = {0};
    aox_msg_set_str(m, "from", from);
    aox_msg_set_str(m, "action", action);
    if (to)
        aox_msg_set_str(m, "recipient", to);
    if (q)
        aox_msg_set_str(m, "quantity", q);
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
    if (rc)
        fprintf(stderr, "compute: %s\n", err.msg);
    else if (aox_result_is_error(res)) {
        aox_buf j = {0};
        aox_msg_to_json_text(res, &j);
        fprintf(stderr, "error result: %.*s\n", (int)j.len, (const char *)j.data);
        aox_buf_free(&j);
        rc = -1;
    }
    aox_msg_free(m);
    aox_msg_free(asg);
    aox_msg_free(res);
    return rc;
}

/* n transfers round-robin between the senders (each has plenty); messages per s. */
static double transfers(const aox_device_ops *ops, void *st, aox_msg *def, long n,
                        uint64_t *slot)
{
    double t0 = now_s();
    for (long i = 0; i < n; i++)
        if (run(ops, st, def, "Transfer", senders[i % NSEND], senders[(i + 1) % NSEND], "1",
                ++*slot))
            return -1;
    return (double)n / (now_s() - t0);
}

static int mint_all(const aox_device_ops *ops, void *st, aox_msg *def, uint64_t *slot)
{
    for (int i = 0; i < NSEND; i++)
        if (run(ops, st, def, "Mint", senders[i], NULL, "1000000000", ++*slot))
            return -1;
    return 0;
}

int main(int argc, char **argv)
{
    aox_store *store;
    aox_err err = {0};
    if (argc < 4)
        return 2;
    long n = atol(argv[3]), nsnap = argc > 4 ? atol(argv[4]) : 50;
    aox_buf mod = {0}, script = {0};
    if (read_file(argv[1], &mod) || read_file(argv[2], &script) ||
        aox_store_open("memory:", NULL, &store, &err)) {
        fprintf(stderr, "cannot read %s / %s or open the store\n", argv[1], argv[2]);
        return 1;
    }
    uint8_t h[AOX_HASH_LEN];
    char id[AOX_ID_LEN + 1];
    aox_sha256(mod.data, mod.len, h);
    aox_id_from_hash(h, id);
    aox_buf key = {0};
    aox_key_simple(&key, "module", id);
    aox_store_put(store, key.data, key.len, mod.data, mod.len);
    aox_device_register_builtin();
    aox_aos_register_devices();

    /* aoslua.wasm on wasm@1.0 */
    aox_msg *def = aox_msg_new();
    aox_msg_set_str(def, "execution-device", "wasm@1.0");
    aox_msg_set_str(def, "image", id);
    aox_msg_set_str(def, "memory-limit", "256-mb");
    const aox_device_ops *ops = aox_device_find("wasm@1.0");
    aox_limits lim = {0};
    aox_device_env env = {PID, store, &lim};
    void *st = NULL;
    uint64_t slot = 0;
    if (!ops || ops->init(&env, def, &st, &err)) {
        fprintf(stderr, "wasm init: %s\n", err.msg);
        return 1;
    }
    /* the first call creates the Lua state (boot would do it at slot 0) */
    if (mint_all(ops, st, def, &slot))
        return 1;
    transfers(ops, st, def, n / 10 + 1, &slot); /* warm up */
    double wasm_rate = transfers(ops, st, def, n, &slot);
    if (wasm_rate < 0)
        return 1;
    printf("aoslua.wasm (wasm@1.0): %.0f transfers/s (%ld messages)\n", wasm_rate, n);

    aox_buf man = {0}, prev = {0};
    uint64_t total = 0, first = 0;
    for (long i = 0; i <= nsnap; i++) {
        if (i > 0 && run(ops, st, def, "Transfer", senders[i % NSEND],
                         senders[(i + 1) % NSEND], "1", ++slot))
            return 1;
        aox_snap_writer *w = NULL;
        if (aox_snap_writer_new(store, prev.len ? prev.data : NULL, prev.len, &w) ||
            ops->snapshot(st, w, &err) || aox_snap_writer_finish(w, &man)) {
            fprintf(stderr, "snapshot failed: %s\n", err.msg);
            return 1;
        }
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
    printf("aoslua.wasm memory_bytes=%llu snapshot_first_bytes=%llu "
           "snapshot_bytes_per_message=%.0f (one snapshot per transfer, avg of %ld)\n",
           (unsigned long long)ops->memory(st) / 2, (unsigned long long)first,
           nsnap ? (double)total / (double)nsnap : 0.0, nsnap);
    ops->free(st);

#ifdef AOSLUA_NATIVE
    aox_lua_device_register();
    aox_msg *ldef = aox_msg_new();
    aox_msg_set_str(ldef, "execution-device", "lua@5.3");
    aox_msg_set_bytes(ldef, "script", script.data, script.len);
    const aox_device_ops *lops = aox_device_find("lua@5.3");
    void *lst = NULL;
    uint64_t lslot = 0;
    if (!lops || lops->init(&env, ldef, &lst, &err)) {
        fprintf(stderr, "lua@5.3 init: %s\n", err.msg);
        return 1;
    }
    if (mint_all(lops, lst, ldef, &lslot))
        return 1;
    transfers(lops, lst, ldef, n / 10 + 1, &lslot);
    double native_rate = transfers(lops, lst, ldef, n, &lslot);
    if (native_rate < 0)
        return 1;
    printf("process.lua (native lua@5.3): %.0f transfers/s (%ld messages)\n", native_rate, n);
    printf("ratio native/wasm = %.2f\n", native_rate / wasm_rate);
    lops->free(lst);
    aox_msg_free(ldef);
#else
    printf("native lua@5.3 device not built: no comparison\n");
#endif
    aox_msg_free(def);
    aox_buf_free(&mod);
    aox_buf_free(&script);
    aox_buf_free(&key);
    aox_buf_free(&man);
    aox_buf_free(&prev);
    aox_store_close(store);
    return 0;
}
